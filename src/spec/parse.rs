//! Reading a cephadm OSD service specification (pure: text in, [`OsdSpec`]s or one
//! [`SpecError`] naming the key and its line out).
//!
//! One file holds one or several YAML documents; each must be `service_type: osd`. The OSD
//! keys may sit under `spec:` or at the top level, as cephadm accepts both. Every key is
//! checked against what cephadm knows, then against what cephboot does: an unknown key, a
//! key cephboot cannot honour and a value of the wrong kind are each refused by name, never
//! ignored. The validation rules are cephadm's (`DriveGroupSpec.validate`): `placement`
//! and `data_devices` required, `paths` alone in its selection, `all` alone and only for
//! data, no empty selection, `filter_logic` AND or OR.

use serde_yaml::{Mapping, Value};

use super::size::{parse_bytes, SizeFilter};
use crate::disk::label::Store;

/// Why a spec was refused: the message and the line of the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// 1-based line in the file, when the key could be found.
    pub line: Option<usize>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// How the filters of one device selection combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Logic {
    /// Every filter given must match (cephadm's default).
    And,
    /// One filter matching is enough.
    Or,
}

/// Where a spec applies (cephadm's `placement`), matched against this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// A glob on the host name (`*`, `osd-*`).
    pub host_pattern: Option<String>,
    /// Host names (an entry's `:ADDR` or `=NAME` tail ignored, as cephadm does for OSDs).
    pub hosts: Vec<String>,
    /// A host label: this host's labels come from `--host-label`.
    pub label: Option<String>,
}

/// One `paths:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathEntry {
    /// As written (`/dev/sdb`, `sdb`, a `/dev/disk/by-*` link).
    pub path: String,
    /// Its own CRUSH device class.
    pub crush_device_class: Option<String>,
}

/// A device selection (`data_devices`, `db_devices`, `wal_devices`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Every available device (data only).
    pub all: bool,
    /// Exactly these devices.
    pub paths: Vec<PathEntry>,
    /// Spinning (true) or not.
    pub rotational: Option<bool>,
    /// Size bounds.
    pub size: Option<SizeFilter>,
    /// A substring of the model (case-sensitive).
    pub model: Option<String>,
    /// A substring of the vendor (case-sensitive).
    pub vendor: Option<String>,
    /// At most this many devices for this role on the host (existing OSDs counted once).
    pub limit: Option<u32>,
}

/// A cephboot override for hardware that reports the wrong thing (a RAID controller's SSD
/// shown as rotational): devices whose kernel name or path matches the glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// A glob on the kernel name (`sd[cd]`) or the node path (`/dev/sdc`).
    pub devices: String,
    /// The rotational flag to use instead of sysfs's.
    pub rotational: Option<bool>,
    /// The CRUSH device class to use.
    pub crush_device_class: Option<String>,
    /// Where it was given, as the reasons name it: `cephboot.overrides[0]`, `--override[0]`.
    pub origin: String,
}

/// Reads an override given on the command line (`osd apply --override`):
/// `GLOB:rotational=0,crush_device_class=ssd` (either key or both; rotational as `0`/`1`/
/// `true`/`false`). Its origin is set by the caller.
pub fn parse_override_arg(s: &str) -> Result<Override, String> {
    let (devices, settings) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: give GLOB:rotational=0|1[,crush_device_class=CLASS]"))?;
    if devices.trim().is_empty() {
        return Err(format!("{s:?}: the override names no devices before ':'"));
    }
    let mut o = Override {
        devices: devices.trim().to_string(),
        rotational: None,
        crush_device_class: None,
        origin: String::new(),
    };
    for part in settings.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: {part:?} is not KEY=VALUE"))?;
        match k.trim() {
            "rotational" => {
                o.rotational = Some(match v.trim() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    other => return Err(format!("{s:?}: rotational is 0 or 1, not {other:?}")),
                });
            }
            "crush_device_class" => {
                o.crush_device_class = Some(crate::cli::parse_device_class(v.trim())?);
            }
            other => {
                return Err(format!(
                    "{s:?}: unknown key {other:?} (rotational, crush_device_class)"
                ))
            }
        }
    }
    if o.rotational.is_none() && o.crush_device_class.is_none() {
        return Err(format!(
            "{s:?}: the override changes nothing: give rotational or crush_device_class"
        ));
    }
    Ok(o)
}

impl Override {
    /// The override as `osd apply --override` reads it.
    pub fn to_arg(&self) -> String {
        let mut settings = Vec::new();
        if let Some(r) = self.rotational {
            settings.push(format!("rotational={}", u8::from(r)));
        }
        if let Some(c) = &self.crush_device_class {
            settings.push(format!("crush_device_class={c}"));
        }
        format!("{}:{}", self.devices, settings.join(","))
    }

    /// Whether it is about this disk (its kernel name or its node path).
    pub fn matches(&self, name: &str, path: &std::path::Path) -> bool {
        crate::disk::policy::glob(&self.devices, name)
            || crate::disk::policy::glob(&self.devices, &path.display().to_string())
    }

    /// The CRUSH class it gives: its own, or the one its rotational flag implies.
    pub fn class(&self) -> Option<String> {
        self.crush_device_class.clone().or_else(|| {
            self.rotational
                .map(|r| if r { "hdd" } else { "ssd" }.to_string())
        })
    }
}

