//! What every connection of a run shares, whatever its transport: the run's context ([`Ctx`]:
//! counters, stop flag, token bucket, latency), how a delivery ended ([`Outcome`]), the retry
//! [`Backoff`] and the [`STOP_GRACE`].
//!
//! These sit below [`super::http`], [`super::transport`] and [`super::run`], so the connection
//! types and the run that drives them import this module and never each other.
//!
//! Every attempt, first or retry, takes its tokens through [`Ctx::pace`], so retries and
//! resends count against the rate. Backoff delays are jittered (half the delay plus a random
//! part of the other half, per connection) and honour an HTTP `Retry-After`, so connections that
//! fail together do not retry in lockstep.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::bucket::TokenBucket;
use super::latency::Recorder;
use super::stats::{Counters, Failure, StopReason};

/// How long a unit in progress may take to finish once the run is stopping; the run ends
/// within it (plus a poll interval) whatever its connections are doing.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest a `Retry-After` is honoured.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// How often a waiting connection looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The unit went out (written, or answered 2xx).
    Sent,
    /// The receiver refused it for good (HTTP 4xx).
    Rejected,
    /// It never went out.
    Failed,
    /// The run stopped before its first attempt: nothing happened.
    Skipped,
}

/// Why the run stopped: the first reason set wins, and setting one stops the run.
#[derive(Debug, Default)]
pub struct StopCell(Mutex<Option<StopReason>>);

impl StopCell {
    /// Records `reason` (unless one is already there) and sets `stop`.
    pub fn set(&self, reason: StopReason, stop: &AtomicBool) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(reason);
        stop.store(true, Ordering::Relaxed);
    }

    /// The reason, once set.
    pub fn get(&self) -> Option<StopReason> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When a unit in progress first saw the run stopping.
pub type Grace = Cell<Option<Instant>>;

/// What a connection sees of the run.
pub struct Ctx<'a> {
    /// The shared counters.
    pub counters: &'a Counters,
    stop: &'a AtomicBool,
    bucket: Option<&'a TokenBucket>,
    connections: usize,
    reason: Option<&'a StopCell>,
    latency: RefCell<Recorder>,
}

impl<'a> Ctx<'a> {
    /// A context over `counters` and `stop`, without a rate (for tests of a single connection).
    pub fn new(counters: &'a Counters, stop: &'a AtomicBool) -> Self {
        Self { counters, stop, bucket: None, connections: 1, reason: None, latency: RefCell::new(Recorder::new()) }
    }

    /// The same context pacing every attempt through `bucket`, shared by `connections`.
    #[must_use]
    pub fn with_bucket(mut self, bucket: Option<&'a TokenBucket>, connections: usize) -> Self {
        self.bucket = bucket;
        self.connections = connections.max(1);
        self
    }

    /// The same context able to end the run ([`Ctx::fail_run`]) through `reason`.
    #[must_use]
    pub fn with_reason(mut self, reason: &'a StopCell) -> Self {
        self.reason = Some(reason);
        self
    }

    /// True once the run is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// True once the run has been stopping for [`STOP_GRACE`] since this unit first noticed it
    /// (`since` keeps that moment): the unit in progress, retries included, gives up then.
    pub fn past_grace(&self, since: &Grace) -> bool {
        if !self.stopping() {
            return false;
        }
        let noticed = since.get().unwrap_or_else(Instant::now);
        since.set(Some(noticed));
        noticed.elapsed() >= STOP_GRACE
    }

    /// Takes the tokens of an attempt of `bytes` and waits for them. Returns the attempt's
    /// scheduled time (now, without a rate), or `None` when the run stopped first (for a first
    /// attempt) or is past its grace (for a retry).
    pub fn pace(&self, bytes: usize, retry: bool, grace: &Grace) -> Option<Instant> {
        let Some(bucket) = self.bucket else {
            let give_up = if retry { self.past_grace(grace) } else { self.stopping() };
            return (!give_up).then(Instant::now);
        };
        let cost = bucket.throttle().cost(bytes);
        if retry { bucket.wait(cost, || self.past_grace(grace)) } else { bucket.wait(cost, || self.stopping()) }
    }

