//! Executing an [`OsdPlan`], in the order that keeps every interruption recoverable:
//!
//! 1. clean up an interrupted earlier run (`osd purge-new` of its never-booted OSD), wipe;
//! 2. write the tables with "being prepared" partition types (the main partition's PARTUUID
//!    is the OSD uuid);
//! 3. make the kernel see them;
//! 4. `osd new` with that uuid and a fresh cephx secret;
//! 5. the OSD directory (bluestore: `block`/`block.db`/`block.wal` links to the partition
//!    nodes; filestore: xfs data mounted, `journal` link);
//! 6. `ceph-osd --mkfs`;
//! 7. CRUSH location under this host;
//! 8. final names (`KOLLA_CEPH_DATA_…`) and Ceph's final type GUIDs, as the last step.
//!
//! Until step 8 the partitions carry a "being prepared" type, so the next run recognises an
//! interrupted preparation by its bytes and cleans it up (including the OSD id it allocated,
//! found by the uuid) before preparing again: never a second OSD for one disk, never an
//! orphan id. A failure after step 4 also purges the id at once.

use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cephboot_ffi::blkid::Probe;
use serde::Serialize;
use uuid::Uuid;

use super::plan::{DiskWrite, OsdPlan};
use crate::ceph::client::CephClient;
use crate::ceph::commands;
use crate::ceph::conf::CephConf;
use crate::disk::guard;
use crate::disk::inventory::Snapshot;
use crate::disk::label::{LabelGrammar, Role, Store};
use crate::disk::lock::LockedDisk;
use crate::disk::rewrite;
use crate::disk::table::{self, PartitionSpec};
use crate::disk::{types, wipe};
use crate::error::{Error, Result};
use crate::exec;

/// What preparation needs besides the plan.
#[derive(Debug)]
pub struct Env<'a> {
    /// The cluster.
    pub client: &'a dyn CephClient,
    /// Its config.
    pub conf: &'a CephConf,
    /// Cluster name.
    pub cluster: &'a str,
    /// The cluster's fsid (guards compare BlueStore labels with it).
    pub fsid: &'a str,
    /// Label grammar.
    pub grammar: &'a LabelGrammar,
    /// CRUSH host bucket.
    pub host: &'a str,
    /// `--wipe` was given: consent to destroy what is on named devices.
    pub wipe: bool,
}

/// One partition of a prepared OSD.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedPartition {
    /// Role.
    pub role: Role,
    /// Node.
    pub path: PathBuf,
    /// PARTUUID.
    pub partuuid: Uuid,
    /// Final name.
    pub name: String,
}

/// The outcome for one OSD.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// OSD id.
    pub osd_id: u32,
    /// OSD uuid (= PARTUUID of the main partition).
    pub osd_uuid: Uuid,
    /// Object store.
    pub store: Store,
    /// Its partitions.
    pub partitions: Vec<PreparedPartition>,
    /// The id of an interrupted earlier preparation that was purged first.
    pub cleaned_up_osd: Option<u32>,
}

/// Exits the process after step `step` when the test hook asks for it (debug builds only).
fn fault_point(step: u32) {
    if cfg!(debug_assertions)
        && std::env::var("CEPHBOOT_FAULT_AFTER_STEP")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            == Some(step)
    {
        eprintln!("cephboot: test fault injected after step {step}");
        std::process::exit(99);
    }
}

/// A partition the OSD uses, as laid out.
struct Placed {
    role: Role,
    disk: PathBuf,
    sector_size: u64,
    number: u32,
    node: PathBuf,
    partuuid: Uuid,
    start: u64,
    size: u64,
}

