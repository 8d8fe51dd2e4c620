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
pub enum ErrorKind {
    /// Bad configuration (field or file).
    Config,
    /// Bad argument.
    Argument,
    /// The budget is too small or too large for the format.
    Budget,
    /// I/O failure.
    Io,
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

    /// True when the error is a broken pipe (the reader went away): callers end quietly.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            Error::Block { source, .. } => source.is_broken_pipe(),
            _ => false,
        }
    }
}
