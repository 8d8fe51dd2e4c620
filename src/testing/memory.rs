//! The checks that count allocations: zero per block once warm, and setup within its estimate.
//!
//! The counter sees the whole process, so a counting phase runs alone: every check of the kit
//! holds [`shared`] while it runs and a counting phase holds [`exclusive`], so no other check of
//! the kit allocates meanwhile, whatever thread it runs on.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Conformance, Failure, Report};
use crate::compression::Compression;
use crate::format::Configured;
use crate::measure::{CountingAlloc, MemStats};
use crate::registry::FormatConfig;
use crate::rng::BlockRng;
use crate::strategy::Strategy;

static PHASES: RwLock<()> = RwLock::new(());

/// Held by every check that does not count: it may run beside other such checks.
pub(super) fn shared() -> RwLockReadGuard<'static, ()> {
    PHASES.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by a counting phase: no other check of the kit runs meanwhile.
fn exclusive() -> RwLockWriteGuard<'static, ()> {
    PHASES.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Blocks before counting, and blocks counted, for uncompressed budgets.
const WARM_UP: u64 = 8;
const MEASURED: u64 = 100;
/// The same for compressed budgets: probes past the answer vary in length from block to block,
/// so a reused buffer takes longer to reach its largest size.
const WARM_UP_COMPRESSED: u64 = 48;
const MEASURED_COMPRESSED: u64 = 50;

/// Uncompressed budgets the zero-allocation check runs at.
const BUDGETS: [usize; 2] = [64 << 10, 1 << 20];

impl<F: Configured> Conformance<F> {
    /// The counter to count with: the one given, else the process's [`crate::measure::GlobalCounter`].
    fn counting(&self, check: &'static str) -> Result<&'static CountingAlloc, Failure> {
        if let Some(counter) = self.counter {
            return Ok(counter);
        }
        // `installed` learns of the global counter at its first allocation: make one.
        drop(std::hint::black_box(Box::new(0u64)));
        crate::measure::installed().ok_or_else(|| {
            Failure::new(
                check,
                "",
                "no counting allocator is installed in this test binary: add `#[global_allocator] static ALLOC: \
                 payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;`, or pass your own \
                 `CountingAlloc` with `Conformance::counter`",
            )
        })
    }

    /// With each reuse strategy, after a warm-up, 100 more blocks of 64 KiB and of 1 MiB (and of
    /// each [`Conformance::compressed`] budget) make no allocation and no reallocation; a fresh
    /// strategy is seen to allocate, which shows the counter counts.
    ///
    /// # Errors
    /// A [`Failure`] listing every strategy and budget that allocated, or when no counter is
    /// installed.
    pub fn check_zero_alloc(&self) -> Result<Report, Failure> {
        let counter = self.counting("zero_alloc")?;
        let _alone = exclusive();
        let was = counter.set_counting(true);
        let result = self.zero_alloc(counter);
        counter.set_counting(was);
        result
    }

    fn zero_alloc(&self, counter: &CountingAlloc) -> Result<Report, Failure> {
        let mut report = Report::default();
        let cells: Vec<(Compression, usize)> =
            BUDGETS.iter().map(|&b| (Compression::None, b)).chain(self.compressed.iter().copied()).collect();
        for (name, config) in &self.configs {
            let fail = |msg: String| Failure::new("zero_alloc", name, msg);
            let mut failures = Vec::new();
            let mut members = 0usize;
            for strategy in [Strategy::REUSE_ENCODE_ONCE, Strategy::REUSE_REENCODE] {
                for &(compression, budget) in &cells {
                    let mut source = FormatConfig::new::<F>(config.clone())
                        .with_compression(compression)
                        .build(42, strategy)
                        .map_err(|e| fail(e.to_string()))?;
                    let (warm_up, measured) = if compression.is_none() {
                        (WARM_UP, MEASURED)
                    } else {
                        (WARM_UP_COMPRESSED, MEASURED_COMPRESSED)
                    };
                    let mut out = Vec::new();
                    for i in 0..warm_up {
                        out.clear();
                        source
                            .fill(&mut BlockRng::for_block(42, i), budget, &mut out)
                            .map_err(|e| fail(format!("{strategy} {compression} {budget}, block {i}: {e}")))?;
                    }
                    let mut window = |first: u64| -> Result<MemStats, Failure> {
                        let start = counter.begin();
                        for i in first..first + measured {
                            out.clear();
                            members += source
                                .fill(&mut BlockRng::for_block(42, i), budget, &mut out)
                                .map_err(|e| fail(format!("{strategy} {compression} {budget}, block {i}: {e}")))?
                                .members;
                        }
                        Ok(counter.end(&start))
                    };
                    let regrowth = if compression.is_none() { 0 } else { measured / 25 };
                    let failed = |s: &MemStats| s.allocations != 0 || s.reallocations > regrowth;
                    // The harness may allocate while a window runs: a window fails only when the
                    // next identical one allocates too. A format that allocates per block, or
                    // every few blocks, fails both.
                    let stats = window(warm_up)?;
                    if failed(&stats) {
                        let again = window(warm_up + measured)?;
                        if failed(&again) {
                            failures.push(format!("{strategy} {compression} {budget} B: {stats:?}, then {again:?}"));
                        }
                    }
                }
            }
            if !failures.is_empty() {
                return Err(fail(format!("allocations in steady state:\n{}", failures.join("\n"))));
            }
            // The counter does see allocations: a fresh strategy allocates per block.
            let mut source = FormatConfig::new::<F>(config.clone())
                .build(42, Strategy::FRESH_ENCODE_ONCE)
                .map_err(|e| fail(e.to_string()))?;
            let start = counter.begin();
            for i in 0..4 {
                source.next_block(&mut BlockRng::for_block(42, i), 64 << 10).map_err(|e| fail(e.to_string()))?;
            }
            let fresh = counter.end(&start).allocations;
            if fresh < 4 {
                return Err(fail(format!(
                    "4 fresh-encode-once blocks counted {fresh} allocations: is the counter counting?"
                )));
            }
            report.line(
                "zero_alloc",
                name,
                format!("0 allocations per block at {} cells x 2 reuse strategies ({members} members)", cells.len()),
            );
        }
        Ok(report)
    }

    /// Building each config (through [`FormatConfig::build`]) takes at most the bytes
    /// `estimate_setup` says, at its peak.
    ///
    /// # Errors
    /// A [`Failure`] with the peak and the estimate, or when no counter is installed.
    pub fn check_setup_memory(&self) -> Result<Report, Failure> {
        let counter = self.counting("setup_memory")?;
        let _alone = exclusive();
        let was = counter.set_counting(true);
        let mut report = Report::default();
        let mut result = Ok(());
        for (name, config) in &self.configs {
            let fail = |msg: String| Failure::new("setup_memory", name, msg);
            let estimate = match F::setup_memory(config) {
                Ok(estimate) => estimate,
                Err(e) => {
                    result = Err(fail(e.to_string()));
                    break;
                }
            };
            let config = FormatConfig::new::<F>(config.clone());
            let start = counter.begin();
            let built = config.build(7, Strategy::REUSE_ENCODE_ONCE);
            let peak = counter.end(&start).peak_live_bytes;
            if let Err(e) = built {
                result = Err(fail(e.to_string()));
                break;
            }
            if peak > estimate.total() {
                result = Err(fail(format!("setup took {peak} bytes at its peak, estimated {estimate}")));
                break;
            }
            report.line("setup_memory", name, format!("peak {peak} B within the estimate of {} B", estimate.total()));
        }
        counter.set_counting(was);
        result.map(|()| report)
    }
}
