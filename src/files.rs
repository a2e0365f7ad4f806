//! Writing files whole: secrets created 0600 from the first byte (never world-readable for a
//! moment), other files 0644; both replaced atomically (a reader sees the old or the new).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{IoContext, Result};

/// Writes `data` to `path` with mode 0600 via a temporary file and a rename.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    write_with_mode(path, data, 0o600)
}

/// Writes `data` to `path` with mode 0644 via a temporary file and a rename.
pub fn write_public(path: &Path, data: &[u8]) -> Result<()> {
    write_with_mode(path, data, 0o644)
}

fn write_with_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .context(|| format!("creating {}", tmp.display()))?;
    // The umask may have taken bits away from a 0644 file.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .context(|| format!("setting the mode of {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).context(|| format!("replacing {}", path.display()))
}

/// Whether `path` is a regular file with mode 0600.
pub fn is_private(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777 == 0o600)
        .unwrap_or(false)
}
