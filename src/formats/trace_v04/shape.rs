//! What the trace formats share: the member (a trace handle), the pools built at setup, and the
//! walk that draws a trace's spans and hands every field to a [`SpanWriter`].
//!
//! `trace-v04` and `trace-v05` are the same traces on two wires: a v0.4 span is a map with its
//! strings inline, a v0.5 span an array with its strings in the block's dictionary. Both build
//! their [`Shapes`] from the same config and seed with the same draws, generate the same
//! [`Trace`]s and walk them with the same code, so the same seed gives the same traces on both;
//! only the writer differs.

use crate::config::ConfRange;
use crate::error::Result;
use crate::rng::{BlockRng, mix64};
use crate::setup::{self, SetupMemory};

use super::config::{Config, field_of};
use super::pool::{self, ALNUM, Arena, KEY_CHARS, LETTERS, Piece, RESOURCE_CHARS, coprime_strides, distinct_pool};

/// Root spans start in 2024 or 2025 (nanoseconds since the Unix epoch).
const START_MIN_NS: u64 = 1_704_067_200_000_000_000;
const START_MAX_NS: u64 = 1_767_225_599_999_999_999;
/// Distinct `meta` keys, `meta` values and `metrics` keys generated at setup (fewer keys when
/// the key lengths allow fewer distinct strings).
const TAG_KEYS: usize = 512;
const TAG_VALUES: usize = 4096;
const METRIC_KEYS: usize = 256;
/// Strings in the tag and metric pools together.
pub(crate) const POOL_STRINGS: usize = TAG_KEYS + TAG_VALUES + METRIC_KEYS;
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

impl Trace {
    /// The trace's context (service, operation, resource, span type), an index below the
    /// config's context count.
    pub fn context(&self) -> usize {
        self.context as usize
    }

    /// Number of spans.
    pub fn spans(&self) -> u8 {
        self.spans
    }
}

/// The names of a context in the order setup draws them: service, operation, resource, span
/// type, each a length range and the characters after the first (a letter).
pub(crate) fn context_names(c: &Config) -> [(&ConfRange, &'static [u8]); 4] {
    [
        (&c.service_name_length, ALNUM),
        (&c.operation_name_length, ALNUM),
        (&c.resource_name_length, RESOURCE_CHARS),
        (&c.span_type_length, LETTERS),
    ]
}

/// A span's fields before its maps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanHead {
    pub trace_id: u64,
    pub span_id: u64,
    pub parent_id: u64,
    pub start: i64,
    pub duration: i64,
    pub error: bool,
}

/// Where a walk's fields go, in wire order. Strings come msgpack-encoded from the pools; the
/// writer knows the trace's context.
pub(crate) trait SpanWriter {
    /// A trace of `spans` spans starts.
    fn trace(&mut self, spans: usize);
    /// A span starts, with these fields.
    fn span(&mut self, head: &SpanHead);
    /// The `meta` map, of `len` entries, starts.
    fn meta(&mut self, len: usize);
    /// One `meta` entry.
    fn meta_entry(&mut self, key: Piece<'_>, value: Piece<'_>);
    /// The `metrics` map, of `len` entries, starts.
    fn metrics(&mut self, len: usize);
    /// One `metrics` entry.
    fn metric(&mut self, key: Piece<'_>, value: f64);
    /// The span ends (its `type` comes last).
    fn end_span(&mut self);
}

/// A pool of distinct keys, and the strides that walk it without repeats.
#[derive(Debug)]
struct Keys {
    names: Arena,
    strides: Vec<u32>,
}

impl Keys {
    fn new(names: Arena) -> Result<Self> {
        let strides = coprime_strides(names.len())?;
        Ok(Keys { names, strides })
    }

    /// Draws where a span's run of distinct keys starts and how it steps.
    #[inline]
    fn walk(&self, rng: &mut BlockRng) -> (u64, u64) {
        let start = rng.index(self.names.len()) as u64;
        let stride = self.strides.get(rng.index(self.strides.len())).copied().unwrap_or(1);
        (start, u64::from(stride))
    }

