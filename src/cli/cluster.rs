//! `cephboot cluster bootstrap | stop`.

use std::time::Duration;

use super::output::print_json;
use super::{BootstrapArgs, Format, Global, JoinArgs, JoinBundleArgs};
use crate::cluster::bootstrap::{self, BootstrapReport, BootstrapRequest};
use crate::cluster::join::{self, JoinRequest};
use crate::error::Result;

/// Runs `cluster bootstrap`.
pub fn bootstrap(args: &BootstrapArgs, global: &Global) -> Result<()> {
    if args.dry_run {
        let site = bootstrap::Site::new(args.mon_ip);
        let port = match (args.port, args.mon_ip) {
            (Some(p), _) => p.to_string(),
            (None, Some(_)) => "3300".into(),
            (None, None) => "<a free port>".into(),
        };
        let mon_host = format!("v2:{}:{port}", site.ip);
        let report = bootstrap::preview(&global.state_dir, &site, "", &mon_host)?;
        print_report(&report, global);
        return Ok(());
    }
    let report = bootstrap::bootstrap(&BootstrapRequest {
        state_dir: global.state_dir.clone(),
        port: args.port,
        timeout: Duration::from_secs(global.timeout.max(60)),
        mon_ip: args.mon_ip,
    })?;
    print_report(&report, global);
    Ok(())
}

/// Runs `cluster join`.
pub fn join(args: &JoinArgs, global: &Global) -> Result<()> {
    let req = JoinRequest {
        state_dir: global.state_dir.clone(),
        bundle: args.bundle.clone(),
        mon_ip: args.mon_ip,
        timeout: Duration::from_secs(global.timeout.max(60)),
    };
    let report = if args.dry_run {
        join::preview(&req)?
    } else {
        join::join(&req)?
    };
    print_report(&report, global);
    Ok(())
}

/// Runs `cluster join-bundle`.
pub fn join_bundle(args: &JoinBundleArgs, global: &Global) -> Result<()> {
    let (b, action) = join::write_bundle(&global.state_dir, &args.out)?;
    if global.format != Format::Table {
        print_json(
            global.format,
            &serde_json::json!({
                "bundle": args.out,
                "action": action,
                "changed": action != crate::action::Action::Unchanged,
                "fsid": b.fsid,
                "mon_host": b.mon_host,
            }),
        );
    } else {
        crate::outln!(
            "{}: {} (cluster {}, monitors {}): it holds the admin key; copy it to the new host, run `cephboot cluster join --bundle FILE --mon-ip ADDR` there, then remove it",
            args.out.display(),
            action.as_str(),
            b.fsid,
            b.mon_host
        );
    }
    Ok(())
}

fn print_report(report: &BootstrapReport, global: &Global) {
    if global.format != Format::Table {
        print_json(global.format, report);
        return;
    }
    for d in &report.daemons {
        crate::outln!(
            "{}: {} (pid {})",
            d.name,
            d.action,
            d.pid.map_or("?".into(), |p| p.to_string())
        );
    }
    if report.fsid.is_empty() {
        crate::outln!("a new cluster at {}", report.mon_host);
    } else {
        crate::outln!("cluster {} at {}", report.fsid, report.mon_host);
    }
    crate::outln!("config: {}  (export CEPH_CONF={0})", report.conf.display());
}

/// Runs `cluster stop`.
pub fn stop(global: &Global) -> Result<()> {
    let report = bootstrap::stop(&global.state_dir)?;
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else if report.stopped.is_empty() {
        crate::outln!("nothing was running");
    } else {
        crate::outln!("stopped: {}", report.stopped.join(", "));
    }
    Ok(())
}
