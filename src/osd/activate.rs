//! `osd activate`: finds prepared OSDs by their partition labels (no udev, no LVM tags),
//! makes the kernel see their partitions, rebuilds the OSD directory (bluestore: from the
//! BlueStore label with `ceph-bluestore-tool prime-osd-dir`, links to the partition nodes;
//! filestore: mounts the xfs data partition, links the journal), and starts `ceph-osd` —
//! daemonised with a pidfile, or in the foreground in place of this process (`--exec`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::prepare::{is_mountpoint, link, sync_to_table};
use crate::action::Action;
use crate::ceph::client::CephClient;
use crate::ceph::commands;
use crate::ceph::conf::CephConf;
use crate::cluster::daemons;
use crate::disk::classify::{Classified, State};
use crate::disk::inventory::{Device, Snapshot};
use crate::disk::label::{Role, Store};
use crate::disk::lock::LockedDisk;
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// Who made an OSD, as its devices show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Partitions named by Kolla's convention on a disk whose GPT disk GUID is its cluster's
    /// fsid (what cephboot's `osd prepare` writes).
    Cephboot,
    /// Partitions named by Kolla's convention on a disk cephboot did not lay out (Kolla's own
    /// bootstrap, or an older tool following it).
    Kolla,
    /// A BlueStore label on a whole device or an unnamed partition (`ceph-volume raw`).
    CephVolumeRaw,
    /// Logical volumes tagged `ceph.*` (`ceph-volume lvm`).
    CephVolumeLvm,
    /// An xfs OSD directory on a partition of Ceph's OSD type (`ceph-disk prepare`).
    CephDisk,
}

impl Origin {
    /// As `osd list` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Cephboot => "cephboot",
            Origin::Kolla => "kolla",
            Origin::CephVolumeRaw => "ceph-volume-raw",
            Origin::CephVolumeLvm => "ceph-volume-lvm",
            Origin::CephDisk => "ceph-disk",
        }
    }
}

/// A prepared OSD found on this host's disks.
#[derive(Debug, Clone, Serialize)]
pub struct FoundOsd {
    /// Id.
    pub osd_id: u32,
    /// Who made it (for OSDs found by partition labels, refined by [`origin_of`]).
    pub origin: Origin,
    /// Object store.
    pub store: Store,
    /// Partitions by role.
    pub partitions: BTreeMap<&'static str, PathBuf>,
    /// PARTUUID of the main partition (the OSD uuid).
    pub osd_uuid: Option<String>,
    /// Set when several disks claim this id (left over from another cluster, say): the OSD
    /// is not started, rather than started with partitions picked by guess.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// Its devices are LUKS devices (a `crypto_LUKS` signature on the partitions): opened
    /// under its key before `ceph-osd` starts.
    pub encrypted: bool,
    #[serde(skip)]
    main: Option<Device>,
    #[serde(skip)]
    members: Vec<Device>,
    /// The dm-crypt mapping name of each role where it is not the partition's PARTUUID
    /// (ceph-volume lvm: the LV's uuid).
    #[serde(skip)]
    mappings: BTreeMap<&'static str, String>,
    /// The cluster it belongs to, where its devices say so outside any label (ceph-volume
    /// lvm's `ceph.cluster_fsid` tag).
    #[serde(skip)]
    tagged_fsid: Option<String>,
    /// An encrypted OSD's lockbox secret where its devices keep it (ceph-volume lvm's
    /// `ceph.cephx_lockbox_secret` tag): its `lockbox.keyring` is written from it, as
    /// ceph-volume writes it at each activation into its tmpfs directory.
    #[serde(skip)]
    lockbox_secret: Option<String>,
}

impl FoundOsd {
    /// An OSD known only by its partitions (no devices read).
    pub fn with_partitions(
        osd_id: u32,
        store: Store,
        partitions: BTreeMap<&'static str, PathBuf>,
    ) -> Self {
        FoundOsd {
            osd_id,
            origin: Origin::Cephboot,
            store,
            partitions,
            osd_uuid: None,
            conflict: None,
            encrypted: false,
            main: None,
            members: Vec::new(),
            mappings: BTreeMap::new(),
            tagged_fsid: None,
            lockbox_secret: None,
        }
    }

    /// An OSD `ceph-volume lvm` made (crate::osd::lvm), before its volumes are added.
    pub fn lvm(osd_id: u32, osd_uuid: &str, cluster_fsid: &str, encrypted: bool) -> Self {
        let mut o = FoundOsd::with_partitions(osd_id, Store::Bluestore, BTreeMap::new());
        o.origin = Origin::CephVolumeLvm;
        o.osd_uuid = Some(osd_uuid.to_string());
        o.tagged_fsid = Some(cluster_fsid.to_string()).filter(|f| !f.is_empty());
        o.encrypted = encrypted;
        o
    }

    /// The lockbox secret its devices keep (ceph-volume lvm's block tag), when not empty.
    pub fn set_lockbox_secret(&mut self, secret: &str) {
        self.lockbox_secret = Some(secret.to_string()).filter(|s| !s.is_empty());
    }

    /// Whether its devices keep its lockbox secret.
    pub fn keeps_lockbox_secret(&self) -> bool {
        self.lockbox_secret.is_some()
    }

    /// One of an lvm OSD's volumes: its path under `role`, its mapping named after the LV's
    /// uuid, and the host's device it resolves to (the block's is the main device).
    pub fn add_lvm_volume(
        &mut self,
        role: Role,
        volume: &super::lvm::Volume,
        device: Option<Device>,
    ) {
        self.partitions
            .insert(role.as_str(), volume.lv_path.clone());
        self.mappings.insert(role.as_str(), volume.lv_uuid.clone());
        if let Some(d) = device {
            if role == Role::Bluestore {
                self.main = Some(d.clone());
            }
            self.members.push(d);
        }
    }

    /// An OSD `ceph-volume raw` made: its main device, by its BlueStore label.
    pub fn raw(osd_id: u32, osd_uuid: &str, main: &Device) -> Self {
        let mut o = FoundOsd::with_partitions(osd_id, Store::Bluestore, BTreeMap::new());
        o.origin = Origin::CephVolumeRaw;
        o.osd_uuid = Some(osd_uuid.to_string());
        o.partitions
            .insert(Role::Bluestore.as_str(), main.path.clone());
        o.main = Some(main.clone());
        o.members.push(main.clone());
        o
    }

    /// An OSD `ceph-disk prepare` made (crate::osd::ceph_disk): its xfs data partition under
    /// `role`, before its partners are added.
    pub fn ceph_disk(
        osd_id: u32,
        store: Store,
        osd_uuid: &str,
        cluster_fsid: Option<&str>,
        role: Role,
        data: &Device,
    ) -> Self {
        let mut o = FoundOsd::with_partitions(osd_id, store, BTreeMap::new());
        o.origin = Origin::CephDisk;
        o.osd_uuid = Some(osd_uuid.to_string());
        o.tagged_fsid = cluster_fsid.map(str::to_string);
        o.partitions.insert(role.as_str(), data.path.clone());
        o.main = Some(data.clone());
        o.members.push(data.clone());
        o
    }

    /// A raw OSD's db or wal device.
    pub fn add_raw_partner(&mut self, d: &Device, role: Role) {
        add_partner(self, d, role);
    }

    /// Whether `path` is one of its devices.
    pub fn has_member(&self, path: &Path) -> bool {
        self.members.iter().any(|m| m.path == path)
    }

    /// Its main device's node.
    pub fn main_path(&self) -> Option<&Path> {
        self.main.as_ref().map(|m| m.path.as_path())
    }
}

