//! Reading what discovery needs first, in few large reads instead of libblkid's scattered small
//! ones.
//!
//! libblkid probes every superblock type at its own offsets (ZFS labels at 0, 256 KiB and in the
//! last 512 KiB, LUKS2 secondary headers at 16 KiB·2ⁿ up to 4 MiB, VMFS at 1 and 2 MiB, ...),
//! with readahead off: a blank disk costs about 40 device reads, a disk with a bootstrap GPT
//! and its partitions over 160. On a spinning disk each is a seek. Before probing, discovery
//! reads the regions libblkid is known to read, merged where one read costs the device no more
//! requests than two (the disk's largest request, from sysfs), into the kernel's page cache of
//! the disk; libblkid's own reads (and the GPT reader's) are then answered from
//! memory. Nothing is decided from these bytes: a region libblkid reads that is not in the
//! list (another libblkid version, a signature that makes a prober read further) is read from
//! the device as before, so classification cannot change, only the count of device reads.
//!
//! The regions were measured by tracing libblkid 2.38.1's reads of a blank device
//! (`bench/inventory/probe-trace`); a partition is probed at its own offsets, through the
//! disk.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// The page size the page cache works in; regions are rounded out to it.
const PAGE: u64 = 4096;

/// Regions libblkid reads, as (offset from the device's start, length).
const FROM_START: [(u64, u64); 4] = [
    (0, 528 << 10),
    (1 << 20, PAGE),
    (2 << 20, PAGE),
    (4 << 20, PAGE),
];

/// Regions libblkid reads, as (distance of their start from the device's end, length).
const FROM_END: [(u64, u64); 2] = [(1_581_056, PAGE), (512 << 10, 512 << 10)];

/// The kernel's largest read request when the disk does not say (128 segments of one page:
/// what this machine's loop devices take).
pub const DEFAULT_REQUEST: u64 = 128 * PAGE;

/// The largest single read (a longer region is read in pieces of this size).
const MAX_READ: u64 = 4 << 20;

/// The regions libblkid reads when it probes `size` bytes at `start` (absolute byte ranges,
/// rounded out to pages, within the device).
fn of_range(start: u64, size: u64, disk_size: u64) -> Vec<Range<u64>> {
    let end = start.saturating_add(size).min(disk_size);
    let heads = FROM_START
        .iter()
        .filter(|(off, _)| *off < size)
        .map(|&(off, len)| start + off..start.saturating_add(off + len));
    let tails = FROM_END.iter().map(|&(back, len)| {
        let at = end.saturating_sub(back).max(start);
        at..at.saturating_add(len)
    });
    heads
        .chain(tails)
        .map(|r| {
            let a = r.start - r.start % PAGE;
            let b = r
                .end
                .min(end)
                .div_ceil(PAGE)
                .saturating_mul(PAGE)
                .min(disk_size);
            a..b
        })
        .filter(|r| r.start < r.end)
        .collect()
}

/// How many requests the kernel splits a read of `len` bytes into.
fn requests(len: u64, request: u64) -> u64 {
    len.div_ceil(request.max(PAGE))
}

