//! `otlp-logs`: the body of an OTLP `ExportLogsServiceRequest`, one `ResourceLogs` per member.
//!
//! A member is a resource (from a pool of `contexts.total_contexts`), `scopes_per_resource`
//! `ScopeLogs` and `logs_per_scope` `LogRecord`s in each. A record has a time and an observed
//! time at most 2 s later (both inside `timestamp_ms`), a severity number and the text of the
//! same level (`TRACE` 1, `DEBUG` 5, `INFO` 9, `WARN` 13, `ERROR` 17, `FATAL` 21, weighted by
//! `severity_weights`), a body that is a string of `body_size` words or, with
//! `structured_body_probability`, a key-value list, `attributes_per_log` attributes of every
//! `AnyValue` kind, and, with `trace_context_probability` when `trace_cardinality` is not 0, a
//! trace id from a pool of that many, a span id and the sampled flag.
//!
//! The keys lading's `opentelemetry_logs` payload takes load as they are (`variant:
//! {opentelemetry_logs: {...}}`); the others are payforge's.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_count, validate_probability, validate_weights};
use crate::error::Result;
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory, key};

use crate::formats::vocabulary::{PLAIN_LOG_WORD_BYTES, PLAIN_LOG_WORDS as WORDS};

use super::entry_pools::{EntryPools, EntryShape};
use super::pools::{AttrSet, AttrTable, BytePool, SCRATCH_BYTES, Value, any_value_len, put_any_value};
use super::wire::{self, FIXED32_FIELD, FIXED64_FIELD, len_field, put_len_header, varint_field};
use super::{DEFAULT_WINDOW_MS, MAX_SCOPES, MAX_TIMESTAMP_MS, SCHEMA_URL, Weighted};

/// Configuration of `otlp-logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Relative weights of the severity levels (lading's key).
    pub severity_weights: SeverityWeights,
    /// Resources, scopes, records and attributes per member (lading's key).
    pub contexts: Contexts,
    /// Distinct trace ids records refer to; `{constant: 0}` writes no trace context (lading's
    /// key; drawn once at setup).
    pub trace_cardinality: ConfRange,
    /// Words in a string body (lading's key), 1..=4096.
    pub body_size: ConfRange,
    /// Distinct services the resources name (1..=100000).
    pub services: u64,
    /// Distinct hosts the resources run on (1..=100000).
    pub hosts: u64,
    /// Distinct instrumentation scopes (1..=10000).
    pub scopes: u64,
    /// Distinct values of each record attribute key (1..=4096).
    pub attribute_values: u64,
    /// Distinct string bodies (1..=100000); a quarter as many structured ones.
    pub bodies: u64,
    /// Probability that a body is a key-value list instead of a string.
    pub structured_body_probability: f64,
    /// Probability that a record carries a trace id and span id (when `trace_cardinality` is
    /// not 0).
    pub trace_context_probability: f64,
    /// Record times, in milliseconds since the Unix epoch (default: 2026 and 2027).
    pub timestamp_ms: ConfRange,
}

/// Counts per member, as lading names them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Contexts {
    /// Distinct resources (drawn once at setup, 1..=100000).
    pub total_contexts: ConfRange,
    /// Attributes per resource (1..=64).
    pub attributes_per_resource: ConfRange,
    /// `ScopeLogs` per member (1..=64).
    pub scopes_per_resource: ConfRange,
    /// Attributes per scope (0..=64).
    pub attributes_per_scope: ConfRange,
    /// Records per scope (1..=1024).
    pub logs_per_scope: ConfRange,
    /// Attributes per record (0..=255).
    pub attributes_per_log: ConfRange,
}

impl Default for Contexts {
    fn default() -> Self {
        Self {
            total_contexts: ConfRange::constant(256),
            attributes_per_resource: ConfRange::inclusive(4, 10),
            scopes_per_resource: ConfRange::constant(1),
            attributes_per_scope: ConfRange::constant(0),
            logs_per_scope: ConfRange::inclusive(1, 4),
            attributes_per_log: ConfRange::inclusive(0, 6),
        }
    }
}

