//! The instruction-count regression gate (`payforge instructions`, feature `instructions`).
//!
//! Wall-clock benchmarks on a shared 2-core machine move ±15% between runs; the instructions a
//! cell executes, counted by valgrind's callgrind, do not move at all between runs of one program
//! and tell a 1% change apart. [`gate`] measures every cell of a [`Registry`]
//! ([`plan`]: each format × {reuse-encode-once, `auto`'s strategy, fresh-reencode} × {64 KiB,
//! 1 MiB}, plus gzip:6 and zstd:3 at 64 KiB) with fixed seeds and block counts, setup counted
//! apart, compares instructions per KiB emitted with the committed baselines
//! (`payload-fixtures/instructions.toml`, [`Baselines`]) and fails when a cell rose by more than
//! the tolerance ([`DEFAULT_TOLERANCE_PERCENT`]).
//!
//! A crate with formats of its own gets the gate through [`crate::cli::run`] (the `instructions`
//! subcommand, with `--formats` and `--baselines`), or calls [`gate`] with its registry; the
//! program it names in [`Runner`] must run one cell (call [`run_cell`]) when given
//! [`Runner::cell_args`] and a cell name, as `payforge instructions --cell NAME` does.

mod baseline;
mod callgrind;
mod cell;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use baseline::{Baselines, CellBaseline, build_kind};
pub use callgrind::{Counted, Events, Runner, valgrind_version};
pub use cell::{
    BLOCK_SIZES, BLOCKS_FUNCTION, COMPRESSED_BLOCK_SIZE, COMPRESSIONS, Cell, CellOutput, SEED, SETUP_FUNCTION,
    WARM_UP_BLOCKS, plan, run_cell,
};
pub use report::{Report, Row, Verdict, judge};

use crate::error::{Error, Result};
use crate::registry::Registry;

/// The default tolerance, in percent of instructions per KiB. Three runs of one build count the
/// same instructions per block to the last one, so run-to-run variation is nil; what moves counts
/// without a real change is the compiler: a small edit to shared generic code (one branch in
/// `Generator::next_block`) moved cells of formats it did not touch by up to 1.3%, through other
/// inlining and code layout. 2% stays above that and below the 3% slowdown the gate must catch.
pub const DEFAULT_TOLERANCE_PERCENT: f64 = 2.0;

/// The baselines file in a fixtures folder.
pub const BASELINES_FILE: &str = "instructions.toml";

/// What [`gate`] measures and how it judges.
#[derive(Debug, Clone)]
pub struct Options {
    /// The baselines file.
    pub baselines: PathBuf,
    /// Formats to measure (all registered ones when empty).
    pub formats: Vec<String>,
    /// Rewrite the baselines instead of failing.
    pub bless: bool,
    /// A cell fails when its instructions per KiB rose by more than this, in percent.
    pub tolerance_percent: f64,
    /// Cells measured at once (each is one single-threaded valgrind process).
    pub jobs: usize,
    /// How to run valgrind and the measured program.
    pub runner: Runner,
}

