//! `pools init`: applies the sizing policy to the cluster through one connection — cluster
//! defaults in the monitors' config database, a replicated CRUSH rule for the failure domain,
//! the OpenStack pools (created or brought to policy, never recreated), and one cephx client
//! per OpenStack service with its keyring. Every object is reported `created`, `updated` or
//! `unchanged`; a rerun on an unchanged cluster changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::action::Action;
use serde_json::{json, Value};

use super::policy::{self, Decision, Shape};
use crate::ceph::client::CephClient;
use crate::error::{Error, Result};

/// The request.
#[derive(Debug, Clone)]
pub struct PoolsRequest {
    /// Assert a one-host cluster.
    pub single_node: bool,
    /// Explicit replica count.
    pub replicas: Option<u32>,
    /// Pools to create.
    pub pools: Vec<String>,
    /// pg_num for new pools.
    pub pg_num: u32,
    /// Where keyrings go (`None`: do not write keyrings).
    pub keyring_dir: Option<PathBuf>,
    /// Write keyrings where kolla-ansible expects them under `keyring_dir`.
    pub kolla_layout: bool,
    /// Mute the "pool has no replicas" health check on size-1 pools.
    pub mute_size_warning: bool,
    /// Report what would change; change nothing.
    pub dry_run: bool,
    /// Place the pools on the OSDs of this CRUSH device class only (and size for them).
    pub device_class: Option<String>,
    /// Lower the size of pools that have more copies than the cluster's shape now gives (a
    /// host or OSDs gone); without it that is refused before anything changes.
    pub allow_shrink: bool,
}

/// One object's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `config`, `rule`, `pool`, `client`, `keyring`, `health`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// `created`, `updated`, `unchanged` (dry run: `would_create`, `would_update`).
    pub action: Action,
    /// What changed or was checked.
    pub detail: String,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PoolsReport {
    /// Whether anything changed.
    pub changed: bool,
    /// The sizing decision.
    pub decision: Decision,
    /// The cluster's shape it was made for.
    pub shape: Shape,
    /// Per object.
    pub changes: Vec<Change>,
    /// The same defaults as a ceph.conf snippet, for sites that template it.
    pub ceph_conf_snippet: String,
    /// Notes for people (health checks and how to mute them).
    pub notes: Vec<String>,
}

/// Pools Ceph itself creates; they get the sizing too.
const INTERNAL_POOLS: &[&str] = &["device_health_metrics", ".mgr"];

/// The OpenStack clients: (entity, pools it writes, pools it reads, primary pool).
const CLIENTS: &[(&str, &[&str], &[&str])] = &[
    ("client.glance", &["images"], &[]),
    ("client.cinder", &["volumes", "vms"], &["images"]),
    ("client.cinder-backup", &["backups"], &[]),
    ("client.nova", &["vms", "volumes"], &["images"]),
];

fn osd_caps(write: &[&str], read: &[&str], pools: &[String]) -> Option<String> {
    let has = |p: &&&str| pools.iter().any(|q| q == **p);
    let mut caps: Vec<String> = write
        .iter()
        .filter(has)
        .map(|p| format!("profile rbd pool={p}"))
        .collect();
    if caps.is_empty() {
        return None;
    }
    caps.extend(
        read.iter()
            .filter(has)
            .map(|p| format!("profile rbd-read-only pool={p}")),
    );
    Some(caps.join(", "))
}

/// The shape from `osd tree`: OSDs under each host bucket (only those of device class
/// `class`, when given).
pub fn shape(c: &dyn CephClient, class: Option<&str>) -> Result<Shape> {
    let tree = c.mon(json!({"prefix": "osd tree"}))?;
    let nodes = tree
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let kind_of: BTreeMap<i64, (String, Option<String>)> = nodes
        .iter()
        .filter_map(|n| {
            let class = n
                .get("device_class")
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((
                n.get("id")?.as_i64()?,
                (n.get("type")?.as_str()?.to_string(), class),
            ))
        })
        .collect();
    let osds_per_host = nodes
        .iter()
        .filter(|n| n.get("type").and_then(Value::as_str) == Some("host"))
        .map(|h| {
            h.get("children")
                .and_then(Value::as_array)
                .map(|ch| {
                    ch.iter()
                        .filter(|id| {
                            id.as_i64()
                                .and_then(|i| kind_of.get(&i))
                                .is_some_and(|(t, c)| {
                                    t == "osd"
                                        && class.is_none_or(|want| c.as_deref() == Some(want))
                                })
                        })
                        .count()
                })
                .unwrap_or(0)
        })
        .collect();
    Ok(Shape { osds_per_host })
}

/// What `pools init` reads before it decides: one observation of the cluster.
#[derive(Debug, Clone)]
pub struct Observed {
    /// OSDs per host.
    pub shape: Shape,
    /// `config dump`.
    pub config: Vec<Value>,
    /// `osd crush rule dump`.
    pub rules: Vec<Value>,
    /// `osd pool ls detail`.
    pub pools: Vec<Value>,
    /// Each OpenStack client's caps, `None` when the client does not exist.
    pub clients: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Reads the cluster's shape, config, rules, pools and the OpenStack clients.
pub fn observe(c: &dyn CephClient, class: Option<&str>) -> Result<Observed> {
    let mut clients = BTreeMap::new();
    for (entity, _, _) in CLIENTS {
        let caps = c
            .mon(json!({"prefix": "auth get", "entity": entity}))
            .ok()
            .map(|v| {
                v.as_array()
                    .and_then(|a| a.first())
                    .and_then(|e| e.get("caps"))
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default()
            });
        clients.insert((*entity).to_string(), caps);
    }
    Ok(Observed {
        shape: shape(c, class)?,
        config: array(c.mon(json!({"prefix": "config dump"}))?),
        rules: array(c.mon(json!({"prefix": "osd crush rule dump"}))?),
        pools: array(c.mon(json!({"prefix": "osd pool ls", "detail": "detail"}))?),
        clients,
    })
}

/// The outcomes so far and the commands that realise them, in phases. Deciding fills it
/// without a cluster; [`Plan::apply`] sends one phase. The commands of one phase run
/// concurrently on the one connection: the monitors batch concurrent map changes into one
/// proposal, so a phase costs about one commit instead of one per command.
#[derive(Debug)]
struct Plan {
    dry_run: bool,
    changes: Vec<Change>,
    phases: [Vec<Value>; 3],
    /// Pools whose size is set (or which are created) by the queued commands: their min_size
    /// is the monitors' to derive, and `settle` checks it.
    sized: Vec<String>,
}

impl Plan {
    fn new(dry_run: bool) -> Self {
        Plan {
            dry_run,
            changes: Vec::new(),
            phases: [Vec::new(), Vec::new(), Vec::new()],
            sized: Vec::new(),
        }
    }

