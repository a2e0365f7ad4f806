//! `cephboot daemon`: watches the kernel's uevents (no polling while idle), keeps an inventory
//! of the host's disks, prepares and activates disks that carry a bootstrap label (with
//! `auto_prepare`), and answers a local HTTP/JSON API on a root-only Unix socket.
//!
//! Jobs run the same engine as the command line, as a child `cephboot osd prepare` /
//! `osd activate` process each: a job that crashes cannot take the daemon with it, and a job
//! killed at any point is recovered by the next prepare (see docs/prepare.md).

pub mod config;
pub mod events;
pub mod http;
pub mod metrics;
pub mod scrape;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, Semaphore};

use self::config::DaemonConfig;
use self::events::Event;
use self::state::{now, DaemonState, JobState};
use crate::disk::inventory::{self, Filter, Roots};
use crate::disk::label::LabelGrammar;
use crate::disk::uevent;
use crate::error::{Error, IoContext, Result};
use crate::osd::batch::{Action, ItemSummary};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// API socket.
    pub socket: PathBuf,
    /// The merged configuration.
    pub config: DaemonConfig,
    /// Label grammar.
    pub grammar: LabelGrammar,
    /// Global arguments passed to job processes (`--state-dir`, `--conf`, ...).
    pub child_args: Vec<String>,
    /// Quiet period after the last event of a disk before it is read.
    pub debounce: Duration,
    /// cephboot's state dir (the disks whose OSD the operator removed are recorded there).
    pub state_dir: PathBuf,
}

struct Shared {
    state: Mutex<DaemonState>,
    opts: DaemonOptions,
    events: broadcast::Sender<String>,
    slots: Arc<Semaphore>,
    jobs: mpsc::UnboundedSender<u64>,
    started: Instant,
    /// Kernel uevents received (the uevent thread counts them).
    uevents: Arc<AtomicU64>,
    /// Held while an `osd activate --all` runs: one at a time (a disk that comes back starts
    /// one, several at once queue here and the later ones find their OSDs running).
    activating: tokio::sync::Mutex<()>,
    /// Held while a spec job's `osd apply` runs: one at a time, so that two disks never
    /// count the same `limit` room or the same free db slot.
    spec_jobs: tokio::sync::Mutex<()>,
    /// This host as the spec's placement sees it.
    host: crate::spec::select::Host,
    /// The config's allow/deny policy.
    policy: crate::disk::policy::DevicePolicy,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, DaemonState> {
        // A panic while holding the lock cannot leave the plain data inconsistent enough to
        // matter more than stopping the daemon would; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, event: Event) {
        if let Ok(text) = serde_json::to_string(&event) {
            let _ = self.events.send(text);
        }
    }

    /// Disks whose OSD the operator removed (read at each decision: `osd remove` runs
    /// beside the daemon). An unreadable record is logged and taken as empty.
    fn removed_disks(&self) -> Vec<crate::osd::removed::RemovedDisk> {
        if self.opts.config.specs.is_empty() {
            return Vec::new();
        }
        crate::osd::removed::load(&self.opts.state_dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the removed disks: every blank disk the spec selects is taken");
            Vec::new()
        })
    }

    /// The daemon's specs with their `paths` resolved now (a `/dev/disk/by-id` link names a
    /// disk only while it is plugged in).
    fn resolved_specs(&self) -> Vec<crate::spec::parse::OsdSpec> {
        let mut specs = self.opts.config.specs.clone();
        if specs.iter().any(|s| {
            !s.data.paths.is_empty()
                || s.db.as_ref().is_some_and(|d| !d.paths.is_empty())
                || s.wal.as_ref().is_some_and(|d| !d.paths.is_empty())
        }) {
            for missing in crate::spec::apply::resolve_paths(&mut specs, &self.host) {
                tracing::debug!(%missing, "a spec's path is not here now");
            }
        }
        specs
    }

    fn spec_context<'a>(
        &'a self,
        specs: &'a [crate::spec::parse::OsdSpec],
        removed: &'a [crate::osd::removed::RemovedDisk],
    ) -> state::SpecContext<'a> {
        state::SpecContext {
            specs,
            host: &self.host,
            grammar: &self.opts.grammar,
            policy: &self.policy,
            removed,
        }
    }

    /// Queues a job for disk `name` when the state says so.
    fn maybe_queue(&self, name: &str, origin: &'static str) {
        if !self.opts.config.auto_prepare {
            return;
        }
        let allowed = self.opts.config.allows(name);
        let removed = self.removed_disks();
        let specs = self.resolved_specs();
        let (id, by_spec) = {
            let mut st = self.state();
            let by_spec = if st.wants_job(name, allowed) {
                false
            } else {
                let verdict = st.spec_decision(name, allowed, &self.spec_context(&specs, &removed));
                if verdict != state::SpecVerdict::Takes {
                    if let Some(why) = st.note_spec_wait(name, verdict) {
                        tracing::warn!(
                            disk = name,
                            reason = %why,
                            "the OSD spec selects this disk but cannot make its OSD now: free a fast device's slot or change the spec"
                        );
                    }
                    return;
                }
                true
            };
            st.spec_waiting.remove(name);
            (st.add_job(name, origin, false, by_spec), by_spec)
        };
        tracing::info!(job = id, disk = name, origin, by_spec, "queued osd prepare");
        self.emit(Event::Job {
            id,
            device: format!("/dev/{name}"),
            state: JobState::Queued,
            error: None,
        });
        let _ = self.jobs.send(id);
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: DaemonOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(|| "starting the async runtime")?;
    rt.block_on(serve(opts))
}

