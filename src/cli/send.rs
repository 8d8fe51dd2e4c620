//! `payforge send`: build a block cache, then replay it to a receiver at a controlled rate.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::{ArgGroup, Args};

use super::parse_size_arg;
use crate::cache::{BlockSize, Shard, check_threads};
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::send::http::Header;
use crate::send::run::RunReport;
use crate::send::stats::{StopReason, Summary};
use crate::send::{self, Prepared, SendOptions, SyslogFraming, Target, Throttle, TlsOptions, lading};
use crate::strategy::StrategyChoice;

/// Arguments of `payforge send`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("stop").args(["duration", "bytes"])))]
#[command(group(ArgGroup::new("pace").args(["rate", "ramp", "block_rate"])))]
pub struct SendArgs {
    /// The payload format (with --lading-config, the generator's variant decides it).
    #[arg(value_name = "FORMAT", required_unless_present = "lading_config")]
    format: Option<String>,

    /// Where to send: tcp://host:port, tls://host:port, udp://host:port, unix:///path,
    /// unixgram:///path, http://host:port/path or https://host:port/path (without a path, the
    /// format's declared one: trace-v04 posts to /v0.4/traces), or grpc://host:port (OTLP/gRPC:
    /// the otlp-* formats' Export method, over HTTP/2 without TLS).
    #[arg(long, value_name = "URL", required_unless_present = "lading_config", value_parser = parse_target)]
    to: Option<Target>,

    /// YAML config for the format (its config alone, or a lading-style `variant:` document).
    #[arg(long, value_name = "FILE", conflicts_with = "lading_config")]
    config: Option<PathBuf>,

    /// Run a generator of a lading experiment file (tcp, udp, unix_stream, unix_datagram, http,
    /// trace_agent). Flags given on the command line override the file's values.
    #[arg(long, value_name = "FILE")]
    lading_config: Option<PathBuf>,

    /// With --lading-config: the `id` of the generator to run (default: the first).
    #[arg(long, value_name = "ID", requires = "lading_config")]
    id: Option<String>,

    /// Seed of the workload (default 0, or the lading seed folded as the README describes).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Budget of each block. Defaults: 8KiB on udp:// and unixgram:// (the agent's
    /// dogstatsd_buffer_size), 256KiB on tcp:// and unix://, 1MiB over http:// and grpc://; with a low
    /// --rate, lowered to make at least 10 blocks a second.
    #[arg(long, value_name = "SIZE", value_parser = parse_block_size)]
    block_size: Option<BlockSize>,

    /// Payload bytes per second over all connections, e.g. 10MiB or 100MB (default: as fast as
    /// the receiver takes it).
    #[arg(long, value_name = "BYTES/s", value_parser = parse_rate)]
    rate: Option<u64>,

    /// A linear ramp of payload bytes per second over all connections: FROM..TO/DURATION, e.g.
    /// 1MiB..10MiB/60s (then TO until the end), as lading's linear throttle.
    #[arg(long, value_name = "FROM..TO/D", value_parser = parse_ramp)]
    ramp: Option<Throttle>,

    /// Blocks (writes, datagrams, requests) per second over all connections, whatever their
    /// size, as lading's blocks_per_second.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    block_rate: Option<u64>,

    /// Stop after this long: 3s, 500ms, 2m, 1h (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<std::time::Duration>,

    /// Stop before the block that would take the payload past this size.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    bytes: Option<u64>,

    /// Parallel connections, each replaying the cache from its own starting point.
    #[arg(long, value_name = "N")]
    connections: Option<usize>,

    /// Most memory the format's setup may take (see `generate --max-setup-memory`).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size_arg)]
    max_setup_memory: u64,

    /// Size of the block cache built before sending: the whole logical stream (default 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    cache: Option<u64>,

    /// Send only shard I of N (0-based) of the cache's logical stream; give each of N processes
    /// --rate/N.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,

    /// syslog5424 over tcp:// or unix://: LF-terminated lines or RFC 6587 octet counting.
    #[arg(long, value_name = "lf|octet-counting", value_parser = parse_framing)]
    syslog_framing: Option<SyslogFraming>,

    /// An HTTP header to add to every request, NAME:VALUE (repeatable), e.g. DD-API-KEY:abc.
    #[arg(long = "header", value_name = "K:V", value_parser = parse_header)]
    headers: Vec<Header>,

    /// HTTP: retries of a 429, a 5xx or a transport error before a block counts as failed.
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,

    /// https:// and tls://: trust only the CA certificates of this PEM file (default: Mozilla's
    /// roots).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,

    /// https:// and tls://: check no certificate (said on stderr).
    #[arg(long)]
    insecure: bool,

    /// https:// and tls://: present this PEM certificate chain (mutual TLS; with --client-key).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    client_cert: Option<PathBuf>,

    /// https:// and tls://: the PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,

    /// Threads that build the cache (default: the available cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Compress every block for HTTP or gRPC: none, gzip[:LEVEL] or zstd[:LEVEL]; the block size
    /// then bounds the compressed body, sent with Content-Encoding (gRPC: grpc-encoding).
    #[arg(long, value_name = "CODEC", value_parser = parse_compression)]
    compression: Option<Compression>,

