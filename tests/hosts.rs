//! Three hosts on one machine (network and UTS namespaces, tests/common/hosts.rs), one
//! cluster made by cephboot itself: `cluster bootstrap --mon-ip` on the first, `cluster
//! join-bundle` there and `cluster join` on the others (a three-monitor quorum); each host's
//! OSDs under its own CRUSH host bucket; `pools init` on one host, then again once three hosts
//! have OSDs: failure domain host, size 3, min_size 2, reported as a change, data written
//! before still the same after and PGs active+clean; one host cut off: the pools stay
//! writable, cephboot on the others still answers and shows its OSD down; back: clean again;
//! `osd activate --all` on a host skips the OSDs up on another host; a host removed: `pools
//! init` refuses to lower the size without `--allow-shrink`.
//! Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::hosts::{SimHost, SimHosts};
use common::*;

const GIB: u64 = 1 << 30;
const PREFIX: &str = "HS";

fn prepare(h: &SimHost, disk: &LoopDisk) -> u64 {
    prepare_with(h, disk, &[])
}

fn prepare_with(h: &SimHost, disk: &LoopDisk, extra: &[&str]) -> u64 {
    let mut args = vec!["--label-prefix", PREFIX, "osd", "prepare", disk.path()];
    args.extend(extra);
    let v = h.cb_ok(&args);
    assert_eq!(v["osds"][0]["action"], "created", "{}: {v:#}", h.name);
    let id = v["osds"][0]["osd_id"].as_u64().unwrap();
    let a = h.cb_ok(&["--label-prefix", PREFIX, "osd", "activate", &id.to_string()]);
    assert!(a.to_string().contains("started"), "{}: {a:#}", h.name);
    id
}

fn crush_host_of(h: &SimHost, id: u64) -> Option<String> {
    let tree = h.ceph_json(&["osd", "tree"]);
    tree["nodes"].as_array().unwrap().iter().find_map(|n| {
        (n["type"] == "host"
            && n["children"]
                .as_array()
                .is_some_and(|ch| ch.iter().any(|x| x.as_u64() == Some(id))))
        .then(|| n["name"].as_str().unwrap().to_string())
    })
}

