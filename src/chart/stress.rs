//! Generic charts for stress tests: a tornado (ranked low/high bars around a base value), a
//! sweep (lines with a ±2 SE band), a heatmap (a value on an x × y grid) and a stress chart
//! (each variant's value with ±2 SE against the base). They take plain numbers; the caller
//! chooses the title and file name.

use super::theme::*;
use super::{Chart, DrawResult, slug};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One input of a [`Tornado`]: the result with the input at its low and at its high value.
#[derive(Clone, Debug, PartialEq)]
pub struct TornadoBar {
    /// The input, e.g. `Work rate`.
    pub label: String,
    /// The result with the input at its low value.
    pub low: f64,
    /// The result with the input at its high value.
    pub high: f64,
    /// What low means, e.g. `0.35` (shown beside the bar end).
    pub low_label: String,
    /// What high means.
    pub high_label: String,
}

/// Ranked bars of how far a result moves when each input goes from low to high, around the
/// result at the base case. Bars are drawn widest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Tornado {
    /// Title, e.g. `Fund: mean net, one input at a time`.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// File name without extension.
    pub file_name: String,
    /// The result at the base case.
    pub base: f64,
    /// The result's name with its unit, e.g. `Mean net of the fund (EUR)`.
    pub value_title: String,
    /// How values read.
    pub format: ValueFormat,
    /// The inputs (any order; drawn by range, widest first).
    pub bars: Vec<TornadoBar>,
}

