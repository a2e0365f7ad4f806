//! The daemon's shared state: the cached inventory, the job table, and the pure decision of
//! whether a disk gets a job.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::disk::classify::{classify, Classified, State as DiskState, Verdict};
use crate::disk::inventory::{Device, DeviceKind, Snapshot};
use crate::disk::label::{LabelGrammar, Role};
use crate::disk::report::DeviceReport;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a free slot.
    Queued,
    /// Running.
    Running,
    /// Done: the OSD is prepared and started.
    Succeeded,
    /// Failed; not retried until the disk is replaced or a new request comes.
    Failed,
}

/// One preparation job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Id.
    pub id: u64,
    /// The disk (`/dev/loop3`).
    pub device: String,
    /// `hotplug`, `startup` or `api`.
    pub origin: &'static str,
    /// State.
    pub state: JobState,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub finished_at: Option<u64>,
    /// The OSD, once known.
    pub osd_id: Option<u32>,
    /// Why it failed.
    pub error: Option<String>,
    /// The kind of failure, as the metrics count it (`refused`, `cluster`, `job_timeout`, ...:
    /// [`crate::daemon::metrics::FAIL_REASONS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<&'static str>,
    /// Progress lines (the engine's log).
    pub log: Vec<String>,
    /// Consent to destroy a foreign device (API requests only).
    #[serde(skip)]
    pub wipe: bool,
    /// A blank disk the daemon's OSD spec selects (`osd apply`), not a labelled one.
    pub by_spec: bool,
}

/// Everything the daemon knows.
#[derive(Debug, Default)]
pub struct DaemonState {
    /// The cached inventory.
    pub snapshot: Snapshot,
    /// Each device's verdict, keyed by its node: classified once per inventory change.
    pub verdicts: BTreeMap<std::path::PathBuf, Verdict>,
    /// Jobs, oldest first.
    pub jobs: Vec<Job>,
    /// Disks (kernel names) with a queued or running job.
    pub active: BTreeSet<String>,
    /// Disks whose last automatic job failed.
    pub failed: BTreeSet<String>,
    /// Shutting down: no new jobs.
    pub draining: bool,
    /// Uevents about a block disk (each followed by a re-read).
    pub disk_events: u64,
    /// How long the full scan at start took.
    pub last_full_scan: Option<std::time::Duration>,
    /// How long the last one-disk re-read took.
    pub last_disk_scan: Option<std::time::Duration>,
    /// Disks in the last full read.
    pub last_full_scan_disks: Option<u64>,
    /// Failed jobs by reason since the start (a counter: the job table forgets old jobs).
    pub jobs_failed: BTreeMap<&'static str, u64>,
    /// How long each job's prepare took.
    pub prepare_seconds: crate::daemon::metrics::Histogram,
    /// How long each activation the daemon ran took.
    pub activate_seconds: crate::daemon::metrics::Histogram,
    /// Disks the spec selects but cannot make an OSD of now, with the reason (logged once until
    /// it changes; `spec_waiting` in `GET /v1/health`).
    pub spec_waiting: BTreeMap<String, String>,
    next_id: u64,
}

/// What the daemon's OSD spec makes of one disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecVerdict {
    /// An OSD with this disk as its data device.
    Takes,
    /// Its data filter selects the disk, but the OSD cannot be made now (no free block.db or
    /// block.wal slot, no fast device): the spec and its reasons.
    Stuck(String),
    /// Not the spec's disk (or only a preview-only spec's).
    No,
}

