//! libblkid: probe a device (or a file) for every signature it carries, and wipe them.
//!
//! The probe enables the superblocks chain (filesystems, RAID members, LVM, crypto, swap) and
//! the partitions chain with `BLKID_PARTS_MAGIC`, so partition tables (GPT, protective MBR,
//! DOS) are reported with the offset of their magic and can be wiped like any superblock —
//! the same loop `wipefs` runs.

use std::ffi::{c_char, c_int, CStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

#[repr(C)]
struct RawProbe {
    _private: [u8; 0],
}

const BLKID_SUBLKS_LABEL: c_int = 1 << 1;
const BLKID_SUBLKS_LABELRAW: c_int = 1 << 2;
const BLKID_SUBLKS_UUID: c_int = 1 << 3;
const BLKID_SUBLKS_TYPE: c_int = 1 << 5;
const BLKID_SUBLKS_USAGE: c_int = 1 << 7;
const BLKID_SUBLKS_MAGIC: c_int = 1 << 9;
const BLKID_SUBLKS_BADCSUM: c_int = 1 << 10;
const BLKID_PARTS_MAGIC: c_int = 1 << 3;

#[link(name = "blkid")]
extern "C" {
    fn blkid_new_probe() -> *mut RawProbe;
    fn blkid_free_probe(pr: *mut RawProbe);
    fn blkid_probe_set_device(pr: *mut RawProbe, fd: c_int, off: i64, size: i64) -> c_int;
    fn blkid_probe_enable_superblocks(pr: *mut RawProbe, enable: c_int) -> c_int;
    fn blkid_probe_set_superblocks_flags(pr: *mut RawProbe, flags: c_int) -> c_int;
    fn blkid_probe_enable_partitions(pr: *mut RawProbe, enable: c_int) -> c_int;
    fn blkid_probe_set_partitions_flags(pr: *mut RawProbe, flags: c_int) -> c_int;
    fn blkid_do_probe(pr: *mut RawProbe) -> c_int;
    fn blkid_do_wipe(pr: *mut RawProbe, dryrun: c_int) -> c_int;
    fn blkid_probe_numof_values(pr: *mut RawProbe) -> c_int;
    fn blkid_probe_get_value(
        pr: *mut RawProbe,
        num: c_int,
        name: *mut *const c_char,
        data: *mut *const c_char,
        len: *mut usize,
    ) -> c_int;
}

/// One signature found by libblkid: a filesystem, RAID/LVM/crypto member, swap, or a partition
/// table, with the raw values libblkid reported for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signature {
    /// `TYPE` for superblocks, `PTTYPE` for partition tables (e.g. `xfs`, `ntfs`, `gpt`, `PMBR`).
    pub kind: String,
    /// `USAGE` (`filesystem`, `raid`, `crypto`, `other`) or `partition_table`.
    pub usage: String,
    /// `LABEL`: the label as libblkid decodes it (UTF-8 for filesystems that store UTF-16,
    /// such as NTFS; the stored bytes, which may be any bytes, for the others).
    pub label: Option<Vec<u8>>,
    /// `LABEL_RAW`: the label exactly as stored on disk (any bytes).
    pub label_raw: Option<Vec<u8>>,
    /// `UUID` (superblocks) or `PTUUID` (partition tables).
    pub uuid: Option<String>,
    /// Byte offset of the magic that identified the signature.
    pub magic_offset: Option<u64>,
    /// Length of that magic in bytes.
    pub magic_len: usize,
    /// libblkid found the signature but its checksum is wrong (`SBBADCSUM`).
    pub bad_checksum: bool,
}

/// A libblkid probe bound to an open file descriptor.
#[derive(Debug)]
pub struct Probe<'fd> {
    raw: NonNull<RawProbe>,
    _fd: BorrowedFd<'fd>,
}

impl<'fd> Probe<'fd> {
    /// Binds a probe to `fd` (a block device or a regular file), probing its whole length.
    /// Open the file read-write to wipe.
    pub fn new(fd: BorrowedFd<'fd>) -> io::Result<Self> {
        Self::with_range(fd, 0, 0)
    }

    /// Binds a probe to `size` bytes of `fd` starting at byte `offset` (a partition seen
    /// through its disk, whether or not the kernel has a node for it). `size` 0 = to the end.
    pub fn with_range(fd: BorrowedFd<'fd>, offset: u64, size: u64) -> io::Result<Self> {
        let off = i64::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        let len = i64::try_from(size).map_err(|_| io::Error::other("size too large"))?;
        // SAFETY: blkid_new_probe has no preconditions; NULL means allocation failure.
        let raw = NonNull::new(unsafe { blkid_new_probe() })
            .ok_or_else(|| io::Error::other("blkid_new_probe failed (out of memory)"))?;
        let probe = Probe { raw, _fd: fd };
        // SAFETY: raw is a live probe; fd outlives the probe through the 'fd borrow.
        let rc = unsafe { blkid_probe_set_device(probe.raw.as_ptr(), fd.as_raw_fd(), off, len) };
        if rc != 0 {
            return Err(io::Error::other("libblkid could not attach to the device"));
        }
        let flags = BLKID_SUBLKS_LABEL
            | BLKID_SUBLKS_LABELRAW
            | BLKID_SUBLKS_UUID
            | BLKID_SUBLKS_TYPE
            | BLKID_SUBLKS_USAGE
            | BLKID_SUBLKS_MAGIC
            | BLKID_SUBLKS_BADCSUM;
        // SAFETY: raw is a live probe; these calls only set flags on it.
        unsafe {
            blkid_probe_enable_superblocks(probe.raw.as_ptr(), 1);
            blkid_probe_set_superblocks_flags(probe.raw.as_ptr(), flags);
            blkid_probe_enable_partitions(probe.raw.as_ptr(), 1);
            blkid_probe_set_partitions_flags(probe.raw.as_ptr(), BLKID_PARTS_MAGIC);
        }
        Ok(probe)
    }

