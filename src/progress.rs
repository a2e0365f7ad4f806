//! What a person sees while a long step runs (mkfs, `ceph-osd --mkfs`, waiting for an OSD, a
//! monitor or Cinder), on stderr only: stdout and its JSON never change.
//!
//! On a terminal one line names the step and counts the seconds, replaced by `done` or
//! `failed` with the time it took. Anywhere else (a deployer capturing stderr, the daemon's
//! job log, CI) one plain line when the step starts and one when it ends. `--quiet` shows
//! nothing, and neither does the library unless [`init`] was called (the command line does).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How steps are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Off,
    /// A start line and an end line.
    Lines,
    /// One line redrawn in place.
    Terminal,
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// A redrawn line is on the terminal: a step that starts meanwhile (OSDs prepared side by
/// side) is shown as plain lines instead, never two spinners over one line.
static SPINNING: AtomicBool = AtomicBool::new(false);

/// Chooses the mode once per process: off when quiet, a redrawn line on a terminal, plain
/// lines otherwise.
pub fn init(quiet: bool) {
    let mode = if quiet {
        Mode::Off
    } else if std::io::stderr().is_terminal() {
        Mode::Terminal
    } else {
        Mode::Lines
    };
    let _ = MODE.set(mode);
}

fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode::Off)
}

/// A running step; [`Step::done`] ends it, dropping it unfinished reports it failed.
#[derive(Debug)]
pub struct Step {
    what: String,
    started: Instant,
    spinner: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    finished: bool,
}

/// Starts showing `what` (e.g. `mkfs.xfs /dev/sdb1`).
pub fn step(what: impl Into<String>) -> Step {
    let what = what.into();
    let started = Instant::now();
    let spinner = match mode() {
        Mode::Off => None,
        Mode::Lines => {
            crate::errln!("cephboot: {what} ...");
            None
        }
        Mode::Terminal if SPINNING.swap(true, Ordering::AcqRel) => {
            crate::errln!("\r\x1b[2Kcephboot: {what} ...");
            None
        }
        Mode::Terminal => {
            let stop = Arc::new(AtomicBool::new(false));
            let (flag, text) = (stop.clone(), what.clone());
            let handle = std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || {
                    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
                    let mut i = 0usize;
                    while !flag.load(Ordering::Relaxed) {
                        let frame = FRAMES.get(i % FRAMES.len()).copied().unwrap_or('|');
                        let mut err = std::io::stderr().lock();
                        let _ = write!(
                            err,
                            "\r\x1b[2K{frame} {text} {}s",
                            started.elapsed().as_secs()
                        );
                        let _ = err.flush();
                        drop(err);
                        i = i.wrapping_add(1);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
                .ok();
            if handle.is_none() {
                SPINNING.store(false, Ordering::Release);
            }
            handle.map(|h| (stop, h))
        }
    };
    Step {
        what,
        started,
        spinner,
        finished: false,
    }
}

impl Step {
    /// The step succeeded.
    pub fn done(mut self) {
        self.finish(true);
    }

    /// Ends the step as `result` says, and passes the result on.
    pub fn end<T, E>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.finish(result.is_ok());
        result
    }

    fn finish(&mut self, ok: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some((stop, handle)) = self.spinner.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
            SPINNING.store(false, Ordering::Release);
        }
        let took = self.started.elapsed().as_secs_f64();
        let outcome = if ok { "done" } else { "failed" };
        match mode() {
            Mode::Off => {}
            Mode::Lines => crate::errln!("cephboot: {}: {outcome} in {took:.1} s", self.what),
            Mode::Terminal => crate::errln!("\r\x1b[2K{}: {outcome} in {took:.1} s", self.what),
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish(false);
    }
}
