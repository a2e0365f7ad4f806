//! Cinder volume types: typed requests and replies (`list`, `create`, `update`, default
//! type per project with microversion 3.62), and the pure decision of `type ensure`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::session::{transport_error, Session};
use crate::action::Action;
use crate::error::{Error, Result};

/// A volume type as Cinder returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct VolumeType {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Public.
    #[serde(default = "yes")]
    pub is_public: bool,
    /// Extra specs (`volume_backend_name` ...).
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct TypeList {
    volume_types: Vec<VolumeType>,
}

#[derive(Deserialize)]
struct OneType {
    volume_type: VolumeType,
}

/// The type the operator wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WantedType {
    /// Name.
    pub name: String,
    /// Extra specs (always includes `volume_backend_name`).
    pub extra_specs: BTreeMap<String, String>,
    /// Description, when given.
    pub description: Option<String>,
    /// Public (false with `--private`).
    pub is_public: bool,
}

/// What `type ensure` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeAction {
    /// No type of that name: create it.
    Create,
    /// It exists as wanted.
    Unchanged,
    /// It differs; `--update` was given: bring it in line.
    Update(Vec<String>),
    /// It differs and `--update` was not given: leave it alone.
    Conflict(Vec<String>),
}

/// Decides (pure). Extra specs the type has beyond the wanted ones are kept and are not a
/// difference.
pub fn decide(existing: Option<&VolumeType>, want: &WantedType, update: bool) -> TypeAction {
    let Some(t) = existing else {
        return TypeAction::Create;
    };
    let mut diffs = Vec::new();
    for (k, v) in &want.extra_specs {
        match t.extra_specs.get(k) {
            Some(have) if have == v => {}
            Some(have) => diffs.push(format!("{k} is {have:?}, wanted {v:?}")),
            None => diffs.push(format!("{k} is not set, wanted {v:?}")),
        }
    }
    if t.is_public != want.is_public {
        diffs.push(format!(
            "it is {}, wanted {}",
            vis(t.is_public),
            vis(want.is_public)
        ));
    }
    if let Some(d) = &want.description {
        if t.description.as_deref() != Some(d.as_str()) {
            diffs.push(format!(
                "description is {:?}, wanted {d:?}",
                t.description.as_deref().unwrap_or("")
            ));
        }
    }
    match (diffs.is_empty(), update) {
        (true, _) => TypeAction::Unchanged,
        (false, true) => TypeAction::Update(diffs),
        (false, false) => TypeAction::Conflict(diffs),
    }
}

fn vis(public: bool) -> &'static str {
    if public {
        "public"
    } else {
        "private"
    }
}

/// The Cinder API through a session.
#[derive(Debug)]
pub struct Cinder<'a> {
    /// The session.
    pub session: &'a Session,
}

fn api_error(what: &str, status: u16, body: &str) -> Error {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.as_object().and_then(|o| o.values().next().cloned()))
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let message = match status {
        401 => "the token was refused (expired or wrong credentials)".to_string(),
        403 => format!("not allowed ({detail}): managing volume types needs the admin role"),
        404 => format!("not found ({detail})"),
        _ => format!("HTTP {status}: {detail}"),
    };
    Error::OpenStack {
        context: what.to_string(),
        message,
        status: Some(status),
    }
}

