//! Allocation-free text building blocks shared by the formats.
//!
//! * [`StrPool`]: many short strings in one arena (two allocations per pool), addressed by `u32`
//!   handles, so members can hold handles instead of owned strings.
//! * Writers that append straight to the output buffer: integers (`itoa`), floats (`ryu`), RFC 3339
//!   timestamps (civil-from-days, no calendar crate, no `format!`) and JSON strings (escape scan
//!   with a fast path for text that needs none).

use crate::error::{Error, Result};
use crate::rng::BlockRng;
use crate::slack::put_pair;

/// Lower-case letters and digits: safe in every format's identifiers without escaping.
pub const ALNUM_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Letters only, for words in prose-like text.
pub const LETTERS_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// Many strings stored back to back in one arena, addressed by index.
///
/// The arena grows like a `String` (doubling) but never past the bound it was made with (at most
/// [`crate::setup::MAX_ARENA_BYTES`], which its `u32` offsets address), and every allocation is
/// fallible: a push past the bound, or memory the system refuses, is an [`Error::Allocation`]
/// naming the pool, never a saturated offset or an abort.
#[derive(Debug, Clone)]
pub struct StrPool {
    text: String,
    ends: Vec<u32>,
    /// Most bytes the arena may hold.
    limit: usize,
    /// What the pool is, for errors.
    what: &'static str,
}

impl Default for StrPool {
    fn default() -> Self {
        Self { text: String::new(), ends: Vec::new(), limit: MAX_POOL_BYTES, what: "string pool" }
    }
}

/// The most bytes a [`StrPool`] may hold: what its `u32` offsets address.
const MAX_POOL_BYTES: usize = crate::setup::MAX_ARENA_BYTES as usize;

impl StrPool {
    /// A pool holding `items` in order.
    ///
    /// # Errors
    /// [`Error::Allocation`] for `what` when the strings exceed what the pool addresses or the
    /// system refuses the memory.
    pub fn from_strs<S: AsRef<str>>(items: &[S], what: &'static str) -> Result<Self> {
        let total = items.iter().fold(0usize, |sum, s| sum.saturating_add(s.as_ref().len()));
        let mut pool = StrPool::with_capacity(total, items.len(), total, what)?;
        for s in items {
            pool.push(s.as_ref())?;
        }
        Ok(pool)
    }

    /// A pool of `count` random strings over `charset`, each with a length drawn from
    /// `min_len..=max_len`; it never holds more than `count × max_len` bytes.
    ///
    /// # Errors
    /// As [`StrPool::from_strs`].
    pub fn random(
        rng: &mut BlockRng,
        count: usize,
        (min_len, max_len): (usize, usize),
        charset: &[u8],
        what: &'static str,
    ) -> Result<Self> {
        let avg = (min_len + max_len.max(min_len)) / 2;
        let limit = count.saturating_mul(max_len.max(min_len));
        let mut pool = StrPool::with_capacity(count.saturating_mul(avg), count, limit, what)?;
        for _ in 0..count {
            let len = rng.inclusive(min_len as u64, max_len as u64) as usize;
            pool.push_random(rng, len, charset)?;
        }
        Ok(pool)
    }

    /// An empty pool with room for `count` strings totalling `bytes` bytes, which will never
    /// hold more than `limit` bytes (and at most [`crate::setup::MAX_ARENA_BYTES`]).
    ///
    /// # Errors
    /// [`Error::Allocation`] for `what` when the system refuses the memory.
    pub fn with_capacity(bytes: usize, count: usize, limit: usize, what: &'static str) -> Result<Self> {
        let limit = limit.min(MAX_POOL_BYTES);
        Ok(StrPool {
            text: crate::setup::try_string(bytes.min(limit), what)?,
            ends: crate::setup::try_vec(count, what)?,
            limit,
            what,
        })
    }

