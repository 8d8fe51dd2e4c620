#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! trace-v05: every block decodes with rmp-serde into typed `[dictionary, traces]` whose indices
//! resolve into traces that satisfy the trace-agent's invariants; the dictionary holds `""` and
//! no repeats, in first-use order; blocks are the longest fitting prefix at the largest budgets
//! (the conformance kit's naive blocks, which `tests/conformance.rs` checks at random budgets),
//! and hold the same traces as trace-v04; compressed blocks decompress to valid bodies; configs load like lading's and bad ones name the key and value.

mod grammar;

use std::io::Read;
use std::path::Path;

use grammar::trace_v05::Span;
use payforge::Compressor;
use payforge::formats::{TraceV04, TraceV05};
use payforge::testing::Conformance;
use payforge::{BlockRng, Compression, Configured, ErrorKind, Format, FormatConfig, Strategy, StringTable};

const KIB: usize = 1024;

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

/// Decodes a block with the shared strict grammar (`tests/grammar/trace_v05.rs`: the wire
/// shape, the dictionary, every index and the protocol's invariants), then checks what the
/// default and fixture configs add.
fn decode(bytes: &[u8]) -> Vec<Vec<Span>> {
    let traces = grammar::trace_v05::decode(bytes);
    for spans in &traces {
        check_config_bounds(spans);
    }
    traces
}

/// What the default and fixture configs promise beyond the protocol: names of 1 to 100 bytes
/// starting with a lowercase letter, non-empty resources and keys.
fn check_config_bounds(spans: &[Span]) {
    for s in spans {
        assert!((1..=100).contains(&s.service.len()) && (1..=100).contains(&s.name.len()), "{s:?}");
        assert!(s.name.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.name);
        assert!(s.service.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.service);
        assert!(!s.resource.is_empty() && s.kind.len() <= 100);
        assert!(s.meta.keys().all(|k| !k.is_empty()) && s.metrics.keys().all(|k| !k.is_empty()));
    }
}

/// The first `n` traces of block `index`.
fn members<F: Format>(format: &F, seed: u64, index: u64, n: usize) -> Vec<F::Member> {
    let mut rng = BlockRng::for_block(seed, index);
    (0..n).map(|_| format.generate(&mut rng)).collect()
}

/// The naive block of the first `k` traces of block `index`, from the conformance kit: encoded
/// from scratch against a fresh dictionary and framed with rmp directly (not with payforge's
/// framing).
fn naive(format: &TraceV05, seed: u64, index: u64, k: usize) -> Vec<u8> {
    payforge::testing::naive_prefix(format, seed, index, k).unwrap()
}

/// The definition at the largest budgets (the kit's random cases reach 4 MiB only now and then):
/// every strategy gives the naive block.
#[test]
fn the_largest_budgets_follow_the_definition() {
    let kit = Conformance::<TraceV05>::new().without_defaults().config("fixture", typed(&fixture()));
    for (seed, budget) in [(3u64, 4 << 20), (4, 1 << 20)] {
        let k = kit.check_block(seed, 0, budget).unwrap()[0];
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
        assert_eq!(raw, naive(&format, 5, index, *k), "not the naive body of its traces");
        // The certificate: one trace more, compressed from scratch, does not fit.
        let mut longer = Vec::new();
        Compressor::new(Compression::Gzip(6)).unwrap().compress(&naive(&format, 5, index, k + 1), &mut longer).unwrap();
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
