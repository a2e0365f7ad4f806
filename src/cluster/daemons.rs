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

/// The ids of the `ceph-osd` processes running on this host (by `/proc`: whoever started
/// them, cephboot's pidfile or a unit). Unreadable entries are skipped.
pub fn running_osd_ids() -> std::collections::BTreeSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "ceph-osd")
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter_map(|raw| {
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            osd_id_in_args(&args)
        })
        .collect()
}

/// The OSD id on a `ceph-osd` command line (`-i N`, `--id N`, `--id=N`), pure.
pub fn osd_id_in_args(args: &[String]) -> Option<u32> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-i" || a == "--id" {
            return it.next().and_then(|v| v.parse().ok());
        }
        if let Some(v) = a.strip_prefix("--id=") {
            return v.parse().ok();
        }
    }
    None
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_osd_id_is_read_from_each_form_of_the_command_line() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            osd_id_in_args(&args(
                "/usr/bin/ceph-osd --cluster c -c x.conf -i 12 --pid-file p"
            )),
            Some(12)
        );
        assert_eq!(osd_id_in_args(&args("ceph-osd -f --id 3")), Some(3));
        assert_eq!(osd_id_in_args(&args("ceph-osd --id=7")), Some(7));
        assert_eq!(osd_id_in_args(&args("ceph-osd --mkfs -i")), None);
        assert_eq!(osd_id_in_args(&args("ceph-osd -i x")), None);
    }
}
