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
        let names: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        // Each end's label: the smaller value left of its bar, the larger right of its bar, so
        // the two never overlap (even when both sit on one side of the base). The axis makes
        // room for them inside the plot, so none runs over the names.
        let style = small_style();
        let ends: Vec<[(f64, String, bool); 2]> = bars
            .iter()
            .map(|b| {
                let text = |v: f64, l: &str| {
                    if l.is_empty() {
                        self.format.label(v)
                    } else {
                        format!("{}: {}", l, self.format.label(v))
                    }
                };
                let low_is_left = b.low <= b.high;
                let anchor = |v: f64, left: bool| {
                    if left {
                        v.min(self.base)
                    } else {
                        v.max(self.base)
                    }
                };
                [
                    (
                        anchor(b.low, low_is_left),
                        text(b.low, &b.low_label),
                        low_is_left,
                    ),
                    (
                        anchor(b.high, !low_is_left),
                        text(b.high, &b.high_label),
                        !low_is_left,
                    ),
                ]
            })
            .collect();
        let need: Vec<(f64, f64, bool)> = ends
            .iter()
            .flatten()
            .map(|(v, t, left)| (*v, text_width(t, &style) as f64, *left))
            .collect();
        let (x0, x1) = self.format.axis_range((lo, hi), 0.04);
        let (x0, x1) = room_for_labels((x0, x1), row_plot_width(&area, &names), &need);
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
        let edges = (
            chart.backend_coord(&(x0, 0.0)).0,
            chart.backend_coord(&(x1, 0.0)).0,
        );
        let base_px = chart.backend_coord(&(self.base, 0.0)).0;
        for (i, pair) in ends.iter().enumerate() {
            let y = y_of(i) + 0.5;
            for (anchor, text, left) in pair {
                let (px, py) = chart.backend_coord(&(*anchor, y));
                let w = text_width(text, &style) as i32;
                let (x, on_bar) = place_label(px, w, *left, edges, base_px);
                let color = if on_bar { WHITE } else { INK };
                plot.draw(&Text::new(
                    text.clone(),
                    local(&plot, (x, py)),
                    style.color(&color).pos(Pos::new(HPos::Left, VPos::Center)),
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
            self.x_format.axis_range((xl, xh), 0.03),
            self.y_format.axis_range((yl, yh), 0.06),
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
    /// `Some(m)`: a diverging scale, red below `m` and blue above (e.g. break-even 0);
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
        let empty = lo > hi;
        let (lo, hi) = if empty { (0.0, 1.0) } else { (lo, hi) };
        let (data_lo, data_hi) = (lo, hi);
        // The colour scale reaches the midpoint (break-even) even when no cell does; the
        // legend names the lowest and highest cells as they are.
        let (lo, hi) = match self.midpoint {
            Some(m) => (lo.min(m), hi.max(m)),
            None => (lo, hi),
        };
        let mut items: Vec<(String, Mark)> = Vec::new();
        if !empty {
            items.push((
                format!(
                    "{}: lowest {}",
                    self.value_title,
                    self.format.label(data_lo)
                ),
                Mark::Fill(self.color(data_lo, lo, hi)),
            ));
            if let Some(m) = self.midpoint
                && data_lo < m
                && m < data_hi
            {
                items.push((self.format.label(m), Mark::Fill(self.color(m, lo, hi))));
            }
            items.push((
                format!("highest {}", self.format.label(data_hi)),
                Mark::Fill(self.color(data_hi, lo, hi)),
            ));
        }
        if self.values.iter().flatten().any(|v| !v.is_finite()) {
            items.push((
                "- no value (the point could not be run)".into(),
                Mark::Fill(self.color(f64::NAN, lo, hi)),
            ));
        }
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
        // A grid too fine for every label: every k-th tick is labelled (the cells' own labels
        // are left out where they do not fit, below).
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        let (cell_w, cell_h) = (pw as f64 / nx as f64, ph as f64 / ny as f64);
        let widest = xl
            .iter()
            .map(|l| text_width(l, &label_style()))
            .max()
            .unwrap_or(0) as f64;
        let kx = ((widest + 12.0) / cell_w).ceil().max(1.0) as usize;
        let ky = (18.0 / cell_h).ceil().max(1.0) as usize;
        let xf = |x: &f64| {
            let i = x.floor();
            if (x.fract() - 0.5).abs() < 1e-6
                && i >= 0.0
                && (i as usize) < xl.len()
                && (i as usize) % kx == 0
            {
                xl[i as usize].clone()
            } else {
                String::new()
            }
        };
        let yf = |y: &f64| {
            let i = y.floor();
            if (y.fract() - 0.5).abs() < 1e-6
                && i >= 0.0
                && (i as usize) < yl.len()
                && (i as usize) % ky == 0
            {
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
                if text_width(&text, &small_style()) as f64 > cell_w - 4.0 || cell_h < 14.0 {
                    continue;
                }
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
        crate::metrics::Unit::Probability => ValueFormat::Probability,
        crate::metrics::Unit::Rate => ValueFormat::Percent,
        crate::metrics::Unit::Multiple => ValueFormat::Multiple,
    }
}

/// A figure for people: `p_full_repayment:senior` -> `Probability of full repayment:
/// senior`. A figure this table does not know reads as the first clause of its description in
/// the metrics registry, or as written.
pub fn figure_label(figure: &str) -> String {
    let (name, arg) = figure.split_once(':').unwrap_or((figure, ""));
    let short = match name {
        "p_pays_more_than_saves" => "Probability of paying more than it saves",
        "mkba_net_mean" => "Mean business case",
        "mkba_net_p5" => "P5 of the business case",
        "savings_mean" => "Mean realised savings",
        "p_full_repayment" => "Probability of full repayment",
        "p_principal_loss" => "Probability of a principal loss",
        "unrecovered_mean" => "Mean unrecovered principal",
        "irr_p5" => "P5 of the IRR",
        "irr_p50" => "Median IRR",
        "irr_p95" => "P95 of the IRR",
        "irr_mean" => "Mean IRR",
        "multiple_mean" => "Mean multiple",
        "net_mean" => "Mean net cash",
        "npv_mean" => "Mean NPV of net cash",
        "net_p5" => "P5 of net cash",
        "net_p50" => "Median net cash",
        "es95" => "Expected shortfall (95%) of net cash",
        "p_net_negative" => "Probability of negative net cash",
        "loss_mean" => "Mean loss",
        "p_loss" => "Probability of any loss",
        "inflow_mean" => "Mean inflow compensation",
        "p_inflow" => "Probability of inflow compensation",
        "paid_mean" => "Mean total paid",
        "paid_p95" => "P95 of total paid",
        "p_paid_above" => "Probability of paying more than an amount",
        "payments_mean" => "Mean outcome payments",
        "payments_p95" => "P95 of outcome payments",
        "p_early_termination" => "Probability of early termination",
        _ => "",
    };
    let short = if short.is_empty() {
        crate::metrics::REGISTRY
            .iter()
            .find(|d| d.name == name)
            .map(|d| {
                let about = d.about.split([':', '(']).next().unwrap_or(d.about).trim();
                capitalise(about)
            })
            .unwrap_or_else(|| name.to_string())
    } else {
        short.to_string()
    };
    if arg.is_empty() {
        short
    } else {
        format!("{short}: {arg}")
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `Probability of ...` -> `probability of ...`, for the middle of a sentence (`P5 of ...`
/// and `IRR` stay as they are).
fn in_sentence(s: &str) -> String {
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(f), Some(g)) if g.is_lowercase() => {
            f.to_lowercase().collect::<String>() + &s[f.len_utf8()..]
        }
        _ => s.to_string(),
    }
}

/// A term of the scenario for people: `outcomes.housing.price` -> `Price of housing`,
/// `contract.total_cap` -> `Total cap`.
pub fn term_label(term: &str) -> String {
    let parts: Vec<&str> = term
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .filter(|p| !p.is_empty())
        .collect();
    let human = |p: &str| p.replace(['_', '-'], " ");
    match parts.as_slice() {
        [] => term.to_string(),
        [.., owner, last] if parts.len() >= 3 => {
            format!("{} of {}", capitalise(&human(last)), owner)
        }
        [.., last] => capitalise(&human(last)),
    }
}

/// How the values of a swept term read: money for a term of whole cents or a price or cost
/// (a term named so that takes decimals), a percentage for a
/// rate or share (a term of many decimals whose values lie within ±1), else a number.
fn term_format(axis: &crate::design::sweep::Axis, currency: &str) -> ValueFormat {
    let last = axis.term.rsplit('.').next().unwrap_or("");
    let priced = ["price", "cost", "cap", "amount"]
        .iter()
        .any(|w| last.contains(w));
    if axis.decimals == 2 || (axis.decimals > 0 && priced) {
        ValueFormat::Money(currency.to_string())
    } else if axis.decimals >= 12 && axis.values.iter().all(|v| v.abs() <= 1.0) {
        ValueFormat::Percent
    } else {
        ValueFormat::Number
    }
}

/// A grid value of a swept term, as its format reads it.
fn input_label(x: f64, fmt: &ValueFormat) -> String {
    match fmt {
        ValueFormat::Money(_) => thousands(x),
        ValueFormat::Percent | ValueFormat::Probability => {
            let p = (x * 100.0 * 10_000.0).round() / 10_000.0;
            format!("{}%", number(p))
        }
        _ if x.abs() >= 1000.0 => thousands(x),
        _ => number((x * 10_000.0).round() / 10_000.0),
    }
}

impl Tornado {
    /// The chart of a sensitivity analysis (`sibsim tornado`).
    pub fn from_design(t: &crate::design::tornado::Tornado, currency: &str) -> Tornado {
        let format = unit_format(t.unit, currency);
        let label = figure_label(&t.figure);
        Tornado {
            title: format!("Sensitivity of the {}", in_sentence(&label)),
            subtitle: format!(
                "Figure {}. {}{}; {} trials per run, seed {}, common random numbers. A bar's ends read as input value: figure value.",
                t.figure,
                crate::metrics::REGISTRY
                    .iter()
                    .find(|d| d.name == t.figure.split(':').next().unwrap_or(&t.figure))
                    .map_or(String::new(), |d| {
                        let about = d.about.split(" (needs").next().unwrap_or(d.about);
                        format!("{}. ", capitalise(about))
                    }),
                match t.range {
                    crate::design::tornado::Range::Percentiles =>
                        "Each uncertain input fixed at its P10 and its P90".to_string(),
                    crate::design::tornado::Range::Percent(p) =>
                        format!("Each input's mean moved by ±{}%", number(p * 100.0)),
                },
                thousands(t.trials as f64),
                t.seed
            ),
            file_name: format!("tornado-{}", t.figure),
            base: t.base.value,
            value_title: format!("{label}{}", format.unit()),
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
        // A term that takes whole cents is an amount of money; one of many decimals within
        // ±1 a rate or a share.
        let x_format = term_format(&sw.axes[0], currency);
        let y_format = unit_format(sw.units[k], currency);
        let label = figure_label(&sw.figures[k]);
        Some(Sweep {
            title: format!("{label}, as {} varies", term_label(term).to_lowercase()),
            subtitle: format!(
                "Figure {}, input {}. {} trials per point, seed {}, common random numbers; band: ±2 standard errors.",
                sw.figures[k],
                term,
                thousands(sw.trials as f64),
                sw.seed
            ),
            file_name: format!("sweep-{}-{}", sw.figures[k], term),
            x_title: format!("{}{}", term_label(term), x_format.unit()),
            y_title: format!("{label}{}", y_format.unit()),
            x_format,
            y_format,
            x_reference: None,
            y_reference: None,
            series: vec![SweepSeries {
                name: label,
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
        let (xf, yf) = (term_format(xa, currency), term_format(ya, currency));
        let label = figure_label(&sw.figures[k]);
        let format = unit_format(sw.units[k], currency);
        Some(Heatmap {
            title: label.clone(),
            subtitle: format!(
                "Figure {}. By {} (rows) and {} (columns); {} trials per cell, seed {}, common random numbers.",
                sw.figures[k],
                ya.term,
                xa.term,
                thousands(sw.trials as f64),
                sw.seed
            ),
            file_name: format!("heatmap-{}", sw.figures[k]),
            x_title: format!("{}{}", term_label(&xa.term), xf.unit()),
            y_title: format!("{}{}", term_label(&ya.term), yf.unit()),
            x_labels: xa.values.iter().map(|x| input_label(*x, &xf)).collect(),
            y_labels: ya.values.iter().map(|x| input_label(*x, &yf)).collect(),
            values,
            value_title: format!("{label}{}", format.unit()),
            format,
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
            .map(|(k, f)| {
                let format = unit_format(f.unit, currency);
                let label = figure_label(&f.name);
                StressChart {
                title: format!("{label}, under each stress"),
                subtitle: format!(
                    "Figure {}. {} trials per variant, seed {}, common random numbers; whiskers: ±2 standard errors of each value (a difference to the base is known more closely: see the table).",
                    f.name,
                    thousands(cmp.trials as f64),
                    cmp.seed
                ),
                file_name: format!("stress-{}", f.name),
                value_title: format!("{label}{}", format.unit()),
                format,
                points: cmp
                    .variants
                    .iter()
                    .map(|v| StressPoint {
                        label: v.label.clone(),
                        value: v.figures[k].value,
                        se: v.figures[k].se,
                    })
                    .collect(),
            }})
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
        let names: Vec<String> = self.points.iter().map(|p| p.label.clone()).collect();
        // Each value's label on the side away from the base line (so the line never cuts
        // through it), the axis widened to keep it inside the plot.
        let style = small_style();
        let labels: Vec<(f64, String, bool)> = self
            .points
            .iter()
            .map(|p| {
                let left = base.is_finite() && p.value < base;
                let end = if left {
                    p.value - whisker(p)
                } else {
                    p.value + whisker(p)
                };
                (end, self.format.label(p.value), left)
            })
            .collect();
        let need: Vec<(f64, f64, bool)> = labels
            .iter()
            .map(|(v, t, left)| (*v, text_width(t, &style) as f64 + 4.0, *left))
            .collect();
        let (x0, x1) = self.format.axis_range((lo, hi), 0.08);
        let (x0, x1) = room_for_labels((x0, x1), row_plot_width(&area, &names), &need);
        let mut chart = row_axes(&area, &names, (x0, x1), &self.format, &self.value_title)?;
        if base.is_finite() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(base, 0.0), (base, n as f64)],
                INK.stroke_width(2),
            )))?;
        }
        let color = PARTY_COLORS[0];
        let plot = chart.plotting_area().strip_coord_spec();
        let edges = (
            chart.backend_coord(&(x0, 0.0)).0,
            chart.backend_coord(&(x1, 0.0)).0,
        );
        for (i, (p, (end, text, left))) in self.points.iter().zip(&labels).enumerate() {
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
            let (px, py) = chart.backend_coord(&(*end, y));
            let tw = text_width(text, &style) as i32;
            let px = if *left { px - 4 } else { px + 4 };
            let (x, _) = place_label(px, tw, *left, edges, px);
            // On white, in case it still meets the base line.
            let (lx, ly) = local(&plot, (x, py));
            plot.draw(&Rectangle::new(
                [(lx - 2, ly - 9), (lx + tw + 2, ly + 9)],
                WHITE.filled(),
            ))?;
            plot.draw(&Text::new(
                text.clone(),
                (lx, ly),
                style.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}

/// The width of the names' column of a row chart on `area`: the widest name, at most 30% of
/// the area (a longer name wraps onto two lines, then is shortened with an ellipsis).
fn names_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, names: &[String]) -> u32 {
    let widest = names
        .iter()
        .map(|n| text_width(n, &label_style()))
        .max()
        .unwrap_or(0);
    (widest + 24).min(area.dim_in_pixel().0 * 3 / 10).max(60)
}

/// The plot's width in pixels on `area` beside the names' column (see [`row_axes`]).
fn row_plot_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, names: &[String]) -> f64 {
    (area.dim_in_pixel().0 as f64 - names_width(area, names) as f64 - 40.0).max(40.0)
}

/// An x range `x` widened so that each label `(value, width in pixels, left of it)` fits
/// beside its value inside a plot `plot_w` pixels wide, as long as the data keep at least
/// 35% of the plot (labels that still do not fit are placed by [`place_label`]).
fn room_for_labels(x: (f64, f64), plot_w: f64, labels: &[(f64, f64, bool)]) -> (f64, f64) {
    let span = (x.1 - x.0).max(1e-300);
    let (mut x0, mut x1) = x;
    for _ in 0..60 {
        let scale = plot_w / (x1 - x0);
        let (mut n0, mut n1) = (x0, x1);
        for &(v, w, left) in labels {
            if !v.is_finite() {
                continue;
            }
            if left {
                n0 = n0.min(v - (w + 14.0) / scale);
            } else {
                n1 = n1.max(v + (w + 14.0) / scale);
            }
        }
        if span / (n1 - n0) < 0.35 {
            break;
        }
        let done = n0 >= x0 && n1 <= x1;
        (x0, x1) = (n0, n1);
        if done {
            break;
        }
    }
    (x0, x1)
}

/// Where a label `w` pixels wide goes beside the pixel `px` (left of it when `left`), inside
/// the plot from `plot.0` to `plot.1`: outside next to `px` where it fits; else inside the
/// bar from `px` back to `bar_from` where that is wide enough (the `bool`: drawn on the bar);
/// else against the plot's edge. Returns the left end of the text.
fn place_label(px: i32, w: i32, left: bool, plot: (i32, i32), bar_from: i32) -> (i32, bool) {
    if left {
        if px - 6 - w >= plot.0 + 2 {
            (px - 6 - w, false)
        } else if bar_from - px >= w + 12 {
            (px + 6, true)
        } else {
            (plot.0 + 2, false)
        }
    } else if px + 6 + w <= plot.1 - 2 {
        (px + 6, false)
    } else if px - bar_from >= w + 12 {
        (px - 6 - w, true)
    } else {
        ((plot.1 - 2 - w).max(plot.0 + 2), false)
    }
}

/// Axes for one labelled row per name (the first at the top) over the x range `x`, values
/// read as `format`, the x axis titled `title`: the tornado's and the stress chart's. The
/// names stand in a column of their own (see [`names_width`]), never over the plot.
fn row_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    names: &[String],
    x: (f64, f64),
    format: &ValueFormat,
    title: &str,
) -> Result<Plot<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let n = names.len().max(1);
    let names_w = names_width(area, names);
    let plot_w = row_plot_width(area, names) as u32;
    let style = label_style();
    let ticks = Ticks::fitting(x, format, 7, plot_w, &style);
    let title = ellipsize(title, &axis_title_style(), plot_w);
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(30)
        .margin_top(6)
        .x_label_area_size(50)
        .y_label_area_size(names_w)
        .build_cartesian_2d(x.0..x.1, 0.0..n as f64)?;
    let xf = |v: &f64| ticks.label(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .max_light_lines(0)
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .x_labels(ticks.hint)
        .y_labels(0)
        .x_label_formatter(&xf)
        .x_desc(title)
        .axis_desc_style(axis_title_style())
        .label_style(style.clone())
        .draw()?;
    for (i, name) in names.iter().enumerate() {
        let lines = wrap_px(name, &style, names_w.saturating_sub(16), 2);
        let (px, py) = chart.backend_coord(&(x.0, n as f64 - i as f64 - 0.5));
        let (lx, ly) = local(area, (px - 10, py));
        let top = ly - 9 * (lines.len() as i32 - 1);
        for (j, line) in lines.iter().enumerate() {
            area.draw(&Text::new(
                line.clone(),
                (lx, top + 18 * j as i32),
                style.pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures and terms read as words; the figure id stays in the subtitle.
    #[test]
    fn figures_and_terms_read_as_words() {
        assert_eq!(
            figure_label("p_full_repayment:senior"),
            "Probability of full repayment: senior"
        );
        assert_eq!(figure_label("payments_mean"), "Mean outcome payments");
        assert_eq!(figure_label("no_such_figure:x"), "no_such_figure: x");
        assert_eq!(term_label("outcomes.housing.price"), "Price of housing");
        assert_eq!(term_label("contract.total_cap"), "Total cap");
        assert_eq!(in_sentence("Probability of x"), "probability of x");
        assert_eq!(in_sentence("P5 of the IRR"), "P5 of the IRR");
        // Every figure of the registry has words of its own.
        for d in crate::metrics::REGISTRY {
            assert_ne!(figure_label(d.name), d.name, "{}", d.name);
        }
        assert_eq!(input_label(0.04, &ValueFormat::Percent), "4%");
        assert_eq!(input_label(0.125, &ValueFormat::Percent), "12.5%");
    }

    /// Labels of bar ends stay inside the plot on their bar's side where there is room.
    #[test]
    fn labels_are_placed_inside_the_plot() {
        // Room left of the bar end: outside.
        assert_eq!(place_label(300, 100, true, (100, 900), 500), (194, false));
        // No room outside, but the bar is wide: on the bar.
        assert_eq!(place_label(150, 100, true, (100, 900), 500), (156, true));
        // Neither: against the plot's edge, never left of it.
        assert_eq!(place_label(150, 100, true, (100, 900), 200), (102, false));
        assert_eq!(place_label(880, 100, false, (100, 900), 870), (798, false));
        // The range widens to make room, within limits.
        let (x0, x1) = room_for_labels((0.0, 10.0), 500.0, &[(0.0, 100.0, true)]);
        assert!(x1 == 10.0 && x0 < 0.0);
        let scale = 500.0 / (x1 - x0);
        assert!((0.0 - x0) * scale >= 113.9, "{x0}");
    }
}
