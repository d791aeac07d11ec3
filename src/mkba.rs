//! The municipality's business case: the social cost-benefit analysis (MKBA, docs/domain.md
//! section 6) and the facts a scenario declares for the feasibility check (section 7).
//!
//! # The computation, per outcome
//!
//! - `IND`: the number of cases achieving the indicator, from the settlement ([`cases`]): an
//!   `increase` outcome's achieved units, a `decrease` outcome's improvement on its baseline
//!   (benefit days saved); the mean over trials for the expected case, the trial's own count
//!   per trial, or a settlement of reported actuals;
//! - `EUR/IND`: the value of one case, the sum of its value to each beneficiary;
//! - `OUTCOME = EUR/IND x IND`;
//! - corrections, each a percentage of `OUTCOME`: deadweight `DW`, attribution `AT`,
//!   substitution `SE`; `IMPACT = OUTCOME - (DW + AT + SE)`;
//! - effect over time: the share of `IMPACT` realised in the short term (years 1-3, "< 3
//!   years"), the medium term (years 4-5, "3-5 years") and the long term (years 6 to the
//!   horizon, "> 5 years") is spread evenly over the years of its term; the effect of year `t`
//!   is reduced by the drop-off, `(1 - d)^(t - 1)`; so the undiscounted effect of year `t` is
//!   `IMPACT x share(term of t) / years(term of t) x (1 - d)^(t - 1)`;
//! - present value at the MKBA's real discount rate `r` (default 2.25%, the Dutch government's
//!   standard rate since 2021), end-of-year convention counted from the contract's start:
//!   `PV = sum over t of effect(t) / (1 + r)^t`.
//!
//! Every figure is computed exactly in decimals and rounded once to the cent, half away from
//! zero (a total is the rounded exact sum, not the sum of rounded lines). Each beneficiary's
//! present value uses its own value per case with the same corrections and profile.

use crate::contract::{Contract, PartyId};
use crate::money::{Money, Ratio};
use rust_decimal::Decimal;
use serde::Serialize;

/// What an MKBA line counts as its IND, the number of cases (`ind` in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ind {
    /// The units achieved (the default for an `increase` outcome): the deadweight then
    /// stands for the cases that would have happened anyway.
    Achieved,
    /// The improvement on the outcome's baseline, at least 0: `achieved - baseline` for an
    /// `increase` outcome, `baseline - achieved` (benefit days saved) for a `decrease` one
    /// (its only choice). A trial in which the programme does no better than the baseline
    /// then saves nothing.
    Improvement,
}

impl Ind {
    /// The default of an outcome without an `ind`.
    pub fn default_for(o: &crate::contract::Outcome) -> Ind {
        match o.direction {
            crate::contract::Direction::Increase => Ind::Achieved,
            crate::contract::Direction::Decrease => Ind::Improvement,
        }
    }
}

/// IND of an outcome from its settlement result, counted as `ind` says ([`Ind`]).
pub fn cases(
    o: &crate::contract::Outcome,
    r: &crate::settlement::OutcomeResult,
    ind: Ind,
) -> crate::money::Qty {
    use crate::contract::Direction;
    match (ind, o.direction) {
        (Ind::Achieved, _) => r.achieved,
        (Ind::Improvement, Direction::Increase) => {
            (r.achieved - r.baseline).max(crate::money::Qty::ZERO)
        }
        (Ind::Improvement, Direction::Decrease) => {
            (r.baseline - r.achieved).max(crate::money::Qty::ZERO)
        }
    }
}

/// The default real discount rate: 2.25% (Dutch government standard since 1 January 2021).
pub const DEFAULT_DISCOUNT_RATE: Decimal = Decimal::from_parts(225, 0, 0, false, 4);
/// The default horizon in years.
pub const DEFAULT_HORIZON_YEARS: u16 = 10;
/// Last year of the short term ("< 3 years").
pub const SHORT_LAST_YEAR: u16 = 3;
/// Last year of the medium term ("3-5 years").
pub const MEDIUM_LAST_YEAR: u16 = 5;

/// Someone who saves or gains when an outcome is achieved.
#[derive(Clone, Debug, Serialize)]
pub struct Beneficiary {
    /// Identifier (a contract party's id, or one declared under `mkba.beneficiaries`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The contract party, when the beneficiary is one.
    pub party: Option<PartyId>,
}

/// One outcome's line of the MKBA.
#[derive(Clone, Debug, Serialize)]
pub struct MkbaOutcome {
    /// Index of the contract outcome.
    pub outcome: usize,
    /// Value of one case to each beneficiary (index into [`Mkba::beneficiaries`], EUR).
    pub values: Vec<(usize, Money)>,
    /// Deadweight (share of OUTCOME that would have happened anyway).
    pub deadweight: Ratio,
    /// Attribution (share caused by others' earlier interventions).
    pub attribution: Ratio,
    /// Substitution / displacement (share gained at the expense of people outside).
    pub substitution: Ratio,
    /// Share of the effect realised in the short, medium and long term (adds up to 1).
    pub realisation: [Ratio; 3],
    /// Yearly drop-off of the effect after the first year.
    pub drop_off: Ratio,
    /// What IND counts: achieved units or the improvement on the baseline.
    pub ind: Ind,
    /// The present value of one case's effect is multiplied by this: 1 when the effect
    /// years count from the contract's start (`effect_from = "contract-start"`); with
    /// `effect_from = "measurement"`, the discount factor at the MKBA's rate from the start to
    /// the outcome's measurement, averaged over its measurement periods and over the cohorts
    /// weighted by their targets ([`measurement_timing`]).
    pub timing: Decimal,
}

