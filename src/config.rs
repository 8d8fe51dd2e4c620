//! Shared configuration building blocks: lading-compatible ranges, validation helpers, and YAML
//! loading that accepts a format's config alone or wrapped in a lading-style `variant:`.
//!
//! Validation errors name the dotted field path and the value, e.g.
//! `invalid config: `trace_v04.spans_per_trace.inclusive` = {min: 9, max: 2}: min must not exceed max`.

use serde::{Deserialize, Serialize};

#[cfg(feature = "config-files")]
mod yaml;
#[cfg(feature = "config-files")]
pub use yaml::from_yaml;

use crate::error::{Error, Result};
use crate::rng::BlockRng;

/// A range as lading writes it: `{constant: N}` or `{inclusive: {min: A, max: B}}`.
///
/// Integer ranges (`ConfRange`, the default `u64`) cover counts and lengths; `ConfRange<i64>` and
/// `ConfRange<f64>` cover signed values and rates, as lading's `ConfRange<T>` does.
///
/// Stored through [`RawRange`], a plain map with one key, so that every YAML reader accepts the
/// map form lading documents (some readers only take enums as YAML tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "RawRange<T>")]
#[serde(bound(serialize = "T: Serialize + Copy"))]
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

/// Reads the map form key by key, so that every error, a malformed range included, is raised
/// while the reader is inside the field and carries its path and location (a conversion after
/// the map, `try_from`, loses both).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for ConfRange<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct RangeVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for RangeVisitor<T> {
            type Value = ConfRange<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a range, `{constant: N}` or `{inclusive: {min: A, max: B}}`")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
                let (mut constant, mut inclusive) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "constant" if constant.is_none() => constant = Some(map.next_value::<T>()?),
                        "inclusive" if inclusive.is_none() => inclusive = Some(map.next_value::<MinMax<T>>()?),
                        "constant" | "inclusive" => return Err(serde::de::Error::duplicate_field("range key")),
                        other => return Err(serde::de::Error::unknown_field(other, &["constant", "inclusive"])),
                    }
                }
                match (constant, inclusive) {
                    (Some(n), None) => Ok(ConfRange::Constant(n)),
                    (None, Some(MinMax { min, max })) => Ok(ConfRange::Inclusive { min, max }),
                    _ => Err(serde::de::Error::custom(
                        "a range is `{constant: N}` or `{inclusive: {min: A, max: B}}`, exactly one of the two",
                    )),
                }
            }
        }

        d.deserialize_map(RangeVisitor(std::marker::PhantomData))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "config-files")]
    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        contexts: Option<ConfRange>,
        rate: f64,
    }

    #[test]
    #[cfg(feature = "config-files")]
    fn ranges_parse_like_lading() {
        let d: Demo = from_yaml("contexts: {inclusive: {min: 1, max: 5}}\nrate: 0.5", "x".as_ref(), &[]).unwrap();
        assert_eq!(d.contexts, Some(ConfRange::inclusive(1, 5)));
        let d: Demo = from_yaml("contexts: {constant: 7}", "x".as_ref(), &[]).unwrap();
        assert_eq!(d.contexts, Some(ConfRange::constant(7)));
        // A malformed range names the field and the place (fuzz campaign, issue 13: it named
        // neither).
        let both = "rate: 0.5\ncontexts: {constant: 7, inclusive: {min: 1, max: 2}}";
        let err = from_yaml::<Demo>(both, "x".as_ref(), &[]).unwrap_err().to_string();
        assert!(err.contains("contexts") && err.contains("exactly one") && err.contains("line 2"), "{err}");
        let err = from_yaml::<Demo>("contexts: {}", "x".as_ref(), &[]).unwrap_err().to_string();
        assert!(err.contains("contexts") && err.contains("line 1"), "{err}");
        let err = from_yaml::<Demo>("contexts: {constnt: 3}", "x".as_ref(), &[]).unwrap_err().to_string();
        assert!(err.contains("contexts") && err.contains("constnt"), "{err}");
        assert!(from_yaml::<Demo>("contexts: {inclusive: {min: 1}}", "x".as_ref(), &[]).is_err());
        let yaml = serde_norway::to_string(&ConfRange::inclusive(2, 3)).unwrap();
        assert_eq!(serde_norway::from_str::<ConfRange>(&yaml).unwrap(), ConfRange::inclusive(2, 3));
    }

    #[test]
    #[cfg(feature = "config-files")]
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
    #[cfg(feature = "config-files")]
    fn errors_inside_the_wrapper_point_into_the_users_file() {
        let path = &["trace_agent", "v0.4"];
        let text = "variant:\n  trace_agent:\n    v0.4:\n      rate: 0.25\n      ratee: 1\n";
        let err = from_yaml::<Demo>(text, "cfg.yaml".as_ref(), path).unwrap_err().to_string();
        assert!(err.contains("ratee") && err.contains("line 5 column 7"), "{err}");
        let text = "variant:\n  trace_agent:\n    v0.5: {}\n";
        let err = from_yaml::<Demo>(text, "cfg.yaml".as_ref(), path).unwrap_err().to_string();
        assert!(err.contains("trace_agent.v0.4") && err.contains("`v0.5`") && err.contains("line 3"), "{err}");
        let text = "variant:\n  trace_agent:\n    v0.4:\n";
        assert_eq!(from_yaml::<Demo>(text, "cfg.yaml".as_ref(), path).unwrap(), Demo::default());
        let text = "variant: {trace_agent: v0.4}";
        assert_eq!(from_yaml::<Demo>(text, "cfg.yaml".as_ref(), path).unwrap(), Demo::default());
        let text = "variant: {trace_agent: {v0.4: {}, v0.5: {}}}";
        assert!(from_yaml::<Demo>(text, "cfg.yaml".as_ref(), path).is_err());
    }

    #[test]
    #[cfg(feature = "config-files")]
    fn a_document_that_is_not_a_map_says_so() {
        // Fuzz campaign, issue 13: a document cut down to a bare word got serde's
        // "invalid type: string, expected struct Demo", naming neither a key nor a place.
        for (text, found) in
            [("hostnames", "a string"), ("42", "a number"), ("[1, 2]", "a list"), ("true", "a boolean")]
        {
            let err = from_yaml::<Demo>(text, "cfg.yaml".as_ref(), &[]).unwrap_err().to_string();
            assert!(err.contains("cfg.yaml") && err.contains(found) && err.contains("`variant:`"), "{err}");
            assert!(!err.contains("struct"), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "config-files")]
    fn unknown_keys_are_named() {
        let lading = "generator:\n  - http:\n      variant: syslog5424\nblackhole: []\n";
        let err = from_yaml::<Demo>(lading, "exp.yaml".as_ref(), &["syslog5424"]).unwrap_err().to_string();
        assert!(err.contains("lading experiment file") && err.contains("--lading-config"), "{err}");
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
