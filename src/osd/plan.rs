//! Planning `osd prepare`, a pure function of the classified devices (each with its verdict)
//! and the request: which disks are rewritten with which partitions, which existing partitions are
//! reused for journal/db/wal, whether an interrupted earlier run must be cleaned up first,
//! and which devices are refused or already prepared. Nothing is written here; a plan that
//! does not fit is refused before any write.

use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::disk::classify::{Classified, State, Status, Verdict};
use crate::disk::gpt::HeaderUsed;
use crate::disk::identity::DiskIdentity;
use crate::disk::inventory::{Device, DeviceKind, TableInfo};
use crate::disk::label::{Label, LabelGrammar, Role, Store};
use crate::disk::policy::DevicePolicy;
use crate::disk::table::{self, PartitionRequest, Size};
use crate::disk::types;

use super::slots::{self, Carve, Extent, SlotSize};

/// Smallest BlueStore main device cephboot creates.
pub const MIN_BLUESTORE: u64 = 1 << 30;
/// Smallest FileStore data partition (mkfs.xfs refuses less than 300 MB).
pub const MIN_FILESTORE_DATA: u64 = 320 << 20;
/// The main partition of a bluestore OSD whose block is an external `_B` partition (Kolla
/// makes it 100 MiB).
pub const IDENTITY_PARTITION: u64 = 100 << 20;
/// Smallest db slot on a shared fast device.
pub const MIN_DB_SLOT: u64 = 64 << 20;

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
    /// Consent to destroy what is on the devices (a `foreign` disk or partner, partitions of
    /// the main disk that are not this OSD's).
    pub wipe: bool,
    /// Devices that may be touched at all (main, partners, their disks).
    pub policy: DevicePolicy,
    /// Colocated filestore journal size.
    pub journal_size: u64,
    /// block.wal size when it shares a disk with block.db.
    pub wal_size: u64,
    /// A destroyed OSD's id for the (one) new OSD to take, with its CRUSH position.
    pub osd_id: Option<u32>,
    /// The CRUSH device class, instead of the one sysfs suggests.
    pub device_class: Option<String>,
    /// `--db-slots` / `--db-size`: a whole `--db` disk is divided into slots, one block.db per
    /// OSD, the rest kept for later OSDs.
    pub db_slots: Option<SlotSize>,
    /// `--wal-slots`: the same for a whole `--wal` disk, one block.wal per OSD.
    pub wal_slots: Option<SlotSize>,
    /// `--crush-location host=NAME`: the CRUSH host bucket, instead of the hostname's.
    pub crush_host: Option<String>,
    /// `--encrypt`: each device of a BlueStore OSD a LUKS device under one key.
    pub encrypt: bool,
    /// `--tpm2` (with `--tpm2-pcrs`): each encrypted device also gets a TPM2 keyslot bound
    /// to these PCRs, so that the OSD opens without the monitors.
    pub tpm2_pcrs: Option<String>,
    /// `--jobs`: at most this many OSDs prepared at once (None: four per core, 4 to 16). OSDs that
    /// share a disk (db slots on one fast device) are prepared one after another whatever
    /// this says.
    pub jobs: Option<usize>,
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
    /// The disk as judged (re-checked through the write descriptor).
    #[serde(skip)]
    pub identity: DiskIdentity,
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
    /// Its disk as judged (re-checked through the write descriptor).
    #[serde(skip)]
    pub disk_identity: DiskIdentity,
    /// A new entry in the disk's existing table (a free db slot), not an existing partition.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub new_entry: bool,
    /// The destroyed OSD whose partition this is (named for it), taken again by its
    /// replacement: its BlueStore label is that OSD's, not a stranger's, when the disk is this
    /// cluster's (checked by prepare, which knows the fsid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u32>,
}

/// The slot (block.db or block.wal) one OSD takes on a shared fast device (shown by a dry
/// run: the carve-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FastSlot {
    /// The fast disk.
    pub disk: PathBuf,
    /// Its partition number.
    pub number: u32,
    /// Slot size in bytes.
    pub size_bytes: u64,
    /// The partition was there already (an interrupted run's, or a destroyed OSD's being
    /// replaced): reused in place.
    pub reused: bool,
    /// Free slots left on the disk after this OSD.
    pub free_after: usize,
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
    /// Partitions of the main disk that are not this OSD's and are erased with it.
    pub siblings: Vec<Sibling>,
    /// The OSD uuid of an interrupted earlier preparation, to clean up first.
    pub resume_osd_uuid: Option<Uuid>,
    /// Its block.db slot on a shared fast device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_slot: Option<FastSlot>,
    /// Its block.wal slot on a shared fast device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_slot: Option<FastSlot>,
}

impl OsdPlan {
    /// Every disk whose table or bytes this OSD's preparation writes: its main disk, whole
    /// extra disks, the disks of partitions it reuses and of its fast-device slots.
    pub fn disks(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = vec![self.main.disk.as_path()];
        out.extend(self.extra_disks.iter().map(|d| d.disk.as_path()));
        out.extend(self.reuse.iter().map(|r| r.disk.as_path()));
        out.extend(
            [&self.db_slot, &self.wal_slot]
                .into_iter()
                .flatten()
                .map(|s| s.disk.as_path()),
        );
        out.sort();
        out.dedup();
        out
    }

    /// Its slot for `role` (block.db or block.wal) on a shared fast device.
    pub fn slot(&self, role: Role) -> Option<&FastSlot> {
        match role {
            Role::BluestoreDb => self.db_slot.as_ref(),
            Role::BluestoreWal => self.wal_slot.as_ref(),
            _ => None,
        }
    }
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

/// A partition on a disk the plan rewrites that is not part of this OSD: erased with the disk.
/// The consent rule: a partition that is not bootstrap-labelled for this OSD and holds a
/// signature is erased only with `--wipe`; one without a signature is checked for non-zero
/// data right before the write (the guards), and refused the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sibling {
    /// The partition node.
    pub node: PathBuf,
    /// Its disk.
    pub disk: PathBuf,
    /// Offset in the disk.
    pub start_bytes: u64,
    /// Size.
    pub size_bytes: u64,
    /// What it holds as seen by discovery (`an ext4 signature labelled "precious"`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<String>,
    /// `--wipe` was given.
    pub consented: bool,
}

struct Ctx<'a> {
    classified: &'a [Classified<'a>],
    grammar: &'a LabelGrammar,
}

type Found<'a> = (&'a Device, &'a Verdict);

