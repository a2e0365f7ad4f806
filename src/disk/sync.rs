//! Makes the kernel's partitions match a table, on kernels with and without a GPT parser.
//!
//! `BLKRRPART` is tried first where allowed; whatever it did (on a stock kernel it fails with
//! `EBUSY` while any partition is open; on a kernel without `CONFIG_EFI_PARTITION` it
//! "succeeds" and finds nothing), each partition is then reconciled with `BLKPG`: delete what
//! differs, add what is missing, with bounded retries on `EBUSY`. The result is verified
//! against sysfs and every device node is awaited with a timeout. The caller holds
//! `flock(LOCK_EX)` on the disk for the whole change, which keeps udevd from re-reading it.

use std::time::Duration;

use super::blockops::{KernelPartition, KernelTable};

/// Tunables (defaults suit real disks; tests shorten them).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Try `BLKRRPART` before reconciling partition by partition.
    pub try_reread: bool,
    /// Attempts for an `EBUSY` delete or add.
    pub busy_retries: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// How long to wait for device nodes.
    pub node_timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            try_reread: true,
            busy_retries: 20,
            retry_delay: Duration::from_millis(100),
            node_timeout: Duration::from_secs(10),
        }
    }
}

/// What the sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// `BLKRRPART` result, when tried.
    pub reread: Option<String>,
    /// Partitions removed from the kernel.
    pub deleted: Vec<u32>,
    /// Partitions added to the kernel.
    pub added: Vec<u32>,
}

/// Why the kernel view could not be made to match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The kernel would not release a partition (it is open or mounted).
    #[error("the kernel would not release partition {number} of {disk}: {error}")]
    Busy {
        /// Disk node.
        disk: String,
        /// Partition number.
        number: u32,
        /// The last error.
        error: String,
    },
    /// An ioctl or sysfs read failed.
    #[error("{disk}: {what}: {error}")]
    Failed {
        /// Disk node.
        disk: String,
        /// What was being done.
        what: String,
        /// The error.
        error: String,
    },
    /// After reconciling, sysfs still differs from the table.
    #[error("{disk}: the kernel's partitions {have:?} still differ from the table {want:?}")]
    Mismatch {
        /// Disk node.
        disk: String,
        /// What the kernel has.
        have: Vec<KernelPartition>,
        /// What the table says.
        want: Vec<KernelPartition>,
    },
    /// A partition node did not appear in time.
    #[error("{node} did not appear within {seconds}s after the kernel added it")]
    NodeTimeout {
        /// The node.
        node: String,
        /// Seconds waited.
        seconds: u64,
    },
}

fn with_busy_retry(
    k: &dyn KernelTable,
    opts: &SyncOptions,
    mut op: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut attempt = 0;
    loop {
        match op() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt + 1 < opts.busy_retries => {
                attempt += 1;
                k.pause(opts.retry_delay);
            }
            other => return other,
        }
    }
}

