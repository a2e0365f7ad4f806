//! Test harness: loop devices the test creates and always removes, and a way to run the
//! cephboot binary. Tests that need root skip with a message when not run as root
//! (`make test` runs them as root). `NO_TEST_CLEAN_UP=1` keeps devices for inspection.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// True when running as root; otherwise prints why the test is skipped.
pub fn root_or_skip(test: &str) -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("1").to_string())
        });
    if uid.as_deref() == Some("0") {
        true
    } else {
        required_or_skip(test, "root (run `make test` as root)");
        false
    }
}

/// Says loudly, on one line, that `test` cannot run without `what`; under CI (`CI=true`) a
/// test that cannot run is a failure, not a skip.
pub fn required_or_skip(test: &str, what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs {what}, and CI=true: a test that cannot run fails under CI");
    }
    eprintln!("SKIP {test}: needs {what}");
}

/// Runs a command, panicking with its full output when it fails.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes kernel partitions of `dev` that its (new) medium's table does not explain: those a
/// previous user of the loop number left behind.
pub fn clear_stale_partitions(dev: &str) {
    let _ = Command::new("partx").args(["-d", dev]).output();
}

/// A lock on handing out loop numbers between the test processes of one run (suites run side
/// by side): every attach holds it shared for the `losetup -f`; a test that needs a detached
/// loop number to stay free for a moment (its stale partitions are what it checks) holds it
/// exclusively. cephboot's own `loop:SIZE` targets do not take it.
pub fn loop_numbers(exclusive: bool) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/var/tmp/cephboot-test-loop-numbers.lock")
        .expect("loop number lock");
    if exclusive {
        f.lock().expect("lock loop numbers");
    } else {
        f.lock_shared().expect("lock loop numbers (shared)");
    }
    f
}

/// A sparse file attached as a loop device; detached and deleted on drop (also on panic).
pub struct LoopDisk {
    pub dev: PathBuf,
    pub file: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopDisk {
    /// A new loop device of `size` bytes.
    pub fn new(size: u64) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cephboot-test-")
            .tempdir_in("/var/tmp")
            .expect("tempdir");
        let file = dir.path().join("disk.img");
        let f = std::fs::File::create(&file).expect("create image");
        f.set_len(size).expect("size image");
        drop(f);
        let dev = {
            let _shared = loop_numbers(false);
            sh("losetup", &["-f", "--show", file.to_str().unwrap()])
                .trim()
                .to_string()
        };
        // This kernel keeps BLKPG partitions across a detach: a loop number another test just
        // gave back may still list its partitions (../shared/TESTING.md).
        clear_stale_partitions(&dev);
        LoopDisk {
            dev: PathBuf::from(dev),
            file,
            _dir: dir,
        }
    }

    pub fn path(&self) -> &str {
        self.dev.to_str().unwrap()
    }

    /// Kernel name (`loop3`).
    pub fn name(&self) -> String {
        self.dev.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// Node of partition `n` (`/dev/loop3p2`).
    pub fn part(&self, n: u32) -> String {
        format!("{}p{n}", self.path())
    }

    /// A disk with one partition over all of it named `label` (a bootstrap label, say), known
    /// to the kernel.
    pub fn labelled(size: u64, label: &str) -> Self {
        let d = Self::new(size);
        sh("sgdisk", &["-n1:1M:0", &format!("-c1:{label}"), d.path()]);
        d.partx_add();
        d
    }

    /// Tells the kernel about every partition in the on-disk table (`partx -a`), since this
    /// kernel has no GPT parser.
    pub fn partx_add(&self) {
        let _ = Command::new("partx").args(["-d", self.path()]).output();
        sh("partx", &["-a", self.path()]);
    }

    /// sha256 of the backing file's bytes, reading only its data extents (holes are zeros by
    /// definition, so this is as exact as hashing every byte) — for sparse disks of many GiB.
    pub fn sparse_checksum(&self) -> String {
        const SCRIPT: &str = r#"
import hashlib, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
size = os.fstat(fd).st_size
h = hashlib.sha256(struct.pack("<Q", size))
off = 0
while off < size:
    try:
        data = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    hole = os.lseek(fd, data, os.SEEK_HOLE)
    h.update(struct.pack("<QQ", data, hole - data))
    os.lseek(fd, data, os.SEEK_SET)
    left = hole - data
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 22))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    off = hole
print(h.hexdigest())
"#;
        sh(
            "/usr/bin/python3",
            &["-c", SCRIPT, self.file.to_str().unwrap()],
        )
        .trim()
        .to_string()
    }

    /// sha256 of the whole device.
    pub fn checksum(&self) -> String {
        sh("sha256sum", &[self.path()])
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        if std::env::var_os("NO_TEST_CLEAN_UP").is_some() {
            eprintln!(
                "NO_TEST_CLEAN_UP: keeping {} ({})",
                self.dev.display(),
                self.file.display()
            );
            std::mem::forget(std::mem::replace(
                &mut self._dir,
                tempfile::tempdir().unwrap(),
            ));
            return;
        }
        // A loop number the test gave back itself may be another test's disk by now: its
        // mounts, partitions and loop are that test's (see `backed_by`).
        if !backed_by(self.path(), &self.file) {
            return;
        }
        // Unmount anything a test left mounted on this disk or its partitions, then detach.
        // Only this disk's: /dev/loop1's partitions are /dev/loop1pN, never /dev/loop12p1 (a
        // prefix match once lazily unmounted a FileStore OSD of another test running beside
        // this one, which then aborted on a missing file).
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") {
            for line in mounts.lines() {
                let mut f = line.split_whitespace();
                if let (Some(src), Some(mp)) = (f.next(), f.next()) {
                    if is_on_disk(src, self.path()) {
                        let _ = Command::new("umount").arg("-l").arg(mp).output();
                    }
                }
            }
        }
        detach(self.path());
    }
}