/// Every prepared OSD on this host's disks: those found by their partition labels
/// ([`find_prepared`]), then those `ceph-volume raw` made for cluster `fsid` ([`super::raw`]),
/// by id.
pub fn find_on_host(
    snapshot: &Snapshot,
    classified: &[Classified<'_>],
    fsid: Option<&str>,
) -> Vec<FoundOsd> {
    let found = find_prepared(snapshot, classified, &label_osd_uuid);
    // ceph-disk's before the raw ones: its block partition carries a BlueStore label too.
    let mut others = super::ceph_disk::find(snapshot, &found, fsid);
    let claimed: Vec<FoundOsd> = found.iter().chain(others.iter()).cloned().collect();
    others.extend(super::raw::find(
        snapshot,
        &claimed,
        fsid,
        &read_device_label,
    ));
    others.extend(super::lvm::find(snapshot, fsid));
    let mut all = merge_marking_conflicts(found, others);
    all.sort_by_key(|o| o.osd_id);
    all
}

/// `found` and `others` together (pure); where an id is claimed by OSDs of different uuids
/// across them (a volume ceph-volume left behind when its OSD was purged, and a new OSD that
/// took the id), every claimant is marked a conflict: started by guess, the wrong one would
/// run under the id.
pub fn merge_marking_conflicts(mut found: Vec<FoundOsd>, others: Vec<FoundOsd>) -> Vec<FoundOsd> {
    let start = found.len();
    found.extend(others);
    let describe = |o: &FoundOsd| {
        format!(
            "{} ({}, uuid {})",
            o.partitions
                .values()
                .next()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            o.origin.as_str(),
            o.osd_uuid.as_deref().unwrap_or("?")
        )
    };
    for i in start..found.len() {
        for j in 0..found.len() {
            let (Some(a), Some(b)) = (found.get(i), found.get(j)) else {
                continue;
            };
            if i == j || a.osd_id != b.osd_id || a.osd_uuid == b.osd_uuid {
                continue;
            }
            let why = format!(
                "osd.{} is claimed by {} and by {}: remove the stale one (its OSD no longer exists) before starting either",
                a.osd_id,
                describe(a),
                describe(b)
            );
            for k in [i, j] {
                if let Some(o) = found.get_mut(k) {
                    o.conflict.get_or_insert_with(|| why.clone());
                }
            }
        }
    }
    found
}

/// Who made a labelled OSD (pure): cephboot when the GPT disk GUID of its main partition's
/// disk is the cluster's fsid (`fsid`: its BlueStore label's, else this cluster's), Kolla
/// otherwise. A raw OSD keeps its origin.
pub fn origin_of(osd: &FoundOsd, disk_guid: Option<uuid::Uuid>, fsid: Option<&str>) -> Origin {
    if matches!(
        osd.origin,
        Origin::CephVolumeRaw | Origin::CephVolumeLvm | Origin::CephDisk
    ) {
        return osd.origin;
    }
    let ours = fsid.and_then(|f| uuid::Uuid::parse_str(f).ok());
    match (disk_guid, ours) {
        (Some(g), Some(f)) if g == f => Origin::Cephboot,
        _ => Origin::Kolla,
    }
}

/// Prepared OSDs on this host, from the labels. Partitions are grouped by OSD id and by the
/// disk GUID cephboot writes (the cluster fsid), so the same id left on a disk of another
/// cluster stays apart; where several disks claim the id, a BlueStore partner (`_B`, `_D`,
/// `_W`) goes to the main partition that carries the OSD uuid of its label
/// (`osd_uuid_in_label`, read only then), wherever its disk came from. A partner that cannot
/// be placed unambiguously marks a conflict.
pub fn find_prepared(
    snapshot: &Snapshot,
    classified: &[Classified<'_>],
    osd_uuid_in_label: &dyn Fn(&Device) -> Option<uuid::Uuid>,
) -> Vec<FoundOsd> {
    let mut entries: Vec<Entry> = Vec::new();
    let members: Vec<(&Device, u32, Role)> = classified
        .iter()
        .filter(|c| {
            // By label: a prepared partition may also be in use (mounted at its OSD dir).
            matches!(c.state(), State::Prepared | State::InUse)
                && c.device.kind == crate::disk::inventory::DeviceKind::Partition
        })
        .filter_map(|c| Some((c.device, c.verdict.osd_id()?, c.verdict.role()?)))
        .collect();
    let guid_of = |d: &Device| {
        d.parent
            .as_deref()
            .and_then(|p| snapshot.find(p))
            .and_then(|disk| disk.disk_guid)
    };
    // Main partitions first: one entry each.
    for (d, id, role) in members.iter().filter(|(_, _, r)| r.is_primary()) {
        let key = guid_of(d);
        if let Some((_, e)) = entries
            .iter_mut()
            .find(|(k, e)| e.osd_id == *id && *k == key)
        {
            e.conflict = Some(format!(
                "{} and {} both carry the main label of osd.{id}: zap the one that is not this cluster's",
                e.main.as_ref().map(|m| m.path.display().to_string()).unwrap_or_default(),
                d.path.display()
            ));
            continue;
        }
        let mut e = FoundOsd::with_partitions(*id, role.store(), BTreeMap::new());
        e.partitions.insert(role.as_str(), d.path.clone());
        e.osd_uuid = d.gpt.as_ref().map(|g| g.unique_guid.to_string());
        e.main = Some((*d).clone());
        e.members.push((*d).clone());
        entries.push((key, e));
    }
    for (d, id, role) in members.iter().filter(|(_, _, r)| !r.is_primary()) {
        let key = guid_of(d);
        let by_label = || {
            (role.store() == Store::Bluestore)
                .then(|| osd_uuid_in_label(d))
                .flatten()
        };
        match partner_target(&entries, *id, key, &by_label) {
            Target::Entry(i) => {
                if let Some((_, e)) = entries.get_mut(i) {
                    add_partner(e, d, *role);
                }
            }
            Target::New => {
                let mut e = FoundOsd::with_partitions(*id, role.store(), BTreeMap::new());
                add_partner(&mut e, d, *role);
                entries.push((key, e));
            }
            Target::Ambiguous => {
                for (_, e) in entries.iter_mut().filter(|(_, e)| e.osd_id == *id) {
                    e.conflict = Some(format!("{} ({} of osd.{id}) cannot be told apart between the disks that claim osd.{id}", d.path.display(), role.as_str()));
                }
            }
        }
    }
    let mut out: Vec<FoundOsd> = entries.into_iter().map(|(_, e)| e).collect();
    for e in &mut out {
        e.encrypted = e.members.iter().any(is_luks);
    }
    out.sort_by_key(|e| e.osd_id);
    out
}

impl FoundOsd {
    /// The dm-crypt mapping names of its devices (`/dev/mapper/<partuuid>`; an lvm OSD's
    /// after its LVs' uuids).
    pub fn mapping_names(&self) -> Vec<String> {
        if !self.mappings.is_empty() {
            return self.mappings.values().cloned().collect();
        }
        self.members
            .iter()
            .filter_map(|m| m.gpt.as_ref())
            .map(|g| crate::crypt::luks::mapping_name(&g.unique_guid))
            .collect()
    }
}

/// Whether libblkid found a LUKS header on the device.
pub fn is_luks(d: &Device) -> bool {
    d.signatures.iter().any(|s| s.kind == "crypto_LUKS")
}

/// How long an encrypted OSD's start waits for the monitors to hand out its key (at boot they
/// may have no quorum yet), retrying and logging each attempt, before it fails.
const KEY_WAIT: Duration = Duration::from_secs(300);

/// Opens an encrypted OSD's devices as one unit (all or none), under the key its lockbox reads
/// from the monitors: the mapper path of each role.
fn unlock(env: &Env<'_>, osd: &FoundOsd, dir: &Path) -> Result<BTreeMap<&'static str, PathBuf>> {
    let uuid = osd.osd_uuid.clone().ok_or_else(|| {
        Error::NotFound(format!(
            "osd.{}: the uuid of its main partition, which names its key",
            osd.osd_id
        ))
    })?;
    let mut devices: Vec<(&'static str, PathBuf, String)> = Vec::new();
    for (role, node) in &osd.partitions {
        if let Some(name) = osd.mappings.get(role) {
            devices.push((role, node.clone(), name.clone()));
            continue;
        }
        let partuuid = osd
            .members
            .iter()
            .find(|m| &m.path == node)
            .and_then(|m| m.gpt.as_ref())
            .map(|g| g.unique_guid)
            .ok_or_else(|| Error::NotFound(format!("the PARTUUID of {}", node.display())))?;
        devices.push((
            role,
            node.clone(),
            crate::crypt::luks::mapping_name(&partuuid),
        ));
    }
    let opts = crate::ceph::client::ConnectOptions {
        cluster: env.cluster.to_string(),
        conf: env.conf.path.clone(),
        name: crate::crypt::custody::lockbox_entity(&uuid),
        keyring: None,
        timeout: Duration::from_secs(30),
    };
    // The key is needed only when a mapping is not open yet.
    if devices
        .iter()
        .all(|(_, _, name)| crate::crypt::luks::is_open(name))
    {
        return Ok(devices
            .into_iter()
            .map(|(role, _, name)| (role, crate::crypt::luks::mapper_path(&name)))
            .collect());
    }
    let pairs: Vec<(PathBuf, String)> = devices
        .iter()
        .map(|(_, node, name)| (node.clone(), name.clone()))
        .collect();
    let by_role = |paths: Vec<PathBuf>| {
        devices
            .iter()
            .map(|(role, _, _)| *role)
            .zip(paths)
            .collect::<BTreeMap<_, _>>()
    };
    if env.recovery_key.is_none() {
        if let Some(paths) = unlock_with_tpm2(osd.osd_id, &pairs) {
            return Ok(by_role(paths));
        }
    }
    let step = crate::progress::step(format!(
        "unlocking osd.{} ({} devices)",
        osd.osd_id,
        devices.len()
    ));
    let key = match env.recovery_key {
        Some(file) => crate::crypt::recovery::read_key_file(file),
        None => {
            use crate::crypt::custody::{self, Restorer};
            if let Some(secret) = osd
                .lockbox_secret
                .as_deref()
                .filter(|secret| !custody::lockbox_keyring_is(dir, &uuid, secret))
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                custody::write_lockbox_keyring(dir, &uuid, secret)?;
                tracing::info!(
                    osd = osd.osd_id,
                    "lockbox keyring written from the volume's ceph.cephx_lockbox_secret tag"
                );
            }
            let restorer = match env.admin_on_demand {
                Some(admin) => Restorer::Connect(admin),
                None => Restorer::Client(env.client),
            };
            custody::fetch_key(restorer, &opts, dir, &uuid, KEY_WAIT)
        }
    };
    let key = step.end(key)?;
    let paths = crate::crypt::luks::open_all(&pairs, &key)?;
    Ok(by_role(paths))
}

/// Opens every device of the OSD through its TPM2 keyslot, without the monitors, when every
/// one has such a keyslot (`osd prepare --tpm2`, `osd key tpm2`); all or none. `None` (logged)
/// when a device has none or the TPM does not unseal one (the PCRs it is bound to changed, the
/// TPM was cleared): the monitors' key is used then.
fn unlock_with_tpm2(osd_id: u32, pairs: &[(PathBuf, String)]) -> Option<Vec<PathBuf>> {
    use crate::crypt::tpm2;
    let enrolled = pairs
        .iter()
        .all(|(node, _)| tpm2::token_count(node).map(|n| n > 0).unwrap_or(false));
    if !enrolled {
        return None;
    }
    let step = crate::progress::step(format!(
        "unlocking osd.{osd_id} ({} devices) with the TPM",
        pairs.len()
    ));
    match step.end(crate::crypt::luks::open_all_with(pairs, tpm2::open)) {
        Ok(paths) => {
            tracing::info!(osd = osd_id, "unlocked with the TPM");
            Some(paths)
        }
        Err(e) => {
            tracing::warn!(osd = osd_id, error = %e, "the TPM did not unlock the OSD; using the monitors' key");
            None
        }
    }
}

/// An OSD found so far, with the disk GUID of its main partition's disk.
type Entry = (Option<uuid::Uuid>, FoundOsd);

/// Where a partner partition goes among the entries found so far.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// To this entry.
    Entry(usize),
    /// To a new entry (its main partition was not found).
    New,
    /// Several entries could own it.
    Ambiguous,
}

/// The partner goes to the entry of the same id on a disk of the same cluster (disk GUID),
/// else to the only entry of that id; between several, to the one whose main partition
/// carries the OSD uuid of the partner's BlueStore label. The label only breaks ties: an OSD
/// prepared by Kolla's own bootstrap has a main partition of random PARTUUID.
fn partner_target(
    entries: &[Entry],
    id: u32,
    key: Option<uuid::Uuid>,
    by_label: &dyn Fn() -> Option<uuid::Uuid>,
) -> Target {
    let of_id = |keep: &dyn Fn(&Entry) -> bool| -> Vec<usize> {
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.1.osd_id == id && keep(e))
            .map(|(i, _)| i)
            .collect()
    };
    let carries = |uuid: uuid::Uuid| {
        move |(_, e): &Entry| {
            e.osd_uuid
                .as_deref()
                .and_then(|u| uuid::Uuid::parse_str(u).ok())
                == Some(uuid)
        }
    };
    match (
        of_id(&|(k, _)| *k == key).as_slice(),
        of_id(&|_| true).as_slice(),
    ) {
        (_, []) => Target::New,
        ([i], _) | ([], [i]) => Target::Entry(*i),
        _ => match by_label().map(|u| of_id(&carries(u))).as_deref() {
            Some([i]) => Target::Entry(*i),
            _ => Target::Ambiguous,
        },
    }
}

/// Records a partner partition in its OSD's entry (a second one of the same role is a
/// conflict).
fn add_partner(e: &mut FoundOsd, d: &Device, role: Role) {
    let id = e.osd_id;
    if let Some(other) = e.partitions.get(role.as_str()).filter(|p| **p != d.path) {
        e.conflict = Some(format!(
            "{} and {} both carry the {} label of osd.{id}",
            other.display(),
            d.path.display(),
            role.as_str()
        ));
    }
    e.partitions.insert(role.as_str(), d.path.clone());
    e.members.push(d.clone());
}

/// The OSD uuid of the BlueStore label at the start of a partition (block, block.db and
/// block.wal all carry one), read through its disk at the partition's offset: the partition
/// may have no node yet (a kernel without a GPT parser after a reboot). None when there is no
/// label or it cannot be read.
pub fn label_osd_uuid(d: &Device) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(&read_bluestore_label(d)?.osd_uuid).ok()
}

