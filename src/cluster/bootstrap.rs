//! `cluster bootstrap`: a monitor and a manager on this host with every file under one state
//! directory (ceph.conf, keyrings, daemon data, pidfiles, logs). `--single-node`: on loopback
//! (`mon.a`, `mgr.x`), the all-in-one path, the demo, and what the tests use. `--mon-ip ADDR`:
//! on that address, both named after the host, the first host of a cluster that others join
//! (`cluster join`, in `join.rs`). Idempotent: a rerun reports `unchanged` when both daemons
//! run, and starts whichever is stopped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::daemons;
use crate::action::Action;
use crate::ceph::client::{CephClient, ConnectOptions, RadosClient};
use crate::ceph::commands;
use crate::ceph::conf::CephConf;
use crate::error::{Error, IoContext, Result};
use crate::exec;
use crate::supervise::systemd;
use crate::supervise::units::{DaemonKind, DaemonUnit, UnitSettings};
use crate::supervise::{self, Supervisor};

/// What to bootstrap.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    /// The state directory (created if missing).
    pub state_dir: PathBuf,
    /// Monitor port; a free one is chosen when `None`.
    pub port: Option<u16>,
    /// How long to wait for quorum and for the manager.
    pub timeout: Duration,
    /// `--mon-ip`: the monitor on this address (port 3300 unless `port`), the daemons named
    /// after the host. `None`: single node on 127.0.0.1.
    pub mon_ip: Option<std::net::IpAddr>,
}

/// One daemon's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonReport {
    /// `mon.a`, `mgr.x`.
    pub name: String,
    /// `started` or `unchanged`.
    pub action: Action,
    /// Pid.
    pub pid: Option<u32>,
}

/// The bootstrap outcome.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapReport {
    /// Whether anything changed.
    pub changed: bool,
    /// The cluster fsid.
    pub fsid: String,
    /// ceph.conf to pass as `--conf` / `CEPH_CONF`.
    pub conf: PathBuf,
    /// The admin keyring.
    pub admin_keyring: PathBuf,
    /// The monitor address.
    pub mon_host: String,
    /// Daemons.
    pub daemons: Vec<DaemonReport>,
}

/// Paths inside a state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// The directory.
    pub root: PathBuf,
}

impl StateDir {
    /// ceph.conf.
    pub fn conf(&self) -> PathBuf {
        self.root.join("ceph.conf")
    }
    /// A pidfile of daemon `name` (`mon.a`).
    pub fn pidfile(&self, name: &str) -> PathBuf {
        self.root.join("run").join(format!("ceph-{name}.pid"))
    }
    /// The admin keyring.
    pub fn admin_keyring(&self) -> PathBuf {
        self.root.join("ceph.client.admin.keyring")
    }
    /// A monitor's data dir.
    pub fn mon_data(&self, id: &str) -> PathBuf {
        self.root.join("mon").join(format!("ceph-{id}"))
    }
    /// A manager's data dir.
    pub fn mgr_data(&self, id: &str) -> PathBuf {
        self.root.join("mgr").join(format!("ceph-{id}"))
    }
    /// The id of the one daemon of `kind` (`mon`, `mgr`) whose data dir is here.
    fn existing_id(&self, kind: &str) -> Option<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.root.join(kind))
            .ok()?
            .filter_map(std::result::Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_prefix("ceph-")
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        ids.into_iter().next()
    }
}

/// The names and address of this host's monitor and manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Monitor id.
    pub mon: String,
    /// Manager id.
    pub mgr: String,
    /// The address they bind to.
    pub ip: String,
}

impl Site {
    /// A new host's: single node (`a`, `x`, loopback), or named after the host on `ip`.
    pub fn new(ip: Option<std::net::IpAddr>) -> Site {
        match ip {
            None => Site {
                mon: "a".into(),
                mgr: "x".into(),
                ip: "127.0.0.1".into(),
            },
            Some(ip) => {
                let host = crate::host::short_hostname();
                Site {
                    mon: host.clone(),
                    mgr: host,
                    ip: ip.to_string(),
                }
            }
        }
    }

