//! OSDs `ceph-disk prepare` made (Ceph up to Mimic; ceph-volume's `simple` mode took them over):
//! a data partition of Ceph's OSD type (`4fbd7e29-9d25-41b8-afd0-062c0ceff05d`, named
//! `ceph data`) holding an xfs OSD directory (`whoami`, `fsid`, `ceph_fsid`, `type`), and its
//! partners found by the PARTUUIDs that directory records: a FileStore journal
//! (`journal_uuid`), a BlueStore block (`block_uuid`) and its `block.db_uuid` /
//! `block.wal_uuid`. The directory is read without writing it (crate::osd::xfs_dir), only
//! for partitions of that type named `ceph data` that no label of the grammar claims (Kolla
//! uses the same type code with its own names). Encrypted ceph-disk OSDs (other type codes, keys in the
//! monitors' `dm-crypt/osd/<uuid>/luks` under a different lockbox) are not recognised.
//!
//! They start as the other kinds do (crate::osd::activate): FileStore by mounting the data
//! partition as cephboot's OSD directory (its `journal` link left as it is when it already
//! leads to the journal partition), BlueStore primed from the block's label with the key
//! read from the xfs (crate::osd::kolla).

use std::collections::BTreeMap;
use std::path::Path;

use super::activate::FoundOsd;
use crate::disk::inventory::{Device, DeviceKind, Snapshot};
use crate::disk::label::{Role, Store};

/// Ceph's OSD data partition type (ceph-disk, and Kolla's partitions).
pub const DATA_TYPE: uuid::Uuid = uuid::uuid!("4fbd7e29-9d25-41b8-afd0-062c0ceff05d");

/// The name ceph-disk gives a data partition. Only partitions of that name are read: a
/// partition of the same type under another name (Kolla's, cephboot's under another label
/// prefix, one being prepared) is never mounted for a look.
pub const DATA_NAME: &str = "ceph data";

/// The files of a ceph-disk OSD directory cephboot reads.
pub const FILES: [&str; 8] = [
    "whoami",
    "fsid",
    "ceph_fsid",
    "type",
    "journal_uuid",
    "block_uuid",
    "block.db_uuid",
    "block.wal_uuid",
];

/// What a ceph-disk OSD directory says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// `whoami`.
    pub osd_id: u32,
    /// `fsid` (the OSD's uuid).
    pub osd_uuid: String,
    /// `ceph_fsid`.
    pub cluster_fsid: Option<String>,
    /// `type`.
    pub store: Store,
    /// Partners by role, as PARTUUIDs.
    pub partners: Vec<(Role, String)>,
}

/// The directory's files read (pure): None unless `whoami` is an id, `fsid` present and
/// `type` one of filestore, bluestore.
pub fn parse(files: &BTreeMap<String, Vec<u8>>) -> Option<DataDir> {
    let text = |n: &str| super::xfs_dir::text(files, n);
    let store = match text("type")?.as_str() {
        "filestore" => Store::Filestore,
        "bluestore" => Store::Bluestore,
        _ => return None,
    };
    let roles: &[(Role, &str)] = match store {
        Store::Filestore => &[(Role::FilestoreJournal, "journal_uuid")],
        Store::Bluestore => &[
            (Role::BluestoreBlock, "block_uuid"),
            (Role::BluestoreDb, "block.db_uuid"),
            (Role::BluestoreWal, "block.wal_uuid"),
        ],
    };
    Some(DataDir {
        osd_id: text("whoami")?.parse().ok()?,
        osd_uuid: text("fsid")?.to_ascii_lowercase(),
        cluster_fsid: text("ceph_fsid").map(|f| f.to_ascii_lowercase()),
        store,
        partners: roles
            .iter()
            .filter_map(|(r, f)| Some((*r, text(f)?.to_ascii_lowercase())))
            .collect(),
    })
}

/// The OSD a directory makes with its data partition and the partners `by_partuuid` finds
/// (pure).
pub fn osd_of(
    dir: &DataDir,
    data: &Device,
    by_partuuid: &dyn Fn(&str) -> Option<Device>,
) -> FoundOsd {
    let main_role = match dir.store {
        Store::Filestore => Role::FilestoreData,
        Store::Bluestore => Role::Bluestore,
    };
    let mut o = FoundOsd::ceph_disk(
        dir.osd_id,
        dir.store,
        &dir.osd_uuid,
        dir.cluster_fsid.as_deref(),
        main_role,
        data,
    );
    for (role, partuuid) in &dir.partners {
        if let Some(d) = by_partuuid(partuuid) {
            o.add_raw_partner(&d, *role);
        }
    }
    o
}

