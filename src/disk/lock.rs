//! A whole disk opened read-write with `flock(LOCK_EX)` held for as long as cephboot changes
//! it: udevd (and any cooperating tool) keeps away from a locked disk, so it cannot re-read
//! the partition table in the middle of a change.
//!
//! Releasing the disk is a hand-over when udevd runs. Closing a descriptor opened for writing
//! makes udevd (inotify `IN_CLOSE_WRITE`) re-process the disk, and when it can take the lock
//! it does so with `BLKRRPART`: the kernel drops every partition and adds them again, so for a
//! moment after cephboot returns the partitions it just made are gone, which is the race
//! behind `mkfs.xfs: cannot open /dev/sdb1: Device or resource busy` in the next step. So the
//! writable descriptor is closed while a read-only one still holds a shared lock: udevd then
//! cannot re-read and announces a "change" of the disk and its partitions instead, which
//! refreshes its database (labels, `/dev/disk/by-*` links) without removing anything. The lock
//! is let go once that "change" is seen (or after [`HANDOVER_WAIT`]).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::blockops::LinuxKernelTable;
use super::identity::DiskIdentity;
use super::uevent;
use crate::error::{Error, IoContext, Result};

/// How long a release waits for udevd to announce the change before it lets go of the lock.
pub const HANDOVER_WAIT: Duration = Duration::from_secs(5);

/// An open, locked whole disk. The lock is released when this is dropped.
///
/// A disk opened with [`LockedDisk::open_pinned`] also holds an exclusive claim (`O_EXCL`):
/// while it is held no partition of the disk can be mounted, claimed by mkfs or stacked on,
/// and the kernel's partition table is changed through the claiming descriptor.
#[derive(Debug)]
pub struct LockedDisk {
    file: File,
    claim: Option<File>,
    claim_is_whole: bool,
    path: PathBuf,
    name: String,
}

/// Stops here while the file named by `CEPHBOOT_TEST_PAUSE_BEFORE_WRITE` exists (debug builds
/// only): a test swaps or mounts a device between judgement and write, then removes the file.
/// cephboot writes `paused <device>` into a file of that name plus `.at` so the test knows
/// when it is waiting.
pub fn test_pause_before_write(device: &Path) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(gate) = std::env::var_os("CEPHBOOT_TEST_PAUSE_BEFORE_WRITE").map(PathBuf::from) else {
        return;
    };
    if !gate.exists() {
        return;
    }
    let mut at = gate.clone().into_os_string();
    at.push(".at");
    let _ = std::fs::write(&at, format!("paused {}\n", device.display()));
    let started = Instant::now();
    while gate.exists() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&at);
}

/// The disk's lock taken without waiting, on a read-only descriptor (closing it makes udevd
/// re-read nothing): `None` while another process holds it (a cephboot preparing or zapping
/// the disk, or a partitioning tool). Held until the returned file is dropped.
pub fn try_hold(path: &Path) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("locking {}", path.display()), e))
        }
    }
}

impl LockedDisk {
    /// Opens `path` (kernel name `name`) read-write and takes the lock, waiting up to `timeout`.
    pub fn open(path: &Path, name: &str, timeout: Duration) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .context(|| format!("opening {} for writing", path.display()))?;
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
        // Judged from the medium, not from pages cached before the lock was had (see
        // `drop_cached_pages`).
        let _ = cephboot_ffi::blockdev::drop_cached_pages(&file);
        Ok(LockedDisk {
            file,
            claim: None,
            claim_is_whole: false,
            path: path.to_path_buf(),
            name: name.to_string(),
        })
    }

    /// Opens and locks `path` as [`LockedDisk::open`] does, claims `claim` exclusively (the
    /// disk itself, or the one partition a plan uses on a shared disk), and checks through the
    /// descriptor that it is still the device `judged` describes. Any difference, or a claim
    /// that cannot be had, is a refusal (exit 3) before anything is written.
    pub fn open_pinned(
        path: &Path,
        name: &str,
        judged: &DiskIdentity,
        claim: &Path,
        timeout: Duration,
    ) -> Result<Self> {
        test_pause_before_write(path);
        let mut disk = Self::open(path, name, timeout)?;
        disk.claim_is_whole = claim == path;
        let claimed = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_EXCL | libc::O_CLOEXEC)
            .open(claim);
        // A partition the kernel does not know yet has no node: nothing can mount or hold it,
        // and the disk's lock keeps cooperating tools away until the table is synced.
        let unknown_partition = !disk.claim_is_whole
            && matches!(&claimed, Err(e) if e.kind() == io::ErrorKind::NotFound);
        disk.claim = if unknown_partition {
            None
        } else {
            Some(claimed.map_err(|e| {
                    Error::refused(
                        claim,
                        format!("cannot be claimed exclusively any more ({e}): something mounted, stacked on or opened it since it was checked"),
                        "nothing was written to it; free it and run the command again",
                    )
                })?)
        };
        let ss = cephboot_ffi::blockdev::logical_sector_size(&disk.file).map_or(512, u64::from);
        let now = DiskIdentity::read_through(&mut disk.file, ss)
            .context(|| format!("reading the identity of {}", path.display()))?;
        let changed = judged.differences(&now);
        if !changed.is_empty() {
            return Err(Error::refused(
                path,
                format!("is not the device that was checked: {}", changed.join("; ")),
                "nothing was written to it; run the command again to judge the device as it is now",
            ));
        }
        Ok(disk)
    }

    /// Lets go of the exclusive claim (the lock stays): another program (mkfs, ceph-osd) is
    /// about to open a partition exclusively.
    pub fn release_claim(&mut self) {
        self.claim = None;
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

    /// The kernel's partition table for this disk (through the claiming descriptor while the
    /// claim is held: the kernel lets only the claimant re-read the table).
    pub fn kernel(&self) -> LinuxKernelTable<'_> {
        let fd = self
            .claim
            .as_ref()
            .filter(|_| self.claim_is_whole)
            .unwrap_or(&self.file);
        LinuxKernelTable::new(fd, &self.path, &self.name)
    }
}

