#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! DogStatsD: every line passes a strict grammar check, blocks respect their budget and framing,
//! all strategies agree, lading configs load, bad configs are named, and blocks fill.

use std::path::Path;

use payforge::formats::dogstatsd::Config;
use payforge::{BlockRng, BlockSource, ErrorKind, FormatConfig, Strategy};

mod grammar;

use grammar::dogstatsd::{check_block, check_line};

#[test]
fn checker_rejects_what_the_protocol_forbids() {
    for good in [
        "a.b_c:1|c",
        "m:1:2.5:-3|h|@0.5|#k:v,k2:v:w|c:abc|e:x,y|card:low",
        "m:1|g|T1656581400",
        "_e{5,4}:hello|te t|d:12|h:host|p:low|t:info|k:key|s:src|#a:b",
        "_e{1,1}:a|b",
        "_sc|svc.check|2|d:1|h:h|#a:b|m:all good",
    ] {
        assert!(check_line(good).is_ok(), "{good}: {:?}", check_line(good));
    }
    for bad in [
        "m:1:2|s",
        "m:1|h|T5",
        "m:1|x",
        "m:|c",
        "1m:1|c",
        "m:1|c|#k:v|@0.5",
        "m:1|c|@1.5",
        "m:1|c|#kv",
        "_e{5,4}:hell|text",
        "_e{5,3}:hello|text",
        "_e{5,4}:hello|text|p:high",
        "_sc|svc|4",
        "_sc|svc|0|m:msg|#a:b",
        "_sc|svc|0|m:msg|h:x",
    ] {
        assert!(check_line(bad).is_err(), "accepted {bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks.
// ---------------------------------------------------------------------------------------------

fn build(config: &Config, seed: u64, strategy: Strategy) -> Box<dyn BlockSource> {
    FormatConfig::new::<payforge::formats::DogStatsD>(config.clone()).build(seed, strategy).unwrap()
}

/// Block `index` for `budget`, or `None` when its first member does not fit (a budget error).
fn try_block(source: &mut dyn BlockSource, seed: u64, index: u64, budget: usize) -> Option<Vec<u8>> {
    match source.next_block(&mut BlockRng::for_block(seed, index), budget) {
        Ok((bytes, filled)) => {
            assert_eq!(filled.bytes, bytes.len());
            assert!(filled.members >= 1 && !bytes.is_empty(), "an empty block");
            assert!(bytes.len() <= budget, "block of {} bytes over its budget of {budget}", bytes.len());
            Some(bytes.to_vec())
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Budget, "{e}");
            None
        }
    }
}

fn block(source: &mut dyn BlockSource, seed: u64, index: u64, budget: usize) -> Vec<u8> {
    try_block(source, seed, index, budget).expect("budget holds a member")
}

/// A config that builds fast in debug builds, for the many-seed tests.
fn small() -> Config {
    Config {
        contexts: payforge::kit::ConfRange::inclusive(50, 200),
        service_check_names: payforge::kit::ConfRange::inclusive(1, 50),
        ..Config::default()
    }
}

#[test]
fn default_blocks_pass_the_grammar() {
    let mut kinds = std::collections::BTreeMap::new();
    for seed in 0..4u64 {
        let strategy = Strategy::ALL[seed as usize % 4];
        let mut source =
            payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>().build(seed, strategy).unwrap();
        for (i, budget) in [300usize, 1_000, 4_096, 65_536, 250_000].into_iter().enumerate() {
            if let Some(block) = try_block(source.as_mut(), seed, i as u64, budget) {
                for kind in check_block(&block, false) {
                    *kinds.entry(kind).or_insert(0usize) += 1;
                }
            }
        }
    }
    assert!(kinds.len() == 3 && kinds.values().all(|n| *n > 5), "all three kinds appear: {kinds:?}");
}

#[test]
fn every_strategy_gives_the_same_bytes() {
    let configs = [
        payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>(),
        FormatConfig::new::<payforge::formats::DogStatsD>(small()),
    ];
    for (seed, config) in (0..2u64).flat_map(|s| configs.iter().map(move |c| (s, c))) {
        let mut sources: Vec<_> = Strategy::ALL.iter().map(|s| config.build(seed, *s).unwrap()).collect();
        for (i, budget) in [200usize, 777, 5_000, 65_536, 100_003].into_iter().enumerate() {
            let blocks: Vec<_> = sources.iter_mut().map(|s| try_block(s.as_mut(), seed, i as u64, budget)).collect();
            assert!(blocks.iter().all(|b| *b == blocks[0]), "seed {seed}, budget {budget}");
        }
    }
}

#[test]
fn many_seeds_and_budgets_stay_valid_and_within_budget() {
    let mut budget = 150usize;
    for seed in 0..40u64 {
        let mut config = small();
        config.length_prefix_framed = seed % 2 == 1;
        let mut source = build(&config, seed, Strategy::ALL[seed as usize % 4]);
        for i in 0..6u64 {
            budget = (budget * 7 + 1_234) % 40_000 + 150;
            if let Some(bytes) = try_block(source.as_mut(), seed, i, budget) {
                check_block(&bytes, config.length_prefix_framed);
            }
        }
    }
}

#[test]
fn length_prefix_equals_content_length() {
    let config = Config { length_prefix_framed: true, ..small() };
    for strategy in Strategy::ALL {
        let mut source = build(&config, 7, strategy);
        for (i, budget) in [64usize, 900, 20_000, 65_536].into_iter().enumerate() {
            if let Ok((bytes, filled)) = source.next_block(&mut BlockRng::for_block(7, i as u64), budget) {
                assert!(bytes.len() <= budget);
                assert_eq!(check_block(bytes, true).len(), filled.members);
            }
        }
    }
}

#[test]
fn optional_fields_and_user_lists_are_well_formed() {
    let yaml = r#"
contexts: {constant: 40}
tags_per_msg: {inclusive: {min: 0, max: 4}}
metric_names: [requests.count, latency_ms, queue.depth]
tag_names: [env, service, region]
tag_values: [prod, "api:v2", eu-west-1]
container_ids: [abc123def456]
external_data: ["pu-abc123,cn-mycontainer,it-false"]
cardinality: [low, orchestrator, high]
multivalue_pack_probability: 0.5
timestamp: {range: {inclusive: {min: 1600000000, max: 1700000000}}, probability: 1.0}
value: {float_probability: 0.3, range: {inclusive: {min: -5, max: 5}}}
"#;
    let config = payforge::FormatConfig::parse::<payforge::formats::DogStatsD>(yaml, Path::new("inline.yaml")).unwrap();
    let mut source = config.build(3, Strategy::REUSE_ENCODE_ONCE).unwrap();
    let bytes = block(source.as_mut(), 3, 0, 200_000);
    check_block(&bytes, false);
    let text = String::from_utf8(bytes).unwrap();
    for needle in ["|c:abc123def456", "|e:pu-abc123,cn-mycontainer,it-false", "|card:", "|T1", "#env:", "api:v2"] {
        assert!(text.contains(needle), "{needle} never written");
    }
    for line in text.lines().filter(|l| !l.starts_with('_')) {
        let name = line.split(':').next().unwrap();
        assert!(["requests.count", "latency_ms", "queue.depth"].contains(&name), "{name}");
        let ty = line.split('|').nth(1).unwrap();
        assert_eq!(line.contains("|T"), ty == "c" || ty == "g", "{line}");
    }
    // Values stay within the configured range.
    for line in text.lines().filter(|l| !l.starts_with('_')) {
        let values = line.split('|').next().unwrap().split(':').skip(1);
        for v in values {
            let x: f64 = v.parse().unwrap();
            assert!((-5.0..=5.0).contains(&x), "{v}");
        }
    }
}

#[test]
fn budgets_below_one_member_are_an_error_not_a_panic() {
    let mut source = build(&small(), 1, Strategy::REUSE_ENCODE_ONCE);
    let err = source.next_block(&mut BlockRng::for_block(1, 0), 3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget);
    assert!(source.min_block_len() >= 6, "{}", source.min_block_len());
}

#[test]
fn min_member_len_is_a_lower_bound() {
    let config = Config { name_length: payforge::kit::ConfRange::inclusive(1, 3), ..small() };
    let format = <payforge::formats::dogstatsd::DogStatsD as payforge::Configured>::from_config(&config, 5).unwrap();
    let least = payforge::Format::min_member_len(&format);
    let mut rng = BlockRng::for_block(5, 0);
    let mut out = Vec::new();
    for _ in 0..20_000 {
        out.clear();
        let member = payforge::Format::generate(&format, &mut rng);
        payforge::Format::encode(&format, &member, &mut out);
        assert!(out.len() >= least, "{} < {least}: {}", out.len(), String::from_utf8_lossy(&out));
    }
}

/// Average fill of the default config at 64 KiB and 1 MiB. payforge's default `tag_length` is
/// 3..=50 (lading: 3..=100) so that lines average well under 1 KB; with lading's 1.45 KB lines a
/// longest-prefix 64 KiB block leaves about 1.5% unused on average.
#[test]
fn fills_at_least_99_percent_at_64k_and_1m() {
    let mut source = payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>()
        .build(11, Strategy::REUSE_ENCODE_ONCE)
        .unwrap();
    for (budget, blocks, least) in [(64 * 1024usize, 60u64, 0.99), (1024 * 1024, 6, 0.99)] {
        let total: usize = (0..blocks).map(|i| block(source.as_mut(), 11, i, budget).len()).sum();
        let fill = total as f64 / (budget as f64 * blocks as f64);
        assert!(fill >= least, "fill {fill:.4} at {budget}");
    }
}

// ---------------------------------------------------------------------------------------------
// Configs.
// ---------------------------------------------------------------------------------------------

#[test]
fn lading_wrapper_and_fixture_load() {
    let wrapped = "variant:\n  dogstatsd:\n    contexts: {constant: 100}\n    kind_weights: {metric: 90, event: 5, service_check: 5}\n    length_prefix_framed: true\n";
    let c_config =
        payforge::FormatConfig::parse::<payforge::formats::DogStatsD>(wrapped, Path::new("lading.yaml")).unwrap();
    let c = c_config.get::<payforge::formats::DogStatsD>().unwrap().clone();
    assert_eq!(c.contexts, payforge::kit::ConfRange::constant(100));
    assert!(c.length_prefix_framed);
    assert_eq!(c.tag_length, Config::default().tag_length);

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures/dogstatsd/config.yaml");
    let c_config = payforge::FormatSpec::of::<payforge::formats::DogStatsD>().load_config(&fixture).unwrap();
    let c = c_config.get::<payforge::formats::DogStatsD>().unwrap().clone();
    assert_eq!(c, Config::default(), "the fixture spells out the defaults");

    let yaml = payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>().to_yaml().unwrap();
    let back_config = payforge::FormatConfig::parse::<payforge::formats::DogStatsD>(&yaml, Path::new("x")).unwrap();
    let back = back_config.get::<payforge::formats::DogStatsD>().unwrap().clone();
    assert_eq!(back, Config::default(), "{yaml}");

    let err = payforge::FormatConfig::parse::<payforge::formats::DogStatsD>(
        "contextz: {constant: 1}",
        Path::new("typo.yaml"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("contextz"), "{err}");
}

#[test]
fn every_config_error_names_key_and_value() {
    let cases: &[(&str, &str, &str)] = &[
        ("contexts: {inclusive: {min: 9, max: 2}}", "dogstatsd.contexts", "min: 9"),
        ("contexts: {constant: 0}", "dogstatsd.contexts", "constant: 0"),
        ("service_check_names: {constant: 0}", "dogstatsd.service_check_names", "constant: 0"),
        ("name_length: {inclusive: {min: 1, max: 5000}}", "dogstatsd.name_length", "5000"),
        ("name_length: {constant: 0}", "dogstatsd.name_length", "constant: 0"),
        ("tag_length: {inclusive: {min: 2, max: 10}}", "dogstatsd.tag_length", "min: 2"),
        ("tags_per_msg: {constant: 300}", "dogstatsd.tags_per_msg", "300"),
        (
            "contexts: {constant: 10000000}\ntags_per_msg: {constant: 255}\ntag_length: {constant: 1000}",
            "dogstatsd.contexts",
            "constant: 10000000",
        ),
        ("multivalue_count: {inclusive: {min: 8, max: 2}}", "dogstatsd.multivalue_count", "min: 8"),
        ("multivalue_pack_probability: 1.5", "dogstatsd.multivalue_pack_probability", "1.5"),
        ("multivalue_pack_probability: .nan", "dogstatsd.multivalue_pack_probability", "NaN"),
        ("sampling_probability: -0.1", "dogstatsd.sampling_probability", "-0.1"),
        ("sampling_range: {inclusive: {min: 0.5, max: 2.0}}", "dogstatsd.sampling_range", "max: 2"),
        ("sampling_range: {constant: .nan}", "dogstatsd.sampling_range", "NaN"),
        ("unique_tag_ratio: 0.0", "dogstatsd.unique_tag_ratio", "0"),
        ("unique_tag_ratio: 1.01", "dogstatsd.unique_tag_ratio", "1.01"),
        (
            "kind_weights: {metric: 0, event: 0, service_check: 0}",
            "dogstatsd.kind_weights",
            "{metric: 0, event: 0, service_check: 0}",
        ),
        (
            "metric_weights: {count: 0, gauge: 0, timer: 0, distribution: 0, set: 0, histogram: 0}",
            "dogstatsd.metric_weights",
            "{count: 0, gauge: 0, timer: 0, distribution: 0, set: 0, histogram: 0}",
        ),
        ("value: {float_probability: 0.5, range: {inclusive: {min: 5, max: -5}}}", "dogstatsd.value.range", "min: 5"),
        ("value: {float_probability: 2.0, range: {constant: 1}}", "dogstatsd.value.float_probability", "2"),
        ("timestamp: {probability: 0.5, range: {constant: 0}}", "dogstatsd.timestamp.range", "constant: 0"),
        ("timestamp: {range: {constant: 5000000000}}", "dogstatsd.timestamp.range", "5000000000"),
        ("timestamp: {probability: 1.5}", "dogstatsd.timestamp.probability", "1.5"),
        ("metric_names: [ok, \"bad|name\"]", "dogstatsd.metric_names", "bad|name"),
        ("metric_names: [\"\"]", "dogstatsd.metric_names", "\"\""),
        ("tag_names: [\"a:b\"]", "dogstatsd.tag_names", "a:b"),
        ("tag_values: [\"x,y\"]", "dogstatsd.tag_values", "x,y"),
        ("container_ids: [\"c|d\"]", "dogstatsd.container_ids", "c|d"),
        ("external_data: [\"\"]", "dogstatsd.external_data", "\"\""),
        ("cardinality: [\"lo\\nw\"]", "dogstatsd.cardinality", "lo\\nw"),
    ];
    for (yaml, key, value) in cases {
        let config =
            payforge::FormatConfig::parse::<payforge::formats::DogStatsD>(yaml, Path::new("bad.yaml")).unwrap();
        let err = config.build(0, Strategy::REUSE_ENCODE_ONCE).err().unwrap_or_else(|| panic!("accepted {yaml}"));
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Config, "{msg}");
        assert!(msg.contains(&format!("`{key}`")) && msg.contains(value), "{yaml}: {msg}");
    }
}

/// The `d:` dates of the events and service checks of `text`.
fn d_timestamps(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.starts_with('_'))
        .flat_map(|l| l.split('|'))
        .filter_map(|f| f.strip_prefix("d:"))
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn event_dates_lie_in_a_recent_window() {
    // Defaults: all of 2024 and 2025, none in the future (lading draws any u32, up to 2106).
    let mut source = payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>()
        .build(5, Strategy::REUSE_ENCODE_ONCE)
        .unwrap();
    let text = String::from_utf8(block(source.as_mut(), 5, 0, 256 * 1024)).unwrap();
    let dates = d_timestamps(&text);
    assert!(dates.len() > 20, "{} dates", dates.len());
    assert!(dates.iter().all(|d| (1_704_067_200..=1_767_225_599).contains(d)), "{dates:?}");
    let spread = dates.iter().max().unwrap() - dates.iter().min().unwrap();
    assert!(spread > 30_000_000, "dates vary over the window: {spread} s");
    // Configurable, like the logs' timestamp_ms; lading's keys still load beside it.
    let yaml = "event_timestamp: {inclusive: {min: 1600000000, max: 1600000100}}\ncontexts: {constant: 20}\n";
    let config = FormatConfig::parse::<payforge::formats::DogStatsD>(yaml, Path::new("t.yaml")).unwrap();
    let mut source = config.build(5, Strategy::REUSE_ENCODE_ONCE).unwrap();
    let text = String::from_utf8(block(source.as_mut(), 5, 0, 64 * 1024)).unwrap();
    check_block(text.as_bytes(), false);
    let dates = d_timestamps(&text);
    assert!(!dates.is_empty() && dates.iter().all(|d| (1_600_000_000..=1_600_000_100).contains(d)), "{dates:?}");
    let err =
        FormatConfig::parse::<payforge::formats::DogStatsD>("event_timestamp: {constant: 5000000000}", Path::new("t"))
            .unwrap()
            .build(0, Strategy::REUSE_ENCODE_ONCE)
            .err()
            .unwrap()
            .to_string();
    assert!(err.contains("`dogstatsd.event_timestamp`") && err.contains("5000000000"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Speed (release only): `cargo test --release --test dogstatsd -- --ignored --nocapture`.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn measure_setup_and_throughput() {
    use std::time::Instant;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let setups: Vec<f64> = (0..11u64)
        .map(|seed| {
            let start = Instant::now();
            let source = payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>()
                .build(seed, Strategy::REUSE_ENCODE_ONCE)
                .unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            drop(source);
            ms
        })
        .collect();
    println!("setup (defaults): median {:.2} ms", median(setups));
    for budget in [64 * 1024usize, 1024 * 1024] {
        for strategy in Strategy::ALL {
            let mut source =
                payforge::FormatConfig::default_of::<payforge::formats::DogStatsD>().build(1, strategy).unwrap();
            let mut out = Vec::with_capacity(budget);
            let reps: Vec<f64> = (0..9)
                .map(|r| {
                    let blocks = (16 << 20) / budget as u64;
                    let start = Instant::now();
                    let mut bytes = 0usize;
                    for i in 0..blocks {
                        out.clear();
                        bytes += source.fill(&mut BlockRng::for_block(r, i), budget, &mut out).unwrap().bytes;
                    }
                    bytes as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
                })
                .collect();
            println!("{budget:>8} B  {strategy:<18} median {:>7.0} MiB/s", median(reps));
        }
    }
}
