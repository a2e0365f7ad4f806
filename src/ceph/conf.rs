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
}
