//! The narrow trait through which cephboot changes the kernel's view of a disk's partitions
//! (in the style of youki's `Syscall` trait): the Linux implementation issues ioctls and reads
//! sysfs; the recording implementation in tests simulates the kernel and records every call,
//! so a test can assert "BLKPG delete 1, add 1, add 2, in that order".

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cephboot_ffi::blockdev;

use super::inventory::partition_node_name;

/// A partition as the kernel sees it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct KernelPartition {
    /// Partition number.
    pub number: u32,
    /// Byte offset in the disk.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
}

/// Kernel partition operations on one disk.
pub trait KernelTable {
    /// The disk's node, for messages.
    fn disk(&self) -> &Path;
    /// The partitions the kernel has now (sysfs).
    fn partitions(&self) -> io::Result<Vec<KernelPartition>>;
    /// `BLKRRPART`: ask the kernel to re-read the whole table.
    fn reread(&self) -> io::Result<()>;
    /// `BLKPG_ADD_PARTITION`.
    fn add(&self, p: KernelPartition) -> io::Result<()>;
    /// `BLKPG_DEL_PARTITION`.
    fn delete(&self, number: u32) -> io::Result<()>;
    /// Whether the device node of partition `number` exists.
    fn node_exists(&self, number: u32) -> bool;
    /// The node path of partition `number`.
    fn node(&self, number: u32) -> PathBuf;
    /// Waits (real implementation) or records the wait (tests).
    fn pause(&self, d: Duration);
}

/// The real kernel, through an open (and normally flock-ed) disk.
#[derive(Debug)]
pub struct LinuxKernelTable<'a> {
    file: &'a File,
    path: PathBuf,
    name: String,
    sys: PathBuf,
    dev: PathBuf,
}

impl<'a> LinuxKernelTable<'a> {
    /// Binds to `file`, the open whole-disk node `path` with kernel name `name`.
    pub fn new(file: &'a File, path: &Path, name: &str) -> Self {
        LinuxKernelTable {
            file,
            path: path.to_path_buf(),
            name: name.to_string(),
            sys: PathBuf::from("/sys/class/block"),
            dev: path
                .parent()
                .map_or_else(|| PathBuf::from("/dev"), Path::to_path_buf),
        }
    }
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl KernelTable for LinuxKernelTable<'_> {
    fn disk(&self) -> &Path {
        &self.path
    }

    fn partitions(&self) -> io::Result<Vec<KernelPartition>> {
        let dir = self.sys.join(&self.name);
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir)?.filter_map(Result::ok) {
            let p = e.path();
            let Some(number) = read_u64(&p.join("partition")) else {
                continue;
            };
            let (Some(start), Some(size)) = (read_u64(&p.join("start")), read_u64(&p.join("size")))
            else {
                continue;
            };
            out.push(KernelPartition {
                number: u32::try_from(number).unwrap_or(u32::MAX),
                start: start.saturating_mul(512),
                size: size.saturating_mul(512),
            });
        }
        out.sort();
        Ok(out)
    }

    fn reread(&self) -> io::Result<()> {
        blockdev::reread_partition_table(self.file)
    }

    fn add(&self, p: KernelPartition) -> io::Result<()> {
        blockdev::add_partition(self.file, p.number, p.start, p.size)
    }

    fn delete(&self, number: u32) -> io::Result<()> {
        blockdev::delete_partition(self.file, number)
    }

    fn node_exists(&self, number: u32) -> bool {
        self.node(number).exists()
    }

    fn node(&self, number: u32) -> PathBuf {
        self.dev.join(partition_node_name(&self.name, number))
    }

    fn pause(&self, d: Duration) {
        std::thread::sleep(d);
    }
}
