//! Which disks each spec takes, and why every other disk was not taken (pure: specs and plain
//! disk records in, a [`Plan`] out).
//!
//! Specs are applied in file order; a disk taken by an earlier spec (or as a fast device of
//! the same spec) is never taken again, so two specs never share a disk. Within a spec the
//! fast devices are chosen first (`db_devices`, then `wal_devices`), then the data devices
//! among the rest, in the host's disk order (as cephadm takes them "from top to bottom").
//! A data device that already holds an OSD counts toward `limit` once and is left as it is.
//! Each new data device gets a slot on a fast device: `db_slots` per fast device (minus the
//! slots already there), or, without it, the new data devices spread evenly over fast devices
//! that are still empty. What does not fit is not taken, with the reason; cephboot never
//! makes an OSD without the block.db its spec asks for (ceph-volume does, silently).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::parse::{Logic, OsdSpec, Selection};
use super::size::show;
use crate::disk::policy::glob;
use crate::osd::slots::SlotSize;

/// What a disk is used for now, as far as a spec is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// Blank: may be taken for any role.
    Free,
    /// Holds an OSD's main partition: counts toward a data `limit`, never taken again.
    Osd(u32),
    /// Holds only block.db / block.wal partitions of OSDs (this many): a fast device with
    /// room for more slots.
    FastSlots(u32),
    /// Not usable, and why (in use, foreign data, labelled for bootstrap, unreadable).
    Unavailable(String),
}

/// One whole disk of the host as the selector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Node (`/dev/sdb`).
    pub path: PathBuf,
    /// Kernel name (`sdb`).
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// sysfs's rotational flag.
    pub rotational: Option<bool>,
    /// sysfs's model.
    pub model: Option<String>,
    /// sysfs's vendor.
    pub vendor: Option<String>,
    /// What it holds.
    pub usage: Use,
}

/// This host as placement sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// Short host name.
    pub name: String,
    /// Its labels (`--host-label`).
    pub labels: Vec<String>,
}

/// One OSD a spec makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOsd {
    /// The spec's service_id.
    pub spec: String,
    /// Its data device.
    pub data: PathBuf,
    /// Its block.db device.
    pub db: Option<PathBuf>,
    /// Its block.wal device.
    pub wal: Option<PathBuf>,
    /// Its CRUSH device class (else the one sysfs suggests).
    pub crush_device_class: Option<String>,
    /// Overrides that were used for it.
    pub notes: Vec<String>,
    /// How the db device is divided.
    #[serde(skip)]
    pub db_slots: Option<SlotSize>,
    /// How the wal device is divided.
    #[serde(skip)]
    pub wal_slots: Option<SlotSize>,
}

/// A disk a spec did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotTaken {
    /// The spec's service_id.
    pub spec: String,
    /// The disk.
    pub device: PathBuf,
    /// Why, per role the spec has (`data: rotational: ...; db: ...`).
    pub reason: String,
}

/// The data reasons of a disk the data filter selected whose OSD has no fast device with room
/// (the spec's fast devices are full, or there is none): [`NotTaken::waits_for_fast_device`].
const NO_FREE_SLOT: &str = "data: no free block.";
const NO_FAST_DEVICE: &str = " device available for its block.";

impl NotTaken {
    /// Whether the spec's data filter selected the disk and only a fast device's room is
    /// missing (a free block.db/wal slot, or a fast device at all): the daemon says so rather
    /// than pass over the disk in silence.
    pub fn waits_for_fast_device(&self) -> bool {
        self.reason.starts_with(NO_FREE_SLOT)
            || (self.reason.starts_with("data: no ") && self.reason.contains(NO_FAST_DEVICE))
    }
}

/// What became of one spec on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecOutcome {
    /// Its service_id.
    pub spec: String,
    /// Whether it applies to this host (and is managed).
    pub applies: bool,
    /// Why not, or a remark (preview only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// OSDs already on devices its data filter selects (they count toward `limit`).
    pub existing_osds: Vec<u32>,
    /// Shown, never applied (`preview_only: true`).
    pub preview_only: bool,
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Each spec, in file order.
    pub specs: Vec<SpecOutcome>,
    /// Every new OSD, in spec and disk order.
    pub osds: Vec<PlannedOsd>,
    /// Every disk a spec that applies here did not take.
    pub not_taken: Vec<NotTaken>,
}

/// A disk with the spec's overrides applied.
struct Seen<'a> {
    disk: &'a Disk,
    rotational: Option<bool>,
    /// An override's explicit class.
    class: Option<String>,
    /// The class a rotational override implies (hdd/ssd), below the spec's own.
    implied_class: Option<String>,
    notes: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Data,
    Db,
    Wal,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Data => "data",
            Role::Db => "db",
            Role::Wal => "wal",
        }
    }
}