    /// The keys of a walk in order: the `j`-th is key `(start + j × stride) mod n`, distinct for
    /// `j < n` (the stride is coprime to `n`), stepped by one addition instead of a division:
    /// [`Keys::walk`] draws `start` and `stride` below `n` (a stride of 1 for `n = 1`).
    #[inline]
    fn iter(&self, (start, stride): (u64, u64)) -> impl Iterator<Item = Piece<'_>> {
        let n = self.names.len().max(1) as u64;
        debug_assert!(start < n && (stride < n || n == 1));
        let mut at = start;
        std::iter::repeat_with(move || {
            let key = self.names.piece(at as usize);
            at += stride;
            if at >= n {
                at -= n;
            }
            key
        })
    }
}

/// Where a span sits in its trace, for choosing and bounding its children.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    start: u64,
    end: u64,
    level: u8,
}

/// The trace shapes of a config: the pools and draws both trace formats share.
#[derive(Debug)]
pub(crate) struct Shapes {
    config: Config,
    contexts: usize,
    tag_keys: Keys,
    tag_values: Arena,
    metric_keys: Keys,
}

impl Shapes {
    /// Validates `c` (errors name `<prefix>.<key>`), draws the context count, lets `contexts`
    /// draw and store that many contexts (each with [`context_names`], in order), then draws the
    /// tag and metric pools.
    pub(crate) fn build(
        c: &Config,
        seed: u64,
        prefix: &str,
        contexts: impl FnOnce(&mut BlockRng, usize) -> Result<()>,
    ) -> Result<Self> {
        c.validate_as(prefix)?;
        let mut rng = BlockRng::for_setup(seed);
        let rng = &mut rng;
        let count = c.contexts.sample_usize(rng);
        contexts(rng, count)?;
        // A span's map never repeats a key: when the key lengths allow fewer distinct keys than
        // the count asks for, spans carry that many at most (lading's maps collapse repeats the
        // same way), and the config's warnings say so.
        let tag_keys = Keys::new(distinct_pool(rng, TAG_KEYS, &c.tag_key_length, KEY_CHARS, "trace meta keys")?)?;
        let tag_values = pool::pool(rng, TAG_VALUES, &c.tag_value_length, ALNUM, "trace meta values")?;
        let metric_keys =
            Keys::new(distinct_pool(rng, METRIC_KEYS, &c.metric_key_length, KEY_CHARS, "trace metric keys")?)?;
        Ok(Self { config: c.clone(), contexts: count, tag_keys, tag_values, metric_keys })
    }

    /// Adds what [`Shapes::build`] allocates besides the contexts: the key and value pools.
    pub(crate) fn estimate(c: &Config, prefix: &str, m: &mut SetupMemory) {
        let names = |k: &str, r: &ConfRange| setup::key(&field_of(prefix, k), r);
        m.add("meta keys", pool::distinct_pool_bytes(TAG_KEYS, &c.tag_key_length, KEY_CHARS), || {
            vec![names("tag_key_length", &c.tag_key_length)]
        });
        let values = TAG_VALUES as u64;
        m.add(
            "meta values",
            setup::mul(values, pool::str_bytes(c.tag_value_length.max())) + setup::array_of::<u32>(values),
            || vec![names("tag_value_length", &c.tag_value_length)],
        );
        m.add("metric keys", pool::distinct_pool_bytes(METRIC_KEYS, &c.metric_key_length, KEY_CHARS), || {
            vec![names("metric_key_length", &c.metric_key_length)]
        });
    }

    /// The tag key, tag value and metric key pools, in the order their entries' indices refer to.
    pub(crate) fn pools(&self) -> [&Arena; 3] {
        [&self.tag_keys.names, &self.tag_values, &self.metric_keys.names]
    }

    /// Fewest `meta` and `metrics` entries a span can have: the counts' minimum, capped at the
    /// distinct keys.
    pub(crate) fn fewest_entries(&self) -> (usize, usize) {
        let c = &self.config;
        (
            (c.tags_per_span.min() as usize).min(self.tag_keys.names.len()),
            (c.metrics_per_span.min() as usize).min(self.metric_keys.names.len()),
        )
    }

