//! `cephboot cinder type ensure | list`, and the volume-type step of `pools init`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::output::{print_json, table};
use super::{Format, Global, OsArgs, TypeEnsureArgs, TypeListArgs};
use crate::error::{Error, Result};
use crate::openstack::cinder::{self, Cinder, TypeAction, WantedType};
use crate::openstack::config;
use crate::openstack::session::Session;

/// One type's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TypeReport {
    /// Name.
    pub name: String,
    /// Id (unknown on a dry run that would create it).
    pub id: Option<String>,
    /// `created`, `updated`, `unchanged`, `would_create`, `would_update`.
    pub action: &'static str,
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

/// Opens a session from the flags (and clouds.yaml).
pub fn session(os: &OsArgs, global: &Global) -> Result<Session> {
    let settings = config::resolve(os.settings(), os.os_client_config_file.as_deref())?;
    let step = crate::progress::step("authenticating with OpenStack");
    step.end(Session::open(
        &settings,
        Duration::from_secs(global.timeout.max(1)),
    ))
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
        action: "unchanged",
        extra_specs: want.extra_specs.clone(),
        differences: Vec::new(),
        default: None,
        changed: false,
    };
    match cinder::decide(existing, want, update) {
        TypeAction::Unchanged => {}
        TypeAction::Create if dry_run => report.action = "would_create",
        TypeAction::Create => {
            let t = c.create(want)?;
            report.id = Some(t.id);
            report.action = "created";
        }
        TypeAction::Update(d) => {
            report.differences = d;
            if dry_run {
                report.action = "would_update";
            } else if let Some(t) = existing {
                c.update(t, want)?;
                report.action = "updated";
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
    report.changed =
        matches!(report.action, "created" | "updated") || report.default == Some("set");
    Ok(report)
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
        println!(
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
            println!("  {d}");
        }
        if let Some(d) = report.default {
            println!("  project default: {d}");
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
    print!(
        "{}",
        table(
            &["NAME", "ID", "VISIBILITY", "DEFAULT", "EXTRA SPECS"],
            &rows
        )
    );
    Ok(())
}
