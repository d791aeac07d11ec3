//! Sensitivity (tornado): each uncertain input of the `[uncertainty]` model fixed at its low
//! and its high value (its P10 and P90, or the mean moved by a stated percentage), the effect on
//! one figure, ranked by the width of the swing. All runs use common random numbers, so each
//! bar is the effect of that input alone, with a paired standard error.
//!
//! Inputs: the fill rate, each outcome's success rate (or quantity distribution) and
//! control-group rate, the cost per participant, and each shock (off / on, whatever the
//! range).

use super::{DesignError, Source, Variant, in_batches, load_and_run};
use crate::metrics::{self, Figure, Unit};
use crate::model::{BetaRate, Dist, OutcomeDraw};
use crate::montecarlo::SimConfig;
use crate::scenario::overrides::Override;
use std::sync::atomic::AtomicU64;

/// Standard normal quantile at 0.9.
const Z90: f64 = 1.281_551_565_544_600_4;

/// How far to move each input.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Range {
    /// Fix the input at its P10 (low) and P90 (high).
    Percentiles,
    /// Move the input's mean (or min, mode and max) down and up by this fraction (0.2 = 20%),
    /// keeping its spread.
    Percent(f64),
}

/// What an input is, for showing its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A rate or share (a fill rate, a success rate): shown in %.
    Share,
    /// An amount of money (the cost per participant): shown in the currency, whole units.
    Money,
    /// A quantity of units: shown with up to two decimals.
    Quantity,
    /// A shock, off (0) or on (1).
    Shock,
}

impl InputKind {
    /// `x` for people: `34.7%`, `EUR 1,730`, `12.5`, `off`/`on`.
    pub fn show(self, x: f64, currency: &str) -> String {
        use crate::chart::theme;
        match self {
            InputKind::Share => theme::percent(x),
            InputKind::Money => theme::money(x, currency),
            InputKind::Quantity => theme::number((x * 100.0).round() / 100.0),
            InputKind::Shock if x == 0.0 => "off".into(),
            InputKind::Shock => "on".into(),
        }
    }
}

/// One bar of the tornado.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TornadoBar {
    /// The input, for people (`success rate of housing`).
    pub input: String,
    /// Its path in the file.
    pub path: String,
    /// What it is (how to show its values).
    pub kind: InputKind,
    /// The input's low value.
    pub low_input: f64,
    /// The input's high value.
    pub high_input: f64,
    /// The figure with the input low.
    pub at_low: Figure,
    /// The figure with the input high.
    pub at_high: Figure,
    /// `at_low - base`, with its paired standard error.
    pub low_diff: Figure,
    /// `at_high - base`, with its paired standard error.
    pub high_diff: Figure,
    /// The swing `|at_high - at_low|`, with the paired standard error of `at_high - at_low`
    /// (the two ends share their trials' random numbers).
    pub swing: Figure,
}

/// A tornado: the figure at the base and one bar per input, widest swing first.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Tornado {
    /// The figure.
    pub figure: String,
    /// Its unit.
    pub unit: Unit,
    /// The range used.
    pub range: Range,
    /// The figure with every input uncertain.
    pub base: Figure,
    /// Bars, ranked by `|at_high - at_low|`, widest first.
    pub bars: Vec<TornadoBar>,
    /// Inputs that could not be moved (the changed model did not validate), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Trials per run.
    pub trials: u64,
    /// Seed.
    pub seed: u64,
}

/// An id as a path segment: quoted when it holds a dot.
/// An id as a key of an override's path (quoted where it holds a dot, a quote, ...).
fn path_key(id: &str) -> String {
    crate::scenario::overrides::key_text(id)
}

fn f(x: f64) -> String {
    // Shortest text that reads back as the same f64.
    format!("{x:?}")
}

fn beta_q(b: &BetaRate, z: f64) -> f64 {
    b.exact(z)
}

fn fixed_dist(x: f64) -> String {
    format!("{{ dist = \"normal\", mean = {}, sd = 0 }}", f(x.max(0.0)))
}

