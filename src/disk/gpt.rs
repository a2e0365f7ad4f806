//! Reads partition tables from the bytes of a disk: GPT (primary header, falling back to the
//! backup when the primary is corrupt, and saying which was used) and the four primary
//! entries of an MBR.
//!
//! This reader exists beside gptman (which `disk::table` uses to write) because discovery
//! needs the raw UTF-16 names, a report of which header was valid, and hard bounds on every
//! size read from the disk: a corrupt header must give an error, never a huge allocation.

use std::io::{Read, Seek, SeekFrom};

use uuid::Uuid;

use super::label::PartitionName;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
/// More entries than this in a header is treated as corruption (the standard is 128).
const MAX_ENTRIES: u32 = 4096;

/// Which GPT header a table was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderUsed {
    /// The primary header at LBA 1 was valid.
    Primary,
    /// The primary was corrupt; the backup at the end of the disk was used.
    Backup,
}

/// One used entry of a GPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    /// 1-based index in the entry array (the kernel's partition number).
    pub number: u32,
    /// Partition type GUID.
    pub type_guid: Uuid,
    /// Unique partition GUID (PARTUUID).
    pub unique_guid: Uuid,
    /// First LBA (inclusive).
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Attribute bits.
    pub attributes: u64,
    /// The name, as stored.
    pub name: PartitionName,
}

impl GptEntry {
    /// Byte offset of the partition on the disk.
    pub fn start_bytes(&self, sector_size: u64) -> u64 {
        self.first_lba.saturating_mul(sector_size)
    }

    /// Length of the partition in bytes.
    pub fn size_bytes(&self, sector_size: u64) -> u64 {
        self.last_lba
            .saturating_sub(self.first_lba)
            .saturating_add(1)
            .saturating_mul(sector_size)
    }
}

/// A GPT as read from a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptTable {
    /// Header the entries came from.
    pub header_used: HeaderUsed,
    /// Whether the other header was also valid (a missing backup is worth a reason).
    pub other_header_valid: bool,
    /// Disk GUID.
    pub disk_guid: Uuid,
    /// Logical sector size the table was read with.
    pub sector_size: u64,
    /// First usable LBA.
    pub first_usable_lba: u64,
    /// Last usable LBA.
    pub last_usable_lba: u64,
    /// Used entries, by number.
    pub entries: Vec<GptEntry>,
}

/// The result of looking for a GPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GptRead {
    /// Neither header has the `EFI PART` signature.
    Absent,
    /// A table was read (maybe from the backup).
    Found(GptTable),
    /// A signature exists but neither header (with its entries) is valid.
    Corrupt(String),
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn guid(b: &[u8], at: usize) -> Uuid {
    let mut a = [0u8; 16];
    if let Some(s) = b.get(at..at + 16) {
        a.copy_from_slice(s);
    }
    Uuid::from_bytes_le(a)
}

fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

struct Header {
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: Uuid,
    entries_lba: u64,
    num_entries: u32,
    entry_size: u32,
    entries_crc: u32,
}

enum HeaderRead {
    NoSignature,
    Bad(String),
    Ok(Header),
}

fn read_header<R: Read + Seek>(r: &mut R, lba: u64, ss: u64) -> HeaderRead {
    let Ok(len) = usize::try_from(ss) else {
        return HeaderRead::Bad("sector size".into());
    };
    let buf = match read_at(r, lba.saturating_mul(ss), len) {
        Ok(b) => b,
        Err(e) => return HeaderRead::Bad(format!("cannot read LBA {lba}: {e}")),
    };
    if buf.get(0..8) != Some(b"EFI PART") {
        return HeaderRead::NoSignature;
    }
    let header_size = le_u32(&buf, 12) as usize;
    if header_size < 92 || header_size > buf.len() {
        return HeaderRead::Bad(format!(
            "header at LBA {lba} has invalid size {header_size}"
        ));
    }
    let stored_crc = le_u32(&buf, 16);
    let mut copy = buf
        .get(..header_size)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    if let Some(c) = copy.get_mut(16..20) {
        c.fill(0);
    }
    if CRC32.checksum(&copy) != stored_crc {
        return HeaderRead::Bad(format!("header at LBA {lba} fails its CRC32"));
    }
    let my_lba = le_u64(&buf, 24);
    if my_lba != lba {
        return HeaderRead::Bad(format!("header at LBA {lba} says it lives at LBA {my_lba}"));
    }
    let h = Header {
        alternate_lba: le_u64(&buf, 32),
        first_usable: le_u64(&buf, 40),
        last_usable: le_u64(&buf, 48),
        disk_guid: guid(&buf, 56),
        entries_lba: le_u64(&buf, 72),
        num_entries: le_u32(&buf, 80),
        entry_size: le_u32(&buf, 84),
        entries_crc: le_u32(&buf, 88),
    };
    if h.num_entries > MAX_ENTRIES
        || h.entry_size < 128
        || h.entry_size > 1024
        || !h.entry_size.is_multiple_of(8)
    {
        return HeaderRead::Bad(format!(
            "header at LBA {lba} declares {} entries of {} bytes",
            h.num_entries, h.entry_size
        ));
    }
    HeaderRead::Ok(h)
}

