//! Where an encrypted OSD's key lives, as ceph-volume keeps it: `ceph osd new` stores it in
//! the monitors' config-key store at `dm-crypt/osd/<osd-uuid>/luks` and creates
//! `client.osd-lockbox.<osd-uuid>`, allowed to read only that key; the lockbox's keyring is
//! `lockbox.keyring` in the OSD's directory (mode 0600). `osd destroy` and `osd purge` remove
//! both. When the keyring is missing (a directory lost with a reinstalled root), the
//! configured client (an admin) reads the lockbox's key from the monitors and writes it again;
//! at boot (`osd activate ID --exec`, no connection made up front) that client connects only
//! then, waiting for the monitors as the key's own read does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::key::DmcryptKey;
use crate::ceph::client::{CephClient, ConnectOptions, RadosClient};
use crate::error::{Error, Result};

/// The lockbox entity of the OSD with this uuid.
pub fn lockbox_entity(osd_uuid: &str) -> String {
    format!("client.osd-lockbox.{osd_uuid}")
}

/// The config-key under which the monitors keep the OSD's dm-crypt key.
pub fn config_key(osd_uuid: &str) -> String {
    format!("dm-crypt/osd/{osd_uuid}/luks")
}

/// The lockbox keyring's path in the OSD directory.
pub fn lockbox_keyring(osd_dir: &Path) -> PathBuf {
    osd_dir.join("lockbox.keyring")
}

/// The lockbox keyring's text.
fn lockbox_keyring_text(osd_uuid: &str, secret: &str) -> String {
    format!("[{}]\n\tkey = {secret}\n", lockbox_entity(osd_uuid))
}

/// Writes the lockbox keyring (0600, atomically).
pub fn write_lockbox_keyring(osd_dir: &Path, osd_uuid: &str, secret: &str) -> Result<()> {
    crate::files::write_private(
        &lockbox_keyring(osd_dir),
        lockbox_keyring_text(osd_uuid, secret).as_bytes(),
    )
}

/// Whether the OSD directory's lockbox keyring is exactly this OSD's with this secret (not
/// missing, nor left by another OSD that had the id).
pub fn lockbox_keyring_is(osd_dir: &Path, osd_uuid: &str, secret: &str) -> bool {
    std::fs::read_to_string(lockbox_keyring(osd_dir))
        .is_ok_and(|text| text == lockbox_keyring_text(osd_uuid, secret))
}

/// Who writes a missing lockbox keyring again from the monitors.
pub enum Restorer<'a> {
    /// This connected (admin) client.
    Client(&'a dyn CephClient),
    /// The client these options configure, connected only when the keyring is missing and
    /// waited for like the key itself (the boot-time start, which connects to nothing first).
    Connect(&'a ConnectOptions),
}

impl std::fmt::Debug for Restorer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restorer::Client(_) => f.write_str("Restorer::Client"),
            Restorer::Connect(o) => write!(f, "Restorer::Connect({})", o.name),
        }
    }
}

/// The OSD's key from the monitors, read as its lockbox, retried until `bound` while the
/// monitors do not answer (at boot they may have no quorum yet), each failure logged. A
/// missing keyring is written first from the monitors through `restorer`.
pub fn fetch_key(
    restorer: Restorer<'_>,
    opts: &ConnectOptions,
    osd_dir: &Path,
    osd_uuid: &str,
    bound: Duration,
) -> Result<DmcryptKey> {
    let start = Instant::now();
    let keyring = lockbox_keyring(osd_dir);
    if !keyring.exists() {
        let secret = match restorer {
            Restorer::Client(admin) => lockbox_secret(admin, osd_uuid).map_err(|e| e.to_string()),
            Restorer::Connect(admin) => retry_until(start, bound, "the lockbox's key", || {
                lockbox_secret(&RadosClient::connect(admin)?, osd_uuid)
            }),
        }
        .map_err(|e| Error::Cluster {
            context: format!(
                "restoring {}, missing, from the monitors",
                keyring.display()
            ),
            message: format!(
                "{e}; where the monitors cannot be reached or no longer keep the lockbox, open the OSD with its recovery key (`osd activate ID --recovery-key FILE`)"
            ),
            errno: None,
        })?;
        std::fs::create_dir_all(osd_dir)
            .map_err(|e| Error::io(format!("creating {}", osd_dir.display()), e))?;
        write_lockbox_keyring(osd_dir, osd_uuid, &secret)?;
        tracing::info!(osd_uuid, "lockbox keyring restored from the monitors");
    }
    let lockbox = ConnectOptions {
        name: lockbox_entity(osd_uuid),
        keyring: Some(keyring),
        ..opts.clone()
    };
    let bytes = retry_until(start, bound, "the OSD's dm-crypt key", || {
        RadosClient::connect(&lockbox)?.mon_raw(
            &json!({"prefix": "config-key get", "key": config_key(osd_uuid)}),
            &[],
        )
    })
    .map_err(|e| Error::Cluster {
        context: format!(
            "reading the dm-crypt key of OSD {osd_uuid} ({}) as {}",
            config_key(osd_uuid),
            lockbox_entity(osd_uuid)
        ),
        message: format!("{e}; with the monitors' key lost, open it with its recovery key"),
        errno: None,
    })?;
    DmcryptKey::from_stored(&bytes).ok_or_else(|| Error::Cluster {
        context: format!("reading {}", config_key(osd_uuid)),
        message: "the monitors keep an empty key".into(),
        errno: None,
    })
}

