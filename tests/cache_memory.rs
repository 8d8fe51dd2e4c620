//! The block cache's memory: while building, peak live bytes stay within
//! `T + threads × (k × block size) + setup memory`, with `k` =
//! [`payforge::cache::WORKER_BUFFER_BLOCKS`] and the setup memory (the format's pools, built once
//! and shared by every thread) measured before any worker starts; afterwards the cache holds
//! exactly its blocks plus a small per-block overhead (one allocation of exactly its length per
//! block).
//!
//! The bound is independent of the per-thread buffers it checks: a worker whose buffers grew
//! beyond `k` block sizes fails it.
//!
//! A binary of its own with a single test: the counting allocator sees the whole process, and the
//! test harness allocates for other tests' results while they finish.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize, Producer, WORKER_BUFFER_BLOCKS};
use payforge::measure::CountingAlloc;
use payforge::{Strategy, StrategyChoice};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

fn plan(seed: u64, size: BlockSize, amount: Amount) -> BlockPlan {
    BlockPlan::new(seed, size, amount).unwrap()
}

/// Thread handles, the queue and other small bookkeeping outside the formula.
const SMALL_OVERHEAD: usize = 16 * 1024;

#[test]
fn memory_peak_stays_within_the_bound() {
    let block = 64 * 1024;
    let threads = 2;
    let mut report = Vec::new();
    for &spec in payforge::Registry::builtin().specs() {
        let config = spec.default_config();
        for strategy in Strategy::ALL {
            let choice = StrategyChoice::Fixed(strategy);
            // A first build initialises what the process keeps once for all (thread bookkeeping
            // in std), which is not the cache's and must not count against it.
            let warm = plan(5, BlockSize::Fixed(block), Amount::Blocks(2));
            drop(BlockCache::build(&config, choice, &warm, threads).unwrap());

            let p = plan(5, BlockSize::Fixed(block), Amount::Total(4 << 20));
            let start = A.begin();
            // Setup, before any worker starts: the format's pools and the first generator.
            let producer = Producer::new(&config, choice, &p).unwrap();
            let setup = A.end(&start).peak_live_bytes as usize;
            let cache = producer.build_cache(threads).unwrap();
            let stats = A.end(&start);
            let retained = A.snapshot().live_bytes() - start.live_bytes();

            let t = cache.total_bytes() as usize;
            let meta = cache.len() * BlockCache::OVERHEAD_PER_BLOCK;
            // T plus small per-block overhead (and the cache's one shared header) is all it
            // keeps: each block is one allocation of exactly its length.
            assert!(
                retained >= t + meta && retained <= t + meta + 4096,
                "{spec} {strategy}: retained {retained}, blocks {t}, meta {meta}"
            );
            let bound = t + meta + threads * WORKER_BUFFER_BLOCKS * block + setup + SMALL_OVERHEAD;
            let peak = stats.peak_live_bytes as usize;
            let per_thread = peak.saturating_sub(t + meta + setup) as f64 / (threads * block) as f64;
            report.push(format!(
                "{spec} {strategy}: T {t} B, setup {setup} B, peak {peak} B, bound {bound} B, \
                 (peak - T - setup) / (threads x block) = {per_thread:.2}"
            ));
            assert!(peak <= bound, "{spec} {strategy}: peak {peak} above bound {bound}\n{}", report.join("\n"));
        }
    }
    eprintln!("cache memory, k = {WORKER_BUFFER_BLOCKS}:\n{}", report.join("\n"));
}
