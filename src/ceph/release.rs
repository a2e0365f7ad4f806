//! Which Ceph release the cluster runs, learned once per command from the monitors, and every
//! choice that depends on it, in one place.
//!
//! Differences handled here (measured on 16.2.15, 18.2.7 and 20.2.4):
//! * FileStore: `ceph-osd --mkfs` refuses it from Reef (18) on ("FileStore has been deprecated
//!   and is no longer supported"), so `osd prepare` refuses it before anything is written.
//! * BlueStore label copies: from Squid (19) on, OSDs keep copies of their label at 1, 10, 100
//!   and 1000 GiB of the main device; zap and the guards look at every offset on every release
//!   (a disk may come from a newer cluster), so nothing here needs to switch on them.
//! * The mgr's own pool is `device_health_metrics` on Pacific and `.mgr` later; `pools init`
//!   sizes both names the same way, and on Pacific makes it first (the manager makes it in
//!   the middle of the run otherwise, costing a third round).

use serde_json::{json, Value};

use super::client::CephClient;
use crate::error::{Error, Result};

/// A Ceph release, from a version string such as
/// `ceph version 18.2.7 (6b0e988052ec84cf2d4a54ff9bbbc5e720b621ad) reef (stable)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Release {
    /// Major version (16 Pacific, 17 Quincy, 18 Reef, 19 Squid, 20 Tentacle).
    pub major: u32,
    /// The full `X.Y.Z`.
    pub version: String,
    /// Release name as Ceph prints it (`reef`).
    pub name: String,
}

impl Release {
    /// Parses `ceph version X.Y.Z (hash) NAME (stable)`.
    pub fn parse(text: &str) -> Option<Release> {
        let mut words = text.split_whitespace();
        let version = loop {
            let w = words.next()?;
            if w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                break w.to_string();
            }
        };
        let major = version.split('.').next()?.parse().ok()?;
        let name = words
            .find(|w| !w.starts_with('('))
            .unwrap_or("")
            .to_string();
        Some(Release {
            major,
            version,
            name,
        })
    }

    /// The manager's own pool and its application, when `pools init` makes it itself: on
    /// Pacific the manager makes `device_health_metrics` as soon as the first pools exist,
    /// with the defaults of that moment, in the middle of a `pools init`, which then needs a
    /// third round of commands to move it. Made first (as the manager would: pg_num 1,
    /// pg_num_min 1, its application), it is found and left alone. Later releases' `.mgr`
    /// exists before any pool is asked for.
    pub fn manager_pool_made_by_pools_init(&self) -> Option<(&'static str, &'static str)> {
        (self.major == 16).then_some(("device_health_metrics", "mgr_devicehealth"))
    }

    /// Whether `ceph-osd --mkfs` still creates FileStore OSDs.
    pub fn supports_filestore(&self) -> bool {
        self.major < 18
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.is_empty() {
            write!(f, "Ceph {}", self.version)
        } else {
            write!(f, "Ceph {} ({})", self.version, self.name)
        }
    }
}

/// The oldest release any monitor runs (`versions`): during an upgrade the cluster is only as
/// capable as its oldest monitor.
pub fn of_cluster(c: &dyn CephClient) -> Result<Release> {
    let v = c.mon(json!({"prefix": "versions"}))?;
    let mons = v.get("mon").and_then(Value::as_object);
    mons.into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| Release::parse(k))
        .min()
        .ok_or_else(|| Error::Cluster {
            context: "reading the monitors' versions".into(),
            message: format!("unexpected reply: {v}"),
            errno: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_each_release_parse() {
        let p = Release::parse(
            "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)",
        )
        .unwrap();
        assert_eq!(
            (p.major, p.name.as_str(), p.version.as_str()),
            (16, "pacific", "16.2.15")
        );
        assert!(p.supports_filestore());
        let r = Release::parse(
            "ceph version 18.2.7 (6b0e988052ec84cf2d4a54ff9bbbc5e720b621ad) reef (stable)",
        )
        .unwrap();
        assert_eq!(r.major, 18);
        assert!(!r.supports_filestore());
        assert_eq!(r.to_string(), "Ceph 18.2.7 (reef)");
        let t = Release::parse("ceph version 20.2.4 (abc) tentacle (stable)").unwrap();
        assert!(t > r && !t.supports_filestore());
        assert_eq!(Release::parse("garbage"), None);
        assert_eq!(Release::parse(""), None);
    }

    #[test]
    fn the_oldest_monitor_decides_during_an_upgrade() {
        let c = crate::ceph::double::ScriptedClient::new().answer(
            "versions",
            serde_json::json!({"mon": {
                "ceph version 18.2.7 (x) reef (stable)": 2,
                "ceph version 16.2.15 (y) pacific (stable)": 1
            }}),
        );
        let r = of_cluster(&c).unwrap();
        assert_eq!((r.major, r.name.as_str()), (16, "pacific"));
        assert!(r.supports_filestore());
        let bad =
            crate::ceph::double::ScriptedClient::new().answer("versions", serde_json::json!({}));
        assert!(of_cluster(&bad).is_err());
    }
}
