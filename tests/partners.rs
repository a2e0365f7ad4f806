//! Partners on other devices, on a real cluster.
//!
//! One fast device for several slow ones: `osd prepare A B --db FAST
//! --db-slots 4` carves a block.db slot per OSD and leaves the rest; a dry run shows the whole
//! carve-up and writes nothing; a run that needs more slots than are free is refused before
//! anything is written (every disk byte for byte the same); a later `osd prepare C --db FAST`
//! takes the next free slot; `osd remove` gives a slot back without touching the other OSDs'
//! slots, and the next OSD takes it; `--keep-id` keeps the slot for the replacement, which
//! takes it again in place. Root only. (Ceph's own safety answers are tested in day_two.rs;
//! here `osd remove` is passed `--force`: the cluster holds none of the test's data, and the
//! manager's own pool on one host has no other copy to wait for.)
//!
//! WAL slots the same way, on a faster disk than the DBs' (`--wal FASTER --wal-slots N`):
//! each OSD's block.wal in its slot, given back by `osd remove` with its db slot.
//!
//! An external block partition (Kolla's `..._BS_<G>_B`): the OSD's data on it, the main
//! label's disk keeps a 100 MiB identity partition; cut off after mkfs, a rerun converges;
//! `osd activate` starts it from the `_B` partition's BlueStore label.
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
const MIB: u64 = 1 << 20;
/// Each test's own label prefix: the other tests' OSDs on this host (they run side by side,
/// each on a cluster of its own, all with ids from 0) stay out of its view. With one prefix,
/// `osd activate --all` of the `_B` test saw a second osd.0 (the WAL test's) and could not
/// tell which one its `_B` partition (on a disk the test labelled) belongs to.
const PREFIX: &str = "SL";
const WAL_PREFIX: &str = "SW";
const B_PREFIX: &str = "SB";

fn cb(c: &TestCluster, args: &[&str]) -> serde_json::Value {
    c.cb_in(PREFIX, args)
}

fn cb_fails(c: &TestCluster, args: &[&str]) -> (i32, String) {
    c.cb_in_fails(PREFIX, args)
}

