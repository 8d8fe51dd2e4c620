//! The codec operations a segmented compressed block is built from (see [`crate::segmented`]).
//!
//! A block's compressed bytes are, per codec:
//!
//! * **gzip**: one RFC 1952 member. The fixed header (no name, mtime 0, OS 255); the framing's
//!   header (if any) as one *stored* deflate block; the *closed segments*, one raw deflate stream
//!   (zlib-rs) fed segment by segment, each segment ended by a sync flush (so it ends on a byte
//!   boundary with a non-final block); the *tail*: a fresh raw deflate stream primed with the last
//!   32 KiB of the member bytes before it as its dictionary (`deflateSetDictionary`), finished
//!   (its last block is final); CRC-32 and ISIZE of the whole uncompressed block. A decoder sees
//!   one valid deflate stream: the tail's back-references reach only the 32 KiB before it, which
//!   the decoder's window holds. A tail probe is exactly the tail that is written.
//! * **zstd**: ONE frame, from one streaming context: its header (no content size, written when
//!   the block starts), the framing's header (a raw block, if any), the closed segments
//!   (`ZSTD_e_flush` after each), and the tail, written into the same stream with `ZSTD_e_end`,
//!   so it is compressed with the block's history and a decoder that reads only the first frame
//!   reads the whole block. A stream cannot be forked, so a tail *probe* is an estimate: the tail
//!   compressed one-shot by a second context with the last 32 KiB of the member bytes before it
//!   as a raw-content dictionary, counted without its frame header. The block's definition
//!   ([`crate::segmented`]) verifies the tail it writes and falls back deterministically.
//!
//! Every operation is a deterministic function of its inputs and the level (the backends are
//! pinned with `=` in `Cargo.toml`): a reused codec is reset, never carried over between blocks.

use flate2::{Compress, FlushCompress, Status};
use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
use zstd::zstd_safe::{self, CCtx, CParameter, InBuffer, OutBuffer, ResetDirective};

use crate::compress::{Compression, GZIP_HEADER};
use crate::error::{Error, Result};

/// The deflate window: a tail is primed with at most this many preceding bytes.
pub const DEFLATE_WINDOW: usize = 32 * 1024;

/// Output room made per codec call: the calls loop until their input is consumed and flushed, so
/// the output buffers grow with the compressed bytes, not with the input.
const STREAM_ROOM: usize = 32 * 1024;

/// The most history a zstd tail probe is given, as its dictionary (built once per block). 256 KiB
/// estimated dogstatsd's 1 MiB tails a little closer (fill +0.04 pp) but building it cost a
/// quarter of the 64 KiB cells' throughput.
const ZSTD_HISTORY: usize = 32 * 1024;

/// A zstd tail's estimate is its probe's blocks plus this fraction of them: the tail written into
/// the stream (other table sizes, other repeat offsets, more history) comes out within about 2%
/// of the probe, either way, and a tail over budget costs a rebuild of the block's stream.
const ZSTD_ESTIMATE_MARGIN: usize = 32;

/// The largest zstd block's content.
const ZSTD_BLOCK_MAX: usize = 128 * 1024;

/// The magic number that makes libzstd parse a dictionary as a formatted one: a history window
/// starting with it is shortened by one byte, so every window is raw content.
const ZSTD_DICTIONARY_MAGIC: [u8; 4] = [0x37, 0xa4, 0x30, 0xec];

/// The codec state a segmented block needs: a stream for the closed segments and a compressor
/// for tails. Kept by the `reuse` strategies between blocks (reset), built per block by `fresh`.
pub struct StreamCodec {
    kind: Kind,
}

enum Kind {
    /// One deflate compressor: the tails are compressed after the last segment is closed.
    Gzip { deflate: Box<Compress>, sink: Vec<u8> },
    /// The block's stream, and the context that estimates tails (with the history loaded as
    /// its dictionary by [`StreamCodec::prime`]).
    Zstd { stream: Box<CCtx<'static>>, probe: Box<CCtx<'static>> },
}

impl std::fmt::Debug for StreamCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.kind {
            Kind::Gzip { .. } => "gzip",
            Kind::Zstd { .. } => "zstd",
        };
        f.debug_struct("StreamCodec").field("codec", &name).finish()
    }
}

