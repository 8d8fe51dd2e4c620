//! The command line as a library function: `generate`, `send`, `calibrate` and `check` over any
//! [`Registry`].
//!
//! The `payforge` binary is `cli::run(Registry::builtin())`. A crate with formats of its own gets
//! the same commands, with every flag, its formats listed in `--help` and in error messages:
//!
//! ```no_run
//! // In the downstream binary (the counter lets calibrate, check and --memory-stats count):
//! #[global_allocator]
//! static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;
//!
//! fn main() -> std::process::ExitCode {
//!     payforge::cli::run(payforge::Registry::builtin() /* .with::<MyFormat>() */)
//! }
//! ```
//!
//! Each subcommand lives in its own file; this one defines the shared parts, fills the format
//! lists into the help from the registry, and turns errors into messages and exit codes.

mod calibrate;
mod check;
mod generate;
#[cfg(feature = "instructions")]
mod instructions;
mod output;
#[cfg(feature = "send")]
mod send;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::measure::{CountingAlloc, installed};
use crate::registry::Registry;

/// Deterministic, low-allocation payload generation for load generators.
///
/// Blocks are the longest prefix of a format's member stream that fits the block size; block `i`
/// depends only on (seed, i), so output is identical for every strategy, thread count and machine.
#[derive(Debug, Parser)]
#[command(name = "payforge", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate blocks of a format and write them out (or fingerprint them).
    Generate(generate::GenerateArgs),
    /// Measure every strategy per format and block size, pick one per the decision rule, and
    /// optionally write the selection `--strategy auto` uses, a Markdown report and an SVG chart.
    Calibrate(calibrate::CalibrateArgs),
    /// Regenerate the golden fixtures and compare fingerprints and allocation baselines.
    Check(check::CheckArgs),
    /// Send blocks to a receiver (tcp, tls, udp, unix, unixgram, http, https) at a controlled
    /// rate, from a cache built up front; or run a lading generator config.
    #[cfg(feature = "send")]
    Send(Box<send::SendArgs>),
    /// Count instructions per format, strategy and block size under valgrind's callgrind and
    /// compare them with the committed baselines (payload-fixtures/instructions.toml).
    #[cfg(feature = "instructions")]
    Instructions(instructions::InstructionsArgs),
}

/// Runs the command line of this process over `registry`. Exit codes: 0 on success (and when the
/// reader of our output goes away), 1 on any error, 2 on usage errors.
pub fn run(registry: Registry) -> ExitCode {
    run_from(registry, std::env::args_os())
}

/// As [`run`], with the arguments given (the first is the program name).
pub fn run_from<I, T>(registry: Registry, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let program = program_name(&args);
    if let Err(e) = registry.validate() {
        eprintln!("{program}: error: {e}");
        return ExitCode::FAILURE;
    }
    let matches = match command(&registry, &program).try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let alloc = installed();
    if let (Some(alloc), Command::Calibrate(_) | Command::Check(_)) = (alloc, &cli.command) {
        // These commands count; the process-wide counter starts paused.
        alloc.set_counting(true);
    }
    let result = match cli.command {
        Command::Generate(args) => generate::run(args, &registry, alloc),
        Command::Calibrate(args) => calibrate::run(args, &registry, alloc),
        Command::Check(args) => check::run(args, &registry, alloc),
        #[cfg(feature = "send")]
        Command::Send(args) => send::run(*args, &registry),
        #[cfg(feature = "instructions")]
        Command::Instructions(args) => instructions::run(args, &registry),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The clap command with the registry's formats in the help and as FORMAT's possible values.
fn command(registry: &Registry, program: &str) -> clap::Command {
    let names = registry.names();
    let values: Vec<PossibleValue> =
        registry.specs().iter().map(|s| PossibleValue::new(s.name()).help(s.about())).collect();
    let command = Cli::command()
        .bin_name(program.to_owned())
        .mut_subcommand("generate", |sub| {
            sub.mut_arg("format", |arg| {
                arg.value_parser(PossibleValuesParser::new(values.clone())).help(format!("The payload format: {names}"))
            })
        })
        .mut_subcommand("calibrate", |sub| {
            sub.mut_arg("formats", |arg| {
                arg.help(format!("Comma-separated formats to measure (default: all of them: {names})"))
            })
        });
    #[cfg(feature = "send")]
    let command = command.mut_subcommand("send", |sub| {
        sub.mut_arg("format", |arg| {
            arg.value_parser(PossibleValuesParser::new(values.clone()))
                .help(format!("The payload format: {names} (with --lading-config, the generator's variant)"))
        })
    });
    command
}

/// The program's file name, for usage lines and messages (`payforge` for the payforge binary).
fn program_name(args: &[OsString]) -> String {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "payforge".to_owned())
}

/// Prints a clap error (or the help or version it stands for) and gives its exit code: 0 for
/// help and version, 2 for usage errors.
fn clap_exit(e: &clap::Error) -> ExitCode {
    // Printing help into a closed pipe is not worth a panic; the exit code still tells.
    let _ = e.print();
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// The counter a command that must count allocations needs.
///
/// # Errors
/// [`crate::Error::Argument`] saying how to install it, when this binary did not.
fn require_counter(what: &'static str, alloc: Option<&'static CountingAlloc>) -> crate::Result<&'static CountingAlloc> {
    alloc.ok_or_else(|| {
        crate::Error::argument(
            what,
            "",
            "counting allocations needs `#[global_allocator] static ALLOC: payforge::measure::GlobalCounter = \
             payforge::measure::GlobalCounter;` in this binary",
        )
    })
}

/// Writes `text` to stdout, reporting failure (a closed pipe, a full disk) as an error instead of
/// panicking the way `print!` does. A closed pipe then ends the run quietly.
fn write_stdout(text: &str) -> crate::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| crate::Error::io("write", "stdout", source))
}

/// Prints the config's warnings (how it makes the agent normalize or truncate), one line each.
fn print_warnings(config: &crate::registry::FormatConfig) {
    for warning in config.warnings() {
        eprintln!("payforge: warning: {warning}");
    }
}

/// Parses a size argument for clap (`65536`, `64KiB`, `1MiB`).
fn parse_size_arg(s: &str) -> Result<u64, String> {
    crate::size::parse_size("size", s).map_err(|e| e.to_string())
}
