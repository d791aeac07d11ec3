//! The term solver: the value of one term (a price, the total cap, a tranche's size or rate, a
//! threshold) at which a target such as `p_full_repayment:bank >= 0.95` starts or stops being
//! met, found by bisection within stated bounds, every evaluation on common random numbers.
//!
//! # Targets
//!
//! `FIGURE OP NUMBER`, with a figure from [`crate::metrics::REGISTRY`], `OP` one of `>=`, `>`,
//! `<=`, `<`, and a number written plainly (`0.95`, `1_100_000`) or as a percentage (`95%`):
//!
//! ```text
//! p_full_repayment:bank >= 0.95
//! p_net_negative:enschede <= 10%
//! p_paid_above:payers:1100000 <= 0.10
//! irr_p50:junior >= 0.06
//! ```
//!
//! # Method
//!
//! The figure is evaluated at both bounds and the midpoint. If it meets the target at exactly
//! one bound, bisection narrows the boundary down to the step; the answer is the value nearest
//! the boundary that meets the target (the most generous cap that still keeps a payer safe, the
//! lowest price that still repays the bank). With common random numbers the figure is a
//! deterministic function of the term for a given seed, so bisection is exact for it; the
//! solver checks that the values it saw move in one direction and says so when they do not.

use super::{DesignError, Source, Variant, run_variant};
use crate::metrics::{self, Figure};
use crate::montecarlo::SimConfig;
use crate::scenario::overrides::{Override, Step, parse_decimal, parse_path, path_text};
use crate::scenario::raw::float_decimal;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::sync::atomic::AtomicU64;
use toml::Value;

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Cmp {
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `<`
    #[serde(rename = "<")]
    Lt,
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Ge => a >= b,
            Cmp::Gt => a > b,
            Cmp::Le => a <= b,
            Cmp::Lt => a < b,
        }
    }
    fn text(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
        }
    }
}

/// A target: `FIGURE OP NUMBER`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Target {
    /// The figure (`p_full_repayment:bank`).
    pub figure: String,
    /// The comparison.
    pub cmp: Cmp,
    /// The number.
    pub value: f64,
    /// Whether the number was written in % (for a probability or a rate, not an amount).
    #[serde(skip)]
    pub percent: bool,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.figure, self.cmp.text(), self.value)
    }
}

impl Target {
    /// Whether a figure of `x` meets the target.
    pub fn holds(&self, x: f64) -> bool {
        self.cmp.holds(x, self.value)
    }

    /// Parses `FIGURE OP NUMBER` (the figure is checked against a contract later).
    pub fn parse(s: &str) -> Result<Target, DesignError> {
        Target::read(s).map_err(DesignError::Argument)
    }

    fn read(s: &str) -> Result<Target, String> {
        let s = s.trim();
        let ops = [
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
        ];
        const ALLOWED: &str = "OP one of >=, >, <=, < (e.g. \"p_full_repayment:bank >= 0.95\")";
        // The comparison is the first run of `<`, `>`, `=` and `!`, whole: `=>` or `==` is a
        // mistyped one, not `>` or nothing after a figure named `... =`.
        let is_op = |c: char| matches!(c, '<' | '>' | '=' | '!');
        let Some(i) = s.find(is_op) else {
            return Err(format!(
                "target `{s}` has no comparison; write FIGURE OP NUMBER with {ALLOWED}"
            ));
        };
        let run = &s[i..i + s[i..].find(|c: char| !is_op(c)).unwrap_or(s.len() - i)];
        let Some(&(t, cmp)) = ops.iter().find(|(t, _)| *t == run) else {
            return Err(format!(
                "target `{s}`: `{run}` is not a comparison; write FIGURE OP NUMBER with {ALLOWED}"
            ));
        };
        let figure = s[..i].trim();
        let rhs = s[i + t.len()..].trim();
        if figure.is_empty() {
            return Err(format!("target `{s}` names no figure before `{t}`"));
        }
        if figure.contains(char::is_whitespace) {
            return Err(format!(
                "target `{s}`: `{figure}` is not a figure name (no spaces); e.g. `p_full_repayment:bank`"
            ));
        }
        if rhs.is_empty() {
            return Err(format!(
                "target `{s}` has no number after `{t}`; write e.g. 0.95 or 95%"
            ));
        }
        let (num, pct) = match rhs.strip_suffix('%') {
            Some(x) => (x.trim(), true),
            None => (rhs, false),
        };
        // A percentage is divided in decimal, so that `9.7%` is the double nearest 0.097,
        // which 291 of 3,000 trials is too (9.7 / 100.0 is one below it and missed them).
        let exact = match (pct, crate::money::parse_number(num)) {
            (true, Ok(d)) => format!("{}", d / rust_decimal::Decimal::ONE_HUNDRED),
            _ => num.to_string(),
        };
        let v = crate::money::parse_figure_number(&exact).map_err(|p| {
            format!(
                "target `{s}`: `{rhs}` {}; write e.g. 0.95 or 95%",
                p.words(
                    "a target is a probability from 0 to 1, or an amount or a rate of at most 100,000,000,000,000 in size"
                )
            )
        })?;
        Ok(Target {
            figure: figure.to_string(),
            cmp,
            value: v,
            percent: pct,
        })
    }
}