impl EffectFrom {
    /// "from the contract's start" or "from each case's measurement", for people.
    pub fn words(self) -> &'static str {
        match self {
            EffectFrom::ContractStart => "from the contract's start",
            EffectFrom::Measurement => "from each case's measurement",
        }
    }
}

/// Where an outcome's effect years start (`[mkba] effect_from`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectFrom {
    /// Year 1 is the contract's first year for every case (the default).
    #[default]
    ContractStart,
    /// Year 1 of a case starts when it is measured.
    Measurement,
}

/// The timing factor of outcome `o` whose effect starts at measurement: the mean, over its
/// measurement periods `m` and over the cohorts weighted by their targets, of
/// `1 / (1 + r_p)^m`, with `r_p` the period rate of the annual `rate` (compounded). Cohorts
/// count equally when every target is 0.
pub fn measurement_timing(c: &Contract, o: usize, rate: Ratio) -> Decimal {
    let out = &c.outcomes[o];
    let inv = period_discounts(c, rate);
    let total: u64 = c.cohorts.iter().map(|k| k.size as u64).sum();
    let mut acc = Decimal::ZERO;
    for k in &c.cohorts {
        let w = if total == 0 {
            Decimal::ONE / Decimal::from(c.cohorts.len().max(1))
        } else {
            Decimal::from(k.size) / Decimal::from(total)
        };
        let first = out.first_measure(k.enrol_period);
        let n = out.measure_periods.max(1);
        let mean: Decimal = (0..n)
            .map(|j| inv.get((first + j) as usize).copied().unwrap_or_default())
            .sum::<Decimal>()
            / Decimal::from(n);
        acc += w * mean;
    }
    acc
}

/// `1 / (1 + r_p)^m` for every period `m` of the contract (index 0 is 1), with `r_p` the
/// period rate of the annual `rate` (compounded); by division, as a power could pass
/// Decimal's range.
fn period_discounts(c: &Contract, rate: Ratio) -> Vec<Decimal> {
    let rp = crate::money::compound_period_rate(rate, c.period_length.per_year()).to_decimal();
    let d = Decimal::ONE + rp;
    let mut inv = vec![Decimal::ONE; c.periods as usize + 1];
    for m in 1..inv.len() {
        inv[m] = inv[m - 1] / d;
    }
    inv
}

/// The timing factor of outcome `o` whose effect starts at measurement, from reported
/// actuals settled through period `last`: the mean of `1 / (1 + r_p)^m` over the cells the
/// actuals report, weighted by each cell's IND as `ind` counts it (its cases achieved, or its
/// improvement on its baseline, at least 0), so each case is discounted from the period it
/// was measured in. `None` when no cell has any IND (the planned timing then stands), and for
/// actuals made for another contract or an outcome it does not have.
pub fn actual_timing(
    c: &Contract,
    act: &crate::actuals::Actuals,
    o: usize,
    ind: Ind,
    rate: Ratio,
    last: u16,
) -> Option<Decimal> {
    use crate::contract::{Baseline, Direction};
    use crate::money::Qty;
    if !act.fits(c) {
        return None;
    }
    let out = c.outcomes.get(o)?;
    let inv = period_discounts(c, rate);
    let (mut weighted, mut total) = (Decimal::ZERO, Decimal::ZERO);
    for (k, coh) in c.cohorts.iter().enumerate() {
        let enrolled = act.enrolled[k] as i64;
        let to = out.last_measure(coh.enrol_period).min(last).min(c.periods);
        for p in out.first_measure(coh.enrol_period)..=to {
            let units = act.units_in(act.cell(o, k, p as usize));
            let base = || match &out.baseline {
                Baseline::None => Qty::ZERO,
                Baseline::Rate(r) => crate::settlement::rate_baseline(enrolled, *r),
                Baseline::Forecast(v) => act
                    .baseline_in(act.cell(o, k, p as usize))
                    .or(v[k])
                    .unwrap_or_default(),
                Baseline::ControlGroup => act
                    .baseline_in(act.cell(o, k, p as usize))
                    .map_or(Qty::ZERO, |r| {
                        Qty::from_int(enrolled).mul_ratio(crate::actuals::rate_of(r))
                    }),
            };
            let w = match (ind, out.direction) {
                (Ind::Achieved, _) => units,
                (Ind::Improvement, Direction::Increase) => units - base(),
                (Ind::Improvement, Direction::Decrease) => base() - units,
            }
            .max(Qty::ZERO)
            .to_decimal();
            weighted += w * inv[p as usize];
            total += w;
        }
    }
    (!total.is_zero()).then(|| weighted / total)
}

/// The validated `[mkba]` block: read through its methods (a contract's, from
/// [`Contract::mkba`]), so every index in it stays in range.
#[derive(Clone, Debug, Serialize)]
pub struct Mkba {
    /// Real discount rate a year.
    pub(crate) discount_rate: Ratio,
    /// Where an outcome's effect years start.
    pub(crate) effect_from: EffectFrom,
    /// Horizon in years (1 to 50).
    pub(crate) horizon_years: u16,
    /// Everyone with a value in some outcome: contract parties in contract order, then those
    /// declared outside the contract.
    pub(crate) beneficiaries: Vec<Beneficiary>,
    /// Lines, in the contract's outcome order.
    pub(crate) outcomes: Vec<MkbaOutcome>,
}

