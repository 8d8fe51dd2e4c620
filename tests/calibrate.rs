//! Allocation counts of a measurement are exact and deterministic for a fixed seed.
//!
//! This binary installs its own counting allocator and holds a single test, so nothing else in
//! the process allocates while a pass is counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::Strategy;
use payforge::calibrate::{MeasureSpec, ProfileSpec, alloc_profile, measure_strategies};
use payforge::measure::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

#[test]
fn allocation_counts_are_identical_across_runs() {
    for &kind in payforge::Registry::builtin().specs() {
        let config = kind.default_config();
        for block_size in [4096, 65_536] {
            let spec = MeasureSpec { profile: ProfileSpec::new(3, block_size, 256 << 10), repetitions: 1 };
            let first = measure_strategies(&A, &config, &Strategy::ALL, &spec, &mut |_| {}).unwrap();
            let second = measure_strategies(&A, &config, &Strategy::ALL, &spec, &mut |_| {}).unwrap();
            for (a, b) in first.iter().zip(&second) {
                let what = format!("{kind} {block_size} {}", a.strategy);
                assert_eq!(a.profile, b.profile, "{what}: counts differ between runs");
                assert_eq!((a.bytes, a.blocks), (b.bytes, b.blocks), "{what}");
                assert!(a.profile.setup.allocations > 0, "{what}: setup builds pools");
                assert!(a.profile.bytes >= 256 << 10 && a.profile.blocks > 0, "{what}");
                assert!(a.profile.fill_min > 0.0 && a.profile.fill_min <= a.profile.fill_mean, "{what}");
                assert!(a.profile.amplification() >= 1.0, "{what}");
            }
            // The same blocks under every strategy: same bytes, same fill.
            assert!(
                first.windows(2).all(|w| w[0].bytes == w[1].bytes && w[0].profile.fill_mean == w[1].profile.fill_mean)
            );
            // Reuse keeps its buffers: never more steady-state allocations than fresh.
            let allocs = |s: Strategy| first.iter().find(|m| m.strategy == s).unwrap().profile.allocs_per_mib();
            assert!(allocs(Strategy::REUSE_ENCODE_ONCE) < allocs(Strategy::FRESH_ENCODE_ONCE), "{kind} {block_size}");
            assert!(allocs(Strategy::REUSE_REENCODE) < allocs(Strategy::FRESH_REENCODE), "{kind} {block_size}");
            // Encode-once encodes (almost) every byte once; re-encode several times.
            let amp = |s: Strategy| first.iter().find(|m| m.strategy == s).unwrap().profile.amplification();
            assert!(amp(Strategy::FRESH_ENCODE_ONCE) < amp(Strategy::FRESH_REENCODE), "{kind} {block_size}");
        }
        // The standalone profile agrees with itself, including setup and warm-up.
        let spec = ProfileSpec::new(9, 16_384, 128 << 10);
        let a = alloc_profile(&A, &config, Strategy::FRESH_REENCODE, &spec).unwrap();
        let b = alloc_profile(&A, &config, Strategy::FRESH_REENCODE, &spec).unwrap();
        assert_eq!(a, b, "{kind}");
        assert!(a.steady.allocations > 0 && a.allocs_per_block() > 1.0, "{kind}: fresh allocates per block");
    }
}
