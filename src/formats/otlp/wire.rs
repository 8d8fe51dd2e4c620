//! The protobuf wire, written by hand: field keys, varints, fixed-width numbers and
//! length-delimited fields, and the lengths of each, computed without writing anything.
//!
//! Why by hand: the OTLP formats write a member's nested messages straight into the output, so
//! every message's length must be known before its first byte is written. Each writer here has a
//! `*_len` twin that returns exactly the bytes the writer appends; the formats add those up
//! bottom-up (record, scope, resource) in a sizing pass, then write top-down. No message is
//! buffered and copied, and nothing here allocates beyond the output `Vec`'s own growth.
//!
//! Every field number the formats write is below 16, so every key is one byte ([`key`]), except
//! `Span.flags` (field 16), whose two-byte key `otlp-traces` writes as a constant.

/// Wire type of varints (`int64`, `uint32`, `bool`, enums).
pub const VARINT: u8 = 0;
/// Wire type of 8-byte little-endian values (`fixed64`, `sfixed64`, `double`).
pub const FIXED64: u8 = 1;
/// Wire type of length-delimited values (strings, bytes, messages, packed repeated fields).
pub const LEN: u8 = 2;
/// Wire type of 4-byte little-endian values (`fixed32`).
pub const FIXED32: u8 = 5;

/// The one-byte key of field `field` (1..=15) with wire type `wire`.
#[inline]
pub const fn key(field: u8, wire: u8) -> u8 {
    ((field & 15) << 3) | wire
}

/// Bytes of `v` as a varint (1..=10).
#[inline]
pub const fn varint_len(v: u64) -> usize {
    // 1 byte per 7 significant bits, at least one.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of a length-delimited field (one-byte key) whose payload is `len` bytes.
#[inline]
pub const fn len_field(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Appends the key and length of a length-delimited field; the caller appends `len` bytes next.
#[inline]
pub fn put_len_header(out: &mut Vec<u8>, field: u8, len: usize) {
    out.push(key(field, LEN));
    put_varint(out, len as u64);
}

/// Appends a length-delimited field holding `bytes` (a string, a byte string).
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    put_len_header(out, field, bytes.len());
    out.extend_from_slice(bytes);
}

/// Bytes of a varint field.
#[inline]
pub const fn varint_field(v: u64) -> usize {
    1 + varint_len(v)
}

/// Appends a varint field.
#[inline]
pub fn put_varint_field(out: &mut Vec<u8>, field: u8, v: u64) {
    out.push(key(field, VARINT));
    put_varint(out, v);
}

/// Bytes of a `fixed64` / `sfixed64` / `double` field.
pub const FIXED64_FIELD: usize = 9;

/// Appends a `fixed64` field.
#[inline]
pub fn put_fixed64(out: &mut Vec<u8>, field: u8, v: u64) {
    let mut bytes = [0u8; 9];
    bytes[0] = key(field, FIXED64);
    bytes[1..].copy_from_slice(&v.to_le_bytes());
    out.extend_from_slice(&bytes);
}

/// Appends a `double` field.
#[inline]
pub fn put_double(out: &mut Vec<u8>, field: u8, v: f64) {
    put_fixed64(out, field, v.to_bits());
}

/// Bytes of a `fixed32` field.
pub const FIXED32_FIELD: usize = 5;

/// Appends a `fixed32` field.
#[inline]
pub fn put_fixed32(out: &mut Vec<u8>, field: u8, v: u32) {
    let mut bytes = [0u8; 5];
    bytes[0] = key(field, FIXED32);
    bytes[1..].copy_from_slice(&v.to_le_bytes());
    out.extend_from_slice(&bytes);
}

/// ZigZag form of a signed 32-bit value (`sint32`).
#[inline]
pub const fn zigzag32(v: i32) -> u64 {
    ((v << 1) ^ (v >> 31)) as u32 as u64
}

/// Varint form of an `int64` (two's complement, so a negative value takes 10 bytes).
#[inline]
pub const fn int64(v: i64) -> u64 {
    v as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_what_is_written() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, 1 << 35, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut field = Vec::new();
            put_varint_field(&mut field, 3, v);
            assert_eq!(field.len(), varint_field(v));
        }
        for len in [0usize, 5, 127, 128, 300, 70_000] {
            let mut out = Vec::new();
            put_bytes(&mut out, 2, &vec![7u8; len]);
            assert_eq!(out.len(), len_field(len));
            assert_eq!(out[0], 0x12);
        }
        let mut out = Vec::new();
        put_fixed64(&mut out, 1, 5);
        put_fixed32(&mut out, 8, 1);
        assert_eq!(out.len(), FIXED64_FIELD + FIXED32_FIELD);
        assert_eq!(out[0], 0x09);
        assert_eq!(out[9], 0x45);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(varint_len(int64(-1)), 10);
    }
}