fn read_entries<R: Read + Seek>(r: &mut R, h: &Header, ss: u64) -> Result<Vec<GptEntry>, String> {
    let size = h.entry_size as usize;
    let total = size.saturating_mul(h.num_entries as usize);
    let buf = read_at(r, h.entries_lba.saturating_mul(ss), total).map_err(|e| {
        format!(
            "cannot read the partition entries at LBA {}: {e}",
            h.entries_lba
        )
    })?;
    if CRC32.checksum(&buf) != h.entries_crc {
        return Err(format!(
            "partition entries at LBA {} fail their CRC32",
            h.entries_lba
        ));
    }
    let mut out = Vec::new();
    for (i, e) in buf.chunks_exact(size).enumerate() {
        let type_guid = guid(e, 0);
        if type_guid.is_nil() {
            continue;
        }
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        out.push(GptEntry {
            number,
            type_guid,
            unique_guid: guid(e, 16),
            first_lba: le_u64(e, 32),
            last_lba: le_u64(e, 40),
            attributes: le_u64(e, 48),
            name: PartitionName::from_utf16le(e.get(56..128).unwrap_or(&[])),
        });
    }
    Ok(out)
}

/// Reads the GPT of a disk of `disk_size` bytes with logical sector size `sector_size`.
pub fn read_gpt<R: Read + Seek>(r: &mut R, sector_size: u64, disk_size: u64) -> GptRead {
    if sector_size < 512 || disk_size < sector_size.saturating_mul(3) {
        return GptRead::Absent;
    }
    let last_lba = disk_size / sector_size - 1;
    let table = |r: &mut R, h: Header, used: HeaderUsed, other_valid: bool| {
        read_entries(r, &h, sector_size).map(|entries| GptTable {
            header_used: used,
            other_header_valid: other_valid,
            disk_guid: h.disk_guid,
            sector_size,
            first_usable_lba: h.first_usable,
            last_usable_lba: h.last_usable,
            entries,
        })
    };
    let primary = read_header(r, 1, sector_size);
    let backup_lba = match &primary {
        HeaderRead::Ok(h) if h.alternate_lba <= last_lba && h.alternate_lba > 1 => h.alternate_lba,
        _ => last_lba,
    };
    let backup = read_header(r, backup_lba, sector_size);
    let backup_ok = matches!(backup, HeaderRead::Ok(_));
    let mut problems = Vec::new();
    match primary {
        HeaderRead::Ok(h) => match table(r, h, HeaderUsed::Primary, backup_ok) {
            Ok(t) => return GptRead::Found(t),
            Err(e) => problems.push(format!("primary GPT: {e}")),
        },
        HeaderRead::Bad(e) => problems.push(format!("primary GPT: {e}")),
        HeaderRead::NoSignature => {}
    }
    match backup {
        HeaderRead::Ok(h) => match table(r, h, HeaderUsed::Backup, false) {
            Ok(t) => return GptRead::Found(t),
            Err(e) => problems.push(format!("backup GPT: {e}")),
        },
        HeaderRead::Bad(e) => problems.push(format!("backup GPT: {e}")),
        HeaderRead::NoSignature => {}
    }
    if problems.is_empty() {
        GptRead::Absent
    } else {
        GptRead::Corrupt(problems.join("; "))
    }
}

/// One copy of a GPT (header and entry array) as its bytes, checked: what the in-place editor
/// changes. Nothing here trusts a size it has not bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptCopy {
    /// LBA of the header.
    pub header_lba: u64,
    /// The header sector, as read.
    pub header: Vec<u8>,
    /// Header size declared in it (92 ..= sector size).
    pub header_size: usize,
    /// LBA of the entry array.
    pub entries_lba: u64,
    /// Size of one entry (128 ..= 1024, a multiple of 8).
    pub entry_size: usize,
    /// The entry array, as read.
    pub entries: Vec<u8>,
}

