//! The deterministic allocation profile of one format config under one strategy.
//!
//! [`alloc_profile`] builds a generator and runs blocks `0, 1, 2, …` (block `i` from
//! [`BlockRng::for_block`]`(seed, i)`) under a [`CountingAlloc`], separating three phases:
//! construction (setup), a short warm-up in which `reuse` buffers reach their working size, and
//! the steady state that the per-block and per-MiB figures describe. Nothing is timed, and the
//! counts are exact: the same config, seed, block size, volume and toolchain give the same
//! profile, which is what makes them usable as committed baselines.
//!
//! The counter sees the whole process: run a profile on one thread with nothing else allocating
//! (a test binary with a single test, or the CLI between progress updates).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::generator::BlockSource;
use crate::measure::{CountingAlloc, MemStats};
use crate::registry::FormatConfig;
use crate::rng::BlockRng;
use crate::strategy::Strategy;

/// Bytes in a MiB, as `f64`.
pub(crate) const MIB: f64 = (1u64 << 20) as f64;

/// What to profile: the block stream and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Seed of the run (setup and blocks).
    pub seed: u64,
    /// Budget of every block, in bytes.
    pub block_size: usize,
    /// Blocks generated (and counted separately) before the steady state.
    pub warmup_blocks: u64,
    /// Steady-state blocks are generated until at least this many bytes have been emitted
    /// (at least one block).
    pub volume: u64,
}

impl ProfileSpec {
    /// Four warm-up blocks, then `volume` bytes, from `seed`.
    pub const fn new(seed: u64, block_size: usize, volume: u64) -> Self {
        Self { seed, block_size, warmup_blocks: 4, volume }
    }
}

/// Totals of a run of consecutive blocks, gathered without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BlockRun {
    /// Blocks generated.
    pub blocks: u64,
    /// Members in them.
    pub members: u64,
    /// Bytes emitted.
    pub bytes: u64,
    /// Bytes encoded to size and build them (see [`crate::Filled::encoded`]).
    pub encoded: u64,
    /// Smallest emitted/budget ratio of a block (1.0 for an empty run).
    pub fill_min: f64,
}

impl BlockRun {
    /// An empty run.
    pub fn new() -> Self {
        BlockRun { fill_min: 1.0, ..BlockRun::default() }
    }

    /// Generates block `index` of `seed` with the source's own buffer policy, adds it to the
    /// totals, and returns its bytes.
    ///
    /// # Errors
    /// As [`crate::fill::fill`], e.g. a budget too small for one member.
    pub fn push<'s>(
        &mut self,
        source: &'s mut dyn BlockSource,
        seed: u64,
        index: u64,
        budget: usize,
    ) -> Result<&'s [u8]> {
        let (block, filled) = source.next_block(&mut BlockRng::for_block(seed, index), budget)?;
        self.blocks += 1;
        self.members += filled.members as u64;
        self.bytes += filled.bytes as u64;
        self.encoded += filled.encoded as u64;
        self.fill_min = self.fill_min.min(filled.bytes as f64 / budget as f64);
        Ok(block)
    }

    /// Generates blocks `first, first + 1, …` of `seed` until at least `volume` bytes have been
    /// emitted (at least one block), using the source's own buffer policy.
    ///
    /// # Errors
    /// As [`crate::fill::fill`], e.g. a budget too small for one member.
    pub fn generate(source: &mut dyn BlockSource, seed: u64, first: u64, budget: usize, volume: u64) -> Result<Self> {
        let mut run = BlockRun::new();
        let mut index = first;
        while run.blocks == 0 || run.bytes < volume {
            std::hint::black_box(run.push(source, seed, index, budget)?);
            index += 1;
        }
        Ok(run)
    }

    /// Mean emitted/budget ratio.
    pub fn fill_mean(&self, budget: usize) -> f64 {
        self.bytes as f64 / (self.blocks.max(1) as f64 * budget.max(1) as f64)
    }

    /// Bytes encoded per byte emitted.
    pub fn amplification(&self) -> f64 {
        self.encoded as f64 / self.bytes.max(1) as f64
    }
}