fn bind(socket: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(Error::Usage(format!(
                "{} is in use: another cephboot daemon runs (see `cephboot status`)",
                socket.display()
            )));
        }
        std::fs::remove_file(socket)
            .context(|| format!("removing the stale socket {}", socket.display()))?;
    }
    let l = UnixListener::bind(socket).context(|| format!("listening on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .context(|| format!("setting the mode of {}", socket.display()))?;
    Ok(l)
}

fn sd_notify(msg: &str) {
    use std::os::linux::net::SocketAddrExt;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let p = path.to_string_lossy().into_owned();
    let _ = match p.strip_prefix('@') {
        Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| sock.send_to_addr(msg.as_bytes(), &a)),
        None => sock.send_to(msg.as_bytes(), &p),
    };
}

fn scan_all() -> inventory::Snapshot {
    inventory::scan(
        &Roots::default(),
        &Filter {
            all: true,
            only: vec![],
        },
    )
}

/// Reads kernel events on a thread of their own (a blocking recv: no wake-ups while idle),
/// counting each in `seen`; the disks they are about arrive on the returned channel.
fn read_uevents(
    uevents: cephboot_ffi::uevent::UeventSocket,
    seen: Arc<AtomicU64>,
) -> Result<mpsc::UnboundedReceiver<String>> {
    let (disk_tx, disk_rx) = mpsc::unbounded_channel::<String>();
    std::thread::Builder::new()
        .name("uevents".into())
        .spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = uevents.recv(&mut buf) {
                seen.fetch_add(1, Ordering::Relaxed);
                if let Some(disk) = buf
                    .get(..n)
                    .and_then(uevent::parse)
                    .as_ref()
                    .and_then(uevent::disk_of)
                {
                    if disk_tx.send(disk).is_err() {
                        break;
                    }
                }
            }
        })
        .context(|| "starting the uevent thread")?;
    Ok(disk_rx)
}

async fn serve(opts: DaemonOptions) -> Result<()> {
    let listener = bind(&opts.socket)?;
    let uevents = cephboot_ffi::uevent::UeventSocket::open().map_err(|e| {
        Error::io(
            "opening the kernel uevent socket (NETLINK_KOBJECT_UEVENT)",
            e,
        )
    })?;
    let (job_tx, job_rx) = mpsc::unbounded_channel::<u64>();
    let (events, _) = broadcast::channel(1024);
    let host = crate::spec::select::Host {
        name: crate::host::short_hostname(),
        labels: opts.config.host_labels.clone(),
    };
    let policy = opts.config.policy();
    let shared = Arc::new(Shared {
        state: Mutex::new(DaemonState::default()),
        slots: Arc::new(Semaphore::new(opts.config.concurrency)),
        spec_jobs: tokio::sync::Mutex::new(()),
        host,
        policy,
        opts,
        events,
        jobs: job_tx,
        started: Instant::now(),
        uevents: Arc::new(AtomicU64::new(0)),
        activating: tokio::sync::Mutex::new(()),
    });

    let disk_rx = read_uevents(uevents, shared.uevents.clone())?;

    // One full scan at start.
    let t0 = Instant::now();
    let snap = tokio::task::spawn_blocking(scan_all)
        .await
        .map_err(|e| Error::Internal(format!("the scan task failed: {e}")))?;
    shared.state().last_full_scan = Some(t0.elapsed());
    let names: Vec<String> = snap
        .devices
        .iter()
        .filter(|d| d.kind == inventory::DeviceKind::Disk)
        .map(|d| d.name.clone())
        .collect();
    shared.state().last_full_scan_disks = Some(names.len() as u64);
    shared.state().set_snapshot(snap, &shared.opts.grammar);
    tokio::spawn(dispatch_jobs(shared.clone(), job_rx));
    if shared.opts.config.auto_prepare {
        // Start prepared OSDs that are not running (after a reboot or a restart of this
        // daemon), then take labelled disks.
        tokio::spawn(activate_all(shared.clone()));
        for n in &names {
            shared.maybe_queue(n, "startup");
        }
    }
    tokio::spawn(debounce(shared.clone(), disk_rx));
    start_metrics_outlets(&shared).await?;
    sd_notify("READY=1");
    tracing::info!(socket = %shared.opts.socket.display(), auto_prepare = shared.opts.config.auto_prepare, "ready");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context(|| "installing SIGTERM handler")?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context(|| "installing SIGINT handler")?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(handle(shared.clone(), stream));
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }

    // Stop taking jobs; let running ones reach their end (bounded).
    sd_notify("STOPPING=1");
    shared.state().draining = true;
    tracing::info!("stopping: waiting for running jobs");
    let deadline = Instant::now() + Duration::from_secs(90);
    while shared
        .state()
        .jobs
        .iter()
        .any(|j| j.state == JobState::Running)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_file(&shared.opts.socket);
    if let Some(p) = &shared.opts.config.metrics.textfile {
        scrape::remove_textfile(p);
    }
    Ok(())
}

