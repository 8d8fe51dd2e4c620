//! The OTLP formats' strict grammar and oracle, written from opentelemetry-proto 1.x, independent
//! of the generator:
//!
//! 1. a strict protobuf walker: every field of every message is one the proto declares, with its
//!    declared wire type, lengths are exact and nothing trails (prost's decoder would skip unknown
//!    fields silently);
//! 2. prost + opentelemetry-proto decode the block into typed messages, and the invariants are
//!    checked field by field (severity number and text agree, start <= end, timestamps in the
//!    configured window, 16-byte trace ids and 8-byte span ids, parent and child links inside a
//!    trace, metric kinds...).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message as _;

// ---------------------------------------------------------------------------------------------
// 1. The strict walker.
// ---------------------------------------------------------------------------------------------

/// A field of a message: number, wire type and, for a message field, the message's name.
type Field = (u32, u8, Option<&'static str>);

/// The messages of OTLP the formats write, as opentelemetry-proto 1.x declares them.
fn schema(name: &str) -> &'static [Field] {
    const V: u8 = 0;
    const F64: u8 = 1;
    const L: u8 = 2;
    const F32: u8 = 5;
    match name {
        "ExportLogsServiceRequest" => &[(1, L, Some("ResourceLogs"))],
        "ExportTraceServiceRequest" => &[(1, L, Some("ResourceSpans"))],
        "ExportMetricsServiceRequest" => &[(1, L, Some("ResourceMetrics"))],
        "ResourceLogs" => &[(1, L, Some("Resource")), (2, L, Some("ScopeLogs")), (3, L, None)],
        "ResourceSpans" => &[(1, L, Some("Resource")), (2, L, Some("ScopeSpans")), (3, L, None)],
        "ResourceMetrics" => &[(1, L, Some("Resource")), (2, L, Some("ScopeMetrics")), (3, L, None)],
        "Resource" => &[(1, L, Some("KeyValue")), (2, V, None)],
        "InstrumentationScope" => &[(1, L, None), (2, L, None), (3, L, Some("KeyValue")), (4, V, None)],
        "ScopeLogs" => &[(1, L, Some("InstrumentationScope")), (2, L, Some("LogRecord")), (3, L, None)],
        "ScopeSpans" => &[(1, L, Some("InstrumentationScope")), (2, L, Some("Span")), (3, L, None)],
        "ScopeMetrics" => &[(1, L, Some("InstrumentationScope")), (2, L, Some("Metric")), (3, L, None)],
        "KeyValue" => &[(1, L, None), (2, L, Some("AnyValue"))],
        "AnyValue" => &[
            (1, L, None),
            (2, V, None),
            (3, V, None),
            (4, F64, None),
            (5, L, Some("ArrayValue")),
            (6, L, Some("KeyValueList")),
            (7, L, None),
        ],
        "ArrayValue" => &[(1, L, Some("AnyValue"))],
        "KeyValueList" => &[(1, L, Some("KeyValue"))],
        "LogRecord" => &[
            (1, F64, None),
            (11, F64, None),
            (2, V, None),
            (3, L, None),
            (5, L, Some("AnyValue")),
            (6, L, Some("KeyValue")),
            (7, V, None),
            (8, F32, None),
            (9, L, None),
            (10, L, None),
            (12, L, None),
        ],
        "Span" => &[
            (1, L, None),
            (2, L, None),
            (3, L, None),
            (4, L, None),
            (16, F32, None),
            (5, L, None),
            (6, V, None),
            (7, F64, None),
            (8, F64, None),
            (9, L, Some("KeyValue")),
            (10, V, None),
            (11, L, Some("Event")),
            (12, V, None),
            (13, L, Some("Link")),
            (14, V, None),
            (15, L, Some("Status")),
        ],
        "Event" => &[(1, F64, None), (2, L, None), (3, L, Some("KeyValue")), (4, V, None)],
        "Link" => &[(1, L, None), (2, L, None), (3, L, None), (4, L, Some("KeyValue")), (5, V, None), (6, F32, None)],
        "Status" => &[(2, L, None), (3, V, None)],
        "Metric" => &[
            (1, L, None),
            (2, L, None),
            (3, L, None),
            (5, L, Some("Gauge")),
            (7, L, Some("Sum")),
            (9, L, Some("Histogram")),
            (10, L, Some("ExponentialHistogram")),
            (11, L, None),
            (12, L, Some("KeyValue")),
        ],
        "Gauge" => &[(1, L, Some("NumberDataPoint"))],
        "Sum" => &[(1, L, Some("NumberDataPoint")), (2, V, None), (3, V, None)],
        "Histogram" => &[(1, L, Some("HistogramDataPoint")), (2, V, None)],
        "ExponentialHistogram" => &[(1, L, Some("ExponentialHistogramDataPoint")), (2, V, None)],
        "NumberDataPoint" => &[
            (7, L, Some("KeyValue")),
            (2, F64, None),
            (3, F64, None),
            (4, F64, None),
            (6, F64, None),
            (5, L, Some("Exemplar")),
            (8, V, None),
        ],
        "HistogramDataPoint" => &[
            (9, L, Some("KeyValue")),
            (2, F64, None),
            (3, F64, None),
            (4, F64, None),
            (5, F64, None),
            (6, L, None),
            (7, L, None),
            (8, L, Some("Exemplar")),
            (10, V, None),
            (11, F64, None),
            (12, F64, None),
        ],
        "ExponentialHistogramDataPoint" => &[
            (1, L, Some("KeyValue")),
            (2, F64, None),
            (3, F64, None),
            (4, F64, None),
            (5, F64, None),
            (6, V, None),
            (7, F64, None),
            (8, L, Some("Buckets")),
            (9, L, Some("Buckets")),
            (10, V, None),
            (11, L, Some("Exemplar")),
            (12, F64, None),
            (13, F64, None),
            (14, F64, None),
        ],
        "Buckets" => &[(1, V, None), (2, L, None)],
        "Exemplar" => {
            &[(7, L, Some("KeyValue")), (2, F64, None), (3, F64, None), (6, F64, None), (4, L, None), (5, L, None)]
        }
        other => panic!("no schema for {other}"),
    }
}

