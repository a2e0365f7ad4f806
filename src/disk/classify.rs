//! Pure classification: a [`Snapshot`] in, a verdict per device out, each paired with its
//! device and carrying the reasons a person needs to trust it. No I/O; every rule is
//! unit-tested on plain data.
//!
//! States: `free` (nothing on it), `bootstrap` (labelled for preparation), `prepared` (an OSD's
//! partition), `in_use` (mounted, held, swap, read-only), `foreign` (holds something that is
//! not ours), `error` (could not be read). Partitions of one OSD are grouped across disks by
//! their label's group token, and a missing partner is a reason on the device that has one,
//! never a silent drop. Each state is a [`Status`] variant with exactly the facts that state
//! has; each reason is a [`Reason`] that renders to the words users see.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::busy::Busy;
use super::inventory::{Device, DeviceKind, Snapshot, TableInfo};
use super::label::{FsLabel, Label, LabelGrammar, Role, Store};
use crate::disk::gpt::HeaderUsed;

/// A device's state, as named in JSON and tables.
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

/// The OSD group of a bootstrap device: the base label its members share and the token that
/// makes it (`KOLLA_CEPH_OSD_BOOTSTRAP_BS_1` and `1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    /// The main device's bootstrap label for this group.
    pub label: String,
    /// The group token.
    pub token: String,
}

/// What a device's label claims it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Labelled for preparation, with its OSD group when the label has a token.
    Bootstrap {
        /// Its role.
        role: Role,
        /// Its group.
        group: Option<Group>,
    },
    /// A partition of a prepared OSD.
    Osd {
        /// Its role.
        role: Role,
        /// The OSD's id.
        osd_id: u32,
    },
}

impl Claim {
    fn of(label: Label, grammar: &LabelGrammar) -> Claim {
        match label {
            Label::Bootstrap { role, group } => Claim::Bootstrap {
                role,
                group: group.map(|token| Group {
                    label: grammar.bootstrap(primary_role(role.store()), Some(&token)),
                    token,
                }),
            },
            Label::Prepared { role, osd_id } => Claim::Osd { role, osd_id },
        }
    }
}

/// A device's state with the facts that state has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing on it.
    Free,
    /// Labelled for preparation; `ready` is false when it cannot be prepared as it is (a
    /// missing partner, a duplicate label).
    Bootstrap {
        /// Its role (a disk: its main partition's).
        role: Role,
        /// Its OSD group.
        group: Option<Group>,
        /// Whether it can be prepared as it is.
        ready: bool,
    },
    /// Part of a prepared OSD (a disk: the OSD of its main partition).
    Prepared {
        /// Its role.
        role: Role,
        /// The OSD's id.
        osd_id: u32,
    },
    /// Never touched: each reason names its device (a disk lists its partitions' too). A
    /// labelled partition keeps what its label claims (a running filestore OSD's data
    /// partition is mounted).
    InUse {
        /// Why.
        busy: Vec<Busy>,
        /// What its label claims.
        claim: Option<Claim>,
    },
    /// Holds data that is not ours; the reasons say what.
    Foreign,
    /// Could not be read.
    Error {
        /// The read errors.
        errors: Vec<String>,
        /// What its label claims.
        claim: Option<Claim>,
    },
}

/// A signature as discovery names it: `an ntfs signature labelled "新加卷"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureName {
    /// libblkid's type name (empty: unknown).
    pub kind: String,
    /// Its label, for display.
    pub label: Option<String>,
}

impl SignatureName {
    fn of(sig: &cephboot_ffi::blkid::Signature) -> Self {
        SignatureName {
            kind: sig.kind.clone(),
            label: sig
                .label
                .as_ref()
                .or(sig.label_raw.as_ref())
                .filter(|l| !l.is_empty())
                .map(|l| FsLabel::from_bytes(l).to_display()),
        }
    }
}

impl fmt::Display for SignatureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.kind.is_empty() {
            "unknown"
        } else {
            &self.kind
        };
        write!(f, "a {kind} signature")?;
        match &self.label {
            Some(l) => write!(f, " labelled \"{l}\""),
            None => Ok(()),
        }
    }
}

