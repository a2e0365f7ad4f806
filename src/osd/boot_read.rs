//! The host read shared by the OSD units that start together at boot.
//!
//! Each `cephboot-osd@` unit runs `osd activate ID --exec`, which must find its OSD's devices
//! on the host's disks. Read alone, every unit would read every disk: at boot N units start at
//! once, and N OSDs on N disks cost N² disk reads (the complaint against ceph-volume's
//! activation on 60-disk hosts, ceph/ceph.io#831). Instead the first unit reads the host and
//! leaves a record of what it found: for each OSD, the disks its devices are on. The units
//! after it read only those disks, then trust what those disks say now: the OSD found there
//! again must have the recorded uuid and devices, or the unit reads the whole host itself.
//!
//! A unit uses the record only while what it rests on cannot have moved: the same boot, the
//! same cluster and label convention, for [`RECORD_TTL_SECS`] after it was written, and the
//! OSD's own disks as sysfs describes them unchanged (number, size, disk sequence number,
//! each partition's number, start and size: a disk replaced, re-attached or repartitioned
//! changes them). Other disks may come and go meanwhile: an OSD found on its recorded disks
//! with its recorded uuid is the one that was there (and `ceph-osd` itself checks the uuid
//! against the osdmap). An OSD that claims an id another claims too (a conflict), or whose
//! devices are logical volumes, is never started from a record: its unit reads the host
//! whole. The record lives in the state directory's `run/`, under a lock that makes the
//! units wait for one reader rather than all read.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::activate::{FoundOsd, Origin};
use crate::disk::inventory::Snapshot;

/// How long after it was written a record may still be used (the units of one boot start
/// within seconds of each other; a unit restarted later reads the host again).
pub const RECORD_TTL_SECS: u64 = 60;

/// What the first unit found, as the others use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `/proc/sys/kernel/random/boot_id` when it was written.
    pub boot_id: String,
    /// The cluster fsid and label prefix the OSDs were found with.
    pub context: String,
    /// Unix seconds.
    pub written_at: u64,
    /// Every OSD found on the host.
    pub osds: Vec<RecordedOsd>,
}

/// One OSD of a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOsd {
    pub osd_id: u32,
    pub osd_uuid: Option<String>,
    /// Its devices by role.
    pub partitions: BTreeMap<String, PathBuf>,
    /// Another OSD claims its id: it is not started at all.
    pub conflict: bool,
    /// The whole disks its devices are on; `None` when it must not be started from the
    /// record (a conflict, logical volumes, a device not in the host's read).
    pub disks: Option<Vec<RecordedDisk>>,
}

/// A disk of a [`RecordedOsd`]: its kernel name and [`disk_identity`] when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDisk {
    pub name: String,
    pub identity: String,
}

/// What a unit's start knows of now, to judge a record by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub boot_id: String,
    pub context: String,
    pub unix: u64,
}

/// The record of a whole read of the host (pure, given `identity`: a disk's
/// [`disk_identity`] by kernel name): each OSD with the disks its devices are on.
pub fn record_of(
    found: &[FoundOsd],
    snapshot: &Snapshot,
    now: &Now,
    identity: &dyn Fn(&str) -> String,
) -> Record {
    let osds = found
        .iter()
        .map(|o| RecordedOsd {
            osd_id: o.osd_id,
            osd_uuid: o.osd_uuid.clone(),
            partitions: roles(o),
            conflict: o.conflict.is_some(),
            disks: disks_of(o, snapshot).map(|names| {
                names
                    .into_iter()
                    .map(|name| RecordedDisk {
                        identity: identity(&name),
                        name,
                    })
                    .collect()
            }),
        })
        .collect();
    Record {
        boot_id: now.boot_id.clone(),
        context: now.context.clone(),
        written_at: now.unix,
        osds,
    }
}

fn roles(o: &FoundOsd) -> BTreeMap<String, PathBuf> {
    o.partitions
        .iter()
        .map(|(role, path)| ((*role).to_string(), path.clone()))
        .collect()
}

