//! `openstack export`: what kolla-ansible's external-Ceph guide asks an operator to put under
//! `/etc/kolla/config`, written from the cluster itself: per service a minimal `ceph.conf`
//! (no leading whitespace: kolla's INI merge breaks on the tabs of Ceph's own
//! `generate-minimal-conf`) and the client keyrings (mode 0600), a `globals.d` fragment with
//! the `*_backend_ceph` switches, users, pools and the Cinder backend name, and a
//! `magnum.conf` fragment naming the volume type (docs/openstack.md has the tree).
//!
//! Deciding is pure ([`wanted_files`], [`judge`]); [`observe`] reads the cluster, [`apply`]
//! writes. Ownership: every file written is recorded with its sha256 in
//! `<dir>/.cephboot-export.json`. A file that exists with other content is replaced only when
//! the record says cephboot wrote exactly what is there now (nobody edited it since), or with
//! `force`; otherwise nothing at all is written and the refusal names each file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::Action;
use crate::ceph::client::CephClient;
use crate::error::{Error, IoContext, Result};

/// A service of kolla-ansible that uses the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Glance,
    Cinder,
    Nova,
    Gnocchi,
    Manila,
    Magnum,
}

impl Service {
    /// The services exported when none are named.
    pub const DEFAULT: [Service; 4] = [
        Service::Glance,
        Service::Cinder,
        Service::Nova,
        Service::Magnum,
    ];

    /// Its name on the command line and in kolla's config tree.
    pub fn name(self) -> &'static str {
        match self {
            Service::Glance => "glance",
            Service::Cinder => "cinder",
            Service::Nova => "nova",
            Service::Gnocchi => "gnocchi",
            Service::Manila => "manila",
            Service::Magnum => "magnum",
        }
    }

    /// The service named `name`.
    pub fn parse(name: &str) -> Option<Service> {
        [
            Service::Glance,
            Service::Cinder,
            Service::Nova,
            Service::Gnocchi,
            Service::Manila,
            Service::Magnum,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Where its keyrings go (directories under the kolla config dir) and whose they are:
    /// cinder-backup needs client.cinder too (it reads the volume it backs up), nova-compute
    /// needs client.cinder to attach volumes.
    fn keyrings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Glance => &[("glance", GLANCE)],
            Service::Cinder => &[
                ("cinder/cinder-volume", CINDER),
                ("cinder/cinder-backup", CINDER),
                ("cinder/cinder-backup", CINDER_BACKUP),
            ],
            Service::Nova => &[("nova", NOVA), ("nova", CINDER)],
            Service::Gnocchi => &[("gnocchi", GNOCCHI)],
            Service::Manila => &[("manila", MANILA)],
            Service::Magnum => &[],
        }
    }

    /// Where its `ceph.conf` goes (`None`: it talks to Cinder, not to Ceph).
    fn conf_dir(self) -> Option<&'static str> {
        match self {
            Service::Magnum => None,
            s => Some(s.name()),
        }
    }
}

/// The Ceph users: the four `pools init` creates, and kolla's defaults for the optional two.
const GLANCE: &str = "glance";
const CINDER: &str = "cinder";
const CINDER_BACKUP: &str = "cinder-backup";
const NOVA: &str = "nova";
const GNOCCHI: &str = "gnocchi";
const MANILA: &str = "manila";

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// kolla-ansible's config dir (`/etc/kolla/config`).
    pub dir: PathBuf,
    /// The globals fragment (`/etc/kolla/globals.d/cephboot.yml`).
    pub globals: PathBuf,
    /// Ceph cluster name (`ceph`).
    pub cluster: String,
    /// Services to write files for.
    pub services: BTreeSet<Service>,
    /// The Cinder volume type Magnum should use.
    pub volume_type: String,
    /// Its `volume_backend_name` (kolla's RBD backend is `rbd-1`).
    pub backend: String,
    /// Replace files cephboot did not write (or that were edited since).
    pub force: bool,
    /// Report only.
    pub dry_run: bool,
}

impl ExportRequest {
    /// The Ceph entities whose keys the export needs.
    pub fn entities(&self) -> BTreeSet<String> {
        self.services
            .iter()
            .flat_map(|s| s.keyrings().iter())
            .map(|(_, user)| format!("client.{user}"))
            .collect()
    }
}

