//! `payforge generate`: setup, then the blocks of the plan (or of one shard of it), built on
//! `--threads` threads and written in index order while later blocks are still being built.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cache::{Amount, BlockPlan, BlockSize, Producer, Shard, check_threads};
use crate::fingerprint::Fingerprinter;
use crate::measure::CountingAlloc;
use crate::registry::Registry;
use crate::{Compression, Error, Result, StrategyChoice};
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{LengthPrefix, Sink};
use super::parse_size_arg;

/// Arguments of `payforge generate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("amount").required(true).args(["blocks", "total"])))]
pub struct GenerateArgs {
    /// The payload format (the registry's names are filled in at run time).
    #[arg(value_name = "FORMAT")]
    format: String,

    /// YAML config for the format: its config alone, or a lading-style `variant:` document.
    /// Without it the format's defaults are used.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Seed of the run. Block i is generated from (seed, i) alone.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Budget of each block, e.g. 65536, 64KiB or 1MiB. No block exceeds it. A range such as
    /// 16KiB..1MiB gives each block a budget sampled from (seed, block index).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_block_size)]
    block_size: BlockSize,

    /// Number of blocks in the whole logical stream (all shards together).
    #[arg(long, value_name = "N")]
    blocks: Option<u64>,

    /// Total budget of the whole logical stream: as many blocks as fit, floor(total / block-size)
    /// for a fixed size, so at most this many bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    total: Option<u64>,

    /// Generate on N threads (default: the available cores). Output is identical for every N.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Emit only shard I of N (0-based): blocks I, I+N, I+2N, ... of the logical stream. Run N
    /// processes with I = 0..N-1 to split one reproducible workload across machines.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,

    /// How blocks are sized and buffered. All strategies give identical bytes; `auto` uses the
    /// measured selection embedded in the binary for this format and block size (overlaid by
    /// --selection), and reuse-encode-once for a format no selection has measured.
    #[arg(long, value_name = "STRATEGY", default_value = "auto", value_parser = parse_strategy)]
    strategy: StrategyChoice,

    /// Compress every block: none, gzip[:LEVEL] (0-9, default 6) or zstd[:LEVEL] (1-22, default
    /// 3). The block size then bounds the *compressed* block: each block is the longest prefix of
    /// the member stream whose compressed encoding fits.
    #[arg(long, value_name = "CODEC", default_value = "none", value_parser = parse_compression)]
    compression: Compression,

    /// A selection file written by `calibrate --write`, overlaid on the embedded one for `auto`:
    /// its entries replace the embedded entries of the formats it measured.
    #[arg(long, value_name = "FILE")]
    selection: Option<PathBuf>,

    /// Write all blocks, concatenated, to FILE (`-` is stdout, the default).
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with = "output_dir")]
    output: Option<PathBuf>,

    /// Write one file per block into DIR: block-000000.bin, block-000001.bin, ...
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,

    /// Write each block's length before it (4 or 8 bytes, little-endian), so a reader of the
    /// stream (a pipe, -o FILE) can split it back into blocks.
    #[arg(long, value_name = "u32le|u64le", value_parser = parse_block_stream, conflicts_with = "output_dir")]
    block_stream: Option<LengthPrefix>,

    /// Print only `<sha256 of all blocks> entropy=<bits per byte>` on stdout. Blocks are written
    /// only if -o FILE or --output-dir is also given.
    #[arg(long)]
    fingerprint: bool,

    /// Most memory the format's setup (pools, contexts) may take, e.g. 4GiB. It is estimated
    /// from the config before anything is allocated; a config over it is an error naming the
    /// keys that drive it.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size_arg)]
    max_setup_memory: u64,

    /// Print allocation statistics for setup and generation on stderr (`key: value` lines).
    #[arg(long)]
    memory_stats: bool,

    /// Print the resolved strategy and a summary (blocks, bytes, fill, throughput) on stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn parse_block_size(s: &str) -> std::result::Result<BlockSize, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_compression(s: &str) -> std::result::Result<Compression, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_shard(s: &str) -> std::result::Result<Shard, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_block_stream(s: &str) -> std::result::Result<LengthPrefix, String> {
    match s {
        "u32le" => Ok(LengthPrefix::U32Le),
        "u64le" => Ok(LengthPrefix::U64Le),
        _ => Err(format!("invalid block stream {s:?}: expected u32le or u64le")),
    }
}

fn parse_strategy(s: &str) -> std::result::Result<StrategyChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Stands in for the counter when this binary has none and nothing is counted.
static UNUSED: CountingAlloc = CountingAlloc::system();