fn devno_of(f: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let rdev = f.metadata().ok()?.rdev();
    Some(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
}

/// The consent rule for partitions of the main disk that are not this OSD's (plan siblings):
/// one without a signature is still refused without `--wipe` when its first or last MiB holds
/// non-zero bytes; and a partner's table must be one cephboot can edit in place.
fn consent_refusals(plan: &OsdPlan) -> Vec<guard::Refusal> {
    let mut out = Vec::new();
    for s in plan
        .siblings
        .iter()
        .filter(|s| !s.consented && s.holds.is_none())
    {
        if guard::holds_data(&s.disk, s.start_bytes, s.size_bytes) {
            out.push(guard::Refusal {
                device: s.node.clone(),
                reason: "holds data (non-zero bytes, no signature cephboot recognises) and is not labelled for this OSD".into(),
                hint: "pass --wipe to erase it with the disk, or move its data away first".into(),
                force_overrides: false,
            });
        }
    }
    let mut checked: Vec<&Path> = Vec::new();
    for r in &plan.reuse {
        if checked.contains(&r.disk.as_path()) {
            continue;
        }
        checked.push(&r.disk);
        let editable = std::fs::File::open(&r.disk)
            .and_then(|mut f| crate::disk::table::check_editable(&mut f, r.sector_size));
        if let Err(e) = editable {
            out.push(guard::Refusal {
                device: r.node.clone(),
                reason: format!("its disk's partition table cannot be edited safely ({e})"),
                hint: "repair the table first (`sgdisk -e`, or gdisk's `w`), then prepare again"
                    .into(),
                force_overrides: false,
            });
        }
    }
    out
}

fn node_of(disk_name: &str, disk: &Path, number: u32) -> PathBuf {
    disk.parent()
        .unwrap_or(Path::new("/dev"))
        .join(crate::disk::inventory::partition_node_name(
            disk_name, number,
        ))
}

/// Prepares one OSD.
pub fn prepare(env: &Env<'_>, snapshot: &Snapshot, plan: &OsdPlan) -> Result<Prepared> {
    // Guards, for every device this OSD touches, before anything is written.
    let mut refusals = Vec::new();
    for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
        refusals.extend(guard::judge(
            &guard::gather(snapshot, &dw.disk),
            Some(env.fsid),
            env.wipe,
        ));
    }
    for r in &plan.reuse {
        let mut facts = guard::gather(snapshot, &r.disk);
        facts.devices.retain(|d| d.path == r.node);
        facts.openers.retain(|o| o.device == r.node);
        facts.exclusive_failures.retain(|(d, _)| *d == r.node);
        facts.bluestore_labels.retain(|(d, _)| *d == r.node);
        refusals.extend(guard::judge(&facts, Some(env.fsid), env.wipe));
    }
    refusals.extend(consent_refusals(plan));
    if !refusals.is_empty() {
        return Err(rewrite::refusals_to_error(&refusals));
    }

    // 1. Clean up an interrupted run, then wipe.
    let mut cleaned_up_osd = None;
    if let Some(old) = plan.resume_osd_uuid {
        let osds = commands::osds(env.client)?;
        if let Some(o) = osds.iter().find(|o| o.uuid == old.to_string()) {
            if o.ever_up {
                return Err(Error::refused(
                    &plan.main.disk,
                    format!("an interrupted preparation left osd.{} (uuid {old}), and that OSD has run since", o.id),
                    "check it with `ceph osd tree`; remove it with `ceph osd purge` if it is not wanted, then prepare again",
                ));
            }
            tracing::info!(osd = o.id, uuid = %old, "purging the OSD of an interrupted preparation");
            commands::osd_purge_new(env.client, o.id)?;
            cleaned_up_osd = Some(o.id);
        }
    }
    // Every disk this OSD touches is locked, claimed exclusively and checked to be the one
    // judged before the first byte is written: a wipe never happens while another lock of the
    // same OSD cannot be had, or after a device changed hands. A shared disk whose partition
    // is reused is claimed only for that partition (its other partitions may be in use).
    let mut locks: Vec<LockedDisk> = Vec::new();
    for dw in std::iter::once(&plan.main).chain(plan.extra_disks.iter()) {
        locks.push(LockedDisk::open_pinned(
            &dw.disk,
            &dw.name,
            &dw.identity,
            &dw.disk,
            Duration::from_secs(10),
        )?);
    }
    let mut reuse_locks: Vec<LockedDisk> = Vec::new();
    for r in &plan.reuse {
        if !reuse_locks.iter().any(|l| l.path() == r.disk) {
            reuse_locks.push(LockedDisk::open_pinned(
                &r.disk,
                &r.disk_name,
                &r.disk_identity,
                &r.node,
                Duration::from_secs(10),
            )?);
        }
    }
    for (dw, lock) in std::iter::once(&plan.main)
        .chain(plan.extra_disks.iter())
        .zip(locks.iter())
    {
        // The old table stays until step 2 replaces it: a crash in between leaves the
        // disk's bootstrap labels for the next run.
        let zap = wipe::plan(snapshot, &dw.disk)?;
        wipe::execute_keeping_table(&zap, snapshot, lock)?;
    }
    for r in &plan.reuse {
        let lock = reuse_locks
            .iter()
            .find(|l| l.path() == r.disk)
            .ok_or_else(|| Error::Usage("internal: lock missing".into()))?;
        wipe_partition(lock, r.start_bytes, r.size_bytes, &r.node)?;
    }
    fault_point(1);

    // 2 + 3. Tables with "being prepared" types, and the kernel's view of them.
    let osd_uuid = Uuid::new_v4();
    let mut placed: Vec<Placed> = Vec::new();
    let disks: Vec<&DiskWrite> = std::iter::once(&plan.main)
        .chain(plan.extra_disks.iter())
        .collect();
    let mut specs_by_disk: Vec<Vec<PartitionSpec>> = Vec::new();
    for (i, dw) in disks.iter().enumerate() {
        let mut first = i == 0;
        let specs = table::plan(dw.size_bytes, dw.sector_size, &dw.requests(), || {
            if std::mem::take(&mut first) {
                osd_uuid
            } else {
                Uuid::new_v4()
            }
        })
        .map_err(|e| Error::Device {
            device: dw.disk.clone(),
            message: format!("the layout does not fit: {e}"),
        })?;
        let lock = locks
            .get_mut(i)
            .ok_or_else(|| Error::Usage("internal: lock missing".into()))?;
        // The disk GUID records which cluster the disk belongs to (checked by `osd activate`).
        let disk_guid = Uuid::parse_str(env.fsid).unwrap_or_else(|_| Uuid::new_v4());
        table::write(lock.file_mut(), dw.sector_size, disk_guid, &specs).map_err(|e| {
            Error::io(
                format!("{}: writing the partition table", dw.disk.display()),
                e,
            )
        })?;
        for (s, p) in specs.iter().zip(dw.partitions.iter()) {
            placed.push(Placed {
                role: p.role,
                disk: dw.disk.clone(),
                sector_size: dw.sector_size,
                number: s.number,
                node: node_of(&dw.name, &dw.disk, s.number),
                partuuid: s.unique_guid,
                start: s.kernel(dw.sector_size).start,
                size: s.kernel(dw.sector_size).size,
            });
        }
        specs_by_disk.push(specs);
    }
    for r in &plan.reuse {
        let lock = reuse_locks
            .iter_mut()
            .find(|l| l.path() == r.disk)
            .ok_or_else(|| Error::Usage("internal: lock missing".into()))?;
        let label = env.grammar.bootstrap(r.role, plan.group.as_deref());
        table::set_name_and_type(
            lock.file_mut(),
            r.sector_size,
            r.number,
            &label,
            types::preparing_type(r.role),
        )
        .map_err(|e| {
            Error::io(
                format!("{}: retyping partition {}", r.disk.display(), r.number),
                e,
            )
        })?;
        let partuuid = partuuid_of(lock, r.sector_size, r.number)?;
        placed.push(Placed {
            role: r.role,
            disk: r.disk.clone(),
            sector_size: r.sector_size,
            number: r.number,
            node: r.node.clone(),
            partuuid,
            start: r.start_bytes,
            size: r.size_bytes,
        });
    }
    fault_point(2);
    for (lock, (dw, specs)) in locks.iter().zip(disks.iter().zip(specs_by_disk.iter())) {
        let want: Vec<_> = specs.iter().map(|s| s.kernel(dw.sector_size)).collect();
        rewrite::sync_kernel(lock, &want)?;
    }
    for lock in &reuse_locks {
        sync_to_table(lock)?;
    }
    fault_point(3);

    // 4. The OSD id.
    let secret = gen_key()?;
    let osd_id = commands::osd_new(env.client, &osd_uuid.to_string(), &secret)?;
    tracing::info!(osd = osd_id, uuid = %osd_uuid, "allocated");
    fault_point(4);

    // The claims end here: mkfs and ceph-osd open the partitions exclusively themselves. Each
    // partition is re-checked right before it is handed over (finish); the disks stay locked.
    for lock in locks.iter_mut().chain(reuse_locks.iter_mut()) {
        lock.release_claim();
    }

    // 5-8, purging the id again if any of them fails.
    match finish(env, plan, &placed, osd_id, osd_uuid, &secret, &mut locks, &mut reuse_locks) {
        Ok(partitions) => Ok(Prepared { osd_id, osd_uuid, store: plan.store, partitions, cleaned_up_osd }),
        Err(e) => match commands::osd_purge_new(env.client, osd_id) {
            Ok(()) => Err(e),
            Err(rollback) => Err(Error::Device {
                device: plan.main.disk.clone(),
                message: format!("{e}; and removing osd.{osd_id} again failed: {rollback} (the next prepare of this disk cleans it up)"),
            }),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    env: &Env<'_>,
    plan: &OsdPlan,
    placed: &[Placed],
    osd_id: u32,
    osd_uuid: Uuid,
    secret: &str,
    locks: &mut [LockedDisk],
    reuse_locks: &mut [LockedDisk],
) -> Result<Vec<PreparedPartition>> {
    let dir = env.conf.osd_data(env.cluster, osd_id);
    let main = placed
        .first()
        .ok_or_else(|| Error::Usage("internal: no main partition".into()))?;
    let find = |role: Role| placed.iter().find(|p| p.role == role);

    // Hand-over: every partition is still the one written, not mounted, not held.
    for p in placed {
        let disk_devno = locks
            .iter()
            .chain(reuse_locks.iter())
            .find(|l| l.path() == p.disk)
            .and_then(|l| devno_of(l.file()));
        let want = crate::disk::identity::PartitionExpectation {
            node: &p.node,
            disk_devno: disk_devno.as_deref().unwrap_or(""),
            number: p.number,
            start_bytes: p.start,
            size_bytes: p.size,
        };
        crate::disk::identity::check_partition(&want).map_err(|why| {
            Error::refused(
                &p.node,
                why,
                "it changed between the table write and mkfs: nothing more was written; check the device, then prepare again",
            )
        })?;
    }

    // 5. The OSD directory.
    if is_mountpoint(&dir) {
        exec::run(
            "umount",
            &[&dir.display().to_string()],
            None,
            Duration::from_secs(60),
        )?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("clearing {}", dir.display()), e))?;
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let dir_s = dir.display().to_string();
    let mut mkfs_args: Vec<String> = Vec::new();
    match plan.store {
        Store::Bluestore => {
            link(&main.node, &dir.join("block"))?;
            // ceph-osd --mkfs makes the block.db / block.wal links itself from these paths.
            if let Some(db) = find(Role::BluestoreDb) {
                mkfs_args.extend([
                    "--bluestore-block-db-path".into(),
                    db.node.display().to_string(),
                ]);
            }
            if let Some(wal) = find(Role::BluestoreWal) {
                mkfs_args.extend([
                    "--bluestore-block-wal-path".into(),
                    wal.node.display().to_string(),
                ]);
            }
        }
        Store::Filestore => {
            exec::run(
                "mkfs.xfs",
                &["-f", "-q", &main.node.display().to_string()],
                None,
                Duration::from_secs(300),
            )?;
            exec::run(
                "mount",
                &[
                    "-o",
                    "noatime,inode64",
                    &main.node.display().to_string(),
                    &dir_s,
                ],
                None,
                Duration::from_secs(60),
            )?;
            let journal = find(Role::FilestoreJournal)
                .ok_or_else(|| Error::Usage("internal: filestore without a journal".into()))?;
            link(&journal.node, &dir.join("journal"))?;
            write(
                &dir.join("journal_uuid"),
                &format!("{}\n", journal.partuuid),
                0o644,
            )?;
            mkfs_args.extend([
                "--osd-journal".into(),
                dir.join("journal").display().to_string(),
            ]);
        }
    }
    crate::files::write_private(
        &dir.join("keyring"),
        format!("[osd.{osd_id}]\n\tkey = {secret}\n").as_bytes(),
    )?;
    let monmap = dir.join("activate.monmap");
    std::fs::write(&monmap, commands::monmap(env.client)?)
        .map_err(|e| Error::io(format!("writing {}", monmap.display()), e))?;
    fault_point(5);

    // 6. mkfs.
    let conf = env.conf.path.display().to_string();
    let id = osd_id.to_string();
    let uuid = osd_uuid.to_string();
    let store = plan.store.to_string();
    let monmap_s = monmap.display().to_string();
    let mut args: Vec<&str> = vec![
        "--cluster",
        env.cluster,
        "-c",
        &conf,
        "-i",
        &id,
        "--mkfs",
        "--osd-uuid",
        &uuid,
        "--osd-objectstore",
        &store,
        "--osd-data",
        &dir_s,
        "--monmap",
        &monmap_s,
        "--keyfile",
        "-",
    ];
    args.extend(mkfs_args.iter().map(String::as_str));
    let mkfs = exec::run(
        "ceph-osd",
        &args,
        Some(secret.as_bytes()),
        Duration::from_secs(600),
    );
    let _ = std::fs::remove_file(&monmap);
    // The filestore data partition is unmounted whatever mkfs did: activation mounts it,
    // and a mounted partition would make the next prepare see the disk as in use.
    let umounted = if plan.store == Store::Filestore {
        exec::run("umount", &[&dir_s], None, Duration::from_secs(60)).map(|_| ())
    } else {
        Ok(())
    };
    mkfs?;
    umounted?;
    fault_point(6);

    // 7. CRUSH location.
    let weight = (main.size as f64 / (1u64 << 40) as f64).max(0.0001);
    commands::osd_crush_create_or_move(
        env.client,
        osd_id,
        (weight * 10000.0).round() / 10000.0,
        env.host,
    )?;
    fault_point(7);

    // 8. Final names and types, last; the main partition (the OSD's identity, whose
    // "being prepared" type is what the next run looks for) flips after its partners.
    let mut out = Vec::new();
    let partners_then_main = placed
        .iter()
        .filter(|p| !p.role.is_primary())
        .chain(placed.iter().filter(|p| p.role.is_primary()));
    for p in partners_then_main {
        let name = env.grammar.prepared(p.role, osd_id);
        let lock = locks
            .iter_mut()
            .chain(reuse_locks.iter_mut())
            .find(|l| l.path() == p.disk)
            .ok_or_else(|| Error::Usage("internal: lock missing".into()))?;
        table::set_name_and_type(
            lock.file_mut(),
            p.sector_size,
            p.number,
            &name,
            types::final_type(p.role),
        )
        .map_err(|e| {
            Error::io(
                format!("{}: naming partition {}", p.disk.display(), p.number),
                e,
            )
        })?;
        out.push(PreparedPartition {
            role: p.role,
            path: p.node.clone(),
            partuuid: p.partuuid,
            name,
        });
    }
    out.sort_by_key(|p| !p.role.is_primary());
    fault_point(8);
    Ok(out)
}

/// Erases signatures inside a reused partition and its first MiB (old journal or BlueStore
/// label), through the locked disk.
fn wipe_partition(lock: &LockedDisk, start: u64, size: u64, node: &Path) -> Result<()> {
    Probe::with_range(lock.file().as_fd(), start, size)
        .and_then(|mut p| p.wipe_all())
        .map_err(|e| Error::io(format!("erasing signatures on {}", node.display()), e))?;
    let len = size.min(1 << 20);
    lock.file()
        .write_all_at(&vec![0u8; usize::try_from(len).unwrap_or(0)], start)
        .map_err(|e| Error::io(format!("zeroing the start of {}", node.display()), e))?;
    lock.file()
        .sync_all()
        .map_err(|e| Error::io(format!("flushing {}", node.display()), e))
}

fn partuuid_of(lock: &mut LockedDisk, sector_size: u64, number: u32) -> Result<Uuid> {
    let size = cephboot_ffi::blockdev::size_bytes(lock.file())
        .map_err(|e| Error::io(format!("{}: size", lock.path().display()), e))?;
    match crate::disk::gpt::read_gpt(lock.file_mut(), sector_size, size) {
        crate::disk::gpt::GptRead::Found(t) => t
            .entries
            .iter()
            .find(|e| e.number == number)
            .map(|e| e.unique_guid)
            .ok_or_else(|| Error::Device {
                device: lock.path().to_path_buf(),
                message: format!("partition {number} vanished from the table"),
            }),
        _ => Err(Error::Device {
            device: lock.path().to_path_buf(),
            message: "the partition table could not be read back".into(),
        }),
    }
}

/// Makes the kernel's partitions of a locked disk match its on-disk GPT.
pub fn sync_to_table(lock: &LockedDisk) -> Result<()> {
    let ss = cephboot_ffi::blockdev::logical_sector_size(lock.file()).map_or(512, u64::from);
    let size = cephboot_ffi::blockdev::size_bytes(lock.file())
        .map_err(|e| Error::io(format!("{}: size", lock.path().display()), e))?;
    let mut f = lock.file();
    let want: Vec<_> = match crate::disk::gpt::read_gpt(&mut f, ss, size) {
        crate::disk::gpt::GptRead::Found(t) => t
            .entries
            .iter()
            .map(|e| crate::disk::blockops::KernelPartition {
                number: e.number,
                start: e.start_bytes(ss),
                size: e.size_bytes(ss),
            })
            .collect(),
        _ => {
            return Err(Error::Device {
                device: lock.path().to_path_buf(),
                message: "no readable GPT to sync the kernel with".into(),
            })
        }
    };
    rewrite::sync_kernel(lock, &want).map(|_| ())
}

fn gen_key() -> Result<String> {
    let out = exec::run(
        "ceph-authtool",
        &["--gen-print-key"],
        None,
        Duration::from_secs(30),
    )?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if key.is_empty() {
        return Err(Error::Command {
            command: "ceph-authtool --gen-print-key".into(),
            status: "empty output".into(),
            stderr: String::new(),
        });
    }
    Ok(key)
}

/// Points `at` at `target` (replacing whatever link was there).
pub(crate) fn link(target: &Path, at: &Path) -> Result<()> {
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at).map_err(|e| {
        Error::io(
            format!("linking {} -> {}", at.display(), target.display()),
            e,
        )
    })
}

fn write(p: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("setting the mode of {}", p.display()), e))
}

/// Whether `dir` is a mount point (from mountinfo).
pub fn is_mountpoint(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = dir.display().to_string();
    text.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}