/// The allocation profile of one (config, strategy, [`ProfileSpec`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocProfile {
    /// Format name.
    pub format: String,
    /// Strategy name.
    pub strategy: String,
    /// The spec's block size.
    pub block_size: u64,
    /// Building the generator (pools, contexts) from the config.
    pub setup: MemStats,
    /// The warm-up blocks.
    pub warmup: MemStats,
    /// The steady-state blocks. `peak_live_bytes` here is the high-water mark of the whole
    /// generation (warm-up included) above the live bytes after setup, so it includes the
    /// buffers a `reuse` generator keeps.
    pub steady: MemStats,
    /// Steady-state blocks generated.
    pub blocks: u64,
    /// Steady-state members generated.
    pub members: u64,
    /// Steady-state bytes emitted.
    pub bytes: u64,
    /// Steady-state bytes encoded.
    pub encoded: u64,
    /// Mean emitted/budget of the steady-state blocks.
    pub fill_mean: f64,
    /// Smallest emitted/budget of a steady-state block.
    pub fill_min: f64,
    /// Buffer capacity the generator holds after the run.
    pub retained_bytes: u64,
}

impl AllocProfile {
    /// Steady-state allocations per block.
    pub fn allocs_per_block(&self) -> f64 {
        self.steady.allocations as f64 / self.blocks.max(1) as f64
    }

    /// Steady-state reallocations per block.
    pub fn reallocs_per_block(&self) -> f64 {
        self.steady.reallocations as f64 / self.blocks.max(1) as f64
    }

    /// Steady-state bytes allocated per block.
    pub fn alloc_bytes_per_block(&self) -> f64 {
        self.steady.bytes_allocated as f64 / self.blocks.max(1) as f64
    }

    /// Steady-state allocations per MiB emitted.
    pub fn allocs_per_mib(&self) -> f64 {
        self.steady.allocations as f64 * MIB / self.bytes.max(1) as f64
    }

    /// Steady-state reallocations per MiB emitted.
    pub fn reallocs_per_mib(&self) -> f64 {
        self.steady.reallocations as f64 * MIB / self.bytes.max(1) as f64
    }

    /// Steady-state bytes allocated per byte emitted (equivalently MiB allocated per MiB).
    pub fn alloc_bytes_per_byte(&self) -> f64 {
        self.steady.bytes_allocated as f64 / self.bytes.max(1) as f64
    }

    /// Bytes encoded per byte emitted: 1.0 means every byte was encoded once.
    pub fn amplification(&self) -> f64 {
        self.encoded as f64 / self.bytes.max(1) as f64
    }
}

/// Profiles the allocations of `config` under `strategy`, counting with `alloc` (which must be
/// the process's global allocator for the counts to mean anything).
///
/// Phases: `setup` = [`FormatConfig::build`]; `warmup` = blocks `0..warmup_blocks`; `steady` =
/// the following blocks until `volume` bytes have been emitted by them. Per-block and per-MiB
/// figures ([`AllocProfile::allocs_per_mib`] and friends) use the steady phase only.
///
/// # Errors
/// [`Error::Argument`] for a zero block size, a config error from building the generator, or a
/// fill error (a block size too small for one member).
pub fn alloc_profile(
    alloc: &CountingAlloc,
    config: &FormatConfig,
    strategy: Strategy,
    spec: &ProfileSpec,
) -> Result<AllocProfile> {
    if spec.block_size == 0 {
        return Err(Error::argument("block size", "0", "must be at least 1 byte"));
    }
    let setup_start = alloc.begin();
    let mut source = config.build(spec.seed, strategy)?;
    let setup = alloc.end(&setup_start);

    let generation_start = alloc.begin();
    for index in 0..spec.warmup_blocks {
        // A volume of 0 generates exactly one block.
        BlockRun::generate(source.as_mut(), spec.seed, index, spec.block_size, 0)?;
    }
    let warmup = alloc.end(&generation_start);
    let steady_start = alloc.snapshot();
    let run = BlockRun::generate(source.as_mut(), spec.seed, spec.warmup_blocks, spec.block_size, spec.volume)?;
    let mut steady = alloc.end(&steady_start);
    steady.peak_live_bytes = alloc.end(&generation_start).peak_live_bytes;

    Ok(AllocProfile {
        format: source.format_name().to_string(),
        strategy: strategy.name().to_string(),
        block_size: spec.block_size as u64,
        setup,
        warmup,
        steady,
        blocks: run.blocks,
        members: run.members,
        bytes: run.bytes,
        encoded: run.encoded,
        fill_mean: run.fill_mean(spec.block_size),
        fill_min: run.fill_min,
        retained_bytes: source.retained_bytes() as u64,
    })
}
