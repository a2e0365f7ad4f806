//! Writing GPTs: a pure layout planner (aligned partitions, names checked to fit 36 UTF-16
//! units, sizes checked against the disk before anything is written) and the writer, which
//! uses gptman on a disk the caller holds locked.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use uuid::Uuid;

use super::blockops::KernelPartition;
use super::gpt::{read_copies, GptCopy};
use super::label::PartitionName;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

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

/// Whether the table of a disk can be edited in place by [`set_name_and_type`]: both GPT copies
/// valid and identical. Callers check this before the first byte of a plan is written.
pub fn check_editable(file: &mut File, sector_size: u64) -> std::io::Result<()> {
    let size = file.seek(SeekFrom::End(0))?;
    read_copies(file, sector_size, size)
        .map(|_| ())
        .map_err(std::io::Error::other)
}

/// Changes the name and type of partition `number` in place, in both GPT copies (backup
/// first, so the primary, which readers prefer, changes last).
///
/// The edit is cephboot's own: it patches the entry's type GUID and name in the entry array
/// exactly as read (any spec-valid entry size, every other byte kept), then the CRCs. A table
/// whose copies are not both valid and identical is refused before anything is written; gptman
/// is never asked to parse a table cephboot did not build.
pub fn set_name_and_type(
    file: &mut File,
    sector_size: u64,
    number: u32,
    name: &str,
    type_guid: Uuid,
) -> std::io::Result<()> {
    let size = file.seek(SeekFrom::End(0))?;
    edit_entry(file, sector_size, size, number, name, type_guid, |f| {
        f.sync_data()
    })?;
    file.sync_all()
}

/// The edit of [`set_name_and_type`] on any seekable image of `disk_size` bytes; `barrier`
/// runs after each copy is written (a flush to the device, so the backup is on disk before
/// the primary changes). The fuzz targets drive it with tables the reader accepted.
pub fn edit_entry<F: Read + Write + Seek>(
    file: &mut F,
    sector_size: u64,
    disk_size: u64,
    number: u32,
    name: &str,
    type_guid: Uuid,
    barrier: impl FnMut(&mut F) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name_field = name_field(name)?;
    patch_entry(file, sector_size, disk_size, number, barrier, |entry, _| {
        if entry.get(0..16).is_none_or(|g| g.iter().all(|&b| b == 0)) {
            return Err(format!("partition {number} does not exist in the table"));
        }
        if let Some(g) = entry.get_mut(0..16) {
            g.copy_from_slice(&type_guid.to_bytes_le());
        }
        if let Some(n) = entry.get_mut(56..128) {
            n.copy_from_slice(&name_field);
        }
        Ok(())
    })
}

/// A partition added to an existing table in place: the entry `number` must be unused and
/// the range inside the table's usable area, overlapping no other entry (checked in both
/// copies before either is written). Every other entry is kept byte for byte: the other
/// partitions of a shared fast device stay as they are while their OSDs run.
pub fn add_entry(file: &mut File, sector_size: u64, spec: &PartitionSpec) -> std::io::Result<()> {
    let size = file.seek(SeekFrom::End(0))?;
    add_entry_in(file, sector_size, size, spec, |f| f.sync_data())?;
    file.sync_all()
}

/// [`add_entry`] on any seekable image of `disk_size` bytes.
pub fn add_entry_in<F: Read + Write + Seek>(
    file: &mut F,
    sector_size: u64,
    disk_size: u64,
    spec: &PartitionSpec,
    barrier: impl FnMut(&mut F) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name_field = name_field(&spec.name)?;
    if spec.type_guid.is_nil() || spec.last_lba < spec.first_lba {
        return Err(std::io::Error::other(
            "a new partition needs a type and a range",
        ));
    }
    let number = spec.number;
    patch_entry(
        file,
        sector_size,
        disk_size,
        number,
        barrier,
        |entry, copy| {
            if entry.get(0..16).is_none_or(|g| g.iter().any(|&b| b != 0)) {
                return Err(format!("partition {number} already exists in the table"));
            }
            let first_usable = le_u64(&copy.header, 40);
            let last_usable = le_u64(&copy.header, 48);
            if spec.first_lba < first_usable || spec.last_lba > last_usable {
                return Err(format!(
                "LBA {}..={} lies outside the table's usable area ({first_usable}..={last_usable})",
                spec.first_lba, spec.last_lba
            ));
            }
            if let Some(other) =
                used_ranges(copy).find(|(_, a, b)| *a <= spec.last_lba && spec.first_lba <= *b)
            {
                return Err(format!(
                    "LBA {}..={} overlaps partition {} ({}..={})",
                    spec.first_lba, spec.last_lba, other.0, other.1, other.2
                ));
            }
            entry.fill(0);
            let fields: [(std::ops::Range<usize>, &[u8]); 5] = [
                (0..16, &spec.type_guid.to_bytes_le()),
                (16..32, &spec.unique_guid.to_bytes_le()),
                (32..40, &spec.first_lba.to_le_bytes()),
                (40..48, &spec.last_lba.to_le_bytes()),
                (56..128, &name_field),
            ];
            for (range, bytes) in fields {
                if let Some(f) = entry.get_mut(range) {
                    f.copy_from_slice(bytes);
                }
            }
            Ok(())
        },
    )
}

