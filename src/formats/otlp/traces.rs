//! `otlp-traces`: the body of an OTLP `ExportTraceServiceRequest`; a member is one trace.
//!
//! A trace walks the service topology ([`super::topology`], lading's `opentelemetry_traces`
//! form): it starts at a root operation (a `SERVER` span), and every suboperation that fires
//! (`rate`, repeated 1..=`max_repeat` times) is a `CLIENT` span in the caller's service and, unless
//! the callee is a database, a `SERVER` span in the callee's service, whose own suboperations
//! follow, 16 levels deep at most and `max_spans_per_trace` spans in all. Siblings run one after
//! another inside their parent's time. Every span of a trace shares its 16-byte trace id; span ids
//! are 8 random non-zero bytes and each child names its parent's.
//!
//! The services become resources: the member is one `ResourceSpans` entry per service the trace
//! visits (in order of first visit), each with the service's scope and its spans. HTTP, gRPC and
//! database calls carry their semantic-convention attributes (`http.request.method`,
//! `http.route`, `http.response.status_code`; `rpc.system.name`, `rpc.method`,
//! `rpc.response.status_code`; `db.system.name`, `db.operation.name`, `db.namespace`,
//! `db.collection.name`, `db.query.text`) on both the client and the server span. With
//! `error_rate` a span has status `ERROR` and an `exception` event; spans also get
//! `events_per_span` events and, with `link_probability`, a link to another trace.
//!
//! Unlike lading, a trace keeps one trace id across HTTP and gRPC hops, so parent and child links
//! stay inside the trace.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_probability};
use crate::error::Result;
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::{BlockRng, mix64};
use crate::setup::{self, SetupMemory, key};

use super::pools::{BytePool, SCRATCH_BYTES, Value, kv_fragment_len, put_kv_fragment};
use super::topology::{self, Attribute, AttributeValue, Service, ServiceType, TaggedValue};
use super::wire::{self, FIXED64_FIELD, len_field, put_len_header, varint_field};
use super::{DEFAULT_WINDOW_MS, MAX_TIMESTAMP_MS, member_rng};

/// Configuration of `otlp-traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The topology (lading's key).
    pub services: Vec<Service>,
    /// Probability that a span has status `ERROR` (lading's key).
    pub error_rate: f64,
    /// Events per span besides the `exception` event of an error (0..=16).
    pub events_per_span: ConfRange,
    /// Probability that a span links to a span of another trace.
    pub link_probability: f64,
    /// Most spans in one trace (1..=256); the walk stops there.
    pub max_spans_per_trace: u64,
    /// Root span start times, in milliseconds since the Unix epoch (default: 2026 and 2027).
    pub timestamp_ms: ConfRange,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            services: topology::default_services(),
            error_rate: 0.01,
            events_per_span: ConfRange::inclusive(0, 1),
            link_probability: 0.05,
            max_spans_per_trace: 64,
            timestamp_ms: ConfRange::inclusive(DEFAULT_WINDOW_MS.0, DEFAULT_WINDOW_MS.1),
        }
    }
}

impl Config {
    /// Checks every field, naming the first invalid one (`otlp_traces.<key>`) and its value.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        topology::validate(&self.services)?;
        validate_probability("otlp_traces.error_rate", self.error_rate)?;
        validate_probability("otlp_traces.link_probability", self.link_probability)?;
        self.events_per_span.validate("otlp_traces.events_per_span", 0..=16)?;
        ConfRange::constant(self.max_spans_per_trace)
            .validate("otlp_traces.max_spans_per_trace", 1..=MAX_SPANS as u64)?;
        self.timestamp_ms.validate("otlp_traces.timestamp_ms", 0..=MAX_TIMESTAMP_MS)?;
        Ok(())
    }
}

/// Most spans a trace may hold (a stack array per member holds them).
pub const MAX_SPANS: usize = 256;
/// Deepest call chain walked.
const MAX_DEPTH: u8 = 16;
/// Values drawn at setup for a `random_string` or `random_int` attribute.
const RANDOM_VALUES: usize = 256;
/// `SPAN_KIND_SERVER` and `SPAN_KIND_CLIENT`.
const SERVER: u8 = 2;
const CLIENT: u8 = 3;
/// No parent.
const ROOT: u16 = u16::MAX;