/// What the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFacts {
    /// `[global]` with fsid and mon_host, one `key = value` a line, no indentation.
    pub minimal_conf: String,
    /// Keyring text by entity (`client.cinder`).
    pub keyrings: BTreeMap<String, String>,
}

/// Reads the minimal configuration and the keys the request needs.
pub fn observe(c: &dyn CephClient, req: &ExportRequest) -> Result<ClusterFacts> {
    let raw = c.mon_raw(&json!({"prefix": "config generate-minimal-conf"}), &[])?;
    let minimal_conf = minimal_conf(&String::from_utf8_lossy(&raw))?;
    let mut keyrings = BTreeMap::new();
    for entity in req.entities() {
        let out = c
            .mon_raw(
                &json!({"prefix": "auth get", "entity": entity, "format": "plain"}),
                &[],
            )
            .map_err(|e| match e {
                Error::Cluster { errno: Some(2), .. } => missing_entity(&entity),
                e => e,
            })?;
        keyrings.insert(entity, String::from_utf8_lossy(&out).into_owned());
    }
    Ok(ClusterFacts {
        minimal_conf,
        keyrings,
    })
}

fn missing_entity(entity: &str) -> Error {
    let user = entity.trim_start_matches("client.");
    let how = match user {
        GNOCCHI => format!(
            "create it first (ceph auth get-or-create {entity} mon 'profile rbd' osd 'profile rbd pool=gnocchi'), or leave gnocchi out of --services"
        ),
        MANILA => format!(
            "create it first (ceph auth get-or-create {entity} mon 'allow r' mgr 'allow rw'), or leave manila out of --services"
        ),
        _ => "run `cephboot pools init` first: it creates the OpenStack clients".to_string(),
    };
    Error::NotFound(format!("{entity} does not exist in the cluster: {how}"))
}

/// Ceph's minimal configuration as kolla can merge it: comments and blank lines dropped,
/// every line without leading whitespace. Refuses a text without `fsid` and `mon_host`.
pub fn minimal_conf(raw: &str) -> Result<String> {
    let lines: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .collect();
    let has = |key: &str| {
        lines.iter().any(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().replace(' ', "_") == key)
        })
    };
    if !has("fsid") || !has("mon_host") {
        return Err(Error::Cluster {
            context: "config generate-minimal-conf".into(),
            message: format!(
                "the monitors' minimal configuration has no fsid or mon_host: {raw:?}"
            ),
            errno: None,
        });
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

/// A file the export should contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedFile {
    pub path: PathBuf,
    pub contents: String,
    /// Mode 0600 (a keyring) instead of 0644.
    pub private: bool,
    /// What it is, for people (`client.cinder keyring`).
    pub what: String,
}

/// The keyring file names of `user`: `ceph.client.<user>.keyring` (kolla-ansible up to
/// 2023.1 looks for that name whatever the cluster is called) and
/// `<cluster>.client.<user>.keyring` (2023.2 and later); one name for the cluster `ceph`.
pub fn keyring_names(cluster: &str, user: &str) -> Vec<String> {
    let mut names = vec![format!("ceph.client.{user}.keyring")];
    let newer = format!("{cluster}.client.{user}.keyring");
    if !names.contains(&newer) {
        names.push(newer);
    }
    names
}

