//! Executing an [`OsdPlan`], in the order that keeps every interruption recoverable:
//!
//! 1. clean up an interrupted earlier run (`osd purge-new` of its never-booted OSD), wipe;
//! 2. write the tables with "being prepared" partition types (the main partition's PARTUUID
//!    is the OSD uuid);
//! 3. make the kernel see them;
//! 4. `osd new` with that uuid and a fresh cephx secret;
//! 5. the OSD directory (bluestore: `block`/`block.db`/`block.wal` links to the partition
//!    nodes; filestore: xfs data mounted, `journal` link);
//! 6. `ceph-osd --mkfs`;
//! 7. CRUSH location under this host;
//! 8. final names (`KOLLA_CEPH_DATA_…`) and Ceph's final type GUIDs, as the last step.
//!
//! Until step 8 the partitions carry a "being prepared" type, so the next run recognises an
//! interrupted preparation by its bytes and cleans it up (including the OSD id it allocated,
//! found by the uuid) before preparing again: never a second OSD for one disk, never an
//! orphan id. A failure after step 4 also purges the id at once.

use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cephboot_ffi::blkid::Probe;
use serde::Serialize;
use uuid::Uuid;

use super::plan::OsdPlan;
use crate::ceph::client::CephClient;
use crate::ceph::commands;
use crate::ceph::conf::CephConf;
use crate::crypt::key::DmcryptKey;
use crate::disk::guard;
use crate::disk::inventory::Snapshot;
use crate::disk::label::{LabelGrammar, Role, Store};
use crate::disk::lock::LockedDisk;
use crate::disk::rewrite;
use crate::disk::table;
use crate::disk::{types, wipe};
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// What preparation needs besides the plan.
#[derive(Debug)]
pub struct Env<'a> {
    /// The cluster.
    pub client: &'a dyn CephClient,
    /// Its config.
    pub conf: &'a CephConf,
    /// Cluster name.
    pub cluster: &'a str,
    /// The cluster's fsid (guards compare BlueStore labels with it).
    pub fsid: &'a str,
    /// Label grammar.
    pub grammar: &'a LabelGrammar,
    /// CRUSH host bucket.
    pub host: &'a str,
    /// The host bucket was given (`--crush-location`): it is also stored as the OSD's
    /// `crush_location` in the monitors' config, or the OSD would move itself back under its
    /// hostname's bucket when it boots (`osd_crush_update_on_start`).
    pub pin_crush_location: bool,
    /// `--wipe` was given: consent to destroy what is on named devices.
    pub wipe: bool,
    /// The destroyed OSD whose id (and CRUSH position) this one takes (`--osd-id`).
    pub reuse_id: Option<u32>,
    /// Its CRUSH device class (`hdd`, `ssd`, `nvme`, or the operator's).
    pub device_class: &'a str,
    /// How long to wait for an OSD of the host to come up when all are down
    /// (crate::osd::host_down).
    pub host_wait: Duration,
    /// Each of the OSD's devices a LUKS device opened under one key (BlueStore).
    pub encrypt: bool,
    /// Each encrypted device also gets a TPM2 keyslot bound to these PCRs.
    pub tpm2_pcrs: Option<&'a str>,
}

/// One partition of a prepared OSD.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedPartition {
    /// Role.
    pub role: Role,
    /// Node.
    pub path: PathBuf,
    /// PARTUUID.
    pub partuuid: Uuid,
    /// Final name.
    pub name: String,
}

/// The outcome for one OSD.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// OSD id.
    pub osd_id: u32,
    /// OSD uuid (= PARTUUID of the main partition).
    pub osd_uuid: Uuid,
    /// Object store.
    pub store: Store,
    /// Its partitions.
    pub partitions: Vec<PreparedPartition>,
    /// The id of an interrupted earlier preparation that was purged first.
    pub cleaned_up_osd: Option<u32>,
    /// Its CRUSH device class.
    pub device_class: String,
}

/// The test hooks after step `step` (debug builds only): `CEPHBOOT_FAULT_AFTER_STEP=N` exits the
/// process as a crash would; `CEPHBOOT_PAUSE_AFTER_STEP=N` says so on stderr, creates
/// `CEPHBOOT_PAUSE_FLAG` (default `/run/cephboot-paused-N`; a flag of its own lets prepares
/// paused after the same step be told apart) and waits there for good, so that a test can cut
/// the machine's power at exactly that point (the system guest's power-cut case).
fn fault_point(step: u32) {
    let asked = |var: &str| {
        cfg!(debug_assertions)
            && std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok()) == Some(step)
    };
    if asked("CEPHBOOT_PAUSE_AFTER_STEP") {
        crate::errln!("cephboot: test pause after step {step}");
        let flag = std::env::var_os("CEPHBOOT_PAUSE_FLAG")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| format!("/run/cephboot-paused-{step}").into());
        let _ = std::fs::write(flag, b"");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    if asked("CEPHBOOT_FAULT_AFTER_STEP") {
        crate::errln!("cephboot: test fault injected after step {step}");
        // As a crash: no exit handlers (librados' static destructors can crash while its
        // threads still run, and a real crash would not run them either).
        cephboot_ffi::process::exit_immediately(99);
    }
}

