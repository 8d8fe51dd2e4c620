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

//! # What is public, and what is stable
//!
//! * **The root**: what a load generator needs ([`Registry`], [`FormatConfig`], [`BlockCache`],
//!   [`Strategy`], [`Error`], ...) and the contract a format implements ([`Format`],
//!   [`Configured`], [`Framing`], [`CustomFraming`]).
//! * [`formats`]: the built-in formats and their configs.
//! * [`cache`]: block caches and their plans, re-exported at the root too.
//! * [`delivery`]: how a format's blocks travel to a receiver (HTTP path, content type,
//!   headers, datagram rules), declared by each format and read by `send`.
//! * [`kit`]: building blocks exported on purpose for format authors (string pools, text
//!   writers, config ranges and validators, setup-memory estimates).
//! * Behind cargo features: `testing` (the conformance kit, feature `testing`), `measure`
//!   (the counting allocator, feature `measure`), `calibrate` (feature `calibrate`), `send`
//!   (delivery to receivers, feature `send`), `cli` (the command line, feature `cli`) and
//!   `instructions` (the instruction-count gate, feature `instructions`).
//!
//! Everything else is private. Until 1.0, minor versions may change these items, and the
//! CHANGELOG says how; enums that will grow are `#[non_exhaustive]`.
//!
//! # Cargo features
//!
//! With `default-features = false` the library builds the formats, the sizing loop, the
//! strategies, the block cache and the selection, and nothing else. The default features add
//! what the `payforge` binary needs.
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | `compression` | gzip and zstd budgets ([`Compression`]) | flate2, zstd |
//! | `config-files` | YAML format configs (`FormatSpec::load_config`, `FormatConfig::parse`) | serde_norway |
//! | `measure` | the counting allocator (`measure`) | stats_alloc |
//! | `calibrate` | strategy measurement and selection writing (`calibrate`) | `measure` |
//! | `charts` | `calibrate`'s SVG chart | plotters |
//! | `progress` | progress bars for long jobs | indicatif |
//! | `testing` | the conformance kit (`testing`) | `measure`, serde_json |
//! | `send` | delivery over TCP, UDP, Unix sockets and HTTP(S) (`send`) | ureq, signal-hook, serde_json, hdrhistogram, `tls`, `config-files` |
//! | `tls` | TLS for `send` (`https://`, `tls://`) | rustls, webpki-roots |
//! | `cli` (default) | the command line (`cli::run`) | clap, sha2, toml, rmp-serde and all of the above but `send` and `testing` |
//! | `instructions` (default) | the instruction-count gate (`instructions`, `payforge instructions`; valgrind at run time) | `cli` |
//! | `default` | `cli`, `send` and `instructions` | |

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod cache;
#[cfg(feature = "calibrate")]
pub mod calibrate;
#[cfg(feature = "cli")]
mod check;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "compression")]
mod compress;
#[cfg(not(feature = "compression"))]
#[path = "compress_off.rs"]
mod compress;
mod compression;
mod config;
pub mod delivery;
mod dictionary;
mod error;
mod fill;
#[cfg(feature = "cli")]
mod fingerprint;
mod format;
pub mod formats;
mod framing;
mod generator;
#[cfg(feature = "instructions")]
pub mod instructions;
pub mod kit;
#[cfg(feature = "measure")]
pub mod measure;
mod registry;
mod retention;
mod rng;
mod search;
mod selection;
#[cfg(feature = "send")]
pub mod send;
mod setup;
mod size;
mod slack;
mod strategy;
#[cfg(feature = "compression")]
mod stream_codec;
#[cfg(feature = "testing")]
pub mod testing;
mod text;

pub use bytes::Bytes;
pub use cache::{Amount, BlockCache, BlockPlan, BlockSize, CacheHandle, Shard};
#[cfg(feature = "compression")]
pub use compress::{Compressor, Packed};
pub use compression::Compression;
pub use delivery::Delivery;
pub use dictionary::{DictSize, StringTable};
pub use error::{Error, ErrorKind, Result};
pub use fill::{Filled, MAX_BUDGET, Workspace, fill, fill_compressed};
pub use format::{Configured, Format, SampleRendering};
pub use framing::{CustomFraming, Framing};
pub use generator::{BlockSource, Generator};
pub use registry::{FormatConfig, FormatSpec, Registry};
pub use retention::SHRINK_WINDOW;
pub use rng::BlockRng;
pub use selection::{Entry as SelectionEntry, Selection};
pub use setup::{DEFAULT_MAX_SETUP_MEMORY, SetupMemory};
pub use size::{format_size, parse_size};
pub use strategy::{BufferPolicy, Sizing, Strategy, StrategyChoice};

/// The README's Rust snippets, compiled and run as doctests so they cannot go stale.
#[cfg(all(doctest, feature = "cli", feature = "testing"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
