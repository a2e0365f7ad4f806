//! cephboot: turns raw disks into running Ceph OSDs and wires the result into OpenStack.
//!
//! `main` parses arguments, sets up logging on stderr, dispatches, and maps errors to the
//! documented exit codes. Every `unsafe` line lives in the `cephboot-ffi` crate.
#![forbid(unsafe_code)]
// Output goes through crate::outln!/out! (quiet on EPIPE) and crate::errln! (never panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use cephboot::cli::{
    self, CinderCommand, CinderTypeCommand, Cli, ClusterCommand, Command, DisksCommand, Format,
    OpenstackCommand, OsdCommand, PoolsCommand,
};
use cephboot::disk::label::LabelGrammar;
use cephboot::error::Error;
use clap::Parser;

fn init_logging(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CEPHBOOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("cephboot={level}")));
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn run(cli: &Cli) -> Result<(), Error> {
    let grammar = LabelGrammar::new(&cli.global.label_prefix).map_err(Error::Usage)?;
    match &cli.command {
        Command::Disks(DisksCommand::List(args)) => {
            cli::disks::list(args, cli.global.format, &grammar)
        }
        Command::Disks(DisksCommand::Zap(args)) => cli::disks::zap(args, &cli.global, &grammar),
        Command::Cluster(ClusterCommand::Bootstrap(args)) => {
            cli::cluster::bootstrap(args, &cli.global)
        }
        Command::Cluster(ClusterCommand::Stop) => cli::cluster::stop(&cli.global),
        Command::Cluster(ClusterCommand::JoinBundle(args)) => {
            cli::cluster::join_bundle(args, &cli.global)
        }
        Command::Cluster(ClusterCommand::Join(args)) => cli::cluster::join(args, &cli.global),
        Command::Osd(OsdCommand::Prepare(args)) if args.via_daemon => {
            cli::daemon::prepare_via_daemon(args, &cli.global)
        }
        Command::Osd(OsdCommand::Prepare(args)) => cli::osd::prepare(args, &cli.global, &grammar),
        Command::Daemon(args) => cli::daemon::run(args, &cli.global),
        Command::Status(args) => cli::daemon::status(args, &cli.global),
        Command::Osd(OsdCommand::Activate(args)) => cli::osd::activate(args, &cli.global, &grammar),
        Command::Osd(OsdCommand::List) => cli::osd::list(&cli.global, &grammar),
        Command::Osd(OsdCommand::Remove(args)) => cli::osd::remove(args, &cli.global, &grammar),
        Command::Osd(OsdCommand::Convert(args)) => cli::osd::convert(args, &cli.global, &grammar),
        Command::Osd(OsdCommand::Key(cmd)) => cli::osd::key(cmd, &cli.global, &grammar),
        Command::Osd(OsdCommand::Stop(args)) => cli::osd::stop(args, &cli.global),
        Command::Osd(OsdCommand::Adopt(args)) => cli::osd::adopt(args, &cli.global, &grammar),
        Command::Osd(OsdCommand::Apply(args)) => cli::osd_apply::apply(args, &cli.global, &grammar),
        Command::Pools(PoolsCommand::Init(args)) => cli::pools::init(args, &cli.global),
        Command::Cinder(CinderCommand::Type(CinderTypeCommand::Ensure(args))) => {
            cli::cinder::type_ensure(args, &cli.global)
        }
        Command::Cinder(CinderCommand::Type(CinderTypeCommand::List(args))) => {
            cli::cinder::type_list(args, &cli.global)
        }
        Command::Openstack(OpenstackCommand::Export(args)) => {
            cli::openstack::export(args, &cli.global)
        }
        Command::Completions(args) => cli::docs::completions(args.shell),
        Command::Manpages(args) => cli::docs::manpages(&args.dir),
    }
}

#[derive(serde::Serialize)]
struct ErrorReport<'a> {
    error: ErrorBody<'a>,
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    kind: &'a str,
    exit_code: i32,
    message: String,
    /// Each guard's refusal (device, reason, hint), for `refused`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refusals: Vec<cephboot::error::Refusal>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    // Long steps show progress on stderr (a line redrawn on a terminal, plain lines
    // otherwise); the daemon's own output is its log.
    if !matches!(cli.command, Command::Daemon(_)) {
        cephboot::progress::init(cli.global.quiet);
    }
    // The daemon handles its own signals (it drains its jobs); every other command stops the
    // programs it runs with it.
    if !matches!(cli.command, Command::Daemon(_)) {
        cephboot::exec::stop_programs_on_signals();
    }
    let result = run(&cli);
    if let Some(code) = cephboot::exec::stopped_by_signal() {
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code() as i32;
            let reported = matches!(e, Error::AlreadyReported(_));
            if cli.global.format != Format::Table && !reported {
                cli::output::print_json(
                    cli.global.format,
                    &ErrorReport {
                        error: ErrorBody {
                            kind: e.kind(),
                            exit_code: code,
                            message: e.to_string(),
                            refusals: e.refusals(),
                        },
                    },
                );
            }
            cephboot::errln!("cephboot: error: {e}");
            std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
