//! The cells of the instruction-count gate, and the measured code of one cell.
//!
//! A cell is one format × compression × block size × strategy. [`plan`] lists them from a
//! [`Registry`], so a format is gated as soon as it is registered; [`run_cell`] produces a
//! cell's blocks in the process callgrind watches. Only two functions are measured:
//! [`SETUP_FUNCTION`] (building the generator) and [`BLOCKS_FUNCTION`] (the measured blocks);
//! callgrind collects inside them and nowhere else (see [`super::callgrind`]).

use std::fmt;
use std::hint::black_box;
use std::ops::Range;

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::generator::BlockSource;
use crate::registry::{FormatConfig, Registry};
use crate::rng::BlockRng;
use crate::size::{format_size, parse_size};
use crate::strategy::{Strategy, StrategyChoice};

/// Seed of every cell: block `i` comes from `BlockRng::for_block(SEED, i)`.
pub const SEED: u64 = 42;
/// Blocks produced after setup and before the measured ones, not counted: they grow the reuse
/// strategies' buffers to their steady-state size.
pub const WARM_UP_BLOCKS: u64 = 1;
/// Uncompressed block sizes every format is measured at.
pub const BLOCK_SIZES: [u64; 2] = [64 << 10, 1 << 20];
/// Compressed cells, at [`COMPRESSED_BLOCK_SIZE`].
pub const COMPRESSIONS: [Compression; 2] =
    [Compression::Gzip(Compression::GZIP_DEFAULT), Compression::Zstd(Compression::ZSTD_DEFAULT)];
/// Block size of the compressed cells.
pub const COMPRESSED_BLOCK_SIZE: u64 = 64 << 10;

/// Demangled name of the function that builds a cell's generator, for callgrind's
/// `--toggle-collect` and `--dump-after`.
pub const SETUP_FUNCTION: &str = "payforge::instructions::cell::instructions_measured_setup";
/// Demangled name of the function that produces a cell's measured blocks.
pub const BLOCKS_FUNCTION: &str = "payforge::instructions::cell::instructions_measured_blocks";

/// One measured combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The format's registered name.
    pub format: String,
    /// The compression budgets apply to.
    pub compression: Compression,
    /// Block size (the budget), in bytes.
    pub block_size: u64,
    /// The strategy.
    pub strategy: Strategy,
    /// Whether `auto` selects this strategy for this format, compression and block size.
    pub auto: bool,
}

impl Cell {
    /// The cell's name, the key of its baseline: `FORMAT[+COMPRESSION]/SIZE/STRATEGY`, e.g.
    /// `trace-v04/64KiB/reuse-encode-once` or `syslog5424+gzip:6/64KiB/reuse-encode-once`.
    pub fn name(&self) -> String {
        let compression = if self.compression.is_none() { String::new() } else { format!("+{}", self.compression) };
        format!("{}{compression}/{}/{}", self.format, format_size(self.block_size), self.strategy)
    }

