//! `payforge send`: deliver a format's blocks to a real receiver at a controlled rate.
//!
//! The blocks come from a [`BlockCache`] built before sending starts and replayed in a cycle, so
//! sending never waits on generation. [`prepare`] checks every option first (connections, the
//! datagram limits of UDP and Unix sockets, the rate against the largest block, framings, TLS
//! files), then builds the cache and turns it into the units that go on the wire ([`wire`]);
//! [`prepare_until`] does the same but gives up the build when a stop flag is set.
//! [`run::run`] sends the units over `--connections` connections through one shared
//! [`bucket::TokenBucket`] filled by the [`throttle`], counting everything in [`stats`] and
//! [`latency`]. How a format travels (HTTP path and headers, datagram rules, framing hooks) is
//! its declared [`crate::Delivery`], never its name.
//!
//! | file | job |
//! |---|---|
//! | [`target`] | `--to` URLs |
//! | [`profile`] | a format's declared [`crate::Delivery`] over one transport: block sizes, units, framings |
//! | [`wire`] | blocks as units on the wire |
//! | [`bucket`] | the token bucket |
//! | [`conn`] | what every connection shares: context, outcome, backoff, stop grace |
//! | [`transport`] | stream and datagram sockets, reconnects, backoff |
//! | [`request`] | one unit per request: the retry loop HTTP and gRPC share |
//! | [`http`] | HTTP/1.1 requests |
//! | [`grpc`] | gRPC calls: what they carry, what their statuses mean |
//! | `grpc_conn` | gRPC unary calls over HTTP/2 (feature `grpc`) |
//! | [`tls`] | TLS for `https://` and `tls://` |
//! | [`throttle`] | lading's throttles: stable, linear, all out, blocks per second |
//! | [`latency`] | service and scheduled latency histograms |
//! | [`run`] | connection threads and the stop conditions |
//! | [`stats`] | counters, one-second windows, the summary |
//! | [`lading`] | lading experiment files |

pub mod bucket;
pub mod conn;
pub mod grpc;
#[cfg(feature = "grpc")]
pub mod grpc_conn;
pub mod http;
pub mod lading;
pub mod latency;
pub mod profile;
pub mod request;
pub mod run;
pub mod stats;
pub mod target;
pub mod throttle;
pub mod tls;
pub mod transport;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cache::{Amount, BlockCache, BlockPlan, BlockSize, Shard};
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::registry::{FormatConfig, Registry};
use crate::size::{format_size, parse_size};
use crate::strategy::StrategyChoice;

pub use profile::{Profile, SyslogFraming, Wire};
pub use run::{RunReport, RunSpec};
pub use target::{MAX_UDP_PAYLOAD, Target, Transport};
pub use throttle::Throttle;
pub use tls::TlsOptions;

/// Default `--cache`: 64 MiB, like lading's `maximum_prebuild_cache_size_bytes` in its examples.
pub const DEFAULT_CACHE: u64 = 64 << 20;
/// Default `--max-retries` for HTTP.
pub const DEFAULT_MAX_RETRIES: u32 = 10;

/// Everything a send needs, resolved from the command line or a lading file.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The format's config.
    pub config: FormatConfig,
    /// Where.
    pub target: Target,
    /// Seed of the workload.
    pub seed: u64,
    /// Block budget (`None`: the transport's default, see [`profile`]).
    pub block_size: Option<BlockSize>,
    /// The pace: `--rate`, `--ramp`, `--block-rate` or a lading throttle.
    pub throttle: Throttle,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop before exceeding this many payload bytes.
    pub bytes: Option<u64>,
    /// Parallel connections.
    pub connections: usize,
    /// The cache's size: the whole logical stream, before sharding.
    pub cache: u64,
    /// This process's shard.
    pub shard: Shard,
    /// syslog5424 over streams: LF or octet counting.
    pub syslog_framing: Option<SyslogFraming>,
    /// Extra HTTP headers.
    pub headers: Vec<http::Header>,
    /// HTTP retries of 429, 5xx and transport errors.
    pub max_retries: u32,
    /// Threads that build the cache.
    pub threads: usize,
    /// The generation strategy.
    pub strategy: StrategyChoice,
    /// TLS flags (`https://` and `tls://` targets).
    pub tls: TlsOptions,
}

