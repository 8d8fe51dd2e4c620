//! The selection file's text: the small subset of TOML that `calibrate --write` produces, read
//! and written here so that the core library needs no TOML crate.
//!
//! The subset: `#` comments, blank lines, top-level `key = value` lines, `[[selection]]` tables
//! of `key = value` lines, and values that are basic strings (`"…"` with `\"`, `\\`, `\n`, `\t`,
//! `\r` and `\uXXXX` escapes), integers or floats. Anything else is an error that names the line,
//! so a hand edit outside the subset is refused, not misread. The tests read the embedded file
//! with a full TOML parser too and compare.

use crate::compress::Compression;
use crate::error::{Error, Result};

use super::{Entry, Selection};

/// A value on the right of `=`.
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
}

/// Parses a selection file (without checking strategy names: see [`Selection::parse`]).
pub(super) fn parse(text: &str) -> Result<Selection> {
    let mut version = None;
    let mut default = None;
    let mut measured_on = String::new();
    let mut entries: Vec<(usize, Partial)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let n = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[[selection]]" {
            entries.push((n, Partial::default()));
            continue;
        }
        let bad = |reason: &str| Error::config(format!("strategies.toml line {n}"), raw.trim(), reason);
        let (key, rest) = line.split_once('=').ok_or_else(|| bad("expected `key = value` or `[[selection]]`"))?;
        let key = key.trim();
        let value = value(rest.trim()).map_err(|reason| bad(&reason))?;
        match entries.last_mut() {
            None => match (key, value) {
                ("version", Value::Int(v)) => {
                    version = Some(u32::try_from(v).map_err(|_| bad("version must be a small positive integer"))?)
                }
                ("default", Value::Str(s)) => default = Some(s),
                ("measured_on", Value::Str(s)) => measured_on = s,
                ("version" | "default" | "measured_on", _) => return Err(bad("wrong type for this key")),
                _ => return Err(bad("unknown key; expected version, default, measured_on or [[selection]]")),
            },
            Some((_, entry)) => entry.set(key, value).map_err(|reason| bad(&reason))?,
        }
    }
    let version = version.ok_or_else(|| Error::config("strategies.toml.version", "<missing>", "required"))?;
    let default = default.ok_or_else(|| Error::config("strategies.toml.default", "<missing>", "required"))?;
    let entries =
        entries.into_iter().enumerate().map(|(i, (line, e))| e.finish(i, line)).collect::<Result<Vec<_>>>()?;
    Ok(Selection { version, default, measured_on, entries })
}

/// Appends the file's body (no header comment) to `out`.
pub(super) fn write(sel: &Selection, out: &mut String) {
    push_key(out, "version", &sel.version.to_string());
    push_key(out, "default", &quoted(&sel.default));
    if !sel.measured_on.is_empty() {
        push_key(out, "measured_on", &quoted(&sel.measured_on));
    }
    for e in &sel.entries {
        out.push_str("\n[[selection]]\n");
        push_key(out, "format", &quoted(&e.format));
        if !e.compression.is_none() {
            push_key(out, "compression", &quoted(&e.compression.to_string()));
        }
        push_key(out, "block_size", &e.block_size.to_string());
        push_key(out, "strategy", &quoted(&e.strategy));
        push_key(out, "rule", &quoted(&e.rule));
        push_key(out, "mib_per_s", &float(e.mib_per_s));
        push_key(out, "allocs_per_mib", &float(e.allocs_per_mib));
        push_key(out, "alloc_bytes_per_byte", &float(e.alloc_bytes_per_byte));
        push_key(out, "peak_live_bytes", &e.peak_live_bytes.to_string());
        push_key(out, "amplification", &float(e.amplification));
    }
}

