#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! trace-v04: every block decodes with rmp-serde into typed spans that satisfy the trace-agent's
//! invariants, blocks are the longest fitting prefix, identical across strategies, and fill their
//! budget; configs load like lading's and bad ones name the key and value.

use std::collections::HashSet;
use std::path::Path;

use payforge::{BlockRng, ErrorKind, FormatConfig, Strategy};
use serde::Deserialize;
use serde::de::IgnoredAny;

mod grammar;

use grammar::trace_v04::{Span, check_block, check_trace};

const KIB: usize = 1024;

fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures/trace-v04/config.yaml")
}

fn fixture() -> FormatConfig {
    payforge::FormatSpec::of::<payforge::formats::TraceV04>().load_config(&fixture_path()).unwrap()
}

fn defaults() -> FormatConfig {
    payforge::FormatConfig::default_of::<payforge::formats::TraceV04>()
}

fn parse(yaml: &str) -> FormatConfig {
    payforge::FormatConfig::parse::<payforge::formats::TraceV04>(yaml, Path::new("test.yaml")).unwrap()
}

fn block(config: &FormatConfig, strategy: Strategy, seed: u64, index: u64, budget: usize) -> Vec<u8> {
    let mut source = config.build(seed, strategy).unwrap();
    let (bytes, filled) = source.next_block(&mut BlockRng::for_block(seed, index), budget).unwrap();
    assert_eq!(filled.bytes, bytes.len());
    bytes.to_vec()
}

/// The encoded traces of a block, as byte slices.
fn traces(block: &[u8]) -> Vec<&[u8]> {
    let mut rd = block;
    let n = rmp::decode::read_array_len(&mut rd).unwrap() as usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let before = rd;
        let _: IgnoredAny = Deserialize::deserialize(&mut rmp_serde::Deserializer::new(&mut rd)).unwrap();
        out.push(&before[..before.len() - rd.len()]);
    }
    assert!(rd.is_empty(), "{} bytes after the last trace", rd.len());
    out
}

#[test]
fn blocks_decode_and_hold_the_invariants() {
    for (config, name) in [(defaults(), "defaults"), (fixture(), "fixture")] {
        let min_block = config.build(1, Strategy::REUSE_ENCODE_ONCE).unwrap().min_block_len();
        for seed in 0..12u64 {
            for (i, budget) in [(0u64, 4 * KIB), (1, 16 * KIB), (2, 64 * KIB)] {
                let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, i, budget);
                assert!(bytes.len() <= budget, "{name}: over budget");
                let decoded = check_block(&bytes);
                for t in traces(&bytes) {
                    assert!(t.len() + 1 >= min_block, "{name}: min_block_len {min_block} is not a lower bound");
                }
                if name == "fixture" {
                    assert!(decoded.iter().all(|t| t.len() == 5));
                    assert!(decoded.iter().flatten().all(|s| s.meta.0.len() == 3 && s.metrics.0.len() == 1));
                }
            }
        }
    }
}

#[test]
fn big_traces_stay_shallow_and_distinct() {
    let config = parse(
        "contexts: {constant: 3}\nspans_per_trace: {inclusive: {min: 200, max: 255}}\n\
         tags_per_span: {inclusive: {min: 20, max: 26}}\ntag_key_length: {constant: 1}\n\
         metrics_per_span: {constant: 0}\nerror_rate: 1.0\n",
    );
    for seed in 0..4 {
        let mut contexts = HashSet::new();
        let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, 0, 256 * KIB);
        let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(&bytes).unwrap();
        for t in &decoded {
            assert!((200..=255).contains(&t.len()));
            contexts.insert(check_trace(t));
            assert!(t.iter().all(|s| s.error == 1 && s.meta.0.keys().all(|k| k.len() == 1)));
        }
        assert!(contexts.len() <= 3, "{} contexts", contexts.len());
    }
}

#[test]
fn blocks_are_the_longest_fitting_prefix_for_every_strategy() {
    for config in [defaults(), fixture()] {
        for seed in 0..16u64 {
            let budget = 2 * KIB + (seed as usize * 997) % (6 * KIB);
            let expected = block(&config, Strategy::FRESH_REENCODE, seed, seed, budget);
            for strategy in Strategy::ALL {
                assert_eq!(block(&config, strategy, seed, seed, budget), expected, "{strategy}");
            }
            // The same stream with room for more: this block is its prefix, and one more trace
            // would not have fitted.
            let big = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, seed, budget * 4);
            let (small, all) = (traces(&expected), traces(&big));
            assert!(all.len() > small.len());
            assert_eq!(small[..], all[..small.len()]);
            let next = small.len() + 1;
            let needed: usize = all[..next].iter().map(|t| t.len()).sum::<usize>() + if next < 16 { 1 } else { 3 };
            assert!(needed > budget, "seed {seed}: {next} traces ({needed} bytes) would fit in {budget}");
        }
    }
}