/// Whether `spec` applies to `host`, or why not.
pub fn host_matches(spec: &OsdSpec, host: &Host) -> Result<(), String> {
    let p = &spec.placement;
    if let Some(pat) = &p.host_pattern {
        if !glob(pat, &host.name) {
            return Err(format!(
                "placement: host_pattern {pat:?} does not match this host ({})",
                host.name
            ));
        }
    }
    if !p.hosts.is_empty() && !p.hosts.contains(&host.name) {
        return Err(format!(
            "placement: hosts [{}] do not name this host ({})",
            p.hosts.join(", "),
            host.name
        ));
    }
    if let Some(l) = &p.label {
        if !host.labels.contains(l) {
            return Err(format!(
                "placement: label {l:?} is not one of this host's labels [{}] (give them with --host-label)",
                host.labels.join(", ")
            ));
        }
    }
    Ok(())
}

fn apply_overrides<'a>(spec: &OsdSpec, disk: &'a Disk) -> Seen<'a> {
    let mut seen = Seen {
        disk,
        rotational: disk.rotational,
        class: None,
        implied_class: None,
        notes: Vec::new(),
    };
    for o in &spec.overrides {
        if !o.matches(&disk.name, &disk.path) {
            continue;
        }
        if let Some(r) = o.rotational {
            seen.notes.push(format!(
                "rotational {} by {} (sysfs: {})",
                u8::from(r),
                o.origin,
                disk.rotational
                    .map_or("unknown".into(), |v| u8::from(v).to_string())
            ));
            seen.rotational = Some(r);
            seen.implied_class = Some(if r { "hdd" } else { "ssd" }.into());
        }
        if let Some(c) = &o.crush_device_class {
            seen.notes.push(format!("class {c} by {}", o.origin));
            seen.class = Some(c.clone());
        }
    }
    seen
}

fn path_matches(entry: &str, disk: &Disk) -> bool {
    let e = entry.trim();
    e == disk.name || std::path::Path::new(e) == disk.path
}

/// Every filter of `sel` against one disk: Ok, or why not.
fn filters(sel: &Selection, logic: Logic, seen: &Seen<'_>) -> Result<(), String> {
    if sel.all {
        return Ok(());
    }
    if !sel.paths.is_empty() {
        return if sel.paths.iter().any(|p| path_matches(&p.path, seen.disk)) {
            Ok(())
        } else {
            Err("paths: not listed".into())
        };
    }
    let mut failed = Vec::new();
    let mut passed = 0;
    if let Some(want) = sel.rotational {
        let source = if seen.notes.iter().any(|n| n.starts_with("rotational")) {
            "overridden"
        } else {
            "sysfs"
        };
        match seen.rotational {
            Some(r) if r == want => passed += 1,
            Some(r) => failed.push(format!(
                "rotational: wants {}, the disk is {} ({source})",
                u8::from(want),
                u8::from(r)
            )),
            None => failed.push(format!(
                "rotational: wants {}, sysfs does not say",
                u8::from(want)
            )),
        }
    }
    if let Some(f) = &sel.size {
        if f.matches(seen.disk.size_bytes) {
            passed += 1;
        } else {
            failed.push(format!(
                "size: {} is not within {}",
                show(seen.disk.size_bytes),
                f.text
            ));
        }
    }
    for (what, want, have) in [
        ("model", &sel.model, &seen.disk.model),
        ("vendor", &sel.vendor, &seen.disk.vendor),
    ] {
        let Some(want) = want else { continue };
        match have {
            Some(h) if h.contains(want.as_str()) => passed += 1,
            Some(h) => failed.push(format!("{what}: {h:?} does not contain {want:?}")),
            None => failed.push(format!("{what}: sysfs reports none (wants {want:?})")),
        }
    }
    match logic {
        Logic::And if failed.is_empty() => Ok(()),
        Logic::Or if passed > 0 => Ok(()),
        Logic::And => Err(failed.join(", ")),
        Logic::Or => Err(format!(
            "no filter matched (filter_logic: OR): {}",
            failed.join(", ")
        )),
    }
}

/// The new OSD's class: its `paths` entry's, an override's, the spec's, the one a
/// rotational override implies; else none (the engine's from sysfs).
fn class_of(sel: &Selection, seen: &Seen<'_>, spec: &OsdSpec) -> Option<String> {
    sel.paths
        .iter()
        .find(|p| path_matches(&p.path, seen.disk))
        .and_then(|p| p.crush_device_class.clone())
        .or_else(|| seen.class.clone())
        .or_else(|| spec.crush_device_class.clone())
        .or_else(|| seen.implied_class.clone())
}

/// A fast device chosen for a role, with the slots it still has for this run.
struct Fast {
    path: PathBuf,
    /// Slots still free for this run.
    room: u32,
    /// Slots the device is divided into (for an even share: the share).
    total: u32,
}

