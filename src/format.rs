//! The contract between a payload format and the sizing loop.
//!
//! A format is an endless member stream plus an encoder. It never decides how many members go in
//! a block: that is [`crate::fill()`]'s job, done once for every format. Adding a format means writing
//! a config struct, one [`Format`] impl and one [`Configured`] impl, and registering it in a
//! [`crate::Registry`]; the built-in formats do exactly that and nothing more.
//!
//! # The contract, for authors of formats
//!
//! The sizing loop and every strategy rely on these; a format that breaks them gets wrong blocks,
//! not an error, so the conformance kit (`payforge::testing`, feature `testing`) checks each of
//! them, for the built-in formats and the example crate (`examples/custom-format/`) alike.
//!
//! * **Members come from the RNG alone.** [`Format::generate`] may read the format's own state
//!   (pools built at setup) and the `rng` it is given, and nothing else: no clock, no counter, no
//!   interior mutability. The strategies regenerate or re-encode members in different orders
//!   and numbers; if a member depended on anything but the RNG's state, strategies would stop
//!   producing identical bytes, threads and shards would disagree, and fixtures would not
//!   reproduce.
//! * **Encoding is a pure function of the member.** [`Format::encode`] appends the same bytes
//!   for the same member every time and never reads `out`'s earlier contents.
//! * **With a dictionary, of the member and the dictionary so far.** A format whose framing has a
//!   dictionary ([`Framing::MsgpackDictionary`]) overrides [`Format::encode_indexed`]: it interns
//!   the member's strings in the order it writes them and writes their indices as minimal msgpack
//!   integers, so the same member against the same dictionary gives the same bytes and a member's
//!   bytes never depend on the members after it. Its [`Format::encode`] is the member encoded
//!   against an empty dictionary. Every other format keeps the default, which is `encode`.
//! * **[`Format::min_member_len`] is a true lower bound** on every member's encoded length for the
//!   config. It decides which budgets are rejected up front ([`crate::Error::BudgetBelowMinimum`]);
//!   a bound that is too high rejects budgets that could hold a member, one that is too low only
//!   makes the error come later, at the first block that cannot hold its first member. `0` is
//!   always safe.
//! * **The steady state allocates nothing** only if `generate` and `encode` do not: keep members
//!   plain data (numbers, offsets into pools built at setup, inline vectors such as
//!   `smallvec`) and write into `out` only. The reuse strategies then make zero allocations per
//!   block once warmed up, which the conformance kit asserts.
//! * **[`Format::framing`] and [`Format::max_members`] are constant** for a built format.

use crate::dictionary::StringTable;
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::setup::SetupMemory;

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

    /// Appends the member's encoding (without framing) to `out`, its strings referred to by their
    /// index in `dict`, the block's dictionary so far (strings not yet in it are added). This is
    /// what the sizing loop calls. Only formats framed with [`Framing::MsgpackDictionary`] need
    /// it; the default ignores `dict` and calls [`Format::encode`].
    #[inline]
    fn encode_indexed(&self, member: &Self::Member, dict: &mut StringTable, out: &mut Vec<u8>) {
        let _ = dict;
        self.encode(member, out);
    }

    /// Whether the sizing loop should draw each member one step ahead and call
    /// [`Format::prefetch`] on it before encoding the one before. For formats whose members
    /// read large setup-time data at random (`dogstatsd`'s contexts, several MB): the next
    /// member's data then travels to the CPU's caches while the current one is encoded. Off by
    /// default; members and bytes are the same either way (only how far the RNG has advanced
    /// after a block differs, as it already does between strategies).
    const LOOKAHEAD: bool = false;

    /// Touches the setup-time data `encode` will read for `member`, so it is in cache by then.
    /// Called only when [`Format::LOOKAHEAD`] is true; must not change anything `encode` sees.
    #[inline]
    fn prefetch(&self, member: &Self::Member) {
        let _ = member;
    }

    /// Smallest budget that could hold a one-member block.
    fn min_block_len(&self) -> usize {
        self.framing().one_member_block_len(self.min_member_len())
    }
}

