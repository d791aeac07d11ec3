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
/// A good outcome (pass, gain): blue, not green, so that good and bad stay apart for readers
/// with red-green colour blindness (the two ends of ColorBrewer's RdYlBu, a scale made to be
/// read by them).
pub const GOOD: RGBColor = RGBColor(0x2C, 0x7B, 0xB6);
/// A bad outcome (fail, loss): red, against the blue of [`GOOD`].
pub const BAD: RGBColor = RGBColor(0xD7, 0x30, 0x27);
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
    /// A fraction shown as a percentage: `0.125` -> `12.5%` (a rate or a share: never below
    /// -100%).
    Percent,
    /// A probability shown as a percentage: like [`ValueFormat::Percent`], between 0% and
    /// 100%.
    Probability,
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
            ValueFormat::Percent | ValueFormat::Probability => percent_tick(x),
            ValueFormat::Multiple => format!("{x:.2}x"),
        }
    }
    /// The labels of an axis' ticks `values` (ascending): one number of decimals for all of
    /// them, as few as keep every label distinct and within a thousandth of a step of its value
    /// (`5.90%, 5.95%, 6.00%`, not `5.9%, 6.0%, 6.0%, 6%`); amounts of ten million or more in
    /// millions (`185 M`); a value outside what the figure can be (a probability below 0% or
    /// above 100%, a rate below -100%) gets no label.
    pub fn tick_labels(&self, values: &[f64]) -> Vec<String> {
        let biggest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (scale, suffix) = match self {
            ValueFormat::Percent | ValueFormat::Probability => (100.0, "%"),
            ValueFormat::Money(_) if biggest >= 1e7 => (1e-6, " M"),
            ValueFormat::Money(_) | ValueFormat::Number => (1.0, ""),
            ValueFormat::Multiple => (1.0, "x"),
        };
        let scaled: Vec<f64> = values.iter().map(|v| v * scale).collect();
        let step = scaled
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .filter(|d| *d > 0.0)
            .fold(f64::INFINITY, f64::min);
        let step = if step.is_finite() {
            step
        } else {
            scaled.first().map_or(1.0, |v| v.abs().max(1e-9))
        };
        let least = if matches!(self, ValueFormat::Multiple) {
            1
        } else {
            0
        };
        let mut labels = Vec::new();
        for d in least..=9 {
            let k = 10f64.powi(d as i32);
            let exact = scaled
                .iter()
                .all(|s| ((s * k).round() / k - s).abs() <= step * 1e-3);
            labels = scaled.iter().map(|s| fixed(*s, d)).collect();
            let mut sorted = labels.clone();
            sorted.sort();
            sorted.dedup();
            if exact && sorted.len() == labels.len() {
                break;
            }
        }
        let (lo, hi) = self.bounds();
        values
            .iter()
            .zip(labels)
            .map(|(v, l)| {
                let tol = 1e-9 * (hi - lo).abs().clamp(1e-9, 1.0);
                if *v < lo - tol || *v > hi + tol {
                    String::new()
                } else {
                    format!("{l}{suffix}")
                }
            })
            .collect()
    }
    /// The values the figure can take: 0 to 1 for a probability, -1 and up for a rate.
    pub fn bounds(&self) -> (f64, f64) {
        match self {
            ValueFormat::Probability => (0.0, 1.0),
            ValueFormat::Percent => (-1.0, f64::INFINITY),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }
    /// An axis range for values from `lo` to `hi` (either order) with `frac` of its width
    /// added on both sides: a range of one value (every trial the same, no cash flows) gets a
    /// width that suits the unit (a percentage point around a rate, 5 points above a
    /// probability of 0, an amount of 1 around 0); the padding stops a little past what the
    /// figure can be (no probability axis from -100% to +100%).
    pub fn axis_range(&self, (lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo.min(hi), lo.max(hi))
        } else {
            (0.0, 0.0)
        };
        let (d0, d1) = (lo, hi);
        let mag = lo.abs().max(hi.abs());
        let tiny = match self {
            ValueFormat::Percent | ValueFormat::Probability | ValueFormat::Multiple => 1e-6,
            ValueFormat::Money(_) => 1e-3,
            ValueFormat::Number => 1e-9,
        };
        let (lo, hi) = if hi - lo <= (mag * 1e-7).max(tiny) {
            let c = (lo + hi) / 2.0;
            let pad = match self {
                ValueFormat::Probability => 0.05,
                ValueFormat::Percent => (c.abs() * 0.1).max(0.01),
                ValueFormat::Multiple => (c.abs() * 0.05).max(0.05),
                ValueFormat::Money(_) | ValueFormat::Number => (c.abs() * 0.05).max(1.0),
            };
            (c - pad, c + pad)
        } else {
            let w = hi - lo;
            (lo - w * frac, hi + w * frac)
        };
        let (b0, b1) = self.bounds();
        let slack = (hi - lo) * 0.03;
        let lo = if d0 >= b0 { lo.max(b0 - slack) } else { lo };
        let hi = if d1 <= b1 { hi.min(b1 + slack) } else { hi };
        (lo, hi)
    }
    /// A label in text: `EUR 1,234,567`, `12.5%`, `1.25x`.
    pub fn label(&self, x: f64) -> String {
        match self {
            ValueFormat::Money(c) => money(x, c),
            ValueFormat::Percent | ValueFormat::Probability => percent(x),
            ValueFormat::Multiple => format!("{x:.2}x"),
            ValueFormat::Number => number(x),
        }
    }
    /// The unit for an axis title, e.g. ` (EUR)`, ` (%)`.
    pub fn unit(&self) -> String {
        match self {
            ValueFormat::Money(c) => format!(" ({c})"),
            ValueFormat::Percent | ValueFormat::Probability => " (%)".into(),
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

/// `x` with `d` decimals and thousands separators, never `-0`: `-1,234.50`.
pub fn fixed(x: f64, d: usize) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{:.d$}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let zero = s.chars().all(|c| c == '0' || c == '.');
    let sign = if x < 0.0 && !zero { "-" } else { "" };
    let int = grouped(int.parse().unwrap_or(0));
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
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

/// The width in pixels of `text` in `style`, from the embedded font's metrics (the same on
/// every backend).
pub fn text_width(text: &str, style: &TextStyle) -> u32 {
    register_fonts();
    style.font.box_size(text).map_or(0, |(w, _)| w)
}

/// `text` as it fits in `max` pixels: whole, or shortened at the end with an ellipsis.
pub fn ellipsize(text: &str, style: &TextStyle, max: u32) -> String {
    if text_width(text, style) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let cut = |n: usize| format!("{}…", chars[..n].iter().collect::<String>().trim_end());
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text_width(&cut(mid), style) <= max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    cut(lo)
}

/// `text` in lines of at most `max` pixels in `style`, at most `max_lines` of them: broken
/// at spaces, a word wider than a line after a `-`, `:`, `.`, `/` or `_` (or anywhere); the
/// last line ends in an ellipsis where text is left out.
pub fn wrap_px(text: &str, style: &TextStyle, max: u32, max_lines: usize) -> Vec<String> {
    let fits = |t: &str| text_width(t, style) <= max;
    // Pieces, each with whether a space goes before it.
    let mut pieces: Vec<(String, bool)> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if fits(word) {
            pieces.push((word.to_string(), true));
            continue;
        }
        let mut first = true;
        let mut part = String::new();
        for ch in word.chars() {
            part.push(ch);
            if matches!(ch, '-' | ':' | '.' | '/' | '_') {
                pieces.push((std::mem::take(&mut part), first));
                first = false;
            }
        }
        if !part.is_empty() {
            pieces.push((part, first));
        }
    }
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    for (piece, space) in pieces {
        if let Some(last) = lines.last_mut() {
            let longer = if space {
                format!("{last} {piece}")
            } else {
                format!("{last}{piece}")
            };
            if fits(&longer) {
                *last = longer;
                continue;
            }
        }
        // A piece wider than a line on its own is cut anywhere: at the longest prefix that
        // fits (found by halving; a glyph is at least a pixel wide, so no line holds more
        // than `max` characters). Past the lines shown, the rest goes whole to the ellipsis.
        let mut rest: Vec<char> = piece.chars().collect();
        while !rest.is_empty() {
            if lines.len() > max_lines {
                lines.push(rest.iter().collect());
                break;
            }
            let (mut lo, mut hi) = (1, rest.len().min(max.max(1) as usize));
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if fits(&rest[..mid].iter().collect::<String>()) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lines.push(rest[..lo].iter().collect());
            rest.drain(..lo);
        }
    }
    if lines.len() > max_lines {
        let rest = lines[max_lines - 1..].join(" ");
        lines.truncate(max_lines - 1);
        lines.push(ellipsize(&format!("{rest} …"), style, max));
    }
    lines
}

/// The ticks of one axis: the values plotters marks for a hint of `hint` labels, and their
/// labels (see [`ValueFormat::tick_labels`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// The hint given to plotters (`x_labels`, `y_labels`), which gives these values.
    pub hint: usize,
    /// The values marked.
    pub values: Vec<f64>,
    /// Their labels.
    pub labels: Vec<String>,
}

