//! The uncertainty model (docs/domain.md section 4): the `[uncertainty]` table of a scenario parsed
//! and validated into typed parameters, and the random draws of one Monte Carlo trial into an
//! [`Actuals`] table that the ordinary settlement engine settles.
//!
//! # Format
//!
//! ```toml
//! [uncertainty]
//! fill = { mean = 0.85, sd = 0.08 }   # per-trial Beta fill rate; enrolment ~ Binomial(size, fill)
//!                                     # (`max = 1.2`: Beta on [0, 1.2]; Binomial(n, size x fill / n),
//!                                     # n = size x 1.2 rounded up)
//! correlation = 0.5                   # shared latent factor between outcome rates (0..1)
//! cost_per_participant = { dist = "pert", min = 1500, mode = 2000, max = 3000 }
//!
//! [uncertainty.outcomes.job]          # one entry per outcome of the contract
//! rate = { mean = 0.45, sd = 0.08 }   # count outcomes: per-trial Beta rate (of the prerequisite's
//!                                     # achievers for chained outcomes)
//! baseline_rate = { mean = 0.3, sd = 0.05 }  # control-group baselines only
//! [uncertainty.outcomes.days]
//! quantity = { dist = "normal", mean = 12, sd = 3 }  # quantity outcomes: per participant and
//!                                     # measurement period (normal, lognormal, triangular, pert)
//! [[uncertainty.shocks]]
//! probability = 0.1
//! factor = 0.8
//! outcomes = ["job"]
//! [[uncertainty.shocks]]              # a late start: every cohort enrols a period later
//! probability = 0.2                   # (`delay = n` with `outcomes`: measured n periods later)
//! enrolment_delay = 1
//! ```
//!
//! # Draws of one trial (in this order, from the trial's own generator)
//!
//! 0. a key for the trial's independent sub-streams ([`sub_stream`]): the cost per participant
//!    and, per cohort, the enrolment and each outcome draw from their own sub-stream, so that a
//!    changed parameter (a fill rate, a cost distribution) never shifts the random numbers of
//!    another component (common random numbers across variants of a scenario);
//! 1. the latent factor `Z` and, per rate outcome, `e_o`; `z_o = sqrt(rho) Z + sqrt(1 - rho) e_o`
//!    and the rate is the Beta quantile of `Φ(z_o)` (so each rate is exactly Beta and the rates
//!    are correlated through `Z`);
//! 2. per shock a uniform number, from the shocks' own sub-stream (so that adding a shock
//!    shifts no other draw): with its probability the listed rates are multiplied by the
//!    factor (clamped to [0, 1]), and a shock with a delay makes the trial settle the delayed
//!    contract of the delaying shocks that happened ([`Model::delayed`]); steps 3 and 4 then
//!    draw against that contract's lags and enrolment periods, from the same sub-streams;
//! 3. the fill rate, each control-group baseline rate and the cost per participant;
//! 4. per cohort: enrolment `Binomial(size, fill)`; outcomes under the per-participant cap as
//!    participant classes: per capped outcome, `Binomial(eligible, rate)` achievers among the
//!    eligible classes' participants, split over those classes (in an order their masks fix)
//!    by hypergeometric draws, which together are identical in law to per-person Bernoulli
//!    draws, and leave an outcome's count unchanged by a variant that moves another capped
//!    outcome;
//!    other count outcomes `Binomial(eligible, rate)` with `eligible` the enrolment or the
//!    prerequisite's units; quantity outcomes `enrolled x draw` per measurement period; a
//!    forecast baseline is scaled to the realised enrolment (`forecast x enrolled / size`, to
//!    six decimals), as when the forecasting model is re-run for the people who came (a
//!    forecast for the target size would pay for the absent: fewer participants, more
//!    "saved").
//!
//! Count outcomes realise all their units in the first measurement period (enrolment + lag),
//! except a `repeatable` one (a person may achieve it more than once): it draws
//! `Binomial(eligible, rate)` afresh in each of its measurement periods, the first of them the
//! same draw as without `repeatable`. An outcome that requires a repeatable one takes as
//! eligible its units, at most the enrolment (the most people who can have achieved it).
//!
//! # Limitations
//!
//! `baseline_rate` is accepted only for control-group baselines: a rate baseline is a term of
//! the contract (payments are made against it whatever the true counterfactual is), so an
//! uncertain counterfactual there changes nothing in the settlement. Forecast baselines must be
//! given for every cohort in the contract.

use crate::actuals::Actuals;
use crate::contract::{Baseline, Contract, OutcomeKind};
use crate::error::Diagnostic;
use crate::money::{Price, Qty};
use crate::stats::{
    BetaQuantiles, beta_params, beta_quantile, beta_quantiles_ascending, normal_cdf,
};
use rand::RngExt;
use rand_distr::{Binomial, Distribution, StandardNormal};
use std::sync::{Arc, Mutex};
use toml::{Table, Value};

/// Points of the Beta quantile table: `TABLE_N + 1` values of `z` evenly over `[-6, 6]`.
pub const TABLE_N: usize = 1024;
const Z_LO: f64 = -6.0;
const Z_HI: f64 = 6.0;

/// A per-trial rate with a Beta distribution given by its mean and standard deviation, drawn
/// as `Q(Φ(z))` for a standard normal `z` through a precomputed table.
///
/// The table holds the exact quantile (`stats::beta_quantile`: safeguarded Newton on the
/// regularized incomplete beta function)
/// at 1025 points of `z` over [-6, 6] and interpolates linearly; `z` beyond ±6 (probability
/// 2e-9) is clamped. Measured maximum absolute error of the interpolation against the
/// brute-force quantile: below 2e-5 for every `mean` in [0.05, 0.95] and `sd` up to 60% of the
/// feasible maximum `sqrt(mean (1 - mean))`, below 5e-4 up to 90% (U-shaped Betas with
/// shape parameters far below 1); tested in `tests/montecarlo.rs`. Both are far below the
/// spread of any rate draw and the binomial noise of realised units.
#[derive(Clone, Debug)]
pub struct BetaRate {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (`0`: the rate is exactly the mean).
    pub sd: f64,
    table: Arc<[f64]>,
}

/// Tables built so far in this process, by the bits of (mean, sd), the most recent last, at most
/// [`TABLES_KEPT`]: every variant of a comparison (`stress`, `sweep`, `tornado`, `solve`) is
/// parsed on its own, and most of its rates are those of the base scenario. A table depends
/// only on (mean, sd), so taking it from here gives exactly what building it would.
static TABLES: Mutex<Vec<KeptTable>> = Mutex::new(Vec::new());
/// A table of [`TABLES`] with its key.
type KeptTable = ((u64, u64), Arc<[f64]>);
/// Tables [`TABLES`] keeps (8 KiB each).
const TABLES_KEPT: usize = 64;

/// `a + b` of a Beta rate past which its table holds the normal quantiles `mean + sd z`
/// instead of the Beta's (a standard deviation below about `sqrt(mean (1 - mean)) / 10^4`):
/// the two differ there by less than `1e-7` (at six standard deviations; far less near the
/// mean): one participant in ten million.
pub const NORMAL_BEYOND: f64 = 1e8;

impl BetaRate {
    /// Builds the table (about 7,700 incomplete-beta evaluations when `sd > 0`, some 2 ms),
    /// or takes it from the tables built before with the same mean and sd.
    pub fn new(mean: f64, sd: f64) -> Self {
        if sd <= 0.0 {
            return BetaRate {
                mean,
                sd,
                table: Arc::from([]),
            };
        }
        let key = (mean.to_bits(), sd.to_bits());
        let kept = TABLES
            .lock()
            .ok()
            .and_then(|t| t.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
        let table = kept.unwrap_or_else(|| {
            let (a, b) = beta_params(mean, sd);
            // A Beta this concentrated is its normal approximation to within far less than
            // any rate resolves (its skew is of order 1 / sqrt(a + b)), and its quantiles
            // would take the incomplete beta function seconds to find.
            let normal = a + b > NORMAL_BEYOND;
            let z = |i: usize| Z_LO + (Z_HI - Z_LO) * i as f64 / TABLE_N as f64;
            let table: Arc<[f64]> = if normal {
                (0..=TABLE_N)
                    .map(|i| (mean + sd * z(i)).clamp(0.0, 1.0))
                    .collect()
            } else {
                // Each point's search starts from the one before.
                beta_quantiles_ascending(a, b, (0..=TABLE_N).map(|i| normal_cdf(z(i)))).into()
            };
            if let Ok(mut t) = TABLES.lock() {
                if t.len() == TABLES_KEPT {
                    t.remove(0);
                }
                t.push((key, table.clone()));
            }
            table
        });
        BetaRate { mean, sd, table }
    }

    /// The rate for latent standard normal `z`.
    #[inline]
    pub fn at(&self, z: f64) -> f64 {
        if self.table.is_empty() {
            return self.mean;
        }
        let x = ((z - Z_LO) * (TABLE_N as f64 / (Z_HI - Z_LO))).clamp(0.0, TABLE_N as f64);
        let i = (x as usize).min(TABLE_N - 1);
        let f = x - i as f64;
        self.table[i] + f * (self.table[i + 1] - self.table[i])
    }

    /// The exact quantile `Q(Φ(z))` (slow; for tests).
    pub fn exact(&self, z: f64) -> f64 {
        if self.sd == 0.0 {
            return self.mean;
        }
        let (a, b) = beta_params(self.mean, self.sd);
        beta_quantile(a, b, normal_cdf(z.clamp(Z_LO, Z_HI)))
    }
}

/// The Beta shape `(a, b)` of a PERT on `[min, max]` with its `mode` (both 1 to 5).
fn pert_shape(min: f64, mode: f64, max: f64) -> (f64, f64) {
    (
        1.0 + 4.0 * (mode - min) / (max - min),
        1.0 + 4.0 * (max - mode) / (max - min),
    )
}

/// A [`Dist`] ready for a trial's draws: a PERT carries the table of its quantile function
/// ([`BetaQuantiles`], shared by every variant with the same shape on a thread), so it draws
/// by inversion at the cost of a look-up; the others draw as [`Dist::sample`] does.
#[derive(Clone, Debug)]
pub(crate) struct Sampler {
    dist: Dist,
    pert: Option<Arc<BetaQuantiles>>,
}

/// A PERT's quantile table by its shape's bits.
type PertTable = ((u64, u64), Arc<BetaQuantiles>);

thread_local! {
    /// The quantile tables this thread built last, by shape: a variant of a scenario that
    /// keeps a PERT's bounds reuses its table (building one costs half a millisecond).
    static PERT_TABLES: std::cell::RefCell<Vec<PertTable>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Tables kept per thread by [`PERT_TABLES`].
const PERT_TABLES_KEPT: usize = 8;

impl Sampler {
    pub(crate) fn new(dist: Dist) -> Self {
        let pert = match dist {
            Dist::Pert { min, mode, max } if max > min => {
                let (a, b) = pert_shape(min, mode, max);
                let key = (a.to_bits(), b.to_bits());
                Some(PERT_TABLES.with_borrow_mut(|kept| {
                    if let Some(i) = kept.iter().position(|(k, _)| *k == key) {
                        let hit = kept.remove(i);
                        kept.push(hit.clone());
                        return hit.1;
                    }
                    let table = Arc::new(BetaQuantiles::new(a, b));
                    if kept.len() == PERT_TABLES_KEPT {
                        kept.remove(0);
                    }
                    kept.push((key, table.clone()));
                    table
                }))
            }
            _ => None,
        };
        Sampler { dist, pert }
    }

    /// [`Dist::at_normal`], a PERT's from its table (to within 1e-9 of its range).
    #[inline]
    pub(crate) fn at_normal(&self, z: f64) -> f64 {
        match (&self.dist, &self.pert) {
            (&Dist::Pert { min, max, .. }, Some(t)) => min + (max - min) * t.at(normal_cdf(z)),
            (d, _) => d.at_normal(z),
        }
    }

    /// One draw: [`Dist::sample`] of the same random numbers, a PERT's to within 1e-9 of its
    /// range (see [`BetaQuantiles`]).
    #[inline]
    pub(crate) fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match (&self.dist, &self.pert) {
            (&Dist::Pert { min, max, .. }, Some(t)) => min + (max - min) * t.at(rng.random()),
            (d, _) => d.sample(rng),
        }
    }
}

/// A continuous distribution for quantities and costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal given by the mean and standard deviation of the value itself.
    LogNormal {
        /// Mean of the value.
        mean: f64,
        /// Standard deviation of the value.
        sd: f64,
    },
    /// Triangular.
    Triangular {
        /// Minimum.
        min: f64,
        /// Most likely value.
        mode: f64,
        /// Maximum.
        max: f64,
    },
    /// PERT (a scaled Beta with shape 4).
    Pert {
        /// Minimum.
        min: f64,
        /// Most likely value.
        mode: f64,
        /// Maximum.
        max: f64,
    },
}

