//! `cephboot disks list` on real loop devices built with independent tools (sgdisk, mkfs.*,
//! mkntfs, parted) and raw byte writes for what those tools refuse. Root only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::Value;

const MIB: u64 = 1 << 20;

fn list(disks: &[&LoopDisk]) -> Value {
    let mut args = vec!["disks", "list"];
    args.extend(disks.iter().map(|d| d.path()));
    let (code, v) = cephboot_json(&args);
    assert_eq!(code, 0, "{v:#}");
    v
}

#[test]
fn windows_volume_label_in_a_bootstrap_partition_is_decoded_and_kept_bootstrap() {
    if !root_or_skip("windows label") {
        return;
    }
    let d = LoopDisk::new(128 * MIB);
    sh(
        "sgdisk",
        &[
            "-n1:1M:+40M",
            "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS",
            "-n2:0:+40M",
            "-c2:新加卷",
            d.path(),
        ],
    );
    d.partx_add();
    sh("mkntfs", &["-Q", "-F", "-L", "新加卷", &d.part(1)]);
    sh("mkfs.ext4", &["-q", "-F", "-L", "新加卷", &d.part(2)]);
    let v = list(&[&d]);
    let p1 = device(&v, &d.part(1));
    assert_eq!(p1["state"], "bootstrap");
    assert_eq!(p1["role"], "bluestore");
    assert_eq!(p1["fs_type"], "ntfs");
    assert_eq!(p1["fs_label"], "新加卷");
    // NTFS stores UTF-16LE: 新 = U+65B0.
    assert!(
        p1["fs_label_raw_hex"].as_str().unwrap().starts_with("b065"),
        "{p1:#}"
    );
    assert!(
        p1["reasons"].to_string().contains("will be wiped"),
        "{p1:#}"
    );
    let p2 = device(&v, &d.part(2));
    assert_eq!(p2["partition_name"], "新加卷");
    assert_eq!(p2["fs_type"], "ext4");
    assert_eq!(p2["fs_label"], "新加卷");
    assert_eq!(p2["fs_label_raw_hex"], "e696b0e58aa0e58db7");
    assert_eq!(p2["state"], "foreign");
    let disk = device(&v, d.path());
    assert_eq!(disk["state"], "bootstrap");
    // The table output renders the same without crashing.
    let out = cephboot(&["disks", "list", d.path()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("新加卷"));
}

#[test]
fn unusual_names_numbers_and_partitions_unknown_to_the_kernel() {
    if !root_or_skip("unusual names") {
        return;
    }
    let d = LoopDisk::new(64 * MIB);
    let long36 = "A".repeat(36);
    sh(
        "sgdisk",
        &[
            "-n1:1M:+2M",
            "-c1:with space/and slash",
            "-n2:0:+2M",
            "-c2:rocket 🚀 𝄞",
            "-n3:0:+2M",
            &format!("-c3:{long36}"),
            "-n12:0:+2M",
            "-c12:KOLLA_CEPH_OSD_BOOTSTRAP_BS_9_W",
            "-n13:0:+8M",
            "-c13:KOLLA_CEPH_OSD_BOOTSTRAP_BS_9",
            d.path(),
        ],
    );
    // The kernel has not been told (no GPT parser here): partitions still listed.
    let v = list(&[&d]);
    assert_eq!(
        device(&v, &d.part(1))["partition_name"],
        "with space/and slash"
    );
    assert_eq!(device(&v, &d.part(2))["partition_name"], "rocket 🚀 𝄞");
    assert_eq!(device(&v, &d.part(3))["partition_name"], long36.as_str());
    let wal = device(&v, &d.part(12));
    assert_eq!(wal["partition_number"], 12);
    assert_eq!(wal["role"], "bluestore-wal");
    assert_eq!(wal["group"], "KOLLA_CEPH_OSD_BOOTSTRAP_BS_9");
    assert_eq!(wal["in_kernel"], false);
    assert_eq!(wal["ready"], true, "{wal:#}");
    // After partx the kernel knows them and the records agree.
    d.partx_add();
    let v = list(&[&d]);
    let wal = device(&v, &d.part(12));
    assert_eq!(wal["in_kernel"], true);
    assert_eq!(wal["start_bytes"].as_u64().unwrap(), 7 * MIB);
}

/// Rewrites the name of GPT entry `index` (0-based) in both tables and fixes the CRCs.
fn patch_gpt_name(disk: &LoopDisk, index: usize, units: &[u16]) {
    use std::io::{Read, Seek, SeekFrom};
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&disk.dev)
        .unwrap();
    let size = f.seek(SeekFrom::End(0)).unwrap();
    for header_lba in [1, size / 512 - 1] {
        let mut hdr = vec![0u8; 512];
        f.seek(SeekFrom::Start(header_lba * 512)).unwrap();
        f.read_exact(&mut hdr).unwrap();
        let entries_lba = u64::from_le_bytes(hdr[72..80].try_into().unwrap());
        let mut entries = vec![0u8; 128 * 128];
        f.seek(SeekFrom::Start(entries_lba * 512)).unwrap();
        f.read_exact(&mut entries).unwrap();
        let name = &mut entries[index * 128 + 56..index * 128 + 128];
        name.fill(0);
        for (i, u) in units.iter().enumerate() {
            name[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        hdr[88..92].copy_from_slice(&crc.checksum(&entries).to_le_bytes());
        hdr[16..20].fill(0);
        let c = crc.checksum(&hdr[..92]);
        hdr[16..20].copy_from_slice(&c.to_le_bytes());
        write_at(&disk.dev, entries_lba * 512, &entries);
        write_at(&disk.dev, header_lba * 512, &hdr);
    }
}

#[test]
fn unpaired_surrogate_is_shown_lossily_with_exact_raw_form() {
    if !root_or_skip("unpaired surrogate") {
        return;
    }
    let d = LoopDisk::new(16 * MIB);
    sh("sgdisk", &["-n1:1M:+2M", "-c1:placeholder", d.path()]);
    patch_gpt_name(&d, 0, &[0x41, 0xD800, 0x42]);
    sh("sgdisk", &["-v", d.path()]); // an independent tool agrees the table is valid
    let v = list(&[&d]);
    let p = device(&v, &d.part(1));
    assert_eq!(p["partition_name"], "A\u{FFFD}B");
    assert_eq!(p["partition_name_utf16le"], "410000d84200");
}

#[test]
fn external_journal_on_a_second_disk_and_a_missing_partner() {
    if !root_or_skip("journal partner") {
        return;
    }
    let data = LoopDisk::new(64 * MIB);
    let ssd = LoopDisk::new(64 * MIB);
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_5", data.path()],
    );
    sh(
        "sgdisk",
        &[
            "-n1:1M:+8M",
            "-c1:other",
            "-n11:0:+8M",
            "-c11:KOLLA_CEPH_OSD_BOOTSTRAP_5_J",
            "-n12:0:+8M",
            "-c12:KOLLA_CEPH_OSD_BOOTSTRAP_6_J",
            ssd.path(),
        ],
    );
    let v = list(&[&data, &ssd]);
    let d = device(&v, &data.part(1));
    let j = device(&v, &ssd.part(11));
    assert_eq!(d["group"], "KOLLA_CEPH_OSD_BOOTSTRAP_5");
    assert_eq!(j["group"], "KOLLA_CEPH_OSD_BOOTSTRAP_5");
    assert_eq!(j["role"], "filestore-journal");
    assert_eq!(d["ready"], true);
    assert_eq!(j["ready"], true);
    let orphan = device(&v, &ssd.part(12));
    assert_eq!(orphan["state"], "bootstrap");
    assert_eq!(orphan["ready"], false);
    assert!(
        orphan["reasons"]
            .to_string()
            .contains("KOLLA_CEPH_OSD_BOOTSTRAP_6 was found"),
        "{orphan:#}"
    );
}

#[test]
fn whole_disk_label_mbr_disk_prepared_disk_and_mounted_partition() {
    if !root_or_skip("whole disk, mbr, prepared, mounted") {
        return;
    }
    let whole = LoopDisk::new(32 * MIB);
    sh(
        "mkntfs",
        &[
            "-Q",
            "-F",
            "-L",
            "KOLLA_CEPH_OSD_BOOTSTRAP_BS",
            whole.path(),
        ],
    );
    let mbr = LoopDisk::new(64 * MIB);
    sh(
        "parted",
        &[
            "-s",
            mbr.path(),
            "mklabel",
            "msdos",
            "mkpart",
            "primary",
            "1MiB",
            "30MiB",
        ],
    );
    let prepared = LoopDisk::new(64 * MIB);
    sh(
        "sgdisk",
        &[
            "-n1:1M:+10M",
            "-c1:KOLLA_CEPH_DATA_BS_3",
            "-t1:4fbd7e29-9d25-41b8-afd0-062c0ceff05d",
            "-n2:0:0",
            "-c2:KOLLA_CEPH_DATA_BS_3_B",
            "-t2:cafecafe-9b03-4f30-b4c6-b4b80ceff106",
            prepared.path(),
        ],
    );
    let mounted = LoopDisk::new(64 * MIB);
    sh(
        "sgdisk",
        &[
            "-n1:1M:0",
            "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS",
            mounted.path(),
        ],
    );
    mounted.partx_add();
    sh("mkfs.ext4", &["-q", "-F", &mounted.part(1)]);
    let mnt = tempfile::tempdir().unwrap();
    sh("mount", &[&mounted.part(1), mnt.path().to_str().unwrap()]);

    let v = list(&[&whole, &mbr, &prepared, &mounted]);
    sh("umount", &[mnt.path().to_str().unwrap()]);

    let w = device(&v, whole.path());
    assert_eq!(w["state"], "bootstrap", "{w:#}");
    assert_eq!(w["role"], "bluestore");
    assert_eq!(w["fs_type"], "ntfs");

    let m = device(&v, mbr.path());
    assert_eq!(m["table"], "mbr");
    assert_eq!(m["state"], "foreign");
    assert_eq!(
        device(&v, &mbr.part(1))["size_bytes"].as_u64().unwrap(),
        29 * MIB
    );

    let p = device(&v, prepared.path());
    assert_eq!(p["state"], "prepared");
    assert_eq!(p["osd_id"], 3);
    let b = device(&v, &prepared.part(2));
    assert_eq!(b["role"], "bluestore-block");
    assert_eq!(b["type_name"], "ceph-block");

    let u = device(&v, mounted.path());
    assert_eq!(u["state"], "in_use");
    assert!(
        u["reasons"]
            .to_string()
            .contains(mnt.path().to_str().unwrap()),
        "{u:#}"
    );
    assert_eq!(
        device(&v, &mounted.part(1))["mountpoints"][0],
        mnt.path().to_str().unwrap()
    );
}

#[test]
fn corrupt_primary_gpt_is_read_from_the_backup() {
    if !root_or_skip("backup gpt") {
        return;
    }
    let d = LoopDisk::new(32 * MIB);
    sh(
        "sgdisk",
        &["-n1:1M:+4M", "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS", d.path()],
    );
    write_at(&d.dev, 512, &[0u8; 512]); // destroy the primary header
    let v = list(&[&d]);
    let disk = device(&v, d.path());
    assert_eq!(disk["table"], "gpt-backup");
    assert!(
        disk["reasons"].to_string().contains("backup GPT"),
        "{disk:#}"
    );
    assert_eq!(device(&v, &d.part(1))["role"], "bluestore");
}

#[test]
fn unknown_device_is_a_clear_not_found() {
    let (code, v) = cephboot_json(&["disks", "list", "/dev/does-not-exist"]);
    assert_eq!(code, 4);
    assert_eq!(v["error"]["kind"], "not_found");
}

#[test]
fn full_listing_includes_every_loop_disk_and_exits_zero() {
    if !root_or_skip("full listing") {
        return;
    }
    let a = LoopDisk::new(8 * MIB);
    let (code, v) = cephboot_json(&["disks", "list"]);
    assert_eq!(code, 0);
    assert_eq!(device(&v, a.path())["state"], "free");
}

/// libblkid's partition-table types.
const PARTITION_TABLES: [&str; 12] = [
    "gpt", "PMBR", "dos", "bsd", "sun", "sgi", "mac", "atari", "solaris", "unixware", "minix",
    "aix",
];

/// (type, offset) of every signature `wipefs -n` (libblkid, independently of cephboot) sees on
/// `node`.
fn wipefs_signatures(node: &str) -> Vec<(String, u64)> {
    let out = sh("wipefs", &["--no-act", "--json", node]);
    if out.trim().is_empty() {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut sigs: Vec<(String, u64)> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let off = s["offset"].as_str().unwrap().trim_start_matches("0x");
            (
                s["type"].as_str().unwrap().to_string(),
                u64::from_str_radix(off, 16).unwrap(),
            )
        })
        .collect();
    sigs.sort();
    sigs
}

