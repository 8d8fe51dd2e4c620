//! The contract between a payload format and the sizing loop.
//!
//! A format is an endless member stream plus an encoder. It never decides how many members go in
//! a block: that is [`crate::fill()`]'s job, done once for every format. Adding a format means writing
//! a config struct, one [`Format`] impl, and a line in [`crate::formats::FormatKind`].

use crate::framing::Framing;
use crate::rng::BlockRng;

/// A payload format: a member generator, a member encoder and a framing.
///
/// Members are plain data (numbers, handles into string pools held by the format, small inline
/// vectors), so generating one never needs the heap and a list of members can be reused across
/// blocks without allocating.
pub trait Format: Send + Sync {
    /// One element of the member stream (a trace, a log line, a datagram...).
    type Member: Send;

    /// Stable, user-facing name (`syslog5424`, `datadog-logs`, ...).
    fn name(&self) -> &'static str;

    /// How members join into a block.
    fn framing(&self) -> Framing;

    /// Most members a single block may hold (e.g. the logs intake's 1000 entries).
    fn max_members(&self) -> usize {
        usize::MAX
    }

    /// A lower bound on the encoded length of any member this config can produce (without
    /// framing). Used to reject budgets that can never hold a member, and in error messages.
    fn min_member_len(&self) -> usize;

    /// Draws the next member of the stream. Infallible: configs are validated at construction.
    fn generate(&self, rng: &mut BlockRng) -> Self::Member;

    /// Appends the member's encoding (without framing) to `out`. In-memory writes cannot fail.
    fn encode(&self, member: &Self::Member, out: &mut Vec<u8>);

    /// Smallest budget that could hold a one-member block.
    fn min_block_len(&self) -> usize {
        let framing = self.framing();
        let one = framing.block_len(1, self.min_member_len());
        match framing {
            Framing::Lines | Framing::LengthPrefixedLines => one + 1,
            _ => one,
        }
    }
}

/// A format that can be built from a serde config and a seed. Implemented by every format in
/// [`crate::formats`]; the registry there needs nothing else to list a new format.
pub trait Configured: Format + Sized + 'static {
    /// The format's configuration: serde with defaults, `deny_unknown_fields`.
    type Config: serde::Serialize + for<'de> serde::Deserialize<'de> + Default + Clone + std::fmt::Debug + Send + Sync;

    /// Validates `config` and builds the format's pools and contexts from `seed` (through
    /// [`BlockRng::for_setup`]).
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the first invalid field and its value.
    fn from_config(config: &Self::Config, seed: u64) -> crate::Result<Self>;
}
