//! A real single-node Ceph cluster for a test: `cephboot cluster bootstrap` in a temporary
//! state dir; every daemon is stopped and every loop file of the state dir detached when the
//! value is dropped (also on panic). Declare loop disks *before* the cluster so the cluster
//! (and its OSDs) stop before the disks are detached.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{cephboot_bin, json_of_success, sh};

pub struct TestCluster {
    pub state: tempfile::TempDir,
}

impl TestCluster {
    pub fn new() -> Self {
        let state = tempfile::Builder::new()
            .prefix("cephboot-cluster-")
            .tempdir_in("/var/tmp")
            .expect("state dir");
        let c = TestCluster { state };
        let out = c.cb(&["cluster", "bootstrap", "--single-node", "--format", "json"]);
        assert!(
            out.status.success(),
            "bootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    pub fn dir(&self) -> String {
        self.state.path().display().to_string()
    }

    pub fn conf(&self) -> PathBuf {
        self.state.path().join("ceph.conf")
    }

    /// Runs cephboot against this cluster.
    pub fn cb(&self, args: &[&str]) -> Output {
        self.cb_env(args, &[])
    }

    pub fn cb_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(cephboot_bin());
        cmd.arg("--state-dir")
            .arg(self.state.path())
            .args(args)
            .env("CEPHBOOT_LOG", "cephboot=info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run cephboot")
    }

    /// cephboot with `--format json`, asserting success, parsed.
    pub fn cb_ok(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        json_of_success(&self.cb(&a), &format!("cephboot {a:?}"))
    }

    /// `cb_ok` under a test's own label prefix and this cluster's conf (`--label-prefix
    /// PREFIX --conf CONF ARGS`): other tests' OSDs on this host stay out of its view.
    pub fn cb_in(&self, prefix: &str, args: &[&str]) -> serde_json::Value {
        self.with_prefix(prefix, args, |a| self.cb_ok(a))
    }

    /// The same, expected to fail: (exit code, stderr).
    pub fn cb_in_fails(&self, prefix: &str, args: &[&str]) -> (i32, String) {
        let out = self.with_prefix(prefix, args, |a| self.cb(a));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn with_prefix<R>(&self, prefix: &str, args: &[&str], run: impl FnOnce(&[&str]) -> R) -> R {
        let conf = self.conf();
        let mut a = vec!["--label-prefix", prefix, "--conf", conf.to_str().unwrap()];
        a.extend(args);
        run(&a)
    }

    /// The `ceph` CLI (an independent client) against this cluster.
    pub fn ceph(&self, args: &[&str]) -> String {
        let conf = self.conf();
        let mut a = vec!["-c", conf.to_str().unwrap()];
        a.extend(args);
        sh("ceph", &a)
    }

    pub fn ceph_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        serde_json::from_str(&self.ceph(&a)).expect("ceph json")
    }

