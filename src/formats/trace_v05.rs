//! Datadog trace-agent v0.5 traces: the body of `PUT /v0.5/traces`, a msgpack array
//! `[dictionary, traces]`.
//!
//! `dictionary` is an array of strings, the empty string among them; `traces` is an array of
//! traces, each an array of spans, and each span an array of twelve elements: `service`, `name`,
//! `resource` (u32 indices into the dictionary), `trace_id`, `span_id`, `parent_id` (u64),
//! `start`, `duration` (i64), `error` (i32), `meta` (map of index to index), `metrics` (map of
//! index to f64) and `type` (an index). This is what the trace-agent's `decoder_v05.go` reads
//! (`pkg/trace/api/version.go` documents it): tracers that send v0.5 send each string once per
//! payload, which makes payloads of repetitive traces several times smaller than v0.4.
//!
//! # Why a block is not a sum of members
//!
//! A trace's encoding depends on the traces before it in the block: a string they already use
//! is one index byte or a few, a new one is an index plus its bytes in the dictionary. So the
//! block's size is not a sum of member sizes, and this format uses
//! [`Framing::MsgpackDictionary`] and [`Format::encode_indexed`]: the one sizing loop keeps the
//! block's [`StringTable`] and sizes `[dictionary, traces]` as a whole, the dictionary included.
//! The dictionary has the empty string at index 0 and every other string at the index of its
//! first use, in encoding order (service, name, resource, the `meta` keys and values, the
//! `metrics` keys, then `type`, span after span); indices are minimal msgpack integers, so the
//! dictionary of the first `k` traces is a prefix of the dictionary of the first `k + 1` and a
//! trace's bytes never change when traces are added after it. A block is the longest prefix of
//! traces whose complete `[dictionary, traces]` encoding fits the budget.
//!
//! # The traces
//!
//! They are `trace-v04`'s, from the same config keys (lading's `trace_agent` ones, under
//! `variant: {trace_agent: {v0.5: ...}}` in a lading wrapper) with the same defaults: the member
//! is [`crate::formats::trace_v04::Trace`], and pools, members and spans are drawn by the same
//! code with the same draws, so a seed gives the same traces on both wires (the v0.4 docs list
//! the invariants they satisfy). Only the writer differs: it interns each string in the block's
//! dictionary and writes its index. The pools are msgpack-encoded at setup, as for v0.4, and the
//! table stores strings encoded, so the dictionary of a block is written with one copy.

use crate::delivery::{Delivery, HttpMethod};
use crate::dictionary::StringTable;
use crate::error::Result;
use crate::format::{Configured, Format, SampleRendering};
use crate::framing::{Framing, msgpack_array_header_len, write_msgpack_array_header};
use crate::rng::BlockRng;

use super::trace_v04::pool::{Arena, Piece, push_random_str, str_bytes};
use super::trace_v04::shape::{POOL_STRINGS, Shapes, SpanHead, SpanWriter, context_names};
use super::trace_v04::wire;
use crate::setup::{self, SetupMemory};

pub use super::trace_v04::Trace;

/// The configuration of `trace-v05`: `trace-v04`'s (the same keys, defaults and limits).
pub type Config = super::trace_v04::Config;

/// msgpack fixarray header of a span's 12 elements.
const SPAN_ARRAY: u8 = 0x9c;

/// The `trace-v05` format.
#[derive(Debug)]
pub struct TraceV05 {
    shapes: Shapes,
    /// Per context, four msgpack strings: service, name, resource and span type.
    names: Arena,
    /// Dictionary handles of every pool string (see [`Handles`]).
    handles: Handles,
    min_member_len: usize,
}

/// Per pool, each string's dictionary handle: equal strings share one, across pools, so a trace
/// interns by handle ([`StringTable::intern_handle`]) with exactly the indices interning by bytes
/// gives, without hashing or comparing a byte per span. Assigned once at setup.
#[derive(Debug)]
struct Handles {
    /// Per context string (four per context, as in `names`).
    names: Vec<u16>,
    /// Per tag key, tag value and metric key.
    pools: [Vec<u16>; 3],
    /// Every handle is below this.
    count: usize,
}