/// Semantic-convention status codes of HTTP responses (integers, as the conventions type them).
const HTTP_STATUS: &[i64] = &[200, 200, 200, 201, 204, 304, 400, 401, 404, 429, 500, 503];
const GRPC_STATUS: &[&str] = &["OK", "OK", "OK", "OK", "CANCELLED", "NOT_FOUND", "DEADLINE_EXCEEDED", "UNAVAILABLE"];
/// Events a span may record: `(name, attribute key, values)`.
const EVENTS: &[(&str, &str, &[&str])] = &[
    ("message", "message.type", &["SENT", "RECEIVED"]),
    ("cache.miss", "cache.key", &["product:1042", "cart:77", "session:ab12"]),
    ("retry", "retry.reason", &["timeout", "connection reset", "503"]),
    ("feature_flag.evaluation", "feature_flag.key", &["new-checkout", "dark-mode", "fast-search"]),
];
const EXCEPTIONS: &[(&str, &str)] = &[
    ("java.net.SocketTimeoutException", "Read timed out"),
    ("io.grpc.StatusRuntimeException", "UNAVAILABLE: io exception"),
    ("psycopg2.OperationalError", "server closed the connection unexpectedly"),
    ("context.DeadlineExceeded", "context deadline exceeded"),
];
/// `Span.flags` (field 16, so a two-byte key) with the W3C sampled flag.
const SPAN_FLAGS: [u8; 6] = [0x85, 0x01, 1, 0, 0, 0];
/// The `Status` field of an error span: key, length, `message`, `code: STATUS_CODE_ERROR`.
const ERROR_STATUS: &[u8] = b"\x7a\x10\x12\x0cinternal err\x18\x02";

/// A call from an operation: the callee, how often, and the attribute list of its spans.
#[derive(Debug, Clone, Copy)]
struct Edge {
    to: u32,
    rate: f64,
    max_repeat: u32,
    list: u32,
}

/// A span as walked.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    op: u32,
    list: u32,
    service: u16,
    parent: u16,
    kind: u8,
    depth: u8,
    error: bool,
    events: u8,
    link: bool,
    span_id: u64,
    start: u64,
    end: u64,
    seed: u64,
}

/// One trace member: the seed its walk replays.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    seed: u64,
}

/// The `otlp-traces` format: the compiled topology.
#[derive(Debug)]
pub struct OtlpTraces {
    config: Config,
    /// Per service: the `Resource` field and the `InstrumentationScope` field.
    resources: BytePool,
    scopes: BytePool,
    /// Per operation: span name, service, whether the service is a database, its calls.
    names: BytePool,
    op_service: Vec<u16>,
    op_database: Vec<bool>,
    op_edges: Vec<(u32, u32)>,
    edges: Vec<Edge>,
    /// Attribute lists: per operation (its root spans), then per edge. A list is a range of
    /// `sources`; a source is a range of `values` (fragments of one key, one picked per span).
    lists: Vec<(u32, u32)>,
    sources: Vec<(u32, u32)>,
    values: BytePool,
    /// Event bodies (name and attribute, no time) and exception events.
    events: BytePool,
    exceptions: BytePool,
    roots: Vec<u32>,
    min_member_len: usize,
}

/// The candidates of one attribute, as setup values.
fn candidates(attr: &AttributeValue, rng: &mut BlockRng, out: &mut Vec<Candidate>) {
    match attr {
        AttributeValue::Int(n) | AttributeValue::Tagged(TaggedValue::StaticInt(n)) => out.push(Candidate::Int(*n)),
        AttributeValue::Str(s) | AttributeValue::Tagged(TaggedValue::Static(s)) => out.push(Candidate::Str(s.clone())),
        AttributeValue::Tagged(TaggedValue::RandomString { length }) => {
            for _ in 0..RANDOM_VALUES {
                let mut s = String::with_capacity(*length);
                super::pools::random_token(rng, *length, &mut s);
                out.push(Candidate::Str(s));
            }
        }
        AttributeValue::Tagged(TaggedValue::RandomInt { min, max }) => {
            for _ in 0..RANDOM_VALUES {
                let span = max.abs_diff(*min);
                let offset = if span == u64::MAX { rng.next_u64() } else { rng.inclusive(0, span) };
                out.push(Candidate::Int(min.wrapping_add(offset as i64)));
            }
        }
        AttributeValue::Tagged(TaggedValue::Dictionary(d)) => {
            out.extend(d.values().iter().map(|v| Candidate::Str((*v).to_string())));
        }
        AttributeValue::Tagged(TaggedValue::OneOf(values)) => out.extend(values.iter().cloned().map(Candidate::Str)),
    }
}

