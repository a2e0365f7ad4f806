//! Whether an OSD's data is safe elsewhere, judged only on current evidence (pure).
//!
//! `osd remove` once trusted the manager's `safe-to-destroy` right after marking the OSD out,
//! and lost a copy: with two OSDs and pools of size 2 the manager's PG statistics were still
//! those from before the `out` (16 PGs active+clean), so the OSD "held no PGs" and was purged,
//! leaving every PG with one copy. Two rules here keep that from happening again:
//!
//! * **Before anything is marked out**, [`shortfalls`]: for every pool whose CRUSH rule reaches
//!   the OSD, count the failure domains (hosts, OSDs, ...) that can hold a copy with and
//!   without it (an OSD counts when it is up and in, and of the rule's device class). A pool
//!   that could keep `min(size, with)` copies but only `without` remain afterwards would stay
//!   degraded for good: the removal is refused before any change.
//! * **After the out**, [`judge_drain`]: the PG statistics must come from the osdmap in which
//!   the OSD was out or a newer one (each PG that had the OSD reported at that epoch or later:
//!   those PGs re-peer when it goes out, so a report from before is from before the move), no
//!   PG may still have the OSD in its up or acting set, and every PG that had it must be
//!   active+clean with no degraded object. Only then is Ceph's own `safe-to-destroy` asked.
//!   (The manager's PG map has no epoch of its own to check: `last_osdmap_epoch` reads 0 on
//!   16.2, and unaffected PGs do not report again on every new map.) When the OSD was already
//!   out before the command ran, which PGs it had and when it went out are unknown: then every
//!   PG must be active+clean, none mapped to it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One pool as the placement check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPlacement {
    /// Its name.
    pub name: String,
    /// Copies it wants.
    pub size: u32,
    /// The root its rule takes (`default`).
    pub root: String,
    /// The device class the rule is limited to (`take default~hdd`).
    pub class: Option<String>,
    /// The failure domain its rule chooses (`host`, `osd`, ...).
    pub domain: String,
}

/// A node of `ceph osd tree`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// Id: OSDs are >= 0, buckets < 0.
    pub id: i64,
    /// Name (`osd.3`, `host-a`, `default`).
    pub name: String,
    /// Type (`osd`, `host`, `root`, ...).
    pub kind: String,
    /// Children's ids (buckets).
    pub children: Vec<i64>,
    /// Up (OSDs).
    pub up: bool,
    /// In: its reweight is above zero (OSDs).
    pub is_in: bool,
    /// Device class (OSDs).
    pub class: Option<String>,
}

/// A pool that cannot keep its copies without the OSD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The pool.
    pub pool: String,
    /// Its size.
    pub size: u32,
    /// Its failure domain.
    pub domain: String,
    /// Failure domains that can hold a copy now.
    pub with: usize,
    /// And without the OSD.
    pub without: usize,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pool {} keeps {} copies on distinct {}s, and only {} {}{} would remain to hold them",
            self.pool,
            self.size,
            self.domain,
            self.without,
            self.domain,
            if self.without == 1 { "" } else { "s" }
        )
    }
}

/// Pools that would be left short of copies for good if OSD `id` went (pure).
pub fn shortfalls(pools: &[PoolPlacement], tree: &[TreeNode], id: u32) -> Vec<Shortfall> {
    let by_id: BTreeMap<i64, &TreeNode> = tree.iter().map(|n| (n.id, n)).collect();
    let target = i64::from(id);
    pools
        .iter()
        .filter_map(|pool| {
            let root = tree.iter().find(|n| n.name == pool.root && n.id < 0)?;
            let domains = domains_under(root, &pool.domain, &by_id);
            let usable = |skip: Option<i64>| {
                domains
                    .iter()
                    .filter(|d| {
                        osds_under(d, &by_id).iter().any(|o| {
                            Some(o.id) != skip
                                && o.up
                                && o.is_in
                                && pool
                                    .class
                                    .as_ref()
                                    .is_none_or(|c| o.class.as_ref() == Some(c))
                        })
                    })
                    .count()
            };
            let with = usable(None);
            let without = usable(Some(target));
            let can_have = with.min(pool.size as usize);
            (without < can_have).then(|| Shortfall {
                pool: pool.name.clone(),
                size: pool.size,
                domain: pool.domain.clone(),
                with,
                without,
            })
        })
        .collect()
}

