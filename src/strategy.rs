//! The two independent strategy axes, and `auto`.
//!
//! * [`BufferPolicy`]: `fresh` allocates every working buffer (member list, offsets, probe and
//!   scratch buffers, the block itself) for each use; `reuse` keeps them in the generator and
//!   clears them, so a warmed-up generator allocates nothing per block.
//! * [`Sizing`]: `reencode` keeps members as data and encodes the whole candidate prefix at every
//!   probe of the search; `encode-once` encodes each member once into a scratch buffer, records
//!   end offsets, and answers later probes from the offsets.
//!
//! All four combinations compute the same block (see [`crate::fill()`]); they differ only in time,
//! allocations and bytes encoded, which `payforge calibrate` measures.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Who owns the working buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BufferPolicy {
    /// A new buffer each time one is needed.
    Fresh,
    /// Buffers owned by the generator, cleared and reused across probes and blocks.
    Reuse,
}

/// How the sizing loop obtains the size of a candidate prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sizing {
    /// Encode the whole prefix at every probe.
    Reencode,
    /// Encode each member once; probes read recorded offsets.
    EncodeOnce,
}

/// A concrete strategy: one choice on each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Strategy {
    /// Buffer axis.
    pub buffer: BufferPolicy,
    /// Sizing axis.
    pub sizing: Sizing,
}

impl Strategy {
    /// `fresh-reencode`: the baseline every other strategy is compared against.
    pub const FRESH_REENCODE: Strategy = Strategy { buffer: BufferPolicy::Fresh, sizing: Sizing::Reencode };
    /// `reuse-reencode`.
    pub const REUSE_REENCODE: Strategy = Strategy { buffer: BufferPolicy::Reuse, sizing: Sizing::Reencode };
    /// `fresh-encode-once`.
    pub const FRESH_ENCODE_ONCE: Strategy = Strategy { buffer: BufferPolicy::Fresh, sizing: Sizing::EncodeOnce };
    /// `reuse-encode-once`.
    pub const REUSE_ENCODE_ONCE: Strategy = Strategy { buffer: BufferPolicy::Reuse, sizing: Sizing::EncodeOnce };

    /// Every concrete strategy, in the order reports list them.
    pub const ALL: [Strategy; 4] =
        [Self::FRESH_REENCODE, Self::REUSE_REENCODE, Self::FRESH_ENCODE_ONCE, Self::REUSE_ENCODE_ONCE];

    /// The command-line name, e.g. `reuse-encode-once`.
    pub const fn name(self) -> &'static str {
        match (self.buffer, self.sizing) {
            (BufferPolicy::Fresh, Sizing::Reencode) => "fresh-reencode",
            (BufferPolicy::Reuse, Sizing::Reencode) => "reuse-reencode",
            (BufferPolicy::Fresh, Sizing::EncodeOnce) => "fresh-encode-once",
            (BufferPolicy::Reuse, Sizing::EncodeOnce) => "reuse-encode-once",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Strategy::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| {
            Error::argument(
                "strategy",
                s,
                "expected one of fresh-reencode, reuse-reencode, fresh-encode-once, reuse-encode-once",
            )
        })
    }
}

/// A strategy as a user asks for it: a concrete one, or `auto` (resolved through the embedded
/// selection for the format and block size; see [`crate::Selection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StrategyChoice {
    /// Use the measured winner for this format and block size.
    #[default]
    Auto,
    /// Use this strategy.
    Fixed(Strategy),
}

impl fmt::Display for StrategyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyChoice::Auto => f.write_str("auto"),
            StrategyChoice::Fixed(s) => s.fmt(f),
        }
    }
}

impl FromStr for StrategyChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s == "auto" {
            return Ok(StrategyChoice::Auto);
        }
        s.parse::<Strategy>().map(StrategyChoice::Fixed).map_err(|_| {
            Error::argument(
                "strategy",
                s,
                "expected one of auto, fresh-reencode, reuse-reencode, fresh-encode-once, reuse-encode-once",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(s.name().parse::<Strategy>().ok(), Some(s));
            assert_eq!(s.name().parse::<StrategyChoice>().ok(), Some(StrategyChoice::Fixed(s)));
        }
        assert_eq!("auto".parse::<StrategyChoice>().ok(), Some(StrategyChoice::Auto));
        let err = "fast".parse::<StrategyChoice>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("\"fast\"") && err.contains("strategy"), "{err}");
    }
}
