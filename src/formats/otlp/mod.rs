//! OpenTelemetry OTLP formats: `otlp-logs`, `otlp-metrics` and `otlp-traces`.
//!
//! A block is the protobuf body of an `ExportLogsServiceRequest`, `ExportMetricsServiceRequest`
//! or `ExportTraceServiceRequest` (opentelemetry-proto 1.x), as OTLP/HTTP posts it with
//! `Content-Type: application/x-protobuf`. Such a request is nothing but its repeated field 1, so
//! a member is one tagged, length-prefixed `ResourceLogs` / `ResourceMetrics` entry (for traces,
//! one trace: a `ResourceSpans` entry per service it visits), and a block is the plain
//! concatenation of members ([`crate::Framing::Concatenated`]): it goes through the one sizing
//! loop like every other format.
//!
//! How a member is written ([`wire`]): a member is a 64-bit seed. Encoding replays it twice: a
//! sizing pass adds up every nested message's length bottom-up (records, scopes, the resource
//! entry) without writing, then a writing pass writes top-down, each length prefix known before
//! its message. Resources, scopes and attributes are fragments encoded once at setup
//! ([`pools`], [`resource`]) and copied by handle, so nothing is buffered and copied per
//! member, and a member never allocates.

pub mod entry_pools;
pub mod logs;
pub mod metrics;
pub mod pools;
pub mod resource;
pub mod response;
pub mod topology;
pub mod traces;
pub mod wire;

use crate::rng::BlockRng;

/// OTLP/HTTP: blocks are posted as `application/x-protobuf` to `/v1/logs`, `/v1/metrics` or
/// `/v1/traces` (each format sets its path); `--compression gzip` adds `Content-Encoding: gzip`.
/// A 2xx answer's `partial_success` counts its rejected records in the summary. Over OTLP/gRPC
/// (`grpc://`), a block is the request message of the format's `Export` method, and the
/// response message is read the same way.
const OTLP: crate::delivery::Delivery = crate::delivery::Delivery::new()
    .with_content_type("application/x-protobuf")
    .with_partial_success(response::rejected);

/// The stream a member's seed keys: each member replays its own RNG from its seed.
const MEMBER_STREAM: u64 = 0x4F54_4C50; // "OTLP"

/// The RNG a member with `seed` replays.
#[inline]
fn member_rng(seed: u64) -> BlockRng {
    BlockRng::for_block(seed, MEMBER_STREAM)
}

/// Writes the `Resource*` entry (field 1 of the request) of the member with `seed`: a resource
/// picked from `resources`, `scopes_per_resource` scope entries made by `scope`, and the schema
/// URL. `scope(rng, None)` returns a scope entry's length without writing (the sizing pass, on a
/// copy of the RNG); `scope(rng, Some((len, out)))` writes that entry, replaying the same draws.
/// So the entry's length prefix is known before its body, and nothing is written twice.
fn put_resource_entry(
    resources: &pools::BytePool,
    scopes_per_resource: &crate::config::ConfRange,
    seed: u64,
    out: &mut Vec<u8>,
    mut scope: impl FnMut(&mut BlockRng, Option<(usize, &mut Vec<u8>)>) -> usize,
) {
    let mut rng = member_rng(seed);
    let resource = resources.get(resources.pick(&mut rng));
    let scopes = scopes_per_resource.sample(&mut rng).min(MAX_SCOPES) as usize;
    let mut lens = [0usize; MAX_SCOPES as usize];
    let mut sizing = rng.clone();
    let mut body = resource.len() + wire::len_field(SCHEMA_URL.len());
    for len in lens.iter_mut().take(scopes) {
        *len = scope(&mut sizing, None);
        body += wire::len_field(*len);
    }
    out.reserve(1 + wire::varint_len(body as u64) + body);
    wire::put_len_header(out, 1, body);
    out.extend_from_slice(resource);
    for &len in lens.iter().take(scopes) {
        scope(&mut rng, Some((len, out)));
    }
    wire::put_bytes(out, 3, SCHEMA_URL.as_bytes());
}

/// Timestamps of the default window, in milliseconds since the Unix epoch: all of 2026 and
/// 2027 (recent for a collector that drops old data, fixed so payloads reproduce).
pub const DEFAULT_WINDOW_MS: (u64, u64) = (1_767_225_600_000, 1_830_297_599_999);

/// Latest timestamp a config may ask for (nanoseconds must fit in `u64`, and stay below
/// `i64::MAX` for Go collectors): 2262-04-11.
pub const MAX_TIMESTAMP_MS: u64 = 9_223_372_036_853;

/// Most scopes per resource (a stack array per member holds their lengths).
pub const MAX_SCOPES: u64 = 64;

/// Schema URL written on every resource and scope entry.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.26.0";

/// A weighted choice among up to 8 items: cumulative thresholds over 53-bit draws.
#[derive(Debug, Clone, Copy)]
struct Weighted {
    thresholds: [u64; 8],
}

impl Weighted {
    const ONE: u64 = 1 << 53;

    /// From validated weights (finite, not negative, not all zero; at most 8).
    fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        let mut thresholds = [Self::ONE; 8];
        let last_positive = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
        let mut cumulative = 0.0;
        for (slot, w) in thresholds.iter_mut().zip(weights).take(last_positive) {
            cumulative += w;
            *slot = ((cumulative / total) * Self::ONE as f64) as u64;
        }
        Self { thresholds }
    }

    #[inline]
    fn sample(&self, rng: &mut BlockRng) -> usize {
        let draw = rng.next_u64() >> 11;
        self.thresholds.iter().position(|&t| draw < t).unwrap_or(0)
    }
}