/// How handing a disk back to udevd went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handback {
    /// udevd announced a change of the disk: it did not re-read the table.
    Announced,
    /// No announcement within [`HANDOVER_WAIT`]: udevd may re-read the table now.
    NoAnswer,
    /// Another process took the disk exclusively while the lock was being downgraded; the
    /// disk is theirs, and udevd keeps away while they hold it.
    TakenOver,
}

impl LockedDisk {
    /// Closes the writable descriptor under a shared lock and waits for udevd's "change" of
    /// the disk (numbered after the close).
    fn hand_back_to_udevd(&mut self) -> io::Result<Handback> {
        // Listening starts before the close, so the announcement cannot be missed.
        let events = cephboot_ffi::uevent::UeventSocket::open()?;
        events.set_timeout(Duration::from_millis(100))?;
        // LOCK_EX -> LOCK_SH on the writable descriptor. flock converts by dropping and
        // re-taking, so a waiting locker can get in between: never block on it here.
        match self.file.try_lock_shared() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Handback::TakenOver),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let read_only = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&self.path)?;
        // A second shared lock while we hold one: only fails if something is very wrong.
        read_only.lock_shared()?;
        // Only an announcement numbered after this answers our close (udevd may still be
        // catching up with somebody else's).
        let before_close = std::fs::read_to_string("/sys/kernel/uevent_seqnum")?
            .trim()
            .parse::<u64>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        // The writable descriptor closes here; `read_only` keeps the lock until `self` is gone.
        drop(std::mem::replace(&mut self.file, read_only));
        let deadline = Instant::now() + HANDOVER_WAIT;
        let mut buf = vec![0u8; 16 * 1024];
        while Instant::now() < deadline {
            match events.recv(&mut buf) {
                Ok(n) => {
                    if buf
                        .get(..n)
                        .and_then(uevent::parse)
                        .is_some_and(|ev| uevent::is_change_of_disk(&ev, &self.name, before_close))
                    {
                        return Ok(Handback::Announced);
                    }
                }
                // A timeout slice, a signal, or a burst that overflowed the socket (ENOBUFS):
                // keep waiting until the deadline.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) || e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Handback::NoAnswer)
    }
}

impl Drop for LockedDisk {
    fn drop(&mut self) {
        self.claim = None;
        if !uevent::udevd_runs() {
            return; // no udevd: closing is all there is to do
        }
        let disk = self.path.display().to_string();
        match self.hand_back_to_udevd() {
            Ok(Handback::Announced) => tracing::debug!(disk, "handed back to udevd: it announced a change instead of re-reading the partition table"),
            Ok(Handback::TakenOver) => tracing::debug!(disk, "another process locked the disk as cephboot let go of it"),
            Ok(Handback::NoAnswer) => tracing::warn!(disk, "udevd did not announce a change of the disk within {} s after cephboot closed it; it may re-read the partition table now (partitions disappear for a moment): run `udevadm settle` before using them", HANDOVER_WAIT.as_secs()),
            Err(e) => tracing::warn!(disk, "could not hand the disk back to udevd ({e}); it may re-read the partition table now (partitions disappear for a moment): run `udevadm settle` before using them"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_another_descriptor_holds_is_not_had_until_it_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::write(&path, b"").unwrap();
        let other = File::open(&path).unwrap();
        other.try_lock().unwrap();
        assert!(try_hold(&path).unwrap().is_none(), "held by the other");
        drop(other);
        let held = try_hold(&path).unwrap();
        assert!(held.is_some(), "free once let go");
        assert!(
            try_hold(&path).unwrap().is_none(),
            "and held by the first try while it lives"
        );
    }

    #[test]
    fn a_disk_that_is_not_there_is_an_error_not_a_free_lock() {
        assert!(try_hold(Path::new("/nonexistent/cephboot-disk")).is_err());
    }
}
