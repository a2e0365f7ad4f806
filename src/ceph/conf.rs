//! ceph.conf discovery and the few values cephboot reads from it. The file is INI-like:
//! `[section]`, `key = value`, `#`/`;` comments; Ceph treats spaces and underscores in keys
//! alike (`mon host` = `mon_host`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed ceph.conf: section → key (underscored) → value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CephConf {
    /// Where it was read from.
    pub path: PathBuf,
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

fn norm(key: &str) -> String {
    key.trim().replace([' ', '-'], "_").to_ascii_lowercase()
}

impl CephConf {
    /// Parses the text of a ceph.conf.
    pub fn parse(path: &Path, text: &str) -> Self {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut current = "global".to_string();
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.trim().to_string();
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v
                    .split(" #")
                    .next()
                    .unwrap_or("")
                    .split(" ;")
                    .next()
                    .unwrap_or("")
                    .trim();
                sections
                    .entry(current.clone())
                    .or_default()
                    .insert(norm(k), v.to_string());
            }
        }
        CephConf {
            path: path.to_path_buf(),
            sections,
        }
    }

    /// Reads and parses a file.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Self::parse(path, &std::fs::read_to_string(path)?))
    }

    /// A value from `[global]`.
    pub fn global(&self, key: &str) -> Option<&str> {
        self.get("global", key)
    }

    /// A value from a section.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(&norm(key)))
            .map(String::as_str)
    }

    /// The cluster fsid.
    pub fn fsid(&self) -> Option<&str> {
        self.global("fsid")
    }

    /// A daemon option as Ceph resolves it: `[osd.3]`, then `[osd]`, then `[global]`, then
    /// `default`, with `$cluster`, `$type`, `$id` and `$name` expanded.
    pub fn daemon_value(
        &self,
        cluster: &str,
        kind: &str,
        id: &str,
        key: &str,
        default: &str,
    ) -> String {
        let name = format!("{kind}.{id}");
        let raw = self
            .get(&name, key)
            .or_else(|| self.get(kind, key))
            .or_else(|| self.global(key))
            .unwrap_or(default);
        raw.replace("$cluster", cluster)
            .replace("$type", kind)
            .replace("$id", id)
            .replace("$name", &name)
    }

    /// The data directory of OSD `id`.
    pub fn osd_data(&self, cluster: &str, id: u32) -> PathBuf {
        PathBuf::from(self.daemon_value(
            cluster,
            "osd",
            &id.to_string(),
            "osd_data",
            "/var/lib/ceph/osd/$cluster-$id",
        ))
    }

    /// The pidfile of OSD `id`.
    pub fn osd_pidfile(&self, cluster: &str, id: u32) -> PathBuf {
        PathBuf::from(self.daemon_value(
            cluster,
            "osd",
            &id.to_string(),
            "pid_file",
            "/var/run/ceph/$cluster-$name.pid",
        ))
    }

    /// The log file of OSD `id`.
    pub fn osd_log(&self, cluster: &str, id: u32) -> PathBuf {
        PathBuf::from(self.daemon_value(
            cluster,
            "osd",
            &id.to_string(),
            "log_file",
            "/var/log/ceph/$cluster-$name.log",
        ))
    }
}

/// The config file to use: `--conf`, else `CEPH_CONF`, else `/etc/ceph/<cluster>.conf`.
pub fn locate(explicit: Option<&Path>, cluster: &str) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("CEPH_CONF").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    PathBuf::from(format!("/etc/ceph/{cluster}.conf"))
}

/// Like [`locate`], but falls back to `<state_dir>/<cluster>.conf` (a cluster made by
/// `cephboot cluster bootstrap`) when the system config does not exist.
pub fn locate_with_state(explicit: Option<&Path>, cluster: &str, state_dir: &Path) -> PathBuf {
    let p = locate(explicit, cluster);
    let from_state = state_dir.join(format!("{cluster}.conf"));
    if explicit.is_none()
        && std::env::var_os("CEPH_CONF").is_none()
        && !p.exists()
        && from_state.exists()
    {
        return from_state;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_normalised_and_comments_ignored() {
        let c = CephConf::parse(
            Path::new("x"),
            "# c\n[global]\nfsid = abc # trailing\nmon host = v2:127.0.0.1:3300\n[osd]\nosd_data = /x\n",
        );
        assert_eq!(c.fsid(), Some("abc"));
        assert_eq!(c.global("mon_host"), Some("v2:127.0.0.1:3300"));
        assert_eq!(c.get("osd", "osd data"), Some("/x"));
    }

    #[test]
    fn daemon_values_expand_metavariables_and_fall_back() {
        let c = CephConf::parse(
            Path::new("x"),
            "[global]\npid file = /s/run/$cluster-$name.pid\n[osd.3]\nosd data = /d3\n",
        );
        assert_eq!(
            c.osd_pidfile("ceph", 7),
            PathBuf::from("/s/run/ceph-osd.7.pid")
        );
        assert_eq!(c.osd_data("ceph", 3), PathBuf::from("/d3"));
        assert_eq!(
            c.osd_data("ceph", 4),
            PathBuf::from("/var/lib/ceph/osd/ceph-4")
        );
    }
}
