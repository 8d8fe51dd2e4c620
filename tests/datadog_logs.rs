//! `datadog-logs`: every block is a valid intake array with the right field types, fits its
//! budget, is the same under every strategy, respects the entry cap, and fills its budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::formats::datadog_logs::Config;
use payforge::{BlockRng, ErrorKind, FormatConfig, Strategy};

mod grammar;

use grammar::datadog_logs::check_block;
use serde_json::Value;
const MIB: usize = 1 << 20;

/// Small entries, so that small budgets hold blocks too.
fn small_config() -> Config {
    Config {
        message_words: payforge::kit::ConfRange::inclusive(1, 4),
        tags_per_entry: payforge::kit::ConfRange::inclusive(1, 3),
        ..Config::default()
    }
}

/// Block `index` of `seed` under `strategy`, or `None` when the budget cannot hold one entry.
fn block(config: &FormatConfig, seed: u64, index: u64, strategy: Strategy, budget: usize) -> Option<(Vec<u8>, usize)> {
    let mut source = config.build(seed, strategy).unwrap();
    match source.next_block(&mut BlockRng::for_block(seed, index), budget) {
        Ok((bytes, filled)) => {
            assert_eq!(bytes.len(), filled.bytes);
            Some((bytes.to_vec(), filled.members))
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Budget, "{e}");
            assert!(budget < 4096, "a {budget}-byte budget should hold an entry: {e}");
            None
        }
    }
}

#[test]
fn blocks_are_valid_identical_across_strategies_and_within_budget() {
    let budgets = [64, 150, 400, 700, 1_000, 1_500, 2_500, 4_096, 10_000, 65_536, 200_000];
    let default = payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>();
    let small = FormatConfig::new::<payforge::formats::DatadogLogs>(small_config());
    let ts = (1_704_067_200_000, 1_767_225_599_999);
    let (mut entries, mut structured, mut blocks) = (0, 0, 0);
    for config in [&default, &small] {
        for seed in [0u64, 1, 7, 42, 0xdead_beef, u64::MAX] {
            for (i, &budget) in budgets.iter().enumerate() {
                let index = i as u64 * 3 + seed % 5;
                let first = block(config, seed, index, Strategy::ALL[0], budget);
                for strategy in &Strategy::ALL[1..] {
                    assert_eq!(block(config, seed, index, *strategy, budget), first, "{strategy} seed {seed} {budget}");
                }
                if let Some((bytes, members)) = first {
                    let (n, s) = check_block(&bytes, budget, ts);
                    assert_eq!(n, members);
                    entries += n;
                    structured += s;
                    blocks += 1;
                }
            }
        }
    }
    assert!(blocks > 80, "only {blocks} blocks");
    assert!(structured > entries / 4 && structured < entries * 3 / 4, "{structured} of {entries} structured");
}

#[test]
fn one_mib_blocks_are_valid_and_identical() {
    let config = payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>();
    for seed in [3u64, 99] {
        let first = block(&config, seed, 1, Strategy::REUSE_ENCODE_ONCE, MIB).unwrap();
        for strategy in [Strategy::FRESH_REENCODE, Strategy::FRESH_ENCODE_ONCE] {
            assert_eq!(block(&config, seed, 1, strategy, MIB).as_ref(), Some(&first), "{strategy}");
        }
        let (n, _) = check_block(&first.0, MIB, (1_704_067_200_000, 1_767_225_599_999));
        assert!(n <= 1000);
    }
}

#[test]
fn default_blocks_fill_at_least_99_percent() {
    let config = payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>();
    for (budget, blocks) in [(64 * 1024, 24u64), (MIB, 6)] {
        let mut source = config.build(11, Strategy::REUSE_ENCODE_ONCE).unwrap();
        let mut total = 0;
        for i in 0..blocks {
            let (bytes, _) = source.next_block(&mut BlockRng::for_block(11, i), budget).unwrap();
            total += bytes.len();
        }
        let fill = total as f64 / (budget as u64 * blocks) as f64;
        assert!(fill >= 0.99, "fill {fill:.4} at {budget}");
    }
}

#[test]
fn entry_cap_is_respected() {
    let config =
        FormatConfig::new::<payforge::formats::DatadogLogs>(Config { max_entries_per_array: 5, ..small_config() });
    for strategy in Strategy::ALL {
        let (bytes, members) = block(&config, 5, 0, strategy, MIB).unwrap();
        assert_eq!(members, 5, "{strategy}");
        assert_eq!(check_block(&bytes, MIB, (0, i64::MAX)).0, 5);
    }
    // The default cap is the intake's 1000, reached when entries are small.
    let (_, members) = block(
        &FormatConfig::new::<payforge::formats::DatadogLogs>(small_config()),
        5,
        0,
        Strategy::REUSE_ENCODE_ONCE,
        MIB,
    )
    .unwrap();
    assert_eq!(members, 1000);
}

#[test]
fn the_largest_budget_is_served_by_the_entry_cap() {
    // The intake cap ends the block long before 1 GiB, and the output is sized by what was
    // produced, not by the budget.
    let mut source =
        FormatConfig::default_of::<payforge::formats::DatadogLogs>().build(1, Strategy::REUSE_ENCODE_ONCE).unwrap();
    let mut out = Vec::new();
    let filled = source.fill(&mut BlockRng::for_block(1, 0), payforge::MAX_BUDGET, &mut out).unwrap();
    assert_eq!(filled.members, 1000);
    assert!(out.capacity() < 4 * filled.bytes, "capacity {} for {} bytes", out.capacity(), filled.bytes);
}

