//! The Ansible collection (contrib/ansible/ansible_collections/cephboot/ceph) run by real
//! ansible-core from PyPI (tests/ansible/venv) against this host: its example play
//! (playbooks/deploy.yml, the one docs/deployer.md shows) on loop disks, a real cluster and a
//! real Cinder. First run changed, second run all `ok`, check mode writes nothing, a refusal
//! fails the task with cephboot's words and exit code. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cluster::TestCluster;
use common::openstack::OpenStack;
use common::*;

const GIB: u64 = 1 << 30;

fn collection_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ansible")
}

/// The venv's bin directory, or `None` (said loudly; a failure under CI) when PyPI cannot be
/// reached.
fn ansible_bin() -> Option<PathBuf> {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/venv"))
        .output()
        .unwrap();
    if !out.status.success() {
        required_or_skip(
            "ansible collection",
            &format!(
                "ansible-core from PyPI ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

struct Ansible {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Ansible {
    /// `ansible-playbook PLAY -e @VARS` on localhost (local connection) with the JSON
    /// callback of tests/ansible/callback; returns (exit code, the callback's report).
    fn play(
        &self,
        play: &Path,
        vars: &serde_json::Value,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        let vars_file = self.home.path().join("vars.json");
        std::fs::write(&vars_file, vars.to_string()).unwrap();
        let mut cmd = Command::new(self.bin.join("ansible-playbook"));
        cmd.arg("-i")
            .arg("localhost,")
            .args(["-c", "local"])
            .arg("-e")
            .arg(format!("@{}", vars_file.display()))
            .arg("-e")
            .arg(format!(
                "ansible_python_interpreter={}",
                self.bin.join("python3").display()
            ))
            .args(extra)
            .arg(play);
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") || k.starts_with("ANSIBLE_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("ANSIBLE_COLLECTIONS_PATH", collection_root())
            .env("ANSIBLE_HOME", self.home.path())
            .env("ANSIBLE_LOCAL_TEMP", self.home.path().join("tmp"))
            .env(
                "ANSIBLE_CALLBACK_PLUGINS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/callback"),
            )
            .env("ANSIBLE_STDOUT_CALLBACK", "results_json")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "ansible-playbook printed no JSON ({e}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }
}

/// `stats.localhost` of a report.
fn stats(r: &serde_json::Value) -> (u64, u64) {
    let s = &r["stats"]["localhost"];
    (
        s["changed"].as_u64().unwrap_or(0),
        s["failures"].as_u64().unwrap_or(0) + s["unreachable"].as_u64().unwrap_or(0),
    )
}

/// The result of the task named `name` on localhost.
fn task<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"]["name"] == name)
        .map(|t| &t["hosts"]["localhost"])
        .unwrap_or_else(|| panic!("no task {name:?} in {r:#}"))
}

fn bootstrap_disk() -> LoopDisk {
    LoopDisk::labelled(3 * GIB, "KOLLA_CEPH_OSD_BOOTSTRAP_BS")
}

#[test]
fn the_example_play_deploys_then_changes_nothing_and_check_mode_writes_nothing() {
    if !root_or_skip("ansible collection") {
        return;
    }
    let Some(bin) = ansible_bin() else { return };
    let ansible = Ansible {
        bin,
        home: tempfile::tempdir().unwrap(),
    };
    let first = bootstrap_disk();
    let second = bootstrap_disk();
    let c = TestCluster::new();
    let cinder = OpenStack::noauth();
    let kolla = tempfile::tempdir().unwrap();
    let play = collection_root().join("ansible_collections/cephboot/ceph/playbooks/deploy.yml");
    let vars = |devices: &[&str]| {
        serde_json::json!({
            "cephboot_hosts": "localhost",
            "cephboot_binary": cephboot_bin(),
            "cephboot_state_dir": c.dir(),
            "cephboot_devices": devices,
            "cephboot_os": {"os_auth_type": "none", "os_endpoint": cinder.endpoint()},
            "cephboot_kolla_config": kolla.path().join("config"),
        })
    };

    // First run: the OSD, the pools, the type, the files.
    let (code, r) = ansible.play(&play, &vars(&[first.path()]), &[]);
    let (changed, failed) = stats(&r);
    assert!(code == 0 && failed == 0, "first run failed: {r:#}");
    assert!(
        changed >= 4,
        "first run changed only {changed} tasks: {r:#}"
    );
    assert_eq!(
        task(&r, "OSDs on the disks")["osds"][0]["action"],
        "created"
    );
    assert_eq!(c.osds().len(), 1);
    assert!(c.osds()[0].1, "osd not up: {:?}", c.osds());
    assert!(kolla.path().join("config/cinder/ceph.conf").exists());
    let types = sh(
        "curl",
        &[
            "-sf",
            "-H",
            "X-Auth-Token: admin:admin",
            &format!("{}/admin/types", cinder.endpoint()),
        ],
    );
    assert!(types.contains("\"ceph\""), "{types}");
    assert_eq!(
        task(&r, "What cephboot sees on the disks")["ansible_facts"]["cephboot_disks"][0]["state"],
        "bootstrap"
    );

    // Second run: every task ok.
    let (code, r) = ansible.play(&play, &vars(&[first.path()]), &[]);
    assert_eq!((code, stats(&r)), (0, (0, 0)), "second run: {r:#}");

    // Check mode with a second disk: reported as a change, nothing written.
    let before = second.sparse_checksum();
    let kolla_before = sh(
        "sh",
        &[
            "-c",
            &format!(
                "cd {} && find . -type f | sort | xargs sha256sum",
                kolla.path().display()
            ),
        ],
    );
    let (code, r) = ansible.play(&play, &vars(&[first.path(), second.path()]), &["--check"]);
    let (changed, failed) = stats(&r);
    assert!(code == 0 && failed == 0, "check run failed: {r:#}");
    assert_eq!(changed, 1, "{r:#}");
    let osds = &task(&r, "OSDs on the disks")["osds"];
    assert_eq!(osds[0]["action"], "unchanged", "{osds:#}");
    assert_eq!(osds[1]["action"], "would_create", "{osds:#}");
    assert_eq!(second.sparse_checksum(), before);
    assert_eq!(c.osds().len(), 1);
    let kolla_after = sh(
        "sh",
        &[
            "-c",
            &format!(
                "cd {} && find . -type f | sort | xargs sha256sum",
                kolla.path().display()
            ),
        ],
    );
    assert_eq!(kolla_after, kolla_before);

    a_refusal_fails_the_task_with_cephboots_words(&ansible, &c, &first);
    a_spec_is_planned_in_check_mode_and_ok_when_applied(&ansible, &c, &first, &second);
}

/// `osd_spec` (cephboot osd apply): in check mode the second disk is reported as a change
/// (`would_create`) with nothing written; the first, already an OSD, counts as the spec's; a
/// spec selecting only the first is `ok` when applied.
fn a_spec_is_planned_in_check_mode_and_ok_when_applied(
    ansible: &Ansible,
    c: &TestCluster,
    first: &LoopDisk,
    second: &LoopDisk,
) {
    let spec_of = |name: &str, paths: &[&str]| {
        let p = ansible.home.path().join(name);
        let list: Vec<String> = paths.iter().map(|d| format!("      - {d}\n")).collect();
        std::fs::write(
            &p,
            format!(
                "service_type: osd\nservice_id: ansible\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    paths:\n{}",
                list.concat()
            ),
        )
        .unwrap();
        p
    };
    let play = |spec: &std::path::Path| {
        let p = ansible.home.path().join("spec-play.yml");
        std::fs::write(
            &p,
            format!(
                "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: spec\n      cephboot.ceph.osd_spec:\n        binary: {}\n        state_dir: {}\n        conf: {}\n        spec: {}\n        allow_devices: [{}, {}]\n",
                cephboot_bin(),
                c.dir(),
                c.conf().display(),
                spec.display(),
                first.name(),
                second.name()
            ),
        )
        .unwrap();
        p
    };
    let before = second.sparse_checksum();
    let both = spec_of("both.yml", &[first.path(), second.path()]);
    let (code, r) = ansible.play(&play(&both), &serde_json::json!({}), &["--check"]);
    let result = task(&r, "spec");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(result["changed"], true, "{result:#}");
    assert_eq!(result["osds"].as_array().unwrap().len(), 1, "{result:#}");
    assert_eq!(result["osds"][0]["data"], second.path(), "{result:#}");
    assert_eq!(result["osds"][0]["action"], "would_create", "{result:#}");
    assert_eq!(
        result["specs"][0]["existing_osds"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{result:#}"
    );
    assert_eq!(
        second.sparse_checksum(),
        before,
        "check mode wrote to the disk"
    );
    let only_first = spec_of("first.yml", &[first.path()]);
    let (code, r) = ansible.play(&play(&only_first), &serde_json::json!({}), &[]);
    let result = task(&r, "spec");
    assert_eq!(
        (code, result["changed"].as_bool()),
        (0, Some(false)),
        "{r:#}"
    );
    assert_eq!(c.osds().len(), 1);
}

/// A refusal fails the task with cephboot's words and exit code: `disk_zap` of the running
/// OSD's disk; its table and the OSD are unchanged.
fn a_refusal_fails_the_task_with_cephboots_words(
    ansible: &Ansible,
    c: &TestCluster,
    first: &LoopDisk,
) {
    let zap = ansible.home.path().join("zap.yml");
    std::fs::write(
        &zap,
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: zap\n      cephboot.ceph.disk_zap:\n        binary: {}\n        state_dir: {}\n        devices: [{}]\n",
            cephboot_bin(),
            c.dir(),
            first.path()
        ),
    )
    .unwrap();
    // The running OSD writes its own partition; the table before it must not change.
    let table = read_at(&first.dev, 0, 1 << 20);
    let (code, r) = ansible.play(&zap, &serde_json::json!({}), &[]);
    assert_ne!(code, 0);
    let result = task(&r, "zap");
    assert_eq!(result["failed"], true, "{result:#}");
    assert_eq!(result["rc"], 3, "{result:#}");
    let msg = result["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("cephboot: ") && msg.contains(first.path()),
        "{msg}"
    );
    assert!(
        read_at(&first.dev, 0, 1 << 20) == table,
        "the table changed"
    );
    assert!(c.osds()[0].1, "the OSD went down");
}
