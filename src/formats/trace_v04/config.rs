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
/// Longest name lading accepts (it stores lengths as `u8`): configs may ask for names the agent
/// truncates, with a warning.
pub const MAX_LADING_LEN: u64 = u8::MAX as u64;
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
///
/// Every value lading accepts is accepted, lading's defaults included, for load-testing the
/// agent's normalizer: lengths from 0 (empty names, which the agent replaces) up to 255 (over
/// the agent's 100-character limits for services, operations and span types, which it
/// truncates). [`crate::Configured::warnings`] names each such key, and the command line prints
/// the warning on stderr. A span's `meta` or `metrics` map never repeats a key: when the key
/// lengths allow fewer distinct keys than `tags_per_span` or `metrics_per_span` ask for, spans
/// carry that many entries at most (lading's maps collapse repeats the same way), with a
/// warning.
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
    /// Length of service names (0..=255; the agent replaces empty ones and truncates past 100).
    pub service_name_length: ConfRange,
    /// Length of operation names (0..=255; the agent replaces empty ones and truncates past 100).
    pub operation_name_length: ConfRange,
    /// Length of resource names (0..=5000; the agent replaces an empty one with the operation name).
    pub resource_name_length: ConfRange,
    /// Length of span types (0..=255; the agent truncates past 100).
    pub span_type_length: ConfRange,
    /// Length of `meta` keys (0..=255; the agent truncates past 200).
    pub tag_key_length: ConfRange,
    /// Length of `meta` values (0..=25000).
    pub tag_value_length: ConfRange,
    /// Length of `metrics` keys (0..=255; the agent truncates past 200).
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
            ("service_name_length", &self.service_name_length, 0, MAX_LADING_LEN),
            ("operation_name_length", &self.operation_name_length, 0, MAX_LADING_LEN),
            ("resource_name_length", &self.resource_name_length, 0, MAX_RESOURCE_LEN),
            ("span_type_length", &self.span_type_length, 0, MAX_LADING_LEN),
            ("tag_key_length", &self.tag_key_length, 0, MAX_LADING_LEN),
            ("tag_value_length", &self.tag_value_length, 0, MAX_VALUE_LEN),
            ("metric_key_length", &self.metric_key_length, 0, MAX_LADING_LEN),
        ];
        // The field's name is built only for an error, so validating a valid config allocates
        // nothing (setup validates twice: for its estimate and to build).
        for (key, range, lo, hi) in ranges {
            if range.validate("", lo..=hi).is_err() {
                range.validate(&field(key), lo..=hi)?;
            }
        }
        if validate_probability("", self.error_rate).is_err() {
            validate_probability(&field("error_rate"), self.error_rate)?;
        }
        let longest = self.longest_trace();
        if longest > crate::fill::MAX_BUDGET as u64 {
            return Err(Error::config(
                field("spans_per_trace"),
                self.spans_per_trace,
                format!(
                    "with `{}` = {} of `{}` = {} (and the other lengths), a trace can take {longest} bytes, \
                     more than the largest block ({} bytes): lower them",
                    field("tags_per_span"),
                    self.tags_per_span,
                    field("tag_value_length"),
                    self.tag_value_length,
                    crate::fill::MAX_BUDGET
                ),
            ));
        }
        Ok(())
    }

    /// The most bytes one encoded trace can take: every count and length at its maximum. A trace
    /// is encoded whole before the sizing loop learns it does not fit, so it must be bounded.
    pub fn longest_trace(&self) -> u64 {
        let s = |r: &ConfRange| super::pool::str_bytes(r.max());
        // The twelve keys (65 bytes), a map header, five integers of at most 9 bytes, the error
        // flag and two map headers of at most 3 bytes.
        let fixed = 65 + 1 + 5 * 9 + 1 + 2 * 3;
        let names = s(&self.service_name_length)
            + s(&self.operation_name_length)
            + s(&self.resource_name_length)
            + s(&self.span_type_length);
        let tags = self.tags_per_span.max() * (s(&self.tag_key_length) + s(&self.tag_value_length));
        let metrics = self.metrics_per_span.max() * (s(&self.metric_key_length) + 9);
        3 + self.spans_per_trace.max() * (fixed + names + tags + metrics)
    }

    /// One line (or none) naming every key with which the trace-agent will normalize or truncate
    /// spans, and every map the key lengths cap; `distinct_tags` and `distinct_metrics` say how
    /// many distinct keys a key length allows.
    pub fn normalizer_warnings(
        &self,
        prefix: &str,
        distinct_tags: impl Fn(&ConfRange) -> usize,
        distinct_metrics: impl Fn(&ConfRange) -> usize,
    ) -> Vec<String> {
        let field = |key: &str| field_of(prefix, key);
        let mut notes = Vec::new();
        let mut name = |k: &str, r: &ConfRange, empty: Option<&str>, limit: Option<u64>| {
            let mut what = Vec::new();
            if let (Some(replaced), 0) = (empty, r.min()) {
                what.push(format!("empty ones ({replaced})"));
            }
            if let Some(limit) = limit.filter(|&l| r.max() > l) {
                what.push(format!("ones over {limit} characters (truncated)"));
            }
            if !what.is_empty() {
                notes.push(format!("`{}` = {r} allows {}", field(k), what.join(" and ")));
            }
        };
        name("service_name_length", &self.service_name_length, Some("replaced"), Some(MAX_SERVICE_LEN));
        name("operation_name_length", &self.operation_name_length, Some("replaced"), Some(MAX_NAME_LEN));
        name("resource_name_length", &self.resource_name_length, Some("set to the operation name"), None);
        name("span_type_length", &self.span_type_length, None, Some(MAX_TYPE_LEN));
        name("tag_key_length", &self.tag_key_length, None, Some(MAX_KEY_LEN));
        name("metric_key_length", &self.metric_key_length, None, Some(MAX_KEY_LEN));
        for (count_key, count, length_key, length, distinct) in [
            (
                "tags_per_span",
                self.tags_per_span,
                "tag_key_length",
                self.tag_key_length,
                distinct_tags(&self.tag_key_length),
            ),
            (
                "metrics_per_span",
                self.metrics_per_span,
                "metric_key_length",
                self.metric_key_length,
                distinct_metrics(&self.metric_key_length),
            ),
        ] {
            if count.max() > distinct as u64 {
                notes.push(format!(
                    "`{}` = {count} asks for more entries than the {distinct} distinct keys `{}` = {length} allows: \
                     spans carry at most {distinct}",
                    field(count_key),
                    field(length_key)
                ));
            }
        }
        if notes.is_empty() {
            return notes;
        }
        let format = prefix.replace('_', "-");
        vec![format!("{format}: the trace-agent will normalize or truncate these spans: {}", notes.join("; "))]
    }
}

/// The dotted name of a config key under `prefix`, as errors show it.
pub fn field_of(prefix: &str, key: &str) -> String {
    format!("{prefix}.{key}")
}
