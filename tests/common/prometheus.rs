//! Debian's real Prometheus server, scraping one target every second, asked through its HTTP
//! query API (an independent reader of what cephboot exposes). Stopped on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released: a small race, good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Prometheus {
    child: Option<Child>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Started scraping `target` (`127.0.0.1:PORT`) as job `cephboot`, or `None` (said loudly;
    /// a failure under CI) when the `prometheus` package is not installed.
    pub fn start(target: &str) -> Option<Self> {
        if !Path::new("/usr/bin/prometheus").exists() {
            super::required_or_skip("prometheus scrape", "Debian's prometheus package");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
                 scrape_configs:\n  - job_name: cephboot\n    static_configs: [{{targets: ['{target}']}}]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        let p = Prometheus {
            child: Some(child),
            port,
            _dir: dir,
        };
        let start = Instant::now();
        while !p.ready() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "prometheus did not become ready on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(p)
    }

    fn ready(&self) -> bool {
        Command::new("curl")
            .args(["-sf", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{}/-/ready", self.port))
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// The value of an instant query that yields one sample, or `None` (no sample yet).
    pub fn value(&self, expr: &str) -> Option<f64> {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "5", "--get", "--data-urlencode"])
            .arg(format!("query={expr}"))
            .arg(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        assert_eq!(v["status"], "success", "query {expr}: {v}");
        let result = v["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "query {expr} has several series: {v}");
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Waits (up to `secs`) until `expr` has a sample for which `ok` holds; returns it.
    pub fn wait_for(&self, expr: &str, secs: u64, ok: impl Fn(f64) -> bool) -> f64 {
        let start = Instant::now();
        loop {
            let v = self.value(expr);
            if let Some(v) = v.filter(|v| ok(*v)) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "prometheus: {expr} is {v:?} after {secs} s"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