/// The nodes of type `kind` under `root` (the root itself when it is of that type).
fn domains_under<'a>(
    root: &'a TreeNode,
    kind: &str,
    by_id: &BTreeMap<i64, &'a TreeNode>,
) -> Vec<&'a TreeNode> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    let mut seen = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n.id) {
            continue;
        }
        if n.kind == kind {
            found.push(n);
            continue;
        }
        stack.extend(n.children.iter().filter_map(|c| by_id.get(c).copied()));
    }
    found
}

/// The OSDs at or under `node`.
fn osds_under<'a>(node: &'a TreeNode, by_id: &BTreeMap<i64, &'a TreeNode>) -> Vec<&'a TreeNode> {
    domains_under(node, "osd", by_id)
}

/// One PG's statistics as the manager has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgStat {
    /// `1.a`.
    pub pgid: String,
    /// `active+clean`, ...
    pub state: String,
    /// Its up set.
    pub up: Vec<i64>,
    /// Its acting set.
    pub acting: Vec<i64>,
    /// The osdmap epoch of the report these statistics came from.
    pub reported_epoch: u64,
    /// Objects with fewer copies than the pool's size.
    pub degraded_objects: u64,
}

impl PgStat {
    /// Whether `id` is in its up or acting set.
    pub fn has(&self, id: u32) -> bool {
        let id = i64::from(id);
        self.up.contains(&id) || self.acting.contains(&id)
    }

    /// Active and clean, with every object fully copied.
    pub fn is_clean(&self) -> bool {
        let parts: BTreeSet<&str> = self.state.split('+').collect();
        parts.contains("active")
            && parts.contains("clean")
            && ![
                "degraded",
                "undersized",
                "remapped",
                "stale",
                "peering",
                "down",
                "incomplete",
            ]
            .iter()
            .any(|s| parts.contains(s))
            && self.degraded_objects == 0
    }

    /// The pool id, from the pgid.
    pub fn pool(&self) -> Option<u64> {
        self.pgid.split('.').next()?.parse().ok()
    }
}

/// The manager's PG statistics as read now, with what says whether they are whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgMapView {
    /// The manager says its PG map is ready (`pg_ready`; false right after it started).
    pub ready: bool,
    /// Every PG it has statistics for.
    pub pgs: Vec<PgStat>,
    /// How many PGs the osdmap's pools have (the sum of their `pg_num`), when known: fewer
    /// statistics than that means some PG (a new split child, say) is not judged yet.
    pub expected: Option<usize>,
}

/// What is judged: the PGs that had the OSD, out since a known epoch (this command marked it
/// out), or, when it was out already, every PG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// These PGs had it before it was marked out in this osdmap epoch.
    Had(BTreeSet<String>, u64),
    /// It was out before: every PG.
    Every,
}

/// Where the data of an OSD that was marked out stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drain {
    /// Every PG that had it is active+clean elsewhere, on statistics newer than the out.
    Drained,
    /// Not yet; why, for people.
    Waiting(String),
}