impl<'a> Ctx<'a> {
    fn pairs(&self) -> impl Iterator<Item = Found<'a>> + 'a {
        self.classified.iter().map(|c| (c.device, &c.verdict))
    }
    fn by_name(&self, name: &str) -> Option<Found<'a>> {
        self.pairs().find(|(d, _)| d.name == name)
    }
    fn by_path(&self, p: &Path) -> Option<Found<'a>> {
        self.pairs().find(|(d, _)| d.path == p)
    }
    fn partitions(&self, disk: &'a Path) -> impl Iterator<Item = Found<'a>> + 'a {
        self.pairs()
            .filter(move |(d, _)| d.parent.as_deref() == Some(disk))
    }
    /// The primary (data / main) partition of a disk, if one carries a label.
    fn primary_partition(&self, disk: &'a Path) -> Option<Found<'a>> {
        self.partitions(disk)
            .find(|(_, v)| v.role().is_some_and(Role::is_primary))
    }
    fn label_of(&self, d: &Device) -> Option<Label> {
        crate::disk::classify::label_text(d).and_then(|l| self.grammar.parse(&l))
    }
    fn disk_name_of(&self, d: &Device) -> Option<String> {
        d.parent
            .as_deref()
            .and_then(|p| self.by_path(p))
            .map(|(disk, _)| disk.name.clone())
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

fn not_a_device(name: &str) -> PlanEntry {
    usage(
        Path::new(&format!("/dev/{name}")),
        "is not a block device known to the kernel".into(),
    )
}

const POLICY_REFUSAL: &str = "is excluded by the device policy (the daemon's allow/deny, or --allow-device/--deny-device): cephboot never touches it";

/// Plans every OSD of the request.
pub fn plan(
    classified: &[Classified<'_>],
    grammar: &LabelGrammar,
    req: &PrepareRequest,
) -> Vec<PlanEntry> {
    let ctx = Ctx {
        classified,
        grammar,
    };
    let mut mains: Vec<&Device> = Vec::new();
    let mut out = Vec::new();
    for name in &req.disks {
        match main_disk_of(&ctx, name) {
            Ok(d) => mains.push(d),
            Err(e) => out.push(e),
        }
    }
    if req.all_bootstrap {
        for (d, v) in ctx.pairs() {
            if d.kind != DeviceKind::Disk
                || mains.iter().any(|m| m.path == d.path)
                || !req.policy.allows(&d.name, None)
            {
                continue;
            }
            let primary = v.role().is_some_and(Role::is_primary);
            let prepared = ctx
                .primary_partition(&d.path)
                .is_some_and(|(_, pv)| pv.osd_id().is_some());
            if (v.state() == State::Bootstrap && primary) || prepared {
                mains.push(d);
            }
        }
    }
    let mut books = Books {
        db: SlotBook::open(&ctx, req, mains.len(), Role::BluestoreDb),
        wal: SlotBook::open(&ctx, req, mains.len(), Role::BluestoreWal),
    };
    for d in mains {
        out.push(plan_one(&ctx, d, req, &mut books).unwrap_or_else(|e| e));
    }
    books.db.refuse_all_if_short(&mut out);
    books.wal.refuse_all_if_short(&mut out);
    out
}

/// The whole disk a named device stands for: a disk, or the labelled main partition of one.
fn main_disk_of<'a>(ctx: &Ctx<'a>, name: &str) -> Result<&'a Device, PlanEntry> {
    let (d, _) = ctx.by_name(name).ok_or_else(|| not_a_device(name))?;
    if d.kind == DeviceKind::Disk {
        return Ok(d);
    }
    match d.parent.as_deref().and_then(|p| ctx.by_path(p)) {
        Some((disk, _))
            if ctx
                .primary_partition(&disk.path)
                .is_some_and(|(p, _)| p.path == d.path) =>
        {
            Ok(disk)
        }
        _ => Err(usage(&d.path, "is a partition: name the whole disk for the OSD's main device (partitions are used for --journal/--db/--wal)".into())),
    }
}

/// What the main disk's verdict allows: `Ok(labelled)` to go on (labelled: its main partition
/// or whole-device label is a bootstrap label), or the entry to report instead.
fn judge_main(
    ctx: &Ctx<'_>,
    disk: &Device,
    v: &Verdict,
    req: &PrepareRequest,
) -> Result<bool, PlanEntry> {
    if !req.policy.allows(&disk.name, None) {
        return Err(refused(&disk.path, POLICY_REFUSAL.into()));
    }
    // A prepared OSD's disk stays prepared while the OSD runs (a filestore data partition is
    // then mounted): unchanged, not "in use".
    if let Some((_, pv)) = ctx
        .primary_partition(&disk.path)
        .filter(|(_, pv)| pv.osd_id().is_some())
    {
        return Err(PlanEntry::Unchanged {
            device: disk.path.clone(),
            osd_id: pv.osd_id(),
        });
    }
    let labelled = v.state() == State::Bootstrap && v.role().is_some_and(Role::is_primary);
    let reasons = v.reasons().join("; ");
    match v.state() {
        State::Prepared => Err(PlanEntry::Unchanged {
            device: disk.path.clone(),
            osd_id: v.osd_id(),
        }),
        State::InUse | State::Error => Err(refused(&disk.path, format!("{}: {reasons}", v.state().as_str()))),
        State::Foreign if !req.wipe => Err(refused(&disk.path, format!("holds data ({reasons}): pass --wipe to destroy it, or `cephboot disks zap` it first"))),
        State::Bootstrap if !labelled => Err(refused(&disk.path, format!("only carries partner partitions ({reasons}): name the disk that carries the main label"))),
        _ if labelled && matches!(v.status, Status::Bootstrap { ready: false, .. }) => Err(refused(&disk.path, format!("is labelled but not ready: {reasons}"))),
        _ => Ok(labelled),
    }
}

/// The object store: from the label when there is one, else `--store`, else bluestore; and
/// the partner options that store accepts.
fn choose_store(
    ctx: &Ctx<'_>,
    disk: &Device,
    label_store: Option<Store>,
    req: &PrepareRequest,
) -> Result<Store, PlanEntry> {
    let store = match (label_store, req.store) {
        (Some(l), Some(r)) if l != r => {
            return Err(usage(
                &disk.path,
                format!(
                    "is labelled for {l} ({}) but --store {r} was asked: drop --store or relabel the disk with {}",
                    ctx.grammar.bootstrap(primary_role(l), None),
                    ctx.grammar.bootstrap(primary_role(r), None)
                ),
            ))
        }
        (Some(l), _) => l,
        (None, Some(r)) => r,
        (None, None) => Store::Bluestore,
    };
    if store == Store::Bluestore && req.journal.is_some() {
        return Err(usage(
            &disk.path,
            "--journal is for filestore; bluestore takes --db and --wal".into(),
        ));
    }
    if store == Store::Filestore && (req.db.is_some() || req.wal.is_some()) {
        return Err(usage(
            &disk.path,
            "--db and --wal are for bluestore; filestore takes --journal".into(),
        ));
    }
    Ok(store)
}

/// The device that takes `role`: the one named for it, else the partition labelled for it in
/// the main label's group (never one on the main disk: that is an interrupted run's colocated
/// partner, and the disk is laid out again anyway).
fn find_partner<'a>(
    ctx: &Ctx<'a>,
    disk: &Device,
    role: Role,
    explicit: Option<&String>,
    label_group: Option<&str>,
) -> Result<Option<Found<'a>>, PlanEntry> {
    if let Some(name) = explicit {
        return ctx
            .by_name(name)
            .map(Some)
            .ok_or_else(|| not_a_device(name));
    }
    let Some(g) = label_group else {
        return Ok(None);
    };
    Ok(ctx.pairs().find(|(d, pv)| {
        pv.state() == State::Bootstrap
            && d.kind == DeviceKind::Partition
            && matches!(ctx.label_of(d), Some(Label::Bootstrap { role: r, group: Some(ref pg) }) if r == role && pg == g)
            && d.parent.as_deref() != Some(disk.path.as_path())
    }))
}

/// Whether `dev` may hold `role` for the OSD on `disk`: policy, state, kind and table.
fn check_partner(
    ctx: &Ctx<'_>,
    disk: &Device,
    dev: &Device,
    dv: &Verdict,
    role: Role,
    req: &PrepareRequest,
) -> Result<(), PlanEntry> {
    let disk_name = ctx.disk_name_of(dev);
    if !req.policy.allows(&dev.name, disk_name.as_deref()) {
        return Err(refused(
            &dev.path,
            format!(
                "{POLICY_REFUSAL} (it was to hold the {} of {})",
                role.as_str(),
                disk.path.display()
            ),
        ));
    }
    if role == Role::BluestoreBlock && dev.kind != DeviceKind::Partition {
        return Err(usage(&dev.path, "an external block (_B) is a partition: label a partition, or label the whole disk with the main bootstrap label".into()));
    }
    if dev.parent.as_deref() == Some(disk.path.as_path()) || dev.path == disk.path {
        return Err(usage(
            &dev.path,
            format!(
                "is on the OSD's main disk {}: an external {} must be on another device",
                disk.path.display(),
                role.as_str()
            ),
        ));
    }
    let ok = match dv.state() {
        State::Free | State::Bootstrap => true,
        State::Foreign => req.wipe,
        _ => false,
    };
    if !ok {
        let hint = if dv.state() == State::Foreign {
            "; pass --wipe to destroy it"
        } else {
            ""
        };
        return Err(refused(
            &dev.path,
            format!(
                "cannot hold the {} ({}: {}){hint}",
                role.as_str(),
                dv.state().as_str(),
                dv.reasons().join("; ")
            ),
        ));
    }
    if dev.kind == DeviceKind::Partition {
        if dev.gpt.is_none() {
            return Err(refused(
                &dev.path,
                format!(
                    "is not a GPT partition: a {} must be a GPT partition (or a whole free disk)",
                    role.as_str()
                ),
            ));
        }
        // The partner's name and type are edited in place: its table must be one cephboot can
        // edit safely (both copies valid), checked now, before anything is written.
        let table = dev
            .parent
            .as_deref()
            .and_then(|p| ctx.by_path(p))
            .and_then(|(d, _)| d.table.clone());
        if let Some(TableInfo::Gpt {
            header_used,
            other_header_valid,
        }) = table
        {
            if header_used != HeaderUsed::Primary || !other_header_valid {
                return Err(refused(&dev.path, format!("is on a disk whose GPT has only one valid copy ({}): repair the table first (`sgdisk -e` or gdisk's `w`), then prepare again", if header_used == HeaderUsed::Primary { "the backup is missing or corrupt" } else { "the primary is corrupt" })));
            }
        }
    }
    Ok(())
}

/// Partners placed so far: partitions reused in place and whole disks rewritten.
#[derive(Default)]
struct Partners {
    reuse: Vec<Reuse>,
    extra: Vec<DiskWrite>,
}

impl Partners {
    /// Adds `dev` for `role`, refusing a device named for two roles or a disk named beside
    /// one of its partitions.
    fn place(
        &mut self,
        ctx: &Ctx<'_>,
        dev: &Device,
        dv: &Verdict,
        role: Role,
        group: Option<&str>,
        req: &PrepareRequest,
    ) -> Result<(), PlanEntry> {
        if self.reuse.iter().any(|r| r.node == dev.path)
            || self
                .extra
                .iter()
                .any(|e| e.disk == dev.path && dev.kind == DeviceKind::Partition)
        {
            return Err(usage(&dev.path, "is named for two roles: give block.db and block.wal different partitions, or one whole disk for both".into()));
        }
        let parent_is_target = dev
            .parent
            .as_ref()
            .is_some_and(|p| self.extra.iter().any(|e| &e.disk == p));
        let disk_has_reuse =
            dev.kind == DeviceKind::Disk && self.reuse.iter().any(|r| r.disk == dev.path);
        if parent_is_target || disk_has_reuse {
            return Err(usage(&dev.path, "a disk and one of its partitions are both named: name partitions, or the whole disk for both roles".into()));
        }
        match dev.kind {
            DeviceKind::Partition => {
                self.reuse.push(Reuse {
                    node: dev.path.clone(),
                    disk: dev.parent.clone().unwrap_or_default(),
                    disk_name: ctx.disk_name_of(dev).unwrap_or_default(),
                    number: dev.partition_number.unwrap_or(0),
                    role,
                    start_bytes: dev.start_bytes.unwrap_or(0),
                    size_bytes: dev.size_bytes,
                    sector_size: dev.sector_size,
                    disk_identity: dev
                        .parent
                        .as_deref()
                        .and_then(|p| ctx.by_path(p))
                        .map(|(d, _)| DiskIdentity::of(d))
                        .unwrap_or_else(|| DiskIdentity::of(dev)),
                    new_entry: false,
                    replaces: None,
                });
                Ok(())
            }
            DeviceKind::Disk => self.place_disk(ctx, dev, dv, role, group, req),
        }
    }