impl SendOptions {
    /// The stable rate in bytes per second, if that is the throttle.
    pub fn rate(&self) -> Option<u64> {
        self.throttle.stable_rate()
    }
}

/// A send ready to run: the cache is built.
#[derive(Debug)]
pub struct Prepared {
    /// What [`run::run`] takes.
    pub spec: RunSpec,
    /// The blocks.
    pub cache: BlockCache,
    /// How long the cache took to build.
    pub build_time: Duration,
    /// The block-size policy in use.
    pub block_size: BlockSize,
    /// The per-format rules in use.
    pub profile: Profile,
}

/// Everything checked, ready to build: what [`prepare`] does before the slow part.
struct Checked {
    profile: Profile,
    block_size: BlockSize,
    config: FormatConfig,
    plan: BlockPlan,
    http: Option<http::HttpSpec>,
    grpc: Option<grpc::GrpcSpec>,
    tls: Option<tls::TlsSetup>,
}

/// Checks `options` against the transport, builds the cache and the wire units.
///
/// # Errors
/// [`Error::Argument`] for a bad connection count, a block larger than the UDP payload limit,
/// than a Unix datagram socket takes or than one second of `--rate`, a cache smaller than one
/// block, a framing that does not apply, or TLS options that do not load; [`Error::Config`] for
/// a config the format's delivery refuses for the transport (dogstatsd's length prefix off Unix
/// streams); compression on anything but HTTP; any error of the cache build. Every check comes
/// before the build.
pub fn prepare(registry: &Registry, options: &SendOptions) -> Result<Prepared> {
    let checked = check(registry, options)?;
    let started = Instant::now();
    let cache = BlockCache::build(&checked.config, options.strategy, &checked.plan, options.threads)?;
    finish(options, checked, cache, started.elapsed())
}

/// As [`prepare`], building the cache on its own thread and giving up the build when `stop` is
/// set: then `Ok(None)`, at once (the build thread is left to end with the process).
///
/// # Errors
/// As [`prepare`].
pub fn prepare_until(registry: &Registry, options: &SendOptions, stop: &AtomicBool) -> Result<Option<Prepared>> {
    let checked = check(registry, options)?;
    let started = Instant::now();
    let (config, plan, strategy, threads) =
        (checked.config.clone(), checked.plan.clone(), options.strategy, options.threads);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("send-cache".into())
        .spawn(move || {
            let _ = tx.send(BlockCache::build(&config, strategy, &plan, threads));
        })
        .map_err(|e| Error::io("start", "the cache build thread", e))?;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(cache) => return finish(options, checked, cache?, started.elapsed()).map(Some),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::WorkerPanicked { message: "the cache build thread ended without a cache".into() });
            }
        }
    }
}

