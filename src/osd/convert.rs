//! `osd convert --to bluestore`: FileStore OSDs rebuilt as BlueStore, one at a time, each
//! keeping its id, its CRUSH host and its device class. FileStore is gone from Reef on, and an
//! OSD cannot be converted in place: the only route is out, drain, destroy, rebuild. This
//! module runs that route so that no object ever has fewer copies than its pool's size allows
//! meanwhile, and so that a rerun after a crash or a power cut finishes the OSD it was on.
//!
//! 1. **Up front, nothing changed** ([`refusals`], pure): every OSD asked for is refused with
//!    each reason named (exit 3) when a pool has one copy (its objects on the OSD would have
//!    none while it is rebuilt), when the cluster could not keep a pool's copies without one
//!    of the OSDs ([`drain::shortfalls`]), when the cluster is not `HEALTH_OK` or a PG is not
//!    active+clean.
//! 2. For each OSD, in id order: a record in `<state-dir>/convert/osd.<id>.json` (its data
//!    disk, its journal partition when that is on another disk, CRUSH host and class), then
//!    `osd remove --keep-id` (ok-to-stop, out, current PG statistics, safe-to-destroy, stop,
//!    destroy, zap), its journal partition released (wiped, its name and type cleared: it
//!    becomes the new OSD's block.db in place), `osd prepare --store bluestore --osd-id ID`
//!    on the same data disk, `osd activate ID`, every PG active+clean, the record removed.
//!
//! Each step is judged again from the evidence on a rerun ([`next_steps`], pure): the local
//! OSD's store, the id's state in the osdmap, the journal partition's label.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::activate::{find_prepared, label_osd_uuid, FoundOsd};
use super::drain::{self, PgMapView, PoolPlacement, Shortfall};
use super::remove::{self, RemoveRequest, RemoveStep};
use crate::action::Action;
use crate::ceph::client::{CephClient, ConnectOptions};
use crate::disk::classify::classify;
use crate::disk::inventory::Snapshot;
use crate::disk::label::{Label, LabelGrammar, Role, Store};
use crate::error::{Error, Result};

/// Whether a FileStore journal partition of `journal` bytes becomes the block.db of a
/// BlueStore OSD on `data` bytes (pure): only when it holds RocksDB without spilling over to
/// the slow device, at least 1 GiB and 4% of the data (Ceph's sizing guidance for block.db).
/// A smaller one (Kolla's journals were often a few hundred MiB) would put the cluster in
/// `HEALTH_WARN` (BLUEFS_SPILLOVER) as soon as the OSD holds data: it is released (a free
/// partition, named in the report) and the DB stays on the data disk.
pub fn journal_as_db(journal: u64, data: u64) -> bool {
    journal >= (1 << 30) && journal.saturating_mul(25) >= data
}

/// What to convert.
#[derive(Debug, Clone)]
pub struct ConvertRequest {
    /// These OSDs (empty with `all`).
    pub ids: Vec<u32>,
    /// Every FileStore OSD of this cluster on this host.
    pub all: bool,
    /// Bound of each wait: Ceph's yes to stop and destroy, the PGs clean after the rebuild.
    pub timeout: Duration,
    /// Report the order and the steps; change nothing.
    pub dry_run: bool,
    /// cephboot's state directory (the conversion records, the removed-disk records).
    pub state_dir: PathBuf,
}

/// What a conversion in progress remembers (`<state-dir>/convert/osd.<id>.json`), written
/// before the first change so that a rerun knows the disk the new OSD goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertRecord {
    /// The OSD.
    pub osd_id: u32,
    /// Its FileStore data disk (the new OSD's disk).
    pub data_disk: PathBuf,
    /// Its journal partition's PARTUUID when the journal is on another disk (the new OSD's
    /// block.db when it is big enough).
    pub journal_partuuid: Option<String>,
    /// The CRUSH host bucket it is under.
    pub crush_host: Option<String>,
    /// Its CRUSH device class.
    pub device_class: Option<String>,
}

/// One OSD's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertedOsd {
    /// The OSD.
    pub osd_id: u32,
    /// `converted`, `would_convert`, `unchanged` (BlueStore already), `refused`.
    pub action: &'static str,
    /// The disk the new BlueStore OSD is (or would be) on.
    pub data_disk: Option<String>,
    /// Its block.db: the FileStore journal partition, reused in place.
    pub db: Option<String>,
    /// The CRUSH host bucket it keeps.
    pub crush_host: Option<String>,
    /// Each step done (or, on a dry run, to be done).
    pub steps: Vec<RemoveStep>,
}

