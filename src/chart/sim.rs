//! Charts of simulation results: payout and IRR distributions, the risk distribution, the
//! cash-flow fan and the municipality's net.

use super::theme::*;
use super::{Chart, DrawResult, slug};
use crate::montecarlo::{Band, Distribution, SummaryFile, TrancheStats};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Draws `dist` as a histogram (share of trials per bin, in %) on `area`, bars coloured by
/// `color_of(bin centre)`. Returns the plot for further marks.
fn histogram<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    dist: &Distribution,
    x_title: &str,
    x_fmt: &ValueFormat,
    color_of: &dyn Fn(f64) -> RGBColor,
    extra_x: &[f64],
    split: Option<f64>,
) -> Result<Plot<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let total = dist.total().max(1) as f64;
    let w = dist.bin_width();
    let ymax = dist
        .counts
        .iter()
        .map(|&c| c as f64 / total * 100.0)
        .fold(0.0, f64::max);
    let mut lo = dist.lo;
    let mut hi = dist.hi;
    for &x in extra_x {
        if x.is_finite() {
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    let mut chart = axes(
        area,
        x_fmt.axis_range((lo, hi), 0.04),
        (0.0, (ymax * 1.12).max(1.0)),
        x_title,
        "Share of trials (%)",
        x_fmt,
        &ValueFormat::Number,
    )?;
    let xr = (chart.x_range().start, chart.x_range().end);
    chart.draw_series(
        dist.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .flat_map(|(i, &c)| {
                let x0 = dist.lo + i as f64 * w;
                // A bin at least 0.8% of the axis wide: a run whose trials all have one value
                // (one trial, a fixed outcome) has bins of no width, and still shows its bar.
                let least = (xr.1 - xr.0) * 0.008;
                let (a, b) = if w * 0.92 >= least {
                    (x0, x0 + w * 0.92)
                } else {
                    (x0 + w / 2.0 - least / 2.0, x0 + w / 2.0 + least / 2.0)
                };
                let y = c as f64 / total * 100.0;
                bar_pieces(a, b, split).into_iter().map(move |(p, q)| {
                    Rectangle::new([(p, 0.0), (q, y)], color_of((p + q) / 2.0).filled())
                })
            }),
    )?;
    Ok(chart)
}

/// The legend entry of the dashed P5, P50 and P95 markers, with their values.
fn percentiles_entry(fmt: &ValueFormat, [p5, p50, p95]: [f64; 3]) -> (String, Mark) {
    (
        format!(
            "P5 / P50 / P95: {} / {} / {}",
            fmt.label(p5),
            fmt.label(p50),
            fmt.label(p95)
        ),
        Mark::Dashed(MARKER),
    )
}

/// The pieces of a bar from `a` to `b`, cut at `split` where it falls inside: a bin that
/// holds trials either side of break-even is drawn in both colours, not as a gain.
fn bar_pieces(a: f64, b: f64, split: Option<f64>) -> Vec<(f64, f64)> {
    match split {
        Some(s) if a < s && s < b => vec![(a, s), (s, b)],
        _ => vec![(a, b)],
    }
}

/// The trials a histogram of `dist` leaves out (its bars run from about P0.5 to P99.5), in
/// words for a subtitle, with the lowest value drawn where a tail is left out: a loss tail is
/// what a credit committee looks for. Empty when none is.
fn left_out(dist: &Distribution, fmt: &ValueFormat) -> String {
    let total = dist.total().max(1) as f64;
    let side = |n: u64, what: &str, edge: f64| {
        format!(
            "{} ({}) {what} {} not drawn",
            count(n, "trial", "trials"),
            percent(n as f64 / total),
            fmt.label(edge)
        )
    };
    let mut parts = Vec::new();
    if dist.below > 0 {
        parts.push(side(dist.below, "below", dist.lo));
    }
    if dist.above > 0 {
        parts.push(side(dist.above, "above", dist.hi));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" Bars: {}.", parts.join("; "))
    }
}

