//! The `payforge` command line. See `payforge --help`.

mod cli;

use payforge::measure::CountingAlloc;

/// Counts every allocation so `--memory-stats` and `calibrate` can report them.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

fn main() -> std::process::ExitCode {
    cli::run(&ALLOC)
}
