//! External programs: one table of every program cephboot runs ([`PROGRAMS`]), each found once
//! in the system directories (never through `PATH`), run with a timeout and bounded captured
//! output; every failure carries the full command line and the tail of stderr.
//!
//! Process groups: from a shell, every program cephboot runs is a process group of its own,
//! and a timeout kills the whole group (mkfs with any helper it started) and waits until none
//! of it is left before cephboot goes on — so no writer outlives the disk lock. Under a daemon
//! job (`CEPHBOOT_JOB_GROUP` set by the daemon) the programs stay in the job's group instead,
//! which the daemon kills and waits for as a whole when the job times out.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};

/// Every program cephboot runs. Looked up only in the system directories (never `PATH`: a
/// privileged tool must not run whatever an environment puts first) and only once a process.
pub const PROGRAMS: &[&str] = &[
    "ceph-authtool",
    "ceph-bluestore-tool",
    "ceph-mgr",
    "ceph-mon",
    "ceph-osd",
    "cryptsetup",
    "losetup",
    "lvchange",
    "lvremove",
    "lvs",
    "mkfs.xfs",
    "monmaptool",
    "mount",
    "pvremove",
    "pvs",
    "systemctl",
    "systemd-cryptenroll",
    "systemd-cryptsetup",
    "udevadm",
    "umount",
    "vgremove",
];

/// Where programs are looked for, in order (systemd keeps its helpers, systemd-cryptsetup
/// among them, in its own directory).
const SYSTEM_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/lib/systemd",
    "/lib/systemd",
];

/// Largest output kept of one program (the rest is read and dropped).
const MAX_CAPTURE: usize = 16 << 20;

static RESOLVED: std::sync::Mutex<BTreeMap<&'static str, PathBuf>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The path of program `name` (one of [`PROGRAMS`]), found once in the system directories.
pub fn resolve(name: &str) -> Result<PathBuf> {
    let Some(&known) = PROGRAMS.iter().find(|&&p| p == name) else {
        return Err(Error::Internal(format!("{name} is not in exec::PROGRAMS")));
    };
    if let Some(p) = RESOLVED.lock().ok().and_then(|m| m.get(known).cloned()) {
        return Ok(p);
    }
    let found = SYSTEM_DIRS
        .iter()
        .map(|d| Path::new(d).join(known))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{known} is not installed (looked in {}): run scripts/install-deps",
                SYSTEM_DIRS.join(", ")
            ))
        })?;
    if let Ok(mut m) = RESOLVED.lock() {
        m.insert(known, found.clone());
    }
    Ok(found)
}

/// Checks, before a command does anything, that every program it will need is installed: a
/// missing `mkfs.xfs` is said at the start, not after a disk was wiped.
pub fn require(names: &[&str]) -> Result<()> {
    names.iter().try_for_each(|n| resolve(n).map(|_| ()))
}

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Reads a pipe to its end on a thread, keeping at most [`MAX_CAPTURE`] bytes, so a chatty
/// program can neither block on a full pipe nor fill cephboot's memory.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let Some(mut p) = pipe else { return kept };
        let mut buf = [0u8; 8192];
        loop {
            match p.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = MAX_CAPTURE.saturating_sub(kept.len());
                    kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or(&[]));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

