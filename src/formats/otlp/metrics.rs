//! `otlp-metrics`: the body of an OTLP `ExportMetricsServiceRequest`, one `ResourceMetrics` per
//! member.
//!
//! A member is a resource, `scopes_per_resource` `ScopeMetrics` and `metrics_per_scope` metrics
//! in each, drawn from a pool of `metric_names` metric definitions (name, description, unit and
//! kind, fixed at setup). Kinds follow `metric_weights`: gauges (double values), sums (delta or
//! cumulative; a fifth of them non-monotonic up-down counters, the rest monotonic counters with
//! non-negative integer values), histograms (explicit latency bounds, bucket counts that add up
//! to the count, a sum between `min × count` and `max × count`) and exponential histograms
//! (scale 3, positive buckets). Each metric has `points_per_metric` data points with
//! `attributes_per_metric` attributes, a time inside `timestamp_ms` and a start time before it
//! (10 s before for delta temporality, up to an hour for cumulative), and with
//! `exemplar_probability` one exemplar carrying a trace id and span id.
//!
//! lading's `opentelemetry_metrics` keys (`metric_weights`, `contexts`) load as they are.
//! Summaries are not generated: a positive `metric_weights.summary` is refused by name.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_count, validate_probability, validate_weights};
use crate::error::{Error, Result};
use crate::format::{Configured, Format};
use crate::framing::Framing;
use crate::rng::{BlockRng, mix64};
use crate::setup::{self, SetupMemory, key};

use super::entry_pools::{EntryPools, EntryShape};
use super::pools::{AttrSet, AttrTable, BytePool, SCRATCH_BYTES};
use super::wire::{self, FIXED64_FIELD, len_field, put_len_header, varint_field, varint_len};
use super::{DEFAULT_WINDOW_MS, MAX_SCOPES, MAX_TIMESTAMP_MS, SCHEMA_URL, Weighted};

/// Configuration of `otlp-metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Relative weights of the metric kinds (lading's key).
    pub metric_weights: MetricWeights,
    /// Resources, scopes, metrics and attributes per member (lading's key).
    pub contexts: Contexts,
    /// Distinct metric definitions (1..=100000).
    pub metric_names: u64,
    /// Data points per metric (1..=16).
    pub points_per_metric: ConfRange,
    /// Probability that a data point carries an exemplar.
    pub exemplar_probability: f64,
    /// Distinct services the resources name (1..=100000).
    pub services: u64,
    /// Distinct hosts (1..=100000).
    pub hosts: u64,
    /// Distinct instrumentation scopes (1..=10000).
    pub scopes: u64,
    /// Distinct values of each attribute key (1..=4096).
    pub attribute_values: u64,
    /// Data point times, in milliseconds since the Unix epoch (default: 2026 and 2027).
    pub timestamp_ms: ConfRange,
}

/// Relative weights of the metric kinds (lading's integers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricWeights {
    /// Gauges.
    pub gauge: u32,
    /// Sums, split evenly between delta and cumulative (lading's older key).
    pub sum: u32,
    /// Delta sums.
    pub sum_delta: u32,
    /// Cumulative sums.
    pub sum_cumulative: u32,
    /// Delta histograms.
    pub histogram_delta: u32,
    /// Cumulative histograms.
    pub histogram_cumulative: u32,
    /// Delta exponential histograms.
    pub exp_histogram_delta: u32,
    /// Cumulative exponential histograms.
    pub exp_histogram_cumulative: u32,
    /// Summaries: not generated, must be 0.
    pub summary: u32,
}

impl Default for MetricWeights {
    fn default() -> Self {
        Self {
            gauge: 30,
            sum: 0,
            sum_delta: 15,
            sum_cumulative: 25,
            histogram_delta: 5,
            histogram_cumulative: 15,
            exp_histogram_delta: 5,
            exp_histogram_cumulative: 5,
            summary: 0,
        }
    }
}

