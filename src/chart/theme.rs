//! What every chart shares: the embedded font, the colours (one per party, keyed by the
//! party's position in the results), text styles, number formats, the title block, the legend
//! strip and the standard axes. A new chart uses these and adds only its own marks.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

/// The font family name the charts ask for. The bitmap backend draws it with the embedded
/// DejaVu Sans; an SVG names it, so a browser uses DejaVu Sans where installed and its own
/// sans-serif face otherwise.
pub const FONT: &str = "DejaVu Sans, Arial, Helvetica, sans-serif";

static FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Registers the embedded font (once per process). Charts never touch system fonts.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled into the binary; a failure here is a
        // build defect that the tests catch (text would be missing), not a user error.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_REGULAR);
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, FONT_BOLD);
    });
}

/// Near-black for text and axes.
pub const INK: RGBColor = RGBColor(0x26, 0x2B, 0x33);
/// Grey for secondary text.
pub const MUTED: RGBColor = RGBColor(0x5F, 0x66, 0x70);
/// Light grey for grid lines.
pub const GRID: RGBColor = RGBColor(0xE3, 0xE6, 0xEA);
/// Reference lines (principal, break-even, cap, base value).
pub const REFERENCE: RGBColor = RGBColor(0xB0, 0x1E, 0x2D);
/// Percentile markers.
pub const MARKER: RGBColor = RGBColor(0x33, 0x33, 0x33);
/// A good outcome (pass, gain).
pub const GOOD: RGBColor = RGBColor(0x3B, 0x8E, 0x4F);
/// A bad outcome (fail, loss).
pub const BAD: RGBColor = RGBColor(0xC8, 0x3E, 0x3E);
/// Neither (conditional).
pub const AMBER: RGBColor = RGBColor(0xE0, 0x9A, 0x1E);
/// Not evaluated.
pub const NEUTRAL: RGBColor = RGBColor(0xB8, 0xBE, 0xC6);

/// One colour per party, by the party's position in the results (contract order), so a
/// party looks the same in every chart. Colour-blind-safe order (Tableau 10, reordered).
pub const PARTY_COLORS: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0x79, 0x70, 0x6E),
];

/// The colour of the party at position `index` of [`crate::montecarlo::Results::parties`].
pub fn party_color(index: usize) -> RGBColor {
    PARTY_COLORS[index % PARTY_COLORS.len()]
}

/// The colour as CSS `#rrggbb` (for the report's tables).
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A lighter tint of `c` (`t` = 0: unchanged; 1: white).
pub fn tint(c: RGBColor, t: f64) -> RGBColor {
    let m = |x: u8| (x as f64 + (255.0 - x as f64) * t).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Chart title.
pub fn title_style() -> TextStyle<'static> {
    (FONT, 24, FontStyle::Bold).into_font().color(&INK)
}
/// Line under the title (what, how many trials, key probability).
pub fn subtitle_style() -> TextStyle<'static> {
    (FONT, 16).into_font().color(&MUTED)
}
/// Axis titles.
pub fn axis_title_style() -> TextStyle<'static> {
    (FONT, 17).into_font().color(&INK)
}
/// Tick labels and annotations.
pub fn label_style() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&INK)
}
/// Bold tick-size text (node labels).
pub fn bold_label_style() -> TextStyle<'static> {
    (FONT, 15, FontStyle::Bold).into_font().color(&INK)
}
/// Small text (legend, cell labels).
pub fn small_style() -> TextStyle<'static> {
    (FONT, 14).into_font().color(&INK)
}

/// How the numbers on an axis or label read.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueFormat {
    /// An amount in the given currency: `EUR 1,234,567` (labels) or `1,234,567` (ticks, with
    /// the currency in the axis title).
    Money(String),
    /// A fraction shown as a percentage: `0.125` -> `12.5%`.
    Percent,
    /// A multiple: `1.25x`.
    Multiple,
    /// A plain number with thousands separators.
    Number,
}

impl ValueFormat {
    /// A tick label (no currency code: the axis title carries it).
    pub fn tick(&self, x: f64) -> String {
        match self {
            ValueFormat::Money(_) => thousands(x),
            ValueFormat::Number => number(x),
            ValueFormat::Percent => percent_tick(x),
            ValueFormat::Multiple => format!("{x:.2}x"),
        }
    }
    /// A label in text: `EUR 1,234,567`, `12.5%`, `1.25x`.
    pub fn label(&self, x: f64) -> String {
        match self {
            ValueFormat::Money(c) => money(x, c),
            ValueFormat::Percent => percent(x),
            ValueFormat::Multiple => format!("{x:.2}x"),
            ValueFormat::Number => number(x),
        }
    }
    /// The unit for an axis title, e.g. ` (EUR)`, ` (%)`.
    pub fn unit(&self) -> String {
        match self {
            ValueFormat::Money(c) => format!(" ({c})"),
            ValueFormat::Percent => " (%)".into(),
            ValueFormat::Multiple => " (x)".into(),
            ValueFormat::Number => String::new(),
        }
    }
}

