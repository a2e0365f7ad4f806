//! An authenticated session: Keystone v3 (password or application credential) with a service
//! catalog lookup of block storage by explicit interface and region, or no Keystone at all
//! for a standalone Cinder in noauth mode. An ambiguous or missing region is an error that
//! lists the regions found — never a request to a `null` region. Tokens and passwords stay in
//! headers and bodies, never in messages.

use std::time::Duration;

use serde_json::{json, Value};

use super::config::{AuthType, Secret, Settings};
use crate::error::{Error, IoContext, Result};

/// Service types that name Cinder's v3 API in a catalog.
pub const BLOCK_STORAGE_TYPES: &[&str] = &["block-storage", "volumev3"];

/// A ready-to-use session against Cinder.
#[derive(Debug)]
pub struct Session {
    http: reqwest::blocking::Client,
    token: Secret,
    /// Cinder's v3 endpoint including the project (`http://h:8776/v3/<project>`).
    pub endpoint: String,
    /// The project the token is scoped to.
    pub project_id: String,
    /// Whether Keystone is in use (noauth: no).
    pub keystone: bool,
    /// Whether the token comes from an application credential (Keystone will not let such a
    /// token be used to make another, which some Cinder APIs try).
    pub application_credential: bool,
}

/// One endpoint from a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEndpoint {
    /// Service type.
    pub service_type: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// Region id.
    pub region: String,
    /// URL.
    pub url: String,
}