/// Relative weights of the severity levels (lading's integers; at least one positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityWeights {
    /// `TRACE` (1).
    pub trace: u32,
    /// `DEBUG` (5).
    pub debug: u32,
    /// `INFO` (9).
    pub info: u32,
    /// `WARN` (13).
    pub warn: u32,
    /// `ERROR` (17).
    pub error: u32,
    /// `FATAL` (21).
    pub fatal: u32,
}

impl Default for SeverityWeights {
    fn default() -> Self {
        Self { trace: 5, debug: 10, info: 50, warn: 20, error: 10, fatal: 5 }
    }
}

impl SeverityWeights {
    fn as_array(&self) -> [f64; 6] {
        [self.trace, self.debug, self.info, self.warn, self.error, self.fatal].map(f64::from)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            severity_weights: SeverityWeights::default(),
            contexts: Contexts::default(),
            trace_cardinality: ConfRange::constant(1000),
            body_size: ConfRange::inclusive(4, 24),
            services: 24,
            hosts: 64,
            scopes: 12,
            attribute_values: 32,
            bodies: 1024,
            structured_body_probability: 0.2,
            trace_context_probability: 0.5,
            timestamp_ms: ConfRange::inclusive(DEFAULT_WINDOW_MS.0, DEFAULT_WINDOW_MS.1),
        }
    }
}

/// Severity numbers and texts, by level: `(number, text)`.
pub const SEVERITIES: [(u8, &str); 6] =
    [(1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL")];

/// Longest word of [`WORDS`] plus its space.
const WORD_BYTES: usize = PLAIN_LOG_WORD_BYTES + 1;

impl Config {
    /// The shape of the resource, scope and attribute pools.
    fn entry_shape(&self) -> EntryShape<'_> {
        let c = &self.contexts;
        EntryShape {
            keys: ("otlp_logs", "attributes_per_log"),
            what: ["otlp-logs resources", "otlp-logs attributes", "otlp-logs scopes"],
            total_contexts: &c.total_contexts,
            attributes_per_resource: &c.attributes_per_resource,
            attributes_per_scope: &c.attributes_per_scope,
            attributes_per_record: &c.attributes_per_log,
            services: self.services,
            hosts: self.hosts,
            scopes: self.scopes,
            attribute_values: self.attribute_values,
        }
    }

    /// Checks every field, naming the first invalid one (`otlp_logs.<key>`) and its value.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let c = &self.contexts;
        self.entry_shape().validate()?;
        c.scopes_per_resource.validate("otlp_logs.contexts.scopes_per_resource", 1..=MAX_SCOPES)?;
        c.logs_per_scope.validate("otlp_logs.contexts.logs_per_scope", 1..=1024)?;
        self.trace_cardinality.validate("otlp_logs.trace_cardinality", 0..=1_000_000)?;
        self.body_size.validate("otlp_logs.body_size", 1..=4096)?;
        validate_count("otlp_logs.bodies", self.bodies, 100_000)?;
        validate_probability("otlp_logs.structured_body_probability", self.structured_body_probability)?;
        validate_probability("otlp_logs.trace_context_probability", self.trace_context_probability)?;
        self.timestamp_ms.validate("otlp_logs.timestamp_ms", 0..=MAX_TIMESTAMP_MS)?;
        validate_weights("otlp_logs.severity_weights", &self.severity_weights.as_array())?;
        Ok(())
    }

    fn structured_bodies(&self) -> u64 {
        self.bodies / 4 + 1
    }

    fn body_bytes(&self) -> u64 {
        // A string body: key, length, words; a structured one: three short pairs and a phrase.
        let words = setup::mul(self.body_size.max(), WORD_BYTES as u64) + 16;
        setup::mul(self.bodies, words) + setup::mul(self.structured_bodies(), words + 160)
    }
}