    /// (id, up, in) of every OSD, from `ceph osd dump`.
    pub fn osds(&self) -> Vec<(u64, bool, bool)> {
        let v = self.ceph_json(&["osd", "dump"]);
        v["osds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["osd"].as_u64().unwrap(), o["up"] == 1, o["in"] == 1))
            .collect()
    }

    /// Every pool (the manager's own included) on a rule with failure domain osd, size 2,
    /// min_size 1, as the defect report had it; `data` with 16 PGs.
    pub fn pools_of_two_copies_by_osd(&self) {
        self.ceph(&[
            "osd",
            "crush",
            "rule",
            "create-replicated",
            "by-osd",
            "default",
            "osd",
        ]);
        // Pools made later (the manager's own, when OSDs come up) get the same.
        let rule =
            self.ceph_json(&["osd", "crush", "rule", "dump", "by-osd"])["rule_id"].to_string();
        for (name, value) in [
            ("osd_pool_default_crush_rule", rule.as_str()),
            ("osd_pool_default_size", "2"),
            ("osd_pool_default_min_size", "1"),
        ] {
            self.ceph(&["config", "set", "global", name, value]);
        }
        self.ceph(&[
            "osd",
            "pool",
            "create",
            "data",
            "16",
            "16",
            "replicated",
            "by-osd",
        ]);
        for pool in self.ceph(&["osd", "pool", "ls"]).lines() {
            self.ceph(&["osd", "pool", "set", pool, "crush_rule", "by-osd"]);
            self.ceph(&["osd", "pool", "set", pool, "size", "2"]);
            self.ceph(&["osd", "pool", "set", pool, "min_size", "1"]);
        }
    }

    /// `rados -p data ARGS` against `c`.
    pub fn rados_data(&self, args: &[&str]) {
        let conf = self.conf();
        let mut a = vec!["-c", conf.to_str().unwrap(), "-p", "data"];
        a.extend(args);
        sh("rados", &a);
    }

    /// Waits until every OSD in the map is up (or panics after `secs` with each down OSD's log
    /// tail and whether its process still runs). An OSD seen down on the way is reported on
    /// stderr with its log tail, so a flap under load leaves its evidence in the test's output.
    pub fn wait_all_up(&self, secs: u64) -> Vec<(u64, bool, bool)> {
        let start = std::time::Instant::now();
        let mut seen_down = std::collections::BTreeSet::new();
        loop {
            let osds = self.osds();
            let down: Vec<u64> = osds.iter().filter(|o| !o.1).map(|o| o.0).collect();
            if down.is_empty() {
                for id in &seen_down {
                    eprintln!(
                        "osd.{id} was down for a while before it came up again:\n{}",
                        self.osd_evidence(*id)
                    );
                }
                return osds;
            }
            seen_down.extend(down.iter().copied());
            if start.elapsed().as_secs() >= secs {
                let evidence: Vec<String> = down.iter().map(|id| self.osd_evidence(*id)).collect();
                panic!(
                    "OSDs {down:?} not up after {secs}s: {osds:?}\n{}",
                    evidence.join("\n")
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    /// A failed test's cluster goes with its state dir, and a failure that names a daemon's
    /// log there (`see .../log/ceph-osd.1.log`) would name a file that is gone: its daemons'
    /// logs are copied beside the test logs first, and the copy named.
    fn keep_daemon_logs(&self) {
        let from = self.state.path().join("log");
        let name = self
            .state
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let to = test_logs_dir().join(format!("{name}-logs"));
        let Ok(entries) = std::fs::read_dir(&from) else {
            return;
        };
        if std::fs::create_dir_all(&to).is_err() {
            return;
        }
        for e in entries.filter_map(Result::ok) {
            let _ = std::fs::copy(e.path(), to.join(e.file_name()));
        }
        eprintln!(
            "the failed test's cluster logs ({}) are kept in {}",
            from.display(),
            to.display()
        );
    }

    /// Whether osd.`id`'s process runs (by its pidfile) and the last lines of its log.
    pub fn osd_evidence(&self, id: u64) -> String {
        let root = self.state.path();
        let pid = std::fs::read_to_string(root.join(format!("run/ceph-osd.{id}.pid")))
            .ok()
            .map(|p| p.trim().to_string());
        let alive = pid
            .as_ref()
            .is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        let log_path = root.join(format!("log/ceph-osd.{id}.log"));
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        // A crash prints its assert or signal and backtrace, then a dump of recent events
        // (thousands of lines): what matters is right before that dump.
        let crash = lines
            .iter()
            .position(|l| l.contains("--- begin dump of recent events ---"))
            .map(|end| lines[end.saturating_sub(80)..end].join("\n"));
        let marked: Vec<&str> = lines
            .iter()
            .filter(|l| {
                [
                    "ceph_assert",
                    "Caught signal",
                    "suicide",
                    "had timed out",
                    "wrongly marked",
                    "ERROR",
                    "error (",
                    "shutdown",
                ]
                .iter()
                .any(|m| l.contains(m))
            })
            .take(40)
            .copied()
            .collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        // Kept beside the test logs: the state dir goes with the test.
        let keep = test_logs_dir().join(format!(
            "{}-osd.{id}.log",
            root.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::copy(&log_path, &keep);
        format!(
            "osd.{id}: pid {pid:?}, process running: {alive}; its whole log kept as {}\nlines that tell:\n{}\nbefore the crash dump:\n{}\nits log's tail:\n{tail}",
            keep.display(),
            marked.join("\n"),
            crash.unwrap_or_else(|| "(no crash dump)".into())
        )
    }

    /// Waits until `ceph health` says HEALTH_OK (or panics after `secs` with `health detail`,
    /// the OSD tree and the PGs that are not clean). Health lags the PG map by a report or
    /// two, and an OSD wrongly marked down under load degrades PGs for a while: what a user
    /// would notice is health that never comes back.
    pub fn wait_healthy(&self, secs: u64) {
        let start = std::time::Instant::now();
        loop {
            let health = self.ceph_json(&["health"]);
            if health["status"] == "HEALTH_OK" {
                if start.elapsed().as_secs() > 5 {
                    eprintln!("health came back after {}s", start.elapsed().as_secs());
                }
                return;
            }
            if start.elapsed().as_secs() >= secs {
                let down: Vec<String> = self
                    .osds()
                    .iter()
                    .filter(|o| !o.1)
                    .map(|o| self.osd_evidence(o.0))
                    .collect();
                panic!(
                    "not HEALTH_OK after {secs}s:\n{}\n{}\n{}\n{}",
                    self.ceph(&["health", "detail"]),
                    self.ceph(&["osd", "tree"]),
                    self.ceph(&["pg", "dump_stuck"]),
                    down.join("\n")
                );
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    /// Waits until every PG is active+clean (or panics after `secs`).
    pub fn wait_clean(&self, secs: u64) {
        let start = std::time::Instant::now();
        loop {
            let v = self.ceph_json(&["pg", "stat"]);
            let total = v["pg_summary"]["num_pgs"].as_u64().unwrap_or(0);
            let clean: u64 = v["pg_summary"]["num_pg_by_state"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|s| s["name"] == "active+clean")
                        .map(|s| s["num"].as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
            if total > 0 && clean == total {
                return;
            }
            assert!(
                start.elapsed().as_secs() < secs,
                "PGs not active+clean after {secs}s: {v}"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = Command::new(cephboot_bin())
            .arg("--state-dir")
            .arg(self.state.path())
            .args(["cluster", "stop"])
            .output();
        if std::thread::panicking() {
            self.keep_daemon_logs();
        }
        if let Ok(m) = std::fs::read_to_string("/proc/self/mounts") {
            for mp in m
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter(|mp| std::path::Path::new(mp).starts_with(self.state.path()))
            {
                let _ = Command::new("umount").args(["-l", mp]).output();
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.state.path().join("loops")) {
            for img in rd.filter_map(Result::ok) {
                let out = Command::new("losetup")
                    .args(["-j"])
                    .arg(img.path())
                    .args(["-O", "NAME", "-n"])
                    .output();
                for dev in out
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default()
                    .lines()
                {
                    let _ = Command::new("partx").args(["-d", dev.trim()]).output();
                    let _ = Command::new("losetup").args(["-d", dev.trim()]).output();
                }
            }
        }
        if std::env::var_os("NO_TEST_CLEAN_UP").is_some() {
            let keep = std::mem::replace(&mut self.state, tempfile::tempdir().unwrap());
            eprintln!("NO_TEST_CLEAN_UP: keeping {}", keep.keep().display());
        }
    }
}

/// Where scripts/run-tests keeps each binary's log: what a test keeps of a failure goes there
/// too (the state dirs go with their tests).
fn test_logs_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-logs")
}