/// Every file of the export, in a stable order.
pub fn wanted_files(req: &ExportRequest, facts: &ClusterFacts) -> Result<Vec<WantedFile>> {
    let mut files = Vec::new();
    let conf = format!(
        "# Written by `cephboot openstack export`: the cluster's minimal configuration for\n\
         # kolla-ansible (external Ceph). Keys are in the ceph.client.*.keyring files beside it.\n{}",
        facts.minimal_conf
    );
    for s in &req.services {
        if let Some(d) = s.conf_dir() {
            files.push(WantedFile {
                path: req.dir.join(d).join("ceph.conf"),
                contents: conf.clone(),
                private: false,
                what: format!("{} ceph.conf", s.name()),
            });
        }
        for (sub, user) in s.keyrings() {
            let entity = format!("client.{user}");
            let text = facts
                .keyrings
                .get(&entity)
                .ok_or_else(|| missing_entity(&entity))?;
            for name in keyring_names(&req.cluster, user) {
                files.push(WantedFile {
                    path: req.dir.join(sub).join(name),
                    contents: text.clone(),
                    private: true,
                    what: format!("{entity} keyring"),
                });
            }
        }
        if *s == Service::Magnum {
            files.push(WantedFile {
                path: req.dir.join("magnum.conf"),
                contents: magnum_conf(&req.volume_type),
                private: false,
                what: "magnum.conf fragment".into(),
            });
        }
    }
    files.push(WantedFile {
        path: req.globals.clone(),
        contents: globals(req),
        private: false,
        what: "globals.d fragment".into(),
    });
    Ok(files)
}

/// Magnum's volume types: without them Magnum takes "the first type Cinder lists" and fails
/// with `The VolumeType () could not be found` when there is none.
fn magnum_conf(volume_type: &str) -> String {
    format!(
        "# Written by `cephboot openstack export`: Magnum's volumes use the Cinder type that\n\
         # lands on Ceph.\n[cinder]\ndefault_docker_volume_type = {volume_type}\n\
         default_etcd_volume_type = {volume_type}\ndefault_boot_volume_type = {volume_type}\n"
    )
}

/// YAML double-quoted scalar (JSON strings are YAML strings).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// kolla-ansible's external-Ceph switches for the exported services.
fn globals(req: &ExportRequest) -> String {
    let mut y = String::from(
        "# Written by `cephboot openstack export`: kolla-ansible's settings for this external\n\
         # Ceph cluster (kolla-ansible reads every file in globals.d). Keyring names are left at\n\
         # kolla's defaults, which match the files the export wrote.\n",
    );
    if req.cluster != "ceph" {
        y.push_str(&format!("ceph_cluster: {}\n", q(&req.cluster)));
    }
    let has = |s| req.services.contains(&s);
    if has(Service::Glance) {
        y.push_str(&format!(
            "glance_backend_ceph: \"yes\"\nceph_glance_user: {}\nceph_glance_pool_name: \"images\"\n",
            q(GLANCE)
        ));
    }
    if has(Service::Cinder) {
        y.push_str(&format!(
            "cinder_backend_ceph: \"yes\"\nceph_cinder_user: {}\nceph_cinder_pool_name: \"volumes\"\n\
             ceph_cinder_backup_user: {}\nceph_cinder_backup_pool_name: \"backups\"\n\
             # kolla-ansible 2023.2 and later; earlier releases name the backend rbd-1.\n\
             cinder_ceph_backends:\n  - name: {}\n    cluster: {}\n    enabled: true\n",
            q(CINDER),
            q(CINDER_BACKUP),
            q(&req.backend),
            q(&req.cluster)
        ));
    }
    if has(Service::Nova) {
        y.push_str(&format!(
            "nova_backend_ceph: \"yes\"\nceph_nova_user: {}\nceph_nova_pool_name: \"vms\"\n",
            q(NOVA)
        ));
    }
    if has(Service::Gnocchi) {
        y.push_str(&format!(
            "gnocchi_backend_storage: \"ceph\"\nceph_gnocchi_user: {}\nceph_gnocchi_pool_name: \"gnocchi\"\n",
            q(GNOCCHI)
        ));
    }
    if has(Service::Manila) {
        y.push_str(&format!(
            "enable_manila_backend_cephfs_native: \"yes\"\nceph_manila_user: {}\n",
            q(MANILA)
        ));
    }
    y
}

/// A file as it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    pub sha256: String,
    /// Mode 0600.
    pub private: bool,
}

/// The verdict on one wanted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// Why (for `updated` and `refused`).
    pub why: Option<String>,
}

