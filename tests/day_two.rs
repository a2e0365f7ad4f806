//! Day two on a real cluster: `osd remove` refuses while Ceph says PGs would become
//! unavailable and succeeds once its data has moved, `--keep-id` keeps the id and CRUSH
//! position for `osd prepare DEV --osd-id ID`, and data written before the replacement reads
//! back the same after it; device classes from sysfs or `--device-class`, and pools kept on
//! one class. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::cluster::TestCluster;
use common::*;

const GIB: u64 = 1 << 30;
/// This test's own label prefix: other tests' OSDs on this host stay out of its view.
const PREFIX: &str = "DT";

fn cb(c: &TestCluster, args: &[&str]) -> serde_json::Value {
    let conf = c.conf();
    let mut a = vec!["--label-prefix", PREFIX, "--conf", conf.to_str().unwrap()];
    a.extend(args);
    c.cb_ok(&a)
}

fn cb_fails(c: &TestCluster, args: &[&str]) -> (i32, String) {
    let conf = c.conf();
    let mut a = vec!["--label-prefix", PREFIX, "--conf", conf.to_str().unwrap()];
    a.extend(args);
    let out = c.cb(&a);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn osd_state(c: &TestCluster, id: u64) -> Option<serde_json::Value> {
    c.ceph_json(&["osd", "dump"])["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["osd"] == id)
        .cloned()
}

/// The CRUSH host bucket that holds `osd.<id>`, from `ceph osd tree`.
fn crush_host_of(c: &TestCluster, id: u64) -> Option<String> {
    let tree = c.ceph_json(&["osd", "tree"]);
    tree["nodes"].as_array().unwrap().iter().find_map(|n| {
        (n["type"] == "host"
            && n["children"]
                .as_array()
                .is_some_and(|ch| ch.iter().any(|x| x.as_i64() == Some(id as i64))))
        .then(|| n["name"].as_str().unwrap().to_string())
    })
}

fn sha256_of(path: &std::path::Path) -> String {
    sh("sha256sum", &[path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn remove_refuses_unsafe_then_replace_keeps_id_position_and_data() {
    if !root_or_skip("osd remove and replace") {
        return;
    }
    let disks: Vec<LoopDisk> = (0..3).map(|_| LoopDisk::new(4 * GIB)).collect();
    let spare = LoopDisk::new(4 * GIB); // the replacement disk
    let bystander = LoopDisk::new(GIB); // never named: must stay byte for byte the same
    let c = TestCluster::new();
    let mut ids = Vec::new();
    for d in &disks {
        let r = cb(&c, &["osd", "prepare", d.path()]);
        ids.push(r["osds"][0]["osd_id"].as_u64().unwrap());
    }
    cb(&c, &["osd", "activate", "--all"]);
    // Placement across OSDs (one host): every pool, the manager's own included, on a rule
    // with failure domain osd; `data` holds one copy first.
    c.ceph(&[
        "osd",
        "crush",
        "rule",
        "create-replicated",
        "by-osd",
        "default",
        "osd",
    ]);
    let rule = c.ceph_json(&["osd", "crush", "rule", "dump", "by-osd"])["rule_id"].to_string();
    c.ceph(&["config", "set", "mon", "mon_allow_pool_size_one", "true"]);
    c.ceph(&[
        "config",
        "set",
        "global",
        "osd_pool_default_crush_rule",
        &rule,
    ]);
    c.ceph(&["config", "set", "global", "osd_pool_default_size", "2"]);
    c.ceph(&["config", "set", "global", "osd_pool_default_min_size", "1"]);
    c.ceph(&[
        "osd",
        "pool",
        "create",
        "data",
        "16",
        "16",
        "replicated",
        "by-osd",
    ]);
    c.ceph(&[
        "osd",
        "pool",
        "set",
        "data",
        "size",
        "1",
        "--yes-i-really-mean-it",
    ]);
    for pool in c
        .ceph(&["osd", "pool", "ls"])
        .lines()
        .filter(|p| *p != "data")
    {
        c.ceph(&["osd", "pool", "set", pool, "crush_rule", "by-osd"]);
        c.ceph(&["osd", "pool", "set", pool, "size", "2"]);
    }
    c.wait_clean(120);
    let payload = c.state.path().join("payload");
    let bytes: Vec<u8> = (0..(8u32 << 20))
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect();
    std::fs::write(&payload, &bytes).unwrap();
    let conf = c.conf();
    let conf = conf.to_str().unwrap();
    for o in ["obj-a", "obj-b", "obj-c", "obj-d"] {
        sh(
            "rados",
            &[
                "-c",
                conf,
                "-p",
                "data",
                "put",
                o,
                payload.to_str().unwrap(),
            ],
        );
    }
    let victim = ids[1];
    let victim_disk = &disks[1];
    let bystander_sum = bystander.checksum();

    // 1. One copy: stopping the OSD makes PGs unavailable. Refused, nothing changed.
    let before = victim_disk.sparse_checksum();
    let (code, err) = cb_fails(
        &c,
        &[
            "osd",
            "remove",
            &victim.to_string(),
            "--keep-id",
            "--wait",
            "3",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("unavailable") && err.contains("--force"),
        "{err}"
    );
    let s = osd_state(&c, victim).unwrap();
    assert_eq!(
        (s["up"].as_u64(), s["in"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(
        victim_disk.sparse_checksum(),
        before,
        "the refused OSD's disk is untouched"
    );

    // 2. Two copies on three OSDs: once out, its PGs move to the others: safe, removed.
    c.ceph(&["osd", "pool", "set", "data", "size", "2"]);
    c.wait_clean(180);
    let host = crush_host_of(&c, victim).expect("in CRUSH");
    let r = cb(
        &c,
        &[
            "osd",
            "remove",
            &victim.to_string(),
            "--keep-id",
            "--wait",
            "180",
        ],
    );
    assert_eq!(r["action"], "removed", "{r:#}");
    assert_eq!(r["zapped"][0], victim_disk.path(), "{r:#}");
    let s = osd_state(&c, victim).expect("the id is kept");
    assert!(
        s["state"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "destroyed"),
        "{s}"
    );
    assert_eq!(
        crush_host_of(&c, victim).as_deref(),
        Some(host.as_str()),
        "CRUSH position kept"
    );
    let listed = cephboot_json(&["disks", "list", victim_disk.path()]).1;
    assert_eq!(
        device(&listed, victim_disk.path())["state"],
        "free",
        "{listed:#}"
    );
    // A rerun has nothing left to do.
    let again = cb(&c, &["osd", "remove", &victim.to_string(), "--keep-id"]);
    assert_eq!(again["action"], "unchanged", "{again:#}");

    // 3. The replacement takes the id and the position; the data reads back the same.
    let spare_sum = spare.sparse_checksum();
    let (code, err) = cb_fails(
        &c,
        &[
            "osd",
            "prepare",
            spare.path(),
            "--osd-id",
            &ids[0].to_string(),
        ],
    );
    assert_eq!(code, 3, "a live OSD's id is not taken: {err}");
    assert!(err.contains("not destroyed"), "{err}");
    assert_eq!(
        spare.sparse_checksum(),
        spare_sum,
        "nothing written after the refusal"
    );
    let replace = [
        "--label-prefix",
        PREFIX,
        "--conf",
        conf,
        "osd",
        "prepare",
        spare.path(),
        "--osd-id",
        &victim.to_string(),
        "--device-class",
        "ssd",
    ];
    // Cut off after ceph-osd --mkfs (the id taken, the partitions not yet named): the rerun
    // gives the id back and takes it again, and no other id appears.
    let out = c.cb_env(&replace, &[("CEPHBOOT_FAULT_AFTER_STEP", "6")]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = c.cb_ok(&replace);
    assert_eq!(r["osds"][0]["osd_id"].as_u64(), Some(victim), "{r:#}");
    assert_eq!(r["osds"][0]["prepared"]["device_class"], "ssd", "{r:#}");
    cb(&c, &["osd", "activate", &victim.to_string()]);
    let s = osd_state(&c, victim).unwrap();
    assert_eq!(s["up"].as_u64(), Some(1), "{s}");
    assert_eq!(crush_host_of(&c, victim).as_deref(), Some(host.as_str()));
    c.wait_clean(180);
    let back = c.state.path().join("back");
    for o in ["obj-a", "obj-b", "obj-c", "obj-d"] {
        sh(
            "rados",
            &["-c", conf, "-p", "data", "get", o, back.to_str().unwrap()],
        );
        assert_eq!(sha256_of(&back), sha256_of(&payload), "{o}");
    }

    // Device classes: sysfs says a loop device spins (hdd); the replacement was named ssd.
    // Pools on the hdd OSDs get a rule of that class, sized for those two OSDs.
    let class_of = |id: u64| {
        c.ceph_json(&["osd", "tree"])["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["device_class"].clone())
    };
    assert_eq!(class_of(victim), Some(serde_json::json!("ssd")));
    for id in [ids[0], ids[2]] {
        assert_eq!(class_of(id), Some(serde_json::json!("hdd")), "osd.{id}");
    }
    let listed = cb(&c, &["osd", "list"]);
    let classes: Vec<(u64, String)> = listed["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["osd_id"].as_u64().unwrap(),
                o["device_class"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert!(classes.contains(&(victim, "ssd".to_string())), "{listed:#}");
    assert!(
        listed["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["ok_to_stop"].is_boolean() && o["partitions"]["bluestore"].is_string()),
        "each OSD says where its block lives and whether it may stop: {listed:#}"
    );
    let pools = cb(&c, &["pools", "init", "--device-class", "hdd"]);
    assert_eq!(pools["decision"]["size"], 2, "two hdd OSDs: {pools:#}");
    let rule = c.ceph_json(&["osd", "crush", "rule", "dump", "replicated_osd_hdd"]);
    assert!(rule.to_string().contains("default~hdd"), "{rule}");
    let volumes = c.ceph_json(&["osd", "pool", "get", "volumes", "crush_rule"]);
    assert_eq!(volumes["crush_rule"], "replicated_osd_hdd", "{volumes}");
    c.wait_clean(180);

    let all_ids: Vec<u64> = c.osds().iter().map(|o| o.0).collect();
    assert_eq!(
        all_ids.len(),
        3,
        "no orphan id from the interrupted replacement: {all_ids:?}"
    );

    // 4. Purged for good: gone from the map; again is unchanged.
    let r = cb(&c, &["osd", "remove", &victim.to_string(), "--wait", "180"]);
    assert_eq!(r["action"], "removed", "{r:#}");
    assert!(osd_state(&c, victim).is_none(), "purged");
    assert_eq!(
        cb(&c, &["osd", "remove", &victim.to_string()])["action"],
        "unchanged"
    );
    assert_eq!(
        bystander.checksum(),
        bystander_sum,
        "a disk never named stays untouched"
    );
}
