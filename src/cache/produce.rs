//! Producing a plan's blocks on N threads: into a [`BlockCache`], or streamed in index order.
//!
//! Every worker thread owns a generator built from the same config and seed (setup is
//! deterministic) and one block buffer of the plan's largest budget. Block `i` is always drawn
//! from [`BlockRng::for_block`]`(seed, i)` with the budget of block `i`, so which thread builds
//! it changes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use super::plan::BlockPlan;
use super::{BlockCache, CachedBlock};
use crate::error::{Error, Result};
use crate::fill::Filled;
use crate::generator::BlockSource;
use crate::registry::FormatConfig;
use crate::rng::BlockRng;
use crate::strategy::{Strategy, StrategyChoice};

/// Blocks each streaming worker may have finished ahead of the writer (besides the one it is
/// building): the in-flight window is about `2 × threads` blocks.
const STREAM_DEPTH: usize = 1;

/// Checks a thread count.
///
/// # Errors
/// [`Error::Argument`] for 0.
pub fn check_threads(threads: usize) -> Result<usize> {
    if threads == 0 {
        return Err(Error::argument("threads", "0", "must be at least 1"));
    }
    if threads > MAX_THREADS {
        return Err(Error::argument("threads", threads.to_string(), format!("must be at most {MAX_THREADS}")));
    }
    Ok(threads)
}

/// Most worker threads a build or stream may use: each holds its own generator and buffers.
pub const MAX_THREADS: usize = 256;

/// The error for a worker thread the operating system refused to start.
fn spawn_failed(source: std::io::Error) -> Error {
    Error::io("start", "a worker thread", source)
}

/// One block handed to a [`Producer::stream`] consumer, in index order.
#[derive(Debug, Clone, Copy)]
pub struct StreamedBlock<'a> {
    /// Logical index of the block.
    pub index: u64,
    /// The budget it was built for.
    pub budget: usize,
    /// Members and length.
    pub filled: Filled,
    /// The encoded block.
    pub bytes: &'a [u8],
}

/// A format, a resolved strategy and a plan, with the generator already set up (so config
/// errors and block sizes that can never hold a member are reported before any thread starts).
/// Other threads get forks of it: the format's pools are built once and shared.
pub struct Producer<'a> {
    strategy: Strategy,
    plan: &'a BlockPlan,
    first: Box<dyn BlockSource>,
}