/// One OSD service specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsdSpec {
    /// `service_id`, or `<unnamed>`.
    pub service_id: String,
    /// The line its document starts on.
    pub line: usize,
    /// Where it applies.
    pub placement: Placement,
    /// `unmanaged: true`: nothing is done for it.
    pub unmanaged: bool,
    /// `preview_only: true`: shown, never applied.
    pub preview_only: bool,
    /// The OSDs' main devices.
    pub data: Selection,
    /// Their block.db devices.
    pub db: Option<Selection>,
    /// Their block.wal devices.
    pub wal: Option<Selection>,
    /// OSDs per fast db device.
    pub db_slots: Option<u32>,
    /// OSDs per fast wal device.
    pub wal_slots: Option<u32>,
    /// Each block.db's size.
    pub block_db_size: Option<u64>,
    /// Each block.wal's size.
    pub block_wal_size: Option<u64>,
    /// A colocated FileStore journal's size.
    pub journal_size: Option<u64>,
    /// The OSDs' CRUSH device class.
    pub crush_device_class: Option<String>,
    /// BlueStore or FileStore.
    pub objectstore: Store,
    /// `encrypted`: each OSD's devices LUKS2 under one key (`osd prepare --encrypt`).
    pub encrypted: bool,
    /// AND or OR.
    pub filter_logic: Logic,
    /// cephboot's overrides for lying hardware.
    pub overrides: Vec<Override>,
    /// `cephboot.tpm2` (with `cephboot.tpm2_pcrs`, default 7): each encrypted device also gets
    /// a TPM2 keyslot bound to these PCRs (`osd prepare --tpm2`). cephadm's spec has no such key.
    pub tpm2_pcrs: Option<String>,
}

/// Keys a cephadm service spec has at its top level besides the OSD ones.
const SERVICE_KEYS: &[&str] = &[
    "service_type",
    "service_id",
    "service_name",
    "placement",
    "unmanaged",
    "preview_only",
    "spec",
    "cephboot",
    "extra_container_args",
    "extra_entrypoint_args",
    "custom_configs",
    "config",
    "networks",
];

/// cephadm's OSD keys (`DriveGroupSpec._supported_features`).
const OSD_KEYS: &[&str] = &[
    "encrypted",
    "block_wal_size",
    "osds_per_device",
    "db_slots",
    "wal_slots",
    "block_db_size",
    "placement",
    "service_id",
    "service_type",
    "data_devices",
    "db_devices",
    "wal_devices",
    "journal_devices",
    "data_directories",
    "objectstore",
    "osd_id_claims",
    "journal_size",
    "unmanaged",
    "filter_logic",
    "preview_only",
    "extra_container_args",
    "data_allocate_fraction",
    "method",
    "crush_device_class",
    "config",
];

/// cephadm's device filters (`DeviceSelection._supported_filters`).
const FILTER_KEYS: &[&str] = &[
    "actuators",
    "paths",
    "size",
    "vendor",
    "model",
    "rotational",
    "limit",
    "all",
];

/// Where the text of one document is, to find a key's line.
struct Doc<'a> {
    lines: Vec<(usize, &'a str)>,
}

impl Doc<'_> {
    /// The line of the first `KEY:` in the document: at any depth, as a list item, or inside
    /// a flow mapping (`{KEY: 1}`), quoted or not.
    fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.iter().find_map(|(n, l)| {
            if l.trim_start().starts_with('#') {
                return None;
            }
            let mut from = 0;
            while let Some(i) = l.get(from..).and_then(|rest| rest.find(key)) {
                let at = from + i;
                let before = l.get(..at).and_then(|b| b.chars().last());
                let starts = before.is_none_or(|c| matches!(c, ' ' | '{' | ',' | '-' | '"' | '\''));
                let after = l.get(at + key.len()..).unwrap_or("");
                let after = after.trim_start_matches(['"', '\'']).trim_start();
                if starts && after.starts_with(':') {
                    return Some(*n);
                }
                from = at + key.len().max(1);
            }
            None
        })
    }

    fn first_line(&self) -> usize {
        self.lines
            .iter()
            .find(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#') && t != "---"
            })
            .or(self.lines.first())
            .map_or(1, |(n, _)| *n)
    }
}

/// Splits the text at `---` lines into the documents' line ranges.
fn documents(text: &str) -> Vec<Doc<'_>> {
    let mut docs = vec![Doc { lines: Vec::new() }];
    let new_doc = |docs: &mut Vec<Doc<'_>>| {
        if docs.last().is_some_and(|d| !d.lines.is_empty()) {
            docs.push(Doc { lines: Vec::new() });
        }
    };
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_end();
        if t.starts_with('%') {
            continue; // a directive (%YAML 1.2)
        }
        if t == "..." {
            new_doc(&mut docs); // the end of a document
            continue;
        }
        if t == "---" || t.starts_with("--- ") {
            new_doc(&mut docs);
            // `--- {service_type: osd, ...}`: the document starts on this line.
            let rest = t.trim_start_matches('-').trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
        }
        if let Some(d) = docs.last_mut() {
            d.lines.push((i + 1, l));
        }
    }
    docs
}