/// The TCP listener and the textfile of `[metrics]`, where the config asks for them.
async fn start_metrics_outlets(shared: &Arc<Shared>) -> Result<()> {
    let m = &shared.opts.config.metrics;
    let s = shared.clone();
    let render: scrape::Render = Arc::new(move || metrics_text(&s));
    if let Some(addr) = m.listen_addr() {
        let listener = scrape::bind(addr).await?;
        tracing::info!(%addr, "serving GET /metrics");
        tokio::spawn(scrape::serve(listener, m.max_connections, render.clone()));
    }
    if let Some(path) = m.textfile.clone() {
        tracing::info!(file = %path.display(), every_secs = m.textfile_interval_secs, "writing the metrics textfile");
        tokio::spawn(scrape::write_textfile_every(
            path,
            Duration::from_secs(m.textfile_interval_secs),
            render,
        ));
    }
    Ok(())
}

/// Collects events per disk and reads a disk once it has been quiet for the debounce period.
async fn debounce(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut pending: std::collections::BTreeMap<String, tokio::time::Instant> =
        std::collections::BTreeMap::new();
    loop {
        let next = pending.values().min().copied();
        let event = match next {
            Some(at) => tokio::select! {
                e = rx.recv() => e.map(Some),
                _ = tokio::time::sleep_until(at) => Some(None),
            },
            None => rx.recv().await.map(Some),
        };
        match event {
            None => return,
            Some(Some(disk)) => {
                shared.state().disk_events += 1;
                pending.insert(disk, tokio::time::Instant::now() + shared.opts.debounce);
            }
            Some(None) => {
                let now = tokio::time::Instant::now();
                let due: Vec<String> = pending
                    .iter()
                    .filter(|(_, t)| **t <= now)
                    .map(|(d, _)| d.clone())
                    .collect();
                for d in due {
                    pending.remove(&d);
                    rescan(&shared, &d).await;
                }
            }
        }
    }
}

/// Reads one disk afresh, off the async threads (`None` if the scan task died).
async fn scan_one(name: &str) -> Option<(inventory::Snapshot, Duration)> {
    let n = name.to_string();
    tokio::task::spawn_blocking(move || {
        let t0 = Instant::now();
        let snap = crate::disk::listing::scan_disk_names(vec![n]);
        (snap, t0.elapsed())
    })
    .await
    .ok()
}

/// Re-reads one disk and acts on what changed.
async fn rescan(shared: &Arc<Shared>, name: &str) {
    // With udevd running, let it finish with the device before reading it.
    // (udevadm comes from the system directories, like every program cephboot runs.)
    if let (true, Ok(udevadm)) = (uevent::udevd_runs(), crate::exec::resolve("udevadm")) {
        let _ = tokio::process::Command::new(udevadm)
            .args(["settle", "--timeout=10"])
            .env_remove("NOTIFY_SOCKET")
            .stdin(std::process::Stdio::null())
            .status()
            .await;
    }
    let Some((fresh, took)) = scan_one(name).await else {
        return;
    };
    let mut gone = std::collections::BTreeSet::new();
    let (present, appeared, state) = {
        let mut st = shared.state();
        st.last_disk_scan = Some(took);
        let path = PathBuf::from(format!("/dev/{name}"));
        let was_present = st
            .snapshot
            .devices
            .iter()
            .any(|d| d.path == path && d.size_bytes > 0);
        let had = prepared_osds_on(&st.classified(), name);
        let present = st.replace_disk(name, fresh, &shared.opts.grammar);
        if was_present && !present {
            gone = had;
        }
        let state = st
            .classified()
            .iter()
            .find(|c| c.device.name == name)
            .map(|c| c.state().as_str());
        (present, present && !was_present, state)
    };
    tracing::debug!(disk = name, present, "disk re-read");
    shared.emit(Event::Disk {
        device: format!("/dev/{name}"),
        present,
        state,
    });
    if present {
        shared.maybe_queue(name, "hotplug");
    }
    // Disks waiting for a fast device of the spec: this event may have freed one (its OSD
    // removed) or plugged one.
    let waiting: Vec<String> = shared
        .state()
        .spec_waiting
        .keys()
        .filter(|w| w.as_str() != name)
        .cloned()
        .collect();
    for w in waiting {
        shared.maybe_queue(&w, "hotplug");
    }
    // A disk that carried an OSD went away: its ceph-osd cannot serve (it fails at its next
    // read), so it is stopped now and the cluster marks it down at once; its unit stays
    // enabled for when the disk returns.
    for osd in gone {
        tracing::warn!(
            disk = name,
            osd,
            "a prepared OSD's disk went away: osd stop"
        );
        tokio::spawn(run_osd_command(shared.clone(), "stop", Some(osd)));
    }
    if appeared {
        // A disk that carries a prepared OSD came (back): start that OSD. Only on arrival: a
        // change event of a disk that stays (an OSD stopped by `osd remove`, `cluster stop` or
        // an operator closes it; a prepare job renames its partitions) starts nothing.
        let ids = prepared_osds_on(&shared.state().classified(), name);
        for osd in ids {
            tracing::info!(
                disk = name,
                osd,
                "a prepared OSD's disk appeared: osd activate"
            );
            tokio::spawn(activate(shared.clone(), Some(osd)));
        }
    }
}

