//! The strategy selection that `--strategy auto` resolves through.
//!
//! `payload-fixtures/strategies.toml` is written by `payforge calibrate --write` from measurements
//! and embedded here at compile time, so a binary always carries the selection it was built with.
//! For a block size between measured classes the nearest class in log scale wins; a format
//! without entries uses the file's `default`. A malformed file is caught by this module's tests
//! (and by [`Selection::parse`] at calibrate time), never in the middle of a run.

mod file;

use serde::{Deserialize, Serialize};

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::strategy::Strategy;

/// The embedded selection file.
pub const EMBEDDED: &str = include_str!("../../payload-fixtures/strategies.toml");

/// The strategy used when the selection has nothing for a format.
pub const FALLBACK: Strategy = Strategy::REUSE_ENCODE_ONCE;

/// One decision: a format at a block-size class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Format name.
    pub format: String,
    /// The compression budgets apply to (`none` when absent).
    #[serde(default, skip_serializing_if = "Compression::is_none_ref")]
    pub compression: Compression,
    /// Block size of the class, in bytes.
    pub block_size: u64,
    /// The chosen strategy's name.
    pub strategy: String,
    /// Which rule of the decision picked it (e.g. `fastest`, `tie→fewer-allocs`).
    #[serde(default)]
    pub rule: String,
    /// Median throughput of the chosen strategy, MiB/s.
    #[serde(default)]
    pub mib_per_s: f64,
    /// Its allocations per MiB emitted.
    #[serde(default)]
    pub allocs_per_mib: f64,
    /// Its bytes allocated per byte emitted.
    #[serde(default)]
    pub alloc_bytes_per_byte: f64,
    /// Its peak live bytes.
    #[serde(default)]
    pub peak_live_bytes: u64,
    /// Its amplification (bytes encoded per byte emitted).
    #[serde(default)]
    pub amplification: f64,
}

/// A parsed selection file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// File format version (1).
    pub version: u32,
    /// Strategy for formats without entries.
    pub default: String,
    /// Where the figures came from (machine, date, volume), free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub measured_on: String,
    /// The decisions.
    #[serde(default, rename = "selection")]
    pub entries: Vec<Entry>,
}

impl Selection {
    /// Parses and checks a selection file: every strategy name must be a concrete strategy.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad entry.
    pub fn parse(text: &str) -> Result<Self> {
        let sel = file::parse(text)?;
        sel.default
            .parse::<Strategy>()
            .map_err(|_| Error::config("strategies.toml.default", &sel.default, "not a strategy"))?;
        for (i, e) in sel.entries.iter().enumerate() {
            e.strategy.parse::<Strategy>().map_err(|_| {
                Error::config(format!("strategies.toml.selection[{i}].strategy"), &e.strategy, "not a strategy")
            })?;
            if e.block_size == 0 {
                return Err(Error::config(format!("strategies.toml.selection[{i}].block_size"), 0, "must be positive"));
            }
        }
        Ok(sel)
    }

    /// The selection compiled into this binary (falls back to an empty one if it were malformed,
    /// which the crate's tests rule out).
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED).unwrap_or_else(|_| Selection {
            version: 1,
            default: FALLBACK.name().to_string(),
            measured_on: String::new(),
            entries: Vec::new(),
        })
    }

    /// The entry nearest to `block_size` in log scale for `format` with `compression`, if any.
    /// A compression without entries of its own uses the entries of the same codec at its
    /// nearest level, if any.
    pub fn entry(&self, format: &str, compression: Compression, block_size: u64) -> Option<&Entry> {
        let exact = |e: &&Entry| e.format == format && e.compression == compression;
        if self.entries.iter().any(|e| exact(&e)) {
            return self.nearest(block_size, exact);
        }
        let level = |c: Compression| match c {
            Compression::None => 0,
            Compression::Gzip(l) | Compression::Zstd(l) => i32::from(l),
        };
        let same_codec = |e: &&Entry| {
            e.format == format && std::mem::discriminant(&e.compression) == std::mem::discriminant(&compression)
        };
        let nearest_level = self
            .entries
            .iter()
            .filter(same_codec)
            .min_by_key(|e| ((level(e.compression) - level(compression)).abs(), level(e.compression)))?
            .compression;
        self.nearest(block_size, |e| e.format == format && e.compression == nearest_level)
    }

    fn nearest(&self, block_size: u64, keep: impl Fn(&&Entry) -> bool) -> Option<&Entry> {
        let target = (block_size.max(1) as f64).ln();
        self.entries.iter().filter(keep).min_by(|a, b| {
            let da = ((a.block_size as f64).ln() - target).abs();
            let db = ((b.block_size as f64).ln() - target).abs();
            da.total_cmp(&db).then(a.block_size.cmp(&b.block_size))
        })
    }

    /// The strategy `auto` means for `format` with `compression` at `block_size`.
    pub fn resolve(&self, format: &str, compression: Compression, block_size: u64) -> Strategy {
        self.entry(format, compression, block_size)
            .and_then(|e| e.strategy.parse().ok())
            .or_else(|| self.default.parse().ok())
            .unwrap_or(FALLBACK)
    }

    /// Overlays `other`: every (format, compression) `other` has entries for takes exactly
    /// `other`'s entries; the others keep theirs. The `default` stays this selection's.
    pub fn overlay(&mut self, other: &Selection) {
        self.entries.retain(|e| !other.entries.iter().any(|o| o.format == e.format && o.compression == e.compression));
        self.entries.extend(other.entries.iter().cloned());
    }

    /// The file as TOML text, with a header comment.
    ///
    /// # Errors
    /// Never in practice; kept fallible so the file's writer may change.
    pub fn to_toml(&self, header: &str) -> Result<String> {
        let mut body = String::new();
        file::write(self, &mut body);
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&body);
        Ok(out)
    }
}

