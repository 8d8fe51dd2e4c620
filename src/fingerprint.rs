//! A fingerprint of a block stream: SHA-256 of the concatenated blocks and the Shannon entropy of
//! their bytes. Printed by `--fingerprint` as `<sha256 hex> entropy=<bits per byte, 4 decimals>`
//! and compared by `payforge check`: the hash pins every byte, the entropy is a readable summary
//! of what kind of bytes they are.

use sha2::{Digest, Sha256};

/// Running fingerprint over a sequence of blocks.
#[derive(Debug, Clone)]
pub struct Fingerprinter {
    hasher: Sha256,
    counts: Box<[u64; 256]>,
    total: u64,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Self { hasher: Sha256::new(), counts: Box::new([0; 256]), total: 0 }
    }
}

/// A finished fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// Lower-case hex SHA-256 of all bytes.
    pub sha256: String,
    /// Shannon entropy in bits per byte (0..=8).
    pub entropy: f64,
    /// Bytes fingerprinted.
    pub bytes: u64,
}

impl Fingerprinter {
    /// Adds a block.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        for &b in bytes {
            if let Some(c) = self.counts.get_mut(usize::from(b)) {
                *c += 1;
            }
        }
        self.total += bytes.len() as u64;
    }

    /// The fingerprint of everything added.
    pub fn finish(self) -> Fingerprint {
        let digest = self.hasher.finalize();
        let mut sha256 = String::with_capacity(64);
        for b in digest {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            sha256.push(char::from(HEX[usize::from(b >> 4)]));
            sha256.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        let total = self.total as f64;
        let entropy = if self.total == 0 {
            0.0
        } else {
            -self.counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / total).map(|p| p * p.log2()).sum::<f64>()
        };
        Fingerprint { sha256, entropy: entropy.max(0.0), bytes: self.total }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entropy={:.4}", self.sha256, self.entropy)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = crate::Error;
    /// Parses the `--fingerprint` line back (the byte count is not part of it and reads as 0).
    fn from_str(s: &str) -> crate::Result<Self> {
        let bad = || crate::Error::argument("fingerprint", s, "expected `<64 hex digits> entropy=<number>`");
        let (hash, rest) = s.trim().split_once(' ').ok_or_else(bad)?;
        let entropy = rest.strip_prefix("entropy=").and_then(|e| e.parse::<f64>().ok()).ok_or_else(bad)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Fingerprint { sha256: hash.to_ascii_lowercase(), entropy, bytes: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let mut f = Fingerprinter::default();
        f.update(b"ab");
        f.update(b"");
        let fp = f.finish();
        assert_eq!(fp.sha256, "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
        assert!((fp.entropy - 1.0).abs() < 1e-12);
        let line = fp.to_string();
        assert_eq!(line, "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603 entropy=1.0000");
        let back: Fingerprint = line.parse().unwrap();
        assert_eq!(back.sha256, fp.sha256);
        assert!("nothex entropy=1".parse::<Fingerprint>().is_err());
        assert_eq!(Fingerprinter::default().finish().entropy, 0.0);
    }
}
