//! `osd prepare` / `activate` / `list` on a real cluster (ceph-mon, ceph-mgr, ceph-osd from
//! `cluster bootstrap`) with loop devices. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::cluster::TestCluster;
use common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn osd_of(list: &serde_json::Value, device: &str) -> u64 {
    list["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["device"] == device)
        .unwrap_or_else(|| panic!("{device} not in {list:#}"))["osd_id"]
        .as_u64()
        .unwrap()
}

#[test]
fn every_layout_comes_up_and_serves_rbd_and_a_rerun_changes_nothing() {
    if !root_or_skip("osd layouts") {
        return;
    }
    // Its own label prefix keeps this test's disks apart from other tests running at the same
    // time (--all-bootstrap takes every labelled disk of the host).
    // Disks first: the cluster is dropped (OSDs stopped) before them.
    let kolla_bs = LoopDisk::new(3 * GIB); // Kolla bluestore label over a stale NTFS volume
    let kolla_fs = LoopDisk::new(GIB); // Kolla filestore data, external _J journal
    let ssd = LoopDisk::new(GIB); // holds the _J partition
    let named_bs = LoopDisk::new(3 * GIB); // named, db + wal on a second disk
    let dbwal = LoopDisk::new(2 * GIB);
    let named_fs = LoopDisk::new(GIB + 512 * MIB); // named, filestore, colocated journal
    let c = TestCluster::new();

    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:TA_OSD_BOOTSTRAP_BS", kolla_bs.path()],
    );
    kolla_bs.partx_add();
    sh("mkntfs", &["-Q", "-F", "-L", "新加卷", &kolla_bs.part(1)]);
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:TA_OSD_BOOTSTRAP_7", kolla_fs.path()],
    );
    sh(
        "sgdisk",
        &[
            "-n1:1M:+100M",
            "-c1:unrelated",
            "-n11:0:+300M",
            "-c11:TA_OSD_BOOTSTRAP_7_J",
            ssd.path(),
        ],
    );
    ssd.partx_add();

    let kolla = c.cb_ok(&[
        "--label-prefix",
        "TA",
        "osd",
        "prepare",
        "--all-bootstrap",
        "--journal-size",
        "256M",
    ]);
    let bs_id = osd_of(&kolla, kolla_bs.path());
    let fs_id = osd_of(&kolla, kolla_fs.path());
    let named = c.cb_ok(&[
        "--label-prefix",
        "TA",
        "osd",
        "prepare",
        named_bs.path(),
        "--db",
        dbwal.path(),
        "--wal",
        dbwal.path(),
        "--wal-size",
        "256M",
    ]);
    let db_id = osd_of(&named, named_bs.path());
    let named2 = c.cb_ok(&[
        "--label-prefix",
        "TA",
        "osd",
        "prepare",
        named_fs.path(),
        "--store",
        "filestore",
        "--journal-size",
        "256M",
    ]);
    let fs2_id = osd_of(&named2, named_fs.path());

    // Labels and partition types are Ceph's final ones, found without udev.
    let (_, disks) = cephboot_json(&[
        "--label-prefix",
        "TA",
        "disks",
        "list",
        kolla_bs.path(),
        kolla_fs.path(),
        ssd.path(),
        named_bs.path(),
        dbwal.path(),
        named_fs.path(),
    ]);
    let p = |path: &str| device(&disks, path).clone();
    assert_eq!(
        p(&kolla_bs.part(1))["partition_name"],
        format!("TA_DATA_BS_{bs_id}")
    );
    assert_eq!(p(&kolla_bs.part(1))["type_name"], "ceph-block");
    assert_eq!(
        p(&kolla_bs.part(1))["fs_type"],
        "ceph_bluestore",
        "the stale NTFS signature was wiped"
    );
    assert_eq!(
        p(&kolla_fs.part(1))["partition_name"],
        format!("TA_DATA_{fs_id}")
    );
    assert_eq!(p(&kolla_fs.part(1))["fs_type"], "xfs");
    assert_eq!(
        p(&ssd.part(11))["partition_name"],
        format!("TA_DATA_{fs_id}_J")
    );
    assert_eq!(p(&ssd.part(11))["type_name"], "ceph-journal");
    assert_eq!(
        p(&ssd.part(1))["partition_name"],
        "unrelated",
        "other partitions of the shared disk are untouched"
    );
    assert_eq!(p(&dbwal.part(1))["type_name"], "ceph-block-wal");
    assert_eq!(p(&dbwal.part(2))["type_name"], "ceph-block-db");
    assert_eq!(
        p(&dbwal.part(2))["partition_name"],
        format!("TA_DATA_BS_{db_id}_D")
    );
    assert_eq!(
        p(&named_fs.part(2))["partition_name"],
        format!("TA_DATA_{fs2_id}_J")
    );

    let act = c.cb_ok(&["--label-prefix", "TA", "osd", "activate", "--all"]);
    assert!(
        act["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "started"),
        "{act:#}"
    );
    // Each was up when activate said "started"; all four stay up (a flap under load is waited
    // out, with the OSD's log shown; a crashed one fails with its log).
    let osds = c.wait_all_up(120);
    assert_eq!(osds.len(), 4, "{osds:?}");
    assert!(osds.iter().all(|(_, up, inn)| *up && *inn), "{osds:?}");
    let tree = c.ceph_json(&["osd", "tree"]);
    let host = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "host")
        .unwrap();
    assert_eq!(
        host["children"].as_array().unwrap().len(),
        4,
        "all OSDs under this host's CRUSH bucket"
    );
    // The OSD with db/wal really uses them.
    let meta = c.ceph_json(&["osd", "metadata", &db_id.to_string()]);
    assert_eq!(meta["bluefs_dedicated_db"], "1", "{meta:#}");
    assert_eq!(meta["bluefs_dedicated_wal"], "1");
    assert_eq!(
        c.ceph_json(&["osd", "metadata", &fs_id.to_string()])["osd_objectstore"],
        "filestore"
    );

    // Four OSDs on one host: rule with failure domain osd, size 3; PGs clean; RBD works.
    let pools = c.cb_ok(&["pools", "init", "--single-node"]);
    assert_eq!(pools["decision"]["size"], 3);
    assert_eq!(pools["decision"]["failure_domain"], "osd");
    c.wait_clean(300);
    let rule = c.ceph_json(&["osd", "crush", "rule", "dump", "replicated_osd"]);
    assert!(
        rule["steps"].to_string().contains("\"type\":\"osd\""),
        "{rule:#}"
    );
    let keyring = c.state.path().join("ceph.client.cinder.keyring");
    let conf = c.conf();
    let rbd = |args: &[&str]| {
        let mut a = vec![
            "-c",
            conf.to_str().unwrap(),
            "--id",
            "cinder",
            "--keyring",
            keyring.to_str().unwrap(),
        ];
        a.extend(args);
        sh("rbd", &a)
    };
    rbd(&["create", "volumes/x", "--size", "64M"]);
    rbd(&[
        "bench",
        "--io-type",
        "write",
        "--io-total",
        "4M",
        "volumes/x",
    ]);

    // Rerun: nothing changes, no new OSD.
    let again = c.cb_ok(&[
        "--label-prefix",
        "TA",
        "osd",
        "prepare",
        "--all-bootstrap",
        named_bs.path(),
        named_fs.path(),
    ]);
    assert_eq!(again["changed"], false, "{again:#}");
    assert!(
        again["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "unchanged"),
        "{again:#}"
    );
    assert_eq!(c.osds().len(), 4);
    let act = c.cb_ok(&["--label-prefix", "TA", "osd", "activate", "--all"]);
    assert!(
        act["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "unchanged"),
        "{act:#}"
    );
    let list = c.cb_ok(&["--label-prefix", "TA", "osd", "list"]);
    assert_eq!(list["osds"].as_array().unwrap().len(), 4);
    assert!(list["osds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["up"] == true));

    // `osd stop` leaves it in the cluster, down; `osd activate` starts it again.
    let db = db_id.to_string();
    let stopped = c.cb_ok(&["--label-prefix", "TA", "osd", "stop", &db]);
    assert_eq!(stopped["action"], "stopped", "{stopped:#}");
    // Down in the osdmap at once, not after its peers' heartbeat grace (Ceph 16's ceph-osd does
    // not tell the monitors on its fast shutdown).
    assert!(
        c.osds().iter().any(|(id, up, _)| *id == db_id && !*up),
        "osd.{db_id} still up right after osd stop: {:?}",
        c.osds()
    );
    let again = c.cb_ok(&["--label-prefix", "TA", "osd", "stop", &db]);
    assert_eq!(again["action"], "unchanged", "{again:#}");
    let started = c.cb_ok(&["--label-prefix", "TA", "osd", "activate", &db]);
    assert_eq!(started["osds"][0]["action"], "started", "{started:#}");
    assert!(c.osds().iter().any(|(id, up, _)| *id == db_id && *up));

    // The Kolla FileStore OSD removed keeping its id, right after its daemon was stopped: its
    // data directory is unmounted once the daemon has let go of it (this failed three times in
    // three with "umount: target is busy", leaving it destroyed and still mounted).
    let fs = fs_id.to_string();
    let r = c.cb_ok(&[
        "--label-prefix",
        "TA",
        "osd",
        "remove",
        &fs,
        "--keep-id",
        "--wait",
        "300",
    ]);
    assert_eq!(r["action"], "removed", "{r:#}");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let dir = format!("{}/", c.dir());
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains(&dir) && l.contains(&format!("-{fs} "))),
        "osd.{fs}'s directory is still mounted: {mounts}"
    );
    let dump = c.ceph_json(&["osd", "dump"]);
    let st = dump["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["osd"] == fs_id)
        .unwrap();
    assert!(st["state"].to_string().contains("destroyed"), "{st}");
}

#[test]
fn an_interruption_after_any_step_is_finished_by_the_next_run_without_orphans() {
    if !root_or_skip("fault injection") {
        return;
    }
    let disks: Vec<LoopDisk> = (0..8).map(|_| LoopDisk::new(GIB + 256 * MIB)).collect();
    let kolla = LoopDisk::new(GIB + 256 * MIB);
    let c = TestCluster::new();
    for (i, d) in disks.iter().enumerate() {
        let step = (i + 1).to_string();
        let out = c.cb_env(
            &["osd", "prepare", d.path()],
            &[("CEPHBOOT_FAULT_AFTER_STEP", &step)],
        );
        assert_eq!(
            out.status.code(),
            Some(99),
            "step {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = c.cb_ok(&["osd", "prepare", d.path()]);
        let item = &v["osds"][0];
        if i + 1 == 8 {
            assert_eq!(
                item["action"], "unchanged",
                "after the last step the OSD is complete: {v:#}"
            );
        } else {
            assert_eq!(item["action"], "created", "step {step}: {v:#}");
        }
        if (4..8).contains(&(i + 1)) {
            assert!(
                item["prepared"]["cleaned_up_osd"].is_u64(),
                "step {step}: the id allocated before the fault was purged: {v:#}"
            );
        }
    }
    // Filestore with a colocated journal resumes too (its journal label must parse).
    let fs_disks: Vec<LoopDisk> = (0..2).map(|_| LoopDisk::new(GIB + 512 * MIB)).collect();
    for (d, step) in fs_disks.iter().zip(["3", "6"]) {
        let args = [
            "osd",
            "prepare",
            d.path(),
            "--store",
            "filestore",
            "--journal-size",
            "256M",
        ];
        let out = c.cb_env(&args, &[("CEPHBOOT_FAULT_AFTER_STEP", step)]);
        assert_eq!(
            out.status.code(),
            Some(99),
            "filestore step {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = c.cb_ok(&args);
        assert_eq!(
            v["osds"][0]["action"], "created",
            "filestore step {step}: {v:#}"
        );
    }
    // A Kolla-labelled disk interrupted right after the wipe keeps its bootstrap label (the
    // old table stays until the new one is written), so the next --all-bootstrap run finds it.
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:TF_OSD_BOOTSTRAP_BS", kolla.path()],
    );
    kolla.partx_add();
    sh("mkfs.ext4", &["-q", "-F", &kolla.part(1)]);
    let all = ["--label-prefix", "TF", "osd", "prepare", "--all-bootstrap"];
    let out = c.cb_env(&all, &[("CEPHBOOT_FAULT_AFTER_STEP", "1")]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "kolla step 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, list) = cephboot_json(&["--label-prefix", "TF", "disks", "list", kolla.path()]);
    let p = device(&list, &kolla.part(1));
    assert_eq!(
        (
            p["partition_name"].as_str(),
            p["state"].as_str(),
            p["fs_type"].as_str()
        ),
        (Some("TF_OSD_BOOTSTRAP_BS"), Some("bootstrap"), None),
        "after a crash right after the wipe: {p:#}"
    );
    let v = c.cb_ok(&all);
    assert_eq!(v["osds"].as_array().map(Vec::len), Some(1), "{v:#}");
    assert_eq!(v["osds"][0]["action"], "created", "{v:#}");
    osd_of(&v, kolla.path()); // the labelled disk is the one prepared

    let (_, list) = cephboot_json(&["--label-prefix", "TF", "disks", "list", kolla.path()]);
    let kolla_uuid = device(&list, &kolla.part(1))["partition_uuid"]
        .as_str()
        .unwrap()
        .to_string();

    let mut disks = disks;
    disks.extend(fs_disks);

    // One OSD per disk, no orphan ids: every id in the map belongs to a disk's main PARTUUID.
    let dump = c.ceph_json(&["osd", "dump"]);
    let ids: Vec<(u64, String)> = dump["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["osd"].as_u64().unwrap(),
                o["uuid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 11, "{ids:?}");
    let paths: Vec<&str> = disks.iter().map(LoopDisk::path).collect();
    let mut args = vec!["disks", "list"];
    args.extend(paths.iter().copied());
    let (_, list) = cephboot_json(&args);
    for d in &disks {
        let p = device(&list, &d.part(1));
        let id = p["osd_id"].as_u64().unwrap();
        let uuid = p["partition_uuid"].as_str().unwrap();
        assert!(
            ids.contains(&(id, uuid.to_string())),
            "{} = osd.{id} {uuid} not in {ids:?}",
            d.path()
        );
    }
    assert!(
        ids.iter().any(|(_, u)| *u == kolla_uuid),
        "the Kolla disk's OSD ({kolla_uuid}) is not in {ids:?}"
    );

    // The monitors stop answering: prepare fails within its timeout, the disk is unchanged.
    let spare = LoopDisk::new(GIB + 256 * MIB);
    let before = spare.checksum();
    let pid = std::fs::read_to_string(c.state.path().join("run/ceph-mon.a.pid")).unwrap();
    sh("kill", &[pid.trim()]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let out = c.cb(&[
        "osd",
        "prepare",
        spare.path(),
        "--timeout",
        "5",
        "--format",
        "json",
    ]);
    let secs = started.elapsed().as_secs();
    let code = out.status.code();
    assert!(
        code == Some(7) || code == Some(5),
        "exit {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(secs < 30, "took {secs}s");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connecting to the cluster") && err.contains("monitors"),
        "{err}"
    );
    assert_eq!(
        spare.checksum(),
        before,
        "nothing was written while the cluster was unreachable"
    );
    drop(c);
    drop(spare);
}

#[test]
fn refusals_name_the_device_and_write_nothing() {
    if !root_or_skip("prepare refusals") {
        return;
    }
    let foreign = LoopDisk::new(GIB + 256 * MIB);
    sh("mkfs.ext4", &["-q", "-F", foreign.path()]);
    let labelled_bs = LoopDisk::new(GIB + 256 * MIB);
    sh(
        "sgdisk",
        &[
            "-n1:1M:0",
            "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS",
            labelled_bs.path(),
        ],
    );
    let small = LoopDisk::new(256 * MIB);
    let c = TestCluster::new();
    let sums = [foreign.checksum(), labelled_bs.checksum(), small.checksum()];

    let out = c.cb(&["osd", "prepare", foreign.path(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["osds"][0]["action"], "refused");
    assert!(
        v["osds"][0]["reason"].as_str().unwrap().contains("--wipe"),
        "{v:#}"
    );

    // The wrong store for a label is an explicit error, not an empty result.
    let out = c.cb(&["osd", "prepare", labelled_bs.path(), "--store", "filestore"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("labelled for bluestore"));

    let out = c.cb(&["osd", "prepare", small.path()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too small"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = c.cb(&[
        "osd",
        "prepare",
        foreign.path(),
        "--dry-run",
        "--wipe",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["osds"][0]["action"], "would_create");
    assert_eq!(
        [foreign.checksum(), labelled_bs.checksum(), small.checksum()],
        sums
    );
    assert!(c.osds().is_empty());

    // With consent it is prepared.
    let v = c.cb_ok(&["osd", "prepare", foreign.path(), "--wipe"]);
    assert_eq!(v["osds"][0]["action"], "created");
}

#[test]
fn loop_file_disks_are_stable_across_reruns_and_reattached_on_activate() {
    if !root_or_skip("loop:SIZE") {
        return;
    }
    let c = TestCluster::new();
    let v = c.cb_ok(&["osd", "prepare", "loop:2G"]);
    assert_eq!(v["osds"][0]["action"], "created");
    let dev = v["osds"][0]["device"].as_str().unwrap().to_string();
    let again = c.cb_ok(&["osd", "prepare", "loop:2G"]);
    assert_eq!(again["osds"][0]["action"], "unchanged");
    assert_eq!(again["osds"][0]["device"], dev.as_str());
    // Detach (as after a reboot); activate re-attaches and starts it.
    sh("losetup", &["-d", &dev]);
    let act = c.cb_ok(&["osd", "activate", "--all"]);
    // Other tests' OSDs on this host belong to other clusters: skipped, not started.
    let osds = act["osds"].as_array().unwrap();
    let mine: Vec<_> = osds.iter().filter(|o| o["action"] != "skipped").collect();
    assert_eq!(mine.len(), 1, "{act:#}");
    assert_eq!(mine[0]["action"], "started", "{act:#}");
    // Skipped ones say why: another cluster's, or (a concurrent test's disk being detached)
    // a label that cannot be read.
    assert!(
        osds.iter().filter(|o| o["action"] == "skipped").all(|o| {
            let e = o["error"].as_str().unwrap();
            e.contains("belongs to cluster") || e.contains("cannot be read")
        }),
        "{act:#}"
    );
    assert!(c.osds().iter().all(|(_, up, _)| *up));
}

#[test]
fn a_new_osd_waits_for_an_up_osd_of_its_host_and_never_crashes_the_monitor() {
    if !root_or_skip("a new OSD under a host whose OSDs are all down") {
        return;
    }
    let first = LoopDisk::new(GIB + 256 * MIB);
    let second = LoopDisk::new(GIB + 256 * MIB);
    let bystander = LoopDisk::new(256 * MIB);
    let c = TestCluster::new();
    let v = c.cb_ok(&["osd", "prepare", first.path()]);
    let id = v["osds"][0]["osd_id"].as_u64().unwrap().to_string();
    c.cb_ok(&["osd", "activate", &id]);
    let stopped = c.cb_ok(&["osd", "stop", &id]);
    assert_eq!(stopped["action"], "stopped", "{stopped:#}");
    let sums = [second.checksum(), bystander.checksum()];

    // Every OSD of the host is down: a never-started OSD placed under it would make Ceph 16's
    // monitor abort (OSDMap::check_health) at every start. prepare waits (--timeout), then
    // refuses, nothing written, nothing allocated.
    let out = c.cb(&[
        "--timeout",
        "6",
        "osd",
        "prepare",
        second.path(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["osds"][0]["action"], "refused", "{v:#}");
    let reason = v["osds"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("every OSD of this CRUSH host is down") && reason.contains("osd."),
        "{v:#}"
    );
    assert_eq!([second.checksum(), bystander.checksum()], sums);
    assert_eq!(c.osds().len(), 1, "no id was allocated");
    // The monitor still answers several proposal intervals later.
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert_eq!(c.osds().len(), 1);

    // With the host's OSD up again the new one is prepared.
    c.cb_ok(&["osd", "activate", &id]);
    let v = c.cb_ok(&["osd", "prepare", second.path()]);
    assert_eq!(v["osds"][0]["action"], "created", "{v:#}");
    assert_eq!(bystander.checksum(), sums[1]);
}

/// Disks named together are prepared side by side (`--jobs 2`: two `ceph-osd --mkfs` running
/// at once, seen in the progress lines), the report in the order given whatever finished
/// first, each OSD with its own id and up once activated.
#[test]
fn disks_named_together_are_prepared_side_by_side_and_reported_in_order() {
    if !root_or_skip("parallel prepare") {
        return;
    }
    let disks: Vec<LoopDisk> = (0..3).map(|_| LoopDisk::new(3 * GIB)).collect();
    let c = TestCluster::new();
    // Given in reverse order of their names: the report follows the order given.
    let given: Vec<&str> = disks.iter().rev().map(LoopDisk::path).collect();
    let conf = c.conf();
    let mut args = vec![
        "--label-prefix",
        "TPAR",
        "--conf",
        conf.to_str().unwrap(),
        "--format",
        "json",
        "osd",
        "prepare",
        "--jobs",
        "2",
    ];
    args.extend(&given);
    let out = c.cb(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devices: Vec<&str> = report["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, given, "{report:#}");
    let mut ids: Vec<u64> = report["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["action"], "created", "{report:#}");
            o["osd_id"].as_u64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{report:#}");
    // Two mkfs at once: the second started before the first ended.
    let lines: Vec<&str> = stderr.lines().collect();
    let first_end = lines
        .iter()
        .position(|l| l.contains("ceph-osd --mkfs for osd.") && l.contains(": done in"))
        .unwrap_or_else(|| panic!("no mkfs ended: {stderr}"));
    let started_before = lines
        .get(..first_end)
        .unwrap_or_default()
        .iter()
        .filter(|l| l.contains("ceph-osd --mkfs for osd.") && l.ends_with(" ..."))
        .count();
    assert_eq!(started_before, 2, "not side by side: {stderr}");
    c.cb_in("TPAR", &["osd", "activate", "--all"]);
    let up = c.wait_all_up(180);
    assert_eq!(up.iter().filter(|(_, up, _)| *up).count(), 3, "{up:?}");
    started_together_at_boot(&c, &ids);
}

/// The boot-time start: each OSD's unit runs `osd activate ID --exec`, all at once. One of
/// them reads the whole host and records what it found; the others read only their OSD's
/// disks (crate::osd::boot_read). A record that no longer holds (here: one that lies about
/// where an OSD is) is not trusted: that unit reads the whole host again and starts its OSD.
fn started_together_at_boot(c: &TestCluster, ids: &[u64]) {
    let conf = c.conf();
    let exec_all = |ids: &[u64]| -> Vec<String> {
        for id in ids {
            c.cb_in("TPAR", &["osd", "stop", &id.to_string()]);
        }
        let children: Vec<(u64, std::process::Child)> = ids
            .iter()
            .map(|id| {
                let child = std::process::Command::new(cephboot_bin())
                    .args(["--state-dir", &c.dir(), "--label-prefix", "TPAR"])
                    .args(["--conf", conf.to_str().unwrap()])
                    .args(["osd", "activate", &id.to_string(), "--exec"])
                    .env("CEPHBOOT_LOG", "cephboot=info")
                    .stdout(std::process::Stdio::null())
                    .stderr(
                        std::fs::File::create(c.state.path().join(format!("exec-{id}.log")))
                            .unwrap(),
                    )
                    .spawn()
                    .expect("start osd activate --exec");
                (*id, child)
            })
            .collect();
        let up = c.wait_all_up(180);
        let logs: Vec<String> = children
            .iter()
            .map(|(id, _)| {
                std::fs::read_to_string(c.state.path().join(format!("exec-{id}.log"))).unwrap()
            })
            .collect();
        assert_eq!(
            up.iter().filter(|(_, up, _)| *up).count(),
            3,
            "{up:?} {logs:#?}"
        );
        // Each child is its OSD's ceph-osd now (the exec): `cluster stop` ends it by its pidfile.
        drop(children);
        logs
    };
    let from_record =
        |log: &String| log.contains("found on the disks the host read of this boot recorded");
    let logs = exec_all(ids);
    assert_eq!(
        logs.iter().filter(|l| from_record(l)).count(),
        ids.len() - 1,
        "one unit reads the host, the others its record: {logs:#?}"
    );
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("read the whole host and recorded it for the other units"))
            .count(),
        1,
        "the unit that read the host says so: {logs:#?}"
    );
    // A record that says the first OSD's devices are on the second OSD's disk: read again
    // from that disk, the OSD is not there as recorded; its unit reads the whole host.
    let record_path = c.state.path().join("run/boot-read.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    let osds = record["osds"].as_array_mut().unwrap();
    let second_disks = osds.iter().find(|o| o["osd_id"] == ids[1]).unwrap()["disks"].clone();
    for o in osds.iter_mut().filter(|o| o["osd_id"] == ids[0]) {
        o["disks"] = second_disks.clone();
    }
    // Written now, so that only the lie can make it fail (not its age).
    record["written_at"] = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .into();
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    let logs = exec_all(&ids[..1]);
    assert!(
        logs[0].contains("the recorded disks no longer hold the OSD as recorded")
            && !from_record(&logs[0]),
        "{logs:#?}"
    );
}