    /// Records an object's outcome; true when it must be changed now.
    fn record(
        &mut self,
        kind: &'static str,
        name: &str,
        existed: bool,
        differs: bool,
        detail: String,
    ) -> bool {
        let action = Action::of_ensure(existed, differs, self.dry_run);
        self.changes.push(Change {
            kind,
            name: name.to_string(),
            action,
            detail,
        });
        (!existed || differs) && !self.dry_run
    }

    fn queue(&mut self, phase: usize, cmd: Value) {
        if let Some(q) = self.phases.get_mut(phase) {
            q.push(cmd);
        }
    }

    /// A `config set` when the monitors' config database does not hold `value` yet.
    fn config(&mut self, phase: usize, current: &[Value], who: &str, name: &str, value: &str) {
        let now = current.iter().find(|e| {
            e.get("section").and_then(Value::as_str) == Some(who)
                && e.get("name").and_then(Value::as_str) == Some(name)
        });
        let now_v = now.and_then(|e| e.get("value")).and_then(Value::as_str);
        if self.record(
            "config",
            &format!("{who}/{name}"),
            now.is_some(),
            now_v != Some(value),
            format!("{name} = {value}"),
        ) {
            self.queue(
                phase,
                json!({"prefix": "config set", "who": who, "name": name, "value": value}),
            );
        }
    }

    /// Sends the queued commands of `phase` concurrently; the first error wins.
    fn apply(&mut self, c: &dyn CephClient, phase: usize) -> Result<()> {
        let cmds = self
            .phases
            .get_mut(phase)
            .map(std::mem::take)
            .unwrap_or_default();
        let results: Vec<Result<Value>> = std::thread::scope(|s| {
            let handles: Vec<_> = cmds
                .into_iter()
                .map(|cmd| s.spawn(move || c.mon(cmd)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Internal("a monitor command thread panicked".into()))
                    })
                })
                .collect()
        });
        results
            .into_iter()
            .find_map(std::result::Result::err)
            .map_or(Ok(()), Err)
    }

    fn changed(&self) -> bool {
        self.changes.iter().any(|c| c.action.changed())
    }
}

/// The rule `pools init` places pools with: `replicated_<domain>`, or
/// `replicated_<domain>_<class>` for pools on one device class.
fn rule_name(domain: policy::FailureDomain, class: Option<&str>) -> String {
    match class {
        None => domain.rule_name().to_string(),
        Some(c) => format!("{}_{c}", domain.rule_name()),
    }
}

fn rule_id(rules: &[Value], name: &str) -> Option<i64> {
    rules
        .iter()
        .find(|r| r.get("rule_name").and_then(Value::as_str) == Some(name))
        .and_then(|r| r.get("rule_id").and_then(Value::as_i64))
}

/// Phase 0: what pools and clients depend on: size-one permission, the rule, the defaults.
fn plan_defaults(plan: &mut Plan, seen: &Observed, decision: &Decision, class: Option<&str>) {
    let domain = decision.failure_domain;
    let rule = rule_name(domain, class);
    if decision.size == 1 {
        plan.config(0, &seen.config, "mon", "mon_allow_pool_size_one", "true");
    }
    let existed = rule_id(&seen.rules, &rule).is_some();
    let on_class = class
        .map(|c| format!(", device class {c}"))
        .unwrap_or_default();
    if plan.record(
        "rule",
        &rule,
        existed,
        false,
        format!(
            "replicated, root default, failure domain {}{on_class}",
            domain.as_str()
        ),
    ) {
        let mut create = json!({"prefix": "osd crush rule create-replicated", "name": rule, "root": "default", "type": domain.as_str()});
        if let (Some(c), Some(fields)) = (class, create.as_object_mut()) {
            fields.insert("class".into(), json!(c));
        }
        plan.queue(0, create);
    }
    // Cluster defaults, so pools created later by anyone (and ours below) get the same sizing.
    // The default rule follows in phase 1: a pool created while the default names a rule
    // not yet committed fails ("No suitable CRUSH rule exists", seen on Ceph 18).
    for (name, value) in [
        ("osd_pool_default_size", decision.size),
        ("osd_pool_default_min_size", decision.min_size),
    ] {
        plan.config(
            INDEPENDENT,
            &seen.config,
            "global",
            name,
            &value.to_string(),
        );
    }
}

/// Phase 0 too: each OpenStack client with least-privilege caps on the pools that exist.
/// Returns the clients planned, with whether each existed before.
fn plan_clients(plan: &mut Plan, seen: &Observed, pools: &[String]) -> Vec<(&'static str, bool)> {
    let mut planned = Vec::new();
    for (entity, write, read) in CLIENTS {
        let Some(osd) = osd_caps(write, read, pools) else {
            continue;
        };
        let primary = write.first().copied().unwrap_or("");
        let want: BTreeMap<&str, String> = [
            ("mon", "profile rbd".to_string()),
            ("osd", osd),
            ("mgr", format!("profile rbd pool={primary}")),
        ]
        .into_iter()
        .collect();
        let cur = seen.clients.get(*entity).cloned().flatten();
        let differs = cur.as_ref().is_none_or(|caps| {
            caps.len() != want.len() || want.iter().any(|(k, v)| caps.get(*k) != Some(v))
        });
        let caps_text = want
            .iter()
            .map(|(k, v)| format!("{k} '{v}'"))
            .collect::<Vec<_>>()
            .join(" ");
        if plan.record("client", entity, cur.is_some(), differs, caps_text) {
            let caps: Vec<String> = want
                .iter()
                .flat_map(|(k, v)| [k.to_string(), v.clone()])
                .collect();
            let prefix = if cur.is_none() {
                "auth get-or-create"
            } else {
                "auth caps"
            };
            plan.queue(0, json!({"prefix": prefix, "entity": entity, "caps": caps}));
        }
        planned.push((*entity, cur.is_some()));
    }
    planned
}

