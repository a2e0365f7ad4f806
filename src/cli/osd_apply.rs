//! `cephboot osd apply SPEC.yml`: reads the spec, explains the plan, runs it.

use super::output::{print_json, table};
use super::{ApplyArgs, Format, Global};
use crate::disk::label::LabelGrammar;
use crate::error::{Error, IoContext, Result};
use crate::spec::apply::{self, ApplyReport};
use crate::spec::parse::{self, OsdSpec};
use crate::spec::select::{self, Host};

/// Reads and checks the spec file: every error names the file, the line and the key.
fn read_specs(path: &std::path::Path) -> Result<Vec<OsdSpec>> {
    let text =
        std::fs::read_to_string(path).context(|| format!("reading the spec {}", path.display()))?;
    let specs =
        parse::parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    Ok(specs)
}

fn dev(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref().map_or("-".into(), |p| p.display().to_string())
}

fn print_table(r: &ApplyReport) {
    for s in &r.specs {
        match (&s.reason, s.applies) {
            (Some(why), false) => {
                crate::outln!("spec {}: takes nothing on {}: {why}", s.spec, r.host)
            }
            (Some(why), true) => crate::outln!("spec {}: {why}", s.spec),
            _ => {}
        }
    }
    if r.osds.is_empty() {
        crate::outln!("no new OSD on {}", r.host);
    } else {
        let rows: Vec<Vec<String>> = r
            .osds
            .iter()
            .map(|i| {
                let mut action = i.action.as_str().to_string();
                if let Some(id) = i.osd_id {
                    action.push_str(&format!(" osd.{id}"));
                }
                if let Some(why) = &i.reason {
                    action.push_str(&format!(": {why}"));
                }
                vec![
                    i.planned.spec.clone(),
                    r.host.clone(),
                    i.planned.data.display().to_string(),
                    dev(&i.planned.db),
                    dev(&i.planned.wal),
                    i.planned
                        .crush_device_class
                        .clone()
                        .unwrap_or_else(|| "-".into()),
                    action,
                ]
            })
            .collect();
        crate::out!(
            "{}",
            table(
                &["SERVICE", "HOST", "DATA", "DB", "WAL", "CLASS", "ACTION"],
                &rows
            )
        );
        for i in r.osds.iter().filter(|i| !i.planned.notes.is_empty()) {
            crate::outln!(
                "  {}: {}",
                i.planned.data.display(),
                i.planned.notes.join(", ")
            );
        }
    }
    for s in r.specs.iter().filter(|s| !s.existing_osds.is_empty()) {
        let ids: Vec<String> = s.existing_osds.iter().map(|i| format!("osd.{i}")).collect();
        crate::outln!("spec {}: already on this host: {}", s.spec, ids.join(", "));
    }
    if !r.not_taken.is_empty() {
        crate::outln!();
        crate::outln!("Not taken:");
        let rows: Vec<Vec<String>> = r
            .not_taken
            .iter()
            .map(|n| {
                vec![
                    n.spec.clone(),
                    n.device.display().to_string(),
                    n.reason.clone(),
                ]
            })
            .collect();
        crate::out!("{}", table(&["SERVICE", "DEVICE", "REASON"], &rows));
    }
}

/// Runs `osd apply`.
pub fn apply(args: &ApplyArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    let mut specs = read_specs(&args.spec)?;
    for spec in &mut specs {
        spec.overrides
            .extend(
                args.overrides
                    .iter()
                    .enumerate()
                    .map(|(i, o)| crate::spec::parse::Override {
                        origin: format!("--override[{i}]"),
                        ..o.clone()
                    }),
            );
    }
    let host = Host {
        name: args
            .host_name
            .clone()
            .unwrap_or_else(crate::host::short_hostname),
        labels: args.host_label.clone(),
    };
    for warning in apply::resolve_paths(&mut specs, &host) {
        crate::errln!("cephboot: {warning}");
    }
    let policy = crate::disk::policy::DevicePolicy {
        allow: args.allow_device.clone(),
        deny: args.deny_device.clone(),
    };
    let removed = crate::osd::removed::load(&global.state_dir)?;
    let snapshot = crate::disk::listing::scan_all();
    let skip: &[crate::osd::removed::RemovedDisk] = if args.skip_removed { &removed } else { &[] };
    let disks = apply::disks_of(&snapshot, grammar, &policy, skip);
    let plan = select::plan(&specs, &disks, &host, &args.data_device);
    let connect = global.connect_options();
    let mut report = apply::run(
        &specs,
        plan,
        &apply::RunOptions {
            grammar,
            connect: &connect,
            crush_host: args.crush_location.clone(),
            policy: &policy,
            host: &host.name,
            dry_run: args.dry_run,
        },
    )?;
    // An OSD made by hand on a disk whose OSD was removed: the record is done with.
    let retaken: Vec<String> = report
        .osds
        .iter()
        .filter(|i| i.action == crate::action::Action::Created)
        .filter_map(|i| {
            snapshot
                .find(&i.planned.data)
                .map(crate::osd::removed::key_of_device)
        })
        .filter(|s| removed.iter().any(|r| r.serial == *s))
        .collect();
    crate::osd::removed::forget(&global.state_dir, &retaken)?;
    for i in &report.osds {
        if let Some(e) = &i.error {
            crate::errln!("cephboot: {}: {e}", i.planned.data.display());
        }
    }
    let first_error = report.first_error();
    if global.format == Format::Table {
        print_table(&report);
    } else {
        print_json(global.format, &report);
    }
    match first_error {
        Some(e) => Err(Error::AlreadyReported(Box::new(e))),
        None => Ok(()),
    }
}