impl Dist {
    /// One draw, from exactly one standard normal (the normal and log-normal) or one uniform
    /// (the triangular and PERT, by inversion of their distribution function): a draw moves
    /// steadily with the distribution's parameters, so variants on common random numbers
    /// compare like with like.
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Normal { .. } | Dist::LogNormal { .. } => {
                let z: f64 = StandardNormal.sample(rng);
                self.at_normal(z)
            }
            Dist::Triangular { min, mode, max } => {
                if max == min {
                    return min;
                }
                triangular_quantile(min, mode, max, rng.random())
            }
            Dist::Pert { min, mode, max } => {
                if max == min {
                    return min;
                }
                let (a, b) = pert_shape(min, mode, max);
                min + (max - min) * beta_quantile(a, b, rng.random())
            }
        }
    }

    /// The value at the standard normal quantile `z`: the distribution's quantile at
    /// probability `Phi(z)`, what [`Dist::sample`] gives when its standard normal is `z` (the
    /// normal and log-normal) or its uniform is `Phi(z)` (the triangular).
    pub fn at_normal(&self, z: f64) -> f64 {
        match *self {
            Dist::Normal { mean, sd } => mean + sd * z,
            Dist::LogNormal { mean, sd } => {
                if sd == 0.0 {
                    return mean;
                }
                let s2 = (1.0 + sd * sd / (mean * mean)).ln();
                let mu = mean.ln() - s2 / 2.0;
                (mu + s2.sqrt() * z).exp()
            }
            Dist::Triangular { min, mode, max } => {
                if max == min {
                    return min;
                }
                triangular_quantile(min, mode, max, normal_cdf(z))
            }
            Dist::Pert { min, mode, max } => {
                if max == min {
                    return min;
                }
                let (a, b) = pert_shape(min, mode, max);
                min + (max - min) * beta_quantile(a, b, normal_cdf(z))
            }
        }
    }

    /// For a normal distribution that puts more than 1% of its draws below 0, where a cost or
    /// a quantity is cut to 0: that share and the mean of the values used,
    /// `mean Phi(mean / sd) + sd phi(mean / sd)`. `None` for any other.
    pub fn cut_at_zero(&self) -> Option<(f64, f64)> {
        let Dist::Normal { mean, sd } = *self else {
            return None;
        };
        if sd <= 0.0 {
            return None;
        }
        let z = mean / sd;
        let below = normal_cdf(-z);
        let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (below > 0.01).then_some((below, mean * (1.0 - below) + sd * density))
    }

    /// The distribution's mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Normal { mean, .. } | Dist::LogNormal { mean, .. } => mean,
            Dist::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Dist::Pert { min, mode, max } => (min + 4.0 * mode + max) / 6.0,
        }
    }
}

/// The triangular distribution's quantile at probability `u` (`min < max`).
fn triangular_quantile(min: f64, mode: f64, max: f64, u: f64) -> f64 {
    let fc = (mode - min) / (max - min);
    if u < fc {
        min + ((max - min) * (mode - min) * u).sqrt()
    } else {
        max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
    }
}

/// A shock: with `probability` per trial, the listed outcomes' rates are multiplied by `factor`
/// and measured `delay` periods later, and every cohort enrols `enrolment_delay` periods later.
#[derive(Clone, Debug, PartialEq)]
pub struct Shock {
    /// Probability per trial.
    pub probability: f64,
    /// Multiplier of the listed count outcomes' rates (`None`: rates unchanged).
    pub factor: Option<f64>,
    /// Outcome indices.
    pub outcomes: Vec<usize>,
    /// Periods the listed outcomes are measured (and so paid) later; 0 for none.
    pub delay: u16,
    /// Periods every cohort enrols later (outcomes, payments and per-participant costs follow
    /// it; drawdowns and fixed costs keep their schedule); 0 for none.
    pub enrolment_delay: u16,
}

impl Shock {
    /// Whether the shock moves anything in time (its trials settle a delayed contract).
    pub fn delays(&self) -> bool {
        self.delay > 0 || self.enrolment_delay > 0
    }

    /// What the shock does, in words: `rates of work, sustained6 x 0.8; enrolment 2 quarters
    /// later`.
    pub fn effects(&self, c: &Contract) -> String {
        let names: Vec<&str> = self
            .outcomes
            .iter()
            .map(|&o| c.outcomes[o].id.as_str())
            .collect();
        let names = names.join(", ");
        let periods = |n: u16| {
            if n == 1 {
                format!("1 {}", c.period_length.singular())
            } else {
                format!("{n} {}", c.period_length.plural())
            }
        };
        let mut parts = Vec::new();
        if let Some(f) = self.factor {
            parts.push(format!("rates of {names} x {f}"));
        }
        if self.delay > 0 {
            parts.push(format!("{names} measured {} later", periods(self.delay)));
        }
        if self.enrolment_delay > 0 {
            parts.push(format!("enrolment {} later", periods(self.enrolment_delay)));
        }
        parts.join("; ")
    }
}

/// How one outcome is drawn.
#[derive(Clone, Debug)]
pub enum OutcomeDraw {
    /// A count outcome with a per-trial rate.
    Rate(BetaRate),
    /// A quantity outcome: units per participant and measurement period.
    Quantity(Dist),
}

/// The model of one outcome.
#[derive(Clone, Debug)]
pub struct OutcomeModel {
    /// The draw.
    pub draw: OutcomeDraw,
    /// Control group's rate, for control-group baselines.
    pub baseline_rate: Option<BetaRate>,
    /// Control group's quantity per participant, for a quantity outcome's control-group
    /// baseline given as a distribution (`baseline_quantity`) rather than a rate.
    pub baseline_quantity: Option<Dist>,
    /// Of the people who achieve a count outcome measured over several periods, the share
    /// first counted in each of its measurement periods (`timing`); empty: all in the first.
    pub timing: Vec<f64>,
    /// The probabilities that split the achievers over the periods one by one: period `j`
    /// takes `Binomial(left, timing[j] / (timing[j] + ... + timing[last]))` of those left.
    split: Vec<BinomialP>,
    /// A quantity outcome's draw, ready (see [`Sampler`]).
    quantity: Option<Sampler>,
    /// `baseline_quantity`, ready.
    control_quantity: Option<Sampler>,
}

/// The validated uncertainty model of a scenario.
#[derive(Clone, Debug)]
pub struct Model {
    /// Per-trial fill rate of the cohorts as a share of their capacity (`fill_max` times the
    /// target); `None`: enrolment is exactly the target.
    pub(crate) fill: Option<BetaRate>,
    /// The most a cohort can enrol as a share of its target (`fill.max`, at least 1): a cohort
    /// of target `s` enrols `Binomial(n, s x fill / n)` with `n` its [`Model::capacity`].
    pub(crate) fill_max: f64,
    /// Correlation of the outcome rates through one latent factor, in [0, 1].
    pub(crate) correlation: f64,
    /// One per contract outcome, in contract order.
    pub(crate) outcomes: Vec<OutcomeModel>,
    /// Shocks.
    pub(crate) shocks: Vec<Shock>,
    /// Per-trial cost per participant (overrides the contract's).
    pub(crate) cost_per_participant: Option<Sampler>,
    /// The delayed contracts: entry `v - 1` is the contract of a trial in which the delaying
    /// shocks of the bits of `v` happened (see [`Model::contract`]); empty without delays.
    pub(crate) delayed: Vec<Contract>,
    /// Per delayed contract (as [`Model::delayed`]), each outcome's delay in periods: its own
    /// `delay` plus the `enrolment_delay`, summed over the shocks of the combination.
    pub(crate) shifts: Vec<Vec<u16>>,
    /// The form of the contract the model was made for (see [`Model::fits`]).
    shape: Shape,
}

/// What of a contract a model's draws rely on besides its values: the periods, the number of
/// cohorts, and each outcome's kind, measurement window, prerequisite and whether the
/// per-participant cap covers it. A model drawn for a contract of another form would read and
/// write cells of the wrong outcome or period.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    periods: u16,
    cohorts: usize,
    outcomes: Vec<(OutcomeKind, u16, Option<usize>, bool, bool)>,
}

impl Shape {
    fn of(c: &Contract) -> Self {
        Shape {
            periods: c.periods,
            cohorts: c.cohorts.len(),
            outcomes: c
                .outcomes
                .iter()
                .map(|o| {
                    (
                        o.kind,
                        o.measure_periods,
                        o.requires,
                        o.per_participant,
                        o.repeatable,
                    )
                })
                .collect(),
        }
    }
}

/// Draws of groups of participants a trial can make under the per-participant cap (groups
/// times capped outcomes) from which [`Model::notes`] warns that trials are slow: each costs
/// about 13 ns (100,000 groups over 64 outcomes took 85 ms a trial on one core, a million
/// over 64 about a second), so this is 10 to 15 ms a trial, minutes for 10,000 trials.
const SLOW_GROUP_DRAWS: u64 = 1_000_000;

/// Largest `fill.max`: a cohort enrols at most this many times its target.
pub const MAX_FILL: f64 = 10.0;

/// Most shocks in one model (one bit each in [`DrawScratch::shocks`]).
pub const MAX_SHOCKS: usize = 64;

/// Most shocks with a delay in one model (each combination of them is a contract the
/// simulator settles: at most 2^4 - 1 delayed contracts).
pub const MAX_DELAY_SHOCKS: usize = 4;

/// Builds the contract of a delayed trial: the scenario's contract with each outcome's lag
/// increased by `lags[o]` and every cohort's enrolment by the second argument, validated like
/// the scenario (an `Err` is the first problem, in words).
pub type DelayedContract<'a> = dyn Fn(&[u16], u16) -> Result<Contract, String> + 'a;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

struct Cx {
    errs: Vec<Diagnostic>,
}