/// What deciding a spec job needs besides the state.
#[derive(Debug)]
pub struct SpecContext<'a> {
    /// The daemon's specs.
    pub specs: &'a [crate::spec::parse::OsdSpec],
    /// This host.
    pub host: &'a crate::spec::select::Host,
    /// Label grammar.
    pub grammar: &'a LabelGrammar,
    /// The daemon's allow/deny policy.
    pub policy: &'a crate::disk::policy::DevicePolicy,
    /// Disks whose OSD the operator removed.
    pub removed: &'a [crate::osd::removed::RemovedDisk],
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DaemonState {
    /// Replaces the whole inventory.
    pub fn set_snapshot(&mut self, snapshot: Snapshot, grammar: &LabelGrammar) {
        self.verdicts = classify(&snapshot, grammar)
            .into_iter()
            .map(|c| (c.device.path.clone(), c.verdict))
            .collect();
        self.snapshot = snapshot;
    }

    /// Each device of the inventory with its cached verdict, in inventory order.
    pub fn classified(&self) -> Vec<Classified<'_>> {
        self.snapshot
            .devices
            .iter()
            .filter_map(|device| {
                let verdict = self.verdicts.get(&device.path)?.clone();
                Some(Classified { device, verdict })
            })
            .collect()
    }

    /// Replaces one disk (and its partitions) with a fresh read of it; `None` when the disk
    /// is gone. Returns whether the disk exists.
    pub fn replace_disk(&mut self, name: &str, fresh: Snapshot, grammar: &LabelGrammar) -> bool {
        let path = std::path::PathBuf::from(format!("/dev/{name}"));
        let mut devices: Vec<Device> = self
            .snapshot
            .devices
            .drain(..)
            .filter(|d| d.path != path && d.parent.as_deref() != Some(path.as_path()))
            .collect();
        let present = fresh
            .devices
            .iter()
            .any(|d| d.kind == DeviceKind::Disk && d.size_bytes > 0);
        devices.extend(fresh.devices);
        let snapshot = Snapshot { devices };
        self.set_snapshot(snapshot, grammar);
        if !present {
            // A disk that went away (or lost its medium) may be retried when it returns, and
            // no longer waits for the spec.
            self.failed.remove(name);
            self.spec_waiting.remove(name);
        }
        present
    }

    /// The disks as reported by the API.
    pub fn disk_reports(&self) -> Vec<DeviceReport> {
        self.classified().iter().map(DeviceReport::new).collect()
    }

    /// Whether `name` should get an automatic job now (pure).
    pub fn wants_job(&self, name: &str, allowed: bool) -> bool {
        allowed
            && !self.draining
            && !self.active.contains(name)
            && !self.failed.contains(name)
            && self.is_bootstrap_ready(name)
    }

    /// Whether `name` should get an automatic job for the OSD spec (pure): no job yet, not
    /// failed, and the spec makes an OSD of it as the data device (a blank disk it selects,
    /// not one whose OSD the operator removed).
    pub fn wants_spec_job(&self, name: &str, allowed: bool, spec: &SpecContext<'_>) -> bool {
        self.spec_decision(name, allowed, spec) == SpecVerdict::Takes
    }

    /// Whether the spec makes an OSD of disk `name` now.
    pub fn spec_selects(&self, name: &str, spec: &SpecContext<'_>) -> bool {
        self.spec_verdict(name, spec) == SpecVerdict::Takes
    }

    /// What the spec makes of disk `name` for a job now: `No` where no spec job may start
    /// (the disk denied, no spec, the daemon stopping, the disk's job queued or failed).
    pub fn spec_decision(&self, name: &str, allowed: bool, spec: &SpecContext<'_>) -> SpecVerdict {
        if !allowed
            || spec.specs.is_empty()
            || self.draining
            || self.active.contains(name)
            || self.failed.contains(name)
        {
            return SpecVerdict::No;
        }
        self.spec_verdict(name, spec)
    }

    /// Keeps [`DaemonState::spec_waiting`] for a disk that gets no job: the reason to log when
    /// the disk starts waiting for a fast device or waits for another reason than before.
    pub fn note_spec_wait(&mut self, name: &str, verdict: SpecVerdict) -> Option<String> {
        match verdict {
            SpecVerdict::Stuck(why) => {
                let before = self.spec_waiting.insert(name.to_string(), why.clone());
                (before.as_ref() != Some(&why)).then_some(why)
            }
            SpecVerdict::Takes | SpecVerdict::No => {
                self.spec_waiting.remove(name);
                None
            }
        }
    }

    /// What the spec makes of disk `name` now (pure: the plan of the cached inventory).
    pub fn spec_verdict(&self, name: &str, spec: &SpecContext<'_>) -> SpecVerdict {
        let disks =
            crate::spec::apply::disks_of(&self.snapshot, spec.grammar, spec.policy, spec.removed);
        let plan = crate::spec::select::plan(spec.specs, &disks, spec.host, &[name.to_string()]);
        let applied = |spec_id: &str| {
            plan.specs
                .iter()
                .any(|s| s.spec == spec_id && !s.preview_only)
        };
        let this = |p: &std::path::Path| p.file_name().is_some_and(|n| n == name);
        if plan.osds.iter().any(|o| this(&o.data) && applied(&o.spec)) {
            return SpecVerdict::Takes;
        }
        plan.not_taken
            .iter()
            .find(|n| this(&n.device) && applied(&n.spec) && n.waits_for_fast_device())
            .map_or(SpecVerdict::No, |n| {
                SpecVerdict::Stuck(format!("spec {}: {}", n.spec, n.reason))
            })
    }

    /// Whether disk `name` carries a ready bootstrap label for an OSD's main device.
    pub fn is_bootstrap_ready(&self, name: &str) -> bool {
        let disk = self
            .snapshot
            .devices
            .iter()
            .find(|d| d.kind == DeviceKind::Disk && d.name == name);
        let Some((device, verdict)) = disk.and_then(|d| Some((d, self.verdicts.get(&d.path)?)))
        else {
            return false;
        };
        let c = Classified {
            device,
            verdict: verdict.clone(),
        };
        c.state() == DiskState::Bootstrap
            && c.ready()
            && c.verdict.role().is_some_and(Role::is_primary)
    }

    /// Adds a queued job for `name` and marks the disk active.
    pub fn add_job(&mut self, name: &str, origin: &'static str, wipe: bool, by_spec: bool) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.active.insert(name.to_string());
        self.jobs.push(Job {
            id,
            device: format!("/dev/{name}"),
            origin,
            state: JobState::Queued,
            created_at: now(),
            finished_at: None,
            osd_id: None,
            error: None,
            failure_reason: None,
            log: Vec::new(),
            wipe,
            by_spec,
        });
        // Keep the table bounded: forget the oldest finished jobs past 1000.
        while self.jobs.len() > 1000 {
            match self
                .jobs
                .iter()
                .position(|j| matches!(j.state, JobState::Succeeded | JobState::Failed))
            {
                Some(i) => {
                    self.jobs.remove(i);
                }
                None => break,
            }
        }
        id
    }

    /// Ends job `id` as failed with `reason` and `message`, counting it.
    pub fn fail_job(&mut self, id: u64, reason: &'static str, message: String) {
        *self.jobs_failed.entry(reason).or_insert(0) += 1;
        if let Some(j) = self.job_mut(id) {
            j.state = JobState::Failed;
            j.error = Some(message);
            j.failure_reason = Some(reason);
            j.finished_at = Some(now());
        }
    }

    /// A job by id.
    pub fn job_mut(&mut self, id: u64) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    /// Counts of jobs by state.
    pub fn job_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for j in &self.jobs {
            let k = match j.state {
                JobState::Queued => "queued",
                JobState::Running => "running",
                JobState::Succeeded => "succeeded",
                JobState::Failed => "failed",
            };
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::inventory::GptInfo;
    use crate::disk::label::PartitionName;
    use std::path::PathBuf;

    fn disk(name: &str, label: Option<&str>) -> Vec<Device> {
        let mut d = Device::test_disk(name);
        d.size_bytes = 4 << 30;
        let mut out = vec![d.clone()];
        if let Some(l) = label {
            let mut p = d;
            p.name = format!("{name}p1");
            p.path = PathBuf::from(format!("/dev/{name}p1"));
            p.kind = DeviceKind::Partition;
            p.parent = Some(PathBuf::from(format!("/dev/{name}")));
            p.partition_number = Some(1);
            p.gpt = Some(GptInfo {
                name: PartitionName::encode(l).unwrap(),
                unique_guid: uuid::Uuid::nil(),
                type_guid: uuid::Uuid::nil(),
            });
            out.push(p);
        }
        out
    }

    #[test]
    fn labelled_disks_get_one_job_and_failures_are_not_retried() {
        let g = LabelGrammar::default();
        let mut s = DaemonState::default();
        let mut devices = disk("loop1", Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"));
        devices.extend(disk("loop2", None));
        s.set_snapshot(Snapshot { devices }, &g);
        assert!(s.wants_job("loop1", true));
        assert!(!s.wants_job("loop2", true), "no label, no job");
        assert!(!s.wants_job("loop1", false), "denied by the config");
        s.add_job("loop1", "hotplug", false, false);
        assert!(!s.wants_job("loop1", true), "one job per disk at a time");
        s.active.remove("loop1");
        s.failed.insert("loop1".into());
        assert!(
            !s.wants_job("loop1", true),
            "a failed disk is not retried in a loop"
        );
        // The disk goes away and comes back: it may be tried again.
        assert!(!s.replace_disk("loop1", Snapshot::default(), &g));
        assert!(s.replace_disk(
            "loop1",
            Snapshot {
                devices: disk("loop1", Some("KOLLA_CEPH_OSD_BOOTSTRAP_BS"))
            },
            &g
        ));
        assert!(s.wants_job("loop1", true));
        s.draining = true;
        assert!(!s.wants_job("loop1", true));
    }

    #[test]
    fn a_disk_the_spec_selects_without_a_free_db_device_is_stuck_with_the_reason() {
        let g = LabelGrammar::default();
        let specs = crate::spec::parse::parse(
            "service_type: osd\nservice_id: hdd_db\nplacement: {host_pattern: '*'}\n\
             data_devices: {rotational: 1}\ndb_devices: {rotational: 0}\n",
        )
        .unwrap();
        let host = crate::spec::select::Host {
            name: "h".into(),
            labels: vec![],
        };
        let policy = crate::disk::policy::DevicePolicy::default();
        let ctx = SpecContext {
            specs: &specs,
            host: &host,
            grammar: &g,
            policy: &policy,
            removed: &[],
        };
        let mut hdd = disk("sdb", None);
        hdd[0].rotational = Some(true);
        let mut s = DaemonState::default();
        s.set_snapshot(
            Snapshot {
                devices: hdd.clone(),
            },
            &g,
        );
        let SpecVerdict::Stuck(why) = s.spec_decision("sdb", true, &ctx) else {
            panic!(
                "stuck, with a reason: {:?}",
                s.spec_decision("sdb", true, &ctx)
            );
        };
        assert!(
            why.starts_with("spec hdd_db: data: no db device available"),
            "{why}"
        );
        assert!(!s.wants_spec_job("sdb", true, &ctx));
        assert_eq!(
            s.spec_decision("sdb", false, &ctx),
            SpecVerdict::No,
            "denied: nothing to say"
        );
        // Logged once: the same reason again is not news.
        let stuck = SpecVerdict::Stuck(why.clone());
        assert_eq!(s.note_spec_wait("sdb", stuck.clone()), Some(why.clone()));
        assert_eq!(s.note_spec_wait("sdb", stuck), None);
        // An SSD arrives: the HDD's OSD can be made, and the SSD is no data device.
        let mut ssd = disk("sdc", None);
        ssd[0].rotational = Some(false);
        hdd.extend(ssd);
        s.set_snapshot(Snapshot { devices: hdd }, &g);
        assert_eq!(s.spec_verdict("sdb", &ctx), SpecVerdict::Takes);
        assert!(s.wants_spec_job("sdb", true, &ctx));
        assert_eq!(s.spec_verdict("sdc", &ctx), SpecVerdict::No);
        // Pulled: it waits no more.
        assert!(!s.replace_disk("sdb", Snapshot::default(), &g));
        assert!(s.spec_waiting.is_empty(), "{:?}", s.spec_waiting);
    }
}
