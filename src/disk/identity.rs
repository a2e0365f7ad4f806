//! Which device a plan judged, and whether the one about to be written is still it.
//!
//! Between the guards and the first write, a device node can come to mean another device: a
//! loop device detached and re-attached to another file, a disk unplugged and another one
//! given its name, a table rewritten by another tool. The plan records each disk's identity
//! from the inventory (major:minor, size, the kernel's disk sequence number, serial/WWN or loop
//! backing file, GPT disk GUID); the writer reads the same facts through the descriptor it
//! writes with and refuses on any difference. `diskseq` alone catches re-attachment: the
//! kernel gives every new medium on a node a new number.
//!
//! Before another program is handed a partition to open exclusively (mkfs, `ceph-osd --mkfs`),
//! [`check_partition`] re-checks that the node is still that partition of that disk, and that
//! nothing mounted or stacked on it meanwhile.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use super::gpt::{self, GptRead};
use super::inventory::Device;

/// The facts that tell one disk from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskIdentity {
    /// `major:minor`.
    pub devno: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// The kernel's disk sequence number (new for every medium attached to the node).
    pub diskseq: Option<u64>,
    /// WWN or serial; for a loop device its backing file.
    pub serial: Option<String>,
    /// GPT disk GUID.
    pub disk_guid: Option<Uuid>,
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Serial-like facts of the disk whose sysfs directory is `dir`: its WWN or serial as sysfs
/// has it, a SCSI disk's unit serial number (VPD page 0x80, which the kernel keeps: a disk
/// behind a controller without a WWN has nothing else), or a loop device's backing file.
pub(crate) fn serial_of(dir: &Path) -> Option<String> {
    ["wwid", "device/wwid", "device/serial", "serial"]
        .iter()
        .find_map(|f| read_trim(&dir.join(f)))
        .or_else(|| {
            std::fs::read(dir.join("device/vpd_pg80"))
                .ok()
                .and_then(|page| unit_serial(&page))
        })
        .or_else(|| read_trim(&dir.join("loop/backing_file")))
}

/// The unit serial number in a SCSI VPD page 0x80 (pure): a 4-byte header whose last two
/// bytes are the length, then that many ASCII bytes, space-padded; `None` for anything else.
pub(crate) fn unit_serial(page: &[u8]) -> Option<String> {
    let (&code, rest) = page.get(1..)?.split_first()?;
    if code != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let serial = page.get(4..4 + len)?;
    if !serial.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return None;
    }
    let text = String::from_utf8_lossy(serial).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Disk sequence number from a disk's sysfs directory.
pub(crate) fn diskseq_of(dir: &Path) -> Option<u64> {
    read_trim(&dir.join("diskseq")).and_then(|s| s.parse().ok())
}

/// `major:minor` of a device number (`st_rdev`).
pub fn devno(rdev: u64) -> String {
    format!("{}:{}", libc::major(rdev), libc::minor(rdev))
}

impl DiskIdentity {
    /// The identity the inventory saw.
    pub fn of(d: &Device) -> Self {
        DiskIdentity {
            devno: d.devno.clone(),
            size_bytes: d.size_bytes,
            diskseq: d.diskseq,
            serial: d.serial.clone(),
            disk_guid: d.disk_guid,
        }
    }

    /// The identity of the device `file` is open on, read through the descriptor (and the
    /// sysfs directory of its device number, which cannot change while it is open).
    pub fn read_through(file: &mut File, sector_size: u64) -> io::Result<Self> {
        let rdev = file.metadata()?.rdev();
        let devno = devno(rdev);
        let dir = PathBuf::from(format!("/sys/dev/block/{devno}"));
        let size_bytes = cephboot_ffi::blockdev::size_bytes(file)?;
        let disk_guid = match gpt::read_gpt(file, sector_size, size_bytes) {
            GptRead::Found(t) => Some(t.disk_guid),
            _ => None,
        };
        Ok(DiskIdentity {
            devno: Some(devno),
            size_bytes,
            diskseq: diskseq_of(&dir),
            serial: serial_of(&dir),
            disk_guid,
        })
    }