/// Compares a wanted file with what is on disk and what cephboot recorded writing there.
pub fn judge(
    want: &WantedFile,
    want_sha: &str,
    now: Option<&OnDisk>,
    recorded: Option<&str>,
    force: bool,
    dry_run: bool,
) -> Verdict {
    let (create, update) = if dry_run {
        (Action::WouldCreate, Action::WouldUpdate)
    } else {
        (Action::Created, Action::Updated)
    };
    let v = |action, why: Option<&str>| Verdict {
        action,
        why: why.map(str::to_string),
    };
    match now {
        None => v(create, None),
        Some(o) if o.sha256 == want_sha && (o.private || !want.private) => {
            v(Action::Unchanged, None)
        }
        Some(o) if o.sha256 == want_sha => v(update, Some("mode set to 0600")),
        Some(o) if recorded == Some(o.sha256.as_str()) => {
            v(update, Some("the cluster's values changed"))
        }
        Some(_) if force => v(update, Some("replaced (--force)")),
        Some(_) if recorded.is_some() => v(Action::Refused, Some("edited since cephboot wrote it")),
        Some(_) => v(
            Action::Refused,
            Some("exists with content cephboot did not write"),
        ),
    }
}

/// One file in the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub what: String,
    pub action: Action,
    /// `0600` or `0644`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// What the export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub changed: bool,
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub files: Vec<FileReport>,
}

/// The record of what cephboot wrote: path → sha256 of the content it wrote.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: BTreeMap<PathBuf, String>,
}

/// Where the record is kept.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(".cephboot-export.json")
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Refused {
            device: path.to_path_buf(),
            reason: format!("cephboot's record of the files it wrote is not valid JSON ({e})"),
            hint: "remove it to start over: every existing file is then treated as not written by cephboot (refused unless --force)".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn on_disk(path: &Path) -> Result<Option<OnDisk>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        Ok(m) if !m.file_type().is_file() => {
            return Err(Error::Refused {
                device: path.to_path_buf(),
                reason: "is not a regular file (a directory or a symbolic link)".into(),
                hint: "move it away; cephboot writes only regular files here".into(),
            })
        }
        Ok(m) => m,
    };
    let data = std::fs::read(path).context(|| format!("reading {}", path.display()))?;
    let private = meta.permissions().mode() & 0o777 == 0o600;
    Ok(Some(OnDisk {
        sha256: sha256_hex(&data),
        private,
    }))
}

/// Judges every file, then writes them all, or none when any is refused.
pub fn apply(req: &ExportRequest, wanted: &[WantedFile]) -> Result<ExportReport> {
    let manifest_file = manifest_path(&req.dir);
    let mut manifest = read_manifest(&manifest_file)?;
    let mut files = Vec::new();
    for w in wanted {
        let sha = sha256_hex(w.contents.as_bytes());
        let now = on_disk(&w.path)?;
        let recorded = manifest.files.get(&w.path).map(String::as_str);
        let v = judge(w, &sha, now.as_ref(), recorded, req.force, req.dry_run);
        files.push(FileReport {
            path: w.path.clone(),
            what: w.what.clone(),
            action: v.action,
            mode: if w.private { "0600" } else { "0644" },
            why: v.why,
        });
    }
    let refused: Vec<&FileReport> = files
        .iter()
        .filter(|f| f.action == Action::Refused)
        .collect();
    if let Some(first) = refused.first() {
        let list: Vec<String> = refused
            .iter()
            .map(|f| {
                format!(
                    "{} ({})",
                    f.path.display(),
                    f.why.as_deref().unwrap_or("refused")
                )
            })
            .collect();
        return Err(Error::Refused {
            device: first.path.clone(),
            reason: format!(
                "{} file(s) would be replaced: {}; nothing was written",
                list.len(),
                list.join(", ")
            ),
            hint: "compare them with `--dry-run --format json-pretty`, move them away, or pass --force to replace them".into(),
        });
    }
    if !req.dry_run {
        for (w, f) in wanted.iter().zip(&files) {
            if matches!(f.action, Action::Created | Action::Updated) {
                if w.private {
                    crate::files::write_private(&w.path, w.contents.as_bytes())?;
                } else {
                    crate::files::write_public(&w.path, w.contents.as_bytes())?;
                }
            }
            manifest
                .files
                .insert(w.path.clone(), sha256_hex(w.contents.as_bytes()));
        }
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Internal(format!("rendering the export manifest: {e}")))?;
        let old = std::fs::read(&manifest_file).ok();
        if old.as_deref() != Some(text.as_slice()) {
            crate::files::write_private(&manifest_file, &text)?;
        }
    }
    let changed = files
        .iter()
        .any(|f| matches!(f.action, Action::Created | Action::Updated));
    Ok(ExportReport {
        changed,
        dir: req.dir.clone(),
        manifest: manifest_file,
        files,
    })
}