/// The ids of the prepared OSDs with a partition on disk `name` (or on it as a whole).
fn prepared_osds_on(
    classified: &[crate::disk::classify::Classified],
    name: &str,
) -> std::collections::BTreeSet<u32> {
    classified
        .iter()
        .filter(|c| {
            c.device.name == name
                || c.device
                    .parent
                    .as_deref()
                    .and_then(Path::file_name)
                    .is_some_and(|p| p == name)
        })
        .filter(|c| c.state() == crate::disk::classify::State::Prepared)
        .filter_map(|c| c.verdict.osd_id())
        .collect()
}

async fn dispatch_jobs(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<u64>) {
    while let Some(id) = rx.recv().await {
        let Ok(permit) = shared.slots.clone().acquire_owned().await else {
            return;
        };
        let s = shared.clone();
        tokio::spawn(async move {
            run_job(&s, id).await;
            drop(permit);
        });
    }
}

/// The binary this daemon runs, for its jobs. After a package upgrade (or a rebuild) replaced
/// the file on disk, the path `current_exe` gives names a deleted file (`... (deleted)`) that
/// cannot be started: `/proc/self/exe` still reaches the daemon's own binary then, so jobs
/// run the same code as the daemon until it is restarted.
fn own_binary() -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    if exe.exists() {
        Ok(exe)
    } else {
        Ok(std::path::PathBuf::from("/proc/self/exe"))
    }
}

/// Why a job failed: the reason the metrics count ([`metrics::FAIL_REASONS`]) and the message
/// the job shows.
#[derive(Debug, Clone)]
struct JobFailure {
    reason: &'static str,
    message: String,
}

fn failure(reason: &'static str, message: String) -> JobFailure {
    JobFailure { reason, message }
}

/// Runs `cephboot <global args> ARGS --format json` as a child, streaming its log into the
/// job; returns the parsed JSON output (or why it failed).
async fn child(
    shared: &Arc<Shared>,
    id: u64,
    args: &[&str],
) -> std::result::Result<Value, JobFailure> {
    let exe = own_binary()
        .map_err(|e| failure("other", format!("cannot find the cephboot binary: {e}")))?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(&shared.opts.child_args)
        .args(args)
        .args(["--format", "json"])
        .env("CEPHBOOT_LOG", "cephboot=info")
        .env(crate::exec::JOB_GROUP_ENV, "1")
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut proc = cmd.spawn().map_err(|e| {
        failure(
            "other",
            format!("cannot start cephboot {}: {e}", args.join(" ")),
        )
    })?;
    // The job is one process group: cephboot and every program it runs (mkfs, ceph-osd
    // --mkfs). Whatever ends the job early (timeout, the daemon stopping) kills the whole
    // group and waits for it, so no writer outlives the job and its disk's lock.
    let mut group = JobGroup(proc.id());
    let stderr = proc.stderr.take();
    let s = shared.clone();
    let logger = tokio::spawn(async move {
        let Some(err) = stderr else { return };
        let mut lines = BufReader::new(err).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(j) = s.state().job_mut(id) {
                if j.log.len() < 500 {
                    j.log.push(line.clone());
                }
            }
            s.emit(Event::Log { job: id, line });
        }
    });
    let timeout = Duration::from_secs(shared.opts.config.job_timeout_secs);
    let out = match tokio::time::timeout(timeout, proc.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Err(failure(
                "other",
                format!("waiting for cephboot {}: {e}", args.join(" ")),
            ))
        }
        Err(_) => {
            let left = match group.0 {
                Some(pgid) => tokio::task::spawn_blocking(move || {
                    crate::exec::kill_group_and_wait(pgid, Duration::from_secs(30))
                })
                .await
                .unwrap_or(false),
                None => true,
            };
            return Err(failure(
                "job_timeout",
                format!(
                    "cephboot {} did not finish within {}s; its process group was killed{}",
                    args.join(" "),
                    timeout.as_secs(),
                    if left {
                        ""
                    } else {
                        " but some of it is stuck (see the daemon log)"
                    }
                ),
            ));
        }
    };
    // Finished on its own: what it started and left running (an OSD it activated) is not
    // the job's to kill.
    group.0 = None;
    let _ = logger.await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if out.status.success() {
        Ok(v)
    } else {
        let detail = v
            .get("osds")
            .and_then(|o| o.get(0))
            .and_then(|o| o.get("reason").or_else(|| o.get("error")))
            .and_then(Value::as_str)
            .map(str::to_string);
        Err(failure(
            metrics::reason_of_exit(out.status.code()),
            detail.unwrap_or_else(|| {
                format!("cephboot {} exited with {}", args.join(" "), out.status)
            }),
        ))
    }
}