/// Partition `number` removed from the table in place (its entry zeroed, every other entry
/// kept): a slot of a shared fast device given back.
pub fn delete_entry(file: &mut File, sector_size: u64, number: u32) -> std::io::Result<()> {
    let size = file.seek(SeekFrom::End(0))?;
    patch_entry(
        file,
        sector_size,
        size,
        number,
        |f| f.sync_data(),
        |entry, _| {
            if entry.get(0..16).is_none_or(|g| g.iter().all(|&b| b == 0)) {
                return Err(format!("partition {number} does not exist in the table"));
            }
            entry.fill(0);
            Ok(())
        },
    )?;
    file.sync_all()
}

fn name_field(name: &str) -> std::io::Result<[u8; 72]> {
    let encoded = PartitionName::encode(name).map_err(std::io::Error::other)?;
    let mut field = [0u8; 72];
    for (chunk, unit) in field.chunks_exact_mut(2).zip(encoded.units()) {
        chunk.copy_from_slice(&unit.to_le_bytes());
    }
    Ok(field)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The used entries of a copy: (number, first LBA, last LBA).
fn used_ranges(copy: &GptCopy) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
    (1u32..)
        .zip(copy.entries.chunks_exact(copy.entry_size.max(128)))
        .filter(|(_, e)| e.get(0..16).is_some_and(|g| g.iter().any(|&b| b != 0)))
        .map(|(n, e)| (n, le_u64(e, 32), le_u64(e, 40)))
}