    /// Parses a cell name (see [`Cell::name`]); `auto` is left false.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the cell when it has not three `/`-separated parts or one of
    /// them does not parse.
    pub fn parse(name: &str) -> Result<Self> {
        let bad = |reason: String| Error::argument("cell", name, reason);
        let mut parts = name.split('/');
        let (Some(head), Some(size), Some(strategy), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(
                "expected FORMAT[+COMPRESSION]/SIZE/STRATEGY, e.g. trace-v04/64KiB/reuse-encode-once".into()
            ));
        };
        let (format, compression) = match head.split_once('+') {
            Some((format, compression)) => (format, compression.parse().map_err(|e: Error| bad(e.to_string()))?),
            None => (head, Compression::None),
        };
        Ok(Self {
            format: format.to_owned(),
            compression,
            block_size: parse_size("cell block size", size).map_err(|e| bad(e.to_string()))?,
            strategy: strategy.parse().map_err(|e: Error| bad(e.to_string()))?,
            auto: false,
        })
    }

    /// Measured blocks: about 1 MiB of output per uncompressed cell at 64 KiB, 2 MiB at 1 MiB,
    /// and 2 blocks per compressed cell (compressed budgets run the compressor 10-25 times per
    /// block). Chosen so the whole gate runs in a few minutes on 2 cores under callgrind, which is
    /// about 50 times slower than native code.
    pub fn blocks(&self) -> u64 {
        if self.compression.is_none() && self.block_size < 1 << 20 { 16 } else { 2 }
    }

    fn budget(&self) -> Result<usize> {
        usize::try_from(self.block_size)
            .map_err(|_| Error::argument("cell block size", self.block_size.to_string(), "too large for this machine"))
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Every cell of the registered formats named in `formats` (all of them when empty), in
/// registration order: per format, at each of [`BLOCK_SIZES`], `reuse-encode-once`, the strategy
/// `auto` selects where it differs, and `fresh-reencode`; then at [`COMPRESSED_BLOCK_SIZE`] with
/// each of [`COMPRESSIONS`], `reuse-encode-once` and `auto`'s strategy where it differs.
///
/// # Errors
/// A name in `formats` that is not registered ([`Registry::get`]).
pub fn plan(registry: &Registry, formats: &[String]) -> Result<Vec<Cell>> {
    for name in formats {
        registry.get(name)?;
    }
    let mut cells = Vec::new();
    for spec in registry.specs().iter().filter(|s| formats.is_empty() || formats.iter().any(|f| f == s.name())) {
        let config = registry.default_config(spec.name())?;
        for block_size in BLOCK_SIZES {
            let fixed = [Strategy::REUSE_ENCODE_ONCE, Strategy::FRESH_REENCODE];
            push_cells(&mut cells, &config, block_size, &fixed);
        }
        for compression in COMPRESSIONS {
            let config = config.clone().with_compression(compression);
            push_cells(&mut cells, &config, COMPRESSED_BLOCK_SIZE, &[Strategy::REUSE_ENCODE_ONCE]);
        }
    }
    Ok(cells)
}

/// Adds the cells of `config` at `block_size`: the first of `fixed`, `auto`'s strategy, the rest
/// of `fixed`, each once.
fn push_cells(cells: &mut Vec<Cell>, config: &FormatConfig, block_size: u64, fixed: &[Strategy]) {
    let auto = config.resolve(StrategyChoice::Auto, block_size);
    let mut strategies: Vec<Strategy> = Vec::with_capacity(fixed.len() + 1);
    for strategy in fixed.iter().take(1).copied().chain([auto]).chain(fixed.iter().skip(1).copied()) {
        if !strategies.contains(&strategy) {
            strategies.push(strategy);
        }
    }
    for strategy in strategies {
        cells.push(Cell {
            format: config.name().to_owned(),
            compression: config.compression(),
            block_size,
            strategy,
            auto: strategy == auto,
        });
    }
}

/// What a cell's measured blocks produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellOutput {
    /// Measured blocks.
    pub blocks: u64,
    /// Bytes of those blocks (compressed bytes for a compressed cell).
    pub bytes: u64,
    /// Members in those blocks.
    pub members: u64,
}

impl CellOutput {
    /// The line the measured process prints, which [`CellOutput::parse`] reads back.
    pub fn line(&self) -> String {
        format!("blocks={} bytes={} members={}", self.blocks, self.bytes, self.members)
    }

    /// Reads the line [`CellOutput::line`] wrote.
    pub fn parse(line: &str) -> Option<Self> {
        let mut values = line.split_whitespace().map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse().ok()));
        match (values.next(), values.next(), values.next(), values.next()) {
            (Some(Some(blocks)), Some(Some(bytes)), Some(Some(members)), None) => Some(Self { blocks, bytes, members }),
            _ => None,
        }
    }
}

/// Produces the blocks of the cell called `name` with the format's default config: builds the
/// generator (in [`SETUP_FUNCTION`]), produces [`WARM_UP_BLOCKS`] blocks, then the cell's
/// measured blocks (in [`BLOCKS_FUNCTION`]). Run under callgrind by the gate; on its own it just
/// produces the blocks.
///
/// # Errors
/// A bad cell name, a format `registry` does not know, and what building or filling reports.
pub fn run_cell(registry: &Registry, name: &str) -> Result<CellOutput> {
    let cell = Cell::parse(name)?;
    let config = registry.default_config(&cell.format)?.with_compression(cell.compression);
    let budget = cell.budget()?;
    let mut source = instructions_measured_setup(&config, cell.strategy)?;
    for index in 0..WARM_UP_BLOCKS {
        source.next_block(&mut BlockRng::for_block(SEED, index), budget)?;
    }
    instructions_measured_blocks(source.as_mut(), budget, WARM_UP_BLOCKS..WARM_UP_BLOCKS + cell.blocks())
}

