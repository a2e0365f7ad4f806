//! Command-line definitions (clap) and output rendering. `cli` turns arguments into typed
//! requests; the engine never sees clap types.

pub mod cinder;
pub mod cluster;
pub mod daemon;
pub mod disks;
pub mod docs;
pub mod openstack;
pub mod osd;
pub mod osd_apply;
pub mod output;
pub mod pools;

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
/// 5 cluster error, 6 device operation failed, 7 timeout, 8 OpenStack error
/// (docs/exit-codes.md).
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
    /// Ceph configuration file [default: $CEPH_CONF, else /etc/ceph/<cluster>.conf, else
    /// <state-dir>/ceph.conf].
    #[arg(long, global = true)]
    pub conf: Option<PathBuf>,
    /// Ceph entity to authenticate as.
    #[arg(long = "name", global = true, default_value = "client.admin")]
    pub entity: String,
    /// Keyring file [default: what the config says, then Ceph's search path].
    #[arg(long, global = true)]
    pub keyring: Option<PathBuf>,
    /// Where cephboot keeps its state: a bootstrapped cluster, loop-file disks.
    #[arg(
        long,
        global = true,
        env = "CEPHBOOT_STATE_DIR",
        default_value = "/var/lib/cephboot"
    )]
    pub state_dir: PathBuf,
    /// Seconds to wait for the cluster on each call (connect, each command).
    #[arg(long, global = true, default_value_t = 20)]
    pub timeout: u64,
}

impl Global {
    /// The ceph.conf to use.
    pub fn conf_path(&self) -> PathBuf {
        crate::ceph::conf::locate_with_state(self.conf.as_deref(), &self.cluster, &self.state_dir)
    }

    /// Connection options for the Ceph client.
    pub fn connect_options(&self) -> crate::ceph::client::ConnectOptions {
        crate::ceph::client::ConnectOptions {
            cluster: self.cluster.clone(),
            conf: self.conf_path(),
            name: self.entity.clone(),
            keyring: self.keyring.clone(),
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
        }
    }
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Block devices: list them with their state, wipe them.
    #[command(subcommand)]
    Disks(DisksCommand),
    /// A single-node cluster on this host (all-in-one, demo, tests).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// OSDs: prepare disks, activate prepared OSDs, list them.
    #[command(subcommand)]
    Osd(OsdCommand),
    /// OpenStack pools sized for this cluster, with client keyrings.
    #[command(subcommand)]
    Pools(PoolsCommand),
    /// Cinder: volume types that land on the Ceph pools.
    #[command(subcommand)]
    Cinder(CinderCommand),
    /// OpenStack deployers: the files kolla-ansible needs to use this cluster.
    #[command(subcommand)]
    Openstack(OpenstackCommand),
    /// Run the daemon: watch the kernel for disks, prepare and activate labelled disks
    /// (--auto-prepare), and answer a root-only HTTP/JSON API on a Unix socket.
    ///
    /// API (curl --unix-socket SOCKET http://localhost/v1/...): GET /v1/health, /v1/disks,
    /// /v1/osds, /v1/jobs, /v1/jobs/{id}, /v1/events (server-sent events), and
    /// POST /v1/osd/prepare {"device": "/dev/sdX", "wipe": false}. SIGTERM/SIGINT: no new
    /// jobs, running ones finish (bounded), exit 0. Configuration: docs/daemon.md.
    Daemon(DaemonArgs),
    /// Ask the running daemon what it is doing.
    Status(StatusArgs),
    /// Print a shell completion script: `cephboot completions bash >
    /// /usr/share/bash-completion/completions/cephboot` (the Debian package installs them).
    Completions(CompletionsArgs),
    /// Write a man page per command (cephboot.1, cephboot-osd-prepare.1, ...) into DIR.
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

/// `completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `manpages` options.
#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// Where the pages go (created if missing).
    pub dir: PathBuf,
}

/// `daemon` options (they override the --config file).
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// API socket [default: /run/cephboot/cephboot.sock].
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Prepare and activate disks carrying a bootstrap label as they appear.
    #[arg(long)]
    pub auto_prepare: bool,
    /// TOML configuration file (docs/daemon.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Quiet period after a disk's last event before it is read, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub debounce_ms: u64,
}

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's socket.
    #[arg(long, default_value = "/run/cephboot/cephboot.sock")]
    pub socket: PathBuf,
}

/// `cephboot cinder ...`
#[derive(Debug, Subcommand)]
pub enum CinderCommand {
    /// Volume types.
    #[command(subcommand)]
    Type(CinderTypeCommand),
}

/// `cephboot cinder type ...`
#[derive(Debug, Subcommand)]
pub enum CinderTypeCommand {
    /// Create a volume type with volume_backend_name=BACKEND (and any --property), or report
    /// it `unchanged` when it already matches. A type that exists with different specs is
    /// left alone (exit 3) unless --update. --default makes it the project's default type
    /// (Cinder's default-types API, microversion 3.62).
    Ensure(TypeEnsureArgs),
    /// List volume types, marking the project's default.
    List(TypeListArgs),
}

