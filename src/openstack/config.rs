//! OpenStack credentials the way operators already have them: a cloud from `clouds.yaml`
//! (`--os-cloud` / `OS_CLOUD`, the standard search paths, merged with `secure.yaml`) as the
//! base, with the `OS_*` variables / `--os-*` flags on top. Secrets are wrapped so they never
//! reach a log or an error message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use crate::error::{Error, IoContext, Result};

/// A secret string: shown as `***` by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Keystone v3 password.
    Password,
    /// Keystone v3 application credential.
    ApplicationCredential,
    /// No Keystone: a Cinder in noauth mode at an explicit endpoint.
    None,
}

impl AuthType {
    /// Parses the names the openstack CLI accepts.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "password" | "v3password" => Ok(AuthType::Password),
            "v3applicationcredential" | "applicationcredential" | "application_credential" => Ok(AuthType::ApplicationCredential),
            "none" | "noauth" => Ok(AuthType::None),
            other => Err(Error::Usage(format!(
                "auth type {other:?} is not supported: use password, v3applicationcredential or none"
            ))),
        }
    }
}

/// Every setting, each optional (flags/env over the cloud entry).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Named cloud.
    pub cloud: Option<String>,
    /// `password`, `v3applicationcredential`, `none`.
    pub auth_type: Option<String>,
    /// Keystone URL.
    pub auth_url: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// User domain name.
    pub user_domain_name: Option<String>,
    /// User domain id.
    pub user_domain_id: Option<String>,
    /// Project name.
    pub project_name: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// Project domain name.
    pub project_domain_name: Option<String>,
    /// Project domain id.
    pub project_domain_id: Option<String>,
    /// Application credential id.
    pub application_credential_id: Option<String>,
    /// Application credential name.
    pub application_credential_name: Option<String>,
    /// Application credential secret.
    pub application_credential_secret: Option<Secret>,
    /// Region.
    pub region_name: Option<String>,
    /// Endpoint interface (`public`, `internal`, `admin`).
    pub interface: Option<String>,
    /// Block-storage endpoint override (required with auth type none).
    pub endpoint: Option<String>,
    /// CA bundle.
    pub cacert: Option<PathBuf>,
    /// Skip TLS verification.
    pub insecure: bool,
}

impl Settings {
    /// Fills every unset field from `base`.
    fn or(self, base: Settings) -> Settings {
        Settings {
            cloud: self.cloud.or(base.cloud),
            auth_type: self.auth_type.or(base.auth_type),
            auth_url: self.auth_url.or(base.auth_url),
            username: self.username.or(base.username),
            user_id: self.user_id.or(base.user_id),
            password: self.password.or(base.password),
            user_domain_name: self.user_domain_name.or(base.user_domain_name),
            user_domain_id: self.user_domain_id.or(base.user_domain_id),
            project_name: self.project_name.or(base.project_name),
            project_id: self.project_id.or(base.project_id),
            project_domain_name: self.project_domain_name.or(base.project_domain_name),
            project_domain_id: self.project_domain_id.or(base.project_domain_id),
            application_credential_id: self
                .application_credential_id
                .or(base.application_credential_id),
            application_credential_name: self
                .application_credential_name
                .or(base.application_credential_name),
            application_credential_secret: self
                .application_credential_secret
                .or(base.application_credential_secret),
            region_name: self.region_name.or(base.region_name),
            interface: self.interface.or(base.interface),
            endpoint: self.endpoint.or(base.endpoint),
            cacert: self.cacert.or(base.cacert),
            insecure: self.insecure || base.insecure,
        }
    }
}

/// Where clouds.yaml and secure.yaml are looked for, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".config/openstack"));
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    dirs
}

