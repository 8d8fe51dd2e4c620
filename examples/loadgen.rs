//! A minimal load generator: build a block cache, then replay it over TCP at a fixed rate.
//!
//! It starts its own listener on 127.0.0.1 (an ephemeral port) that reads and counts what
//! arrives, sends blocks to it at `--rate` bytes per second for `--seconds`, and prints the bytes
//! sent and received. Only loopback is used.
//!
//! ```text
//! cargo run --release --example loadgen -- --seconds 2 --rate 16MiB --format datadog-logs
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize, Shard};
use payforge::{Registry, StrategyChoice};

/// Parses `--seconds`: a finite duration above 0 and at most an hour.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?} is not a duration between 0 and 3600 seconds")),
    }
}

/// Replays a payforge block cache to a local TCP listener at a fixed rate.
#[derive(Debug, Parser)]
struct Args {
    /// Payload format.
    #[arg(long, default_value = "syslog5424")]
    format: String,
    /// How long to send, in seconds (above 0, at most an hour).
    #[arg(long, default_value_t = 2.0, value_parser = seconds)]
    seconds: f64,
    /// Bytes per second to send (e.g. 8MiB).
    #[arg(long, default_value = "8MiB", value_parser = size)]
    rate: u64,
    /// Block size (fixed, or a range such as 16KiB..64KiB).
    #[arg(long, default_value = "64KiB")]
    block_size: BlockSize,
    /// Size of the cache (the whole logical stream).
    #[arg(long, default_value = "4MiB", value_parser = size)]
    cache: u64,
    /// This process's shard of the workload, I/N.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Threads used to build the cache.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the workload.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn size(s: &str) -> Result<u64, String> {
    payforge::parse_size("size", s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // 1. Build the cache once, on several threads. Same seed and plan: same bytes, anywhere.
    let plan = BlockPlan::new(args.seed, args.block_size, Amount::Total(args.cache))?.with_shard(args.shard)?;
    let started = Instant::now();
    let cache = BlockCache::build(
        &Registry::builtin().default_config(&args.format)?,
        StrategyChoice::Auto,
        &plan,
        args.threads,
    )?;
    println!(
        "cache: {} blocks, {} bytes of {} (shard {}), built in {:.1} ms",
        cache.len(),
        cache.total_bytes(),
        cache.format_name(),
        plan.shard(),
        started.elapsed().as_secs_f64() * 1e3
    );

    // 2. A listener that counts what it receives until the sender hangs up.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut received = 0u64;
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(received),
                n => received += n as u64,
            }
        }
    });

    // 3. Send at a fixed rate: block k goes out once the bytes before it are due.
    let mut stream = TcpStream::connect(addr)?;
    let mut handle = cache.handle(); // one per sending thread; clones keep their own positions
    let (duration, rate) = (Duration::from_secs_f64(args.seconds), args.rate.max(1) as f64);
    let (mut sent, mut blocks) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        if due >= start + duration {
            break;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let block = handle.next_block(); // reference-counted, no copy
        stream.write_all(&block)?;
        sent += block.len() as u64;
        blocks += 1;
    }
    drop(stream);
    let received = receiver.join().map_err(|_| "receiver thread failed")??;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent: {sent} bytes in {blocks} blocks over {secs:.2} s ({:.2} MiB/s, target {:.2} MiB/s)",
        sent as f64 / secs / f64::from(1 << 20),
        rate / f64::from(1 << 20)
    );
    println!("received: {received} bytes");
    if received != sent {
        return Err(format!("sent {sent} bytes but received {received}").into());
    }
    Ok(())
}
