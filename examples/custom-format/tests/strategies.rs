//! payforge's block definition holds for a format from another crate: for random seeds, block
//! indices, budgets (1 byte to 4 MiB) and configs, every strategy gives exactly the block a naive
//! reference builds (draw members one at a time, stop before the first that would overflow):
//! never over budget, maximal (the next member would not fit), byte-identical across strategies.
//! 24 cases per property by default, to stay fast on 2 cores; `PROPTEST_CASES` raises it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::BlockSource;
use payforge::kit::ConfRange;
use payforge::{BlockRng, Configured, Error, Format, FormatConfig, Generator, Registry, Strategy};
use payforge_apache::ApacheCombined;
use payforge_apache::config::{Config, StatusWeight};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

/// The naive block: `Some((members, bytes, framed length of the member after the last))`, or
/// `None` if not even the first member fits.
fn reference<F: Format>(format: &F, seed: u64, index: u64, budget: usize) -> Option<(usize, Vec<u8>, usize)> {
    let framing = format.framing();
    let mut rng = BlockRng::for_block(seed, index);
    let mut body = Vec::new();
    let mut k = 0;
    let next_len = loop {
        assert!(k < format.max_members(), "apache-combined has no member cap");
        let mut member = Vec::new();
        let start = framing.open_member(k, &mut member);
        format.encode(&format.generate(&mut rng), &mut member);
        framing.close_member(k, start, &mut member);
        if framing.block_len(k + 1, body.len() + member.len()) > budget {
            break member.len();
        }
        body.extend_from_slice(&member);
        k += 1;
    };
    if k == 0 {
        return None;
    }
    let mut block = Vec::new();
    framing.write_header(k, body.len(), &mut block);
    block.extend_from_slice(&body);
    framing.write_trailer(&mut block);
    Some((k, block, next_len))
}

fn check(config: &Config, seed: u64, index: u64, budget: usize) -> Result<(), TestCaseError> {
    let want = reference(&ApacheCombined::from_config(config, seed).unwrap(), seed, index, budget);
    if let Some((_, block, next_len)) = &want {
        // Maximal: one more member would have gone over the budget.
        prop_assert!(block.len() <= budget && block.len() + next_len > budget);
    }
    for strategy in Strategy::ALL {
        let mut generator = Generator::new(ApacheCombined::from_config(config, seed).unwrap(), strategy);
        // Two blocks through the same generator: the reuse strategies must not leak state.
        for _ in 0..2 {
            let mut out = b"prefix".to_vec();
            let got = generator.fill(&mut BlockRng::for_block(seed, index), budget, &mut out);
            match (&want, got) {
                (Some((members, block, _)), Ok(filled)) => {
                    prop_assert!(filled.bytes <= budget, "{strategy}: {} > {budget}", filled.bytes);
                    prop_assert_eq!(filled.members, *members, "{}: member count", strategy);
                    prop_assert_eq!(filled.bytes, block.len());
                    prop_assert!(&out[6..] == block.as_slice(), "{}: bytes differ from the reference", strategy);
                    prop_assert!(filled.encoded >= filled.bytes);
                }
                (None, Err(Error::BudgetTooSmall { needed, smallest, .. })) => {
                    prop_assert!(needed > budget && smallest <= needed, "{strategy}: {needed} {smallest}");
                    prop_assert_eq!(out.as_slice(), b"prefix", "nothing may be appended on error");
                }
                (None, Err(Error::BudgetBelowMinimum { smallest, .. })) => {
                    prop_assert!(budget < smallest, "{strategy}: {budget} rejected with minimum {smallest}");
                    prop_assert_eq!(out.as_slice(), b"prefix", "nothing may be appended on error");
                }
                (want, got) => {
                    prop_assert!(false, "{strategy}: reference {:?} vs {got:?}", want.as_ref().map(|w| w.0));
                }
            }
        }
    }
    Ok(())
}

/// 24 cases per property by default (fast on 2 cores); `PROPTEST_CASES` raises it.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
}

/// Mostly small budgets (fast, and where edge cases live), sometimes up to 4 MiB.
fn budgets() -> impl proptest::strategy::Strategy<Value = usize> {
    prop_oneof![8 => 1usize..4096, 3 => 4096usize..262_144, 1 => 262_144usize..=4 << 20]
}