impl Mkba {
    /// Real discount rate a year.
    pub fn discount_rate(&self) -> Ratio {
        self.discount_rate
    }

    /// Where an outcome's effect years start.
    pub fn effect_from(&self) -> EffectFrom {
        self.effect_from
    }

    /// Horizon in years (1 to 50).
    pub fn horizon_years(&self) -> u16 {
        self.horizon_years
    }

    /// Everyone with a value in some outcome: contract parties in contract order, then those
    /// declared outside the contract.
    pub fn beneficiaries(&self) -> &[Beneficiary] {
        &self.beneficiaries
    }

    /// Lines, in the contract's outcome order.
    pub fn outcomes(&self) -> &[MkbaOutcome] {
        &self.outcomes
    }

    /// This MKBA with each outcome's effect timed by reported actuals settled through period
    /// `last` ([`actual_timing`]), where its effects count from measurement
    /// (`effect_from = "measurement"`); as it is otherwise, and for an outcome with no IND
    /// reported (its planned timing stands).
    pub fn timed_by(&self, c: &Contract, act: &crate::actuals::Actuals, last: u16) -> Mkba {
        let mut timed = self.clone();
        if self.effect_from == EffectFrom::Measurement {
            for line in &mut timed.outcomes {
                let ind = self.ind(c, line.outcome);
                if let Some(t) = actual_timing(c, act, line.outcome, ind, self.discount_rate, last)
                {
                    line.timing = t;
                }
            }
        }
        timed
    }

    /// What outcome `o`'s IND counts: its line's `ind`, or the default for its direction.
    pub fn ind(&self, c: &Contract, o: usize) -> Ind {
        self.outcomes
            .iter()
            .find(|l| l.outcome == o)
            .map_or_else(|| Ind::default_for(&c.outcomes[o]), |l| l.ind)
    }
}

/// What the scenario declares about one outcome's measurement.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OutcomeFacts {
    /// How the outcome is measured (source, assessor).
    pub measurement: Option<String>,
    /// The evidence that the intervention causes it.
    pub evidence: Option<String>,
}

/// What an investor declares about a tranche.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InvestorFacts {
    /// The investor has committed (letter of intent or better).
    pub committed: Option<bool>,
    /// The annual IRR the investor needs.
    pub hurdle_irr: Option<Ratio>,
}

/// The validated `[facts]` block (absent facts are `None`, which the decision tree treats
/// as "not shown").
#[derive(Clone, Debug, Default, Serialize)]
pub struct Facts {
    /// The municipality guarantees sufficient participant inflow.
    pub inflow_guaranteed: Option<bool>,
    /// The municipality guarantees data delivery for the measurement.
    pub data_delivery_guaranteed: Option<bool>,
    /// Preparation costs borne by each contract party (indexed by party).
    pub preparation_costs: Vec<Money>,
    /// Transaction costs over the contract's life (legal, assessor) per party.
    pub transaction_costs: Vec<Money>,
    /// Per contract outcome.
    pub outcomes: Vec<OutcomeFacts>,
    /// Per tranche.
    pub tranches: Vec<InvestorFacts>,
    /// Threshold changes for the decision tree's nodes (`[feasibility] thresholds`).
    pub thresholds: Vec<(String, f64)>,
}

impl Facts {
    /// Preparation plus transaction costs of party `p`.
    pub fn costs_of(&self, p: PartyId) -> Money {
        Money(
            self.preparation_costs.get(p).map_or(0, |m| m.0)
                + self.transaction_costs.get(p).map_or(0, |m| m.0),
        )
    }

    /// All preparation and transaction costs.
    pub fn total_costs(&self) -> Money {
        Money(
            self.preparation_costs.iter().map(|m| m.0).sum::<i64>()
                + self.transaction_costs.iter().map(|m| m.0).sum::<i64>(),
        )
    }
}

/// The term (0 short, 1 medium, 2 long) of year `t` (1-based).
pub fn term_of_year(t: u16) -> usize {
    if t <= SHORT_LAST_YEAR {
        0
    } else if t <= MEDIUM_LAST_YEAR {
        1
    } else {
        2
    }
}

/// Number of years of each term within `horizon`.
pub fn term_years(horizon: u16) -> [u16; 3] {
    let mut n = [0u16; 3];
    for t in 1..=horizon {
        n[term_of_year(t)] += 1;
    }
    n
}

fn pow(x: Decimal, n: u16) -> Decimal {
    let mut acc = Decimal::ONE;
    for _ in 0..n {
        acc *= x;
    }
    acc
}

impl MkbaOutcome {
    /// `DW + AT + SE` as a share of OUTCOME.
    pub fn correction(&self) -> Decimal {
        self.deadweight.to_decimal()
            + self.attribution.to_decimal()
            + self.substitution.to_decimal()
    }

    /// Value of one case (EUR/IND): the sum over beneficiaries.
    /// Summed in 128 bits and saturating (the scenario refuses a sum past
    /// [`crate::settlement::LIMIT`], so only an `Mkba` built by hand can reach the bound).
    pub fn value_per_case(&self) -> Money {
        Money(crate::money::saturate(
            self.values.iter().map(|(_, m)| m.0 as i128).sum(),
        ))
    }

    /// The share of IMPACT realised in year `t` (1-based), after drop-off, undiscounted.
    pub fn year_share(&self, t: u16, horizon: u16) -> Decimal {
        let n = term_years(horizon);
        let k = term_of_year(t);
        if t == 0 || t > horizon || n[k] == 0 {
            return Decimal::ZERO;
        }
        let keep = Decimal::ONE - self.drop_off.to_decimal();
        self.realisation[k].to_decimal() / Decimal::from(n[k]) * pow(keep, t - 1)
    }