/// A partition the OSD uses, as laid out.
struct Placed {
    role: Role,
    disk: PathBuf,
    sector_size: u64,
    number: u32,
    node: PathBuf,
    partuuid: Uuid,
    start: u64,
    size: u64,
    /// On a disk laid out anew (not a reused partition of a shared disk).
    new_table: bool,
}

fn devno_of(f: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(crate::disk::identity::devno(f.metadata().ok()?.rdev()))
}

/// The consent rule for partitions of the main disk that are not this OSD's (plan siblings):
/// one without a signature is still refused without `--wipe` when its first or last MiB holds
/// non-zero bytes; and a partner's table must be one cephboot can edit in place.
fn consent_refusals(plan: &OsdPlan) -> Vec<guard::Refusal> {
    let mut out = Vec::new();
    for s in plan
        .siblings
        .iter()
        .filter(|s| !s.consented && s.holds.is_none())
    {
        if guard::holds_data(&s.disk, s.start_bytes, s.size_bytes) {
            out.push(guard::Refusal {
                device: s.node.clone(),
                reason: "holds data (non-zero bytes, no signature cephboot recognises) and is not labelled for this OSD".into(),
                hint: "pass --wipe to erase it with the disk, or move its data away first".into(),
                force_overrides: false,
            });
        }
    }
    let mut checked: Vec<&Path> = Vec::new();
    for r in &plan.reuse {
        if checked.contains(&r.disk.as_path()) {
            continue;
        }
        checked.push(&r.disk);
        let editable = std::fs::File::open(&r.disk)
            .and_then(|mut f| crate::disk::table::check_editable(&mut f, r.sector_size));
        if let Err(e) = editable {
            out.push(guard::Refusal {
                device: r.node.clone(),
                reason: format!("its disk's partition table cannot be edited safely ({e})"),
                hint: "repair the table first (`sgdisk -e`, or gdisk's `w`), then prepare again"
                    .into(),
                force_overrides: false,
            });
        }
    }
    out
}

pub(crate) fn node_of(disk_name: &str, disk: &Path, number: u32) -> PathBuf {
    disk.parent()
        .unwrap_or(Path::new("/dev"))
        .join(crate::disk::inventory::partition_node_name(
            disk_name, number,
        ))
}

/// The locks of every disk an OSD's preparation touches: the disks it lays out (main first,
/// in plan order) and the shared disks whose partitions it reuses.
struct Locks(Vec<LockedDisk>);

impl Locks {
    /// Every disk locked, claimed exclusively and checked to be the one judged before the
    /// first byte is written: a wipe never happens while another lock of the same OSD cannot
    /// be had, or after a device changed hands. A shared disk whose partition is reused is
    /// claimed only for that partition (its other partitions may be in use).
    fn take(plan: &OsdPlan) -> Result<Self> {
        let mut locks = Vec::new();
        for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
            locks.push(LockedDisk::open_pinned(
                &dw.disk,
                &dw.name,
                &dw.identity,
                &dw.disk,
                Duration::from_secs(10),
            )?);
        }
        for r in &plan.reuse {
            if !locks.iter().any(|l| l.path() == r.disk) {
                locks.push(LockedDisk::open_pinned(
                    &r.disk,
                    &r.disk_name,
                    &r.disk_identity,
                    &r.node,
                    Duration::from_secs(10),
                )?);
            }
        }
        Ok(Locks(locks))
    }

    fn get(&self, disk: &Path) -> Result<&LockedDisk> {
        self.0
            .iter()
            .find(|l| l.path() == disk)
            .ok_or_else(|| Error::Internal(format!("no lock on {}", disk.display())))
    }

    fn get_mut(&mut self, disk: &Path) -> Result<&mut LockedDisk> {
        self.0
            .iter_mut()
            .find(|l| l.path() == disk)
            .ok_or_else(|| Error::Internal(format!("no lock on {}", disk.display())))
    }

    /// The claims end (the locks stay): mkfs and ceph-osd open the partitions exclusively
    /// themselves, each re-checked right before it is handed over.
    fn release_claims(&mut self) {
        for l in &mut self.0 {
            l.release_claim();
        }
    }
}

/// The OSD allocated in step 4.
struct NewOsd {
    id: u32,
    uuid: Uuid,
    secret: String,
    /// An encrypted OSD's dm-crypt key and lockbox secret.
    crypt: Option<(DmcryptKey, String)>,
}

/// Prepares one OSD.
/// What must hold before anything is written: every device's guards and consent, and an OSD
/// of the CRUSH host up (waited for, bounded). An error here is a refusal (or the cluster not
/// answering): nothing was written and no id allocated. [`prepare`] comes after it.
pub fn admit(env: &Env<'_>, snapshot: &Snapshot, plan: &OsdPlan) -> Result<()> {
    check_guards(env, snapshot, plan)?;
    wait_for_an_up_osd_on_host(env, plan)
}