/// A job's process group, killed (and waited for, briefly) if the job is abandoned early.
struct JobGroup(Option<u32>);

impl Drop for JobGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            if !crate::exec::group_members(pgid).is_empty() {
                crate::exec::kill_group_and_wait(pgid, Duration::from_secs(5));
            }
        }
    }
}

/// A job's command line (pure): `osd prepare DISK`, or for a spec job `osd apply SPEC
/// --data-device DISK --skip-removed` (its fast devices chosen by the spec, leaving disks
/// whose OSD the operator removed), with the daemon's allow/deny policy, which the engine
/// applies to every device the plan touches (partners found by label included). `--wipe`
/// only when the API request asked for it, never on the daemon's own initiative.
fn job_args(config: &DaemonConfig, device: &str, wipe: bool, by_spec: bool) -> Vec<String> {
    let mut args: Vec<String> = if by_spec {
        let spec = config
            .spec
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let name = device.trim_start_matches("/dev/").to_string();
        let mut a = vec![
            "osd".into(),
            "apply".into(),
            spec,
            "--data-device".into(),
            name,
            "--skip-removed".into(),
        ];
        a.extend(
            config
                .host_labels
                .iter()
                .map(|l| format!("--host-label={l}")),
        );
        a.extend(
            config
                .override_list()
                .iter()
                .map(|o| format!("--override={}", o.to_arg())),
        );
        a
    } else {
        let mut a = vec!["osd".into(), "prepare".into(), device.to_string()];
        if config.encrypted {
            a.push("--encrypt".into());
        }
        if config.tpm2 {
            a.push("--tpm2".into());
            a.push(format!(
                "--tpm2-pcrs={}",
                config.tpm2_pcrs.as_deref().unwrap_or("7")
            ));
        }
        if let Some(class) = config.class_for(device.trim_start_matches("/dev/")) {
            a.push(format!("--device-class={class}"));
        }
        a
    };
    let policy = config.policy();
    args.extend(policy.allow.iter().map(|p| format!("--allow-device={p}")));
    args.extend(policy.deny.iter().map(|p| format!("--deny-device={p}")));
    if wipe {
        args.push("--wipe".into());
    }
    args
}

/// A job's work: `osd prepare` of the disk in a child, read back as the engine's report, then
/// `osd activate` of the OSD it made; the OSD id, or why not.
async fn prepare_and_activate(
    shared: &Arc<Shared>,
    id: u64,
    device: &str,
    wipe: bool,
    by_spec: bool,
) -> std::result::Result<u32, JobFailure> {
    let owned = job_args(&shared.opts.config, device, wipe, by_spec);
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let spec_turn = if by_spec {
        Some(shared.spec_jobs.lock().await)
    } else {
        None
    };
    let started = Instant::now();
    let v = child(shared, id, &args).await;
    shared
        .state()
        .prepare_seconds
        .observe(started.elapsed().as_secs_f64());
    let v = v?;
    drop(spec_turn);
    if by_spec
        && v.get("osds")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        let why = v
            .get("not_taken")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|n| n.get("device").and_then(Value::as_str) == Some(device))
            })
            .and_then(|n| n.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or("no spec applies to this host");
        return Err(failure(
            "nothing_selected",
            format!("the spec took nothing: {why}"),
        ));
    }
    // The child's report, read back as the engine's own type.
    let item: Option<ItemSummary> = v
        .get("osds")
        .and_then(|o| o.get(0))
        .cloned()
        .and_then(|i| serde_json::from_value(i).ok());
    match item {
        Some(ItemSummary {
            action: Action::Created | Action::Unchanged,
            osd_id: Some(osd),
            ..
        }) => {
            if let Some(j) = shared.state().job_mut(id) {
                j.osd_id = Some(osd);
            }
            if shared.state().draining {
                Err(failure("other", format!("osd.{osd} is prepared; the daemon stopped before activating it (the next start activates it)")))
            } else {
                let started = Instant::now();
                let activated = child(shared, id, &["osd", "activate", &osd.to_string()]).await;
                shared
                    .state()
                    .activate_seconds
                    .observe(started.elapsed().as_secs_f64());
                activated.map(|_| osd)
            }
        }
        Some(other) => Err(failure(
            "other",
            other
                .reason
                .unwrap_or_else(|| format!("unexpected result: {:?}", other.action)),
        )),
        None => Err(failure("other", format!("unexpected result: {v}"))),
    }
}

