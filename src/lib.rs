//! # payforge
//!
//! Deterministic, low-allocation payload generation for load generators.
//!
//! A *format* turns a random stream into members (a trace, a syslog line, a DogStatsD datagram, a
//! log record). A *block* for a byte budget is the framed encoding of the longest prefix of that
//! member stream that fits the budget. One sizing loop ([`fill()`]) computes blocks for every
//! format, with four interchangeable [`Strategy`]s that produce byte-identical output and differ
//! only in time and allocations.
//!
//! Block `i` of a run seeded with `s` always comes from [`BlockRng::for_block`]`(s, i)`, so
//! output does not depend on the strategy, the thread count or the machine. Load generators
//! prebuild blocks with [`BlockCache`] (on N threads, optionally one [`Shard`] of a larger
//! workload) and replay them through cheap per-thread [`CacheHandle`]s.
//!
//! ```
//! use payforge::{BlockRng, Registry, Strategy};
//!
//! let config = Registry::builtin().default_config("syslog5424")?;
//! let mut source = config.build(42, Strategy::REUSE_ENCODE_ONCE)?;
//! let mut out = Vec::new();
//! for i in 0..4 {
//!     out.clear();
//!     let filled = source.fill(&mut BlockRng::for_block(42, i), 64 * 1024, &mut out)?;
//!     assert!(filled.bytes <= 64 * 1024 && filled.members > 0);
//!     assert_eq!(out.len(), filled.bytes);
//! }
//! # Ok::<(), payforge::Error>(())
//! ```

pub mod cache;
pub mod calibrate;
pub mod check;
pub mod cli;
pub mod compress;
pub mod config;
pub mod dictionary;
pub mod error;
pub mod fill;
pub mod fingerprint;
pub mod format;
pub mod formats;
pub mod framing;
pub mod generator;
pub mod measure;
pub mod registry;
pub mod retention;
pub mod rng;
pub mod search;
pub mod selection;
pub mod send;
pub mod setup;
pub mod size;
pub mod slack;
pub mod strategy;
mod stream_codec;
pub mod text;

pub use cache::{BlockCache, BlockPlan, BlockSize, CacheHandle, Shard};
pub use compress::Compression;
pub use dictionary::{DictSize, StringTable};
pub use error::{Error, ErrorKind, Result};
pub use fill::{Filled, Workspace, fill};
pub use format::{Configured, Format, SampleRendering};
pub use framing::Framing;
pub use generator::{BlockSource, Generator};
pub use registry::{FormatConfig, FormatSpec, Registry};
pub use rng::BlockRng;
pub use setup::{DEFAULT_MAX_SETUP_MEMORY, SetupMemory};
pub use strategy::{BufferPolicy, Sizing, Strategy, StrategyChoice};
