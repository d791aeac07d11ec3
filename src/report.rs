//! One self-contained HTML report of a simulated contract: key terms, per-party and per-tranche
//! tables, the risk distribution, every chart (inline SVG), the MKBA table, the feasibility
//! walk, the assumptions and where the numbers came from. Inline CSS, no script, no external
//! file; prints on A4. No IO: [`render_html`] returns the text.
//!
//! Sections whose data a scenario does not have (MKBA, feasibility, the municipality's net)
//! are optional in [`ReportInput`]; the report then says they are not available.

use crate::chart::theme::{css, money, number, party_color, percent, thousands};
use crate::chart::{
    self, CashFan, ChartError, DecisionTree, Format, IrrChart, MunicipalityNet, Payout,
    RenderedChart, RiskChart,
};
use crate::contract::{Baseline, Contract, Pricing, Role};
use crate::model::{Dist, Model, OutcomeDraw};
use crate::montecarlo::SummaryFile;
use std::fmt::Write as _;

/// A plain table: header and rows of already formatted cells. Cells that look like numbers
/// are right-aligned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableView {
    /// Caption above the table (may be empty).
    pub caption: String,
    /// Column titles.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// The municipality's business case (MKBA).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MkbaSection {
    /// The MKBA table (per outcome and payer: IND, EUR/IND, OUTCOME, corrections, IMPACT, PV).
    pub table: TableView,
    /// Further tables (e.g. per payer totals).
    pub more: Vec<TableView>,
    /// Notes (discount rate, effect over time, ...), one paragraph each.
    pub notes: Vec<String>,
    /// Per payer: the distribution of savings minus payments.
    pub net_charts: Vec<MunicipalityNet>,
}

/// One step of the feasibility walk, for the table beside the diagram.
#[derive(Clone, Debug, PartialEq)]
pub struct FeasibilityStep {
    /// The question.
    pub question: String,
    /// The evidence (numbers).
    pub evidence: String,
    /// The answer (`pass`, `fail`, `conditional`, ...).
    pub answer: String,
}

/// The Rotterdam decision tree walk.
#[derive(Clone, Debug, PartialEq)]
pub struct FeasibilitySection {
    /// Go / no-go / conditional, in words.
    pub verdict: String,
    /// The diagram.
    pub tree: DecisionTree,
    /// The steps walked, in order.
    pub steps: Vec<FeasibilityStep>,
}

/// A labelled assumption (`what`, `value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Assumption {
    /// What is assumed, e.g. `Success rate of work`.
    pub what: String,
    /// The assumption, e.g. `Beta, mean 45.0%, sd 8.0%`.
    pub value: String,
}

/// Everything the report shows.
#[derive(Clone, Debug)]
pub struct ReportInput<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// The simulation's summary (the same document `simulate --out` writes).
    pub summary: &'a SummaryFile,
    /// The uncertainty model and other assumptions (see [`assumptions`]).
    pub assumptions: Vec<Assumption>,
    /// The MKBA, when the scenario has one.
    pub mkba: Option<MkbaSection>,
    /// The feasibility walk, when computed.
    pub feasibility: Option<FeasibilitySection>,
    /// Further sections of charts (e.g. stress tests): (heading, intro, SVG charts rendered
    /// with [`chart::render`] and [`Format::Svg`]).
    pub extra: Vec<(String, String, Vec<RenderedChart>)>,
    /// The command's other options that shaped the report (`--tree FILE`, `--tornado FIGURE`),
    /// for the command that reproduces it.
    pub options: Vec<String>,
}

/// The assumptions of `model` (and the contract's discount rate) in words.
pub fn assumptions(c: &Contract, model: &Model) -> Vec<Assumption> {
    let mut v = Vec::new();
    let a = |what: String, value: String| Assumption { what, value };
    v.push(a(
        "Discount rate (the parties' net present values; the MKBA has its own)".into(),
        format!("{} a year", rate(c.discount_rate.to_f64())),
    ));
    v.push(a(
        "Referral inflow (share of each cohort's target enrolled)".into(),
        match &model.fill {
            Some(f) if model.fill_max != 1.0 => format!(
                "Beta on 0 to {} of the target, mean {}, sd {}",
                percent(model.fill_max),
                percent(f.mean * model.fill_max),
                percent(f.sd * model.fill_max)
            ),
            Some(f) => format!("Beta, mean {}, sd {}", percent(f.mean), percent(f.sd)),
            None => "exactly the target".into(),
        },
    ));
    v.push(a(
        "Correlation of the outcome rates (shared programme-quality factor)".into(),
        format!("{:.2}", model.correlation),
    ));
    for (o, m) in c.outcomes.iter().zip(&model.outcomes) {
        let req = o
            .requires
            .map(|r| format!(" (of those who achieved {})", c.outcomes[r].id))
            .unwrap_or_default();
        let value = match &m.draw {
            OutcomeDraw::Rate(r) => format!(
                "success rate Beta, mean {}, sd {}{req}",
                percent(r.mean),
                percent(r.sd)
            ),
            OutcomeDraw::Quantity(d) => format!("{} per participant and period", dist(d)),
        };
        let value = match &m.baseline_rate {
            Some(b) => format!(
                "{value}; control group rate Beta, mean {}, sd {}",
                percent(b.mean),
                percent(b.sd)
            ),
            None => match &m.baseline_quantity {
                Some(d) => format!("{value}; control group {} per participant", dist(d)),
                None => value,
            },
        };
        let value = if m.timing.is_empty() {
            value
        } else {
            let shares: Vec<String> = m.timing.iter().map(|&t| percent(t)).collect();
            format!(
                "{value}; achievers first counted in its measurement periods {}",
                shares.join(" / ")
            )
        };
        v.push(a(format!("Outcome {} ({})", o.id, o.name), value));
    }
    for s in &model.shocks {
        v.push(a(
            "Shock".into(),
            format!(
                "probability {} per trial: {}",
                percent(s.probability),
                s.effects(c)
            ),
        ));
    }
    if let Some(d) = model.cost_per_participant() {
        v.push(a(format!("Cost per participant ({})", c.currency), dist(d)));
    }
    v
}