fn read_bluestore_label(d: &Device) -> Option<crate::disk::bluestore::BluestoreLabel> {
    crate::disk::bluestore::read_at(d.parent.as_deref()?, d.start_bytes?)
}

/// The BlueStore label of a device: a partition's through its disk, a whole disk's at its
/// start.
pub fn read_device_label(d: &Device) -> Option<crate::disk::bluestore::BluestoreLabel> {
    if d.kind == crate::disk::inventory::DeviceKind::Partition {
        return read_bluestore_label(d);
    }
    crate::disk::bluestore::read_at(&d.path, 0)
}

/// What activation needs.
#[derive(Debug)]
pub struct Env<'a> {
    /// The cluster, to wait for the OSD to come up.
    pub client: &'a dyn CephClient,
    /// Its config.
    pub conf: &'a CephConf,
    /// Cluster name.
    pub cluster: &'a str,
    /// How long to wait for `up`.
    pub wait_up: Duration,
    /// Report `would_start` instead of starting.
    pub dry_run: bool,
    /// Where systemd supervises the host's daemons: what its OSD units are written with
    /// (`None`: cephboot starts `ceph-osd` itself, found again by its pidfile).
    pub units: Option<crate::supervise::units::UnitSettings>,
    /// An encrypted OSD is opened with this recovery key file, not the monitors' key.
    pub recovery_key: Option<&'a Path>,
    /// Where `client` connects to nothing (the boot-time `--exec` start): the configured
    /// client's options, connected only to restore a missing lockbox keyring, waiting for
    /// the monitors as the key's read does.
    pub admin_on_demand: Option<&'a crate::ceph::client::ConnectOptions>,
}

/// One OSD's activation.
#[derive(Debug, Clone, Serialize)]
pub struct Activated {
    /// Id.
    pub osd_id: u32,
    /// `started`, `unchanged` (already running), `would_start` (dry run), `skipped` (another
    /// cluster's), or `failed`.
    pub action: Action,
    /// ceph-osd's pid.
    pub pid: Option<u32>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The systemd unit that runs it, where systemd supervises the host's daemons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `--osd-journal PARTITION` for a FileStore OSD whose directory's `journal` link does not lead
/// to its journal partition (Kolla's has none: Kolla passes the flag itself; ceph-disk's leads
/// by PARTUUID, through udev; cephboot's own names a node that may have moved at boot); empty
/// when the link holds, and for BlueStore. Nothing on the data partition is rewritten for it.
pub fn journal_arg(osd: &FoundOsd, dir: &Path) -> Vec<String> {
    match osd.partitions.get(Role::FilestoreJournal.as_str()) {
        Some(j)
            if osd.store == Store::Filestore && !super::ceph_disk::journal_link_holds(dir, j) =>
        {
            vec!["--osd-journal".into(), j.display().to_string()]
        }
        _ => Vec::new(),
    }
}

/// Makes the OSD's partitions visible to the kernel and its directory ready. Returns the dir.
pub fn prepare_dir(env: &Env<'_>, osd: &FoundOsd, snapshot: &Snapshot) -> Result<PathBuf> {
    let main = osd.main.as_ref().ok_or_else(|| {
        Error::NotFound(format!(
            "osd.{}: its main partition was not found",
            osd.osd_id
        ))
    })?;
    // A partition only in the on-disk table (after a reboot on a kernel without a GPT parser,
    // or before udev ran): tell the kernel first.
    let mut disks: Vec<PathBuf> = osd
        .members
        .iter()
        .filter(|m| !m.in_kernel)
        .filter_map(|m| m.parent.clone())
        .collect();
    disks.dedup();
    for disk in disks {
        let name = snapshot
            .find(&disk)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let lock = LockedDisk::open(&disk, &name, Duration::from_secs(10))?;
        sync_to_table(&lock)?;
    }
    let dir = env.conf.osd_data(env.cluster, osd.osd_id);
    std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
    let dir_s = dir.display().to_string();
    // An encrypted OSD's devices are its open mappings.
    let opened = if osd.encrypted && osd.store == Store::Bluestore {
        Some(unlock(env, osd, &dir)?)
    } else {
        None
    };
    let device_of = |role: Role| -> Option<PathBuf> {
        match &opened {
            Some(m) => m.get(role.as_str()).cloned(),
            None => osd.partitions.get(role.as_str()).cloned(),
        }
    };
    match osd.store {
        Store::Bluestore => {
            // BlueStore's label is on the block: an external `_B` partition, else the main.
            let block = device_of(Role::BluestoreBlock)
                .or_else(|| device_of(Role::Bluestore))
                .unwrap_or_else(|| main.path.clone());
            exec::run(
                "ceph-bluestore-tool",
                &[
                    "prime-osd-dir",
                    "--dev",
                    &block.display().to_string(),
                    "--path",
                    &dir_s,
                    "--no-mon-config",
                ],
                None,
                Duration::from_secs(120),
            )?;
            // Kolla's own BlueStore layout keeps the OSD's key only on its xfs main partition.
            if !dir.join("keyring").exists() && super::kolla::keeps_the_key(main, &block) {
                super::kolla::copy_keyring(main, &dir)?;
            }
            link(&block, &dir.join("block"))?;
            for (role, file) in [
                (Role::BluestoreDb, "block.db"),
                (Role::BluestoreWal, "block.wal"),
            ] {
                if let Some(p) = device_of(role) {
                    link(&p, &dir.join(file))?;
                }
            }
        }
        Store::Filestore => {
            if !is_mountpoint(&dir) {
                exec::run(
                    "mount",
                    &[
                        "-o",
                        "noatime,inode64",
                        &main.path.display().to_string(),
                        &dir_s,
                    ],
                    None,
                    Duration::from_secs(60),
                )?;
            }
            // The journal is checked here; the daemon is told where it is (journal_arg), so
            // the data partition's own files are never rewritten to start it.
            osd.partitions
                .get(Role::FilestoreJournal.as_str())
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "osd.{}: its journal partition (_J) was not found",
                        osd.osd_id
                    ))
                })?;
        }
    }
    Ok(dir)
}