    /// The site of an existing state dir: its monitor's data dir, its manager's, its address.
    fn existing(s: &StateDir, conf: &CephConf) -> Result<Site> {
        let mon = s
            .existing_id("mon")
            .filter(|id| s.mon_data(id).join("store.db").exists())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{} has a ceph.conf but no monitor data: it is not a cephboot state dir; remove it or choose another",
                    s.root.display()
                ))
            })?;
        let mgr =
            s.existing_id("mgr")
                .unwrap_or_else(|| if mon == "a" { "x".into() } else { mon.clone() });
        let ip = conf
            .global("public_addr")
            .unwrap_or("127.0.0.1")
            .to_string();
        Ok(Site { mon, mgr, ip })
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .context(|| "finding a free port on 127.0.0.1")?;
    l.local_addr()
        .map(|a| a.port())
        .context(|| "finding a free port")
}

pub(crate) fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).context(|| format!("creating {}", p.display()))
}

pub(crate) fn write_file(p: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, text).context(|| format!("writing {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .context(|| format!("setting the mode of {}", p.display()))
}

/// The ceph.conf of a single-node cluster whose files all live under `s`. `mon_addrv`: the
/// addresses this host's monitor binds (a joined monitor: `[v2:IP:3300]`), so that it is not
/// bound, and added to the monmap, on msgr1's 6789 as well: a monitor that is not yet in the
/// monmap otherwise binds both v2 and v1 of its `public addr`, whatever `ms bind msgr1` says.
pub(crate) fn render_conf(
    s: &StateDir,
    fsid: &str,
    mon_host: &str,
    ip: &str,
    mon_addrv: Option<&str>,
) -> String {
    let r = s.root.display();
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# Written by cephboot (`cluster bootstrap` or `cluster join`). Everything lives under {r}."
    );
    let _ = writeln!(c, "[global]");
    for (k, v) in [
        ("fsid", fsid.to_string()),
        ("mon host", mon_host.to_string()),
        ("public addr", ip.to_string()),
        ("cluster addr", ip.to_string()),
        ("ms bind msgr1", "false".into()),
        ("auth cluster required", "cephx".into()),
        ("auth service required", "cephx".into()),
        ("auth client required", "cephx".into()),
        ("auth allow insecure global id reclaim", "false".into()),
        ("run dir", format!("{r}/run")),
        ("pid file", format!("{r}/run/$cluster-$name.pid")),
        ("admin socket", format!("{r}/run/$cluster-$name.asok")),
        ("log file", format!("{r}/log/$cluster-$name.log")),
        ("keyring", format!("{r}/$cluster.$name.keyring")),
        ("mon data", format!("{r}/mon/$cluster-$id")),
        ("mgr data", format!("{r}/mgr/$cluster-$id")),
        ("osd data", format!("{r}/osd/$cluster-$id")),
        // Ceph's default journal path is not relative to `osd data`.
        ("osd journal", format!("{r}/osd/$cluster-$id/journal")),
        ("osd objectstore", "bluestore".into()),
        ("osd memory target", "939524096".into()),
        ("mon allow pool delete", "true".into()),
        // A loop-device test or demo host often has less than 30% free on its root disk.
        ("mon data avail warn", "10".into()),
    ] {
        let _ = writeln!(c, "{k} = {v}");
    }
    // A monitor authenticates to its peers with the mon. key `ceph-mon --mkfs` put in its data
    // dir (the global keyring is the client's).
    let _ = writeln!(c, "\n[mon]\nkeyring = {r}/mon/$cluster-$id/keyring");
    if let Some(addrv) = mon_addrv {
        let _ = writeln!(c, "public addrv = {addrv}");
    }
    let _ = writeln!(c, "\n[mgr]\nkeyring = {r}/mgr/$cluster-$id/keyring");
    let _ = writeln!(c, "\n[osd]\nkeyring = {r}/osd/$cluster-$id/keyring");
    c
}

