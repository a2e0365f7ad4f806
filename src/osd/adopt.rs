//! `osd adopt`: moves the start of OSDs another tool set up (ceph-volume's units, the
//! package's `ceph-osd@ID`; [`crate::supervise::foreign`]) to cephboot's unit, and back with
//! `--revert`. Nothing on the devices is rewritten: the OSD is found as `osd activate` finds
//! it (by labels, BlueStore labels or LVM tags), its old units are disabled as they were
//! enabled and stopped, it is marked down (so the wait sees the new daemon, not the old one
//! still in the map), and `osd activate ID` starts it under `cephboot-osd@<cluster>-<id>`.
//! What was disabled is recorded first (`<state-dir>/adopted/<cluster>-<id>.json`, kept
//! when a run is interrupted and rerun), and `--revert` restores exactly that.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::activate::{self, ActivateRequest, FoundOsd};
use crate::action::Action;
use crate::error::{Error, IoContext, Result};
use crate::supervise::foreign::{self, UnitState};
use crate::supervise::{systemd, units, Supervisor};

/// What `osd adopt` is asked.
#[derive(Debug, Clone)]
pub struct AdoptRequest {
    /// These OSDs (empty with `all`).
    pub ids: Vec<u32>,
    /// Every OSD of this cluster found on this host.
    pub all: bool,
    /// Report; change nothing.
    pub dry_run: bool,
    /// Give the OSDs back to the units recorded at their adoption.
    pub revert: bool,
    /// How long to wait for each OSD to be up again.
    pub wait_up: Duration,
}

/// One OSD's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Adopted {
    /// Id.
    pub osd_id: u32,
    /// Who made it.
    pub origin: &'static str,
    /// `updated` (its start moved), `unchanged`, `would_update`, `skipped`, `failed`.
    pub action: Action,
    /// The other tools' units that started it (disabled and stopped now, or on a dry run to
    /// be), or with `--revert`, those enabled and started again.
    pub units: Vec<String>,
    /// cephboot's unit.
    pub unit: String,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `osd adopt` did.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptReport {
    /// A dry run.
    pub dry_run: bool,
    /// Whether anything changed.
    pub changed: bool,
    /// Per OSD.
    pub osds: Vec<Adopted>,
}

/// What to do for one OSD (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// cephboot's unit starts it and no other unit does.
    Unchanged,
    /// Disable and stop these units (none: nothing started it), then start it under
    /// cephboot's unit.
    Move(Vec<UnitState>),
}

/// The plan for an OSD whose other units are `foreign`, cephboot's unit installed or not.
pub fn decide(foreign: &[UnitState], cephboot_unit_installed: bool) -> Plan {
    let starters: Vec<UnitState> = foreign.iter().filter(|u| u.starts_osd()).cloned().collect();
    if starters.is_empty() && cephboot_unit_installed {
        Plan::Unchanged
    } else {
        Plan::Move(starters)
    }
}

/// The units another tool runs OSD `id` with now, when any (for `osd activate`, which must
/// not start a second daemon beside them): one `systemctl show` for all of `osds`.
pub fn running_foreign(osds: &[&FoundOsd]) -> Vec<(u32, String)> {
    let names: Vec<(u32, String)> = osds
        .iter()
        .flat_map(|o| {
            foreign::names_for(o.osd_id, o.osd_uuid.as_deref())
                .into_iter()
                .map(move |n| (o.osd_id, n))
        })
        .collect();
    let all: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
    let states = foreign::read(&all).unwrap_or_default();
    names
        .into_iter()
        .filter(|(_, n)| {
            n.starts_with("ceph-osd@") && states.iter().any(|s| &s.name == n && s.active)
        })
        .collect()
}

fn record_path(state_dir: &Path, cluster: &str, id: u32) -> PathBuf {
    state_dir
        .join("adopted")
        .join(format!("{cluster}-{id}.json"))
}

