//! Block cache for load generators: build once on N threads, replay at any rate.
//!
//! A [`BlockPlan`] names a reproducible workload: a seed, a [`BlockSize`] policy (fixed, or a
//! range sampled per block from a size stream of its own), an [`Amount`] of the logical stream
//! and a [`Shard`] of it. Block `i` of the logical stream depends on (seed, i) alone, so
//!
//! * a cache built on 1 thread and one built on 8 threads are byte-identical, and
//! * shard `i` of `n` (the blocks whose index is `i` modulo `n`) lets `n` machines generate
//!   disjoint parts of one workload without coordinating.
//!
//! [`BlockCache`] stores each block as [`Bytes`] in one allocation of exactly its length, with
//! its member count. It never stores an empty block: a block whose first member does not fit
//! fails the build with an error naming the format, the block size and the smallest member size.
//! Consumers replay it with [`BlockCache::handle`]: a cheap cloneable cursor per sending thread
//! that cycles over the blocks and can peek at the next block's size without copying.
//!
//! Memory: the cache holds its blocks' bytes plus [`BlockCache::OVERHEAD_PER_BLOCK`] bytes of
//! metadata per block. While building, each thread also holds its generator's buffers and one
//! output buffer of the largest block size, so the peak stays below
//! `T + threads × (k × block size) + setup memory`, with `k` = [`WORKER_BUFFER_BLOCKS`] and the
//! setup memory the format's pools, built once and shared (`tests/cache_memory.rs` checks it).
//!
//! To write blocks out instead of keeping them, [`Producer::stream`] hands them over in index
//! order while later ones are still being built, with a bounded number in flight.
//!
//! ```
//! use payforge::cache::{Amount, BlockCache, BlockPlan, BlockSize};
//! use payforge::{Registry, StrategyChoice};
//!
//! # fn main() -> payforge::Result<()> {
//! let plan = BlockPlan::new(42, BlockSize::Fixed(16 * 1024), Amount::Total(256 * 1024))?;
//! let config = Registry::builtin().default_config("syslog5424")?;
//! let cache = BlockCache::build(&config, StrategyChoice::Auto, &plan, 2)?;
//! assert_eq!(cache.len(), 16);
//!
//! let mut sender = cache.handle(); // clone one per sending thread
//! let next_len = sender.peek().len(); // no copy
//! let block = sender.next_block(); // a cheap `Bytes` clone, cycling forever
//! assert_eq!(block.len(), next_len);
//! assert!(block.len() <= 16 * 1024);
//! # Ok(())
//! # }
//! ```

mod plan;
mod produce;

use std::sync::Arc;

use bytes::Bytes;

pub use plan::{Amount, BlockPlan, BlockSize, Shard};
pub use produce::{Producer, StreamedBlock, check_threads};

use crate::error::Result;
use crate::registry::FormatConfig;
use crate::strategy::StrategyChoice;

/// `k` in the memory bound of a cache build or a stream, `T + threads × (k × block size) + setup
/// memory`: the most block sizes of buffers one worker thread holds, whatever the strategy. An
/// encode-once worker holds a scratch buffer of at most 1.125 × (block + one member), its offsets
/// and its output buffer; a re-encode worker a probe buffer, the best fitting encoding, its
/// members and the output, and its buffers grow by doubling in the first blocks. Measured for the
/// built-in formats at 64 KiB on 2 threads (`tests/cache_memory.rs`): 0 to 2.5 block sizes per
/// thread for encode-once, up to 5.3 for re-encode (syslog5424, whose members are large), and up
/// to 6.5 for trace-v05, whose dictionary framing also keeps the block's string table. `T` is
/// the blocks kept (nothing, for a stream); the setup memory is the format's pools, built once
/// before the workers start and shared by all of them. A member larger than a block adds its own
/// size (it is encoded once before it is found not to fit).
pub const WORKER_BUFFER_BLOCKS: usize = 8;

/// One cached block: its bytes (one exact allocation, never empty) and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBlock {
    index: u64,
    members: usize,
    bytes: Bytes,
}

impl CachedBlock {
    /// Placeholder for a slot not yet built (no allocation).
    const EMPTY: CachedBlock = CachedBlock { index: 0, members: 0, bytes: Bytes::new() };

