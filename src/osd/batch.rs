//! `osd prepare` of several devices, the engine's loop: plan every device on one snapshot,
//! then prepare each on a fresh one (an earlier OSD of the run may have changed a shared
//! disk), reporting every device — never dropping one — with a typed [`Action`]. The command
//! line turns arguments into a [`PrepareRequest`] and renders the [`PrepareReport`]; the daemon
//! reads the same report back.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::plan::{self, OsdPlan, PlanEntry, PrepareRequest};
use super::prepare::{self, Prepared};
use crate::ceph::client::CephClient;
use crate::ceph::conf::CephConf;
use crate::ceph::release::Release;
use crate::ceph::{commands, release};
use crate::disk::classify::classify;
use crate::disk::inventory::Snapshot;
use crate::disk::label::{LabelGrammar, Role, Store};
use crate::error::{Error, Result};

pub use crate::action::Action;

/// One device's outcome.
#[derive(Debug, Serialize)]
pub struct PrepareItem {
    /// The main disk.
    pub device: String,
    /// What happened.
    pub action: Action,
    /// Its OSD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osd_id: Option<u32>,
    /// What was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepared: Option<Prepared>,
    /// The plan (dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<OsdPlan>,
    /// Why it was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The error behind a refusal or failure (for the exit code).
    #[serde(skip)]
    pub error: Option<Error>,
}

impl PrepareItem {
    fn new(device: &Path, action: Action) -> Self {
        PrepareItem {
            device: device.display().to_string(),
            action,
            osd_id: None,
            prepared: None,
            plan: None,
            reason: None,
            error: None,
        }
    }

    fn refused(device: &Path, reason: String, usage: bool) -> Self {
        let error = if usage {
            Error::Usage(format!("{}: {reason}", device.display()))
        } else {
            Error::refused(device, reason.clone(), "nothing was written to it")
        };
        PrepareItem {
            reason: Some(reason),
            error: Some(error),
            ..PrepareItem::new(device, Action::Refused)
        }
    }

    /// Stopped before anything was written: `refused` when a guard said no (exit 3 from the
    /// error), `failed` when the cluster could not be asked.
    fn not_admitted(device: &Path, e: Error) -> Self {
        let action = match e {
            Error::Refused { .. } | Error::Refusals(_) => Action::Refused,
            _ => Action::Failed,
        };
        PrepareItem {
            reason: Some(e.to_string()),
            error: Some(e),
            ..PrepareItem::new(device, action)
        }
    }

    fn failed(device: &Path, e: Error) -> Self {
        PrepareItem {
            reason: Some(e.to_string()),
            error: Some(e),
            ..PrepareItem::new(device, Action::Failed)
        }
    }
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct PrepareReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Some OSD was created.
    pub changed: bool,
    /// Every device, in plan order.
    pub osds: Vec<PrepareItem>,
}

impl PrepareReport {
    /// The error of the first device that was refused or failed (the exit code).
    pub fn first_error(&mut self) -> Option<Error> {
        self.osds.iter_mut().find_map(|i| i.error.take())
    }
}

/// The one-line result of a job the daemon reads back from a child's report.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemSummary {
    /// What happened.
    pub action: Action,
    /// Its OSD.
    pub osd_id: Option<u32>,
    /// Why it was refused or failed.
    pub reason: Option<String>,
}

/// The cluster a run prepares OSDs for, connected on first need.
#[derive(Debug)]
pub struct Cluster {
    /// The client.
    pub client: Box<dyn CephClient>,
    /// Its config.
    pub conf: CephConf,
}

