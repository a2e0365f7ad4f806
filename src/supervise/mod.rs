//! Who keeps the Ceph daemons cephboot creates running.
//!
//! Where systemd is PID 1 (`/run/systemd/system` exists and `/proc/1/comm` is `systemd`) every monitor, manager and OSD
//! cephboot starts runs under a unit cephboot installs and enables ([`units`], [`systemd`]):
//! it comes back after a reboot or a crash without anyone running cephboot. Elsewhere
//! (containers, the test machines) cephboot starts them itself as background processes with
//! pidfiles, as it always did. `CEPHBOOT_SUPERVISOR=pidfile` forces the latter (a host whose
//! systemd must not be touched).

pub mod foreign;
pub mod systemd;
pub mod units;

use serde::Serialize;

/// Who supervises the daemons on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Supervisor {
    /// systemd units `cephboot-{mon,mgr,osd}@<cluster>-<id>.service`.
    Systemd,
    /// cephboot started it in the background; found again by its pidfile.
    Pidfile,
}

impl Supervisor {
    /// `systemd`, `pidfile`.
    pub fn as_str(self) -> &'static str {
        match self {
            Supervisor::Systemd => "systemd",
            Supervisor::Pidfile => "pidfile",
        }
    }
}

/// The supervisor of this host (see the module comment).
pub fn detect() -> Supervisor {
    if std::env::var("CEPHBOOT_SUPERVISOR").as_deref() == Ok("pidfile") {
        return Supervisor::Pidfile;
    }
    // /run/systemd/system alone is also seen in a container that bind-mounts the host's /run
    // (Kolla's ceph-osd container does): PID 1 must be systemd itself.
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    let systemd = std::path::Path::new("/run/systemd/system").is_dir()
        && pid1.trim() == "systemd"
        && crate::exec::resolve("systemctl").is_ok();
    if systemd {
        Supervisor::Systemd
    } else {
        Supervisor::Pidfile
    }
}