/// OpenStack credentials, as the openstack CLI takes them (flags or OS_* variables), over a
/// clouds.yaml cloud when --os-cloud / OS_CLOUD names one.
#[derive(Debug, Clone, Args)]
pub struct OsArgs {
    /// Cloud in clouds.yaml (./, ~/.config/openstack/, /etc/openstack/; secure.yaml merged).
    #[arg(long, env = "OS_CLOUD")]
    pub os_cloud: Option<String>,
    /// clouds.yaml to read instead of the search path.
    #[arg(long, env = "OS_CLIENT_CONFIG_FILE", hide_env_values = true)]
    pub os_client_config_file: Option<PathBuf>,
    /// password, v3applicationcredential, or none (standalone Cinder in noauth mode).
    #[arg(long, env = "OS_AUTH_TYPE")]
    pub os_auth_type: Option<String>,
    /// Keystone URL.
    #[arg(long, env = "OS_AUTH_URL")]
    pub os_auth_url: Option<String>,
    /// User name.
    #[arg(long, env = "OS_USERNAME")]
    pub os_username: Option<String>,
    /// User id.
    #[arg(long, env = "OS_USER_ID")]
    pub os_user_id: Option<String>,
    /// Password (prefer OS_PASSWORD or clouds.yaml/secure.yaml over the command line).
    #[arg(long, env = "OS_PASSWORD", hide_env_values = true)]
    pub os_password: Option<String>,
    /// User domain name.
    #[arg(long, env = "OS_USER_DOMAIN_NAME")]
    pub os_user_domain_name: Option<String>,
    /// User domain id.
    #[arg(long, env = "OS_USER_DOMAIN_ID")]
    pub os_user_domain_id: Option<String>,
    /// Project name.
    #[arg(long, env = "OS_PROJECT_NAME")]
    pub os_project_name: Option<String>,
    /// Project id.
    #[arg(long, env = "OS_PROJECT_ID")]
    pub os_project_id: Option<String>,
    /// Project domain name.
    #[arg(long, env = "OS_PROJECT_DOMAIN_NAME")]
    pub os_project_domain_name: Option<String>,
    /// Project domain id.
    #[arg(long, env = "OS_PROJECT_DOMAIN_ID")]
    pub os_project_domain_id: Option<String>,
    /// Application credential id.
    #[arg(long, env = "OS_APPLICATION_CREDENTIAL_ID")]
    pub os_application_credential_id: Option<String>,
    /// Application credential name.
    #[arg(long, env = "OS_APPLICATION_CREDENTIAL_NAME")]
    pub os_application_credential_name: Option<String>,
    /// Application credential secret.
    #[arg(long, env = "OS_APPLICATION_CREDENTIAL_SECRET", hide_env_values = true)]
    pub os_application_credential_secret: Option<String>,
    /// Region of the Cinder endpoint (required when the catalog has several).
    #[arg(long, env = "OS_REGION_NAME")]
    pub os_region_name: Option<String>,
    /// Endpoint interface: public, internal or admin [default: public].
    #[arg(long, env = "OS_INTERFACE")]
    pub os_interface: Option<String>,
    /// Cinder v3 endpoint, bypassing the catalog (required with --os-auth-type none), e.g.
    /// http://127.0.0.1:8776/v3.
    #[arg(long, env = "OS_ENDPOINT")]
    pub os_endpoint: Option<String>,
    /// CA bundle for TLS.
    #[arg(long, env = "OS_CACERT")]
    pub os_cacert: Option<PathBuf>,
    /// Skip TLS certificate verification.
    #[arg(long, env = "OS_INSECURE")]
    pub insecure: bool,
}

impl OsArgs {
    /// The settings these flags give (before clouds.yaml is merged).
    pub fn settings(&self) -> crate::openstack::config::Settings {
        use crate::openstack::config::{Secret, Settings};
        Settings {
            cloud: self.os_cloud.clone(),
            auth_type: self.os_auth_type.clone(),
            auth_url: self.os_auth_url.clone(),
            username: self.os_username.clone(),
            user_id: self.os_user_id.clone(),
            password: self.os_password.clone().map(Secret::new),
            user_domain_name: self.os_user_domain_name.clone(),
            user_domain_id: self.os_user_domain_id.clone(),
            project_name: self.os_project_name.clone(),
            project_id: self.os_project_id.clone(),
            project_domain_name: self.os_project_domain_name.clone(),
            project_domain_id: self.os_project_domain_id.clone(),
            application_credential_id: self.os_application_credential_id.clone(),
            application_credential_name: self.os_application_credential_name.clone(),
            application_credential_secret: self
                .os_application_credential_secret
                .clone()
                .map(Secret::new),
            region_name: self.os_region_name.clone(),
            interface: self.os_interface.clone(),
            endpoint: self.os_endpoint.clone(),
            cacert: self.os_cacert.clone(),
            insecure: self.insecure,
        }
    }
}

