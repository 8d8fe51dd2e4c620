//! The rate limiter: a token bucket of payload bytes whose burst is one block.
//!
//! Tokens accrue at `rate` bytes per second up to `burst` (the largest block). Sending `n` bytes
//! takes `n` tokens; a sender that finds too few goes into debt and waits until the debt is paid
//! back. The bucket is shared by every connection of a run, so `rate` is the total, and a
//! connection that stalls (a reconnect, a retry) leaves its share to the others. Because waits are
//! computed from the debt, not from when a sleep ended, oversleeping never accumulates into a
//! lower rate, and because the bucket never holds more than one block, a stalled sender never
//! catches up with a burst.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::size::format_size;

/// The longest a waiting sender sleeps before it looks at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How close to its due time a waiting sender stops sleeping and yields instead.
const SPIN: Duration = Duration::from_micros(150);

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

/// A token bucket shared by the connections of one run.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

impl TokenBucket {
    /// A bucket that refills at `rate` bytes per second and holds at most `burst` bytes (the
    /// largest block), starting full.
    ///
    /// # Errors
    /// [`Error::Argument`] when `rate` is 0, or when `burst` exceeds `rate`: such a block could
    /// not go out within a second, so the rate could never hold.
    pub fn new(rate: u64, burst: u64) -> Result<Self> {
        check_rate(rate, burst)?;
        Ok(Self {
            rate: rate as f64,
            burst: burst as f64,
            state: Mutex::new(State { tokens: burst as f64, last: Instant::now() }),
        })
    }

    /// Bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// Takes `n` tokens at `now` and returns when the `n` bytes may go (`now` or later).
    pub fn reserve_at(&self, n: u64, now: Instant) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.burst);
        state.last = state.last.max(now);
        state.tokens -= n as f64;
        if state.tokens >= 0.0 { now } else { now + Duration::from_secs_f64(-state.tokens / self.rate) }
    }

    /// Gives back `n` tokens taken by a reservation whose bytes were never sent (the run
    /// stopped while it waited).
    pub fn refund(&self, n: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tokens = (state.tokens + n as f64).min(self.burst);
    }

    /// Waits until `n` bytes may go. Returns false (and refunds the tokens) when `stop` is set
    /// while waiting.
    pub fn wait(&self, n: u64, stop: &AtomicBool) -> bool {
        let due = self.reserve_at(n, Instant::now());
        loop {
            let now = Instant::now();
            let Some(left) = due.checked_duration_since(now).filter(|d| !d.is_zero()) else { return true };
            if stop.load(Ordering::Relaxed) {
                self.refund(n);
                return false;
            }
            // Sleeps overshoot by tens of microseconds: sleep to just before the due time, then
            // yield until it comes.
            if left > SPIN {
                std::thread::sleep((left - SPIN).min(STOP_POLL));
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Checks that a rate can carry a block of `largest` bytes.
///
/// # Errors
/// [`Error::Argument`] for a rate of 0 or a block larger than one second of the rate.
pub fn check_rate(rate: u64, largest: u64) -> Result<()> {
    if rate == 0 {
        return Err(Error::argument("rate", "0", "must be at least 1 byte per second"));
    }
    if largest > rate {
        return Err(Error::argument(
            "rate",
            format!("{}/s", format_size(rate)),
            format!(
                "a block of up to {} cannot go out within one second at this rate; use a block size of at most {} \
                 or a higher rate",
                format_size(largest),
                format_size(rate)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_rate_and_a_burst_of_one_block() {
        let bucket = TokenBucket::new(1000, 100).unwrap();
        let t0 = Instant::now();
        // The bucket starts full: one block goes at once, the next waits for its tokens.
        assert_eq!(bucket.reserve_at(100, t0), t0);
        let due = bucket.reserve_at(100, t0);
        assert!((due - t0).as_secs_f64() - 0.1 < 1e-6, "{:?}", due - t0);
        // 10 more blocks: the last one is due 1.1 s after the start.
        let mut last = due;
        for _ in 0..10 {
            last = bucket.reserve_at(100, t0);
        }
        assert!(((last - t0).as_secs_f64() - 1.1).abs() < 1e-6);
        // After a long idle spell the bucket holds one block, not more.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(bucket.reserve_at(100, later), later);
        assert!(bucket.reserve_at(100, later) > later);
    }

    #[test]
    fn blocks_above_one_second_of_rate_are_refused() {
        let err = TokenBucket::new(1 << 20, 2 << 20).unwrap_err().to_string();
        assert!(err.contains("rate") && err.contains("2MiB") && err.contains("1MiB"), "{err}");
        assert!(TokenBucket::new(0, 1).is_err());
        assert!(TokenBucket::new(100, 100).is_ok());
    }

    #[test]
    fn wait_stops_when_told() {
        let bucket = TokenBucket::new(10, 10).unwrap();
        let stop = AtomicBool::new(false);
        assert!(bucket.wait(10, &stop));
        stop.store(true, Ordering::Relaxed);
        let started = Instant::now();
        assert!(!bucket.wait(10, &stop), "a stopped wait returns at once");
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
