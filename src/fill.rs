//! THE sizing loop: budget in, block out, for every format and every strategy.
//!
//! A block for budget `B` is the framed encoding of the longest prefix `m1..mk` of the member
//! stream with `size(k) <= B` (see [`crate::framing`]). [`fill`] finds `k` with
//! [`crate::search::longest_prefix`] and only the *probe* differs by strategy:
//!
//! * re-encode: members are generated lazily into a list; a probe of `k` encodes the whole prefix
//!   afresh into a probe buffer (stopping once it overflows, which tells the search where). The
//!   largest fitting encoding is kept, so the block is never encoded again.
//! * encode-once: each member is generated and encoded once, framed, into a scratch buffer with
//!   its end offset; a probe reads `size(k)` from the offsets, and encoding stops at the first
//!   member that cannot fit.
//!
//! # Compressed budgets
//!
//! With a [`Compression`], `size(k)` is the length of the compressed framed encoding of the
//! first `k` members (one-shot, as a sender compresses a payload), and a probe compresses the
//! candidate prefix: re-encode encodes it afresh first, encode-once cuts it from the members it
//! encoded once. Compressed size is *nearly* but not exactly non-decreasing in `k` (a longer
//! input can compress a few bytes shorter), so "the longest prefix that fits" is defined by the
//! search itself, which every strategy runs identically:
//!
//! * the search ([`crate::search::longest_prefix`]) chooses each probe from the exact sizes of
//!   earlier probes only, and every strategy computes the same exact sizes, so every strategy
//!   probes the same counts and returns the same `k`;
//! * the result `k` was probed and fits (never over budget), `k + 1` was probed and does not fit,
//!   and no probed count above `k` fits. Where compressed size is monotone around the answer,
//!   which is nearly always, that is exactly the longest fitting prefix; `tests/compressed.rs`
//!   compares it with a linear scan on small budgets.
//!
//! The uncompressed encoding of a compressed block is also bounded, by `64 × budget` (and
//! [`MAX_BUDGET`]), so a very compressible config cannot make a probe encode gigabytes.
//! `encoded` counts the bytes run through the compressor.
//!
//! Because members are drawn from the RNG in stream order and neither sizing lets the budget
//! influence what is drawn, every strategy produces the same bytes for the same RNG state. How far
//! the RNG advances past the block differs by strategy, so use one RNG per block
//! ([`crate::rng::BlockRng::for_block`]).

use crate::compress::{Compression, Compressor, Packed};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::rng::BlockRng;
use crate::search::{Found, Probe, longest_prefix};
use crate::strategy::{BufferPolicy, Sizing, Strategy};

/// The largest budget [`fill`] accepts: 1 GiB. Larger blocks gain a load generator nothing, and
/// the working buffers of a strategy are a small multiple of the budget, so a typo such as
/// `1TiB` must be an error, not an attempt to allocate terabytes.
pub const MAX_BUDGET: usize = 1 << 30;

/// How many times the budget a compressed block's uncompressed encoding may be.
pub const MAX_COMPRESSION_RATIO: usize = 64;

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
///
/// A reused workspace keeps spare capacity over the most each buffer has held, so blocks a little
/// larger than any seen during warm-up do not reallocate: the steady state is allocation-free.
#[derive(Debug)]
pub struct Workspace<M> {
    members: Vec<M>,
    offsets: Vec<usize>,
    scratch: Vec<u8>,
    best: Vec<u8>,
    /// Compressed budgets: the framed prefix a probe compresses, and the compressed probe.
    raw: Vec<u8>,
    packed: Vec<u8>,
    /// Compressed budgets, `reuse`: the compressor, reset between uses.
    compressor: Option<Compressor>,
    /// Most members, offsets and bytes any buffer has held, over all blocks so far.
    peak: [usize; 3],
}

impl<M> Default for Workspace<M> {
    fn default() -> Self {
        Self {
            members: Vec::new(),
            offsets: Vec::new(),
            scratch: Vec::new(),
            best: Vec::new(),
            raw: Vec::new(),
            packed: Vec::new(),
            compressor: None,
            peak: [0; 3],
        }
    }
}

