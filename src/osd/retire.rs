//! What `disks zap` does to the OSDs whose disks it wipes: their cephboot units are stopped,
//! disabled and forgotten, as `osd remove` does, so that systemd does not try to start an OSD
//! whose data is gone (at every boot, five times, then failed).
//!
//! Only OSDs known to be this cluster's (the fsid in their BlueStore label, or the disk GUID
//! cephboot writes for FileStore) are retired: the unit of the same id belongs to this
//! cluster, and a zapped stranger's id says nothing about it. The choice is pure
//! ([`ours_on_disks`]); [`retire_units`] acts.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::supervise::systemd;
use crate::supervise::units::{DaemonKind, DaemonUnit};

/// An OSD found on the host, with where its partitions are and whose it is.
#[derive(Debug, Clone)]
pub struct OsdOnHost {
    /// Its id.
    pub osd_id: u32,
    /// The whole disks its partitions are on.
    pub disks: Vec<PathBuf>,
    /// The cluster fsid its labels name, when they name one.
    pub owner: Option<String>,
}

/// The ids of this cluster's (`ours`) OSDs with a partition on one of `wiped` (pure): an OSD
/// whose block.db is on a wiped fast disk cannot start either.
pub fn ours_on_disks(osds: &[OsdOnHost], wiped: &[PathBuf], ours: Option<&str>) -> Vec<u32> {
    let Some(ours) = ours else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = osds
        .iter()
        .filter(|o| {
            o.owner
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(ours))
        })
        .filter(|o| o.disks.iter().any(|d| wiped.contains(d)))
        .map(|o| o.osd_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The prepared OSDs on this host's disks, as [`ours_on_disks`] needs them.
fn osds_on_host(grammar: &crate::disk::label::LabelGrammar) -> Vec<OsdOnHost> {
    let snapshot = crate::disk::listing::scan_all();
    let classified = crate::disk::classify::classify(&snapshot, grammar);
    let found =
        super::activate::find_prepared(&snapshot, &classified, &super::activate::label_osd_uuid);
    found
        .iter()
        .map(|o| OsdOnHost {
            osd_id: o.osd_id,
            disks: o
                .partitions
                .values()
                .filter_map(|p| snapshot.find(p)?.parent.clone())
                .collect(),
            owner: super::activate::owner_fsid(o, &snapshot),
        })
        .collect()
}

/// This cluster's fsid and the OSDs on the host, read before a zap writes anything (nothing
/// is read where systemd does not supervise or the cluster's config is not found).
#[derive(Debug, Default)]
pub struct OursOnHost {
    ours: Option<String>,
    osds: Vec<OsdOnHost>,
}

impl OursOnHost {
    /// Reads them (the host's disks once, only on a systemd host with this cluster's config).
    pub fn read(conf: &std::path::Path, grammar: &crate::disk::label::LabelGrammar) -> Self {
        let ours = crate::ceph::conf::CephConf::read(conf)
            .ok()
            .and_then(|c| c.fsid().map(str::to_string));
        if ours.is_none() || crate::supervise::detect() != crate::supervise::Supervisor::Systemd {
            return Self::default();
        }
        OursOnHost {
            osds: osds_on_host(grammar),
            ours,
        }
    }

    /// After `wiped` were zapped: the units of this cluster's OSDs on them retired (with
    /// `dry_run`, only named); their names.
    pub fn retire_units_on(
        &self,
        wiped: &[PathBuf],
        cluster: &str,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let ids = ours_on_disks(&self.osds, wiped, self.ours.as_deref());
        retire_units(cluster, &ids, dry_run)
    }
}

/// Stops, disables and forgets the cephboot unit of each OSD in `ids` of `cluster` that has
/// one installed (with `dry_run`, only names them); the names of those retired.
fn retire_units(cluster: &str, ids: &[u32], dry_run: bool) -> Result<Vec<String>> {
    let mut retired = Vec::new();
    if crate::exec::resolve("systemctl").is_err() {
        return Ok(retired);
    }
    for id in ids {
        let unit = DaemonUnit::new(DaemonKind::Osd, cluster, &id.to_string());
        if !systemd::is_installed(&unit) {
            continue;
        }
        if dry_run {
            retired.push(unit.name());
            continue;
        }
        systemd::retire(&unit, true).map_err(|e| Error::Device {
            device: PathBuf::from(unit.name()),
            message: format!(
                "osd.{id}'s disk was wiped, but its unit could not be disabled ({e}); run \
                 `systemctl disable --now {}` so that it is not started at the next boot",
                unit.name()
            ),
        })?;
        retired.push(unit.name());
    }
    Ok(retired)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "1f0a6a2e-5b3c-4d8e-9f10-111213141516";
    const THEIRS: &str = "aaaaaaaa-5b3c-4d8e-9f10-111213141516";

    fn osd(id: u32, disks: &[&str], owner: Option<&str>) -> OsdOnHost {
        OsdOnHost {
            osd_id: id,
            disks: disks.iter().map(PathBuf::from).collect(),
            owner: owner.map(str::to_string),
        }
    }

    #[test]
    fn only_this_clusters_osds_on_the_wiped_disks_are_retired() {
        let osds = [
            osd(0, &["/dev/sdb"], Some(OURS)),
            // Its db slot is on the wiped fast disk: it cannot start either.
            osd(1, &["/dev/sdc", "/dev/nvme0n1"], Some(&OURS.to_uppercase())),
            // Another cluster's OSD of the same id as ours elsewhere: not our unit's OSD.
            osd(2, &["/dev/sdd"], Some(THEIRS)),
            // Whose it is cannot be told: left alone.
            osd(3, &["/dev/sde"], None),
            osd(4, &["/dev/sdf"], Some(OURS)),
        ];
        let wiped: Vec<PathBuf> = ["/dev/sdb", "/dev/nvme0n1", "/dev/sdd", "/dev/sde"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(ours_on_disks(&osds, &wiped, Some(OURS)), vec![0, 1]);
    }

    #[test]
    fn without_this_clusters_fsid_nothing_is_retired() {
        let osds = [osd(0, &["/dev/sdb"], Some(OURS))];
        assert!(ours_on_disks(&osds, &[PathBuf::from("/dev/sdb")], None).is_empty());
        assert!(ours_on_disks(&osds, &[PathBuf::from("/dev/sdc")], Some(OURS)).is_empty());
    }
}
