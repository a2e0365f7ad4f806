//! One walk of `/sys/class/block` into a snapshot of plain structs: every disk and partition
//! with its size, read-only flag, holders, mounts, swap use, partition-table entry and the
//! signatures libblkid finds in its bytes. No daemon is asked; nothing is written.
//!
//! Partitions come from the disk's own table as well as from sysfs, so a partition the kernel
//! has not been told about yet is still listed (with `in_kernel: false`). A device that cannot
//! be read becomes one entry with its error; the others are unaffected.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use cephboot_ffi::blkid::{Probe, Signature};
use uuid::Uuid;

use super::gpt::{self, GptRead, HeaderUsed};
use super::label::PartitionName;
use super::prefetch;

/// Where the kernel's views live (overridable so tests can point at a copy).
#[derive(Debug, Clone)]
pub struct Roots {
    /// Usually `/sys`.
    pub sys: PathBuf,
    /// Usually `/dev`.
    pub dev: PathBuf,
    /// Usually `/proc`.
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sys: "/sys".into(),
            dev: "/dev".into(),
            proc: "/proc".into(),
        }
    }
}

/// Disk or partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A whole block device.
    Disk,
    /// A partition of a disk.
    Partition,
}

/// The partition table of a disk, as read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableInfo {
    /// No table.
    None,
    /// A GPT, with the header it was read from.
    Gpt {
        /// Primary or backup.
        header_used: HeaderUsed,
        /// Whether the other header was valid too.
        other_header_valid: bool,
    },
    /// An MBR (DOS) table that is not a GPT protective MBR.
    Mbr,
    /// A table signature that could not be read (the message says why).
    Corrupt(String),
}

/// The GPT entry describing a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptInfo {
    /// The partition name as stored.
    pub name: PartitionName,
    /// PARTUUID.
    pub unique_guid: Uuid,
    /// Partition type GUID.
    pub type_guid: Uuid,
}

/// One disk or partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Kernel name (`sdb`, `loop3p12`, `nvme0n1p2`).
    pub name: String,
    /// Device node (`/dev/sdb1`).
    pub path: PathBuf,
    /// Disk or partition.
    pub kind: DeviceKind,
    /// Parent disk's node, for partitions.
    pub parent: Option<PathBuf>,
    /// Partition number, for partitions.
    pub partition_number: Option<u32>,
    /// Byte offset within the parent, for partitions.
    pub start_bytes: Option<u64>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Logical sector size.
    pub sector_size: u64,
    /// The kernel marks it read-only.
    pub read_only: bool,
    /// Spinning disk (disks only; `None` when unknown).
    pub rotational: Option<bool>,
    /// Devices stacked on this one (dm, md, LVM): names from `holders/`.
    pub holders: Vec<String>,
    /// Mount points of this device.
    pub mountpoints: Vec<String>,
    /// Active swap on this device.
    pub swap: bool,
    /// The kernel has a node for it (false: only in the on-disk table so far).
    pub in_kernel: bool,
    /// Partition table (disks).
    pub table: Option<TableInfo>,
    /// GPT entry (GPT partitions).
    pub gpt: Option<GptInfo>,
    /// Signatures libblkid found in the device's bytes (filesystems, RAID, LVM, tables).
    pub signatures: Vec<Signature>,
    /// The GPT disk GUID (disks). cephboot sets it to the cluster fsid on disks it lays out,
    /// so `osd activate` can tell its cluster's OSDs from another cluster's.
    pub disk_guid: Option<Uuid>,
    /// The kernel's view of this partition when it differs from the on-disk table (a stale
    /// kernel table: the next zap or prepare re-syncs it).
    pub kernel_mismatch: Option<String>,
    /// `major:minor` (disks).
    pub devno: Option<String>,
    /// The kernel's disk sequence number (disks; new for every medium on the node).
    pub diskseq: Option<u64>,
    /// WWN or serial, or a loop device's backing file (disks).
    pub serial: Option<String>,
    /// The vendor sysfs reports (`device/vendor`: SCSI and SATA disks), trimmed (disks).
    pub vendor: Option<String>,
    /// The model sysfs reports (`device/model`: SCSI, SATA, NVMe), trimmed (disks).
    pub model: Option<String>,
    /// Read problems: a non-empty list makes the device state `error`.
    pub errors: Vec<String>,
}

