//! Comparing counted cells with their baselines, and the table the gate prints.

use std::fmt;
use std::time::Duration;

use super::baseline::CellBaseline;

/// What the comparison of one cell found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the tolerance either way.
    Pass,
    /// More instructions per KiB than the baseline allows: the gate fails.
    Regression,
    /// Fewer instructions per KiB than the tolerance: `--bless` would record it.
    Improvement,
    /// A cell without a baseline (a newly registered format, a new `auto` choice): reported,
    /// does not fail.
    New,
    /// Baselines of another toolchain, valgrind or build: reported, not compared.
    NotComparable,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "ok",
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improved",
            Verdict::New => "new, no baseline",
            Verdict::NotComparable => "not comparable",
        }
    }
}

/// One cell's line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The cell's name.
    pub cell: String,
    /// Whether `auto` selects the cell's strategy.
    pub auto: bool,
    /// The recorded figures, when there are any.
    pub baseline: Option<CellBaseline>,
    /// The figures now.
    pub now: CellBaseline,
    /// The change of instructions per KiB, in percent, when there is a baseline.
    pub change_percent: Option<f64>,
    /// What the comparison found.
    pub verdict: Verdict,
}

/// Judges `now` against `baseline` with a tolerance in percent; `comparable` false when the
/// baselines were measured with another toolchain, valgrind or build.
pub fn judge(baseline: Option<&CellBaseline>, now: &CellBaseline, tolerance_percent: f64, comparable: bool) -> Row {
    let change = baseline.map(|b| {
        if b.instructions_per_kib == 0.0 {
            if now.instructions_per_kib == 0.0 { 0.0 } else { f64::INFINITY }
        } else {
            (now.instructions_per_kib - b.instructions_per_kib) / b.instructions_per_kib * 100.0
        }
    });
    let verdict = match change {
        None => Verdict::New,
        Some(_) if !comparable => Verdict::NotComparable,
        Some(c) if c > tolerance_percent => Verdict::Regression,
        Some(c) if c < -tolerance_percent => Verdict::Improvement,
        Some(_) => Verdict::Pass,
    };
    Row { cell: String::new(), auto: false, baseline: baseline.copied(), now: *now, change_percent: change, verdict }
}

/// The result of a gate run (or a bless).
#[derive(Debug, Clone)]
pub struct Report {
    /// One row per measured cell, in plan order.
    pub rows: Vec<Row>,
    /// Cells with a baseline that were not measured although their format was (a strategy
    /// `auto` no longer selects, a removed format).
    pub gone: Vec<String>,
    /// Why the baselines are not comparable, when they are not.
    pub not_comparable: Option<String>,
    /// Whether this run rewrote the baselines.
    pub blessed: bool,
    /// The tolerance, in percent of instructions per KiB.
    pub tolerance_percent: f64,
    /// The baselines file.
    pub path: String,
    /// Time the whole run took.
    pub elapsed: Duration,
}

impl Report {
    /// Cells that rose beyond the tolerance (none after a bless).
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| !self.blessed && r.verdict == Verdict::Regression)
    }

    /// How many cells fail the gate.
    pub fn failed(&self) -> usize {
        self.regressions().count()
    }

    fn with(&self, verdict: Verdict) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.verdict == verdict)
    }
}

fn one_decimal(n: f64) -> String {
    if !n.is_finite() {
        return "-".to_owned();
    }
    format!("{n:.1}")
}

