//! `osd remove ID`: an OSD taken out of service for good, or (`keep_id`) destroyed so that a
//! replacement disk takes its id and CRUSH position (`osd prepare DEV --osd-id ID`).
//!
//! In the order that keeps the data and every other device safe:
//!
//! 1. Ceph is asked, until `timeout`, whether stopping it leaves every PG available (`osd
//!    ok-to-stop`); if not, nothing is done (exit 3) unless `force`.
//! 2. It is marked out, and Ceph is asked, until `timeout`, whether it can be destroyed
//!    without losing data (`osd safe-to-destroy`: its PGs have moved elsewhere). If not, it is
//!    marked in again and nothing else is done, unless `force`.
//! 3. Its daemon is stopped (the one cephboot started, by pidfile; or its systemd unit).
//! 4. `osd purge` (id, CRUSH entry and key gone) or, with `keep_id`, `osd destroy` (key gone,
//!    id and CRUSH position kept, marked destroyed): manager commands, which check
//!    safe-to-destroy once more unless `force`.
//! 5. Its directory is unmounted and removed, and its disks are zapped under the guards of
//!    `disks zap`. A disk that also holds partitions of something else (a shared fast device
//!    with the DBs of other OSDs) is not zapped: the OSD's own partition on it, when the disk
//!    is one cephboot laid out for this cluster, is erased and its entry taken out of the
//!    table in place (the slot is free for the next OSD), or, with `keep_id`, kept for the
//!    replacement to take again in place; anything else is left as it is and named.
//!
//! A rerun after any step goes on from where it stopped; removing a removed OSD is
//! `unchanged`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::activate::{FoundOsd, Origin};
use super::drain;
use super::lvm_teardown::{self, Teardown};
use crate::action::Action;
use crate::ceph::client::{CephClient, ConnectOptions};
use crate::ceph::conf::CephConf;
use crate::cluster::daemons;
use crate::disk::classify::classify;
use crate::disk::label::LabelGrammar;
use crate::disk::zap::{self, ZapFailure, ZapRequest};
use crate::error::{Error, Result};
use crate::exec;

/// What to remove.
#[derive(Debug, Clone)]
pub struct RemoveRequest {
    /// The OSD.
    pub id: u32,
    /// Destroy instead of purge: the id and its CRUSH position stay for a replacement.
    pub keep_id: bool,
    /// Remove even when Ceph says it is not safe.
    pub force: bool,
    /// How long to wait for Ceph's yes: `ok-to-stop`, then `safe-to-destroy` after marking it
    /// out.
    pub timeout: Duration,
    /// Report what would be done; change nothing.
    pub dry_run: bool,
    /// Where to record the disks zapped (`crate::osd::removed`), before they are zapped: the
    /// daemon must not make a new OSD on a disk the operator is emptying.
    pub record_removed_in: Option<PathBuf>,
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveStep {
    /// `safety`, `out`, `stop`, `purge`, `destroy`, `directory`, `zap`.
    pub step: &'static str,
    /// What happened.
    pub action: Action,
    /// Details for people.
    pub detail: String,
}

/// The outcome of `osd remove`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveReport {
    /// The OSD.
    pub osd_id: u32,
    /// `removed`, `unchanged`, `would_remove`.
    pub action: Action,
    /// Something changed.
    pub changed: bool,
    /// Nothing was written.
    pub dry_run: bool,
    /// The id was kept (destroyed, not purged).
    pub keep_id: bool,
    /// Each step.
    pub steps: Vec<RemoveStep>,
    /// Disks zapped (or that would be).
    pub zapped: Vec<String>,
    /// Its partitions on disks shared with something else: left as they are.
    pub left: Vec<String>,
    /// Its partitions on shared fast disks given back as free slots (erased, taken out of the
    /// table; the other partitions of the disk untouched).
    pub freed: Vec<String>,
    /// With `keep_id`: its partitions on shared fast disks kept for the replacement
    /// (`osd prepare DEV --osd-id ID --db DISK` takes them again in place).
    pub kept: Vec<String>,
    /// A ceph-volume lvm OSD's logical volumes, the volume groups they leave empty and those
    /// groups' physical volumes, removed in that order (or that would be).
    pub volumes: Vec<String>,
}

impl RemoveReport {
    fn unchanged(req: &RemoveRequest) -> Self {
        RemoveReport {
            osd_id: req.id,
            action: Action::Unchanged,
            changed: false,
            dry_run: req.dry_run,
            keep_id: req.keep_id,
            steps: Vec::new(),
            zapped: Vec::new(),
            left: Vec::new(),
            freed: Vec::new(),
            kept: Vec::new(),
            volumes: Vec::new(),
        }
    }
}

/// The OSD as the cluster knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InMap {
    /// Up.
    pub up: bool,
    /// In.
    pub is_in: bool,
    /// Destroyed (id kept for a replacement).
    pub destroyed: bool,
    /// Has booted at least once (the osdmap has an `up_from` for it).
    pub ever_up: bool,
}

impl InMap {
    /// Whether the OSD can hold no data (pure): it has never booted, so no PG ever wrote to
    /// it, and Ceph's own answers (`ok-to-stop`, `safe-to-destroy`) about it are not needed —
    /// nor to be waited for while PGs elsewhere are unknown.
    pub fn never_started(self) -> bool {
        !self.up && !self.ever_up
    }
}

impl From<&crate::ceph::commands::OsdInfo> for InMap {
    fn from(o: &crate::ceph::commands::OsdInfo) -> Self {
        InMap {
            up: o.up,
            is_in: o.is_in,
            destroyed: o.destroyed,
            ever_up: o.ever_up,
        }
    }
}