/// Connects as `opts` says and exports (the command line's `openstack export`).
pub fn run(
    opts: &crate::ceph::client::ConnectOptions,
    req: &ExportRequest,
) -> Result<ExportReport> {
    let client = crate::ceph::client::RadosClient::connect(opts)?;
    export(&client, req)
}

/// Observes, decides and writes.
pub fn export(c: &dyn CephClient, req: &ExportRequest) -> Result<ExportReport> {
    let facts = observe(c, req)?;
    let wanted = wanted_files(req, &facts)?;
    apply(req, &wanted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ceph::double::ScriptedClient;

    const CEPH_MINIMAL: &str = "# minimal ceph.conf for 6f1c\n[global]\n\tfsid = 6f1c\n\tmon_host = [v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]\n";

    fn req(dir: &Path, services: &[Service]) -> ExportRequest {
        ExportRequest {
            dir: dir.join("config"),
            globals: dir.join("globals.d/cephboot.yml"),
            cluster: "ceph".into(),
            services: services.iter().copied().collect(),
            volume_type: "ceph".into(),
            backend: "rbd-1".into(),
            force: false,
            dry_run: false,
        }
    }

    fn facts() -> ClusterFacts {
        let keyrings = [GLANCE, CINDER, CINDER_BACKUP, NOVA]
            .iter()
            .map(|u| {
                (
                    format!("client.{u}"),
                    format!("[client.{u}]\n\tkey = AQ{u}==\n"),
                )
            })
            .collect();
        ClusterFacts {
            minimal_conf: minimal_conf(CEPH_MINIMAL).unwrap(),
            keyrings,
        }
    }

    #[test]
    fn the_minimal_conf_loses_its_tabs_and_comments_and_must_name_the_monitors() {
        let c = minimal_conf(CEPH_MINIMAL).unwrap();
        assert_eq!(
            c,
            "[global]\nfsid = 6f1c\nmon_host = [v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]\n"
        );
        assert!(c.lines().all(|l| !l.starts_with(char::is_whitespace)));
        assert!(minimal_conf("[global]\n\tfsid = x\n").is_err());
        assert!(minimal_conf("[global]\nmon host = a\nfsid=b").is_ok());
    }

    #[test]
    fn the_tree_is_what_kolla_looks_for_in_both_naming_schemes() {
        let d = Path::new("/k");
        let all = [
            Service::Glance,
            Service::Cinder,
            Service::Nova,
            Service::Magnum,
        ];
        let files = wanted_files(&req(d, &all), &facts()).unwrap();
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "/k/config/glance/ceph.conf",
                "/k/config/glance/ceph.client.glance.keyring",
                "/k/config/cinder/ceph.conf",
                "/k/config/cinder/cinder-volume/ceph.client.cinder.keyring",
                "/k/config/cinder/cinder-backup/ceph.client.cinder.keyring",
                "/k/config/cinder/cinder-backup/ceph.client.cinder-backup.keyring",
                "/k/config/nova/ceph.conf",
                "/k/config/nova/ceph.client.nova.keyring",
                "/k/config/nova/ceph.client.cinder.keyring",
                "/k/config/magnum.conf",
                "/k/globals.d/cephboot.yml",
            ]
        );
        assert!(files
            .iter()
            .all(|f| f.private == f.what.ends_with("keyring")));
        // Another cluster name: the pre-2023.2 name and the $cluster name, both.
        let mut r = req(d, &[Service::Glance]);
        r.cluster = "backup".into();
        let names: Vec<String> = wanted_files(&r, &facts())
            .unwrap()
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert!(names.contains(&"/k/config/glance/ceph.client.glance.keyring".to_string()));
        assert!(names.contains(&"/k/config/glance/backup.client.glance.keyring".to_string()));
        let g = globals(&r);
        assert!(g.contains("ceph_cluster: \"backup\""), "{g}");
    }

    #[test]
    fn globals_and_magnum_say_the_switches_users_pools_backend_and_type() {
        let d = Path::new("/k");
        let mut r = req(d, &[Service::Glance, Service::Cinder, Service::Nova]);
        r.backend = "rbd-2".into();
        let g = globals(&r);
        for want in [
            "glance_backend_ceph: \"yes\"",
            "ceph_glance_pool_name: \"images\"",
            "cinder_backend_ceph: \"yes\"",
            "ceph_cinder_backup_user: \"cinder-backup\"",
            "ceph_cinder_backup_pool_name: \"backups\"",
            "  - name: \"rbd-2\"",
            "nova_backend_ceph: \"yes\"",
            "ceph_nova_pool_name: \"vms\"",
        ] {
            assert!(g.contains(want), "{want} missing in:\n{g}");
        }
        let parsed: serde_yaml::Value = serde_yaml::from_str(&g).unwrap();
        assert_eq!(parsed["ceph_cinder_user"], "cinder");
        assert_eq!(parsed["cinder_ceph_backends"][0]["name"], "rbd-2");
        assert!(!g.contains("gnocchi"));
        let m = magnum_conf("fast");
        assert!(
            m.contains("[cinder]\ndefault_docker_volume_type = fast\n"),
            "{m}"
        );
    }

    #[test]
    fn a_file_is_replaced_only_when_cephboot_wrote_what_is_there() {
        let w = WantedFile {
            path: "/k/x".into(),
            contents: "new".into(),
            private: true,
            what: "k".into(),
        };
        let new = sha256_hex(b"new");
        let old = sha256_hex(b"old");
        let disk = |sha: &str, private| OnDisk {
            sha256: sha.into(),
            private,
        };
        let a = |now: Option<&OnDisk>, rec: Option<&str>, force| {
            judge(&w, &new, now, rec, force, false).action
        };
        assert_eq!(a(None, None, false), Action::Created);
        assert_eq!(a(Some(&disk(&new, true)), None, false), Action::Unchanged);
        // Same content, wrong mode: made private, whoever wrote it.
        assert_eq!(a(Some(&disk(&new, false)), None, false), Action::Updated);
        assert_eq!(
            a(Some(&disk(&old, true)), Some(&old), false),
            Action::Updated
        );
        assert_eq!(a(Some(&disk(&old, true)), None, false), Action::Refused);
        let edited = sha256_hex(b"older");
        assert_eq!(
            a(Some(&disk(&old, true)), Some(&edited), false),
            Action::Refused
        );
        assert_eq!(a(Some(&disk(&old, true)), None, true), Action::Updated);
        assert_eq!(
            judge(&w, &new, None, None, false, true).action,
            Action::WouldCreate
        );
    }

    #[test]
    fn a_missing_client_is_named_with_the_step_that_creates_it() {
        let c = ScriptedClient::new()
            .answer_text("config generate-minimal-conf", CEPH_MINIMAL)
            .answer_error("auth get", 2);
        let e = observe(&c, &req(Path::new("/k"), &[Service::Gnocchi]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("client.gnocchi does not exist"), "{e}");
        assert!(e.contains("ceph auth get-or-create client.gnocchi"), "{e}");
        let e = observe(&c, &req(Path::new("/k"), &[Service::Glance]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cephboot pools init"), "{e}");
    }

    #[test]
    fn observe_asks_for_each_needed_key_once() {
        let c = ScriptedClient::new()
            .answer_text("config generate-minimal-conf", CEPH_MINIMAL)
            .answer_text("auth get", "[client.x]\n\tkey = AQ==\n");
        let f = observe(&c, &req(Path::new("/k"), &Service::DEFAULT)).unwrap();
        let asked: Vec<String> = c
            .sent()
            .iter()
            .filter(|m| m["prefix"] == "auth get")
            .map(|m| m["entity"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            asked,
            [
                "client.cinder",
                "client.cinder-backup",
                "client.glance",
                "client.nova"
            ]
        );
        assert_eq!(f.keyrings.len(), 4);
        assert!(f.minimal_conf.starts_with("[global]\nfsid = 6f1c\n"));
    }
}
