//! Golden fixtures and allocation baselines: what `payforge check` regenerates and compares.
//!
//! A fixture folder `<fixtures>/<name>/` holds the format's `config.yaml`, a `fixture.toml` and a
//! sample block. `fixture.toml` names the format, seed, block size, block count and warm-up, the
//! golden fingerprint (SHA-256 of the concatenated blocks and their Shannon entropy, as
//! `generate --fingerprint` prints it), and per strategy a [`Baseline`]: allocation counts per
//! block in the steady state, setup allocations, fill and amplification.
//!
//! [`run`] regenerates every fixture with every strategy and compares (see [`Rule`]):
//!
//! | measure | rule |
//! | --- | --- |
//! | `sha256` | exactly equal, and every strategy produces the same bytes |
//! | `entropy` | within 0.0001 |
//! | `allocations_per_block` | must not increase |
//! | `bytes_allocated_per_block` | at most +10% |
//! | `peak_live_bytes` | at most +10% |
//! | `mean_fill` | must not drop |
//! | `amplification` | at most +5% |
//!
//! `setup_allocations`, `reallocations_per_block` and `min_fill` are recorded and reported when
//! they change, but not gated.
//!
//! Allocation counts are exact and deterministic for a given program, seed and Rust toolchain:
//! the standard library's growth policy decides how often a `Vec` reallocates, so a new toolchain
//! may move them. `--bless` ([`run`] with `bless`) is the way to accept such a change, as it is
//! for any deliberate change of the payload bytes: it rewrites `fixture.toml` and the sample and
//! lists every value that changed, so the change shows in review.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::calibrate::BlockRun;
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::format::SampleRendering;
use crate::measure::CountingAlloc;
use crate::registry::{FormatConfig, FormatSpec, Registry};
use crate::rng::BlockRng;
use crate::strategy::Strategy;

/// The format's config in a fixture folder.
pub const CONFIG_FILE: &str = "config.yaml";
/// The fixture description and baselines in a fixture folder.
pub const FIXTURE_FILE: &str = "fixture.toml";
/// Budget of the sample block written next to a fixture.
pub const SAMPLE_BUDGET: usize = 4096;
/// How far the entropy may move before the fingerprint counts as changed.
pub const ENTROPY_TOLERANCE: f64 = 1e-4;

/// Seed of a fixture `--bless` creates.
pub const DEFAULT_SEED: u64 = 42;
/// Block size of a fixture `--bless` creates.
pub const DEFAULT_BLOCK_SIZE: u64 = 64 << 10;
/// Blocks of a fixture `--bless` creates: 4 warm-up blocks and 32 measured ones.
pub const DEFAULT_BLOCKS: u64 = 36;
/// Warm-up blocks of a fixture `--bless` creates.
pub const DEFAULT_WARM_UP_BLOCKS: u64 = 4;

/// Every file name a sample block may have; `--bless` removes the stale ones.
const SAMPLE_FILES: [&str; 3] = ["sample.txt", "sample.yaml", "sample.bin"];

/// The contents of `fixture.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The format's name, e.g. `trace-v04`.
    pub format: String,
    /// Seed of the run: block `i` comes from `BlockRng::for_block(seed, i)`.
    pub seed: u64,
    /// Budget of each block in bytes.
    pub block_size: u64,
    /// The compression the block size applies to (`none` when absent): a fixture of compressed
    /// blocks lives in a folder of its own, e.g. `datadog-logs-gzip/`.
    #[serde(default, skip_serializing_if = "Compression::is_none_ref")]
    pub compression: Compression,
    /// Blocks generated, warm-up included; all of them are fingerprinted.
    pub blocks: u64,
    /// Blocks generated before the steady-state allocation counts start.
    pub warm_up_blocks: u64,
    /// The golden fingerprint, `<sha256> entropy=<bits per byte>`.
    pub fingerprint: String,
    /// The Rust toolchain that blessed the baselines (`rustc --version`): exact allocation counts
    /// are compared only on the same one ([`toolchain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// Per strategy name, the recorded measures.
    pub baseline: BTreeMap<String, Baseline>,
}

