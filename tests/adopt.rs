//! OSDs other tools made, taken over by cephboot: an OSD made by the real `ceph-volume raw
//! prepare` (Ceph 16.2's, on a loop disk, against a cluster cephboot bootstrapped) is listed by
//! `osd list` with its origin, started by `osd activate ID` without ceph-volume, and up in the
//! cluster; beside it an OSD cephboot prepared is listed as cephboot's. Its disk is not zapped
//! while it runs; `osd remove` purges it and zaps its whole disk. An OSD made by Kolla's own
//! BlueStore bootstrap steps is listed as `kolla` and started with the key from its xfs, one
//! made by its FileStore steps started with its journal partition and nothing written;
//! FileStore and BlueStore OSDs laid out as ceph-disk did are listed as `ceph-disk`, started
//! without rewriting them, and removed with their disk. Root only.
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
use common::*;

const GIB: u64 = 1 << 30;
const PREFIX: &str = "TAD";

/// What `ceph-volume --cluster NAME` reads and writes at fixed places (`/var/lib/ceph/
/// bootstrap-osd/NAME.keyring`, `/var/lib/ceph/osd/NAME-ID`, a tmpfs): a cluster name of this
/// test's own keeps them apart from anything else on the host, and they are removed on drop.
struct CephVolume {
    name: String,
    conf_dir: tempfile::TempDir,
    bootstrap_keyring: PathBuf,
}

impl CephVolume {
    fn new(c: &TestCluster) -> Self {
        let name = format!("cbraw{}", std::process::id());
        // ceph-volume runs `ceph-osd --mkfs` as the ceph user: the config it reads must be
        // readable by that user, so a minimal copy (fsid and monitors) in a directory of mode
        // 0755.
        let conf_dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            conf_dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let full = std::fs::read_to_string(c.conf()).unwrap();
        let pick = |key: &str| {
            full.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim().replace(' ', "_") == key).then(|| v.trim().to_string())
                })
                .unwrap_or_else(|| panic!("no {key} in {full}"))
        };
        std::fs::write(
            conf_dir.path().join("ceph.conf"),
            format!(
                "[global]\nfsid = {}\nmon_host = {}\n",
                pick("fsid"),
                pick("mon_host")
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/var/lib/ceph/bootstrap-osd").unwrap();
        let bootstrap_keyring =
            PathBuf::from(format!("/var/lib/ceph/bootstrap-osd/{name}.keyring"));
        std::fs::copy(
            c.state.path().join("ceph.client.bootstrap-osd.keyring"),
            &bootstrap_keyring,
        )
        .unwrap();
        CephVolume {
            name,
            conf_dir,
            bootstrap_keyring,
        }
    }

    /// `ceph-volume raw prepare --bluestore --data DEV`: the new OSD's id.
    fn raw_prepare(&self, dev: &str) -> u64 {
        let out = Command::new("ceph-volume")
            .args([
                "--cluster",
                &self.name,
                "raw",
                "prepare",
                "--bluestore",
                "--data",
                dev,
            ])
            .env("CEPH_CONF", self.conf_dir.path().join("ceph.conf"))
            .env("CEPH_VOLUME_ALLOW_LOOP_DEVICES", "1")
            .env("CEPH_VOLUME_LOG_PATH", self.conf_dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "ceph-volume raw prepare: {text}");
        // ceph-volume prepares in a tmpfs at /var/lib/ceph/osd/NAME-ID and leaves it there.
        let id: u64 = std::fs::read_dir("/var/lib/ceph/osd")
            .unwrap()
            .flatten()
            .find_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix(&format!("{}-", self.name))?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no OSD dir of {}: {text}", self.name));
        self.release(id);
        id
    }

    /// Unmounts and removes ceph-volume's OSD dir, as a host that moves to cephboot would.
    fn release(&self, id: u64) {
        let dir = format!("/var/lib/ceph/osd/{}-{id}", self.name);
        let _ = Command::new("umount").arg(&dir).output();
        let _ = std::fs::remove_dir(&dir);
    }
}

impl Drop for CephVolume {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.bootstrap_keyring);
        if let Ok(dirs) = std::fs::read_dir("/var/lib/ceph/osd") {
            for e in dirs.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(id) = n
                    .strip_prefix(&format!("{}-", self.name))
                    .and_then(|i| i.parse().ok())
                {
                    self.release(id);
                }
            }
        }
    }
}

