//! `osd apply`: the host's disks read once into selector records, the plan made
//! ([`super::select::plan`]), and each group of OSDs that share their fast devices handed to
//! the `osd prepare` engine ([`crate::osd::batch`]) with the same guards, consent, slots and
//! crash recovery as `osd prepare` itself. With `--dry-run` the engine runs in its dry run
//! too, so a disk its guards would refuse is reported refused, not planned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::parse::OsdSpec;
use super::select::{self, Disk, Host, NotTaken, Plan, PlannedOsd, SpecOutcome, Use};
use crate::action::Action;
use crate::disk::classify::{classify, Claim, Classified};
use crate::disk::inventory::{DeviceKind, Snapshot};
use crate::disk::label::{LabelGrammar, Role};
use crate::disk::policy::DevicePolicy;
use crate::error::{Error, Result};
use crate::osd::batch::{self, PrepareItem};
use crate::osd::plan::PrepareRequest;
use crate::osd::removed::RemovedDisk;
use crate::osd::slots::SlotSize;

/// One OSD of the run and what became of it.
#[derive(Debug, Serialize)]
pub struct ApplyItem {
    /// What the spec planned.
    #[serde(flatten)]
    pub planned: PlannedOsd,
    /// What the engine did (or would do).
    pub action: Action,
    /// Its OSD id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osd_id: Option<u32>,
    /// Why it was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The error behind a refusal (the exit code).
    #[serde(skip)]
    pub error: Option<Error>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct ApplyReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Some OSD was created.
    pub changed: bool,
    /// The host as placement saw it.
    pub host: String,
    /// Each spec.
    pub specs: Vec<SpecOutcome>,
    /// Each OSD the specs make, in spec and disk order.
    pub osds: Vec<ApplyItem>,
    /// Every disk a spec that applies here did not take, with the reason.
    pub not_taken: Vec<NotTaken>,
}

impl ApplyReport {
    /// The first refusal or failure (the exit code).
    pub fn first_error(&mut self) -> Option<Error> {
        self.osds.iter_mut().find_map(|i| i.error.take())
    }
}

/// What a whole disk holds, for the selector.
fn usage_of(disk: &Classified<'_>, parts: &[&Classified<'_>]) -> Use {
    let main = |r: Role| {
        matches!(
            r,
            Role::Bluestore | Role::BluestoreBlock | Role::FilestoreData
        )
    };
    // What the label claims, whether the OSD runs (its partitions open: in use) or not.
    let osd_of = |c: &Classified<'_>| match c.verdict.claim() {
        Some(Claim::Osd { role, osd_id }) if main(role) => Some(osd_id),
        _ => None,
    };
    if let Some(id) = osd_of(disk).or_else(|| parts.iter().find_map(|p| osd_of(p))) {
        return Use::Osd(id);
    }
    if !parts.is_empty()
        && parts
            .iter()
            .all(|p| matches!(p.verdict.claim(), Some(Claim::Osd { role, .. }) if !main(role)))
    {
        return Use::FastSlots(u32::try_from(parts.len()).unwrap_or(u32::MAX));
    }
    // A blank disk, or one labelled for bootstrap and ready (the engine prepares it by its
    // label, whose store must agree with the spec's).
    if disk.ready() {
        return Use::Free;
    }
    let mut reasons = disk.verdict.reasons();
    for p in parts {
        reasons.extend(p.verdict.reasons());
    }
    reasons.dedup();
    let state = disk.state().as_str();
    if reasons.is_empty() {
        Use::Unavailable(state.to_string())
    } else {
        Use::Unavailable(format!("{state}: {}", reasons.join(", ")))
    }
}

/// The host's whole disks as the selector sees them, in the host's order; a disk outside
/// `policy`, or blank after its OSD was removed (`removed`, the daemon's runs), is
/// unavailable.
pub fn disks_of(
    snapshot: &Snapshot,
    grammar: &LabelGrammar,
    policy: &DevicePolicy,
    removed: &[RemovedDisk],
) -> Vec<Disk> {
    let classified = classify(snapshot, grammar);
    classified
        .iter()
        // A disk without a medium (a detached loop device, an empty card reader) is no
        // candidate for anything, as in cephadm's inventory.
        .filter(|c| c.device.kind == DeviceKind::Disk && c.device.size_bytes > 0)
        .map(|c| {
            let parts: Vec<&Classified<'_>> = classified
                .iter()
                .filter(|p| p.device.parent.as_deref() == Some(c.device.path.as_path()))
                .collect();
            Disk {
                path: c.device.path.clone(),
                name: c.device.name.clone(),
                size_bytes: c.device.size_bytes,
                rotational: c.device.rotational,
                model: c.device.model.clone(),
                vendor: c.device.vendor.clone(),
                usage: match (policy.allows(&c.device.name, None), usage_of(c, &parts)) {
                    (false, _) => Use::Unavailable("outside --allow-device/--deny-device".into()),
                    (true, Use::Free) => match removed
                        .iter()
                        .find(|r| crate::osd::removed::key_of_device(c.device) == r.serial)
                    {
                        Some(r) => Use::Unavailable(format!(
                            "osd.{} was removed from it by the operator: the daemon leaves it; `cephboot osd apply SPEC` by hand takes it",
                            r.osd_id
                        )),
                        None => Use::Free,
                    },
                    (true, u) => u,
                },
            }
        })
        .collect()
}

