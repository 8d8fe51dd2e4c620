//! What a run did: counters shared by the connections, one-second windows, and the summary
//! (printed at the end and written as JSON by `--stats-json`).
//!
//! Every unit ends in exactly one of three counts: *sent* (written, or answered 2xx),
//! *rejected* (an HTTP 4xx other than 429: not retried) or *failed* (the run stopped, or HTTP
//! retries ran out, before it went out). `errors` counts every failed attempt on the way
//! (I/O errors, refused connections, 429 and 5xx answers); `retries` counts attempts beyond a
//! unit's first, `reconnects` connections opened after the first.
//!
//! Two counts say what a receiver saw beyond whole units:
//!
//! * `torn_bytes` (and `torn_units`): bytes of a unit that a broken stream connection had
//!   already taken when its write failed. The receiver may have read them: a line or frame cut
//!   short, before the whole unit is written again on the next connection.
//! * `answer_errors`: HTTP answers whose status arrived (and decided the unit) but whose body
//!   could not be read to its end (a reset after the headers, a body over the drain limit).
//!
//! Windows: the per-second display gets every one-second window; the summary keeps the whole
//! run in at most [`MAX_WINDOWS`] windows by merging neighbours (2 s, then 4 s, ...) when a long
//! run fills them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::latency::Latency;
use super::throttle::Throttle;

/// Most windows a summary holds; a longer run merges neighbouring windows.
pub const MAX_WINDOWS: usize = 3600;

/// What kind of failure an error was: what the end of a run that delivered nothing names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The receiver refused the connection (nothing listens).
    ConnectionRefused,
    /// Connecting, writing or waiting for an answer timed out.
    Timeout,
    /// The host name did not resolve.
    Resolve,
    /// The TLS handshake failed (a certificate, a protocol mismatch).
    Tls,
    /// The receiver answered with a status that is retried (429, 5xx).
    HttpStatus,
    /// The receiver closed or reset the connection.
    Closed,
    /// A datagram larger than the socket takes.
    TooLarge,
    /// Any other I/O error.
    Io,
}

impl Failure {
    /// The failure an I/O error is.
    pub fn of_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::ConnectionRefused,
            K::TimedOut | K::WouldBlock => Failure::Timeout,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::WriteZero => {
                Failure::Closed
            }
            _ if is_tls(e) => Failure::Tls,
            _ => Failure::Io,
        }
    }
}

/// True for an I/O error that carries a TLS error.
fn is_tls(e: &std::io::Error) -> bool {
    #[cfg(feature = "tls")]
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return true;
    }
    let _ = e;
    false
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::ConnectionRefused => "connection refused",
            Failure::Timeout => "timed out",
            Failure::Resolve => "the host name does not resolve",
            Failure::Tls => "TLS handshake failed",
            Failure::HttpStatus => "the receiver answered with an error status",
            Failure::Closed => "the receiver closed the connection",
            Failure::TooLarge => "a datagram is larger than the socket takes",
            Failure::Io => "I/O error",
        })
    }
}

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
    torn_units: AtomicU64,
    torn_bytes: AtomicU64,
    answer_errors: AtomicU64,
    wire_bytes: AtomicU64,
    rejected_records: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    grpc_statuses: Mutex<BTreeMap<u16, u64>>,
    last_error: Mutex<Option<(Failure, String)>>,
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
    /// Units whose write a broken stream cut short (each was written whole again, or failed).
    pub torn_units: u64,
    /// Bytes of those units the broken connections had taken: what a receiver may have read
    /// as a cut line or frame.
    pub torn_bytes: u64,
    /// HTTP answers whose status decided the unit but whose body could not be read to its end.
    pub answer_errors: u64,
    /// Payload bytes of every attempt (retries, resends and torn writes included): what the
    /// rate limits.
    pub wire_bytes: u64,
    /// Records that 2xx answers said they rejected (OTLP's partial success), within blocks
    /// counted as sent.
    pub rejected_records: u64,
}

