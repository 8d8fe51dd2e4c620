//! DogStatsD datagrams, one per line: metrics, events and service checks.
//!
//! * Metrics: `name:value[:value…]|type[|@rate][|#tags][|c:container][|e:external][|card:cardinality][|T<unix>]`
//!   with types `c`, `g`, `ms`, `h`, `s` and `d`. As in lading, a sample rate goes on counts,
//!   timers, histograms and distributions, `|T` only on counts and gauges, and sets never pack
//!   several values.
//! * Events: `_e{title_len,text_len}:title|text[|d:ts][|h:host][|p:priority][|t:alert][|k:key][|s:source][|#tags]`,
//!   the lengths in bytes.
//! * Service checks: `_sc|name|status[|d:ts][|h:host][|#tags][|m:message]`, status 0..=3, `m:` last.
//!
//! Setup draws every metric context once (lading's semantics: a context is a metric name, a metric
//! type and a tagset) and stores each as one string, the name followed by its tags already
//! joined (`|#k:v,k:v`), in one arena. Encoding a metric is then two copies from that arena plus
//! the values (`itoa`/`ryu`). Members are handles and numbers: a packed metric keeps a seed for
//! its values rather than the values, so no member needs the heap.
//!
//! `length_prefix_framed: true` selects [`Framing::LengthPrefixedLines`] (Unix stream sockets).

mod config;
mod pools;

pub use config::{Config, EVENT_TIMESTAMP_DEFAULT, KindWeights, MetricWeights, TimestampConfig, ValueConf};

use crate::config::ConfRange;
use crate::delivery::Transport;
use crate::error::{Error, Result};
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::SetupMemory;
use crate::text::{StrPool, push_f64, push_i64, push_u64};

use pools::{MAX_EVENT_TEXT, Pools, cumulative, pick_weighted};

/// The six metric types, in lading's `metric_weights` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `c`
    Count,
    /// `g`
    Gauge,
    /// `ms`
    Timer,
    /// `d`
    Distribution,
    /// `s`
    Set,
    /// `h`
    Histogram,
}

impl MetricType {
    /// Every type, in the order of [`MetricWeights::as_array`].
    pub const ALL: [MetricType; 6] = [
        MetricType::Count,
        MetricType::Gauge,
        MetricType::Timer,
        MetricType::Distribution,
        MetricType::Set,
        MetricType::Histogram,
    ];

    /// The `|type` field.
    const fn field(self) -> &'static [u8] {
        match self {
            MetricType::Count => b"|c",
            MetricType::Gauge => b"|g",
            MetricType::Timer => b"|ms",
            MetricType::Distribution => b"|d",
            MetricType::Set => b"|s",
            MetricType::Histogram => b"|h",
        }
    }

    /// Whether lading writes a sample rate on this type.
    const fn sampled(self) -> bool {
        !matches!(self, MetricType::Gauge | MetricType::Set)
    }

    /// Whether the protocol allows `|T` on this type.
    const fn timestamped(self) -> bool {
        matches!(self, MetricType::Count | MetricType::Gauge)
    }
}

/// A metric line.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    context: u32,
    /// Number of values (at least 1).
    values: u16,
    /// Seed of the values, expanded at encoding.
    value_seed: u64,
    /// Sample rate `1/n`.
    rate: Option<u32>,
    container: Option<u32>,
    external: Option<u32>,
    cardinality: Option<u32>,
    timestamp: Option<u32>,
}

/// A slice of the prose arena.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u16,
}

/// An event line.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    title: Span,
    text: Span,
    timestamp: Option<u32>,
    hostname: Option<u32>,
    priority: Option<u8>,
    alert: Option<u8>,
    aggregation_key: Option<u32>,
    source_type: Option<u32>,
    /// The context whose tags the event carries.
    tags: Option<u32>,
}

/// A service check line.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCheck {
    name: u32,
    status: u8,
    timestamp: Option<u32>,
    hostname: Option<u32>,
    tags: Option<u32>,
    message: Option<u32>,
}

/// One datagram of the stream.
#[derive(Debug, Clone, Copy)]
pub enum Datagram {
    /// A metric.
    Metric(Metric),
    /// An event.
    Event(Event),
    /// A service check.
    ServiceCheck(ServiceCheck),
}

const PRIORITIES: [&[u8]; 2] = [b"low", b"normal"];
const ALERTS: [&[u8]; 4] = [b"error", b"warning", b"info", b"success"];

