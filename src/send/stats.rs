//! What a run did: counters shared by the connections, one-second windows, and the summary
//! (printed at the end and written as JSON by `--stats-json`).
//!
//! Every unit ends in exactly one of three counts: *sent* (written, or answered 2xx),
//! *rejected* (an HTTP 4xx other than 429: not retried) or *failed* (the run stopped, or HTTP
//! retries ran out, before it went out). `errors` counts every failed attempt on the way
//! (I/O errors, refused connections, 429 and 5xx answers); `retries` counts attempts beyond a
//! unit's first, `reconnects` connections opened after the first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Most one-second windows a summary keeps (an hour).
pub const MAX_WINDOWS: usize = 3600;

/// Counters shared by a run's connections.
#[derive(Debug, Default)]
pub struct Counters {
    blocks: AtomicU64,
    bytes: AtomicU64,
    members: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
    retries: AtomicU64,
    rejected_blocks: AtomicU64,
    rejected_bytes: AtomicU64,
    failed_blocks: AtomicU64,
    failed_bytes: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    last_error: Mutex<Option<String>>,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Units that went out (written, or answered 2xx).
    pub blocks_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Their members (lines, traces, records).
    pub members_sent: u64,
    /// Failed attempts: I/O errors, refused connections, 429 and 5xx answers.
    pub errors: u64,
    /// Connections opened after the first, per connection.
    pub reconnects: u64,
    /// Attempts beyond a unit's first.
    pub retries: u64,
    /// Units answered with a 4xx other than 429 (not retried).
    pub rejected_blocks: u64,
    /// Their bytes.
    pub rejected_bytes: u64,
    /// Units that never went out: the run stopped, or HTTP retries ran out, first.
    pub failed_blocks: u64,
    /// Their bytes.
    pub failed_bytes: u64,
}

impl Counters {
    /// A unit went out.
    pub fn sent(&self, bytes: usize, members: u64) {
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.members.fetch_add(members, Ordering::Relaxed);
    }

    /// An attempt failed; `what` is kept as the last error for the summary.
    pub fn error(&self, what: impl FnOnce() -> String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(what());
    }