impl Cinder<'_> {
    fn call(
        &self,
        what: &str,
        method: Method,
        url: &str,
        body: Option<Value>,
        microversion: Option<&str>,
    ) -> Result<Value> {
        let mut r = self.session.request(method, url, microversion);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().map_err(|e| transport_error(what, url, &e))?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| transport_error(what, url, &e))?;
        if !(200..300).contains(&status) {
            return Err(api_error(&format!("{what} ({url})"), status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| Error::OpenStack {
            context: what.into(),
            message: format!("unreadable answer: {e}"),
            status: Some(status),
        })
    }

    /// Every volume type (public and private).
    pub fn list(&self) -> Result<Vec<VolumeType>> {
        let url = format!("{}/types?is_public=None", self.session.endpoint);
        let v = self.call("listing volume types", Method::GET, &url, None, None)?;
        serde_json::from_value::<TypeList>(v)
            .map(|l| l.volume_types)
            .map_err(|e| Error::OpenStack {
                context: "listing volume types".into(),
                message: format!("unexpected answer: {e}"),
                status: None,
            })
    }

    /// Creates a type.
    pub fn create(&self, want: &WantedType) -> Result<VolumeType> {
        let url = format!("{}/types", self.session.endpoint);
        let body = json!({"volume_type": {
            "name": want.name,
            "description": want.description,
            "os-volume-type-access:is_public": want.is_public,
            "extra_specs": want.extra_specs,
        }});
        let v = self.call(
            &format!("creating volume type {}", want.name),
            Method::POST,
            &url,
            Some(body),
            None,
        )?;
        serde_json::from_value::<OneType>(v)
            .map(|t| t.volume_type)
            .map_err(|e| Error::OpenStack {
                context: "creating a volume type".into(),
                message: format!("unexpected answer: {e}"),
                status: None,
            })
    }

    /// Brings an existing type in line: extra specs set, visibility and description updated.
    pub fn update(&self, t: &VolumeType, want: &WantedType) -> Result<()> {
        let specs = format!("{}/types/{}/extra_specs", self.session.endpoint, t.id);
        self.call(
            &format!("setting extra specs of {}", t.name),
            Method::POST,
            &specs,
            Some(json!({"extra_specs": want.extra_specs})),
            None,
        )?;
        let mut fields = serde_json::Map::new();
        fields.insert("is_public".into(), json!(want.is_public));
        if let Some(d) = &want.description {
            fields.insert("description".into(), json!(d));
        }
        let body = json!({ "volume_type": fields });
        let url = format!("{}/types/{}", self.session.endpoint, t.id);
        self.call(
            &format!("updating volume type {}", t.name),
            Method::PUT,
            &url,
            Some(body),
            None,
        )?;
        Ok(())
    }

    /// Cinder's root (`http://h:8776`), from the project endpoint.
    fn v3_root(&self) -> String {
        let e = self.session.endpoint.trim_end_matches('/');
        match e.rsplit_once('/') {
            Some((root, last)) if last == self.session.project_id => root.to_string(),
            _ => e.to_string(),
        }
    }

    /// The default type id of the session's project (`None` when unset).
    ///
    /// Cinder checks the project named in `/default-types/<project>` with Keystone using the
    /// caller's token, and Keystone refuses that for an application credential's token ("Using
    /// a delegated token to create another token is not allowed"), which Cinder answers with
    /// HTTP 500. For such a session the list of every project's default (admin only, no
    /// Keystone check) is read instead.
    pub fn default_type_id(&self) -> Result<Option<String>> {
        match self.project_default_type_id() {
            Err(Error::OpenStack {
                status: Some(500), ..
            }) if self.session.application_credential => self.default_type_id_from_list(),
            other => other,
        }
    }

    fn project_default_type_id(&self) -> Result<Option<String>> {
        let url = format!(
            "{}/default-types/{}",
            self.v3_root(),
            self.session.project_id
        );
        match self.call(
            "reading the project's default volume type",
            Method::GET,
            &url,
            None,
            Some("3.62"),
        ) {
            Ok(v) => Ok(v
                .get("default_type")
                .and_then(|d| d.get("volume_type_id"))
                .and_then(Value::as_str)
                .map(str::to_string)),
            Err(Error::OpenStack {
                status: Some(404), ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn default_type_id_from_list(&self) -> Result<Option<String>> {
        let url = format!("{}/default-types", self.v3_root());
        let v = self.call(
            "reading the projects' default volume types",
            Method::GET,
            &url,
            None,
            Some("3.62"),
        )?;
        Ok(v.get("default_types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|d| {
                d.get("project_id").and_then(Value::as_str)
                    == Some(self.session.project_id.as_str())
            })
            .and_then(|d| d.get("volume_type_id"))
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// Whether `name` can be made the project default here (checked before anything changes).
    /// `current_id` is the type's id when it exists: being the default already needs no change.
    pub fn default_type_supported(&self, name: &str, current_id: Option<&str>) -> Result<()> {
        if !self.session.keystone {
            return Err(Error::OpenStack {
                context: format!("making {name} the default volume type"),
                message: "Cinder's default-types API checks the project with Keystone, which a noauth Cinder does not have: set `default_volume_type` in cinder.conf instead".into(),
                status: None,
            });
        }
        if self.session.application_credential {
            // Setting the default goes through the same Keystone check as reading it.
            if let Err(Error::OpenStack {
                status: Some(500), ..
            }) = self.project_default_type_id()
            {
                if current_id.is_some()
                    && self.default_type_id_from_list()?.as_deref() == current_id
                {
                    return Ok(());
                }
                return Err(Error::OpenStack {
                    context: format!("making {name} the default volume type"),
                    message: "this Cinder cannot set a project's default type for an application credential: it checks the project with Keystone using the caller's token, and Keystone refuses that for application-credential tokens (HTTP 500; cinder-api.log says \"Using a delegated token to create another token is not allowed\"). Nothing was changed. Run this step with password credentials of an admin, or set `default_volume_type` in cinder.conf".into(),
                    status: Some(500),
                });
            }
        }
        Ok(())
    }

    /// Makes `name` the default type of the session's project (microversion 3.62).
    pub fn set_default(&self, name: &str) -> Result<()> {
        self.default_type_supported(name, None)?;
        let url = format!(
            "{}/default-types/{}",
            self.v3_root(),
            self.session.project_id
        );
        self.call(&format!("making {name} the default volume type"), Method::PUT, &url, Some(json!({"default_type": {"volume_type": name}})), Some("3.62"))
            .map_err(|e| match e {
                Error::OpenStack { status: Some(404), context, .. } => Error::OpenStack {
                    context,
                    message: "this Cinder has no default-types API (it needs microversion 3.62, OpenStack Wallaby or newer): set `default_volume_type` in cinder.conf instead".into(),
                    status: Some(404),
                },
                other => other,
            })?;
        Ok(())
    }
}

/// One type's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TypeReport {
    /// Name.
    pub name: String,
    /// Id (unknown on a dry run that would create it).
    pub id: Option<String>,
    /// `created`, `updated`, `unchanged`, `would_create`, `would_update`.
    pub action: Action,
    /// Extra specs wanted.
    pub extra_specs: BTreeMap<String, String>,
    /// What differed (update).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// Default type: `set`, `unchanged`, `would_set`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<&'static str>,
    /// Whether anything changed.
    pub changed: bool,
}

/// Ensures one type (shared by `cinder type ensure` and `pools init --volume-type`).
pub fn ensure(
    c: &Cinder<'_>,
    want: &WantedType,
    update: bool,
    make_default: bool,
    dry_run: bool,
) -> Result<TypeReport> {
    let step = crate::progress::step(format!("volume type {} in Cinder", want.name));
    step.end(ensure_quietly(c, want, update, make_default, dry_run))
}

fn ensure_quietly(
    c: &Cinder<'_>,
    want: &WantedType,
    update: bool,
    make_default: bool,
    dry_run: bool,
) -> Result<TypeReport> {
    let types = c.list()?;
    let existing = types.iter().find(|t| t.name == want.name);
    if make_default {
        c.default_type_supported(&want.name, existing.map(|t| t.id.as_str()))?;
    }
    let mut report = TypeReport {
        name: want.name.clone(),
        id: existing.map(|t| t.id.clone()),
        action: Action::Unchanged,
        extra_specs: want.extra_specs.clone(),
        differences: Vec::new(),
        default: None,
        changed: false,
    };
    match decide(existing, want, update) {
        TypeAction::Unchanged => {}
        TypeAction::Create if dry_run => report.action = Action::WouldCreate,
        TypeAction::Create => {
            let t = c.create(want)?;
            report.id = Some(t.id);
            report.action = Action::Created;
        }
        TypeAction::Update(d) => {
            report.differences = d;
            if dry_run {
                report.action = Action::WouldUpdate;
            } else if let Some(t) = existing {
                c.update(t, want)?;
                report.action = Action::Updated;
            }
        }
        TypeAction::Conflict(d) => {
            return Err(Error::refused(
                format!("volume type {}", want.name),
                format!("exists with different settings: {}", d.join("; ")),
                "it was left alone; pass --update to change it",
            ))
        }
    }
    if make_default {
        let current = c.default_type_id()?;
        let is_default = current.is_some() && current == report.id;
        report.default = Some(if is_default {
            "unchanged"
        } else if dry_run {
            "would_set"
        } else {
            c.set_default(&want.name)?;
            "set"
        });
    }
    report.changed = report.action.changed() || report.default == Some("set");
    Ok(report)
}

/// Ensures each `(name, backend)` as a public type with `volume_backend_name` = backend,
/// the first one made the project's default when `default_first` (the volume-type step of
/// `pools init`).
pub fn ensure_backend_types(
    c: &Cinder<'_>,
    types: &[(String, String)],
    default_first: bool,
    dry_run: bool,
) -> Result<Vec<TypeReport>> {
    types
        .iter()
        .enumerate()
        .map(|(i, (name, backend))| {
            let want = WantedType {
                name: name.clone(),
                extra_specs: [("volume_backend_name".to_string(), backend.clone())]
                    .into_iter()
                    .collect(),
                description: None,
                is_public: true,
            };
            ensure(c, &want, false, default_first && i == 0, dry_run)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(specs: &[(&str, &str)]) -> WantedType {
        WantedType {
            name: "ceph".into(),
            extra_specs: specs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            description: None,
            is_public: true,
        }
    }

    fn have(specs: &[(&str, &str)]) -> VolumeType {
        VolumeType {
            id: "1".into(),
            name: "ceph".into(),
            description: None,
            is_public: true,
            extra_specs: want(specs).extra_specs,
        }
    }

    #[test]
    fn decisions() {
        let w = want(&[("volume_backend_name", "rbd-1")]);
        assert_eq!(decide(None, &w, false), TypeAction::Create);
        assert_eq!(
            decide(
                Some(&have(&[("volume_backend_name", "rbd-1"), ("extra", "x")])),
                &w,
                false
            ),
            TypeAction::Unchanged
        );
        match decide(Some(&have(&[("volume_backend_name", "lvm")])), &w, false) {
            TypeAction::Conflict(d) => {
                assert!(d[0].contains("\"lvm\"") && d[0].contains("\"rbd-1\""))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decide(Some(&have(&[])), &w, true),
            TypeAction::Update(_)
        ));
        let mut private = w.clone();
        private.is_public = false;
        assert!(matches!(
            decide(
                Some(&have(&[("volume_backend_name", "rbd-1")])),
                &private,
                false
            ),
            TypeAction::Conflict(_)
        ));
    }

    #[test]
    fn cinder_json_parses() {
        let t: OneType = serde_json::from_str(r#"{"volume_type": {"id": "a", "name": "ceph", "is_public": true, "description": null, "extra_specs": {"volume_backend_name": "rbd-1"}, "qos_specs_id": null, "os-volume-type-access:is_public": true}}"#).unwrap();
        assert_eq!(t.volume_type.extra_specs["volume_backend_name"], "rbd-1");
        let e = api_error(
            "x",
            403,
            r#"{"forbidden": {"code": 403, "message": "Policy doesn't allow volume_extension:type_create to be performed."}}"#,
        );
        assert!(
            e.to_string().contains("admin role") && e.to_string().contains("type_create"),
            "{e}"
        );
    }
}
