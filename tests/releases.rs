//! The Ceph releases operators run, beyond the host's 16.2 (which every other suite uses):
//! Reef 18.2 (Debian 13) and Tentacle 20.2 (Debian unstable), each a real cluster in a Debian
//! root with the release's own daemons and tools (tests/common/release.rs). The same cases on
//! each; a failure names the release. Root only; the roots are built on first use (about 2
//! minutes each, cached under state/releases).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::release::{ReleaseCluster, Suite, REEF, TENTACLE};
use common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every case of one release, in one cluster (a cluster costs about 3 s, the root minutes).
fn end_to_end(suite: Suite) {
    // Disks first, so the cluster (dropped first) stops before they are detached.
    let main = LoopDisk::new(4 * GIB);
    let with_db = LoopDisk::new(2 * GIB);
    let fast = LoopDisk::new(GIB);
    let crashed = LoopDisk::new(2 * GIB);
    let filestore = LoopDisk::new(8 * GIB);
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:RL_OSD_BOOTSTRAP", filestore.path()],
    );
    let bystander = LoopDisk::new(64 * MIB);
    let Some(c) = ReleaseCluster::new(suite) else {
        return;
    };
    let bystander_sum = bystander.checksum();
    the_release_is_the_roots(&c, suite);
    filestore_is_refused_before_writing(&c, suite, &filestore);
    let db_osd =
        bluestore_osds_are_prepared_and_a_crash_converges(&c, &main, &with_db, &fast, &crashed);
    every_osd_comes_up_and_reruns_change_nothing(&c, &[&main, &with_db, &crashed]);
    pools_serve_rbd_and_a_rerun_changes_nothing(&c, suite);
    zap_of_a_stopped_osd_leaves_no_label_copy(&c, suite, &main, db_osd);
    assert_eq!(
        bystander.checksum(),
        bystander_sum,
        "{}: the bystander is untouched",
        c.name()
    );
}

fn the_release_is_the_roots(c: &ReleaseCluster, suite: Suite) {
    let name = c.name();
    // The release cephboot sees is the one the root ships.
    let versions = c.ceph_json(&["versions"]);
    assert!(
        versions["mon"]
            .to_string()
            .contains(&format!("ceph version {}.", suite.ceph_major)),
        "{name}: {versions}"
    );
}

fn filestore_is_refused_before_writing(c: &ReleaseCluster, suite: Suite, filestore: &LoopDisk) {
    let name = c.name();
    // FileStore is refused before anything is written: no wipe, no OSD id.
    let before = filestore.sparse_checksum();
    let out = c.cb(&["--label-prefix", "RL", "osd", "prepare", filestore.path()]);
    assert_eq!(out.status.code(), Some(3), "{name}: {}", text(&out));
    assert!(
        text(&out).contains("Ceph removed FileStore")
            && text(&out).contains(&format!("Ceph {}.", suite.ceph_major)),
        "{name}: {}",
        text(&out)
    );
    assert_eq!(
        filestore.sparse_checksum(),
        before,
        "{name}: the refused disk is untouched"
    );
    assert!(c.osds().is_empty(), "{name}: no OSD id was allocated");
}