/// Applies `patch` to entry `number` of both copies (each copy checked before either is
/// written), fixes the CRCs and writes the backup first, so the primary, which readers
/// prefer, changes last.
fn patch_entry<F: Read + Write + Seek>(
    file: &mut F,
    sector_size: u64,
    disk_size: u64,
    number: u32,
    mut barrier: impl FnMut(&mut F) -> std::io::Result<()>,
    patch: impl Fn(&mut [u8], &GptCopy) -> Result<(), String>,
) -> std::io::Result<()> {
    let mut copies = read_copies(file, sector_size, disk_size).map_err(std::io::Error::other)?;
    for copy in copies.iter_mut() {
        let index = usize::try_from(number).unwrap_or(0);
        let at = index
            .checked_sub(1)
            .and_then(|i| i.checked_mul(copy.entry_size))
            .filter(|&at| at.saturating_add(copy.entry_size) <= copy.entries.len())
            .ok_or_else(|| std::io::Error::other(format!("the table has no entry {number}")))?;
        let snapshot = copy.clone();
        let entry = copy
            .entries
            .get_mut(at..at + snapshot.entry_size)
            .ok_or_else(|| std::io::Error::other(format!("the table has no entry {number}")))?;
        patch(entry, &snapshot).map_err(std::io::Error::other)?;
        let entries_crc = CRC32.checksum(&copy.entries);
        let hs = copy.header_size;
        if let Some(c) = copy.header.get_mut(88..92) {
            c.copy_from_slice(&entries_crc.to_le_bytes());
        }
        if let Some(c) = copy.header.get_mut(16..20) {
            c.fill(0);
        }
        let header_crc = CRC32.checksum(copy.header.get(..hs).unwrap_or(&[]));
        if let Some(c) = copy.header.get_mut(16..20) {
            c.copy_from_slice(&header_crc.to_le_bytes());
        }
    }
    for copy in copies.iter().rev() {
        file.seek(SeekFrom::Start(
            copy.entries_lba.saturating_mul(sector_size),
        ))?;
        file.write_all(&copy.entries)?;
        file.seek(SeekFrom::Start(copy.header_lba.saturating_mul(sector_size)))?;
        file.write_all(&copy.header)?;
        file.flush()?;
        barrier(file)?;
    }
    Ok(())
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

    /// A spec-valid GPT image built by hand: `entries` entries of `entry_size` bytes, one used
    /// partition (number 1) named `name`, primary and backup.
    fn raw_gpt(disk: u64, entry_size: usize, entries: u32, name: &str) -> Vec<u8> {
        let ss = 512usize;
        let mut img = vec![0u8; usize::try_from(disk).unwrap()];
        let last = disk / 512 - 1;
        let array_len = entry_size * entries as usize;
        let array_sectors = (array_len as u64).div_ceil(512);
        let mut array = vec![0u8; array_len];
        array[0..16].copy_from_slice(&Uuid::from_u128(0xAB).to_bytes_le());
        array[16..32].copy_from_slice(&Uuid::from_u128(0xCD).to_bytes_le());
        array[32..40].copy_from_slice(&2048u64.to_le_bytes());
        array[40..48].copy_from_slice(&4095u64.to_le_bytes());
        for (i, u) in name.encode_utf16().enumerate() {
            array[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        // Bytes past the name in a long entry are kept by the editor.
        if entry_size > 128 {
            array[200] = 0x5A;
        }
        let crc_array = CRC32.checksum(&array);
        let header = |my: u64, alt: u64, entries_lba: u64| {
            let mut h = vec![0u8; ss];
            h[0..8].copy_from_slice(b"EFI PART");
            h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&my.to_le_bytes());
            h[32..40].copy_from_slice(&alt.to_le_bytes());
            h[40..48].copy_from_slice(&(2 + array_sectors).to_le_bytes());
            h[48..56].copy_from_slice(&(last - 1 - array_sectors).to_le_bytes());
            h[56..72].copy_from_slice(&Uuid::from_u128(0x77).to_bytes_le());
            h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
            h[80..84].copy_from_slice(&entries.to_le_bytes());
            h[84..88].copy_from_slice(&u32::try_from(entry_size).unwrap().to_le_bytes());
            h[88..92].copy_from_slice(&crc_array.to_le_bytes());
            let crc = CRC32.checksum(&h[..92]);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            h
        };
        let put = |img: &mut Vec<u8>, lba: u64, bytes: &[u8]| {
            let at = usize::try_from(lba).unwrap() * ss;
            img[at..at + bytes.len()].copy_from_slice(bytes);
        };
        let backup_array = last - array_sectors;
        put(&mut img, 1, &header(1, last, 2));
        put(&mut img, 2, &array);
        put(&mut img, backup_array, &array);
        put(&mut img, last, &header(last, 1, backup_array));
        img
    }

    fn image_file(img: &[u8]) -> (tempfile::NamedTempFile, File) {
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), img).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(t.path())
            .unwrap();
        (t, f)
    }

    #[test]
    fn renames_a_table_with_256_byte_entries_keeping_every_other_byte() {
        let img = raw_gpt(8 << 20, 256, 128, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G_D");
        let (_t, mut f) = image_file(&img);
        set_name_and_type(&mut f, 512, 1, "KOLLA_CEPH_DATA_BS_3_D", Uuid::from_u128(5)).unwrap();
        let t = match crate::disk::gpt::read_gpt(&mut f, 512, 8 << 20) {
            crate::disk::gpt::GptRead::Found(t) => t,
            other => panic!("{other:?}"),
        };
        assert!(t.other_header_valid, "both copies stay valid");
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.entries[0].name.to_lossy(), "KOLLA_CEPH_DATA_BS_3_D");
        assert_eq!(t.entries[0].type_guid, Uuid::from_u128(5));
        assert_eq!(t.entries[0].unique_guid, Uuid::from_u128(0xCD));
        let after = std::fs::read(_t.path()).unwrap();
        assert_eq!(after[1024 + 200], 0x5A, "bytes past the name are kept");
        // Only the entry, the arrays' CRCs and the headers changed.
        assert_eq!(after.len(), img.len());
    }

    #[test]
    fn a_table_that_cannot_be_edited_safely_is_refused_untouched() {
        // Primary claims 4294967295 entries (gptman aborts on this); the backup is sane.
        let mut img = raw_gpt(8 << 20, 128, 128, "KOLLA_CEPH_OSD_BOOTSTRAP_BS_G_D");
        img[512 + 80..512 + 84].copy_from_slice(&u32::MAX.to_le_bytes());
        img[512 + 16..512 + 20].fill(0);
        let crc = CRC32.checksum(&img[512..512 + 92]);
        img[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
        let (t, mut f) = image_file(&img);
        assert!(check_editable(&mut f, 512).is_err());
        let e = set_name_and_type(&mut f, 512, 1, "X", Uuid::from_u128(5)).unwrap_err();
        assert!(e.to_string().contains("primary GPT"), "{e}");
        assert_eq!(std::fs::read(t.path()).unwrap(), img, "nothing was written");
        // A backup that differs from the primary is refused too.
        let mut img = raw_gpt(8 << 20, 128, 128, "A");
        let last = img.len() - 512;
        img[last + 56] ^= 1; // disk GUID of the backup
        img[last + 16..last + 20].fill(0);
        let crc = CRC32.checksum(&img[last..last + 92]);
        img[last + 16..last + 20].copy_from_slice(&crc.to_le_bytes());
        let (t, mut f) = image_file(&img);
        let e = set_name_and_type(&mut f, 512, 1, "X", Uuid::from_u128(5)).unwrap_err();
        assert!(e.to_string().contains("differ"), "{e}");
        assert_eq!(std::fs::read(t.path()).unwrap(), img);
        // A partition that is not in the table.
        let img = raw_gpt(8 << 20, 128, 128, "A");
        let (_t, mut f) = image_file(&img);
        assert!(set_name_and_type(&mut f, 512, 2, "X", Uuid::from_u128(5)).is_err());
        assert!(set_name_and_type(&mut f, 512, 0, "X", Uuid::from_u128(5)).is_err());
        assert!(set_name_and_type(&mut f, 512, 129, "X", Uuid::from_u128(5)).is_err());
    }

    #[test]
    fn a_slot_is_added_and_given_back_in_place_keeping_every_other_entry() {
        let path = std::env::temp_dir().join(format!("cephboot-slots-{}", std::process::id()));
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
            &[req(1, "KOLLA_CEPH_DATA_BS_0_D", Size::Bytes(8 << 20))],
            guids(),
        )
        .unwrap();
        write(&mut f, 512, Uuid::from_u128(9), &specs).unwrap();
        let read = |f: &mut File| match crate::disk::gpt::read_gpt(f, 512, 64 << 20) {
            crate::disk::gpt::GptRead::Found(t) => t,
            other => panic!("{other:?}"),
        };
        let before = read(&mut f).entries[0].clone();
        let slot = |number, first_lba, last_lba| PartitionSpec {
            number,
            name: "KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdc_D".into(),
            type_guid: Uuid::from_u128(7),
            unique_guid: Uuid::from_u128(8),
            first_lba,
            last_lba,
        };
        // Overlapping partition 1, outside the usable area, and an entry in use: refused.
        let first_end = before.last_lba;
        for bad in [
            slot(2, first_end, first_end + 100),
            slot(2, 40, 3000),
            slot(2, 131000, 131100),
            slot(1, first_end + 1, first_end + 100),
        ] {
            assert!(add_entry(&mut f, 512, &bad).is_err(), "{bad:?}");
        }
        let good = slot(2, first_end + 1, first_end + (8 << 11));
        add_entry(&mut f, 512, &good).unwrap();
        let t = read(&mut f);
        assert!(t.other_header_valid, "both copies were updated");
        assert_eq!(t.entries[0], before, "partition 1 is kept byte for byte");
        assert_eq!(
            (
                t.entries[1].number,
                t.entries[1].first_lba,
                t.entries[1].last_lba
            ),
            (2, good.first_lba, good.last_lba)
        );
        assert_eq!(t.entries[1].unique_guid, Uuid::from_u128(8));
        assert_eq!(
            t.entries[1].name.to_lossy(),
            "KOLLA_CEPH_OSD_BOOTSTRAP_BS_sdc_D"
        );
        delete_entry(&mut f, 512, 2).unwrap();
        assert!(
            delete_entry(&mut f, 512, 2).is_err(),
            "a free entry cannot be deleted"
        );
        let t = read(&mut f);
        std::fs::remove_file(&path).unwrap();
        assert!(t.other_header_valid);
        assert_eq!(t.entries, vec![before]);
    }

    #[test]
    fn random_tables_never_panic_the_editor() {
        let base = raw_gpt(1 << 20, 128, 128, "A");
        let mut seed = 0x1234_5678_u64;
        for _ in 0..300 {
            let mut img = base.clone();
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = usize::try_from(seed % 2048).unwrap() % 1024 + 512;
                img[at] = seed.to_le_bytes()[4];
            }
            let (_t, mut f) = image_file(&img);
            let _ = set_name_and_type(&mut f, 512, 1, "X", Uuid::from_u128(5));
        }
    }
}
