//! The rate limiter: a token bucket whose burst is one block, filled by the run's [`Throttle`].
//!
//! Tokens accrue as the throttle allows (bytes per second, a linear ramp of them, or units per
//! second) up to `burst` (the largest block, or one unit). Every attempt to send `n` bytes takes
//! their cost in tokens, retries and resends included, so a receiver that sheds load never gets
//! more than the rate; a sender that finds too few goes into debt and waits until the debt is paid
//! back. The bucket is shared by every connection of a run, so `rate` is the total, and a
//! connection that stalls (a reconnect, a retry) leaves its share to the others. Because waits are
//! computed from the debt, not from when a sleep ended, oversleeping never accumulates into a
//! lower rate, and because the bucket never holds more than one block, a stalled sender never
//! catches up with a burst.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::throttle::Throttle;
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
    throttle: Throttle,
    burst: f64,
    started: Instant,
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
        Ok(Self::with_throttle(Throttle::Stable { bytes_per_second: rate }, burst as f64, Instant::now()))
    }

    /// A bucket filled by `throttle` from `started` on, holding at most `burst` tokens (the largest
    /// unit's cost), starting full. The throttle must be limited ([`Throttle::is_limited`]).
    pub fn with_throttle(throttle: Throttle, burst: f64, started: Instant) -> Self {
        Self { throttle, burst, started, state: Mutex::new(State { tokens: burst, last: started }) }
    }

    /// The throttle.
    pub fn throttle(&self) -> Throttle {
        self.throttle
    }

    /// Bytes per second at the start (units per second for a block throttle).
    pub fn rate(&self) -> u64 {
        self.throttle.rate_at(0.0) as u64
    }

    /// Time since the throttle started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn seconds(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    /// Takes `cost` tokens at `now` and returns when they may go (`now` or later).
    pub fn reserve_at(&self, cost: f64, now: Instant) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let accrued = self.throttle.allowance(self.seconds(state.last), self.seconds(now));
        if now > state.last {
            state.tokens = (state.tokens + accrued).min(self.burst);
            state.last = now;
        }
        state.tokens -= cost;
        if state.tokens >= 0.0 {
            return now;
        }
        match self.throttle.time_to_accrue(self.seconds(now), -state.tokens) {
            Some(wait) => now + wait,
            None => now + Duration::from_secs(3600),
        }
    }

    /// Gives back `cost` tokens taken by a reservation whose bytes were never sent (the run
    /// stopped while it waited).
    pub fn refund(&self, cost: f64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tokens = (state.tokens + cost).min(self.burst);
    }

    /// Waits until `cost` tokens may go and returns the time they were due: the attempt's
    /// scheduled send time. Returns `None` (and refunds the tokens) once `give_up` holds while
    /// waiting; `give_up` is asked at least every 50 ms.
    pub fn wait(&self, cost: f64, give_up: impl Fn() -> bool) -> Option<Instant> {
        let due = self.reserve_at(cost, Instant::now());
        loop {
            let now = Instant::now();
            let Some(left) = due.checked_duration_since(now).filter(|d| !d.is_zero()) else { return Some(due) };
            if give_up() {
                self.refund(cost);
                return None;
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
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn holds_the_rate_and_a_burst_of_one_block() {
        let t0 = Instant::now();
        let bucket = TokenBucket::with_throttle(Throttle::Stable { bytes_per_second: 1000 }, 100.0, t0);
        // The bucket starts full: one block goes at once, the next waits for its tokens.
        assert_eq!(bucket.reserve_at(100.0, t0), t0);
        let due = bucket.reserve_at(100.0, t0);
        assert!((due - t0).as_secs_f64() - 0.1 < 1e-6, "{:?}", due - t0);
        // 10 more blocks: the last one is due 1.1 s after the start.
        let mut last = due;
        for _ in 0..10 {
            last = bucket.reserve_at(100.0, t0);
        }
        assert!(((last - t0).as_secs_f64() - 1.1).abs() < 1e-6);
        // After a long idle spell the bucket holds one block, not more.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(bucket.reserve_at(100.0, later), later);
        assert!(bucket.reserve_at(100.0, later) > later);
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
        let stopped = || stop.load(Ordering::Relaxed);
        assert!(bucket.wait(10.0, stopped).is_some());
        stop.store(true, Ordering::Relaxed);
        let started = Instant::now();
        assert!(bucket.wait(10.0, stopped).is_none(), "a stopped wait returns at once");
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn a_linear_throttle_fills_by_its_integral() {
        let t0 = Instant::now();
        let ramp = Throttle::linear("t", 1000, 4000, 1000).unwrap();
        let bucket = TokenBucket::with_throttle(ramp, 500.0, t0);
        // Full at the start; the next 1000 tokens are due when the integral reaches 1000 more.
        assert_eq!(bucket.reserve_at(500.0, t0), t0);
        let due = bucket.reserve_at(1000.0, t0);
        let expected = ramp.time_to_accrue(0.0, 1000.0).unwrap();
        assert!(((due - t0).as_secs_f64() - expected.as_secs_f64()).abs() < 1e-6);
        // A block throttle counts units.
        let blocks = TokenBucket::with_throttle(Throttle::Blocks { per_second: 10 }, 1.0, t0);
        assert_eq!(blocks.reserve_at(1.0, t0), t0);
        assert!(((blocks.reserve_at(1.0, t0) - t0).as_secs_f64() - 0.1).abs() < 1e-6);
    }
}