/// Writes (or in a dry run, judges) each client's keyring file.
fn write_keyrings(
    c: &dyn CephClient,
    plan: &mut Plan,
    req: &PoolsRequest,
    clients: &[(&str, bool)],
) -> Result<()> {
    let Some(dir) = &req.keyring_dir else {
        return Ok(());
    };
    for (entity, existed) in clients {
        let text = if req.dry_run && !existed {
            None
        } else {
            let out = c.mon_raw(
                &json!({"prefix": "auth get", "entity": entity, "format": "plain"}),
                &[],
            )?;
            Some(String::from_utf8_lossy(&out).into_owned())
        };
        for path in keyring_paths(dir, entity, req.kolla_layout) {
            let now = std::fs::read_to_string(&path).ok();
            let differs = text.as_ref().is_none_or(|t| now.as_ref() != Some(t))
                || !crate::files::is_private(&path);
            if plan.record(
                "keyring",
                &path.display().to_string(),
                now.is_some(),
                differs,
                format!("{entity}, mode 0600"),
            ) {
                if let Some(t) = &text {
                    crate::files::write_private(&path, t.as_bytes())?;
                }
            }
        }
    }
    Ok(())
}

/// Size-one pools raise POOL_NO_REDUNDANCY: explained, and muted when asked.
fn size_one_health(
    c: &dyn CephClient,
    plan: &mut Plan,
    req: &PoolsRequest,
    decision: &Decision,
) -> Result<Vec<String>> {
    if decision.size != 1 {
        return Ok(Vec::new());
    }
    let notes = vec!["pools have a single copy: Ceph reports HEALTH_WARN POOL_NO_REDUNDANCY (\"pool(s) have no replicas configured\"); that is expected on a one-disk host. Mute it with `ceph health mute POOL_NO_REDUNDANCY` or pass --mute-size-warning".into()];
    if req.mute_size_warning {
        let health = c.mon(json!({"prefix": "health", "detail": "detail"}))?;
        let is_muted = health
            .get("mutes")
            .and_then(Value::as_array)
            .is_some_and(|m| {
                m.iter()
                    .any(|x| x.get("code").and_then(Value::as_str) == Some("POOL_NO_REDUNDANCY"))
            });
        if plan.record(
            "health",
            "POOL_NO_REDUNDANCY",
            is_muted,
            false,
            "muted".into(),
        ) {
            c.mon(json!({"prefix": "health mute", "code": "POOL_NO_REDUNDANCY"}))?;
        }
    }
    Ok(notes)
}

/// The same defaults as a ceph.conf snippet, for sites that template it.
fn conf_snippet(decision: &Decision) -> String {
    format!(
        "[global]\nosd pool default size = {}\nosd pool default min size = {}\nosd crush chooseleaf type = {}\n{}",
        decision.size,
        decision.min_size,
        if decision.failure_domain == policy::FailureDomain::Osd { 0 } else { 1 },
        if decision.size == 1 { "mon allow pool size one = true\n" } else { "" }
    )
}

/// The phases of `pools init`, each one proposal of the monitors (they batch the concurrent
/// commands of a phase into one map change, and space proposals about a second apart:
/// `paxos_propose_interval`), so their number is what `pools init` costs.
///
/// Phase 0 needs nothing: the size and min_size defaults, the size-one permission, the rule,
/// the clients, and new pools (created with their size, and with the rule when it exists).
const INDEPENDENT: usize = 0;
/// Phase 1 needs phase 0 committed: each pool's rule, size and application, the default rule.
const ON_POOLS: usize = 1;
/// Phase 2, only when a read-back after phase 1 finds something unsettled: a min_size the
/// monitors did not derive from the new default when the size changed, or a pool of Ceph's
/// own that the manager created meanwhile.
const SETTLE: usize = 2;

