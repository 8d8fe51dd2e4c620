//! apache-combined in payforge's registry: the block cache serves it like a built-in format, on
//! any number of threads, and its calibrated strategy selection is embedded for `auto`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::{BlockRng, Registry, Strategy};
use payforge_apache::ApacheCombined;

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
