//! Shell completions and man pages, generated from the clap definitions (so they say what
//! `--help` says): `cephboot completions SHELL`, and the hidden `cephboot manpages DIR` that
//! `make man` and the Debian package use.

use std::path::Path;

use clap::CommandFactory;

use super::Cli;
use crate::error::{Error, IoContext, Result};

/// Prints the completion script for `shell` on stdout (rendered in memory first: a closed
/// pipe is an error, not a panic inside the generator).
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    use std::io::Write;
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cephboot", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("writing the completion script", e))
        }
        _ => Ok(()),
    }
}

/// Writes `cephboot.1` and one page per visible subcommand (`cephboot-osd-prepare.1`) into
/// `dir`; prints each path.
pub fn manpages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    // Propagates the global options into every subcommand, so each page lists them.
    cmd.build();
    write_pages(&cmd, "cephboot", dir)
}

fn write_pages(cmd: &clap::Command, name: &str, dir: &Path) -> Result<()> {
    let page = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut text)
        .context(|| format!("rendering the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    crate::files::write_public(&path, &text)?;
    crate::outln!("{}", path.display());
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
