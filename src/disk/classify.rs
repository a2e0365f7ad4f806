//! Pure classification: a [`Snapshot`] in, a state per device out, each with the reasons a
//! person needs to trust it. No I/O; every rule is unit-tested on plain data.
//!
//! States: `free` (nothing on it), `bootstrap` (labelled for preparation), `prepared` (an OSD's
//! partition), `in_use` (mounted, held, swap, read-only), `foreign` (holds something that is
//! not ours), `error` (could not be read). Partitions of one OSD are grouped across disks by
//! their label's group token, and a missing partner is a reason on the device that has one,
//! never a silent drop.

use std::collections::BTreeMap;

use super::inventory::{Device, DeviceKind, Snapshot, TableInfo};
use super::label::{FsLabel, Label, LabelGrammar, Role, Store};
use crate::disk::gpt::HeaderUsed;

/// A device's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing on it: may be prepared when named.
    Free,
    /// Labelled for preparation.
    Bootstrap,
    /// Part of a prepared OSD.
    Prepared,
    /// Mounted, held by another device, swap, or read-only: never touched.
    InUse,
    /// Holds data that is not ours (a filesystem, a table, a near-miss label).
    Foreign,
    /// Could not be read.
    Error,
}

impl State {
    /// Name as used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Free => "free",
            State::Bootstrap => "bootstrap",
            State::Prepared => "prepared",
            State::InUse => "in_use",
            State::Foreign => "foreign",
            State::Error => "error",
        }
    }
}

/// The verdict for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// State.
    pub state: State,
    /// Role within an OSD (bootstrap and prepared devices).
    pub role: Option<Role>,
    /// The OSD group: the base bootstrap label (`KOLLA_CEPH_OSD_BOOTSTRAP_BS_1`) or `osd.<id>`.
    pub group: Option<String>,
    /// OSD id (prepared devices).
    pub osd_id: Option<u32>,
    /// False when a bootstrap device cannot be prepared as it is (missing partner, duplicate).
    pub ready: bool,
    /// Why, for people.
    pub reasons: Vec<String>,
}

impl Verdict {
    fn new(state: State) -> Self {
        Verdict {
            state,
            role: None,
            group: None,
            osd_id: None,
            ready: true,
            reasons: Vec::new(),
        }
    }
}

/// The label a device carries: GPT name for partitions, whole-device filesystem label for
/// disks without a partition table.
pub fn label_text(d: &Device) -> Option<String> {
    match d.kind {
        DeviceKind::Partition => d
            .gpt
            .as_ref()
            .map(|g| g.name.to_lossy())
            .filter(|s| !s.is_empty()),
        DeviceKind::Disk => d
            .filesystem()
            .and_then(|s| s.label.as_ref().or(s.label_raw.as_ref()))
            .map(|b| FsLabel::from_bytes(b).to_display())
            .filter(|s| !s.is_empty()),
    }
}

fn describe_signature(sig: &cephboot_ffi::blkid::Signature) -> String {
    let mut s = format!(
        "a {} signature",
        if sig.kind.is_empty() {
            "unknown"
        } else {
            &sig.kind
        }
    );
    if let Some(l) = sig
        .label
        .as_ref()
        .or(sig.label_raw.as_ref())
        .filter(|l| !l.is_empty())
    {
        s.push_str(&format!(
            " labelled \"{}\"",
            FsLabel::from_bytes(l).to_display()
        ));
    }
    s
}

fn in_use_reasons(d: &Device) -> Vec<String> {
    let mut r = Vec::new();
    for m in &d.mountpoints {
        r.push(format!("{} is mounted at {m}", d.path.display()));
    }
    for h in &d.holders {
        r.push(format!(
            "{} is held by {h} (device-mapper, md or LVM)",
            d.path.display()
        ));
    }
    if d.swap {
        r.push(format!("{} is active swap", d.path.display()));
    }
    if d.read_only {
        r.push(format!("{} is read-only", d.path.display()));
    }
    r
}