/// Every check of `options`, in the order a user fixes them, before anything slow.
fn check(registry: &Registry, options: &SendOptions) -> Result<Checked> {
    let _ = registry;
    run::check_connections(options.connections)?;
    let transport = options.target.transport();
    let format = options.config.name();
    let profile = Profile::new(format, options.config.delivery(), transport, options.syslog_framing)?;
    let block_size = options
        .block_size
        .unwrap_or(BlockSize::Fixed(default_block_size(profile.block_size, options.rate())))
        .validate()?;
    if transport == Transport::Udp && block_size.max() > MAX_UDP_PAYLOAD {
        return Err(Error::argument(
            "block size",
            block_size.to_string(),
            format!(
                "exceeds the largest UDP payload ({MAX_UDP_PAYLOAD} bytes): one block is one datagram; use \
                 --block-size {MAX_UDP_PAYLOAD} or less (the agent reads 8KiB by default)"
            ),
        ));
    }
    if transport == Transport::Unixgram {
        if let Some(limit) = transport::max_unix_datagram().filter(|&limit| block_size.max() > limit) {
            return Err(Error::argument(
                "block size",
                block_size.to_string(),
                format!(
                    "exceeds the largest datagram this machine's Unix datagram sockets send ({limit} bytes, their \
                     send buffer: net.core.wmem_default): one block is one datagram; use --block-size {limit} or \
                     less (the agent reads 8KiB by default)"
                ),
            ));
        }
    }
    check_throttle(&options.throttle, profile.wire, block_size.max() as u64)?;
    if options.cache < block_size.max() as u64 {
        return Err(Error::argument(
            "cache",
            format_size(options.cache),
            format!("smaller than one block of {block_size}"),
        ));
    }
    let compression = options.config.compression();
    if !compression.is_none() && !matches!(transport, Transport::Http | Transport::Grpc) {
        return Err(Error::argument(
            "compression",
            compression.to_string(),
            format!(
                "applies to http:// and grpc:// only (sent with Content-Encoding, grpc-encoding); {transport}:// \
                 receivers read the format's own framing"
            ),
        ));
    }
    let grpc_method = grpc_method(&options.target, format, &profile.delivery)?;
    let tls = tls::setup(&options.tls, &options.target)?;
    let config = options.config.for_transport(transport)?;
    let plan = BlockPlan::new(options.seed, block_size, Amount::Total(options.cache))?.with_shard(options.shard)?;
    let http = options.target.http_url(profile.delivery.http_path).map(|url| http::HttpSpec {
        url,
        method: profile.delivery.http_method,
        content_type: profile.delivery.content_type,
        content_encoding: compression.content_encoding(),
        member_count_header: profile.delivery.member_count_header,
        fixed_headers: profile.delivery.headers,
        headers: options.headers.clone(),
        max_retries: options.max_retries,
        tls: tls.clone(),
        partial_success: profile.delivery.partial_success,
    });
    let grpc = match (&options.target, grpc_method) {
        (target::Target::Grpc { addr }, Some(method)) => Some(grpc::GrpcSpec {
            addr: addr.clone(),
            method,
            encoding: compression.content_encoding(),
            headers: options.headers.clone(),
            max_retries: options.max_retries,
            partial_success: profile.delivery.partial_success,
        }),
        _ => None,
    };
    Ok(Checked { profile, block_size, config, plan, http, grpc, tls })
}

/// The gRPC method of a `grpc://` target: the format's declared one; an error when it declares
/// none, or when this build has no gRPC (feature `grpc`).
fn grpc_method(target: &target::Target, format: &str, delivery: &Delivery) -> Result<Option<&'static str>> {
    if !matches!(target, target::Target::Grpc { .. }) {
        return Ok(None);
    }
    if !cfg!(feature = "grpc") {
        return Err(Error::argument(
            "target URL",
            target.to_string(),
            "this build of payforge has no gRPC: build it with the `grpc` feature",
        ));
    }
    match delivery.grpc_method {
        Some(method) => Ok(Some(method)),
        None => Err(Error::argument(
            "target URL",
            target.to_string(),
            format!("{format} declares no gRPC method (Delivery::grpc_method): send it over http:// or a socket"),
        )),
    }
}

/// A throttle's rate must carry one block in a second (line datagrams are checked once their
/// units are known).
fn check_throttle(throttle: &Throttle, wire: Wire, largest: u64) -> Result<()> {
    if wire == Wire::Lines || throttle.counts_blocks() || !throttle.is_limited() {
        return Ok(());
    }
    bucket::check_rate(throttle.highest_rate() as u64, largest)?;
    if let Throttle::Stable { bytes_per_second } = *throttle {
        bucket::check_rate(bytes_per_second, largest)?;
    }
    Ok(())
}

