//! Allocations per block for every format × block size × strategy, measured by a criterion
//! [`Measurement`] that counts allocator calls instead of time.
//!
//! ```text
//! cargo bench --bench allocations                          # the whole matrix
//! cargo bench --bench allocations -- dogstatsd/            # one format
//! ```
//!
//! Benchmark ids are `allocs/<format>/<block size>/<strategy>`, apart from the timing ids of the
//! throughput suite, so `--save-baseline` / `--baseline` compare counts with counts.
//!
//! Reading the output: criterion labels every value `time:` whatever the measurement; here the
//! value is **allocations per block** (the regression slope of allocations over iterations), and
//! `thrpt:` is **allocations per MiB emitted** (criterion lists its bounds high to low). Generators are warmed over one full cycle of
//! blocks before measuring, so `reuse-*` strategies show their steady state (0 when they allocate
//! nothing per block). Counts are exact for a given toolchain; the spread criterion reports comes
//! only from the blocks of the cycle differing from one another.
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

/// Allocation calls (`alloc` and `alloc_zeroed`; reallocations are not counted) made by the
/// measured code, read from the counting global allocator.
struct Allocations;

impl Measurement for Allocations {
    type Intermediate = Snapshot;
    type Value = u64;

    fn start(&self) -> Snapshot {
        ALLOC.snapshot()
    }

    fn end(&self, start: Snapshot) -> u64 {
        ALLOC.end(&start).allocations
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
        &AllocationFormatter
    }
}

/// Prints counts as `allocs`, and throughput as allocations per MiB (or per element) emitted.
struct AllocationFormatter;

impl ValueFormatter for AllocationFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "allocs"
    }

    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let (per, unit) = match *throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => {
                (bytes as f64 / (1024.0 * 1024.0), "allocs/MiB")
            }
            Throughput::Elements(n) => (n as f64, "allocs/elem"),
            Throughput::Bits(bits) => (bits as f64 / (8.0 * 1024.0 * 1024.0), "allocs/MiB"),
        };
        for value in values {
            *value /= per;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "allocs"
    }
}

fn allocations(c: &mut Criterion<Allocations>) {
    common::bench_matrix(c, "allocs/", |group| {
        // Linear sampling (1, 2, … n iterations per sample) gives the per-block slope exactly.
        group.sampling_mode(SamplingMode::Linear);
    });
}

criterion_group! {
    name = benches;
    // Counts need no long runs: the time settings only bound how many blocks are counted.
    config = Criterion::default()
        .with_measurement(Allocations)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500))
        .without_plots();
    targets = allocations
}
criterion_main!(benches);
