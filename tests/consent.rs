//! Consent under races, partner labels and hostile tables (docs/consent.md): every refusal
//! leaves the victim byte-identical (sha256) and a bystander disk untouched. Root only, loop
//! devices, a real cluster where a prepare gets that far.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::daemon::{Daemon, HotDisk};
use common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn file_sum(p: &Path) -> String {
    sh("sha256sum", &[p.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A disk with p1 named `label` (`size1`) and p2 over the rest, both known to the kernel.
fn two_partitions(size: u64, label: &str, size1: &str) -> LoopDisk {
    let d = LoopDisk::new(size);
    sh(
        "sgdisk",
        &[
            &format!("-n1:1M:+{size1}"),
            &format!("-c1:{label}"),
            "-n2:0:0",
            d.path(),
        ],
    );
    d.partx_add();
    d
}

#[test]
fn partitions_that_are_not_this_osds_are_erased_only_with_wipe() {
    if !root_or_skip("consent: sibling partitions") {
        return;
    }
    // p2 holds an ext4 filesystem labelled "precious".
    let fs = two_partitions(2 * GIB + 512 * MIB, "CA_OSD_BOOTSTRAP_BS", "1500M");
    sh("mkfs.ext4", &["-q", "-F", "-L", "precious", &fs.part(2)]);
    // p2 holds bytes no signature explains.
    let raw = two_partitions(2 * GIB + 512 * MIB, "CA_OSD_BOOTSTRAP_BS", "1500M");
    let start = sh(
        "cat",
        &[&format!("/sys/class/block/{}p2/start", raw.name())],
    )
    .trim()
    .parse::<u64>()
    .unwrap()
        * 512;
    write_at(
        &raw.dev,
        start + 4096,
        b"not a filesystem, but somebody's data",
    );
    let bystander = LoopDisk::new(GIB + 256 * MIB);
    let c = TestCluster::new();
    let sums = [fs.checksum(), raw.checksum(), bystander.checksum()];

    let out = c.cb(&[
        "--label-prefix",
        "CA",
        "osd",
        "prepare",
        fs.path(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = v["osds"][0]["reason"].as_str().unwrap().to_string();
    for want in [fs.part(2).as_str(), "ext4", "precious", "--wipe"] {
        assert!(reason.contains(want), "{want:?} missing from {reason}");
    }
    // The listing says so before anyone prepares.
    let (_, list) = cephboot_json(&["--label-prefix", "CA", "disks", "list", fs.path()]);
    let disk = device(&list, fs.path());
    assert!(
        disk["reasons"]
            .to_string()
            .contains("erases it only with --wipe"),
        "{disk:#}"
    );

    let out = c.cb(&["--label-prefix", "CA", "osd", "prepare", raw.path()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&raw.part(2)) && stderr(&out).contains("holds data"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        [fs.checksum(), raw.checksum(), bystander.checksum()],
        sums,
        "a refusal wrote nothing"
    );
    assert!(c.osds().is_empty(), "no OSD id was allocated");

    // Consent given: prepared; the bystander is still untouched.
    let v = c.cb_ok(&[
        "--label-prefix",
        "CA",
        "osd",
        "prepare",
        fs.path(),
        "--wipe",
    ]);
    assert_eq!(v["osds"][0]["action"], "created");
    assert_eq!(bystander.checksum(), sums[2]);
}

#[test]
fn the_daemon_applies_its_policy_to_partners_and_never_consents_for_the_operator() {
    if !root_or_skip("consent: daemon policy") {
        return;
    }
    let c = TestCluster::new();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    // The partner disk is attached first, so its name can be denied.
    let mut partner = HotDisk::new(
        dir.path(),
        "partner.img",
        256 * MIB,
        Some("CB_OSD_BOOTSTRAP_BS_G1_D"),
    );
    let pdev = partner.attach();
    sh("partx", &["-a", &pdev]);
    let pname = pdev.trim_start_matches("/dev/").to_string();
    let config = dir.path().join("daemon.toml");
    std::fs::write(&config, format!("deny = [\"{pname}\"]\n")).unwrap();
    let mut daemon = Daemon::start_args(&c, "CB", &[], &["--config", config.to_str().unwrap()]);

    let mut main = HotDisk::new(
        dir.path(),
        "main.img",
        2 * GIB,
        Some("CB_OSD_BOOTSTRAP_BS_G1"),
    );
    // A labelled disk whose second partition holds somebody's filesystem, made in the image
    // before the disk appears (mke2fs at the partition's offset).
    let sibling_img = dir.path().join("sibling.img");
    std::fs::File::create(&sibling_img)
        .unwrap()
        .set_len(2 * GIB + 512 * MIB)
        .unwrap();
    let img = sibling_img.to_str().unwrap();
    sh(
        "sgdisk",
        &[
            "-n1:2048:+1500M",
            "-c1:CB_OSD_BOOTSTRAP_BS",
            "-n2:3074048:+500M",
            img,
        ],
    );
    sh(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-L",
            "precious",
            "-E",
            &format!("offset={}", 3_074_048u64 * 512),
            img,
            "500M",
        ],
    );
    let mut sibling = HotDisk {
        file: sibling_img.clone(),
        dev: None,
    };
    let sums = [
        file_sum(&partner.file),
        file_sum(&main.file),
        file_sum(&sibling.file),
    ];
    let _ = sibling.attach();
    let _ = main.attach();

    let jobs = daemon.wait_jobs_done(2, 120);
    let text = format!("{jobs:#?}");
    assert!(jobs.iter().all(|j| j["state"] == "failed"), "{text}");
    assert!(text.contains("excluded by the device policy"), "{text}");
    assert!(
        text.contains("precious") && text.contains("--wipe"),
        "{text}"
    );
    assert_eq!(
        file_sum(&partner.file),
        sums[0],
        "the denied partner is untouched"
    );
    assert_eq!(
        file_sum(&main.file),
        sums[1],
        "the refused main disk is untouched"
    );
    assert_eq!(
        file_sum(&sibling.file),
        sums[2],
        "the sibling's filesystem is untouched"
    );
    assert!(c.osds().is_empty());
    assert!(daemon.terminate().success());
    sibling.detach();
    main.detach();
    partner.detach();
}

/// `losetup DEV FILE`, tried again while the kernel still finishes DEV's detach (busy), for
/// up to 10 s.
fn reattach_when_free(dev: &str, file: &Path) {
    for _ in 0..100 {
        let out = Command::new("losetup")
            .arg(dev)
            .arg(file)
            .output()
            .expect("losetup");
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("busy"),
            "losetup {dev} {}: {err}",
            file.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "{dev} still busy 10 s after its detach: cannot re-attach it to {}",
        file.display()
    );
}

#[test]
fn a_device_swapped_or_mounted_between_check_and_write_is_not_written() {
    if !root_or_skip("consent: identity pinned to the write") {
        return;
    }
    // zap: the loop device is re-attached to another file while cephboot waits to write.
    let judged = LoopDisk::new(64 * MIB);
    sh("mkfs.ext4", &["-q", "-F", judged.path()]);
    let other_dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let other = other_dir.path().join("other.img");
    std::fs::File::create(&other)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    write_at(&other, 0, &[0xA5; 4096]);
    let (judged_sum, other_sum) = (file_sum(&judged.file), file_sum(&other));
    let gate = other_dir.path().join("gate");
    std::fs::write(&gate, "").unwrap();
    let zap = Command::new(cephboot_bin())
        .args(["disks", "zap", judged.path()])
        .env("CEPHBOOT_TEST_PAUSE_BEFORE_WRITE", &gate)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_paused(&gate);
    {
        // The same loop number re-attached to another file: no other test's attach may take
        // the number meanwhile, and the detach completes only once nothing holds the device
        // open (another suite's cephboot reading every disk of the host may, for a moment).
        let _numbers = loop_numbers(true);
        sh("losetup", &["-d", judged.path()]);
        reattach_when_free(judged.path(), &other);
    }
    std::fs::remove_file(&gate).unwrap();
    let out = zap.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not the device that was checked"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        file_sum(&other),
        other_sum,
        "the file swapped in is untouched"
    );
    assert_eq!(
        file_sum(&judged.file),
        judged_sum,
        "the judged file is untouched"
    );
    sh("losetup", &["-d", judged.path()]);

    // prepare: a partition is mounted while cephboot waits to write (consent to wipe given).
    let disk = two_partitions(2 * GIB + 512 * MIB, "CC_OSD_BOOTSTRAP_BS", "1500M");
    sh("mkfs.ext4", &["-q", "-F", &disk.part(2)]);
    let bystander = LoopDisk::new(64 * MIB);
    let c = TestCluster::new();
    let sums = [disk.checksum(), bystander.checksum()];
    let mnt = tempfile::tempdir().unwrap();
    std::fs::write(&gate, "").unwrap();
    let prepare = Command::new(cephboot_bin())
        .args([
            "--state-dir",
            &c.dir(),
            "--label-prefix",
            "CC",
            "osd",
            "prepare",
            disk.path(),
            "--wipe",
        ])
        .env("CEPHBOOT_TEST_PAUSE_BEFORE_WRITE", &gate)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_paused(&gate);
    sh(
        "mount",
        &[
            "-o",
            "ro,noload",
            &disk.part(2),
            mnt.path().to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&gate).unwrap();
    let out = prepare.wait_with_output().unwrap();
    sh("umount", &[mnt.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be claimed exclusively"),
        "{}",
        stderr(&out)
    );
    assert_eq!([disk.checksum(), bystander.checksum()], sums);
    assert!(c.osds().is_empty());
}

/// The command line of every process on the machine.
fn command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .collect()
}

fn wait_paused(gate: &Path) {
    let mut at = gate.as_os_str().to_owned();
    at.push(".at");
    let start = Instant::now();
    while !Path::new(&at).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "cephboot never paused"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn partner_tables_gptman_cannot_parse_are_edited_safely_or_refused() {
    if !root_or_skip("consent: hostile partner tables") {
        return;
    }
    // 256-byte entries: valid by the spec; gptman panicked on them.
    let partner = LoopDisk::new(512 * MIB);
    write_raw_gpt(
        &partner.dev,
        512 * MIB,
        256,
        128,
        None,
        "CD_OSD_BOOTSTRAP_BS_G2_D",
    );
    // util-linux may not read 256-byte entries; cephboot reads the table itself either way.
    let _ = Command::new("partx").args(["-a", partner.path()]).output();
    let main = LoopDisk::new(2 * GIB);
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:CD_OSD_BOOTSTRAP_BS_G2", main.path()],
    );
    // Primary claims 4294967295 entries (gptman aborted allocating them); backup is sane.
    let hostile = LoopDisk::new(512 * MIB);
    write_raw_gpt(
        &hostile.dev,
        512 * MIB,
        128,
        128,
        Some(u32::MAX),
        "CD_OSD_BOOTSTRAP_BS_G3_D",
    );
    let main3 = LoopDisk::new(2 * GIB);
    sh(
        "sgdisk",
        &["-n1:1M:0", "-c1:CD_OSD_BOOTSTRAP_BS_G3", main3.path()],
    );
    let c = TestCluster::new();

    let sums = [hostile.checksum(), main3.checksum()];
    let out = c.cb(&["--label-prefix", "CD", "osd", "prepare", main3.path()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only one valid copy"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        [hostile.checksum(), main3.checksum()],
        sums,
        "nothing written"
    );

    let v = c.cb_ok(&["--label-prefix", "CD", "osd", "prepare", main.path()]);
    assert_eq!(v["osds"][0]["action"], "created", "{v:#}");
    let id = v["osds"][0]["osd_id"].as_u64().unwrap();
    // Read back by the test's own bytes: both copies carry the new name with valid CRCs,
    // and the entry size is still 256.
    let bytes = std::fs::read(&partner.dev).unwrap_or_default();
    let dev_bytes = if bytes.is_empty() {
        read_dev(&partner.dev, 512 * MIB)
    } else {
        bytes
    };
    let last = (512 * MIB / 512 - 1) as usize;
    for (header_lba, name) in [(1usize, "primary"), (last, "backup")] {
        let h = &dev_bytes[header_lba * 512..header_lba * 512 + 512];
        let mut copy = h[..92].to_vec();
        copy[16..20].fill(0);
        assert_eq!(
            crc32(&copy),
            u32::from_le_bytes(h[16..20].try_into().unwrap()),
            "{name} header CRC"
        );
        assert_eq!(
            u32::from_le_bytes(h[84..88].try_into().unwrap()),
            256,
            "{name} entry size"
        );
        let lba = u64::from_le_bytes(h[72..80].try_into().unwrap()) as usize;
        let array = &dev_bytes[lba * 512..lba * 512 + 256 * 128];
        assert_eq!(
            crc32(array),
            u32::from_le_bytes(h[88..92].try_into().unwrap()),
            "{name} array CRC"
        );
        let units: Vec<u16> = array[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        assert_eq!(
            String::from_utf16_lossy(&units),
            format!("CD_DATA_BS_{id}_D"),
            "{name} entry name"
        );
    }
}

fn read_dev(dev: &Path, size: u64) -> Vec<u8> {
    let mut f = std::fs::File::open(dev).unwrap();
    let mut buf = vec![0u8; usize::try_from(size).unwrap()];
    f.read_exact(&mut buf).unwrap();
    buf
}

/// A GPT by hand: `entries` entries of `entry_size` bytes, partition 1 from 1 MiB to half
/// the disk named `name`; `primary_entries` overrides the primary header's entry count
/// (its CRC kept valid).
fn write_raw_gpt(
    dev: &Path,
    size: u64,
    entry_size: usize,
    entries: u32,
    primary_entries: Option<u32>,
    name: &str,
) {
    let crc = crc32;
    let last = size / 512 - 1;
    let mut array = vec![0u8; entry_size * entries as usize];
    let array_sectors = (array.len() as u64).div_ceil(512);
    array[0..16].copy_from_slice(&[
        0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D,
        0xE4,
    ]);
    array[16..32].copy_from_slice(&[0x11; 16]);
    array[32..40].copy_from_slice(&2048u64.to_le_bytes());
    array[40..48].copy_from_slice(&(size / 1024).to_le_bytes());
    for (i, u) in name.encode_utf16().enumerate() {
        array[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let header = |my: u64, alt: u64, entries_lba: u64, count: u32| {
        let mut h = vec![0u8; 512];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[40..48].copy_from_slice(&(2 + array_sectors).to_le_bytes());
        h[48..56].copy_from_slice(&(last - 1 - array_sectors).to_le_bytes());
        h[56..72].copy_from_slice(&[0x22; 16]);
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&count.to_le_bytes());
        h[84..88].copy_from_slice(&u32::try_from(entry_size).unwrap().to_le_bytes());
        h[88..92].copy_from_slice(&crc(&array).to_le_bytes());
        let c = crc(&h[..92]);
        h[16..20].copy_from_slice(&c.to_le_bytes());
        h
    };
    // Protective MBR.
    let mut mbr = vec![0u8; 512];
    mbr[446 + 4] = 0xEE;
    mbr[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    mbr[446 + 12..446 + 16]
        .copy_from_slice(&u32::try_from(last.min(0xFFFF_FFFF)).unwrap().to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    write_at(dev, 0, &mbr);
    write_at(
        dev,
        512,
        &header(1, last, 2, primary_entries.unwrap_or(entries)),
    );
    write_at(dev, 1024, &array);
    write_at(dev, (last - array_sectors) * 512, &array);
    write_at(
        dev,
        last * 512,
        &header(last, 1, last - array_sectors, entries),
    );
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_timed_out_job_leaves_no_process_of_its_group_behind() {
    if !root_or_skip("consent: job process groups") {
        return;
    }
    let c = TestCluster::new();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let config = dir.path().join("daemon.toml");
    std::fs::write(&config, "job_timeout_secs = 8\n").unwrap();
    // mkfs.xfs of the filestore data partition starts only after a long sleep in its group.
    let mut daemon = Daemon::start_args(
        &c,
        "CE",
        &[("CEPHBOOT_TEST_DELAY_EXEC", "mkfs.xfs:600")],
        &["--config", config.to_str().unwrap()],
    );
    let mut disk = HotDisk::new(dir.path(), "fs.img", 8 * GIB, Some("CE_OSD_BOOTSTRAP"));
    let dev = disk.attach();
    let jobs = daemon.wait_jobs_done(1, 120);
    let text = format!("{jobs:#?}");
    assert_eq!(jobs[0]["state"], "failed", "{text}");
    assert!(text.contains("its process group was killed"), "{text}");
    assert!(!text.contains("stuck"), "{text}");
    // Nothing that was started for the job (the sleeping shell, mkfs.xfs) is left.
    let left: Vec<String> = command_lines()
        .into_iter()
        .filter(|cmd| cmd.contains(&dev) && !cmd.contains("cephboot daemon"))
        .collect();
    assert!(left.is_empty(), "processes still on {dev}: {left:?}");
    assert!(daemon.terminate().success());
    disk.detach();
}

#[test]
fn stale_kernel_partitions_of_a_detached_disk_are_errors_not_free() {
    if !root_or_skip("consent: stale partitions") {
        return;
    }
    // This kernel keeps BLKPG partitions after the detach (../shared/TESTING.md). Another test
    // attaching a disk may take the freed loop number (and clear them) at once: the tests'
    // attaches wait while this one holds the loop-number lock; cephboot's own `loop:SIZE`
    // attaches do not, so try again when one took it.
    for attempt in 1..=5 {
        let d = LoopDisk::new(64 * MIB);
        sh("sgdisk", &["-n1:1M:0", d.path()]);
        d.partx_add();
        let exclusive = loop_numbers(true);
        sh("losetup", &["-d", d.path()]);
        let (_, list) = cephboot_json(&["disks", "list", "--all", d.path()]);
        let listed = list["devices"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["path"] == d.part(1).as_str()));
        let still_detached = !sh("losetup", &["-l", "-n", "-O", "NAME"])
            .lines()
            .any(|l| l.trim() == d.path());
        if still_detached {
            // Its stale partition goes while the number is still held: once the lock is let
            // go the number may be another test's, and LoopDisk's drop leaves a loop number
            // that is no longer backed by its file alone.
            clear_stale_partitions(d.path());
        }
        drop(exclusive);
        if !listed || !still_detached {
            eprintln!("NOTE: attempt {attempt}: the loop number was reused meanwhile; again");
            continue;
        }
        let p = device(&list, &d.part(1));
        assert_eq!(p["state"], "error", "{p:#}");
        assert!(
            p["reasons"].to_string().contains("stale kernel partition"),
            "{p:#}"
        );
        return;
    }
    panic!("the stale partition was never seen: the loop number was reused five times");
}

#[test]
fn control_characters_in_names_are_escaped_in_tables() {
    if !root_or_skip("consent: control characters") {
        return;
    }
    let d = LoopDisk::new(64 * MIB);
    sh("sgdisk", &["-n1:1M:0", "-c1:evil\x1b[2Jname", d.path()]);
    d.partx_add();
    let out = cephboot(&["disks", "list", d.path()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "raw escape in {text:?}");
    assert!(text.contains("evil\\x1b[2Jname"), "{text}");
}

/// A one-shot HTTP server: answers every request with `reply` and records what it got.
fn serve(addr: &str, reply: String) -> (u16, std::sync::mpsc::Receiver<String>) {
    let l = TcpListener::bind(addr).unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = vec![0u8; 16384];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = s.write_all(reply.as_bytes());
        }
    });
    (port, rx)
}

#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    // No root needed: two loopback servers, one redirecting to the other's address.
    let (other, got_other) = serve(
        "127.0.0.2:0",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into(),
    );
    let location = format!("http://127.0.0.2:{other}/v3/auth/tokens");
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    );
    let (first, got_first) = serve("127.0.0.1:0", redirect);
    let url = format!("http://127.0.0.1:{first}/v3");
    let noauth = cephboot(&[
        "cinder",
        "type",
        "list",
        "--os-auth-type",
        "none",
        "--os-endpoint",
        &url,
    ]);
    let password = Command::new(cephboot_bin())
        .args(["cinder", "type", "list"])
        .env("OS_AUTH_URL", &url)
        .env("OS_USERNAME", "u")
        .env("OS_PASSWORD", "s3cret-pass")
        .env("OS_PROJECT_NAME", "p")
        .env("OS_USER_DOMAIN_NAME", "Default")
        .env("OS_PROJECT_DOMAIN_NAME", "Default")
        .output()
        .unwrap();
    for out in [&noauth, &password] {
        assert!(!out.status.success(), "{}", stderr(out));
    }
    assert!(
        stderr(&password).contains("another host"),
        "{}",
        stderr(&password)
    );
    std::thread::sleep(Duration::from_millis(300));
    let first_seen: Vec<String> = got_first.try_iter().collect();
    let joined = first_seen.join("\n");
    assert!(
        joined.to_ascii_lowercase().contains("x-auth-token") && joined.contains("s3cret-pass"),
        "both requests reached the first host: {first_seen:?}"
    );
    let seen: Vec<String> = got_other.try_iter().collect();
    assert!(seen.is_empty(), "the other host was asked: {seen:?}");
}

#[test]
// A process blocked in the kernel's read cannot be reaped until the read returns: it is
// waited for with a bound, and the test fails (naming it) rather than hang.
#[allow(clippy::zombie_processes)]
fn a_disk_that_stops_answering_reads_is_reported_and_the_others_are_listed() {
    if !root_or_skip("consent: a stalled disk") {
        return;
    }
    if !Path::new("/usr/lib/python3/dist-packages/fusepy.py").exists()
        || !Path::new("/dev/fuse").exists()
    {
        required_or_skip(
            "consent: a stalled disk",
            "python3-fusepy and /dev/fuse (scripts/install-deps installs the package)",
        );
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let mnt = dir.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    let stall = dir.path().join("stall");
    let mut server = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stall_fs.py"
        ))
        .arg(&mnt)
        .arg((64 * MIB).to_string())
        .arg(&stall)
        .spawn()
        .unwrap();
    let img = mnt.join("disk.img");
    let start = Instant::now();
    while !img.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the FUSE server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dev = sh("losetup", &["-f", "--show", "-r", img.to_str().unwrap()])
        .trim()
        .to_string();
    let bystander = LoopDisk::new(64 * MIB);
    std::fs::write(&stall, "").unwrap();
    sh("blockdev", &["--flushbufs", &dev]);
    let started = Instant::now();
    let mut list = Command::new(cephboot_bin())
        .args(["disks", "list", "--format", "json", &dev, bystander.path()])
        .env("CEPHBOOT_READ_DEADLINE_SECS", "3")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The answer comes after the deadline; the process itself can only be reaped once the
    // kernel lets go of the stalled read (docs/consent.md), so stdout is read as it arrives.
    let stdout = list.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let answer = rx.recv_timeout(Duration::from_secs(40));
    let took = started.elapsed();
    // Let the stalled reads finish whatever happened, then clean up.
    std::fs::remove_file(&stall).unwrap();
    let mut exited = false;
    let wait_start = Instant::now();
    while wait_start.elapsed() < Duration::from_secs(30) {
        if list.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("losetup").args(["-d", &dev]).output();
    let _ = Command::new("umount").arg(&mnt).output();
    let _ = server.kill();
    let _ = server.wait();
    let out = answer.expect("disks list gave no answer while a disk did not answer reads");
    assert!(
        exited,
        "disks list did not exit once the disk answered again"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let stalled = device(&v, &dev);
    assert_eq!(stalled["state"], "error", "{stalled:#}");
    assert!(
        stalled["reasons"]
            .to_string()
            .contains("did not answer reads within 3 s"),
        "{stalled:#}"
    );
    let other = device(&v, bystander.path());
    assert_eq!(
        other["state"], "free",
        "the other disk is listed as usual: {other:#}"
    );
    eprintln!("disks list answered after {took:?} with one disk stalled");
}

#[test]
fn sigterm_during_mkfs_stops_mkfs_too() {
    if !root_or_skip("consent: SIGTERM stops the programs") {
        return;
    }
    let disk = LoopDisk::new(2 * GIB);
    let c = TestCluster::new();
    let mut prepare = Command::new(cephboot_bin())
        .args([
            "--state-dir",
            &c.dir(),
            "osd",
            "prepare",
            disk.path(),
            "--store",
            "filestore",
            "--journal-size",
            "256M",
        ])
        .env("CEPHBOOT_TEST_DELAY_EXEC", "mkfs.xfs:600")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let on_disk = || -> Vec<String> {
        command_lines()
            .into_iter()
            .filter(|cmd| cmd.contains(&disk.part(1)) && cmd.contains("sleep 600"))
            .collect()
    };
    let start = Instant::now();
    while on_disk().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "mkfs.xfs never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sh("kill", &["-TERM", &prepare.id().to_string()]);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = prepare.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "cephboot did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    let _ = prepare.stderr.take().unwrap().read_to_string(&mut err);
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(err.contains("stopped by a signal"), "{err}");
    assert!(
        on_disk().is_empty(),
        "mkfs.xfs outlived cephboot: {:?}",
        on_disk()
    );
    // The stopped run purged the id it had allocated on its way out; the next run prepares
    // the disk, and the cluster has one OSD, no orphan.
    let v = c.cb_ok(&[
        "osd",
        "prepare",
        disk.path(),
        "--store",
        "filestore",
        "--journal-size",
        "256M",
    ]);
    assert_eq!(v["osds"][0]["action"], "created", "{v:#}");
    assert_eq!(c.osds().len(), 1, "no orphan id: {:?}", c.osds());
}
