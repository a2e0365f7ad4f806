//! Reads a BlueStore device label (the first 4 KiB of a bluestore block device): the OSD
//! uuid and the cluster fsid it belongs to. Used by the guard that refuses to wipe another
//! cluster's OSD without `--force`. Every length read from the disk is bounded.

use std::collections::BTreeMap;

/// The label prefix: "bluestore block device\n" followed by the OSD uuid and "\n".
const MAGIC: &[u8] = b"bluestore block device\n";

/// What a BlueStore label says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BluestoreLabel {
    /// OSD uuid from the text header.
    pub osd_uuid: String,
    /// `ceph_fsid` from the label's metadata, when present.
    pub ceph_fsid: Option<String>,
    /// `whoami` (the OSD id) from the metadata, when present.
    pub whoami: Option<String>,
    /// What the device is to its OSD: `main` (the block device), `bluefs db`, `bluefs wal`.
    pub description: Option<String>,
    /// The OSD's key is in the label (`osd_key`: `ceph-osd --mkfs --keyfile`, as ceph-volume
    /// and cephboot run it), so `ceph-bluestore-tool prime-osd-dir` can write its keyring.
    pub has_osd_key: bool,
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        if n > 4096 {
            return None;
        }
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// The label at `offset` of the device node `path` (a partition's through its disk), read
/// from the medium: the pages this node has cached are dropped first, since `ceph-osd --mkfs`
/// writes the label through another node (the partition's, or its dm-crypt mapping's) whose
/// writes this node's cache does not see. None when unreadable or not a label.
pub fn read_at(path: &std::path::Path, offset: u64) -> Option<BluestoreLabel> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).ok()?;
    let _ = cephboot_ffi::blockdev::drop_cached_pages(&f);
    let mut buf = vec![0u8; 4096];
    f.read_exact_at(&mut buf, offset).ok()?;
    parse(&buf)
}

/// Parses the first bytes of a device; `None` when it is not a BlueStore label.
pub fn parse(buf: &[u8]) -> Option<BluestoreLabel> {
    if !buf.starts_with(MAGIC) {
        return None;
    }
    let uuid = buf.get(MAGIC.len()..MAGIC.len() + 36)?;
    let mut label = BluestoreLabel {
        osd_uuid: String::from_utf8_lossy(uuid).into_owned(),
        ..Default::default()
    };
    // Encoded bluestore_bdev_label_t follows at byte 60: struct_v, compat, len, osd_uuid (16),
    // size (8), btime (8), description (string), meta (map<string,string>).
    let mut r = Reader { buf, at: 60 };
    let parsed = (|| {
        r.take(2)?;
        r.u32()?;
        r.take(16 + 8 + 8)?;
        label.description = Some(r.string()?);
        let n = r.u32()?;
        let mut meta = BTreeMap::new();
        for _ in 0..n.min(256) {
            let k = r.string()?;
            let v = r.string()?;
            meta.insert(k, v);
        }
        Some(meta)
    })();
    if let Some(meta) = parsed {
        label.ceph_fsid = meta.get("ceph_fsid").cloned();
        label.whoami = meta.get("whoami").cloned();
        label.has_osd_key = meta.contains_key("osd_key");
    }
    Some(label)
}

/// Offsets at which BlueStore may keep a copy of its label (newer Ceph writes several).
pub const LABEL_OFFSETS: [u64; 5] = [0, 1 << 30, 10 << 30, 100 << 30, 1000 << 30];

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(meta: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(b"0b8e9c1a-54b7-4c39-9d5c-1f0e7c4a9b11\n");
        b.extend_from_slice(&[2, 1]);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(b"main");
        b.extend_from_slice(&u32::try_from(meta.len()).unwrap().to_le_bytes());
        for (k, v) in meta {
            for s in [k, v] {
                b.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
                b.extend_from_slice(s.as_bytes());
            }
        }
        b
    }

    #[test]
    fn reads_fsid_and_whoami() {
        let l = parse(&encode(&[("ceph_fsid", "abc"), ("whoami", "3")])).unwrap();
        assert_eq!(l.osd_uuid, "0b8e9c1a-54b7-4c39-9d5c-1f0e7c4a9b11");
        assert_eq!(l.ceph_fsid.as_deref(), Some("abc"));
        assert_eq!(l.whoami.as_deref(), Some("3"));
        assert_eq!(l.description.as_deref(), Some("main"));
        assert!(!l.has_osd_key);
        assert!(parse(&encode(&[("osd_key", "AQ==")])).unwrap().has_osd_key);
    }

    #[test]
    fn truncated_or_garbage_never_panics() {
        let full = encode(&[("ceph_fsid", "abc")]);
        for n in 0..full.len() {
            let _ = parse(&full[..n]);
        }
        assert_eq!(parse(b"xfs"), None);
        let mut huge = encode(&[]);
        let at = huge.len() - 4;
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge).is_some());
    }
}
