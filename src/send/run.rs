//! The run: one thread per connection replaying the units in a cycle through the shared token
//! bucket, and the calling thread taking one-second windows until the run stops.
//!
//! Connection `k` of `n` starts at unit `k × len / n`, so parallel connections do not send the
//! same units at the same moment. A run stops when `--duration` has passed, when the next unit
//! would exceed `--bytes`, or when the stop flag is set from outside (SIGINT, SIGTERM); each
//! connection then finishes the unit it is on and ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::bucket::TokenBucket;
use super::http::{HttpConn, HttpSpec};
use super::stats::{Counters, Sampler, StopReason, Totals, Window};
use super::target::Target;
use super::transport::{DatagramConn, StreamConn};
use super::wire::WireCache;
use crate::error::{Error, Result};

/// Most connections a run may open.
pub const MAX_CONNECTIONS: usize = 1024;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The unit went out (written, or answered 2xx).
    Sent,
    /// The receiver refused it for good (HTTP 4xx).
    Rejected,
    /// It never went out.
    Failed,
}

/// What a connection sees of the run.
pub struct Ctx<'a> {
    /// The shared counters.
    pub counters: &'a Counters,
    stop: &'a AtomicBool,
}

impl<'a> Ctx<'a> {
    /// A context over `counters` and `stop` (for tests of a single connection).
    pub fn new(counters: &'a Counters, stop: &'a AtomicBool) -> Self {
        Self { counters, stop }
    }

    /// True once the run is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// True once the run has been stopping for [`super::transport::STOP_GRACE`] since this unit
    /// first noticed it (`since` keeps that moment): the unit in progress, retries included,
    /// gives up then.
    pub fn past_grace(&self, since: &mut Option<Instant>) -> bool {
        if !self.stopping() {
            return false;
        }
        let noticed = *since.get_or_insert_with(Instant::now);
        noticed.elapsed() >= super::transport::STOP_GRACE
    }
}

/// What to send and when to stop.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Where.
    pub target: Target,
    /// The units, replayed in a cycle.
    pub wire: Arc<WireCache>,
    /// Parallel connections (1..=[`MAX_CONNECTIONS`]).
    pub connections: usize,
    /// Total payload bytes per second over all connections (`None`: as fast as possible).
    pub rate: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop before the unit that would take the payload past this many bytes.
    pub bytes: Option<u64>,
    /// Required for `http://` targets.
    pub http: Option<HttpSpec>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The counts.
    pub totals: Totals,
    /// HTTP answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// The most recent error.
    pub last_error: Option<String>,
    /// One-second windows; the last one may be shorter.
    pub windows: Vec<Window>,
    /// From the start of sending to the end of the last connection.
    pub elapsed: Duration,
    /// Why the run ended.
    pub stopped_by: StopReason,
}

/// One connection of any transport.
enum Conn {
    Stream(StreamConn),
    Datagram(DatagramConn),
    Http(Box<HttpConn>),
}

impl Conn {
    fn new(spec: &RunSpec) -> Result<Self> {
        if let Some(c) = StreamConn::new(&spec.target) {
            return Ok(Conn::Stream(c));
        }
        if let Some(c) = DatagramConn::new(&spec.target) {
            return Ok(Conn::Datagram(c));
        }
        match &spec.http {
            Some(http) => Ok(Conn::Http(Box::new(HttpConn::new(http.clone())))),
            None => Err(Error::argument("target URL", spec.target.to_string(), "an HTTP target needs HTTP settings")),
        }
    }

    fn deliver(&mut self, unit: &super::wire::Unit, ctx: &Ctx<'_>) -> Outcome {
        match self {
            Conn::Stream(c) => c.deliver(unit, ctx),
            Conn::Datagram(c) => c.deliver(unit, ctx),
            Conn::Http(c) => c.deliver(unit, ctx),
        }
    }
}

/// Why the run stopped, first reason wins.
struct Reason(Mutex<Option<StopReason>>);