/// The toolchain this program was built with, as `rustc --version` prints it (recorded by the
/// build script).
pub fn toolchain() -> &'static str {
    env!("PAYFORGE_RUSTC_VERSION")
}

impl Fixture {
    /// A new fixture with the default seed, block size and counts and nothing recorded yet.
    pub fn new(format: FormatSpec) -> Self {
        Self {
            format: format.name().to_owned(),
            compression: Compression::None,
            seed: DEFAULT_SEED,
            block_size: DEFAULT_BLOCK_SIZE,
            blocks: DEFAULT_BLOCKS,
            warm_up_blocks: DEFAULT_WARM_UP_BLOCKS,
            fingerprint: String::new(),
            toolchain: None,
            baseline: BTreeMap::new(),
        }
    }

    /// Reads and parses a `fixture.toml`.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the file cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::ConfigFile { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        toml::from_str(&text).map_err(|e| bad(e.to_string()))
    }

    /// The file text: a header comment and the TOML.
    ///
    /// # Errors
    /// Never in practice; a serialization error is reported as [`Error::Io`] on `path`.
    pub fn to_toml(&self, path: &Path) -> Result<String> {
        let body = toml::to_string(self).map_err(|e| io_error("serialise", path, std::io::Error::other(e)))?;
        Ok(format!(
            "# Golden fixture of `payforge check`, written by `payforge check --bless`.\n\
             # format, seed, block_size, blocks and warm_up_blocks are inputs: edit them, then bless.\n\
             # Everything else is measured; counts are exact for the Rust toolchain that blessed them.\n\
             # See payload-fixtures/README.md.\n\n{body}"
        ))
    }

    fn budget(&self, path: &Path) -> Result<usize> {
        let bad = |reason: &str| Error::ConfigFile { path: path.to_path_buf(), reason: reason.to_owned() };
        if self.warm_up_blocks >= self.blocks {
            return Err(bad("`blocks` must be larger than `warm_up_blocks`"));
        }
        usize::try_from(self.block_size).ok().filter(|&b| b > 0).ok_or_else(|| bad("`block_size` must be at least 1"))
    }
}

/// What one strategy measured on one fixture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Allocations made while constructing the generator (pools, contexts).
    pub setup_allocations: u64,
    /// Allocations per steady-state block (mean over the blocks after the warm-up).
    pub allocations_per_block: f64,
    /// Reallocations per steady-state block.
    pub reallocations_per_block: f64,
    /// Bytes allocated (growth by reallocation included) per steady-state block.
    pub bytes_allocated_per_block: f64,
    /// Highest live bytes while producing the steady-state blocks, above the live bytes before
    /// the generator was constructed: pools, workspace and the block buffer together.
    pub peak_live_bytes: u64,
    /// Bytes produced over the budget of all blocks.
    pub mean_fill: f64,
    /// The lowest fill of any block.
    pub min_fill: f64,
    /// Bytes encoded (probes included) over bytes produced, over all blocks.
    pub amplification: f64,
}

/// One strategy's run over a fixture.
#[derive(Debug, Clone)]
pub struct Run {
    /// The strategy.
    pub strategy: Strategy,
    /// Fingerprint of all blocks.
    pub fingerprint: Fingerprint,
    /// The measures.
    pub baseline: Baseline,
}

