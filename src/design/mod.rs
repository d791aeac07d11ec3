//! Term design on top of the Monte Carlo engine: variants of one scenario (overrides) run on
//! **common random numbers** and compared figure by figure with paired standard errors;
//! named stresses ([`stress`]), one- and two-parameter sweeps ([`sweep`]), sensitivity
//! (tornado, [`tornado`]) and a term solver ([`solve`]).
//!
//! # Common random numbers
//!
//! Every variant runs trial `i` on [`crate::montecarlo::trial_rng`]`(seed, i)`, and
//! [`crate::model::Model::draw`] gives each random component its own sub-stream, so a variant
//! that changes a price, a fill rate or a cost sees the same random world trial by trial. The
//! difference between two variants is then the effect of the change, not noise; its standard
//! error comes from the per-trial differences ([`crate::metrics::paired_difference`]).
//!
//! # Memory
//!
//! Unlike `simulate`, a comparison keeps one `f64` per trial, per figure and per variant (the
//! paired differences and percentiles need them): 10,000 trials x 20 figures x 6 variants is
//! 9.6 MB.
//!
//! The library does no IO: callers pass the scenario's text and get plain data back.

pub mod solve;
pub mod stress;
pub mod sweep;
pub mod tornado;

use crate::error::Diagnostics;
use crate::metrics::{self, Figure, Metric, Stat, Unit};
use crate::model::Model;
use crate::montecarlo::{Results, SimConfig, TrialRecord, simulate_with};
use crate::scenario::overrides::Override;
use crate::scenario::{self, Scenario};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// One variant of a scenario: overrides on top of the base.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Short label (`base`, `recession`, `price=1800`).
    pub label: String,
    /// What it means.
    pub description: String,
    /// The overrides (on top of the base's).
    pub overrides: Vec<Override>,
}

impl Variant {
    /// The base: no overrides.
    pub fn base() -> Self {
        Variant {
            label: "base".into(),
            description: "the scenario as given".into(),
            overrides: Vec::new(),
        }
    }
}

/// The scenario to vary: its file name and text, and overrides that apply to every variant
/// (the command line's `--set`).
#[derive(Clone, Debug)]
pub struct Source<'a> {
    /// File name, for messages.
    pub file: &'a str,
    /// The scenario's text.
    pub text: &'a str,
    /// Overrides applied first, to every variant.
    pub base: &'a [Override],
}

impl Source<'_> {
    /// The scenario and model of `variant`, validated like the file.
    pub fn load(&self, variant: &Variant) -> Result<(Scenario, Model), Diagnostics> {
        let mut all = self.base.to_vec();
        all.extend(variant.overrides.iter().cloned());
        scenario::parse_with_model_overrides(self.file, self.text, &all)
    }
}

/// One variant's run: the full results and the per-trial values of the figures asked for.
#[derive(Clone, Debug)]
pub struct Run {
    /// Everything `simulate` reports.
    pub results: Results,
    /// `[figure][trial]` values (`NaN`: undefined in that trial).
    pub values: Vec<Vec<f64>>,
}

/// Bytes the per-trial records of a comparison take at their peak, per trial, figure and
/// variant: 8 while the trials run and 8 more for the values handed back.
pub const BYTES_PER_RECORD: u64 = 16;

/// The memory the per-trial records of `variants` x `figures` x `trials` take.
pub fn memory_needed(variants: usize, figures: usize, trials: u64) -> u128 {
    variants as u128 * figures as u128 * trials as u128 * BYTES_PER_RECORD as u128
}

/// Runs one variant and records `metrics` per trial. `progress` counts finished trials.
pub fn run_variant(
    sc: &Scenario,
    model: &Model,
    metrics: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Run, String> {
    let c = &sc.contract;
    let ms: Vec<Metric> = metrics
        .iter()
        .map(|m| metrics::parse(m, c))
        .collect::<Result<_, _>>()?;
    let too_big = || {
        format!(
            "cannot keep {} x {} figures in memory (about {} GB); use fewer trials",
            crate::chart::theme::count(cfg.trials, "trial", "trials"),
            ms.len(),
            crate::chart::theme::number(
                (memory_needed(1, ms.len(), cfg.trials) as f64 / 1e8).round() / 10.0
            )
        )
    };
    let n = usize::try_from(cfg.trials).map_err(|_| too_big())?;
    let len = n.checked_mul(ms.len()).ok_or_else(too_big)?;
    let mut cells: Vec<AtomicU64> = Vec::new();
    cells.try_reserve_exact(len).map_err(|_| too_big())?;
    cells.extend((0..len).map(|_| AtomicU64::new(0)));
    let cb = |r: &TrialRecord| {
        let t = r.trial as usize;
        for (k, m) in ms.iter().enumerate() {
            cells[k * n + t].store(m.value(r).to_bits(), Ordering::Relaxed);
        }
        if let Some(p) = progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
    };
    let cfg1 = SimConfig {
        threads: None,
        ..cfg.clone()
    };
    let results = simulate_with(c, model, &cfg1, Some(&cb));
    if let Some(why) = &results.failure {
        return Err(format!("the simulation stopped: {why}"));
    }
    let values = (0..ms.len())
        .map(|k| {
            cells[k * n..(k + 1) * n]
                .iter()
                .map(|x| f64::from_bits(x.load(Ordering::Relaxed)))
                .collect()
        })
        .collect();
    Ok(Run { results, values })
}

/// Runs `f` on `threads` worker threads (`None`: all cores).
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    match threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        },
        None => f(),
    }
}

