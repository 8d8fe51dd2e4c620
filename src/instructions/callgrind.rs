//! Running one cell under valgrind's callgrind and reading what it counted.
//!
//! The measured process is this program again, asked to run one cell ([`super::run_cell`]).
//! Callgrind starts with collection off (`--collect-atstart=no`) and toggles it on entering and
//! off on leaving the two measured functions (`--toggle-collect` with a pattern matching
//! [`super::cell::SETUP_FUNCTION`] and [`super::cell::BLOCKS_FUNCTION`] only). Leaving the setup
//! function dumps its counts to `OUT.1` and resets them (`--dump-after`), so the final dump
//! `OUT` holds the measured blocks alone: start-up, argument parsing, the warm-up block and
//! exit are never counted.
//!
//! Instruction counts (`Ir`) do not depend on timing, other processes or the cache simulation;
//! the optional cache simulation (`--cache-sim=yes`, about twice as slow) adds first-level and
//! last-level miss counts, which model a generic cache and are reported, never gated.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cell::{BLOCKS_FUNCTION, CellOutput, SETUP_FUNCTION};
use crate::error::{Error, Result};

/// How to start valgrind and the measured program.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The valgrind executable.
    pub valgrind: PathBuf,
    /// The program that runs one cell when given `cell_args` and the cell's name.
    pub program: PathBuf,
    /// Arguments before the cell name (for the payforge command line: `instructions --cell`).
    pub cell_args: Vec<OsString>,
    /// Whether to simulate the caches (miss counts; about twice as slow).
    pub cache_sim: bool,
}

/// Counts of one callgrind dump, by event name (`Ir`, and with the cache simulation `D1mr`,
/// `DLmr`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events(pub BTreeMap<String, u64>);

impl Events {
    /// Instructions executed.
    pub fn instructions(&self) -> u64 {
        self.get("Ir")
    }

    /// First-level cache misses (instruction reads, data reads and writes), when simulated.
    pub fn l1_misses(&self) -> Option<u64> {
        self.sum(&["I1mr", "D1mr", "D1mw"])
    }

    /// Last-level cache misses (instruction reads, data reads and writes), when simulated.
    pub fn ll_misses(&self) -> Option<u64> {
        self.sum(&["ILmr", "DLmr", "DLmw"])
    }

    fn get(&self, event: &str) -> u64 {
        self.0.get(event).copied().unwrap_or(0)
    }

    fn sum(&self, events: &[&str]) -> Option<u64> {
        events.iter().all(|e| self.0.contains_key(*e)).then(|| events.iter().map(|e| self.get(e)).sum())
    }

    /// Reads the `events:` line and the `totals:` (or `summary:`) line of a callgrind output
    /// file's text.
    ///
    /// # Errors
    /// [`Error::Argument`] naming `origin` when either line is missing or malformed.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::argument("callgrind output", origin.display().to_string(), reason.to_owned());
        let mut names: Option<Vec<&str>> = None;
        let mut totals: Option<Vec<u64>> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("events:") {
                names = Some(rest.split_whitespace().collect());
            } else if let Some(rest) = line.strip_prefix("totals:").or_else(|| line.strip_prefix("summary:")) {
                let values: std::result::Result<Vec<u64>, _> = rest.split_whitespace().map(str::parse).collect();
                totals = Some(values.map_err(|_| bad("a totals line that is not numbers"))?);
            }
        }
        let (Some(names), Some(totals)) = (names, totals) else { return Err(bad("no events: or totals: line")) };
        // Callgrind leaves out trailing zero counts.
        let mut events = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            events.insert((*name).to_owned(), totals.get(i).copied().unwrap_or(0));
        }
        Ok(Self(events))
    }
}

/// What one cell's run counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Building the generator.
    pub setup: Events,
    /// The measured blocks.
    pub blocks: Events,
    /// What those blocks were.
    pub output: CellOutput,
}