/// Generates the blocks of `fixture` with `strategy` through [`crate::BlockSource::next_block`] (so the
/// output buffer is handled as the strategy's buffer policy says), fingerprints them, and counts
/// allocations with `alloc`, which must be the global allocator of the process.
///
/// Setup counts cover `config.build`; the per-block counts cover the blocks after
/// `warm_up_blocks`. Nothing else may allocate on other threads meanwhile.
///
/// # Errors
/// Invalid block counts or size ([`Error::ConfigFile`] on `origin`), and what building or
/// filling reports.
pub fn measure(
    config: &FormatConfig,
    strategy: Strategy,
    fixture: &Fixture,
    origin: &Path,
    alloc: &CountingAlloc,
) -> Result<Run> {
    let budget = fixture.budget(origin)?;
    let mut fingerprinter = Fingerprinter::default();
    let mut run = BlockRun::new();

    let setup_start = alloc.begin();
    let mut source = config.build(fixture.seed, strategy)?;
    let setup = alloc.end(&setup_start);
    for index in 0..fixture.warm_up_blocks {
        fingerprinter.update(run.push(source.as_mut(), fixture.seed, index, budget)?);
    }
    let steady_start = alloc.begin();
    for index in fixture.warm_up_blocks..fixture.blocks {
        fingerprinter.update(run.push(source.as_mut(), fixture.seed, index, budget)?);
    }
    let steady = alloc.end(&steady_start);
    // The peak was reset when the steady state began; measured from before setup, it includes
    // everything the generator holds.
    let peak_live_bytes = alloc.end(&setup_start).peak_live_bytes;
    drop(source);

    let measured = (fixture.blocks - fixture.warm_up_blocks) as f64;
    let baseline = Baseline {
        setup_allocations: setup.allocations,
        allocations_per_block: steady.allocations as f64 / measured,
        reallocations_per_block: steady.reallocations as f64 / measured,
        bytes_allocated_per_block: steady.bytes_allocated as f64 / measured,
        peak_live_bytes,
        mean_fill: run.fill_mean(budget),
        min_fill: run.fill_min,
        amplification: run.amplification(),
    };
    Ok(Run { strategy, fingerprint: fingerprinter.finish(), baseline })
}

/// How a measure is judged against its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Must not move by more than this much either way.
    Within(f64),
    /// Must not increase.
    NoIncrease,
    /// Must not grow by more than this fraction (0.10 is 10%).
    MaxGrowth(f64),
    /// Must not decrease.
    NoDecrease,
    /// Recorded and reported when it changes, not gated.
    Recorded,
}

/// What a comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A gated measure got worse beyond its rule: the check fails.
    Regression,
    /// A gated measure got better: `--bless` would record it.
    Improvement,
    /// A gated measure within its rule and not better.
    Pass,
    /// A recorded, ungated measure changed.
    Changed,
    /// An exact allocation count blessed with another toolchain: reported, not compared.
    NotComparable,
}

impl Rule {
    /// Judges `current` against `baseline`.
    pub fn judge(self, baseline: f64, current: f64) -> Verdict {
        let (worse, better) = match self {
            Rule::Within(tolerance) => ((current - baseline).abs() > tolerance + 1e-12, false),
            Rule::NoIncrease => (current > baseline, current < baseline),
            Rule::MaxGrowth(fraction) => (current > baseline * (1.0 + fraction), current < baseline),
            Rule::NoDecrease => (current < baseline, current > baseline),
            Rule::Recorded => return if current == baseline { Verdict::Pass } else { Verdict::Changed },
        };
        if worse {
            Verdict::Regression
        } else if better {
            Verdict::Improvement
        } else {
            Verdict::Pass
        }
    }

    /// Whether a comparison under this rule counts as a check in the summary.
    pub fn is_gated(self) -> bool {
        self != Rule::Recorded
    }
}

/// One compared value. Displays as `fixture strategy measure baseline current change`, the
/// line `check` prints per regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The fixture folder's name.
    pub fixture: String,
    /// The strategy, or `all` for the fixture's fingerprint.
    pub strategy: String,
    /// The measure, e.g. `bytes_allocated_per_block`.
    pub measure: &'static str,
    /// The recorded value.
    pub baseline: String,
    /// The regenerated value.
    pub current: String,
    /// The change in percent (`+12.50%`), or `n/a` for a hash.
    pub change: String,
    /// What the comparison found.
    pub verdict: Verdict,
    /// Whether it counts as a check (gated measures do).
    pub gated: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.fixture, self.strategy, self.measure, self.baseline, self.current, self.change
        )
    }
}

fn change_percent(baseline: f64, current: f64) -> String {
    if baseline == 0.0 {
        return if current == 0.0 { "+0.00%".to_owned() } else { "+inf%".to_owned() };
    }
    format!("{:+.2}%", (current - baseline) / baseline * 100.0)
}

/// Collects the findings of one fixture.
struct Findings<'a> {
    fixture: &'a str,
    list: Vec<Finding>,
}