    /// A whole disk for `role`: a new table on it (db + wal may share one).
    fn place_disk(
        &mut self,
        ctx: &Ctx<'_>,
        dev: &Device,
        dv: &Verdict,
        role: Role,
        group: Option<&str>,
        req: &PrepareRequest,
    ) -> Result<(), PlanEntry> {
        if dv.state() == State::Bootstrap {
            let other = ctx.partitions(&dev.path).find(|(p, _)| !matches!(ctx.label_of(p), Some(Label::Bootstrap { group: Some(ref pg), .. }) if Some(pg.as_str()) == group));
            if let Some((p, _)) = other {
                return Err(refused(&dev.path, format!("holds partition {} that is not part of this OSD: name one of its partitions instead of the whole disk", p.path.display())));
            }
        }
        let label = ctx.grammar.bootstrap(role, group);
        match self.extra.iter_mut().find(|e| e.disk == dev.path) {
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
            None => self.extra.push(DiskWrite {
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
                identity: DiskIdentity::of(dev),
            }),
        }
        Ok(())
    }
}

/// The partitions of the main disk that are not this OSD's, judged by the consent rule.
fn judge_siblings(
    ctx: &Ctx<'_>,
    disk: &Device,
    group: Option<&str>,
    req: &PrepareRequest,
) -> Result<Vec<Sibling>, PlanEntry> {
    let main = ctx
        .primary_partition(&disk.path)
        .map(|(p, _)| p.path.clone());
    let mut out = Vec::new();
    let mut needs_wipe = Vec::new();
    for (p, pv) in ctx.partitions(&disk.path) {
        if Some(&p.path) == main.as_ref() {
            continue;
        }
        let sibling = |holds: Option<String>| Sibling {
            node: p.path.clone(),
            disk: disk.path.clone(),
            start_bytes: p.start_bytes.unwrap_or(0),
            size_bytes: p.size_bytes,
            holds,
            consented: req.wipe,
        };
        match ctx.label_of(p) {
            // This OSD's own partner (an interrupted run's colocated journal).
            Some(Label::Bootstrap {
                group: Some(ref pg),
                ..
            }) if Some(pg.as_str()) == group => {}
            Some(Label::Bootstrap { .. }) => {
                let what = format!(
                    "is labelled \"{}\" for another OSD",
                    crate::disk::classify::label_text(p).unwrap_or_default()
                );
                if req.wipe {
                    out.push(sibling(Some(what)));
                } else {
                    needs_wipe.push(format!("{} {what}", p.path.display()));
                }
            }
            // (Unreachable while classify makes such a disk `prepared`; kept as the rule.)
            Some(Label::Prepared { role, osd_id }) => {
                return Err(refused(&disk.path, format!("partition {} is the {} of osd.{osd_id}: remove that OSD first, then zap the partition", p.path.display(), role.as_str())));
            }
            None if pv.state() == State::Free => out.push(sibling(None)),
            None => {
                let what = pv
                    .reasons()
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "holds data".into());
                if req.wipe {
                    out.push(sibling(Some(what)));
                } else {
                    needs_wipe.push(format!("{} {what}", p.path.display()));
                }
            }
        }
    }
    if !needs_wipe.is_empty() {
        return Err(refused(&disk.path, format!(
            "other partitions are not labelled for this OSD and would be erased with the disk: {}: pass --wipe to erase them, or move their data away first",
            needs_wipe.join("; ")
        )));
    }
    Ok(out)
}

/// The main disk's partitions: the main one, and a colocated filestore journal.
fn main_layout(
    ctx: &Ctx<'_>,
    disk: &Device,
    store: Store,
    colocated_journal: bool,
    external_block: bool,
    group: Option<&str>,
    req: &PrepareRequest,
) -> Result<DiskWrite, PlanEntry> {
    let main_role = primary_role(store);
    let data_size = if external_block {
        // Kolla's layout: the main label marks a small partition (the OSD's identity: its
        // PARTUUID is the OSD uuid), BlueStore's data lives on the `_B` partition.
        Some(IDENTITY_PARTITION)
    } else if colocated_journal {
        let reserve = req.journal_size.saturating_add(4 << 20);
        let data = disk.size_bytes.saturating_sub(reserve);
        let data = data - data % table::ALIGN_BYTES;
        if data < MIN_FILESTORE_DATA {
            return Err(refused(&disk.path, format!(
                "too small for filestore with a colocated journal: the disk is {} MiB, the journal {} MiB and the data partition needs at least {} MiB: pass a smaller --journal-size or an external --journal",
                disk.size_bytes >> 20, req.journal_size >> 20, MIN_FILESTORE_DATA >> 20
            )));
        }
        Some(data)
    } else {
        None
    };
    let mut partitions = vec![NewPartition {
        role: main_role,
        number: 1,
        label: ctx.grammar.bootstrap(main_role, group),
        size_bytes: data_size,
    }];
    if colocated_journal {
        partitions.push(NewPartition {
            role: Role::FilestoreJournal,
            number: 2,
            label: ctx.grammar.bootstrap(Role::FilestoreJournal, group),
            size_bytes: None,
        });
    }
    Ok(DiskWrite {
        disk: disk.path.clone(),
        name: disk.name.clone(),
        size_bytes: disk.size_bytes,
        sector_size: disk.sector_size,
        partitions,
        identity: DiskIdentity::of(disk),
    })
}