impl Cx {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errs.push(Diagnostic::new(path, msg));
    }

    fn unknown_keys(&mut self, t: &Table, path: &str, allowed: &[&str]) {
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    format!("{path}.{k}"),
                    format!(
                        "unknown field `{k}`; allowed fields are {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn table<'a>(&mut self, v: &'a Value, path: &str, what: &str) -> Option<&'a Table> {
        match v {
            Value::Table(t) => Some(t),
            other => {
                self.err(
                    path,
                    format!("must be a table ({what}), got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn number(&mut self, t: &Table, key: &str, path: &str) -> Option<f64> {
        let p = format!("{path}.{key}");
        match t.get(key) {
            None => {
                self.err(&p, format!("required field `{key}` is missing"));
                None
            }
            Some(v) => match num(v) {
                Some(x) => Some(x),
                None => {
                    let msg = match v {
                        Value::Float(f) => format!("must be a finite number, got {f}"),
                        v => format!("must be a number, got {}", type_name(v)),
                    };
                    self.err(&p, msg);
                    None
                }
            },
        }
    }

    /// A distribution parameter: a number of at most [`DIST_LIMIT`] in size.
    fn dist_number(&mut self, t: &Table, key: &str, path: &str) -> Option<f64> {
        let x = self.number(t, key, path)?;
        if x.abs() > DIST_LIMIT {
            self.err(
                format!("{path}.{key}"),
                format!(
                    "{x} is too large; distribution parameters are at most 1,000,000,000 in size (like the contract's units and prices)"
                ),
            );
            return None;
        }
        Some(x)
    }

    /// `{ mean, sd, max }` of the fill rate: `max` (default 1, at most [`MAX_FILL`]) is the
    /// most a cohort enrols as a share of its target; the rate is then a Beta on `[0, max]`,
    /// returned as the Beta rate of the share of `max`.
    fn fill(&mut self, v: &Value) -> (Option<BetaRate>, f64) {
        const PATH: &str = "uncertainty.fill";
        let max = match v {
            Value::Table(t) if t.contains_key("max") => match self.number(t, "max", PATH) {
                Some(m) if (1.0..=MAX_FILL).contains(&m) => m,
                Some(m) => {
                    self.err(
                            format!("{PATH}.max"),
                            format!("the most a cohort enrols as a share of its target must be from 1 to {MAX_FILL}, got {m}"),
                        );
                    return (None, 1.0);
                }
                None => return (None, 1.0),
            },
            _ => 1.0,
        };
        if max == 1.0 {
            let mut plain = v.clone();
            if let Value::Table(t) = &mut plain {
                t.remove("max");
            }
            return (self.beta(&plain, PATH, "the fill rate"), 1.0);
        }
        let Some(t) = self.table(
            v,
            PATH,
            "the fill rate: { mean = ..., sd = ..., max = ... }",
        ) else {
            return (None, max);
        };
        self.unknown_keys(t, PATH, &["mean", "sd", "max"]);
        let (Some(mean), Some(sd)) = (self.number(t, "mean", PATH), self.number(t, "sd", PATH))
        else {
            return (None, max);
        };
        let fail = |cx: &mut Cx, key: &str, msg: String| {
            cx.err(format!("{PATH}.{key}"), msg);
            (None, max)
        };
        if !(0.0..=max).contains(&mean) {
            return fail(
                self,
                "mean",
                format!(
                    "the fill rate: the mean is a share of the target and must be from 0 to `max` ({max}), got {mean}"
                ),
            );
        }
        if sd < 0.0 {
            return fail(
                self,
                "sd",
                format!("the standard deviation must be 0 or more, got {sd}"),
            );
        }
        if sd > 0.0 {
            if mean <= 0.0 || mean >= max {
                return fail(
                    self,
                    "mean",
                    format!(
                        "the fill rate: with a standard deviation above 0 the mean must be strictly between 0 and `max` ({max}), got {mean}"
                    ),
                );
            }
            let limit = (mean * (max - mean)).sqrt();
            if sd >= limit * (1.0 - 1e-12) {
                return fail(
                    self,
                    "sd",
                    format!(
                        "{sd} is too large for a fill rate with mean {mean} and max {max}: a Beta distribution on [0, max] needs sd < sqrt(mean x (max - mean)) = {limit:.4}"
                    ),
                );
            }
        }
        (Some(BetaRate::new(mean / max, sd / max)), max)
    }

    /// `{ mean, sd }` of a Beta rate.
    fn beta(&mut self, v: &Value, path: &str, what: &str) -> Option<BetaRate> {
        let t = self.table(v, path, &format!("{what}: {{ mean = ..., sd = ... }}"))?;
        self.unknown_keys(t, path, &["mean", "sd"]);
        let mean = self.number(t, "mean", path);
        let sd = self.number(t, "sd", path);
        let (mean, sd) = (mean?, sd?);
        if !(0.0..=1.0).contains(&mean) {
            self.err(
                format!("{path}.mean"),
                format!("{what}: the mean is a share and must be between 0 and 1, got {mean}"),
            );
            return None;
        }
        if sd < 0.0 {
            self.err(
                format!("{path}.sd"),
                format!("the standard deviation must be 0 or more, got {sd}"),
            );
            return None;
        }
        if sd > 0.0 {
            if mean <= 0.0 || mean >= 1.0 {
                self.err(
                    format!("{path}.mean"),
                    format!(
                        "{what}: with a standard deviation above 0 the mean must be strictly between 0 and 1, got {mean}"
                    ),
                );
                return None;
            }
            let max = (mean * (1.0 - mean)).sqrt();
            if sd >= max {
                self.err(
                    format!("{path}.sd"),
                    format!(
                        "{sd} is too large for a rate with mean {mean}: a Beta distribution needs sd < sqrt(mean x (1 - mean)) = {max:.4}"
                    ),
                );
                return None;
            }
        }
        Some(BetaRate::new(mean, sd))
    }

    fn dist(&mut self, v: &Value, path: &str, nonneg: bool) -> Option<Dist> {
        let t = self.table(
            v,
            path,
            "a distribution: { dist = \"normal\" | \"lognormal\" | \"triangular\" | \"pert\", ... }",
        )?;
        let kind = match t.get("dist") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                self.err(
                    format!("{path}.dist"),
                    format!(
                        "must be one of \"normal\", \"lognormal\", \"triangular\", \"pert\", got {}",
                        type_name(other)
                    ),
                );
                return None;
            }
            None => {
                self.err(
                    format!("{path}.dist"),
                    "required field `dist` is missing; use \"normal\", \"lognormal\", \"triangular\" or \"pert\"",
                );
                return None;
            }
        };
        match kind {
            "normal" | "lognormal" => {
                self.unknown_keys(t, path, &["dist", "mean", "sd"]);
                let mean = self.dist_number(t, "mean", path);
                let sd = self.dist_number(t, "sd", path);
                let (mean, sd) = (mean?, sd?);
                if sd < 0.0 {
                    self.err(
                        format!("{path}.sd"),
                        format!("the standard deviation must be 0 or more, got {sd}"),
                    );
                    return None;
                }
                if kind == "lognormal" {
                    if mean <= 0.0 {
                        self.err(
                            format!("{path}.mean"),
                            format!("a log-normal value has a mean above 0, got {mean}"),
                        );
                        return None;
                    }
                    Some(Dist::LogNormal { mean, sd })
                } else {
                    if nonneg && mean < 0.0 {
                        self.err(
                            format!("{path}.mean"),
                            format!("must be 0 or more, got {mean}"),
                        );
                        return None;
                    }
                    Some(Dist::Normal { mean, sd })
                }
            }
            "triangular" | "pert" => {
                self.unknown_keys(t, path, &["dist", "min", "mode", "max"]);
                let min = self.dist_number(t, "min", path);
                let mode = self.dist_number(t, "mode", path);
                let max = self.dist_number(t, "max", path);
                let (min, mode, max) = (min?, mode?, max?);
                if !(min <= mode && mode <= max) {
                    self.err(
                        path,
                        format!("needs min <= mode <= max, got min {min}, mode {mode}, max {max}"),
                    );
                    return None;
                }
                if nonneg && min < 0.0 {
                    self.err(
                        format!("{path}.min"),
                        format!("must be 0 or more, got {min}"),
                    );
                    return None;
                }
                Some(if kind == "pert" {
                    Dist::Pert { min, mode, max }
                } else {
                    Dist::Triangular { min, mode, max }
                })
            }
            other => {
                self.err(
                    format!("{path}.dist"),
                    format!(
                        "unknown distribution `{other}`; use \"normal\", \"lognormal\", \"triangular\" or \"pert\""
                    ),
                );
                None
            }
        }
    }

    /// A whole number of periods from 0 to `periods` (0 when absent). A float is taken when it
    /// is whole (`2.0`, as an override's arithmetic may leave it).
    fn delay(&mut self, t: &Table, key: &str, path: &str, periods: u16) -> Option<u16> {
        let Some(v) = t.get(key) else {
            return Some(0);
        };
        let whole = match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() && f.fract() == 0.0 => Some(*f),
            _ => None,
        };
        match whole {
            Some(x) if (0.0..=periods as f64).contains(&x) => Some(x as u16),
            Some(x) => {
                self.err(
                    format!("{path}.{key}"),
                    format!("a delay is a whole number of periods from 0 to the contract's {periods}, got {x}"),
                );
                None
            }
            None => {
                self.err(
                    format!("{path}.{key}"),
                    format!(
                        "must be a whole number of periods, got {}",
                        match v {
                            Value::Float(f) => f.to_string(),
                            o => type_name(o).to_string(),
                        }
                    ),
                );
                None
            }
        }
    }

    /// `timing = [share, ...]` of count outcome `out`: one share per measurement period, each
    /// from 0 to 1, adding up to 1. Refused where the draw does not take it: a quantity
    /// outcome (drawn per period already), a repeatable one (drawn afresh each period), one
    /// under the per-participant cap (drawn person by person), one measured once.
    fn timing(&mut self, v: &Value, path: &str, out: &crate::contract::Outcome) -> Vec<f64> {
        let id = &out.id;
        let why = if out.kind == OutcomeKind::Quantity {
            Some("it measures a quantity, drawn in each measurement period already")
        } else if out.repeatable {
            Some("it is repeatable: its achievements are drawn afresh in each measurement period")
        } else if out.per_participant {
            Some(
                "it is under the per-participant cap, whose achievements are drawn person by person in the first measurement period",
            )
        } else if out.measure_periods < 2 {
            Some("it is measured in one period only (give the contract's `measure_periods` first)")
        } else {
            None
        };
        if let Some(why) = why {
            self.err(path, format!("`{id}` takes no `timing`: {why}"));
            return Vec::new();
        }
        let n = out.measure_periods as usize;
        let want = format!(
            "an array of {n} shares, one per measurement period of `{id}` (the share of its achievers first counted in that period), each from 0 to 1, adding up to 1; without `timing` all are in the first: [{}]",
            (0..n)
                .map(|j| if j == 0 { "1".to_string() } else { "0".into() })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Value::Array(a) = v else {
            self.err(path, format!("expected {want}; got {}", type_name(v)));
            return Vec::new();
        };
        if a.len() != n {
            self.err(path, format!("expected {want}; got {} shares", a.len()));
            return Vec::new();
        }
        // Every bad share is named, not just the first.
        let mut shares = Vec::with_capacity(n);
        for (j, x) in a.iter().enumerate() {
            match num(x) {
                Some(x) if (0.0..=1.0).contains(&x) => shares.push(x),
                got => {
                    let got = match got {
                        Some(y) => y.to_string(),
                        None => type_name(x).to_string(),
                    };
                    self.err(
                        format!("{path}[{j}]"),
                        format!("must be a share from 0 to 1, got {got}"),
                    );
                }
            }
        }
        if shares.len() < n {
            return Vec::new();
        }
        let total: f64 = shares.iter().sum();
        if (total - 1.0).abs() > 1e-9 {
            let shown = format!("{total:.9}");
            let shown = shown.trim_end_matches('0').trim_end_matches('.');
            self.err(
                path,
                format!("the shares add up to {shown}, not 1; give {want}"),
            );
            return Vec::new();
        }
        shares
    }

    fn probability(&mut self, t: &Table, key: &str, path: &str) -> Option<f64> {
        let x = self.number(t, key, path)?;
        if !(0.0..=1.0).contains(&x) {
            self.err(
                format!("{path}.{key}"),
                format!("a probability must be between 0 and 1, got {x}"),
            );
            return None;
        }
        Some(x)
    }
}

impl Model {
    /// Per-trial fill rate of the cohorts as a share of their capacity (`fill_max` times the
    /// target); `None`: enrolment is exactly the target.
    pub fn fill(&self) -> Option<&BetaRate> {
        self.fill.as_ref()
    }

    /// The most a cohort can enrol as a share of its target (`fill.max`, at least 1): a cohort
    /// of target `s` enrols `Binomial(n, s x fill / n)` with `n` its [`Model::capacity`].
    pub fn fill_max(&self) -> f64 {
        self.fill_max
    }

    /// Correlation of the outcome rates through one latent factor, in [0, 1].
    pub fn correlation(&self) -> f64 {
        self.correlation
    }

    /// One per contract outcome, in contract order.
    pub fn outcomes(&self) -> &[OutcomeModel] {
        &self.outcomes
    }

    /// Shocks.
    pub fn shocks(&self) -> &[Shock] {
        &self.shocks
    }

    /// Per-trial cost per participant (overrides the contract's).
    pub fn cost_per_participant(&self) -> Option<&Dist> {
        self.cost_per_participant.as_ref().map(|s| &s.dist)
    }

    /// The delayed contracts: entry `v - 1` is the contract of a trial in which the delaying
    /// shocks of the bits of `v` happened (see [`Model::contract`]); empty without delays.
    pub fn delayed(&self) -> &[Contract] {
        &self.delayed
    }

    /// Per delayed contract (as [`Model::delayed`]), each outcome's delay in periods: its own
    /// `delay` plus the `enrolment_delay`, summed over the shocks of the combination.
    pub fn shifts(&self) -> &[Vec<u16>] {
        &self.shifts
    }

    /// The notes `validate` and the simulating commands show before a run: those of
    /// [`Model::cut_notes`], and where the per-participant cap makes trials slow
    /// ([`Model::participant_groups`]).
    pub fn notes(&self, c: &Contract) -> Vec<String> {
        let mut notes = self.cut_notes(c);
        let capped = c.outcomes.iter().filter(|o| o.per_participant).count();
        let groups = self.participant_groups(c);
        if groups.saturating_mul(capped as u64) >= SLOW_GROUP_DRAWS {
            notes.push(format!(
                "the per-participant cap covers {capped} outcomes, so a trial follows up to {} of participants (one for each combination of capped outcomes achieved, at most one per person enrolled), each drawn and settled for every capped outcome: a trial may take 10 ms or more (minutes for 10,000 trials); fewer outcomes under the cap or smaller cohorts are much faster",
                crate::chart::theme::count(groups, "group", "groups")
            ));
        }
        notes
    }

    /// The most groups of identical participants a trial can follow under the per-participant
    /// cap: per cohort, the fewer of `2^k` (the combinations of its `k` capped outcomes) and
    /// the most people it can enrol, summed over the cohorts. A trial's draws and settlement
    /// of the capped outcomes cost about this many times `k`.
    pub fn participant_groups(&self, c: &Contract) -> u64 {
        let capped = c.outcomes.iter().filter(|o| o.per_participant).count() as u32;
        if capped == 0 {
            return 0;
        }
        let combinations = 1u64.checked_shl(capped).unwrap_or(u64::MAX);
        c.cohorts
            .iter()
            .map(|k| combinations.min(self.capacity(k.size) as u64))
            .fold(0u64, u64::saturating_add)
    }

    /// Notes on distributions whose draws are cut to 0 often enough to move their mean (see
    /// [`Dist::cut_at_zero`]): which, how often, and the mean used instead of the one written.
    pub fn cut_notes(&self, c: &Contract) -> Vec<String> {
        let mut notes = Vec::new();
        let mut note = |what: String, d: &Dist| {
            if let (Some((below, used)), Dist::Normal { mean, .. }) = (d.cut_at_zero(), *d) {
                notes.push(format!(
                    "{what}: the normal distribution puts {:.1}% of its draws below 0, which count as 0, so its mean is {used:.2}, not {mean}",
                    below * 100.0
                ));
            }
        };
        if let Some(d) = self.cost_per_participant() {
            note("cost_per_participant".into(), d);
        }
        for (o, m) in self.outcomes.iter().enumerate() {
            if let OutcomeDraw::Quantity(d) = &m.draw {
                note(format!("outcome `{}`", c.outcomes[o].id), d);
            }
            if let Some(d) = &m.baseline_quantity {
                note(format!("the control group of `{}`", c.outcomes[o].id), d);
            }
        }
        notes
    }

    /// Parses and validates the `[uncertainty]` table for `contract`. Errors carry field paths
    /// such as `uncertainty.outcomes.job.rate.sd` (positions are added by the caller; see
    /// [`crate::scenario::parse_with_model`]).
    ///
    /// A shock with a delay makes trials that settle a delayed contract: `delayed` builds it
    /// (see [`DelayedContract`]) for each combination of such shocks.
    pub fn from_table(
        contract: &Contract,
        table: Option<&Table>,
        delayed: &DelayedContract,
    ) -> Result<Model, Vec<Diagnostic>> {
        let mut cx = Cx { errs: Vec::new() };
        let empty = Table::new();
        let t = match table {
            Some(t) => t,
            None => {
                if contract.outcomes.is_empty() {
                    &empty
                } else {
                    return Err(vec![Diagnostic::new(
                        "uncertainty",
                        "the scenario has no [uncertainty] table; add one with an entry [uncertainty.outcomes.<id>] for every outcome to simulate it",
                    )]);
                }
            }
        };
        let root = "uncertainty";
        cx.unknown_keys(
            t,
            root,
            &[
                "fill",
                "correlation",
                "outcomes",
                "shocks",
                "cost_per_participant",
            ],
        );
        let (fill, fill_max) = match t.get("fill") {
            None => (None, 1.0),
            Some(v) => cx.fill(v),
        };
        let correlation = match t.get("correlation") {
            None => 0.0,
            Some(v) => {
                match num(v) {
                    Some(x) if (0.0..=1.0).contains(&x) => x,
                    Some(x) => {
                        cx.err(
                        "uncertainty.correlation",
                        format!("the correlation of the outcome rates must be between 0 and 1, got {x}"),
                    );
                        0.0
                    }
                    None => {
                        cx.err(
                            "uncertainty.correlation",
                            format!("must be a number between 0 and 1, got {}", type_name(v)),
                        );
                        0.0
                    }
                }
            }
        };
        let cost_per_participant = t
            .get("cost_per_participant")
            .and_then(|v| cx.dist(v, "uncertainty.cost_per_participant", true))
            .map(Sampler::new);

        // Outcomes.
        let ids: Vec<&str> = contract.outcomes.iter().map(|o| o.id.as_str()).collect();
        let mut models: Vec<Option<OutcomeModel>> = vec![None; contract.outcomes.len()];
        let outs = match t.get("outcomes") {
            Some(v) => cx.table(v, "uncertainty.outcomes", "one entry per outcome"),
            None => None,
        };
        if let Some(outs) = outs {
            for (id, v) in outs {
                let path = format!("uncertainty.outcomes.{id}");
                let Some(o) = contract.outcome(id) else {
                    cx.err(
                        &path,
                        format!(
                            "unknown outcome `{id}`; the contract's outcomes are {}",
                            crate::error::id_list(&ids, "outcomes")
                        ),
                    );
                    continue;
                };
                let Some(ot) = cx.table(v, &path, "rate or quantity of this outcome") else {
                    continue;
                };
                let out = &contract.outcomes[o];
                cx.unknown_keys(
                    ot,
                    &path,
                    &[
                        "rate",
                        "quantity",
                        "baseline_rate",
                        "baseline_quantity",
                        "timing",
                    ],
                );
                let timing = match ot.get("timing") {
                    Some(v) => cx.timing(v, &format!("{path}.timing"), out),
                    None => Vec::new(),
                };
                let draw = match out.kind {
                    OutcomeKind::Count => {
                        if ot.contains_key("quantity") {
                            cx.err(
                                format!("{path}.quantity"),
                                format!("`{id}` counts people: give its success rate as `rate = {{ mean, sd }}`, not a quantity"),
                            );
                            None
                        } else {
                            match ot.get("rate") {
                                Some(r) => cx
                                    .beta(r, &format!("{path}.rate"), "the success rate")
                                    .map(OutcomeDraw::Rate),
                                None => {
                                    cx.err(
                                        format!("{path}.rate"),
                                        format!("required field `rate` is missing: give the success rate of `{id}` as `rate = {{ mean = ..., sd = ... }}`"),
                                    );
                                    None
                                }
                            }
                        }
                    }
                    OutcomeKind::Quantity => {
                        if ot.contains_key("rate") {
                            cx.err(
                                format!("{path}.rate"),
                                format!("`{id}` measures a quantity: give `quantity = {{ dist = ..., ... }}` per participant and measurement period, not a rate"),
                            );
                            None
                        } else {
                            match ot.get("quantity") {
                                Some(q) => cx
                                    .dist(q, &format!("{path}.quantity"), false)
                                    .map(OutcomeDraw::Quantity),
                                None => {
                                    cx.err(
                                        format!("{path}.quantity"),
                                        format!("required field `quantity` is missing: give the quantity per participant of `{id}` as `quantity = {{ dist = ..., ... }}`"),
                                    );
                                    None
                                }
                            }
                        }
                    }
                };
                // A quantity outcome's control group may be given as a quantity per
                // participant (events per person can exceed 1) instead of a rate.
                let baseline_quantity = match ot.get("baseline_quantity") {
                    None => None,
                    Some(_) if out.kind != OutcomeKind::Quantity => {
                        cx.err(
                            format!("{path}.baseline_quantity"),
                            format!("`{id}` counts people: give its control group's rate as `baseline_rate = {{ mean = ..., sd = ... }}`"),
                        );
                        None
                    }
                    Some(_) if out.baseline != Baseline::ControlGroup => {
                        cx.err(
                            format!("{path}.baseline_quantity"),
                            format!("`{id}` does not pay against a control group; `baseline_quantity` applies only to outcomes with a control-group baseline"),
                        );
                        None
                    }
                    Some(_) if ot.contains_key("baseline_rate") => {
                        cx.err(
                            format!("{path}.baseline_quantity"),
                            "give the control group as `baseline_rate` or `baseline_quantity`, not both",
                        );
                        None
                    }
                    Some(q) => cx.dist(q, &format!("{path}.baseline_quantity"), true),
                };
                let given_quantity = ot.contains_key("baseline_quantity");
                let baseline_rate = match (ot.get("baseline_rate"), &out.baseline) {
                    (Some(b), Baseline::ControlGroup) => cx.beta(
                        b,
                        &format!("{path}.baseline_rate"),
                        "the control group's rate",
                    ),
                    (Some(_), _) => {
                        cx.err(
                            format!("{path}.baseline_rate"),
                            format!("`{id}` does not pay against a control group; `baseline_rate` applies only to outcomes with a control-group baseline (a rate or forecast baseline is fixed by the contract)"),
                        );
                        None
                    }
                    (None, Baseline::ControlGroup) if given_quantity => None,
                    (None, Baseline::ControlGroup) => {
                        cx.err(
                            format!("{path}.baseline_rate"),
                            if out.kind == OutcomeKind::Quantity {
                                format!("`{id}` pays against a control group: give the control group's rate as `baseline_rate = {{ mean = ..., sd = ... }}` (0 to 1), or its quantity per participant as `baseline_quantity = {{ dist = ..., ... }}`")
                            } else {
                                format!("`{id}` pays against a control group: give the control group's rate as `baseline_rate = {{ mean = ..., sd = ... }}`")
                            },
                        );
                        None
                    }
                    (None, _) => None,
                };
                if let Baseline::Forecast(v) = &out.baseline {
                    if v.iter().any(|f| f.is_none()) {
                        cx.err(
                            &path,
                            format!("`{id}` pays against a forecast that the contract does not give for every cohort; the simulator needs the forecast of every cohort in the contract"),
                        );
                    }
                }
                if let Some(draw) = draw {
                    let split = split_probabilities(&timing);
                    let quantity = match &draw {
                        OutcomeDraw::Quantity(d) => Some(Sampler::new(*d)),
                        OutcomeDraw::Rate(_) => None,
                    };
                    let control_quantity = baseline_quantity.map(Sampler::new);
                    models[o] = Some(OutcomeModel {
                        draw,
                        baseline_rate,
                        baseline_quantity,
                        timing,
                        split,
                        quantity,
                        control_quantity,
                    });
                }
            }
        }
        for (o, out) in contract.outcomes.iter().enumerate() {
            let given = outs.is_some_and(|t| t.contains_key(&out.id));
            if !given {
                cx.err(
                    "uncertainty.outcomes",
                    format!(
                        "outcome `{}` has no entry; add [uncertainty.outcomes.{}] with its {}",
                        out.id,
                        out.id,
                        match out.kind {
                            OutcomeKind::Count => "`rate = { mean = ..., sd = ... }`",
                            OutcomeKind::Quantity => "`quantity = { dist = ..., ... }`",
                        }
                    ),
                );
            }
            let _ = o;
        }

        // Shocks.
        let mut shocks = Vec::new();
        match t.get("shocks") {
            None => {}
            Some(Value::Array(arr)) => {
                for (i, sv) in arr.iter().enumerate() {
                    let path = format!("uncertainty.shocks[{i}]");
                    let Some(st) = cx.table(sv, &path, "a shock") else {
                        continue;
                    };
                    cx.unknown_keys(
                        st,
                        &path,
                        &[
                            "probability",
                            "factor",
                            "outcomes",
                            "delay",
                            "enrolment_delay",
                        ],
                    );
                    let probability = cx.probability(st, "probability", &path);
                    let factor = match st.get("factor") {
                        None => Some(None),
                        Some(_) => cx.number(st, "factor", &path).and_then(|f| {
                            if f < 0.0 {
                                cx.err(
                                    format!("{path}.factor"),
                                    format!(
                                        "the factor multiplies rates and must be 0 or more, got {f}"
                                    ),
                                );
                                None
                            } else {
                                Some(Some(f))
                            }
                        }),
                    };
                    let delay = cx.delay(st, "delay", &path, contract.periods);
                    let enrolment_delay = cx.delay(st, "enrolment_delay", &path, contract.periods);
                    let mut list = Vec::new();
                    let lp = format!("{path}.outcomes");
                    // `factor` scales count outcomes' rates; `delay` moves any outcome.
                    let scales = !matches!(factor, Some(None));
                    let uses_outcomes = st.contains_key("factor") || st.contains_key("delay");
                    match st.get("outcomes") {
                        Some(Value::Array(a)) => {
                            for (j, x) in a.iter().enumerate() {
                                let ep = format!("{lp}[{j}]");
                                match x {
                                    Value::String(s) => match contract.outcome(s) {
                                        Some(o) if list.contains(&o) => cx.err(
                                            &ep,
                                            format!("`{s}` is listed twice"),
                                        ),
                                        Some(o) if !scales || contract.outcomes[o].kind == OutcomeKind::Count => {
                                            list.push(o)
                                        }
                                        Some(_) => cx.err(
                                            &ep,
                                            format!("`{s}` measures a quantity; a shock's `factor` scales success rates of count outcomes only (a shock with only a `delay` may list it)"),
                                        ),
                                        None => cx.err(
                                            &ep,
                                            format!("unknown outcome `{s}`; the contract's outcomes are {}", ids.join(", ")),
                                        ),
                                    },
                                    other => cx.err(
                                        &ep,
                                        format!("must be an outcome id (a string), got {}", type_name(other)),
                                    ),
                                }
                            }
                        }
                        Some(other) => cx.err(
                            &lp,
                            format!("must be a list of outcome ids, got {}", type_name(other)),
                        ),
                        None if uses_outcomes => cx.err(
                            &lp,
                            if scales {
                                "required field `outcomes` is missing: list the outcomes whose rates the shock scales"
                            } else {
                                "required field `outcomes` is missing: list the outcomes the delay measures later"
                            },
                        ),
                        None => {}
                    }
                    match st.get("outcomes") {
                        Some(Value::Array(a)) if a.is_empty() && uses_outcomes => cx.err(
                            &lp,
                            if scales {
                                "lists no outcome: list the outcomes whose rates the shock scales"
                            } else {
                                "lists no outcome: list the outcomes the delay measures later"
                            },
                        ),
                        Some(_) if !uses_outcomes => cx.err(
                            &lp,
                            "`outcomes` names what a `factor` scales or a `delay` measures later; this shock has neither (an `enrolment_delay` moves every cohort)",
                        ),
                        _ => {}
                    }
                    if !["factor", "delay", "enrolment_delay"]
                        .iter()
                        .any(|k| st.contains_key(*k))
                    {
                        cx.err(
                            &path,
                            "a shock must do something: give a `factor` (scales the listed outcomes' success rates), a `delay` (measures the listed outcomes that many periods later) or an `enrolment_delay` (every cohort enrols that many periods later)",
                        );
                    }
                    if let (Some(probability), Some(factor), Some(delay), Some(enrolment_delay)) =
                        (probability, factor, delay, enrolment_delay)
                    {
                        shocks.push(Shock {
                            probability,
                            factor,
                            outcomes: list,
                            delay,
                            enrolment_delay,
                        });
                    }
                }
            }
            Some(other) => cx.err(
                "uncertainty.shocks",
                format!(
                    "must be an array of tables ([[uncertainty.shocks]]), got {}",
                    type_name(other)
                ),
            ),
        }
        if shocks.len() > MAX_SHOCKS {
            cx.err(
                format!("uncertainty.shocks[{MAX_SHOCKS}]"),
                format!("the simulator supports at most {MAX_SHOCKS} shocks"),
            );
        }
        let pp = contract
            .outcomes
            .iter()
            .filter(|o| o.per_participant)
            .count();
        if pp > MAX_PP_OUTCOMES {
            cx.err(
                "participant_cap.outcomes",
                format!(
                    "{pp} outcomes under the per-participant cap; the simulator draws each person's outcomes as the bits of one 64-bit word, so it simulates at most {MAX_PP_OUTCOMES} (settling actuals has no such limit)"
                ),
            );
        }
        if !cx.errs.is_empty() {
            return Err(cx.errs);
        }
        // Every outcome has its entry (checked above), and an entry without a draw is reported
        // where it is read; should one ever slip through, it is a problem, not a panic.
        let Some(outcomes) = models.into_iter().collect::<Option<Vec<_>>>() else {
            return Err(vec![Diagnostic::new(
                "uncertainty.outcomes",
                "every outcome needs a success rate (`rate = { mean = ..., sd = ... }`) or a quantity (`quantity = { dist = ..., ... }`)",
            )]);
        };
        let (delayed, shifts) = delayed_contracts(contract, &shocks, delayed)?;
        Ok(Model {
            fill,
            fill_max,
            correlation,
            outcomes,
            shocks,
            cost_per_participant,
            delayed,
            shifts,
            shape: Shape::of(contract),
        })
    }
}

/// The contracts of every combination of the delaying `shocks` (all of them valid), in the
/// order of [`Model::delayed`], with each outcome's delay in each ([`Model::shifts`]). A
/// combination that gives no valid contract is reported at the last of its shocks: alone,
/// "with this delay ..."; with others, naming them.
#[allow(clippy::type_complexity)]
fn delayed_contracts(
    contract: &Contract,
    shocks: &[Shock],
    build: &DelayedContract,
) -> Result<(Vec<Contract>, Vec<Vec<u16>>), Vec<Diagnostic>> {
    let delaying: Vec<usize> = (0..shocks.len()).filter(|&i| shocks[i].delays()).collect();
    if delaying.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if delaying.len() > MAX_DELAY_SHOCKS {
        return Err(vec![Diagnostic::new(
            format!("uncertainty.shocks[{}]", delaying[MAX_DELAY_SHOCKS]),
            format!(
                "at most {MAX_DELAY_SHOCKS} shocks may have a `delay` or `enrolment_delay` (each combination of them is a contract to settle); this is delaying shock {}",
                MAX_DELAY_SHOCKS + 1
            ),
        )]);
    }
    let mut out = Vec::with_capacity((1 << delaying.len()) - 1);
    let mut shifts = Vec::with_capacity(out.capacity());
    let mut errs = Vec::new();
    // The shocks already blamed: each is reported once, for its smallest failing combination.
    let mut blamed = vec![false; shocks.len()];
    for v in 1usize..1 << delaying.len() {
        let mut lags = vec![0u16; contract.outcomes.len()];
        let mut enrol = 0u16;
        let members: Vec<usize> = (0..delaying.len())
            .filter(|j| v >> j & 1 == 1)
            .map(|j| delaying[j])
            .collect();
        for &i in &members {
            let sh = &shocks[i];
            for &o in &sh.outcomes {
                lags[o] = lags[o].saturating_add(sh.delay);
            }
            enrol = enrol.saturating_add(sh.enrolment_delay);
        }
        match build(&lags, enrol) {
            Ok(c) => {
                out.push(c);
                shifts.push(lags.iter().map(|&l| l.saturating_add(enrol)).collect());
            }
            Err(why) => {
                let last = *members.last().expect("a combination has a member");
                if members.iter().any(|&i| blamed[i]) {
                    continue;
                }
                blamed[last] = true;
                // A shock with both delays: blame the outcomes' delay where it fails alone.
                let sh = &shocks[last];
                let what = if sh.delay > 0 && (sh.enrolment_delay == 0 || build(&lags, 0).is_err())
                {
                    "delay"
                } else {
                    "enrolment_delay"
                };
                let msg = if members.len() == 1 {
                    format!("with this delay the contract does not hold: {why}")
                } else {
                    let others: Vec<String> = members[..members.len() - 1]
                        .iter()
                        .map(|i| format!("shocks[{i}]"))
                        .collect();
                    format!(
                        "when this shock happens together with {} (the delays add up) the contract does not hold: {why}",
                        others.join(" and ")
                    )
                };
                errs.push(Diagnostic::new(
                    format!("uncertainty.shocks[{last}].{what}"),
                    msg,
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok((out, shifts))
    } else {
        Err(errs)
    }
}

/// Most outcomes under the per-participant cap the simulator draws (one bit each in a
/// participant class's mask).
pub const MAX_PP_OUTCOMES: usize = 64;

/// Reusable scratch space for drawing trials (no allocation per trial once warm).
#[derive(Debug, Default)]
pub struct DrawScratch {
    rates: Vec<f64>,
    /// The rates prepared for binomial draws.
    binomial: Vec<BinomialP>,
    baseline: Vec<f64>,
    /// (count, achieved bitmask) per participant class of the current cohort; bit `j` is the
    /// outcome `pp_order[j]`.
    classes: Vec<(u32, u64)>,
    /// Per outcome under the cap: its achievers in the cohort being drawn.
    pp_hits: Vec<u32>,
    events: Vec<(u16, u16)>,
    /// (lag, outcome) of the outcomes under the per-participant cap, sorted: a class's events
    /// (enrolment + lag, outcome) come out in period-then-outcome order without sorting.
    pp_order: Vec<(u16, u16)>,
    /// Per outcome: its bit in a class's mask (its place in `pp_order`).
    pp_bit: Vec<u32>,
    /// The shocks that happened in the last trial drawn: bit `i` is shock `i`.
    shocks: u64,
}

impl DrawScratch {
    /// The shocks that happened in the last trial drawn with this scratch: bit `i` is
    /// `Model::shocks[i]`.
    pub fn shocks(&self) -> u64 {
        self.shocks
    }
}

/// Largest `n` whose inversion search uses the table of reciprocals.
const RECIP_N: usize = 256;

/// Entries of [`RECIP`]: a power of two, so that an index masked to it needs no bounds check.
const RECIP_LEN: usize = 512;

/// `RECIP[j] = 1 / j` (`RECIP[0]` unused), so the inversion searches multiply instead of
/// dividing.
static RECIP: [f64; RECIP_LEN] = {
    let mut t = [0.0; RECIP_LEN];
    let mut j = 1;
    while j < RECIP_LEN {
        t[j] = 1.0 / j as f64;
        j += 1;
    }
    t
};

/// Largest `n` whose `q^n` a [`BinomialP`] can keep in a table.
const POW_TABLE_N: usize = 64;

/// The probabilities that split an outcome's achievers over its measurement periods by
/// `timing` (see [`OutcomeModel::timing`]): one per period but the last, which takes the rest.
fn split_probabilities(timing: &[f64]) -> Vec<BinomialP> {
    let mut left: f64 = timing.iter().sum();
    let mut out = Vec::new();
    for &t in timing.iter().take(timing.len().saturating_sub(1)) {
        let p = if left > 0.0 {
            (t / left).clamp(0.0, 1.0)
        } else {
            0.0
        };
        out.push(BinomialP::new(p));
        left -= t;
    }
    out
}

/// The largest quantity per participant a control group may have (as the actuals take it):
/// a drawn `baseline_quantity` is clamped to `0..=` this.
pub const CONTROL_QUANTITY_LIMIT: f64 = 1_000_000.0;

/// A success probability prepared for repeated binomial draws: the flip to `min(p, 1 - p)`,
/// its complement and the ratio of successive probabilities, computed once per rate instead of
/// once per draw (the division would otherwise delay every draw's search).
#[derive(Clone, Copy, Debug)]
struct BinomialP {
    p: f64,
    pp: f64,
    q: f64,
    ratio: f64,
    flip: bool,
    /// `q^(2^j)`: the squarings of binary powering done once, so `q^n` for `n < 2^8` takes only
    /// the multiplications of `n`'s set bits.
    squares: [f64; 8],
    /// `pows[n] = q^n` for `n <= pows_n` (see [`BinomialP::with_table`]).
    pows: [f64; POW_TABLE_N + 1],
    pows_n: u32,
}

impl BinomialP {
    #[inline]
    fn new(p: f64) -> Self {
        let (pp, flip) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
        let q = 1.0 - pp;
        let mut squares = [q; 8];
        for j in 1..8 {
            squares[j] = squares[j - 1] * squares[j - 1];
        }
        BinomialP {
            p,
            pp,
            q,
            ratio: pp / q,
            flip,
            squares,
            pows: [1.0; POW_TABLE_N + 1],
            pows_n: 0,
        }
    }

    /// [`BinomialP::new`] with `q^n` kept in a table for every `n <= up_to` (up to
    /// [`POW_TABLE_N`]), for a rate that draws many times from at most `up_to` trials: one
    /// table lookup in place of a chain of multiplications per draw. Each entry is the
    /// product of the entry without `n`'s highest bit and that bit's square, so it is the
    /// same value as [`BinomialP::q_pow`] computes (and `f64::powi`).
    #[inline]
    fn with_table(p: f64, up_to: u32) -> Self {
        let mut b = Self::new(p);
        let top = (up_to as usize).min(POW_TABLE_N);
        // Entries `2^j .. 2^(j+1)` are entries `0 .. 2^j` times `q^(2^j)`.
        let mut done = 1;
        for sq in b.squares {
            if done > top {
                break;
            }
            let end = (2 * done).min(top + 1);
            let (low, high) = b.pows.split_at_mut(done);
            for (h, l) in high[..end - done].iter_mut().zip(low.iter()) {
                *h = *l * sq;
            }
            done *= 2;
        }
        b.pows_n = top as u32;
        b
    }

    /// `q^n` for `n < 256`: from the table when it holds `n`, else the same products in the
    /// same order as `f64::powi` (compiler builtins' `__powidf2`, binary powering from the
    /// lowest bit), so the same value either way. A factor
    /// of exactly 1 stands in for each clear bit (multiplying by 1 is exact), chosen by a bit
    /// mask rather than a branch: which bits are set is random.
    #[inline]
    fn q_pow(&self, n: u32) -> f64 {
        debug_assert!(n < 256);
        if n <= self.pows_n {
            return self.pows[n as usize];
        }
        let steps = if n < 64 { 6 } else { 8 };
        let one = 1.0f64.to_bits();
        let mut r = 1.0f64;
        for (j, sq) in self.squares.iter().enumerate().take(steps) {
            let take = 0u64.wrapping_sub(((n >> j) & 1) as u64);
            r *= f64::from_bits((sq.to_bits() & take) | (one & !take));
        }
        r
    }
}

#[inline]
fn binomial_with<R: rand::Rng + ?Sized>(rng: &mut R, n: u64, b: &BinomialP) -> u64 {
    let p = b.p;
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    // Small means: exact inversion (sequential search on the cumulative distribution from 0,
    // one uniform per draw). Large means: inversion from the mode
    // ([`binomial_quantile_large`]) up to a variance of [`INVERT_VARIANCE_MAX`], then
    // rand_distr's BTPE.
    let (pp, flip, q, ratio) = (b.pp, b.flip, b.q, b.ratio);
    if (n as f64) * pp < 30.0 {
        // `1 - u` when flipped makes the result the inverse CDF of Binomial(n, p) at `u` for
        // every `p`, so with the same `u` a larger `p` or `n` never gives fewer successes (a
        // monotone coupling for common random numbers).
        let u: f64 = rand::RngExt::random(rng);
        let u = if flip { 1.0 - u } else { u };
        let k = if n < RECIP_N as u64 {
            let mut pmf = b.q_pow(n as u32);
            let mut cdf = pmf;
            let mut k = 0u64;
            while u > cdf && k < n {
                pmf *= ratio * (n - k) as f64 * RECIP[(k + 1) as usize];
                k += 1;
                cdf += pmf;
            }
            k
        } else {
            let mut pmf = q.powi(n.min(i32::MAX as u64) as i32);
            let mut cdf = pmf;
            let mut k = 0u64;
            while u > cdf && k < n {
                pmf *= ratio * (n - k) as f64 / (k + 1) as f64;
                k += 1;
                cdf += pmf;
            }
            k
        };
        return if flip { n - k } else { k };
    }
    binomial_large(rng, n, p)
}

/// Large means (`n min(p, 1 - p) >= 30`): the inverse CDF from the mode up to a variance of
/// [`INVERT_VARIANCE_MAX`], BTPE beyond; kept out of line so the search from 0 above stays
/// small enough to inline (and marked cold so the search keeps its registers: rare in the
/// cohorts of most contracts, and costly enough where it is not that the call does not count).
#[cold]
#[inline(never)]
fn binomial_large<R: rand::Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    // The flip as `BinomialP::new` makes it: passing `p` alone, as the BTPE call did, keeps
    // the search's code as it was (a reference to the prepared rate cost the reference
    // scenario's draws 1.9% more instructions, none of them here).
    let (pp, flip) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
    let q = 1.0 - pp;
    if (n as f64) * pp * q <= INVERT_VARIANCE_MAX {
        let u: f64 = rand::RngExt::random(rng);
        let u = if flip { 1.0 - u } else { u };
        let k = binomial_quantile_large(u, n, pp, q);
        return if flip { n - k } else { k };
    }
    binomial_btpe(rng, n, p)
}

/// The largest variance `n p (1 - p)` of a binomial drawn by inversion: its cost grows with
/// the standard deviation (about 9 of them in probabilities summed per draw: 0.12 us at a
/// standard deviation of 5, 0.22 us at 15, against rand_distr's BTPE's 0.06 to 0.1 us at any
/// size), so beyond a standard deviation of 8 (a cohort of more than 256 at a rate of one
/// half, 304 at 0.3, 711 at 0.1) a draw is BTPE, whose draws at two nearby rates mostly
/// move together but not always, nor always the same way (a rejection sampler: a uniform
/// accepted at one rate can be rejected at the other).
const INVERT_VARIANCE_MAX: f64 = 64.0;

/// The `u`-quantile of Binomial(`n`, `p`) (`p <= 1/2`, `q = 1 - p`, `n p >= 30`): the smallest
/// `k` with `P(X <= k) >= u`, the same inverse CDF as the sequential search from 0 of the
/// small means computes, so a draw is monotone in `u`, `p` and `n` and the two agree where
/// they meet. From the mode `m`: its probability by Loader's saddle-point formula (relative
/// error about 1e-15, where `ln Γ` would lose digits to cancellation), `P(X <= m)` by summing
/// the probabilities below it until they no longer change the sum (about 9 standard
/// deviations), then a walk up or down to `u` (0.8 standard deviations on average). Each
/// probability comes from the one before by the ratio `(n - k) p / ((k + 1) q)`, as in the
/// search from 0.
fn binomial_quantile_large(u: f64, n: u64, p: f64, q: f64) -> u64 {
    let nf = n as f64;
    let m = ((nf + 1.0) * p).floor().min(nf);
    let at_m = binomial_pmf(m, nf, p, q);
    let ratio = p / q;
    // P(X <= m), the terms below the mode added from the largest, two at a time with one
    // division for both (the pair's denominators multiplied): `P(X = k - 1)` and
    // `P(X = k - 2)` both from `P(X = k)`, so the chain of multiplications is half as long.
    let inv_ratio = q / p;
    let (mut cdf, mut t, mut k) = (at_m, at_m, m);
    while k > 1.0 {
        let (d1, d2) = (nf - k + 1.0, nf - k + 2.0);
        let both = inv_ratio / (d1 * d2);
        let t1 = t * (k * d2 * both);
        let t2 = t * (k * (k - 1.0) * inv_ratio * both);
        k -= 2.0;
        t = t2;
        let next = cdf + (t1 + t2);
        if next == cdf {
            break;
        }
        cdf = next;
    }
    if k == 1.0 {
        cdf += t * (inv_ratio / nf);
    }
    let (mut k, mut t) = (m, at_m);
    if u <= cdf {
        // Down: the smallest k with P(X <= k) >= u; P(X <= k - 1) = P(X <= k) - P(X = k).
        loop {
            let below = cdf - t;
            if k == 0.0 || u > below {
                return k as u64;
            }
            cdf = below;
            t *= k / ((nf - k + 1.0) * ratio);
            k -= 1.0;
        }
    }
    // `t > 0`: a `u` above the sum as rounded (a few in 2^53) stops where the probabilities
    // underflow (some hundreds of steps up), not at `n`.
    while u > cdf && k < nf && t > 0.0 {
        t *= (nf - k) * ratio / (k + 1.0);
        k += 1.0;
        cdf += t;
    }
    k as u64
}

/// `P(X = x)` for X ~ Binomial(`n`, `p`), `q = 1 - p`, `x` a whole number from 0 to `n`
/// (Loader 2000, "Fast and accurate computation of binomial probabilities", as R's
/// `dbinom_raw`): `exp(δ(n) - δ(x) - δ(n - x) - D(x, n p) - D(n - x, n q))` times
/// `sqrt(n / (2π x (n - x)))`, with `δ` the Stirling series' error and `D` the deviance
/// term; `q^n` and `p^n` at the ends.
fn binomial_pmf(x: f64, n: f64, p: f64, q: f64) -> f64 {
    debug_assert!(x >= 0.0 && x <= n && x.fract() == 0.0, "{x} of {n}");
    if x == 0.0 {
        if n == 0.0 {
            return 1.0;
        }
        let lc = if p < 0.1 {
            -deviance_term(n, n * q) - n * p
        } else {
            n * q.ln()
        };
        return lc.exp();
    }
    if x == n {
        let lc = if q < 0.1 {
            -deviance_term(n, n * p) - n * q
        } else {
            n * p.ln()
        };
        return lc.exp();
    }
    let lc = stirling_error(n)
        - stirling_error(x)
        - stirling_error(n - x)
        - deviance_term(x, n * p)
        - deviance_term(n - x, n * q);
    lc.exp() * (n / (std::f64::consts::TAU * x * (n - x))).sqrt()
}

/// `ln Γ(x + 1) - ((x + 1/2) ln x - x + ln sqrt(2π))` for a whole number `x >= 1`: exact values
/// to 15 (as R's `stirlerr`), the Stirling series beyond, to the term that no longer changes it
/// in double precision.
fn stirling_error(x: f64) -> f64 {
    /// `δ(1)` to `δ(15)`, rounded to the nearest double from 40 digits (mpmath).
    const SMALL: [f64; 15] = [
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
        0.007573675487951841,
        0.00694284010720953,
        0.006408994188004207,
        0.0059513701127588475,
        0.005554733551962801,
    ];
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if x < 16.0 {
        debug_assert!(x >= 1.0 && x.fract() == 0.0, "{x}");
        return SMALL[(x as usize).clamp(1, 15) - 1];
    }
    let xx = x * x;
    if x > 500.0 {
        (S0 - S1 / xx) / x
    } else if x > 80.0 {
        (S0 - (S1 - S2 / xx) / xx) / x
    } else if x > 35.0 {
        (S0 - (S1 - (S2 - S3 / xx) / xx) / xx) / x
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / xx) / xx) / xx) / xx) / x
    }
}

/// `x ln(x / m) + m - x`, by its series where `x` is near `m` (there the two logs' terms
/// cancel).
fn deviance_term(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        for j in 1..1000 {
            ej *= v2;
            let next = s + ej / (2 * j + 1) as f64;
            if next == s {
                return next;
            }
            s = next;
        }
        s
    } else {
        x * (x / m).ln() + m - x
    }
}

