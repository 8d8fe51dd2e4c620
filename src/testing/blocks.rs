//! The checks on blocks and members: the name, every strategy against the naive block, edge
//! budgets, determinism, fill and the member-length bound.

use super::memory::shared;
use super::reference::{Naive, naive_block, prefix_sizes};
use super::{Conformance, Failure, Report};
use crate::error::Error;
use crate::fill::MAX_BUDGET;
use crate::format::Configured;
use crate::generator::{BlockSource, Generator};
use crate::registry::FormatConfig;
use crate::rng::BlockRng;
use crate::strategy::Strategy;

/// Prefixes the output buffer holds before a block: blocks are appended after a prefix, and
/// written into an empty buffer (where encode-once builds newline-framed blocks in place).
const PREFIXES: [&[u8]; 4] = [b"prefix", b"", b"prefix", b""];

/// Budgets at the exact edge of every prefix up to this many members are checked.
const EDGE_MEMBERS: usize = 20;

/// Up to this many members, every shorter prefix is also checked to fit (the linear definition).
const LINEAR_UP_TO: usize = 64;

impl<F: Configured> Conformance<F> {
    /// `Format::name` is `Configured::NAME` for every config.
    ///
    /// # Errors
    /// A [`Failure`] naming both names.
    pub fn check_name(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        for (name, config) in &self.configs {
            let format = Self::build("name", name, config, 1)?;
            if format.name() != F::NAME {
                let msg = format!("Format::name is {:?}, Configured::NAME is {:?}", format.name(), F::NAME);
                return Err(Failure::new("name", name, msg));
            }
            report.line("name", name, format!("{:?}", F::NAME));
        }
        Ok(report)
    }

    /// For `cases` random `(seed, block index, budget)` per config, plus budgets around the
    /// smallest block and at the exact edge of every prefix up to 20 members (the naive size of
    /// the prefix, and one byte less), every strategy fills exactly the naive block.
    ///
    /// # Errors
    /// A [`Failure`] with the seed, index, budget and strategy that disagree.
    pub fn check_reference(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        let mut draw = BlockRng::for_block(self.seed, 0);
        for (name, config) in &self.configs {
            let format = Self::build("reference", name, config, 0)?;
            let smallest = format.min_block_len();
            let mut cases: Vec<(u64, u64, usize)> = [1, smallest.saturating_sub(1).max(1), smallest, smallest + 1]
                .into_iter()
                .enumerate()
                .map(|(i, budget)| (i as u64, i as u64, budget))
                .collect();
            // Exact edges: budgets of exactly the naive size of `k` members and one byte less, for
            // every `k` up to EDGE_MEMBERS (past the 1-byte msgpack array header, say).
            let (seed, index) = (draw.next_u64(), draw.below(1000));
            let cap = format.max_members().min(EDGE_MEMBERS);
            let sizes = prefix_sizes(&format, seed, index, cap).map_err(|e| Failure::new("reference", name, e))?;
            cases.extend(sizes.iter().flat_map(|&size| [(seed, index, size), (seed, index, size.saturating_sub(1))]));
            cases.extend((0..self.cases).map(|_| (draw.next_u64(), draw.below(1000), self.budget(&mut draw))));
            let count = cases.len();
            let (mut blocks, mut members) = (0usize, 0usize);
            for (seed, index, budget) in cases {
                let k = self.reference_case(name, config, seed, index, budget)?;
                blocks += usize::from(k > 0);
                members += k;
            }
            report.line(
                "reference",
                name,
                format!("{count} cases x {} strategies: {blocks} blocks, {members} members", Strategy::ALL.len()),
            );
        }
        Ok(report)
    }

    /// Block `index` of a run seeded with `seed`, for `budget`, on every strategy against the
    /// naive block, for each config: the member counts of the blocks (0 when nothing fits).
    ///
    /// # Errors
    /// As [`Conformance::check_reference`].
    pub fn check_block(&self, seed: u64, index: u64, budget: usize) -> Result<Vec<usize>, Failure> {
        let _shared = shared();
        self.configs.iter().map(|(name, config)| self.reference_case(name, config, seed, index, budget)).collect()
    }

    /// Mostly small budgets (fast, and where the edge cases live), sometimes up to `max_budget`.
    fn budget(&self, draw: &mut BlockRng) -> usize {
        let max = self.max_budget as u64;
        let (lo, hi) = match draw.below(12) {
            0..8 => (1, 4095),
            8..11 => (4096, 262_143),
            _ => (262_144, max),
        };
        draw.inclusive(lo.min(max), hi.min(max)) as usize
    }