/// Whether OSD `id`, marked out, has had its data moved elsewhere (pure), judged on the PG
/// statistics `now`. A PG of `Had` that no longer exists (split or merged) brings every PG of
/// its pool under the same checks.
pub fn judge_drain(judged: &Judged, view: &PgMapView, id: u32) -> Drain {
    if !view.ready {
        return Drain::Waiting("the manager's PG map is not ready yet".into());
    }
    if let Some(expected) = view.expected.filter(|e| view.pgs.len() < *e) {
        return Drain::Waiting(format!(
            "the manager has statistics for {} of the {expected} PGs",
            view.pgs.len()
        ));
    }
    let now = view.pgs.as_slice();
    let mapped: Vec<&str> = now
        .iter()
        .filter(|p| p.has(id))
        .map(|p| p.pgid.as_str())
        .collect();
    if !mapped.is_empty() {
        return Drain::Waiting(format!(
            "{} PG{} still map to osd.{id} (e.g. {})",
            mapped.len(),
            if mapped.len() == 1 { "" } else { "s" },
            mapped.first().unwrap_or(&"")
        ));
    }
    let (pgs, out_epoch): (Vec<&PgStat>, u64) = match judged {
        Judged::Every => (now.iter().collect(), 0),
        Judged::Had(had, epoch) => {
            let present: BTreeSet<&str> = now.iter().map(|p| p.pgid.as_str()).collect();
            let gone_pools: BTreeSet<u64> = had
                .iter()
                .filter(|p| !present.contains(p.as_str()))
                .filter_map(|p| p.split('.').next()?.parse().ok())
                .collect();
            let pgs = now
                .iter()
                .filter(|p| {
                    had.contains(&p.pgid) || p.pool().is_some_and(|x| gone_pools.contains(&x))
                })
                .collect();
            (pgs, *epoch)
        }
    };
    let which = match judged {
        Judged::Every => "PGs".to_string(),
        Judged::Had(..) => format!("PGs that were on osd.{id}"),
    };
    let stale: Vec<&PgStat> = pgs
        .iter()
        .copied()
        .filter(|p| p.reported_epoch < out_epoch)
        .collect();
    if let Some(p) = stale.first() {
        return Drain::Waiting(format!(
            "{} of the {} {which} have no statistics from osdmap epoch {out_epoch} (the out) or later yet (e.g. {} from epoch {})",
            stale.len(),
            pgs.len(),
            p.pgid,
            p.reported_epoch
        ));
    }
    let unclean: Vec<&PgStat> = pgs.iter().copied().filter(|p| !p.is_clean()).collect();
    if let Some(p) = unclean.first() {
        return Drain::Waiting(format!(
            "{} of the {} {which} are not active+clean yet (e.g. {} {}, {} degraded objects)",
            unclean.len(),
            pgs.len(),
            p.pgid,
            p.state,
            p.degraded_objects
        ));
    }
    Drain::Drained
}