    /// Makes room for `extra` more bytes and one more string, growing within the pool's limit.
    fn reserve(&mut self, extra: usize) -> Result<()> {
        let add = crate::setup::grow_within(self.text.len(), self.text.capacity(), extra, self.limit, self.what)?;
        if add > 0 {
            let want = self.text.len().saturating_add(add);
            self.text.try_reserve_exact(add).map_err(|_| crate::setup::refused(self.what, want))?;
        }
        if self.ends.len() == self.ends.capacity() {
            let add = self.ends.capacity().max(4);
            self.ends.try_reserve_exact(add).map_err(|_| crate::setup::refused(self.what, add * 4))?;
        }
        Ok(())
    }

    /// Ends the string appended since the last one.
    fn seal(&mut self) -> Result<()> {
        let end = self.text.len();
        if end > self.limit {
            return Err(Error::Allocation {
                what: self.what,
                bytes: end as u64,
                reason: "past the bound estimated for it (a bug in the format's setup estimate)",
            });
        }
        // `limit` is at most `u32::MAX`, so the offset always fits.
        self.ends.push(u32::try_from(end).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Appends one string of at most `max_len` bytes built in place by `build`, which must only
    /// append to the text it is given (so a string made of several pieces needs no temporary
    /// copy).
    ///
    /// # Errors
    /// [`Error::Allocation`] when the pool would exceed its limit (the string is dropped) or the
    /// system refuses the memory.
    pub fn push_with(&mut self, max_len: usize, build: impl FnOnce(&mut String)) -> Result<()> {
        self.reserve(max_len)?;
        let start = self.text.len();
        build(&mut self.text);
        let result = self.seal();
        if result.is_err() {
            self.text.truncate(start);
        }
        result
    }

    /// Appends one string.
    ///
    /// # Errors
    /// As [`StrPool::push_with`].
    pub fn push(&mut self, s: &str) -> Result<()> {
        self.reserve(s.len())?;
        self.text.push_str(s);
        self.seal()
    }

    /// Appends one random string of `len` characters from `charset` (ASCII).
    ///
    /// # Errors
    /// As [`StrPool::push_with`].
    pub fn push_random(&mut self, rng: &mut BlockRng, len: usize, charset: &[u8]) -> Result<()> {
        self.reserve(len)?;
        for _ in 0..len {
            let c = charset.get(rng.index(charset.len())).copied().unwrap_or(b'x');
            self.text.push(char::from(c));
        }
        self.seal()
    }

    /// A pool of the same strings, each written between `prefix` and `suffix`: lets a writer
    /// copy a separator, a value and its closing quote as one piece.
    ///
    /// # Errors
    /// As [`StrPool::from_strs`].
    pub fn affixed(&self, prefix: &str, suffix: &str, what: &'static str) -> Result<Self> {
        let extra = (prefix.len() + suffix.len()).saturating_mul(self.len());
        let total = self.text.len().saturating_add(extra);
        let mut pool = StrPool::with_capacity(total, self.len(), total, what)?;
        for s in self.iter() {
            pool.push_with(prefix.len() + s.len() + suffix.len(), |t| {
                t.push_str(prefix);
                t.push_str(s);
                t.push_str(suffix);
            })?;
        }
        Ok(pool)
    }

    /// Bytes of heap the pool holds (text and offsets).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<u32>()
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the pool holds no strings.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The string at `handle` (empty for an out-of-range handle).
    #[inline]
    pub fn get(&self, handle: u32) -> &str {
        let (start, end) = self.bounds(handle);
        self.text.get(start..end).unwrap_or("")
    }

    /// Where the string at `handle` starts and ends in the arena (`(0, 0)` when out of range).
    #[inline]
    fn bounds(&self, handle: u32) -> (usize, usize) {
        let i = handle as usize;
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) as usize };
        (start.min(end), end)
    }

    /// The string at `handle` as the bytes from its start to the end of the arena, with its
    /// length: what [`crate::slack::SlackWriter::put_from`] copies in fixed-size chunks.
    #[inline]
    pub fn tail(&self, handle: u32) -> (&[u8], usize) {
        let (start, end) = self.bounds(handle);
        (self.text.as_bytes().get(start..).unwrap_or_default(), end - start)
    }

