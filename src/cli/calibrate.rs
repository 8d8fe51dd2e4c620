//! `payforge calibrate`: measure, decide, print the table, write what was asked for.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::calibrate::{self, Plan, Target, plot, report};
use crate::measure::CountingAlloc;
use crate::registry::Registry;
use crate::selection::Selection;
use crate::{Compression, Error, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::parse_size_arg;

/// Where `--write` without a value writes, and where `--config-dir` points by default.
const FIXTURES: &str = "payload-fixtures";

/// Arguments of `payforge calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Comma-separated formats to measure (default: all of them).
    #[arg(long, value_name = "LIST")]
    formats: Option<String>,

    /// Comma-separated compressions to measure each format with: none, gzip[:LEVEL],
    /// zstd[:LEVEL]. Budgets then bound the compressed block.
    #[arg(long, value_name = "LIST", default_value = "none")]
    compressions: String,

    /// Comma-separated block sizes.
    #[arg(long, value_name = "LIST", default_value = "4KiB,64KiB,1MiB")]
    block_sizes: String,

    /// Bytes emitted per timed repetition (and by the counting pass); at least the largest block.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_size_arg)]
    volume: u64,

    /// Timed repetitions per strategy, interleaved across strategies.
    #[arg(long, value_name = "N", default_value_t = 5)]
    repetitions: usize,

    /// Directory holding `<format>/config.yaml`; a format without one uses its defaults
    /// [default: payload-fixtures].
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,

    /// Write the selection file (TOML) that `--strategy auto` embeds at build time
    /// [default FILE: payload-fixtures/strategies.toml].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "payload-fixtures/strategies.toml")]
    write: Option<PathBuf>,

    /// Write the table as a Markdown report with the machine and the date.
    #[arg(long, value_name = "FILE.md")]
    report: Option<PathBuf>,

    /// Write an SVG chart of MiB/s and allocations per MiB per strategy.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,

    /// Seed of every generator.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Most memory a format's setup may take (see `generate --max-setup-memory`).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size_arg)]
    max_setup_memory: u64,
}

/// Splits a comma-separated list, rejecting an empty list or an empty item, dropping repeats.
fn split_list<T: PartialEq>(what: &'static str, text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    if text.trim().is_empty() {
        return Err(Error::argument(what, text, "the list is empty"));
    }
    let mut items = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(Error::argument(what, text, "empty item in the list"));
        }
        let value = parse(item)?;
        if !items.contains(&value) {
            items.push(value);
        }
    }
    Ok(items)
}

/// Runs the command.
pub fn run(args: CalibrateArgs, registry: &Registry, alloc: Option<&'static CountingAlloc>) -> Result<ExitCode> {
    let alloc = super::require_counter("calibrate", alloc)?;
    let specs = match &args.formats {
        Some(list) => split_list("format list", list, |name| registry.get(name))?,
        None => registry.specs().to_vec(),
    };
    let block_sizes = split_list("block-size list", &args.block_sizes, |s| {
        let n = crate::size::parse_size("block size", s)?;
        usize::try_from(n).map_err(|_| Error::argument("block size", s, "too large for this machine"))
    })?;
    let config_dir = match &args.config_dir {
        Some(dir) if !dir.is_dir() => {
            return Err(Error::argument("config dir", dir.display().to_string(), "not a directory"));
        }
        Some(dir) => dir.clone(),
        None => PathBuf::from(FIXTURES),
    };
    let compressions = split_list("compression list", &args.compressions, str::parse::<Compression>)?;
    let mut targets = Vec::with_capacity(specs.len() * compressions.len());
    for &spec in &specs {
        let mut target = Target::from_dir(spec, &config_dir)?;
        target.config = target.config.clone().with_max_setup_memory(args.max_setup_memory);
        super::print_warnings(&target.config);
        for &compression in &compressions {
            targets.push(Target { config: target.config.clone().with_compression(compression), ..target.clone() });
        }
    }
    let plan = Plan { targets, block_sizes, volume: args.volume, repetitions: args.repetitions, seed: args.seed };
    plan.validate()?;
    let outputs: Vec<&PathBuf> = [&args.write, &args.report, &args.plot].into_iter().flatten().collect();
    for path in &outputs {
        calibrate::check_writable(path)?;
    }
    for t in plan.targets.iter().filter(|t| Some(&t.config.compression()) == compressions.first()) {
        eprintln!("config of {}: {}", t.config.name(), t.origin);
    }

    let progress = progress_bar(plan.steps());
    let result = calibrate::run(&plan, alloc, &mut |step| {
        if let Some(bar) = &progress {
            bar.inc(1);
            bar.set_message(step.to_string());
        }
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let cal = result?;

    super::write_stdout(&format!("{}\n{}", report::text_table(&cal), report::summary(&cal)))?;

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if let Some(path) = &args.write {
        files.push((path.clone(), cal.selection_toml(previous_selection(path).as_ref())?));
    }
    if let Some(path) = &args.report {
        let link = args.plot.as_deref().map(|svg| relative_link(path, svg));
        files.push((path.clone(), report::markdown_report(&cal, link.as_deref())));
    }
    if let Some(path) = &args.plot {
        files.push((path.clone(), plot::svg(&cal)?));
    }
    calibrate::write_files(&files)?;
    for (path, _) in &files {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The selection already at `path`, whose entries for formats not measured now are kept.
fn previous_selection(path: &Path) -> Option<Selection> {
    let text = std::fs::read_to_string(path).ok()?;
    match Selection::parse(&text) {
        Ok(sel) => Some(sel),
        Err(e) => {
            eprintln!("payforge: warning: replacing unreadable {}: {e}", path.display());
            None
        }
    }
}

/// How the report at `report` links to the chart at `svg`: by file name when they share a
/// directory, else by the path as given.
fn relative_link(report: &Path, svg: &Path) -> String {
    match (report.parent(), svg.parent(), svg.file_name()) {
        (Some(a), Some(b), Some(name)) if a == b => name.to_string_lossy().into_owned(),
        _ => svg.display().to_string(),
    }
}

/// A progress bar on stderr, only on a terminal.
fn progress_bar(steps: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}
