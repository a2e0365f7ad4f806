//! `osd apply` of cephadm OSD specs on loop devices and a real single-node cluster: `paths`,
//! `size` and `limit` making real OSDs, two specs taking disjoint disks, the dry run writing
//! nothing and explaining every disk it did not take, a rerun `unchanged` (limit counting
//! the existing OSDs once), a disk with a filesystem matched by a filter and left byte for
//! byte, and a bad spec refused by key and line. Every device the test did not create is kept
//! out with `--allow-device`. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::cluster::TestCluster;
use common::*;

const MIB: u64 = 1 << 20;

fn write_spec(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn by_data<'a>(v: &'a serde_json::Value, dev: &str) -> Option<&'a serde_json::Value> {
    v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["data"] == dev)
}

fn not_taken(v: &serde_json::Value, spec: &str, dev: &str) -> String {
    v["not_taken"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["spec"] == spec && n["device"] == dev)
        .map(|n| n["reason"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn specs_select_by_path_size_and_limit_make_real_osds_and_explain_the_rest() {
    if !root_or_skip("osd apply specs") {
        return;
    }
    // Three disks of 3 GiB + 13 MiB (3.24 GB: a `size: '3GB:'` takes them), one of 2 GiB +
    // 13 MiB (2.16 GB) named by path, one of 3 GiB + 13 MiB holding ext4 (never taken).
    let big: Vec<LoopDisk> = (0..3)
        .map(|_| LoopDisk::new(3 * 1024 * MIB + 13 * MIB))
        .collect();
    let small = LoopDisk::new(2 * 1024 * MIB + 13 * MIB);
    let ext4 = LoopDisk::new(3 * 1024 * MIB + 13 * MIB);
    sh("mkfs.ext4", &["-q", "-F", "-L", "keep", ext4.path()]);
    // What mkfs wrote reaches the backing file (which the checksums read) now, not later.
    sh("blockdev", &["--flushbufs", ext4.path()]);
    sh("sync", &[]);
    let c = TestCluster::new();
    let dir = tempfile::tempdir().unwrap();
    let mut allow: Vec<String> = Vec::new();
    for d in big.iter().chain([&small, &ext4]) {
        allow.push("--allow-device".into());
        allow.push(d.name());
    }
    let apply = |spec: &str, extra: &[&str]| {
        let mut a: Vec<&str> = vec!["osd", "apply", spec];
        a.extend(allow.iter().map(String::as_str));
        a.extend(extra);
        c.cb_ok(&a)
    };
    // The ext4 disk by its device's bytes (its backing file's extents may still move as the
    // host writes mkfs's pages back), the blank ones by their files.
    let sums = || -> Vec<String> {
        let mut v: Vec<String> = big
            .iter()
            .chain([&small])
            .map(LoopDisk::sparse_checksum)
            .collect();
        v.push(ext4.checksum());
        v
    };

    // A bad spec: refused by key and line, nothing read from the cluster, nothing written.
    let bad = write_spec(
        dir.path(),
        "bad.yml",
        "service_type: osd\nservice_id: bad\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    rotationall: 1\n",
    );
    let before = sums();
    let mut a: Vec<&str> = vec!["osd", "apply", &bad];
    a.extend(allow.iter().map(String::as_str));
    let out = c.cb(&a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 7") && err.contains("`rotationall`"),
        "{err}"
    );

    let spec = write_spec(
        dir.path(),
        "osds.yml",
        &format!(
            "service_type: osd\nservice_id: by_path\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    paths:\n      - path: {}\n        crush_device_class: spectest\n---\nservice_type: osd\nservice_id: by_size\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    size: '2GB:'\n    limit: 2\n",
            small.path()
        ),
    );

    // The dry run: the plan and its reasons, nothing written.
    let dry = apply(&spec, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changed"], false);
    assert_eq!(
        by_data(&dry, small.path()).unwrap()["spec"],
        "by_path",
        "{dry:#}"
    );
    assert_eq!(
        by_data(&dry, small.path()).unwrap()["action"],
        "would_create"
    );
    let sized: Vec<&LoopDisk> = big
        .iter()
        .filter(|d| by_data(&dry, d.path()).is_some_and(|o| o["spec"] == "by_size"))
        .collect();
    assert_eq!(sized.len(), 2, "the limit takes two of the three: {dry:#}");
    let left = big
        .iter()
        .find(|d| by_data(&dry, d.path()).is_none())
        .unwrap();
    assert!(
        not_taken(&dry, "by_size", left.path()).contains("limit 2 reached"),
        "{dry:#}"
    );
    assert!(
        not_taken(&dry, "by_size", small.path()).contains("taken by spec by_path (data)"),
        "{dry:#}"
    );
    assert!(
        not_taken(&dry, "by_size", ext4.path()).contains("foreign"),
        "{dry:#}"
    );
    assert!(
        not_taken(&dry, "by_path", left.path()).contains("paths: not listed"),
        "{dry:#}"
    );
    assert_eq!(sums(), before, "the dry run wrote to a disk");

    let taken: Vec<&LoopDisk> = big
        .iter()
        .filter(|d| d.path() != left.path())
        .chain([&small])
        .collect();
    overrides_on_the_command_line(&c, &allow, dir.path(), &taken, left);
    assert_eq!(sums(), before, "the dry runs wrote to a disk");

    // Applied: three OSDs, the class of the path entry, the others untouched byte for byte.
    let ids_before = c.ceph_json(&["osd", "ls"]).as_array().unwrap().len();
    let left_sum = left.sparse_checksum();
    let ext4_sum = ext4.checksum();
    let done = apply(&spec, &[]);
    assert_eq!(done["changed"], true, "{done:#}");
    let created: Vec<&serde_json::Value> = done["osds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "created")
        .collect();
    assert_eq!(created.len(), 3, "{done:#}");
    assert_eq!(
        c.ceph_json(&["osd", "ls"]).as_array().unwrap().len(),
        ids_before + 3
    );
    let path_id = by_data(&done, small.path()).unwrap()["osd_id"]
        .as_u64()
        .unwrap();
    let tree = c.ceph_json(&["osd", "tree"]);
    let node = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"].as_u64() == Some(path_id))
        .unwrap();
    assert_eq!(node["device_class"], "spectest", "{tree:#}");
    assert_eq!(
        left.sparse_checksum(),
        left_sum,
        "the disk over the limit was written"
    );
    assert_eq!(ext4.checksum(), ext4_sum, "the ext4 disk was written");
    assert_eq!(
        sh("blkid", &["-o", "value", "-s", "LABEL", ext4.path()]).trim(),
        "keep"
    );

    // A rerun: nothing new; the limit counts the two existing OSDs once.
    let again = apply(&spec, &[]);
    assert_eq!(again["changed"], false, "{again:#}");
    assert!(again["osds"].as_array().unwrap().is_empty(), "{again:#}");
    let by_size = again["specs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spec"] == "by_size")
        .unwrap();
    assert_eq!(
        by_size["existing_osds"].as_array().unwrap().len(),
        2,
        "{again:#}"
    );
    assert!(
        not_taken(&again, "by_size", left.path()).contains("limit 2 reached"),
        "{again:#}"
    );
    assert_eq!(left.sparse_checksum(), left_sum);
    assert_eq!(
        c.ceph_json(&["osd", "ls"]).as_array().unwrap().len(),
        ids_before + 3
    );
}

/// Overrides on the command line (what the daemon passes from its config), whatever sysfs
/// says of a loop device: every loop disk "rotational", then `left` not (the later override
/// wins): a `rotational: 1` spec takes the others and says why not `left`.
fn overrides_on_the_command_line(
    c: &TestCluster,
    allow: &[String],
    dir: &std::path::Path,
    taken: &[&LoopDisk],
    left: &LoopDisk,
) {
    let spinning = write_spec(
        dir,
        "spinning.yml",
        "service_type: osd\nservice_id: spinning\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    rotational: 1\n",
    );
    let last = format!("--override={}:rotational=0", left.name());
    let mut a: Vec<&str> = vec!["osd", "apply", &spinning];
    a.extend(allow.iter().map(String::as_str));
    a.extend(["--dry-run", "--override=loop*:rotational=1", &last]);
    let lied = c.cb_ok(&a);
    assert!(
        taken
            .iter()
            .all(|d| by_data(&lied, d.path()).is_some_and(|o| o["spec"] == "spinning")),
        "{lied:#}"
    );
    assert!(
        not_taken(&lied, "spinning", left.path()).contains("rotational 0 by --override[1]"),
        "{lied:#}"
    );
    let bad = c.cb(&[
        "osd",
        "apply",
        &spinning,
        "--dry-run",
        "--override=loop*:spinning=1",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad --override is a usage error"
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown key \"spinning\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