impl StreamCodec {
    /// The codec for `compression`, or `None` for [`Compression::None`].
    ///
    /// # Errors
    /// [`Error::Argument`] if libzstd rejects the level.
    pub fn new(compression: Compression) -> Result<Option<Self>> {
        let bad = |e: &dyn std::fmt::Display| Error::argument("compression", compression.to_string(), e.to_string());
        let kind = match compression {
            Compression::None => return Ok(None),
            Compression::Gzip(level) => {
                let level = flate2::Compression::new(u32::from(level));
                Kind::Gzip { deflate: Box::new(Compress::new(level, false)), sink: Vec::new() }
            }
            Compression::Zstd(level) => {
                let context = || {
                    let mut c = CCtx::try_create().ok_or_else(|| bad(&"libzstd could not allocate a context"))?;
                    c.set_parameter(CParameter::CompressionLevel(i32::from(level)))
                        .map_err(|c| bad(&zstd_safe::get_error_name(c)))?;
                    Ok::<_, Error>(Box::new(c))
                };
                Kind::Zstd { stream: context()?, probe: context()? }
            }
        };
        Ok(Some(Self { kind }))
    }

    /// Starts a block: resets the stream and clears `closed` (zstd: then holds the frame header).
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn begin(&mut self, closed: &mut Vec<u8>) -> Result<()> {
        closed.clear();
        match &mut self.kind {
            Kind::Gzip { deflate, sink } => scrub(deflate, sink),
            Kind::Zstd { stream, .. } => {
                stream.reset(ResetDirective::SessionOnly).map_err(zstd_error)?;
                // A flush with no input writes the frame header (no content size) and no block.
                zstd_stream(stream, &[], ZSTD_EndDirective::ZSTD_e_flush, closed)
            }
        }
    }

    /// Prepares the tail probes of a block whose closed segments hold `history`: zstd loads its
    /// last `ZSTD_HISTORY` (32 KiB) bytes as the probe's dictionary (gzip primes each probe itself).
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn prime(&mut self, history: &[u8]) -> Result<()> {
        match &mut self.kind {
            Kind::Gzip { .. } => Ok(()),
            Kind::Zstd { probe, .. } => {
                let mut window = history.get(history.len().saturating_sub(ZSTD_HISTORY)..).unwrap_or_default();
                if window.starts_with(&ZSTD_DICTIONARY_MAGIC) {
                    window = window.get(1..).unwrap_or_default();
                }
                probe.reset(ResetDirective::SessionOnly).map_err(zstd_error)?;
                probe.load_dictionary(window).map_err(zstd_error)?;
                Ok(())
            }
        }
    }

    /// Compresses `input` as the next closed segment and flushes, appending to `closed`.
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn segment(&mut self, input: &[u8], closed: &mut Vec<u8>) -> Result<()> {
        match &mut self.kind {
            Kind::Gzip { deflate: stream, .. } => deflate(stream, input, FlushCompress::Sync, closed),
            Kind::Zstd { stream, .. } => zstd_stream(stream, input, ZSTD_EndDirective::ZSTD_e_flush, closed),
        }
    }

    /// Whether the tail is written into the stream ([`StreamCodec::end`], zstd) rather than being
    /// the last probe's bytes (gzip).
    pub fn ends_in_stream(&self) -> bool {
        matches!(self.kind, Kind::Zstd { .. })
    }

    /// zstd: writes `input` as the tail into the stream and ends the frame, appending to
    /// `closed`. No segment may follow. gzip: nothing (its tail is the probe's bytes).
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn end(&mut self, input: &[u8], closed: &mut Vec<u8>) -> Result<()> {
        match &mut self.kind {
            Kind::Gzip { .. } => Ok(()),
            Kind::Zstd { stream, .. } => zstd_stream(stream, input, ZSTD_EndDirective::ZSTD_e_end, closed),
        }
    }

    /// The bytes a tail probe counts for: gzip's whole tail; zstd's estimate, the probe's frame
    /// without its header.
    pub fn tail_len(&self, tail: &[u8]) -> usize {
        match self.kind {
            Kind::Gzip { .. } => tail.len(),
            Kind::Zstd { .. } => {
                let blocks = tail.len().saturating_sub(zstd_frame_header_len(tail));
                blocks + blocks / ZSTD_ESTIMATE_MARGIN
            }
        }
    }

    /// Replaces `out` with the tail probe compressing `input`, after `history` (the member bytes
    /// before the tail; gzip primes its dictionary with the last [`DEFLATE_WINDOW`] of them, zstd
    /// uses what [`StreamCodec::prime`] loaded). gzip compresses tails with the stream's
    /// compressor: no segment may follow a tail.
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn tail(&mut self, history: &[u8], input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        match &mut self.kind {
            Kind::Gzip { deflate: tail, sink } => {
                scrub(tail, sink)?;
                let start = history.len().saturating_sub(DEFLATE_WINDOW);
                let dictionary = history.get(start..).unwrap_or_default();
                if !dictionary.is_empty() {
                    tail.set_dictionary(dictionary).map_err(gzip_error)?;
                }
                deflate(tail, input, FlushCompress::Finish, out)
            }
            Kind::Zstd { probe, .. } => {
                let bound = zstd_safe::compress_bound(input.len());
                if out.capacity() < bound {
                    out.reserve(bound);
                }
                probe.compress2(out, input).map_err(zstd_error)?;
                Ok(())
            }
        }
    }