impl MetricWeights {
    /// Weights by [`Kind`] order.
    fn as_array(&self) -> [f64; 7] {
        let half = f64::from(self.sum) / 2.0;
        [
            f64::from(self.gauge),
            f64::from(self.sum_delta) + half,
            f64::from(self.sum_cumulative) + half,
            f64::from(self.histogram_delta),
            f64::from(self.histogram_cumulative),
            f64::from(self.exp_histogram_delta),
            f64::from(self.exp_histogram_cumulative),
        ]
    }
}

/// Counts per member, as lading names them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Contexts {
    /// Distinct resources (drawn once at setup, 1..=100000).
    pub total_contexts: ConfRange,
    /// Attributes per resource (1..=64).
    pub attributes_per_resource: ConfRange,
    /// `ScopeMetrics` per member (1..=64).
    pub scopes_per_resource: ConfRange,
    /// Attributes per scope (0..=64).
    pub attributes_per_scope: ConfRange,
    /// Metrics per scope (1..=1024).
    pub metrics_per_scope: ConfRange,
    /// Attributes per data point (0..=255).
    pub attributes_per_metric: ConfRange,
}

impl Default for Contexts {
    fn default() -> Self {
        Self {
            total_contexts: ConfRange::constant(256),
            attributes_per_resource: ConfRange::inclusive(4, 10),
            scopes_per_resource: ConfRange::constant(1),
            attributes_per_scope: ConfRange::constant(0),
            metrics_per_scope: ConfRange::inclusive(1, 3),
            attributes_per_metric: ConfRange::inclusive(0, 4),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            metric_weights: MetricWeights::default(),
            contexts: Contexts::default(),
            metric_names: 512,
            points_per_metric: ConfRange::inclusive(1, 2),
            exemplar_probability: 0.1,
            services: 24,
            hosts: 64,
            scopes: 12,
            attribute_values: 32,
            timestamp_ms: ConfRange::inclusive(DEFAULT_WINDOW_MS.0, DEFAULT_WINDOW_MS.1),
        }
    }
}

/// Most data points per metric (a stack array per metric holds them).
const MAX_POINTS: u64 = 16;

impl Config {
    /// The shape of the resource, scope and attribute pools.
    fn entry_shape(&self) -> EntryShape<'_> {
        let c = &self.contexts;
        EntryShape {
            keys: ("otlp_metrics", "attributes_per_metric"),
            what: ["otlp-metrics resources", "otlp-metrics attributes", "otlp-metrics scopes"],
            total_contexts: &c.total_contexts,
            attributes_per_resource: &c.attributes_per_resource,
            attributes_per_scope: &c.attributes_per_scope,
            attributes_per_record: &c.attributes_per_metric,
            services: self.services,
            hosts: self.hosts,
            scopes: self.scopes,
            attribute_values: self.attribute_values,
        }
    }

    /// Checks every field, naming the first invalid one (`otlp_metrics.<key>`) and its value.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let c = &self.contexts;
        if self.metric_weights.summary > 0 {
            return Err(Error::config(
                "otlp_metrics.metric_weights.summary",
                self.metric_weights.summary,
                "summaries are not generated (a legacy type OpenTelemetry SDKs do not emit): set it to 0",
            ));
        }
        validate_weights("otlp_metrics.metric_weights", &self.metric_weights.as_array())?;
        self.entry_shape().validate()?;
        c.scopes_per_resource.validate("otlp_metrics.contexts.scopes_per_resource", 1..=MAX_SCOPES)?;
        c.metrics_per_scope.validate("otlp_metrics.contexts.metrics_per_scope", 1..=1024)?;
        validate_count("otlp_metrics.metric_names", self.metric_names, 100_000)?;
        self.points_per_metric.validate("otlp_metrics.points_per_metric", 1..=MAX_POINTS)?;
        validate_probability("otlp_metrics.exemplar_probability", self.exemplar_probability)?;
        self.timestamp_ms.validate("otlp_metrics.timestamp_ms", 3_600_000..=MAX_TIMESTAMP_MS)?;
        Ok(())
    }
}

