//! Compressed blocks in one pass: closed segments streamed once, a searched tail.
//!
//! # The block's definition (every strategy, every framing without a dictionary)
//!
//! Let `P` be the member stream's framed members back to back (what encode-once writes), `H(k)`
//! the framing's header for `k` members and `T` its trailer. The block for budget `B` holds the
//! first `k` members, uncompressed `H(k) ++ P[..end(k)] ++ T`, compressed as the codec's
//! container ([`crate::stream_codec`]: one gzip member, or one zstd frame) around two parts:
//!
//! 1. **Closed segments**: runs of whole members `P[e(i-1)..e(i)]`, fed in order to one
//!    streaming compressor and flushed after each, so the exact compressed length is known after
//!    each segment without compressing anything twice. Segment boundaries are chosen by this rule,
//!    from exact figures only: with `room` the budget left after the container, the closed bytes
//!    and a bound on a tail holding only `T`, stop closing segments once
//!    `room < B / FLOOR_DIVISOR` (per codec); otherwise the next segment is the longest run of
//!    whole members of at most `room × 2/3 × r` bytes, where `r` is the ratio (uncompressed /
//!    compressed) of the segments closed so far, 1 before the first (no segment is closed when
//!    not even one member is that short). The segment is kept if the block with it and a
//!    `T`-only tail still fits the budget by that bound; if not (it compressed far worse than `r`
//!    predicted) it is dropped, the stream is rebuilt from the kept segments (same bytes), and no
//!    more segments are closed.
//! 2. **The tail**: the following members, `n` of them, then `T`, compressed *with the block's
//!    history*. `n` is found by [`crate::search::longest_prefix`] over the tail's member count
//!    (`n = 0`, the tail of `T` alone, always fits), and each probe compresses only the tail's
//!    input `P[e(last)..end(k)] ++ T`, so a probe costs the tail, not the block:
//!    * **gzip**: a probe is a deflate stream primed with the 32 KiB before the tail, finished.
//!      It is exactly the bytes written, so `n` is the longest tail that fits: `n` fits, `n + 1`
//!      was probed and does not, and no probed count above `n` fits (as for one-shot blocks).
//!    * **zstd**: the tail is written into the block's own stream (`ZSTD_e_end`), which cannot be
//!      forked per probe, so a probe is an *estimate*: the tail compressed one-shot by a second
//!      context with the 32 KiB before it as a raw-content dictionary, its blocks counted
//!      plus 1/32. The search's `n` is written and the block verified; if it is over budget
//!      (rare: 1 block in 400 or fewer in the measured cells), the stream is rebuilt from the
//!      closed segments and ended with `n - 1` members, and so on down to `T` alone, which fits
//!      by the bound reserved for it. So `n` is the longest tail whose *estimate* fits, less
//!      the members the verification removed, and the block is never over budget.
//!
//! Each closed segment goes through the compressor once (twice in the rare rebuilds), and the
//! tail is at most about `B / FLOOR_DIVISOR` compressed, so the bytes compressed per block are
//! close to one pass.
//!
//! Both sizings share this path: the compressor needs every member's bytes anyway, so members are
//! encoded once into the workspace's scratch buffer; the buffer policy still decides whether the
//! codec and buffers are kept between blocks.

use flate2::Crc;

use super::{Workspace, begin_encode_once, extend_encoded, reserve_output};
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::fill::Filled;
use crate::format::Format;
use crate::framing::Framing;
use crate::rng::BlockRng;
use crate::search::{Found, Probe, longest_prefix};
use crate::strategy::{BufferPolicy, Strategy};
use crate::stream_codec::StreamCodec;