impl Chart for Tornado {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn file_name(&self) -> String {
        slug(&self.file_name)
    }
    fn size(&self) -> (u32, u32) {
        (1100, (220 + 46 * self.bars.len() as u32).max(400))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &self.title, &self.subtitle)?;
        let low_c = PARTY_COLORS[0];
        let high_c = PARTY_COLORS[1];
        let area = legend_strip(
            &area,
            &[
                ("Input at its low value".into(), Mark::Fill(low_c)),
                ("Input at its high value".into(), Mark::Fill(high_c)),
                (
                    format!("Base case {}", self.format.label(self.base)),
                    Mark::Line(INK),
                ),
            ],
        )?;
        let mut bars = self.bars.clone();
        bars.sort_by(|a, b| {
            let ra = (a.high - a.low).abs();
            let rb = (b.high - b.low).abs();
            rb.partial_cmp(&ra).unwrap_or(std::cmp::Ordering::Equal)
        });
        let n = bars.len().max(1);
        let lo = bars
            .iter()
            .flat_map(|b| [b.low, b.high])
            .fold(self.base, f64::min);
        let hi = bars
            .iter()
            .flat_map(|b| [b.low, b.high])
            .fold(self.base, f64::max);
        let (x0, x1) = padded(nonempty((lo, hi)), 0.18);
        let names: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = row_axes(&area, &names, (x0, x1), &self.format, &self.value_title)?;
        let y_of = |i: usize| n as f64 - i as f64 - 1.0;
        for (i, b) in bars.iter().enumerate() {
            let y = y_of(i);
            chart.draw_series([
                Rectangle::new([(self.base, y + 0.2), (b.low, y + 0.8)], low_c.filled()),
                Rectangle::new([(self.base, y + 0.2), (b.high, y + 0.8)], high_c.filled()),
            ])?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(self.base, 0.0), (self.base, n as f64)],
            INK.stroke_width(2),
        )))?;
        let plot = chart.plotting_area().strip_coord_spec();
        for (i, b) in bars.iter().enumerate() {
            let y = y_of(i) + 0.5;
            // The smaller value is labelled left of its bar, the larger right of its bar, so
            // the two labels never overlap (even when both sit on one side of the base).
            let low_is_left = b.low <= b.high;
            for (v, l, left) in [
                (b.low, &b.low_label, low_is_left),
                (b.high, &b.high_label, !low_is_left),
            ] {
                let anchor = if left {
                    v.min(self.base)
                } else {
                    v.max(self.base)
                };
                let (px, py) = chart.backend_coord(&(anchor, y));
                let right = !left;
                let text = if l.is_empty() {
                    self.format.label(v)
                } else {
                    format!("{}: {}", l, self.format.label(v))
                };
                let (dx, h) = if right {
                    (6, HPos::Left)
                } else {
                    (-6, HPos::Right)
                };
                plot.draw(&Text::new(
                    text,
                    local(&plot, (px + dx, py)),
                    small_style().pos(Pos::new(h, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    }
}

/// One point of a [`SweepSeries`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepPoint {
    /// The swept input.
    pub x: f64,
    /// The result (a mean over trials).
    pub y: f64,
    /// Its Monte Carlo standard error (the band is ±2 SE).
    pub se: f64,
}

/// One line of a [`Sweep`].
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// Legend label.
    pub name: String,
    /// Colour: a party's position in the results (so a party keeps its colour), or any index.
    pub color_index: usize,
    /// Points in ascending x.
    pub points: Vec<SweepPoint>,
}

/// A result as one input is swept, one line per series with a ±2 SE band.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Title.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// File name without extension.
    pub file_name: String,
    /// The input with its unit.
    pub x_title: String,
    /// The result with its unit.
    pub y_title: String,
    /// How x reads.
    pub x_format: ValueFormat,
    /// How y reads.
    pub y_format: ValueFormat,
    /// A vertical reference line (e.g. the contract's value) with its label.
    pub x_reference: Option<(f64, String)>,
    /// A horizontal reference line (e.g. break-even) with its label.
    pub y_reference: Option<(f64, String)>,
    /// The lines.
    pub series: Vec<SweepSeries>,
}

impl Chart for Sweep {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn file_name(&self) -> String {
        slug(&self.file_name)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &self.title, &self.subtitle)?;
        let mut items: Vec<(String, Mark)> = self
            .series
            .iter()
            .map(|s| (s.name.clone(), Mark::Line(party_color(s.color_index))))
            .collect();
        // Each line's band is a tint of its colour: the legend shows that tint for one line,
        // a neutral one for several.
        let band = match self.series.as_slice() {
            [one] => tint(party_color(one.color_index), 0.7),
            _ => tint(MUTED, 0.7),
        };
        items.push(("±2 standard errors".into(), Mark::Fill(band)));
        if let Some((_, l)) = &self.x_reference {
            items.push((l.clone(), Mark::Dashed(REFERENCE)));
        }
        if let Some((_, l)) = &self.y_reference {
            items.push((l.clone(), Mark::Line(MUTED)));
        }
        let area = legend_strip(&area, &items)?;
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let (mut xl, mut xh, mut yl, mut yh) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in pts {
            xl = xl.min(p.x);
            xh = xh.max(p.x);
            yl = yl.min(p.y - 2.0 * p.se);
            yh = yh.max(p.y + 2.0 * p.se);
        }
        if let Some((x, _)) = self.x_reference {
            xl = xl.min(x);
            xh = xh.max(x);
        }
        if let Some((y, _)) = self.y_reference {
            yl = yl.min(y);
            yh = yh.max(y);
        }
        if xl > xh {
            (xl, xh, yl, yh) = (0.0, 1.0, 0.0, 1.0);
        }
        // A margin on both sides keeps the first and the last tick label inside the picture.
        let mut chart = axes(
            &area,
            padded(nonempty((xl, xh)), 0.03),
            padded(nonempty((yl, yh)), 0.06),
            &self.x_title,
            &self.y_title,
            &self.x_format,
            &self.y_format,
        )?;
        for s in &self.series {
            let c = party_color(s.color_index);
            let mut band: Vec<(f64, f64)> =
                s.points.iter().map(|p| (p.x, p.y + 2.0 * p.se)).collect();
            band.extend(s.points.iter().rev().map(|p| (p.x, p.y - 2.0 * p.se)));
            chart.draw_series(std::iter::once(Polygon::new(band, tint(c, 0.7).filled())))?;
        }
        if let Some((y, _)) = self.y_reference {
            let xr = chart.x_range();
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(xr.start, y), (xr.end, y)],
                MUTED.stroke_width(2),
            )))?;
        }
        for s in &self.series {
            let c = party_color(s.color_index);
            chart.draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.x, p.y)),
                c.stroke_width(3),
            ))?;
            chart.draw_series(
                s.points
                    .iter()
                    .map(|p| Circle::new((p.x, p.y), 4, c.filled())),
            )?;
        }
        if let Some((x, l)) = &self.x_reference {
            ref_lines(
                &mut chart,
                &[RefLine {
                    x: *x,
                    color: REFERENCE,
                    dashed: true,
                    label: l.clone(),
                }],
            )?;
        }
        Ok(())
    }
}