/// The valgrind version, as `valgrind --version` prints it (`valgrind-3.19.0`).
///
/// # Errors
/// [`Error::Argument`] saying how to install valgrind when it cannot be run.
pub fn valgrind_version(valgrind: &Path) -> Result<String> {
    let output = Command::new(valgrind).arg("--version").output().map_err(|e| {
        Error::argument(
            "valgrind",
            valgrind.display().to_string(),
            format!("cannot run it ({e}); install valgrind (e.g. `apt-get install valgrind`) or give --valgrind PATH"),
        )
    })?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || version.is_empty() {
        return Err(Error::argument("valgrind", valgrind.display().to_string(), "`--version` failed"));
    }
    Ok(version)
}

/// The `--toggle-collect` pattern: both measured functions and nothing else (they share the
/// prefix, and callgrind's `*` is the only wildcard that works for two functions at once).
fn toggle_pattern() -> String {
    let common = SETUP_FUNCTION.chars().zip(BLOCKS_FUNCTION.chars()).take_while(|(a, b)| a == b).count();
    format!("{}*", &SETUP_FUNCTION[..common])
}

impl Runner {
    /// Runs cell `name` under callgrind, its output files in `dir` (named after `index`), and
    /// reads the counts; removes the files.
    ///
    /// # Errors
    /// [`Error::Io`] when valgrind cannot be started or the files cannot be read;
    /// [`Error::Argument`] naming the cell when the measured process fails (its stderr's last
    /// lines are in the message) or prints no output line.
    pub fn count(&self, name: &str, dir: &Path, index: usize) -> Result<Counted> {
        let out = dir.join(format!("cell-{index}.callgrind"));
        let mut command = Command::new(&self.valgrind);
        command
            .arg("--tool=callgrind")
            .arg("--collect-atstart=no")
            .arg(format!("--toggle-collect={}", toggle_pattern()))
            .arg(format!("--dump-after={SETUP_FUNCTION}"))
            .arg(format!("--cache-sim={}", if self.cache_sim { "yes" } else { "no" }))
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&self.program)
            .args(&self.cell_args)
            .arg(name);
        let result = command.output().map_err(|e| Error::io("run", self.valgrind.display(), e))?;
        let setup_file = dir.join(format!("cell-{index}.callgrind.1"));
        let read = |path: &Path| -> Result<Events> {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path.display(), e))?;
            let events = Events::parse(&text, path);
            // The file is of no use once read; a leftover is harmless.
            let _ = std::fs::remove_file(path);
            events
        };
        let stdout = String::from_utf8_lossy(&result.stdout);
        let output = stdout.lines().find_map(CellOutput::parse);
        let (true, Some(output)) = (result.status.success(), output) else {
            let _ = std::fs::remove_file(&out);
            let _ = std::fs::remove_file(&setup_file);
            let stderr = String::from_utf8_lossy(&result.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(Error::argument(
                "cell",
                name,
                format!("the measured run failed ({}): {}", result.status, tail.join(" | ")),
            ));
        };
        Ok(Counted { setup: read(&setup_file)?, blocks: read(&out)?, output })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_totals_by_event_name() {
        let text = "version: 1\nevents: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\nfn=(1) x\n1 2 3\n\
                    summary: 100 40 30 1 2 3 4 5\ntotals: 100 40 30 1 2 3 4 5\n";
        let events = Events::parse(text, Path::new("f")).unwrap();
        assert_eq!(events.instructions(), 100);
        assert_eq!(events.l1_misses(), Some(6));
        assert_eq!(events.ll_misses(), Some(9), "a trailing zero left out counts as 0");
        let plain = Events::parse("events: Ir\nsummary: 7\n", Path::new("f")).unwrap();
        assert_eq!((plain.instructions(), plain.ll_misses()), (7, None));
        let err = Events::parse("events: Ir\n", Path::new("some/file")).unwrap_err().to_string();
        assert!(err.contains("some/file"), "{err}");
        assert!(Events::parse("events: Ir\ntotals: x\n", Path::new("f")).is_err());
    }

    #[test]
    fn the_pattern_matches_both_functions_and_only_them() {
        let pattern = toggle_pattern();
        let prefix = pattern.trim_end_matches('*');
        assert!(SETUP_FUNCTION.starts_with(prefix) && BLOCKS_FUNCTION.starts_with(prefix));
        assert!(prefix.ends_with("::instructions_measured_"), "{pattern}");
    }
}
