//! What to build: the seed, the block-size policy, how much of the logical stream, and which
//! shard of it.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::rng::BlockRng;
use crate::size::{format_size, parse_size};

/// The budget of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSize {
    /// Every block has this budget.
    Fixed(usize),
    /// Block `i` has a budget drawn uniformly from `min..=max` by
    /// [`BlockRng::for_block_size`]`(seed, i)`: a stream of its own, so the sampled size depends
    /// only on (seed, i) and never shifts the block's member stream.
    Range {
        /// Smallest budget (at least 1).
        min: usize,
        /// Largest budget (at least `min`).
        max: usize,
    },
}

impl BlockSize {
    /// Checks the sizes: no budget of 0, and `min <= max`.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the block size.
    pub fn validate(self) -> Result<Self> {
        let (min, max) = (self.min(), self.max());
        if min == 0 {
            return Err(Error::argument("block size", self.to_string(), "must be at least 1 byte"));
        }
        if min > max {
            return Err(Error::argument("block size", self.to_string(), "the range's minimum exceeds its maximum"));
        }
        if max > crate::fill::MAX_BUDGET {
            return Err(Error::argument("block size", self.to_string(), "blocks are at most 1GiB"));
        }
        Ok(self)
    }

    /// Smallest budget a block can get.
    pub fn min(self) -> usize {
        match self {
            BlockSize::Fixed(n) => n,
            BlockSize::Range { min, .. } => min,
        }
    }

    /// Largest budget a block can get (the size of a worker's block buffer).
    pub fn max(self) -> usize {
        match self {
            BlockSize::Fixed(n) => n,
            BlockSize::Range { max, .. } => max,
        }
    }

    /// The budget of block `index` of the run seeded with `seed`.
    pub fn budget(self, seed: u64, index: u64) -> usize {
        match self {
            BlockSize::Fixed(n) => n,
            BlockSize::Range { min, max } => {
                BlockRng::for_block_size(seed, index).inclusive(min as u64, max as u64) as usize
            }
        }
    }
}

impl fmt::Display for BlockSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlockSize::Fixed(n) => f.write_str(&format_size(n as u64)),
            BlockSize::Range { min, max } => write!(f, "{}..{}", format_size(min as u64), format_size(max as u64)),
        }
    }
}

impl FromStr for BlockSize {
    type Err = Error;

    /// `64KiB` (fixed) or `16KiB..1MiB` (a range sampled per block).
    fn from_str(s: &str) -> Result<Self> {
        let size = |t: &str| {
            let n = parse_size("block size", t)?;
            usize::try_from(n).map_err(|_| Error::argument("block size", s, "too large for this machine"))
        };
        let policy = match s.split_once("..") {
            Some((lo, hi)) => BlockSize::Range { min: size(lo)?, max: size(hi)? },
            None => BlockSize::Fixed(size(s)?),
        };
        policy.validate()
    }
}

/// How much of the logical stream the plan covers (before sharding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Blocks `0..n`.
    Blocks(u64),
    /// The longest run of blocks `0..n` whose budgets sum to at most this many bytes, so the
    /// blocks hold at most this many bytes (`floor(total / size)` blocks for a fixed size).
    Total(u64),
}