/// Prepares an OSD that [`admit`] let through, on the same snapshot.
pub fn prepare(env: &Env<'_>, snapshot: &Snapshot, plan: &OsdPlan) -> Result<Prepared> {
    // 1. Clean up an interrupted run, then wipe.
    let cleaned_up_osd = clean_up_interrupted(env, plan)?;
    let mut locks = Locks::take(plan)?;
    wipe_all(snapshot, plan, &locks)?;
    fault_point(1);
    // 2 + 3. Tables with "being prepared" types, and the kernel's view of them.
    let uuid = Uuid::new_v4();
    let placed = write_tables(env, plan, &mut locks, uuid)?;
    fault_point(2);
    sync_kernels(plan, &locks, &placed)?;
    fault_point(3);
    // 4. The OSD id.
    let secret = gen_key()?;
    let crypt = if env.encrypt {
        Some((DmcryptKey::generate()?, gen_key()?))
    } else {
        None
    };
    let id = commands::osd_new(
        env.client,
        &uuid.to_string(),
        &secret,
        env.reuse_id,
        crypt.as_ref().map(|(k, l)| commands::OsdCrypt {
            dmcrypt_key: k,
            lockbox_secret: l,
        }),
        // A new OSD gets its class with its id; a replacement's class is checked at step 7
        // (the destroyed OSD's may differ).
        env.reuse_id.is_none().then_some(env.device_class),
    )?;
    tracing::info!(osd = id, uuid = %uuid, encrypted = env.encrypt, "allocated");
    fault_point(4);
    locks.release_claims();
    let osd = NewOsd {
        id,
        uuid,
        secret,
        crypt,
    };
    // 5-8, purging the id again if any of them fails.
    match finish(env, plan, &placed, &osd, &mut locks) {
        Ok(partitions) => Ok(Prepared {
            osd_id: id,
            osd_uuid: uuid,
            store: plan.store,
            partitions,
            cleaned_up_osd,
            device_class: env.device_class.to_string(),
        }),
        Err(e) => match close_mappings(&placed).and_then(|()| give_back_id(env, id)) {
            Ok(()) => Err(e),
            Err(rollback) => Err(Error::Rollback {
                cause: Box::new(e),
                undo: format!(
                    "removing osd.{id} again (the next prepare of this disk cleans it up)"
                ),
                rollback: Box::new(rollback),
            }),
        },
    }
}

/// Waits (bounded by `env.host_wait`) while every OSD of the CRUSH host is down; refuses when
/// none came up, before anything is written (crate::osd::host_down says why).
fn wait_for_an_up_osd_on_host(env: &Env<'_>, plan: &OsdPlan) -> Result<()> {
    let judge = || -> Result<Option<String>> {
        let on_host = commands::crush_ls(env.client, env.host)?;
        let all = commands::osds(env.client)?;
        let mine: Vec<&commands::OsdInfo> =
            all.iter().filter(|o| on_host.contains(&o.id)).collect();
        Ok(super::host_down::blocks_new_osd(&mine))
    };
    let Some(mut why) = judge()? else {
        return Ok(());
    };
    let start = std::time::Instant::now();
    let step = crate::progress::step(format!("waiting for an OSD of host {} to be up", env.host));
    while start.elapsed() < env.host_wait {
        std::thread::sleep(Duration::from_secs(2));
        match judge()? {
            None => {
                step.done();
                return Ok(());
            }
            Some(w) => why = w,
        }
    }
    let err = Error::refused(
        &plan.main.disk,
        format!("not prepared: {why}"),
        "start one of them (`cephboot osd activate ID`) or take them out (`ceph osd out ID`), then prepare again; nothing was written",
    );
    step.end(Err(err))
}

/// Closes the mappings this preparation opened (an encrypted OSD's), before its id is given
/// back: no mapping of a failed preparation is left open.
fn close_mappings(placed: &[Placed]) -> Result<()> {
    let names: Vec<String> = placed
        .iter()
        .map(|p| crate::crypt::luks::mapping_name(&p.partuuid))
        .collect();
    crate::crypt::luks::close_all(&names).map(|_| ())
}

/// Undoes step 4 after a later step failed: a new id is purged; a reused one is destroyed
/// again, so that it still waits for its replacement.
fn give_back_id(env: &Env<'_>, id: u32) -> Result<()> {
    match env.reuse_id {
        Some(_) => env
            .client
            .mgr(serde_json::json!({"prefix": "osd destroy", "id": id, "force": true, "yes_i_really_mean_it": true}))
            .map(|_| ()),
        None => commands::osd_purge_new(env.client, id),
    }
}

/// The guards for every device this OSD touches, and the consent rule for siblings and
/// partner tables, before anything is written.
fn check_guards(env: &Env<'_>, snapshot: &Snapshot, plan: &OsdPlan) -> Result<()> {
    let mut refusals = Vec::new();
    for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
        refusals.extend(guard::judge(
            &guard::gather(snapshot, &dw.disk),
            Some(env.fsid),
            env.wipe,
        ));
    }
    for r in &plan.reuse {
        let mut facts = guard::gather(snapshot, &r.disk);
        facts.devices.retain(|d| d.path == r.node);
        facts.openers.retain(|o| o.device == r.node);
        facts.exclusive_failures.retain(|(d, _)| *d == r.node);
        facts.bluestore_labels.retain(|(d, _)| *d == r.node);
        // The destroyed OSD's own slot, taken again by its replacement on a disk cephboot laid
        // out for this cluster: its BlueStore label (a block.db's carries no cluster fsid) is
        // that OSD's.
        let this_clusters_disk = snapshot
            .find(&r.disk)
            .and_then(|d| d.disk_guid)
            .is_some_and(|g| g.to_string() == env.fsid);
        if r.replaces.is_some() && r.replaces == env.reuse_id && this_clusters_disk {
            facts.bluestore_labels.clear();
        }
        refusals.extend(guard::judge(&facts, Some(env.fsid), env.wipe));
    }
    refusals.extend(consent_refusals(plan));
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(rewrite::refusals_to_error(&refusals))
    }
}

