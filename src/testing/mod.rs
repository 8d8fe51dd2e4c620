//! The conformance kit: the checks every format must pass, for formats in this crate and in
//! others (cargo feature `testing`).
//!
//! The sizing loop and the strategies trust a format to keep the contract of [`crate::Format`];
//! a format that breaks it gets wrong blocks, not an error. [`Conformance`] checks that contract
//! for one format and a list of its configs:
//!
//! | check | what it asserts |
//! |---|---|
//! | [`Conformance::check_name`] | `Format::name` is `Configured::NAME` |
//! | [`Conformance::check_reference`] | every strategy gives exactly the naive block ([`naive_block`]) for random seeds, block indices and budgets (1 byte to 4 MiB): never over budget, maximal, the same bytes after a prefix and into an empty buffer, twice through one generator |
//! | [`Conformance::check_budgets`] | budget 0, one byte under the smallest block, and budgets over 1 GiB are errors naming the format, and append nothing |
//! | [`Conformance::check_determinism`] | the same seed gives the same bytes through [`crate::FormatConfig`], on every strategy and on a forked generator; another seed changes them |
//! | [`Conformance::check_fill`] | blocks of 64 KiB and 1 MiB are within budget, and their fill (reported, and at least [`Conformance::min_fill`] when set) |
//! | [`Conformance::check_min_member_len`] | `min_member_len` is at most the shortest of many members |
//! | [`Conformance::check_zero_alloc`] | the reuse strategies make no allocation per block once warm |
//! | [`Conformance::check_setup_memory`] | `estimate_setup` bounds the memory building the format takes |
//! | [`Conformance::check_arbitrary_configs`] | mutated configs end in an error or in blocks within budget, never a panic |
//!
//! [`Conformance::run_all`] runs them all and returns a [`Report`] of what was measured; each
//! check also runs on its own. A failing check returns a [`Failure`] naming the check, the
//! config and what went wrong (with the seed, block index and budget to reproduce it).
//!
//! # Counting allocations
//!
//! The two memory checks count allocations with payforge's counting allocator
//! ([`crate::measure`]), which must be the global allocator of the test binary:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;
//! ```
//!
//! (or a [`crate::measure::CountingAlloc`] of the binary's own, passed with
//! [`Conformance::counter`]). Without one they fail and say so. The counter sees the whole
//! process, so the kit runs its counting phases alone: while one runs, no other check of the kit
//! runs in the same process (a test binary may run several `Conformance` tests in parallel), and
//! a window that saw allocations is measured again before it counts as failed, since the test
//! harness itself may allocate once in a while. Tests in the same binary that do not go through
//! the kit can still disturb the counts: keep them in another binary.
//!
//! # Example
//!
//! ```
//! use payforge::formats::Syslog5424;
//! use payforge::testing::Conformance;
//!
//! #[global_allocator]
//! static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;
//!
//! fn main() -> Result<(), payforge::testing::Failure> {
//!     let short = payforge::formats::syslog5424::Config { app_names: 3, ..Default::default() };
//!     let report = Conformance::<Syslog5424>::new()
//!         .config("three app names", short)
//!         .cases(4)
//!         .config_cases(8)
//!         .run_all()?;
//!     println!("{report}");
//!     Ok(())
//! }
//! ```

mod blocks;
mod configs;
mod memory;
mod reference;

use std::fmt;

use crate::compression::Compression;
use crate::format::Configured;
use crate::measure::CountingAlloc;

pub use reference::{Naive, NaiveBlock, frame, naive_block, naive_prefix, prefix_sizes};

