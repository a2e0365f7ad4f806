//! Taking apart what `ceph-volume lvm prepare` made for one OSD, once the OSD is gone from the
//! cluster: its logical volumes (block, db, wal: those tagged with its `ceph.osd_fsid`), then
//! each volume group left without a volume, then that group's physical volumes, in that order
//! (`lvremove`, `vgremove`, `pvremove`: LVM's own tools, which keep its metadata consistent on
//! every PV of a group). A group that still holds another volume (another OSD's db on a shared
//! fast device, or anything not Ceph's) is kept with its PVs, and the report says what it
//! holds. The dm-crypt mappings on the volumes are closed before (crate::crypt::luks).
//!
//! What to remove is decided on plain data (`plan`, pure); LVM is read again right before
//! acting (`read_host`), never from the listing that found the OSD.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::disk::inventory::Snapshot;
use crate::disk::zap::ZapFailure;
use crate::error::{Error, Refusal, Result};

/// A logical volume with what teardown needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    /// `/dev/VG/LV`.
    pub path: PathBuf,
    /// Its uuid (ceph-volume names an encrypted volume's dm-crypt mapping after it).
    pub uuid: String,
    /// Its volume group.
    pub vg: String,
    /// `ceph.osd_fsid`, when tagged.
    pub osd_uuid: Option<String>,
    /// `ceph.osd_id`, when tagged.
    pub osd_id: Option<String>,
    /// `ceph.type` (block, db, wal), when tagged.
    pub kind: Option<String>,
}

/// A physical volume and its group (empty when in none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalVolume {
    /// Its device.
    pub device: PathBuf,
    /// Its volume group.
    pub vg: String,
}

/// What to take apart for one OSD, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teardown {
    /// Its logical volumes.
    pub volumes: Vec<PathBuf>,
    /// The groups left without a volume.
    pub groups: Vec<String>,
    /// Those groups' physical volumes.
    pub physical: Vec<PathBuf>,
    /// Groups kept, each with what still holds it.
    pub kept: Vec<String>,
}

impl Teardown {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    /// Each removal, as the report names it.
    pub fn described(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .volumes
            .iter()
            .map(|v| format!("{} (logical volume)", v.display()))
            .collect();
        out.extend(self.groups.iter().map(|g| format!("{g} (volume group)")));
        out.extend(
            self.physical
                .iter()
                .map(|p| format!("{} (physical volume)", p.display())),
        );
        out
    }
}

/// The teardown of the OSD whose uuid is `osd_uuid` (pure): every volume tagged with it; each
/// group whose volumes are all among them, with its PVs; every other group it touched kept
/// and named with what it still holds.
pub fn plan(osd_uuid: &str, volumes: &[LogicalVolume], pvs: &[PhysicalVolume]) -> Teardown {
    let ours = |v: &LogicalVolume| {
        v.osd_uuid
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(osd_uuid))
    };
    let mut t = Teardown::default();
    let touched: BTreeSet<&str> = volumes
        .iter()
        .filter(|v| ours(v))
        .map(|v| v.vg.as_str())
        .collect();
    t.volumes = volumes
        .iter()
        .filter(|v| ours(v))
        .map(|v| v.path.clone())
        .collect();
    for vg in touched {
        let others: Vec<String> = volumes
            .iter()
            .filter(|v| v.vg == vg && !ours(v))
            .map(describe_other)
            .collect();
        if others.is_empty() {
            t.groups.push(vg.to_string());
            t.physical
                .extend(pvs.iter().filter(|p| p.vg == vg).map(|p| p.device.clone()));
        } else {
            t.kept.push(format!(
                "volume group {vg} kept: it still holds {}",
                others.join(", ")
            ));
        }
    }
    t
}

