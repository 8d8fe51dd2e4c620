#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! trace-v05: every block decodes with rmp-serde into typed `[dictionary, traces]` whose indices
//! resolve into traces that satisfy the trace-agent's invariants; the dictionary holds `""` and
//! no repeats, in first-use order; blocks are the longest fitting prefix (checked against a naive
//! implementation that encodes every prefix from scratch), identical across strategies, never
//! over budget, and hold the same traces as trace-v04; compressed blocks decompress to valid
//! bodies; configs load like lading's and bad ones name the key and value.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use payforge::BlockSource;
use payforge::Compressor;
use payforge::formats::{TraceV04, TraceV05};
use payforge::{
    BlockRng, Compression, Configured, Error, ErrorKind, Format, FormatConfig, Generator, Strategy, StringTable,
};
use proptest::prelude::*;
use serde::Deserialize;

const YEAR_2000_NS: i64 = 946_684_800_000_000_000;
const KIB: usize = 1024;

/// A v0.5 span as the agent reads it: 12 elements, strings as dictionary indices.
type WireSpan = (u32, u32, u32, u64, u64, u64, i64, i64, i32, HashMap<u32, u32>, HashMap<u32, f64>, u32);
/// A v0.5 body: `[dictionary, traces]`.
type Body = (Vec<String>, Vec<Vec<WireSpan>>);

/// A span with its strings resolved, the shape of a v0.4 span.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    meta: HashMap<String, String>,
    metrics: HashMap<String, f64>,
    #[serde(rename = "type")]
    kind: String,
}

fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures/trace-v05/config.yaml")
}

fn fixture() -> FormatConfig {
    payforge::FormatSpec::of::<TraceV05>().load_config(&fixture_path()).unwrap()
}

fn defaults() -> FormatConfig {
    FormatConfig::default_of::<TraceV05>()
}

fn parse(yaml: &str) -> FormatConfig {
    FormatConfig::parse::<TraceV05>(yaml, Path::new("test.yaml")).unwrap()
}

fn typed(config: &FormatConfig) -> payforge::formats::trace_v05::Config {
    config.get::<TraceV05>().unwrap().clone()
}

fn block(config: &FormatConfig, strategy: Strategy, seed: u64, index: u64, budget: usize) -> Vec<u8> {
    let mut source = config.build(seed, strategy).unwrap();
    let (bytes, filled) = source.next_block(&mut BlockRng::for_block(seed, index), budget).unwrap();
    assert_eq!(filled.bytes, bytes.len());
    bytes.to_vec()
}

/// A msgpack map in wire order, rejecting a repeated key (a `HashMap` would keep the last one
/// and lose the order in which the encoder met the strings).
#[derive(Debug)]
struct OrderedMap<K, V>(Vec<(K, V)>);

