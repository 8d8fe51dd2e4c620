//! Pre-encoded msgpack pools: every string the format can emit is generated and msgpack-encoded
//! (header included) once at setup, so encoding a span copies byte slices.

use std::collections::HashSet;

use crate::config::ConfRange;
use crate::rng::BlockRng;

/// First character of identifiers: a letter, as the agent's name normalizer wants.
pub const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
/// Later characters of service and operation names, and of tag values.
pub const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Later characters of `meta` and `metrics` keys (`http.status_code`-like).
pub const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._";
/// Later characters of resources (`get_/api/v2/users`-like).
pub const RESOURCE_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_/";

/// Byte slices stored back to back, addressed by index.
#[derive(Debug, Clone, Default)]
pub struct Arena {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Arena {
    /// An empty arena with room for `items` entries of `bytes` bytes in total.
    pub fn with_capacity(items: usize, bytes: usize) -> Self {
        Arena { bytes: Vec::with_capacity(bytes), ends: Vec::with_capacity(items) }
    }

    /// The open entry's buffer: append to it, then [`Arena::seal`] or [`Arena::discard`].
    pub fn open(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    fn start_of_open(&self) -> usize {
        self.ends.last().copied().unwrap_or(0) as usize
    }

    /// The bytes appended since the last seal.
    pub fn pending(&self) -> &[u8] {
        self.bytes.get(self.start_of_open()..).unwrap_or_default()
    }

    /// Ends the open entry.
    pub fn seal(&mut self) {
        self.ends.push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
    }

    /// Drops the open entry.
    pub fn discard(&mut self) {
        self.bytes.truncate(self.start_of_open());
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Entry `i` (empty when out of range).
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0) as usize,
            None => 0,
        };
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Length of the shortest entry (0 when empty).
    pub fn min_len(&self) -> usize {
        (0..self.len()).map(|i| self.get(i).len()).min().unwrap_or(0)
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

/// A pool of up to `target` distinct random msgpack strings with lengths from `len`. Fewer come
/// back only when fewer exist (see [`distinct_strings`]) or the draws keep repeating.
pub fn distinct_pool(rng: &mut BlockRng, target: usize, len: &ConfRange, rest: &[u8]) -> Arena {
    let target = usize::try_from(distinct_strings(len, rest)).map_or(target, |n| n.min(target));
    let avg = (len.min() + len.max()) as usize / 2 + 3;
    let mut arena = Arena::with_capacity(target, target * avg);
    let mut seen: HashSet<u64> = HashSet::with_capacity(target);
    let mut attempts = target.saturating_mul(64).saturating_add(1024);
    while arena.len() < target && attempts > 0 {
        attempts -= 1;
        push_random_str(rng, len, rest, arena.open());
        if seen.insert(fnv1a(arena.pending())) {
            arena.seal();
        } else {
            arena.discard();
        }
    }
    arena
}

/// A pool of `count` random msgpack strings (repeats allowed) with lengths from `len`.
pub fn pool(rng: &mut BlockRng, count: usize, len: &ConfRange, rest: &[u8]) -> Arena {
    let avg = (len.min() + len.max()) as usize / 2 + 3;
    let mut arena = Arena::with_capacity(count, count * avg);
    for _ in 0..count {
        push_random_str(rng, len, rest, arena.open());
        arena.seal();
    }
    arena
}

/// FNV-1a, to detect repeated strings at setup (a collision only drops one candidate).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Strides coprime with `n`: `start + j * stride (mod n)` visits `n` distinct indices.
pub fn coprime_strides(n: usize) -> Vec<u32> {
    const fn gcd(mut a: usize, mut b: usize) -> usize {
        while b != 0 {
            let t = a % b;
            a = b;
            b = t;
        }
        a
    }
    let strides: Vec<u32> = (1..n).filter(|&s| gcd(s, n) == 1).map(|s| s as u32).collect();
    if strides.is_empty() { vec![1] } else { strides }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_and_pools() {
        assert_eq!(distinct_strings(&ConfRange::constant(1), ALNUM), 26);
        assert_eq!(distinct_strings(&ConfRange::inclusive(0, 2), ALNUM), 1 + 26 + 26 * 36);
        let mut rng = BlockRng::for_setup(3);
        let p = distinct_pool(&mut rng, 100, &ConfRange::constant(1), ALNUM);
        assert_eq!(p.len(), 26);
        let all: HashSet<&[u8]> = (0..p.len()).map(|i| p.get(i)).collect();
        assert_eq!(all.len(), 26);
        assert_eq!(coprime_strides(1), vec![1]);
        assert_eq!(coprime_strides(6), vec![1, 5]);
    }
}
