//! The fuzz campaign: every registered format over arbitrary config documents × budgets from 0
//! to 1 GiB × strategies, the command line's size, block-size range and shard parsers, and
//! `send`'s inputs: lading experiment files (generators with hostile sizes, seeds, throttles,
//! URLs and headers), lading sizes, durations, rates, ramps, target URLs and header flags.
//!
//! Property: a config either fails with a clear error (it names the file, or the field in
//! backticks, or the format and the budget), or builds within its setup-memory estimate and under
//! the ceiling, and then every `Ok` block is within its budget and accepted by the format's own
//! strict test grammar (`tests/grammar/`). Never a panic, an abort, a hang (a watchdog aborts a
//! case that runs longer than `FUZZ_CASE_TIMEOUT` seconds) or setup memory over the ceiling.
//!
//! Config documents start from the format's default config (so the keys are real ones, and a
//! format registered later joins automatically) and get random mutations: numbers replaced by
//! huge, negative, NaN, infinite and out-of-range ones, ranges inverted or malformed, strings
//! and long lists of hostile strings, unknown keys, wrong types, lading `variant:` wrappers
//! (right, wrong and nested), and truncated text.
//!
//! A short run is part of `cargo test` (`FUZZ_CASES`, default 96 per format, and budgets up to
//! `FUZZ_MAX_BUDGET`, default 4MiB). A long campaign on a 2-core machine (about 40 minutes for
//! five formats; 1000 cases per format at budgets up to 1 GiB took 32 minutes for four):
//!
//! ```text
//! FUZZ_CASES=1000 FUZZ_MAX_BUDGET=1GiB FUZZ_REPORT=target/fuzz-report.txt \
//!     cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! It prints (and writes to `FUZZ_REPORT`) the cases run, how each ended, and every distinct
//! error message (numbers replaced by `#`).
//!
//! One test in its own binary: the counting allocator that measures setup sees the whole
//! process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod grammar;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payforge::cache::{BlockSize, Shard};
use payforge::measure::CountingAlloc;
use payforge::{BlockRng, ErrorKind, FormatSpec, Registry, Strategy as Buffers, StrategyChoice};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_norway::{Mapping, Number, Value};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

/// Fixed allocations of a build besides the format's own (the generator's box and shared
/// handle, the config's clone): what the setup estimates leave out.
const BUILD_SLACK: u64 = 16 * 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => payforge::parse_size("env", &v).unwrap_or_else(|e| panic!("{name}: {e}")),
        Err(_) => default,
    }
}

/// Settings of one run.
#[derive(Debug, Clone, Copy)]
struct Settings {
    cases: u32,
    max_budget: usize,
    ceiling: u64,
    timeout: Duration,
}

impl Settings {
    fn from_env() -> Self {
        Settings {
            cases: env_u64("FUZZ_CASES", 96) as u32,
            max_budget: env_u64("FUZZ_MAX_BUDGET", 4 << 20).min(payforge::MAX_BUDGET as u64) as usize,
            ceiling: env_u64("FUZZ_CEILING", 64 << 20),
            timeout: Duration::from_secs(env_u64("FUZZ_CASE_TIMEOUT", 120)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

/// Pieces of hostile strings: the separators of every format, escapes, control characters,
/// non-ASCII text and prefixes that mean something else in DogStatsD.
const TOKENS: &[&str] = &[
    "_e{", "_sc|", "|", ":", ",", "#", "@", "\"", "\\", "]", "[", "{", "}", "=", "\n", "\r", "\t", " ", "é", "☃",
    "\u{1}", "\u{7f}", "-", ".", "_", "x", "abc", "0", "9", "%", "'", "&", "*", "!",
];

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_.]{0,12}",
        3 => proptest::collection::vec(proptest::sample::select(TOKENS), 1..8).prop_map(|t| t.concat()),
        2 => "\\PC{0,24}",
        1 => (1usize..6000).prop_map(|n| "m".repeat(n)),
        1 => Just(String::new()),
    ]
}

/// One random change to a config document.
#[derive(Debug, Clone)]
struct Mutation {
    /// Which key at each nesting level (modulo the keys there).
    path: Vec<u32>,
    /// What to put there.
    kind: u8,
    /// Numbers for it: an index into the hostile numbers, and raw bits.
    numbers: Vec<(u8, u64)>,
    strings: Vec<String>,
    /// Length of a long list.
    list_len: u16,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        proptest::collection::vec(any::<u32>(), 1..3),
        any::<u8>(),
        proptest::collection::vec((any::<u8>(), any::<u64>()), 2..4),
        proptest::collection::vec(hostile_string(), 0..6),
        prop_oneof![8 => 0u16..4, 1 => 4u16..400],
    )
        .prop_map(|(path, kind, numbers, strings, list_len)| Mutation { path, kind, numbers, strings, list_len })
}