/// Shard `index` of `count`: the blocks whose index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// The whole stream (shard 0 of 1).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`Error::Argument`] when `count` is 0 or `index >= count`.
    pub fn new(index: u64, count: u64) -> Result<Self> {
        let text = || format!("{index}/{count}");
        if count == 0 {
            return Err(Error::argument("shard", text(), "the shard count must be at least 1"));
        }
        if index >= count {
            return Err(Error::argument(
                "shard",
                text(),
                "the shard index must be below the count (shards are 0-based)",
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's index, `0..count`.
    pub fn index(self) -> u64 {
        self.index
    }

    /// The number of shards.
    pub fn count(self) -> u64 {
        self.count
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::argument("shard", s, "expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?)
    }
}

/// A reproducible plan of blocks: block `i` of the logical stream is the block for budget
/// `size.budget(seed, i)` drawn from [`BlockRng::for_block`]`(seed, i)`; the plan covers this
/// shard's blocks `shard.index, shard.index + shard.count, …` below the logical count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlan {
    seed: u64,
    size: BlockSize,
    logical: u64,
    shard: Shard,
}

impl BlockPlan {
    /// The whole logical stream of `amount` blocks of `size` for `seed`.
    ///
    /// # Errors
    /// [`Error::Argument`] for a block size of 0 (or an inverted range), a block count of 0, or a
    /// total smaller than one block.
    pub fn new(seed: u64, size: BlockSize, amount: Amount) -> Result<Self> {
        let size = size.validate()?;
        let logical = match amount {
            Amount::Blocks(0) => return Err(Error::argument("block count", "0", "must be at least 1")),
            Amount::Blocks(n) => n,
            Amount::Total(total) => {
                let n = blocks_within(seed, size, total)?;
                if n == 0 {
                    return Err(Error::argument(
                        "total",
                        total.to_string(),
                        format!("smaller than one block of {} bytes", size.budget(seed, 0)),
                    ));
                }
                n
            }
        };
        Ok(Self { seed, size, logical, shard: Shard::WHOLE })
    }

    /// The same plan restricted to `shard`.
    ///
    /// # Errors
    /// [`Error::Argument`] when the shard would hold no block (its index is at or above the
    /// logical block count).
    pub fn with_shard(mut self, shard: Shard) -> Result<Self> {
        if shard.index >= self.logical {
            return Err(Error::argument(
                "shard",
                shard.to_string(),
                format!("holds no block of a {}-block stream", self.logical),
            ));
        }
        self.shard = shard;
        Ok(self)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The block-size policy.
    pub fn block_size(&self) -> BlockSize {
        self.size
    }

    /// The shard.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Blocks in the whole logical stream (all shards together).
    pub fn logical_blocks(&self) -> u64 {
        self.logical
    }

    /// Blocks in this shard (at least 1).
    pub fn len(&self) -> u64 {
        (self.logical - self.shard.index - 1) / self.shard.count + 1
    }

    /// Always false: a plan holds at least one block.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The logical index of this shard's `position`-th block.
    pub fn index(&self, position: u64) -> u64 {
        self.shard.index + position * self.shard.count
    }

    /// This shard's logical block indices, in order.
    pub fn indices(&self) -> impl Iterator<Item = u64> + Clone + use<> {
        let step = usize::try_from(self.shard.count).unwrap_or(usize::MAX);
        (self.shard.index..self.logical).step_by(step)
    }

    /// The budget of logical block `index`.
    pub fn budget(&self, index: u64) -> usize {
        self.size.budget(self.seed, index)
    }
}

/// Most blocks a `--total` with a block-size range may plan: counting them draws every block's
/// budget, so the count must stay bounded (about a second of work at this limit).
pub const MAX_RANGE_BLOCKS: u64 = 1 << 26;

/// The largest `n` with `budget(0) + … + budget(n - 1) <= total`.
fn blocks_within(seed: u64, size: BlockSize, total: u64) -> Result<u64> {
    match size {
        BlockSize::Fixed(n) => Ok(total / n as u64),
        BlockSize::Range { .. } => {
            let (mut n, mut sum) = (0u64, 0u64);
            while n <= MAX_RANGE_BLOCKS {
                sum = sum.saturating_add(size.budget(seed, n) as u64);
                if sum > total {
                    return Ok(n);
                }
                n += 1;
            }
            Err(Error::argument(
                "total",
                total.to_string(),
                format!("holds more than {MAX_RANGE_BLOCKS} blocks of {size}; use larger blocks or a fixed block size"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_stream() {
        let plan = BlockPlan::new(1, BlockSize::Fixed(10), Amount::Blocks(10)).unwrap();
        let mut all: Vec<u64> = Vec::new();
        for i in 0..3 {
            let shard = plan.clone().with_shard(Shard::new(i, 3).unwrap()).unwrap();
            assert_eq!(shard.len(), shard.indices().count() as u64);
            all.extend(shard.indices());
        }
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn totals_and_ranges() {
        let plan = BlockPlan::new(1, BlockSize::Fixed(10), Amount::Total(95)).unwrap();
        assert_eq!(plan.logical_blocks(), 9);
        let range = BlockSize::Range { min: 10, max: 20 };
        let plan = BlockPlan::new(5, range, Amount::Total(1000)).unwrap();
        let sum: u64 = (0..plan.logical_blocks()).map(|i| plan.budget(i) as u64).sum();
        assert!(sum <= 1000 && sum + plan.budget(plan.logical_blocks()) as u64 > 1000);
        assert!((0..100).all(|i| (10..=20).contains(&plan.budget(i))));
        assert_eq!("1KiB..2KiB".parse::<BlockSize>().unwrap(), BlockSize::Range { min: 1024, max: 2048 });
        assert!("2KiB..1KiB".parse::<BlockSize>().is_err());
        assert!("0".parse::<BlockSize>().is_err());
        assert_eq!("2/5".parse::<Shard>().unwrap(), Shard::new(2, 5).unwrap());
        assert!("5/5".parse::<Shard>().is_err() && "0/0".parse::<Shard>().is_err() && "1".parse::<Shard>().is_err());
    }
}
