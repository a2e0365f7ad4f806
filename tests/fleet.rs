//! The fleet play over SSH: contrib/ansible/.../playbooks/site.yml and replace.yml run by
//! ansible-core (tests/ansible/venv) against three simulated hosts (network and UTS
//! namespaces, tests/common/hosts.rs), each with its own sshd on its own address and a key
//! made for the test (tests/common/sshd.rs); the controller runs in the first host's
//! namespace and reaches every host, itself included, over SSH (no local connection).
//!
//! First run: a three-monitor quorum, each host's OSDs under its own CRUSH host, pools of
//! size 3 with failure domain host, kolla-ansible's files on the first host, and the join
//! bundle's admin key in no output. Second run: nothing changed. `--check` with a fourth host
//! and its disk added to the inventory: exactly its join and its OSD, nothing written. Rolling replacement (`serial:
//! 1`): the first host's second OSD is removed and re-created with its id; the second host's
//! only OSD is refused by cephboot (its pool could not keep three copies on distinct hosts),
//! which stops the play: its disk and the third host's byte for byte unchanged.
//! Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::{json, Value};

use common::ansible::{playbook, Ansible};
use common::hosts::{SimHost, SimHosts};
use common::sshd::SshServers;
use common::*;

const GIB: u64 = 1 << 30;

/// The hosts, their SSH servers and the controller.
struct Fleet {
    net: SimHosts,
    ssh: SshServers,
    ansible: Ansible,
    kolla: tempfile::TempDir,
}

impl Fleet {
    /// The inventory (YAML's JSON subset): a host per entry of `devices` (its disks), with
    /// its replacements.
    fn inventory(&self, devices: &[Vec<&str>], replace: &[Vec<(u64, &str)>]) -> PathBuf {
        let mut hosts = serde_json::Map::new();
        for (i, h) in self.net.hosts.iter().enumerate().take(devices.len()) {
            let replace: Vec<Value> = replace
                .get(i)
                .map(|r| {
                    r.iter()
                        .map(|(id, dev)| json!({"id": id, "device": dev}))
                        .collect()
                })
                .unwrap_or_default();
            hosts.insert(
                h.name.clone(),
                json!({
                    "ansible_host": h.ip,
                    "cephboot_mon_ip": h.ip,
                    "cephboot_state_dir": h.state.path(),
                    "cephboot_osd_devices": devices.get(i).cloned().unwrap_or_default(),
                    "cephboot_replace": replace,
                }),
            );
        }
        let inventory = json!({"cephboot": {"hosts": hosts, "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.ssh.key,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": self.ansible.python(),
            "cephboot_binary": cephboot_bin(),
            "cephboot_label_prefix": "FLT",
            "cephboot_kolla_config": self.kolla.path().join("config"),
            "cephboot_remove_wait": 300,
        }}});
        let path = self.ansible.home.path().join("inventory.yml");
        std::fs::write(&path, inventory.to_string()).unwrap();
        path
    }

    /// A play of the collection from the first host's namespace: (exit code, report, the
    /// whole output as text).
    fn play(&self, name: &str, inventory: &PathBuf, extra: &[&str]) -> (i32, Value, String) {
        let mut args: Vec<OsString> = vec!["-i".into(), inventory.into(), "-f".into(), "5".into()];
        args.extend(extra.iter().map(OsString::from));
        args.push(playbook(name).into());
        let (code, report, stderr) = self
            .ansible
            .run(&["ip", "netns", "exec", &self.net.hosts[0].ns], &args);
        let text = format!("{report}\n{stderr}");
        (code, report, text)
    }
}

/// `(changed, failed)` of a host in the recap; a host no task ran on counts (0, 0).
fn recap(r: &Value, host: &str) -> (u64, u64) {
    let s = &r["stats"][host];
    (
        s["changed"].as_u64().unwrap_or(0),
        s["failures"].as_u64().unwrap_or(0) + s["unreachable"].as_u64().unwrap_or(0),
    )
}

/// Every result of the task named `name` on `host` (a task of a `serial` play runs once per
/// batch).
fn results<'a>(r: &'a Value, name: &str, host: &str) -> Vec<&'a Value> {
    r["plays"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap())
        .filter(|t| t["task"]["name"] == name)
        .filter_map(|t| t["hosts"].get(host))
        .collect()
}

