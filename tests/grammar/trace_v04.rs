//! A trace-agent v0.4 payload: decodes with rmp-serde into typed spans (every field, nothing
//! else, no repeated map key) that satisfy the trace-agent's invariants.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

pub const YEAR_2000_NS: i64 = 946_684_800_000_000_000;
const KIB: usize = 1024;

/// A map that rejects repeated keys (a plain `HashMap` would silently keep the last one).
#[derive(Debug)]
pub struct UniqueMap<V>(pub HashMap<String, V>);

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
    pub meta: UniqueMap<String>,
    pub metrics: UniqueMap<f64>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Checks the trace-agent invariants of one trace; returns its context.
pub fn check_trace(spans: &[Span]) -> (String, String, String, String) {
    let context = check_trace_protocol(spans);
    for s in spans {
        assert!((1..=100).contains(&s.service.len()) && (1..=100).contains(&s.name.len()), "{s:?}");
        assert!(!s.resource.is_empty() && s.kind.len() <= 100);
        assert!(s.meta.0.keys().all(|k| !k.is_empty()) && s.metrics.0.keys().all(|k| !k.is_empty()));
    }
    context
}

/// Checks what the v0.4 protocol and the trace-agent's invariants require of any trace, whatever
/// the config: ids, one root, parents inside the trace at most 8 levels up, children inside their
/// parent's interval, a shared context, valid numbers. Returns its context.
pub fn check_trace_protocol(spans: &[Span]) -> (String, String, String, String) {
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
        assert!(s.name.is_empty() || s.name.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.name);
        assert!(s.service.is_empty() || s.service.starts_with(|c: char| c.is_ascii_lowercase()), "{}", s.service);
        assert!(s.start >= YEAR_2000_NS, "start {}", s.start);
        assert!(s.duration >= 0 && s.start.checked_add(s.duration).is_some());
        assert!(s.error == 0 || s.error == 1);
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
pub fn check_block(bytes: &[u8]) -> Vec<Vec<Span>> {
    let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(bytes).unwrap();
    assert!(!decoded.is_empty(), "empty block");
    for t in &decoded {
        check_trace(t);
    }
    decoded
}

/// Decodes a whole block and checks every trace with [`check_trace_protocol`].
pub fn check_block_protocol(bytes: &[u8]) -> Vec<Vec<Span>> {
    let decoded: Vec<Vec<Span>> = rmp_serde::from_slice(bytes).unwrap();
    assert!(!decoded.is_empty(), "empty block");
    for t in &decoded {
        check_trace_protocol(t);
    }
    decoded
}
