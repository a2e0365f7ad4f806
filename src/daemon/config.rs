//! The daemon's configuration: one small TOML file, validated at start with errors that name
//! the key. Every key is optional; command-line flags override the file.
//!
//! ```toml
//! label_prefix = "KOLLA_CEPH"          # bootstrap label prefix
//! auto_prepare = true                  # prepare + activate labelled disks as they appear
//! allow = ["sd*", "nvme*"]             # kernel-name or /dev path patterns (* and ?); empty: all
//! deny = ["sda"]                       # never touch these (checked after allow)
//! concurrency = 2                      # jobs on different disks at once (1-16)
//! socket = "/run/cephboot/cephboot.sock"
//! ceph_conf = "/etc/ceph/ceph.conf"
//! keyring = "/etc/ceph/ceph.client.admin.keyring"
//! job_timeout_secs = 1800
//! spec = "/etc/cephboot/osds.yml"      # a cephadm OSD spec (docs/spec.md): with auto_prepare,
//!                                      # a blank disk it selects becomes an OSD of its layout
//! host_labels = ["osd"]                # this host's labels, for specs placed by label
//!
//! [[overrides]]                        # hardware that reports the wrong thing
//! devices = "sd[cd]"                   # glob on the kernel name or /dev path
//! rotational = false                   # what the spec's filters see instead of sysfs's
//! crush_device_class = "ssd"           # optional; a rotational override implies hdd/ssd
//!
//! [metrics]                            # off unless one of these is set
//! listen = "127.0.0.1:9851"            # Prometheus scrapes GET /metrics here (nothing else)
//! max_connections = 8                  # served at once on `listen` (1-64)
//! textfile = "/var/lib/prometheus/node-exporter/cephboot.prom"  # node_exporter's collector
//! textfile_interval_secs = 15          # how often that file is rewritten (1-3600)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::disk::policy::DevicePolicy;
use crate::error::{Error, IoContext, Result};

/// The configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Bootstrap label prefix.
    pub label_prefix: Option<String>,
    /// Prepare and activate labelled disks automatically.
    #[serde(default)]
    pub auto_prepare: bool,
    /// Disks the daemon may act on (patterns); empty means all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Disks it never acts on.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Concurrent jobs.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// API socket.
    pub socket: Option<PathBuf>,
    /// Ceph config.
    pub ceph_conf: Option<PathBuf>,
    /// Keyring.
    pub keyring: Option<PathBuf>,
    /// Longest a job may run.
    #[serde(default = "default_job_timeout")]
    pub job_timeout_secs: u64,
    /// An OSD spec file: with `auto_prepare`, a blank disk that appears and that the spec
    /// selects is prepared with the spec's layout (`osd apply SPEC --data-device DISK`).
    pub spec: Option<PathBuf>,
    /// This host's labels, for specs placed by `label:`.
    #[serde(default)]
    pub host_labels: Vec<String>,
    /// Encrypt the OSDs it prepares from bootstrap labels (`osd prepare --encrypt`; a spec
    /// says so itself with `encrypted: true`).
    #[serde(default)]
    pub encrypted: bool,
    /// With `encrypted`, also enroll a TPM2 keyslot on each device (`osd prepare --tpm2`), so
    /// the OSDs start at boot with the monitors unreachable; a spec says so itself with
    /// `cephboot: {tpm2: true}`.
    #[serde(default)]
    pub tpm2: bool,
    /// The PCRs the TPM2 keyslot is bound to (`--tpm2-pcrs`; 7 when unset).
    #[serde(default)]
    pub tpm2_pcrs: Option<String>,
    /// What devices report, overridden for hardware that lies: used by the spec's filters
    /// (after the spec's own `cephboot.overrides`, passed to `osd apply` as `--override`) and
    /// for the CRUSH class of the OSDs it prepares from bootstrap labels.
    #[serde(default)]
    pub overrides: Vec<OverrideConfig>,
    /// Where the metrics go besides the root-only socket: a TCP listener, a textfile.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The spec file's specs, read and checked at start (the config's overrides added).
    #[serde(skip)]
    pub specs: Vec<crate::spec::parse::OsdSpec>,
}

/// The `[metrics]` table: each way out is off unless set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `ADDRESS:PORT` on which a Prometheus server scrapes `GET /metrics` (read-only; every
    /// other request is answered 404/405 and nothing else is served on that port).
    pub listen: Option<String>,
    /// Connections served at once on `listen`; more are answered 503 and closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A node_exporter textfile-collector file (`NAME.prom`), rewritten atomically.
    pub textfile: Option<PathBuf>,
    /// Seconds between two rewrites of `textfile`.
    #[serde(default = "default_textfile_interval")]
    pub textfile_interval_secs: u64,
}

