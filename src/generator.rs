//! A format bound to a strategy and its buffers, plus the object-safe face the CLI, the block
//! cache and the calibrator use to drive any format at run time.

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::fill::{Filled, Workspace, fill_compressed};
use crate::format::Format;
use crate::retention::Peak;
use crate::rng::BlockRng;
use crate::strategy::{BufferPolicy, Strategy};

/// A format with a strategy and (for `reuse`) the buffers it keeps between blocks. The format
/// (its pools and contexts) is shared: [`BlockSource::fork`] gives another thread its own
/// buffers over the same format without building it again.
#[derive(Debug)]
pub struct Generator<F: Format> {
    format: std::sync::Arc<F>,
    strategy: Strategy,
    compression: Compression,
    workspace: Workspace<F::Member>,
    block: Vec<u8>,
    /// Peak length of `block` ([`BlockSource::next_block`] with a reuse policy).
    block_peak: Peak,
}

impl<F: Format> Generator<F> {
    /// Binds `format` to `strategy`.
    pub fn new(format: F, strategy: Strategy) -> Self {
        Self {
            format: std::sync::Arc::new(format),
            strategy,
            compression: Compression::None,
            workspace: Workspace::default(),
            block: Vec::new(),
            block_peak: Peak::default(),
        }
    }

    /// Budgets apply to blocks compressed with `compression` (see [`crate::fill_compressed`]).
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The format.
    pub fn format(&self) -> &F {
        &self.format
    }
}

/// Object-safe block production, implemented by every [`Generator`].
pub trait BlockSource: Send {
    /// The format's name.
    fn format_name(&self) -> &'static str;

    /// The concrete strategy in use.
    fn strategy(&self) -> Strategy;

    /// The compression budgets apply to.
    fn compression(&self) -> Compression;

    /// Smallest budget that could hold one member.
    fn min_block_len(&self) -> usize;

    /// Rejects up front a budget below [`BlockSource::min_block_len`], which no block can fit.
    ///
    /// # Errors
    /// [`Error::BudgetBelowMinimum`] naming the format, the budget and the smallest usable one.
    fn check_budget(&self, budget: usize) -> Result<()> {
        let smallest = self.min_block_len();
        if budget < smallest {
            return Err(Error::BudgetBelowMinimum { format: self.format_name(), budget, smallest });
        }
        Ok(())
    }

    /// Appends one block for `budget` to a caller-owned buffer. See [`crate::fill::fill`].
    ///
    /// # Errors
    /// As [`crate::fill::fill`].
    fn fill(&mut self, rng: &mut BlockRng, budget: usize, out: &mut Vec<u8>) -> Result<Filled>;

    /// Produces one block into a buffer the generator manages by its buffer policy: `fresh`
    /// allocates a new one per call, `reuse` clears and refills the same one.
    ///
    /// # Errors
    /// As [`crate::fill::fill`].
    fn next_block(&mut self, rng: &mut BlockRng, budget: usize) -> Result<(&[u8], Filled)>;

    /// Bytes of buffer capacity the generator keeps between blocks.
    fn retained_bytes(&self) -> usize;

    /// A generator with the same format and strategy and buffers of its own, for another thread.
    /// The format is shared, not rebuilt, so this costs a few allocations and no setup time.
    fn fork(&self) -> Box<dyn BlockSource>;
}

impl<F: Format + 'static> BlockSource for Generator<F> {
    fn format_name(&self) -> &'static str {
        self.format.name()
    }

    fn strategy(&self) -> Strategy {
        self.strategy
    }

    fn compression(&self) -> Compression {
        self.compression
    }

    fn min_block_len(&self) -> usize {
        if self.compression.is_none() { self.format.min_block_len() } else { self.compression.min_block_len() }
    }

    fn fill(&mut self, rng: &mut BlockRng, budget: usize, out: &mut Vec<u8>) -> Result<Filled> {
        fill_compressed(&*self.format, self.strategy, self.compression, &mut self.workspace, rng, budget, out)
    }

    fn next_block(&mut self, rng: &mut BlockRng, budget: usize) -> Result<(&[u8], Filled)> {
        match self.strategy.buffer {
            BufferPolicy::Fresh => self.block = Vec::new(),
            BufferPolicy::Reuse => {
                // The output buffer gives memory back like the workspace does; it grows in
                // `fill`, which reserves for the whole budget once a block comes close to it.
                self.block_peak.observe(self.block.len());
                let shrink = self.block_peak.end_block();
                self.block.clear();
                if shrink {
                    let peak = self.block_peak.get();
                    self.block.shrink_to(peak.saturating_add(peak / 8));
                }
            }
        }
        let filled = fill_compressed(
            &*self.format,
            self.strategy,
            self.compression,
            &mut self.workspace,
            rng,
            budget,
            &mut self.block,
        )?;
        Ok((&self.block, filled))
    }

    fn retained_bytes(&self) -> usize {
        self.workspace.retained_bytes() + self.block.capacity()
    }

    fn fork(&self) -> Box<dyn BlockSource> {
        Box::new(Generator {
            format: std::sync::Arc::clone(&self.format),
            strategy: self.strategy,
            compression: self.compression,
            workspace: Workspace::default(),
            block: Vec::new(),
            block_peak: Peak::default(),
        })
    }
}