/// Means too large to search: rand_distr's BTPE.
fn binomial_btpe<R: rand::Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    Binomial::new(n, p).map(|b| b.sample(rng)).unwrap_or(0)
}

/// The hits in a class of `sample` participants when `hits` of the `total` eligible
/// participants (the class's and others') achieve an outcome: Hypergeometric(`total`,
/// `hits`, `sample`), so that the classes' hits together are the eligible participants'
/// independent Bernoulli draws. One uniform, the inverse CDF at it (so a larger class never
/// gets fewer hits on the same uniform: common random numbers), up to a variance of
/// [`INVERT_VARIANCE_MAX`], as for the binomial; beyond it rand_distr's H2PE.
#[inline]
fn hypergeometric_with<R: rand::Rng + ?Sized>(
    rng: &mut R,
    total: u32,
    hits: u32,
    sample: u32,
) -> u32 {
    debug_assert!(hits <= total && sample <= total);
    let u: f64 = rand::RngExt::random(rng);
    // Where the hits and the sample must overlap, count instead the non-hits outside the
    // sample, `X + total - hits - sample` (increasing in `X`), whose least value is 0. The
    // law is symmetric in its two counts: `a` is the smaller.
    let (k, n, offset) = if hits as u64 + sample as u64 > total as u64 {
        (total - hits, total - sample, hits - (total - sample))
    } else {
        (hits, sample, 0)
    };
    let (a, b) = if k <= n { (k, n) } else { (n, k) };
    if a == 0 {
        return offset;
    }
    if a == 1 {
        // One participant (or one hit): `P(0) = (total - b) / total`.
        return offset + (u > (total - b) as f64 / total as f64) as u32;
    }
    // Small means: the search from 0, `1 / j` from the table where every `j` (at most
    // `total`) is in it.
    if (a as u64) * (b as u64) < 30 * total as u64 {
        let x = if (total as usize) < RECIP_LEN {
            hypergeometric_search(u, total, a, b, |j| RECIP[j as usize & (RECIP_LEN - 1)])
        } else {
            hypergeometric_search(u, total, a, b, |j| 1.0 / j as f64)
        };
        if let Some(x) = x {
            return offset + x;
        }
    }
    offset + hypergeometric_large(rng, u, total, a, b)
}