impl Device {
    fn new(name: &str, dev_root: &Path, kind: DeviceKind) -> Self {
        Device {
            name: name.to_string(),
            path: dev_root.join(name),
            kind,
            parent: None,
            partition_number: None,
            start_bytes: None,
            size_bytes: 0,
            sector_size: 512,
            read_only: false,
            rotational: None,
            holders: Vec::new(),
            mountpoints: Vec::new(),
            swap: false,
            in_kernel: true,
            table: None,
            gpt: None,
            signatures: Vec::new(),
            disk_guid: None,
            kernel_mismatch: None,
            devno: None,
            diskseq: None,
            serial: None,
            vendor: None,
            model: None,
            errors: Vec::new(),
        }
    }

    /// A blank 1 GiB whole disk `/dev/NAME` with no table, for unit tests of deciding code.
    #[cfg(test)]
    pub fn test_disk(name: &str) -> Self {
        let mut d = Device::new(name, Path::new("/dev"), DeviceKind::Disk);
        d.size_bytes = 1 << 30;
        d.table = Some(TableInfo::None);
        d
    }

    /// The first filesystem-like signature (not a partition table).
    pub fn filesystem(&self) -> Option<&Signature> {
        self.signatures
            .iter()
            .find(|s| s.usage != "partition_table")
    }
}

/// Everything discovered in one walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Disks, each followed by its partitions in number order.
    pub devices: Vec<Device>,
}

impl Snapshot {
    /// The device with this node path.
    pub fn find(&self, path: &Path) -> Option<&Device> {
        self.devices.iter().find(|d| d.path == path)
    }

    /// The partitions of `disk` (by node path).
    pub fn partitions_of<'a>(&'a self, disk: &'a Path) -> impl Iterator<Item = &'a Device> + 'a {
        self.devices
            .iter()
            .filter(move |d| d.parent.as_deref() == Some(disk))
    }
}

/// Which devices to walk.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Include zero-size devices, ram/zram, optical drives.
    pub all: bool,
    /// Only these disks (kernel names); empty = every disk.
    pub only: Vec<String>,
}

fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn read_u64(p: &Path) -> Option<u64> {
    read_trim(p)?.parse().ok()
}