    /// The most bytes a tail compressing `len` input bytes can take (a bound the search uses to
    /// keep room for the tail when it closes a segment).
    pub fn tail_bound(&self, len: usize) -> usize {
        match self.kind {
            Kind::Gzip { .. } => crate::compress::deflate_bound(len),
            // At worst raw blocks of at most 128 KiB, each with a 3-byte header (at least one).
            Kind::Zstd { .. } => len + 3 * (len / ZSTD_BLOCK_MAX + 1),
        }
    }

    /// Bytes the container adds around the closed segments and the tail for a framing header of
    /// `header` bytes: gzip's header, stored block and trailer; zstd's raw block (its frame
    /// header is in the closed bytes).
    pub fn fixed_len(&self, header: usize) -> usize {
        match self.kind {
            Kind::Gzip { .. } => GZIP_HEADER.len() + 8 + if header == 0 { 0 } else { 5 + header },
            Kind::Zstd { .. } => {
                if header == 0 {
                    0
                } else {
                    3 + header
                }
            }
        }
    }

    /// Appends the whole block to `out`: `header` is the framing's header, `closed` what
    /// [`StreamCodec::begin`], [`StreamCodec::segment`] and [`StreamCodec::end`] wrote, `tail`
    /// the tail (gzip; empty for zstd), and `crc` the CRC-32 and length of the whole
    /// uncompressed block (gzip only). Returns the bytes appended.
    pub fn assemble(&self, header: &[u8], closed: &[u8], tail: &[u8], crc: &flate2::Crc, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        match self.kind {
            Kind::Gzip { .. } => {
                out.extend_from_slice(&GZIP_HEADER);
                if !header.is_empty() {
                    // A stored, non-final block: BFINAL 0, BTYPE 00, padded to the byte; LEN, NLEN.
                    let len = u16::try_from(header.len()).unwrap_or(u16::MAX);
                    out.push(0);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&(!len).to_le_bytes());
                    out.extend_from_slice(header);
                }
                out.extend_from_slice(closed);
                out.extend_from_slice(tail);
                out.extend_from_slice(&crc.sum().to_le_bytes());
                out.extend_from_slice(&crc.amount().to_le_bytes());
            }
            Kind::Zstd { .. } => {
                let head = zstd_frame_header_len(closed).min(closed.len());
                let (frame_header, blocks) = closed.split_at(head);
                out.extend_from_slice(frame_header);
                if !header.is_empty() {
                    // A raw, non-last block: Block_Size << 3 | Raw (0) << 1 | Last_Block (0).
                    let word = (header.len() << 3) as u32;
                    out.extend_from_slice(&word.to_le_bytes()[..3]);
                    out.extend_from_slice(header);
                }
                out.extend_from_slice(blocks);
                out.extend_from_slice(tail);
            }
        }
        out.len() - start
    }
}

/// The length of the zstd frame header at the start of `frame` (RFC 8878 §3.1.1.1).
fn zstd_frame_header_len(frame: &[u8]) -> usize {
    let Some(&descriptor) = frame.get(4) else { return frame.len() };
    let fcs_flag = descriptor >> 6;
    let single_segment = descriptor & 0x20 != 0;
    let did = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let fcs = match fcs_flag {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    4 + 1 + usize::from(!single_segment) + did + fcs
}

/// Zeros a deflate compressor's window scrubs it with.
static ZEROS: [u8; SCRUB_LEN] = [0; SCRUB_LEN];
/// More than the deflate window buffer (two 32 KiB halves) and a maximal match.
const SCRUB_LEN: usize = 2 * DEFLATE_WINDOW + 4096;

/// Resets a deflate compressor to the state of a new one. `reset` alone is not enough: zlib-rs
/// hashes 4 bytes at each position, so the last positions of an input hash up to 3 bytes past
/// its end, which are left over from earlier inputs after a reset (zeros in a new compressor),
/// and the matches found there, hence the output, would depend on what the compressor compressed
/// before. Compressing zeros over the whole window buffer (cheap: a few hundred maximal matches)
/// leaves it as a new compressor's, so the output depends on the input alone.
fn scrub(c: &mut Compress, sink: &mut Vec<u8>) -> Result<()> {
    c.reset();
    sink.clear();
    deflate(c, &ZEROS, FlushCompress::Finish, sink)?;
    c.reset();
    Ok(())
}

/// Feeds all of `input` to the deflate stream with `flush`, appending the output to `out`.
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) -> Result<()> {
    let start_in = c.total_in();
    loop {
        let consumed = usize::try_from(c.total_in() - start_in).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let room = crate::compress::deflate_bound(rest.len()).min(STREAM_ROOM) + 64;
        if out.capacity() - out.len() < room {
            out.reserve(room);
        }
        let spare = out.capacity() - out.len();
        let status = c.compress_vec(rest, out, flush).map_err(gzip_error)?;
        let done_input = usize::try_from(c.total_in() - start_in).unwrap_or(usize::MAX) >= input.len();
        let finished = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            // A flush is complete when the output did not fill the room it was given.
            _ => done_input && out.capacity() - out.len() > 0 && spare > 0,
        };
        if finished {
            return Ok(());
        }
    }
}

