//! msgpack writers for an in-memory buffer, and the span's field names pre-encoded.
//!
//! rmp reports write errors of its writer; a `Vec<u8>` never fails, so the results are dropped
//! here, once, instead of at every call site.

/// Field names as msgpack strings (fixstr header + bytes), written with one copy each.
pub mod key {
    /// `service`
    pub const SERVICE: &[u8] = b"\xa7service";
    /// `name`
    pub const NAME: &[u8] = b"\xa4name";
    /// `resource`
    pub const RESOURCE: &[u8] = b"\xa8resource";
    /// `trace_id`
    pub const TRACE_ID: &[u8] = b"\xa8trace_id";
    /// `span_id`
    pub const SPAN_ID: &[u8] = b"\xa7span_id";
    /// `parent_id`
    pub const PARENT_ID: &[u8] = b"\xa9parent_id";
    /// `start`
    pub const START: &[u8] = b"\xa5start";
    /// `duration`
    pub const DURATION: &[u8] = b"\xa8duration";
    /// `error`
    pub const ERROR: &[u8] = b"\xa5error";
    /// `meta`
    pub const META: &[u8] = b"\xa4meta";
    /// `metrics`
    pub const METRICS: &[u8] = b"\xa7metrics";
    /// `type`
    pub const TYPE: &[u8] = b"\xa4type";
    /// Number of fields in every span map.
    pub const FIELDS: u32 = 12;
}

/// Appends a msgpack string header for `len` bytes.
#[inline]
pub fn str_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_str_len(out, u32::try_from(len).unwrap_or(u32::MAX));
}

/// Appends a map header for `len` entries.
#[inline]
pub fn map_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(out, u32::try_from(len).unwrap_or(u32::MAX));
}

/// Appends an unsigned integer in its smallest msgpack form.
#[inline]
pub fn uint(out: &mut Vec<u8>, v: u64) {
    // rmp's `write_uint`, inlined: trace-v05 writes every string as an index.
    if v < 128 {
        out.push(v as u8);
    } else if v < 256 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v < 65_536 {
        let [a, b] = (v as u16).to_be_bytes();
        out.extend_from_slice(&[0xcd, a, b]);
    } else if v < 1 << 32 {
        let [a, b, c, d] = (v as u32).to_be_bytes();
        out.extend_from_slice(&[0xce, a, b, c, d]);
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends a signed integer in its smallest msgpack form.
#[inline]
pub fn sint(out: &mut Vec<u8>, v: i64) {
    let _ = rmp::encode::write_sint(out, v);
}

/// Appends a float64.
#[inline]
pub fn float(out: &mut Vec<u8>, v: f64) {
    let _ = rmp::encode::write_f64(out, v);
}

/// The same writers for a [`crate::slack::SlackWriter`] window: each value is assembled on the
/// stack (marker and big-endian bytes) and copied as one piece.
pub mod slack {
    use crate::slack::SlackWriter;

    /// A marker followed by `N` big-endian bytes.
    #[inline(always)]
    fn marked<const N: usize>(w: &mut SlackWriter<'_>, marker: u8, be: [u8; N]) {
        w.marked(marker, be);
    }

    /// An unsigned integer in its smallest msgpack form (as `rmp::encode::write_uint`).
    #[inline(always)]
    pub fn uint(w: &mut SlackWriter<'_>, v: u64) {
        if v < 128 {
            w.byte(v as u8);
        } else if v < 256 {
            marked(w, 0xcc, [v as u8]);
        } else if v < 65_536 {
            marked(w, 0xcd, (v as u16).to_be_bytes());
        } else if v < 1 << 32 {
            marked(w, 0xce, (v as u32).to_be_bytes());
        } else {
            marked(w, 0xcf, v.to_be_bytes());
        }
    }

    /// A signed integer in its smallest msgpack form (as `rmp::encode::write_sint`: a
    /// non-negative value takes the unsigned forms).
    #[inline(always)]
    pub fn sint(w: &mut SlackWriter<'_>, v: i64) {
        if v >= 0 {
            uint(w, v as u64);
        } else if v >= -32 {
            w.byte(v as u8);
        } else if v >= -128 {
            marked(w, 0xd0, [v as u8]);
        } else if v >= -32_768 {
            marked(w, 0xd1, (v as i16).to_be_bytes());
        } else if v >= -2_147_483_648 {
            marked(w, 0xd2, (v as i32).to_be_bytes());
        } else {
            marked(w, 0xd3, v.to_be_bytes());
        }
    }

    /// A map header for `len` entries.
    #[inline(always)]
    pub fn map_len(w: &mut SlackWriter<'_>, len: usize) {
        if len < 16 {
            w.byte(0x80 | len as u8);
        } else if len < 65_536 {
            marked(w, 0xde, (len as u16).to_be_bytes());
        } else {
            marked(w, 0xdf, u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        }
    }

    /// A float64.
    #[inline(always)]
    pub fn float(w: &mut SlackWriter<'_>, v: f64) {
        marked(w, 0xcb, v.to_bits().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn slack_writers_match_rmp() {
        let ints = [0i64, 1, 31, 32, 127, 128, 255, 256, 65_535, 65_536, (1 << 32) - 1, 1 << 32, i64::MAX];
        let negs = [-1i64, -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648, -2_147_483_649, i64::MIN];
        let mut want = Vec::new();
        let mut got = Vec::new();
        crate::slack::write_member(&mut got, 0, |w| {
            for &v in ints.iter().chain(&negs) {
                super::slack::sint(w, v);
                if v >= 0 {
                    super::slack::uint(w, v as u64);
                }
                super::slack::float(w, v as f64 / 3.0);
            }
            for len in [0usize, 15, 16, 65_535, 65_536] {
                super::slack::map_len(w, len);
            }
        });
        for &v in ints.iter().chain(&negs) {
            super::sint(&mut want, v);
            if v >= 0 {
                super::uint(&mut want, v as u64);
            }
            super::float(&mut want, v as f64 / 3.0);
        }
        for len in [0usize, 15, 16, 65_535, 65_536] {
            super::map_len(&mut want, len);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn keys_are_msgpack_strings() {
        let all = [
            key::SERVICE,
            key::NAME,
            key::RESOURCE,
            key::TRACE_ID,
            key::SPAN_ID,
            key::PARENT_ID,
            key::START,
            key::DURATION,
            key::ERROR,
            key::META,
            key::METRICS,
            key::TYPE,
        ];
        assert_eq!(all.len(), key::FIELDS as usize);
        for k in all {
            let mut rd = k;
            let s: String = rmp_serde::from_slice(rd).unwrap();
            assert_eq!(rmp::decode::read_str_len(&mut rd).unwrap() as usize, s.len());
        }
    }
}
