//! `cephboot cluster bootstrap | stop`.

use std::time::Duration;

use super::output::print_json;
use super::{BootstrapArgs, Format, Global};
use crate::cluster::bootstrap::{self, BootstrapRequest};
use crate::error::Result;

/// Runs `cluster bootstrap`.
pub fn bootstrap(args: &BootstrapArgs, global: &Global) -> Result<()> {
    let report = bootstrap::bootstrap(&BootstrapRequest {
        state_dir: global.state_dir.clone(),
        port: args.port,
        timeout: Duration::from_secs(global.timeout.max(60)),
    })?;
    if global.format != Format::Table {
        print_json(global.format, &report);
        return Ok(());
    }
    for d in &report.daemons {
        println!(
            "{}: {} (pid {})",
            d.name,
            d.action,
            d.pid.map_or("?".into(), |p| p.to_string())
        );
    }
    println!("cluster {} at {}", report.fsid, report.mon_host);
    println!("config: {}  (export CEPH_CONF={0})", report.conf.display());
    Ok(())
}

/// Runs `cluster stop`.
pub fn stop(global: &Global) -> Result<()> {
    let report = bootstrap::stop(&global.state_dir)?;
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else if report.stopped.is_empty() {
        println!("nothing was running");
    } else {
        println!("stopped: {}", report.stopped.join(", "));
    }
    Ok(())
}
