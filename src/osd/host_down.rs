//! A new OSD is never placed under a CRUSH host whose OSDs are all down.
//!
//! Ceph 16's monitors crash on it (`FAILED ceph_assert(num_down_in_osds <= num_in_osds)` in
//! `OSDMap::check_health`, seen with 16.2.15): when an OSD that counts (exists, in, booted at
//! least once) is down, the health check walks up its CRUSH subtree and, for a subtree whose
//! OSDs are all down, counts every OSD under it as "down and in", including OSDs that have
//! never booted (`osd new` done, placed in CRUSH by step 7 of `osd prepare`), which the
//! "in" count leaves out. On a single host whose OSDs are all down (right after a reboot or
//! a power cut, before they have booted again; or all stopped) one more never-booted OSD
//! under it makes the monitor abort at its next proposal, and again after each restart:
//! the cluster is down until someone edits the map by hand. This happened in the system
//! guest when `osd prepare` ran right after a power cut.
//!
//! So before an OSD id is allocated, the host bucket's OSDs are read: when some count and
//! none is up, prepare waits (they are usually booting) and then refuses, nothing allocated.
//! [`blocks_new_osd`] is the pure judgement.

use crate::ceph::commands::OsdInfo;

/// Why a new OSD must not be placed under a host whose OSDs are `on_host` (pure): `Some`
/// when at least one of them counts for Ceph's health check (exists, in, has booted, not
/// destroyed) and none of them is up.
pub fn blocks_new_osd(on_host: &[&OsdInfo]) -> Option<String> {
    let counted: Vec<&&OsdInfo> = on_host
        .iter()
        .filter(|o| o.is_in && o.ever_up && !o.destroyed)
        .collect();
    if counted.is_empty() || on_host.iter().any(|o| o.up) {
        return None;
    }
    let ids: Vec<String> = counted.iter().map(|o| format!("osd.{}", o.id)).collect();
    Some(format!(
        "every OSD of this CRUSH host is down ({}), and Ceph 16's monitors crash when a \
         never-started OSD is placed under such a host (OSDMap::check_health assertion)",
        ids.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osd(id: u32, up: bool, is_in: bool, ever_up: bool) -> OsdInfo {
        OsdInfo {
            id,
            uuid: String::new(),
            up,
            is_in,
            ever_up,
            destroyed: false,
        }
    }

    #[test]
    fn a_host_whose_booted_in_osds_are_all_down_blocks_a_new_osd() {
        let (a, b) = (osd(0, false, true, true), osd(1, false, true, true));
        let why = blocks_new_osd(&[&a, &b]).unwrap_or_default();
        assert!(why.contains("osd.0, osd.1"), "{why}");
    }

    #[test]
    fn one_up_osd_or_nothing_that_counts_lets_it_through() {
        // One of them up: the subtree is not down.
        let (a, b) = (osd(0, false, true, true), osd(1, true, true, true));
        assert_eq!(blocks_new_osd(&[&a, &b]), None);
        // A new host, or one with only never-booted OSDs (prepare all, then activate all).
        assert_eq!(blocks_new_osd(&[]), None);
        let fresh = osd(2, false, true, false);
        assert_eq!(blocks_new_osd(&[&fresh]), None);
        // Out (removed, or marked out after mon_osd_down_out_interval): not counted.
        let out = osd(3, false, false, true);
        assert_eq!(blocks_new_osd(&[&out]), None);
        let mut gone = osd(4, false, true, true);
        gone.destroyed = true;
        assert_eq!(blocks_new_osd(&[&gone]), None);
    }
}
