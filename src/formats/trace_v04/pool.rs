//! Pre-encoded msgpack pools: every string the format can emit is generated and msgpack-encoded
//! (header included) once at setup, so encoding a span copies byte slices.

use std::collections::HashSet;

use crate::config::ConfRange;
use crate::error::Result;
use crate::rng::BlockRng;
use crate::setup;

/// First character of identifiers: a letter, as the agent's name normalizer wants.
pub const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
/// Later characters of service and operation names, and of tag values.
pub const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Later characters of `meta` and `metrics` keys (`http.status_code`-like).
pub const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._";
/// Later characters of resources (`get_/api/v2/users`-like).
pub const RESOURCE_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_/";

/// Byte slices stored back to back, addressed by index. Like [`crate::text::StrPool`], it grows
/// within the bound it was made with and every allocation is fallible.
#[derive(Debug, Clone)]
pub struct Arena {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// Most bytes the arena may hold (at most what `u32` offsets address).
    limit: usize,
    /// What the arena holds, for errors.
    what: &'static str,
}

impl Default for Arena {
    fn default() -> Self {
        Arena { bytes: Vec::new(), ends: Vec::new(), limit: 0, what: "trace arena" }
    }
}

impl Arena {
    /// An empty arena with room for `items` entries of `bytes` bytes in total, which will never
    /// hold more than `limit` bytes.
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] for `what` when the system refuses the memory.
    pub fn with_capacity(items: usize, bytes: usize, limit: usize, what: &'static str) -> Result<Self> {
        let limit = limit.min(crate::setup::MAX_ARENA_BYTES as usize);
        Ok(Arena { bytes: setup::try_vec(bytes.min(limit), what)?, ends: setup::try_vec(items, what)?, limit, what })
    }

    /// Opens an entry of at most `max_len` bytes: append to the buffer returned, then
    /// [`Arena::seal`] or [`Arena::discard`].
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] when the entry could take the arena past its bound or the
    /// system refuses the memory.
    pub fn open(&mut self, max_len: usize) -> Result<&mut Vec<u8>> {
        let add = setup::grow_within(self.bytes.len(), self.bytes.capacity(), max_len, self.limit, self.what)?;
        if add > 0 {
            let want = self.bytes.len().saturating_add(add);
            self.bytes.try_reserve_exact(add).map_err(|_| setup::refused(self.what, want))?;
        }
        if self.ends.len() == self.ends.capacity() {
            let add = self.ends.capacity().max(4);
            self.ends.try_reserve_exact(add).map_err(|_| setup::refused(self.what, add * 4))?;
        }
        Ok(&mut self.bytes)
    }

    fn start_of_open(&self) -> usize {
        self.ends.last().copied().unwrap_or(0) as usize
    }

    /// The bytes appended since the last seal.
    pub fn pending(&self) -> &[u8] {
        self.bytes.get(self.start_of_open()..).unwrap_or_default()
    }

    /// Ends the open entry.
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] when the entry took the arena past its bound (it is dropped).
    pub fn seal(&mut self) -> Result<()> {
        if self.bytes.len() > self.limit {
            let bytes = self.bytes.len() as u64;
            self.discard();
            return Err(crate::Error::Allocation {
                what: self.what,
                bytes,
                reason: "past the bound estimated for it (a bug in the format's setup estimate)",
            });
        }
        // `limit` is at most `u32::MAX`, so the offset always fits.
        self.ends.push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Drops the open entry.
    pub fn discard(&mut self) {
        self.bytes.truncate(self.start_of_open());
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the arena holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` (empty when out of range).
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let (start, end) = self.bounds(i);
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Where entry `i` starts and ends in the arena (`(0, 0)` when out of range).
    #[inline]
    fn bounds(&self, i: usize) -> (usize, usize) {
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0) as usize,
            None => 0,
        };
        (start.min(end), end)
    }

    /// Entry `i` as the bytes from its start to the end of the arena, with its length: what
    /// [`crate::slack::SlackWriter::put_from`] copies in fixed-size chunks.
    #[inline]
    pub fn tail(&self, i: usize) -> (&[u8], usize) {
        let (start, end) = self.bounds(i);
        (self.bytes.get(start..).unwrap_or_default(), end - start)
    }

    /// Entry `i` as a [`Piece`].
    #[inline]
    pub fn piece(&self, i: usize) -> Piece<'_> {
        let (tail, len) = self.tail(i);
        Piece { tail, len, index: u32::try_from(i).unwrap_or(u32::MAX) }
    }

    /// Bytes of all entries.
    pub fn total_len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0) as usize
    }

    /// Length of the longest entry (0 when empty).
    pub fn max_len(&self) -> usize {
        (0..self.len()).map(|i| self.get(i).len()).max().unwrap_or(0)
    }

    /// Length of the shortest entry (0 when empty).
    pub fn min_len(&self) -> usize {
        (0..self.len()).map(|i| self.get(i).len()).min().unwrap_or(0)
    }
}

/// An arena entry as its writers want it: the bytes from its start to the end of its arena and
/// its length, so a writer can copy it as a fixed-size chunk ([`Piece::tail`]) or look it up
/// exactly ([`Piece::bytes`]).
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    tail: &'a [u8],
    len: usize,
    /// The entry's index in its arena (a handle known when the entry is drawn).
    index: u32,
}

impl<'a> Piece<'a> {
    /// The entry's index in its arena.
    #[inline]
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The entry's bytes.
    #[inline]
    pub fn bytes(self) -> &'a [u8] {
        self.tail.get(..self.len).unwrap_or(self.tail)
    }

    /// The bytes from the entry's start to the end of its arena, and the entry's length.
    #[inline]
    pub fn tail(self) -> (&'a [u8], usize) {
        (self.tail, self.len)
    }
}

/// Appends a msgpack string of random characters with a length drawn from `len`: the first from
/// `LETTERS`, the others from `rest`.
pub fn push_random_str(rng: &mut BlockRng, len: &ConfRange, rest: &[u8], out: &mut Vec<u8>) {
    let len = len.sample_usize(rng);
    super::wire::str_len(out, len);
    for i in 0..len {
        let charset = if i == 0 { LETTERS } else { rest };
        out.push(charset.get(rng.index(charset.len())).copied().unwrap_or(b'x'));
    }
}

/// How many distinct strings [`push_random_str`] can produce with lengths in `len`.
pub fn distinct_strings(len: &ConfRange, rest: &[u8]) -> u64 {
    let mut total = 0u64;
    for l in len.min()..=len.max() {
        let count = match l {
            0 => 1,
            _ => (1..l).fold(LETTERS.len() as u64, |n, _| n.saturating_mul(rest.len() as u64)),
        };
        total = total.saturating_add(count);
        if total == u64::MAX {
            break;
        }
    }
    total
}

/// Bytes of a msgpack string of `len` bytes, header included.
pub const fn str_bytes(len: u64) -> u64 {
    let header = if len < 32 {
        1
    } else if len < 256 {
        2
    } else if len < 65_536 {
        3
    } else {
        5
    };
    header + len
}

/// How many strings a [`distinct_pool`] of `target` holds at most for lengths `len`.
pub fn distinct_target(target: usize, len: &ConfRange, rest: &[u8]) -> usize {
    usize::try_from(distinct_strings(len, rest)).map_or(target, |n| n.min(target))
}

/// An upper bound on the heap of a [`distinct_pool`] of `target`, its seen-set and the strides
/// a [`super::Keys`] keeps over it.
pub fn distinct_pool_bytes(target: usize, len: &ConfRange, rest: &[u8]) -> u64 {
    let n = distinct_target(target, len, rest) as u64;
    // The arena and its offsets; a hash set of `n` u64s (at most 2 × 8/7 × n buckets of 9
    // bytes plus a group); the strides (at most 2n u32s, collected by doubling).
    setup::mul(n, str_bytes(len.max())) + setup::array_of::<u32>(n) + 24 * n + 128 + 8 * n + 16
}

/// A pool of up to `target` distinct random msgpack strings with lengths from `len`. Fewer come
/// back only when fewer exist (see [`distinct_strings`]) or the draws keep repeating.
///
/// # Errors
/// [`crate::Error::Allocation`] when the system refuses the memory.
pub fn distinct_pool(
    rng: &mut BlockRng,
    target: usize,
    len: &ConfRange,
    rest: &[u8],
    what: &'static str,
) -> Result<Arena> {
    let target = distinct_target(target, len, rest);
    let avg = (len.min() + len.max()) as usize / 2 + 3;
    let longest = str_bytes(len.max()) as usize;
    let mut arena = Arena::with_capacity(target, target * avg, target.saturating_mul(longest), what)?;
    let mut seen: HashSet<u64> = HashSet::new();
    seen.try_reserve(target).map_err(|_| setup::refused(what, target * 16))?;
    let mut attempts = target.saturating_mul(64).saturating_add(1024);
    while arena.len() < target && attempts > 0 {
        attempts -= 1;
        push_random_str(rng, len, rest, arena.open(longest)?);
        if seen.insert(fnv1a(arena.pending())) {
            arena.seal()?;
        } else {
            arena.discard();
        }
    }
    Ok(arena)
}

/// A pool of `count` random msgpack strings (repeats allowed) with lengths from `len`.
///
/// # Errors
/// [`crate::Error::Allocation`] when the system refuses the memory.
pub fn pool(rng: &mut BlockRng, count: usize, len: &ConfRange, rest: &[u8], what: &'static str) -> Result<Arena> {
    let avg = (len.min() + len.max()) as usize / 2 + 3;
    let longest = str_bytes(len.max()) as usize;
    let mut arena = Arena::with_capacity(count, count * avg, count.saturating_mul(longest), what)?;
    for _ in 0..count {
        push_random_str(rng, len, rest, arena.open(longest)?);
        arena.seal()?;
    }
    Ok(arena)
}

/// FNV-1a, to detect repeated strings at setup (a collision only drops one candidate).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Strides coprime with `n`: `start + j * stride (mod n)` visits `n` distinct indices.
pub fn coprime_strides(n: usize) -> Result<Vec<u32>> {
    const fn gcd(mut a: usize, mut b: usize) -> usize {
        while b != 0 {
            let t = a % b;
            a = b;
            b = t;
        }
        a
    }
    let mut strides: Vec<u32> = setup::try_vec(n.max(1), "trace-v04 key strides")?;
    strides.extend((1..n).filter(|&s| gcd(s, n) == 1).map(|s| s as u32));
    if strides.is_empty() {
        strides.push(1);
    }
    Ok(strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_and_pools() {
        assert_eq!(distinct_strings(&ConfRange::constant(1), ALNUM), 26);
        assert_eq!(distinct_strings(&ConfRange::inclusive(0, 2), ALNUM), 1 + 26 + 26 * 36);
        let mut rng = BlockRng::for_setup(3);
        let p = distinct_pool(&mut rng, 100, &ConfRange::constant(1), ALNUM, "test").unwrap();
        assert_eq!(p.len(), 26);
        let all: HashSet<&[u8]> = (0..p.len()).map(|i| p.get(i)).collect();
        assert_eq!(all.len(), 26);
        assert_eq!(coprime_strides(1).unwrap(), vec![1]);
        assert_eq!(coprime_strides(6).unwrap(), vec![1, 5]);
        assert_eq!((str_bytes(31), str_bytes(32), str_bytes(255), str_bytes(256)), (32, 34, 257, 259));
    }
}
