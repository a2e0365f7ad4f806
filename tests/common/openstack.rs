//! Real Keystone and Cinder API processes on 127.0.0.1 for a test, started with the scripts
//! in tests/openstack/ and stopped (by the PIDs they recorded) when dropped.

use std::path::PathBuf;
use std::process::Command;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/openstack")
        .join(name)
}

pub struct OpenStack {
    pub state: tempfile::TempDir,
    pub cinder_port: u16,
    pub keystone_port: Option<u16>,
}

impl OpenStack {
    fn run(name: &str, args: &[String], env: &[(&str, &str)]) {
        let mut cmd = Command::new(script(name));
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{name} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A standalone Cinder API in noauth mode.
    pub fn noauth() -> Self {
        let state = tempfile::Builder::new()
            .prefix("cephboot-cinder-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let port = free_port();
        Self::run(
            "start-cinder-noauth",
            &[state.path().display().to_string(), port.to_string()],
            &[],
        );
        OpenStack {
            state,
            cinder_port: port,
            keystone_port: None,
        }
    }

    /// Keystone + Cinder with real auth; `two_regions` adds RegionTwo volumev3 endpoints.
    pub fn keystone(two_regions: bool) -> Self {
        let state = tempfile::Builder::new()
            .prefix("cephboot-keystone-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let (ks, cinder) = (free_port(), free_port());
        let env: &[(&str, &str)] = if two_regions {
            &[("TWO_REGIONS", "1")]
        } else {
            &[]
        };
        Self::run(
            "start-keystone-cinder",
            &[
                state.path().display().to_string(),
                ks.to_string(),
                cinder.to_string(),
            ],
            env,
        );
        OpenStack {
            state,
            cinder_port: cinder,
            keystone_port: Some(ks),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.cinder_port)
    }

    pub fn auth_url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.keystone_port.unwrap())
    }

    pub fn clouds_yaml(&self) -> PathBuf {
        self.state.path().join("clouds.yaml")
    }

    /// Stops Cinder only (Keystone keeps running).
    pub fn stop_cinder(&self) {
        let pid = std::fs::read_to_string(self.state.path().join("cinder.pid")).unwrap();
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", pid.trim()))
            .output();
        let _ = Command::new("kill").arg(pid.trim()).output();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.cinder_port)).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for OpenStack {
    fn drop(&mut self) {
        let _ = Command::new(script("stop")).arg(self.state.path()).output();
    }
}

/// The services that consume the pools (tests/openstack/start-services): RabbitMQ, Keystone,
/// Cinder API, scheduler, volume (RBD) and backup (Ceph), Glance (rbd store), each Ceph
/// client with the ceph.conf and keyrings `cephboot openstack export` wrote under `kolla`
/// mounted as its /etc/ceph. Stopped when dropped.
pub struct Services {
    pub state: tempfile::TempDir,
    pub keystone_port: u16,
    pub cinder_port: u16,
    pub glance_port: u16,
}

impl Services {
    pub fn start(kolla: &std::path::Path) -> Self {
        let state = tempfile::Builder::new()
            .prefix("cephboot-services-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let out = Command::new(script("start-services"))
            .arg(state.path())
            .arg(kolla)
            .arg("keystone")
            .output()
            .unwrap();
        if !out.status.success() {
            // The script stops what it started; make sure, then fail.
            let _ = Command::new(script("stop")).arg(state.path()).output();
            panic!(
                "start-services failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = std::fs::read_to_string(state.path().join("endpoints.env")).unwrap();
        let port = |key: &str| -> u16 {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .and_then(|v| v.parse().ok())
                .unwrap()
        };
        Services {
            keystone_port: port("KEYSTONE_PORT"),
            cinder_port: port("CINDER_PORT"),
            glance_port: port("GLANCE_PORT"),
            state,
        }
    }

    pub fn clouds_yaml(&self) -> PathBuf {
        self.state.path().join("clouds.yaml")
    }

    pub fn auth_url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.keystone_port)
    }

    /// The `openstack` CLI (an independent client) as the admin, `-f json`, parsed.
    pub fn openstack(&self, args: &[&str]) -> serde_json::Value {
        let out = self.openstack_raw(args, true);
        assert!(
            out.status.success(),
            "openstack {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The `openstack` CLI for a command without output (`delete`), asserting success.
    pub fn openstack_do(&self, args: &[&str]) {
        let out = self.openstack_raw(args, false);
        assert!(
            out.status.success(),
            "openstack {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn openstack_raw(&self, args: &[&str], json: bool) -> std::process::Output {
        let mut cmd = Command::new("/usr/bin/openstack");
        cmd.args(args);
        if json {
            cmd.args(["-f", "json"]);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("OS_CLIENT_CONFIG_FILE", self.clouds_yaml())
            .env("OS_CLOUD", "admin")
            .output()
            .unwrap()
    }

    /// Polls `openstack <kind> show ID` until its status is `want` (panics on `error` or after
    /// `secs`, with the service's log tail).
    pub fn wait_status(&self, kind: &str, id: &str, want: &str, secs: u64) {
        let start = std::time::Instant::now();
        loop {
            let mut args: Vec<&str> = kind.split_whitespace().collect();
            args.extend(["show", id]);
            let v = self.openstack(&args);
            let status = v["status"].as_str().unwrap_or("").to_string();
            if status == want {
                return;
            }
            let log = |name: &str| {
                std::fs::read_to_string(self.state.path().join(name))
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert!(
                !status.contains("error") && start.elapsed().as_secs() < secs,
                "{kind} {id} is {status:?}, not {want:?} (after {:?}): {v}\ncinder-volume.log (last lines, newest first):\n{}\ncinder-backup.log:\n{}\ncinder-scheduler.log:\n{}\ncinder-api.log:\n{}",
                start.elapsed(),
                log("cinder-volume.log"),
                log("cinder-backup.log"),
                log("cinder-scheduler.log"),
                log("cinder-api.log")
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new(script("stop")).arg(self.state.path()).output();
    }
}