/// The buffers of the segmented path, kept in the [`Workspace`] by the `reuse` strategies.
#[derive(Debug, Default)]
pub(crate) struct SegmentBuffers {
    codec: Option<StreamCodec>,
    /// The closed segments' compressed bytes (with the zstd frame header).
    closed: Vec<u8>,
    /// Ends of the closed segments in the scratch buffer (for a rebuild).
    ends: Vec<usize>,
    /// The tail's input when the framing has a trailer.
    tail_in: Vec<u8>,
    /// The tail of the current probe, and of the longest fitting one.
    tail: Vec<u8>,
    best: Vec<u8>,
    /// The framing's header and trailer.
    header: Vec<u8>,
    trailer: Vec<u8>,
}

impl SegmentBuffers {
    /// `reuse`: room, made once, for what a block of `budget` usually needs, so that a tail a
    /// little longer than any seen while warming up does not reallocate in the steady state: the
    /// whole compressed block in `closed` (zstd writes its tail there), and half the budget for
    /// a tail's input and its probes (tails are at most about `budget / 16` compressed).
    fn make_room(&mut self, budget: usize) {
        let half = budget / 2;
        for (buffer, want) in [
            (&mut self.closed, budget.saturating_add(budget / 8)),
            (&mut self.tail_in, half),
            (&mut self.tail, half),
            (&mut self.best, half),
        ] {
            if buffer.capacity() < want {
                buffer.reserve(want - buffer.len());
            }
        }
    }

    /// Bytes of capacity held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.closed.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.tail_in.capacity()
            + self.tail.capacity()
            + self.best.capacity()
            + self.header.capacity()
            + self.trailer.capacity()
    }
}

/// The tail is searched once the room left is below `budget / FLOOR_DIVISOR`. A deflate segment
/// end costs a block header, so gzip closes fewer, larger segments and searches a larger tail
/// (primed, it compresses as well as the stream); a zstd tail is estimated, not exact, and each
/// probe uses up to 32 KiB of history, so zstd keeps it small.
const fn floor_divisor(compression: Compression) -> usize {
    match compression {
        Compression::Zstd(_) => 256,
        _ => 16,
    }
}

/// The compressed-budget path of [`super::fill_compressed`] for framings without a dictionary.
pub(super) fn fill_segmented<F: Format>(
    format: &F,
    strategy: Strategy,
    compression: Compression,
    ws: &mut Workspace<F::Member>,
    rng: &mut BlockRng,
    budget: usize,
    out: &mut Vec<u8>,
) -> Result<Filled> {
    let reuse = strategy.buffer == BufferPolicy::Reuse;
    if reuse {
        ws.widen_for_compressed();
    }
    let mut bufs = std::mem::take(&mut ws.segments);
    if reuse {
        bufs.make_room(budget);
    }
    let codec = match bufs.codec.take() {
        Some(codec) => codec,
        None => StreamCodec::new(compression)?
            .ok_or_else(|| Error::argument("compression", compression.to_string(), "not a codec".to_owned()))?,
    };
    let mut state = Segmented { codec, bufs, encoded: 0 };
    let result = state.run(format, ws, rng, budget, compression, out);
    if reuse {
        let Segmented { codec, mut bufs, .. } = state;
        bufs.codec = Some(codec);
        ws.segments = bufs;
    }
    result
}

struct Segmented {
    codec: StreamCodec,
    bufs: SegmentBuffers,
    /// Uncompressed bytes fed to the compressor.
    encoded: usize,
}

