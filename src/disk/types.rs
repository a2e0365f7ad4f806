//! Partition type GUIDs: Ceph's standard ones (what ceph-disk, ceph-volume and Kolla use) and
//! the "being prepared" types cephboot writes first, so an interrupted preparation is
//! recognisable by the next run. The data one is ceph-disk's own "to be" GUID; the others are
//! cephboot's (docs/labels.md lists them all).

use uuid::{uuid, Uuid};

use super::label::Role;

/// Ceph OSD data (filestore data / bluestore metadata).
pub const CEPH_DATA: Uuid = uuid!("4fbd7e29-9d25-41b8-afd0-062c0ceff05d");
/// Ceph journal.
pub const CEPH_JOURNAL: Uuid = uuid!("45b0969e-9b03-4f30-b4c6-b4b80ceff106");
/// Ceph BlueStore block.
pub const CEPH_BLOCK: Uuid = uuid!("cafecafe-9b03-4f30-b4c6-b4b80ceff106");
/// Ceph BlueStore block.db.
pub const CEPH_BLOCK_DB: Uuid = uuid!("30cd0809-c2b2-499c-8879-2d6b78529876");
/// Ceph BlueStore block.wal.
pub const CEPH_BLOCK_WAL: Uuid = uuid!("5ce17fce-4087-4169-b7ff-056cc58473f9");
/// Data, being prepared (ceph-disk's "to be" OSD type).
pub const CEPH_DATA_PREPARING: Uuid = uuid!("89c57f98-2fe5-4dc0-89c1-f3ad0ceff2be");
/// Journal, being prepared (cephboot).
pub const CEPH_JOURNAL_PREPARING: Uuid = uuid!("45b0969e-9b03-4f30-b4c6-35865ceff106");
/// Block, being prepared (cephboot).
pub const CEPH_BLOCK_PREPARING: Uuid = uuid!("cafecafe-9b03-4f30-b4c6-35865ceff106");
/// block.db, being prepared (cephboot).
pub const CEPH_BLOCK_DB_PREPARING: Uuid = uuid!("7fc63c31-3c97-4a16-a3c5-bbe24ad84c07");
/// block.wal, being prepared (cephboot).
pub const CEPH_BLOCK_WAL_PREPARING: Uuid = uuid!("01b41e1b-002a-453c-9f17-88793989ff8f");
/// Linux filesystem data.
pub const LINUX_DATA: Uuid = uuid!("0fc63daf-8483-4772-8e79-3d69d8477de4");

/// The final type GUID for a role.
///
/// A bluestore main partition is the block device itself (cephboot keeps the OSD's metadata
/// in the BlueStore label, as `ceph-volume raw` does, instead of a separate 100 MB xfs
/// partition), so it is typed `ceph-block`.
pub fn final_type(role: Role) -> Uuid {
    match role {
        Role::FilestoreData => CEPH_DATA,
        Role::FilestoreJournal => CEPH_JOURNAL,
        Role::Bluestore | Role::BluestoreBlock => CEPH_BLOCK,
        Role::BluestoreDb => CEPH_BLOCK_DB,
        Role::BluestoreWal => CEPH_BLOCK_WAL,
    }
}

/// The "being prepared" type GUID for a role.
pub fn preparing_type(role: Role) -> Uuid {
    match role {
        Role::FilestoreData => CEPH_DATA_PREPARING,
        Role::FilestoreJournal => CEPH_JOURNAL_PREPARING,
        Role::Bluestore | Role::BluestoreBlock => CEPH_BLOCK_PREPARING,
        Role::BluestoreDb => CEPH_BLOCK_DB_PREPARING,
        Role::BluestoreWal => CEPH_BLOCK_WAL_PREPARING,
    }
}

/// A short name for a known type GUID.
pub fn name_of(t: &Uuid) -> Option<&'static str> {
    Some(match *t {
        CEPH_DATA => "ceph-data",
        CEPH_JOURNAL => "ceph-journal",
        CEPH_BLOCK => "ceph-block",
        CEPH_BLOCK_DB => "ceph-block-db",
        CEPH_BLOCK_WAL => "ceph-block-wal",
        CEPH_DATA_PREPARING => "ceph-data-preparing",
        CEPH_JOURNAL_PREPARING => "ceph-journal-preparing",
        CEPH_BLOCK_PREPARING => "ceph-block-preparing",
        CEPH_BLOCK_DB_PREPARING => "ceph-block-db-preparing",
        CEPH_BLOCK_WAL_PREPARING => "ceph-block-wal-preparing",
        LINUX_DATA => "linux-data",
        _ => return None,
    })
}

/// True for any "being prepared" type.
pub fn is_preparing(t: &Uuid) -> bool {
    name_of(t).is_some_and(|n| n.ends_with("-preparing"))
}
