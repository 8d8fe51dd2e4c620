//! Steady state allocates nothing: with a `reuse-*` strategy and a caller-supplied output buffer
//! ([`BlockSource::fill`]), after 8 warm-up blocks, 100 more blocks perform exactly zero
//! allocations and zero reallocations, at 64 KiB and 1 MiB (the block sizes
//! `tests/zero_alloc.rs` of payforge asserts for the built-in formats). Counted exactly by the
//! counting allocator installed for this test binary.
//!
//! The binary holds a single test so no other test thread allocates while we count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::BlockSource;
use payforge::measure::CountingAlloc;
use payforge::{BlockRng, FormatConfig, Strategy};
use payforge_apache::ApacheCombined;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

const WARM_UP: u64 = 8;
const MEASURED: u64 = 100;

#[test]
fn reuse_strategies_allocate_nothing_per_block() {
    let path = "payload-fixtures/apache-combined/config.yaml";
    let config = FormatConfig::parse::<ApacheCombined>(&std::fs::read_to_string(path).unwrap(), path.as_ref()).unwrap();
    let mut failures = Vec::new();
    let mut blocks = 0;
    for strategy in [Strategy::REUSE_ENCODE_ONCE, Strategy::REUSE_REENCODE] {
        for budget in [64 << 10, 1 << 20] {
            let mut source: Box<dyn BlockSource> = config.build(42, strategy).unwrap();
            let mut out = Vec::new();
            for i in 0..WARM_UP {
                out.clear();
                source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap();
            }
            let start = ALLOC.begin();
            let mut members = 0;
            for i in WARM_UP..WARM_UP + MEASURED {
                out.clear();
                members += source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap().members;
            }
            let stats = ALLOC.end(&start);
            assert!(members as u64 >= MEASURED, "{strategy} {budget}: blocks were produced");
            blocks += MEASURED;
            if stats.allocations != 0 || stats.reallocations != 0 {
                failures.push(format!("{strategy} {budget}: {stats:?}"));
            }
        }
    }
    assert_eq!(blocks, 400);
    assert!(failures.is_empty(), "allocations in steady state:\n{}", failures.join("\n"));

    // The counter does see allocations: a fresh strategy allocates per block.
    let mut source = config.build(42, Strategy::FRESH_ENCODE_ONCE).unwrap();
    let start = ALLOC.begin();
    for i in 0..4 {
        source.next_block(&mut BlockRng::for_block(42, i), 64 << 10).unwrap();
    }
    assert!(ALLOC.end(&start).allocations >= 4, "the counting allocator is installed");
}
