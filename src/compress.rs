//! Compressed budgets: the codec a block is compressed with, and a reusable compressor.
//!
//! With a [`Compression`] other than `none`, a block for budget `B` is the compressed framed
//! encoding of the longest prefix whose *compressed* size fits `B` (see [`crate::fill()`] for what
//! the search returns when compressed size is not monotone). Compression is one-shot over the
//! whole framed block, as a sender would compress a payload, so the ratio is the honest one.
//!
//! Output is deterministic for a given crate version and level: gzip is RFC 1952 with a fixed
//! header (no name, mtime 0, OS 255) around raw deflate from `flate2` (miniz_oxide backend);
//! zstd is one frame with the content size and no checksum from `zstd` (libzstd, bundled).
//! Both crates are pinned with `=` in `Cargo.toml`, and their backends in `Cargo.lock`.
//!
//! Memory: `flate2` allocates through the Rust allocator, so its allocations are counted;
//! libzstd allocates with C `malloc`, which the counting allocator does not see, so zstd's
//! allocation figures cover only the Rust side.

use std::fmt;

use flate2::{Compress, Crc, FlushCompress, Status};

pub use crate::compression::Compression;
use crate::error::{Error, Result};

impl Compression {
    /// Decompresses one block compressed with this codec (for samples, checks and tests; not
    /// on a hot path).
    ///
    /// # Errors
    /// [`Error::Io`] when `data` is not a valid stream of this codec.
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        let result = match self {
            Compression::None => {
                out.extend_from_slice(data);
                Ok(0)
            }
            Compression::Gzip(_) => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
            Compression::Zstd(_) => zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out)),
        };
        result.map_err(|e| Error::io("decompress", self.to_string(), e))?;
        Ok(out)
    }
}

/// The fixed gzip member header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A compressor for one codec, kept between blocks by the `reuse` strategies (reset, not
/// rebuilt) and built per use by the `fresh` ones.
pub struct Compressor {
    codec: Codec,
}

enum Codec {
    None,
    Gzip(Box<Compress>),
    Zstd(Box<zstd::bulk::Compressor<'static>>),
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.codec {
            Codec::None => "none",
            Codec::Gzip(_) => "gzip",
            Codec::Zstd(_) => "zstd",
        };
        f.debug_struct("Compressor").field("codec", &name).finish()
    }
}

impl Compressor {
    /// A compressor for `compression`.
    ///
    /// # Errors
    /// [`Error::Argument`] if libzstd rejects the level (it accepts 1..=22).
    pub fn new(compression: Compression) -> Result<Self> {
        let codec = match compression {
            Compression::None => Codec::None,
            Compression::Gzip(level) => {
                Codec::Gzip(Box::new(Compress::new(flate2::Compression::new(u32::from(level)), false)))
            }
            Compression::Zstd(level) => {
                let c = zstd::bulk::Compressor::new(i32::from(level))
                    .map_err(|e| Error::argument("compression", compression.to_string(), e.to_string()))?;
                Codec::Zstd(Box::new(c))
            }
        };
        Ok(Self { codec })
    }

    /// Replaces `out`'s contents with the compression of `input` and returns its length. A
    /// reused `out` with room for the result does not allocate.
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails (it does not for in-memory buffers of sane sizes).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        match self.compress_within(input, usize::MAX, out)? {
            Packed::Fits(len) | Packed::Over(len) => Ok(len),
        }
    }

    /// As [`Compressor::compress`], but gzip stops once the output passes `2 × limit` bytes
    /// and returns [`Packed::Over`] with an estimate of the whole length (the output so far
    /// scaled by the input not yet consumed). The estimate is a deterministic function of the
    /// input, the level and `limit`. zstd always compresses the whole input.
    ///
    /// # Errors
    /// [`Error::Io`] if the codec fails.
    pub fn compress_within(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<Packed> {
        out.clear();
        match &mut self.codec {
            Codec::None => out.extend_from_slice(input),
            Codec::Gzip(deflate) => {
                deflate.reset();
                // The compressor gets an output window of exactly `2 × limit + 1` bytes (or the
                // bound, if smaller), whatever the buffer's capacity, so where it stops and the
                // estimate it leaves depend only on the input, the level and `limit`: every
                // strategy sees the same sizes and the search takes the same path. Twice the
                // limit lets a probe a little past the answer finish, so the search learns its
                // exact size, while one far past it stops early.
                let room = deflate_bound(input.len()).saturating_add(GZIP_HEADER.len() + 8);
                let window = room.min(limit.saturating_mul(2).saturating_add(1)).max(GZIP_HEADER.len() + 1);
                out.resize(window, 0);
                let (header, body) = out.split_at_mut(GZIP_HEADER.len());
                header.copy_from_slice(&GZIP_HEADER);
                let status = deflate.compress(input, body, FlushCompress::Finish).map_err(codec_error)?;
                let produced = usize::try_from(deflate.total_out()).unwrap_or(usize::MAX);
                out.truncate(GZIP_HEADER.len().saturating_add(produced));
                if status != Status::StreamEnd {
                    // The window filled first: the block is longer than `limit`. Estimate its
                    // length from the share of the input consumed so far.
                    let consumed = usize::try_from(deflate.total_in()).unwrap_or(input.len()).max(1) as u128;
                    let estimate = out.len() as u128 * input.len() as u128 / consumed + 8;
                    return Ok(Packed::Over(
                        usize::try_from(estimate).unwrap_or(usize::MAX).max(limit.saturating_add(1)),
                    ));
                }
                let mut crc = Crc::new();
                crc.update(input);
                out.extend_from_slice(&crc.sum().to_le_bytes());
                // ISIZE is the input length modulo 2^32 (RFC 1952).
                out.extend_from_slice(&((input.len() & 0xffff_ffff) as u32).to_le_bytes());
            }
            Codec::Zstd(zstd) => {
                let bound = zstd::zstd_safe::compress_bound(input.len());
                if out.capacity() < bound {
                    out.reserve(bound);
                }
                zstd.compress_to_buffer(input, out).map_err(|e| Error::io("compress", "zstd", e))?;
            }
        }
        Ok(if out.len() > limit { Packed::Over(out.len()) } else { Packed::Fits(out.len()) })
    }
}

/// What [`Compressor::compress_within`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packed {
    /// The whole compressed output, of this length, is in the buffer and within the limit.
    Fits(usize),
    /// The output passes the limit; the value is its length or (gzip) an estimate of it.
    Over(usize),
}

/// zlib's `compressBound` for raw deflate: the most `n` input bytes can grow to.
pub(crate) fn deflate_bound(n: usize) -> usize {
    n + (n >> 12) + (n >> 14) + (n >> 25) + 13
}

fn codec_error(e: flate2::CompressError) -> Error {
    Error::io("compress", "gzip", std::io::Error::other(e))
}
