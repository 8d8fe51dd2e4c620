//! The `dogstatsd` configuration: lading's `dogstatsd` keys, shapes and defaults, and their
//! validation.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_probability};
use crate::error::{Error, Result};

/// Most metric contexts a config may ask for (lading's limit).
pub const MAX_CONTEXTS: u64 = 10_000_000;
/// Longest metric, event-title or service-check name (lading's protocol limit).
pub const MAX_NAME_LENGTH: u64 = 4_096;
/// Shortest tag: `k:v`.
pub const MIN_TAG_LENGTH: u64 = 3;

/// Smallest `unique_tag_ratio` (lading's limit: below it tagsets barely vary).
pub const MIN_UNIQUE_TAG_RATIO: f64 = 0.01;

/// Relative odds of each kind of datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindWeights {
    /// Metrics.
    pub metric: u8,
    /// Events (`_e{…}`).
    pub event: u8,
    /// Service checks (`_sc|…`).
    pub service_check: u8,
}

impl Default for KindWeights {
    fn default() -> Self {
        Self { metric: 80, event: 10, service_check: 10 }
    }
}

impl std::fmt::Display for KindWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{metric: {}, event: {}, service_check: {}}}", self.metric, self.event, self.service_check)
    }
}

impl KindWeights {
    /// The weights in drawing order: metric, event, service check.
    pub fn as_array(&self) -> [u8; 3] {
        [self.metric, self.event, self.service_check]
    }
}

/// Relative odds of each metric type, drawn once per context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricWeights {
    /// Counters (`|c`).
    pub count: u8,
    /// Gauges (`|g`).
    pub gauge: u8,
    /// Timers (`|ms`).
    pub timer: u8,
    /// Distributions (`|d`).
    pub distribution: u8,
    /// Sets (`|s`).
    pub set: u8,
    /// Histograms (`|h`).
    pub histogram: u8,
}

impl Default for MetricWeights {
    fn default() -> Self {
        Self { count: 34, gauge: 34, timer: 5, distribution: 1, set: 1, histogram: 25 }
    }
}

impl std::fmt::Display for MetricWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { count, gauge, timer, distribution, set, histogram } = self;
        write!(
            f,
            "{{count: {count}, gauge: {gauge}, timer: {timer}, distribution: {distribution}, set: {set}, histogram: {histogram}}}"
        )
    }
}

impl MetricWeights {
    /// The weights in the order of [`super::MetricType::ALL`].
    pub fn as_array(&self) -> [u8; 6] {
        [self.count, self.gauge, self.timer, self.distribution, self.set, self.histogram]
    }
}

/// Metric values: integers or floats from one range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueConf {
    /// Probability that a value is a float rather than an integer.
    pub float_probability: f64,
    /// Range of values (floats are drawn over the same bounds).
    pub range: ConfRange<i64>,
}

impl Default for ValueConf {
    fn default() -> Self {
        Self { float_probability: 0.5, range: ConfRange::inclusive(i64::MIN, i64::MAX) }
    }
}

/// The optional `|T<unix seconds>` field of counts and gauges (DogStatsD protocol v1.3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimestampConfig {
    /// Unix timestamps to draw from (within `u32`).
    pub range: ConfRange,
    /// Probability that a count or gauge carries `|T`.
    pub probability: f64,
}

impl Default for TimestampConfig {
    fn default() -> Self {
        Self { range: ConfRange::constant(1), probability: 0.0 }
    }
}

/// Configuration of the `dogstatsd` format: lading's `dogstatsd` keys with lading's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Distinct metric contexts (name + tagset), drawn once at setup.
    pub contexts: ConfRange,
    /// Distinct service check names, drawn once at setup.
    pub service_check_names: ConfRange,
    /// Length of metric names, event titles and service check names (1..=4096).
    pub name_length: ConfRange,
    /// Length of one tag, `key:value` with its colon (at least 3).
    pub tag_length: ConfRange,
    /// Tags per context (0..=255).
    pub tags_per_msg: ConfRange,
    /// Probability that a metric other than a set packs several values.
    pub multivalue_pack_probability: f64,
    /// Values in a packed metric.
    pub multivalue_count: ConfRange,
    /// Range of sample rates (within `[0, 1]`); written as `1/n` like lading.
    pub sampling_range: ConfRange<f64>,
    /// Probability that a count, timer, histogram or distribution carries `|@rate`.
    pub sampling_probability: f64,
    /// Odds of metrics, events and service checks.
    pub kind_weights: KindWeights,
    /// Odds of each metric type.
    pub metric_weights: MetricWeights,
    /// Metric values.
    pub value: ValueConf,
    /// Put one 4-byte little-endian length before each block (Unix stream sockets).
    pub length_prefix_framed: bool,
    /// Probability that a context's next tag is new rather than one already made (0.01..=1).
    pub unique_tag_ratio: f64,
    /// Metric names to use instead of random ones.
    pub metric_names: Vec<String>,
    /// Tag keys to use instead of random ones.
    pub tag_names: Vec<String>,
    /// Tag values to use instead of random ones.
    pub tag_values: Vec<String>,
    /// `|c:` container ids; empty means short random ids.
    pub container_ids: Vec<String>,
    /// `|e:` external data; empty means the field is never written.
    pub external_data: Vec<String>,
    /// `|card:` cardinalities; empty means the field is never written.
    pub cardinality: Vec<String>,
    /// The `|T` timestamp of counts and gauges.
    pub timestamp: TimestampConfig,
    /// Unix seconds of the `d:` field of events and service checks (which half of them carry),
    /// within `u32`. Not a lading key (lading draws any `u32`, so most dates lie in the future,
    /// up to 2106); the default is a recent window, all of 2024 and 2025, like the other
    /// formats' timestamps.
    pub event_timestamp: ConfRange,
}

