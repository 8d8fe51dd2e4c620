//! The block cache: thread-count independence, sharding, cycling handles, bad
//! input, blocks whose first member cannot fit, and the CLI's `--threads` and `--shard`.
//!
//! The memory bound is checked in `cache_memory.rs`, a binary of its own, so that nothing else
//! allocates while it counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize, Producer, Shard};
use payforge::{Error, FormatConfig, Strategy, StrategyChoice};

fn plan(seed: u64, size: BlockSize, amount: Amount) -> BlockPlan {
    BlockPlan::new(seed, size, amount).unwrap()
}

fn build(config: &FormatConfig, plan: &BlockPlan, threads: usize) -> BlockCache {
    BlockCache::build(config, StrategyChoice::Auto, plan, threads).unwrap()
}

/// The blocks as (index, members, bytes).
fn contents(cache: &BlockCache) -> Vec<(u64, usize, Vec<u8>)> {
    cache.blocks().iter().map(|b| (b.index(), b.members(), b.bytes().to_vec())).collect()
}

#[test]
fn thread_count_does_not_change_the_cache() {
    let range = BlockSize::Range { min: 2048, max: 16 * 1024 };
    for kind in payforge::Registry::builtin().specs() {
        for size in [BlockSize::Fixed(8 * 1024), range] {
            let p = plan(7, size, Amount::Blocks(23));
            let config = kind.default_config();
            let one = build(&config, &p, 1);
            assert_eq!(one.len(), 23);
            for (i, block) in one.blocks().iter().enumerate() {
                assert_eq!(block.index(), i as u64);
                assert!(!block.is_empty() && block.members() >= 1);
                assert!(block.len() <= p.budget(i as u64), "{kind} block {i} over budget");
            }
            assert_eq!(one.total_bytes(), one.blocks().iter().map(|b| b.len() as u64).sum::<u64>());
            for threads in [2, 7] {
                assert_eq!(contents(&one), contents(&build(&config, &p, threads)), "{kind} {size} {threads} threads");
            }
            // Streaming in index order gives the same blocks.
            let mut streamed = Vec::new();
            Producer::new(&config, StrategyChoice::Auto, &p)
                .unwrap()
                .stream(3, |b| {
                    streamed.push((b.index, b.filled.members, b.bytes.to_vec()));
                    Ok(())
                })
                .unwrap();
            assert_eq!(contents(&one), streamed);
        }
    }
}

#[test]
fn sampled_sizes_do_not_shift_the_member_stream() {
    // Block i with a sampled budget starts with the same members as with a fixed one.
    let config = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>();
    let fixed = build(&config, &plan(3, BlockSize::Fixed(64 * 1024), Amount::Blocks(5)), 1);
    let ranged = build(&config, &plan(3, BlockSize::Range { min: 1024, max: 4096 }, Amount::Blocks(5)), 1);
    for (f, r) in fixed.blocks().iter().zip(ranged.blocks()) {
        assert!(f.bytes().starts_with(r.bytes()));
    }
}

#[test]
fn shards_union_is_the_stream_interleaved() {
    let config = payforge::FormatConfig::default_of::<payforge::formats::DatadogLogs>();
    let whole = plan(11, BlockSize::Fixed(4096), Amount::Total(40 * 4096 + 100));
    assert_eq!(whole.logical_blocks(), 40);
    let all = contents(&build(&config, &whole, 2));
    let n = 3;
    let shards: Vec<_> = (0..n)
        .map(|i| {
            let p = whole.clone().with_shard(Shard::new(i, n).unwrap()).unwrap();
            contents(&build(&config, &p, 2))
        })
        .collect();
    assert_eq!(shards.iter().map(Vec::len).collect::<Vec<_>>(), [14, 13, 13]);
    let mut interleaved = Vec::new();
    for k in 0..14 {
        interleaved.extend(shards.iter().filter_map(|s| s.get(k).cloned()));
    }
    assert_eq!(interleaved, all);
}

