//! The systemd units cephboot installs for the Ceph daemons it creates, as text (pure).
//!
//! Three templates, one per daemon kind, each instance named `<cluster>-<id>`
//! (`cephboot-osd@ceph-3.service`): the instance's environment file
//! (`/etc/cephboot/units/osd@ceph-3.env`) holds the cluster, the id and the config, so one
//! template serves every cluster of the host. Ordered as Ceph orders its own: monitors and
//! managers before OSDs through `cephboot-mon.target`, all of them parts of
//! `cephboot.target`, which `multi-user.target` wants. An OSD's unit runs `cephboot osd
//! activate ID --exec`: the disk is found by its labels at every start (never by a device
//! name, which changes between boots), its directory primed, then cephboot replaces itself
//! with `ceph-osd -f`, so systemd supervises `ceph-osd` itself.

use std::collections::BTreeMap;
use std::path::Path;

/// The daemons cephboot supervises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DaemonKind {
    /// `ceph-mon`.
    Mon,
    /// `ceph-mgr`.
    Mgr,
    /// `ceph-osd`, started through `cephboot osd activate ID --exec`.
    Osd,
}

impl DaemonKind {
    /// `mon`, `mgr`, `osd`.
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonKind::Mon => "mon",
            DaemonKind::Mgr => "mgr",
            DaemonKind::Osd => "osd",
        }
    }
}

/// One daemon under systemd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonUnit {
    /// Its kind.
    pub kind: DaemonKind,
    /// The cluster name (`ceph`).
    pub cluster: String,
    /// Its id (`a`, `node1`, `3`).
    pub id: String,
}

impl DaemonUnit {
    /// A unit for `kind` `id` of `cluster`.
    pub fn new(kind: DaemonKind, cluster: &str, id: &str) -> Self {
        DaemonUnit {
            kind,
            cluster: cluster.to_string(),
            id: id.to_string(),
        }
    }

    /// `ceph-3`.
    pub fn instance(&self) -> String {
        format!("{}-{}", self.cluster, self.id)
    }

    /// `cephboot-osd@ceph-3.service`.
    pub fn name(&self) -> String {
        format!(
            "cephboot-{}@{}.service",
            self.kind.as_str(),
            self.instance()
        )
    }

    /// `osd@ceph-3.env`: its environment file's name.
    pub fn env_file_name(&self) -> String {
        format!("{}@{}.env", self.kind.as_str(), self.instance())
    }

    /// Its template's file name (`cephboot-osd@.service`).
    pub fn template_name(&self) -> String {
        template_name(self.kind)
    }
}

/// `cephboot-osd@.service`.
pub fn template_name(kind: DaemonKind) -> String {
    format!("cephboot-{}@.service", kind.as_str())
}

/// Where a unit's instance settings come from: the values of its environment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSettings {
    /// The state directory (`--state-dir`), for OSDs.
    pub state_dir: String,
    /// The ceph.conf.
    pub conf: String,
    /// The label prefix OSDs are found by.
    pub label_prefix: String,
}

/// The environment file of `unit` (pure). Values are written unquoted: systemd takes the rest
/// of the line, and none of these holds a newline (refused by [`env_file`] callers).
pub fn env_file(unit: &DaemonUnit, s: &UnitSettings) -> String {
    let mut v: BTreeMap<&str, &str> = BTreeMap::new();
    v.insert("CLUSTER", &unit.cluster);
    v.insert("ID", &unit.id);
    v.insert("CEPH_CONF", &s.conf);
    if unit.kind == DaemonKind::Osd {
        v.insert("STATE_DIR", &s.state_dir);
        v.insert("LABEL_PREFIX", &s.label_prefix);
    }
    let mut text = format!(
        "# {}: written by cephboot; `cephboot osd remove` / `cluster stop` remove it.\n",
        unit.name()
    );
    for (k, val) in v {
        text.push_str(&format!("{k}={val}\n"));
    }
    text
}

/// Whether `value` can be an environment file value: one line, no quote or backslash
/// (systemd would read them as syntax).
pub fn is_plain_value(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\' | '$' | '%'))
}