/// Purges the never-booted OSD an interrupted preparation of this disk allocated (found by
/// the uuid its main partition carries); refuses when that OSD has run since.
fn clean_up_interrupted(env: &Env<'_>, plan: &OsdPlan) -> Result<Option<u32>> {
    let Some(old) = plan.resume_osd_uuid else {
        return Ok(None);
    };
    let osds = commands::osds(env.client)?;
    let Some(o) = osds.iter().find(|o| o.uuid == old.to_string()) else {
        return Ok(None);
    };
    if env.reuse_id == Some(o.id) && !o.up {
        // An interrupted replacement took this destroyed id: give it back to wait for this
        // run, which takes it again.
        tracing::info!(osd = o.id, uuid = %old, "destroying the id an interrupted replacement took");
        give_back_id(env, o.id)?;
        return Ok(Some(o.id));
    }
    if o.ever_up {
        return Err(Error::refused(
            &plan.main.disk,
            format!("an interrupted preparation left osd.{} (uuid {old}), and that OSD has run since (a replacement took a destroyed id?)", o.id),
            format!("if this disk was replacing osd.{0}, prepare it again with `--osd-id {0}`; otherwise check it with `ceph osd tree`, remove it with `cephboot osd remove {0}` if it is not wanted, then prepare again", o.id),
        ));
    }
    tracing::info!(osd = o.id, uuid = %old, "purging the OSD of an interrupted preparation");
    commands::osd_purge_new(env.client, o.id)?;
    Ok(Some(o.id))
}

/// Step 1: signatures and old labels off every disk laid out (the old table stays until step
/// 2 replaces it, so a crash in between leaves the bootstrap labels), and off each reused
/// partition.
fn wipe_all(snapshot: &Snapshot, plan: &OsdPlan, locks: &Locks) -> Result<()> {
    for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
        let zap = wipe::plan(snapshot, &dw.disk)?;
        wipe::execute_keeping_table(&zap, snapshot, locks.get(&dw.disk)?)?;
    }
    for r in &plan.reuse {
        wipe_partition(locks.get(&r.disk)?, r.start_bytes, r.size_bytes, &r.node)?;
    }
    Ok(())
}

/// Step 2: the new tables, with "being prepared" types (the main partition's PARTUUID is the
/// OSD uuid, the disk GUID the cluster fsid), and the reused partitions retyped in place.
fn write_tables(
    env: &Env<'_>,
    plan: &OsdPlan,
    locks: &mut Locks,
    osd_uuid: Uuid,
) -> Result<Vec<Placed>> {
    let mut placed: Vec<Placed> = Vec::new();
    for (i, dw) in std::iter::once(&plan.main)
        .chain(plan.extra_disks.iter())
        .enumerate()
    {
        let mut first = i == 0;
        let specs = table::plan(dw.size_bytes, dw.sector_size, &dw.requests(), || {
            if std::mem::take(&mut first) {
                osd_uuid
            } else {
                Uuid::new_v4()
            }
        })
        .map_err(|e| Error::Device {
            device: dw.disk.clone(),
            message: format!("the layout does not fit: {e}"),
        })?;
        // The disk GUID records which cluster the disk belongs to (checked by `osd activate`).
        let disk_guid = Uuid::parse_str(env.fsid).unwrap_or_else(|_| Uuid::new_v4());
        table::write(
            locks.get_mut(&dw.disk)?.file_mut(),
            dw.sector_size,
            disk_guid,
            &specs,
        )
        .map_err(|e| {
            Error::io(
                format!("{}: writing the partition table", dw.disk.display()),
                e,
            )
        })?;
        placed.extend(specs.iter().zip(dw.partitions.iter()).map(|(s, p)| Placed {
            role: p.role,
            disk: dw.disk.clone(),
            sector_size: dw.sector_size,
            number: s.number,
            node: node_of(&dw.name, &dw.disk, s.number),
            partuuid: s.unique_guid,
            start: s.kernel(dw.sector_size).start,
            size: s.kernel(dw.sector_size).size,
            new_table: true,
        }));
    }
    placed.extend(retype_reused(env, plan, locks)?);
    Ok(placed)
}