/// Both copies of a GPT, when both are valid and agree with each other: the only tables
/// cephboot edits in place. Anything else is an error saying what is wrong, so a caller can
/// refuse before it writes a byte.
pub fn read_copies<R: Read + Seek>(
    r: &mut R,
    sector_size: u64,
    disk_size: u64,
) -> Result<[GptCopy; 2], String> {
    if sector_size < 512 || disk_size < sector_size.saturating_mul(3) {
        return Err("the disk is too small to hold a GPT".into());
    }
    let last_lba = disk_size / sector_size - 1;
    let copy = |r: &mut R, lba: u64, which: &str| -> Result<(GptCopy, Header), String> {
        let h = match read_header(r, lba, sector_size) {
            HeaderRead::Ok(h) => h,
            HeaderRead::Bad(e) => return Err(format!("{which} GPT: {e}")),
            HeaderRead::NoSignature => return Err(format!("{which} GPT header is missing")),
        };
        let len = usize::try_from(sector_size).map_err(|_| "sector size".to_string())?;
        let header = read_at(r, lba.saturating_mul(sector_size), len)
            .map_err(|e| format!("{which} GPT: cannot read LBA {lba}: {e}"))?;
        let header_size = le_u32(&header, 12) as usize;
        let entry_size = h.entry_size as usize;
        let total = entry_size.saturating_mul(h.num_entries as usize);
        let array_sectors = u64::try_from(total)
            .unwrap_or(u64::MAX)
            .div_ceil(sector_size);
        let array_end = h.entries_lba.saturating_add(array_sectors);
        // The array must lie inside the disk and outside the usable range.
        if h.entries_lba < 2
            || array_end > last_lba
            || (h.entries_lba <= h.last_usable && array_end > h.first_usable)
        {
            return Err(format!(
                "{which} GPT: its partition entries (LBA {}, {} sectors) overlap the usable area or leave the disk",
                h.entries_lba, array_sectors
            ));
        }
        let entries = read_at(r, h.entries_lba.saturating_mul(sector_size), total)
            .map_err(|e| format!("{which} GPT: cannot read its partition entries: {e}"))?;
        if CRC32.checksum(&entries) != h.entries_crc {
            return Err(format!("{which} GPT: partition entries fail their CRC32"));
        }
        Ok((
            GptCopy {
                header_lba: lba,
                header,
                header_size,
                entries_lba: h.entries_lba,
                entry_size,
                entries,
            },
            h,
        ))
    };
    let (primary, ph) = copy(r, 1, "primary")?;
    if ph.alternate_lba != last_lba {
        return Err(format!(
            "the primary GPT puts its backup at LBA {} but the disk ends at LBA {last_lba} (was the disk resized?)",
            ph.alternate_lba
        ));
    }
    let (backup, bh) = copy(r, last_lba, "backup")?;
    if bh.alternate_lba != 1
        || bh.disk_guid != ph.disk_guid
        || bh.first_usable != ph.first_usable
        || bh.last_usable != ph.last_usable
        || backup.entries != primary.entries
    {
        return Err("the primary and backup GPT differ".into());
    }
    if ph.first_usable > ph.last_usable || ph.last_usable >= last_lba {
        return Err("the GPT's usable range is not inside the disk".into());
    }
    Ok([primary, backup])
}

/// One primary MBR partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbrEntry {
    /// 1..=4.
    pub number: u32,
    /// The partition type byte (0xEE = GPT protective).
    pub type_byte: u8,
    /// First sector (512-byte units).
    pub start_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
}

