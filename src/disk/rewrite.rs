//! Replaces a disk's partition table and makes the kernel see it: guards first (nothing is
//! written when any refuses), then, holding the disk's lock, the GPT write and the kernel
//! sync. `rewrite` itself drives the vm-tests table driver; `osd prepare` lays out its disks
//! through `osd::prepare`'s own steps and uses the kernel sync (`sync_kernel`) and the
//! refusal error from here.

use std::path::Path;
use std::time::Duration;

use uuid::Uuid;

use super::guard::{self, Refusal};
use super::inventory::Snapshot;
use super::lock::LockedDisk;
use super::sync::{self, SyncError, SyncOptions, SyncReport};
use super::table::{self, PartitionSpec};
use crate::error::{Error, Result};

/// Turns guard refusals into one error that lists them all.
pub fn refusals_to_error(refusals: &[Refusal]) -> Error {
    Error::Refusals(refusals.to_vec())
}

/// Checks every guard for `disk`; an error when any refuses.
pub fn check_guards(
    snapshot: &Snapshot,
    disk: &Path,
    cluster_fsid: Option<&str>,
    force: bool,
) -> Result<()> {
    let refusals = guard::judge(&guard::gather(snapshot, disk), cluster_fsid, force);
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals_to_error(&refusals))
    }
}

/// Writes `specs` as the disk's new table and syncs the kernel, on an already locked disk.
pub fn write_and_sync(
    disk: &mut LockedDisk,
    sector_size: u64,
    specs: &[PartitionSpec],
) -> Result<SyncReport> {
    let path = disk.path().to_path_buf();
    table::write(disk.file_mut(), sector_size, Uuid::new_v4(), specs).map_err(|e| {
        Error::io(
            format!("{}: writing the partition table", path.display()),
            e,
        )
    })?;
    let want: Vec<_> = specs.iter().map(|s| s.kernel(sector_size)).collect();
    sync_kernel(disk, &want)
}

/// Makes the kernel's view of the locked disk equal `want`, naming who holds a busy partition.
pub fn sync_kernel(
    disk: &LockedDisk,
    want: &[super::blockops::KernelPartition],
) -> Result<SyncReport> {
    use super::blockops::KernelTable;
    let k = disk.kernel();
    sync::sync(&k, want, &SyncOptions::default()).map_err(|e| match e {
        SyncError::Busy { number, error, .. } => {
            let node = k.node(number);
            let holders = guard::openers(std::slice::from_ref(&node));
            let who = if holders.is_empty() {
                "no process has it open: it may be mounted or held by device-mapper".to_string()
            } else {
                holders.iter().map(|o| format!("{} (pid {})", o.comm, o.pid)).collect::<Vec<_>>().join(", ")
            };
            Error::Device {
                device: node,
                message: format!("the kernel would not release this partition ({error}); held by {who}. Free it and run the command again; nothing further was done"),
            }
        }
        SyncError::NodeTimeout { node, seconds } => Error::Timeout { what: format!("device node {node}"), seconds },
        other => Error::Device { device: disk.path().to_path_buf(), message: other.to_string() },
    })
}

/// Guards, lock, table write, kernel sync: the whole table rewrite of one disk.
pub fn rewrite_table(
    snapshot: &Snapshot,
    disk: &Path,
    name: &str,
    sector_size: u64,
    specs: &[PartitionSpec],
    cluster_fsid: Option<&str>,
    force: bool,
) -> Result<SyncReport> {
    check_guards(snapshot, disk, cluster_fsid, force)?;
    let mut locked = LockedDisk::open(disk, name, Duration::from_secs(10))?;
    write_and_sync(&mut locked, sector_size, specs)
}