/// The search from 0 of [`hypergeometric_with`] (`a <= b`, `a + b <= total`), `inv(j) = 1 / j`:
/// `P(0) = prod_{i < a} (total - b - i) / (total - i)` (two products side by side), then
/// `P(x + 1) = P(x) (a - x) (b - x) / ((x + 1) (total - a - b + x + 1))` until the sum reaches
/// `u`; `None` where `P(0)` underflows.
#[inline(always)]
fn hypergeometric_search(
    u: f64,
    total: u32,
    a: u32,
    b: u32,
    inv: impl Fn(u32) -> f64,
) -> Option<u32> {
    let (mut t0, mut t1) = (1.0f64, 1.0f64);
    let mut i = 0;
    while i + 1 < a {
        t0 *= (total - b - i) as f64 * inv(total - i);
        t1 *= (total - b - i - 1) as f64 * inv(total - i - 1);
        i += 2;
    }
    if i < a {
        t0 *= (total - b - i) as f64 * inv(total - i);
    }
    let mut t = t0 * t1;
    if t < f64::MIN_POSITIVE {
        return None;
    }
    let c = total - a - b;
    let mut cdf = t;
    let mut x = 0u32;
    while u > cdf && x < a {
        t *= (a - x) as f64 * (b - x) as f64 * inv(x + 1) * inv(c + x + 1);
        x += 1;
        cdf += t;
    }
    Some(x)
}

