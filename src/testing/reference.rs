//! The naive block: what [`crate::fill()`] must produce, built the slow, obvious way.
//!
//! A block for budget `B` is the framed encoding of the longest prefix of the member stream that
//! fits `B`. Here every candidate prefix is built in full from scratch: its members are encoded
//! afresh (against a fresh dictionary, for dictionary framings) and joined by [`frame`], which
//! writes the framing's bytes directly (rmp's own writers for msgpack headers) and never calls
//! the framing's length arithmetic, so a bug in that arithmetic cannot cancel out. The size of a
//! prefix is the length of the bytes built, and the longest fitting prefix is found by galloping
//! and bisecting over those sizes (a block's size never decreases as members are added, which
//! every framing guarantees).
//!
//! [`frame`] is the one place that knows each framing's bytes: a new framing gets one arm there.

use crate::dictionary::StringTable;
use crate::format::Format;
use crate::framing::Framing;
use crate::rng::BlockRng;

/// A block built naively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaiveBlock {
    /// Members in the block.
    pub members: usize,
    /// The framed block.
    pub bytes: Vec<u8>,
    /// Size of the naive block of one member more, or `None` when the member cap ends the block.
    pub next_len: Option<usize>,
}

/// The outcome of the naive definition for one budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naive {
    /// The longest fitting prefix.
    Block(NaiveBlock),
    /// Not even the first member fits: the size of the one-member block.
    TooSmall {
        /// Bytes of the naive one-member block.
        needed: usize,
    },
}

/// Joins encoded `members` into a block framed by `framing`, writing every byte of the framing
/// directly. `dictionary` is the block's string table for [`Framing::MsgpackDictionary`] (its
/// strings in index order, the empty string first); the other framings ignore it.
///
/// # Errors
/// A block the framing cannot describe (more than `u32::MAX` members or body bytes for a u32
/// header).
pub fn frame(framing: Framing, members: &[Vec<u8>], dictionary: &[&[u8]]) -> Result<Vec<u8>, String> {
    let total: usize = members.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total + members.len() + 16);
    let count = |n: usize| u32::try_from(n).map_err(|_| format!("{n} elements do not fit a msgpack array header"));
    match framing {
        Framing::Lines => {
            for m in members {
                out.extend_from_slice(m);
                out.push(b'\n');
            }
        }
        Framing::LengthPrefixedLines => {
            let body = total + members.len();
            let len = u32::try_from(body).map_err(|_| format!("a body of {body} bytes exceeds the u32 prefix"))?;
            out.extend_from_slice(&len.to_le_bytes());
            for m in members {
                out.extend_from_slice(m);
                out.push(b'\n');
            }
        }
        Framing::JsonArray => {
            out.push(b'[');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(m);
            }
            out.push(b']');
        }
        Framing::MsgpackArray => {
            rmp_array(&mut out, count(members.len())?)?;
            members.iter().for_each(|m| out.extend_from_slice(m));
        }
        Framing::MsgpackDictionary => {
            rmp_array(&mut out, 2)?;
            rmp_array(&mut out, count(dictionary.len())?)?;
            for s in dictionary {
                rmp::encode::write_str_len(&mut out, count(s.len())?).map_err(|e| e.to_string())?;
                out.extend_from_slice(s);
            }
            rmp_array(&mut out, count(members.len())?)?;
            members.iter().for_each(|m| out.extend_from_slice(m));
        }
        Framing::Concatenated => members.iter().for_each(|m| out.extend_from_slice(m)),
        // A framing from another crate, through its own writers (never its length functions):
        // the body first, since the header may say how long it is.
        Framing::Custom(custom) => {
            let mut body = Vec::with_capacity(total + 8 * members.len());
            for (i, m) in members.iter().enumerate() {
                custom.write_prefix(i, m.len(), &mut body);
                body.extend_from_slice(m);
                custom.write_suffix(i, m.len(), &mut body);
            }
            custom.write_header(members.len(), body.len(), &mut out);
            out.extend_from_slice(&body);
            custom.write_trailer(&mut out);
        }
    }
    Ok(out)
}

fn rmp_array(out: &mut Vec<u8>, n: u32) -> Result<(), String> {
    rmp::encode::write_array_len(out, n).map(drop).map_err(|e| e.to_string())
}

/// The members of one block's stream, drawn once and encoded as often as prefixes are built.
struct Stream<'f, F: Format> {
    format: &'f F,
    rng: BlockRng,
    members: Vec<F::Member>,
}

impl<F: Format> Stream<'_, F> {
    /// The naive block of the first `k` members: each encoded afresh against a fresh
    /// dictionary, then framed by [`frame`].
    fn block(&mut self, k: usize) -> Result<Vec<u8>, String> {
        while self.members.len() < k {
            self.members.push(self.format.generate(&mut self.rng));
        }
        let mut dict = StringTable::new();
        let encoded: Vec<Vec<u8>> = self
            .members
            .iter()
            .take(k)
            .map(|m| {
                let mut bytes = Vec::new();
                self.format.encode_indexed(m, &mut dict, &mut bytes);
                bytes
            })
            .collect();
        let strings: Vec<&[u8]> = dict.iter().collect();
        frame(self.format.framing(), &encoded, &strings)
    }
}