/// Step 2 for the partitions reused in place (retyped and renamed) and the db slots added to
/// an existing table.
fn retype_reused(env: &Env<'_>, plan: &OsdPlan, locks: &mut Locks) -> Result<Vec<Placed>> {
    let mut placed = Vec::new();
    for r in &plan.reuse {
        let lock = locks.get_mut(&r.disk)?;
        let label = env.grammar.bootstrap(r.role, plan.group.as_deref());
        let written = if r.new_entry {
            // A free db slot: a new entry beside the other OSDs' (theirs kept byte for byte).
            let ss = r.sector_size.max(1);
            table::add_entry(
                lock.file_mut(),
                ss,
                &table::PartitionSpec {
                    number: r.number,
                    name: label,
                    type_guid: types::preparing_type(r.role),
                    unique_guid: Uuid::new_v4(),
                    first_lba: r.start_bytes / ss,
                    last_lba: (r.start_bytes + r.size_bytes) / ss - 1,
                },
            )
        } else {
            table::set_name_and_type(
                lock.file_mut(),
                r.sector_size,
                r.number,
                &label,
                types::preparing_type(r.role),
            )
        };
        written.map_err(|e| {
            Error::io(
                format!(
                    "{}: {} partition {}",
                    r.disk.display(),
                    if r.new_entry { "adding" } else { "retyping" },
                    r.number
                ),
                e,
            )
        })?;
        let partuuid = partuuid_of(lock, r.sector_size, r.number)?;
        placed.push(Placed {
            role: r.role,
            disk: r.disk.clone(),
            sector_size: r.sector_size,
            number: r.number,
            node: r.node.clone(),
            partuuid,
            start: r.start_bytes,
            size: r.size_bytes,
            new_table: false,
        });
    }
    Ok(placed)
}

/// Step 3: the kernel's partitions match the new tables exactly; a shared disk's match its
/// on-disk table.
fn sync_kernels(plan: &OsdPlan, locks: &Locks, placed: &[Placed]) -> Result<()> {
    for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
        let want: Vec<_> = placed
            .iter()
            .filter(|p| p.new_table && p.disk == dw.disk)
            .map(|p| crate::disk::blockops::KernelPartition {
                number: p.number,
                start: p.start,
                size: p.size,
            })
            .collect();
        rewrite::sync_kernel(locks.get(&dw.disk)?, &want)?;
    }
    let mut synced: Vec<&Path> = Vec::new();
    for r in &plan.reuse {
        if !synced.contains(&r.disk.as_path()) {
            synced.push(&r.disk);
            sync_to_table(locks.get(&r.disk)?)?;
        }
    }
    Ok(())
}

/// Steps 5 to 8, after the OSD id exists.
fn finish(
    env: &Env<'_>,
    plan: &OsdPlan,
    placed: &[Placed],
    osd: &NewOsd,
    locks: &mut Locks,
) -> Result<Vec<PreparedPartition>> {
    check_handover(placed, locks)?;
    // 5. The OSD directory.
    let dir = env.conf.osd_data(env.cluster, osd.id);
    let mkfs_args = make_osd_dir(env, plan, placed, osd, &dir)?;
    fault_point(5);
    // 6. mkfs.
    mkfs_osd(env, plan, osd, &dir, &mkfs_args)?;
    fault_point(6);
    // 7. CRUSH location.
    let main = placed
        .first()
        .ok_or_else(|| Error::Internal("a plan without a main partition".into()))?;
    // The CRUSH weight follows the data: an external `_B` block when there is one.
    let data = placed
        .iter()
        .find(|p| p.role == Role::BluestoreBlock)
        .unwrap_or(main);
    let weight = (data.size as f64 / (1u64 << 40) as f64).max(0.0001);
    commands::osd_crush_create_or_move(
        env.client,
        osd.id,
        (weight * 10000.0).round() / 10000.0,
        env.host,
    )?;
    if env.pin_crush_location {
        env.client.mon(serde_json::json!({
            "prefix": "config set",
            "who": format!("osd.{}", osd.id),
            "name": "crush_location",
            "value": format!("root=default host={}", env.host),
        }))?;
    }
    commands::osd_set_device_class(env.client, osd.id, env.device_class)?;
    fault_point(7);
    // 8. Final names and types, last.
    let out = final_names(env, placed, osd.id, locks)?;
    fault_point(8);
    Ok(out)
}

/// Every partition is still the one written, at the same place, not mounted, not held, right
/// before mkfs or ceph-osd opens it.
fn check_handover(placed: &[Placed], locks: &Locks) -> Result<()> {
    for p in placed {
        let disk_devno = locks.get(&p.disk).ok().and_then(|l| devno_of(l.file()));
        let want = crate::disk::identity::PartitionExpectation {
            node: &p.node,
            disk_devno: disk_devno.as_deref().unwrap_or(""),
            number: p.number,
            start_bytes: p.start,
            size_bytes: p.size,
        };
        crate::disk::identity::check_partition(&want).map_err(|why| {
            Error::refused(
                &p.node,
                why,
                "it changed between the table write and mkfs: nothing more was written; check the device, then prepare again",
            )
        })?;
    }
    Ok(())
}

