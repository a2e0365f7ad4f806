//! Planning `osd prepare`, a pure function of the inventory snapshot, the verdicts and the
//! request: which disks are rewritten with which partitions, which existing partitions are
//! reused for journal/db/wal, whether an interrupted earlier run must be cleaned up first,
//! and which devices are refused or already prepared. Nothing is written here; a plan that
//! does not fit is refused before any write.

use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::disk::classify::{State, Verdict};
use crate::disk::inventory::{Device, DeviceKind, Snapshot};
use crate::disk::label::{Label, LabelGrammar, Role, Store};
use crate::disk::table::{self, PartitionRequest, Size};
use crate::disk::types;

/// Smallest BlueStore main device cephboot creates.
pub const MIN_BLUESTORE: u64 = 1 << 30;
/// Smallest FileStore data partition (mkfs.xfs refuses less than 300 MB).
pub const MIN_FILESTORE_DATA: u64 = 320 << 20;

/// The request, already resolved to kernel names.
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    /// Main disks named on the command line (kernel names).
    pub disks: Vec<String>,
    /// Also every ready disk carrying a bootstrap label.
    pub all_bootstrap: bool,
    /// Object store for named disks without a label (and a check for labelled ones).
    pub store: Option<Store>,
    /// External journal (filestore): a partition or a whole disk (kernel name).
    pub journal: Option<String>,
    /// External block.db (bluestore).
    pub db: Option<String>,
    /// External block.wal (bluestore).
    pub wal: Option<String>,
    /// Consent to destroy a named device that holds something (state `foreign`).
    pub wipe: bool,
    /// Colocated filestore journal size.
    pub journal_size: u64,
    /// block.wal size when it shares a disk with block.db.
    pub wal_size: u64,
}

/// A partition the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPartition {
    /// Its role.
    pub role: Role,
    /// Number in the new table.
    pub number: u32,
    /// Name while being prepared (a bootstrap label, so an interrupted run is recognised).
    pub label: String,
    /// Size in bytes, or `None` for the rest of the disk.
    pub size_bytes: Option<u64>,
}

/// A disk whose table is replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskWrite {
    /// Node.
    pub disk: PathBuf,
    /// Kernel name.
    #[serde(skip)]
    pub name: String,
    /// Size.
    pub size_bytes: u64,
    /// Logical sector size.
    #[serde(skip)]
    pub sector_size: u64,
    /// Partitions, in number order.
    pub partitions: Vec<NewPartition>,
}

impl DiskWrite {
    /// The table requests for this disk; the first partition of the main disk gets `main_uuid`
    /// as PARTUUID (the OSD uuid) via the caller's guid source.
    pub fn requests(&self) -> Vec<PartitionRequest> {
        self.partitions
            .iter()
            .map(|p| PartitionRequest {
                number: p.number,
                name: p.label.clone(),
                type_guid: types::preparing_type(p.role),
                size: p.size_bytes.map_or(Size::Rest, Size::Bytes),
            })
            .collect()
    }
}

/// An existing partition reused in place (journal/db/wal on a shared device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reuse {
    /// The partition node.
    pub node: PathBuf,
    /// Its disk.
    pub disk: PathBuf,
    /// The disk's kernel name.
    #[serde(skip)]
    pub disk_name: String,
    /// Partition number.
    pub number: u32,
    /// Role it takes.
    pub role: Role,
    /// Offset in the disk.
    pub start_bytes: u64,
    /// Size.
    pub size_bytes: u64,
    /// Logical sector size of the disk.
    #[serde(skip)]
    pub sector_size: u64,
}

/// Everything one OSD's preparation will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsdPlan {
    /// Object store.
    pub store: Store,
    /// Group token used in the partition names while preparing.
    pub group: Option<String>,
    /// The main disk (first partition is the OSD's identity: its PARTUUID is the OSD uuid).
    pub main: DiskWrite,
    /// Further whole disks rewritten for this OSD (a dedicated db/wal/journal disk).
    pub extra_disks: Vec<DiskWrite>,
    /// Existing partitions reused in place.
    pub reuse: Vec<Reuse>,
    /// The OSD uuid of an interrupted earlier preparation, to clean up first.
    pub resume_osd_uuid: Option<Uuid>,
}