/// The default `event_timestamp`: 2024-01-01T00:00:00Z to 2025-12-31T23:59:59Z.
pub const EVENT_TIMESTAMP_DEFAULT: ConfRange = ConfRange::inclusive(1_704_067_200, 1_767_225_599);

impl Default for Config {
    fn default() -> Self {
        Self {
            contexts: ConfRange::inclusive(5_000, 10_000),
            service_check_names: ConfRange::inclusive(1, 10_000),
            name_length: ConfRange::inclusive(1, 200),
            tag_length: ConfRange::inclusive(3, 50),
            tags_per_msg: ConfRange::inclusive(2, 50),
            multivalue_pack_probability: 0.08,
            multivalue_count: ConfRange::inclusive(2, 32),
            sampling_range: ConfRange::inclusive(0.1, 1.0),
            sampling_probability: 0.5,
            kind_weights: KindWeights::default(),
            metric_weights: MetricWeights::default(),
            value: ValueConf::default(),
            length_prefix_framed: false,
            unique_tag_ratio: 0.11,
            metric_names: Vec::new(),
            tag_names: Vec::new(),
            tag_values: Vec::new(),
            container_ids: Vec::new(),
            external_data: Vec::new(),
            cardinality: Vec::new(),
            timestamp: TimestampConfig::default(),
            event_timestamp: EVENT_TIMESTAMP_DEFAULT,
        }
    }
}

/// Checks every entry of a user-given string list: not empty, none of `forbidden`, no control
/// characters, at most `max_len` bytes.
fn validate_list(field: &str, items: &[String], forbidden: &str, max_len: usize) -> Result<()> {
    for item in items {
        let reason = if item.is_empty() {
            "entries must not be empty".to_string()
        } else if item.len() > max_len {
            format!("entries must be at most {max_len} bytes")
        } else if item.chars().any(|c| c.is_control() || forbidden.contains(c)) {
            format!("entries must not contain control characters or any of `{forbidden}`")
        } else {
            continue;
        };
        return Err(Error::config(field, format!("{item:?}"), reason));
    }
    Ok(())
}

impl Config {
    /// Checks every field, naming the first invalid one (`dogstatsd.<key>`) and its value.
    ///
    /// # Errors
    /// [`Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let u16_max = u64::from(u16::MAX);
        self.contexts.validate("dogstatsd.contexts", 1..=MAX_CONTEXTS)?;
        self.service_check_names.validate("dogstatsd.service_check_names", 1..=u16_max)?;
        self.name_length.validate("dogstatsd.name_length", 1..=MAX_NAME_LENGTH)?;
        self.tag_length.validate("dogstatsd.tag_length", MIN_TAG_LENGTH..=u16_max)?;
        self.tags_per_msg.validate("dogstatsd.tags_per_msg", 0..=u64::from(u8::MAX))?;
        self.multivalue_count.validate("dogstatsd.multivalue_count", 0..=u16_max)?;
        // The contexts' and tags' arenas are bounded by the setup-memory estimate
        // (`pools::estimate`), which also names these keys when they are too large.
        validate_probability("dogstatsd.multivalue_pack_probability", self.multivalue_pack_probability)?;
        self.sampling_range.validate("dogstatsd.sampling_range", 0.0..=1.0)?;
        validate_probability("dogstatsd.sampling_probability", self.sampling_probability)?;
        validate_probability("dogstatsd.value.float_probability", self.value.float_probability)?;
        self.value.range.validate("dogstatsd.value.range", i64::MIN..=i64::MAX)?;
        if !(self.unique_tag_ratio.is_finite() && (MIN_UNIQUE_TAG_RATIO..=1.0).contains(&self.unique_tag_ratio)) {
            return Err(Error::config(
                "dogstatsd.unique_tag_ratio",
                self.unique_tag_ratio,
                format!("must lie within {MIN_UNIQUE_TAG_RATIO}..=1"),
            ));
        }
        if self.kind_weights.as_array().iter().all(|w| *w == 0) {
            return Err(Error::config(
                "dogstatsd.kind_weights",
                self.kind_weights,
                "at least one weight must be positive",
            ));
        }
        if self.metric_weights.as_array().iter().all(|w| *w == 0) {
            return Err(Error::config(
                "dogstatsd.metric_weights",
                self.metric_weights,
                "at least one weight must be positive",
            ));
        }
        self.timestamp.range.validate("dogstatsd.timestamp.range", 0..=u64::from(u32::MAX))?;
        validate_probability("dogstatsd.timestamp.probability", self.timestamp.probability)?;
        self.event_timestamp.validate("dogstatsd.event_timestamp", 0..=u64::from(u32::MAX))?;
        if self.timestamp.probability > 0.0 && self.timestamp.range.min() == 0 {
            return Err(Error::config(
                "dogstatsd.timestamp.range",
                self.timestamp.range,
                "must start above 0 when timestamps are enabled",
            ));
        }
        let name_max = MAX_NAME_LENGTH as usize;
        validate_list("dogstatsd.metric_names", &self.metric_names, ":|", name_max)?;
        validate_list("dogstatsd.tag_names", &self.tag_names, ":,|", usize::from(u16::MAX))?;
        validate_list("dogstatsd.tag_values", &self.tag_values, ",|", usize::from(u16::MAX))?;
        validate_list("dogstatsd.container_ids", &self.container_ids, "|", usize::from(u16::MAX))?;
        validate_list("dogstatsd.external_data", &self.external_data, "|", usize::from(u16::MAX))?;
        validate_list("dogstatsd.cardinality", &self.cardinality, "|", usize::from(u16::MAX))?;
        Ok(())
    }
}