impl Reason {
    fn set(&self, reason: StopReason, stop: &AtomicBool) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(reason);
        stop.store(true, Ordering::Relaxed);
    }

    fn get(&self) -> Option<StopReason> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `spec` until it stops (see the module docs), calling `on_window` with each one-second
/// window. `stop` may be set from outside (a signal handler) to end the run.
///
/// # Errors
/// [`Error::Argument`] for a bad connection count or rate; [`Error::Io`] when a connection
/// thread cannot be started. Delivery failures are not errors: they are counted.
pub fn run(spec: &RunSpec, stop: &Arc<AtomicBool>, mut on_window: impl FnMut(&Window)) -> Result<RunReport> {
    if spec.connections == 0 || spec.connections > MAX_CONNECTIONS {
        return Err(Error::argument(
            "connections",
            spec.connections.to_string(),
            format!("must lie within 1..={MAX_CONNECTIONS}"),
        ));
    }
    let bucket = spec.rate.map(|rate| TokenBucket::new(rate, spec.wire.largest() as u64)).transpose()?;
    let mut conns = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        conns.push(Conn::new(spec)?);
    }
    let counters = Counters::default();
    let reason = Reason(Mutex::new(None));
    let remaining = AtomicU64::new(spec.bytes.unwrap_or(u64::MAX));
    let active = AtomicUsize::new(spec.connections);
    let started = Instant::now();
    let deadline = spec.duration.map(|d| started + d);
    let mut sampler = Sampler::new(started);

    let worker = |k: usize, mut conn: Conn| {
        let ctx = Ctx { counters: &counters, stop };
        let wire = &spec.wire;
        let mut position = k * wire.len() / spec.connections;
        while !ctx.stopping() {
            let unit = wire.get(position);
            let len = unit.bytes.len() as u64;
            let taken = remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(len)).is_ok();
            if !taken {
                reason.set(StopReason::Bytes, stop);
                break;
            }
            if let Some(bucket) = &bucket {
                if !bucket.wait(len, stop) {
                    remaining.fetch_add(len, Ordering::Relaxed);
                    break;
                }
            }
            match conn.deliver(unit, &ctx) {
                Outcome::Sent => counters.sent(unit.bytes.len(), unit.members),
                Outcome::Rejected => counters.rejected(unit.bytes.len()),
                Outcome::Failed => counters.failed(unit.bytes.len()),
            }
            position = (position + 1) % wire.len();
        }
        active.fetch_sub(1, Ordering::Relaxed);
    };

    let spawned: Result<()> = std::thread::scope(|s| {
        let mut result = Ok(());
        for (k, conn) in conns.into_iter().enumerate() {
            let worker = &worker;
            if let Err(e) =
                std::thread::Builder::new().name(format!("send-{k}")).spawn_scoped(s, move || worker(k, conn))
            {
                active.fetch_sub(1, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                result = Err(Error::io("start", "a connection thread", e));
            }
        }
        let mut tick = started + Duration::from_secs(1);
        while active.load(Ordering::Relaxed) > 0 {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                reason.set(StopReason::Duration, stop);
            }
            if now >= tick {
                on_window(&sampler.sample(now, counters.totals()));
                tick += Duration::from_secs(1);
            }
            let next = deadline.map_or(tick, |d| d.min(tick));
            std::thread::sleep(next.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
        }
        result
    });
    spawned?;
    let elapsed = started.elapsed();
    let end = Instant::now();
    let totals = counters.totals();
    if end.saturating_duration_since(started) > Duration::ZERO {
        let w = sampler.sample(end, totals);
        if w.seconds >= 0.01 {
            on_window(&w);
        }
    }
    Ok(RunReport {
        totals,
        statuses: counters.statuses(),
        last_error: counters.last_error(),
        windows: sampler.into_windows(),
        elapsed,
        stopped_by: reason.get().unwrap_or(StopReason::Signal),
    })
}
