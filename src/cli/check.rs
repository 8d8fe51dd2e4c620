//! `payforge check`: regenerate the golden fixtures and compare them with what they recorded.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::Result;
use crate::measure::CountingAlloc;
use crate::registry::Registry;
use clap::Args;

/// Arguments of `payforge check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Folder of fixture folders, each holding a format's config.yaml and its fixture.toml.
    #[arg(long, value_name = "DIR", default_value = "payload-fixtures")]
    fixtures: PathBuf,

    /// Record the current fingerprints, allocation baselines and samples instead of comparing,
    /// and print every value that changed. Use it for deliberate changes and new toolchains.
    #[arg(long)]
    bless: bool,

    /// Most memory a fixture's setup may take (see `generate --max-setup-memory`).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = super::parse_size_arg)]
    max_setup_memory: u64,
}

/// Runs the command: exit 0 when every check passes, 1 on any regression.
pub fn run(args: CheckArgs, registry: &Registry, alloc: Option<&'static CountingAlloc>) -> Result<ExitCode> {
    let alloc = super::require_counter("check", alloc)?;
    let mut registry = registry.clone();
    registry.set_max_setup_memory(args.max_setup_memory);
    let report = crate::check::run(&registry, &args.fixtures, args.bless, alloc)?;
    super::write_stdout(&report.to_string())?;
    Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
