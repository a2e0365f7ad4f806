//! cephboot's own dm-crypt mappings left open with nothing on them: an encrypted OSD that was
//! stopped (before `disks zap`) or an interrupted preparation (before its rerun). Their
//! partitions are held by the mapping, so the guards would refuse them as in use; these are
//! closed first (a mapping something uses is not: `cryptsetup close` fails, and the guard
//! then names the holder). Only mappings named after the PARTUUID of the partition they open,
//! on disks chosen by the caller, are considered, and only while their disk's lock can be had:
//! a preparation at work holds its disks' locks, and between opening its mappings and mkfs
//! they look exactly as an interrupted one's (a rerun beside another prepare closed the
//! other's fresh mapping, and its mkfs failed: the system guest's power cut, 2026-12-05).

use std::path::PathBuf;

use super::luks;
use crate::disk::inventory::{Device, DeviceKind, Snapshot};

/// One open mapping of ours with nothing on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleMapping {
    /// The partition it opens.
    pub partition: PathBuf,
    /// Its name (`/dev/mapper/<name>`).
    pub name: String,
    /// Its kernel name (`dm-3`): the partition's holder.
    pub dm: String,
    /// The whole disk of the partition (whose lock says whether a preparation is at work).
    pub disk: PathBuf,
}

/// The idle mappings of partitions that `pick(partition, disk)` accepts.
pub fn idle(snapshot: &Snapshot, pick: impl Fn(&Device, &Device) -> bool) -> Vec<IdleMapping> {
    let mut out = Vec::new();
    for p in snapshot
        .devices
        .iter()
        .filter(|d| d.kind == DeviceKind::Partition && !d.holders.is_empty())
    {
        let Some(disk) = p.parent.as_deref().and_then(|d| snapshot.find(d)) else {
            continue;
        };
        let Some(g) = &p.gpt else { continue };
        if !pick(p, disk) {
            continue;
        }
        let name = luks::mapping_name(&g.unique_guid);
        let Ok(target) = std::fs::canonicalize(luks::mapper_path(&name)) else {
            continue;
        };
        let Some(dm) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if !p.holders.contains(&dm) || in_use(&dm, &target) {
            continue;
        }
        out.push(IdleMapping {
            partition: p.path.clone(),
            name,
            dm,
            disk: disk.path.clone(),
        });
    }
    out
}

/// Something is stacked on the mapping or has it open.
fn in_use(dm: &str, node: &std::path::Path) -> bool {
    let stacked = std::fs::read_dir(format!("/sys/class/block/{dm}/holders"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    stacked || !crate::disk::guard::openers(&[node.to_path_buf()]).is_empty()
}

/// Closes them, each while holding its disk's lock; those whose disk another process has
/// locked (a preparation at work) or that cannot be closed stay (the guards then refuse their
/// partitions).
pub fn close(idle: &[IdleMapping]) -> Vec<String> {
    let mut closed = Vec::new();
    for m in idle {
        let _held = match crate::disk::lock::try_hold(&m.disk) {
            Ok(Some(held)) => held,
            Ok(None) => {
                tracing::info!(mapping = %m.name, disk = %m.disk.display(), "left open: another process holds the disk's lock (a preparation at work)");
                continue;
            }
            Err(e) => {
                tracing::warn!(mapping = %m.name, error = %e, "left open: its disk's lock could not be tried");
                continue;
            }
        };
        match luks::close(&m.name) {
            Ok(true) => {
                tracing::info!(mapping = %m.name, partition = %m.partition.display(), "closed an idle dm-crypt mapping of ours");
                closed.push(m.name.clone());
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(mapping = %m.name, error = %e, "could not close"),
        }
    }
    closed
}

/// The snapshot as it will be once they are closed (a dry run's view).
pub fn without(snapshot: &Snapshot, idle: &[IdleMapping]) -> Snapshot {
    let mut s = snapshot.clone();
    for d in &mut s.devices {
        d.holders
            .retain(|h| !idle.iter().any(|m| m.partition == d.path && &m.dm == h));
    }
    s
}
