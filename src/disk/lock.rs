//! A whole disk opened read-write with `flock(LOCK_EX)` held for as long as cephboot changes
//! it: udevd (and any cooperating tool) keeps away from a locked disk, so it cannot re-read
//! the partition table in the middle of a change.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::blockops::LinuxKernelTable;
use crate::error::{Error, Result};

/// An open, locked whole disk. The lock is released when this is dropped.
#[derive(Debug)]
pub struct LockedDisk {
    file: File,
    path: PathBuf,
    name: String,
}

impl LockedDisk {
    /// Opens `path` (kernel name `name`) read-write and takes the lock, waiting up to `timeout`.
    pub fn open(path: &Path, name: &str, timeout: Duration) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::io(format!("opening {} for writing", path.display()), e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Timeout {
                        what: format!(
                            "the lock on {} (another cephboot or partitioning tool holds it)",
                            path.display()
                        ),
                        seconds: timeout.as_secs(),
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e))
                }
            }
        }
        Ok(LockedDisk {
            file,
            path: path.to_path_buf(),
            name: name.to_string(),
        })
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The open file, mutably (for gptman).
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// The disk's node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kernel's partition table for this disk.
    pub fn kernel(&self) -> LinuxKernelTable<'_> {
        LinuxKernelTable::new(&self.file, &self.path, &self.name)
    }
}