impl Ticks {
    /// The ticks plotters draws over `range` for at most `hint` labels. An amount gets whole
    /// units only: fewer ticks where there would be cents.
    pub fn new(range: (f64, f64), fmt: &ValueFormat, hint: usize) -> Ticks {
        use plotters::coord::ranged1d::Ranged;
        let mut hint = hint.max(1);
        loop {
            let values = RangedCoordf64::from(range.0..range.1).key_points(hint);
            let step = values
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(f64::INFINITY, f64::min);
            if matches!(fmt, ValueFormat::Money(_)) && step < 0.999 && hint > 2 {
                hint -= 1;
                continue;
            }
            let labels = fmt.tick_labels(&values);
            return Ticks {
                hint,
                values,
                labels,
            };
        }
    }
    /// The most ticks (up to `hint`) whose labels in `style`, centred on their ticks along an
    /// axis `room` pixels long, keep a gap between them.
    pub fn fitting(
        range: (f64, f64),
        fmt: &ValueFormat,
        hint: usize,
        room: u32,
        style: &TextStyle,
    ) -> Ticks {
        let span = (range.1 - range.0).abs().max(1e-300);
        let mut t = Ticks::new(range, fmt, hint);
        while t.hint > 2 {
            let step = t
                .values
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(f64::INFINITY, f64::min);
            let widest = t.widest(style) as f64;
            if !step.is_finite() || room as f64 * step / span >= widest + 14.0 {
                break;
            }
            t = Ticks::new(range, fmt, t.hint - 1);
        }
        t
    }
    /// The label of the tick at `v` (plotters asks for exactly the values above).
    pub fn label(&self, v: f64) -> String {
        let near = self
            .values
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - v).abs().total_cmp(&(b.1 - v).abs()));
        match near {
            Some((i, x)) if (x - v).abs() <= 1e-9 * (1.0 + v.abs()) => self.labels[i].clone(),
            _ => String::new(),
        }
    }
    /// The width of the widest label in `style`.
    pub fn widest(&self, style: &TextStyle) -> u32 {
        self.labels
            .iter()
            .map(|l| text_width(l, style))
            .max()
            .unwrap_or(0)
    }
}

