//! Simulated hosts on one machine: each a network namespace with its own address (a veth
//! into a bridge that lives in a namespace of its own, so no address exists outside the
//! namespaces this test made) and its own hostname (a UTS namespace per command). Block
//! devices are shared by all of them (../shared/TESTING.md). Every daemon of every host is
//! stopped and every namespace removed when the value is dropped, also on panic.

use std::process::{Command, Output};

use super::{cephboot_bin, sh};

pub struct SimHost {
    /// Its hostname (and CRUSH host bucket).
    pub name: String,
    /// Its network namespace.
    pub ns: String,
    /// Its address.
    pub ip: String,
    /// Its cephboot state dir.
    pub state: tempfile::TempDir,
}

impl SimHost {
    /// `cmd args...` inside this host: its network namespace, its hostname.
    pub fn run(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, "unshare", "--uts", "sh", "-c"])
            .arg("hostname \"$0\" && exec \"$@\"")
            .arg(&self.name)
            .arg(cmd)
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// cephboot inside this host, against its state dir.
    pub fn cb(&self, args: &[&str]) -> Output {
        let dir = self.state.path().to_str().unwrap().to_string();
        let mut a = vec!["--state-dir", dir.as_str()];
        a.extend(args);
        self.run(cephboot_bin(), &a)
    }

    /// cephboot with `--format json`, which must succeed.
    pub fn cb_ok(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let out = self.cb(&a);
        assert!(
            out.status.success(),
            "{}: cephboot {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.name,
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn conf(&self) -> String {
        self.state
            .path()
            .join("ceph.conf")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// The `ceph` CLI from this host, JSON.
    pub fn ceph_json(&self, args: &[&str]) -> serde_json::Value {
        self.try_ceph_json(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `ceph` CLI from this host; its stdout.
    pub fn ceph(&self, args: &[&str]) -> String {
        self.try_ceph(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `ceph` CLI from this host, JSON, or why it failed (for polling while the monitors
    /// may be electing, as after a host's link comes back).
    pub fn try_ceph_json(&self, args: &[&str]) -> Result<serde_json::Value, String> {
        let mut a = vec!["--format", "json"];
        a.extend(args);
        let out = self.try_ceph(&a)?;
        serde_json::from_str(&out).map_err(|e| format!("{}: ceph {args:?}: {e}: {out}", self.name))
    }

    fn try_ceph(&self, args: &[&str]) -> Result<String, String> {
        let conf = self.conf();
        let mut a = vec!["-c", conf.as_str(), "--connect-timeout", "20"];
        a.extend(args);
        let out = self.run("ceph", &a);
        if !out.status.success() {
            return Err(format!(
                "{}: ceph {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

pub struct SimHosts {
    hub: String,
    pub hosts: Vec<SimHost>,
}

impl SimHosts {
    /// `n` hosts named `<prefix>1..n` on a private /24.
    pub fn new(prefix: &str, n: usize) -> Self {
        let pid = std::process::id();
        let tag = format!("cb{}", pid % 100_000);
        let hub = format!("{tag}hub");
        let net = format!("10.{}.{}", 200 + (pid % 50), (pid / 50) % 250);
        sh("ip", &["netns", "add", &hub]);
        let mut me = SimHosts {
            hub: hub.clone(),
            hosts: Vec::new(),
        };
        sh("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        sh("ip", &["-n", &hub, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = format!("{tag}h{i}");
            sh("ip", &["netns", "add", &ns]);
            let state = tempfile::Builder::new()
                .prefix("cephboot-host-")
                .tempdir_in("/var/tmp")
                .expect("state dir");
            let ip = format!("{net}.{i}");
            me.hosts.push(SimHost {
                name: format!("{prefix}{i}"),
                ns: ns.clone(),
                ip: ip.clone(),
                state,
            });
            let port = format!("p{i}");
            sh(
                "ip",
                &[
                    "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                    "netns", &hub,
                ],
            );
            sh(
                "ip",
                &["-n", &hub, "link", "set", &port, "master", "br0", "up"],
            );
            sh(
                "ip",
                &["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"],
            );
            sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
            sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        }
        me
    }

    /// Cuts host `i` off the network (its link into the bridge down), or back on.
    pub fn set_link(&self, i: usize, up: bool) {
        let port = format!("p{}", i + 1);
        sh(
            "ip",
            &[
                "-n",
                &self.hub,
                "link",
                "set",
                &port,
                if up { "up" } else { "down" },
            ],
        );
    }
}

impl Drop for SimHosts {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = h.cb(&["cluster", "stop"]);
        }
        for h in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &h.ns]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.hub])
            .output();
    }
}
