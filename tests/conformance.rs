//! Every built-in format passes the conformance kit (`payforge::testing`): strategies equal to
//! the naive block, budgets, determinism, fill, the member-length bound, zero allocations per
//! block once warm (at 64 KiB, 1 MiB and gzip at 16 KiB), setup within its estimate, and
//! arbitrary configs without a panic. Each format runs on its default config, its fixture's
//! config (`payload-fixtures/NAME/config.yaml`) and the configs that take other paths (another
//! framing, a member cap, larger msgpack headers).
//!
//! The kit counts allocations with the global counter installed here, and runs its counting
//! phases alone, so the per-format tests may run in parallel; this binary holds nothing else.
//! `PROPTEST_CASES` raises the random cases per config (24 by default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use payforge::formats::{DatadogLogs, DogStatsD, Syslog5424, TraceV04, TraceV05};
use payforge::kit::ConfRange;
use payforge::testing::Conformance;
use payforge::{Compression, Configured, FormatSpec};

#[global_allocator]
static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;

/// The config of `payload-fixtures/NAME/config.yaml`.
fn fixture<F: Configured>() -> F::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("payload-fixtures").join(F::NAME).join("config.yaml");
    FormatSpec::of::<F>().load_config(&path).unwrap().get::<F>().unwrap().clone()
}

/// The kit on the default and fixture configs, with gzip budgets in the allocation check.
fn kit<F: Configured>() -> Conformance<F> {
    Conformance::<F>::new().config("fixture", fixture::<F>()).compressed(Compression::Gzip(6), 16 << 10)
}

#[test]
fn syslog5424() {
    let report = kit::<Syslog5424>().min_fill(0.99).run_all().unwrap();
    eprintln!("{report}");
}

#[test]
fn datadog_logs() {
    let capped = payforge::formats::datadog_logs::Config { max_entries_per_array: 3, ..Default::default() };
    let report = kit::<DatadogLogs>().config("capped at 3 entries", capped).run_all().unwrap();
    eprintln!("{report}");
}

#[test]
fn dogstatsd() {
    let prefixed = payforge::formats::dogstatsd::Config { length_prefix_framed: true, ..Default::default() };
    let report = kit::<DogStatsD>().config("length-prefixed", prefixed).min_fill(0.99).run_all().unwrap();
    eprintln!("{report}");
}

#[test]
fn trace_v04() {
    // Traces of 16 spans and more take a 3-byte array header, written on another path.
    let big =
        payforge::formats::trace_v04::Config { spans_per_trace: ConfRange::inclusive(16, 40), ..Default::default() };
    let report = kit::<TraceV04>().config("16 to 40 spans", big).run_all().unwrap();
    eprintln!("{report}");
}

#[test]
fn trace_v05() {
    let report = kit::<TraceV05>().min_fill(0.99).run_all().unwrap();
    eprintln!("{report}");
}
