//! The codecs, when payforge is built without the `compression` feature: the same interface as
//! `compress.rs`, where every codec but `none` is an error that says which feature to enable.
//! The sizing loop then needs no code of its own for this build.

pub use crate::compression::Compression;
use crate::error::{Error, Result};

fn not_built(compression: Compression) -> Error {
    Error::argument(
        "compression",
        compression.to_string(),
        "this build of payforge has no codecs: enable its `compression` cargo feature",
    )
}

impl Compression {
    /// Decompresses one block compressed with this codec; only `none` in this build.
    ///
    /// # Errors
    /// [`Error::Argument`] for any codec but `none`.
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>> {
        if self.is_none() { Ok(data.to_vec()) } else { Err(not_built(self)) }
    }
}

/// A compressor for `none` only (see the module docs).
#[derive(Debug)]
pub struct Compressor;

impl Compressor {
    /// A compressor for `compression`.
    ///
    /// # Errors
    /// [`Error::Argument`] for any codec but `none`.
    pub fn new(compression: Compression) -> Result<Self> {
        if compression.is_none() { Ok(Compressor) } else { Err(not_built(compression)) }
    }

    /// Copies `input` to `out` (the `none` codec).
    ///
    /// # Errors
    /// None in this build.
    pub fn compress_within(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<Packed> {
        out.clear();
        out.extend_from_slice(input);
        Ok(if out.len() > limit { Packed::Over(out.len()) } else { Packed::Fits(out.len()) })
    }
}

/// What [`Compressor::compress_within`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packed {
    /// The whole output, of this length, is within the limit.
    Fits(usize),
    /// The output passes the limit.
    Over(usize),
}