    /// Undiscounted share of IMPACT realised in each term, after drop-off.
    pub fn term_shares(&self, horizon: u16) -> [Decimal; 3] {
        let mut s = [Decimal::ZERO; 3];
        for t in 1..=horizon {
            s[term_of_year(t)] += self.year_share(t, horizon);
        }
        s
    }

    /// Present value of one euro of IMPACT at `rate` a year over `horizon` years.
    pub fn pv_factor(&self, rate: Decimal, horizon: u16) -> Decimal {
        let d = Decimal::ONE + rate;
        (1..=horizon)
            .map(|t| self.year_share(t, horizon) / pow(d, t))
            .sum()
    }
}

/// The years of the three terms within `horizon`, for people: `years 1-3 (< 3j), 4-5 (3-5j),
/// 6-10 (> 5j)`; a term past the horizon is left out (`year 1 (< 3j)` for one year).
pub fn term_years_words(horizon: u16) -> String {
    let span = |a: u16, b: u16| {
        if a == b {
            format!("{a}")
        } else {
            format!("{a}-{b}")
        }
    };
    let mut parts = vec![format!("{} (< 3j)", span(1, horizon.min(3)))];
    if horizon >= 4 {
        parts.push(format!("{} (3-5j)", span(4, horizon.min(5))));
    }
    if horizon >= 6 {
        parts.push(format!("{} (> 5j)", span(6, horizon)));
    }
    format!(
        "{} {}",
        if horizon == 1 { "year" } else { "years" },
        parts.join(", ")
    )
}

/// `1 year`, `10 years`.
pub fn years(n: u16) -> String {
    if n == 1 {
        "1 year".into()
    } else {
        format!("{n} years")
    }
}

fn cents(d: Decimal) -> Money {
    Money::from_decimal(
        d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
    )
    .unwrap_or(Money(i64::MAX))
}

/// One line of the MKBA table (amounts in currency units, rounded once to the cent).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MkbaLine {
    /// Outcome id.
    pub outcome: String,
    /// Outcome name.
    pub name: String,
    /// IND: number of cases (the total: the lines' IND added up, of different units where
    /// the outcomes count different things; the table leaves it blank).
    pub ind: Decimal,
    /// EUR/IND: value of one case (left out of the total).
    #[serde(skip_serializing_if = "money_is_zero")]
    pub value_per_case: Money,
    /// OUTCOME = EUR/IND x IND.
    pub outcome_value: Money,
    /// DW.
    pub deadweight: Money,
    /// AT.
    pub attribution: Money,
    /// SE.
    pub substitution: Money,
    /// IMPACT = OUTCOME - (DW + AT + SE).
    pub impact: Money,
    /// Effect realised in years 1-3, 4-5 and 6 to the horizon, after drop-off, undiscounted.
    pub effect_over_time: [Money; 3],
    /// Present value of the effect.
    pub present_value: Money,
    /// Present value to each beneficiary (in [`MkbaTable::beneficiaries`] order).
    pub per_beneficiary: Vec<Money>,
}

/// The MKBA for given case counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MkbaTable {
    /// Discount rate a year.
    pub discount_rate: Decimal,
    /// Where the effect years start.
    pub effect_from: EffectFrom,
    /// Horizon in years.
    pub horizon_years: u16,
    /// Beneficiary ids and names.
    pub beneficiaries: Vec<(String, String)>,
    /// One line per outcome with a value.
    pub lines: Vec<MkbaLine>,
    /// Totals (IND summed; no EUR/IND).
    pub total: MkbaLine,
}

fn money_is_zero(m: &Money) -> bool {
    m.0 == 0
}

impl Mkba {
    /// Evaluates the MKBA exactly for `ind[o]` cases of each contract outcome `o`.
    ///
    /// Every operation saturates at the ends of `Decimal` (about 7.9e28): an amount that far
    /// out clamps to the largest cents in `cents`, which [`MkbaTable::too_large`] reports,
    /// instead of panicking with "Addition overflowed".
    pub fn table(&self, c: &Contract, ind: &[Decimal]) -> MkbaTable {
        let r = self.discount_rate.to_decimal();
        let h = self.horizon_years;
        let nb = self.beneficiaries.len();
        let mut tot = [Decimal::ZERO; 9];
        let mut tot_ind = Decimal::ZERO;
        let mut tot_b = vec![Decimal::ZERO; nb];
        let mut lines = Vec::new();
        for mo in &self.outcomes {
            let n = ind.get(mo.outcome).copied().unwrap_or_default();
            let value = mo.value_per_case().to_decimal();
            let outcome = value.saturating_mul(n);
            let dw = outcome.saturating_mul(mo.deadweight.to_decimal());
            let at = outcome.saturating_mul(mo.attribution.to_decimal());
            let se = outcome.saturating_mul(mo.substitution.to_decimal());
            let impact = outcome
                .saturating_sub(dw)
                .saturating_sub(at)
                .saturating_sub(se);
            let ts = mo.term_shares(h);
            let f = mo.pv_factor(r, h) * mo.timing;
            let pv = impact.saturating_mul(f);
            let keep = Decimal::ONE - mo.correction();
            let mut per_b = vec![Decimal::ZERO; nb];
            for &(b, m) in &mo.values {
                per_b[b] = m
                    .to_decimal()
                    .saturating_mul(n)
                    .saturating_mul(keep)
                    .saturating_mul(f);
            }
            let exact = [
                outcome,
                dw,
                at,
                se,
                impact,
                impact.saturating_mul(ts[0]),
                impact.saturating_mul(ts[1]),
                impact.saturating_mul(ts[2]),
                pv,
            ];
            for (t, x) in tot.iter_mut().zip(exact) {
                *t = t.saturating_add(x);
            }
            tot_ind = tot_ind.saturating_add(n);
            for (t, x) in tot_b.iter_mut().zip(&per_b) {
                *t = t.saturating_add(*x);
            }
            let o = &c.outcomes[mo.outcome];
            lines.push(line(&o.id, &o.name, n, mo.value_per_case(), &exact, &per_b));
        }
        MkbaTable {
            discount_rate: r,
            effect_from: self.effect_from,
            horizon_years: h,
            beneficiaries: self
                .beneficiaries
                .iter()
                .map(|b| (b.id.clone(), b.name.clone()))
                .collect(),
            lines,
            total: line("total", "Total", tot_ind, Money::ZERO, &tot, &tot_b),
        }
    }