/// The `dogstatsd` format.
#[derive(Debug)]
pub struct DogStatsD {
    framing: Framing,
    kind_cum: [u32; 3],
    pools: Pools,
    name_length: ConfRange,
    multivalue_pack_probability: f64,
    multivalue_count: ConfRange,
    sampling_range: ConfRange<f64>,
    sampling_probability: f64,
    float_probability: f64,
    /// Integer bounds, shifted to `u64` order (`x ^ 1 << 63`).
    int_range: (u64, u64),
    float_range: (f64, f64),
    timestamp_range: ConfRange,
    timestamp_probability: f64,
    /// The `d:` dates of events and service checks.
    event_timestamp: ConfRange,
}

impl Configured for DogStatsD {
    type Config = Config;
    const NAME: &'static str = "dogstatsd";
    const ABOUT: &'static str = "DogStatsD metrics, events and service checks, one per line";
    const LADING_PATH: &'static [&'static str] = &["dogstatsd"];

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let pools = Pools::build(c, &mut rng)?;
        let (lo, hi) = (c.value.range.min(), c.value.range.max());
        Ok(Self {
            framing: if c.length_prefix_framed { Framing::LengthPrefixedLines } else { Framing::Lines },
            kind_cum: cumulative(c.kind_weights.as_array()),
            pools,
            name_length: c.name_length,
            multivalue_pack_probability: c.multivalue_pack_probability,
            multivalue_count: c.multivalue_count,
            sampling_range: c.sampling_range,
            sampling_probability: c.sampling_probability,
            float_probability: c.value.float_probability,
            int_range: (lo as u64 ^ 1 << 63, hi as u64 ^ 1 << 63),
            float_range: (lo as f64, hi as f64),
            timestamp_range: c.timestamp.range,
            timestamp_probability: c.timestamp.probability,
            event_timestamp: c.event_timestamp,
        })
    }

    /// Blocks carry the agent's 4-byte length prefix on Unix stream sockets (where the agent
    /// reads frames) and never elsewhere (datagrams, TCP, HTTP).
    fn for_transport(c: &Config, transport: Transport) -> Result<Option<Config>> {
        let want = transport == Transport::Unix;
        if c.length_prefix_framed == want {
            return Ok(None);
        }
        if c.length_prefix_framed {
            return Err(Error::config(
                "dogstatsd.length_prefix_framed",
                true,
                "only Unix stream sockets take length-prefixed blocks; remove it for datagrams, TCP and HTTP",
            ));
        }
        Ok(Some(Config { length_prefix_framed: true, ..c.clone() }))
    }

    fn estimate_setup(c: &Config, memory: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        pools::estimate(c, memory)
    }
}

/// `Some(pick())` with probability one half (one draw either way, then the pick's draws).
#[inline]
fn maybe<T>(rng: &mut BlockRng, pick: impl FnOnce(&mut BlockRng) -> T) -> Option<T> {
    if rng.next_u64() >> 63 == 1 { Some(pick(rng)) } else { None }
}

/// A handle from `pool` with probability one half; never for an empty pool.
#[inline]
fn maybe_from(rng: &mut BlockRng, pool: &StrPool) -> Option<u32> {
    if pool.is_empty() { None } else { maybe(rng, |r| pool.pick(r)) }
}

/// Appends `|<key><value>` for a present value.
#[inline]
fn push_field(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    if let Some(v) = value {
        out.extend_from_slice(key);
        out.extend_from_slice(v);
    }
}

/// Appends `|<key><number>` for a present number.
#[inline]
fn push_number_field(out: &mut Vec<u8>, key: &[u8], value: Option<u32>) {
    if let Some(v) = value {
        out.extend_from_slice(key);
        push_u64(out, u64::from(v));
    }
}

/// Prefetches every cache line of entry `handle` of `pool`.
#[inline]
fn prefetch_entry(pool: &StrPool, handle: Option<u32>) {
    if let Some(h) = handle {
        let (tail, len) = pool.tail(h);
        crate::slack::prefetch(tail.get(..len).unwrap_or(tail));
    }
}

impl DogStatsD {
    /// The text of context `i`, split into its name and its joined tags (`|#…` or empty).
    #[inline]
    fn context(&self, i: u32) -> (&[u8], &[u8]) {
        let (tail, len) = self.pools.contexts.tail(i);
        let text = tail.get(..len).unwrap_or_default();
        let name_len = self.pools.context_meta.get(i as usize).map_or(0, |c| usize::from(c.name_len));
        text.split_at_checked(name_len).unwrap_or((text, b""))
    }

