//! How members join into a block.
//!
//! A block is `header(k) ++ framed(m1) ++ ... ++ framed(mk) ++ trailer`. Every quantity the sizing
//! loop needs is a pure function of the member count `k` and the members' own lengths:
//!
//! | framing | header | per member | trailer |
//! |---|---|---|---|
//! | [`Framing::Lines`] | none | member + `\n` | none |
//! | [`Framing::LengthPrefixedLines`] | 4-byte little-endian length of the rest | member + `\n` | none |
//! | [`Framing::JsonArray`] | `[` | `,` before every member but the first | `]` |
//! | [`Framing::MsgpackArray`] | array header: 1, 3 or 5 bytes by `k` | member | none |
//!
//! The separator bytes are counted with the member they precede or follow, so the body of a
//! `k`-member block is exactly the first `k` framed members, which lets the encode-once strategy
//! keep one buffer of framed members and cut it at any `k`.

/// The ways members are joined into a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Newline-terminated lines (syslog, DogStatsD over UDP).
    Lines,
    /// Newline-terminated lines behind one 4-byte little-endian length of the lines (DogStatsD
    /// over a Unix stream socket).
    LengthPrefixedLines,
    /// A JSON array of members separated by commas (Datadog logs intake).
    JsonArray,
    /// A msgpack array of members (trace-agent v0.4).
    MsgpackArray,
}

impl Framing {
    /// Bytes before the first member of a `k`-member block.
    #[inline]
    pub const fn header_len(self, k: usize) -> usize {
        match self {
            Framing::Lines => 0,
            Framing::LengthPrefixedLines => 4,
            Framing::JsonArray => 1,
            Framing::MsgpackArray => msgpack_array_header_len(k),
        }
    }

    /// Bytes after the last member.
    #[inline]
    pub const fn trailer_len(self) -> usize {
        match self {
            Framing::JsonArray => 1,
            _ => 0,
        }
    }

    /// Framed size of a block of `k` members whose framed bodies total `body` bytes.
    #[inline]
    pub const fn block_len(self, k: usize, body: usize) -> usize {
        self.header_len(k) + body + self.trailer_len()
    }

    /// Largest body the header can describe (the u32 length prefix), or `usize::MAX`.
    pub const fn max_body_len(self) -> usize {
        match self {
            Framing::LengthPrefixedLines => u32::MAX as usize,
            _ => usize::MAX,
        }
    }

    /// Largest member count the header can describe.
    pub const fn max_members(self) -> usize {
        match self {
            Framing::MsgpackArray => u32::MAX as usize,
            _ => usize::MAX,
        }
    }

    /// Writes what goes before member `index` (0-based) and returns where the member's framed
    /// bytes begin in `out`.
    #[inline]
    pub fn open_member(self, index: usize, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        if let Framing::JsonArray = self {
            if index > 0 {
                out.push(b',');
            }
        }
        start
    }

    /// Writes what goes after a member.
    #[inline]
    pub fn close_member(self, out: &mut Vec<u8>) {
        if let Framing::Lines | Framing::LengthPrefixedLines = self {
            out.push(b'\n');
        }
    }

    /// The header of a `k`-member block whose framed body is `body` bytes long, on the stack:
    /// `(bytes, len)`, of which the first `len` bytes are the header.
    #[inline]
    pub fn header_bytes(self, k: usize, body: usize) -> ([u8; 5], usize) {
        let mut bytes = [0u8; 5];
        let len = match self {
            Framing::Lines => 0,
            Framing::LengthPrefixedLines => {
                let len = u32::try_from(body).unwrap_or(u32::MAX);
                bytes[..4].copy_from_slice(&len.to_le_bytes());
                4
            }
            Framing::JsonArray => {
                bytes[0] = b'[';
                1
            }
            Framing::MsgpackArray => {
                if k < 16 {
                    bytes[0] = 0x90 | k as u8;
                    1
                } else if let Ok(n) = u16::try_from(k) {
                    bytes[0] = 0xdc;
                    bytes[1..3].copy_from_slice(&n.to_be_bytes());
                    3
                } else {
                    bytes[0] = 0xdd;
                    bytes[1..5].copy_from_slice(&u32::try_from(k).unwrap_or(u32::MAX).to_be_bytes());
                    5
                }
            }
        };
        (bytes, len)
    }

    /// Appends the header of a `k`-member block whose framed body is `body` bytes long.
    #[inline]
    pub fn write_header(self, k: usize, body: usize, out: &mut Vec<u8>) {
        let (bytes, len) = self.header_bytes(k, body);
        out.extend_from_slice(&bytes[..len]);
    }

    /// Writes the trailer.
    pub fn write_trailer(self, out: &mut Vec<u8>) {
        if let Framing::JsonArray = self {
            out.push(b']');
        }
    }
}

/// Size of a msgpack array header for `n` elements: fixarray, array16 or array32.
#[inline]
pub const fn msgpack_array_header_len(n: usize) -> usize {
    if n < 16 {
        1
    } else if n <= u16::MAX as usize {
        3
    } else {
        5
    }
}

/// Appends a minimal msgpack array header for `n` elements (saturating at `u32::MAX`).
#[inline]
pub fn write_msgpack_array_header(n: usize, out: &mut Vec<u8>) {
    Framing::MsgpackArray.write_header(n, 0, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_header_len_matches_what_is_written() {
        for n in [0usize, 1, 15, 16, 17, 65_535, 65_536, 1 << 20] {
            let mut out = Vec::new();
            write_msgpack_array_header(n, &mut out);
            assert_eq!(out.len(), msgpack_array_header_len(n), "n = {n}");
            let mut rd = out.as_slice();
            let decoded = rmp::decode::read_array_len(&mut rd).map(|v| v as usize).ok();
            assert_eq!(decoded, Some(n));
        }
    }

    #[test]
    fn block_len_counts_header_and_trailer() {
        assert_eq!(Framing::JsonArray.block_len(3, 10), 12);
        assert_eq!(Framing::Lines.block_len(3, 10), 10);
        assert_eq!(Framing::LengthPrefixedLines.block_len(3, 10), 14);
        assert_eq!(Framing::MsgpackArray.block_len(16, 10), 13);
    }
}
