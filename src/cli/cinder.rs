//! `cephboot cinder type ensure | list`, and the volume-type step of `pools init`.

use std::time::Duration;

use serde::Serialize;

use super::output::{print_json, table};
use super::{Format, Global, OsArgs, TypeEnsureArgs, TypeListArgs};
use crate::error::Result;
use crate::openstack::cinder::{self, ensure, Cinder, WantedType};
use crate::openstack::config;
use crate::openstack::session::Session;

/// Opens a session from the flags (and clouds.yaml).
pub fn session(os: &OsArgs, global: &Global) -> Result<Session> {
    let settings = config::resolve(os.settings(), os.os_client_config_file.as_deref())?;
    let step = crate::progress::step("authenticating with OpenStack");
    step.end(Session::open(
        &settings,
        Duration::from_secs(global.timeout.max(1)),
    ))
}

/// Runs `cinder type ensure`.
pub fn type_ensure(args: &TypeEnsureArgs, global: &Global) -> Result<()> {
    let mut extra_specs = config::parse_properties(&args.properties)?;
    extra_specs.insert("volume_backend_name".into(), args.backend.clone());
    let want = WantedType {
        name: args.name.clone(),
        extra_specs,
        description: args.description.clone(),
        is_public: !args.private,
    };
    let s = session(&args.os, global)?;
    let report = ensure(
        &Cinder { session: &s },
        &want,
        args.update,
        args.default,
        args.dry_run,
    )?;
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else {
        crate::outln!(
            "volume type {}: {}{}",
            report.name,
            report.action,
            report
                .id
                .as_ref()
                .map(|i| format!(" (id {i})"))
                .unwrap_or_default()
        );
        for d in &report.differences {
            crate::outln!("  {d}");
        }
        if let Some(d) = report.default {
            crate::outln!("  project default: {d}");
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ListedType<'a> {
    #[serde(flatten)]
    t: &'a cinder::VolumeType,
    is_default: bool,
}

/// Runs `cinder type list`.
pub fn type_list(args: &TypeListArgs, global: &Global) -> Result<()> {
    let s = session(&args.os, global)?;
    let c = Cinder { session: &s };
    let types = c.list()?;
    let default = if s.keystone {
        c.default_type_id().unwrap_or_else(|e| {
            tracing::warn!(
                "the project's default volume type could not be read, so none is marked: {e}"
            );
            None
        })
    } else {
        None
    };
    let listed: Vec<ListedType<'_>> = types
        .iter()
        .map(|t| ListedType {
            t,
            is_default: default.as_deref() == Some(t.id.as_str()),
        })
        .collect();
    if global.format != Format::Table {
        print_json(
            global.format,
            &serde_json::json!({ "volume_types": listed }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                l.t.name.clone(),
                l.t.id.clone(),
                if l.t.is_public { "public" } else { "private" }.into(),
                if l.is_default { "yes" } else { "" }.into(),
                l.t.extra_specs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        table(
            &["NAME", "ID", "VISIBILITY", "DEFAULT", "EXTRA SPECS"],
            &rows
        )
    );
    Ok(())
}