/// A config document: mutations of the defaults, how it is wrapped, and where its text is cut.
#[derive(Debug, Clone)]
struct Document {
    mutations: Vec<Mutation>,
    wrap: u8,
    cut: Option<u16>,
}

fn document() -> impl Strategy<Value = Document> {
    (
        proptest::collection::vec(mutation(), 0..5),
        prop_oneof![6 => Just(0u8), 3 => Just(1u8), 1 => 2u8..6],
        prop_oneof![12 => Just(None), 1 => any::<u16>().prop_map(Some)],
    )
        .prop_map(|(mutations, wrap, cut)| Document { mutations, wrap, cut })
}

/// Budgets over 0..=1 GiB (capped by the run's `max_budget`), mostly small, with the edges and
/// the first values past the largest block.
fn budget(max: usize) -> impl Strategy<Value = usize> {
    let max = max.max(1);
    prop_oneof![
        6 => 0usize..4096.min(max),
        4 => 4096.min(max)..=(256 << 10).min(max),
        2 => (256usize << 10).min(max)..=max,
        1 => prop_oneof![Just(0usize), Just(1), Just(max), Just(payforge::MAX_BUDGET + 1), Just(usize::MAX)],
    ]
}

/// A number: mostly a non-negative integer a `u64` field takes (edges, huge counts, random
/// ones), sometimes a negative, fractional, non-finite or out-of-range one.
fn number(index: u8, raw: u64) -> Value {
    let n = |x: i64| Value::Number(Number::from(x));
    let u = |x: u64| Value::Number(Number::from(x));
    let f = |x: f64| Value::Number(Number::from(x));
    match index % 40 {
        0 | 1 => u(0),
        2 | 3 => u(1),
        4 => u(2),
        5 => u(3),
        6 => u(8),
        7 => u(255),
        8 => u(256),
        9 => u(1_000),
        10 => u(4_096),
        11 => u(5_000),
        12 => u(65_535),
        13 => u(65_536),
        14 => u(100_000),
        15 => u(1_000_000),
        16 => u(10_000_000),
        17 => u(u64::from(u32::MAX)),
        18 => u(u64::from(u32::MAX) + 1),
        19 => u(1_700_000_000),
        20 => u(1_700_000_000_000),
        21..=24 => u(raw % 100),
        25 | 26 => u(raw % 1_000),
        27 => u(raw % (1 << 20)),
        28 => u(raw),
        29 => u(u64::MAX),
        30 => n(-1),
        31 => n(i64::MIN),
        32 => n(i64::MAX),
        33 => n(raw as i64),
        34 => f(f64::NAN),
        35 => f(f64::INFINITY),
        36 => f(f64::NEG_INFINITY),
        37 => f(1e300),
        38 => f([0.0, 0.5, 1.0, 1.5, -0.1, 0.01, 1e-300][(raw % 7) as usize]),
        _ => f(f64::from_bits(raw)),
    }
}

fn is_range(v: &Value) -> bool {
    v.as_mapping().is_some_and(|m| m.contains_key("constant") || m.contains_key("inclusive"))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_owned()), v);
    }
    Value::Mapping(m)
}

