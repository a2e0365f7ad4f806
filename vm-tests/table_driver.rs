//! vm-tests' driver for cephboot's table path: the guest calls it to rewrite a disk's table
//! exactly as `osd prepare` does (guards, `flock`, GPT write, kernel sync, then the mkfs while
//! the lock is still held) with layouts a test chooses, which no CLI command takes.
//!
//! ```text
//! vm-table-driver rewrite DISK [--no-guards] N:SIZE:NAME... [--then CMD ARGS...]
//! vm-table-driver sync DISK
//! ```
//!
//! * `rewrite` replaces the table with the listed partitions (SIZE like `10M`, or `rest` for
//!   the last), syncs the kernel, runs `--then` while still holding the disk's lock, and prints
//!   `{"sync": <report>, "seqnum_before_release": N}` (the kernel's last uevent number before
//!   the disk was let go), then `{"released_in_ms": N}` once it was. `--no-guards` skips the safety guards, as `osd prepare` does for
//!   a shared journal/db disk whose other partitions stay in use.
//! * `sync` makes the kernel's partitions match the disk's on-disk GPT (what `osd prepare`
//!   does for a disk where it only renamed a partition).
//!
//! Exit codes are cephboot's (docs/exit-codes.md); a failed `--then` command exits 6.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use cephboot::disk::inventory::{scan, Filter, Roots};
use cephboot::disk::lock::LockedDisk;
use cephboot::disk::rewrite;
use cephboot::disk::table::{self, PartitionRequest, Size};
use cephboot::error::{Error, Result};

/// The type GUID the driver gives every partition (Linux filesystem data).
const LINUX_DATA: uuid::Uuid = uuid::Uuid::from_u128(0x0fc6_3daf_8483_4772_8e79_3d69_d847_7de4);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vm-table-driver: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn usage(what: &str) -> Error {
    Error::Usage(format!(
        "{what}; usage: vm-table-driver rewrite DISK [--no-guards] N:SIZE:NAME... [--then CMD...] | sync DISK"
    ))
}

fn run(args: &[String]) -> Result<()> {
    let (command, rest) = args.split_first().ok_or_else(|| usage("no command"))?;
    let (disk, rest) = rest.split_first().ok_or_else(|| usage("no disk"))?;
    let disk = PathBuf::from(disk);
    let name = disk
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| usage("the disk is not a device path"))?;
    match command.as_str() {
        "rewrite" => rewrite_cmd(&disk, &name, rest),
        "sync" => {
            let lock = LockedDisk::open(&disk, &name, Duration::from_secs(10))?;
            cephboot::osd::prepare::sync_to_table(&lock)
        }
        other => Err(usage(&format!("unknown command {other}"))),
    }
}

fn parse_spec(spec: &str) -> Result<PartitionRequest> {
    let mut parts = spec.splitn(3, ':');
    let (Some(n), Some(size), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(usage(&format!("{spec} is not N:SIZE:NAME")));
    };
    let number = n
        .parse()
        .map_err(|_| usage(&format!("{n} is not a partition number")))?;
    let size = if size == "rest" {
        Size::Rest
    } else {
        Size::Bytes(cephboot::osd::target::parse_size(size)?)
    };
    Ok(PartitionRequest {
        number,
        name: name.to_string(),
        type_guid: LINUX_DATA,
        size,
    })
}

fn rewrite_cmd(disk: &Path, name: &str, rest: &[String]) -> Result<()> {
    let (layout, then) = match rest.iter().position(|a| a == "--then") {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i + 1..).unwrap_or_default(),
        ),
        None => (rest, &[][..]),
    };
    let guards = !layout.iter().any(|a| a == "--no-guards");
    let requests = layout
        .iter()
        .filter(|a| *a != "--no-guards")
        .map(|a| parse_spec(a))
        .collect::<Result<Vec<_>>>()?;

    let snapshot = scan(
        &Roots::default(),
        &Filter {
            all: true,
            only: vec![name.to_string()],
        },
    );
    if guards {
        rewrite::check_guards(&snapshot, disk, None, false)?;
    }
    let mut lock = LockedDisk::open(disk, name, Duration::from_secs(10))?;
    let size = cephboot_ffi::blockdev::size_bytes(lock.file())
        .map_err(|e| Error::io(format!("{}: size", disk.display()), e))?;
    let sector = cephboot_ffi::blockdev::logical_sector_size(lock.file()).map_or(512, u64::from);
    let specs =
        table::plan(size, sector, &requests, uuid::Uuid::new_v4).map_err(|e| Error::Device {
            device: disk.to_path_buf(),
            message: e,
        })?;
    let report = rewrite::write_and_sync(&mut lock, sector, &specs)?;
    if let Some((cmd, args)) = then.split_first() {
        // Still holding the lock: udevd does not re-read the table under the command's feet.
        let status = Command::new(cmd)
            .args(args)
            .status()
            .map_err(|e| Error::io(format!("running {cmd}"), e))?;
        if !status.success() {
            return Err(Error::Command {
                command: then.join(" "),
                status: format!("{status} (run while holding {}'s lock)", disk.display()),
                stderr: String::new(),
            });
        }
    }
    // The kernel's last uevent number before the disk is let go: any partition removed after
    // it was removed by somebody else (udevd re-reading the table), not by this change.
    let seqnum_before_release = std::fs::read_to_string("/sys/kernel/uevent_seqnum")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    println!(
        "{}",
        serde_json::json!({ "sync": report, "seqnum_before_release": seqnum_before_release })
    );
    // Letting go includes handing the disk back to udevd when it runs (disk::lock).
    let started = std::time::Instant::now();
    drop(lock);
    println!(
        "{}",
        serde_json::json!({ "released_in_ms": started.elapsed().as_millis() })
    );
    Ok(())
}
