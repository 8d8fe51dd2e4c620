//! Setup memory: what building a format allocates, estimated from its config before anything is
//! allocated, and the ceiling it must stay under.
//!
//! Every format implements [`crate::Configured::setup_memory`]: an upper bound on the heap its
//! [`crate::Configured::from_config`] uses (pools, arenas, contexts, explicit lists included),
//! split into [`Part`]s that name the config keys driving them. Building through a
//! [`crate::FormatConfig`] (as every tool and the command line do) checks the estimate against a
//! ceiling first, [`DEFAULT_MAX_SETUP_MEMORY`] unless raised with
//! [`crate::FormatConfig::with_max_setup_memory`] or `--max-setup-memory SIZE`; a config over it
//! is an [`Error::SetupMemory`] naming the keys, and nothing is allocated.
//!
//! Setup itself then allocates fallibly: arenas grow like a `Vec` (doubling) but never past the
//! bound they were estimated with, through [`grow_within`] and `try_reserve`, so a bound that is
//! wrong, or a system that refuses the memory, gives an [`Error::Allocation`] instead of an abort,
//! and an arena never silently saturates its `u32` offsets.

use std::fmt;

use crate::error::{Error, Result};

/// The default setup-memory ceiling: 1 GiB. Realistic configs need a few MB (the defaults of the
/// built-in formats: 0.1 to 30 MB); the ceiling stops a typo or a hostile config from taking the
/// machine's memory before the first block.
pub const DEFAULT_MAX_SETUP_MEMORY: u64 = 1 << 30;

/// The largest arena `u32` offsets address.
pub const MAX_ARENA_BYTES: u64 = u32::MAX as u64;

/// One part of a format's setup memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// What it is, e.g. `metric contexts`.
    pub what: &'static str,
    /// An upper bound on its bytes.
    pub bytes: u64,
    /// The config keys that drive it, each as `` `field` = value ``.
    pub keys: Vec<String>,
}

/// The estimated setup memory of a config, by part.
///
/// A *summary* ([`SetupMemory::summary`]) only adds up the bytes, allocating nothing (building a
/// format checks its ceiling with one); a detailed estimate ([`SetupMemory::new`]) also keeps each
/// part and the keys that drive it, for messages and reports. Parts name their keys through a
/// closure, which a summary never calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupMemory {
    parts: Vec<Part>,
    total: u64,
    detailed: bool,
}

impl Default for SetupMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl SetupMemory {
    /// A detailed estimate with no parts yet.
    pub fn new() -> Self {
        Self { parts: Vec::new(), total: 0, detailed: true }
    }

    /// An estimate that only adds up the bytes (it allocates nothing).
    pub fn summary() -> Self {
        Self { parts: Vec::new(), total: 0, detailed: false }
    }

    /// Adds a part of `bytes` driven by the keys `keys` returns (see [`key`] and [`list_key`]).
    pub fn add(&mut self, what: &'static str, bytes: u64, keys: impl FnOnce() -> Vec<String>) -> &mut Self {
        self.total = self.total.saturating_add(bytes);
        if self.detailed {
            self.parts.push(Part { what, bytes, keys: keys() });
        }
        self
    }

    /// Adds a part stored in one arena addressed by `u32` offsets.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first key when `bytes` exceeds [`MAX_ARENA_BYTES`], whatever
    /// the ceiling: such an arena cannot be built at all.
    pub fn add_arena(
        &mut self,
        what: &'static str,
        bytes: u64,
        keys: impl FnOnce() -> Vec<String>,
    ) -> Result<&mut Self> {
        if bytes > MAX_ARENA_BYTES {
            let keys = keys();
            let (field, value) = keys.first().map_or(("<config>", ""), |k| split_key(k));
            let others = keys.iter().skip(1).cloned().collect::<Vec<_>>().join(", ");
            let with = if others.is_empty() { String::new() } else { format!(" with {others}") };
            return Err(Error::config(
                field,
                value,
                format!(
                    "{what}{with} could need {bytes} bytes ({}), more than one arena addresses \
                     ({MAX_ARENA_BYTES} bytes, u32 offsets): lower them",
                    human(bytes)
                ),
            ));
        }
        Ok(self.add(what, bytes, keys))
    }

    /// Whether parts and keys are kept ([`SetupMemory::new`]) or only the total.
    pub fn is_detailed(&self) -> bool {
        self.detailed
    }

    /// The parts, in the order they were added (none for a summary).
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The upper bound on the setup's heap, in bytes (saturating).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The largest part.
    pub fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by_key(|p| p.bytes)
    }

    /// Checks the total against `ceiling`.
    ///
    /// # Errors
    /// [`Error::SetupMemory`] naming `format`, the estimate, the ceiling and the largest part with
    /// the keys that drive it.
    pub fn check(&self, format: &'static str, ceiling: u64) -> Result<()> {
        let needed = self.total();
        if needed <= ceiling {
            return Ok(());
        }
        let detail = match self.largest() {
            Some(p) if p.keys.is_empty() => format!("most of it is the {} ({} bytes)", p.what, p.bytes),
            Some(p) => format!("most of it is the {} ({} bytes), driven by {}", p.what, p.bytes, and_list(&p.keys)),
            None => "no part of it is named".to_owned(),
        };
        Err(Error::SetupMemory {
            format,
            needed,
            needed_human: human(needed),
            ceiling,
            ceiling_human: crate::size::format_size(ceiling),
            detail,
        })
    }
}

