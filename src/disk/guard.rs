//! Safety gates, checked in full before the first byte is written. Facts are gathered from
//! the kernel (`gather`), then judged by a pure function (`judge`) so every rule is
//! unit-tested on plain data. Each refusal names the device, the cause and what to do next.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::bluestore::{self, BluestoreLabel};
use super::busy::Busy;
use super::inventory::{Device, DeviceKind, Snapshot};

/// A process that has a device open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    /// The device node it has open.
    pub device: PathBuf,
    /// Process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
}

/// Everything the guards look at, for one disk and its partitions.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The disk and its partitions, from the inventory.
    pub devices: Vec<Device>,
    /// Devices that could not be opened with `O_EXCL`, with the error.
    pub exclusive_failures: Vec<(PathBuf, String)>,
    /// Other processes with one of the devices open.
    pub openers: Vec<Opener>,
    /// BlueStore labels found at the start of the disk or a partition.
    pub bluestore_labels: Vec<(PathBuf, BluestoreLabel)>,
    /// The OSD uuids of this host's interrupted preparations: the PARTUUIDs of partitions,
    /// on any disk, that still have cephboot's "being prepared" type. A BlueStore label with
    /// one of them (a block.db partition that an `osd prepare --db` cut off after mkfs left
    /// labelled) is that preparation's own, which its rerun takes again.
    pub preparing_uuids: Vec<String>,
}

/// Why a device may not be written (defined with the errors, which carry a list of them).
pub use crate::error::Refusal;

fn refusal(device: &Path, reason: String, hint: &str) -> Refusal {
    Refusal {
        device: device.to_path_buf(),
        reason,
        hint: hint.to_string(),
        force_overrides: false,
    }
}

/// Judges the facts: the refusals that apply (empty = safe to write). `cluster_fsid` is this
/// cluster's fsid when known; `force` waives only the overridable refusals.
pub fn judge(facts: &Facts, cluster_fsid: Option<&str>, force: bool) -> Vec<Refusal> {
    let mut out = Vec::new();
    for d in &facts.devices {
        // In use: the same description discovery gives (`disk::busy`).
        for b in Busy::of(d) {
            out.push(refusal(&d.path, b.what(), b.hint()));
        }
        if d.kind == DeviceKind::Disk && d.size_bytes == 0 {
            out.push(refusal(
                &d.path,
                "has no media (size 0)".into(),
                "attach or insert the medium first",
            ));
        }
        if !d.errors.is_empty() {
            out.push(refusal(
                &d.path,
                format!("could not be read: {}", d.errors.join("; ")),
                "check the device and its cabling, then retry",
            ));
        }
    }
    for o in &facts.openers {
        let (reason, hint) = if o.comm == "ceph-osd" {
            (
                format!("is used by a running ceph-osd (pid {})", o.pid),
                "stop that OSD first",
            )
        } else {
            (
                format!("is open by {} (pid {})", o.comm, o.pid),
                "stop that process or choose another disk",
            )
        };
        out.push(refusal(&o.device, reason, hint));
    }
    for (dev, err) in &facts.exclusive_failures {
        if !facts.openers.iter().any(|o| &o.device == dev) && !out.iter().any(|r| &r.device == dev)
        {
            out.push(refusal(dev, format!("cannot be opened exclusively ({err})"), "something holds it (a mount, a holder or a process): free it or choose another disk"));
        }
    }
    for (dev, label) in &facts.bluestore_labels {
        let ours = match (&label.ceph_fsid, cluster_fsid) {
            (Some(theirs), Some(ours)) => theirs == ours,
            _ => false,
        } || facts
            .preparing_uuids
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&label.osd_uuid));
        if !ours && !force {
            let whose = label
                .ceph_fsid
                .as_deref()
                .map_or("an unknown cluster".to_string(), |f| format!("cluster {f}"));
            out.push(Refusal {
                device: dev.clone(),
                reason: format!(
                    "holds a BlueStore OSD (osd uuid {}{}) of {whose}",
                    label.osd_uuid,
                    label
                        .whoami
                        .as_deref()
                        .map(|w| format!(", osd.{w}"))
                        .unwrap_or_default()
                ),
                hint: "make sure that OSD is gone from its cluster, then pass --force to wipe it"
                    .into(),
                force_overrides: true,
            });
        }
    }
    out
}

