//! Installing, starting and retiring the units of [`super::units`] through `systemctl`.
//!
//! Used only where systemd is PID 1 ([`super::detect`]). Every change is idempotent: a file
//! is written only when its bytes differ (then `systemctl daemon-reload`), a unit is enabled
//! only when it is not, so a rerun reports `unchanged`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::units::{self, DaemonKind, DaemonUnit, UnitSettings};
use crate::action::Action;
use crate::error::{Error, IoContext, Result};
use crate::exec;

/// Where cephboot writes its unit files (the administrator's directory, not the package's).
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Where the instances' environment files live.
pub const ENV_DIR: &str = "/etc/cephboot/units";

fn unit_dir() -> PathBuf {
    std::env::var_os("CEPHBOOT_UNIT_DIR").map_or_else(|| PathBuf::from(UNIT_DIR), PathBuf::from)
}

fn env_dir() -> PathBuf {
    std::env::var_os("CEPHBOOT_UNIT_ENV_DIR").map_or_else(|| PathBuf::from(ENV_DIR), PathBuf::from)
}

fn systemctl(args: &[&str]) -> Result<String> {
    // Longer than a unit's TimeoutStopSec (120 s): a slow stop is waited for, not abandoned.
    let out = exec::run("systemctl", args, None, Duration::from_secs(180))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Writes `text` to `path` unless it already holds exactly that; whether it wrote.
fn put(path: &Path, text: &str) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    crate::files::write_public(path, text.as_bytes())?;
    Ok(true)
}

/// The program a unit of `kind` runs: the Ceph daemon, or cephboot itself for OSDs.
fn program(kind: DaemonKind) -> Result<PathBuf> {
    match kind {
        DaemonKind::Mon => exec::resolve("ceph-mon"),
        DaemonKind::Mgr => exec::resolve("ceph-mgr"),
        DaemonKind::Osd => {
            let exe = std::env::current_exe()
                .context(|| "finding cephboot's own path for the OSD unit".to_string())?;
            own_path(&exe)
        }
    }
}

/// The path of cephboot's own binary as a unit may name it: after an upgrade replaced the
/// file, the running binary's path reads `... (deleted)`, and the new file at the same path
/// is the one to start.
fn own_path(exe: &Path) -> Result<PathBuf> {
    let text = exe.display().to_string();
    let path = text.strip_suffix(" (deleted)").unwrap_or(&text);
    let nameable = units::is_plain_value(path) && !path.contains(char::is_whitespace);
    if !nameable || !Path::new(path).is_file() {
        return Err(Error::Usage(format!(
            "cephboot runs from {text}, which an OSD unit cannot name (gone, or spaces or % in the path): install it (make install, or the .deb) and run it from there"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Installs and enables `unit` (its template, the targets, its environment file): `created`
/// the first time, `updated` when a file changed, `unchanged` otherwise.
pub fn install(unit: &DaemonUnit, settings: &UnitSettings) -> Result<Action> {
    for (what, v) in [
        ("the state directory", &settings.state_dir),
        ("the config path", &settings.conf),
        ("the label prefix", &settings.label_prefix),
        ("the cluster name", &unit.cluster),
        ("the daemon id", &unit.id),
    ] {
        if !units::is_plain_value(v) {
            return Err(Error::Usage(format!(
                "{what} {v:?} cannot be written into a systemd environment file (quotes, $, %, \\ or control characters): choose another"
            )));
        }
    }
    let dir = unit_dir();
    let env = env_dir();
    let bin = program(unit.kind)?;
    let env_path = env.join(unit.env_file_name());
    let existed = env_path.exists();
    let mut wrote = put(
        &dir.join(unit.template_name()),
        &units::template(unit.kind, &bin, &env),
    )?;
    for (name, text) in units::targets() {
        wrote |= put(&dir.join(name), &text)?;
    }
    wrote |= put(&env_path, &units::env_file(unit, settings))?;
    if wrote {
        systemctl(&["daemon-reload"])?;
    }
    let name = unit.name();
    let enabled = systemctl(&["is-enabled", &name]).is_ok_and(|s| s == "enabled");
    if !enabled {
        systemctl(&[
            "enable",
            &name,
            "cephboot.target",
            "cephboot-mon.target",
            "cephboot-osd.target",
        ])?;
    }
    Ok(match (existed, wrote || !enabled) {
        (false, _) => Action::Created,
        (true, true) => Action::Updated,
        (true, false) => Action::Unchanged,
    })
}

/// Whether `unit` runs.
pub fn is_active(unit: &DaemonUnit) -> bool {
    exec::run(
        "systemctl",
        &["is-active", "--quiet", &unit.name()],
        None,
        Duration::from_secs(20),
    )
    .is_ok()
}

/// Starts `unit` (clearing a start limit reached earlier).
pub fn start(unit: &DaemonUnit) -> Result<()> {
    let name = unit.name();
    let _ = systemctl(&["reset-failed", &name]);
    systemctl(&["start", &name]).map(|_| ())
}

/// Stops `unit` (it stays enabled).
pub fn stop(unit: &DaemonUnit) -> Result<()> {
    systemctl(&["stop", &unit.name()]).map(|_| ())
}

/// The process systemd runs for `unit`, if any.
pub fn main_pid(unit: &DaemonUnit) -> Option<u32> {
    systemctl(&["show", "-p", "MainPID", "--value", &unit.name()])
        .ok()?
        .parse()
        .ok()
        .filter(|p| *p != 0)
}

/// Whether `unit` was installed by cephboot (its environment file exists).
pub fn is_installed(unit: &DaemonUnit) -> bool {
    env_dir().join(unit.env_file_name()).exists()
}

/// Stops and disables `unit`; with `forget`, its environment file goes too (the daemon is
/// gone for good). Whether it was installed.
pub fn retire(unit: &DaemonUnit, forget: bool) -> Result<bool> {
    if !is_installed(unit) {
        return Ok(false);
    }
    let name = unit.name();
    systemctl(&["disable", "--now", &name])?;
    let _ = systemctl(&["reset-failed", &name]);
    if forget {
        let p = env_dir().join(unit.env_file_name());
        std::fs::remove_file(&p).context(|| format!("removing {}", p.display()))?;
    }
    Ok(true)
}

/// The units cephboot installed for the cluster whose config is `conf` (from their
/// environment files).
pub fn installed_for(conf: &Path) -> Vec<DaemonUnit> {
    let conf = conf.display().to_string();
    let Ok(rd) = std::fs::read_dir(env_dir()) else {
        return Vec::new();
    };
    let mut found: Vec<DaemonUnit> = rd
        .filter_map(std::result::Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = match name.split('@').next()? {
                "mon" => DaemonKind::Mon,
                "mgr" => DaemonKind::Mgr,
                "osd" => DaemonKind::Osd,
                _ => return None,
            };
            let text = std::fs::read_to_string(e.path()).ok()?;
            let value = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                    .map(str::to_string)
            };
            if value("CEPH_CONF")? != conf {
                return None;
            }
            Some(DaemonUnit::new(kind, &value("CLUSTER")?, &value("ID")?))
        })
        .collect();
    found.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    found
}
