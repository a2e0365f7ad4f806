//! The daemon's Prometheus metrics (`GET /metrics` on its socket), rendered from plain data
//! in the text exposition format 0.0.4. Every label value a family can take is always
//! present (a zero is a sample, not a gap), so a dashboard never mistakes "none" for
//! "unknown".

use std::collections::BTreeMap;
use std::fmt::Write;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the metrics say, read from the daemon's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Disks by state (`free`, `bootstrap`, `prepared`, `in_use`, `foreign`, `error`).
    pub disks: BTreeMap<String, u64>,
    /// Jobs by state (`queued`, `running`, `succeeded`, `failed`).
    pub jobs: BTreeMap<String, u64>,
    /// Kernel uevents received.
    pub uevents: u64,
    /// Of those, events about a disk that was re-read.
    pub disk_events: u64,
    /// Seconds the last full inventory scan took.
    pub last_full_scan_seconds: Option<f64>,
    /// Seconds the last one-disk re-read took.
    pub last_disk_scan_seconds: Option<f64>,
    /// Seconds since the daemon started.
    pub uptime_seconds: f64,
    /// Stopping (no new jobs).
    pub draining: bool,
    /// Disks in the last full inventory read.
    pub last_full_scan_disks: Option<u64>,
    /// This host's prepared OSDs by state (`running`, `stopped`).
    pub osds: BTreeMap<String, u64>,
    /// Failed jobs by reason ([`FAIL_REASONS`]).
    pub jobs_failed: BTreeMap<String, u64>,
    /// Seconds each `osd prepare` of a job took.
    pub prepare_seconds: Histogram,
    /// Seconds each `osd activate` the daemon ran took (a job's one OSD, or `--all` at start).
    pub activate_seconds: Histogram,
}

/// Upper bounds (seconds) of the duration histograms' buckets: from a quick `unchanged` to a
/// slow disk's mkfs, and the 30-minute job timeout.
pub const DURATION_BUCKETS: [f64; 10] =
    [1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// A Prometheus histogram of durations, cumulative as the format wants it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or under each of [`DURATION_BUCKETS`] (not cumulative here).
    counts: [u64; DURATION_BUCKETS.len()],
    /// All observations (the `+Inf` bucket).
    count: u64,
    /// Their sum.
    sum: f64,
}