/// The outcome of `osd convert`.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertReport {
    /// The store converted to.
    pub to: &'static str,
    /// Nothing was written.
    pub dry_run: bool,
    /// Something changed.
    pub changed: bool,
    /// Per OSD, in the order converted.
    pub osds: Vec<ConvertedOsd>,
}

/// The cluster's health as `health` answers: its status and each check's code and summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// `HEALTH_OK`, `HEALTH_WARN`, `HEALTH_ERR`.
    pub status: String,
    /// (code, summary) of each check raised.
    pub checks: Vec<(String, String)>,
}

/// Health checks that do not speak against a conversion: the warning that OSDs run FileStore
/// (Quincy on), which the conversion answers.
const HARMLESS_CHECKS: &[&str] = &["OSD_FILESTORE"];

/// Parses the reply to `health` (pure).
pub fn parse_health(v: &serde_json::Value) -> Health {
    let checks = v
        .get("checks")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(code, c)| {
                    let summary = c
                        .pointer("/summary/message")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    (code.clone(), summary)
                })
                .collect()
        })
        .unwrap_or_default();
    Health {
        status: v
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        checks,
    }
}

/// Why the cluster cannot convert `ids` now, each reason named; empty when it can (pure).
/// `shortfalls` are, per OSD, the pools that could not keep their copies without it.
pub fn refusals(
    pools: &[PoolPlacement],
    health: &Health,
    pgs: &PgMapView,
    shortfalls: &[(u32, Vec<Shortfall>)],
) -> Vec<String> {
    let mut why = Vec::new();
    for p in pools.iter().filter(|p| p.size <= 1) {
        why.push(format!(
            "pool {} keeps one copy: its objects on a FileStore OSD would have none while the OSD is rebuilt; add a disk (`cephboot osd prepare DISK`) and give the pools two copies (`cephboot pools init --replicas 2`) first",
            p.name
        ));
    }
    for (id, short) in shortfalls {
        for s in short {
            why.push(format!("without osd.{id}: {s}; add an OSD first"));
        }
    }
    let serious: Vec<String> = health
        .checks
        .iter()
        .filter(|(code, _)| !HARMLESS_CHECKS.contains(&code.as_str()))
        .map(|(code, summary)| format!("{code}: {summary}"))
        .collect();
    if !serious.is_empty() || (health.status != "HEALTH_OK" && health.checks.is_empty()) {
        why.push(format!(
            "the cluster is {} ({}): convert a healthy cluster (`ceph health detail`)",
            health.status,
            if serious.is_empty() {
                "no check named".to_string()
            } else {
                serious.join("; ")
            }
        ));
    }
    let unclean: Vec<&str> = pgs
        .pgs
        .iter()
        .filter(|p| !p.is_clean())
        .map(|p| p.pgid.as_str())
        .collect();
    if !pgs.ready || pgs.expected.is_some_and(|n| n > pgs.pgs.len()) {
        why.push("the manager's PG statistics are not complete yet: retry in a minute".into());
    } else if !unclean.is_empty() {
        let shown: Vec<&str> = unclean.iter().take(5).copied().collect();
        why.push(format!(
            "{} PG(s) are not active+clean ({}{}): wait until they are (`ceph -s`)",
            unclean.len(),
            shown.join(", "),
            if unclean.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    why
}

/// A step of one OSD's conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `osd remove --keep-id` (or the rest of it).
    Remove,
    /// The journal partition wiped and its name and type cleared.
    ReleaseJournal,
    /// BlueStore prepared on the data disk with the id.
    Prepare,
    /// Started.
    Activate,
    /// Every PG active+clean, then the record removed.
    Settle,
}

/// What is known of an OSD being converted, read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// The store of this cluster's OSD with the id on this host's disks, if any.
    pub local_store: Option<Store>,
    /// The id is destroyed in the osdmap (`None`: not in the map).
    pub destroyed: Option<bool>,
    /// The journal partition still carries this OSD's FileStore journal label.
    pub journal_labelled: bool,
}

/// The steps left for one OSD (pure): a rerun picks up where the evidence says it stopped.
pub fn next_steps(e: Evidence) -> Vec<Step> {
    let mut steps = Vec::new();
    // Its FileStore devices still here: the removal (or its zap) is not finished. Once they
    // are gone the id is destroyed, or taken again by an interrupted prepare, which the next
    // prepare resumes.
    if e.local_store == Some(Store::Filestore) {
        steps.push(Step::Remove);
    }
    if e.journal_labelled {
        steps.push(Step::ReleaseJournal);
    }
    if e.local_store != Some(Store::Bluestore) {
        steps.push(Step::Prepare);
    }
    steps.push(Step::Activate);
    steps.push(Step::Settle);
    steps
}

fn records_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("convert")
}