/// What the loop needs besides the request.
pub struct Context<'a> {
    /// Label grammar.
    pub grammar: &'a LabelGrammar,
    /// Cluster name.
    pub cluster_name: &'a str,
    /// CRUSH host bucket.
    pub host: &'a str,
    /// Plan and write nothing.
    pub dry_run: bool,
    /// Reads the host's disks (every device).
    pub scan: &'a (dyn Fn() -> Snapshot + Sync),
    /// Reads these whole disks (by node path) and their partitions only.
    pub scan_disks: &'a (dyn Fn(&[std::path::PathBuf]) -> Snapshot + Sync),
    /// How long to wait for an OSD of the host to be up when all are down
    /// (crate::osd::host_down).
    pub host_wait: std::time::Duration,
    /// Connects to the cluster (called once, only when a device is to be prepared).
    pub connect: &'a dyn Fn() -> Result<Cluster>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("cluster_name", &self.cluster_name)
            .field("host", &self.host)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// What preparing one OSD needs of the [`Context`], shared by the threads that prepare side
/// by side.
struct Shared<'a> {
    grammar: &'a LabelGrammar,
    cluster_name: &'a str,
    host: &'a str,
    scan_disks: &'a (dyn Fn(&[std::path::PathBuf]) -> Snapshot + Sync),
    host_wait: std::time::Duration,
}

impl<'a> Context<'a> {
    fn shared(&self) -> Shared<'a> {
        Shared {
            grammar: self.grammar,
            cluster_name: self.cluster_name,
            host: self.host,
            scan_disks: self.scan_disks,
            host_wait: self.host_wait,
        }
    }
}

/// The cluster as one run sees it: connected, with its fsid and release, learned once.
struct Connected {
    cluster: Cluster,
    fsid: String,
    release: Release,
}

/// Prepares on this host as the command line does: the host's disks read now, the cluster
/// from `opts` (connected once, only when a device is to be prepared), the CRUSH host bucket
/// from `--crush-location`, else the hostname.
pub fn prepare_on_host(
    req: &PrepareRequest,
    grammar: &LabelGrammar,
    opts: &crate::ceph::client::ConnectOptions,
    dry_run: bool,
) -> Result<PrepareReport> {
    let host = req
        .crush_host
        .clone()
        .unwrap_or_else(crate::host::short_hostname);
    let connect = || -> Result<Cluster> {
        let (client, conf) = crate::ceph::client::connect_configured(opts)?;
        Ok(Cluster {
            client: Box::new(client),
            conf,
        })
    };
    let ctx = Context {
        grammar,
        cluster_name: &opts.cluster,
        host: &host,
        dry_run,
        scan: &crate::disk::listing::scan_all,
        scan_disks: &crate::disk::listing::scan_disks,
        host_wait: opts.timeout,
        connect: &connect,
    };
    prepare_all(req, &ctx)
}

/// Before any disk is judged or written: an encrypted OSD needs cryptsetup; `--tpm2` needs
/// `--encrypt`, a TPM and systemd-cryptenroll.
fn check_encryption_tools(req: &PrepareRequest) -> Result<()> {
    if req.encrypt {
        crate::exec::require(&["cryptsetup"])?;
    }
    if let Some(pcrs) = &req.tpm2_pcrs {
        if !req.encrypt {
            return Err(Error::Usage(
                "--tpm2 enrolls a TPM2 keyslot on an encrypted OSD's devices: add --encrypt".into(),
            ));
        }
        crate::crypt::tpm2::check_host(pcrs)?;
    }
    Ok(())
}