/// What will happen to one named (or labelled) device.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlanEntry {
    /// Prepare a new OSD.
    Prepare {
        /// The main disk.
        device: PathBuf,
        /// The plan.
        plan: Box<OsdPlan>,
    },
    /// Already prepared.
    Unchanged {
        /// The main disk.
        device: PathBuf,
        /// Its OSD.
        osd_id: Option<u32>,
    },
    /// Refused; nothing will be written to it.
    Refused {
        /// The device.
        device: PathBuf,
        /// Why, and what to do.
        reason: String,
        /// The refusal was a usage problem (exit 2) rather than a guard (exit 3).
        #[serde(skip)]
        usage: bool,
    },
}

struct Ctx<'a> {
    snap: &'a Snapshot,
    verdicts: &'a [Verdict],
    grammar: &'a LabelGrammar,
}

impl<'a> Ctx<'a> {
    fn by_name(&self, name: &str) -> Option<(&'a Device, &'a Verdict)> {
        self.snap
            .devices
            .iter()
            .zip(self.verdicts.iter())
            .find(|(d, _)| d.name == name)
    }
    fn by_path(&self, p: &Path) -> Option<(&'a Device, &'a Verdict)> {
        self.snap
            .devices
            .iter()
            .zip(self.verdicts.iter())
            .find(|(d, _)| d.path == p)
    }
    fn partitions(&self, disk: &'a Path) -> impl Iterator<Item = (&'a Device, &'a Verdict)> + 'a {
        self.snap
            .devices
            .iter()
            .zip(self.verdicts.iter())
            .filter(move |(d, _)| d.parent.as_deref() == Some(disk))
    }
    /// The primary (data / main) partition of a disk, if one carries a label.
    fn primary_partition(&self, disk: &'a Path) -> Option<(&'a Device, &'a Verdict)> {
        self.partitions(disk)
            .find(|(_, v)| v.role.is_some_and(Role::is_primary))
    }
    fn label_of(&self, d: &Device) -> Option<Label> {
        crate::disk::classify::label_text(d).and_then(|l| self.grammar.parse(&l))
    }
}

fn refused(device: &Path, reason: String) -> PlanEntry {
    PlanEntry::Refused {
        device: device.to_path_buf(),
        reason,
        usage: false,
    }
}

fn usage(device: &Path, reason: String) -> PlanEntry {
    PlanEntry::Refused {
        device: device.to_path_buf(),
        reason,
        usage: true,
    }
}

/// Plans every OSD of the request.
pub fn plan(
    snap: &Snapshot,
    verdicts: &[Verdict],
    grammar: &LabelGrammar,
    req: &PrepareRequest,
) -> Vec<PlanEntry> {
    let ctx = Ctx {
        snap,
        verdicts,
        grammar,
    };
    let mut mains: Vec<&Device> = Vec::new();
    let mut out = Vec::new();
    for name in &req.disks {
        match ctx.by_name(name) {
            Some((d, _)) if d.kind == DeviceKind::Disk => mains.push(d),
            Some((d, _)) => match d.parent.as_deref().and_then(|p| ctx.by_path(p)) {
                Some((disk, _)) if ctx.primary_partition(&disk.path).is_some_and(|(p, _)| p.path == d.path) => mains.push(disk),
                _ => out.push(usage(&d.path, "is a partition: name the whole disk for the OSD's main device (partitions are used for --journal/--db/--wal)".into())),
            },
            None => out.push(usage(Path::new(&format!("/dev/{name}")), "is not a block device known to the kernel".into())),
        }
    }
    if req.all_bootstrap {
        for (d, v) in snap.devices.iter().zip(verdicts.iter()) {
            if d.kind != DeviceKind::Disk || mains.iter().any(|m| m.path == d.path) {
                continue;
            }
            let primary = v.role.is_some_and(Role::is_primary);
            let prepared = ctx
                .primary_partition(&d.path)
                .is_some_and(|(_, pv)| pv.osd_id.is_some());
            if (v.state == State::Bootstrap && primary) || prepared {
                mains.push(d);
            }
        }
    }
    for d in mains {
        out.push(plan_one(&ctx, d, req));
    }
    out
}

fn plan_one(ctx: &Ctx<'_>, disk: &Device, req: &PrepareRequest) -> PlanEntry {
    let Some((_, v)) = ctx.by_path(&disk.path) else {
        return refused(&disk.path, "vanished from the inventory".into());
    };
    // A prepared OSD's disk stays prepared while the OSD runs (a filestore data partition is
    // then mounted): unchanged, not "in use".
    if let Some((_, pv)) = ctx
        .primary_partition(&disk.path)
        .filter(|(_, pv)| pv.osd_id.is_some())
    {
        return PlanEntry::Unchanged {
            device: disk.path.clone(),
            osd_id: pv.osd_id,
        };
    }
    let labelled = v.state == State::Bootstrap && v.role.is_some_and(Role::is_primary);
    match v.state {
        State::Prepared => {
            return PlanEntry::Unchanged {
                device: disk.path.clone(),
                osd_id: v.osd_id,
            };
        }
        State::InUse | State::Error => {
            return refused(
                &disk.path,
                format!("{}: {}", v.state.as_str(), v.reasons.join("; ")),
            );
        }
        State::Foreign if !req.wipe => {
            return refused(
                &disk.path,
                format!(
                    "holds data ({}): pass --wipe to destroy it, or `cephboot disks zap` it first",
                    v.reasons.join("; ")
                ),
            );
        }
        State::Bootstrap if !labelled => {
            return refused(&disk.path, format!("only carries partner partitions ({}): name the disk that carries the main label", v.reasons.join("; ")));
        }
        _ => {}
    }
    if labelled && !v.ready {
        return refused(
            &disk.path,
            format!("is labelled but not ready: {}", v.reasons.join("; ")),
        );
    }
    // Store and group: from the label when there is one.
    let label_store = v.role.map(Role::store).filter(|_| labelled);
    let store = match (label_store, req.store) {
        (Some(l), Some(r)) if l != r => {
            return usage(
                &disk.path,
                format!(
                    "is labelled for {l} ({}) but --store {r} was asked: drop --store or relabel the disk with {}",
                    ctx.grammar.bootstrap(primary_role(l), None),
                    ctx.grammar.bootstrap(primary_role(r), None)
                ),
            )
        }
        (Some(l), _) => l,
        (None, Some(r)) => r,
        (None, None) => Store::Bluestore,
    };
    if store == Store::Bluestore && req.journal.is_some() {
        return usage(
            &disk.path,
            "--journal is for filestore; bluestore takes --db and --wal".into(),
        );
    }
    if store == Store::Filestore && (req.db.is_some() || req.wal.is_some()) {
        return usage(
            &disk.path,
            "--db and --wal are for bluestore; filestore takes --journal".into(),
        );
    }
    let label_group = if labelled {
        v.group
            .as_deref()
            .and_then(|g| g.rsplit('_').next())
            .map(str::to_string)
    } else {
        None
    };
    // Resume: the main partition of an interrupted run still has a "being prepared" type.
    let resume_osd_uuid = ctx.primary_partition(&disk.path).and_then(|(p, _)| {
        p.gpt
            .as_ref()
            .filter(|g| types::is_preparing(&g.type_guid))
            .map(|g| g.unique_guid)
    });

    // External partners: explicit options first, then labelled partners of the group.
    let mut wanted: Vec<(Role, Option<&String>)> = match store {
        Store::Filestore => vec![(Role::FilestoreJournal, req.journal.as_ref())],
        Store::Bluestore => vec![
            (Role::BluestoreDb, req.db.as_ref()),
            (Role::BluestoreWal, req.wal.as_ref()),
            (Role::BluestoreBlock, None),
        ],
    };
    // Partitions of one OSD on several devices (or a colocated journal, whose label needs a
    // group to parse) are tied by a group token: the label's, else one made from the disk.
    let needs_group = store == Store::Filestore || wanted.iter().any(|(_, o)| o.is_some());
    let group = label_group
        .clone()
        .or_else(|| needs_group.then(|| derive_group(&disk.name)));
    let mut reuse = Vec::new();
    let mut extra: Vec<DiskWrite> = Vec::new();
    let mut colocated_journal = store == Store::Filestore;
    for (role, explicit) in wanted.drain(..) {
        let target: Option<(&Device, &Verdict)> = match explicit {
            Some(name) => match ctx.by_name(name) {
                Some(found) => Some(found),
                None => return usage(Path::new(&format!("/dev/{name}")), "is not a block device known to the kernel".into()),
            },
            None => label_group.as_deref().and_then(|g| {
                ctx.snap.devices.iter().zip(ctx.verdicts.iter()).find(|(d, pv)| {
                    pv.state == State::Bootstrap
                        && d.kind == DeviceKind::Partition
                        && matches!(ctx.label_of(d), Some(Label::Bootstrap { role: r, group: Some(ref pg) }) if r == role && pg == g)
                        // A partner on the main disk is the colocated one of an interrupted
                        // run: the disk is laid out again anyway.
                        && d.parent.as_deref() != Some(disk.path.as_path())
                })
            }),
        };
        let Some((dev, dv)) = target else { continue };
        if role == Role::BluestoreBlock {
            return refused(&dev.path, "external block partitions (_B) are not supported yet: label the block device itself with the main bootstrap label".into());
        }
        if role == Role::FilestoreJournal {
            colocated_journal = false;
        }
        if dev.parent.as_deref() == Some(disk.path.as_path()) || dev.path == disk.path {
            return usage(
                &dev.path,
                format!(
                    "is on the OSD's main disk {}: an external {} must be on another device",
                    disk.path.display(),
                    role.as_str()
                ),
            );
        }
        let ours = dv.state == State::Bootstrap;
        let ok = match dv.state {
            State::Free | State::Bootstrap => true,
            State::Foreign => req.wipe,
            _ => false,
        };
        if !ok {
            return refused(
                &dev.path,
                format!(
                    "cannot hold the {} ({}: {}){}",
                    role.as_str(),
                    dv.state.as_str(),
                    dv.reasons.join("; "),
                    if dv.state == State::Foreign {
                        "; pass --wipe to destroy it"
                    } else {
                        ""
                    }
                ),
            );
        }
        if dev.kind == DeviceKind::Partition && dev.gpt.is_none() {
            return refused(
                &dev.path,
                format!(
                    "is not a GPT partition: a {} must be a GPT partition (or a whole free disk)",
                    role.as_str()
                ),
            );
        }
        if reuse.iter().any(|r: &Reuse| r.node == dev.path)
            || extra
                .iter()
                .any(|e: &DiskWrite| e.disk == dev.path && dev.kind == DeviceKind::Partition)
        {
            return usage(&dev.path, "is named for two roles: give block.db and block.wal different partitions, or one whole disk for both".into());
        }
        let parent_is_target = dev
            .parent
            .as_ref()
            .is_some_and(|p| extra.iter().any(|e| &e.disk == p));
        let disk_has_reuse =
            dev.kind == DeviceKind::Disk && reuse.iter().any(|r| r.disk == dev.path);
        if parent_is_target || disk_has_reuse {
            return usage(&dev.path, "a disk and one of its partitions are both named: name partitions, or the whole disk for both roles".into());
        }
        match dev.kind {
            DeviceKind::Partition => reuse.push(Reuse {
                node: dev.path.clone(),
                disk: dev.parent.clone().unwrap_or_default(),
                disk_name: dev
                    .parent
                    .as_deref()
                    .and_then(|p| ctx.by_path(p))
                    .map(|(d, _)| d.name.clone())
                    .unwrap_or_default(),
                number: dev.partition_number.unwrap_or(0),
                role,
                start_bytes: dev.start_bytes.unwrap_or(0),
                size_bytes: dev.size_bytes,
                sector_size: dev.sector_size,
            }),
            DeviceKind::Disk => {
                if ours && ctx.partitions(&dev.path).any(|(p, _)| !matches!(ctx.label_of(p), Some(Label::Bootstrap { group: Some(ref pg), .. }) if Some(pg) == group.as_ref())) {
                    return refused(&dev.path, "holds partitions of other OSDs: name one of its partitions instead of the whole disk".into());
                }
                let label = ctx.grammar.bootstrap(role, group.as_deref());
                match extra.iter_mut().find(|e| e.disk == dev.path) {
                    Some(e) => {
                        // db + wal on one disk: wal gets its size, db the rest.
                        e.partitions.push(NewPartition {
                            role,
                            number: 0,
                            label,
                            size_bytes: None,
                        });
                        e.partitions.sort_by_key(|p| p.role != Role::BluestoreWal);
                        for (number, p) in (1u32..).zip(e.partitions.iter_mut()) {
                            p.number = number;
                            p.size_bytes = (p.role == Role::BluestoreWal).then_some(req.wal_size);
                        }
                    }
                    None => extra.push(DiskWrite {
                        disk: dev.path.clone(),
                        name: dev.name.clone(),
                        size_bytes: dev.size_bytes,
                        sector_size: dev.sector_size,
                        partitions: vec![NewPartition {
                            role,
                            number: 1,
                            label,
                            size_bytes: None,
                        }],
                    }),
                }
            }
        }
    }

    // The main disk's layout.
    let main_role = primary_role(store);
    let main_label = ctx.grammar.bootstrap(main_role, group.as_deref());
    let data_size = colocated_journal.then(|| {
        let data = disk
            .size_bytes
            .saturating_sub(req.journal_size)
            .saturating_sub(4 << 20);
        data - data % table::ALIGN_BYTES
    });
    let mut parts = vec![NewPartition {
        role: main_role,
        number: 1,
        label: main_label,
        size_bytes: data_size,
    }];
    if colocated_journal {
        parts.push(NewPartition {
            role: Role::FilestoreJournal,
            number: 2,
            label: ctx
                .grammar
                .bootstrap(Role::FilestoreJournal, group.as_deref()),
            size_bytes: None,
        });
    }
    let main = DiskWrite {
        disk: disk.path.clone(),
        name: disk.name.clone(),
        size_bytes: disk.size_bytes,
        sector_size: disk.sector_size,
        partitions: parts,
    };
    // Every label must fit a GPT name (36 UTF-16 units) before anything is written.
    let labels = std::iter::once(&main)
        .chain(extra.iter())
        .flat_map(|dw| dw.partitions.iter().map(|p| p.label.clone()))
        .chain(
            reuse
                .iter()
                .map(|r| ctx.grammar.bootstrap(r.role, group.as_deref())),
        );
    for l in labels {
        if let Err(e) = crate::disk::label::PartitionName::encode(&l) {
            return refused(
                &disk.path,
                format!("{e}: use a shorter --label-prefix or group token"),
            );
        }
    }
    // Refuse now if anything does not fit.
    for dw in std::iter::once(&main).chain(extra.iter()) {
        match table::plan(dw.size_bytes, dw.sector_size, &dw.requests(), Uuid::nil) {
            Err(e) => return refused(&dw.disk, format!("the layout does not fit: {e}")),
            Ok(specs) => {
                for (s, p) in specs.iter().zip(dw.partitions.iter()) {
                    let bytes = s.kernel(dw.sector_size).size;
                    let min = match p.role {
                        Role::Bluestore => MIN_BLUESTORE,
                        Role::FilestoreData => MIN_FILESTORE_DATA,
                        _ => 16 << 20,
                    };
                    if bytes < min {
                        return refused(&dw.disk, format!(
                            "too small: the {} partition would be {} MiB, at least {} MiB is needed{}",
                            p.role.as_str(),
                            bytes >> 20,
                            min >> 20,
                            if p.role == Role::FilestoreData { " (mkfs.xfs refuses less than 300 MB; a smaller --journal-size may help)" } else { "" }
                        ));
                    }
                }
            }
        }
    }
    for r in &reuse {
        if r.size_bytes < (16 << 20) {
            return refused(
                &r.node,
                format!(
                    "is {} MiB: too small for a {}",
                    r.size_bytes >> 20,
                    r.role.as_str()
                ),
            );
        }
    }
    PlanEntry::Prepare {
        device: disk.path.clone(),
        plan: Box::new(OsdPlan {
            store,
            group,
            main,
            extra_disks: extra,
            reuse,
            resume_osd_uuid,
        }),
    }
}

/// A group token made from a disk's kernel name: its last six letters or digits
/// (`nvme0n1` -> `vme0n1`), short enough for every label to fit a GPT name.
pub fn derive_group(disk_name: &str) -> String {
    let chars: Vec<char> = disk_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let start = chars.len().saturating_sub(6);
    let g: String = chars.get(start..).unwrap_or(&[]).iter().collect();
    if g.is_empty() || g == "BS" || g == "J" {
        format!("g{g}")
    } else {
        g
    }
}

fn primary_role(store: Store) -> Role {
    match store {
        Store::Bluestore => Role::Bluestore,
        Store::Filestore => Role::FilestoreData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_groups_are_short_valid_tokens() {
        assert_eq!(derive_group("nvme0n1"), "vme0n1");
        assert_eq!(derive_group("sdb"), "sdb");
        assert_eq!(derive_group("loop12"), "loop12");
        assert_eq!(derive_group("J"), "gJ");
        let g = LabelGrammar::default();
        for role in [
            Role::FilestoreJournal,
            Role::BluestoreDb,
            Role::BluestoreWal,
        ] {
            let l = g.bootstrap(role, Some(&derive_group("nvme10n1")));
            assert!(crate::disk::label::PartitionName::encode(&l).is_ok(), "{l}");
            assert_eq!(
                g.parse(&l),
                Some(Label::Bootstrap {
                    role,
                    group: Some(derive_group("nvme10n1"))
                })
            );
        }
    }
}
