//! The block definition, checked against an independent reference for every format and strategy.
//!
//! The reference below sizes blocks the naive way: draw members one at a time, frame each, and
//! stop before the first that would overflow (with a dictionary framing, the size counts the
//! dictionary of the members so far, and the block is encoded again from scratch at the end). For random seeds and budgets (1 byte to 4 MiB) every
//! strategy must give exactly the reference block: never over budget, maximal (the next member
//! would not fit), byte-identical across strategies, and the same bytes for the same seed.
//! Raise `PROPTEST_CASES` for a longer run (CI's slow job does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::BlockSource;
use payforge::formats::datadog_logs::DatadogLogs;
use payforge::formats::dogstatsd::DogStatsD;
use payforge::formats::syslog5424::Syslog5424;
use payforge::formats::trace_v04::TraceV04;
use payforge::formats::trace_v05::TraceV05;
use payforge::{BlockRng, Configured, Error, Format, Generator, Strategy, StringTable};
use proptest::prelude::*;

/// The naive definition of a block: `Some((members, bytes))`, or `None` if nothing fits.
fn reference<F: Format>(format: &F, seed: u64, index: u64, budget: usize) -> Option<(usize, Vec<u8>)> {
    let framing = format.framing();
    let mut rng = BlockRng::for_block(seed, index);
    let mut body = Vec::new();
    let mut dict = StringTable::new();
    let mut k = 0;
    loop {
        if k == format.max_members() {
            break;
        }
        let mut next = body.clone();
        let start = framing.open_member(k, &mut next);
        format.encode_indexed(&format.generate(&mut rng), &mut dict, &mut next);
        framing.close_member(k, start, &mut next);
        if framing.framed_len(k + 1, next.len(), dict.size()) > budget {
            break;
        }
        body = next;
        k += 1;
    }
    // The dictionary now holds the strings of the member that did not fit too: encode the `k`
    // members again from scratch.
    let mut rng = BlockRng::for_block(seed, index);
    let mut dict = StringTable::new();
    body.clear();
    for i in 0..k {
        let start = framing.open_member(i, &mut body);
        format.encode_indexed(&format.generate(&mut rng), &mut dict, &mut body);
        framing.close_member(i, start, &mut body);
    }
    if k == 0 {
        return None;
    }
    let mut block = Vec::new();
    framing.write_header_with(k, body.len(), &dict, dict.size(), &mut block);
    block.extend_from_slice(&body);
    framing.write_trailer(&mut block);
    Some((k, block))
}

fn check_format<F: Configured>(config: &F::Config, seed: u64, index: u64, budget: usize) -> Result<(), TestCaseError> {
    let want = reference(&F::from_config(config, seed).unwrap(), seed, index, budget);
    for strategy in Strategy::ALL {
        let mut generator = Generator::new(F::from_config(config, seed).unwrap(), strategy);
        // Two blocks through the same generator: the reuse strategies must not leak state. Once
        // appended after a prefix, once into an empty buffer (which newline-framed encode-once
        // blocks are encoded in, in place).
        for prefix in [&b"prefix"[..], b"", b"prefix", b""] {
            let mut out = prefix.to_vec();
            let got = generator.fill(&mut BlockRng::for_block(seed, index), budget, &mut out);
            match (&want, got) {
                (Some((members, block)), Ok(filled)) => {
                    prop_assert!(filled.bytes <= budget, "{strategy}: {} > {budget}", filled.bytes);
                    prop_assert_eq!(filled.members, *members, "{}: member count", strategy);
                    prop_assert_eq!(filled.bytes, block.len());
                    prop_assert!(out.starts_with(prefix), "{}: the prefix was not kept", strategy);
                    prop_assert!(
                        &out[prefix.len()..] == block.as_slice(),
                        "{}: bytes differ from the reference",
                        strategy
                    );
                    prop_assert!(filled.encoded >= filled.bytes);
                }
                (None, Err(Error::BudgetTooSmall { needed, smallest, .. })) => {
                    prop_assert!(needed > budget && smallest <= needed);
                    prop_assert_eq!(out.as_slice(), prefix, "nothing may be appended on error");
                }
                (want, got) => prop_assert!(false, "{strategy}: reference {:?} vs {got:?}", want.as_ref().map(|w| w.0)),
            }
        }
    }
    Ok(())
}

