//! `disks zap` of several disks, the engine's part: every named disk is judged (guards) and
//! planned before any is written; each is then locked, claimed and checked to be the disk
//! judged, and wiped — or reported `unchanged` when there is nothing to remove. The command
//! line turns arguments into a [`ZapRequest`] and renders the [`ZapReport`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::guard::{self, Refusal};
use super::identity::DiskIdentity;
use super::inventory::{DeviceKind, Snapshot};
use super::lock::LockedDisk;
use super::wipe::{self, ZapOutcome, ZapPlan, ZeroRange};
use crate::action::Action;
use crate::error::{Error, Result};

/// What to zap.
#[derive(Debug, Clone)]
pub struct ZapRequest {
    /// Kernel names of whole disks.
    pub disks: Vec<String>,
    /// This cluster's fsid, when its config is found (its own BlueStore labels need no force).
    pub cluster_fsid: Option<String>,
    /// Waive the foreign-BlueStore guard.
    pub force: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Devices a dry run judges as the real run will find them: held now only by what that
    /// run releases first (an LVM group it takes apart), so they cannot be claimed
    /// exclusively yet.
    pub released_first: Vec<PathBuf>,
}

/// One disk's zap result.
#[derive(Debug, Serialize)]
pub struct ZapDeviceReport {
    /// The disk.
    pub path: String,
    /// What happened.
    pub action: Action,
    /// Something was written.
    pub changed: bool,
    /// What was (or would be) removed.
    pub plan: ZapPlan,
    /// What the wipe did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ZapOutcome>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct ZapReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Some disk was written.
    pub changed: bool,
    /// Every disk, in the order named.
    pub devices: Vec<ZapDeviceReport>,
    /// The systemd units of this cluster's OSDs on the wiped disks, stopped, disabled and
    /// forgotten (with `dry_run`: those that would be). Filled by the caller
    /// (`crate::osd::retire`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retired_units: Vec<String>,
    /// ceph-volume lvm OSDs' logical volumes, volume groups and physical volumes on the
    /// disks, removed first (with `dry_run`: that would be).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
}

/// Why nothing was zapped.
#[derive(Debug)]
pub enum ZapFailure {
    /// Guards refused these devices; nothing was written to any disk.
    Refused(Vec<Refusal>),
    /// Anything else (usage, a device that is not there, a failed write).
    Error(Error),
}

impl From<Error> for ZapFailure {
    fn from(e: Error) -> Self {
        ZapFailure::Error(e)
    }
}

/// One disk judged and planned.
struct Planned {
    path: PathBuf,
    name: String,
    identity: DiskIdentity,
    plan: ZapPlan,
}

fn range_is_zero(file: &std::fs::File, z: &ZeroRange) -> bool {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; usize::try_from(z.length).unwrap_or(0)];
    file.read_exact_at(&mut buf, z.offset).is_ok() && buf.iter().all(|&b| b == 0)
}

/// The named whole disk, or why it cannot be zapped.
fn whole_disk<'a>(snapshot: &'a Snapshot, name: &str) -> Result<&'a super::inventory::Device> {
    match snapshot.devices.iter().find(|d| d.name == name) {
        Some(d) if d.kind == DeviceKind::Disk => Ok(d),
        Some(d) => Err(Error::Usage(format!(
            "{} is a partition: name its whole disk",
            d.path.display()
        ))),
        None if super::inventory::is_kernel_partition(name) => Err(Error::Usage(format!(
            "/dev/{name} is a partition: name its whole disk (zap wipes whole disks)"
        ))),
        None => Err(Error::NotFound(format!(
            "/dev/{name} is not a block device known to the kernel"
        ))),
    }
}