/// A value an attribute may take.
#[derive(Debug, Clone)]
enum Candidate {
    Str(String),
    Int(i64),
}

impl Candidate {
    fn value(&self) -> Value<'_> {
        match self {
            Candidate::Str(s) => Value::Str(s),
            Candidate::Int(n) => Value::Int(*n),
        }
    }
}

/// Upper bound of the fragment bytes and count of one attribute's candidates.
fn attribute_bound(a: &Attribute) -> (u64, u64) {
    let per = |len: usize| (a.key.len() + len + 24) as u64;
    match &a.value {
        AttributeValue::Int(_) | AttributeValue::Tagged(TaggedValue::StaticInt(_)) => (per(10), 1),
        AttributeValue::Str(s) | AttributeValue::Tagged(TaggedValue::Static(s)) => (per(s.len()), 1),
        AttributeValue::Tagged(TaggedValue::RandomString { length }) => {
            (per(*length) * RANDOM_VALUES as u64, RANDOM_VALUES as u64)
        }
        AttributeValue::Tagged(TaggedValue::RandomInt { .. }) => (per(10) * RANDOM_VALUES as u64, RANDOM_VALUES as u64),
        AttributeValue::Tagged(TaggedValue::Dictionary(d)) => {
            let v = d.values();
            (v.iter().map(|s| per(s.len())).sum(), v.len() as u64)
        }
        AttributeValue::Tagged(TaggedValue::OneOf(values)) => {
            (values.iter().map(|s| per(s.len())).sum(), values.len() as u64)
        }
    }
}

/// The semantic-convention attributes an operation's spans carry, by service type.
fn semconv(service: &Service, op: &topology::Operation) -> (String, Vec<Attribute>) {
    let text = |key: &str, v: &str| Attribute { key: key.into(), value: AttributeValue::Str(v.into()) };
    let method = op.method.as_deref().unwrap_or("");
    match service.service_type {
        None => (op.span_name.clone().unwrap_or_default(), Vec::new()),
        Some(ServiceType::Http) => {
            let route = op.route.as_deref().unwrap_or("");
            (
                format!("{method} {route}"),
                vec![
                    text("http.request.method", method),
                    text("http.route", route),
                    // Integers, as the conventions type the status code; filled below.
                    Attribute { key: "http.response.status_code".into(), value: AttributeValue::Int(i64::MIN) },
                ],
            )
        }
        Some(ServiceType::Grpc) => {
            let svc = service.grpc.as_ref().map_or("", |g| g.service.as_str());
            let full = format!("{svc}/{method}");
            let status = GRPC_STATUS.iter().map(|s| (*s).to_string()).collect();
            (
                full.clone(),
                vec![
                    text("rpc.system.name", "grpc"),
                    text("rpc.method", &full),
                    Attribute {
                        key: "rpc.response.status_code".into(),
                        value: AttributeValue::Tagged(TaggedValue::OneOf(status)),
                    },
                ],
            )
        }
        Some(ServiceType::Database) => {
            let db = service.database.as_ref();
            let system = db.map_or("", |d| d.system.as_str());
            let query = op.query.as_deref().unwrap_or("");
            let verb = query.split_whitespace().next().unwrap_or("");
            let name = match (&op.table, system) {
                (Some(t), _) => format!("{verb} {t}"),
                (None, "redis") => query.to_string(),
                (None, _) => verb.to_string(),
            };
            let mut attrs = vec![text("db.system.name", system), text("db.operation.name", verb)];
            if let Some(n) = db.and_then(|d| d.name.as_deref()) {
                attrs.push(text("db.namespace", n));
            }
            if let Some(t) = &op.table {
                attrs.push(text("db.collection.name", t));
            }
            if !query.is_empty() {
                attrs.push(text("db.query.text", query));
            }
            (name, attrs)
        }
    }
}