async fn run_job(shared: &Arc<Shared>, id: u64) {
    let (device, wipe, origin, by_spec) = {
        let st = shared.state();
        let Some(j) = st.jobs.iter().find(|j| j.id == id) else {
            return;
        };
        (j.device.clone(), j.wipe, j.origin, j.by_spec)
    };
    let name = device.trim_start_matches("/dev/").to_string();
    // Check again just before starting: the daemon may be stopping, and a disk queued for
    // its label may have been zapped or replaced meanwhile.
    let refusal = if shared.state().draining {
        Some("not started: the daemon is stopping".to_string())
    } else if origin != "api" {
        let fresh = scan_one(&name).await.map(|(s, _)| s).unwrap_or_default();
        let removed = shared.removed_disks();
        let specs = shared.resolved_specs();
        let mut st = shared.state();
        st.replace_disk(&name, fresh, &shared.opts.grammar);
        if by_spec {
            (!st.spec_selects(&name, &shared.spec_context(&specs, &removed)))
                .then(|| "not started: the spec no longer selects the disk".to_string())
        } else {
            (!st.is_bootstrap_ready(&name)).then(|| {
                "not started: the disk no longer carries a ready bootstrap label".to_string()
            })
        }
    } else {
        None
    };
    if let Some(why) = refusal {
        let mut st = shared.state();
        st.active.remove(&name);
        st.fail_job(id, "not_started", why.clone());
        drop(st);
        shared.emit(Event::Job {
            id,
            device: device.to_string(),
            state: JobState::Failed,
            error: Some(why),
        });
        return;
    }
    if let Some(j) = shared.state().job_mut(id) {
        j.state = JobState::Running;
    }
    shared.emit(Event::Job {
        id,
        device: device.to_string(),
        state: JobState::Running,
        error: None,
    });
    let result = prepare_and_activate(shared, id, &device, wipe, by_spec).await;
    let ok = result.is_ok();
    {
        let mut st = shared.state();
        st.active.remove(&name);
        if !ok {
            st.failed.insert(name.clone());
        }
        match &result {
            Ok(_) => {
                if let Some(j) = st.job_mut(id) {
                    j.finished_at = Some(now());
                    j.state = JobState::Succeeded;
                }
            }
            Err(e) => st.fail_job(id, e.reason, e.message.clone()),
        }
    }
    match &result {
        Ok(osd) => tracing::info!(job = id, disk = %device, osd, "prepared and started"),
        Err(e) => {
            tracing::warn!(job = id, disk = %device, error = %e.message, reason = e.reason, "job failed")
        }
    }
    shared.emit(Event::Job {
        id,
        device: device.to_string(),
        state: if ok {
            JobState::Succeeded
        } else {
            JobState::Failed
        },
        error: result.as_ref().err().map(|e| e.message.clone()),
    });
    // The disk read again after its job, off the job's slot: the read first waits for udevd
    // (`udevadm settle`, whose queue other jobs keep busy), and a slot held meanwhile would
    // keep the next disk waiting for nothing.
    let s = shared.clone();
    tokio::spawn(async move { rescan(&s, &name).await });
}

async fn activate_all(shared: Arc<Shared>) {
    activate(shared, None).await;
}

async fn activate(shared: Arc<Shared>, osd: Option<u32>) {
    run_osd_command(shared, "activate", osd).await;
}

/// `osd activate ID` (or `--all`) or `osd stop ID` as a child, one at a time; an activation's
/// report as an event.
async fn run_osd_command(shared: Arc<Shared>, verb: &'static str, osd: Option<u32>) {
    let _one = shared.activating.lock().await;
    let Ok(permit) = shared.slots.clone().acquire_owned().await else {
        return;
    };
    let exe = match own_binary() {
        Ok(e) => e,
        Err(_) => return,
    };
    let run = tokio::process::Command::new(exe)
        .args(&shared.opts.child_args)
        .args(["osd", verb])
        .args(match osd {
            Some(id) => vec![id.to_string()],
            // At the daemon's start: what no unit supervises yet; an OSD whose unit someone
            // stopped stays stopped (a restart of this daemon must not undo `osd stop`).
            None => vec!["--all".to_string(), "--keep-stopped".to_string()],
        })
        .args(["--format", "json"])
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(shared.opts.config.job_timeout_secs),
        run,
    )
    .await
    .unwrap_or_else(|_| Err(std::io::Error::other("timed out")));
    drop(permit);
    if verb == "activate" {
        shared
            .state()
            .activate_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    if let Ok(o) = out {
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if verb == "activate" {
            shared.emit(Event::Activate { result: v });
        } else {
            tracing::info!(osd = ?osd, result = %v, "osd {verb}");
        }
    }
}