fn default_max_connections() -> usize {
    8
}

fn default_textfile_interval() -> u64 {
    15
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            max_connections: default_max_connections(),
            textfile: None,
            textfile_interval_secs: default_textfile_interval(),
        }
    }
}

impl MetricsConfig {
    /// The listener's address, parsed (validated at start, so `None` only when unset).
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        self.listen.as_deref().and_then(|a| a.parse().ok())
    }

    fn validate(&self) -> std::result::Result<(), (String, String)> {
        let bad = |key: &str, why: String| Err((format!("metrics.{key}"), why));
        if let Some(a) = &self.listen {
            if a.parse::<std::net::SocketAddr>().is_err() {
                return bad(
                    "listen",
                    format!(
                        "{a:?} is not ADDRESS:PORT (e.g. \"127.0.0.1:9851\" or \"[::1]:9851\")"
                    ),
                );
            }
        }
        if !(1..=64).contains(&self.max_connections) {
            return bad(
                "max_connections",
                format!("{} is outside 1..=64", self.max_connections),
            );
        }
        if let Some(p) = &self.textfile {
            if !p.is_absolute() || p.extension().and_then(|e| e.to_str()) != Some("prom") {
                return bad(
                    "textfile",
                    format!(
                        "{} must be an absolute path ending in .prom (node_exporter reads only those)",
                        p.display()
                    ),
                );
            }
            if !p.parent().is_some_and(Path::is_dir) {
                return bad(
                    "textfile",
                    format!(
                        "the directory of {} does not exist (node_exporter's --collector.textfile.directory)",
                        p.display()
                    ),
                );
            }
        }
        if !(1..=3600).contains(&self.textfile_interval_secs) {
            return bad(
                "textfile_interval_secs",
                format!("{} is outside 1..=3600", self.textfile_interval_secs),
            );
        }
        Ok(())
    }
}

/// One `[[overrides]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    /// A glob on the kernel name (`sd[cd]`) or the node path.
    pub devices: String,
    /// The rotational flag to use instead of sysfs's.
    pub rotational: Option<bool>,
    /// The CRUSH device class to use.
    pub crush_device_class: Option<String>,
}

impl OverrideConfig {
    /// As the spec code reads it, named `overrides[i]` of the daemon's config.
    pub fn to_override(&self, i: usize) -> crate::spec::parse::Override {
        crate::spec::parse::Override {
            devices: self.devices.clone(),
            rotational: self.rotational,
            crush_device_class: self.crush_device_class.clone(),
            origin: format!("the daemon config's overrides[{i}]"),
        }
    }
}

fn default_concurrency() -> usize {
    2
}

fn default_job_timeout() -> u64 {
    1800
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            label_prefix: None,
            auto_prepare: false,
            allow: Vec::new(),
            deny: Vec::new(),
            concurrency: default_concurrency(),
            socket: None,
            ceph_conf: None,
            keyring: None,
            job_timeout_secs: default_job_timeout(),
            spec: None,
            host_labels: Vec::new(),
            encrypted: false,
            tpm2: false,
            tpm2_pcrs: None,
            overrides: Vec::new(),
            metrics: MetricsConfig::default(),
            specs: Vec::new(),
        }
    }
}