/// `cinder type ensure` options.
#[derive(Debug, Args)]
pub struct TypeEnsureArgs {
    /// Type name.
    pub name: String,
    /// volume_backend_name: the backend section's `volume_backend_name` in cinder.conf.
    #[arg(long)]
    pub backend: String,
    /// Further extra specs, KEY=VALUE (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Create the type private (visible to granted projects only).
    #[arg(long)]
    pub private: bool,
    /// Make it the default type of the project (microversion 3.62).
    #[arg(long)]
    pub default: bool,
    /// Bring an existing type with different specs in line instead of refusing.
    #[arg(long)]
    pub update: bool,
    /// Report what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub os: OsArgs,
}

/// `cinder type list` options.
#[derive(Debug, Args)]
pub struct TypeListArgs {
    #[command(flatten)]
    pub os: OsArgs,
}

/// `cephboot pools ...`
#[derive(Debug, Subcommand)]
pub enum PoolsCommand {
    /// Size pools for the cluster's shape and create the OpenStack pools and clients.
    ///
    /// Policy (docs/pools.md): one host with one OSD -> size 1 (mon_allow_pool_size_one is
    /// set); one host with k OSDs -> min(3,k) copies across OSDs; two hosts -> 2 across
    /// hosts; three or more -> 3 across hosts, min_size 2. The defaults go into the
    /// monitors' config database so later pools get them too. Existing pools are adjusted,
    /// never recreated; data is never touched. Rerunning after adding hosts or OSDs applies
    /// the policy to the new shape. Clients: client.glance, client.cinder,
    /// client.cinder-backup, client.nova with `profile rbd` caps; keyrings mode 0600.
    Init(PoolsInitArgs),
}

/// `pools init` options.
#[derive(Debug, Args)]
pub struct PoolsInitArgs {
    /// Assert that the cluster is one host (fails if OSDs are on several).
    #[arg(long, conflicts_with = "replicas")]
    pub single_node: bool,
    /// Copies per object, overriding the policy (checked against what the cluster can hold).
    #[arg(long)]
    pub replicas: Option<u32>,
    /// Pools to create or bring to policy.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "images,volumes,backups,vms"
    )]
    pub pools: Vec<String>,
    /// pg_num of new pools (the autoscaler adjusts it where a manager runs).
    #[arg(long, default_value_t = 32)]
    pub pg_num: u32,
    /// Where client keyrings are written [default: the directory of the Ceph config; with
    /// --layout kolla: /etc/kolla/config].
    #[arg(long)]
    pub keyring_dir: Option<PathBuf>,
    /// Keyring file layout: `plain` (<dir>/ceph.client.X.keyring) or `kolla` (the paths of
    /// kolla-ansible's external Ceph guide: glance/, cinder/cinder-volume/, ...).
    #[arg(long, value_enum, default_value = "plain")]
    pub layout: KeyringLayout,
    /// Do not write keyring files (clients are still created).
    #[arg(long)]
    pub no_keyrings: bool,
    /// Mute the POOL_NO_REDUNDANCY health warning that size-1 pools raise.
    #[arg(long)]
    pub mute_size_warning: bool,
    /// Keep the pools on OSDs of this CRUSH device class (`ssd`, say), with a rule of their own
    /// (`replicated_<domain>_<class>`), sized for the OSDs of that class. Moving an existing
    /// pool onto it is reported as the data move it is.
    #[arg(long, value_name = "CLASS", value_parser = parse_device_class)]
    pub device_class: Option<String>,
    /// Lower the size of pools that have more copies than the cluster's shape now gives (a
    /// host or OSDs removed). Without it, `pools init` refuses (exit 3) and changes nothing:
    /// size is never lowered silently.
    #[arg(long)]
    pub allow_shrink: bool,
    /// Report what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also ensure a Cinder volume type NAME with volume_backend_name=BACKEND after the pools
    /// (repeatable), using the OpenStack options below.
    #[arg(long = "volume-type", value_name = "NAME=BACKEND")]
    pub volume_types: Vec<String>,
    /// Make the (first) --volume-type the project's default type.
    #[arg(long)]
    pub default_volume_type: bool,
    #[command(flatten)]
    pub os: OsArgs,
}

/// `cephboot openstack ...`
#[derive(Debug, Subcommand)]
pub enum OpenstackCommand {
    /// Write what kolla-ansible's external-Ceph guide asks for, from the cluster itself.
    ///
    /// Under --kolla-config: per service a minimal ceph.conf (fsid and mon_host from the
    /// monitors, no leading whitespace, which kolla's INI merge cannot take) and the client
    /// keyrings (mode 0600) where kolla looks for them: glance/, cinder/cinder-volume/,
    /// cinder/cinder-backup/ (client.cinder and client.cinder-backup), nova/ (client.nova and
    /// client.cinder), gnocchi/ and manila/ when asked, named ceph.client.USER.keyring
    /// (kolla-ansible up to 2023.1) and CLUSTER.client.USER.keyring (2023.2 and later; the
    /// same name for the cluster `ceph`); magnum.conf with [cinder] default_*_volume_type;
    /// and a globals.d fragment with the *_backend_ceph switches, users, pools and the Cinder
    /// backend. The clients must exist (`pools init` creates them).
    ///
    /// Rerunning is `unchanged`. A file that exists with content cephboot did not write (or
    /// that was edited since: cephboot records what it wrote in .cephboot-export.json) is
    /// never replaced without --force; then nothing is written and the command exits 3.
    Export(ExportArgs),
}

