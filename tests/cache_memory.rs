//! The block cache's memory: while building, peak live bytes stay within
//! `T + threads × 2 × block size + generator state`, and afterwards the cache holds exactly its
//! blocks plus a small per-block overhead (one allocation of exactly its length per block).
//!
//! A binary of its own with a single test: the counting allocator sees the whole process, and the
//! test harness allocates for other tests' results while they finish.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize};
use payforge::measure::CountingAlloc;
use payforge::{Strategy, StrategyChoice};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

fn plan(seed: u64, size: BlockSize, amount: Amount) -> BlockPlan {
    BlockPlan::new(seed, size, amount).unwrap()
}

#[test]
fn memory_peak_stays_within_the_bound() {
    let config = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>();
    let block = 64 * 1024;
    let threads = 2;
    let p = plan(5, BlockSize::Fixed(block), Amount::Total(4 << 20));
    let strategy = StrategyChoice::Fixed(Strategy::REUSE_ENCODE_ONCE);

    // Generator state: the format's pools (built once and shared by every thread) plus, per
    // thread, whatever its working buffers hold beyond one block in the steady state (reuse
    // headroom). The scratch block and the output block are the 2 × block size.
    let mut out = Vec::with_capacity(block);
    let start = A.begin();
    let mut source = config.build(5, Strategy::REUSE_ENCODE_ONCE).unwrap();
    let pools = A.end(&start).peak_live_bytes as usize;
    for i in 0..4 {
        out.clear();
        source.fill(&mut payforge::BlockRng::for_block(5, i), block, &mut out).unwrap();
    }
    let working = A.end(&start).peak_live_bytes as usize - pools;
    let headroom = working.saturating_sub(block);
    let state = pools + threads * headroom;
    drop(source);
    drop(out);

    // A first build initialises what the process keeps once for all (thread bookkeeping in std),
    // which is not the cache's and must not count against it.
    drop(BlockCache::build(&config, strategy, &plan(5, BlockSize::Fixed(block), Amount::Blocks(2)), threads).unwrap());

    let start = A.begin();
    let cache = BlockCache::build(&config, strategy, &p, threads).unwrap();
    let stats = A.end(&start);
    let retained = A.snapshot().live_bytes() - start.live_bytes();

    let t = cache.total_bytes() as usize;
    let meta = cache.len() * BlockCache::OVERHEAD_PER_BLOCK;
    // T plus small per-block overhead (and the cache's one shared header) is all it keeps:
    // each block is one allocation of exactly its length.
    assert!(retained >= t + meta && retained <= t + meta + 256, "retained {retained}, blocks {t}, meta {meta}");
    let bound = t + meta + threads * 2 * block + state + 16 * 1024;
    let peak = stats.peak_live_bytes as usize;
    eprintln!(
        "cache memory: blocks {} total {t} B, peak {peak} B, bound {bound} B (state {state} B), \
         peak - T = {} B",
        cache.len(),
        peak - t
    );
    assert!(peak <= bound, "peak {peak} above bound {bound}");
}
