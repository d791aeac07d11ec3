//! Charts of simulation, MKBA, feasibility and stress results, rendered with plotters to PNG
//! (bytes) or SVG (text) in memory, with an embedded font so they look the same on a machine
//! without fonts. No IO: the CLI writes the bytes.
//!
//! # Adding a chart
//!
//! A chart is a struct of plain data (the numbers to draw, already computed) implementing
//! [`Chart`]: a title, a file name and one `draw` function that uses the shared pieces in
//! [`theme`] (title block, legend strip, axes with formatted ticks, reference lines, party
//! colours). [`render`] turns any chart into PNG or SVG.
//!
//! | chart | data | file name |
//! |---|---|---|
//! | [`Payout`] | an investor's distribution of total received | `payout-INVESTOR` |
//! | [`IrrChart`] | a tranche's IRR distribution and rate cap | `irr-TRANCHE` |
//! | [`RiskChart`] | each party's share of expected and tail loss | `risk-distribution` |
//! | [`CashFan`] | a party's cumulative net cash bands by period | `cash-fan-PARTY` |
//! | [`MunicipalityNet`] | a payer's net (savings - payments) | `municipality-net-PARTY` |
//! | [`DecisionTree`] | the feasibility walk | `decision-tree` |
//! | [`Tornado`] | ranked low/high bars around a base value | chosen by the caller |
//! | [`Sweep`] | one or more lines with a ±2 SE band | chosen by the caller |
//! | [`Heatmap`] | a value on an x × y grid | chosen by the caller |

mod sim;
mod stress;
pub mod theme;
mod tree;

pub use sim::{CashFan, IrrChart, MunicipalityNet, Payout, RiskChart, RiskRow};
pub use stress::{
    Heatmap, StressChart, StressPoint, Sweep, SweepPoint, SweepSeries, Tornado, TornadoBar,
};
pub use theme::{ValueFormat, party_color};
pub use tree::{DecisionTree, NodeStatus, TreeEdge, TreeNode};

use crate::montecarlo::SummaryFile;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The error type of a chart's `draw`.
pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A chart that could not be drawn (a bug rather than bad input: charts accept any numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ChartError {}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG bytes.
    Png,
    /// SVG text (UTF-8 bytes).
    Svg,
}

impl Format {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
}

/// One chart: plain data and how to draw it.
pub trait Chart {
    /// The title drawn on the chart (also the report's figure caption).
    fn title(&self) -> String;
    /// A stable, descriptive file name without extension, e.g. `payout-bank`.
    fn file_name(&self) -> String;
    /// Size in pixels (width, height).
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }
    /// Draws the chart on `root` (the whole canvas).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A rendered chart.
#[derive(Clone, Debug)]
pub struct RenderedChart {
    /// File name without extension.
    pub name: String,
    /// The chart's title.
    pub title: String,
    /// PNG bytes or SVG text.
    pub bytes: Vec<u8>,
}

/// Renders `chart` as PNG or SVG.
pub fn render<C: Chart>(chart: &C, format: Format) -> Result<RenderedChart, ChartError> {
    theme::register_fonts();
    let (w, h) = chart.size();
    let fail = |e: Box<dyn std::error::Error>| {
        ChartError(format!(
            "cannot draw the chart `{}`: {e}",
            chart.file_name()
        ))
    };
    let bytes = match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                chart.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.into()))?;
            }
            svg_font_sizes(&text).into_bytes()
        }
        Format::Png => {
            let mut rgb = vec![255u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                chart.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.into()))?;
            }
            encode_png(&rgb, w, h).map_err(|e| fail(e.into()))?
        }
    };
    Ok(RenderedChart {
        name: chart.file_name(),
        title: chart.title(),
        bytes,
    })
}

/// plotters' SVG backend writes `font-size` as the requested size / 1.24, while the layout
/// (and the PNG) measured the embedded font at a pixel height (ascent + descent) of the
/// requested size, which for DejaVu Sans is an em of size x 2048 / 2384. Write that em, so a
/// browser with DejaVu Sans draws the text exactly as wide as the layout assumed (and one with
/// a narrower sans-serif face a little narrower).
fn svg_font_sizes(svg: &str) -> String {
    const KEY: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let end = rest.find('"').unwrap_or(0);
        match rest[..end].parse::<f64>() {
            Ok(v) => out.push_str(&format!("{:.1}", v * 1.24 * 2048.0 / 2384.0)),
            Err(_) => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// A file-name-safe form of an identifier: lower case letters, digits and `-`.
pub fn slug(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "x".into() } else { s }
}

/// Every chart a simulation's summary supports, in report order: per investor the payout
/// distribution, per tranche the IRR distribution, the risk distribution, and per party the
/// cash-flow fan. `period` names one period (e.g. `quarter`) for the fan's axis.
pub fn simulation_charts(
    doc: &SummaryFile,
    period: &str,
    format: Format,
) -> Result<Vec<RenderedChart>, ChartError> {
    let mut out = Vec::new();
    let r = &doc.results;
    for (i, p) in r.parties.iter().enumerate() {
        if p.role != crate::contract::Role::Investor {
            continue;
        }
        if let Some(c) = Payout::from_results(doc, i) {
            out.push(render(&c, format)?);
        }
    }
    for t in &r.tranches {
        if let Some(c) = IrrChart::from_results(doc, t) {
            out.push(render(&c, format)?);
        }
    }
    out.push(render(&RiskChart::from_results(doc), format)?);
    for i in 0..r.parties.len() {
        out.push(render(&CashFan::from_results(doc, i, period), format)?);
    }
    if let Some(b) = &r.business_case {
        for p in b.payers.iter().chain(std::iter::once(&b.all_payers)) {
            if let Some(c) = MunicipalityNet::from_payer(doc, p) {
                out.push(render(&c, format)?);
            }
        }
    }
    Ok(out)
}
