//! The `--plot` chart: hand-written SVG, readable without the table.
//!
//! One row per format, two panels per row: throughput (MiB/s median, whiskers from the slowest to
//! the fastest repetition, linear axis) and steady-state allocations per MiB emitted (log axis).
//! Each panel groups four bars (one colour per strategy) per block size; the chosen strategy's
//! bars are outlined and starred, and every bar carries its value.

use std::fmt::Write as _;

use super::Calibration;
use super::report::num;
use crate::size::format_size;
use crate::strategy::Strategy;

const WIDTH: f64 = 1200.0;
const ROW_HEIGHT: f64 = 300.0;
const TOP: f64 = 110.0;
const PANEL_WIDTH: f64 = 500.0;
const PLOT_HEIGHT: f64 = 190.0;
const COLORS: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];

/// One bar: its value, an optional whisker range, and whether it is the chosen strategy.
struct Bar {
    value: f64,
    range: Option<(f64, f64)>,
    chosen: bool,
}

#[derive(Clone, Copy)]
enum Scale {
    Linear { max: f64 },
    Log { lo_exp: i32, hi_exp: i32 },
}

impl Scale {
    /// Fraction of the plot height for `v` (0 at the axis, 1 at the top).
    fn frac(self, v: f64) -> f64 {
        match self {
            Scale::Linear { max } => (v / max).clamp(0.0, 1.0),
            Scale::Log { lo_exp, hi_exp } if v > 0.0 => {
                ((v.log10() - f64::from(lo_exp)) / f64::from(hi_exp - lo_exp)).clamp(0.0, 1.0)
            }
            Scale::Log { .. } => 0.0,
        }
    }

    /// Tick values and their labels.
    fn ticks(self) -> Vec<(f64, String)> {
        match self {
            Scale::Linear { max } => {
                let step = nice_step(max / 5.0);
                (0..).map(|i| f64::from(i) * step).take_while(|&v| v <= max * 1.0001).map(|v| (v, num(v))).collect()
            }
            Scale::Log { lo_exp, hi_exp } => (lo_exp..=hi_exp)
                .map(|e| {
                    let v = 10f64.powi(e);
                    (v, if e >= 0 { format!("{v:.0}") } else { num(v) })
                })
                .collect(),
        }
    }

