//! Writing GPTs: a pure layout planner (aligned partitions, names checked to fit 36 UTF-16
//! units, sizes checked against the disk before anything is written) and the writer, which
//! uses gptman on a disk the caller holds locked.

use std::fs::File;

use uuid::Uuid;

use super::blockops::KernelPartition;
use super::label::PartitionName;

/// Partition alignment: 1 MiB, what every partitioning tool uses.
pub const ALIGN_BYTES: u64 = 1 << 20;
const ENTRIES: u64 = 128;
const ENTRY_SIZE: u64 = 128;

/// How big a requested partition should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Exactly this many bytes (rounded up to the alignment).
    Bytes(u64),
    /// Everything left (only for the last request).
    Rest,
}

/// One partition to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRequest {
    /// Partition number.
    pub number: u32,
    /// Name (checked to fit 36 UTF-16 units).
    pub name: String,
    /// Type GUID.
    pub type_guid: Uuid,
    /// Size.
    pub size: Size,
}

/// One partition as it will be written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionSpec {
    /// Partition number.
    pub number: u32,
    /// Name.
    pub name: String,
    /// Type GUID.
    pub type_guid: Uuid,
    /// Unique partition GUID (PARTUUID).
    pub unique_guid: Uuid,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
}

impl PartitionSpec {
    /// The partition in bytes, as the kernel will see it.
    pub fn kernel(&self, sector_size: u64) -> KernelPartition {
        KernelPartition {
            number: self.number,
            start: self.first_lba * sector_size,
            size: (self.last_lba - self.first_lba + 1) * sector_size,
        }
    }
}

/// The usable LBA range of a GPT on a disk of `disk_size` bytes (the same geometry gptman and
/// sgdisk use: 128 entries of 128 bytes, backup at the end).
pub fn usable_range(disk_size: u64, sector_size: u64) -> Option<(u64, u64)> {
    if sector_size < 512 {
        return None;
    }
    let array = (ENTRIES * ENTRY_SIZE).div_ceil(sector_size);
    let sectors = disk_size / sector_size;
    let first = 2 + array;
    let last = sectors.checked_sub(array + 2)?;
    (last > first).then_some((first, last))
}

/// Plans a whole-disk layout. Refuses (before anything is written) names that do not fit,
/// duplicate numbers, and sizes that do not fit the disk. `new_guid` supplies PARTUUIDs.
pub fn plan(
    disk_size: u64,
    sector_size: u64,
    requests: &[PartitionRequest],
    mut new_guid: impl FnMut() -> Uuid,
) -> Result<Vec<PartitionSpec>, String> {
    let (first, last) = usable_range(disk_size, sector_size)
        .ok_or_else(|| format!("the disk ({disk_size} bytes) is too small for a GPT"))?;
    let align = ALIGN_BYTES / sector_size;
    let mut next = first.div_ceil(align) * align;
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        PartitionName::encode(&r.name)?;
        if r.type_guid.is_nil() {
            return Err(format!(
                "partition {} needs a type GUID (nil marks an unused entry)",
                r.number
            ));
        }
        if r.number == 0 || r.number > 128 {
            return Err(format!("partition number {} is outside 1..=128", r.number));
        }
        if out.iter().any(|p: &PartitionSpec| p.number == r.number) {
            return Err(format!("partition number {} requested twice", r.number));
        }
        let last_lba = match r.size {
            Size::Rest if i + 1 != requests.len() => {
                return Err("only the last partition may take the rest of the disk".into())
            }
            Size::Rest => last,
            Size::Bytes(b) => {
                let sectors = b.div_ceil(ALIGN_BYTES) * align;
                next.checked_add(sectors)
                    .and_then(|e| e.checked_sub(1))
                    .unwrap_or(u64::MAX)
            }
        };
        if next > last || last_lba > last || last_lba < next {
            let need: u64 = requests
                .iter()
                .map(|r| match r.size {
                    Size::Bytes(b) => b.div_ceil(ALIGN_BYTES) * ALIGN_BYTES,
                    Size::Rest => ALIGN_BYTES,
                })
                .sum();
            return Err(format!(
                "the layout needs at least {} MiB but the disk has {} MiB usable",
                need.div_ceil(1 << 20) + 1,
                ((last - first + 1) * sector_size) >> 20
            ));
        }
        out.push(PartitionSpec {
            number: r.number,
            name: r.name.clone(),
            type_guid: r.type_guid,
            unique_guid: new_guid(),
            first_lba: next,
            last_lba,
        });
        next = (last_lba + 1).div_ceil(align) * align;
    }
    Ok(out)
}

fn gpt_err(e: gptman::Error) -> std::io::Error {
    std::io::Error::other(format!("GPT: {e}"))
}

/// Writes a fresh GPT (protective MBR, primary and backup) holding exactly `specs`.
pub fn write(
    file: &mut File,
    sector_size: u64,
    disk_guid: Uuid,
    specs: &[PartitionSpec],
) -> std::io::Result<()> {
    let mut gpt =
        gptman::GPT::new_from(file, sector_size, disk_guid.to_bytes_le()).map_err(gpt_err)?;
    for s in specs {
        PartitionName::encode(&s.name).map_err(std::io::Error::other)?;
        gpt[s.number] = gptman::GPTPartitionEntry {
            partition_type_guid: s.type_guid.to_bytes_le(),
            unique_partition_guid: s.unique_guid.to_bytes_le(),
            starting_lba: s.first_lba,
            ending_lba: s.last_lba,
            attribute_bits: 0,
            partition_name: s.name.as_str().into(),
        };
    }
    gpt.write_into(file).map_err(gpt_err)?;
    gptman::GPT::write_protective_mbr_into(file, sector_size).map_err(gpt_err)?;
    file.sync_all()
}

