//! OSDs that `ceph-volume lvm prepare` made: logical volumes whose LVM tags say what they are
//! (`ceph.osd_id`, `ceph.osd_fsid`, `ceph.cluster_fsid`, `ceph.type` = block, db or wal,
//! `ceph.encrypted`). The tags are read the way ceph-volume reads them, with one `lvs` for the
//! whole host, and only when a device of the host carries an LVM physical-volume signature (a
//! host without LVM runs nothing). An encrypted volume is opened as ceph-volume opens it:
//! `/dev/mapper/<the LV's uuid>` (`ceph.block_uuid`, `ceph.db_uuid`, `ceph.wal_uuid`), under
//! the key its lockbox reads from the monitors (crate::crypt::custody); then the OSD starts
//! as a raw one does (prime-osd-dir from the block's label, links), nothing on the volumes
//! rewritten (docs/adopt.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::activate::FoundOsd;
use crate::disk::inventory::{Device, Snapshot};
use crate::disk::label::Role;

/// One logical volume as `lvs` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// `/dev/VG/LV`.
    pub lv_path: PathBuf,
    /// The LV's uuid (ceph-volume names an encrypted LV's mapping after it).
    pub lv_uuid: String,
    /// Its `ceph.*` tags, without the `ceph.` prefix.
    pub tags: BTreeMap<String, String>,
}

/// The volumes of `lvs --reportformat json -o lv_path,lv_uuid,lv_tags` (pure); anything that
/// does not parse is left out.
pub fn parse_lvs(json: &[u8]) -> Vec<Volume> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let lvs = v
        .get("report")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("lv").and_then(|l| l.as_array()))
        .flatten();
    lvs.filter_map(|lv| {
        let field = |k: &str| lv.get(k).and_then(|x| x.as_str()).unwrap_or("");
        let tags = ceph_tags(field("lv_tags"));
        let path = field("lv_path");
        (!path.is_empty() && !tags.is_empty()).then(|| Volume {
            lv_path: PathBuf::from(path),
            lv_uuid: field("lv_uuid").to_string(),
            tags,
        })
    })
    .collect()
}