async fn handle(shared: Arc<Shared>, stream: UnixStream) {
    let uid = stream.peer_cred().map(|c| c.uid()).ok();
    let mut stream = BufReader::new(stream);
    // Read the (bounded) request even from a refused peer: closing a Unix socket with unread
    // data resets it, and the client would see a reset instead of the 403.
    let req = match tokio::time::timeout(Duration::from_secs(10), http::read_request(&mut stream))
        .await
    {
        Ok(r) => r,
        Err(_) => Err(http::Reject {
            status: 408,
            message: "request not received within 10 s".into(),
        }),
    };
    if uid != Some(0) {
        http::respond(
            &mut stream,
            403,
            &http::error_body(403, "the cephboot API is for root only"),
        )
        .await;
        return;
    }
    let req = match req {
        Ok(r) => r,
        Err(rej) => {
            http::respond(
                &mut stream,
                rej.status,
                &http::error_body(rej.status, &rej.message),
            )
            .await;
            http::drain(&mut stream, 8 << 20, Duration::from_secs(2)).await;
            return;
        }
    };
    if req.method == "GET" && req.path == "/v1/events" {
        return events(&shared, stream).await;
    }
    if req.method == "GET" && matches!(req.path.trim_end_matches('/'), "/metrics" | "/v1/metrics") {
        let text = metrics_text(&shared);
        http::respond_text(&mut stream, 200, metrics::CONTENT_TYPE, &text).await;
        return;
    }
    let (status, body) = route(&shared, &req);
    http::respond(&mut stream, status, &body).await;
}

fn route(shared: &Arc<Shared>, req: &http::Request) -> (u16, Value) {
    let segments: Vec<&str> = req.path.trim_end_matches('/').split('/').skip(1).collect();
    let get = req.method == "GET";
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "health"]) => {
            let st = shared.state();
            (
                200,
                json!({
                    "status": if st.draining { "stopping" } else { "ok" },
                    "uptime_secs": shared.started.elapsed().as_secs(),
                    "auto_prepare": shared.opts.config.auto_prepare,
                    "disks": st.snapshot.devices.iter().filter(|d| d.kind == inventory::DeviceKind::Disk).count(),
                    "jobs": st.job_counts(),
                    "spec_waiting": st.spec_waiting,
                }),
            )
        }
        ("GET", ["v1", "disks"]) => (200, json!({"devices": shared.state().disk_reports()})),
        ("GET", ["v1", "osds"]) => {
            let st = shared.state();
            (
                200,
                json!({"osds": crate::osd::activate::find_prepared(&st.snapshot, &st.classified(), &crate::osd::activate::label_osd_uuid)}),
            )
        }
        ("GET", ["v1", "jobs"]) => (200, json!({"jobs": shared.state().jobs})),
        ("GET", ["v1", "jobs", id]) => match id
            .parse::<u64>()
            .ok()
            .and_then(|id| shared.state().jobs.iter().find(|j| j.id == id).cloned())
        {
            Some(j) => (200, json!(j)),
            None => (404, http::error_body(404, &format!("no job {id}"))),
        },
        ("POST", ["v1", "osd", "prepare"]) => post_prepare(shared, &req.body),
        (
            _,
            ["v1", "health" | "disks" | "osds" | "jobs" | "metrics"]
            | ["v1", "jobs", _]
            | ["metrics"],
        ) if !get => (405, http::error_body(405, "use GET")),
        (_, ["v1", "osd", "prepare"]) => (405, http::error_body(405, "use POST")),
        _ => (
            404,
            http::error_body(404, &format!("no route {} {}", req.method, req.path)),
        ),
    }
}

/// The Prometheus text of `GET /metrics`.
fn metrics_text(shared: &Arc<Shared>) -> String {
    let st = shared.state();
    let mut disks = std::collections::BTreeMap::new();
    for c in st.classified() {
        if c.device.kind == inventory::DeviceKind::Disk {
            *disks.entry(c.state().as_str().to_string()).or_insert(0) += 1;
        }
    }
    let jobs = st
        .job_counts()
        .into_iter()
        .map(|(k, n)| (k.to_string(), n as u64))
        .collect();
    let running = crate::cluster::daemons::running_osd_ids();
    let mut osds = std::collections::BTreeMap::new();
    for osd in crate::osd::activate::find_prepared(
        &st.snapshot,
        &st.classified(),
        &crate::osd::activate::label_osd_uuid,
    ) {
        let state = if running.contains(&osd.osd_id) {
            "running"
        } else {
            "stopped"
        };
        *osds.entry(state.to_string()).or_insert(0) += 1;
    }
    metrics::render(&metrics::Sample {
        disks,
        jobs,
        uevents: shared.uevents.load(Ordering::Relaxed),
        disk_events: st.disk_events,
        last_full_scan_seconds: st.last_full_scan.map(|d| d.as_secs_f64()),
        last_disk_scan_seconds: st.last_disk_scan.map(|d| d.as_secs_f64()),
        uptime_seconds: shared.started.elapsed().as_secs_f64(),
        draining: st.draining,
        last_full_scan_disks: st.last_full_scan_disks,
        osds,
        jobs_failed: st
            .jobs_failed
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
        prepare_seconds: st.prepare_seconds.clone(),
        activate_seconds: st.activate_seconds.clone(),
    })
}