/// The teardown `disks zap` of the disks `named` needs (pure): every volume group with a
/// physical volume on them, whole, when each of its volumes is an OSD's (ceph-volume's tags)
/// and each of its physical volumes is on a named disk; otherwise the reasons, each with its
/// device (a group that is not only Ceph's, or that spans a disk not named, is never taken
/// apart by a zap).
pub fn plan_for_zap(
    named: &dyn Fn(&Path) -> bool,
    volumes: &[LogicalVolume],
    pvs: &[PhysicalVolume],
) -> std::result::Result<Teardown, Vec<(PathBuf, String)>> {
    let groups: BTreeSet<&str> = pvs
        .iter()
        .filter(|p| named(&p.device) && !p.vg.is_empty())
        .map(|p| p.vg.as_str())
        .collect();
    let mut t = Teardown::default();
    let mut refused = Vec::new();
    for vg in groups {
        let members: Vec<&PhysicalVolume> = pvs.iter().filter(|p| p.vg == vg).collect();
        let on_named = members.iter().find(|p| named(&p.device));
        let anchor = on_named.map(|p| p.device.clone()).unwrap_or_default();
        for p in members.iter().filter(|p| !named(&p.device)) {
            refused.push((
                anchor.clone(),
                format!(
                    "volume group {vg} also lies on {}: name that disk too, or take {vg} apart \
                     with LVM's tools",
                    p.device.display()
                ),
            ));
        }
        let lvs: Vec<&LogicalVolume> = volumes.iter().filter(|v| v.vg == vg).collect();
        for v in lvs.iter().filter(|v| v.osd_uuid.is_none()) {
            refused.push((
                anchor.clone(),
                format!(
                    "volume group {vg} holds {}, which is not an OSD's: remove it with lvremove \
                     first",
                    v.path.display()
                ),
            ));
        }
        t.volumes.extend(lvs.iter().map(|v| v.path.clone()));
        t.groups.push(vg.to_string());
        t.physical.extend(members.iter().map(|p| p.device.clone()));
    }
    if refused.is_empty() {
        Ok(t)
    } else {
        Err(refused)
    }
}

fn describe_other(v: &LogicalVolume) -> String {
    match (&v.osd_id, &v.kind) {
        (Some(id), Some(kind)) => format!("{} (osd.{id}'s {kind})", v.path.display()),
        _ => format!("{} (not an OSD's)", v.path.display()),
    }
}

/// `lvs` and `pvs` reports (pure); rows that do not parse are left out.
pub fn parse(lvs_json: &[u8], pvs_json: &[u8]) -> (Vec<LogicalVolume>, Vec<PhysicalVolume>) {
    let rows = |json: &[u8], key: &str| -> Vec<Value> {
        serde_json::from_slice::<Value>(json)
            .ok()
            .and_then(|v| v.get("report").cloned())
            .and_then(|r| r.as_array().cloned())
            .into_iter()
            .flatten()
            .filter_map(|r| r.get(key).and_then(Value::as_array).cloned())
            .flatten()
            .collect()
    };
    let field = |row: &Value, k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
    let lvs = rows(lvs_json, "lv")
        .iter()
        .filter_map(|row| {
            let tags = super::lvm::ceph_tags(&field(row, "lv_tags").unwrap_or_default());
            let tag = |k: &str| tags.get(k).cloned();
            Some(LogicalVolume {
                path: PathBuf::from(field(row, "lv_path").filter(|p| !p.is_empty())?),
                uuid: field(row, "lv_uuid").unwrap_or_default(),
                vg: field(row, "vg_name").filter(|v| !v.is_empty())?,
                osd_uuid: tag("osd_fsid"),
                osd_id: tag("osd_id"),
                kind: tag("type"),
            })
        })
        .collect();
    let pvs = rows(pvs_json, "pv")
        .iter()
        .filter_map(|row| {
            Some(PhysicalVolume {
                device: PathBuf::from(field(row, "pv_name").filter(|p| !p.is_empty())?),
                vg: field(row, "vg_name").unwrap_or_default(),
            })
        })
        .collect();
    (lvs, pvs)
}

const LVM_TIMEOUT: Duration = Duration::from_secs(120);