/// Resolves `auto` through the embedded selection (parsed once per process).
pub fn resolve_auto(format: &str, compression: Compression, block_size: u64) -> Strategy {
    static EMBEDDED_SELECTION: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();
    EMBEDDED_SELECTION.get_or_init(Selection::embedded).resolve(format, compression, block_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn embedded_file_parses_and_covers_every_format() {
        let sel = Selection::parse(EMBEDDED).unwrap();
        // The committed selection comes from a calibrate run over every format at the default
        // block-size classes; a format the binary knows but the selection lacks would silently
        // fall back to the default.
        let registry = Registry::builtin();
        for kind in registry.specs() {
            for class in [4096u64, 65_536, 1 << 20] {
                let entry = sel
                    .entry(kind.name(), Compression::None, class)
                    .unwrap_or_else(|| panic!("no selection for {kind}"));
                assert_eq!(entry.block_size, class, "{kind}: class {class} not measured");
                assert!(entry.mib_per_s > 0.0 && !entry.rule.is_empty(), "{kind} {class}: no figures");
            }
        }
        assert!(sel.entries.iter().all(|e| registry.get(&e.format).is_ok()));
    }

    #[test]
    fn nearest_class_in_log_scale() {
        let entry = |bs: u64, s: &str| Entry {
            format: "f".into(),
            compression: Compression::None,
            block_size: bs,
            strategy: s.into(),
            rule: String::new(),
            mib_per_s: 0.0,
            allocs_per_mib: 0.0,
            alloc_bytes_per_byte: 0.0,
            peak_live_bytes: 0,
            amplification: 0.0,
        };
        let sel = Selection {
            version: 1,
            default: "fresh-reencode".into(),
            measured_on: String::new(),
            entries: vec![entry(4096, "reuse-reencode"), entry(1 << 20, "fresh-encode-once")],
        };
        assert_eq!(sel.resolve("f", Compression::None, 1000), Strategy::REUSE_REENCODE);
        assert_eq!(sel.resolve("f", Compression::None, 60_000), Strategy::REUSE_REENCODE); // log-midpoint is 64 KiB
        assert_eq!(sel.resolve("f", Compression::None, 70_000), Strategy::FRESH_ENCODE_ONCE);
        assert_eq!(sel.resolve("f", Compression::None, 1 << 30), Strategy::FRESH_ENCODE_ONCE);
        assert_eq!(sel.resolve("other", Compression::None, 4096), Strategy::FRESH_REENCODE);
        let text = sel.to_toml("hello").unwrap();
        assert!(text.starts_with("# hello\n"));
        assert_eq!(Selection::parse(&text).unwrap(), sel);
        assert!(Selection::parse("version = 1\ndefault = \"fast\"").is_err());
        // A compression without entries of its own takes its codec's nearest level, and a codec
        // without entries the default.
        let mut zstd = sel.clone();
        zstd.entries = vec![Entry { compression: Compression::Zstd(3), ..entry(4096, "reuse-reencode") }];
        assert_eq!(zstd.resolve("f", Compression::Zstd(9), 4096), Strategy::REUSE_REENCODE);
        assert_eq!(zstd.resolve("f", Compression::Gzip(6), 4096), Strategy::FRESH_REENCODE);
        assert_eq!(zstd.resolve("f", Compression::None, 4096), Strategy::FRESH_REENCODE);
        let text = zstd.to_toml("z").unwrap();
        assert!(text.contains("compression = \"zstd:3\""), "{text}");
        assert_eq!(Selection::parse(&text).unwrap(), zstd);
    }

    /// The file's own reader agrees with a full TOML parser on the committed file, and what it
    /// writes is TOML that parses back to the same selection.
    #[test]
    fn reader_and_writer_agree_with_a_toml_parser() {
        let ours = Selection::parse(EMBEDDED).unwrap();
        let theirs: Selection = toml::from_str(EMBEDDED).unwrap();
        assert_eq!(ours, theirs);
        assert!(!ours.entries.is_empty());
        let text = ours.to_toml("header").unwrap();
        let again: Selection = toml::from_str(&text).unwrap();
        assert_eq!(again, ours);
        assert_eq!(Selection::parse(&text).unwrap(), ours);
        let odd = Selection { measured_on: "a \"quoted\" \\ path\twith\u{1}".into(), ..ours };
        let text = odd.to_toml("x").unwrap();
        assert_eq!(toml::from_str::<Selection>(&text).unwrap(), odd);
        assert_eq!(Selection::parse(&text).unwrap(), odd);
    }

    #[test]
    fn reader_names_the_line_it_refuses() {
        for (text, needle) in [
            ("version = 1\ndefault = \"reuse-reencode\"\n[table]\n", "line 3"),
            ("version = 1\ndefault = \"reuse-reencode\"\ncolour = 2\n", "unknown key"),
            ("version = 1\ndefault = \"reuse-reencode\"\n[[selection]]\nformat = 1\n", "format must be a string"),
            ("version = 1\ndefault = \"reuse-reencode\"\n[[selection]]\nformat = \"x\"\n", "block_size"),
            ("version = 1\ndefault = \"open\n", "unterminated"),
            ("default = \"reuse-reencode\"\n", "version"),
            ("version = 1\ndefault = \"reuse-reencode\"\n[[selection]]\ncompression = \"lz4\"\n", "line 4"),
        ] {
            let err = Selection::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
