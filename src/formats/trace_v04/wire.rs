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
    let _ = rmp::encode::write_uint(out, v);
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

#[cfg(test)]
mod tests {
    use super::key;

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