/// A number with up to six decimals, as many as it needs, and thousands separators:
/// `1,626.7`, `708,000`, `0.0525`, `-1,000.45`.
pub fn number(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    let (sign, s) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match (sign, grouped.as_str(), frac) {
        (_, "0", "") => "0".to_string(),
        (_, _, "") => format!("{sign}{grouped}"),
        _ => format!("{sign}{grouped}.{frac}"),
    }
}

/// `x` rounded to a whole number with thousands separators: `-1,234,567`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let whole = x.abs().round() as u64;
    let sign = if x < 0.0 && whole != 0 { "-" } else { "" };
    format!("{sign}{}", grouped(whole))
}

/// `n` with thousands separators: `1,234,567`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut g = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            g.push(',');
        }
        g.push(ch);
    }
    g
}

/// A count with its noun, in the singular for one: `1 trial`, `10,000 trials`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// An amount with its currency: `EUR 1,234,567`.
pub fn money(x: f64, currency: &str) -> String {
    format!("{currency} {}", thousands(x))
}

/// A fraction as a percentage with one decimal: `0.1234` -> `12.3%`.
/// A share or a probability in % to one decimal. One that is not 0 or 1 but would round to
/// them reads `<0.1%` or `>99.9%`: 99.97% of trials is not certainty.
pub fn percent(x: f64) -> String {
    let shown = format!("{:.1}%", x * 100.0);
    if x > 0.0 && shown == "0.0%" {
        "<0.1%".to_string()
    } else if x < 1.0 && shown == "100.0%" {
        ">99.9%".to_string()
    } else {
        shown
    }
}

fn percent_tick(x: f64) -> String {
    let p = x * 100.0;
    if p.abs() < 1e-9 {
        "0%".into()
    } else if (p - p.round()).abs() < 1e-6 {
        format!("{:.0}%", p)
    } else {
        format!("{:.1}%", p)
    }
}

/// Draws the title and subtitle at the top of `root` and returns the area below them.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    root.draw(&Text::new(title.to_string(), (20, 14), title_style()))?;
    let mut top = 46;
    if !subtitle.is_empty() {
        // Wrapped at word boundaries to the chart's width, so a long subtitle is never cut.
        let style = subtitle_style();
        let room = root.dim_in_pixel().0.saturating_sub(40);
        let mut lines: Vec<String> = Vec::new();
        for word in subtitle.split(' ') {
            let longer = match lines.last() {
                Some(l) => format!("{l} {word}"),
                None => word.to_string(),
            };
            let fits = root.estimate_text_size(&longer, &style)?.0 <= room;
            match lines.last_mut() {
                Some(l) if fits => *l = longer,
                _ => lines.push(word.to_string()),
            }
        }
        for (i, line) in lines.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (20, 46 + 22 * i as i32),
                style.clone(),
            ))?;
        }
        top = 74 + 22 * (lines.len() as i32 - 1).max(0);
    }
    Ok(root.split_vertically(top).1)
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    /// A filled box.
    Fill(RGBColor),
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
}

/// Draws a one-line legend in its own strip at the top of `area` (so it never covers data)
/// and returns the area below it.
pub fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, Mark)],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    if items.is_empty() {
        return Ok(area.clone());
    }
    let (w, _) = area.dim_in_pixel();
    let style = small_style();
    let mut x = 24i32;
    let mut y = 6i32;
    for (label, mark) in items {
        let tw = area.estimate_text_size(label, &style)?.0 as i32;
        if x + 30 + tw > w as i32 - 10 && x > 24 {
            x = 24;
            y += 22;
        }
        match *mark {
            Mark::Fill(c) => {
                area.draw(&Rectangle::new([(x, y + 2), (x + 18, y + 14)], c.filled()))?;
            }
            Mark::Line(c) => {
                area.draw(&PathElement::new(
                    vec![(x, y + 8), (x + 22, y + 8)],
                    c.stroke_width(3),
                ))?;
            }
            Mark::Dashed(c) => {
                for k in 0..3 {
                    let x0 = x + k * 8;
                    area.draw(&PathElement::new(
                        vec![(x0, y + 8), (x0 + 5, y + 8)],
                        c.stroke_width(2),
                    ))?;
                }
            }
        }
        area.draw(&Text::new(label.clone(), (x + 28, y + 2), style.clone()))?;
        x += 28 + tw + 22;
    }
    Ok(area.split_vertically(y + 28).1)
}

