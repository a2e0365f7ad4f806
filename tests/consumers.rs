//! OpenStack really uses what cephboot made: on a cluster cephboot bootstrapped, with an OSD
//! and the pools it prepared, `cephboot openstack export` writes kolla-ansible's files, and
//! real services configured from them (RabbitMQ, Keystone, cinder-api/-scheduler/-volume/
//! -backup, glance-api, each Ceph client with the exported ceph.conf and keyring as its
//! /etc/ceph) create volumes, images, clones and backups on the pools. Every result is read
//! back with an independent tool: the `openstack` CLI, and `rbd` as the service's own Ceph
//! user. Root only (the services are installed by `make test`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::cluster::TestCluster;
use common::openstack::Services;
use common::*;

/// `rbd` as a Ceph user, with the ceph.conf and keyring the export wrote for its service.
fn rbd(conf: &Path, user: &str, keyring: &Path, args: &[&str]) -> Output {
    Command::new("rbd")
        .arg("-c")
        .arg(conf)
        .args(["--id", user, "--keyring"])
        .arg(keyring)
        .args(args)
        .output()
        .unwrap()
}

fn rbd_ok(conf: &Path, user: &str, keyring: &Path, args: &[&str]) -> String {
    let out = rbd(conf, user, keyring, args);
    assert!(
        out.status.success(),
        "rbd --id {user} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256_of(path: &Path) -> String {
    sh("sha256sum", &[path.to_str().unwrap()])
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every regular file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

struct Kolla {
    root: tempfile::TempDir,
}

impl Kolla {
    fn config(&self) -> PathBuf {
        self.root.path().join("config")
    }
    fn file(&self, rel: &str) -> PathBuf {
        self.config().join(rel)
    }

    /// `rbd` as client.cinder with the files the export wrote for cinder-volume.
    fn as_cinder(&self, args: &[&str]) -> String {
        rbd_ok(
            &self.file("cinder/ceph.conf"),
            "cinder",
            &self.file("cinder/cinder-volume/ceph.client.cinder.keyring"),
            args,
        )
    }

    fn as_cinder_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        serde_json::from_str(&self.as_cinder(&a)).unwrap()
    }

    /// `rbd` as client.glance with the files the export wrote for glance.
    fn as_glance(&self, args: &[&str]) -> String {
        rbd_ok(
            &self.file("glance/ceph.conf"),
            "glance",
            &self.file("glance/ceph.client.glance.keyring"),
            args,
        )
    }

    fn as_glance_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        serde_json::from_str(&self.as_glance(&a)).unwrap()
    }
}

/// `cephboot openstack export --kolla-config <kolla>/config EXTRA --format json`.
fn export(c: &TestCluster, kolla: &Kolla, extra: &[&str]) -> Output {
    let dir = kolla.config();
    let mut a = vec![
        "openstack",
        "export",
        "--kolla-config",
        dir.to_str().unwrap(),
    ];
    a.extend(extra);
    a.extend(["--format", "json"]);
    c.cb(&a)
}

