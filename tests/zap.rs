//! `cephboot disks zap` and the table writer + kernel sync, on loop devices. Checked with
//! independent tools: blkid, wipefs, sgdisk, sysfs. Root only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn sys_partitions(d: &LoopDisk) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/block/{}", d.name()))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&d.name()) && n.len() > d.name().len())
        .collect()
}

/// GPT + xfs + NTFS-labelled partition + a BlueStore label at 1 GiB.
fn messy_disk() -> LoopDisk {
    let d = LoopDisk::new(GIB + 400 * MIB);
    sh(
        "sgdisk",
        &[
            "-n1:1M:+320M",
            "-c1:data",
            "-n2:0:0",
            "-c2:新加卷",
            d.path(),
        ],
    );
    d.partx_add();
    sh("mkfs.xfs", &["-q", "-f", &d.part(1)]);
    sh("mkntfs", &["-Q", "-F", "-L", "新加卷", &d.part(2)]);
    write_at(&d.dev, GIB, &fake_bluestore_label("cafe"));
    d
}

#[test]
fn zap_removes_everything_independent_tools_can_find() {
    if !root_or_skip("zap everything") {
        return;
    }
    let d = messy_disk();
    let (code, dry) = cephboot_json(&["disks", "zap", d.path(), "--dry-run"]);
    assert_eq!(code, 0, "{dry:#}");
    let (code, v) = cephboot_json(&["disks", "zap", d.path()]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["changed"], true);
    let dev = &v["devices"][0];
    assert_eq!(dev["action"], "zapped");

    // blkid finds nothing (exit 2), wipefs lists nothing, sgdisk finds no table at all.
    let blkid = Command::new("blkid")
        .args(["-p", d.path()])
        .output()
        .unwrap();
    assert_eq!(
        blkid.status.code(),
        Some(2),
        "blkid: {}",
        String::from_utf8_lossy(&blkid.stdout)
    );
    assert_eq!(sh("wipefs", &["-n", "--noheadings", d.path()]).trim(), "");
    let sgdisk = Command::new("sgdisk")
        .args(["-p", d.path()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&sgdisk.stdout);
    assert!(
        text.contains("Creating new GPT entries"),
        "sgdisk still found a table:\n{text}"
    );
    assert!(sys_partitions(&d).is_empty(), "{:?}", sys_partitions(&d));
    assert!(
        read_at(&d.dev, GIB, 4096).iter().all(|&b| b == 0),
        "BlueStore label at 1 GiB survived"
    );

    // What the dry run listed is what the real run erased.
    let kinds = |list: &serde_json::Value| -> BTreeSet<(String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| (s["device"].to_string(), s["type"].to_string()))
            .collect()
    };
    let planned = kinds(&dry["devices"][0]["plan"]["signatures"]);
    let erased = kinds(&dev["outcome"]["erased"]);
    assert!(
        planned.iter().any(|(_, t)| t.contains("xfs"))
            && planned.iter().any(|(_, t)| t.contains("ntfs")),
        "{planned:?}"
    );
    assert!(
        planned.is_subset(&erased),
        "planned {planned:?} erased {erased:?}"
    );
    assert_eq!(
        dry["devices"][0]["plan"]["kernel_partitions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A second zap has nothing to do.
    let (code, again) = cephboot_json(&["disks", "zap", d.path()]);
    assert_eq!(code, 0);
    assert_eq!(again["changed"], false);
    assert_eq!(again["devices"][0]["action"], "unchanged");
}

#[test]
fn dry_run_writes_nothing() {
    if !root_or_skip("dry run") {
        return;
    }
    let d = messy_disk();
    let before = d.checksum();
    let out = cephboot(&["disks", "zap", d.path(), "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("signature xfs") && text.contains("signature ntfs") && text.contains("1 GiB"),
        "{text}"
    );
    assert_eq!(d.checksum(), before);
    assert_eq!(sys_partitions(&d).len(), 2);
}

#[test]
fn open_or_mounted_partitions_are_refused_before_any_write() {
    if !root_or_skip("refusals") {
        return;
    }
    let d = messy_disk();
    let before = d.checksum();
    // A process holding partition 2 open (not exclusively).
    let part = std::fs::File::open(d.part(2)).unwrap();
    let mut holder = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::from(part))
        .spawn()
        .unwrap();
    let (code, v) = cephboot_json(&["disks", "zap", d.path()]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(d.checksum(), before);
    assert_eq!(v["error"]["kind"], "refused");
    let r = v["error"]["refusals"].to_string();
    assert!(
        r.contains(&d.part(2)) && r.contains("is open by sleep (pid"),
        "{r}"
    );

    // Mounted partition 1 (mounting writes to the filesystem: checksum while mounted).
    let mnt = tempfile::tempdir().unwrap();
    sh("mount", &[&d.part(1), mnt.path().to_str().unwrap()]);
    sh("sync", &[]);
    let before = d.checksum();
    let out = cephboot(&["disks", "zap", d.path()]);
    // The table writer refuses through the same guards.
    let snapshot = cephboot::disk::inventory::scan(
        &cephboot::disk::inventory::Roots::default(),
        &cephboot::disk::inventory::Filter {
            all: true,
            only: vec![d.name()],
        },
    );
    let specs = cephboot::disk::table::plan(
        GIB + 400 * MIB,
        512,
        &[cephboot::disk::table::PartitionRequest {
            number: 1,
            name: "x".into(),
            type_guid: uuid::Uuid::from_u128(1),
            size: cephboot::disk::table::Size::Rest,
        }],
        uuid::Uuid::new_v4,
    )
    .unwrap();
    let rewrite = cephboot::disk::rewrite::rewrite_table(
        &snapshot,
        &d.dev,
        &d.name(),
        512,
        &specs,
        None,
        false,
    );
    let after = d.checksum();
    sh("umount", &[mnt.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("is mounted at {}", mnt.path().display()))
            && err.contains("unmount it"),
        "{err}"
    );
    let e = rewrite.unwrap_err();
    assert!(e.to_string().contains("is mounted at"), "{e}");
    assert_eq!(e.exit_code() as i32, 3);
    // Nothing was written by any of them.
    assert_eq!(after, before);
}

#[test]
fn foreign_bluestore_osd_needs_force() {
    if !root_or_skip("foreign bluestore") {
        return;
    }
    let d = LoopDisk::new(64 * MIB);
    write_at(
        &d.dev,
        0,
        &fake_bluestore_label("11111111-2222-3333-4444-555555555555"),
    );
    let before = d.checksum();
    let (code, v) = cephboot_json(&["disks", "zap", d.path()]);
    assert_eq!(code, 3);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cluster 11111111-2222-3333-4444-555555555555"),
        "{v:#}"
    );
    assert_eq!(d.checksum(), before);
    let (code, v) = cephboot_json(&["disks", "zap", d.path(), "--force"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(read_at(&d.dev, 0, 4096).iter().all(|&b| b == 0));
}

#[test]
fn a_label_copy_at_10_gib_alone_still_needs_force_and_zap_removes_it() {
    if !root_or_skip("bluestore label copies") {
        return;
    }
    // Squid and later keep copies at 1, 10, 100 and 1000 GiB; the first one may be gone (a
    // `wipefs` of the start), the copy still says whose OSD this was. Sparse: 11 GiB costs
    // nothing.
    let d = LoopDisk::new(11 * GIB);
    let bystander = LoopDisk::new(64 * MIB);
    let other = bystander.checksum();
    let fsid = "99999999-2222-3333-4444-555555555555";
    write_at(&d.dev, 10 * GIB, &fake_bluestore_label(fsid));
    let before = d.sparse_checksum();
    let (code, v) = cephboot_json(&["disks", "zap", d.path()]);
    assert_eq!(code, 3, "{v:#}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(fsid),
        "{v:#}"
    );
    assert_eq!(d.sparse_checksum(), before, "refused: nothing written");
    let (code, v) = cephboot_json(&["disks", "zap", d.path(), "--force"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        read_at(&d.dev, 10 * GIB, 4096).iter().all(|&b| b == 0),
        "the copy is gone"
    );
    assert_eq!(bystander.checksum(), other);
}

#[test]
fn partitions_are_refused_and_unknown_devices_not_found() {
    if !root_or_skip("usage errors") {
        return;
    }
    let d = LoopDisk::new(32 * MIB);
    sh("sgdisk", &["-n1:1M:0", d.path()]);
    d.partx_add();
    let (code, v) = cephboot_json(&["disks", "zap", &d.part(1)]);
    assert_eq!(code, 2, "{v:#}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("name its whole disk"));
    let (code, _) = cephboot_json(&["disks", "zap", "/dev/nonexistent-disk"]);
    assert_eq!(code, 4);
}

#[test]
fn table_rewrite_makes_the_kernel_match_exactly() {
    use cephboot::disk::table::{plan, PartitionRequest, Size};
    if !root_or_skip("table rewrite") {
        return;
    }
    let d = LoopDisk::new(256 * MIB);
    let req = |number, size| PartitionRequest {
        number,
        name: format!("p{number}"),
        type_guid: uuid::Uuid::from_u128(7),
        size,
    };
    let layouts = [
        vec![
            req(1, Size::Bytes(10 * MIB)),
            req(2, Size::Bytes(20 * MIB)),
            req(3, Size::Rest),
        ],
        // 2 removed, 1 resized, 12 added
        vec![
            req(1, Size::Bytes(50 * MIB)),
            req(12, Size::Bytes(5 * MIB)),
            req(3, Size::Rest),
        ],
        vec![req(4, Size::Rest)],
    ];
    for layout in layouts {
        let snapshot = cephboot::disk::inventory::scan(
            &cephboot::disk::inventory::Roots::default(),
            &cephboot::disk::inventory::Filter {
                all: true,
                only: vec![d.name()],
            },
        );
        let specs = plan(256 * MIB, 512, &layout, uuid::Uuid::new_v4).unwrap();
        cephboot::disk::rewrite::rewrite_table(
            &snapshot,
            &d.dev,
            &d.name(),
            512,
            &specs,
            None,
            false,
        )
        .unwrap();
        // sysfs matches the table, partition by partition.
        let mut have: Vec<(u32, u64, u64)> = sys_partitions(&d)
            .iter()
            .map(|p| {
                let r = |f: &str| {
                    std::fs::read_to_string(format!("/sys/class/block/{p}/{f}"))
                        .unwrap()
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                };
                (
                    u32::try_from(r("partition")).unwrap(),
                    r("start"),
                    r("size"),
                )
            })
            .collect();
        have.sort();
        let mut want: Vec<(u32, u64, u64)> = specs
            .iter()
            .map(|s| (s.number, s.first_lba, s.last_lba - s.first_lba + 1))
            .collect();
        want.sort();
        assert_eq!(have, want);
        // An independent reader agrees with the table.
        let out = sh("sgdisk", &["-p", d.path()]);
        for s in &specs {
            assert!(out.contains(&format!("p{}", s.number)), "{out}");
        }
        for s in &specs {
            assert!(std::path::Path::new(&d.part(s.number)).exists());
        }
    }
}

#[test]
fn own_clusters_bluestore_label_needs_no_force_when_the_config_is_in_the_state_dir() {
    if !root_or_skip("own bluestore") {
        return;
    }
    let d = LoopDisk::new(64 * MIB);
    let c = common::cluster::TestCluster::new();
    let fsid = std::fs::read_to_string(c.conf())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("fsid = ").map(str::to_string))
        .unwrap();
    write_at(&d.dev, 0, &fake_bluestore_label(&fsid));
    // The config is found through --state-dir (no --conf, no /etc/ceph/ceph.conf).
    let out = c.cb(&["disks", "zap", d.path(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(read_at(&d.dev, 0, 4096).iter().all(|&b| b == 0));
}
