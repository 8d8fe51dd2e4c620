//! Setup memory is estimated from the config before anything is allocated: the two hostile
//! configs of issue 13 are config errors naming the keys that drive them (and allocate nothing),
//! and a raised ceiling lets a large config through. (That the estimate bounds what setup
//! really allocates is checked for every built-in format by the conformance kit,
//! `tests/conformance.rs`.)
//!
//! One test in its own binary: the counting allocator sees the whole process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use payforge::measure::CountingAlloc;
use payforge::{DEFAULT_MAX_SETUP_MEMORY, Error, ErrorKind, FormatConfig, Registry, Strategy};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

fn parse(format: &str, yaml: &str) -> FormatConfig {
    Registry::builtin().parse_config(format, yaml, Path::new("hostile.yaml")).unwrap()
}

/// Builds `config` and returns the error and the peak live bytes the attempt took.
fn failed_build(config: &FormatConfig) -> (Error, u64) {
    let start = A.begin();
    let err = config.build(0, Strategy::REUSE_ENCODE_ONCE).err().expect("the build must fail");
    (err, A.end(&start).peak_live_bytes)
}

/// issue 13: explicit `metric_names` were not counted, so this passed the old 2 GiB check and
/// then took 4 GB of resident memory.
fn dogstatsd_hostile(contexts: u64) -> String {
    format!(
        "contexts: {{constant: {contexts}}}\nname_length: {{constant: 1}}\ntags_per_msg: {{constant: 0}}\n\
         metric_names: [{}]\n",
        "m".repeat(4096)
    )
}

/// issue 13: `contexts × head_len` was reserved at once, about 4 GB.
const TRACE_HOSTILE: &str = "contexts: {constant: 1000000}\nservice_name_length: {constant: 100}\n\
    operation_name_length: {constant: 100}\nresource_name_length: {constant: 3900}\nspan_type_length: {constant: 100}\n";

#[test]
fn setup_memory_is_bounded_before_anything_is_allocated() {
    // DogStatsD: one 4 KiB metric name in a million contexts.
    let config = parse("dogstatsd", &dogstatsd_hostile(1_000_000));
    let estimate = config.setup_memory().unwrap().total();
    assert!(estimate > 4_096_000_000, "the explicit names count: {estimate}");
    let (err, peak) = failed_build(&config);
    let msg = err.to_string();
    eprintln!("dogstatsd hostile: {msg}");
    assert!(matches!(err, Error::SetupMemory { .. }) && err.kind() == ErrorKind::Config, "{msg}");
    for needle in [
        "dogstatsd setup needs up to",
        "ceiling of 1073741824 bytes (1GiB)",
        "metric contexts",
        "`dogstatsd.contexts` = {constant: 1000000}",
        "`dogstatsd.metric_names` = [1 entry, the longest 4096 bytes]",
        "--max-setup-memory",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing: {msg}");
    }
    assert!(peak < 1 << 20, "a rejected config allocated {peak} bytes");

    // Twice the contexts: past what the arena's u32 offsets address, whatever the ceiling.
    let config = parse("dogstatsd", &dogstatsd_hostile(2_000_000)).with_max_setup_memory(64 << 30);
    let (err, peak) = failed_build(&config);
    let msg = err.to_string();
    eprintln!("dogstatsd hostile x2, 64 GiB ceiling: {msg}");
    assert_eq!(err.kind(), ErrorKind::Config, "{msg}");
    assert!(msg.contains("`dogstatsd.contexts` = {constant: 2000000}") && msg.contains("u32 offsets"), "{msg}");
    assert!(msg.contains("`dogstatsd.metric_names`"), "{msg}");
    assert!(peak < 1 << 20, "a rejected config allocated {peak} bytes");

    // trace-v04: a million contexts with 3900-byte resources.
    let config = parse("trace-v04", TRACE_HOSTILE);
    let (err, peak) = failed_build(&config);
    let msg = err.to_string();
    eprintln!("trace-v04 hostile: {msg}");
    assert!(matches!(err, Error::SetupMemory { .. }), "{msg}");
    for needle in ["trace-v04 setup needs up to", "span contexts", "`trace_v04.contexts` = {constant: 1000000}"] {
        assert!(msg.contains(needle), "{needle:?} missing: {msg}");
    }
    assert!(msg.contains("`trace_v04.resource_name_length` = {constant: 3900}"), "{msg}");
    assert!(peak < 1 << 20, "a rejected config allocated {peak} bytes");

    // The ceiling is a setting: a config of about 40 MB fails under a 16 MiB ceiling and builds
    // under the default, within its estimate.
    let medium = "contexts: {constant: 10000}\nname_length: {constant: 1}\ntags_per_msg: {constant: 0}\n\
                  metric_names: [m1, m2]\nservice_check_names: {constant: 1}\n";
    let config = parse("dogstatsd", medium);
    let tight = config.clone().with_max_setup_memory(16 << 10);
    assert!(matches!(failed_build(&tight).0, Error::SetupMemory { ceiling: 16384, .. }));
    assert_eq!(config.max_setup_memory(), DEFAULT_MAX_SETUP_MEMORY);
    // That the estimate bounds what setup allocates, for every built-in format's defaults and
    // fixture config, is the conformance kit's check (`tests/conformance.rs`).
}

/// The fuzz campaign's otlp-metrics case: many values per attribute key, so the attribute table
/// is large; setup took 193 KB more than its estimate.
#[test]
fn otlp_metrics_setup_stays_within_its_estimate_with_many_attribute_values() {
    let mut worst = Vec::new();
    for (values, per_metric) in [(4096, 4), (4096, 40), (2048, 4), (64, 4), (1, 0)] {
        let yaml =
            format!("attribute_values: {values}\ncontexts:\n  attributes_per_metric: {{constant: {per_metric}}}\n");
        let config = parse("otlp-metrics", &yaml);
        let estimate = config.setup_memory().unwrap();
        let start = A.begin();
        let built = config.build(7, Strategy::REUSE_ENCODE_ONCE);
        let peak = A.end(&start).peak_live_bytes;
        built.unwrap();
        eprintln!("values {values} per_metric {per_metric}: peak {peak}, estimate {}", estimate.total());
        worst.push((peak, estimate.total(), estimate.to_string()));
    }
    for (peak, total, estimate) in worst {
        assert!(peak <= total, "setup took {peak} B, above its estimate {estimate}");
    }
    // Under a low ceiling the same config is refused, naming the keys that drive the attributes.
    let config = parse("otlp-metrics", "attribute_values: 4096\n").with_max_setup_memory(1 << 20);
    let (err, peak) = failed_build(&config);
    let msg = err.to_string();
    for needle in ["`otlp_metrics.contexts.attributes_per_metric`", "`otlp_metrics.attribute_values` = 4096"] {
        assert!(msg.contains(needle), "{needle:?} missing: {msg}");
    }
    assert!(peak < 1 << 20, "a rejected config allocated {peak} bytes");
}
