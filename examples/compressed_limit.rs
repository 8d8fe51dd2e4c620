//! Compressed blocks against their single-pass limit, per format × codec × budget.
//!
//! For each cell it builds blocks the way a user would (`--strategy auto`, one thread) and times
//! them: emitted (compressed) MiB/s, fill and amplification (bytes through the compressor per byte
//! emitted). The *limit* regenerates each block's uncompressed members (the uncompressed block
//! whose budget is the decompressed length holds exactly the same members) and compresses that
//! prefix once, one-shot, with the same codec and level: the time a single pass would take.
//!
//! ```text
//! cargo run --release --example compressed_limit -- [BLOCKS_64KIB] [REPS] [FORMAT...]
//! ```
//!
//! `vs one-shot` is the blocks' total size over the one-shot compression of the same uncompressed
//! blocks, minus one: what the block's definition costs in compression ratio.
//!
//! ```text
//! cargo run --release --example compressed_limit -- ratio [MIB] [FORMAT...]
//! ```
//!
//! The ratio mode measures only that, on at least `MIB` (default 16) MiB of uncompressed content
//! per cell: blocks 0, 1, 2, ... of seed 0 until their decompressed lengths reach it, each block
//! decompressed and compressed again one-shot with the same codec and level. It is deterministic.
//!
//! The same source builds against old and new payforge, so one run can compare both binaries.

use std::time::Instant;

use payforge::{BlockRng, Compression, Compressor, Registry, Selection};

fn main() -> payforge::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "ratio") {
        return ratio_mode(&args[1..]);
    }
    let blocks_64k: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(64);
    let reps: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let formats: Vec<String> = if args.len() > 2 { args[2..].to_vec() } else { FORMATS.map(String::from).to_vec() };
    println!(
        "| format | codec | budget | strategy | emitted MiB/s | limit MiB/s | emitted/limit | amplification | fill | vs one-shot | blocks |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for name in &formats {
        for compression in [Compression::Gzip(6), Compression::Zstd(3)] {
            for budget in [64usize << 10, 1 << 20] {
                // The same volume of output per cell: 1 MiB blocks are 16 times fewer.
                let blocks = if budget == 1 << 20 { (blocks_64k / 16).max(2) } else { blocks_64k };
                cell(name, compression, budget, blocks, reps)?;
            }
        }
    }
    Ok(())
}

const FORMATS: [&str; 4] = ["syslog5424", "dogstatsd", "trace-v04", "datadog-logs"];

fn ratio_mode(args: &[String]) -> payforge::Result<()> {
    let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(16);
    let formats: Vec<String> = if args.len() > 1 { args[1..].to_vec() } else { FORMATS.map(String::from).to_vec() };
    println!("| format | codec | budget | blocks | uncompressed MiB | blocks' bytes | one-shot bytes | vs one-shot |");
    println!("|---|---|---|---|---|---|---|---|");
    let registry = Registry::builtin();
    for name in &formats {
        for compression in [Compression::Gzip(6), Compression::Zstd(3)] {
            for budget in [64usize << 10, 1 << 20] {
                let strategy = Selection::embedded().resolve(name, compression, budget as u64);
                let config = registry.default_config(name)?;
                let mut source = config.with_compression(compression).build(0, strategy)?;
                let mut compressor = Compressor::new(compression)?;
                let (mut out, mut again) = (Vec::new(), Vec::new());
                let (mut raw, mut packed, mut one_shot, mut blocks) = (0usize, 0usize, 0usize, 0u64);
                while raw < mib << 20 {
                    out.clear();
                    let filled = source.fill(&mut BlockRng::for_block(0, blocks), budget, &mut out)?;
                    let plain = compression.decompress(&out)?;
                    raw += plain.len();
                    packed += filled.bytes;
                    one_shot += compressor.compress(&plain, &mut again)?;
                    blocks += 1;
                }
                println!(
                    "| {name} | {compression} | {} KiB | {blocks} | {:.2} | {packed} | {one_shot} | {:+.3}% |",
                    budget >> 10,
                    raw as f64 / f64::from(1 << 20),
                    100.0 * (packed as f64 / one_shot as f64 - 1.0),
                );
            }
        }
    }
    Ok(())
}

fn cell(name: &str, compression: Compression, budget: usize, blocks: u64, reps: usize) -> payforge::Result<()> {
    let registry = Registry::builtin();
    let strategy = Selection::embedded().resolve(name, compression, budget as u64);
    let config = registry.default_config(name)?;
    let mut packed_source = config.clone().with_compression(compression).build(0, strategy)?;
    let mut plain_source = config.build(0, strategy)?;
    let mut compressor = Compressor::new(compression)?;
    let (mut out, mut raw, mut again) = (Vec::new(), Vec::new(), Vec::new());
    let (mut emitted_rates, mut limit_rates) = (Vec::new(), Vec::new());
    let (mut bytes, mut encoded, mut fill_sum, mut one_shot) = (0usize, 0usize, 0f64, 0usize);
    for rep in 0..reps {
        // Emitted: the blocks as payforge builds them.
        let mut lens = Vec::with_capacity(blocks as usize);
        let t0 = Instant::now();
        let mut total = 0usize;
        for i in 0..blocks {
            out.clear();
            let filled = packed_source.fill(&mut BlockRng::for_block(0, i), budget, &mut out)?;
            total += filled.bytes;
            if rep == 0 {
                bytes += filled.bytes;
                encoded += filled.encoded;
                fill_sum += filled.bytes as f64 / budget as f64;
            }
            lens.push(compression.decompress(&out)?.len());
        }
        let secs = t0.elapsed().as_secs_f64();
        // The decompression above is not payforge's work: time it alone and take it out.
        let t1 = Instant::now();
        for i in 0..blocks {
            out.clear();
            packed_source.fill(&mut BlockRng::for_block(0, i), budget, &mut out)?;
        }
        let secs = secs.min(t1.elapsed().as_secs_f64());
        emitted_rates.push(total as f64 / secs / f64::from(1 << 20));
        // Limit: generate the same uncompressed prefixes, compress each once.
        let t2 = Instant::now();
        let mut limit_total = 0usize;
        for (i, &len) in lens.iter().enumerate() {
            raw.clear();
            plain_source.fill(&mut BlockRng::for_block(0, i as u64), len, &mut raw)?;
            limit_total += compressor.compress(&raw, &mut again)?;
        }
        one_shot = limit_total;
        limit_rates.push(limit_total as f64 / t2.elapsed().as_secs_f64() / f64::from(1 << 20));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (emitted, limit) = (median(&mut emitted_rates), median(&mut limit_rates));
    println!(
        "| {name} | {compression} | {} KiB | {strategy} | {emitted:.2} | {limit:.2} | {:.2} | {:.2} | {:.4} | {:+.2}% | {blocks} |",
        budget >> 10,
        emitted / limit,
        encoded as f64 / bytes as f64,
        fill_sum / blocks as f64,
        100.0 * (bytes as f64 / one_shot as f64 - 1.0),
    );
    Ok(())
}
