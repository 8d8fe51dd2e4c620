//! The formats payforge ships. Each is one user of the public extension API: a `Config`, a
//! [`Format`](crate::Format) and a [`Configured`](crate::Configured) impl, registered by
//! [`crate::Registry::builtin`] like any format from another crate would be.

pub mod datadog_logs;
pub mod dogstatsd;
pub mod otlp;
pub mod syslog5424;
pub mod trace_v04;
pub mod trace_v05;
mod vocabulary;

pub use datadog_logs::DatadogLogs;
pub use dogstatsd::DogStatsD;
pub use otlp::logs::OtlpLogs;
pub use otlp::metrics::OtlpMetrics;
pub use otlp::traces::OtlpTraces;
pub use syslog5424::Syslog5424;
pub use trace_v04::TraceV04;
pub use trace_v05::TraceV05;