#[test]
fn fill_is_at_least_99_percent_without_empty_blocks() {
    for (config, name) in [(defaults(), "defaults"), (fixture(), "fixture")] {
        for (budget, blocks) in [(64 * KIB, 24u64), (1024 * KIB, 4)] {
            let mut source = config.build(7, Strategy::REUSE_ENCODE_ONCE).unwrap();
            let mut total = 0usize;
            for i in 0..blocks {
                let (bytes, filled) = source.next_block(&mut BlockRng::for_block(7, i), budget).unwrap();
                assert!(filled.members > 0 && bytes.len() <= budget);
                total += bytes.len();
            }
            let fill = total as f64 / (budget as f64 * blocks as f64);
            assert!(fill >= 0.99, "{name} at {budget}: fill {fill:.4}");
        }
    }
}

#[test]
fn lading_wrapper_loads() {
    let plain = std::fs::read_to_string(fixture_path()).unwrap();
    let body: String =
        plain.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(|l| format!("      {l}\n")).collect();
    let wrapped = parse(&format!("variant:\n  trace_agent:\n    v0.4:\n{body}"));
    assert_eq!(wrapped.to_yaml().unwrap(), fixture().to_yaml().unwrap());
    let a = block(&wrapped, Strategy::REUSE_ENCODE_ONCE, 3, 0, 8 * KIB);
    assert_eq!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 3, 0, 8 * KIB));
    assert_eq!(parse("variant: {trace_agent: {v0.4: {}}}").to_yaml().unwrap(), defaults().to_yaml().unwrap());
    // The defaults round-trip through YAML.
    assert_eq!(parse(&defaults().to_yaml().unwrap()).to_yaml().unwrap(), defaults().to_yaml().unwrap());
}

#[test]
fn config_errors_name_key_and_value() {
    let cases = [
        ("spans_per_trace: {inclusive: {min: 9, max: 2}}", "trace_v04.spans_per_trace", "min: 9"),
        ("contexts: {constant: 0}", "trace_v04.contexts", "constant: 0"),
        ("error_rate: 1.5", "trace_v04.error_rate", "1.5"),
        ("error_rate: .nan", "trace_v04.error_rate", "NaN"),
        ("error_rate: -0.1", "trace_v04.error_rate", "-0.1"),
        ("service_name_length: {constant: 256}", "trace_v04.service_name_length", "256"),
        ("operation_name_length: {inclusive: {min: 5, max: 300}}", "trace_v04.operation_name_length", "300"),
        ("operation_name_length: {inclusive: {min: 9, max: 2}}", "trace_v04.operation_name_length", "min: 9"),
        ("resource_name_length: {inclusive: {min: 0, max: 5001}}", "trace_v04.resource_name_length", "5001"),
        ("tag_key_length: {constant: 256}", "trace_v04.tag_key_length", "256"),
        ("tag_value_length: {constant: 25001}", "trace_v04.tag_value_length", "25001"),
        ("spans_per_trace: {constant: 0}", "trace_v04.spans_per_trace", "constant: 0"),
        ("spans_per_trace: {constant: 256}", "trace_v04.spans_per_trace", "256"),
        ("contexts: {constant: 1000001}", "trace_v04.contexts", "1000001"),
        // A trace of 255 spans of 255 tags of 25,000 bytes would be 1.6 GB, more than any block.
        (
            "spans_per_trace: {constant: 255}\ntags_per_span: {constant: 255}\ntag_value_length: {constant: 25000}",
            "trace_v04.spans_per_trace",
            "more than the largest block",
        ),
    ];
    for (yaml, key, value) in cases {
        let err = parse(yaml).build(1, Strategy::REUSE_ENCODE_ONCE).err().unwrap_or_else(|| panic!("accepted {yaml}"));
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Config, "{msg}");
        assert!(msg.contains(key) && msg.contains(value), "{yaml}: {msg}");
    }
    let err = payforge::FormatConfig::parse::<payforge::formats::TraceV04>(
        "traces_per_payload: {constant: 3}",
        Path::new("t.yaml"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("traces_per_payload"), "{err}");
}

#[test]
fn tiny_budgets_are_an_error_not_a_panic() {
    for strategy in Strategy::ALL {
        let mut source = fixture().build(1, strategy).unwrap();
        let smallest = source.min_block_len();
        let err = source.next_block(&mut BlockRng::for_block(1, 0), smallest - 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Budget);
        let err = source.next_block(&mut BlockRng::for_block(1, 0), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Budget);
    }
}