/// Waits for `child` at most `timeout`; on timeout kills it (its whole group when it has its
/// own) and says so.
fn wait_bounded(
    child: &mut std::process::Child,
    line: &str,
    timeout: Duration,
    own_group: bool,
) -> Result<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().context(|| format!("waiting for {line}"))? {
            return Ok(s);
        }
        if started.elapsed() > timeout {
            if own_group {
                kill_group_and_wait(child.id(), Duration::from_secs(10));
            }
            reap(child);
            return Err(Error::Timeout {
                what: line.to_string(),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `name args...` with stdin from `input`, waiting at most `timeout`. Non-zero exit is an
/// error naming the command.
pub fn run(name: &str, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let bin = resolve(name)?;
    let line = format!("{} {}", bin.display(), args.join(" "));
    tracing::debug!(command = %line, "running");
    if STOP_CODE.load(std::sync::atomic::Ordering::SeqCst) != 0 {
        return Err(Error::Command {
            command: line,
            status: "not started".into(),
            stderr: "cephboot is stopping (signal)".into(),
        });
    }
    let own_group = !in_job_group();
    let mut cmd = test_delayed(name, &bin, args);
    if own_group {
        cmd.process_group(0);
    }
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(|| format!("starting {line}"))?;
    let _registered = Registered::new(own_group.then(|| child.id()));
    // Output is drained before (and while) input is written: a program that answers before
    // it has read all its input cannot deadlock on a full pipe.
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    let writer = match (input, child.stdin.take()) {
        (Some(data), Some(mut stdin)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || {
                use std::io::Write;
                stdin.write_all(&data)
            }))
        }
        _ => None,
    };
    let status = wait_bounded(&mut child, &line, timeout, own_group)?;
    if let Some(Ok(Err(e))) = writer.map(std::thread::JoinHandle::join) {
        // A program that exits without reading its input closes the pipe: only an error when
        // it also failed.
        if !status.success() {
            return Err(Error::io(format!("writing to {line}"), e));
        }
    }
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::Command {
            command: line,
            status: status.to_string(),
            stderr: tail(&stderr),
        });
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Starts a daemon that forks into the background (ceph-mon, ceph-mgr, ceph-osd): its stdio
/// goes to /dev/null (the daemon keeps no pipe of ours open) and the parent's exit status is
/// awaited with `timeout`.
pub fn start_daemon(name: &str, args: &[&str], timeout: Duration) -> Result<()> {
    let bin = resolve(name)?;
    let line = format!("{} {}", bin.display(), args.join(" "));
    tracing::debug!(command = %line, "starting daemon");
    // As `run`: after a signal, nothing more is launched (daemons started side by side).
    if STOP_CODE.load(std::sync::atomic::Ordering::SeqCst) != 0 {
        return Err(Error::Command {
            command: line,
            status: "not started".into(),
            stderr: "cephboot is stopping (signal)".into(),
        });
    }
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(|| format!("starting {line}"))?;
    let status = wait_bounded(&mut child, &line, timeout, false)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: line,
            status: status.to_string(),
            stderr: String::new(),
        })
    }
}

/// Process groups of the programs this process is running now (for the signal handler).
static RUNNING_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A running program's group, registered for [`stop_programs_on_signals`] while it runs.
struct Registered(Option<u32>);

impl Registered {
    fn new(pgid: Option<u32>) -> Self {
        if let (Some(g), Ok(mut list)) = (pgid, RUNNING_GROUPS.lock()) {
            list.push(g);
        }
        Registered(pgid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let (Some(g), Ok(mut list)) = (self.0, RUNNING_GROUPS.lock()) {
            list.retain(|&x| x != g);
        }
    }
}

/// For a command-line run: on SIGINT, SIGTERM or SIGHUP, kill the process group of every
/// program cephboot is running, wait until none of it is left, then exit (130, 143, 129).
/// A Ctrl-C or a deployer's timeout never leaves mkfs writing to a disk whose lock is gone;
/// the next run recovers the interrupted preparation.
pub fn stop_programs_on_signals() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
                _ = hup.recv() => 129,
            };
            STOP_CODE.store(code, std::sync::atomic::Ordering::SeqCst);
            let groups = RUNNING_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
            for g in &groups {
                kill_group_and_wait(*g, Duration::from_secs(10));
            }
            if !groups.is_empty() {
                // The engine sees its program fail and rolls back (an allocated OSD id is
                // purged); `main` then exits with the signal's code. Bounded.
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            report_stopped();
            std::process::exit(code);
        });
    });
}