impl<'de, K: Deserialize<'de> + PartialEq + std::fmt::Debug, V: Deserialize<'de>> Deserialize<'de>
    for OrderedMap<K, V>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de> + PartialEq + std::fmt::Debug, V: Deserialize<'de>> serde::de::Visitor<'de>
            for Entries<K, V>
        {
            type Value = OrderedMap<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map with distinct keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(K, V)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<K, V>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("repeated key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// A v0.5 span with its maps in wire order.
type OrderedSpan = (u32, u32, u32, u64, u64, u64, i64, i64, i32, OrderedMap<u32, u32>, OrderedMap<u32, f64>, u32);

/// Decodes a whole v0.5 body with rmp-serde into the typed body, checks the dictionary and
/// every index, and returns the traces with their strings resolved.
fn decode(bytes: &[u8]) -> Vec<Vec<Span>> {
    let (dict, traces): Body = rmp_serde::from_slice(bytes).unwrap();
    assert!(!traces.is_empty(), "empty block");
    assert_eq!(dict.first().map(String::as_str), Some(""), "the dictionary must start with the empty string");
    let distinct: HashSet<&String> = dict.iter().collect();
    assert_eq!(distinct.len(), dict.len(), "the dictionary repeats a string");
    // Every index is in range, and strings first appear in index order (encoding order:
    // service, name, resource, meta keys and values, metrics keys, type): the dictionary is
    // exactly the strings the traces use, numbered by first use.
    let (_, ordered): (Vec<String>, Vec<Vec<OrderedSpan>>) = rmp_serde::from_slice(bytes).unwrap();
    let mut next = 1u32;
    let mut used = |i: u32| {
        assert!((i as usize) < dict.len(), "index {i} out of range ({} strings)", dict.len());
        assert!(i <= next, "string {i} used before string {next}");
        if i == next {
            next += 1;
        }
    };
    for span in ordered.iter().flatten() {
        used(span.0);
        used(span.1);
        used(span.2);
        for (k, v) in &span.9.0 {
            used(*k);
            used(*v);
        }
        for (k, _) in &span.10.0 {
            used(*k);
        }
        used(span.11);
    }
    assert_eq!(next as usize, dict.len(), "the dictionary holds strings no trace uses");
    let resolve = |i: u32| dict[i as usize].clone();
    let mut out = Vec::new();
    for trace in &traces {
        let mut spans = Vec::new();
        for (service, name, resource, trace_id, span_id, parent_id, start, duration, error, meta, metrics, kind) in
            trace
        {
            spans.push(Span {
                service: resolve(*service),
                name: resolve(*name),
                resource: resolve(*resource),
                trace_id: *trace_id,
                span_id: *span_id,
                parent_id: *parent_id,
                start: *start,
                duration: *duration,
                error: *error,
                meta: meta.iter().map(|(k, v)| (resolve(*k), resolve(*v))).collect(),
                metrics: metrics.iter().map(|(k, v)| (resolve(*k), *v)).collect(),
                kind: resolve(*kind),
            });
        }
        check_trace(&spans);
        out.push(spans);
    }
    out
}

/// Checks the trace-agent invariants of one trace (as for trace-v04).
fn check_trace(spans: &[Span]) {
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
        assert!(s.meta.keys().all(|k| !k.is_empty()) && s.metrics.keys().all(|k| !k.is_empty()));
        assert!(s.metrics.values().all(|v| v.is_finite()));
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
}

/// The first `n` traces of block `index`.
fn members<F: Format>(format: &F, seed: u64, index: u64, n: usize) -> Vec<F::Member> {
    let mut rng = BlockRng::for_block(seed, index);
    (0..n).map(|_| format.generate(&mut rng)).collect()
}

/// The naive block of `traces`: encoded from scratch against a fresh dictionary, and framed
/// with rmp directly (not with payforge's framing).
fn naive(format: &TraceV05, traces: &[payforge::formats::trace_v05::Trace]) -> Vec<u8> {
    let mut dict = StringTable::new();
    let mut body = Vec::new();
    for t in traces {
        format.encode_indexed(t, &mut dict, &mut body);
    }
    let strings: Vec<&[u8]> = dict.iter().collect();
    let mut block = Vec::new();
    rmp::encode::write_array_len(&mut block, 2).unwrap();
    rmp::encode::write_array_len(&mut block, strings.len() as u32).unwrap();
    for s in strings {
        rmp::encode::write_str(&mut block, std::str::from_utf8(s).unwrap()).unwrap();
    }
    rmp::encode::write_array_len(&mut block, traces.len() as u32).unwrap();
    block.extend_from_slice(&body);
    block
}

/// Fills block `index` with every strategy (twice through one generator), checks they agree,
/// and checks the block against the naive definition. Returns the member count.
fn check_definition(
    config: &payforge::formats::trace_v05::Config,
    seed: u64,
    index: u64,
    budget: usize,
) -> Result<Option<usize>, TestCaseError> {
    let format = TraceV05::from_config(config, seed).unwrap();
    let mut first: Option<Option<(usize, Vec<u8>)>> = None;
    for strategy in Strategy::ALL {
        let mut generator = Generator::new(TraceV05::from_config(config, seed).unwrap(), strategy);
        for _ in 0..2 {
            let mut out = b"prefix".to_vec();
            let got = match generator.fill(&mut BlockRng::for_block(seed, index), budget, &mut out) {
                Ok(filled) => {
                    prop_assert!(filled.bytes <= budget, "{strategy}: {} > {budget}", filled.bytes);
                    prop_assert_eq!(filled.bytes, out.len() - 6);
                    prop_assert!(filled.encoded >= filled.bytes);
                    Some((filled.members, out[6..].to_vec()))
                }
                Err(Error::BudgetTooSmall { needed, smallest, .. }) => {
                    prop_assert_eq!(out.as_slice(), b"prefix", "nothing may be appended on error");
                    prop_assert!(needed > budget && smallest <= needed);
                    prop_assert_eq!(needed, naive(&format, &members(&format, seed, index, 1)).len());
                    None
                }
                Err(e) => return Err(TestCaseError::fail(format!("{strategy}: {e}"))),
            };
            match &first {
                None => first = Some(got),
                Some(want) => prop_assert!(*want == got, "{strategy}: differs from fresh-reencode"),
            }
        }
    }
    let Some(Some((k, bytes))) = first else { return Ok(None) };
    let traces = members(&format, seed, index, k + 1);
    prop_assert!(naive(&format, &traces[..k]) == bytes, "not the naive encoding of its {} traces", k);
    let next = naive(&format, &traces).len();
    prop_assert!(next > budget, "{} traces ({} bytes) would fit in {}", k + 1, next, budget);
    if budget <= 16 * KIB {
        // The linear definition: no shorter prefix was the first to overflow.
        for j in 1..k {
            prop_assert!(naive(&format, &traces[..j]).len() <= budget);
        }
    }
    Ok(Some(k))
}

/// 24 cases by default (fast on 2 cores); `PROPTEST_CASES` raises it for a slow job.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
}

/// Mostly small budgets (fast, and where edge cases live), sometimes up to 4 MiB.
fn budgets() -> impl proptest::strategy::Strategy<Value = usize> {
    prop_oneof![8 => 1usize..4096, 3 => 4096usize..262_144, 1 => 262_144usize..=4 << 20]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn blocks_follow_the_definition_for_every_strategy(seed in any::<u64>(), index in 0u64..1000, budget in budgets()) {
        check_definition(&typed(&defaults()), seed, index, budget)?;
    }

    #[test]
    fn fixture_blocks_follow_the_definition(seed in any::<u64>(), index in 0u64..1000, budget in budgets()) {
        check_definition(&typed(&fixture()), seed, index, budget)?;
    }
}

#[test]
fn the_largest_budgets_follow_the_definition() {
    for (seed, budget) in [(3u64, 4 << 20), (4, 1 << 20)] {
        let k = check_definition(&typed(&fixture()), seed, 0, budget).unwrap().unwrap();
        assert!(k > 1000, "{k} traces in {budget} bytes");
    }
}

#[test]
fn blocks_decode_and_hold_the_invariants() {
    for (config, name) in [(defaults(), "defaults"), (fixture(), "fixture")] {
        let min_block = config.build(1, Strategy::REUSE_ENCODE_ONCE).unwrap().min_block_len();
        for seed in 0..12u64 {
            for (i, budget) in [(0u64, 4 * KIB), (1, 16 * KIB), (2, 64 * KIB), (3, 1024 * KIB)] {
                let bytes = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, i, budget);
                assert!(bytes.len() <= budget, "{name}: over budget");
                assert!(bytes.len() >= min_block, "{name}: min_block_len {min_block} is not a lower bound");
                let decoded = decode(&bytes);
                if name == "fixture" {
                    assert!(decoded.iter().all(|t| t.len() == 5));
                    assert!(decoded.iter().flatten().all(|s| s.meta.len() == 3 && s.metrics.len() == 1));
                }
            }
        }
    }
}