/// Turns a built cache into the run's units and spec.
fn finish(options: &SendOptions, checked: Checked, cache: BlockCache, build_time: Duration) -> Result<Prepared> {
    let wire = wire::WireCache::new(&cache, checked.profile.wire)?;
    if let Throttle::Stable { bytes_per_second } = options.throttle {
        bucket::check_rate(bytes_per_second, wire.largest() as u64)?;
    }
    let spec = RunSpec {
        target: options.target.clone(),
        wire: Arc::new(wire),
        connections: options.connections,
        throttle: options.throttle,
        duration: options.duration,
        bytes: options.bytes,
        http: checked.http,
        tls: checked.tls,
        grpc: checked.grpc,
    };
    Ok(Prepared { spec, cache, build_time, block_size: checked.block_size, profile: checked.profile })
}

/// The block size when none is given: the transport's default, lowered with a low `rate` to the
/// largest power of two that still makes at least 10 blocks a second (at least 1 KiB), so the
/// rate is smooth and any block fits a second of it.
pub fn default_block_size(transport_default: usize, rate: Option<u64>) -> usize {
    let Some(rate) = rate else { return transport_default };
    let tenth = usize::try_from(rate / 10).unwrap_or(usize::MAX);
    if tenth >= transport_default {
        return transport_default;
    }
    let pow2 = if tenth == 0 { 1 } else { 1usize << (usize::BITS - 1 - tenth.leading_zeros()) };
    pow2.max(1024).min(transport_default)
}