/// The standard chart frame: axes with titles (units included), light grid, formatted ticks.
pub type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Builds a [`Plot`] on `area` over the given ranges.
pub fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: (f64, f64),
    y: (f64, f64),
    x_title: &str,
    y_title: &str,
    x_fmt: &ValueFormat,
    y_fmt: &ValueFormat,
) -> Result<Plot<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (x0, x1) = nonempty(x);
    let (y0, y1) = nonempty(y);
    let mut chart = ChartBuilder::on(area)
        .margin_left(12)
        .margin_right(28)
        .margin_top(24)
        .margin_bottom(8)
        .x_label_area_size(50)
        .y_label_area_size(if y_title.is_empty() { 60 } else { 96 })
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let xf = |v: &f64| x_fmt.tick(*v);
    let yf = |v: &f64| y_fmt.tick(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .x_labels(7)
        .y_labels(7)
        .x_desc(x_title)
        .y_desc(y_title)
        .axis_desc_style(axis_title_style())
        .label_style(label_style())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .draw()?;
    Ok(chart)
}

/// A range that is never empty (a chart of one value still gets a visible axis).
pub fn nonempty((a, b): (f64, f64)) -> (f64, f64) {
    let (a, b) = if a.is_finite() && b.is_finite() {
        (a.min(b), a.max(b))
    } else {
        (0.0, 1.0)
    };
    if b - a > 1e-12 * a.abs().max(b.abs()).max(1e-9) {
        (a, b)
    } else {
        let pad = (a.abs() * 0.05).max(1.0);
        (a - pad, b + pad)
    }
}

/// `(lo, hi)` widened by `frac` of its width on both sides.
pub fn padded((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let w = (hi - lo).abs().max(1e-9);
    (lo - w * frac, hi + w * frac)
}

/// A vertical reference line (principal, cap, break-even, a percentile).
#[derive(Clone, Debug)]
pub struct RefLine {
    /// Where, in data units.
    pub x: f64,
    /// Colour.
    pub color: RGBColor,
    /// Dashed (percentiles) or solid (reference values).
    pub dashed: bool,
    /// Short label written above the plot, e.g. `P50` or `Principal`.
    pub label: String,
}

impl RefLine {
    /// A solid reference line.
    pub fn solid(x: f64, color: RGBColor, label: &str) -> RefLine {
        RefLine {
            x,
            color,
            dashed: false,
            label: label.into(),
        }
    }
    /// A dashed line (percentiles).
    pub fn dashed(x: f64, label: &str) -> RefLine {
        RefLine {
            x,
            color: MARKER,
            dashed: true,
            label: label.into(),
        }
    }
}

/// Converts a backend pixel to coordinates local to `area` (for drawing text next to data).
pub fn local<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    (x, y): (i32, i32),
) -> (i32, i32) {
    let (bx, by) = area.get_base_pixel();
    (x - bx, y - by)
}

