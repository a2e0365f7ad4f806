//! cephboot-ffi: every `unsafe` line of cephboot, each behind a safe API.
//!
//! * [`blkid`]: libblkid probing (filesystems, RAID, LVM, crypto, partition tables with their
//!   magic) and wiping of what it finds — the partition-table magic flag that the safe
//!   libblkid-rs API lacks is here.
//! * [`blockdev`]: block-device ioctls (`BLKPG` add/delete partition, `BLKRRPART`,
//!   `BLKGETSIZE64`, `BLKSSZGET`, `BLKROGET`, `BLKFLSBUF`).
//! * [`rados`]: a librados cluster handle with mon/mgr commands whose output buffers are copied
//!   before they are freed; librados is loaded on first use.
//! * [`uevent`]: the kernel's uevent netlink socket.
//! * [`process`]: signals to processes by pid and to process groups.
//!
//! Nothing here decides anything; callers in the main crate do. Every `unsafe` block says why
//! it is sound in a `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks` is denied).
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod blkid;
pub mod blockdev;
pub mod process;
pub mod rados;
pub mod uevent;