    /// A connection was opened again.
    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A unit is being tried again.
    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A unit was rejected (HTTP 4xx).
    pub fn rejected(&self, bytes: usize) {
        self.rejected_blocks.fetch_add(1, Ordering::Relaxed);
        self.rejected_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A unit never went out.
    pub fn failed(&self, bytes: usize) {
        self.failed_blocks.fetch_add(1, Ordering::Relaxed);
        self.failed_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// An HTTP answer with `status`.
    pub fn status(&self, status: u16) {
        *self.statuses.lock().unwrap_or_else(PoisonError::into_inner).entry(status).or_insert(0) += 1;
    }

    /// The counts now.
    pub fn totals(&self) -> Totals {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Totals {
            blocks_sent: get(&self.blocks),
            bytes_sent: get(&self.bytes),
            members_sent: get(&self.members),
            errors: get(&self.errors),
            reconnects: get(&self.reconnects),
            retries: get(&self.retries),
            rejected_blocks: get(&self.rejected_blocks),
            rejected_bytes: get(&self.rejected_bytes),
            failed_blocks: get(&self.failed_blocks),
            failed_bytes: get(&self.failed_bytes),
        }
    }

    /// HTTP answers by status code.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The most recent error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// One window of a run: what went out between two samples about a second apart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    /// Seconds since sending started, at the window's end.
    pub t: f64,
    /// The window's length in seconds.
    pub seconds: f64,
    /// Units sent in the window.
    pub blocks: u64,
    /// Bytes sent in the window.
    pub bytes: u64,
    /// `bytes / seconds`.
    pub bytes_per_s: f64,
    /// Errors in the window.
    pub errors: u64,
    /// Reconnects in the window.
    pub reconnects: u64,
}

/// Takes one-second windows from the counters.
#[derive(Debug)]
pub struct Sampler {
    started: Instant,
    last_at: Instant,
    last: Totals,
    windows: Vec<Window>,
}

impl Sampler {
    /// Starts at `started` with nothing counted.
    pub fn new(started: Instant) -> Self {
        Self { started, last_at: started, last: Totals::default(), windows: Vec::new() }
    }

    /// Closes the window that ends now and returns it.
    pub fn sample(&mut self, now: Instant, totals: Totals) -> Window {
        let seconds = now.saturating_duration_since(self.last_at).as_secs_f64();
        let bytes = totals.bytes_sent - self.last.bytes_sent;
        let window = Window {
            t: now.saturating_duration_since(self.started).as_secs_f64(),
            seconds,
            blocks: totals.blocks_sent - self.last.blocks_sent,
            bytes,
            bytes_per_s: if seconds > 0.0 { bytes as f64 / seconds } else { 0.0 },
            errors: totals.errors - self.last.errors,
            reconnects: totals.reconnects - self.last.reconnects,
        };
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(window);
        }
        self.last = totals;
        self.last_at = now;
        window
    }

    /// The windows so far.
    pub fn into_windows(self) -> Vec<Window> {
        self.windows
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--duration` ran out.
    Duration,
    /// `--bytes` were sent.
    Bytes,
    /// SIGINT or SIGTERM.
    Signal,
}

/// The end-of-run report.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The format.
    pub format: String,
    /// The target URL.
    pub target: String,
    /// The transport's scheme.
    pub transport: String,
    /// What one unit is (`blocks`, `one line per datagram`, `octet-counting`).
    pub wire: String,
    /// The blocks' compression (`none`, `gzip:6`, ...).
    pub compression: String,
    /// The seed.
    pub seed: u64,
    /// The block-size policy.
    pub block_size: String,
    /// Connections.
    pub connections: usize,
    /// The target rate, bytes per second (`null`: as fast as the receiver takes it).
    pub rate_bytes_per_s: Option<u64>,
    /// Units in the cache.
    pub cache_units: usize,
    /// Bytes in the cache.
    pub cache_bytes: u64,
    /// Seconds the cache took to build.
    pub build_seconds: f64,
    /// Seconds from the first send to the end.
    pub elapsed_seconds: f64,
    /// The counts.
    #[serde(flatten)]
    pub totals: Totals,
    /// `bytes_sent / elapsed_seconds`.
    pub bytes_per_s: f64,
    /// The same in MiB/s.
    pub mib_per_s: f64,
    /// `blocks_sent / elapsed_seconds`.
    pub blocks_per_s: f64,
    /// HTTP answers by status code.
    pub http_status: BTreeMap<u16, u64>,
    /// The most recent error.
    pub last_error: Option<String>,
    /// Why the run ended.
    pub stopped_by: StopReason,
    /// One-second windows (at most [`MAX_WINDOWS`]).
    pub windows: Vec<Window>,
}

impl Summary {
    /// Fills in the rates from the totals and the elapsed time.
    pub fn with_rates(mut self, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        self.elapsed_seconds = elapsed.as_secs_f64();
        self.bytes_per_s = self.totals.bytes_sent as f64 / secs;
        self.mib_per_s = self.bytes_per_s / f64::from(1u32 << 20);
        self.blocks_per_s = self.totals.blocks_sent as f64 / secs;
        self
    }

    /// The summary as `key: value` lines for people.
    pub fn lines(&self) -> String {
        let t = &self.totals;
        let mut out = format!(
            "sent: {} blocks, {} bytes, {} members in {:.2} s ({:.2} MiB/s, {:.0} blocks/s{})\n",
            t.blocks_sent,
            t.bytes_sent,
            t.members_sent,
            self.elapsed_seconds,
            self.mib_per_s,
            self.blocks_per_s,
            match self.rate_bytes_per_s {
                Some(r) => format!(", target {:.2} MiB/s", r as f64 / f64::from(1u32 << 20)),
                None => String::new(),
            }
        );
        out.push_str(&format!(
            "errors: {}  reconnects: {}  retries: {}  rejected: {} blocks ({} bytes)  failed: {} blocks ({} bytes)\n",
            t.errors, t.reconnects, t.retries, t.rejected_blocks, t.rejected_bytes, t.failed_blocks, t.failed_bytes
        ));
        if !self.http_status.is_empty() {
            let codes: Vec<String> = self.http_status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!("http status: {}\n", codes.join(", ")));
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("last error: {e}\n"));
        }
        out.push_str(&format!(
            "stopped by: {}\n",
            match self.stopped_by {
                StopReason::Duration => "duration",
                StopReason::Bytes => "bytes",
                StopReason::Signal => "signal",
            }
        ));
        out
    }
}

impl Window {
    /// One line for the per-second display.
    pub fn line(&self) -> String {
        format!(
            "{:>7.1}s  {:>8} blocks  {:>12} bytes  {:>9.2} MiB/s  errors {}  reconnects {}",
            self.t,
            self.blocks,
            self.bytes,
            self.bytes_per_s / f64::from(1u32 << 20),
            self.errors,
            self.reconnects
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_take_differences() {
        let c = Counters::default();
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        c.sent(100, 2);
        c.sent(100, 2);
        let w = s.sample(t0 + Duration::from_secs(1), c.totals());
        assert_eq!((w.blocks, w.bytes), (2, 200));
        assert!((w.bytes_per_s - 200.0).abs() < 1e-9);
        c.sent(50, 1);
        c.error(|| "boom".into());
        let w = s.sample(t0 + Duration::from_secs(2), c.totals());
        assert_eq!((w.blocks, w.bytes, w.errors), (1, 50, 1));
        assert_eq!(c.last_error().as_deref(), Some("boom"));
        assert_eq!(s.into_windows().len(), 2);
    }
}
