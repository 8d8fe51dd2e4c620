//! The one error type of the library.
//!
//! Every variant names what was wrong *and* the value that made it wrong, so that a message such as
//! `invalid config: syslog5424.hostname_length.min = 0: must be at least 1` can be acted on without
//! reading source code. The library never panics on user input: anything a caller can get wrong
//! comes back as an [`Error`].

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. Match on [`Error::kind`] when only the category matters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field holds a value the format cannot use.
    #[error("invalid config: `{field}` = {value}: {reason}")]
    Config {
        /// Dotted path of the field, e.g. `datadog_logs.timestamp_ms.min`.
        field: String,
        /// The offending value, as written.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A command-line or API argument could not be parsed or is out of range.
    #[error("invalid {what} {value:?}: {reason}")]
    Argument {
        /// Which argument (`block size`, `strategy`, `format`, ...).
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Not even the first member of the stream fits in the budget.
    #[error(
        "{format}: a block budget of {budget} bytes cannot hold a single member: this block's first \
         member needs {needed} bytes and the smallest member this config can produce needs {smallest} \
         bytes; use a larger block size"
    )]
    BudgetTooSmall {
        /// The format's name.
        format: &'static str,
        /// The budget given.
        budget: usize,
        /// The framed size of the first member of this block.
        needed: usize,
        /// A lower bound on the framed size of any one-member block for this config.
        smallest: usize,
    },
    /// The budget is below the smallest block the config can produce, so no block can ever fit:
    /// rejected before anything is generated.
    #[error(
        "{format}: a block budget of {budget} bytes is below the smallest block this config can \
         produce ({smallest} bytes); use a larger block size"
    )]
    BudgetBelowMinimum {
        /// The format's name.
        format: &'static str,
        /// The budget given.
        budget: usize,
        /// A lower bound on the framed size of any one-member block for this config.
        smallest: usize,
    },
    /// A [`crate::Registry`] builder call failed (e.g. a format name registered twice).
    #[error("format registry: {0}")]
    Registry(String),
    /// The budget exceeds what the framing can describe (e.g. a u32 length prefix).
    #[error("{format}: a block budget of {budget} bytes exceeds the largest supported block of {max} bytes")]
    BudgetTooLarge {
        /// The format's name.
        format: &'static str,
        /// The budget given.
        budget: usize,
        /// The largest budget accepted.
        max: usize,
    },
    /// Block `index` of a plan could not be built (a cache build or a stream stops at the first
    /// such block, in index order). The source says why, e.g. [`Error::BudgetTooSmall`] naming
    /// the format, the block size and the smallest member size.
    #[error("block {index}: {source}")]
    Block {
        /// Index of the block in the logical stream.
        index: u64,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A configuration document could not be read or parsed.
    #[error("cannot load config {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the key and line).
        reason: String,
    },
    /// Setting up the format would need more memory than the ceiling allows: estimated from the
    /// config before anything is allocated (see [`crate::kit`]).
    #[error(
        "invalid config: {format} setup needs up to {needed} bytes ({needed_human}), above the setup-memory \
         ceiling of {ceiling} bytes ({ceiling_human}); {detail}; lower them, or raise the ceiling \
         (`--max-setup-memory SIZE`, `FormatConfig::with_max_setup_memory`)"
    )]
    SetupMemory {
        /// The format's name.
        format: &'static str,
        /// The estimated setup memory, in bytes.
        needed: u64,
        /// `needed`, for people (`4.10 GB`).
        needed_human: String,
        /// The ceiling, in bytes.
        ceiling: u64,
        /// `ceiling`, for people.
        ceiling_human: String,
        /// Which part needs the most and the config keys (with their values) that drive it.
        detail: String,
    },
    /// A setup allocation (a pool or an arena) could not be made: the system refused the memory,
    /// or an arena would outgrow what its offsets address. Reported instead of aborting the
    /// process or truncating the arena.
    #[error("cannot allocate {bytes} bytes for {what}: {reason}; lower the config's counts or lengths")]
    Allocation {
        /// What was being allocated, e.g. `dogstatsd metric contexts`.
        what: &'static str,
        /// The size asked for (the arena's size after the push, for a full arena).
        bytes: u64,
        /// Why it failed.
        reason: &'static str,
    },
    /// A worker thread of a cache build or a stream panicked (a bug: formats must not panic).
    #[error("a worker thread panicked: {message}")]
    WorkerPanicked {
        /// The panic's message, when it had one.
        message: String,
    },
    /// A format's framing wrote a block whose length differs from what its length functions
    /// planned, or that passes the budget: a bug in a [`crate::CustomFraming`].
    #[error(
        "{format}: framing `{framing}` wrote a {written}-byte block where its length functions planned \
         {planned} bytes (budget {budget}): its header_len, prefix_len, suffix_len or trailer_len disagree \
         with its writers"
    )]
    Framing {
        /// The format.
        format: &'static str,
        /// The framing's name.
        framing: &'static str,
        /// The block's length by the framing's arithmetic.
        planned: usize,
        /// The bytes actually written.
        written: usize,
        /// The block budget.
        budget: usize,
    },
    /// Reading input, writing output or starting a thread failed.
    #[error("cannot {action} {target}: {source}")]
    Io {
        /// What was attempted: `read`, `write`, `start`, ...
        action: &'static str,
        /// What was being written (a path or `stdout`).
        target: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Coarse category of an [`Error`], for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad configuration (field or file).
    Config,
    /// Bad argument.
    Argument,
    /// The budget is too small or too large for the format.
    Budget,
    /// I/O failure.
    Io,
    /// The system refused memory.
    Memory,
    /// A bug inside payforge or a format (a worker thread panicked, a framing that disagrees
    /// with itself).
    Internal,
}

impl Error {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. } | Error::ConfigFile { .. } => ErrorKind::Config,
            Error::Argument { .. } | Error::Registry(_) => ErrorKind::Argument,
            Error::BudgetTooSmall { .. } | Error::BudgetBelowMinimum { .. } | Error::BudgetTooLarge { .. } => {
                ErrorKind::Budget
            }
            Error::SetupMemory { .. } => ErrorKind::Config,
            Error::Allocation { .. } => ErrorKind::Memory,
            Error::WorkerPanicked { .. } | Error::Framing { .. } => ErrorKind::Internal,
            Error::Io { .. } => ErrorKind::Io,
            Error::Block { source, .. } => source.kind(),
        }
    }

    /// Shorthand for a [`Error::Config`].
    pub fn config(field: impl Into<String>, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Config { field: field.into(), value: value.to_string(), reason: reason.into() }
    }

    /// Shorthand for an [`Error::Argument`].
    pub fn argument(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Argument { what, value: value.into(), reason: reason.into() }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(action: &'static str, target: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io { action, target: target.to_string(), source }
    }

    /// The error for a worker thread that panicked with `payload` (a `&str` or `String` message,
    /// or anything else).
    pub fn worker_panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        Error::WorkerPanicked { message }
    }

    /// True when the error is a broken pipe (the reader went away): callers end quietly.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            Error::Block { source, .. } => source.is_broken_pipe(),
            _ => false,
        }
    }
}