    /// Present value, in cents, of one case (one unit of IND, see [`cases`]) of each contract
    /// outcome to each beneficiary: `[outcome][beneficiary]` (zero where the outcome has no
    /// MKBA line). Used per Monte Carlo trial, where `savings[b] = sum over o of cases[o] x
    /// factor[o][b]`.
    pub fn pv_per_case(&self, n_outcomes: usize) -> Vec<Vec<f64>> {
        let r = self.discount_rate.to_decimal();
        let mut out = vec![vec![0.0; self.beneficiaries.len()]; n_outcomes];
        for mo in &self.outcomes {
            let f =
                mo.pv_factor(r, self.horizon_years) * mo.timing * (Decimal::ONE - mo.correction());
            for &(b, m) in &mo.values {
                let x = Decimal::from(m.0) * f;
                out[mo.outcome][b] = x.to_string().parse().unwrap_or(0.0);
            }
        }
        out
    }
}

fn line(
    id: &str,
    name: &str,
    n: Decimal,
    value: Money,
    exact: &[Decimal; 9],
    per_b: &[Decimal],
) -> MkbaLine {
    MkbaLine {
        outcome: id.to_string(),
        name: name.to_string(),
        ind: n,
        value_per_case: value,
        outcome_value: cents(exact[0]),
        deadweight: cents(exact[1]),
        attribution: cents(exact[2]),
        substitution: cents(exact[3]),
        impact: cents(exact[4]),
        effect_over_time: [cents(exact[5]), cents(exact[6]), cents(exact[7])],
        present_value: cents(exact[8]),
        per_beneficiary: per_b.iter().map(|d| cents(*d)).collect(),
    }
}

/// The business case of one payer (or of all payers together) over the trials, in currency
/// units; present values at the MKBA's discount rate from the contract's start.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PayerCase {
    /// Party id (`all-payers` for the total).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Present value of the payer's realised savings (its MKBA impact).
    pub savings: crate::montecarlo::MeanSe,
    /// Present value of what it paid net of what it received (outcome and fixed payments,
    /// guarantee calls, compensation under an inflow guarantee, returned remainders).
    pub payments: crate::montecarlo::MeanSe,
    /// Its preparation and transaction costs (declared facts, at the start).
    pub costs: f64,
    /// Net: savings - payments - costs.
    pub net: crate::montecarlo::Summary,
    /// Probability that it pays more than it saves (net < 0).
    pub prob_pays_more_than_saves: f64,
    /// Probability that its savings exceed payments plus costs (net > 0).
    pub prob_saves_more: f64,
}

/// One beneficiary's realised savings over the trials.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct BeneficiarySavings {
    /// Beneficiary id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether it is a party to the contract.
    pub in_contract: bool,
    /// Present value of its savings.
    pub savings: crate::montecarlo::MeanSe,
}

/// The MKBA per trial, aggregated (part of the simulation results when the scenario has an
/// `[mkba]` block).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct BusinessCaseResults {
    /// The MKBA's discount rate a year.
    pub discount_rate: f64,
    /// Horizon in years.
    pub horizon_years: u16,
    /// Where the effect years start.
    #[serde(default)]
    pub effect_from: EffectFrom,
    /// Mean cases (IND) per contract outcome, in contract order.
    pub cases: Vec<f64>,
    /// Present value of the impact to all beneficiaries.
    pub total_impact: crate::montecarlo::Summary,
    /// Per beneficiary.
    pub beneficiaries: Vec<BeneficiarySavings>,
    /// Per payer (parties with the payer role, in contract order).
    pub payers: Vec<PayerCase>,
    /// All payers together (shown beside the decision tree's per-payer business-case test;
    /// the test itself where a tree's node says `payers = "pooled"`).
    pub all_payers: PayerCase,
}

#[derive(Clone, Debug)]
struct PayerAcc {
    savings: crate::stats::Moments,
    payments: crate::stats::Moments,
    net: crate::stats::Moments,
    net_hist: crate::stats::Histogram,
    neg_n: u64,
    pos_n: u64,
}