/// Bluestore on a whole disk and with db + wal on another disk, and a crash after step 5
/// rerun; the db OSD's id.
fn bluestore_osds_are_prepared_and_a_crash_converges(
    c: &ReleaseCluster,
    main: &LoopDisk,
    with_db: &LoopDisk,
    fast: &LoopDisk,
    crashed: &LoopDisk,
) -> u64 {
    let name = c.name();
    // Bluestore over a whole disk, and with db + wal on a second disk.
    let v = c.cb_ok(&["--label-prefix", "RL", "osd", "prepare", main.path()]);
    assert_eq!(v["osds"][0]["action"], "created", "{name}: {v:#}");
    let v = c.cb_ok(&[
        "--label-prefix",
        "RL",
        "osd",
        "prepare",
        with_db.path(),
        "--db",
        fast.path(),
        "--wal",
        fast.path(),
        "--wal-size",
        "128M",
    ]);
    assert_eq!(v["osds"][0]["action"], "created", "{name}: {v:#}");
    let db_osd = v["osds"][0]["osd_id"].as_u64().unwrap();

    // A crash after the OSD id is allocated; the rerun converges with no orphan id.
    let out = c.cb_env(
        &["--label-prefix", "RL", "osd", "prepare", crashed.path()],
        &[("CEPHBOOT_FAULT_AFTER_STEP", "5")],
    );
    assert_eq!(out.status.code(), Some(99), "{name}: {}", text(&out));
    let v = c.cb_ok(&["--label-prefix", "RL", "osd", "prepare", crashed.path()]);
    assert_eq!(v["osds"][0]["action"], "created", "{name}: {v:#}");
    assert!(
        v["osds"][0]["prepared"]["cleaned_up_osd"].is_u64(),
        "{name}: {v:#}"
    );
    assert_eq!(
        c.osds().len(),
        3,
        "{name}: three OSDs, no orphan id: {:?}",
        c.osds()
    );

    db_osd
}

fn every_osd_comes_up_and_reruns_change_nothing(c: &ReleaseCluster, disks: &[&LoopDisk]) {
    let name = c.name();
    // Activate; every OSD comes up; a rerun of prepare changes nothing.
    let act = c.cb_ok(&["--label-prefix", "RL", "osd", "activate", "--all"]);
    assert_eq!(act["changed"], true, "{name}: {act:#}");
    assert!(c.osds().iter().all(|(_, up)| *up), "{name}: {:?}", c.osds());
    for d in disks {
        let v = c.cb_ok(&["--label-prefix", "RL", "osd", "prepare", d.path()]);
        assert_eq!(v["osds"][0]["action"], "unchanged", "{name}: {v:#}");
    }
}

fn pools_serve_rbd_and_a_rerun_changes_nothing(c: &ReleaseCluster, suite: Suite) {
    let name = c.name();
    // Pools on three OSDs of one host: failure domain osd; RBD writes; a rerun is unchanged.
    let v = c.cb_ok(&["pools", "init", "--single-node"]);
    assert_eq!(v["changed"], true, "{name}: {v:#}");
    let mgr_pool = if suite.ceph_major >= 17 {
        ".mgr"
    } else {
        "device_health_metrics"
    };
    let pools = c.ceph_json(&["osd", "pool", "ls", "detail"]);
    let sizes: Vec<(String, u64)> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pool_name"].as_str().unwrap().to_string(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in ["images", "volumes", "backups", "vms"] {
        assert!(
            sizes.iter().any(|(p, s)| p == want && *s == 3),
            "{name}: {want} at size 3 in {sizes:?}"
        );
    }
    // The mgr makes its own pool only when its modules load (a minimal root may lack their
    // Python dependencies); when it is there, it is sized like the others.
    if let Some((_, s)) = sizes.iter().find(|(p, _)| p == mgr_pool) {
        assert_eq!(
            *s, 3,
            "{name}: {mgr_pool} is sized like the other pools: {sizes:?}"
        );
    }
    // One host: the rule's failure domain is the OSD.
    let rule = c.ceph_json(&["osd", "pool", "get", "volumes", "crush_rule"]);
    let dump = c.ceph_json(&[
        "osd",
        "crush",
        "rule",
        "dump",
        rule["crush_rule"].as_str().unwrap(),
    ]);
    assert!(
        dump["steps"].to_string().contains("\"type\":\"osd\""),
        "{name}: failure domain osd: {dump}"
    );
    let conf = c.conf();
    c.tool(
        "rbd",
        &[
            "-c",
            &conf,
            "create",
            "volumes/release-check",
            "--size",
            "64",
        ],
    );
    let bench = c.tool(
        "rbd",
        &[
            "-c",
            &conf,
            "bench",
            "volumes/release-check",
            "--io-type",
            "write",
            "--io-total",
            "8M",
        ],
    );
    assert!(bench.contains("elapsed"), "{name}: {bench}");
    let v = c.cb_ok(&["pools", "init", "--single-node"]);
    assert_eq!(
        v["changed"], false,
        "{name}: a rerun changes nothing: {v:#}"
    );
}