/// A value on an x × y grid, each cell coloured on a scale and labelled with its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Title.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// File name without extension.
    pub file_name: String,
    /// The x input with its unit.
    pub x_title: String,
    /// The y input with its unit.
    pub y_title: String,
    /// Labels of the x grid, left to right.
    pub x_labels: Vec<String>,
    /// Labels of the y grid, bottom to top.
    pub y_labels: Vec<String>,
    /// `values[y][x]`; `NaN` for a cell without a value.
    pub values: Vec<Vec<f64>>,
    /// What the value is, with its unit (the colour scale's title).
    pub value_title: String,
    /// How values read.
    pub format: ValueFormat,
    /// `Some(m)`: a diverging scale, red below `m` and green above (e.g. break-even 0);
    /// `None`: one sequential scale from low to high.
    pub midpoint: Option<f64>,
}

impl Heatmap {
    fn color(&self, v: f64, lo: f64, hi: f64) -> RGBColor {
        if !v.is_finite() {
            return RGBColor(0xF2, 0xF2, 0xF2);
        }
        let mix = |a: RGBColor, b: RGBColor, t: f64| {
            let t = t.clamp(0.0, 1.0);
            let m = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
            RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
        };
        let white = RGBColor(0xF7, 0xF7, 0xF7);
        match self.midpoint {
            Some(m) => {
                if v < m {
                    let t = if m > lo { (m - v) / (m - lo) } else { 1.0 };
                    mix(white, BAD, t * 0.9)
                } else {
                    let t = if hi > m { (v - m) / (hi - m) } else { 1.0 };
                    mix(white, GOOD, t * 0.9)
                }
            }
            None => {
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                mix(RGBColor(0xE8, 0xF0, 0xF8), PARTY_COLORS[0], 0.1 + 0.85 * t)
            }
        }
    }
}

impl Chart for Heatmap {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn file_name(&self) -> String {
        slug(&self.file_name)
    }
    fn size(&self) -> (u32, u32) {
        let w = (300 + 110 * self.x_labels.len() as u32).clamp(800, 1400);
        let h = (260 + 48 * self.y_labels.len() as u32).clamp(420, 1000);
        (w, h)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &self.title, &self.subtitle)?;
        let (nx, ny) = (self.x_labels.len().max(1), self.y_labels.len().max(1));
        let vals = self
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = vals.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
        let (lo, hi) = match self.midpoint {
            Some(m) => (lo.min(m), hi.max(m)),
            None => (lo, hi),
        };
        // Colour scale legend in its own strip.
        let mut items: Vec<(String, Mark)> = vec![(
            format!("{}: lowest {}", self.value_title, self.format.label(lo)),
            Mark::Fill(self.color(lo, lo, hi)),
        )];
        if let Some(m) = self.midpoint {
            items.push((self.format.label(m), Mark::Fill(self.color(m, lo, hi))));
        }
        items.push((
            format!("highest {}", self.format.label(hi)),
            Mark::Fill(self.color(hi, lo, hi)),
        ));
        let area = legend_strip(&area, &items)?;
        let xl = self.x_labels.clone();
        let yl = self.y_labels.clone();
        let mut chart = ChartBuilder::on(&area)
            .margin_left(10)
            .margin_right(30)
            .margin_top(6)
            .x_label_area_size(56)
            .y_label_area_size(label_width(&area, &self.y_labels, &label_style(), 24) + 30)
            .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)?;
        let xf = |x: &f64| {
            let i = x.floor();
            if (x.fract() - 0.5).abs() < 1e-6 && i >= 0.0 && (i as usize) < xl.len() {
                xl[i as usize].clone()
            } else {
                String::new()
            }
        };
        let yf = |y: &f64| {
            let i = y.floor();
            if (y.fract() - 0.5).abs() < 1e-6 && i >= 0.0 && (i as usize) < yl.len() {
                yl[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .axis_style(MUTED)
            .x_labels(nx * 2 + 1)
            .y_labels(ny * 2 + 1)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(self.x_title.as_str())
            .y_desc(self.y_title.as_str())
            .axis_desc_style(axis_title_style())
            .label_style(label_style())
            .draw()?;
        for (j, row) in self.values.iter().enumerate().take(ny) {
            for (i, &v) in row.iter().enumerate().take(nx) {
                let c = self.color(v, lo, hi);
                let (x, y) = (i as f64, j as f64);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.02, y + 0.04), (x + 0.98, y + 0.96)],
                    c.filled(),
                )))?;
                let dark = (c.0 as u32 + c.1 as u32 + c.2 as u32) < 330;
                let text = if v.is_finite() {
                    self.format.label(v)
                } else {
                    "-".into()
                };
                let (px, py) = chart.backend_coord(&(x + 0.5, y + 0.5));
                let plot = chart.plotting_area().strip_coord_spec();
                plot.draw(&Text::new(
                    text,
                    local(&plot, (px, py)),
                    small_style()
                        .color(if dark { &WHITE } else { &INK })
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    }
}