/// The four primary entries of an MBR, or `None` when sector 0 has no `55 AA` signature.
pub fn read_mbr<R: Read + Seek>(r: &mut R) -> Option<Vec<MbrEntry>> {
    let buf = read_at(r, 0, 512).ok()?;
    if buf.get(510..512) != Some(&[0x55, 0xAA]) {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..4u32 {
        let at = 446 + 16 * i as usize;
        let type_byte = buf.get(at + 4).copied().unwrap_or(0);
        let start_lba = u64::from(le_u32(&buf, at + 8));
        let sectors = u64::from(le_u32(&buf, at + 12));
        if type_byte != 0 && sectors != 0 {
            out.push(MbrEntry {
                number: i + 1,
                type_byte,
                start_lba,
                sectors,
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const SS: u64 = 512;

    /// A disk image with a GPT written by gptman (an independent writer).
    fn image(names: &[&str]) -> Vec<u8> {
        let size = 4 << 20;
        let mut cur = Cursor::new(vec![0u8; size]);
        let mut gpt = gptman::GPT::new_from(&mut cur, SS, [7; 16]).unwrap();
        let mut start = 2048;
        for (i, n) in names.iter().enumerate() {
            let idx = u32::try_from(i + 1).unwrap();
            gpt[idx] = gptman::GPTPartitionEntry {
                partition_type_guid: [0xAB; 16],
                unique_partition_guid: [u8::try_from(i + 1).unwrap(); 16],
                starting_lba: start,
                ending_lba: start + 99,
                attribute_bits: 0,
                partition_name: (*n).into(),
            };
            start += 100;
        }
        gpt.write_into(&mut cur).unwrap();
        gptman::GPT::write_protective_mbr_into(&mut cur, SS).unwrap();
        cur.into_inner()
    }

    fn found(img: &[u8]) -> GptTable {
        match read_gpt(&mut Cursor::new(img), SS, img.len() as u64) {
            GptRead::Found(t) => t,
            other => panic!("expected a table, got {other:?}"),
        }
    }

    #[test]
    fn reads_names_numbers_and_guids() {
        let img = image(&["KOLLA_CEPH_OSD_BOOTSTRAP_BS", "新加卷"]);
        let t = found(&img);
        assert_eq!(t.header_used, HeaderUsed::Primary);
        assert!(t.other_header_valid);
        assert_eq!(t.entries.len(), 2);
        assert_eq!(t.entries[0].name.to_lossy(), "KOLLA_CEPH_OSD_BOOTSTRAP_BS");
        assert_eq!(t.entries[1].name.to_lossy(), "新加卷");
        assert_eq!(t.entries[1].number, 2);
        assert_eq!(t.entries[0].first_lba, 2048);
        assert_eq!(t.entries[0].size_bytes(SS), 100 * 512);
    }

    #[test]
    fn falls_back_to_backup_when_primary_is_corrupt() {
        let mut img = image(&["data"]);
        img[512 + 60] ^= 0xFF; // inside the primary header: CRC now fails
        let t = found(&img);
        assert_eq!(t.header_used, HeaderUsed::Backup);
        assert_eq!(t.entries[0].name.to_lossy(), "data");
    }

    #[test]
    fn corrupt_entries_on_both_sides_are_reported_not_panicked() {
        let mut img = image(&["data"]);
        img[1024 + 56] ^= 0xFF; // primary entry array
        let n = img.len();
        let backup_entries = n - 512 - 128 * 128;
        img[backup_entries + 56] ^= 0xFF;
        match read_gpt(&mut Cursor::new(&img), SS, n as u64) {
            GptRead::Corrupt(msg) => {
                assert!(
                    msg.contains("primary GPT") && msg.contains("backup GPT"),
                    "{msg}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_entry_count_is_refused_without_allocating() {
        let mut img = image(&["data"]);
        // Declare 2^31 entries and fix the header CRC so only the bound can catch it.
        img[512 + 80..512 + 84].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        img[512 + 16..512 + 20].fill(0);
        let crc = CRC32.checksum(&img[512..512 + 92]);
        img[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
        let t = found(&img); // the backup still answers
        assert_eq!(t.header_used, HeaderUsed::Backup);
    }

    #[test]
    fn blank_and_tiny_disks_have_no_gpt() {
        let img = vec![0u8; 1 << 20];
        assert_eq!(
            read_gpt(&mut Cursor::new(&img), SS, img.len() as u64),
            GptRead::Absent
        );
        assert_eq!(
            read_gpt(&mut Cursor::new(&[0u8; 10]), SS, 10),
            GptRead::Absent
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 99u32;
        for _ in 0..50 {
            let mut img: Vec<u8> = (0..65536)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16).to_le_bytes()[0]
                })
                .collect();
            img[512..520].copy_from_slice(b"EFI PART");
            let _ = read_gpt(&mut Cursor::new(&img), SS, img.len() as u64);
            let _ = read_mbr(&mut Cursor::new(&img));
        }
    }

    #[test]
    fn protective_mbr_is_seen() {
        let img = image(&["x"]);
        let mbr = read_mbr(&mut Cursor::new(&img)).unwrap();
        assert_eq!(mbr[0].type_byte, 0xEE);
    }
}
