//! Progress on stderr while long steps run (src/progress.rs): plain lines when stderr is a
//! pipe, one redrawn line on a terminal (a pty from `script`), nothing with --quiet; stdout's
//! JSON is the same in each. Uses `cluster bootstrap`, whose waits for the monitor and the
//! manager are such steps. Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;

use common::cluster::TestCluster;
use common::*;

#[test]
fn long_steps_show_on_stderr_as_lines_or_a_redrawn_line_and_never_on_stdout() {
    if !root_or_skip("progress") {
        return;
    }
    let c = TestCluster::new();
    let bootstrap = ["cluster", "bootstrap", "--single-node", "--format", "json"];

    // stderr is a pipe: a start line and an end line per step.
    c.cb(&["cluster", "stop"]);
    let out = c.cb(&bootstrap);
    let v = json_of_success(&out, "bootstrap, piped");
    assert!(v.is_object());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cephboot: waiting for the monitor to form a quorum ...\n"),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("cephboot: waiting for the monitor to form a quorum: done in ")),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "escape codes on a pipe: {err:?}");

    // --quiet: nothing on stderr, the same JSON.
    c.cb(&["cluster", "stop"]);
    let out = c.cb(&[
        "-q",
        "cluster",
        "bootstrap",
        "--single-node",
        "--format",
        "json",
    ]);
    json_of_success(&out, "bootstrap, quiet");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // A terminal: the step's line is redrawn in place, then ends with its outcome.
    c.cb(&["cluster", "stop"]);
    // `script` runs the command with a pty as its terminal and records what it printed.
    let typescript = c.state.path().join("typescript");
    let status = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{} --state-dir {} cluster bootstrap --single-node --format json",
            cephboot_bin(),
            c.dir()
        ))
        .arg(&typescript)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(seen.contains("\r\x1b[2K"), "no redrawn line: {seen:?}");
    assert!(
        seen.contains("waiting for the monitor to form a quorum: done in "),
        "{seen:?}"
    );
}
