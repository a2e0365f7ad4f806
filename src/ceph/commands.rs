//! Typed monitor commands: each builds its JSON from arguments and reads the reply into
//! plain values, so the engine never handles raw JSON.

use serde_json::{json, Value};

use super::client::CephClient;
use crate::error::{Error, Result};

fn bad_reply(what: &str, v: &Value) -> Error {
    Error::Cluster {
        context: format!("reading the reply to `{what}`"),
        message: format!("unexpected reply: {v}"),
        errno: None,
    }
}

/// One OSD in the OSD map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdInfo {
    /// Id.
    pub id: u32,
    /// Its uuid.
    pub uuid: String,
    /// Up.
    pub up: bool,
    /// In.
    pub is_in: bool,
    /// Ever booted (`up_from` > 0).
    pub ever_up: bool,
    /// Destroyed: the id and CRUSH position wait for a replacement.
    pub destroyed: bool,
}

/// The cluster fsid.
pub fn fsid(c: &dyn CephClient) -> Result<String> {
    let v = c.mon(json!({"prefix": "fsid"}))?;
    v.get("fsid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad_reply("fsid", &v))
}

/// Every OSD in the map.
pub fn osds(c: &dyn CephClient) -> Result<Vec<OsdInfo>> {
    let v = c.mon(json!({"prefix": "osd dump"}))?;
    let list = v
        .get("osds")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_reply("osd dump", &v))?;
    Ok(list
        .iter()
        .filter_map(|o| {
            Some(OsdInfo {
                id: u32::try_from(o.get("osd")?.as_u64()?).ok()?,
                uuid: o
                    .get("uuid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                up: o.get("up").and_then(Value::as_u64) == Some(1),
                is_in: o.get("in").and_then(Value::as_u64) == Some(1),
                ever_up: o.get("up_from").and_then(Value::as_u64).unwrap_or(0) > 0,
                destroyed: o
                    .get("state")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|x| x.as_str() == Some("destroyed"))),
            })
        })
        .collect())
}

/// The OSD ids directly under CRUSH bucket `bucket` (`osd crush ls`); none when the bucket
/// does not exist.
pub fn crush_ls(c: &dyn CephClient, bucket: &str) -> Result<Vec<u32>> {
    let v = match c.mon(json!({"prefix": "osd crush ls", "node": bucket})) {
        Ok(v) => v,
        Err(Error::Cluster { errno: Some(2), .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let list = v.as_array().ok_or_else(|| bad_reply("osd crush ls", &v))?;
    Ok(list
        .iter()
        .filter_map(|n| n.as_str()?.strip_prefix("osd.")?.parse().ok())
        .collect())
}

/// `osd new UUID [ID]` with a cephx secret (passed as input, never logged): the OSD id.
/// Idempotent for the same uuid. With `id`, a destroyed OSD's id is taken again, with its
/// CRUSH position. `device_class` is the new OSD's initial CRUSH device class, set in the
/// same monitor commit as the id (a separate `set-device-class` would wait for the next one,
/// about a second later).
pub fn osd_new(
    c: &dyn CephClient,
    uuid: &str,
    cephx_secret: &str,
    id: Option<u32>,
    crypt: Option<OsdCrypt<'_>>,
    device_class: Option<&str>,
) -> Result<u32> {
    // An encrypted OSD's secrets go together, as ceph-volume sends them: the monitors keep the
    // dm-crypt key at `dm-crypt/osd/<uuid>/luks`, readable by `client.osd-lockbox.<uuid>`.
    let mut input = match crypt {
        None => json!({"cephx_secret": cephx_secret}),
        Some(c) => json!({
            "cephx_secret": cephx_secret,
            "dmcrypt_key": c.dmcrypt_key.expose_str(),
            "cephx_lockbox_secret": c.lockbox_secret,
        }),
    };
    if let (Some(class), Some(fields)) = (device_class, input.as_object_mut()) {
        fields.insert("crush_device_class".into(), json!(class));
    }
    let input = input.to_string();
    let mut cmd = json!({"prefix": "osd new", "uuid": uuid, "format": "json"});
    if let (Some(id), Some(fields)) = (id, cmd.as_object_mut()) {
        fields.insert("id".into(), json!(id));
    }
    let out = c.mon_raw(&cmd, input.as_bytes())?;
    let v: Value = serde_json::from_slice(&out).map_err(|e| Error::Cluster {
        context: "reading the reply to `osd new`".into(),
        message: e.to_string(),
        errno: None,
    })?;
    v.get("osdid")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| bad_reply("osd new", &v))
}

/// An encrypted OSD's secrets for `osd new`.
#[derive(Debug, Clone, Copy)]
pub struct OsdCrypt<'a> {
    /// The dm-crypt key.
    pub dmcrypt_key: &'a crate::crypt::key::DmcryptKey,
    /// The lockbox's cephx secret.
    pub lockbox_secret: &'a str,
}

/// `osd purge-new ID`: removes an OSD that was created but never booted.
pub fn osd_purge_new(c: &dyn CephClient, id: u32) -> Result<()> {
    c.mon(json!({"prefix": "osd purge-new", "id": id, "yes_i_really_mean_it": true}))?;
    Ok(())
}

/// `osd crush create-or-move`: places the OSD under `host=HOST root=default`.
pub fn osd_crush_create_or_move(
    c: &dyn CephClient,
    id: u32,
    weight: f64,
    host: &str,
) -> Result<()> {
    c.mon(json!({
        "prefix": "osd crush create-or-move",
        "id": id,
        "weight": weight,
        "args": [format!("host={host}"), "root=default"],
    }))?;
    Ok(())
}

/// Each OSD's CRUSH device class, from `osd tree`.
pub fn device_classes(c: &dyn CephClient) -> Result<std::collections::BTreeMap<u32, String>> {
    let tree = c.mon(json!({"prefix": "osd tree"}))?;
    Ok(tree
        .get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .filter(|n| n.get("type").and_then(Value::as_str) == Some("osd"))
                .filter_map(|n| {
                    let id = u32::try_from(n.get("id")?.as_i64()?).ok()?;
                    Some((id, n.get("device_class")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The OSD's CRUSH device class set to `class`: nothing when it has it already, and any other
/// class it had removed first (the monitors refuse to change one in place). Read first
/// because each write waits for a monitor commit (about a second, `paxos_propose_interval`):
/// a new OSD has no class, and one write is enough.
pub fn osd_set_device_class(c: &dyn CephClient, id: u32, class: &str) -> Result<()> {
    let ids = [id.to_string()];
    match device_classes(c)?.get(&id).map(String::as_str) {
        Some(now) if now == class => return Ok(()),
        Some(_) => {
            c.mon(json!({"prefix": "osd crush rm-device-class", "ids": ids}))?;
        }
        None => {}
    }
    c.mon(json!({"prefix": "osd crush set-device-class", "class": class, "ids": ids}))?;
    Ok(())
}

/// `mon getmap`: the binary monmap.
pub fn monmap(c: &dyn CephClient) -> Result<Vec<u8>> {
    c.mon_raw(&json!({"prefix": "mon getmap"}), &[])
}

/// `auth get-or-create ENTITY caps...` in keyring format.
pub fn auth_get_or_create_keyring(
    c: &dyn CephClient,
    entity: &str,
    caps: &[(&str, &str)],
) -> Result<String> {
    let caps: Vec<String> = caps
        .iter()
        .flat_map(|(k, v)| [k.to_string(), v.to_string()])
        .collect();
    let out = c.mon_raw(
        &json!({"prefix": "auth get-or-create", "entity": entity, "caps": caps, "format": "plain"}),
        &[],
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
