//! The calibration table (plain text for the terminal, Markdown for `--report`), the machine
//! description and number formatting shared with the chart.

use std::fmt::Write as _;

use super::{Calibration, Group, Measurement};
use crate::size::format_size;

/// The machine a calibration ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// CPU model (`model name` of `/proc/cpuinfo`, or `unknown CPU`).
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
}

impl Machine {
    /// Reads the CPU model and the available parallelism.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(key, _)| key.trim() == "model name")
                    .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .filter(|model| !model.is_empty())
            .unwrap_or_else(|| "unknown CPU".to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Machine { cpu, cores }
    }
}

/// The commit of the source tree calibrate runs in, as `git` sees the working directory: the
/// abbreviated hash, `+ uncommitted changes` when tracked files differ from it, or `unknown`
/// outside a git checkout (or without `git`). A report names what it measured with this.
///
/// The reports, charts and selection file at the top of `payload-fixtures/` are outputs, never
/// inputs, so their changes do not count: calibrating several groups one after another names
/// one commit.
pub fn source_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => match git(&[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude,glob)payload-fixtures/*.md",
            ":(exclude,glob)payload-fixtures/*.svg",
            ":(exclude)payload-fixtures/strategies.toml",
        ]) {
            Some(changes) if changes.is_empty() => hash,
            _ => format!("{hash} + uncommitted changes"),
        },
        _ => "unknown (not a git checkout)".to_owned(),
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::text::civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// A figure with about three significant digits: `0`, `0.042`, `3.14`, `27.5`, `1234`.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".to_string()
    } else if !x.is_finite() {
        "–".to_string()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else if a >= 0.001 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    }
}

/// A byte count in binary units: `512 B`, `12.5 KiB`, `3.02 MiB`.
pub fn bytes(b: u64) -> String {
    let x = b as f64;
    if b < 1024 {
        format!("{b} B")
    } else if x < (1u64 << 20) as f64 {
        format!("{} KiB", num(x / 1024.0))
    } else if x < (1u64 << 30) as f64 {
        format!("{} MiB", num(x / (1u64 << 20) as f64))
    } else {
        format!("{} GiB", num(x / (1u64 << 30) as f64))
    }
}

/// Column titles of the table.
pub const HEADERS: [&str; 11] = [
    "format",
    "block",
    "strategy",
    "MiB/s median [min–max]",
    "time ×fastest",
    "allocs/MiB",
    "MiB alloc/MiB",
    "peak live",
    "amplification",
    "fill mean/min",
    "verdict",
];

/// The row of one measurement.
fn row(group: &Group, index: usize, m: &Measurement) -> [String; 11] {
    let (median, lo, hi) = m.mib_per_s();
    let fastest = group.fastest().map_or(f64::NAN, Measurement::median_s);
    let verdict = group.decision.verdicts.get(index).map_or("", |v| v.label());
    let mark = if index == group.decision.chosen { " ✔" } else { "" };
    [
        group.label(),
        format_size(group.block_size as u64),
        m.strategy.name().to_string(),
        format!("{} [{}–{}]", num(median), num(lo), num(hi)),
        format!("{:.2}", m.median_s() / fastest),
        num(m.profile.allocs_per_mib()),
        num(m.profile.alloc_bytes_per_byte()),
        bytes(m.profile.steady.peak_live_bytes),
        num(m.profile.amplification()),
        format!("{:.3}/{:.3}", m.profile.fill_mean, m.profile.fill_min),
        format!("{verdict}{mark}"),
    ]
}

fn rows(cal: &Calibration) -> Vec<[String; 11]> {
    cal.groups.iter().flat_map(|g| g.measurements.iter().enumerate().map(move |(i, m)| row(g, i, m))).collect()
}

/// The table as aligned plain text, one row per (format, block size, strategy), with a blank
/// line between groups.
pub fn text_table(cal: &Calibration) -> String {
    let rows = rows(cal);
    let width =
        |c: usize| rows.iter().map(|r| r[c].chars().count()).chain([HEADERS[c].chars().count()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..HEADERS.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            // Text columns left-aligned, figures right-aligned.
            if matches!(c, 0..=2 | 10) {
                let _ = write!(s, "{cell}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(s, "{}{cell}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADERS.map(String::from));
    let per_group = cal.groups.first().map_or(1, |g| g.measurements.len().max(1));
    for (i, r) in rows.iter().enumerate() {
        if i > 0 && i % per_group == 0 {
            out.push('\n');
        }
        out.push_str(&line(r));
    }
    out
}

/// The table in Markdown.
pub fn markdown_table(cal: &Calibration) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    let align: Vec<&str> = (0..HEADERS.len()).map(|c| if matches!(c, 0..=2 | 10) { ":--" } else { "--:" }).collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for r in rows(cal) {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// One line per (format, block size): the chosen strategy and why.
pub fn summary(cal: &Calibration) -> String {
    let mut out = String::new();
    for g in &cal.groups {
        if let Some(m) = g.chosen() {
            let verdict = g.decision.verdicts.get(g.decision.chosen).map_or("", |v| v.label());
            let _ =
                writeln!(out, "{} {}: {} ({verdict})", g.label(), format_size(g.block_size as u64), m.strategy.name());
        }
    }
    out
}

/// The `--report` document: machine, date, settings, the rule, the table and the choices.
pub fn markdown_report(cal: &Calibration, plot: Option<&str>) -> String {
    let mut out = String::from("# payforge calibration\n\n");
    let _ = writeln!(out, "- Machine: {}, {} cores", cal.machine.cpu, cal.machine.cores);
    let _ = writeln!(out, "- Date: {}", cal.date);
    let _ = writeln!(out, "- Commit: {}", cal.commit);
    let _ = writeln!(
        out,
        "- Volume: {} emitted per timed repetition and per counting pass; {} repetitions, interleaved \
         across strategies; seed {}",
        format_size(cal.volume),
        cal.repetitions,
        cal.seed
    );
    let mut origins: Vec<(&str, &str)> = cal.groups.iter().map(|g| (g.format.name(), g.origin.as_str())).collect();
    origins.sort_unstable();
    origins.dedup();
    for (format, origin) in origins {
        let _ = writeln!(out, "- Config of `{format}`: {origin}");
    }
    out.push_str(
        "\n## Decision rule\n\n\
         A strategy is *slower* when its median time is more than 5% above the fastest median **and** its \
         [min, max] range does not overlap the fastest's. Among the others, fewer allocations per MiB win \
         (within 20% of the fewest, plus 1/MiB, counts as a tie), then fewer bytes allocated per MiB \
         (10% + 1 KiB), then lower peak live bytes (10% + 4 KiB), then the faster median. The verdict \
         names the step that decided each row; ✔ marks the chosen strategy.\n\n\
         Allocation figures come from a separate, untimed pass under the counting allocator: steady state \
         after 4 warm-up blocks; peak live includes the buffers a `reuse` generator keeps. Amplification is \
         bytes encoded per byte emitted; fill is emitted bytes per block budget.\n\n## Results\n\n",
    );
    out.push_str(&markdown_table(cal));
    out.push_str("\n## Chosen\n\n");
    for line in summary(cal).lines() {
        let _ = writeln!(out, "- {line}");
    }
    if let Some(svg) = plot {
        let _ = write!(out, "\n![MiB/s and allocations per MiB by strategy]({svg})\n");
    }
    out
}