/// Metric kinds, in [`MetricWeights::as_array`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    SumDelta,
    SumCumulative,
    HistogramDelta,
    HistogramCumulative,
    ExpDelta,
    ExpCumulative,
}

const KINDS: [Kind; 7] = [
    Kind::Gauge,
    Kind::SumDelta,
    Kind::SumCumulative,
    Kind::HistogramDelta,
    Kind::HistogramCumulative,
    Kind::ExpDelta,
    Kind::ExpCumulative,
];

impl Kind {
    fn delta(self) -> bool {
        matches!(self, Kind::SumDelta | Kind::HistogramDelta | Kind::ExpDelta)
    }

    /// `AGGREGATION_TEMPORALITY_DELTA` (1) or `_CUMULATIVE` (2).
    fn temporality(self) -> u64 {
        if self.delta() { 1 } else { 2 }
    }
}

/// A metric definition: its kind, whether a sum is monotonic, and its name fields (handle).
#[derive(Debug, Clone, Copy)]
struct Definition {
    kind: Kind,
    monotonic: bool,
}

/// Metric names by instrument shape: `(name, description, unit)`.
const GAUGES: &[(&str, &str, &str)] = &[
    ("system.cpu.utilization", "Fraction of CPU time in use", "1"),
    ("system.memory.usage", "Bytes of memory in use", "By"),
    ("jvm.memory.used", "Measure of memory used", "By"),
    ("process.runtime.go.goroutines", "Number of goroutines", "{goroutine}"),
    ("queue.depth", "Messages waiting in the queue", "{message}"),
];
const COUNTERS: &[(&str, &str, &str)] = &[
    ("http.server.request.count", "Requests served", "{request}"),
    ("rpc.server.calls", "Calls served", "{call}"),
    ("messaging.client.consumed.messages", "Messages consumed", "{message}"),
    ("db.client.operations", "Operations issued", "{operation}"),
    ("system.network.io", "Bytes transmitted", "By"),
];
const UP_DOWN: &[(&str, &str, &str)] = &[
    ("http.server.active_requests", "Requests in flight", "{request}"),
    ("db.client.connection.count", "Open connections", "{connection}"),
];
const HISTOGRAMS: &[(&str, &str, &str)] = &[
    ("http.server.request.duration", "Duration of HTTP server requests", "ms"),
    ("rpc.server.duration", "Duration of inbound RPCs", "ms"),
    ("db.client.operation.duration", "Duration of database operations", "ms"),
    ("http.client.request.body.size", "Size of HTTP client request bodies", "By"),
];
/// Explicit bounds of every histogram (the SDKs' default latency buckets).
const BOUNDS: [f64; 14] =
    [5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];
/// Scale of exponential histograms and the most positive buckets they hold.
const EXP_SCALE: i32 = 3;
const EXP_BUCKETS: u64 = 16;
/// Most bytes of a definition's name fields.
const NAME_BYTES: usize = 128;

/// One data point as drawn.
#[derive(Debug, Clone, Copy, Default)]
struct Point {
    time: u64,
    start: u64,
    attrs: AttrSet,
    seed: u64,
    exemplar: bool,
}

/// One `ResourceMetrics` entry: the seed its contents are replayed from.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    seed: u64,
}

/// The `otlp-metrics` format.
#[derive(Debug)]
pub struct OtlpMetrics {
    config: Config,
    resources: BytePool,
    scopes: BytePool,
    attrs: AttrTable,
    /// Per definition: name, description and unit fields (no key or length).
    names: BytePool,
    definitions: Vec<Definition>,
    min_member_len: usize,
}