/// [`hypergeometric_with`] beyond the search from 0 (means of 30 or more, or a `P(0)` that
/// underflows): `Hypergeometric(total, a, b)`, `a <= b`, `a + b <= total`, at the uniform `u`;
/// out of line, as [`binomial_large`].
#[cold]
#[inline(never)]
fn hypergeometric_large<R: rand::Rng + ?Sized>(
    rng: &mut R,
    u: f64,
    total: u32,
    a: u32,
    b: u32,
) -> u32 {
    let (nf, af, bf) = (total as f64, a as f64, b as f64);
    let variance = af * bf * (nf - af) * (nf - bf) / (nf * nf * (nf - 1.0).max(1.0));
    if variance > INVERT_VARIANCE_MAX {
        return rand_distr::Hypergeometric::new(total as u64, a as u64, b as u64)
            .map(|h| h.sample(rng) as u32)
            .unwrap_or(0);
    }
    hypergeometric_quantile(u, nf, af, bf)
}

/// The `u`-quantile of Hypergeometric(`n`, `a`, `b`) (`a <= b`, `a + b <= n`): the smallest `x`
/// with `P(X <= x) >= u`, as the search from 0 computes it, from the mode `m` as
/// [`binomial_quantile_large`]: `P(X = m)` as a ratio of three binomial probabilities (as R's
/// `dhyper`), `P(X <= m)` by summing the probabilities below it until they no longer change
/// the sum, then a walk to `u`.
fn hypergeometric_quantile(u: f64, n: f64, a: f64, b: f64) -> u32 {
    let m = ((a + 1.0) * (b + 1.0) / (n + 2.0)).floor().min(a);
    let (p, q) = (b / n, (n - b) / n);
    let at_m =
        binomial_pmf(m, a, p, q) * binomial_pmf(b - m, n - a, p, q) / binomial_pmf(b, n, p, q);
    let c = n - a - b;
    // `P(X = x - 1) = P(X = x) x (c + x) / ((a - x + 1) (b - x + 1))`.
    let down = |x: f64| x * (c + x) / ((a - x + 1.0) * (b - x + 1.0));
    // Below the mode two terms at a time with one division for both (their denominators
    // multiplied), as for the binomial.
    let (mut cdf, mut t, mut x) = (at_m, at_m, m);
    while x > 1.0 {
        let (n1, n2) = (x * (c + x), (x - 1.0) * (c + x - 1.0));
        let (d1, d2) = ((a - x + 1.0) * (b - x + 1.0), (a - x + 2.0) * (b - x + 2.0));
        let both = 1.0 / (d1 * d2);
        let t1 = t * (n1 * d2 * both);
        let t2 = t * (n1 * n2 * both);
        x -= 2.0;
        t = t2;
        let next = cdf + (t1 + t2);
        if next == cdf {
            break;
        }
        cdf = next;
    }
    if x == 1.0 {
        cdf += t * down(1.0);
    }
    let (mut x, mut t) = (m, at_m);
    if u <= cdf {
        loop {
            let below = cdf - t;
            if x == 0.0 || u > below {
                return x as u32;
            }
            cdf = below;
            t *= down(x);
            x -= 1.0;
        }
    }
    while u > cdf && x < a && t > 0.0 {
        t *= (a - x) * (b - x) / ((x + 1.0) * (c + x + 1.0));
        x += 1.0;
        cdf += t;
    }
    x as u32
}

/// The independent generator number `k` of a trial whose sub-stream key is `key`: component
/// `0` is the cost per participant; cohort `c` has component `1 + c (O + 1)` for its enrolment
/// and `1 + c (O + 1) + 1 + o` for outcome `o` (`O` outcomes). A component that consumes a
/// varying number of random numbers (rejection samplers, a changed number of participant
/// classes) so never shifts the numbers another component sees: variants of a scenario stay
/// coupled trial by trial (common random numbers).
#[inline]
pub fn sub_stream(key: u64, k: u64) -> rand_pcg::Pcg64Mcg {
    let mut s = key ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let hi = next();
    let lo = next();
    rand_pcg::Pcg64Mcg::new(((hi as u128) << 64) | lo as u128)
}

/// The sub-stream of the shocks' uniforms (see [`sub_stream`]): far above any cohort's.
const SHOCK_STREAM: u64 = u64::MAX;

/// Largest parameter of a quantity or cost distribution, and largest draw: a cohort's
/// quantity in a period and a cost per participant are clamped to it, the bound reported
/// actuals and contract prices have.
pub const DIST_LIMIT: f64 = 1e9;

/// A quantity as a [`Qty`] with six decimals, clamped to `[0, DIST_LIMIT]`.
#[inline]
fn qty(x: f64) -> Qty {
    Qty((x.clamp(0.0, DIST_LIMIT) * 1e6).round() as i64)
}

/// The forecast `f` of a cohort of `size` people re-run for the `enrolled` who came:
/// `f x enrolled / size`, rounded half away from zero to six decimals (`size > 0`).
pub fn scaled_forecast(f: Qty, enrolled: u32, size: u32) -> Qty {
    Qty(crate::money::div_round(f.0 as i128 * enrolled as i128, size as i128) as i64)
}

impl Model {
    /// The most a cohort of target `size` can enrol: `size x fill_max` rounded up (a product
    /// within 1e-9 of a whole number is that number: 40 x 1.2 is 48, 50 x 1.15 is 58); the
    /// target itself when `fill_max` is 1.
    #[inline]
    pub fn capacity(&self, size: u32) -> u32 {
        if self.fill_max == 1.0 {
            size
        } else {
            let x = size as f64 * self.fill_max;
            (x - 1e-9 * x.max(1.0)).ceil().max(size as f64) as u32
        }
    }

    /// Whether the model was made for a contract of `contract`'s form: the same periods,
    /// cohorts, and outcomes of the same kind, window, prerequisite and cap (the values may
    /// differ). A model is made with its contract (`scenario::parse_with_model`); the Monte
    /// Carlo runs refuse a model that does not fit the contract they are given.
    pub fn fits(&self, contract: &Contract) -> bool {
        self.shape == Shape::of(contract)
    }

    /// The contract a trial of variant `v` (as [`Model::draw`] returns it) settles: `base`
    /// for 0, else the delayed contract of those shocks.
    #[inline]
    pub fn contract<'a>(&'a self, base: &'a Contract, v: usize) -> &'a Contract {
        if v == 0 { base } else { &self.delayed[v - 1] }
    }

