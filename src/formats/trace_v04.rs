//! Datadog trace-agent v0.4 traces: the body of `POST /v0.4/traces`, a msgpack array of traces.
//!
//! A member is one trace, a msgpack array of spans. Each span is a msgpack map of the twelve
//! fields `service`, `name`, `resource`, `trace_id`, `span_id`, `parent_id`, `start`,
//! `duration`, `error`, `meta` (str → str), `metrics` (str → f64) and `type` (`meta_struct`,
//! optional in the protocol and without a lading key, is never written).
//!
//! Within a trace every span shares the trace id and its context (service, operation, resource,
//! type: lading's semantics for `contexts`). Span ids are distinct and non-zero by construction
//! (a bijective mix of consecutive counters that never include 0), there is exactly one root
//! (`parent_id` 0), every other span's parent is an earlier span of the trace at most 8 levels
//! deep, and child spans lie inside their parent's interval. Root spans start in 2024 or 2025
//! and last up to about 2 s, so `start` is after 2000 and `start + duration` cannot overflow.
//!
//! Every string is generated and msgpack-encoded once at setup into a few arenas; the context's
//! leading fields (map header, service, name, resource, `trace_id` key) are one pre-encoded
//! slice. A member is only a context handle, a span count and a seed: [`TraceV04::encode`] draws
//! the per-span numbers, tags and metrics from that seed while writing, so a trace of any size
//! needs no heap and encodes to the same bytes every time.

mod config;
mod pool;
mod wire;

pub use config::Config;

use crate::config::ConfRange;
use crate::error::{Error, Result};
use crate::format::{Configured, Format, SampleRendering};
use crate::framing::{Framing, msgpack_array_header_len, write_msgpack_array_header};
use crate::rng::{BlockRng, mix64};
use config::field;
use pool::{ALNUM, Arena, KEY_CHARS, LETTERS, RESOURCE_CHARS, coprime_strides, distinct_pool, push_random_str};
use wire::key;

/// Root spans start in 2024 or 2025 (nanoseconds since the Unix epoch).
const START_MIN_NS: u64 = 1_704_067_200_000_000_000;
const START_MAX_NS: u64 = 1_767_225_599_999_999_999;
/// Distinct `meta` keys, `meta` values and `metrics` keys generated at setup (fewer keys when
/// the key lengths allow fewer distinct strings).
const TAG_KEYS: usize = 512;
const TAG_VALUES: usize = 4096;
const METRIC_KEYS: usize = 256;
/// Deepest level a span may sit at (the root is level 1).
const MAX_DEPTH: u8 = 8;
/// Traces of at most this many spans keep their span table in a small stack array.
const SMALL_TRACE: usize = 16;

/// One trace: which context, how many spans, and the seed its spans are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    context: u32,
    spans: u8,
    seed: u64,
}

/// A pool of distinct keys, and the strides that walk it without repeats.
#[derive(Debug)]
struct Keys {
    names: Arena,
    strides: Vec<u32>,
}

impl Keys {
    fn new(names: Arena) -> Self {
        let strides = coprime_strides(names.len());
        Keys { names, strides }
    }

    /// Draws where a span's run of distinct keys starts and how it steps.
    #[inline]
    fn walk(&self, rng: &mut BlockRng) -> (u64, u64) {
        let start = rng.index(self.names.len()) as u64;
        let stride = self.strides.get(rng.index(self.strides.len())).copied().unwrap_or(1);
        (start, u64::from(stride))
    }

    /// Writes `field` and a map of `count` entries with distinct keys from this pool, each
    /// followed by what `value` writes.
    #[inline]
    fn encode_map(
        &self,
        field: &[u8],
        count: &ConfRange,
        rng: &mut BlockRng,
        out: &mut Vec<u8>,
        mut value: impl FnMut(&mut BlockRng, &mut Vec<u8>),
    ) {
        let n = count.sample_usize(rng);
        out.extend_from_slice(field);
        wire::map_len(out, n);
        let walk = self.walk(rng);
        for j in 0..n {
            out.extend_from_slice(self.get(walk, j));
            value(rng, out);
        }
    }

    /// The `j`-th key of a walk: distinct for `j < len`.
    #[inline]
    fn get(&self, (start, stride): (u64, u64), j: usize) -> &[u8] {
        let n = self.names.len().max(1) as u64;
        self.names.get(((start + j as u64 * stride) % n) as usize)
    }
}

