//! The systemd units other tools start OSDs with, as `systemctl show` reports them.
//!
//! * `ceph-volume lvm activate` enables `ceph-volume@lvm-<id>-<osd uuid>.service` (at every
//!   boot it runs `ceph-volume lvm trigger`: opens, mounts and primes the OSD, then starts the
//!   next unit), enables `ceph-osd@<id>.service` for the running boot only (`--runtime`) and
//!   starts it;
//! * `ceph-volume simple activate` (OSDs ceph-disk made) does the same with
//!   `ceph-volume@simple-<id>-<osd uuid>.service`;
//! * a host set up by hand, or by ceph-disk's udev rules, enables `ceph-osd@<id>.service`.
//!
//! Which of them starts an OSD is read here; [`crate::osd::adopt`] decides what to do.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::exec;

/// One unit's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    /// `ceph-osd@4.service`.
    pub name: String,
    /// Running (or starting, or a oneshot that ran and remains).
    pub active: bool,
    /// Its `UnitFileState`: `enabled`, `enabled-runtime` (this boot only), `disabled`,
    /// `static`, or empty when no such unit is installed.
    pub enablement: String,
}

impl UnitState {
    /// Enabled, now or for this boot.
    pub fn enabled(&self) -> bool {
        matches!(self.enablement.as_str(), "enabled" | "enabled-runtime")
    }

    /// Whether it starts the OSD (now or at the next boot).
    pub fn starts_osd(&self) -> bool {
        self.active || self.enabled()
    }
}

/// The units another tool may have set up for OSD `id` (uuid `uuid`), the OSD daemon's last.
pub fn names_for(id: u32, uuid: Option<&str>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(u) = uuid.filter(|u| !u.is_empty()) {
        names.push(format!("ceph-volume@lvm-{id}-{u}.service"));
        names.push(format!("ceph-volume@simple-{id}-{u}.service"));
    }
    names.push(format!("ceph-osd@{id}.service"));
    names
}

/// Parses `systemctl show -p Id,ActiveState,UnitFileState UNIT...` (one block per unit,
/// blocks separated by a blank line, in the order asked; pure).
pub fn parse_show(text: &str) -> Vec<UnitState> {
    text.split("\n\n")
        .filter_map(|block| {
            let value = |k: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                    .map(str::trim)
            };
            let name = value("Id").filter(|n| !n.is_empty())?;
            let active = matches!(
                value("ActiveState").unwrap_or(""),
                "active" | "activating" | "reloading" | "deactivating"
            );
            Some(UnitState {
                name: name.to_string(),
                active,
                enablement: value("UnitFileState").unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// The states of `names`, read in one `systemctl show`.
pub fn read(names: &[String]) -> Result<Vec<UnitState>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["show", "-p", "Id,ActiveState,UnitFileState", "--"];
    args.extend(names.iter().map(String::as_str));
    let out = exec::run("systemctl", &args, None, Duration::from_secs(30))?;
    Ok(parse_show(&String::from_utf8_lossy(&out.stdout)))
}

/// Disables `unit` as it was enabled (`--runtime` for this boot's enablement).
pub fn disable(unit: &UnitState) -> Result<()> {
    set_enablement("disable", unit)
}

/// Stops `unit` (waiting for its processes: longer than a unit's stop timeout).
pub fn stop(name: &str) -> Result<()> {
    exec::run("systemctl", &["stop", name], None, Duration::from_secs(180)).map(|_| ())
}

/// Enables `unit` again as it was recorded (`--runtime` for this boot's enablement).
pub fn reenable(unit: &UnitState) -> Result<()> {
    set_enablement("enable", unit)
}

/// `systemctl enable|disable [--runtime] UNIT` for a unit that was enabled (nothing else).
fn set_enablement(verb: &str, unit: &UnitState) -> Result<()> {
    if !unit.enabled() {
        return Ok(());
    }
    let mut args = vec![verb];
    if unit.enablement == "enabled-runtime" {
        args.push("--runtime");
    }
    args.push(&unit.name);
    exec::run("systemctl", &args, None, Duration::from_secs(60)).map(|_| ())
}

/// Starts `name` (clearing a failed state first).
pub fn start(name: &str) -> Result<()> {
    let _ = exec::run(
        "systemctl",
        &["reset-failed", name],
        None,
        Duration::from_secs(30),
    );
    exec::run(
        "systemctl",
        &["start", name],
        None,
        Duration::from_secs(300),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_ceph_volume_and_the_package_unit() {
        assert_eq!(
            names_for(4, Some("abc")),
            vec![
                "ceph-volume@lvm-4-abc.service",
                "ceph-volume@simple-4-abc.service",
                "ceph-osd@4.service"
            ]
        );
        assert_eq!(names_for(4, None), vec!["ceph-osd@4.service"]);
    }

    #[test]
    fn show_output_parses_per_unit() {
        let text = "ActiveState=active\nUnitFileState=enabled-runtime\nId=ceph-osd@4.service\n\n\
                    ActiveState=active\nUnitFileState=enabled\nId=ceph-volume@lvm-4-abc.service\n\n\
                    ActiveState=inactive\nUnitFileState=disabled\nId=ceph-volume@simple-4-abc.service\n";
        let s = parse_show(text);
        assert_eq!(s.len(), 3);
        assert!(s[0].active && s[0].enabled() && s[0].enablement == "enabled-runtime");
        assert!(s[1].starts_osd());
        assert!(!s[2].starts_osd());
        assert_eq!(s[2].name, "ceph-volume@simple-4-abc.service");
    }

    #[test]
    fn a_unit_that_is_not_installed_starts_nothing() {
        let s = parse_show("Id=ceph-osd@9.service\nActiveState=inactive\nUnitFileState=\n");
        assert_eq!(s.len(), 1);
        assert!(!s[0].starts_osd());
        assert!(parse_show("").is_empty());
    }
}