#[test]
fn seeds_change_the_output_and_repeat_it() {
    let a = block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 1, 0, 4 * KIB);
    assert_eq!(a, block(&fixture(), Strategy::FRESH_ENCODE_ONCE, 1, 0, 4 * KIB));
    assert_ne!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 2, 0, 4 * KIB));
    assert_ne!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 1, 1, 4 * KIB));
}

/// lading's `trace_agent: v0.4` defaults, written out.
const LADING_DEFAULTS: &str = "variant:
  trace_agent:
    v0.4:
      contexts: {inclusive: {min: 5000, max: 10000}}
      spans_per_trace: {inclusive: {min: 1, max: 50}}
      tags_per_span: {inclusive: {min: 2, max: 20}}
      metrics_per_span: {inclusive: {min: 0, max: 5}}
      error_rate: 0.01
      service_name_length: {inclusive: {min: 0, max: 128}}
      operation_name_length: {inclusive: {min: 0, max: 128}}
      resource_name_length: {inclusive: {min: 0, max: 128}}
      span_type_length: {inclusive: {min: 0, max: 128}}
      tag_key_length: {inclusive: {min: 0, max: 128}}
      tag_value_length: {inclusive: {min: 0, max: 128}}
      metric_key_length: {inclusive: {min: 0, max: 128}}
";

#[test]
fn lading_defaults_load_with_a_normalizer_warning() {
    let config = parse(LADING_DEFAULTS);
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "one line: {warnings:?}");
    let w = &warnings[0];
    for needle in [
        "trace-agent will normalize or truncate",
        "`trace_v04.service_name_length` = {inclusive: {min: 0, max: 128}} allows empty ones (replaced) and ones over 100",
        "`trace_v04.operation_name_length`",
        "`trace_v04.resource_name_length` = {inclusive: {min: 0, max: 128}} allows empty ones (set to the operation name)",
        "`trace_v04.span_type_length` = {inclusive: {min: 0, max: 128}} allows ones over 100",
    ] {
        assert!(w.contains(needle), "{needle:?} missing: {w}");
    }
    assert!(!w.contains('\n') && !w.contains("tag_key_length"), "{w}");
    assert!(defaults().warnings().is_empty() && fixture().warnings().is_empty());
    // Blocks of lading's defaults decode, with names as long as configured.
    for seed in 0..2 {
        let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, 0, 256 * KIB);
        let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(&bytes).unwrap();
        for s in decoded.iter().flatten() {
            assert!(s.service.len() <= 128 && s.name.len() <= 128 && s.resource.len() <= 128);
        }
    }
    // Empty and over-long names come out as configured.
    let config = parse(
        "contexts: {constant: 40}\nservice_name_length: {inclusive: {min: 0, max: 1}}\n\
         operation_name_length: {constant: 255}\nresource_name_length: {constant: 0}\n",
    );
    let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, 3, 0, 256 * KIB);
    let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(&bytes).unwrap();
    let spans: Vec<&Span> = decoded.iter().flatten().collect();
    assert!(spans.iter().any(|s| s.service.is_empty()) && spans.iter().any(|s| s.service.len() == 1));
    assert!(spans.iter().all(|s| s.name.len() == 255 && s.resource.is_empty()));
}

#[test]
fn too_few_distinct_keys_cap_the_maps_with_a_warning() {
    // One-character keys: 26 distinct, fewer than the 30 tags asked for.
    let config = parse("contexts: {constant: 3}\ntags_per_span: {constant: 30}\ntag_key_length: {constant: 1}\n");
    let w = config.warnings().join("\n");
    assert!(w.contains("`trace_v04.tags_per_span` = {constant: 30}") && w.contains("at most 26"), "{w}");
    let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, 1, 0, 64 * KIB);
    let decoded = check_block(&bytes);
    assert!(decoded.iter().flatten().all(|s| s.meta.0.len() == 26));
}

#[test]
fn errors_inside_a_lading_wrapper_point_into_the_users_file() {
    let text =
        "variant:\n  trace_agent:\n    v0.4:\n      contexts: {constant: 100}\n      spans_per_tracee: {constant: 5}\n";
    let err = payforge::FormatConfig::parse::<payforge::formats::TraceV04>(text, Path::new("lading.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lading.yaml") && err.contains("spans_per_tracee"), "{err}");
    assert!(err.contains("line 5 column 7"), "the location in the user's file: {err}");
    let text = "variant:\n  trace_agent:\n    v0.4:\n      contexts: {constant: -3}\n";
    let err = payforge::FormatConfig::parse::<payforge::formats::TraceV04>(text, Path::new("lading.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 4 column"), "{err}");
}