/// Picks the block-storage endpoint for `interface` and `region` (pure). `block-storage` and
/// `volumev3` name the same API: the regions of both count when deciding whether the choice
/// is ambiguous, and within the chosen region `block-storage` is preferred.
pub fn choose_endpoint(
    catalog: &[CatalogEndpoint],
    interface: &str,
    region: Option<&str>,
) -> Result<String> {
    let candidates: Vec<&CatalogEndpoint> = catalog
        .iter()
        .filter(|e| {
            BLOCK_STORAGE_TYPES.contains(&e.service_type.as_str()) && e.interface == interface
        })
        .collect();
    let mut regions: Vec<&str> = candidates.iter().map(|e| e.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let pick = |r: &str| {
        BLOCK_STORAGE_TYPES
            .iter()
            .find_map(|t| {
                candidates
                    .iter()
                    .find(|e| e.service_type == *t && e.region == r)
            })
            .map(|e| e.url.clone())
    };
    if candidates.is_empty() {
        let mut types: Vec<&str> = catalog.iter().map(|e| e.service_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        return Err(Error::OpenStack {
            context: "finding Cinder in the service catalog".into(),
            message: format!(
                "no {} endpoint with interface {interface} (the catalog has: {}); pass --os-endpoint to name Cinder directly",
                BLOCK_STORAGE_TYPES.join(" or "),
                types.join(", ")
            ),
            status: None,
        });
    }
    match region {
        Some(r) => pick(r).ok_or_else(|| Error::OpenStack {
            context: format!("finding Cinder ({interface}) in region {r}"),
            message: format!("the catalog has it only in region(s): {}; set --os-region-name / OS_REGION_NAME to one of them", regions.join(", ")),
            status: None,
        }),
        None => match regions.as_slice() {
            [only] => pick(only).ok_or_else(|| Error::OpenStack { context: "finding Cinder".into(), message: "no endpoint".into(), status: None }),
            _ => Err(Error::OpenStack {
                context: format!("finding Cinder ({interface})"),
                message: format!("the catalog has it in regions {}: choose one with --os-region-name or OS_REGION_NAME", regions.join(", ")),
                status: None,
            }),
        },
    }
}

fn parse_catalog(token: &Value) -> Vec<CatalogEndpoint> {
    let mut out = Vec::new();
    for svc in token
        .get("catalog")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = svc.get("type").and_then(Value::as_str).unwrap_or("");
        for ep in svc
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(CatalogEndpoint {
                service_type: t.to_string(),
                interface: ep
                    .get("interface")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                region: ep
                    .get("region_id")
                    .or_else(|| ep.get("region"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                url: ep
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_string(),
            });
        }
    }
    out
}

/// Turns a transport error into a one-line explanation.
pub fn transport_error(what: &str, url: &str, e: &reqwest::Error) -> Error {
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        chain.push_str(&s.to_string().to_lowercase());
        chain.push(' ');
        src = s.source();
    }
    let message = if e.is_timeout() {
        return Error::Timeout {
            what: format!("{what} at {url}"),
            seconds: 0,
        };
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake")
    {
        "TLS failure (untrusted or invalid certificate): pass --os-cacert / OS_CACERT with the CA bundle, or --insecure to skip verification".to_string()
    } else if e.is_connect() {
        "cannot connect: is the service running and the URL right?".to_string()
    } else {
        "request failed".to_string()
    };
    Error::OpenStack {
        context: format!("{what} at {url}"),
        message,
        status: None,
    }
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Builds the HTTP client (timeouts, CA bundle, insecure, same-origin redirects only).
fn http_client(s: &Settings, timeout: Duration) -> Result<reqwest::blocking::Client> {
    // Redirects are followed only within the origin first asked (scheme, host, port): the
    // token header and a password body must never travel to another host.
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| same_origin(first, attempt.url()));
        if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let mut b = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(policy)
        .connect_timeout(timeout.min(Duration::from_secs(10)));
    if let Some(ca) = &s.cacert {
        let pem =
            std::fs::read(ca).context(|| format!("reading the CA bundle {}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::Usage(format!("{} is not a PEM CA bundle: {e}", ca.display())))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if s.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| Error::Usage(format!("cannot set up HTTPS: {e}")))
}

/// Why Keystone did not issue a token, in words that say what to check.
fn keystone_refusal(s: &Settings, resp: &reqwest::blocking::Response, url: &str) -> Error {
    let status = resp.status().as_u16();
    let who = s
        .username
        .clone()
        .or_else(|| s.application_credential_id.clone())
        .unwrap_or_default();
    let message = match status {
        401 => format!("Keystone rejected the credentials of {who:?}: check the password (OS_PASSWORD) or the application credential"),
        404 => "Keystone does not know the project or domain: check OS_PROJECT_NAME / OS_PROJECT_DOMAIN_NAME".to_string(),
        403 => format!("{who:?} may not use that project"),
        300..=399 => format!(
            "Keystone redirected to {} (another host); credentials are never sent across hosts: use that address as the auth URL",
            resp.headers()
                .get("Location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
        ),
        code => format!("Keystone answered HTTP {code}"),
    };
    Error::OpenStack {
        context: format!("authenticating with Keystone at {url}"),
        message,
        status: Some(status),
    }
}

fn keystone_url(auth_url: &str) -> String {
    let u = auth_url.trim_end_matches('/');
    if u.ends_with("/v3") {
        u.to_string()
    } else {
        format!("{u}/v3")
    }
}

fn domain(name: &Option<String>, id: &Option<String>) -> Value {
    match (id, name) {
        (Some(id), _) => json!({"id": id}),
        (None, Some(n)) => json!({"name": n}),
        (None, None) => json!({"id": "default"}),
    }
}

/// The Keystone request body for the settings.
fn auth_body(s: &Settings, kind: AuthType) -> Result<Value> {
    let missing = |what: &str| {
        Error::Usage(format!("{what} is not set: use a clouds.yaml cloud (--os-cloud / OS_CLOUD) or the OS_* variables"))
    };
    match kind {
        AuthType::Password => {
            let password = s
                .password
                .as_ref()
                .ok_or_else(|| missing("the password (OS_PASSWORD)"))?;
            let user = match (&s.user_id, &s.username) {
                (Some(id), _) => json!({"id": id, "password": password.expose()}),
                (None, Some(n)) => {
                    json!({"name": n, "domain": domain(&s.user_domain_name, &s.user_domain_id), "password": password.expose()})
                }
                _ => return Err(missing("the user (OS_USERNAME)")),
            };
            let scope = match (&s.project_id, &s.project_name) {
                (Some(id), _) => json!({"project": {"id": id}}),
                (None, Some(n)) => {
                    json!({"project": {"name": n, "domain": domain(&s.project_domain_name, &s.project_domain_id)}})
                }
                _ => return Err(missing("the project (OS_PROJECT_NAME or OS_PROJECT_ID)")),
            };
            Ok(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}}),
            )
        }
        AuthType::ApplicationCredential => {
            let secret = s
                .application_credential_secret
                .as_ref()
                .ok_or_else(|| missing("the application credential secret"))?;
            let cred = match (&s.application_credential_id, &s.application_credential_name) {
                (Some(id), _) => json!({"id": id, "secret": secret.expose()}),
                (None, Some(n)) => {
                    let user = match (&s.user_id, &s.username) {
                        (Some(id), _) => json!({"id": id}),
                        (None, Some(u)) => {
                            json!({"name": u, "domain": domain(&s.user_domain_name, &s.user_domain_id)})
                        }
                        _ => return Err(missing("the user of the application credential")),
                    };
                    json!({"name": n, "secret": secret.expose(), "user": user})
                }
                _ => return Err(missing("the application credential id")),
            };
            Ok(
                json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": cred}}}),
            )
        }
        AuthType::None => Err(Error::Usage(
            "internal: no Keystone body for auth type none".into(),
        )),
    }
}

impl Session {
    /// Authenticates (or not, for auth type none) and finds Cinder.
    pub fn open(s: &Settings, timeout: Duration) -> Result<Session> {
        let http = http_client(s, timeout)?;
        let kind = AuthType::parse(s.auth_type.as_deref().unwrap_or(
            if s.application_credential_secret.is_some() {
                "v3applicationcredential"
            } else {
                "password"
            },
        ))?;
        if kind == AuthType::None {
            let endpoint = s.endpoint.clone().ok_or_else(|| {
                Error::Usage("--os-auth-type none needs --os-endpoint (OS_ENDPOINT), e.g. http://127.0.0.1:8776/v3".into())
            })?;
            let project = s
                .project_id
                .clone()
                .or_else(|| s.project_name.clone())
                .unwrap_or_else(|| "admin".into());
            let user = s.username.clone().unwrap_or_else(|| "admin".into());
            let endpoint = endpoint.trim_end_matches('/').to_string();
            let endpoint = if endpoint.ends_with("/v3") {
                format!("{endpoint}/{project}")
            } else {
                endpoint
            };
            // Cinder's noauth middleware takes "user:project" as the token.
            return Ok(Session {
                http,
                token: Secret::new(format!("{user}:{project}")),
                endpoint,
                project_id: project,
                keystone: false,
                application_credential: false,
            });
        }
        let auth_url = s.auth_url.clone().ok_or_else(|| {
            Error::Usage("no Keystone URL: use a clouds.yaml cloud (--os-cloud / OS_CLOUD), set OS_AUTH_URL, or --os-auth-type none with --os-endpoint".into())
        })?;
        let url = format!("{}/auth/tokens", keystone_url(&auth_url));
        let resp = http
            .post(&url)
            .json(&auth_body(s, kind)?)
            .send()
            .map_err(|e| transport_error("authenticating with Keystone", &url, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(keystone_refusal(s, &resp, &url));
        }
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| Error::OpenStack {
                context: format!("authenticating at {url}"),
                message: "Keystone sent no X-Subject-Token".into(),
                status: None,
            })?;
        let body: Value = resp
            .json()
            .map_err(|e| transport_error("reading Keystone's answer", &url, &e))?;
        let t = body.get("token").cloned().unwrap_or(Value::Null);
        let project_id = t
            .get("project")
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::OpenStack {
                context: "authenticating".into(),
                message: "the token is not scoped to a project".into(),
                status: None,
            })?;
        let endpoint = match &s.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => choose_endpoint(
                &parse_catalog(&t),
                s.interface.as_deref().unwrap_or("public"),
                s.region_name.as_deref(),
            )?,
        };
        Ok(Session {
            http,
            token,
            endpoint,
            project_id,
            keystone: true,
            application_credential: kind == AuthType::ApplicationCredential,
        })
    }

    /// A request with the auth header (and a microversion, when asked).
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        microversion: Option<&str>,
    ) -> reqwest::blocking::RequestBuilder {
        let mut r = self
            .http
            .request(method, url)
            .header("X-Auth-Token", self.token.expose())
            .header("Accept", "application/json");
        if let Some(v) = microversion {
            r = r.header("OpenStack-API-Version", format!("volume {v}"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(t: &str, i: &str, r: &str) -> CatalogEndpoint {
        CatalogEndpoint {
            service_type: t.into(),
            interface: i.into(),
            region: r.into(),
            url: format!("http://{r}/{t}/{i}"),
        }
    }

    #[test]
    fn region_choice_is_explicit_or_unambiguous() {
        let cat = vec![
            ep("volumev3", "public", "RegionOne"),
            ep("volumev3", "internal", "RegionOne"),
            ep("volumev3", "public", "RegionTwo"),
        ];
        let e = choose_endpoint(&cat, "public", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RegionOne, RegionTwo") && e.contains("OS_REGION_NAME"),
            "{e}"
        );
        assert_eq!(
            choose_endpoint(&cat, "public", Some("RegionTwo")).unwrap(),
            "http://RegionTwo/volumev3/public"
        );
        assert_eq!(
            choose_endpoint(&cat, "internal", None).unwrap(),
            "http://RegionOne/volumev3/internal"
        );
        let e = choose_endpoint(&cat, "public", Some("Nowhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only in region(s): RegionOne, RegionTwo"), "{e}");
    }

    #[test]
    fn block_storage_is_preferred_and_absence_is_explained() {
        let cat = vec![
            ep("volumev3", "public", "R"),
            ep("block-storage", "public", "R"),
            ep("image", "public", "R"),
        ];
        assert_eq!(
            choose_endpoint(&cat, "public", None).unwrap(),
            "http://R/block-storage/public"
        );
        // volumev3 in a second region makes the choice ambiguous even if block-storage is not.
        let two = vec![
            ep("block-storage", "public", "R1"),
            ep("volumev3", "public", "R1"),
            ep("volumev3", "public", "R2"),
        ];
        assert!(choose_endpoint(&two, "public", None)
            .unwrap_err()
            .to_string()
            .contains("regions R1, R2"));
        assert_eq!(
            choose_endpoint(&two, "public", Some("R2")).unwrap(),
            "http://R2/volumev3/public"
        );
        let e = choose_endpoint(&[ep("image", "public", "R")], "public", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the catalog has: image") && e.contains("--os-endpoint"),
            "{e}"
        );
    }

    #[test]
    fn auth_bodies() {
        let s = Settings {
            username: Some("u".into()),
            password: Some(Secret::new("p")),
            project_name: Some("proj".into()),
            user_domain_name: Some("Default".into()),
            ..Default::default()
        };
        let b = auth_body(&s, AuthType::Password).unwrap();
        assert_eq!(
            b["auth"]["identity"]["password"]["user"]["domain"]["name"],
            "Default"
        );
        assert_eq!(b["auth"]["scope"]["project"]["domain"]["id"], "default");
        let s = Settings {
            application_credential_id: Some("id".into()),
            application_credential_secret: Some(Secret::new("x")),
            ..Default::default()
        };
        let b = auth_body(&s, AuthType::ApplicationCredential).unwrap();
        assert_eq!(b["auth"]["identity"]["application_credential"]["id"], "id");
        assert!(b["auth"].get("scope").is_none());
        assert!(auth_body(&Settings::default(), AuthType::Password)
            .unwrap_err()
            .to_string()
            .contains("OS_PASSWORD"));
        assert_eq!(keystone_url("http://k:5000/"), "http://k:5000/v3");
        assert_eq!(keystone_url("http://k:5000/v3"), "http://k:5000/v3");
    }
}