/// Draws the CDF of `dist` (from its quantile grid) on `area`.
fn cdf<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    dist: &Distribution,
    x_title: &str,
    x_fmt: &ValueFormat,
    color: RGBColor,
    extra_x: &[f64],
) -> Result<Plot<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut lo = dist.quantiles.first().copied().unwrap_or(dist.lo);
    let mut hi = dist.quantiles.last().copied().unwrap_or(dist.hi);
    for &x in extra_x {
        if x.is_finite() {
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    let mut chart = axes(
        area,
        x_fmt.axis_range((lo, hi), 0.04),
        (0.0, 1.0),
        x_title,
        "Share of trials at or below",
        x_fmt,
        &ValueFormat::Probability,
    )?;
    let xr = (chart.x_range().start, chart.x_range().end);
    chart.draw_series(LineSeries::new(cdf_points(dist, xr), color.stroke_width(3)))?;
    Ok(chart)
}

/// The CDF of `dist` as a step function through its quantile grid (P(X <= q_p) = p) across
/// the x range `xr`. Past the last grid level (P99.5) it reaches 100% only where the summary
/// says where: at the histogram's upper edge when no trial lies above it; otherwise it stays
/// at the last level known, rather than drawing a made-up slope to 100% at the axis' end.
pub(crate) fn cdf_points(dist: &Distribution, xr: (f64, f64)) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(dist.quantiles.len() * 2 + 4);
    pts.push((xr.0, 0.0));
    let mut prev = 0.0;
    for (q, p) in dist.quantiles.iter().zip(dist.quantile_levels()) {
        pts.push((*q, prev));
        pts.push((*q, p));
        prev = p;
    }
    if dist.above == 0 && prev < 1.0 {
        let top = dist.hi.max(pts.last().map_or(dist.hi, |p| p.0));
        pts.push((top, prev));
        pts.push((top, 1.0));
        prev = 1.0;
    }
    pts.push((xr.1.max(pts.last().map_or(xr.1, |p| p.0)), prev));
    pts
}

/// An investor's payout distribution: histogram of total received with P5, P50, P95 and the
/// principal marked, the probability of full repayment written on it, and the CDF beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Payout {
    /// Party id (file name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Position of the party in the results (colour).
    pub color_index: usize,
    /// Currency code.
    pub currency: String,
    /// Trials simulated.
    pub trials: u64,
    /// Distribution of total received (currency units).
    pub received: Distribution,
    /// P5, P50, P95 of total received.
    pub p5: f64,
    /// P50.
    pub p50: f64,
    /// P95.
    pub p95: f64,
    /// Principal (capital drawn, mean over trials).
    pub principal: f64,
    /// Probability of full repayment per tranche of the investor: (tranche id, probability).
    pub full_repayment: Vec<(String, f64)>,
}

impl Payout {
    /// The chart for the party at `index` of the results; `None` when the summary has no
    /// distribution for it. Total received is the net distribution plus the mean capital
    /// drawn (exact whenever the drawdowns do not depend on the trial).
    pub fn from_results(doc: &SummaryFile, index: usize) -> Option<Payout> {
        let p = doc.results.parties.get(index)?;
        let principal = p.paid.mean;
        // The exact distribution of total received when the summary has it; otherwise (older
        // summaries) the net shifted by the mean capital drawn.
        let (received, p5, p50, p95) = match &p.received_summary {
            Some(r) => (r.distribution.clone()?, r.p5, r.p50, r.p95),
            None => {
                let dist = p.net.distribution.as_ref()?;
                let mut d = dist.shifted(principal);
                d.quantiles.iter_mut().for_each(|q| *q = q.max(0.0));
                (
                    d,
                    (p.net.p5 + principal).max(0.0),
                    (p.net.p50 + principal).max(0.0),
                    (p.net.p95 + principal).max(0.0),
                )
            }
        };
        Some(Payout {
            id: p.id.clone(),
            name: p.name.clone(),
            color_index: index,
            currency: doc.scenario.currency.clone(),
            trials: doc.results.trials,
            received,
            p5,
            p50,
            p95,
            principal,
            full_repayment: doc
                .results
                .tranches
                .iter()
                .filter(|t| t.investor == p.id)
                .map(|t| (t.id.clone(), t.prob_full_repayment))
                .collect(),
        })
    }
}