/// The `trace-v04` format.
#[derive(Debug)]
pub struct TraceV04 {
    config: Config,
    /// Per context: map header, `service`, `name`, `resource` pairs and the `trace_id` key.
    heads: Arena,
    /// Per context: the `type` pair.
    tails: Arena,
    tag_keys: Keys,
    tag_values: Arena,
    metric_keys: Keys,
    min_member_len: usize,
}

/// Where a span sits in its trace, for choosing and bounding its children.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    start: u64,
    end: u64,
    level: u8,
}

impl Configured for TraceV04 {
    type Config = Config;
    const NAME: &'static str = "trace-v04";
    const ABOUT: &'static str = "Datadog trace-agent v0.4 traces: a msgpack array of traces per block";
    const LADING_PATH: &'static [&'static str] = &["trace_agent", "v0.4"];
    const SAMPLE: SampleRendering = SampleRendering::MsgpackAsYaml;

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let rng = &mut rng;
        let contexts = c.contexts.sample_usize(rng);
        let mid = |r: &ConfRange| ((r.min() + r.max()) / 2 + 3) as usize;
        let head_len = 64 + mid(&c.service_name_length) + mid(&c.operation_name_length) + mid(&c.resource_name_length);
        let mut heads = Arena::with_capacity(contexts, contexts * head_len);
        let mut tails = Arena::with_capacity(contexts, contexts * (5 + mid(&c.span_type_length)));
        for _ in 0..contexts {
            let out = heads.open();
            wire::map_len(out, key::FIELDS as usize);
            out.extend_from_slice(key::SERVICE);
            push_random_str(rng, &c.service_name_length, ALNUM, out);
            out.extend_from_slice(key::NAME);
            push_random_str(rng, &c.operation_name_length, ALNUM, out);
            out.extend_from_slice(key::RESOURCE);
            push_random_str(rng, &c.resource_name_length, RESOURCE_CHARS, out);
            out.extend_from_slice(key::TRACE_ID);
            heads.seal();
            let out = tails.open();
            out.extend_from_slice(key::TYPE);
            push_random_str(rng, &c.span_type_length, LETTERS, out);
            tails.seal();
        }
        let tag_keys =
            distinct_keys(rng, TAG_KEYS, ("tags_per_span", c.tags_per_span), ("tag_key_length", c.tag_key_length))?;
        let tag_values = pool::pool(rng, TAG_VALUES, &c.tag_value_length, ALNUM);
        let metric_keys = distinct_keys(
            rng,
            METRIC_KEYS,
            ("metrics_per_span", c.metrics_per_span),
            ("metric_key_length", c.metric_key_length),
        )?;

        let shortest_context = (0..heads.len()).map(|i| heads.get(i).len() + tails.get(i).len()).min().unwrap_or(0);
        let fixed_keys = [key::SPAN_ID, key::PARENT_ID, key::START, key::DURATION, key::ERROR, key::META, key::METRICS];
        // trace_id, span_id, parent_id, duration: at least 1 byte each; start: > 2^32, 9 bytes;
        // error: 1 byte; two map headers: at least 1 byte each.
        let values = 4 + 9 + 1 + 2;
        let tags = c.tags_per_span.min() as usize * (tag_keys.names.min_len() + tag_values.min_len());
        let metrics = c.metrics_per_span.min() as usize * (metric_keys.names.min_len() + 9);
        let span = shortest_context + fixed_keys.iter().map(|k| k.len()).sum::<usize>() + values + tags + metrics;
        let spans = c.spans_per_trace.min() as usize;
        let min_member_len = msgpack_array_header_len(spans) + spans * span;

        Ok(Self { config: c.clone(), heads, tails, tag_keys, tag_values, metric_keys, min_member_len })
    }
}

/// Up to `target` distinct keys with lengths from `length`, and at least the largest `count` of
/// them (the config error names the count key otherwise).
fn distinct_keys(
    rng: &mut BlockRng,
    target: usize,
    (count_key, count): (&str, ConfRange),
    (length_key, length): (&str, ConfRange),
) -> Result<Keys> {
    let names = distinct_pool(rng, target, &length, KEY_CHARS);
    if (names.len() as u64) < count.max() {
        return Err(Error::config(
            field(count_key),
            count,
            format!(
                "a span needs up to {} distinct keys, but `{length_key}` = {length} allows only {}",
                count.max(),
                names.len()
            ),
        ));
    }
    Ok(Keys::new(names))
}

