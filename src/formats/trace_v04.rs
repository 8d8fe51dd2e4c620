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
//!
//! `trace-v05` ([`crate::formats::trace_v05`]) writes the same traces on the v0.5 wire: both
//! formats draw their pools, members and spans through the shared `shape` module and differ only
//! in how a span is written.

mod config;
pub(crate) mod pool;
pub(crate) mod shape;
pub(crate) mod wire;

pub use config::Config;
pub use shape::Trace;

use crate::delivery::Delivery;
use crate::error::Result;
use crate::format::{Configured, Format, SampleRendering};
use crate::framing::{Framing, msgpack_array_header_len, put_array_header};
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory};
use crate::slack::{SlackWriter, write_member};
use pool::{Arena, Piece, push_random_str};
use shape::{Shapes, SpanHead, SpanWriter, context_names};
use wire::key;

/// The `trace-v04` format.
#[derive(Debug)]
pub struct TraceV04 {
    shapes: Shapes,
    /// Per context: map header, `service`, `name`, `resource` pairs and the `trace_id` key.
    heads: Arena,
    /// Per context: the `type` pair.
    tails: Arena,
    min_member_len: usize,
    /// The writer's window: this many bytes per span, plus this many (see [`trace_hint`]).
    span_hint: (usize, usize),
}

/// How trace-agent payloads travel, v0.4 and v0.5 alike (they differ in path and method):
/// msgpack bodies with their trace count, asking the agent for real status codes (429 when it
/// sheds load, instead of 200).
pub(crate) const TRACE_AGENT_DELIVERY: Delivery = Delivery::new()
    .with_content_type("application/msgpack")
    .with_member_count_header("X-Datadog-Trace-Count")
    .with_headers(&[("Datadog-Send-Real-Http-Status", "true")]);

impl Configured for TraceV04 {
    type Config = Config;
    const NAME: &'static str = "trace-v04";
    const ABOUT: &'static str = "Datadog trace-agent v0.4 traces: a msgpack array of traces per block";
    const LADING_PATH: &'static [&'static str] = &["trace_agent", "v0.4"];
    const SAMPLE: SampleRendering = SampleRendering::MsgpackAsYaml;
    const DELIVERY: Delivery = TRACE_AGENT_DELIVERY.with_http_path("/v0.4/traces");

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        let (mut heads, mut tails) = (Arena::default(), Arena::default());
        let (head_max, tail_max) = (head_bytes(c) as usize, tail_bytes(c) as usize);
        let shapes = Shapes::build(c, seed, "trace_v04", |rng, contexts| {
            let mid = |r: &crate::config::ConfRange| ((r.min() + r.max()) / 2 + 3) as usize;
            let head_len =
                64 + mid(&c.service_name_length) + mid(&c.operation_name_length) + mid(&c.resource_name_length);
            let limit = |max: usize| contexts.saturating_mul(max);
            heads = Arena::with_capacity(contexts, contexts * head_len, limit(head_max), "trace-v04 contexts")?;
            let tail_len = 5 + mid(&c.span_type_length);
            tails = Arena::with_capacity(contexts, contexts * tail_len, limit(tail_max), "trace-v04 contexts")?;
            let [service, name, resource, kind] = context_names(c);
            for _ in 0..contexts {
                let out = heads.open(head_max)?;
                wire::map_len(out, key::FIELDS as usize);
                out.extend_from_slice(key::SERVICE);
                push_random_str(rng, service.0, service.1, out);
                out.extend_from_slice(key::NAME);
                push_random_str(rng, name.0, name.1, out);
                out.extend_from_slice(key::RESOURCE);
                push_random_str(rng, resource.0, resource.1, out);
                out.extend_from_slice(key::TRACE_ID);
                heads.seal()?;
                let out = tails.open(tail_max)?;
                out.extend_from_slice(key::TYPE);
                push_random_str(rng, kind.0, kind.1, out);
                tails.seal()?;
            }
            Ok(())
        })?;

        let (tag_key, tag_value, metric_key) = shapes.shortest_tag_strings();
        let (fewest_tags, fewest_metrics) = shapes.fewest_entries();
        let shortest_context = (0..heads.len()).map(|i| heads.get(i).len() + tails.get(i).len()).min().unwrap_or(0);
        let fixed_keys = [key::SPAN_ID, key::PARENT_ID, key::START, key::DURATION, key::ERROR, key::META, key::METRICS];
        // trace_id, span_id, parent_id, duration: at least 1 byte each; start: > 2^32, 9 bytes;
        // error: 1 byte; two map headers: at least 1 byte each.
        let values = 4 + 9 + 1 + 2;
        let tags = fewest_tags * (tag_key + tag_value);
        let metrics = fewest_metrics * (metric_key + 9);
        let span = shortest_context + fixed_keys.iter().map(|k| k.len()).sum::<usize>() + values + tags + metrics;
        let spans = c.spans_per_trace.min() as usize;
        let min_member_len = msgpack_array_header_len(spans) + spans * span;

        let span_hint = trace_hint(c, &shapes, &heads, &tails);
        Ok(Self { shapes, heads, tails, min_member_len, span_hint })
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        let contexts = c.contexts.max();
        let offsets = setup::array_of::<u32>(contexts);
        let names = |k: &str, r: &crate::config::ConfRange| setup::key(&config::field_of("trace_v04", k), r);
        m.add_arena("span contexts", setup::mul(contexts, head_bytes(c)) + offsets, || {
            vec![
                setup::key("trace_v04.contexts", c.contexts),
                names("resource_name_length", &c.resource_name_length),
                names("service_name_length", &c.service_name_length),
                names("operation_name_length", &c.operation_name_length),
            ]
        })?;
        m.add_arena("span types", setup::mul(contexts, tail_bytes(c)) + offsets, || {
            vec![setup::key("trace_v04.contexts", c.contexts), names("span_type_length", &c.span_type_length)]
        })?;
        Shapes::estimate(c, "trace_v04", m);
        Ok(())
    }

    fn warnings(c: &Config) -> Vec<String> {
        Shapes::warnings(c, "trace_v04")
    }
}