/// The export: kolla's tree, modes, no leading whitespace, the cluster's keys and values
/// (--dry-run first writes nothing).
fn export_writes_kollas_tree_and_never_replaces_a_file_it_did_not_write(
    c: &TestCluster,
    kolla: &Kolla,
) {
    let export = |extra: &[&str]| export(c, kolla, extra);
    // A dry run first: reports every file as would_create, writes nothing.
    let v = json_of_success(&export(&["--dry-run"]), "export --dry-run");
    assert!(v["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["action"] == "would_create"));
    assert!(!kolla.root.path().join("config").exists());

    let v = json_of_success(&export(&[]), "export");
    assert_eq!(v["changed"], true);
    assert_eq!(
        tree(kolla.root.path()),
        [
            "config/.cephboot-export.json",
            "config/cinder/ceph.conf",
            "config/cinder/cinder-backup/ceph.client.cinder-backup.keyring",
            "config/cinder/cinder-backup/ceph.client.cinder.keyring",
            "config/cinder/cinder-volume/ceph.client.cinder.keyring",
            "config/glance/ceph.client.glance.keyring",
            "config/glance/ceph.conf",
            "config/magnum.conf",
            "config/nova/ceph.client.cinder.keyring",
            "config/nova/ceph.client.nova.keyring",
            "config/nova/ceph.conf",
            "globals.d/cephboot.yml",
        ]
    );
    // ceph.conf: the cluster's fsid and monitors, no line kolla's INI merge would choke on.
    let fsid = c.ceph(&["fsid"]).trim().to_string();
    for svc in ["glance", "cinder", "nova"] {
        let conf = std::fs::read_to_string(kolla.file(&format!("{svc}/ceph.conf"))).unwrap();
        assert!(conf.contains(&format!("fsid = {fsid}\n")), "{conf}");
        assert!(conf.contains("mon_host = "), "{conf}");
        assert!(
            conf.lines().all(|l| !l.starts_with([' ', '\t'])),
            "leading whitespace in {svc}/ceph.conf:\n{conf}"
        );
        assert_eq!(mode_of(&kolla.file(&format!("{svc}/ceph.conf"))), 0o644);
    }
    // Keyrings: 0600, each the key Ceph has for its user.
    for (rel, entity) in [
        ("glance/ceph.client.glance.keyring", "client.glance"),
        (
            "cinder/cinder-volume/ceph.client.cinder.keyring",
            "client.cinder",
        ),
        (
            "cinder/cinder-backup/ceph.client.cinder.keyring",
            "client.cinder",
        ),
        (
            "cinder/cinder-backup/ceph.client.cinder-backup.keyring",
            "client.cinder-backup",
        ),
        ("nova/ceph.client.nova.keyring", "client.nova"),
        ("nova/ceph.client.cinder.keyring", "client.cinder"),
    ] {
        let path = kolla.file(rel);
        assert_eq!(mode_of(&path), 0o600, "{rel}");
        let key = c.ceph(&["auth", "print-key", entity]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(key.trim()), "{rel} lacks {entity}'s key");
    }
    let magnum = std::fs::read_to_string(kolla.file("magnum.conf")).unwrap();
    assert!(
        magnum.contains("[cinder]\ndefault_docker_volume_type = ceph\n"),
        "{magnum}"
    );
    let globals =
        std::fs::read_to_string(kolla.root.path().join("globals.d/cephboot.yml")).unwrap();
    for want in [
        "glance_backend_ceph: \"yes\"",
        "cinder_backend_ceph: \"yes\"",
        "nova_backend_ceph: \"yes\"",
        "ceph_cinder_backup_pool_name: \"backups\"",
        "  - name: \"rbd-1\"",
    ] {
        assert!(globals.contains(want), "{want} missing:\n{globals}");
    }

    a_rerun_is_unchanged_and_files_cephboot_did_not_write_are_kept(c, kolla);
}

/// Rerun: nothing changes. Consent: an edited file or one cephboot never wrote is refused
/// (the victim's bytes and every other file unchanged, nothing written), --force replaces.
fn a_rerun_is_unchanged_and_files_cephboot_did_not_write_are_kept(c: &TestCluster, kolla: &Kolla) {
    let export = |extra: &[&str]| export(c, kolla, extra);
    // Rerun: nothing changes.
    let v = json_of_success(&export(&[]), "export again");
    assert_eq!(v["changed"], false, "{v:#}");
    assert!(v["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["action"] == "unchanged"));

    // The operator edits magnum.conf: refused (exit 3), that file and every other byte kept.
    let victim = kolla.file("magnum.conf");
    std::fs::write(&victim, "[cinder]\ndefault_docker_volume_type = mine\n").unwrap();
    let victim_sum = sha256_of(&victim);
    let other = kolla.file("glance/ceph.client.glance.keyring");
    let other_sum = sha256_of(&other);
    std::fs::remove_file(kolla.file("nova/ceph.conf")).unwrap();
    let out = export(&[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("magnum.conf (edited since cephboot wrote it)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(sha256_of(&victim), victim_sum);
    assert_eq!(sha256_of(&other), other_sum);
    assert!(
        !kolla.file("nova/ceph.conf").exists(),
        "a refused export wrote another file"
    );
    // A file cephboot never wrote is refused the same way.
    let foreign = kolla.root.path().join("globals.d/cephboot.yml");
    let _ = std::fs::remove_file(kolla.file(".cephboot-export.json"));
    let out = export(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("content cephboot did not write"));
    assert!(foreign.exists());
    // --force replaces, then the tree is whole and a rerun unchanged again.
    let v = json_of_success(&export(&["--force"]), "export --force");
    assert_eq!(v["changed"], true);
    assert!(std::fs::read_to_string(&victim)
        .unwrap()
        .contains("default_docker_volume_type = ceph"));
    assert!(kolla.file("nova/ceph.conf").exists());
    assert_eq!(sha256_of(&other), other_sum);
    let v = json_of_success(&export(&[]), "export after --force");
    assert_eq!(v["changed"], false, "{v:#}");
}

#[test]
fn openstack_services_use_the_pools_cephboot_made() {
    if !root_or_skip("openstack consumers") {
        return;
    }
    let disk = LoopDisk::new(4 << 30);
    let c = TestCluster::new();
    c.cb_ok(&["osd", "prepare", disk.path()]);
    c.cb_ok(&["osd", "activate", "--all"]);
    c.cb_ok(&["pools", "init", "--single-node", "--mute-size-warning"]);
    let kolla = Kolla {
        root: tempfile::Builder::new()
            .prefix("cephboot-kolla-")
            .tempdir_in("/var/tmp")
            .unwrap(),
    };
    export_writes_kollas_tree_and_never_replaces_a_file_it_did_not_write(&c, &kolla);

    let os = Services::start(&kolla.config());
    magnum_takes_cephboots_type_once_the_deployer_step_and_the_export_ran(&c, &os, &kolla);
    let vol_id = a_volume_of_the_type_is_an_rbd_image_in_volumes(&os, &kolla);
    let img_id = an_image_lands_in_images_with_its_snapshot_byte_for_byte(&os, &kolla);
    a_volume_from_the_image_is_a_clone_of_its_snapshot(&os, &kolla, &img_id);
    let backup_id = a_backup_lands_in_backups(&os, &kolla, &vol_id);
    nova_clones_from_images_and_glance_cannot_write_volumes(&kolla, &img_id);
    deleting_the_volume_removes_its_image(&os, &kolla, &vol_id, &backup_id);
}

/// Magnum's own default-volume-type lookup, before and after cephboot's type and magnum.conf.
fn magnum_takes_cephboots_type_once_the_deployer_step_and_the_export_ran(
    c: &TestCluster,
    os: &Services,
    kolla: &Kolla,
) {
    let clouds = os.clouds_yaml();
    let clouds = clouds.to_str().unwrap();
    let magnum_env = [
        ("KS_URL", os.auth_url()),
        ("ADMIN_PASSWORD", "secret".to_string()),
    ];
    let magnum = |conf: &[&Path]| {
        let out = Command::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openstack/magnum-volume-type"),
        )
        .args(conf)
        .envs(magnum_env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "magnum-volume-type: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Before cephboot's type exists, Magnum's own lookup takes whatever Cinder lists first
    // (here Cinder's `__DEFAULT__`; with no type at all it fails with VolumeTypeNotFound).
    assert_ne!(magnum(&[]), "ceph");

    // The deployer's step: pools (unchanged) and the volume type, through Keystone.
    let v = json_of_success(
        &c.cb_env(
            &[
                "pools",
                "init",
                "--single-node",
                "--mute-size-warning",
                "--volume-type",
                "ceph=rbd-1",
                "--default-volume-type",
                "--os-cloud",
                "admin",
                "--format",
                "json",
            ],
            &[("OS_CLIENT_CONFIG_FILE", clouds)],
        ),
        "pools init --volume-type",
    );
    assert_eq!(v["volume_types"][0]["action"], "created", "{v:#}");
    // With the magnum.conf the export wrote, Magnum picks cephboot's type.
    assert_eq!(magnum(&[&kolla.file("magnum.conf")]), "ceph");
}

/// A volume of the type becomes available as a 1 GiB RBD image in `volumes`.
fn a_volume_of_the_type_is_an_rbd_image_in_volumes(os: &Services, kolla: &Kolla) -> String {
    let vol = os.openstack(&["volume", "create", "--type", "ceph", "--size", "1", "plain"]);
    let vol_id = vol["id"].as_str().unwrap().to_string();
    os.wait_status("volume", &vol_id, "available", 60);
    let image_name = format!("volume-{vol_id}");
    assert!(
        kolla
            .as_cinder(&["ls", "volumes"])
            .lines()
            .any(|l| l == image_name),
        "no {image_name} in volumes"
    );
    let info = kolla.as_cinder_json(&["info", &format!("volumes/{image_name}")]);
    assert_eq!(info["size"], 1u64 << 30);
    vol_id
}

/// An image uploaded to Glance lands in `images` with its protected snapshot, and the bytes
/// in Ceph (read back as client.glance) are the bytes uploaded.
fn an_image_lands_in_images_with_its_snapshot_byte_for_byte(
    os: &Services,
    kolla: &Kolla,
) -> String {
    let raw = kolla.root.path().join("image.raw");
    let mut bytes = vec![0u8; 4 << 20];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::try_from((i * 7 + i / 4096) % 251).unwrap();
    }
    std::fs::write(&raw, &bytes).unwrap();
    let img = os.openstack(&[
        "image",
        "create",
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--file",
        raw.to_str().unwrap(),
        "cirros-like",
    ]);
    let img_id = img["id"].as_str().unwrap().to_string();
    os.wait_status("image", &img_id, "active", 60);
    let snaps = kolla.as_glance_json(&["snap", "ls", &format!("images/{img_id}")]);
    assert_eq!(snaps[0]["name"], "snap", "{snaps}");
    assert_eq!(snaps[0]["protected"], "true", "{snaps}");
    let export_path = kolla.root.path().join("image.back");
    kolla.as_glance(&[
        "export",
        &format!("images/{img_id}"),
        export_path.to_str().unwrap(),
    ]);
    assert_eq!(
        sha256_of(&export_path).split_whitespace().next(),
        sha256_of(&raw).split_whitespace().next()
    );
    img_id
}

/// A volume from the image is a copy-on-write clone whose parent is in `images` (what the
/// read-only `images` caps of client.cinder are for).
fn a_volume_from_the_image_is_a_clone_of_its_snapshot(os: &Services, kolla: &Kolla, img_id: &str) {
    let from = os.openstack(&[
        "volume",
        "create",
        "--type",
        "ceph",
        "--size",
        "1",
        "--image",
        img_id,
        "from-image",
    ]);
    let from_id = from["id"].as_str().unwrap().to_string();
    os.wait_status("volume", &from_id, "available", 90);
    let info = kolla.as_cinder_json(&["info", &format!("volumes/volume-{from_id}")]);
    assert_eq!(info["parent"]["pool"], "images", "{info}");
    assert_eq!(info["parent"]["image"], img_id, "{info}");
    assert_eq!(info["parent"]["snapshot"], "snap", "{info}");
}

/// A backup of the volume lands in `backups` (read as client.cinder-backup).
fn a_backup_lands_in_backups(os: &Services, kolla: &Kolla, vol_id: &str) -> String {
    let backup = os.openstack(&["volume", "backup", "create", "--name", "nightly", vol_id]);
    let backup_id = backup["id"].as_str().unwrap().to_string();
    os.wait_status("volume backup", &backup_id, "available", 90);
    let backups = rbd_ok(
        &kolla.file("cinder/ceph.conf"),
        "cinder-backup",
        &kolla.file("cinder/cinder-backup/ceph.client.cinder-backup.keyring"),
        &["ls", "backups"],
    );
    assert!(
        backups
            .lines()
            .any(|l| l.starts_with(&format!("volume-{vol_id}.backup.")) && l.contains(&backup_id)),
        "backup {backup_id} not in backups: {backups}"
    );
    backup_id
}

/// client.nova creates in `vms` and clones from `images`; client.glance cannot write
/// `volumes` (least privilege holds).
fn nova_clones_from_images_and_glance_cannot_write_volumes(kolla: &Kolla, img_id: &str) {
    let nova_conf = kolla.file("nova/ceph.conf");
    let nova_key = kolla.file("nova/ceph.client.nova.keyring");
    let as_nova = |args: &[&str]| rbd_ok(&nova_conf, "nova", &nova_key, args);
    as_nova(&["create", "--size", "16M", "vms/instance-disk"]);
    as_nova(&[
        "clone",
        &format!("images/{img_id}@snap"),
        "vms/instance-root",
    ]);
    let info: serde_json::Value =
        serde_json::from_str(&as_nova(&["info", "--format", "json", "vms/instance-root"])).unwrap();
    assert_eq!(info["parent"]["pool"], "images", "{info}");
    let denied = rbd(
        &kolla.file("glance/ceph.conf"),
        "glance",
        &kolla.file("glance/ceph.client.glance.keyring"),
        &["create", "--size", "16M", "volumes/not-glances"],
    );
    assert!(!denied.status.success(), "client.glance wrote volumes");
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    as_nova(&["rm", "vms/instance-root"]);
    as_nova(&["rm", "vms/instance-disk"]);
}

/// Polls `gone` every 500 ms until it is true (panics with `what` after 60 s).
fn wait_until(what: &str, mut gone: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !gone() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// Deleting the volume removes its image (after its backup is gone).
fn deleting_the_volume_removes_its_image(
    os: &Services,
    kolla: &Kolla,
    vol_id: &str,
    backup_id: &str,
) {
    os.openstack_do(&["volume", "backup", "delete", backup_id]);
    wait_until("backup not deleted", || {
        !os.openstack_raw(&["volume", "backup", "show", backup_id], true)
            .status
            .success()
    });
    os.openstack_do(&["volume", "delete", vol_id]);
    let image_name = format!("volume-{vol_id}");
    wait_until(&format!("{image_name} still in volumes"), || {
        !kolla
            .as_cinder(&["ls", "volumes"])
            .lines()
            .any(|l| l == image_name)
    });
}
