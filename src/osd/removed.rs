//! Disks whose OSD the operator removed (`osd remove`): recorded in
//! `<state-dir>/removed-disks.json` by the disk's serial (WWN, serial, or a loop device's
//! backing file), so that the daemon does not make a new OSD on a disk the operator just
//! emptied (a spec selects it again as soon as it is blank). An operator's own `osd apply`
//! takes such a disk and forgets the record; the daemon's runs (`--skip-removed`) leave it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One disk's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedDisk {
    /// The disk's serial (its identity across renames), or `path:<node>` without one.
    pub serial: String,
    /// Its node when the OSD was removed.
    pub device: String,
    /// The OSD that was on it.
    pub osd_id: u32,
    /// Unix seconds.
    pub removed_at: u64,
}

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("removed-disks.json")
}

/// Every record (none when the file does not exist).
pub fn load(state_dir: &Path) -> Result<Vec<RemovedDisk>> {
    let path = file(state_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: {e}: fix or remove the file (it lists disks whose OSD was removed)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn save(state_dir: &Path, list: &[RemovedDisk]) -> Result<()> {
    let path = file(state_dir);
    let text = serde_json::to_string_pretty(list)
        .map_err(|e| Error::Usage(format!("rendering {}: {e}", path.display())))?;
    crate::files::write_public(&path, text.as_bytes())
}

/// Adds records (a disk already recorded gets the new one).
pub fn record(state_dir: &Path, new: &[RemovedDisk]) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let mut list = load(state_dir)?;
    list.retain(|r| !new.iter().any(|n| n.serial == r.serial));
    list.extend(new.iter().cloned());
    save(state_dir, &list)
}

/// Forgets the records of these serials.
pub fn forget(state_dir: &Path, serials: &[String]) -> Result<()> {
    let mut list = load(state_dir)?;
    let before = list.len();
    list.retain(|r| !serials.contains(&r.serial));
    if list.len() == before {
        return Ok(());
    }
    save(state_dir, &list)
}

/// The key a disk is recorded under: its serial as the inventory reads it, else
/// `path:<node>` (a disk without a serial, such as a virtio disk without one, is known by
/// its node only).
pub fn key_of(path: &Path) -> String {
    let serial = path.file_name().and_then(|name| {
        crate::disk::identity::serial_of(&Path::new("/sys/class/block").join(name))
    });
    serial.unwrap_or_else(|| format!("path:{}", path.display()))
}

/// The key of an inventory's disk (as [`key_of`]).
pub fn key_of_device(d: &crate::disk::inventory::Device) -> String {
    d.serial
        .clone()
        .unwrap_or_else(|| format!("path:{}", d.path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn r(serial: &str, id: u32) -> RemovedDisk {
        RemovedDisk {
            serial: serial.into(),
            device: "/dev/sdb".into(),
            osd_id: id,
            removed_at: 1,
        }
    }

    #[test]
    fn records_are_kept_replaced_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        record(dir.path(), &[r("A", 1), r("B", 2)]).unwrap();
        record(dir.path(), &[r("A", 3)]).unwrap();
        let list = load(dir.path()).unwrap();
        assert_eq!(list, [r("B", 2), r("A", 3)]);
        forget(dir.path(), &["B".into()]).unwrap();
        assert_eq!(load(dir.path()).unwrap(), [r("A", 3)]);
        std::fs::write(file(dir.path()), "not json").unwrap();
        assert!(load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("removed-disks.json"));
    }
}