/// A replacement for `old`, shaped like it most of the time.
fn replacement(old: &Value, m: &Mutation) -> Value {
    let num = |i: usize| m.numbers.get(i).map_or(Value::Null, |&(idx, raw)| number(idx, raw));
    let strings = || {
        let mut list: Vec<Value> = m.strings.iter().cloned().map(Value::String).collect();
        if m.list_len > 4 && !list.is_empty() {
            list = (0..usize::from(m.list_len)).map(|i| list[i % list.len()].clone()).collect();
        }
        Value::Sequence(list)
    };
    let string = || Value::String(m.strings.first().cloned().unwrap_or_default());
    if m.kind % 17 == 0 {
        // Any shape at all.
        return match m.kind / 17 % 4 {
            0 => string(),
            1 => strings(),
            2 => Value::Bool(m.kind % 2 == 0),
            _ => Value::Null,
        };
    }
    if is_range(old) {
        return match m.kind % 7 {
            0 | 1 => map(vec![("constant", num(0))]),
            2 | 3 => map(vec![("inclusive", map(vec![("min", num(0)), ("max", num(1))]))]),
            4 => map(vec![("constant", num(0)), ("inclusive", map(vec![("min", num(0)), ("max", num(1))]))]),
            5 => map(vec![("inclusive", map(vec![("min", num(0))]))]),
            _ => num(0),
        };
    }
    match old {
        Value::Number(_) => num(0),
        Value::Bool(_) => {
            if m.kind % 3 == 0 {
                num(0)
            } else {
                Value::Bool(m.kind % 2 == 0)
            }
        }
        Value::Sequence(_) => strings(),
        Value::String(_) => string(),
        _ => num(0),
    }
}

fn mutate(doc: &mut Value, m: &Mutation) {
    let mut at = doc;
    for (depth, &sel) in m.path.iter().enumerate() {
        let Some(entries) = at.as_mapping_mut() else { return };
        if m.kind % 13 == 0 && depth == 0 {
            // An unknown key.
            let name = format!("{}_{}", m.strings.first().map_or("zz", |s| s.as_str()), sel % 7);
            entries.insert(Value::String(name), replacement(&Value::Null, m));
            return;
        }
        let keys: Vec<Value> = entries.keys().cloned().collect();
        let Some(key) = keys.get(sel as usize % keys.len().max(1)).cloned() else { return };
        let last = depth + 1 == m.path.len();
        let child = entries.get(&key).cloned().unwrap_or(Value::Null);
        if last || is_range(&child) || !child.is_mapping() {
            entries.insert(key, replacement(&child, m));
            return;
        }
        at = entries.get_mut(&key).unwrap();
    }
}

/// The document's text.
fn render(spec: FormatSpec, doc: &Document) -> String {
    let defaults = spec.default_config().to_yaml().unwrap();
    let mut value: Value = serde_norway::from_str(&defaults).unwrap();
    for m in &doc.mutations {
        mutate(&mut value, m);
    }
    let wrap = |path: &[&str], inner: Value| path.iter().rev().fold(inner, |v, k| map(vec![(k, v)]));
    let lading: Vec<&str> = spec.lading_path().to_vec();
    let value = match doc.wrap {
        0 => value,
        1 => map(vec![("variant", wrap(&lading, value))]),
        2 => map(vec![("variant", wrap(&["not_a_format"], value))]),
        3 => map(vec![("variant", wrap(&lading, value)), ("extra", Value::Null)]),
        4 => map(vec![("variant", map(vec![("variant", wrap(&lading, value))]))]),
        _ => map(vec![("variant", Value::String(lading.last().copied().unwrap_or("x").to_owned()))]),
    };
    let text = serde_norway::to_string(&value).unwrap();
    match doc.cut {
        Some(at) => text.chars().take(usize::from(at) % (text.chars().count() + 1)).collect(),
        None => text,
    }
}

// ---------------------------------------------------------------------------------------------
// The campaign.
// ---------------------------------------------------------------------------------------------

/// What the cases ended with, and every distinct error message.
#[derive(Debug, Default)]
struct Tally {
    outcomes: BTreeMap<String, u64>,
    messages: BTreeMap<String, u64>,
    cases: u64,
}

impl Tally {
    fn outcome(&mut self, what: String) {
        *self.outcomes.entry(what).or_default() += 1;
    }

    fn error(&mut self, stage: &str, spec: FormatSpec, message: &str) {
        self.outcome(format!("{spec}: {stage} error"));
        *self.messages.entry(normalize(message)).or_default() += 1;
    }
}