/// Reads every OSD spec in `text`.
pub fn parse(text: &str) -> Result<Vec<OsdSpec>, SpecError> {
    let docs = documents(text);
    let mut values = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v = <Value as serde::Deserialize>::deserialize(de).map_err(|e| SpecError {
            line: e.location().map(|l| l.line()),
            message: format!("not YAML: {e}"),
        })?;
        values.push(v);
    }
    let values: Vec<Value> = values.into_iter().filter(|v| !v.is_null()).collect();
    if values.is_empty() {
        return Err(SpecError {
            line: None,
            message:
                "the file holds no spec: write one `service_type: osd` document (docs/spec.md)"
                    .into(),
        });
    }
    let texts: Vec<&Doc<'_>> = docs
        .iter()
        .filter(|d| {
            d.lines.iter().any(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
        })
        .collect();
    let mut out: Vec<OsdSpec> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let empty = Doc { lines: Vec::new() };
        let doc = texts.get(i).copied().unwrap_or(&empty);
        let spec = one(v, doc)?;
        if out.iter().any(|s| s.service_id == spec.service_id) {
            return Err(SpecError {
                line: Some(spec.line),
                message: format!(
                    "two specs are named {:?}: give each its own service_id",
                    spec.service_id
                ),
            });
        }
        let classes = spec
            .crush_device_class
            .iter()
            .chain(
                spec.data
                    .paths
                    .iter()
                    .filter_map(|p| p.crush_device_class.as_ref()),
            )
            .chain(
                spec.overrides
                    .iter()
                    .filter_map(|o| o.crush_device_class.as_ref()),
            );
        for c in classes {
            let ok = (1..=32).contains(&c.len())
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok {
                return Err(err(
                    doc,
                    "crush_device_class",
                    format!(
                        "spec {}: crush_device_class {c:?}: use 1 to 32 of a-z, 0-9, _ and -",
                        spec.service_id
                    ),
                ));
            }
        }
        out.push(spec);
    }
    Ok(out)
}

fn err(doc: &Doc<'_>, key: &str, message: String) -> SpecError {
    SpecError {
        line: doc.line_of(key).or(Some(doc.first_line())),
        message,
    }
}

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn as_map<'v>(doc: &Doc<'_>, key: &str, v: &'v Value) -> Result<&'v Mapping, SpecError> {
    v.as_mapping().ok_or_else(|| {
        err(
            doc,
            key,
            format!("`{key}` must be a mapping of keys to values"),
        )
    })
}

fn as_string(doc: &Doc<'_>, key: &str, v: &Value) -> Result<String, SpecError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(err(doc, key, format!("`{key}` must be a string"))),
    }
}

fn as_bool(doc: &Doc<'_>, key: &str, v: &Value) -> Result<bool, SpecError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(err(
                doc,
                key,
                format!("`{key}: {s}`: write true or false (or 1 or 0)"),
            )),
        },
        _ => Err(err(
            doc,
            key,
            format!("`{key}` must be true or false (or 1 or 0)"),
        )),
    }
}

fn as_count(doc: &Doc<'_>, key: &str, v: &Value) -> Result<u32, SpecError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            err(
                doc,
                key,
                format!("`{key}` must be a whole number of at least 1"),
            )
        })
}

fn as_bytes(doc: &Doc<'_>, key: &str, v: &Value) -> Result<u64, SpecError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(err(
                doc,
                key,
                format!("`{key}` must be a size (bytes, or 10G, 10GiB)"),
            ))
        }
    };
    parse_bytes(&text).map_err(|m| err(doc, key, format!("`{key}: {text}`: {m}")))
}

fn one(v: &Value, doc: &Doc<'_>) -> Result<OsdSpec, SpecError> {
    let (top, osd) = sections(v, doc)?;
    let service_id = service_id_of(&top, doc)?;
    let name = service_id.clone();
    let refuse = |key: &str, why: &str| err(doc, key, format!("spec {name}: `{key}`: {why}"));

    // Placement (at the top, or under spec: in old files).
    let placement_v = get(&top, "placement").or_else(|| get(&osd, "placement"));
    let placement = match placement_v {
        None => {
            return Err(refuse(
                "placement",
                "`placement` is required (host_pattern, hosts or label)",
            ))
        }
        Some(p) => placement(doc, &name, &p)?,
    };
    if placement.host_pattern.is_none() && placement.hosts.is_empty() && placement.label.is_none() {
        return Err(refuse(
            "placement",
            "`placement` is required: give host_pattern, hosts or label",
        ));
    }
    let flag = |m: &Mapping, k: &str| -> Result<bool, SpecError> {
        get(m, k).map_or(Ok(false), |v| as_bool(doc, k, &v))
    };
    let unmanaged = flag(&top, "unmanaged")? || flag(&osd, "unmanaged")?;
    let preview_only = flag(&top, "preview_only")? || flag(&osd, "preview_only")?;
    refuse_unsupported(&top, &osd, doc, &refuse)?;
    let (objectstore, encrypted, filter_logic) = store_of(&osd, doc, &refuse)?;
    let selection_of = |key: &str| -> Result<Option<Selection>, SpecError> {
        match get(&osd, key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => selection(doc, &name, key, &v).map(Some),
        }
    };
    let data = selection_of("data_devices")?
        .ok_or_else(|| refuse("data_devices", "`data_devices` element is required"))?;
    let db = selection_of("db_devices")?;
    let wal = selection_of("wal_devices")?;
    for (k, s) in [("db_devices", &db), ("wal_devices", &wal)] {
        if s.as_ref().is_some_and(|s| s.all) {
            return Err(refuse(k, "`all` is only allowed for data_devices"));
        }
    }
    if objectstore == Store::Filestore && (db.is_some() || wal.is_some()) {
        return Err(refuse("objectstore", "a FileStore OSD has no block.db or block.wal: remove db_devices/wal_devices or use bluestore"));
    }
    let sizes = sizes_of(&osd, doc, &refuse, objectstore, db.is_some(), wal.is_some())?;
    let crush_device_class = get(&osd, "crush_device_class")
        .map(|v| as_string(doc, "crush_device_class", &v))
        .transpose()?;
    let own = match get(&top, "cephboot") {
        None => CephbootKeys::default(),
        Some(c) => cephboot_keys(doc, &name, &c)?,
    };
    if own.tpm2_pcrs.is_some() && !encrypted {
        return Err(err(
            doc,
            "tpm2",
            format!("spec {name}: `cephboot.tpm2` enrolls a TPM2 keyslot on an encrypted OSD's devices: add `encrypted: true`"),
        ));
    }
    Ok(OsdSpec {
        service_id,
        line: doc.first_line(),
        placement,
        unmanaged,
        preview_only,
        data,
        db,
        wal,
        db_slots: sizes.db_slots,
        wal_slots: sizes.wal_slots,
        block_db_size: sizes.block_db_size,
        block_wal_size: sizes.block_wal_size,
        journal_size: sizes.journal_size,
        crush_device_class,
        objectstore,
        encrypted,
        filter_logic,
        overrides: own.overrides,
        tpm2_pcrs: own.tpm2_pcrs,
    })
}

