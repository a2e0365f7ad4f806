//! `disks zap`: the plan (pure, from a snapshot) and its execution on a locked disk.
//!
//! What is removed: every signature libblkid finds on the disk and on each partition
//! (filesystems, RAID, LVM, crypto, swap, partition tables including the protective MBR), the
//! first and last MiB of the disk (primary and backup GPT areas), 4 KiB at each BlueStore
//! label offset (0, 1 GiB, 10 GiB, 100 GiB, 1000 GiB) inside the disk and inside each
//! partition, and the kernel's partitions. Afterwards the disk is probed again and the zap
//! fails loudly if anything is still found.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use cephboot_ffi::blkid::Probe;
use cephboot_ffi::blockdev;
use serde::Serialize;

use super::bluestore::LABEL_OFFSETS;
use super::gpt::{self, GptRead};
use super::inventory::Snapshot;
use super::lock::LockedDisk;
use super::sync::{self, SyncOptions};
use crate::error::{Error, IoContext, Result};

/// A signature to erase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedSignature {
    /// The disk or partition it is on.
    pub device: PathBuf,
    /// Its type (`xfs`, `gpt`, `LVM2_member`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Offset of its magic within that device.
    pub offset: Option<u64>,
}

/// A byte range to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZeroRange {
    /// Offset in the disk.
    pub offset: u64,
    /// Length.
    pub length: u64,
    /// Why.
    pub why: String,
}

/// Everything a zap of one disk will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZapPlan {
    /// The disk.
    pub disk: PathBuf,
    /// Signatures to erase (disk and partitions).
    pub signatures: Vec<PlannedSignature>,
    /// Ranges to zero.
    pub zero: Vec<ZeroRange>,
    /// Kernel partitions to remove.
    pub kernel_partitions: Vec<PathBuf>,
    /// Partitions in the on-disk table that disappear with it.
    pub table_partitions: Vec<PathBuf>,
}

impl ZapPlan {
    /// True when there is nothing to remove (a zap would change nothing but zeroes).
    pub fn finds_nothing(&self) -> bool {
        self.signatures.is_empty()
            && self.kernel_partitions.is_empty()
            && self.table_partitions.is_empty()
    }
}

const MIB: u64 = 1 << 20;

/// The signatures of a partition table that the next table write replaces (libblkid names).
const TABLE_KINDS: &[&str] = &["gpt", "PMBR", "dos"];

/// Plans the zap of `disk` from the snapshot (pure).
pub fn plan(snapshot: &Snapshot, disk: &std::path::Path) -> Result<ZapPlan> {
    let d = snapshot.find(disk).ok_or_else(|| {
        Error::NotFound(format!("{} is not a disk in the inventory", disk.display()))
    })?;
    let size = d.size_bytes;
    let mut plan = ZapPlan {
        disk: d.path.clone(),
        signatures: Vec::new(),
        zero: Vec::new(),
        kernel_partitions: Vec::new(),
        table_partitions: Vec::new(),
    };
    let push_sigs = |plan: &mut ZapPlan, dev: &super::inventory::Device| {
        for s in &dev.signatures {
            plan.signatures.push(PlannedSignature {
                device: dev.path.clone(),
                kind: s.kind.clone(),
                offset: s.magic_offset,
            });
        }
    };
    push_sigs(&mut plan, d);
    let head = size.min(MIB);
    plan.zero.push(ZeroRange {
        offset: 0,
        length: head,
        why: "protective MBR and primary GPT".into(),
    });
    if size > MIB {
        let tail = MIB.min(size - head);
        plan.zero.push(ZeroRange {
            offset: size - tail,
            length: tail,
            why: "backup GPT".into(),
        });
    }
    let label_at = |plan: &mut ZapPlan, base: u64, limit: u64, owner: &str| {
        for off in LABEL_OFFSETS {
            let at = base.saturating_add(off);
            if off < limit
                && at.saturating_add(4096) <= size
                && !plan
                    .zero
                    .iter()
                    .any(|z| z.offset <= at && at + 4096 <= z.offset + z.length)
            {
                plan.zero.push(ZeroRange {
                    offset: at,
                    length: 4096,
                    why: format!("BlueStore label offset {} of {owner}", human_offset(off)),
                });
            }
        }
    };
    label_at(&mut plan, 0, size, &d.path.display().to_string());
    // A LUKS device's headers (both LUKS2 copies) and keyslots: zeroed, so no key opens what
    // is left of its data.
    let luks_at = |plan: &mut ZapPlan, dev: &super::inventory::Device, base: u64| {
        if dev.signatures.iter().any(|s| s.kind == "crypto_LUKS") {
            let length = dev.size_bytes.min(crate::crypt::luks::HEADER_AREA);
            if length > 0 && base.saturating_add(length) <= size {
                plan.zero.push(ZeroRange {
                    offset: base,
                    length,
                    why: format!("LUKS headers and keyslots of {}", dev.path.display()),
                });
            }
        }
    };
    luks_at(&mut plan, d, 0);
    for p in snapshot.partitions_of(disk) {
        push_sigs(&mut plan, p);
        if let Some(start) = p.start_bytes {
            luks_at(&mut plan, p, start);
        }
        if let Some(start) = p.start_bytes {
            label_at(
                &mut plan,
                start,
                p.size_bytes,
                &p.path.display().to_string(),
            );
        }
        if p.in_kernel {
            plan.kernel_partitions.push(p.path.clone());
        } else {
            plan.table_partitions.push(p.path.clone());
        }
    }
    Ok(plan)
}