fn listed_signatures(list: &Value, node: &str) -> Vec<(String, u64)> {
    let mut sigs: Vec<(String, u64)> = device(list, node)["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["type"].as_str().unwrap().to_string(),
                s["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    sigs.sort();
    sigs
}

/// Discovery reads the regions libblkid is known to probe first (disk::prefetch); whatever a
/// prober reads beyond them still comes from the device. Every signature wipefs sees, on a
/// whole disk and in a partition, is in `disks list`, and such a device is never free.
#[test]
fn every_signature_wipefs_sees_is_listed_on_a_whole_disk_and_in_a_partition() {
    if !root_or_skip("signatures as wipefs sees them") {
        return;
    }
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), b"test").unwrap();
    let keyfile = key.path().to_str().unwrap().to_string();
    let makers: Vec<(&str, Vec<String>)> = vec![
        ("xfs", vec!["mkfs.xfs".into(), "-f".into(), "-q".into()]),
        ("ext4", vec!["mkfs.ext4".into(), "-F".into(), "-q".into()]),
        (
            "ntfs",
            vec![
                "mkfs.ntfs".into(),
                "-F".into(),
                "-f".into(),
                "-q".into(),
                "-L".into(),
                "新加卷".into(),
            ],
        ),
        ("vfat", vec!["mkfs.vfat".into()]),
        ("swap", vec!["mkswap".into()]),
        (
            "crypto_LUKS",
            vec![
                "cryptsetup".into(),
                "luksFormat".into(),
                "-q".into(),
                "--type".into(),
                "luks2".into(),
                "--pbkdf".into(),
                "pbkdf2".into(),
                "--pbkdf-force-iterations".into(),
                "1000".into(),
                "--key-file".into(),
                keyfile.clone(),
            ],
        ),
    ];
    for (kind, cmd) in &makers {
        let whole = LoopDisk::new(320 * MIB);
        let parted = LoopDisk::labelled(320 * MIB, "data");
        for node in [whole.path().to_string(), parted.part(1)] {
            let mut args: Vec<&str> = cmd.iter().skip(1).map(String::as_str).collect();
            args.push(&node);
            sh(&cmd[0], &args);
        }
        let v = list(&[&whole, &parted]);
        for node in [whole.path().to_string(), parted.part(1)] {
            let seen = wipefs_signatures(&node);
            assert!(
                seen.iter().any(|(t, _)| t == kind),
                "{kind}: wipefs sees {seen:?} on {node}"
            );
            // Every filesystem, RAID and crypto signature, at one of its magics (wipefs names
            // each copy of a magic: vfat's three, a table's headers; an NTFS boot sector's
            // 0x55AA reads as a `dos` table to it). `disks zap` removes every copy
            // (tests/zap.rs).
            let types = |s: &[(String, u64)]| -> std::collections::BTreeSet<String> {
                s.iter()
                    .map(|(t, _)| t.clone())
                    .filter(|t| !PARTITION_TABLES.contains(&t.as_str()))
                    .collect()
            };
            let listed = listed_signatures(&v, &node);
            assert_eq!(types(&listed), types(&seen), "{kind} on {node}");
            for sig in &listed {
                assert!(
                    seen.contains(sig),
                    "{kind} on {node}: {sig:?} not in {seen:?}"
                );
            }
            assert_eq!(
                device(&v, &node)["state"],
                "foreign",
                "{kind} on {node}: {v:#}"
            );
        }
        // The table itself: wipefs names each of its magics (protective MBR, both GPT
        // headers); the listing names the table once, and zap removes every copy.
        let tables = wipefs_signatures(parted.path());
        assert_eq!(
            tables.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
            ["PMBR", "gpt", "gpt"],
            "{kind}"
        );
        assert_eq!(
            listed_signatures(&v, parted.path()),
            [("gpt".to_string(), 512)]
        );
        assert_eq!(device(&v, parted.path())["table"], "gpt");
    }
}