/// A failed check: which check, on which config, and what went wrong.
///
/// Its `Debug` is its message, so `run_all().unwrap()` in a test prints it readably.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check that failed, e.g. `reference`.
    pub check: &'static str,
    /// The name of the config it failed on (empty when the check is not about one config).
    pub config: String,
    /// What went wrong, with what reproduces it.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(check: &'static str, config: &str, message: impl Into<String>) -> Self {
        Self { check, config: config.to_owned(), message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.config.is_empty() {
            write!(f, "conformance check `{}` failed: {}", self.check, self.message)
        } else {
            write!(f, "conformance check `{}` failed on config `{}`: {}", self.check, self.config, self.message)
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// What the checks measured: one line per check and config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// `(check, config, what was measured)`.
    pub lines: Vec<(&'static str, String, String)>,
    /// `(config, budget, fill)` from [`Conformance::check_fill`]: bytes over budget, averaged
    /// over the blocks measured.
    pub fill: Vec<(String, usize, f64)>,
    /// `(config, claimed bound, shortest member seen)` from
    /// [`Conformance::check_min_member_len`].
    pub min_member_len: Vec<(String, usize, usize)>,
}

impl Report {
    pub(crate) fn line(&mut self, check: &'static str, config: &str, what: String) {
        self.lines.push((check, config.to_owned(), what));
    }

    fn absorb(&mut self, other: Report) {
        self.lines.extend(other.lines);
        self.fill.extend(other.fill);
        self.min_member_len.extend(other.min_member_len);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (check, config, what) in &self.lines {
            writeln!(f, "{check} [{config}]: {what}")?;
        }
        Ok(())
    }
}

/// The conformance checks for format `F` over a list of named configs (its default config
/// unless others are given). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Conformance<F: Configured> {
    configs: Vec<(String, F::Config)>,
    cases: u32,
    seed: u64,
    max_budget: usize,
    member_samples: usize,
    min_fill: Option<f64>,
    compressed: Vec<(Compression, usize)>,
    config_cases: u32,
    counter: Option<&'static CountingAlloc>,
}

impl<F: Configured> Default for Conformance<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Configured> Conformance<F> {
    /// The checks on `F`'s default config, with `PROPTEST_CASES` (default 24) random cases per
    /// config for [`Conformance::check_reference`].
    pub fn new() -> Self {
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
        Self {
            configs: vec![("defaults".to_owned(), F::Config::default())],
            cases,
            seed: 0x5eed_c0de,
            max_budget: 4 << 20,
            member_samples: 20_000,
            min_fill: None,
            compressed: Vec::new(),
            config_cases: 48,
            counter: None,
        }
    }

    /// Adds a config to check, named `name` in failures and reports.
    #[must_use]
    pub fn config(mut self, name: impl Into<String>, config: F::Config) -> Self {
        self.configs.push((name.into(), config));
        self
    }

    /// Checks only the configs added after this call (not the default config).
    #[must_use]
    pub fn without_defaults(mut self) -> Self {
        self.configs.retain(|(name, _)| name != "defaults");
        self
    }

    /// Random `(seed, block index, budget)` cases per config for [`Conformance::check_reference`].
    #[must_use]
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases;
        self
    }

    /// The seed the random cases are drawn from (the same seed, the same cases).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The largest random budget of [`Conformance::check_reference`] (default 4 MiB).
    #[must_use]
    pub fn max_budget(mut self, bytes: usize) -> Self {
        self.max_budget = bytes.max(1);
        self
    }

    /// Members drawn per config by [`Conformance::check_min_member_len`] (default 20 000).
    #[must_use]
    pub fn member_samples(mut self, members: usize) -> Self {
        self.member_samples = members.max(1);
        self
    }

    /// The least fill [`Conformance::check_fill`] accepts at 64 KiB and 1 MiB (none by
    /// default: a format with a member cap may fill large budgets little).
    #[must_use]
    pub fn min_fill(mut self, fill: f64) -> Self {
        self.min_fill = Some(fill);
        self
    }

    /// Also checks zero allocations per block for budgets of `budget` bytes compressed with
    /// `compression` (a reallocation in 25 blocks is allowed there: compressed probes vary in
    /// length, so the longest buffer can still grow now and then).
    #[must_use]
    pub fn compressed(mut self, compression: Compression, budget: usize) -> Self {
        self.compressed.push((compression, budget));
        self
    }

    /// Mutated configs tried by [`Conformance::check_arbitrary_configs`] (default 48).
    #[must_use]
    pub fn config_cases(mut self, cases: u32) -> Self {
        self.config_cases = cases;
        self
    }

    /// Counts allocations with `counter`, the test binary's own global allocator, instead of
    /// [`crate::measure::installed`].
    #[must_use]
    pub fn counter(mut self, counter: &'static CountingAlloc) -> Self {
        self.counter = Some(counter);
        self
    }

    /// Runs every check, in the order of the [module docs](self), and stops at the first
    /// failure.
    ///
    /// # Errors
    /// The first [`Failure`].
    pub fn run_all(&self) -> Result<Report, Failure> {
        let mut report = Report::default();
        report.absorb(self.check_name()?);
        report.absorb(self.check_reference()?);
        report.absorb(self.check_budgets()?);
        report.absorb(self.check_determinism()?);
        report.absorb(self.check_fill()?);
        report.absorb(self.check_min_member_len()?);
        report.absorb(self.check_zero_alloc()?);
        report.absorb(self.check_setup_memory()?);
        report.absorb(self.check_arbitrary_configs()?);
        Ok(report)
    }

    /// Builds `F` from `config`, as a failure of `check` when it cannot be built.
    fn build(check: &'static str, name: &str, config: &F::Config, seed: u64) -> Result<F, Failure> {
        F::from_config(config, seed).map_err(|e| Failure::new(check, name, format!("the config does not build: {e}")))
    }
}