/// One reason of a verdict; `Display` gives the words `disks list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A partition with nothing on it.
    EmptyPartition,
    /// A partition name close to the grammar but not in it.
    NearMissName {
        /// The name.
        name: String,
        /// The grammar's prefix.
        prefix: String,
        /// Two labels that would match.
        examples: [String; 2],
    },
    /// A whole-device label close to the grammar but not in it.
    NearMissLabel {
        /// The label.
        label: String,
        /// The grammar's prefix.
        prefix: String,
    },
    /// A signature that is not ours.
    Holds(SignatureName),
    /// A bootstrap partition name, and a stale signature its preparation wipes.
    BootstrapLabel {
        /// The name.
        label: String,
        /// The stale signature.
        stale: Option<SignatureName>,
    },
    /// A partition of a prepared OSD.
    PartOfOsd {
        /// Its role.
        role: Role,
        /// The OSD's id.
        osd_id: u32,
    },
    /// A partition in the on-disk table the kernel has no node for.
    NotInKernel,
    /// The kernel's view of a partition differs from the table.
    KernelMismatch(String),
    /// A disk of size 0.
    NoMedia,
    /// The primary GPT is corrupt (the backup was read).
    PrimaryGptCorrupt,
    /// The backup GPT is missing or corrupt.
    BackupGptBad,
    /// A disk with partitions of these OSDs.
    HoldsPartitionsOf(Vec<u32>),
    /// A disk whose partition carries a bootstrap label.
    BootstrapPartition(PathBuf),
    /// Another partition of a bootstrap disk holds data: erased only with `--wipe`.
    SiblingHoldsData {
        /// The partition.
        path: PathBuf,
        /// Its first reason.
        why: Option<Box<Reason>>,
    },
    /// Another partition of a bootstrap disk is empty: erased with the disk.
    SiblingErased {
        /// The partition.
        path: PathBuf,
        /// Its first reason.
        why: Option<Box<Reason>>,
    },
    /// A whole-device filesystem label that is a bootstrap label.
    WholeDeviceBootstrap {
        /// The filesystem type.
        fs: String,
        /// The label.
        label: String,
    },
    /// A whole-device label of a prepared OSD.
    WholeDeviceOsd(u32),
    /// A partition table that cannot be read.
    CorruptTable(String),
    /// A partition table none of whose partitions is labelled for Ceph.
    TableWithoutCeph {
        /// `an MBR` or `a GPT`.
        kind: &'static str,
        /// How many partitions it has.
        partitions: usize,
    },
    /// No table and no signature.
    Blank,
    /// The group has no main device (or data partition).
    MissingPrimary {
        /// The label that is missing.
        label: String,
        /// The group's store.
        store: Store,
    },
    /// A filestore group without its external journal.
    MissingJournal {
        /// The label that is missing.
        label: String,
    },
    /// Several devices carry one label of the group.
    DuplicateLabel {
        /// How many.
        count: usize,
        /// The role.
        role: Role,
        /// The label.
        label: String,
    },
}

