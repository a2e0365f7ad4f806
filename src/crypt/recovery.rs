//! Recovery keys: a second passphrase of an encrypted OSD, kept by the operator outside the
//! cluster, in its own LUKS keyslot on every device of the OSD. With the monitors' key store
//! lost (the monitors rebuilt, the config-key entry deleted), the OSD opens with it
//! (`osd activate ID --recovery-key FILE`). The file holds the key text alone (no newline:
//! cryptsetup reads a key file whole), mode 0600, written once: an existing file is never
//! overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use super::key::DmcryptKey;
use crate::error::{Error, Result};
use crate::exec;

/// Writes `key` to a new file `path` (0600), complete or not at all: written beside it under
/// a temporary name, then linked to `path`, which fails when `path` exists.
pub fn write_key_file(path: &Path, key: &DmcryptKey) -> Result<()> {
    if path.exists() {
        return Err(Error::refused(
            path,
            "exists".to_string(),
            "a recovery key file is never overwritten: name a new file",
        ));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(key.expose())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists && path.exists() {
            Error::refused(
                path,
                "exists".to_string(),
                "a recovery key file is never overwritten: name a new file",
            )
        } else {
            Error::io(format!("writing the recovery key to {}", path.display()), e)
        }
    })
}

/// Reads a recovery key file.
pub fn read_key_file(path: &Path) -> Result<DmcryptKey> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("reading the recovery key {}", path.display()), e))?;
    DmcryptKey::from_stored(&bytes).ok_or_else(|| {
        Error::Usage(format!(
            "{}: empty: not a recovery key file (`cephboot osd key export` writes one)",
            path.display()
        ))
    })
}

/// Adds the key in `new_key_file` as a keyslot of `dev`, authorised by `existing` (on stdin).
pub fn add_keyslot(dev: &Path, existing: &DmcryptKey, new_key_file: &Path) -> Result<()> {
    let d = dev.display().to_string();
    let f = new_key_file.display().to_string();
    let mut args = vec!["--batch-mode"];
    args.extend(super::luks::KEYSLOT_PBKDF);
    args.extend(["--key-file", "-", "luksAddKey", &d, &f]);
    exec::run(
        "cryptsetup",
        &args,
        Some(existing.expose()),
        Duration::from_secs(300),
    )
    .map(|_| ())
}

/// Removes the keyslot that `key` opens from `dev` (undoing [`add_keyslot`]).
pub fn remove_keyslot(dev: &Path, key: &DmcryptKey) -> Result<()> {
    let d = dev.display().to_string();
    exec::run(
        "cryptsetup",
        &["--batch-mode", "--key-file", "-", "luksRemoveKey", &d],
        Some(key.expose()),
        Duration::from_secs(300),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_file_is_private_whole_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osd.3.key");
        let key = DmcryptKey::generate().unwrap();
        write_key_file(&path, &key).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            key.expose(),
            "the text alone, no newline"
        );
        assert_eq!(read_key_file(&path).unwrap().expose(), key.expose());
        let other = DmcryptKey::generate().unwrap();
        let err = write_key_file(&path, &other).unwrap_err();
        assert_eq!(err.exit_code() as i32, 3, "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            key.expose(),
            "the first key is kept"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::write(dir.path().join("empty"), b"\n").unwrap();
        assert!(read_key_file(&dir.path().join("empty")).is_err());
    }
}
