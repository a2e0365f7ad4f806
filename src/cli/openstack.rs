//! `cephboot openstack export`.

use std::collections::BTreeSet;

use super::output::{print_json, table};
use super::{ExportArgs, Format, Global};
use crate::error::{Error, Result};
use crate::openstack::export::{self, ExportRequest, Service};

/// Builds the request from the arguments (no I/O).
pub fn request(args: &ExportArgs, global: &Global) -> Result<ExportRequest> {
    let services = args
        .services
        .iter()
        .map(|s| {
            Service::parse(s.trim()).ok_or_else(|| {
                Error::Usage(format!(
                    "--services: unknown service {s:?}; choose from glance, cinder, nova, magnum, gnocchi, manila"
                ))
            })
        })
        .collect::<Result<BTreeSet<Service>>>()?;
    if services.is_empty() {
        return Err(Error::Usage("--services names no service".into()));
    }
    let (volume_type, backend) = match args.volume_type.split_once('=') {
        Some((n, b)) if !n.trim().is_empty() && !b.trim().is_empty() => {
            (n.trim().to_string(), b.trim().to_string())
        }
        _ => {
            return Err(Error::Usage(format!(
                "--volume-type {:?}: expected NAME=BACKEND, e.g. ceph=rbd-1",
                args.volume_type
            )))
        }
    };
    let globals = match &args.globals {
        Some(g) => g.clone(),
        None => args
            .kolla_config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.join("globals.d").join("cephboot.yml"))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--kolla-config {} has no parent directory for globals.d: pass --globals FILE",
                    args.kolla_config.display()
                ))
            })?,
    };
    Ok(ExportRequest {
        dir: args.kolla_config.clone(),
        globals,
        cluster: global.cluster.clone(),
        services,
        volume_type,
        backend,
        force: args.force,
        dry_run: args.dry_run,
    })
}

/// Runs `openstack export`.
pub fn export(args: &ExportArgs, global: &Global) -> Result<()> {
    let req = request(args, global)?;
    let report = export::run(&global.connect_options(), &req)?;
    if global.format != Format::Table {
        print_json(global.format, &report);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .files
        .iter()
        .map(|f| {
            vec![
                f.action.as_str().to_string(),
                f.mode.to_string(),
                f.what.clone(),
                f.path.display().to_string(),
            ]
        })
        .collect();
    crate::out!("{}", table(&["ACTION", "MODE", "WHAT", "PATH"], &rows));
    crate::outln!("changed: {}", report.changed);
    Ok(())
}