    /// Draws one trial of `contract` into `actuals` (cleared first) from `rng`, and returns
    /// the trial's variant: 0, or which delaying shocks happened (see [`Model::contract`]); the
    /// actuals are those of that variant's contract.
    pub fn draw<R: rand::Rng + ?Sized>(
        &self,
        contract: &Contract,
        rng: &mut R,
        actuals: &mut Actuals,
        s: &mut DrawScratch,
    ) -> usize {
        let n_o = contract.outcomes.len();
        // The key of the trial's sub-streams (see `sub_stream`): drawn first, so every variant
        // of a scenario with the same structure gets the same key for the same trial.
        let key: u64 = rng.random();
        s.rates.clear();
        s.rates.resize(n_o, 0.0);
        s.baseline.clear();
        s.baseline.resize(n_o, 0.0);
        // 1. Correlated rates.
        let rho = self.correlation;
        let (wz, we) = (rho.sqrt(), (1.0 - rho).sqrt());
        let z: f64 = StandardNormal.sample(rng);
        for (o, m) in self.outcomes.iter().enumerate() {
            if let OutcomeDraw::Rate(b) = &m.draw {
                let e: f64 = StandardNormal.sample(rng);
                s.rates[o] = b.at(wz * z + we * e);
            }
        }
        // 2. Shocks; those that delay pick the contract the trial settles (bit `j` of the
        // variant is the `j`-th delaying shock).
        let mut variant = 0usize;
        let mut bit = 1usize;
        s.shocks = 0;
        // Their uniforms come from a sub-stream of their own, the `i`-th shock's `i`-th, so a
        // shock added at the end (the default `delay` stress adds one) shifts no other draw.
        let mut shock_rng = (!self.shocks.is_empty()).then(|| sub_stream(key, SHOCK_STREAM));
        for (i, sh) in self.shocks.iter().enumerate() {
            let u: f64 = match &mut shock_rng {
                Some(r) => r.random(),
                None => 0.0,
            };
            if u < sh.probability {
                s.shocks |= 1 << i;
                if let Some(f) = sh.factor {
                    for &o in &sh.outcomes {
                        s.rates[o] = (s.rates[o] * f).clamp(0.0, 1.0);
                    }
                }
                if sh.delays() {
                    variant |= bit;
                }
            }
            if sh.delays() {
                bit <<= 1;
            }
        }
        let contract = self.contract(contract, variant);
        actuals.clear(contract);
        // 3. Fill, baselines, cost. The binomials below draw from at most the largest cohort
        // (their tables of powers go that far).
        let max_size = contract
            .cohorts
            .iter()
            .map(|c| self.capacity(c.size))
            .max()
            .unwrap_or(0);
        let fill = self.fill.as_ref().map(|f| {
            let z: f64 = StandardNormal.sample(rng);
            BinomialP::with_table(f.at(z), max_size)
        });
        for (o, m) in self.outcomes.iter().enumerate() {
            if let Some(b) = &m.baseline_rate {
                let z: f64 = StandardNormal.sample(rng);
                s.baseline[o] = b.at(z);
            } else if let Some(d) = &m.control_quantity {
                let z: f64 = StandardNormal.sample(rng);
                s.baseline[o] = d.at_normal(z).clamp(0.0, CONTROL_QUANTITY_LIMIT);
            }
        }
        if let Some(d) = &self.cost_per_participant {
            let x = d.sample(&mut sub_stream(key, 0)).clamp(0.0, DIST_LIMIT);
            // Whole cents.
            actuals.cost_per_participant = Some(Price((x * 100.0).round() as i64 * 10_000));
        }
        // 4. Cohorts.
        s.binomial.clear();
        s.binomial
            .extend(s.rates.iter().map(|&p| BinomialP::with_table(p, max_size)));
        s.pp_order.clear();
        for (o, out) in contract.outcomes.iter().enumerate() {
            if out.per_participant {
                s.pp_order.push((out.lag, o as u16));
            }
        }
        s.pp_order.sort_unstable();
        s.pp_bit.clear();
        s.pp_bit.resize(n_o, 0);
        s.pp_hits.clear();
        s.pp_hits.resize(n_o, 0);
        for (j, &(_, o)) in s.pp_order.iter().enumerate() {
            s.pp_bit[o as usize] = j as u32;
        }
        let forecasts = contract
            .outcomes
            .iter()
            .any(|o| matches!(o.baseline, Baseline::Forecast(_)));
        for (ci, coh) in contract.cohorts.iter().enumerate() {
            let base = 1 + ci as u64 * (n_o as u64 + 1);
            let enrolled = match &fill {
                Some(f) if self.fill_max == 1.0 => {
                    binomial_with(&mut sub_stream(key, base), coh.size as u64, f) as u32
                }
                // Above the target: Binomial(capacity, size x fill / capacity), whose mean is
                // size x fill (`f` is the share of `fill_max`).
                Some(f) => {
                    let n = self.capacity(coh.size);
                    let p = if n == 0 {
                        0.0
                    } else {
                        (coh.size as f64 * f.p * self.fill_max / n as f64).min(1.0)
                    };
                    binomial_with(
                        &mut sub_stream(key, base),
                        n as u64,
                        &BinomialP::with_table(p, n),
                    ) as u32
                }
                None => coh.size,
            };
            actuals.enrolled[ci] = enrolled;
            let enrol = coh.enrol_period;
            // Participant classes for outcomes under the per-participant cap: per outcome, the
            // count of achievers among the eligible, then its split over the eligible classes.
            s.classes.clear();
            s.classes.push((enrolled, 0));
            let mut any_pp = false;
            // Classes left empty (all of them achieved an outcome and moved on).
            let mut empty = 0usize;
            for (o, out) in contract.outcomes.iter().enumerate() {
                if !out.per_participant {
                    continue;
                }
                any_pp = true;
                let bit = 1u64 << s.pp_bit[o];
                // The eligible: everyone, or those who achieved the prerequisite (drawn
                // before: validation puts it under the cap too, and earlier in the list).
                let (needs, mut left) = match out.requires {
                    Some(r) => (1u64 << s.pp_bit[r], s.pp_hits[r]),
                    None => (0, enrolled),
                };
                let mut rng = sub_stream(key, base + 1 + o as u64);
                let mut hits = binomial_with(&mut rng, left as u64, &s.binomial[o]) as u32;
                s.pp_hits[o] = hits;
                let n_now = s.classes.len();
                for k in 0..n_now {
                    if hits == 0 {
                        break;
                    }
                    let (count, mask) = s.classes[k];
                    if count == 0 || mask & needs != needs {
                        continue;
                    }
                    let hit = if hits == left {
                        count
                    } else if count == left {
                        hits
                    } else {
                        hypergeometric_with(&mut rng, left, hits, count)
                    };
                    left -= count;
                    hits -= hit;
                    // Those who achieve it always move to a new class at the end (leaving an
                    // empty one where all do), so the classes stand in an order fixed by their
                    // masks alone (a class comes after those made at an earlier outcome, and
                    // after those split from classes before its own), whichever of them a
                    // trial leaves empty: a variant that moves one outcome's rate splits
                    // the others' achievers over the same classes in the same order.
                    if hit > 0 {
                        s.classes[k].0 -= hit;
                        s.classes.push((hit, mask | bit));
                        empty += (hit == count) as usize;
                    }
                }
                // The eligible classes held `left` participants in all (those with the
                // prerequisite's bit are its achievers), so every hit found a class.
                debug_assert_eq!(hits, 0, "outcome {o}: hits left over");
                // Dropping the empty classes keeps the others' order.
                if empty * 2 > s.classes.len() {
                    s.classes.retain(|&(count, _)| count > 0);
                    empty = 0;
                }
            }
            if any_pp {
                // The cohort's possible events in (period, outcome) order; bit `j` of a
                // class's mask is `s.events[j]`.
                s.events.clear();
                s.events
                    .extend(s.pp_order.iter().map(|&(lag, o)| (enrol + lag, o)));
                debug_assert!(s.events.is_sorted());
                actuals.add_classes(ci, &s.events, &s.classes);
            }
            // Other outcomes, in contract order (a prerequisite comes first).
            for (o, out) in contract.outcomes.iter().enumerate() {
                let first = out.first_measure(enrol) as usize;
                let last = out.last_measure(enrol) as usize;
                if !out.per_participant {
                    let mut rng = sub_stream(key, base + 1 + o as u64);
                    match &self.outcomes[o].draw {
                        OutcomeDraw::Rate(_) => {
                            // A prerequisite spread by `timing`: who achieved it by this
                            // outcome's last measurement (later achievers cannot be counted).
                            let timed = out
                                .requires
                                .filter(|&r| !out.repeatable && !self.outcomes[r].split.is_empty());
                            let eligible = match out.requires {
                                Some(r) => {
                                    let ro = &contract.outcomes[r];
                                    let upto = match timed {
                                        Some(_) => ro.last_measure(enrol).min(last as u16),
                                        None => ro.last_measure(enrol),
                                    };
                                    let mut u = Qty::ZERO;
                                    for p in ro.first_measure(enrol)..=upto {
                                        u += actuals.units_in(actuals.cell(r, ci, p as usize));
                                    }
                                    let u = (u.0 / 1_000_000).max(0) as u64;
                                    if ro.repeatable {
                                        u.min(enrolled as u64)
                                    } else {
                                        u
                                    }
                                }
                                None => enrolled as u64,
                            };
                            let k = binomial_with(&mut rng, eligible, &s.binomial[o]);
                            let split = &self.outcomes[o].split;
                            if split.is_empty() {
                                actuals.set_units_in(
                                    actuals.cell(o, ci, first),
                                    Qty::from_int(k as i64),
                                );
                            } else {
                                // Spread over the measurement periods by `timing`.
                                let mut left = k;
                                for (j, b) in split.iter().enumerate() {
                                    let n = binomial_with(&mut rng, left, b);
                                    actuals.set_units_in(
                                        actuals.cell(o, ci, first + j),
                                        Qty::from_int(n as i64),
                                    );
                                    left -= n;
                                }
                                actuals.set_units_in(
                                    actuals.cell(o, ci, last),
                                    Qty::from_int(left as i64),
                                );
                            }
                            if let Some(r) = timed {
                                // No one counts before achieving the prerequisite: those
                                // beyond its achievers so far move to the next measurement.
                                let ro = &contract.outcomes[r];
                                let whole = |q: Qty| q.0 / 1_000_000;
                                let mut have: i64 = (ro.first_measure(enrol) as usize..first)
                                    .map(|p| whole(actuals.units_in(actuals.cell(r, ci, p))))
                                    .sum();
                                let (mut counted, mut carry) = (0i64, 0i64);
                                for p in first..=last {
                                    have += whole(actuals.units_in(actuals.cell(r, ci, p)));
                                    let u = whole(actuals.units_in(actuals.cell(o, ci, p))) + carry;
                                    let take = u.min((have - counted).max(0));
                                    actuals
                                        .set_units_in(actuals.cell(o, ci, p), Qty::from_int(take));
                                    carry = u - take;
                                    counted += take;
                                }
                                debug_assert_eq!(carry, 0, "drawn from those who achieved it");
                            }
                            if out.repeatable {
                                for p in first + 1..=last {
                                    let k = binomial_with(&mut rng, eligible, &s.binomial[o]);
                                    actuals.set_units_in(
                                        actuals.cell(o, ci, p),
                                        Qty::from_int(k as i64),
                                    );
                                }
                            }
                        }
                        OutcomeDraw::Quantity(d) => {
                            let ready = self.outcomes[o].quantity.as_ref();
                            for p in first..=last {
                                let x = match ready {
                                    Some(q) => q.sample(&mut rng),
                                    None => d.sample(&mut rng),
                                };
                                actuals
                                    .set_units_in(actuals.cell(o, ci, p), qty(enrolled as f64 * x));
                            }
                        }
                    }
                }
                if self.outcomes[o].baseline_rate.is_some() {
                    let b = qty(s.baseline[o].clamp(0.0, 1.0));
                    for p in first..=last {
                        actuals.set_baseline_in(actuals.cell(o, ci, p), b);
                    }
                } else if self.outcomes[o].baseline_quantity.is_some() {
                    let b = qty(s.baseline[o]);
                    for p in first..=last {
                        actuals.set_baseline_in(actuals.cell(o, ci, p), b);
                    }
                }
                // A forecast is of the cohort the contract names: re-run for the realised
                // enrolment (as the actuals of a real contract report it).
                if forecasts
                    && enrolled != coh.size
                    && let Baseline::Forecast(v) = &out.baseline
                    && let Some(f) = v[ci]
                {
                    let b = scaled_forecast(f, enrolled, coh.size);
                    for p in first..=last {
                        actuals.set_baseline_in(actuals.cell(o, ci, p), b);
                    }
                }
            }
        }
        variant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `P(X <= k)` for Binomial(n, p), independently of the search: the regularized incomplete
    /// beta `I_(1-p)(n - k, k + 1)`.
    fn binomial_cdf(k: i64, n: u64, p: f64) -> f64 {
        if k < 0 {
            0.0
        } else if k as u64 >= n {
            1.0
        } else {
            crate::stats::inc_beta((n - k as u64) as f64, k as f64 + 1.0, 1.0 - p)
        }
    }

    #[test]
    fn a_large_binomial_is_the_inverse_cdf_at_its_uniform() {
        let grid: Vec<f64> = (0..=400)
            .map(|i| i as f64 / 400.0)
            .chain([1e-12, 1e-6, 0.3333, 1.0 - 1e-6, 1.0 - 1e-12, 1.0 - 1e-16])
            .collect();
        for (n, p) in [
            (61u64, 0.5),
            (100, 0.3),
            (300, 0.11),
            (1_000, 0.5),
            (5_000, 0.03),
            (16_000, 0.5),
            (1_000_000, 0.004),
        ] {
            let q = 1.0 - p;
            // Beyond the variance drawn this way too: the search holds for any size.
            assert!(n as f64 * p >= 30.0);
            for &u in &grid {
                let k = binomial_quantile_large(u, n, p, q) as i64;
                let (below, at) = (binomial_cdf(k - 1, n, p), binomial_cdf(k, n, p));
                assert!(
                    below < u + 1e-12 && at >= u - 1e-12,
                    "n {n} p {p} u {u}: k {k}, F(k-1) {below}, F(k) {at}"
                );
            }
        }
        // At u = 1 (a flipped uniform of 0), above every rounded sum, the walk up ends where
        // the probabilities underflow (476 here), not at n (a billion).
        let (n, p) = (1_000_000_000u64, 4e-8);
        let k = binomial_quantile_large(1.0, n, p, 1.0 - p);
        assert!((100..1_000).contains(&k), "{k}");
    }

    /// `C(n, k)` exactly (`n <= 120`, so it fits in a `u128`).
    fn choose(n: u64, k: u64) -> u128 {
        let k = k.min(n - k);
        (0..k).fold(1u128, |c, i| c * (n - i) as u128 / (i + 1) as u128)
    }

    /// `P(X <= x)` for Hypergeometric(total, hits, sample), independently of the draws:
    /// exact binomial coefficients up to 120, `ln Γ` beyond (about 1e-12).
    fn hypergeometric_cdf(x: i64, total: u64, hits: u64, sample: u64) -> f64 {
        let lo = (hits + sample).saturating_sub(total) as i64;
        (lo..=x.min(hits.min(sample) as i64))
            .map(|j| {
                let j = j as u64;
                if total <= 120 {
                    (choose(hits, j) * choose(total - hits, sample - j)) as f64
                        / choose(total, sample) as f64
                } else {
                    let lc = |n: u64, k: u64| {
                        crate::stats::ln_gamma(n as f64 + 1.0)
                            - crate::stats::ln_gamma(k as f64 + 1.0)
                            - crate::stats::ln_gamma((n - k) as f64 + 1.0)
                    };
                    (lc(hits, j) + lc(total - hits, sample - j) - lc(total, sample)).exp()
                }
            })
            .sum()
    }

    #[test]
    fn a_class_split_is_the_hypergeometric_inverse_cdf_at_its_uniform() {
        // (total, hits, sample): the search from 0 (means below 30), with the hits and the
        // sample overlapping (offset) and swapped; more than 256 eligible (divisions); the
        // search from the mode (means of 30 or more, up to a variance of 64).
        let shapes = [
            (34u32, 15u32, 14u32),
            (34, 14, 15),
            (34, 30, 20),
            (2, 1, 1),
            (60, 59, 1),
            (60, 1, 59),
            (100, 50, 50),
            (110, 70, 60),
            (120, 60, 60),
            (120, 90, 100),
            (117, 40, 100),
            (1_000, 20, 300),
            (1_000, 700, 990),
            (200, 100, 80),
            (400, 150, 120),
            (640, 320, 320),
        ];
        let mut r = sub_stream(23, 0);
        for (total, hits, sample) in shapes {
            for _ in 0..2_000 {
                let seed: u64 = r.random();
                let u: f64 = sub_stream(seed, 1).random();
                let x = hypergeometric_with(&mut sub_stream(seed, 1), total, hits, sample);
                let (t, h, s) = (total as u64, hits as u64, sample as u64);
                let tol = if total <= 120 { 1e-13 } else { 1e-9 };
                assert!(
                    hypergeometric_cdf(x as i64, t, h, s) >= u - tol
                        && hypergeometric_cdf(x as i64 - 1, t, h, s) < u + tol,
                    "{total} {hits} {sample} at {u}: {x}"
                );
            }
        }
    }

    /// Asserts that the `draws` (each with what it was drawn at, for the message), from 0,
    /// never fall and rise by at most `step` from one to the next.
    fn assert_rise_by_at_most<A: std::fmt::Display>(
        step: i64,
        draws: impl IntoIterator<Item = (A, i64)>,
    ) {
        let mut last = 0;
        for (at, k) in draws {
            assert!(k >= last && k - last <= step, "{at}: {k} after {last}");
            last = k;
        }
    }

    #[test]
    fn class_splits_are_monotone_in_the_class_size_and_the_hits_on_the_same_uniform() {
        // Across the search from 0, the overlap's offset, the swap of the two counts and the
        // search from the mode: the same uniform never gives a larger class or more hits fewer
        // of them, and each step moves it by at most one.
        let mut r = sub_stream(29, 0);
        for _ in 0..300 {
            let seed: u64 = r.random();
            let draw =
                |t: u32, h: u32, s: u32| hypergeometric_with(&mut sub_stream(seed, 1), t, h, s);
            for (total, hits) in [(40u32, 17u32), (200, 120), (300, 40)] {
                assert_rise_by_at_most(
                    1,
                    (0..=total).map(|sample| {
                        let at = format!("{total} {hits} {sample}");
                        (at, draw(total, hits, sample) as i64)
                    }),
                );
                assert_rise_by_at_most(
                    1,
                    (0..=total)
                        .map(|h| (format!("{total} {h} {hits}"), draw(total, h, hits) as i64)),
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3_000,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Any shape up to `u32::MAX` (overflow checks on in a debug build): the hits stay in
        /// the support, and one more participant in the class gives the same or one more hit on
        /// the same uniform wherever both draws are inverse CDFs (a variance up to 64).
        #[test]
        fn a_class_split_stays_in_its_support_and_grows_with_the_class(
            total in proptest::prop_oneof![1u32..300, 1u32..100_000, 1u32..=u32::MAX],
            h in 0.0f64..=1.0,
            s in 0.0f64..=1.0,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let hits = ((total as f64 * h) as u32).min(total);
            let sample = ((total as f64 * s) as u32).min(total);
            let x = hypergeometric_with(&mut sub_stream(seed, 1), total, hits, sample);
            let lo = (hits as u64 + sample as u64).saturating_sub(total as u64) as u32;
            proptest::prop_assert!(lo <= x && x <= hits.min(sample), "{x}");
            let variance = |n: u32| {
                let (t, k, n) = (total as f64, hits as f64, n as f64);
                k * n * (t - k) * (t - n) / (t * t * (t - 1.0).max(1.0))
            };
            if sample < total && variance(sample).max(variance(sample + 1)) <= INVERT_VARIANCE_MAX {
                let y = hypergeometric_with(&mut sub_stream(seed, 1), total, hits, sample + 1);
                proptest::prop_assert!(y >= x && y - x <= 1, "{x} then {y}");
            }
        }
    }

    #[test]
    fn a_large_class_split_has_the_hypergeometrics_mean_and_spread() {
        // Beyond a variance of 64, rand_distr's H2PE.
        let (total, hits, sample) = (2_000u32, 1_000u32, 900u32);
        let (n, k, s) = (total as f64, hits as f64, sample as f64);
        let mean = s * k / n;
        let var = s * k * (n - k) * (n - s) / (n * n * (n - 1.0));
        assert!(var > INVERT_VARIANCE_MAX);
        let mut r = sub_stream(31, 0);
        let draws = 20_000;
        let xs: Vec<f64> = (0..draws)
            .map(|_| hypergeometric_with(&mut r, total, hits, sample) as f64)
            .collect();
        let m = xs.iter().sum::<f64>() / draws as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (draws - 1) as f64;
        assert!(
            (m - mean).abs() < 4.0 * (var / draws as f64).sqrt(),
            "{m} {mean}"
        );
        assert!(
            (v / var - 1.0).abs() < 4.0 * (2.0 / draws as f64).sqrt(),
            "{v} {var}"
        );
    }

    #[test]
    fn a_binomial_probability_is_exact_at_the_ends_and_for_small_counts() {
        for (n, p) in [
            (1u64, 0.3f64),
            (15, 0.05),
            (40, 0.5),
            (100, 0.93),
            (120, 0.2),
        ] {
            for x in 0..=n {
                let exact = choose(n, x) as f64 * p.powi(x as i32) * (1.0 - p).powi((n - x) as i32);
                let got = binomial_pmf(x as f64, n as f64, p, 1.0 - p);
                assert!(
                    (got - exact).abs() <= 1e-12 * exact,
                    "{x} of {n} at {p}: {got} against {exact}"
                );
            }
        }
    }

    #[test]
    fn binomial_draws_are_monotone_in_the_rate_and_the_count_on_the_same_uniform() {
        // Across the change from the search from 0 (n p < 30), the search from the mode, and
        // the flip at p = 1/2, the same uniform never gives fewer successes at a higher rate
        // or with more trials, and moves a little: common random numbers.
        let mut r = sub_stream(17, 0);
        for _ in 0..300 {
            let seed: u64 = r.random();
            let draw = |n: u64, p: f64| {
                binomial_with(&mut sub_stream(seed, 1), n, &BinomialP::new(p)) as i64
            };
            assert_rise_by_at_most(
                30,
                (0..=100).map(|i| {
                    let p = i as f64 / 100.0;
                    (format!("p {p}"), draw(200, p))
                }),
            );
            // Up to the largest count drawn by inversion at 0.4 (variance 64).
            assert_rise_by_at_most(1, (0..=266).map(|n| (format!("n {n}"), draw(n, 0.4))));
        }
    }

    #[test]
    fn a_pert_draws_by_inversion_and_moves_steadily_with_its_bounds() {
        let pert = |max: f64| Dist::Pert {
            min: 1_500.0,
            mode: 2_000.0,
            max,
        };
        // The ready sampler gives the exact inversion of the same uniform to within 1e-9 of
        // the range.
        let ready = Sampler::new(pert(3_000.0));
        let (mut a, mut b, mut c) = (sub_stream(11, 0), sub_stream(11, 0), sub_stream(11, 0));
        let (sa, sb) = (1.0 + 4.0 * 500.0 / 1_500.0, 1.0 + 4.0 * 1_000.0 / 1_500.0);
        for _ in 0..20_000 {
            let exact = pert(3_000.0).sample(&mut a);
            let u: f64 = c.random();
            assert_eq!(exact, 1_500.0 + 1_500.0 * beta_quantile(sa, sb, u));
            let fast = ready.sample(&mut b);
            assert!((exact - fast).abs() <= 1e-9 * 1_500.0, "{exact} {fast}");
        }
        // At a standard normal, as at its uniform.
        for z in [-4.0, -1.5, 0.0, 0.3, 2.0, 5.0] {
            let (exact, fast) = (pert(3_000.0).at_normal(z), ready.at_normal(z));
            assert!(
                (exact - fast).abs() <= 1e-9 * 1_500.0,
                "{z}: {exact} {fast}"
            );
        }
        // Its mean and variance are the PERT's: (min + 4 mode + max) / 6 and
        // (mean - min)(max - mean) / 7, within 4 standard errors of 200,000 draws.
        let n = 200_000;
        let mut r = sub_stream(3, 0);
        let xs: Vec<f64> = (0..n).map(|_| ready.sample(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let m = (1_500.0 + 4.0 * 2_000.0 + 3_000.0) / 6.0;
        let v = (m - 1_500.0) * (3_000.0 - m) / 7.0;
        assert!((mean - m).abs() < 4.0 * (v / n as f64).sqrt(), "{mean} {m}");
        assert!(
            (var / v - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt(),
            "{var} {v}"
        );
        // On common random numbers a wider PERT moves each draw a little: by at most the
        // change of the bound, and none the other way by more than a fraction of it.
        for (from, to) in [(3_000.0, 3_010.0), (3_000.0, 3_100.0), (2_500.0, 2_600.0)] {
            let (lo, hi) = (Sampler::new(pert(from)), Sampler::new(pert(to)));
            let (mut a, mut b) = (sub_stream(5, 0), sub_stream(5, 0));
            for _ in 0..20_000 {
                let (x, y) = (lo.sample(&mut a), hi.sample(&mut b));
                assert!(
                    y - x <= to - from && x - y < 0.2 * (to - from),
                    "{from} {to}: {x} {y}"
                );
            }
        }
    }

    #[test]
    fn beta_tables_are_kept_and_give_what_building_gives() {
        let first = BetaRate::new(0.61, 0.073);
        let again = BetaRate::new(0.61, 0.073);
        assert!(Arc::ptr_eq(&first.table, &again.table), "kept, not rebuilt");
        // More tables than are kept push the first out; built again, it is the same to the bit.
        for i in 0..TABLES_KEPT {
            BetaRate::new(0.3 + i as f64 * 1e-3, 0.05);
        }
        let rebuilt = BetaRate::new(0.61, 0.073);
        assert!(!Arc::ptr_eq(&first.table, &rebuilt.table), "rebuilt");
        let bits = |b: &BetaRate| b.table.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&first), bits(&rebuilt));
        assert_eq!(first.table.len(), TABLE_N + 1);
        // A rate without spread has no table.
        assert!(BetaRate::new(0.5, 0.0).table.is_empty());
    }

    /// A Beta rate with a vanishing spread is its normal approximation, which near the bound
    /// agrees with the Beta's own quantiles to far below what a rate resolves, and is built
    /// at once however small the spread (an sd of 1e-300 took seconds).
    #[test]
    fn a_concentrated_beta_rate_is_its_normal_approximation() {
        let (mean, sd) = (0.37, 4e-5);
        let (a, b) = beta_params(mean, sd);
        assert!(a + b > NORMAL_BEYOND, "{}", a + b);
        let r = BetaRate::new(mean, sd);
        for i in 0..=TABLE_N {
            let z = Z_LO + (Z_HI - Z_LO) * i as f64 / TABLE_N as f64;
            let exact = beta_quantile(a, b, normal_cdf(z));
            assert!(
                (r.at(z) - exact).abs() < 1e-7,
                "z {z}: {} against {exact}",
                r.at(z)
            );
        }
        for sd in [1e-100, 1e-300, 5e-324] {
            let r = BetaRate::new(0.5, sd);
            assert_eq!(r.at(0.0), 0.5);
            assert!((r.at(3.0) - 0.5).abs() <= 3.0 * sd + f64::EPSILON);
        }
        let near_one = BetaRate::new(1.0 - 1e-12, 1e-13);
        assert!((0.0..=1.0).contains(&near_one.at(7.0)));
    }

    #[test]
    fn a_distribution_at_a_normal_quantile_is_its_quantile_and_what_sampling_gives() {
        let normal = Dist::Normal {
            mean: 10.0,
            sd: 2.0,
        };
        let lognormal = Dist::LogNormal {
            mean: 2_100.0,
            sd: 300.0,
        };
        let triangular = Dist::Triangular {
            min: 0.0,
            mode: 0.0,
            max: 1.0,
        };
        let pert = Dist::Pert {
            min: 1.0,
            mode: 2.0,
            max: 3.0,
        };
        // Medians in closed form.
        assert_eq!(normal.at_normal(0.0), 10.0);
        assert_eq!(normal.at_normal(1.5), 13.0);
        let s2 = (1.0f64 + 300.0 * 300.0 / (2_100.0 * 2_100.0)).ln();
        let median = (2_100.0f64.ln() - s2 / 2.0).exp();
        assert!((lognormal.at_normal(0.0) - median).abs() < 1e-9);
        assert!((triangular.at_normal(0.0) - (1.0 - 0.5f64.sqrt())).abs() < 1e-12);
        assert!((pert.at_normal(0.0) - 2.0).abs() < 1e-9, "symmetric PERT");
        // Increasing in z, and inside the support.
        for d in [&normal, &lognormal, &triangular, &pert] {
            let xs: Vec<f64> = (-30..=30).map(|k| d.at_normal(k as f64 / 10.0)).collect();
            assert!(xs.windows(2).all(|w| w[0] < w[1]), "{d:?}: {xs:?}");
        }
        assert!(pert.at_normal(-3.0) > 1.0 && pert.at_normal(3.0) < 3.0);
        // The normal and log-normal sample their value at the standard normal they draw.
        for d in [&normal, &lognormal] {
            let mut a = sub_stream(7, 1);
            let mut b = sub_stream(7, 1);
            for _ in 0..100 {
                let z: f64 = StandardNormal.sample(&mut b);
                assert_eq!(d.sample(&mut a).to_bits(), d.at_normal(z).to_bits());
            }
        }
        // A degenerate distribution is its one value.
        let point = Dist::Triangular {
            min: 4.0,
            mode: 4.0,
            max: 4.0,
        };
        assert_eq!(point.at_normal(2.0), 4.0);
    }

    #[test]
    fn prepared_powers_equal_powi() {
        let mut bits = crate::money::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = || (bits() >> 11) as f64 / (1u64 << 53) as f64;
        let mut ps = vec![0.0, 1e-9, 0.25, 0.5, 0.5 + 1e-12, 0.75, 1.0 - 1e-9, 1.0];
        ps.extend((0..300).map(|_| next()));
        for p in ps {
            for b in [
                BinomialP::new(p),
                BinomialP::with_table(p, 40),
                BinomialP::with_table(p, 1),
                BinomialP::with_table(p, 1_000),
            ] {
                for n in 0..256u32 {
                    assert_eq!(
                        b.q_pow(n).to_bits(),
                        b.q.powi(n as i32).to_bits(),
                        "q = {}, n = {n}, table to {}",
                        b.q,
                        b.pows_n
                    );
                }
            }
        }
    }
}