/// Prepares every OSD of `req`. An error is returned only when the cluster cannot be reached
/// before anything was written; every device's own outcome is in the report.
pub fn prepare_all(req: &PrepareRequest, ctx: &Context<'_>) -> Result<PrepareReport> {
    check_encryption_tools(req)?;
    let mut snapshot = (ctx.scan)();
    // Mappings an interrupted encrypted preparation left open hold its partitions (still of a
    // "being prepared" type): closed first, so the rerun can take the disk again.
    let idle = crate::crypt::mappings::idle(&snapshot, |p, _| {
        p.gpt
            .as_ref()
            .is_some_and(|g| crate::disk::types::is_preparing(&g.type_guid))
    });
    if !idle.is_empty() {
        if ctx.dry_run {
            snapshot = crate::crypt::mappings::without(&snapshot, &idle);
        } else {
            crate::crypt::mappings::close(&idle);
            snapshot = (ctx.scan)();
        }
    }
    let entries = plan::plan(&classify(&snapshot, ctx.grammar), ctx.grammar, req);
    if req.all_bootstrap && entries.is_empty() {
        tracing::warn!(
            "no disk carries a bootstrap label ({}...); see `cephboot disks list`",
            ctx.grammar.bootstrap(Role::FilestoreData, None)
        );
    }
    // The cluster must answer before any disk is touched.
    let needs_cluster = !ctx.dry_run
        && entries
            .iter()
            .any(|e| matches!(e, PlanEntry::Prepare { .. }));
    let connected = if needs_cluster {
        let cluster = (ctx.connect)()?;
        let fsid = commands::fsid(cluster.client.as_ref())?;
        let release = release::of_cluster(cluster.client.as_ref())?;
        Some(Connected {
            cluster,
            fsid,
            release,
        })
    } else {
        None
    };
    let resumed: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            PlanEntry::Prepare { plan, .. } => plan.resume_osd_uuid.map(|u| u.to_string()),
            _ => None,
        })
        .collect();
    let reuse_refusal = match (req.osd_id, &connected) {
        (Some(id), Some(c)) => reuse_refusal(c.cluster.client.as_ref(), id, &resumed)?,
        _ => None,
    };
    // Each entry's outcome in the order given; the OSDs to prepare are done side by side.
    let mut items: Vec<Option<PrepareItem>> = Vec::with_capacity(entries.len());
    let mut to_prepare: Vec<(usize, std::path::PathBuf, Vec<std::path::PathBuf>)> = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        match settled(entry, req, connected.is_some(), reuse_refusal.as_deref()) {
            Ok(item) => items.push(Some(item)),
            Err((device, disks)) => {
                to_prepare.push((index, device, disks));
                items.push(None);
            }
        }
    }
    if let Some(c) = &connected {
        for (index, item) in prepare_side_by_side(req, ctx, c, &to_prepare) {
            if let Some(slot) = items.get_mut(index) {
                *slot = Some(item);
            }
        }
    }
    let items: Vec<PrepareItem> = items.into_iter().flatten().collect();
    Ok(PrepareReport {
        dry_run: ctx.dry_run,
        changed: items.iter().any(|i| i.action == Action::Created),
        osds: items,
    })
}

/// The outcome of a plan entry that needs no writing (pure): unchanged, refused, or with no
/// cluster connected (a dry run) the plan; `Err` with the device and the disks it writes when
/// it is to be prepared.
#[allow(clippy::type_complexity)]
fn settled(
    entry: PlanEntry,
    req: &PrepareRequest,
    connected: bool,
    reuse_refusal: Option<&str>,
) -> std::result::Result<PrepareItem, (std::path::PathBuf, Vec<std::path::PathBuf>)> {
    Ok(match entry {
        PlanEntry::Prepare { device, .. } if reuse_refusal.is_some() => {
            PrepareItem::refused(&device, reuse_refusal.unwrap_or_default().to_string(), false)
        }
        PlanEntry::Unchanged { device, osd_id } => PrepareItem {
            osd_id,
            ..PrepareItem::new(&device, Action::Unchanged)
        },
        PlanEntry::Refused {
            device,
            reason,
            usage,
        } => PrepareItem::refused(&device, reason, usage),
        PlanEntry::Prepare { device, plan } if req.encrypt && plan.store == Store::Filestore => {
            PrepareItem::refused(
                &device,
                "--encrypt is for BlueStore OSDs (FileStore is gone from Reef on): prepare it with --store bluestore, or without --encrypt".into(),
                true,
            )
        }
        PlanEntry::Prepare { device, plan } if !connected => PrepareItem {
            plan: Some(*plan),
            ..PrepareItem::new(&device, Action::WouldCreate)
        },
        PlanEntry::Prepare { device, plan } => {
            let disks = plan.disks().into_iter().map(Path::to_path_buf).collect();
            return Err((device, disks));
        }
    })
}

