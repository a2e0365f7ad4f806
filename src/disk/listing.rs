//! `disks list` and the device arguments of `disks zap`: device names resolved, the disks
//! read, and each disk and partition classified into the record users see.

use std::path::{Path, PathBuf};

use super::classify::classify;
use super::inventory::{self, Filter, Roots, Snapshot};
use super::label::LabelGrammar;
use super::report::DeviceReport;
use crate::error::{Error, Result};

/// Kernel name of a device argument: `/dev/sdb`, `sdb`, or a `/dev/disk/by-*` link.
pub fn kernel_name(arg: &Path) -> Result<String> {
    crate::osd::target::kernel_name_of(arg).map(|(_, name)| name)
}

/// Every disk of the host (zero-size and ram devices included), read now.
pub fn scan_all() -> Snapshot {
    inventory::scan(
        &Roots::default(),
        &Filter {
            all: true,
            only: vec![],
        },
    )
}

/// These whole disks (by node path: `/dev/sdb`) and their partitions, read now; a path that
/// names no disk is left out.
pub fn scan_disks(disks: &[PathBuf]) -> Snapshot {
    scan_disk_names(
        disks
            .iter()
            .filter_map(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect(),
    )
}

/// These whole disks (by kernel name: `sdb`) and their partitions, read now.
pub fn scan_disk_names(only: Vec<String>) -> Snapshot {
    inventory::scan(&Roots::default(), &Filter { all: true, only })
}

/// Resolves device arguments to kernel names and reads just those disks (every disk when
/// none is named; zero-size and ram devices only with `all` or when named).
pub fn scan_named(devices: &[PathBuf], all: bool) -> Result<(Vec<String>, Snapshot)> {
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

/// The records of `disks list`: each disk followed by its partitions. A named device that
/// is not a whole disk is `NotFound`.
pub fn list(devices: &[PathBuf], all: bool, grammar: &LabelGrammar) -> Result<Vec<DeviceReport>> {
    let (only, snapshot) = scan_named(devices, all)?;
    for name in &only {
        if !snapshot.devices.iter().any(|d| &d.name == name) {
            return Err(Error::NotFound(format!(
                "{name} is not a whole disk known to the kernel (partitions are listed with their disk)"
            )));
        }
    }
    Ok(classify(&snapshot, grammar)
        .iter()
        .map(DeviceReport::new)
        .collect())
}