#[test]
fn the_same_traces_as_trace_v04() {
    for (config, name) in [(defaults(), "defaults"), (fixture(), "fixture")] {
        let c = typed(&config);
        let v04 = FormatConfig::new::<TraceV04>(c.clone());
        let (mut v05_bytes, mut v04_bytes, mut traces) = (0usize, 0usize, 0usize);
        for seed in 0..8u64 {
            let v05 = block(&config, Strategy::REUSE_ENCODE_ONCE, seed, seed, 64 * KIB);
            let resolved = decode(&v05);
            // The v0.4 block of the same stream with room for as many traces.
            let wide = block(&v04, Strategy::REUSE_ENCODE_ONCE, seed, seed, 1 << 20);
            let v04_traces: Vec<Vec<Span>> = rmp_serde::from_slice(&wide).unwrap();
            assert!(v04_traces.len() > resolved.len(), "{name}: widen the v0.4 block");
            assert_eq!(resolved[..], v04_traces[..resolved.len()], "{name} seed {seed}: not trace-v04's traces");
            // The v0.4 encoding of exactly those traces: the wide block's first traces.
            let format = TraceV04::from_config(&c, seed).unwrap();
            let mut same = Vec::new();
            payforge::Framing::MsgpackArray.write_header(resolved.len(), 0, &mut same);
            let header = same.len();
            for t in members(&format, seed, seed, resolved.len()) {
                format.encode(&t, &mut same);
            }
            let wide_header = payforge::kit::msgpack_array_header_len(v04_traces.len());
            assert_eq!(same[header..], wide[wide_header..wide_header + same.len() - header]);
            v05_bytes += v05.len();
            v04_bytes += same.len();
            traces += resolved.len();
        }
        let ratio = v05_bytes as f64 / v04_bytes as f64;
        eprintln!("{name}: {traces} traces in 64 KiB blocks, v0.5 / v0.4 bytes for the same traces = {ratio:.3}");
        assert!(ratio < 1.0, "{name}: v0.5 is not smaller ({ratio:.3})");
    }
}