/// Edge attributes first, then the operation's whose keys the edge does not set.
fn combined(edge: &[Attribute], op: &[Attribute]) -> Vec<Attribute> {
    let mut all = edge.to_vec();
    all.extend(op.iter().filter(|a| !edge.iter().any(|e| e.key == a.key)).cloned());
    all
}

/// Every attribute list of a topology: per operation, then per edge (in operation order).
fn attribute_lists(services: &[Service]) -> Vec<Vec<Attribute>> {
    let mut own = Vec::new();
    for s in services {
        for op in &s.operations {
            let (_, mut attrs) = semconv(s, op);
            attrs.extend(op.attributes.iter().cloned());
            own.push(attrs);
        }
    }
    let index = |to: &str| {
        let (svc, id) = to.split_once('/').unwrap_or(("", ""));
        let mut i = 0;
        for s in services {
            for op in &s.operations {
                if s.name == svc && op.id == id {
                    return i;
                }
                i += 1;
            }
        }
        0
    };
    let mut lists = own.clone();
    for s in services {
        for op in &s.operations {
            for sub in &op.suboperations {
                lists.push(combined(&sub.attributes, own.get(index(&sub.to)).map_or(&[], Vec::as_slice)));
            }
        }
    }
    lists
}

/// Bytes and count of every attribute value fragment of the topology.
fn values_bound(lists: &[Vec<Attribute>]) -> (u64, u64) {
    lists.iter().flatten().fold((0, 0), |(b, n), a| {
        let (bytes, count) = match a.value {
            AttributeValue::Int(i64::MIN) => {
                ((a.key.len() + 34) as u64 * HTTP_STATUS.len() as u64, HTTP_STATUS.len() as u64)
            }
            _ => attribute_bound(a),
        };
        (b + bytes, n + count)
    })
}

fn text_bytes(services: &[Service]) -> u64 {
    services
        .iter()
        .map(|s| {
            let resource: u64 = s.resource_attributes.iter().map(|a| attribute_bound(a).0).sum();
            let ops: u64 = s.operations.iter().map(|o| semconv(s, o).0.len() as u64 + 16).sum();
            resource
                + ops
                + (s.name.len() + s.scope_version.len() + s.scope_name.as_ref().map_or(0, String::len)) as u64
                + 128
        })
        .sum()
}

