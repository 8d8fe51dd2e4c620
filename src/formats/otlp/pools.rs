//! Pre-encoded protobuf fragments the OTLP formats copy from: resources, instrumentation scopes
//! and attributes, built once at setup.
//!
//! Why: a resource or an attribute is the same bytes every time it is picked, so it is encoded
//! once and a member holds its handle. Writing a member is then keys, varints, a few numbers and
//! copies of these fragments. Each pool reserves the bytes its config bounds up front
//! ([`BytePool::with_capacity`]) and refuses to grow past them, so the setup-memory estimate is
//! the capacity reserved.

use crate::error::{Error, Result};
use crate::rng::{BlockRng, mix64};
use crate::setup;
use crate::text::ALNUM_LOWER;

use super::wire::{self, len_field, put_len_header, put_varint, varint_field, varint_len};

/// Byte strings back to back in one arena, addressed by `u32` handles; the arena never grows
/// past the capacity it was made with.
#[derive(Debug, Clone, Default)]
pub struct BytePool {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    what: &'static str,
}

impl BytePool {
    /// Bytes a pool made by [`BytePool::with_capacity`]`(bytes, count, _)` holds: its arena and
    /// its `u32` ends. Setup estimates count a pool with this, so they cannot drift from it.
    pub fn footprint(bytes: u64, count: u64) -> u64 {
        bytes.saturating_add(setup::array_of::<u32>(count))
    }

    /// An empty pool for `count` strings of `bytes` bytes in all (at most 4 GiB).
    ///
    /// # Errors
    /// [`Error::Allocation`] when the system refuses the memory or `bytes` exceeds 4 GiB.
    pub fn with_capacity(bytes: usize, count: usize, what: &'static str) -> Result<Self> {
        if bytes as u64 > setup::MAX_ARENA_BYTES {
            return Err(Error::Allocation { what, bytes: bytes as u64, reason: "past the 4 GiB a pool addresses" });
        }
        Ok(Self { bytes: setup::try_vec(bytes, what)?, ends: setup::try_vec(count, what)?, what })
    }

    /// Appends one string built by `build` into `scratch` (cleared first), and returns its handle.
    ///
    /// # Errors
    /// [`Error::Allocation`] when the pool's capacity is exceeded (a bug in the estimate).
    pub fn push_built(&mut self, scratch: &mut Vec<u8>, build: impl FnOnce(&mut Vec<u8>)) -> Result<u32> {
        scratch.clear();
        build(scratch);
        self.push(scratch)
    }

    /// Appends one string and returns its handle.
    ///
    /// # Errors
    /// As [`BytePool::push_built`].
    pub fn push(&mut self, s: &[u8]) -> Result<u32> {
        if self.bytes.len() + s.len() > self.bytes.capacity() || self.ends.len() == self.ends.capacity() {
            return Err(Error::Allocation {
                what: self.what,
                bytes: (self.bytes.len() + s.len()) as u64,
                reason: "past the bound estimated for it (a bug in the format's setup estimate)",
            });
        }
        self.bytes.extend_from_slice(s);
        self.ends.push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
        Ok(self.ends.len() as u32 - 1)
    }

    /// The string at `handle` (empty when out of range).
    #[inline]
    pub fn get(&self, handle: u32) -> &[u8] {
        let i = handle as usize;
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) as usize };
        self.bytes.get(start.min(end)..end).unwrap_or_default()
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the pool holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// A uniformly chosen handle.
    #[inline]
    pub fn pick(&self, rng: &mut BlockRng) -> u32 {
        rng.index(self.ends.len()) as u32
    }

    /// Length of the shortest string (0 when empty).
    pub fn min_len(&self) -> usize {
        (0..self.len() as u32).map(|h| self.get(h).len()).min().unwrap_or(0)
    }
}