/// Clears `v`; if it has less than `1/low` headroom over `peak` elements, grows it to `1/high`
/// over (`high < low`). The gap between the two thresholds keeps a slowly rising peak from
/// reallocating again and again.
fn clear_with_headroom<T>(v: &mut Vec<T>, peak: usize, low: usize, high: usize) {
    v.clear();
    if v.capacity() < peak.saturating_add(peak / low) {
        v.reserve(peak.saturating_add(peak / high));
    }
}

impl<M> Workspace<M> {
    /// Prepares the buffers for the next block, growing them ahead of need from the most any
    /// of them held in earlier blocks.
    fn clear(&mut self) {
        let [members, offsets, bytes] = &mut self.peak;
        *members = (*members).max(self.members.len());
        *offsets = (*offsets).max(self.offsets.len());
        *bytes = (*bytes).max(self.scratch.len()).max(self.best.len()).max(self.raw.len());
        // Member counts follow the search path and vary by several percent between blocks; byte
        // buffers never hold more than the budget plus one member, so they need little headroom.
        clear_with_headroom(&mut self.members, *members, 4, 2);
        clear_with_headroom(&mut self.offsets, *offsets, 4, 2);
        clear_with_headroom(&mut self.scratch, *bytes, 16, 8);
        clear_with_headroom(&mut self.best, *bytes, 16, 8);
        // Compressed budgets only: the framed prefix is as long as the scratch; a compressed
        // probe is at most about the budget (kept in `best`'s peak).
        if !self.raw.is_empty() || self.raw.capacity() > 0 {
            clear_with_headroom(&mut self.raw, *bytes, 16, 8);
            let packed_peak = self.packed.len().max(self.best.len());
            clear_with_headroom(&mut self.packed, packed_peak, 16, 8);
        }
    }

    /// Bytes of capacity held by the buffers (retained memory of a reuse generator).
    pub fn retained_bytes(&self) -> usize {
        self.members.capacity() * std::mem::size_of::<M>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
            + self.scratch.capacity()
            + self.best.capacity()
            + self.raw.capacity()
            + self.packed.capacity()
    }
}