impl Findings<'_> {
    fn number(&mut self, strategy: &str, measure: &'static str, rule: Rule, baseline: f64, current: f64) {
        let verdict = rule.judge(baseline, current);
        self.number_judged(strategy, measure, rule, baseline, current, verdict);
    }

    /// A count blessed with another toolchain: listed, never gated.
    fn not_comparable(&mut self, strategy: &str, measure: &'static str, baseline: f64, current: f64) {
        let change = change_percent(baseline, current);
        self.push(
            strategy,
            measure,
            (baseline.to_string(), current.to_string(), change),
            Verdict::NotComparable,
            false,
        );
    }

    fn number_judged(
        &mut self,
        strategy: &str,
        measure: &'static str,
        rule: Rule,
        baseline: f64,
        current: f64,
        verdict: Verdict,
    ) {
        let change = change_percent(baseline, current);
        self.push(strategy, measure, (baseline.to_string(), current.to_string(), change), verdict, rule.is_gated());
    }

    fn hash(&mut self, strategy: &str, baseline: &str, current: &str) {
        let verdict = if baseline == current { Verdict::Pass } else { Verdict::Regression };
        self.push(strategy, "sha256", (baseline.to_owned(), current.to_owned(), "n/a".to_owned()), verdict, true);
    }

    /// Adds a finding; `values` are the baseline, current value and change as printed.
    fn push(
        &mut self,
        strategy: &str,
        measure: &'static str,
        values: (String, String, String),
        verdict: Verdict,
        gated: bool,
    ) {
        let (baseline, current, change) = values;
        self.list.push(Finding {
            fixture: self.fixture.to_owned(),
            strategy: strategy.to_owned(),
            measure,
            baseline,
            current,
            change,
            verdict,
            gated,
        });
    }
}

/// Compares the runs of a fixture with what it recorded. On another toolchain than the one that
/// blessed it, exact allocation counts are listed as not comparable instead, while fingerprints,
/// fill, amplification and the zero-allocation steady state are still checked.
fn compare(name: &str, fixture: &Fixture, runs: &[Run], origin: &Path) -> Result<Vec<Finding>> {
    compare_on(name, fixture, runs, origin, toolchain())
}

