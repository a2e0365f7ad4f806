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
