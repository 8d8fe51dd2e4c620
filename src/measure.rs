//! Counting allocator: `stats_alloc` plus the peak tracking it lacks.
//!
//! [`CountingAlloc`] wraps `stats_alloc::StatsAlloc<System>` (which counts allocations,
//! deallocations, reallocations and bytes) and adds a live-bytes gauge with a resettable
//! high-water mark. A binary or test installs it with `#[global_allocator]`; the library never
//! installs an allocator itself.
//!
//! Cost: counting adds about 20 ns to every allocator call on this machine class (stats_alloc's
//! sequentially consistent counters plus the live/peak gauge; measured with a throwaway
//! alloc/realloc/dealloc loop: 11 ns uncounted, 71 ns counted per three calls). That is
//! negligible for strategies that allocate nothing per block, but several percent of a 4 KiB
//! `fresh-*` block. So counting can be switched off ([`CountingAlloc::set_counting`]): the
//! calibrator times with counting off and counts in a separate pass, and `generate` counts only
//! with `--memory-stats`. Switched off, a call costs one relaxed load more than the system
//! allocator.
//!
//! A binary that runs [`crate::cli::run`] installs the process-wide counter with
//! `#[global_allocator] static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;`
//! so that `calibrate`, `check` and `--memory-stats` can find it ([`installed`]); tests that count
//! for themselves may install their own [`CountingAlloc`] instead.
//!
//! Counts are exact and deterministic for a given program, seed and Rust toolchain (the standard
//! library's growth policy decides how often a `Vec` reallocates), which is why CI can assert them.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use stats_alloc::StatsAlloc;

/// `stats_alloc` counters plus live and peak live bytes.
#[derive(Debug)]
pub struct CountingAlloc {
    stats: StatsAlloc<System>,
    /// Live bytes allocated while counting, less bytes freed while counting. Memory allocated
    /// uncounted and freed counted can take it below its true value (even below zero), which is
    /// why phases report differences from their start.
    live: AtomicIsize,
    peak: AtomicIsize,
    counting: AtomicBool,
}

impl CountingAlloc {
    /// A counting wrapper around the system allocator, usable in a `static`, counting from the
    /// start (what a test binary that counts for itself wants).
    pub const fn system() -> Self {
        Self::with_counting(true)
    }

    /// As [`CountingAlloc::system`], but counting only once switched on
    /// ([`CountingAlloc::set_counting`]): until then each allocator call costs one relaxed load
    /// more than the system allocator. What [`GlobalCounter`] uses.
    pub const fn paused() -> Self {
        Self::with_counting(false)
    }

    const fn with_counting(on: bool) -> Self {
        Self {
            stats: StatsAlloc::system(),
            live: AtomicIsize::new(0),
            peak: AtomicIsize::new(0),
            counting: AtomicBool::new(on),
        }
    }

    /// Switches counting on (the default) or off, returning the previous setting. Counts and
    /// peaks are only meaningful for phases that ran entirely with counting on.
    pub fn set_counting(&self, on: bool) -> bool {
        self.counting.swap(on, Ordering::Relaxed)
    }

    #[inline]
    fn counting(&self) -> bool {
        self.counting.load(Ordering::Relaxed)
    }

