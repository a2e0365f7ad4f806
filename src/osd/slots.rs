//! Slots on a shared fast device (pure arithmetic): one fast disk divided into equal slots,
//! one block.db (or one block.wal) per OSD, the slots not taken left unpartitioned for later
//! OSDs.
//!
//! A slot is a run of whole MiBs; its size is `--db-size` (rounded up to a MiB), or the usable
//! area divided by `--db-slots`/`--wal-slots` (rounded down to a MiB), or, on a fast disk
//! cephboot already carved, the size of the partitions already there. Free slots are found first-fit in
//! the gaps between the partitions the disk has (in its table or in the kernel's view of it),
//! so a slot given back by `osd remove` is taken again before the space after it.

use super::super::disk::table::{usable_range, ALIGN_BYTES};

/// How the operator asked the fast disk to be divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotSize {
    /// `--db-slots N` / `--wal-slots N`: the usable area in N equal slots.
    Count(u32),
    /// `--db-size BYTES`.
    Bytes(u64),
}

/// A partition already on the fast disk, in LBAs (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Partition number.
    pub number: u32,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA.
    pub last_lba: u64,
}

/// A free slot: where a new db partition can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Partition number it gets (the lowest unused).
    pub number: u32,
    /// First LBA (MiB-aligned).
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
}

impl Slot {
    /// Offset in bytes.
    pub fn start_bytes(&self, sector_size: u64) -> u64 {
        self.first_lba.saturating_mul(sector_size)
    }
    /// Size in bytes.
    pub fn size_bytes(&self, sector_size: u64) -> u64 {
        (self.last_lba + 1 - self.first_lba).saturating_mul(sector_size)
    }
}

/// The carve-up of one fast disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carve {
    /// Bytes per slot.
    pub slot_bytes: u64,
    /// Every free slot, in disk order, with the partition number each would get.
    pub free: Vec<Slot>,
    /// Slots in use (partitions on the disk).
    pub used: usize,
}

/// The slot size for `size` on a disk of `disk_size` bytes, or why there is none.
pub fn slot_bytes(disk_size: u64, sector_size: u64, size: SlotSize) -> Result<u64, String> {
    let (first, last) = usable_range(disk_size, sector_size)
        .ok_or_else(|| format!("the disk ({} MiB) is too small for a GPT", disk_size >> 20))?;
    let align = ALIGN_BYTES / sector_size.max(1);
    let first = first.div_ceil(align) * align;
    let usable = (last + 1).saturating_sub(first).saturating_mul(sector_size);
    let bytes = match size {
        SlotSize::Count(0) => return Err("the number of slots must be at least 1".into()),
        SlotSize::Count(n) => usable / u64::from(n) / ALIGN_BYTES * ALIGN_BYTES,
        SlotSize::Bytes(b) => b.div_ceil(ALIGN_BYTES).saturating_mul(ALIGN_BYTES),
    };
    if bytes < super::plan::MIN_DB_SLOT {
        return Err(format!(
            "a slot would be {} MiB (the disk has {} MiB usable): a slot needs at least {} MiB; ask for fewer slots (or larger ones)",
            bytes >> 20,
            usable >> 20,
            super::plan::MIN_DB_SLOT >> 20
        ));
    }
    if bytes > usable {
        return Err(format!(
            "a slot of {} MiB does not fit the disk's {} MiB usable",
            bytes >> 20,
            usable >> 20
        ));
    }
    Ok(bytes)
}

