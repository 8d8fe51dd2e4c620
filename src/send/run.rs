//! The run: one thread per connection replaying the units in a cycle through the shared token
//! bucket, and the calling thread taking one-second windows until the run stops.
//!
//! Connection `k` of `n` starts at unit `k × len / n`, so parallel connections do not send the
//! same units at the same moment. A run stops when `--duration` has passed, when the next unit
//! would take the *sent* bytes past `--bytes` (units that fail or are rejected give their bytes
//! back), when the stop flag is set from outside (SIGINT, SIGTERM), or when it cannot go on (a
//! connection thread does not start, a TLS certificate is refused: stopped by `error`). Each
//! connection then finishes the unit it is on within [`STOP_GRACE`]; the run returns at the
//! latest [`STOP_GRACE`] plus a second after the stop, leaving behind any connection still
//! blocked (a request that ignores its timeout), whose unit is not counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::bucket::{TokenBucket, check_rate};
use super::conn::{Ctx, Outcome, STOP_GRACE, StopCell};
use super::http::{HttpConn, HttpSpec};
use super::latency::{Latency, Recorder};
use super::stats::{Counters, Failure, Sampler, StopReason, Totals, Window};
use super::target::Target;
use super::throttle::Throttle;
use super::tls::TlsSetup;
use super::transport::{DatagramConn, StreamConn};
use super::wire::{Unit, WireCache};
use crate::error::{Error, Result};

/// Most connections a run may open.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long past [`STOP_GRACE`] the run waits for its connections before it returns without them.
const ABANDON_SLACK: Duration = Duration::from_secs(1);

/// What to send and when to stop.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Where.
    pub target: Target,
    /// The units, replayed in a cycle.
    pub wire: Arc<WireCache>,
    /// Parallel connections (1..=[`MAX_CONNECTIONS`]).
    pub connections: usize,
    /// The pace over all connections.
    pub throttle: Throttle,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop before the unit that would take the sent payload past this many bytes.
    pub bytes: Option<u64>,
    /// Required for `http://` and `https://` targets.
    pub http: Option<HttpSpec>,
    /// Required for `tls://` targets.
    pub tls: Option<TlsSetup>,
    /// Required for `grpc://` targets (and the `grpc` feature).
    pub grpc: Option<super::grpc::GrpcSpec>,
}

impl RunSpec {
    /// The stable rate in bytes per second, if that is the throttle.
    pub fn rate(&self) -> Option<u64> {
        self.throttle.stable_rate()
    }
}

/// Checks a connection count.
///
/// # Errors
/// [`Error::Argument`] outside 1..=[`MAX_CONNECTIONS`].
pub fn check_connections(connections: usize) -> Result<()> {
    if connections == 0 || connections > MAX_CONNECTIONS {
        return Err(Error::argument(
            "connections",
            connections.to_string(),
            format!("must lie within 1..={MAX_CONNECTIONS}"),
        ));
    }
    Ok(())
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The counts.
    pub totals: Totals,
    /// HTTP answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// gRPC answers by status.
    pub grpc_statuses: BTreeMap<u16, u64>,
    /// The most recent error and its kind.
    pub last_error: Option<(Failure, String)>,
    /// Windows of the whole run; the last one may be shorter.
    pub windows: Vec<Window>,
    /// Latency percentiles of the delivered units.
    pub latency: Latency,
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
    #[cfg(feature = "grpc")]
    Grpc(Box<super::grpc_conn::GrpcConn>),
}

impl Conn {
    fn new(spec: &RunSpec, seed: u64) -> Result<Self> {
        if let Some(c) = StreamConn::new(&spec.target, spec.tls.clone(), seed) {
            return Ok(Conn::Stream(c));
        }
        if let Some(c) = DatagramConn::new(&spec.target, seed) {
            return Ok(Conn::Datagram(c));
        }
        #[cfg(feature = "grpc")]
        if let Some(grpc) = &spec.grpc {
            return Ok(Conn::Grpc(Box::new(super::grpc_conn::GrpcConn::new(grpc.clone(), seed)?)));
        }
        match &spec.http {
            Some(http) => Ok(Conn::Http(Box::new(HttpConn::new(http.clone(), seed)))),
            None => Err(Error::argument(
                "target URL",
                spec.target.to_string(),
                "an HTTP or gRPC target needs its settings (RunSpec::http, RunSpec::grpc)",
            )),
        }
    }