    /// One case: the naive block against every strategy. Returns the block's member count.
    fn reference_case(
        &self,
        name: &str,
        config: &F::Config,
        seed: u64,
        index: u64,
        budget: usize,
    ) -> Result<usize, Failure> {
        let case = format!("seed {seed}, block {index}, budget {budget}");
        let fail = |msg: String| Failure::new("reference", name, format!("{case}: {msg}"));
        let format = Self::build("reference", name, config, seed)?;
        let want = naive_block(&format, seed, index, budget).map_err(&fail)?;
        if let Naive::Block(block) = &want {
            if block.bytes.len() > budget || block.next_len.is_some_and(|next| next <= budget) {
                return Err(fail(format!("the naive block is not maximal: {block:?}")));
            }
            if block.members <= LINEAR_UP_TO {
                let sizes = prefix_sizes(&format, seed, index, block.members).map_err(&fail)?;
                if let Some(j) = sizes.iter().position(|&s| s > budget) {
                    return Err(fail(format!(
                        "a block size decreased: {} members fit, {} do not",
                        block.members,
                        j + 1
                    )));
                }
            }
        }
        for strategy in Strategy::ALL {
            let mut generator = Generator::new(Self::build("reference", name, config, seed)?, strategy);
            for prefix in PREFIXES {
                let mut out = prefix.to_vec();
                let got = generator.fill(&mut BlockRng::for_block(seed, index), budget, &mut out);
                let appended = out.get(prefix.len()..).unwrap_or_default();
                let fail = |msg: String| fail(format!("{strategy}, after {} prefix bytes: {msg}", prefix.len()));
                if !out.starts_with(prefix) {
                    return Err(fail("the bytes before the block were changed".into()));
                }
                match (&want, got) {
                    (Naive::Block(block), Ok(filled)) => {
                        if filled.bytes > budget {
                            return Err(fail(format!("{} bytes, over budget", filled.bytes)));
                        }
                        if filled.members != block.members {
                            return Err(fail(format!(
                                "{} members, the naive block has {}",
                                filled.members, block.members
                            )));
                        }
                        if filled.bytes != appended.len() || appended != block.bytes.as_slice() {
                            let at = appended.iter().zip(&block.bytes).position(|(a, b)| a != b);
                            return Err(fail(format!(
                                "bytes differ from the naive block ({} bytes reported, {} appended, {} naive; first \
                                 difference at {at:?})",
                                filled.bytes,
                                appended.len(),
                                block.bytes.len()
                            )));
                        }
                        if filled.encoded < filled.bytes {
                            return Err(fail(format!("encoded {} < {} bytes", filled.encoded, filled.bytes)));
                        }
                    }
                    (Naive::TooSmall { needed: want }, Err(Error::BudgetTooSmall { needed, smallest, .. })) => {
                        if needed != *want || smallest > needed || !appended.is_empty() {
                            return Err(fail(format!(
                                "BudgetTooSmall with needed {needed} (naive {want}), smallest {smallest}, {} bytes \
                                 appended",
                                appended.len()
                            )));
                        }
                    }
                    (Naive::TooSmall { .. }, Err(Error::BudgetBelowMinimum { smallest, .. })) => {
                        if budget >= smallest || !appended.is_empty() {
                            return Err(fail(format!("BudgetBelowMinimum with smallest {smallest}")));
                        }
                    }
                    (want, got) => return Err(fail(format!("naive {want:?}, got {got:?}"))),
                }
            }
        }
        Ok(match want {
            Naive::Block(block) => block.members,
            Naive::TooSmall { .. } => 0,
        })
    }

    /// Budget 0, one byte under the smallest block and budgets over [`MAX_BUDGET`] are errors
    /// that name the format and append nothing.
    ///
    /// # Errors
    /// A [`Failure`] with the budget and what came back.
    pub fn check_budgets(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        for (name, config) in &self.configs {
            let fail = |msg: String| Failure::new("budgets", name, msg);
            let config = FormatConfig::new::<F>(config.clone());
            let mut source = config.build(1, Strategy::REUSE_ENCODE_ONCE).map_err(|e| fail(e.to_string()))?;
            let below = source.min_block_len().saturating_sub(1);
            for budget in [0, below, MAX_BUDGET + 1, usize::MAX] {
                let mut out = Vec::new();
                let got = source.fill(&mut BlockRng::for_block(1, 0), budget, &mut out);
                let ok = match &got {
                    Err(Error::BudgetTooSmall { format, .. } | Error::BudgetBelowMinimum { format, .. }) => {
                        budget <= MAX_BUDGET && *format == F::NAME
                    }
                    Err(Error::BudgetTooLarge { format, .. }) => budget > MAX_BUDGET && *format == F::NAME,
                    _ => false,
                };
                let named = got.as_ref().err().is_some_and(|e| e.to_string().contains(F::NAME));
                if !ok || !named || !out.is_empty() {
                    return Err(fail(format!("budget {budget}: {got:?}, {} bytes appended", out.len())));
                }
            }
            report.line("budgets", name, format!("0, {below}, {} and {} rejected", MAX_BUDGET + 1, usize::MAX));
        }
        Ok(report)
    }