/// A volume's `ceph.*` tags from `lvs`' comma-separated `lv_tags`, without the prefix (pure).
pub fn ceph_tags(lv_tags: &str) -> BTreeMap<String, String> {
    lv_tags
        .split(',')
        .filter_map(|t| t.strip_prefix("ceph."))
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The OSDs these volumes make (pure): one per `ceph.type=block` volume with a numeric
/// `ceph.osd_id` of cluster `fsid` (when known), its db and wal the volumes tagged with the
/// same `ceph.osd_fsid`. `device_of` gives the host's device of a volume path (the `dm-N` it
/// resolves to), when the inventory has it.
pub fn group(
    volumes: &[Volume],
    fsid: Option<&str>,
    device_of: &dyn Fn(&Path) -> Option<Device>,
) -> Vec<FoundOsd> {
    let mut by_uuid: BTreeMap<&str, FoundOsd> = BTreeMap::new();
    let tag = |v: &'_ Volume, k: &str| v.tags.get(k).cloned().unwrap_or_default();
    let of_cluster = |v: &Volume| {
        fsid.is_none_or(|f| {
            v.tags
                .get("cluster_fsid")
                .is_some_and(|t| t.eq_ignore_ascii_case(f))
        })
    };
    for v in volumes.iter().filter(|v| of_cluster(v)) {
        if v.tags.get("type").map(String::as_str) != Some("block") {
            continue;
        }
        let (Some(uuid), Some(id)) = (
            v.tags.get("osd_fsid"),
            v.tags.get("osd_id").and_then(|i| i.parse::<u32>().ok()),
        ) else {
            continue;
        };
        let mut o = FoundOsd::lvm(
            id,
            uuid,
            &tag(v, "cluster_fsid"),
            tag(v, "encrypted") == "1",
        );
        if o.encrypted {
            o.set_lockbox_secret(&tag(v, "cephx_lockbox_secret"));
        }
        o.add_lvm_volume(Role::Bluestore, v, device_of(&v.lv_path));
        by_uuid.insert(uuid.as_str(), o);
    }
    for v in volumes.iter().filter(|v| of_cluster(v)) {
        let role = match v.tags.get("type").map(String::as_str) {
            Some("db") => Role::BluestoreDb,
            Some("wal") => Role::BluestoreWal,
            _ => continue,
        };
        if let Some(o) = v
            .tags
            .get("osd_fsid")
            .and_then(|u| by_uuid.get_mut(u.as_str()))
        {
            o.add_lvm_volume(role, v, device_of(&v.lv_path));
        }
    }
    let mut out: Vec<FoundOsd> = by_uuid.into_values().collect();
    out.sort_by_key(|o| o.osd_id);
    out
}

/// Whether a device of the host carries an LVM physical-volume signature.
fn has_lvm(snapshot: &Snapshot) -> bool {
    snapshot
        .devices
        .iter()
        .any(|d| d.signatures.iter().any(|s| s.kind == "LVM2_member"))
}

/// The ceph-volume `lvm` OSDs of cluster `fsid` on this host: nothing (and no `lvs` run) on a
/// host without an LVM physical volume; an `lvs` that fails is logged and finds none.
pub fn find(snapshot: &Snapshot, fsid: Option<&str>) -> Vec<FoundOsd> {
    if !has_lvm(snapshot) {
        return Vec::new();
    }
    let out = crate::exec::run(
        "lvs",
        &[
            "--reportformat",
            "json",
            "--readonly",
            "-o",
            "lv_path,lv_uuid,lv_tags",
        ],
        None,
        Duration::from_secs(60),
    );
    match out {
        Ok(o) => {
            let device_of = |p: &Path| -> Option<Device> {
                let real = std::fs::canonicalize(p).ok()?;
                snapshot.devices.iter().find(|d| d.path == real).cloned()
            };
            group(&parse_lvs(&o.stdout), fsid, &device_of)
        }
        Err(e) => {
            tracing::warn!(error = %e, "lvs failed: OSDs on LVM volumes are not listed");
            Vec::new()
        }
    }
}

/// The volumes of these ceph-volume `lvm` OSDs that are not active (no `/dev/VG/LV`) (pure
/// but for the path checks).
pub fn inactive_volumes(osds: &[FoundOsd]) -> Vec<PathBuf> {
    osds.iter()
        .filter(|o| o.origin == super::activate::Origin::CephVolumeLvm)
        .flat_map(|o| o.partitions.values())
        .filter(|p| !p.exists())
        .cloned()
        .collect()
}

/// Activates the inactive volumes of these OSDs (`lvchange -ay`), as LVM's autoactivation
/// does at boot where it runs (ceph-volume relies on it; in the system guest it once left an
/// adopted OSD's block volume inactive). The volumes activated; a failure is logged, and the
/// OSD's start then names the volume it lacks.
pub fn activate_volumes(osds: &[FoundOsd]) -> Vec<PathBuf> {
    let mut activated = Vec::new();
    for lv in inactive_volumes(osds) {
        let path = lv.display().to_string();
        match crate::exec::run("lvchange", &["-ay", &path], None, Duration::from_secs(60)) {
            Ok(_) => {
                tracing::info!(volume = %path, "activated the inactive logical volume");
                activated.push(lv);
            }
            Err(e) => {
                tracing::warn!(volume = %path, error = %e, "could not activate the logical volume")
            }
        }
    }
    activated
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const LVS: &str = r#"{"report":[{"lv":[
      {"lv_path":"/dev/ceph-a/osd-block-1","lv_uuid":"AAAA-1",
       "lv_tags":"ceph.block_device=/dev/ceph-a/osd-block-1,ceph.block_uuid=AAAA-1,ceph.cephx_lockbox_secret=S,ceph.cluster_fsid=F1,ceph.cluster_name=ceph,ceph.crush_device_class=,ceph.db_device=/dev/ceph-b/osd-db-1,ceph.db_uuid=BBBB-1,ceph.encrypted=1,ceph.osd_fsid=u1,ceph.osd_id=4,ceph.type=block,ceph.vdo=0"},
      {"lv_path":"/dev/ceph-b/osd-db-1","lv_uuid":"BBBB-1",
       "lv_tags":"ceph.cluster_fsid=F1,ceph.encrypted=1,ceph.osd_fsid=u1,ceph.osd_id=4,ceph.type=db"},
      {"lv_path":"/dev/ceph-c/osd-block-2","lv_uuid":"CCCC-2",
       "lv_tags":"ceph.cluster_fsid=F2,ceph.osd_fsid=u2,ceph.osd_id=5,ceph.type=block"},
      {"lv_path":"/dev/ceph-d/osd-block-3","lv_uuid":"DDDD-3",
       "lv_tags":"ceph.cluster_fsid=F1,ceph.osd_fsid=u3,ceph.osd_id=six,ceph.type=block"},
      {"lv_path":"/dev/vg0/root","lv_uuid":"RRRR","lv_tags":""}
    ]}]}"#;

    #[test]
    fn volumes_of_this_cluster_make_osds_with_their_db_and_mapping_names() {
        let vols = parse_lvs(LVS.as_bytes());
        assert_eq!(vols.len(), 4, "the untagged root volume is not Ceph's");
        let found = group(&vols, Some("f1"), &|_| None);
        assert_eq!(
            found.len(),
            1,
            "another cluster's and a bad id are left out"
        );
        let o = &found[0];
        assert_eq!(o.osd_id, 4);
        assert_eq!(o.origin, crate::osd::activate::Origin::CephVolumeLvm);
        assert!(o.encrypted);
        assert_eq!(o.osd_uuid.as_deref(), Some("u1"));
        assert_eq!(
            o.partitions["bluestore"],
            PathBuf::from("/dev/ceph-a/osd-block-1")
        );
        assert_eq!(
            o.partitions["bluestore-db"],
            PathBuf::from("/dev/ceph-b/osd-db-1")
        );
        assert_eq!(o.mapping_names(), ["AAAA-1", "BBBB-1"]);
        assert!(
            o.keeps_lockbox_secret(),
            "its lockbox keyring is written from the block's tag at each start"
        );
        assert_eq!(
            inactive_volumes(&found),
            [
                PathBuf::from("/dev/ceph-a/osd-block-1"),
                PathBuf::from("/dev/ceph-b/osd-db-1")
            ],
            "volumes without a device node are activated before the start"
        );
        let plain = group(&vols, None, &|_| None);
        assert_eq!(plain.len(), 2);
        assert!(!plain[1].keeps_lockbox_secret(), "not encrypted");
        assert!(parse_lvs(b"garbage").is_empty());
    }
}
