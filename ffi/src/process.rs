//! Signals to processes by pid (daemons cephboot started and recorded in pidfiles).

use std::io;

/// A signal cephboot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop cleanly.
    Term,
    /// SIGKILL: stop now.
    Kill,
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
    let s = match sig {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) with a positive pid and a valid signal number has no memory effects.
    if unsafe { libc::kill(pid, s) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
