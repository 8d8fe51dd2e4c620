//! Generator construction per format: pools, contexts and tables built from the config and seed,
//! with the default config and with the example config from `payload-fixtures/` (when the format
//! has one).
//!
//! ```text
//! cargo bench --bench setup
//! cargo bench --bench setup -- setup/dogstatsd/default
//! ```
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use payforge::{FormatConfig, Strategy};

fn setup(c: &mut Criterion) {
    for &kind in payforge::Registry::builtin().specs() {
        let mut group = c.benchmark_group(format!("setup/{kind}"));
        let configs: [(&str, Option<FormatConfig>); 2] =
            [("default", Some(kind.default_config())), ("example", common::example_config(kind))];
        for (name, config) in configs {
            let Some(config) = config else {
                eprintln!("note: {kind} has no example config; skipping setup/{kind}/example");
                continue;
            };
            // Construction does not depend on the strategy; the generator is dropped outside the
            // timed region.
            group.bench_function(name, |b| {
                b.iter_with_large_drop(|| common::build(&config, Strategy::REUSE_ENCODE_ONCE))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::quick_timing();
    targets = setup
}
criterion_main!(benches);