impl Chart for Payout {
    fn title(&self) -> String {
        format!("{}: distribution of total received", self.name)
    }
    fn file_name(&self) -> String {
        format!("payout-{}", slug(&self.id))
    }
    fn size(&self) -> (u32, u32) {
        (1200, 560)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let repay = self
            .full_repayment
            .iter()
            .map(|(t, p)| format!("{t} {}", percent(*p)))
            .collect::<Vec<_>>()
            .join(", ");
        let sub = format!(
            "{}. Probability of full repayment (principal and return): {}. Principal (mean drawn) {}.{}",
            count(self.trials, "trial", "trials"),
            if repay.is_empty() { "-".into() } else { repay },
            money(self.principal, &self.currency),
            left_out(&self.received, &ValueFormat::Money(self.currency.clone()))
        );
        let area = titled(root, &self.title(), &sub)?;
        let fmt = ValueFormat::Money(self.currency.clone());
        let color = party_color(self.color_index);
        let area = legend_strip(
            &area,
            &[
                ("Share of trials".into(), Mark::Fill(color)),
                percentiles_entry(&fmt, [self.p5, self.p50, self.p95]),
                ("Principal".into(), Mark::Line(REFERENCE)),
            ],
        )?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 * 56 / 100);
        let x_title = format!("Total received{}", fmt.unit());
        let mut h = histogram(
            &left,
            &self.received,
            &x_title,
            &fmt,
            &|_| color,
            &[self.principal],
            None,
        )?;
        ref_lines(
            &mut h,
            &[
                RefLine::dashed(self.p5, "P5"),
                RefLine::dashed(self.p50, "P50"),
                RefLine::dashed(self.p95, "P95"),
                RefLine::solid(self.principal, REFERENCE, "Principal"),
            ],
        )?;
        let mut c = cdf(
            &right,
            &self.received,
            &x_title,
            &fmt,
            color,
            &[self.principal],
        )?;
        ref_lines(
            &mut c,
            &[RefLine::solid(self.principal, REFERENCE, "Principal")],
        )?;
        Ok(())
    }
}

/// A tranche's IRR distribution with its rate or return cap marked.
#[derive(Clone, Debug, PartialEq)]
pub struct IrrChart {
    /// Tranche id.
    pub tranche: String,
    /// Investor's display name.
    pub investor: String,
    /// Colour index of the investor.
    pub color_index: usize,
    /// Trials.
    pub trials: u64,
    /// Share of trials in which the IRR is defined.
    pub defined: f64,
    /// Distribution of the annualised IRR (fractions).
    pub irr: Distribution,
    /// P5, P50, P95.
    pub p5: f64,
    /// P50.
    pub p50: f64,
    /// P95.
    pub p95: f64,
    /// The tranche's annual rate (coupon or return cap), as a fraction.
    pub cap: f64,
    /// Probability of losing principal.
    pub prob_principal_loss: f64,
}

impl IrrChart {
    /// The chart for tranche `t`; `None` without a distribution.
    pub fn from_results(doc: &SummaryFile, t: &TrancheStats) -> Option<IrrChart> {
        let dist = t.irr.summary.distribution.as_ref()?;
        let idx = doc.results.parties.iter().position(|p| p.id == t.investor);
        Some(IrrChart {
            tranche: t.id.clone(),
            investor: idx
                .map(|i| doc.results.parties[i].name.clone())
                .unwrap_or_else(|| t.investor.clone()),
            color_index: idx.unwrap_or(0),
            trials: doc.results.trials,
            defined: t.irr.defined,
            irr: dist.clone(),
            p5: t.irr.summary.p5,
            p50: t.irr.summary.p50,
            p95: t.irr.summary.p95,
            cap: t.annual_rate,
            prob_principal_loss: t.prob_principal_loss,
        })
    }
}