fn osd_tree_hosts(h: &SimHost) -> Vec<(String, Vec<u64>)> {
    let tree = h.ceph_json(&["osd", "tree"]);
    let mut out: Vec<(String, Vec<u64>)> = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "host")
        .map(|n| {
            let mut ids: Vec<u64> = n["children"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            ids.sort_unstable();
            (n["name"].as_str().unwrap().to_string(), ids)
        })
        .collect();
    out.sort();
    out
}

/// Each OSD's uuid in the osdmap.
fn osd_uuids(h: &SimHost) -> std::collections::BTreeMap<u64, String> {
    let dump = h.ceph_json(&["osd", "dump"]);
    dump["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["osd"].as_u64().unwrap(),
                o["uuid"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// sha256 of a disk's first and last MiB: its partition table's two copies.
fn table_checksum(disk: &LoopDisk) -> String {
    let size: u64 = sh("blockdev", &["--getsize64", disk.path()])
        .trim()
        .parse()
        .unwrap();
    let script = format!(
        "{{ dd if={d} bs=1M count=1 status=none; dd if={d} bs=1M skip={last} count=1 status=none; }} | sha256sum",
        d = disk.path(),
        last = size / (1 << 20) - 1
    );
    sh("sh", &["-c", &script])
}

fn up_osds(h: &SimHost) -> Vec<u64> {
    let dump = h.ceph_json(&["osd", "dump"]);
    dump["osds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["up"] == 1 && o["in"] == 1)
        .map(|o| o["osd"].as_u64().unwrap())
        .collect()
}

#[test]
fn the_fleet_play_over_ssh_builds_keeps_checks_and_replaces_one_host_at_a_time() {
    if !root_or_skip("fleet play over ssh") {
        return;
    }
    let Some(ansible) = Ansible::new() else {
        return;
    };
    // Three hosts in the inventory; the fourth joins it only for the check run.
    let net = SimHosts::new("fleet", 4);
    let Some(ssh) = SshServers::start(&net) else {
        return;
    };
    let disks: Vec<LoopDisk> = (0..5).map(|_| LoopDisk::new(2 * GIB)).collect();
    let fleet = Fleet {
        net,
        ssh,
        ansible,
        kolla: tempfile::tempdir().unwrap(),
    };
    let devices = vec![
        vec![disks[0].path(), disks[1].path()],
        vec![disks[2].path()],
        vec![disks[3].path()],
    ];
    let inventory = fleet.inventory(&devices, &[]);

    first_run_builds_the_cluster(&fleet, &inventory);

    let (code, r, _) = fleet.play("site.yml", &inventory, &[]);
    assert_eq!(code, 0, "second run failed: {r:#}");
    for h in &fleet.net.hosts[..3] {
        assert_eq!(recap(&r, &h.name), (0, 0), "{}: second run: {r:#}", h.name);
    }

    check_mode_reports_exactly_the_fourth_host(&fleet, &devices, &disks[4]);

    rolling_replacement_stops_at_cephboots_refusal(&fleet, &devices, &disks);
    drop(fleet);
    drop(disks);
}

fn first_run_builds_the_cluster(fleet: &Fleet, inventory: &PathBuf) {
    let (code, r, text) = fleet.play("site.yml", inventory, &["-v"]);
    let h1 = &fleet.net.hosts[0];
    assert_eq!(code, 0, "first run failed: {r:#}\n{text}");
    for h in &fleet.net.hosts[..3] {
        let (changed, failed) = recap(&r, &h.name);
        assert!(changed >= 2 && failed == 0, "{}: {r:#}", h.name);
    }
    let q = h1.ceph_json(&["quorum_status"]);
    let mut names: Vec<&str> = q["quorum_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["fleet1", "fleet2", "fleet3"], "{q:#}");
    let tree = osd_tree_hosts(h1);
    let per_host: Vec<(&str, usize)> = tree
        .iter()
        .map(|(h, ids)| (h.as_str(), ids.len()))
        .collect();
    assert_eq!(
        per_host,
        [("fleet1", 2), ("fleet2", 1), ("fleet3", 1)],
        "{tree:?}"
    );
    assert_eq!(up_osds(h1).len(), 4);
    for (key, want) in [("size", 3), ("min_size", 2)] {
        let got = h1.ceph_json(&["osd", "pool", "get", "volumes", key])[key].as_u64();
        assert_eq!(got, Some(want), "volumes {key}");
    }
    let rule = h1.ceph_json(&["osd", "pool", "get", "volumes", "crush_rule"])["crush_rule"]
        .as_str()
        .unwrap()
        .to_string();
    let dump = h1.ceph_json(&["osd", "crush", "rule", "dump", &rule]);
    assert!(
        dump["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "host"),
        "failure domain is not host: {dump:#}"
    );
    assert!(fleet.kolla.path().join("config/cinder/ceph.conf").exists());
    // The bundle carried the admin key from the first host to the others: never printed,
    // never left on a host.
    let keyring =
        std::fs::read_to_string(h1.state.path().join("ceph.client.admin.keyring")).unwrap();
    let key = keyring
        .lines()
        .find_map(|l| l.trim().strip_prefix("key = "))
        .unwrap()
        .trim()
        .to_string();
    assert!(key.len() > 20);
    assert!(
        !text.contains(&key),
        "the admin key is in the play's output"
    );
    for h in &fleet.net.hosts[1..3] {
        let joined = results(
            &r,
            "This host's monitor and manager join the cluster",
            &h.name,
        );
        assert_eq!(joined.len(), 1, "{}: {r:#}", h.name);
        assert_eq!(joined[0]["changed"], true, "{}: {:#}", h.name, joined[0]);
    }
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cephboot-join-") || n.starts_with("cephboot-bundle-"))
        .collect();
    assert!(left.is_empty(), "bundle files left behind: {left:?}");
}

/// A fourth host with a disk added to the inventory, checked: its join and its OSD are
/// reported (`would_create`) and nothing else changes; nothing is written on it (its state
/// dir stays empty, its disk's checksum is unchanged) nor anywhere else.
fn check_mode_reports_exactly_the_fourth_host(
    fleet: &Fleet,
    devices: &[Vec<&str>],
    new: &LoopDisk,
) {
    let mut more = devices.to_vec();
    more.push(vec![new.path()]);
    let inventory = fleet.inventory(&more, &[]);
    let before = new.sparse_checksum();
    let (code, r, _) = fleet.play("site.yml", &inventory, &["--check"]);
    assert_eq!(code, 0, "check run failed: {r:#}");
    for h in ["fleet1", "fleet2", "fleet3"] {
        assert_eq!(recap(&r, h), (0, 0), "{h}: {r:#}");
    }
    assert_eq!(recap(&r, "fleet4"), (2, 0), "{r:#}");
    let joined = results(
        &r,
        "This host's monitor and manager join the cluster",
        "fleet4",
    );
    let daemons: Vec<&str> = joined[0]["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(daemons, ["would_create", "would_create"], "{:#}", joined[0]);
    let osd = results(
        &r,
        "OSDs on the named disks (and the labelled ones)",
        "fleet4",
    );
    let actions: Vec<(&str, &str)> = osd[0]["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["device"].as_str().unwrap(), o["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [(new.path(), "would_create")], "{:#}", osd[0]);
    assert_eq!(
        new.sparse_checksum(),
        before,
        "check mode wrote to the disk"
    );
    assert!(
        std::fs::read_dir(fleet.net.hosts[3].state.path())
            .unwrap()
            .next()
            .is_none(),
        "check mode wrote into the fourth host's state dir"
    );
    assert_eq!(up_osds(&fleet.net.hosts[0]).len(), 4);
    let q = fleet.net.hosts[0].ceph_json(&["quorum_status"]);
    assert_eq!(q["quorum_names"].as_array().unwrap().len(), 3, "{q:#}");
}

/// The OSD whose partitions are on `disk`, by `osd list`.
fn osd_on_disk(h: &SimHost, disk: &LoopDisk) -> u64 {
    let listed = h.cb_ok(&["--label-prefix", "FLT", "osd", "list"]);
    let on_disk = |p: &serde_json::Map<String, Value>| {
        p.values().any(|v| {
            v.as_str()
                .is_some_and(|v| v.starts_with(&format!("{}p", disk.path())))
        })
    };
    listed["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["partitions"].as_object().is_some_and(on_disk))
        .and_then(|o| o["osd_id"].as_u64())
        .unwrap_or_else(|| panic!("no OSD on {}: {listed:#}", disk.path()))
}

/// replace.yml, one host at a time: the first host's second OSD goes and comes back with its
/// id and CRUSH host, its object still readable; the second host's only OSD is refused (its
/// pools could not keep three copies on distinct hosts) and the play stops there.
fn rolling_replacement_stops_at_cephboots_refusal(
    fleet: &Fleet,
    devices: &[Vec<&str>],
    disks: &[LoopDisk],
) {
    let h1 = &fleet.net.hosts[0];
    let tree = osd_tree_hosts(h1);
    let ids = |host: &str| tree.iter().find(|(h, _)| h == host).unwrap().1.clone();
    let (one, two, three) = (ids("fleet1"), ids("fleet2"), ids("fleet3"));
    // The first host's OSD on its second disk.
    let on_second = osd_on_disk(h1, &disks[1]);
    assert!(one.contains(&on_second));
    let payload = h1.state.path().join("payload");
    std::fs::write(&payload, vec![7u8; 3 << 20]).unwrap();
    let conf = h1.conf();
    let put = h1.run(
        "rados",
        &[
            "-c",
            &conf,
            "-p",
            "volumes",
            "put",
            "fleet-object",
            payload.to_str().unwrap(),
        ],
    );
    assert!(put.status.success(), "{put:?}");
    // The OSDs on the second and third hosts' disks run, and Ceph writes to them: what must
    // not change is their partition tables (both GPT copies) and their identity in the map.
    let victims = [table_checksum(&disks[2]), table_checksum(&disks[3])];
    let uuids_before = osd_uuids(h1);

    let inventory = fleet.inventory(
        devices,
        &[
            vec![(on_second, disks[1].path())],
            vec![(two[0], disks[2].path())],
            vec![(three[0], disks[3].path())],
        ],
    );
    let (code, r, _) = fleet.play("replace.yml", &inventory, &[]);
    assert_ne!(code, 0, "the play went through a refusal: {r:#}");
    let (changed, failed) = recap(&r, "fleet1");
    assert!(changed >= 3 && failed == 0, "fleet1: {r:#}");
    let removed = results(&r, "The OSD leaves service, its id kept", "fleet1");
    assert_eq!(
        removed[0]["results"][0]["remove"]["action"], "removed",
        "{:#}",
        removed[0]
    );
    let refused = results(&r, "The OSD leaves service, its id kept", "fleet2");
    let item = &refused[0]["results"][0];
    assert_eq!(item["failed"], true, "{:#}", refused[0]);
    assert_eq!(item["rc"], 3, "{item:#}");
    let msg = item["msg"].as_str().unwrap();
    assert!(
        msg.contains("only 2 hosts would remain") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_eq!(
        recap(&r, "fleet3"),
        (0, 0),
        "the play went on after the refusal: {r:#}"
    );
    assert!(results(&r, "The OSD leaves service, its id kept", "fleet3").is_empty());

    everything_is_in_place_after_the_stop(
        fleet,
        &tree,
        on_second,
        &victims,
        &uuids_before,
        (&disks[2], &disks[3]),
        &payload,
    );
}

/// After replace.yml stopped: the replaced OSD has its id and host (and a new uuid); every
/// OSD is up and in; the refused and untouched hosts' partition tables and OSDs are as they
/// were; the object written before reads back the same.
fn everything_is_in_place_after_the_stop(
    fleet: &Fleet,
    tree: &[(String, Vec<u64>)],
    on_second: u64,
    victims: &[String; 2],
    uuids_before: &std::collections::BTreeMap<u64, String>,
    (refused, untouched): (&LoopDisk, &LoopDisk),
    payload: &std::path::Path,
) {
    let h1 = &fleet.net.hosts[0];
    let conf = h1.conf();
    assert_eq!(osd_tree_hosts(h1), tree, "CRUSH placement changed");
    let mut up = up_osds(h1);
    up.sort_unstable();
    let mut all: Vec<u64> = tree
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    all.sort_unstable();
    assert_eq!(up, all);
    assert_eq!(
        [table_checksum(refused), table_checksum(untouched)],
        *victims,
        "a refused or untouched host's partition table changed"
    );
    let uuids_after = osd_uuids(h1);
    let on_other_hosts = tree
        .iter()
        .filter(|(h, _)| h != "fleet1")
        .flat_map(|(_, ids)| ids.iter());
    for id in on_other_hosts {
        assert_eq!(
            uuids_after.get(id),
            uuids_before.get(id),
            "osd.{id} was re-created"
        );
    }
    // Re-created: the same id with the new OSD's uuid.
    assert_ne!(
        uuids_after.get(&on_second),
        uuids_before.get(&on_second),
        "osd.{on_second} was not re-created"
    );
    let back = h1.state.path().join("payload.back");
    let get = h1.run(
        "rados",
        &[
            "-c",
            &conf,
            "-p",
            "volumes",
            "get",
            "fleet-object",
            back.to_str().unwrap(),
        ],
    );
    assert!(get.status.success(), "{get:?}");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(payload).unwrap()
    );
}