/// The node name of partition `n` of disk `disk` (`sdb` → `sdb1`, `loop0`/`nvme0n1` → `p1`).
pub fn partition_node_name(disk: &str, n: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

/// Unescapes the octal escapes (`\040`) the kernel uses in mountinfo and swaps.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let digits = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match digits {
            Some(d) if c == b'\\' => {
                let v = d.iter().fold(0u32, |acc, x| acc * 8 + u32::from(x - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points by `major:minor`, from mountinfo.
fn mounts_by_devno(proc_root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(text) = fs::read_to_string(proc_root.join("self/mountinfo")) else {
        return out;
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let (Some(devno), Some(mp)) = (f.get(2), f.get(4)) {
            out.entry((*devno).to_string())
                .or_default()
                .push(unescape_octal(mp));
        }
    }
    out
}

/// Active swap device paths, from /proc/swaps.
fn swaps(proc_root: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(proc_root.join("swaps")) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|p| {
            let p = PathBuf::from(unescape_octal(p));
            fs::canonicalize(&p).unwrap_or(p)
        })
        .collect()
}

fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn hidden_by_default(name: &str) -> bool {
    name.starts_with("ram") || name.starts_with("zram") || name.starts_with("sr")
}

/// Walks `/sys/class/block` once and describes every device.
pub fn scan(roots: &Roots, filter: &Filter) -> Snapshot {
    let class = roots.sys.join("class/block");
    let mounts = mounts_by_devno(&roots.proc);
    let swaps = swaps(&roots.proc);
    let names = list_dir(&class);

    // Split into disks and (kernel-known) partitions by the `partition` attribute.
    let mut disks = Vec::new();
    let mut kernel_parts: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for name in &names {
        let dir = class.join(name);
        if let Some(n) = read_u64(&dir.join("partition")) {
            // The parent is the directory above the partition's real sysfs path.
            let parent = fs::canonicalize(&dir).ok().and_then(|p| {
                p.parent()
                    .and_then(|p| p.file_name())
                    .map(|s| s.to_string_lossy().into_owned())
            });
            if let Some(parent) = parent {
                kernel_parts
                    .entry(parent)
                    .or_default()
                    .push((name.clone(), u32::try_from(n).unwrap_or(0)));
            }
        } else {
            disks.push(name.clone());
        }
    }

    let mut work: Vec<DiskWork> = Vec::new();
    for disk in disks {
        if !filter.only.is_empty() && !filter.only.contains(&disk) {
            continue;
        }
        let dir = class.join(&disk);
        let size = read_u64(&dir.join("size")).unwrap_or(0).saturating_mul(512);
        if !filter.all && (size == 0 || hidden_by_default(&disk)) {
            continue;
        }
        let parts = kernel_parts.remove(&disk).unwrap_or_default();
        work.push(DiskWork {
            name: disk,
            size,
            kernel_parts: parts,
        });
    }
    let results = describe_all(roots, work, mounts, swaps, read_deadline());
    let mut snapshot = Snapshot::default();
    for r in results {
        snapshot.devices.extend(r);
    }
    snapshot
}

/// How long one disk may take to answer its reads before it is reported as not answering
/// (`CEPHBOOT_READ_DEADLINE_SECS`, default 10).
fn read_deadline() -> std::time::Duration {
    let secs = std::env::var("CEPHBOOT_READ_DEADLINE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(10);
    std::time::Duration::from_secs(secs)
}

/// Describes every disk on worker threads, in walk order. A disk whose reads do not return
/// within `deadline` (a dying disk, a loop file on a FUSE mount that blocks) becomes one
/// entry with that error; its worker is left behind (blocked in the kernel) and a fresh one
/// takes over the queue, so the other disks are still described.
fn describe_all(
    roots: &Roots,
    work: Vec<DiskWork>,
    mounts: BTreeMap<String, Vec<String>>,
    swaps: Vec<PathBuf>,
    deadline: std::time::Duration,
) -> Vec<Vec<Device>> {
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Instant;
    struct Queue {
        next: usize,
        started: Vec<Option<Instant>>,
    }
    let n = work.len();
    let shared = Arc::new((roots.clone(), work, mounts, swaps));
    let queue = Arc::new(Mutex::new(Queue {
        next: 0,
        started: vec![None; n],
    }));
    let (tx, rx) = mpsc::channel::<(usize, Vec<Device>)>();
    let spawn_worker = || {
        let (shared, queue, tx) = (shared.clone(), queue.clone(), tx.clone());
        std::thread::spawn(move || loop {
            let i = {
                let Ok(mut q) = queue.lock() else { return };
                let i = q.next;
                if i >= q.started.len() {
                    return;
                }
                q.next += 1;
                if let Some(s) = q.started.get_mut(i) {
                    *s = Some(Instant::now());
                }
                i
            };
            let (roots, work, mounts, swaps) = &*shared;
            let Some(w) = work.get(i) else { return };
            let devices = describe_disk(roots, &w.name, w.size, &w.kernel_parts, mounts, swaps);
            if tx.send((i, devices)).is_err() {
                return;
            }
        })
    };
    let threads = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(1, 8)
        .min(n.max(1));
    for _ in 0..threads {
        spawn_worker();
    }
    let mut results: Vec<Option<Vec<Device>>> = vec![None; n];
    let mut given_up = vec![false; n];
    let mut open = n;
    while open > 0 {
        match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok((i, devices)) => {
                if let (Some(slot), Some(false)) = (results.get_mut(i), given_up.get(i)) {
                    if slot.is_none() {
                        *slot = Some(devices);
                        open -= 1;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let late: Vec<usize> = match queue.lock() {
            Ok(q) => q
                .started
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    s.is_some_and(|t| t.elapsed() > deadline)
                        && results.get(*i).is_some_and(Option::is_none)
                        && given_up.get(*i) == Some(&false)
                })
                .map(|(i, _)| i)
                .collect(),
            Err(_) => break,
        };
        for i in late {
            if let (Some(g), Some(w)) = (given_up.get_mut(i), shared.1.get(i)) {
                *g = true;
                open -= 1;
                let mut d = Device::new(&w.name, &shared.0.dev, DeviceKind::Disk);
                d.size_bytes = w.size;
                d.errors.push(format!(
                    "{} did not answer reads within {} s (a failing disk, or a loop file on a stalled mount): it is left alone",
                    d.path.display(),
                    deadline.as_secs()
                ));
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(vec![d]);
                }
                spawn_worker();
            }
        }
    }
    results.into_iter().map(Option::unwrap_or_default).collect()
}

/// One disk to describe: kernel name, size, and the partitions the kernel knows.
struct DiskWork {
    name: String,
    size: u64,
    kernel_parts: Vec<(String, u32)>,
}

fn common_attrs(
    d: &mut Device,
    dir: &Path,
    mounts: &BTreeMap<String, Vec<String>>,
    swaps: &[PathBuf],
) {
    d.read_only = read_u64(&dir.join("ro")).unwrap_or(0) != 0;
    d.holders = list_dir(&dir.join("holders"));
    if let Some(devno) = read_trim(&dir.join("dev")) {
        d.mountpoints = mounts.get(&devno).cloned().unwrap_or_default();
    }
    d.swap = swaps.iter().any(|s| s == &d.path);
}

/// Describes one disk and its partitions (from its table and from sysfs).
fn describe_disk(
    roots: &Roots,
    name: &str,
    size: u64,
    kernel_parts: &[(String, u32)],
    mounts: &BTreeMap<String, Vec<String>>,
    swaps: &[PathBuf],
) -> Vec<Device> {
    let class = roots.sys.join("class/block");
    let dir = class.join(name);
    let mut disk = Device::new(name, &roots.dev, DeviceKind::Disk);
    disk.size_bytes = size;
    disk.sector_size = read_u64(&dir.join("queue/logical_block_size"))
        .unwrap_or(512)
        .max(512);
    disk.rotational = read_u64(&dir.join("queue/rotational")).map(|v| v != 0);
    disk.devno = read_trim(&dir.join("dev"));
    disk.diskseq = super::identity::diskseq_of(&dir);
    disk.serial = super::identity::serial_of(&dir);
    disk.vendor = read_trim(&dir.join("device/vendor")).filter(|v| !v.is_empty());
    disk.model = read_trim(&dir.join("device/model")).filter(|v| !v.is_empty());
    common_attrs(&mut disk, &dir, mounts, swaps);

    // Partitions the kernel knows, by number.
    let mut parts: BTreeMap<u32, Device> = BTreeMap::new();
    for (pname, number) in kernel_parts {
        let pdir = class.join(pname);
        let mut p = Device::new(pname, &roots.dev, DeviceKind::Partition);
        p.parent = Some(disk.path.clone());
        p.partition_number = Some(*number);
        p.sector_size = disk.sector_size;
        p.size_bytes = read_u64(&pdir.join("size"))
            .unwrap_or(0)
            .saturating_mul(512);
        p.start_bytes = read_u64(&pdir.join("start")).map(|s| s.saturating_mul(512));
        common_attrs(&mut p, &pdir, mounts, swaps);
        parts.insert(*number, p);
    }

    if size == 0 {
        // The kernel can keep partitions of a disk whose medium is gone (a detached loop
        // device): they are stale, never free.
        for p in parts.values_mut() {
            p.errors.push(format!(
                "stale kernel partition: its disk {} has no medium (size 0); remove it with `partx -d {}`",
                disk.path.display(),
                disk.path.display()
            ));
        }
        let mut out = vec![disk];
        out.extend(parts.into_values());
        return out;
    }

    match File::open(&disk.path) {
        Err(e) => disk
            .errors
            .push(format!("cannot open {}: {e}", disk.path.display())),
        Ok(mut file) => {
            // What is on the medium now, not pages cached through this disk's node before
            // something wrote through a partition's node (cryptsetup, mkfs): the two caches
            // are separate, and a mapping on a partition keeps the disk's alive.
            let _ = cephboot_ffi::blockdev::drop_cached_pages(&file);
            // What the table reader and libblkid will read, read first in few large reads
            // (disk::prefetch); exact reads, no readahead beyond them.
            let _ = cephboot_ffi::blockdev::advise_random(&file);
            let request = prefetch::request_size(&dir.join("queue"));
            let head_and_tail = prefetch::plan(size, &[], request);
            prefetch::read(&file, &head_and_tail);
            read_table(&mut disk, &mut file, &mut parts, roots);
            let ranges: Vec<(u64, u64)> = parts
                .values()
                .filter_map(|p| Some((p.start_bytes?, p.size_bytes)))
                .collect();
            let all = prefetch::plan(size, &ranges, request);
            let partitions = prefetch::without(all, &head_and_tail);
            prefetch::read(&file, &partitions);
            probe_all(&mut disk, &file, &mut parts);
        }
    }
    let mut out = vec![disk];
    out.extend(parts.into_values());
    out
}

/// The partition `number` from the on-disk table, merged with what the kernel reports.
fn table_partition<'a>(
    disk: &Device,
    parts: &'a mut BTreeMap<u32, Device>,
    roots: &Roots,
    number: u32,
    start: u64,
    len: u64,
) -> &'a mut Device {
    let entry = parts.entry(number).or_insert_with(|| {
        let mut p = Device::new(
            &partition_node_name(&disk.name, number),
            &roots.dev,
            DeviceKind::Partition,
        );
        p.in_kernel = false;
        p.parent = Some(disk.path.clone());
        p.partition_number = Some(number);
        p.sector_size = disk.sector_size;
        p
    });
    if !entry.in_kernel || entry.start_bytes.is_none() {
        entry.start_bytes = Some(start);
        entry.size_bytes = len;
    } else if entry.start_bytes != Some(start) || entry.size_bytes != len {
        entry.kernel_mismatch = Some(format!(
            "the kernel still uses an old table: it has {} bytes at {}, the disk's table says {len} bytes at {start}",
            entry.size_bytes,
            entry.start_bytes.unwrap_or(0)
        ));
        // Describe what is on the disk; the kernel's stale view is in the note.
        entry.start_bytes = Some(start);
        entry.size_bytes = len;
    }
    entry
}

/// Reads the disk's table and merges its entries into `parts`.
fn read_table(
    disk: &mut Device,
    file: &mut File,
    parts: &mut BTreeMap<u32, Device>,
    roots: &Roots,
) {
    let ss = disk.sector_size;
    match gpt::read_gpt(file, ss, disk.size_bytes) {
        GptRead::Found(t) => {
            disk.disk_guid = Some(t.disk_guid);
            disk.table = Some(TableInfo::Gpt {
                header_used: t.header_used,
                other_header_valid: t.other_header_valid,
            });
            for e in &t.entries {
                let p = table_partition(
                    disk,
                    parts,
                    roots,
                    e.number,
                    e.start_bytes(ss),
                    e.size_bytes(ss),
                );
                p.gpt = Some(GptInfo {
                    name: e.name.clone(),
                    unique_guid: e.unique_guid,
                    type_guid: e.type_guid,
                });
            }
        }
        GptRead::Corrupt(msg) => disk.table = Some(TableInfo::Corrupt(msg)),
        GptRead::Absent => match gpt::read_mbr(file) {
            Some(entries) if !entries.is_empty() && entries.iter().all(|e| e.type_byte != 0xEE) => {
                disk.table = Some(TableInfo::Mbr);
                for e in entries {
                    table_partition(
                        disk,
                        parts,
                        roots,
                        e.number,
                        e.start_lba.saturating_mul(ss),
                        e.sectors.saturating_mul(ss),
                    );
                }
            }
            _ => disk.table = Some(TableInfo::None),
        },
    }
}

/// Probes the disk and each partition (through the disk's fd, at the partition's offset) for
/// signatures.
fn probe_all(disk: &mut Device, file: &File, parts: &mut BTreeMap<u32, Device>) {
    match Probe::new(file.as_fd()).and_then(|mut p| p.signatures()) {
        Ok(sigs) => disk.signatures = sigs,
        Err(e) => disk.errors.push(format!(
            "libblkid could not probe {}: {e}",
            disk.path.display()
        )),
    }
    for p in parts.values_mut() {
        let (Some(start), len) = (p.start_bytes, p.size_bytes) else {
            continue;
        };
        if len == 0 || start.saturating_add(len) > disk.size_bytes {
            p.errors.push(format!("{} lies outside its disk", p.name));
            continue;
        }
        match Probe::with_range(file.as_fd(), start, len).and_then(|mut pr| pr.signatures()) {
            Ok(sigs) => p.signatures = sigs,
            Err(e) => p.errors.push(format!(
                "libblkid could not probe {}: {e}",
                p.path.display()
            )),
        }
    }
}

/// Whether the kernel knows `name` as a partition (`/sys/class/block/NAME/partition`).
pub fn is_kernel_partition(name: &str) -> bool {
    Path::new("/sys/class/block")
        .join(name)
        .join("partition")
        .exists()
}