    fn deliver(&mut self, unit: &Unit, ctx: &Ctx<'_>) -> Outcome {
        match self {
            Conn::Stream(c) => c.deliver(unit, ctx),
            Conn::Datagram(c) => c.deliver(unit, ctx),
            Conn::Http(c) => c.deliver(unit, ctx),
            #[cfg(feature = "grpc")]
            Conn::Grpc(c) => c.deliver(unit, ctx),
        }
    }
}

/// What the connection threads share with the run.
struct Shared {
    spec: RunSpec,
    stop: Arc<AtomicBool>,
    counters: Counters,
    reason: StopCell,
    bucket: Option<TokenBucket>,
    /// Bytes `--bytes` still allows, units in flight included.
    remaining: AtomicU64,
    active: AtomicUsize,
    latency: Mutex<Recorder>,
}

/// Runs `spec` until it stops (see the module docs), calling `on_window` with each one-second
/// window. `stop` may be set from outside (a signal handler) to end the run.
///
/// # Errors
/// [`Error::Argument`] for a bad connection count or rate. Delivery failures are not errors:
/// they are counted; a connection thread that cannot start stops the run (stopped by `error`).
pub fn run(spec: &RunSpec, stop: &Arc<AtomicBool>, on_window: impl FnMut(&Window)) -> Result<RunReport> {
    run_with(spec, stop, on_window, None)
}

fn run_with(
    spec: &RunSpec,
    stop: &Arc<AtomicBool>,
    mut on_window: impl FnMut(&Window),
    thread_stack: Option<usize>,
) -> Result<RunReport> {
    check_connections(spec.connections)?;
    let largest = spec.wire.largest();
    if let Throttle::Stable { bytes_per_second } = spec.throttle {
        check_rate(bytes_per_second, largest as u64)?;
    }
    let started = Instant::now();
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::from(d.subsec_nanos()))
            ^ u64::from(std::process::id());
    let mut conns = Vec::with_capacity(spec.connections);
    for k in 0..spec.connections {
        conns.push(Conn::new(spec, seed.wrapping_add(k as u64 + 1))?);
    }
    let shared = Arc::new(Shared {
        spec: spec.clone(),
        stop: Arc::clone(stop),
        counters: Counters::default(),
        reason: StopCell::default(),
        bucket: spec
            .throttle
            .is_limited()
            .then(|| TokenBucket::with_throttle(spec.throttle, spec.throttle.cost(largest), started)),
        remaining: AtomicU64::new(spec.bytes.unwrap_or(u64::MAX)),
        active: AtomicUsize::new(spec.connections),
        latency: Mutex::new(Recorder::new()),
    });
    let deadline = spec.duration.map(|d| started + d);
    let mut sampler = Sampler::new(started, spec.throttle);

    let mut handles = Vec::with_capacity(spec.connections);
    for (k, conn) in conns.into_iter().enumerate() {
        let worker_shared = Arc::clone(&shared);
        let mut builder = std::thread::Builder::new().name(format!("send-{k}"));
        if let Some(size) = thread_stack {
            builder = builder.stack_size(size);
        }
        match builder.spawn(move || worker(&worker_shared, k, conn)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.active.fetch_sub(spec.connections - k, Ordering::Relaxed);
                shared.counters.error(Failure::Io, || format!("start connection thread {k}: {e}"));
                shared.reason.set(StopReason::Error, stop);
                break;
            }
        }
    }

    let mut tick = started + Duration::from_secs(1);
    let mut stopping_since = None;
    while shared.active.load(Ordering::Relaxed) > 0 {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            shared.reason.set(StopReason::Duration, stop);
        }
        if stop.load(Ordering::Relaxed) && now - *stopping_since.get_or_insert(now) > STOP_GRACE + ABANDON_SLACK {
            let left = shared.active.load(Ordering::Relaxed);
            shared.counters.error(Failure::Timeout, || {
                format!("{left} connection(s) still busy {STOP_GRACE:?} after the stop were left behind")
            });
            break;
        }
        if now >= tick {
            on_window(&sampler.sample(now, shared.counters.totals()));
            tick += Duration::from_secs(1);
        }
        let next = deadline.map_or(tick, |d| d.min(tick));
        std::thread::sleep(next.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
    }
    for h in handles {
        if h.is_finished() {
            let _ = h.join();
        }
    }
    let elapsed = started.elapsed();
    let end = Instant::now();
    let totals = shared.counters.totals();
    if end.saturating_duration_since(started) > Duration::ZERO {
        let w = sampler.sample(end, totals);
        if w.seconds >= 0.01 {
            on_window(&w);
        }
    }
    let service_is = match spec.target.transport() {
        t if t.is_datagram() => "datagram send",
        t if t.is_stream() => "write blocked",
        _ => "request",
    };
    let latency = shared.latency.lock().unwrap_or_else(PoisonError::into_inner).summary(service_is);
    Ok(RunReport {
        totals,
        statuses: shared.counters.statuses(),
        grpc_statuses: shared.counters.grpc_statuses(),
        last_error: shared.counters.last_error(),
        windows: sampler.into_windows(),
        latency,
        elapsed,
        stopped_by: shared.reason.get().unwrap_or(StopReason::Signal),
    })
}