fn varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *buf.get(*at).unwrap_or_else(|| panic!("varint runs past the end at {at}"));
        *at += 1;
        assert!(shift < 64 || b <= 1, "varint longer than 10 bytes");
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
    }
    unreachable!()
}

/// Walks `buf` as message `name`, strictly; returns how many times each field occurred.
pub fn walk(name: &'static str, buf: &[u8]) -> BTreeMap<u32, usize> {
    let fields = schema(name);
    let mut seen = BTreeMap::new();
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at);
        let (number, wire) = ((key >> 3) as u32, (key & 7) as u8);
        let Some(&(_, want, sub)) = fields.iter().find(|f| f.0 == number) else {
            panic!("{name}: field {number} is not declared");
        };
        assert_eq!(wire, want, "{name}.{number}: wire type {wire}, declared {want}");
        *seen.entry(number).or_insert(0) += 1;
        match wire {
            0 => {
                varint(buf, &mut at);
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = varint(buf, &mut at) as usize;
                let body =
                    buf.get(at..at + len).unwrap_or_else(|| panic!("{name}.{number}: length {len} runs past the end"));
                if let Some(sub) = sub {
                    walk(sub, body);
                }
                at += len;
            }
            _ => unreachable!(),
        }
        assert!(at <= buf.len(), "{name}.{number}: runs past the end");
    }
    if matches!(name, "AnyValue") {
        assert_eq!(seen.values().sum::<usize>(), 1, "AnyValue holds exactly one value");
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// 2. Typed checks.
// ---------------------------------------------------------------------------------------------

/// The kinds of `AnyValue` seen, by name.
pub fn any_kinds(v: &AnyValue, kinds: &mut BTreeSet<&'static str>) {
    let kind = match v.value.as_ref().expect("AnyValue without a value") {
        any_value::Value::StringValue(_) => "string",
        any_value::Value::BoolValue(_) => "bool",
        any_value::Value::IntValue(_) => "int",
        any_value::Value::DoubleValue(d) => {
            assert!(d.is_finite());
            "double"
        }
        any_value::Value::ArrayValue(a) => {
            assert!(!a.values.is_empty());
            for v in &a.values {
                any_kinds(v, kinds);
            }
            "array"
        }
        any_value::Value::KvlistValue(l) => {
            check_attributes(&l.values, kinds);
            "kvlist"
        }
        any_value::Value::BytesValue(_) => "bytes",
        #[allow(unreachable_patterns)]
        _ => "other",
    };
    kinds.insert(kind);
}

/// Keys are non-empty and distinct; every value has a kind.
pub fn check_attributes(attrs: &[KeyValue], kinds: &mut BTreeSet<&'static str>) {
    let mut keys = BTreeSet::new();
    for kv in attrs {
        assert!(!kv.key.is_empty(), "empty attribute key");
        assert!(keys.insert(kv.key.as_str()), "duplicate attribute key {}", kv.key);
        any_kinds(kv.value.as_ref().expect("attribute without value"), kinds);
    }
}

/// What a logs block held.
#[derive(Debug, Default)]
pub struct LogsSummary {
    /// `ResourceLogs` entries (members).
    pub resources: usize,
    /// Log records.
    pub records: usize,
    /// Records with trace context.
    pub traced: usize,
    /// Structured (kvlist) bodies.
    pub structured: usize,
    /// `AnyValue` kinds seen in attributes and bodies.
    pub kinds: BTreeSet<&'static str>,
    /// Severity numbers seen.
    pub severities: BTreeSet<i32>,
}

/// Checks an `otlp-logs` block with timestamps in `window_ms`.
pub fn check_logs(block: &[u8], window_ms: (u64, u64)) -> LogsSummary {
    walk("ExportLogsServiceRequest", block);
    let req = ExportLogsServiceRequest::decode(block).expect("prost decodes the block");
    let mut s = LogsSummary { resources: req.resource_logs.len(), ..LogsSummary::default() };
    let (lo, hi) = (window_ms.0 * 1_000_000, (window_ms.1 + 1) * 1_000_000);
    for rl in &req.resource_logs {
        let resource = rl.resource.as_ref().expect("resource");
        check_attributes(&resource.attributes, &mut s.kinds);
        assert_eq!(resource.attributes.first().map(|a| a.key.as_str()), Some("service.name"));
        assert!(!rl.scope_logs.is_empty());
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref().expect("scope");
            assert!(!scope.name.is_empty());
            check_attributes(&scope.attributes, &mut s.kinds);
            assert!(!sl.log_records.is_empty());
            for r in &sl.log_records {
                s.records += 1;
                assert!((lo..hi).contains(&r.time_unix_nano), "time {} outside the window", r.time_unix_nano);
                assert!(r.observed_time_unix_nano >= r.time_unix_nano);
                assert!(r.observed_time_unix_nano - r.time_unix_nano < 2_000_000_000);
                let text = match r.severity_number {
                    1..=4 => "TRACE",
                    5..=8 => "DEBUG",
                    9..=12 => "INFO",
                    13..=16 => "WARN",
                    17..=20 => "ERROR",
                    21..=24 => "FATAL",
                    n => panic!("severity number {n}"),
                };
                assert_eq!(r.severity_text, text, "severity number {} and text disagree", r.severity_number);
                s.severities.insert(r.severity_number);
                let body = r.body.as_ref().expect("body");
                if matches!(body.value, Some(any_value::Value::KvlistValue(_))) {
                    s.structured += 1;
                } else {
                    let Some(any_value::Value::StringValue(text)) = &body.value else { panic!("body kind") };
                    assert!(!text.is_empty());
                }
                any_kinds(body, &mut s.kinds);
                check_attributes(&r.attributes, &mut s.kinds);
                if r.trace_id.is_empty() {
                    assert!(r.span_id.is_empty());
                } else {
                    s.traced += 1;
                    assert_eq!(r.trace_id.len(), 16);
                    assert_eq!(r.span_id.len(), 8);
                    assert!(r.trace_id.iter().any(|&b| b != 0) && r.span_id.iter().any(|&b| b != 0));
                    assert_eq!(r.flags & 0xff, 1);
                }
            }
        }
    }
    s
}

