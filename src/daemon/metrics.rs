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
}

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
    out
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
    }
}