/// Sorted, merged: overlapping regions become one, and so do two regions whose joint read
/// takes no more requests than the two apart (`request`: the disk's largest read request).
/// The device's count of reads never grows, and each merge saves a seek on a spinning disk.
fn merge(mut regions: Vec<Range<u64>>, request: u64) -> Vec<Range<u64>> {
    regions.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::with_capacity(regions.len());
    for r in regions {
        match out.last_mut() {
            Some(last)
                if r.start <= last.end
                    || requests(r.end.max(last.end) - last.start, request)
                        <= requests(last.end - last.start, request)
                            + requests(r.end - r.start, request) =>
            {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// The largest read request of the disk at `queue` (`/sys/class/block/NAME/queue`): its
/// segments of one page each, within its largest request size.
pub fn request_size(queue: &std::path::Path) -> u64 {
    let read = |f: &str| {
        std::fs::read_to_string(queue.join(f))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&v| v > 0)
    };
    match (read("max_segments"), read("max_sectors_kb")) {
        (Some(segs), Some(kb)) => segs.saturating_mul(PAGE).min(kb.saturating_mul(1024)),
        (Some(segs), None) => segs.saturating_mul(PAGE),
        (None, Some(kb)) => kb.saturating_mul(1024),
        (None, None) => DEFAULT_REQUEST,
    }
}

/// What to read of a disk of `disk_size` bytes before probing it and the partitions at
/// `partitions` (start, size): every region libblkid reads for each, merged for a disk whose
/// largest read request is `request` bytes.
pub fn plan(disk_size: u64, partitions: &[(u64, u64)], request: u64) -> Vec<Range<u64>> {
    let mut all = of_range(0, disk_size, disk_size);
    for &(start, size) in partitions {
        if size > 0 && start < disk_size {
            all.extend(of_range(start, size, disk_size));
        }
    }
    merge(all, request)
}

/// `regions` without the bytes of `done` (already read), each remaining piece one region.
pub fn without(regions: Vec<Range<u64>>, done: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for r in regions {
        let mut pieces = vec![r];
        for d in done {
            pieces = pieces
                .into_iter()
                .flat_map(|p| {
                    if d.end <= p.start || p.end <= d.start {
                        return vec![p];
                    }
                    [p.start..d.start, d.end..p.end]
                        .into_iter()
                        .filter(|x| x.start < x.end)
                        .collect()
                })
                .collect();
        }
        out.extend(pieces);
    }
    out
}

/// Reads `regions` of `disk` into the page cache, one read each (pieces of at most 4 MiB).
/// Best effort: a region that cannot be read is left to the probe that needs it, which reports
/// the error with its device. Regions already in the page cache cost the device nothing.
pub fn read(disk: &File, regions: &[Range<u64>]) {
    let mut buf: Vec<u8> = Vec::new();
    for r in regions {
        let mut at = r.start;
        while at < r.end {
            let Ok(len) = usize::try_from((r.end - at).min(MAX_READ)) else {
                return;
            };
            buf.resize(len, 0);
            match disk.read_at(&mut buf, at) {
                Ok(n) if n > 0 => at += n as u64,
                _ => break,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const R: u64 = DEFAULT_REQUEST;

    #[test]
    fn a_blank_disk_is_read_in_five_regions_of_seven_requests() {
        let size = 256 * MIB;
        let p = plan(size, &[], R);
        assert_eq!(
            p,
            [
                0..MIB + PAGE,
                2 * MIB..2 * MIB + PAGE,
                4 * MIB..4 * MIB + PAGE,
                size - 1_581_056..size - 1_581_056 + PAGE,
                size - 512 * 1024..size,
            ]
        );
        let bytes: u64 = p.iter().map(|r| r.end - r.start).sum();
        assert_eq!(bytes, MIB + 4 * PAGE + 512 * 1024);
    }

    #[test]
    fn regions_stay_inside_a_small_device_and_are_page_aligned() {
        for size in [0, 512, PAGE, 100_000, 600 << 10, 3 * MIB, 5 * MIB + 512] {
            for r in plan(size, &[], R) {
                assert!(r.start < r.end && r.end <= size, "{r:?} of {size}");
                assert_eq!(r.start % PAGE, 0, "{r:?}");
                assert!(r.end % PAGE == 0 || r.end == size, "{r:?}");
            }
        }
        assert!(plan(0, &[], R).is_empty());
        assert_eq!(plan(100_000, &[], R), [0..100_000]);
    }

    #[test]
    fn partitions_are_read_at_their_own_offsets_and_neighbours_merge() {
        // 64 MiB disk, partitions 1 MiB..17 MiB, 17..33, 33..(end - 1 MiB).
        let size = 64 * MIB;
        let parts = [(MIB, 16 * MIB), (17 * MIB, 16 * MIB), (33 * MIB, 30 * MIB)];
        let p = plan(size, &parts, R);
        for (start, len) in parts {
            for need in of_range(start, len, size) {
                assert!(
                    p.iter().any(|r| r.start <= need.start && need.end <= r.end),
                    "{need:?} of the partition at {start} is read"
                );
            }
        }
        // The disk's head and the first partition's head are one read; each partition's tail
        // runs into the next one's head.
        assert!(p
            .first()
            .is_some_and(|r| r.start == 0 && r.end >= MIB + 528 * 1024));
        assert!(p
            .iter()
            .any(|r| r.start <= 17 * MIB - 512 * 1024 && 17 * MIB + MIB <= r.end));
        assert!(p.len() <= 16, "{} reads: {p:?}", p.len());
    }

    #[test]
    fn what_was_read_is_not_read_again() {
        assert_eq!(without(vec![0..10, 20..30], &[5..25]), [0..5, 25..30]);
        assert_eq!(without(vec![0..10], &[0..10]), Vec::<Range<u64>>::new());
        assert_eq!(without(vec![0..10], &[2..4, 6..8]), [0..2, 4..6, 8..10]);
        let size = 64 * MIB;
        let disk = plan(size, &[], R);
        let parts = without(plan(size, &[(MIB, 16 * MIB)], R), &disk);
        for r in &parts {
            assert!(
                disk.iter().all(|d| d.end <= r.start || r.end <= d.start),
                "{r:?}"
            );
        }
    }

    #[test]
    fn merging_joins_overlaps_and_gaps_that_cost_no_extra_request() {
        assert_eq!(merge(vec![5..9, 0..4, 3..6], 8), [0..9]);
        // 4 KiB requests: a 1-page gap is a request of its own.
        let p = PAGE;
        assert_eq!(merge(vec![0..p, 2 * p..3 * p], p), [0..p, 2 * p..3 * p]);
        // 16 KiB requests: two pages with a gap fit one request.
        assert_eq!(merge(vec![0..p, 2 * p..3 * p], 4 * p), [0..3 * p]);
        // 512 KiB requests: 528 KiB (2 requests) and a page at 1 MiB (1) read as 1028 KiB
        // (3 requests): one read; a page at 2 MiB more would make 5 of 4: apart.
        let m = merge(vec![0..528 << 10, MIB..MIB + p, 2 * MIB..2 * MIB + p], R);
        assert_eq!(m, [0..MIB + p, 2 * MIB..2 * MIB + p]);
        assert!(merge(vec![], R).is_empty());
    }

    #[test]
    fn the_request_size_comes_from_the_disks_queue() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(request_size(dir.path()), DEFAULT_REQUEST);
        std::fs::write(dir.path().join("max_segments"), "168\n").unwrap();
        assert_eq!(request_size(dir.path()), 168 * PAGE);
        std::fs::write(dir.path().join("max_sectors_kb"), "512\n").unwrap();
        assert_eq!(request_size(dir.path()), 512 << 10);
    }

    #[test]
    fn a_partition_outside_its_disk_adds_nothing_past_the_end() {
        let size = 8 * MIB;
        for r in plan(size, &[(7 * MIB, 5 * MIB), (20 * MIB, MIB)], R) {
            assert!(r.end <= size, "{r:?}");
        }
    }
}