/// Draws vertical reference lines across the plot, each labelled above the plot area (in the
/// top margin, so labels never cover data); two lines closer than 60 pixels have their labels
/// set apart, one ending and one starting at its line; three or more share one label
/// (`P50, P95, Cap 10%`); labels that would still touch are moved apart along the row, inside
/// the picture.
pub fn ref_lines<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    lines: &[RefLine],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let xr = chart.x_range();
    let yr = chart.y_range();
    let mut shown: Vec<(i32, &RefLine)> = Vec::new();
    for l in lines {
        if !l.x.is_finite() || l.x < xr.start || l.x > xr.end {
            continue;
        }
        let style = l.color.stroke_width(2);
        if l.dashed {
            let n = 40;
            let h = (yr.end - yr.start) / n as f64;
            chart.draw_series((0..n).step_by(2).map(|i| {
                let y0 = yr.start + i as f64 * h;
                PathElement::new(vec![(l.x, y0), (l.x, y0 + h)], style)
            }))?;
        } else {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(l.x, yr.start), (l.x, yr.end)],
                style,
            )))?;
        }
        shown.push((chart.backend_coord(&(l.x, yr.end)).0, l));
    }
    shown.sort_by_key(|(px, _)| *px);
    let top = chart.backend_coord(&(xr.start, yr.end)).1;
    let root = chart.plotting_area().strip_coord_spec();
    let (w, _) = root.dim_in_pixel();
    let mut groups: Vec<Vec<(i32, &RefLine)>> = Vec::new();
    for s in shown {
        match groups.last_mut() {
            Some(g) if s.0 - g.last().map(|x| x.0).unwrap_or(0) < 60 => g.push(s),
            _ => groups.push(vec![s]),
        }
    }
    // Each label as (text, colour, its left end in the area's pixels, width); placed below.
    let width = |t: &str| {
        root.estimate_text_size(t, &small_style())
            .map(|(tw, _)| tw as i32)
    };
    let mut placed: Vec<(String, RGBColor, i32, i32)> = Vec::new();
    let ly = local(&root, (0, top - 4)).1;
    for g in groups {
        // Two close lines: each label at its own line, the left one ending just left of it
        // and the right one starting just right of its own, in its line's colour (one shared
        // label would read as if the two values were the same); moved in together where one
        // would leave the picture.
        if let [(p0, l0), (p1, l1)] = g.as_slice()
            && !l0.label.is_empty()
            && !l1.label.is_empty()
        {
            let (w0, w1) = (width(&l0.label)?, width(&l1.label)?);
            let mut end0 = local(&root, (*p0 - 3, top)).0;
            let mut start1 = local(&root, (*p1 + 3, top)).0;
            let over = start1 + w1 - (w as i32 - 2);
            if over > 0 {
                start1 -= over;
                end0 = end0.min(start1 - 6);
            }
            let under = 2 - (end0 - w0);
            if under > 0 {
                end0 += under;
                start1 = start1.max(end0 + 6);
            }
            for (left, l, tw) in [(end0 - w0, *l0, w0), (start1, *l1, w1)] {
                let color = if l.dashed { MARKER } else { l.color };
                placed.push((l.label.clone(), color, left, tw));
            }
            continue;
        }
        let labels: Vec<&str> = g
            .iter()
            .map(|(_, l)| l.label.as_str())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            continue;
        }
        let px = g.iter().map(|(p, _)| *p).sum::<i32>() / g.len() as i32;
        let color = g
            .iter()
            .find(|(_, l)| !l.dashed)
            .map(|(_, l)| l.color)
            .unwrap_or(MARKER);
        let text = labels.join(", ");
        let tw = width(&text)?;
        // Centred on the line, kept inside the picture.
        let lx = local(&root, (px, top)).0;
        let left = (lx - tw / 2).clamp(2, (w as i32 - 2 - tw).max(2));
        placed.push((text, color, left, tw));
    }
    // Labels that would touch are set apart along the row (the area clips anything drawn
    // above it): each starts at least a gap after the one before, then, where the last would
    // leave the picture, they move back left together, as little as each can.
    const GAP: i32 = 8;
    placed.sort_by_key(|p| p.2);
    for k in 1..placed.len() {
        let end = placed[k - 1].2 + placed[k - 1].3;
        placed[k].2 = placed[k].2.max(end + GAP);
    }
    let right = w as i32 - 2;
    for k in (0..placed.len()).rev() {
        let limit = match placed.get(k + 1) {
            Some(next) => next.2 - GAP,
            None => right,
        };
        let (left, tw) = (placed[k].2, placed[k].3);
        placed[k].2 = left.min(limit - tw).max(2);
    }
    for (text, color, left, _) in placed {
        root.draw(&Text::new(
            text,
            (left, ly),
            small_style()
                .color(&color)
                .pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))?;
    }
    Ok(())
}

/// The width in pixels of the widest of `labels` in `style`, plus `pad` (for label areas).
pub fn label_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: impl IntoIterator<Item = impl AsRef<str>>,
    style: &TextStyle,
    pad: u32,
) -> u32 {
    labels
        .into_iter()
        .filter_map(|l| area.estimate_text_size(l.as_ref(), style).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(0)
        + pad
}

/// Splits a label into lines of at most `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(-1_000.0), "-1,000");
        assert_eq!(thousands(-0.2), "0");
        assert_eq!(number(1_626.7), "1,626.7");
        assert_eq!(number(708_000.0), "708,000");
        assert_eq!(number(0.0525), "0.0525");
        assert_eq!(number(-1_000.45), "-1,000.45");
        assert_eq!(number(1_000.200_000_000_1), "1,000.2");
        assert_eq!(number(-0.000_000_1), "0");
        // A probability near but not at 0 or 1 does not read as impossible or certain.
        assert_eq!(percent(0.9997), ">99.9%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.9995), ">99.9%");
        assert_eq!(percent(0.00049999), "<0.1%");
        assert_eq!(percent(0.0003), "<0.1%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(0.271), "27.1%");
        assert_eq!(percent(-1.0), "-100.0%");
        assert_eq!(count(1, "trial", "trials"), "1 trial");
        assert_eq!(count(0, "trial", "trials"), "0 trials");
        assert_eq!(count(1_000_000, "trial", "trials"), "1,000,000 trials");
        assert_eq!(count(u64::MAX, "x", "xs"), "18,446,744,073,709,551,615 xs");
        assert_eq!(money(250_000.0, "EUR"), "EUR 250,000");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(ValueFormat::Percent.tick(0.1), "10%");
        assert_eq!(ValueFormat::Percent.tick(0.125), "12.5%");
        assert_eq!(wrap("Is there a business case for it", 12).len(), 3);
        assert_eq!(nonempty((5.0, 5.0)), (4.0, 6.0));
    }
}
