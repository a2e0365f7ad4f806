//! `cephboot disks list`: scan, classify, render.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::{human_size, print_json, table};
use super::{Format, ListArgs};
use crate::disk::classify::classify;
use crate::disk::inventory::{self, DeviceKind, Filter, Roots};
use crate::disk::label::LabelGrammar;
use crate::disk::report::DeviceReport;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct DisksList {
    devices: Vec<DeviceReport>,
}

/// Kernel name of a device argument: `/dev/sdb`, `sdb`, or a `/dev/disk/by-*` link.
pub fn kernel_name(arg: &Path) -> Result<String> {
    if arg.components().count() == 1 {
        return Ok(arg.display().to_string());
    }
    let real = std::fs::canonicalize(arg).map_err(|e| {
        Error::NotFound(format!(
            "{}: {e}: name an existing block device (see `cephboot disks list`)",
            arg.display()
        ))
    })?;
    real.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::NotFound(format!("{} is not a device node", arg.display())))
}

/// Runs `disks list`.
pub fn list(args: &ListArgs, format: Format, grammar: &LabelGrammar) -> Result<()> {
    let only = args
        .devices
        .iter()
        .map(|d| kernel_name(d))
        .collect::<Result<Vec<_>>>()?;
    let snapshot = inventory::scan(
        &Roots::default(),
        &Filter {
            all: args.all || !only.is_empty(),
            only: only.clone(),
        },
    );
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