/// Step 5: the OSD directory (bluestore: the `block` link; filestore: xfs made and mounted,
/// the `journal` link), its keyring and the monmap; the extra `ceph-osd --mkfs` arguments.
fn make_osd_dir(
    env: &Env<'_>,
    plan: &OsdPlan,
    placed: &[Placed],
    osd: &NewOsd,
    dir: &Path,
) -> Result<Vec<String>> {
    let main = placed
        .first()
        .ok_or_else(|| Error::Internal("a plan without a main partition".into()))?;
    let find = |role: Role| placed.iter().find(|p| p.role == role);
    if is_mountpoint(dir) {
        exec::run(
            "umount",
            &[&dir.display().to_string()],
            None,
            Duration::from_secs(60),
        )?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let mut mkfs_args: Vec<String> = Vec::new();
    match plan.store {
        Store::Bluestore => {
            // The block: an external `_B` partition, else the main partition itself.
            let block = find(Role::BluestoreBlock).unwrap_or(main);
            let mut roles = vec![(block, "block")];
            roles.extend(find(Role::BluestoreWal).map(|p| (p, "block.wal")));
            roles.extend(find(Role::BluestoreDb).map(|p| (p, "block.db")));
            let paths = open_devices(osd, dir, &roles, env.tpm2_pcrs)?;
            for ((_, what), path) in roles.iter().zip(paths.iter()) {
                match *what {
                    "block" => link(path, &dir.join("block"))?,
                    // ceph-osd --mkfs makes the block.db / block.wal links itself from these.
                    "block.db" => mkfs_args.extend([
                        "--bluestore-block-db-path".into(),
                        path.display().to_string(),
                    ]),
                    _ => mkfs_args.extend([
                        "--bluestore-block-wal-path".into(),
                        path.display().to_string(),
                    ]),
                }
            }
        }
        Store::Filestore => {
            let node = main.node.display().to_string();
            crate::progress::step(format!("mkfs.xfs {node}")).end(exec::run(
                "mkfs.xfs",
                &["-f", "-q", &node],
                None,
                Duration::from_secs(300),
            ))?;
            let dir_s = dir.display().to_string();
            exec::run(
                "mount",
                &["-o", "noatime,inode64", &node, &dir_s],
                None,
                Duration::from_secs(60),
            )?;
            let journal = find(Role::FilestoreJournal)
                .ok_or_else(|| Error::Internal("a filestore plan without a journal".into()))?;
            link(&journal.node, &dir.join("journal"))?;
            write(
                &dir.join("journal_uuid"),
                &format!("{}\n", journal.partuuid),
                0o644,
            )?;
            mkfs_args.extend([
                "--osd-journal".into(),
                dir.join("journal").display().to_string(),
            ]);
        }
    }
    crate::files::write_private(
        &dir.join("keyring"),
        format!("[osd.{}]\n\tkey = {}\n", osd.id, osd.secret).as_bytes(),
    )?;
    let monmap = dir.join("activate.monmap");
    std::fs::write(&monmap, commands::monmap(env.client)?)
        .context(|| format!("writing {}", monmap.display()))?;
    Ok(mkfs_args)
}

/// The paths Ceph is given for a BlueStore OSD's devices: the partitions, or for an encrypted
/// OSD each formatted and opened under its key (block, wal, db: ceph-volume's order) with its
/// lockbox keyring written first, the mappings; with `tpm2_pcrs`, each device also gets a TPM2
/// keyslot bound to those PCRs.
fn open_devices(
    osd: &NewOsd,
    dir: &Path,
    roles: &[(&Placed, &str)],
    tpm2_pcrs: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let Some((key, lockbox)) = &osd.crypt else {
        return Ok(roles.iter().map(|(p, _)| p.node.clone()).collect());
    };
    crate::crypt::custody::write_lockbox_keyring(dir, &osd.uuid.to_string(), lockbox)?;
    let mut devices = Vec::new();
    for (p, what) in roles {
        crate::progress::step(format!(
            "cryptsetup luksFormat {} ({what} of osd.{})",
            p.node.display(),
            osd.id
        ))
        .end(crate::crypt::luks::format(&p.node, key))?;
        if let Some(pcrs) = tpm2_pcrs {
            crate::progress::step(format!(
                "enrolling a TPM2 keyslot on {} (PCRs {pcrs})",
                p.node.display()
            ))
            .end(crate::crypt::tpm2::enroll(&p.node, key, pcrs))?;
        }
        devices.push((
            p.node.clone(),
            crate::crypt::luks::mapping_name(&p.partuuid),
        ));
    }
    crate::crypt::luks::open_all(&devices, key)
}

/// Step 6: `ceph-osd --mkfs`; the filestore data partition is unmounted whatever it did
/// (activation mounts it, and a mounted partition would make the next prepare see the disk as
/// in use).
fn mkfs_osd(
    env: &Env<'_>,
    plan: &OsdPlan,
    osd: &NewOsd,
    dir: &Path,
    extra: &[String],
) -> Result<()> {
    let conf = env.conf.path.display().to_string();
    let id = osd.id.to_string();
    let uuid = osd.uuid.to_string();
    let store = plan.store.to_string();
    let dir_s = dir.display().to_string();
    let monmap = dir.join("activate.monmap");
    let monmap_s = monmap.display().to_string();
    let mut args: Vec<&str> = vec![
        "--cluster",
        env.cluster,
        "-c",
        &conf,
        "-i",
        &id,
        "--mkfs",
        "--osd-uuid",
        &uuid,
        "--osd-objectstore",
        &store,
        "--osd-data",
        &dir_s,
        "--monmap",
        &monmap_s,
        "--keyfile",
        "-",
    ];
    args.extend(extra.iter().map(String::as_str));
    let mkfs =
        crate::progress::step(format!("ceph-osd --mkfs for osd.{id} ({store})")).end(exec::run(
            "ceph-osd",
            &args,
            Some(osd.secret.as_bytes()),
            Duration::from_secs(600),
        ));
    let _ = std::fs::remove_file(&monmap);
    let umounted = if plan.store == Store::Filestore {
        exec::run("umount", &[&dir_s], None, Duration::from_secs(60)).map(|_| ())
    } else {
        Ok(())
    };
    mkfs?;
    umounted
}

/// Step 8: final names (`KOLLA_CEPH_DATA_…`) and Ceph's final type GUIDs; the main partition
/// (the OSD's identity, whose "being prepared" type is what the next run looks for) flips
/// after its partners.
fn final_names(
    env: &Env<'_>,
    placed: &[Placed],
    osd_id: u32,
    locks: &mut Locks,
) -> Result<Vec<PreparedPartition>> {
    let mut out = Vec::new();
    let partners_then_main = placed
        .iter()
        .filter(|p| !p.role.is_primary())
        .chain(placed.iter().filter(|p| p.role.is_primary()));
    for p in partners_then_main {
        let name = env.grammar.prepared(p.role, osd_id);
        table::set_name_and_type(
            locks.get_mut(&p.disk)?.file_mut(),
            p.sector_size,
            p.number,
            &name,
            types::final_type(p.role),
        )
        .map_err(|e| {
            Error::io(
                format!("{}: naming partition {}", p.disk.display(), p.number),
                e,
            )
        })?;
        out.push(PreparedPartition {
            role: p.role,
            path: p.node.clone(),
            partuuid: p.partuuid,
            name,
        });
    }
    out.sort_by_key(|p| !p.role.is_primary());
    Ok(out)
}

/// Erases signatures inside a reused partition and its first MiB (old journal or BlueStore
/// label), through the locked disk.
pub(crate) fn wipe_partition(lock: &LockedDisk, start: u64, size: u64, node: &Path) -> Result<()> {
    Probe::with_range(lock.file().as_fd(), start, size)
        .and_then(|mut p| p.wipe_all())
        .context(|| format!("erasing signatures on {}", node.display()))?;
    // A LUKS header's keyslots reach 16 MiB: all of it, so no key opens the old data.
    let len = size.min(crate::crypt::luks::HEADER_AREA);
    lock.file()
        .write_all_at(&vec![0u8; usize::try_from(len).unwrap_or(0)], start)
        .context(|| format!("zeroing the start of {}", node.display()))?;
    lock.file()
        .sync_all()
        .context(|| format!("flushing {}", node.display()))
}

fn partuuid_of(lock: &mut LockedDisk, sector_size: u64, number: u32) -> Result<Uuid> {
    let size = cephboot_ffi::blockdev::size_bytes(lock.file())
        .context(|| format!("{}: size", lock.path().display()))?;
    match crate::disk::gpt::read_gpt(lock.file_mut(), sector_size, size) {
        crate::disk::gpt::GptRead::Found(t) => t
            .entries
            .iter()
            .find(|e| e.number == number)
            .map(|e| e.unique_guid)
            .ok_or_else(|| Error::Device {
                device: lock.path().to_path_buf(),
                message: format!("partition {number} vanished from the table"),
            }),
        _ => Err(Error::Device {
            device: lock.path().to_path_buf(),
            message: "the partition table could not be read back".into(),
        }),
    }
}

/// Makes the kernel's partitions of a locked disk match its on-disk GPT.
pub fn sync_to_table(lock: &LockedDisk) -> Result<()> {
    let ss = cephboot_ffi::blockdev::logical_sector_size(lock.file()).map_or(512, u64::from);
    let size = cephboot_ffi::blockdev::size_bytes(lock.file())
        .context(|| format!("{}: size", lock.path().display()))?;
    let mut f = lock.file();
    let want: Vec<_> = match crate::disk::gpt::read_gpt(&mut f, ss, size) {
        crate::disk::gpt::GptRead::Found(t) => t
            .entries
            .iter()
            .map(|e| crate::disk::blockops::KernelPartition {
                number: e.number,
                start: e.start_bytes(ss),
                size: e.size_bytes(ss),
            })
            .collect(),
        _ => {
            return Err(Error::Device {
                device: lock.path().to_path_buf(),
                message: "no readable GPT to sync the kernel with".into(),
            })
        }
    };
    rewrite::sync_kernel(lock, &want).map(|_| ())
}

fn gen_key() -> Result<String> {
    let out = exec::run(
        "ceph-authtool",
        &["--gen-print-key"],
        None,
        Duration::from_secs(30),
    )?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if key.is_empty() {
        return Err(Error::Command {
            command: "ceph-authtool --gen-print-key".into(),
            status: "empty output".into(),
            stderr: String::new(),
        });
    }
    Ok(key)
}

/// Points `at` at `target` (replacing whatever link was there).
pub(crate) fn link(target: &Path, at: &Path) -> Result<()> {
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at).map_err(|e| {
        Error::io(
            format!("linking {} -> {}", at.display(), target.display()),
            e,
        )
    })
}