#[test]
fn encode_is_the_trace_against_an_empty_dictionary() {
    let c = typed(&fixture());
    let format = TraceV05::from_config(&c, 9).unwrap();
    let traces = members(&format, 9, 0, 20);
    let mut dict = StringTable::new();
    for t in &traces {
        let (mut alone, mut indexed) = (Vec::new(), b"earlier bytes".to_vec());
        format.encode(t, &mut alone);
        dict.clear();
        format.encode_indexed(t, &mut dict, &mut indexed);
        assert_eq!(alone[..], indexed[13..]);
        // Against a dictionary that already holds its strings, a trace adds none, and encodes
        // to the same bytes every time.
        let mut warm = StringTable::new();
        let mut scratch = Vec::new();
        for u in &traces {
            format.encode_indexed(u, &mut warm, &mut scratch);
        }
        let size = warm.size();
        let (mut again, mut twice) = (Vec::new(), Vec::new());
        format.encode_indexed(t, &mut warm, &mut again);
        format.encode_indexed(t, &mut warm, &mut twice);
        assert_eq!(warm.size(), size);
        assert_eq!(again, twice);
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
fn gzip_blocks_decompress_to_valid_bodies() {
    let c = typed(&fixture());
    let format = TraceV05::from_config(&c, 5).unwrap();
    for (index, budget) in [(0u64, 2 * KIB), (1, 16 * KIB), (2, 64 * KIB)] {
        let mut blocks = Vec::new();
        for strategy in Strategy::ALL {
            let config = fixture().with_compression(Compression::Gzip(6));
            let mut source = config.build(5, strategy).unwrap();
            let (bytes, filled) = source.next_block(&mut BlockRng::for_block(5, index), budget).unwrap();
            assert!(bytes.len() <= budget && filled.bytes == bytes.len());
            blocks.push((filled.members, bytes.to_vec()));
        }
        assert!(blocks.windows(2).all(|w| w[0] == w[1]), "strategies disagree at {budget}");
        let (k, packed) = &blocks[0];
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice()).read_to_end(&mut raw).unwrap();
        assert_eq!(decode(&raw).len(), *k);
        let traces = members(&format, 5, index, k + 1);
        assert_eq!(raw, naive(&format, &traces[..*k]), "not the naive body of its traces");
        // The certificate: one trace more, compressed from scratch, does not fit.
        let mut longer = Vec::new();
        Compressor::new(Compression::Gzip(6)).unwrap().compress(&naive(&format, &traces), &mut longer).unwrap();
        assert!(longer.len() > budget, "{} traces would have fit in {budget}", k + 1);
    }
}

#[test]
fn lading_wrapper_loads() {
    let plain = std::fs::read_to_string(fixture_path()).unwrap();
    let body: String =
        plain.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(|l| format!("      {l}\n")).collect();
    let wrapped = parse(&format!("variant:\n  trace_agent:\n    v0.5:\n{body}"));
    assert_eq!(wrapped.to_yaml().unwrap(), fixture().to_yaml().unwrap());
    let a = block(&wrapped, Strategy::REUSE_ENCODE_ONCE, 3, 0, 8 * KIB);
    assert_eq!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 3, 0, 8 * KIB));
    assert_eq!(parse("variant: {trace_agent: {v0.5: {}}}").to_yaml().unwrap(), defaults().to_yaml().unwrap());
    assert_eq!(parse(&defaults().to_yaml().unwrap()).to_yaml().unwrap(), defaults().to_yaml().unwrap());
    // The v0.4 fixture's settings are the v0.5 fixture's.
    let v04 = payforge::FormatSpec::of::<TraceV04>()
        .load_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures/trace-v04/config.yaml"))
        .unwrap();
    assert_eq!(v04.get::<TraceV04>().unwrap(), &typed(&fixture()));
}

