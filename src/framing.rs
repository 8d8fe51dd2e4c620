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
//! | [`Framing::MsgpackDictionary`] | `[dictionary, members]`: 2-array, dictionary, array header | member | none |
//! | [`Framing::Concatenated`] | none | member | none |
//! | [`Framing::Custom`] | the format's [`CustomFraming`] | its prefix + member + its suffix | its trailer |
//!
//! # Framings from other crates
//!
//! A format defined outside payforge brings its own framing as a [`CustomFraming`] (a `static`
//! value) and returns [`Framing::Custom`] from [`crate::Format::framing`]. The sizing loop fills
//! it like any other, with no loop of its own: it measures each framed member as written, and
//! takes only the header and trailer lengths from the framing's arithmetic. A framing whose
//! per-member prefix depends on the member's length (RFC 6587 octet counting, `LEN SP MSG`) is
//! written after the member and moved in front of it.
//!
//! The length functions of a [`CustomFraming`] must agree with what its writers write; the
//! conformance kit (`payforge::testing`, feature `testing`) checks that against blocks built from
//! the writers alone.
//! The separator bytes are counted with the member they precede or follow, so the body of a
//! `k`-member block is exactly the first `k` framed members, which lets the encode-once strategy
//! keep one buffer of framed members and cut it at any `k`.
//!
//! # Blocks that are not a sum of members
//!
//! [`Framing::MsgpackDictionary`] (the trace-agent's v0.5 payload) puts every distinct string of
//! the block in one array and has members refer to them by index, so a member's size depends on
//! the members before it. Its header holds that dictionary: its size is a function of `k` and of
//! the [`DictSize`] of the first `k` members, which the [`StringTable`] the members were encoded
//! against reports ([`crate::Format::encode_indexed`]). Because the dictionary of `k` members is
//! a prefix of the dictionary of `k + 1`, the block is still the dictionary's prefix plus the body's
//! prefix, and its size is still non-decreasing in `k`. The other framings ignore the dictionary:
//! for them [`Framing::framed_len`] is [`Framing::block_len`].

use crate::dictionary::{DictSize, StringTable};

/// The ways members are joined into a block.
///
/// Built-in framings are variants; a format from another crate brings its own through
/// [`Framing::Custom`]. More built-in variants may come, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
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
    /// A msgpack array of two elements, the block's string dictionary (an array of strings, the
    /// empty string first) and the array of members, which refer to strings by index
    /// (trace-agent v0.5). Members are encoded with [`crate::Format::encode_indexed`].
    MsgpackDictionary,
    /// Members back to back, with nothing before, between or after them: for members that carry
    /// their own delimiting, such as the tagged, length-prefixed entries of a protobuf repeated
    /// field (OTLP export requests).
    Concatenated,
    /// A framing the format brings itself (see [`CustomFraming`]).
    Custom(&'static dyn CustomFraming),
}

/// A framing defined outside payforge: the bytes around a block's members, as writers and as the
/// lengths the sizing loop plans with.
///
/// A block of `k` members is `header(k) ++ prefix(0) m1 suffix(0) ++ … ++ trailer`. Every length
/// function must return exactly what the matching writer appends, and the framed size of a block
/// must not decrease when a member is added (true when the header's length does not shrink as
/// `k` grows). Every method but [`CustomFraming::name`] has a default that writes nothing, so a
/// framing overrides only what it adds.
///
/// ```
/// use payforge::{CustomFraming, Framing};
///
/// /// RFC 6587 octet counting: each message is `LEN SP MSG`, with no delimiter after it.
/// #[derive(Debug)]
/// struct OctetCounted;
///
/// impl CustomFraming for OctetCounted {
///     fn name(&self) -> &'static str {
///         "octet-counted"
///     }
///     fn prefix_len(&self, _index: usize, member_len: usize) -> usize {
///         member_len.to_string().len() + 1
///     }
///     fn write_prefix(&self, _index: usize, member_len: usize, out: &mut Vec<u8>) {
///         out.extend_from_slice(member_len.to_string().as_bytes());
///         out.push(b' ');
///     }
/// }
///
/// static OCTET_COUNTED: OctetCounted = OctetCounted;
/// let framing = Framing::Custom(&OCTET_COUNTED);
/// assert_eq!(framing.member_overhead(0, 120), 4);
/// ```
pub trait CustomFraming: Send + Sync + std::fmt::Debug + 'static {
    /// A short name, used in messages and to compare framings.
    fn name(&self) -> &'static str;

    /// Bytes before the first member of a `k`-member block.
    fn header_len(&self, k: usize) -> usize {
        let _ = k;
        0
    }

    /// Appends the header of a `k`-member block whose framed members take `body` bytes.
    fn write_header(&self, k: usize, body: usize, out: &mut Vec<u8>) {
        let _ = (k, body, out);
    }

    /// Bytes before member `index` (0-based) whose encoding is `member_len` bytes long.
    fn prefix_len(&self, index: usize, member_len: usize) -> usize {
        let _ = (index, member_len);
        0
    }

    /// Appends what goes before member `index`, whose encoding is `member_len` bytes long.
    fn write_prefix(&self, index: usize, member_len: usize, out: &mut Vec<u8>) {
        let _ = (index, member_len, out);
    }

    /// Bytes after member `index`, whose encoding is `member_len` bytes long.
    fn suffix_len(&self, index: usize, member_len: usize) -> usize {
        let _ = (index, member_len);
        0
    }

    /// Appends what goes after member `index`, whose encoding is `member_len` bytes long.
    fn write_suffix(&self, index: usize, member_len: usize, out: &mut Vec<u8>) {
        let _ = (index, member_len, out);
    }

    /// Bytes after the last member.
    fn trailer_len(&self) -> usize {
        0
    }

    /// Appends what goes after the last member.
    fn write_trailer(&self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Most members the header can describe.
    fn max_members(&self) -> usize {
        usize::MAX
    }

    /// Largest framed body the header can describe.
    fn max_body_len(&self) -> usize {
        usize::MAX
    }
}