/// One connection: replays the units from its starting point until the run stops.
fn worker(shared: &Shared, k: usize, mut conn: Conn) {
    let spec = &shared.spec;
    let ctx = Ctx::new(&shared.counters, &shared.stop)
        .with_bucket(shared.bucket.as_ref(), spec.connections)
        .with_reason(&shared.reason);
    let wire = &spec.wire;
    let mut position = k * wire.len() / spec.connections;
    while !ctx.stopping() {
        let unit = wire.get(position);
        let len = unit.bytes.len() as u64;
        let taken = shared.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(len)).is_ok();
        if !taken {
            shared.reason.set(StopReason::Bytes, &shared.stop);
            break;
        }
        match conn.deliver(unit, &ctx) {
            Outcome::Sent => shared.counters.sent(unit.bytes.len(), unit.members),
            Outcome::Rejected => {
                shared.counters.rejected(unit.bytes.len());
                shared.remaining.fetch_add(len, Ordering::Relaxed);
            }
            Outcome::Failed => {
                shared.counters.failed(unit.bytes.len());
                shared.remaining.fetch_add(len, Ordering::Relaxed);
            }
            Outcome::Skipped => {
                shared.remaining.fetch_add(len, Ordering::Relaxed);
                break;
            }
        }
        position = (position + 1) % wire.len();
    }
    // Closing may take a moment (a TLS stream's clean end): before the run counts this one done.
    drop(conn);
    shared.latency.lock().unwrap_or_else(PoisonError::into_inner).merge(&ctx.into_latency());
    shared.active.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Amount, BlockCache, BlockPlan, BlockSize};
    use crate::send::profile::Wire;
    use crate::{Registry, StrategyChoice};

    fn spec(to: &str) -> RunSpec {
        let plan = BlockPlan::new(1, BlockSize::Fixed(4096), Amount::Blocks(4)).unwrap();
        let config = Registry::builtin().default_config("syslog5424").unwrap();
        let cache = BlockCache::build(&config, StrategyChoice::Auto, &plan, 1).unwrap();
        RunSpec {
            target: to.parse().unwrap(),
            wire: Arc::new(WireCache::new(&cache, Wire::Blocks).unwrap()),
            connections: 2,
            throttle: Throttle::AllOut,
            duration: Some(Duration::from_secs(2)),
            bytes: None,
            http: None,
            tls: None,
            grpc: None,
        }
    }

    #[test]
    fn a_thread_that_cannot_start_stops_the_run_with_an_error() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let spec = spec(&format!("udp://{}", receiver.local_addr().unwrap()));
        let stop = Arc::new(AtomicBool::new(false));
        // A stack no system can map: the spawn fails.
        let report = run_with(&spec, &stop, |_| {}, Some(usize::MAX / 2)).unwrap();
        assert_eq!(report.stopped_by, StopReason::Error);
        let (failure, message) = report.last_error.unwrap();
        assert!(failure == Failure::Io && message.contains("start connection thread"), "{message}");
    }
}