/// Makes the kernel's partitions of `k`'s disk equal `want`.
pub fn sync(
    k: &dyn KernelTable,
    want: &[KernelPartition],
    opts: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let disk = k.disk().display().to_string();
    let failed = |what: &str, e: std::io::Error| SyncError::Failed {
        disk: disk.clone(),
        what: what.into(),
        error: e.to_string(),
    };
    let mut want = want.to_vec();
    want.sort();
    let mut report = SyncReport::default();
    if opts.try_reread {
        report.reread = Some(match k.reread() {
            Ok(()) => "ok".into(),
            Err(e) => format!("failed ({e}); reconciling partition by partition"),
        });
    }
    let have = k
        .partitions()
        .map_err(|e| failed("reading the kernel's partitions from sysfs", e))?;
    for p in &have {
        if want.contains(p) {
            continue;
        }
        with_busy_retry(k, opts, || k.delete(p.number)).map_err(|e| {
            if e.raw_os_error() == Some(libc::EBUSY) {
                SyncError::Busy {
                    disk: disk.clone(),
                    number: p.number,
                    error: e.to_string(),
                }
            } else {
                failed(&format!("deleting partition {}", p.number), e)
            }
        })?;
        report.deleted.push(p.number);
    }
    for w in &want {
        if have.contains(w) {
            continue;
        }
        with_busy_retry(k, opts, || k.add(*w))
            .map_err(|e| failed(&format!("adding partition {}", w.number), e))?;
        report.added.push(w.number);
    }
    let now = k
        .partitions()
        .map_err(|e| failed("reading the kernel's partitions from sysfs", e))?;
    if now != want {
        return Err(SyncError::Mismatch {
            disk,
            have: now,
            want,
        });
    }
    for w in &want {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(20);
        while !k.node_exists(w.number) {
            if waited >= opts.node_timeout {
                return Err(SyncError::NodeTimeout {
                    node: k.node(w.number).display().to_string(),
                    seconds: opts.node_timeout.as_secs(),
                });
            }
            k.pause(step);
            waited += step;
        }
    }
    Ok(report)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io;
    use std::path::{Path, PathBuf};

    /// A simulated kernel that records every call.
    pub struct Recorder {
        pub parts: RefCell<Vec<KernelPartition>>,
        pub calls: RefCell<Vec<String>>,
        /// Partition numbers that answer EBUSY to this many deletes.
        pub busy: RefCell<Vec<(u32, u32)>>,
        /// Simulate a GPT-parsing kernel: BLKRRPART loads this table (else it drops all).
        pub parser_table: Option<Vec<KernelPartition>>,
        pub path: PathBuf,
    }

    impl Recorder {
        pub fn new(parts: Vec<KernelPartition>) -> Self {
            Recorder {
                parts: RefCell::new(parts),
                calls: RefCell::new(vec![]),
                busy: RefCell::new(vec![]),
                parser_table: None,
                path: "/dev/loop9".into(),
            }
        }
        fn log(&self, s: String) {
            self.calls.borrow_mut().push(s);
        }
    }

    impl KernelTable for Recorder {
        fn disk(&self) -> &Path {
            &self.path
        }
        fn partitions(&self) -> io::Result<Vec<KernelPartition>> {
            let mut v = self.parts.borrow().clone();
            v.sort();
            Ok(v)
        }
        fn reread(&self) -> io::Result<()> {
            self.log("BLKRRPART".into());
            if self.busy.borrow().iter().any(|(_, n)| *n > 0) {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            *self.parts.borrow_mut() = self.parser_table.clone().unwrap_or_default();
            Ok(())
        }
        fn add(&self, p: KernelPartition) -> io::Result<()> {
            self.log(format!("add {}", p.number));
            self.parts.borrow_mut().push(p);
            Ok(())
        }
        fn delete(&self, number: u32) -> io::Result<()> {
            self.log(format!("delete {number}"));
            let mut busy = self.busy.borrow_mut();
            if let Some(b) = busy.iter_mut().find(|(n, left)| *n == number && *left > 0) {
                b.1 -= 1;
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            self.parts.borrow_mut().retain(|p| p.number != number);
            Ok(())
        }
        fn node_exists(&self, number: u32) -> bool {
            self.parts.borrow().iter().any(|p| p.number == number)
        }
        fn node(&self, number: u32) -> PathBuf {
            PathBuf::from(format!("/dev/loop9p{number}"))
        }
        fn pause(&self, d: Duration) {
            self.log(format!("pause {}ms", d.as_millis()));
        }
    }

    fn p(number: u32, start_mib: u64, size_mib: u64) -> KernelPartition {
        KernelPartition {
            number,
            start: start_mib << 20,
            size: size_mib << 20,
        }
    }

    fn calls(r: &Recorder) -> Vec<String> {
        r.calls
            .borrow()
            .iter()
            .filter(|c| !c.starts_with("pause"))
            .cloned()
            .collect()
    }

    #[test]
    fn kernel_without_gpt_parser_gets_every_partition_by_blkpg() {
        let r = Recorder::new(vec![p(1, 1, 10)]);
        let want = vec![p(1, 1, 10), p(2, 11, 20)];
        let rep = sync(&r, &want, &SyncOptions::default()).unwrap();
        // BLKRRPART dropped partition 1 (no parser), so both are added back.
        assert_eq!(calls(&r), ["BLKRRPART", "add 1", "add 2"]);
        assert_eq!(rep.added, [1, 2]);
        assert_eq!(*r.parts.borrow(), want);
    }

    #[test]
    fn resized_and_removed_partitions_are_deleted_then_added() {
        let r = Recorder::new(vec![p(1, 1, 10), p(2, 11, 20), p(3, 31, 5)]);
        let want = vec![p(1, 1, 10), p(2, 11, 30)];
        let opts = SyncOptions {
            try_reread: false,
            ..Default::default()
        };
        sync(&r, &want, &opts).unwrap();
        assert_eq!(calls(&r), ["delete 2", "delete 3", "add 2"]);
        assert_eq!(*r.parts.borrow(), want);
    }

    #[test]
    fn stock_kernel_busy_reread_falls_back_and_retries_busy_deletes() {
        let mut r = Recorder::new(vec![p(1, 1, 10)]);
        r.parser_table = Some(vec![]);
        r.busy.borrow_mut().push((1, 2));
        let rep = sync(&r, &[p(1, 2, 10)], &SyncOptions::default()).unwrap();
        assert!(rep.reread.unwrap().contains("failed"));
        assert_eq!(
            calls(&r),
            ["BLKRRPART", "delete 1", "delete 1", "delete 1", "add 1"]
        );
    }

    #[test]
    fn a_partition_that_stays_busy_is_an_error_naming_it_and_nothing_is_added() {
        let r = Recorder::new(vec![p(1, 1, 10)]);
        r.busy.borrow_mut().push((1, 1000));
        let opts = SyncOptions {
            try_reread: false,
            busy_retries: 3,
            ..Default::default()
        };
        let e = sync(&r, &[p(1, 5, 10), p(2, 20, 1)], &opts).unwrap_err();
        assert!(matches!(e, SyncError::Busy { number: 1, .. }), "{e}");
        assert_eq!(calls(&r), ["delete 1", "delete 1", "delete 1"]);
    }

    #[test]
    fn parsing_kernel_that_reads_the_table_needs_no_blkpg() {
        let mut r = Recorder::new(vec![p(1, 1, 10)]);
        let want = vec![p(1, 1, 50), p(2, 51, 5)];
        r.parser_table = Some(want.clone());
        sync(&r, &want, &SyncOptions::default()).unwrap();
        assert_eq!(calls(&r), ["BLKRRPART"]);
    }

    #[test]
    fn empty_table_removes_everything() {
        let r = Recorder::new(vec![p(1, 1, 10), p(12, 20, 1)]);
        let opts = SyncOptions {
            try_reread: false,
            ..Default::default()
        };
        let rep = sync(&r, &[], &opts).unwrap();
        assert_eq!(rep.deleted, [1, 12]);
        assert!(r.parts.borrow().is_empty());
    }
}