/// Every label fits a GPT name and every partition its minimum size, before anything is
/// written.
fn check_fit(
    ctx: &Ctx<'_>,
    disk: &Device,
    main: &DiskWrite,
    partners: &Partners,
    group: Option<&str>,
) -> Result<(), PlanEntry> {
    let labels = std::iter::once(main)
        .chain(partners.extra.iter())
        .flat_map(|dw| dw.partitions.iter().map(|p| p.label.clone()))
        .chain(
            partners
                .reuse
                .iter()
                .map(|r| ctx.grammar.bootstrap(r.role, group)),
        );
    for l in labels {
        if let Err(e) = crate::disk::label::PartitionName::encode(&l) {
            return Err(refused(
                &disk.path,
                format!("{e}: use a shorter --label-prefix or group token"),
            ));
        }
    }
    let external_block = partners
        .reuse
        .iter()
        .any(|r| r.role == Role::BluestoreBlock);
    for dw in std::iter::once(main).chain(partners.extra.iter()) {
        let specs = table::plan(dw.size_bytes, dw.sector_size, &dw.requests(), Uuid::nil)
            .map_err(|e| refused(&dw.disk, format!("the layout does not fit: {e}")))?;
        for (s, p) in specs.iter().zip(dw.partitions.iter()) {
            let bytes = s.kernel(dw.sector_size).size;
            let min = match p.role {
                Role::Bluestore if external_block => IDENTITY_PARTITION,
                role => min_size(role),
            };
            if bytes < min {
                return Err(refused(
                    &dw.disk,
                    format!(
                        "too small: the {} partition would be {} MiB, at least {} MiB is needed{}",
                        p.role.as_str(),
                        bytes >> 20,
                        min >> 20,
                        if p.role == Role::FilestoreData {
                            " (mkfs.xfs refuses less than 300 MB; a smaller --journal-size may help)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
    }
    if let Some(r) = partners
        .reuse
        .iter()
        .find(|r| r.size_bytes < min_size(r.role))
    {
        return Err(refused(
            &r.node,
            format!(
                "is {} MiB: too small for a {}",
                r.size_bytes >> 20,
                r.role.as_str()
            ),
        ));
    }
    Ok(())
}

fn min_size(role: Role) -> u64 {
    match role {
        Role::Bluestore | Role::BluestoreBlock => MIN_BLUESTORE,
        Role::FilestoreData => MIN_FILESTORE_DATA,
        _ => 16 << 20,
    }
}

/// The slots of a whole `--db` (or `--wal`) disk shared by several OSDs (issue: one fast
/// device for several slow ones). Opened once per plan and role; each OSD takes a slot in
/// turn: its own partition left by an interrupted run, or the destroyed OSD's it replaces
/// (reused in place), else the first free slot. A disk without a table gets one from the
/// first OSD of the run (in the real run each later OSD is planned again on a fresh snapshot,
/// and sees that table).
enum SlotBook {
    /// The flag does not name a slotted whole disk.
    Unused,
    /// It is, but cannot be used; every OSD that wants a slot is refused with this.
    Broken { usage: bool, reason: String },
    /// The slots.
    Open(Box<OpenBook>),
}

struct OpenBook {
    /// `BluestoreDb` or `BluestoreWal`.
    role: Role,
    disk: PathBuf,
    name: String,
    size_bytes: u64,
    sector_size: u64,
    identity: DiskIdentity,
    /// The disk has a GPT to add entries to (else the first slot writes a new table).
    has_table: bool,
    carve: Carve,
    /// Free slots handed out so far.
    next: usize,
    /// OSDs of this run that asked for a free slot and got none.
    short: usize,
    /// Partitions on the disk that may be taken in place: (node, label).
    partitions: Vec<(PathBuf, Option<Label>)>,
}

impl SlotBook {
    fn open(ctx: &Ctx<'_>, req: &PrepareRequest, mains: usize, role: Role) -> SlotBook {
        match OpenBook::open(ctx, req, mains, role) {
            Ok(Some(b)) => SlotBook::Open(Box::new(b)),
            Ok(None) => SlotBook::Unused,
            Err((usage, reason)) => SlotBook::Broken { usage, reason },
        }
    }

    fn applies(&self) -> bool {
        !matches!(self, SlotBook::Unused)
    }

    /// The slot for the OSD on `disk`, placed among its partners.
    fn take(
        &mut self,
        ctx: &Ctx<'_>,
        disk: &Device,
        group: Option<&str>,
        req: &PrepareRequest,
        partners: &mut Partners,
    ) -> Result<FastSlot, PlanEntry> {
        match self {
            SlotBook::Unused => Err(refused(&disk.path, "internal: no slots".into())),
            SlotBook::Broken { usage: u, reason } => {
                let r = reason.clone();
                Err(if *u {
                    usage(&disk.path, r)
                } else {
                    refused(&disk.path, r)
                })
            }
            SlotBook::Open(b) => b.take(ctx, disk, group, req, partners),
        }
    }

    /// A fast disk without a free slot for every OSD of the run is refused for all of them,
    /// before anything is written, saying how many slots are left.
    fn refuse_all_if_short(&self, out: &mut [PlanEntry]) {
        let SlotBook::Open(b) = self else { return };
        if b.short == 0 {
            return;
        }
        let flag = b.flag();
        let reason = format!(
            "{flag} {} has {} free slot(s) of {} MiB ({} in use) but this run needs {}: name fewer disks, or free slots with `cephboot osd remove`",
            b.disk.display(),
            b.carve.free.len(),
            b.carve.slot_bytes >> 20,
            b.carve.used,
            b.next + b.short
        );
        for e in out.iter_mut() {
            if let PlanEntry::Prepare { device, plan } = e {
                if plan.slot(b.role).is_some_and(|s| !s.reused) {
                    *e = refused(device, reason.clone());
                }
            } else if let PlanEntry::Refused { reason: r, .. } = e {
                if r.starts_with(&format!("{flag} ")) && r.contains("no free slot") {
                    *r = reason.clone();
                }
            }
        }
    }
}

impl OpenBook {
    /// The book for `role` in `req`, if its `--db` (`--wal`) is a whole disk divided into
    /// slots: asked for with `--db-slots`/`--db-size` (`--wal-slots`), or a disk whose
    /// partitions are all block.db (block.wal) partitions already. Errors carry the flag.
    fn open(
        ctx: &Ctx<'_>,
        req: &PrepareRequest,
        mains: usize,
        role: Role,
    ) -> Result<Option<OpenBook>, (bool, String)> {
        let flag = Self::flag_of(role);
        Self::open_unflagged(ctx, req, mains, role).map_err(|(u, r)| (u, format!("{flag} {r}")))
    }

    fn open_unflagged(
        ctx: &Ctx<'_>,
        req: &PrepareRequest,
        mains: usize,
        role: Role,
    ) -> Result<Option<OpenBook>, (bool, String)> {
        let (named, sizing, other, other_flag, asks) = match role {
            Role::BluestoreWal => (&req.wal, req.wal_slots, &req.db, "--db", "--wal-slots N"),
            _ => (
                &req.db,
                req.db_slots,
                &req.wal,
                "--wal",
                "--db-slots N (or --db-size)",
            ),
        };
        let what = Self::what_of(role);
        let Some((dev, dv)) = named.as_deref().and_then(|n| ctx.by_name(n)) else {
            if sizing.is_some() {
                return Err((
                    true,
                    format!("is needed, naming a whole disk, to divide it with {asks}"),
                ));
            }
            return Ok(None);
        };
        let path = dev.path.display().to_string();
        if dev.kind != DeviceKind::Disk {
            if sizing.is_some() {
                return Err((
                    true,
                    format!("{path} is a partition: {asks} divides a whole disk"),
                ));
            }
            return Ok(None);
        }
        let partitions: Vec<(&Device, Option<Label>)> = ctx
            .partitions(&dev.path)
            .map(|(p, _)| (p, ctx.label_of(p)))
            .collect();
        let is_slot = |l: &Option<Label>| matches!(l, Some(Label::Bootstrap { role: r, .. } | Label::Prepared { role: r, .. }) if *r == role);
        let carved = !partitions.is_empty() && partitions.iter().all(|(_, l)| is_slot(l));
        if sizing.is_none() && !carved {
            if mains > 1 && partitions.is_empty() {
                return Err((
                    true,
                    format!(
                        "{path} is named for the {what} of {mains} OSDs: pass {asks} to divide it"
                    ),
                ));
            }
            return Ok(None);
        }
        if !req.policy.allows(&dev.name, None) {
            return Err((false, format!("{path} {POLICY_REFUSAL}")));
        }
        if other.as_deref() == Some(dev.name.as_str()) {
            return Err((true, format!("{path} is divided into {what} slots and {other_flag} names it too: BlueStore keeps its WAL on the block.db, so name the disk once (--db with --db-slots), or give --db and --wal different disks")));
        }
        if let Some((p, _)) = partitions.iter().find(|(_, l)| !is_slot(l)) {
            return Err((false, format!("{path} holds {} which is not a {what}: cephboot divides only a blank disk, or one whose partitions are all OSDs' {what} ({}); name a partition instead, or zap the disk", p.path.display(), dv.reasons().join("; "))));
        }
        let has_table = carved;
        Self::check_divisible(dev, dv, has_table, req, what)?;
        let used = if has_table {
            Self::extents(dev, &partitions)
        } else {
            Vec::new()
        };
        let slot_bytes = match sizing {
            Some(size) => slots::slot_bytes(dev.size_bytes, dev.sector_size, size)
                .map_err(|e| (true, format!("{path}: {e}")))?,
            // The slots already cut: their size (the largest, should they differ).
            None => partitions
                .iter()
                .map(|(p, _)| p.size_bytes)
                .max()
                .unwrap_or(0),
        };
        Ok(Some(OpenBook {
            role,
            disk: dev.path.clone(),
            name: dev.name.clone(),
            size_bytes: dev.size_bytes,
            sector_size: dev.sector_size,
            identity: DiskIdentity::of(dev),
            has_table,
            carve: slots::carve(dev.size_bytes, dev.sector_size, &used, slot_bytes),
            next: 0,
            short: 0,
            partitions: partitions
                .into_iter()
                .map(|(p, l)| (p.path.clone(), l))
                .collect(),
        }))
    }

    /// The partitions on the fast disk as extents in LBAs, for the slot arithmetic.
    fn extents(dev: &Device, partitions: &[(&Device, Option<Label>)]) -> Vec<Extent> {
        let ss = dev.sector_size.max(1);
        partitions
            .iter()
            .map(|(p, _)| {
                let first = p.start_bytes.unwrap_or(0) / ss;
                Extent {
                    number: p.partition_number.unwrap_or(0),
                    first_lba: first,
                    last_lba: (first + p.size_bytes / ss).saturating_sub(1),
                }
            })
            .collect()
    }

    /// The flag that names this book's disk.
    fn flag(&self) -> &'static str {
        Self::flag_of(self.role)
    }

    fn flag_of(role: Role) -> &'static str {
        match role {
            Role::BluestoreWal => "--wal",
            _ => "--db",
        }
    }

    /// The words for what a slot holds.
    fn what_of(role: Role) -> &'static str {
        match role {
            Role::BluestoreWal => "block.wal",
            _ => "block.db",
        }
    }

    /// A carved disk's table must be editable in place; a blank one must be free (or, with
    /// `--wipe`, foreign).
    fn check_divisible(
        dev: &Device,
        dv: &Verdict,
        has_table: bool,
        req: &PrepareRequest,
        what: &str,
    ) -> Result<(), (bool, String)> {
        let path = dev.path.display().to_string();
        if has_table {
            match &dev.table {
                Some(TableInfo::Gpt { header_used: HeaderUsed::Primary, other_header_valid: true }) => {}
                _ => return Err((false, format!("{path} has a GPT with only one valid copy: repair it first (`sgdisk -e`), then prepare again"))),
            }
        } else {
            let ok = match dv.state() {
                State::Free => true,
                State::Foreign => req.wipe,
                _ => false,
            };
            if !ok {
                let hint = if dv.state() == State::Foreign {
                    ": pass --wipe to destroy it"
                } else {
                    ""
                };
                return Err((
                    false,
                    format!(
                        "{path} cannot be divided into {what} slots ({}: {}){hint}",
                        dv.state().as_str(),
                        dv.reasons().join("; ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The OSD's own slot (`node`) taken again in place, after the policy and in-use checks.
    fn take_again(
        &self,
        ctx: &Ctx<'_>,
        disk: &Device,
        node: &Path,
        group: Option<&str>,
        req: &PrepareRequest,
        partners: &mut Partners,
    ) -> Result<FastSlot, PlanEntry> {
        let (dev, dv) = ctx
            .by_path(node)
            .ok_or_else(|| refused(node, "vanished from the inventory".into()))?;
        if !req.policy.allows(&dev.name, Some(&self.name)) {
            return Err(refused(
                &dev.path,
                format!(
                    "{POLICY_REFUSAL} (it is the {} slot of {})",
                    Self::what_of(self.role),
                    disk.path.display()
                ),
            ));
        }
        if dv.state() == State::InUse {
            return Err(refused(
                &dev.path,
                format!(
                    "is the {} slot this OSD would take again, but it is in use: {}",
                    Self::what_of(self.role),
                    dv.reasons().join("; ")
                ),
            ));
        }
        partners.place(ctx, dev, dv, self.role, group, req)?;
        if let (Some(Label::Prepared { osd_id, .. }), Some(r)) =
            (ctx.label_of(dev), partners.reuse.last_mut())
        {
            r.replaces = Some(osd_id);
        }
        Ok(FastSlot {
            disk: self.disk.clone(),
            number: dev.partition_number.unwrap_or(0),
            size_bytes: dev.size_bytes,
            reused: true,
            free_after: self.carve.free.len().saturating_sub(self.next),
        })
    }

    fn take(
        &mut self,
        ctx: &Ctx<'_>,
        disk: &Device,
        group: Option<&str>,
        req: &PrepareRequest,
        partners: &mut Partners,
    ) -> Result<FastSlot, PlanEntry> {
        // An interrupted run's slot (labelled for this OSD's group), or the slot of the
        // destroyed OSD this one replaces: taken again in place.
        let own = self.partitions.iter().find(|(_, l)| match l {
            Some(Label::Bootstrap {
                role,
                group: Some(g),
            }) => *role == self.role && Some(g.as_str()) == group,
            Some(Label::Prepared { role, osd_id }) => {
                *role == self.role && req.osd_id == Some(*osd_id)
            }
            _ => false,
        });
        if let Some((node, _)) = own {
            let node = node.clone();
            return self.take_again(ctx, disk, &node, group, req, partners);
        }
        let Some(slot) = self.carve.free.get(self.next).copied() else {
            self.short += 1;
            return Err(refused(
                &disk.path,
                format!("{} {}: no free slot left", self.flag(), self.disk.display()),
            ));
        };
        self.next += 1;
        // The partition this slot becomes may itself be excluded (a deny pattern naming it).
        let slot_name = crate::disk::inventory::partition_node_name(&self.name, slot.number);
        if !req.policy.allows(&slot_name, Some(&self.name)) {
            return Err(refused(
                &disk.path,
                format!(
                    "{} {}: its next free slot would be /dev/{slot_name}, which {POLICY_REFUSAL}",
                    self.flag(),
                    self.disk.display()
                ),
            ));
        }
        let ss = self.sector_size;
        let label = ctx.grammar.bootstrap(self.role, group);
        if !self.has_table && self.next == 1 {
            // A blank fast disk: the first OSD writes its table, holding its slot only.
            partners.extra.push(DiskWrite {
                disk: self.disk.clone(),
                name: self.name.clone(),
                size_bytes: self.size_bytes,
                sector_size: ss,
                partitions: vec![NewPartition {
                    role: self.role,
                    number: slot.number,
                    label,
                    size_bytes: Some(slot.size_bytes(ss)),
                }],
                identity: self.identity.clone(),
            });
        } else {
            partners.reuse.push(Reuse {
                node: super::prepare::node_of(&self.name, &self.disk, slot.number),
                disk: self.disk.clone(),
                disk_name: self.name.clone(),
                number: slot.number,
                role: self.role,
                start_bytes: slot.start_bytes(ss),
                size_bytes: slot.size_bytes(ss),
                sector_size: ss,
                disk_identity: self.identity.clone(),
                new_entry: true,
                replaces: None,
            });
        }
        Ok(FastSlot {
            disk: self.disk.clone(),
            number: slot.number,
            size_bytes: slot.size_bytes(ss),
            reused: false,
            free_after: self.carve.free.len() - self.next,
        })
    }
}

/// The slot books of one plan: `--db` and `--wal`.
struct Books {
    db: SlotBook,
    wal: SlotBook,
}

impl Books {
    fn of(&mut self, role: Role) -> Option<&mut SlotBook> {
        let book = match role {
            Role::BluestoreDb => &mut self.db,
            Role::BluestoreWal => &mut self.wal,
            _ => return None,
        };
        book.applies().then_some(book)
    }
}

fn plan_one(
    ctx: &Ctx<'_>,
    disk: &Device,
    req: &PrepareRequest,
    books: &mut Books,
) -> Result<PlanEntry, PlanEntry> {
    let (_, v) = ctx
        .by_path(&disk.path)
        .ok_or_else(|| refused(&disk.path, "vanished from the inventory".into()))?;
    let labelled = judge_main(ctx, disk, v, req)?;
    let store = choose_store(
        ctx,
        disk,
        v.role().map(Role::store).filter(|_| labelled),
        req,
    )?;
    // The group token of the main label, if any (`..._BS_<G>`).
    let label_group = ctx
        .primary_partition(&disk.path)
        .map(|(p, _)| p)
        .or(Some(disk))
        .filter(|_| labelled)
        .and_then(|d| match ctx.label_of(d) {
            Some(Label::Bootstrap { group, .. }) => group,
            _ => None,
        });
    // Resume: the main partition of an interrupted run still has a "being prepared" type.
    let resume_osd_uuid = ctx.primary_partition(&disk.path).and_then(|(p, _)| {
        p.gpt
            .as_ref()
            .filter(|g| types::is_preparing(&g.type_guid))
            .map(|g| g.unique_guid)
    });
    let wanted: Vec<(Role, Option<&String>)> = match store {
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
    let mut partners = Partners::default();
    let mut colocated_journal = store == Store::Filestore;
    let (mut db_slot, mut wal_slot) = (None, None);
    for (role, explicit) in wanted {
        if let Some(book) = books.of(role) {
            let slot = Some(book.take(ctx, disk, group.as_deref(), req, &mut partners)?);
            if role == Role::BluestoreWal {
                wal_slot = slot;
            } else {
                db_slot = slot;
            }
            continue;
        }
        let Some((dev, dv)) = find_partner(ctx, disk, role, explicit, label_group.as_deref())?
        else {
            continue;
        };
        check_partner(ctx, disk, dev, dv, role, req)?;
        if role == Role::FilestoreJournal {
            colocated_journal = false;
        }
        partners.place(ctx, dev, dv, role, group.as_deref(), req)?;
    }
    let siblings = judge_siblings(ctx, disk, group.as_deref(), req)?;
    let external_block = partners
        .reuse
        .iter()
        .any(|r| r.role == Role::BluestoreBlock);
    let main = main_layout(
        ctx,
        disk,
        store,
        colocated_journal,
        external_block,
        group.as_deref(),
        req,
    )?;
    check_fit(ctx, disk, &main, &partners, group.as_deref())?;
    Ok(PlanEntry::Prepare {
        device: disk.path.clone(),
        plan: Box::new(OsdPlan {
            store,
            group,
            main,
            extra_disks: partners.extra,
            reuse: partners.reuse,
            siblings,
            resume_osd_uuid,
            db_slot,
            wal_slot,
        }),
    })
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
    use crate::disk::inventory::Snapshot;

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

    use crate::disk::classify::classify;
    use crate::disk::inventory::GptInfo;
    use crate::disk::label::PartitionName;
    use cephboot_ffi::blkid::Signature;

    const GIB: u64 = 1 << 30;

    fn disk(name: &str, size: u64) -> Device {
        let mut d = Device::test_disk(name);
        d.size_bytes = size;
        d
    }

    /// A GPT partition `n` of `d` named `label` (None: no name), `size` bytes.
    fn part(d: &mut Device, n: u32, label: Option<&str>, size: u64) -> Device {
        d.table = Some(TableInfo::Gpt {
            header_used: HeaderUsed::Primary,
            other_header_valid: true,
        });
        let name = format!("{}{n}", d.name);
        let mut p = disk(&name, size);
        p.kind = DeviceKind::Partition;
        p.table = None;
        p.parent = Some(d.path.clone());
        p.partition_number = Some(n);
        p.start_bytes = Some(u64::from(n) * (1 << 20));
        p.gpt = Some(GptInfo {
            name: PartitionName::encode(label.unwrap_or("")).unwrap(),
            unique_guid: Uuid::from_u128(u128::from(n) + 100),
            type_guid: types::LINUX_DATA,
        });
        p
    }

    fn fs(mut d: Device, kind: &str, label: &str) -> Device {
        d.signatures.push(Signature {
            kind: kind.into(),
            usage: "filesystem".into(),
            label: Some(label.as_bytes().to_vec()),
            label_raw: None,
            uuid: None,
            magic_offset: Some(1080),
            magic_len: 2,
            bad_checksum: false,
        });
        d
    }

    fn req(disks: &[&str]) -> PrepareRequest {
        PrepareRequest {
            disks: disks.iter().map(|d| d.to_string()).collect(),
            all_bootstrap: false,
            store: None,
            journal: None,
            db: None,
            wal: None,
            wipe: false,
            policy: DevicePolicy::default(),
            journal_size: 5 * GIB,
            wal_size: GIB,
            osd_id: None,
            device_class: None,
            db_slots: None,
            wal_slots: None,
            crush_host: None,
            encrypt: false,
            tpm2_pcrs: None,
            jobs: None,
        }
    }

    /// One line per entry, the words a user would see: `prepare bluestore main=1 extra=0
    /// reuse=0 siblings=0`, `refused /dev/x: reason`, `usage /dev/x: reason`, `unchanged osd.N`.
    fn outcome(devices: Vec<Device>, r: &PrepareRequest) -> Vec<String> {
        let snap = Snapshot { devices };
        let g = LabelGrammar::default();
        plan(&classify(&snap, &g), &g, r)
            .into_iter()
            .map(|e| match e {
                PlanEntry::Prepare { plan, .. } => format!(
                    "prepare {} main={} extra={} reuse={} siblings={} group={} labels={}",
                    plan.store,
                    plan.main.partitions.len(),
                    plan.extra_disks
                        .iter()
                        .map(|d| d.partitions.len())
                        .sum::<usize>(),
                    plan.reuse.len(),
                    plan.siblings.len(),
                    plan.group.as_deref().unwrap_or("-"),
                    plan.main
                        .partitions
                        .iter()
                        .chain(plan.extra_disks.iter().flat_map(|d| d.partitions.iter()))
                        .map(|p| p.label.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                PlanEntry::Refused {
                    device,
                    reason,
                    usage,
                } => format!(
                    "{} {}: {reason}",
                    if usage { "usage" } else { "refused" },
                    device.display()
                ),
                PlanEntry::Unchanged { osd_id, .. } => format!(
                    "unchanged osd.{}",
                    osd_id.map_or("?".into(), |i| i.to_string())
                ),
            })
            .collect()
    }

    type Case = (
        &'static str,
        fn() -> (Vec<Device>, PrepareRequest),
        &'static [&'static str],
    );

    fn bs_disk(name: &str, label: &str) -> (Device, Device) {
        let mut d = disk(name, 10 * GIB);
        let p = part(&mut d, 1, Some(label), 9 * GIB);
        (d, p)
    }

    const CASES: &[Case] = &[
        ("free disk: bluestore over the whole disk", || (vec![disk("sdb", 10 * GIB)], req(&["sdb"])), &["prepare bluestore main=1 extra=0 reuse=0 siblings=0 group=- labels=KOLLA_CEPH_OSD_BOOTSTRAP_BS"]),
        ("free disk, --store filestore: colocated journal under a derived group", || {
            let mut r = req(&["sdb"]);
            r.store = Some(Store::Filestore);
            (vec![disk("sdb", 10 * GIB)], r)
        }, &["prepare filestore main=2", "group=sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_sdb,KOLLA_CEPH_OSD_BOOTSTRAP_sdb_J"]),
        ("bootstrap-labelled disk keeps its label's store", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
            (vec![d, p], req(&["sdb"]))
        }, &["prepare bluestore main=1"]),
        ("a labelled disk and a contradicting --store", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
            let mut r = req(&["sdb"]);
            r.store = Some(Store::Filestore);
            (vec![d, p], r)
        }, &["usage /dev/sdb: is labelled for bluestore", "drop --store"]),
        ("a foreign disk without --wipe", || (vec![fs(disk("sdb", 10 * GIB), "ext4", "home")], req(&["sdb"])), &["refused /dev/sdb: holds data", "ext4", "pass --wipe"]),
        ("a foreign disk with --wipe", || {
            let mut r = req(&["sdb"]);
            r.wipe = true;
            (vec![fs(disk("sdb", 10 * GIB), "ext4", "home")], r)
        }, &["prepare bluestore"]),
        ("a disk with a mounted partition", || {
            let mut d = disk("sdb", 10 * GIB);
            let mut p = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 9 * GIB);
            p.mountpoints.push("/mnt".into());
            (vec![d, p], req(&["sdb"]))
        }, &["refused /dev/sdb: in_use", "mounted at /mnt"]),
        ("a prepared disk is unchanged", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_DATA_BS_7");
            (vec![d, p], req(&["sdb"]))
        }, &["unchanged osd.7"]),
        ("a partition named as the main device", || {
            let mut d = disk("sdb", 10 * GIB);
            let p = part(&mut d, 1, None, 9 * GIB);
            (vec![d, p], req(&["sdb1"]))
        }, &["usage /dev/sdb1: is a partition"]),
        ("an unknown device", || (vec![], req(&["sdz"])), &["usage /dev/sdz: is not a block device known to the kernel"]),
        ("--journal with bluestore", || {
            let mut r = req(&["sdb"]);
            r.journal = Some("sdc".into());
            (vec![disk("sdb", 10 * GIB), disk("sdc", 10 * GIB)], r)
        }, &["usage /dev/sdb: --journal is for filestore"]),
        ("--db with filestore", || {
            let mut r = req(&["sdb"]);
            r.store = Some(Store::Filestore);
            r.db = Some("sdc".into());
            (vec![disk("sdb", 10 * GIB), disk("sdc", 10 * GIB)], r)
        }, &["usage /dev/sdb: --db and --wal are for bluestore"]),
        ("--db on a free partition is reused in place", || {
            let mut c = disk("sdc", 10 * GIB);
            let p = part(&mut c, 1, None, GIB);
            let mut r = req(&["sdb"]);
            r.db = Some("sdc1".into());
            (vec![disk("sdb", 10 * GIB), c, p], r)
        }, &["prepare bluestore main=1 extra=0 reuse=1 siblings=0 group=sdb"]),
        ("--db on a whole free disk gets a new table", || {
            let mut r = req(&["sdb"]);
            r.db = Some("sdc".into());
            (vec![disk("sdb", 10 * GIB), disk("sdc", 10 * GIB)], r)
        }, &["prepare bluestore main=1 extra=1 reuse=0", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdb_D"]),
        ("--db and --wal on one disk: wal first, sized", || {
            let mut r = req(&["sdb"]);
            r.db = Some("sdc".into());
            r.wal = Some("sdc".into());
            (vec![disk("sdb", 10 * GIB), disk("sdc", 10 * GIB)], r)
        }, &["extra=2", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdb_W,KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdb_D"]),
        ("--db and --wal on one partition", || {
            let mut c = disk("sdc", 10 * GIB);
            let p = part(&mut c, 1, None, GIB);
            let mut r = req(&["sdb"]);
            r.db = Some("sdc1".into());
            r.wal = Some("sdc1".into());
            (vec![disk("sdb", 10 * GIB), c, p], r)
        }, &["usage /dev/sdc1: is named for two roles"]),
        ("--db on the main disk's own partition", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            let p2 = part(&mut d, 2, None, GIB);
            let mut r = req(&["sdb"]);
            r.db = Some("sdb2".into());
            (vec![d, p1, p2], r)
        }, &["usage /dev/sdb2: is on the OSD's main disk"]),
        ("a labelled partner is found by its group", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1");
            let mut c = disk("sdc", 10 * GIB);
            let cp = part(&mut c, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_D"), GIB);
            (vec![d, p, c, cp], req(&["sdb"]))
        }, &["prepare bluestore main=1 extra=0 reuse=1 siblings=0 group=G1"]),
        ("a labelled partner on a denied disk is refused, not wiped", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1");
            let mut c = disk("sdc", 10 * GIB);
            let cp = part(&mut c, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_D"), GIB);
            let mut r = req(&["sdb"]);
            r.policy.deny = vec!["sdc".into()];
            (vec![d, p, c, cp], r)
        }, &["refused /dev/sdc1: is excluded by the device policy", "bluestore-db of /dev/sdb"]),
        ("a partner outside the allow list is refused", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1");
            let mut c = disk("sdc", 10 * GIB);
            let cp = part(&mut c, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_D"), GIB);
            let mut r = req(&["sdb"]);
            r.policy.allow = vec!["/dev/sdb".into()];
            (vec![d, p, c, cp], r)
        }, &["refused /dev/sdc1: is excluded by the device policy"]),
        ("a main disk the policy denies", || {
            let mut r = req(&["sdb"]);
            r.policy.deny = vec!["sd?".into()];
            (vec![disk("sdb", 10 * GIB)], r)
        }, &["refused /dev/sdb: is excluded by the device policy"]),
        ("--all-bootstrap skips denied disks and takes the rest", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
            let (e, q) = bs_disk("sdc", "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
            let mut r = req(&[]);
            r.all_bootstrap = true;
            r.policy.deny = vec!["sdc".into()];
            (vec![d, p, e, q], r)
        }, &["prepare bluestore main=1"]),
        ("a foreign explicit partner needs --wipe", || {
            let mut c = disk("sdc", 10 * GIB);
            let p = fs(part(&mut c, 1, None, GIB), "xfs", "old");
            let mut r = req(&["sdb"]);
            r.db = Some("sdc1".into());
            (vec![disk("sdb", 10 * GIB), c, p], r)
        }, &["refused /dev/sdc1: cannot hold the bluestore-db (foreign: holds a xfs signature labelled \"old\")", "pass --wipe"]),
        ("an external block partition (_B) takes the data; the main partition is Kolla's small identity partition", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1");
            let mut c = disk("sdc", 10 * GIB);
            let cp = part(&mut c, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_B"), 5 * GIB);
            (vec![d, p, c, cp], req(&["sdb"]))
        }, &["prepare bluestore main=1 extra=0 reuse=1 siblings=0 group=G1 labels=KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1"]),
        ("an external block partition smaller than a bluestore device is refused", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1");
            let mut c = disk("sdc", 10 * GIB);
            let cp = part(&mut c, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_B"), 512 << 20);
            (vec![d, p, c, cp], req(&["sdb"]))
        }, &["refused /dev/sdc1: is 512 MiB: too small for a bluestore-block"]),
        ("a sibling filesystem is erased only with --wipe", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            let p2 = fs(part(&mut d, 2, None, GIB), "ext4", "precious");
            (vec![d, p1, p2], req(&["sdb"]))
        }, &["refused /dev/sdb: other partitions are not labelled for this OSD", "/dev/sdb2 holds a ext4 signature labelled \"precious\"", "pass --wipe"]),
        ("a sibling filesystem with --wipe is listed as consented", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            let p2 = fs(part(&mut d, 2, None, GIB), "ext4", "precious");
            let mut r = req(&["sdb"]);
            r.wipe = true;
            (vec![d, p1, p2], r)
        }, &["prepare bluestore main=1 extra=0 reuse=0 siblings=1"]),
        ("an empty sibling is planned, to be checked for data before the write", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            let p2 = part(&mut d, 2, None, GIB);
            (vec![d, p1, p2], req(&["sdb"]))
        }, &["prepare bluestore main=1 extra=0 reuse=0 siblings=1"]),
        ("a sibling labelled for another OSD", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_A"), 5 * GIB);
            let p2 = part(&mut d, 2, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_B_D"), GIB);
            (vec![d, p1, p2], req(&["sdb"]))
        }, &["refused /dev/sdb: "]),
        ("a sibling labelled for another, complete OSD", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_A"), 5 * GIB);
            let p2 = part(&mut d, 2, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS_B_D"), GIB);
            let (e, q) = bs_disk("sdc", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_B");
            (vec![d, p1, p2, e, q], req(&["sdb"]))
        }, &["refused /dev/sdb: other partitions", "/dev/sdb2 is labelled \"KOLLA_CEPH_OSD_BOOTSTRAP_BS_B_D\" for another OSD", "pass --wipe"]),
        ("this OSD's own colocated partner is no sibling", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_sdb"), 5 * GIB);
            let p2 = part(&mut d, 2, Some("KOLLA_CEPH_OSD_BOOTSTRAP_sdb_J"), GIB);
            (vec![d, p1, p2], req(&["sdb"]))
        }, &["prepare filestore main=2 extra=0 reuse=0 siblings=0 group=sdb"]),
        ("a prepared partition of another OSD is never erased, even with --wipe", || {
            let mut d = disk("sdb", 10 * GIB);
            let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            let p2 = part(&mut d, 2, Some("KOLLA_CEPH_DATA_BS_4_D"), GIB);
            let mut r = req(&["sdb"]);
            r.wipe = true;
            (vec![d, p1, p2], r)
        }, &["unchanged osd.4"]),
        ("a prepared partner of another OSD beside a labelled data partition that is being resumed", || {
            let mut d = disk("sdb", 10 * GIB);
            let mut p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
            if let Some(g) = p1.gpt.as_mut() {
                g.type_guid = types::preparing_type(Role::Bluestore);
            }
            let p2 = part(&mut d, 2, Some("KOLLA_CEPH_DATA_BS_4_D"), GIB);
            (vec![d, p1, p2], req(&["sdb"]))
        }, &["unchanged osd.4"]),
        ("a disk too small for bluestore", || (vec![disk("sdb", 512 << 20)], req(&["sdb"])), &["refused /dev/sdb: too small: the bluestore partition would be 510 MiB", "at least 1024 MiB"]),
        ("filestore with a colocated journal on a 2 GiB disk says what does not fit", || {
            let mut r = req(&["sdb"]);
            r.store = Some(Store::Filestore);
            (vec![disk("sdb", 2 * GIB)], r)
        }, &["refused /dev/sdb: too small for filestore with a colocated journal: the disk is 2048 MiB, the journal 5120 MiB", "--journal-size"]),
        ("a partner label that would not fit a GPT name", || {
            // 36 units for the main label; its db partner's label would be 38.
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_ABCDEFGH");
            let mut r = req(&["sdb"]);
            r.db = Some("sdc".into());
            (vec![d, p, disk("sdc", 10 * GIB)], r)
        }, &["refused /dev/sdb: partition name", "38 UTF-16 units", "use a shorter --label-prefix or group token"]),
        ("a partner whose disk has one valid GPT copy", || {
            let mut c = disk("sdc", 10 * GIB);
            let p = part(&mut c, 1, None, GIB);
            c.table = Some(TableInfo::Gpt { header_used: HeaderUsed::Backup, other_header_valid: false });
            let mut r = req(&["sdb"]);
            r.db = Some("sdc1".into());
            (vec![disk("sdb", 10 * GIB), c, p], r)
        }, &["refused /dev/sdc1: is on a disk whose GPT has only one valid copy (the primary is corrupt)", "sgdisk -e"]),
        ("a disk and its partition named for two roles", || {
            let mut c = disk("sdc", 10 * GIB);
            let p = part(&mut c, 1, None, GIB);
            let mut r = req(&["sdb"]);
            r.db = Some("sdc1".into());
            r.wal = Some("sdc".into());
            r.wipe = true;
            (vec![disk("sdb", 10 * GIB), c, p], r)
        }, &["a disk and one of its partitions are both named"]),
        ("a disk carrying only partner partitions", || {
            let (d, p) = bs_disk("sdb", "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G1_D");
            (vec![d, p], req(&["sdb"]))
        }, &["refused /dev/sdb: only carries partner partitions"]),
    ];

    #[test]
    fn planner_cases() {
        let mut failures = Vec::new();
        for (name, setup, want) in CASES {
            let (devices, r) = setup();
            let got = outcome(devices, &r);
            let text = got.join("\n");
            if got.len() != 1 || !want.iter().all(|w| text.contains(w)) {
                failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            CASES.len(),
            failures.join("\n")
        );
        assert!(CASES.len() >= 25);
    }

    #[test]
    fn siblings_record_what_they_hold_and_the_consent() {
        let mut d = disk("sdb", 10 * GIB);
        let p1 = part(&mut d, 1, Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"), 5 * GIB);
        let p2 = fs(part(&mut d, 2, None, GIB), "ext4", "precious");
        let p3 = part(&mut d, 3, None, GIB);
        let snap = Snapshot {
            devices: vec![d, p1, p2, p3],
        };
        let g = LabelGrammar::default();
        let mut r = req(&["sdb"]);
        r.wipe = true;
        let Some(PlanEntry::Prepare { plan, .. }) = plan(&classify(&snap, &g), &g, &r).pop() else {
            panic!("not planned");
        };
        assert_eq!(plan.siblings.len(), 2);
        assert_eq!(plan.siblings[0].node, Path::new("/dev/sdb2"));
        assert!(plan.siblings[0]
            .holds
            .as_deref()
            .unwrap_or("")
            .contains("precious"));
        assert!(plan.siblings[0].consented);
        assert_eq!(
            plan.siblings[1].holds, None,
            "no signature: checked for data at write time"
        );
    }
}

#[cfg(test)]
mod slot_tests {
    //! The db-slot planner: one fast disk divided among several OSDs.
    use super::*;
    use crate::disk::classify::classify;
    use crate::disk::inventory::{GptInfo, Snapshot};
    use crate::disk::label::PartitionName;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn disk(name: &str, size: u64) -> Device {
        let mut d = Device::test_disk(name);
        d.size_bytes = size;
        d
    }

    /// Partition `n` of `d` at `start_mib`, `size_mib` long, named `label`.
    fn slot(d: &mut Device, n: u32, start_mib: u64, size_mib: u64, label: &str) -> Device {
        d.table = Some(TableInfo::Gpt {
            header_used: HeaderUsed::Primary,
            other_header_valid: true,
        });
        let mut p = disk(&format!("{}{n}", d.name), size_mib * MIB);
        p.kind = DeviceKind::Partition;
        p.table = None;
        p.parent = Some(d.path.clone());
        p.partition_number = Some(n);
        p.start_bytes = Some(start_mib * MIB);
        p.gpt = Some(GptInfo {
            name: PartitionName::encode(label).unwrap(),
            unique_guid: Uuid::from_u128(u128::from(n) + 100),
            type_guid: types::LINUX_DATA,
        });
        p
    }

    fn req(mains: &[&str], slots: Option<SlotSize>) -> PrepareRequest {
        PrepareRequest {
            disks: mains.iter().map(|d| d.to_string()).collect(),
            all_bootstrap: false,
            store: None,
            journal: None,
            db: Some("nvme0n1".into()),
            wal: None,
            wipe: false,
            policy: DevicePolicy::default(),
            journal_size: 5 * GIB,
            wal_size: GIB,
            osd_id: None,
            device_class: None,
            db_slots: slots,
            wal_slots: None,
            crush_host: None,
            encrypt: false,
            tpm2_pcrs: None,
            jobs: None,
        }
    }

    /// A slot as `slot N new|table|reused SIZE_MIB free=K`.
    fn shown(plan: &OsdPlan, s: &FastSlot) -> String {
        let how = if s.reused {
            "reused"
        } else if plan.extra_disks.iter().any(|d| d.disk == s.disk) {
            "table"
        } else if plan
            .reuse
            .iter()
            .any(|r| r.new_entry && r.disk == s.disk && r.number == s.number)
        {
            "new"
        } else {
            "?"
        };
        format!(
            "slot {} {how} {} free={}",
            s.number,
            s.size_bytes / MIB,
            s.free_after
        )
    }

    /// Per entry: its db slot as `slot …` and its wal slot as `wal slot …` (joined by `; `),
    /// or the refusal.
    fn carve_up(devices: Vec<Device>, r: &PrepareRequest) -> Vec<String> {
        let snap = Snapshot { devices };
        let g = LabelGrammar::default();
        plan(&classify(&snap, &g), &g, r)
            .into_iter()
            .map(|e| match e {
                PlanEntry::Prepare { plan, .. } => {
                    let db = plan.db_slot.as_ref().map(|s| shown(&plan, s));
                    let wal = plan
                        .wal_slot
                        .as_ref()
                        .map(|s| format!("wal {}", shown(&plan, s)));
                    let both: Vec<String> = db.into_iter().chain(wal).collect();
                    assert!(!both.is_empty(), "a plan without a slot");
                    both.join("; ")
                }
                PlanEntry::Refused {
                    device,
                    reason,
                    usage,
                } => {
                    format!(
                        "{} {}: {reason}",
                        if usage { "usage" } else { "refused" },
                        device.display()
                    )
                }
                PlanEntry::Unchanged { .. } => "unchanged".into(),
            })
            .collect()
    }

    fn mains() -> Vec<Device> {
        ["sdb", "sdc", "sdd"]
            .iter()
            .map(|n| disk(n, 10 * GIB))
            .collect()
    }

    /// A 4 GiB fast disk whose slots 1 and 3 (1000 MiB each) hold osd.0's and osd.2's db.
    fn carved() -> Vec<Device> {
        let mut fast = disk("nvme0n1", 4 * GIB);
        let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_D");
        let p3 = slot(&mut fast, 3, 2001, 1000, "KOLLA_CEPH_DATA_BS_2_D");
        vec![fast, p1, p3]
    }

    type Case = (
        &'static str,
        fn() -> (Vec<Device>, PrepareRequest),
        &'static [&'static str],
    );

    const CASES: &[Case] = &[
        ("a blank fast disk in 4 slots for three OSDs: the first writes the table, the others add entries, one slot stays free", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            (d, req(&["sdb", "sdc", "sdd"], Some(SlotSize::Count(4))))
        }, &["slot 1 table 1023 free=3", "slot 2 new 1023 free=2", "slot 3 new 1023 free=1"]),
        ("slots of a given size", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            (d, req(&["sdb"], Some(SlotSize::Bytes(500 * MIB))))
        }, &["slot 1 table 500 free=7"]),
        ("three OSDs but two slots: all three refused before anything is written, saying what is left", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            (d, req(&["sdb", "sdc", "sdd"], Some(SlotSize::Count(2))))
        }, &[
            "refused /dev/sdb: --db /dev/nvme0n1 has 2 free slot(s) of 2047 MiB (0 in use) but this run needs 3",
            "refused /dev/sdc: --db /dev/nvme0n1 has 2 free slot(s)",
            "refused /dev/sdd: --db /dev/nvme0n1 has 2 free slot(s)",
        ]),
        ("a later OSD takes the free slot between two used ones, at their size, without --db-slots", || {
            let mut d = mains();
            d.extend(carved());
            (d, req(&["sdd"], None))
        }, &["slot 2 new 1000 free=1"]),
        ("a given-back slot is taken before the space after the last one", || {
            let mut d = mains();
            d.extend(carved());
            (d, req(&["sdc", "sdd"], None))
        }, &["slot 2 new 1000 free=1", "slot 4 new 1000 free=0"]),
        ("a replacement takes the destroyed OSD's own slot again in place", || {
            let mut d = mains();
            d.extend(carved());
            let mut r = req(&["sdd"], None);
            r.osd_id = Some(2);
            (d, r)
        }, &["slot 3 reused 1000 free=2"]),
        ("a slot to take again that the device policy excludes is refused", || {
            let mut d = mains();
            d.extend(carved());
            let mut r = req(&["sdd"], None);
            r.osd_id = Some(2);
            r.policy.deny = vec!["nvme0n13".into()];
            (d, r)
        }, &["refused /dev/nvme0n13: is excluded by the device policy"]),
        ("a free slot whose partition-to-be the device policy excludes is refused, not carved", || {
            let mut d = mains();
            d.extend(carved());
            let mut r = req(&["sdd"], None);
            r.policy.deny = vec!["/dev/nvme0n1p2".into()];
            (d, r)
        }, &["refused /dev/sdd: --db /dev/nvme0n1: its next free slot would be /dev/nvme0n1p2, which is excluded by the device policy"]),
        ("an interrupted run's slot (labelled for the OSD's group) is taken again, not a second one", || {
            let mut d = mains();
            let mut fast = disk("nvme0n1", 4 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_D");
            let p2 = slot(&mut fast, 2, 1001, 1000, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdc_D");
            d.extend([fast, p1, p2]);
            (d, req(&["sdc"], None))
        }, &["slot 2 reused 1000 free=2"]),
        ("a full fast disk is refused with the count of slots left", || {
            let mut d = mains();
            let mut fast = disk("nvme0n1", 2 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_D");
            let p2 = slot(&mut fast, 2, 1001, 1000, "KOLLA_CEPH_DATA_BS_1_D");
            d.extend([fast, p1, p2]);
            (d, req(&["sdd"], None))
        }, &["refused /dev/sdd: --db /dev/nvme0n1 has 0 free slot(s) of 1000 MiB (2 in use) but this run needs 1: name fewer disks, or free slots with `cephboot osd remove`"]),
        ("a fast disk with a partition that is not a block.db is not divided", || {
            let mut d = mains();
            let mut fast = disk("nvme0n1", 4 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_D");
            let p2 = slot(&mut fast, 2, 1001, 1000, "precious");
            d.extend([fast, p1, p2]);
            (d, req(&["sdd"], Some(SlotSize::Count(4))))
        }, &["refused /dev/sdd: --db /dev/nvme0n1 holds /dev/nvme0n12 which is not a block.db"]),
        ("several OSDs on one undivided --db disk: asked to say how to divide it", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            (d, req(&["sdb", "sdc"], None))
        }, &["usage /dev/sdb: --db /dev/nvme0n1 is named for the block.db of 2 OSDs: pass --db-slots N", "usage /dev/sdc: --db /dev/nvme0n1 is named for the block.db of 2 OSDs"]),
        ("--wal on the slotted disk", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            let mut r = req(&["sdb"], Some(SlotSize::Count(2)));
            r.wal = Some("nvme0n1".into());
            (d, r)
        }, &["usage /dev/sdb: --db /dev/nvme0n1 is divided into block.db slots and --wal names it too: BlueStore keeps its WAL on the block.db"]),
        ("slots too small for a block.db", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            (d, req(&["sdb"], Some(SlotSize::Count(1000))))
        }, &["usage /dev/sdb: --db /dev/nvme0n1: a slot would be 4 MiB"]),
        ("--db-slots with a partition for --db", || {
            let mut d = mains();
            let mut fast = disk("nvme0n1", 4 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "");
            d.extend([fast, p1]);
            let mut r = req(&["sdb"], Some(SlotSize::Count(2)));
            r.db = Some("nvme0n11".into());
            (d, r)
        }, &["usage /dev/sdb: --db /dev/nvme0n11 is a partition: --db-slots N (or --db-size) divides a whole disk"]),
        ("a fast disk holding a filesystem is divided only with --wipe", || {
            let mut d = mains();
            let mut fast = disk("nvme0n1", 4 * GIB);
            fast.signatures.push(cephboot_ffi::blkid::Signature {
                kind: "ext4".into(),
                usage: "filesystem".into(),
                label: None,
                label_raw: None,
                uuid: None,
                magic_offset: Some(1080),
                magic_len: 2,
                bad_checksum: false,
            });
            d.push(fast);
            (d, req(&["sdb"], Some(SlotSize::Count(2))))
        }, &["refused /dev/sdb: --db /dev/nvme0n1 cannot be divided into block.db slots (foreign", "pass --wipe to destroy it"]),
        ("a blank --wal disk in 4 slots for two OSDs, the db on the main disk", || {
            let mut d = mains();
            d.push(disk("nvme1n1", 4 * GIB));
            (d, wal_req(&["sdb", "sdc"], None, Some(4)))
        }, &["wal slot 1 table 1023 free=3", "wal slot 2 new 1023 free=2"]),
        ("wal slots of a given size (--wal-slot-size)", || {
            let mut d = mains();
            d.push(disk("nvme1n1", 4 * GIB));
            let mut r = wal_req(&["sdb"], None, None);
            r.wal_slots = Some(SlotSize::Bytes(512 * MIB));
            (d, r)
        }, &["wal slot 1 table 512 free=6"]),
        ("db slots on one fast disk and wal slots on a faster one", || {
            let mut d = mains();
            d.push(disk("nvme0n1", 4 * GIB));
            d.push(disk("nvme1n1", 2 * GIB));
            (d, wal_req(&["sdb", "sdc"], Some(SlotSize::Count(2)), Some(8)))
        }, &["slot 1 table 2047 free=1; wal slot 1 table 255 free=7", "slot 2 new 2047 free=0; wal slot 2 new 255 free=6"]),
        ("a later OSD takes the free wal slot between two used ones, without --wal-slots", || {
            let mut d = mains();
            let mut fast = disk("nvme1n1", 4 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_W");
            let p3 = slot(&mut fast, 3, 2001, 1000, "KOLLA_CEPH_DATA_BS_2_W");
            d.extend([fast, p1, p3]);
            (d, wal_req(&["sdd"], None, None))
        }, &["wal slot 2 new 1000 free=1"]),
        ("a replacement takes the destroyed OSD's own wal slot again in place", || {
            let mut d = mains();
            let mut fast = disk("nvme1n1", 4 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_W");
            let p3 = slot(&mut fast, 3, 2001, 1000, "KOLLA_CEPH_DATA_BS_2_W");
            d.extend([fast, p1, p3]);
            let mut r = wal_req(&["sdd"], None, None);
            r.osd_id = Some(2);
            (d, r)
        }, &["wal slot 3 reused 1000 free=2"]),
        ("a full --wal disk is refused with the count of slots left", || {
            let mut d = mains();
            let mut fast = disk("nvme1n1", 2 * GIB);
            let p1 = slot(&mut fast, 1, 1, 1000, "KOLLA_CEPH_DATA_BS_0_W");
            let p2 = slot(&mut fast, 2, 1001, 1000, "KOLLA_CEPH_DATA_BS_1_W");
            d.extend([fast, p1, p2]);
            (d, wal_req(&["sdd"], None, None))
        }, &["refused /dev/sdd: --wal /dev/nvme1n1 has 0 free slot(s) of 1000 MiB (2 in use) but this run needs 1"]),
        ("a --wal disk holding db slots is not divided into wal slots", || {
            let mut d = mains();
            d.extend(carved().into_iter().map(|mut x| {
                x.name = x.name.replace("nvme0", "nvme1");
                x.path = PathBuf::from(x.path.to_string_lossy().replace("nvme0", "nvme1"));
                x.parent = x.parent.map(|p| PathBuf::from(p.to_string_lossy().replace("nvme0", "nvme1")));
                x
            }));
            (d, wal_req(&["sdd"], None, Some(4)))
        }, &["refused /dev/sdd: --wal /dev/nvme1n1 holds /dev/nvme1n11 which is not a block.wal"]),
        ("several OSDs on one undivided --wal disk: asked to say how to divide it", || {
            let mut d = mains();
            d.push(disk("nvme1n1", 4 * GIB));
            (d, wal_req(&["sdb", "sdc"], None, None))
        }, &["usage /dev/sdb: --wal /dev/nvme1n1 is named for the block.wal of 2 OSDs: pass --wal-slots N", "usage /dev/sdc: --wal /dev/nvme1n1 is named for the block.wal of 2 OSDs"]),
        ("--wal-slots with --db naming the same disk", || {
            let mut d = mains();
            d.push(disk("nvme1n1", 4 * GIB));
            let mut r = wal_req(&["sdb"], None, Some(2));
            r.db = Some("nvme1n1".into());
            (d, r)
        }, &["usage /dev/sdb: --wal /dev/nvme1n1 is divided into block.wal slots and --db names it too"]),
    ];

    /// A request with `--wal nvme1n1` (and `--wal-slots`), `--db nvme0n1` only with `db_slots`.
    fn wal_req(
        mains: &[&str],
        db_slots: Option<SlotSize>,
        wal_slots: Option<u32>,
    ) -> PrepareRequest {
        let mut r = req(mains, db_slots);
        if db_slots.is_none() {
            r.db = None;
        }
        r.wal = Some("nvme1n1".into());
        r.wal_slots = wal_slots.map(SlotSize::Count);
        r
    }

    #[test]
    fn db_and_wal_slots_on_shared_fast_disks() {
        for (what, build, want) in CASES {
            let (devices, r) = build();
            let got = carve_up(devices, &r);
            let joined = got.join("\n");
            let slots_only = want
                .iter()
                .all(|w| w.starts_with("slot ") || w.starts_with("wal slot "));
            if slots_only {
                assert_eq!(&got, want, "{what}");
                continue;
            }
            for w in *want {
                assert!(joined.contains(w), "{what}: wanted {w:?} in\n{joined}");
            }
            if want
                .iter()
                .all(|w| w.starts_with("refused") || w.starts_with("usage"))
                && want.len() > 1
            {
                assert_eq!(got.len(), want.len(), "{what}: {joined}");
            }
        }
    }
}