/// A key of a mapping.
fn get(m: &Mapping, k: &str) -> Option<Value> {
    m.get(Value::String(k.into())).cloned()
}

/// The document's top mapping and its OSD keys (under `spec:`, or at the top in old files),
/// every key checked to be cephadm's.
fn sections(v: &Value, doc: &Doc<'_>) -> Result<(Mapping, Mapping), SpecError> {
    let top = v.as_mapping().ok_or_else(|| SpecError {
        line: Some(doc.first_line()),
        message: "a spec document must be a mapping (`service_type: osd`, `placement:`, `spec:`)"
            .into(),
    })?;
    // Which keys are where.
    let spec_map = match get(top, "spec") {
        Some(s) => Some(as_map(doc, "spec", &s)?.clone()),
        None => None,
    };
    for (k, _) in top {
        let k = key_str(k);
        let osd_key_at_top = spec_map.is_none() && OSD_KEYS.contains(&k.as_str());
        if !SERVICE_KEYS.contains(&k.as_str()) && !osd_key_at_top {
            let hint = if spec_map.is_some() && OSD_KEYS.contains(&k.as_str()) {
                " (this document has a `spec:` section: move it there)"
            } else if k == "host_pattern" {
                " (write it under `placement:`)"
            } else {
                ""
            };
            return Err(err(doc, &k, format!("unknown key `{k}`{hint}")));
        }
    }
    let osd = spec_map.unwrap_or_else(|| top.clone());
    if spec_map_is_some(top) {
        for (k, _) in &osd {
            let k = key_str(k);
            if !OSD_KEYS.contains(&k.as_str()) {
                return Err(err(
                    doc,
                    &k,
                    format!("unknown key `spec.{k}` (cephadm's OSD spec has no such key)"),
                ));
            }
        }
    }
    Ok((top.clone(), osd))
}

/// `service_type: osd` checked; the `service_id`.
fn service_id_of(top: &Mapping, doc: &Doc<'_>) -> Result<String, SpecError> {
    match get(top, "service_type") {
        Some(t) if as_string(doc, "service_type", &t)? == "osd" => {}
        Some(t) => {
            let t = as_string(doc, "service_type", &t)?;
            return Err(err(
                doc,
                "service_type",
                format!(
                    "`service_type: {t}`: cephboot applies OSD specs only (`service_type: osd`)"
                ),
            ));
        }
        None => {
            return Err(SpecError {
                line: Some(doc.first_line()),
                message: "`service_type: osd` is missing".into(),
            })
        }
    }
    Ok(match get(top, "service_id") {
        Some(s) => as_string(doc, "service_id", &s)?,
        None => "<unnamed>".into(),
    })
}

/// The keys cephboot cannot honour, refused by name (never silently ignored).
fn refuse_unsupported(
    top: &Mapping,
    osd: &Mapping,
    doc: &Doc<'_>,
    refuse: &dyn Fn(&str, &str) -> SpecError,
) -> Result<(), SpecError> {
    for k in [
        "extra_container_args",
        "extra_entrypoint_args",
        "custom_configs",
        "networks",
    ] {
        if get(top, k).is_some() || get(osd, k).is_some() {
            return Err(refuse(k, "cephboot runs no containers: remove it"));
        }
    }
    for k in ["config"] {
        if get(top, k).is_some() || get(osd, k).is_some() {
            return Err(refuse(k, "cephboot does not set Ceph options from a spec: set them with `ceph config set osd ...`"));
        }
    }
    for (k, why) in [
        ("data_directories", "cephboot makes OSDs on block devices, not in directories"),
        ("osd_id_claims", "give a destroyed id to a replacement with `cephboot osd prepare DEV --osd-id N`"),
        ("journal_devices", "a FileStore OSD from a spec keeps its journal on its own disk here; name a journal device with `cephboot osd prepare DEV --journal PART`"),
        ("data_allocate_fraction", "cephboot gives each OSD its whole data device"),
    ] {
        if get(osd, k).is_some() {
            return Err(refuse(k, why));
        }
    }
    if let Some(m) = get(osd, "method") {
        let m = as_string(doc, "method", &m)?;
        match m.as_str() {
            "raw" => {}
            "lvm" => return Err(refuse(
                "method",
                "cephboot makes raw OSDs (partitions, no LVM): write `method: raw` or leave it out",
            )),
            _ => return Err(refuse("method", "method must be one of lvm, raw")),
        }
    }
    if let Some(n) = get(osd, "osds_per_device") {
        if as_count(doc, "osds_per_device", &n)? != 1 {
            return Err(refuse(
                "osds_per_device",
                "cephboot makes one OSD per data device: write 1 or leave it out",
            ));
        }
    }
    Ok(())
}

