//! The committed instruction baselines (`payload-fixtures/instructions.toml`): per cell what
//! callgrind counted, and what the counts were measured with.
//!
//! Counts are exact for one program: another compiler, another valgrind (whose instruction
//! decoding and the CPU it presents to the program decide, among others, which `memcpy` glibc
//! picks) or another build (another cargo profile: unoptimised, or split into several codegen
//! units) moves them. So the file records all three, and the gate compares
//! only when they match ([`Baselines::comparable_with`]); otherwise it reports "not comparable"
//! and passes, as `payforge check` does for allocation counts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::callgrind::Counted;
use crate::error::{Error, Result};

/// The contents of the baselines file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baselines {
    /// The Rust toolchain of the program that was measured (`rustc --version`).
    pub toolchain: String,
    /// `valgrind --version` of the measuring valgrind.
    pub valgrind: String,
    /// The cargo profile of the measured build (`instructions` for the committed baselines).
    pub build: String,
    /// Per cell name (see [`super::Cell::name`]), its counts.
    #[serde(default)]
    pub cell: BTreeMap<String, CellBaseline>,
}

/// One cell's counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellBaseline {
    /// Measured blocks.
    pub blocks: u64,
    /// Bytes of those blocks.
    pub bytes: u64,
    /// Instructions building the generator.
    pub setup_instructions: u64,
    /// Instructions producing the measured blocks.
    pub instructions: u64,
    /// `instructions / blocks`.
    pub instructions_per_block: u64,
    /// `instructions` per KiB of the blocks: the gated figure.
    pub instructions_per_kib: f64,
    /// Last-level cache misses per KiB, when the cache was simulated (reported, not gated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ll_misses_per_kib: Option<f64>,
    /// First-level cache misses per KiB, when the cache was simulated (reported, not gated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_misses_per_kib: Option<f64>,
}

/// The build this program is: the cargo profile it was built with (`instructions` for the gate's
/// one-codegen-unit build, `release`, `debug`, ...).
pub fn build_kind() -> &'static str {
    env!("PAYFORGE_PROFILE")
}

/// The profile the committed baselines are counted with.
pub const GATE_PROFILE: &str = "instructions";

/// Rounds to 3 decimals, so the file holds no float noise.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl CellBaseline {
    /// The figures of one counted run.
    pub fn from_counted(counted: &Counted) -> Self {
        let kib = counted.output.bytes as f64 / 1024.0;
        let per_kib = |n: u64| if kib > 0.0 { round3(n as f64 / kib) } else { 0.0 };
        let instructions = counted.blocks.instructions();
        Self {
            blocks: counted.output.blocks,
            bytes: counted.output.bytes,
            setup_instructions: counted.setup.instructions(),
            instructions,
            instructions_per_block: instructions / counted.output.blocks.max(1),
            instructions_per_kib: per_kib(instructions),
            ll_misses_per_kib: counted.blocks.ll_misses().map(per_kib),
            l1_misses_per_kib: counted.blocks.l1_misses().map(per_kib),
        }
    }
}

impl Baselines {
    /// An empty file for this program and `valgrind`.
    pub fn new(valgrind: &str) -> Self {
        Self {
            toolchain: crate::check::toolchain().to_owned(),
            valgrind: valgrind.to_owned(),
            build: build_kind().to_owned(),
            cell: BTreeMap::new(),
        }
    }

    /// Reads and parses a baselines file.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when it cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::ConfigFile { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        toml::from_str(&text).map_err(|e| bad(e.to_string()))
    }

    /// Why counts measured by this program with `valgrind` cannot be compared with these, or
    /// `None` when they can.
    pub fn comparable_with(&self, valgrind: &str) -> Option<String> {
        let mut reasons = Vec::new();
        let toolchain = crate::check::toolchain();
        for (what, recorded, now) in [
            ("toolchain", &self.toolchain[..], toolchain),
            ("valgrind", &self.valgrind, valgrind),
            ("build", &self.build, build_kind()),
        ] {
            if recorded != now {
                let hint = if what == "build" && recorded == GATE_PROFILE {
                    format!(" (build it with `cargo run --profile {GATE_PROFILE} -- instructions`)")
                } else {
                    String::new()
                };
                reasons.push(format!("{what} {recorded:?}, this is {now:?}{hint}"));
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Writes the file (a header comment and the TOML) through a temporary file beside it.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let body =
            toml::to_string(self).map_err(|e| Error::io("serialise", path.display(), std::io::Error::other(e)))?;
        let text = format!(
            "# Instruction baselines of `payforge instructions`, written by `payforge instructions --bless`.\n\
             # Counted by valgrind's callgrind with fixed seeds and block counts; exact for the toolchain,\n\
             # valgrind and build recorded here, and compared only with those. See README.md.\n\n{body}"
        );
        crate::check::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instructions::callgrind::Events;
    use crate::instructions::cell::CellOutput;

    #[test]
    fn figures_and_file_round_trip() {
        let events = |pairs: &[(&str, u64)]| Events(pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect());
        let counted = Counted {
            setup: events(&[("Ir", 500)]),
            blocks: events(&[
                ("Ir", 3000),
                ("I1mr", 1),
                ("D1mr", 2),
                ("D1mw", 3),
                ("ILmr", 0),
                ("DLmr", 1),
                ("DLmw", 2),
            ]),
            output: CellOutput { blocks: 3, bytes: 2048, members: 9 },
        };
        let cell = CellBaseline::from_counted(&counted);
        assert_eq!((cell.instructions_per_block, cell.instructions_per_kib), (1000, 1500.0));
        assert_eq!((cell.l1_misses_per_kib, cell.ll_misses_per_kib), (Some(3.0), Some(1.5)));
        let mut file = Baselines::new("valgrind-3.19.0");
        file.cell.insert("syslog5424+gzip:6/64KiB/reuse-encode-once".into(), cell);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instructions.toml");
        file.save(&path).unwrap();
        assert_eq!(Baselines::load(&path).unwrap(), file);
        assert_eq!(file.comparable_with("valgrind-3.19.0"), None);
        let other = file.comparable_with("valgrind-3.22.0").unwrap();
        assert!(other.contains("valgrind-3.22.0"), "{other}");
        file.toolchain = "rustc 1.0.0".into();
        let other = file.comparable_with("valgrind-3.19.0").unwrap();
        assert!(other.contains("rustc 1.0.0"), "{other}");
        // A build of another profile than the gate's is told how to build the gate's.
        file.build = GATE_PROFILE.into();
        let other = file.comparable_with("valgrind-3.19.0").unwrap();
        assert!(other.contains("cargo run --profile instructions -- instructions"), "{other}");
    }
}