fn scaled_dist(d: &Dist, k: f64) -> String {
    match *d {
        Dist::Normal { mean, sd } => format!(
            "{{ dist = \"normal\", mean = {}, sd = {} }}",
            f(mean * k),
            f(sd)
        ),
        Dist::LogNormal { mean, sd } => {
            format!(
                "{{ dist = \"lognormal\", mean = {}, sd = {} }}",
                f(mean * k),
                f(sd)
            )
        }
        Dist::Triangular { min, mode, max } => format!(
            "{{ dist = \"triangular\", min = {}, mode = {}, max = {} }}",
            f(min * k),
            f(mode * k),
            f(max * k)
        ),
        Dist::Pert { min, mode, max } => format!(
            "{{ dist = \"pert\", min = {}, mode = {}, max = {} }}",
            f(min * k),
            f(mode * k),
            f(max * k)
        ),
    }
}

/// One input: label, path, kind, (low value, low override), (high value, high override).
type Input = (String, String, InputKind, (f64, String), (f64, String));

fn inputs(sc: &crate::Scenario, model: &crate::model::Model, range: Range) -> Vec<Input> {
    let c = &sc.contract;
    let mut v: Vec<Input> = Vec::new();
    // `scale`: the rate's values are shares of `scale` (the fill rate's `max`; 1 otherwise).
    let mut beta = |label: String, path: String, b: &BetaRate, scale: f64| {
        let (lo, hi) = match range {
            Range::Percentiles => {
                if b.sd == 0.0 {
                    return;
                }
                (beta_q(b, -Z90), beta_q(b, Z90))
            }
            Range::Percent(p) => {
                // A Beta rate with spread `sd` needs `mean (1 - mean) > sd^2`: the moved mean
                // stops just inside that (a fill rate of 0.85 up 20% is 0.9936 with sd 0.08,
                // not an invalid 1.02).
                let (min, max) = if b.sd > 0.0 {
                    let half = (0.25 - b.sd * b.sd).max(0.0).sqrt();
                    (0.5 - half + 1e-6, 0.5 + half - 1e-6)
                } else {
                    (0.0, 1.0)
                };
                (
                    (b.mean * (1.0 - p)).max(min).min(b.mean),
                    (b.mean * (1.0 + p)).min(max).max(b.mean),
                )
            }
        };
        let (lo, hi) = (lo * scale, hi * scale);
        let set = |x: f64| match range {
            Range::Percentiles if scale != 1.0 => {
                format!("{path}={{ mean = {}, sd = 0, max = {scale} }}", f(x))
            }
            Range::Percentiles => format!("{path}={{ mean = {}, sd = 0 }}", f(x)),
            Range::Percent(_) => format!("{path}.mean={}", f(x)),
        };
        v.push((
            label,
            path.clone(),
            InputKind::Share,
            (lo, set(lo)),
            (hi, set(hi)),
        ));
    };
    if let Some(b) = &model.fill {
        beta(
            "fill rate".into(),
            "uncertainty.fill".into(),
            b,
            model.fill_max,
        );
    }
    for (o, m) in model.outcomes.iter().enumerate() {
        let id = &c.outcomes[o].id;
        let key = path_key(id);
        if let OutcomeDraw::Rate(b) = &m.draw {
            beta(
                format!("success rate of {id}"),
                format!("uncertainty.outcomes.{key}.rate"),
                b,
                1.0,
            );
        }
        if let Some(b) = &m.baseline_rate {
            beta(
                format!("control group rate of {id}"),
                format!("uncertainty.outcomes.{key}.baseline_rate"),
                b,
                1.0,
            );
        }
    }
    let mut dist = |label: String, path: String, kind: InputKind, d: &Dist| {
        let (lo, hi, slo, shi) = match range {
            Range::Percentiles => {
                let (lo, hi) = (d.at_normal(-Z90), d.at_normal(Z90));
                (lo, hi, fixed_dist(lo), fixed_dist(hi))
            }
            Range::Percent(p) => (
                d.mean() * (1.0 - p),
                d.mean() * (1.0 + p),
                scaled_dist(d, 1.0 - p),
                scaled_dist(d, 1.0 + p),
            ),
        };
        v.push((
            label,
            path.clone(),
            kind,
            (lo, format!("{path}={slo}")),
            (hi, format!("{path}={shi}")),
        ));
    };
    for (o, m) in model.outcomes.iter().enumerate() {
        let id = &c.outcomes[o].id;
        let key = path_key(id);
        if let OutcomeDraw::Quantity(d) = &m.draw {
            dist(
                format!("quantity of {id}"),
                format!("uncertainty.outcomes.{key}.quantity"),
                InputKind::Quantity,
                d,
            );
        }
        if let Some(d) = &m.baseline_quantity {
            dist(
                format!("control group quantity of {id}"),
                format!("uncertainty.outcomes.{key}.baseline_quantity"),
                InputKind::Quantity,
                d,
            );
        }
    }
    if let Some(d) = model.cost_per_participant() {
        dist(
            "cost per participant".into(),
            "uncertainty.cost_per_participant".into(),
            InputKind::Money,
            d,
        );
    }
    for (i, sh) in model.shocks.iter().enumerate() {
        let path = format!("uncertainty.shocks[{i}].probability");
        v.push((
            format!("shock {} ({})", i + 1, sh.effects(c)),
            path.clone(),
            InputKind::Shock,
            (0.0, format!("{path}=0.0")),
            (1.0, format!("{path}=1.0")),
        ));
    }
    v
}

