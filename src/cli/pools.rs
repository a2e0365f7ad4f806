//! `cephboot pools init`.

use std::path::PathBuf;

use super::output::print_json;
use super::{Format, Global, KeyringLayout, PoolsInitArgs};
use crate::ceph::client::RadosClient;
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
    let client = RadosClient::connect(&global.connect_options())?;
    let report = init::init(
        &client,
        &PoolsRequest {
            single_node: args.single_node,
            replicas: args.replicas,
            pools: args.pools.clone(),
            pg_num: args.pg_num,
            keyring_dir,
            kolla_layout: kolla,
            mute_size_warning: args.mute_size_warning,
            dry_run: args.dry_run,
        },
    )?;
    if global.format != Format::Table {
        print_json(global.format, &report);
        return Ok(());
    }
    let d = &report.decision;
    println!(
        "sizing: size {}, min_size {}, failure domain {} — {}",
        d.size,
        d.min_size,
        d.failure_domain.as_str(),
        d.reason
    );
    for c in &report.changes {
        println!("{} {}: {} ({})", c.kind, c.name, c.action, c.detail);
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!(
        "ceph.conf equivalent:\n{}",
        report.ceph_conf_snippet.trim_end()
    );
    println!("changed: {}", report.changed);
    Ok(())
}