    /// A uniformly chosen handle (0 for an empty pool).
    #[inline]
    pub fn pick(&self, rng: &mut BlockRng) -> u32 {
        rng.index(self.ends.len()) as u32
    }

    /// Length of the shortest string (0 for an empty pool).
    pub fn min_len(&self) -> usize {
        (0..self.len() as u32).map(|h| self.get(h).len()).min().unwrap_or(0)
    }

    /// Length of the longest string (0 for an empty pool).
    pub fn max_len(&self) -> usize {
        (0..self.len() as u32).map(|h| self.get(h).len()).max().unwrap_or(0)
    }

    /// Iterates over the strings in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len() as u32).map(move |h| self.get(h))
    }
}

/// Appends `len` characters drawn uniformly from `charset` (ASCII, at most 256 characters),
/// taking several characters from each 64-bit draw: each character consumes about
/// `log2(charset.len())` bits of the draw by multiply-and-extract, so bulk text for setup-time
/// pools costs a fraction of one draw per character. Non-ASCII charsets append nothing.
pub fn push_random_chars(out: &mut String, rng: &mut BlockRng, len: usize, charset: &[u8]) {
    let n = charset.len() as u64;
    if n == 0 {
        return;
    }
    // Characters per draw: keep at least 20 unused bits so the last extraction stays uniform.
    let per_draw = (44 / (64 - n.leading_zeros()).max(1)).max(1);
    let (mut x, mut avail) = (0u64, 0u32);
    let mut buf = [0u8; 64];
    let mut left = len;
    out.reserve(len);
    while left > 0 {
        let chunk = left.min(buf.len());
        for b in buf.iter_mut().take(chunk) {
            if avail == 0 {
                x = rng.next_u64();
                avail = per_draw;
            }
            let wide = u128::from(x) * u128::from(n);
            *b = charset.get((wide >> 64) as usize).copied().unwrap_or(b'x');
            x = wide as u64;
            avail -= 1;
        }
        out.push_str(std::str::from_utf8(buf.get(..chunk).unwrap_or_default()).unwrap_or_default());
        left -= chunk;
    }
}

/// Appends the decimal form of an unsigned integer.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends the decimal form of a signed integer.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends the shortest round-tripping decimal form of a finite float (`ryu`); non-finite
/// values, which no format here may carry, are written as `0`.
#[inline]
pub fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.push(b'0');
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's civil-from-days).
#[inline]
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Earliest and latest instants RFC 3339 can write: 0000-01-01T00:00:00Z, 9999-12-31T23:59:59.999Z.
const MIN_RFC3339_MS: i64 = -62_167_219_200_000;
const MAX_RFC3339_MS: i64 = 253_402_300_799_999;
const MS_PER_DAY: i64 = 86_400_000;

/// `YYYY-MM-DD` of days since the Unix epoch (clamped to years 0000..=9999).
fn rfc3339_date(days: i64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(days);
    let year = year.clamp(0, 9999) as u32;
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    put_pair(&mut buf, 0, year / 100);
    put_pair(&mut buf, 2, year);
    put_pair(&mut buf, 5, month);
    put_pair(&mut buf, 8, day);
    let mut date = [0u8; 10];
    date.copy_from_slice(buf.get(..10).unwrap_or(b"0000-00-00"));
    date
}

/// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch into `buf`, with the
/// date taken from `date_of(days)`. Instants outside years 0000..=9999 are clamped into that
/// range. Every byte is written in place, so the caller can hand its output window.
#[inline]
fn write_rfc3339_millis(buf: &mut [u8; 24], epoch_ms: i64, date_of: impl FnOnce(i64) -> [u8; 10]) {
    let ms = epoch_ms.clamp(MIN_RFC3339_MS, MAX_RFC3339_MS);
    let days = ms.div_euclid(MS_PER_DAY);
    // Milliseconds of the day fit in u32, so the clock is u32 arithmetic.
    let of_day = ms.rem_euclid(MS_PER_DAY) as u32;
    let (sod, millis) = (of_day / 1000, of_day % 1000);
    if let Some(d) = buf.get_mut(..10) {
        d.copy_from_slice(&date_of(days));
    }
    buf[10] = b'T';
    put_pair(buf, 11, sod / 3600);
    buf[13] = b':';
    put_pair(buf, 14, sod / 60 % 60);
    buf[16] = b':';
    put_pair(buf, 17, sod % 60);
    buf[19] = b'.';
    buf[20] = b'0' + (millis / 100) as u8;
    put_pair(buf, 21, millis);
    buf[23] = b'Z';
}

