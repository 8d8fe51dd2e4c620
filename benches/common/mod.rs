//! Setup shared by the criterion suites: the example configs, the block sizes of the matrix, the
//! cycle of block indices, and the loop that registers one benchmark per format × block size ×
//! strategy under any criterion [`Measurement`].
//!
//! Each bench binary includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use payforge::{BlockRng, BlockSource, FormatConfig, FormatSpec, Strategy};

/// The run seed of every bench: `payforge generate`'s default.
pub const SEED: u64 = 0;

/// Blocks `0..BLOCKS` are generated in turn, so a benchmark measures many different blocks rather
/// than one lucky (or unlucky) one.
pub const BLOCKS: u64 = 16;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The budgets benched for `kind`, with their labels. trace-v04 also has 16 KiB, 256 KiB and
/// 4 MiB to show that its cost per byte stays flat as blocks grow.
pub fn block_sizes(kind: FormatSpec) -> &'static [(usize, &'static str)] {
    match kind.name() {
        "trace-v04" => &[
            (4 * KIB, "4KiB"),
            (16 * KIB, "16KiB"),
            (64 * KIB, "64KiB"),
            (256 * KIB, "256KiB"),
            (MIB, "1MiB"),
            (4 * MIB, "4MiB"),
        ],
        _ => &[(4 * KIB, "4KiB"), (64 * KIB, "64KiB"), (MIB, "1MiB")],
    }
}

/// `payload-fixtures/<format>/config.yaml`.
pub fn example_config_path(kind: FormatSpec) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "payload-fixtures", kind.name(), "config.yaml"].iter().collect()
}

/// The format's example config from `payload-fixtures/`, or `None` when it has no file yet.
pub fn example_config(kind: FormatSpec) -> Option<FormatConfig> {
    let path = example_config_path(kind);
    path.exists().then(|| kind.load_config(&path).expect("example config parses"))
}

/// The config the matrix benches use: the example config, else the format's defaults.
pub fn bench_config(kind: FormatSpec) -> FormatConfig {
    example_config(kind).unwrap_or_else(|| {
        eprintln!("note: no {}; benching {kind} with its defaults", example_config_path(kind).display());
        kind.default_config()
    })
}

/// Builds a generator for the bench seed.
pub fn build(config: &FormatConfig, strategy: Strategy) -> Box<dyn BlockSource> {
    config.build(SEED, strategy).expect("bench config is valid")
}

/// Hands out the generator of block `0, 1, …, BLOCKS - 1, 0, 1, …` in turn.
#[derive(Debug, Default)]
pub struct BlockCycle {
    next: u64,
}

impl BlockCycle {
    /// The RNG of the next block index in the cycle.
    pub fn next_rng(&mut self) -> BlockRng {
        let index = self.next;
        self.next = (self.next + 1) % BLOCKS;
        BlockRng::for_block(SEED, index)
    }

    /// Generates the next block of the cycle and returns its length.
    pub fn next_block(&mut self, generator: &mut dyn BlockSource, budget: usize) -> usize {
        let mut rng = self.next_rng();
        let (block, _) = generator.next_block(&mut rng, budget).expect("a member fits the budget");
        black_box(block).len()
    }
}

/// A generator that has produced one full cycle of blocks for `budget`, so every buffer a
/// `reuse` strategy keeps has reached its high-water mark: what follows is the steady state.
pub fn warmed(config: &FormatConfig, strategy: Strategy, budget: usize) -> Box<dyn BlockSource> {
    let mut generator = build(config, strategy);
    let mut cycle = BlockCycle::default();
    for _ in 0..BLOCKS {
        cycle.next_block(generator.as_mut(), budget);
    }
    generator
}

/// Mean length of blocks `0..BLOCKS` for `budget`: the bytes one benchmark iteration emits on
/// average. Every strategy emits the same bytes, so one pass with any strategy serves all four.
pub fn mean_block_len(config: &FormatConfig, budget: usize) -> u64 {
    let mut generator = build(config, Strategy::REUSE_ENCODE_ONCE);
    let mut cycle = BlockCycle::default();
    let total: u64 = (0..BLOCKS).map(|_| cycle.next_block(generator.as_mut(), budget) as u64).sum();
    total / BLOCKS
}

/// Timing settings sized for a noisy 2-core machine: the whole throughput suite runs in a few
/// minutes. Command-line flags (`--measurement-time`, `--sample-size`, …) still override them.
pub fn quick_timing() -> Criterion {
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2))
}

/// Registers the matrix: one group `<prefix><format>/<block size>` per format and block size, with
/// one benchmark per strategy that generates one block of the [`BlockCycle`] per iteration. A
/// suite with another measurement passes its own `prefix`, so its results get their own
/// directories under `target/criterion/` and never compare against timings.
///
/// The group's throughput is [`Throughput::Bytes`] of the mean emitted block length, computed
/// before any measurement by [`mean_block_len`]: budgets are upper bounds and blocks fill them
/// only partly, so the budget itself would overstate the bytes produced. `configure` adjusts
/// each group (sampling mode, times) before its benchmarks are added. Generators are built on
/// first use and warmed over one cycle ([`warmed`]), so benchmarks a command-line filter leaves
/// out cost nothing but the mean, and `reuse` strategies are measured in their steady state.
pub fn bench_matrix<M: Measurement>(
    c: &mut Criterion<M>,
    prefix: &str,
    configure: impl Fn(&mut BenchmarkGroup<'_, M>),
) {
    for &kind in payforge::Registry::builtin().specs() {
        let config = bench_config(kind);
        for &(budget, label) in block_sizes(kind) {
            let mut group = c.benchmark_group(format!("{prefix}{kind}/{label}"));
            group.throughput(Throughput::Bytes(mean_block_len(&config, budget)));
            configure(&mut group);
            for strategy in Strategy::ALL {
                let mut generator = None;
                let mut cycle = BlockCycle::default();
                group.bench_function(strategy.name(), |b| {
                    // Built once and kept across warm-up and samples.
                    let generator = generator.get_or_insert_with(|| warmed(&config, strategy, budget));
                    b.iter(|| cycle.next_block(generator.as_mut(), budget));
                });
            }
            group.finish();
        }
    }
}
