//! Arbitrary configs end in an error or in blocks within budget, never a panic.
//!
//! Each case starts from a config of the kit (so the keys are real ones) as a JSON value and
//! makes one to three random changes: a value replaced by a hostile number (0, -1, huge, past
//! `u32` and `u64`, fractional), a hostile string (empty, 5000 bytes, separators, control and
//! non-ASCII characters), an empty or long list, `null`, a boolean, an object with an unknown
//! key; or a key removed. The document is then read back into the format's config type; what
//! serde accepts is built under a 64 MiB setup-memory ceiling and filled on every strategy at
//! budgets from 0 to 64 KiB. The whole case runs under `catch_unwind`: a panic fails the check
//! with the document that caused it. (`tests/fuzz.rs` of payforge runs a longer campaign of the
//! same kind on YAML documents, for the built-in formats.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Number, Value};

use super::memory::shared;
use super::{Conformance, Failure, Report};
use crate::error::ErrorKind;
use crate::format::Configured;
use crate::registry::FormatConfig;
use crate::rng::BlockRng;
use crate::strategy::Strategy;

/// The setup-memory ceiling configs are built under: hostile counts fail fast instead of
/// building hundreds of MB.
const CEILING: u64 = 64 << 20;

/// Budgets each config that builds is filled at.
const BUDGETS: [usize; 5] = [0, 1, 100, 4096, 65_536];

/// Hostile numbers, strings.
const NUMBERS: [f64; 9] = [0.0, -1.0, 0.5, 1e300, -1e300, 4_294_967_296.0, 1.8e19, 255.0, 65_536.0];
const INTEGERS: [u64; 5] = [0, 1, u32::MAX as u64, u64::MAX, 1_000_000_000];
const STRINGS: [&str; 8] = ["", "|", "\u{0}\n\r\t", "é☃", "_e{", "\"\\", "[1,2]", "0"];

/// How each case ended.
#[derive(Debug, Default)]
struct Tally {
    rejected_by_serde: u32,
    rejected_at_build: u32,
    built: u32,
    blocks: u32,
    budget_errors: u32,
}

impl<F: Configured> Conformance<F> {
    /// [`Conformance::config_cases`] mutated configs end in an error or in blocks within their
    /// budget, never in a panic.
    ///
    /// # Errors
    /// A [`Failure`] with the config document that panicked, gave a block over budget, or was
    /// rejected with an error that is not about the config or the budget.
    pub fn check_arbitrary_configs(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        let mut draw = BlockRng::for_block(self.seed, 1);
        let mut tally = Tally::default();
        for case in 0..self.config_cases {
            let (base_name, base) = match self.configs.get(case as usize % self.configs.len().max(1)) {
                Some(c) => c,
                None => return Ok(report),
            };
            let mut doc = serde_json::to_value(base).map_err(|e| {
                Failure::new("arbitrary_configs", base_name, format!("the config does not serialize: {e}"))
            })?;
            for _ in 0..draw.inclusive(1, 3) {
                mutate(&mut doc, &mut draw);
            }
            let seed = draw.next_u64();
            let outcome = catch_unwind(AssertUnwindSafe(|| run_case::<F>(&doc, seed, &mut tally)));
            let fail = |msg: String| {
                Failure::new("arbitrary_configs", base_name, format!("case {case}, seed {seed}, config {doc}: {msg}"))
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(msg)) => return Err(fail(msg)),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    return Err(fail(format!("panicked: {what}")));
                }
            }
        }
        report.line("arbitrary_configs", "mutations", format!("{} cases: {tally:?}", self.config_cases));
        Ok(report)
    }
}

/// One case: read, build, fill. `Err` for an outcome that is neither a clear error nor a block
/// within budget.
fn run_case<F: Configured>(doc: &Value, seed: u64, tally: &mut Tally) -> Result<(), String> {
    let Ok(config) = serde_json::from_value::<F::Config>(doc.clone()) else {
        tally.rejected_by_serde += 1;
        return Ok(());
    };
    let config = FormatConfig::new::<F>(config).with_max_setup_memory(CEILING);
    for strategy in Strategy::ALL {
        let mut source = match config.build(seed, strategy) {
            Ok(source) => source,
            Err(e) if matches!(e.kind(), ErrorKind::Config | ErrorKind::Memory) && !e.to_string().is_empty() => {
                tally.rejected_at_build += 1;
                return Ok(());
            }
            Err(e) => return Err(format!("build failed with an error of kind {:?}: {e}", e.kind())),
        };
        tally.built += u32::from(strategy == Strategy::ALL[0]);
        let mut out = Vec::new();
        for (i, budget) in BUDGETS.into_iter().enumerate() {
            out.clear();
            match source.fill(&mut BlockRng::for_block(seed, i as u64), budget, &mut out) {
                Ok(filled) if filled.bytes <= budget && filled.bytes == out.len() => tally.blocks += 1,
                Ok(filled) => return Err(format!("{strategy}, budget {budget}: {filled:?}, {} bytes", out.len())),
                Err(e) if e.kind() == ErrorKind::Budget && out.is_empty() => tally.budget_errors += 1,
                Err(e) => return Err(format!("{strategy}, budget {budget}: {e} ({} bytes appended)", out.len())),
            }
        }
    }
    Ok(())
}