#[test]
fn config_errors_name_key_and_value() {
    let cases = [
        ("spans_per_trace: {inclusive: {min: 9, max: 2}}", "trace_v05.spans_per_trace", "min: 9"),
        ("contexts: {constant: 0}", "trace_v05.contexts", "constant: 0"),
        ("error_rate: 1.5", "trace_v05.error_rate", "1.5"),
        // lading's lengths (0..=255) are accepted, with a warning; past them is an error.
        ("service_name_length: {constant: 256}", "trace_v05.service_name_length", "256"),
        ("spans_per_trace: {constant: 256}", "trace_v05.spans_per_trace", "256"),
        (
            "spans_per_trace: {constant: 255}\ntags_per_span: {constant: 255}\ntag_value_length: {constant: 25000}",
            "trace_v05.spans_per_trace",
            "more than the largest block",
        ),
    ];
    for (yaml, key, value) in cases {
        let err = parse(yaml).build(1, Strategy::REUSE_ENCODE_ONCE).err().unwrap_or_else(|| panic!("accepted {yaml}"));
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Config, "{msg}");
        assert!(msg.contains(key) && msg.contains(value), "{yaml}: {msg}");
    }
    // Fewer distinct keys than the tags asked for cap the maps, with a warning naming the keys.
    let capped = parse("tags_per_span: {constant: 30}\ntag_key_length: {constant: 1}");
    assert!(
        capped.warnings().join("").contains("`trace_v05.tags_per_span` = {constant: 30}"),
        "{:?}",
        capped.warnings()
    );
    let err = FormatConfig::parse::<TraceV05>("traces_per_payload: {constant: 3}", Path::new("t.yaml")).unwrap_err();
    assert!(err.to_string().contains("traces_per_payload"), "{err}");
}

#[test]
fn tiny_budgets_are_an_error_not_a_panic() {
    for strategy in Strategy::ALL {
        let mut source = fixture().build(1, strategy).unwrap();
        let smallest = source.min_block_len();
        for budget in [0, 1, smallest - 1, smallest] {
            let err = source.next_block(&mut BlockRng::for_block(1, 0), budget).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Budget, "{strategy} {budget}: {err}");
            assert!(err.to_string().contains("trace-v05"), "{err}");
        }
    }
}

#[test]
fn seeds_change_the_output_and_repeat_it() {
    let a = block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 1, 0, 4 * KIB);
    assert_eq!(a, block(&fixture(), Strategy::FRESH_REENCODE, 1, 0, 4 * KIB));
    assert_ne!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 2, 0, 4 * KIB));
    assert_ne!(a, block(&fixture(), Strategy::REUSE_ENCODE_ONCE, 1, 1, 4 * KIB));
}
