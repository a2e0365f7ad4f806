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
    c.cb_in(PREFIX, args)
}

fn cb_fails(c: &TestCluster, args: &[&str]) -> (i32, String) {
    c.cb_in_fails(PREFIX, args)
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

/// A three-OSD cluster on one host with data on it. The cluster is the first field: it is
/// dropped (its OSDs stopped) before the disks are detached.
struct Scene {
    c: TestCluster,
    disks: Vec<LoopDisk>,
    /// The replacement disk.
    spare: LoopDisk,
    /// Never named: must stay byte for byte the same.
    bystander: LoopDisk,
    ids: Vec<u64>,
    payload: std::path::PathBuf,
}

const OBJECTS: [&str; 4] = ["obj-a", "obj-b", "obj-c", "obj-d"];

impl Scene {
    /// Three OSDs; every pool, the manager's own included, on a rule with failure domain osd;
    /// `data` holds one copy of four 8 MiB objects.
    fn new() -> Self {
        let disks: Vec<LoopDisk> = (0..3).map(|_| LoopDisk::new(4 * GIB)).collect();
        let spare = LoopDisk::new(4 * GIB);
        let bystander = LoopDisk::new(GIB);
        let c = TestCluster::new();
        let ids = disks
            .iter()
            .map(|d| {
                cb(&c, &["osd", "prepare", d.path()])["osds"][0]["osd_id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        cb(&c, &["osd", "activate", "--all"]);
        c.pools_of_two_copies_by_osd();
        // `data` starts with one copy: stopping its OSD would leave PGs unavailable.
        c.ceph(&["config", "set", "mon", "mon_allow_pool_size_one", "true"]);
        c.ceph(&[
            "osd",
            "pool",
            "set",
            "data",
            "size",
            "1",
            "--yes-i-really-mean-it",
        ]);
        c.wait_clean(300);
        let payload = c.state.path().join("payload");
        let bytes: Vec<u8> = (0..(8u32 << 20))
            .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[1])
            .collect();
        std::fs::write(&payload, &bytes).unwrap();
        let scene = Scene {
            c,
            disks,
            spare,
            bystander,
            ids,
            payload,
        };
        for o in OBJECTS {
            scene.rados(&["put", o, scene.payload.to_str().unwrap()]);
        }
        scene
    }

    fn rados(&self, args: &[&str]) {
        self.c.rados_data(args);
    }

    fn class_of(&self, id: u64) -> Option<serde_json::Value> {
        self.c.ceph_json(&["osd", "tree"])["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["device_class"].clone())
    }
}

/// One copy: stopping the OSD makes PGs unavailable. Refused, nothing changed.
fn remove_is_refused_while_unsafe(s: &Scene, victim: u64) {
    let disk = &s.disks[1];
    let before = disk.sparse_checksum();
    let id = victim.to_string();
    let (code, err) = cb_fails(&s.c, &["osd", "remove", &id, "--keep-id", "--wait", "3"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("unavailable") && err.contains("--force"),
        "{err}"
    );
    let st = osd_state(&s.c, victim).unwrap();
    assert_eq!(
        (st["up"].as_u64(), st["in"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );
    assert_eq!(
        disk.sparse_checksum(),
        before,
        "the refused OSD's disk is untouched"
    );
}

/// Two copies on three OSDs: once out, its PGs move to the others: safe, destroyed with its
/// id and CRUSH position kept, its disk zapped; a rerun has nothing left to do. Returns its
/// CRUSH host.
fn remove_keeps_the_id_once_its_data_moved(s: &Scene, victim: u64) -> String {
    s.c.ceph(&["osd", "pool", "set", "data", "size", "2"]);
    s.c.wait_clean(300);
    let host = crush_host_of(&s.c, victim).expect("in CRUSH");
    let id = victim.to_string();
    let r = cb(&s.c, &["osd", "remove", &id, "--keep-id", "--wait", "180"]);
    assert_eq!(r["action"], "removed", "{r:#}");
    assert_eq!(r["zapped"][0], s.disks[1].path(), "{r:#}");
    let st = osd_state(&s.c, victim).expect("the id is kept");
    assert!(
        st["state"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "destroyed"),
        "{st}"
    );
    assert_eq!(
        crush_host_of(&s.c, victim).as_deref(),
        Some(host.as_str()),
        "CRUSH position kept"
    );
    let listed = cephboot_json(&["disks", "list", s.disks[1].path()]).1;
    assert_eq!(
        device(&listed, s.disks[1].path())["state"],
        "free",
        "{listed:#}"
    );
    let again = cb(&s.c, &["osd", "remove", &id, "--keep-id"]);
    assert_eq!(again["action"], "unchanged", "{again:#}");
    host
}

/// A live OSD's id is not taken; the destroyed one is, with its position, by a replacement
/// cut off after ceph-osd --mkfs and run again; the data reads back the same.
fn the_replacement_takes_id_position_and_data(s: &Scene, victim: u64, host: &str) {
    let spare_sum = s.spare.sparse_checksum();
    let live = s.ids[0].to_string();
    let (code, err) = cb_fails(&s.c, &["osd", "prepare", s.spare.path(), "--osd-id", &live]);
    assert_eq!(code, 3, "a live OSD's id is not taken: {err}");
    assert!(err.contains("not destroyed"), "{err}");
    assert_eq!(
        s.spare.sparse_checksum(),
        spare_sum,
        "nothing written after the refusal"
    );
    let conf = s.c.conf();
    let id = victim.to_string();
    let replace = [
        "--label-prefix",
        PREFIX,
        "--conf",
        conf.to_str().unwrap(),
        "osd",
        "prepare",
        s.spare.path(),
        "--osd-id",
        &id,
        "--device-class",
        "ssd",
    ];
    let out = s.c.cb_env(&replace, &[("CEPHBOOT_FAULT_AFTER_STEP", "6")]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = s.c.cb_ok(&replace);
    assert_eq!(r["osds"][0]["osd_id"].as_u64(), Some(victim), "{r:#}");
    assert_eq!(r["osds"][0]["prepared"]["device_class"], "ssd", "{r:#}");
    cb(&s.c, &["osd", "activate", &id]);
    assert_eq!(osd_state(&s.c, victim).unwrap()["up"].as_u64(), Some(1));
    assert_eq!(crush_host_of(&s.c, victim).as_deref(), Some(host));
    assert_eq!(
        s.c.osds().len(),
        3,
        "no orphan id from the interrupted replacement"
    );
    s.c.wait_clean(300);
    let back = s.c.state.path().join("back");
    for o in OBJECTS {
        s.rados(&["get", o, back.to_str().unwrap()]);
        assert_eq!(sha256_of(&back), sha256_of(&s.payload), "{o}");
    }
}

/// sysfs says a loop device spins (hdd); the replacement was named ssd. `osd list` says so,
/// with ok-to-stop; pools on the hdd OSDs get a rule of that class, sized for those two.
fn classes_are_shown_and_pools_follow_one(s: &Scene, victim: u64) {
    assert_eq!(s.class_of(victim), Some(serde_json::json!("ssd")));
    for id in [s.ids[0], s.ids[2]] {
        assert_eq!(s.class_of(id), Some(serde_json::json!("hdd")), "osd.{id}");
    }
    let listed = cb(&s.c, &["osd", "list"]);
    let osds = listed["osds"].as_array().unwrap();
    assert!(
        osds.iter()
            .any(|o| o["osd_id"] == victim && o["device_class"] == "ssd"),
        "{listed:#}"
    );
    assert!(
        osds.iter()
            .all(|o| o["ok_to_stop"].is_boolean() && o["partitions"]["bluestore"].is_string()),
        "each OSD says where its block lives and whether it may stop: {listed:#}"
    );
    let pools = cb(&s.c, &["pools", "init", "--device-class", "hdd"]);
    assert_eq!(pools["decision"]["size"], 2, "two hdd OSDs: {pools:#}");
    let rule =
        s.c.ceph_json(&["osd", "crush", "rule", "dump", "replicated_osd_hdd"]);
    assert!(rule.to_string().contains("default~hdd"), "{rule}");
    let volumes =
        s.c.ceph_json(&["osd", "pool", "get", "volumes", "crush_rule"]);
    assert_eq!(volumes["crush_rule"], "replicated_osd_hdd", "{volumes}");
    s.c.wait_clean(300);
}

#[test]
fn remove_refuses_unsafe_then_replace_keeps_id_position_and_data() {
    if !root_or_skip("osd remove and replace") {
        return;
    }
    let s = Scene::new();
    let bystander_sum = s.bystander.checksum();
    let victim = s.ids[1];
    remove_is_refused_while_unsafe(&s, victim);
    let host = remove_keeps_the_id_once_its_data_moved(&s, victim);
    the_replacement_takes_id_position_and_data(&s, victim, &host);
    classes_are_shown_and_pools_follow_one(&s, victim);
    // Purged for good: gone from the map; again is unchanged.
    let id = victim.to_string();
    let r = cb(&s.c, &["osd", "remove", &id, "--wait", "180"]);
    assert_eq!(r["action"], "removed", "{r:#}");
    assert!(osd_state(&s.c, victim).is_none(), "purged");
    assert_eq!(cb(&s.c, &["osd", "remove", &id])["action"], "unchanged");
    assert_eq!(
        s.bystander.checksum(),
        bystander_sum,
        "a disk never named stays untouched"
    );
}

/// Degraded objects and PGs that are not active+clean, as the manager's PG statistics say.
fn degraded_and_unclean(c: &TestCluster) -> (u64, Vec<String>) {
    let dump = c.ceph_json(&["pg", "dump"]);
    let map = &dump["pg_map"];
    let degraded = map["pg_stats_sum"]["stat_sum"]["num_objects_degraded"]
        .as_u64()
        .unwrap();
    let unclean = map["pg_stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] != "active+clean")
        .map(|p| format!("{} {}", p["pgid"], p["state"]))
        .collect();
    (degraded, unclean)
}

/// The defect report: two OSDs, pools of size 2 by OSD, 13 objects. `osd remove 1` once said
/// safe-to-destroy (on PG statistics from before the out) and left every PG with one copy.
/// Now it is refused before anything changes; once a third OSD has taken the data, it goes
/// through and no object is ever left with fewer copies.
#[test]
fn remove_never_leaves_an_object_with_one_copy() {
    if !root_or_skip("osd remove keeps every copy") {
        return;
    }
    let disks: Vec<LoopDisk> = (0..3).map(|_| LoopDisk::new(4 * GIB)).collect();
    let bystander = LoopDisk::new(GIB);
    let c = TestCluster::new();
    let prefix = "RC";
    let prepare = |d: &LoopDisk| -> u64 {
        c.cb_in(prefix, &["osd", "prepare", d.path()])["osds"][0]["osd_id"]
            .as_u64()
            .unwrap()
    };
    let ids: Vec<u64> = disks[..2].iter().map(prepare).collect();
    c.cb_in(prefix, &["osd", "activate", "--all"]);
    c.pools_of_two_copies_by_osd();
    c.wait_clean(300);
    let object = c.state.path().join("object");
    std::fs::write(&object, vec![0x5a_u8; 1 << 20]).unwrap();
    for i in 0..13 {
        c.rados_data(&["put", &format!("o{i}"), object.to_str().unwrap()]);
    }
    c.wait_clean(300);
    let bystander_sum = bystander.checksum();
    let victim = ids[1].to_string();
    let victim_disk = disks[1].sparse_checksum();

    // Two OSDs, size 2: nowhere for the second copy to go. Refused before the out.
    let (code, err) = c.cb_in_fails(prefix, &["osd", "remove", &victim, "--wait", "30"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("pool data keeps 2 copies") && err.contains("only 1 osd would remain"),
        "{err}"
    );
    let st = osd_state(&c, ids[1]).unwrap();
    assert_eq!(
        (st["up"].as_u64(), st["in"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );
    assert_eq!(
        disks[1].sparse_checksum(),
        victim_disk,
        "the refused OSD's disk is untouched"
    );
    c.wait_clean(300);
    assert_eq!(
        degraded_and_unclean(&c),
        (0, vec![]),
        "every object keeps two copies"
    );

    // A third OSD: removal waits for the data to be clean elsewhere, then goes through.
    prepare(&disks[2]);
    c.cb_in(prefix, &["osd", "activate", "--all"]);
    c.wait_clean(300);
    let r = c.cb_in(prefix, &["osd", "remove", &victim, "--wait", "300"]);
    assert_eq!(r["action"], "removed", "{r:#}");
    assert!(osd_state(&c, ids[1]).is_none(), "purged: {r:#}");
    // From the moment it returns, no object has fewer than two copies (the defect showed
    // 13/26 degraded ten seconds after).
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(20) {
        let (degraded, _) = degraded_and_unclean(&c);
        assert_eq!(degraded, 0, "degraded objects after the removal: {r:#}");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    c.wait_clean(300);
    let back = c.state.path().join("back");
    for i in 0..13 {
        c.rados_data(&["get", &format!("o{i}"), back.to_str().unwrap()]);
        assert_eq!(sha256_of(&back), sha256_of(&object), "o{i}");
    }
    assert_eq!(
        bystander.checksum(),
        bystander_sum,
        "a disk never named stays untouched"
    );
}