/// `openstack export` options.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// kolla-ansible's node_custom_config directory.
    #[arg(long, value_name = "DIR", default_value = "/etc/kolla/config")]
    pub kolla_config: PathBuf,
    /// Where the globals fragment goes [default: globals.d/cephboot.yml beside DIR, i.e.
    /// /etc/kolla/globals.d/cephboot.yml].
    #[arg(long, value_name = "FILE")]
    pub globals: Option<PathBuf>,
    /// Services to write files for: glance, cinder, nova, magnum, gnocchi, manila.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "glance,cinder,nova,magnum"
    )]
    pub services: Vec<String>,
    /// The Cinder volume type (and its volume_backend_name) that lands on Ceph, as `pools
    /// init --volume-type` made it: Magnum's default types and kolla's Cinder backend name.
    #[arg(long, value_name = "NAME=BACKEND", default_value = "ceph=rbd-1")]
    pub volume_type: String,
    /// Replace files cephboot did not write, or that were edited since it wrote them.
    #[arg(long)]
    pub force: bool,
    /// Report what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Keyring file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyringLayout {
    /// <dir>/ceph.client.NAME.keyring
    Plain,
    /// kolla-ansible's /etc/kolla/config/<service>/... paths
    Kolla,
}

/// `cephboot osd ...`
#[derive(Debug, Subcommand)]
pub enum OsdCommand {
    /// Turn disks into OSDs: wipe, lay out (bluestore: block + optional db/wal; filestore:
    /// xfs data + journal), create the OSD in the cluster, mkfs, place it in CRUSH, and label
    /// the partitions KOLLA_CEPH_DATA_… as the last step.
    ///
    /// A disk is taken when it is named and free, named and labelled for bootstrap, or named
    /// with --wipe (consent to destroy what it holds); --all-bootstrap takes every disk
    /// carrying a bootstrap label. Consent covers every device the plan touches: partners
    /// found by label pass the same guards and --allow-device/--deny-device policy, and a
    /// partition of the disk that is not labelled for this OSD and holds a signature or data
    /// is erased only with --wipe. Each disk is claimed exclusively and checked to be the one
    /// judged right before it is written (exit 3 otherwise). A prepared disk is reported
    /// `unchanged`. An interrupted run is recognised by its "being prepared" partition types
    /// and cleaned up (including the OSD id it allocated) by the next run. Does not start the
    /// OSD: see `osd activate`.
    Prepare(Box<PrepareArgs>),
    /// Start prepared OSDs found on this host's disks (by their labels) and wait until the
    /// cluster sees them up. Where systemd is PID 1, each runs under the unit
    /// `cephboot-osd@<cluster>-<id>.service` (installed and enabled here; it runs `cephboot osd
    /// activate ID --exec`, so it comes back after a reboot or a crash; restart one with
    /// `systemctl restart cephboot-osd@ceph-3`); elsewhere (containers) cephboot rebuilds the
    /// OSD directory and starts ceph-osd with a pidfile. Re-attaches loop-file disks of
    /// --state-dir first. See docs/supervision.md.
    Activate(ActivateArgs),
    /// Prepared OSDs on this host: who made each (ORIGIN: cephboot, kolla, ceph-volume-raw for
    /// a BlueStore label on an unnamed device, ceph-volume-lvm for volumes with ceph-volume's
    /// tags, ceph-disk for a `ceph data` xfs partition; docs/adopt.md), their partitions by role
    /// (block, block.db, block.wal, journal: where each lives), and when the cluster answers,
    /// whether they are up and in, their CRUSH device class, and whether Ceph says stopping
    /// each now is safe.
    List,
    /// Take an OSD out of service: only when Ceph says it is safe (ok-to-stop, then
    /// safe-to-destroy after marking it out, waiting up to --timeout for its data to move),
    /// then stop its daemon, purge it (or with --keep-id destroy it, so that `osd prepare DEV
    /// --osd-id ID` reuses its id and CRUSH position), remove its directory and zap its disks
    /// under the guards of `disks zap`. Its partition on a shared fast disk is given back as
    /// a free slot (kept with --keep-id); anything else on a shared disk is left as it is and
    /// named. Removing a removed OSD is `unchanged`; a refusal changes
    /// nothing (exit 3).
    Remove(RemoveArgs),
    /// Stop an OSD's daemon on this host without taking it out of the cluster: its systemd
    /// unit is stopped (it stays enabled: the next boot, or `osd activate ID`, starts it
    /// again), or the ceph-osd of its pidfile; then it is marked down in the osdmap at once
    /// (Ceph 16's ceph-osd does not tell the monitors on its fast shutdown, and with no peer
    /// up to report it they would wait 15 minutes). What the daemon does when an OSD's disk
    /// is pulled. `unchanged` when it was not running.
    Stop(StopArgs),
    /// Move the start of OSDs another tool set up to cephboot's unit: ceph-volume's
    /// `ceph-volume@lvm-ID-UUID` / `ceph-volume@simple-ID-UUID` units and the package's
    /// `ceph-osd@ID` are disabled as they were enabled (for good, or for this boot only) and
    /// stopped, the OSD is marked down and started by `osd activate ID` under
    /// `cephboot-osd@<cluster>-<id>` (nothing on its devices is rewritten). The units it had are
    /// recorded in <state-dir>/adopted/ first; `--revert` retires cephboot's unit and enables and
    /// starts exactly those again. `unchanged` when cephboot's unit alone starts it. The OSD is
    /// down for its restart (seconds; no data moves). Needs systemd as PID 1. See docs/adopt.md.
    Adopt(AdoptArgs),
    /// Prepare the OSDs a cephadm OSD service specification selects on this host (`service_type:
    /// osd`: `data_devices`, `db_devices`, `wal_devices` with `all`, `paths`, `rotational`,
    /// `size`, `model`, `vendor`, `limit`; `db_slots`, `block_db_size`, `crush_device_class`,
    /// `filter_logic`, `placement`, `unmanaged`; several documents in one file take disjoint
    /// disks). Each OSD goes through `osd prepare` with its guards and consent: a disk that
    /// holds anything is never taken (zap it first). `--dry-run` shows cephadm's preview (one
    /// row per OSD: HOST, DATA, DB, WAL) and then every disk the spec did not take with the
    /// reason: the filter that failed and the disk's value, a limit reached, taken by an
    /// earlier spec, in use. A rerun is `unchanged`. See docs/spec.md.
    Apply(ApplyArgs),
    /// Rebuild FileStore OSDs of this host as BlueStore, one at a time, each keeping its id,
    /// CRUSH host and device class (FileStore is gone from Reef on; an OSD cannot be converted
    /// in place). Refused up front, nothing changed (exit 3), when a pool keeps one copy, when
    /// the cluster could not keep a pool's copies without one of the OSDs, when it is not
    /// HEALTH_OK or a PG is not active+clean. For each OSD: `osd remove --keep-id` (out, wait
    /// until its data is safe elsewhere, stop, destroy, zap), its external journal partition
    /// reused in place as the new block.db, `osd prepare --store bluestore --osd-id ID` on
    /// the same data disk, `osd activate ID`, every PG active+clean, then the next. A rerun
    /// after a crash or a power cut finishes the OSD it was on (`<state-dir>/convert/`).
    /// See docs/adopt.md.
    Convert(ConvertArgs),
    /// Recovery keys of encrypted OSDs: `export`, `verify`.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `osd adopt` options.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The OSD ids (this cluster's, found on this host's devices).
    pub ids: Vec<u32>,
    /// Every OSD of this cluster on this host.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// Give the OSDs back to the units they had before their adoption.
    #[arg(long)]
    pub revert: bool,
    /// Say which units would be disabled (or with --revert, enabled again); change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `osd convert` options.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The store to convert to.
    #[arg(long, value_enum)]
    pub to: ConvertTo,
    /// The OSD ids to convert (FileStore OSDs of this cluster on this host).
    pub ids: Vec<u32>,
    /// Every FileStore OSD of this cluster on this host.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// Seconds to wait for each of Ceph's answers: that the OSD may stop, that its data has
    /// moved, that every PG is active+clean again after its rebuild.
    #[arg(long, default_value_t = 600)]
    pub wait: u64,
    /// Print the order and what each step will do; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What `osd convert` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    /// BlueStore.
    Bluestore,
}

