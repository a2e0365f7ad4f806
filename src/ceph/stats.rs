//! PG statistics made current before they are judged. The manager's PG map lags the osdmap:
//! right after an OSD comes up, `pg dump` can still show every PG active+clean from reports
//! sent before the PGs that now map to it started peering, and a judgement made on that is
//! wrong for seconds (an "every PG clean" that turns degraded a moment later). Ceph's own QA
//! flushes and waits (`flush_pg_stats`, then `osd last-stat-seq` until it reaches what the
//! flush returned); this module does the same against the manager, where `pg dump` is read:
//! every up OSD has the current osdmap, is told to send its statistics now, and the
//! manager's `osd_stats` show that sequence before anything reads `pg dump`. (Not through
//! `osd last-stat-seq`: with `format=json` Ceph 16 answers it with nothing, it lags the
//! manager by a digest period, and its `id` given as the string "osd.N" aborts ceph-mon
//! 16.2.15.)
//!
//! An OSD stores a map before its PGs have all advanced to it, so a reading made this way
//! can still miss a peering that starts a moment later: callers that decide on "clean"
//! ask for two current readings in a row.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::CephClient;

/// The osdmap epoch and the up OSDs of an `osd dump` (pure).
pub fn up_osds(dump: &Value) -> Option<(u64, Vec<u32>)> {
    let epoch = dump.get("epoch")?.as_u64()?;
    let up = dump
        .get("osds")?
        .as_array()?
        .iter()
        .filter(|o| o.get("up").and_then(Value::as_u64) == Some(1))
        .filter_map(|o| o.get("osd")?.as_u64())
        .filter_map(|id| u32::try_from(id).ok())
        .collect();
    Some((epoch, up))
}

/// The sequence number in a reply to `flush_pg_stats`: a bare number (pure).
pub fn sequence(reply: &[u8]) -> Option<u64> {
    std::str::from_utf8(reply).ok()?.trim().parse().ok()
}

/// Makes the manager's PG statistics at least as new as the osdmap is now (see the module
/// doc), waiting until `deadline`. `Err` says what is not current yet.
pub fn make_current(c: &dyn CephClient, deadline: Instant) -> Result<(), String> {
    let dump = c
        .mon(json!({"prefix": "osd dump"}))
        .map_err(|e| format!("`osd dump` failed: {e}"))?;
    let (epoch, up) = up_osds(&dump).ok_or("`osd dump` has no epoch or OSD list")?;
    for &id in &up {
        wait_for_map(c, id, epoch, deadline)?;
    }
    let mut flushed = Vec::with_capacity(up.len());
    for &id in &up {
        let reply = c
            .osd_raw(id, &json!({"prefix": "flush_pg_stats"}), &[])
            .map_err(|e| format!("osd.{id} did not flush its PG statistics: {e}"))?;
        let seq = sequence(&reply)
            .ok_or_else(|| format!("osd.{id} answered flush_pg_stats with no sequence number"))?;
        flushed.push((id, seq));
    }
    loop {
        let arrived = c
            .mgr(json!({"prefix": "pg dump", "dumpcontents": ["osds"]}))
            .ok()
            .map(|v| stat_seqs(&v))
            .unwrap_or_default();
        let missing = flushed.iter().find(|(id, seq)| {
            arrived
                .iter()
                .find(|(o, _)| o == id)
                .is_none_or(|(_, got)| got < seq)
        });
        match missing {
            None => return Ok(()),
            Some((id, seq)) if Instant::now() >= deadline => {
                return Err(format!(
                    "the statistics osd.{id} flushed (sequence {seq}) have not reached the manager"
                ))
            }
            Some(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Each OSD's last statistics sequence the manager has, from `pg dump osds` (pure).
pub fn stat_seqs(dump: &Value) -> Vec<(u32, u64)> {
    dump.get("osd_stats")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| {
                    let id = u32::try_from(o.get("osd")?.as_u64()?).ok()?;
                    Some((id, o.get("seq")?.as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until osd.`id` has osdmap `epoch` (its `status`).
fn wait_for_map(c: &dyn CephClient, id: u32, epoch: u64, deadline: Instant) -> Result<(), String> {
    loop {
        let newest = c
            .osd_raw(id, &json!({"prefix": "status", "format": "json"}), &[])
            .ok()
            .and_then(|r| serde_json::from_slice::<Value>(&r).ok())
            .and_then(|v| v.get("newest_map").and_then(Value::as_u64));
        if newest.is_some_and(|n| n >= epoch) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(match newest {
                Some(n) => format!("osd.{id} has osdmap epoch {n}, not yet {epoch}"),
                None => format!("osd.{id} did not answer `status`"),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_osds_lists_only_those_up() {
        let dump = json!({"epoch": 27, "osds": [
            {"osd": 0, "up": 1, "in": 1},
            {"osd": 1, "up": 0, "in": 1},
            {"osd": 2, "up": 1, "in": 0}
        ]});
        assert_eq!(up_osds(&dump), Some((27, vec![0, 2])));
        assert_eq!(up_osds(&json!({"osds": []})), None);
    }

    #[test]
    fn stat_seqs_reads_each_osds_sequence() {
        let dump = json!({"osd_stats": [
            {"osd": 1, "seq": 47_244_640_259_u64, "up_from": 11},
            {"osd": 0, "seq": 30_064_771_099_u64},
            {"osd": 2}
        ], "pg_ready": true});
        assert_eq!(
            stat_seqs(&dump),
            vec![(1, 47_244_640_259), (0, 30_064_771_099)]
        );
        assert!(stat_seqs(&json!({})).is_empty());
    }

    #[test]
    fn sequence_reads_text_and_json_numbers() {
        assert_eq!(sequence(b"30064771099"), Some(30_064_771_099));
        assert_eq!(sequence(b"30064771098\n"), Some(30_064_771_098));
        assert_eq!(sequence(b"{\"seq\": 1}"), None);
        assert_eq!(sequence(b"\xff"), None);
    }
}
