//! `payforge instructions`: the instruction-count gate over this program's registry (see
//! [`crate::instructions`]). The measured cells run in this same program, started again under
//! callgrind with the hidden `--cell NAME`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::instructions::{self, DEFAULT_TOLERANCE_PERCENT, Options, Runner};
use crate::registry::Registry;
use crate::{Error, Result};
use clap::Args;

/// Arguments of `payforge instructions`.
#[derive(Debug, Args)]
pub struct InstructionsArgs {
    /// The baselines file.
    #[arg(long, value_name = "FILE", default_value = "payload-fixtures/instructions.toml")]
    baselines: PathBuf,

    /// Comma-separated formats to measure (default: every registered format).
    #[arg(long, value_name = "LIST")]
    formats: Option<String>,

    /// Record the counts as the new baselines and print what changed, instead of failing.
    #[arg(long)]
    bless: bool,

    /// Fail when a cell's instructions per KiB rose by more than this many percent.
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_TOLERANCE_PERCENT)]
    tolerance: f64,

    /// Also simulate the caches and report L1 and last-level misses per KiB (not gated; about
    /// twice as slow).
    #[arg(long)]
    cache_sim: bool,

    /// Cells measured at once [default: the available cores].
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,

    /// The valgrind executable.
    #[arg(long, value_name = "PATH", default_value = "valgrind")]
    valgrind: PathBuf,

    /// Run one cell's blocks and print what they were (what the gate runs under callgrind).
    #[arg(long, value_name = "CELL", hide = true)]
    cell: Option<String>,
}

/// Runs the command: exit 0 when no cell regressed (or after a bless), 1 otherwise.
pub fn run(args: InstructionsArgs, registry: &Registry) -> Result<ExitCode> {
    if let Some(cell) = &args.cell {
        let output = instructions::run_cell(registry, cell)?;
        super::write_stdout(&format!("{}\n", output.line()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let program = std::env::current_exe().map_err(|e| Error::io("find", "this program", e))?;
    let formats = args
        .formats
        .as_deref()
        .map(|list| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let options = Options {
        baselines: args.baselines,
        formats,
        bless: args.bless,
        tolerance_percent: args.tolerance,
        jobs: args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        runner: Runner {
            valgrind: args.valgrind,
            program,
            cell_args: vec![OsString::from("instructions"), OsString::from("--cell")],
            cache_sim: args.cache_sim,
        },
    };
    let report = instructions::gate(registry, &options, &|line| eprintln!("{line}"))?;
    super::write_stdout(&report.to_string())?;
    Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
