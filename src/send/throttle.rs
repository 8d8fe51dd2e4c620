//! How fast a run sends: lading's throttles, in bytes or in blocks per second.
//!
//! | throttle | flag | lading |
//! |---|---|---|
//! | [`Throttle::AllOut`] | (none) | `throttle: all_out` |
//! | [`Throttle::Stable`] | `--rate 10MiB` | `bytes_per_second: ...`, `throttle: {stable: {bytes_per_second: ...}}` |
//! | [`Throttle::Linear`] | `--ramp 1MiB..10MiB/60s` | `throttle: {linear: {initial_bytes_per_second, maximum_bytes_per_second, rate_of_change}}` |
//! | [`Throttle::Blocks`] | `--block-rate 100` | `blocks_per_second: 100` |
//!
//! A linear throttle starts at `initial` bytes per second and grows by `rate_of_change` bytes per
//! second every second until it reaches `maximum`, where it stays. The run's token bucket
//! ([`super::bucket`]) accrues exactly the throttle's integral, so each one-second window's
//! target is that integral over the window ([`Throttle::allowance`]).

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::size::format_size;

/// A run's pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throttle {
    /// As fast as the receiver takes it.
    AllOut,
    /// A fixed number of payload bytes per second, over all connections.
    Stable {
        /// Bytes per second (at least 1).
        bytes_per_second: u64,
    },
    /// A linear ramp of bytes per second, over all connections.
    Linear {
        /// Bytes per second at the start.
        initial: u64,
        /// Bytes per second once the ramp ends (at least `initial`, at least 1).
        maximum: u64,
        /// Bytes per second added every second.
        rate_of_change: u64,
    },
    /// A fixed number of units (writes, datagrams, requests) per second, whatever their size.
    Blocks {
        /// Units per second (at least 1).
        per_second: u64,
    },
}

impl Throttle {
    /// A linear ramp, checked.
    ///
    /// # Errors
    /// [`Error::Argument`] naming `what` when `maximum` is 0 or below `initial`, or when the
    /// ramp never sends (initial 0 and no rate of change).
    pub fn linear(what: &'static str, initial: u64, maximum: u64, rate_of_change: u64) -> Result<Self> {
        let shown = format!(
            "{}/s..{}/s, +{}/s per second",
            format_size(initial),
            format_size(maximum),
            format_size(rate_of_change)
        );
        if maximum == 0 || maximum < initial {
            return Err(Error::argument(what, shown, "the maximum must be at least the initial rate and above 0"));
        }
        if initial == 0 && rate_of_change == 0 {
            return Err(Error::argument(what, shown, "starts at 0 and never grows: it would send nothing"));
        }
        Ok(Throttle::Linear { initial, maximum, rate_of_change })
    }

    /// Parses `--ramp FROM..TO/DURATION`: from FROM bytes per second to TO in DURATION, then TO.
    ///
    /// # Errors
    /// [`Error::Argument`] naming `ramp` and the text.
    pub fn parse_ramp(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::argument("ramp", text, reason.to_string());
        let (range, duration) =
            text.rsplit_once('/').ok_or_else(|| bad("expected FROM..TO/DURATION, e.g. 1MiB..10MiB/60s"))?;
        let (from, to) =
            range.split_once("..").ok_or_else(|| bad("expected FROM..TO/DURATION, e.g. 1MiB..10MiB/60s"))?;
        let size = |s: &str| -> Result<u64> {
            let s = s.trim();
            if s == "0" {
                return Ok(0);
            }
            super::parse_rate(s).map_err(|e| bad(&e.to_string()))
        };
        let (from, to) = (size(from)?, size(to)?);
        let duration = super::parse_duration(duration).map_err(|e| bad(&e.to_string()))?;
        if to <= from {
            return Err(bad("TO must be above FROM (a ramp goes up, as lading's linear throttle does)"));
        }
        let per_second = ((to - from) as f64 / duration.as_secs_f64()).ceil() as u64;
        Throttle::linear("ramp", from, to, per_second.max(1))
    }

    /// The bytes per second of a [`Throttle::Stable`] throttle.
    pub fn stable_rate(&self) -> Option<u64> {
        match *self {
            Throttle::Stable { bytes_per_second } => Some(bytes_per_second),
            _ => None,
        }
    }

    /// True unless [`Throttle::AllOut`].
    pub fn is_limited(&self) -> bool {
        !matches!(self, Throttle::AllOut)
    }

    /// True for [`Throttle::Blocks`]: tokens are units, not bytes.
    pub fn counts_blocks(&self) -> bool {
        matches!(self, Throttle::Blocks { .. })
    }

    /// What a unit of `bytes` costs in tokens.
    pub fn cost(&self, bytes: usize) -> f64 {
        if self.counts_blocks() { 1.0 } else { bytes as f64 }
    }

    /// The rate `t` seconds into the run, in tokens per second (0 for [`Throttle::AllOut`]).
    pub fn rate_at(&self, t: f64) -> f64 {
        match *self {
            Throttle::AllOut => 0.0,
            Throttle::Stable { bytes_per_second } => bytes_per_second as f64,
            Throttle::Blocks { per_second } => per_second as f64,
            Throttle::Linear { initial, maximum, rate_of_change } => {
                (initial as f64 + rate_of_change as f64 * t.max(0.0)).min(maximum as f64)
            }
        }
    }

    /// The slowest rate of the run: what one block must fit into.
    pub fn lowest_rate(&self) -> f64 {
        self.rate_at(0.0)
    }

