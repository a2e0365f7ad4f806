//! Further hosts of a cluster: `cluster join-bundle` on a host of the cluster writes what a new
//! host needs (fsid, the monitors' addresses, the monmap, the `mon.`, admin and bootstrap-osd
//! keyrings) into one file readable by root only; `cluster join --bundle FILE --mon-ip ADDR`
//! on the new host makes its monitor from exactly that (never from a guess or a scan), starts
//! it on ADDR, waits until it is in the quorum, and starts a manager, both named after the
//! host. Idempotent like `bootstrap`: a rerun starts what stopped and reports `unchanged`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::bootstrap::{
    admin_client, mkdir, mkfs_mon, render_conf, start_site, write_file, BootstrapReport, Site,
    StateDir,
};
use crate::action::Action;
use crate::ceph::client::CephClient;
use crate::ceph::commands;
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// What a new host needs to join: handed over as a file, explicitly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinBundle {
    /// The cluster.
    pub fsid: String,
    /// The monitors' addresses (`mon host`).
    pub mon_host: String,
    /// The monmap, hex.
    pub monmap_hex: String,
    /// The `mon.` keyring (with the admin and bootstrap-osd keys imported).
    pub mon_keyring: String,
    /// The `client.admin` keyring.
    pub admin_keyring: String,
    /// The `client.bootstrap-osd` keyring.
    pub bootstrap_osd_keyring: String,
}

/// The addresses of every monitor in a `mon dump`, as `mon host` lists them.
pub fn mon_host_of(dump: &serde_json::Value) -> Option<String> {
    let addrs: Vec<String> = dump
        .get("mons")?
        .as_array()?
        .iter()
        .filter_map(|m| {
            m.pointer("/public_addrs/addrvec")?
                .as_array()?
                .iter()
                .find(|a| a.get("type").and_then(|t| t.as_str()) == Some("v2"))
                .and_then(|a| a.get("addr")?.as_str())
                .map(|a| format!("v2:{a}"))
        })
        .collect();
    (!addrs.is_empty()).then(|| addrs.join(","))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Writes the join bundle of the cluster of `state_dir` to `out` (mode 0600).
pub fn write_bundle(state_dir: &Path, out: &Path) -> Result<(JoinBundle, Action)> {
    let s = StateDir {
        root: state_dir.to_path_buf(),
    };
    let conf = crate::ceph::conf::CephConf::read(&s.conf())
        .context(|| format!("reading {}", s.conf().display()))?;
    let fsid = conf
        .fsid()
        .ok_or_else(|| Error::Usage(format!("{} has no fsid", s.conf().display())))?
        .to_string();
    let client = admin_client(&s, Duration::from_secs(30))?;
    let dump = client.mon(json!({"prefix": "mon dump"}))?;
    let mon_host = mon_host_of(&dump)
        .ok_or_else(|| Error::Internal("`mon dump` lists no monitor address".into()))?;
    let read =
        |p: PathBuf| std::fs::read_to_string(&p).context(|| format!("reading {}", p.display()));
    let bundle = JoinBundle {
        fsid,
        mon_host,
        monmap_hex: hex(&commands::monmap(&client)?),
        mon_keyring: read(s.root.join("mon.keyring"))?,
        admin_keyring: read(s.admin_keyring())?,
        bootstrap_osd_keyring: read(s.root.join("ceph.client.bootstrap-osd.keyring"))?,
    };
    let text = serde_json::to_string_pretty(&bundle)
        .map_err(|e| Error::Internal(format!("the join bundle: {e}")))?;
    let action = match std::fs::read(out) {
        Ok(old) if old == text.as_bytes() && crate::files::is_private(out) => Action::Unchanged,
        Ok(_) => Action::Updated,
        Err(_) => Action::Created,
    };
    if action != Action::Unchanged {
        crate::files::write_private(out, text.as_bytes())?;
    }
    Ok((bundle, action))
}

/// What to join.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// This host's state directory.
    pub state_dir: PathBuf,
    /// The bundle file from `cluster join-bundle`.
    pub bundle: PathBuf,
    /// This host's monitor address.
    pub mon_ip: std::net::IpAddr,
    /// How long to wait for the quorum and a manager.
    pub timeout: Duration,
}