/// A table whose entries lie outside every region discovery reads first (sgdisk -j: the
/// entry array at sector 12000, past 4 MiB) is read from the device as before.
#[test]
fn a_gpt_with_its_entries_far_from_the_header_is_read_in_full() {
    if !root_or_skip("gpt entries far away") {
        return;
    }
    let d = LoopDisk::new(256 * MIB);
    sh(
        "sgdisk",
        &[
            "-j",
            "12000",
            "-n1:16M:+64M",
            "-c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS_far",
            d.path(),
        ],
    );
    d.partx_add();
    let v = list(&[&d]);
    let p = device(&v, &d.part(1));
    assert_eq!(
        p["partition_name"], "KOLLA_CEPH_OSD_BOOTSTRAP_BS_far",
        "{v:#}"
    );
    assert_eq!(p["state"], "bootstrap");
    assert_eq!(device(&v, d.path())["table"], "gpt");
}

/// A partition and its disk are separate block-device nodes with separate page caches; while
/// anything keeps the disk open (a dm-crypt mapping on one of its partitions does), pages read
/// through the disk stay cached after a write through the partition's node. `disks list` reads
/// partitions through their disk, so it must read the medium, not those pages: the power-cut
/// case in the system guest once listed a freshly formatted LUKS partition as empty (no
/// `crypto_LUKS`), and an encrypted OSD as not encrypted.
#[test]
fn a_partition_written_through_its_own_node_is_listed_as_it_is_now() {
    if !root_or_skip("partition written through its own node") {
        return;
    }
    use std::os::unix::fs::FileExt;
    let d = LoopDisk::labelled(64 * MIB, "data");
    // The disk held open for the whole test, its cache of partition 1's head filled (zeros).
    let holder = std::fs::File::open(d.path()).unwrap();
    let mut head = vec![0u8; 4 << 20];
    holder.read_exact_at(&mut head, MIB).unwrap();
    let before = list(&[&d]);
    assert_eq!(
        device(&before, &d.part(1))["fs_type"],
        Value::Null,
        "{before:#}"
    );
    // Written through the partition's node, as mkfs and cryptsetup write.
    sh("mkfs.ext4", &["-q", "-F", "-L", "now", &d.part(1)]);
    let after = list(&[&d]);
    let p1 = device(&after, &d.part(1));
    assert_eq!(p1["fs_type"], "ext4", "{p1:#}");
    assert_eq!(p1["fs_label"], "now", "{p1:#}");
    drop(holder);
}