/// Applies the policy: observe once, decide every object, send phase 0 and phase 1, read the
/// pools back and settle what is left (usually nothing); then keyrings and health.
pub fn init(c: &dyn CephClient, req: &PoolsRequest) -> Result<PoolsReport> {
    let class = req.device_class.as_deref();
    let seen = observe(c, class)?;
    if let Some(cl) = class.filter(|_| seen.shape.osds() == 0) {
        return Err(Error::Usage(format!("no OSD has device class {cl} (see `ceph osd tree`): prepare OSDs with `cephboot osd prepare DEV --device-class {cl}`, or choose a class the cluster has")));
    }
    let decision =
        policy::decide(&seen.shape, req.replicas, req.single_node).map_err(Error::Usage)?;
    refuse_silent_shrink(&seen, req, &decision)?;
    let domain = decision.failure_domain;
    let rule = rule_name(domain, class);
    let mut plan = Plan::new(req.dry_run);
    plan_defaults(&mut plan, &seen, &decision, class);
    let clients = plan_clients(&mut plan, &seen, &req.pools);
    let known_rule = rule_id(&seen.rules, &rule);
    let target = PoolTarget {
        decision: &decision,
        rule: &rule,
        class,
        rid: known_rule,
        pg_num: req.pg_num,
    };
    let find = |pools: &[Value], name: &str| {
        pools
            .iter()
            .find(|p| p.get("pool_name").and_then(Value::as_str) == Some(name))
            .cloned()
    };
    for name in &req.pools {
        plan_pool(
            &mut plan,
            name,
            find(&seen.pools, name).as_ref(),
            false,
            &target,
        );
    }
    // Ceph's own pools (made by the manager with the defaults of their time) follow the same
    // sizing, or the cluster never becomes healthy on a small shape; their application and
    // pg_num are left alone.
    let internal: Vec<Value> = seen
        .pools
        .iter()
        .filter(|p| is_internal(p, &req.pools))
        .cloned()
        .collect();
    for cur in &internal {
        let name = cur.get("pool_name").and_then(Value::as_str).unwrap_or("");
        plan_pool(&mut plan, name, Some(cur), true, &target);
    }
    if internal.is_empty() {
        // Not knowing the release (an old reply shape) only costs the third round.
        let release = crate::ceph::release::of_cluster(c).ok();
        if let Some(made) = release
            .as_ref()
            .and_then(crate::ceph::release::Release::manager_pool_made_by_pools_init)
        {
            plan_manager_pool(&mut plan, made, &req.pools, &target);
        }
    }
    plan.apply(c, INDEPENDENT)?;

    // The default rule for pools made later by anyone: the rule's id, known or read back.
    let rid = match known_rule {
        Some(id) => Some(id),
        None if req.dry_run => None,
        None => rule_id(
            &array(c.mon(json!({"prefix": "osd crush rule dump"}))?),
            &rule,
        ),
    };
    if let Some(rid) = rid {
        plan.config(
            ON_POOLS,
            &seen.config,
            "global",
            "osd_pool_default_crush_rule",
            &rid.to_string(),
        );
    }
    plan.apply(c, ON_POOLS)?;
    if !req.dry_run {
        let now = array(c.mon(json!({"prefix": "osd pool ls", "detail": "detail"}))?);
        settle(&mut plan, &now, &internal, req, &target);
        plan.apply(c, SETTLE)?;
    }

    write_keyrings(c, &mut plan, req, &clients)?;
    let notes = size_one_health(c, &mut plan, req, &decision)?;
    Ok(PoolsReport {
        changed: plan.changed(),
        ceph_conf_snippet: conf_snippet(&decision),
        decision,
        shape: seen.shape,
        changes: plan.changes,
        notes,
    })
}

/// The manager's own pool `made` (name, application), when no pool of Ceph's own exists yet
/// (see [`crate::ceph::release::Release::manager_pool_made_by_pools_init`]): created in phase
/// 0 as the manager would make it but with the decided size (and rule when it exists), its
/// application (and rule) in phase 1.
fn plan_manager_pool(
    plan: &mut Plan,
    made: (&str, &str),
    wanted: &[String],
    target: &PoolTarget<'_>,
) {
    let (name, app) = made;
    if wanted.iter().any(|w| w == name) {
        return;
    }
    let (size, min_size, rule) = (target.decision.size, target.decision.min_size, target.rule);
    let detail = format!(
        "pg_num 1, size {size}, min_size {min_size}, rule {rule}, application {app} (Ceph's own pool, made before the manager makes it with the defaults of the moment)"
    );
    if !plan.record("pool", name, false, true, detail) {
        return;
    }
    let mut create = json!({"prefix": "osd pool create", "pool": name, "pg_num": 1, "pg_num_min": 1, "pool_type": "replicated", "size": size});
    if target.rid.is_some() {
        if let Some(fields) = create.as_object_mut() {
            fields.insert("rule".into(), json!(rule));
        }
    } else {
        plan.queue(ON_POOLS, pool_set(name, "crush_rule", rule.to_string()));
    }
    plan.queue(INDEPENDENT, create);
    plan.queue(
        ON_POOLS,
        json!({"prefix": "osd pool application enable", "pool": name, "app": app, "yes_i_really_mean_it": true}),
    );
    plan.sized.push(name.to_string());
}

/// A pool of the request that has more copies than the decision would leave (the cluster
/// shrank: a host or OSDs gone) is lowered only when asked: `--allow-shrink` or `--replicas`.
fn refuse_silent_shrink(seen: &Observed, req: &PoolsRequest, decision: &Decision) -> Result<()> {
    if req.allow_shrink || req.replicas.is_some() {
        return Ok(());
    }
    let shrinking: Vec<String> = seen
        .pools
        .iter()
        .filter_map(|p| {
            let name = p.get("pool_name")?.as_str()?;
            let size = p.get("size")?.as_u64()?;
            (req.pools.iter().any(|w| w == name) && size > u64::from(decision.size))
                .then(|| format!("{name} has size {size}"))
        })
        .collect();
    if shrinking.is_empty() {
        return Ok(());
    }
    Err(Error::refused(
        "pools",
        format!(
            "the cluster's shape now gives size {} ({}), but {}: lowering it keeps fewer copies of the data",
            decision.size,
            decision.reason,
            shrinking.join(", ")
        ),
        "nothing was changed; bring the hosts or OSDs back, or pass --allow-shrink to lower the size (or --replicas N to choose it)",
    ))
}

/// Whether `pool` is one of Ceph's own pools that `pools init` sizes (and not one asked for).
fn is_internal(pool: &Value, wanted: &[String]) -> bool {
    pool.get("pool_name")
        .and_then(Value::as_str)
        .is_some_and(|n| INTERNAL_POOLS.contains(&n) && !wanted.iter().any(|w| w == n))
}