/// Measures every cell of `registry` (restricted to `options.formats`) under callgrind, compares
/// each with its baseline and, with `bless`, rewrites the baselines file (cells of formats not
/// measured are kept when the file's tools are this run's). `progress` gets a line per finished
/// cell.
///
/// # Errors
/// An unknown format, valgrind missing, a missing or malformed baselines file (without `bless`),
/// a cell whose measured run fails, a failed write.
pub fn gate(registry: &Registry, options: &Options, progress: &(dyn Fn(&str) + Sync)) -> Result<Report> {
    let started = Instant::now();
    if !(options.tolerance_percent >= 0.0 && options.tolerance_percent.is_finite()) {
        return Err(Error::argument("tolerance", options.tolerance_percent.to_string(), "must be a percentage >= 0"));
    }
    let cells = plan(registry, &options.formats)?;
    let valgrind = valgrind_version(&options.runner.valgrind)?;
    let path = &options.baselines;
    let recorded = if path.exists() {
        Some(Baselines::load(path)?)
    } else if options.bless {
        None
    } else {
        return Err(Error::ConfigFile {
            path: path.clone(),
            reason: "missing: run `payforge instructions --bless` to create it".to_owned(),
        });
    };
    let counted = count_all(&cells, options, progress)?;

    let not_comparable = recorded.as_ref().and_then(|r| r.comparable_with(&valgrind));
    let empty = Baselines::new(&valgrind);
    let old = recorded.as_ref().unwrap_or(&empty);
    let mut rows = Vec::with_capacity(cells.len());
    for (cell, counted) in cells.iter().zip(&counted) {
        let now = CellBaseline::from_counted(counted);
        let row = judge(old.cell.get(&cell.name()), &now, options.tolerance_percent, not_comparable.is_none());
        rows.push(Row { cell: cell.name(), auto: cell.auto, ..row });
    }
    let measured = |name: &str| cells.iter().any(|c| c.name() == name);
    let format_measured = |name: &str| {
        Cell::parse(name)
            .map_or(true, |c| cells.iter().any(|m| m.format == c.format) || registry.get(&c.format).is_err())
    };
    let gone: Vec<String> = old.cell.keys().filter(|name| !measured(name) && format_measured(name)).cloned().collect();

    if options.bless {
        let mut file = Baselines::new(&valgrind);
        if not_comparable.is_none() {
            // Other formats' cells stay; the gone ones go.
            file.cell =
                old.cell.iter().filter(|(name, _)| !gone.contains(name)).map(|(k, v)| (k.clone(), *v)).collect();
        }
        for row in &rows {
            file.cell.insert(row.cell.clone(), row.now);
        }
        file.save(path)?;
    }
    Ok(Report {
        rows,
        gone,
        not_comparable,
        blessed: options.bless,
        tolerance_percent: options.tolerance_percent,
        path: path.display().to_string(),
        elapsed: started.elapsed(),
    })
}

/// Counts every cell, `options.jobs` at a time, in a temporary folder removed afterwards.
fn count_all(cells: &[Cell], options: &Options, progress: &(dyn Fn(&str) + Sync)) -> Result<Vec<Counted>> {
    let dir = std::env::temp_dir().join(format!("payforge-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", dir.display(), e))?;
    let result = count_in(&dir, cells, options, progress);
    // Only callgrind's files were in it, and each is removed once read.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn count_in(dir: &Path, cells: &[Cell], options: &Options, progress: &(dyn Fn(&str) + Sync)) -> Result<Vec<Counted>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Counted>>>> = Mutex::new(cells.iter().map(|_| None).collect());
    let worker = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(cell) = cells.get(index) else { break };
            let started = Instant::now();
            let name = cell.name();
            let result = options.runner.count(&name, dir, index);
            let failed = result.is_err();
            if let Some(slot) = results.lock().ok().as_deref_mut().and_then(|slots| slots.get_mut(index)) {
                *slot = Some(result);
            }
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            let status = if failed { "failed" } else { "counted" };
            progress(&format!(
                "[{finished}/{}] {status} {name} ({:.1} s)",
                cells.len(),
                started.elapsed().as_secs_f64()
            ));
            if failed {
                // Stop handing out cells: the run fails anyway.
                next.store(cells.len(), Ordering::Relaxed);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(worker);
        }
    });
    let slots = results.into_inner().map_err(|_| Error::argument("cell", "", "a measuring thread panicked"))?;
    let mut counted = Vec::with_capacity(slots.len());
    for (slot, cell) in slots.into_iter().zip(cells) {
        match slot {
            Some(result) => counted.push(result?),
            None => {
                return Err(Error::argument("cell", cell.name(), "not measured: an earlier cell failed"));
            }
        }
    }
    Ok(counted)
}