/// The fsid of the cluster an OSD belongs to: from the BlueStore label of its block (the main
/// device, or its `_B` partition), from a FileStore OSD's own `ceph_fsid` file (read where its
/// xfs is mounted, or read-only: crate::osd::xfs_dir), from the GPT disk GUID cephboot sets on
/// the disks it lays out (an encrypted OSD's, a FileStore one whose directory cannot be read),
/// or from ceph-volume lvm's `ceph.cluster_fsid` tag (ceph-disk's `ceph_fsid`).
pub fn owner_fsid(osd: &FoundOsd, snapshot: &Snapshot) -> Option<String> {
    if let Some(f) = &osd.tagged_fsid {
        return Some(f.clone());
    }
    let main = osd.main.as_ref()?;
    // The label is on the block: an external `_B` partition when there is one.
    let block = osd
        .partitions
        .get(Role::BluestoreBlock.as_str())
        .and_then(|b| osd.members.iter().find(|m| &m.path == b))
        .unwrap_or(main);
    let from_xfs = || {
        let files = super::xfs_dir::read_files(main, &["ceph_fsid"]).ok()?;
        super::xfs_dir::text(&files, "ceph_fsid").map(|f| f.to_ascii_lowercase())
    };
    match (osd.store, osd.encrypted) {
        (Store::Bluestore, false) => read_device_label(block)?.ceph_fsid,
        // FileStore: the `ceph_fsid` its directory keeps (Kolla's own disks carry no fsid in
        // their GPT), else the disk GUID cephboot sets to the cluster's fsid.
        (Store::Filestore, _) => from_xfs().or_else(|| {
            snapshot
                .find(main.parent.as_deref()?)?
                .disk_guid
                .map(|g| g.to_string())
        }),
        // An encrypted OSD (its BlueStore label is inside the encryption): the GPT disk GUID
        // cephboot sets to the cluster's fsid.
        _ => snapshot
            .find(main.parent.as_deref()?)?
            .disk_guid
            .map(|g| g.to_string()),
    }
}

/// Starts the OSD as a daemon (its unit, or `ceph-osd` with a pidfile), without waiting:
/// `started` OSDs are then waited for all at once (`wait_all_up`). An OSD of another cluster
/// is skipped.
fn start(env: &Env<'_>, osd: &FoundOsd, snapshot: &Snapshot) -> Activated {
    if let Some(c) = &osd.conflict {
        return Activated {
            osd_id: osd.osd_id,
            action: Action::Failed,
            pid: None,
            error: Some(c.clone()),
            unit: None,
        };
    }
    let ours = env.conf.fsid();
    let skip = |why: String| Activated {
        osd_id: osd.osd_id,
        action: Action::Skipped,
        pid: None,
        error: Some(why),
        unit: None,
    };
    let theirs = owner_fsid(osd, snapshot);
    if let (Some(theirs), Some(ours)) = (other_cluster(theirs.clone(), ours), ours) {
        return skip(format!(
            "belongs to cluster {theirs}, not to this cluster ({ours})"
        ));
    }
    // A BlueStore OSD whose label cannot be read cannot be started, and may not be ours.
    if theirs.is_none() && osd.store == Store::Bluestore {
        return skip("its BlueStore label cannot be read (the device went away?)".into());
    }
    let pidfile = env.conf.osd_pidfile(env.cluster, osd.osd_id);
    if let Some(settings) = &env.units {
        return start_under_systemd(env, osd, settings, &pidfile);
    }
    if let Some(pid) = daemons::running_pid(&pidfile, "ceph-osd") {
        return Activated {
            osd_id: osd.osd_id,
            action: Action::Unchanged,
            pid: Some(pid),
            error: None,
            unit: None,
        };
    }
    if env.dry_run {
        return Activated {
            osd_id: osd.osd_id,
            action: Action::WouldStart,
            pid: None,
            error: None,
            unit: None,
        };
    }
    let result = (|| {
        let dir = prepare_dir(env, osd, snapshot)?;
        let journal = journal_arg(osd, &dir);
        let conf = env.conf.path.display().to_string();
        let id = osd.osd_id.to_string();
        // The pidfile is passed explicitly: Ceph writes none unless its config names one, and
        // without it a rerun could not tell that this OSD already runs.
        if let Some(dir) = pidfile.parent() {
            std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
        }
        let pid_s = pidfile.display().to_string();
        let mut args = vec![
            "--cluster",
            env.cluster,
            "-c",
            &conf,
            "-i",
            &id,
            "--pid-file",
            &pid_s,
        ];
        args.extend(journal.iter().map(String::as_str));
        exec::start_daemon("ceph-osd", &args, Duration::from_secs(120))
            .map(drop)
            .map_err(|e| Error::Device {
                device: PathBuf::from(format!("osd.{id}")),
                message: format!(
                    "{e}; see {}",
                    env.conf.osd_log(env.cluster, osd.osd_id).display()
                ),
            })
    })();
    match result {
        Ok(()) => Activated {
            osd_id: osd.osd_id,
            action: Action::Started,
            pid: daemons::running_pid(&pidfile, "ceph-osd"),
            error: None,
            unit: None,
        },
        Err(e) => Activated {
            osd_id: osd.osd_id,
            action: Action::Failed,
            pid: None,
            error: Some(e.to_string()),
            unit: None,
        },
    }
}

/// How many OSDs are launched at once where cephboot starts `ceph-osd` itself: a daemonising
/// `ceph-osd` returns only once its daemon has initialised (about 2 s, mostly waiting on its
/// store and the monitors), so launched one after another 60 OSDs took 122 s to start where
/// side by side they take 6.5 s (bench/RESULTS.md §2c); 16 at a time took 11 s. The bound
/// only caps cephboot's threads: a host's OSDs all initialise at once at boot anyway.
const LAUNCHES_AT_ONCE: usize = 64;

/// Starts each of `chosen` not `skipped` ([`start`]), the outcomes in `chosen`'s order. Under
/// systemd one after another (each unit's install reloads systemd; `systemctl start` returns
/// at once and the units' daemons initialise side by side anyway); otherwise up to
/// [`LAUNCHES_AT_ONCE`] side by side, except OSDs that share a disk (their partitions may be
/// synced into the kernel's table under the disk's lock) or an id (two disks claiming one id
/// share its directory; the second finds the first running): those one after another.
fn start_each(
    env: &Env<'_>,
    chosen: &[&FoundOsd],
    skipped: Vec<Option<Activated>>,
    snapshot: &Snapshot,
) -> Vec<Activated> {
    let jobs = if env.units.is_some() || env.dry_run {
        1
    } else {
        LAUNCHES_AT_ONCE
    };
    let to_start: Vec<usize> = skipped
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i)
        .collect();
    let shared: Vec<Vec<PathBuf>> = to_start
        .iter()
        .filter_map(|&i| chosen.get(i))
        .map(|o| start_keys(o, snapshot))
        .collect();
    let groups: Vec<Vec<(usize, &FoundOsd)>> = super::batch::serial_groups(&shared)
        .into_iter()
        .map(|g| {
            g.into_iter()
                .filter_map(|k| to_start.get(k))
                .filter_map(|&i| chosen.get(i).map(|o| (i, *o)))
                .collect()
        })
        .collect();
    let mut started: BTreeMap<usize, Activated> =
        super::batch::run_groups(&groups, jobs, |o| start(env, o, snapshot))
            .into_iter()
            .collect();
    chosen
        .iter()
        .zip(skipped)
        .enumerate()
        .map(|(i, (o, skip))| {
            skip.or_else(|| started.remove(&i)).unwrap_or(Activated {
                osd_id: o.osd_id,
                action: Action::Failed,
                pid: None,
                error: Some("its start was not attempted".into()),
                unit: None,
            })
        })
        .collect()
}

/// What OSDs started side by side must not share (pure): the whole disks of its devices (a
/// device's own path where the snapshot does not know it) and its id.
fn start_keys(o: &FoundOsd, snapshot: &Snapshot) -> Vec<PathBuf> {
    let mut keys: Vec<PathBuf> = o
        .partitions
        .values()
        .map(|p| {
            snapshot
                .find(p)
                .and_then(|d| d.parent.clone())
                .unwrap_or_else(|| p.clone())
        })
        .collect();
    keys.push(PathBuf::from(format!("osd.{}", o.osd_id)));
    keys
}