/// [`write_rfc3339_millis`] into a new array.
#[inline]
fn rfc3339_millis(epoch_ms: i64, date_of: impl FnOnce(i64) -> [u8; 10]) -> [u8; 24] {
    let mut buf = [0u8; 24];
    write_rfc3339_millis(&mut buf, epoch_ms, date_of);
    buf
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch. Instants outside
/// years 0000..=9999 are clamped into that range, the only one RFC 3339 can write. The text is
/// assembled on the stack and appended with one copy.
pub fn push_rfc3339_millis(out: &mut Vec<u8>, epoch_ms: i64) {
    out.extend_from_slice(&rfc3339_millis(epoch_ms, rfc3339_date));
}

/// RFC 3339 timestamps of a range of instants known at setup: the `YYYY-MM-DD` of every day in
/// the range is written once into a table, so a timestamp costs a lookup and the clock digits.
/// A range of more than [`Rfc3339Days::MAX_DAYS`] days keeps no table and computes each date.
#[derive(Debug, Clone, Default)]
pub struct Rfc3339Days {
    first_day: i64,
    dates: Vec<[u8; 10]>,
}

impl Rfc3339Days {
    /// The most days a table holds (about 11 years, 40 KiB).
    pub const MAX_DAYS: u64 = 4096;

    /// Heap bytes of the table for instants `lo_ms..=hi_ms`.
    pub fn table_bytes(lo_ms: i64, hi_ms: i64) -> u64 {
        Self::span(lo_ms, hi_ms).map_or(0, |(_, days)| days * 10)
    }

    /// First day and number of days of the range, or `None` when it is too long for a table.
    fn span(lo_ms: i64, hi_ms: i64) -> Option<(i64, u64)> {
        let clamp = |ms: i64| ms.clamp(MIN_RFC3339_MS, MAX_RFC3339_MS).div_euclid(MS_PER_DAY);
        let (first, last) = (clamp(lo_ms), clamp(hi_ms.max(lo_ms)));
        let days = u64::try_from(last - first).ok()?.checked_add(1)?;
        (days <= Self::MAX_DAYS).then_some((first, days))
    }

    /// The table for instants `lo_ms..=hi_ms`.
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] when the system refuses the table's memory.
    pub fn for_range(lo_ms: i64, hi_ms: i64, what: &'static str) -> Result<Self> {
        let Some((first_day, days)) = Self::span(lo_ms, hi_ms) else {
            return Ok(Self::default());
        };
        let mut dates = crate::setup::try_vec(days as usize, what)?;
        dates.extend((0..days as i64).map(|d| rfc3339_date(first_day + d)));
        Ok(Self { first_day, dates })
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `epoch_ms` (any instant; one outside the table's range
    /// computes its date).
    #[inline]
    pub fn format(&self, epoch_ms: i64) -> [u8; 24] {
        let mut buf = [0u8; 24];
        self.write(&mut buf, epoch_ms);
        buf
    }

    /// [`Rfc3339Days::format`], written into `buf` in place.
    #[inline]
    pub fn write(&self, buf: &mut [u8; 24], epoch_ms: i64) {
        write_rfc3339_millis(buf, epoch_ms, |days| {
            usize::try_from(days - self.first_day)
                .ok()
                .and_then(|i| self.dates.get(i))
                .copied()
                .unwrap_or_else(|| rfc3339_date(days))
        });
    }
}

/// True when `s` can be written inside JSON quotes as it is.
#[inline]
pub fn json_safe(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Appends `s` as a quoted JSON string, escaping only what JSON requires.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    if json_safe(s) {
        out.extend_from_slice(s.as_bytes());
    } else {
        push_json_escaped(out, s);
    }
    out.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string (no quotes).
pub fn push_json_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_round_trips() {
        let pool = StrPool::from_strs(&["a", "", "bcd"], "test").unwrap();
        assert_eq!((pool.get(0), pool.get(1), pool.get(2), pool.get(3)), ("a", "", "bcd", ""));
        assert_eq!((pool.min_len(), pool.max_len(), pool.len()), (0, 3, 3));
        let mut rng = BlockRng::for_block(1, 2);
        let r = StrPool::random(&mut rng, 50, (3, 5), ALNUM_LOWER, "test").unwrap();
        assert!(r.iter().all(|s| (3..=5).contains(&s.len()) && s.bytes().all(|b| ALNUM_LOWER.contains(&b))));
    }

    #[test]
    fn random_chars_cover_the_charset() {
        let mut rng = BlockRng::for_block(3, 4);
        let mut text = String::new();
        push_random_chars(&mut text, &mut rng, 36_001, ALNUM_LOWER);
        assert_eq!(text.len(), 36_001);
        for c in ALNUM_LOWER {
            let n = text.bytes().filter(|b| b == c).count();
            assert!((800..1200).contains(&n), "{} seen {n} times", char::from(*c));
        }
        let mut pool = StrPool::with_capacity(8, 2, 8, "test").unwrap();
        pool.push_with(2, |t| t.push_str("ab")).unwrap();
        pool.push_with(3, |t| push_random_chars(t, &mut rng, 3, b"z")).unwrap();
        assert_eq!((pool.get(0), pool.get(1)), ("ab", "zzz"));
        // A push past the pool's bound is an error naming the pool, and the pool is unchanged.
        let err = pool.push("four").unwrap_err().to_string();
        assert!(err.contains("test") && err.contains("9 bytes"), "{err}");
        assert_eq!((pool.len(), pool.get(1)), (2, "zzz"));
        let err = pool.push_with(1, |t| t.push_str("toolong")).unwrap_err().to_string();
        assert!(err.contains("test"), "{err}");
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn day_table_matches_computed_dates() {
        let (lo, hi) = (1_704_067_200_000i64, 1_767_225_599_999i64);
        let table = Rfc3339Days::for_range(lo, hi, "test").unwrap();
        assert_eq!(Rfc3339Days::table_bytes(lo, hi), 731 * 10);
        let mut rng = BlockRng::for_block(3, 3);
        let edges = [lo, hi, lo - 1, hi + 1, 0, -1, i64::MIN, i64::MAX, 951_782_400_123];
        let draws = (0..20_000).map(|_| rng.inclusive(0, 2 * hi as u64) as i64 - hi / 2);
        for ms in edges.into_iter().chain(draws) {
            let mut out = Vec::new();
            push_rfc3339_millis(&mut out, ms);
            assert_eq!(table.format(ms).as_slice(), out.as_slice(), "{ms}");
        }
        // A range too long for a table still formats every instant.
        let wide = Rfc3339Days::for_range(i64::MIN, i64::MAX, "test").unwrap();
        assert_eq!(Rfc3339Days::table_bytes(i64::MIN, i64::MAX), 0);
        assert_eq!(&wide.format(0), b"1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn timestamps_match_known_instants() {
        let cases = [
            (0i64, "1970-01-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (1_700_000_000_999, "2023-11-14T22:13:20.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (i64::MAX, "9999-12-31T23:59:59.999Z"),
        ];
        for (ms, want) in cases {
            let mut out = Vec::new();
            push_rfc3339_millis(&mut out, ms);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn json_strings_parse_back() {
        for s in ["plain", "quote\" back\\slash", "ctl\u{1}\n\t\r", "ünïcode ☃"] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn numbers_format_plainly() {
        let mut out = Vec::new();
        push_u64(&mut out, 42);
        out.push(b' ');
        push_i64(&mut out, -7);
        out.push(b' ');
        push_f64(&mut out, 0.5);
        out.push(b' ');
        push_f64(&mut out, f64::NAN);
        assert_eq!(out, b"42 -7 0.5 0");
    }
}