fn read_record(path: &Path) -> Result<Option<Vec<UnitState>>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::Usage(format!(
                "{}: not a record of `osd adopt` ({e}): move it away to adopt again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Adopts (or with `revert` gives back) the OSDs asked.
pub fn adopt_on_host(
    req: &AdoptRequest,
    grammar: &crate::disk::label::LabelGrammar,
    opts: &crate::ceph::client::ConnectOptions,
    state_dir: &Path,
) -> Result<AdoptReport> {
    if crate::supervise::detect() != Supervisor::Systemd {
        return Err(Error::Usage(
            "osd adopt moves an OSD's start between systemd units, and systemd is not PID 1 here"
                .into(),
        ));
    }
    // Ids, or --all: not both, not neither.
    if req.all != req.ids.is_empty() {
        return Err(Error::Usage("name OSD ids or pass --all (not both)".into()));
    }
    let snapshot = crate::disk::listing::scan_all();
    let fsid = crate::ceph::client::read_configured(opts)
        .ok()
        .and_then(|c| c.fsid().map(str::to_string));
    let found = activate::find_on_host(
        &snapshot,
        &crate::disk::classify::classify(&snapshot, grammar),
        fsid.as_deref(),
    );
    for id in &req.ids {
        if !found.iter().any(|o| o.osd_id == *id) {
            return Err(Error::NotFound(format!(
                "osd.{id} is not prepared on any disk of this host (see `cephboot osd list`)"
            )));
        }
    }
    let chosen: Vec<&FoundOsd> = found
        .iter()
        .filter(|o| req.all || req.ids.contains(&o.osd_id))
        .filter(|o| {
            let theirs = activate::owner_fsid(o, &snapshot);
            activate::other_cluster(theirs, fsid.as_deref()).is_none()
        })
        .collect();
    let osds: Vec<Adopted> = chosen
        .iter()
        .map(|o| {
            let unit = units::DaemonUnit::new(
                units::DaemonKind::Osd,
                &opts.cluster,
                &o.osd_id.to_string(),
            );
            let mut out = Adopted {
                osd_id: o.osd_id,
                origin: o.origin.as_str(),
                action: Action::Unchanged,
                units: Vec::new(),
                unit: unit.name(),
                error: None,
            };
            let ctx = Ctx {
                req,
                opts,
                state_dir,
            };
            let r = if req.revert {
                revert_one(&ctx, o, &unit, &mut out)
            } else {
                adopt_one(&ctx, grammar, o, &unit, &mut out)
            };
            if let Err(e) = r {
                out.action = Action::Failed;
                out.error = Some(e.to_string());
            }
            out
        })
        .collect();
    Ok(AdoptReport {
        dry_run: req.dry_run,
        changed: osds.iter().any(|o| o.action.changed()),
        osds,
    })
}

/// What every OSD of one `osd adopt` shares.
struct Ctx<'a> {
    req: &'a AdoptRequest,
    opts: &'a crate::ceph::client::ConnectOptions,
    state_dir: &'a Path,
}

impl<'a> Ctx<'a> {
    fn parts(
        &self,
    ) -> (
        &'a AdoptRequest,
        &'a crate::ceph::client::ConnectOptions,
        &'a Path,
    ) {
        (self.req, self.opts, self.state_dir)
    }
}

fn adopt_one(
    ctx: &Ctx<'_>,
    grammar: &crate::disk::label::LabelGrammar,
    osd: &FoundOsd,
    unit: &units::DaemonUnit,
    out: &mut Adopted,
) -> Result<()> {
    let (req, opts, state_dir) = ctx.parts();
    if let Some(c) = &osd.conflict {
        return Err(Error::Usage(c.clone()));
    }
    let states = foreign::read(&foreign::names_for(osd.osd_id, osd.osd_uuid.as_deref()))?;
    let record = record_path(state_dir, &opts.cluster, osd.osd_id);
    let Plan::Move(starters) = decide(&states, systemd::is_installed(unit)) else {
        return Ok(());
    };
    out.units = starters.iter().map(|u| u.name.clone()).collect();
    if req.dry_run {
        out.action = Action::WouldUpdate;
        return Ok(());
    }
    // The record first, and only once: a rerun after an interruption (units already
    // disabled) must not replace what they were with what they are now.
    if read_record(&record)?.is_none() && !starters.is_empty() {
        let text = serde_json::to_string_pretty(&starters)
            .map_err(|e| Error::Internal(format!("recording the units: {e}")))?;
        crate::files::write_public(&record, text.as_bytes())?;
    }
    for u in &starters {
        foreign::disable(u)?;
    }
    // The OSD daemon's unit last: ceph-volume's oneshot has done its work.
    let mut was_running = false;
    for u in starters.iter().rev().filter(|u| u.active) {
        foreign::stop(&u.name)?;
        was_running |= u.name.starts_with("ceph-osd@");
    }
    if was_running {
        activate::mark_down(osd.osd_id, opts);
    }
    let report = activate::activate_on_host(
        &ActivateRequest {
            id: Some(osd.osd_id),
            exec: false,
            dry_run: false,
            keep_stopped: false,
            wait_up: req.wait_up,
            recovery_key: None,
        },
        grammar,
        opts,
        state_dir,
    )?;
    if let Some(e) = report.first_error() {
        return Err(Error::Device {
            device: PathBuf::from(format!("osd.{}", osd.osd_id)),
            message: format!(
                "{e}; its old units are disabled (`cephboot osd adopt {} --revert` gives it back to them)",
                osd.osd_id
            ),
        });
    }
    out.action = Action::Updated;
    Ok(())
}

fn revert_one(
    ctx: &Ctx<'_>,
    osd: &FoundOsd,
    unit: &units::DaemonUnit,
    out: &mut Adopted,
) -> Result<()> {
    let (req, opts, state_dir) = ctx.parts();
    let record = record_path(state_dir, &opts.cluster, osd.osd_id);
    let Some(units) = read_record(&record)? else {
        // Never adopted (or reverted already): nothing to give back.
        return Ok(());
    };
    out.units = units.iter().map(|u| u.name.clone()).collect();
    if req.dry_run {
        out.action = Action::WouldUpdate;
        return Ok(());
    }
    if systemd::retire(unit, true)? {
        activate::mark_down(osd.osd_id, opts);
    }
    for u in &units {
        foreign::reenable(u)?;
    }
    // ceph-volume's oneshot first (it starts the OSD's unit itself), then the OSD's.
    for u in units.iter().filter(|u| u.active) {
        foreign::start(&u.name)?;
    }
    std::fs::remove_file(&record).context(|| format!("removing {}", record.display()))?;
    out.action = Action::Updated;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, active: bool, enablement: &str) -> UnitState {
        UnitState {
            name: name.into(),
            active,
            enablement: enablement.into(),
        }
    }

    #[test]
    fn ceph_volumes_units_are_moved() {
        let states = [
            unit("ceph-volume@lvm-4-u.service", true, "enabled"),
            unit("ceph-volume@simple-4-u.service", false, "disabled"),
            unit("ceph-osd@4.service", true, "enabled-runtime"),
        ];
        let Plan::Move(m) = decide(&states, false) else {
            panic!("expected a move")
        };
        let names: Vec<&str> = m.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["ceph-volume@lvm-4-u.service", "ceph-osd@4.service"]);
        // cephboot's unit already installed does not make it unchanged while another starts it.
        assert!(matches!(decide(&states, true), Plan::Move(_)));
    }

    #[test]
    fn adopted_is_unchanged_and_nobodys_is_started() {
        let states = [unit("ceph-osd@4.service", false, "disabled")];
        assert_eq!(decide(&states, true), Plan::Unchanged);
        assert_eq!(decide(&states, false), Plan::Move(Vec::new()));
        // A unit stopped but still enabled would start it at the next boot.
        let enabled = [unit("ceph-osd@4.service", false, "enabled")];
        assert!(matches!(decide(&enabled, true), Plan::Move(v) if v.len() == 1));
    }
}
