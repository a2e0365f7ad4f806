//! One error type for the program: what was being done, to which device, and what to do next;
//! each kind maps to a stable, documented exit code (docs/exit-codes.md).

use std::path::PathBuf;

/// Exit codes. Stable: deployers branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success (also: nothing to do).
    Ok = 0,
    /// A failure not covered below.
    Failure = 1,
    /// Bad usage: unknown flag, invalid value, contradictory options.
    Usage = 2,
    /// Refused by a safety guard: in use, not consented, not ours. Nothing was written.
    Refused = 3,
    /// A named device, OSD or file does not exist.
    NotFound = 4,
    /// The Ceph cluster could not be reached or refused a command.
    Cluster = 5,
    /// A device operation (I/O, ioctl, external tool) failed part-way.
    Device = 6,
    /// Timed out waiting for something (named in the message).
    Timeout = 7,
    /// OpenStack (Keystone or Cinder) refused or failed: credentials, permissions, API.
    OpenStack = 8,
}

/// Everything that can go wrong, with the context a person needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid request.
    #[error("{0}")]
    Usage(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A guard refused; nothing was written.
    #[error("{device}: {reason}: {hint}")]
    Refused {
        /// The device (or object) that was refused.
        device: PathBuf,
        /// Why.
        reason: String,
        /// What to do next.
        hint: String,
    },
    /// A Ceph call failed.
    #[error("{context}: {message}")]
    Cluster {
        /// What was being done.
        context: String,
        /// What Ceph said.
        message: String,
        /// errno, when known (110 = timed out).
        errno: Option<i32>,
    },
    /// I/O on a device or file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the device or file.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Several guards refused (each with its device, cause and next step); nothing was
    /// written.
    #[error("{}", refusals_text(.0))]
    Refusals(Vec<Refusal>),
    /// An external program failed.
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        /// The full command line.
        command: String,
        /// Exit status description.
        status: String,
        /// The tail of its stderr.
        stderr: String,
    },
    /// A device operation failed for a reason that is not a plain OS error.
    #[error("{device}: {message}")]
    Device {
        /// The device.
        device: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// Keystone or Cinder refused or failed.
    #[error("{context}: {message}")]
    OpenStack {
        /// What was being done (and the URL).
        context: String,
        /// The explanation.
        message: String,
        /// HTTP status, when there was one.
        status: Option<u16>,
    },
    /// An error whose details were already printed (JSON or per-item lines); only the exit
    /// code and a one-line summary remain.
    #[error("{0}")]
    AlreadyReported(Box<Error>),
    /// A broken internal invariant: a bug in cephboot, never the user's doing (exit 1).
    #[error("internal error: {0} (a bug in cephboot; please report it)")]
    Internal(String),
    /// A step failed and undoing it failed too: both are kept.
    #[error("{cause}; and {undo} failed: {rollback}")]
    Rollback {
        /// What failed first.
        cause: Box<Error>,
        /// What undoing it was (`removing osd.3 again`).
        undo: String,
        /// Why undoing it failed.
        rollback: Box<Error>,
    },
    /// Waited too long.
    #[error("timed out{} waiting for {what} (--timeout sets the bound)", after(*seconds))]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
}

impl Error {
    /// The exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::NotFound(_) => ExitCode::NotFound,
            Error::Refused { .. } | Error::Refusals(_) => ExitCode::Refused,
            Error::Cluster {
                errno: Some(110), ..
            } => ExitCode::Timeout,
            Error::Cluster { .. } => ExitCode::Cluster,
            Error::Io { .. } | Error::Command { .. } | Error::Device { .. } => ExitCode::Device,
            Error::Timeout { .. } => ExitCode::Timeout,
            Error::AlreadyReported(e) => e.exit_code(),
            Error::OpenStack { .. } => ExitCode::OpenStack,
            Error::Internal(_) => ExitCode::Failure,
            Error::Rollback { cause, .. } => cause.exit_code(),
        }
    }

    /// A short machine-readable kind for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::NotFound(_) => "not_found",
            Error::Refused { .. } | Error::Refusals(_) => "refused",
            Error::Cluster { .. } => "cluster",
            Error::Io { .. } => "io",
            Error::Command { .. } => "command",
            Error::Device { .. } => "device",
            Error::Timeout { .. } => "timeout",
            Error::AlreadyReported(e) => e.kind(),
            Error::OpenStack { .. } => "openstack",
            Error::Internal(_) => "internal",
            Error::Rollback { cause, .. } => cause.kind(),
        }
    }

    /// Shorthand for an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Shorthand for a refusal.
    pub fn refused(
        device: impl Into<PathBuf>,
        reason: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::Refused {
            device: device.into(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }
}

fn after(seconds: u64) -> String {
    if seconds > 0 {
        format!(" after {seconds}s")
    } else {
        String::new()
    }
}

/// The program's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What was being done, attached to an I/O error where it happens:
/// `fs::read(p).context(|| format!("reading {}", p.display()))?`.
pub trait IoContext<T> {
    /// The error becomes [`Error::Io`] with `what` as its context.
    fn context<C: Into<String>>(self, what: impl FnOnce() -> C) -> Result<T>;
}

impl<T> IoContext<T> for std::result::Result<T, std::io::Error> {
    fn context<C: Into<String>>(self, what: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

/// Why a device may not be written: one guard's refusal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The device.
    pub device: PathBuf,
    /// The cause.
    pub reason: String,
    /// What to do next.
    pub hint: String,
    /// `--force` overrides this one (only the foreign BlueStore check).
    pub force_overrides: bool,
}

/// `DEV: refused by a safety guard: nothing was written. DEV: cause: next step; ...`
fn refusals_text(refusals: &[Refusal]) -> String {
    let each = refusals
        .iter()
        .map(|r| format!("{}: {}: {}", r.device.display(), r.reason, r.hint))
        .collect::<Vec<_>>()
        .join("; ");
    let first = refusals
        .first()
        .map(|r| r.device.display().to_string())
        .unwrap_or_default();
    format!("{first}: refused by a safety guard: nothing was written. {each}")
}

impl Error {
    /// The refusals this error carries (one for [`Error::Refused`], each of
    /// [`Error::Refusals`], none otherwise), for the JSON error report.
    pub fn refusals(&self) -> Vec<Refusal> {
        match self {
            Error::Refused {
                device,
                reason,
                hint,
            } => vec![Refusal {
                device: device.clone(),
                reason: reason.clone(),
                hint: hint.clone(),
                force_overrides: false,
            }],
            Error::Refusals(r) => r.clone(),
            Error::AlreadyReported(e) => e.refusals(),
            _ => Vec::new(),
        }
    }
}