fn ids(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

fn number(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// The sum of the pools' `pg_num` in `osd dump` (format json).
pub fn expected_pgs(osd_dump: &Value) -> Option<usize> {
    let pools = osd_dump.get("pools").and_then(Value::as_array)?;
    pools
        .iter()
        .map(|p| number(p.get("pg_num")).and_then(|n| usize::try_from(n).ok()))
        .sum()
}

/// Reads the PG statistics of `pg dump` (format json; `pg_map.pg_stats` as 16.2 prints it,
/// or `pg_stats` at the top as `pg dump pgs` does). A PG whose entry cannot be read still
/// counts (as not clean, mapped nowhere), so it cannot make the judgement easier.
pub fn parse_pg_dump(v: &Value) -> Option<PgMapView> {
    let map = v.get("pg_map").unwrap_or(v);
    let stats = map.get("pg_stats").and_then(Value::as_array)?;
    let ready = v.get("pg_ready").and_then(Value::as_bool).unwrap_or(true);
    let pgs = stats
        .iter()
        .map(|p| PgStat {
            pgid: p
                .get("pgid")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            state: p
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            up: ids(p.get("up")),
            acting: ids(p.get("acting")),
            reported_epoch: number(p.get("reported_epoch")).unwrap_or(0),
            degraded_objects: number(p.pointer("/stat_sum/num_objects_degraded")).unwrap_or(0),
        })
        .collect();
    Some(PgMapView {
        ready,
        pgs,
        expected: None,
    })
}

/// Reads `osd tree` (format json).
pub fn parse_tree(v: &Value) -> Option<Vec<TreeNode>> {
    let nodes = v.get("nodes").and_then(Value::as_array)?;
    Some(
        nodes
            .iter()
            .filter_map(|n| {
                Some(TreeNode {
                    id: n.get("id")?.as_i64()?,
                    name: n.get("name")?.as_str()?.to_string(),
                    kind: n.get("type")?.as_str()?.to_string(),
                    children: ids(n.get("children")),
                    up: n.get("status").and_then(Value::as_str) == Some("up"),
                    is_in: n.get("reweight").and_then(Value::as_f64).unwrap_or(0.0) > 0.0,
                    class: n
                        .get("device_class")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
            })
            .collect(),
    )
}

/// Reads the pools of `osd dump` with the rules of `osd crush rule dump` (format json): each
/// replicated pool with the root, class and failure domain of its rule. A pool whose rule has
/// no `take` or no choose step is left out (nothing to judge).
pub fn parse_placements(osd_dump: &Value, rules: &Value) -> Vec<PoolPlacement> {
    let rules: BTreeMap<u64, RulePlacement> = rules
        .as_array()
        .map(|a| a.iter().filter_map(rule_placement).collect())
        .unwrap_or_default();
    osd_dump
        .get("pools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let rule = rules.get(&number(p.get("crush_rule"))?)?;
                    Some(PoolPlacement {
                        name: p.get("pool_name")?.as_str()?.to_string(),
                        size: u32::try_from(number(p.get("size"))?).ok()?,
                        root: rule.0.clone(),
                        class: rule.1.clone(),
                        domain: rule.2.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A rule's placement: (root, device class, failure domain).
type RulePlacement = (String, Option<String>, String);

fn rule_placement(rule: &Value) -> Option<(u64, RulePlacement)> {
    let id = number(rule.get("rule_id"))?;
    let steps = rule.get("steps").and_then(Value::as_array)?;
    let take = steps
        .iter()
        .find(|s| s.get("op").and_then(Value::as_str) == Some("take"))?;
    let item = take.get("item_name")?.as_str()?;
    let (root, class) = match item.split_once('~') {
        Some((r, c)) => (r.to_string(), Some(c.to_string())),
        None => (item.to_string(), None),
    };
    let domain = steps
        .iter()
        .find(|s| {
            s.get("op")
                .and_then(Value::as_str)
                .is_some_and(|o| o.starts_with("choose"))
        })?
        .get("type")?
        .as_str()?
        .to_string();
    Some((id, (root, class, domain)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn osd(id: i64, up: bool, is_in: bool) -> TreeNode {
        TreeNode {
            id,
            name: format!("osd.{id}"),
            kind: "osd".into(),
            children: vec![],
            up,
            is_in,
            class: Some("hdd".into()),
        }
    }

    fn bucket(id: i64, name: &str, kind: &str, children: &[i64]) -> TreeNode {
        TreeNode {
            id,
            name: name.into(),
            kind: kind.into(),
            children: children.to_vec(),
            up: false,
            is_in: false,
            class: None,
        }
    }

    fn pool(size: u32, domain: &str) -> PoolPlacement {
        PoolPlacement {
            name: "data".into(),
            size,
            root: "default".into(),
            class: None,
            domain: domain.into(),
        }
    }

    /// One host, OSDs 0..n all up and in.
    fn one_host(n: i64) -> Vec<TreeNode> {
        let mut t = vec![
            bucket(-1, "default", "root", &[-2]),
            bucket(-2, "node", "host", &(0..n).collect::<Vec<_>>()),
        ];
        t.extend((0..n).map(|i| osd(i, true, true)));
        t
    }

    #[test]
    fn two_osds_and_size_two_cannot_lose_one_and_three_can() {
        let s = shortfalls(&[pool(2, "osd")], &one_host(2), 1);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].with, s[0].without), (2, 1));
        assert!(
            s[0].to_string().contains("only 1 osd would remain"),
            "{}",
            s[0]
        );
        assert!(shortfalls(&[pool(2, "osd")], &one_host(3), 1).is_empty());
        assert!(
            shortfalls(&[pool(1, "osd")], &one_host(2), 1).is_empty(),
            "size 1: one OSD left is enough"
        );
    }

    #[test]
    fn a_pool_already_short_is_not_made_worse_by_an_osd_outside_its_domains() {
        // Size 3 by host with two hosts: two copies now, two after osd.2 (host b has two).
        let mut t = vec![
            bucket(-1, "default", "root", &[-2, -3]),
            bucket(-2, "a", "host", &[0]),
            bucket(-3, "b", "host", &[1, 2]),
        ];
        t.extend((0..3).map(|i| osd(i, true, true)));
        assert!(shortfalls(&[pool(3, "host")], &t, 2).is_empty());
        // osd.0 is host a's only OSD: without it one host remains.
        let s = shortfalls(&[pool(3, "host")], &t, 0);
        assert_eq!((s[0].with, s[0].without), (2, 1), "{s:?}");
    }

    #[test]
    fn down_or_out_osds_and_other_classes_hold_no_copy() {
        let mut t = one_host(3);
        t[3] = osd(1, false, true); // osd.1 down
        t[4] = osd(2, true, false); // osd.2 out
        let s = shortfalls(&[pool(2, "osd")], &t, 0);
        assert_eq!((s[0].with, s[0].without), (1, 0), "{s:?}");
        let mut t = one_host(3);
        t[4].class = Some("ssd".into());
        let p = PoolPlacement {
            class: Some("hdd".into()),
            ..pool(2, "osd")
        };
        assert_eq!(shortfalls(&[p], &t, 0).len(), 1, "osd.2 is an ssd");
        let other_root = PoolPlacement {
            root: "elsewhere".into(),
            ..pool(2, "osd")
        };
        assert!(shortfalls(&[other_root], &one_host(2), 1).is_empty());
    }

    fn pg(pgid: &str, state: &str, acting: &[i64], epoch: u64) -> PgStat {
        PgStat {
            pgid: pgid.into(),
            state: state.into(),
            up: acting.to_vec(),
            acting: acting.to_vec(),
            reported_epoch: epoch,
            degraded_objects: 0,
        }
    }

    fn v(pgs: &[PgStat]) -> PgMapView {
        PgMapView {
            ready: true,
            pgs: pgs.to_vec(),
            expected: None,
        }
    }

    fn had(ids: &[&str], epoch: u64) -> Judged {
        Judged::Had(ids.iter().map(|s| s.to_string()).collect(), epoch)
    }

    #[test]
    fn statistics_from_before_the_out_are_no_evidence() {
        // The defect: right after the out the manager still showed every PG active+clean
        // on osd.0 alone, reported at epoch 20; osd.1 was out at 21.
        let before = [
            pg("1.0", "active+clean", &[0], 20),
            pg("1.1", "active+clean", &[0], 20),
        ];
        let d = judge_drain(&had(&["1.0", "1.1"], 21), &v(&before), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("2 of the 2") && w.contains("epoch 21")),
            "{d:?}"
        );
        let some = [
            pg("1.0", "active+clean", &[0, 2], 21),
            pg("1.1", "active+clean", &[0], 20),
        ];
        let d = judge_drain(&had(&["1.0", "1.1"], 21), &v(&some), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("1 of the 2")),
            "{d:?}"
        );
    }

    #[test]
    fn undersized_degraded_or_still_mapped_pgs_wait() {
        let undersized = [pg("1.0", "active+undersized+degraded", &[0], 30)];
        let d = judge_drain(&had(&["1.0"], 30), &v(&undersized), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("undersized")),
            "{d:?}"
        );
        let mapped = [pg("1.0", "active+clean", &[0, 1], 30)];
        let d = judge_drain(&had(&["1.0"], 30), &v(&mapped), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("still map")),
            "{d:?}"
        );
        let mut degraded = pg("1.0", "active+clean", &[0, 2], 30);
        degraded.degraded_objects = 3;
        let d = judge_drain(&had(&["1.0"], 30), &v(&[degraded]), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("3 degraded")),
            "{d:?}"
        );
        let moved = [
            pg("1.0", "active+clean", &[0, 2], 31),
            pg("2.0", "active+undersized", &[0], 12),
        ];
        assert_eq!(
            judge_drain(&had(&["1.0"], 30), &v(&moved), 1),
            Drain::Drained,
            "a PG that never had osd.1 is not its business"
        );
        let d = judge_drain(&Judged::Every, &v(&moved), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("2.0")),
            "out before the command ran: every PG must be clean: {d:?}"
        );
    }

    #[test]
    fn a_split_pg_brings_its_whole_pool_under_judgement() {
        let now = [
            pg("1.0", "active+clean", &[0, 2], 31),
            pg("1.4", "active+recovering", &[0, 2], 31),
        ];
        let d = judge_drain(&had(&["1.1"], 30), &v(&now), 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("1.4")),
            "{d:?}"
        );
    }

    #[test]
    fn ceph_json_is_read_and_bad_json_is_none() {
        let dump = json!({"pg_ready": true, "pg_map": {"pg_stats": [
            {"pgid": "2.1f", "state": "active+clean", "up": [0, 2], "acting": [0, 2],
             "reported_epoch": "44", "stat_sum": {"num_objects_degraded": 0}}],
            "last_osdmap_epoch": 0}});
        let view = parse_pg_dump(&dump).unwrap();
        assert_eq!(view.pgs[0].reported_epoch, 44);
        assert_eq!(view.pgs[0].pool(), Some(2));
        let not_ready =
            parse_pg_dump(&json!({"pg_ready": false, "pg_map": {"pg_stats": []}})).unwrap();
        let d = judge_drain(&Judged::Every, &not_ready, 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("not ready")),
            "{d:?}"
        );
        let partial = PgMapView {
            expected: expected_pgs(&json!({"pools": [{"pg_num": 16}, {"pg_num": 1}]})),
            ..view
        };
        let d = judge_drain(&Judged::Every, &partial, 1);
        assert!(
            matches!(&d, Drain::Waiting(w) if w.contains("1 of the 17")),
            "{d:?}"
        );
        assert!(parse_pg_dump(&json!("garbage")).is_none());
        let rules = json!([{"rule_id": 1, "steps": [
            {"op": "take", "item": -2, "item_name": "default~ssd"},
            {"op": "chooseleaf_firstn", "num": 0, "type": "host"}, {"op": "emit"}]}]);
        let dump = json!({"pools": [{"pool_name": "volumes", "size": 3, "crush_rule": 1},
                                     {"pool_name": "odd", "size": 2, "crush_rule": 9}]});
        let p = parse_placements(&dump, &rules);
        assert_eq!(
            p,
            [PoolPlacement {
                name: "volumes".into(),
                size: 3,
                root: "default".into(),
                class: Some("ssd".into()),
                domain: "host".into()
            }]
        );
        let tree = json!({"nodes": [{"id": -1, "name": "default", "type": "root", "children": [0]},
            {"id": 0, "name": "osd.0", "type": "osd", "status": "up", "reweight": 1.0,
             "device_class": "hdd"}]});
        let t = parse_tree(&tree).unwrap();
        assert!(t[1].up && t[1].is_in);
        assert!(parse_tree(&json!({})).is_none());
    }
}
