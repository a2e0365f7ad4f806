//! `osd key export ID --out FILE` and `osd key verify ID FILE`: an encrypted OSD's recovery
//! key (crate::crypt::recovery), added as its own keyslot on every device of the OSD, and the
//! proof that a file opens every one of them without mapping anything.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::activate::{find_prepared, label_osd_uuid, FoundOsd};
use crate::ceph::client::{CephClient, ConnectOptions};
use crate::crypt::{custody, key::DmcryptKey, luks, recovery};
use crate::disk::label::LabelGrammar;
use crate::error::{Error, Result};

/// One device's answer.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceKey {
    /// The partition.
    pub path: PathBuf,
    /// Its role (`bluestore`, `bluestore-db`, ...).
    pub role: &'static str,
    /// The key opens it.
    pub opens: bool,
}

/// The outcome of `osd key export` / `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// The OSD.
    pub osd_id: u32,
    /// The key file.
    pub file: PathBuf,
    /// A keyslot was added (export).
    pub changed: bool,
    /// Every device of the OSD opens with it.
    pub verified: bool,
    /// Per device.
    pub devices: Vec<DeviceKey>,
}

/// This host's encrypted osd.`id` (of this cluster, by its disks' GUID).
fn encrypted_osd(id: u32, grammar: &LabelGrammar, fsid: Option<&str>) -> Result<FoundOsd> {
    let snapshot = crate::disk::listing::scan_all();
    let classified = crate::disk::classify::classify(&snapshot, grammar);
    let osd = find_prepared(&snapshot, &classified, &label_osd_uuid)
        .into_iter()
        .find(|o| {
            o.osd_id == id
                && fsid.is_some()
                && super::activate::owner_fsid(o, &snapshot).as_deref() == fsid
        })
        .ok_or_else(|| {
            Error::NotFound(format!(
                "osd.{id}: no OSD of this cluster with that id on this host's disks (`cephboot osd list`)"
            ))
        })?;
    if !osd.encrypted {
        return Err(Error::Usage(format!(
            "osd.{id} is not encrypted: it has no key (osd prepare --encrypt makes encrypted OSDs)"
        )));
    }
    Ok(osd)
}

/// Whether `key` opens each device of `osd`.
fn check(osd: &FoundOsd, key: &DmcryptKey) -> Result<Vec<DeviceKey>> {
    each_device(osd, |path| luks::key_opens(path, key))
}

/// `opens` asked of each device of `osd`.
fn each_device(osd: &FoundOsd, opens: impl Fn(&Path) -> Result<bool>) -> Result<Vec<DeviceKey>> {
    osd.partitions
        .iter()
        .map(|(role, path)| {
            Ok(DeviceKey {
                path: path.clone(),
                role,
                opens: opens(path)?,
            })
        })
        .collect()
}

/// The OSD's key as the monitors keep it, read by the configured client (an admin).
fn monitors_key(c: &dyn CephClient, osd: &FoundOsd) -> Result<DmcryptKey> {
    let uuid = osd
        .osd_uuid
        .as_deref()
        .ok_or_else(|| Error::NotFound(format!("osd.{}: its uuid", osd.osd_id)))?;
    let bytes = c.mon_raw(
        &json!({"prefix": "config-key get", "key": custody::config_key(uuid)}),
        &[],
    )?;
    DmcryptKey::from_stored(&bytes).ok_or_else(|| Error::Cluster {
        context: format!("reading {}", custody::config_key(uuid)),
        message: "the monitors keep an empty key".into(),
        errno: None,
    })
}

/// Exports a new recovery key of osd.`id` to `out`: written first (0600, never over an
/// existing file), then added as a keyslot to each device under the monitors' key, then proved
/// on each. A failure on any device takes the keyslot off those that got it and removes the
/// file: no key that opens only part of the OSD is left.
pub fn export_on_host(
    id: u32,
    out: &Path,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
) -> Result<KeyReport> {
    crate::exec::require(&["cryptsetup"])?;
    let (client, conf) = crate::ceph::client::connect_configured(opts)?;
    let osd = encrypted_osd(id, grammar, conf.fsid())?;
    let current = monitors_key(&client, &osd)?;
    let new = DmcryptKey::generate()?;
    recovery::write_key_file(out, &new)?;
    let mut added: Vec<&PathBuf> = Vec::new();
    for path in osd.partitions.values() {
        let step =
            crate::progress::step(format!("adding a recovery keyslot to {}", path.display()));
        match step.end(recovery::add_keyslot(path, &current, out)) {
            Ok(()) => added.push(path),
            Err(e) => {
                for p in added {
                    let _ = recovery::remove_keyslot(p, &new);
                }
                let _ = std::fs::remove_file(out);
                return Err(e);
            }
        }
    }
    let devices = check(&osd, &new)?;
    let verified = devices.iter().all(|d| d.opens);
    Ok(KeyReport {
        osd_id: id,
        file: out.to_path_buf(),
        changed: true,
        verified,
        devices,
    })
}

/// Enrolls a TPM2 keyslot bound to `pcrs` on every device of osd.`id` that has none,
/// authorised by the monitors' key, then proves the TPM opens each (mapping nothing). The
/// report's `file` is the TPM.
pub fn enroll_tpm2_on_host(
    id: u32,
    pcrs: &str,
    grammar: &LabelGrammar,
    opts: &ConnectOptions,
) -> Result<KeyReport> {
    crate::exec::require(&["cryptsetup"])?;
    crate::crypt::tpm2::check_host(pcrs)?;
    let (client, conf) = crate::ceph::client::connect_configured(opts)?;
    let osd = encrypted_osd(id, grammar, conf.fsid())?;
    let mut current = None;
    let mut changed = false;
    for path in osd.partitions.values() {
        if crate::crypt::tpm2::token_count(path)? > 0 {
            continue;
        }
        if current.is_none() {
            current = Some(monitors_key(&client, &osd)?);
        }
        let Some(key) = current.as_ref() else {
            continue;
        };
        crate::progress::step(format!(
            "enrolling a TPM2 keyslot on {} (PCRs {pcrs})",
            path.display()
        ))
        .end(crate::crypt::tpm2::enroll(path, key, pcrs))?;
        changed = true;
    }
    let devices = each_device(&osd, crate::crypt::tpm2::opens)?;
    let verified = devices.iter().all(|d| d.opens);
    Ok(KeyReport {
        osd_id: id,
        file: PathBuf::from(crate::crypt::tpm2::TPM_DEVICE),
        changed,
        verified,
        devices,
    })
}

/// Proves that `file` opens every device of osd.`id`, mapping nothing; a device it does not
/// open fails the command (exit 3) naming it.
pub fn verify_on_host(
    id: u32,
    file: &Path,
    grammar: &LabelGrammar,
    conf: &Path,
) -> Result<KeyReport> {
    crate::exec::require(&["cryptsetup"])?;
    let fsid = crate::ceph::conf::CephConf::read(conf)
        .ok()
        .and_then(|c| c.fsid().map(str::to_string));
    let osd = encrypted_osd(id, grammar, fsid.as_deref())?;
    let key = recovery::read_key_file(file)?;
    let devices = check(&osd, &key)?;
    let verified = devices.iter().all(|d| d.opens);
    Ok(KeyReport {
        osd_id: id,
        file: file.to_path_buf(),
        changed: false,
        verified,
        devices,
    })
}
