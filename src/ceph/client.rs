//! The Ceph client the engine talks to: a narrow trait (JSON mon/mgr commands) with the
//! librados implementation. Every call is bounded by `client_mount_timeout` and
//! `rados_mon_op_timeout`, so an unreachable cluster is an error, never a hang. Command
//! inputs that carry secrets (cephx keys) are passed as input buffers and never logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cephboot_ffi::rados::{Cluster, RadosError};
use serde_json::Value;

use crate::error::{Error, Result};

/// What the engine needs from Ceph.
pub trait CephClient: std::fmt::Debug + Sync {
    /// Sends a monitor command (a JSON object with `prefix`) and returns the raw output.
    fn mon_raw(&self, cmd: &Value, input: &[u8]) -> Result<Vec<u8>>;
    /// Sends a manager command.
    fn mgr_raw(&self, cmd: &Value, input: &[u8]) -> Result<Vec<u8>>;
    /// Sends a command to one OSD (`ceph tell osd.ID ...`).
    fn osd_raw(&self, id: u32, cmd: &Value, input: &[u8]) -> Result<Vec<u8>>;

    /// A monitor command with `format=json`, parsed (`null` for empty output).
    fn mon(&self, cmd: Value) -> Result<Value> {
        let mut cmd = cmd;
        if let Some(o) = cmd.as_object_mut() {
            o.entry("format").or_insert_with(|| Value::from("json"));
        }
        parse_output(&cmd, &self.mon_raw(&cmd, &[])?)
    }

    /// A manager command with `format=json`, parsed (`null` for empty output).
    fn mgr(&self, cmd: Value) -> Result<Value> {
        let mut cmd = cmd;
        if let Some(o) = cmd.as_object_mut() {
            o.entry("format").or_insert_with(|| Value::from("json"));
        }
        parse_output(&cmd, &self.mgr_raw(&cmd, &[])?)
    }
}

fn parse_output(cmd: &Value, out: &[u8]) -> Result<Value> {
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(out).map_err(|e| Error::Cluster {
        context: format!("parsing the reply to `{}`", prefix(cmd)),
        message: e.to_string(),
        errno: None,
    })
}

fn prefix(cmd: &Value) -> &str {
    cmd.get("prefix").and_then(Value::as_str).unwrap_or("?")
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Cluster name (`ceph`).
    pub cluster: String,
    /// ceph.conf path.
    pub conf: PathBuf,
    /// Entity (`client.admin`).
    pub name: String,
    /// Keyring path (otherwise what the conf says, then Ceph's default search).
    pub keyring: Option<PathBuf>,
    /// Bound for connecting and for each command.
    pub timeout: Duration,
}

/// A connected librados client.
#[derive(Debug)]
pub struct RadosClient {
    cluster: Cluster,
    conf: PathBuf,
}

fn rados_err(context: String, e: RadosError) -> Error {
    let message = if e.errno == libc::ETIMEDOUT || e.errno == libc::EINTR {
        format!("{e} (no answer from the monitors: are they running and reachable at the `mon host` in the config?)")
    } else if e.errno == libc::EACCES || e.errno == libc::EPERM {
        format!("{e} (check the keyring and the caps of the client)")
    } else {
        e.to_string()
    };
    Error::Cluster {
        context,
        message,
        errno: Some(e.errno),
    }
}