/// Prepares `to_prepare` (each OSD's index in the report, its device and the disks it
/// writes): OSDs that share no disk side by side, up to `--jobs` at once; each OSD's outcome
/// with its index.
fn prepare_side_by_side(
    req: &PrepareRequest,
    ctx: &Context<'_>,
    c: &Connected,
    to_prepare: &[(usize, std::path::PathBuf, Vec<std::path::PathBuf>)],
) -> Vec<(usize, PrepareItem)> {
    let jobs = req.jobs.unwrap_or_else(default_jobs);
    let disks: Vec<Vec<std::path::PathBuf>> =
        to_prepare.iter().map(|(_, _, d)| d.clone()).collect();
    // Each OSD's index in the report, with its device and the disks it writes.
    type Work<'w> = (usize, (&'w Path, &'w [std::path::PathBuf]));
    let groups: Vec<Vec<Work<'_>>> = serial_groups(&disks)
        .into_iter()
        .map(|g| {
            g.into_iter()
                .filter_map(|k| to_prepare.get(k))
                .map(|(index, device, disks)| (*index, (device.as_path(), disks.as_slice())))
                .collect()
        })
        .collect();
    let shared = ctx.shared();
    run_groups(&groups, jobs, |(device, disks)| {
        prepare_one(req, &shared, c, device, disks)
    })
}

/// How many OSDs are prepared at once without `--jobs`: four per core, at least 4 and at most
/// 16. `ceph-osd --mkfs` is mostly waiting (for BlueStore's own syncs and the monitors'
/// commits, about a second each): measured here it used 15% of a core and 60 MiB for its
/// 2.2 s, so one per core left the host idle (bench/RESULTS.md §2b).
fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.saturating_mul(4).clamp(4, 16)
}

/// The OSDs to prepare split into groups that share no disk (pure): `disks[k]` are the disks
/// OSD `k` writes; two OSDs that write one disk (db slots on one fast device) are in the same
/// group, directly or through others. Each group in the order of its first OSD, each group's
/// OSDs in the order given; a group's OSDs run one after another, groups side by side.
pub fn serial_groups(disks: &[Vec<std::path::PathBuf>]) -> Vec<Vec<usize>> {
    // Union-find over the OSDs, joined through the disks they write.
    let mut parent: Vec<usize> = (0..disks.len()).collect();
    fn root(parent: &mut [usize], mut k: usize) -> usize {
        while let Some(&p) = parent.get(k) {
            if p == k {
                break;
            }
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(k) {
                *slot = grand;
            }
            k = p;
        }
        k
    }
    let mut first_writer: std::collections::BTreeMap<&Path, usize> = Default::default();
    for (k, list) in disks.iter().enumerate() {
        for d in list {
            match first_writer.get(d.as_path()) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, k), root(&mut parent, other));
                    if let Some(slot) = parent.get_mut(a.max(b)) {
                        *slot = a.min(b);
                    }
                }
                None => {
                    first_writer.insert(d.as_path(), k);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for k in 0..disks.len() {
        let r = root(&mut parent, k);
        groups.entry(r).or_default().push(k);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by_key(|g| g.first().copied());
    out
}

/// Runs `one` on every device of `groups` with at most `jobs` threads: each thread takes the
/// next group and runs its devices in order. Returns each device's index with its outcome.
pub(crate) fn run_groups<W: Sync, T: Send>(
    groups: &[Vec<(usize, W)>],
    jobs: usize,
    one: impl Fn(&W) -> T + Sync,
) -> Vec<(usize, T)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    let work = || loop {
        let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(group) = groups.get(g) else { break };
        for (index, work) in group {
            let outcome = one(work);
            if let Ok(mut d) = done.lock() {
                d.push((*index, outcome));
            }
        }
    };
    let threads = jobs.clamp(1, groups.len().max(1));
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    done.into_inner().unwrap_or_default()
}