fn compare_on(name: &str, fixture: &Fixture, runs: &[Run], origin: &Path, current: &str) -> Result<Vec<Finding>> {
    let same_toolchain = fixture.toolchain.as_deref() == Some(current);
    let mut found = Findings { fixture: name, list: Vec::new() };
    let Some(reference) = runs.first() else { return Ok(found.list) };
    let golden: Option<Fingerprint> =
        if fixture.fingerprint.is_empty() { None } else { Some(parse_fingerprint(&fixture.fingerprint, origin)?) };
    let (golden_sha, golden_entropy) = golden.map_or(("none".to_owned(), f64::NAN), |g| (g.sha256, g.entropy));
    found.hash("all", &golden_sha, &reference.fingerprint.sha256);
    // Compare at the 4 decimals the fingerprint line records.
    let entropy = format!("{:.4}", reference.fingerprint.entropy).parse().unwrap_or(reference.fingerprint.entropy);
    found.number("all", "entropy", Rule::Within(ENTROPY_TOLERANCE), golden_entropy, entropy);
    for run in runs.iter().skip(1) {
        found.hash(run.strategy.name(), &reference.fingerprint.sha256, &run.fingerprint.sha256);
    }
    for run in runs {
        let strategy = run.strategy.name();
        let Some(base) = fixture.baseline.get(strategy) else {
            let values = ("missing".to_owned(), "measured".to_owned(), "n/a".to_owned());
            found.push(strategy, "baseline", values, Verdict::Regression, true);
            continue;
        };
        let cur = &run.baseline;
        if !same_toolchain {
            // Exact counts depend on the toolchain; a steady state that allocated nothing must
            // still allocate nothing, and fill and amplification do not depend on it at all.
            if base.allocations_per_block == 0.0 && base.reallocations_per_block == 0.0 {
                let now = cur.allocations_per_block + cur.reallocations_per_block;
                found.number(strategy, "steady_state_allocations", Rule::NoIncrease, 0.0, now);
            }
            found.number(strategy, "mean_fill", Rule::NoDecrease, base.mean_fill, cur.mean_fill);
            found.number(strategy, "amplification", Rule::MaxGrowth(0.05), base.amplification, cur.amplification);
            found.number(strategy, "min_fill", Rule::Recorded, base.min_fill, cur.min_fill);
            let counts: [(&'static str, f64, f64); 5] = [
                ("allocations_per_block", base.allocations_per_block, cur.allocations_per_block),
                ("bytes_allocated_per_block", base.bytes_allocated_per_block, cur.bytes_allocated_per_block),
                ("peak_live_bytes", base.peak_live_bytes as f64, cur.peak_live_bytes as f64),
                ("setup_allocations", base.setup_allocations as f64, cur.setup_allocations as f64),
                ("reallocations_per_block", base.reallocations_per_block, cur.reallocations_per_block),
            ];
            for (measure, baseline, current) in counts {
                found.not_comparable(strategy, measure, baseline, current);
            }
            continue;
        }
        let measures: [(&'static str, Rule, f64, f64); 8] = [
            ("allocations_per_block", Rule::NoIncrease, base.allocations_per_block, cur.allocations_per_block),
            (
                "bytes_allocated_per_block",
                Rule::MaxGrowth(0.10),
                base.bytes_allocated_per_block,
                cur.bytes_allocated_per_block,
            ),
            ("peak_live_bytes", Rule::MaxGrowth(0.10), base.peak_live_bytes as f64, cur.peak_live_bytes as f64),
            ("mean_fill", Rule::NoDecrease, base.mean_fill, cur.mean_fill),
            ("amplification", Rule::MaxGrowth(0.05), base.amplification, cur.amplification),
            ("setup_allocations", Rule::Recorded, base.setup_allocations as f64, cur.setup_allocations as f64),
            ("reallocations_per_block", Rule::Recorded, base.reallocations_per_block, cur.reallocations_per_block),
            ("min_fill", Rule::Recorded, base.min_fill, cur.min_fill),
        ];
        for (measure, rule, baseline, current) in measures {
            found.number(strategy, measure, rule, baseline, current);
        }
    }
    Ok(found.list)
}

fn parse_fingerprint(line: &str, origin: &Path) -> Result<Fingerprint> {
    line.parse()
        .map_err(|e: Error| Error::ConfigFile { path: origin.to_path_buf(), reason: format!("`fingerprint`: {e}") })
}

/// The result of checking (or blessing) one fixture.
#[derive(Debug, Clone)]
pub struct FixtureReport {
    /// The folder's name.
    pub name: String,
    /// The fixture as read (or, when blessing a new folder, as created).
    pub fixture: Fixture,
    /// Every comparison made, passes included.
    pub findings: Vec<Finding>,
    /// Whether `fixture.toml` and the sample were rewritten.
    pub blessed: bool,
    /// Time taken to regenerate it.
    pub elapsed: Duration,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct Report {
    /// Whether this was a `--bless` run.
    pub bless: bool,
    /// One entry per fixture folder, by name.
    pub fixtures: Vec<FixtureReport>,
}

impl Report {
    fn all(&self) -> impl Iterator<Item = &Finding> {
        self.fixtures.iter().flat_map(|f| &f.findings)
    }

    /// Gated comparisons that passed or improved.
    pub fn passed(&self) -> usize {
        self.all().filter(|f| f.gated && f.verdict != Verdict::Regression).count()
    }

    /// Comparisons that failed. After a bless only strategy disagreements (which bless refuses
    /// to record) count.
    pub fn failed(&self) -> usize {
        self.regressions().count()
    }

    /// The failed comparisons.
    pub fn regressions(&self) -> impl Iterator<Item = &Finding> {
        let bless = self.bless;
        self.all().filter(move |f| f.verdict == Verdict::Regression && (!bless || is_disagreement(f)))
    }
}

/// A strategy whose bytes differ from the first strategy's: a bug, never a baseline to record.
fn is_disagreement(f: &Finding) -> bool {
    f.measure == "sha256" && f.strategy != "all"
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for fx in &self.fixtures {
            let checks = fx.findings.iter().filter(|x| x.gated).count();
            let action = if fx.blessed { "blessed" } else { "checked" };
            writeln!(
                f,
                "{action} {}: {} blocks of {} bytes, seed {}, {checks} checks, {:.2} s",
                fx.name,
                fx.fixture.blocks,
                fx.fixture.block_size,
                fx.fixture.seed,
                fx.elapsed.as_secs_f64()
            )?;
        }
        if self.bless {
            let unchanged = |x: &Finding| x.verdict == Verdict::NotComparable && x.baseline == x.current;
            let changed: Vec<_> =
                self.all().filter(|x| x.verdict != Verdict::Pass && !is_disagreement(x) && !unchanged(x)).collect();
            for x in &changed {
                writeln!(
                    f,
                    "changed: {} {} {}: {} -> {} ({})",
                    x.fixture, x.strategy, x.measure, x.baseline, x.current, x.change
                )?;
            }
            if changed.is_empty() {
                writeln!(f, "bless: nothing changed")?;
            } else {
                writeln!(f, "bless: {} values changed; review and commit the fixture files", changed.len())?;
            }
        } else {
            let improvements: Vec<_> = self.all().filter(|x| x.verdict == Verdict::Improvement).collect();
            for x in &improvements {
                writeln!(f, "improved: {x}")?;
            }
            for x in self.all().filter(|x| x.verdict == Verdict::Changed) {
                writeln!(f, "changed (not gated): {x}")?;
            }
            for fx in self.fixtures.iter().filter(|fx| fx.fixture.toolchain.as_deref() != Some(toolchain())) {
                writeln!(
                    f,
                    "note: {} was blessed with {}; this is {}: exact allocation counts are not comparable \
                     (fingerprints, fill, amplification and the zero-allocation steady state are still checked); \
                     `payforge check --bless` with this toolchain records them",
                    fx.name,
                    fx.fixture.toolchain.as_deref().unwrap_or("an unrecorded toolchain"),
                    toolchain()
                )?;
            }
            for x in self.all().filter(|x| x.verdict == Verdict::NotComparable) {
                writeln!(f, "not comparable: {x}")?;
            }
            if !improvements.is_empty() {
                writeln!(f, "hint: run `payforge check --bless` to record the improvements as the new baseline")?;
            }
        }
        for x in self.regressions() {
            writeln!(f, "{x}")?;
        }
        writeln!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Regenerates every fixture folder under `dir` (each subfolder holding a `config.yaml`) with
/// every strategy and compares the results with its `fixture.toml`. With `bless`, rewrites each
/// `fixture.toml` (created with the defaults when missing) and sample with the current results
/// instead of failing, unless the strategies disagree on the bytes.
///
/// `alloc` must be the process's global allocator; run nothing else meanwhile.
///
/// # Errors
/// A missing or unreadable folder, config or (without `bless`) `fixture.toml`, an unknown
/// format, a generation error, or a failed write.
pub fn run(registry: &Registry, dir: &Path, bless: bool, alloc: &CountingAlloc) -> Result<Report> {
    let folders = fixture_folders(dir)?;
    if folders.is_empty() {
        return Err(Error::argument(
            "fixtures",
            dir.display().to_string(),
            format!("no fixture folders (subfolders holding {CONFIG_FILE})"),
        ));
    }
    let mut fixtures = Vec::with_capacity(folders.len());
    for folder in folders {
        fixtures.push(check_folder(registry, &folder, bless, alloc)?);
    }
    Ok(Report { bless, fixtures })
}

fn fixture_folders(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error("read", dir, e))?;
    let mut folders = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error("read", dir, e))?.path();
        if path.join(CONFIG_FILE).is_file() {
            folders.push(path);
        }
    }
    folders.sort();
    Ok(folders)
}

fn check_folder(registry: &Registry, folder: &Path, bless: bool, alloc: &CountingAlloc) -> Result<FixtureReport> {
    let started = Instant::now();
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fixture_path = folder.join(FIXTURE_FILE);
    let fixture = if bless && !fixture_path.exists() {
        Fixture::new(registry.get(&name)?)
    } else if fixture_path.exists() {
        Fixture::load(&fixture_path)?
    } else {
        return Err(Error::ConfigFile {
            path: fixture_path,
            reason: "missing: run `payforge check --bless` to create it".to_owned(),
        });
    };
    let spec = registry.get(&fixture.format)?;
    let config = registry.bind(spec.load_config(&folder.join(CONFIG_FILE))?).with_compression(fixture.compression);
    let mut runs = Vec::with_capacity(Strategy::ALL.len());
    for strategy in Strategy::ALL {
        runs.push(measure(&config, strategy, &fixture, &fixture_path, alloc)?);
    }
    let findings = compare(&name, &fixture, &runs, &fixture_path)?;
    let blessed = bless && !findings.iter().any(|f| is_disagreement(f) && f.verdict == Verdict::Regression);
    if blessed {
        write_fixture(folder, spec, &config, &fixture, &runs)?;
    }
    Ok(FixtureReport { name, fixture, findings, blessed, elapsed: started.elapsed() })
}

fn write_fixture(folder: &Path, spec: FormatSpec, config: &FormatConfig, old: &Fixture, runs: &[Run]) -> Result<()> {
    let mut fixture = old.clone();
    fixture.fingerprint = runs.first().map(|r| r.fingerprint.to_string()).unwrap_or_default();
    fixture.toolchain = Some(toolchain().to_owned());
    fixture.baseline = runs.iter().map(|r| (r.strategy.name().to_owned(), r.baseline)).collect();
    let path = folder.join(FIXTURE_FILE);
    write_atomic(&path, fixture.to_toml(&path)?.as_bytes())?;

    let strategy = runs.first().map_or(Strategy::REUSE_ENCODE_ONCE, |r| r.strategy);
    let mut source = config.build(fixture.seed, strategy)?;
    let budget = SAMPLE_BUDGET.max(source.min_block_len());
    let (block, _) = source.next_block(&mut BlockRng::for_block(fixture.seed, 0), budget)?;
    let (file, text) = if fixture.compression.is_none() {
        render_sample(spec.sample(), block, fixture.seed, budget)
    } else {
        // People read the decompressed block; the header says what it was.
        let plain = fixture.compression.decompress(block)?;
        let (file, mut text) = render_sample(spec.sample(), &plain, fixture.seed, budget);
        let note = format!(
            "# {} bytes of {} at a {budget}-byte budget, decompressed to {} bytes:\n",
            block.len(),
            fixture.compression,
            plain.len()
        );
        if file == "sample.yaml" {
            text.splice(0..0, note.into_bytes());
        }
        (file, text)
    };
    for stale in SAMPLE_FILES.iter().filter(|&&f| f != file) {
        let path = folder.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| io_error("remove", &path, e))?;
        }
    }
    write_atomic(&folder.join(file), &text)
}