/// 24 cases per format by default (fast on 2 cores); `PROPTEST_CASES` raises it for a slow job.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
}

/// Mostly small budgets (fast, and where edge cases live), sometimes up to 4 MiB.
fn budgets() -> impl proptest::strategy::Strategy<Value = usize> {
    prop_oneof![8 => 1usize..4096, 3 => 4096usize..262_144, 1 => 262_144usize..=4 << 20]
}

macro_rules! format_props {
    ($($test:ident => $ty:ty $(, $config:expr)?;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(cases()))]
            #[test]
            fn $test(seed in any::<u64>(), index in 0u64..1000, budget in budgets()) {
                #[allow(unused_mut, unused_assignments)]
                let mut config = <$ty as Configured>::Config::default();
                $( config = $config; )?
                check_format::<$ty>(&config, seed, index, budget)?;
            }
        }
    )*};
}

format_props! {
    syslog5424_matches_reference => Syslog5424;
    datadog_logs_matches_reference => DatadogLogs;
    dogstatsd_matches_reference => DogStatsD;
    trace_v04_matches_reference => TraceV04;
    trace_v05_matches_reference => TraceV05;
    // The other framings and the member cap go through the same comparison.
    dogstatsd_length_prefixed_matches_reference => DogStatsD,
        payforge::formats::dogstatsd::Config { length_prefix_framed: true, ..Default::default() };
    datadog_logs_capped_matches_reference => DatadogLogs,
        payforge::formats::datadog_logs::Config { max_entries_per_array: 3, ..Default::default() };
}

#[test]
fn same_seed_same_bytes_through_the_registry() {
    for kind in payforge::Registry::builtin().specs() {
        let config = kind.default_config();
        let blocks: Vec<Vec<u8>> = Strategy::ALL
            .iter()
            .map(|&s| {
                let mut source = config.build(7, s).unwrap();
                source.next_block(&mut BlockRng::for_block(7, 3), 65_536).unwrap().0.to_vec()
            })
            .collect();
        assert!(blocks.windows(2).all(|w| w[0] == w[1]), "{kind}: strategies disagree");
        let other = config
            .build(8, Strategy::ALL[0])
            .unwrap()
            .next_block(&mut BlockRng::for_block(8, 3), 65_536)
            .unwrap()
            .0
            .to_vec();
        assert_ne!(blocks[0], other, "{kind}: a different seed should change the bytes");
    }
}

#[test]
fn zero_and_huge_budgets_are_handled() {
    for kind in payforge::Registry::builtin().specs() {
        let mut source = kind.default_config().build(1, Strategy::REUSE_ENCODE_ONCE).unwrap();
        let err = source.next_block(&mut BlockRng::for_block(1, 0), 0).unwrap_err();
        assert!(matches!(err, Error::BudgetTooSmall { budget: 0, .. }), "{kind}: {err}");
        assert!(err.to_string().contains(kind.name()), "{err}");
        let mut out = Vec::new();
        let err = source.fill(&mut BlockRng::for_block(1, 0), source.min_block_len() - 1, &mut out).unwrap_err();
        assert!(matches!(err, Error::BudgetTooSmall { .. }) && out.is_empty(), "{kind}: {err}");
        for huge in [payforge::MAX_BUDGET + 1, usize::MAX] {
            let err = source.fill(&mut BlockRng::for_block(1, 0), huge, &mut out).unwrap_err();
            assert!(matches!(err, Error::BudgetTooLarge { .. }) && out.is_empty(), "{kind}: {err}");
        }
    }
    // The largest budget is served: the logs intake cap ends the block long before 1 GiB, and the
    // output is sized by what was produced, not by the budget.
    let mut source = payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>()
        .build(1, Strategy::REUSE_ENCODE_ONCE)
        .unwrap();
    let mut out = Vec::new();
    let filled = source.fill(&mut BlockRng::for_block(1, 0), payforge::MAX_BUDGET, &mut out).unwrap();
    assert_eq!(filled.members, 1000);
    assert!(out.capacity() < 4 * filled.bytes, "capacity {} for {} bytes", out.capacity(), filled.bytes);
}