fn post_prepare(shared: &Arc<Shared>, body: &[u8]) -> (u16, Value) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        device: String,
        #[serde(default)]
        wipe: bool,
    }
    let b: Body = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return (
                400,
                http::error_body(
                    400,
                    &format!("expected {{\"device\": \"/dev/sdX\", \"wipe\": false}}: {e}"),
                ),
            )
        }
    };
    let name = b.device.trim_start_matches("/dev/").to_string();
    let id = {
        let mut st = shared.state();
        if st.draining {
            return (503, http::error_body(503, "the daemon is stopping"));
        }
        if !st
            .snapshot
            .devices
            .iter()
            .any(|d| d.kind == inventory::DeviceKind::Disk && d.name == name)
        {
            return (
                404,
                http::error_body(404, &format!("{} is not a disk of this host", b.device)),
            );
        }
        if !shared.opts.config.allows(&name) {
            return (
                403,
                http::error_body(
                    403,
                    &format!(
                        "{} is excluded by the daemon's allow/deny patterns",
                        b.device
                    ),
                ),
            );
        }
        if st.active.contains(&name) {
            return (
                409,
                http::error_body(409, &format!("{} already has a job", b.device)),
            );
        }
        st.failed.remove(&name);
        st.add_job(&name, "api", b.wipe, false)
    };
    shared.emit(Event::Job {
        id,
        device: format!("/dev/{name}"),
        state: JobState::Queued,
        error: None,
    });
    let _ = shared.jobs.send(id);
    (202, json!({"job": id, "device": format!("/dev/{name}")}))
}

/// A server-sent event stream of job progress until the client goes away.
async fn events(shared: &Arc<Shared>, mut stream: BufReader<UnixStream>) {
    let mut rx = shared.events.subscribe();
    let s = stream.get_mut();
    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n").await.is_err() {
        return;
    }
    loop {
        match rx.recv().await {
            Ok(e) => {
                if s.write_all(format!("data: {e}\n\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                let _ = s
                    .write_all(
                        format!("data: {{\"type\":\"lagged\",\"missed\":{n}}}\n\n").as_bytes(),
                    )
                    .await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_the_command_line_the_config_says() {
        let mut config = DaemonConfig {
            deny: vec!["sda".into()],
            ..DaemonConfig::default()
        };
        assert_eq!(
            job_args(&config, "/dev/sdb", false, false),
            vec!["osd", "prepare", "/dev/sdb", "--deny-device=sda"]
        );
        config.encrypted = true;
        assert_eq!(
            job_args(&config, "/dev/sdb", true, false),
            vec![
                "osd",
                "prepare",
                "/dev/sdb",
                "--encrypt",
                "--deny-device=sda",
                "--wipe"
            ]
        );
        config.tpm2 = true;
        assert_eq!(
            job_args(&config, "/dev/sdb", false, false),
            vec![
                "osd",
                "prepare",
                "/dev/sdb",
                "--encrypt",
                "--tpm2",
                "--tpm2-pcrs=7",
                "--deny-device=sda"
            ]
        );
        config.tpm2_pcrs = Some("0+7".into());
        assert!(
            job_args(&config, "/dev/sdb", false, false).contains(&"--tpm2-pcrs=0+7".to_string())
        );
        config.spec = Some(std::path::PathBuf::from("/etc/cephboot/osds.yml"));
        config.host_labels = vec!["osd".into()];
        let by_spec = job_args(&config, "/dev/sdc", false, true);
        assert_eq!(
            by_spec,
            vec![
                "osd",
                "apply",
                "/etc/cephboot/osds.yml",
                "--data-device",
                "sdc",
                "--skip-removed",
                "--host-label=osd",
                "--deny-device=sda"
            ],
            "the spec says encrypted itself"
        );
    }

    #[test]
    fn the_configs_overrides_reach_both_kinds_of_job() {
        let config = DaemonConfig {
            spec: Some(std::path::PathBuf::from("/etc/cephboot/osds.yml")),
            overrides: vec![
                super::config::OverrideConfig {
                    devices: "sd[cd]".into(),
                    rotational: Some(false),
                    crush_device_class: None,
                },
                super::config::OverrideConfig {
                    devices: "/dev/sdd".into(),
                    rotational: None,
                    crush_device_class: Some("fast_ssd".into()),
                },
            ],
            ..DaemonConfig::default()
        };
        let by_spec = job_args(&config, "/dev/sde", false, true);
        assert_eq!(
            by_spec[6..],
            [
                "--override=sd[cd]:rotational=0",
                "--override=/dev/sdd:crush_device_class=fast_ssd"
            ],
            "{by_spec:?}"
        );
        assert_eq!(
            job_args(&config, "/dev/sdc", false, false),
            ["osd", "prepare", "/dev/sdc", "--device-class=ssd"],
            "a rotational override implies the class"
        );
        assert_eq!(
            job_args(&config, "/dev/sdd", false, false),
            ["osd", "prepare", "/dev/sdd", "--device-class=fast_ssd"],
            "the last override about the disk that gives a class wins"
        );
        assert_eq!(
            job_args(&config, "/dev/sdb", false, false),
            ["osd", "prepare", "/dev/sdb"]
        );
    }
}
