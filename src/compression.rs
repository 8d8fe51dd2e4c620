//! The codec a compressed budget uses ([`Compression`]): its names, levels and size bounds.
//!
//! Always compiled, so configs, selections and the command line can name a codec; the codecs
//! themselves (`crate::compress`) come with the `compression` feature.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A codec and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Blocks are not compressed.
    #[default]
    None,
    /// gzip (RFC 1952), deflate level 0..=9.
    Gzip(u8),
    /// zstd, level 1..=22.
    Zstd(u8),
}

impl Compression {
    /// gzip's default level, as `gzip -6`.
    pub const GZIP_DEFAULT: u8 = 6;
    /// zstd's default level, as `zstd -3`.
    pub const ZSTD_DEFAULT: u8 = 3;

    /// A lower bound on the size of any compressed block: gzip's header and trailer plus the
    /// shortest deflate stream; zstd's smallest frame. 0 for `none`.
    pub const fn min_block_len(self) -> usize {
        match self {
            Compression::None => 0,
            Compression::Gzip(_) => 20,
            Compression::Zstd(_) => 9,
        }
    }

    /// Whether blocks are compressed.
    pub const fn is_none(self) -> bool {
        matches!(self, Compression::None)
    }

    /// The codec's name as HTTP's `Content-Encoding` and gRPC's `grpc-encoding` give it (`gzip`,
    /// `zstd`); `None` for uncompressed blocks.
    pub const fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip(_) => Some("gzip"),
            Compression::Zstd(_) => Some("zstd"),
        }
    }

    /// [`Compression::is_none`] by reference, for serde's `skip_serializing_if`.
    pub fn is_none_ref(c: &Compression) -> bool {
        c.is_none()
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Gzip(level) => write!(f, "gzip:{level}"),
            Compression::Zstd(level) => write!(f, "zstd:{level}"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// `none`, `gzip`, `gzip:LEVEL` (0..=9), `zstd`, `zstd:LEVEL` (1..=22).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::argument("compression", s, reason.to_owned());
        let (codec, level) = match s.split_once(':') {
            Some((codec, level)) => (codec, Some(level)),
            None => (s, None),
        };
        let parse_level = |default: u8, max: u8| -> Result<u8> {
            match level {
                None => Ok(default),
                Some(text) => match text.parse::<u8>() {
                    Ok(n) if n <= max && !(max == 22 && n == 0) => Ok(n),
                    _ => Err(bad(&format!("the level must be an integer in {}..={max}", u8::from(max == 22)))),
                },
            }
        };
        match codec {
            "none" if level.is_none() => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip(parse_level(Self::GZIP_DEFAULT, 9)?)),
            "zstd" => Ok(Compression::Zstd(parse_level(Self::ZSTD_DEFAULT, 22)?)),
            _ => Err(bad("expected none, gzip[:0-9] or zstd[:1-22]")),
        }
    }
}

impl serde::Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
