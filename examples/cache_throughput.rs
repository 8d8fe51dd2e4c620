//! Cache build throughput on 1 and 2 threads in the same run, and peak memory against the bound
//! `T + threads × (2 × block size) + generator state`.
//!
//! ```text
//! cargo run --release --example cache_throughput -- [TOTAL_MIB] [REPS]
//! ```

use std::time::Instant;

use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize};
use payforge::measure::CountingAlloc;
use payforge::{BlockRng, Strategy, StrategyChoice};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

/// Thread handles, channels and other small bookkeeping outside the formula.
const SMALL_OVERHEAD: u64 = 64 * 1024;

fn main() -> payforge::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let total_mib = args.next().flatten().unwrap_or(256);
    let reps = args.next().flatten().unwrap_or(3);
    let block = 1 << 20;
    let strategy = Strategy::REUSE_ENCODE_ONCE;
    for kind in payforge::Registry::builtin().specs() {
        let config = kind.default_config();
        let plan = BlockPlan::new(0, BlockSize::Fixed(block), Amount::Total(total_mib << 20))?;
        // Generator state: the pools (built once, shared by every thread) plus, per thread, what
        // the working buffers hold beyond one block in the steady state (reuse headroom).
        let mut out = Vec::with_capacity(block);
        let start = A.begin();
        let mut source = config.build(0, strategy)?;
        let pools = A.end(&start).peak_live_bytes;
        for i in 0..32 {
            out.clear();
            source.fill(&mut BlockRng::for_block(0, i), block, &mut out)?;
        }
        let headroom = (A.end(&start).peak_live_bytes - pools).saturating_sub(block as u64);
        drop(source);
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..reps {
            for threads in [1usize, 2] {
                let start = A.begin();
                let cpu0 = cpu_seconds();
                let t0 = Instant::now();
                let cache = BlockCache::build(&config, StrategyChoice::Fixed(strategy), &plan, threads)?;
                let secs = t0.elapsed().as_secs_f64();
                let (user, sys) = cpu_seconds();
                let (user, sys) = (user - cpu0.0, sys - cpu0.1);
                let mem = A.end(&start);
                let t = cache.total_bytes();
                let bound = t
                    + (cache.len() * BlockCache::OVERHEAD_PER_BLOCK) as u64
                    + threads as u64 * (2 * block as u64 + headroom)
                    + pools
                    + SMALL_OVERHEAD;
                times[threads - 1].push(t as f64 / secs / f64::from(1 << 30));
                println!(
                    "{kind} threads={threads}: {:.2} GiB/s wall {secs:.3} s cpu user {user:.2} s sys {sys:.2} s, \
                     T={t} peak={} bound={bound} peak-T={}",
                    t as f64 / secs / f64::from(1 << 30),
                    mem.peak_live_bytes,
                    mem.peak_live_bytes - t
                );
            }
        }
        // REPS=0 measures nothing: there is no median to print.
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        match (median(&mut times[0]), median(&mut times[1])) {
            (Some(one), Some(two)) => {
                println!("{kind}: median 1 thread {one:.2} GiB/s, 2 threads {two:.2} GiB/s, ratio {:.2}x", two / one);
            }
            _ => println!("{kind}: no repetitions, nothing measured"),
        }
    }
    Ok(())
}

/// Process CPU time (user, system) in seconds from /proc/self/stat (all threads, 10 ms ticks).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}