fn zap_of_a_stopped_osd_leaves_no_label_copy(
    c: &ReleaseCluster,
    suite: Suite,
    main: &LoopDisk,
    db_osd: u64,
) {
    let name = c.name();
    let conf = c.conf();
    // Zap of a stopped OSD leaves no BlueStore label copy (the release's own tool agrees).
    let osd_of_main = c.cb_ok(&["--label-prefix", "RL", "osd", "list"])["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["partitions"]
                .to_string()
                .contains(&format!("\"{}\"", main.part(1)))
        })
        .and_then(|o| o["osd_id"].as_u64())
        .expect("the main disk's OSD is listed");
    assert_ne!(osd_of_main, db_osd);
    let main_part = main.part(1);
    let _ = c.tool_output(
        "ceph",
        &["-c", &conf, "osd", "out", &osd_of_main.to_string()],
    );
    let run = c.root.join(c.state.trim_start_matches('/')).join("run");
    let pidfile = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.to_string_lossy()
                .ends_with(&format!("osd.{osd_of_main}.pid"))
        })
        .unwrap_or_else(|| {
            panic!(
                "{name}: no pidfile of osd.{osd_of_main} in {}",
                run.display()
            )
        });
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    sh("kill", &[pid.trim()]);
    wait_for(
        || c.osds().iter().any(|(id, up)| *id == osd_of_main && !*up),
        60,
        &format!("{name}: osd.{osd_of_main} down"),
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    // Before: the release's tool reads the label, and from Squid (19) on the copy at 1 GiB of
    // the partition is there too, so the checks after the zap can fail.
    let label = c.tool_output("ceph-bluestore-tool", &["show-label", "--dev", &main_part]);
    assert!(
        text(&label).contains("osd_uuid"),
        "{name}: {}",
        text(&label)
    );
    let copy_before = label_at(main, MIB + GIB);
    assert_eq!(
        copy_before,
        suite.ceph_major >= 19,
        "{name}: label copy at 1 GiB before the zap"
    );
    let out = c.cb(&["disks", "zap", main.path(), "--force"]);
    assert!(out.status.success(), "{name}: {}", text(&out));
    // After: the same tool on the old partition's bytes (a read-only loop device at its offset;
    // the zap removed the partition itself) finds no label.
    let region = sh(
        "losetup",
        &[
            "-f",
            "--show",
            "-r",
            "-o",
            &MIB.to_string(),
            main.file.to_str().unwrap(),
        ],
    )
    .trim()
    .to_string();
    let label = c.tool_output("ceph-bluestore-tool", &["show-label", "--dev", &region]);
    let _ = std::process::Command::new("losetup")
        .args(["-d", &region])
        .output();
    assert!(
        !text(&label).contains("osd_uuid"),
        "{name}: {}",
        text(&label)
    );
    for off in [0u64, GIB] {
        assert!(
            !label_at(main, MIB + off),
            "{name}: a label copy is left at {off} of the old partition"
        );
    }
}

/// Whether a BlueStore label starts at byte `offset` of `disk`.
fn label_at(disk: &LoopDisk, offset: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&disk.dev).unwrap();
    let mut buf = vec![0u8; 4096];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut buf).unwrap();
    buf.starts_with(b"bluestore block device")
}

fn wait_for(mut ok: impl FnMut() -> bool, secs: u64, what: &str) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(
            start.elapsed().as_secs() < secs,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn reef_18_2_end_to_end() {
    if root_or_skip("Ceph 18 (trixie)") {
        end_to_end(REEF);
    }
}

#[test]
fn tentacle_20_2_end_to_end() {
    if root_or_skip("Ceph 20 (sid)") {
        end_to_end(TENTACLE);
    }
}