impl std::fmt::Debug for Producer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("format", &self.first.format_name())
            .field("strategy", &self.strategy)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<'a> Producer<'a> {
    /// Resolves `strategy` (`auto` through the config's selection at the plan's largest block size),
    /// builds the first generator and checks that the smallest budget can hold a member.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; [`Error::BudgetBelowMinimum`] naming the format, the
    /// block size and the smallest member size when the plan's smallest budget cannot hold one.
    pub fn new(config: &'a FormatConfig, strategy: StrategyChoice, plan: &'a BlockPlan) -> Result<Self> {
        let strategy = config.resolve(strategy, plan.block_size().max() as u64);
        let first = config.build(plan.seed(), strategy)?;
        first.check_budget(plan.block_size().min())?;
        Ok(Self { strategy, plan, first })
    }

    /// The concrete strategy in use.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The format's name.
    pub fn format_name(&self) -> &'static str {
        self.first.format_name()
    }

    /// `n` workers (at least one): the set-up generator and `n - 1` forks of it.
    fn workers(self, n: usize) -> Vec<Worker<'a>> {
        let plan = self.plan;
        let mut workers: Vec<Worker<'a>> = (1..n.max(1)).map(|_| Worker { plan, source: self.first.fork() }).collect();
        workers.insert(0, Worker { plan, source: self.first });
        workers
    }

    /// Builds every block of the plan on `threads` threads into a [`BlockCache`]. Each block is
    /// generated into the thread's reusable buffer, then copied into one allocation of exactly
    /// its length. The result is byte-identical for every thread count.
    ///
    /// # Errors
    /// [`Error::Argument`] for 0 threads; [`Error::Block`] for the lowest-indexed block that
    /// could not be built (e.g. its first member does not fit its budget). No empty block is
    /// ever stored.
    pub fn build_cache(self, threads: usize) -> Result<BlockCache> {
        let threads = check_threads(threads)?;
        let format = self.format_name();
        let plan = self.plan;
        let len = usize::try_from(plan.len())
            .map_err(|_| Error::argument("block count", plan.len().to_string(), "too many blocks"))?;
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(len)
            .map_err(|_| Error::argument("block count", plan.len().to_string(), "too many blocks to keep in memory"))?;
        slots.resize(len, CachedBlock::EMPTY);
        let queue = Mutex::new(slots.iter_mut().zip(plan.indices()));
        let failed = AtomicBool::new(false);
        let run = |mut worker: Worker<'a>| -> Result<(), (u64, Error)> {
            let mut buf = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((slot, index)) = next else { break };
                match worker.produce(index, &mut buf) {
                    Ok(filled) => {
                        *slot = CachedBlock { index, members: filled.members, bytes: Bytes::copy_from_slice(&buf) }
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err((index, e));
                    }
                }
            }
            Ok(())
        };
        let mut workers = self.workers(threads.min(len)).into_iter();
        let worker0 = workers.next();
        let results: Vec<Result<(), (u64, Error)>> = std::thread::scope(|s| {
            let others: Vec<_> = workers
                .map(|worker| {
                    std::thread::Builder::new().spawn_scoped(s, || run(worker)).map_err(|e| (u64::MAX, spawn_failed(e)))
                })
                .collect();
            // The first worker runs on this thread; a panic there is caught like one in a spawned
            // worker, so every worker's panic is reported the same way.
            let mut results: Vec<_> = worker0
                .into_iter()
                .map(|w| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(w)))
                        .unwrap_or_else(|p| Err((u64::MAX, Error::worker_panicked(p.as_ref()))))
                })
                .collect();
            results.extend(others.into_iter().map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|p| Err((u64::MAX, Error::worker_panicked(p.as_ref())))),
                Err(e) => Err(e),
            }));
            results
        });
        // Workers claim indices in order, so the lowest failing index is the same on any thread
        // count: every lower index was claimed, and so finished, before it.
        if let Some((_, e)) = results.into_iter().filter_map(Result::err).min_by_key(|(index, _)| *index) {
            return Err(e);
        }
        drop(queue);
        Ok(BlockCache::from_blocks(format, plan.clone(), slots))
    }

    /// Generates the plan's blocks on `threads` threads and hands them to `sink` in index order
    /// while later blocks are still being built. At most about `2 × threads` blocks are in flight,
    /// so memory stays bounded whatever the plan's total. Output is identical for every thread
    /// count.
    ///
    /// # Errors
    /// [`Error::Argument`] for 0 threads; the first error of `sink`; [`Error::Block`] for the
    /// first block (in index order) that could not be built.
    pub fn stream(self, threads: usize, mut sink: impl FnMut(StreamedBlock<'_>) -> Result<()>) -> Result<()> {
        let threads = check_threads(threads)?;
        let plan = self.plan;
        let lanes = usize::try_from(plan.len()).unwrap_or(usize::MAX).min(threads).max(1);
        let mut emit = |index: u64, filled: Filled, bytes: &[u8]| {
            sink(StreamedBlock { index, budget: plan.budget(index), filled, bytes })
        };
        let mut workers = self.workers(lanes);
        if lanes == 1 {
            let mut buf = Vec::new();
            for worker in &mut workers {
                for index in plan.indices() {
                    // Built on this thread: a panic is reported as a worker's would be.
                    let filled =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.produce(index, &mut buf)))
                            .map_err(|p| Error::worker_panicked(p.as_ref()))??;
                    emit(index, filled, &buf)?;
                }
            }
            return Ok(());
        }
        std::thread::scope(|s| {
            // Lane `w` builds positions w, w + lanes, …; the writer takes them round robin, which
            // is index order. Each lane's channel holds STREAM_DEPTH finished blocks, and spent
            // buffers go back to the lane for reuse.
            let mut channels = Vec::with_capacity(lanes);
            let mut handles = Vec::with_capacity(lanes);
            let mut result = Ok(());
            for (lane, worker) in workers.into_iter().enumerate() {
                let (done_tx, done_rx) = mpsc::sync_channel::<Result<Done>>(STREAM_DEPTH);
                let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
                match std::thread::Builder::new()
                    .spawn_scoped(s, move || lane_loop(plan, worker, lane, lanes, &done_tx, &spare_rx))
                {
                    Ok(handle) => handles.push(handle),
                    Err(e) => {
                        result = Err(spawn_failed(e));
                        break;
                    }
                }
                channels.push((done_rx, spare_tx));
            }
            if result.is_ok() {
                result = (|| {
                    for position in 0..plan.len() {
                        let (done_rx, spare_tx) = &channels[(position % lanes as u64) as usize];
                        // A lane's channel closes early only when the lane panicked (reported below).
                        let done = done_rx.recv().map_err(|_| lane_stopped())??;
                        emit(done.index, done.filled, &done.buf)?;
                        // A lane that has finished no longer takes buffers back; that is fine.
                        let _ = spare_tx.send(done.buf);
                    }
                    Ok(())
                })();
            }
            // Closing the channels stops lanes still running (their next send fails); joining them
            // here, not at the end of the scope, turns a lane's panic into an error.
            drop(channels);
            let joined: Vec<_> = handles.into_iter().map(std::thread::ScopedJoinHandle::join).collect();
            match joined.into_iter().find_map(std::result::Result::err) {
                Some(payload) => Err(Error::worker_panicked(payload.as_ref())),
                None => result,
            }
        })
    }
}