/// The free slots of `slot_bytes` on a disk of `disk_size` bytes whose partitions are `used`.
pub fn carve(disk_size: u64, sector_size: u64, used: &[Extent], slot_bytes: u64) -> Carve {
    let mut free = Vec::new();
    let Some((first, last)) = usable_range(disk_size, sector_size) else {
        return Carve {
            slot_bytes,
            free,
            used: used.len(),
        };
    };
    let align = ALIGN_BYTES / sector_size.max(1);
    let slot_lbas = slot_bytes / sector_size.max(1);
    let mut taken: Vec<(u64, u64)> = used.iter().map(|e| (e.first_lba, e.last_lba)).collect();
    taken.sort_unstable();
    let mut numbers = (1u32..=128).filter(|n| !used.iter().any(|e| e.number == *n));
    let mut at = first.div_ceil(align) * align;
    loop {
        let end = at.saturating_add(slot_lbas).saturating_sub(1);
        if slot_lbas == 0 || end > last {
            break;
        }
        match taken.iter().find(|(a, b)| *a <= end && at <= *b) {
            // Overlaps a partition: try the first aligned LBA after it.
            Some((_, b)) => at = (b + 1).div_ceil(align) * align,
            None => {
                let Some(number) = numbers.next() else { break };
                free.push(Slot {
                    number,
                    first_lba: at,
                    last_lba: end,
                });
                at = end + 1;
            }
        }
    }
    Carve {
        slot_bytes,
        free,
        used: used.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn ext(number: u32, first_mib: u64, size_mib: u64) -> Extent {
        Extent {
            number,
            first_lba: first_mib * 2048,
            last_lba: (first_mib + size_mib) * 2048 - 1,
        }
    }

    #[test]
    fn slot_sizes_from_a_count_or_a_size() {
        // 4 GiB: usable from 1 MiB to 33 sectors before the end.
        let usable = 4 * GIB - MIB - 33 * 512;
        let cases: &[(SlotSize, Result<u64, &str>)] = &[
            (SlotSize::Count(4), Ok(usable / 4 / MIB * MIB)),
            (SlotSize::Count(1), Ok(usable / MIB * MIB)),
            (SlotSize::Bytes(GIB), Ok(GIB)),
            (SlotSize::Bytes(GIB + 1), Ok(GIB + MIB)),
            (SlotSize::Count(0), Err("at least 1")),
            (SlotSize::Count(1000), Err("needs at least")),
            (SlotSize::Bytes(MIB), Err("needs at least")),
            (SlotSize::Bytes(8 * GIB), Err("does not fit")),
        ];
        for (size, want) in cases {
            let got = slot_bytes(4 * GIB, 512, *size);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{size:?}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{size:?}: {g}"),
                _ => panic!("{size:?}: {got:?}"),
            }
        }
        assert_eq!(
            slot_bytes(4 * GIB, 4096, SlotSize::Count(4)).map(|b| b % MIB),
            Ok(0)
        );
    }

    #[test]
    fn a_blank_disk_in_four_slots_has_four_free_and_no_more() {
        let slot = slot_bytes(4 * GIB, 512, SlotSize::Count(4)).unwrap();
        let c = carve(4 * GIB, 512, &[], slot);
        assert_eq!(c.free.len(), 4);
        assert_eq!(c.used, 0);
        assert_eq!(
            c.free.iter().map(|s| s.number).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(c.free[0].first_lba, 2048, "the first slot starts at 1 MiB");
        for pair in c.free.windows(2) {
            assert_eq!(
                pair[0].last_lba + 1,
                pair[1].first_lba,
                "slots are contiguous"
            );
            assert_eq!(pair[0].size_bytes(512), slot);
        }
        let (_, last) = usable_range(4 * GIB, 512).unwrap();
        assert!(
            c.free[3].last_lba <= last,
            "the last slot ends inside the usable area"
        );
    }

    #[test]
    fn used_slots_are_skipped_and_a_given_back_slot_is_taken_first() {
        let slot_mib = 1000;
        let slot = slot_mib * MIB;
        // Slots 1 and 3 in use, slot 2 given back by `osd remove`.
        let used = [ext(1, 1, slot_mib), ext(3, 1 + 2 * slot_mib, slot_mib)];
        let c = carve(4 * GIB, 512, &used, slot);
        assert_eq!(c.used, 2);
        assert_eq!(
            c.free[0],
            Slot {
                number: 2,
                first_lba: (1 + slot_mib) * 2048,
                last_lba: (1 + 2 * slot_mib) * 2048 - 1
            }
        );
        assert_eq!(
            c.free.len(),
            2,
            "the gap and the slot after partition 3: {:?}",
            c.free
        );
        assert_eq!(c.free[1].number, 4);
    }

    #[test]
    fn a_gap_smaller_than_a_slot_is_not_a_slot_and_unaligned_partitions_are_stepped_over() {
        let slot = 512 * MIB;
        // A 100 MiB gap between two partitions, the second one ending off the MiB grid.
        let used = [
            ext(1, 1, 512),
            Extent {
                number: 2,
                first_lba: 613 * 2048,
                last_lba: 1125 * 2048 + 7,
            },
        ];
        let c = carve(2 * GIB, 512, &used, slot);
        assert_eq!(c.free.len(), 1, "{:?}", c.free);
        assert_eq!(
            c.free[0].first_lba,
            1126 * 2048,
            "next MiB after partition 2"
        );
        assert_eq!(c.free[0].number, 3);
    }

    #[test]
    fn a_full_disk_has_no_free_slot() {
        let slot = 1000 * MIB;
        let used: Vec<Extent> = (0..4)
            .map(|i| ext(i + 1, 1 + u64::from(i) * 1000, 1000))
            .collect();
        let c = carve(4 * GIB, 512, &used, slot);
        assert!(c.free.is_empty(), "{:?}", c.free);
        assert_eq!(c.used, 4);
        // Nothing fits a disk too small for a GPT, and nothing panics.
        assert!(carve(4096, 512, &[], slot).free.is_empty());
        assert!(carve(4 * GIB, 512, &[], 0).free.is_empty());
    }
}