/// The whole disks `o`'s devices are on, when it may be started from a record.
fn disks_of(o: &FoundOsd, snapshot: &Snapshot) -> Option<Vec<String>> {
    if o.conflict.is_some() || o.origin == Origin::CephVolumeLvm || o.partitions.is_empty() {
        return None;
    }
    let mut disks = Vec::new();
    for path in o.partitions.values() {
        let device = snapshot.find(path)?;
        let disk = match &device.parent {
            Some(parent) => snapshot.find(parent)?,
            None => device,
        };
        if !disks.contains(&disk.name) {
            disks.push(disk.name.clone());
        }
    }
    Some(disks)
}

/// The disks to read for OSD `id` when `record` still holds `now` and its disks are as they
/// were (pure, given `identity`, as for [`record_of`]); `None`: read the whole host.
pub fn disks_to_read(
    record: &Record,
    now: &Now,
    id: u32,
    identity: &dyn Fn(&str) -> String,
) -> Option<Vec<String>> {
    if !is_fresh(record, now) {
        return None;
    }
    let mut claims = record.osds.iter().filter(|o| o.osd_id == id);
    let one = claims.next()?;
    if claims.next().is_some() {
        return None;
    }
    let disks = one.disks.as_deref().filter(|d| !d.is_empty())?;
    disks
        .iter()
        .all(|d| identity(&d.name) == d.identity)
        .then(|| disks.iter().map(|d| d.name.clone()).collect())
}

/// Whether `record` was written in this boot (known: a boot whose id cannot be read is never
/// taken for the same), for this cluster and labels, at most [`RECORD_TTL_SECS`] ago (pure).
pub fn is_fresh(record: &Record, now: &Now) -> bool {
    !now.boot_id.is_empty()
        && record.boot_id == now.boot_id
        && record.context == now.context
        && record.written_at <= now.unix
        && now.unix - record.written_at <= RECORD_TTL_SECS
}

/// Whether a record may be written now: only where the boot is known.
pub fn may_record(now: &Now) -> bool {
    !now.boot_id.is_empty()
}

/// Whether `found`, read again from the recorded disks alone, is the OSD the record describes
/// (pure): same id and uuid, same devices, no conflict.
pub fn confirms(record: &Record, found: &FoundOsd) -> bool {
    found.conflict.is_none()
        && record.osds.iter().any(|r| {
            r.osd_id == found.osd_id
                && r.osd_uuid.is_some()
                && r.osd_uuid == found.osd_uuid
                && r.partitions == roles(found)
        })
}

/// A whole disk as sysfs describes it, without reading the disk: its number, size and disk
/// sequence number, and each partition's name, start and size (empty when there is no such
/// disk). `sys_class_block` is `/sys/class/block`.
pub fn disk_identity(sys_class_block: &Path, name: &str) -> String {
    let dir = sys_class_block.join(name);
    let attr = |d: &Path, a: &str| {
        std::fs::read_to_string(d.join(a))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    if !dir.join("dev").exists() {
        return String::new();
    }
    let mut text = format!(
        "{name} {} {} {}",
        attr(&dir, "dev"),
        attr(&dir, "size"),
        attr(&dir, "diskseq")
    );
    // The partitions are the subdirectories with a `partition` attribute.
    let mut parts: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("partition").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    for p in parts {
        let pd = dir.join(&p);
        text.push_str(&format!(
            "; {p} {} {} {}",
            attr(&pd, "dev"),
            attr(&pd, "start"),
            attr(&pd, "size")
        ));
    }
    text
}

/// [`disk_identity`] on this host.
pub fn host_disk_identity(name: &str) -> String {
    disk_identity(Path::new("/sys/class/block"), name)
}

/// [`disk_identity`] of every whole disk of this host, by kernel name (taken before a whole
/// read, so that a disk changed while it is read is not recorded as it is after).
pub fn host_disk_identities() -> BTreeMap<String, String> {
    let class = Path::new("/sys/class/block");
    std::fs::read_dir(class)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| !e.path().join("partition").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .map(|name| (disk_identity(class, &name), name))
                .map(|(identity, name)| (name, identity))
                .collect()
        })
        .unwrap_or_default()
}