/// The block the definition gives for block `index` of a run seeded with `seed` and `budget`:
/// the longest prefix of the member stream whose naive block fits, capped at the format's
/// member cap.
///
/// # Errors
/// As [`frame`].
pub fn naive_block<F: Format>(format: &F, seed: u64, index: u64, budget: usize) -> Result<Naive, String> {
    let mut stream = Stream { format, rng: BlockRng::for_block(seed, index), members: Vec::new() };
    let first = stream.block(1)?.len();
    if first > budget {
        return Ok(Naive::TooSmall { needed: first });
    }
    // A bound on the search only: members of every format encode to at least one byte, so a
    // budget of `B` holds at most `B` of them.
    let cap = format.max_members().min(format.framing().max_members()).min(budget.max(1));
    let mut fits = |k: usize| stream.block(k).map(|b| b.len() <= budget);
    // Gallop from 1 until a prefix does not fit (or the cap), then bisect: `lo` fits, `hi` not.
    let (mut lo, mut step, mut hi) = (1usize, 1usize, None);
    while hi.is_none() && lo < cap {
        let next = lo.saturating_add(step).min(cap);
        if fits(next)? {
            lo = next;
            step = step.saturating_mul(2);
        } else {
            hi = Some(next);
        }
    }
    if let Some(mut hi) = hi {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    let next_len = if lo < cap { Some(stream.block(lo + 1)?.len()) } else { None };
    Ok(Naive::Block(NaiveBlock { members: lo, bytes: stream.block(lo)?, next_len }))
}

/// The naive block of the first `k` members of block `index` of a run seeded with `seed`,
/// whatever the budget.
///
/// # Errors
/// As [`frame`].
pub fn naive_prefix<F: Format>(format: &F, seed: u64, index: u64, k: usize) -> Result<Vec<u8>, String> {
    Stream { format, rng: BlockRng::for_block(seed, index), members: Vec::new() }.block(k)
}

/// The naive size of every prefix of `1..=k` members (for small `k`: the linear definition).
///
/// # Errors
/// As [`frame`].
pub fn prefix_sizes<F: Format>(format: &F, seed: u64, index: u64, k: usize) -> Result<Vec<usize>, String> {
    let mut stream = Stream { format, rng: BlockRng::for_block(seed, index), members: Vec::new() };
    (1..=k).map(|j| stream.block(j).map(|b| b.len())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_byte_by_byte() {
        let members = vec![b"ab".to_vec(), b"c".to_vec()];
        assert_eq!(frame(Framing::Lines, &members, &[]).ok(), Some(b"ab\nc\n".to_vec()));
        assert_eq!(frame(Framing::LengthPrefixedLines, &members, &[]).ok(), Some(b"\x05\0\0\0ab\nc\n".to_vec()));
        assert_eq!(frame(Framing::JsonArray, &members, &[]).ok(), Some(b"[ab,c]".to_vec()));
        assert_eq!(frame(Framing::MsgpackArray, &members, &[]).ok(), Some(b"\x92abc".to_vec()));
        let dict: [&[u8]; 2] = [b"", b"x"];
        assert_eq!(frame(Framing::MsgpackDictionary, &members, &dict).ok(), Some(b"\x92\x92\xa0\xa1x\x92abc".to_vec()));
        let many = vec![Vec::new(); 16];
        assert_eq!(frame(Framing::MsgpackArray, &many, &[]).ok(), Some(vec![0xdc, 0, 16]));
        assert_eq!(frame(Framing::Concatenated, &members, &[]).ok(), Some(b"abc".to_vec()));
        static OCTETS: Octets = Octets;
        assert_eq!(frame(Framing::Custom(&OCTETS), &members, &[]).ok(), Some(b"<2>2 ab;1 c;</2>".to_vec()));
    }

    /// Octet counting with a header holding the member count, a suffix and a trailer. Its length
    /// functions are left wrong (all zero): the reference must never call them.
    #[derive(Debug)]
    struct Octets;

    impl crate::framing::CustomFraming for Octets {
        fn name(&self) -> &'static str {
            "octets"
        }
        fn write_header(&self, k: usize, _body: usize, out: &mut Vec<u8>) {
            out.extend_from_slice(format!("<{k}>").as_bytes());
        }
        fn write_prefix(&self, _index: usize, member_len: usize, out: &mut Vec<u8>) {
            out.extend_from_slice(format!("{member_len} ").as_bytes());
        }
        fn write_suffix(&self, _index: usize, _member_len: usize, out: &mut Vec<u8>) {
            out.push(b';');
        }
        fn write_trailer(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(b"</2>");
        }
    }
}