impl Histogram {
    /// Adds one observation.
    pub fn observe(&mut self, seconds: f64) {
        let seconds = if seconds.is_finite() && seconds >= 0.0 {
            seconds
        } else {
            0.0
        };
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| seconds <= *b) {
            if let Some(c) = self.counts.get_mut(i) {
                *c += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn render(&self, out: &mut String, name: &str) {
        let mut cumulative = 0;
        for (bound, n) in DURATION_BUCKETS.iter().zip(self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {:.3}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// Why a job failed, as the metrics count it: every value is always a sample.
pub const FAIL_REASONS: [&str; 12] = [
    "refused",
    "usage",
    "not_found",
    "cluster",
    "device",
    "timeout",
    "openstack",
    "job_timeout",
    "not_started",
    "nothing_selected",
    "killed",
    "other",
];

/// The reason of a job whose `cephboot` child exited with `code` (pure): the kinds of
/// docs/exit-codes.md; `None` (a signal) is `killed`.
pub fn reason_of_exit(code: Option<i32>) -> &'static str {
    match code {
        Some(2) => "usage",
        Some(3) => "refused",
        Some(4) => "not_found",
        Some(5) => "cluster",
        Some(6) => "device",
        Some(7) => "timeout",
        Some(8) => "openstack",
        None => "killed",
        Some(_) => "other",
    }
}

/// OSD states every scrape lists.
const OSD_STATES: [&str; 2] = ["running", "stopped"];

/// Disk states and job states every scrape lists.
const DISK_STATES: [&str; 6] = [
    "free",
    "bootstrap",
    "prepared",
    "in_use",
    "foreign",
    "error",
];
const JOB_STATES: [&str; 4] = ["queued", "running", "succeeded", "failed"];

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text.
pub fn render(s: &Sample) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "cephboot_disks",
        "gauge",
        "Disks the daemon sees, by cephboot state.",
    );
    let mut disk_states: Vec<&str> = DISK_STATES.to_vec();
    disk_states.extend(
        s.disks
            .keys()
            .map(String::as_str)
            .filter(|k| !DISK_STATES.contains(k)),
    );
    for st in disk_states {
        let n = s.disks.get(st).copied().unwrap_or(0);
        let _ = writeln!(out, "cephboot_disks{{state=\"{st}\"}} {n}");
    }
    family(
        &mut out,
        "cephboot_jobs",
        "gauge",
        "Preparation jobs since the daemon started, by state (succeeded and failed are outcomes).",
    );
    for st in JOB_STATES {
        let n = s.jobs.get(st).copied().unwrap_or(0);
        let _ = writeln!(out, "cephboot_jobs{{state=\"{st}\"}} {n}");
    }
    family(
        &mut out,
        "cephboot_uevents_total",
        "counter",
        "Kernel uevents received.",
    );
    let _ = writeln!(out, "cephboot_uevents_total {}", s.uevents);
    family(
        &mut out,
        "cephboot_disk_events_total",
        "counter",
        "Uevents about a block disk, each followed by a re-read of that disk.",
    );
    let _ = writeln!(out, "cephboot_disk_events_total {}", s.disk_events);
    family(
        &mut out,
        "cephboot_last_scan_duration_seconds",
        "gauge",
        "How long the last inventory read took: scope all (every disk, at start) or disk (one disk, after its events).",
    );
    for (scope, v) in [
        ("all", s.last_full_scan_seconds),
        ("disk", s.last_disk_scan_seconds),
    ] {
        if let Some(v) = v {
            let _ = writeln!(
                out,
                "cephboot_last_scan_duration_seconds{{scope=\"{scope}\"}} {v:.6}"
            );
        }
    }
    family(
        &mut out,
        "cephboot_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(out, "cephboot_uptime_seconds {:.3}", s.uptime_seconds);
    family(
        &mut out,
        "cephboot_draining",
        "gauge",
        "1 while the daemon is stopping (no new jobs).",
    );
    let _ = writeln!(out, "cephboot_draining {}", u8::from(s.draining));
    render_osds_and_outcomes(&mut out, s);
    out
}

/// The families of what the daemon's work came to: the inventory's size, the OSDs, failures
/// by reason, and the durations.
fn render_osds_and_outcomes(out: &mut String, s: &Sample) {
    family(
        out,
        "cephboot_last_scan_disks",
        "gauge",
        "Disks in the last full inventory read (at start).",
    );
    if let Some(n) = s.last_full_scan_disks {
        let _ = writeln!(out, "cephboot_last_scan_disks {n}");
    }
    family(
        out,
        "cephboot_osds",
        "gauge",
        "This host's prepared OSDs (found on its disks by label), by whether a ceph-osd of that id runs here.",
    );
    for st in OSD_STATES {
        let n = s.osds.get(st).copied().unwrap_or(0);
        let _ = writeln!(out, "cephboot_osds{{state=\"{st}\"}} {n}");
    }
    family(
        out,
        "cephboot_jobs_failed_total",
        "counter",
        "Failed jobs by reason: the exit kinds of docs/exit-codes.md, job_timeout, not_started (the disk changed before its turn), nothing_selected (the spec took nothing), killed, other.",
    );
    for r in FAIL_REASONS {
        let n = s.jobs_failed.get(r).copied().unwrap_or(0);
        let _ = writeln!(out, "cephboot_jobs_failed_total{{reason=\"{r}\"}} {n}");
    }
    for (name, h, help) in [
        (
            "cephboot_prepare_duration_seconds",
            &s.prepare_seconds,
            "How long each job's osd prepare (or osd apply) took, failed ones included.",
        ),
        (
            "cephboot_activate_duration_seconds",
            &s.activate_seconds,
            "How long each osd activate the daemon ran took (a job's OSD, or every OSD at start).",
        ),
    ] {
        family(out, name, "histogram", help);
        h.render(out, name);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Parses `name{labels} value` lines back (what a scraper does).
    fn samples(text: &str) -> BTreeMap<String, f64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn every_state_is_a_sample_and_each_family_is_typed_once() {
        let s = Sample {
            disks: [("bootstrap".to_string(), 2), ("free".to_string(), 1)].into(),
            jobs: [("succeeded".to_string(), 3)].into(),
            uevents: 17,
            disk_events: 5,
            last_full_scan_seconds: Some(0.0123),
            last_disk_scan_seconds: None,
            uptime_seconds: 9.5,
            draining: false,
            ..Sample::default()
        };
        let text = render(&s);
        let m = samples(&text);
        assert_eq!(m["cephboot_disks{state=\"bootstrap\"}"], 2.0);
        assert_eq!(m["cephboot_disks{state=\"in_use\"}"], 0.0);
        assert_eq!(m["cephboot_jobs{state=\"succeeded\"}"], 3.0);
        assert_eq!(m["cephboot_jobs{state=\"failed\"}"], 0.0);
        assert_eq!(m["cephboot_uevents_total"], 17.0);
        assert_eq!(
            m["cephboot_last_scan_duration_seconds{scope=\"all\"}"],
            0.0123
        );
        assert!(!m.contains_key("cephboot_last_scan_duration_seconds{scope=\"disk\"}"));
        for fam in ["cephboot_disks", "cephboot_jobs", "cephboot_uevents_total"] {
            assert_eq!(text.matches(&format!("# TYPE {fam} ")).count(), 1, "{fam}");
        }
        assert!(text.ends_with('\n'));
        assert_eq!(m["cephboot_osds{state=\"running\"}"], 0.0);
        assert_eq!(m["cephboot_jobs_failed_total{reason=\"refused\"}"], 0.0);
        assert_eq!(m["cephboot_prepare_duration_seconds_count"], 0.0);
    }

    #[test]
    fn histograms_are_cumulative_and_failures_are_counted_by_reason() {
        let mut prepare = Histogram::default();
        for secs in [0.4, 12.0, 45.0, 7200.0, f64::NAN] {
            prepare.observe(secs);
        }
        let s = Sample {
            prepare_seconds: prepare,
            jobs_failed: [("cluster".to_string(), 2)].into(),
            osds: [("running".to_string(), 3), ("stopped".to_string(), 1)].into(),
            last_full_scan_disks: Some(60),
            ..Sample::default()
        };
        let m = samples(&render(&s));
        let bucket =
            |le: &str| m[&format!("cephboot_prepare_duration_seconds_bucket{{le=\"{le}\"}}")];
        // NaN counts as 0 s, 7200 s only in +Inf.
        assert_eq!(bucket("1"), 2.0);
        assert_eq!(bucket("10"), 2.0);
        assert_eq!(bucket("30"), 3.0);
        assert_eq!(bucket("60"), 4.0);
        assert_eq!(bucket("1800"), 4.0);
        assert_eq!(bucket("+Inf"), 5.0);
        assert_eq!(m["cephboot_prepare_duration_seconds_count"], 5.0);
        assert_eq!(m["cephboot_prepare_duration_seconds_sum"], 7257.4);
        assert_eq!(m["cephboot_activate_duration_seconds_count"], 0.0);
        assert_eq!(m["cephboot_jobs_failed_total{reason=\"cluster\"}"], 2.0);
        assert_eq!(m["cephboot_jobs_failed_total{reason=\"device\"}"], 0.0);
        assert_eq!(m["cephboot_osds{state=\"stopped\"}"], 1.0);
        assert_eq!(m["cephboot_last_scan_disks"], 60.0);
        assert_eq!(reason_of_exit(Some(3)), "refused");
        assert_eq!(reason_of_exit(None), "killed");
        assert_eq!(reason_of_exit(Some(101)), "other");
        for r in [
            "usage",
            "refused",
            "not_found",
            "cluster",
            "device",
            "timeout",
            "openstack",
        ] {
            assert!(FAIL_REASONS.contains(&r), "{r}");
        }
    }
}