/// Whether `osd` (found by its labels on this host) is this cluster's: its disk carries the
/// cluster's fsid as its GPT disk GUID (cephboot lays disks out so), or its main partition's
/// uuid is the one the cluster has for that id (pure).
pub fn is_this_clusters(
    osd: &FoundOsd,
    fsid: Option<uuid::Uuid>,
    map_uuid: Option<&str>,
    guid_of: impl Fn(&Path) -> Option<uuid::Uuid>,
) -> bool {
    let by_uuid = matches!((osd.osd_uuid.as_deref(), map_uuid), (Some(a), Some(b)) if a == b);
    let by_disk = fsid.is_some() && osd.partitions.values().any(|p| guid_of(p) == fsid);
    by_uuid || by_disk
}

/// Whether there is anything left to do for `req` (pure): the map still has it (or, for
/// `keep_id`, has it not yet destroyed), or this host still has its disks.
pub fn needs_work(req: &RemoveRequest, map: Option<InMap>, local: bool) -> bool {
    let in_cluster = match map {
        None => false,
        Some(m) if req.keep_id => !m.destroyed,
        Some(_) => true,
    };
    in_cluster || local
}

/// The disks to zap and the devices to leave: a disk is zapped when every partition on it is
/// one of this OSD's, or when the OSD's device is the whole disk (a `ceph-volume raw` OSD's)
/// (pure; `disk_of` gives the disk a device lies on, itself for a whole disk, None for what
/// is no disk or partition of one — a logical volume; `partitions_of` lists a disk's
/// partitions with the OSD id their label names, if any).
pub fn disks_to_zap(
    osd: &FoundOsd,
    disk_of: impl Fn(&Path) -> Option<PathBuf>,
    partitions_of: impl Fn(&Path) -> Vec<(PathBuf, Option<u32>)>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut zap = BTreeSet::new();
    let mut left = Vec::new();
    for part in osd.partitions.values() {
        let Some(disk) = disk_of(part) else {
            left.push(part.clone());
            continue;
        };
        let whole = &disk == part;
        let all_ours = whole
            || partitions_of(&disk)
                .iter()
                .all(|(_, id)| *id == Some(osd.osd_id));
        if all_ours {
            zap.insert(disk);
        } else {
            left.push(part.clone());
        }
    }
    (zap.into_iter().collect(), left)
}

/// Whether `osd`, found on this host by ceph-volume's marks, is this cluster's: those finders
/// keep only OSDs of the cluster's fsid (`have_fsid`), and the map, when it still has the id,
/// must have it under the same uuid (otherwise the volume is an older osd.ID's) (pure).
fn found_as_this_clusters(osd: &FoundOsd, have_fsid: bool, map_uuid: Option<&str>) -> bool {
    let by_marks = matches!(osd.origin, Origin::CephVolumeLvm | Origin::CephVolumeRaw);
    let same = match (map_uuid, osd.osd_uuid.as_deref()) {
        (Some(m), Some(o)) => m.eq_ignore_ascii_case(o),
        (Some(_), None) => false,
        (None, _) => true,
    };
    by_marks && have_fsid && same
}

/// The teardown of a ceph-volume lvm OSD's volumes, from LVM read now.
fn lvm_teardown_of(osd: &FoundOsd) -> Result<Teardown> {
    let uuid = osd.osd_uuid.as_deref().ok_or_else(|| {
        Error::Internal(format!(
            "ceph-volume lvm osd.{} without its uuid",
            osd.osd_id
        ))
    })?;
    let (lvs, pvs) = lvm_teardown::read_host()?;
    Ok(lvm_teardown::plan(uuid, &lvs, &pvs))
}

/// Once its daemon is gone, before its disks are zapped: an encrypted OSD's mappings closed,
/// then (`teardown`) a ceph-volume lvm OSD's volumes taken apart as LVM says they are now.
fn release_devices(osd: &FoundOsd, teardown: bool, steps: &mut Vec<RemoveStep>) -> Result<()> {
    if osd.encrypted {
        let closed = crate::crypt::luks::close_all(&osd.mapping_names())?;
        if !closed.is_empty() {
            let detail = format!("dm-crypt mappings closed: {}", closed.join(", "));
            step(steps, "mappings", Action::Updated, detail);
        }
    }
    if teardown {
        let fresh = lvm_teardown_of(osd)?;
        lvm_teardown::apply(&fresh)?;
        let detail = fresh.described().join(", ");
        step(steps, "volumes", Action::Removed, detail);
    }
    Ok(())
}

/// A ceph-volume lvm OSD's volumes, groups and physical volumes to take apart (read from LVM
/// now; nothing for other OSDs): its volumes are no longer `left`, its physical volumes' whole
/// disks join the `disks` to zap, a physical volume on a partition is named under `left`.
fn volumes_to_take_apart(
    local: Option<&FoundOsd>,
    snapshot: &crate::disk::inventory::Snapshot,
    disks: &mut Vec<PathBuf>,
    left: &mut Vec<PathBuf>,
) -> Result<Teardown> {
    let mut teardown = match local.filter(|o| o.origin == Origin::CephVolumeLvm) {
        Some(osd) => lvm_teardown_of(osd)?,
        None => return Ok(Teardown::default()),
    };
    left.retain(|p| !teardown.volumes.contains(p));
    let (pv_disks, pv_parts) = whole_disks(&teardown.physical, snapshot);
    disks.extend(pv_disks);
    teardown.kept.extend(pv_parts.iter().map(|p| {
        format!(
            "{} (its physical volume removed, the partition left)",
            p.display()
        )
    }));
    Ok(teardown)
}