impl Configured for OtlpTraces {
    type Config = Config;
    const NAME: &'static str = "otlp-traces";
    const ABOUT: &'static str =
        "OTLP traces walking a service topology: the protobuf body of an ExportTraceServiceRequest";
    const LADING_PATH: &'static [&'static str] = &["opentelemetry_traces"];
    const DELIVERY: crate::delivery::Delivery = super::OTLP
        .with_http_path("/v1/traces")
        .with_grpc_method("/opentelemetry.proto.collector.trace.v1.TraceService/Export");

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let what = "otlp-traces topology";
        let services = &c.services;
        let n_ops: usize = services.iter().map(|s| s.operations.len()).sum();
        let n_edges: usize = services.iter().flat_map(|s| &s.operations).map(|o| o.suboperations.len()).sum();
        let text = text_bytes(services) as usize;
        let mut scratch = setup::try_vec(SCRATCH_BYTES, what)?;
        let mut resources = BytePool::with_capacity(text, services.len(), what)?;
        let mut scopes = BytePool::with_capacity(text, services.len(), what)?;
        let mut names = BytePool::with_capacity(text, n_ops, what)?;
        let mut op_service = setup::try_vec(n_ops, what)?;
        let mut op_database = setup::try_vec(n_ops, what)?;
        let mut cands = Vec::new();
        for (si, s) in services.iter().enumerate() {
            // Resource: service.name, then each configured attribute, one value drawn per service.
            let mut attrs: Vec<u8> = Vec::new();
            attrs.push(wire::key(1, wire::LEN));
            put_kv_fragment(&mut attrs, "service.name", &Value::Str(&s.name));
            for a in &s.resource_attributes {
                cands.clear();
                candidates(&a.value, &mut rng, &mut cands);
                if let Some(v) = rng.pick(&cands) {
                    attrs.push(wire::key(1, wire::LEN));
                    put_kv_fragment(&mut attrs, &a.key, &v.value());
                }
            }
            resources.push_built(&mut scratch, |out| {
                put_len_header(out, 1, attrs.len());
                out.extend_from_slice(&attrs);
            })?;
            let scope_name = s.scope_name.as_deref().unwrap_or("");
            scopes.push_built(&mut scratch, |out| {
                let len = len_field(scope_name.len()) + len_field(s.scope_version.len());
                put_len_header(out, 1, len);
                wire::put_bytes(out, 1, scope_name.as_bytes());
                wire::put_bytes(out, 2, s.scope_version.as_bytes());
            })?;
            for op in &s.operations {
                let (name, _) = semconv(s, op);
                names.push(name.as_bytes())?;
                op_service.push(si as u16);
                op_database.push(s.service_type == Some(ServiceType::Database));
            }
        }
        let lists_cfg = attribute_lists(services);
        let (value_bytes, value_count) = values_bound(&lists_cfg);
        let mut values = BytePool::with_capacity(value_bytes as usize, value_count as usize, what)?;
        let attr_count: usize = lists_cfg.iter().map(Vec::len).sum();
        let mut sources = setup::try_vec(attr_count, what)?;
        let mut lists = setup::try_vec(lists_cfg.len(), what)?;
        for list in &lists_cfg {
            lists.push((sources.len() as u32, list.len() as u32));
            for a in list {
                cands.clear();
                match a.value {
                    AttributeValue::Int(i64::MIN) => cands.extend(HTTP_STATUS.iter().map(|s| Candidate::Int(*s))),
                    _ => candidates(&a.value, &mut rng, &mut cands),
                }
                let start = values.len() as u32;
                for cand in &cands {
                    values.push_built(&mut scratch, |out| put_kv_fragment(out, &a.key, &cand.value()))?;
                }
                sources.push((start, cands.len() as u32));
            }
        }
        let mut edges = setup::try_vec(n_edges, what)?;
        let mut op_edges = setup::try_vec(n_ops, what)?;
        let mut roots = setup::try_vec(n_ops, what)?;
        let op_index = |to: &str| -> u32 {
            let (svc, id) = to.split_once('/').unwrap_or(("", ""));
            let mut i = 0u32;
            for s in services {
                for op in &s.operations {
                    if s.name == svc && op.id == id {
                        return i;
                    }
                    i += 1;
                }
            }
            0
        };
        let mut called = vec![false; n_ops];
        for s in services {
            for op in &s.operations {
                let start = edges.len() as u32;
                for sub in &op.suboperations {
                    let to = op_index(&sub.to);
                    if let Some(flag) = called.get_mut(to as usize) {
                        *flag = true;
                    }
                    edges.push(Edge {
                        to,
                        rate: sub.rate,
                        max_repeat: sub.max_repeat,
                        list: (n_ops + edges.len()) as u32,
                    });
                }
                op_edges.push((start, op.suboperations.len() as u32));
            }
        }
        let mut i = 0u32;
        for s in services {
            for op in &s.operations {
                if op.root == Some(true) || !called.get(i as usize).copied().unwrap_or(true) {
                    roots.push(i);
                }
                i += 1;
            }
        }
        let (events, exceptions) = build_events(&mut scratch)?;
        let mut format = Self {
            config: c.clone(),
            resources,
            scopes,
            names,
            op_service,
            op_database,
            op_edges,
            edges,
            lists,
            sources,
            values,
            events,
            exceptions,
            roots,
            min_member_len: 0,
        };
        format.min_member_len = format.shortest_member();
        Ok(format)
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        let services = &c.services;
        let n_ops: u64 = services.iter().map(|s| s.operations.len() as u64).sum();
        let n_edges: u64 = services.iter().flat_map(|s| &s.operations).map(|o| o.suboperations.len() as u64).sum();
        let keys = || vec![key("otlp_traces.services", format!("{} services", c.services.len()))];
        let text = text_bytes(services);
        m.add("topology", 3 * text + setup::array_of::<u32>(2 * services.len() as u64 + n_ops), keys);
        let lists = attribute_lists(services);
        let (bytes, count) = values_bound(&lists);
        let attrs: u64 = lists.iter().map(|l| l.len() as u64).sum();
        m.add(
            "attribute values",
            bytes
                + setup::array_of::<u32>(count)
                + setup::array_of::<(u32, u32)>(attrs + lists.len() as u64)
                + setup::array_of::<Candidate>(RANDOM_VALUES as u64 * 2)
                + setup::mul(RANDOM_VALUES as u64, 1024 + 16),
            keys,
        );
        m.add(
            "call graph",
            setup::array_of::<Edge>(n_edges)
                + setup::array_of::<(u32, u32)>(n_ops)
                + setup::array_of::<u32>(n_ops)
                + 3 * n_ops,
            keys,
        );
        // Compiling the topology clones its attribute lists; the pool builders' scratch buffer.
        let cfg: u64 = lists.iter().flatten().map(|a| attribute_bound(a).0 + 64).sum();
        m.add("setup buffers", 2 * cfg + SCRATCH_BYTES as u64 + 2 * EVENT_BYTES as u64 + 8192, Vec::new);
        Ok(())
    }
}