/// Every logical and physical volume of the host, read now.
pub fn read_host() -> Result<(Vec<LogicalVolume>, Vec<PhysicalVolume>)> {
    let lvs = crate::exec::run(
        "lvs",
        &[
            "--reportformat",
            "json",
            "-o",
            "lv_path,lv_uuid,vg_name,lv_tags",
        ],
        None,
        LVM_TIMEOUT,
    )?;
    let pvs = crate::exec::run(
        "pvs",
        &["--reportformat", "json", "-o", "pv_name,vg_name"],
        None,
        LVM_TIMEOUT,
    )?;
    Ok(parse(&lvs.stdout, &pvs.stdout))
}

/// Removes what `t` names, in order. A volume still open (a daemon or a mapping on it) stops
/// the teardown with LVM's own words and the next step.
pub fn apply(t: &Teardown) -> Result<()> {
    let lvm = |tool: &str, args: &[&str], what: &str| -> Result<()> {
        crate::exec::run(tool, args, None, LVM_TIMEOUT)
            .map(|_| ())
            .map_err(|e| Error::Device {
                device: PathBuf::from(what),
                message: format!(
                    "{e}; nothing after it was removed: stop whatever holds it (`dmsetup info`, \
                     `lsof`) and run the command again"
                ),
            })
    };
    for v in &t.volumes {
        let path = v.to_string_lossy();
        lvm("lvremove", &["--yes", &path], &path)?;
    }
    for g in &t.groups {
        lvm("vgremove", &["--yes", g], g)?;
    }
    for p in &t.physical {
        let path = p.to_string_lossy();
        lvm("pvremove", &["--yes", &path], &path)?;
    }
    Ok(())
}

/// `disks zap`'s first step on disks that carry LVM physical volumes: the volume groups on them
/// planned with [`plan_for_zap`] from LVM read now; each volume's device checked unused (no
/// process has it open, nothing stacked on it but its own idle dm-crypt mapping); then, unless
/// `dry_run`, the idle mappings closed and the groups taken apart. `None` when no named disk
/// carries a physical volume (no LVM tool is run). Refusals name each device and change
/// nothing.
pub fn release_for_zap(
    snapshot: &Snapshot,
    disks: &[String],
    dry_run: bool,
) -> std::result::Result<Option<Teardown>, ZapFailure> {
    let named = |p: &Path| {
        snapshot.find(p).is_some_and(|d| {
            disks.contains(&d.name)
                || d.parent
                    .as_deref()
                    .and_then(|pp| snapshot.find(pp))
                    .is_some_and(|pd| disks.contains(&pd.name))
        })
    };
    let carries_pv = snapshot
        .devices
        .iter()
        .any(|d| named(&d.path) && d.signatures.iter().any(|s| s.kind == "LVM2_member"));
    if !carries_pv {
        return Ok(None);
    }
    let refuse = |device: PathBuf, reason: String| Refusal {
        device,
        reason,
        hint: "nothing was written".into(),
        force_overrides: false,
    };
    let (lvs, pvs) = read_host().map_err(ZapFailure::Error)?;
    let t = plan_for_zap(&named, &lvs, &pvs)
        .map_err(|r| ZapFailure::Refused(r.into_iter().map(|(d, why)| refuse(d, why)).collect()))?;
    let mut refused = Vec::new();
    let mut mappings = Vec::new();
    for v in lvs.iter().filter(|v| t.volumes.contains(&v.path)) {
        match volume_use(v) {
            Ok(m) => mappings.extend(m),
            Err(why) => refused.push(refuse(v.path.clone(), why)),
        }
    }
    if !refused.is_empty() {
        return Err(ZapFailure::Refused(refused));
    }
    if !dry_run {
        for m in &mappings {
            crate::crypt::luks::close(m).map_err(ZapFailure::Error)?;
        }
        apply(&t).map_err(ZapFailure::Error)?;
    }
    Ok(Some(t))
}