impl Format for TraceV04 {
    type Member = Trace;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::MsgpackArray
    }

    fn min_member_len(&self) -> usize {
        self.min_member_len
    }

    fn generate(&self, rng: &mut BlockRng) -> Trace {
        let context = rng.index(self.heads.len()) as u32;
        let spans = u8::try_from(self.config.spans_per_trace.sample(rng)).unwrap_or(u8::MAX);
        Trace { context, spans, seed: rng.next_u64() }
    }

    fn encode(&self, m: &Trace, out: &mut Vec<u8>) {
        if usize::from(m.spans) <= SMALL_TRACE {
            self.encode_trace::<SMALL_TRACE>(m, out);
        } else {
            self.encode_trace::<256>(m, out);
        }
    }
}

impl TraceV04 {
    /// Writes a trace of at most `N` spans, keeping the span table on the stack.
    fn encode_trace<const N: usize>(&self, m: &Trace, out: &mut Vec<u8>) {
        // The trace's own stream, keyed by its seed the way a block is keyed by its index.
        let mut rng = BlockRng::for_block(m.seed, 0);
        let rng = &mut rng;
        let spans = usize::from(m.spans).clamp(1, N);
        let head = self.heads.get(m.context as usize);
        let tail = self.tails.get(m.context as usize);
        let trace_id = rng.next_u64().max(1);
        // Span `i` has id mix64(id_base + i): distinct (mix64 is a bijection) and non-zero
        // (mix64 maps only 0 to 0, and id_base + i never wraps to 0).
        let id_base = rng.inclusive(1, u64::MAX - 256);
        let mut nodes = [Node::default(); N];
        let mut parents = [0u8; N];
        let mut parent_count = 0usize;
        write_msgpack_array_header(spans, out);
        for i in 0..spans {
            let (parent, node) = if i == 0 {
                let start = rng.inclusive(START_MIN_NS, START_MAX_NS);
                let duration = (1_000 + 1_000 * rng.below(999)) << rng.below(12);
                (None, Node { start, end: start + duration, level: 1 })
            } else {
                let p = usize::from(parents.get(rng.index(parent_count)).copied().unwrap_or(0));
                let up = nodes.get(p).copied().unwrap_or_default();
                let start = up.start + rng.below(up.end - up.start);
                let end = start + 1 + rng.below(up.end - start);
                (Some(p), Node { start, end, level: up.level + 1 })
            };
            if let Some(slot) = nodes.get_mut(i) {
                *slot = node;
            }
            if node.level < MAX_DEPTH {
                if let Some(slot) = parents.get_mut(parent_count) {
                    *slot = i as u8;
                    parent_count += 1;
                }
            }
            out.extend_from_slice(head);
            wire::uint(out, trace_id);
            out.extend_from_slice(key::SPAN_ID);
            wire::uint(out, mix64(id_base + i as u64));
            out.extend_from_slice(key::PARENT_ID);
            wire::uint(out, parent.map_or(0, |p| mix64(id_base + p as u64)));
            out.extend_from_slice(key::START);
            wire::sint(out, node.start as i64);
            out.extend_from_slice(key::DURATION);
            wire::sint(out, (node.end - node.start) as i64);
            out.extend_from_slice(key::ERROR);
            out.push(u8::from(rng.chance(self.config.error_rate)));
            self.encode_tags(rng, out);
            out.extend_from_slice(tail);
        }
    }

    /// Writes the `meta` and `metrics` pairs of one span.
    #[inline]
    fn encode_tags(&self, rng: &mut BlockRng, out: &mut Vec<u8>) {
        let values = &self.tag_values;
        self.tag_keys.encode_map(key::META, &self.config.tags_per_span, rng, out, |rng, out| {
            out.extend_from_slice(values.get(rng.index(values.len())));
        });
        self.metric_keys.encode_map(key::METRICS, &self.config.metrics_per_span, rng, out, |rng, out| {
            wire::float(out, (rng.below(100_000_000) as f64) / 1_000.0);
        });
    }
}
