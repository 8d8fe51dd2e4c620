//! A trace-agent v0.5 payload: `[dictionary, traces]`, every string an index into the
//! dictionary, every span the 12-element array the agent reads; resolved, the traces satisfy the
//! same invariants as v0.4's. Only what the protocol requires of any config is checked here;
//! `tests/trace_v05.rs` adds what its configs promise.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

const YEAR_2000_NS: i64 = 946_684_800_000_000_000;

/// A v0.5 span as the agent reads it: 12 elements, strings as dictionary indices.
type WireSpan = (u32, u32, u32, u64, u64, u64, i64, i64, i32, HashMap<u32, u32>, HashMap<u32, f64>, u32);
/// A v0.5 body: `[dictionary, traces]`.
type Body = (Vec<String>, Vec<Vec<WireSpan>>);

/// A span with its strings resolved, the shape of a v0.4 span.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub service: String,
    pub name: String,
    pub resource: String,
    pub trace_id: u64,
    pub span_id: u64,
    pub parent_id: u64,
    pub start: i64,
    pub duration: i64,
    pub error: i32,
    pub meta: HashMap<String, String>,
    pub metrics: HashMap<String, f64>,
    #[serde(rename = "type")]
    pub kind: String,
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
pub fn decode(bytes: &[u8]) -> Vec<Vec<Span>> {
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
        check_trace_protocol(&spans);
        out.push(spans);
    }
    out
}

/// What the protocol and the trace-agent's invariants require of any trace, whatever the config.
pub fn check_trace_protocol(spans: &[Span]) {
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
        assert!(s.start >= YEAR_2000_NS, "start {}", s.start);
        assert!(s.duration >= 0 && s.start.checked_add(s.duration).is_some());
        assert!(s.error == 0 || s.error == 1);
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
