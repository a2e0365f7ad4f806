//! `cephboot disks list | zap`: arguments in, the engine's records rendered.

use std::path::PathBuf;

use serde::Serialize;

use super::output::{human_size, print_json, table};
use super::{Format, Global, ListArgs, ZapArgs};
use crate::disk::guard;
use crate::disk::inventory::DeviceKind;
use crate::disk::label::LabelGrammar;
use crate::disk::listing;
use crate::disk::report::DeviceReport;
use crate::disk::zap;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct DisksList {
    /// The host whose disks these are (its short hostname).
    host: String,
    devices: Vec<DeviceReport>,
}

/// Runs `disks list`.
pub fn list(args: &ListArgs, format: Format, grammar: &LabelGrammar) -> Result<()> {
    let reports = listing::list(&args.devices, args.all, grammar)?;
    if format != Format::Table {
        let host = crate::host::short_hostname();
        print_json(
            format,
            &DisksList {
                host,
                devices: reports,
            },
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let name = match r.kind {
                DeviceKind::Disk => r.path.clone(),
                DeviceKind::Partition => format!(
                    "└─{}",
                    PathBuf::from(&r.path)
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ),
            };
            let label = r
                .partition_name
                .clone()
                .or_else(|| r.fs_label.clone())
                .unwrap_or_default();
            let role = r
                .role
                .map(String::from)
                .or(r.osd_id.map(|i| format!("osd.{i}")))
                .unwrap_or_else(|| "-".into());
            let mut state = r.state.as_str().to_string();
            if r.state == crate::disk::classify::State::Bootstrap && !r.ready {
                state.push_str(" (not ready)");
            }
            vec![
                name,
                human_size(r.size_bytes),
                state,
                role,
                r.fs_type.clone().unwrap_or_else(|| "-".into()),
                label,
                r.reasons.join("; "),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        table(
            &["DEVICE", "SIZE", "STATE", "ROLE", "FS", "LABEL", "REASONS"],
            &rows
        )
    );
    Ok(())
}

#[derive(Debug, Serialize)]
struct RefusalReport<'a> {
    error: RefusalBody<'a>,
}

#[derive(Debug, Serialize)]
struct RefusalBody<'a> {
    kind: &'static str,
    exit_code: i32,
    message: String,
    refusals: &'a [guard::Refusal],
}

/// Runs `disks zap`.
pub fn zap(args: &ZapArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    let format = global.format;
    // This cluster's OSDs on the host, read before anything is wiped: the units of those on
    // the wiped disks are retired afterwards.
    let before = crate::osd::retire::OursOnHost::read(&global.conf_path(), grammar);
    // The same config every other command uses (incl. the <state-dir>/ceph.conf fallback), so
    // the foreign-BlueStore guard knows this cluster's fsid.
    let mut report =
        match zap::zap_named(&args.devices, &global.conf_path(), args.force, args.dry_run) {
            Ok(r) => r,
            Err(zap::ZapFailure::Error(e)) => return Err(e),
            Err(zap::ZapFailure::Refused(refusals)) => {
                let err = crate::disk::rewrite::refusals_to_error(&refusals);
                if format != Format::Table {
                    let body = RefusalBody {
                        kind: "refused",
                        exit_code: err.exit_code() as i32,
                        message: err.to_string(),
                        refusals: &refusals,
                    };
                    print_json(format, &RefusalReport { error: body });
                } else {
                    for r in &refusals {
                        crate::errln!(
                            "cephboot: refusing {}: {}: {}",
                            r.device.display(),
                            r.reason,
                            r.hint
                        );
                    }
                }
                return Err(Error::AlreadyReported(Box::new(err)));
            }
        };
    let wiped: Vec<PathBuf> = report
        .devices
        .iter()
        .map(|d| PathBuf::from(&d.path))
        .collect();
    let retired = before.retire_units_on(&wiped, &global.cluster, args.dry_run)?;
    report.changed |= !args.dry_run && !retired.is_empty();
    report.retired_units = retired;
    if format != Format::Table {
        print_json(format, &report);
        return Ok(());
    }
    for v in &report.volumes {
        let verb = if report.dry_run {
            "would remove first"
        } else {
            "removed first"
        };
        crate::outln!("{v}: {verb}");
    }
    for r in &report.devices {
        let verb = match r.action {
            crate::action::Action::WouldZap => "would remove (dry run, nothing written)",
            crate::action::Action::Unchanged => {
                crate::outln!(
                    "{}: unchanged: no signatures, no partitions, GPT areas already zero",
                    r.path
                );
                continue;
            }
            _ => "removed",
        };
        crate::outln!("{}: {verb}:", r.path);
        for s in &r.plan.signatures {
            crate::outln!(
                "  signature {} on {} at offset {}",
                s.kind,
                s.device.display(),
                s.offset.map_or("?".into(), |o| o.to_string())
            );
        }
        for p in r
            .plan
            .kernel_partitions
            .iter()
            .chain(r.plan.table_partitions.iter())
        {
            crate::outln!("  partition {}", p.display());
        }
        for z in &r.plan.zero {
            crate::outln!("  zero {} bytes at {} ({})", z.length, z.offset, z.why);
        }
    }
    for unit in &report.retired_units {
        if report.dry_run {
            crate::outln!(
                "unit {unit}: would be stopped, disabled and forgotten (its OSD's disk is wiped)"
            );
        } else {
            crate::outln!(
                "unit {unit}: stopped, disabled and forgotten (its OSD's disk was wiped)"
            );
        }
    }
    Ok(())
}
