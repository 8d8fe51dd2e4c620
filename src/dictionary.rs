//! The string dictionary of a [`Framing::MsgpackDictionary`](crate::Framing::MsgpackDictionary)
//! block, such as the trace-agent's v0.5 payload.
//!
//! Some payloads do not repeat their strings: they carry one array of distinct strings and refer
//! to them by index. A member's encoded size then depends on which strings the members before it
//! already added, so a block is not the sum of its members. [`StringTable`] is that dictionary,
//! built while members are encoded ([`crate::Format::encode_indexed`]):
//!
//! * index 0 is always the empty string, so the dictionary is never empty (the agent requires
//!   `""` to be present);
//! * every other string gets the next index the first time it is interned, so indices follow
//!   encoding order and the dictionary of the first `k` members is a prefix of the dictionary of
//!   the first `k + 1`. Members write indices as minimal msgpack integers, so a member's bytes
//!   never change when later members are added, and the block size is exactly non-decreasing in
//!   the member count;
//! * strings are stored msgpack-encoded (minimal `str` header and bytes), back to back, so the
//!   dictionary of any prefix is written with one copy.
//!
//! Lookups use open addressing over the stored bytes with a fixed hash (the hash decides only
//! where a string sits in the table, never its index, so output cannot depend on it).
//! [`StringTable::clear`] keeps every buffer and grows them ahead of the largest dictionary seen,
//! so a table reused across blocks stops allocating once warmed up.

use crate::rng::mix64;

/// How large a dictionary is: its string count (the empty string included) and the bytes of its
/// msgpack-encoded strings. This is all the sizing loop needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DictSize {
    /// Strings in the dictionary, at least 1 (the empty string).
    pub strings: usize,
    /// Bytes of the encoded strings (without the array header), at least 1 (`""` is `0xa0`).
    pub bytes: usize,
}

impl DictSize {
    /// The smallest dictionary: only the empty string.
    pub const MIN: DictSize = DictSize { strings: 1, bytes: 1 };
}

impl Default for DictSize {
    fn default() -> Self {
        Self::MIN
    }
}

/// One open-addressing slot: which string it holds, valid only while `epoch` is the table's.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    epoch: u32,
    tag: u32,
    index: u32,
}

/// A reusable dictionary of distinct strings in first-use order (see the module docs).
#[derive(Debug, Clone)]
pub struct StringTable {
    /// Strings 1.. (the empty string 0 is implicit), each msgpack-encoded, back to back.
    bytes: Vec<u8>,
    /// End of string `i + 1` in `bytes`.
    ends: Vec<usize>,
    /// Power-of-two open-addressing table, at most half full.
    slots: Vec<Slot>,
    /// Slots of another epoch are empty: clearing bumps it instead of wiping the slots.
    epoch: u32,
    /// Strings interned by handle ([`StringTable::intern_handle`]): per handle, its index, or 0
    /// when the handle is not in the dictionary (index 0 is the empty string, never interned by
    /// handle).
    handles: Vec<u16>,
    /// The handles interned since the last clear, which [`StringTable::clear`] resets.
    interned: Vec<u16>,
    /// Most strings and bytes held since the table was made, for growing ahead of need.
    peak: (usize, usize),
}