impl Configured for OtlpMetrics {
    type Config = Config;
    const NAME: &'static str = "otlp-metrics";
    const ABOUT: &'static str =
        "OTLP metrics (gauges, sums, histograms, exponential histograms): an ExportMetricsServiceRequest";
    const LADING_PATH: &'static [&'static str] = &["opentelemetry_metrics"];
    const DELIVERY: crate::delivery::Delivery = super::OTLP
        .with_http_path("/v1/metrics")
        .with_grpc_method("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");

    fn from_config(c: &Config, seed: u64) -> Result<Self> {
        c.validate()?;
        let mut rng = BlockRng::for_setup(seed);
        let EntryPools { resources, attrs, scopes } = EntryPools::build(&mut rng, &c.entry_shape())?;
        let what = "otlp-metrics definitions";
        let count = c.metric_names as usize;
        let mut names = BytePool::with_capacity(count.saturating_mul(NAME_BYTES), count, what)?;
        let mut definitions = setup::try_vec(count, what)?;
        let mut scratch = setup::try_vec(NAME_BYTES, what)?;
        let weights = Weighted::new(&c.metric_weights.as_array());
        for i in 0..count {
            let kind = KINDS.get(weights.sample(&mut rng)).copied().unwrap_or(Kind::Gauge);
            let monotonic = !rng.chance(0.2);
            let list = match kind {
                Kind::Gauge => GAUGES,
                Kind::SumDelta | Kind::SumCumulative if monotonic => COUNTERS,
                Kind::SumDelta | Kind::SumCumulative => UP_DOWN,
                _ => HISTOGRAMS,
            };
            let (name, description, unit) = list.get(rng.index(list.len())).copied().unwrap_or(("m", "", "1"));
            let number = i / 8;
            names.push_built(&mut scratch, |out| {
                let mut digits = itoa::Buffer::new();
                let suffix = digits.format(number);
                put_len_header(out, 1, name.len() + 1 + suffix.len());
                out.extend_from_slice(name.as_bytes());
                out.push(b'.');
                out.extend_from_slice(suffix.as_bytes());
                wire::put_bytes(out, 2, description.as_bytes());
                wire::put_bytes(out, 3, unit.as_bytes());
            })?;
            definitions.push(Definition { kind, monotonic });
        }
        let mut format = Self { config: c.clone(), resources, scopes, attrs, names, definitions, min_member_len: 0 };
        format.min_member_len = format.shortest_member();
        Ok(format)
    }

    fn estimate_setup(c: &Config, m: &mut SetupMemory) -> Result<()> {
        c.validate()?;
        EntryPools::estimate(&c.entry_shape(), m);
        m.add(
            "metric definitions",
            setup::mul(c.metric_names, NAME_BYTES as u64 + 4) + setup::array_of::<Definition>(c.metric_names),
            || vec![key("otlp_metrics.metric_names", c.metric_names)],
        );
        m.add("setup buffers", 3 * SCRATCH_BYTES as u64 + 4096 + NAME_BYTES as u64, Vec::new);
        Ok(())
    }
}