/// Bytes of the event pools.
const EVENT_BYTES: usize = 2048;

fn build_events(scratch: &mut Vec<u8>) -> Result<(BytePool, BytePool)> {
    let mut events = BytePool::with_capacity(EVENT_BYTES, 16, "otlp-traces events")?;
    for (name, key, values) in EVENTS {
        for value in values.iter() {
            events.push_built(scratch, |out| {
                wire::put_bytes(out, 2, name.as_bytes());
                out.push(wire::key(3, wire::LEN));
                put_kv_fragment(out, key, &Value::Str(value));
            })?;
        }
    }
    let mut exceptions = BytePool::with_capacity(EVENT_BYTES, EXCEPTIONS.len(), "otlp-traces events")?;
    for (kind, message) in EXCEPTIONS {
        exceptions.push_built(scratch, |out| {
            wire::put_bytes(out, 2, b"exception");
            out.push(wire::key(3, wire::LEN));
            put_kv_fragment(out, "exception.type", &Value::Str(kind));
            out.push(wire::key(3, wire::LEN));
            put_kv_fragment(out, "exception.message", &Value::Str(message));
        })?;
    }
    debug_assert!(kv_fragment_len("exception.message", &Value::Str("x")) < EVENT_BYTES);
    Ok((events, exceptions))
}

/// Golden-ratio step of the replayable per-span draws.
const STEP: u64 = 0x9E37_79B9_7F4A_7C15;