    /// One warning line (or none) for configs that make the trace-agent normalize or truncate.
    pub(crate) fn warnings(c: &Config, prefix: &str) -> Vec<String> {
        let distinct = |target: usize| move |len: &ConfRange| pool::distinct_target(target, len, KEY_CHARS);
        c.normalizer_warnings(prefix, distinct(TAG_KEYS), distinct(METRIC_KEYS))
    }

    /// The config.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Longest encodings of a `meta` key, a `meta` value and a `metrics` key.
    pub(crate) fn longest_tag_strings(&self) -> (usize, usize, usize) {
        (self.tag_keys.names.max_len(), self.tag_values.max_len(), self.metric_keys.names.max_len())
    }

    /// Mean encoded lengths of a `meta` key, a `meta` value and a `metrics` key.
    pub(crate) fn mean_tag_strings(&self) -> (usize, usize, usize) {
        let mean = |a: &Arena| a.total_len() / a.len().max(1);
        (mean(&self.tag_keys.names), mean(&self.tag_values), mean(&self.metric_keys.names))
    }

    /// Shortest encodings of a `meta` key, a `meta` value and a `metrics` key.
    pub(crate) fn shortest_tag_strings(&self) -> (usize, usize, usize) {
        (self.tag_keys.names.min_len(), self.tag_values.min_len(), self.metric_keys.names.min_len())
    }

    /// Draws the next trace.
    #[inline]
    pub(crate) fn generate(&self, rng: &mut BlockRng) -> Trace {
        let context = rng.index(self.contexts) as u32;
        let spans = u8::try_from(self.config.spans_per_trace.sample(rng)).unwrap_or(u8::MAX);
        Trace { context, spans, seed: rng.next_u64() }
    }

    /// Walks trace `m`'s spans into `w`.
    #[inline]
    pub(crate) fn write<W: SpanWriter>(&self, m: &Trace, w: &mut W) {
        if usize::from(m.spans) <= SMALL_TRACE {
            self.write_trace::<SMALL_TRACE, W>(m, w);
        } else {
            self.write_trace::<256, W>(m, w);
        }
    }

    /// Walks a trace of at most `N` spans, keeping the span table on the stack.
    fn write_trace<const N: usize, W: SpanWriter>(&self, m: &Trace, w: &mut W) {
        // The trace's own stream, keyed by its seed the way a block is keyed by its index.
        let mut rng = BlockRng::for_block(m.seed, 0);
        let rng = &mut rng;
        let spans = usize::from(m.spans).clamp(1, N);
        let trace_id = rng.next_u64().max(1);
        // Span `i` has id mix64(id_base + i): distinct (mix64 is a bijection) and non-zero
        // (mix64 maps only 0 to 0, and id_base + i never wraps to 0).
        let id_base = rng.inclusive(1, u64::MAX - 256);
        let mut nodes = [Node::default(); N];
        let mut parents = [0u8; N];
        let mut parent_count = 0usize;
        w.trace(spans);
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
            w.span(&SpanHead {
                trace_id,
                span_id: mix64(id_base + i as u64),
                parent_id: parent.map_or(0, |p| mix64(id_base + p as u64)),
                start: node.start as i64,
                duration: (node.end - node.start) as i64,
                error: rng.chance(self.config.error_rate),
            });
            self.write_tags(rng, w);
            w.end_span();
        }
    }

    /// Draws and writes the `meta` and `metrics` maps of one span: for each, the entry count, a
    /// walk of distinct keys, then one value per entry.
    #[inline]
    fn write_tags<W: SpanWriter>(&self, rng: &mut BlockRng, w: &mut W) {
        let n = self.config.tags_per_span.sample_usize(rng).min(self.tag_keys.names.len());
        w.meta(n);
        let walk = self.tag_keys.walk(rng);
        let values = &self.tag_values;
        for key in self.tag_keys.iter(walk).take(n) {
            w.meta_entry(key, values.piece(rng.index(values.len())));
        }
        let n = self.config.metrics_per_span.sample_usize(rng).min(self.metric_keys.names.len());
        w.metrics(n);
        let walk = self.metric_keys.walk(rng);
        for key in self.metric_keys.iter(walk).take(n) {
            w.metric(key, (rng.below(100_000_000) as f64) / 1_000.0);
        }
    }
}