/// `osd apply` options.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The spec file (YAML; one or several `service_type: osd` documents).
    pub spec: PathBuf,
    /// Show what would be made, and why each other disk is not taken; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A label of this host, for specs placed by `label:` (repeatable).
    #[arg(long, value_name = "LABEL")]
    pub host_label: Vec<String>,
    /// The name placement matches (`host_pattern`, `hosts`) [default: the short hostname].
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// The new OSDs' CRUSH location: `host=NAME` (as `osd prepare`).
    #[arg(long, value_name = "host=NAME", value_parser = parse_crush_location)]
    pub crush_location: Option<String>,
    /// Consider only devices matching PATTERN (`*`, `?`; kernel name or /dev path;
    /// repeatable): the others are listed as not taken, and the engine applies the same
    /// policy to every device it touches (as `osd prepare --allow-device`).
    #[arg(long, value_name = "PATTERN")]
    pub allow_device: Vec<String>,
    /// Never consider devices matching PATTERN (repeatable; wins over --allow-device).
    #[arg(long, value_name = "PATTERN")]
    pub deny_device: Vec<String>,
    /// Make new OSDs only on these data devices (kernel names; repeatable), fast devices
    /// still chosen by the spec: what the daemon runs for a disk that appeared.
    #[arg(long, value_name = "NAME")]
    pub data_device: Vec<String>,
    /// Leave blank disks whose OSD the operator removed (`osd remove` records them): what the
    /// daemon runs. Without it such a disk is taken and its record forgotten.
    #[arg(long)]
    pub skip_removed: bool,
    /// Override what a device reports, for hardware that lies (a RAID controller's SSD shown
    /// as rotational): `GLOB:rotational=0|1[,crush_device_class=CLASS]`, GLOB on the kernel
    /// name or /dev path (repeatable; after the spec's own `cephboot.overrides`, so these
    /// win). The daemon passes its config's `overrides` this way.
    #[arg(long = "override", value_name = "GLOB:KEY=VALUE", value_parser = crate::spec::parse::parse_override_arg)]
    pub overrides: Vec<crate::spec::parse::Override>,
}

