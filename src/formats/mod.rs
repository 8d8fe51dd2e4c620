//! The formats payforge ships. Each is one user of the public extension API: a `Config`, a
//! [`Format`](crate::Format) and a [`Configured`](crate::Configured) impl, registered by
//! [`register_builtin`] like any format from another crate would be.

pub mod datadog_logs;
pub mod dogstatsd;
pub mod syslog5424;
pub mod trace_v04;

pub use datadog_logs::DatadogLogs;
pub use dogstatsd::DogStatsD;
pub use syslog5424::Syslog5424;
pub use trace_v04::TraceV04;

use crate::registry::Registry;

/// Adds the built-in formats to `registry`, in the order reports list them. Called by
/// [`Registry::builtin`].
///
/// # Errors
/// A name already taken in `registry`.
pub(crate) fn register_builtin(registry: &mut Registry) -> crate::Result<()> {
    registry.register::<Syslog5424>()?.register::<DatadogLogs>()?.register::<DogStatsD>()?.register::<TraceV04>()?;
    Ok(())
}
