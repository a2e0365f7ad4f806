//! The daemon under test: a `cephboot daemon` child with its own socket, and hot-pluggable
//! labelled loop files. Both are stopped or detached on drop (also on panic).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::TestCluster;
use super::{cephboot_bin, sh};

/// A labelled (or blank) sparse file attached as a loop device; detached on drop.
pub struct HotDisk {
    pub file: PathBuf,
    pub dev: Option<String>,
}

impl HotDisk {
    pub fn new(dir: &Path, name: &str, size: u64, label: Option<&str>) -> Self {
        let file = dir.join(name);
        std::fs::File::create(&file).unwrap().set_len(size).unwrap();
        if let Some(l) = label {
            sh(
                "sgdisk",
                &["-n1:1M:0", &format!("-c1:{l}"), file.to_str().unwrap()],
            );
        }
        HotDisk { file, dev: None }
    }
    pub fn attach(&mut self) -> String {
        let d = {
            let _shared = super::loop_numbers(false);
            sh("losetup", &["-f", "--show", self.file.to_str().unwrap()])
                .trim()
                .to_string()
        };
        self.dev = Some(d.clone());
        super::clear_stale_partitions(&d);
        d
    }
    pub fn detach(&mut self) {
        if let Some(d) = self.dev.take() {
            super::detach_if_backed_by(&d, &self.file);
        }
    }
}

impl Drop for HotDisk {
    fn drop(&mut self) {
        self.detach();
    }
}

pub struct Daemon {
    pub child: Option<Child>,
    pub socket: PathBuf,
}

impl Daemon {
    pub fn start(c: &TestCluster, prefix: &str) -> Self {
        Self::start_with(c, prefix, &[])
    }

    pub fn start_with(c: &TestCluster, prefix: &str, env: &[(&str, &str)]) -> Self {
        Self::start_args(c, prefix, env, &[])
    }

    /// Started with `extra` daemon arguments (e.g. `--config FILE`).
    pub fn start_args(c: &TestCluster, prefix: &str, env: &[(&str, &str)], extra: &[&str]) -> Self {
        Self::start_from(c, prefix, env, extra, Path::new(cephboot_bin()))
    }

    /// Started from the binary `bin` (a copy the test may remove while it runs).
    pub fn start_from(
        c: &TestCluster,
        prefix: &str,
        env: &[(&str, &str)],
        extra: &[&str],
        bin: &Path,
    ) -> Self {
        let socket = c.state.path().join("run/cephboot.sock");
        let child = Command::new(bin)
            .envs(env.iter().copied())
            .args([
                "--state-dir",
                &c.dir(),
                "--label-prefix",
                prefix,
                "daemon",
                "--auto-prepare",
                "--debounce-ms",
                "200",
            ])
            .args(extra)
            .arg("--socket")
            .arg(&socket)
            .env("CEPHBOOT_LOG", "cephboot=info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let d = Daemon {
            child: Some(child),
            socket,
        };
        let start = Instant::now();
        while d.get("/v1/health").0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "daemon did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    pub fn curl(&self, args: &[&str]) -> (u16, serde_json::Value) {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (
            code.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.curl(&[&format!("http://localhost{path}")])
    }

    pub fn jobs(&self) -> Vec<serde_json::Value> {
        self.get("/v1/jobs").1["jobs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn wait_jobs_done(&self, n: usize, secs: u64) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            let jobs = self.jobs();
            let done = jobs
                .iter()
                .filter(|j| j["state"] == "succeeded" || j["state"] == "failed")
                .count();
            if jobs.len() >= n && done == jobs.len() {
                return jobs;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "jobs not done after {secs}s: {jobs:#?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        sh("kill", &["-TERM", &child.id().to_string()]);
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "daemon did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
