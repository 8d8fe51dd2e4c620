//! The answer of an OTLP/HTTP receiver: `Export*ServiceResponse { partial_success }`, read by
//! hand (no protobuf library at run time) so `send` can count the records a 2xx rejected.
//!
//! All three responses have the same shape: field 1, `partial_success`, a message whose field 1
//! is the count of rejected records (`rejected_log_records`, `rejected_data_points`,
//! `rejected_spans`, an `int64`) and field 2 an error message. Anything malformed counts as 0.

/// One field of a message: its number, and its varint value or its bytes.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The next field of `buf` from `at`, or `None` at the end or on malformed input.
fn field<'a>(buf: &'a [u8], at: &mut usize) -> Option<(u64, Value<'a>)> {
    let key = varint(buf, at)?;
    let value = match key & 7 {
        0 => Value::Varint(varint(buf, at)?),
        1 => {
            *at = at.checked_add(8).filter(|&e| e <= buf.len())?;
            Value::Other
        }
        2 => {
            let len = usize::try_from(varint(buf, at)?).ok()?;
            let end = at.checked_add(len).filter(|&e| e <= buf.len())?;
            let bytes = buf.get(*at..end)?;
            *at = end;
            Value::Bytes(bytes)
        }
        5 => {
            *at = at.checked_add(4).filter(|&e| e <= buf.len())?;
            Value::Other
        }
        _ => return None,
    };
    Some((key >> 3, value))
}

/// Records an `Export*ServiceResponse` body says were rejected (0 when it says none, or is not
/// one). A negative count, which no receiver should send, counts as 0.
pub fn rejected(body: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut at = 0;
    while let Some((number, value)) = field(body, &mut at) {
        if let (1, Value::Bytes(partial)) = (number, value) {
            let mut inner = 0;
            while let Some((n, v)) = field(partial, &mut inner) {
                if let (1, Value::Varint(count)) = (n, v) {
                    total = total.saturating_add(if (count as i64) < 0 { 0 } else { count });
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_is_read() {
        // partial_success { rejected: 300, error_message: "bad" }
        let body = [0x0a, 0x08, 0x08, 0xac, 0x02, 0x12, 0x03, b'b', b'a', b'd'];
        assert_eq!(rejected(&body), 300);
        assert_eq!(rejected(&[]), 0);
        assert_eq!(rejected(&[0x0a, 0x00]), 0);
        assert_eq!(rejected(b"{\"partialSuccess\":{}}"), 0);
        assert_eq!(rejected(&[0x0a, 0x7f, 0x08]), 0);
    }
}