    /// Current totals.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { stats: self.stats.stats(), live: self.live.load(Ordering::Relaxed) }
    }

    /// Starts a measured phase: resets the peak to the current live bytes.
    pub fn begin(&self) -> Snapshot {
        let snap = self.snapshot();
        self.peak.store(snap.live, Ordering::Relaxed);
        snap
    }

    /// Ends a phase begun with [`CountingAlloc::begin`]: what happened since.
    pub fn end(&self, start: &Snapshot) -> MemStats {
        let now = self.snapshot();
        let d = now.stats - start.stats;
        MemStats {
            allocations: d.allocations as u64,
            deallocations: d.deallocations as u64,
            reallocations: d.reallocations as u64,
            bytes_allocated: d.bytes_allocated as u64,
            peak_live_bytes: self.peak.load(Ordering::Relaxed).saturating_sub(start.live).max(0) as u64,
        }
    }

    #[inline]
    fn grew(&self, by: usize) {
        let by = isize::try_from(by).unwrap_or(isize::MAX);
        let live = self.live.fetch_add(by, Ordering::Relaxed).wrapping_add(by);
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    #[inline]
    fn shrank(&self, by: usize) {
        self.live.fetch_sub(isize::try_from(by).unwrap_or(isize::MAX), Ordering::Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::system()
    }
}

// SAFETY: every call is forwarded unchanged to `StatsAlloc<System>`, a correct allocator; the
// wrapper only updates atomic counters and never touches the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.counting() {
            // SAFETY: same contract as our caller's.
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: same contract as our caller's.
        let p = unsafe { self.stats.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.counting() {
            // SAFETY: same contract as our caller's.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: same contract as our caller's.
        let p = unsafe { self.stats.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.counting() {
            // SAFETY: same contract as our caller's; `StatsAlloc<System>` allocates with `System`.
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: same contract as our caller's.
        unsafe { self.stats.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.counting() {
            // SAFETY: same contract as our caller's; `StatsAlloc<System>` allocates with `System`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: same contract as our caller's.
        let p = unsafe { self.stats.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.shrank(layout.size() - new_size);
            }
        }
        p
    }
}

/// The counter [`GlobalCounter`] forwards to: paused until a tool that counts switches it on, so
/// a load generator that installs [`GlobalCounter`] (to run [`crate::cli::run`], say) pays
/// nothing for it while it sends.
static GLOBAL: CountingAlloc = CountingAlloc::paused();

/// Set by the first allocation through [`GlobalCounter`], i.e. once it is the global allocator.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A zero-sized global allocator that counts into one process-wide [`CountingAlloc`], so that
/// library code ([`crate::cli::run`]) can find the counter of a binary it was not compiled with.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalCounter;

/// The process-wide counter, if [`GlobalCounter`] is the global allocator of this process. It
/// counts only once switched on ([`CountingAlloc::set_counting`]); `calibrate`, `check` and
/// `generate --memory-stats` switch it on themselves.
///
/// The answer is right from the first call: if no allocation has told yet, this makes one,
/// which goes through [`GlobalCounter`] exactly when it is the global allocator.
pub fn installed() -> Option<&'static CountingAlloc> {
    if !INSTALLED.load(Ordering::Relaxed) {
        drop(std::hint::black_box(Box::new(0u8)));
    }
    INSTALLED.load(Ordering::Relaxed).then_some(&GLOBAL)
}

// SAFETY: every call is forwarded unchanged to `GLOBAL`, a correct allocator (see above).
unsafe impl GlobalAlloc for GlobalCounter {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { GLOBAL.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { GLOBAL.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's; `ptr` came from `GLOBAL`.
        unsafe { GLOBAL.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's; `ptr` came from `GLOBAL`.
        unsafe { GLOBAL.realloc(ptr, layout, new_size) }
    }
}

/// Totals at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    stats: stats_alloc::Stats,
    live: isize,
}

impl Snapshot {
    /// Bytes live (allocated and not yet freed, as counted) at that instant; 0 if the gauge is
    /// below zero (memory allocated uncounted was freed counted).
    pub fn live_bytes(&self) -> usize {
        usize::try_from(self.live).unwrap_or(0)
    }
}

/// What a phase allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemStats {
    /// Allocation calls.
    pub allocations: u64,
    /// Deallocation calls.
    pub deallocations: u64,
    /// Reallocation calls.
    pub reallocations: u64,
    /// Bytes requested, including growth by reallocation.
    pub bytes_allocated: u64,
    /// Highest live bytes during the phase, above the live bytes at its start.
    pub peak_live_bytes: u64,
}

impl MemStats {
    /// The `key: value` lines `--memory-stats` prints, each key prefixed with `phase.`.
    pub fn lines(&self, phase: &str) -> String {
        format!(
            "{phase}.allocations: {}\n{phase}.deallocations: {}\n{phase}.reallocations: {}\n\
             {phase}.bytes_allocated: {}\n{phase}.peak_live_bytes: {}\n",
            self.allocations, self.deallocations, self.reallocations, self.bytes_allocated, self.peak_live_bytes
        )
    }
}
