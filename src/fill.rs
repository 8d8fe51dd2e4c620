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
//!   member that cannot fit. With [`Framing::Lines`] and [`Framing::Concatenated`] the block is a
//!   prefix of what was encoded,
//!   so when the caller's buffer is empty it serves as the scratch buffer and the block is
//!   never copied. A format with [`Format::LOOKAHEAD`] has each member drawn one step ahead and
//!   prefetched ([`Format::prefetch`]) while the one before is encoded.
//!
//! # Blocks with a dictionary
//!
//! With [`Framing::MsgpackDictionary`] (trace-v05) a block is not a sum of members: it starts
//! with the dictionary of every string its members use, and members hold indices into it
//! ([`Format::encode_indexed`]). The same loop sizes it. The workspace keeps a [`StringTable`]:
//! a re-encode probe clears it and re-encodes the prefix against it; encode-once encodes each
//! member once against the growing table and records, per member, the dictionary's
//! [`DictSize`] next to the body offset, so `size(k)` is still O(1) and exactly non-decreasing
//! (the dictionary of `k` members is a prefix of that of `k + 1`). The block is assembled from
//! the two prefixes: the dictionary's first strings and the body's first members. Every other
//! framing ignores the table, and the default `encode_indexed` is `encode`.
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
use crate::dictionary::{DictSize, StringTable};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::framing::Framing;
use crate::retention::{self, Peak};
use crate::rng::BlockRng;
use crate::search::{Found, Probe, longest_prefix};
use crate::strategy::{BufferPolicy, Sizing, Strategy};

#[cfg(feature = "compression")]
mod segmented;

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
/// Only the buffers the strategy's sizing uses are kept: re-encode keeps members, a probe buffer
/// and the best fitting encoding; encode-once keeps offsets and one scratch buffer. A reused
/// workspace keeps spare capacity over the most each buffer has held, so blocks a little larger
/// than any seen during warm-up do not reallocate (the steady state is allocation-free), and
/// gives it back after a long run of much smaller blocks ([`crate::SHRINK_WINDOW`]).
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
    /// Dictionary framings: the block's strings (see the module docs), and for encode-once the
    /// dictionary's size after each member, next to `offsets`.
    dict: StringTable,
    dict_sizes: Vec<DictSize>,
    /// Compressed budgets without a dictionary: the segmented path's codec and buffers.
    #[cfg(feature = "compression")]
    segments: segmented::SegmentBuffers,
    /// Peak members, offsets and bytes the buffers have held.
    peak: [Peak; 3],
    /// A custom framing's header length as planned and as written, when they differed (a bug in
    /// the framing, reported as [`Error::Framing`]).
    fault: Option<(usize, usize)>,
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
            dict: StringTable::new(),
            dict_sizes: Vec::new(),
            #[cfg(feature = "compression")]
            segments: segmented::SegmentBuffers::default(),
            peak: [Peak::default(); 3],
            fault: None,
        }
    }
}

/// Grows an empty `v` to twice `peak` elements when it has room for less than 1.5 times.
fn grow_to_headroom<T>(v: &mut Vec<T>, peak: usize) {
    if v.capacity() < peak.saturating_add(peak / 2) {
        v.reserve(peak.saturating_mul(2));
    }
}

/// [`retention::prepare`] for a buffer the strategy uses; a plain clear for one it does not.
fn prepare_if<T>(v: &mut Vec<T>, used: bool, peak: usize, low: usize, high: usize, shrink: bool) {
    if used {
        retention::prepare(v, peak, low, high, shrink);
    } else {
        v.clear();
    }
}

