//! `payforge-apache`: payforge's command line over the built-in formats plus `apache-combined`,
//! with `--strategy auto` resolving through the selection this crate calibrated
//! (`strategies.toml`, written by `payforge-apache calibrate --write`). See `--help`.

use std::process::ExitCode;

use payforge::Registry;
use payforge_apache::ApacheCombined;

/// Counts every allocation so `--memory-stats`, `calibrate` and `check` can report them.
#[global_allocator]
static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;

fn main() -> ExitCode {
    payforge::cli::run(Registry::builtin().with::<ApacheCombined>().with_selection(include_str!("../strategies.toml")))
}