impl PayerAcc {
    fn new() -> Self {
        PayerAcc {
            savings: Default::default(),
            payments: Default::default(),
            net: Default::default(),
            net_hist: crate::montecarlo::summary_histogram(),
            neg_n: 0,
            pos_n: 0,
        }
    }
    fn add(&mut self, savings: i64, payments: i64, costs: i64) {
        let net = savings - payments - costs;
        self.savings.add(savings);
        self.payments.add(payments);
        self.net.add(net);
        self.net_hist.add(net);
        self.neg_n += (net < 0) as u64;
        self.pos_n += (net > 0) as u64;
    }
    fn merge(&mut self, o: &PayerAcc) {
        self.savings.merge(&o.savings);
        self.payments.merge(&o.payments);
        self.net.merge(&o.net);
        self.net_hist.merge(&o.net_hist);
        self.neg_n += o.neg_n;
        self.pos_n += o.pos_n;
    }
    fn finish(&self, id: &str, name: &str, costs: i64) -> PayerCase {
        let n = self.net.n.max(1) as f64;
        PayerCase {
            id: id.to_string(),
            name: name.to_string(),
            savings: crate::montecarlo::mean_se(&self.savings),
            payments: crate::montecarlo::mean_se(&self.payments),
            costs: costs as f64 / 100.0,
            net: crate::montecarlo::summary(&self.net, &self.net_hist, 100.0),
            prob_pays_more_than_saves: self.neg_n as f64 / n,
            prob_saves_more: self.pos_n as f64 / n,
        }
    }
}

/// One payer's business case from a single settlement (reported actuals), in the currency's
/// cents: what the Monte Carlo engine computes per trial, for the real contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettledCase {
    /// Party id (`all-payers` for the total).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Present value of its share of the MKBA's impact (the table's column for it).
    pub savings: Money,
    /// Present value, at the MKBA's rate, of what it paid net of what it received.
    pub payments: Money,
    /// Its preparation and transaction costs (declared facts).
    pub costs: Money,
    /// Savings - payments - costs.
    pub net: Money,
}

impl Mkba {
    /// The payers' business cases of a settled contract: `table` is this MKBA evaluated at
    /// the settlement's IND, `flows[p]` party `p`'s net cash flow by period in cents (index 0
    /// unused), as the settlement's ledger gives it. Payments are discounted per period at the
    /// MKBA's rate and rounded to the cent, as in a Monte Carlo trial. Returns each payer's
    /// case and their total.
    pub fn settled_cases(
        &self,
        c: &Contract,
        table: &MkbaTable,
        flows: &[Vec<i64>],
    ) -> (Vec<SettledCase>, SettledCase) {
        let discount = crate::stats::discount_factors(
            crate::money::compound_period_rate(self.discount_rate, c.period_length.per_year())
                .to_f64(),
            c.periods as usize,
        );
        let cases: Vec<SettledCase> = c
            .payers()
            .map(|p| {
                let savings = self
                    .beneficiaries
                    .iter()
                    .position(|b| b.party == Some(p))
                    .map_or(Money::ZERO, |b| table.total.per_beneficiary[b]);
                let payments = Money(-crate::stats::round_to_i64(crate::stats::npv_with(
                    &flows[p], &discount,
                )));
                let costs = c.facts.costs_of(p);
                SettledCase {
                    id: c.parties[p].id.clone(),
                    name: c.parties[p].name.clone(),
                    savings,
                    payments,
                    costs,
                    net: savings - payments - costs,
                }
            })
            .collect();
        let sum = |f: fn(&SettledCase) -> Money| cases.iter().map(f).sum::<Money>();
        let all = SettledCase {
            id: "all-payers".into(),
            name: "All payers".into(),
            savings: sum(|x| x.savings),
            payments: sum(|x| x.payments),
            costs: sum(|x| x.costs),
            net: sum(|x| x.net),
        };
        (cases, all)
    }
}

/// Per-trial MKBA accumulator used by the Monte Carlo engine (exact integer sums of amounts
/// rounded to the cent per trial, so results do not depend on the thread count).
#[derive(Clone, Debug)]
pub(crate) struct BusinessAcc {
    /// `[outcome][beneficiary]` PV per case (unit of IND), cents.
    pvc: Vec<Vec<f64>>,
    /// Payers: (party, beneficiary index, costs in cents).
    payers: Vec<(PartyId, Option<usize>, i64)>,
    /// Discount factors per period at the MKBA's rate.
    discount: Vec<f64>,
    /// Whether `discount` is the contract's (the MKBA's rate is the contract's discount rate),
    /// so the NPV of a party's flows the engine computed already is the one needed here.
    contract_discount: bool,
    savings: Vec<i64>,
    scratch: Vec<f64>,
    cases: Vec<crate::stats::Moments>,
    beneficiaries: Vec<crate::stats::Moments>,
    impact: crate::stats::Moments,
    impact_hist: crate::stats::Histogram,
    payer: Vec<PayerAcc>,
    all: PayerAcc,
    /// This trial's (savings, net) per contract party, cents.
    per_party: Vec<(i64, i64)>,
    /// What each outcome's IND counts.
    ind: Vec<Ind>,
}