impl<M> Workspace<M> {
    /// Prepares the buffers `sizing` uses for the next block, growing them ahead of need from
    /// the most they held in earlier blocks (and shrinking them after a long run far below).
    fn clear(&mut self, sizing: Sizing) {
        self.fault = None;
        let [members, offsets, bytes] = &mut self.peak;
        members.observe(self.members.len());
        offsets.observe(self.offsets.len());
        bytes.observe(self.scratch.len().max(self.best.len()).max(self.raw.len()));
        let shrink = [members.end_block(), offsets.end_block(), bytes.end_block()];
        // Compressed budgets keep the compressed probe in `best` whatever the sizing.
        let compressed = self.raw.capacity() > 0;
        // Member counts follow the search path and vary by several percent between blocks; byte
        // buffers never hold more than the budget plus one member, so they need little headroom.
        // A buffer the sizing does not use is only cleared, so it never takes memory.
        let (uses_members, uses_offsets) = (sizing == Sizing::Reencode, sizing == Sizing::EncodeOnce);
        prepare_if(&mut self.members, uses_members, members.get(), 4, 2, shrink[0]);
        prepare_if(&mut self.offsets, uses_offsets, offsets.get(), 4, 2, shrink[1]);
        retention::prepare(&mut self.scratch, bytes.get(), 16, 8, shrink[2]);
        prepare_if(&mut self.best, uses_members || compressed, bytes.get(), 16, 8, shrink[2]);
        // Compressed budgets only: the framed prefix is as long as the scratch; a compressed
        // probe is at most about the budget (kept in `best`'s peak).
        if compressed {
            retention::prepare(&mut self.raw, bytes.get(), 16, 8, shrink[2]);
            let packed_peak = self.packed.len().max(self.best.len());
            retention::prepare(&mut self.packed, packed_peak, 16, 8, false);
        }
        // Dictionary framings only (the table of any other format stays empty and unallocated).
        self.dict.clear();
        if self.dict_sizes.capacity() > 0 {
            retention::prepare(&mut self.dict_sizes, offsets.get(), 4, 2, shrink[1]);
        }
    }

    /// Compressed budgets: probes past the answer hold more members than any block (how far
    /// past varies from block to block), so the buffers keep half their peak as headroom, not
    /// an eighth; otherwise a slowly rising peak would reallocate now and then for ever.
    fn widen_for_compressed(&mut self) {
        let [members, offsets, bytes] = self.peak.map(|p| p.get());
        grow_to_headroom(&mut self.members, members);
        grow_to_headroom(&mut self.offsets, offsets);
        grow_to_headroom(&mut self.scratch, bytes);
        grow_to_headroom(&mut self.raw, bytes);
        // Dictionary framings only: a probe's dictionary grows with its members.
        if self.dict_sizes.capacity() > 0 {
            grow_to_headroom(&mut self.dict_sizes, offsets);
        }
        self.dict.headroom(2, 1);
    }

    /// Bytes of capacity held by the buffers (retained memory of a reuse generator).
    pub fn retained_bytes(&self) -> usize {
        self.members.capacity() * std::mem::size_of::<M>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
            + self.scratch.capacity()
            + self.best.capacity()
            + self.raw.capacity()
            + self.packed.capacity()
            + self.dict.retained_bytes()
            + self.dict_sizes.capacity() * std::mem::size_of::<DictSize>()
            + self.segments_retained_bytes()
    }

    #[cfg(feature = "compression")]
    fn segments_retained_bytes(&self) -> usize {
        self.segments.retained_bytes()
    }

