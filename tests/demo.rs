//! `make demo`, as a new user runs it, from nothing: a single-node cluster, an OSD on a
//! loop-file disk, the pools, kolla-ansible's files, Cinder with its RBD backend and a volume
//! of cephboot's type that becomes `available`; a rerun changes nothing; `make demo-clean`
//! leaves nothing behind. It once failed on every fresh machine (the volume waited on
//! Cinder's scheduler start-up delay longer than the demo waited for it): this keeps it from
//! breaking unseen. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str, state: &Path) -> (bool, String, String) {
    let out = Command::new(top().join("scripts").join(name))
        .arg(state)
        .env("CEPHBOOT", cephboot_bin())
        .output()
        .expect("run the script");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `scripts/demo-clean` when dropped, also when an assertion failed.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = script("demo-clean", &self.0);
        }
    }
}

fn loops_backed_by(state: &Path) -> String {
    sh("losetup", &["-l", "-n", "-O", "NAME,BACK-FILE"])
        .lines()
        .filter(|l| l.contains(&state.display().to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_demo_runs_from_nothing_then_unchanged_then_cleans_up() {
    if !root_or_skip("make demo") {
        return;
    }
    let state = Path::new("/var/tmp").join(format!("cephboot-demo-{}", std::process::id()));
    let _cleanup = Cleanup(state.clone());
    let started = std::time::Instant::now();
    let (ok, out, err) = script("demo", &state);
    assert!(ok, "the demo failed from a clean state:\n{out}\n{err}");
    let first = started.elapsed().as_secs();
    assert!(
        out.contains(": available") && out.contains("volume-"),
        "the Cinder volume and its RBD image: {out}"
    );
    eprintln!("demo from nothing: {first} s");

    let (ok, out, err) = script("demo", &state);
    assert!(ok, "the rerun failed:\n{out}\n{err}");
    assert_eq!(
        out.matches("changed: true").count(),
        0,
        "a rerun changes nothing: {out}"
    );
    assert!(out.contains("osd.0: unchanged"), "{out}");
    assert!(
        out.contains(": available"),
        "the same volume, reused: {out}"
    );
    assert_eq!(
        out.matches("creating a 1 GiB volume").count()
            + err.matches("creating a 1 GiB volume").count(),
        0,
        "no second volume: {err}"
    );

    let (ok, out, err) = script("demo-clean", &state);
    assert!(ok, "demo-clean failed:\n{out}\n{err}");
    assert!(!state.exists(), "the state directory is gone");
    assert_eq!(loops_backed_by(&state), "", "no loop device left");
}