/// Configs away from the defaults: tiny and large pools, every probability at its ends, long
/// paths, one status without a body.
fn configs() -> impl proptest::strategy::Strategy<Value = Config> {
    (1u64..2000, 0u64..=8, prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0], any::<bool>()).prop_map(
        |(pool, depth, p, no_body)| Config {
            clients: pool,
            paths: pool,
            referers: pool,
            user_agents: pool.min(300),
            path_depth: ConfRange::inclusive(0, depth),
            client_hostname_probability: p,
            user_probability: p,
            identity_probability: 1.0 - p,
            query_probability: p,
            referer_probability: 1.0 - p,
            bot_user_agent_probability: p,
            statuses: if no_body {
                vec![StatusWeight { code: 204, weight: 1.0 }, StatusWeight { code: 200, weight: p }]
            } else {
                Config::default().statuses
            },
            response_bytes: ConfRange::inclusive(0, 1 << (depth * 4)),
            ..Config::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn default_config_matches_reference(seed in any::<u64>(), index in 0u64..1000, budget in budgets()) {
        check(&Config::default(), seed, index, budget)?;
    }

    #[test]
    fn other_configs_match_reference(config in configs(), seed in any::<u64>(), index in 0u64..1000, budget in budgets()) {
        check(&config, seed, index, budget)?;
    }
}

#[test]
fn same_seed_same_bytes_through_the_registry() {
    let registry = Registry::builtin().with::<ApacheCombined>();
    let config = registry.default_config("apache-combined").unwrap();
    let blocks: Vec<Vec<u8>> = Strategy::ALL
        .iter()
        .map(|&s| {
            let mut source = config.build(7, s).unwrap();
            source.next_block(&mut BlockRng::for_block(7, 3), 65_536).unwrap().0.to_vec()
        })
        .collect();
    assert!(blocks.windows(2).all(|w| w[0] == w[1]), "strategies disagree");
    // Forked generators (as worker threads use) give the same bytes too.
    let forked = config
        .build(7, Strategy::REUSE_REENCODE)
        .unwrap()
        .fork()
        .next_block(&mut BlockRng::for_block(7, 3), 65_536)
        .unwrap()
        .0
        .to_vec();
    assert_eq!(forked, blocks[0]);
    let other = config
        .build(8, Strategy::ALL[0])
        .unwrap()
        .next_block(&mut BlockRng::for_block(8, 3), 65_536)
        .unwrap()
        .0
        .to_vec();
    assert_ne!(blocks[0], other, "a different seed should change the bytes");
}

#[test]
fn zero_and_huge_budgets_are_handled() {
    let mut source = FormatConfig::default_of::<ApacheCombined>().build(1, Strategy::REUSE_ENCODE_ONCE).unwrap();
    let err = source.next_block(&mut BlockRng::for_block(1, 0), 0).unwrap_err();
    assert!(matches!(err, Error::BudgetTooSmall { budget: 0, .. }), "{err}");
    assert!(err.to_string().contains("apache-combined"), "{err}");
    let mut out = Vec::new();
    let err = source.fill(&mut BlockRng::for_block(1, 0), source.min_block_len() - 1, &mut out).unwrap_err();
    assert!(matches!(err, Error::BudgetTooSmall { .. }) && out.is_empty(), "{err}");
    for huge in [payforge::MAX_BUDGET + 1, usize::MAX] {
        let err = source.fill(&mut BlockRng::for_block(1, 0), huge, &mut out).unwrap_err();
        assert!(matches!(err, Error::BudgetTooLarge { .. }) && out.is_empty(), "{err}");
    }
}

#[test]
fn the_block_cache_serves_it_like_a_builtin() {
    use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize};
    let registry = Registry::builtin().with::<ApacheCombined>();
    let config = registry.default_config("apache-combined").unwrap();
    let plan = BlockPlan::new(5, BlockSize::Fixed(16 << 10), Amount::Blocks(6)).unwrap();
    let on_one = BlockCache::build(&config, payforge::StrategyChoice::Auto, &plan, 1).unwrap();
    let on_two = BlockCache::build(&config, payforge::StrategyChoice::Auto, &plan, 2).unwrap();
    let (mut a, mut b) = (on_one.handle(), on_two.handle());
    for i in 0..6 {
        let (x, y) = (a.next_block(), b.next_block());
        assert_eq!(x, y, "block {i} depends on the thread count");
        let mut source = config.build(5, Strategy::FRESH_REENCODE).unwrap();
        assert_eq!(&x[..], source.next_block(&mut BlockRng::for_block(5, i), 16 << 10).unwrap().0);
    }
}

/// `(block_size, strategy)` of the apache-combined entries of a selection file written by
/// `calibrate --write` (read by hand so the test does not depend on payforge's parser).
fn entries(text: &str) -> Vec<(u64, String)> {
    text.split("[[selection]]")
        .skip(1)
        .filter(|e| e.contains("format = \"apache-combined\""))
        .map(|e| {
            let value = |key: &str| {
                e.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().trim_matches('"').to_owned()).unwrap()
            };
            (value("block_size = ").parse().unwrap(), value("strategy = "))
        })
        .collect()
}

#[test]
fn the_calibrated_selection_is_embedded_for_auto() {
    use payforge::StrategyChoice::Auto;
    let text = include_str!("../strategies.toml");
    let measured = entries(text);
    assert_eq!(measured.iter().map(|e| e.0).collect::<Vec<_>>(), [4096, 65_536, 1 << 20], "{text}");
    let registry = Registry::builtin().with::<ApacheCombined>().with_selection(text);
    registry.validate().unwrap();
    let config = registry.default_config("apache-combined").unwrap();
    for (block_size, strategy) in &measured {
        assert_eq!(config.resolve(Auto, *block_size).name(), strategy, "{block_size}");
    }
    // A selection overlaid at run time (`generate --selection FILE`) replaces it.
    let overlay = "version = 1\ndefault = \"reuse-encode-once\"\n\n[[selection]]\nformat = \"apache-combined\"\n\
                   block_size = 65536\nstrategy = \"fresh-reencode\"\n";
    let config = registry.with_selection(overlay).default_config("apache-combined").unwrap();
    assert_eq!(config.resolve(Auto, 4096), Strategy::FRESH_REENCODE);
}
