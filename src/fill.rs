//! THE sizing loop: budget in, block out, for every format and every strategy.
//!
//! A block for budget `B` is the framed encoding of the longest prefix `m1..mk` of the member
//! stream with `size(k) <= B` (see [`crate::framing`]). [`fill`] finds `k` with
//! [`crate::search::longest_prefix`] and only the *probe* differs by strategy:
//!
//! * re-encode: members are generated lazily into a list; a probe of `k` encodes the whole prefix
//!   into a probe buffer. The best fitting encoding is kept, so the block is never encoded again.
//! * encode-once: each member is generated and encoded once, framed, into a scratch buffer with
//!   its end offset; a probe reads `size(k)` from the offsets, and encoding stops at the first
//!   member that cannot fit.
//!
//! Because members are drawn from the RNG in stream order and neither sizing lets the budget
//! influence what is drawn, every strategy produces the same bytes for the same RNG state. How far
//! the RNG advances past the block differs by strategy, so use one RNG per block
//! ([`crate::rng::BlockRng::for_block`]).

use crate::error::{Error, Result};
use crate::format::Format;
use crate::rng::BlockRng;
use crate::search::{Found, Probe, longest_prefix};
use crate::strategy::{BufferPolicy, Sizing, Strategy};

/// What [`fill`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filled {
    /// Members in the block (at least 1).
    pub members: usize,
    /// Bytes appended to the output.
    pub bytes: usize,
    /// Bytes encoded to find and build the block (framing included): `encoded / bytes` is the
    /// strategy's amplification.
    pub encoded: usize,
}

/// Working buffers of the sizing loop. A [`BufferPolicy::Reuse`] generator keeps one; a
/// [`BufferPolicy::Fresh`] one builds a new one per block (and a new probe buffer per probe).
#[derive(Debug)]
pub struct Workspace<M> {
    members: Vec<M>,
    offsets: Vec<usize>,
    scratch: Vec<u8>,
    best: Vec<u8>,
}

impl<M> Default for Workspace<M> {
    fn default() -> Self {
        Self { members: Vec::new(), offsets: Vec::new(), scratch: Vec::new(), best: Vec::new() }
    }
}

impl<M> Workspace<M> {
    fn clear(&mut self) {
        self.members.clear();
        self.offsets.clear();
        self.scratch.clear();
        self.best.clear();
    }

    /// Bytes of capacity held by the buffers (retained memory of a reuse generator).
    pub fn retained_bytes(&self) -> usize {
        self.members.capacity() * std::mem::size_of::<M>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
            + self.scratch.capacity()
            + self.best.capacity()
    }
}