/// Processes (other than this one) with any of `nodes` open, from `/proc/*/fd`.
pub fn openers(nodes: &[PathBuf]) -> Vec<Opener> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.filter_map(Result::ok) {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(node) = nodes.iter().find(|n| **n == target) {
                let comm = fs::read_to_string(p.path().join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                let o = Opener {
                    device: node.clone(),
                    pid,
                    comm,
                };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
    }
    out
}

fn read_head(path: &Path, offset: u64, len: usize) -> Option<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut f = fs::File::open(path).ok()?;
    // From the medium, not this node's cache (see `drop_cached_pages`).
    let _ = cephboot_ffi::blockdev::drop_cached_pages(&f);
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Whether the region `start..start+size` of `disk` holds non-zero bytes in its first or last
/// MiB (a partition with data but no signature libblkid knows). Unreadable counts as data.
pub fn holds_data(disk: &Path, start: u64, size: u64) -> bool {
    let len = size.min(1 << 20);
    let Ok(n) = usize::try_from(len) else {
        return true;
    };
    let ends = [start, start.saturating_add(size - len)];
    ends.iter().any(|&at| match read_head(disk, at, n) {
        Some(buf) => buf.iter().any(|&b| b != 0),
        None => true,
    })
}

/// Gathers the facts for `disk` (a whole disk in `snapshot`) and its partitions.
pub fn gather(snapshot: &Snapshot, disk: &Path) -> Facts {
    let mut facts = Facts {
        preparing_uuids: snapshot
            .devices
            .iter()
            .filter_map(|d| d.gpt.as_ref())
            .filter(|g| crate::disk::types::is_preparing(&g.type_guid))
            .map(|g| g.unique_guid.to_string())
            .collect(),
        ..Facts::default()
    };
    if let Some(d) = snapshot.find(disk) {
        facts.devices.push(d.clone());
    }
    facts.devices.extend(snapshot.partitions_of(disk).cloned());
    let nodes: Vec<PathBuf> = facts
        .devices
        .iter()
        .filter(|d| d.in_kernel)
        .map(|d| d.path.clone())
        .collect();
    // Scanners (udev's blkid, LVM's lvs, ceph-volume) open devices for a moment: only an
    // opener still there after a short wait counts.
    facts.openers = openers(&nodes);
    for _ in 0..8 {
        if facts.openers.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        let again = openers(&nodes);
        facts.openers.retain(|o| again.contains(o));
    }
    for node in &nodes {
        if let Err(e) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_EXCL)
            .open(node)
        {
            facts.exclusive_failures.push((node.clone(), e.to_string()));
        }
    }
    // BlueStore labels at the start of the disk and of each partition, and the copies newer
    // releases keep at 1, 10, 100 and 1000 GiB (read through the disk, so partitions the
    // kernel does not know are checked too). The first label found speaks for the device.
    // A copy speaks only for a device that holds nothing else (no signature, no table): on a
    // disk that now carries other filesystems, a copy inside them is a stale leftover that
    // zap removes without --force.
    let mut starts: BTreeMap<u64, (PathBuf, u64, bool)> = BTreeMap::new();
    for d in &facts.devices {
        let bare = d.signatures.is_empty()
            && matches!(d.table, None | Some(super::inventory::TableInfo::None));
        starts.insert(
            d.start_bytes.unwrap_or(0),
            (d.path.clone(), d.size_bytes, bare),
        );
    }
    for (start, (path, size, bare)) in starts {
        let found = bluestore::LABEL_OFFSETS
            .iter()
            .filter(|&&off| off == 0 || bare)
            .filter(|&&off| off.saturating_add(4096) <= size)
            .find_map(|&off| {
                read_head(disk, start.saturating_add(off), 4096)
                    .as_deref()
                    .and_then(bluestore::parse)
            });
        if let Some(label) = found {
            facts.bluestore_labels.push((path, label));
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(path: &str) -> Device {
        let mut d = Device::test_disk(path.trim_start_matches("/dev/"));
        d.table = None;
        d
    }

    #[test]
    fn clean_disk_passes() {
        assert!(judge(
            &Facts {
                devices: vec![dev("/dev/sdb")],
                ..Default::default()
            },
            None,
            false
        )
        .is_empty());
    }

    #[test]
    fn every_in_use_cause_is_named_with_a_next_step() {
        let mut root = dev("/dev/sda1");
        root.mountpoints.push("/".into());
        let mut held = dev("/dev/sdb");
        held.holders.push("dm-3".into());
        let mut swap = dev("/dev/sdc");
        swap.swap = true;
        let mut ro = dev("/dev/sdd");
        ro.read_only = true;
        let facts = Facts {
            devices: vec![root, held, swap, ro],
            openers: vec![Opener {
                device: "/dev/sde".into(),
                pid: 42,
                comm: "ceph-osd".into(),
            }],
            exclusive_failures: vec![
                ("/dev/sde".into(), "busy".into()),
                ("/dev/sdf".into(), "Device or resource busy".into()),
            ],
            ..Default::default()
        };
        let r = judge(&facts, None, true);
        let text: Vec<String> = r
            .iter()
            .map(|r| format!("{}: {}: {}", r.device.display(), r.reason, r.hint))
            .collect();
        assert!(
            text[0].contains("/dev/sda1: holds the system's / filesystem"),
            "{text:?}"
        );
        assert!(
            text[1].contains("dm-3") && text[1].contains("vgchange"),
            "{text:?}"
        );
        assert!(text[2].contains("swap"));
        assert!(text[3].contains("read-only"));
        assert!(text[4].contains("running ceph-osd (pid 42)") && text[4].contains("stop that OSD"));
        assert!(
            text[5].contains("/dev/sdf: cannot be opened exclusively"),
            "{text:?}"
        );
        assert_eq!(
            r.len(),
            6,
            "the ceph-osd's O_EXCL failure is not reported twice"
        );
        assert!(r.iter().all(|r| !r.force_overrides));
    }

    #[test]
    fn foreign_bluestore_needs_force_and_ours_does_not() {
        let label = |fsid: &str| BluestoreLabel {
            osd_uuid: "u".into(),
            ceph_fsid: Some(fsid.into()),
            whoami: Some("7".into()),
            ..Default::default()
        };
        let facts = Facts {
            bluestore_labels: vec![("/dev/sdb".into(), label("other"))],
            ..Default::default()
        };
        let r = judge(&facts, Some("mine"), false);
        assert_eq!(r.len(), 1);
        assert!(r[0].reason.contains("cluster other") && r[0].reason.contains("osd.7"));
        assert!(r[0].force_overrides);
        assert!(judge(&facts, Some("mine"), true).is_empty());
        let facts = Facts {
            bluestore_labels: vec![("/dev/sdb".into(), label("mine"))],
            ..Default::default()
        };
        assert!(judge(&facts, Some("mine"), false).is_empty());
        // Unknown cluster: refuse without --force.
        assert_eq!(judge(&facts, None, false).len(), 1);
        // A block.db label (no cluster in it) of an interrupted preparation of this host is
        // that preparation's; of anything else, refused.
        let db = BluestoreLabel {
            osd_uuid: "8D3717B3-0000-0000-0000-000000000001".into(),
            description: Some("bluefs db".into()),
            ..Default::default()
        };
        let facts = Facts {
            bluestore_labels: vec![("/dev/sdc2".into(), db)],
            preparing_uuids: vec!["8d3717b3-0000-0000-0000-000000000001".into()],
            ..Default::default()
        };
        assert!(judge(&facts, Some("mine"), false).is_empty());
        let facts = Facts {
            preparing_uuids: vec!["another".into()],
            ..facts
        };
        assert_eq!(judge(&facts, Some("mine"), false).len(), 1);
    }
}