/// How one figure is shown.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FigureInfo {
    /// As written (`p_full_repayment:senior`).
    pub name: String,
    /// How to show it.
    pub unit: Unit,
    /// Mean or percentile.
    pub stat: Stat,
}

/// One variant in a comparison.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VariantFigures {
    /// Label.
    pub label: String,
    /// Description.
    pub description: String,
    /// The overrides, as text: the base's are the changes every variant starts from
    /// (`--set`), each other variant's its own, applied on top of them.
    pub overrides: Vec<String>,
    /// Per figure: the value and its standard error.
    pub figures: Vec<Figure>,
    /// Per figure: the difference to the base with its paired standard error (zero for the
    /// base itself).
    pub diffs: Vec<Figure>,
    /// Per figure: the standard error the difference would have from independent runs.
    pub independent_se: Vec<f64>,
}

/// Variants compared with the base (the first), figure by figure, on common random numbers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// Trials per variant.
    pub trials: u64,
    /// Seed.
    pub seed: u64,
    /// The figures.
    pub figures: Vec<FigureInfo>,
    /// The base first, then the others.
    pub variants: Vec<VariantFigures>,
    /// Variants that could not be run, with the reason.
    pub skipped: Vec<(String, String)>,
}

type PairFn = dyn Fn(Stat, &[f64], &[f64]) -> Figure;

/// Compares `runs` (the first is the base) on `metrics`.
pub fn compare(
    c: &crate::Contract,
    metrics: &[String],
    runs: &[(&Variant, &Run)],
    cfg: &SimConfig,
) -> Result<Comparison, String> {
    let figures: Vec<FigureInfo> = metrics
        .iter()
        .map(|m| {
            metrics::parse(m, c).map(|x| FigureInfo {
                name: m.clone(),
                unit: x.def.unit,
                stat: x.def.stat,
            })
        })
        .collect::<Result<_, _>>()?;
    let base = runs.first().map(|r| r.1);
    let variants = runs
        .iter()
        .map(|(v, run)| {
            let per = |f: &PairFn| {
                figures
                    .iter()
                    .enumerate()
                    .map(|(k, fi)| match base {
                        Some(b) => f(fi.stat, &b.values[k], &run.values[k]),
                        None => Figure {
                            value: f64::NAN,
                            se: f64::NAN,
                        },
                    })
                    .collect::<Vec<_>>()
            };
            VariantFigures {
                label: v.label.clone(),
                description: v.description.clone(),
                overrides: v.overrides.iter().map(|o| o.text.clone()).collect(),
                figures: figures
                    .iter()
                    .enumerate()
                    .map(|(k, fi)| metrics::figure(fi.stat, &run.values[k]))
                    .collect(),
                diffs: per(&metrics::paired_difference),
                independent_se: per(&|s, a, b| Figure {
                    value: metrics::independent_se(s, a, b),
                    se: 0.0,
                })
                .into_iter()
                .map(|f| f.value)
                .collect(),
            }
        })
        .collect();
    Ok(Comparison {
        trials: cfg.trials,
        seed: cfg.seed,
        figures,
        variants,
        skipped: Vec::new(),
    })
}

/// Loads and runs every variant (in parallel, each over trials in parallel), on common random
/// numbers, recording `metrics`; a variant that does not validate is returned as an error
/// message instead.
pub fn run_all(
    src: &Source<'_>,
    variants: &[Variant],
    metrics: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Vec<Result<(Scenario, Run), String>> {
    with_threads(cfg.threads, || {
        variants
            .par_iter()
            .map(|v| {
                let (sc, model) = src.load(v).map_err(|d| d.to_string())?;
                let run = run_variant(&sc, &model, metrics, cfg, progress)?;
                Ok((sc, run))
            })
            .collect()
    })
}

/// Runs the base and `variants` and compares them on `metrics`. The base must load; a
/// variant that does not is listed in [`Comparison::skipped`].
pub fn compare_variants(
    src: &Source<'_>,
    variants: &[Variant],
    metrics: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Comparison, String> {
    let mut all = vec![Variant::base()];
    all.extend(variants.iter().cloned());
    let runs = run_all(src, &all, metrics, cfg, progress);
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    let mut contract = None;
    for (v, r) in all.iter().zip(&runs) {
        match r {
            Ok((sc, run)) => {
                contract.get_or_insert_with(|| sc.contract.clone());
                ok.push((v, run));
            }
            Err(e) if v.label == "base" && v.overrides.is_empty() => return Err(e.clone()),
            Err(e) => skipped.push((v.label.clone(), e.trim_end().to_string())),
        }
    }
    let c = contract.ok_or("nothing to compare")?;
    let mut cmp = compare(&c, metrics, &ok, cfg)?;
    cmp.skipped = skipped;
    // Every variant's `overrides` are its own, on top of the changes every variant starts
    // from (`--set`, which the output lists once, with the scenario): the base's are none.
    Ok(cmp)
}
