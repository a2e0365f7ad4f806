//! Block-device ioctls: the kernel's view of a disk's partitions and its geometry.
//!
//! `BLKPG` adds and deletes single partitions (what `partx` and `partprobe` use) and works on
//! kernels with and without a GPT parser; `BLKRRPART` asks the kernel to re-read the whole
//! table, which fails with `EBUSY` while any partition is open and finds nothing on a kernel
//! built without `CONFIG_EFI_PARTITION`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

// The request numbers come from the kernel's headers through linux-raw-sys (generated per
// architecture), not from hand-written constants.
const BLKROGET: libc::c_ulong = linux_raw_sys::ioctl::BLKROGET as libc::c_ulong;
const BLKRRPART: libc::c_ulong = linux_raw_sys::ioctl::BLKRRPART as libc::c_ulong;
const BLKFLSBUF: libc::c_ulong = linux_raw_sys::ioctl::BLKFLSBUF as libc::c_ulong;
const BLKSSZGET: libc::c_ulong = linux_raw_sys::ioctl::BLKSSZGET as libc::c_ulong;
const BLKPG: libc::c_ulong = linux_raw_sys::ioctl::BLKPG as libc::c_ulong;
const BLKGETSIZE64: libc::c_ulong = linux_raw_sys::ioctl::BLKGETSIZE64 as libc::c_ulong;

// <linux/blkpg.h>'s operations and structs, which linux-raw-sys 0.12 does not carry.
const BLKPG_ADD_PARTITION: libc::c_int = 1;
const BLKPG_DEL_PARTITION: libc::c_int = 2;

#[repr(C)]
struct BlkpgIoctlArg {
    op: libc::c_int,
    flags: libc::c_int,
    datalen: libc::c_int,
    data: *mut libc::c_void,
}

#[repr(C)]
struct BlkpgPartition {
    start: libc::c_longlong,
    length: libc::c_longlong,
    pno: libc::c_int,
    devname: [libc::c_char; 64],
    volname: [libc::c_char; 64],
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn blkpg(disk: &File, op: libc::c_int, number: u32, start: u64, length: u64) -> io::Result<()> {
    let to_i64 = |v: u64| {
        i64::try_from(v)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))
    };
    let pno = libc::c_int::try_from(number)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "partition number too large"))?;
    let mut part = BlkpgPartition {
        start: to_i64(start)?,
        length: to_i64(length)?,
        pno,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: libc::c_int::try_from(std::mem::size_of::<BlkpgPartition>()).unwrap_or(0),
        data: std::ptr::addr_of_mut!(part).cast(),
    };
    // SAFETY: BLKPG takes a pointer to a blkpg_ioctl_arg whose data points to a
    // blkpg_partition; both live on this stack frame for the duration of the call.
    check(unsafe { libc::ioctl(disk.as_raw_fd(), BLKPG, std::ptr::addr_of_mut!(arg)) })
}

/// Tells the kernel about partition `number` of `disk` at byte `start` with byte `length`.
pub fn add_partition(disk: &File, number: u32, start: u64, length: u64) -> io::Result<()> {
    blkpg(disk, BLKPG_ADD_PARTITION, number, start, length)
}

/// Tells the kernel to forget partition `number` of `disk` (`EBUSY` while it is open).
pub fn delete_partition(disk: &File, number: u32) -> io::Result<()> {
    blkpg(disk, BLKPG_DEL_PARTITION, number, 0, 0)
}

/// Asks the kernel to re-read the whole partition table (`BLKRRPART`).
pub fn reread_partition_table(disk: &File) -> io::Result<()> {
    // SAFETY: BLKRRPART takes no argument.
    check(unsafe { libc::ioctl(disk.as_raw_fd(), BLKRRPART) })
}

/// Flushes the device's buffer cache (`BLKFLSBUF`), so the next read sees what is on disk.
pub fn flush_buffers(dev: &File) -> io::Result<()> {
    // SAFETY: BLKFLSBUF takes no argument.
    check(unsafe { libc::ioctl(dev.as_raw_fd(), BLKFLSBUF) })
}

/// Drops the clean pages the kernel caches for `dev` (`POSIX_FADV_DONTNEED` over the whole
/// device), so the next read comes from the medium. A partition and its disk are separate
/// block-device inodes with separate caches: what was written through one node (cryptsetup,
/// mkfs on `/dev/sdb1`) is not seen through the other's cached pages while anything keeps the
/// disk open (a dm-crypt mapping on one of its partitions does). Needs no privilege; dirty
/// pages stay (write them first with `sync_all`).
pub fn drop_cached_pages(dev: &File) -> io::Result<()> {
    fadvise_whole(dev, libc::POSIX_FADV_DONTNEED)
}

/// `posix_fadvise(dev, 0, 0, advice)`: `advice` for the whole of `dev`.
fn fadvise_whole(dev: &File, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: posix_fadvise only reads its integer arguments (offset 0 and length 0 mean the
    // whole file); the descriptor is open for as long as `dev` is borrowed.
    let rc = unsafe { libc::posix_fadvise(dev.as_raw_fd(), 0, 0, advice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Size of the device in bytes (`BLKGETSIZE64`).
pub fn size_bytes(dev: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which is a valid local.
    check(unsafe { libc::ioctl(dev.as_raw_fd(), BLKGETSIZE64, std::ptr::addr_of_mut!(size)) })?;
    Ok(size)
}

/// Logical sector size in bytes (`BLKSSZGET`).
pub fn logical_sector_size(dev: &File) -> io::Result<u32> {
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which is a valid local.
    check(unsafe { libc::ioctl(dev.as_raw_fd(), BLKSSZGET, std::ptr::addr_of_mut!(size)) })?;
    u32::try_from(size).map_err(|_| io::Error::other("negative sector size"))
}

/// Tells the kernel that reads through `dev` are random (`POSIX_FADV_RANDOM`): no readahead
/// beyond what each read asks for, so a read costs the device exactly its own bytes. It holds
/// for this open file (libblkid sets the same on the descriptor it probes).
pub fn advise_random(dev: &File) -> io::Result<()> {
    fadvise_whole(dev, libc::POSIX_FADV_RANDOM)
}

/// Whether the kernel marks the device read-only (`BLKROGET`).
pub fn is_read_only(dev: &File) -> io::Result<bool> {
    let mut ro: libc::c_int = 0;
    // SAFETY: BLKROGET writes one int through the pointer, which is a valid local.
    check(unsafe { libc::ioctl(dev.as_raw_fd(), BLKROGET, std::ptr::addr_of_mut!(ro)) })?;
    Ok(ro != 0)
}