impl Chart for IrrChart {
    fn title(&self) -> String {
        format!(
            "Tranche {} ({}): distribution of the annualised IRR",
            self.tranche, self.investor
        )
    }
    fn file_name(&self) -> String {
        format!("irr-{}", slug(&self.tranche))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let sub = format!(
            "{} (an IRR exists in {} of them). P5 {}, P50 {}, P95 {}. Probability of a principal loss {}.{}",
            count(self.trials, "trial", "trials"),
            percent(self.defined),
            percent(self.p5),
            percent(self.p50),
            percent(self.p95),
            percent(self.prob_principal_loss),
            left_out(&self.irr, &ValueFormat::Percent),
        );
        let area = titled(root, &self.title(), &sub)?;
        let color = party_color(self.color_index);
        let area = legend_strip(
            &area,
            &[
                ("Share of trials".into(), Mark::Fill(color)),
                ("P5, P50, P95".into(), Mark::Dashed(MARKER)),
                (
                    format!("Rate / return cap {}", percent(self.cap)),
                    Mark::Line(REFERENCE),
                ),
            ],
        )?;
        let fmt = ValueFormat::Percent;
        let mut h = histogram(
            &area,
            &self.irr,
            "Annualised IRR (%)",
            &fmt,
            &|_| color,
            &[self.cap],
            None,
        )?;
        ref_lines(
            &mut h,
            &[
                RefLine::dashed(self.p5, "P5"),
                RefLine::dashed(self.p50, "P50"),
                RefLine::dashed(self.p95, "P95"),
                RefLine::solid(self.cap, REFERENCE, &format!("Cap {}", percent(self.cap))),
            ],
        )?;
        Ok(())
    }
}

/// One party in the [`RiskChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct RiskRow {
    /// Display name.
    pub name: String,
    /// Colour index (position in the results).
    pub color_index: usize,
    /// Expected loss (currency units).
    pub expected_loss: f64,
    /// Share of the total expected loss.
    pub share_expected: f64,
    /// Share of the loss in the worst 5% of trials.
    pub share_tail: f64,
}

/// Who carries the risk: each party's share of the expected loss and of the loss in the worst
/// 5% of trials, side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskChart {
    /// Currency code.
    pub currency: String,
    /// Trials.
    pub trials: u64,
    /// Mean total loss.
    pub expected_total: f64,
    /// Mean total loss in the worst 5% of trials.
    pub tail_total: f64,
    /// Parties in contract order.
    pub rows: Vec<RiskRow>,
}

impl RiskChart {
    /// From a summary.
    pub fn from_results(doc: &SummaryFile) -> RiskChart {
        let r = &doc.results;
        RiskChart {
            currency: doc.scenario.currency.clone(),
            trials: r.trials,
            expected_total: r.risk.expected_total_loss,
            tail_total: r.risk.tail_total_loss,
            rows: r
                .risk
                .parties
                .iter()
                .map(|s| {
                    let i = r.parties.iter().position(|p| p.id == s.party);
                    RiskRow {
                        name: i
                            .map(|i| r.parties[i].name.clone())
                            .unwrap_or_else(|| s.party.clone()),
                        color_index: i.unwrap_or(0),
                        expected_loss: s.expected_loss,
                        share_expected: s.share_of_expected_loss,
                        share_tail: s.share_of_tail_loss,
                    }
                })
                .collect(),
        }
    }
}

