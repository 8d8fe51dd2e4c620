//! Shared configuration building blocks: lading-compatible ranges, validation helpers, and YAML
//! loading that accepts a format's config alone or wrapped in a lading-style `variant:`.
//!
//! Validation errors name the dotted field path and the value, e.g.
//! `invalid config: `trace_v04.spans_per_trace.inclusive` = {min: 9, max: 2}: min must not exceed max`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::BlockRng;

/// A range as lading writes it: `{constant: N}` or `{inclusive: {min: A, max: B}}`.
///
/// Integer ranges (`ConfRange`, the default `u64`) cover counts and lengths; `ConfRange<i64>` and
/// `ConfRange<f64>` cover signed values and rates, as lading's `ConfRange<T>` does.
///
/// Stored through [`RawRange`], a plain map with one key, so that every YAML reader accepts the
/// map form lading documents (some readers only take enums as YAML tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRange<T>", into = "RawRange<T>")]
#[serde(bound(serialize = "T: Serialize + Copy", deserialize = "T: Deserialize<'de>"))]
pub enum ConfRange<T = u64> {
    /// Always `N`.
    Constant(T),
    /// Uniform in `min..=max`.
    Inclusive {
        /// Smallest value.
        min: T,
        /// Largest value.
        max: T,
    },
}

/// The on-disk shape of a [`ConfRange`]: exactly one of the two keys.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    constant: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inclusive: Option<MinMax<T>>,
}

/// The bounds of an inclusive range.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinMax<T> {
    min: T,
    max: T,
}

impl<T> TryFrom<RawRange<T>> for ConfRange<T> {
    type Error = String;
    fn try_from(raw: RawRange<T>) -> std::result::Result<Self, String> {
        match (raw.constant, raw.inclusive) {
            (Some(n), None) => Ok(ConfRange::Constant(n)),
            (None, Some(MinMax { min, max })) => Ok(ConfRange::Inclusive { min, max }),
            _ => Err("a range is `{constant: N}` or `{inclusive: {min: A, max: B}}`".to_string()),
        }
    }
}

impl<T> From<ConfRange<T>> for RawRange<T> {
    fn from(r: ConfRange<T>) -> Self {
        match r {
            ConfRange::Constant(n) => RawRange { constant: Some(n), inclusive: None },
            ConfRange::Inclusive { min, max } => RawRange { constant: None, inclusive: Some(MinMax { min, max }) },
        }
    }
}

impl<T: Copy> ConfRange<T> {
    /// A constant range.
    pub const fn constant(n: T) -> Self {
        ConfRange::Constant(n)
    }

    /// An inclusive range.
    pub const fn inclusive(min: T, max: T) -> Self {
        ConfRange::Inclusive { min, max }
    }

    /// Smallest value the range can produce.
    pub const fn min(&self) -> T {
        match *self {
            ConfRange::Constant(n) => n,
            ConfRange::Inclusive { min, .. } => min,
        }
    }

    /// Largest value the range can produce.
    pub const fn max(&self) -> T {
        match *self {
            ConfRange::Constant(n) => n,
            ConfRange::Inclusive { max, .. } => max,
        }
    }
}

impl<T: Copy + PartialOrd + std::fmt::Display> ConfRange<T> {
    /// Checks `min <= max` and that every value lies in `bounds` (which NaN never does), naming
    /// `field` on failure.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field and the range.
    pub fn validate(&self, field: &str, bounds: std::ops::RangeInclusive<T>) -> Result<()> {
        if self.min() > self.max() {
            return Err(Error::config(field, self, "min must not exceed max"));
        }
        if !bounds.contains(&self.min()) || !bounds.contains(&self.max()) {
            return Err(Error::config(
                field,
                self,
                format!("values must lie within {}..={}", bounds.start(), bounds.end()),
            ));
        }
        Ok(())
    }
}

impl ConfRange {
    /// Draws a value. A constant range draws nothing from the RNG.
    #[inline]
    pub fn sample(&self, rng: &mut BlockRng) -> u64 {
        match *self {
            ConfRange::Constant(n) => n,
            ConfRange::Inclusive { min, max } => rng.inclusive(min, max),
        }
    }

    /// Draws a value as `usize`.
    #[inline]
    pub fn sample_usize(&self, rng: &mut BlockRng) -> usize {
        usize::try_from(self.sample(rng)).unwrap_or(usize::MAX)
    }
}

impl ConfRange<f64> {
    /// Draws a value uniformly from `[min, max)` (`min` when the range is empty or constant). A
    /// constant range draws nothing from the RNG.
    #[inline]
    pub fn sample(&self, rng: &mut BlockRng) -> f64 {
        match *self {
            ConfRange::Constant(x) => x,
            ConfRange::Inclusive { min, max } => min + rng.unit_f64() * (max - min),
        }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for ConfRange<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfRange::Constant(n) => write!(f, "{{constant: {n}}}"),
            ConfRange::Inclusive { min, max } => write!(f, "{{inclusive: {{min: {min}, max: {max}}}}}"),
        }
    }
}

/// Checks that `p` is a probability: finite and within `[0, 1]`.
///
/// # Errors
/// [`Error::Config`] naming the field and the value.
pub fn validate_probability(field: &str, p: f64) -> Result<()> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::config(field, p, "must be a probability between 0 and 1"))
    }
}

/// Checks that a count lies in `1..=max`.
///
/// # Errors
/// [`Error::Config`] naming the field and the count.
pub fn validate_count(field: &str, n: u64, max: u64) -> Result<()> {
    if (1..=max).contains(&n) { Ok(()) } else { Err(Error::config(field, n, format!("must lie within 1..={max}"))) }
}