/// An attribute value as setup builds it (any `AnyValue` kind).
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
    /// `array_value` of strings.
    StrArray(&'a [&'a str]),
    /// `array_value` of integers.
    IntArray(&'a [i64]),
    /// `kvlist_value` of string values.
    KvList(&'a [(&'a str, &'a str)]),
}

/// Bytes of an `AnyValue` message holding `v`.
pub fn any_value_len(v: &Value<'_>) -> usize {
    match v {
        Value::Str(s) => len_field(s.len()),
        Value::Bool(b) => varint_field(u64::from(*b)),
        Value::Int(i) => varint_field(wire::int64(*i)),
        Value::Double(_) => wire::FIXED64_FIELD,
        Value::Bytes(b) => len_field(b.len()),
        Value::StrArray(items) => len_field(items.iter().map(|s| len_field(len_field(s.len()))).sum()),
        Value::IntArray(items) => len_field(items.iter().map(|i| len_field(varint_field(wire::int64(*i)))).sum()),
        Value::KvList(items) => len_field(items.iter().map(|(k, v)| len_field(kv_str_len(k, v))).sum()),
    }
}

fn kv_str_len(key: &str, value: &str) -> usize {
    len_field(key.len()) + len_field(len_field(value.len()))
}

/// Appends an `AnyValue` message holding `v` (without key or length).
pub fn put_any_value(out: &mut Vec<u8>, v: &Value<'_>) {
    match v {
        Value::Str(s) => wire::put_bytes(out, 1, s.as_bytes()),
        Value::Bool(b) => wire::put_varint_field(out, 2, u64::from(*b)),
        Value::Int(i) => wire::put_varint_field(out, 3, wire::int64(*i)),
        Value::Double(d) => wire::put_double(out, 4, *d),
        Value::Bytes(b) => wire::put_bytes(out, 7, b),
        Value::StrArray(items) => {
            put_len_header(out, 5, items.iter().map(|s| len_field(len_field(s.len()))).sum());
            for s in *items {
                put_len_header(out, 1, len_field(s.len()));
                wire::put_bytes(out, 1, s.as_bytes());
            }
        }
        Value::IntArray(items) => {
            put_len_header(out, 5, items.iter().map(|i| len_field(varint_field(wire::int64(*i)))).sum());
            for i in *items {
                put_len_header(out, 1, varint_field(wire::int64(*i)));
                wire::put_varint_field(out, 3, wire::int64(*i));
            }
        }
        Value::KvList(items) => {
            put_len_header(out, 6, items.iter().map(|(k, v)| len_field(kv_str_len(k, v))).sum());
            for (k, val) in *items {
                put_len_header(out, 1, kv_str_len(k, val));
                wire::put_bytes(out, 1, k.as_bytes());
                put_len_header(out, 2, len_field(val.len()));
                wire::put_bytes(out, 1, val.as_bytes());
            }
        }
    }
}

/// Bytes of a `KeyValue` message.
pub fn key_value_len(key: &str, v: &Value<'_>) -> usize {
    len_field(key.len()) + len_field(any_value_len(v))
}

/// Appends a `KeyValue` message (without key or length).
pub fn put_key_value(out: &mut Vec<u8>, key: &str, v: &Value<'_>) {
    wire::put_bytes(out, 1, key.as_bytes());
    put_len_header(out, 2, any_value_len(v));
    put_any_value(out, v);
}

/// Appends an attribute fragment: the `KeyValue`'s length and bytes, to which a writer only
/// prepends the key byte of the field it goes in (attributes are field 1, 3, 6, 7 or 9 by
/// message).
pub fn put_kv_fragment(out: &mut Vec<u8>, key: &str, v: &Value<'_>) {
    put_varint(out, key_value_len(key, v) as u64);
    put_key_value(out, key, v);
}

/// Most bytes [`put_kv_fragment`] appends for `key` and `v`.
pub fn kv_fragment_len(key: &str, v: &Value<'_>) -> usize {
    let len = key_value_len(key, v);
    varint_len(len as u64) + len
}

/// Attribute sets drawn per record: `keys` attribute keys, each with `variants` pre-encoded
/// values. A set of `n` attributes takes `n` consecutive keys from a random start (so keys in a
/// set are distinct) and a value of each, chosen by a replayable mix of one 64-bit seed: the
/// sizing pass and the writing pass walk the same set without storing it.
#[derive(Debug, Clone, Default)]
pub struct AttrTable {
    pool: BytePool,
    keys: u32,
    variants: u32,
}

/// One record's attribute set, as drawn: `n` attributes from key `start`, values from `seed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrSet {
    /// First key.
    pub start: u32,
    /// Attributes in the set.
    pub n: u32,
    /// Seed of the value choices.
    pub seed: u64,
}