/// The message as a template: numbers as `#` (not those inside names such as `syslog5424`),
/// quoted values as `"…"`, long messages shortened, so that messages of one kind count once.
fn normalize(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '"' {
            // Skip to the closing quote, past escapes.
            let mut j = i + 1;
            while let Some(&d) = chars.get(j) {
                j += if d == '\\' { 2 } else { 1 };
                if d == '"' {
                    break;
                }
            }
            out.push_str("\"…\"");
            i = j;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            let in_name = i > 0 && chars.get(i - 1).is_some_and(|p| p.is_ascii_alphabetic() || *p == '_');
            if in_name {
                out.extend(&chars[i..j]);
            } else {
                out.push('#');
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    if out.chars().count() > 240 {
        out = out.chars().take(240).collect::<String>() + "…";
    }
    out
}

/// A clear error: it says what was wrong and where.
fn assert_clear(message: &str, spec: FormatSpec, kind: ErrorKind) -> Result<(), TestCaseError> {
    prop_assert!(!message.is_empty() && !message.contains("panicked"), "{message}");
    match kind {
        // A document that does not load names the file, and the place (a line) or the key (in
        // backticks); an invalid value names the field in backticks.
        ErrorKind::Config if message.starts_with("cannot load config") => prop_assert!(
            message.contains("fuzz.yaml") && (message.contains(" line ") || message.contains('`')),
            "a config file error must name the file and the place or the key: {message}"
        ),
        ErrorKind::Config => prop_assert!(message.contains('`'), "a config error must name the field: {message}"),
        ErrorKind::Budget => prop_assert!(message.contains(spec.name()), "a budget error names the format: {message}"),
        ErrorKind::Memory => prop_assert!(message.contains("cannot allocate"), "{message}"),
        other => prop_assert!(false, "unexpected {other:?} error: {message}"),
    }
    Ok(())
}

/// One case: a document, a seed, a strategy and a budget for one format.
fn run_case(
    spec: FormatSpec,
    text: &str,
    (seed, strategy, budget): (u64, Buffers, usize),
    settings: Settings,
    tally: &Mutex<Tally>,
) -> Result<(), TestCaseError> {
    let mut tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    tally.cases += 1;
    let registry = Registry::builtin();
    let config = match registry.parse_config(spec.name(), text, Path::new("fuzz.yaml")) {
        Ok(c) => c.with_max_setup_memory(settings.ceiling),
        Err(e) => {
            assert_clear(&e.to_string(), spec, e.kind())?;
            tally.error("parse", spec, &e.to_string());
            return Ok(());
        }
    };
    let estimate = config.setup_memory();
    let start = A.begin();
    let built = config.build(seed, strategy);
    let peak = A.end(&start).peak_live_bytes;
    let mut source = match (built, &estimate) {
        (Ok(source), Ok(estimate)) => {
            prop_assert!(
                peak <= estimate.total() + BUILD_SLACK,
                "setup took {peak} B, above its estimate {estimate}\n{text}"
            );
            prop_assert!(peak <= settings.ceiling + BUILD_SLACK, "setup took {peak} B, above the ceiling\n{text}");
            source
        }
        (Ok(_), Err(e)) => return Err(TestCaseError::fail(format!("built, but the estimate failed: {e}\n{text}"))),
        (Err(e), _) => {
            let message = e.to_string();
            assert_clear(&message, spec, e.kind())?;
            prop_assert!(peak < 4 << 20 || e.kind() == ErrorKind::Memory, "a failed setup took {peak} B: {message}");
            if let (payforge::Error::SetupMemory { needed, .. }, Ok(estimate)) = (&e, &estimate) {
                // The config's estimate adds the generator around the format to what build checked.
                prop_assert!(*needed <= estimate.total() && *needed > settings.ceiling);
            }
            tally.error("setup", spec, &message);
            return Ok(());
        }
    };
    for warning in config.warnings() {
        prop_assert!(!warning.contains('\n'), "a warning is one line: {warning}");
    }
    let mut out = Vec::new();
    match source.fill(&mut BlockRng::for_block(seed, 0), budget, &mut out) {
        Ok(filled) => {
            prop_assert!(filled.bytes <= budget && filled.bytes == out.len() && filled.members >= 1, "{filled:?}");
            if let Err(missing) = grammar::check_block(&config, &out) {
                return Err(TestCaseError::fail(missing));
            }
            tally.outcome(format!("{spec}: block accepted by the grammar"));
        }
        Err(e) => {
            let message = e.to_string();
            assert_clear(&message, spec, e.kind())?;
            prop_assert!(out.is_empty(), "nothing may be appended on error");
            tally.error("budget", spec, &message);
        }
    }
    Ok(())
}

/// When the campaign started; case start times are milliseconds since.
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Aborts the process when a case runs longer than `timeout`: a hang must fail the campaign, not
/// stall it. Returns where the case loop records when the current case started (`u64::MAX`: no
/// case running) and what it is.
fn watchdog(timeout: Duration) -> (Arc<AtomicU64>, Arc<Mutex<String>>) {
    let started = Arc::new(AtomicU64::new(u64::MAX));
    let current = Arc::new(Mutex::new(String::new()));
    let (s, c) = (Arc::clone(&started), Arc::clone(&current));
    now_ms();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let at = s.load(Ordering::Relaxed);
            if at != u64::MAX && now_ms() > at.saturating_add(timeout.as_millis() as u64) {
                eprintln!(
                    "fuzz: a case ran over {timeout:?} (a hang):\n{}",
                    c.lock().unwrap_or_else(|p| p.into_inner())
                );
                std::process::abort();
            }
        }
    });
    (started, current)
}

