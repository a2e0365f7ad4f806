//! ansible-core from PyPI (tests/ansible/venv) running the collection under
//! contrib/ansible, with the JSON callback of tests/ansible/callback: one report per run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The collection's root (what `ANSIBLE_COLLECTIONS_PATH` names).
pub fn collection_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ansible")
}

/// A playbook of the collection.
pub fn playbook(name: &str) -> PathBuf {
    collection_root()
        .join("ansible_collections/cephboot/ceph/playbooks")
        .join(name)
}

pub struct Ansible {
    /// The venv's bin directory.
    pub bin: PathBuf,
    /// `ANSIBLE_HOME`, temporary files and the vars files of this test.
    pub home: tempfile::TempDir,
}

impl Ansible {
    /// The venv (made once per machine), or `None` (said loudly; a failure under CI) when
    /// PyPI cannot be reached.
    pub fn new() -> Option<Self> {
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/venv"))
            .output()
            .unwrap();
        if !out.status.success() {
            super::required_or_skip(
                "ansible collection",
                &format!(
                    "ansible-core from PyPI ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            return None;
        }
        Some(Ansible {
            bin: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
            home: tempfile::tempdir().unwrap(),
        })
    }

    /// The venv's Python (the managed hosts' interpreter too: they share this filesystem).
    pub fn python(&self) -> PathBuf {
        self.bin.join("python3")
    }

    /// `ansible-playbook ARGS`, run as `wrapper... ansible-playbook ARGS` (e.g. inside a
    /// network namespace); returns the exit code, the callback's report and stderr.
    pub fn run(&self, wrapper: &[&str], args: &[OsString]) -> (i32, serde_json::Value, String) {
        let playbook = self.bin.join("ansible-playbook");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&playbook);
                c
            }
            None => Command::new(&playbook),
        };
        cmd.args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") || k.starts_with("ANSIBLE_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("ANSIBLE_COLLECTIONS_PATH", collection_root())
            .env("ANSIBLE_HOME", self.home.path())
            .env("ANSIBLE_LOCAL_TEMP", self.home.path().join("tmp"))
            .env(
                "ANSIBLE_CALLBACK_PLUGINS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/callback"),
            )
            .env("ANSIBLE_STDOUT_CALLBACK", "results_json")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The callback's document is the last line (with -v, ansible prints a few lines of
        // its own first).
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or("");
        let report = serde_json::from_str(last).unwrap_or_else(|e| {
            panic!(
                "ansible-playbook printed no JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout),
            )
        });
        (out.status.code().unwrap_or(-1), report, stderr)
    }
}
