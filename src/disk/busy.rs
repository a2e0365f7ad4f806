//! What makes a device "in use": mounted, held by another device, active swap, read-only.
//! One description for discovery (a reason in `disks list`) and for the guards (a refusal
//! with what to do next), so both say the same words.

use std::fmt;
use std::path::{Path, PathBuf};

use super::inventory::Device;

/// One reason a device is in use, with the device it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    /// Mounted (`/proc/self/mountinfo`).
    Mounted {
        /// The device.
        device: PathBuf,
        /// Where.
        at: String,
    },
    /// Held by a device-mapper, md or LVM device (`/sys/class/block/*/holders`).
    Held {
        /// The device.
        device: PathBuf,
        /// The holder's kernel name (`dm-0`).
        holder: String,
    },
    /// Active swap (`/proc/swaps`).
    Swap {
        /// The device.
        device: PathBuf,
    },
    /// Read-only.
    ReadOnly {
        /// The device.
        device: PathBuf,
    },
    /// A partition of the disk could not be read (discovery only: the guards refuse the
    /// partition itself with its error).
    Unreadable {
        /// The partition.
        device: PathBuf,
    },
}

/// The system's own filesystems, named as such.
const SYSTEM_MOUNTS: [&str; 3] = ["/", "/boot", "/boot/efi"];

impl Busy {
    /// Every reason `d` is in use, in a fixed order (mounts, holders, swap, read-only).
    pub fn of(d: &Device) -> Vec<Busy> {
        let device = || d.path.clone();
        let mut out: Vec<Busy> = d
            .mountpoints
            .iter()
            .map(|at| Busy::Mounted {
                device: device(),
                at: at.clone(),
            })
            .collect();
        out.extend(d.holders.iter().map(|h| Busy::Held {
            device: device(),
            holder: h.clone(),
        }));
        if d.swap {
            out.push(Busy::Swap { device: device() });
        }
        if d.read_only {
            out.push(Busy::ReadOnly { device: device() });
        }
        out
    }

    /// The device it is about.
    pub fn device(&self) -> &Path {
        match self {
            Busy::Mounted { device, .. }
            | Busy::Held { device, .. }
            | Busy::Swap { device }
            | Busy::ReadOnly { device }
            | Busy::Unreadable { device } => device,
        }
    }

    /// What it is, to follow the device's name: `is mounted at /mnt/old`.
    pub fn what(&self) -> String {
        match self {
            Busy::Mounted { at, .. } if SYSTEM_MOUNTS.contains(&at.as_str()) => {
                format!("holds the system's {at} filesystem")
            }
            Busy::Mounted { at, .. } => format!("is mounted at {at}"),
            Busy::Held { holder, .. } => {
                format!("is in use by {holder} (device-mapper, md RAID or LVM)")
            }
            Busy::Swap { .. } => "is active swap".into(),
            Busy::ReadOnly { .. } => "is read-only".into(),
            Busy::Unreadable { .. } => "could not be read".into(),
        }
    }

    /// What the operator can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Busy::Mounted { .. } => "unmount it or choose another disk",
            Busy::Held { .. } => "remove the holder (dmsetup remove / mdadm --stop / vgchange -an) or choose another disk",
            Busy::Swap { .. } => "run swapoff on it or choose another disk",
            Busy::ReadOnly { .. } => "make it writable (blockdev --setrw) or choose another disk",
            Busy::Unreadable { .. } => "check the device and its cabling, then retry",
        }
    }
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.device().display(), self.what())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_in_order_and_named_with_its_device() {
        let mut d = Device::test_disk("sdb");
        d.mountpoints = vec!["/".into(), "/mnt/old".into()];
        d.holders = vec!["dm-3".into()];
        d.swap = true;
        d.read_only = true;
        let said: Vec<String> = Busy::of(&d).iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "/dev/sdb holds the system's / filesystem",
                "/dev/sdb is mounted at /mnt/old",
                "/dev/sdb is in use by dm-3 (device-mapper, md RAID or LVM)",
                "/dev/sdb is active swap",
                "/dev/sdb is read-only",
            ]
        );
        assert!(Busy::of(&Device::test_disk("sdc")).is_empty());
    }
}