/// The measured setup. Never inlined, and free of closures: callgrind toggles collection on
/// entering and leaving a function of this exact name, and a nested function of the same name
/// would toggle it back.
#[inline(never)]
fn instructions_measured_setup(config: &FormatConfig, strategy: Strategy) -> Result<Box<dyn BlockSource>> {
    black_box(config.build(black_box(SEED), strategy))
}

/// The measured blocks (see [`instructions_measured_setup`]).
#[inline(never)]
fn instructions_measured_blocks(
    source: &mut dyn BlockSource,
    budget: usize,
    indices: Range<u64>,
) -> Result<CellOutput> {
    let mut output = CellOutput { blocks: 0, bytes: 0, members: 0 };
    for index in indices {
        let (block, filled) = source.next_block(&mut BlockRng::for_block(SEED, index), black_box(budget))?;
        black_box(block);
        output.blocks += 1;
        output.bytes += filled.bytes as u64;
        output.members += filled.members as u64;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for cell in plan(&Registry::builtin(), &[]).unwrap() {
            let parsed = Cell::parse(&cell.name()).unwrap();
            assert_eq!(parsed, Cell { auto: false, ..cell.clone() }, "{cell}");
        }
        assert_eq!(
            Cell::parse("trace-v04+zstd:3/64KiB/reuse-reencode").unwrap().name(),
            "trace-v04+zstd:3/64KiB/reuse-reencode"
        );
        for bad in ["trace-v04", "a/b/c/d", "x/64KiB/fast", "x+lz4/64KiB/fresh-reencode", "x/many/fresh-reencode"] {
            let err = Cell::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn every_registered_format_gets_its_cells() {
        let cells = plan(&Registry::builtin(), &[]).unwrap();
        for spec in Registry::builtin().specs() {
            let names: Vec<String> = cells.iter().filter(|c| c.format == spec.name()).map(Cell::name).collect();
            for size in ["64KiB", "1MiB"] {
                for strategy in ["reuse-encode-once", "fresh-reencode"] {
                    let name = format!("{}/{size}/{strategy}", spec.name());
                    assert!(names.contains(&name), "{name} in {names:?}");
                }
            }
            for compression in ["gzip:6", "zstd:3"] {
                let name = format!("{}+{compression}/64KiB/reuse-encode-once", spec.name());
                assert!(names.contains(&name), "{name} in {names:?}");
            }
        }
        // Each (format, compression, size) has exactly one cell `auto` selects, and no
        // strategy twice.
        let mut groups = std::collections::BTreeMap::<(String, Compression, u64), Vec<&Cell>>::new();
        for cell in &cells {
            groups.entry((cell.format.clone(), cell.compression, cell.block_size)).or_default().push(cell);
        }
        for (key, group) in groups {
            assert_eq!(group.iter().filter(|c| c.auto).count(), 1, "{key:?}");
            let mut strategies: Vec<Strategy> = group.iter().map(|c| c.strategy).collect();
            strategies.sort();
            strategies.dedup();
            assert_eq!(strategies.len(), group.len(), "{key:?}");
        }
        let only = plan(&Registry::builtin(), &["dogstatsd".to_owned()]).unwrap();
        assert!(!only.is_empty() && only.iter().all(|c| c.format == "dogstatsd"));
        assert!(plan(&Registry::builtin(), &["nope".to_owned()]).is_err());
    }

    #[test]
    fn a_cell_runs_its_blocks() {
        let output = run_cell(&Registry::builtin(), "dogstatsd/64KiB/reuse-encode-once").unwrap();
        assert_eq!(output.blocks, 16);
        assert!(output.bytes > 15 * 64 * 1024 && output.bytes <= 16 * 64 * 1024, "{output:?}");
        assert_eq!(CellOutput::parse(&output.line()), Some(output));
        assert_eq!(CellOutput::parse("blocks=1 bytes=2"), None);
        assert!(run_cell(&Registry::builtin(), "nope/64KiB/reuse-encode-once").is_err());
    }
}