/// What a traces block held.
#[derive(Debug, Default)]
pub struct TracesSummary {
    /// `ResourceSpans` entries.
    pub resources: usize,
    /// Distinct traces.
    pub traces: usize,
    /// Spans.
    pub spans: usize,
    /// Span kinds seen.
    pub kinds: BTreeSet<i32>,
    /// Spans with status ERROR, with events, with links.
    pub errors: usize,
    /// Spans with events.
    pub events: usize,
    /// Spans with links.
    pub links: usize,
    /// Attribute keys seen on spans.
    pub keys: BTreeSet<String>,
    /// `service.name`s seen.
    pub services: BTreeSet<String>,
}

/// Span id -> (parent span id, start, end), of one trace.
type SpanTimes = BTreeMap<Vec<u8>, (Vec<u8>, u64, u64)>;

/// Checks an `otlp-traces` block with root starts in `window_ms`.
pub fn check_traces(block: &[u8], window_ms: (u64, u64)) -> TracesSummary {
    walk("ExportTraceServiceRequest", block);
    let req = ExportTraceServiceRequest::decode(block).expect("prost decodes the block");
    let mut s = TracesSummary { resources: req.resource_spans.len(), ..TracesSummary::default() };
    let (lo, hi) = (window_ms.0 * 1_000_000, window_ms.1 * 1_000_000 + 3_000_000_000);
    // trace id -> span id -> (parent, start, end)
    let mut traces: BTreeMap<Vec<u8>, SpanTimes> = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().expect("resource");
        check_attributes(&resource.attributes, &mut kinds);
        let name = resource.attributes.first().expect("service.name");
        assert_eq!(name.key, "service.name");
        if let Some(any_value::Value::StringValue(n)) = name.value.as_ref().and_then(|v| v.value.as_ref()) {
            s.services.insert(n.clone());
        }
        for ss in &rs.scope_spans {
            assert!(ss.scope.is_some());
            assert!(!ss.spans.is_empty());
            for span in &ss.spans {
                s.spans += 1;
                assert_eq!(span.trace_id.len(), 16, "trace id length");
                assert_eq!(span.span_id.len(), 8, "span id length");
                assert!(span.span_id.iter().any(|&b| b != 0));
                assert!(span.parent_span_id.is_empty() || span.parent_span_id.len() == 8);
                assert!(span.start_time_unix_nano <= span.end_time_unix_nano, "start after end");
                assert!((lo..hi).contains(&span.start_time_unix_nano), "start outside the window");
                assert!(!span.name.is_empty());
                assert!(matches!(span.kind, 2 | 3), "kind {}", span.kind);
                s.kinds.insert(span.kind);
                check_attributes(&span.attributes, &mut kinds);
                s.keys.extend(span.attributes.iter().map(|a| a.key.clone()));
                if let Some(status) = &span.status {
                    assert_eq!(status.code, 2);
                    s.errors += 1;
                    assert!(span.events.iter().any(|e| e.name == "exception"), "an error span records its exception");
                }
                if !span.events.is_empty() {
                    s.events += 1;
                }
                for e in &span.events {
                    assert!((span.start_time_unix_nano..=span.end_time_unix_nano).contains(&e.time_unix_nano));
                    check_attributes(&e.attributes, &mut kinds);
                }
                for l in &span.links {
                    assert_eq!((l.trace_id.len(), l.span_id.len()), (16, 8));
                    assert_ne!(l.trace_id, span.trace_id);
                }
                s.links += usize::from(!span.links.is_empty());
                let spans = traces.entry(span.trace_id.clone()).or_default();
                let old = spans.insert(
                    span.span_id.clone(),
                    (span.parent_span_id.clone(), span.start_time_unix_nano, span.end_time_unix_nano),
                );
                assert!(old.is_none(), "span id repeated in a trace");
            }
        }
    }
    s.traces = traces.len();
    for spans in traces.values() {
        let roots = spans.values().filter(|(p, _, _)| p.is_empty()).count();
        assert_eq!(roots, 1, "one root per trace");
        for (parent, start, end) in spans.values() {
            if parent.is_empty() {
                continue;
            }
            let (_, ps, pe) = spans.get(parent).expect("parent inside the trace");
            assert!(ps <= start && end <= pe, "child outside its parent's time");
        }
    }
    s
}

