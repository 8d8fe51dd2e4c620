//! Counting allocator: `stats_alloc` plus the peak tracking it lacks.
//!
//! [`CountingAlloc`] wraps `stats_alloc::StatsAlloc<System>` (which counts allocations,
//! deallocations, reallocations and bytes) and adds a live-bytes gauge with a resettable
//! high-water mark. A binary or test installs it with `#[global_allocator]`; the library never
//! installs an allocator itself.
//!
//! Cost: one extra relaxed `fetch_add` and one `fetch_max` per allocator call on top of
//! `stats_alloc`'s counters. Strategies that allocate nothing per block pay nothing; for the
//! `fresh` ones the calibrator times and counts in separate passes, so counting never skews a
//! timing comparison.
//!
//! Counts are exact and deterministic for a given program, seed and Rust toolchain (the standard
//! library's growth policy decides how often a `Vec` reallocates), which is why CI can assert them.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use stats_alloc::StatsAlloc;

/// `stats_alloc` counters plus live and peak live bytes.
#[derive(Debug)]
pub struct CountingAlloc {
    stats: StatsAlloc<System>,
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAlloc {
    /// A counting wrapper around the system allocator, usable in a `static`.
    pub const fn system() -> Self {
        Self { stats: StatsAlloc::system(), live: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
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
            peak_live_bytes: self.peak.load(Ordering::Relaxed).saturating_sub(start.live) as u64,
        }
    }

    #[inline]
    fn grew(&self, by: usize) {
        let live = self.live.fetch_add(by, Ordering::Relaxed).wrapping_add(by);
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    #[inline]
    fn shrank(&self, by: usize) {
        self.live.fetch_sub(by, Ordering::Relaxed);
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
        // SAFETY: same contract as our caller's.
        let p = unsafe { self.stats.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { self.stats.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { self.stats.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
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

/// Totals at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    stats: stats_alloc::Stats,
    live: usize,
}

impl Snapshot {
    /// Bytes live (allocated and not yet freed) at that instant.
    pub fn live_bytes(&self) -> usize {
        self.live
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