impl OtlpTraces {
    /// Walks a trace from its member RNG into `spans`; returns the span count and trace id.
    fn walk(&self, rng: &mut BlockRng, spans: &mut [Span; MAX_SPANS]) -> (usize, [u8; 16]) {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        trace_id[8..].copy_from_slice(&(rng.next_u64() | 1).to_le_bytes());
        let cap = (self.config.max_spans_per_trace as usize).min(MAX_SPANS);
        let root = self.roots.get(rng.index(self.roots.len())).copied().unwrap_or(0);
        let start = self.config.timestamp_ms.sample(rng).saturating_mul(1_000_000) + rng.below(1_000_000);
        let end = start + 1_000_000 + rng.below(1_500_000_000);
        let service = self.op_service.get(root as usize).copied().unwrap_or(0);
        spans[0] = self.span(rng, root, root, service, ROOT, SERVER, 0, start, end);
        let mut n = 1;
        let mut i = 0;
        while i < n && n < cap {
            let parent = spans[i];
            i += 1;
            if parent.kind != SERVER || parent.depth >= MAX_DEPTH {
                continue;
            }
            let (first, count) = self.op_edges.get(parent.op as usize).copied().unwrap_or((0, 0));
            let mut cursor = parent.start;
            for edge in self.edges.iter().skip(first as usize).take(count as usize) {
                if !rng.chance(edge.rate) {
                    continue;
                }
                let repeat = 1 + rng.below(u64::from(edge.max_repeat)) as u32;
                for _ in 0..repeat {
                    if n >= cap {
                        break;
                    }
                    let s = cursor + rng.below(parent.end - cursor + 1);
                    let e = s + rng.below(parent.end - s + 1);
                    cursor = e;
                    let depth = parent.depth + 1;
                    let client =
                        self.span(rng, edge.to, edge.list, parent.service, (i - 1) as u16, CLIENT, depth, s, e);
                    spans[n] = client;
                    n += 1;
                    if self.op_database.get(edge.to as usize).copied().unwrap_or(true) || n >= cap {
                        continue;
                    }
                    let callee = self.op_service.get(edge.to as usize).copied().unwrap_or(0);
                    let ss = s + rng.below((e - s) / 4 + 1);
                    let se = e - rng.below((e - ss) / 4 + 1);
                    spans[n] = self.span(rng, edge.to, edge.list, callee, (n - 1) as u16, SERVER, depth, ss, se);
                    n += 1;
                }
            }
        }
        (n, trace_id)
    }

    #[allow(clippy::too_many_arguments)]
    fn span(
        &self,
        rng: &mut BlockRng,
        op: u32,
        list: u32,
        service: u16,
        parent: u16,
        kind: u8,
        depth: u8,
        start: u64,
        end: u64,
    ) -> Span {
        Span {
            op,
            list,
            service,
            parent,
            kind,
            depth,
            error: rng.chance(self.config.error_rate),
            events: self.config.events_per_span.sample(rng) as u8,
            link: rng.chance(self.config.link_probability),
            span_id: rng.next_u64() | 1,
            start,
            end,
            seed: rng.next_u64(),
        }
    }

    /// The value fragment of source `k` of a span's list.
    #[inline]
    fn attr(&self, span: &Span, k: u32) -> &[u8] {
        let (first, _) = self.lists.get(span.list as usize).copied().unwrap_or((0, 0));
        let (start, count) = self.sources.get((first + k) as usize).copied().unwrap_or((0, 0));
        let pick = mix64(span.seed.wrapping_add(u64::from(k).wrapping_mul(STEP)));
        self.values.get(start + ((u128::from(pick) * u128::from(count)) >> 64) as u32)
    }

    /// Event `e` of a span: its time and body.
    #[inline]
    fn event(&self, span: &Span, e: u32) -> (u64, &[u8]) {
        let x = mix64(span.seed ^ u64::from(e + 1).wrapping_mul(STEP).rotate_left(17));
        let time = span.start + x % (span.end - span.start + 1);
        let body = if span.error && e == 0 {
            self.exceptions.get((x >> 40) as u32 % self.exceptions.len().max(1) as u32)
        } else {
            self.events.get((x >> 40) as u32 % self.events.len().max(1) as u32)
        };
        (time, body)
    }

    fn event_count(span: &Span) -> u32 {
        u32::from(span.events) + u32::from(span.error)
    }

    fn link_len() -> usize {
        len_field(len_field(16) + len_field(8))
    }

    fn span_len(&self, span: &Span) -> usize {
        let (_, attrs) = self.lists.get(span.list as usize).copied().unwrap_or((0, 0));
        let mut len = len_field(16)
            + len_field(8)
            + if span.parent == ROOT { 0 } else { len_field(8) }
            + len_field(self.names.get(span.op).len())
            + varint_field(u64::from(span.kind))
            + 2 * FIXED64_FIELD
            + SPAN_FLAGS.len();
        for k in 0..attrs {
            len += 1 + self.attr(span, k).len();
        }
        for e in 0..Self::event_count(span) {
            len += len_field(FIXED64_FIELD + self.event(span, e).1.len());
        }
        if span.link {
            len += Self::link_len();
        }
        if span.error {
            len += ERROR_STATUS.len();
        }
        len
    }

