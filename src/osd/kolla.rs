//! OSDs Kolla's own BlueStore bootstrap made (kolla's `ceph-osd` `extend_start.sh`): a 100 MB
//! xfs partition named `KOLLA_CEPH_DATA_BS_<id>` that Kolla mounts as the OSD's directory, and
//! the block in `KOLLA_CEPH_DATA_BS_<id>_B`. Kolla runs `ceph-osd --mkkey` and then `--mkfs -k
//! <dir>/keyring`, so the OSD's key is only in that directory, not in the block's BlueStore
//! label (where cephboot's and ceph-volume's OSDs keep it): after `prime-osd-dir` from the
//! label, the key is read from the xfs, mounted read-only without log recovery at a private
//! place for that read, and written into cephboot's OSD directory. Nothing on the partitions
//! is written; Kolla's `block` link there (to `/dev/disk/by-partlabel/…`, which needs udev) is
//! not used.

use std::path::Path;
use std::time::Duration;

use crate::disk::inventory::Device;
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// Whether `main` is Kolla's xfs data partition of a BlueStore OSD whose block is elsewhere
/// (pure).
pub fn keeps_the_key(main: &Device, block: &Path) -> bool {
    main.path != block && main.signatures.iter().any(|s| s.kind == "xfs")
}

/// Copies the OSD's keyring from Kolla's xfs `data` partition into `dir/keyring` (0600).
pub fn copy_keyring(data: &Path, dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let at = dir
        .parent()
        .unwrap_or(dir)
        .join(format!(".kolla-data-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&at).context(|| format!("making {}", at.display()))?;
    let result = read_keyring(data, &at);
    let _ = std::fs::remove_dir(&at);
    crate::files::write_private(&dir.join("keyring"), &result?)
}

fn read_keyring(data: &Path, at: &Path) -> Result<Vec<u8>> {
    let at_s = at.display().to_string();
    let data_s = data.display().to_string();
    exec::run(
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
    )?;
    let read = std::fs::read(at.join("keyring"));
    let unmounted = exec::run("umount", &[&at_s], None, Duration::from_secs(60));
    let key = read.map_err(|e| Error::Device {
        device: data.to_path_buf(),
        message: format!(
            "Kolla's OSD directory on it has no readable keyring ({e}): write the OSD's key \
             into cephboot's OSD directory (`ceph auth get osd.ID -o <its dir>/keyring`) and \
             run `cephboot osd activate ID` again"
        ),
    })?;
    unmounted?;
    Ok(key)
}
