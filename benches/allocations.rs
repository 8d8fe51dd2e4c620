//! Allocations and reallocations per block for every format × block size × strategy, measured
//! by criterion [`Measurement`]s that count allocator calls instead of time: both counts, as
//! `payforge check` records them (a `Vec` that grows in place or moves is a reallocation, not an
//! allocation, and costs as much).
//!
//! ```text
//! cargo bench --bench allocations                          # the whole matrix, both counts
//! cargo bench --bench allocations -- dogstatsd/            # one format
//! cargo bench --bench allocations -- '^reallocs/'          # reallocations only
//! ```
//!
//! Benchmark ids are `allocs/<format>/<block size>/<strategy>` (allocations) and
//! `reallocs/<format>/<block size>/<strategy>` (reallocations), apart from the timing ids of the
//! throughput suite, so `--save-baseline` / `--baseline` compare counts with counts.
//!
//! Reading the output: criterion labels every value `time:` whatever the measurement; here the
//! value is **allocations (or reallocations) per block** (the regression slope of the count over
//! iterations), and `thrpt:` is **per MiB emitted** (criterion lists its bounds high to low).
//! Generators are warmed over one full cycle of blocks before measuring, so `reuse-*` strategies
//! show their steady state (0 when they allocate nothing per block). Counts are exact for a given
//! toolchain; the spread criterion reports comes only from the blocks of the cycle differing from
//! one another.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use payforge::measure::{CountingAlloc, Snapshot};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::system();

/// Criterion drops a benchmark with an error if any sample measures exactly 0, which is the
/// expected result for a `reuse` strategy. Each *sample* (not each iteration) therefore reports
/// this much more than it counted. Criterion fits the slope through the origin over samples of
/// 1, 2, … n iterations, so the offset adds at most 3 / (2n + 1) × 1e-6 allocations per block,
/// far below the four decimals criterion prints.
const ZERO_OFFSET: f64 = 1e-6;

/// What a [`Counts`] measurement counts.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `alloc` and `alloc_zeroed` calls.
    Allocations,
    /// `realloc` calls.
    Reallocations,
}

/// Allocator calls of one [`Kind`] made by the measured code, read from the counting global
/// allocator.
struct Counts(Kind);

impl Measurement for Counts {
    type Intermediate = Snapshot;
    type Value = u64;

    fn start(&self) -> Snapshot {
        ALLOC.snapshot()
    }

    fn end(&self, start: Snapshot) -> u64 {
        let stats = ALLOC.end(&start);
        match self.0 {
            Kind::Allocations => stats.allocations,
            Kind::Reallocations => stats.reallocations,
        }
    }

    fn add(&self, v1: &u64, v2: &u64) -> u64 {
        v1 + v2
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64 + ZERO_OFFSET
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        match self.0 {
            Kind::Allocations => &AllocationFormatter("allocs"),
            Kind::Reallocations => &AllocationFormatter("reallocs"),
        }
    }
}

/// Prints counts in its unit (`allocs`, `reallocs`), and throughput per MiB (or per element)
/// emitted.
struct AllocationFormatter(&'static str);

impl ValueFormatter for AllocationFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        self.0
    }

    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let (per_mib, per_elem) =
            if self.0 == "reallocs" { ("reallocs/MiB", "reallocs/elem") } else { ("allocs/MiB", "allocs/elem") };
        let (per, unit) = match *throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => (bytes as f64 / (1024.0 * 1024.0), per_mib),
            Throughput::Elements(n) => (n as f64, per_elem),
            Throughput::Bits(bits) => (bits as f64 / (8.0 * 1024.0 * 1024.0), per_mib),
        };
        for value in values {
            *value /= per;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        self.0
    }
}

fn allocations(c: &mut Criterion<Counts>) {
    common::bench_matrix(c, "allocs/", |group| {
        // Linear sampling (1, 2, … n iterations per sample) gives the per-block slope exactly.
        group.sampling_mode(SamplingMode::Linear);
    });
}

fn reallocations(c: &mut Criterion<Counts>) {
    common::bench_matrix(c, "reallocs/", |group| {
        group.sampling_mode(SamplingMode::Linear);
    });
}

/// Counts need no long runs: the time settings only bound how many blocks are counted.
fn counting(kind: Kind) -> Criterion<Counts> {
    Criterion::default()
        .with_measurement(Counts(kind))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500))
        .without_plots()
}

criterion_group! {
    name = allocs;
    config = counting(Kind::Allocations);
    targets = allocations
}
criterion_group! {
    name = reallocs;
    config = counting(Kind::Reallocations);
    targets = reallocations
}
criterion_main!(allocs, reallocs);
