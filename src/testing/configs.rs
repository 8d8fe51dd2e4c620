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
        tally.built += 1;
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
    // Walk down a random path, stopping at a leaf or by chance.
    let mut at = doc;
    loop {
        let len = match &*at {
            Value::Object(map) => map.len(),
            Value::Array(items) => items.len(),
            _ => 0,
        };
        if len == 0 || draw.chance(0.3) {
            break;
        }
        let i = draw.index(len);
        let next = match at {
            Value::Object(map) => {
                if draw.chance(0.1) {
                    if let Some(key) = map.keys().nth(i).cloned() {
                        map.remove(&key);
                    }
                    return;
                }
                map.values_mut().nth(i)
            }
            Value::Array(items) => items.get_mut(i),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => break,
        }
    }
    *at = hostile(at, draw);
}

/// A hostile replacement for `old`.
fn hostile(old: &Value, draw: &mut BlockRng) -> Value {
    let pick = |draw: &mut BlockRng, n: usize| draw.index(n);
    match draw.below(10) {
        0..3 => {
            let i = pick(draw, INTEGERS.len());
            INTEGERS.get(i).map_or(Value::Null, |&n| Value::Number(n.into()))
        }
        3 => Value::Number((-(draw.below(1 << 40) as i64)).into()),
        4 => {
            let i = pick(draw, NUMBERS.len());
            NUMBERS.get(i).and_then(|&f| Number::from_f64(f)).map_or(Value::Null, Value::Number)
        }
        5 => {
            let i = pick(draw, STRINGS.len());
            let s = STRINGS.get(i).copied().unwrap_or_default();
            Value::String(if draw.chance(0.2) { "m".repeat(5000) } else { s.to_owned() })
        }
        6 => {
            let n = if draw.chance(0.5) { 0 } else { draw.inclusive(1, 300) as usize };
            Value::Array(vec![old.clone(); n])
        }
        7 => Value::Bool(draw.chance(0.5)),
        8 => {
            let mut map = Map::new();
            map.insert("no_such_key".to_owned(), old.clone());
            Value::Object(map)
        }
        _ => Value::Null,
    }
}