impl Handles {
    /// Numbers the distinct strings of `arenas` (by their msgpack `str` bytes): sorts their
    /// entries by bytes and gives each run of equal strings the handle of its first entry in
    /// sorted order. The empty string gets [`StringTable::EMPTY_HANDLE`]. With more strings than
    /// [`StringTable::MAX_HANDLES`] there are no handles, and traces intern by bytes.
    fn build(arenas: [&Arena; 4]) -> Self {
        let total: usize = arenas.iter().map(|a| a.len()).sum();
        if total >= StringTable::MAX_HANDLES {
            return Self { names: Vec::new(), pools: [Vec::new(), Vec::new(), Vec::new()], count: 0 };
        }
        // (arena, entry) of every string, sorted by bytes; ties keep arena order.
        let mut order: Vec<(u8, u32)> = Vec::with_capacity(total);
        for (a, arena) in arenas.iter().enumerate() {
            order.extend((0..arena.len()).map(|i| (a as u8, u32::try_from(i).unwrap_or(u32::MAX))));
        }
        let bytes = |&(a, i): &(u8, u32)| arenas.get(usize::from(a)).map_or(&[][..], |arena| arena.get(i as usize));
        order.sort_unstable_by(|x, y| bytes(x).cmp(bytes(y)).then(x.cmp(y)));
        // `EMPTY` marks the empty string (total < MAX_HANDLES = u16::MAX, so no handle is it).
        const EMPTY: u16 = u16::MAX;
        let mut out: [Vec<u16>; 4] = arenas.map(|a| vec![EMPTY; a.len()]);
        let mut handle = 0u16;
        for (n, entry) in order.iter().enumerate() {
            let same = n > 0 && order.get(n - 1).is_some_and(|prev| bytes(prev) == bytes(entry));
            if n > 0 && !same {
                handle = u16::try_from(n).unwrap_or(EMPTY);
            }
            let empty = bytes(entry) == EMPTY_STR;
            if let Some(slot) = out.get_mut(usize::from(entry.0)).and_then(|v| v.get_mut(entry.1 as usize)) {
                *slot = if empty { EMPTY } else { handle };
            }
        }
        let [names, keys, values, metrics] = out;
        Self { names, pools: [keys, values, metrics], count: total }
    }

    /// A stored handle as [`StringTable::intern_handle`] takes it: no handles, no handle.
    #[inline]
    fn widen(handle: Option<u16>) -> u32 {
        match handle {
            None => StringTable::NO_HANDLE,
            Some(u16::MAX) => StringTable::EMPTY_HANDLE,
            Some(h) => u32::from(h),
        }
    }

    #[inline]
    fn name(&self, i: usize) -> u32 {
        Self::widen(self.names.get(i).copied())
    }

    #[inline]
    fn pool(&self, pool: usize, piece: Piece<'_>) -> u32 {
        Self::widen(self.pools.get(pool).and_then(|p| p.get(piece.index())).copied())
    }
}

/// The msgpack empty string.
const EMPTY_STR: &[u8] = &[0xa0];

impl Configured for TraceV05 {
    type Config = Config;
    const NAME: &'static str = "trace-v05";
    const ABOUT: &'static str =
        "Datadog trace-agent v0.5 traces: a string dictionary and the traces that index it, per block";
    const LADING_PATH: &'static [&'static str] = &["trace_agent", "v0.5"];
    const SAMPLE: SampleRendering = SampleRendering::MsgpackAsYaml;
    // PUT, as tracers send it.
    const DELIVERY: Delivery = crate::formats::trace_v04::TRACE_AGENT_DELIVERY
        .with_http_path("/v0.5/traces")
        .with_http_method(HttpMethod::Put);

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        let mut names = Arena::default();
        let shapes = Shapes::build(c, seed, "trace_v05", |rng, contexts| {
            let fields = context_names(c);
            let per_context: usize = fields.iter().map(|(len, _)| ((len.min() + len.max()) / 2 + 3) as usize).sum();
            let limit = contexts.saturating_mul(names_bytes(c) as usize);
            names = Arena::with_capacity(contexts * fields.len(), contexts * per_context, limit, "trace-v05 contexts")?;
            for _ in 0..contexts {
                for (len, chars) in fields {
                    // Room for this field's longest string: the bound counts each field's own.
                    push_random_str(rng, len, chars, names.open(str_bytes(len.max()) as usize)?);
                    names.seal()?;
                }
            }
            Ok(())
        })?;
        // Every index and id at least 1 byte, `start` (> 2^32) 9, a metric value 9: the 12-array
        // header, 3 indices, 3 ids, start, duration, error, 2 map headers and the type index.
        let (tags, metrics) = shapes.fewest_entries();
        let c = shapes.config();
        let span = 21 + 2 * tags + 10 * metrics;
        let spans = c.spans_per_trace.min() as usize;
        let min_member_len = msgpack_array_header_len(spans) + spans * span;
        let [keys, values, metrics] = shapes.pools();
        let handles = Handles::build([&names, keys, values, metrics]);
        Ok(Self { shapes, names, handles, min_member_len })
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate_as("trace_v05")?;
        let contexts = c.contexts.max();
        let names = |k: &str, r: &crate::config::ConfRange| setup::key(&format!("trace_v05.{k}"), r);
        m.add_arena(
            "span contexts",
            setup::mul(contexts, names_bytes(c)) + setup::array_of::<u32>(contexts.saturating_mul(4)),
            || {
                vec![
                    setup::key("trace_v05.contexts", c.contexts),
                    names("resource_name_length", &c.resource_name_length),
                    names("service_name_length", &c.service_name_length),
                    names("operation_name_length", &c.operation_name_length),
                ]
            },
        )?;
        Shapes::estimate(c, "trace_v05", m);
        // Dictionary handles: one u16 per string, and the sort order (8 bytes each) while built.
        let strings = contexts.saturating_mul(4).saturating_add(POOL_STRINGS as u64);
        m.add("dictionary handles", setup::array_of::<u16>(strings).saturating_mul(5), || {
            vec![setup::key("trace_v05.contexts", c.contexts)]
        });
        Ok(())
    }

    fn warnings(c: &Config) -> Vec<String> {
        Shapes::warnings(c, "trace_v05")
    }
}