#[test]
fn timestamps_follow_the_configured_range() {
    let range = payforge::kit::ConfRange::inclusive(1_000, 1_999);
    let config = FormatConfig::new::<payforge::formats::DatadogLogs>(Config { timestamp_ms: range, ..small_config() });
    let (bytes, _) = block(&config, 8, 0, Strategy::REUSE_ENCODE_ONCE, 100_000).unwrap();
    check_block(&bytes, 100_000, (1_000, 1_999));
    let one = FormatConfig::new::<payforge::formats::DatadogLogs>(Config {
        structured_message_probability: 1.0,
        ..small_config()
    });
    let (bytes, _) = block(&one, 8, 0, Strategy::REUSE_ENCODE_ONCE, 100_000).unwrap();
    let (n, structured) = check_block(&bytes, 100_000, (0, i64::MAX));
    assert_eq!(n, structured);
}

#[test]
fn min_block_len_is_a_lower_bound() {
    for config in [Config::default(), small_config()] {
        let one =
            FormatConfig::new::<payforge::formats::DatadogLogs>(Config { max_entries_per_array: 1, ..config.clone() });
        for seed in 0..8u64 {
            let mut source = one.build(seed, Strategy::REUSE_ENCODE_ONCE).unwrap();
            let smallest = source.min_block_len();
            for i in 0..50 {
                let (bytes, _) = source.next_block(&mut BlockRng::for_block(seed, i), MIB).unwrap();
                assert!(bytes.len() >= smallest, "{} < {smallest}", bytes.len());
            }
            let err = source.next_block(&mut BlockRng::for_block(seed, 0), smallest - 1).unwrap_err().to_string();
            assert!(err.contains("datadog-logs") && err.contains(&smallest.to_string()), "{err}");
        }
    }
}

fn config_error(yaml: &str) -> String {
    match payforge::FormatConfig::parse::<payforge::formats::DatadogLogs>(yaml, "cfg.yaml".as_ref()) {
        Err(e) => e.to_string(),
        Ok(config) => {
            config.build(0, Strategy::REUSE_ENCODE_ONCE).err().expect("config should be rejected").to_string()
        }
    }
}

#[test]
fn config_errors_name_field_and_value() {
    let cases = [
        ("timestamp_ms: {inclusive: {min: 9, max: 2}}", &["datadog_logs.timestamp_ms", "min: 9"][..]),
        ("structured_message_probability: .nan", &["datadog_logs.structured_message_probability", "NaN"]),
        ("structured_message_probability: 1.5", &["structured_message_probability", "1.5"]),
        ("max_entries_per_array: 0", &["datadog_logs.max_entries_per_array", "0"]),
        ("max_entries_per_array: 1001", &["datadog_logs.max_entries_per_array", "1001"]),
        ("messages: 0", &["datadog_logs.messages", "0"]),
        ("ddsources: []", &["datadog_logs.ddsources", "[]"]),
        ("ddsources: [nginx, '']", &["datadog_logs.ddsources[1]"]),
        ("tags_per_entry: {constant: 33}", &["datadog_logs.tags_per_entry", "33"]),
        ("status_weights: {info: 0, debug: 0, error: 0, warning: 0, notice: 0, critical: 0}", &["status_weights"]),
        ("status_weights: {info: -1}", &["status_weights", "-1"]),
        ("message_wrods: {constant: 3}", &["message_wrods", "cfg.yaml"]),
        ("status_weights: {inf: 3}", &["inf"]),
    ];
    for (yaml, needles) in cases {
        let err = config_error(yaml);
        for needle in needles {
            assert!(err.contains(needle), "{yaml:?}: {err:?} lacks {needle:?}");
        }
    }
}

#[test]
fn example_config_spells_out_the_defaults() {
    let text = include_str!("../payload-fixtures/datadog-logs/config.yaml");
    let parsed_config =
        payforge::FormatConfig::parse::<payforge::formats::DatadogLogs>(text, "config.yaml".as_ref()).unwrap();
    let parsed = parsed_config.get::<payforge::formats::DatadogLogs>().unwrap().clone();
    assert_eq!(parsed, Config::default());
    let keys = serde_norway::from_str::<serde_norway::Value>(text).unwrap();
    let defaults = serde_norway::to_value(Config::default()).unwrap();
    assert_eq!(keys.as_mapping().unwrap().len(), defaults.as_mapping().unwrap().len(), "every key is spelled out");
    // lading's spelling is accepted too.
    let lading =
        payforge::FormatConfig::parse::<payforge::formats::DatadogLogs>("variant: datadog_log", "x".as_ref()).unwrap();
    assert_eq!(lading.get::<payforge::formats::DatadogLogs>(), Some(&Config::default()));
}

#[test]
fn status_weights_shape_the_statuses() {
    let only_error = payforge::formats::datadog_logs::StatusWeights {
        emergency: 0.0,
        alert: 0.0,
        critical: 0.0,
        error: 2.0,
        warning: 0.0,
        notice: 0.0,
        info: 0.0,
        debug: 0.0,
    };
    let config =
        FormatConfig::new::<payforge::formats::DatadogLogs>(Config { status_weights: only_error, ..small_config() });
    let (bytes, _) = block(&config, 4, 0, Strategy::REUSE_ENCODE_ONCE, 100_000).unwrap();
    let entries: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    assert!(entries.iter().all(|e| e["status"] == "error"));
    let (bytes, _) = block(
        &payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>(),
        4,
        0,
        Strategy::REUSE_ENCODE_ONCE,
        MIB,
    )
    .unwrap();
    let entries: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let count = |s: &str| entries.iter().filter(|e| e["status"] == s).count();
    assert!(count("info") > entries.len() / 2 && count("error") > 0 && count("emergency") == 0);
}