/// Waits until every PG is active+clean. A `ceph` call that fails meanwhile (the monitors
/// electing after a host came back) is retried until the deadline, then reported.
fn wait_clean(h: &SimHost, secs: u64) {
    let start = Instant::now();
    loop {
        let s = match h.try_ceph_json(&["pg", "stat"]) {
            Ok(s) => s,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(secs), "{e}");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        let total = s["pg_summary"]["num_pgs"].as_u64().unwrap_or(0);
        let clean: u64 = s["pg_summary"]["num_pg_by_state"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|x| x["name"] == "active+clean")
                    .filter_map(|x| x["num"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        if total > 0 && clean == total {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "PGs not clean after {secs} s: {s:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn rados(h: &SimHost, args: &[&str]) -> std::process::Output {
    let conf = h.conf();
    let mut a = vec!["-c", conf.as_str(), "-p", "volumes"];
    a.extend(args);
    h.run("rados", &a)
}

fn pool_get(h: &SimHost, key: &str) -> u64 {
    h.ceph_json(&["osd", "pool", "get", "volumes", key])[key]
        .as_u64()
        .unwrap()
}

#[test]
fn three_hosts_one_cluster_growth_host_loss_and_shrink() {
    if !root_or_skip("three_hosts_one_cluster_growth_host_loss_and_shrink") {
        return;
    }
    let disks: Vec<LoopDisk> = (0..4).map(|_| LoopDisk::new(2 * GIB)).collect();
    let net = SimHosts::new("cbhost", 3);
    three_hosts_join_one_cluster(&net);
    let (payload, id3) = pools_follow_growth(&net, &disks);
    host_loss(&net, &payload, id3);
    shrink_is_refused(&net, id3);
    drop(net);
    drop(disks);
}

/// The cluster, by cephboot: bootstrap on the first host, join on the others.
fn three_hosts_join_one_cluster(net: &SimHosts) {
    let [h1, h2, h3] = [&net.hosts[0], &net.hosts[1], &net.hosts[2]];
    let would = h1.cb_ok(&["cluster", "bootstrap", "--mon-ip", &h1.ip, "--dry-run"]);
    assert_eq!(would["daemons"][0]["action"], "would_create", "{would:#}");
    assert!(
        std::fs::read_dir(h1.state.path()).unwrap().next().is_none(),
        "a dry run wrote into the state dir"
    );
    let b = h1.cb_ok(&["cluster", "bootstrap", "--mon-ip", &h1.ip]);
    assert_eq!(b["mon_host"], format!("v2:{}:3300", h1.ip), "{b:#}");
    let bundle = h1.state.path().join("join.json");
    let made = h1.cb_ok(&["cluster", "join-bundle", "--out", bundle.to_str().unwrap()]);
    assert_eq!(
        (&made["action"], &made["changed"]),
        (&"created".into(), &true.into()),
        "{made:#}"
    );
    let again = h1.cb_ok(&["cluster", "join-bundle", "--out", bundle.to_str().unwrap()]);
    assert_eq!(
        again["action"], "unchanged",
        "a rerun rewrites nothing: {again:#}"
    );
    let join = |h: &SimHost, extra: &[&str]| {
        let mut args = vec![
            "cluster",
            "join",
            "--bundle",
            bundle.to_str().unwrap(),
            "--mon-ip",
            &h.ip,
        ];
        args.extend(extra);
        h.cb_ok(&args)
    };
    let would = join(h2, &["--dry-run"]);
    assert_eq!(
        (&would["daemons"][1]["name"], &would["daemons"][1]["action"]),
        (&"mgr.cbhost2".into(), &"would_create".into()),
        "{would:#}"
    );
    assert_eq!(would["fsid"], b["fsid"]);
    assert!(!h2.state.path().join("ceph.conf").exists());
    for h in [h2, h3] {
        let j = join(h, &[]);
        assert_eq!(j["fsid"], b["fsid"], "{j:#}");
    }
    let q = h3.ceph_json(&["quorum_status"]);
    let mut names: Vec<&str> = q["quorum_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["cbhost1", "cbhost2", "cbhost3"], "{q:#}");
    // Every monitor the same way: msgr2 only, in the monmap and on the wire.
    let dump = h3.ceph_json(&["mon", "dump"]);
    for m in dump["mons"].as_array().unwrap() {
        let addrs = m["public_addrs"]["addrvec"].as_array().unwrap();
        assert!(
            addrs.len() == 1 && addrs[0]["type"] == "v2",
            "{}: {addrs:?}",
            m["name"]
        );
    }
    let again = join(h2, &[]);
    assert_eq!(
        again["changed"], false,
        "a rerun changes nothing: {again:#}"
    );
}

/// One host with two OSDs, then three hosts: pools init follows. Returns the payload file and
/// the third host's OSD.
fn pools_follow_growth(net: &SimHosts, disks: &[LoopDisk]) -> (std::path::PathBuf, u64) {
    let [h1, h2, h3] = [&net.hosts[0], &net.hosts[1], &net.hosts[2]];
    // One host with two OSDs first: copies on different OSDs of that host.
    let ids1 = [prepare(h1, &disks[0]), prepare(h1, &disks[1])];
    for id in ids1 {
        assert_eq!(crush_host_of(h1, id).as_deref(), Some("cbhost1"));
    }
    let p = h1.cb_ok(&["pools", "init"]);
    assert_eq!(
        (
            p["decision"]["size"].as_u64(),
            p["decision"]["failure_domain"].as_str()
        ),
        (Some(2), Some("osd")),
        "{p:#}"
    );
    wait_clean(h1, 300);
    let payload = h1.state.path().join("payload");
    let bytes: Vec<u8> = (0..(4u32 << 20))
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[2])
        .collect();
    std::fs::write(&payload, &bytes).unwrap();
    assert!(rados(h1, &["put", "before", payload.to_str().unwrap()])
        .status
        .success());

    // Two more hosts with an OSD each: pools init again moves to failure domain host.
    // Host 2 names its CRUSH bucket itself; the OSD stays there when it boots.
    let id2 = prepare_with(h2, &disks[2], &["--crush-location", "host=cbhost2-rack9"]);
    let id3 = prepare(h3, &disks[3]);
    assert_eq!(crush_host_of(h1, id2).as_deref(), Some("cbhost2-rack9"));
    assert_eq!(crush_host_of(h1, id3).as_deref(), Some("cbhost3"));
    // Every disk is visible from every simulated host: `osd activate --all` on host 2 starts
    // only what is not up elsewhere (its own OSD is running already).
    let a = h2.cb_ok(&["--label-prefix", PREFIX, "osd", "activate", "--all"]);
    for o in a["osds"].as_array().unwrap() {
        if o["osd_id"] == id2 {
            assert_eq!(o["action"], "unchanged", "{a:#}");
        } else {
            assert_eq!(o["action"], "skipped", "{a:#}");
            assert!(
                o["error"]
                    .as_str()
                    .unwrap()
                    .contains("is up on host cbhost"),
                "{a:#}"
            );
        }
    }
    assert_eq!(h2.cb_ok(&["disks", "list"])["host"], "cbhost2");
    let p = h2.cb_ok(&["pools", "init"]);
    assert_eq!(p["changed"], true, "{p:#}");
    assert_eq!(
        (
            p["decision"]["size"].as_u64(),
            p["decision"]["min_size"].as_u64(),
            p["decision"]["failure_domain"].as_str()
        ),
        (Some(3), Some(2), Some("host")),
        "{p:#}"
    );
    assert!(
        p["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("3 hosts"),
        "{p:#}"
    );
    assert_eq!((pool_get(h1, "size"), pool_get(h1, "min_size")), (3, 2));
    wait_clean(h1, 300);
    let back = h1.state.path().join("back");
    assert!(rados(h3, &["get", "before", back.to_str().unwrap()])
        .status
        .success());
    assert_eq!(
        std::fs::read(&back).unwrap(),
        bytes,
        "data written before the change reads back the same"
    );

    (payload, id3)
}

/// Host 3 cut off and back.
fn host_loss(net: &SimHosts, payload: &std::path::Path, id3: u64) {
    let h1 = &net.hosts[0];
    // Host 3 cut off: writes still go through at min_size 2; the others still answer.
    net.set_link(2, false);
    let start = Instant::now();
    while h1.ceph_json(&["osd", "dump"])["osds"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["osd"] == id3 && o["up"] == 1)
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "osd.{id3} never went down"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let w = rados(h1, &["put", "during", payload.to_str().unwrap()]);
    assert!(
        w.status.success(),
        "writable at min_size: {}",
        String::from_utf8_lossy(&w.stderr)
    );
    let list = h1.cb_ok(&["--label-prefix", PREFIX, "osd", "list"]);
    let rows = list.as_array().or_else(|| list["osds"].as_array()).unwrap();
    assert!(
        rows.iter().all(|o| o["host"] == "cbhost1"),
        "osd list says which host: {list:#}"
    );
    let down = rows.iter().find(|o| o["osd_id"] == id3).unwrap();
    assert_eq!(
        down["up"], false,
        "the cut-off host's OSD shows down: {list:#}"
    );
    net.set_link(2, true);
    wait_clean(h1, 300);
}

/// Host 3's OSD removed: two hosts left; `pools init` refuses to lower the size silently.
fn shrink_is_refused(net: &SimHosts, id3: u64) {
    let (h1, h3) = (&net.hosts[0], &net.hosts[2]);
    let r = h3.cb_ok(&[
        "--label-prefix",
        PREFIX,
        "osd",
        "remove",
        &id3.to_string(),
        "--force",
    ]);
    assert_eq!(r["action"], "removed", "{r:#}");
    let out = h1.cb(&["pools", "init"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("volumes has size 3") && err.contains("--allow-shrink"),
        "{err}"
    );
    assert_eq!(pool_get(h1, "size"), 3, "nothing was lowered");
}