    /// How blocks are generated (all strategies give identical bytes).
    #[arg(long, value_name = "STRATEGY", default_value = "auto", value_parser = parse_strategy)]
    strategy: StrategyChoice,

    /// Write the final summary (and one-second windows) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,

    /// No per-second lines, even on a terminal.
    #[arg(short, long)]
    quiet: bool,
}

fn parse_target(s: &str) -> std::result::Result<Target, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_block_size(s: &str) -> std::result::Result<BlockSize, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_rate(s: &str) -> std::result::Result<u64, String> {
    send::parse_rate(s).map_err(|e| e.to_string())
}

fn parse_ramp(s: &str) -> std::result::Result<Throttle, String> {
    Throttle::parse_ramp(s).map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    send::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_shard(s: &str) -> std::result::Result<Shard, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_framing(s: &str) -> std::result::Result<SyslogFraming, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_header(s: &str) -> std::result::Result<Header, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_compression(s: &str) -> std::result::Result<Compression, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_strategy(s: &str) -> std::result::Result<StrategyChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Resolves the options from the flags, over a lading generator's values when one is given.
fn options(args: &SendArgs, registry: &Registry) -> Result<(SendOptions, Option<String>)> {
    let threads = match args.threads {
        Some(n) => check_threads(n)?,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    };
    let job = match &args.lading_config {
        Some(path) => Some(lading::load(registry, path, args.id.as_deref())?),
        None => None,
    };
    let config = match (&job, &args.format) {
        (Some(job), Some(format)) if job.config.name() != format => {
            return Err(Error::argument(
                "format",
                format.clone(),
                format!("the lading generator sends {}; drop FORMAT or make it match", job.config.name()),
            ));
        }
        (Some(job), _) => job.config.clone(),
        (None, Some(format)) => registry.config(format, args.config.as_deref())?,
        (None, None) => return Err(Error::argument("format", "", "give FORMAT or --lading-config")),
    };
    let config = match args.compression {
        Some(c) => config.with_compression(c),
        None => config,
    }
    .with_max_setup_memory(args.max_setup_memory);
    super::print_warnings(&config);
    let target = match (&args.to, &job) {
        (Some(t), _) => t.clone(),
        (None, Some(job)) => job.target.clone(),
        (None, None) => return Err(Error::argument("target URL", "", "give --to URL")),
    };
    let mut headers = job.as_ref().map(|j| j.headers.clone()).unwrap_or_default();
    headers.extend(args.headers.iter().cloned());
    let described = job.as_ref().map(|j| match &j.id {
        Some(id) => format!("lading generator `{id}` ({})", j.kind),
        None => format!("lading generator {}", j.kind),
    });
    let options = SendOptions {
        config,
        target,
        seed: args.seed.or(job.as_ref().map(|j| j.seed)).unwrap_or(0),
        block_size: args.block_size.or(job.as_ref().map(|j| BlockSize::Fixed(j.block_size))),
        throttle: match (args.rate, args.ramp, args.block_rate) {
            (Some(rate), _, _) => Throttle::Stable { bytes_per_second: rate },
            (_, Some(ramp), _) => ramp,
            (_, _, Some(n)) => Throttle::Blocks { per_second: n },
            _ => job.as_ref().map_or(Throttle::AllOut, |j| j.throttle),
        },
        duration: args.duration,
        bytes: args.bytes,
        connections: args.connections.or(job.as_ref().map(|j| j.connections)).unwrap_or(1),
        cache: args.cache.or(job.as_ref().map(|j| j.cache)).unwrap_or(send::DEFAULT_CACHE),
        shard: args.shard.unwrap_or_default(),
        syslog_framing: args.syslog_framing,
        headers,
        max_retries: args.max_retries.or(job.as_ref().and_then(|j| j.max_retries)).unwrap_or(send::DEFAULT_MAX_RETRIES),
        threads,
        strategy: args.strategy,
        tls: TlsOptions {
            ca_cert: args.ca_cert.clone(),
            insecure: args.insecure,
            client_cert: args.client_cert.clone(),
            client_key: args.client_key.clone(),
        },
    };
    Ok((options, described))
}

/// Runs the command. SIGINT and SIGTERM are caught from the start: a stop while the cache is
/// built ends at once with a summary of nothing sent; a stop while sending ends within the stop
/// grace with the run's summary.
pub fn run(args: SendArgs, registry: &Registry) -> Result<ExitCode> {
    let (options, described) = options(&args, registry)?;
    if let Some(d) = &described {
        say(&format!("running {d}"));
    }
    if options.tls.insecure {
        say(
            "warning: --insecure: the receiver's TLS certificate is not checked; anyone on the path can read and change what is sent",
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let signals = register_signals(&stop)?;
    let result = run_with_signals(&args, registry, &options, &stop);
    for id in signals {
        signal_hook::low_level::unregister(id);
    }
    result
}

fn run_with_signals(
    args: &SendArgs,
    registry: &Registry,
    options: &SendOptions,
    stop: &Arc<AtomicBool>,
) -> Result<ExitCode> {
    let build_started = Instant::now();
    let Some(prepared) = send::prepare_until(registry, options, stop)? else {
        say(&format!(
            "stopped while building the cache ({:.1} s): nothing was sent",
            build_started.elapsed().as_secs_f64()
        ));
        let summary = summary(options, None, None, build_started.elapsed().as_secs_f64());
        return report(args, &summary).map(|()| ExitCode::SUCCESS);
    };
    let spec = &prepared.spec;
    say(&format!(
        "cache: {} blocks ({} units, {}), {} bytes of {} in {} blocks (shard {}), built in {:.1} ms",
        prepared.cache.len(),
        spec.wire.len(),
        prepared.profile.wire.name(),
        prepared.cache.total_bytes(),
        options.config.name(),
        prepared.block_size,
        options.shard,
        prepared.build_time.as_secs_f64() * 1e3
    ));
    say(&format!("sending to {} over {} connection(s) {}", spec.target, spec.connections, spec.throttle));
    let live = !args.quiet && std::io::stderr().is_terminal();
    let run = send::run::run(spec, stop, |w| {
        if live {
            say(&w.line());
        }
    })?;
    let summary = summary(options, Some(&prepared), Some(run), prepared.build_time.as_secs_f64());
    report(args, &summary)?;
    let target = &summary.target;
    let why = || match (&summary.last_failure, &summary.last_error) {
        (Some(failure), Some(last)) => format!("{failure}; last error: {last}"),
        (None, Some(last)) => last.clone(),
        _ => "no error was recorded".to_string(),
    };
    if summary.stopped_by == StopReason::Error {
        return Err(Error::io("deliver to", target, std::io::Error::other(format!("the run stopped: {}", why()))));
    }
    let nothing_delivered = summary.totals.blocks_sent == 0 && summary.stopped_by != StopReason::Signal;
    if nothing_delivered && (summary.totals.errors > 0 || summary.totals.failed_blocks > 0) {
        return Err(Error::io(
            "deliver to",
            target,
            std::io::Error::other(format!("nothing was delivered ({} errors): {}", summary.totals.errors, why())),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary of a run (`None`: stopped while the cache was built).
fn summary(options: &SendOptions, prepared: Option<&Prepared>, run: Option<RunReport>, build_seconds: f64) -> Summary {
    let run = run.unwrap_or_else(|| RunReport {
        totals: Default::default(),
        statuses: Default::default(),
        grpc_statuses: Default::default(),
        last_error: None,
        windows: Vec::new(),
        latency: Default::default(),
        elapsed: Default::default(),
        stopped_by: StopReason::Signal,
    });
    let wire = prepared.map(|p| p.spec.wire.as_ref());
    Summary {
        format: options.config.name().to_string(),
        target: options.target.to_string(),
        transport: options.target.transport().to_string(),
        wire: prepared.map_or("", |p| p.profile.wire.name()).to_string(),
        compression: options.config.compression().to_string(),
        seed: options.seed,
        block_size: prepared.map(|p| p.block_size.to_string()).unwrap_or_default(),
        connections: options.connections,
        throttle: options.throttle.kind().to_string(),
        rate_bytes_per_s: options.rate(),
        cache_units: wire.map_or(0, |w| w.len()),
        cache_bytes: wire.map_or(0, |w| w.total_bytes()),
        build_seconds,
        elapsed_seconds: 0.0,
        totals: run.totals,
        bytes_per_s: 0.0,
        mib_per_s: 0.0,
        blocks_per_s: 0.0,
        wire_bytes_per_s: 0.0,
        latency: run.latency,
        http_status: run.statuses,
        grpc_status: run.grpc_statuses,
        last_failure: run.last_error.as_ref().map(|(f, _)| *f),
        last_error: run.last_error.map(|(_, e)| e),
        stopped_by: run.stopped_by,
        windows: run.windows,
    }
    .with_rates(run.elapsed)
}

/// Writes `--stats-json` (first, so a closed stderr cannot lose it) and the summary lines.
fn report(args: &SendArgs, summary: &Summary) -> Result<()> {
    if let Some(path) = &args.stats_json {
        let json = serde_json::to_string_pretty(summary)
            .map_err(|e| Error::io("write", path.display(), std::io::Error::other(e)))?;
        std::fs::write(path, json + "\n").map_err(|e| Error::io("write", path.display(), e))?;
    }
    say(summary.lines().trim_end());
    Ok(())
}

/// Writes a line on stderr; a closed stderr is not worth a panic (the summary JSON is written
/// first).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// SIGINT and SIGTERM set `stop` (the run finishes its current blocks and reports); a second one
/// while stopping ends the process at once.
fn register_signals(stop: &Arc<AtomicBool>) -> Result<Vec<signal_hook::SigId>> {
    let mut ids = Vec::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let failed = |e| Error::io("start", "a signal handler", e);
        ids.push(signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(stop)).map_err(failed)?);
        ids.push(signal_hook::flag::register(signal, Arc::clone(stop)).map_err(failed)?);
    }
    Ok(ids)
}