/// One evaluation of the term.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// The term's value.
    pub value: f64,
    /// The target's figure there.
    pub figure: Figure,
    /// Whether the target holds there.
    pub meets: bool,
}

/// What the solver found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// The target holds on one side of `value`; `value` is the nearest that meets it.
    Found {
        /// The term's value.
        value: f64,
        /// Whether values above (`true`) or below it also meet the target.
        holds_above: bool,
    },
    /// The target holds at `value` (inside the bounds) but at neither bound: the figure does
    /// not move one way with the term, so there is no side on which it holds.
    Inside {
        /// A value that meets the target.
        value: f64,
    },
    /// The target holds at both bounds but not at `value` between them: the figure does not
    /// move one way with the term, so neither bound is a boundary of where it holds.
    FailsInside {
        /// A value that does not meet the target.
        value: f64,
    },
    /// Every value in the bounds meets the target.
    AllMeet,
    /// No value in the bounds meets the target.
    NoneMeet,
}

/// The solver's report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Solution {
    /// The term's path.
    pub term: String,
    /// Its value in the scenario (after `--set`); `None` for an optional term the file
    /// leaves out (then `--bounds` is required).
    pub current: Option<f64>,
    /// The target.
    pub target: Target,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// The value's resolution.
    pub step: f64,
    /// The answer.
    pub answer: Answer,
    /// Every evaluation, by term value.
    pub evaluations: Vec<Evaluation>,
    /// Whether the evaluations moved in one direction with the term.
    pub monotone: bool,
    /// Default bounds the scenario refused, each moved inward to the outermost value it
    /// accepts: (the bound it would have been, the bound it is, the scenario's first
    /// objection to the one refused).
    pub moved_bounds: Vec<(f64, f64, String)>,
    /// Trials per evaluation.
    pub trials: u64,
    /// Seed.
    pub seed: u64,
}

/// The current value of `path` in `text` with `base` applied: the number there (`None` for an
/// optional field the file leaves out, which an override may add), and whether it must be a
/// whole number (`whole_only`).
/// `option` names the term in messages (`--term`, `--vary`).
pub fn current_value(
    src: &Source<'_>,
    path: &[Step],
    option: &str,
) -> Result<(Option<f64>, bool), DesignError> {
    use std::str::FromStr;
    let mut doc = toml::Table::from_str(src.text).map_err(|e| e.to_string())?;
    crate::scenario::overrides::apply(&mut doc, src.base)?;
    // Read it by adding 0 to it: the same path rules and messages as an override, said of
    // the term rather than of an override the user did not write.
    let term = path_text(path);
    let probe = Override::parse(&format!("{term}+=0"))?;
    match crate::scenario::overrides::apply(&mut doc.clone(), std::slice::from_ref(&probe)) {
        Ok(_) => {}
        Err(e) => {
            // Absent but settable (an optional field): no current value.
            let set = Override::number(path, Decimal::ZERO);
            if crate::scenario::overrides::apply(&mut doc.clone(), std::slice::from_ref(&set))
                .is_ok()
            {
                return Ok((None, false));
            }
            return Err(e
                .0
                .replace(&format!("`{term}+=0`"), &format!("{option} `{term}`"))
                .replace(
                    ", so it cannot be changed by arithmetic",
                    &format!("; {option} names one number of the scenario, such as `outcomes.ID.price`, `cohorts.ID.size` or `tranches.ID.rate`"),
                )
                .into());
        }
    };
    // The term's one number (the probe found it), read along the term's own steps: an id may
    // hold dots or brackets, which its written path cannot be split at.
    let cur = crate::scenario::overrides::value_at(&doc, path)
        .cloned()
        .ok_or_else(|| DesignError::Argument(format!("`{}` is not a number", path_text(path))))?;
    match cur {
        Value::Integer(i) => Ok((Some(i as f64), whole_only(src, path))),
        Value::Float(x) => Ok((Some(x), false)),
        Value::String(s) => parse_decimal(&s)
            .and_then(|d| d.to_f64())
            .map(|x| (Some(x), false))
            .ok_or_else(|| DesignError::Argument(format!("`{}` is not a number", path_text(path)))),
        _ => Err(format!("`{}` is not a number", path_text(path)).into()),
    }
}