fn fuzz_formats(settings: Settings, tally: &Mutex<Tally>) {
    let (started, current) = watchdog(settings.timeout);
    for &spec in Registry::builtin().specs() {
        let mut runner = TestRunner::new(RunnerConfig {
            cases: settings.cases,
            failure_persistence: None,
            max_shrink_iters: 256,
            ..RunnerConfig::default()
        });
        let strategy = (document(), any::<u64>(), 0usize..4, budget(settings.max_budget));
        let result = runner.run(&strategy, |(doc, seed, s, budget)| {
            let text = render(spec, &doc);
            let strategy = Buffers::ALL[s];
            *current.lock().unwrap_or_else(|p| p.into_inner()) =
                format!("{spec}, seed {seed}, {strategy}, budget {budget}, document:\n{text}");
            started.store(now_ms(), Ordering::Relaxed);
            let r = run_case(spec, &text, (seed, strategy, budget), settings, tally);
            started.store(u64::MAX, Ordering::Relaxed);
            r
        });
        if let Err(e) = result {
            panic!("fuzz {spec}: {e}");
        }
    }
}

fn fuzz_cli_parsers(settings: Settings, tally: &Mutex<Tally>) {
    let text = prop_oneof![
        4 => "[0-9]{0,21} ?(B|b|KiB|k|K|Ki|MiB|m|M|Mi|GiB|g|G|Gi|TiB|Ti|KB|kB|MB|GB|x|)",
        2 => proptest::collection::vec(proptest::sample::select(&["0", "1", "64", "KiB", "MiB", "GiB", "..", "/", " ", "-", "99999999999999999999", "18446744073709551615", "é"][..]), 0..6).prop_map(|t| t.concat()),
        1 => "\\PC{0,30}",
    ];
    let mut runner = TestRunner::new(RunnerConfig {
        cases: settings.cases.saturating_mul(4),
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&(text.clone(), text), |(a, b)| {
        let mut tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.cases += 1;
        for s in [a.clone(), format!("{a}..{b}"), format!("{a}/{b}")] {
            match payforge::parse_size("size", &s) {
                Ok(n) => {
                    let back = payforge::parse_size("size", &payforge::format_size(n)).unwrap();
                    prop_assert_eq!(back, n, "{} round-trips", s);
                    tally.outcome("size: parsed".into());
                }
                Err(e) => {
                    let quoted = format!("{s:?}");
                    prop_assert!(e.to_string().contains("size") && e.to_string().contains(&quoted), "{}", e);
                    *tally.messages.entry(normalize(&e.to_string())).or_default() += 1;
                    tally.outcome("size: error".into());
                }
            }
            match s.parse::<BlockSize>() {
                Ok(size) => {
                    prop_assert!(1 <= size.min() && size.min() <= size.max() && size.max() <= payforge::MAX_BUDGET);
                    prop_assert_eq!(size.to_string().parse::<BlockSize>().unwrap(), size);
                    tally.outcome("block size: parsed".into());
                }
                Err(e) => {
                    prop_assert!(e.to_string().contains("block size"), "{e}");
                    *tally.messages.entry(normalize(&e.to_string())).or_default() += 1;
                    tally.outcome("block size: error".into());
                }
            }
            match s.parse::<Shard>() {
                Ok(shard) => {
                    prop_assert!(shard.index() < shard.count());
                    prop_assert_eq!(shard.to_string().parse::<Shard>().unwrap(), shard);
                    tally.outcome("shard: parsed".into());
                }
                Err(e) => {
                    prop_assert!(e.to_string().contains("shard"), "{e}");
                    *tally.messages.entry(normalize(&e.to_string())).or_default() += 1;
                    tally.outcome("shard: error".into());
                }
            }
            if let Err(e) = s.parse::<StrategyChoice>() {
                prop_assert!(e.to_string().contains("strategy"), "{e}");
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz cli parsers: {e}");
    }
}

/// Sizes as lading writes them, and ways to get them wrong.
fn lading_size() -> impl Strategy<Value = String> {
    let pieces = &[
        "0",
        "1",
        "2",
        "9",
        ".",
        "..",
        " ",
        "Mb",
        "MiB",
        "MB",
        "mib",
        "k",
        "KiB",
        "Gb",
        "TiB",
        "B",
        "b",
        "bit",
        "-",
        "e",
        "99999999999999999999",
        "18446744073709551616",
        "é",
    ][..];
    prop_oneof![
        4 => "[0-9]{1,6}(\\.[0-9]{0,3}){0,3} ?(b|B|Kb|KiB|Mb|MB|MiB|Gb|GiB|mib|kib|k|x|)",
        3 => proptest::collection::vec(proptest::sample::select(pieces), 0..6).prop_map(|t| t.concat()),
        1 => "\\PC{0,20}",
    ]
}

/// A YAML scalar for a lading key: sizes, counts, strings, lists, maps and nonsense.
fn lading_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => lading_size().prop_map(|s| format!("{s:?}")),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just("-1".to_string()),
        1 => Just("1e400".to_string()),
        1 => Just("[]".to_string()),
        1 => Just("{}".to_string()),
        1 => Just("all_out".to_string()),
        1 => (lading_size(), lading_size(), lading_size()).prop_map(|(a, b, c)| format!(
            "{{linear: {{initial_bytes_per_second: {a:?}, maximum_bytes_per_second: {b:?}, rate_of_change: {c:?}}}}}"
        )),
        1 => lading_size().prop_map(|s| format!("{{stable: {{bytes_per_second: {s:?}}}}}")),
        1 => hostile_string().prop_map(|s| format!("{s:?}")),
    ]
}

/// A lading experiment file: one generator of a real kind, mostly with its own target key and
/// the cache where lading puts it, then real and hostile keys.
fn lading_file() -> impl Strategy<Value = String> {
    let kinds = &["tcp", "udp", "unix_stream", "unix_datagram", "http", "trace_agent", "file_gen"][..];
    let keys = &[
        "bytes_per_second",
        "blocks_per_second",
        "throttle",
        "maximum_block_size",
        "parallel_connections",
        "block_cache_method",
        "backoff_behavior",
        "headers",
        "unknown_key",
    ][..];
    let hosts = &[
        "'127.0.0.1:1'",
        "'x'",
        "':0'",
        "'[::1]:8125'",
        "'localhost:99999'",
        "/tmp/x.sock",
        "''",
        "'http://127.0.0.1:1'",
        "'http://h:1?x=1'",
        "'https://[::1]:1/v'",
        "'ftp://x'",
        "'http://'",
        "[1, 2]",
    ][..];
    let variants = &[
        "{syslog5424: {}}",
        "{dogstatsd: {}}",
        "{datadog_log: {}}",
        "{trace_agent: {v0.4: {}}}",
        "syslog5424",
        "{apache_common: {}}",
        "{}",
        "[1]",
    ][..];
    (
        proptest::sample::select(kinds),
        proptest::sample::select(hosts),
        proptest::sample::select(variants),
        proptest::collection::vec((proptest::sample::select(keys), lading_value()), 0..3),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![3 => Just("'1 MiB'".to_string()), 1 => lading_size().prop_map(|s| format!("{s:?}"))],
    )
        .prop_map(|(kind, host, variant, extra, good, cache)| {
            let seed =
                if good { "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,7]" } else { "[1, 300]" };
            let key = match (kind, good) {
                ("tcp" | "udp", true) => "addr",
                ("unix_stream" | "unix_datagram", true) => "path",
                (_, true) => "target_uri",
                _ => "addr",
            };
            let body = if kind == "http" {
                format!("method: {{post: {{variant: {variant}, maximum_prebuild_cache_size_bytes: {cache}}}}}")
            } else {
                format!("variant: {variant}\n      maximum_prebuild_cache_size_bytes: {cache}")
            };
            let mut text = format!("generator:\n  - {kind}:\n      seed: {seed}\n      {key}: {host}\n      {body}\n");
            for (key, value) in extra {
                text.push_str(&format!("      {key}: {value}\n"));
            }
            text
        })
}

/// Texts for `send`'s parsers: sizes, URLs, ramps and hostile strings.
fn send_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => lading_size(),
        2 => "(tcp|udp|tls|http|https|unix|unixgram|ftp|)://(127\\.0\\.0\\.1|localhost|\\[::1\\]|/tmp/s|)(:[0-9]{0,6})?(/[a-z]{0,4})?(\\?[a-z=]{0,4})?",
        1 => (lading_size(), lading_size(), "[0-9]{0,3}(ms|s|m|h|)").prop_map(|(a, b, d)| format!("{a}..{b}/{d}")),
        1 => "[0-9]{1,4}(KiB|MiB|MB|)\\.\\.[0-9]{1,5}(KiB|MiB|MB|)/[0-9]{1,3}(s|ms|m|)",
        1 => hostile_string(),
    ]
}

