//! The `disks list` JSON contract (docs/json.md): one flat record per device.

use serde::Serialize;

use super::classify::{Classified, State};
use super::inventory::{DeviceKind, TableInfo};
use super::label::{FsLabel, Role};
use super::types;
use crate::disk::gpt::HeaderUsed;

/// One signature as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// `xfs`, `ntfs`, `gpt`, `PMBR`, `LVM2_member`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `filesystem`, `raid`, `crypto`, `other`, `partition_table`.
    pub usage: String,
    /// Byte offset of its magic.
    pub offset: Option<u64>,
}

/// One device in `disks list`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    /// Device node.
    pub path: String,
    /// `disk` or `partition`.
    pub kind: DeviceKind,
    /// Parent disk node.
    pub parent: Option<String>,
    /// Partition number.
    pub partition_number: Option<u32>,
    /// GPT name, decoded (unpaired surrogates as U+FFFD).
    pub partition_name: Option<String>,
    /// GPT name as hex of its UTF-16LE bytes (exact).
    pub partition_name_utf16le: Option<String>,
    /// PARTUUID.
    pub partition_uuid: Option<String>,
    /// Partition type GUID.
    pub type_guid: Option<String>,
    /// Known name of the type GUID (`ceph-block`, `linux-data`, ...).
    pub type_name: Option<&'static str>,
    /// First filesystem-like signature.
    pub fs_type: Option<String>,
    /// Its label: UTF-8 where valid, `\xNN` escapes elsewhere.
    pub fs_label: Option<String>,
    /// The label's bytes exactly as stored on disk, as hex (UTF-16LE for NTFS).
    pub fs_label_raw_hex: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Offset in the parent (partitions).
    pub start_bytes: Option<u64>,
    /// `gpt`, `gpt-backup`, `mbr`, `none`, `corrupt` (disks).
    pub table: Option<&'static str>,
    /// Whether the kernel has a node for the partition.
    pub in_kernel: bool,
    /// Read-only.
    pub read_only: bool,
    /// Rotational (disks).
    pub rotational: Option<bool>,
    /// Mount points.
    pub mountpoints: Vec<String>,
    /// Holders.
    pub holders: Vec<String>,
    /// Every signature found.
    pub signatures: Vec<SignatureReport>,
    /// `free`, `bootstrap`, `prepared`, `in_use`, `foreign`, `error`.
    pub state: State,
    /// Role within an OSD.
    pub role: Option<&'static str>,
    /// OSD group.
    pub group: Option<String>,
    /// OSD id.
    pub osd_id: Option<u32>,
    /// Whether a bootstrap device can be prepared as it is.
    pub ready: bool,
    /// Why.
    pub reasons: Vec<String>,
}

impl DeviceReport {
    /// Builds the record for one classified device.
    pub fn new(c: &Classified<'_>) -> Self {
        let (d, v) = (c.device, &c.verdict);
        let fs = d.filesystem();
        let label = fs
            .and_then(|s| s.label.as_deref().or(s.label_raw.as_deref()))
            .map(FsLabel::from_bytes);
        let label_raw = fs
            .and_then(|s| s.label_raw.as_deref())
            .map(FsLabel::from_bytes);
        DeviceReport {
            path: d.path.display().to_string(),
            kind: d.kind,
            parent: d.parent.as_ref().map(|p| p.display().to_string()),
            partition_number: d.partition_number,
            partition_name: d.gpt.as_ref().map(|g| g.name.to_lossy()),
            partition_name_utf16le: d.gpt.as_ref().map(|g| g.name.to_hex()),
            partition_uuid: d.gpt.as_ref().map(|g| g.unique_guid.to_string()),
            type_guid: d.gpt.as_ref().map(|g| g.type_guid.to_string()),
            type_name: d.gpt.as_ref().and_then(|g| types::name_of(&g.type_guid)),
            fs_type: fs.map(|s| s.kind.clone()),
            fs_label: label.as_ref().map(FsLabel::to_display),
            fs_label_raw_hex: label_raw.as_ref().map(FsLabel::to_hex),
            size_bytes: d.size_bytes,
            start_bytes: d.start_bytes,
            table: d.table.as_ref().map(|t| match t {
                TableInfo::None => "none",
                TableInfo::Gpt {
                    header_used: HeaderUsed::Primary,
                    ..
                } => "gpt",
                TableInfo::Gpt {
                    header_used: HeaderUsed::Backup,
                    ..
                } => "gpt-backup",
                TableInfo::Mbr => "mbr",
                TableInfo::Corrupt(_) => "corrupt",
            }),
            in_kernel: d.in_kernel,
            read_only: d.read_only,
            rotational: d.rotational,
            mountpoints: d.mountpoints.clone(),
            holders: d.holders.clone(),
            signatures: d
                .signatures
                .iter()
                .map(|s| SignatureReport {
                    kind: s.kind.clone(),
                    usage: s.usage.clone(),
                    offset: s.magic_offset,
                })
                .collect(),
            state: v.state(),
            role: v.role().map(Role::as_str),
            group: v.group(),
            osd_id: v.osd_id(),
            ready: c.ready(),
            reasons: v.reasons(),
        }
    }
}
