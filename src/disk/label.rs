//! Names as data: GPT partition names (UTF-16LE), filesystem labels (bytes), and the Kolla
//! bootstrap label grammar.
//!
//! A GPT name is 36 UTF-16 code units that may hold unpaired surrogates; a filesystem label is
//! whatever bytes the filesystem stored. Neither is assumed to be ASCII or even valid Unicode:
//! both decode lossily for display and keep their raw form for JSON, and nothing here panics
//! on any input.

use std::fmt::Write as _;

/// Number of UTF-16 code units in a GPT partition name field.
pub const GPT_NAME_UNITS: usize = 36;

/// A GPT partition name as stored: UTF-16 code units up to the first NUL (at most 36).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionName {
    units: Vec<u16>,
}

impl PartitionName {
    /// Decodes the 72-byte on-disk field (UTF-16LE, NUL-terminated unless all 36 units are used).
    /// Shorter input is treated as NUL-padded.
    pub fn from_utf16le(field: &[u8]) -> Self {
        let units = field
            .chunks_exact(2)
            .take(GPT_NAME_UNITS)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .take_while(|&u| u != 0)
            .collect();
        PartitionName { units }
    }

    /// Encodes `name` for writing, refusing names that do not fit 36 UTF-16 units (instead of
    /// silently truncating and maybe splitting a surrogate pair) or contain NUL.
    pub fn encode(name: &str) -> Result<Self, String> {
        let units: Vec<u16> = name.encode_utf16().collect();
        if units.len() > GPT_NAME_UNITS {
            return Err(format!(
                "partition name {name:?} is {} UTF-16 units long; GPT allows {GPT_NAME_UNITS}",
                units.len()
            ));
        }
        if units.contains(&0) {
            return Err(format!("partition name {name:?} contains a NUL character"));
        }
        Ok(PartitionName { units })
    }

    /// The code units (no NUL terminator).
    pub fn units(&self) -> &[u16] {
        &self.units
    }

    /// True when the name holds no characters.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The name for people: valid UTF-16 decoded, each unpaired surrogate shown as U+FFFD.
    pub fn to_lossy(&self) -> String {
        String::from_utf16_lossy(&self.units)
    }

    /// The exact name when it is valid UTF-16, `None` when it holds an unpaired surrogate.
    pub fn to_exact(&self) -> Option<String> {
        String::from_utf16(&self.units).ok()
    }

    /// The raw field as hex of the UTF-16LE bytes (up to the NUL), for JSON consumers that
    /// need the exact bytes.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(self.units.len() * 4);
        for u in &self.units {
            for b in u.to_le_bytes() {
                let _ = write!(s, "{b:02x}");
            }
        }
        s
    }
}

/// A filesystem label as stored: arbitrary bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsLabel {
    bytes: Vec<u8>,
}

impl FsLabel {
    /// Wraps raw label bytes (trailing NUL padding removed).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut bytes = bytes.to_vec();
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        FsLabel { bytes }
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The exact label when it is valid UTF-8.
    pub fn to_exact(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// The label for people: the text when the label is valid UTF-8; otherwise ASCII with
    /// every other byte as a visible `\xNN` (a label in a legacy code page is not guessed at,
    /// so no mojibake). Control characters are escaped too, so a label cannot drive the
    /// terminal.
    pub fn to_display(&self) -> String {
        let mut out = String::new();
        match std::str::from_utf8(&self.bytes) {
            Ok(text) => {
                for c in text.chars() {
                    if c.is_control() {
                        let _ = write!(out, "\\x{:02x}", u32::from(c));
                    } else if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
            }
            Err(_) => {
                for &b in &self.bytes {
                    if b.is_ascii_graphic() || b == b' ' {
                        if b == b'\\' {
                            out.push('\\');
                        }
                        out.push(char::from(b));
                    } else {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
        }
        out
    }

    /// The raw bytes as hex, for JSON.
    pub fn to_hex(&self) -> String {
        self.bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// Which object store an OSD uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// BlueStore: raw block device, optional block.db and block.wal.
    Bluestore,
    /// FileStore: xfs data partition plus a journal.
    Filestore,
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Store::Bluestore => "bluestore",
            Store::Filestore => "filestore",
        })
    }
}

/// What one partition (or labelled whole device) is for, within one OSD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// FileStore data (xfs), journal colocated unless a `_J` partner exists.
    FilestoreData,
    /// FileStore external journal (`_J`).
    FilestoreJournal,
    /// BlueStore main device (metadata + block unless a `_B` partner exists).
    Bluestore,
    /// BlueStore external block device (`_B`).
    BluestoreBlock,
    /// BlueStore block.db (`_D`).
    BluestoreDb,
    /// BlueStore block.wal (`_W`).
    BluestoreWal,
}

impl Role {
    /// The object store this role belongs to.
    pub fn store(self) -> Store {
        match self {
            Role::FilestoreData | Role::FilestoreJournal => Store::Filestore,
            _ => Store::Bluestore,
        }
    }

    /// True for the partition that carries an OSD's identity (data / main device).
    pub fn is_primary(self) -> bool {
        matches!(self, Role::FilestoreData | Role::Bluestore)
    }

    fn suffix(self) -> &'static str {
        match self {
            Role::FilestoreData | Role::Bluestore => "",
            Role::FilestoreJournal => "_J",
            Role::BluestoreBlock => "_B",
            Role::BluestoreDb => "_D",
            Role::BluestoreWal => "_W",
        }
    }

    /// Name as used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::FilestoreData => "filestore-data",
            Role::FilestoreJournal => "filestore-journal",
            Role::Bluestore => "bluestore",
            Role::BluestoreBlock => "bluestore-block",
            Role::BluestoreDb => "bluestore-db",
            Role::BluestoreWal => "bluestore-wal",
        }
    }
}