/// The sample block as a person can read it: text formats as they are, msgpack decoded to YAML
/// where the format asks for it, anything else raw.
fn render_sample(rendering: SampleRendering, block: &[u8], seed: u64, budget: usize) -> (&'static str, Vec<u8>) {
    if rendering == SampleRendering::MsgpackAsYaml {
        let value = rmp_serde::from_slice::<serde_norway::Value>(block).ok();
        // A v0.5 body is `[dictionary, traces]`: two arrays, the first of strings.
        let dictionary = value.as_ref().and_then(|v| v.as_sequence()).is_some_and(|top| {
            top.len() == 2 && top.first().and_then(|d| d.as_sequence()).is_some_and(|d| d.iter().all(|s| s.is_string()))
        });
        let shape = if dictionary {
            "[dictionary, traces]: the block's distinct strings, then a list of traces, each a list of\n\
             # spans (12-element arrays) whose strings are indices into the dictionary."
        } else {
            "a list of traces, each a list of spans."
        };
        let yaml = value.and_then(|v| serde_norway::to_string(&v).ok());
        if let Some(yaml) = yaml {
            let header = format!(
                "# Block 0 of seed {seed} at a {budget}-byte budget ({} bytes of msgpack), decoded to YAML:\n\
                 # {shape}\n",
                block.len()
            );
            return ("sample.yaml", (header + &yaml).into_bytes());
        }
    }
    if std::str::from_utf8(block).is_ok() { ("sample.txt", block.to_vec()) } else { ("sample.bin", block.to_vec()) }
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file}.tmp"));
    std::fs::write(&tmp, contents).map_err(|e| io_error("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("write", path, e))
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::io(action, path.display(), source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_toolchain_still_checks_fingerprints_and_the_zero_allocation_steady_state() {
        let base = Baseline {
            setup_allocations: 10,
            allocations_per_block: 0.0,
            reallocations_per_block: 0.0,
            bytes_allocated_per_block: 0.0,
            peak_live_bytes: 1000,
            mean_fill: 0.99,
            min_fill: 0.98,
            amplification: 1.0,
        };
        let mut fixture = Fixture::new(FormatSpec::of::<crate::formats::Syslog5424>());
        let (ab, cd) = ("ab".repeat(32), "cd".repeat(32));
        fixture.fingerprint = format!("{ab} entropy=5.0000");
        fixture.toolchain = Some("rustc 1.0.0 (blessed)".into());
        fixture.baseline.insert("reuse-encode-once".into(), base);
        let run = |allocations: f64, peak: u64, sha: &str| Run {
            strategy: Strategy::REUSE_ENCODE_ONCE,
            fingerprint: Fingerprint { sha256: sha.into(), entropy: 5.0, bytes: 0 },
            baseline: Baseline {
                allocations_per_block: allocations,
                peak_live_bytes: peak,
                setup_allocations: 99,
                ..base
            },
        };
        let origin = Path::new("fixture.toml");
        let verdicts = |runs: &[Run], on: &str| -> Vec<(&'static str, Verdict)> {
            compare_on("f", &fixture, runs, origin, on).unwrap().into_iter().map(|f| (f.measure, f.verdict)).collect()
        };
        // The same toolchain: the grown peak and setup count are judged.
        let same = verdicts(&[run(0.0, 2000, &ab)], "rustc 1.0.0 (blessed)");
        assert!(same.contains(&("peak_live_bytes", Verdict::Regression)), "{same:?}");
        // Another one: exact counts are not comparable, the steady state and the bytes are.
        let other = verdicts(&[run(0.0, 2000, &ab)], "rustc 9.9.9 (other)");
        assert!(other.contains(&("peak_live_bytes", Verdict::NotComparable)), "{other:?}");
        assert!(other.contains(&("setup_allocations", Verdict::NotComparable)), "{other:?}");
        assert!(other.contains(&("steady_state_allocations", Verdict::Pass)), "{other:?}");
        assert!(!other.iter().any(|(_, v)| *v == Verdict::Regression), "{other:?}");
        let allocating = verdicts(&[run(0.5, 1000, &ab)], "rustc 9.9.9 (other)");
        assert!(allocating.contains(&("steady_state_allocations", Verdict::Regression)), "{allocating:?}");
        let changed = verdicts(&[run(0.0, 1000, &cd)], "rustc 9.9.9 (other)");
        assert!(changed.contains(&("sha256", Verdict::Regression)), "{changed:?}");
    }

    #[test]
    fn rules() {
        assert_eq!(Rule::NoIncrease.judge(2.0, 2.5), Verdict::Regression);
        assert_eq!(Rule::NoIncrease.judge(2.0, 1.5), Verdict::Improvement);
        assert_eq!(Rule::MaxGrowth(0.10).judge(100.0, 110.0), Verdict::Pass);
        assert_eq!(Rule::MaxGrowth(0.10).judge(100.0, 110.5), Verdict::Regression);
        assert_eq!(Rule::MaxGrowth(0.10).judge(0.0, 1.0), Verdict::Regression);
        assert_eq!(Rule::NoDecrease.judge(0.99, 0.98), Verdict::Regression);
        assert_eq!(Rule::Within(1e-4).judge(7.1234, 7.1235), Verdict::Pass);
        assert_eq!(Rule::Within(1e-4).judge(7.1234, 7.1236), Verdict::Regression);
        assert_eq!(Rule::Recorded.judge(1.0, 2.0), Verdict::Changed);
        assert_eq!(change_percent(200.0, 250.0), "+25.00%");
        assert_eq!(change_percent(0.0, 1.0), "+inf%");
    }
}