/// Most bytes of one context's four msgpack strings.
fn names_bytes(c: &Config) -> u64 {
    context_names(c).iter().map(|(len, _)| str_bytes(len.max())).sum()
}

impl Format for TraceV05 {
    type Member = Trace;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        Framing::MsgpackDictionary
    }

    /// A lower bound on a trace's encoding without its strings (which live in the dictionary).
    fn min_member_len(&self) -> usize {
        self.min_member_len
    }

    fn generate(&self, rng: &mut BlockRng) -> Trace {
        self.shapes.generate(rng)
    }

    /// The trace as the first of a block: indices into a dictionary of its own strings. The
    /// sizing loop never calls this (it calls [`Format::encode_indexed`] with the block's
    /// dictionary); it allocates a dictionary per call.
    fn encode(&self, m: &Trace, out: &mut Vec<u8>) {
        self.encode_indexed(m, &mut StringTable::new(), out);
    }

    fn encode_indexed(&self, m: &Trace, dict: &mut StringTable, out: &mut Vec<u8>) {
        let base = m.context() * 4;
        let name = |i: usize| self.names.get(base + i);
        let names = [name(0), name(1), name(2), name(3)];
        let name_handles = [0, 1, 2, 3].map(|i| self.handles.name(base + i));
        let handles = &self.handles;
        dict.reserve_handles(handles.count);
        self.shapes.write(m, &mut V05Writer { names, name_handles, handles, ids: [0; 4], known: false, dict, out });
    }
}

/// Writes spans as v0.5 arrays, interning every string in the block's dictionary.
struct V05Writer<'a> {
    /// The context's service, name, resource and type, msgpack-encoded.
    names: [&'a [u8]; 4],
    /// Their dictionary handles.
    name_handles: [u32; 4],
    /// The handles of the pool strings.
    handles: &'a Handles,
    /// Their indices, once the trace's first span has interned them (every span of a trace
    /// shares its context).
    ids: [u32; 4],
    known: bool,
    dict: &'a mut StringTable,
    out: &'a mut Vec<u8>,
}

impl SpanWriter for V05Writer<'_> {
    #[inline]
    fn trace(&mut self, spans: usize) {
        write_msgpack_array_header(spans, self.out);
    }

    #[inline]
    fn span(&mut self, s: &SpanHead) {
        if !self.known {
            for i in 0..3 {
                if let (Some(id), Some(name), Some(&handle)) =
                    (self.ids.get_mut(i), self.names.get(i), self.name_handles.get(i))
                {
                    *id = self.dict.intern_handle(handle, name);
                }
            }
        }
        let out = &mut *self.out;
        out.push(SPAN_ARRAY);
        let [service, name, resource, _] = self.ids;
        wire::uint(out, u64::from(service));
        wire::uint(out, u64::from(name));
        wire::uint(out, u64::from(resource));
        wire::uint(out, s.trace_id);
        wire::uint(out, s.span_id);
        wire::uint(out, s.parent_id);
        wire::sint(out, s.start);
        wire::sint(out, s.duration);
        out.push(u8::from(s.error));
    }

    #[inline]
    fn meta(&mut self, len: usize) {
        wire::map_len(self.out, len);
    }

    #[inline]
    fn meta_entry(&mut self, key: Piece<'_>, value: Piece<'_>) {
        let key = self.dict.intern_handle(self.handles.pool(0, key), key.bytes());
        let value = self.dict.intern_handle(self.handles.pool(1, value), value.bytes());
        wire::uint(self.out, u64::from(key));
        wire::uint(self.out, u64::from(value));
    }

    #[inline]
    fn metrics(&mut self, len: usize) {
        wire::map_len(self.out, len);
    }

    #[inline]
    fn metric(&mut self, key: Piece<'_>, value: f64) {
        let key = self.dict.intern_handle(self.handles.pool(2, key), key.bytes());
        wire::uint(self.out, u64::from(key));
        wire::float(self.out, value);
    }

    #[inline]
    fn end_span(&mut self) {
        if !self.known {
            self.ids[3] = self.dict.intern_handle(self.name_handles[3], self.names[3]);
            self.known = true;
        }
        wire::uint(self.out, u64::from(self.ids[3]));
    }
}