    #[cfg(not(feature = "compression"))]
    fn segments_retained_bytes(&self) -> usize {
        0
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
    let start = out.len();
    let mut fresh;
    let ws = match strategy.buffer {
        BufferPolicy::Reuse => {
            workspace.clear(strategy.sizing);
            workspace
        }
        BufferPolicy::Fresh => {
            fresh = Workspace::default();
            &mut fresh
        }
    };
    #[cfg(feature = "compression")]
    if !compression.is_none() && !framing.has_dictionary() {
        return segmented::fill_segmented(format, strategy, compression, ws, rng, budget, out);
    }
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
            // Members are encoded straight into the caller's buffer when the block is a prefix
            // of what is encoded: it stands in for the scratch buffer for this block.
            let direct = encodes_in_place(framing, out);
            if direct {
                std::mem::swap(out, &mut ws.scratch);
            }
            begin_encode_once(framing, ws);
            let found = longest_prefix(budget, cap, |k| probe_encode_once(format, ws, rng, k, budget));
            encoded = ws.scratch.len();
            if direct {
                std::mem::swap(out, &mut ws.scratch);
                let size = match found {
                    Found::Prefix { size, .. } => size,
                    Found::Nothing { .. } => 0,
                };
                out.truncate(size);
            } else if let Found::Prefix { members, size } = found {
                let (body, _) = encoded_extent(ws, members);
                encoded += size - body;
                reserve_output(out, size, budget);
                // A custom framing whose lengths disagree with its writers writes another length:
                // the check after the search reports it.
                write_encoded_prefix(framing, ws, members, out);
            }
            found
        }
    };
    framing_fault(format, ws, budget)?;
    match found {
        Found::Prefix { members, size } => {
            let written = out.len() - start;
            if written != size || size > budget {
                return Err(Error::Framing {
                    format: format.name(),
                    framing: framing.name(),
                    planned: size,
                    written,
                    budget,
                });
            }
            Ok(Filled { members, bytes: size, encoded })
        }
        Found::Nothing { first_size } => Err(Error::BudgetTooSmall {
            format: format.name(),
            budget,
            needed: first_size,
            smallest: format.min_block_len(),
        }),
    }
}

/// Encode-once: whether members can be encoded straight into the caller's buffer, which then
/// stands in for the scratch buffer. They can when the framing adds nothing around the members,
/// so the block is the first `size` bytes of what was encoded (no copy at the end), and the
/// caller's buffer is empty. The caller's buffer grows to the block and the one member past it;
/// a caller that reuses it (every loop in payforge does) then allocates nothing more, and the
/// workspace's own scratch buffer, idle, is given back by [`crate::retention`].
fn encodes_in_place(framing: Framing, out: &[u8]) -> bool {
    matches!(framing, Framing::Lines | Framing::Concatenated) && out.is_empty()
}

/// Makes room for a `len`-byte block in the caller's buffer. When the block is at least 8/9 of
/// the budget, room for a whole budget is made (at most 1/8 more than needed), so a reused output
/// buffer never grows again: no block exceeds the budget.
fn reserve_output(out: &mut Vec<u8>, len: usize, budget: usize) {
    if out.capacity() - out.len() < len {
        out.reserve(len.max(budget.min(len.saturating_add(len / 8))));
    }
}

/// Encodes `members` as one framed block into `buf` (cleared first), against `dict` (cleared
/// first; used by dictionary framings only), and returns its size, or stops as soon as the first
/// `j` members already exceed `limit` and returns `Err((j, size(j)))`: a probe that overflows
/// learns where, and encoding on past the budget would be wasted work. Both the plain and the
/// compressed re-encode probes frame their prefix here.
fn encode_prefix<F: Format>(
    format: &F,
    members: &[F::Member],
    dict: &mut StringTable,
    buf: &mut Vec<u8>,
    limit: usize,
    fault: &mut Option<(usize, usize)>,
) -> Result<usize, (usize, usize)> {
    let framing = format.framing();
    buf.clear();
    dict.clear();
    let k = members.len();
    // The header with the smallest dictionary; a dictionary framing's real one is longer and is
    // known only once every member has added its strings.
    let reserved = framing.header_len(k);
    buf.resize(reserved, 0);
    for (i, member) in members.iter().enumerate() {
        let start = framing.open_member(i, buf);
        format.encode_indexed(member, dict, buf);
        framing.close_member(i, start, buf);
        let size = framing.framed_len(i + 1, buf.len() - reserved, dict.size());
        if size > limit {
            return Err((i + 1, size));
        }
    }
    framing.write_trailer(buf);
    let body = buf.len() - reserved - framing.trailer_len();
    if let Framing::Custom(custom) = framing {
        let written = place_custom_header(custom, k, body, reserved, buf);
        if written != reserved {
            *fault = Some((reserved, written));
        }
        return Ok(buf.len());
    }
    let size = dict.size();
    let header = framing.header_len_with(k, size);
    if header != reserved {
        // Make room for the dictionary: move the members behind the real header.
        let end = buf.len();
        if header > reserved {
            buf.resize(end + (header - reserved), 0);
            buf.copy_within(reserved..end, header);
        } else {
            buf.copy_within(reserved..end, header);
            buf.truncate(end - (reserved - header));
        }
    }
    framing.put_header(k, body, dict, size, buf.get_mut(..header).unwrap_or_default());
    Ok(buf.len())
}

