//! Signals to processes by pid (daemons cephboot started and recorded in pidfiles) and to
//! whole process groups (an external program with everything it started, a daemon job); and
//! ending this process at once (the crash a test simulates).

use std::io;

/// A signal cephboot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop cleanly.
    Term,
    /// SIGKILL: stop now.
    Kill,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// Sends `sig` to `pid`.
pub fn send(pid: u32, sig: Signal) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal a process group",
        ));
    }
    let s = sig.number();
    // SAFETY: kill(2) with a positive pid and a valid signal number has no memory effects.
    if unsafe { libc::kill(pid, s) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `sig` to every process of the process group `pgid` (kill(2) with `-pgid`).
pub fn send_group(pgid: u32, sig: Signal) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "process group out of range"))?;
    // Group 0 is the caller's own and 1 would be init's: never signalled from here.
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal process group 0 or 1",
        ));
    }
    let s = sig.number();
    // SAFETY: kill(2) with a negative pid (a process group other than our own or init's) and a
    // valid signal number has no memory effects.
    if unsafe { libc::kill(-pgid, s) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Ends this process at once with `code`, as a crash would: no atexit handlers, no static
/// destructors (librados' would race its own threads), no buffered output flushed. For the
/// test hook that simulates a crash after a step of `osd prepare`.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit takes an int and never returns; it touches no memory of this process.
    unsafe { libc::_exit(code) }
}
