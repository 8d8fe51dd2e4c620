//! `payforge send`: deliver a format's blocks to a real receiver at a controlled rate.
//!
//! The blocks come from a [`BlockCache`] built before sending starts and replayed in a cycle, so
//! sending never waits on generation. [`prepare`] checks the options against the transport (UDP
//! payload limit, the rate against the largest block, framings), builds the cache and turns it
//! into the units that go on the wire ([`wire`]); [`run::run`] sends them over `--connections`
//! connections through one shared [`bucket::TokenBucket`], counting everything in [`stats`].
//!
//! | file | job |
//! |---|---|
//! | [`target`] | `--to` URLs |
//! | [`profile`] | per-format rules: default block sizes, HTTP paths and headers, syslog framing |
//! | [`wire`] | blocks as units on the wire |
//! | [`bucket`] | the token bucket |
//! | [`transport`] | stream and datagram sockets, reconnects, backoff |
//! | [`http`] | POSTs with retries |
//! | [`run`] | connection threads and the stop conditions |
//! | [`stats`] | counters, one-second windows, the summary |
//! | [`lading`] | lading experiment files |

pub mod bucket;
pub mod http;
pub mod lading;
pub mod profile;
pub mod run;
pub mod stats;
pub mod target;
pub mod transport;
pub mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::{Amount, BlockCache, BlockPlan, BlockSize, Shard};
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::formats::DogStatsD;
use crate::registry::{FormatConfig, Registry};
use crate::size::{format_size, parse_size};
use crate::strategy::StrategyChoice;

pub use profile::{Profile, SyslogFraming, Wire};
pub use run::{RunReport, RunSpec};
pub use target::{MAX_UDP_PAYLOAD, Target, Transport};

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
    /// Total bytes per second (`None`: as fast as the receiver takes it).
    pub rate: Option<u64>,
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

/// Checks `options` against the transport, builds the cache and the wire units.
///
/// # Errors
/// [`Error::Argument`] for a block larger than the UDP payload limit or than one second of
/// `--rate`, a cache smaller than one block, or a framing that does not apply; [`Error::Config`]
/// for a dogstatsd config that frames datagrams with a length prefix; compression on anything but
/// HTTP; any error of the cache build.
pub fn prepare(registry: &Registry, options: &SendOptions) -> Result<Prepared> {
    let transport = options.target.transport();
    let format = options.config.name();
    let profile = Profile::new(format, transport, options.syslog_framing)?;
    let block_size = options
        .block_size
        .unwrap_or(BlockSize::Fixed(default_block_size(profile.block_size, options.rate)))
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
    if let Some(rate) = options.rate {
        if profile.wire != Wire::Lines {
            bucket::check_rate(rate, block_size.max() as u64)?;
        }
    }
    if options.cache < block_size.max() as u64 {
        return Err(Error::argument(
            "cache",
            format_size(options.cache),
            format!("smaller than one block of {block_size}"),
        ));
    }
    let compression = options.config.compression();
    if !compression.is_none() && transport != Transport::Http {
        return Err(Error::argument(
            "compression",
            compression.to_string(),
            format!(
                "applies to http:// only (sent with Content-Encoding); {transport}:// receivers read the format's \
                 own framing"
            ),
        ));
    }
    let config = frame_for_transport(registry, &options.config, &profile)?;
    let plan = BlockPlan::new(options.seed, block_size, Amount::Total(options.cache))?.with_shard(options.shard)?;
    let started = Instant::now();
    let cache = BlockCache::build(&config, options.strategy, &plan, options.threads)?;
    let wire = wire::WireCache::new(&cache, profile.wire)?;
    let build_time = started.elapsed();
    if let Some(rate) = options.rate {
        bucket::check_rate(rate, wire.largest() as u64)?;
    }
    let http = options.target.http_url(profile.http_path).map(|url| http::HttpSpec {
        url,
        method: profile.http_method,
        content_type: profile.content_type,
        content_encoding: match compression {
            Compression::None => None,
            Compression::Gzip(_) => Some("gzip"),
            Compression::Zstd(_) => Some("zstd"),
        },
        trace_headers: profile.trace_headers,
        headers: options.headers.clone(),
        max_retries: options.max_retries,
    });
    let spec = RunSpec {
        target: options.target.clone(),
        wire: Arc::new(wire),
        connections: options.connections,
        rate: options.rate,
        duration: options.duration,
        bytes: options.bytes,
        http,
    };
    Ok(Prepared { spec, cache, build_time, block_size, profile })
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

/// dogstatsd frames blocks with a length prefix on Unix streams and never on datagrams.
fn frame_for_transport(registry: &Registry, config: &FormatConfig, profile: &Profile) -> Result<FormatConfig> {
    let (Some(want), Some(dsd)) = (profile.length_prefix, config.get::<DogStatsD>()) else {
        return Ok(config.clone());
    };
    if dsd.length_prefix_framed == want {
        return Ok(config.clone());
    }
    if dsd.length_prefix_framed {
        return Err(Error::config(
            "dogstatsd.length_prefix_framed",
            true,
            "only Unix stream sockets take length-prefixed blocks; remove it for datagrams, TCP and HTTP",
        ));
    }
    let mut framed = dsd.clone();
    framed.length_prefix_framed = true;
    Ok(registry.bind(FormatConfig::new::<DogStatsD>(framed).with_compression(config.compression())))
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
            rate: None,
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
        o.rate = Some(32 << 10);
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