fn find_file(name: &str, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    search_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn merge(base: &mut Yaml, over: Yaml) {
    match (base, over) {
        (Yaml::Mapping(b), Yaml::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn read_yaml(p: &Path) -> Result<Yaml> {
    let text = std::fs::read_to_string(p).context(|| format!("reading {}", p.display()))?;
    serde_yaml::from_str(&text)
        .map_err(|e| Error::Usage(format!("{} is not valid YAML: {e}", p.display())))
}

fn s(v: &Yaml, key: &str) -> Option<String> {
    match v.get(key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The settings of cloud `name` from clouds.yaml (+ secure.yaml).
pub fn cloud_settings(name: &str, clouds_file: Option<&Path>) -> Result<Settings> {
    let path = find_file("clouds.yaml", clouds_file).ok_or_else(|| {
        Error::NotFound(format!(
            "cloud {name:?} was asked for but no clouds.yaml was found (looked in OS_CLIENT_CONFIG_FILE, {})",
            search_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut doc = read_yaml(&path)?;
    let secure_dir = path.parent().map(Path::to_path_buf);
    if let Some(secure) = secure_dir
        .map(|d| d.join("secure.yaml"))
        .filter(|p| p.is_file())
        .or_else(|| find_file("secure.yaml", None))
    {
        merge(&mut doc, read_yaml(&secure)?);
    }
    settings_of(&doc, name, &path.display().to_string())
}

/// The settings of cloud `name` in clouds.yaml text (`source` names it in errors): what
/// [`cloud_settings`] does after reading the files, for tests and the fuzz target.
pub fn settings_from_text(text: &str, name: &str, source: &str) -> Result<Settings> {
    let doc: Yaml = serde_yaml::from_str(text)
        .map_err(|e| Error::Usage(format!("{source} is not valid YAML: {e}")))?;
    settings_of(&doc, name, source)
}

fn settings_of(doc: &Yaml, name: &str, source: &str) -> Result<Settings> {
    let clouds = doc.get("clouds").cloned().unwrap_or(Yaml::Null);
    let Some(cloud) = clouds.get(name) else {
        let known: Vec<String> = clouds
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        return Err(Error::NotFound(format!(
            "cloud {name:?} is not in {source} (it has: {})",
            known.join(", ")
        )));
    };
    let auth = cloud.get("auth").cloned().unwrap_or(Yaml::Null);
    let verify = cloud.get("verify").and_then(Yaml::as_bool);
    Ok(Settings {
        cloud: Some(name.to_string()),
        auth_type: s(cloud, "auth_type"),
        auth_url: s(&auth, "auth_url"),
        username: s(&auth, "username"),
        user_id: s(&auth, "user_id"),
        password: s(&auth, "password").map(Secret::new),
        user_domain_name: s(&auth, "user_domain_name").or_else(|| s(&auth, "domain_name")),
        user_domain_id: s(&auth, "user_domain_id").or_else(|| s(&auth, "domain_id")),
        project_name: s(&auth, "project_name").or_else(|| s(&auth, "tenant_name")),
        project_id: s(&auth, "project_id").or_else(|| s(&auth, "tenant_id")),
        project_domain_name: s(&auth, "project_domain_name"),
        project_domain_id: s(&auth, "project_domain_id"),
        application_credential_id: s(&auth, "application_credential_id"),
        application_credential_name: s(&auth, "application_credential_name"),
        application_credential_secret: s(&auth, "application_credential_secret").map(Secret::new),
        region_name: s(cloud, "region_name"),
        interface: s(cloud, "interface"),
        endpoint: s(cloud, "block_storage_endpoint_override")
            .or_else(|| s(cloud, "volume_endpoint_override")),
        cacert: s(cloud, "cacert").map(PathBuf::from),
        insecure: verify == Some(false),
    })
}

/// The final settings: explicit ones over the cloud's.
pub fn resolve(explicit: Settings, clouds_file: Option<&Path>) -> Result<Settings> {
    match explicit.cloud.clone() {
        Some(name) => Ok(explicit.or(cloud_settings(&name, clouds_file)?)),
        None => Ok(explicit),
    }
}

/// Extra specs from `K=V` arguments.
pub fn parse_properties(props: &[String]) -> Result<BTreeMap<String, String>> {
    props
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::Usage(format!(
                "--property {p:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Settings {
            password: Some(Secret::new("hunter2")),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn clouds_yaml_with_secure_yaml_and_explicit_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clouds.yaml"),
            "clouds:\n  prod:\n    auth:\n      auth_url: http://ks:5000\n      username: admin\n      project_name: admin\n      user_domain_name: Default\n    region_name: RegionOne\n    verify: false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("secure.yaml"),
            "clouds:\n  prod:\n    auth:\n      password: s3cret\n",
        )
        .unwrap();
        let file = dir.path().join("clouds.yaml");
        let explicit = Settings {
            cloud: Some("prod".into()),
            region_name: Some("RegionTwo".into()),
            ..Default::default()
        };
        let s = resolve(explicit, Some(&file)).unwrap();
        assert_eq!(s.auth_url.as_deref(), Some("http://ks:5000"));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(s.region_name.as_deref(), Some("RegionTwo"), "explicit wins");
        assert!(s.insecure);
        let e = resolve(
            Settings {
                cloud: Some("nope".into()),
                ..Default::default()
            },
            Some(&file),
        )
        .unwrap_err();
        assert!(e.to_string().contains("it has: prod"), "{e}");
    }

    #[test]
    fn properties() {
        let p = parse_properties(&["a=b".into(), "c=d=e".into()]).unwrap();
        assert_eq!(p.get("c").map(String::as_str), Some("d=e"));
        assert!(parse_properties(&["novalue".into()]).is_err());
    }
}