/// `osd stop` options.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The OSD.
    pub id: u32,
}

/// `host=NAME` (NAME: letters, digits, `-`, `_`, `.`): the CRUSH host bucket.
pub fn parse_crush_location(s: &str) -> std::result::Result<String, String> {
    let name = s.strip_prefix("host=").ok_or_else(|| {
        format!("{s:?}: give the location as host=NAME (only the host level is set by cephboot)")
    })?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a CRUSH bucket name: use letters, digits, '-', '_' or '.'"
        ))
    }
}

/// A CRUSH device class: 1 to 32 of `a-z`, `0-9`, `_`, `-`.
pub fn parse_device_class(s: &str) -> std::result::Result<String, String> {
    let ok = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a device class: use 1 to 32 of a-z, 0-9, _ and -"
        ))
    }
}

/// `osd remove` options.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The OSD id.
    pub id: u32,
    /// Destroy instead of purge: keep the id and CRUSH position for a replacement disk.
    #[arg(long)]
    pub keep_id: bool,
    /// Remove it even when Ceph says stopping or destroying it is not safe: data whose only
    /// copies are on it is lost.
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for Ceph's yes: that stopping it is safe, then (once it is marked out)
    /// that its data has moved elsewhere.
    #[arg(long, default_value_t = 300)]
    pub wait: u64,
    /// Report what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `osd prepare` options.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Disks: /dev/sdb, sdb, /dev/disk/by-id/..., or loop:SIZE (a sparse file under
    /// <state-dir>/loops attached as a loop device; the Nth loop:SIZE of a command line is
    /// always the same file, so a rerun finds it again).
    pub devices: Vec<String>,
    /// Also every disk carrying a bootstrap label (KOLLA_CEPH_OSD_BOOTSTRAP...).
    #[arg(long)]
    pub all_bootstrap: bool,
    /// Object store for unlabelled disks [default: bluestore]; labelled disks must agree.
    #[arg(long, value_enum)]
    pub store: Option<StoreArg>,
    /// External filestore journal: a partition (used in place) or a free disk.
    #[arg(long, value_name = "DEV")]
    pub journal: Option<std::path::PathBuf>,
    /// External bluestore block.db: a partition (used in place), a free disk, or a fast disk
    /// shared by several OSDs in slots (see --db-slots): a disk cephboot already divided gives
    /// each new OSD its next free slot.
    #[arg(long, value_name = "DEV")]
    pub db: Option<std::path::PathBuf>,
    /// Divide the --db disk into N equal slots, one block.db per OSD of this and later runs;
    /// slots not taken stay unpartitioned. A run that needs more slots than are free is
    /// refused before anything is written. Try it with --dry-run: the plan shows each OSD's
    /// slot and how many stay free.
    #[arg(long, value_name = "N", requires = "db", conflicts_with = "db_size")]
    pub db_slots: Option<u32>,
    /// Like --db-slots, with slots of this size (e.g. 30G) instead of a count.
    #[arg(
        long,
        value_name = "SIZE",
        requires = "db",
        visible_alias = "db-slot-size"
    )]
    pub db_size: Option<String>,
    /// External bluestore block.wal: a partition or a free disk (may be the --db disk), or a
    /// whole disk shared by several OSDs in slots (see --wal-slots): a disk cephboot already
    /// divided gives each new OSD its next free slot.
    #[arg(long, value_name = "DEV")]
    pub wal: Option<std::path::PathBuf>,
    /// Divide the --wal disk into N equal slots, one block.wal per OSD of this and later runs
    /// (the same rules as --db-slots). For a WAL on a faster disk than the DB's; with one
    /// fast disk for both, use --db and --db-slots alone: BlueStore keeps the WAL on the db.
    #[arg(
        long,
        value_name = "N",
        requires = "wal",
        conflicts_with = "wal_slot_size"
    )]
    pub wal_slots: Option<u32>,
    /// Like --wal-slots, with slots of this size (e.g. 2G) instead of a count (--wal-size is
    /// the WAL beside a db on one whole disk).
    #[arg(long, value_name = "SIZE", requires = "wal")]
    pub wal_slot_size: Option<String>,
    /// Consent to destroy what the OSD's devices hold: a filesystem, a table, LVM, another
    /// cluster's OSD on a named device or partner, and partitions of a labelled disk that are
    /// not labelled for this OSD (without it they are refused, named with what they hold).
    #[arg(long)]
    pub wipe: bool,
    /// Encrypt the OSD (BlueStore): its block, block.db and block.wal each a LUKS2 device
    /// opened under one key, in ceph-volume's format (the key in the monitors' config-key
    /// store, read by the OSD's lockbox entity at each start). See docs/encryption.md.
    #[arg(long)]
    pub encrypt: bool,
    /// With --encrypt: also enroll a TPM 2.0 keyslot on each of the OSD's devices
    /// (systemd-cryptenroll), so that it opens at boot with the monitors unreachable; the
    /// monitors' key stays beside it. Refused before anything is written on a host without a
    /// TPM 2.0 (/dev/tpmrm0).
    #[arg(long, requires = "encrypt")]
    pub tpm2: bool,
    /// The PCRs the TPM2 keyslot is bound to, `+`-separated. 7 (the Secure Boot state) does
    /// not change with a kernel or initramfs update; adding others can lock the OSD out of
    /// its TPM keyslot after an update (it then opens with the monitors' key).
    #[arg(long, value_name = "PCRS", default_value = "7", requires = "tpm2")]
    pub tpm2_pcrs: String,
    /// Prepare at most N OSDs at once [default: four per core, 4 to 16]. Disks are prepared
    /// side by side (`ceph-osd --mkfs` is the long part, and mostly waits on BlueStore's syncs
    /// and the monitors' commits rather than using a core); OSDs whose devices share a disk (block.db
    /// slots on one fast device) are prepared one after another whatever N is. The report
    /// keeps the order the disks were given in.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Touch only devices matching PATTERN (`*`, `?`; kernel name or /dev path; repeatable).
    /// Applies to every device the plan touches: the disk, its partners found by label and
    /// their disks (a partition follows its disk; a pattern naming one partition allows just
    /// it). The daemon passes its `allow` list here.
    #[arg(long, value_name = "PATTERN")]
    pub allow_device: Vec<String>,
    /// Never touch devices matching PATTERN (repeatable; wins over --allow-device). The
    /// daemon passes its `deny` list here.
    #[arg(long, value_name = "PATTERN")]
    pub deny_device: Vec<String>,
    /// Size of a journal on the data disk (filestore).
    #[arg(long, default_value = "5G")]
    pub journal_size: String,
    /// Size of block.wal when it shares a disk with block.db.
    #[arg(long, default_value = "1G")]
    pub wal_size: String,
    /// Take the id (and CRUSH position) of this destroyed OSD (`osd remove ID --keep-id`):
    /// the replacement of a failed disk. One disk only.
    #[arg(long, value_name = "ID")]
    pub osd_id: Option<u32>,
    /// CRUSH device class of the new OSD (`hdd`, `ssd`, `nvme`, or a class of your own),
    /// instead of the one sysfs suggests (`nvme` for NVMe, `ssd` when not rotational, else
    /// `hdd`). Pools follow a class with `pools init --device-class`.
    #[arg(long, value_name = "CLASS", value_parser = parse_device_class)]
    pub device_class: Option<String>,
    /// The new OSDs' CRUSH location: `host=NAME` puts them under host bucket NAME instead of
    /// the one named after this host's short hostname.
    #[arg(long, value_name = "host=NAME", value_parser = parse_crush_location)]
    pub crush_location: Option<String>,
    /// Hand the disks to the running daemon (a job each) instead of preparing here.
    #[arg(long)]
    pub via_daemon: bool,
    /// The daemon's socket (with --via-daemon).
    #[arg(long, default_value = "/run/cephboot/cephboot.sock")]
    pub socket: PathBuf,
}

