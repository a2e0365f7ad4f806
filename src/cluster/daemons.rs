//! Daemons cephboot starts (mon, mgr, osd): pidfiles, liveness, and stopping by pid.

use std::path::Path;
use std::time::{Duration, Instant};

use cephboot_ffi::process::{self, Signal};

/// The pid in `pidfile` if that process is alive and its command is `comm`.
pub fn running_pid(pidfile: &Path, comm: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let actual = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    // A zombie still has /proc/PID; treat it as gone, but only once its last thread has
    // exited: a multi-threaded daemon's main thread is a zombie while its other threads still
    // tear down, holding its files (an OSD's data directory then cannot be unmounted yet).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("");
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count);
    (actual.trim() == comm && (state != "Z" || threads > 1)).then_some(pid)
}

/// Stops the process in `pidfile` (SIGTERM, then SIGKILL after `grace`). Returns whether one
/// was running.
pub fn stop(pidfile: &Path, comm: &str, grace: Duration) -> bool {
    let Some(pid) = running_pid(pidfile, comm) else {
        return false;
    };
    let _ = process::send(pid, Signal::Term);
    let started = Instant::now();
    while running_pid(pidfile, comm).is_some() {
        if started.elapsed() > grace {
            let _ = process::send(pid, Signal::Kill);
            std::thread::sleep(Duration::from_millis(200));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(pidfile);
    true
}