/// Draws the title and subtitle at the top of `root` and returns the area below them.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let room = root.dim_in_pixel().0.saturating_sub(40);
    // A title wider than the chart wraps onto a second line, and is shortened with an
    // ellipsis beyond that.
    let titles = wrap_px(title, &title_style(), room, 2);
    for (i, line) in titles.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (20, 14 + 30 * i as i32),
            title_style(),
        ))?;
    }
    let below = 30 * (titles.len() as i32 - 1).max(0);
    let mut top = 46 + below;
    if !subtitle.is_empty() {
        // Wrapped at word boundaries to the chart's width, so a long subtitle is never cut.
        let style = subtitle_style();
        let lines = wrap_px(subtitle, &style, room, usize::MAX);
        for (i, line) in lines.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (20, 46 + below + 22 * i as i32),
                style.clone(),
            ))?;
        }
        top = 74 + below + 22 * (lines.len() as i32 - 1).max(0);
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
    let (x0, x1) = x_fmt.axis_range(x, 0.0);
    let (y0, y1) = y_fmt.axis_range(y, 0.0);
    let (w, h) = area.dim_in_pixel();
    let style = label_style();
    let title_style = axis_title_style();
    // The y labels' area is as wide as the widest label (amounts in the hundreds of millions
    // are not cut at the left or run into the axis title); the x axis gets as many ticks as
    // have room for their labels.
    let (margin_l, margin_r, margin_t, margin_b, x_area) = (12u32, 28u32, 24u32, 8u32, 50u32);
    let plot_h = h.saturating_sub(margin_t + margin_b + x_area).max(40);
    // Up to 7 y ticks, fewer on a short plot (a label is about 18 pixels high).
    let yt = Ticks::new((y0, y1), y_fmt, (plot_h as usize / 40).clamp(2, 7));
    let y_area = yt.widest(&style) + 16 + if y_title.is_empty() { 0 } else { 32 };
    let plot_w = w.saturating_sub(margin_l + margin_r + y_area).max(40);
    let xt = Ticks::fitting((x0, x1), x_fmt, 7, plot_w, &style);
    let x_title = ellipsize(x_title, &title_style, plot_w);
    let y_title = ellipsize(y_title, &title_style, plot_h);
    let mut chart = ChartBuilder::on(area)
        .margin_left(margin_l)
        .margin_right(margin_r)
        .margin_top(margin_t)
        .margin_bottom(margin_b)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let xf = |v: &f64| xt.label(*v);
    let yf = |v: &f64| yt.label(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .x_labels(xt.hint)
        .y_labels(yt.hint)
        .x_desc(x_title)
        .y_desc(y_title)
        .axis_desc_style(title_style)
        .label_style(style)
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

#[cfg(test)]
mod fit_tests {
    use super::*;
    use plotters::coord::ranged1d::Ranged;

    fn distinct(v: &[String]) -> bool {
        let mut s = v.to_vec();
        s.sort();
        s.dedup();
        s.len() == v.len()
    }
    fn decimals(l: &str) -> usize {
        l.trim_end_matches(['%', 'x', 'M', ' '])
            .split_once('.')
            .map_or(0, |(_, f)| f.len())
    }

    /// Tick labels are distinct and have one number of decimals per axis, on narrow ranges
    /// (every trial nearly the same IRR) as on wide ones.
    #[test]
    fn tick_labels_are_distinct_with_one_number_of_decimals() {
        let cases: Vec<(ValueFormat, (f64, f64))> = vec![
            (ValueFormat::Percent, (0.0594, 0.0606)),
            (ValueFormat::Percent, (0.049, 0.051)),
            (ValueFormat::Percent, (-0.3, 0.12)),
            (ValueFormat::Probability, (0.0, 1.0)),
            (
                ValueFormat::Money("EUR".into()),
                (183_750_052.0, 213_000_000.0),
            ),
            (ValueFormat::Money("EUR".into()), (-353_265_254.0, 10.0)),
            (ValueFormat::Money("EUR".into()), (-1.0, 1.0)),
            (ValueFormat::Multiple, (0.98, 1.02)),
            (ValueFormat::Number, (0.0, 8.0)),
        ];
        for (fmt, range) in cases {
            for hint in 2..=9 {
                let t = Ticks::new(range, &fmt, hint);
                let shown: Vec<String> =
                    t.labels.iter().filter(|l| !l.is_empty()).cloned().collect();
                assert!(distinct(&shown), "{fmt:?} {range:?} {hint}: {shown:?}");
                let d: Vec<usize> = shown.iter().map(|l| decimals(l)).collect();
                assert!(d.windows(2).all(|w| w[0] == w[1]), "{fmt:?}: {shown:?}");
                assert_eq!(
                    t.values,
                    RangedCoordf64::from(range.0..range.1).key_points(t.hint)
                );
            }
        }
        let t = Ticks::new((0.0594, 0.0606), &ValueFormat::Percent, 7);
        assert!(t.labels.contains(&"6.00%".to_string()), "{:?}", t.labels);
        // Hundreds of millions in millions; amounts whole.
        let t = Ticks::new((183e6, 213e6), &ValueFormat::Money("EUR".into()), 7);
        assert!(t.labels.iter().all(|l| l.ends_with(" M")), "{:?}", t.labels);
        let t = Ticks::new((-1.0, 1.0), &ValueFormat::Money("EUR".into()), 7);
        assert_eq!(t.labels, ["-1", "0", "1"]);
        // No tick at an impossible value.
        assert_eq!(
            ValueFormat::Probability.tick_labels(&[-0.1, 0.0, 1.0, 1.1]),
            ["", "0%", "100%", ""]
        );
        assert_eq!(
            ValueFormat::Percent.tick_labels(&[-1.5, -1.0]),
            ["", "-100%"]
        );
    }

    /// A range of one value gets a width that suits the unit, and padding stops near what
    /// the figure can be.
    #[test]
    fn degenerate_ranges_get_a_sensible_width() {
        let p = ValueFormat::Probability.axis_range((0.0, 0.0), 0.1);
        assert!(
            p.0 >= -0.01 && p.0 < 0.0 && p.1 >= 0.04 && p.1 <= 0.06,
            "{p:?}"
        );
        let p = ValueFormat::Probability.axis_range((0.0, 1.0), 0.5);
        assert!(p.0 >= -0.07 && p.1 <= 1.07, "{p:?}");
        let r = ValueFormat::Percent.axis_range((0.05, 0.05), 0.04);
        assert!(
            (r.0 - 0.04).abs() < 1e-12 && (r.1 - 0.06).abs() < 1e-12,
            "{r:?}"
        );
        let r = ValueFormat::Percent.axis_range((-1.0, 0.2), 0.5);
        assert!(r.0 >= -1.08, "{r:?}");
        let m = ValueFormat::Money("EUR".into()).axis_range((0.0, 0.0), 0.05);
        assert_eq!(m, (-1.0, 1.0));
    }

    /// Fitted text never exceeds its width in the embedded font's metrics.
    #[test]
    fn fitted_text_stays_within_its_width() {
        let long = "Sensitivity of the probability of full repayment: stichting-regionaal-maatschappelijk-impactfonds-noord-en-oost-nederland";
        for style in [title_style(), label_style(), small_style()] {
            for max in [60u32, 200, 480, 960] {
                let e = ellipsize(long, &style, max);
                assert!(text_width(&e, &style) <= max, "{e}");
                assert_eq!(e.ends_with('…'), text_width(long, &style) > max);
                let lines = wrap_px(long, &style, max, 2);
                assert!(lines.len() <= 2);
                for l in &lines {
                    assert!(text_width(l, &style) <= max, "{max}: {l}");
                }
                let all = wrap_px(long, &style, max, usize::MAX);
                assert_eq!(all.concat().replace(' ', ""), long.replace(' ', ""));
            }
        }
        // A word far wider than a line (a crafted currency or name): each line is the
        // longest prefix that fits, and a few lines with an ellipsis take all of it.
        let word = "abcdefghij".repeat(2_000);
        let style = label_style();
        let all = wrap_px(&word, &style, 300, usize::MAX);
        assert_eq!(all.concat(), word);
        for pair in all.windows(2) {
            let next = pair[1].chars().next().expect("a character");
            assert!(text_width(&pair[0], &style) <= 300);
            assert!(
                text_width(&format!("{}{next}", pair[0]), &style) > 300,
                "{}",
                pair[0]
            );
        }
        let two = wrap_px(&word, &style, 300, 2);
        assert_eq!(two.len(), 2);
        assert_eq!(two[0], all[0]);
        assert!(two[1].ends_with('…') && text_width(&two[1], &style) <= 300);
        assert_eq!(ellipsize("short", &label_style(), 500), "short");
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(-1234.5, 1), "-1,234.5");
    }
}