/// Whether loop device `dev` is still backed by `file`. A test that detached its loop itself
/// (to swap a disk, or to leave stale partitions behind) has given the number back, and
/// another test running beside it may have taken it since: a cleanup by number alone then took
/// that test's disk away (clean-clone run 2026-12-05: ceph-osd exiting 250 on a vanished disk,
/// a bystander's checksum changed, a disk that "holds data" mid-test, in three suites at once).
pub fn backed_by(dev: &str, file: &std::path::Path) -> bool {
    let name = dev.trim_start_matches("/dev/");
    let backing =
        std::fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).unwrap_or_default();
    std::fs::canonicalize(file)
        .ok()
        .is_some_and(|f| backing.trim_end() == f.to_string_lossy())
}

/// Removes loop device `dev`'s kernel partitions and detaches it (the caller checked that it
/// is its own: [`backed_by`]).
fn detach(dev: &str) {
    let _ = Command::new("partx").args(["-d", dev]).output();
    let _ = Command::new("losetup").args(["-d", dev]).output();
}

/// [`detach`] of `dev` while it is still backed by `file`.
pub fn detach_if_backed_by(dev: &str, file: &std::path::Path) {
    if backed_by(dev, file) {
        detach(dev);
    }
}

/// The cephboot binary built for this test run.
pub fn cephboot_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cephboot")
}

/// Runs cephboot with `args`.
pub fn cephboot(args: &[&str]) -> Output {
    Command::new(cephboot_bin())
        .args(args)
        .env("CEPHBOOT_LOG", "cephboot=info")
        .output()
        .expect("run cephboot")
}

/// The JSON a successful cephboot run printed; panics with `what`, the exit code and both
/// streams otherwise.
pub fn json_of_success(out: &Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Runs cephboot with `--format json` and parses stdout.
pub fn cephboot_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let out = cephboot(&a);
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cephboot {a:?} did not print JSON ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// The device record for `path` in a `disks list` JSON answer.
pub fn device<'a>(list: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    list["devices"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["path"] == path))
        .unwrap_or_else(|| panic!("{path} not in {list:#}"))
}

/// Writes `bytes` at `offset` of `path` (for what the standard tools refuse to write).
pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for write");
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// `len` bytes of `path` at `offset`.
pub fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset).unwrap();
    buf
}

/// A BlueStore label as ceph-osd writes it (text header + encoded metadata) for a cluster
/// `fsid`, without a real OSD behind it.
pub fn fake_bluestore_label(fsid: &str) -> Vec<u8> {
    let mut b = b"bluestore block device\n0b8e9c1a-54b7-4c39-9d5c-1f0e7c4a9b11\n".to_vec();
    b.extend_from_slice(&[2, 1, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(b"main");
    b.extend_from_slice(&1u32.to_le_bytes());
    for s in ["ceph_fsid", fsid] {
        b.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    b
}

pub mod ansible;
pub mod cluster;
pub mod daemon;
pub mod hosts;
pub mod openstack;
pub mod prometheus;
pub mod release;
pub mod sshd;

/// Whether the device node `src` is the disk `disk` or one of its partitions (`<disk>p<N>`).
pub fn is_on_disk(src: &str, disk: &str) -> bool {
    match src.strip_prefix(disk) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('p')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

#[test]
fn a_disk_owns_its_partitions_and_no_other_disks() {
    assert!(is_on_disk("/dev/loop1", "/dev/loop1"));
    assert!(is_on_disk("/dev/loop1p2", "/dev/loop1"));
    assert!(!is_on_disk("/dev/loop12p1", "/dev/loop1"));
    assert!(!is_on_disk("/dev/loop12", "/dev/loop1"));
    assert!(!is_on_disk("/dev/loop1px", "/dev/loop1"));
}