/// `paths:` entries as kernel names where they lead to a block device (a `/dev/disk/by-*`
/// link, `/dev/sdb`, `sdb`); the ones that do not are returned, for a warning.
pub fn resolve_paths(specs: &mut [OsdSpec], host: &Host) -> Vec<String> {
    let mut missing = Vec::new();
    for spec in specs.iter_mut() {
        if select::host_matches(spec, host).is_err() {
            continue;
        }
        let selections = std::iter::once(&mut spec.data)
            .chain(spec.db.as_mut())
            .chain(spec.wal.as_mut());
        for entry in selections.flat_map(|s| s.paths.iter_mut()) {
            match crate::osd::target::kernel_name_of(Path::new(entry.path.trim())) {
                Ok((_, name)) => entry.path = name,
                Err(e) => missing.push(format!("spec {}: paths: {e}", spec.service_id)),
            }
        }
    }
    missing
}

/// How the engine is run for a plan.
#[derive(Debug)]
pub struct RunOptions<'a> {
    /// Label grammar.
    pub grammar: &'a LabelGrammar,
    /// The cluster.
    pub connect: &'a crate::ceph::client::ConnectOptions,
    /// `--crush-location host=NAME`.
    pub crush_host: Option<String>,
    /// `--allow-device` / `--deny-device`, applied by the engine to every device it touches.
    pub policy: &'a DevicePolicy,
    /// The host name placement matched.
    pub host: &'a str,
    /// Write nothing.
    pub dry_run: bool,
}

/// Runs the plan: each group of OSDs sharing fast devices (and class) through the engine.
pub fn run(specs: &[OsdSpec], plan: Plan, o: &RunOptions<'_>) -> Result<ApplyReport> {
    type Key = (
        String,
        Option<PathBuf>,
        Option<PathBuf>,
        Option<String>,
        Option<SlotSize>,
        Option<SlotSize>,
    );
    let mut groups: Vec<(Key, Vec<PlannedOsd>)> = Vec::new();
    for o in plan.osds {
        let key: Key = (
            o.spec.clone(),
            o.db.clone(),
            o.wal.clone(),
            o.crush_device_class.clone(),
            o.db_slots,
            o.wal_slots,
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(o),
            None => groups.push((key, vec![o])),
        }
    }
    let mut items = Vec::new();
    for ((spec_id, db, wal, class, db_slots, wal_slots), osds) in groups {
        let Some(spec) = specs.iter().find(|s| s.service_id == spec_id) else {
            continue;
        };
        let name = |p: &Option<PathBuf>| {
            p.as_ref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        };
        let req = PrepareRequest {
            disks: osds
                .iter()
                .filter_map(|o| name(&Some(o.data.clone())))
                .collect(),
            all_bootstrap: false,
            store: Some(spec.objectstore),
            journal: None,
            db: name(&db),
            wal: name(&wal),
            wipe: false,
            policy: o.policy.clone(),
            journal_size: spec.journal_size.unwrap_or(5 << 30),
            wal_size: spec.block_wal_size.unwrap_or(1 << 30),
            osd_id: None,
            device_class: class,
            db_slots,
            wal_slots,
            crush_host: o.crush_host.clone(),
            encrypt: spec.encrypted,
            tpm2_pcrs: spec.tpm2_pcrs.clone(),
            jobs: None,
        };
        let group_dry = o.dry_run || spec.preview_only;
        let report = batch::prepare_on_host(&req, o.grammar, o.connect, group_dry)?;
        let mut by_device: BTreeMap<String, PrepareItem> = report
            .osds
            .into_iter()
            .map(|i| (i.device.clone(), i))
            .collect();
        for o in osds {
            let item = by_device.remove(&o.data.display().to_string());
            items.push(match item {
                Some(i) => ApplyItem {
                    planned: o,
                    action: i.action,
                    osd_id: i.osd_id,
                    reason: i.reason,
                    error: i.error,
                },
                None => ApplyItem {
                    reason: Some("the engine did not report this disk".into()),
                    error: Some(Error::Usage(format!(
                        "{}: the engine did not report it",
                        o.data.display()
                    ))),
                    planned: o,
                    action: Action::Failed,
                    osd_id: None,
                },
            });
        }
    }
    Ok(ApplyReport {
        dry_run: o.dry_run,
        changed: items.iter().any(|i| i.action == Action::Created),
        host: o.host.to_string(),
        specs: plan.specs,
        osds: items,
        not_taken: plan.not_taken,
    })
}