/// The object store, `encrypted` and `filter_logic`.
fn store_of(
    osd: &Mapping,
    doc: &Doc<'_>,
    refuse: &dyn Fn(&str, &str) -> SpecError,
) -> Result<(Store, bool, Logic), SpecError> {
    let encrypted = match get(osd, "encrypted") {
        Some(e) => as_bool(doc, "encrypted", &e)?,
        None => false,
    };
    let objectstore = match get(osd, "objectstore") {
        None => Store::Bluestore,
        Some(s) => match as_string(doc, "objectstore", &s)?.as_str() {
            "bluestore" => Store::Bluestore,
            "filestore" => Store::Filestore,
            other => {
                return Err(refuse(
                    "objectstore",
                    &format!("`{other}`: write bluestore or filestore"),
                ))
            }
        },
    };
    if encrypted && objectstore == Store::Filestore {
        return Err(refuse(
            "encrypted",
            "cephboot encrypts BlueStore OSDs only (FileStore is gone from Reef on): write objectstore: bluestore",
        ));
    }
    let filter_logic = match get(osd, "filter_logic") {
        None => Logic::And,
        Some(s) => match as_string(doc, "filter_logic", &s)?
            .to_ascii_uppercase()
            .as_str()
        {
            "AND" => Logic::And,
            "OR" => Logic::Or,
            _ => {
                return Err(refuse(
                    "filter_logic",
                    "filter_logic must be either AND or OR",
                ))
            }
        },
    };
    Ok((objectstore, encrypted, filter_logic))
}

/// The slot counts and sizes of a spec.
struct Sizes {
    db_slots: Option<u32>,
    wal_slots: Option<u32>,
    block_db_size: Option<u64>,
    block_wal_size: Option<u64>,
    journal_size: Option<u64>,
}

/// `db_slots`, `wal_slots`, `block_db_size`, `block_wal_size`, `journal_size`, each checked
/// against what the spec has to divide.
fn sizes_of(
    osd: &Mapping,
    doc: &Doc<'_>,
    refuse: &dyn Fn(&str, &str) -> SpecError,
    objectstore: Store,
    has_db: bool,
    has_wal: bool,
) -> Result<Sizes, SpecError> {
    let count = |k: &str| get(osd, k).map(|v| as_count(doc, k, &v)).transpose();
    let bytes = |k: &str| get(osd, k).map(|v| as_bytes(doc, k, &v)).transpose();
    let db_slots = count("db_slots")?;
    let wal_slots = count("wal_slots")?;
    let block_db_size = bytes("block_db_size")?;
    let block_wal_size = bytes("block_wal_size")?;
    let journal_size = bytes("journal_size")?;
    for (k, v, needs) in [
        (
            "db_slots",
            db_slots.is_some() || block_db_size.is_some(),
            has_db,
        ),
        (
            "wal_slots",
            wal_slots.is_some() || block_wal_size.is_some(),
            has_wal,
        ),
    ] {
        if v && !needs {
            let role = if k == "db_slots" {
                "db_devices"
            } else {
                "wal_devices"
            };
            return Err(refuse(
                k,
                &format!("it divides the {role}, and the spec has none"),
            ));
        }
    }
    if journal_size.is_some() && objectstore != Store::Filestore {
        return Err(refuse(
            "journal_size",
            "a journal is FileStore's: write `objectstore: filestore` or remove it",
        ));
    }
    Ok(Sizes {
        db_slots,
        wal_slots,
        block_db_size,
        block_wal_size,
        journal_size,
    })
}

fn spec_map_is_some(top: &Mapping) -> bool {
    top.contains_key(Value::String("spec".into()))
}

fn placement(doc: &Doc<'_>, name: &str, v: &Value) -> Result<Placement, SpecError> {
    let m = as_map(doc, "placement", v)?;
    let mut p = Placement::default();
    for (k, v) in m {
        let k = key_str(k);
        match k.as_str() {
            "host_pattern" => p.host_pattern = Some(as_string(doc, "host_pattern", v)?),
            "label" => p.label = Some(as_string(doc, "label", v)?),
            "hosts" => {
                let list = v.as_sequence().ok_or_else(|| {
                    err(doc, "hosts", format!("spec {name}: `hosts` must be a list of host names"))
                })?;
                for h in list {
                    let h = as_string(doc, "hosts", h)?;
                    let bare = h.split([':', '=']).next().unwrap_or("").trim().to_string();
                    if bare.is_empty() {
                        return Err(err(doc, "hosts", format!("spec {name}: an empty host name in `hosts`")));
                    }
                    p.hosts.push(bare);
                }
            }
            "count" | "count_per_host" => {
                return Err(err(doc, &k, format!("spec {name}: `placement.{k}` does not apply to OSDs: every matching host applies the spec")))
            }
            other => return Err(err(doc, other, format!("spec {name}: unknown key `placement.{other}` (host_pattern, hosts or label)"))),
        }
    }
    // cephadm's PlacementSpec rules.
    if p.host_pattern.is_some() && !p.hosts.is_empty() {
        return Err(err(
            doc,
            "hosts",
            format!("spec {name}: `placement`: cannot combine host patterns and hosts"),
        ));
    }
    if p.label.is_some() && !p.hosts.is_empty() {
        return Err(err(
            doc,
            "label",
            format!("spec {name}: `placement`: hosts and label are mutually exclusive"),
        ));
    }
    Ok(p)
}