fn record_path(state_dir: &Path, id: u32) -> PathBuf {
    records_dir(state_dir).join(format!("osd.{id}.json"))
}

/// The conversions in progress (records left by a run that did not finish).
pub fn load_records(state_dir: &Path) -> Result<Vec<ConvertRecord>> {
    let dir = records_dir(state_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries.filter_map(std::result::Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let rec: ConvertRecord = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: {e}: it records a conversion in progress; fix it, or remove it once that OSD is settled",
                path.display()
            ))
        })?;
        out.push(rec);
    }
    out.sort_by_key(|r| r.osd_id);
    Ok(out)
}

fn save_record(state_dir: &Path, rec: &ConvertRecord) -> Result<()> {
    let dir = records_dir(state_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let text = serde_json::to_string_pretty(rec)
        .map_err(|e| Error::Usage(format!("rendering the record of osd.{}: {e}", rec.osd_id)))?;
    crate::files::write_public(&record_path(state_dir, rec.osd_id), text.as_bytes())
}

fn drop_record(state_dir: &Path, id: u32) -> Result<()> {
    let path = record_path(state_dir, id);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

/// The host as one reading sees it: its disks, and this cluster's OSDs on them.
struct HostView {
    snapshot: Snapshot,
    osds: Vec<FoundOsd>,
}

impl HostView {
    fn read(
        grammar: &LabelGrammar,
        fsid: Option<uuid::Uuid>,
        client: &dyn CephClient,
    ) -> Result<Self> {
        let snapshot = crate::disk::listing::scan_all();
        let classified = classify(&snapshot, grammar);
        let found = find_prepared(&snapshot, &classified, &label_osd_uuid);
        let map = crate::ceph::commands::osds(client)?;
        let guid_of = |p: &Path| {
            snapshot
                .find(p)
                .and_then(|d| d.parent.as_deref())
                .and_then(|disk| snapshot.find(disk))
                .and_then(|disk| disk.disk_guid)
        };
        let osds = found
            .into_iter()
            .filter(|o| {
                let map_uuid = map
                    .iter()
                    .find(|m| m.id == o.osd_id)
                    .map(|m| m.uuid.as_str());
                remove::is_this_clusters(o, fsid, map_uuid, guid_of)
            })
            .collect();
        Ok(HostView { snapshot, osds })
    }

    fn osd(&self, id: u32) -> Option<&FoundOsd> {
        self.osds.iter().find(|o| o.osd_id == id)
    }

    fn disk_of(&self, part: &Path) -> Option<PathBuf> {
        self.snapshot.find(part).and_then(|d| d.parent.clone())
    }

    /// The partition with this PARTUUID.
    fn by_partuuid(&self, partuuid: &str) -> Option<&crate::disk::inventory::Device> {
        self.snapshot.devices.iter().find(|d| {
            d.gpt
                .as_ref()
                .is_some_and(|g| g.unique_guid.to_string().eq_ignore_ascii_case(partuuid))
        })
    }
}

/// The CRUSH host and class of osd.`id`, from `osd tree`.
fn crush_place(tree: &[drain::TreeNode], id: u32) -> (Option<String>, Option<String>) {
    let me = i64::from(id);
    let host = tree
        .iter()
        .find(|n| n.kind == "host" && n.children.contains(&me))
        .map(|n| n.name.clone());
    let class = tree
        .iter()
        .find(|n| n.id == me)
        .and_then(|n| n.class.clone());
    (host, class)
}

/// The record for a FileStore OSD about to be converted, from the host's disks and the tree.
fn record_of(osd: &FoundOsd, host: &HostView, tree: &[drain::TreeNode]) -> Result<ConvertRecord> {
    let data = osd
        .partitions
        .get(Role::FilestoreData.as_str())
        .ok_or_else(|| {
            Error::NotFound(format!("osd.{}: its FileStore data partition", osd.osd_id))
        })?;
    let data_disk = host.disk_of(data).ok_or_else(|| {
        Error::NotFound(format!(
            "osd.{}: the disk of {}",
            osd.osd_id,
            data.display()
        ))
    })?;
    // A journal on another disk: its partition is the new OSD's block.db. One on the data
    // disk goes with the disk.
    let journal_partuuid = osd
        .partitions
        .get(Role::FilestoreJournal.as_str())
        .filter(|j| host.disk_of(j).as_deref() != Some(data_disk.as_path()))
        .and_then(|j| host.snapshot.find(j))
        .and_then(|d| d.gpt.as_ref())
        .map(|g| g.unique_guid.to_string());
    let (crush_host, device_class) = crush_place(tree, osd.osd_id);
    Ok(ConvertRecord {
        osd_id: osd.osd_id,
        data_disk,
        journal_partuuid,
        crush_host,
        device_class,
    })
}

/// Converts as `req` says (the command line's `osd convert --to bluestore`).
pub fn convert_on_host(
    req: &ConvertRequest,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
) -> Result<ConvertReport> {
    let (client, conf) = crate::ceph::client::connect_configured(opts)?;
    let fsid = conf.fsid().and_then(|f| uuid::Uuid::parse_str(f).ok());
    let host = HostView::read(grammar, fsid, &client)?;
    let records = load_records(&req.state_dir)?;
    let mut report = ConvertReport {
        to: "bluestore",
        dry_run: req.dry_run,
        changed: false,
        osds: Vec::new(),
    };
    // Which OSDs: those named (each must be this cluster's, here), or every FileStore one;
    // conversions in progress first, whatever was asked.
    let wanted: Vec<u32> = if req.all {
        host.osds
            .iter()
            .filter(|o| o.store == Store::Filestore)
            .map(|o| o.osd_id)
            .collect()
    } else {
        req.ids.clone()
    };
    let mut fresh = Vec::new();
    for id in &wanted {
        if records.iter().any(|r| r.osd_id == *id) {
            continue;
        }
        match host.osd(*id) {
            Some(o) if o.store == Store::Filestore => fresh.push(*id),
            Some(_) => report.osds.push(ConvertedOsd {
                osd_id: *id,
                action: "unchanged",
                data_disk: None,
                db: None,
                crush_host: None,
                steps: Vec::new(),
            }),
            None => {
                return Err(Error::NotFound(format!(
                    "osd.{id}: no OSD of this cluster with that id on this host's disks (`cephboot osd list` shows them)"
                )))
            }
        }
    }
    fresh.sort_unstable();
    fresh.dedup();
    // A conversion in progress is finished first: its OSD is out or destroyed, so the
    // cluster is judged for the others only once it is back.
    for rec in &records {
        let done = convert_one(req, grammar, opts, &client, rec, true)?;
        report.changed |= done.action == "converted";
        report.osds.push(done);
    }
    let tree = read_tree(&client)?;
    if !fresh.is_empty() {
        let why = judge_now(&client, &fresh)?;
        if !why.is_empty() {
            return Err(refused_all(&fresh, &why));
        }
    }
    for (i, id) in fresh.iter().enumerate() {
        if i > 0 && !req.dry_run {
            // Healthy again before the next OSD goes out.
            let why = judge_now(&client, &[*id])?;
            if !why.is_empty() {
                return Err(refused_all(&[*id], &why));
            }
        }
        let Some(osd) = host.osd(*id) else { continue };
        let rec = record_of(osd, &host, &tree)?;
        let done = convert_one(req, grammar, opts, &client, &rec, false)?;
        report.changed |= done.action == "converted";
        report.osds.push(done);
    }
    Ok(report)
}

fn read_tree(c: &dyn CephClient) -> Result<Vec<drain::TreeNode>> {
    let tree = c.mon(json!({"prefix": "osd tree"}))?;
    drain::parse_tree(&tree).ok_or_else(|| Error::Cluster {
        context: "reading the reply to `osd tree`".into(),
        message: "it has no nodes".into(),
        errno: None,
    })
}

/// [`refusals`] on what the cluster says now.
fn judge_now(c: &dyn CephClient, ids: &[u32]) -> Result<Vec<String>> {
    let dump = c.mon(json!({"prefix": "osd dump"}))?;
    let rules = c.mon(json!({"prefix": "osd crush rule dump"}))?;
    let pools = drain::parse_placements(&dump, &rules);
    let tree = read_tree(c)?;
    let health = parse_health(&c.mon(json!({"prefix": "health"}))?);
    let pgs = remove::pg_map(c)?;
    let short: Vec<(u32, Vec<Shortfall>)> = ids
        .iter()
        .map(|id| (*id, drain::shortfalls(&pools, &tree, *id)))
        .collect();
    Ok(refusals(&pools, &health, &pgs, &short))
}

fn refused_all(ids: &[u32], why: &[String]) -> Error {
    let names: Vec<String> = ids.iter().map(|i| format!("osd.{i}")).collect();
    Error::refused(names.join(", "), why.join("; "), "nothing was changed")
}

/// The evidence for one record, read now.
fn evidence(
    rec: &ConvertRecord,
    grammar: &LabelGrammar,
    fsid: Option<uuid::Uuid>,
    client: &dyn CephClient,
) -> Result<(Evidence, HostView)> {
    let host = HostView::read(grammar, fsid, client)?;
    let destroyed = crate::ceph::commands::osds(client)?
        .into_iter()
        .find(|o| o.id == rec.osd_id)
        .map(|o| o.destroyed);
    let journal_labelled = rec
        .journal_partuuid
        .as_deref()
        .and_then(|u| host.by_partuuid(u))
        .and_then(|d| d.gpt.as_ref())
        .and_then(|g| grammar.parse(&g.name.to_lossy()))
        .is_some_and(|l| {
            l == Label::Prepared {
                role: Role::FilestoreJournal,
                osd_id: rec.osd_id,
            }
        });
    let e = Evidence {
        local_store: host.osd(rec.osd_id).map(|o| o.store),
        destroyed,
        journal_labelled,
    };
    Ok((e, host))
}

fn step(steps: &mut Vec<RemoveStep>, name: &'static str, action: Action, detail: String) {
    steps.push(RemoveStep {
        step: name,
        action,
        detail,
    });
}

/// One OSD: its record written, then the steps the evidence says are left.
fn convert_one(
    req: &ConvertRequest,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
    client: &dyn CephClient,
    rec: &ConvertRecord,
    resumed: bool,
) -> Result<ConvertedOsd> {
    let fsid = crate::ceph::commands::fsid(client)
        .ok()
        .and_then(|f| uuid::Uuid::parse_str(&f).ok());
    let (e, host) = evidence(rec, grammar, fsid, client)?;
    let data_bytes = host
        .snapshot
        .find(&rec.data_disk)
        .map_or(u64::MAX, |d| d.size_bytes);
    let db = rec
        .journal_partuuid
        .as_deref()
        .and_then(|u| host.by_partuuid(u))
        .filter(|d| journal_as_db(d.size_bytes, data_bytes))
        .map(|d| d.path.clone());
    let mut out = ConvertedOsd {
        osd_id: rec.osd_id,
        action: if req.dry_run {
            "would_convert"
        } else {
            "converted"
        },
        data_disk: Some(rec.data_disk.display().to_string()),
        db: db.as_ref().map(|p| p.display().to_string()),
        crush_host: rec.crush_host.clone(),
        steps: Vec::new(),
    };
    let steps = next_steps(e);
    if req.dry_run {
        for s in steps {
            let what = describe(s, rec, db.as_deref());
            step(&mut out.steps, step_name(s), Action::Unchanged, what);
        }
        return Ok(out);
    }
    if !resumed {
        save_record(&req.state_dir, rec)?;
        fault_after("record");
    } else {
        step(
            &mut out.steps,
            "resume",
            Action::Unchanged,
            format!(
                "a conversion of osd.{} was in progress: finishing it",
                rec.osd_id
            ),
        );
    }
    for s in steps {
        let progress = crate::progress::step(format!(
            "osd.{}: {}",
            rec.osd_id,
            describe(s, rec, db.as_deref())
        ));
        let result = run_step(
            s,
            req,
            grammar,
            opts,
            client,
            rec,
            db.as_deref(),
            &mut out.steps,
        );
        progress.end(result)?;
        fault_after(step_name(s));
    }
    drop_record(&req.state_dir, rec.osd_id)?;
    Ok(out)
}

/// Debug builds only: `CEPHBOOT_CONVERT_FAULT_AFTER=<step>` (record, remove, journal, prepare,
/// activate, settle) ends the process right after that step, as a crash would
/// (tests/convert.rs cuts a conversion after each).
fn fault_after(step: &str) {
    if cfg!(debug_assertions)
        && std::env::var("CEPHBOOT_CONVERT_FAULT_AFTER")
            .ok()
            .as_deref()
            == Some(step)
    {
        crate::errln!("cephboot: test fault injected after the conversion's {step} step");
        cephboot_ffi::process::exit_immediately(99);
    }
}

fn step_name(s: Step) -> &'static str {
    match s {
        Step::Remove => "remove",
        Step::ReleaseJournal => "journal",
        Step::Prepare => "prepare",
        Step::Activate => "activate",
        Step::Settle => "settle",
    }
}

fn describe(s: Step, rec: &ConvertRecord, db: Option<&Path>) -> String {
    let id = rec.osd_id;
    match s {
        Step::Remove => format!("out, wait until its data is safe elsewhere, stop, destroy keeping id {id}, zap {}", rec.data_disk.display()),
        Step::ReleaseJournal => match db {
            Some(p) => format!("release its journal partition {} to be the new OSD's block.db", p.display()),
            None => "release its journal partition (too small for a block.db: the DB stays on the data disk)".to_string(),
        },
        Step::Prepare => format!(
            "prepare BlueStore on {}{} as osd.{id}{}",
            rec.data_disk.display(),
            db.map(|p| format!(" with block.db {}", p.display())).unwrap_or_default(),
            rec.crush_host.as_ref().map(|h| format!(" under host {h}")).unwrap_or_default()
        ),
        Step::Activate => format!("start osd.{id} and wait until it is up"),
        Step::Settle => "wait until every PG is active+clean".to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_step(
    s: Step,
    req: &ConvertRequest,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
    client: &dyn CephClient,
    rec: &ConvertRecord,
    db: Option<&Path>,
    steps: &mut Vec<RemoveStep>,
) -> Result<()> {
    let id = rec.osd_id;
    match s {
        Step::Remove => {
            let r = remove::remove_on_host(
                &RemoveRequest {
                    id,
                    keep_id: true,
                    force: false,
                    timeout: req.timeout,
                    dry_run: false,
                    record_removed_in: Some(req.state_dir.clone()),
                },
                grammar,
                opts,
            )?;
            for s in r.steps {
                steps.push(s);
            }
        }
        Step::ReleaseJournal => {
            let part = rec
                .journal_partuuid
                .as_deref()
                .ok_or_else(|| Error::NotFound(format!("osd.{id}: its journal partition")))?;
            let node = release_journal(part)?;
            step(
                steps,
                "journal",
                Action::Updated,
                match db {
                    Some(_) => format!(
                        "{}: wiped, name and type cleared, for the new OSD's block.db",
                        node.display()
                    ),
                    None => format!(
                        "{}: wiped, name and type cleared: a free partition (too small for a block.db without spillover; the DB stays on the data disk)",
                        node.display()
                    ),
                },
            );
        }
        Step::Prepare => {
            let name_of =
                |p: &Path| -> Result<String> { super::target::kernel_name_of(p).map(|(_, n)| n) };
            let prep = prepare_request(rec, name_of(&rec.data_disk)?, db.map(name_of).transpose()?);
            let mut r = super::batch::prepare_on_host(&prep, grammar, opts, false)?;
            if let Some(e) = r.first_error() {
                return Err(e);
            }
            step(
                steps,
                "prepare",
                Action::Created,
                format!("osd.{id}: BlueStore on {}", rec.data_disk.display()),
            );
            // The disk has its OSD again: the daemon may treat it as any other.
            let _ =
                super::removed::forget(&req.state_dir, &[super::removed::key_of(&rec.data_disk)]);
        }
        Step::Activate => {
            let action = activate_one(req, grammar, opts, id)?;
            step(steps, "activate", action, format!("osd.{id} {action}"));
        }
        Step::Settle => {
            wait_clean(client, req.timeout)?;
            step(
                steps,
                "settle",
                Action::Unchanged,
                "every PG active+clean".into(),
            );
        }
    }
    Ok(())
}

/// What `osd prepare` is asked for the BlueStore OSD that replaces `rec` (pure): its data
/// disk, the old journal as block.db when it is one, the same id, CRUSH host and class.
pub fn prepare_request(
    rec: &ConvertRecord,
    data_disk: String,
    db: Option<String>,
) -> super::plan::PrepareRequest {
    super::plan::PrepareRequest {
        disks: vec![data_disk],
        all_bootstrap: false,
        store: Some(Store::Bluestore),
        journal: None,
        db,
        wal: None,
        wipe: false,
        policy: crate::disk::policy::DevicePolicy::default(),
        journal_size: 0,
        wal_size: 0,
        osd_id: Some(rec.osd_id),
        device_class: rec.device_class.clone(),
        db_slots: None,
        wal_slots: None,
        crush_host: rec.crush_host.clone(),
        encrypt: false,
        tpm2_pcrs: None,
        jobs: None,
    }
}

/// Starts osd.`id` and waits until it is up.
fn activate_one(
    req: &ConvertRequest,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
    id: u32,
) -> Result<Action> {
    let r = super::activate::activate_on_host(
        &super::activate::ActivateRequest {
            id: Some(id),
            exec: false,
            dry_run: false,
            keep_stopped: false,
            wait_up: req.timeout.max(Duration::from_secs(60)),
            recovery_key: None,
        },
        grammar,
        opts,
        &req.state_dir,
    )?;
    if let Some(e) = r.first_error() {
        return Err(e);
    }
    Ok(r.osds.first().map_or(Action::Unchanged, |o| o.action))
}

/// Waits until every PG is active+clean (bounded), judged on current statistics only
/// ([`crate::ceph::stats`]): two readings in a row, each made after every up OSD had the
/// osdmap and sent its statistics, so the PGs that map to the OSD just started count.
fn wait_clean(c: &dyn CephClient, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut clean_in_a_row = 0;
    loop {
        let last = match crate::ceph::stats::make_current(c, deadline) {
            Err(why) => why,
            Ok(()) => match remove::pg_map(c) {
                Ok(view) => {
                    let unclean = view.pgs.iter().filter(|p| !p.is_clean()).count();
                    let complete = view.ready && view.expected.is_none_or(|n| n <= view.pgs.len());
                    if complete && unclean == 0 && !view.pgs.is_empty() {
                        clean_in_a_row += 1;
                        if clean_in_a_row == 2 {
                            return Ok(());
                        }
                        continue;
                    }
                    format!("{unclean} PG(s) not active+clean")
                }
                Err(e) => format!("the cluster did not answer: {e}"),
            },
        };
        clean_in_a_row = 0;
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: format!(
                    "every PG to be active+clean ({last}); rerun `cephboot osd convert` to go on"
                ),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The FileStore journal partition with this PARTUUID wiped (signatures and first MiB) and
/// its GPT name and type cleared, in place, on its locked disk: a free partition the new
/// OSD's prepare takes as its block.db. Returns its node.
fn release_journal(partuuid: &str) -> Result<PathBuf> {
    let fresh = crate::disk::listing::scan_all();
    let dev = fresh
        .devices
        .iter()
        .find(|d| {
            d.gpt
                .as_ref()
                .is_some_and(|g| g.unique_guid.to_string().eq_ignore_ascii_case(partuuid))
        })
        .ok_or_else(|| Error::NotFound(format!("the journal partition {partuuid}")))?;
    let disk = dev
        .parent
        .as_deref()
        .and_then(|d| fresh.find(d))
        .ok_or_else(|| Error::NotFound(format!("the disk of {}", dev.path.display())))?;
    let mut lock = crate::disk::lock::LockedDisk::open_pinned(
        &disk.path,
        &disk.name,
        &crate::disk::identity::DiskIdentity::of(disk),
        &dev.path,
        Duration::from_secs(10),
    )?;
    super::prepare::wipe_partition(
        &lock,
        dev.start_bytes.unwrap_or(0),
        dev.size_bytes,
        &dev.path,
    )?;
    let number = dev.partition_number.unwrap_or(0);
    crate::disk::table::set_name_and_type(
        lock.file_mut(),
        disk.sector_size,
        number,
        "",
        crate::disk::types::LINUX_DATA,
    )
    .map_err(|e| {
        Error::io(
            format!(
                "{}: clearing partition {number}'s name and type",
                disk.path.display()
            ),
            e,
        )
    })?;
    lock.release_claim();
    super::prepare::sync_to_table(&lock)?;
    Ok(dev.path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osd::drain::PgStat;

    fn pool(name: &str, size: u32) -> PoolPlacement {
        PoolPlacement {
            name: name.into(),
            size,
            root: "default".into(),
            class: None,
            domain: "osd".into(),
        }
    }

    fn pg(id: &str, state: &str) -> PgStat {
        PgStat {
            pgid: id.into(),
            state: state.into(),
            up: vec![0, 1],
            acting: vec![0, 1],
            reported_epoch: 10,
            degraded_objects: 0,
        }
    }

    fn clean_map() -> PgMapView {
        PgMapView {
            ready: true,
            pgs: vec![pg("1.0", "active+clean"), pg("2.0", "active+clean")],
            expected: Some(2),
        }
    }

    fn ok() -> Health {
        Health {
            status: "HEALTH_OK".into(),
            checks: Vec::new(),
        }
    }

    #[test]
    fn a_healthy_cluster_with_two_copies_everywhere_may_convert() {
        assert!(refusals(
            &[pool("rbd", 2), pool("data", 3)],
            &ok(),
            &clean_map(),
            &[(1, Vec::new())]
        )
        .is_empty());
        let filestore_only = Health {
            status: "HEALTH_WARN".into(),
            checks: vec![(
                "OSD_FILESTORE".into(),
                "2 osds are running FileStore".into(),
            )],
        };
        assert!(
            refusals(&[pool("rbd", 2)], &filestore_only, &clean_map(), &[]).is_empty(),
            "the FileStore warning is what the conversion answers"
        );
    }

    #[test]
    fn each_reason_is_named() {
        let warn = Health {
            status: "HEALTH_WARN".into(),
            checks: vec![("PG_DEGRADED".into(), "Degraded data redundancy".into())],
        };
        let mut map = clean_map();
        map.pgs[1].state = "active+undersized+degraded".into();
        let short = Shortfall {
            pool: "rbd".into(),
            size: 2,
            domain: "osd".into(),
            with: 2,
            without: 1,
        };
        let why = refusals(
            &[pool("one", 1), pool("rbd", 2)],
            &warn,
            &map,
            &[(3, vec![short])],
        );
        assert_eq!(why.len(), 4, "{why:#?}");
        assert!(why[0].contains("pool one keeps one copy"), "{}", why[0]);
        assert!(
            why[1].contains("without osd.3: pool rbd keeps 2 copies"),
            "{}",
            why[1]
        );
        assert!(
            why[2].contains("HEALTH_WARN") && why[2].contains("PG_DEGRADED"),
            "{}",
            why[2]
        );
        assert!(
            why[3].contains("1 PG(s) are not active+clean (2.0)"),
            "{}",
            why[3]
        );
    }

    #[test]
    fn statistics_not_ready_are_no_evidence() {
        let mut map = clean_map();
        map.expected = Some(3);
        let why = refusals(&[pool("rbd", 2)], &ok(), &map, &[]);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("not complete"), "{}", why[0]);
        let status_only = Health {
            status: "HEALTH_ERR".into(),
            checks: Vec::new(),
        };
        assert_eq!(refusals(&[], &status_only, &clean_map(), &[]).len(), 1);
    }

    #[test]
    fn health_is_parsed_with_its_codes() {
        let h = parse_health(&serde_json::json!({
            "status": "HEALTH_WARN",
            "checks": {"OSD_DOWN": {"severity": "HEALTH_WARN", "summary": {"message": "1 osds down", "count": 1}}},
            "mutes": []
        }));
        assert_eq!(h.status, "HEALTH_WARN");
        assert_eq!(
            h.checks,
            vec![("OSD_DOWN".to_string(), "1 osds down".to_string())]
        );
        assert_eq!(parse_health(&serde_json::json!({})).status, "unknown");
    }

    #[test]
    fn the_replacement_keeps_id_host_and_class() {
        let rec = ConvertRecord {
            osd_id: 7,
            data_disk: PathBuf::from("/dev/sdc"),
            journal_partuuid: Some("0b6f7c3e-0000-4000-8000-000000000001".into()),
            crush_host: Some("rack1-host3".into()),
            device_class: Some("hdd".into()),
        };
        let p = prepare_request(&rec, "sdc".into(), Some("nvme0n1p3".into()));
        assert_eq!(p.disks, vec!["sdc".to_string()]);
        assert_eq!(p.store, Some(Store::Bluestore));
        assert_eq!(p.osd_id, Some(7));
        assert_eq!(p.db.as_deref(), Some("nvme0n1p3"));
        assert_eq!(p.crush_host.as_deref(), Some("rack1-host3"));
        assert_eq!(p.device_class.as_deref(), Some("hdd"));
        assert!(
            !p.wipe && !p.all_bootstrap,
            "no consent beyond the disk it zapped itself"
        );
    }

    #[test]
    fn a_journal_becomes_the_db_only_when_rocksdb_fits() {
        const GIB: u64 = 1 << 30;
        assert!(
            journal_as_db(5 * GIB, 100 * GIB),
            "Kolla's 5 GiB default, 100 GiB disk"
        );
        assert!(!journal_as_db(300 << 20, 4 * GIB), "300 MiB spills over");
        assert!(
            !journal_as_db(5 * GIB, 4000 * GIB),
            "under 4% of a 4 TB disk"
        );
        assert!(journal_as_db(GIB + (512 << 20), 4 * GIB));
    }

    #[test]
    fn a_rerun_goes_on_from_the_evidence() {
        use Step::*;
        let fresh = Evidence {
            local_store: Some(Store::Filestore),
            destroyed: Some(false),
            journal_labelled: true,
        };
        assert_eq!(
            next_steps(fresh),
            vec![Remove, ReleaseJournal, Prepare, Activate, Settle]
        );
        let destroyed_not_zapped = Evidence {
            destroyed: Some(true),
            ..fresh
        };
        assert_eq!(
            next_steps(destroyed_not_zapped)[0],
            Remove,
            "the zap is finished"
        );
        let zapped = Evidence {
            local_store: None,
            destroyed: Some(true),
            journal_labelled: true,
        };
        assert_eq!(
            next_steps(zapped),
            vec![ReleaseJournal, Prepare, Activate, Settle]
        );
        let released = Evidence {
            journal_labelled: false,
            ..zapped
        };
        assert_eq!(next_steps(released), vec![Prepare, Activate, Settle]);
        let prepare_cut_after_osd_new = Evidence {
            local_store: None,
            destroyed: Some(false),
            journal_labelled: false,
        };
        assert_eq!(
            next_steps(prepare_cut_after_osd_new),
            vec![Prepare, Activate, Settle],
            "an id taken again by an interrupted prepare: the next prepare resumes it"
        );
        let prepared = Evidence {
            local_store: Some(Store::Bluestore),
            destroyed: Some(false),
            journal_labelled: false,
        };
        assert_eq!(next_steps(prepared), vec![Activate, Settle]);
    }
}