/// Whether volume `v` may go: the name of its idle dm-crypt mapping to close first, if any;
/// otherwise why not (open by a process, or something else stacked on it).
fn volume_use(v: &LogicalVolume) -> std::result::Result<Option<String>, String> {
    let whose = match (&v.osd_id, &v.kind) {
        (Some(id), Some(kind)) => format!("osd.{id}'s {kind}"),
        _ => "an OSD's volume".into(),
    };
    let stop = |what: String| {
        format!(
            "{} ({whose}) is in use ({what}): stop the OSD first (`cephboot osd stop ID`, or \
             `cephboot osd remove ID`, which takes its volumes apart itself)",
            v.path.display()
        )
    };
    let Ok(node) = std::fs::canonicalize(&v.path) else {
        return Ok(None); // an inactive volume: nothing can hold it
    };
    if let Some(o) = crate::disk::guard::openers(std::slice::from_ref(&node)).first() {
        return Err(stop(format!("opened by {} (pid {})", o.comm, o.pid)));
    }
    let dm = node
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let holders: Vec<String> = std::fs::read_dir(format!("/sys/class/block/{dm}/holders"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mapping = crate::crypt::luks::mapper_path(&v.uuid);
    let mapping_dm = std::fs::canonicalize(&mapping)
        .ok()
        .and_then(|m| m.file_name().map(|n| n.to_string_lossy().into_owned()));
    match holders.as_slice() {
        [] => Ok(None),
        [h] if Some(h) == mapping_dm.as_ref() => {
            let stacked = std::fs::read_dir(format!("/sys/class/block/{h}/holders"))
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            let mapped = PathBuf::from(format!("/dev/{h}"));
            match crate::disk::guard::openers(&[mapped, mapping]).first() {
                Some(o) => Err(stop(format!(
                    "its dm-crypt mapping opened by {} (pid {})",
                    o.comm, o.pid
                ))),
                None if stacked => Err(stop(format!("something is stacked on its mapping {h}"))),
                None => Ok(Some(v.uuid.clone())),
            }
        }
        _ => Err(stop(format!("held by {}", holders.join(", ")))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const LVS: &str = r#"{"report":[{"lv":[
      {"lv_path":"/dev/ceph-a/osd-block-1","vg_name":"ceph-a","lv_tags":"ceph.osd_fsid=u1,ceph.osd_id=4,ceph.type=block"},
      {"lv_path":"/dev/ceph-db/osd-db-1","vg_name":"ceph-db","lv_tags":"ceph.osd_fsid=u1,ceph.osd_id=4,ceph.type=db"},
      {"lv_path":"/dev/ceph-db/osd-db-2","vg_name":"ceph-db","lv_tags":"ceph.osd_fsid=u2,ceph.osd_id=5,ceph.type=db"},
      {"lv_path":"/dev/ceph-b/osd-block-2","vg_name":"ceph-b","lv_tags":"ceph.osd_fsid=u2,ceph.osd_id=5,ceph.type=block"},
      {"lv_path":"/dev/vg0/root","vg_name":"vg0","lv_tags":""},
      {"lv_path":"","vg_name":"broken","lv_tags":""}
    ]}]}"#;
    const PVS: &str = r#"{"report":[{"pv":[
      {"pv_name":"/dev/vdb","vg_name":"ceph-a"},
      {"pv_name":"/dev/vdc","vg_name":"ceph-db"},
      {"pv_name":"/dev/vdd","vg_name":"ceph-b"},
      {"pv_name":"/dev/vde","vg_name":""}
    ]}]}"#;

    #[test]
    fn an_osds_own_volumes_go_and_a_group_another_osd_shares_stays_named() {
        let (lvs, pvs) = parse(LVS.as_bytes(), PVS.as_bytes());
        assert_eq!(lvs.len(), 5, "the row without a path is left out");
        assert_eq!(pvs.len(), 4);
        let t = plan("U1", &lvs, &pvs);
        assert_eq!(
            t.volumes,
            [
                PathBuf::from("/dev/ceph-a/osd-block-1"),
                PathBuf::from("/dev/ceph-db/osd-db-1")
            ]
        );
        assert_eq!(t.groups, ["ceph-a"], "ceph-db still holds osd.5's db");
        assert_eq!(t.physical, [PathBuf::from("/dev/vdb")]);
        assert_eq!(
            t.kept,
            ["volume group ceph-db kept: it still holds /dev/ceph-db/osd-db-2 (osd.5's db)"]
        );
        // osd.5 after osd.4: its own group and the now unshared db group both go.
        let after: Vec<LogicalVolume> = lvs
            .into_iter()
            .filter(|v| v.osd_uuid.as_deref() != Some("u1"))
            .collect();
        let t = plan("u2", &after, &pvs);
        assert_eq!(t.groups, ["ceph-b", "ceph-db"]);
        assert_eq!(
            t.physical,
            [PathBuf::from("/dev/vdd"), PathBuf::from("/dev/vdc")]
        );
        assert!(t.kept.is_empty());
        assert_eq!(t.described().len(), 6);
    }

    #[test]
    fn a_zap_takes_whole_groups_of_osd_volumes_apart_and_refuses_any_other() {
        let (lvs, pvs) = parse(LVS.as_bytes(), PVS.as_bytes());
        let only = |names: &'static [&'static str]| {
            move |p: &Path| names.iter().any(|n| p == Path::new(n))
        };
        // /dev/vdc holds the shared db group: both OSDs' db volumes go with it.
        let t = plan_for_zap(&only(&["/dev/vdc"]), &lvs, &pvs).unwrap();
        assert_eq!(t.groups, ["ceph-db"]);
        assert_eq!(t.volumes.len(), 2);
        assert_eq!(t.physical, [PathBuf::from("/dev/vdc")]);
        assert!(
            plan_for_zap(&only(&["/dev/vde"]), &lvs, &pvs)
                .unwrap()
                .is_empty(),
            "a physical volume in no group: nothing for LVM to take apart"
        );
        // A group that spans a disk not named, and one holding a volume not Ceph's.
        let spans = vec![
            PhysicalVolume {
                device: "/dev/vdb".into(),
                vg: "ceph-a".into(),
            },
            PhysicalVolume {
                device: "/dev/vdf".into(),
                vg: "ceph-a".into(),
            },
            PhysicalVolume {
                device: "/dev/vdg".into(),
                vg: "vg0".into(),
            },
        ];
        let why = plan_for_zap(&only(&["/dev/vdb", "/dev/vdg"]), &lvs, &spans).unwrap_err();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].1.contains("also lies on /dev/vdf"), "{why:?}");
        assert!(
            why[1].1.contains("/dev/vg0/root, which is not an OSD's"),
            "{why:?}"
        );
    }

    #[test]
    fn a_group_with_anything_not_cephs_is_kept_and_an_unknown_osd_removes_nothing() {
        let lvs = vec![
            LogicalVolume {
                path: "/dev/vg0/osd".into(),
                uuid: "U".into(),
                vg: "vg0".into(),
                osd_uuid: Some("u1".into()),
                osd_id: Some("1".into()),
                kind: Some("block".into()),
            },
            LogicalVolume {
                path: "/dev/vg0/root".into(),
                uuid: "R".into(),
                vg: "vg0".into(),
                osd_uuid: None,
                osd_id: None,
                kind: None,
            },
        ];
        let t = plan("u1", &lvs, &[]);
        assert_eq!(t.volumes, [PathBuf::from("/dev/vg0/osd")]);
        assert!(t.groups.is_empty() && t.physical.is_empty());
        assert_eq!(
            t.kept,
            ["volume group vg0 kept: it still holds /dev/vg0/root (not an OSD's)"]
        );
        assert!(plan("nobody", &lvs, &[]).is_empty());
        assert_eq!(parse(b"{", b"garbage"), (Vec::new(), Vec::new()));
    }
}