/// [`Error::Framing`] if a custom framing's header was written at another length than planned
/// while this block was sized.
fn framing_fault<F: Format>(format: &F, ws: &mut Workspace<F::Member>, budget: usize) -> Result<()> {
    match ws.fault.take() {
        Some((planned, written)) => {
            Err(Error::Framing { format: format.name(), framing: format.framing().name(), planned, written, budget })
        }
        None => Ok(()),
    }
}

/// Re-encode, custom framings: the header's writer appends, so it is written past the block
/// (`[reserved][body][trailer][header]`) and moved into the `reserved` bytes at the front. When
/// the framing's `header_len` disagrees with what its writer wrote, the body moves so the bytes
/// are still right (the size the search planned with was not; the conformance kit reports it).
/// Returns the header's written length.
fn place_custom_header(
    custom: &dyn crate::framing::CustomFraming,
    k: usize,
    body: usize,
    reserved: usize,
    buf: &mut Vec<u8>,
) -> usize {
    let end = buf.len();
    custom.write_header(k, body, buf);
    let header = buf.len() - end;
    if header == reserved {
        buf.copy_within(end.., 0);
        buf.truncate(end);
    } else {
        if let Some(block) = buf.get_mut(reserved..) {
            block.rotate_right(header);
        }
        buf.drain(..reserved);
    }
    header
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
    let (mut buf, mut dict) = match buffer {
        BufferPolicy::Fresh => (Vec::new(), StringTable::new()),
        BufferPolicy::Reuse => (std::mem::take(&mut ws.scratch), std::mem::take(&mut ws.dict)),
    };
    let members = ws.members.get(..k).unwrap_or(&ws.members);
    let outcome = encode_prefix(format, members, &mut dict, &mut buf, budget, &mut ws.fault);
    let encoded = buf.len();
    ws.peak[2].observe(encoded);
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
        ws.dict = dict;
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
    match extend_encoded(format, ws, rng, k, budget) {
        Ok(size) if size <= budget => Probe::Fits(size),
        Ok(size) => Probe::Exceeds { at: k, size },
        Err((at, size)) => Probe::Exceeds { at, size },
    }
}

/// Starts an encode-once block: no member encoded, and (dictionary framings) the dictionary's
/// size before the first member.
fn begin_encode_once<M>(framing: Framing, ws: &mut Workspace<M>) {
    ws.offsets.push(0);
    if framing.has_dictionary() {
        ws.dict_sizes.push(ws.dict.size());
    }
}

/// Encode-once: generates and encodes members once, framed, until `k` are encoded, recording
/// each one's end offset (and the dictionary's size after it). Returns `size(k)`, or stops at the
/// first member that takes the prefix past `limit` and returns `Err((j, size(j)))`. Shared by the
/// plain and the compressed encode-once probes.
fn extend_encoded<F: Format>(
    format: &F,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    k: usize,
    limit: usize,
) -> Result<usize, (usize, usize)> {
    let framing = format.framing();
    while ws.offsets.len() <= k {
        let index = ws.offsets.len() - 1;
        let member = next_member(format, ws, rng);
        let start = framing.open_member(index, &mut ws.scratch);
        format.encode_indexed(&member, &mut ws.dict, &mut ws.scratch);
        framing.close_member(index, start, &mut ws.scratch);
        ws.offsets.push(ws.scratch.len());
        let dict = ws.dict.size();
        if framing.has_dictionary() {
            ws.dict_sizes.push(dict);
        }
        let size = framing.framed_len(index + 1, ws.scratch.len(), dict);
        if size > limit {
            return Err((index + 1, size));
        }
    }
    let (body, dict) = encoded_extent(ws, k);
    Ok(framing.framed_len(k, body, dict))
}