/// A rate as a percentage with as many decimals as it needs (up to 3): `2.25%`, `12%`.
fn rate(x: f64) -> String {
    let p = format!("{:.3}", x * 100.0);
    let p = p.trim_end_matches('0').trim_end_matches('.');
    format!("{p}%")
}

fn dist(d: &Dist) -> String {
    match *d {
        Dist::Normal { mean, sd } => format!("Normal, mean {}, sd {}", num(mean), num(sd)),
        Dist::LogNormal { mean, sd } => format!("log-normal, mean {}, sd {}", num(mean), num(sd)),
        Dist::Triangular { min, mode, max } => format!(
            "triangular, min {}, mode {}, max {}",
            num(min),
            num(mode),
            num(max)
        ),
        Dist::Pert { min, mode, max } => format!(
            "PERT, min {}, mode {}, max {}",
            num(min),
            num(mode),
            num(max)
        ),
    }
}

fn num(x: f64) -> String {
    if x.abs() >= 1000.0 || x.fract() == 0.0 {
        thousands(x)
    } else {
        format!("{x}")
    }
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root { --ink: #262b33; --muted: #5f6670; --rule: #d9dde2; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: var(--ink);
  max-width: 190mm; margin: 0 auto; padding: 12mm 0; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 19pt; margin: 0 0 2mm; }
h2 { font-size: 14pt; margin: 9mm 0 3mm; padding-bottom: 1.5mm; border-bottom: 2px solid var(--ink);
  break-after: avoid; }
h3 { font-size: 11.5pt; margin: 5mm 0 2mm; break-after: avoid; }
p { margin: 1.5mm 0 3mm; }
.meta { color: var(--muted); font-size: 9.5pt; }
.note { color: var(--muted); font-size: 9pt; }
.warning { border: 1px solid #B01E2D; background: #FDF0F0; padding: 6pt 8pt; }
.na { background: var(--band); border-left: 4px solid #b8bec6; padding: 3mm 4mm; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; font-size: 9pt;
  break-inside: auto; }
caption { text-align: left; font-weight: bold; padding-bottom: 1.5mm; }
th, td { padding: 1.2mm 2mm; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { text-align: left; background: var(--band); font-weight: bold; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th.n { text-align: right; }
tr { break-inside: avoid; }
.swatch { display: inline-block; width: 3mm; height: 3mm; margin-right: 1.5mm; vertical-align: baseline; }
.kpis { display: flex; flex-wrap: wrap; gap: 3mm; margin: 3mm 0; }
.kpi { flex: 1 1 40mm; background: var(--band); padding: 2.5mm 3mm; border-radius: 1.5mm; }
.kpi b { display: block; font-size: 13pt; }
.kpi span { color: var(--muted); font-size: 8.5pt; }
figure { margin: 3mm 0 6mm; break-inside: avoid; page-break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 8.5pt; margin-top: 1mm; }
.verdict { font-size: 12pt; font-weight: bold; }
@page { size: A4; margin: 14mm 12mm; }
@media print { body { padding: 0; max-width: none; } h2 { break-before: auto; } }
"#;

struct Html {
    s: String,
}

impl Html {
    fn raw(&mut self, t: &str) {
        self.s.push_str(t);
    }
    fn h2(&mut self, id: &str, t: &str) {
        let _ = writeln!(self.s, "<h2 id=\"{id}\">{}</h2>", esc(t));
    }
    fn h3(&mut self, t: &str) {
        let _ = writeln!(self.s, "<h3>{}</h3>", esc(t));
    }
    fn p(&mut self, t: &str) {
        let _ = writeln!(self.s, "<p>{}</p>", esc(t));
    }
    fn note(&mut self, t: &str) {
        let _ = writeln!(self.s, "<p class=\"note\">{}</p>", esc(t));
    }
    fn na(&mut self, t: &str) {
        let _ = writeln!(self.s, "<p class=\"na\">{}</p>", esc(t));
    }
    fn table(&mut self, t: &TableView) {
        self.table_with(t, &[]);
    }
    /// A table; `row_attrs[i]` is added to row `i`'s `<tr>` (e.g. `data-party="bank"`).
    fn table_with(&mut self, t: &TableView, row_attrs: &[String]) {
        self.raw("<table>\n");
        if !t.caption.is_empty() {
            let _ = writeln!(self.s, "<caption>{}</caption>", esc(&t.caption));
        }
        let numeric: Vec<bool> = (0..t.header.len())
            .map(|j| {
                j > 0
                    && t.rows
                        .iter()
                        .all(|r| r.get(j).is_none_or(|c| looks_numeric(c)))
                    && !t.rows.is_empty()
            })
            .collect();
        self.raw("<thead><tr>");
        for (j, h) in t.header.iter().enumerate() {
            let cls = if numeric[j] { " class=\"n\"" } else { "" };
            let _ = write!(self.s, "<th{cls}>{}</th>", esc(h));
        }
        self.raw("</tr></thead>\n<tbody>\n");
        for (i, r) in t.rows.iter().enumerate() {
            match row_attrs.get(i) {
                Some(a) => {
                    let _ = write!(self.s, "<tr {a}>");
                }
                None => self.raw("<tr>"),
            }
            for (j, c) in r.iter().enumerate() {
                let cls = if numeric.get(j).copied().unwrap_or(false) {
                    " class=\"n\""
                } else {
                    ""
                };
                // A cell may start with a party swatch marker `\u{1}#rrggbb\u{1}`.
                let (sw, text) = match c.strip_prefix('\u{1}') {
                    Some(rest) => match rest.split_once('\u{1}') {
                        Some((col, text)) => (
                            format!("<span class=\"swatch\" style=\"background:{col}\"></span>"),
                            text,
                        ),
                        None => (String::new(), c.as_str()),
                    },
                    None => (String::new(), c.as_str()),
                };
                let _ = write!(self.s, "<td{cls}>{sw}{}</td>", esc(text));
            }
            self.raw("</tr>\n");
        }
        self.raw("</tbody></table>\n");
    }
    fn figure(&mut self, c: &RenderedChart) {
        let svg = String::from_utf8_lossy(&c.bytes);
        let svg = match svg.find("<svg") {
            Some(i) => &svg[i..],
            None => &svg,
        };
        let _ = writeln!(
            self.s,
            "<figure data-chart=\"{}\" aria-label=\"{}\">\n{}\n</figure>",
            esc(&c.name),
            esc(&c.title),
            svg.trim()
        );
    }
}

fn looks_numeric(c: &str) -> bool {
    let t = c.trim();
    !t.is_empty()
        && t != "-"
        && t.chars()
            .all(|ch| ch.is_ascii_digit() || " ,.%-+x±".contains(ch) || ch.is_ascii_uppercase())
        && t.chars().any(|ch| ch.is_ascii_digit())
}

fn swatch(i: usize, text: &str) -> String {
    format!("\u{1}{}\u{1}{text}", css(party_color(i)))
}

/// The report's terms and what they mean, for its last section.
const GLOSSARY: &[(&str, &str)] = &[
    (
        "Trial",
        "One possible course of the contract, drawn from the uncertainty model and settled with the contract's exact rules; the report summarises many of them (a Monte Carlo simulation).",
    ),
    (
        "Mean, ± SE",
        "The average over the trials, and its Monte Carlo standard error: how far the average could move with another set of trials of the same size (about two standard errors either way).",
    ),
    (
        "P5, P50, P95",
        "Percentiles: 5%, 50% (the median) and 95% of the trials have a value at or below it.",
    ),
    (
        "ES 95%",
        "Expected shortfall: minus the mean net of the worst 5% of trials; negative when even those trials gain.",
    ),
    (
        "Tranche",
        "An investor's slice of the capital, with its own rate or return cap and rank (senior is repaid before junior).",
    ),
    (
        "IRR",
        "Internal rate of return of a tranche's net cash flows by period, a year; -100% where everything was lost, or where money went out and came back in part within one period (a loss in no time, as when a contract ends in its first period and a guarantee pays part back).",
    ),
    (
        "Multiple",
        "Money back (distributions and guarantee calls) divided by the money drawn.",
    ),
    (
        "Loss",
        "An investor's unrecovered principal (with a tranche's interest-first allocation, the principal still outstanding after distributions paid interest first: a loss even where the investor got back more than it drew); a payer's or guarantor's guarantee calls (and inflow compensation); the enterprise's unpaid costs and deferred fees; a fee recipient's fees not received. Outcome payments are not a loss.",
    ),
    (
        "MKBA",
        "Maatschappelijke kosten-batenanalyse: the social cost-benefit analysis of the outcomes.",
    ),
    (
        "IND, EUR/IND",
        "The number of cases (achieved units, or the improvement on a baseline) and the value of one case.",
    ),
    (
        "DW, AT, SE (MKBA)",
        "Deadweight (what would have happened anyway), attribution (the share due to others) and substitution (gains at the expense of people outside); SE here is not a standard error.",
    ),
    (
        "<3j, 3-5j, >5j",
        "The effect in the short (years 1 to 3), medium (4 and 5) and long term (6 and later), after drop-off, undiscounted (Dutch: jaar).",
    ),
    (
        "Present value",
        "Future amounts discounted to the contract's start at the stated rate a year.",
    ),
];

/// Below this many trials a report warns that its figures are rough.
pub const FEW_TRIALS: u64 = 1_000;

/// The report as one HTML document.
pub fn render_html(input: &ReportInput) -> Result<String, ChartError> {
    let c = input.contract;
    let doc = input.summary;
    let r = &doc.results;
    let cur = c.currency.as_str();
    let m = |x: f64| money(x, cur);
    let mut h = Html { s: String::new() };
    let title = format!("{}: simulation report", c.name);
    let _ = write!(
        h.s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = writeln!(h.s, "<h1>{}</h1>", esc(&c.name));
    let _ = writeln!(
        h.s,
        "<p class=\"meta\" id=\"provenance-line\">Simulation report: {}, seed {}, sibsim {}, scenario <code>{}</code>. Amounts in {cur}; means over trials with their Monte Carlo standard error; {}; a probability's standard error is at most {:.2} percentage points{}.</p>",
        crate::chart::theme::count(doc.trials, "trial", "trials"),
        doc.seed,
        esc(&doc.sibsim_version),
        esc(&doc.scenario.file),
        match r.shown_amounts_within() {
            0.0 => "percentiles and expected shortfalls exact".to_string(),
            e => format!(
                "percentiles and expected shortfalls each within {} of exact",
                number(e)
            ),
        },
        r.probability_se_bound(),
        r.shown_percentiles_se()
            .map(|se| format!(
                ", and that of the parties' P5, P50 and P95 at most {}",
                number(se.round())
            ))
            .unwrap_or_default()
    );
    // Few trials: the figures are rough, and a decision should not rest on them.
    if doc.trials < FEW_TRIALS {
        let _ = writeln!(
            h.s,
            "<p class=\"warning\" id=\"few-trials\"><b>Only {}.</b> The figures, probabilities and the feasibility verdict below are rough (a probability's standard error is up to {:.1} percentage points{}); run {} trials or more before relying on them.</p>",
            crate::chart::theme::count(doc.trials, "trial", "trials"),
            r.probability_se_bound(),
            if doc.trials < 2 {
                "; one trial has no standard error at all"
            } else {
                ""
            },
            thousands(FEW_TRIALS as f64)
        );
    }

    // Key figures.
    h.raw("<div class=\"kpis\">\n");
    let kpi = |h: &mut Html, big: String, small: String| {
        let _ = writeln!(
            h.s,
            "<div class=\"kpi\"><b>{}</b><span>{}</span></div>",
            esc(&big),
            esc(&small)
        );
    };
    for t in &r.tranches {
        kpi(
            &mut h,
            percent(t.prob_full_repayment),
            format!(
                "probability that tranche {} ({}) is repaid in full",
                t.id, t.investor
            ),
        );
    }
    kpi(
        &mut h,
        m(r.outcome_payments.mean),
        format!(
            "mean outcome payments (P5 {}, P95 {})",
            m(r.outcome_payments.p5),
            m(r.outcome_payments.p95)
        ),
    );
    kpi(
        &mut h,
        m(r.risk.expected_total_loss),
        format!(
            "expected total loss; a mean of {} a trial in the worst 5% of trials",
            m(r.risk.tail_total_loss)
        ),
    );
    h.raw("</div>\n");

    // Contents, each entry a link to its section; extra sections (a sensitivity) come after
    // the feasibility walk, numbered on from 8, and the assumptions and provenance after them.
    let n_extra = input.extra.len();
    let mut contents: Vec<(String, String)> = [
        ("terms", "1 Key terms"),
        ("parties", "2 Results per party"),
        ("tranches", "3 Tranches"),
        ("risk", "4 Risk distribution"),
        ("charts", "5 Charts"),
        ("mkba", "6 Municipal business case (MKBA)"),
        ("feasibility", "7 Feasibility"),
    ]
    .iter()
    .map(|(id, t)| (id.to_string(), t.to_string()))
    .collect();
    for (k, (head, _, _)) in input.extra.iter().enumerate() {
        contents.push((format!("extra-{k}"), format!("{} {head}", 8 + k)));
    }
    contents.push(("assumptions".into(), format!("{} Assumptions", 8 + n_extra)));
    contents.push(("provenance".into(), format!("{} Provenance", 9 + n_extra)));
    contents.push(("glossary".into(), "Terms used".into()));
    let links: Vec<String> = contents
        .iter()
        .map(|(id, t)| format!("<a href=\"#{id}\">{}</a>", esc(t)))
        .collect();
    let _ = writeln!(h.s, "<p class=\"meta\">Contents: {}</p>", links.join(" · "));

    // 1. Key terms.
    h.h2("terms", "1. The contract's key terms");
    let people: u64 = c.cohorts.iter().map(|k| k.size as u64).sum();
    let committed: i64 = c.tranches.iter().map(|t| t.committed.0).sum();
    let mut terms = TableView {
        caption: String::new(),
        header: vec!["Term".into(), "Value".into()],
        rows: vec![],
    };
    let mut row = |a: &str, b: String| terms.rows.push(vec![a.to_string(), b]);
    row(
        "Duration",
        format!(
            "{}{}",
            c.period_length.count(c.periods),
            c.start_date
                .as_ref()
                .map(|d| format!(" from {d}"))
                .unwrap_or_default()
        ),
    );
    row(
        "Participants",
        format!(
            "{} in {}",
            thousands(people as f64),
            crate::chart::theme::count(c.cohorts.len() as u64, "cohort", "cohorts")
        ),
    );
    let payers: Vec<&str> = c.payers().map(|i| c.parties[i].name.as_str()).collect();
    row("Outcome payers", payers.join(", "));
    row("Capital committed", m(committed as f64 / 100.0));
    row(
        "Cap on total outcome payments",
        c.total_cap
            .map(|x| m(x.0 as f64 / 100.0))
            .unwrap_or_else(|| "none".into()),
    );
    row(
        "Cap per participant",
        c.participant_cap
            .as_ref()
            .map(|pc| {
                let ids: Vec<&str> = pc
                    .outcomes
                    .iter()
                    .map(|&o| c.outcomes[o].id.as_str())
                    .collect();
                format!(
                    "{} over {} (a participant is never paid more, whatever the prices)",
                    m(pc.amount.0 as f64 / 100.0),
                    ids.join(", ")
                )
            })
            .unwrap_or_else(|| "none".into()),
    );
    row(
        "Pay only what is due",
        if c.pay_only_due { "yes" } else { "no" }.into(),
    );
    // Items joined by `sep`, or "none".
    let listed = |items: Vec<String>, sep: &str| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(sep)
        }
    };
    // A schedule of amounts by period in words: its total and the periods it runs.
    let schedule = |v: &[crate::money::Money]| -> Option<String> {
        let paid: Vec<usize> = (1..v.len()).filter(|&k| v[k].0 != 0).collect();
        let total: i64 = v.iter().map(|x| x.0).sum();
        let (first, last) = (*paid.first()?, *paid.last()?);
        Some(format!(
            "{} in all, periods {first} to {last}",
            m(total as f64 / 100.0)
        ))
    };
    row(
        "Drawdowns",
        listed(
            c.tranches
                .iter()
                .filter_map(|t| schedule(&t.drawdowns).map(|s| format!("{}: {s}", t.id)))
                .collect(),
            "; ",
        ),
    );
    row(
        "Fees (paid before the investors)",
        listed(
            c.fees
                .iter()
                .filter_map(|f| {
                    schedule(&f.schedule)
                        .map(|s| format!("{} to {}: {s}", f.id, c.parties[f.payee].id))
                })
                .collect(),
            "; ",
        ),
    );
    let e = &c.enterprise_terms;
    let mut terms_e = Vec::new();
    if let Some(s) = schedule(&e.fixed_costs) {
        terms_e.push(format!("fixed costs {s}"));
    }
    if e.per_participant_cost.0 != 0 {
        terms_e.push(format!(
            "{} per participant",
            m(e.per_participant_cost.0 as f64 / 1e6)
        ));
    }
    if let Some(s) = schedule(&e.deferred_fees) {
        terms_e.push(format!("deferred fees {s}"));
    }
    if e.performance_share.0 != 0 {
        terms_e.push(format!(
            "performance share {}",
            percent(e.performance_share.to_f64())
        ));
    }
    match e.return_unspent {
        crate::contract::ReturnUnspent::Never => {}
        crate::contract::ReturnUnspent::OnTermination => {
            terms_e.push("unspent capital returned at an early termination".into())
        }
        crate::contract::ReturnUnspent::AtEnd => {
            terms_e.push("unspent capital returned at the end".into())
        }
    }
    row("Enterprise terms", listed(terms_e, "; "));
    row(
        "Inflow guarantees",
        listed(
            c.inflow_guarantees
                .iter()
                .map(|g| crate::statement::describe_inflow_guarantee(c, g))
                .collect(),
            "; ",
        ),
    );
    row(
        "Early-termination checkpoints",
        listed(
            c.checkpoints
                .iter()
                .map(|k| format!("period {} ({})", k.period, c.outcomes[k.outcome].id))
                .collect(),
            ", ",
        ),
    );
    row(
        "Cash left after the waterfall",
        match c.remainder {
            crate::contract::Remainder::Hold => "stays in the contract account",
            crate::contract::Remainder::ReturnToPayers => "returns to the payers",
            crate::contract::Remainder::Enterprise => "goes to the enterprise",
        }
        .into(),
    );
    row(
        "Discount rate (parties' NPV)",
        rate(c.discount_rate.to_f64()),
    );
    h.table(&terms);

    let mut outs = TableView {
        caption: "Outcomes".into(),
        header: vec![
            "Outcome".into(),
            "Unit".into(),
            "Price".into(),
            "Baseline".into(),
            "Paid by".into(),
            "Mean paid".into(),
        ],
        rows: vec![],
    };
    for (o, st) in c.outcomes.iter().zip(&r.outcomes) {
        let price = match &o.pricing {
            Pricing::Flat(p) => m(p.0 as f64 / 1e6),
            Pricing::Tiers(t) => format!("{} volume tiers", t.len()),
            Pricing::Grid { points, per, .. } => format!(
                "grid of {} points{}",
                points.len(),
                match per {
                    crate::contract::GridPer::Participant => ", per participant",
                    crate::contract::GridPer::Cohort => ", per cohort",
                }
            ),
        };
        let base = match &o.baseline {
            Baseline::None => "none".to_string(),
            Baseline::Rate(x) => format!("{} of the cohort", percent(x.to_f64())),
            Baseline::Forecast(_) => "forecast".into(),
            Baseline::ControlGroup => "control group".into(),
        };
        let by: Vec<String> = o
            .payers
            .iter()
            .map(|(p, s)| format!("{} {}", c.parties[*p].id, percent(s.to_f64())))
            .collect();
        outs.rows.push(vec![
            format!("{} ({})", o.name, o.id),
            o.unit.clone(),
            price,
            base,
            by.join(", "),
            m(st.paid.mean),
        ]);
    }
    h.table(&outs);

    let mut trs = TableView {
        caption: "Capital stack".into(),
        header: vec![
            "Tranche".into(),
            "Investor".into(),
            "Committed".into(),
            "Rate / return cap".into(),
            "Rank".into(),
            "Guarantee".into(),
        ],
        rows: vec![],
    };
    for t in &c.tranches {
        let g = match &t.guarantee {
            None => "none".to_string(),
            Some(g) => {
                let who: Vec<&str> = g
                    .guarantors
                    .iter()
                    .map(|(p, _)| c.parties[*p].id.as_str())
                    .collect();
                let mut s = format!("by {}", who.join(", "));
                if let Some(l) = g.limit {
                    let _ = write!(s, ", up to {}", m(l.0 as f64 / 100.0));
                }
                if let Some(f) = g.fraction {
                    let _ = write!(s, ", {} of principal", percent(f.to_f64()));
                }
                s
            }
        };
        let g = match t.allocation {
            crate::contract::Allocation::PrincipalFirst => g,
            crate::contract::Allocation::InterestFirst => {
                format!("{g}; distributions pay interest first")
            }
        };
        trs.rows.push(vec![
            t.id.clone(),
            c.parties[t.investor].name.clone(),
            m(t.committed.0 as f64 / 100.0),
            rate(t.annual_rate.to_f64()),
            t.rank.to_string(),
            g,
        ]);
    }
    h.table(&trs);

    // 2. Parties.
    h.h2("parties", "2. Results per party");
    h.p("Net = received minus paid over the whole contract. ES 95% is the expected shortfall: minus the mean net of the worst 5% of trials (a loss; negative where even those trials gain).");
    let mut pt = TableView {
        caption: String::new(),
        header: vec![
            "Party".into(),
            "Role".into(),
            "Mean net".into(),
            "± SE".into(),
            "P5".into(),
            "P50".into(),
            "P95".into(),
            "ES 95%".into(),
            "P(net < 0)".into(),
        ],
        rows: vec![],
    };
    let mut attrs = Vec::new();
    for (i, p) in r.parties.iter().enumerate() {
        pt.rows.push(vec![
            swatch(i, &p.name),
            p.role.label().to_string(),
            thousands(p.net.mean),
            if r.trials < 2 {
                "n/a".to_string()
            } else {
                thousands(p.net.se)
            },
            thousands(p.net.p5),
            thousands(p.net.p50),
            thousands(p.net.p95),
            thousands(p.expected_shortfall95),
            percent(p.prob_net_negative),
        ]);
        attrs.push(format!("data-party=\"{}\"", esc(&p.id)));
    }
    h.table_with(&pt, &attrs);

    // 3. Tranches.
    h.h2("tranches", "3. Tranches");
    let mut tt = TableView {
        caption: String::new(),
        header: vec![
            "Tranche".into(),
            "Investor".into(),
            "P(full repayment)".into(),
            "P(principal loss)".into(),
            "IRR P5".into(),
            "IRR P50".into(),
            "IRR P95".into(),
            "Mean multiple".into(),
            "Mean unrecovered".into(),
            "Mean guarantee".into(),
        ],
        rows: vec![],
    };
    let mut attrs = Vec::new();
    for t in &r.tranches {
        let i = r
            .parties
            .iter()
            .position(|p| p.id == t.investor)
            .unwrap_or(0);
        tt.rows.push(vec![
            t.id.clone(),
            swatch(i, &t.investor),
            percent(t.prob_full_repayment),
            percent(t.prob_principal_loss),
            percent(t.irr.summary.p5),
            percent(t.irr.summary.p50),
            percent(t.irr.summary.p95),
            format!("{:.3}", t.multiple.summary.mean),
            thousands(t.unrecovered_principal.mean),
            thousands(t.guarantee_calls.mean),
        ]);
        attrs.push(format!("data-tranche=\"{}\"", esc(&t.id)));
    }
    h.table_with(&tt, &attrs);
    let _ = writeln!(
        h.s,
        "<p class=\"note\">Probability of early termination: {} (the enterprise out of cash: {}; a checkpoint failed: {}). Amounts in {cur}.</p>",
        percent(r.prob_early_termination),
        percent(r.prob_out_of_cash),
        percent((r.prob_early_termination - r.prob_out_of_cash).max(0.0))
    );
    for p in &r.parties {
        if let Some(x) = &p.inflow_compensation {
            let _ = writeln!(
                h.s,
                "<p class=\"note\">Inflow guarantee: {} pays compensation for referrals short of its promise in {} of trials, {} {cur} on average over all trials.</p>",
                esc(&p.name),
                percent(x.probability),
                thousands(x.paid.mean)
            );
        }
    }

    // 4. Risk distribution.
    h.h2("risk", "4. Risk distribution: who carries the loss");
    h.p("A party's loss in a trial: an investor's unrecovered principal; a payer's or guarantor's guarantee calls paid (and a payer's compensation under an inflow guarantee); the enterprise's unpaid costs and deferred fees; a fee recipient's fees not received. Shares add up to 100% (when any trial has a loss). Paying for outcomes is not a loss here: whether a payer pays more than it saves is its business case (section 6).");
    let mut rt = TableView {
        caption: String::new(),
        header: vec![
            "Party".into(),
            "P(loss)".into(),
            format!("Expected loss ({cur})"),
            "Share of expected loss".into(),
            "Share of loss in worst 5%".into(),
        ],
        rows: vec![],
    };
    let mut attrs = Vec::new();
    for s in &r.risk.parties {
        let i = r.parties.iter().position(|p| p.id == s.party).unwrap_or(0);
        rt.rows.push(vec![
            swatch(i, &r.parties[i].name),
            percent(r.parties[i].prob_loss),
            thousands(s.expected_loss),
            percent(s.share_of_expected_loss),
            percent(s.share_of_tail_loss),
        ]);
        attrs.push(format!("data-risk=\"{}\"", esc(&s.party)));
    }
    // The shares add up to 100%, or are all 0 when no trial (no worst-5% trial) has a loss.
    let total_share = |total: f64| {
        if total > 0.0 {
            "100.0%".to_string()
        } else {
            "- (no loss)".to_string()
        }
    };
    rt.rows.push(vec![
        "Total".into(),
        String::new(),
        thousands(r.risk.expected_total_loss),
        total_share(r.risk.expected_total_loss),
        total_share(r.risk.tail_total_loss),
    ]);
    h.table_with(&rt, &attrs);
    h.note(&format!(
        "Mean total loss in the worst 5% of trials: {}.",
        m(r.risk.tail_total_loss)
    ));
    h.figure(&chart::render(&RiskChart::from_results(doc), Format::Svg)?);

    // 5. Charts.
    h.h2("charts", "5. Distributions and cash flows");
    h.h3("Investors: what comes back");
    let mut any = false;
    for (i, p) in r.parties.iter().enumerate() {
        if p.role == Role::Investor
            && let Some(ch) = Payout::from_results(doc, i)
        {
            h.figure(&chart::render(&ch, Format::Svg)?);
            any = true;
        }
    }
    for t in &r.tranches {
        if let Some(ch) = IrrChart::from_results(doc, t) {
            h.figure(&chart::render(&ch, Format::Svg)?);
            any = true;
        }
    }
    if !any {
        h.na("No investor distributions in this summary.");
    }
    h.h3("Cumulative net cash per party");
    for i in 0..r.parties.len() {
        let ch = CashFan::from_results(doc, i, c.period_length.singular());
        h.figure(&chart::render(&ch, Format::Svg)?);
    }

    // 6. MKBA.
    h.h2("mkba", "6. The municipality's business case (MKBA)");
    match &input.mkba {
        Some(mk) => {
            h.table(&mk.table);
            for t in &mk.more {
                h.table(t);
            }
            for n in &mk.notes {
                h.note(n);
            }
            for ch in &mk.net_charts {
                h.figure(&chart::render(ch, Format::Svg)?);
            }
        }
        None => h.na(
            "MKBA: not available for this scenario (it declares no social values per outcome).",
        ),
    }

    // 7. Feasibility.
    h.h2("feasibility", "7. Feasibility: the Rotterdam decision tree");
    match &input.feasibility {
        Some(f) => {
            let _ = writeln!(h.s, "<p class=\"verdict\">Verdict: {}</p>", esc(&f.verdict));
            h.figure(&chart::render(&f.tree, Format::Svg)?);
            let t = TableView {
                caption: "The walk, step by step".into(),
                header: vec!["Question".into(), "Evidence".into(), "Answer".into()],
                rows: f
                    .steps
                    .iter()
                    .map(|s| vec![s.question.clone(), s.evidence.clone(), s.answer.clone()])
                    .collect(),
            };
            h.table(&t);
        }
        None => h.na("Feasibility walk: not available for this scenario."),
    }

    // Extra sections (stress tests and the like).
    for (k, (head, intro, charts)) in input.extra.iter().enumerate() {
        h.h2(&format!("extra-{k}"), &format!("{}. {head}", 8 + k));
        if !intro.is_empty() {
            h.p(intro);
        }
        for ch in charts {
            h.figure(ch);
        }
    }

    // 8. Assumptions.
    h.h2("assumptions", &format!("{}. Assumptions", 8 + n_extra));
    h.p("What the simulation draws in every trial (the scenario's [uncertainty] block), and the fixed rates it uses.");
    let at = TableView {
        caption: String::new(),
        header: vec!["Assumption".into(), "Value".into()],
        rows: input
            .assumptions
            .iter()
            .map(|a| vec![a.what.clone(), a.value.clone()])
            .collect(),
    };
    if at.rows.is_empty() {
        h.na("No assumptions recorded.");
    } else {
        h.table(&at);
    }

    // 9. Provenance.
    h.h2("provenance", &format!("{}. Provenance", 9 + n_extra));
    let pv = TableView {
        caption: String::new(),
        header: vec!["".into(), "".into()],
        rows: vec![
            vec!["Scenario file".into(), doc.scenario.file.clone()],
            vec!["Contract".into(), doc.scenario.name.clone()],
            vec!["Trials".into(), thousands(doc.trials as f64)],
            vec!["Seed".into(), doc.seed.to_string()],
            vec![
                "Changes to the file (--set)".into(),
                if doc.scenario.overrides.is_empty() {
                    "none".into()
                } else {
                    doc.scenario.overrides.join("; ")
                },
            ],
            vec!["sibsim version".into(), doc.sibsim_version.clone()],
        ],
    };
    h.table(&pv);
    let set: String = doc
        .scenario
        .overrides
        .iter()
        .map(|s| format!(" --set {}", shell_word(s)))
        .collect();
    let options: String = input.options.iter().map(|o| format!(" {o}")).collect();
    h.note(&format!(
        "The same scenario, changes, seed and number of trials give identical numbers on any machine and thread count: `sibsim report {} --trials {} --seed {}{set}{options}`.",
        shell_word(&doc.scenario.file),
        doc.trials,
        doc.seed
    ));

    // Terms used, for a reader who is not a specialist.
    h.h2("glossary", "Terms used");
    let terms = TableView {
        caption: String::new(),
        header: vec!["Term".into(), "Meaning".into()],
        rows: GLOSSARY
            .iter()
            .map(|(t, m)| vec![t.to_string(), m.to_string()])
            .collect(),
    };
    h.table(&terms);
    h.raw("</body>\n</html>\n");
    Ok(h.s)
}

/// The MKBA section from a summary with a business case: the expected-case table, who
/// benefits, each payer's business case, and the distribution of each payer's net. `None`
/// when the scenario has no `[mkba]` block.
pub fn mkba_section(c: &Contract, doc: &SummaryFile) -> Option<MkbaSection> {
    let b = doc.results.business_case.as_ref()?;
    let t = b.expected_table(c)?;
    let (head, rows) = t.beneficiary_rows();
    let cur = |x: f64| money(x, &doc.scenario.currency);
    let payers = TableView {
        caption: format!(
            "Business case per payer over {} (present values at {} a year)",
            crate::chart::theme::count(doc.trials, "trial", "trials"),
            rate(b.discount_rate)
        ),
        header: [
            "Payer",
            "Mean savings",
            "Mean payments",
            "Costs",
            "Mean net",
            "Net P5",
            "Net P95",
            "P(pays more than saves)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: b
            .payers
            .iter()
            .chain(std::iter::once(&b.all_payers))
            .map(|p| {
                vec![
                    p.name.clone(),
                    cur(p.savings.mean),
                    cur(p.payments.mean),
                    cur(p.costs),
                    cur(p.net.mean),
                    cur(p.net.p5),
                    cur(p.net.p95),
                    percent(p.prob_pays_more_than_saves),
                ]
            })
            .collect(),
    };
    Some(MkbaSection {
        table: TableView {
            caption: format!(
                "MKBA at the expected number of cases (IND: mean over {}), {}",
                crate::chart::theme::count(doc.trials, "trial", "trials"),
                doc.scenario.currency
            ),
            header: crate::mkba::MkbaTable::HEADER
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows: t.rows(),
        },
        more: vec![
            TableView {
                caption: "Who benefits: present value of the impact per beneficiary".into(),
                header: head,
                rows,
            },
            payers,
        ],
        notes: vec![
            format!(
                "IMPACT = OUTCOME - (deadweight + attribution + substitution); the effect is spread over {} by each outcome's realisation shares, reduced by its yearly drop-off, and discounted at {} a year to the contract's start, with the effect years counted {}.",
                crate::mkba::term_years_words(t.horizon_years),
                rate(b.discount_rate),
                t.effect_from.words()
            ),
            "A payer's net is the present value of its savings minus the present value of what it paid net of what it received (outcome and fixed payments, guarantee calls, inflow compensation, returned remainders) minus its declared preparation and transaction costs.".into(),
            format!(
                "Net social return (the present value of the IMPACT to all beneficiaries): mean {} (P5 {}, P95 {}){}.",
                cur(b.total_impact.mean),
                cur(b.total_impact.p5),
                cur(b.total_impact.p95),
                if b.all_payers.payments.mean > 0.0 {
                    format!(
                        "; {:.2} of impact per euro the payers pay (mean present values, {} paid)",
                        b.total_impact.mean / b.all_payers.payments.mean,
                        cur(b.all_payers.payments.mean)
                    )
                } else {
                    String::new()
                }
            ),
        ]
        .into_iter()
        .chain(
            // The table values cases on the planned timing; the trials' savings also discount
            // the cases that delay shocks move later (as `sibsim mkba` says).
            ((b.total_impact.mean - t.total.present_value.to_f64()).abs() > 1.0).then(|| {
                format!(
                    "The table values the cases on the contract's planned timing (present value {}); the payers' mean savings over the trials also discount the cases that delay shocks move later (social return {}).",
                    cur(t.total.present_value.to_f64()),
                    cur(b.total_impact.mean)
                )
            }),
        )
        .collect(),
        net_charts: b
            .payers
            .iter()
            .chain(std::iter::once(&b.all_payers))
            .filter_map(|p| MunicipalityNet::from_payer(doc, p))
            .collect(),
    })
}

/// The feasibility section: the verdict, the diagram and the steps of `walk` through `tree`.
pub fn feasibility_section(
    tree: &crate::feasibility::Tree,
    walk: &crate::feasibility::Walk,
) -> FeasibilitySection {
    let mut verdict = walk.verdict.label().to_string();
    if !walk.advice.en.is_empty() {
        verdict = format!("{verdict}: {}", walk.advice.en);
    }
    for c in &walk.conditions {
        verdict.push_str(&format!(" Condition: {c}"));
    }
    FeasibilitySection {
        verdict,
        tree: DecisionTree::from_walk(tree, walk),
        steps: walk
            .path
            .iter()
            .enumerate()
            .map(|(k, s)| FeasibilityStep {
                question: format!("{}. {}", k + 1, s.question.en),
                evidence: s.evidence.clone(),
                answer: match (s.answer, &s.condition) {
                    (true, _) => "yes".into(),
                    (false, Some(_)) => "no (condition)".into(),
                    (false, None) => "no".into(),
                },
            })
            .collect(),
    }
}

/// `s` as one word of a POSIX shell command: as it is where it has only characters no shell
/// treats specially, else in single quotes (a quote inside written `'\''`).
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-+=:,@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod shell_tests {
    use super::shell_word;

    #[test]
    fn words_are_quoted_only_where_a_shell_needs_it() {
        assert_eq!(
            shell_word("scenarios/reference.toml"),
            "scenarios/reference.toml"
        );
        assert_eq!(
            shell_word("contract.total_cap=1500000"),
            "contract.total_cap=1500000"
        );
        assert_eq!(shell_word("réf scénario.toml"), "'réf scénario.toml'");
        assert_eq!(shell_word("it's.toml"), "'it'\\''s.toml'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a;rm -rf x"), "'a;rm -rf x'");
    }
}