/// Zaps the disks named by `devices` (paths, kernel names or `/dev/disk/by-*` links): reads
/// them, takes this cluster's fsid from `conf` when it exists (its own BlueStore labels need
/// no `force`), then [`zap_all`].
pub fn zap_named(
    devices: &[std::path::PathBuf],
    conf: &std::path::Path,
    force: bool,
    dry_run: bool,
) -> std::result::Result<ZapReport, ZapFailure> {
    let (disks, mut snapshot) =
        super::listing::scan_named(devices, true).map_err(ZapFailure::Error)?;
    let conf = crate::ceph::conf::CephConf::read(conf).ok();
    // ceph-volume lvm OSDs' volume groups on the named disks: taken apart first (refused
    // while a volume is in use; a dry run judges the disks as they will be then).
    let volumes = crate::osd::lvm_teardown::release_for_zap(&snapshot, &disks, dry_run)?;
    if let Some(t) = &volumes {
        if dry_run {
            for d in &mut snapshot.devices {
                if t.physical.contains(&d.path) {
                    d.holders.clear();
                }
            }
        } else {
            let (_, fresh) =
                super::listing::scan_named(devices, true).map_err(ZapFailure::Error)?;
            snapshot = fresh;
        }
    }
    // This cluster's stopped encrypted OSDs on the named disks: their idle mappings are closed
    // first (a dry run judges the disks as they will be then).
    let fsid = conf
        .as_ref()
        .and_then(|c| c.fsid())
        .and_then(|f| uuid::Uuid::parse_str(f).ok());
    let idle = crate::crypt::mappings::idle(&snapshot, |_, disk| {
        fsid.is_some() && disk.disk_guid == fsid && disks.contains(&disk.name)
    });
    if !idle.is_empty() {
        if dry_run {
            snapshot = crate::crypt::mappings::without(&snapshot, &idle);
        } else {
            crate::crypt::mappings::close(&idle);
            let (_, fresh) =
                super::listing::scan_named(devices, true).map_err(ZapFailure::Error)?;
            snapshot = fresh;
        }
    }
    let req = ZapRequest {
        disks,
        cluster_fsid: conf.as_ref().and_then(|c| c.fsid()).map(str::to_string),
        force,
        dry_run,
        released_first: volumes
            .as_ref()
            .map(|t| t.physical.clone())
            .unwrap_or_default(),
    };
    let mut report = zap_all(&snapshot, &req)?;
    report.volumes = volumes.map(|t| t.described()).unwrap_or_default();
    report.changed |= !dry_run && !report.volumes.is_empty();
    Ok(report)
}

/// Zaps every disk of `req`, judging all of them before the first is written.
pub fn zap_all(
    snapshot: &Snapshot,
    req: &ZapRequest,
) -> std::result::Result<ZapReport, ZapFailure> {
    let mut planned = Vec::new();
    let mut refusals = Vec::new();
    for name in &req.disks {
        let disk = whole_disk(snapshot, name)?;
        let mut facts = guard::gather(snapshot, &disk.path);
        facts
            .exclusive_failures
            .retain(|(d, _)| !(req.dry_run && req.released_first.contains(d)));
        refusals.extend(guard::judge(&facts, req.cluster_fsid.as_deref(), req.force));
        planned.push(Planned {
            path: disk.path.clone(),
            name: name.clone(),
            identity: DiskIdentity::of(disk),
            plan: wipe::plan(snapshot, &disk.path)?,
        });
    }
    if !refusals.is_empty() {
        return Err(ZapFailure::Refused(refusals));
    }
    let mut devices = Vec::new();
    for p in planned {
        devices.push(zap_one(snapshot, p, req.dry_run)?);
    }
    Ok(ZapReport {
        dry_run: req.dry_run,
        changed: devices.iter().any(|r| r.changed),
        devices,
        retired_units: Vec::new(),
        volumes: Vec::new(),
    })
}

fn zap_one(snapshot: &Snapshot, p: Planned, dry_run: bool) -> Result<ZapDeviceReport> {
    let report = |action, changed, plan, outcome| ZapDeviceReport {
        path: p.path.display().to_string(),
        action,
        changed,
        plan,
        outcome,
    };
    if dry_run {
        return Ok(report(Action::WouldZap, false, p.plan, None));
    }
    // The disk must still be the one judged (a zap of several disks leaves time for a node to
    // change hands), and is claimed exclusively while it is wiped.
    let disk = LockedDisk::open_pinned(
        &p.path,
        &p.name,
        &p.identity,
        &p.path,
        Duration::from_secs(10),
    )?;
    if p.plan.finds_nothing() && p.plan.zero.iter().all(|z| range_is_zero(disk.file(), z)) {
        wipe::verify_clean(&disk)?;
        return Ok(report(Action::Unchanged, false, p.plan, None));
    }
    tracing::info!(disk = %p.path.display(), "zapping");
    let outcome = wipe::execute(&p.plan, snapshot, &disk)?;
    Ok(report(Action::Zapped, true, p.plan, Some(outcome)))
}