impl Chart for RiskChart {
    fn title(&self) -> String {
        "Risk distribution: who carries the loss".into()
    }
    fn file_name(&self) -> String {
        "risk-distribution".into()
    }
    fn size(&self) -> (u32, u32) {
        (1200, (230 + 44 * self.rows.len() as u32).max(420))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let sub = if self.expected_total > 0.0 {
            format!(
                "{}. Expected total loss {}; mean total loss in the worst 5% of trials {}.",
                count(self.trials, "trial", "trials"),
                money(self.expected_total, &self.currency),
                money(self.tail_total, &self.currency)
            )
        } else {
            format!(
                "{}. No trial has a loss, so there is no loss to share: every bar is 0.",
                count(self.trials, "trial", "trials")
            )
        };
        let area = titled(root, &self.title(), &sub)?;
        // The names in a column of their own, at most a third of the chart wide: a longer
        // name wraps onto a second line and is shortened with an ellipsis beyond that, so
        // it never runs into the bars or the other panel.
        let style = label_style();
        let full = area.dim_in_pixel().0;
        let widest = self
            .rows
            .iter()
            .map(|r| text_width(&r.name, &style))
            .max()
            .unwrap_or(0);
        let names_w = (widest + 24).min(full / 3).max(60);
        let name_lines: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| wrap_px(&r.name, &style, names_w - 16, 2))
            .collect();
        let (names_col, panels) = area.split_horizontally(names_w);
        let (left, right) = panels.split_horizontally(panels.dim_in_pixel().0 / 2);
        let n = self.rows.len();
        for (k, (panel, head)) in [
            (&left, "Share of expected loss"),
            (&right, "Share of loss in the worst 5% of trials"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut chart = ChartBuilder::on(panel)
                .margin_left(8)
                .margin_right(30)
                .margin_top(6)
                .caption(head, axis_title_style())
                .x_label_area_size(40)
                .y_label_area_size(12)
                .build_cartesian_2d(0.0..1.0f64, 0.0..n.max(1) as f64)?;
            let xf = |x: &f64| percent_tick0(*x);
            chart
                .configure_mesh()
                .disable_y_mesh()
                .max_light_lines(0)
                .light_line_style(GRID)
                .bold_line_style(GRID)
                .axis_style(MUTED)
                .x_labels(6)
                .y_labels(0)
                .x_label_formatter(&xf)
                .label_style(label_style())
                .x_desc("Share (%)")
                .axis_desc_style(label_style())
                .draw()?;
            let y_of = |i: usize| n as f64 - i as f64 - 1.0;
            if k == 0 {
                for (i, lines) in name_lines.iter().enumerate() {
                    let (_, py) = chart.backend_coord(&(0.0, y_of(i) + 0.5));
                    let (_, ly) = local(&names_col, (0, py));
                    let top = ly - 9 * (lines.len() as i32 - 1);
                    for (j, line) in lines.iter().enumerate() {
                        names_col.draw(&Text::new(
                            line.clone(),
                            (names_w as i32 - 6, top + 18 * j as i32),
                            style.pos(Pos::new(HPos::Right, VPos::Center)),
                        ))?;
                    }
                }
            }
            chart.draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                let v = if k == 0 {
                    r.share_expected
                } else {
                    r.share_tail
                };
                Rectangle::new(
                    [(0.0, y_of(i) + 0.18), (v.clamp(0.0, 1.0), y_of(i) + 0.82)],
                    party_color(r.color_index).filled(),
                )
            }))?;
            let area = chart.plotting_area().strip_coord_spec();
            let (plot_l, _) = chart.backend_coord(&(0.0, 0.0));
            let (plot_r, _) = chart.backend_coord(&(1.0, 0.0));
            for (i, r) in self.rows.iter().enumerate() {
                let v = if k == 0 {
                    r.share_expected
                } else {
                    r.share_tail
                };
                let (px, py) = chart.backend_coord(&(v.clamp(0.0, 1.0), y_of(i) + 0.5));
                let mut texts = vec![percent(v)];
                if k == 0 {
                    texts.insert(
                        0,
                        format!(
                            "{} ({})",
                            percent(v),
                            money(r.expected_loss, &self.currency)
                        ),
                    );
                }
                let (x, text, inside) = bar_label(&texts, &style, (plot_l, plot_r), px);
                let style = if inside {
                    style.color(&WHITE).pos(Pos::new(HPos::Right, VPos::Center))
                } else {
                    style.pos(Pos::new(HPos::Left, VPos::Center))
                };
                area.draw(&Text::new(text, local(&area, (x, py)), style))?;
            }
        }
        Ok(())
    }
}

/// Where the label of a bar from `plot.0` to `end` (pixels) goes, inside the plot from
/// `plot.0` to `plot.1`: the first of `texts` (longest first) that fits right of the bar, or
/// else inside it (white, ending at the bar's end); the last text at the plot's right edge
/// when none fits. Returns the x to anchor at, the text, and whether it is inside the bar.
fn bar_label(
    texts: &[String],
    style: &TextStyle,
    plot: (i32, i32),
    end: i32,
) -> (i32, String, bool) {
    for t in texts {
        let w = text_width(t, style) as i32;
        if end + 6 + w <= plot.1 - 2 {
            return (end + 6, t.clone(), false);
        }
        if end - plot.0 >= w + 12 {
            return (end - 6, t.clone(), true);
        }
    }
    let t = texts.last().cloned().unwrap_or_default();
    let w = text_width(&t, style) as i32;
    ((plot.1 - 2 - w).max(plot.0), t, false)
}