fn first_reason(why: &Option<Box<Reason>>) -> String {
    why.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::EmptyPartition => write!(f, "empty partition"),
            Reason::NearMissName { name, prefix, examples: [a, b] } => write!(f, "name \"{name}\" looks like a {prefix} label but does not match the grammar (e.g. {a} or {b})"),
            Reason::NearMissLabel { label, prefix } => write!(f, "label \"{label}\" looks like a {prefix} label but does not match the grammar"),
            Reason::Holds(sig) => write!(f, "holds {sig}"),
            Reason::BootstrapLabel { label, stale: Some(sig) } => write!(f, "bootstrap label \"{label}\"; holds {sig} that will be wiped when prepared"),
            Reason::BootstrapLabel { label, stale: None } => write!(f, "bootstrap label \"{label}\""),
            Reason::PartOfOsd { role, osd_id } => write!(f, "{} of osd.{osd_id}", role.as_str()),
            Reason::NotInKernel => write!(f, "in the on-disk table but not yet known to the kernel"),
            Reason::KernelMismatch(m) => write!(f, "{m} (the next zap or prepare re-syncs the kernel)"),
            Reason::NoMedia => write!(f, "size 0: no media or not attached"),
            Reason::PrimaryGptCorrupt => write!(f, "primary GPT is corrupt; partitions read from the backup GPT"),
            Reason::BackupGptBad => write!(f, "backup GPT is missing or corrupt"),
            Reason::HoldsPartitionsOf(ids) => {
                let ids: Vec<String> = ids.iter().map(|i| format!("osd.{i}")).collect();
                write!(f, "holds partitions of {}", ids.join(", "))
            }
            Reason::BootstrapPartition(p) => write!(f, "partition {} carries a bootstrap label", p.display()),
            Reason::SiblingHoldsData { path, why } => write!(f, "other partition {} ({}) is not labelled for Ceph: `osd prepare` erases it only with --wipe", path.display(), first_reason(why)),
            Reason::SiblingErased { path, why } => write!(f, "other partition {} ({}) will be erased when this disk is prepared, unless it holds data (then only with --wipe)", path.display(), first_reason(why)),
            Reason::WholeDeviceBootstrap { fs, label } => write!(f, "whole-device {fs} label \"{label}\""),
            Reason::WholeDeviceOsd(id) => write!(f, "whole-device label of osd.{id}"),
            Reason::CorruptTable(msg) => write!(f, "corrupt partition table: {msg}"),
            Reason::TableWithoutCeph { kind, partitions: 0 } => write!(f, "{kind} partition table with no partitions"),
            Reason::TableWithoutCeph { kind, partitions } => write!(f, "{kind} partition table with {partitions} partition(s), none labelled for Ceph"),
            Reason::Blank => write!(f, "no partition table and no signatures"),
            Reason::MissingPrimary { label, store } => write!(f, "no partition labelled {label} was found: this OSD's {} is missing", if *store == Store::Bluestore { "main device" } else { "data partition" }),
            Reason::MissingJournal { label } => write!(f, "no partition labelled {label} was found: this OSD's external journal is missing"),
            Reason::DuplicateLabel { count, role, label } => write!(f, "{count} devices carry the {} label {label}", role.as_str()),
        }
    }
}

/// The verdict for one device: its status and the reasons beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The state and its facts.
    pub status: Status,
    /// Further reasons (the busy list and read errors are in the status).
    pub reasons: Vec<Reason>,
}

impl Verdict {
    fn new(status: Status, reasons: Vec<Reason>) -> Self {
        Verdict { status, reasons }
    }

    /// The state's name.
    pub fn state(&self) -> State {
        match self.status {
            Status::Free => State::Free,
            Status::Bootstrap { .. } => State::Bootstrap,
            Status::Prepared { .. } => State::Prepared,
            Status::InUse { .. } => State::InUse,
            Status::Foreign => State::Foreign,
            Status::Error { .. } => State::Error,
        }
    }

    /// What the device's label claims, whatever its state.
    pub fn claim(&self) -> Option<Claim> {
        match &self.status {
            Status::Bootstrap { role, group, .. } => Some(Claim::Bootstrap {
                role: *role,
                group: group.clone(),
            }),
            Status::Prepared { role, osd_id } => Some(Claim::Osd {
                role: *role,
                osd_id: *osd_id,
            }),
            Status::InUse { claim, .. } | Status::Error { claim, .. } => claim.clone(),
            Status::Free | Status::Foreign => None,
        }
    }

    /// Role within an OSD (bootstrap and prepared devices, and labelled ones in use).
    pub fn role(&self) -> Option<Role> {
        self.claim().map(|c| match c {
            Claim::Bootstrap { role, .. } | Claim::Osd { role, .. } => role,
        })
    }

    /// The OSD id (prepared devices, and labelled ones in use).
    pub fn osd_id(&self) -> Option<u32> {
        match self.claim() {
            Some(Claim::Osd { osd_id, .. }) => Some(osd_id),
            _ => None,
        }
    }

    /// The OSD group as shown: the base bootstrap label, or `osd.<id>`.
    pub fn group(&self) -> Option<String> {
        match self.claim()? {
            Claim::Bootstrap { group, .. } => group.map(|g| g.label),
            Claim::Osd { osd_id, .. } => Some(format!("osd.{osd_id}")),
        }
    }

    /// Every reason, rendered: the busy list or read errors first.
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = match &self.status {
            Status::InUse { busy, .. } => busy.iter().map(ToString::to_string).collect(),
            Status::Error { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        out.extend(self.reasons.iter().map(ToString::to_string));
        out
    }
}

/// A device and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified<'a> {
    /// The device as discovered.
    pub device: &'a Device,
    /// What it is.
    pub verdict: Verdict,
}