/// A format that can be built from a serde config and a seed. Implemented by every format in
/// [`crate::formats`]; the registry there needs nothing else to list a new format.
pub trait Configured: Format + Sized + 'static {
    /// The name the registry, the command line and the files use. [`Format::name`] must return
    /// it.
    const NAME: &'static str;

    /// One line saying what the format is, shown by `--help`.
    const ABOUT: &'static str = "";

    /// The key path of the format under lading's `variant:` (`["trace_agent", "v0.4"]`), or empty
    /// when lading has no such format and only plain config documents are read.
    const LADING_PATH: &'static [&'static str] = &[];

    /// How `payforge check --bless` writes the sample block next to a fixture.
    const SAMPLE: SampleRendering = SampleRendering::Raw;

    /// How the blocks travel to a receiver: HTTP path, method, content type and headers,
    /// datagram rules, octet counting, a per-transport config hook (see [`crate::delivery`]).
    /// The default posts to `/` as `text/plain` and sends whole blocks per datagram.
    const DELIVERY: crate::delivery::Delivery = crate::delivery::Delivery::new();

    /// The format's configuration: serde with defaults, `deny_unknown_fields`.
    type Config: serde::Serialize + for<'de> serde::Deserialize<'de> + Default + Clone + std::fmt::Debug + Send + Sync;

    /// Validates `config` and builds the format's pools and contexts from `seed` (through
    /// [`BlockRng::for_setup`]).
    ///
    /// This does not check the setup-memory ceiling: build through [`Configured::build_within`]
    /// (which [`crate::FormatConfig::build`] and every tool use). Setup allocations are
    /// fallible (`try_reserve`, arenas that grow within their estimated bound), so memory the
    /// system refuses is an error, not an abort.
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the first invalid field and its value;
    /// [`crate::Error::Allocation`] when a setup allocation fails.
    fn from_config(config: &Self::Config, seed: u64) -> crate::Result<Self>;

    /// Adds to `memory` an upper bound on the heap [`Configured::from_config`] allocates for
    /// `config` (pools, arenas, contexts and explicit lists alike), by part, each naming the
    /// config keys that drive it; computed from the config alone, before anything is allocated.
    /// See [`crate::kit`].
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an invalid config (as [`Configured::from_config`] reports it),
    /// or a part that no `u32`-addressed arena could hold.
    fn estimate_setup(config: &Self::Config, memory: &mut SetupMemory) -> crate::Result<()>;

    /// The detailed estimate of [`Configured::estimate_setup`].
    ///
    /// # Errors
    /// As [`Configured::estimate_setup`].
    fn setup_memory(config: &Self::Config) -> crate::Result<SetupMemory> {
        let mut memory = SetupMemory::new();
        Self::estimate_setup(config, &mut memory)?;
        Ok(memory)
    }

    /// One line per way a valid `config` makes the receiving agent normalize or truncate what
    /// it gets (empty or over-long names, ...). The command line prints them on stderr; the
    /// default has none.
    fn warnings(config: &Self::Config) -> Vec<String> {
        let _ = config;
        Vec::new()
    }

    /// The config to build blocks from when they travel over `transport` (see
    /// [`crate::delivery`]): `Ok(None)` keeps `config` (the default), `Ok(Some(c))` uses `c`.
    /// DogStatsD frames its blocks with the agent's length prefix on Unix stream sockets here.
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the field when `config` cannot travel over `transport`.
    fn for_transport(
        config: &Self::Config,
        transport: crate::delivery::Transport,
    ) -> crate::Result<Option<Self::Config>> {
        let _ = (config, transport);
        Ok(None)
    }

    /// [`Configured::from_config`] once [`Configured::setup_memory`] is at most
    /// `max_setup_memory` bytes.
    ///
    /// # Errors
    /// [`crate::Error::SetupMemory`] over the ceiling (nothing is allocated), else as
    /// [`Configured::from_config`].
    fn build_within(config: &Self::Config, seed: u64, max_setup_memory: u64) -> crate::Result<Self> {
        // The summary allocates nothing; the detailed estimate is made only to explain a refusal.
        let mut summary = SetupMemory::summary();
        Self::estimate_setup(config, &mut summary)?;
        if summary.total() > max_setup_memory {
            Self::setup_memory(config)?.check(Self::NAME, max_setup_memory)?;
        }
        Self::from_config(config, seed)
    }
}

/// How a sample block is written for people to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleRendering {
    /// As it is: `sample.txt` when it is UTF-8, else `sample.bin`.
    Raw,
    /// A msgpack document decoded to YAML (`sample.yaml`), falling back to raw.
    MsgpackAsYaml,
}
