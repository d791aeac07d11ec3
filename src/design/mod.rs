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
//! Unlike `simulate`, a comparison keeps one `f64` per trial and per figure of every run in
//! memory (the paired differences and percentiles need them), but only for the reference run
//! (the base, a sweep's first point) and the runs in flight, at most one per thread
//! ([`in_batches`], [`runs_kept`]): each run is reduced to its figures as soon as it ends. A
//! 200 x 200 sweep keeps as much as a 2 x 2 one. A variant run one per thread runs its trials
//! on that thread with one worker, so a comparison never holds more workers than threads.
//!
//! The library does no IO: callers pass the scenario's text and get plain data back.

pub mod solve;
pub mod stress;
pub mod sweep;
pub mod tornado;

use crate::error::Diagnostics;
use crate::metrics::{self, Figure, Metric, Stat, Unit};
use crate::model::Model;
use crate::montecarlo::{SimConfig, TrialRecord, run_trials};
use crate::scenario::overrides::{Override, OverrideError};
use crate::scenario::{self, Scenario};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a term design (a comparison, stress, sweep, tornado or solve) could not be made. Each
/// displays as the message a user reads: where, what is wrong and what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub enum DesignError {
    /// The scenario with the changes every variant starts from (`--set`) is not valid.
    Scenario(Diagnostics),
    /// A figure that is not well formed or names nothing in the contract.
    Figure(metrics::FigureError),
    /// An override or a term's path (`--set`, `--vary`, `--term`) that is not well formed or
    /// matches nothing in the scenario.
    Override(OverrideError),
    /// Another argument that does not fit the scenario or the design (`--vary`'s range,
    /// `--target`, `--bounds`, `--step`, a term that is not a number), with what is allowed.
    Argument(String),
    /// The per-trial records of a run would need more memory than can be had.
    Memory {
        /// Trials asked for.
        trials: u64,
        /// Figures recorded per trial.
        figures: usize,
    },
    /// A trial could not be settled: the run stopped (the reason of
    /// [`crate::montecarlo::run_trials`]).
    Stopped(String),
    /// The solver's run at one value of its term failed.
    At {
        /// The term, as written.
        term: String,
        /// The value tried.
        value: f64,
        /// What went wrong there.
        why: Box<DesignError>,
    },
}

impl std::fmt::Display for DesignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::chart::theme::{count, number};
        match self {
            DesignError::Scenario(d) => write!(f, "{d}"),
            DesignError::Figure(e) => write!(f, "{e}"),
            DesignError::Override(e) => write!(f, "{e}"),
            DesignError::Argument(m) => f.write_str(m),
            DesignError::Memory { trials, figures } => write!(
                f,
                "cannot keep {} x {figures} figures in memory (about {} GB); use fewer trials",
                count(*trials, "trial", "trials"),
                number((memory_needed(1, *figures, *trials) as f64 / 1e8).round() / 10.0)
            ),
            DesignError::Stopped(why) => write!(f, "the simulation stopped: {why}"),
            DesignError::At { term, value, why } => match why.as_ref() {
                DesignError::Scenario(d) => {
                    write!(f, "at {term} = {value} the scenario is not valid:\n{d}")
                }
                e => write!(f, "at {term} = {value}: {e}"),
            },
        }
    }
}

impl std::error::Error for DesignError {}

impl From<Diagnostics> for DesignError {
    fn from(d: Diagnostics) -> Self {
        DesignError::Scenario(d)
    }
}

impl From<metrics::FigureError> for DesignError {
    fn from(e: metrics::FigureError) -> Self {
        DesignError::Figure(e)
    }
}

/// A message about an argument ([`DesignError::Argument`]).
impl From<String> for DesignError {
    fn from(m: String) -> Self {
        DesignError::Argument(m)
    }
}

impl From<OverrideError> for DesignError {
    fn from(e: OverrideError) -> Self {
        DesignError::Override(e)
    }
}

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

