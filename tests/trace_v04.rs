#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! trace-v04: every block decodes with rmp-serde into typed spans that satisfy the trace-agent's
//! invariants, blocks are the longest fitting prefix, identical across strategies, and fill their
//! budget; configs load like lading's and bad ones name the key and value.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use payforge::{BlockRng, ErrorKind, FormatConfig, Strategy};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

const YEAR_2000_NS: i64 = 946_684_800_000_000_000;
const KIB: usize = 1024;

/// A map that rejects repeated keys (a plain `HashMap` would silently keep the last one).
#[derive(Debug)]
struct UniqueMap<V>(HashMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map with distinct keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = HashMap::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("repeated key {k:?}")));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(V2(std::marker::PhantomData))
    }
}

/// One v0.4 span with every field required and nothing else allowed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Span {
    service: String,
    name: String,
    resource: String,
    trace_id: u64,
    span_id: u64,
    parent_id: u64,
    start: i64,
    duration: i64,
    error: i32,
    meta: UniqueMap<String>,
    metrics: UniqueMap<f64>,
    #[serde(rename = "type")]
    kind: String,
}

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

/// Checks the trace-agent invariants of one trace; returns its context.
fn check_trace(spans: &[Span]) -> (String, String, String, String) {
    assert!(!spans.is_empty(), "empty trace");
    let root = &spans[0];
    let ids: HashMap<u64, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id, i)).collect();
    assert_eq!(ids.len(), spans.len(), "span ids repeat");
    assert!(!ids.contains_key(&0), "zero span id");
    assert_eq!(spans.iter().filter(|s| s.parent_id == 0).count(), 1, "not exactly one root");
    for s in spans {
        assert_ne!(s.trace_id, 0);
        assert_eq!(s.trace_id, root.trace_id, "trace ids differ");
        assert_eq!(
            (&s.service, &s.name, &s.resource, &s.kind),
            (&root.service, &root.name, &root.resource, &root.kind)
        );
        assert!((1..=100).contains(&s.service.len()) && (1..=100).contains(&s.name.len()), "{s:?}");
        assert!(s.name.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.name);
        assert!(s.service.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.service);
        assert!(!s.resource.is_empty() && s.kind.len() <= 100);
        assert!(s.start >= YEAR_2000_NS, "start {}", s.start);
        assert!(s.duration >= 0 && s.start.checked_add(s.duration).is_some());
        assert!(s.error == 0 || s.error == 1);
        assert!(s.meta.0.keys().all(|k| !k.is_empty()) && s.metrics.0.keys().all(|k| !k.is_empty()));
        assert!(s.metrics.0.values().all(|v| v.is_finite()));
        // Walk up to the root: every parent is in the trace, no cycles, at most 8 levels.
        let mut depth = 1;
        let mut at = s;
        while at.parent_id != 0 {
            let p = &spans[*ids.get(&at.parent_id).unwrap_or_else(|| panic!("parent {} not in trace", at.parent_id))];
            assert!(p.start <= at.start && at.start + at.duration <= p.start + p.duration, "child outside parent");
            at = p;
            depth += 1;
            assert!(depth <= 8, "deeper than 8 levels");
        }
    }
    (root.service.clone(), root.name.clone(), root.resource.clone(), root.kind.clone())
}

/// Decodes a whole block with rmp-serde and checks every trace; returns the traces.
fn check_block(bytes: &[u8]) -> Vec<Vec<Span>> {
    let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(bytes).unwrap();
    assert!(!decoded.is_empty(), "empty block");
    for t in &decoded {
        check_trace(t);
    }
    decoded
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
        ("service_name_length: {constant: 101}", "trace_v04.service_name_length", "101"),
        ("operation_name_length: {inclusive: {min: 5, max: 120}}", "trace_v04.operation_name_length", "120"),
        ("operation_name_length: {constant: 0}", "trace_v04.operation_name_length", "constant: 0"),
        ("resource_name_length: {inclusive: {min: 0, max: 3}}", "trace_v04.resource_name_length", "min: 0"),
        ("tag_key_length: {constant: 0}", "trace_v04.tag_key_length", "constant: 0"),
        ("spans_per_trace: {constant: 0}", "trace_v04.spans_per_trace", "constant: 0"),
        ("spans_per_trace: {constant: 256}", "trace_v04.spans_per_trace", "256"),
        ("tags_per_span: {constant: 30}\ntag_key_length: {constant: 1}", "trace_v04.tags_per_span", "constant: 30"),
        ("metrics_per_span: {constant: 27}\nmetric_key_length: {constant: 1}", "trace_v04.metrics_per_span", "27"),
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