impl AttrTable {
    /// A table of `keys × variants` fragments made by `value(key, variant, rng, scratch)`, which
    /// appends the fragment ([`put_kv_fragment`]) to `scratch`.
    ///
    /// # Errors
    /// [`Error::Allocation`] as for [`BytePool`].
    pub fn build(
        keys: u32,
        variants: u32,
        bytes: usize,
        rng: &mut BlockRng,
        what: &'static str,
        mut value: impl FnMut(u32, u32, &mut BlockRng, &mut Vec<u8>),
    ) -> Result<Self> {
        let count = (keys as usize).saturating_mul(variants as usize);
        let mut pool = BytePool::with_capacity(bytes, count, what)?;
        let mut scratch = setup::try_vec(SCRATCH_BYTES, what)?;
        for k in 0..keys {
            for v in 0..variants {
                pool.push_built(&mut scratch, |out| value(k, v, rng, out))?;
            }
        }
        Ok(Self { pool, keys, variants })
    }

    /// Number of distinct keys.
    pub fn keys(&self) -> u32 {
        self.keys
    }

    /// Draws a set of `n` attributes (at most [`AttrTable::keys`]).
    #[inline]
    pub fn draw(&self, rng: &mut BlockRng, n: u32) -> AttrSet {
        if n == 0 {
            return AttrSet::default();
        }
        AttrSet { start: rng.below(u64::from(self.keys)) as u32, n: n.min(self.keys), seed: rng.next_u64() }
    }

    /// The fragment of attribute `j` of `set`.
    #[inline]
    fn fragment(&self, set: &AttrSet, j: u32) -> &[u8] {
        let key = (set.start + j) % self.keys.max(1);
        let pick = mix64(set.seed.wrapping_add(u64::from(j).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let variant = ((u128::from(pick) * u128::from(self.variants)) >> 64) as u32;
        self.pool.get(key * self.variants + variant)
    }

    /// Bytes of the set's attributes as repeated fields (keys included).
    #[inline]
    pub fn set_len(&self, set: &AttrSet) -> usize {
        (0..set.n).map(|j| 1 + self.fragment(set, j).len()).sum()
    }

    /// Appends the set's attributes as repeated field `field`.
    #[inline]
    pub fn put_set(&self, out: &mut Vec<u8>, field: u8, set: &AttrSet) {
        for j in 0..set.n {
            out.push(wire::key(field, wire::LEN));
            out.extend_from_slice(self.fragment(set, j));
        }
    }

    /// Bytes of the shortest set of `n` attributes (a lower bound for any set of `n`).
    pub fn min_set_len(&self, n: u32) -> usize {
        let mut shortest: Vec<usize> = (0..self.keys)
            .map(|k| (0..self.variants).map(|v| self.pool.get(k * self.variants + v).len()).min().unwrap_or(0))
            .collect();
        shortest.sort_unstable();
        shortest.iter().take(n as usize).map(|l| 1 + l).sum()
    }
}

/// Room of the setup scratch buffer one fragment is built in.
pub const SCRATCH_BYTES: usize = 64 << 10;

/// Random lower-case letters and digits of length `len`, into `out`.
pub fn random_token(rng: &mut BlockRng, len: usize, out: &mut String) {
    crate::text::push_random_chars(out, rng, len, ALNUM_LOWER);
}

/// Lower-case hex of `len` characters.
pub fn random_hex(rng: &mut BlockRng, len: usize, out: &mut String) {
    crate::text::push_random_chars(out, rng, len, b"0123456789abcdef");
}
