//! The `payforge` command line: the library's [`payforge::cli::run`] over the built-in formats.
//! See `payforge --help`.

/// Counts every allocation so `--memory-stats`, `calibrate` and `check` can report them.
#[global_allocator]
static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;

fn main() -> std::process::ExitCode {
    payforge::cli::run(payforge::Registry::builtin())
}