/// Whether a term the file writes as a whole number must be one (a count, a period, a lag),
/// rather than an amount or a price written whole that may take decimals.
fn whole_only(src: &Source<'_>, path: &[Step]) -> bool {
    decimals_taken(src, path) == 0
}

/// The scenario with the single override `o`, validated like the file.
fn load_with(src: &Source<'_>, o: Override) -> Result<(), crate::error::Diagnostics> {
    let variant = Variant {
        label: String::new(),
        description: String::new(),
        overrides: vec![o.by("--term value")],
    };
    src.load(&variant).map(|_| ())
}

/// The most decimals the term takes: 12 (a ratio or a rate), 6 (a price, units), 2 (money:
/// whole cents) or 0 (a whole number), found by setting it to a value with that many and
/// seeing whether the scenario refuses it for its decimals.
pub fn decimals_taken(src: &Source<'_>, path: &[Step]) -> u32 {
    for (k, probe) in [(12, "1.123456789012"), (6, "1.123456"), (2, "1.12")] {
        let Ok(o) = Override::parse(&format!("{}={probe}", path_text(path))) else {
            return 0;
        };
        let refused = load_with(src, o).is_err_and(|d| {
            d.items
                .iter()
                .any(|i| i.message.contains("decimals") || i.message.contains("whole number"))
        });
        if !refused {
            return k;
        }
    }
    0
}

/// How the solver searches.
#[derive(Clone, Debug)]
pub struct SolveConfig {
    /// Lower and upper bound (default: half to one and a half times the current value, for a
    /// whole number at least one below and two above it; 0 to twice for a share or a rate up
    /// to 1; moved inward to what the scenario accepts).
    pub bounds: Option<(f64, f64)>,
    /// Resolution of the answer (default: 1/10,000 of the range rounded down to a power of
    /// ten; at least 1 for whole numbers).
    pub step: Option<f64>,
}

fn default_step(lo: f64, hi: f64, whole: bool) -> f64 {
    let r = (hi - lo).abs().max(1e-12);
    let s = 10f64.powf((r / 10_000.0).log10().floor());
    if whole { s.max(1.0).round() } else { s }
}

/// `x` rounded to the decimals of `step` (print-friendly).
fn tidy(x: f64, step: f64) -> f64 {
    let dec = (-step.log10().floor()).max(0.0) as i32;
    let p = 10f64.powi(dec.min(12));
    (x * p).round() / p
}

/// The point of the grid `lo + k step` nearest `x`, kept within `[lo, hi]`.
fn snap(x: f64, lo: f64, hi: f64, step: f64) -> f64 {
    let k = ((x - lo) / step).round();
    tidy(lo + k * step, step).clamp(lo, hi)
}