impl PartialEq for Framing {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Framing::Custom(a), Framing::Custom(b)) => a.name() == b.name(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for Framing {}

impl std::hash::Hash for Framing {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let Framing::Custom(c) = self {
            c.name().hash(state);
        }
    }
}

impl Framing {
    /// A short name for messages (`lines`, `json-array`, ..., or a custom framing's own).
    pub fn name(self) -> &'static str {
        match self {
            Framing::Lines => "lines",
            Framing::LengthPrefixedLines => "length-prefixed-lines",
            Framing::JsonArray => "json-array",
            Framing::MsgpackArray => "msgpack-array",
            Framing::MsgpackDictionary => "msgpack-dictionary",
            Framing::Concatenated => "concatenated",
            Framing::Custom(c) => c.name(),
        }
    }

    /// Bytes before the first member of a `k`-member block (for [`Framing::MsgpackDictionary`],
    /// with the smallest dictionary, `[""]`: see [`Framing::header_len_with`]).
    #[inline]
    pub fn header_len(self, k: usize) -> usize {
        self.header_len_with(k, DictSize::MIN)
    }

    /// Bytes before the first member of a `k`-member block whose members' dictionary has size
    /// `dict` (ignored by the framings without one).
    #[inline]
    pub fn header_len_with(self, k: usize, dict: DictSize) -> usize {
        match self {
            Framing::Lines | Framing::Concatenated => 0,
            Framing::Custom(c) => c.header_len(k),
            Framing::LengthPrefixedLines => 4,
            Framing::JsonArray => 1,
            Framing::MsgpackArray => msgpack_array_header_len(k),
            Framing::MsgpackDictionary => {
                1 + msgpack_array_header_len(dict.strings) + dict.bytes + msgpack_array_header_len(k)
            }
        }
    }

    /// Whether members refer to a dictionary in the header, so that a block's size is not a
    /// sum of member sizes ([`Framing::MsgpackDictionary`]).
    #[inline]
    pub fn has_dictionary(self) -> bool {
        matches!(self, Framing::MsgpackDictionary)
    }

    /// Bytes after the last member.
    #[inline]
    pub fn trailer_len(self) -> usize {
        match self {
            Framing::JsonArray => 1,
            Framing::Custom(c) => c.trailer_len(),
            _ => 0,
        }
    }

    /// Bytes the framing adds around member `index` (0-based), whose encoding is `member_len`
    /// bytes long: the separator or delimiter that belongs to it.
    #[inline]
    pub fn member_overhead(self, index: usize, member_len: usize) -> usize {
        match self {
            Framing::Lines | Framing::LengthPrefixedLines => 1,
            Framing::JsonArray => usize::from(index > 0),
            Framing::MsgpackArray | Framing::MsgpackDictionary | Framing::Concatenated => 0,
            Framing::Custom(c) => c.prefix_len(index, member_len).saturating_add(c.suffix_len(index, member_len)),
        }
    }

    /// Smallest framed size of a one-member block whose member is `member_len` bytes long.
    pub fn one_member_block_len(self, member_len: usize) -> usize {
        self.block_len(1, member_len.saturating_add(self.member_overhead(0, member_len)))
    }

    /// Framed size of a block of `k` members whose framed bodies total `body` bytes (for
    /// [`Framing::MsgpackDictionary`], with the smallest dictionary: a lower bound).
    #[inline]
    pub fn block_len(self, k: usize, body: usize) -> usize {
        self.framed_len(k, body, DictSize::MIN)
    }

    /// Framed size of a block of `k` members whose framed bodies total `body` bytes and whose
    /// dictionary has size `dict` (ignored by the framings without one).
    #[inline]
    pub fn framed_len(self, k: usize, body: usize, dict: DictSize) -> usize {
        self.header_len_with(k, dict).saturating_add(body).saturating_add(self.trailer_len())
    }

    /// Largest body the header can describe (the u32 length prefix), or `usize::MAX`.
    pub fn max_body_len(self) -> usize {
        match self {
            Framing::LengthPrefixedLines => u32::MAX as usize,
            Framing::Custom(c) => c.max_body_len(),
            _ => usize::MAX,
        }
    }

    /// Largest member count the header can describe.
    pub fn max_members(self) -> usize {
        match self {
            Framing::MsgpackArray | Framing::MsgpackDictionary => u32::MAX as usize,
            Framing::Custom(c) => c.max_members(),
            _ => usize::MAX,
        }
    }

    /// Writes what goes before member `index` (0-based) and returns where the member's encoding
    /// begins in `out`, to be passed to [`Framing::close_member`] once it is written.
    #[inline]
    pub fn open_member(self, index: usize, out: &mut Vec<u8>) -> usize {
        if let Framing::JsonArray = self {
            if index > 0 {
                out.push(b',');
            }
        }
        out.len()
    }

    /// Writes what goes after member `index`, whose encoding starts at `start` in `out` and runs
    /// to its end. A custom framing's prefix, which may depend on the member's length, is
    /// written now and moved in front of the member.
    #[inline]
    pub fn close_member(self, index: usize, start: usize, out: &mut Vec<u8>) {
        match self {
            Framing::Lines | Framing::LengthPrefixedLines => out.push(b'\n'),
            Framing::Custom(c) => {
                let len = out.len().saturating_sub(start);
                let end = out.len();
                c.write_prefix(index, len, out);
                let prefix = out.len() - end;
                if let Some(framed) = out.get_mut(start..) {
                    framed.rotate_right(prefix);
                }
                c.write_suffix(index, len, out);
            }
            _ => {}
        }
    }

    /// The header of a `k`-member block whose framed body is `body` bytes long, on the stack:
    /// `(bytes, len)`, of which the first `len` bytes are the header (for
    /// [`Framing::MsgpackDictionary`], with the smallest dictionary, `[""]`).
    /// A custom framing writes its own header: see [`Framing::write_header`].
    #[inline]
    pub(crate) fn header_bytes(self, k: usize, body: usize) -> ([u8; 8], usize) {
        let mut bytes = [0u8; 8];
        let len = match self {
            Framing::Lines | Framing::Concatenated | Framing::Custom(_) => 0,
            Framing::LengthPrefixedLines => {
                let len = u32::try_from(body).unwrap_or(u32::MAX);
                bytes[..4].copy_from_slice(&len.to_le_bytes());
                4
            }
            Framing::JsonArray => {
                bytes[0] = b'[';
                1
            }
            Framing::MsgpackArray => put_array_header(k, &mut bytes),
            Framing::MsgpackDictionary => {
                bytes[..3].copy_from_slice(&[0x92, 0x91, 0xa0]);
                3 + put_array_header(k, &mut bytes[3..])
            }
        };
        (bytes, len)
    }

    /// Appends the header of a `k`-member block whose framed body is `body` bytes long (for
    /// [`Framing::MsgpackDictionary`], with the smallest dictionary: see
    /// [`Framing::write_header_with`]).
    #[inline]
    pub fn write_header(self, k: usize, body: usize, out: &mut Vec<u8>) {
        if let Framing::Custom(c) = self {
            return c.write_header(k, body, out);
        }
        let (bytes, len) = self.header_bytes(k, body);
        out.extend_from_slice(bytes.get(..len).unwrap_or_default());
    }

    /// Appends the header of a `k`-member block whose framed body is `body` bytes long and whose
    /// members were encoded against `dict` when it had size `size` (the first `size.strings`
    /// strings of `dict` are written). The framings without a dictionary ignore both.
    #[inline]
    pub fn write_header_with(self, k: usize, body: usize, dict: &StringTable, size: DictSize, out: &mut Vec<u8>) {
        if !self.has_dictionary() {
            return self.write_header(k, body, out);
        }
        let start = out.len();
        out.resize(start + self.header_len_with(k, size), 0);
        self.put_header(k, body, dict, size, out.get_mut(start..).unwrap_or_default());
    }

    /// Writes the header [`Framing::write_header_with`] appends into `dst`, which must be exactly
    /// [`Framing::header_len_with`] bytes long (a shorter `dst` gets a truncated header). Not for
    /// custom framings, whose writers append (see `fill::place_custom_header`).
    pub(crate) fn put_header(self, k: usize, body: usize, dict: &StringTable, size: DictSize, dst: &mut [u8]) {
        let mut at = 0usize;
        let mut put = |src: &[u8]| {
            if let Some(d) = dst.get_mut(at..at + src.len()) {
                d.copy_from_slice(src);
            }
            at += src.len();
        };
        if self.has_dictionary() {
            let mut header = [0u8; 5];
            put(&[0x92]);
            let len = put_array_header(size.strings, &mut header);
            put(header.get(..len).unwrap_or_default());
            let (empty, rest) = dict.encoded_prefix(size);
            put(empty);
            put(rest);
            let len = put_array_header(k, &mut header);
            put(header.get(..len).unwrap_or_default());
        } else {
            let (bytes, len) = self.header_bytes(k, body);
            put(bytes.get(..len).unwrap_or_default());
        }
    }

    /// Writes the trailer.
    pub fn write_trailer(self, out: &mut Vec<u8>) {
        match self {
            Framing::JsonArray => out.push(b']'),
            Framing::Custom(c) => c.write_trailer(out),
            _ => {}
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

/// Writes a minimal msgpack array header for `n` elements (saturating at `u32::MAX`) at the start
/// of `dst` (at least 5 bytes) and returns its length.
#[inline]
pub(crate) fn put_array_header(n: usize, dst: &mut [u8]) -> usize {
    let mut bytes = [0u8; 5];
    let len = if n < 16 {
        bytes[0] = 0x90 | n as u8;
        1
    } else if let Ok(n) = u16::try_from(n) {
        bytes[0] = 0xdc;
        bytes[1..3].copy_from_slice(&n.to_be_bytes());
        3
    } else {
        bytes[0] = 0xdd;
        bytes[1..5].copy_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
        5
    };
    if let (Some(d), Some(s)) = (dst.get_mut(..len), bytes.get(..len)) {
        d.copy_from_slice(s);
    }
    len
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
        assert_eq!(Framing::MsgpackDictionary.block_len(16, 10), 16);
    }

    #[test]
    fn dictionary_header_is_written_as_sized() {
        let mut dict = StringTable::new();
        for i in 0..40 {
            dict.intern(format!("string-{i}").as_bytes());
        }
        let size = dict.size();
        for k in [0usize, 3, 16, 70_000] {
            let mut out = Vec::new();
            Framing::MsgpackDictionary.write_header_with(k, 0, &dict, size, &mut out);
            assert_eq!(out.len(), Framing::MsgpackDictionary.header_len_with(k, size));
            let mut rd = out.as_slice();
            assert_eq!(rmp::decode::read_array_len(&mut rd).ok(), Some(2));
            let strings: Vec<String> =
                serde::Deserialize::deserialize(&mut rmp_serde::Deserializer::new(&mut rd)).unwrap();
            assert_eq!(strings.len(), 41);
            assert_eq!(strings[0], "");
            assert_eq!(strings[40], "string-39");
            assert_eq!(rmp::decode::read_array_len(&mut rd).map(|n| n as usize).ok(), Some(k));
            assert!(rd.is_empty());
        }
        // The smallest dictionary, as `write_header` writes it.
        let mut out = Vec::new();
        Framing::MsgpackDictionary.write_header(2, 0, &mut out);
        assert_eq!(out, [0x92, 0x91, 0xa0, 0x92]);
        // The other framings ignore the dictionary.
        let mut out = Vec::new();
        Framing::JsonArray.write_header_with(2, 0, &dict, size, &mut out);
        assert_eq!(out, b"[");
    }
}
