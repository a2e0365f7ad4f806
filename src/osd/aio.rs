//! The kernel's asynchronous-I/O budget the OSDs draw on. Each BlueStore device a `ceph-osd`
//! opens takes `bdev_aio_max_queue_depth` (1024) events of the host-wide `fs.aio-max-nr`, and
//! the main device is opened twice (BlueStore and BlueFS): 2048 for an OSD on one device, 1024
//! more per db or wal device. The kernel's default (65536) stops the 33rd such OSD: `ceph-osd`
//! exits 250 (`io_setup` EAGAIN), found by bench/activate/many. Ceph's `ceph-osd` package sets
//! 1048576 in /etc/sysctl.d/30-ceph-osd.conf, applied at boot; a host not booted since the
//! package came (or a container) lacks it. `osd activate` applies that value before starting
//! OSDs that would not fit, and says so.

use std::path::Path;

/// Events one device of an OSD takes.
pub const PER_DEVICE: u64 = 1024;

/// The value Ceph's packages set (and cephadm writes for its OSD hosts).
pub const CEPH_SETTING: u64 = 1_048_576;

const MAX: &str = "/proc/sys/fs/aio-max-nr";
const IN_USE: &str = "/proc/sys/fs/aio-nr";

/// Events an OSD with `devices` devices (block, db, wal) takes.
pub fn per_osd(devices: usize) -> u64 {
    PER_DEVICE * (devices.max(1) as u64 + 1)
}

/// The `fs.aio-max-nr` to set (pure): `None` when `max` leaves room for `needed` more events
/// beside `in_use`; otherwise Ceph's setting, or more when even that would not do.
pub fn raise_to(max: u64, in_use: u64, needed: u64) -> Option<u64> {
    let want = in_use.saturating_add(needed);
    (want > max).then(|| want.max(CEPH_SETTING))
}

fn read(path: &str) -> Option<u64> {
    std::fs::read_to_string(Path::new(path))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How the report's line starts when the setting could not be raised (nothing was changed).
pub const NOT_RAISED: &str = "fs.aio-max-nr is ";

/// Raises `fs.aio-max-nr` when `needed` more events would not fit: what was done, or (starting
/// with [`NOT_RAISED`]) what to do, for the report. Nothing when the files cannot be read (not
/// Linux's procfs); a write that fails is reported, not an error (the OSDs that fit still
/// start).
pub fn ensure(needed: u64) -> Option<String> {
    let (max, in_use) = (read(MAX)?, read(IN_USE)?);
    let to = raise_to(max, in_use, needed)?;
    let why = format!("{needed} AIO events needed by the OSDs to start beside {in_use} in use");
    Some(match std::fs::write(MAX, to.to_string()) {
        Ok(()) => {
            tracing::warn!(from = max, to, "raised fs.aio-max-nr: {why}");
            format!(
                "fs.aio-max-nr raised from {max} to {to} ({why}; the value Ceph's ceph-osd package sets at boot in /etc/sysctl.d/30-ceph-osd.conf)"
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise fs.aio-max-nr: {why}");
            format!(
                "{NOT_RAISED}{max}, too low ({why}): OSDs beyond it fail to start (ceph-osd exits 250); set `sysctl -w fs.aio-max-nr={to}` (raising it failed: {e})"
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_stops_the_thirty_third_osd_and_is_raised_to_cephs() {
        assert_eq!(per_osd(1), 2048);
        assert_eq!(per_osd(3), 4096, "block, db and wal");
        let default = 65_536;
        assert_eq!(raise_to(default, 0, 32 * per_osd(1)), None, "32 fit");
        assert_eq!(raise_to(default, 0, 33 * per_osd(1)), Some(CEPH_SETTING));
        assert_eq!(
            raise_to(default, 64_000, per_osd(1)),
            Some(CEPH_SETTING),
            "what runs already counts"
        );
        assert_eq!(raise_to(CEPH_SETTING, 0, 60 * per_osd(3)), None);
        assert_eq!(
            raise_to(CEPH_SETTING, CEPH_SETTING, 2048),
            Some(CEPH_SETTING + 2048),
            "more than Ceph's when even that is full"
        );
    }
}