impl BusinessAcc {
    /// `None` when the contract has no MKBA.
    pub(crate) fn new(c: &Contract) -> Option<Self> {
        let m = c.mkba.as_ref()?;
        let payers: Vec<(PartyId, Option<usize>, i64)> = c
            .payers()
            .map(|p| {
                (
                    p,
                    m.beneficiaries.iter().position(|b| b.party == Some(p)),
                    c.facts.costs_of(p).0,
                )
            })
            .collect();
        let factors = |rate| {
            crate::stats::discount_factors(
                crate::money::compound_period_rate(rate, c.period_length.per_year()).to_f64(),
                c.periods as usize,
            )
        };
        let discount = factors(m.discount_rate);
        Some(BusinessAcc {
            pvc: m.pv_per_case(c.outcomes.len()),
            contract_discount: discount == factors(c.discount_rate),
            discount,
            savings: vec![0; m.beneficiaries.len()],
            scratch: vec![0.0; m.beneficiaries.len()],
            cases: vec![Default::default(); c.outcomes.len()],
            beneficiaries: vec![Default::default(); m.beneficiaries.len()],
            impact: Default::default(),
            impact_hist: crate::montecarlo::summary_histogram(),
            payer: payers.iter().map(|_| PayerAcc::new()).collect(),
            all: PayerAcc::new(),
            per_party: vec![(0, 0); c.parties.len()],
            payers,
            ind: (0..c.outcomes.len()).map(|o| m.ind(c, o)).collect(),
        })
    }

    /// Adds one trial: its outcomes' settlement results (IND per outcome from them, as
    /// [`cases`] counts it: achieved units or the improvement on the baseline), each party's
    /// net cash flow by period, and the NPV of those flows at the contract's discount rate per
    /// party (used where the MKBA's rate is the same; needed for the payers). `delays` is each
    /// outcome's delay in periods in a delayed trial (empty on time): its savings come that
    /// much later and are discounted over it at the MKBA's rate. `false` when a beneficiary's
    /// savings or their total pass [`crate::settlement::LIMIT`]: the trial's business case
    /// cannot be held in cents (the caller fails the run, as for a settlement error).
    #[must_use]
    pub(crate) fn add<'a>(
        &mut self,
        c: &Contract,
        outcomes: &[crate::settlement::OutcomeResult],
        party_flows: impl Fn(PartyId) -> &'a [i64],
        contract_npv: &[f64],
        delays: &[u16],
    ) -> bool {
        let sav = &mut self.scratch;
        sav.iter_mut().for_each(|x| *x = 0.0);
        for (o, r) in outcomes.iter().enumerate() {
            let units = cases(&c.outcomes[o], r, self.ind[o]).0;
            self.cases[o].add(units);
            if units == 0 {
                continue;
            }
            let mut u = units as f64 / 1e6;
            if let Some(&d) = delays.get(o)
                && d > 0
            {
                // (A delay keeps every measurement in the term, so within the table.)
                u *= self.discount.get(d as usize).copied().unwrap_or(0.0);
            }
            for (s, f) in sav.iter_mut().zip(&self.pvc[o]) {
                *s += u * f;
            }
        }
        let mut impact = 0i64;
        let limit = crate::settlement::LIMIT.0;
        for (b, s) in self.scratch.iter().enumerate() {
            let x = crate::stats::round_to_i64(*s);
            if x.unsigned_abs() >= limit as u64 {
                return false;
            }
            self.savings[b] = x;
            self.beneficiaries[b].add(x);
            // Within `i64`: fewer than 900 beneficiaries of at most `LIMIT` each add up there.
            impact = impact.saturating_add(x);
        }
        if impact.unsigned_abs() >= limit as u64 {
            return false;
        }
        self.impact.add(impact);
        self.impact_hist.add(impact);
        let (mut ts, mut tp, mut tc) = (0i64, 0i64, 0i64);
        for (k, &(p, b, costs)) in self.payers.iter().enumerate() {
            let s = b.map_or(0, |b| self.savings[b]);
            let npv = if self.contract_discount {
                contract_npv[p]
            } else {
                crate::stats::npv_with(party_flows(p), &self.discount)
            };
            let pay = -crate::stats::round_to_i64(npv);
            self.payer[k].add(s, pay, costs);
            self.per_party[p] = (s, s - pay - costs);
            ts += s;
            tp += pay;
            tc += costs;
        }
        self.all.add(ts, tp, tc);
        true
    }

    /// Every histogram, in a fixed order (see `montecarlo::Acc::histograms_mut`).
    pub(crate) fn histograms_mut(&mut self) -> impl Iterator<Item = &mut crate::stats::Histogram> {
        std::iter::once(&mut self.impact_hist)
            .chain(self.payer.iter_mut().map(|p| &mut p.net_hist))
            .chain(std::iter::once(&mut self.all.net_hist))
    }

    /// The last trial's (savings, net) per contract party (zero for parties that do not pay).
    pub(crate) fn per_party(&self) -> &[(i64, i64)] {
        &self.per_party
    }

    pub(crate) fn merge(&mut self, o: &BusinessAcc) {
        for (a, b) in self.cases.iter_mut().zip(&o.cases) {
            a.merge(b);
        }
        for (a, b) in self.beneficiaries.iter_mut().zip(&o.beneficiaries) {
            a.merge(b);
        }
        self.impact.merge(&o.impact);
        self.impact_hist.merge(&o.impact_hist);
        for (a, b) in self.payer.iter_mut().zip(&o.payer) {
            a.merge(b);
        }
        self.all.merge(&o.all);
    }

    pub(crate) fn finish(&self, c: &Contract) -> Option<BusinessCaseResults> {
        let m = c.mkba.as_ref()?;
        let total_costs: i64 = self.payers.iter().map(|x| x.2).sum();
        Some(BusinessCaseResults {
            discount_rate: m.discount_rate.to_f64(),
            horizon_years: m.horizon_years,
            effect_from: m.effect_from,
            cases: self.cases.iter().map(|x| x.mean() / 1e6).collect(),
            total_impact: crate::montecarlo::summary(&self.impact, &self.impact_hist, 100.0),
            beneficiaries: m
                .beneficiaries
                .iter()
                .zip(&self.beneficiaries)
                .map(|(b, s)| BeneficiarySavings {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    in_contract: b.party.is_some(),
                    savings: crate::montecarlo::mean_se(s),
                })
                .collect(),
            payers: self
                .payers
                .iter()
                .zip(&self.payer)
                .map(|(&(p, _, costs), a)| a.finish(&c.parties[p].id, &c.parties[p].name, costs))
                .collect(),
            all_payers: self.all.finish("all-payers", "All payers", total_costs),
        })
    }
}