/// Runs the command.
pub fn run(args: GenerateArgs, registry: &Registry, alloc: Option<&'static CountingAlloc>) -> Result<ExitCode> {
    let threads = match args.threads {
        Some(n) => check_threads(n)?,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    };
    let amount = match (args.blocks, args.total) {
        (Some(n), _) => Amount::Blocks(n),
        (None, Some(total)) => Amount::Total(total),
        (None, None) => return Err(Error::argument("amount", "", "give --blocks or --total")),
    };
    let plan = BlockPlan::new(args.seed, args.block_size, amount)?.with_shard(args.shard.unwrap_or_default())?;
    let alloc =
        if args.memory_stats { super::require_counter("memory stats", alloc)? } else { alloc.unwrap_or(&UNUSED) };
    let mut registry = registry.clone();
    if let Some(path) = &args.selection {
        registry.load_selection(path)?;
    }
    registry.set_max_setup_memory(args.max_setup_memory);
    // Counting costs about 20 ns per allocator call: pay it only when the counts are printed.
    alloc.set_counting(args.memory_stats);
    let setup_start = alloc.begin();
    let config = registry.config(&args.format, args.config.as_deref())?.with_compression(args.compression);
    super::print_warnings(&config);
    let producer = Producer::new(&config, args.strategy, &plan)?;
    let setup = alloc.end(&setup_start);
    // Outputs are opened only now, so a bad config or budget never truncates an existing file.
    let mut sink = match (&args.output, &args.output_dir) {
        (_, Some(dir)) => Sink::dir(dir)?,
        (Some(path), None) if path.as_os_str() != "-" => Sink::file(path)?.with_prefix(args.block_stream),
        (Some(_), None) if args.fingerprint => {
            return Err(Error::argument("output", "-", "--fingerprint prints on stdout; write blocks to a file"));
        }
        (None, None) if args.fingerprint => Sink::Discard,
        _ => Sink::stdout()?.with_prefix(args.block_stream),
    };
    let strategy = producer.strategy();
    if args.verbose || args.memory_stats {
        eprintln!("strategy: {strategy}{}", if args.strategy == StrategyChoice::Auto { " (auto)" } else { "" });
    }

    let started = Instant::now();
    let gen_start = alloc.begin();
    let mut fingerprint = args.fingerprint.then(Fingerprinter::default);
    let mut progress = Progress::new(plan.len());
    let (mut done, mut bytes, mut budgets, mut members, mut min_fill) = (0u64, 0u64, 0u64, 0u64, f64::INFINITY);
    producer.stream(threads, |block| {
        if let Some(fp) = fingerprint.as_mut() {
            fp.update(block.bytes);
        }
        sink.write_block(block.index, block.bytes)?;
        done += 1;
        bytes += block.filled.bytes as u64;
        budgets += block.budget as u64;
        members += block.filled.members as u64;
        min_fill = min_fill.min(block.filled.bytes as f64 / block.budget as f64);
        progress.tick(started, done, bytes);
        Ok(())
    })?;
    sink.finish()?;
    let generation = alloc.end(&gen_start);
    let elapsed = started.elapsed();
    progress.finish();

    if let Some(fp) = fingerprint {
        super::write_stdout(&format!("{}\n", fp.finish()))?;
    }
    if args.memory_stats {
        eprint!("{}{}", setup.lines("setup"), generation.lines("generate"));
    }
    if args.verbose {
        let mean_fill = bytes as f64 / budgets as f64;
        let mib_s = bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64().max(1e-9);
        eprintln!(
            "format: {}\nthreads: {threads}\nshard: {}\nblocks: {done}\nmembers: {members}\nbytes: {bytes}\n\
             fill_mean: {mean_fill:.4}\nfill_min: {min_fill:.4}\nelapsed_s: {:.3}\nmib_per_s: {mib_s:.1}",
            args.format,
            plan.shard(),
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on stderr, shown only on a terminal and only once a run has taken 2 seconds.
struct Progress {
    blocks: u64,
    bar: Option<ProgressBar>,
    enabled: bool,
}

impl Progress {
    fn new(blocks: u64) -> Self {
        Self { blocks, bar: None, enabled: std::io::stderr().is_terminal() }
    }

    fn tick(&mut self, started: Instant, done: u64, bytes: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && started.elapsed() >= Duration::from_secs(2) {
            let bar = ProgressBar::with_draw_target(Some(self.blocks), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} blocks {msg} ETA {eta}")
            {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{} MiB", bytes >> 20));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