#[test]
fn handles_cycle_independently() {
    let config = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>();
    let cache = build(&config, &plan(1, BlockSize::Fixed(2048), Amount::Blocks(3)), 2);
    let lens: Vec<usize> = cache.blocks().iter().map(|b| b.len()).collect();
    let mut a = cache.handle();
    let mut b = a.clone();
    assert_eq!(a.peek().len(), lens[0]);
    assert_eq!(a.next_block().len(), lens[0]);
    assert_eq!(a.next_block().len(), lens[1]);
    // `b` has not moved.
    assert_eq!((a.position(), b.position()), (2, 0));
    assert_eq!(b.peek().len(), lens[0]);
    let c = a.clone();
    assert_eq!(a.next_block(), *cache.blocks()[2].bytes());
    assert_eq!(a.next_block(), *cache.blocks()[0].bytes(), "wraps around");
    assert_eq!(c.peek().index(), 2);
    let seven: Vec<_> = b.by_ref().take(7).map(|x| x.len()).collect();
    assert_eq!(seven, [0, 1, 2, 0, 1, 2, 0].map(|i| lens[i]));
    let cycled: Vec<_> = cache.cycle().take(4).map(|x| x.index()).collect();
    assert_eq!(cycled, [0, 1, 2, 0]);
}

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn bad_input_is_reported_clearly() {
    let fixed = BlockSize::Fixed(1024);
    let err = message(BlockPlan::new(0, fixed, Amount::Total(1000)));
    assert!(err.contains("total") && err.contains("1000") && err.contains("smaller than one block of 1024"), "{err}");
    let err = message(BlockPlan::new(0, BlockSize::Fixed(0), Amount::Blocks(1)));
    assert!(err.contains("block size") && err.contains("at least 1 byte"), "{err}");
    let err = message(Shard::new(3, 3));
    assert!(err.contains("shard") && err.contains("3/3") && err.contains("below the count"), "{err}");
    let err = message(Shard::new(0, 0));
    assert!(err.contains("shard") && err.contains("0/0") && err.contains("at least 1"), "{err}");
    let err = message(plan(0, fixed, Amount::Blocks(2)).with_shard(Shard::new(2, 4).unwrap()));
    assert!(err.contains("2/4") && err.contains("holds no block"), "{err}");
    let err = message(BlockPlan::new(0, fixed, Amount::Blocks(0)));
    assert!(err.contains("block count"), "{err}");
    let config = payforge::FormatConfig::default_of::<payforge::formats::Syslog5424>();
    let err = message(BlockCache::build(&config, StrategyChoice::Auto, &plan(0, fixed, Amount::Blocks(2)), 0));
    assert!(err.contains("threads") && err.contains("at least 1"), "{err}");
}

#[test]
fn a_block_whose_first_member_cannot_fit_fails_the_build() {
    for kind in payforge::Registry::builtin().specs() {
        let config = kind.default_config();
        // Below the smallest one-member block: rejected before any thread starts.
        let err = message(BlockCache::build(
            &config,
            StrategyChoice::Auto,
            &plan(0, BlockSize::Fixed(8), Amount::Blocks(4)),
            2,
        ));
        assert!(err.contains(kind.name()) && err.contains("8 bytes") && err.contains("smallest"), "{err}");

        // At the smallest one-member block, some block's first member is longer: the build fails
        // at the same (lowest) block on any thread count, and stores nothing.
        let smallest = config.build(0, Strategy::REUSE_ENCODE_ONCE).unwrap().min_block_len();
        let p = plan(0, BlockSize::Fixed(smallest), Amount::Blocks(64));
        let errors: Vec<Error> =
            [1, 3].into_iter().map(|t| BlockCache::build(&config, StrategyChoice::Auto, &p, t).unwrap_err()).collect();
        for e in &errors {
            let Error::Block { source, .. } = e else { panic!("{kind}: expected a block error, got {e}") };
            assert!(matches!(**source, Error::BudgetTooSmall { .. }), "{e}");
            let text = e.to_string();
            assert!(text.contains(kind.name()) && text.contains(&format!("{smallest} bytes")), "{text}");
            assert!(text.contains("smallest member"), "{text}");
        }
        assert_eq!(errors[0].to_string(), errors[1].to_string());
    }
}