/// Reads a bundle file, with an error that says how to make one.
fn read_bundle(path: &Path) -> Result<JoinBundle> {
    let text = std::fs::read_to_string(path).context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not a join bundle ({e}): write one with `cephboot cluster join-bundle --out FILE` on a host of the cluster",
            path.display()
        ))
    })
}

/// The monitor addresses once this host's monitor has joined (pure).
fn joined_mon_host(bundle: &JoinBundle, site: &Site) -> String {
    let own = format!("v2:{}:3300", site.ip);
    if bundle.mon_host.split(',').any(|a| a == own) {
        bundle.mon_host.clone()
    } else {
        format!("{},{own}", bundle.mon_host)
    }
}

/// What `join` would do, changing nothing (`--dry-run`): the bundle is read and checked.
pub fn preview(req: &JoinRequest) -> Result<BootstrapReport> {
    let bundle = read_bundle(&req.bundle)?;
    let site = Site::new(Some(req.mon_ip));
    super::bootstrap::preview(
        &req.state_dir,
        &site,
        &bundle.fsid,
        &joined_mon_host(&bundle, &site),
    )
}

/// Joins this host's monitor and manager to the bundle's cluster (or restarts them).
pub fn join(req: &JoinRequest) -> Result<BootstrapReport> {
    exec::require(&["ceph-mon", "ceph-mgr"])?;
    let bundle = read_bundle(&req.bundle)?;
    let s = StateDir::create(&req.state_dir)?;
    let site = Site::new(Some(req.mon_ip));
    let mon_host = joined_mon_host(&bundle, &site);
    let made = s.mon_data(&site.mon).join("store.db").exists();
    if !made {
        if s.conf().exists() {
            return Err(Error::Usage(format!(
                "{} already has a ceph.conf but no monitor {}: choose an empty state dir for this host",
                s.root.display(),
                site.mon
            )));
        }
        write_file(
            &s.conf(),
            &render_conf(
                &s,
                &bundle.fsid,
                &mon_host,
                &site.ip,
                Some(&format!("[v2:{}:3300]", site.ip)),
            ),
            0o644,
        )?;
        for (path, text) in [
            (s.root.join("mon.keyring"), &bundle.mon_keyring),
            (s.admin_keyring(), &bundle.admin_keyring),
            (
                s.root.join("ceph.client.bootstrap-osd.keyring"),
                &bundle.bootstrap_osd_keyring,
            ),
        ] {
            crate::files::write_private(&path, text.as_bytes())?;
        }
        let monmap = s.root.join("monmap");
        let bytes = unhex(&bundle.monmap_hex).ok_or_else(|| {
            Error::Usage(format!("{}: the monmap is not hex", req.bundle.display()))
        })?;
        std::fs::write(&monmap, bytes).context(|| format!("writing {}", monmap.display()))?;
        mkdir(&s.root.join("mon"))?;
        mkfs_mon(&s, &site.mon, &monmap)?;
    }
    let (changed, daemons) = start_site(&s, &site, req.timeout)?;
    Ok(BootstrapReport {
        changed,
        fsid: bundle.fsid,
        conf: s.conf(),
        admin_keyring: s.admin_keyring(),
        mon_host,
        daemons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mon_host_lists_every_monitor_s_v2_address() {
        let dump = json!({"mons": [
            {"name": "h1", "public_addrs": {"addrvec": [{"type": "v2", "addr": "10.0.0.1:3300"}, {"type": "v1", "addr": "10.0.0.1:6789"}]}},
            {"name": "h2", "public_addrs": {"addrvec": [{"type": "v2", "addr": "10.0.0.2:3300"}]}},
            {"name": "odd", "public_addrs": {}},
        ]});
        assert_eq!(
            mon_host_of(&dump).as_deref(),
            Some("v2:10.0.0.1:3300,v2:10.0.0.2:3300")
        );
        assert_eq!(mon_host_of(&json!({"mons": []})), None);
        assert_eq!(mon_host_of(&json!({})), None);
    }

    #[test]
    fn the_monmap_survives_the_bundle_and_bad_hex_is_refused() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
