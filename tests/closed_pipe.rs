//! A reader that goes away before cephboot prints (`cephboot disks list | head -0`): every
//! output path, table and JSON, success and error, ends quietly with its documented exit
//! status; no panic, no "Broken pipe" message. The cluster paths run against a real
//! single-node cluster (root).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};

use common::cluster::TestCluster;
use common::*;

/// Runs cephboot with `args`, its stdout (and with `stderr_too` its stderr) a pipe whose
/// reading end is closed at once (`cephboot ... | true`, `2>&1 | true`): (exit code, what
/// stderr said while it was still read).
fn with_closed_pipes(args: &[&str], stderr_too: bool) -> (i32, String) {
    let mut child = Command::new(cephboot_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cephboot");
    drop(child.stdout.take());
    if stderr_too {
        drop(child.stderr.take());
    }
    let out = child.wait_with_output().expect("wait for cephboot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_closed_stdout(args: &[&str]) -> (i32, String) {
    with_closed_pipes(args, false)
}

fn with_closed_stdout_and_stderr(args: &[&str]) -> i32 {
    with_closed_pipes(args, true).0
}

fn ends_quietly(args: &[&str], code: i32) {
    let (got, err) = with_closed_stdout(args);
    assert_eq!(got, code, "cephboot {args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "cephboot {args:?}: {err}"
    );
}

#[test]
fn every_output_path_ends_quietly_when_the_reader_has_gone() {
    if !root_or_skip("output into a closed pipe") {
        return;
    }
    for format in ["table", "json", "json-pretty"] {
        ends_quietly(&["--format", format, "disks", "list"], 0);
        // An error on the JSON path too: the report of a missing device.
        ends_quietly(
            &[
                "--format",
                format,
                "disks",
                "zap",
                "/dev/cephboot-no-such-disk",
            ],
            4,
        );
    }
    ends_quietly(&["completions", "bash"], 0);
    // stderr gone too: the error message of a missing device (exit 4, not a panic's 101).
    assert_eq!(
        with_closed_stdout_and_stderr(&["disks", "zap", "/dev/cephboot-no-such-disk"]),
        4
    );
    let c = TestCluster::new();
    let dir = c.dir();
    // The cluster stopped and started again by a bootstrap whose progress lines ("waiting for
    // the monitor ...") meet a closed stderr: it still completes (the loop below lists the
    // cluster's OSDs).
    let stop = c.cb(&["cluster", "stop"]);
    assert!(stop.status.success(), "cluster stop: {stop:?}");
    assert_eq!(
        with_closed_stdout_and_stderr(&[
            "--state-dir",
            dir.as_str(),
            "cluster",
            "bootstrap",
            "--single-node"
        ]),
        0,
        "cluster bootstrap with stdout and stderr closed"
    );
    let bundle = format!("{dir}/join.json");
    for format in ["table", "json"] {
        let with = |args: &[&str]| -> Vec<String> {
            ["--state-dir", dir.as_str(), "--format", format]
                .iter()
                .chain(args)
                .map(|s| s.to_string())
                .collect()
        };
        for (args, code) in [
            (vec!["cluster", "bootstrap", "--single-node"], 0),
            (vec!["osd", "list"], 0),
            // No OSD yet: the refusal, on the error path (JSON error report on stdout).
            (
                vec!["pools", "init", "--single-node", "--mute-size-warning"],
                2,
            ),
            (vec!["osd", "remove", "7"], 0),
            (vec!["cluster", "join-bundle", "--out", bundle.as_str()], 0),
        ] {
            let a = with(&args);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            ends_quietly(&a, code);
        }
    }
}