impl Default for StringTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StringTable {
    /// An empty dictionary (only the empty string). Allocates nothing until a string is interned.
    pub const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            ends: Vec::new(),
            slots: Vec::new(),
            handles: Vec::new(),
            interned: Vec::new(),
            epoch: 1,
            peak: (0, 0),
        }
    }

    /// Back to the dictionary holding only the empty string. Keeps every buffer, and when one has
    /// less than an eighth of headroom over the largest dictionary held so far, grows it to half,
    /// so a table reused across blocks stops allocating after a short warm-up.
    pub fn clear(&mut self) {
        self.peak = (self.peak.0.max(self.ends.len()), self.peak.1.max(self.bytes.len()));
        self.bytes.clear();
        self.ends.clear();
        for &handle in &self.interned {
            if let Some(index) = self.handles.get_mut(handle as usize) {
                *index = 0;
            }
        }
        self.interned.clear();
        if self.epoch == u32::MAX {
            self.slots.fill(Slot::default());
            self.epoch = 1;
        } else {
            self.epoch += 1;
        }
        self.headroom(8, 2);
    }

    /// Right after [`StringTable::clear`]: if a buffer has less than `1/low` headroom over the
    /// largest dictionary held so far, grows it to `1/high` over.
    pub(crate) fn headroom(&mut self, low: usize, high: usize) {
        let (strings, bytes) = self.peak;
        if strings == 0 {
            return;
        }
        if self.bytes.capacity() < bytes.saturating_add(bytes / low) {
            self.bytes.reserve(bytes.saturating_add(bytes / high).saturating_sub(self.bytes.len()));
        }
        if self.ends.capacity() < strings.saturating_add(strings / low) {
            self.ends.reserve(strings.saturating_add(strings / high).saturating_sub(self.ends.len()));
        }
        if !self.handles.is_empty() && self.interned.capacity() < strings.saturating_add(strings / low) {
            self.interned.reserve(strings.saturating_add(strings / high).saturating_sub(self.interned.len()));
        }
        if self.ends.is_empty() && self.slots.len() < slots_for(strings.saturating_add(strings / low)) {
            // Empty anyway: a bigger table costs no rehash now.
            // Fresh slots are of epoch 0, which is never current: empty.
            self.slots = vec![Slot::default(); slots_for(strings.saturating_add(strings / high))];
        }
    }

    /// The dictionary's size now.
    #[inline]
    pub fn size(&self) -> DictSize {
        DictSize { strings: 1 + self.ends.len(), bytes: 1 + self.bytes.len() }
    }

    /// The index of string `s` (UTF-8 bytes, as msgpack `str` expects), adding it if new. The
    /// empty string is always 0. Indices saturate at `u32::MAX`, which no block can reach (a
    /// block holds at most 1 GiB and a string takes at least 2 bytes).
    #[inline]
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if self.slots.len() < slots_for(self.ends.len() + 1) {
            self.grow();
        }
        let hash = hash(s);
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len().saturating_sub(1);
        let mut at = hash as usize & mask;
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get(at).copied() else { break };
            if slot.epoch != self.epoch {
                let index = self.push(s);
                if let Some(free) = self.slots.get_mut(at) {
                    *free = Slot { epoch: self.epoch, tag, index };
                }
                return index;
            }
            if slot.tag == tag && self.get(slot.index) == Some(s) {
                return slot.index;
            }
            at = (at + 1) & mask;
        }
        // Unreachable (the table is never more than half full); stay correct regardless.
        self.push(s)
    }

    /// As [`StringTable::intern`], for a string given msgpack-encoded (header included), as
    /// pools built at setup keep them. Bytes that are not exactly one msgpack `str` are
    /// interned as a string of those bytes.
    #[inline]
    pub fn intern_msgpack(&mut self, encoded: &[u8]) -> u32 {
        match str_body(encoded) {
            Some(s) => self.intern(s),
            None => self.intern(encoded),
        }
    }

    /// As [`StringTable::intern_msgpack`], for a string the caller names by a *handle*: a small
    /// integer that is the same for equal strings and different for different ones (a format
    /// assigns handles to its pool strings at setup, deduplicated by bytes). The lookup is an
    /// array index, with no hashing or comparing of bytes; the indices are those byte interning
    /// gives, as long as every string of the table is interned by handle.
    ///
    /// Handles are below [`StringTable::MAX_HANDLES`] and the caller reserves them first
    /// ([`StringTable::reserve_handles`]); [`StringTable::EMPTY_HANDLE`] names the empty string,
    /// and any other handle not reserved (a format with more strings than handles passes
    /// [`StringTable::NO_HANDLE`] for all of them) interns by bytes.
    #[inline]
    pub fn intern_handle(&mut self, handle: u32, encoded: &[u8]) -> u32 {
        if handle == Self::EMPTY_HANDLE {
            return 0;
        }
        match self.handles.get(handle as usize) {
            Some(&index) if index != 0 => u32::from(index),
            _ => self.intern_new_handle(handle, encoded),
        }
    }

    /// [`StringTable::intern_handle`] for a handle not in the dictionary (or none at all).
    #[inline(never)]
    fn intern_new_handle(&mut self, handle: u32, encoded: &[u8]) -> u32 {
        if self.handles.get(handle as usize).is_none() {
            return self.intern_msgpack(encoded);
        }
        let index = self.push(str_body(encoded).unwrap_or(encoded));
        if let (Some(slot), Ok(short)) = (self.handles.get_mut(handle as usize), u16::try_from(index)) {
            *slot = short;
            self.interned.push(handle as u16);
        }
        index
    }

    /// Makes room for handles `0..count` (at most [`StringTable::MAX_HANDLES`]), so that interning
    /// them never allocates (a format calls it with its handle count before interning).
    #[inline]
    pub fn reserve_handles(&mut self, count: usize) {
        let count = count.min(Self::MAX_HANDLES);
        if self.handles.len() < count {
            self.handles.resize(count, 0);
        }
    }

    /// How many handles a table can hold: indices are stored in 16 bits, and a dictionary of
    /// handles below this holds fewer strings than that.
    pub const MAX_HANDLES: usize = u16::MAX as usize;

    /// A handle that interns by bytes ([`StringTable::intern_handle`]).
    pub const NO_HANDLE: u32 = u32::MAX - 1;

    /// The handle of the empty string for [`StringTable::intern_handle`] (always index 0).
    pub const EMPTY_HANDLE: u32 = u32::MAX;

    /// String `index` (its bytes, without the msgpack header), if the dictionary holds it.
    pub fn get(&self, index: u32) -> Option<&[u8]> {
        let i = usize::try_from(index).ok()?;
        if i == 0 {
            return Some(&[]);
        }
        let end = *self.ends.get(i - 1)?;
        let start = if i >= 2 { *self.ends.get(i - 2)? } else { 0 };
        self.bytes.get(start..end).and_then(str_body)
    }

    /// The dictionary's strings in index order, the empty string first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.size().strings).map_while(|i| self.get(u32::try_from(i).ok()?))
    }

    /// The msgpack-encoded strings of the dictionary's first `size.strings` strings (as recorded
    /// by [`StringTable::size`] at some earlier point since the last clear), back to back, in two
    /// parts: the empty string and the rest.
    pub fn encoded_prefix(&self, size: DictSize) -> (&'static [u8], &[u8]) {
        let rest = size.bytes.saturating_sub(1);
        (EMPTY_STR, self.bytes.get(..rest).unwrap_or(&self.bytes))
    }

    /// Bytes of capacity the table keeps.
    pub fn retained_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + (self.handles.capacity() + self.interned.capacity()) * std::mem::size_of::<u16>()
    }

    /// Appends `s` as the next string and returns its index.
    fn push(&mut self, s: &[u8]) -> u32 {
        let (header, len) = str_header(s.len());
        self.bytes.extend_from_slice(header.get(..len).unwrap_or_default());
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len());
        u32::try_from(self.ends.len()).unwrap_or(u32::MAX)
    }

    /// Doubles the slots (64 at first) and re-inserts the strings of the current epoch.
    fn grow(&mut self) {
        let len = slots_for(self.ends.len() + 1).max(self.slots.len() * 2);
        self.slots = vec![Slot::default(); len];
        let epoch = self.epoch;
        let mask = len - 1;
        for i in 1..=self.ends.len() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let Some(s) = self.get(index) else { continue };
            let hash = hash(s);
            let mut at = hash as usize & mask;
            while self.slots.get(at).is_some_and(|slot| slot.epoch == epoch) {
                at = (at + 1) & mask;
            }
            if let Some(free) = self.slots.get_mut(at) {
                *free = Slot { epoch, tag: (hash >> 32) as u32, index };
            }
        }
    }
}