fn classify_partition(d: &Device, grammar: &LabelGrammar) -> Verdict {
    let label = label_text(d);
    let parsed = label.as_deref().and_then(|l| grammar.parse(l));
    let busy = in_use_reasons(d);
    let mut v = if !d.errors.is_empty() {
        let mut v = Verdict::new(State::Error);
        v.reasons.extend(d.errors.iter().cloned());
        v
    } else if !busy.is_empty() {
        let mut v = Verdict::new(State::InUse);
        v.reasons = busy;
        v
    } else {
        match &parsed {
            Some(Label::Bootstrap { .. }) => Verdict::new(State::Bootstrap),
            Some(Label::Prepared { .. }) => Verdict::new(State::Prepared),
            None => {
                if let Some(l) = label.as_deref().filter(|l| grammar.is_near_miss(l)) {
                    let mut v = Verdict::new(State::Foreign);
                    v.reasons.push(format!(
                        "name \"{l}\" looks like a {} label but does not match the grammar (e.g. {} or {})",
                        grammar.prefix(),
                        grammar.bootstrap(Role::Bluestore, None),
                        grammar.bootstrap(Role::FilestoreData, None)
                    ));
                    v
                } else if let Some(sig) = d.filesystem() {
                    let mut v = Verdict::new(State::Foreign);
                    v.reasons.push(format!("holds {}", describe_signature(sig)));
                    v
                } else {
                    let mut v = Verdict::new(State::Free);
                    v.reasons.push("empty partition".into());
                    v
                }
            }
        }
    };
    match parsed {
        Some(Label::Bootstrap { role, group }) => {
            v.role = Some(role);
            v.group = group
                .as_deref()
                .map(|g| grammar.bootstrap(primary_role(role.store()), Some(g)));
            if v.state == State::Bootstrap {
                if let Some(sig) = d.filesystem() {
                    v.reasons.push(format!(
                        "bootstrap label \"{}\"; holds {} that will be wiped when prepared",
                        label.as_deref().unwrap_or(""),
                        describe_signature(sig)
                    ));
                } else {
                    v.reasons.push(format!(
                        "bootstrap label \"{}\"",
                        label.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        Some(Label::Prepared { role, osd_id }) => {
            v.role = Some(role);
            v.osd_id = Some(osd_id);
            v.group = Some(format!("osd.{osd_id}"));
            if v.state == State::Prepared {
                v.reasons.push(format!("{} of osd.{osd_id}", role.as_str()));
            }
        }
        None => {}
    }
    if !d.in_kernel {
        v.reasons
            .push("in the on-disk table but not yet known to the kernel".into());
    }
    if let Some(m) = &d.kernel_mismatch {
        v.reasons
            .push(format!("{m} (the next zap or prepare re-syncs the kernel)"));
    }
    if v.state != State::Bootstrap {
        v.ready = false;
    }
    v
}

fn primary_role(store: Store) -> Role {
    match store {
        Store::Bluestore => Role::Bluestore,
        Store::Filestore => Role::FilestoreData,
    }
}

fn classify_disk(d: &Device, parts: &[(&Device, &Verdict)], grammar: &LabelGrammar) -> Verdict {
    if !d.errors.is_empty() {
        let mut v = Verdict::new(State::Error);
        v.reasons.extend(d.errors.iter().cloned());
        v.ready = false;
        return v;
    }
    let mut busy = in_use_reasons(d);
    for (p, pv) in parts {
        if pv.state == State::InUse {
            busy.extend(pv.reasons.iter().cloned());
        } else if pv.state == State::Error {
            busy.push(format!("partition {} could not be read", p.path.display()));
        }
    }
    if !busy.is_empty() {
        let mut v = Verdict::new(State::InUse);
        v.reasons = busy;
        v.ready = false;
        return v;
    }
    if d.size_bytes == 0 {
        let mut v = Verdict::new(State::Foreign);
        v.reasons.push("size 0: no media or not attached".into());
        v.ready = false;
        return v;
    }
    let mut notes = Vec::new();
    match &d.table {
        Some(TableInfo::Gpt {
            header_used: HeaderUsed::Backup,
            ..
        }) => notes.push("primary GPT is corrupt; partitions read from the backup GPT".to_string()),
        Some(TableInfo::Gpt {
            other_header_valid: false,
            ..
        }) => notes.push("backup GPT is missing or corrupt".to_string()),
        _ => {}
    }

    // A prepared partition makes the disk prepared; a bootstrap one makes it bootstrap.
    let primary_of = |state: State| {
        parts
            .iter()
            .find(|(_, pv)| pv.state == state && pv.role.is_some_and(Role::is_primary))
            .or_else(|| parts.iter().find(|(_, pv)| pv.state == state))
    };
    if let Some((_, pv)) = primary_of(State::Prepared) {
        let mut v = Verdict::new(State::Prepared);
        v.role = pv.role;
        v.osd_id = pv.osd_id;
        v.group = pv.group.clone();
        v.ready = false;
        let ids: Vec<String> = {
            let mut ids: Vec<u32> = parts.iter().filter_map(|(_, pv)| pv.osd_id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.iter().map(|i| format!("osd.{i}")).collect()
        };
        v.reasons
            .push(format!("holds partitions of {}", ids.join(", ")));
        v.reasons.extend(notes);
        return v;
    }
    if let Some((p, pv)) = primary_of(State::Bootstrap) {
        let mut v = Verdict::new(State::Bootstrap);
        v.role = pv.role;
        v.group = pv.group.clone();
        v.reasons.push(format!(
            "partition {} carries a bootstrap label",
            p.path.display()
        ));
        if pv.role.is_some_and(Role::is_primary) {
            for (o, ov) in parts {
                if ov.state == State::Foreign {
                    v.reasons.push(format!(
                        "other partition {} ({}) is not labelled for Ceph: `osd prepare` erases it only with --wipe",
                        o.path.display(),
                        ov.reasons.first().map_or("", String::as_str)
                    ));
                } else if ov.state == State::Free && o.path != p.path {
                    v.reasons.push(format!(
                        "other partition {} ({}) will be erased when this disk is prepared, unless it holds data (then only with --wipe)",
                        o.path.display(),
                        ov.reasons.first().map_or("", String::as_str)
                    ));
                }
            }
        }
        v.reasons.extend(notes);
        return v;
    }

    classify_unclaimed(d, parts, grammar, notes)
}

/// A disk no partition speaks for: a whole-device label, a table, or signatures.
fn classify_unclaimed(
    d: &Device,
    parts: &[(&Device, &Verdict)],
    grammar: &LabelGrammar,
    notes: Vec<String>,
) -> Verdict {
    let whole_label = if matches!(d.table, Some(TableInfo::None) | None) {
        label_text(d)
    } else {
        None
    };
    match whole_label.as_deref().and_then(|l| grammar.parse(l)) {
        Some(Label::Bootstrap { role, group }) => {
            let mut v = Verdict::new(State::Bootstrap);
            v.role = Some(role);
            v.group = group
                .as_deref()
                .map(|g| grammar.bootstrap(primary_role(role.store()), Some(g)));
            v.reasons.push(format!(
                "whole-device {} label \"{}\"",
                d.filesystem().map_or("filesystem", |s| s.kind.as_str()),
                whole_label.as_deref().unwrap_or("")
            ));
            return v;
        }
        Some(Label::Prepared { role, osd_id }) => {
            let mut v = Verdict::new(State::Prepared);
            v.role = Some(role);
            v.osd_id = Some(osd_id);
            v.group = Some(format!("osd.{osd_id}"));
            v.ready = false;
            v.reasons
                .push(format!("whole-device label of osd.{osd_id}"));
            return v;
        }
        None => {}
    }
    let mut v = Verdict::new(State::Foreign);
    v.ready = false;
    if let Some(l) = whole_label.as_deref().filter(|l| grammar.is_near_miss(l)) {
        v.reasons.push(format!(
            "label \"{l}\" looks like a {} label but does not match the grammar",
            grammar.prefix()
        ));
    }
    match &d.table {
        Some(TableInfo::Corrupt(msg)) => v.reasons.push(format!("corrupt partition table: {msg}")),
        Some(TableInfo::Gpt { .. }) | Some(TableInfo::Mbr) => {
            let kind = if matches!(d.table, Some(TableInfo::Mbr)) {
                "an MBR"
            } else {
                "a GPT"
            };
            if parts.is_empty() {
                v.reasons
                    .push(format!("{kind} partition table with no partitions"));
            } else {
                v.reasons.push(format!(
                    "{kind} partition table with {} partition(s), none labelled for Ceph",
                    parts.len()
                ));
            }
        }
        _ => {}
    }
    if let Some(sig) = d.filesystem() {
        v.reasons.push(format!("holds {}", describe_signature(sig)));
    }
    if v.reasons.is_empty() {
        v.state = State::Free;
        v.ready = true;
        v.reasons
            .push("no partition table and no signatures".into());
    }
    v.reasons.extend(notes);
    v
}

/// Marks missing partners and duplicates within each OSD group. Members are bootstrap
/// partitions and bootstrap disks without partitions (whole-device labels).
fn check_groups(snapshot: &Snapshot, verdicts: &mut [Verdict], grammar: &LabelGrammar) {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (d, v)) in snapshot.devices.iter().zip(verdicts.iter()).enumerate() {
        let member =
            d.kind == DeviceKind::Partition || snapshot.partitions_of(&d.path).next().is_none();
        if member && v.state == State::Bootstrap {
            if let Some(g) = &v.group {
                groups.entry(g.clone()).or_default().push(i);
            }
        }
    }
    for (group, members) in groups {
        let roles: Vec<Role> = members
            .iter()
            .filter_map(|&i| verdicts.get(i).and_then(|v| v.role))
            .collect();
        let Some(store) = roles.first().map(|r| r.store()) else {
            continue;
        };
        let group_token = group.rsplit('_').next().unwrap_or("");
        let mut problems: Vec<String> = Vec::new();
        let primary = primary_role(store);
        if !roles.contains(&primary) {
            problems.push(format!(
                "no partition labelled {} was found: this OSD's {} is missing",
                grammar.bootstrap(primary, Some(group_token)),
                if store == Store::Bluestore {
                    "main device"
                } else {
                    "data partition"
                }
            ));
        }
        if store == Store::Filestore && !roles.contains(&Role::FilestoreJournal) {
            problems.push(format!(
                "no partition labelled {} was found: this OSD's external journal is missing",
                grammar.bootstrap(Role::FilestoreJournal, Some(group_token))
            ));
        }
        for r in [
            primary,
            Role::FilestoreJournal,
            Role::BluestoreBlock,
            Role::BluestoreDb,
            Role::BluestoreWal,
        ] {
            let n = roles.iter().filter(|&&x| x == r).count();
            if n > 1 {
                problems.push(format!(
                    "{n} devices carry the {} label {}",
                    r.as_str(),
                    grammar.bootstrap(r, Some(group_token))
                ));
            }
        }
        for &i in &members {
            if let Some(v) = verdicts.get_mut(i) {
                v.ready &= problems.is_empty();
                v.reasons.extend(problems.iter().cloned());
            }
        }
    }
}

/// Classifies every device of the snapshot; the result is index-aligned with
/// `snapshot.devices`.
pub fn classify(snapshot: &Snapshot, grammar: &LabelGrammar) -> Vec<Verdict> {
    // 1. Partitions on their own.
    let mut verdicts: Vec<Verdict> = snapshot
        .devices
        .iter()
        .map(|d| match d.kind {
            DeviceKind::Partition => classify_partition(d, grammar),
            DeviceKind::Disk => Verdict::new(State::Free),
        })
        .collect();
    // 2. Disks, from their own facts and their partitions' verdicts.
    for (i, d) in snapshot.devices.iter().enumerate() {
        if d.kind != DeviceKind::Disk {
            continue;
        }
        let parts: Vec<(&Device, &Verdict)> = snapshot
            .devices
            .iter()
            .zip(verdicts.iter())
            .filter(|(p, _)| p.parent.as_deref() == Some(d.path.as_path()))
            .collect();
        let v = classify_disk(d, &parts, grammar);
        if let Some(slot) = verdicts.get_mut(i) {
            *slot = v;
        }
    }
    // 3. Partners within each OSD group, across disks.
    check_groups(snapshot, &mut verdicts, grammar);
    // 4. A disk is ready only when its bootstrap partitions are.
    let unready: Vec<std::path::PathBuf> = snapshot
        .devices
        .iter()
        .zip(verdicts.iter())
        .filter(|(_, v)| v.state == State::Bootstrap && !v.ready)
        .filter_map(|(p, _)| p.parent.clone())
        .collect();
    for (d, v) in snapshot.devices.iter().zip(verdicts.iter_mut()) {
        if d.kind == DeviceKind::Disk && unready.contains(&d.path) {
            v.ready = false;
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::inventory::GptInfo;
    use crate::disk::label::PartitionName;
    use cephboot_ffi::blkid::Signature;
    use std::path::PathBuf;

    fn disk(name: &str) -> Device {
        Device::test_disk(name)
    }

    fn part(disk_name: &str, n: u32, name: &str) -> Device {
        let mut d = disk(&crate::disk::inventory::partition_node_name(disk_name, n));
        d.kind = DeviceKind::Partition;
        d.parent = Some(PathBuf::from(format!("/dev/{disk_name}")));
        d.partition_number = Some(n);
        d.table = None;
        d.gpt = Some(GptInfo {
            name: PartitionName::encode(name).unwrap(),
            unique_guid: uuid::Uuid::nil(),
            type_guid: uuid::Uuid::nil(),
        });
        d
    }

    fn gpt_disk(name: &str) -> Device {
        let mut d = disk(name);
        d.table = Some(TableInfo::Gpt {
            header_used: crate::disk::gpt::HeaderUsed::Primary,
            other_header_valid: true,
        });
        d
    }

    fn fs(kind: &str, label: &[u8]) -> Signature {
        Signature {
            kind: kind.into(),
            usage: "filesystem".into(),
            label_raw: Some(label.to_vec()),
            magic_offset: Some(3),
            ..Default::default()
        }
    }

    fn run(devices: Vec<Device>) -> Vec<Verdict> {
        classify(&Snapshot { devices }, &LabelGrammar::default())
    }

    #[test]
    fn blank_disk_is_free() {
        let v = run(vec![disk("sdb")]);
        assert_eq!(v[0].state, State::Free);
        assert!(v[0].ready);
    }

    #[test]
    fn stale_windows_label_in_bootstrap_partition_stays_bootstrap_with_a_reason() {
        let mut p = part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
        p.signatures.push(fs("ntfs", "新加卷".as_bytes()));
        let v = run(vec![gpt_disk("sdb"), p]);
        assert_eq!(v[1].state, State::Bootstrap);
        assert_eq!(v[1].role, Some(Role::Bluestore));
        assert!(v[1].ready);
        assert!(
            v[1].reasons
                .iter()
                .any(|r| r.contains("ntfs") && r.contains("新加卷") && r.contains("wiped")),
            "{:?}",
            v[1].reasons
        );
        assert_eq!(v[0].state, State::Bootstrap);
    }

    #[test]
    fn one_unreadable_device_does_not_hide_the_others() {
        let mut bad = disk("sdc");
        bad.errors
            .push("cannot open /dev/sdc: Input/output error".into());
        let v = run(vec![
            bad,
            gpt_disk("sdb"),
            part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP"),
        ]);
        assert_eq!(v[0].state, State::Error);
        assert_eq!(v[2].state, State::Bootstrap);
        assert_eq!(v[2].role, Some(Role::FilestoreData));
    }

    #[test]
    fn external_journal_partner_is_found_by_label_not_by_number() {
        // Data on sdb, journal as partition 12 of a shared SSD.
        let v = run(vec![
            gpt_disk("sdb"),
            part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_7"),
            gpt_disk("nvme0n1"),
            part("nvme0n1", 12, "KOLLA_CEPH_OSD_BOOTSTRAP_7_J"),
        ]);
        assert_eq!(v[1].group.as_deref(), Some("KOLLA_CEPH_OSD_BOOTSTRAP_7"));
        assert_eq!(v[3].group.as_deref(), Some("KOLLA_CEPH_OSD_BOOTSTRAP_7"));
        assert_eq!(v[3].role, Some(Role::FilestoreJournal));
        assert!(v[1].ready && v[3].ready, "{:?} {:?}", v[1], v[3]);
    }

    #[test]
    fn missing_journal_is_a_reason_not_a_silent_drop() {
        let v = run(vec![
            gpt_disk("sdb"),
            part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_7"),
        ]);
        assert_eq!(v[1].state, State::Bootstrap);
        assert!(!v[1].ready);
        assert!(
            v[1].reasons
                .iter()
                .any(|r| r.contains("KOLLA_CEPH_OSD_BOOTSTRAP_7_J")),
            "{:?}",
            v[1].reasons
        );
        assert!(!v[0].ready, "the disk is not ready either");
    }

    #[test]
    fn db_without_main_device_and_duplicates_are_reported() {
        let v = run(vec![
            gpt_disk("sdb"),
            part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_A_D"),
            part("sdb", 2, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_B"),
            gpt_disk("sdc"),
            part("sdc", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_B"),
        ]);
        assert!(
            v[1].reasons
                .iter()
                .any(|r| r.contains("KOLLA_CEPH_OSD_BOOTSTRAP_BS_A was found")),
            "{:?}",
            v[1].reasons
        );
        assert!(
            v[2].reasons.iter().any(|r| r.contains("2 devices carry")),
            "{:?}",
            v[2].reasons
        );
        assert!(!v[4].ready);
    }

    #[test]
    fn mounted_partition_makes_disk_in_use() {
        let mut p = part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
        p.mountpoints.push("/mnt/old".into());
        let v = run(vec![gpt_disk("sdb"), p]);
        assert_eq!(v[1].state, State::InUse);
        assert_eq!(v[0].state, State::InUse);
        assert!(v[0].reasons.iter().any(|r| r.contains("/mnt/old")));
        assert!(!v[0].ready);
    }

    #[test]
    fn holders_swap_and_read_only_are_in_use() {
        let mut a = disk("sda");
        a.holders.push("dm-0".into());
        let mut b = disk("sdb");
        b.swap = true;
        let mut c = disk("sdc");
        c.read_only = true;
        let v = run(vec![a, b, c]);
        assert!(v.iter().all(|v| v.state == State::InUse));
        assert!(v[0].reasons[0].contains("dm-0"));
    }

    #[test]
    fn prepared_partitions_name_their_osd() {
        let v = run(vec![
            gpt_disk("sdb"),
            part("sdb", 1, "KOLLA_CEPH_DATA_BS_4"),
            part("sdb", 2, "KOLLA_CEPH_DATA_BS_4_W"),
        ]);
        assert_eq!(v[0].state, State::Prepared);
        assert_eq!(v[0].osd_id, Some(4));
        assert_eq!(v[2].role, Some(Role::BluestoreWal));
        assert_eq!(v[2].group.as_deref(), Some("osd.4"));
    }

    #[test]
    fn whole_device_fs_label_is_a_bootstrap_label() {
        let mut d = disk("sdd");
        d.signatures.push(fs("xfs", b"KOLLA_CEPH_OSD_BOOTSTRAP_BS"));
        let v = run(vec![d]);
        assert_eq!(v[0].state, State::Bootstrap);
        assert_eq!(v[0].role, Some(Role::Bluestore));
    }

    #[test]
    fn foreign_filesystem_and_near_miss_labels_are_foreign_with_reasons() {
        let mut d = disk("sde");
        d.signatures
            .push(fs("ntfs", &[0xd0, 0xc2, 0xbc, 0xd3, 0xbe, 0xed]));
        let v = run(vec![
            d,
            gpt_disk("sdf"),
            part("sdf", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_1_J"),
        ]);
        assert_eq!(v[0].state, State::Foreign);
        assert!(v[0].reasons[0].contains("ntfs") && v[0].reasons[0].contains("\\xd0"));
        assert_eq!(v[2].state, State::Foreign);
        assert!(v[2].reasons[0].contains("does not match the grammar"));
        assert_eq!(v[1].state, State::Foreign);
    }

    #[test]
    fn backup_gpt_in_use_is_mentioned() {
        let mut d = disk("sdb");
        d.table = Some(TableInfo::Gpt {
            header_used: crate::disk::gpt::HeaderUsed::Backup,
            other_header_valid: false,
        });
        let v = run(vec![d, part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS")]);
        assert!(v[0].reasons.iter().any(|r| r.contains("backup GPT")));
    }

    #[test]
    fn custom_prefix_ignores_kolla_labels() {
        let g = LabelGrammar::new("SITE").unwrap();
        let v = classify(
            &Snapshot {
                devices: vec![
                    gpt_disk("sdb"),
                    part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS"),
                ],
            },
            &g,
        );
        assert_eq!(v[1].state, State::Free);
    }
}