    /// The expected time between this connection's units of `bytes` under the rate now.
    fn interval(&self, bytes: usize) -> Option<Duration> {
        let bucket = self.bucket?;
        let throttle = bucket.throttle();
        let per_connection = throttle.rate_at(bucket.elapsed().as_secs_f64()) / self.connections as f64;
        let seconds = throttle.cost(bytes) / per_connection;
        (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
    }

    /// Records a delivered unit of `bytes`: its last attempt took `service`, and it ended at
    /// `end`, having been scheduled at `scheduled`.
    pub fn record(&self, bytes: usize, service: Duration, scheduled: Instant, end: Instant) {
        let interval = self.interval(bytes);
        self.latency.borrow_mut().record(service, end.saturating_duration_since(scheduled), interval);
    }

    /// Ends the run: an error no retry can mend (a refused certificate). Counted as an error.
    pub fn fail_run(&self, failure: Failure, what: impl FnOnce() -> String) {
        self.counters.error(failure, what);
        match self.reason {
            Some(reason) => reason.set(StopReason::Error, self.stop),
            None => self.stop.store(true, Ordering::Relaxed),
        }
    }

    /// The latency this connection recorded.
    pub fn into_latency(self) -> Recorder {
        self.latency.into_inner()
    }
}

/// Capped exponential backoff with jitter: about 10 ms, 20 ms, ... up to 1 s; reset after a
/// success. Each delay is half the nominal one plus a random part of the other half.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    rng: u64,
}

impl Backoff {
    /// The first nominal delay.
    pub const FIRST: Duration = Duration::from_millis(10);
    /// The longest nominal delay.
    pub const CAP: Duration = Duration::from_secs(1);

    /// A backoff at its first delay, jittered from `seed` (give each connection its own).
    pub fn new(seed: u64) -> Self {
        Self { next: Self::FIRST, rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 }
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The nominal delay of the next wait.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// The next delay: jittered, at least `retry_after` (capped at [`RETRY_AFTER_CAP`]); doubles
    /// the nominal delay.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        // xorshift64: cheap, and enough to spread connections apart.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = self.next / 2;
        let jitter = Duration::from_nanos(self.rng % (u64::try_from(half.as_nanos()).unwrap_or(u64::MAX) + 1));
        self.next = (self.next * 2).min(Self::CAP);
        (half + jitter).max(retry_after.map_or(Duration::ZERO, |r| r.min(RETRY_AFTER_CAP)))
    }

    /// Waits the next delay ([`Backoff::next_delay`]), returning early once `give_up` holds
    /// (asked every 50 ms). A stopping run waits too: the unit in progress keeps its pace while
    /// it finishes within [`STOP_GRACE`].
    pub fn sleep(&mut self, retry_after: Option<Duration>, give_up: impl Fn() -> bool) {
        let until = Instant::now() + self.next_delay(retry_after);
        while let Some(left) = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
            if give_up() {
                return;
            }
            std::thread::sleep(left.min(POLL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_per_connection_and_honours_retry_after() {
        let (mut a, mut b) = (Backoff::new(1), Backoff::new(2));
        let (da, db): (Vec<_>, Vec<_>) = (0..8).map(|_| (a.next_delay(None), b.next_delay(None))).unzip();
        assert_ne!(da, db, "two connections do not back off in lockstep");
        let mut nominal = Backoff::FIRST;
        for (d, _) in da.iter().zip(0..) {
            assert!(*d >= nominal / 2 && *d <= nominal, "{d:?} within [{:?}, {nominal:?}]", nominal / 2);
            nominal = (nominal * 2).min(Backoff::CAP);
        }
        a.reset();
        assert_eq!(a.peek(), Backoff::FIRST);
        assert_eq!(a.next_delay(Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(a.next_delay(Some(Duration::from_secs(600))), RETRY_AFTER_CAP);
    }
}