fn unit_format(u: crate::metrics::Unit, currency: &str) -> ValueFormat {
    match u {
        crate::metrics::Unit::Money => ValueFormat::Money(currency.to_string()),
        crate::metrics::Unit::Probability | crate::metrics::Unit::Rate => ValueFormat::Percent,
        crate::metrics::Unit::Multiple => ValueFormat::Multiple,
    }
}

fn input_label(x: f64) -> String {
    if x.abs() >= 1000.0 {
        thousands(x)
    } else {
        format!("{}", (x * 10_000.0).round() / 10_000.0)
    }
}

impl Tornado {
    /// The chart of a sensitivity analysis (`sibsim tornado`).
    pub fn from_design(t: &crate::design::tornado::Tornado, currency: &str) -> Tornado {
        let format = unit_format(t.unit, currency);
        Tornado {
            title: format!("Sensitivity of {}", t.figure),
            subtitle: format!(
                "{}{}; {} trials per run, seed {}, common random numbers. A bar's ends read `input: figure`.",
                crate::metrics::REGISTRY
                    .iter()
                    .find(|d| d.name == t.figure.split(':').next().unwrap_or(&t.figure))
                    .map_or(String::new(), |d| {
                        let about = d.about.split(" (needs").next().unwrap_or(d.about);
                        let mut chars = about.chars();
                        let first = chars.next().map(|c| c.to_uppercase().to_string());
                        format!("{}{}. ", first.unwrap_or_default(), chars.as_str())
                    }),
                match t.range {
                    crate::design::tornado::Range::Percentiles =>
                        "Each uncertain input fixed at its P10 and its P90".to_string(),
                    crate::design::tornado::Range::Percent(p) =>
                        format!("Each input's mean moved by -/+{}%", p * 100.0),
                },
                thousands(t.trials as f64),
                t.seed
            ),
            file_name: format!("tornado-{}", t.figure),
            base: t.base.value,
            value_title: t.figure.clone(),
            format,
            bars: t
                .bars
                .iter()
                .map(|b| TornadoBar {
                    label: b.input.clone(),
                    low: b.at_low.value,
                    high: b.at_high.value,
                    low_label: b.kind.show(b.low_input, currency),
                    high_label: b.kind.show(b.high_input, currency),
                })
                .collect(),
        }
    }
}

