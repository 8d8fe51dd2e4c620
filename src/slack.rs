//! [`write_member`] and [`SlackWriter`]: append one member to a `Vec<u8>` through a zeroed
//! window with slack, so most writes are fixed-size copies with one bounds check and no capacity
//! check.
//!
//! Why: a member is dozens of short pieces (pool strings, literals, digits). Through
//! `Vec::extend_from_slice` each piece costs a capacity check and, for a length only known at run
//! time, a call into `memcpy`; profiles of every format showed those calls as the largest single
//! cost after the data itself. Here [`write_member`] resizes the vector once per member to a
//! window of `hint + SLACK` bytes, and a short string is copied as a whole 32- or 128-byte chunk
//! taken from its arena (the bytes past its end are overwritten by the next piece or cut off at
//! the end).
//! The output is byte for byte what the `Vec` calls wrote; only the number of calls changes.
//!
//! Everything is safe code with one bounds check per piece: a piece that does not fit marks the
//! window as overflowed and the member is written again into a window twice as large, a chunk
//! that would read past the end of its arena falls back to an exact copy, and the vector is
//! truncated to what was written, so no slack byte is ever left behind.

/// Spare bytes kept past the end of the hinted window, so the last piece's chunk copy fits.
const SLACK: usize = 128;

/// Appends one member to `out` by running `write` over a [`SlackWriter`] window of `hint` bytes
/// (plus slack). A member longer than the window is written again into a window twice as large,
/// so the hint only has to be right most of the time: a good one is the member's usual upper
/// length. `write` must be a pure function of what it captures, as [`crate::Format::encode`] is.
#[inline]
pub fn write_member(out: &mut Vec<u8>, hint: usize, mut write: impl FnMut(&mut SlackWriter<'_>)) {
    let start = out.len();
    let window = hint.saturating_add(SLACK);
    open_window(out, start, window);
    let Some(buf) = out.get_mut(start..) else { return };
    let mut w = SlackWriter { buf, pos: 0, overflow: false };
    write(&mut w);
    let (written, overflow) = (w.pos, w.overflow);
    if overflow {
        rewrite_larger(out, start, window, &mut write);
    } else {
        out.truncate(start + written);
    }
}

/// The member did not fit its window: writes it again into windows twice as large until it
/// does. Out of line, so the common path stays straight code.
#[cold]
#[inline(never)]
fn rewrite_larger(out: &mut Vec<u8>, start: usize, mut window: usize, write: &mut dyn FnMut(&mut SlackWriter<'_>)) {
    loop {
        window = window.saturating_mul(2).min(MAX_WINDOW);
        open_window(out, start, window);
        let Some(buf) = out.get_mut(start..) else { return };
        let mut w = SlackWriter { buf, pos: 0, overflow: false };
        write(&mut w);
        let (written, overflow) = (w.pos, w.overflow);
        if !overflow || window >= MAX_WINDOW {
            out.truncate(start + written);
            return;
        }
    }
}

/// Zeroes for opening a window of up to 16 KiB with one copy; larger windows are resized.
static ZEROES: [u8; 16 * 1024] = [0; 16 * 1024];

/// Makes `out` `start + window` bytes long (it is `start` long), the new bytes zero.
#[inline]
fn open_window(out: &mut Vec<u8>, start: usize, window: usize) {
    out.truncate(start);
    match ZEROES.get(..window) {
        Some(zeroes) => out.extend_from_slice(zeroes),
        None => out.resize(start.saturating_add(window), 0),
    }
}

/// The largest window [`write_member`] grows to (no member of a block can be longer than
/// [`crate::fill::MAX_BUDGET`] and still fit).
const MAX_WINDOW: usize = crate::fill::MAX_BUDGET + SLACK;

/// A member's window (see the module docs): writes go to a slice with one bounds check each; a
/// write past the end marks the window as overflowed and [`write_member`] retries larger.
#[derive(Debug)]
pub struct SlackWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl SlackWriter<'_> {
    /// Appends one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        match self.buf.get_mut(self.pos) {
            Some(slot) => {
                *slot = b;
                self.pos += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `s` exactly. Best for pieces of a length the compiler cannot know and that may
    /// be long.
    #[inline]
    pub fn put(&mut self, s: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + s.len()) {
            Some(dst) => {
                dst.copy_from_slice(s);
                self.pos += s.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends a fixed-size array (a literal, a formatted timestamp): one or two stores.
    #[inline]
    pub fn put_array<const N: usize>(&mut self, s: &[u8; N]) {
        match self.buf.get_mut(self.pos..self.pos + N) {
            Some(dst) => {
                dst.copy_from_slice(s);
                self.pos += N;
            }
            None => self.overflow = true,
        }
    }

    /// Copies the first `C` bytes of `tail` as one chunk and keeps `len` of them.
    #[inline]
    fn chunk<const C: usize>(&mut self, tail: &[u8], len: usize) -> bool {
        match (self.buf.get_mut(self.pos..self.pos + C), tail.get(..C)) {
            (Some(dst), Some(src)) => {
                dst.copy_from_slice(src);
                self.pos += len;
                true
            }
            _ => false,
        }
    }

    /// Appends the first `len` bytes of `tail` (a string followed by the rest of its arena).
    /// A string of up to 32 bytes is copied as one 32-byte chunk, one of up to 128 bytes as one
    /// 128-byte chunk, when `tail` has the bytes to read and the window the room (the bytes past
    /// `len` are overwritten later or cut off); anything else is copied exactly. Two chunk sizes,
    /// not more, so the branch on the length is predictable.
    #[inline]
    pub fn put_from(&mut self, tail: &[u8], len: usize) {
        let done = if len <= 32 { self.chunk::<32>(tail, len) } else { len <= 128 && self.chunk::<128>(tail, len) };
        if !done {
            self.put(tail.get(..len).unwrap_or(tail));
        }
    }

    /// Lets `fill` write the next `N` bytes in place (a timestamp, a fixed-width field) and
    /// moves past them.
    #[inline]
    pub fn fill_with<const N: usize>(&mut self, fill: impl FnOnce(&mut [u8; N])) {
        match self.buf.get_mut(self.pos..self.pos + N).and_then(|s| <&mut [u8; N]>::try_from(s).ok()) {
            Some(window) => {
                fill(window);
                self.pos += N;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `marker` and then `bytes` (a msgpack value: a marker and its big-endian payload).
    #[inline]
    pub fn marked<const N: usize>(&mut self, marker: u8, bytes: [u8; N]) {
        match self.buf.get_mut(self.pos..self.pos + 1 + N).and_then(<[u8]>::split_first_mut) {
            Some((first, rest)) => {
                *first = marker;
                rest.copy_from_slice(&bytes);
                self.pos += 1 + N;
            }
            None => self.overflow = true,
        }
    }

    /// Appends the decimal form of `v`.
    #[inline]
    pub fn u64(&mut self, v: u64) {
        match self.buf.get_mut(self.pos..self.pos + 20).and_then(|s| <&mut [u8; 20]>::try_from(s).ok()) {
            Some(w) => self.pos += write_u64(w, v),
            None => self.overflow = true,
        }
    }

    /// Appends the decimal form of `v`.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs());
    }
}

/// Asks the CPU to start loading the cache lines of `bytes` and returns at once: a hint, with
/// no effect on any value. Used ahead of time for data a member will copy from a pool too
/// large for the caches (see [`crate::Format::prefetch`]). Only x86_64 has it; elsewhere it
/// does nothing.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut at = 0;
        while let Some(line) = bytes.get(at..) {
            if line.is_empty() {
                break;
            }
            // SAFETY: `_mm_prefetch` is a hint: it changes no memory, its result is nothing,
            // it cannot fault on any address, and `sse`, the feature it needs, is part of every
            // x86_64 target. The pointer comes from a live slice anyway.
            #[allow(unsafe_code)]
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast());
            }
            at += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// `"00" "01" ... "99"`: two decimal digits per lookup.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `10^i` for `i` in `0..20`.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Number of decimal digits of `v` (1 for 0): `log10` estimated from the bit length, then
/// corrected with one comparison.
#[inline]
pub(crate) const fn decimal_digits(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    let t = (bits * 1233) >> 12;
    let below = if t < 20 && v < POW10[t] { 1 } else { 0 };
    let n = t + 1 - below;
    if n == 0 { 1 } else { n }
}

/// Writes the two digits of `pair % 100` at `out[at..at + 2]` (nothing if that is out of range).
#[inline]
pub(crate) fn put_pair(out: &mut [u8], at: usize, pair: u32) {
    let i = (pair % 100) as usize * 2;
    if let (Some(dst), Some(src)) = (out.get_mut(at..at + 2), DIGIT_PAIRS.get(i..i + 2)) {
        dst.copy_from_slice(src);
    }
}

/// Writes `v` in decimal at the start of `out` and returns the number of digits: four digits
/// per step from the end (two table lookups in 32-bit arithmetic), as `itoa` does, but in
/// place, so the caller copies nothing.
#[inline]
pub(crate) fn write_u64(out: &mut [u8; 20], mut v: u64) -> usize {
    let n = decimal_digits(v);
    let mut end = n;
    while v >= 10_000 {
        let r = (v % 10_000) as u32;
        v /= 10_000;
        end = end.saturating_sub(4);
        put_pair(out, end, r / 100);
        put_pair(out, end + 2, r % 100);
    }
    let mut v = v as u32;
    if v >= 100 {
        end = end.saturating_sub(2);
        put_pair(out, end, v % 100);
        v /= 100;
    }
    if v >= 10 {
        put_pair(out, end.saturating_sub(2), v);
    } else if let Some(d) = out.get_mut(end.saturating_sub(1)) {
        *d = b'0' + v as u8;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_match_std_formatting() {
        let mut probes: Vec<u64> = vec![0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, u64::MAX, u64::MAX - 1];
        for p in 0..20 {
            let t = 10u64.pow(p);
            probes.extend([t, t - 1, t + 1, t.saturating_mul(7) / 3]);
        }
        let mut buf = [0u8; 20];
        for v in probes {
            let n = write_u64(&mut buf, v);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), v.to_string(), "{v}");
        }
    }

    fn pieces(w: &mut SlackWriter<'_>, arena: &[u8], cases: &[(usize, usize)]) {
        for &(start, len) in cases {
            w.put_from(&arena[start..], len);
            w.byte(b'|');
            w.u64(start as u64 * 1_000_003);
            w.i64(-(len as i64));
            w.put_array(b"<>");
            w.put(b"--");
        }
    }

    #[test]
    fn writes_equal_plain_vec_writes_and_leave_no_slack() {
        let arena =
            b"alpha-beta-gamma-delta-epsilon-zeta-eta-theta-iota-kappa-lambda-mu-nu-xi-omicron-pi-rho-sigma-tau";
        let cases = [(0usize, 5usize), (6, 4), (0, 0), (11, 33), (0, 64), (40, 30), (70, 2), (0, 65), (85, 8)];
        let mut plain = b"prefix:".to_vec();
        for &(start, len) in &cases {
            plain.extend_from_slice(&arena[start..start + len]);
            plain.push(b'|');
            plain.extend_from_slice((start as u64 * 1_000_003).to_string().as_bytes());
            plain.extend_from_slice((-(len as i64)).to_string().as_bytes());
            plain.extend_from_slice(b"<>--");
        }
        // A roomy window, and windows far too small: the member is written again, larger.
        for hint in [4096, 0, 3, 100] {
            let mut fast = b"prefix:".to_vec();
            write_member(&mut fast, hint, |w| pieces(w, arena, &cases));
            assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&plain), "hint {hint}");
        }
    }

    #[test]
    fn digit_counts_are_exact() {
        assert_eq!(decimal_digits(0), 1);
        for p in 1..20u32 {
            assert_eq!(decimal_digits(10u64.pow(p) - 1), p as usize);
            assert_eq!(decimal_digits(10u64.pow(p)), p as usize + 1);
        }
        assert_eq!(decimal_digits(u64::MAX), 20);
    }
}
