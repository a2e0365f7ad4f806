//! `cephboot disks list`: scan, classify, render.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::{human_size, print_json, table};
use super::{Format, Global, ListArgs, ZapArgs};
use crate::disk::classify::classify;
use crate::disk::guard;
use crate::disk::inventory::{self, DeviceKind, Filter, Roots};
use crate::disk::label::LabelGrammar;
use crate::disk::lock::LockedDisk;
use crate::disk::report::DeviceReport;
use crate::disk::wipe;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct DisksList {
    devices: Vec<DeviceReport>,
}

/// Kernel name of a device argument: `/dev/sdb`, `sdb`, or a `/dev/disk/by-*` link.
fn kernel_name(arg: &Path) -> Result<String> {
    crate::osd::target::kernel_name_of(arg).map(|(_, name)| name)
}

/// Resolves device arguments to kernel names and scans just those disks (every disk when
/// none is named; zero-size and ram devices only with `all` or when named).
fn scan_named(devices: &[PathBuf], all: bool) -> Result<(Vec<String>, inventory::Snapshot)> {
    let names = devices
        .iter()
        .map(|d| kernel_name(d))
        .collect::<Result<Vec<_>>>()?;
    let filter = Filter {
        all: all || !names.is_empty(),
        only: names.clone(),
    };
    Ok((names, inventory::scan(&Roots::default(), &filter)))
}

/// Runs `disks list`.
pub fn list(args: &ListArgs, format: Format, grammar: &LabelGrammar) -> Result<()> {
    let (only, snapshot) = scan_named(&args.devices, args.all)?;
    for name in &only {
        if !snapshot.devices.iter().any(|d| &d.name == name) {
            return Err(Error::NotFound(format!(
                "{name} is not a whole disk known to the kernel (partitions are listed with their disk)"
            )));
        }
    }
    let verdicts = classify(&snapshot, grammar);
    let reports: Vec<DeviceReport> = snapshot
        .devices
        .iter()
        .zip(verdicts.iter())
        .map(|(d, v)| DeviceReport::new(d, v))
        .collect();
    if format != Format::Table {
        print_json(format, &DisksList { devices: reports });
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
    print!(
        "{}",
        table(
            &["DEVICE", "SIZE", "STATE", "ROLE", "FS", "LABEL", "REASONS"],
            &rows
        )
    );
    Ok(())
}

/// One disk's zap result.
#[derive(Debug, Serialize)]
struct ZapDeviceReport {
    path: String,
    /// `zapped`, `unchanged` (nothing was there), or `would_zap` (dry run).
    action: &'static str,
    changed: bool,
    plan: wipe::ZapPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<wipe::ZapOutcome>,
}

#[derive(Debug, Serialize)]
struct ZapReport {
    dry_run: bool,
    changed: bool,
    devices: Vec<ZapDeviceReport>,
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

fn range_is_zero(file: &std::fs::File, z: &wipe::ZeroRange) -> bool {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; usize::try_from(z.length).unwrap_or(0)];
    file.read_exact_at(&mut buf, z.offset).is_ok() && buf.iter().all(|&b| b == 0)
}

/// Runs `disks zap`.
pub fn zap(args: &ZapArgs, global: &Global) -> Result<()> {
    let format = global.format;
    let (names, snapshot) = scan_named(&args.devices, true)?;
    // The same config every other command uses (incl. the <state-dir>/ceph.conf fallback), so
    // the foreign-BlueStore guard knows this cluster's fsid.
    let conf = crate::ceph::conf::CephConf::read(&global.conf_path()).ok();
    let fsid = conf.as_ref().and_then(|c| c.fsid()).map(str::to_string);

    // Plan and guard every disk before writing anything.
    let mut plans = Vec::new();
    let mut refusals = Vec::new();
    for name in &names {
        let Some(disk) = snapshot.devices.iter().find(|d| &d.name == name) else {
            let is_partition = std::path::Path::new("/sys/class/block")
                .join(name)
                .join("partition")
                .exists();
            return Err(if is_partition {
                Error::Usage(format!(
                    "/dev/{name} is a partition: name its whole disk (zap wipes whole disks)"
                ))
            } else {
                Error::NotFound(format!(
                    "/dev/{name} is not a block device known to the kernel"
                ))
            });
        };
        if disk.kind != DeviceKind::Disk {
            return Err(Error::Usage(format!(
                "{} is a partition: name its whole disk",
                disk.path.display()
            )));
        }
        let facts = guard::gather(&snapshot, &disk.path);
        refusals.extend(guard::judge(&facts, fsid.as_deref(), args.force));
        plans.push((
            disk.path.clone(),
            name.clone(),
            crate::disk::identity::DiskIdentity::of(disk),
            wipe::plan(&snapshot, &disk.path)?,
        ));
    }
    if !refusals.is_empty() {
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
                eprintln!(
                    "cephboot: refusing {}: {}: {}",
                    r.device.display(),
                    r.reason,
                    r.hint
                );
            }
        }
        return Err(Error::AlreadyReported(Box::new(err)));
    }

    let mut reports = Vec::new();
    for (path, name, identity, plan) in plans {
        if args.dry_run {
            reports.push(ZapDeviceReport {
                path: path.display().to_string(),
                action: "would_zap",
                changed: false,
                plan,
                outcome: None,
            });
            continue;
        }
        // The disk must still be the one judged above (a zap of several disks leaves time for
        // a node to change hands), and is claimed exclusively while it is wiped.
        let disk = LockedDisk::open_pinned(
            &path,
            &name,
            &identity,
            &path,
            std::time::Duration::from_secs(10),
        )?;
        if plan.finds_nothing() && plan.zero.iter().all(|z| range_is_zero(disk.file(), z)) {
            wipe::verify_clean(&disk)?;
            reports.push(ZapDeviceReport {
                path: path.display().to_string(),
                action: "unchanged",
                changed: false,
                plan,
                outcome: None,
            });
            continue;
        }
        tracing::info!(disk = %path.display(), "zapping");
        let outcome = wipe::execute(&plan, &snapshot, &disk)?;
        reports.push(ZapDeviceReport {
            path: path.display().to_string(),
            action: "zapped",
            changed: true,
            plan,
            outcome: Some(outcome),
        });
    }
    let report = ZapReport {
        dry_run: args.dry_run,
        changed: reports.iter().any(|r| r.changed),
        devices: reports,
    };
    if format != Format::Table {
        print_json(format, &report);
        return Ok(());
    }
    for r in &report.devices {
        let verb = match r.action {
            "would_zap" => "would remove (dry run, nothing written)",
            "zapped" => "removed",
            _ => {
                println!(
                    "{}: unchanged: no signatures, no partitions, GPT areas already zero",
                    r.path
                );
                continue;
            }
        };
        println!("{}: {verb}:", r.path);
        for s in &r.plan.signatures {
            println!(
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
            println!("  partition {}", p.display());
        }
        for z in &r.plan.zero {
            println!("  zero {} bytes at {} ({})", z.length, z.offset, z.why);
        }
    }
    Ok(())
}