/// One variant's run: the per-trial values of the figures asked for.
#[derive(Clone, Debug)]
pub struct Run {
    /// Trials settled.
    pub trials: u64,
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
) -> Result<Run, DesignError> {
    let c = &sc.contract;
    let ms: Vec<Metric> = metrics
        .iter()
        .map(|m| metrics::parse(m, c))
        .collect::<Result<_, _>>()?;
    let too_big = || DesignError::Memory {
        trials: cfg.trials,
        figures: ms.len(),
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
    // In the current pool, or on this thread alone where `in_batches` runs one variant a
    // thread.
    let cfg1 = SimConfig {
        threads: ONE_A_THREAD.with(|x| x.get()).then_some(1),
        ..cfg.clone()
    };
    // The records only: nothing of `simulate`'s summary is used.
    let trials = run_trials(c, model, &cfg1, &cb).map_err(DesignError::Stopped)?;
    let values = (0..ms.len())
        .map(|k| {
            cells[k * n..(k + 1) * n]
                .iter()
                .map(|x| f64::from_bits(x.load(Ordering::Relaxed)))
                .collect()
        })
        .collect();
    Ok(Run { trials, values })
}

/// Runs `f` on `threads` worker threads (`None` or `Some(0)`: all cores; at most
/// [`crate::montecarlo::MAX_THREADS`]).
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    match threads.filter(|&n| n > 0) {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.min(crate::montecarlo::MAX_THREADS))
            .build()
        {
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

/// How `metrics` are shown, each parsed against the contract `c`.
pub fn figure_infos(
    c: &crate::Contract,
    metrics: &[String],
) -> Result<Vec<FigureInfo>, metrics::FigureError> {
    metrics
        .iter()
        .map(|m| {
            metrics::parse(m, c).map(|x| FigureInfo {
                name: m.clone(),
                unit: x.def.unit,
                stat: x.def.stat,
            })
        })
        .collect()
}

/// The figures of `variant`'s `run`, and their differences to the base's run `base` (the same
/// figures, on the same trials).
pub fn variant_figures(
    variant: &Variant,
    figures: &[FigureInfo],
    base: &Run,
    run: &Run,
) -> VariantFigures {
    let per = |f: &PairFn| {
        figures
            .iter()
            .enumerate()
            .map(|(k, fi)| f(fi.stat, &base.values[k], &run.values[k]))
            .collect::<Vec<_>>()
    };
    VariantFigures {
        label: variant.label.clone(),
        description: variant.description.clone(),
        overrides: variant.overrides.iter().map(|o| o.text.clone()).collect(),
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
}

/// Loads `variant` and runs it, recording `metrics`; a variant that does not validate, or
/// whose run stops, is an error.
pub fn load_and_run(
    src: &Source<'_>,
    variant: &Variant,
    metrics: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<(Scenario, Run), DesignError> {
    let (sc, model) = src.load(variant)?;
    let run = run_variant(&sc, &model, metrics, cfg, progress)?;
    Ok((sc, run))
}

/// The most runs a comparison of `variants` variants keeps in memory at once on `threads`
/// worker threads (`None`: all cores): the reference run, and one in flight per thread (see
/// [`in_batches`]). Pass it to [`memory_needed`].
pub fn runs_kept(variants: usize, threads: Option<usize>) -> usize {
    let t = threads
        .filter(|&t| t > 0)
        .unwrap_or_else(rayon::current_num_threads)
        .min(crate::montecarlo::MAX_THREADS);
    1 + variants.min(t)
}

thread_local! {
    /// Set while [`in_batches`] runs an item on this thread alone: [`run_variant`] then runs
    /// its trials on this thread, not in the pool.
    static ONE_A_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Calls `f` on every item, in parallel, and returns what it gives in the items' order; at most
/// one item per worker thread of the current pool is in flight at a time, so a comparison's
/// memory is bounded by its threads, not its variants: each run's per-trial values and
/// workers are dropped as soon as `f` has reduced them to figures.
///
/// As many items as fill every thread a whole number of times run one per thread, each
/// [`run_variant`] on its own thread with one worker (runs nested in one another's threads
/// would each make a worker per thread: up to threads² at once). The items left over, fewer
/// than the threads, run one after another, each over all the threads.
pub fn in_batches<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync + Send) -> Vec<T> {
    // Sets the flag for one item and gives back what it was (an item nests nothing that
    // could steal another, but the flag stays right if one ever does).
    struct Alone(bool);
    impl Alone {
        fn new() -> Alone {
            Alone(ONE_A_THREAD.with(|x| x.replace(true)))
        }
    }
    impl Drop for Alone {
        fn drop(&mut self) {
            ONE_A_THREAD.with(|x| x.set(self.0));
        }
    }
    let k = rayon::current_num_threads().max(1);
    let whole = if k > 1 { items.len() / k * k } else { 0 };
    let mut out: Vec<T> = items[..whole]
        .par_iter()
        .with_max_len(1)
        .map(|i| {
            let _alone = Alone::new();
            f(i)
        })
        .collect();
    out.extend(items[whole..].iter().map(&f));
    out
}

/// Runs the base and `variants` and compares them on `metrics`. The base must load; a
/// variant that does not is listed in [`Comparison::skipped`]. The base runs first; the
/// variants then run in parallel, at most one per thread at a time ([`in_batches`]), each
/// reduced to its figures as soon as it ends.
pub fn compare_variants(
    src: &Source<'_>,
    variants: &[Variant],
    metrics: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Comparison, DesignError> {
    with_threads(cfg.threads, || {
        let base = Variant::base();
        let (sc, base_run) = load_and_run(src, &base, metrics, cfg, progress)?;
        let figures = figure_infos(&sc.contract, metrics)?;
        let mut out = vec![variant_figures(&base, &figures, &base_run, &base_run)];
        let mut skipped = Vec::new();
        let runs = in_batches(variants, |v| {
            load_and_run(src, v, metrics, cfg, progress)
                .map(|(_, run)| variant_figures(v, &figures, &base_run, &run))
        });
        for (v, r) in variants.iter().zip(runs) {
            match r {
                Ok(f) => out.push(f),
                Err(e) => skipped.push((v.label.clone(), e.to_string().trim_end().to_string())),
            }
        }
        // Every variant's `overrides` are its own, on top of the changes every variant starts
        // from (`--set`, which the output lists once, with the scenario): the base's are none.
        Ok(Comparison {
            trials: cfg.trials,
            seed: cfg.seed,
            figures,
            variants: out,
            skipped,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items that fill every thread a whole number of times run each on its own thread (their
    /// trials with one worker); the items left over run over all threads; the flag is clear
    /// again afterwards. On one thread nothing runs alone: the pool is that thread.
    #[test]
    fn whole_batches_run_one_item_a_thread_and_the_rest_over_all_threads() {
        for (threads, n, alone) in [(2, 5, 4), (3, 7, 6), (2, 1, 0), (3, 3, 3), (1, 4, 0)] {
            let items: Vec<usize> = (0..n).collect();
            let seen = with_threads(Some(threads), || {
                in_batches(&items, |&i| (i, ONE_A_THREAD.with(|x| x.get())))
            });
            let want: Vec<(usize, bool)> = (0..n).map(|i| (i, i < alone)).collect();
            assert_eq!(seen, want, "{threads} threads, {n} items");
            assert!(!ONE_A_THREAD.with(|x| x.get()));
        }
    }

    /// A variant run alone on its thread gives the same per-trial values as one run over the
    /// pool.
    #[test]
    fn a_variant_run_alone_gives_the_same_values() {
        let text = include_str!("../../scenarios/reference.toml");
        let (sc, model) = scenario::parse_with_model("r.toml", text).unwrap();
        let cfg = SimConfig {
            trials: 600,
            seed: 5,
            threads: None,
        };
        let figs = ["payments_mean".to_string(), "irr_p5:junior".to_string()];
        let pooled = with_threads(Some(2), || run_variant(&sc, &model, &figs, &cfg, None))
            .unwrap()
            .values;
        let alone = with_threads(Some(2), || {
            in_batches(&[0, 1], |_| {
                run_variant(&sc, &model, &figs, &cfg, None).unwrap()
            })
        });
        for run in alone {
            assert_eq!(run.values.len(), pooled.len());
            for (a, b) in run.values.iter().zip(&pooled) {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b));
            }
        }
    }
}