/// Starts an OSD through its systemd unit (installed and enabled first), which runs `cephboot
/// osd activate ID --exec`: systemd then supervises `ceph-osd` itself and starts it at every
/// boot. An OSD already running outside systemd keeps running; its unit is enabled for the
/// next boot.
fn start_under_systemd(
    env: &Env<'_>,
    osd: &FoundOsd,
    settings: &crate::supervise::units::UnitSettings,
    pidfile: &Path,
) -> Activated {
    use crate::supervise::{systemd, units};
    let unit = units::DaemonUnit::new(units::DaemonKind::Osd, env.cluster, &osd.osd_id.to_string());
    let done = |action: Action, pid: Option<u32>, error: Option<String>| Activated {
        osd_id: osd.osd_id,
        action,
        pid,
        error,
        unit: Some(unit.name()),
    };
    let running = systemd::is_active(&unit) || daemons::running_pid(pidfile, "ceph-osd").is_some();
    if env.dry_run {
        let installed = systemd::is_installed(&unit);
        return match (running, installed) {
            (true, true) => done(Action::Unchanged, systemd::main_pid(&unit), None),
            _ => done(Action::WouldStart, None, None),
        };
    }
    let result = (|| -> Result<Action> {
        let installed = systemd::install(&unit, settings)?;
        if running {
            return Ok(installed);
        }
        if osd.encrypted {
            // Opened here, so that a key that cannot be had (the monitors' entry gone, say)
            // fails this command at once and by name, and a recovery key is used: the unit
            // then finds them open (at boot it opens them itself).
            let dir = env.conf.osd_data(env.cluster, osd.osd_id);
            std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
            unlock(env, osd, &dir)?;
        }
        systemd::start(&unit)?;
        Ok(Action::Started)
    })();
    match result {
        Ok(action) => done(
            action,
            systemd::main_pid(&unit).or_else(|| daemons::running_pid(pidfile, "ceph-osd")),
            None,
        ),
        Err(e) => done(Action::Failed, None, Some(e.to_string())),
    }
}