/// Object store choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    /// BlueStore.
    Bluestore,
    /// FileStore: Ceph 16 (Pacific) and 17 (Quincy) only; on a cluster of 18 (Reef) or later
    /// it is refused before anything is written.
    Filestore,
}

/// `osd activate` options.
#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// Every prepared OSD on this host.
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Only this OSD.
    pub id: Option<u32>,
    /// Run ceph-osd in the foreground in place of this process (container entrypoint, and
    /// what the systemd unit of each OSD runs).
    #[arg(long, conflicts_with = "dry_run")]
    pub exec: bool,
    /// Report which OSDs would be started (`would_start`); start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --all, on a systemd host: leave an OSD whose cephboot unit is installed but not
    /// running as it is (`skipped`): someone stopped it (`osd stop`, `systemctl stop`) or it
    /// failed, and systemd starts it at the next boot. The cephboot daemon's own start uses
    /// this, so restarting the daemon never undoes an operator's stop.
    #[arg(long, requires = "all")]
    pub keep_stopped: bool,
    /// Open an encrypted OSD with this recovery key file (`osd key export`) instead of the key
    /// the monitors keep (lost with them, or deleted). Its devices are opened here, before
    /// its unit starts it.
    #[arg(long, value_name = "FILE", requires = "id")]
    pub recovery_key: Option<std::path::PathBuf>,
}