    fn tags_of(&self, context: Option<u32>) -> Option<&[u8]> {
        context.map(|i| self.context(i).1)
    }

    fn prose(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        self.pools.prose.as_bytes().get(start..start + usize::from(span.len)).unwrap_or_default()
    }

    /// A random slice of the prose arena with a length drawn from `len`.
    fn pick_prose(&self, rng: &mut BlockRng, len: u64) -> Span {
        let len = len.min(self.pools.prose.len() as u64);
        let start = rng.below(self.pools.prose.len() as u64 - len + 1);
        Span { start: start as u32, len: len as u16 }
    }

    fn generate_metric(&self, rng: &mut BlockRng) -> Metric {
        let pools = &self.pools;
        let context = rng.below(pools.context_meta.len() as u64) as u32;
        let ty = pools.context_meta.get(context as usize).map_or(MetricType::Count, |c| c.ty);
        let container = maybe_from(rng, &pools.container_ids);
        let external = maybe_from(rng, &pools.external_data);
        let cardinality = maybe_from(rng, &pools.cardinality);
        let rate = (rng.chance(self.sampling_probability) && ty.sampled()).then(|| {
            // lading writes a rate `r` as `1/n` with `n = floor(1/r)`.
            let r = self.sampling_range.sample(rng);
            (1.0 / r).clamp(1.0, f64::from(u32::MAX)) as u32
        });
        let packed = rng.chance(self.multivalue_pack_probability) && ty != MetricType::Set;
        let values = if packed { self.multivalue_count.sample(rng).clamp(1, u64::from(u16::MAX)) as u16 } else { 1 };
        let value_seed = rng.next_u64();
        let timestamp =
            (ty.timestamped() && self.timestamp_probability > 0.0 && rng.chance(self.timestamp_probability))
                .then(|| self.timestamp_range.sample(rng) as u32);
        Metric { context, values, value_seed, rate, container, external, cardinality, timestamp }
    }

    fn generate_event(&self, rng: &mut BlockRng) -> Event {
        let pools = &self.pools;
        let title_len = self.name_length.sample(rng);
        let title = self.pick_prose(rng, title_len);
        let text_len = rng.inclusive(1, MAX_EVENT_TEXT);
        let text = self.pick_prose(rng, text_len);
        Event {
            title,
            text,
            tags: maybe(rng, |r| r.below(pools.context_meta.len() as u64) as u32),
            timestamp: maybe(rng, |r| self.event_timestamp.sample(r) as u32),
            hostname: maybe_from(rng, &pools.small),
            aggregation_key: maybe_from(rng, &pools.small),
            priority: maybe(rng, |r| r.below(2) as u8),
            source_type: maybe_from(rng, &pools.small),
            alert: maybe(rng, |r| r.below(4) as u8),
        }
    }

    fn generate_service_check(&self, rng: &mut BlockRng) -> ServiceCheck {
        let pools = &self.pools;
        ServiceCheck {
            name: pools.service_checks.pick(rng),
            hostname: maybe_from(rng, &pools.small),
            message: maybe_from(rng, &pools.messages),
            tags: maybe(rng, |r| r.below(pools.context_meta.len() as u64) as u32),
            status: rng.below(4) as u8,
            timestamp: maybe(rng, |r| self.event_timestamp.sample(r) as u32),
        }
    }

    /// Appends the values of a metric, each preceded by `:`, from its seed.
    fn push_values(&self, m: &Metric, out: &mut Vec<u8>) {
        let mut rng = BlockRng::for_block(m.value_seed, 0);
        for _ in 0..m.values {
            out.push(b':');
            if rng.chance(self.float_probability) {
                let (lo, hi) = self.float_range;
                push_f64(out, lo + rng.unit_f64() * (hi - lo));
            } else {
                let (lo, hi) = self.int_range;
                push_i64(out, (rng.inclusive(lo, hi) ^ 1 << 63) as i64);
            }
        }
    }

    fn encode_metric(&self, m: &Metric, out: &mut Vec<u8>) {
        let (name, tags) = self.context(m.context);
        let ty = self.pools.context_meta.get(m.context as usize).map_or(MetricType::Count, |c| c.ty);
        out.extend_from_slice(name);
        self.push_values(m, out);
        out.extend_from_slice(ty.field());
        if let Some(n) = m.rate {
            out.extend_from_slice(b"|@");
            if n <= 1 {
                out.push(b'1');
            } else {
                push_f64(out, 1.0 / f64::from(n));
            }
        }
        out.extend_from_slice(tags);
        let pools = &self.pools;
        push_field(out, b"|c:", m.container.map(|h| pools.container_ids.get(h).as_bytes()));
        push_field(out, b"|e:", m.external.map(|h| pools.external_data.get(h).as_bytes()));
        push_field(out, b"|card:", m.cardinality.map(|h| pools.cardinality.get(h).as_bytes()));
        push_number_field(out, b"|T", m.timestamp);
    }

