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
//!   the decoder's window holds.
//! * **zstd**: one frame for the framing's header (a raw block, if any) and the closed segments
//!   (one streaming context, `ZSTD_e_flush` after each segment, then an empty last raw block),
//!   followed, when the tail's input is not empty, by a second, independent frame compressing
//!   the tail one-shot (with its content size, no checksum). Concatenated frames are one valid
//!   zstd stream (RFC 8878 §3.1).
//!
//! Every operation is a deterministic function of its inputs and the level (the backends are
//! pinned with `=` in `Cargo.toml`): a reused codec is reset, never carried over between blocks.

use flate2::{Compress, FlushCompress, Status};
use zstd::zstd_safe::{self, CCtx, CParameter, InBuffer, OutBuffer, ResetDirective};

use crate::compress::{Compression, GZIP_HEADER};
use crate::error::{Error, Result};

/// The deflate window: a tail is primed with at most this many preceding bytes.
pub const DEFLATE_WINDOW: usize = 32 * 1024;

/// Output room made per codec call: the calls loop until their input is consumed and flushed, so
/// the output buffers grow with the compressed bytes, not with the input.
const STREAM_ROOM: usize = 32 * 1024;

/// The first frame's header when no segment is closed: magic, no content size, not single-segment,
/// no checksum or dictionary, and the smallest window (1 KiB; the frame holds at most the
/// framing's header, in a raw block).
const ZSTD_EMPTY_FRAME_HEADER: [u8; 6] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00];

/// The empty last raw block that ends a zstd frame (Last_Block = 1, Raw, size 0).
const ZSTD_LAST_EMPTY_BLOCK: [u8; 3] = [0x01, 0x00, 0x00];

/// The codec state a segmented block needs: a stream for the closed segments and a compressor
/// for tails. Kept by the `reuse` strategies between blocks (reset), built per block by `fresh`.
pub struct StreamCodec {
    kind: Kind,
}

enum Kind {
    /// One deflate compressor: the tails are compressed after the last segment is closed.
    Gzip {
        deflate: Box<Compress>,
        sink: Vec<u8>,
    },
    Zstd {
        stream: Box<CCtx<'static>>,
        tail: Box<zstd::bulk::Compressor<'static>>,
    },
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
                let mut stream = CCtx::try_create().ok_or_else(|| bad(&"libzstd could not allocate a context"))?;
                stream
                    .set_parameter(CParameter::CompressionLevel(i32::from(level)))
                    .map_err(|c| bad(&zstd_safe::get_error_name(c)))?;
                let tail = zstd::bulk::Compressor::new(i32::from(level)).map_err(|e| bad(&e))?;
                Kind::Zstd { stream: Box::new(stream), tail: Box::new(tail) }
            }
        };
        Ok(Some(Self { kind }))
    }

    /// Starts a block: resets the stream and clears `closed`.
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn begin(&mut self, closed: &mut Vec<u8>) -> Result<()> {
        closed.clear();
        match &mut self.kind {
            Kind::Gzip { deflate, sink } => scrub(deflate, sink),
            Kind::Zstd { stream, .. } => {
                stream.reset(ResetDirective::SessionOnly).map_err(zstd_error)?;
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
            Kind::Zstd { stream, .. } => zstd_stream(stream, input, closed),
        }
    }

    /// Replaces `out` with the tail compressing `input`, after `history` (the member bytes before
    /// the tail; gzip primes its dictionary with the last [`DEFLATE_WINDOW`] of them). gzip
    /// compresses tails with the stream's compressor: no segment may follow a tail.
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
            Kind::Zstd { tail, .. } => {
                if input.is_empty() {
                    return Ok(());
                }
                let bound = zstd_safe::compress_bound(input.len());
                if out.capacity() < bound {
                    out.reserve(bound);
                }
                tail.compress_to_buffer(input, out).map_err(|e| Error::io("compress", "zstd", e))?;
                Ok(())
            }
        }
    }

    /// The most bytes a tail compressing `len` input bytes can take (a bound the search uses to
    /// keep room for the tail when it closes a segment).
    pub fn tail_bound(&self, len: usize) -> usize {
        match self.kind {
            Kind::Gzip { .. } => crate::compress::deflate_bound(len),
            Kind::Zstd { .. } if len == 0 => 0,
            Kind::Zstd { .. } => zstd_safe::compress_bound(len),
        }
    }

    /// Bytes the container adds around the closed segments and the tail for a framing header of
    /// `header` bytes: gzip's header, stored block and trailer; zstd's raw block and the empty
    /// last block that end the first frame, and its header when no segment is closed (the
    /// stream writes it with the first segment).
    pub fn fixed_len(&self, header: usize, closed: &[u8]) -> usize {
        match self.kind {
            Kind::Gzip { .. } => GZIP_HEADER.len() + 8 + if header == 0 { 0 } else { 5 + header },
            Kind::Zstd { .. } => {
                let frame = if closed.is_empty() { ZSTD_EMPTY_FRAME_HEADER.len() } else { 0 };
                frame + ZSTD_LAST_EMPTY_BLOCK.len() + if header == 0 { 0 } else { 3 + header }
            }
        }
    }

    /// Appends the whole block to `out`: `header` is the framing's header, `closed` what
    /// [`StreamCodec::begin`] and [`StreamCodec::segment`] wrote, `tail` the tail, and `crc` the
    /// CRC-32 and length of the whole uncompressed block (gzip only). Returns the bytes appended.
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
                if frame_header.is_empty() {
                    out.extend_from_slice(&ZSTD_EMPTY_FRAME_HEADER);
                }
                out.extend_from_slice(frame_header);
                if !header.is_empty() {
                    // A raw, non-last block: Block_Size << 3 | Raw (0) << 1 | Last_Block (0).
                    let word = (header.len() << 3) as u32;
                    out.extend_from_slice(&word.to_le_bytes()[..3]);
                    out.extend_from_slice(header);
                }
                out.extend_from_slice(blocks);
                out.extend_from_slice(&ZSTD_LAST_EMPTY_BLOCK);
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

/// Feeds all of `input` to the zstd stream and flushes, appending the output to `out`.
fn zstd_stream(c: &mut CCtx<'static>, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let mut source = InBuffer::around(input);
    loop {
        let room = zstd_safe::compress_bound(input.len() - source.pos()).min(STREAM_ROOM) + 64;
        if out.capacity() - out.len() < room {
            out.reserve(room);
        }
        let pos = out.len();
        let mut sink = OutBuffer::around_pos(out, pos);
        let remaining = c
            .compress_stream2(&mut sink, &mut source, zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush)
            .map_err(zstd_error)?;
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