impl fmt::Display for SetupMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.total())?;
        for p in &self.parts {
            write!(f, "; {}: {}", p.what, p.bytes)?;
        }
        Ok(())
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `` `field` = value ``, as setup-memory messages name a key.
pub fn key(field: &str, value: impl fmt::Display) -> String {
    format!("`{field}` = {value}")
}

/// A list key: `` `field` = [N entries, the longest L bytes] ``.
pub fn list_key(field: &str, items: &[String]) -> String {
    let longest = items.iter().map(String::len).max().unwrap_or(0);
    let entries = if items.len() == 1 { "1 entry".to_owned() } else { format!("{} entries", items.len()) };
    format!("`{field}` = [{entries}, the longest {longest} bytes]")
}

/// Splits a key made by [`key`] back into its field and value.
fn split_key(k: &str) -> (&str, &str) {
    let k = k.strip_prefix('`').unwrap_or(k);
    match k.split_once("` = ") {
        Some((field, value)) => (field, value),
        None => (k.trim_end_matches('`'), ""),
    }
}

/// A byte count for people, in decimal units (`4.10 GB`, `812 kB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let b = bytes as f64;
    for (unit, size) in UNITS {
        if b >= size {
            return format!("{:.2} {unit}", b / size);
        }
    }
    format!("{bytes} B")
}

/// `a × b` in bytes, saturating.
pub fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

/// Bytes of `n` values of `T`.
pub fn array_of<T>(n: u64) -> u64 {
    n.saturating_mul(std::mem::size_of::<T>() as u64)
}

/// How many more elements to reserve (exactly) so that `extra` more fit in a buffer of `len`
/// elements and `cap` capacity, growing as `Vec` does (to at least twice the capacity, and at
/// least 8) but never past `limit` elements. `Some(0)` when they already fit.
///
/// # Errors
/// [`Error::Allocation`] for `what` when `len + extra` exceeds `limit`.
pub fn grow_within(len: usize, cap: usize, extra: usize, limit: usize, what: &'static str) -> Result<usize> {
    let needed = len.checked_add(extra).filter(|&n| n <= limit).ok_or(Error::Allocation {
        what,
        bytes: len as u64 + extra as u64,
        reason: "past the bound estimated for it (a bug in the format's setup estimate) or past the 4 GiB its u32 \
                 offsets address",
    })?;
    if needed <= cap {
        return Ok(0);
    }
    let target = cap.saturating_mul(2).max(needed).max(8).min(limit);
    Ok(target - len)
}

/// The error for a refused setup allocation of `bytes` for `what`.
pub fn refused(what: &'static str, bytes: usize) -> Error {
    Error::Allocation { what, bytes: bytes as u64, reason: "the system refused the memory" }
}

/// A vector with room for exactly `n` elements, or an error instead of an abort.
///
/// # Errors
/// [`Error::Allocation`] when the system refuses.
pub fn try_vec<T>(n: usize, what: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| refused(what, n.saturating_mul(std::mem::size_of::<T>())))?;
    Ok(v)
}

/// A string with room for exactly `n` bytes, or an error instead of an abort.
///
/// # Errors
/// [`Error::Allocation`] when the system refuses.
pub fn try_string(n: usize, what: &'static str) -> Result<String> {
    let mut s = String::new();
    s.try_reserve_exact(n).map_err(|_| refused(what, n))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_doubles_but_stops_at_the_limit() {
        assert_eq!(grow_within(0, 0, 1, 100, "x").unwrap(), 8);
        assert_eq!(grow_within(8, 8, 1, 100, "x").unwrap(), 8);
        assert_eq!(grow_within(10, 16, 4, 100, "x").unwrap(), 0);
        assert_eq!(grow_within(60, 64, 10, 100, "x").unwrap(), 40, "capped at the limit");
        assert_eq!(grow_within(10, 16, 50, 100, "x").unwrap(), 50, "at least what is needed");
        let err = grow_within(95, 100, 10, 100, "the pool").unwrap_err().to_string();
        assert!(err.contains("the pool") && err.contains("105"), "{err}");
    }

    #[test]
    fn ceiling_errors_name_the_largest_part_and_its_keys() {
        let mut m = SetupMemory::new();
        m.add("small pool", 10, || vec![key("f.a", 1)]);
        m.add("big arena", 2_000, || vec![key("f.count", "{constant: 1000}"), list_key("f.names", &["ab".into()])]);
        let mut summary = SetupMemory::summary();
        summary.add("big arena", 2_000, || unreachable!("a summary names no keys"));
        assert!(summary.parts().is_empty() && summary.total() == 2_000);
        assert_eq!(m.total(), 2_010);
        assert!(m.check("f", 2_010).is_ok());
        let err = m.check("f", 1024).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        let msg = err.to_string();
        for needle in ["f setup needs up to 2010 bytes", "ceiling of 1024 bytes (1KiB)", "big arena (2000 bytes)"] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        assert!(msg.contains("`f.count` = {constant: 1000} and `f.names` = [1 entry, the longest 2 bytes]"), "{msg}");
        let err = SetupMemory::new()
            .add_arena("contexts", MAX_ARENA_BYTES + 1, || vec![key("f.count", "{constant: 9}"), key("f.len", 3)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`f.count` = {constant: 9}") && err.contains("with `f.len` = 3"), "{err}");
        assert_eq!(human(4_096_000_000), "4.10 GB");
        assert_eq!(human(999), "999 B");
    }
}