/// Checks that a list of choices is not empty.
///
/// # Errors
/// [`Error::Config`] naming the field.
pub fn validate_non_empty<T>(field: &str, items: &[T]) -> Result<()> {
    if items.is_empty() { Err(Error::config(field, "[]", "must not be empty")) } else { Ok(()) }
}

/// Checks that weights are finite, not negative, and not all zero.
///
/// # Errors
/// [`Error::Config`] naming the field and the weights.
pub fn validate_weights(field: &str, weights: &[f64]) -> Result<()> {
    let shown = || format!("{weights:?}");
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(Error::config(field, shown(), "weights must be finite and not negative"));
    }
    if weights.iter().all(|w| *w == 0.0) {
        return Err(Error::config(field, shown(), "at least one weight must be positive"));
    }
    Ok(())
}

/// Parses a format's config from YAML text. The document is either the config itself or a
/// lading-style wrapper `variant: {<lading_name>: {...}}` (one more level for nested variants such
/// as `trace_agent: {v0.4: {...}}`, listed in `path`), or `variant: <lading_name>` for a format
/// lading configures without fields. An empty document gives the defaults.
///
/// # Errors
/// [`Error::ConfigFile`] with the parser's message (which names the unknown key or bad value).
pub fn from_yaml<T>(text: &str, origin: &std::path::Path, path: &[&str]) -> Result<T>
where
    T: for<'de> Deserialize<'de> + Default,
{
    let bad = |reason: String| Error::ConfigFile { path: origin.to_path_buf(), reason };
    let value: serde_norway::Value = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut value = match value {
        serde_norway::Value::Null => return Ok(T::default()),
        v => v,
    };
    let Some(inner) = value.get("variant").cloned() else {
        // Not wrapped: parse the text itself so error locations point into the user's file.
        return serde_norway::from_str(text).map_err(|e| bad(e.to_string()));
    };
    {
        if value.as_mapping().map(|m| m.len()) != Some(1) {
            return Err(bad("a lading-style document must hold only the `variant` key".into()));
        }
        value = inner;
        for (depth, key) in path.iter().enumerate() {
            if value.as_str() == Some(key) && depth + 1 == path.len() {
                return Ok(T::default());
            }
            value = match value.get(*key) {
                Some(v) if value.as_mapping().map(|m| m.len()) == Some(1) => v.clone(),
                _ => {
                    return Err(bad(format!(
                        "expected `variant` to name `{}`, found {}",
                        path.join("."),
                        serde_norway::to_string(&value).unwrap_or_default().trim()
                    )));
                }
            };
        }
        if value.is_null() {
            return Ok(T::default());
        }
    }
    // Enums written as maps (`{constant: 7}`) only deserialize from text, not from a `Value`, so
    // the unwrapped document goes through text once more. Config loading is not a hot path.
    let inner = serde_norway::to_string(&value).map_err(|e| bad(e.to_string()))?;
    serde_norway::from_str(&inner).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        contexts: Option<ConfRange>,
        rate: f64,
    }

    #[test]
    fn ranges_parse_like_lading() {
        let d: Demo = from_yaml("contexts: {inclusive: {min: 1, max: 5}}\nrate: 0.5", "x".as_ref(), &[]).unwrap();
        assert_eq!(d.contexts, Some(ConfRange::inclusive(1, 5)));
        let d: Demo = from_yaml("contexts: {constant: 7}", "x".as_ref(), &[]).unwrap();
        assert_eq!(d.contexts, Some(ConfRange::constant(7)));
        assert!(from_yaml::<Demo>("contexts: {constant: 7, inclusive: {min: 1, max: 2}}", "x".as_ref(), &[]).is_err());
        assert!(from_yaml::<Demo>("contexts: {inclusive: {min: 1}}", "x".as_ref(), &[]).is_err());
        let yaml = serde_norway::to_string(&ConfRange::inclusive(2, 3)).unwrap();
        assert_eq!(serde_norway::from_str::<ConfRange>(&yaml).unwrap(), ConfRange::inclusive(2, 3));
    }

    #[test]
    fn wrapper_is_unwrapped() {
        let text = "variant:\n  trace_agent:\n    v0.4:\n      rate: 0.25\n";
        let d: Demo = from_yaml(text, "x".as_ref(), &["trace_agent", "v0.4"]).unwrap();
        assert_eq!(d.rate, 0.25);
        let d: Demo = from_yaml("variant: syslog5424", "x".as_ref(), &["syslog5424"]).unwrap();
        assert_eq!(d, Demo::default());
        let err = from_yaml::<Demo>("variant: {dogstatsd: {}}", "x".as_ref(), &["syslog5424"]).unwrap_err();
        assert!(err.to_string().contains("syslog5424"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = from_yaml::<Demo>("ratee: 1", "cfg.yaml".as_ref(), &[]).unwrap_err().to_string();
        assert!(err.contains("ratee") && err.contains("cfg.yaml"), "{err}");
    }

    #[test]
    fn validation_names_field_and_value() {
        let err = ConfRange::inclusive(9, 2).validate("x.spans", 0..=10).unwrap_err().to_string();
        assert!(err.contains("x.spans") && err.contains("min: 9"), "{err}");
        assert!(ConfRange::constant(11).validate("x", 1..=10).is_err());
        assert!(validate_probability("p", f64::NAN).is_err());
        assert!(validate_probability("p", 1.5).is_err());
        assert!(validate_probability("p", 1.0).is_ok());
        assert!(validate_weights("w", &[0.0, 0.0]).is_err());
        assert!(validate_weights("w", &[0.0, 1.0]).is_ok());
        assert!(validate_non_empty::<u8>("pool", &[]).is_err());
    }
}
