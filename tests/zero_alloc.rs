//! Steady state allocates nothing: with a `reuse-*` strategy and a caller-supplied output buffer,
//! after a short warm-up, 100 more blocks perform exactly zero allocations, for every format at
//! 64 KiB and 1 MiB. Counted exactly by the counting allocator installed for this test binary.
//!
//! The binary holds a single test so no other test thread allocates while we count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::measure::CountingAlloc;
use payforge::{BlockRng, Strategy};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

const WARM_UP: u64 = 8;
const MEASURED: u64 = 100;

#[test]
fn reuse_strategies_allocate_nothing_per_block() {
    let mut failures = Vec::new();
    for &kind in payforge::Registry::builtin().specs() {
        let text = std::fs::read_to_string(format!("payload-fixtures/{}/config.yaml", kind.name())).unwrap();
        let config = kind.parse_config(&text, kind.name().as_ref()).unwrap();
        for strategy in [Strategy::REUSE_ENCODE_ONCE, Strategy::REUSE_REENCODE] {
            for budget in [64 << 10, 1 << 20] {
                let mut source = config.build(42, strategy).unwrap();
                let mut out = Vec::new();
                for i in 0..WARM_UP {
                    out.clear();
                    source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap();
                }
                let start = ALLOC.begin();
                for i in WARM_UP..WARM_UP + MEASURED {
                    out.clear();
                    source.fill(&mut BlockRng::for_block(42, i), budget, &mut out).unwrap();
                }
                let stats = ALLOC.end(&start);
                if stats.allocations + stats.reallocations != 0 {
                    failures.push(format!("{kind} {strategy} {budget}: {stats:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "allocations in steady state:\n{}", failures.join("\n"));
}