fn change_text(change: Option<f64>) -> String {
    change.map_or_else(|| "-".to_owned(), |c| format!("{c:+.2}%"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.rows.iter().map(|r| r.cell.len() + if r.auto { 7 } else { 0 }).max().unwrap_or(4).max(4);
        let cache = self.rows.iter().any(|r| r.now.ll_misses_per_kib.is_some());
        write!(
            f,
            "{:<width$}  {:>12}  {:>12}  {:>8}  {:>12}  {:>11}",
            "cell", "base Ir/KiB", "now Ir/KiB", "change", "Ir/block", "setup Ir"
        )?;
        if cache {
            write!(f, "  {:>10}  {:>10}", "L1miss/KiB", "LLmiss/KiB")?;
        }
        writeln!(f, "  verdict")?;
        for row in &self.rows {
            let name = if row.auto { format!("{} (auto)", row.cell) } else { row.cell.clone() };
            write!(
                f,
                "{name:<width$}  {:>12}  {:>12}  {:>8}  {:>12}  {:>11}",
                row.baseline.map_or_else(|| "-".to_owned(), |b| one_decimal(b.instructions_per_kib)),
                one_decimal(row.now.instructions_per_kib),
                change_text(row.change_percent),
                row.now.instructions_per_block,
                row.now.setup_instructions,
            )?;
            if cache {
                let miss = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.2}"));
                write!(f, "  {:>10}  {:>10}", miss(row.now.l1_misses_per_kib), miss(row.now.ll_misses_per_kib))?;
            }
            writeln!(f, "  {}", row.verdict.label())?;
        }
        for gone in &self.gone {
            writeln!(f, "gone: {gone} has a baseline but is no longer measured")?;
        }
        if let Some(reason) = &self.not_comparable {
            writeln!(
                f,
                "not comparable: {} was measured with other tools ({reason}); counts are exact only for those",
                self.path
            )?;
        }
        if self.blessed {
            for row in self.with(Verdict::New) {
                writeln!(f, "new: {} {} Ir/KiB", row.cell, one_decimal(row.now.instructions_per_kib))?;
            }
            let changed: Vec<&Row> =
                self.rows.iter().filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Improvement)).collect();
            for row in &changed {
                writeln!(
                    f,
                    "changed: {} Ir/KiB {} -> {} ({})",
                    row.cell,
                    row.baseline.map_or_else(|| "-".to_owned(), |b| one_decimal(b.instructions_per_kib)),
                    one_decimal(row.now.instructions_per_kib),
                    change_text(row.change_percent)
                )?;
            }
            writeln!(
                f,
                "blessed {}: {} cells, {} new, {} changed beyond {}%, {} removed; review and commit it ({:.0} s)",
                self.path,
                self.rows.len(),
                self.with(Verdict::New).count(),
                changed.len(),
                self.tolerance_percent,
                self.gone.len(),
                self.elapsed.as_secs_f64()
            )
        } else {
            for row in self.with(Verdict::Improvement) {
                writeln!(f, "improved: {} {}", row.cell, change_text(row.change_percent))?;
            }
            for row in self.regressions() {
                writeln!(
                    f,
                    "regression: {} {} (tolerance {}%)",
                    row.cell,
                    change_text(row.change_percent),
                    self.tolerance_percent
                )?;
            }
            if self.with(Verdict::Improvement).next().is_some() {
                writeln!(f, "hint: `payforge instructions --bless` records the improvements as the new baselines")?;
            }
            let new = self.with(Verdict::New).count();
            writeln!(
                f,
                "{} cells: {} failed, {} improved, {new} new, {} not comparable; tolerance {}% of Ir/KiB ({:.0} s)",
                self.rows.len(),
                self.failed(),
                self.with(Verdict::Improvement).count(),
                self.with(Verdict::NotComparable).count(),
                self.tolerance_percent,
                self.elapsed.as_secs_f64()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(per_kib: f64) -> CellBaseline {
        CellBaseline {
            blocks: 2,
            bytes: 2048,
            setup_instructions: 10,
            instructions: (per_kib * 2.0) as u64,
            instructions_per_block: per_kib as u64,
            instructions_per_kib: per_kib,
            ll_misses_per_kib: None,
            l1_misses_per_kib: None,
        }
    }

    #[test]
    fn verdicts() {
        let base = figures(1000.0);
        let v = |now: f64, comparable: bool| judge(Some(&base), &figures(now), 1.0, comparable).verdict;
        assert_eq!(v(1010.0, true), Verdict::Pass);
        assert_eq!(v(1010.5, true), Verdict::Regression);
        assert_eq!(v(989.0, true), Verdict::Improvement);
        assert_eq!(v(1030.0, false), Verdict::NotComparable);
        assert_eq!(judge(None, &base, 1.0, true).verdict, Verdict::New);
        let row = judge(Some(&base), &figures(1030.0), 1.0, true);
        assert!((row.change_percent.unwrap() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_table_names_regressions_and_improvements_and_counts_only_regressions_as_failures() {
        let base = figures(1000.0);
        let row = |cell: &str, now: f64, baseline: Option<&CellBaseline>| Row {
            cell: cell.to_owned(),
            ..judge(baseline, &figures(now), 1.0, true)
        };
        let mut report = Report {
            rows: vec![
                row("a/64KiB/reuse-encode-once", 1030.0, Some(&base)),
                row("b/64KiB/reuse-encode-once", 900.0, Some(&base)),
                row("c/64KiB/reuse-encode-once", 900.0, None),
            ],
            gone: vec!["d/64KiB/fresh-reencode".into()],
            not_comparable: None,
            blessed: false,
            tolerance_percent: 1.0,
            path: "instructions.toml".into(),
            elapsed: Duration::from_secs(1),
        };
        let text = report.to_string();
        assert_eq!(report.failed(), 1);
        assert!(text.contains("regression: a/64KiB/reuse-encode-once +3.00%"), "{text}");
        assert!(text.contains("improved: b/64KiB/reuse-encode-once -10.00%"), "{text}");
        assert!(text.contains("new, no baseline"), "{text}");
        assert!(text.contains("gone: d/64KiB/fresh-reencode"), "{text}");
        report.blessed = true;
        let text = report.to_string();
        assert_eq!(report.failed(), 0);
        assert!(text.contains("changed: a/64KiB/reuse-encode-once Ir/KiB 1000.0 -> 1030.0 (+3.00%)"), "{text}");
    }
}