    /// Index of the block in the logical stream (with sharding: `shard.index + k × shard.count`).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Members in the block (at least 1).
    pub fn members(&self) -> usize {
        self.members
    }

    /// Length in bytes (at least 1).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: the cache never stores an empty block.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The encoded block.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

#[derive(Debug)]
struct Inner {
    format: &'static str,
    plan: BlockPlan,
    blocks: Vec<CachedBlock>,
    total_bytes: u64,
}

/// An immutable, shareable set of prebuilt blocks. Cloning shares the blocks.
#[derive(Debug, Clone)]
pub struct BlockCache {
    inner: Arc<Inner>,
}

impl BlockCache {
    /// Metadata bytes stored per block besides its bytes.
    pub const OVERHEAD_PER_BLOCK: usize = std::mem::size_of::<CachedBlock>();

    /// Builds the blocks of `plan` for `config` on `threads` threads. Shorthand for
    /// [`Producer::new`] then [`Producer::build_cache`].
    ///
    /// # Errors
    /// As [`Producer::new`] and [`Producer::build_cache`]: an invalid config, 0 threads, or a
    /// block whose first member does not fit.
    pub fn build(config: &FormatConfig, strategy: StrategyChoice, plan: &BlockPlan, threads: usize) -> Result<Self> {
        check_threads(threads)?;
        Producer::new(config, strategy, plan)?.build_cache(threads)
    }

    fn from_blocks(format: &'static str, plan: BlockPlan, blocks: Vec<CachedBlock>) -> Self {
        let total_bytes = blocks.iter().map(|b| b.len() as u64).sum();
        Self { inner: Arc::new(Inner { format, plan, blocks, total_bytes }) }
    }

    /// The format's name.
    pub fn format_name(&self) -> &'static str {
        self.inner.format
    }

    /// The plan the cache was built from.
    pub fn plan(&self) -> &BlockPlan {
        &self.inner.plan
    }

    /// The blocks, in index order.
    pub fn blocks(&self) -> &[CachedBlock] {
        &self.inner.blocks
    }

    /// Number of blocks (at least 1).
    pub fn len(&self) -> usize {
        self.inner.blocks.len()
    }

    /// Always false: a cache holds at least one block.
    pub fn is_empty(&self) -> bool {
        self.inner.blocks.is_empty()
    }

    /// Sum of the blocks' lengths.
    pub fn total_bytes(&self) -> u64 {
        self.inner.total_bytes
    }

    /// An endless iterator over the blocks, in order, starting again after the last.
    pub fn cycle(&self) -> impl Iterator<Item = &CachedBlock> {
        self.inner.blocks.iter().cycle()
    }

    /// A cursor at the first block. Clone it (cheap: a reference count and a position) to give
    /// each consumer thread its own position.
    pub fn handle(&self) -> CacheHandle {
        CacheHandle { cache: self.clone(), position: 0 }
    }
}

/// A consumer's position in a [`BlockCache`]; cycles forever. Clones move independently.
#[derive(Debug, Clone)]
pub struct CacheHandle {
    cache: BlockCache,
    position: usize,
}

impl CacheHandle {
    /// The block [`CacheHandle::next_block`] returns next, without copying or advancing.
    pub fn peek(&self) -> &CachedBlock {
        // `position < len` always holds, and a cache is never empty.
        &self.cache.inner.blocks[self.position]
    }

    /// Returns the next block's bytes (a reference-counted clone, no copy) and advances,
    /// wrapping after the last block.
    pub fn next_block(&mut self) -> Bytes {
        let bytes = self.peek().bytes.clone();
        self.position = (self.position + 1) % self.cache.len();
        bytes
    }

    /// Position of the next block in [`BlockCache::blocks`].
    pub fn position(&self) -> usize {
        self.position
    }

    /// The cache this handle reads.
    pub fn cache(&self) -> &BlockCache {
        &self.cache
    }
}

impl Iterator for CacheHandle {
    type Item = Bytes;

    /// Never `None`: the handle cycles.
    fn next(&mut self) -> Option<Bytes> {
        Some(self.next_block())
    }
}