fn selection(doc: &Doc<'_>, name: &str, key: &str, v: &Value) -> Result<Selection, SpecError> {
    let m = as_map(doc, key, v)?;
    let here = format!("spec {name}: `{key}`");
    let mut s = Selection::default();
    for (k, v) in m {
        let k = key_str(k);
        if !FILTER_KEYS.contains(&k.as_str()) {
            return Err(err(doc, &k, format!("{here}: filtering for `{k}` is not supported (all, paths, rotational, size, model, vendor, limit)")));
        }
        match k.as_str() {
            "all" => s.all = as_bool(doc, "all", v)?,
            "rotational" => s.rotational = Some(as_bool(doc, "rotational", v)?),
            "model" => s.model = Some(as_string(doc, "model", v)?),
            "vendor" => s.vendor = Some(as_string(doc, "vendor", v)?),
            "limit" => s.limit = Some(as_count(doc, "limit", v)?),
            "size" => {
                let text = as_string(doc, "size", v)?;
                s.size = Some(
                    SizeFilter::parse(&text)
                        .map_err(|m| err(doc, "size", format!("{here}: `size: {text}`: {m}")))?,
                );
            }
            "paths" => {
                let list = v
                    .as_sequence()
                    .ok_or_else(|| err(doc, "paths", format!("{here}: `paths` must be a list")))?;
                for e in list {
                    let entry = match e {
                        Value::Mapping(pm) => {
                            let mut path = None;
                            let mut class = None;
                            for (pk, pv) in pm {
                                match key_str(pk).as_str() {
                                    "path" => path = Some(as_string(doc, "path", pv)?),
                                    "crush_device_class" => class = Some(as_string(doc, "crush_device_class", pv)?),
                                    other => return Err(err(doc, other, format!("{here}: unknown key `{other}` in a path entry (path, crush_device_class)"))),
                                }
                            }
                            PathEntry {
                                path: path.unwrap_or_default(),
                                crush_device_class: class,
                            }
                        }
                        other => PathEntry {
                            path: as_string(doc, "paths", other)?,
                            crush_device_class: None,
                        },
                    };
                    if entry.path.trim().is_empty() {
                        return Err(err(
                            doc,
                            "paths",
                            format!("{here}: device path cannot be empty"),
                        ));
                    }
                    s.paths.push(entry);
                }
            }
            _ => {
                return Err(err(
                    doc,
                    &k,
                    format!("{here}: `{k}` (dual-actuator disks) is not supported by cephboot"),
                ))
            }
        }
    }
    let others =
        s.rotational.is_some() || s.size.is_some() || s.model.is_some() || s.vendor.is_some();
    if !s.paths.is_empty() && others {
        return Err(err(
            doc,
            "paths",
            format!("{here}: `paths` and other filters are mutually exclusive"),
        ));
    }
    let empty = s.paths.is_empty() && !others;
    if !s.all && empty {
        return Err(err(doc, key, format!("{here}: device selection cannot be empty (a `limit` alone selects nothing: add a filter, or `all: true` for data)")));
    }
    if s.all && !empty {
        return Err(err(
            doc,
            "all",
            format!("{here}: `all` and other filters are mutually exclusive"),
        ));
    }
    Ok(s)
}

/// The keys of the spec's `cephboot:` section, cephboot's own beside cephadm's.
#[derive(Debug, Default)]
struct CephbootKeys {
    overrides: Vec<Override>,
    /// The PCRs of `tpm2: true` (`tpm2_pcrs`, default 7); None without `tpm2`.
    tpm2_pcrs: Option<String>,
}

fn cephboot_keys(doc: &Doc<'_>, name: &str, v: &Value) -> Result<CephbootKeys, SpecError> {
    let m = as_map(doc, "cephboot", v)?;
    let mut out = CephbootKeys::default();
    let mut tpm2 = false;
    let mut pcrs: Option<String> = None;
    for (k, v) in m {
        match key_str(k).as_str() {
            "overrides" => out.overrides = overrides(doc, name, v)?,
            "tpm2" => tpm2 = as_bool(doc, "tpm2", v)?,
            "tpm2_pcrs" => {
                let text = match v {
                    Value::Number(n) => n.to_string(),
                    other => as_string(doc, "tpm2_pcrs", other)?,
                };
                crate::crypt::tpm2::parse_pcrs(&text).map_err(|e| {
                    err(
                        doc,
                        "tpm2_pcrs",
                        format!("spec {name}: `cephboot.tpm2_pcrs`: {e}"),
                    )
                })?;
                pcrs = Some(text);
            }
            other => {
                return Err(err(
                    doc,
                    other,
                    format!(
                        "spec {name}: unknown key `cephboot.{other}` (overrides, tpm2, tpm2_pcrs)"
                    ),
                ))
            }
        }
    }
    if pcrs.is_some() && !tpm2 {
        return Err(err(
            doc,
            "tpm2_pcrs",
            format!(
                "spec {name}: `cephboot.tpm2_pcrs` without `cephboot.tpm2: true` enrolls nothing"
            ),
        ));
    }
    out.tpm2_pcrs = tpm2.then(|| pcrs.unwrap_or_else(|| "7".into()));
    Ok(out)
}