fn human_offset(off: u64) -> String {
    if off == 0 {
        "0".into()
    } else {
        format!("{} GiB", off >> 30)
    }
}

/// What a zap did.
#[derive(Debug, Clone, Serialize)]
pub struct ZapOutcome {
    /// Signatures libblkid erased (device, type, offset).
    pub erased: Vec<PlannedSignature>,
    /// Ranges zeroed.
    pub zeroed: Vec<ZeroRange>,
    /// Kernel partitions removed (numbers).
    pub kernel_partitions_removed: Vec<u32>,
    /// The `BLKRRPART` result.
    pub reread: Option<String>,
}

/// Erases every signature inside each partition of the disk, read through the disk (so
/// partitions the kernel does not know are wiped too).
fn wipe_partitions(
    snapshot: &Snapshot,
    disk: &LockedDisk,
    size: u64,
) -> Result<Vec<PlannedSignature>> {
    use std::os::fd::AsFd;
    let mut erased = Vec::new();
    for p in snapshot.partitions_of(disk.path()) {
        let (Some(start), len) = (p.start_bytes, p.size_bytes) else {
            continue;
        };
        if len == 0 || start.saturating_add(len) > size {
            continue;
        }
        let sigs = Probe::with_range(disk.file().as_fd(), start, len)
            .and_then(|mut pr| pr.wipe_all())
            .map_err(|e| {
                Error::io(
                    format!(
                        "{}: erasing signatures on {}",
                        disk.path().display(),
                        p.path.display()
                    ),
                    e,
                )
            })?;
        erased.extend(sigs.into_iter().map(|s| PlannedSignature {
            device: p.path.clone(),
            kind: s.kind,
            offset: s.magic_offset,
        }));
    }
    Ok(erased)
}

/// Executes `plan` on the locked disk, then verifies that nothing is left.
pub fn execute(plan: &ZapPlan, snapshot: &Snapshot, disk: &LockedDisk) -> Result<ZapOutcome> {
    let outcome = erase(plan, snapshot, disk, &[])?;
    verify_clean(disk)?;
    Ok(outcome)
}

/// Wipes like [`execute`] but keeps the disk's partition table on disk (both GPT areas, the
/// protective MBR; the kernel's partitions are removed as usual): for `osd prepare`, which
/// writes a new table right after. Every signature inside the partitions and on the disk is
/// erased but the GPT, protective MBR and DOS table (other partition-table types are erased),
/// and the BlueStore label offsets outside the first and last MiB are zeroed. Until the new
/// table is written the disk keeps its old one, bootstrap labels included, so a crash in
/// between leaves a disk that the next `--all-bootstrap` run still finds.
pub fn execute_keeping_table(
    plan: &ZapPlan,
    snapshot: &Snapshot,
    disk: &LockedDisk,
) -> Result<ZapOutcome> {
    use std::os::fd::AsFd;
    let outcome = erase(plan, snapshot, disk, TABLE_KINDS)?;
    let left = Probe::new(disk.file().as_fd())
        .and_then(|mut p| p.signatures())
        .map_err(|e| {
            Error::io(
                format!("{}: probing after the wipe", disk.path().display()),
                e,
            )
        })?;
    if let Some(s) = left
        .iter()
        .find(|s| !TABLE_KINDS.contains(&s.kind.as_str()))
    {
        return Err(Error::Device {
            device: disk.path().to_path_buf(),
            message: format!(
                "still found after the wipe: {} signature at offset {:?}; the device may be failing or remapping writes",
                s.kind, s.magic_offset
            ),
        });
    }
    Ok(outcome)
}