impl Segmented {
    fn run<F: Format>(
        &mut self,
        format: &F,
        ws: &mut Workspace<F::Member>,
        rng: &mut BlockRng,
        budget: usize,
        compression: Compression,
        out: &mut Vec<u8>,
    ) -> Result<Filled> {
        let (framing, raw_limit, mut cap) = super::compressed_bounds(format, budget);
        begin_encode_once(framing, ws);
        let bufs = &mut self.bufs;
        bufs.ends.clear();
        bufs.trailer.clear();
        framing.write_trailer(&mut bufs.trailer);
        let tail_reserve = self.codec.tail_bound(bufs.trailer.len());
        self.codec.begin(&mut bufs.closed)?;
        let floor = budget / floor_divisor(compression);
        // Closed segments: `k` members, the first `start` bytes of the scratch buffer.
        let (mut k, mut start) = (0usize, 0usize);
        loop {
            let used = self.codec.fixed_len(framing.header_len(k.max(1))) + bufs.closed.len() + tail_reserve;
            let room = budget.saturating_sub(used);
            if room < floor.max(1) {
                break;
            }
            let packed = bufs.closed.len();
            let target = if packed == 0 {
                room * 2 / 3
            } else {
                usize::try_from(room as u128 * 2 / 3 * start as u128 / packed as u128).unwrap_or(usize::MAX)
            };
            let want = start.saturating_add(target);
            let mut end = k;
            while end < cap {
                if extend_encoded(format, ws, rng, end + 1, raw_limit).is_err() {
                    // Member `end + 1` takes the block past the bound on its uncompressed size.
                    cap = end;
                    break;
                }
                if ws.offsets.get(end + 1).is_none_or(|&e| e > want) {
                    break;
                }
                end += 1;
            }
            if end == k {
                break;
            }
            let stop = ws.offsets.get(end).copied().unwrap_or(start);
            let input = ws.scratch.get(start..stop).unwrap_or_default();
            self.codec.segment(input, &mut bufs.closed)?;
            self.encoded += input.len();
            let used = self.codec.fixed_len(framing.header_len(end)) + bufs.closed.len() + tail_reserve;
            if used > budget {
                // Compressed far worse than the ratio so far: rebuild the stream without it.
                self.rebuild(&ws.scratch)?;
                break;
            }
            (k, start) = (end, stop);
            bufs.ends.push(stop);
        }
        // The tail: the longest run of members after the closed segments that still fits.
        self.codec.prime(ws.scratch.get(..start).unwrap_or_default())?;
        let closed = self.bufs.closed.len();
        let tail_budget = budget.saturating_sub(closed);
        let mut best_n = 0usize;
        let mut failure = None;
        let found = longest_prefix(tail_budget, cap.saturating_sub(k), |n| {
            if failure.is_some() {
                return Probe::Exceeds { at: n, size: usize::MAX };
            }
            let members = k + n;
            if let Err((at, _)) = extend_encoded(format, ws, rng, members, raw_limit) {
                return Probe::Exceeds { at: at.saturating_sub(k).max(1), size: tail_budget.saturating_add(1) };
            }
            let stop = ws.offsets.get(members).copied().unwrap_or(usize::MAX);
            match self.tail_probe(&ws.scratch, start, stop) {
                Err(e) => {
                    failure = Some(e);
                    Probe::Exceeds { at: n, size: usize::MAX }
                }
                Ok(()) => {
                    let size = self.codec.fixed_len(framing.header_len(members)) + self.codec.tail_len(&self.bufs.tail);
                    if size > tail_budget {
                        return Probe::Exceeds { at: n, size };
                    }
                    if n > best_n {
                        best_n = n;
                        std::mem::swap(&mut self.bufs.tail, &mut self.bufs.best);
                    }
                    Probe::Fits(size)
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let mut members = match found {
            Found::Prefix { members, .. } => k + members,
            Found::Nothing { first_size } if k == 0 => {
                return Err(Error::BudgetTooSmall {
                    format: format.name(),
                    budget,
                    needed: first_size.saturating_add(closed),
                    smallest: compression.min_block_len(),
                });
            }
            Found::Nothing { .. } => {
                // No member after the closed segments fits: the tail holds the trailer alone.
                self.tail_probe(&ws.scratch, start, start)?;
                std::mem::swap(&mut self.bufs.tail, &mut self.bufs.best);
                k
            }
        };
        if self.codec.ends_in_stream() {
            members = self.end_in_stream(&ws.scratch, &ws.offsets, framing, k, members, budget)?;
            self.bufs.best.clear();
        }
        let closed = self.bufs.closed.len();
        let body = ws.offsets.get(members).copied().unwrap_or(start);
        let bufs = &mut self.bufs;
        bufs.header.clear();
        framing.write_header_with(members, body, &ws.dict, ws.dict.size(), &mut bufs.header);
        let mut crc = Crc::new();
        if !self.codec.ends_in_stream() {
            // gzip's trailer: the CRC-32 of the whole uncompressed block (zstd has no checksum).
            crc.update(&bufs.header);
            crc.update(ws.scratch.get(..body).unwrap_or_default());
            crc.update(&bufs.trailer);
        }
        let len = self.codec.fixed_len(bufs.header.len()) + closed + bufs.best.len();
        reserve_output(out, len, budget);
        let bytes = self.codec.assemble(&bufs.header, &bufs.closed, &bufs.best, &crc, out);
        debug_assert_eq!(bytes, len);
        Ok(Filled { members, bytes, encoded: self.encoded })
    }

    /// Compresses the tail holding the scratch bytes `start..stop` and the trailer into
    /// `self.bufs.tail`.
    fn tail_probe(&mut self, scratch: &[u8], start: usize, stop: usize) -> Result<()> {
        let history = scratch.get(..start).unwrap_or_default();
        let bufs = &mut self.bufs;
        let input = tail_input(&mut bufs.tail_in, &bufs.trailer, scratch, start, stop);
        self.encoded += input.len();
        self.codec.tail(history, input, &mut bufs.tail)
    }

    /// Restarts the stream and closes the kept segments again (same bytes).
    fn rebuild(&mut self, scratch: &[u8]) -> Result<()> {
        self.codec.begin(&mut self.bufs.closed)?;
        let mut from = 0;
        for &to in &self.bufs.ends {
            let input = scratch.get(from..to).unwrap_or_default();
            self.codec.segment(input, &mut self.bufs.closed)?;
            self.encoded += input.len();
            from = to;
        }
        Ok(())
    }

    /// zstd: writes the tail of `members - k` members (the search's answer, by estimate) into the
    /// stream, ending the frame, and returns the block's member count. If the block is then over
    /// budget, the stream is rebuilt and ended with one member fewer, until it fits; a tail of
    /// the trailer alone fits by the bound reserved for it.
    fn end_in_stream(
        &mut self,
        scratch: &[u8],
        offsets: &[usize],
        framing: Framing,
        k: usize,
        mut members: usize,
        budget: usize,
    ) -> Result<usize> {
        let start = offsets.get(k).copied().unwrap_or(0);
        loop {
            let stop = offsets.get(members).copied().unwrap_or(start);
            let bufs = &mut self.bufs;
            let input = tail_input(&mut bufs.tail_in, &bufs.trailer, scratch, start, stop);
            self.encoded += input.len();
            self.codec.end(input, &mut bufs.closed)?;
            let size = self.codec.fixed_len(framing.header_len(members)) + self.bufs.closed.len();
            if size <= budget {
                return Ok(members);
            }
            if members == k {
                // Not reached: the bound reserved for a trailer-only tail kept room for it.
                return Err(Error::BudgetTooSmall { format: framing.name(), budget, needed: size, smallest: size });
            }
            members -= 1;
            self.rebuild(scratch)?;
        }
    }
}

/// The tail's input: the scratch bytes `start..stop`, and the trailer if the framing has one
/// (copied after them into `tail_in`).
fn tail_input<'a>(tail_in: &'a mut Vec<u8>, trailer: &[u8], scratch: &'a [u8], start: usize, stop: usize) -> &'a [u8] {
    let members = scratch.get(start..stop).unwrap_or_default();
    if trailer.is_empty() {
        return members;
    }
    tail_in.clear();
    tail_in.extend_from_slice(members);
    tail_in.extend_from_slice(trailer);
    tail_in
}