/// A name that matched the label grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// `<P>_OSD_BOOTSTRAP[_BS][_<G>][_J|_B|_D|_W]`: waiting to be prepared.
    Bootstrap {
        /// The partition's role.
        role: Role,
        /// The group token `<G>` tying partitions of one OSD together, if any.
        group: Option<String>,
    },
    /// `<P>_DATA[_BS]_<id>[_J|_B|_D|_W]`: prepared as OSD `id`.
    Prepared {
        /// The partition's role.
        role: Role,
        /// The OSD id.
        osd_id: u32,
    },
}

/// The label prefix and grammar (default prefix `KOLLA_CEPH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelGrammar {
    prefix: String,
}

impl Default for LabelGrammar {
    fn default() -> Self {
        LabelGrammar {
            prefix: "KOLLA_CEPH".into(),
        }
    }
}

/// A group token: letters, digits and `-`, no `_` (which separates the suffix).
fn is_group_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl LabelGrammar {
    /// A grammar with a site-specific prefix (letters, digits, `_`, `-`; not empty).
    pub fn new(prefix: &str) -> Result<Self, String> {
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "label prefix {prefix:?} must be non-empty ASCII letters, digits, '_' or '-'"
            ));
        }
        Ok(LabelGrammar {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix (e.g. `KOLLA_CEPH`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Parses a decoded name; `None` when it is not a cephboot/Kolla label.
    pub fn parse(&self, name: &str) -> Option<Label> {
        let rest = name.strip_prefix(self.prefix.as_str())?;
        if let Some(rest) = rest.strip_prefix("_OSD_BOOTSTRAP") {
            return parse_bootstrap(rest);
        }
        if let Some(rest) = rest.strip_prefix("_DATA_") {
            return parse_prepared(rest);
        }
        None
    }

    /// True for names that start like a label of this grammar but do not parse: a typo an
    /// operator should be told about rather than a silent "no disks".
    pub fn is_near_miss(&self, name: &str) -> bool {
        if self.parse(name).is_some() {
            return false;
        }
        let upper = name.trim().to_ascii_uppercase();
        let p = self.prefix.to_ascii_uppercase();
        upper.starts_with(&format!("{p}_OSD")) || upper.starts_with(&format!("{p}_DATA"))
    }

    /// The bootstrap label for `role` in `group` (e.g. `KOLLA_CEPH_OSD_BOOTSTRAP_BS_1_D`).
    pub fn bootstrap(&self, role: Role, group: Option<&str>) -> String {
        let mut s = format!("{}_OSD_BOOTSTRAP", self.prefix);
        if role.store() == Store::Bluestore {
            s.push_str("_BS");
        }
        if let Some(g) = group {
            s.push('_');
            s.push_str(g);
        }
        s.push_str(role.suffix());
        s
    }

    /// The prepared label for `role` of OSD `osd_id` (e.g. `KOLLA_CEPH_DATA_BS_3_W`).
    pub fn prepared(&self, role: Role, osd_id: u32) -> String {
        let bs = if role.store() == Store::Bluestore {
            "BS_"
        } else {
            ""
        };
        format!("{}_DATA_{bs}{osd_id}{}", self.prefix, role.suffix())
    }
}

fn split_suffix(rest: &str) -> (&str, Option<char>) {
    for s in ['J', 'B', 'D', 'W'] {
        if let Some(base) = rest.strip_suffix(&format!("_{s}")[..]) {
            return (base, Some(s));
        }
    }
    (rest, None)
}

fn parse_bootstrap(rest: &str) -> Option<Label> {
    // rest is "" | "_<G>" | "_<G>_J" | "_BS" | "_BS_<G>" | "_BS_<G>_{B,D,W}"
    if rest.is_empty() {
        return Some(Label::Bootstrap {
            role: Role::FilestoreData,
            group: None,
        });
    }
    let rest = rest.strip_prefix('_')?;
    if rest == "BS" {
        return Some(Label::Bootstrap {
            role: Role::Bluestore,
            group: None,
        });
    }
    if let Some(bs) = rest.strip_prefix("BS_") {
        let (group, suffix) = split_suffix(bs);
        let role = match suffix {
            None => Role::Bluestore,
            Some('B') => Role::BluestoreBlock,
            Some('D') => Role::BluestoreDb,
            Some('W') => Role::BluestoreWal,
            Some(_) => return None,
        };
        return is_group_token(group).then(|| Label::Bootstrap {
            role,
            group: Some(group.to_string()),
        });
    }
    let (group, suffix) = split_suffix(rest);
    let role = match suffix {
        None => Role::FilestoreData,
        Some('J') => Role::FilestoreJournal,
        Some(_) => return None,
    };
    (is_group_token(group) && group != "BS").then(|| Label::Bootstrap {
        role,
        group: Some(group.to_string()),
    })
}

fn parse_prepared(rest: &str) -> Option<Label> {
    let (bluestore, rest) = match rest.strip_prefix("BS_") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (id, suffix) = split_suffix(rest);
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let osd_id: u32 = id.parse().ok()?;
    let role = match (bluestore, suffix) {
        (false, None) => Role::FilestoreData,
        (false, Some('J')) => Role::FilestoreJournal,
        (true, None) => Role::Bluestore,
        (true, Some('B')) => Role::BluestoreBlock,
        (true, Some('D')) => Role::BluestoreDb,
        (true, Some('W')) => Role::BluestoreWal,
        _ => return None,
    };
    Some(Label::Prepared { role, osd_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn gpt_name_stops_at_first_nul_and_at_36_units() {
        let mut field = utf16le("data");
        field.extend([0, 0]);
        field.extend(utf16le("garbage"));
        assert_eq!(PartitionName::from_utf16le(&field).to_lossy(), "data");
        let long = utf16le(&"x".repeat(40));
        assert_eq!(PartitionName::from_utf16le(&long).units().len(), 36);
    }

    #[test]
    fn gpt_name_with_unpaired_surrogate_is_lossy_not_a_panic() {
        let mut field = utf16le("ab");
        field.extend(0xD800u16.to_le_bytes());
        field.extend(utf16le("c"));
        let n = PartitionName::from_utf16le(&field);
        assert_eq!(n.to_lossy(), "ab\u{FFFD}c");
        assert_eq!(n.to_exact(), None);
        assert_eq!(n.to_hex(), "6100620000d86300");
    }

    #[test]
    fn gpt_name_odd_length_and_empty_input() {
        assert!(PartitionName::from_utf16le(&[]).is_empty());
        assert_eq!(
            PartitionName::from_utf16le(&[0x41, 0, 0x42]).to_lossy(),
            "A"
        );
    }

    #[test]
    fn chinese_and_emoji_names_roundtrip() {
        for s in ["新加卷", "disk 🚀 one/two", "𝄞"] {
            let n = PartitionName::from_utf16le(&utf16le(s));
            assert_eq!(n.to_exact().as_deref(), Some(s));
        }
    }

    #[test]
    fn encode_refuses_names_that_do_not_fit() {
        assert!(PartitionName::encode(&"a".repeat(36)).is_ok());
        assert!(PartitionName::encode(&"a".repeat(37)).is_err());
        // 18 emoji = 36 units fits; 35 ASCII + one emoji (2 units) = 37 does not, and would
        // otherwise be cut in the middle of the surrogate pair.
        assert!(PartitionName::encode(&"🚀".repeat(18)).is_ok());
        let split = format!("{}🚀", "a".repeat(35));
        assert!(PartitionName::encode(&split).is_err());
        assert!(PartitionName::encode("a\0b").is_err());
    }

    #[test]
    fn fs_label_bytes_display_escaped() {
        let gbk = [0xd0u8, 0xc2, 0xbc, 0xd3, 0xbe, 0xed]; // 新加卷 in GBK, not UTF-8
        let l = FsLabel::from_bytes(&gbk);
        assert_eq!(l.to_exact(), None);
        assert_eq!(l.to_display(), "\\xd0\\xc2\\xbc\\xd3\\xbe\\xed");
        let utf8 = FsLabel::from_bytes("新加卷\0\0".as_bytes());
        assert_eq!(utf8.to_display(), "新加卷");
        assert_eq!(FsLabel::from_bytes(b"a\x1b[2Jb").to_display(), "a\\x1b[2Jb");
    }

    #[test]
    fn grammar_parses_every_kolla_form() {
        let g = LabelGrammar::default();
        let b = |role, group: Option<&str>| Label::Bootstrap {
            role,
            group: group.map(String::from),
        };
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP"),
            Some(b(Role::FilestoreData, None))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_1"),
            Some(b(Role::FilestoreData, Some("1")))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_1_J"),
            Some(b(Role::FilestoreJournal, Some("1")))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_BS"),
            Some(b(Role::Bluestore, None))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_BS_FOO1"),
            Some(b(Role::Bluestore, Some("FOO1")))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_BS_FOO1_B"),
            Some(b(Role::BluestoreBlock, Some("FOO1")))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_BS_2_D"),
            Some(b(Role::BluestoreDb, Some("2")))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_OSD_BOOTSTRAP_BS_2_W"),
            Some(b(Role::BluestoreWal, Some("2")))
        );
        let p = |role, osd_id| Label::Prepared { role, osd_id };
        assert_eq!(
            g.parse("KOLLA_CEPH_DATA_3"),
            Some(p(Role::FilestoreData, 3))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_DATA_3_J"),
            Some(p(Role::FilestoreJournal, 3))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_DATA_BS_12"),
            Some(p(Role::Bluestore, 12))
        );
        assert_eq!(
            g.parse("KOLLA_CEPH_DATA_BS_12_W"),
            Some(p(Role::BluestoreWal, 12))
        );
    }

    #[test]
    fn grammar_rejects_near_misses_and_reports_them() {
        let g = LabelGrammar::default();
        for bad in [
            "KOLLA_CEPH_OSD_BOOTSTRAP_",
            "KOLLA_CEPH_OSD_BOOTSTRAP_1_D", // _D is bluestore-only
            "KOLLA_CEPH_OSD_BOOTSTRAP_BS_1_J",
            "KOLLA_CEPH_OSD_BOOTSTRAP_BS_",
            "KOLLA_CEPH_DATA_BS_x",
            "KOLLA_CEPH_DATA_99999999999",
            "kolla_ceph_osd_bootstrap",
        ] {
            assert_eq!(g.parse(bad), None, "{bad}");
            assert!(g.is_near_miss(bad), "{bad}");
        }
        assert!(!g.is_near_miss("新加卷"));
        assert!(!g.is_near_miss("EFI System"));
    }

    #[test]
    fn custom_prefix_and_formatting_roundtrip() {
        let g = LabelGrammar::new("SITE").unwrap();
        assert_eq!(g.parse("KOLLA_CEPH_OSD_BOOTSTRAP"), None);
        for role in [
            Role::Bluestore,
            Role::BluestoreDb,
            Role::FilestoreData,
            Role::FilestoreJournal,
        ] {
            let name = g.bootstrap(role, Some("7"));
            assert_eq!(
                g.parse(&name),
                Some(Label::Bootstrap {
                    role,
                    group: Some("7".into())
                })
            );
            let name = g.prepared(role, 41);
            assert_eq!(g.parse(&name), Some(Label::Prepared { role, osd_id: 41 }));
        }
        assert!(LabelGrammar::new("").is_err());
        assert!(LabelGrammar::new("A B").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let g = LabelGrammar::default();
        let mut seed = 0x1234_5678u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16).to_le_bytes()[0]
                })
                .collect();
            let n = PartitionName::from_utf16le(&bytes);
            let _ = g.parse(&n.to_lossy());
            let l = FsLabel::from_bytes(&bytes);
            let _ = g.parse(&l.to_display());
        }
    }
}