    /// What differs between the judged identity (`self`) and `now`, in words. Facts one side
    /// could not read are not compared.
    pub fn differences(&self, now: &DiskIdentity) -> Vec<String> {
        let mut out = Vec::new();
        let mut cmp = |what: &str, a: Option<String>, b: Option<String>| {
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    out.push(format!("{what} was {a}, is now {b}"));
                }
            }
        };
        cmp("device number", self.devno.clone(), now.devno.clone());
        cmp(
            "size",
            Some(self.size_bytes.to_string()),
            Some(now.size_bytes.to_string()),
        );
        cmp(
            "disk sequence number",
            self.diskseq.map(|s| s.to_string()),
            now.diskseq.map(|s| s.to_string()),
        );
        cmp(
            "serial/backing file",
            self.serial.clone(),
            now.serial.clone(),
        );
        let guid = |g: Option<Uuid>| Some(g.map_or("none".to_string(), |g| g.to_string()));
        cmp("GPT disk GUID", guid(self.disk_guid), guid(now.disk_guid));
        out
    }
}

/// What a partition must still be right before another program opens it.
#[derive(Debug, Clone)]
pub struct PartitionExpectation<'a> {
    /// The partition node.
    pub node: &'a Path,
    /// Its disk's `major:minor`.
    pub disk_devno: &'a str,
    /// Partition number.
    pub number: u32,
    /// Start in bytes.
    pub start_bytes: u64,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// Checks that `want.node` is still partition `number` of the disk, at the same place, and
/// neither mounted nor held: `Err` says what changed.
pub fn check_partition(want: &PartitionExpectation<'_>) -> Result<(), String> {
    let node = want.node.display();
    let meta = std::fs::metadata(want.node).map_err(|e| format!("{node}: {e}"))?;
    let rdev = meta.rdev();
    let devno = devno(rdev);
    let dir = PathBuf::from(format!("/sys/dev/block/{devno}"));
    let num = read_trim(&dir.join("partition")).and_then(|s| s.parse::<u32>().ok());
    let start = read_trim(&dir.join("start")).and_then(|s| s.parse::<u64>().ok());
    let size = read_trim(&dir.join("size")).and_then(|s| s.parse::<u64>().ok());
    let parent = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|p| p.parent().map(|p| p.join("dev")))
        .and_then(|p| read_trim(&p));
    if num != Some(want.number) || parent.as_deref() != Some(want.disk_devno) {
        return Err(format!(
            "{node} is no longer partition {} of the disk {} (it is {devno})",
            want.number, want.disk_devno
        ));
    }
    if start.map(|s| s * 512) != Some(want.start_bytes)
        || size.map(|s| s * 512) != Some(want.size_bytes)
    {
        return Err(format!("{node} moved or changed size since it was written"));
    }
    let holders = std::fs::read_dir(dir.join("holders"))
        .map(|d| d.filter_map(Result::ok).count())
        .unwrap_or(0);
    if holders > 0 {
        return Err(format!(
            "{node} is now held by another device (device-mapper, md or LVM)"
        ));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if let Some(m) = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(2) == Some(devno.as_str()))
    {
        return Err(format!(
            "{node} is now mounted at {}",
            m.split(' ').nth(4).unwrap_or("?")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scsi_unit_serial_is_read_from_vpd_page_0x80() {
        assert_eq!(
            unit_serial(b"\x00\x80\x00\x08  SPEC1 ").as_deref(),
            Some("SPEC1")
        );
        assert_eq!(
            unit_serial(b"\x00\x80\x00\x05Z1Z0H").as_deref(),
            Some("Z1Z0H")
        );
        for bad in [
            &b""[..],
            b"\x00\x83\x00\x03abc",
            b"\x00\x80\x00\x09short",
            b"\x00\x80\x00\x04    ",
            b"\x00\x80\x00\x02\xff\x00",
        ] {
            assert_eq!(unit_serial(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn differences_name_each_changed_fact() {
        let a = DiskIdentity {
            devno: Some("7:0".into()),
            size_bytes: 1 << 30,
            diskseq: Some(9),
            serial: Some("/tmp/a.img".into()),
            disk_guid: None,
        };
        assert!(a.differences(&a).is_empty());
        let mut b = a.clone();
        b.diskseq = Some(10);
        b.serial = Some("/tmp/b.img".into());
        let d = a.differences(&b).join("; ");
        assert!(d.contains("disk sequence number was 9, is now 10"), "{d}");
        assert!(d.contains("/tmp/b.img"), "{d}");
        // A fact one side could not read is not a difference.
        b = a.clone();
        b.diskseq = None;
        assert!(a.differences(&b).is_empty());
        b.disk_guid = Some(Uuid::from_u128(1));
        assert!(a
            .differences(&b)
            .join("")
            .contains("GPT disk GUID was none"));
    }
}