/// The CRUSH device class of an OSD on `disk`, from sysfs: `nvme` for an NVMe namespace,
/// `ssd` for a disk that is not rotational, `hdd` otherwise (and when unknown).
pub fn detected_class(disk: Option<&crate::disk::inventory::Device>) -> &'static str {
    match disk {
        Some(d) if d.name.starts_with("nvme") => "nvme",
        Some(d) if d.rotational == Some(false) => "ssd",
        _ => "hdd",
    }
}

/// Why `--osd-id ID` cannot be honoured, if it cannot: the id must be a destroyed OSD's, or
/// the one an interrupted replacement of the same disk took (its uuid is in `resumed`).
fn reuse_refusal(
    c: &dyn crate::ceph::client::CephClient,
    id: u32,
    resumed: &[String],
) -> Result<Option<String>> {
    Ok(match commands::osds(c)?.into_iter().find(|o| o.id == id) {
        Some(o) if o.destroyed || resumed.contains(&o.uuid) => None,
        Some(_) => Some(format!("cannot take the id of osd.{id}: it is not destroyed (it still serves data): run `cephboot osd remove {id} --keep-id` first")),
        None => Some(format!("cannot take the id of osd.{id}: the cluster has no such OSD: drop --osd-id to get a new id")),
    })
}