/// The `i`-th replayable draw of a point's seed.
#[inline]
fn draw(seed: u64, i: u64) -> u64 {
    mix64(seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Exemplar: time, value, span id and trace id.
const EXEMPLAR_LEN: usize = 2 * FIXED64_FIELD + 2 + 8 + 2 + 16;

impl OtlpMetrics {
    fn draw_point(&self, rng: &mut BlockRng, kind: Kind) -> Point {
        let time = self.config.timestamp_ms.sample(rng).saturating_mul(1_000_000) + rng.below(1_000_000);
        let back = if kind.delta() { 10_000_000_000 } else { 1 + rng.below(3_600_000_000_000) };
        let n = self.config.contexts.attributes_per_metric.sample(rng) as u32;
        let attrs = self.attrs.draw(rng, n);
        let exemplar = rng.chance(self.config.exemplar_probability);
        Point { time, start: time.saturating_sub(back), attrs, seed: rng.next_u64(), exemplar }
    }

    /// Histogram bucket `i`'s count (one of them at least 1, so the count is never 0).
    #[inline]
    fn bucket(p: &Point, i: u64) -> u64 {
        let c = draw(p.seed, i) % 40;
        if i == p.seed % 15 { c + 1 } else { c }
    }

    /// Positive buckets of an exponential histogram: `(offset, count)`.
    #[inline]
    fn exp_shape(p: &Point) -> (i32, u64) {
        let x = draw(p.seed, 100);
        ((x % 64) as i32 - 16, 4 + (x >> 32) % (EXP_BUCKETS - 3))
    }

    fn exp_bucket(p: &Point, i: u64) -> u64 {
        let c = draw(p.seed, 200 + i) % 30;
        if i == 0 { c + 1 } else { c }
    }

    /// Bytes of a data point's message (without key and length).
    fn point_len(&self, d: &Definition, p: &Point) -> usize {
        let attrs = self.attrs.set_len(&p.attrs);
        let exemplar = if p.exemplar { len_field(EXEMPLAR_LEN) } else { 0 };
        match d.kind {
            Kind::Gauge | Kind::SumDelta | Kind::SumCumulative => attrs + 3 * FIXED64_FIELD + exemplar,
            Kind::HistogramDelta | Kind::HistogramCumulative => {
                attrs
                    + 4 * FIXED64_FIELD
                    + len_field(8 * (BOUNDS.len() + 1))
                    + len_field(8 * BOUNDS.len())
                    + exemplar
                    + 2 * FIXED64_FIELD
            }
            Kind::ExpDelta | Kind::ExpCumulative => {
                let (offset, n) = Self::exp_shape(p);
                let counts: usize = (0..n).map(|i| varint_len(Self::exp_bucket(p, i))).sum();
                let positive = varint_field(wire::zigzag32(offset)) + len_field(counts);
                attrs
                    + 4 * FIXED64_FIELD
                    + varint_field(wire::zigzag32(EXP_SCALE))
                    + FIXED64_FIELD
                    + len_field(positive)
                    + exemplar
                    + 2 * FIXED64_FIELD
            }
        }
    }

    fn put_exemplar(p: &Point, field: u8, value: f64, out: &mut Vec<u8>) {
        if !p.exemplar {
            return;
        }
        put_len_header(out, field, EXEMPLAR_LEN);
        wire::put_fixed64(out, 2, p.time.saturating_sub(draw(p.seed, 300) % 1_000_000_000));
        wire::put_double(out, 3, value);
        wire::put_bytes(out, 4, &(draw(p.seed, 301) | 1).to_le_bytes());
        let mut trace = [0u8; 16];
        trace[..8].copy_from_slice(&draw(p.seed, 302).to_le_bytes());
        trace[8..].copy_from_slice(&(draw(p.seed, 303) | 1).to_le_bytes());
        wire::put_bytes(out, 5, &trace);
    }

    fn put_point(&self, d: &Definition, p: &Point, out: &mut Vec<u8>) {
        let x = draw(p.seed, 50);
        match d.kind {
            Kind::Gauge | Kind::SumDelta | Kind::SumCumulative => {
                self.attrs.put_set(out, 7, &p.attrs);
                wire::put_fixed64(out, 2, p.start);
                wire::put_fixed64(out, 3, p.time);
                let value = match (d.kind, d.monotonic) {
                    (Kind::Gauge, _) => {
                        let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
                        wire::put_double(out, 4, v);
                        v
                    }
                    (_, true) => {
                        let v = x % if d.kind.delta() { 1_000 } else { 10_000_000 };
                        wire::put_fixed64(out, 6, v);
                        v as f64
                    }
                    (_, false) => {
                        let v = (x % 2_000) as i64 - 1_000;
                        wire::put_fixed64(out, 6, v as u64);
                        v as f64
                    }
                };
                Self::put_exemplar(p, 5, value, out);
            }
            Kind::HistogramDelta | Kind::HistogramCumulative => {
                self.attrs.put_set(out, 9, &p.attrs);
                wire::put_fixed64(out, 2, p.start);
                wire::put_fixed64(out, 3, p.time);
                let (mut count, mut sum, mut first, mut last) = (0u64, 0.0f64, usize::MAX, 0usize);
                for i in 0..=BOUNDS.len() {
                    let c = Self::bucket(p, i as u64);
                    if c > 0 {
                        first = first.min(i);
                        last = i;
                    }
                    count += c;
                    sum += c as f64 * bucket_mid(i);
                }
                wire::put_fixed64(out, 4, count);
                wire::put_double(out, 5, sum);
                put_len_header(out, 6, 8 * (BOUNDS.len() + 1));
                for i in 0..=BOUNDS.len() {
                    out.extend_from_slice(&Self::bucket(p, i as u64).to_le_bytes());
                }
                put_len_header(out, 7, 8 * BOUNDS.len());
                for b in BOUNDS {
                    out.extend_from_slice(&b.to_bits().to_le_bytes());
                }
                Self::put_exemplar(p, 8, bucket_mid(first), out);
                wire::put_double(out, 11, bucket_edges(first).0);
                wire::put_double(out, 12, bucket_edges(last).1);
            }
            Kind::ExpDelta | Kind::ExpCumulative => {
                let (offset, n) = Self::exp_shape(p);
                self.attrs.put_set(out, 1, &p.attrs);
                wire::put_fixed64(out, 2, p.start);
                wire::put_fixed64(out, 3, p.time);
                let base = 2f64.powf(2f64.powi(-EXP_SCALE));
                let (mut count, mut sum, mut last) = (0u64, 0.0f64, 0u64);
                for i in 0..n {
                    let c = Self::exp_bucket(p, i);
                    if c > 0 {
                        last = i;
                    }
                    count += c;
                    sum += c as f64 * base.powf(f64::from(offset) + i as f64 + 0.5);
                }
                wire::put_fixed64(out, 4, count);
                wire::put_double(out, 5, sum);
                wire::put_varint_field(out, 6, wire::zigzag32(EXP_SCALE));
                wire::put_fixed64(out, 7, 0);
                let counts: usize = (0..n).map(|i| varint_len(Self::exp_bucket(p, i))).sum();
                put_len_header(out, 8, varint_field(wire::zigzag32(offset)) + len_field(counts));
                wire::put_varint_field(out, 1, wire::zigzag32(offset));
                put_len_header(out, 2, counts);
                for i in 0..n {
                    wire::put_varint(out, Self::exp_bucket(p, i));
                }
                Self::put_exemplar(p, 11, base.powf(f64::from(offset) + 0.5), out);
                wire::put_double(out, 12, base.powf(f64::from(offset)));
                wire::put_double(out, 13, base.powf(f64::from(offset) + last as f64 + 1.0));
            }
        }
    }

    /// Bytes of the `data` message (gauge, sum...) of a metric holding `points` of `lens`.
    fn data_len(d: &Definition, lens: &[usize]) -> usize {
        let points: usize = lens.iter().map(|&l| len_field(l)).sum();
        match d.kind {
            Kind::Gauge => points,
            Kind::SumDelta | Kind::SumCumulative => points + 2 * varint_field(2),
            _ => points + varint_field(2),
        }
    }

    /// Draws one metric's definition and points; returns its definition, point count and
    /// message length, with the points and their lengths in the arrays.
    fn draw_metric(
        &self,
        rng: &mut BlockRng,
        points: &mut [Point; MAX_POINTS as usize],
        lens: &mut [usize; MAX_POINTS as usize],
    ) -> (u32, usize, usize) {
        let handle = rng.index(self.definitions.len()) as u32;
        let d = self
            .definitions
            .get(handle as usize)
            .copied()
            .unwrap_or(Definition { kind: Kind::Gauge, monotonic: false });
        let n = (self.config.points_per_metric.sample(rng).min(MAX_POINTS)) as usize;
        for (p, l) in points.iter_mut().zip(lens.iter_mut()).take(n) {
            *p = self.draw_point(rng, d.kind);
            *l = self.point_len(&d, p);
        }
        let len = self.names.get(handle).len() + len_field(Self::data_len(&d, lens.get(..n).unwrap_or_default()));
        (handle, n, len)
    }

    fn put_metric(&self, handle: u32, points: &[Point], lens: &[usize], len: usize, out: &mut Vec<u8>) {
        let d = self
            .definitions
            .get(handle as usize)
            .copied()
            .unwrap_or(Definition { kind: Kind::Gauge, monotonic: false });
        put_len_header(out, 2, len);
        out.extend_from_slice(self.names.get(handle));
        let field = match d.kind {
            Kind::Gauge => 5,
            Kind::SumDelta | Kind::SumCumulative => 7,
            Kind::HistogramDelta | Kind::HistogramCumulative => 9,
            Kind::ExpDelta | Kind::ExpCumulative => 10,
        };
        put_len_header(out, field, Self::data_len(&d, lens));
        for (p, &l) in points.iter().zip(lens) {
            put_len_header(out, 1, l);
            self.put_point(&d, p, out);
        }
        if d.kind != Kind::Gauge {
            wire::put_varint_field(out, 2, d.kind.temporality());
        }
        if matches!(d.kind, Kind::SumDelta | Kind::SumCumulative) {
            wire::put_varint_field(out, 3, u64::from(d.monotonic));
        }
    }

    /// Walks one `ScopeMetrics`: its length (sizing) or, given it, writes it.
    fn scope_metrics(&self, rng: &mut BlockRng, write: Option<(usize, &mut Vec<u8>)>) -> usize {
        let scope = self.scopes.get(self.scopes.pick(rng));
        let metrics = self.config.contexts.metrics_per_scope.sample(rng);
        let mut points = [Point::default(); MAX_POINTS as usize];
        let mut lens = [0usize; MAX_POINTS as usize];
        match write {
            None => {
                let mut len = scope.len() + len_field(SCHEMA_URL.len());
                for _ in 0..metrics {
                    len += len_field(self.draw_metric(rng, &mut points, &mut lens).2);
                }
                len
            }
            Some((len, out)) => {
                put_len_header(out, 2, len);
                out.extend_from_slice(scope);
                for _ in 0..metrics {
                    let (handle, n, metric_len) = self.draw_metric(rng, &mut points, &mut lens);
                    let (points, lens) = (points.get(..n).unwrap_or_default(), lens.get(..n).unwrap_or_default());
                    self.put_metric(handle, points, lens, metric_len, out);
                }
                wire::put_bytes(out, 3, SCHEMA_URL.as_bytes());
                len
            }
        }
    }

    /// A lower bound: the shortest resource and scope, one gauge point without attributes.
    fn shortest_member(&self) -> usize {
        let point = 3 * FIXED64_FIELD + self.attrs.min_set_len(self.config.contexts.attributes_per_metric.min() as u32);
        let metric = self.names.min_len() + len_field(len_field(point));
        let scope = self.scopes.min_len() + len_field(SCHEMA_URL.len()) + len_field(metric);
        len_field(self.resources.min_len() + len_field(SCHEMA_URL.len()) + len_field(scope))
    }
}

/// The value range of explicit histogram bucket `i`.
fn bucket_edges(i: usize) -> (f64, f64) {
    let lo = if i == 0 { 0.0 } else { BOUNDS.get(i - 1).copied().unwrap_or(0.0) };
    let hi = BOUNDS.get(i).copied().unwrap_or(lo * 1.5);
    (lo, hi)
}

fn bucket_mid(i: usize) -> f64 {
    let (lo, hi) = bucket_edges(i.min(BOUNDS.len()));
    (lo + hi) / 2.0
}

impl Format for OtlpMetrics {
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
        super::put_resource_entry(&self.resources, scopes, m.seed, out, |rng, write| self.scope_metrics(rng, write));
    }
}