/// Waits until every OSD `start` launched (`started`) is up, all at once: one osdmap read
/// per poll for all of them, so N OSDs boot side by side and the wait is the slowest one's,
/// not the sum. A poll the cluster does not answer (a monitor election) is logged and the
/// wait goes on; each OSD not up within `env.wait_up` fails on its own, naming its log.
fn wait_all_up(env: &Env<'_>, osds: &mut [Activated]) {
    let mut pending: Vec<&mut Activated> = osds
        .iter_mut()
        .filter(|a| a.action == Action::Started)
        .collect();
    let what = match pending.as_slice() {
        [] => return,
        [one] => format!("osd.{}", one.osd_id),
        many => format!("{} OSDs", many.len()),
    };
    let step = crate::progress::step(format!("waiting for {what} to be up"));
    let started = Instant::now();
    let unanswered: Option<Error> = loop {
        let failed = match commands::osds(env.client) {
            Ok(map) => {
                let up: Vec<u32> = map.iter().filter(|o| o.up).map(|o| o.id).collect();
                pending.retain(|a| !up.contains(&a.osd_id));
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the osdmap could not be read; waiting on");
                Some(e)
            }
        };
        if pending.is_empty() || started.elapsed() > env.wait_up {
            break failed;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let outcome = match pending.len() {
        0 => Ok(()),
        n => Err(Error::Timeout {
            what: format!("{n} of {what} to be up"),
            seconds: env.wait_up.as_secs(),
        }),
    };
    if step.end(outcome).is_ok() {
        return;
    }
    for a in pending {
        let see = match &a.unit {
            Some(unit) => format!("`journalctl -u {unit}`"),
            None => env
                .conf
                .osd_log(env.cluster, a.osd_id)
                .display()
                .to_string(),
        };
        let last = unanswered
            .as_ref()
            .map(|e| format!(" (the cluster's last answer: {e})"))
            .unwrap_or_default();
        a.action = Action::Failed;
        a.pid = None;
        a.error = Some(format!(
            "{}{last}; see {see}",
            Error::Timeout {
                what: format!("osd.{} to be up", a.osd_id),
                seconds: env.wait_up.as_secs(),
            }
        ));
    }
}

/// Replaces this process with `ceph-osd -f` for one OSD (the container entrypoint case).
pub fn exec_foreground(env: &Env<'_>, osd: &FoundOsd, snapshot: &Snapshot) -> Error {
    use std::os::unix::process::CommandExt;
    if let Some(c) = &osd.conflict {
        return Error::refused(
            format!("osd.{}", osd.osd_id),
            c.clone(),
            "nothing was started",
        );
    }
    if let (Some(theirs), Some(ours)) = (owner_fsid(osd, snapshot), env.conf.fsid()) {
        if theirs != ours {
            return Error::refused(
                format!("osd.{}", osd.osd_id),
                format!("belongs to cluster {theirs}, not to this cluster ({ours})"),
                "pass the config of its own cluster with --conf",
            );
        }
    }
    let dir = match prepare_dir(env, osd, snapshot) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let bin = match exec::resolve("ceph-osd") {
        Ok(b) => b,
        Err(e) => return e,
    };
    let err = std::process::Command::new(bin)
        .args([
            "--cluster",
            env.cluster,
            "-c",
            &env.conf.path.display().to_string(),
            "-i",
            &osd.osd_id.to_string(),
            "--pid-file",
            &env.conf
                .osd_pidfile(env.cluster, osd.osd_id)
                .display()
                .to_string(),
            "-f",
        ])
        .args(journal_arg(osd, &dir))
        .exec();
    Error::io(format!("executing ceph-osd for osd.{}", osd.osd_id), err)
}

/// What `osd activate` is asked.
#[derive(Debug, Clone)]
pub struct ActivateRequest {
    /// Only this OSD (`None`: every prepared OSD of this host).
    pub id: Option<u32>,
    /// Replace this process with `ceph-osd -f` for the one OSD (container entrypoint).
    pub exec: bool,
    /// Report `would_start`; start nothing.
    pub dry_run: bool,
    /// Leave an OSD whose cephboot unit is installed but inactive stopped (`skipped`).
    pub keep_stopped: bool,
    /// How long to wait for each OSD to be `up`.
    pub wait_up: Duration,
    /// Open an encrypted OSD with this recovery key file instead of the monitors' key.
    pub recovery_key: Option<PathBuf>,
}

/// What `osd activate` did.
#[derive(Debug, Clone, Serialize)]
pub struct ActivateReport {
    /// A dry run.
    pub dry_run: bool,
    /// Whether an OSD was started.
    pub changed: bool,
    /// Per OSD.
    pub osds: Vec<Activated>,
    /// What was done on the host for them to start: logical volumes activated, `fs.aio-max-nr`
    /// raised (crate::osd::aio), or what to do when it could not be.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<String>,
}

impl ActivateReport {
    /// The first OSD that failed to start, as an error.
    pub fn first_error(&self) -> Option<Error> {
        self.osds
            .iter()
            .find(|r| r.action == Action::Failed)
            .map(|r| Error::Device {
                device: "ceph-osd".into(),
                message: format!("osd.{}: {}", r.osd_id, r.error.clone().unwrap_or_default()),
            })
    }
}

/// Finds this host's prepared OSDs on its disks and starts those that are not running.
pub fn activate_on_host(
    req: &ActivateRequest,
    grammar: &crate::disk::label::LabelGrammar,
    opts: &crate::ceph::client::ConnectOptions,
    state_dir: &Path,
) -> Result<ActivateReport> {
    exec::require(&["ceph-osd", "ceph-bluestore-tool", "mount"])?;
    super::target::reattach_all(state_dir)?;
    let fsid = crate::ceph::client::read_configured(opts)
        .ok()
        .and_then(|c| c.fsid().map(str::to_string));
    let find = |snapshot: &Snapshot| -> Vec<FoundOsd> {
        find_on_host(
            snapshot,
            &crate::disk::classify::classify(snapshot, grammar),
            fsid.as_deref(),
        )
    };
    let is_chosen = |o: &FoundOsd| req.id.is_none_or(|id| o.osd_id == id);
    if let (true, Some(id), false) = (req.exec, req.id, req.dry_run) {
        let shared = SharedRead {
            store: super::boot_read::RecordFile::new(state_dir),
            context: format!("{} {}", fsid.as_deref().unwrap_or("-"), grammar.prefix()),
        };
        return Err(exec_with_shared_read(req, opts, id, &find, &shared));
    }
    let (snapshot, found, mut host) = read_host(&find, &is_chosen, req.dry_run);
    let chosen: Vec<&FoundOsd> = found.iter().filter(|o| is_chosen(o)).collect();
    if let Some(id) = req.id.filter(|_| chosen.is_empty()) {
        return Err(not_on_host(id));
    }
    if req.exec {
        return Err(exec_one(req, opts, &chosen, &aio_needs(&found), &snapshot));
    }
    let (client, conf) = crate::ceph::client::connect_configured(opts)?;
    let units = (crate::supervise::detect() == crate::supervise::Supervisor::Systemd).then(|| {
        crate::supervise::units::UnitSettings {
            state_dir: absolute(state_dir),
            conf: absolute(&conf.path),
            label_prefix: grammar.prefix().to_string(),
        }
    });
    let env = Env {
        client: &client,
        conf: &conf,
        cluster: &opts.cluster,
        wait_up: req.wait_up,
        dry_run: req.dry_run,
        units,
        recovery_key: req.recovery_key.as_deref(),
        admin_on_demand: None,
    };
    // An OSD that is up and whose daemon runs on another host (its disk is visible here too:
    // shared storage, or a disk moved while its host still runs it) is never started twice.
    let elsewhere = running_elsewhere(&client, &crate::host::short_hostname());
    // Nor beside the daemon another tool's unit runs (ceph-volume's `ceph-osd@ID`): `osd adopt`
    // moves it.
    let foreign = if env.units.is_some() {
        super::adopt::running_foreign(&chosen)
    } else {
        Vec::new()
    };
    let skipped: Vec<Option<Activated>> = chosen
        .iter()
        .map(|o| not_here(&env, req, o.osd_id, &elsewhere, &foreign))
        .collect();
    if !req.dry_run {
        let to_start: Vec<(u32, usize)> = chosen
            .iter()
            .zip(&skipped)
            .filter(|(o, skip)| skip.is_none() && o.conflict.is_none())
            .map(|(o, _)| (o.osd_id, o.partitions.len()))
            .collect();
        host.extend(make_aio_room(&to_start));
    }
    // Each started (its unit installed, its devices opened, its daemon launched), then all
    // waited for at once.
    let mut osds = start_each(&env, &chosen, skipped, &snapshot);
    wait_all_up(&env, &mut osds);
    Ok(ActivateReport {
        dry_run: req.dry_run,
        changed: osds.iter().any(|r| r.action.changed())
            || host.iter().any(|h| !h.starts_with(super::aio::NOT_RAISED)),
        osds,
        host,
    })
}

/// The host's devices and the OSDs `find` finds on them. ceph-volume's logical volumes of the
/// `chosen` OSDs that LVM did not activate at boot are activated first (not in a dry run) and
/// the host read again; what was activated, for the report.
fn read_host(
    find: &dyn Fn(&Snapshot) -> Vec<FoundOsd>,
    chosen: &dyn Fn(&FoundOsd) -> bool,
    dry_run: bool,
) -> (Snapshot, Vec<FoundOsd>, Vec<String>) {
    let snapshot = crate::disk::listing::scan_all();
    let found = find(&snapshot);
    if dry_run {
        return (snapshot, found, Vec::new());
    }
    let mine: Vec<FoundOsd> = found.iter().filter(|o| chosen(o)).cloned().collect();
    let activated = super::lvm::activate_volumes(&mine);
    if activated.is_empty() {
        return (snapshot, found, Vec::new());
    }
    let done = activated
        .iter()
        .map(|lv| format!("logical volume {} activated (lvchange -ay)", lv.display()))
        .collect();
    let snapshot = crate::disk::listing::scan_all();
    let found = find(&snapshot);
    (snapshot, found, done)
}

fn not_on_host(id: u32) -> Error {
    Error::NotFound(format!(
        "osd.{id} is not prepared on any disk of this host (see `cephboot osd list`)"
    ))
}

/// The boot-time host read's record (crate::osd::boot_read) and what it must match.
struct SharedRead {
    store: super::boot_read::RecordFile,
    /// The cluster fsid and label prefix the OSDs are found with.
    context: String,
}

/// `osd activate ID --exec` (a unit's start): OSD `id` found from the disks the host read of
/// the units started before it recorded, confirmed by what those disks say now; or, without
/// a record that holds, by a whole read of the host, recorded for the units after it. One
/// unit reads the host at a time (the others wait for its record). Returns only on failure.
fn exec_with_shared_read(
    req: &ActivateRequest,
    opts: &crate::ceph::client::ConnectOptions,
    id: u32,
    find: &dyn Fn(&Snapshot) -> Vec<FoundOsd>,
    shared: &SharedRead,
) -> Error {
    use super::boot_read;
    let now = boot_read::now(shared.context.clone());
    let mut guard = shared.store.lock().filter(|_| boot_read::may_record(&now));
    let record = guard.as_ref().and_then(|_| shared.store.load());
    if let Some(record) = &record {
        // A record of this boot that cannot start this OSD (ceph-volume lvm volumes, a
        // conflict, an OSD it does not know): read the host without holding the others up
        // and without replacing what serves them.
        let disks = boot_read::disks_to_read(record, &now, id, &boot_read::host_disk_identity);
        if disks.is_none() && boot_read::is_fresh(record, &now) {
            drop(guard.take());
        }
        if let Some(disks) = disks {
            drop(guard.take());
            let snapshot = crate::disk::listing::scan_disk_names(disks.clone());
            let again = find(&snapshot);
            if let Some(one) = again
                .iter()
                .find(|o| o.osd_id == id && boot_read::confirms(record, o))
            {
                tracing::info!(
                    osd = id,
                    disks = %disks.join(" "),
                    "found on the disks the host read of this boot recorded"
                );
                let needs: Vec<(u32, usize)> = record
                    .osds
                    .iter()
                    .filter(|r| !r.conflict)
                    .map(|r| (r.osd_id, r.partitions.len()))
                    .collect();
                return exec_one(req, opts, &[one], &needs, &snapshot);
            }
            tracing::info!(
                osd = id,
                disks = %disks.join(" "),
                "the recorded disks no longer hold the OSD as recorded: reading the whole host"
            );
            guard = shared.store.lock();
        }
    }
    let identities = boot_read::host_disk_identities();
    let (snapshot, found, _) = read_host(find, &|o: &FoundOsd| o.osd_id == id, false);
    if guard.is_some() {
        let identity = |name: &str| identities.get(name).cloned().unwrap_or_default();
        shared
            .store
            .save(&boot_read::record_of(&found, &snapshot, &now, &identity));
        tracing::info!(
            osd = id,
            osds = found.len(),
            "read the whole host and recorded it for the other units of this boot"
        );
    } else {
        tracing::info!(osd = id, "read the whole host");
    }
    drop(guard);
    let chosen: Vec<&FoundOsd> = found.iter().filter(|o| o.osd_id == id).collect();
    if chosen.is_empty() {
        return not_on_host(id);
    }
    exec_one(req, opts, &chosen, &aio_needs(&found), &snapshot)
}

/// Each OSD that can start (no conflict) with its number of devices, for [`make_aio_room`].
fn aio_needs(osds: &[FoundOsd]) -> Vec<(u32, usize)> {
    osds.iter()
        .filter(|o| o.conflict.is_none())
        .map(|o| (o.osd_id, o.partitions.len()))
        .collect()
}

/// Raises `fs.aio-max-nr` (crate::osd::aio) when these OSDs (id, number of devices), those
/// of them whose `ceph-osd` does not run yet, would not fit beside what runs: what was done,
/// for the report.
fn make_aio_room(osds: &[(u32, usize)]) -> Option<String> {
    let running = crate::cluster::daemons::running_osd_ids();
    let needed: u64 = osds
        .iter()
        .filter(|(id, _)| !running.contains(id))
        .map(|(_, devices)| super::aio::per_osd(*devices))
        .sum();
    (needed > 0).then(|| super::aio::ensure(needed)).flatten()
}

/// `osd activate ID --exec`: the one OSD found replaces this process (its unit's start at
/// boot). No connection is made: at boot the monitors may not have a quorum yet, and
/// ceph-osd waits for them itself (a failed connect here would spend the unit's start limit).
/// Returns only on failure.
fn exec_one(
    req: &ActivateRequest,
    opts: &crate::ceph::client::ConnectOptions,
    chosen: &[&FoundOsd],
    aio_needs: &[(u32, usize)],
    snapshot: &Snapshot,
) -> Error {
    let conf = match crate::ceph::client::read_configured(opts) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let [one] = chosen else {
        return Error::Usage(format!(
            "--exec runs one OSD in the foreground; {} were found: name one",
            chosen.len()
        ));
    };
    // At boot every OSD's unit starts at once, each before any ceph-osd holds its AIO events:
    // each makes room for all of the host's OSDs (logged by `ensure`, in the unit's journal).
    let _ = make_aio_room(aio_needs);
    let env = Env {
        client: &crate::ceph::client::Unconnected,
        conf: &conf,
        cluster: &opts.cluster,
        wait_up: req.wait_up,
        dry_run: false,
        units: None,
        recovery_key: req.recovery_key.as_deref(),
        admin_on_demand: Some(opts),
    };
    exec_foreground(&env, one, snapshot)
}

/// Why OSD `id` is not started here (`skipped`), if it is not: it is up on another host
/// (`elsewhere`), another tool's unit runs it (`foreign`), or, with `keep_stopped`, its
/// cephboot unit was stopped.
fn not_here(
    env: &Env<'_>,
    req: &ActivateRequest,
    id: u32,
    elsewhere: &[(u32, String)],
    foreign: &[(u32, String)],
) -> Option<Activated> {
    let skipped = |error: String, unit: Option<String>| Activated {
        osd_id: id,
        action: Action::Skipped,
        pid: None,
        error: Some(error),
        unit,
    };
    if let Some((_, host)) = elsewhere.iter().find(|(i, _)| *i == id) {
        return Some(skipped(
            format!(
                "is up on host {host}: started there, not here (stop it there first to move it)"
            ),
            None,
        ));
    }
    if let Some((_, unit)) = foreign.iter().find(|(i, _)| *i == id) {
        return Some(skipped(
            format!("runs under {unit}, another tool's unit: `cephboot osd adopt {id}` moves it to cephboot's"),
            None,
        ));
    }
    stopped_unit(env, req, id).map(|unit| {
        skipped(
            format!(
                "its unit {unit} is stopped (by someone, or failed) and left so; \
                 `cephboot osd activate {id}` or `systemctl start {unit}` starts it"
            ),
            Some(unit),
        )
    })
}

/// With `keep_stopped`, the name of OSD `id`'s cephboot unit when it is installed but not
/// running (systemd supervises it; whoever stopped it meant it).
fn stopped_unit(env: &Env<'_>, req: &ActivateRequest, id: u32) -> Option<String> {
    use crate::supervise::{systemd, units};
    if !req.keep_stopped || env.units.is_none() {
        return None;
    }
    let unit = units::DaemonUnit::new(units::DaemonKind::Osd, env.cluster, &id.to_string());
    (systemd::is_installed(&unit) && !systemd::is_active(&unit)).then(|| unit.name())
}

/// Stops OSD `id`'s daemon on this host, leaving it in the cluster: its cephboot unit is
/// stopped (still enabled), or the ceph-osd of its pidfile. `stopped` or `unchanged`.
pub fn stop_on_host(id: u32, opts: &crate::ceph::client::ConnectOptions) -> Result<Action> {
    use crate::supervise::{systemd, units};
    let unit = units::DaemonUnit::new(units::DaemonKind::Osd, &opts.cluster, &id.to_string());
    let conf = crate::ceph::client::read_configured(opts)?;
    let pidfile = conf.osd_pidfile(&opts.cluster, id);
    let mut stopped = false;
    if systemd::is_installed(&unit)
        && exec::resolve("systemctl").is_ok()
        && systemd::is_active(&unit)
    {
        systemd::stop(&unit)?;
        stopped = true;
    }
    stopped |= daemons::stop(&pidfile, "ceph-osd", Duration::from_secs(30));
    if stopped {
        mark_down(id, opts);
    }
    Ok(if stopped {
        Action::Stopped
    } else {
        Action::Unchanged
    })
}

/// Tells the monitors that OSD `id`, whose daemon this host just stopped, is down. Ceph 16's
/// `ceph-osd` does not say so itself on its (default) fast shutdown
/// (`osd_fast_shutdown_notify_mon` is off), so the monitors would otherwise wait for its
/// peers' failure reports (20 s of heartbeat grace), or with no peer up, for
/// `mon_osd_report_timeout` (15 minutes), keeping its PGs waiting on it. Only for an OSD that
/// is up in the map; a cluster that does not answer leaves it to those timers.
pub(crate) fn mark_down(id: u32, opts: &crate::ceph::client::ConnectOptions) {
    let Ok((client, _)) = crate::ceph::client::connect_configured(opts) else {
        tracing::warn!(osd = id, "stopped, but the cluster did not answer: it marks the OSD down itself after its heartbeat grace");
        return;
    };
    let up = commands::osds(&client)
        .ok()
        .and_then(|all| all.into_iter().find(|o| o.id == id))
        .is_some_and(|o| o.up);
    if up {
        if let Err(e) =
            client.mon(serde_json::json!({"prefix": "osd down", "ids": [id.to_string()]}))
        {
            tracing::warn!(osd = id, error = %e, "stopped, but could not mark it down");
        }
    }
}

/// `path` made absolute (a unit runs from `/`), as text.
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The OSDs that are up with their daemon on a host other than `me`: (id, host), from the
/// osdmap and `osd metadata` (nothing when the cluster cannot say).
fn running_elsewhere(c: &dyn CephClient, me: &str) -> Vec<(u32, String)> {
    let up: Vec<u32> = commands::osds(c)
        .map(|v| v.into_iter().filter(|o| o.up).map(|o| o.id).collect())
        .unwrap_or_default();
    let meta = c
        .mon(serde_json::json!({"prefix": "osd metadata"}))
        .unwrap_or_default();
    elsewhere_of(&up, &meta, me)
}

/// [`running_elsewhere`] on plain data (pure).
pub fn elsewhere_of(up: &[u32], metadata: &serde_json::Value, me: &str) -> Vec<(u32, String)> {
    metadata
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    let id = u32::try_from(m.get("id")?.as_u64()?).ok()?;
                    let host = m.get("hostname")?.as_str()?;
                    let short = host.split('.').next().unwrap_or(host);
                    (up.contains(&id) && short != me).then(|| (id, short.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A prepared OSD of this host with what the cluster says of it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedOsd {
    /// Where it is.
    #[serde(flatten)]
    pub osd: FoundOsd,
    /// `up` in the osdmap (`None`: the cluster could not be asked).
    pub up: Option<bool>,
    /// `in` in the osdmap.
    #[serde(rename = "in")]
    pub is_in: Option<bool>,
    /// Its CRUSH device class (`None`: none set, or the cluster could not be asked).
    pub device_class: Option<String>,
    /// Whether Ceph says stopping it now leaves every PG available (`osd ok-to-stop`;
    /// `None`: the cluster could not be asked, or the OSD is not in it).
    pub ok_to_stop: Option<bool>,
    /// The host that lists it (this host's short name: its CRUSH host bucket).
    pub host: String,
    /// The fsid of the cluster it belongs to, when that is not this one (by the fsid in its
    /// BlueStore label, or its disk GUID): the cluster's osd of the same id is another OSD, so
    /// `up`, `in`, `device_class` and `ok_to_stop` stay null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_cluster: Option<String>,
    /// Who keeps its daemon running on this host: `systemd` (its cephboot unit is installed),
    /// `pidfile` (cephboot started it in the background), or `None` (not running here).
    pub supervisor: Option<crate::supervise::Supervisor>,
    /// Its systemd unit, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Who runs OSD `id` of `cluster` on this host (see [`ListedOsd::supervisor`]).
fn supervisor_of(
    conf: Option<&CephConf>,
    cluster: &str,
    id: u32,
) -> (Option<crate::supervise::Supervisor>, Option<String>) {
    use crate::supervise::{systemd, units, Supervisor};
    let unit = units::DaemonUnit::new(units::DaemonKind::Osd, cluster, &id.to_string());
    if crate::supervise::detect() == Supervisor::Systemd && systemd::is_installed(&unit) {
        return (Some(Supervisor::Systemd), Some(unit.name()));
    }
    let running = conf
        .is_some_and(|c| daemons::running_pid(&c.osd_pidfile(cluster, id), "ceph-osd").is_some());
    (running.then_some(Supervisor::Pidfile), None)
}

/// The cluster an OSD belongs to when it is known and not `ours` (pure).
pub fn other_cluster(theirs: Option<String>, ours: Option<&str>) -> Option<String> {
    theirs.filter(|t| ours.is_some_and(|o| !o.eq_ignore_ascii_case(t)))
}

/// This host's prepared OSDs; their up/in state when the cluster answers.
pub fn list_on_host(
    grammar: &crate::disk::label::LabelGrammar,
    opts: &crate::ceph::client::ConnectOptions,
) -> Vec<ListedOsd> {
    let snapshot = crate::disk::listing::scan_all();
    let client = crate::ceph::client::connect_configured(opts).ok();
    let ours = client.as_ref().and_then(|(_, conf)| conf.fsid());
    let found = find_on_host(
        &snapshot,
        &crate::disk::classify::classify(&snapshot, grammar),
        ours,
    );
    let states = client.as_ref().and_then(|(c, _)| commands::osds(c).ok());
    let classes = client
        .as_ref()
        .and_then(|(c, _)| commands::device_classes(c).ok())
        .unwrap_or_default();
    let host = crate::host::short_hostname();
    found
        .into_iter()
        .map(|mut o| {
            let owner = owner_fsid(&o, &snapshot);
            let disk_guid = o
                .main
                .as_ref()
                .and_then(|m| m.parent.as_deref())
                .and_then(|p| snapshot.find(p))
                .and_then(|d| d.disk_guid);
            let label_fsid = (o.store == Store::Bluestore && !o.encrypted)
                .then(|| owner.clone())
                .flatten();
            o.origin = origin_of(&o, disk_guid, label_fsid.as_deref().or(ours));
            let other = other_cluster(owner, ours);
            let s = states
                .as_ref()
                .filter(|_| other.is_none())
                .and_then(|s| s.iter().find(|x| x.id == o.osd_id));
            let ok_to_stop = match (&client, s) {
                (Some((c, _)), Some(_)) => Some(
                    c.mgr(serde_json::json!({"prefix": "osd ok-to-stop", "ids": [o.osd_id.to_string()]}))
                        .is_ok(),
                ),
                _ => None,
            };
            let (supervisor, unit) =
                supervisor_of(client.as_ref().map(|(_, c)| c), &opts.cluster, o.osd_id);
            ListedOsd {
                supervisor,
                unit,
                up: s.map(|s| s.up),
                is_in: s.map(|s| s.is_in),
                device_class: classes.get(&o.osd_id).filter(|_| other.is_none()).cloned(),
                ok_to_stop,
                host: host.clone(),
                other_cluster: other,
                osd: o,
            }
        })
        .collect()
}

#[cfg(test)]
mod other_cluster_tests {
    use super::other_cluster;

    #[test]
    fn an_osd_is_another_clusters_only_when_both_fsids_are_known_and_differ() {
        let a = "2b1e0f4c-0000-4000-8000-00000000000a";
        let b = "2b1e0f4c-0000-4000-8000-00000000000b";
        assert_eq!(other_cluster(Some(b.into()), Some(a)), Some(b.to_string()));
        assert_eq!(other_cluster(Some(a.into()), Some(a)), None);
        assert_eq!(other_cluster(Some(a.to_uppercase()), Some(a)), None);
        assert_eq!(other_cluster(None, Some(a)), None);
        assert_eq!(other_cluster(Some(b.into()), None), None);
    }
}

#[cfg(test)]
mod elsewhere_tests {
    use super::elsewhere_of;
    use serde_json::json;

    #[test]
    fn only_an_up_osd_whose_daemon_runs_on_another_host_is_elsewhere() {
        let meta = json!([
            {"id": 0, "hostname": "h1.example.org"},
            {"id": 1, "hostname": "h2"},
            {"id": 2, "hostname": "h2"},
            {"id": 3},
        ]);
        // osd.2 is down: its host may be gone, so it may be started here.
        assert_eq!(
            elsewhere_of(&[0, 1, 3], &meta, "h1"),
            vec![(1, "h2".to_string())]
        );
        assert_eq!(
            elsewhere_of(&[0, 1], &meta, "h2"),
            vec![(0, "h1".to_string())]
        );
        assert!(elsewhere_of(&[0, 1], &json!({}), "h1").is_empty());
    }
}

#[cfg(test)]
mod find_prepared_tests {
    use super::find_prepared;
    use crate::disk::classify::classify;
    use crate::disk::inventory::{Device, DeviceKind, GptInfo, Snapshot};
    use crate::disk::label::{LabelGrammar, PartitionName};
    use std::path::{Path, PathBuf};
    use uuid::Uuid;

    /// A disk (with its disk GUID) followed by one partition carrying `name` and `partuuid`.
    fn disk_with(name: &str, guid: Option<u128>, part_name: &str, partuuid: u128) -> [Device; 2] {
        let mut disk = Device::test_disk(name);
        disk.disk_guid = guid.map(Uuid::from_u128);
        let mut p = Device::test_disk(&format!("{name}1"));
        p.kind = DeviceKind::Partition;
        p.parent = Some(PathBuf::from(format!("/dev/{name}")));
        p.partition_number = Some(1);
        p.start_bytes = Some(1 << 20);
        p.table = None;
        p.gpt = Some(GptInfo {
            name: PartitionName::encode(part_name).unwrap(),
            unique_guid: Uuid::from_u128(partuuid),
            type_guid: Uuid::nil(),
        });
        [disk, p]
    }

    /// Two clusters' osd.0 (mains on disks of two cluster GUIDs, OSD uuids 1 and 2) and a
    /// `_B` partition on a disk of neither.
    fn two_clusters_and_a_block() -> Snapshot {
        let mut devices = Vec::new();
        devices.extend(disk_with("sda", Some(0xA), "KOLLA_CEPH_DATA_BS_0", 1));
        devices.extend(disk_with("sdb", Some(0xB), "KOLLA_CEPH_DATA_BS_0", 2));
        devices.extend(disk_with("sdx", None, "KOLLA_CEPH_DATA_BS_0_B", 77));
        Snapshot { devices }
    }

    /// (osd id, main partition, block partition, conflict?) of each OSD found.
    fn found(
        snapshot: &Snapshot,
        label: &dyn Fn(&Device) -> Option<Uuid>,
    ) -> Vec<(u32, String, Option<String>, bool)> {
        let classified = classify(snapshot, &LabelGrammar::default());
        find_prepared(snapshot, &classified, label)
            .iter()
            .map(|o| {
                let at = |role: &str| o.partitions.get(role).map(|p| p.display().to_string());
                (
                    o.osd_id,
                    at("bluestore").unwrap_or_default(),
                    at("bluestore-block"),
                    o.conflict.is_some(),
                )
            })
            .collect()
    }

    fn label_on_sdx(uuid: u128) -> impl Fn(&Device) -> Option<Uuid> {
        move |d: &Device| (d.path == Path::new("/dev/sdx1")).then(|| Uuid::from_u128(uuid))
    }

    #[test]
    fn a_block_partition_goes_to_the_osd_its_bluestore_label_names() {
        let s = two_clusters_and_a_block();
        let got = found(&s, &label_on_sdx(2));
        let mains: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
        assert_eq!(mains.len(), 2, "{got:?}");
        let of_sdb = got.iter().find(|g| g.1 == "/dev/sdb1").unwrap();
        assert_eq!(of_sdb.2.as_deref(), Some("/dev/sdx1"), "{got:?}");
        let of_sda = got.iter().find(|g| g.1 == "/dev/sda1").unwrap();
        assert_eq!(of_sda.2, None, "{got:?}");
        assert!(got.iter().all(|g| !g.3), "no conflict: {got:?}");
    }

    #[test]
    fn without_a_readable_label_two_owners_are_a_conflict_for_both() {
        let s = two_clusters_and_a_block();
        let got = found(&s, &|_| None);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|g| g.3), "both refused: {got:?}");
    }

    #[test]
    fn the_only_osd_of_its_id_keeps_its_partner_whatever_the_label_says() {
        let mut s = two_clusters_and_a_block();
        // Only the first cluster's osd.0 is left; the block's label names uuid 9, as on an OSD
        // made by Kolla's bootstrap (a main partition of random PARTUUID).
        s.devices.drain(2..4);
        let want = vec![(0, "/dev/sda1".into(), Some("/dev/sdx1".into()), false)];
        assert_eq!(found(&s, &label_on_sdx(9)), want);
        assert_eq!(found(&s, &|_| None), want);
    }

    #[test]
    fn a_label_that_names_neither_owner_is_a_conflict() {
        let s = two_clusters_and_a_block();
        let got = found(&s, &label_on_sdx(9));
        assert!(got.iter().all(|g| g.3), "both refused: {got:?}");
    }

    #[test]
    fn a_partner_on_a_disk_of_the_same_cluster_needs_no_label() {
        let mut s = two_clusters_and_a_block();
        // The block's disk carries the second cluster's GUID.
        s.devices[4].disk_guid = Some(Uuid::from_u128(0xB));
        let got = found(&s, &|_| None);
        let of_sdb = got.iter().find(|g| g.1 == "/dev/sdb1").unwrap();
        assert_eq!(of_sdb.2.as_deref(), Some("/dev/sdx1"), "{got:?}");
        assert!(got.iter().all(|g| !g.3), "{got:?}");
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    #[test]
    fn an_id_claimed_by_two_uuids_across_origins_starts_neither() {
        let mut labelled = FoundOsd::with_partitions(
            4,
            Store::Bluestore,
            BTreeMap::from([("bluestore", PathBuf::from("/dev/sdh1"))]),
        );
        labelled.osd_uuid = Some("new".into());
        let mut stale = FoundOsd::lvm(4, "old", "f", true);
        stale
            .partitions
            .insert("bluestore", PathBuf::from("/dev/ceph-x/osd-block-old"));
        let other = FoundOsd::lvm(5, "five", "f", false);
        let all = merge_marking_conflicts(vec![labelled], vec![stale, other]);
        assert_eq!(all.len(), 3);
        let four: Vec<&FoundOsd> = all.iter().filter(|o| o.osd_id == 4).collect();
        assert!(four.iter().all(|o| o
            .conflict
            .as_deref()
            .is_some_and(|c| c.contains("/dev/sdh1") && c.contains("osd-block-old"))));
        assert!(all
            .iter()
            .find(|o| o.osd_id == 5)
            .unwrap()
            .conflict
            .is_none());
    }

    #[test]
    fn a_labelled_osd_is_cephboots_only_on_a_disk_whose_guid_is_its_clusters_fsid() {
        let fsid = "2b1e0f4c-0000-4000-8000-00000000000a";
        let guid = uuid::Uuid::parse_str(fsid).ok();
        let other = uuid::Uuid::parse_str("2b1e0f4c-0000-4000-8000-00000000000b").ok();
        let labelled = FoundOsd::with_partitions(3, Store::Bluestore, BTreeMap::new());
        assert_eq!(origin_of(&labelled, guid, Some(fsid)), Origin::Cephboot);
        assert_eq!(origin_of(&labelled, other, Some(fsid)), Origin::Kolla);
        assert_eq!(origin_of(&labelled, None, Some(fsid)), Origin::Kolla);
        assert_eq!(origin_of(&labelled, guid, None), Origin::Kolla);
        let raw = FoundOsd::raw(4, "u", &Device::test_disk("sdb"));
        assert_eq!(origin_of(&raw, guid, Some(fsid)), Origin::CephVolumeRaw);
        assert_eq!(Origin::CephVolumeRaw.as_str(), "ceph-volume-raw");
    }
}

#[cfg(test)]
mod start_each_tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut devices = Vec::new();
        for (disk, parts) in [("sdb", 1), ("sdc", 1), ("sdd", 1), ("nvme0n1", 2)] {
            devices.push(Device::test_disk(disk));
            for n in 1..=parts {
                let name = crate::disk::inventory::partition_node_name(disk, n);
                let mut p = Device::test_disk(&name);
                p.parent = Some(PathBuf::from(format!("/dev/{disk}")));
                devices.push(p);
            }
        }
        Snapshot { devices }
    }

    fn osd(id: u32, parts: &[(&'static str, &str)]) -> FoundOsd {
        FoundOsd::with_partitions(
            id,
            Store::Bluestore,
            parts.iter().map(|(r, p)| (*r, PathBuf::from(*p))).collect(),
        )
    }

    #[test]
    fn osds_sharing_a_disk_or_an_id_start_one_after_another_the_others_side_by_side() {
        let snap = snapshot();
        let osds = [
            osd(
                1,
                &[
                    ("bluestore", "/dev/sdb1"),
                    ("bluestore-db", "/dev/nvme0n1p1"),
                ],
            ),
            osd(
                2,
                &[
                    ("bluestore", "/dev/sdc1"),
                    ("bluestore-db", "/dev/nvme0n1p2"),
                ],
            ),
            osd(3, &[("bluestore", "/dev/sdd1")]),
            // Another disk claiming osd.3 (a stale disk of the same cluster).
            osd(3, &[("bluestore", "/dev/sde")]),
            osd(4, &[("bluestore", "/dev/sdf")]),
        ];
        let keys: Vec<Vec<PathBuf>> = osds.iter().map(|o| start_keys(o, &snap)).collect();
        assert_eq!(
            crate::osd::batch::serial_groups(&keys),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
    }
}