/// Parses a duration: `3s`, `500ms`, `2m`, `1h`, `1.5s`, or a number of seconds.
///
/// # Errors
/// [`Error::Argument`] naming the text.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || Error::argument("duration", text, "expected e.g. 3s, 500ms, 2m or 1h (above 0, at most 10 years)");
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if !(secs.is_finite() && secs > 0.0 && secs <= 10.0 * 365.0 * 86400.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a rate: a size per second, `10MiB`, `100MB` or `10MiB/s`.
///
/// # Errors
/// [`Error::Argument`] naming the text.
pub fn parse_rate(text: &str) -> Result<u64> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let rate = parse_size("rate", t)?;
    if rate == 0 {
        return Err(Error::argument("rate", text, "must be at least 1 byte per second"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Compression;

    #[test]
    fn default_block_sizes_follow_the_rate() {
        assert_eq!(default_block_size(256 << 10, None), 256 << 10);
        assert_eq!(default_block_size(256 << 10, Some(100 << 20)), 256 << 10);
        assert_eq!(default_block_size(256 << 10, Some(1 << 20)), 64 << 10);
        assert_eq!(default_block_size(8192, Some(50_000)), 4096);
        assert_eq!(default_block_size(8192, Some(100)), 1024);
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["", "0s", "-1s", "3 weeks", "s", "1e400"] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
        assert_eq!(parse_rate("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_rate("100MB/s").unwrap(), 100_000_000);
        assert!(parse_rate("0").is_err() && parse_rate("fast").is_err());
    }

    fn options(format: &str, to: &str) -> SendOptions {
        SendOptions {
            config: Registry::builtin().default_config(format).unwrap(),
            target: to.parse().unwrap(),
            seed: 1,
            block_size: None,
            throttle: Throttle::AllOut,
            duration: None,
            bytes: None,
            connections: 1,
            cache: 256 << 10,
            shard: Shard::WHOLE,
            syslog_framing: None,
            headers: Vec::new(),
            max_retries: 3,
            threads: 1,
            strategy: StrategyChoice::Auto,
            tls: TlsOptions::default(),
        }
    }

    #[test]
    fn checks_before_building() {
        let registry = Registry::builtin();
        let mut o = options("dogstatsd", "udp://127.0.0.1:8125");
        o.block_size = Some(BlockSize::Fixed(64 << 10));
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains("65507") && err.contains("64KiB"), "{err}");
        let mut o = options("syslog5424", "tcp://127.0.0.1:514");
        o.block_size = Some(BlockSize::Fixed(64 << 10));
        o.throttle = Throttle::Stable { bytes_per_second: 32 << 10 };
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains("rate") && err.contains("64KiB"), "{err}");
        let mut o = options("trace-v04", "tcp://127.0.0.1:8126");
        o.config = o.config.with_compression(Compression::Gzip(6));
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains("compression") && err.contains("gzip:6") && err.contains("http://"), "{err}");
        let mut o = options("syslog5424", "tcp://127.0.0.1:514");
        o.cache = 1000;
        assert!(prepare(&registry, &o).unwrap_err().to_string().contains("cache"));
    }

    /// Defect 6 of issue 19: the connection count was checked only after the cache was built.
    /// A config whose build fails (setup memory over a 1-byte ceiling) shows which check ran
    /// first.
    #[test]
    fn every_input_check_comes_before_the_build() {
        let registry = Registry::builtin();
        let mut o = options("syslog5424", "tcp://127.0.0.1:514");
        o.config = o.config.with_max_setup_memory(1);
        assert!(prepare(&registry, &o).unwrap_err().to_string().contains("setup"));
        for connections in [0, run::MAX_CONNECTIONS + 1] {
            o.connections = connections;
            let err = prepare(&registry, &o).unwrap_err().to_string();
            assert!(err.contains("connections") && err.contains(&connections.to_string()), "{err}");
        }
        o.connections = 1;
        o.tls.insecure = true;
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains("https:// and tls://"), "{err}");
    }

    /// Defect 5 of issue 19: a unixgram block above what the socket sends failed at run time
    /// with EMSGSIZE, over and over.
    #[test]
    fn unixgram_blocks_are_checked_against_the_socket_limit() {
        let limit = transport::max_unix_datagram().expect("a Unix datagram socket has a send limit below 4 MiB");
        assert!(limit >= 8192, "{limit}");
        let registry = Registry::builtin();
        let mut o = options("dogstatsd", "unixgram:///tmp/payforge-none.sock");
        o.block_size = Some(BlockSize::Fixed(limit + 1));
        o.cache = 4 << 20;
        o.config = o.config.with_max_setup_memory(1);
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains(&limit.to_string()) && err.contains("--block-size"), "{err}");
        o.block_size = Some(BlockSize::Fixed(limit));
        assert!(prepare(&registry, &o).unwrap_err().to_string().contains("setup"), "the size check passes");
    }

    #[test]
    fn a_stop_during_the_build_gives_up_at_once() {
        let registry = Registry::builtin();
        let mut o = options("syslog5424", "tcp://127.0.0.1:514");
        o.cache = 32 << 20;
        let stop = AtomicBool::new(true);
        let started = Instant::now();
        assert!(prepare_until(&registry, &o, &stop).unwrap().is_none());
        assert!(started.elapsed() < Duration::from_secs(1));
        let go = AtomicBool::new(false);
        o.cache = 256 << 10;
        assert!(prepare_until(&registry, &o, &go).unwrap().is_some());
    }

    #[test]
    fn dogstatsd_is_length_prefixed_on_unix_streams_only() {
        let registry = Registry::builtin();
        let p = prepare(&registry, &options("dogstatsd", "unix:///tmp/x.sock")).unwrap();
        for block in p.cache.blocks() {
            let len = u32::from_le_bytes(block.bytes()[..4].try_into().unwrap()) as usize;
            assert_eq!(len + 4, block.len());
        }
        let p = prepare(&registry, &options("dogstatsd", "udp://127.0.0.1:8125")).unwrap();
        assert!(p.cache.blocks().iter().all(|b| b.len() <= 8192 && b.bytes().ends_with(b"\n")));
        let mut o = options("dogstatsd", "udp://127.0.0.1:8125");
        let yaml = "length_prefix_framed: true\n";
        o.config = registry.parse_config("dogstatsd", yaml, "x.yaml".as_ref()).unwrap();
        let err = prepare(&registry, &o).unwrap_err().to_string();
        assert!(err.contains("dogstatsd.length_prefix_framed"), "{err}");
    }
}