impl Sweep {
    /// The line chart of figure `k` of a one-term sweep (`sibsim sweep`); `None` for a
    /// two-term sweep (see [`Heatmap::from_design`]).
    pub fn from_design(
        sw: &crate::design::sweep::Sweep,
        k: usize,
        currency: &str,
    ) -> Option<Sweep> {
        if sw.axes.len() != 1 || k >= sw.figures.len() {
            return None;
        }
        let term = &sw.axes[0].term;
        // A term that takes whole cents is an amount of money.
        let money = sw.axes[0].decimals == 2;
        Some(Sweep {
            title: format!("{} as {} varies", sw.figures[k], term),
            subtitle: format!(
                "{} trials per point, seed {}, common random numbers; band: +/- 2 standard errors.",
                thousands(sw.trials as f64),
                sw.seed
            ),
            file_name: format!("sweep-{}-{}", sw.figures[k], term),
            x_title: if money {
                format!("{term} ({currency})")
            } else {
                term.clone()
            },
            y_title: sw.figures[k].clone(),
            x_format: if money {
                ValueFormat::Money(currency.to_string())
            } else {
                ValueFormat::Number
            },
            y_format: unit_format(sw.units[k], currency),
            x_reference: None,
            y_reference: None,
            series: vec![SweepSeries {
                name: sw.figures[k].clone(),
                color_index: 0,
                points: sw
                    .points
                    .iter()
                    .filter(|p| p.error.is_none())
                    .map(|p| SweepPoint {
                        x: p.at[0],
                        y: p.figures[k].value,
                        se: p.figures[k].se,
                    })
                    .collect(),
            }],
        })
    }
}

impl Heatmap {
    /// The heatmap of figure `k` of a two-term sweep (`sibsim sweep` with two `--vary`).
    pub fn from_design(
        sw: &crate::design::sweep::Sweep,
        k: usize,
        currency: &str,
    ) -> Option<Heatmap> {
        if sw.axes.len() != 2 || k >= sw.figures.len() {
            return None;
        }
        let (xa, ya) = (&sw.axes[1], &sw.axes[0]);
        // Points run over the second axis fastest: values[y][x].
        let mut values = vec![vec![f64::NAN; xa.values.len()]; ya.values.len()];
        for (i, p) in sw.points.iter().enumerate() {
            if p.error.is_none() {
                values[i / xa.values.len()][i % xa.values.len()] = p.figures[k].value;
            }
        }
        let money = sw.units[k] == crate::metrics::Unit::Money;
        Some(Heatmap {
            title: sw.figures[k].clone(),
            subtitle: format!(
                "By {} (rows) and {} (columns); {} trials per cell, seed {}, common random numbers.",
                ya.term,
                xa.term,
                thousands(sw.trials as f64),
                sw.seed
            ),
            file_name: format!("heatmap-{}", sw.figures[k]),
            x_title: xa.term.clone(),
            y_title: ya.term.clone(),
            x_labels: xa.values.iter().map(|x| input_label(*x)).collect(),
            y_labels: ya.values.iter().map(|x| input_label(*x)).collect(),
            values,
            value_title: sw.figures[k].clone(),
            format: unit_format(sw.units[k], currency),
            midpoint: if money { Some(0.0) } else { None },
        })
    }
}

/// One variant of a [`StressChart`]: its value of the figure with its standard error.
#[derive(Clone, Debug, PartialEq)]
pub struct StressPoint {
    /// The variant's name (`base`, `recession`, ...).
    pub label: String,
    /// The figure's value.
    pub value: f64,
    /// Its Monte Carlo standard error (the whisker is ±2 SE; 0 or NaN: none).
    pub se: f64,
}

/// A figure under the base and each stress: one row per variant, a dot at its value with a
/// ±2 standard error whisker, and the base's value as a vertical line.
#[derive(Clone, Debug, PartialEq)]
pub struct StressChart {
    /// Title.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// File name without extension.
    pub file_name: String,
    /// The figure's name, for the axis.
    pub value_title: String,
    /// How values read.
    pub format: ValueFormat,
    /// The base first, then the stresses.
    pub points: Vec<StressPoint>,
}