/// Appends to `out` the block for `budget`: the longest prefix of `format`'s member stream
/// (drawn from `rng`) whose framed size is at most `budget`.
///
/// # Errors
/// [`Error::BudgetTooSmall`] when not even the first member fits (nothing is appended), and
/// [`Error::BudgetTooLarge`] above [`MAX_BUDGET`] or when the framing cannot describe a block
/// that large.
pub fn fill<F: Format>(
    format: &F,
    strategy: Strategy,
    workspace: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<Filled> {
    fill_compressed(format, strategy, Compression::None, workspace, rng, budget, out)
}

/// As [`fill`], for a budget on the block compressed with `compression` (see the module docs
/// for what the search returns). With [`Compression::None`] it is [`fill`].
///
/// # Errors
/// As [`fill`]; [`Error::Io`] if the compressor fails.
pub fn fill_compressed<F: Format>(
    format: &F,
    strategy: Strategy,
    compression: Compression,
    workspace: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<Filled> {
    let framing = format.framing();
    let max_budget = framing.max_body_len().saturating_add(framing.header_len(framing.max_members())).min(MAX_BUDGET);
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
    if !compression.is_none() {
        return fill_packed(format, strategy, compression, ws, rng, budget, out);
    }
    // Every framed member takes at least one byte, so no block holds more members than bytes.
    let cap = format.max_members().min(framing.max_members()).min(budget);
    let mut encoded = 0usize;
    let found = match strategy.sizing {
        Sizing::Reencode => {
            let mut best_k = 0;
            let found = longest_prefix(budget, cap, |k| {
                let (probe, bytes) = probe_reencode(format, strategy.buffer, ws, rng, k, budget, &mut best_k);
                encoded += bytes;
                probe
            });
            if let Found::Prefix { members, .. } = found {
                // The search only ever sets its answer from a fitting probe, and the largest
                // fitting probe's encoding is kept, so the block is never encoded again.
                debug_assert_eq!(members, best_k);
                reserve_output(out, ws.best.len(), budget);
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
                reserve_output(out, framing.block_len(members, body), budget);
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

/// Makes room for a `len`-byte block in the caller's buffer. When the block is at least 8/9 of
/// the budget, room for a whole budget is made (at most 1/8 more than needed), so a reused output
/// buffer never grows again: no block exceeds the budget.
fn reserve_output(out: &mut Vec<u8>, len: usize, budget: usize) {
    if out.capacity() - out.len() < len {
        out.reserve(len.max(budget.min(len.saturating_add(len / 8))));
    }
}

/// Encodes `members` as one framed block into `buf` (cleared first) and returns its size, or
/// stops as soon as the first `j` members already exceed `limit` and returns `Err((j, size(j)))`:
/// a probe that overflows learns where, and encoding on past the budget would be wasted work.
fn encode_prefix<F: Format>(
    format: &F,
    members: &[F::Member],
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, (usize, usize)> {
    let framing = format.framing();
    buf.clear();
    let header = framing.header_len(members.len());
    buf.resize(header, 0);
    for (i, member) in members.iter().enumerate() {
        framing.open_member(i, buf);
        format.encode(member, buf);
        framing.close_member(buf);
        let size = framing.block_len(i + 1, buf.len() - header);
        if size > limit {
            return Err((i + 1, size));
        }
    }
    framing.write_trailer(buf);
    let body = buf.len() - header - framing.trailer_len();
    let (bytes, len) = framing.header_bytes(members.len(), body);
    if let (Some(dst), Some(src)) = (buf.get_mut(..header), bytes.get(..len)) {
        dst.copy_from_slice(src);
    }
    Ok(buf.len())
}

/// Re-encode probe: make sure `k` members exist and encode the whole prefix afresh (stopping
/// early once it overflows); keep the encoding if it is the largest fitting one so far. Returns
/// the probe outcome and the bytes encoded.
fn probe_reencode<F: Format>(
    format: &F,
    buffer: BufferPolicy,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    k: usize,
    budget: usize,
    best_k: &mut usize,
) -> (Probe, usize) {
    while ws.members.len() < k {
        ws.members.push(format.generate(rng));
    }
    let mut buf = match buffer {
        BufferPolicy::Fresh => Vec::new(),
        BufferPolicy::Reuse => std::mem::take(&mut ws.scratch),
    };
    let outcome = encode_prefix(format, ws.members.get(..k).unwrap_or(&ws.members), &mut buf, budget);
    let encoded = buf.len();
    ws.peak[2] = ws.peak[2].max(encoded);
    let probe = match outcome {
        Ok(size) => {
            if k > *best_k {
                *best_k = k;
                std::mem::swap(&mut buf, &mut ws.best);
            }
            Probe::Fits(size)
        }
        Err((at, size)) => Probe::Exceeds { at, size },
    };
    if buffer == BufferPolicy::Reuse {
        ws.scratch = buf;
    }
    (probe, encoded)
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

/// The compressed-budget path of [`fill_compressed`]: the same search, probes that compress.
fn fill_packed<F: Format>(
    format: &F,
    strategy: Strategy,
    compression: Compression,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<Filled> {
    let framing = format.framing();
    let raw_limit = budget.saturating_mul(MAX_COMPRESSION_RATIO).min(MAX_BUDGET);
    let cap = format.max_members().min(framing.max_members()).min(raw_limit);
    if strategy.buffer == BufferPolicy::Reuse && ws.compressor.is_none() {
        ws.compressor = Some(Compressor::new(compression)?);
    }
    if strategy.sizing == Sizing::EncodeOnce {
        ws.offsets.push(0);
    }
    let (mut encoded, mut best_k, mut failure) = (0usize, 0usize, None);
    let found = longest_prefix(budget, cap, |k| {
        if failure.is_some() {
            return Probe::Exceeds { at: k, size: usize::MAX };
        }
        // The framed, uncompressed prefix of `k` members, into `ws.raw`; or how far it got.
        let framed = match strategy.sizing {
            Sizing::Reencode => {
                while ws.members.len() < k {
                    ws.members.push(format.generate(rng));
                }
                let members = ws.members.get(..k).unwrap_or(&ws.members);
                let mut raw = std::mem::take(&mut ws.raw);
                let outcome = encode_prefix(format, members, &mut raw, raw_limit);
                ws.raw = raw;
                outcome.map(|_| ())
            }
            Sizing::EncodeOnce => frame_encoded_once(format, ws, rng, k, raw_limit),
        };
        if let Err((at, _)) = framed {
            // Past the bound on the uncompressed size: treated as not fitting.
            return Probe::Exceeds { at, size: budget.saturating_add(1) };
        }
        encoded += ws.raw.len();
        ws.peak[2] = ws.peak[2].max(ws.raw.len());
        let (result, mut packed) = match strategy.buffer {
            BufferPolicy::Reuse => {
                let mut packed = std::mem::take(&mut ws.packed);
                let result = match ws.compressor.as_mut() {
                    Some(c) => c.compress_within(&ws.raw, budget, &mut packed),
                    None => {
                        Compressor::new(compression).and_then(|mut c| c.compress_within(&ws.raw, budget, &mut packed))
                    }
                };
                (result, packed)
            }
            BufferPolicy::Fresh => {
                let mut packed = Vec::new();
                let result =
                    Compressor::new(compression).and_then(|mut c| c.compress_within(&ws.raw, budget, &mut packed));
                (result, packed)
            }
        };
        let probe = match result {
            Err(e) => {
                failure = Some(e);
                Probe::Exceeds { at: k, size: usize::MAX }
            }
            Ok(Packed::Over(size)) => Probe::Exceeds { at: k, size },
            Ok(Packed::Fits(size)) => {
                if k > best_k {
                    best_k = k;
                    std::mem::swap(&mut packed, &mut ws.best);
                }
                Probe::Fits(size)
            }
        };
        if strategy.buffer == BufferPolicy::Reuse {
            ws.packed = packed;
        }
        probe
    });
    if let Some(e) = failure {
        return Err(e);
    }
    match found {
        Found::Prefix { members, size } => {
            debug_assert_eq!(members, best_k);
            debug_assert_eq!(size, ws.best.len());
            reserve_output(out, ws.best.len(), budget);
            out.extend_from_slice(&ws.best);
            Ok(Filled { members, bytes: size, encoded })
        }
        Found::Nothing { first_size } => Err(Error::BudgetTooSmall {
            format: format.name(),
            budget,
            needed: first_size,
            smallest: compression.min_block_len(),
        }),
    }
}

/// Encode-once for compressed budgets: extend the once-encoded members to `k` (stopping past
/// `raw_limit`), then copy the framed `k`-member prefix into `ws.raw` for the compressor.
fn frame_encoded_once<F: Format>(
    format: &F,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    k: usize,
    raw_limit: usize,
) -> Result<(), (usize, usize)> {
    let framing = format.framing();
    while ws.offsets.len() <= k {
        let index = ws.offsets.len() - 1;
        let member = format.generate(rng);
        framing.open_member(index, &mut ws.scratch);
        format.encode(&member, &mut ws.scratch);
        framing.close_member(&mut ws.scratch);
        ws.offsets.push(ws.scratch.len());
        let size = framing.block_len(index + 1, ws.scratch.len());
        if size > raw_limit {
            return Err((index + 1, size));
        }
    }
    let body = ws.offsets.get(k).copied().unwrap_or(ws.scratch.len());
    let size = framing.block_len(k, body);
    if size > raw_limit {
        return Err((k, size));
    }
    ws.raw.clear();
    ws.raw.reserve(size);
    framing.write_header(k, body, &mut ws.raw);
    ws.raw.extend_from_slice(ws.scratch.get(..body).unwrap_or(&ws.scratch));
    framing.write_trailer(&mut ws.raw);
    Ok(())
}