/// What this start knows of now (the boot, the block devices, the clock).
pub fn now(context: String) -> Now {
    Now {
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        context,
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
}

/// The record's file and its lock, in the state directory's `run/`.
#[derive(Debug)]
pub struct RecordFile {
    dir: PathBuf,
}

impl RecordFile {
    pub fn new(state_dir: &Path) -> Self {
        RecordFile {
            dir: state_dir.join("run"),
        }
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("boot-read.json")
    }

    /// Takes the lock (waiting for a unit that is reading the host); `None` when it cannot
    /// be taken (the unit then reads the host without a record).
    pub fn lock(&self) -> Option<File> {
        std::fs::create_dir_all(&self.dir).ok()?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("boot-read.lock"))
            .ok()?;
        f.lock().ok()?;
        Some(f)
    }

    /// The record, when there is one that parses.
    pub fn load(&self) -> Option<Record> {
        let text = std::fs::read(self.record_path()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the record (a new file renamed over the old one: a reader never sees half).
    pub fn save(&self, record: &Record) {
        let tmp = self.dir.join("boot-read.json.new");
        let written = serde_json::to_vec(record)
            .ok()
            .and_then(|bytes| std::fs::write(&tmp, bytes).ok())
            .and_then(|()| std::fs::rename(&tmp, self.record_path()).ok());
        if written.is_none() {
            tracing::debug!(dir = %self.dir.display(), "the host's read was not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::inventory::Device;
    use crate::disk::label::Store;

    fn now_at(unix: u64) -> Now {
        Now {
            boot_id: "b1".into(),
            context: "fsid kolla".into(),
            unix,
        }
    }

    /// Every disk as it was.
    fn same(name: &str) -> String {
        format!("id of {name}")
    }

    fn snapshot() -> Snapshot {
        let mut devices = Vec::new();
        for disk in ["sdb", "sdc", "nvme0n1"] {
            devices.push(Device::test_disk(disk));
        }
        for (disk, part) in [("sdb", "sdb1"), ("sdc", "sdc1"), ("nvme0n1", "nvme0n1p1")] {
            let mut p = Device::test_disk(part);
            p.parent = Some(PathBuf::from(format!("/dev/{disk}")));
            devices.push(p);
        }
        Snapshot { devices }
    }

    fn osd(id: u32, uuid: &str, parts: &[(&'static str, &str)]) -> FoundOsd {
        let mut o = FoundOsd::with_partitions(
            id,
            Store::Bluestore,
            parts.iter().map(|(r, p)| (*r, PathBuf::from(*p))).collect(),
        );
        o.osd_uuid = Some(uuid.into());
        o
    }

    fn names(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_record_names_the_disks_of_each_osds_devices() {
        let found = [
            osd(
                3,
                "u3",
                &[("block", "/dev/sdb1"), ("block.db", "/dev/nvme0n1p1")],
            ),
            osd(4, "u4", &[("block", "/dev/sdc")]),
        ];
        let r = record_of(&found, &snapshot(), &now_at(100), &same);
        assert_eq!(
            disks_to_read(&r, &now_at(130), 3, &same),
            names(&["sdb", "nvme0n1"])
        );
        assert_eq!(disks_to_read(&r, &now_at(130), 4, &same), names(&["sdc"]));
    }

    #[test]
    fn a_record_is_not_used_after_a_reboot_a_change_of_its_disks_or_its_time() {
        let r = record_of(
            &[osd(
                3,
                "u3",
                &[("block", "/dev/sdb1"), ("block.db", "/dev/nvme0n1p1")],
            )],
            &snapshot(),
            &now_at(100),
            &same,
        );
        assert!(disks_to_read(&r, &now_at(100), 3, &same).is_some());
        let mut other_boot = now_at(101);
        other_boot.boot_id = "b2".into();
        assert_eq!(disks_to_read(&r, &other_boot, 3, &same), None);
        let mut other_cluster = now_at(101);
        other_cluster.context = "fsid2 kolla".into();
        assert_eq!(disks_to_read(&r, &other_cluster, 3, &same), None);
        let too_late = now_at(100 + RECORD_TTL_SECS + 1);
        assert_eq!(disks_to_read(&r, &too_late, 3, &same), None);
        assert_eq!(
            disks_to_read(&r, &now_at(99), 3, &same),
            None,
            "a clock set back"
        );
        assert_eq!(
            disks_to_read(&r, &now_at(101), 7, &same),
            None,
            "an OSD not recorded"
        );
        let mut boot_unknown = now_at(101);
        boot_unknown.boot_id = String::new();
        let mut r_unknown = r.clone();
        r_unknown.boot_id = String::new();
        assert_eq!(disks_to_read(&r_unknown, &boot_unknown, 3, &same), None);
        assert!(!may_record(&boot_unknown));
        // Its fast disk replaced (a new disk sequence number, say): read the whole host.
        let db_replaced = |n: &str| {
            if n == "nvme0n1" {
                "new".into()
            } else {
                same(n)
            }
        };
        assert_eq!(disks_to_read(&r, &now_at(101), 3, &db_replaced), None);
        // Another disk of the host changed: its own disks are as they were.
        let other_changed = |n: &str| if n == "sdc" { "new".into() } else { same(n) };
        assert!(disks_to_read(&r, &now_at(101), 3, &other_changed).is_some());
    }

    #[test]
    fn conflicts_logical_volumes_and_unknown_devices_read_the_whole_host() {
        let mut conflicted = osd(5, "u5", &[("block", "/dev/sdb1")]);
        conflicted.conflict = Some("claimed twice".into());
        let lvm = FoundOsd::lvm(6, "u6", "fsid", false);
        let gone = osd(7, "u7", &[("block", "/dev/sdz1")]);
        let found = vec![
            conflicted,
            lvm,
            gone,
            osd(8, "u8a", &[("block", "/dev/sdb1")]),
            osd(8, "u8b", &[("block", "/dev/sdc")]),
        ];
        let r = record_of(&found, &snapshot(), &now_at(100), &same);
        for id in [5, 6, 7, 8] {
            assert_eq!(disks_to_read(&r, &now_at(100), id, &same), None, "osd.{id}");
        }
        assert!(r
            .osds
            .iter()
            .find(|o| o.osd_id == 5)
            .is_some_and(|o| o.conflict));
    }

    #[test]
    fn only_the_recorded_osd_read_again_is_trusted() {
        let parts = [("block", "/dev/sdb1"), ("block.db", "/dev/nvme0n1p1")];
        let r = record_of(&[osd(3, "u3", &parts)], &snapshot(), &now_at(100), &same);
        assert!(confirms(&r, &osd(3, "u3", &parts)));
        assert!(!confirms(&r, &osd(3, "other", &parts)));
        assert!(!confirms(&r, &osd(3, "u3", &parts[..1])), "its db gone");
        let mut conflicted = osd(3, "u3", &parts);
        conflicted.conflict = Some("x".into());
        assert!(!confirms(&r, &conflicted));
    }

    #[test]
    fn a_disks_identity_changes_with_its_size_or_partitions_and_not_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("loop0");
        std::fs::create_dir(&disk).unwrap();
        std::fs::write(disk.join("dev"), "7:0\n").unwrap();
        std::fs::write(disk.join("size"), "2048\n").unwrap();
        std::fs::write(disk.join("diskseq"), "9\n").unwrap();
        let a = disk_identity(dir.path(), "loop0");
        assert_eq!(a, disk_identity(dir.path(), "loop0"));
        assert_eq!(disk_identity(dir.path(), "loop1"), "", "no such disk");
        let part = disk.join("loop0p1");
        std::fs::create_dir(&part).unwrap();
        std::fs::write(part.join("partition"), "1\n").unwrap();
        std::fs::write(part.join("start"), "2048\n").unwrap();
        let b = disk_identity(dir.path(), "loop0");
        assert_ne!(a, b, "a partition added");
        std::fs::write(part.join("start"), "4096\n").unwrap();
        let c = disk_identity(dir.path(), "loop0");
        assert_ne!(b, c, "a partition moved");
        std::fs::write(disk.join("diskseq"), "10\n").unwrap();
        let d = disk_identity(dir.path(), "loop0");
        assert_ne!(c, d, "re-attached");
        std::fs::write(disk.join("size"), "4096\n").unwrap();
        assert_ne!(d, disk_identity(dir.path(), "loop0"), "resized");
    }
}