/// What a metrics block held.
#[derive(Debug, Default)]
pub struct MetricsSummary {
    /// `ResourceMetrics` entries.
    pub resources: usize,
    /// Metrics by kind (`gauge`, `sum-monotonic-delta`...).
    pub kinds: BTreeMap<String, usize>,
    /// Data points.
    pub points: usize,
    /// Exemplars.
    pub exemplars: usize,
}

/// Checks an `otlp-metrics` block with times in `window_ms`.
pub fn check_metrics(block: &[u8], window_ms: (u64, u64)) -> MetricsSummary {
    walk("ExportMetricsServiceRequest", block);
    let req = ExportMetricsServiceRequest::decode(block).expect("prost decodes the block");
    let mut s = MetricsSummary { resources: req.resource_metrics.len(), ..MetricsSummary::default() };
    let (lo, hi) = (window_ms.0 * 1_000_000, (window_ms.1 + 1) * 1_000_000);
    let mut kinds = BTreeSet::new();
    let times = |start: u64, time: u64| {
        assert!((lo..hi).contains(&time), "time {time} outside the window");
        assert!(start <= time, "start after time");
    };
    for rm in &req.resource_metrics {
        check_attributes(&rm.resource.as_ref().expect("resource").attributes, &mut kinds);
        for sm in &rm.scope_metrics {
            assert!(!sm.metrics.is_empty());
            for m in &sm.metrics {
                assert!(!m.name.is_empty());
                let kind = match m.data.as_ref().expect("metric data") {
                    metric::Data::Gauge(g) => {
                        for p in &g.data_points {
                            times(p.start_time_unix_nano, p.time_unix_nano);
                            check_attributes(&p.attributes, &mut kinds);
                            assert!(p.value.is_some());
                            s.exemplars += p.exemplars.len();
                        }
                        s.points += g.data_points.len();
                        "gauge".to_string()
                    }
                    metric::Data::Sum(sum) => {
                        assert!(matches!(sum.aggregation_temporality, 1 | 2));
                        for p in &sum.data_points {
                            times(p.start_time_unix_nano, p.time_unix_nano);
                            check_attributes(&p.attributes, &mut kinds);
                            if sum.is_monotonic {
                                match p.value {
                                    Some(number_data_point::Value::AsInt(v)) => assert!(v >= 0),
                                    Some(number_data_point::Value::AsDouble(v)) => assert!(v >= 0.0),
                                    None => panic!("sum point without a value"),
                                }
                            }
                            s.exemplars += p.exemplars.len();
                        }
                        s.points += sum.data_points.len();
                        let temporality = if sum.aggregation_temporality == 1 { "delta" } else { "cumulative" };
                        let mono = if sum.is_monotonic { "monotonic" } else { "non-monotonic" };
                        format!("sum-{mono}-{temporality}")
                    }
                    metric::Data::Histogram(h) => {
                        assert!(matches!(h.aggregation_temporality, 1 | 2));
                        for p in &h.data_points {
                            times(p.start_time_unix_nano, p.time_unix_nano);
                            check_attributes(&p.attributes, &mut kinds);
                            assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
                            assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                            assert!(p.explicit_bounds.windows(2).all(|w| w[0] < w[1]));
                            if p.count > 0 {
                                let (min, max) = (p.min.unwrap(), p.max.unwrap());
                                assert!(min <= max);
                                let sum = p.sum.unwrap();
                                assert!(sum >= min * p.count as f64 - 1e-6 && sum <= max * p.count as f64 + 1e-6);
                            }
                            s.exemplars += p.exemplars.len();
                        }
                        s.points += h.data_points.len();
                        "histogram".to_string()
                    }
                    metric::Data::ExponentialHistogram(h) => {
                        assert!(matches!(h.aggregation_temporality, 1 | 2));
                        for p in &h.data_points {
                            times(p.start_time_unix_nano, p.time_unix_nano);
                            check_attributes(&p.attributes, &mut kinds);
                            let pos: u64 = p.positive.as_ref().map_or(0, |b| b.bucket_counts.iter().sum());
                            let neg: u64 = p.negative.as_ref().map_or(0, |b| b.bucket_counts.iter().sum());
                            assert_eq!(pos + neg + p.zero_count, p.count);
                            assert!((-10..=20).contains(&p.scale));
                            s.exemplars += p.exemplars.len();
                        }
                        s.points += h.data_points.len();
                        "exponential-histogram".to_string()
                    }
                    other => panic!("unexpected metric kind {other:?}"),
                };
                *s.kinds.entry(kind).or_insert(0) += 1;
            }
        }
    }
    s
}
