//! OSDs that `ceph-volume raw prepare` made: a BlueStore label at the start of a whole disk or
//! a partition, and nothing else (no partition name, no LVM). They are found by reading the
//! label of every device whose signature says BlueStore and that no labelled OSD claims: the
//! `main` label carries the OSD's id (`whoami`), its uuid and its cluster; `bluefs db` and
//! `bluefs wal` labels carry the same uuid. Started as ceph-volume starts them
//! (`ceph-bluestore-tool prime-osd-dir` from the main label, links to the devices), nothing
//! on the devices rewritten (docs/adopt.md).

use std::collections::BTreeMap;

use super::activate::FoundOsd;
use crate::disk::bluestore::BluestoreLabel;
use crate::disk::inventory::{Device, DeviceKind, Snapshot, TableInfo};

/// Whether libblkid found a BlueStore label on the device.
fn has_bluestore_signature(d: &Device) -> bool {
    d.signatures.iter().any(|s| s.kind == "ceph_bluestore")
}

/// The devices worth reading a label from (pure): a BlueStore signature, not a member of an
/// OSD found by its partition labels, and not a disk with a partition table (its partitions
/// are the devices). Never a device-mapper device: an encrypted OSD's open mapping shows its
/// BlueStore label (the system guest caught cephboot starting an encrypted OSD a second time
/// through its mapping), and an LVM volume is ceph-volume lvm's, not raw's.
pub fn candidates<'a>(snapshot: &'a Snapshot, found: &[FoundOsd]) -> Vec<&'a Device> {
    let held_by_found: Vec<&str> = snapshot
        .devices
        .iter()
        .filter(|d| found.iter().any(|o| o.has_member(&d.path)))
        .flat_map(|d| d.holders.iter().map(String::as_str))
        .collect();
    snapshot
        .devices
        .iter()
        .filter(|d| has_bluestore_signature(d))
        .filter(|d| !d.name.starts_with("dm-") && !held_by_found.contains(&d.name.as_str()))
        .filter(|d| {
            !(d.kind == DeviceKind::Disk && d.table.as_ref().is_some_and(|t| *t != TableInfo::None))
        })
        .filter(|d| !found.iter().any(|o| o.has_member(&d.path)))
        .collect()
}

