//! The `--plot` chart, drawn with plotters' SVG backend (cargo feature `charts`): readable
//! without the table.
//!
//! One row per format, two panels per row: throughput (MiB/s median, whiskers from the slowest to
//! the fastest repetition, linear axis) and steady-state allocations per MiB emitted (log axis).
//! Each panel groups four bars (one colour per strategy) per block size; the chosen strategy's
//! bars are outlined and starred, and every bar carries its value.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Calibration;
use super::report::num;
use crate::error::{Error, Result};
use crate::size::format_size;
use crate::strategy::Strategy;

const WIDTH: u32 = 1200;
const ROW_HEIGHT: u32 = 300;
const TOP: u32 = 110;
const PANEL_WIDTH: u32 = 500;
const PANEL_HEIGHT: u32 = 270;
const COLORS: [RGBColor; 4] =
    [RGBColor(0x4e, 0x79, 0xa7), RGBColor(0xf2, 0x8e, 0x2b), RGBColor(0x59, 0xa1, 0x4f), RGBColor(0xe1, 0x57, 0x59)];
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const FONT: &str = "sans-serif";

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

    /// `v` within the axis range (a bar of 0 on a log axis stays at the bottom).
    fn clamp(self, v: f64) -> f64 {
        let (lo, hi) = self.bounds();
        v.clamp(lo, hi)
    }

    /// The tick values.
    fn ticks(self) -> Vec<f64> {
        match self {
            Scale::Linear { max } => {
                let step = nice_step(max / 5.0);
                (0..).map(|i| f64::from(i) * step).take_while(|&v| v <= max * 1.0001).collect()
            }
            Scale::Log { lo_exp, hi_exp } => (lo_exp..=hi_exp).map(|e| 10f64.powi(e)).collect(),
        }
    }

    /// A tick's label.
    fn label(self, v: f64) -> String {
        match self {
            Scale::Log { .. } if v >= 1.0 => format!("{v:.0}"),
            _ => num(v),
        }
    }

    /// The axis range: from the bottom (0, or the lowest decade) to the top.
    fn bounds(self) -> (f64, f64) {
        match self {
            Scale::Linear { max } => (0.0, max),
            Scale::Log { lo_exp, hi_exp } => (10f64.powi(lo_exp), 10f64.powi(hi_exp)),
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

/// The value axis of a panel for plotters: [`Scale`]'s mapping and ticks.
#[derive(Clone, Copy)]
struct ValueAxis(Scale);

impl Ranged for ValueAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        limit.0 + (f64::from(limit.1 - limit.0) * self.0.frac(*value)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _: H) -> Vec<f64> {
        self.0.ticks()
    }

    fn range(&self) -> std::ops::Range<f64> {
        let (lo, hi) = self.0.bounds();
        lo..hi
    }
}

/// The group axis of a panel: group `g` spans `g..g + 1`, labelled at its middle.
#[derive(Clone, Copy)]
struct GroupAxis(usize);

impl Ranged for GroupAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value / self.0.max(1) as f64).clamp(0.0, 1.0);
        limit.0 + (f64::from(limit.1 - limit.0) * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _: H) -> Vec<f64> {
        (0..self.0).map(|g| g as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.0.max(1) as f64
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag)
}

/// A drawing error, as this module's error (writing into a `String` does not fail, but the
/// backend's API says it may).
fn drawn<T, E: std::fmt::Display>(result: std::result::Result<T, E>) -> Result<T> {
    result.map_err(|e| Error::io("draw", "the calibration chart", std::io::Error::other(e.to_string())))
}

/// A text style of `size` pixels.
fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

/// One panel in `area`: title, axes, ticks, grouped bars.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    groups: &[(String, Vec<Bar>)],
    log: bool,
) -> Result<()> {
    let values = groups.iter().flat_map(|(_, bars)| bars.iter().map(|b| b.range.map_or(b.value, |r| r.1)));
    let scale = Scale::for_values(log, values);
    let mut builder = ChartBuilder::on(area);
    builder.caption(title, font(13)).margin_right(10).x_label_area_size(24).y_label_area_size(58);
    let mut chart = drawn(builder.build_cartesian_2d(GroupAxis(groups.len()), ValueAxis(scale)))?;
    bars(&mut chart, groups, y_label, scale)
}