/// Feeds all of `input` to the zstd stream and flushes or ends the frame (`directive`),
/// appending the output to `out`.
fn zstd_stream(c: &mut CCtx<'static>, input: &[u8], directive: ZSTD_EndDirective, out: &mut Vec<u8>) -> Result<()> {
    let mut source = InBuffer::around(input);
    loop {
        let room = zstd_safe::compress_bound(input.len() - source.pos()).min(STREAM_ROOM) + 64;
        if out.capacity() - out.len() < room {
            out.reserve(room);
        }
        let pos = out.len();
        let mut sink = OutBuffer::around_pos(out, pos);
        let remaining = c.compress_stream2(&mut sink, &mut source, directive).map_err(zstd_error)?;
        if remaining == 0 && source.pos() == input.len() {
            return Ok(());
        }
    }
}

fn gzip_error(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::io("compress", "gzip", std::io::Error::other(e))
}

fn zstd_error(code: usize) -> Error {
    Error::io("compress", "zstd", std::io::Error::other(zstd_safe::get_error_name(code)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = crate::rng::BlockRng::for_block(seed, 1);
        // Words from a small vocabulary: long repeats, as in real members.
        let words: [&[u8]; 8] =
            [b"service ", b"db.query ", b"GET /api/v1/users ", b"200 ", b"host-01 ", b"ok\n", b"a", b"42 "];
        let mut out = Vec::with_capacity(n + 32);
        while out.len() < n {
            out.extend_from_slice(words[rng.below(8) as usize]);
        }
        out.truncate(n);
        out
    }

    #[test]
    fn segments_are_what_a_flushing_writer_writes() {
        let segments = [data(5000, 1), data(300, 2), data(70_000, 3), data(9, 4)];
        let mut codec = StreamCodec::new(Compression::Gzip(6)).unwrap().unwrap();
        let mut closed = Vec::new();
        codec.begin(&mut closed).unwrap();
        let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        for s in &segments {
            codec.segment(s, &mut closed).unwrap();
            w.write_all(s).unwrap();
            w.flush().unwrap();
            assert_eq!(&closed, w.get_ref());
        }
        let history = segments.concat();
        let mut tail = Vec::new();
        codec.tail(&history, &data(2000, 5), &mut tail).unwrap();
        let mut fresh = Compress::new(flate2::Compression::new(6), false);
        fresh.set_dictionary(&history[history.len() - DEFLATE_WINDOW..]).unwrap();
        let mut want = Vec::with_capacity(10_000);
        assert_eq!(fresh.compress_vec(&data(2000, 5), &mut want, FlushCompress::Finish).unwrap(), Status::StreamEnd);
        assert_eq!(tail, want);
    }

    #[test]
    fn a_tail_does_not_depend_on_earlier_tails() {
        let history = data(40_000, 9);
        let fresh = |input: &[u8]| {
            let mut c = Compress::new(flate2::Compression::new(6), false);
            c.set_dictionary(&history[history.len() - DEFLATE_WINDOW..]).unwrap();
            let mut out = Vec::with_capacity(input.len() * 2 + 1024);
            assert_eq!(c.compress_vec(input, &mut out, FlushCompress::Finish).unwrap(), Status::StreamEnd);
            out
        };
        let mut codec = StreamCodec::new(Compression::Gzip(6)).unwrap().unwrap();
        let mut tail = Vec::new();
        for seed in 0..200 {
            let long = data(3000 + seed as usize * 7, seed);
            codec.tail(&history, &long, &mut tail).unwrap();
            let short = &long[..1000 + seed as usize * 5];
            codec.tail(&history, short, &mut tail).unwrap();
            assert_eq!(tail, fresh(short), "seed {seed}");
        }
    }
}
