//! Steady state allocates nothing: with a `reuse-*` strategy and a caller-supplied output buffer,
//! after a short warm-up, 100 more blocks perform exactly zero allocations, for every format at
//! 64 KiB and 1 MiB. Counted exactly by the counting allocator installed for this test binary.
//!
//! Compressed budgets (gzip, whose allocations go through the Rust allocator) at 16 KiB: the
//! reuse strategies reset one compressor and keep its buffers, so after 48 warm-up blocks the
//! next 50 make no allocation and at most 2 reallocations (probes past the answer vary in
//! length, so the longest buffer can still grow now and then).
//!
//! The binary holds a single test so no other test thread allocates while we count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::measure::CountingAlloc;
use payforge::{BlockRng, Compression, Strategy};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

const WARM_UP: u64 = 8;
const MEASURED: u64 = 100;

#[test]
fn reuse_strategies_allocate_nothing_per_block() {
    let mut failures = Vec::new();
    let registry = payforge::Registry::builtin();
    let mut configs: Vec<_> = registry
        .specs()
        .iter()
        .map(|&kind| {
            let text = std::fs::read_to_string(format!("payload-fixtures/{}/config.yaml", kind.name())).unwrap();
            (kind, kind.parse_config(&text, kind.name().as_ref()).unwrap())
        })
        .collect();
    // Traces of 16 spans and more take a 3-byte array header, written on another path.
    let big = registry
        .parse_config("trace-v04", "spans_per_trace: {inclusive: {min: 16, max: 40}}\n", "big traces".as_ref())
        .unwrap();
    configs.push((big.spec(), big));
    for (kind, config) in configs {
        let cells = [(Compression::None, 64 << 10), (Compression::None, 1 << 20), (Compression::Gzip(6), 16 << 10)];
        for strategy in [Strategy::REUSE_ENCODE_ONCE, Strategy::REUSE_REENCODE] {
            for (compression, budget) in cells {
                let mut source = config.clone().with_compression(compression).build(42, strategy).unwrap();
                let mut out = Vec::new();
                // Compressed probes past the answer vary in length from block to block, so a
                // reused buffer takes longer to reach its largest size: a longer warm-up.
                let (warm_up, measured) = if compression.is_none() { (WARM_UP, MEASURED) } else { (48, 50) };
                for i in 0..warm_up {
                    out.clear();
                    source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap();
                }
                // Two windows of blocks: the harness's main thread may allocate while the first
                // one starts (seen as 4 allocations of 900 bytes, never freed), so a window counts
                // as failed only when the next identical window allocates too; a generator that
                // allocates per block, or every few blocks, fails both.
                let mut window = |first: u64| {
                    let start = ALLOC.begin();
                    for i in first..first + measured {
                        out.clear();
                        source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap();
                    }
                    ALLOC.end(&start)
                };
                // Compressed probes past the answer vary in length from block to block, so a
                // reused buffer may still grow now and then: no allocation, and at most one
                // reallocation in 25 blocks.
                let regrowth = if compression.is_none() { 0 } else { measured / 25 };
                let failed =
                    |stats: &payforge::measure::MemStats| stats.allocations != 0 || stats.reallocations > regrowth;
                let stats = window(warm_up);
                if failed(&stats) {
                    let again = window(warm_up + measured);
                    if failed(&again) {
                        failures.push(format!("{kind} {compression} {strategy} {budget}: {stats:?}, then {again:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "allocations in steady state:\n{}", failures.join("\n"));
}