fn write(p: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, text).context(|| format!("writing {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .context(|| format!("setting the mode of {}", p.display()))
}

/// Whether `dir` is a mount point (from mountinfo).
pub fn is_mountpoint(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = dir.display().to_string();
    text.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceph::double::ScriptedClient;
    use crate::disk::identity::DiskIdentity;
    use crate::osd::plan::DiskWrite;
    use serde_json::json;

    fn plan(resume: Option<Uuid>) -> OsdPlan {
        OsdPlan {
            store: Store::Bluestore,
            group: None,
            main: DiskWrite {
                disk: "/dev/sdb".into(),
                name: "sdb".into(),
                size_bytes: 1 << 32,
                sector_size: 512,
                partitions: Vec::new(),
                identity: DiskIdentity {
                    devno: None,
                    size_bytes: 1 << 32,
                    diskseq: None,
                    serial: None,
                    disk_guid: None,
                },
            },
            extra_disks: Vec::new(),
            reuse: Vec::new(),
            siblings: Vec::new(),
            resume_osd_uuid: resume,
            db_slot: None,
            wal_slot: None,
        }
    }

    fn env<'a>(
        client: &'a ScriptedClient,
        conf: &'a CephConf,
        grammar: &'a LabelGrammar,
    ) -> Env<'a> {
        Env {
            client,
            conf,
            cluster: "ceph",
            fsid: "5f0b7c4e-0000-4000-8000-000000000001",
            grammar,
            host: "node1",
            pin_crush_location: false,
            wipe: false,
            reuse_id: None,
            device_class: "hdd",
            host_wait: Duration::from_secs(0),
            encrypt: false,
            tpm2_pcrs: None,
        }
    }

    fn osd_dump(uuid: Uuid, up_from: u64) -> serde_json::Value {
        json!({"osds": [
            {"osd": 2, "uuid": "11111111-1111-4111-8111-111111111111", "up": 1, "in": 1, "up_from": 5},
            {"osd": 3, "uuid": uuid.to_string(), "up": 0, "in": 1, "up_from": up_from},
        ]})
    }

    #[test]
    fn an_interrupted_run_s_never_booted_osd_is_purged_and_only_it() {
        let uuid = Uuid::from_u128(0xABC);
        let client = ScriptedClient::new()
            .answer("osd dump", osd_dump(uuid, 0))
            .answer("osd purge-new", serde_json::Value::Null);
        let (conf, g) = (
            CephConf::parse(Path::new("/c"), ""),
            LabelGrammar::default(),
        );
        let cleaned = clean_up_interrupted(&env(&client, &conf, &g), &plan(Some(uuid))).unwrap();
        assert_eq!(cleaned, Some(3));
        assert_eq!(client.prefixes(), ["osd dump", "osd purge-new"]);
        assert_eq!(client.sent()[1]["id"], 3);
    }

    #[test]
    fn an_osd_that_has_run_since_is_refused_not_purged() {
        let uuid = Uuid::from_u128(0xABC);
        let client = ScriptedClient::new().answer("osd dump", osd_dump(uuid, 42));
        let (conf, g) = (
            CephConf::parse(Path::new("/c"), ""),
            LabelGrammar::default(),
        );
        let e = clean_up_interrupted(&env(&client, &conf, &g), &plan(Some(uuid))).unwrap_err();
        assert_eq!(e.exit_code() as i32, 3, "{e}");
        assert!(
            e.to_string().contains("osd.3") && e.to_string().contains("has run since"),
            "{e}"
        );
        assert_eq!(client.prefixes(), ["osd dump"], "nothing purged");
    }

    #[test]
    fn an_interrupted_replacement_gives_its_id_back_instead_of_purging_it() {
        // osd.3 ran before it was destroyed; a replacement took the id again and was cut off.
        let uuid = Uuid::from_u128(0xABC);
        let client = ScriptedClient::new()
            .answer("osd dump", osd_dump(uuid, 42))
            .answer("osd destroy", serde_json::Value::Null);
        let (conf, g) = (
            CephConf::parse(Path::new("/c"), ""),
            LabelGrammar::default(),
        );
        let mut e = env(&client, &conf, &g);
        e.reuse_id = Some(3);
        assert_eq!(
            clean_up_interrupted(&e, &plan(Some(uuid))).unwrap(),
            Some(3)
        );
        assert_eq!(
            client.prefixes(),
            ["osd dump", "osd destroy"],
            "destroyed, not purged"
        );
        // Another id named: the OSD that ran is refused as before, and the hint names the way.
        let client = ScriptedClient::new().answer("osd dump", osd_dump(uuid, 42));
        let err = clean_up_interrupted(&env(&client, &conf, &g), &plan(Some(uuid))).unwrap_err();
        assert!(err.to_string().contains("--osd-id 3"), "{err}");
    }

    #[test]
    fn nothing_to_resume_sends_nothing_and_an_unknown_uuid_purges_nothing() {
        let client = ScriptedClient::new().answer("osd dump", osd_dump(Uuid::from_u128(1), 0));
        let (conf, g) = (
            CephConf::parse(Path::new("/c"), ""),
            LabelGrammar::default(),
        );
        let e = env(&client, &conf, &g);
        assert_eq!(clean_up_interrupted(&e, &plan(None)).unwrap(), None);
        assert!(client.sent().is_empty());
        assert_eq!(
            clean_up_interrupted(&e, &plan(Some(Uuid::from_u128(9)))).unwrap(),
            None
        );
        assert_eq!(client.prefixes(), ["osd dump"]);
    }
}