/// A finished block on its way from a lane to the writer.
struct Done {
    index: u64,
    filled: Filled,
    buf: Vec<u8>,
}

/// One streaming lane: builds its positions in order and sends them, stopping at the first error
/// or when the writer has gone.
fn lane_loop(
    plan: &BlockPlan,
    mut worker: Worker<'_>,
    lane: usize,
    lanes: usize,
    done: &mpsc::SyncSender<Result<Done>>,
    spare: &mpsc::Receiver<Vec<u8>>,
) {
    for position in (lane as u64..plan.len()).step_by(lanes) {
        let index = plan.index(position);
        let mut buf = spare.try_recv().unwrap_or_default();
        let result = worker.produce(index, &mut buf).map(|filled| Done { index, filled, buf });
        let stop = result.is_err();
        if done.send(result).is_err() || stop {
            return;
        }
    }
}

/// A thread's generator bound to the plan.
struct Worker<'p> {
    plan: &'p BlockPlan,
    source: Box<dyn BlockSource>,
}

impl Worker<'_> {
    /// Replaces `buf`'s contents with block `index`. `buf` keeps its capacity: a block never
    /// exceeds its budget, so a buffer of the plan's largest budget never grows.
    fn produce(&mut self, index: u64, buf: &mut Vec<u8>) -> Result<Filled> {
        buf.clear();
        let mut rng = BlockRng::for_block(self.plan.seed(), index);
        self.source
            .fill(&mut rng, self.plan.budget(index), buf)
            .map_err(|source| Error::Block { index, source: Box::new(source) })
    }
}

/// A lane whose channel closed before it sent all its blocks: it panicked, and joining it says
/// with what (this error is only seen if the join found no panic).
fn lane_stopped() -> Error {
    Error::WorkerPanicked { message: "a streaming worker stopped before finishing its blocks".to_owned() }
}