/// The fast disk's partitions as `disks list` shows them: (number, start MiB, size MiB, label).
fn slots_of(c: &TestCluster, fast: &LoopDisk) -> Vec<(u64, u64, u64, String)> {
    let list = cb(c, &["disks", "list", fast.path()]);
    let mut out: Vec<(u64, u64, u64, String)> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "partition")
        .map(|d| {
            (
                d["partition_number"].as_u64().unwrap(),
                d["start_bytes"].as_u64().unwrap() / MIB,
                d["size_bytes"].as_u64().unwrap() / MIB,
                d["partition_name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn up(c: &TestCluster, id: u64) -> bool {
    c.osds().iter().any(|(i, up, _)| *i == id && *up)
}

/// The OSD's block.db (`kind` "db") or block.wal ("wal"), as the OSD itself reports it.
fn bluefs_of(c: &TestCluster, id: u64, kind: &str) -> String {
    let meta = c.ceph_json(&["osd", "metadata", &id.to_string()]);
    assert_eq!(meta[format!("bluefs_dedicated_{kind}")], "1", "{meta:#}");
    meta[format!("bluefs_{kind}_partition_path")]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn db_of(c: &TestCluster, id: u64) -> String {
    bluefs_of(c, id, "db")
}

fn paths(slow: &[LoopDisk]) -> [&str; 4] {
    [
        slow[0].path(),
        slow[1].path(),
        slow[2].path(),
        slow[3].path(),
    ]
}

fn sums(disks: &[&LoopDisk]) -> Vec<String> {
    disks.iter().map(|d| d.checksum()).collect()
}

fn prepared_id(v: &serde_json::Value, i: usize) -> u64 {
    assert_eq!(v["osds"][i]["action"], "created", "{v:#}");
    v["osds"][i]["osd_id"].as_u64().unwrap()
}

#[test]
fn one_fast_disk_carries_the_dbs_of_several_osds_in_slots() {
    if !root_or_skip("one_fast_disk_carries_the_dbs_of_several_osds_in_slots") {
        return;
    }
    let slow: Vec<LoopDisk> = (0..4).map(|_| LoopDisk::new(2 * GIB)).collect();
    let fast = LoopDisk::new(2 * GIB);
    let bystander = LoopDisk::new(GIB);
    let c = TestCluster::new();
    let untouched = bystander.checksum();
    dry_run_and_refusal(&c, &slow, &fast, &bystander);
    let (ida, idb, idc) = two_osds_then_a_third(&c, &slow, &fast);
    remove_frees_a_slot_and_keep_id_keeps_one(&c, &slow, &fast, [ida, idb, idc]);
    assert_eq!(
        bystander.checksum(),
        untouched,
        "the bystander is untouched"
    );
    drop(c);
}

/// The dry run shows the whole carve-up and writes nothing; more OSDs than slots are refused.
fn dry_run_and_refusal(c: &TestCluster, slow: &[LoopDisk], fast: &LoopDisk, bystander: &LoopDisk) {
    let [a, b, cc, _] = paths(slow);
    let fp = fast.path();
    let before = sums(&[&slow[0], &slow[1], &slow[2], fast, bystander]);
    // The dry run shows the whole carve-up and writes nothing.
    let plan = cb(
        c,
        &[
            "osd",
            "prepare",
            a,
            b,
            cc,
            "--db",
            fp,
            "--db-slots",
            "4",
            "--dry-run",
        ],
    );
    let carve: Vec<(u64, u64, u64)> = (0..3)
        .map(|i| {
            let s = &plan["osds"][i]["plan"]["db_slot"];
            assert_eq!(s["disk"], fp, "{plan:#}");
            (
                s["number"].as_u64().unwrap(),
                s["size_bytes"].as_u64().unwrap() / MIB,
                s["free_after"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(carve, [(1, 511, 3), (2, 511, 2), (3, 511, 1)], "{plan:#}");
    // More OSDs than slots: refused before anything is written, saying what is left.
    let (code, err) = cb_fails(
        c,
        &["osd", "prepare", a, b, cc, "--db", fp, "--db-slots", "2"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("has 2 free slot(s) of 1023 MiB (0 in use) but this run needs 3"),
        "{err}"
    );
    assert_eq!(
        sums(&[&slow[0], &slow[1], &slow[2], fast, bystander]),
        before,
        "nothing was written"
    );
}

/// Two OSDs in slots 1 and 2, then a third without --db-slots in slot 3.
fn two_osds_then_a_third(c: &TestCluster, slow: &[LoopDisk], fast: &LoopDisk) -> (u64, u64, u64) {
    let [a, b, cc, _] = paths(slow);
    let fp = fast.path();
    // Two OSDs now: slots 1 and 2; the rest of the disk stays unpartitioned.
    let v = cb(c, &["osd", "prepare", a, b, "--db", fp, "--db-slots", "4"]);
    let (ida, idb) = (prepared_id(&v, 0), prepared_id(&v, 1));
    cb(c, &["osd", "activate", "--all"]);
    let slots = slots_of(c, fast);
    assert_eq!(
        slots.iter().map(|s| (s.0, s.1, s.2)).collect::<Vec<_>>(),
        [(1, 1, 511), (2, 512, 511)],
        "{slots:?}"
    );
    assert_eq!(slots[0].3, format!("{PREFIX}_DATA_BS_{ida}_D"));
    assert_eq!(slots[1].3, format!("{PREFIX}_DATA_BS_{idb}_D"));
    assert!(up(c, ida) && up(c, idb));
    assert_eq!(db_of(c, ida), fast.part(1));
    assert_eq!(db_of(c, idb), fast.part(2));

    // A later OSD without --db-slots: the next free slot, of the same size, added in place
    // while the other two OSDs run on the disk.
    // Cut off right after its entry was added and the kernel told (step 3): the rerun takes
    // the same slot again instead of a second one.
    let conf = c.conf();
    let args = [
        "--label-prefix",
        PREFIX,
        "--conf",
        conf.to_str().unwrap(),
        "osd",
        "prepare",
        cc,
        "--db",
        fp,
    ];
    let out = c.cb_env(&args, &[("CEPHBOOT_FAULT_AFTER_STEP", "3")]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = cb(c, &["osd", "prepare", cc, "--db", fp]);
    let idc = prepared_id(&v, 0);
    assert!(
        v["osds"][0]["prepared"]["partitions"]
            .to_string()
            .contains(&fast.part(3)),
        "{v:#}"
    );
    cb(c, &["osd", "activate", "--all"]);
    let slots = slots_of(c, fast);
    assert_eq!(
        (slots[2].0, slots[2].1, slots[2].2),
        (3, 1023, 511),
        "{slots:?}"
    );
    assert!(up(c, ida) && up(c, idb) && up(c, idc), "{:?}", c.osds());
    assert_eq!(db_of(c, idc), fast.part(3));

    (ida, idb, idc)
}

/// osd B's slot given back and taken by the next OSD; C's kept for its replacement.
fn remove_frees_a_slot_and_keep_id_keeps_one(
    c: &TestCluster,
    slow: &[LoopDisk],
    fast: &LoopDisk,
    ids: [u64; 3],
) {
    let [ida, idb, idc] = ids;
    let [_, b, cc, d] = paths(slow);
    let fp = fast.path();
    // Removing osd B gives its slot back; A's and C's stay, and they keep running.
    let r = cb(c, &["osd", "remove", &idb.to_string(), "--force"]);
    assert_eq!(r["freed"], serde_json::json!([fast.part(2)]), "{r:#}");
    assert_eq!(r["zapped"], serde_json::json!([b]), "{r:#}");
    let slots = slots_of(c, fast);
    assert_eq!(
        slots.iter().map(|s| s.0).collect::<Vec<_>>(),
        [1, 3],
        "{slots:?}"
    );
    assert!(up(c, ida) && up(c, idc), "{:?}", c.osds());
    // The next OSD takes the given-back slot, at the same place.
    let v = cb(c, &["osd", "prepare", d, "--db", fp]);
    let idd = prepared_id(&v, 0);
    cb(c, &["osd", "activate", "--all"]);
    let slots = slots_of(c, fast);
    assert_eq!(
        (slots[1].0, slots[1].1, slots[1].2),
        (2, 512, 511),
        "{slots:?}"
    );
    assert_eq!(db_of(c, idd), fast.part(2));

    // --keep-id keeps C's slot for its replacement, which takes it again in place.
    let r = cb(
        c,
        &["osd", "remove", &idc.to_string(), "--keep-id", "--force"],
    );
    assert_eq!(r["kept"], serde_json::json!([fast.part(3)]), "{r:#}");
    assert_eq!(slots_of(c, fast).len(), 3);
    // One free slot (the fourth; C's is kept for its replacement): a run needing two is
    // refused, and neither disk is written.
    let free_disks = sums(&[&slow[1], &slow[2]]);
    let (code, err) = cb_fails(c, &["osd", "prepare", b, cc, "--db", fp]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("has 1 free slot(s) of 511 MiB (3 in use) but this run needs 2"),
        "{err}"
    );
    assert_eq!(
        sums(&[&slow[1], &slow[2]]),
        free_disks,
        "nothing was written"
    );
    let v = cb(
        c,
        &[
            "osd",
            "prepare",
            b,
            "--db",
            fp,
            "--osd-id",
            &idc.to_string(),
        ],
    );
    assert_eq!(prepared_id(&v, 0), idc, "{v:#}");
    assert!(
        v["osds"][0]["prepared"]["partitions"]
            .to_string()
            .contains(&fast.part(3)),
        "{v:#}"
    );
    cb(c, &["osd", "activate", "--all"]);
    let slots = slots_of(c, fast);
    assert_eq!(
        (slots[2].0, slots[2].1, slots[2].2),
        (3, 1023, 511),
        "{slots:?}"
    );
    assert_eq!(slots[2].3, format!("{PREFIX}_DATA_BS_{idc}_D"));
    assert!(up(c, ida) && up(c, idc) && up(c, idd), "{:?}", c.osds());
}

#[test]
fn a_faster_disk_carries_the_wals_of_several_osds_in_slots_beside_their_db_slots() {
    if !root_or_skip(
        "a_faster_disk_carries_the_wals_of_several_osds_in_slots_beside_their_db_slots",
    ) {
        return;
    }
    let slow: Vec<LoopDisk> = (0..2).map(|_| LoopDisk::new(2 * GIB)).collect();
    let fast_db = LoopDisk::new(2 * GIB);
    let fast_wal = LoopDisk::new(GIB);
    let bystander = LoopDisk::new(GIB);
    let untouched = bystander.checksum();
    let c = TestCluster::new();
    let (a, b) = (slow[0].path(), slow[1].path());
    let (fdb, fwal) = (fast_db.path(), fast_wal.path());
    dry_run_wal_slots_by_size(&c, a, fdb, &fast_wal);
    let v = c.cb_in(
        WAL_PREFIX,
        &[
            "osd",
            "prepare",
            a,
            b,
            "--db",
            fdb,
            "--db-slots",
            "2",
            "--wal",
            fwal,
            "--wal-slots",
            "4",
        ],
    );
    let (ida, idb) = (prepared_id(&v, 0), prepared_id(&v, 1));
    c.cb_in(WAL_PREFIX, &["osd", "activate", "--all"]);
    assert!(up(&c, ida) && up(&c, idb), "{:?}", c.osds());
    // A quarter of the WAL disk each (255 MiB), the rest left for later OSDs; the db slots
    // are halves of the other fast disk.
    assert_eq!(
        slots_of(&c, &fast_wal),
        vec![
            (1, 1, 255, format!("{WAL_PREFIX}_DATA_BS_{ida}_W")),
            (2, 256, 255, format!("{WAL_PREFIX}_DATA_BS_{idb}_W")),
        ]
    );
    assert_eq!(
        slots_of(&c, &fast_db)
            .iter()
            .map(|s| (s.0, s.2, s.3.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, 1023, format!("{WAL_PREFIX}_DATA_BS_{ida}_D")),
            (2, 1023, format!("{WAL_PREFIX}_DATA_BS_{idb}_D")),
        ]
    );
    assert_eq!(bluefs_of(&c, ida, "wal"), fast_wal.part(1));
    assert_eq!(bluefs_of(&c, idb, "wal"), fast_wal.part(2));
    assert_eq!(db_of(&c, idb), fast_db.part(2));
    // Removing A gives both its slots back; B keeps running on its own.
    let r = c.cb_in(WAL_PREFIX, &["osd", "remove", &ida.to_string(), "--force"]);
    let mut freed: Vec<String> = serde_json::from_value(r["freed"].clone()).unwrap();
    freed.sort();
    let mut want = vec![fast_db.part(1), fast_wal.part(1)];
    want.sort();
    assert_eq!(freed, want, "{r:#}");
    assert_eq!(
        slots_of(&c, &fast_wal),
        vec![(2, 256, 255, format!("{WAL_PREFIX}_DATA_BS_{idb}_W"))]
    );
    assert!(up(&c, idb), "{:?}", c.osds());
    assert_eq!(
        bystander.checksum(),
        untouched,
        "the bystander is untouched"
    );
    drop(c);
}

/// `--wal-slot-size`: the dry run shows the carve-up (300 MiB slots of the 1 GiB WAL disk, two
/// left after the first) and writes nothing.
fn dry_run_wal_slots_by_size(c: &TestCluster, main: &str, fdb: &str, fast_wal: &LoopDisk) {
    let before = fast_wal.checksum();
    let fwal = fast_wal.path();
    let plan = c.cb_in(
        WAL_PREFIX,
        &[
            "osd",
            "prepare",
            main,
            "--db",
            fdb,
            "--db-slots",
            "2",
            "--wal",
            fwal,
            "--wal-slot-size",
            "300M",
            "--dry-run",
        ],
    );
    let ws = &plan["osds"][0]["plan"]["wal_slot"];
    assert_eq!(
        (
            ws["disk"].as_str(),
            ws["size_bytes"].as_u64(),
            ws["free_after"].as_u64()
        ),
        (Some(fwal), Some(300 * MIB), Some(2)),
        "{plan:#}"
    );
    assert_eq!(fast_wal.checksum(), before, "a dry run writes nothing");
}

/// A real OSD of another cluster on this host, beside `c`'s osd on `main`: `osd list` names its
/// cluster and does not show `c`'s state of its id as its own. Returns the other cluster, its
/// disk and that disk's checksum (to check it is untouched later).
fn another_clusters_osd_is_listed_as_such(
    c: &TestCluster,
    main: &LoopDisk,
) -> (TestCluster, LoopDisk, String) {
    let other = TestCluster::new();
    let other_disk = LoopDisk::new(2 * GIB);
    other.cb_in(B_PREFIX, &["osd", "prepare", other_disk.path()]);
    let other_was = other_disk.checksum();
    let listed = c.cb_in(B_PREFIX, &["osd", "list"]);
    let row_of = |part: String| {
        listed["osds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["partitions"]["bluestore"] == part.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{part} not listed: {listed:#}"))
    };
    let theirs = row_of(other_disk.part(1));
    assert_eq!(
        theirs["other_cluster"].as_str(),
        Some(other.ceph(&["fsid"]).trim()),
        "{listed:#}"
    );
    assert!(
        theirs["up"].is_null() && theirs["in"].is_null(),
        "{listed:#}"
    );
    let ours = row_of(main.part(1));
    assert!(ours.get("other_cluster").is_none(), "{listed:#}");
    assert_eq!(ours["up"], true, "{listed:#}");
    (other, other_disk, other_was)
}

/// osd.`id` keeps its data on the `_B` partition: the OSD says so, the partitions carry its
/// names, the main one is Kolla's 100 MiB identity partition, and the CRUSH weight follows the
/// data (3 GiB), not the identity partition.
fn the_data_is_on_the_block_partition(c: &TestCluster, main: &LoopDisk, block: &LoopDisk, id: u64) {
    let meta = c.ceph_json(&["osd", "metadata", &id.to_string()]);
    assert_eq!(
        meta["bluestore_bdev_partition_path"],
        block.part(1),
        "{meta:#}"
    );
    let list = c.cb_in(B_PREFIX, &["disks", "list", main.path(), block.path()]);
    let m = device(&list, &main.part(1));
    assert_eq!(
        m["partition_name"],
        format!("{B_PREFIX}_DATA_BS_{id}"),
        "{m:#}"
    );
    assert_eq!(
        m["size_bytes"].as_u64(),
        Some(100 * MIB),
        "Kolla's identity partition"
    );
    let b = device(&list, &block.part(1));
    assert_eq!(
        b["partition_name"],
        format!("{B_PREFIX}_DATA_BS_{id}_B"),
        "{b:#}"
    );
    assert_eq!(b["role"], "bluestore-block");
    let tree = c.ceph_json(&["osd", "tree"]);
    let w = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap()["crush_weight"]
        .as_f64()
        .unwrap();
    assert!(w > 0.002, "weight {w}");
}

#[test]
fn an_external_block_partition_holds_the_data_and_a_cut_off_run_converges() {
    if !root_or_skip("an_external_block_partition_holds_the_data_and_a_cut_off_run_converges") {
        return;
    }
    let main = LoopDisk::labelled(GIB, &format!("{B_PREFIX}_OSD_BOOTSTRAP_BS_XB1"));
    let block = LoopDisk::labelled(3 * GIB, &format!("{B_PREFIX}_OSD_BOOTSTRAP_BS_XB1_B"));
    let bystander = LoopDisk::new(GIB);
    let untouched = bystander.checksum();
    let c = TestCluster::new();
    let conf = c.conf();
    let args = [
        "--label-prefix",
        B_PREFIX,
        "--conf",
        conf.to_str().unwrap(),
        "osd",
        "prepare",
        main.path(),
    ];
    // Cut off after mkfs (step 6): the OSD id exists, CRUSH and the final names do not.
    let out = c.cb_env(&args, &[("CEPHBOOT_FAULT_AFTER_STEP", "6")]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = c.cb_in(B_PREFIX, &["osd", "prepare", main.path()]);
    let id = prepared_id(&v, 0);
    assert!(v["osds"][0]["prepared"]["cleaned_up_osd"].is_u64(), "{v:#}");
    // A disk of another cluster's osd.<id> on the host: the `_B` partition (on a disk with no
    // cluster GUID) still goes to this cluster's osd by the OSD uuid in its BlueStore label;
    // the stranger is skipped and left as it was.
    let stranger = LoopDisk::labelled(GIB, &format!("{B_PREFIX}_DATA_BS_{id}"));
    let stranger_was = stranger.checksum();
    let a = c.cb_in(B_PREFIX, &["osd", "activate", "--all"]);
    assert!(up(&c, id), "{a:#} {:?}", c.osds());
    let actions: Vec<String> = a["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(actions.contains(&"skipped".to_string()), "{a:#}");
    let (_other, other_disk, other_was) = another_clusters_osd_is_listed_as_such(&c, &main);
    assert_eq!(
        c.osds().len(),
        1,
        "the cut-off run's id was purged: {:?}",
        c.osds()
    );
    the_data_is_on_the_block_partition(&c, &main, &block, id);
    // A rerun changes nothing; removal zaps both disks and nothing else.
    let again = c.cb_in(B_PREFIX, &["osd", "prepare", main.path()]);
    assert_eq!(again["osds"][0]["action"], "unchanged", "{again:#}");
    let r = c.cb_in(B_PREFIX, &["osd", "remove", &id.to_string(), "--force"]);
    let mut zapped: Vec<String> = serde_json::from_value(r["zapped"].clone()).unwrap();
    zapped.sort();
    let mut want = vec![main.path().to_string(), block.path().to_string()];
    want.sort();
    assert_eq!(zapped, want, "{r:#}");
    assert_eq!(
        bystander.checksum(),
        untouched,
        "the bystander is untouched"
    );
    assert_eq!(
        stranger.checksum(),
        stranger_was,
        "the stranger is untouched"
    );
    assert_eq!(
        other_disk.checksum(),
        other_was,
        "the other cluster's OSD is untouched"
    );
    drop(c);
}