/// Of `devices`, the whole disks and the rest (partitions, and what the snapshot does not know).
fn whole_disks(
    devices: &[PathBuf],
    snapshot: &crate::disk::inventory::Snapshot,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    devices.iter().cloned().partition(|p| {
        snapshot.find(p).is_some_and(|d| {
            d.parent.is_none()
                && d.kind == crate::disk::inventory::DeviceKind::Disk
                && !d.name.starts_with("dm-")
        })
    })
}

/// [`disks_to_zap`] for `osd` on this host's disks as `snapshot` read them.
fn disks_on_host_to_zap(
    osd: &FoundOsd,
    snapshot: &crate::disk::inventory::Snapshot,
    classified: &[crate::disk::classify::Classified<'_>],
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    disks_to_zap(
        osd,
        |p| {
            snapshot
                .find(p)
                .map(|d| d.parent.clone().unwrap_or_else(|| d.path.clone()))
        },
        |disk| {
            classified
                .iter()
                .filter(|c| c.device.parent.as_deref() == Some(disk))
                .map(|c| {
                    // Its own partitions count as its own even unlabelled (ceph-disk's).
                    let id = if osd.has_member(&c.device.path) {
                        Some(osd.osd_id)
                    } else {
                        c.verdict.osd_id()
                    };
                    (c.device.path.clone(), id)
                })
                .collect()
        },
    )
}

fn step(steps: &mut Vec<RemoveStep>, step: &'static str, action: Action, detail: String) {
    steps.push(RemoveStep {
        step,
        action,
        detail,
    });
}

/// Polls the manager's `osd ok-to-stop` or `osd safe-to-destroy` (`question`) until it says
/// yes or `timeout` passes; the last refusal when it never does.
fn wait_for_yes(c: &dyn CephClient, question: &str, id: u32, timeout: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        match c.mgr(json!({"prefix": question, "ids": [id.to_string()]})) {
            Ok(_) => return None,
            Err(e) if start.elapsed() >= timeout => return Some(e.to_string()),
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

/// The pools (with their rules) and the CRUSH tree, read now: what [`drain::shortfalls`]
/// judges.
fn placement_shortfalls(c: &dyn CephClient, id: u32) -> Result<Vec<drain::Shortfall>> {
    let dump = c.mon(json!({"prefix": "osd dump"}))?;
    let rules = c.mon(json!({"prefix": "osd crush rule dump"}))?;
    let tree = c.mon(json!({"prefix": "osd tree"}))?;
    let tree = drain::parse_tree(&tree).ok_or_else(|| Error::Cluster {
        context: "reading the reply to `osd tree`".into(),
        message: "it has no nodes".into(),
        errno: None,
    })?;
    Ok(drain::shortfalls(
        &drain::parse_placements(&dump, &rules),
        &tree,
        id,
    ))
}

/// The manager's PG statistics now.
pub(crate) fn pg_map(c: &dyn CephClient) -> Result<drain::PgMapView> {
    let v = c.mgr(json!({"prefix": "pg dump", "dumpcontents": ["all"]}))?;
    let mut view = drain::parse_pg_dump(&v).ok_or_else(|| Error::Cluster {
        context: "reading the reply to `pg dump`".into(),
        message: "it has no pg_stats".into(),
        errno: None,
    })?;
    view.expected = drain::expected_pgs(&c.mon(json!({"prefix": "osd dump"}))?);
    Ok(view)
}

/// The osdmap epoch now.
fn osdmap_epoch(c: &dyn CephClient) -> Result<u64> {
    let dump = c.mon(json!({"prefix": "osd dump"}))?;
    dump.get("epoch")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| Error::Cluster {
            context: "reading the reply to `osd dump`".into(),
            message: "it has no epoch".into(),
            errno: None,
        })
}

/// Waits (until `timeout`) for the PGs of OSD `id` to be active+clean elsewhere on statistics
/// newer than its out ([`drain::judge_drain`]); the last reason they are not when they never
/// are. A PG seen on the OSD in any reading joins those judged (the reading before the out
/// may have been older than the mapping); a reading that fails is waited out like a no.
fn wait_drained(
    c: &dyn CephClient,
    id: u32,
    judged: &mut drain::Judged,
    timeout: Duration,
) -> Option<String> {
    let start = Instant::now();
    let progress = crate::progress::step(format!(
        "waiting for the PGs of osd.{id} to be active+clean elsewhere"
    ));
    loop {
        let verdict = match pg_map(c) {
            Ok(view) => {
                if let drain::Judged::Had(had, _) = judged {
                    had.extend(
                        view.pgs
                            .iter()
                            .filter(|p| p.has(id))
                            .map(|p| p.pgid.clone()),
                    );
                }
                drain::judge_drain(judged, &view, id)
            }
            Err(e) => drain::Drain::Waiting(format!("the cluster did not answer: {e}")),
        };
        match verdict {
            drain::Drain::Drained => {
                progress.done();
                return None;
            }
            drain::Drain::Waiting(why) if start.elapsed() >= timeout => {
                drop(progress);
                return Some(why);
            }
            drain::Drain::Waiting(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

/// Steps 1 and 2: Ceph's word that the OSD can go, on current evidence, or a refusal (it is
/// marked in again when this marked it out).
fn make_safe(
    c: &dyn CephClient,
    req: &RemoveRequest,
    map: InMap,
    steps: &mut Vec<RemoveStep>,
) -> Result<()> {
    if map.never_started() {
        let detail = "never started (no up_from in the osdmap): it holds no data".to_string();
        step(steps, "safety", Action::Unchanged, detail);
        return Ok(());
    }
    let wait = if req.force {
        Duration::ZERO
    } else {
        req.timeout
    };
    may_stop(c, req, wait, steps)?;
    if req.dry_run {
        return Ok(());
    }
    drain_out(c, req, map, wait, steps)
}

/// Step 1, nothing changed yet: every pool keeps its copies without the OSD, and Ceph says it
/// may stop (`ok-to-stop`); a refusal otherwise, unless forced.
fn may_stop(
    c: &dyn CephClient,
    req: &RemoveRequest,
    wait: Duration,
    steps: &mut Vec<RemoveStep>,
) -> Result<()> {
    let id = req.id;
    let short = placement_shortfalls(c, id)?;
    if !short.is_empty() && !req.force {
        let why: Vec<String> = short.iter().map(ToString::to_string).collect();
        return Err(Error::refused(
            format!("osd.{id}"),
            format!(
                "without it the cluster cannot keep every copy of its data: {}",
                why.join("; ")
            ),
            "nothing was changed; add an OSD first (`cephboot osd prepare DISK`) so the copies have somewhere to go, or lower the pool's size (`cephboot pools init --replicas N`), or pass --force to remove it anyway (its copies are lost and the PGs stay degraded)",
        ));
    }
    let redundancy = if short.is_empty() {
        "every pool keeps its copies without it".to_string()
    } else {
        let why: Vec<String> = short.iter().map(ToString::to_string).collect();
        format!("no, forced: {}", why.join("; "))
    };
    step(
        steps,
        "safety",
        Action::Unchanged,
        format!("redundancy: {redundancy}"),
    );
    let ok_to_stop = wait_for_yes(c, "osd ok-to-stop", id, wait);
    if let Some(e) = &ok_to_stop {
        if !req.force {
            return Err(Error::refused(
                format!("osd.{id}"),
                format!(
                    "Ceph says stopping it would leave PGs unavailable (asked for {} s): {e}",
                    req.timeout.as_secs()
                ),
                "nothing was changed; wait until the cluster is healthy or add capacity, or pass --force to remove it anyway (data whose only copies are on it is lost)",
            ));
        }
    }
    let word = ok_to_stop.map_or("yes".to_string(), |e| format!("no, forced: {e}"));
    step(
        steps,
        "safety",
        Action::Unchanged,
        format!("ok-to-stop: {word}"),
    );
    Ok(())
}

/// Step 2: marked out, then its PGs waited for until they are clean elsewhere on current
/// statistics and Ceph says `safe-to-destroy`; marked in again on a refusal or an error.
fn drain_out(
    c: &dyn CephClient,
    req: &RemoveRequest,
    map: InMap,
    wait: Duration,
    steps: &mut Vec<RemoveStep>,
) -> Result<()> {
    let id = req.id;
    // The PGs it holds, read before the out: these must be clean elsewhere afterwards, on
    // statistics from the map of the out or newer. A down OSD is in no PG's sets: then, as
    // when it was out already, every PG is judged.
    let mut judged = if map.is_in && map.up {
        let had: BTreeSet<String> = pg_map(c)?
            .pgs
            .iter()
            .filter(|p| p.has(id))
            .map(|p| p.pgid.clone())
            .collect();
        drain::Judged::Had(had, 0)
    } else {
        drain::Judged::Every
    };
    if map.is_in {
        c.mon(json!({"prefix": "osd out", "ids": [id.to_string()]}))?;
        step(
            steps,
            "out",
            Action::Updated,
            format!("osd.{id} marked out"),
        );
    }
    // From here on any failure puts it back in: an error must not leave it out.
    let waited = (|| -> Result<Option<String>> {
        if let drain::Judged::Had(_, epoch) = &mut judged {
            *epoch = osdmap_epoch(c)?;
        }
        Ok(match wait_drained(c, id, &mut judged, wait) {
            None => wait_for_yes(c, "osd safe-to-destroy", id, wait),
            Some(why) => Some(why),
        })
    })();
    let drained = match waited {
        Ok(d) => d,
        Err(e) => {
            if map.is_in {
                let _ = c.mon(json!({"prefix": "osd in", "ids": [id.to_string()]}));
            }
            return Err(e);
        }
    };
    let evidence = match &judged {
        drain::Judged::Had(had, epoch) => format!(
            "its {} PGs active+clean elsewhere on statistics from osdmap epoch {epoch} or later",
            had.len()
        ),
        drain::Judged::Every => "every PG active+clean, none on it".to_string(),
    };
    match drained {
        None => step(
            steps,
            "safety",
            Action::Unchanged,
            format!("safe-to-destroy: yes ({evidence})"),
        ),
        Some(e) if req.force => step(
            steps,
            "safety",
            Action::Unchanged,
            format!("safe-to-destroy: no, forced: {e}"),
        ),
        Some(e) => {
            if map.is_in {
                c.mon(json!({"prefix": "osd in", "ids": [id.to_string()]}))?;
            }
            return Err(Error::refused(
                format!("osd.{id}"),
                format!(
                    "its data has not moved elsewhere yet after {} s: {e}",
                    req.timeout.as_secs()
                ),
                if map.is_in {
                    "it was marked in again and nothing else was changed; rerun with a longer --wait once backfill has moved its PGs (`ceph -s`), or pass --force"
                } else {
                    "nothing was changed (it was out before); rerun with a longer --wait once backfill has moved its PGs (`ceph -s`), or pass --force"
                },
            ));
        }
    }
    Ok(())
}

/// Step 3: its daemon stopped. Returns whether one was running.
fn stop_daemon(conf: &CephConf, cluster: &str, id: u32) -> Result<bool> {
    // Its cephboot unit first, stopped, disabled and forgotten: systemd would otherwise start
    // it again (on failure, or at the next boot).
    let unit = crate::supervise::units::DaemonUnit::new(
        crate::supervise::units::DaemonKind::Osd,
        cluster,
        &id.to_string(),
    );
    // Whenever cephboot installed one (even if this run would not start daemons under
    // systemd): a unit left enabled would start the removed OSD at the next boot.
    if crate::supervise::systemd::is_installed(&unit)
        && exec::resolve("systemctl").is_ok()
        && crate::supervise::systemd::retire(&unit, true)?
    {
        // Its last thread gone too before anything is unmounted.
        let pidfile = conf.osd_pidfile(cluster, id);
        daemons::stop(&pidfile, "ceph-osd", Duration::from_secs(30));
        return Ok(true);
    }
    let pidfile = conf.osd_pidfile(cluster, id);
    if daemons::stop(&pidfile, "ceph-osd", Duration::from_secs(30)) {
        return Ok(true);
    }
    let unit = format!("ceph-osd@{id}");
    if exec::resolve("systemctl").is_ok() {
        let active = exec::run(
            "systemctl",
            &["is-active", "--quiet", &unit],
            None,
            Duration::from_secs(10),
        )
        .is_ok();
        if active {
            exec::run("systemctl", &["stop", &unit], None, Duration::from_secs(60))?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Unmounts `dir`, waiting up to `bound` while the kernel says it is busy: a daemon that was
/// just stopped may still be releasing its files (a FileStore OSD's data directory).
fn unmount_when_released(dir: &Path, bound: Duration) -> Result<()> {
    let d = dir.display().to_string();
    let start = Instant::now();
    let mut progress = None;
    loop {
        match exec::run("umount", &[d.as_str()], None, Duration::from_secs(60)) {
            Ok(_) => {
                if let Some(p) = progress.take() {
                    crate::progress::Step::done(p);
                }
                return Ok(());
            }
            Err(e) if start.elapsed() < bound && e.to_string().contains("busy") => {
                if progress.is_none() {
                    progress = Some(crate::progress::step(format!(
                        "waiting for {d} to be released by its stopped daemon"
                    )));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Step 5a: the OSD directory unmounted and removed.
fn remove_dir(dir: &Path) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    if super::prepare::is_mountpoint(dir) {
        unmount_when_released(dir, Duration::from_secs(60))?;
    }
    std::fs::remove_dir_all(dir)
        .map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
    Ok(true)
}

/// Steps 3 and 4: the daemon stopped, then the id purged or (`keep_id`) destroyed.
fn take_out(
    client: &dyn CephClient,
    conf: &CephConf,
    cluster: &str,
    req: &RemoveRequest,
    map: Option<InMap>,
    steps: &mut Vec<RemoveStep>,
) -> Result<()> {
    let id = req.id;
    if stop_daemon(conf, cluster, id)? {
        let detail = format!("ceph-osd of osd.{id} stopped");
        step(steps, "stop", Action::Updated, detail);
    }
    let Some(m) = map else {
        return Ok(());
    };
    if m.up {
        let _ = client.mon(json!({"prefix": "osd down", "ids": [id.to_string()]}));
    }
    let (prefix, what) = match (req.keep_id, m.destroyed) {
        (true, true) => return Ok(()),
        (true, false) => (
            "osd destroy",
            format!("osd.{id} destroyed: its id and CRUSH position wait for a replacement"),
        ),
        (false, _) => (
            "osd purge",
            format!("osd.{id} purged (id, CRUSH entry and key)"),
        ),
    };
    client.mgr(
        json!({"prefix": prefix, "id": id, "force": req.force, "yes_i_really_mean_it": true}),
    )?;
    if !req.keep_id {
        // A CRUSH location pinned by `osd prepare --crush-location` goes with the id (a
        // replacement that keeps the id keeps it too). Nothing to remove is not an error.
        let _ = client.mon(
            json!({"prefix": "config rm", "who": format!("osd.{id}"), "name": "crush_location"}),
        );
    }
    let name = if req.keep_id { "destroy" } else { "purge" };
    step(steps, name, Action::Updated, what);
    Ok(())
}

/// Step 5b: `disks` zapped under the guards of `disks zap` (this cluster's own BlueStore labels
/// need no force), read afresh now that the OSD is stopped.
fn zap_disks(disks: &[PathBuf], fsid: Option<&str>) -> Result<Action> {
    let fresh = crate::disk::listing::scan_all();
    let zap_req = ZapRequest {
        disks: disks
            .iter()
            .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        cluster_fsid: fsid.map(str::to_string),
        force: false,
        dry_run: false,
        released_first: Vec::new(),
    };
    match zap::zap_all(&fresh, &zap_req) {
        Ok(z) if z.changed => Ok(Action::Zapped),
        Ok(_) => Ok(Action::Unchanged),
        Err(ZapFailure::Refused(r)) => Err(Error::Refusals(r)),
        Err(ZapFailure::Error(e)) => Err(e),
    }
}

/// Its partitions on shared disks: on this cluster's fast disks (`ours`) slots to free, or
/// with `keep_id` to keep; the rest left and named. Returns the slots to free.
fn sort_left(
    report: &mut RemoveReport,
    req: &RemoveRequest,
    left: Vec<PathBuf>,
    ours: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let (slots, left): (Vec<PathBuf>, Vec<PathBuf>) = left.into_iter().partition(|p| ours(p));
    let shown = slots.iter().map(|p| p.display().to_string()).collect();
    report.left = left.iter().map(|p| p.display().to_string()).collect();
    if req.keep_id {
        report.kept = shown;
        Vec::new()
    } else {
        report.freed = shown;
        slots
    }
}

/// Step 5c: the OSD's partitions on shared fast disks erased and taken out of their tables in
/// place (each claimed exclusively first, the disk's other partitions untouched), read afresh
/// now that the OSD is stopped.
fn give_back_slots(parts: &[PathBuf]) -> Result<()> {
    let fresh = crate::disk::listing::scan_all();
    for part in parts {
        let dev = fresh
            .find(part)
            .ok_or_else(|| Error::NotFound(format!("{} vanished", part.display())))?;
        let disk = dev
            .parent
            .as_deref()
            .and_then(|d| fresh.find(d))
            .ok_or_else(|| Error::NotFound(format!("the disk of {}", part.display())))?;
        let mut lock = crate::disk::lock::LockedDisk::open_pinned(
            &disk.path,
            &disk.name,
            &crate::disk::identity::DiskIdentity::of(disk),
            part,
            Duration::from_secs(10),
        )?;
        let start = dev.start_bytes.unwrap_or(0);
        super::prepare::wipe_partition(&lock, start, dev.size_bytes, part)?;
        let number = dev.partition_number.unwrap_or(0);
        crate::disk::table::delete_entry(lock.file_mut(), disk.sector_size, number).map_err(
            |e| {
                Error::io(
                    format!(
                        "{}: taking partition {number} out of the table",
                        disk.path.display()
                    ),
                    e,
                )
            },
        )?;
        lock.release_claim();
        super::prepare::sync_to_table(&lock)?;
    }
    Ok(())
}

/// Records the disks about to be zapped as emptied by the operator (`crate::osd::removed`),
/// when the request asks for it: the daemon must not make a new OSD on them.
fn record_removed(req: &RemoveRequest, disks: &[PathBuf]) -> Result<()> {
    let Some(state_dir) = &req.record_removed_in else {
        return Ok(());
    };
    let now = crate::daemon::state::now();
    let records: Vec<super::removed::RemovedDisk> = disks
        .iter()
        .map(|d| super::removed::RemovedDisk {
            serial: super::removed::key_of(d),
            device: d.display().to_string(),
            osd_id: req.id,
            removed_at: now,
        })
        .collect();
    super::removed::record(state_dir, &records)
}

/// Removes the OSD as `req` says (the command line's `osd remove`).
pub fn remove_on_host(
    req: &RemoveRequest,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
) -> Result<RemoveReport> {
    exec::require(&["umount"])?;
    let (client, conf) = crate::ceph::client::connect_configured(opts)?;
    let id = req.id;
    let snapshot = crate::disk::listing::scan_all();
    let classified = classify(&snapshot, grammar);
    // Every kind of OSD this host has (cephboot's and Kolla's by label, ceph-volume's raw by
    // BlueStore label and lvm by tags).
    let found = super::activate::find_on_host(&snapshot, &classified, conf.fsid());
    let info = crate::ceph::commands::osds(&client)?
        .into_iter()
        .find(|o| o.id == id);
    let map = info.as_ref().map(InMap::from);
    // Only this cluster's osd.<id> is zapped: the same id on a disk of another (or an old)
    // cluster stays, and is named.
    let fsid = conf.fsid().and_then(|f| uuid::Uuid::parse_str(f).ok());
    let map_uuid = info.map(|o| o.uuid);
    let guid_of = |p: &Path| {
        snapshot
            .find(p)
            .and_then(|d| d.parent.as_deref())
            .and_then(|disk| snapshot.find(disk))
            .and_then(|disk| disk.disk_guid)
    };
    let (ours, theirs): (Vec<&FoundOsd>, Vec<&FoundOsd>) =
        found.iter().filter(|o| o.osd_id == id).partition(|o| {
            is_this_clusters(o, fsid, map_uuid.as_deref(), guid_of)
                || found_as_this_clusters(o, fsid.is_some(), map_uuid.as_deref())
        });
    let local = ours.first().map(|o| (*o).clone());
    let mut report = RemoveReport::unchanged(req);
    if !needs_work(req, map, local.is_some()) {
        return Ok(report);
    }
    let steps = &mut report.steps;
    if let Some(m) = map.filter(|m| !m.destroyed) {
        make_safe(&client, req, m, steps)?;
    }
    let (mut disks, mut left) = match &local {
        Some(osd) => disks_on_host_to_zap(osd, &snapshot, &classified),
        None => (Vec::new(), Vec::new()),
    };
    let teardown = volumes_to_take_apart(local.as_ref(), &snapshot, &mut disks, &mut left)?;
    let slots = sort_left(&mut report, req, left, |p| {
        fsid.is_some() && guid_of(p) == fsid
    });
    report.volumes = teardown.described();
    report.left.extend(teardown.kept.iter().cloned());
    report.left.extend(theirs.iter().flat_map(|o| {
        o.partitions
            .values()
            .map(|p| format!("{} (an osd.{id} of another cluster)", p.display()))
    }));
    report.zapped = disks.iter().map(|p| p.display().to_string()).collect();
    if req.dry_run {
        report.action = Action::WouldRemove;
        return Ok(report);
    }
    let steps = &mut report.steps;
    take_out(&client, &conf, &opts.cluster, req, map, steps)?;
    if let Some(osd) = &local {
        release_devices(osd, !teardown.is_empty(), &mut report.steps)?;
    }
    let steps = &mut report.steps;
    // 5. Its directory and its disks.
    let dir = conf.osd_data(&opts.cluster, id);
    if remove_dir(&dir)? {
        let detail = format!("{} removed", dir.display());
        step(steps, "directory", Action::Updated, detail);
    }
    if !disks.is_empty() {
        record_removed(req, &disks)?;
        let action = zap_disks(&disks, conf.fsid())?;
        let detail = format!("{}: {}", report.zapped.join(", "), action.as_str());
        step(&mut report.steps, "zap", action, detail);
    }
    if !slots.is_empty() {
        give_back_slots(&slots)?;
        let detail = format!(
            "{}: erased and taken out of its table (a free slot)",
            report.freed.join(", ")
        );
        step(&mut report.steps, "slots", Action::Removed, detail);
    }
    report.action = Action::Removed;
    report.changed = true;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceph::double::ScriptedClient;
    use crate::disk::label::Store;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn req(keep_id: bool, force: bool) -> RemoveRequest {
        RemoveRequest {
            record_removed_in: None,
            id: 3,
            keep_id,
            force,
            timeout: Duration::ZERO,
            dry_run: false,
        }
    }

    const UP_IN: InMap = InMap {
        up: true,
        is_in: true,
        destroyed: false,
        ever_up: true,
    };

    #[test]
    fn only_an_osd_that_never_booted_skips_cephs_answers() {
        let new = InMap {
            up: false,
            ever_up: false,
            ..UP_IN
        };
        assert!(new.never_started());
        let down = InMap { up: false, ..UP_IN };
        assert!(!down.never_started(), "booted once: it may hold data");
        assert!(!UP_IN.never_started());
    }

    #[test]
    fn a_removed_osd_is_left_alone_and_a_destroyed_one_is_done_only_for_keep_id() {
        let destroyed = InMap {
            destroyed: true,
            ..UP_IN
        };
        assert!(
            !needs_work(&req(false, false), None, false),
            "gone: unchanged"
        );
        assert!(
            needs_work(&req(false, false), None, true),
            "its disks remain: zap them"
        );
        assert!(needs_work(&req(false, false), Some(UP_IN), false));
        assert!(!needs_work(&req(true, false), Some(destroyed), false));
        assert!(
            needs_work(&req(false, false), Some(destroyed), false),
            "purge a destroyed id"
        );
    }

    fn osd(parts: &[(&'static str, &str)]) -> FoundOsd {
        let partitions: BTreeMap<&'static str, PathBuf> =
            parts.iter().map(|(r, p)| (*r, PathBuf::from(p))).collect();
        FoundOsd::with_partitions(3, Store::Bluestore, partitions)
    }

    #[test]
    fn a_disk_is_zapped_only_when_every_partition_on_it_is_this_osds() {
        let o = osd(&[("block", "/dev/sdb1"), ("block.db", "/dev/nvme0n1p2")]);
        let parent = |p: &Path| {
            let s = p.to_string_lossy();
            Some(PathBuf::from(if s.starts_with("/dev/sdb") {
                "/dev/sdb"
            } else {
                "/dev/nvme0n1"
            }))
        };
        let parts = |d: &Path| -> Vec<(PathBuf, Option<u32>)> {
            if d == Path::new("/dev/sdb") {
                vec![(PathBuf::from("/dev/sdb1"), Some(3))]
            } else {
                vec![
                    (PathBuf::from("/dev/nvme0n1p1"), Some(4)),
                    (PathBuf::from("/dev/nvme0n1p2"), Some(3)),
                ]
            }
        };
        let (zap, left) = disks_to_zap(&o, parent, parts);
        assert_eq!(zap, [PathBuf::from("/dev/sdb")]);
        assert_eq!(
            left,
            [PathBuf::from("/dev/nvme0n1p2")],
            "osd.4's DB shares the device"
        );
    }

    #[test]
    fn a_whole_disk_osd_is_zapped_and_a_logical_volume_left() {
        // ceph-volume raw: the block is the whole disk (no partitions listed on it).
        let raw = osd(&[("bluestore", "/dev/sdc"), ("block.db", "/dev/sdd")]);
        let itself = |p: &Path| Some(p.to_path_buf());
        let none = |_: &Path| -> Vec<(PathBuf, Option<u32>)> { Vec::new() };
        let (zap, left) = disks_to_zap(&raw, itself, none);
        assert_eq!(zap, [PathBuf::from("/dev/sdc"), PathBuf::from("/dev/sdd")]);
        assert!(left.is_empty());
        // ceph-volume lvm: a logical volume is no disk: left, and said so.
        let lvm = osd(&[("bluestore", "/dev/ceph-a/osd-block-1")]);
        let (zap, left) = disks_to_zap(&lvm, |_: &Path| None, none);
        assert!(zap.is_empty());
        assert_eq!(left, [PathBuf::from("/dev/ceph-a/osd-block-1")]);
    }

    #[test]
    fn only_this_clusters_osd_of_that_id_is_ours() {
        let fsid = uuid::Uuid::from_u128(7);
        let mut o = osd(&[("bluestore", "/dev/sdb1")]);
        let on = |g: Option<uuid::Uuid>| move |_: &Path| g;
        assert!(
            is_this_clusters(&o, Some(fsid), None, on(Some(fsid))),
            "disk GUID is the fsid"
        );
        assert!(!is_this_clusters(
            &o,
            Some(fsid),
            None,
            on(Some(uuid::Uuid::from_u128(8)))
        ));
        assert!(
            !is_this_clusters(&o, None, None, on(None)),
            "nothing proves it: not ours"
        );
        o.osd_uuid = Some("u-1".into());
        assert!(
            is_this_clusters(&o, None, Some("u-1"), on(None)),
            "the cluster's uuid for the id"
        );
        assert!(!is_this_clusters(&o, None, Some("u-2"), on(None)));
    }

    /// A cluster of three OSDs on one host, pools of size 2 by OSD; osd.3 out or in, its PG
    /// 1.0 moved to [0, 2] (epoch 31) or still [0, 3] from before the out (epoch 30).
    fn cluster(c: ScriptedClient, drained: bool) -> ScriptedClient {
        let acting = if drained {
            json!([0, 2])
        } else {
            json!([0, 3])
        };
        let epoch = if drained { 31 } else { 30 };
        c.answer(
            "osd dump",
            json!({"epoch": 31, "osds": [{"osd": 0, "up": 1}, {"osd": 2, "up": 1}, {"osd": 3, "up": 1}],
                   "pools": [{"pool_name": "data", "size": 2, "crush_rule": 0}]}),
        )
        .answer(
            "osd crush rule dump",
            json!([{"rule_id": 0, "steps": [{"op": "take", "item_name": "default"},
                   {"op": "choose_firstn", "num": 0, "type": "osd"}, {"op": "emit"}]}]),
        )
        .answer(
            "osd tree",
            json!({"nodes": [{"id": -1, "name": "default", "type": "root", "children": [0, 2, 3]},
                {"id": 0, "name": "osd.0", "type": "osd", "status": "up", "reweight": 1.0},
                {"id": 2, "name": "osd.2", "type": "osd", "status": "up", "reweight": 1.0},
                {"id": 3, "name": "osd.3", "type": "osd", "status": "up", "reweight": 1.0}]}),
        )
        .answer(
            "pg dump",
            json!({"pg_map": {"pg_stats": [{"pgid": "1.0", "state": "active+clean", "up": acting,
                "acting": acting, "reported_epoch": epoch, "stat_sum": {"num_objects_degraded": 0}}]}}),
        )
    }

    #[test]
    fn ceph_saying_no_changes_nothing_unless_forced() {
        // EBUSY from ok-to-stop: refused, and not one command that changes the cluster.
        let c = cluster(ScriptedClient::new(), true).answer_error("osd ok-to-stop", 16);
        let mut steps = Vec::new();
        let e = make_safe(&c, &req(false, false), UP_IN, &mut steps).unwrap_err();
        assert_eq!(e.exit_code() as i32, 3, "{e}");
        assert!(e.to_string().contains("unavailable"), "{e}");
        assert!(
            !c.prefixes().iter().any(|p| p == "osd out"),
            "{:?}",
            c.prefixes()
        );
        // Data not moved within the wait: marked in again, refused.
        let c = cluster(ScriptedClient::new(), true)
            .answer("osd ok-to-stop", Value::Null)
            .answer("osd out", Value::Null)
            .answer("osd in", Value::Null)
            .answer_error("osd safe-to-destroy", 16);
        let e = make_safe(&c, &req(false, false), UP_IN, &mut steps).unwrap_err();
        assert!(e.to_string().contains("not moved"), "{e}");
        let p = c.prefixes();
        assert_eq!(p.last().map(String::as_str), Some("osd in"), "{p:?}");
        // --force goes on, saying so.
        let c = cluster(ScriptedClient::new(), true)
            .answer_error("osd ok-to-stop", 16)
            .answer("osd out", Value::Null)
            .answer_error("osd safe-to-destroy", 16);
        let mut steps = Vec::new();
        make_safe(&c, &req(false, true), UP_IN, &mut steps).unwrap();
        assert!(steps.iter().any(|s| s.detail.contains("forced")));
        assert!(!c.prefixes().contains(&"osd in".to_string()));
    }

    #[test]
    fn a_safe_to_destroy_yes_on_statistics_from_before_the_out_is_not_trusted() {
        // The defect: Ceph said yes, but its PG statistics were older than the out.
        let c = cluster(ScriptedClient::new(), false)
            .answer("osd ok-to-stop", Value::Null)
            .answer("osd out", Value::Null)
            .answer("osd in", Value::Null)
            .answer("osd safe-to-destroy", Value::Null);
        let mut steps = Vec::new();
        let e = make_safe(&c, &req(false, false), UP_IN, &mut steps).unwrap_err();
        assert_eq!(e.exit_code() as i32, 3, "{e}");
        assert!(e.to_string().contains("still map to osd.3"), "{e}");
        let p = c.prefixes();
        assert!(!p.iter().any(|x| x == "osd safe-to-destroy"), "{p:?}");
        assert_eq!(
            p.last().map(String::as_str),
            Some("osd in"),
            "put back in: {p:?}"
        );
        // Moved, on fresh statistics: Ceph is asked, and its yes goes through.
        let c = cluster(ScriptedClient::new(), true)
            .answer("osd ok-to-stop", Value::Null)
            .answer("osd out", Value::Null)
            .answer("osd safe-to-destroy", Value::Null);
        let mut steps = Vec::new();
        make_safe(&c, &req(false, false), UP_IN, &mut steps).unwrap();
        assert!(steps
            .iter()
            .any(|s| s.detail.starts_with("safe-to-destroy: yes")));
    }

    #[test]
    fn a_pool_that_cannot_keep_its_copies_is_refused_before_anything_is_marked_out() {
        // Two OSDs, size 2 by OSD: nowhere for the second copy to go.
        let c = ScriptedClient::new()
            .answer(
                "osd dump",
                json!({"epoch": 9, "osds": [], "pools": [{"pool_name": "data", "size": 2, "crush_rule": 0}]}),
            )
            .answer(
                "osd crush rule dump",
                json!([{"rule_id": 0, "steps": [{"op": "take", "item_name": "default"},
                       {"op": "chooseleaf_firstn", "num": 0, "type": "osd"}, {"op": "emit"}]}]),
            )
            .answer(
                "osd tree",
                json!({"nodes": [{"id": -1, "name": "default", "type": "root", "children": [-2]},
                    {"id": -2, "name": "node", "type": "host", "children": [0, 3]},
                    {"id": 0, "name": "osd.0", "type": "osd", "status": "up", "reweight": 1.0},
                    {"id": 3, "name": "osd.3", "type": "osd", "status": "up", "reweight": 1.0}]}),
            )
            .answer("osd ok-to-stop", Value::Null);
        let mut steps = Vec::new();
        let e = make_safe(&c, &req(false, false), UP_IN, &mut steps).unwrap_err();
        assert_eq!(e.exit_code() as i32, 3, "{e}");
        assert!(e.to_string().contains("pool data keeps 2 copies"), "{e}");
        assert_eq!(
            c.prefixes(),
            ["osd dump", "osd crush rule dump", "osd tree"]
        );
    }
}