impl StressChart {
    /// One chart per figure of a comparison (`sibsim stress --charts`).
    pub fn from_design(cmp: &crate::design::Comparison, currency: &str) -> Vec<StressChart> {
        cmp.figures
            .iter()
            .enumerate()
            .map(|(k, f)| StressChart {
                title: format!("{} under stress", f.name),
                subtitle: format!(
                    "{} trials per variant, seed {}, common random numbers; whiskers: +/- 2 standard errors of each value (a difference to the base is known more closely: see the table).",
                    thousands(cmp.trials as f64),
                    cmp.seed
                ),
                file_name: format!("stress-{}", f.name),
                value_title: f.name.clone(),
                format: unit_format(f.unit, currency),
                points: cmp
                    .variants
                    .iter()
                    .map(|v| StressPoint {
                        label: v.label.clone(),
                        value: v.figures[k].value,
                        se: v.figures[k].se,
                    })
                    .collect(),
            })
            .collect()
    }
}

impl Chart for StressChart {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn file_name(&self) -> String {
        slug(&self.file_name)
    }
    fn size(&self) -> (u32, u32) {
        (1000, (220 + 44 * self.points.len() as u32).max(360))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &self.title, &self.subtitle)?;
        let base = self.points.first().map_or(f64::NAN, |p| p.value);
        let area = legend_strip(
            &area,
            &[
                (
                    "Value under the variant".into(),
                    Mark::Fill(PARTY_COLORS[0]),
                ),
                (format!("Base {}", self.format.label(base)), Mark::Line(INK)),
            ],
        )?;
        let n = self.points.len().max(1);
        let whisker = |p: &StressPoint| if p.se.is_finite() { 2.0 * p.se } else { 0.0 };
        let finite = self.points.iter().filter(|p| p.value.is_finite());
        let lo = finite
            .clone()
            .map(|p| p.value - whisker(p))
            .fold(f64::INFINITY, f64::min);
        let hi = finite
            .map(|p| p.value + whisker(p))
            .fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
        let (x0, x1) = padded(nonempty((lo, hi)), 0.12);
        let names: Vec<String> = self.points.iter().map(|p| p.label.clone()).collect();
        let mut chart = row_axes(&area, &names, (x0, x1), &self.format, &self.value_title)?;
        if base.is_finite() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(base, 0.0), (base, n as f64)],
                INK.stroke_width(2),
            )))?;
        }
        let color = PARTY_COLORS[0];
        let plot = chart.plotting_area().strip_coord_spec();
        for (i, p) in self.points.iter().enumerate() {
            if !p.value.is_finite() {
                continue;
            }
            let y = n as f64 - i as f64 - 0.5;
            let w = whisker(p);
            chart.draw_series([PathElement::new(
                vec![(p.value - w, y), (p.value + w, y)],
                color.stroke_width(2),
            )])?;
            chart.draw_series([Circle::new((p.value, y), 6, color.filled())])?;
            let (px, py) = chart.backend_coord(&(p.value + w, y));
            plot.draw(&Text::new(
                self.format.label(p.value),
                local(&plot, (px + 10, py)),
                small_style().pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}

/// Axes for one labelled row per name (the first at the top) over the x range `x`, values
/// read as `format`, the x axis titled `title`: the tornado's and the stress chart's.
fn row_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    names: &[String],
    x: (f64, f64),
    format: &ValueFormat,
    title: &str,
) -> Result<Plot<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let n = names.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(30)
        .margin_top(6)
        .x_label_area_size(50)
        .y_label_area_size(label_width(area, names, &label_style(), 24))
        .build_cartesian_2d(x.0..x.1, 0.0..n as f64)?;
    let yl = |y: &f64| {
        let i = (n as f64 - *y - 0.5).round();
        if i >= 0.0 && (i as usize) < names.len() && (y.fract() - 0.5).abs() < 1e-6 {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    let xf = |v: &f64| format.tick(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .max_light_lines(0)
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .x_labels(7)
        .y_labels(n * 2 + 1)
        .x_label_formatter(&xf)
        .y_label_formatter(&yl)
        .x_desc(title)
        .axis_desc_style(axis_title_style())
        .label_style(label_style())
        .draw()?;
    Ok(chart)
}