/// The number of variants the tornado runs (the base, and each input low and high).
pub fn variant_count(sc: &crate::Scenario, model: &crate::model::Model, range: Range) -> usize {
    1 + 2 * inputs(sc, model, range).len()
}

/// Runs the tornado for `figure`.
pub fn tornado(
    src: &Source<'_>,
    figure: &str,
    range: Range,
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Tornado, DesignError> {
    let (sc, model) = src.load(&Variant::base())?;
    let m = metrics::parse(figure, &sc.contract)?;
    let ins = inputs(&sc, &model, range);
    let stat = m.def.stat;
    let figs = [figure.to_string()];
    let variant = |label: &str, side: &str, o: &str| -> Result<Variant, DesignError> {
        Ok(Variant {
            label: format!("{label} {side}"),
            description: String::new(),
            overrides: vec![Override::parse(o)?.by("the tornado's change")],
        })
    };
    // Every input's variants must parse before anything runs.
    let pairs = ins
        .iter()
        .map(|(label, _, _, (_, lo), (_, hi))| {
            Ok((variant(label, "low", lo)?, variant(label, "high", hi)?))
        })
        .collect::<Result<Vec<_>, DesignError>>()?;
    // The base first; then each input's low and high runs, reduced to a bar as soon as both
    // end (at most one input per thread in flight, see `in_batches`).
    let (base, mut bars, skipped) = super::with_threads(cfg.threads, || {
        let (_, base_run) = load_and_run(src, &Variant::base(), &figs, cfg, progress)?;
        let items: Vec<usize> = (0..ins.len()).collect();
        let results: Vec<Result<TornadoBar, DesignError>> = in_batches(&items, |&i| {
            let (label, path, kind, (lo, _), (hi, _)) = &ins[i];
            let (vlo, vhi) = &pairs[i];
            let a = load_and_run(src, vlo, &figs, cfg, progress)?.1;
            let b = load_and_run(src, vhi, &figs, cfg, progress)?.1;
            let (a, b, z) = (&a.values[0], &b.values[0], &base_run.values[0]);
            Ok(TornadoBar {
                input: label.clone(),
                path: path.clone(),
                kind: *kind,
                low_input: *lo,
                high_input: *hi,
                at_low: metrics::figure(stat, a),
                at_high: metrics::figure(stat, b),
                low_diff: metrics::paired_difference(stat, z, a),
                high_diff: metrics::paired_difference(stat, z, b),
                swing: Figure {
                    value: (metrics::figure(stat, b).value - metrics::figure(stat, a).value).abs(),
                    se: metrics::paired_difference(stat, a, b).se,
                },
            })
        });
        let mut bars = Vec::new();
        let mut skipped = Vec::new();
        for (r, (label, ..)) in results.into_iter().zip(&ins) {
            match r {
                Ok(bar) => bars.push(bar),
                Err(e) => skipped.push((label.clone(), e.to_string().trim_end().to_string())),
            }
        }
        Ok::<_, DesignError>((metrics::figure(stat, &base_run.values[0]), bars, skipped))
    })?;
    bars.sort_by(|a, b| {
        let w = |x: &TornadoBar| x.swing.value;
        w(b).total_cmp(&w(a))
    });
    Ok(Tornado {
        figure: figure.to_string(),
        unit: m.unit(),
        range,
        base,
        bars,
        skipped,
        trials: cfg.trials,
        seed: cfg.seed,
    })
}