/// The mesh and the bars of a panel.
fn bars<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<GroupAxis, ValueAxis>>,
    groups: &[(String, Vec<Bar>)],
    y_label: &str,
    scale: Scale,
) -> Result<()> {
    let group_label = |x: &f64| groups.get(x.floor() as usize).map(|g| g.0.clone()).unwrap_or_default();
    let tick_label = |v: &f64| scale.label(*v);
    drawn(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(RGBColor(0x33, 0x33, 0x33))
            .x_label_style(font(11))
            .y_label_style(font(10).color(&GREY))
            .x_label_formatter(&group_label)
            .y_label_formatter(&tick_label)
            .y_desc(y_label)
            .axis_desc_style(font(11))
            .draw(),
    )?;
    let (bottom, _) = scale.bounds();
    for (g, (_, group)) in groups.iter().enumerate() {
        let width = 0.8 / group.len().max(1) as f64;
        for (i, bar) in group.iter().enumerate() {
            let left = g as f64 + 0.1 + i as f64 * width;
            let (x0, x1, cx) = (left + width * 0.04, left + width * 0.96, left + width / 2.0);
            let top = scale.clamp(bar.value);
            let color = COLORS.get(i % COLORS.len()).copied().unwrap_or(INK);
            drawn(chart.draw_series([Rectangle::new([(x0, bottom), (x1, top)], color.filled())]))?;
            if bar.chosen {
                drawn(chart.draw_series([Rectangle::new([(x0, bottom), (x1, top)], BLACK.stroke_width(2))]))?;
            }
            let mut label_at = top;
            if let Some((slow, fast)) = bar.range {
                let (slow, fast) = (scale.clamp(slow), scale.clamp(fast));
                let tick = width * 0.15;
                let whisker = INK.stroke_width(1);
                drawn(chart.draw_series([
                    PathElement::new(vec![(cx, slow), (cx, fast)], whisker),
                    PathElement::new(vec![(cx - tick, fast), (cx + tick, fast)], whisker),
                    PathElement::new(vec![(cx - tick, slow), (cx + tick, slow)], whisker),
                ]))?;
                label_at = label_at.max(fast);
            }
            let star = if bar.chosen { "★ " } else { "" };
            let text = format!("{star}{}", num(bar.value));
            let style = font(9).pos(Pos::new(HPos::Center, VPos::Bottom));
            drawn(chart.draw_series([EmptyElement::at((cx, label_at)) + Text::new(text, (0, -4), style)]))?;
        }
    }
    Ok(())
}

/// The title, the subtitle and the legend.
fn header<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, cal: &Calibration) -> Result<()> {
    let title = "payforge calibrate: throughput and allocations per strategy, by format and block size";
    drawn(root.draw(&Text::new(title, (20, 12), (FONT, 18).into_font().style(FontStyle::Bold).color(&INK))))?;
    let subtitle = format!(
        "{} · {} cores · {} · {} per repetition, {} repetitions (whiskers: slowest–fastest) · allocations: steady \
         state, untimed counting pass",
        cal.machine.cpu,
        cal.machine.cores,
        cal.date,
        format_size(cal.volume),
        cal.repetitions
    );
    drawn(root.draw(&Text::new(subtitle, (20, 36), font(12).color(&GREY))))?;
    let mut x = 20;
    for (i, s) in Strategy::ALL.iter().enumerate() {
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or(INK);
        drawn(root.draw(&Rectangle::new([(x, 64), (x + 14, 78)], color.filled())))?;
        drawn(root.draw(&Text::new(s.name(), (x + 19, 65), font(12))))?;
        x += 160;
    }
    drawn(root.draw(&Rectangle::new([(x, 64), (x + 14, 78)], BLACK.stroke_width(2))))?;
    let chosen = "★ chosen by the decision rule (what --strategy auto uses)";
    drawn(root.draw(&Text::new(chosen, (x + 19, 65), font(12))))?;
    Ok(())
}

/// The whole chart.
///
/// # Errors
/// [`Error::Io`] if plotters reports a drawing error.
pub fn svg(cal: &Calibration) -> Result<String> {
    let mut formats: Vec<String> = Vec::new();
    for g in &cal.groups {
        if !formats.contains(&g.label()) {
            formats.push(g.label());
        }
    }
    let rows = u32::try_from(formats.len()).unwrap_or(u32::MAX / ROW_HEIGHT);
    let height = TOP + rows * ROW_HEIGHT + 10;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        drawn(root.fill(&WHITE))?;
        header(&root, cal)?;
        for (row, format) in (0u32..).zip(&formats) {
            let y = TOP + row * ROW_HEIGHT;
            drawn(root.draw(&Text::new(
                format.as_str(),
                (20, y as i32 - 10),
                (FONT, 15).into_font().style(FontStyle::Bold).color(&INK),
            )))?;
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
            let area = |x: u32| root.clone().shrink((x, y + 14), (PANEL_WIDTH, PANEL_HEIGHT));
            panel(&area(20), "Throughput (higher is better)", "MiB/s emitted, median", &speed, false)?;
            let allocations = "allocations per MiB emitted (log)";
            panel(&area(20 + PANEL_WIDTH + 80), "Allocations (lower is better)", allocations, &allocs, true)?;
        }
        drawn(root.present())?;
    }
    Ok(out)
}