fn push_key(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

/// A TOML float: Rust's shortest round-trip form, which always has a `.` or an exponent.
fn float(v: f64) -> String {
    if v.is_finite() { format!("{v:?}") } else { "nan".to_owned() }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads a value and an optional trailing comment.
fn value(text: &str) -> std::result::Result<Value, String> {
    if let Some(body) = text.strip_prefix('"') {
        let mut s = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    let rest = body.get(i + 1..).unwrap_or_default().trim();
                    return if rest.is_empty() || rest.starts_with('#') {
                        Ok(Value::Str(s))
                    } else {
                        Err(format!("unexpected `{rest}` after the string"))
                    };
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("bad escape \\u{hex}"))?;
                        s.push(c);
                    }
                    other => return Err(format!("unsupported escape \\{}", other.unwrap_or(' '))),
                },
                c => s.push(c),
            }
        }
        return Err("unterminated string".to_owned());
    }
    let token = text.split('#').next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err("missing value".to_owned());
    }
    if let Ok(i) = token.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    match token {
        "nan" | "+nan" | "-nan" => return Ok(Value::Float(f64::NAN)),
        "inf" | "+inf" => return Ok(Value::Float(f64::INFINITY)),
        "-inf" => return Ok(Value::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    if token.contains(['.', 'e', 'E']) {
        if let Ok(f) = token.parse::<f64>() {
            return Ok(Value::Float(f));
        }
    }
    Err(format!("`{token}` is not a string, integer or float"))
}

/// An entry being read.
#[derive(Default)]
struct Partial {
    format: Option<String>,
    compression: Option<Compression>,
    block_size: Option<u64>,
    strategy: Option<String>,
    rule: String,
    mib_per_s: f64,
    allocs_per_mib: f64,
    alloc_bytes_per_byte: f64,
    peak_live_bytes: u64,
    amplification: f64,
}

impl Partial {
    fn set(&mut self, key: &str, value: Value) -> std::result::Result<(), String> {
        let float = |v: Value| match v {
            Value::Float(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            Value::Str(_) => Err(format!("{key} must be a number")),
        };
        let count = |v: Value| match v {
            Value::Int(i) => u64::try_from(i).map_err(|_| format!("{key} must not be negative")),
            _ => Err(format!("{key} must be an integer")),
        };
        let string = |v: Value| match v {
            Value::Str(s) => Ok(s),
            _ => Err(format!("{key} must be a string")),
        };
        match key {
            "format" => self.format = Some(string(value)?),
            "compression" => {
                self.compression = Some(string(value)?.parse().map_err(|e: Error| e.to_string())?);
            }
            "block_size" => self.block_size = Some(count(value)?),
            "strategy" => self.strategy = Some(string(value)?),
            "rule" => self.rule = string(value)?,
            "mib_per_s" => self.mib_per_s = float(value)?,
            "allocs_per_mib" => self.allocs_per_mib = float(value)?,
            "alloc_bytes_per_byte" => self.alloc_bytes_per_byte = float(value)?,
            "peak_live_bytes" => self.peak_live_bytes = count(value)?,
            "amplification" => self.amplification = float(value)?,
            _ => {
                return Err("unknown key; expected format, compression, block_size, strategy, rule, mib_per_s, \
                     allocs_per_mib, alloc_bytes_per_byte, peak_live_bytes or amplification"
                    .to_owned());
            }
        }
        Ok(())
    }

    fn finish(self, index: usize, line: usize) -> Result<Entry> {
        let missing = |key: &str| {
            Error::config(
                format!("strategies.toml.selection[{index}].{key}"),
                format!("<missing at line {line}>"),
                "required",
            )
        };
        Ok(Entry {
            format: self.format.ok_or_else(|| missing("format"))?,
            compression: self.compression.unwrap_or_default(),
            block_size: self.block_size.ok_or_else(|| missing("block_size"))?,
            strategy: self.strategy.ok_or_else(|| missing("strategy"))?,
            rule: self.rule,
            mib_per_s: self.mib_per_s,
            allocs_per_mib: self.allocs_per_mib,
            alloc_bytes_per_byte: self.alloc_bytes_per_byte,
            peak_live_bytes: self.peak_live_bytes,
            amplification: self.amplification,
        })
    }
}