    /// The same seed gives the same block through [`FormatConfig`] on every strategy and on a
    /// forked generator; another seed gives another block.
    ///
    /// # Errors
    /// A [`Failure`] naming the strategies that disagree.
    pub fn check_determinism(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        for (name, config) in &self.configs {
            let fail = |msg: String| Failure::new("determinism", name, msg);
            let config = FormatConfig::new::<F>(config.clone());
            let block = |seed: u64, strategy: Strategy, fork: bool| -> Result<Vec<u8>, Failure> {
                let mut source = config.build(seed, strategy).map_err(|e| fail(e.to_string()))?;
                if fork {
                    source = source.fork();
                }
                let (bytes, _) =
                    source.next_block(&mut BlockRng::for_block(seed, 3), 65_536).map_err(|e| fail(e.to_string()))?;
                Ok(bytes.to_vec())
            };
            let first = block(7, Strategy::FRESH_REENCODE, false)?;
            for strategy in Strategy::ALL {
                for fork in [false, true] {
                    if block(7, strategy, fork)? != first {
                        return Err(fail(format!("{strategy} (forked: {fork}) differs from fresh-reencode, seed 7")));
                    }
                }
            }
            if block(8, Strategy::FRESH_REENCODE, false)? == first {
                return Err(fail("seeds 7 and 8 give the same block".into()));
            }
            report.line("determinism", name, format!("{} strategies, forked or not, agree", Strategy::ALL.len()));
        }
        Ok(report)
    }

    /// Blocks of 64 KiB (16 of them) and 1 MiB (4) are within budget; their fill is reported,
    /// and must reach [`Conformance::min_fill`] when it is set.
    ///
    /// # Errors
    /// A [`Failure`] with the budget and the fill.
    pub fn check_fill(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        for (name, config) in &self.configs {
            let fail = |msg: String| Failure::new("fill", name, msg);
            let config = FormatConfig::new::<F>(config.clone());
            let mut source = config.build(3, Strategy::REUSE_ENCODE_ONCE).map_err(|e| fail(e.to_string()))?;
            let mut line = Vec::new();
            for (budget, blocks) in [(64usize << 10, 16u64), (1 << 20, 4)] {
                let mut total = 0usize;
                for i in 0..blocks {
                    let (bytes, filled) = source
                        .next_block(&mut BlockRng::for_block(3, i), budget)
                        .map_err(|e| fail(format!("budget {budget}, block {i}: {e}")))?;
                    if bytes.len() > budget || filled.bytes != bytes.len() {
                        return Err(fail(format!("budget {budget}, block {i}: {} bytes", bytes.len())));
                    }
                    total += bytes.len();
                }
                let fill = total as f64 / (budget as f64 * blocks as f64);
                if self.min_fill.is_some_and(|least| fill < least) {
                    return Err(fail(format!("fill {fill:.4} at {budget} bytes, below {:?}", self.min_fill)));
                }
                report.fill.push((name.clone(), budget, fill));
                line.push(format!("{fill:.4} at {budget} B"));
            }
            report.line("fill", name, line.join(", "));
        }
        Ok(report)
    }

    /// `min_member_len` is at most the encoded length of each of [`Conformance::member_samples`]
    /// members (encoded alone, and as the first member of a block).
    ///
    /// # Errors
    /// A [`Failure`] with the bound and the shorter member's length.
    pub fn check_min_member_len(&self) -> Result<Report, Failure> {
        let _shared = shared();
        let mut report = Report::default();
        for (name, config) in &self.configs {
            let format = Self::build("min_member_len", name, config, 4)?;
            let claimed = format.min_member_len();
            let mut rng = BlockRng::for_block(4, 0);
            let (mut shortest, mut out) = (usize::MAX, Vec::new());
            for _ in 0..self.member_samples {
                let member = format.generate(&mut rng);
                out.clear();
                format.encode(&member, &mut out);
                let alone = out.len();
                out.clear();
                format.encode_indexed(&member, &mut crate::dictionary::StringTable::new(), &mut out);
                shortest = shortest.min(alone).min(out.len());
            }
            if claimed > shortest {
                let msg = format!("min_member_len is {claimed}, but a member encodes to {shortest} bytes");
                return Err(Failure::new("min_member_len", name, msg));
            }
            report.min_member_len.push((name.clone(), claimed, shortest));
            report.line(
                "min_member_len",
                name,
                format!("claimed {claimed}, shortest of {} members {shortest}", self.member_samples),
            );
        }
        Ok(report)
    }
}
