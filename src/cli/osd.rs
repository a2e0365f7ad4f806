//! `cephboot osd prepare | activate | list`.

use std::time::Duration;

use super::output::{print_json, table};
use super::{
    ActivateArgs, AdoptArgs, ConvertArgs, Format, Global, PrepareArgs, RemoveArgs, StoreArg,
};
use crate::disk::label::{LabelGrammar, Store};
use crate::error::{Error, Result};
use crate::osd::batch::{self, Action};
use crate::osd::plan::PrepareRequest;
use crate::osd::slots::SlotSize;
use crate::osd::{activate, remove, target};

/// The table rendering of an `osd prepare` report.
fn print_prepare_table(report: &batch::PrepareReport) {
    for i in &report.osds {
        match (&i.prepared, &i.plan, &i.reason) {
            (Some(p), _, _) => {
                crate::outln!(
                    "{}: created osd.{} ({}, uuid {})",
                    i.device,
                    p.osd_id,
                    p.store,
                    p.osd_uuid
                );
                for part in &p.partitions {
                    crate::outln!(
                        "  {} {} {}",
                        part.path.display(),
                        part.role.as_str(),
                        part.name
                    );
                }
            }
            (_, Some(pl), _) => {
                crate::outln!(
                    "{}: would create a {} OSD (dry run, nothing written)",
                    i.device,
                    pl.store
                );
                if let Some(u) = pl.resume_osd_uuid {
                    crate::outln!("  clean up the interrupted preparation of OSD uuid {u} first");
                }
                for dw in std::iter::once(&pl.main).chain(pl.extra_disks.iter()) {
                    crate::outln!("  wipe {} and write a new GPT:", dw.disk.display());
                    for p in &dw.partitions {
                        let size = p
                            .size_bytes
                            .map_or("rest of disk".to_string(), super::output::human_size);
                        crate::outln!(
                            "    partition {} {} ({size}) labelled {}",
                            p.number,
                            p.role.as_str(),
                            p.label
                        );
                    }
                }
                for r in &pl.reuse {
                    if r.new_entry {
                        crate::outln!(
                            "  add partition {} ({}) to {} as {}, its other partitions kept",
                            r.number,
                            super::output::human_size(r.size_bytes),
                            r.disk.display(),
                            r.role.as_str()
                        );
                    } else {
                        crate::outln!(
                            "  reuse {} as {} (wiped)",
                            r.node.display(),
                            r.role.as_str()
                        );
                    }
                }
                for (what, slot) in [("db", &pl.db_slot), ("wal", &pl.wal_slot)] {
                    if let Some(s) = slot {
                        crate::outln!(
                            "  {what} slot {} of {}{}: {} slot(s) free after it",
                            s.number,
                            s.disk.display(),
                            if s.reused { " (taken again)" } else { "" },
                            s.free_after
                        );
                    }
                }
                for sib in &pl.siblings {
                    crate::outln!(
                        "  erase {} with its disk: {}{}",
                        sib.node.display(),
                        sib.holds
                            .as_deref()
                            .unwrap_or("no signature (refused at write time if it holds data)"),
                        if sib.consented { " (--wipe)" } else { "" }
                    );
                }
            }
            (_, _, reason) => crate::outln!(
                "{}: {}{}{}",
                i.device,
                Action::as_str(i.action),
                i.osd_id
                    .map(|id| format!(" (osd.{id})"))
                    .unwrap_or_default(),
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// Runs `osd prepare`.
pub fn prepare(args: &PrepareArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    if args.devices.is_empty() && !args.all_bootstrap {
        return Err(Error::Usage(
            "name the disks to prepare, or pass --all-bootstrap".into(),
        ));
    }
    let name_of = |p: &Option<std::path::PathBuf>| -> Result<Option<String>> {
        p.as_deref()
            .map(|p| target::kernel_name_of(p).map(|(_, n)| n))
            .transpose()
    };
    if args.osd_id.is_some() && (args.devices.len() != 1 || args.all_bootstrap) {
        return Err(Error::Usage(
            "--osd-id gives one destroyed id to one new OSD: name exactly one disk".into(),
        ));
    }
    let targets = target::resolve(&args.devices, &global.state_dir, args.dry_run)?;
    let req = PrepareRequest {
        disks: targets.iter().map(|t| t.name.clone()).collect(),
        all_bootstrap: args.all_bootstrap,
        store: args.store.map(|s| match s {
            StoreArg::Bluestore => Store::Bluestore,
            StoreArg::Filestore => Store::Filestore,
        }),
        journal: name_of(&args.journal)?,
        db: name_of(&args.db)?,
        wal: name_of(&args.wal)?,
        wipe: args.wipe,
        policy: crate::disk::policy::DevicePolicy {
            allow: args.allow_device.clone(),
            deny: args.deny_device.clone(),
        },
        journal_size: target::parse_size(&args.journal_size)?,
        wal_size: target::parse_size(&args.wal_size)?,
        osd_id: args.osd_id,
        device_class: args.device_class.clone(),
        db_slots: match (args.db_slots, &args.db_size) {
            (Some(n), _) => Some(SlotSize::Count(n)),
            (None, Some(size)) => Some(SlotSize::Bytes(target::parse_size(size)?)),
            (None, None) => None,
        },
        wal_slots: match (args.wal_slots, &args.wal_slot_size) {
            (Some(n), _) => Some(SlotSize::Count(n)),
            (None, Some(size)) => Some(SlotSize::Bytes(target::parse_size(size)?)),
            (None, None) => None,
        },
        crush_host: args.crush_location.clone(),
        encrypt: args.encrypt,
        tpm2_pcrs: args.tpm2.then(|| args.tpm2_pcrs.clone()),
        jobs: args.jobs.map(usize::from),
    };
    let mut report =
        batch::prepare_on_host(&req, grammar, &global.connect_options(), args.dry_run)?;
    for i in &report.osds {
        match (i.action, &i.error) {
            (Action::Refused, Some(e)) => crate::errln!("cephboot: {e}"),
            (Action::Failed, Some(e)) => crate::errln!("cephboot: {}: {e}", i.device),
            _ => {}
        }
    }
    let first_error = report.first_error();
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else {
        print_prepare_table(&report);
    }
    match first_error {
        Some(e) => Err(Error::AlreadyReported(Box::new(e))),
        None => Ok(()),
    }
}

/// Runs `osd activate`.
pub fn activate(args: &ActivateArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    if !args.all && args.id.is_none() {
        return Err(Error::Usage("name an OSD id or pass --all".into()));
    }
    let req = activate::ActivateRequest {
        id: args.id,
        exec: args.exec,
        dry_run: args.dry_run,
        keep_stopped: args.keep_stopped,
        wait_up: Duration::from_secs(global.timeout.max(60)),
        recovery_key: args.recovery_key.clone(),
    };
    let report =
        activate::activate_on_host(&req, grammar, &global.connect_options(), &global.state_dir)?;
    let failed = report.first_error();
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else if report.osds.is_empty() {
        crate::outln!("no prepared OSD on this host's disks");
    } else {
        for r in &report.osds {
            crate::outln!(
                "osd.{}: {}{}",
                r.osd_id,
                r.action,
                r.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
    match failed {
        Some(e) => Err(Error::AlreadyReported(Box::new(e))),
        None => Ok(()),
    }
}

/// Runs `osd list`.
pub fn list(global: &Global, grammar: &LabelGrammar) -> Result<()> {
    let items = activate::list_on_host(grammar, &global.connect_options());
    if global.format != Format::Table {
        print_json(global.format, &serde_json::json!({ "osds": items }));
        return Ok(());
    }
    let yn = |b: Option<bool>| b.map_or("?", |b| if b { "yes" } else { "no" }).to_string();
    let other = |i: &activate::ListedOsd, v: String| match &i.other_cluster {
        Some(fsid) => format!("other cluster {fsid}"),
        None => v,
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let parts = i
                .osd
                .partitions
                .iter()
                .map(|(r, p)| format!("{r}={}", p.display()))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                format!("osd.{}", i.osd.osd_id),
                i.host.clone(),
                i.osd.origin.as_str().to_string(),
                if i.osd.encrypted {
                    format!("{} (encrypted)", i.osd.store)
                } else {
                    i.osd.store.to_string()
                },
                i.device_class.clone().unwrap_or_else(|| "-".into()),
                other(i, yn(i.up)),
                yn(i.is_in),
                yn(i.ok_to_stop),
                i.unit
                    .clone()
                    .or_else(|| i.supervisor.map(|s| s.as_str().to_string()))
                    .unwrap_or_else(|| "-".into()),
                parts,
            ]
        })
        .collect();
    crate::out!(
        "{}",
        table(
            &[
                "OSD",
                "HOST",
                "ORIGIN",
                "STORE",
                "CLASS",
                "UP",
                "IN",
                "OK TO STOP",
                "SUPERVISOR",
                "PARTITIONS"
            ],
            &rows
        )
    );
    Ok(())
}

/// `cephboot osd stop ID`.
pub fn stop(args: &super::StopArgs, global: &Global) -> Result<()> {
    let action = activate::stop_on_host(args.id, &global.connect_options())?;
    if global.format != Format::Table {
        print_json(
            global.format,
            &serde_json::json!({"osd_id": args.id, "action": action, "changed": action.changed()}),
        );
    } else {
        crate::outln!("osd.{}: {}", args.id, action.as_str());
    }
    Ok(())
}

/// `cephboot osd adopt ID...|--all [--revert] [--dry-run]`.
pub fn adopt(args: &AdoptArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    if !args.all && args.ids.is_empty() {
        return Err(Error::Usage("name OSD ids or pass --all".into()));
    }
    let req = crate::osd::adopt::AdoptRequest {
        ids: args.ids.clone(),
        all: args.all,
        dry_run: args.dry_run,
        revert: args.revert,
        wait_up: Duration::from_secs(global.timeout.max(60)),
    };
    let report = crate::osd::adopt::adopt_on_host(
        &req,
        grammar,
        &global.connect_options(),
        &global.state_dir,
    )?;
    let failed = report
        .osds
        .iter()
        .find(|o| o.action == Action::Failed)
        .map(|o| Error::Device {
            device: format!("osd.{}", o.osd_id).into(),
            message: o.error.clone().unwrap_or_default(),
        });
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else if report.osds.is_empty() {
        crate::outln!("no OSD of this cluster on this host's devices");
    } else {
        for o in &report.osds {
            let units = if o.units.is_empty() {
                String::new()
            } else if args.revert {
                format!(" (back to {})", o.units.join(", "))
            } else {
                format!(" (from {} to {})", o.units.join(", "), o.unit)
            };
            let err = o
                .error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            crate::outln!("osd.{} ({}): {}{units}{err}", o.osd_id, o.origin, o.action);
        }
    }
    match failed {
        Some(e) => Err(Error::AlreadyReported(Box::new(e))),
        None => Ok(()),
    }
}

/// `cephboot osd remove ID`.
pub fn remove(args: &RemoveArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    let req = remove::RemoveRequest {
        id: args.id,
        keep_id: args.keep_id,
        force: args.force,
        timeout: Duration::from_secs(args.wait),
        dry_run: args.dry_run,
        record_removed_in: Some(global.state_dir.clone()),
    };
    let report = remove::remove_on_host(&req, grammar, &global.connect_options())?;
    if global.format != Format::Table {
        print_json(global.format, &report);
        return Ok(());
    }
    crate::outln!("osd.{}: {}", report.osd_id, report.action);
    for s in &report.steps {
        crate::outln!("  {}: {}", s.step, s.detail);
    }
    for d in &report.zapped {
        let verb = if report.dry_run {
            "would zap"
        } else {
            "zapped"
        };
        crate::outln!("  {verb} {d}");
    }
    for p in &report.freed {
        crate::outln!(
            "  freed {p}: erased and taken out of its table, a free db slot for the next OSD"
        );
    }
    for p in &report.kept {
        crate::outln!("  kept {p}: for the replacement (`osd prepare DEV --osd-id {} --db <its disk>` takes it again)", report.osd_id);
    }
    for v in &report.volumes {
        let verb = if report.dry_run {
            "would remove"
        } else {
            "removed"
        };
        crate::outln!("  {verb} {v}");
    }
    for p in &report.left {
        if p.starts_with('/') && !p.contains("physical volume") {
            crate::outln!("  left {p}: its disk holds partitions of something else (zap it, or reuse it with `osd prepare --db/--wal/--journal`)");
        } else {
            crate::outln!("  left {p}");
        }
    }
    Ok(())
}

/// `cephboot osd convert --to bluestore`.
pub fn convert(args: &ConvertArgs, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    if !args.all && args.ids.is_empty() {
        return Err(Error::Usage(
            "name the FileStore OSDs to convert, or pass --all".into(),
        ));
    }
    let req = crate::osd::convert::ConvertRequest {
        ids: args.ids.clone(),
        all: args.all,
        timeout: Duration::from_secs(args.wait),
        dry_run: args.dry_run,
        state_dir: global.state_dir.clone(),
    };
    let report = crate::osd::convert::convert_on_host(&req, grammar, &global.connect_options())?;
    if global.format != Format::Table {
        print_json(global.format, &report);
        return Ok(());
    }
    if report.osds.is_empty() {
        crate::outln!("no FileStore OSD of this cluster on this host");
    }
    for o in &report.osds {
        crate::outln!(
            "osd.{}: {}{}",
            o.osd_id,
            o.action,
            o.data_disk
                .as_ref()
                .map(|d| format!(
                    " (BlueStore on {d}{})",
                    o.db.as_ref()
                        .map(|p| format!(", block.db {p}"))
                        .unwrap_or_default()
                ))
                .unwrap_or_default()
        );
        for s in &o.steps {
            crate::outln!("  {}: {}", s.step, s.detail);
        }
    }
    Ok(())
}

/// `cephboot osd key export | verify | tpm2`.
pub fn key(cmd: &super::KeyCommand, global: &Global, grammar: &LabelGrammar) -> Result<()> {
    let report = match cmd {
        super::KeyCommand::Export(a) => {
            crate::osd::keys::export_on_host(a.id, &a.out, grammar, &global.connect_options())?
        }
        super::KeyCommand::Verify(a) => {
            crate::osd::keys::verify_on_host(a.id, &a.file, grammar, &global.conf_path())?
        }
        super::KeyCommand::Tpm2(a) => crate::osd::keys::enroll_tpm2_on_host(
            a.id,
            &a.pcrs,
            grammar,
            &global.connect_options(),
        )?,
    };
    if global.format != Format::Table {
        print_json(global.format, &report);
    } else {
        for d in &report.devices {
            crate::outln!(
                "osd.{} {} ({}): {}",
                report.osd_id,
                d.path.display(),
                d.role,
                if d.opens { "opens" } else { "does NOT open" }
            );
        }
    }
    if report.verified {
        return Ok(());
    }
    let not: Vec<String> = report
        .devices
        .iter()
        .filter(|d| !d.opens)
        .map(|d| d.path.display().to_string())
        .collect();
    Err(Error::AlreadyReported(Box::new(Error::refused(
        report.file.clone(),
        format!("does not open {} of osd.{}", not.join(", "), report.osd_id),
        "it is not this OSD's recovery key (or a keyslot was removed): export a new one while the monitors still hold the key",
    ))))
}