/// Encode-once: the next member of the stream. With [`Format::LOOKAHEAD`] the member after it
/// is drawn now, prefetched, and kept in `ws.members` (which encode-once uses for nothing else)
/// until the next call; the stream of members is the same.
#[inline]
fn next_member<F: Format>(format: &F, ws: &mut Workspace<F::Member>, rng: &mut BlockRng) -> F::Member {
    if !F::LOOKAHEAD {
        return format.generate(rng);
    }
    let member = ws.members.pop().unwrap_or_else(|| format.generate(rng));
    let ahead = format.generate(rng);
    format.prefetch(&ahead);
    ws.members.push(ahead);
    member
}

/// Encode-once: the body length and dictionary size of the first `k` encoded members (a body of
/// `usize::MAX` if fewer were encoded, which no budget fits).
fn encoded_extent<M>(ws: &Workspace<M>, k: usize) -> (usize, DictSize) {
    let body = ws.offsets.get(k).copied().unwrap_or(usize::MAX);
    (body, ws.dict_sizes.get(k).copied().unwrap_or_else(|| ws.dict.size()))
}

/// Encode-once: appends the framed block of the first `k` encoded members to `out`, cut from the
/// two buffers (the dictionary's prefix and the body's prefix), and returns its length. Builds
/// the block of the plain path and the probe input of the compressed one.
fn write_encoded_prefix<M>(framing: Framing, ws: &Workspace<M>, k: usize, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let (body, dict) = encoded_extent(ws, k);
    let body = body.min(ws.scratch.len());
    framing.write_header_with(k, body, &ws.dict, dict, out);
    out.extend_from_slice(ws.scratch.get(..body).unwrap_or(&ws.scratch));
    framing.write_trailer(out);
    out.len() - start
}

/// For a compressed budget: the format's framing, the most uncompressed bytes a block may hold
/// (`budget ×` [`MAX_COMPRESSION_RATIO`], at most [`MAX_BUDGET`]), and the most members it may
/// take (a member is at least one byte).
fn compressed_bounds<F: Format>(format: &F, budget: usize) -> (Framing, usize, usize) {
    let framing = format.framing();
    let raw_limit = budget.saturating_mul(MAX_COMPRESSION_RATIO).min(MAX_BUDGET);
    (framing, raw_limit, format.max_members().min(framing.max_members()).min(raw_limit))
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
    let (framing, raw_limit, cap) = compressed_bounds(format, budget);
    if strategy.buffer == BufferPolicy::Reuse {
        if ws.compressor.is_none() {
            ws.compressor = Some(Compressor::new(compression)?);
        }
        ws.widen_for_compressed();
    }
    if strategy.sizing == Sizing::EncodeOnce {
        begin_encode_once(framing, ws);
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
                let mut dict = match strategy.buffer {
                    BufferPolicy::Fresh => StringTable::new(),
                    BufferPolicy::Reuse => std::mem::take(&mut ws.dict),
                };
                let outcome = encode_prefix(format, members, &mut dict, &mut raw, raw_limit, &mut ws.fault);
                ws.raw = raw;
                if strategy.buffer == BufferPolicy::Reuse {
                    ws.dict = dict;
                }
                outcome.map(|_| ())
            }
            Sizing::EncodeOnce => frame_encoded_once(format, ws, rng, k, raw_limit),
        };
        if let Err((at, _)) = framed {
            // Past the bound on the uncompressed size: treated as not fitting.
            return Probe::Exceeds { at, size: budget.saturating_add(1) };
        }
        encoded += ws.raw.len();
        ws.peak[2].observe(ws.raw.len());
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
    framing_fault(format, ws, budget)?;
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
    let size = extend_encoded(format, ws, rng, k, raw_limit)?;
    if size > raw_limit {
        return Err((k, size));
    }
    let mut raw = std::mem::take(&mut ws.raw);
    raw.clear();
    raw.reserve(size);
    write_encoded_prefix(format.framing(), ws, k, &mut raw);
    ws.raw = raw;
    Ok(())
}