impl Counters {
    /// A unit went out.
    pub fn sent(&self, bytes: usize, members: u64) {
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.members.fetch_add(members, Ordering::Relaxed);
    }

    /// An attempt failed with `failure`; `what` is kept as the last error for the summary.
    pub fn error(&self, failure: Failure, what: impl FnOnce() -> String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some((failure, what()));
    }

    /// A connection was opened again.
    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A unit is being tried again.
    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt put `bytes` of payload on the wire (whole or, for a torn write, in part).
    pub fn wire(&self, bytes: usize) {
        self.wire_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A broken stream had taken `bytes` of a unit when its write failed.
    pub fn torn(&self, bytes: usize) {
        self.torn_units.fetch_add(1, Ordering::Relaxed);
        self.torn_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// An HTTP answer's body could not be read after its status.
    pub fn answer_error(&self, what: impl FnOnce() -> String) {
        self.answer_errors.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_error.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_none() {
            *last = Some((Failure::Io, what()));
        }
    }

    /// A unit was rejected (HTTP 4xx).
    pub fn rejected(&self, bytes: usize) {
        self.rejected_blocks.fetch_add(1, Ordering::Relaxed);
        self.rejected_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A 2xx answer said it rejected `n` records.
    pub fn rejected_records(&self, n: u64) {
        self.rejected_records.fetch_add(n, Ordering::Relaxed);
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

    /// A gRPC answer with status `code` (`grpc-status`).
    pub fn grpc_status(&self, code: u16) {
        *self.grpc_statuses.lock().unwrap_or_else(PoisonError::into_inner).entry(code).or_insert(0) += 1;
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
            torn_units: get(&self.torn_units),
            torn_bytes: get(&self.torn_bytes),
            answer_errors: get(&self.answer_errors),
            wire_bytes: get(&self.wire_bytes),
            rejected_records: get(&self.rejected_records),
        }
    }

    /// HTTP answers by status code.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// gRPC answers by status code.
    pub fn grpc_statuses(&self) -> BTreeMap<u16, u64> {
        self.grpc_statuses.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The most recent error and its kind, if any.
    pub fn last_error(&self) -> Option<(Failure, String)> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// One window of a run: what went out between two samples about a second apart (longer once a
/// long run's windows are merged).
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
    /// `blocks / seconds`.
    pub blocks_per_s: f64,
    /// What the throttle allowed in the window, in bytes per second (`null`: no byte throttle).
    pub target_bytes_per_s: Option<f64>,
    /// What the throttle allowed in the window, in units per second (`null`: no block throttle).
    pub target_blocks_per_s: Option<f64>,
    /// Payload bytes of every attempt in the window (retries included), per second.
    pub wire_bytes_per_s: f64,
    /// Errors in the window.
    pub errors: u64,
    /// Reconnects in the window.
    pub reconnects: u64,
}

impl Window {
    /// `self` followed by `next`, as one window.
    fn merged(&self, next: &Window) -> Window {
        let seconds = self.seconds + next.seconds;
        let per_s = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
        let target = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(per_s(a * self.seconds + b * next.seconds)),
            _ => None,
        };
        Window {
            t: next.t,
            seconds,
            blocks: self.blocks + next.blocks,
            bytes: self.bytes + next.bytes,
            bytes_per_s: per_s((self.bytes + next.bytes) as f64),
            blocks_per_s: per_s((self.blocks + next.blocks) as f64),
            target_bytes_per_s: target(self.target_bytes_per_s, next.target_bytes_per_s),
            target_blocks_per_s: target(self.target_blocks_per_s, next.target_blocks_per_s),
            wire_bytes_per_s: per_s(self.wire_bytes_per_s * self.seconds + next.wire_bytes_per_s * next.seconds),
            errors: self.errors + next.errors,
            reconnects: self.reconnects + next.reconnects,
        }
    }

    /// One line for the per-second display.
    pub fn line(&self) -> String {
        let mib = |b: f64| b / f64::from(1u32 << 20);
        let target = match (self.target_bytes_per_s, self.target_blocks_per_s) {
            (Some(t), _) => format!("  target {:>9.2} MiB/s", mib(t)),
            (_, Some(t)) => format!("  target {t:>9.1} blocks/s"),
            _ => String::new(),
        };
        format!(
            "{:>7.1}s  {:>8} blocks  {:>12} bytes  {:>9.2} MiB/s{target}  errors {}  reconnects {}",
            self.t,
            self.blocks,
            self.bytes,
            mib(self.bytes_per_s),
            self.errors,
            self.reconnects
        )
    }
}

/// Takes one-second windows from the counters.
#[derive(Debug)]
pub struct Sampler {
    started: Instant,
    throttle: Throttle,
    last_at: Instant,
    last: Totals,
    windows: Vec<Window>,
    /// One-second windows per kept window (doubles at each merge).
    span: usize,
    pending: Option<(Window, usize)>,
}

impl Sampler {
    /// Starts at `started` with nothing counted; targets come from `throttle`.
    pub fn new(started: Instant, throttle: Throttle) -> Self {
        Self {
            started,
            throttle,
            last_at: started,
            last: Totals::default(),
            windows: Vec::new(),
            span: 1,
            pending: None,
        }
    }

    /// Closes the window that ends now and returns it.
    pub fn sample(&mut self, now: Instant, totals: Totals) -> Window {
        let seconds = now.saturating_duration_since(self.last_at).as_secs_f64();
        let (t0, t1) = (
            self.last_at.saturating_duration_since(self.started).as_secs_f64(),
            now.saturating_duration_since(self.started).as_secs_f64(),
        );
        let per_s = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
        let bytes = totals.bytes_sent - self.last.bytes_sent;
        let blocks = totals.blocks_sent - self.last.blocks_sent;
        let target = self.throttle.is_limited().then(|| per_s(self.throttle.allowance(t0, t1)));
        let window = Window {
            t: t1,
            seconds,
            blocks,
            bytes,
            bytes_per_s: per_s(bytes as f64),
            blocks_per_s: per_s(blocks as f64),
            target_bytes_per_s: target.filter(|_| !self.throttle.counts_blocks()),
            target_blocks_per_s: target.filter(|_| self.throttle.counts_blocks()),
            wire_bytes_per_s: per_s((totals.wire_bytes - self.last.wire_bytes) as f64),
            errors: totals.errors - self.last.errors,
            reconnects: totals.reconnects - self.last.reconnects,
        };
        self.keep(window);
        self.last = totals;
        self.last_at = now;
        window
    }

    fn keep(&mut self, window: Window) {
        let (merged, count) = match self.pending.take() {
            Some((p, n)) => (p.merged(&window), n + 1),
            None => (window, 1),
        };
        if count < self.span {
            self.pending = Some((merged, count));
            return;
        }
        self.windows.push(merged);
        if self.windows.len() >= MAX_WINDOWS {
            self.windows =
                self.windows.chunks(2).map(|pair| if let [a, b] = pair { a.merged(b) } else { pair[0] }).collect();
            self.span *= 2;
        }
    }

    /// The windows so far: the whole run.
    pub fn into_windows(self) -> Vec<Window> {
        let mut windows = self.windows;
        windows.extend(self.pending.map(|(w, _)| w));
        windows
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
    /// The run could not go on: a connection thread did not start, or a TLS certificate was
    /// refused (`last_error` says which).
    Error,
}

impl StopReason {
    /// The name in summaries.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Bytes => "bytes",
            StopReason::Signal => "signal",
            StopReason::Error => "error",
        }
    }
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
    /// The throttle: `all_out`, `stable`, `linear` or `blocks`.
    pub throttle: String,
    /// The stable target rate, bytes per second (`null`: another throttle, or none).
    pub rate_bytes_per_s: Option<u64>,
    /// Units in the cache.
    pub cache_units: usize,
    /// Bytes in the cache.
    pub cache_bytes: u64,
    /// Seconds the cache took to build (until the stop, when the run stopped during the build).
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
    /// `wire_bytes / elapsed_seconds`: what the rate limits, retries included.
    pub wire_bytes_per_s: f64,
    /// Latency percentiles of the delivered units.
    pub latency: Latency,
    /// HTTP answers by status code.
    pub http_status: BTreeMap<u16, u64>,
    /// gRPC answers by status code (`grpc-status`: 0 is OK).
    pub grpc_status: BTreeMap<u16, u64>,
    /// The most recent error.
    pub last_error: Option<String>,
    /// What kind of failure it was.
    pub last_failure: Option<Failure>,
    /// Why the run ended.
    pub stopped_by: StopReason,
    /// Windows of the whole run, one second each unless a long run merged them.
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
        self.wire_bytes_per_s = self.totals.wire_bytes as f64 / secs;
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
        if t.rejected_records > 0 {
            out.push_str(&format!(
                "rejected records (partial success in successful answers): {}\n",
                t.rejected_records
            ));
        }
        if t.torn_units > 0 || t.answer_errors > 0 {
            out.push_str(&format!(
                "torn: {} units ({} bytes a receiver may have read as a cut line or frame)  unread answers: {}\n",
                t.torn_units, t.torn_bytes, t.answer_errors
            ));
        }
        if self.latency.service.count > 0 {
            out.push_str(&format!("latency ({}): {}\n", self.latency.service_is, self.latency.service.line()));
            out.push_str(&format!("latency (from schedule): {}\n", self.latency.scheduled.line()));
        }
        if !self.http_status.is_empty() {
            let codes: Vec<String> = self.http_status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!("http status: {}\n", codes.join(", ")));
        }
        if !self.grpc_status.is_empty() {
            let codes: Vec<String> = self.grpc_status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!("grpc status: {}\n", codes.join(", ")));
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("last error: {e}\n"));
        }
        out.push_str(&format!("stopped by: {}\n", self.stopped_by.name()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_take_differences() {
        let c = Counters::default();
        let t0 = Instant::now();
        let mut s = Sampler::new(t0, Throttle::Stable { bytes_per_second: 150 });
        c.sent(100, 2);
        c.sent(100, 2);
        let w = s.sample(t0 + Duration::from_secs(1), c.totals());
        assert_eq!((w.blocks, w.bytes, w.target_bytes_per_s), (2, 200, Some(150.0)));
        assert!((w.bytes_per_s - 200.0).abs() < 1e-9);
        c.sent(50, 1);
        c.error(Failure::Io, || "boom".into());
        let w = s.sample(t0 + Duration::from_secs(2), c.totals());
        assert_eq!((w.blocks, w.bytes, w.errors), (1, 50, 1));
        assert_eq!(c.last_error(), Some((Failure::Io, "boom".to_string())));
        assert_eq!(s.into_windows().len(), 2);
    }

    #[test]
    fn a_long_run_keeps_every_second_in_merged_windows() {
        let c = Counters::default();
        let t0 = Instant::now();
        let mut s = Sampler::new(t0, Throttle::Blocks { per_second: 10 });
        let seconds = 10_000u64;
        for i in 1..=seconds {
            c.sent(1000, 1);
            s.sample(t0 + Duration::from_secs(i), c.totals());
        }
        let windows = s.into_windows();
        assert!(windows.len() <= MAX_WINDOWS, "{}", windows.len());
        assert_eq!(windows.iter().map(|w| w.bytes).sum::<u64>(), seconds * 1000);
        assert!((windows.iter().map(|w| w.seconds).sum::<f64>() - seconds as f64).abs() < 1e-6);
        assert_eq!(windows.last().map(|w| w.t), Some(seconds as f64));
        assert!(windows.iter().all(|w| (w.bytes_per_s - 1000.0).abs() < 1e-6 && w.target_blocks_per_s == Some(10.0)));
    }
}