/// The encoded empty string.
const EMPTY_STR: &[u8] = &[0xa0];

/// Slots for `strings` strings at most half full: a power of two, at least 64.
fn slots_for(strings: usize) -> usize {
    strings.saturating_mul(2).checked_next_power_of_two().unwrap_or(1 << (usize::BITS - 1)).max(64)
}

/// The minimal msgpack `str` header for `len` bytes: `(bytes, len)`.
#[inline]
fn str_header(len: usize) -> ([u8; 5], usize) {
    let mut h = [0u8; 5];
    if len < 32 {
        h[0] = 0xa0 | len as u8;
        (h, 1)
    } else if let Ok(n) = u8::try_from(len) {
        h[0] = 0xd9;
        h[1] = n;
        (h, 2)
    } else if let Ok(n) = u16::try_from(len) {
        h[0] = 0xda;
        h[1..3].copy_from_slice(&n.to_be_bytes());
        (h, 3)
    } else {
        h[0] = 0xdb;
        h[1..5].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        (h, 5)
    }
}

/// The bytes of `encoded` if it is exactly one msgpack `str`.
#[inline]
fn str_body(encoded: &[u8]) -> Option<&[u8]> {
    let (&first, rest) = encoded.split_first()?;
    let (len, body) = match first {
        0xa0..=0xbf => (usize::from(first & 0x1f), rest),
        0xd9 => (usize::from(*rest.first()?), rest.get(1..)?),
        0xda => (usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)), rest.get(2..)?),
        0xdb => (usize::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?, rest.get(4..)?),
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