/// A number for a message: plain, or in scientific notation when very large.
fn number_text(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e15 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Solves for the term at `path` so that `target` holds.
pub fn solve(
    src: &Source<'_>,
    path_s: &str,
    target: &Target,
    sc: &SolveConfig,
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Solution, DesignError> {
    let path = parse_path(path_s)?;
    if path.contains(&Step::All) {
        return Err(format!("--term `{path_s}` must name one value; `*` is not allowed").into());
    }
    let (current, whole) = current_value(src, &path, "--term")?;
    // A term the file leaves out is whole when the scenario takes no decimals for it.
    let whole = match current {
        None => whole_only(src, &path),
        _ => whole,
    };
    let (base_sc, _) = src.load(&Variant::base())?;
    let m = metrics::parse(&target.figure, &base_sc.contract)?;
    if target.percent && m.unit() == metrics::Unit::Money {
        return Err(format!(
            "--target: `{}` is an amount in {}, not a share: write the amount, without %",
            target.figure, base_sc.contract.currency
        )
        .into());
    }
    if m.unit() == metrics::Unit::Probability && !(0.0..=1.0).contains(&target.value) {
        return Err(format!(
            "target `{target}`: `{}` is a probability, from 0 to 1 (0% to 100%); {} is outside it",
            target.figure, target.value
        )
        .into());
    }
    if let Some((a, b)) = sc.bounds {
        let largest = crate::money::LARGEST_VALUE as f64;
        for (which, x) in [("lower", a), ("upper", b)] {
            if !x.is_finite() || x.abs() > largest {
                return Err(format!(
                    "--bounds {}:{}: the {which} bound {} is out of range for `{path_s}`; a bound is a value of the term: {}",
                    number_text(a),
                    number_text(b),
                    number_text(x),
                    crate::money::LARGEST_NUMBERS
                ).into());
            }
        }
    }
    let (lo, hi, given) = match (sc.bounds, current) {
        (Some((a, b)), _) if a < b => (a, b, true),
        (Some((a, b)), _) => {
            return Err(
                format!("--bounds {a}:{b}: the lower bound must be below the upper").into(),
            );
        }
        (None, None) => {
            // A misspelt name is not an optional term: say what the scenario says of it.
            if let Err(d) = load_with(src, Override::number(&path, Decimal::ZERO))
                && let Some(i) = d.items.iter().find(|i| i.message.contains("unknown field"))
            {
                // (Without the probe's "(after --term value `PATH=0`)", which the user did not
                // write.)
                let m = i
                    .message
                    .split(" (after --term value `")
                    .next()
                    .unwrap_or(&i.message);
                return Err(format!("--term `{path_s}`: {m}").into());
            }
            return Err(format!(
                "`{path_s}` is not in the scenario (an optional term); give --bounds LO:HI"
            )
            .into());
        }
        // A whole number (a count, a period, a lag): half to one and a half times it, but at
        // least one below and two above, so that a lag or a period of 1 or 2 still has room
        // to move (0.5 to 1.5 times 1 holds no whole number but 1).
        (None, Some(c)) if whole => {
            let half = c.abs() * 0.5;
            (
                (c - half.max(1.0)).floor(),
                (c + half.max(2.0)).ceil(),
                false,
            )
        }
        // A share or rate: 0 to twice the value (moved inward below to what the scenario
        // accepts: at most 1 for a rate, `max` for a fill rate that may exceed its target).
        (None, Some(c)) if c > 0.0 && c <= 1.0 && !whole => (0.0, 2.0 * c, false),
        (None, Some(0.0)) => {
            return Err(format!("`{path_s}` is 0 in the scenario; give --bounds LO:HI").into());
        }
        (None, Some(c)) => {
            let (a, b) = (c * 0.5, c * 1.5);
            (a.min(b), a.max(b), false)
        }
    };
    let step = match sc.step {
        Some(s) if s > 0.0 && s.is_finite() => s,
        Some(s) => return Err(format!("--step must be a number above 0, got {s}").into()),
        None => default_step(lo, hi, whole),
    };
    // No finer than the term takes: whole cents for money, six decimals for a price, a
    // whole number for a count (a finer step searched values the scenario refuses).
    let step = if whole {
        step.max(1.0).round()
    } else {
        step.max(10f64.powi(-(decimals_taken(src, &path) as i32)))
    };
    // Bounds the user gave are kept as given (the search never leaves them); default bounds
    // are tidied to the step's decimals, inward for a whole-number term.
    let (lo, hi) = if given {
        (lo, hi)
    } else if whole {
        (lo.ceil(), hi.floor())
    } else {
        (tidy(lo, step), tidy(hi, step))
    };
    // A default bound the scenario refuses (a Beta mean of 0 or 1, or one too near them for
    // the rate's spread) moves inward to the outermost value it accepts, found by bisection
    // towards the scenario's own value, to the step.
    let refused = |x: f64| {
        float_decimal(x).is_none_or(|d| load_with(src, Override::number(&path, d)).is_err())
    };
    let accepted_from = |bad: f64, good: f64| {
        let (mut bad, mut good) = (bad, good);
        while (good - bad).abs() > step {
            let m = tidy((bad + good) / 2.0, step);
            if m == bad || m == good {
                break;
            }
            if refused(m) {
                bad = m;
            } else {
                good = m;
            }
        }
        good
    };
    let (lo0, hi0) = (lo, hi);
    let (lo, hi) = match current {
        Some(c) if !given && c > lo && c < hi && !refused(c) => (
            if refused(lo) {
                accepted_from(lo, c)
            } else {
                lo
            },
            if refused(hi) {
                accepted_from(hi, c)
            } else {
                hi
            },
        ),
        _ => (lo, hi),
    };
    // Say which default bound moved, and why.
    let objection = |x: f64| -> String {
        float_decimal(x)
            .map(|d| match load_with(src, Override::number(&path, d)) {
                Err(e) => e
                    .items
                    .first()
                    .map(|i| format!("{}: {}", i.path, i.message))
                    .unwrap_or_default(),
                Ok(()) => String::new(),
            })
            .unwrap_or_else(|| "not a number the scenario can hold".to_string())
    };
    let mut moved_bounds = Vec::new();
    for (was, is) in [(lo0, lo), (hi0, hi)] {
        if was != is {
            moved_bounds.push((was, is, objection(was)));
        }
    }
    // Default bounds the scenario narrows to a single value leave nothing to search.
    if !given && lo >= hi {
        return Err(format!(
            "the scenario accepts no value of `{path_s}` near its own ({}) but that one, so there \
             is no range to search by default; give --bounds LO:HI",
            current.map_or("not set".to_string(), |c| c.to_string())
        )
        .into());
    }
    let figures = [target.figure.clone()];
    let mut evals: Vec<Evaluation> = Vec::new();
    let mut eval = |x: f64| -> Result<Evaluation, DesignError> {
        if let Some(e) = evals.iter().find(|e| e.value == x) {
            return Ok(e.clone());
        }
        // The value as its shortest decimal (0.3, not 0.299999...), as the file would have it.
        let d = float_decimal(x).ok_or_else(|| {
            format!(
                "{path_s} = {}: the value is out of range; {}",
                number_text(x),
                crate::money::LARGEST_NUMBERS
            )
        })?;
        let v = Variant {
            label: format!("{path_s}={x}"),
            description: String::new(),
            overrides: vec![Override::number(&path, d).by("--term value")],
        };
        let at = |why: DesignError| DesignError::At {
            term: path_s.to_string(),
            value: x,
            why: Box::new(why),
        };
        let (scn, model) = src.load(&v).map_err(|d| at(d.into()))?;
        let run = super::with_threads(cfg.threads, || {
            run_variant(&scn, &model, &figures, cfg, progress)
        })
        .map_err(at)?;
        let f = metrics::figure(m.def.stat, &run.values[0]);
        let e = Evaluation {
            value: x,
            figure: f,
            meets: target.cmp.holds(f.value, target.value),
        };
        evals.push(e.clone());
        Ok(e)
    };
    let a = eval(lo)?;
    let b = eval(hi)?;
    let mid = snap((lo + hi) / 2.0, lo, hi, step);
    eval(mid)?;
    // A figure that does not move one way with the term may differ inside from both bounds:
    // the midpoint, the quarter points and the scenario's own value are looked at before
    // saying that every value, or none, meets the target.
    let mut inside = [mid, lo + (hi - lo) / 4.0, lo + 3.0 * (hi - lo) / 4.0]
        .into_iter()
        .chain(current.filter(|c| *c > lo && *c < hi))
        .map(|x| snap(x, lo, hi, step))
        .collect::<Vec<f64>>();
    inside.dedup();
    let mut other_inside = |meets: bool| -> Result<Option<f64>, DesignError> {
        for &x in &inside {
            if eval(x)?.meets != meets {
                return Ok(Some(x));
            }
        }
        Ok(None)
    };
    let answer = match (a.meets, b.meets) {
        (true, true) => match other_inside(true)? {
            Some(value) => Answer::FailsInside { value },
            None => Answer::AllMeet,
        },
        (false, false) => match other_inside(false)? {
            Some(value) => Answer::Inside { value },
            None => Answer::NoneMeet,
        },
        (ma, _) => {
            // good: meets, bad: does not.
            let (mut good, mut bad) = if ma { (lo, hi) } else { (hi, lo) };
            loop {
                let m = snap((good + bad) / 2.0, lo, hi, step);
                if (m - good).abs() < step * 0.5 || (m - bad).abs() < step * 0.5 {
                    break;
                }
                if eval(m)?.meets {
                    good = m;
                } else {
                    bad = m;
                }
            }
            Answer::Found {
                value: good,
                holds_above: bad < good,
            }
        }
    };
    evals.sort_by(|a, b| a.value.total_cmp(&b.value));
    let ys: Vec<f64> = evals.iter().map(|e| e.figure.value).collect();
    let up = ys.windows(2).all(|w| w[1] >= w[0]);
    let down = ys.windows(2).all(|w| w[1] <= w[0]);
    Ok(Solution {
        term: path_text(&path),
        current,
        target: target.clone(),
        lo,
        hi,
        step,
        answer,
        evaluations: evals,
        monotone: up || down,
        moved_bounds,
        trials: cfg.trials,
        seed: cfg.seed,
    })
}