/// One `ResourceLogs` entry: the seed its contents are replayed from.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    seed: u64,
}

/// One record as drawn (the sizing pass and the writing pass draw it alike).
#[derive(Debug, Clone, Copy)]
struct Record {
    time_ns: u64,
    observed_ns: u64,
    level: u8,
    body: u32,
    structured: bool,
    attrs: AttrSet,
    /// `(trace id handle, span id)`.
    trace: Option<(u32, u64)>,
}

/// The `otlp-logs` format.
#[derive(Debug)]
pub struct OtlpLogs {
    config: Config,
    severities: Weighted,
    resources: BytePool,
    scopes: BytePool,
    attrs: AttrTable,
    /// Body fragments (`AnyValue` length and bytes): strings, then key-value lists.
    bodies: BytePool,
    structured: BytePool,
    trace_ids: Vec<[u8; 16]>,
    min_member_len: usize,
}

impl Configured for OtlpLogs {
    type Config = Config;
    const NAME: &'static str = "otlp-logs";
    const ABOUT: &'static str = "OTLP logs: the protobuf body of an ExportLogsServiceRequest";
    const LADING_PATH: &'static [&'static str] = &["opentelemetry_logs"];
    const DELIVERY: crate::delivery::Delivery = super::OTLP
        .with_http_path("/v1/logs")
        .with_grpc_method("/opentelemetry.proto.collector.logs.v1.LogsService/Export");

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let EntryPools { resources, attrs, scopes } = EntryPools::build(&mut rng, &c.entry_shape())?;
        let (bodies, structured) = build_bodies(&mut rng, c)?;
        let trace_count = c.trace_cardinality.sample(&mut rng) as usize;
        let mut trace_ids = setup::try_vec(trace_count, "otlp-logs trace ids")?;
        for _ in 0..trace_count {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
            id[8..].copy_from_slice(&(rng.next_u64() | 1).to_le_bytes());
            trace_ids.push(id);
        }
        let mut format = Self {
            config: c.clone(),
            severities: Weighted::new(&c.severity_weights.as_array()),
            resources,
            scopes,
            attrs,
            bodies,
            structured,
            trace_ids,
            min_member_len: 0,
        };
        format.min_member_len = format.shortest_member();
        Ok(format)
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        EntryPools::estimate(&c.entry_shape(), m);
        let offsets = setup::array_of::<u32>(c.bodies + c.structured_bodies());
        m.add("bodies", c.body_bytes() + offsets, || {
            vec![key("otlp_logs.bodies", c.bodies), key("otlp_logs.body_size", c.body_size)]
        });
        m.add("trace ids", setup::array_of::<[u8; 16]>(c.trace_cardinality.max()), || {
            vec![key("otlp_logs.trace_cardinality", c.trace_cardinality)]
        });
        // Scratch buffers of the pool builders (at most three at a time) and small strings.
        m.add("setup buffers", 3 * SCRATCH_BYTES as u64 + 4096, Vec::new);
        Ok(())
    }
}

