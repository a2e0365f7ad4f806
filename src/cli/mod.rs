//! Command-line definitions (clap) and output rendering. `cli` turns arguments into typed
//! requests; the engine never sees clap types.

pub mod disks;
pub mod output;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One line of JSON.
    Json,
    /// Indented JSON.
    JsonPretty,
}

/// cephboot: turns raw disks into running Ceph OSDs and wires the result into OpenStack.
///
/// Machine output goes to stdout, logs and progress to stderr. Exit codes are stable:
/// 0 ok, 1 failure, 2 usage, 3 refused by a safety guard (nothing written), 4 not found,
/// 5 cluster error, 6 device operation failed, 7 timeout (docs/exit-codes.md).
#[derive(Debug, Parser)]
#[command(
    name = "cephboot",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Bootstrap label prefix (Kolla's is KOLLA_CEPH).
    #[arg(
        long,
        global = true,
        env = "CEPHBOOT_LABEL_PREFIX",
        default_value = "KOLLA_CEPH"
    )]
    pub label_prefix: String,
    /// Ceph cluster name (selects /etc/ceph/<cluster>.conf).
    #[arg(long, global = true, default_value = "ceph")]
    pub cluster: String,
    /// Ceph configuration file [default: $CEPH_CONF, else /etc/ceph/<cluster>.conf].
    #[arg(long, global = true)]
    pub conf: Option<PathBuf>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Block devices: list them with their state, wipe them.
    #[command(subcommand)]
    Disks(DisksCommand),
}

/// `cephboot disks ...`
#[derive(Debug, Subcommand)]
pub enum DisksCommand {
    /// List every block device with its state (free, bootstrap, prepared, in_use, foreign,
    /// error), its role in an OSD, its decoded labels and the reasons for its state.
    ///
    /// Reads partition tables and signatures from the devices themselves: works without
    /// udev and finds partitions the kernel has not been told about yet. Read-only.
    List(ListArgs),
    /// Wipe disks: every signature libblkid finds on the disk and its partitions (filesystems,
    /// RAID, LVM, crypto, partition tables incl. the protective MBR), the primary and backup
    /// GPT areas, BlueStore labels at 0/1/10/100/1000 GiB, and the kernel's partitions.
    ///
    /// Every safety guard is checked for every named disk before the first byte is written:
    /// mounted, held by dm/md/LVM, swap, the system disk, open by a process (named), in use
    /// by a ceph-osd, read-only, or a BlueStore OSD of another cluster (needs --force).
    /// Afterwards the disk is probed again and the command fails if anything is left.
    Zap(ZapArgs),
}

/// `disks zap` options.
#[derive(Debug, Args)]
pub struct ZapArgs {
    /// Whole disks to wipe (/dev/sdb, sdb, /dev/disk/by-id/...).
    #[arg(required = true)]
    pub devices: Vec<PathBuf>,
    /// Also wipe a BlueStore OSD that belongs to another (or an unknown) cluster.
    #[arg(long)]
    pub force: bool,
    /// Print what would be removed and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `disks list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Also show zero-size devices, ram and optical drives.
    #[arg(long)]
    pub all: bool,
    /// Only these disks (e.g. /dev/sdb or sdb).
    pub devices: Vec<PathBuf>,
}
