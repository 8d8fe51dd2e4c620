//! How long reused buffers keep their capacity: grow ahead of need, give memory back after a
//! long run of smaller blocks.
//!
//! A `reuse` generator keeps its buffers between blocks so that the steady state allocates
//! nothing. Keeping the largest capacity ever needed would hold a burst's memory forever (after a
//! block-size range reached 4 MiB, or a cache built with `16KiB..4MiB`), so each buffer tracks
//! two peaks: the highest length ever seen, which capacity is reserved for, and the highest
//! length in the current window of [`SHRINK_WINDOW`] blocks. When a whole window stays below
//! `1/SHRINK_RATIO` of the retained peak, the peak drops to the window's and the buffer shrinks
//! to it (plus its headroom).
//!
//! Hysteresis: buffers grow as soon as a block needs more (with headroom) and shrink only after a
//! full window far below, so at a fixed block size, where blocks vary by a few percent, nothing
//! ever shrinks and the steady state stays at zero allocations.

/// Blocks in one window of the recent peak.
pub const SHRINK_WINDOW: u32 = 32;

/// A window's peak must stay below `1 / SHRINK_RATIO` of the retained peak for the buffer to
/// shrink.
pub const SHRINK_RATIO: usize = 4;

/// The peaks of one reused buffer (or of buffers that share one size).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peak {
    /// Highest length kept in mind: capacity is reserved for it.
    retained: usize,
    /// Highest length in the current window.
    recent: usize,
    /// Blocks seen in the current window.
    blocks: u32,
}

impl Peak {
    /// Records that the buffer held `len` elements during the block.
    #[inline]
    pub fn observe(&mut self, len: usize) {
        self.retained = self.retained.max(len);
        self.recent = self.recent.max(len);
    }

    /// The length capacity is reserved for.
    #[inline]
    pub fn get(&self) -> usize {
        self.retained
    }

    /// Ends a block. At the end of a window, returns true when the window's peak stayed far below
    /// the retained one, which then drops to it: the caller shrinks the buffer.
    #[inline]
    pub fn end_block(&mut self) -> bool {
        self.blocks += 1;
        if self.blocks < SHRINK_WINDOW {
            return false;
        }
        let shrink = self.recent.saturating_mul(SHRINK_RATIO) < self.retained;
        if shrink {
            self.retained = self.recent;
        }
        self.recent = 0;
        self.blocks = 0;
        shrink
    }
}

/// Clears `v` and keeps it sized for `peak` elements: if it has less than `1/low` headroom over
/// `peak`, it grows to `1/high` over (`high < low`; the gap keeps a slowly rising peak from
/// reallocating again and again); after a `shrink`, it gives back what lies beyond that.
#[inline]
pub fn prepare<T>(v: &mut Vec<T>, peak: usize, low: usize, high: usize, shrink: bool) {
    v.clear();
    let target = peak.saturating_add(peak / high);
    if shrink {
        v.shrink_to(target);
    }
    if v.capacity() < peak.saturating_add(peak / low) {
        v.reserve(target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_only_after_a_window_far_below() {
        let mut p = Peak::default();
        p.observe(1000);
        assert!(!p.end_block());
        // A window of blocks a little smaller: no shrink.
        for _ in 1..SHRINK_WINDOW {
            p.observe(900);
            assert!(!p.end_block());
        }
        for _ in 0..SHRINK_WINDOW {
            p.observe(300);
            assert!(!p.end_block() || p.get() == 300);
        }
        assert_eq!(p.get(), 1000, "300 is not below a quarter of 1000");
        let shrunk = (0..SHRINK_WINDOW).map(|_| {
            p.observe(200);
            p.end_block()
        });
        assert_eq!(shrunk.filter(|s| *s).count(), 1);
        assert_eq!(p.get(), 200);
        let mut v: Vec<u8> = Vec::with_capacity(1125);
        prepare(&mut v, 200, 16, 8, true);
        assert!(v.capacity() >= 212 && v.capacity() < 1125, "{}", v.capacity());
    }
}