impl RadosClient {
    /// Connects, bounded by `opts.timeout`.
    pub fn connect(opts: &ConnectOptions) -> Result<Self> {
        if !opts.conf.exists() {
            return Err(Error::NotFound(format!(
                "Ceph config {} does not exist: pass --conf, set CEPH_CONF, or run `cephboot cluster bootstrap`",
                opts.conf.display()
            )));
        }
        let ctx = |what: &str| format!("{what} ({} as {})", opts.conf.display(), opts.name);
        let mut c = Cluster::create(&opts.cluster, &opts.name)
            .map_err(|e| rados_err(ctx("creating a cluster handle"), e))?;
        c.read_conf_file(&opts.conf.display().to_string())
            .map_err(|e| rados_err(ctx("reading the config"), e))?;
        let secs = opts.timeout.as_secs().max(1).to_string();
        for key in [
            "client_mount_timeout",
            "rados_mon_op_timeout",
            "rados_osd_op_timeout",
        ] {
            c.conf_set(key, &secs)
                .map_err(|e| rados_err(ctx("setting timeouts"), e))?;
        }
        // Keep librados quiet on our stderr; its own log goes where the conf says.
        let _ = c.conf_set("log_to_stderr", "false");
        let _ = c.conf_set("err_to_stderr", "false");
        if let Some(k) = &opts.keyring {
            c.conf_set("keyring", &k.display().to_string())
                .map_err(|e| rados_err(ctx("setting the keyring"), e))?;
        }
        tracing::debug!(conf = %opts.conf.display(), name = %opts.name, "connecting to the monitors");
        c.connect()
            .map_err(|e| rados_err(ctx("connecting to the cluster"), e))?;
        Ok(RadosClient {
            cluster: c,
            conf: opts.conf.clone(),
        })
    }

    /// The config this client was made from.
    pub fn conf(&self) -> &Path {
        &self.conf
    }
}

impl CephClient for RadosClient {
    fn mon_raw(&self, cmd: &Value, input: &[u8]) -> Result<Vec<u8>> {
        tracing::debug!(prefix = prefix(cmd), "mon command");
        self.cluster
            .mon_command(&cmd.to_string(), input)
            .map(|r| r.output)
            .map_err(|e| rados_err(format!("`{}`", prefix(cmd)), e))
    }

    fn mgr_raw(&self, cmd: &Value, input: &[u8]) -> Result<Vec<u8>> {
        tracing::debug!(prefix = prefix(cmd), "mgr command");
        self.cluster
            .mgr_command(&cmd.to_string(), input)
            .map(|r| r.output)
            .map_err(|e| rados_err(format!("`{}` (manager)", prefix(cmd)), e))
    }

    fn osd_raw(&self, id: u32, cmd: &Value, input: &[u8]) -> Result<Vec<u8>> {
        tracing::debug!(prefix = prefix(cmd), osd = id, "osd command");
        self.cluster
            .osd_command(id, &cmd.to_string(), input)
            .map(|r| r.output)
            .map_err(|e| rados_err(format!("`{}` (osd.{id})", prefix(cmd)), e))
    }
}

/// Reads the Ceph config `opts` names and connects: what every command that talks to the
/// cluster does first. A missing config says where cephboot looked and what to do.
/// A client for a path that must not depend on the cluster being reachable: the foreground
/// start of an OSD at boot (`osd activate ID --exec`), where the monitors may not have a
/// quorum yet and `ceph-osd` waits for them itself. Every command fails, saying so.
#[derive(Debug)]
pub struct Unconnected;

impl CephClient for Unconnected {
    fn mon_raw(&self, cmd: &Value, _input: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Internal(format!(
            "`{}` asked on a path that does not connect to the cluster",
            prefix(cmd)
        )))
    }

    fn mgr_raw(&self, cmd: &Value, input: &[u8]) -> Result<Vec<u8>> {
        self.mon_raw(cmd, input)
    }

    fn osd_raw(&self, _id: u32, cmd: &Value, input: &[u8]) -> Result<Vec<u8>> {
        self.mon_raw(cmd, input)
    }
}

/// The config of `opts` alone, without connecting.
pub fn read_configured(opts: &ConnectOptions) -> Result<super::conf::CephConf> {
    super::conf::CephConf::read(&opts.conf).map_err(|e| {
        Error::NotFound(format!(
            "Ceph config {}: {e}: pass --conf, set CEPH_CONF, or run `cephboot cluster bootstrap`",
            opts.conf.display()
        ))
    })
}

pub fn connect_configured(opts: &ConnectOptions) -> Result<(RadosClient, super::conf::CephConf)> {
    let conf = super::conf::CephConf::read(&opts.conf).map_err(|e| {
        Error::NotFound(format!(
            "Ceph config {}: {e}: pass --conf, set CEPH_CONF, or run `cephboot cluster bootstrap`",
            opts.conf.display()
        ))
    })?;
    Ok((RadosClient::connect(opts)?, conf))
}