/// `send`'s inputs never panic, and their errors name what they read.
fn fuzz_send_inputs(settings: Settings, tally: &Mutex<Tally>) {
    use payforge::send::http::Header;
    use payforge::send::lading::{parse, parse_lading_size};
    use payforge::send::{Target, Throttle, parse_duration, parse_rate};
    let registry = Registry::builtin();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: settings.cases.saturating_mul(4),
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&(lading_file(), send_text(), send_text()), |(file, a, b)| {
        let mut tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.cases += 1;
        let origin = Path::new("experiment.yaml");
        match parse(&registry, &file, origin, None) {
            Ok(job) => {
                prop_assert!(job.block_size > 0 && job.cache > 0 && job.connections > 0);
                tally.outcome("lading file: parsed".into());
            }
            Err(e) => {
                prop_assert!(e.to_string().contains("experiment.yaml"), "{e}");
                *tally.messages.entry(normalize(&e.to_string())).or_default() += 1;
                tally.outcome("lading file: error".into());
            }
        }
        if let Err(e) = parse_lading_size(&Value::String(a.clone())) {
            prop_assert!(e.contains(&format!("{a:?}")) || a.trim().is_empty() || e.contains("size"), "{e}");
        }
        let named: [(&str, Result<(), payforge::Error>); 6] = [
            ("duration", parse_duration(&a).map(drop)),
            ("rate", parse_rate(&a).map(drop)),
            ("ramp", Throttle::parse_ramp(&a).map(drop)),
            ("ramp", Throttle::parse_ramp(&format!("{a}/{b}")).map(drop)),
            ("target URL", a.parse::<Target>().map(drop)),
            ("header", format!("{a}:{b}").parse::<Header>().map(drop)),
        ];
        for (what, result) in named {
            match result {
                Ok(()) => tally.outcome(format!("{what}: parsed")),
                Err(e) => {
                    prop_assert!(e.to_string().contains(what), "{what}: {e}");
                    *tally.messages.entry(normalize(&e.to_string())).or_default() += 1;
                    tally.outcome(format!("{what}: error"));
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz send inputs: {e}");
    }
}

#[test]
fn fuzz_campaign() {
    let settings = Settings::from_env();
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    fuzz_formats(settings, &tally);
    fuzz_cli_parsers(settings, &tally);
    fuzz_send_inputs(settings, &tally);
    let tally = tally.into_inner().unwrap();
    let mut report = format!(
        "fuzz campaign: {} cases in {:.1} s ({} per format and {} parser inputs; budgets up to {} B, \
         setup ceiling {} B)\n",
        tally.cases,
        started.elapsed().as_secs_f64(),
        settings.cases,
        settings.cases.saturating_mul(4),
        settings.max_budget,
        settings.ceiling
    );
    for (what, n) in &tally.outcomes {
        report.push_str(&format!("  {n:>7}  {what}\n"));
    }
    report.push_str(&format!("{} distinct error messages (numbers as #):\n", tally.messages.len()));
    for (message, n) in &tally.messages {
        report.push_str(&format!("  {n:>7}  {message}\n"));
    }
    eprint!("{report}");
    if let Ok(path) = std::env::var("FUZZ_REPORT") {
        std::fs::write(&path, &report).unwrap();
    }
}
