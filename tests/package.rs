//! Man pages, completions and the Debian package, all generated from the clap definitions:
//! `man -l` renders every page, bash completes `cephboot osd pr` to `prepare`, and the .deb
//! (scripts/package-deb) installs with apt into a fresh Debian 12 root
//! (tests/package/root), where `cephboot --version`, `man cephboot` and `cephboot disks list`
//! work. Root only for the package part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The visible command paths, from `-h` (`osd prepare`, `pools init`, ...), walked the
/// way a user would: every name listed under "Commands:".
fn command_paths(prefix: &[String]) -> Vec<Vec<String>> {
    let mut args = prefix.to_vec();
    args.push("-h".into());
    let help = ok(
        Command::new(cephboot_bin()).args(&args).output().unwrap(),
        "--help",
    );
    let mut out = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            // A wrapped description, not a command.
            if line.starts_with("   ") {
                continue;
            }
            let name = line.split_whitespace().next().unwrap_or("");
            if name.is_empty() || name == "help" {
                continue;
            }
            let mut path = prefix.to_vec();
            path.push(name.to_string());
            out.push(path.clone());
            out.extend(command_paths(&path));
        }
    }
    out
}

#[test]
fn every_command_has_a_man_page_that_renders_and_bash_completes_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        Command::new(cephboot_bin())
            .arg("manpages")
            .arg(dir.path())
            .output()
            .unwrap(),
        "cephboot manpages",
    );
    let mut pages = vec!["cephboot".to_string()];
    pages.extend(
        command_paths(&[])
            .iter()
            .map(|p| format!("cephboot-{}", p.join("-"))),
    );
    assert!(
        pages.contains(&"cephboot-osd-prepare".to_string()),
        "{pages:?}"
    );
    assert!(
        pages.contains(&"cephboot-openstack-export".to_string()),
        "{pages:?}"
    );
    for page in &pages {
        let path = dir.path().join(format!("{page}.1"));
        assert!(path.exists(), "no man page {page}.1");
        // man -l renders it: the NAME section and the command's options are there.
        let text = ok(
            Command::new("man")
                .arg("-l")
                .arg(&path)
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .output()
                .unwrap(),
            &format!("man -l {page}.1"),
        );
        assert!(text.contains("NAME"), "{page}: {text}");
        assert!(
            text.contains(&page.replace('-', " ")) || text.contains(page.as_str()),
            "{page}: {text}"
        );
    }
    let prepare = ok(
        Command::new("man")
            .arg("-l")
            .arg(dir.path().join("cephboot-osd-prepare.1"))
            .env("MANPAGER", "cat")
            .output()
            .unwrap(),
        "man osd prepare",
    );
    assert!(
        prepare.contains("--wipe") && prepare.contains("--dry-run"),
        "{prepare}"
    );

    // Bash: `cephboot osd pr<TAB>` completes to `prepare`.
    let script = dir.path().join("cephboot.bash");
    std::fs::write(
        &script,
        ok(
            Command::new(cephboot_bin())
                .args(["completions", "bash"])
                .output()
                .unwrap(),
            "completions bash",
        ),
    )
    .unwrap();
    let complete = |line: &str| -> String {
        let words: Vec<&str> = line.split(' ').collect();
        let probe = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _cephboot cephboot '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
            words.len() - 1,
            words.last().unwrap(),
            words[words.len() - 2],
        );
        ok(
            Command::new("bash").args(["-c", &probe]).output().unwrap(),
            "bash completion",
        )
    };
    assert_eq!(complete("cephboot osd pr").trim(), "prepare");
    let top = complete("cephboot op");
    assert_eq!(top.trim(), "openstack", "{top}");
    let flags = complete("cephboot osd prepare --wi");
    assert_eq!(flags.trim(), "--wipe", "{flags}");
}