    /// The highest rate of the run.
    pub fn highest_rate(&self) -> f64 {
        match *self {
            Throttle::Linear { maximum, .. } => maximum as f64,
            _ => self.rate_at(0.0),
        }
    }

    /// Tokens from the start to `t` seconds.
    fn integral(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        match *self {
            Throttle::Linear { initial, maximum, rate_of_change } => {
                let (r0, k, max) = (initial as f64, rate_of_change as f64, maximum as f64);
                let ramp_end = if k > 0.0 { (max - r0) / k } else { f64::INFINITY };
                if t <= ramp_end {
                    r0 * t + k * t * t / 2.0
                } else {
                    r0 * ramp_end + k * ramp_end * ramp_end / 2.0 + max * (t - ramp_end)
                }
            }
            _ => self.rate_at(0.0) * t,
        }
    }

    /// Tokens the throttle allows between `t0` and `t1` seconds into the run.
    pub fn allowance(&self, t0: f64, t1: f64) -> f64 {
        (self.integral(t1) - self.integral(t0)).max(0.0)
    }

    /// How long after `t` seconds `amount` more tokens have accrued (`None`: never).
    pub fn time_to_accrue(&self, t: f64, amount: f64) -> Option<Duration> {
        if amount <= 0.0 {
            return Some(Duration::ZERO);
        }
        let t = t.max(0.0);
        let seconds = match *self {
            Throttle::AllOut => return None,
            Throttle::Linear { initial, maximum, rate_of_change } => {
                let (r0, k, max) = (initial as f64, rate_of_change as f64, maximum as f64);
                let goal = self.integral(t) + amount;
                let ramp_end = if k > 0.0 { (max - r0) / k } else { f64::INFINITY };
                let at_end = if ramp_end.is_finite() { self.integral(ramp_end) } else { f64::INFINITY };
                let s = if goal <= at_end {
                    if k > 0.0 { (-r0 + (r0 * r0 + 2.0 * k * goal).sqrt()) / k } else { goal / r0 }
                } else {
                    ramp_end + (goal - at_end) / max
                };
                s - t
            }
            _ => amount / self.rate_at(t),
        };
        (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9)))
    }

    /// The name in summaries: `stable`, `linear`, `blocks`, `all_out`.
    pub fn kind(&self) -> &'static str {
        match self {
            Throttle::AllOut => "all_out",
            Throttle::Stable { .. } => "stable",
            Throttle::Linear { .. } => "linear",
            Throttle::Blocks { .. } => "blocks",
        }
    }
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
        match *self {
            Throttle::AllOut => f.write_str("as fast as the receiver takes it"),
            Throttle::Stable { bytes_per_second: r } => write!(f, "at {}/s ({:.2} MiB/s)", format_size(r), mib(r)),
            Throttle::Linear { initial, maximum, rate_of_change } => write!(
                f,
                "ramping from {}/s to {}/s by {}/s every second",
                format_size(initial),
                format_size(maximum),
                format_size(rate_of_change)
            ),
            Throttle::Blocks { per_second } => write!(f, "at {per_second} blocks/s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_integral_and_its_inverse_agree() {
        let t = Throttle::linear("t", 1000, 5000, 1000).unwrap();
        assert_eq!(t.rate_at(0.0), 1000.0);
        assert_eq!(t.rate_at(2.0), 3000.0);
        assert_eq!(t.rate_at(10.0), 5000.0);
        // 0..1 s: 1000 + 500 = 1500; the ramp ends at 4 s (12,000 tokens), then 5000/s.
        assert!((t.allowance(0.0, 1.0) - 1500.0).abs() < 1e-9);
        assert!((t.allowance(0.0, 4.0) - 12_000.0).abs() < 1e-9);
        assert!((t.allowance(4.0, 6.0) - 10_000.0).abs() < 1e-9);
        for (start, amount) in [(0.0, 1500.0), (0.5, 3000.0), (3.0, 20_000.0), (7.0, 1.0)] {
            let d = t.time_to_accrue(start, amount).unwrap().as_secs_f64();
            assert!((t.allowance(start, start + d) - amount).abs() < 1e-6, "{start} {amount} {d}");
        }
        let stable = Throttle::Stable { bytes_per_second: 100 };
        assert_eq!(stable.time_to_accrue(3.0, 50.0), Some(Duration::from_millis(500)));
        assert_eq!(Throttle::AllOut.time_to_accrue(0.0, 1.0), None);
        assert_eq!(Throttle::Blocks { per_second: 4 }.cost(1 << 20), 1.0);
    }

    #[test]
    fn ramps_parse_and_bad_ones_are_named() {
        let r = Throttle::parse_ramp("1MiB..10MiB/9s").unwrap();
        assert_eq!(r, Throttle::Linear { initial: 1 << 20, maximum: 10 << 20, rate_of_change: 1 << 20 });
        assert_eq!(Throttle::parse_ramp("0..1000/10s").unwrap().rate_at(1.0), 100.0);
        for bad in ["", "1MiB", "1MiB..2MiB", "2MiB..1MiB/1s", "1MiB..2MiB/0s", "a..b/1s", "1MiB..2MiB/x"] {
            let err = Throttle::parse_ramp(bad).unwrap_err().to_string();
            assert!(err.contains("ramp") && err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert!(Throttle::linear("throttle", 0, 0, 5).is_err());
        assert!(Throttle::linear("throttle", 10, 5, 5).is_err());
        assert!(Throttle::linear("throttle", 0, 5, 0).is_err());
    }
}