    fn encode_event(&self, e: &Event, out: &mut Vec<u8>) {
        let (title, text) = (self.prose(e.title), self.prose(e.text));
        out.extend_from_slice(b"_e{");
        push_u64(out, title.len() as u64);
        out.push(b',');
        push_u64(out, text.len() as u64);
        out.extend_from_slice(b"}:");
        out.extend_from_slice(title);
        out.push(b'|');
        out.extend_from_slice(text);
        let small = |h: Option<u32>| h.map(|h| self.pools.small.get(h).as_bytes());
        push_number_field(out, b"|d:", e.timestamp);
        push_field(out, b"|h:", small(e.hostname));
        push_field(out, b"|p:", e.priority.and_then(|p| PRIORITIES.get(usize::from(p)).copied()));
        push_field(out, b"|t:", e.alert.and_then(|a| ALERTS.get(usize::from(a)).copied()));
        push_field(out, b"|k:", small(e.aggregation_key));
        push_field(out, b"|s:", small(e.source_type));
        out.extend_from_slice(self.tags_of(e.tags).unwrap_or_default());
    }

    fn encode_service_check(&self, s: &ServiceCheck, out: &mut Vec<u8>) {
        out.extend_from_slice(b"_sc|");
        out.extend_from_slice(self.pools.service_checks.get(s.name).as_bytes());
        out.push(b'|');
        out.push(b'0' + s.status.min(3));
        push_number_field(out, b"|d:", s.timestamp);
        push_field(out, b"|h:", s.hostname.map(|h| self.pools.small.get(h).as_bytes()));
        out.extend_from_slice(self.tags_of(s.tags).unwrap_or_default());
        push_field(out, b"|m:", s.message.map(|h| self.pools.messages.get(h).as_bytes()));
    }
}

impl Format for DogStatsD {
    type Member = Datagram;

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn framing(&self) -> Framing {
        self.framing
    }

    fn min_member_len(&self) -> usize {
        let [metric, event, _] = self.kind_cum;
        let mut shortest = usize::MAX;
        if metric > 0 {
            // name + ":" + one digit + "|c" (the shortest type field).
            let name = self.pools.context_meta.iter().map(|c| usize::from(c.name_len)).min().unwrap_or(0);
            shortest = shortest.min(name + 4);
        }
        if event > metric {
            // "_e{" + title length digits + "," + "1" + "}:" + title + "|" + one character.
            let title = self.name_length.min() as usize;
            shortest = shortest.min(3 + itoa::Buffer::new().format(title).len() + 1 + 1 + 2 + title + 1 + 1);
        }
        if self.kind_cum[2] > event {
            // "_sc|" + name + "|" + status.
            shortest = shortest.min(4 + self.pools.service_checks.min_len() + 2);
        }
        shortest
    }

    fn generate(&self, rng: &mut BlockRng) -> Datagram {
        match pick_weighted(rng, &self.kind_cum) {
            1 => Datagram::Event(self.generate_event(rng)),
            2 => Datagram::ServiceCheck(self.generate_service_check(rng)),
            _ => Datagram::Metric(self.generate_metric(rng)),
        }
    }

    const LOOKAHEAD: bool = true;

    /// Starts loading the member's context text (a random one of thousands, several MB in all)
    /// and, for a service check, its name and message, so the loads overlap with encoding the
    /// member before it.
    #[inline]
    fn prefetch(&self, member: &Datagram) {
        let pools = &self.pools;
        let context = match member {
            Datagram::Metric(m) => Some(m.context),
            Datagram::Event(e) => e.tags,
            Datagram::ServiceCheck(s) => {
                prefetch_entry(&pools.service_checks, Some(s.name));
                prefetch_entry(&pools.messages, s.message);
                s.tags
            }
        };
        prefetch_entry(&pools.contexts, context);
    }

    fn encode(&self, member: &Datagram, out: &mut Vec<u8>) {
        match member {
            Datagram::Metric(m) => self.encode_metric(m, out),
            Datagram::Event(e) => self.encode_event(e, out),
            Datagram::ServiceCheck(s) => self.encode_service_check(s, out),
        }
    }
}