/// Re-plans `device` on a fresh read of the disks its plan writes (`disks`: an earlier OSD of
/// the run may have changed a shared one) and prepares it. Only those disks are read again:
/// the batch read the whole host once, and what this OSD writes is judged on what they say
/// now.
fn prepare_one(
    req: &PrepareRequest,
    ctx: &Shared<'_>,
    c: &Connected,
    device: &Path,
    disks: &[std::path::PathBuf],
) -> PrepareItem {
    let fresh = (ctx.scan_disks)(disks);
    let mut one = req.clone();
    one.disks = vec![fresh
        .find(device)
        .map(|d| d.name.clone())
        .unwrap_or_default()];
    one.all_bootstrap = false;
    let planned = plan::plan(&classify(&fresh, ctx.grammar), ctx.grammar, &one)
        .into_iter()
        .next();
    let plan = match planned {
        Some(PlanEntry::Prepare { plan, .. }) => plan,
        // What an earlier OSD of this run changed can make this one unchanged or refused now:
        // report it, never drop it.
        Some(PlanEntry::Unchanged { device, osd_id }) => {
            return PrepareItem {
                osd_id,
                ..PrepareItem::new(&device, Action::Unchanged)
            }
        }
        Some(PlanEntry::Refused {
            device,
            reason,
            usage,
        }) => return PrepareItem::refused(&device, reason, usage),
        None => {
            let e = Error::NotFound(format!(
                "{} vanished before it could be prepared",
                device.display()
            ));
            return PrepareItem::failed(device, e);
        }
    };
    if plan.store == Store::Filestore && !c.release.supports_filestore() {
        let reason = format!(
            "filestore cannot be created on this cluster, which runs {}: Ceph removed FileStore in Reef (18); prepare it as bluestore ({}, or --store bluestore for an unlabelled disk)",
            c.release,
            ctx.grammar.bootstrap(Role::Bluestore, plan.group.as_deref())
        );
        return PrepareItem::refused(device, reason, false);
    }
    // Every program this OSD needs, before its disks are touched.
    let programs: &[&str] = match plan.store {
        Store::Bluestore => &["ceph-osd", "ceph-authtool", "umount"],
        Store::Filestore => &["ceph-osd", "ceph-authtool", "mkfs.xfs", "mount", "umount"],
    };
    if let Err(e) = crate::exec::require(programs) {
        return PrepareItem::failed(device, e);
    }
    let class = req
        .device_class
        .clone()
        .unwrap_or_else(|| detected_class(fresh.find(device)).to_string());
    let env = prepare::Env {
        client: c.cluster.client.as_ref(),
        conf: &c.cluster.conf,
        cluster: ctx.cluster_name,
        fsid: &c.fsid,
        grammar: ctx.grammar,
        host: ctx.host,
        pin_crush_location: req.crush_host.is_some(),
        wipe: req.wipe,
        reuse_id: req.osd_id,
        device_class: &class,
        host_wait: ctx.host_wait,
        encrypt: req.encrypt,
        tpm2_pcrs: req.tpm2_pcrs.as_deref(),
    };
    if let Err(e) = prepare::admit(&env, &fresh, &plan) {
        return PrepareItem::not_admitted(device, e);
    }
    tracing::info!(device = %device.display(), store = %plan.store, "preparing");
    match prepare::prepare(&env, &fresh, &plan) {
        Ok(p) => PrepareItem {
            osd_id: Some(p.osd_id),
            prepared: Some(p),
            ..PrepareItem::new(device, Action::Created)
        },
        Err(e) => PrepareItem::failed(device, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::inventory::Device;

    #[test]
    fn osds_that_share_a_disk_are_prepared_one_after_another() {
        let d = |names: &[&str]| -> Vec<std::path::PathBuf> {
            names.iter().map(std::path::PathBuf::from).collect()
        };
        // sdb and sdc share the fast nvme0n1 (db slots); sdd alone; sde shares sdf's journal
        // disk with sdg; sdh reaches sdb's group only through sdi's slot on nvme0n1.
        let disks = [
            d(&["/dev/sdb", "/dev/nvme0n1"]),
            d(&["/dev/sdd"]),
            d(&["/dev/sdc", "/dev/nvme0n1"]),
            d(&["/dev/sde", "/dev/sdf"]),
            d(&["/dev/sdg", "/dev/sdf"]),
            d(&["/dev/sdh", "/dev/sdi"]),
            d(&["/dev/sdj", "/dev/sdi", "/dev/nvme0n1"]),
        ];
        assert_eq!(
            serial_groups(&disks),
            vec![vec![0, 2, 5, 6], vec![1], vec![3, 4]]
        );
        assert!(serial_groups(&[]).is_empty());
        let alone: Vec<Vec<usize>> = (0..4).map(|k| vec![k]).collect();
        assert_eq!(
            serial_groups(&[
                d(&["/dev/a"]),
                d(&["/dev/b"]),
                d(&["/dev/c"]),
                d(&["/dev/e"])
            ]),
            alone
        );
    }

    #[test]
    fn every_device_is_run_once_and_a_group_in_its_order() {
        let p = |s: &'static str| std::path::Path::new(s);
        let groups = vec![
            vec![(0, p("a")), (2, p("c")), (5, p("f"))],
            vec![(1, p("b"))],
            vec![(3, p("d")), (4, p("e"))],
        ];
        let seen = std::sync::Mutex::new(Vec::new());
        for jobs in [1, 2, 8] {
            seen.lock().unwrap().clear();
            let mut out = run_groups(&groups, jobs, |dev: &&Path| {
                seen.lock().unwrap().push(dev.to_path_buf());
                dev.display().to_string()
            });
            out.sort();
            let names: Vec<(usize, &str)> = out.iter().map(|(i, s)| (*i, s.as_str())).collect();
            assert_eq!(
                names,
                [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e"), (5, "f")]
            );
            let order = seen.lock().unwrap().clone();
            let at = |n: &'static str| order.iter().position(|x| x == p(n)).unwrap();
            assert!(at("a") < at("c") && at("c") < at("f"), "{order:?}");
            assert!(at("d") < at("e"), "{order:?}");
        }
    }

    #[test]
    fn the_device_class_follows_sysfs() {
        let mut d = Device::test_disk("sdb");
        d.rotational = Some(true);
        assert_eq!(detected_class(Some(&d)), "hdd");
        d.rotational = Some(false);
        assert_eq!(detected_class(Some(&d)), "ssd");
        let mut n = Device::test_disk("nvme0n1");
        n.rotational = Some(false);
        assert_eq!(detected_class(Some(&n)), "nvme");
        d.rotational = None;
        assert_eq!(
            detected_class(Some(&d)),
            "hdd",
            "unknown counts as spinning"
        );
        assert_eq!(detected_class(None), "hdd");
    }
}