/// The template unit of `kind` (pure); `bin` is the daemon's program (`/usr/bin/ceph-mon`,
/// or cephboot itself for OSDs), `env_dir` where the instances' environment files are.
pub fn template(kind: DaemonKind, bin: &Path, env_dir: &Path) -> String {
    let bin = bin.display();
    let env = format!("{}/{}@%i.env", env_dir.display(), kind.as_str());
    let (what, order, exec, extra) = match kind {
        DaemonKind::Mon => (
            "Ceph monitor",
            "After=network-online.target local-fs.target time-sync.target\nWants=network-online.target\nBefore=cephboot-mon.target",
            format!("{bin} -f --cluster ${{CLUSTER}} -c ${{CEPH_CONF}} -i ${{ID}} --log-to-stderr=true --err-to-stderr=true"),
            "WantedBy=cephboot-mon.target",
        ),
        DaemonKind::Mgr => (
            "Ceph manager",
            "After=network-online.target local-fs.target cephboot-mon.target\nWants=network-online.target",
            format!("{bin} -f --cluster ${{CLUSTER}} -c ${{CEPH_CONF}} -i ${{ID}} --log-to-stderr=true --err-to-stderr=true"),
            "WantedBy=cephboot.target",
        ),
        DaemonKind::Osd => (
            "Ceph OSD",
            "After=network-online.target local-fs.target cephboot-mon.target systemd-udev-settle.service\nWants=network-online.target\nBefore=cephboot-osd.target",
            // Not --quiet: the journal keeps the start's steps and its warnings (an encrypted
            // OSD's wait for the monitors, each attempt; the TPM not unsealing a key). -v: and
            // how the unit found its OSD (the boot's shared read of the host, or a read of its
            // own), one line each.
            format!("{bin} --state-dir ${{STATE_DIR}} --conf ${{CEPH_CONF}} --cluster ${{CLUSTER}} --label-prefix ${{LABEL_PREFIX}} osd activate ${{ID}} --exec -v"),
            "WantedBy=cephboot-osd.target",
        ),
    };
    format!(
        "# {name}: written by cephboot (see `man cephboot-osd-activate`); instance <cluster>-<id>.\n\
         [Unit]\n\
         Description={what} %i (cephboot)\n\
         Documentation=man:cephboot(1)\n\
         PartOf=cephboot.target\n\
         {order}\n\
         StartLimitIntervalSec=30min\n\
         StartLimitBurst=5\n\
         \n\
         [Service]\n\
         Type=simple\n\
         EnvironmentFile={env}\n\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStartSec=300\n\
         TimeoutStopSec=120\n\
         LimitNOFILE=1048576\n\
         LimitNPROC=1048576\n\
         StandardOutput=journal\n\
         StandardError=journal\n\
         \n\
         [Install]\n\
         {extra}\n",
        name = template_name(kind),
    )
}

/// The targets that order and group the daemons: `(file name, text)` (pure).
pub fn targets() -> Vec<(&'static str, String)> {
    let header = "# written by cephboot\n";
    vec![
        (
            "cephboot.target",
            format!(
                "{header}[Unit]\nDescription=Ceph daemons started by cephboot\nWants=cephboot-mon.target cephboot-osd.target\n\n[Install]\nWantedBy=multi-user.target\n"
            ),
        ),
        (
            "cephboot-mon.target",
            format!(
                "{header}[Unit]\nDescription=Ceph monitors started by cephboot\nPartOf=cephboot.target\nBefore=cephboot.target\n\n[Install]\nWantedBy=cephboot.target\n"
            ),
        ),
        (
            "cephboot-osd.target",
            format!(
                "{header}[Unit]\nDescription=Ceph OSDs started by cephboot\nPartOf=cephboot.target\nAfter=cephboot-mon.target\nBefore=cephboot.target\n\n[Install]\nWantedBy=cephboot.target\n"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_osd_unit_finds_its_disk_by_labels_through_cephboot() {
        let u = DaemonUnit::new(DaemonKind::Osd, "ceph", "3");
        assert_eq!(u.name(), "cephboot-osd@ceph-3.service");
        let t = template(
            DaemonKind::Osd,
            Path::new("/usr/bin/cephboot"),
            Path::new("/etc/cephboot/units"),
        );
        assert!(
            t.contains("EnvironmentFile=/etc/cephboot/units/osd@%i.env"),
            "{t}"
        );
        assert!(
            t.contains("ExecStart=/usr/bin/cephboot --state-dir ${STATE_DIR}")
                && t.contains("osd activate ${ID} --exec -v"),
            "{t}"
        );
        assert!(
            t.contains("After=") && t.contains("cephboot-mon.target"),
            "{t}"
        );
        assert!(t.contains("Restart=on-failure") && t.contains("StartLimitBurst=5"));
        let env = env_file(
            &u,
            &UnitSettings {
                state_dir: "/var/lib/cephboot".into(),
                conf: "/var/lib/cephboot/ceph.conf".into(),
                label_prefix: "KOLLA_CEPH".into(),
            },
        );
        assert!(
            env.contains("\nID=3\n") && env.contains("LABEL_PREFIX=KOLLA_CEPH\n"),
            "{env}"
        );
    }

    #[test]
    fn monitors_come_before_osds_and_everything_is_part_of_one_target() {
        let mon = template(
            DaemonKind::Mon,
            Path::new("/usr/bin/ceph-mon"),
            Path::new("/e"),
        );
        assert!(mon.contains("Before=cephboot-mon.target"), "{mon}");
        assert!(mon.contains("ExecStart=/usr/bin/ceph-mon -f --cluster ${CLUSTER}"));
        assert!(mon.contains("PartOf=cephboot.target"));
        let env = env_file(
            &DaemonUnit::new(DaemonKind::Mon, "ceph", "a"),
            &UnitSettings {
                state_dir: "/s".into(),
                conf: "/s/ceph.conf".into(),
                label_prefix: "X".into(),
            },
        );
        assert!(!env.contains("LABEL_PREFIX"), "{env}");
        let t = targets();
        assert!(t
            .iter()
            .any(|(n, text)| *n == "cephboot-osd.target"
                && text.contains("After=cephboot-mon.target")));
    }

    #[test]
    fn values_with_syntax_are_not_plain() {
        assert!(is_plain_value("/var/lib/cephboot state"));
        assert!(!is_plain_value("a\nb"));
        assert!(!is_plain_value("50%"));
        assert!(!is_plain_value("$HOME"));
        assert!(!is_plain_value(""));
    }
}
