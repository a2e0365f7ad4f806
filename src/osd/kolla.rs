//! OSDs Kolla's own BlueStore bootstrap made (kolla's `ceph-osd` `extend_start.sh`): a 100 MB
//! xfs partition named `KOLLA_CEPH_DATA_BS_<id>` that Kolla mounts as the OSD's directory, and
//! the block in `KOLLA_CEPH_DATA_BS_<id>_B`. Kolla runs `ceph-osd --mkkey` and then `--mkfs -k
//! <dir>/keyring`, so the OSD's key is only in that directory, not in the block's BlueStore
//! label (where cephboot's and ceph-volume's OSDs keep it): after `prime-osd-dir` from the
//! label, the key is read from the xfs (crate::osd::xfs_dir, nothing written) into cephboot's
//! OSD directory. ceph-disk's BlueStore OSDs (crate::osd::ceph_disk) keep it the same way.
//! Kolla's `block` link there (to `/dev/disk/by-partlabel/…`, which needs udev) is not used.

use std::path::Path;

use crate::disk::inventory::Device;
use crate::error::Result;

/// Whether `main` is an xfs directory partition of a BlueStore OSD whose block is elsewhere
/// (pure).
pub fn keeps_the_key(main: &Device, block: &Path) -> bool {
    main.path != block && main.signatures.iter().any(|s| s.kind == "xfs")
}

/// Copies the OSD's keyring from the xfs directory partition `data` into `dir/keyring` (0600).
pub fn copy_keyring(data: &Device, dir: &Path) -> Result<()> {
    let files = super::xfs_dir::read_files(data, &["keyring"])?;
    let key = files.get("keyring").ok_or_else(|| {
        super::xfs_dir::missing(
            &data.path,
            "keyring",
            &format!(
                "write the OSD's key into {} (`ceph auth get osd.ID -o {}`) and run `cephboot \
                 osd activate ID` again",
                dir.join("keyring").display(),
                dir.join("keyring").display()
            ),
        )
    })?;
    crate::files::write_private(&dir.join("keyring"), key)
}