fn listed(list: &serde_json::Value, id: u64) -> &serde_json::Value {
    list["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["osd_id"].as_u64() == Some(id))
        .unwrap_or_else(|| panic!("osd.{id} not listed: {list:#}"))
}

#[test]
fn an_osd_ceph_volume_raw_made_is_listed_with_its_origin_and_started_without_ceph_volume() {
    if !root_or_skip("adopting a ceph-volume raw OSD") {
        return;
    }
    if !Path::new("/usr/sbin/ceph-volume").exists() {
        required_or_skip(
            "adopting a ceph-volume raw OSD",
            "ceph-volume (package ceph-osd)",
        );
        return;
    }
    let raw_disk = LoopDisk::new(3 * GIB);
    let ours_disk = LoopDisk::labelled(3 * GIB, &format!("{PREFIX}_OSD_BOOTSTRAP_BS"));
    let c = TestCluster::new();
    let cv = CephVolume::new(&c);
    let raw_id = cv.raw_prepare(raw_disk.path());

    let made = c.cb_in(PREFIX, &["osd", "prepare", ours_disk.path()]);
    let ours_id = made["osds"][0]["osd_id"].as_u64().unwrap();
    let label = || {
        sh(
            "sh",
            &[
                "-c",
                &format!(
                    "dd if={} bs=4096 count=1 status=none | sha256sum",
                    raw_disk.path()
                ),
            ],
        )
    };
    let label_before = label();

    // Listed, each with who made it; the raw one by its whole disk.
    let list = c.cb_in(PREFIX, &["osd", "list"]);
    let raw = listed(&list, raw_id);
    assert_eq!(raw["origin"], "ceph-volume-raw", "{raw:#}");
    assert_eq!(raw["store"], "bluestore", "{raw:#}");
    assert_eq!(raw["partitions"]["bluestore"], raw_disk.path(), "{raw:#}");
    assert_eq!(raw["up"], false, "{raw:#}");
    assert_eq!(listed(&list, ours_id)["origin"], "cephboot", "{list:#}");
    let conf = c.conf();
    let table = c.cb(&[
        "--label-prefix",
        PREFIX,
        "--conf",
        conf.to_str().unwrap(),
        "osd",
        "list",
    ]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("ORIGIN") && table.contains("ceph-volume-raw"),
        "{table}"
    );
    // Reading it rewrote nothing.
    assert_eq!(label(), label_before, "listing changed the raw OSD's label");

    // Started by cephboot with its own OSD (`--all`): ceph-bluestore-tool prime-osd-dir from
    // the raw OSD's label, its block linked to the whole disk; no ceph-volume involved.
    let a = c.cb_in(PREFIX, &["osd", "activate", "--all"]);
    let action = |id: u64| {
        a["osds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["osd_id"].as_u64() == Some(id))
            .map(|o| o["action"].clone())
    };
    assert_eq!(action(raw_id), Some("started".into()), "{a:#}");
    assert_eq!(action(ours_id), Some("started".into()), "{a:#}");
    c.wait_all_up(180);
    let dir = c.state.path().join(format!("osd/ceph-{raw_id}"));
    assert_eq!(
        std::fs::read_link(dir.join("block")).unwrap(),
        PathBuf::from(raw_disk.path())
    );
    assert!(std::fs::read_to_string(dir.join("keyring"))
        .unwrap()
        .contains(&format!("[osd.{raw_id}]")));
    let again = c.cb_in(PREFIX, &["osd", "activate", &raw_id.to_string()]);
    assert_eq!(again["osds"][0]["action"], "unchanged", "{again:#}");
    let listed_up = c.cb_in(PREFIX, &["osd", "list"]);
    assert_eq!(listed(&listed_up, raw_id)["up"], true, "{listed_up:#}");

    removed_with_its_disk(&c, &raw_disk, &ours_disk, raw_id, ours_id, &label);
    drop(cv);
    drop(c);
}

/// The raw OSD's disk is not zapped while it runs (refused, its label unchanged, as the running
/// OSD left it); `osd remove` then purges it and zaps its whole disk, and cephboot's OSD beside
/// it stays up with its table unchanged.
fn removed_with_its_disk(
    c: &TestCluster,
    raw_disk: &LoopDisk,
    ours_disk: &LoopDisk,
    raw_id: u64,
    ours_id: u64,
    label: &dyn Fn() -> String,
) {
    // Its disk is not zapped while the OSD runs: refused, the label unchanged (as the running
    // OSD left it: ceph-osd writes its require_osd_release into the label once it runs).
    let label_running = label();
    let (code, err) = c.cb_in_fails(PREFIX, &["disks", "zap", raw_disk.path()]);
    assert_eq!(code, 3, "zap of a running raw OSD's disk: {err}");
    assert_eq!(
        label(),
        label_running,
        "a refused zap changed the raw OSD's label"
    );

    // Removed like cephboot's own: taken out safely, stopped, purged, and its whole disk
    // zapped (no BlueStore label left); cephboot's OSD beside it up, its table unchanged.
    let ours_table = read_at(&ours_disk.dev, 0, 1 << 20);
    removed_with_its_whole_disk(c, PREFIX, raw_disk, raw_id, ours_id);
    let sigs = Command::new("blkid")
        .args(["-p", raw_disk.path()])
        .output()
        .unwrap();
    assert!(
        sigs.stdout.is_empty(),
        "blkid still finds: {}",
        String::from_utf8_lossy(&sigs.stdout)
    );
    assert!(
        !c.osds().iter().any(|(id, _, _)| *id == raw_id),
        "osd.{raw_id} is still in the map"
    );
    assert_eq!(read_at(&ours_disk.dev, 0, 1 << 20), ours_table);
    assert!(
        c.osds().iter().any(|(id, up, _)| *id == ours_id && *up),
        "cephboot's OSD went down"
    );
    let after = c.cb_in(PREFIX, &["disks", "list", raw_disk.path()]);
    assert_eq!(after["devices"][0]["state"], "free", "{after:#}");
}

/// `ceph auth add osd.ID` with the key of `keyring`, as the bootstraps of other tools did.
fn auth_add(c: &TestCluster, id: u64, keyring: &str) {
    c.ceph(&[
        "auth",
        "add",
        &format!("osd.{id}"),
        "osd",
        "allow *",
        "mon",
        "allow profile osd",
        "-i",
        keyring,
    ]);
}

/// `ceph osd crush add osd.ID` under this host's bucket, as the bootstraps of other tools did.
fn crush_add(c: &TestCluster, id: u64) {
    let host = sh("hostname", &["-s"]).trim().to_string();
    c.ceph(&[
        "osd",
        "crush",
        "add",
        &format!("osd.{id}"),
        "0.0029",
        &format!("host={host}"),
    ]);
}

/// The Kolla test's label prefix: its OSD (id 0 of its own cluster) stays out of the other
/// test's listing.
const KOLLA_PREFIX: &str = "TKB";

/// Kolla's own BlueStore bootstrap (kolla's `ceph-osd` extend_start.sh, the block on the same
/// disk, block.db and block.wal on partitions of a fast disk),
/// run step by step as Kolla runs it, with the cluster's config and the partition node where
/// Kolla links `/dev/disk/by-partlabel/…` (this host has no udev). Its names use this test's
/// label prefix in place of `KOLLA` (the grammar is the same).
fn kolla_bluestore_osd(c: &TestCluster, disk: &LoopDisk, fast: &LoopDisk) -> u64 {
    let conf = c.conf();
    let conf = conf.to_str().unwrap();
    const CEPH_OSD_TYPE: &str = "4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D";
    const BS_WAL_TYPE: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
    const BS_DB_TYPE: &str = "CE8DF73C-B89D-45B0-AD98-D45332906D90";
    // The operator's partitions on a fast disk for its block.db (1) and block.wal (2), which
    // Kolla's inventory names by disk and partition number.
    sh("sgdisk", &["-n1:1M:+1G", "-n2:0:+256M", "--", fast.path()]);
    fast.partx_add();
    sh("sgdisk", &["--zap-all", "--", disk.path()]);
    sh(
        "sgdisk",
        &["--new=1:0:+100M", "--mbrtogpt", "--", disk.path()],
    );
    sh(
        "sgdisk",
        &["--largest-new=2", "--mbrtogpt", "--", disk.path()],
    );
    disk.partx_add();
    let uuid = sh("uuidgen", &[]).trim().to_string();
    let id: u64 = c.ceph(&["osd", "new", &uuid]).trim().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Kolla's 100 MB xfs, as the xfsprogs of its day made it: today's refuses a filesystem under
    // 300 MB except for its own test suite (fstests' variables).
    let mkfs = Command::new("mkfs.xfs")
        .args(["-f", "-q", &disk.part(1)])
        .envs([("TEST_DEV", "1"), ("TEST_DIR", "1"), ("QA_CHECK_FS", "1")])
        .output()
        .unwrap();
    assert!(mkfs.status.success(), "{mkfs:?}");
    sh("mount", &[&disk.part(1), d]);
    std::fs::write(dir.path().join("type"), "bluestore\n").unwrap();
    let keyring = format!("{d}/keyring");
    let id_s = id.to_string();
    let osd = |extra: &[&str]| {
        let mut args = vec![
            "-c",
            conf,
            "-i",
            &id_s,
            "--osd-data",
            d,
            "--keyring",
            &keyring,
            "--no-mon-config",
        ];
        args.extend_from_slice(extra);
        let out = Command::new("ceph-osd").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "ceph-osd {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    osd(&["--mkkey"]);
    sh(
        "sgdisk",
        &[
            &format!("--change-name=2:{KOLLA_PREFIX}_DATA_BS_{id}_B"),
            &format!("--typecode=2:{CEPH_OSD_TYPE}"),
            "--",
            disk.path(),
        ],
    );
    for (n, suffix, code, link) in [
        (1, "D", BS_DB_TYPE, "block.db"),
        (2, "W", BS_WAL_TYPE, "block.wal"),
    ] {
        sh(
            "sgdisk",
            &[
                &format!("--change-name={n}:{KOLLA_PREFIX}_DATA_BS_{id}_{suffix}"),
                &format!("--typecode={n}:{code}"),
                "--",
                fast.path(),
            ],
        );
        std::os::unix::fs::symlink(fast.part(n), dir.path().join(link)).unwrap();
    }
    std::os::unix::fs::symlink(disk.part(2), dir.path().join("block")).unwrap();
    osd(&["--mkfs", "--osd-uuid", &uuid]);
    auth_add(c, id, &keyring);
    sh("umount", &[d]);
    crush_add(c, id);
    sh(
        "sgdisk",
        &[
            &format!("--change-name=1:{KOLLA_PREFIX}_DATA_BS_{id}"),
            &format!("--typecode=1:{CEPH_OSD_TYPE}"),
            "--",
            disk.path(),
        ],
    );
    id
}

#[test]
fn an_osd_kollas_bluestore_bootstrap_made_is_listed_as_kolla_and_started_with_its_key() {
    if !root_or_skip("adopting Kolla's BlueStore OSD") {
        return;
    }
    let disk = LoopDisk::new(3 * GIB);
    let fast = LoopDisk::new(2 * GIB);
    let c = TestCluster::new();
    let id = kolla_bluestore_osd(&c, &disk, &fast);
    let tables = || read_at(&disk.dev, 0, 1 << 20);
    let xfs = || sh("sha256sum", &[&disk.part(1)]);
    let fast_tables = || read_at(&fast.dev, 0, 1 << 20);
    let (tables_before, xfs_before, fast_before) = (tables(), xfs(), fast_tables());

    let list = c.cb_in(KOLLA_PREFIX, &["osd", "list"]);
    let o = listed(&list, id);
    assert_eq!(o["origin"], "kolla", "{o:#}");
    assert_eq!(o["store"], "bluestore", "{o:#}");
    assert_eq!(o["partitions"]["bluestore-block"], disk.part(2), "{o:#}");
    assert_eq!(o["partitions"]["bluestore-db"], fast.part(1), "{o:#}");
    assert_eq!(o["partitions"]["bluestore-wal"], fast.part(2), "{o:#}");

    // Started by cephboot: its directory primed from the block's label, the key (which Kolla
    // keeps only on its xfs) read from the xfs mounted read-only, the block linked.
    let a = c.cb_in(KOLLA_PREFIX, &["osd", "activate", &id.to_string()]);
    assert_eq!(a["osds"][0]["action"], "started", "{a:#}");
    c.wait_all_up(180);
    let dir = c.state.path().join(format!("osd/ceph-{id}"));
    let key = std::fs::read_to_string(dir.join("keyring")).unwrap();
    assert!(key.contains(&format!("[osd.{id}]")), "{key}");
    assert!(
        c.ceph(&["auth", "get", &format!("osd.{id}")])
            .contains(key.lines().nth(1).unwrap().trim()),
        "the key cephboot started it with is not the cluster's for osd.{id}"
    );
    assert_eq!(
        std::fs::read_link(dir.join("block")).unwrap(),
        PathBuf::from(disk.part(2))
    );
    let meta = c.ceph_json(&["osd", "metadata", &id.to_string()]);
    assert_eq!(meta["bluefs_dedicated_db"], "1", "{meta:#}");
    assert_eq!(meta["bluefs_dedicated_wal"], "1", "{meta:#}");
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounted.contains(&format!(" {} ", disk.part(1))),
        "Kolla's xfs is still mounted: {mounted}"
    );
    // Its devices were read, never written: the tables and the xfs as Kolla left them.
    assert_eq!(tables(), tables_before, "activation changed the GPT");
    assert_eq!(xfs(), xfs_before, "activation changed Kolla's xfs");
    assert_eq!(
        fast_tables(),
        fast_before,
        "activation changed the fast disk's GPT"
    );
    let again = c.cb_in(KOLLA_PREFIX, &["osd", "activate", &id.to_string()]);
    assert_eq!(again["osds"][0]["action"], "unchanged", "{again:#}");
    drop(c);
}

/// The ceph-disk test's label prefix (no OSD of it is labelled; its own cluster's ids).
const CEPH_DISK_PREFIX: &str = "TCD";
const CEPH_OSD_DATA_TYPE: &str = "4fbd7e29-9d25-41b8-afd0-062c0ceff05d";
const CEPH_JOURNAL_TYPE: &str = "45b0969e-9b03-4f30-b4c6-b4b80ceff106";
const CEPH_BLOCK_TYPE: &str = "cafecafe-9b03-4f30-b4c6-b4b80ceff106";

/// `/dev/disk/by-partuuid/<uuid>` links, as udev makes them on the hosts ceph-disk ran on (this
/// one has no udev); removed on drop.
struct PartuuidLinks(Vec<PathBuf>);

impl PartuuidLinks {
    fn add(&mut self, uuid: &str, node: &str) -> String {
        std::fs::create_dir_all("/dev/disk/by-partuuid").unwrap();
        let link = PathBuf::from(format!("/dev/disk/by-partuuid/{uuid}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(node, &link).unwrap();
        self.0.push(link.clone());
        link.to_string_lossy().into_owned()
    }
}

impl Drop for PartuuidLinks {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = std::fs::remove_file(l);
        }
    }
}

/// ceph-disk's partitions for one OSD (before its directory is made): FileStore's journal first
/// and the data over the rest, BlueStore's 100 MB of data and the block over the rest; the
/// partner named and typed with PARTUUID `partner_uuid`, the data named `ceph data`.
fn ceph_disk_layout(disk: &LoopDisk, store: &str, partner_uuid: &str) {
    // FileStore: the journal first, the data over the rest; BlueStore: 100 MB of data, the
    // block over the rest.
    let (data_n, partner_n) = (1, 2);
    let (partner_type, partner_name, data_size) = match store {
        "filestore" => (CEPH_JOURNAL_TYPE, "ceph journal", "0"),
        _ => (CEPH_BLOCK_TYPE, "ceph block", "+100M"),
    };
    let mut args = vec!["--zap-all".to_string(), "--".into(), disk.path().into()];
    sh(
        "sgdisk",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    args = if store == "filestore" {
        vec![
            format!("--new={partner_n}:0:+512M"),
            format!("--new={data_n}:0:{data_size}"),
        ]
    } else {
        vec![
            format!("--new={data_n}:0:{data_size}"),
            format!("--new={partner_n}:0:0"),
        ]
    };
    args.extend([
        format!("--change-name={partner_n}:{partner_name}"),
        format!("--typecode={partner_n}:{partner_type}"),
        format!("--partition-guid={partner_n}:{partner_uuid}"),
        format!("--change-name={data_n}:ceph data"),
        "--".into(),
        disk.path().into(),
    ]);
    sh(
        "sgdisk",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

/// One OSD as `ceph-disk prepare` and its first activation left it (Luminous): a `ceph data`
/// xfs partition holding the OSD directory (`ceph_fsid`, `fsid`, `magic`, the partner's uuid
/// file and link by PARTUUID, then `ceph-osd --mkfs --mkkey`), the key added, the OSD in CRUSH,
/// the data partition's type set to Ceph's OSD type last.
fn ceph_disk_osd(c: &TestCluster, disk: &LoopDisk, store: &str, links: &mut PartuuidLinks) -> u64 {
    let conf = c.conf();
    let conf = conf.to_str().unwrap();
    let (partner, partner_file) = match store {
        "filestore" => ("journal", "journal_uuid"),
        _ => ("block", "block_uuid"),
    };
    let partner_uuid = sh("uuidgen", &[]).trim().to_string();
    let osd_uuid = sh("uuidgen", &[]).trim().to_string();
    let (data_n, partner_n) = (1, 2);
    ceph_disk_layout(disk, store, &partner_uuid);
    disk.partx_add();
    let data = disk.part(data_n);
    let partner_link = links.add(&partner_uuid, &disk.part(partner_n));
    let mkfs = Command::new("mkfs.xfs")
        .args(["-f", "-q", &data])
        .envs([("TEST_DEV", "1"), ("TEST_DIR", "1"), ("QA_CHECK_FS", "1")])
        .output()
        .unwrap();
    assert!(mkfs.status.success(), "{mkfs:?}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    sh("mount", &[&data, d]);
    let fsid = c.ceph(&["fsid"]).trim().to_string();
    for (f, v) in [
        ("ceph_fsid", fsid.as_str()),
        ("fsid", osd_uuid.as_str()),
        ("magic", "ceph osd volume v026"),
        (partner_file, partner_uuid.as_str()),
    ] {
        std::fs::write(dir.path().join(f), format!("{v}\n")).unwrap();
    }
    std::os::unix::fs::symlink(&partner_link, dir.path().join(partner)).unwrap();
    let id: u64 = c.ceph(&["osd", "new", &osd_uuid]).trim().parse().unwrap();
    let id_s = id.to_string();
    let keyring = format!("{d}/keyring");
    let journal = format!("{d}/journal");
    let mut osd_args = vec![
        "-c",
        conf,
        "-i",
        &id_s,
        "--mkfs",
        "--mkkey",
        "--osd-data",
        d,
        "--osd-uuid",
        &osd_uuid,
        "--keyring",
        &keyring,
        "--osd-objectstore",
        store,
        "--no-mon-config",
    ];
    if store == "filestore" {
        osd_args.extend(["--osd-journal", &journal]);
    }
    let out = Command::new("ceph-osd").args(&osd_args).output().unwrap();
    assert!(
        out.status.success(),
        "ceph-osd --mkfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    auth_add(c, id, &keyring);
    for marker in ["ready", "active", "systemd"] {
        std::fs::write(dir.path().join(marker), "").unwrap();
    }
    sh("umount", &[d]);
    crush_add(c, id);
    sh(
        "sgdisk",
        &[
            &format!("--typecode={data_n}:{CEPH_OSD_DATA_TYPE}"),
            "--",
            disk.path(),
        ],
    );
    id
}

#[test]
fn osds_ceph_disk_made_are_listed_as_ceph_disk_and_started_without_rewriting_them() {
    if !root_or_skip("adopting ceph-disk OSDs") {
        return;
    }
    let fs_disk = LoopDisk::new(3 * GIB);
    let bs_disk = LoopDisk::new(3 * GIB);
    let c = TestCluster::new();
    let mut links = PartuuidLinks(Vec::new());
    let fs_id = ceph_disk_osd(&c, &fs_disk, "filestore", &mut links);
    let bs_id = ceph_disk_osd(&c, &bs_disk, "bluestore", &mut links);
    let bs_xfs = || sh("sha256sum", &[&bs_disk.part(1)]);
    let tables = |d: &LoopDisk| read_at(&d.dev, 0, 1 << 20);
    let before = (bs_xfs(), tables(&fs_disk), tables(&bs_disk));

    let list = c.cb_in(CEPH_DISK_PREFIX, &["osd", "list"]);
    let fs = listed(&list, fs_id);
    assert_eq!(fs["origin"], "ceph-disk", "{fs:#}");
    assert_eq!(fs["store"], "filestore", "{fs:#}");
    assert_eq!(
        fs["partitions"]["filestore-data"],
        fs_disk.part(1),
        "{fs:#}"
    );
    assert_eq!(
        fs["partitions"]["filestore-journal"],
        fs_disk.part(2),
        "{fs:#}"
    );
    let bs = listed(&list, bs_id);
    assert_eq!(bs["origin"], "ceph-disk", "{bs:#}");
    assert_eq!(bs["store"], "bluestore", "{bs:#}");
    assert_eq!(
        bs["partitions"]["bluestore-block"],
        bs_disk.part(2),
        "{bs:#}"
    );
    // Listing read the directories without leaving them mounted or changing them.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&format!(" {} ", bs_disk.part(1))),
        "{mounts}"
    );
    assert_eq!(
        bs_xfs(),
        before.0,
        "listing changed the BlueStore OSD's xfs"
    );

    let a = c.cb_in(CEPH_DISK_PREFIX, &["osd", "activate", "--all"]);
    for id in [fs_id, bs_id] {
        let o = a["osds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["osd_id"].as_u64() == Some(id));
        assert_eq!(
            o.map(|o| o["action"].clone()),
            Some("started".into()),
            "{a:#}"
        );
    }
    c.wait_all_up(180);
    // FileStore: its data partition is the OSD's directory, its journal link (by PARTUUID, as
    // ceph-disk made it) left as it was. BlueStore: the key read from its xfs, which stays
    // as ceph-disk left it, the block linked in cephboot's directory.
    let fs_dir = c.state.path().join(format!("osd/ceph-{fs_id}"));
    let journal = std::fs::read_link(fs_dir.join("journal")).unwrap();
    assert!(
        journal.starts_with("/dev/disk/by-partuuid/"),
        "the journal link on the xfs was rewritten: {}",
        journal.display()
    );
    let bs_dir = c.state.path().join(format!("osd/ceph-{bs_id}"));
    assert!(std::fs::read_to_string(bs_dir.join("keyring"))
        .unwrap()
        .contains(&format!("[osd.{bs_id}]")));
    assert_eq!(
        std::fs::read_link(bs_dir.join("block")).unwrap(),
        PathBuf::from(bs_disk.part(2))
    );
    assert_eq!(
        bs_xfs(),
        before.0,
        "activation changed the BlueStore OSD's xfs"
    );
    assert_eq!(tables(&fs_disk), before.1, "activation changed a GPT");
    assert_eq!(tables(&bs_disk), before.2, "activation changed a GPT");
    let again = c.cb_in(CEPH_DISK_PREFIX, &["osd", "activate", "--all"]);
    assert!(
        again["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "unchanged"),
        "{again:#}"
    );
    removed_with_its_whole_disk(&c, CEPH_DISK_PREFIX, &bs_disk, bs_id, fs_id);
    drop(c);
    drop(links);
}

/// The Kolla FileStore test's label prefix.
const KOLLA_FS_PREFIX: &str = "TKF";

/// Kolla's own FileStore bootstrap (kolla's `ceph-osd` extend_start.sh, the journal on the same
/// disk): `ceph osd create`, the data partition's xfs mounted, `ceph-osd --mkfs
/// --osd-journal=<journal partition> --mkkey` (no `journal` link in the directory: Kolla passes
/// the flag at every start), `ceph auth add`, `osd crush add`, then the names and type codes.
fn kolla_filestore_osd(c: &TestCluster, disk: &LoopDisk) -> u64 {
    let conf = c.conf();
    let conf = conf.to_str().unwrap();
    sh("sgdisk", &["--zap-all", "--", disk.path()]);
    sh("sgdisk", &["--new=2:1M:5G", "--", disk.path()]);
    sh("sgdisk", &["--largest-new=1", "--", disk.path()]);
    disk.partx_add();
    let id: u64 = c.ceph(&["osd", "create"]).trim().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    sh("mkfs.xfs", &["-f", "-q", &disk.part(1)]);
    sh("mount", &[&disk.part(1), d]);
    let keyring = format!("{d}/keyring");
    let out = Command::new("ceph-osd")
        .args([
            "-c",
            conf,
            "-i",
            &id.to_string(),
            "--mkfs",
            &format!("--osd-journal={}", disk.part(2)),
            "--mkkey",
            "--osd-data",
            d,
            "--keyring",
            &keyring,
            "--osd-objectstore",
            "filestore",
            "--no-mon-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ceph-osd --mkfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    auth_add(c, id, &keyring);
    sh("umount", &[d]);
    crush_add(c, id);
    sh(
        "sgdisk",
        &[
            &format!("--change-name=1:{KOLLA_FS_PREFIX}_DATA_{id}"),
            "--typecode=1:4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D",
            "--",
            disk.path(),
        ],
    );
    sh(
        "sgdisk",
        &[
            &format!("--change-name=2:{KOLLA_FS_PREFIX}_DATA_{id}_J"),
            "--typecode=2:45B0969E-9B03-4F30-B4C6-B4B80CEFF106",
            "--",
            disk.path(),
        ],
    );
    id
}

#[test]
fn an_osd_kollas_filestore_bootstrap_made_is_listed_as_kolla_and_started_with_its_journal() {
    if !root_or_skip("adopting Kolla's FileStore OSD") {
        return;
    }
    let disk = LoopDisk::new(8 * GIB);
    let c = TestCluster::new();
    let id = kolla_filestore_osd(&c, &disk);
    let tables = || read_at(&disk.dev, 0, 1 << 20);
    let before = tables();
    let list = c.cb_in(KOLLA_FS_PREFIX, &["osd", "list"]);
    let o = listed(&list, id);
    assert_eq!(o["origin"], "kolla", "{o:#}");
    assert_eq!(o["store"], "filestore", "{o:#}");
    assert_eq!(o["partitions"]["filestore-journal"], disk.part(2), "{o:#}");

    // Started as Kolla starts it: its xfs mounted as the OSD's directory and the journal
    // partition passed to ceph-osd; no `journal` link written into Kolla's directory.
    let a = c.cb_in(KOLLA_FS_PREFIX, &["osd", "activate", &id.to_string()]);
    assert_eq!(a["osds"][0]["action"], "started", "{a:#}");
    c.wait_all_up(180);
    let dir = c.state.path().join(format!("osd/ceph-{id}"));
    assert!(
        dir.join("whoami").exists(),
        "its xfs is the OSD's directory"
    );
    assert!(
        std::fs::symlink_metadata(dir.join("journal")).is_err(),
        "a journal link was written into Kolla's directory"
    );
    let cmdline = sh(
        "sh",
        &[
            "-c",
            &format!(
                "cat /proc/$(cat {}/run/ceph-osd.{id}.pid)/cmdline | tr '\\0' ' '",
                c.dir()
            ),
        ],
    );
    assert!(
        cmdline.contains(&format!("--osd-journal {}", disk.part(2))),
        "{cmdline}"
    );
    assert_eq!(tables(), before, "activation changed the GPT");
    let again = c.cb_in(KOLLA_FS_PREFIX, &["osd", "activate", &id.to_string()]);
    assert_eq!(again["osds"][0]["action"], "unchanged", "{again:#}");
    drop(c);
}

/// Another tool's OSD removed as any OSD is, its whole disk zapped (a raw OSD's device, or a
/// ceph-disk OSD's two partitions, its own though unlabelled); the other OSD beside it still up.
fn removed_with_its_whole_disk(
    c: &TestCluster,
    prefix: &str,
    disk: &LoopDisk,
    id: u64,
    other: u64,
) {
    let removed = c.cb_in(prefix, &["osd", "remove", &id.to_string(), "--wait", "120"]);
    assert_eq!(removed["action"], "removed", "{removed:#}");
    assert_eq!(
        removed["zapped"],
        serde_json::json!([disk.path()]),
        "{removed:#}"
    );
    assert!(
        read_at(&disk.dev, 0, 1 << 20).iter().all(|b| *b == 0),
        "osd.{id}'s label or table is still on its disk"
    );
    assert!(
        c.osds().iter().any(|(i, up, _)| *i == other && *up),
        "the OSD beside it went down"
    );
}