/// After phase 1, from the pools as they are now: the min_size of a pool whose size was just
/// set (the monitors derive it from the default; a release that does not is caught here),
/// and Ceph's own pools that appeared since the observation, into phase 2.
fn settle(
    plan: &mut Plan,
    now: &[Value],
    observed_internal: &[Value],
    req: &PoolsRequest,
    target: &PoolTarget<'_>,
) {
    let min_size = i64::from(target.decision.min_size);
    for cur in now {
        let Some(name) = cur.get("pool_name").and_then(Value::as_str) else {
            continue;
        };
        let internal = is_internal(cur, &req.pools);
        if !internal && !req.pools.iter().any(|p| p == name) {
            continue;
        }
        let seen_before = observed_internal
            .iter()
            .any(|p| p.get("pool_name").and_then(Value::as_str) == Some(name));
        // (A pool of Ceph's own that this run made is checked as the requested ones are.)
        if internal && !seen_before && !plan.sized.iter().any(|p| p == name) {
            plan_pool_in(plan, name, Some(cur), true, target, SETTLE);
        } else if plan.sized.iter().any(|p| p == name)
            && cur.get("min_size").and_then(Value::as_i64) != Some(min_size)
        {
            plan.queue(SETTLE, pool_set(name, "min_size", min_size.to_string()));
        }
    }
}
/// Connects as `opts` says and applies the policy (the command line's `pools init`).
pub fn run(opts: &crate::ceph::client::ConnectOptions, req: &PoolsRequest) -> Result<PoolsReport> {
    let client = crate::ceph::client::RadosClient::connect(opts)?;
    let step = crate::progress::step("pools, rules, defaults and clients");
    step.end(init(&client, req))
}

/// What every pool is brought to.
#[derive(Debug, Clone, Copy)]
struct PoolTarget<'a> {
    decision: &'a Decision,
    /// The rule's name.
    rule: &'a str,
    /// The device class the rule keeps the pools on.
    class: Option<&'a str>,
    /// The rule's id (`None` in a dry run that would create it).
    rid: Option<i64>,
    /// pg_num of a new pool.
    pg_num: u32,
}

fn pool_set(name: &str, var: &str, val: String) -> Value {
    json!({"prefix": "osd pool set", "pool": name, "var": var, "val": val, "yes_i_really_mean_it": true})
}

/// Compares one pool with the policy, records the outcome and queues the commands: a new
/// pool is created in phase 0 with its size (and
/// the rule when it exists), an existing one changed in phase 1.
fn plan_pool(
    plan: &mut Plan,
    name: &str,
    cur: Option<&Value>,
    is_internal: bool,
    target: &PoolTarget<'_>,
) {
    plan_pool_in(plan, name, cur, is_internal, target, ON_POOLS);
}

/// [`plan_pool`] with the changes of an existing pool in phase `phase`. Only one of size and
/// min_size is sent for a pool: the monitors derive min_size from the default (set in phase
/// 0) when the size changes, so no order between the two is needed (and `settle` checks).
fn plan_pool_in(
    plan: &mut Plan,
    name: &str,
    cur: Option<&Value>,
    is_internal: bool,
    target: &PoolTarget<'_>,
    phase: usize,
) {
    let (decision, rid, pg_num) = (target.decision, target.rid, target.pg_num);
    let num = |k: &str| cur.and_then(|p| p.get(k)).and_then(Value::as_i64);
    let has_rbd = cur
        .and_then(|p| p.get("application_metadata"))
        .and_then(|m| m.get("rbd"))
        .is_some();
    let size = i64::from(decision.size);
    let min_size = i64::from(decision.min_size);
    let mut diffs = Vec::new();
    let mut cmds: Vec<(usize, Value)> = Vec::new();
    let rule = target.rule;
    let rule_set = || pool_set(name, "crush_rule", rule.to_string());
    if cur.is_none() {
        let mut create = json!({"prefix": "osd pool create", "pool": name, "pg_num": pg_num, "pool_type": "replicated", "size": size});
        if rid.is_some() {
            if let Some(fields) = create.as_object_mut() {
                fields.insert("rule".into(), json!(rule));
            }
        } else {
            cmds.push((ON_POOLS, rule_set()));
        }
        cmds.push((INDEPENDENT, create));
    } else {
        if rid.is_none() || num("crush_rule") != rid {
            diffs.push(match target.class {
                Some(c) if cur.is_some() => {
                    format!("rule {rule} (its data moves onto the {c} OSDs)")
                }
                _ => format!("rule {rule}"),
            });
            cmds.push((phase, rule_set()));
        }
        if num("size") != Some(size) {
            diffs.push(format!("size {size}"));
            cmds.push((phase, pool_set(name, "size", size.to_string())));
        }
        if num("min_size") != Some(min_size) {
            diffs.push(format!("min_size {min_size}"));
            if num("size") == Some(size) {
                cmds.push((phase, pool_set(name, "min_size", min_size.to_string())));
            }
        }
    }
    if !has_rbd && !is_internal {
        diffs.push("application rbd".into());
        let phase = if cur.is_none() { ON_POOLS } else { phase };
        cmds.push((phase, json!({"prefix": "osd pool application enable", "pool": name, "app": "rbd", "yes_i_really_mean_it": true})));
    }
    let detail = if cur.is_none() {
        format!("pg_num {pg_num}, size {size}, min_size {min_size}, rule {rule}, application rbd")
    } else if diffs.is_empty() {
        format!(
            "size {size}, min_size {min_size}, rule {rule}{}",
            if is_internal {
                " (Ceph's own pool)"
            } else {
                ", application rbd"
            }
        )
    } else {
        diffs.join(", ")
    };
    if plan.record("pool", name, cur.is_some(), !diffs.is_empty(), detail) {
        if cur.is_none() || num("size") != Some(size) {
            plan.sized.push(name.to_string());
        }
        for (phase, cmd) in cmds {
            plan.queue(phase, cmd);
        }
    }
}

