//! The strict test grammars of the built-in formats, shared by their test binaries and the fuzz
//! campaign (`tests/fuzz.rs`). Each is written from the format's specification, independent of
//! the generator. A grammar panics (with what is wrong) on a block it rejects.
//!
//! A format registered later joins the fuzz campaign automatically, and fails it until its
//! grammar is added to [`check_block`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod datadog_logs;
pub mod dogstatsd;
pub mod syslog5424;
pub mod trace_v04;
pub mod trace_v05;

use payforge::FormatConfig;

/// Checks a block of `config`'s format, built from `config`, with its strict grammar (panicking
/// when the block breaks it).
///
/// # Errors
/// When no grammar is known for the format.
pub fn check_block(config: &FormatConfig, block: &[u8]) -> Result<(), String> {
    match config.name() {
        "syslog5424" => {
            syslog5424::check_block(block).unwrap_or_else(|e| panic!("syslog5424 grammar: {e}"));
        }
        "datadog-logs" => {
            let c = config.get::<payforge::formats::DatadogLogs>().ok_or("not a datadog-logs config")?;
            let ts = (c.timestamp_ms.min() as i64, c.timestamp_ms.max() as i64);
            datadog_logs::check_block(block, usize::MAX, ts);
        }
        "dogstatsd" => {
            let c = config.get::<payforge::formats::DogStatsD>().ok_or("not a dogstatsd config")?;
            let lists = dogstatsd::Lists {
                metric_names: c.metric_names.clone(),
                tag_names: c.tag_names.clone(),
                tag_values: c.tag_values.clone(),
            };
            dogstatsd::with_lists(lists, || dogstatsd::check_block(block, c.length_prefix_framed));
        }
        "trace-v04" => {
            let c = config.get::<payforge::formats::TraceV04>().ok_or("not a trace-v04 config")?;
            let within = |len: usize, r: &payforge::kit::ConfRange| (r.min()..=r.max()).contains(&(len as u64));
            for span in trace_v04::check_block_protocol(block).iter().flatten() {
                assert!(within(span.service.len(), &c.service_name_length), "service {:?}", span.service);
                assert!(within(span.name.len(), &c.operation_name_length), "name {:?}", span.name);
                assert!(within(span.resource.len(), &c.resource_name_length), "resource {:?}", span.resource);
                assert!(within(span.kind.len(), &c.span_type_length), "type {:?}", span.kind);
                assert!(span.meta.0.len() as u64 <= c.tags_per_span.max());
                assert!(span.metrics.0.len() as u64 <= c.metrics_per_span.max());
            }
        }
        "trace-v05" => {
            let c = config.get::<payforge::formats::TraceV05>().ok_or("not a trace-v05 config")?;
            let within = |len: usize, r: &payforge::kit::ConfRange| (r.min()..=r.max()).contains(&(len as u64));
            let traces = trace_v05::decode(block);
            assert!(!traces.is_empty(), "empty block");
            for trace in &traces {
                trace_v05::check_trace_protocol(trace);
            }
            for span in traces.iter().flatten() {
                assert!(within(span.service.len(), &c.service_name_length), "service {:?}", span.service);
                assert!(within(span.name.len(), &c.operation_name_length), "name {:?}", span.name);
                assert!(within(span.resource.len(), &c.resource_name_length), "resource {:?}", span.resource);
                assert!(within(span.kind.len(), &c.span_type_length), "type {:?}", span.kind);
                assert!(span.meta.len() as u64 <= c.tags_per_span.max());
                assert!(span.metrics.len() as u64 <= c.metrics_per_span.max());
            }
        }
        other => return Err(format!("no strict grammar for format {other}: add one to tests/grammar/mod.rs")),
    }
    Ok(())
}
