//! A real single-node cluster of another Ceph release: a Debian root with that release's
//! packages (tests/releases/root builds and caches it under state/releases), the cephboot
//! binary of this build copied in, and every command — cephboot and the `ceph` CLI — run
//! inside it with the release's own daemons and tools. Loop devices are the host's (the root
//! bind-mounts /dev). Everything started is stopped, and the root unmounted, on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{cephboot_bin, json_of_success, required_or_skip};

/// A Debian suite and the Ceph release it ships.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// `trixie`, `sid`.
    pub name: &'static str,
    /// Ceph major version it ships.
    pub ceph_major: u32,
}

pub const REEF: Suite = Suite {
    name: "trixie",
    ceph_major: 18,
};
pub const TENTACLE: Suite = Suite {
    name: "sid",
    ceph_major: 20,
};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/releases/root")
}

pub struct ReleaseCluster {
    pub suite: Suite,
    /// The root on the host.
    pub root: PathBuf,
    /// The state dir as the root sees it (`/var/tmp/cephboot-release-...`).
    pub state: String,
    _state_dir: tempfile::TempDir,
}

/// Builds (or reuses) the suite's root, mounted (its /dev, /proc, /sys the host's); `None`
/// (after one loud line; a failure under CI=true) when it cannot be built here.
pub fn root_of(suite: Suite) -> Option<PathBuf> {
    let out = Command::new(script())
        .args(["build", suite.name])
        .output()
        .expect("run tests/releases/root");
    if !out.status.success() {
        required_or_skip(
            &format!("Ceph {} ({})", suite.ceph_major, suite.name),
            &format!(
                "a {} root with its Ceph packages (tests/releases/root build {} failed: {})",
                suite.name,
                suite.name,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ),
        );
        return None;
    }
    Some(PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim(),
    ))
}

/// Runs `program` of the release inside `root` (a clean environment).
pub fn run_in(root: &Path, program: &str, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(root)
        .args([
            "/usr/bin/env",
            "-i",
            "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "LC_ALL=C.UTF-8",
        ])
        .arg(program)
        .args(args)
        .output()
        .expect("chroot")
}

/// A host directory seen at the same path inside a release's root (a recursive bind mount,
/// with the mounts under it at the time), unmounted on drop: the release's daemons then read
/// and write a cluster the host's release made, at the paths its config names.
pub struct BoundDir {
    at: PathBuf,
}

impl BoundDir {
    pub fn new(root: &Path, dir: &Path) -> Self {
        let at = root.join(dir.strip_prefix("/").unwrap_or(dir));
        std::fs::create_dir_all(&at).expect("mount point in the root");
        super::sh(
            "mount",
            &["--rbind", dir.to_str().unwrap(), at.to_str().unwrap()],
        );
        // A slave: the host's mounts and unmounts under `dir` reach the copy, and unmounting
        // the copy never reaches back to the host's.
        super::sh("mount", &["--make-rslave", at.to_str().unwrap()]);
        BoundDir { at }
    }
}

impl Drop for BoundDir {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .args(["-R", self.at.to_str().unwrap()])
            .output();
        let _ = std::fs::remove_dir(&self.at);
    }
}

impl ReleaseCluster {
    /// Builds (or reuses) the suite's root and bootstraps a cluster in it; `None` (after one
    /// loud line; a failure under CI=true) when the root cannot be built here.
    pub fn new(suite: Suite) -> Option<Self> {
        let root = root_of(suite)?;
        let bin = root.join("usr/local/bin/cephboot");
        // Copy to a new name and rename: another test of this suite may be running it.
        let tmp = root.join(format!("usr/local/bin/.cephboot-{}", std::process::id()));
        std::fs::copy(cephboot_bin(), &tmp).expect("copy cephboot into the root");
        std::fs::rename(&tmp, &bin).expect("install cephboot in the root");
        let state_dir = tempfile::Builder::new()
            .prefix("cephboot-release-")
            .tempdir_in(root.join("var/tmp"))
            .expect("state dir in the root");
        let state = format!(
            "/{}",
            state_dir.path().strip_prefix(&root).unwrap().display()
        );
        let c = ReleaseCluster {
            suite,
            root,
            state,
            _state_dir: state_dir,
        };
        let out = c.cb(&["cluster", "bootstrap", "--single-node", "--format", "json"]);
        assert!(
            out.status.success(),
            "{}: bootstrap failed: {}",
            c.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(c)
    }

    /// `Ceph 18 (trixie)`: how failures name the release.
    pub fn name(&self) -> String {
        format!("Ceph {} ({})", self.suite.ceph_major, self.suite.name)
    }

    fn in_root(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.root).args([
            "/usr/bin/env",
            "-i",
            "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "LC_ALL=C.UTF-8",
            "CEPHBOOT_LOG=cephboot=info",
        ]);
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg(program).args(args);
        cmd.output().expect("chroot")
    }

    /// cephboot (this build) inside the root, against this cluster.
    pub fn cb(&self, args: &[&str]) -> Output {
        self.cb_env(args, &[])
    }

    pub fn cb_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut a = vec!["--state-dir", self.state.as_str()];
        a.extend(args);
        // ETXTBSY: while the other test of the suite copied its cephboot into the root, a
        // process forked by this one (a child inherits every descriptor until its exec) can
        // hold that copy open for writing for a moment, and exec'ing it then fails with "Text
        // file busy" (seen once in a clean-clone CI run under load). Nothing ran: try again.
        let mut out = self.in_root("cephboot", &a, env);
        for _ in 0..20 {
            if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
            out = self.in_root("cephboot", &a, env);
        }
        out
    }

    /// cephboot with `--format json`, asserting success.
    pub fn cb_ok(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        json_of_success(&self.cb(&a), &format!("{}: cephboot {a:?}", self.name()))
    }

    /// A program of the release (`ceph`, `rbd`, `ceph-bluestore-tool`), asserting success.
    pub fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = self.in_root(program, args, &[]);
        assert!(
            out.status.success(),
            "{}: {program} {args:?} failed: {}{}",
            self.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A program of the release, whatever its exit status.
    pub fn tool_output(&self, program: &str, args: &[&str]) -> Output {
        self.in_root(program, args, &[])
    }

    /// The `ceph` CLI of the release, JSON.
    pub fn ceph_json(&self, args: &[&str]) -> serde_json::Value {
        let conf = format!("{}/ceph.conf", self.state);
        let mut a = vec!["-c", conf.as_str()];
        a.extend(args);
        a.extend(["-f", "json"]);
        serde_json::from_str(&self.tool("ceph", &a)).expect("ceph json")
    }

    /// (id, up) of every OSD.
    pub fn osds(&self) -> Vec<(u64, bool)> {
        self.ceph_json(&["osd", "dump"])["osds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["osd"].as_u64().unwrap(), o["up"] == 1))
            .collect()
    }

    /// The conf path as the root sees it.
    pub fn conf(&self) -> String {
        format!("{}/ceph.conf", self.state)
    }
}

impl Drop for ReleaseCluster {
    fn drop(&mut self) {
        let _ = self.cb(&["cluster", "stop"]);
        let _ = Command::new(script())
            .args(["umount", self.suite.name])
            .output();
    }
}
