//! `cephboot pools init`.

use std::path::PathBuf;

use super::output::print_json;
use super::{Format, Global, KeyringLayout, PoolsInitArgs};
use crate::error::{Error, Result};
use crate::pools::init::{self, PoolsRequest};

/// Runs `pools init`.
pub fn init(args: &PoolsInitArgs, global: &Global) -> Result<()> {
    if args.pools.is_empty()
        || args
            .pools
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
    {
        return Err(Error::Usage(
            "--pools takes a comma-separated list of pool names".into(),
        ));
    }
    let kolla = args.layout == KeyringLayout::Kolla;
    let keyring_dir = if args.no_keyrings {
        None
    } else {
        Some(args.keyring_dir.clone().unwrap_or_else(|| {
            if kolla {
                PathBuf::from("/etc/kolla/config")
            } else {
                global
                    .conf_path()
                    .parent()
                    .map_or_else(|| PathBuf::from("/etc/ceph"), PathBuf::from)
            }
        }))
    };
    let volume_types: Vec<(String, String)> = args
        .volume_types
        .iter()
        .map(|v| match v.split_once('=') {
            Some((n, b)) if !n.is_empty() && !b.is_empty() => Ok((n.to_string(), b.to_string())),
            _ => Err(Error::Usage(format!(
                "--volume-type {v:?}: expected NAME=BACKEND, e.g. ceph=rbd-1"
            ))),
        })
        .collect::<Result<_>>()?;
    let report = init::run(
        &global.connect_options(),
        &PoolsRequest {
            single_node: args.single_node,
            replicas: args.replicas,
            pools: args.pools.clone(),
            pg_num: args.pg_num,
            keyring_dir,
            kolla_layout: kolla,
            mute_size_warning: args.mute_size_warning,
            dry_run: args.dry_run,
            device_class: args.device_class.clone(),
            allow_shrink: args.allow_shrink,
        },
    )?;
    // Then the Cinder volume types, so one deployer step does both.
    let types = if volume_types.is_empty() {
        Vec::new()
    } else {
        let session = super::cinder::session(&args.os, global)?;
        crate::openstack::cinder::ensure_backend_types(
            &crate::openstack::cinder::Cinder { session: &session },
            &volume_types,
            args.default_volume_type,
            args.dry_run,
        )?
    };
    let mut report = report;
    report.changed |= types.iter().any(|t| t.changed);
    let changed = report.changed;
    if global.format != Format::Table {
        #[derive(serde::Serialize)]
        struct Full<'a> {
            #[serde(flatten)]
            pools: &'a crate::pools::init::PoolsReport,
            volume_types: &'a [crate::openstack::cinder::TypeReport],
        }
        print_json(
            global.format,
            &Full {
                pools: &report,
                volume_types: &types,
            },
        );
        return Ok(());
    }
    print_table(&report, &types);
    crate::outln!("changed: {changed}");
    Ok(())
}

fn print_table(
    report: &crate::pools::init::PoolsReport,
    types: &[crate::openstack::cinder::TypeReport],
) {
    let d = &report.decision;
    crate::outln!(
        "sizing: size {}, min_size {}, failure domain {} — {}",
        d.size,
        d.min_size,
        d.failure_domain.as_str(),
        d.reason
    );
    for c in &report.changes {
        crate::outln!("{} {}: {} ({})", c.kind, c.name, c.action, c.detail);
    }
    for n in &report.notes {
        crate::outln!("note: {n}");
    }
    crate::outln!(
        "ceph.conf equivalent:\n{}",
        report.ceph_conf_snippet.trim_end()
    );
    for t in types {
        crate::outln!(
            "volume type {}: {}{}",
            t.name,
            t.action,
            t.default
                .map(|d| format!(", project default: {d}"))
                .unwrap_or_default()
        );
    }
}