impl Classified<'_> {
    /// Whether it can be prepared as it is: a ready bootstrap device, or a free disk.
    pub fn ready(&self) -> bool {
        match self.verdict.status {
            Status::Bootstrap { ready, .. } => ready,
            Status::Free => self.device.kind == DeviceKind::Disk,
            _ => false,
        }
    }

    /// Its state's name.
    pub fn state(&self) -> State {
        self.verdict.state()
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

fn classify_partition(d: &Device, grammar: &LabelGrammar) -> Verdict {
    let label = label_text(d);
    let claim = label
        .as_deref()
        .and_then(|l| grammar.parse(l))
        .map(|l| Claim::of(l, grammar));
    let busy = Busy::of(d);
    let mut reasons = Vec::new();
    let status = if !d.errors.is_empty() {
        Status::Error {
            errors: d.errors.clone(),
            claim,
        }
    } else if !busy.is_empty() {
        Status::InUse { busy, claim }
    } else {
        match claim {
            Some(Claim::Bootstrap { role, group }) => {
                reasons.push(Reason::BootstrapLabel {
                    label: label.unwrap_or_default(),
                    stale: d.filesystem().map(SignatureName::of),
                });
                Status::Bootstrap {
                    role,
                    group,
                    ready: true,
                }
            }
            Some(Claim::Osd { role, osd_id }) => {
                reasons.push(Reason::PartOfOsd { role, osd_id });
                Status::Prepared { role, osd_id }
            }
            None => {
                if let Some(l) = label.filter(|l| grammar.is_near_miss(l)) {
                    reasons.push(Reason::NearMissName {
                        name: l,
                        prefix: grammar.prefix().to_string(),
                        examples: [
                            grammar.bootstrap(Role::Bluestore, None),
                            grammar.bootstrap(Role::FilestoreData, None),
                        ],
                    });
                    Status::Foreign
                } else if let Some(sig) = d.filesystem() {
                    reasons.push(Reason::Holds(SignatureName::of(sig)));
                    Status::Foreign
                } else {
                    reasons.push(Reason::EmptyPartition);
                    Status::Free
                }
            }
        }
    };
    if !d.in_kernel {
        reasons.push(Reason::NotInKernel);
    }
    if let Some(m) = &d.kernel_mismatch {
        reasons.push(Reason::KernelMismatch(m.clone()));
    }
    Verdict::new(status, reasons)
}

fn primary_role(store: Store) -> Role {
    match store {
        Store::Bluestore => Role::Bluestore,
        Store::Filestore => Role::FilestoreData,
    }
}

/// Notes about a disk's GPT copies.
fn table_notes(d: &Device) -> Vec<Reason> {
    match &d.table {
        Some(TableInfo::Gpt {
            header_used: HeaderUsed::Backup,
            ..
        }) => vec![Reason::PrimaryGptCorrupt],
        Some(TableInfo::Gpt {
            other_header_valid: false,
            ..
        }) => vec![Reason::BackupGptBad],
        _ => Vec::new(),
    }
}

fn classify_disk(d: &Device, parts: &[&Classified<'_>], grammar: &LabelGrammar) -> Verdict {
    if !d.errors.is_empty() {
        let errors = d.errors.clone();
        return Verdict::new(
            Status::Error {
                errors,
                claim: None,
            },
            Vec::new(),
        );
    }
    let mut busy = Busy::of(d);
    for p in parts {
        match &p.verdict.status {
            Status::InUse { busy: theirs, .. } => busy.extend(theirs.iter().cloned()),
            Status::Error { .. } => busy.push(Busy::Unreadable {
                device: p.device.path.clone(),
            }),
            _ => {}
        }
    }
    if !busy.is_empty() {
        return Verdict::new(Status::InUse { busy, claim: None }, Vec::new());
    }
    if d.size_bytes == 0 {
        return Verdict::new(Status::Foreign, vec![Reason::NoMedia]);
    }
    let notes = table_notes(d);
    // A prepared partition makes the disk prepared; a bootstrap one makes it bootstrap.
    let primary_of = |state: State| {
        parts
            .iter()
            .find(|p| p.state() == state && p.verdict.role().is_some_and(Role::is_primary))
            .or_else(|| parts.iter().find(|p| p.state() == state))
    };
    if let Some(Status::Prepared { role, osd_id }) =
        primary_of(State::Prepared).map(|p| &p.verdict.status)
    {
        let mut ids: Vec<u32> = parts.iter().filter_map(|p| p.verdict.osd_id()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut reasons = vec![Reason::HoldsPartitionsOf(ids)];
        reasons.extend(notes);
        let (role, osd_id) = (*role, *osd_id);
        return Verdict::new(Status::Prepared { role, osd_id }, reasons);
    }
    if let Some(p) = primary_of(State::Bootstrap) {
        if let Status::Bootstrap { role, group, .. } = &p.verdict.status {
            let mut reasons = vec![Reason::BootstrapPartition(p.device.path.clone())];
            if role.is_primary() {
                reasons.extend(sibling_notes(parts, p));
            }
            reasons.extend(notes);
            let status = Status::Bootstrap {
                role: *role,
                group: group.clone(),
                ready: true,
            };
            return Verdict::new(status, reasons);
        }
    }
    classify_unclaimed(d, parts, grammar, notes)
}

/// What preparing a bootstrap disk does to its other partitions.
fn sibling_notes(parts: &[&Classified<'_>], main: &Classified<'_>) -> Vec<Reason> {
    let first = |o: &Classified<'_>| o.verdict.reasons.first().cloned().map(Box::new);
    parts
        .iter()
        .filter_map(|o| match o.verdict.status {
            Status::Foreign => Some(Reason::SiblingHoldsData {
                path: o.device.path.clone(),
                why: first(o),
            }),
            Status::Free if o.device.path != main.device.path => Some(Reason::SiblingErased {
                path: o.device.path.clone(),
                why: first(o),
            }),
            _ => None,
        })
        .collect()
}

/// A disk no partition speaks for: a whole-device label, a table, or signatures.
fn classify_unclaimed(
    d: &Device,
    parts: &[&Classified<'_>],
    grammar: &LabelGrammar,
    notes: Vec<Reason>,
) -> Verdict {
    let whole_label = if matches!(d.table, Some(TableInfo::None) | None) {
        label_text(d)
    } else {
        None
    };
    let claim = whole_label
        .as_deref()
        .and_then(|l| grammar.parse(l))
        .map(|l| Claim::of(l, grammar));
    match claim {
        Some(Claim::Bootstrap { role, group }) => {
            let fs = d.filesystem().map_or("filesystem", |s| s.kind.as_str());
            let reason = Reason::WholeDeviceBootstrap {
                fs: fs.to_string(),
                label: whole_label.unwrap_or_default(),
            };
            let status = Status::Bootstrap {
                role,
                group,
                ready: true,
            };
            return Verdict::new(status, vec![reason]);
        }
        Some(Claim::Osd { role, osd_id }) => {
            let reasons = vec![Reason::WholeDeviceOsd(osd_id)];
            return Verdict::new(Status::Prepared { role, osd_id }, reasons);
        }
        None => {}
    }
    let mut reasons = Vec::new();
    if let Some(l) = whole_label.filter(|l| grammar.is_near_miss(l)) {
        let prefix = grammar.prefix().to_string();
        reasons.push(Reason::NearMissLabel { label: l, prefix });
    }
    match &d.table {
        Some(TableInfo::Corrupt(msg)) => reasons.push(Reason::CorruptTable(msg.clone())),
        Some(TableInfo::Mbr) => reasons.push(Reason::TableWithoutCeph {
            kind: "an MBR",
            partitions: parts.len(),
        }),
        Some(TableInfo::Gpt { .. }) => reasons.push(Reason::TableWithoutCeph {
            kind: "a GPT",
            partitions: parts.len(),
        }),
        _ => {}
    }
    if let Some(sig) = d.filesystem() {
        reasons.push(Reason::Holds(SignatureName::of(sig)));
    }
    let status = if reasons.is_empty() {
        reasons.push(Reason::Blank);
        Status::Free
    } else {
        Status::Foreign
    };
    reasons.extend(notes);
    Verdict::new(status, reasons)
}

/// What is wrong with one OSD group's members, from their roles.
fn group_problems(group: &Group, roles: &[Role], grammar: &LabelGrammar) -> Vec<Reason> {
    let Some(store) = roles.first().map(|r| r.store()) else {
        return Vec::new();
    };
    let token = Some(group.token.as_str());
    let mut problems = Vec::new();
    let primary = primary_role(store);
    if !roles.contains(&primary) {
        let label = grammar.bootstrap(primary, token);
        problems.push(Reason::MissingPrimary { label, store });
    }
    if store == Store::Filestore && !roles.contains(&Role::FilestoreJournal) {
        let label = grammar.bootstrap(Role::FilestoreJournal, token);
        problems.push(Reason::MissingJournal { label });
    }
    for role in [
        primary,
        Role::FilestoreJournal,
        Role::BluestoreBlock,
        Role::BluestoreDb,
        Role::BluestoreWal,
    ] {
        let count = roles.iter().filter(|&&x| x == role).count();
        if count > 1 {
            let label = grammar.bootstrap(role, token);
            problems.push(Reason::DuplicateLabel { count, role, label });
        }
    }
    problems
}

/// Marks missing partners and duplicates within each OSD group. Members are bootstrap
/// partitions and bootstrap disks without partitions (whole-device labels).
fn check_groups(snapshot: &Snapshot, classified: &mut [Classified<'_>], grammar: &LabelGrammar) {
    let mut groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (i, c) in classified.iter().enumerate() {
        let d = c.device;
        let member =
            d.kind == DeviceKind::Partition || snapshot.partitions_of(&d.path).next().is_none();
        if let (true, Status::Bootstrap { group: Some(g), .. }) = (member, &c.verdict.status) {
            groups.entry(g.clone()).or_default().push(i);
        }
    }
    for (group, members) in groups {
        let roles: Vec<Role> = members
            .iter()
            .filter_map(|&i| classified.get(i).and_then(|c| c.verdict.role()))
            .collect();
        let problems = group_problems(&group, &roles, grammar);
        if problems.is_empty() {
            continue;
        }
        for &i in &members {
            let Some(c) = classified.get_mut(i) else {
                continue;
            };
            if let Status::Bootstrap { ready, .. } = &mut c.verdict.status {
                *ready = false;
            }
            c.verdict.reasons.extend(problems.iter().cloned());
        }
    }
}

/// Classifies every device of the snapshot, each paired with its device, in the snapshot's
/// order.
pub fn classify<'a>(snapshot: &'a Snapshot, grammar: &LabelGrammar) -> Vec<Classified<'a>> {
    // 1. Partitions on their own (disks are judged in step 2).
    let mut classified: Vec<Classified<'a>> = snapshot
        .devices
        .iter()
        .map(|device| Classified {
            device,
            verdict: match device.kind {
                DeviceKind::Partition => classify_partition(device, grammar),
                DeviceKind::Disk => Verdict::new(Status::Free, Vec::new()),
            },
        })
        .collect();
    // 2. Disks, from their own facts and their partitions' verdicts.
    for i in 0..classified.len() {
        let Some(d) = classified.get(i).map(|c| c.device) else {
            continue;
        };
        if d.kind != DeviceKind::Disk {
            continue;
        }
        let parts: Vec<&Classified<'a>> = classified
            .iter()
            .filter(|p| p.device.parent.as_deref() == Some(d.path.as_path()))
            .collect();
        let verdict = classify_disk(d, &parts, grammar);
        if let Some(slot) = classified.get_mut(i) {
            slot.verdict = verdict;
        }
    }
    // 3. Partners within each OSD group, across disks.
    check_groups(snapshot, &mut classified, grammar);
    // 4. A disk is ready only when its bootstrap partitions are.
    let unready: Vec<PathBuf> = classified
        .iter()
        .filter(|c| c.state() == State::Bootstrap && !c.ready())
        .filter_map(|c| c.device.parent.clone())
        .collect();
    for c in classified.iter_mut() {
        if c.device.kind == DeviceKind::Disk && unready.contains(&c.device.path) {
            if let Status::Bootstrap { ready, .. } = &mut c.verdict.status {
                *ready = false;
            }
        }
    }
    classified
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

    /// What a user sees of each verdict (`disks list`'s fields).
    #[derive(Debug)]
    struct Seen {
        state: State,
        role: Option<Role>,
        group: Option<String>,
        osd_id: Option<u32>,
        ready: bool,
        reasons: Vec<String>,
    }

    fn seen(c: &Classified<'_>) -> Seen {
        Seen {
            state: c.state(),
            role: c.verdict.role(),
            group: c.verdict.group(),
            osd_id: c.verdict.osd_id(),
            ready: c.ready(),
            reasons: c.verdict.reasons(),
        }
    }

    fn run_with(devices: Vec<Device>, grammar: &LabelGrammar) -> Vec<Seen> {
        let snapshot = Snapshot { devices };
        let out = classify(&snapshot, grammar);
        assert!(
            out.iter()
                .zip(&snapshot.devices)
                .all(|(c, d)| c.device == d),
            "each verdict is paired with its own device, in order"
        );
        out.iter().map(seen).collect()
    }

    fn run(devices: Vec<Device>) -> Vec<Seen> {
        run_with(devices, &LabelGrammar::default())
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
        let v = run_with(
            vec![
                gpt_disk("sdb"),
                part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS"),
            ],
            &g,
        );
        assert_eq!(v[1].state, State::Free);
    }

    #[test]
    fn a_running_filestore_osd_keeps_its_claim_while_mounted() {
        let mut p = part("sdb", 1, "KOLLA_CEPH_DATA_3");
        p.mountpoints.push("/var/lib/ceph/osd/ceph-3".into());
        let snapshot = Snapshot {
            devices: vec![gpt_disk("sdb"), p],
        };
        let c = classify(&snapshot, &LabelGrammar::default());
        let busy = vec![Busy::Mounted {
            device: "/dev/sdb1".into(),
            at: "/var/lib/ceph/osd/ceph-3".into(),
        }];
        let claim = Some(Claim::Osd {
            role: Role::FilestoreData,
            osd_id: 3,
        });
        assert_eq!(c[1].verdict.status, Status::InUse { busy, claim });
        assert_eq!(
            c[1].verdict.osd_id(),
            Some(3),
            "activation finds it by its id"
        );
        assert_eq!(c[0].state(), State::InUse);
    }

    #[test]
    fn bootstrap_groups_carry_their_token_typed() {
        let snapshot = Snapshot {
            devices: vec![
                gpt_disk("sdb"),
                part("sdb", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_A1"),
                gpt_disk("sdc"),
                part("sdc", 1, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_A1_D"),
            ],
        };
        let c = classify(&snapshot, &LabelGrammar::default());
        let group = Some(Group {
            label: "KOLLA_CEPH_OSD_BOOTSTRAP_BS_A1".into(),
            token: "A1".into(),
        });
        for (i, role) in [(1, Role::Bluestore), (3, Role::BluestoreDb)] {
            assert_eq!(
                c[i].verdict.status,
                Status::Bootstrap {
                    role,
                    group: group.clone(),
                    ready: true
                }
            );
        }
    }

    #[test]
    fn discovery_and_the_guards_describe_in_use_with_the_same_words() {
        let mut d = disk("sdb");
        d.holders.push("dm-3".into());
        d.mountpoints.push("/boot".into());
        let v = run(vec![d.clone()]);
        let facts = crate::disk::guard::Facts {
            devices: vec![d],
            ..Default::default()
        };
        let refused: Vec<String> = crate::disk::guard::judge(&facts, None, false)
            .iter()
            .map(|r| format!("{} {}", r.device.display(), r.reason))
            .collect();
        assert_eq!(v[0].reasons, refused);
        assert_eq!(
            refused,
            [
                "/dev/sdb holds the system's /boot filesystem",
                "/dev/sdb is in use by dm-3 (device-mapper, md RAID or LVM)"
            ]
        );
    }

    #[test]
    fn an_unreadable_partition_makes_its_disk_in_use_and_says_which() {
        let mut p = part("sdb", 2, "");
        p.errors.push("read error at 4096".into());
        let v = run(vec![gpt_disk("sdb"), part("sdb", 1, "x"), p]);
        assert_eq!(v[2].state, State::Error);
        assert_eq!(v[2].reasons, ["read error at 4096"]);
        assert_eq!(v[0].state, State::InUse);
        assert_eq!(v[0].reasons, ["/dev/sdb2 could not be read"]);
        assert!(!v[0].ready);
    }
}
