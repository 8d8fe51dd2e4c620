//! Throughput of every format × block size × strategy, plus a 1 MiB memcpy as the physical
//! ceiling, all in one suite so each format can be reported as a fraction of memcpy from one run.
//!
//! Each iteration generates one block, cycling over block indices `0..16` with
//! `BlockRng::for_block(seed, i)`. Throughput is the mean emitted block length of those blocks
//! (computed before timing; see `common::bench_matrix`), not the budget.
//!
//! ```text
//! cargo bench --bench throughput                                  # everything, a few minutes
//! cargo bench --bench throughput -- trace-v04/1MiB                # one group, four strategies
//! cargo bench --bench throughput -- '(64KiB|1MiB)/reuse-encode-once|memcpy'
//! ```
//!
//! Benchmark ids are `<format>/<block size>/<strategy>` and `memcpy/1MiB`; the filter is a regex.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Copies a 1 MiB buffer into another: the fastest any generator could emit 1 MiB.
fn memcpy(c: &mut Criterion) {
    const LEN: usize = 1024 * 1024;
    let src: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let mut dst = vec![0u8; LEN];
    let mut group = c.benchmark_group("memcpy");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.bench_function("1MiB", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        });
    });
    group.finish();
}

fn formats(c: &mut Criterion) {
    common::bench_matrix(c, "", |_| {});
}

criterion_group! {
    name = benches;
    config = common::quick_timing();
    targets = memcpy, formats
}
criterion_main!(benches);