/// `cephboot osd key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new recovery key of an encrypted OSD to FILE (mode 0600; an existing file is
    /// never overwritten) and add it as its own LUKS keyslot on every device of the OSD,
    /// authorised by the key the monitors keep; then prove it opens each. Keep the file away
    /// from the cluster: with the monitors' key store lost, `osd activate ID --recovery-key
    /// FILE` opens the OSD with it. See docs/encryption.md.
    Export(KeyExportArgs),
    /// Prove that FILE opens every device of an encrypted OSD, mapping nothing (cryptsetup
    /// --test-passphrase); a device it does not open is named and the command fails (exit 3).
    Verify(KeyVerifyArgs),
    /// Enroll a TPM 2.0 keyslot (systemd-cryptenroll, authorised by the key the monitors
    /// keep) on every device of an encrypted OSD that has none, so that it opens at boot with
    /// the monitors unreachable; then prove the TPM opens each (cryptsetup --test-passphrase
    /// through the token). A device already enrolled is left as it is. See
    /// docs/encryption.md.
    Tpm2(KeyTpm2Args),
}

/// `osd key tpm2` options.
#[derive(Debug, Args)]
pub struct KeyTpm2Args {
    /// The OSD id.
    pub id: u32,
    /// The PCRs the keyslot is bound to, `+`-separated (7: the Secure Boot state, unchanged
    /// by a kernel or initramfs update).
    #[arg(long, value_name = "PCRS", default_value = "7")]
    pub pcrs: String,
}

/// `osd key export` options.
#[derive(Debug, Args)]
pub struct KeyExportArgs {
    /// The OSD id.
    pub id: u32,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
}

/// `osd key verify` options.
#[derive(Debug, Args)]
pub struct KeyVerifyArgs {
    /// The OSD id.
    pub id: u32,
    /// The recovery key file.
    pub file: std::path::PathBuf,
}

/// `cephboot cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a monitor and a manager with every file under --state-dir (ceph.conf, admin and
    /// bootstrap-osd keyrings, data, pidfiles, logs), and wait for quorum and an available
    /// manager: on 127.0.0.1 (--single-node), or on --mon-ip as the first host of a cluster
    /// other hosts join (`cluster join`). A rerun reports `unchanged`, or starts what stopped.
    Bootstrap(BootstrapArgs),
    /// Write what a new host needs to join this cluster (fsid, monitor addresses, monmap, the
    /// mon., admin and bootstrap-osd keyrings) to one file, readable by root only. Copy it to
    /// the new host yourself and remove it afterwards: it holds the cluster's admin key.
    JoinBundle(JoinBundleArgs),
    /// Join this host to a cluster: a monitor on --mon-ip made from the bundle's monmap and
    /// keys (nothing is guessed or discovered), waited for until it is in the quorum, and a
    /// manager; both named after this host. A rerun starts what stopped.
    Join(JoinArgs),
    /// Stop every daemon of the --state-dir cluster (OSDs, manager, monitor) by pidfile.
    Stop,
}

/// `cluster bootstrap` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("where").required(true).args(["single_node", "mon_ip"])))]
pub struct BootstrapArgs {
    /// A one-host cluster on 127.0.0.1 (mon.a, mgr.x).
    #[arg(long)]
    pub single_node: bool,
    /// The first host of a cluster: its monitor on this address (port 3300 unless --port),
    /// monitor and manager named after the host.
    #[arg(long, value_name = "ADDR")]
    pub mon_ip: Option<std::net::IpAddr>,
    /// Monitor port (msgr2) [default: 3300 with --mon-ip, else a free port].
    #[arg(long)]
    pub port: Option<u16>,
    /// Report what would be created or started (`would_create`, `would_start`, `unchanged`)
    /// and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `cluster join-bundle` options.
#[derive(Debug, Args)]
pub struct JoinBundleArgs {
    /// The file to write (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `cluster join` options.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The file `cluster join-bundle` wrote on a host of the cluster.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// This host's monitor address (port 3300).
    #[arg(long, value_name = "ADDR")]
    pub mon_ip: std::net::IpAddr,
    /// Read and check the bundle, report what would be created or started, change nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    /// Right before each disk is written it is claimed exclusively and checked to be the one
    /// judged (device number, size, disk sequence number, serial or loop backing file, GPT
    /// disk GUID): a disk that changed hands or got mounted meanwhile is refused (exit 3),
    /// nothing written. Afterwards the disk is probed again and the command fails if
    /// anything is left. On a systemd host the cephboot units of this cluster's OSDs that had
    /// a partition on a wiped disk (found by their labels before the wipe; a stopped OSD's,
    /// since a running one keeps its disk busy) are then stopped, disabled and forgotten, as
    /// `osd remove` does: the OSD stays in the cluster's map until `osd remove` or `ceph osd
    /// purge`, but nothing tries to start it again.
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

#[cfg(test)]
mod tests {
    use super::parse_crush_location;

    #[test]
    fn a_crush_location_is_a_host_bucket_name() {
        assert_eq!(
            parse_crush_location("host=rack1-h2.a"),
            Ok("rack1-h2.a".into())
        );
        for bad in ["rack=r1", "host=", "host=a b", "host=ü", "h1"] {
            assert!(parse_crush_location(bad).is_err(), "{bad}");
        }
    }
}