/// The plan for every spec on this host. With `only_data` (kernel names), new OSDs are made
/// only on those data devices (the daemon's run for one disk that appeared); existing OSDs
/// still count toward `limit` and fast devices are still chosen among every disk.
pub fn plan(specs: &[OsdSpec], disks: &[Disk], host: &Host, only_data: &[String]) -> Plan {
    let mut out = Plan::default();
    // Disk path -> "spec S (db)".
    let mut taken: BTreeMap<PathBuf, String> = BTreeMap::new();
    for spec in specs {
        let mut outcome = SpecOutcome {
            spec: spec.service_id.clone(),
            applies: false,
            reason: None,
            existing_osds: Vec::new(),
            preview_only: spec.preview_only,
        };
        if let Err(why) = host_matches(spec, host) {
            outcome.reason = Some(why);
            out.specs.push(outcome);
            continue;
        }
        if spec.unmanaged {
            outcome.reason = Some("unmanaged: true: cephboot takes no disk for it".into());
            out.specs.push(outcome);
            continue;
        }
        outcome.applies = true;
        if spec.preview_only {
            outcome.reason = Some("preview_only: true: shown, never applied".into());
        }
        let mut run = SpecRun {
            spec,
            seen: disks.iter().map(|d| apply_overrides(spec, d)).collect(),
            why: BTreeMap::new(),
            used_here: BTreeMap::new(),
        };
        let mut dbs = run.fast_for(
            Role::Db,
            &spec.db,
            spec.db_slots,
            spec.block_db_size,
            &taken,
        );
        let mut wals = run.fast_for(
            Role::Wal,
            &spec.wal,
            spec.wal_slots,
            spec.block_wal_size,
            &taken,
        );
        let seen = std::mem::take(&mut run.seen);
        let (new_data, existing) = run.data_candidates(&seen, &taken, &mut outcome);
        let new_data = run.limit_and_share(new_data, existing, &mut dbs, &mut wals, only_data);
        run.place(new_data, &mut dbs, &mut wals, &mut out);
        run.release_unused_fast(disks, &dbs, &wals, &out);
        run.record(&seen, &mut taken, &mut out);
        out.specs.push(outcome);
    }
    out
}

/// One spec's selection in progress: what each disk looks like to it, why each role did not
/// take a disk, and the disks it uses.
struct SpecRun<'s, 'd> {
    spec: &'s OsdSpec,
    seen: Vec<Seen<'d>>,
    /// Per disk: why each role did not take it.
    why: BTreeMap<PathBuf, Vec<String>>,
    /// The disks this spec uses, by role.
    used_here: BTreeMap<PathBuf, Role>,
}

impl<'s, 'd> SpecRun<'s, 'd> {
    /// The fast devices `sel` selects for `role`, with their room in slots.
    fn fast_for(
        &mut self,
        role: Role,
        sel: &Option<Selection>,
        slots: Option<u32>,
        size: Option<u64>,
        taken: &BTreeMap<PathBuf, String>,
    ) -> Vec<Fast> {
        let spec = self.spec;
        let seen = std::mem::take(&mut self.seen);
        let used_here = &mut self.used_here;
        let why = &mut self.why;
        let Some(sel) = sel else {
            self.seen = seen;
            return Vec::new();
        };
        let mut chosen = Vec::new();
        for s in &seen {
            let path = &s.disk.path;
            let r = role.name();
            if let Some(by) = taken.get(path) {
                why.entry(path.clone())
                    .or_default()
                    .push(format!("{r}: taken by {by}"));
                continue;
            }
            if used_here.contains_key(path) {
                continue;
            }
            if let Err(e) = filters(sel, spec.filter_logic, s) {
                why.entry(path.clone())
                    .or_default()
                    .push(format!("{r}: {e}"));
                continue;
            }
            let used = match &s.disk.usage {
                Use::Free => 0,
                Use::FastSlots(n) => *n,
                Use::Osd(id) => {
                    why.entry(path.clone())
                        .or_default()
                        .push(format!("{r}: holds osd.{id}"));
                    continue;
                }
                Use::Unavailable(u) => {
                    why.entry(path.clone())
                        .or_default()
                        .push(format!("{r}: {u}"));
                    continue;
                }
            };
            if sel.limit.is_some_and(|l| chosen.len() >= l as usize) {
                why.entry(path.clone())
                    .or_default()
                    .push(format!("{r}: limit {} reached", sel.limit.unwrap_or(0)));
                continue;
            }
            if used > 0 && slots.is_none() && size.is_none() {
                let k = if role == Role::Db {
                    "db_slots"
                } else {
                    "wal_slots"
                };
                why.entry(path.clone()).or_default().push(format!(
                        "{r}: already holds {used} slot(s): set {k} so the rest is divided the same way"
                    ));
                continue;
            }
            used_here.insert(path.clone(), role);
            let total = match (slots, size) {
                (Some(n), _) => n,
                (None, Some(b)) => u32::try_from(s.disk.size_bytes / b.max(1)).unwrap_or(u32::MAX),
                (None, None) => 0, // an even share, set below
            };
            chosen.push(Fast {
                path: path.clone(),
                room: total.saturating_sub(used),
                total,
            });
        }
        self.seen = seen;
        chosen
    }