/// Changes the name and type of partition `number` in place (both GPT copies rewritten).
pub fn set_name_and_type(
    file: &mut File,
    sector_size: u64,
    number: u32,
    name: &str,
    type_guid: Uuid,
) -> std::io::Result<()> {
    PartitionName::encode(name).map_err(std::io::Error::other)?;
    let mut gpt = gptman::GPT::read_from(file, sector_size).map_err(gpt_err)?;
    gpt.header.update_from(file, sector_size).map_err(gpt_err)?;
    if number == 0 || number > gpt.header.number_of_partition_entries || !gpt[number].is_used() {
        return Err(std::io::Error::other(format!(
            "partition {number} does not exist in the table"
        )));
    }
    gpt[number].partition_name = name.into();
    gpt[number].partition_type_guid = type_guid.to_bytes_le();
    gpt.write_into(file).map_err(gpt_err)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(number: u32, name: &str, size: Size) -> PartitionRequest {
        PartitionRequest {
            number,
            name: name.into(),
            type_guid: Uuid::from_u128(1),
            size,
        }
    }

    fn guids() -> impl FnMut() -> Uuid {
        let mut n = 0u128;
        move || {
            n += 1;
            Uuid::from_u128(n)
        }
    }

    #[test]
    fn aligned_layout_fills_the_disk() {
        let disk = 4u64 << 30;
        let p = plan(
            disk,
            512,
            &[
                req(1, "meta", Size::Bytes(100 << 20)),
                req(2, "block", Size::Rest),
            ],
            guids(),
        )
        .unwrap();
        assert_eq!(p[0].first_lba, 2048);
        assert_eq!(p[0].kernel(512).size, 100 << 20);
        assert_eq!(p[1].first_lba, 2048 + 204_800);
        assert_eq!(p[1].last_lba, disk / 512 - 34);
        assert_ne!(p[0].unique_guid, p[1].unique_guid);
    }

    #[test]
    fn layouts_that_do_not_fit_are_refused_before_writing() {
        let e = plan(
            64 << 20,
            512,
            &[req(1, "a", Size::Bytes(100 << 20))],
            guids(),
        )
        .unwrap_err();
        assert!(e.contains("needs at least"), "{e}");
        assert!(plan(10_000, 512, &[req(1, "a", Size::Rest)], guids()).is_err());
        assert!(plan(
            1 << 30,
            512,
            &[req(1, "a", Size::Rest), req(2, "b", Size::Bytes(1))],
            guids()
        )
        .is_err());
        assert!(plan(
            1 << 30,
            512,
            &[req(1, "a", Size::Bytes(1)), req(1, "b", Size::Rest)],
            guids()
        )
        .is_err());
    }

    #[test]
    fn names_are_checked_before_gptman_could_truncate_them() {
        let name = format!("{}🚀", "a".repeat(35));
        let e = plan(1 << 30, 512, &[req(1, &name, Size::Rest)], guids()).unwrap_err();
        assert!(e.contains("37 UTF-16 units"), "{e}");
    }

    #[test]
    fn four_k_sectors() {
        let p = plan(1 << 30, 4096, &[req(1, "a", Size::Rest)], guids()).unwrap();
        assert_eq!(p[0].first_lba, 256);
        assert_eq!(usable_range(1 << 30, 4096), Some((6, (1 << 30) / 4096 - 6)));
    }

    #[test]
    fn written_table_reads_back_with_our_reader() {
        let path = std::env::temp_dir().join(format!("cephboot-table-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.set_len(64 << 20).unwrap();
        let specs = plan(
            64 << 20,
            512,
            &[
                req(1, "新加卷", Size::Bytes(8 << 20)),
                req(12, "KOLLA_CEPH_OSD_BOOTSTRAP_BS", Size::Rest),
            ],
            guids(),
        )
        .unwrap();
        write(&mut f, 512, Uuid::from_u128(9), &specs).unwrap();
        set_name_and_type(&mut f, 512, 12, "KOLLA_CEPH_DATA_BS_0", Uuid::from_u128(5)).unwrap();
        let t = match crate::disk::gpt::read_gpt(&mut f, 512, 64 << 20) {
            crate::disk::gpt::GptRead::Found(t) => t,
            other => panic!("{other:?}"),
        };
        std::fs::remove_file(&path).unwrap();
        assert!(t.other_header_valid);
        assert_eq!(t.entries[0].name.to_lossy(), "新加卷");
        assert_eq!(t.entries[1].number, 12);
        assert_eq!(t.entries[1].name.to_lossy(), "KOLLA_CEPH_DATA_BS_0");
        assert_eq!(t.entries[1].type_guid, Uuid::from_u128(5));
        assert_eq!(t.entries[1].unique_guid, specs[1].unique_guid);
    }
}