impl MkbaTable {
    /// Why the table cannot be trusted, if any: a present value (they are what the business
    /// case adds up, as the Monte Carlo engine's savings are) reached
    /// [`crate::settlement::LIMIT`], or another amount passed what cents in `i64` hold (it
    /// would be clamped, and IMPACT would no longer be OUTCOME less its corrections).
    pub fn too_large(&self) -> Option<String> {
        let limit = crate::settlement::LIMIT;
        for l in self.lines.iter().chain(std::iter::once(&self.total)) {
            let pv = std::iter::once(l.present_value).chain(l.per_beneficiary.iter().copied());
            let amounts = [
                l.outcome_value,
                l.deadweight,
                l.attribution,
                l.substitution,
                l.impact,
            ];
            let clamped = amounts
                .iter()
                .chain(&l.effect_over_time)
                .any(|m| m.0 == i64::MAX || m.0 == i64::MIN);
            if clamped || pv.into_iter().any(|m| m.0.unsigned_abs() >= limit.0 as u64) {
                return Some(format!(
                    "the MKBA's amounts for `{}` are too large: present values are at most {}; lower the values per case (EUR/IND) or the cases counted",
                    l.outcome,
                    crate::money::format_thousands(limit),
                ));
            }
        }
        None
    }

    /// Column titles of the table as a Dutch municipal report shows it.
    pub const HEADER: [&'static str; 12] = [
        "Outcome",
        "IND",
        "EUR/IND",
        "OUTCOME",
        "DW",
        "AT",
        "SE",
        "IMPACT",
        "<3j",
        "3-5j",
        ">5j",
        "Present value",
    ];

    /// The rows (one per outcome, then the total) as text with thousands separators.
    pub fn rows(&self) -> Vec<Vec<String>> {
        use crate::money::format_thousands as m;
        // IND to the decimals the most precise row needs, padded in the others so the column
        // reads aligned (no row is rounded).
        let dp = self
            .lines
            .iter()
            .map(|l| l.ind.normalize().scale())
            .max()
            .unwrap_or(0) as usize;
        let total = std::iter::once(&self.total).map(|l| (l, true));
        self.lines
            .iter()
            .map(|l| (l, false))
            .chain(total)
            .map(|(l, is_total)| {
                vec![
                    l.outcome.clone(),
                    // IND as used (at most 6 decimals), so OUTCOME = EUR/IND x IND can be
                    // checked from the table; no total (the outcomes count different things).
                    if is_total {
                        String::new()
                    } else {
                        format!("{:.dp$}", l.ind.normalize())
                    },
                    if l.value_per_case == Money::ZERO {
                        String::new()
                    } else {
                        m(l.value_per_case)
                    },
                    m(l.outcome_value),
                    m(l.deadweight),
                    m(l.attribution),
                    m(l.substitution),
                    m(l.impact),
                    m(l.effect_over_time[0]),
                    m(l.effect_over_time[1]),
                    m(l.effect_over_time[2]),
                    m(l.present_value),
                ]
            })
            .collect()
    }

    /// Who benefits: the header (outcome, then each beneficiary) and one row per outcome and
    /// the total with each beneficiary's present value.
    pub fn beneficiary_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut head = vec!["Outcome".to_string()];
        head.extend(self.beneficiaries.iter().map(|(id, _)| id.clone()));
        let rows = self
            .lines
            .iter()
            .chain(std::iter::once(&self.total))
            .map(|l| {
                let mut r = vec![l.outcome.clone()];
                r.extend(
                    l.per_beneficiary
                        .iter()
                        .map(|x| crate::money::format_thousands(*x)),
                );
                r
            })
            .collect();
        (head, rows)
    }
}

impl BusinessCaseResults {
    /// The expected-case MKBA table of `c` at the simulated mean number of cases (IND).
    pub fn expected_table(&self, c: &Contract) -> Option<MkbaTable> {
        Some(c.mkba.as_ref()?.table(c, &self.expected_cases()))
    }

    /// The mean cases per contract outcome as decimals (6 places, the precision of units).
    pub fn expected_cases(&self) -> Vec<Decimal> {
        self.cases
            .iter()
            .map(|x| Decimal::from_f64_retain(*x).unwrap_or_default().round_dp(6))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_years_name_only_the_years_within_the_horizon() {
        assert_eq!(term_years_words(1), "year 1 (< 3j)");
        assert_eq!(term_years_words(2), "years 1-2 (< 3j)");
        assert_eq!(term_years_words(4), "years 1-3 (< 3j), 4 (3-5j)");
        assert_eq!(
            term_years_words(6),
            "years 1-3 (< 3j), 4-5 (3-5j), 6 (> 5j)"
        );
        assert_eq!(
            term_years_words(10),
            "years 1-3 (< 3j), 4-5 (3-5j), 6-10 (> 5j)"
        );
        assert_eq!(years(1), "1 year");
        assert_eq!(years(10), "10 years");
    }
}