    fn put_span(&self, span: &Span, spans: &[Span], trace_id: &[u8; 16], out: &mut Vec<u8>) {
        wire::put_bytes(out, 1, trace_id);
        wire::put_bytes(out, 2, &span.span_id.to_le_bytes());
        if let Some(parent) = spans.get(usize::from(span.parent)) {
            wire::put_bytes(out, 4, &parent.span_id.to_le_bytes());
        }
        wire::put_bytes(out, 5, self.names.get(span.op));
        wire::put_varint_field(out, 6, u64::from(span.kind));
        wire::put_fixed64(out, 7, span.start);
        wire::put_fixed64(out, 8, span.end);
        let (_, attrs) = self.lists.get(span.list as usize).copied().unwrap_or((0, 0));
        for k in 0..attrs {
            out.push(wire::key(9, wire::LEN));
            out.extend_from_slice(self.attr(span, k));
        }
        for e in 0..Self::event_count(span) {
            let (time, body) = self.event(span, e);
            put_len_header(out, 11, FIXED64_FIELD + body.len());
            wire::put_fixed64(out, 1, time);
            out.extend_from_slice(body);
        }
        if span.link {
            let x = mix64(span.seed ^ 0x4C49_4E4B);
            let mut linked = [0u8; 16];
            linked[..8].copy_from_slice(&x.to_le_bytes());
            linked[8..].copy_from_slice(&(mix64(x) | 1).to_le_bytes());
            put_len_header(out, 13, len_field(16) + len_field(8));
            wire::put_bytes(out, 1, &linked);
            wire::put_bytes(out, 2, &(mix64(x ^ STEP) | 1).to_le_bytes());
        }
        if span.error {
            out.extend_from_slice(ERROR_STATUS);
        }
        out.extend_from_slice(&SPAN_FLAGS);
    }

    /// A lower bound on a trace's length: one root span with no attributes, events or link, in
    /// the shortest resource and scope.
    fn shortest_member(&self) -> usize {
        let shortest_name = (0..self.names.len() as u32).map(|h| self.names.get(h).len()).min().unwrap_or(0);
        let span = len_field(16)
            + len_field(8)
            + len_field(shortest_name)
            + varint_field(1)
            + 2 * FIXED64_FIELD
            + SPAN_FLAGS.len();
        let scope_spans = self.scopes.min_len() + len_field(span);
        len_field(self.resources.min_len() + len_field(scope_spans))
    }
}

impl Format for OtlpTraces {
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
        let mut rng = member_rng(m.seed);
        let mut spans = [Span::default(); MAX_SPANS];
        let (n, trace_id) = self.walk(&mut rng, &mut spans);
        let spans = spans.get(..n).unwrap_or_default();
        let mut lens = [0usize; MAX_SPANS];
        for (len, span) in lens.iter_mut().zip(spans) {
            *len = self.span_len(span);
        }
        // Services in order of first visit; each is one ResourceSpans entry.
        let mut order = [0u16; MAX_SPANS];
        let mut services = 0;
        for span in spans {
            if !order.iter().take(services).any(|&s| s == span.service) {
                order[services] = span.service;
                services += 1;
            }
        }
        let mut total = 0;
        let mut scope_lens = [0usize; MAX_SPANS];
        for (slot, &service) in scope_lens.iter_mut().zip(order.iter().take(services)) {
            let body: usize =
                spans.iter().zip(&lens).filter(|(s, _)| s.service == service).map(|(_, &l)| len_field(l)).sum();
            *slot = self.scopes.get(u32::from(service)).len() + body;
            total += len_field(self.resources.get(u32::from(service)).len() + len_field(*slot));
        }
        out.reserve(total);
        for (&scope_len, &service) in scope_lens.iter().zip(order.iter().take(services)) {
            let resource = self.resources.get(u32::from(service));
            put_len_header(out, 1, resource.len() + len_field(scope_len));
            out.extend_from_slice(resource);
            put_len_header(out, 2, scope_len);
            out.extend_from_slice(self.scopes.get(u32::from(service)));
            for (span, &len) in spans.iter().zip(&lens).filter(|(s, _)| s.service == service) {
                put_len_header(out, 2, len);
                self.put_span(span, spans, &trace_id, out);
            }
        }
    }
}
