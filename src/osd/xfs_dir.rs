//! Reading an OSD directory that another tool keeps on an xfs partition (Kolla's BlueStore
//! layout, ceph-disk's data partition) without writing to it: read where the partition is
//! mounted already, or else mounted read-only without log recovery (`ro,norecovery`, nothing
//! written even to an xfs that was not cleanly unmounted) at a private directory made for the
//! read (mode 0700, a name no one else chose) and unmounted right after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::disk::inventory::Device;
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// The largest file read (an OSD directory's small files: ids, uuids, a keyring).
const MAX_FILE: u64 = 64 << 10;

/// The files `names` of the xfs directory on `data` that exist (each at most 64 KiB).
pub fn read_files(data: &Device, names: &[&str]) -> Result<BTreeMap<String, Vec<u8>>> {
    if let Some(at) = data.mountpoints.first() {
        return Ok(read_in(Path::new(at), names));
    }
    let at = private_dir()?;
    let at_s = at.display().to_string();
    let data_s = data.path.display().to_string();
    let mounted = exec::run(
        "mount",
        &[
            "-t",
            "xfs",
            "-o",
            "ro,norecovery,nodev,nosuid,noexec",
            &data_s,
            &at_s,
        ],
        None,
        Duration::from_secs(60),
    );
    let files = mounted.map(|_| read_in(&at, names));
    let unmounted = if files.is_ok() {
        exec::run("umount", &[&at_s], None, Duration::from_secs(60)).map(|_| ())
    } else {
        Ok(())
    };
    let _ = std::fs::remove_dir(&at);
    let files = files?;
    unmounted?;
    Ok(files)
}

fn read_in(dir: &Path, names: &[&str]) -> BTreeMap<String, Vec<u8>> {
    names
        .iter()
        .filter_map(|n| {
            let p = dir.join(n);
            let small = std::fs::metadata(&p).ok()?.len() <= MAX_FILE;
            small
                .then(|| std::fs::read(&p).ok())
                .flatten()
                .map(|b| ((*n).to_string(), b))
        })
        .collect()
}

/// A new directory under /run (root's tmpfs), 0700, named for this process and a counter.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let at = PathBuf::from(format!("/run/cephboot-xfs-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&at)
        .context(|| format!("making {}", at.display()))?;
    Ok(at)
}

/// A file's text, trimmed; None when absent or not UTF-8.
pub fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Option<String> {
    let t = std::str::from_utf8(files.get(name)?).ok()?.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `Error` for an OSD directory without the file `name`.
pub fn missing(data: &Path, name: &str, next: &str) -> Error {
    Error::Device {
        device: data.to_path_buf(),
        message: format!("the OSD directory on it has no readable {name}: {next}"),
    }
}