/// String bodies (phrases of `body_size` words) and structured ones (key-value lists), as
/// fragments.
fn build_bodies(rng: &mut BlockRng, c: &Config) -> Result<(BytePool, BytePool)> {
    let words = setup::mul(c.body_size.max(), WORD_BYTES as u64) as usize;
    let mut bodies = BytePool::with_capacity(
        setup::mul(c.bodies, words as u64 + 16) as usize,
        c.bodies as usize,
        "otlp-logs bodies",
    )?;
    let mut structured = BytePool::with_capacity(
        setup::mul(c.structured_bodies(), words as u64 + 176) as usize,
        c.structured_bodies() as usize,
        "otlp-logs bodies",
    )?;
    let mut phrase = setup::try_string(words, "otlp-logs bodies")?;
    let mut scratch = setup::try_vec(words + 176, "otlp-logs bodies")?;
    let mut id = String::with_capacity(32);
    let draw_phrase = |rng: &mut BlockRng, phrase: &mut String, n: u64| {
        phrase.clear();
        for w in 0..n {
            if w > 0 {
                phrase.push(' ');
            }
            phrase.push_str(rng.pick(WORDS).copied().unwrap_or("ok"));
        }
    };
    for _ in 0..c.bodies {
        let n = c.body_size.sample(rng);
        draw_phrase(rng, &mut phrase, n);
        let value = Value::Str(&phrase);
        bodies.push_built(&mut scratch, |out| {
            wire::put_varint(out, any_value_len(&value) as u64);
            put_any_value(out, &value);
        })?;
    }
    const EVENTS: &[&str] = &["order.created", "payment.captured", "user.login", "cache.evicted", "job.finished"];
    for _ in 0..c.structured_bodies() {
        let n = c.body_size.sample(rng).min(12);
        draw_phrase(rng, &mut phrase, n);
        id.clear();
        super::pools::random_hex(rng, 32, &mut id);
        let event = rng.pick(EVENTS).copied().unwrap_or("event");
        let pairs = [("event", event), ("message", phrase.as_str()), ("request_id", id.as_str())];
        let value = Value::KvList(&pairs);
        structured.push_built(&mut scratch, |out| {
            wire::put_varint(out, any_value_len(&value) as u64);
            put_any_value(out, &value);
        })?;
    }
    Ok((bodies, structured))
}

impl OtlpLogs {
    fn draw_record(&self, rng: &mut BlockRng) -> Record {
        let time_ms = self.config.timestamp_ms.sample(rng);
        let time_ns = time_ms.saturating_mul(1_000_000) + rng.below(1_000_000);
        let observed_ns = time_ns + rng.below(2_000_000_000);
        let level = self.severities.sample(rng) as u8;
        let structured = rng.chance(self.config.structured_body_probability);
        let body = if structured { self.structured.pick(rng) } else { self.bodies.pick(rng) };
        let n = self.config.contexts.attributes_per_log.sample(rng) as u32;
        let attrs = self.attrs.draw(rng, n);
        let traced = rng.chance(self.config.trace_context_probability);
        let trace = if traced && !self.trace_ids.is_empty() {
            Some((rng.index(self.trace_ids.len()) as u32, rng.next_u64() | 1))
        } else {
            None
        };
        Record { time_ns, observed_ns, level, body, structured, attrs, trace }
    }

    #[inline]
    fn body(&self, r: &Record) -> &[u8] {
        if r.structured { self.structured.get(r.body) } else { self.bodies.get(r.body) }
    }

    #[inline]
    fn record_len(&self, r: &Record) -> usize {
        let (number, text) = SEVERITIES.get(usize::from(r.level)).copied().unwrap_or((9, "INFO"));
        let trace = if r.trace.is_some() { len_field(16) + len_field(8) + FIXED32_FIELD } else { 0 };
        2 * FIXED64_FIELD
            + varint_field(u64::from(number))
            + len_field(text.len())
            + 1
            + self.body(r).len()
            + self.attrs.set_len(&r.attrs)
            + trace
    }

    #[inline]
    fn put_record(&self, r: &Record, out: &mut Vec<u8>) {
        let (number, text) = SEVERITIES.get(usize::from(r.level)).copied().unwrap_or((9, "INFO"));
        wire::put_fixed64(out, 1, r.time_ns);
        wire::put_varint_field(out, 2, u64::from(number));
        wire::put_bytes(out, 3, text.as_bytes());
        out.push(wire::key(5, wire::LEN));
        out.extend_from_slice(self.body(r));
        self.attrs.put_set(out, 6, &r.attrs);
        if let Some((trace, span)) = r.trace {
            wire::put_fixed32(out, 8, 1);
            let id = self.trace_ids.get(trace as usize).copied().unwrap_or([1; 16]);
            wire::put_bytes(out, 9, &id);
            wire::put_bytes(out, 10, &span.to_le_bytes());
        }
        wire::put_fixed64(out, 11, r.observed_ns);
    }

