//! Argument parsing and dispatch. Each subcommand lives in its own file; this one only defines
//! the shared flags and turns library errors into messages and exit codes.

mod calibrate;
mod check;
mod generate;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payforge::measure::CountingAlloc;

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
}

/// Parses the command line, runs it, and maps errors to exit codes: 0 on success (and when the
/// reader of our output goes away), 1 on any error, 2 on usage errors (from clap).
pub fn run(alloc: &'static CountingAlloc) -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate::run(args, alloc),
        Command::Calibrate(args) => calibrate::run(args, alloc),
        Command::Check(args) => check::run(args, alloc),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payforge: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `text` to stdout, reporting failure (a closed pipe, a full disk) as an error instead of
/// panicking the way `print!` does. A closed pipe then ends the run quietly.
fn write_stdout(text: &str) -> payforge::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| payforge::Error::io("write", "stdout", source))
}

/// Parses a size argument for clap (`65536`, `64KiB`, `1MiB`).
fn parse_size_arg(s: &str) -> Result<u64, String> {
    payforge::size::parse_size("size", s).map_err(|e| e.to_string())
}