/// The wipe itself: signatures in the partitions and on the disk (but the kinds in `keep`),
/// the zero ranges (but the table areas when a table is kept), then the kernel's partitions
/// (their page caches still hold what was just wiped through the disk).
fn erase(
    plan: &ZapPlan,
    snapshot: &Snapshot,
    disk: &LockedDisk,
    keep: &[&str],
) -> Result<ZapOutcome> {
    use std::os::fd::AsFd;
    let path = disk.path().to_path_buf();
    let io = |what: &str, e: std::io::Error| Error::io(format!("{}: {what}", path.display()), e);
    let size = blockdev::size_bytes(disk.file()).map_err(|e| io("reading its size", e))?;
    let mut erased = wipe_partitions(snapshot, disk, size)?;
    let sigs = Probe::new(disk.file().as_fd())
        .and_then(|mut pr| pr.wipe_all_but(keep))
        .map_err(|e| io("erasing signatures", e))?;
    erased.extend(sigs.into_iter().map(|s| PlannedSignature {
        device: path.clone(),
        kind: s.kind,
        offset: s.magic_offset,
    }));
    // A kept table lives in the first and the last MiB (`plan` zeroes them whole).
    let in_table_area = |z: &ZeroRange| {
        z.offset < MIB || z.offset.saturating_add(z.length) > size.saturating_sub(MIB)
    };
    let zero: Vec<ZeroRange> = plan
        .zero
        .iter()
        .filter(|z| keep.is_empty() || !in_table_area(z))
        .cloned()
        .collect();
    for z in &zero {
        let zeros = vec![0u8; usize::try_from(z.length).unwrap_or(0)];
        disk.file()
            .write_all_at(&zeros, z.offset)
            .map_err(|e| io(&format!("zeroing {} bytes at {}", z.length, z.offset), e))?;
    }
    disk.file()
        .sync_all()
        .map_err(|e| io("flushing writes", e))?;
    let _ = blockdev::flush_buffers(disk.file());
    let report = sync::sync(&disk.kernel(), &[], &SyncOptions::default()).map_err(|e| Error::Device {
        device: path.clone(),
        message: format!("{e}; the data was wiped but the kernel still lists partitions: close whatever holds them and run the command again"),
    })?;
    Ok(ZapOutcome {
        erased,
        zeroed: zero,
        kernel_partitions_removed: report.deleted,
        reread: report.reread,
    })
}

/// Probes the disk again: no signature, no GPT (primary or backup), no kernel partition.
pub fn verify_clean(disk: &LockedDisk) -> Result<()> {
    use std::os::fd::AsFd;
    let path = disk.path();
    let left = Probe::new(disk.file().as_fd())
        .and_then(|mut p| p.signatures())
        .context(|| format!("{}: probing after the wipe", path.display()))?;
    let mut problems: Vec<String> = left
        .iter()
        .map(|s| format!("{} signature at offset {:?}", s.kind, s.magic_offset))
        .collect();
    let size = blockdev::size_bytes(disk.file())
        .context(|| format!("{}: reading its size", path.display()))?;
    let ss = blockdev::logical_sector_size(disk.file()).map_or(512, u64::from);
    let mut f = disk.file();
    if !matches!(gpt::read_gpt(&mut f, ss, size), GptRead::Absent) {
        problems.push("a GPT header".into());
    }
    use super::blockops::KernelTable;
    if let Ok(parts) = disk.kernel().partitions() {
        if !parts.is_empty() {
            problems.push(format!("{} kernel partition(s)", parts.len()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Device {
            device: path.to_path_buf(),
            message: format!(
                "still found after the wipe: {}; the device may be failing or remapping writes",
                problems.join(", ")
            ),
        })
    }
}