    fn for_values(log: bool, values: impl Iterator<Item = f64> + Clone) -> Self {
        if log {
            let positive = values.filter(|v| *v > 0.0 && v.is_finite());
            let lo = positive.clone().fold(f64::INFINITY, f64::min);
            let hi = positive.fold(0.0, f64::max);
            if hi <= 0.0 {
                return Scale::Log { lo_exp: 0, hi_exp: 1 };
            }
            let lo_exp = lo.log10().floor() as i32;
            let hi_exp = (hi.log10().ceil() as i32).max(lo_exp + 1);
            Scale::Log { lo_exp, hi_exp }
        } else {
            let max = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
            let step = nice_step((max * 1.1).max(1e-9) / 5.0);
            Scale::Linear { max: ((max * 1.1) / step).ceil() * step }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag)
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One panel at (x, y): title, axes, ticks, grouped bars.
fn panel(svg: &mut String, x: f64, y: f64, title: &str, y_label: &str, groups: &[(String, Vec<Bar>)], log: bool) {
    let values = groups.iter().flat_map(|(_, bars)| bars.iter().map(|b| b.range.map_or(b.value, |r| r.1)));
    let scale = Scale::for_values(log, values);
    let (left, bottom) = (x + 60.0, y + 30.0 + PLOT_HEIGHT);
    let plot_width = PANEL_WIDTH - 70.0;
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" class="panel">{}</text>"##,
        left + plot_width / 2.0,
        y + 14.0,
        esc(title)
    );
    let _ = writeln!(
        svg,
        r##"<text transform="translate({},{}) rotate(-90)" class="axis-label">{}</text>"##,
        x + 12.0,
        bottom - PLOT_HEIGHT / 2.0,
        esc(y_label)
    );
    for (v, label) in scale.ticks() {
        let ty = bottom - scale.frac(v) * PLOT_HEIGHT;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" class="grid"/><text x="{}" y="{:.1}" class="tick">{label}</text>"##,
            left + plot_width,
            left - 4.0,
            ty + 3.5
        );
    }
    let _ =
        writeln!(svg, r##"<line x1="{left}" y1="{bottom}" x2="{}" y2="{bottom}" class="axis"/>"##, left + plot_width);
    let _ =
        writeln!(svg, r##"<line x1="{left}" y1="{}" x2="{left}" y2="{bottom}" class="axis"/>"##, bottom - PLOT_HEIGHT);
    let group_width = plot_width / groups.len().max(1) as f64;
    for (gi, (label, bars)) in groups.iter().enumerate() {
        let gx = left + gi as f64 * group_width;
        let bar_width = (group_width * 0.8) / bars.len().max(1) as f64;
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" class="group">{}</text>"##,
            gx + group_width / 2.0,
            bottom + 16.0,
            esc(label)
        );
        for (bi, bar) in bars.iter().enumerate() {
            let bx = gx + group_width * 0.1 + bi as f64 * bar_width;
            let h = scale.frac(bar.value) * PLOT_HEIGHT;
            let color = COLORS[bi % COLORS.len()];
            let stroke = if bar.chosen { r##" stroke="#000" stroke-width="2""## } else { "" };
            let _ = writeln!(
                svg,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"{stroke}><title>{}</title></rect>"##,
                bx + 1.0,
                bottom - h,
                bar_width - 2.0,
                num(bar.value)
            );
            let mut top = bottom - h;
            if let Some((lo, hi)) = bar.range {
                let (y_lo, y_hi) = (bottom - scale.frac(lo) * PLOT_HEIGHT, bottom - scale.frac(hi) * PLOT_HEIGHT);
                let cx = bx + bar_width / 2.0;
                let _ = writeln!(
                    svg,
                    r##"<path d="M{cx:.1} {y_lo:.1}V{y_hi:.1}M{:.1} {y_hi:.1}h6M{:.1} {y_lo:.1}h6" class="whisker"/>"##,
                    cx - 3.0,
                    cx - 3.0
                );
                top = top.min(y_hi);
            }
            let star = if bar.chosen { "★ " } else { "" };
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" class="value">{star}{}</text>"##,
                bx + bar_width / 2.0,
                top - 4.0,
                num(bar.value)
            );
        }
    }
}

/// The whole chart.
pub fn svg(cal: &Calibration) -> String {
    let mut formats: Vec<String> = Vec::new();
    for g in &cal.groups {
        if !formats.contains(&g.label()) {
            formats.push(g.label());
        }
    }
    let height = TOP + formats.len() as f64 * ROW_HEIGHT + 10.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">
<style>
text {{ fill: #222; }}
.title {{ font-size: 18px; font-weight: bold; }}
.subtitle {{ font-size: 12px; fill: #555; }}
.format {{ font-size: 15px; font-weight: bold; }}
.panel {{ font-size: 13px; text-anchor: middle; }}
.axis-label {{ font-size: 11px; text-anchor: middle; }}
.tick {{ font-size: 10px; text-anchor: end; fill: #555; }}
.group {{ font-size: 11px; text-anchor: middle; }}
.value {{ font-size: 9px; text-anchor: middle; }}
.legend {{ font-size: 12px; }}
.grid {{ stroke: #e4e4e4; }}
.axis {{ stroke: #333; }}
.whisker {{ stroke: #222; fill: none; }}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="28" class="title">payforge calibrate: throughput and allocations per strategy, by format and block size</text>
<text x="20" y="48" class="subtitle">{} · {} cores · {} · {} per repetition, {} repetitions (whiskers: slowest–fastest) · allocations: steady state, untimed counting pass</text>
"##,
        esc(&cal.machine.cpu),
        cal.machine.cores,
        esc(&cal.date),
        format_size(cal.volume),
        cal.repetitions
    );
    let mut lx = 20.0;
    for (i, s) in Strategy::ALL.iter().enumerate() {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx}" y="64" width="14" height="14" fill="{}"/><text x="{}" y="76" class="legend">{}</text>"##,
            COLORS[i % COLORS.len()],
            lx + 19.0,
            s.name()
        );
        lx += 160.0;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{lx}" y="64" width="14" height="14" fill="#fff" stroke="#000" stroke-width="2"/><text x="{}" y="76" class="legend">★ chosen by the decision rule (what --strategy auto uses)</text>"##,
        lx + 19.0
    );
    for (row, format) in formats.iter().enumerate() {
        let y = TOP + row as f64 * ROW_HEIGHT;
        let _ = writeln!(svg, r##"<text x="20" y="{}" class="format">{}</text>"##, y + 4.0, format);
        let groups: Vec<_> = cal.groups.iter().filter(|g| g.label() == *format).collect();
        let label = |g: &&super::Group| format!("{} blocks", format_size(g.block_size as u64));
        let speed: Vec<(String, Vec<Bar>)> = groups
            .iter()
            .map(|g| {
                let bars = g.measurements.iter().enumerate().map(|(i, m)| {
                    let (median, lo, hi) = m.mib_per_s();
                    Bar { value: median, range: Some((lo, hi)), chosen: i == g.decision.chosen }
                });
                (label(g), bars.collect())
            })
            .collect();
        let allocs: Vec<(String, Vec<Bar>)> = groups
            .iter()
            .map(|g| {
                let bars = g.measurements.iter().enumerate().map(|(i, m)| Bar {
                    value: m.profile.allocs_per_mib(),
                    range: None,
                    chosen: i == g.decision.chosen,
                });
                (label(g), bars.collect())
            })
            .collect();
        panel(&mut svg, 20.0, y + 14.0, "Throughput (higher is better)", "MiB/s emitted, median", &speed, false);
        panel(
            &mut svg,
            20.0 + PANEL_WIDTH + 80.0,
            y + 14.0,
            "Allocations (lower is better)",
            "allocations per MiB emitted (log)",
            &allocs,
            true,
        );
    }
    svg.push_str("</svg>\n");
    svg
}