/// The exit code of the signal that stopped this run (0: none).
static STOP_CODE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The exit code to leave with when a signal stopped this run (130 SIGINT, 143 SIGTERM, 129
/// SIGHUP), after saying so on stderr.
pub fn stopped_by_signal() -> Option<i32> {
    let code = STOP_CODE.load(std::sync::atomic::Ordering::SeqCst);
    (code != 0).then(|| {
        report_stopped();
        code
    })
}

fn report_stopped() {
    crate::errln!("cephboot: stopped by a signal, and so were the programs it was running; the next run recovers anything left half done");
}

/// Whether this cephboot runs as a daemon job (whose process group the daemon owns).
pub fn in_job_group() -> bool {
    std::env::var_os(JOB_GROUP_ENV).is_some()
}

/// Set by the daemon for its job children.
pub const JOB_GROUP_ENV: &str = "CEPHBOOT_JOB_GROUP";

/// The command for `bin args`; in debug builds `CEPHBOOT_TEST_DELAY_EXEC=NAME:SECONDS` makes
/// program NAME start only after a sleep in the same process group (tests time a job out
/// "during mkfs" this way).
fn test_delayed(name: &str, bin: &std::path::Path, args: &[&str]) -> Command {
    let delay = cfg!(debug_assertions)
        .then(|| std::env::var("CEPHBOOT_TEST_DELAY_EXEC").ok())
        .flatten()
        .and_then(|v| {
            let (n, secs) = v.split_once(':')?;
            (n == name).then(|| secs.parse::<u32>().ok()).flatten()
        });
    match delay {
        Some(secs) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("sleep {secs}; exec \"$0\" \"$@\""))
                .arg(bin)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.args(args);
            c
        }
    }
}

/// The processes of process group `pgid`, from `/proc/*/stat`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
                    let rest = s.get(s.rfind(')')? + 1..)?;
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .collect()
}

/// SIGKILLs process group `pgid` until none of it is left (zombies aside), waiting at most
/// `wait`. True when the group is gone.
pub fn kill_group_and_wait(pgid: u32, wait: Duration) -> bool {
    use cephboot_ffi::process::{send_group, Signal};
    let started = Instant::now();
    loop {
        let alive: Vec<u32> = group_members(pgid)
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| {
                        s.get(s.rfind(')')? + 1..)
                            .map(|r| r.trim_start().starts_with('Z'))
                    })
                    != Some(true)
            })
            .collect();
        if alive.is_empty() {
            return true;
        }
        let _ = send_group(pgid, Signal::Kill);
        if started.elapsed() > wait {
            tracing::warn!(pgid, left = ?alive, "processes of a killed group are still there (stuck in I/O?)");
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a child that overran its time and waits for it a bounded while: a process stuck in
/// uninterruptible I/O on a dying disk cannot be reaped, and is left behind rather than
/// hanging cephboot with it.
fn reap(child: &mut std::process::Child) {
    let _ = child.kill();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::warn!(
        pid = child.id(),
        "a timed-out child did not exit after SIGKILL (stuck in I/O?); leaving it"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_programs_of_the_table_run_and_they_are_found_in_system_directories() {
        let e = run("rm", &["-rf", "/"], None, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e}");
        assert_eq!(e.exit_code() as i32, 1);
        let mount = resolve("mount").unwrap();
        assert!(
            SYSTEM_DIRS.iter().any(|d| mount.starts_with(d)),
            "{}",
            mount.display()
        );
        assert_eq!(
            resolve("mount").unwrap(),
            mount,
            "resolved once, the same answer"
        );
    }

    #[test]
    fn a_program_s_output_is_captured_and_its_failure_named() {
        let out = run("mount", &["--version"], None, Duration::from_secs(10)).unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("mount"));
        let e = run(
            "umount",
            &["/definitely/not/mounted"],
            None,
            Duration::from_secs(10),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("umount /definitely/not/mounted") && text.contains("failed"),
            "{text}"
        );
    }
}