/// `f` until it answers, retried every 5 s while the monitors do not answer and `bound` has
/// not passed since `start`, each failure logged; the last failure, saying how long it waited.
fn retry_until<T>(
    start: Instant,
    bound: Duration,
    what: &str,
    mut f: impl FnMut() -> Result<T>,
) -> std::result::Result<T, String> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() < bound && retriable(&e) => {
                tracing::warn!(
                    attempt,
                    waited_s = start.elapsed().as_secs(),
                    bound_s = bound.as_secs(),
                    error = %e,
                    "{what} is not readable from the monitors yet; retrying"
                );
                std::thread::sleep(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(format!(
                    "{e} (after {} s and {attempt} attempt(s))",
                    start.elapsed().as_secs()
                ))
            }
        }
    }
}

/// A monitor that does not answer, or has no quorum yet, is waited for; a refusal (no such
/// key, no such entity) is an answer.
fn retriable(e: &Error) -> bool {
    match e {
        Error::Cluster { errno, .. } => !matches!(errno, Some(2) | Some(1) | Some(13)),
        Error::NotFound(_) => false,
        _ => true,
    }
}

/// The lockbox's cephx secret, read through an admin client.
fn lockbox_secret(admin: &dyn CephClient, osd_uuid: &str) -> Result<String> {
    let v = admin.mon(
        json!({"prefix": "auth get-key", "entity": lockbox_entity(osd_uuid), "format": "json"}),
    )?;
    v.get("key")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Cluster {
            context: format!("reading the key of {}", lockbox_entity(osd_uuid)),
            message: "the reply has no key".into(),
            errno: None,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_left_by_another_osd_of_the_id_is_not_this_ones() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!lockbox_keyring_is(dir.path(), "u1", "S"), "missing");
        write_lockbox_keyring(dir.path(), "u0", "S").unwrap();
        assert!(!lockbox_keyring_is(dir.path(), "u1", "S"), "another uuid's");
        write_lockbox_keyring(dir.path(), "u1", "S").unwrap();
        assert!(lockbox_keyring_is(dir.path(), "u1", "S"));
        assert!(!lockbox_keyring_is(dir.path(), "u1", "T"), "another secret");
    }

    #[test]
    fn names_are_ceph_volumes() {
        let u = "0b6f7c3e-2f4a-4d8e-9a51-3c2d1e0f9a8b";
        assert_eq!(lockbox_entity(u), format!("client.osd-lockbox.{u}"));
        assert_eq!(config_key(u), format!("dm-crypt/osd/{u}/luks"));
        assert_eq!(
            lockbox_keyring(Path::new("/var/lib/ceph/osd/ceph-3")),
            PathBuf::from("/var/lib/ceph/osd/ceph-3/lockbox.keyring")
        );
    }

    #[test]
    fn a_missing_key_is_an_answer_and_a_silent_monitor_is_waited_for() {
        let answer = |errno| Error::Cluster {
            context: String::new(),
            message: String::new(),
            errno,
        };
        assert!(!retriable(&answer(Some(2))), "ENOENT: no such key");
        assert!(!retriable(&answer(Some(13))), "EACCES");
        assert!(retriable(&answer(Some(110))), "ETIMEDOUT");
        assert!(retriable(&answer(None)));
    }
}