/// Appends to `out` the block for `budget`: the longest prefix of `format`'s member stream
/// (drawn from `rng`) whose framed size is at most `budget`.
///
/// # Errors
/// [`Error::BudgetTooSmall`] when not even the first member fits (nothing is appended), and
/// [`Error::BudgetTooLarge`] when the framing cannot describe a block that large.
pub fn fill<F: Format>(
    format: &F,
    strategy: Strategy,
    workspace: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<Filled> {
    let framing = format.framing();
    let max_budget = framing.max_body_len().saturating_add(framing.header_len(framing.max_members()));
    if budget > max_budget {
        return Err(Error::BudgetTooLarge { format: format.name(), budget, max: max_budget });
    }
    let mut fresh;
    let ws = match strategy.buffer {
        BufferPolicy::Reuse => {
            workspace.clear();
            workspace
        }
        BufferPolicy::Fresh => {
            fresh = Workspace::default();
            &mut fresh
        }
    };
    // Every framed member takes at least one byte, so no block holds more members than bytes.
    let cap = format.max_members().min(framing.max_members()).min(budget);
    let mut encoded = 0usize;
    let found = match strategy.sizing {
        Sizing::Reencode => {
            let mut best_k = 0;
            let found = longest_prefix(budget, cap, |k| {
                let size = probe_reencode(format, strategy.buffer, ws, rng, k, budget, &mut best_k);
                encoded += size;
                if size <= budget { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
            });
            if let Found::Prefix { members, .. } = found {
                if members != best_k {
                    // The search always probes its answer, and the best fitting probe is kept.
                    encode_prefix(format, &ws.members[..members], &mut ws.best);
                    encoded += ws.best.len();
                }
                out.extend_from_slice(&ws.best);
            }
            found
        }
        Sizing::EncodeOnce => {
            ws.offsets.push(0);
            let found = longest_prefix(budget, cap, |k| probe_encode_once(format, ws, rng, k, budget));
            encoded = ws.scratch.len();
            if let Found::Prefix { members, .. } = found {
                let body = ws.offsets.get(members).copied().unwrap_or(ws.scratch.len());
                encoded += framing.header_len(members) + framing.trailer_len();
                let start = out.len();
                out.reserve(framing.block_len(members, body));
                framing.write_header(members, body, out);
                out.extend_from_slice(ws.scratch.get(..body).unwrap_or(&ws.scratch));
                framing.write_trailer(out);
                debug_assert_eq!(out.len() - start, framing.block_len(members, body));
            }
            found
        }
    };
    match found {
        Found::Prefix { members, size } => Ok(Filled { members, bytes: size, encoded }),
        Found::Nothing { first_size } => Err(Error::BudgetTooSmall {
            format: format.name(),
            budget,
            needed: first_size,
            smallest: format.min_block_len(),
        }),
    }
}

/// Encodes `members` as one framed block into `buf` (cleared first).
fn encode_prefix<F: Format>(format: &F, members: &[F::Member], buf: &mut Vec<u8>) {
    let framing = format.framing();
    buf.clear();
    let header = framing.header_len(members.len());
    buf.resize(header, 0);
    for (i, member) in members.iter().enumerate() {
        framing.open_member(i, buf);
        format.encode(member, buf);
        framing.close_member(buf);
    }
    framing.write_trailer(buf);
    let body = buf.len() - header - framing.trailer_len();
    let (bytes, len) = framing.header_bytes(members.len(), body);
    if let (Some(dst), Some(src)) = (buf.get_mut(..header), bytes.get(..len)) {
        dst.copy_from_slice(src);
    }
}

/// Re-encode probe: make sure `k` members exist, encode all of them, keep the encoding if it is
/// the largest fitting one so far. Returns `size(k)`.
fn probe_reencode<F: Format>(
    format: &F,
    buffer: BufferPolicy,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    k: usize,
    budget: usize,
    best_k: &mut usize,
) -> usize {
    while ws.members.len() < k {
        ws.members.push(format.generate(rng));
    }
    let mut buf = match buffer {
        BufferPolicy::Fresh => Vec::new(),
        BufferPolicy::Reuse => std::mem::take(&mut ws.scratch),
    };
    encode_prefix(format, &ws.members[..k], &mut buf);
    let size = buf.len();
    if size <= budget && k > *best_k {
        *best_k = k;
        std::mem::swap(&mut buf, &mut ws.best);
    }
    if buffer == BufferPolicy::Reuse {
        ws.scratch = buf;
    }
    size
}

/// Encode-once probe: extend the encoded members up to `k`, stopping at the first member that
/// does not fit. Returns the probe outcome from the recorded offsets.
fn probe_encode_once<F: Format>(
    format: &F,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    k: usize,
    budget: usize,
) -> Probe {
    let framing = format.framing();
    while ws.offsets.len() <= k {
        let index = ws.offsets.len() - 1;
        let member = format.generate(rng);
        framing.open_member(index, &mut ws.scratch);
        format.encode(&member, &mut ws.scratch);
        framing.close_member(&mut ws.scratch);
        ws.offsets.push(ws.scratch.len());
        let size = framing.block_len(index + 1, ws.scratch.len());
        if size > budget {
            return Probe::Exceeds { at: index + 1, size };
        }
    }
    let size = framing.block_len(k, ws.offsets.get(k).copied().unwrap_or(usize::MAX));
    if size <= budget { Probe::Fits(size) } else { Probe::Exceeds { at: k, size } }
}