impl DaemonConfig {
    /// Parses and validates TOML text.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut c: DaemonConfig = toml::from_str(text)
            .map_err(|e| Error::Usage(format!("{}: {}", path.display(), e.to_string().trim())))?;
        c.validate(path)?;
        if let Some(spec) = &c.spec {
            let text = std::fs::read_to_string(spec).map_err(|e| {
                Error::Usage(format!(
                    "{}: key `spec`: {}: {e}",
                    path.display(),
                    spec.display()
                ))
            })?;
            c.specs = crate::spec::parse::parse(&text).map_err(|e| {
                Error::Usage(format!(
                    "{}: key `spec`: {}: {e}",
                    path.display(),
                    spec.display()
                ))
            })?;
            let overrides = c.override_list();
            for s in &mut c.specs {
                s.overrides.extend(overrides.iter().cloned());
            }
        }
        Ok(c)
    }

    /// Reads a file.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).context(|| format!("reading {}", path.display()))?;
        Self::parse(path, &text)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, why: String| {
            Err(Error::Usage(format!(
                "{}: key `{key}`: {why}",
                path.display()
            )))
        };
        if !(1..=16).contains(&self.concurrency) {
            return bad(
                "concurrency",
                format!("{} is outside 1..=16", self.concurrency),
            );
        }
        if let Some(p) = &self.label_prefix {
            if let Err(e) = crate::disk::label::LabelGrammar::new(p) {
                return bad("label_prefix", e);
            }
        }
        for (key, list) in [("allow", &self.allow), ("deny", &self.deny)] {
            if let Some(p) = list.iter().find(|p| p.is_empty()) {
                return bad(key, format!("empty pattern {p:?}"));
            }
        }
        if self.job_timeout_secs == 0 {
            return bad("job_timeout_secs", "must be at least 1".into());
        }
        if self.tpm2 && !self.encrypted {
            return bad(
                "tpm2",
                "a TPM2 keyslot is enrolled on an encrypted OSD's devices: add `encrypted = true`"
                    .into(),
            );
        }
        if let Some(pcrs) = &self.tpm2_pcrs {
            if !self.tpm2 {
                return bad(
                    "tpm2_pcrs",
                    "without `tpm2 = true` it enrolls nothing".into(),
                );
            }
            if let Err(e) = crate::crypt::tpm2::parse_pcrs(pcrs) {
                return bad("tpm2_pcrs", e.to_string());
            }
        }
        if let Err((key, why)) = self.metrics.validate() {
            return bad(&key, why);
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let key = format!("overrides[{i}]");
            if o.devices.trim().is_empty() || o.devices.contains(':') {
                return bad(
                    &key,
                    format!(
                        "`devices` {:?} must be a glob on the kernel name or /dev path",
                        o.devices
                    ),
                );
            }
            if o.rotational.is_none() && o.crush_device_class.is_none() {
                return bad(
                    &key,
                    "changes nothing: give rotational or crush_device_class".into(),
                );
            }
            if let Some(Err(e)) = o
                .crush_device_class
                .as_deref()
                .map(crate::cli::parse_device_class)
            {
                return bad(&key, e);
            }
        }
        Ok(())
    }

    /// The config's overrides, in order, as the spec code reads them.
    pub fn override_list(&self) -> Vec<crate::spec::parse::Override> {
        self.overrides
            .iter()
            .enumerate()
            .map(|(i, o)| o.to_override(i))
            .collect()
    }

    /// The CRUSH class the overrides give disk `name` (`/dev/name`): the last override about
    /// it that gives one, explicitly or by its rotational flag.
    pub fn class_for(&self, name: &str) -> Option<String> {
        let path = std::path::PathBuf::from(format!("/dev/{name}"));
        self.override_list()
            .iter()
            .rev()
            .filter(|o| o.matches(name, &path))
            .find_map(crate::spec::parse::Override::class)
    }

    /// Whether the daemon may act on disk `name` (`/dev/name`).
    pub fn allows(&self, name: &str) -> bool {
        self.policy().allows_name(name)
    }

    /// The allow/deny patterns as the policy the engine applies to every device a job's plan
    /// touches (the disk that appeared, its partners and their disks).
    pub fn policy(&self) -> DevicePolicy {
        DevicePolicy {
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_invalid_keys_are_named() {
        let e = DaemonConfig::parse(Path::new("d.toml"), "auto_prepar = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auto_prepar"), "{e}");
        let e = DaemonConfig::parse(Path::new("d.toml"), "concurrency = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`concurrency`"), "{e}");
        let e = DaemonConfig::parse(Path::new("d.toml"), "label_prefix = \"a b\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`label_prefix`"), "{e}");
        let e = DaemonConfig::parse(Path::new("d.toml"), "concurrency = \"two\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("concurrency"), "{e}");
        for (text, key) in [
            ("tpm2 = true\n", "`tpm2`"),
            ("encrypted = true\ntpm2_pcrs = \"7\"\n", "`tpm2_pcrs`"),
            (
                "encrypted = true\ntpm2 = true\ntpm2_pcrs = \"7+40\"\n",
                "`tpm2_pcrs`",
            ),
        ] {
            let e = DaemonConfig::parse(Path::new("d.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text:?}: {e}");
        }
        let c = DaemonConfig::parse(
            Path::new("d.toml"),
            "encrypted = true\ntpm2 = true\ntpm2_pcrs = \"0+7\"\n",
        )
        .unwrap();
        assert_eq!((c.tpm2, c.tpm2_pcrs.as_deref()), (true, Some("0+7")));
    }

    #[test]
    fn the_metrics_ways_out_are_off_by_default_and_checked() {
        let c = DaemonConfig::parse(Path::new("d.toml"), "").unwrap();
        assert_eq!(c.metrics.listen_addr(), None);
        assert_eq!(c.metrics.textfile, None);
        let dir = tempfile::tempdir().unwrap();
        let prom = dir.path().join("cephboot.prom");
        let c = DaemonConfig::parse(
            Path::new("d.toml"),
            &format!(
                "[metrics]\nlisten = \"127.0.0.1:9851\"\ntextfile = {:?}\n",
                prom.display().to_string()
            ),
        )
        .unwrap();
        assert_eq!(
            c.metrics.listen_addr(),
            Some("127.0.0.1:9851".parse().unwrap())
        );
        for (text, key) in [
            ("[metrics]\nlisten = \"localhost\"\n", "`metrics.listen`"),
            (
                "[metrics]\nmax_connections = 0\n",
                "`metrics.max_connections`",
            ),
            (
                "[metrics]\ntextfile = \"/tmp/x.txt\"\n",
                "`metrics.textfile`",
            ),
            (
                "[metrics]\ntextfile = \"/no/such/dir/x.prom\"\n",
                "`metrics.textfile`",
            ),
            (
                "[metrics]\ntextfile_interval_secs = 0\n",
                "`metrics.textfile_interval_secs`",
            ),
            ("[metrics]\nport = 9\n", "port"),
        ] {
            let e = DaemonConfig::parse(Path::new("d.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn a_spec_is_read_at_start_and_its_errors_named() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("osds.yml");
        std::fs::write(&spec, "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\n").unwrap();
        let c = DaemonConfig::parse(
            Path::new("d.toml"),
            &format!("spec = {:?}\n", spec.display().to_string()),
        )
        .unwrap();
        assert_eq!(c.specs.len(), 1);
        std::fs::write(
            &spec,
            "service_type: osd\nplacement: {host_pattern: '*'}\ndata_devices: {rotatonal: 1}\n",
        )
        .unwrap();
        let e = DaemonConfig::parse(
            Path::new("d.toml"),
            &format!("spec = {:?}\n", spec.display().to_string()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("key `spec`") && e.contains("line 3") && e.contains("rotatonal"),
            "{e}"
        );
    }

    #[test]
    fn overrides_are_checked_and_join_the_specs() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("osds.yml");
        std::fs::write(&spec, "service_type: osd\nservice_id: s\nplacement: {host_pattern: '*'}\ndata_devices: {rotational: 1}\ncephboot:\n  overrides:\n    - devices: sdb\n      rotational: 1\n").unwrap();
        let c = DaemonConfig::parse(
            Path::new("d.toml"),
            &format!(
                "spec = {:?}\n[[overrides]]\ndevices = \"sd[cd]\"\nrotational = false\n",
                spec.display().to_string()
            ),
        )
        .unwrap();
        let origins: Vec<&str> = c.specs[0]
            .overrides
            .iter()
            .map(|o| o.origin.as_str())
            .collect();
        assert_eq!(
            origins,
            ["cephboot.overrides[0]", "the daemon config's overrides[0]"],
            "the config's come after the spec's own, so they win"
        );
        assert_eq!(c.class_for("sdc").as_deref(), Some("ssd"));
        assert_eq!(c.class_for("sdb"), None);
        for (text, why) in [
            ("[[overrides]]\ndevices = \"sdc\"\n", "changes nothing"),
            (
                "[[overrides]]\ndevices = \"\"\nrotational = true\n",
                "must be a glob",
            ),
            (
                "[[overrides]]\ndevices = \"sdc\"\ncrush_device_class = \"SSD!\"\n",
                "not a device class",
            ),
            (
                "[[overrides]]\ndevices = \"sdc\"\nrotation = true\n",
                "rotation",
            ),
        ] {
            let e = DaemonConfig::parse(Path::new("d.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{text}: {e}");
            assert!(
                why == "rotation" || e.contains("key `overrides[0]`"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn allow_and_deny_patterns() {
        let c = DaemonConfig::parse(
            Path::new("d.toml"),
            "allow = [\"sd*\", \"/dev/loop?\"]\ndeny = [\"sda\"]\n",
        )
        .unwrap();
        assert!(c.allows("sdb") && c.allows("loop3"));
        assert!(!c.allows("sda") && !c.allows("nvme0n1") && !c.allows("loop10"));
        assert!(DaemonConfig::default().allows("anything"));
    }
}