/// Connects as client.admin to the cluster of this state dir.
pub fn admin_client(s: &StateDir, timeout: Duration) -> Result<RadosClient> {
    RadosClient::connect(&ConnectOptions {
        cluster: "ceph".into(),
        conf: s.conf(),
        name: "client.admin".into(),
        keyring: Some(s.admin_keyring()),
        timeout,
    })
}

fn wait_for<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> Result<T> {
    let step = crate::progress::step(format!("waiting for {what}"));
    step.end(poll(what, timeout, probe))
}

fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Result<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if started.elapsed() > timeout {
            return Err(Error::Timeout {
                what: what.into(),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl StateDir {
    /// The state directory (absolute) with its daemon subdirectories.
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        let root = std::path::absolute(dir).context(|| format!("resolving {}", dir.display()))?;
        let s = StateDir { root };
        for d in ["run", "log", "mon", "mgr", "osd"] {
            mkdir(&s.root.join(d))?;
        }
        Ok(s)
    }
}

pub(crate) fn start_daemon(s: &StateDir, bin: &str, id: &str) -> Result<()> {
    let conf = s.conf().display().to_string();
    exec::start_daemon(
        bin,
        &["--cluster", "ceph", "-c", &conf, "-i", id],
        Duration::from_secs(60),
    )
    .map_err(|e| match e {
        Error::Command {
            command, status, ..
        } => Error::Command {
            command,
            status,
            stderr: format!(
                "see {}/log/ceph-{}.{id}.log",
                s.root.display(),
                bin.trim_start_matches("ceph-")
            ),
        },
        other => other,
    })
}

/// Bootstraps (or restarts) the cluster of `req.state_dir` on this host.
pub fn bootstrap(req: &BootstrapRequest) -> Result<BootstrapReport> {
    exec::require(&["ceph-mon", "ceph-mgr", "ceph-authtool", "monmaptool"])?;
    let s = StateDir::create(&req.state_dir)?;
    let conf_path = s.conf();
    let (fsid, mon_host, site) = if conf_path.exists() {
        let conf =
            CephConf::read(&conf_path).context(|| format!("reading {}", conf_path.display()))?;
        let fsid = conf.fsid().map(str::to_string).ok_or_else(|| {
            Error::Usage(format!(
                "{} has no fsid: remove the state dir or choose another",
                conf_path.display()
            ))
        })?;
        let site = Site::existing(&s, &conf)?;
        (
            fsid,
            conf.global("mon_host").unwrap_or("").to_string(),
            site,
        )
    } else {
        let site = Site::new(req.mon_ip);
        let port = match (req.port, req.mon_ip) {
            (Some(p), _) => p,
            (None, Some(_)) => 3300,
            (None, None) => free_port()?,
        };
        let fsid = uuid::Uuid::new_v4().to_string();
        let mon_host = format!("v2:{}:{port}", site.ip);
        write_file(
            &conf_path,
            &render_conf(&s, &fsid, &mon_host, &site.ip, None),
            0o644,
        )?;
        create_keys(&s)?;
        let monmap = s.root.join("monmap");
        let _ = std::fs::remove_file(&monmap);
        exec::run(
            "monmaptool",
            &[
                "--create",
                "--add",
                &site.mon,
                &mon_host,
                "--fsid",
                &fsid,
                &monmap.display().to_string(),
            ],
            None,
            Duration::from_secs(30),
        )?;
        mkfs_mon(&s, &site.mon, &monmap)?;
        (fsid, mon_host, site)
    };
    let (changed, daemons_out) = start_site(&s, &site, req.timeout)?;
    Ok(BootstrapReport {
        changed,
        fsid,
        conf: conf_path,
        admin_keyring: s.admin_keyring(),
        mon_host,
        daemons: daemons_out,
    })
}

/// What `bootstrap` (or `join`) would do on this host, changing nothing (`--dry-run`): with
/// a state dir that holds a cluster, each daemon `unchanged` when it runs, else
/// `would_start`; without one, `would_create` for a monitor and a manager named as `site`
/// says, in a cluster whose fsid is `fsid` (empty: a new one, made then).
pub fn preview(
    state_dir: &Path,
    new_site: &Site,
    fsid: &str,
    new_mon_host: &str,
) -> Result<BootstrapReport> {
    let s = StateDir {
        root: state_dir.to_path_buf(),
    };
    let conf_path = s.conf();
    if conf_path.exists() {
        let conf =
            CephConf::read(&conf_path).context(|| format!("reading {}", conf_path.display()))?;
        let site = Site::existing(&s, &conf)?;
        let daemons = [(DaemonKind::Mon, &site.mon), (DaemonKind::Mgr, &site.mgr)]
            .into_iter()
            .map(|(kind, id)| {
                let pid = running_pid(&s, kind, id);
                DaemonReport {
                    name: format!("{}.{id}", kind.as_str()),
                    action: if pid.is_some() {
                        Action::Unchanged
                    } else {
                        Action::WouldStart
                    },
                    pid,
                }
            })
            .collect();
        return Ok(BootstrapReport {
            changed: false,
            fsid: conf.fsid().unwrap_or_default().to_string(),
            conf: conf_path,
            admin_keyring: s.admin_keyring(),
            mon_host: conf.global("mon_host").unwrap_or("").to_string(),
            daemons,
        });
    }
    Ok(BootstrapReport {
        changed: false,
        fsid: fsid.to_string(),
        conf: conf_path,
        admin_keyring: s.admin_keyring(),
        mon_host: new_mon_host.to_string(),
        daemons: vec![
            DaemonReport {
                name: format!("mon.{}", new_site.mon),
                action: Action::WouldCreate,
                pid: None,
            },
            DaemonReport {
                name: format!("mgr.{}", new_site.mgr),
                action: Action::WouldCreate,
                pid: None,
            },
        ],
    })
}

/// Starts this host's monitor (waiting until it is in the quorum) and manager (waiting until
/// a manager is available), each only when it is not running.
pub(crate) fn start_site(
    s: &StateDir,
    site: &Site,
    timeout: Duration,
) -> Result<(bool, Vec<DaemonReport>)> {
    let mut daemons_out = Vec::new();
    let mut changed = false;
    let mon_name = format!("mon.{}", site.mon);
    let mon_action = ensure_running(s, DaemonKind::Mon, &site.mon)?;
    changed |= mon_action.changed();
    let client = wait_for("the monitor to form a quorum", timeout, || {
        let c = admin_client(s, Duration::from_secs(5)).ok()?;
        let q = c.mon(json!({"prefix": "quorum_status"})).ok()?;
        q.get("quorum_names")?
            .as_array()?
            .iter()
            .any(|n| n.as_str() == Some(site.mon.as_str()))
            .then_some(c)
    })?;
    daemons_out.push(DaemonReport {
        name: mon_name,
        action: mon_action,
        pid: running_pid(s, DaemonKind::Mon, &site.mon),
    });

    let mgr_name = format!("mgr.{}", site.mgr);
    let mgr_keyring = s.mgr_data(&site.mgr).join("keyring");
    if !mgr_keyring.exists() {
        mkdir(&s.mgr_data(&site.mgr))?;
        let keyring = commands::auth_get_or_create_keyring(
            &client,
            &mgr_name,
            &[
                ("mon", "allow profile mgr"),
                ("osd", "allow *"),
                ("mds", "allow *"),
            ],
        )?;
        crate::files::write_private(&mgr_keyring, keyring.as_bytes())?;
    }
    let mgr_action = ensure_running(s, DaemonKind::Mgr, &site.mgr)?;
    changed |= mgr_action.changed();
    wait_for("the manager to become available", timeout, || {
        let v = client.mon(json!({"prefix": "mgr stat"})).ok()?;
        v.get("available")
            .and_then(serde_json::Value::as_bool)
            .filter(|a| *a)
    })?;
    daemons_out.push(DaemonReport {
        name: mgr_name,
        action: mgr_action,
        pid: running_pid(s, DaemonKind::Mgr, &site.mgr),
    });
    Ok((changed, daemons_out))
}

fn program(kind: DaemonKind) -> &'static str {
    match kind {
        DaemonKind::Mon => "ceph-mon",
        DaemonKind::Mgr => "ceph-mgr",
        DaemonKind::Osd => "ceph-osd",
    }
}

/// The unit settings of this state directory's daemons.
fn unit_settings(s: &StateDir) -> UnitSettings {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    UnitSettings {
        state_dir: abs(&s.root),
        conf: abs(&s.conf()),
        // Unused by monitors and managers.
        label_prefix: "KOLLA_CEPH".to_string(),
    }
}

/// The pid of monitor or manager `id`: by its pidfile, or as systemd knows it.
fn running_pid(s: &StateDir, kind: DaemonKind, id: &str) -> Option<u32> {
    daemons::running_pid(
        &s.pidfile(&format!("{}.{id}", kind.as_str())),
        program(kind),
    )
    .or_else(|| {
        (supervise::detect() == Supervisor::Systemd)
            .then(|| systemd::main_pid(&DaemonUnit::new(kind, "ceph", id)))
            .flatten()
    })
}

/// Starts monitor or manager `id` unless it runs: where systemd supervises the host, under
/// its unit (installed and enabled, so it comes back after a reboot or a crash); elsewhere in
/// the background, found again by its pidfile. A daemon already running keeps running (its
/// unit is enabled for the next boot: `updated`).
fn ensure_running(s: &StateDir, kind: DaemonKind, id: &str) -> Result<Action> {
    let bin = program(kind);
    let by_pidfile = daemons::running_pid(&s.pidfile(&format!("{}.{id}", kind.as_str())), bin);
    if supervise::detect() == Supervisor::Systemd {
        let unit = DaemonUnit::new(kind, "ceph", id);
        let installed = systemd::install(&unit, &unit_settings(s))?;
        if systemd::is_active(&unit) || by_pidfile.is_some() {
            return Ok(if installed == Action::Unchanged {
                Action::Unchanged
            } else {
                Action::Updated
            });
        }
        systemd::start(&unit).map_err(|e| Error::Device {
            device: PathBuf::from(unit.name()),
            message: format!("{e}; see `journalctl -u {}`", unit.name()),
        })?;
        return Ok(Action::Started);
    }
    if by_pidfile.is_some() {
        return Ok(Action::Unchanged);
    }
    start_daemon(s, bin, id)?;
    Ok(Action::Started)
}

/// The keyrings of a new cluster: `mon.` (holding the admin and bootstrap-osd keys too), the
/// admin's and bootstrap-osd's.
fn create_keys(s: &StateDir) -> Result<()> {
    let t = Duration::from_secs(30);
    let mon_keyring = s.root.join("mon.keyring");
    let mk = |path: &Path, name: &str, caps: &[(&str, &str)]| -> Result<()> {
        let p = path.display().to_string();
        let mut args: Vec<String> = vec![
            "--create-keyring".into(),
            p,
            "--gen-key".into(),
            "-n".into(),
            name.into(),
        ];
        for (k, v) in caps {
            args.extend(["--cap".to_string(), k.to_string(), v.to_string()]);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        exec::run("ceph-authtool", &a, None, t)?;
        Ok(())
    };
    mk(&mon_keyring, "mon.", &[("mon", "allow *")])?;
    mk(
        &s.admin_keyring(),
        "client.admin",
        &[
            ("mon", "allow *"),
            ("osd", "allow *"),
            ("mds", "allow *"),
            ("mgr", "allow *"),
        ],
    )?;
    let bootstrap_osd = s.root.join("ceph.client.bootstrap-osd.keyring");
    mk(
        &bootstrap_osd,
        "client.bootstrap-osd",
        &[("mon", "profile bootstrap-osd"), ("mgr", "allow r")],
    )?;
    for k in [s.admin_keyring(), bootstrap_osd] {
        exec::run(
            "ceph-authtool",
            &[
                &mon_keyring.display().to_string(),
                "--import-keyring",
                &k.display().to_string(),
            ],
            None,
            t,
        )?;
    }
    Ok(())
}

/// `ceph-mon --mkfs` of monitor `id` from `monmap` and the state dir's `mon.keyring`.
pub(crate) fn mkfs_mon(s: &StateDir, id: &str, monmap: &Path) -> Result<()> {
    let conf = s.conf().display().to_string();
    let mon_keyring = s.root.join("mon.keyring");
    exec::run(
        "ceph-mon",
        &[
            "--cluster",
            "ceph",
            "-c",
            &conf,
            "--mkfs",
            "-i",
            id,
            "--monmap",
            &monmap.display().to_string(),
            "--keyring",
            &mon_keyring.display().to_string(),
        ],
        None,
        Duration::from_secs(60),
    )?;
    Ok(())
}

/// One stopped daemon.
#[derive(Debug, Clone, Serialize)]
pub struct StopReport {
    /// Daemons that were running and are now stopped.
    pub stopped: Vec<String>,
    /// Whether anything changed.
    pub changed: bool,
}

/// Stops every daemon of the state dir (OSDs, manager, monitor): their systemd units stopped
/// and disabled, then whatever runs by pidfile.
pub fn stop(state_dir: &Path) -> Result<StopReport> {
    let s = StateDir {
        root: state_dir.to_path_buf(),
    };
    let mut stopped = Vec::new();
    // Under systemd: stopped and disabled, so they stay down across a reboot until
    // `cluster bootstrap` / `osd activate` start them again.
    if supervise::detect() == Supervisor::Systemd {
        let conf = std::path::absolute(s.conf()).unwrap_or_else(|_| s.conf());
        let mut units = systemd::installed_for(&conf);
        // OSDs first, the monitor last.
        units.sort_by_key(|u| std::cmp::Reverse(u.kind));
        for unit in units {
            if systemd::retire(&unit, false)? {
                stopped.push(format!(
                    "{}.{} ({})",
                    unit.kind.as_str(),
                    unit.id,
                    unit.name()
                ));
            }
        }
    }
    let run = s.root.join("run");
    let mut osds: Vec<PathBuf> = std::fs::read_dir(&run)
        .map(|rd| {
            rd.filter_map(std::result::Result::ok)
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    osds.retain(|p| {
        p.file_name().is_some_and(|n| {
            n.to_string_lossy().starts_with("ceph-osd.") && n.to_string_lossy().ends_with(".pid")
        })
    });
    osds.sort();
    for p in osds {
        if daemons::stop(&p, "ceph-osd", Duration::from_secs(20)) {
            stopped.push(
                p.file_stem()
                    .map(|n| n.to_string_lossy().trim_start_matches("ceph-").to_string())
                    .unwrap_or_default(),
            );
        }
    }
    for (kind, comm) in [("mgr", "ceph-mgr"), ("mon", "ceph-mon")] {
        let Some(id) = s.existing_id(kind) else {
            continue;
        };
        let name = format!("{kind}.{id}");
        if daemons::stop(&s.pidfile(&name), comm, Duration::from_secs(20)) {
            stopped.push(name);
        }
    }
    Ok(StopReport {
        changed: !stopped.is_empty(),
        stopped,
    })
}