    /// The free data devices the spec selects, and how many it selects that hold its OSDs.
    fn data_candidates<'x>(
        &mut self,
        seen: &'x [Seen<'d>],
        taken: &BTreeMap<PathBuf, String>,
        outcome: &mut SpecOutcome,
    ) -> (Vec<&'x Seen<'d>>, u32) {
        let spec = self.spec;
        let used_here = &mut self.used_here;
        let why = &mut self.why;
        // Data devices.
        let mut new_data: Vec<&Seen<'_>> = Vec::new();
        let mut existing = 0u32;
        for s in seen {
            let path = &s.disk.path;
            if let Some(by) = taken.get(path) {
                why.entry(path.clone())
                    .or_default()
                    .push(format!("data: taken by {by}"));
                continue;
            }
            if used_here.contains_key(path) {
                continue;
            }
            if let Err(e) = filters(&spec.data, spec.filter_logic, s) {
                why.entry(path.clone())
                    .or_default()
                    .push(format!("data: {e}"));
                continue;
            }
            match &s.disk.usage {
                Use::Osd(id) => {
                    // This spec's OSD: counted toward its limit once, and no later spec's.
                    outcome.existing_osds.push(*id);
                    existing += 1;
                    used_here.insert(path.clone(), Role::Data);
                }
                Use::FastSlots(n) => {
                    why.entry(path.clone()).or_default().push(format!(
                        "data: holds {n} block.db/wal slot(s) of other OSDs"
                    ));
                }
                Use::Unavailable(u) => {
                    why.entry(path.clone())
                        .or_default()
                        .push(format!("data: {u}"));
                }
                Use::Free => new_data.push(s),
            }
        }
        (new_data, existing)
    }

    /// The spec's `limit` (its existing OSDs counted), an even share of the fast devices left
    /// undivided, and in a run for some disks only, the others kept as the spec's.
    fn limit_and_share<'x>(
        &mut self,
        mut new_data: Vec<&'x Seen<'d>>,
        existing: u32,
        dbs: &mut [Fast],
        wals: &mut [Fast],
        only_data: &[String],
    ) -> Vec<&'x Seen<'d>> {
        let spec = self.spec;
        let used_here = &mut self.used_here;
        let why = &mut self.why;
        if let Some(limit) = spec.data.limit {
            let room = (limit as usize).saturating_sub(existing as usize);
            for s in new_data.iter().skip(room) {
                why.entry(s.disk.path.clone()).or_default().push(format!(
                    "data: limit {limit} reached ({existing} existing OSD(s) of the spec on this host counted)"
                ));
            }
            new_data.truncate(room);
        }
        // Fast devices left empty get an even share of every data device the spec takes
        // (also in a run for one disk: the share must not depend on which disk came first).
        for (fast, divided) in [
            (dbs, spec.db_slots.is_some() || spec.block_db_size.is_some()),
            (
                wals,
                spec.wal_slots.is_some() || spec.block_wal_size.is_some(),
            ),
        ] {
            if !divided && !fast.is_empty() {
                let share = u32::try_from(new_data.len().div_ceil(fast.len())).unwrap_or(u32::MAX);
                for f in fast.iter_mut() {
                    f.room = share;
                    f.total = share;
                }
            }
        }
        // A run for some disks only (the daemon's): the spec's other data devices stay its
        // own (no later spec takes them, as a fast device or otherwise), without an OSD now.
        if !only_data.is_empty() {
            new_data.retain(|s| {
                let here = only_data.contains(&s.disk.name);
                if !here {
                    used_here.insert(s.disk.path.clone(), Role::Data);
                }
                here
            });
        }
        new_data
    }

    /// Each new data device's OSD with its db and wal slots, or why not.
    fn place(
        &mut self,
        new_data: Vec<&Seen<'d>>,
        dbs: &mut Vec<Fast>,
        wals: &mut Vec<Fast>,
        out: &mut Plan,
    ) {
        let spec = self.spec;
        let used_here = &mut self.used_here;
        let why = &mut self.why;
        let slot_size = |size: Option<u64>, total: u32| -> SlotSize {
            match size {
                Some(b) => SlotSize::Bytes(b),
                None => SlotSize::Count(total.max(1)),
            }
        };
        for s in new_data {
            let path = s.disk.path.clone();
            // Which slot each role would take; both are taken only when both exist.
            let pick = |fast: &[Fast], role: &str, wanted: bool| -> Result<Option<usize>, String> {
                if !wanted {
                    return Ok(None);
                }
                if fast.is_empty() {
                    return Err(format!(
                        "data: no {role}{NO_FAST_DEVICE}{role} (see the {role} reasons)"
                    ));
                }
                match fast.iter().position(|f| f.room > 0) {
                    Some(i) => Ok(Some(i)),
                    None => Err(format!(
                        "{NO_FREE_SLOT}{role} slot left on {}",
                        fast.iter()
                            .map(|f| f.path.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            };
            let take = |fast: &mut Vec<Fast>, i: Option<usize>| -> Option<(PathBuf, u32)> {
                let f = fast.get_mut(i?)?;
                f.room = f.room.saturating_sub(1);
                Some((f.path.clone(), f.total))
            };
            let (db, wal) = match (
                pick(dbs, "db", spec.db.is_some()),
                pick(wals, "wal", spec.wal.is_some()),
            ) {
                (Ok(d), Ok(w)) => (Ok(take(dbs, d)), Ok(take(wals, w))),
                (Err(e), _) | (_, Err(e)) => (Err(e.clone()), Err(e)),
            };
            match (db, wal) {
                (Ok(db), Ok(wal)) => {
                    used_here.insert(path.clone(), Role::Data);
                    out.osds.push(PlannedOsd {
                        spec: spec.service_id.clone(),
                        data: path,
                        db_slots: db
                            .as_ref()
                            .map(|(_, total)| slot_size(spec.block_db_size, *total)),
                        wal_slots: wal
                            .as_ref()
                            .map(|(_, total)| slot_size(spec.block_wal_size, *total)),
                        db: db.map(|(p, _)| p),
                        wal: wal.map(|(p, _)| p),
                        crush_device_class: class_of(&spec.data, s, spec),
                        notes: s.notes.clone(),
                    });
                }
                (Err(e), _) | (_, Err(e)) => why.entry(path).or_default().push(e),
            }
        }
    }

    /// A blank fast device no OSD of this run uses is left for later specs.
    fn release_unused_fast(&mut self, disks: &[Disk], dbs: &[Fast], wals: &[Fast], out: &Plan) {
        let spec = self.spec;
        let used_here = &mut self.used_here;
        let why = &mut self.why;
        // A blank fast device no OSD of this run uses is left for later specs; one that
        // already holds slots stays this spec's (another spec never shares it).
        for (fast, r) in [(dbs, "db"), (wals, "wal")] {
            for f in fast.iter() {
                let used = out.osds.iter().any(|o| {
                    o.spec == spec.service_id
                        && (o.db.as_ref() == Some(&f.path) || o.wal.as_ref() == Some(&f.path))
                });
                let blank = disks
                    .iter()
                    .any(|d| d.path == f.path && d.usage == Use::Free);
                if !used && blank {
                    used_here.remove(&f.path);
                    why.entry(f.path.clone())
                        .or_default()
                        .push(format!("{r}: selected, but no new OSD needs it"));
                }
            }
        }
    }

    /// The disks it uses are taken from later specs; the others get their reasons.
    fn record(&mut self, seen: &[Seen<'d>], taken: &mut BTreeMap<PathBuf, String>, out: &mut Plan) {
        let spec = self.spec;
        let used_here = &self.used_here;
        let why = &mut self.why;
        for s in seen {
            let path = &s.disk.path;
            if let Some(role) = used_here.get(path) {
                taken.insert(
                    path.clone(),
                    format!("spec {} ({})", spec.service_id, role.name()),
                );
                continue;
            }
            // The data reason first, then the fast devices' (as the roles read in a spec).
            let mut reasons = why.remove(path).unwrap_or_default();
            reasons.sort_by_key(|r| !r.starts_with("data:"));
            let mut reason = reasons.join("; ");
            if !s.notes.is_empty() {
                reason.push_str(&format!(" [{}]", s.notes.join(", ")));
            }
            out.not_taken.push(NotTaken {
                spec: spec.service_id.clone(),
                device: path.clone(),
                reason,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::spec::parse::parse;

    const TB4: u64 = 4_000_787_030_016;
    const GB960: u64 = 960_197_124_096;
    const TB16: u64 = 1_600_321_314_816;

    fn disk(name: &str, size: u64, rot: bool, vendor: &str, model: &str) -> Disk {
        Disk {
            path: PathBuf::from(format!("/dev/{name}")),
            name: name.into(),
            size_bytes: size,
            rotational: Some(rot),
            model: Some(model.into()),
            vendor: Some(vendor.into()),
            usage: Use::Free,
        }
    }

    /// Four 4 TB HDDs, two 960 GB SSDs, one 1.6 TB NVMe (as sysfs shows them).
    fn host_disks() -> Vec<Disk> {
        let mut d: Vec<Disk> = ["sda", "sdb", "sdc", "sdd"]
            .iter()
            .map(|n| disk(n, TB4, true, "ATA", "ST4000NM0035-1V4"))
            .collect();
        d.push(disk("sde", GB960, false, "ATA", "SAMSUNG MZ7KH960"));
        d.push(disk("sdf", GB960, false, "ATA", "SAMSUNG MZ7KH960"));
        let mut nvme = disk("nvme0n1", TB16, false, "", "INTEL SSDPE2KE016T8");
        nvme.vendor = None;
        d.push(nvme);
        d
    }

    fn host() -> Host {
        Host {
            name: "node1".into(),
            labels: vec!["osd".into()],
        }
    }

    fn plan_of(yaml: &str, disks: &[Disk]) -> Plan {
        plan(&parse(yaml).unwrap(), disks, &host(), &[])
    }

    fn datas(p: &Plan) -> Vec<String> {
        p.osds
            .iter()
            .map(|o| o.data.display().to_string())
            .collect()
    }

    fn reason(p: &Plan, dev: &str) -> String {
        p.not_taken
            .iter()
            .find(|n| n.device == std::path::Path::new(dev))
            .map(|n| n.reason.clone())
            .unwrap_or_default()
    }

    const HDD_DB_NVME: &str = "service_type: osd\nservice_id: hdd_db_nvme\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    rotational: 1\n  db_devices:\n    model: SSDPE2KE\n  db_slots: 4\n";

    #[test]
    fn every_hdd_as_data_with_its_db_on_the_nvme_four_per_nvme() {
        let p = plan_of(HDD_DB_NVME, &host_disks());
        assert_eq!(datas(&p), ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"]);
        assert!(p
            .osds
            .iter()
            .all(|o| o.db.as_deref() == Some(std::path::Path::new("/dev/nvme0n1"))));
        assert!(p
            .osds
            .iter()
            .all(|o| o.db_slots == Some(SlotSize::Count(4))));
        // The SSDs: not rotational, not the db model.
        let r = reason(&p, "/dev/sde");
        assert!(
            r.contains("data: rotational: wants 1, the disk is 0 (sysfs)"),
            "{r}"
        );
        assert!(
            r.contains("db: model: \"SAMSUNG MZ7KH960\" does not contain \"SSDPE2KE\""),
            "{r}"
        );
    }

    #[test]
    fn db_slots_bound_the_osds_per_fast_device_and_the_rest_is_explained() {
        let yaml = HDD_DB_NVME.replace("db_slots: 4", "db_slots: 3");
        let p = plan_of(&yaml, &host_disks());
        assert_eq!(datas(&p), ["/dev/sda", "/dev/sdb", "/dev/sdc"]);
        assert!(reason(&p, "/dev/sdd").contains("no free block.db slot left on /dev/nvme0n1"));
        let waits = |p: &Plan, d: &str| {
            p.not_taken
                .iter()
                .any(|n| n.device == std::path::Path::new(d) && n.waits_for_fast_device())
        };
        assert!(waits(&p, "/dev/sdd"), "{:?}", p.not_taken);
        // Without the fast device: it waits too; a disk the data filter does not select does not.
        let mut disks = host_disks();
        disks.retain(|d| d.path != std::path::Path::new("/dev/nvme0n1"));
        let p = plan_of(&yaml, &disks);
        assert!(waits(&p, "/dev/sda"), "{:?}", p.not_taken);
        assert!(p.not_taken.iter().any(|n| !n.waits_for_fast_device()));
        // Slots already there count.
        let mut disks = host_disks();
        disks[6].usage = Use::FastSlots(2);
        let p = plan_of(HDD_DB_NVME, &disks);
        assert_eq!(datas(&p), ["/dev/sda", "/dev/sdb"]);
    }

    #[test]
    fn without_db_slots_the_data_devices_spread_evenly_over_the_fast_ones() {
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ndb_devices: {model: MZ7KH960}\n";
        let p = plan_of(yaml, &host_disks());
        let dbs: Vec<String> = p
            .osds
            .iter()
            .map(|o| o.db.as_ref().unwrap().display().to_string())
            .collect();
        assert_eq!(dbs, ["/dev/sde", "/dev/sde", "/dev/sdf", "/dev/sdf"]);
        assert!(p
            .osds
            .iter()
            .all(|o| o.db_slots == Some(SlotSize::Count(2))));
        // A fast device that already holds slots needs db_slots to be divided alike.
        let mut disks = host_disks();
        disks[4].usage = Use::FastSlots(1);
        let p = plan_of(yaml, &disks);
        assert!(
            reason(&p, "/dev/sde").contains("set db_slots"),
            "{}",
            reason(&p, "/dev/sde")
        );
        assert!(p
            .osds
            .iter()
            .all(|o| o.db.as_deref() == Some(std::path::Path::new("/dev/sdf"))));
    }

    #[test]
    fn no_osd_without_the_db_its_spec_asks_for() {
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ndb_devices: {vendor: NOBODY}\n";
        let p = plan_of(yaml, &host_disks());
        assert!(p.osds.is_empty());
        assert!(
            reason(&p, "/dev/sda").contains("no db device available"),
            "{}",
            reason(&p, "/dev/sda")
        );
    }

    #[test]
    fn size_model_vendor_and_or_logic() {
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {size: '4TB:'}\n", &host_disks());
        assert_eq!(datas(&p).len(), 4);
        assert!(
            reason(&p, "/dev/sde").contains("size: 0.96 TB")
                || reason(&p, "/dev/sde").contains("size: 960.20 GB"),
            "{}",
            reason(&p, "/dev/sde")
        );
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {vendor: ATA, rotational: 0}\n", &host_disks());
        assert_eq!(datas(&p), ["/dev/sde", "/dev/sdf"]);
        assert!(reason(&p, "/dev/nvme0n1").contains("vendor: sysfs reports none"));
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\nfilter_logic: OR\ndata_devices: {model: SSDPE2KE, size: ':1TB'}\n", &host_disks());
        assert_eq!(datas(&p), ["/dev/sde", "/dev/sdf", "/dev/nvme0n1"]);
        assert!(reason(&p, "/dev/sda").contains("no filter matched"));
    }

    #[test]
    fn limit_counts_the_existing_osds_once() {
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1, limit: 3}\n";
        let p = plan_of(yaml, &host_disks());
        assert_eq!(datas(&p), ["/dev/sda", "/dev/sdb", "/dev/sdc"]);
        assert!(reason(&p, "/dev/sdd").contains("limit 3 reached"));
        let mut disks = host_disks();
        disks[0].usage = Use::Osd(7);
        disks[1].usage = Use::Osd(8);
        let p = plan_of(yaml, &disks);
        assert_eq!(datas(&p), ["/dev/sdc"]);
        assert_eq!(p.specs[0].existing_osds, [7, 8]);
        // A second spec whose filter also matches them does not count them again.
        let two = format!("{yaml}---\nservice_type: osd\nservice_id: t\nplacement: {{host_pattern: '*'}}\ndata_devices: {{size: '3TB:', limit: 1}}\n");
        let p = plan_of(&two, &disks);
        assert_eq!(p.specs[1].existing_osds, Vec::<u32>::new());
        assert_eq!(datas(&p), ["/dev/sdc", "/dev/sdd"]);
        let r = p
            .not_taken
            .iter()
            .find(|n| n.spec == "t" && n.device == std::path::Path::new("/dev/sda"))
            .unwrap();
        assert!(r.reason.contains("taken by spec s (data)"), "{}", r.reason);
    }

    #[test]
    fn two_specs_never_share_a_disk() {
        let yaml = "service_type: osd\nservice_id: first\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1, limit: 2}\n---\nservice_type: osd\nservice_id: second\nplacement: {host_pattern: '*'}\ndata_devices: {size: '3TB:'}\n";
        let p = plan_of(yaml, &host_disks());
        let by: Vec<(String, String)> = p
            .osds
            .iter()
            .map(|o| (o.spec.clone(), o.data.display().to_string()))
            .collect();
        assert_eq!(
            by,
            [
                ("first".to_string(), "/dev/sda".to_string()),
                ("first".into(), "/dev/sdb".into()),
                ("second".into(), "/dev/sdc".into()),
                ("second".into(), "/dev/sdd".into()),
            ]
        );
        let r = p
            .not_taken
            .iter()
            .find(|n| n.spec == "second" && n.device == std::path::Path::new("/dev/sda"))
            .unwrap();
        assert!(
            r.reason.contains("taken by spec first (data)"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn paths_and_their_classes() {
        let yaml = "service_type: osd\nservice_id: s\nplacement: {hosts: [node1]}\ncrush_device_class: big\ndata_devices:\n  paths:\n    - /dev/sdb\n    - path: sdc\n      crush_device_class: fast\n";
        let p = plan_of(yaml, &host_disks());
        assert_eq!(datas(&p), ["/dev/sdb", "/dev/sdc"]);
        assert_eq!(p.osds[0].crush_device_class.as_deref(), Some("big"));
        assert_eq!(p.osds[1].crush_device_class.as_deref(), Some("fast"));
        assert_eq!(reason(&p, "/dev/sda"), "data: paths: not listed");
    }

    #[test]
    fn a_spec_for_another_host_or_unmanaged_takes_nothing_and_says_why() {
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {host_pattern: 'ceph-*'}\ndata_devices: {all: true}\n", &host_disks());
        assert!(p.osds.is_empty() && p.not_taken.is_empty());
        assert!(p.specs[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("does not match this host (node1)"));
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {label: mon}\ndata_devices: {all: true}\n", &host_disks());
        assert!(p.specs[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("--host-label"));
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {label: osd}\ndata_devices: {all: true}\n", &host_disks());
        assert_eq!(p.osds.len(), 7);
        let p = plan_of("service_type: osd\nservice_id: s\nunmanaged: true\nplacement: {host_pattern: '*'}\ndata_devices: {all: true}\n", &host_disks());
        assert!(p.osds.is_empty());
        assert!(p.specs[0].reason.as_deref().unwrap().contains("unmanaged"));
    }

    #[test]
    fn an_override_corrects_lying_hardware_and_says_so() {
        let mut disks = host_disks();
        disks[4].rotational = Some(true); // a RAID controller shows the SSD as spinning
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 0}\ncephboot:\n  overrides:\n    - devices: 'sd[ef]'\n      rotational: 0\n";
        let p = plan_of(yaml, &disks);
        assert_eq!(datas(&p), ["/dev/sde", "/dev/sdf", "/dev/nvme0n1"]);
        assert_eq!(p.osds[0].crush_device_class.as_deref(), Some("ssd"));
        // The spec's own class wins over the one a rotational override implies.
        let with_class = yaml.replace("data_devices:", "crush_device_class: fast\ndata_devices:");
        let p = plan_of(&with_class, &disks);
        assert_eq!(p.osds[0].crush_device_class.as_deref(), Some("fast"));
        assert!(p.osds[0].notes[0].contains("rotational 0 by cephboot.overrides[0] (sysfs: 1)"));
        let without = plan_of(&yaml[..yaml.find("cephboot:").unwrap()], &disks);
        assert!(reason(&without, "/dev/sde").contains("the disk is 1 (sysfs)"));
    }

    #[test]
    fn a_run_for_one_disk_takes_only_it_and_its_fast_device() {
        let specs = parse(HDD_DB_NVME).unwrap();
        let mut disks = host_disks();
        disks[0].usage = Use::Osd(3);
        disks[6].usage = Use::FastSlots(1);
        let p = plan(&specs, &disks, &host(), &["sdc".to_string()]);
        assert_eq!(datas(&p), ["/dev/sdc"]);
        assert_eq!(
            p.osds[0].db.as_deref(),
            Some(std::path::Path::new("/dev/nvme0n1"))
        );
        assert_eq!(
            reason(&p, "/dev/sdb"),
            "",
            "another of the spec's disks: no OSD now, not listed"
        );
        assert_eq!(p.specs[0].existing_osds, [3]);
        // The spec's other data disks stay its own: a later spec cannot take one as its db.
        let yaml = "service_type: osd\nservice_id: ssds\nplacement: {host_pattern: '*'}\ndata_devices: {model: MZ7KH960}\n---\nservice_type: osd\nservice_id: hdds\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ndb_devices: {rotational: 0}\ndb_slots: 4\n";
        let p = plan(
            &parse(yaml).unwrap(),
            &host_disks(),
            &host(),
            &["sda".to_string()],
        );
        assert_eq!(datas(&p), ["/dev/sda"]);
        assert_eq!(
            p.osds[0].db.as_deref(),
            Some(std::path::Path::new("/dev/nvme0n1")),
            "{p:#?}"
        );
        // Without db_slots, the share counts every disk the spec takes, not just this one.
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ndb_devices: {model: SSDPE2KE}\n";
        let p = plan(
            &parse(yaml).unwrap(),
            &host_disks(),
            &host(),
            &["sdb".to_string()],
        );
        assert_eq!(p.osds[0].db_slots, Some(SlotSize::Count(4)));
    }

    #[test]
    fn a_fast_device_with_slots_stays_its_specs() {
        let mut disks = host_disks();
        for d in disks.iter_mut().take(4) {
            d.usage = Use::Osd(1);
        }
        disks[6].usage = Use::FastSlots(4);
        let yaml = format!("{HDD_DB_NVME}---\nservice_type: osd\nservice_id: late\nplacement: {{host_pattern: '*'}}\ndata_devices: {{model: MZ7KH960}}\ndb_devices: {{model: SSDPE2KE}}\ndb_slots: 8\n");
        let p = plan_of(&yaml, &disks);
        assert!(p.osds.is_empty(), "{p:#?}");
        let r = p
            .not_taken
            .iter()
            .find(|n| n.spec == "late" && n.device == std::path::Path::new("/dev/nvme0n1"))
            .unwrap();
        assert!(
            r.reason.contains("taken by spec hdd_db_nvme (db)"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn a_db_slot_is_not_spent_on_an_osd_whose_wal_is_missing() {
        let yaml = "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ndb_devices: {model: SSDPE2KE}\ndb_slots: 2\nwal_devices: {model: MZ7KH960, limit: 1}\nwal_slots: 1\n";
        let p = plan_of(yaml, &host_disks());
        assert_eq!(datas(&p), ["/dev/sda"]);
        assert!(
            reason(&p, "/dev/sdb").contains("no free block.wal slot"),
            "{}",
            reason(&p, "/dev/sdb")
        );
        assert!(
            reason(&p, "/dev/sdc").contains("no free block.db slot")
                || reason(&p, "/dev/sdc").contains("no free block.wal slot"),
            "{}",
            reason(&p, "/dev/sdc")
        );
    }

    #[test]
    fn unavailable_disks_are_named_with_their_reason() {
        let mut disks = host_disks();
        disks[0].usage = Use::Unavailable("in use: mounted at /".into());
        let p = plan_of("service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {all: true}\n", &disks);
        assert_eq!(reason(&p, "/dev/sda"), "data: in use: mounted at /");
        assert_eq!(p.osds.len(), 6);
    }
}
