//! `pools init` on a real one-OSD cluster: sizing, RBD access with the written keyrings,
//! defaults that reach pools made later by others, idempotency, and an unreachable cluster.
//! Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::cluster::TestCluster;
use common::*;

#[test]
fn one_osd_gets_size_one_pools_that_serve_rbd_with_least_privilege_keyrings() {
    if !root_or_skip("pools one osd") {
        return;
    }
    let disk = LoopDisk::new(3 << 30);
    let c = TestCluster::new();
    c.cb_ok(&["osd", "prepare", disk.path()]);
    c.cb_ok(&["osd", "activate", "--all"]);

    let kolla = tempfile::tempdir().unwrap();
    let v = c.cb_ok(&["pools", "init", "--single-node", "--mute-size-warning"]);
    assert_eq!(v["decision"]["size"], 1);
    assert_eq!(v["changed"], true);
    c.wait_clean(300);
    let detail = c.ceph_json(&["osd", "pool", "ls", "detail"]);
    for name in ["images", "volumes", "backups", "vms"] {
        let p = detail
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pool_name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(
            (p["size"].as_u64(), p["min_size"].as_u64()),
            (Some(1), Some(1)),
            "{name}"
        );
        assert!(
            p["application_metadata"]["rbd"].is_object(),
            "{name}: rbd not enabled"
        );
    }
    // The health check for single-copy pools is muted, as asked.
    let health = c.ceph_json(&["health"]);
    assert_eq!(health["status"], "HEALTH_OK", "{health:#}");

    // Keyrings: 0600, and least privilege.
    let conf = c.conf();
    let rbd = |id: &str, args: &[&str]| {
        let keyring = c.state.path().join(format!("ceph.client.{id}.keyring"));
        assert_eq!(
            std::fs::metadata(&keyring).unwrap().permissions().mode() & 0o777,
            0o600
        );
        Command::new("rbd")
            .arg("-c")
            .arg(&conf)
            .args(["--id", id, "--keyring"])
            .arg(&keyring)
            .args(args)
            .output()
            .unwrap()
    };
    let out = rbd("cinder", &["create", "volumes/x", "--size", "64M"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rbd(
        "cinder",
        &[
            "bench",
            "--io-type",
            "write",
            "--io-total",
            "8M",
            "volumes/x",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rbd("glance", &["create", "volumes/y", "--size", "64M"]);
    assert!(
        !out.status.success(),
        "client.glance must not write to volumes"
    );
    let out = rbd("glance", &["create", "images/y", "--size", "64M"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Rerun: all unchanged.
    let again = c.cb_ok(&["pools", "init", "--single-node", "--mute-size-warning"]);
    assert_eq!(again["changed"], false, "{again:#}");
    assert!(
        again["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ch| ch["action"] == "unchanged"),
        "{again:#}"
    );
    // A pool made later by someone else gets the policy's size from the config database.
    c.ceph(&["osd", "pool", "create", "later", "8"]);
    let later = c.ceph_json(&["osd", "pool", "get", "later", "size"]);
    assert_eq!(later["size"], 1);
    // The Kolla layout puts keyrings where kolla-ansible looks.
    let dir = kolla.path().to_str().unwrap();
    c.cb_ok(&[
        "pools",
        "init",
        "--single-node",
        "--layout",
        "kolla",
        "--keyring-dir",
        dir,
    ]);
    for p in [
        "glance/ceph.client.glance.keyring",
        "cinder/cinder-volume/ceph.client.cinder.keyring",
        "cinder/cinder-backup/ceph.client.cinder-backup.keyring",
        "nova/ceph.client.cinder.keyring",
    ] {
        let text =
            std::fs::read_to_string(kolla.path().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(text.contains("key = "), "{p}");
    }

    // Monitors unreachable: a clear error within the timeout, documented exit code.
    let pid = std::fs::read_to_string(c.state.path().join("run/ceph-mon.a.pid")).unwrap();
    sh("kill", &[pid.trim()]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let out = c.cb(&["pools", "init", "--single-node", "--timeout", "5"]);
    assert!(started.elapsed().as_secs() < 30);
    assert!(
        matches!(out.status.code(), Some(7) | Some(5)),
        "{:?}",
        out.status.code()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("monitors"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn replicas_beyond_the_cluster_and_no_osds_are_refused_with_reasons() {
    if !root_or_skip("pools refusals") {
        return;
    }
    let c = TestCluster::new();
    let out = c.cb(&["pools", "init", "--single-node"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no OSD yet"));
    let disk = LoopDisk::new(3 << 30);
    let c2 = TestCluster::new();
    c2.cb_ok(&["osd", "prepare", disk.path()]);
    c2.cb_ok(&["osd", "activate", "--all"]);
    let out = c2.cb(&["pools", "init", "--replicas", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most 1 replica"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = c2.cb_ok(&["pools", "init", "--single-node", "--dry-run"]);
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|ch| ch["action"].as_str().unwrap().starts_with("would_")
            || ch["action"] == "unchanged"));
    assert!(
        c2.ceph_json(&["osd", "pool", "ls"])
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p != "volumes"),
        "a dry run created nothing"
    );
    drop(c2);
    drop(disk);
}