/// A fresh root from tests/package/root, removed (its mounts first) on drop.
struct Root {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Root {
    fn fresh() -> Option<Root> {
        let base = Command::new(repo().join("tests/package/root"))
            .arg("base")
            .output()
            .unwrap();
        if !base.status.success() {
            required_or_skip(
                "debian package",
                &format!(
                    "a Debian 12 root from deb.debian.org ({})",
                    String::from_utf8_lossy(&base.stderr).trim()
                ),
            );
            return None;
        }
        let parent = tempfile::Builder::new()
            .prefix("cephboot-pkgroot-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let dir = parent.path().join("root");
        let root = Root {
            dir,
            _parent: parent,
        };
        ok(
            Command::new(repo().join("tests/package/root"))
                .arg("fresh")
                .arg(&root.dir)
                .output()
                .unwrap(),
            "tests/package/root fresh",
        );
        Some(root)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(repo().join("tests/package/root"))
            .arg("run")
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let out = Command::new(repo().join("tests/package/root"))
            .arg("remove")
            .arg(&self.dir)
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!(
                    "tests/package/root remove {} failed: {}",
                    self.dir.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
                // Never let TempDir's removal walk into a live bind of /dev or /sys.
                std::mem::forget(std::mem::replace(
                    &mut self._parent,
                    tempfile::tempdir().unwrap(),
                ));
            }
        }
    }
}

#[test]
fn the_debian_package_installs_into_a_fresh_root_with_its_man_pages_and_works_there() {
    if !root_or_skip("debian package") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let deb = ok(
        Command::new(repo().join("scripts/package-deb"))
            .arg(cephboot_bin())
            .arg(out.path())
            .output()
            .unwrap(),
        "scripts/package-deb",
    );
    let deb = PathBuf::from(deb.trim());
    the_package_holds_the_files_and_depends_on_the_libraries(&deb);

    let Some(root) = Root::fresh() else { return };
    assert!(
        !root.dir.join("usr/bin/cephboot").exists(),
        "the fresh root already has cephboot"
    );
    std::fs::copy(&deb, root.dir.join("tmp/cephboot.deb")).unwrap();
    // apt resolves the Depends from the archive (librados2 and its libraries).
    ok(
        root.run(&[
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "/tmp/cephboot.deb",
            "man-db",
        ]),
        "apt-get install ./cephboot.deb",
    );
    let version = ok(root.run(&["cephboot", "--version"]), "cephboot --version");
    assert_eq!(
        version.trim(),
        format!("cephboot {}", env!("CARGO_PKG_VERSION"))
    );
    let man = ok(
        root.run(&[
            "env",
            "MANPAGER=cat",
            "MANWIDTH=100",
            "man",
            "cephboot-disks-list",
        ]),
        "man cephboot-disks-list",
    );
    assert!(
        man.contains("cephboot disks list") || man.contains("cephboot-disks-list"),
        "{man}"
    );
    let man = ok(
        root.run(&["env", "MANPAGER=cat", "man", "cephboot"]),
        "man cephboot",
    );
    assert!(man.contains("NAME"), "{man}");
    // The root's /sys and /dev are the host's: the listing sees this host's disks.
    let listing = ok(
        root.run(&["cephboot", "disks", "list", "--format", "json"]),
        "cephboot disks list",
    );
    let v: serde_json::Value = serde_json::from_str(&listing).unwrap();
    assert!(!v["devices"].as_array().unwrap().is_empty(), "{v}");
    // The unit names the installed binary.
    let unit =
        std::fs::read_to_string(root.dir.join("lib/systemd/system/cephboot.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/cephboot daemon"),
        "{unit}"
    );
    assert!(Path::new(
        &root
            .dir
            .join("usr/share/bash-completion/completions/cephboot")
    )
    .exists());
}

/// The .deb holds the binary, man pages, completions, unit and example config, and depends on
/// the libraries the binary needs (librados2 too, loaded with dlopen).
fn the_package_holds_the_files_and_depends_on_the_libraries(deb: &Path) {
    let contents = ok(
        Command::new("dpkg-deb")
            .arg("-c")
            .arg(deb)
            .output()
            .unwrap(),
        "dpkg-deb -c",
    );
    for want in [
        "./usr/bin/cephboot",
        "./usr/share/man/man1/cephboot.1.gz",
        "./usr/share/man/man1/cephboot-osd-prepare.1.gz",
        "./usr/share/bash-completion/completions/cephboot",
        "./usr/share/zsh/vendor-completions/_cephboot",
        "./lib/systemd/system/cephboot.service",
        "./usr/share/doc/cephboot/examples/daemon.toml",
    ] {
        assert!(
            contents.contains(want),
            "{want} not in the package:\n{contents}"
        );
    }
    let control = ok(
        Command::new("dpkg-deb")
            .args(["-f"])
            .arg(deb)
            .arg("Depends")
            .output()
            .unwrap(),
        "dpkg-deb -f",
    );
    for lib in ["librados2", "libblkid1", "libc6", "mount", "util-linux"] {
        assert!(control.contains(lib), "Depends lacks {lib}: {control}");
    }
}