    fn values(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        // SAFETY: raw is a live probe.
        let n = unsafe { blkid_probe_numof_values(self.raw.as_ptr()) };
        for i in 0..n.max(0) {
            let mut name: *const c_char = std::ptr::null();
            let mut data: *const c_char = std::ptr::null();
            let mut len: usize = 0;
            // SAFETY: out-pointers are valid locals; libblkid fills them with pointers into the
            // probe's own value list, valid until the next probe call, and we copy them now.
            let rc = unsafe {
                blkid_probe_get_value(self.raw.as_ptr(), i, &mut name, &mut data, &mut len)
            };
            if rc != 0 || name.is_null() || data.is_null() {
                continue;
            }
            // SAFETY: name is a NUL-terminated C string owned by the probe.
            let key = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: data points to `len` bytes owned by the probe (len includes a trailing
            // NUL for string values).
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
            out.push((key, bytes));
        }
        out
    }

    fn current(&self) -> Signature {
        let mut sig = Signature::default();
        for (key, mut bytes) in self.values() {
            let text = |b: &[u8]| {
                let b = b.strip_suffix(&[0]).unwrap_or(b);
                String::from_utf8_lossy(b).into_owned()
            };
            match key.as_str() {
                "TYPE" => sig.kind = text(&bytes),
                "PTTYPE" => {
                    sig.kind = text(&bytes);
                    sig.usage = "partition_table".into();
                }
                "USAGE" => sig.usage = text(&bytes),
                "LABEL" => {
                    // String values carry a terminating NUL; the bytes before it are the label.
                    if bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    sig.label = Some(bytes);
                }
                "LABEL_RAW" => {
                    // LABEL_RAW is binary: libblkid reports its exact length (no NUL added
                    // beyond what the on-disk field had). Trailing NULs are padding.
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    sig.label_raw = Some(bytes);
                }
                "UUID" | "PTUUID" => sig.uuid = Some(text(&bytes)),
                "SBMAGIC_OFFSET" | "PTMAGIC_OFFSET" => sig.magic_offset = text(&bytes).parse().ok(),
                "SBMAGIC" | "PTMAGIC" => sig.magic_len = bytes.len(),
                "SBBADCSUM" => sig.bad_checksum = true,
                _ => {}
            }
        }
        sig
    }

    /// Every signature on the device, in the order libblkid finds them (`wipefs -n`).
    pub fn signatures(&mut self) -> io::Result<Vec<Signature>> {
        let mut out = Vec::new();
        loop {
            // SAFETY: raw is a live probe bound to a live fd.
            match unsafe { blkid_do_probe(self.raw.as_ptr()) } {
                0 => out.push(self.current()),
                1 => return Ok(out),
                _ => {
                    return Err(io::Error::other(
                        "libblkid probe failed (I/O error reading the device?)",
                    ))
                }
            }
            if out.len() > 64 {
                return Err(io::Error::other(
                    "libblkid reported more than 64 signatures; giving up",
                ));
            }
        }
    }

    /// Erases every signature libblkid finds (magic bytes only, as `wipefs -a` does) and returns
    /// what was erased. The probe's fd must be open read-write.
    pub fn wipe_all(&mut self) -> io::Result<Vec<Signature>> {
        self.wipe_all_but(&[])
    }

    /// Like [`Probe::wipe_all`], leaving the signatures whose type is in `keep` (e.g. `gpt`,
    /// `PMBR`, `dos` for a caller about to write a new partition table) where they are.
    pub fn wipe_all_but(&mut self, keep: &[&str]) -> io::Result<Vec<Signature>> {
        let mut out = Vec::new();
        loop {
            // SAFETY: raw is a live probe bound to a live fd.
            match unsafe { blkid_do_probe(self.raw.as_ptr()) } {
                0 => {
                    let sig = self.current();
                    if keep.contains(&sig.kind.as_str()) {
                        continue; // the probe moves on to the next signature by itself
                    }
                    // SAFETY: raw is a live probe positioned on the signature just found.
                    if unsafe { blkid_do_wipe(self.raw.as_ptr(), 0) } != 0 {
                        return Err(io::Error::other(format!(
                            "libblkid could not erase the {} signature at offset {}",
                            sig.kind,
                            sig.magic_offset
                                .map_or_else(|| "?".to_string(), |o| o.to_string())
                        )));
                    }
                    out.push(sig);
                }
                1 => return Ok(out),
                _ => return Err(io::Error::other("libblkid probe failed while wiping")),
            }
            if out.len() > 64 {
                return Err(io::Error::other(
                    "more than 64 signatures erased; giving up",
                ));
            }
        }
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        // SAFETY: raw was returned by blkid_new_probe and is freed exactly once.
        unsafe { blkid_free_probe(self.raw.as_ptr()) }
    }
}

/// Convenience: every signature on an already-open file.
pub fn signatures_of(file: &File) -> io::Result<Vec<Signature>> {
    use std::os::fd::AsFd;
    Probe::new(file.as_fd())?.signatures()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn empty_file_has_no_signatures() {
        let dir = std::env::temp_dir().join(format!("cephboot-ffi-{}", std::process::id()));
        let mut f = File::create(&dir).unwrap();
        f.write_all(&vec![0u8; 1 << 20]).unwrap();
        let f = File::open(&dir).unwrap();
        assert!(signatures_of(&f).unwrap().is_empty());
        std::fs::remove_file(&dir).unwrap();
    }
}