fn overrides(doc: &Doc<'_>, name: &str, v: &Value) -> Result<Vec<Override>, SpecError> {
    let mut out = Vec::new();
    let list = v.as_sequence().ok_or_else(|| {
        err(
            doc,
            "overrides",
            format!("spec {name}: `cephboot.overrides` must be a list"),
        )
    })?;
    for (i, e) in list.iter().enumerate() {
        let em = as_map(doc, "overrides", e)?;
        let mut o = Override {
            devices: String::new(),
            rotational: None,
            crush_device_class: None,
            origin: format!("cephboot.overrides[{i}]"),
        };
        for (ek, ev) in em {
            match key_str(ek).as_str() {
                "devices" => o.devices = as_string(doc, "devices", ev)?,
                "rotational" => o.rotational = Some(as_bool(doc, "rotational", ev)?),
                "crush_device_class" => o.crush_device_class = Some(as_string(doc, "crush_device_class", ev)?),
                other => return Err(err(doc, other, format!("spec {name}: unknown key `{other}` in an override (devices, rotational, crush_device_class)"))),
            }
        }
        if o.devices.trim().is_empty() {
            return Err(err(
                doc,
                "overrides",
                format!(
                    "spec {name}: an override needs `devices` (a glob on the kernel name or path)"
                ),
            ));
        }
        if o.rotational.is_none() && o.crush_device_class.is_none() {
            return Err(err(doc, "overrides", format!("spec {name}: an override of {} changes nothing: give rotational or crush_device_class", o.devices)));
        }
        out.push(o);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    #[test]
    fn an_override_on_the_command_line() {
        let o = parse_override_arg("sd[cd]:rotational=0,crush_device_class=fast").unwrap();
        assert_eq!(o.devices, "sd[cd]");
        assert_eq!(o.rotational, Some(false));
        assert_eq!(o.crush_device_class.as_deref(), Some("fast"));
        assert_eq!(o.to_arg(), "sd[cd]:rotational=0,crush_device_class=fast");
        assert_eq!(parse_override_arg(&o.to_arg()).unwrap(), o);
        let o = parse_override_arg("/dev/sdc:rotational=true").unwrap();
        assert_eq!((o.devices.as_str(), o.rotational), ("/dev/sdc", Some(true)));
        assert_eq!(o.class().as_deref(), Some("hdd"));
        for (bad, why) in [
            ("sdc", "GLOB:"),
            (":rotational=0", "names no devices"),
            ("sdc:rotational=2", "0 or 1"),
            ("sdc:spinning=1", "unknown key"),
            ("sdc:", "changes nothing"),
            ("sdc:crush_device_class=A B", "not a device class"),
            ("sdc:rotational", "KEY=VALUE"),
        ] {
            let e = parse_override_arg(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    use super::*;

    fn refused(yaml: &str) -> SpecError {
        match parse(yaml) {
            Err(e) => e,
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    const HEAD: &str = "service_type: osd\nservice_id: s\nplacement:\n  host_pattern: '*'\n";

    #[test]
    fn the_spec_section_and_the_top_level_form_read_the_same() {
        let nested = parse(&format!("{HEAD}spec:\n  data_devices:\n    rotational: 1\n  db_devices:\n    rotational: 0\n  db_slots: 4\n")).unwrap();
        let flat = parse(&format!(
            "{HEAD}data_devices:\n  rotational: 1\ndb_devices:\n  rotational: 0\ndb_slots: 4\n"
        ))
        .unwrap();
        assert_eq!(nested[0].data, flat[0].data);
        assert_eq!(nested[0].db, flat[0].db);
        assert_eq!(nested[0].db_slots, Some(4));
        assert_eq!(nested[0].data.rotational, Some(true));
        assert_eq!(nested[0].objectstore, Store::Bluestore);
        assert_eq!(nested[0].filter_logic, Logic::And);
    }

    #[test]
    fn several_documents_each_with_its_line() {
        let text = format!("# two specs\n---\n{HEAD}data_devices: {{all: true}}\n---\nservice_type: osd\nservice_id: t\nplacement: {{hosts: ['node1:10.0.0.1']}}\ndata_devices: {{size: '4TB:'}}\n");
        let s = parse(&text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].service_id.as_str(), s[0].line), ("s", 3));
        assert_eq!((s[1].service_id.as_str(), s[1].line), ("t", 9));
        assert_eq!(s[1].placement.hosts, ["node1"]);
        assert!(s[0].data.all);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let e = refused(&format!(
            "{HEAD}spec:\n  data_devices:\n    rotationall: 1\n"
        ));
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("`rotationall`"), "{e}");
        let e = refused(&format!(
            "{HEAD}spec:\n  data_devices: {{all: true}}\n  db_slotz: 2\n"
        ));
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("spec.db_slotz"), "{e}");
        let e = refused(&format!(
            "{HEAD}spec:\n  data_devices: {{all: true}}\ndb_slots: 2\n"
        ));
        assert!(e.message.contains("move it there"), "{e}");
        let e = refused(&format!(
            "{HEAD}data_devices: {{all: true}}\ncephboot:\n  overides: []\n"
        ));
        assert!(e.message.contains("cephboot.overides"), "{e}");
    }

    #[test]
    fn a_tpm2_keyslot_is_cephboots_own_key_and_needs_encryption() {
        let base = format!("{HEAD}data_devices: {{all: true}}\n");
        let s = parse(&format!("{base}encrypted: true\ncephboot:\n  tpm2: true\n")).unwrap();
        assert_eq!(s[0].tpm2_pcrs.as_deref(), Some("7"));
        let s = parse(&format!(
            "{base}encrypted: true\ncephboot:\n  tpm2: true\n  tpm2_pcrs: '7+11'\n"
        ))
        .unwrap();
        assert_eq!(s[0].tpm2_pcrs.as_deref(), Some("7+11"));
        let s = parse(&format!(
            "{base}encrypted: true\ncephboot: {{tpm2: true, tpm2_pcrs: 0}}\n"
        ))
        .unwrap();
        assert_eq!(s[0].tpm2_pcrs.as_deref(), Some("0"));
        let s = parse(&format!(
            "{base}encrypted: true\ncephboot: {{tpm2: false}}\n"
        ))
        .unwrap();
        assert_eq!(s[0].tpm2_pcrs, None);
        assert_eq!(parse(&base).unwrap()[0].tpm2_pcrs, None);
        for (yaml, want) in [
            (
                format!("{base}cephboot: {{tpm2: true}}\n"),
                "add `encrypted: true`",
            ),
            (
                format!("{base}encrypted: true\ncephboot: {{tpm2_pcrs: 7}}\n"),
                "enrolls nothing",
            ),
            (
                format!("{base}encrypted: true\ncephboot: {{tpm2: true, tpm2_pcrs: '7+99'}}\n"),
                "tpm2_pcrs",
            ),
            (
                format!("{base}encrypted: true\ncephboot: {{tpm2: yes please}}\n"),
                "tpm2",
            ),
            (
                format!("{base}encrypted: true\ncephboot: {{tpm: true}}\n"),
                "unknown key `cephboot.tpm`",
            ),
        ] {
            let e = refused(&yaml);
            assert!(
                e.to_string().contains(want),
                "{yaml:?}: {e} (wanted {want:?})"
            );
        }
    }

    #[test]
    fn cephadms_validation_rules() {
        let cases = [
            (format!("{HEAD}data_devices: {{paths: [/dev/sdb], rotational: 1}}\n"), "mutually exclusive"),
            (format!("{HEAD}data_devices: {{all: true, rotational: 1}}\n"), "mutually exclusive"),
            (format!("{HEAD}data_devices: {{all: true}}\ndb_devices: {{all: true}}\n"), "only allowed for data_devices"),
            (format!("{HEAD}data_devices: {{limit: 2}}\n"), "cannot be empty"),
            (format!("{HEAD}data_devices: {{}}\n"), "cannot be empty"),
            (format!("{HEAD}filter_logic: XOR\ndata_devices: {{all: true}}\n"), "AND or OR"),
            ("service_type: osd\nservice_id: s\ndata_devices: {all: true}\n".to_string(), "`placement` is required"),
            (HEAD.to_string(), "`data_devices` element is required"),
            (format!("{HEAD}data_devices: {{paths: ['']}}\n"), "cannot be empty"),
            ("service_type: mon\nplacement: {host_pattern: '*'}\n".to_string(), "OSD specs only"),
            ("placement: {host_pattern: '*'}\ndata_devices: {all: true}\n".to_string(), "service_type: osd` is missing"),
            (format!("{HEAD}data_devices: {{size: 'huge'}}\n"), "`size: huge`"),
            (format!("{HEAD}data_devices: {{actuators: 2}}\n"), "not supported"),
            (format!("{HEAD}data_devices: {{all: true}}\ndb_slots: 0\n"), "at least 1"),
            (format!("{HEAD}data_devices: {{all: true}}\ndb_slots: 2\n"), "the spec has none"),
            (format!("{HEAD}data_devices: {{all: true}}\nencrypted: true\nobjectstore: filestore\n"), "BlueStore OSDs only"),
            (format!("{HEAD}data_devices: {{all: true}}\nmethod: lvm\n"), "raw OSDs"),
            (format!("{HEAD}data_devices: {{all: true}}\nosds_per_device: 2\n"), "one OSD per data device"),
            (format!("{HEAD}data_devices: {{all: true}}\nobjectstore: filestore\ndb_devices: {{rotational: 0}}\n"), "FileStore OSD has no block.db"),
            (format!("{HEAD}data_devices: {{all: true}}\njournal_devices: {{rotational: 0}}\n"), "journal"),
            ("service_type: osd\nplacement: {count: 3}\ndata_devices: {all: true}\n".to_string(), "does not apply to OSDs"),
            ("- just\n- a list\n".to_string(), "must be a mapping"),
            ("service_type: osd\nplacement: [\n".to_string(), "not YAML"),
            ("".to_string(), "holds no spec"),
            ("service_type: osd\nplacement: {host_pattern: '*', hosts: [a]}\ndata_devices: {all: true}\n".to_string(), "cannot combine"),
            ("service_type: osd\nplacement: {label: x, hosts: [a]}\ndata_devices: {all: true}\n".to_string(), "mutually exclusive"),
            (format!("{HEAD}data_devices: {{all: true}}\ncrush_device_class: Big Disks\n"), "1 to 32"),
            (format!("{HEAD}data_devices: {{all: true}}\n---\n{HEAD}data_devices: {{all: true}}\n"), "two specs are named"),
        ];
        for (yaml, want) in cases {
            let e = refused(&yaml);
            assert!(
                e.to_string().contains(want),
                "{yaml:?}: {e} (wanted {want:?})"
            );
        }
    }

    #[test]
    fn directives_flow_documents_and_comments_keep_lines_right() {
        let text = "%YAML 1.2\n--- {service_type: osd, service_id: a, placement: {host_pattern: '*'}, data_devices: {all: true}}\n...\n---\n# rotationall: not here\nservice_type: osd\nservice_id: b\nplacement: {host_pattern: '*'}\ndata_devices: {rotationall: 1}\n";
        let e = refused(text);
        assert_eq!(e.line, Some(9), "{e}");
    }

    #[test]
    fn values_of_every_kind() {
        let s = parse(&format!(
            "{HEAD}filter_logic: or\nobjectstore: filestore\njournal_size: 2G\ncrush_device_class: big\nunmanaged: false\npreview_only: true\ndata_devices:\n  rotational: 'false'\n  model: 'ST4000'\n  vendor: ATA\n  limit: '3'\ncephboot:\n  overrides:\n    - devices: 'sd[cd]'\n      rotational: 0\n"
        ))
        .unwrap();
        let s = &s[0];
        assert_eq!(s.filter_logic, Logic::Or);
        assert_eq!(s.objectstore, Store::Filestore);
        assert!(!s.encrypted);
        assert_eq!(s.journal_size, Some(2_000_000_000));
        assert_eq!(s.data.rotational, Some(false));
        assert_eq!(s.data.limit, Some(3));
        assert!(s.preview_only && !s.unmanaged);
        assert_eq!(s.overrides[0].rotational, Some(false));
        assert_eq!(s.crush_device_class.as_deref(), Some("big"));
    }
}