    /// Walks one `ScopeLogs`: returns its length (sizing pass) or writes it after its key and
    /// length, which the caller passes (writing pass). Both passes draw alike.
    #[inline]
    fn scope_logs(&self, rng: &mut BlockRng, write: Option<(usize, &mut Vec<u8>)>) -> usize {
        let scope = self.scopes.get(self.scopes.pick(rng));
        let records = self.config.contexts.logs_per_scope.sample(rng);
        match write {
            None => {
                let mut len = scope.len() + len_field(SCHEMA_URL.len());
                for _ in 0..records {
                    len += len_field(self.record_len(&self.draw_record(rng)));
                }
                len
            }
            Some((len, out)) => {
                put_len_header(out, 2, len);
                out.extend_from_slice(scope);
                for _ in 0..records {
                    let r = self.draw_record(rng);
                    put_len_header(out, 2, self.record_len(&r));
                    self.put_record(&r, out);
                }
                wire::put_bytes(out, 3, SCHEMA_URL.as_bytes());
                len
            }
        }
    }

    /// A lower bound on a member's length: the shortest resource and scope, one record with
    /// the shortest body, attributes and severity text, and no trace context.
    fn shortest_member(&self) -> usize {
        let record = 2 * FIXED64_FIELD
            + varint_field(1)
            + len_field(4)
            + 1
            + self.bodies.min_len().min(self.structured.min_len())
            + self.attrs.min_set_len(self.config.contexts.attributes_per_log.min() as u32);
        let scope = self.scopes.min_len() + len_field(SCHEMA_URL.len()) + len_field(record);
        len_field(self.resources.min_len() + len_field(SCHEMA_URL.len()) + len_field(scope))
    }
}

impl Format for OtlpLogs {
    type Member = Member;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::Concatenated
    }

    fn min_member_len(&self) -> usize {
        self.min_member_len
    }

    fn generate(&self, rng: &mut BlockRng) -> Member {
        Member { seed: rng.next_u64() }
    }

    fn encode(&self, m: &Member, out: &mut Vec<u8>) {
        let scopes = &self.config.contexts.scopes_per_resource;
        super::put_resource_entry(&self.resources, scopes, m.seed, out, |rng, write| self.scope_logs(rng, write));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_as_long_as_sized() {
        let format = OtlpLogs::from_config(&Config::default(), 7).unwrap();
        let mut rng = BlockRng::for_block(7, 0);
        for _ in 0..200 {
            let m = format.generate(&mut rng);
            let mut out = Vec::new();
            format.encode(&m, &mut out);
            // The outer key, a length that matches the rest, and at least the lower bound.
            assert_eq!(out[0], 0x0a);
            let mut len = 0usize;
            let mut shift = 0;
            let mut at = 1;
            while out[at] & 0x80 != 0 {
                len |= usize::from(out[at] & 0x7f) << shift;
                shift += 7;
                at += 1;
            }
            len |= usize::from(out[at]) << shift;
            assert_eq!(out.len(), at + 1 + len);
            assert!(out.len() >= format.min_member_len());
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let mut c = Config::default();
        c.contexts.logs_per_scope = ConfRange::constant(0);
        let err = OtlpLogs::from_config(&c, 1).unwrap_err().to_string();
        assert!(err.contains("otlp_logs.contexts.logs_per_scope"), "{err}");
        let c = Config {
            severity_weights: SeverityWeights { trace: 0, debug: 0, info: 0, warn: 0, error: 0, fatal: 0 },
            ..Config::default()
        };
        let err = OtlpLogs::from_config(&c, 1).unwrap_err().to_string();
        assert!(err.contains("otlp_logs.severity_weights"), "{err}");
    }
}
