//! `cephboot daemon`, `cephboot status`, and `osd prepare --via-daemon`.
// `serde_json::Value` indexed by a key yields `Null` for a missing key: it never panics.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::output::{print_json, table};
use super::{DaemonArgs, Format, Global, StatusArgs};
use crate::daemon::config::DaemonConfig;
use crate::daemon::{self, http, DaemonOptions};
use crate::disk::label::LabelGrammar;
use crate::error::{Error, Result};

/// Runs the daemon.
pub fn run(args: &DaemonArgs, global: &Global) -> Result<()> {
    let mut config = match &args.config {
        Some(p) => DaemonConfig::read(p)?,
        None => DaemonConfig::default(),
    };
    config.auto_prepare |= args.auto_prepare;
    let socket = args
        .socket
        .clone()
        .or_else(|| config.socket.clone())
        .unwrap_or_else(|| PathBuf::from("/run/cephboot/cephboot.sock"));
    let prefix = config
        .label_prefix
        .clone()
        .unwrap_or_else(|| global.label_prefix.clone());
    let grammar = LabelGrammar::new(&prefix).map_err(Error::Usage)?;
    let mut child_args = vec![
        "--state-dir".to_string(),
        global.state_dir.display().to_string(),
        "--cluster".into(),
        global.cluster.clone(),
        "--name".into(),
        global.entity.clone(),
        "--label-prefix".into(),
        prefix,
        "--timeout".into(),
        global.timeout.to_string(),
    ];
    if let Some(c) = global.conf.clone().or_else(|| config.ceph_conf.clone()) {
        child_args.extend(["--conf".into(), c.display().to_string()]);
    }
    if let Some(k) = global.keyring.clone().or_else(|| config.keyring.clone()) {
        child_args.extend(["--keyring".into(), k.display().to_string()]);
    }
    daemon::run(DaemonOptions {
        socket,
        config,
        grammar,
        child_args,
        debounce: Duration::from_millis(args.debounce_ms),
        state_dir: global.state_dir.clone(),
    })
}

fn ask(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value> {
    let (status, v) = http::client_request(socket, method, path, body).map_err(|e| {
        Error::NotFound(format!(
            "no cephboot daemon answers on {}: {e} (start it with `cephboot daemon`)",
            socket.display()
        ))
    })?;
    if (200..300).contains(&status) {
        Ok(v)
    } else {
        let msg = v
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string();
        Err(match status {
            403 => Error::refused(socket, msg, "run as root"),
            404 => Error::NotFound(msg),
            409 => Error::refused(socket, msg, "wait for the running job (`cephboot status`)"),
            _ => Error::Usage(format!("the daemon answered {status}: {msg}")),
        })
    }
}

/// Runs `status`.
pub fn status(args: &StatusArgs, global: &Global) -> Result<()> {
    let health = ask(&args.socket, "GET", "/v1/health", None)?;
    let jobs = ask(&args.socket, "GET", "/v1/jobs", None)?;
    if global.format != Format::Table {
        print_json(
            global.format,
            &json!({"health": health, "jobs": jobs["jobs"]}),
        );
        return Ok(());
    }
    crate::outln!(
        "daemon: {} (up {}s, auto-prepare {}, {} disks)",
        health["status"].as_str().unwrap_or("?"),
        health["uptime_secs"],
        health["auto_prepare"],
        health["disks"]
    );
    let rows: Vec<Vec<String>> = jobs["jobs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|j| {
                    let s = |k: &str| {
                        j[k].as_str()
                            .map(String::from)
                            .unwrap_or_else(|| j[k].to_string())
                    };
                    vec![
                        s("id"),
                        s("device"),
                        s("origin"),
                        s("state"),
                        j["osd_id"]
                            .as_u64()
                            .map(|i| format!("osd.{i}"))
                            .unwrap_or_default(),
                        j["error"].as_str().unwrap_or("").to_string(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        crate::outln!("no jobs");
    } else {
        crate::out!(
            "{}",
            table(&["JOB", "DEVICE", "ORIGIN", "STATE", "OSD", "ERROR"], &rows)
        );
    }
    Ok(())
}

/// `osd prepare --via-daemon`: one job per device. The daemon takes a device and `--wipe`
/// only; every other option is refused rather than silently dropped.
pub fn prepare_via_daemon(args: &super::PrepareArgs, global: &Global) -> Result<()> {
    let unsupported = [
        (args.dry_run, "--dry-run"),
        (args.all_bootstrap, "--all-bootstrap"),
        (args.store.is_some(), "--store"),
        (args.journal.is_some(), "--journal"),
        (args.db.is_some(), "--db"),
        (args.wal.is_some(), "--wal"),
        (args.journal_size != "5G", "--journal-size"),
        (args.wal_size != "1G", "--wal-size"),
        (
            !args.allow_device.is_empty(),
            "--allow-device (the daemon applies its own allow list)",
        ),
        (
            !args.deny_device.is_empty(),
            "--deny-device (the daemon applies its own deny list)",
        ),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(Error::Usage(format!(
            "{flag} cannot be sent to the daemon: run `cephboot osd prepare` without --via-daemon"
        )));
    }
    if args.devices.is_empty() {
        return Err(Error::Usage(
            "--via-daemon needs the devices to prepare".into(),
        ));
    }
    let mut out = Vec::new();
    for d in &args.devices {
        if d.starts_with("loop:") {
            return Err(Error::Usage(
                "loop:SIZE is not accepted with --via-daemon: attach the file and name the device"
                    .into(),
            ));
        }
        let (_, name) = crate::osd::target::kernel_name_of(Path::new(d))?;
        out.push(ask(
            &args.socket,
            "POST",
            "/v1/osd/prepare",
            Some(&json!({"device": format!("/dev/{name}"), "wipe": args.wipe})),
        )?);
    }
    if global.format != Format::Table {
        print_json(global.format, &json!({"jobs": out}));
    } else {
        for j in &out {
            crate::outln!(
                "{}: queued as job {} (see `cephboot status`)",
                j["device"].as_str().unwrap_or("?"),
                j["job"]
            );
        }
    }
    Ok(())
}
