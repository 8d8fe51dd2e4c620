//! Byte sizes as people write them: `65536`, `64KiB`, `1MiB`, `2GiB` (also `KB`/`MB`/`GB` as
//! decimal units, and `k`/`m`/`g` as binary shorthands).

use crate::error::{Error, Result};

/// Parses a size. Accepts a plain byte count or a number followed by a unit.
///
/// # Errors
/// [`Error::Argument`] naming `what` and the text when it is not a size or overflows.
pub fn parse_size(what: &'static str, text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = |reason: &str| Error::argument(what, text, reason);
    if digits.is_empty() {
        return Err(bad("expected a byte count such as 65536, 64KiB or 1MiB"));
    }
    let n: u64 = digits.parse().map_err(|_| bad("number too large"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "KiB" | "k" | "K" | "Ki" => 1 << 10,
        "MiB" | "m" | "M" | "Mi" => 1 << 20,
        "GiB" | "g" | "G" | "Gi" => 1 << 30,
        "TiB" | "Ti" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(bad("unknown unit; use B, KiB, MiB, GiB, TiB (or KB, MB, GB)")),
    };
    n.checked_mul(mult).ok_or_else(|| bad("size too large"))
}

/// Formats a byte count the way [`parse_size`] reads it, choosing the largest exact binary unit.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes != 0 && bytes % (1u64 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_spellings() {
        assert_eq!(parse_size("size", "65536").ok(), Some(65_536));
        assert_eq!(parse_size("size", "64KiB").ok(), Some(65_536));
        assert_eq!(parse_size("size", "1MiB").ok(), Some(1 << 20));
        assert_eq!(parse_size("size", "10GiB").ok(), Some(10 << 30));
        assert_eq!(parse_size("size", "5MB").ok(), Some(5_000_000));
        for bad in ["", "MiB", "12XB", "-1", "99999999999999999999", "18446744073709551615GiB"] {
            let err = parse_size("block size", bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("block size"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for n in [1u64, 1000, 4096, 65_536, 1 << 20, 3 << 30] {
            assert_eq!(parse_size("s", &format_size(n)).ok(), Some(n));
        }
    }
}