/// A fixed 64-bit hash of a byte string: 8 bytes per step, then a full avalanche.
#[inline]
fn hash(s: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (s.len() as u64).wrapping_mul(K);
    let mut words = s.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        for (d, b) in w.iter_mut().zip(rest) {
            *d = *b;
        }
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    mix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_order_and_empty_string_at_zero() {
        let mut t = StringTable::new();
        assert_eq!(t.size(), DictSize::MIN);
        assert_eq!(t.intern(b""), 0);
        assert_eq!(t.intern(b"a"), 1);
        assert_eq!(t.intern(b"b"), 2);
        assert_eq!(t.intern(b"a"), 1);
        assert_eq!(t.intern_msgpack(b"\xa1b"), 2);
        assert_eq!(t.intern_msgpack(b"\xa0"), 0);
        // Not a single msgpack str: interned as those bytes.
        assert_eq!(t.intern_msgpack(b"\xa2b"), 3);
        assert_eq!(t.get(3), Some(&b"\xa2b"[..]));
        assert_eq!(t.size(), DictSize { strings: 4, bytes: 1 + 2 + 2 + 3 });
        let all: Vec<&[u8]> = t.iter().collect();
        assert_eq!(all, [&b""[..], b"a", b"b", b"\xa2b"]);
        t.clear();
        assert_eq!(t.size(), DictSize::MIN);
        assert_eq!(t.intern(b"b"), 1);
    }

    #[test]
    fn many_strings_survive_growth_and_clears() {
        let mut t = StringTable::new();
        for round in 0..3 {
            t.clear();
            for i in 0..5_000u32 {
                let s = format!("s{}", (i * 7919 + round) % 5_000);
                let idx = t.intern(s.as_bytes());
                assert_eq!(t.get(idx), Some(s.as_bytes()));
            }
            assert_eq!(t.size().strings, 5_001);
            let long = "x".repeat(70_000);
            let idx = t.intern(long.as_bytes());
            assert_eq!(t.intern_msgpack(&rmp_serde::to_vec(&long).unwrap()), idx);
        }
        let slots = t.slots.len();
        t.clear();
        assert!(t.slots.len() >= slots, "clear keeps capacity");
    }

    #[test]
    fn dictionary_bytes_are_msgpack_strings() {
        let mut t = StringTable::new();
        let strings = ["", "a", &"b".repeat(31), &"c".repeat(32), &"d".repeat(255), &"e".repeat(256)];
        for s in strings {
            t.intern(s.as_bytes());
        }
        let (empty, rest) = t.encoded_prefix(t.size());
        let mut encoded = empty.to_vec();
        encoded.extend_from_slice(rest);
        let mut rd = encoded.as_slice();
        for s in strings {
            let got: String = rmp_serde::decode::from_read(&mut rd).unwrap();
            assert_eq!(got, s);
        }
        assert!(rd.is_empty());
        let first_two = DictSize { strings: 2, bytes: 3 };
        assert_eq!(t.encoded_prefix(first_two).1, b"\xa1a");
    }
    #[test]
    fn interning_by_handle_gives_the_indices_of_interning_by_bytes() {
        // Handles name strings: equal strings share one. Across clears, and across the table
        // growing its slots (which must not revive handles of earlier blocks), both ways agree.
        let strings: Vec<Vec<u8>> = (0..300u32).map(|i| format!("s{}", i % 170).into_bytes()).collect();
        let handle = |s: &[u8]| strings.iter().position(|t| t.as_slice() == s).map_or(0, |p| p as u32);
        let (mut by_bytes, mut by_handle, mut no_handles) =
            (StringTable::new(), StringTable::new(), StringTable::new());
        let mut rng = crate::rng::BlockRng::for_block(7, 7);
        for block in 0..40 {
            by_bytes.clear();
            by_handle.clear();
            by_handle.reserve_handles(strings.len());
            no_handles.clear();
            for _ in 0..(block * 7 % 250) {
                let s = &strings[rng.below(strings.len() as u64) as usize];
                let mut encoded = vec![0xa0 | s.len() as u8];
                encoded.extend_from_slice(s);
                let want = by_bytes.intern(s);
                assert_eq!(by_handle.intern_handle(handle(s), &encoded), want, "block {block}");
                assert_eq!(no_handles.intern_handle(StringTable::NO_HANDLE, &encoded), want, "block {block}");
            }
            assert_eq!(by_handle.size(), by_bytes.size());
            assert!(by_handle.iter().eq(by_bytes.iter()));
        }
        assert_eq!(by_handle.intern_handle(StringTable::EMPTY_HANDLE, &[0xa0]), 0);
    }
}