/// Makes one random change somewhere in `doc`.
fn mutate(doc: &mut Value, draw: &mut BlockRng) {
    // Choose a random path down, stopping at a leaf or by chance; perhaps remove a key there.
    let mut path = Vec::new();
    let mut remove = false;
    let mut at = &*doc;
    loop {
        let children: Vec<&Value> = match at {
            Value::Object(map) => map.values().collect(),
            Value::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        };
        if children.is_empty() || draw.chance(0.05) {
            break;
        }
        let i = draw.index(children.len());
        path.push(i);
        // Removing a top-level key tests its default; deeper, it only makes serde complain.
        if path.len() == 1 && matches!(at, Value::Object(_)) && draw.chance(0.1) {
            remove = true;
            break;
        }
        match children.get(i) {
            Some(child) => at = child,
            None => break,
        }
    }
    if remove {
        let key = path.pop();
        if let (Some(Value::Object(map)), Some(i)) = (at_path(doc, &path), key) {
            if let Some(key) = map.keys().nth(i).cloned() {
                map.remove(&key);
            }
        }
    } else if let Some(target) = at_path(doc, &path) {
        let old = std::mem::take(target);
        *target = hostile(&old, draw);
    }
}

/// The value at `path` (child indices, object values in key order).
fn at_path<'a>(value: &'a mut Value, path: &[usize]) -> Option<&'a mut Value> {
    match path.split_first() {
        None => Some(value),
        Some((&i, rest)) => match value {
            Value::Object(map) => map.values_mut().nth(i).and_then(|child| at_path(child, rest)),
            Value::Array(items) => items.get_mut(i).and_then(|child| at_path(child, rest)),
            _ => None,
        },
    }
}

/// A hostile replacement for `old`: mostly of the same type (integers mostly by integers) (so that serde reads it and the
/// format's validation is what is tested), sometimes of another.
fn hostile(old: &Value, draw: &mut BlockRng) -> Value {
    if draw.chance(0.9) {
        match old {
            Value::Number(n) if n.is_u64() && draw.chance(0.8) => {
                return INTEGERS.get(draw.index(INTEGERS.len())).map_or(Value::Null, |&n| Value::Number(n.into()));
            }
            Value::Number(_) => return number(draw),
            Value::String(_) => return string(draw),
            Value::Array(items) => return list(items.first().unwrap_or(&Value::Null), draw),
            _ => {}
        }
    }
    match draw.below(6) {
        0 => number(draw),
        1 => string(draw),
        2 => list(old, draw),
        3 => Value::Bool(draw.chance(0.5)),
        4 => {
            let mut map = Map::new();
            map.insert("no_such_key".to_owned(), old.clone());
            Value::Object(map)
        }
        _ => Value::Null,
    }
}

/// 0, 1, the ends of `u32` and `u64`, a large or negative number, a fraction, a huge float.
fn number(draw: &mut BlockRng) -> Value {
    match draw.below(4) {
        0 | 1 => INTEGERS.get(draw.index(INTEGERS.len())).map_or(Value::Null, |&n| Value::Number(n.into())),
        2 => Value::Number((-(draw.below(1 << 40) as i64)).into()),
        _ => {
            NUMBERS.get(draw.index(NUMBERS.len())).and_then(|&f| Number::from_f64(f)).map_or(Value::Null, Value::Number)
        }
    }
}

/// A string of separators, control or non-ASCII characters, empty, or 5000 bytes long.
fn string(draw: &mut BlockRng) -> Value {
    if draw.chance(0.2) {
        return Value::String("m".repeat(5000));
    }
    Value::String(STRINGS.get(draw.index(STRINGS.len())).copied().unwrap_or_default().to_owned())
}

/// An empty list, or up to 300 copies of `item`, numbers and strings perhaps each made hostile.
fn list(item: &Value, draw: &mut BlockRng) -> Value {
    let n = if draw.chance(0.4) { 0 } else { draw.inclusive(1, 300) as usize };
    let mutated = draw.chance(0.5);
    let one = |draw: &mut BlockRng| match item {
        Value::Number(_) if mutated => number(draw),
        Value::String(_) if mutated => string(draw),
        _ => item.clone(),
    };
    Value::Array((0..n).map(|_| one(draw)).collect())
}