fn payforge(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_payforge")).args(args).output().unwrap();
    assert!(out.status.success(), "payforge {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn fingerprint(extra: &[&str]) -> String {
    let mut args = vec!["generate", "datadog-logs", "--seed", "9", "--block-size", "16KiB", "--blocks", "40"];
    args.extend_from_slice(extra);
    args.push("--fingerprint");
    String::from_utf8(payforge(&args).stdout).unwrap()
}

#[test]
fn cli_output_is_identical_for_any_thread_count() {
    let one = fingerprint(&["--threads", "1"]);
    assert!(one.contains("entropy="), "{one}");
    assert_eq!(one, fingerprint(&["--threads", "3"]));
    assert_eq!(one, fingerprint(&[]));
}

fn read_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn cli_shards_split_the_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    let base = ["generate", "syslog5424", "--seed", "4", "--block-size", "8KiB", "--total", "100KiB"];
    let run = |extra: &[&str]| payforge(&[&base[..], extra].concat());
    run(&["--output-dir", whole.to_str().unwrap(), "--threads", "2"]);
    for i in 0..3 {
        let shard = format!("{i}/3");
        run(&["--output-dir", sharded.to_str().unwrap(), "--shard", &shard, "--threads", "2"]);
    }
    let all = read_dir(&whole);
    assert_eq!(all.len(), 12);
    assert_eq!(all, read_dir(&sharded));

    // A shard to one stream is its blocks i, i + n, … concatenated.
    let out = tmp.path().join("shard1.bin");
    run(&["--shard", "1/3", "-o", out.to_str().unwrap()]);
    let expected: Vec<u8> = all.iter().skip(1).step_by(3).flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(std::fs::read(&out).unwrap(), expected);

    for (args, needle) in [
        (&["--threads", "0"][..], "threads"),
        (&["--shard", "3/3"][..], "below the count"),
        (&["--shard", "0/0"][..], "at least 1"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_payforge")).args([&base[..], args].concat()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{args:?}: {err}");
    }
}

/// A format that panics while generating: a bug in a format must surface as an error of its own
/// from any worker, on any thread count, for a cache build and a stream alike.
#[derive(Debug)]
struct Panics;

impl payforge::Format for Panics {
    type Member = ();
    fn name(&self) -> &'static str {
        "panics"
    }
    fn framing(&self) -> payforge::Framing {
        payforge::Framing::Lines
    }
    fn min_member_len(&self) -> usize {
        0
    }
    fn generate(&self, _: &mut payforge::BlockRng) {
        panic!("generate exploded");
    }
    fn encode(&self, (): &(), _: &mut Vec<u8>) {}
}

impl payforge::Configured for Panics {
    const NAME: &'static str = "panics";
    type Config = ();
    fn from_config((): &(), _: u64) -> payforge::Result<Self> {
        Ok(Panics)
    }
    fn estimate_setup((): &(), _: &mut payforge::SetupMemory) -> payforge::Result<()> {
        Ok(())
    }
}

#[test]
fn a_worker_panic_is_its_own_error() {
    let config = FormatConfig::new::<Panics>(());
    let p = plan(0, BlockSize::Fixed(1024), Amount::Blocks(8));
    for threads in [1, 2] {
        let strategy = StrategyChoice::Fixed(Strategy::REUSE_ENCODE_ONCE);
        let err = BlockCache::build(&config, strategy, &p, threads).unwrap_err();
        assert!(matches!(err, Error::WorkerPanicked { .. }), "{threads} threads: {err}");
        assert_eq!(err.kind(), payforge::ErrorKind::Internal);
        assert!(err.to_string().contains("worker thread panicked: generate exploded"), "{err}");
        assert!(!err.to_string().contains("invalid threads"), "{err}");
        let err = Producer::new(&config, strategy, &p).unwrap().stream(threads, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("worker thread panicked: generate exploded"), "stream, {threads}: {err}");
    }
}