/// The ceph-disk OSDs of cluster `fsid` (when known) on this host: data partitions of Ceph's
/// OSD type named `ceph data` with an xfs that no OSD in `found` claims; one whose directory
/// cannot be read is logged and left out, another cluster's too (as ceph-volume's are: an id
/// of another cluster would otherwise stand against this cluster's OSD of the same id).
pub fn find(snapshot: &Snapshot, found: &[FoundOsd], fsid: Option<&str>) -> Vec<FoundOsd> {
    let candidates = snapshot.devices.iter().filter(|d| {
        d.kind == DeviceKind::Partition
            && d.gpt.as_ref().is_some_and(|g| {
                g.type_guid == DATA_TYPE && g.name.to_exact().as_deref() == Some(DATA_NAME)
            })
            && d.signatures.iter().any(|s| s.kind == "xfs")
            && !found.iter().any(|o| o.has_member(&d.path))
    });
    let by_partuuid = |u: &str| -> Option<Device> {
        let u = uuid::Uuid::parse_str(u).ok()?;
        snapshot
            .devices
            .iter()
            .find(|d| d.gpt.as_ref().is_some_and(|g| g.unique_guid == u))
            .cloned()
    };
    let mut out = Vec::new();
    for d in candidates {
        match super::xfs_dir::read_files(d, &FILES) {
            Ok(files) => match parse(&files) {
                Some(dir) if !of_cluster(&dir, fsid) => {
                    tracing::info!(device = %d.path.display(), cluster = ?dir.cluster_fsid, "a ceph-disk OSD of another cluster")
                }
                Some(dir) => out.push(osd_of(&dir, d, &by_partuuid)),
                None => {
                    tracing::info!(device = %d.path.display(), "an xfs of Ceph's OSD type without a ceph-disk OSD directory")
                }
            },
            Err(e) => {
                tracing::warn!(device = %d.path.display(), error = %e, "could not read a ceph-disk data partition")
            }
        }
    }
    out
}

/// Whether a directory belongs to cluster `fsid` (pure): yes when either is unknown.
pub fn of_cluster(dir: &DataDir, fsid: Option<&str>) -> bool {
    match (&dir.cluster_fsid, fsid) {
        (Some(theirs), Some(ours)) => theirs.eq_ignore_ascii_case(ours),
        _ => true,
    }
}

/// Whether `dir`'s `journal` link already leads to `journal` (a ceph-disk directory links
/// `/dev/disk/by-partuuid/…`, which resolves where udev runs): then it is left as it is.
pub fn journal_link_holds(dir: &Path, journal: &Path) -> bool {
    match (
        std::fs::canonicalize(dir.join("journal")),
        std::fs::canonicalize(journal),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_directory_says_its_id_uuid_cluster_store_and_partners() {
        let fs = parse(&files(&[
            ("whoami", "7\n"),
            ("fsid", "AAAA0000-0000-0000-0000-000000000001\n"),
            ("ceph_fsid", "ffff0000-0000-0000-0000-00000000000f\n"),
            ("type", "filestore\n"),
            ("journal_uuid", "bbbb0000-0000-0000-0000-000000000002\n"),
            ("block_uuid", "not read for filestore"),
        ]))
        .unwrap();
        assert_eq!(fs.osd_id, 7);
        assert_eq!(fs.osd_uuid, "aaaa0000-0000-0000-0000-000000000001");
        assert_eq!(fs.store, Store::Filestore);
        assert_eq!(
            fs.partners,
            [(
                Role::FilestoreJournal,
                "bbbb0000-0000-0000-0000-000000000002".to_string()
            )]
        );
        let bs = parse(&files(&[
            ("whoami", "3"),
            ("fsid", "u"),
            ("type", "bluestore"),
            ("block_uuid", "b"),
            ("block.db_uuid", "d"),
        ]))
        .unwrap();
        assert_eq!(bs.cluster_fsid, None);
        assert!(of_cluster(
            &fs,
            Some("FFFF0000-0000-0000-0000-00000000000F")
        ));
        assert!(!of_cluster(
            &fs,
            Some("ffff0000-0000-0000-0000-0000000000ff")
        ));
        assert!(of_cluster(&bs, Some("anything")) && of_cluster(&fs, None));
        assert_eq!(
            bs.partners,
            [
                (Role::BluestoreBlock, "b".to_string()),
                (Role::BluestoreDb, "d".to_string())
            ]
        );
        for bad in [
            files(&[("whoami", "x"), ("fsid", "u"), ("type", "bluestore")]),
            files(&[("whoami", "1"), ("type", "bluestore")]),
            files(&[("whoami", "1"), ("fsid", "u"), ("type", "seastore")]),
            files(&[("whoami", "1"), ("fsid", "u"), ("type", "\u{0}\u{ff}")]),
        ] {
            assert_eq!(parse(&bad), None, "{bad:?}");
        }
    }
}