/// Most bytes of one context's head: the map header, `service`, `name`, `resource` pairs and the
/// `trace_id` key.
fn head_bytes(c: &Config) -> u64 {
    let keys = [key::SERVICE, key::NAME, key::RESOURCE, key::TRACE_ID].iter().map(|k| k.len() as u64).sum::<u64>();
    1 + keys
        + pool::str_bytes(c.service_name_length.max())
        + pool::str_bytes(c.operation_name_length.max())
        + pool::str_bytes(c.resource_name_length.max())
}

/// The writer's window for a trace of `spans` spans: every span of average length but one of
/// the longest, which traces stay under nearly always (a longer one is written again, larger).
fn trace_hint(c: &Config, shapes: &Shapes, heads: &Arena, tails: &Arena) -> (usize, usize) {
    let mean = |r: &crate::config::ConfRange| (r.min().saturating_add(r.max()).div_ceil(2)) as usize;
    let ((key_max, value_max, metric_max), (key_mean, value_mean, metric_mean)) =
        (shapes.longest_tag_strings(), shapes.mean_tag_strings());
    let fixed = [key::SPAN_ID, key::PARENT_ID, key::START, key::DURATION, key::ERROR, key::META, key::METRICS];
    let fixed = fixed.iter().map(|k| k.len()).sum::<usize>() + 5 * 9 + 1 + 2 * 5;
    let context_max = (head_bytes(c) + tail_bytes(c)) as usize;
    let context_mean = (heads.total_len() + tails.total_len()) / heads.len().max(1);
    let longest = context_max
        + fixed
        + c.tags_per_span.max() as usize * (key_max + value_max)
        + c.metrics_per_span.max() as usize * (metric_max + 9);
    let average = context_mean
        + fixed
        + mean(&c.tags_per_span) * (key_mean + value_mean)
        + mean(&c.metrics_per_span) * (metric_mean + 9);
    (average, longest.saturating_sub(average))
}

/// Most bytes of one context's `type` pair.
fn tail_bytes(c: &Config) -> u64 {
    key::TYPE.len() as u64 + pool::str_bytes(c.span_type_length.max())
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
        self.shapes.generate(rng)
    }

    fn encode(&self, m: &Trace, out: &mut Vec<u8>) {
        let head = self.heads.piece(m.context());
        let tail = self.tails.piece(m.context());
        let (per_span, extra) = self.span_hint;
        let hint = per_span.saturating_mul(usize::from(m.spans()).max(1)).saturating_add(extra + 5);
        write_member(out, hint, |w| self.shapes.write(m, &mut V04Writer { head, tail, w }));
    }
}

/// Writes spans as v0.4 maps, the context's pre-encoded fields copied in two slices.
struct V04Writer<'a, 'w> {
    head: Piece<'a>,
    tail: Piece<'a>,
    w: &'a mut SlackWriter<'w>,
}

impl SpanWriter for V04Writer<'_, '_> {
    #[inline]
    fn trace(&mut self, spans: usize) {
        let mut header = [0u8; 32];
        let len = put_array_header(spans, &mut header);
        self.w.put_from(&header, len);
    }

    #[inline]
    fn span(&mut self, s: &SpanHead) {
        let w = &mut *self.w;
        let (tail, len) = self.head.tail();
        w.put_from(tail, len);
        wire::slack::uint(w, s.trace_id);
        w.put(key::SPAN_ID);
        wire::slack::uint(w, s.span_id);
        w.put(key::PARENT_ID);
        wire::slack::uint(w, s.parent_id);
        w.put(key::START);
        wire::slack::sint(w, s.start);
        w.put(key::DURATION);
        wire::slack::sint(w, s.duration);
        w.put(key::ERROR);
        w.byte(u8::from(s.error));
    }

    #[inline]
    fn meta(&mut self, len: usize) {
        self.w.put(key::META);
        wire::slack::map_len(self.w, len);
    }

    #[inline]
    fn meta_entry(&mut self, key: Piece<'_>, value: Piece<'_>) {
        let (tail, len) = key.tail();
        self.w.put_from(tail, len);
        let (tail, len) = value.tail();
        self.w.put_from(tail, len);
    }

    #[inline]
    fn metrics(&mut self, len: usize) {
        self.w.put(key::METRICS);
        wire::slack::map_len(self.w, len);
    }

    #[inline]
    fn metric(&mut self, key: Piece<'_>, value: f64) {
        let (tail, len) = key.tail();
        self.w.put_from(tail, len);
        wire::slack::float(self.w, value);
    }

    #[inline]
    fn end_span(&mut self) {
        let (tail, len) = self.tail.tail();
        self.w.put_from(tail, len);
    }
}
