//! Configuration of `trace-v04` and `trace-v05`: lading's `trace_agent: v0.4` keys, with limits
//! taken from the trace-agent's normalizer so that valid configs produce spans it has nothing to
//! fix.

use serde::{Deserialize, Serialize};

use crate::config::{ConfRange, validate_probability};
use crate::error::{Error, Result};

/// The trace-agent truncates service names beyond this many characters.
pub const MAX_SERVICE_LEN: u64 = 100;
/// The trace-agent truncates operation names beyond this many characters.
pub const MAX_NAME_LEN: u64 = 100;
/// The trace-agent truncates span types beyond this many characters.
pub const MAX_TYPE_LEN: u64 = 100;
/// The trace-agent truncates resources beyond this many characters.
pub const MAX_RESOURCE_LEN: u64 = 5_000;
/// The trace-agent truncates meta and metric keys beyond this many characters.
pub const MAX_KEY_LEN: u64 = 200;
/// The trace-agent truncates meta values beyond this many characters.
pub const MAX_VALUE_LEN: u64 = 25_000;
/// Most contexts a config may ask for (lading's limit).
pub const MAX_CONTEXTS: u64 = 1_000_000;
/// Most spans per trace, tags per span and metrics per span (lading stores them as `u8`).
pub const MAX_PER_ITEM: u64 = 255;

/// Configuration of the `trace-v04` and `trace-v05` formats (the same traces on two wires). The
/// keys and their meaning are lading's `trace_agent: v0.4` ones; every length is in characters
/// (ASCII, so also bytes).
///
/// The defaults are not lading's: lading's (up to 50 spans of up to 20 tags, names of 0 to 128
/// characters) produce empty and over-long names the agent rewrites, and traces of up to 300 KB
/// that leave most 64 KiB blocks a third empty. These are shaped like common web-service traces
/// instead, with every name inside the agent's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Number of (service, operation, resource, span type) combinations, drawn once at setup.
    /// Every span of a trace shares its trace's combination (1..=1,000,000).
    pub contexts: ConfRange,
    /// Spans per trace (1..=255).
    pub spans_per_trace: ConfRange,
    /// Entries in each span's `meta` map (0..=255); keys within a span are distinct.
    pub tags_per_span: ConfRange,
    /// Entries in each span's `metrics` map (0..=255); keys within a span are distinct.
    pub metrics_per_span: ConfRange,
    /// Probability that a span has `error: 1`.
    pub error_rate: f64,
    /// Length of service names (1..=100).
    pub service_name_length: ConfRange,
    /// Length of operation names (1..=100).
    pub operation_name_length: ConfRange,
    /// Length of resource names (1..=5000).
    pub resource_name_length: ConfRange,
    /// Length of span types (0..=100).
    pub span_type_length: ConfRange,
    /// Length of `meta` keys (1..=200).
    pub tag_key_length: ConfRange,
    /// Length of `meta` values (0..=25000).
    pub tag_value_length: ConfRange,
    /// Length of `metrics` keys (1..=200).
    pub metric_key_length: ConfRange,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            contexts: ConfRange::inclusive(5_000, 10_000),
            spans_per_trace: ConfRange::inclusive(1, 5),
            tags_per_span: ConfRange::inclusive(1, 5),
            metrics_per_span: ConfRange::inclusive(0, 2),
            error_rate: 0.01,
            service_name_length: ConfRange::inclusive(4, 24),
            operation_name_length: ConfRange::inclusive(6, 32),
            resource_name_length: ConfRange::inclusive(8, 48),
            span_type_length: ConfRange::inclusive(2, 8),
            tag_key_length: ConfRange::inclusive(3, 24),
            tag_value_length: ConfRange::inclusive(1, 32),
            metric_key_length: ConfRange::inclusive(4, 24),
        }
    }
}

impl Config {
    /// Checks every field, naming the first bad one and its value.
    ///
    /// # Errors
    /// [`Error::Config`] with the field `trace_v04.<key>`.
    pub fn validate(&self) -> Result<()> {
        self.validate_as("trace_v04")
    }

    /// As [`Config::validate`], naming fields `<prefix>.<key>` (`trace_v05` for `trace-v05`).
    ///
    /// # Errors
    /// [`Error::Config`] with the field `<prefix>.<key>`.
    pub fn validate_as(&self, prefix: &str) -> Result<()> {
        let field = |key: &str| field_of(prefix, key);
        let ranges: [(&str, &ConfRange, u64, u64); 11] = [
            ("contexts", &self.contexts, 1, MAX_CONTEXTS),
            ("spans_per_trace", &self.spans_per_trace, 1, MAX_PER_ITEM),
            ("tags_per_span", &self.tags_per_span, 0, MAX_PER_ITEM),
            ("metrics_per_span", &self.metrics_per_span, 0, MAX_PER_ITEM),
            ("service_name_length", &self.service_name_length, 1, MAX_SERVICE_LEN),
            ("operation_name_length", &self.operation_name_length, 1, MAX_NAME_LEN),
            ("resource_name_length", &self.resource_name_length, 1, MAX_RESOURCE_LEN),
            ("span_type_length", &self.span_type_length, 0, MAX_TYPE_LEN),
            ("tag_key_length", &self.tag_key_length, 1, MAX_KEY_LEN),
            ("tag_value_length", &self.tag_value_length, 0, MAX_VALUE_LEN),
            ("metric_key_length", &self.metric_key_length, 1, MAX_KEY_LEN),
        ];
        for (key, range, lo, hi) in ranges {
            range.validate(&field(key), lo..=hi)?;
        }
        validate_probability(&field("error_rate"), self.error_rate)?;
        // Contexts are stored back to back with u32 offsets.
        let per_context = 64
            + self.service_name_length.max()
            + self.operation_name_length.max()
            + self.resource_name_length.max()
            + self.span_type_length.max();
        if self.contexts.max().saturating_mul(per_context) > u64::from(u32::MAX) {
            return Err(Error::config(
                field("contexts"),
                self.contexts,
                format!("with names up to {per_context} bytes per context this needs more than 4 GiB of pools"),
            ));
        }
        Ok(())
    }
}

/// The dotted name of a config key under `prefix`, as errors show it.
pub fn field_of(prefix: &str, key: &str) -> String {
    format!("{prefix}.{key}")
}