/// Where a client's keyring goes: `<dir>/ceph.<entity>.keyring`, or with the Kolla layout the
/// places kolla-ansible's external-Ceph guide names under `/etc/kolla/config`.
pub fn keyring_paths(dir: &Path, entity: &str, kolla: bool) -> Vec<PathBuf> {
    let file = format!("ceph.{entity}.keyring");
    if !kolla {
        return vec![dir.join(file)];
    }
    let rel: &[&str] = match entity {
        "client.glance" => &["glance"],
        "client.cinder" => &["cinder/cinder-volume", "cinder/cinder-backup", "nova"],
        "client.cinder-backup" => &["cinder/cinder-backup"],
        "client.nova" => &["nova"],
        _ => &[],
    };
    rel.iter().map(|r| dir.join(r).join(&file)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_follow_the_pools_that_exist() {
        let all: Vec<String> = ["images", "volumes", "backups", "vms"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            osd_caps(&["volumes", "vms"], &["images"], &all).as_deref(),
            Some(
                "profile rbd pool=volumes, profile rbd pool=vms, profile rbd-read-only pool=images"
            )
        );
        let only: Vec<String> = vec!["volumes".into()];
        assert_eq!(
            osd_caps(&["volumes", "vms"], &["images"], &only).as_deref(),
            Some("profile rbd pool=volumes")
        );
        assert_eq!(osd_caps(&["images"], &[], &only), None);
    }

    #[test]
    fn kolla_layout_places_keyrings_per_service() {
        let p = keyring_paths(Path::new("/etc/kolla/config"), "client.cinder", true);
        assert!(p.contains(&PathBuf::from(
            "/etc/kolla/config/cinder/cinder-volume/ceph.client.cinder.keyring"
        )));
        assert!(p.contains(&PathBuf::from(
            "/etc/kolla/config/nova/ceph.client.cinder.keyring"
        )));
        assert_eq!(
            keyring_paths(Path::new("/k"), "client.glance", false),
            vec![PathBuf::from("/k/ceph.client.glance.keyring")]
        );
    }

    fn one_copy() -> Decision {
        policy::decide(
            &Shape {
                osds_per_host: vec![1],
            },
            None,
            true,
        )
        .unwrap()
    }

    /// The phases `plan_pool` put each command in, as `(phase, var)`.
    fn queued(plan: &Plan) -> Vec<(usize, String)> {
        plan.phases
            .iter()
            .enumerate()
            .flat_map(|(i, q)| {
                q.iter().map(move |c| {
                    (
                        i,
                        c.get("var")
                            .or_else(|| c.get("prefix"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn a_pool_takes_two_proposals_at_most_and_is_never_recreated() {
        let d = one_copy();
        let target = PoolTarget {
            decision: &d,
            rule: "replicated_osd",
            class: None,
            rid: Some(1),
            pg_num: 32,
        };
        let cur = json!({"pool_name": "volumes", "size": 3, "min_size": 2, "crush_rule": 0, "application_metadata": {"rbd": {}}});
        let mut plan = Plan::new(false);
        plan_pool(&mut plan, "volumes", Some(&cur), false, &target);
        // Both in the pools' phase, and no order between size and min_size is needed: only
        // the size is sent (the monitors derive min_size from the default set in phase 0).
        assert_eq!(
            queued(&plan),
            [(1, "crush_rule".to_string()), (1, "size".to_string())]
        );
        assert_eq!(plan.sized, ["volumes"]);
        assert_eq!(plan.changes[0].action, Action::Updated);
        assert_eq!(
            plan.changes[0].detail,
            "rule replicated_osd, size 1, min_size 1"
        );
        // A missing pool is created in phase 0 with its size and the (existing) rule, and
        // gets rbd in phase 1.
        let mut plan = Plan::new(false);
        plan_pool(&mut plan, "images", None, false, &target);
        assert_eq!(
            queued(&plan),
            [
                (0, "osd pool create".to_string()),
                (1, "osd pool application enable".to_string())
            ]
        );
        let create = &plan.phases[0][0];
        assert_eq!(
            (create["size"].as_i64(), create["rule"].as_str()),
            (Some(1), Some("replicated_osd"))
        );
        // Without the rule yet, the pool is created on the default rule and moved in phase 1.
        let no_rule = PoolTarget {
            rid: None,
            ..target
        };
        let mut plan = Plan::new(false);
        plan_pool(&mut plan, "images", None, false, &no_rule);
        assert_eq!(
            queued(&plan),
            [
                (0, "osd pool create".to_string()),
                (1, "crush_rule".to_string()),
                (1, "osd pool application enable".to_string())
            ]
        );
        // A dry run records the same outcome and queues nothing.
        let mut plan = Plan::new(true);
        plan_pool(&mut plan, "images", None, false, &target);
        assert!(queued(&plan).is_empty());
        assert_eq!(plan.changes[0].action, Action::WouldCreate);
    }

    #[test]
    fn a_device_class_gets_its_own_rule_and_moving_a_pool_onto_it_says_so() {
        let d = one_copy();
        assert_eq!(
            rule_name(d.failure_domain, Some("ssd")),
            "replicated_osd_ssd"
        );
        let target = PoolTarget {
            decision: &d,
            rule: "replicated_osd_ssd",
            class: Some("ssd"),
            rid: Some(2),
            pg_num: 32,
        };
        let cur = json!({"pool_name": "volumes", "size": 1, "min_size": 1, "crush_rule": 1, "application_metadata": {"rbd": {}}});
        let mut plan = Plan::new(false);
        plan_pool(&mut plan, "volumes", Some(&cur), false, &target);
        assert_eq!(
            plan.changes[0].detail,
            "rule replicated_osd_ssd (its data moves onto the ssd OSDs)"
        );
        assert_eq!(plan.phases[1][0]["val"], "replicated_osd_ssd");
        let seen = Observed {
            shape: Shape {
                osds_per_host: vec![1],
            },
            config: Vec::new(),
            rules: Vec::new(),
            pools: Vec::new(),
            clients: BTreeMap::new(),
        };
        let mut plan = Plan::new(false);
        plan_defaults(&mut plan, &seen, &d, Some("ssd"));
        let create = plan.phases[0]
            .iter()
            .find(|c| c["prefix"] == "osd crush rule create-replicated")
            .unwrap();
        assert_eq!(
            (create["name"].as_str(), create["class"].as_str()),
            (Some("replicated_osd_ssd"), Some("ssd"))
        );
    }

    #[test]
    fn clients_get_least_privilege_caps_and_an_existing_client_is_only_re_capped() {
        let pools: Vec<String> = ["images", "volumes"].map(String::from).to_vec();
        let mut clients = BTreeMap::new();
        clients.insert(
            "client.glance".to_string(),
            Some(
                [
                    ("mon".to_string(), "profile rbd".to_string()),
                    ("osd".to_string(), "profile rbd pool=images".to_string()),
                    ("mgr".to_string(), "profile rbd pool=images".to_string()),
                ]
                .into(),
            ),
        );
        clients.insert("client.cinder".to_string(), Some(BTreeMap::new()));
        let seen = Observed {
            shape: Shape {
                osds_per_host: vec![1],
            },
            config: vec![],
            rules: vec![],
            pools: vec![],
            clients,
        };
        let mut plan = Plan::new(false);
        let planned = plan_clients(&mut plan, &seen, &pools);
        // backups does not exist: no cinder-backup client; vms neither, nova still gets
        // volumes.
        assert_eq!(
            planned,
            [
                ("client.glance", true),
                ("client.cinder", true),
                ("client.nova", false)
            ]
        );
        let actions: Vec<(&str, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.name.as_str(), c.action.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("client.glance", "unchanged"),
                ("client.cinder", "updated"),
                ("client.nova", "created")
            ]
        );
        let sent: Vec<&str> = plan.phases[0]
            .iter()
            .filter_map(|c| c.get("prefix").and_then(Value::as_str))
            .collect();
        assert_eq!(sent, ["auth caps", "auth get-or-create"]);
    }
}

#[cfg(test)]
mod against_a_scripted_cluster {
    use super::*;
    use crate::ceph::double::ScriptedClient;

    const READS: &[&str] = &[
        "osd tree",
        "config dump",
        "osd crush rule dump",
        "osd pool ls",
        "auth get",
        "health",
        "versions",
    ];

    fn req(dry_run: bool) -> PoolsRequest {
        PoolsRequest {
            single_node: true,
            replicas: None,
            pools: ["images", "volumes", "backups", "vms"]
                .map(String::from)
                .to_vec(),
            pg_num: 32,
            keyring_dir: None,
            kolla_layout: false,
            mute_size_warning: false,
            dry_run,
            device_class: None,
            allow_shrink: false,
        }
    }

    /// One host with one OSD; `at_policy`: everything `pools init` would set is already set.
    fn cluster(at_policy: bool) -> ScriptedClient {
        let tree = json!({"nodes": [
            {"id": -1, "type": "root", "children": [-2]},
            {"id": -2, "type": "host", "children": [0]},
            {"id": 0, "type": "osd"},
        ]});
        let base = ScriptedClient::new().answer("osd tree", tree);
        if !at_policy {
            return base
                .answer("config dump", json!([]))
                .answer("osd crush rule dump", json!([]))
                .answer("osd pool ls", json!([]))
                .respond_with(|cmd| {
                    let p = cmd.get("prefix").and_then(Value::as_str).unwrap_or("");
                    // Every write is acknowledged; `auth get` of a new client is not found.
                    (p != "auth get" && !READS.contains(&p)).then_some(Value::Null)
                });
        }
        let conf = |who: &str, name: &str, value: &str| json!({"section": who, "name": name, "value": value});
        let pools: Vec<Value> = req(false)
            .pools
            .iter()
            .map(|n| json!({"pool_name": n, "size": 1, "min_size": 1, "crush_rule": 1, "application_metadata": {"rbd": {}}}))
            .collect();
        base.answer(
            "config dump",
            json!([
                conf("mon", "mon_allow_pool_size_one", "true"),
                conf("global", "osd_pool_default_size", "1"),
                conf("global", "osd_pool_default_min_size", "1"),
                conf("global", "osd_pool_default_crush_rule", "1"),
            ]),
        )
        .answer(
            "osd crush rule dump",
            json!([{"rule_name": "replicated_osd", "rule_id": 1}]),
        )
        .answer("osd pool ls", Value::Array(pools))
        .respond_with(|cmd| {
            if cmd.get("prefix").and_then(Value::as_str) != Some("auth get") {
                return None;
            }
            let entity = cmd.get("entity").and_then(Value::as_str)?;
            let (_, write, read) = CLIENTS.iter().find(|(e, _, _)| *e == entity)?;
            let pools = req(false).pools;
            let caps = json!({
                "mon": "profile rbd",
                "osd": osd_caps(write, read, &pools)?,
                "mgr": format!("profile rbd pool={}", write.first()?),
            });
            Some(json!([{"entity": entity, "caps": caps}]))
        })
    }

    fn writes(c: &ScriptedClient) -> Vec<String> {
        c.prefixes()
            .into_iter()
            .filter(|p| !READS.contains(&p.as_str()))
            .collect()
    }

    #[test]
    fn a_cluster_already_at_policy_gets_no_command_that_changes_it() {
        let c = cluster(true);
        let report = init(&c, &req(false)).unwrap();
        assert!(!report.changed, "{:?}", report.changes);
        assert!(
            report
                .changes
                .iter()
                .all(|ch| ch.action == Action::Unchanged),
            "{:?}",
            report.changes
        );
        assert!(writes(&c).is_empty(), "a rerun sent {:?}", writes(&c));
        // One pool drifted: exactly that is set back, and reported `updated`.
        let pools: Vec<Value> = req(false)
            .pools
            .iter()
            .map(|n| {
                let min = if n == "volumes" { 2 } else { 1 };
                json!({"pool_name": n, "size": 1, "min_size": min, "crush_rule": 1, "application_metadata": {"rbd": {}}})
            })
            .collect();
        let drifted = cluster(true)
            .answer("osd pool ls", Value::Array(pools))
            .answer("osd pool set", Value::Null);
        let report = init(&drifted, &req(false)).unwrap();
        assert_eq!(writes(&drifted), ["osd pool set"]);
        let set = drifted
            .sent()
            .into_iter()
            .find(|c| c["prefix"] == "osd pool set")
            .unwrap();
        assert_eq!(
            (
                set["pool"].as_str(),
                set["var"].as_str(),
                set["val"].as_str()
            ),
            (Some("volumes"), Some("min_size"), Some("1"))
        );
        assert!(report
            .changes
            .iter()
            .any(|ch| ch.name == "volumes" && ch.action == Action::Updated));
    }

    #[test]
    fn a_cluster_that_shrank_is_not_lowered_without_allow_shrink() {
        // Size 3 pools, and the shape is now one host with one OSD (policy: size 1).
        let pools: Vec<Value> = req(false)
            .pools
            .iter()
            .map(|n| json!({"pool_name": n, "size": 3, "min_size": 2, "crush_rule": 1, "application_metadata": {"rbd": {}}}))
            .collect();
        let c = cluster(true).answer("osd pool ls", Value::Array(pools.clone()));
        let e = init(&c, &req(false)).unwrap_err();
        assert_eq!(e.exit_code() as i32, 3, "{e}");
        assert!(e.to_string().contains("volumes has size 3"), "{e}");
        assert!(e.to_string().contains("--allow-shrink"), "{e}");
        assert!(writes(&c).is_empty(), "refused, yet sent {:?}", writes(&c));
        // Asked for: lowered, and reported as the change it is.
        let c = cluster(true)
            .answer("osd pool ls", Value::Array(pools))
            .answer("osd pool set", Value::Null);
        let mut r = req(false);
        r.allow_shrink = true;
        let report = init(&c, &r).unwrap();
        assert!(report.changes.iter().any(|ch| ch.name == "volumes"
            && ch.action == Action::Updated
            && ch.detail.contains("size 1")));
    }

    #[test]
    fn a_device_class_no_osd_has_is_refused_before_any_change() {
        let c = cluster(false);
        let mut r = req(false);
        r.device_class = Some("nvme".into());
        let e = init(&c, &r).unwrap_err();
        assert_eq!(e.exit_code() as i32, 2, "{e}");
        assert!(
            e.to_string().contains("no OSD has device class nvme"),
            "{e}"
        );
        assert!(writes(&c).is_empty(), "refused, yet sent {:?}", writes(&c));
    }

    #[test]
    fn on_pacific_the_managers_pool_is_made_first_so_the_run_needs_no_third_round() {
        for (version, made) in [
            (
                "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)",
                true,
            ),
            (
                "ceph version 18.2.7 (6b0e988052ec84cf2d4a54ff9bbbc5e720b621ad) reef (stable)",
                false,
            ),
        ] {
            let c = cluster(false).answer("versions", json!({"mon": {version: 1}}));
            let report = init(&c, &req(false)).unwrap();
            let sent = c.sent();
            let to_it: Vec<&Value> = sent
                .iter()
                .filter(|s| s["pool"] == "device_health_metrics")
                .collect();
            if !made {
                assert!(to_it.is_empty(), "{version}: {to_it:?}");
                continue;
            }
            let create = to_it
                .iter()
                .find(|s| s["prefix"] == "osd pool create")
                .unwrap();
            assert_eq!(
                (&create["pg_num"], &create["pg_num_min"], &create["size"]),
                (&json!(1), &json!(1), &json!(1)),
                "as the manager makes it, with the decided size: {create}"
            );
            assert!(
                to_it
                    .iter()
                    .any(|s| s["prefix"] == "osd pool application enable"
                        && s["app"] == "mgr_devicehealth"),
                "{to_it:?}"
            );
            assert!(
                report.changes.iter().any(|ch| ch.kind == "pool"
                    && ch.name == "device_health_metrics"
                    && ch.action == Action::Created),
                "{:?}",
                report.changes
            );
        }
    }

    #[test]
    fn a_dry_run_reads_and_reports_but_sends_no_change() {
        let c = cluster(false);
        let report = init(&c, &req(true)).unwrap();
        assert!(writes(&c).is_empty(), "a dry run sent {:?}", writes(&c));
        let pools: Vec<&str> = report
            .changes
            .iter()
            .filter(|ch| ch.kind == "pool")
            .map(|ch| ch.action.as_str())
            .collect();
        assert_eq!(pools, ["would_create"; 4]);
    }

    #[test]
    fn an_empty_cluster_gets_rule_defaults_and_pools_in_two_proposals() {
        let c = cluster(false);
        let report = init(&c, &req(false)).unwrap();
        assert!(report.changed);
        let w = writes(&c);
        let last = |ps: &[&str]| w.iter().rposition(|x| ps.contains(&x.as_str()));
        let first = |ps: &[&str]| w.iter().position(|x| ps.contains(&x.as_str()));
        // Phase 0 (rule, defaults, clients, the pools with their size) entirely before
        // phase 1 (each pool's rule and application): two proposals, not one per step.
        let phase0 = [
            "osd crush rule create-replicated",
            "osd pool create",
            "auth get-or-create",
        ];
        let phase1 = ["osd pool set", "osd pool application enable"];
        assert!(last(&phase0) < first(&phase1), "{w:?}");
        let creates: Vec<Value> = c
            .sent()
            .into_iter()
            .filter(|cmd| cmd["prefix"] == "osd pool create")
            .collect();
        assert!(
            creates
                .iter()
                .all(|cmd| cmd["size"] == 1 && cmd.get("rule").is_none()),
            "a new rule is not committed yet: the pools move to it in phase 1: {creates:?}"
        );
        assert_eq!(
            w.iter().filter(|p| *p == "osd pool create").count(),
            4,
            "{w:?}"
        );
        assert_eq!(
            w.iter().filter(|p| *p == "auth get-or-create").count(),
            4,
            "{w:?}"
        );
        let sent = c.sent();
        let size = sent
            .iter()
            .find(|cmd| cmd["prefix"] == "config set" && cmd["name"] == "osd_pool_default_size")
            .unwrap_or_else(|| panic!("no default size in {sent:?}"));
        assert_eq!(size["value"], "1", "one OSD: size 1");
    }
}
