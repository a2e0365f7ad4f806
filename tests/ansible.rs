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

use std::ffi::OsString;
use std::path::Path;

use common::ansible::Ansible;
use common::cluster::TestCluster;
use common::openstack::OpenStack;
use common::*;

const GIB: u64 = 1 << 30;

/// `ansible-playbook PLAY -e @VARS` on localhost (local connection); returns (exit code, the
/// callback's report).
fn run_play(
    ansible: &Ansible,
    play: &Path,
    vars: &serde_json::Value,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let vars_file = ansible.home.path().join("vars.json");
    std::fs::write(&vars_file, vars.to_string()).unwrap();
    let mut args: Vec<OsString> = vec![
        "-i".into(),
        "localhost,".into(),
        "-c".into(),
        "local".into(),
        "-e".into(),
        format!("@{}", vars_file.display()).into(),
        "-e".into(),
        format!("ansible_python_interpreter={}", ansible.python().display()).into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args.push(play.into());
    let (code, report, _) = ansible.run(&[], &args);
    (code, report)
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
    let Some(ansible) = Ansible::new() else {
        return;
    };
    let first = bootstrap_disk();
    let second = bootstrap_disk();
    let c = TestCluster::new();
    let cinder = OpenStack::noauth();
    let kolla = tempfile::tempdir().unwrap();
    let play = common::ansible::playbook("deploy.yml");
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
    let (code, r) = run_play(&ansible, &play, &vars(&[first.path()]), &[]);
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
    let (code, r) = run_play(&ansible, &play, &vars(&[first.path()]), &[]);
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
    let (code, r) = run_play(
        &ansible,
        &play,
        &vars(&[first.path(), second.path()]),
        &["--check"],
    );
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

    a_refusal_fails_the_task_with_cephboots_words(&ansible, &c, &first, &second);
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
    let (code, r) = run_play(ansible, &play(&both), &serde_json::json!({}), &["--check"]);
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
    let (code, r) = run_play(ansible, &play(&only_first), &serde_json::json!({}), &[]);
    let result = task(&r, "spec");
    assert_eq!(
        (code, result["changed"].as_bool()),
        (0, Some(false)),
        "{r:#}"
    );
    assert_eq!(c.osds().len(), 1);
}

/// A refusal fails the task with cephboot's words and exit code: `disk_zap` of the running
/// OSD's disk; its table and the OSD are unchanged. And `osd` with `encrypt` and `tpm2` on a
/// host without a TPM: `--tpm2` reached cephboot, which refused before writing (the blank
/// second disk unchanged byte for byte).
fn a_refusal_fails_the_task_with_cephboots_words(
    ansible: &Ansible,
    c: &TestCluster,
    first: &LoopDisk,
    second: &LoopDisk,
) {
    if std::path::Path::new("/dev/tpmrm0").exists() {
        eprintln!("NOTE: this host has a TPM: the osd module's tpm2 refusal is not checked here (the system guest enrolls one)");
    } else {
        let tpm = ansible.home.path().join("tpm2.yml");
        std::fs::write(
            &tpm,
            format!(
                "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: tpm2\n      cephboot.ceph.osd:\n        binary: {}\n        state_dir: {}\n        devices: [{}]\n        encrypt: true\n        tpm2: true\n        tpm2_pcrs: '0+7'\n",
                cephboot_bin(),
                c.dir(),
                second.path()
            ),
        )
        .unwrap();
        let before = second.checksum();
        let (code, r) = run_play(ansible, &tpm, &serde_json::json!({}), &[]);
        assert_ne!(code, 0);
        let result = task(&r, "tpm2");
        assert_eq!(result["failed"], true, "{result:#}");
        assert_eq!(result["rc"], 2, "{result:#}");
        let msg = result["msg"].as_str().unwrap_or("");
        assert!(msg.contains("no TPM 2.0"), "{msg}");
        assert_eq!(second.checksum(), before, "the blank disk was written");
    }

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
    let (code, r) = run_play(ansible, &zap, &serde_json::json!({}), &[]);
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

/// The collection as Ansible's own tools see it: `ansible-doc` renders every module (no
/// error, nothing on stderr), `ansible-galaxy collection build` packs it with every module and
/// playbook, and `ansible-test sanity` passes all its tests (their Python requirements come
/// from PyPI; pip for their virtual environments from ensurepip, tests/ansible/get_pip_shim.py).
#[test]
fn every_module_renders_the_collection_builds_and_passes_ansible_test_sanity() {
    let Some(ansible) = Ansible::new() else {
        return;
    };
    let collection = common::ansible::collection_root().join("ansible_collections/cephboot/ceph");
    let mut modules: Vec<String> = std::fs::read_dir(collection.join("plugins/modules"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".py")
                .map(str::to_string)
        })
        .collect();
    modules.sort();
    assert!(modules.contains(&"cluster".to_string()) && modules.len() >= 9);
    let tool = |name: &str| {
        let mut c = std::process::Command::new(ansible.bin.join(name));
        c.env(
            "ANSIBLE_COLLECTIONS_PATH",
            common::ansible::collection_root(),
        )
        .env("ANSIBLE_HOME", ansible.home.path())
        .env("ANSIBLE_NOCOLOR", "1");
        c
    };
    for m in &modules {
        let out = tool("ansible-doc")
            .arg(format!("cephboot.ceph.{m}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "ansible-doc {m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("cephboot.ceph.{m}")) && text.contains("state_dir"),
            "ansible-doc {m} rendered:\n{text}"
        );
    }

    let built = tempfile::tempdir().unwrap();
    let out = tool("ansible-galaxy")
        .args(["collection", "build", "--output-path"])
        .arg(built.path())
        .arg(&collection)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tarball = built.path().join("cephboot-ceph-0.1.0.tar.gz");
    let listing = sh("tar", &["tzf", tarball.to_str().unwrap()]);
    for m in &modules {
        assert!(
            listing.contains(&format!("plugins/modules/{m}.py\n")),
            "{m}: {listing}"
        );
    }
    for p in ["site.yml", "replace.yml", "deploy.yml"] {
        assert!(
            listing.contains(&format!("playbooks/{p}\n")),
            "{p}: {listing}"
        );
    }
    assert!(!listing.contains("tests/output"), "{listing}");

    // ansible-test keeps its cache and per-test virtual environments under $HOME/.ansible:
    // kept between runs under state/ like the venv itself.
    let home = Path::new(env!("CARGO_MANIFEST_DIR")).join("state/ansible/sanity-home");
    let cache = home.join(".ansible/test/cache");
    std::fs::create_dir_all(&cache).unwrap();
    for version in ["23_1_2", "24_0"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/get_pip_shim.py"),
            cache.join(format!("get_pip_{version}.py")),
        )
        .unwrap();
    }
    let path = format!(
        "{}:{}",
        ansible.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tool("ansible-test")
        .args(["sanity", "--python", "3.11", "--local", "--color", "no"])
        .current_dir(&collection)
        .env("HOME", &home)
        .env("PATH", path)
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "ansible-test sanity failed:\n{log}");
    let ran = log.matches("Running sanity test").count();
    eprintln!("ansible-test sanity: {ran} tests ran and passed");
    assert!(ran >= 20, "only {ran} sanity tests ran:\n{log}");
}