/// The OSDs these labelled devices make (pure): one per `main` label with a numeric `whoami`
/// of cluster `fsid` (when known: a raw device carries no name that would tell whose it is,
/// so another cluster's is not this host's business), its db and wal the devices whose
/// `bluefs db` / `bluefs wal` label carries its uuid. A second main label of the same uuid (a
/// copied disk) marks a conflict; db and wal labels of no main device are left out (that
/// OSD's block is not on this host).
pub fn group(labelled: &[(&Device, BluestoreLabel)], fsid: Option<&str>) -> Vec<FoundOsd> {
    let mut by_uuid: BTreeMap<&str, FoundOsd> = BTreeMap::new();
    for (d, l) in labelled {
        if l.description.as_deref() != Some("main") {
            continue;
        }
        let theirs = l.ceph_fsid.as_deref();
        if fsid.is_some_and(|f| theirs.is_some_and(|t| !t.eq_ignore_ascii_case(f))) {
            continue;
        }
        let Some(id) = l
            .whoami
            .as_deref()
            .and_then(|w| w.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(o) = by_uuid.get_mut(l.osd_uuid.as_str()) {
            o.conflict =
                Some(format!(
                "{} and {} both carry the main BlueStore label of osd.{id} (uuid {}): zap the copy",
                o.main_path().map(|p| p.display().to_string()).unwrap_or_default(),
                d.path.display(),
                l.osd_uuid
            ));
            continue;
        }
        by_uuid.insert(l.osd_uuid.as_str(), FoundOsd::raw(id, &l.osd_uuid, d));
    }
    for (d, l) in labelled {
        let role = match l.description.as_deref() {
            Some("bluefs db") => crate::disk::label::Role::BluestoreDb,
            Some("bluefs wal") => crate::disk::label::Role::BluestoreWal,
            _ => continue,
        };
        if let Some(o) = by_uuid.get_mut(l.osd_uuid.as_str()) {
            o.add_raw_partner(d, role);
        }
    }
    let mut out: Vec<FoundOsd> = by_uuid.into_values().collect();
    out.sort_by_key(|o| o.osd_id);
    out
}

/// The raw OSDs of this host: the candidates' labels read (4 KiB each) and grouped.
pub fn find(
    snapshot: &Snapshot,
    found: &[FoundOsd],
    fsid: Option<&str>,
    read_label: &dyn Fn(&Device) -> Option<BluestoreLabel>,
) -> Vec<FoundOsd> {
    let labelled: Vec<(&Device, BluestoreLabel)> = candidates(snapshot, found)
        .into_iter()
        .filter_map(|d| read_label(d).map(|l| (d, l)))
        .collect();
    group(&labelled, fsid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use cephboot_ffi::blkid::Signature;
    use std::path::PathBuf;

    fn device(name: &str, bluestore: bool) -> Device {
        let mut d = Device::test_disk(name);
        if bluestore {
            d.signatures.push(Signature {
                kind: "ceph_bluestore".into(),
                ..Signature::default()
            });
        }
        d
    }

    fn label(uuid: &str, description: &str, whoami: Option<&str>) -> BluestoreLabel {
        BluestoreLabel {
            osd_uuid: uuid.into(),
            ceph_fsid: Some("f".into()),
            whoami: whoami.map(String::from),
            description: Some(description.into()),
            has_osd_key: true,
        }
    }

    #[test]
    fn a_main_label_makes_an_osd_and_its_db_and_wal_join_it_by_uuid() {
        let (a, b, c, x) = (
            device("sdb", true),
            device("sdc", true),
            device("sdd", true),
            device("sde", true),
        );
        let labelled = vec![
            (&b, label("u1", "bluefs db", None)),
            (&a, label("u1", "main", Some("7"))),
            (&c, label("u1", "bluefs wal", None)),
            // A db of an OSD whose block is elsewhere: no OSD of its own.
            (&x, label("u9", "bluefs db", None)),
        ];
        let found = group(&labelled, Some("f"));
        assert_eq!(found.len(), 1);
        assert!(
            group(&labelled, Some("another")).is_empty(),
            "another cluster's raw OSD is not this host's"
        );
        let o = &found[0];
        assert_eq!(
            (o.osd_id, o.origin),
            (7, crate::osd::activate::Origin::CephVolumeRaw)
        );
        assert_eq!(o.osd_uuid.as_deref(), Some("u1"));
        assert_eq!(o.partitions["bluestore"], PathBuf::from("/dev/sdb"));
        assert_eq!(o.partitions["bluestore-db"], PathBuf::from("/dev/sdc"));
        assert_eq!(o.partitions["bluestore-wal"], PathBuf::from("/dev/sdd"));
        assert!(o.conflict.is_none());
    }

    #[test]
    fn incomplete_labels_and_copies_are_not_started_by_guess() {
        let (a, b, c) = (
            device("sdb", true),
            device("sdc", true),
            device("sdd", true),
        );
        let found = group(
            &[
                (&a, label("u1", "main", Some("3"))),
                (&b, label("u1", "main", Some("3"))),
                (&c, label("u2", "main", Some("not a number"))),
            ],
            None,
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].conflict.as_deref().unwrap().contains("/dev/sdc"));
    }

    #[test]
    fn only_unclaimed_bluestore_devices_without_a_table_are_read() {
        let mut with_table = device("sdb", true);
        with_table.table = Some(TableInfo::Mbr);
        let mut mapping = device("dm-0", true);
        mapping.kind = DeviceKind::Disk;
        let snapshot = Snapshot {
            devices: vec![
                device("sda", false),
                with_table,
                device("sdc", true),
                mapping,
            ],
        };
        let names: Vec<&str> = candidates(&snapshot, &[])
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["sdc"]);
        // A device held by a found OSD's member (its open mapping, whatever its name) is not
        // a second OSD.
        let mut member = device("sdd", true);
        member.holders = vec!["mapped".into()];
        let found = [FoundOsd::raw(2, "u2", &member)];
        let snapshot = Snapshot {
            devices: vec![member, device("mapped", true), device("sde", true)],
        };
        let names: Vec<&str> = candidates(&snapshot, &found)
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["sde"]);
    }
}