fn percent_tick0(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A party's cumulative net cash over the periods: median line with P25-P75 and P5-P95 bands.
#[derive(Clone, Debug, PartialEq)]
pub struct CashFan {
    /// Party id (file name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Colour index.
    pub color_index: usize,
    /// Currency code.
    pub currency: String,
    /// One period in words (`quarter`).
    pub period: String,
    /// Trials.
    pub trials: u64,
    /// Bands by period.
    pub bands: Vec<Band>,
}

impl CashFan {
    /// The fan of the party at `index` of the results.
    pub fn from_results(doc: &SummaryFile, index: usize, period: &str) -> CashFan {
        let p = &doc.results.parties[index.min(doc.results.parties.len().saturating_sub(1))];
        CashFan {
            id: p.id.clone(),
            name: p.name.clone(),
            color_index: index,
            currency: doc.scenario.currency.clone(),
            period: period.to_string(),
            trials: doc.results.trials,
            bands: p.cash_bands.clone(),
        }
    }
}

impl Chart for CashFan {
    fn title(&self) -> String {
        format!("{}: cumulative net cash by {}", self.name, self.period)
    }
    fn file_name(&self) -> String {
        format!("cash-fan-{}", slug(&self.id))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let fmt = ValueFormat::Money(self.currency.clone());
        let last = self.bands.last();
        let sub = match last {
            Some(b) => format!(
                "{}; received minus paid, summed up to each {}. At the end: median {}, P5 {}, P95 {}.",
                count(self.trials, "trial", "trials"),
                self.period,
                fmt.label(b.p50),
                fmt.label(b.p5),
                fmt.label(b.p95)
            ),
            None => "No periods.".into(),
        };
        // A party without a cash flow in any trial gets a flat line at 0: say so.
        let none = self.bands.iter().all(|b| {
            [b.mean, b.p5, b.p25, b.p50, b.p75, b.p95]
                .iter()
                .all(|v| *v == 0.0)
        });
        let sub = if none && !self.bands.is_empty() {
            format!(
                "{}. No cash flows: the party receives and pays nothing in any trial, so its cumulative net cash is 0 throughout.",
                count(self.trials, "trial", "trials")
            )
        } else {
            sub
        };
        let area = titled(root, &self.title(), &sub)?;
        let color = party_color(self.color_index);
        let area = legend_strip(
            &area,
            &[
                ("Median".into(), Mark::Line(color)),
                ("P25-P75".into(), Mark::Fill(tint(color, 0.45))),
                ("P5-P95".into(), Mark::Fill(tint(color, 0.78))),
                ("Zero".into(), Mark::Line(MUTED)),
            ],
        )?;
        let lo = self.bands.iter().map(|b| b.p5).fold(0.0, f64::min);
        let hi = self.bands.iter().map(|b| b.p95).fold(0.0, f64::max);
        let n = self.bands.last().map(|b| b.period).unwrap_or(1) as f64;
        let x_title = format!("{}{}", capitalise(&self.period), " (end of)");
        let mut chart = axes(
            &area,
            (0.0, n),
            fmt.axis_range((lo, hi), 0.05),
            &x_title,
            &format!("Cumulative net cash{}", fmt.unit()),
            &ValueFormat::Number,
            &fmt,
        )?;
        let band = |lo: &dyn Fn(&Band) -> f64, hi: &dyn Fn(&Band) -> f64, c: RGBColor| {
            let mut pts: Vec<(f64, f64)> = vec![(0.0, 0.0)];
            pts.extend(self.bands.iter().map(|b| (b.period as f64, hi(b))));
            pts.extend(self.bands.iter().rev().map(|b| (b.period as f64, lo(b))));
            Polygon::new(pts, c.filled())
        };
        chart.draw_series(std::iter::once(band(
            &|b| b.p5,
            &|b| b.p95,
            tint(color, 0.78),
        )))?;
        chart.draw_series(std::iter::once(band(
            &|b| b.p25,
            &|b| b.p75,
            tint(color, 0.45),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n, 0.0)],
            MUTED.stroke_width(1),
        )))?;
        let mut med = vec![(0.0, 0.0)];
        med.extend(self.bands.iter().map(|b| (b.period as f64, b.p50)));
        chart.draw_series(LineSeries::new(med, color.stroke_width(3)))?;
        Ok(())
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The municipality's business case over the trials: distribution of its net (savings minus
/// payments), the break-even line and the probability of a loss.
#[derive(Clone, Debug, PartialEq)]
pub struct MunicipalityNet {
    /// Party id (file name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Currency code.
    pub currency: String,
    /// Trials.
    pub trials: u64,
    /// Distribution of net = savings - payments (currency units).
    pub net: Distribution,
    /// Mean net.
    pub mean: f64,
    /// P5 of net.
    pub p5: f64,
    /// P50.
    pub p50: f64,
    /// P95.
    pub p95: f64,
    /// Probability that net < 0 (the municipality pays more than it saves).
    pub prob_loss: f64,
}

impl MunicipalityNet {
    /// The business case of one payer (or of all payers) from a summary: `None` when the
    /// summary has no distribution of it.
    pub fn from_payer(doc: &SummaryFile, p: &crate::mkba::PayerCase) -> Option<MunicipalityNet> {
        Some(MunicipalityNet {
            id: p.id.clone(),
            name: p.name.clone(),
            currency: doc.scenario.currency.clone(),
            trials: doc.trials,
            net: p.net.distribution.clone()?,
            mean: p.net.mean,
            p5: p.net.p5,
            p50: p.net.p50,
            p95: p.net.p95,
            prob_loss: p.prob_pays_more_than_saves,
        })
    }
}

impl Chart for MunicipalityNet {
    fn title(&self) -> String {
        format!("{}: savings minus payments and costs", self.name)
    }
    fn file_name(&self) -> String {
        format!("municipality-net-{}", slug(&self.id))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let fmt = ValueFormat::Money(self.currency.clone());
        let sub = format!(
            "{}. Probability of a loss (paying more than it saves): {}. Mean {}.",
            count(self.trials, "trial", "trials"),
            percent(self.prob_loss),
            fmt.label(self.mean)
        );
        let area = titled(root, &self.title(), &sub)?;
        let area = legend_strip(
            &area,
            &[
                ("Trials with a gain".into(), Mark::Fill(GOOD)),
                ("Trials with a loss".into(), Mark::Fill(BAD)),
                percentiles_entry(&fmt, [self.p5, self.p50, self.p95]),
                ("Break-even".into(), Mark::Line(INK)),
            ],
        )?;
        let mut h = histogram(
            &area,
            &self.net,
            &format!("Net: savings minus payments and costs{}", fmt.unit()),
            &fmt,
            &|x| if x < 0.0 { BAD } else { GOOD },
            &[0.0],
            Some(0.0),
        )?;
        ref_lines(
            &mut h,
            &[
                RefLine::dashed(self.p5, "P5"),
                RefLine::dashed(self.p50, "P50"),
                RefLine::dashed(self.p95, "P95"),
                RefLine::solid(0.0, INK, "Break-even"),
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(above: u64) -> Distribution {
        Distribution {
            lo: 0.0,
            hi: 100.0,
            counts: vec![10; 10],
            below: 0,
            above,
            quantiles: (1..200).map(|i| i as f64 / 2.0).collect(),
            quantile_error: 0.0,
        }
    }

    /// A bar that spans break-even is cut there (drawn in both colours); others are whole.
    #[test]
    fn a_bar_across_break_even_is_cut_there() {
        assert_eq!(
            bar_pieces(-5.0, 3.0, Some(0.0)),
            vec![(-5.0, 0.0), (0.0, 3.0)]
        );
        assert_eq!(bar_pieces(0.0, 3.0, Some(0.0)), vec![(0.0, 3.0)]);
        assert_eq!(bar_pieces(-5.0, -1.0, Some(0.0)), vec![(-5.0, -1.0)]);
        assert_eq!(bar_pieces(-5.0, 3.0, None), vec![(-5.0, 3.0)]);
    }

    /// The CDF reaches 100% only where the summary says: at the bins' upper edge when no
    /// trial lies above it, never on a made-up slope from P99.5 to the axis' end.
    #[test]
    fn the_cdf_has_no_made_up_tail() {
        for above in [0, 5] {
            let pts = cdf_points(&dist(above), (-5.0, 120.0));
            // A step function: every segment is flat or vertical.
            for w in pts.windows(2) {
                assert!(w[0].0 == w[1].0 || w[0].1 == w[1].1, "{w:?}");
            }
            let last = *pts.last().unwrap();
            assert_eq!(last.0, 120.0);
            if above == 0 {
                assert_eq!(last.1, 1.0);
                assert!(pts.contains(&(100.0, 1.0)));
            } else {
                assert!((last.1 - 0.995).abs() < 1e-12, "{last:?}");
            }
        }
    }
}
