//! The validated contract: the terms of one Social Impact Bond (docs/domain.md section 3).
//!
//! A [`Contract`] is only ever built by [`crate::scenario`] from a scenario file, after every
//! meaning check has passed, so the settlement engine can rely on its invariants: indices are in
//! range, payer shares add up to one, chained outcomes form no cycle, every lag fits in the term.
//! Parties, outcomes, cohorts and tranches are referred to by index (`usize` into the vectors
//! here); the names the user wrote are kept for display.

use crate::money::{Money, Price, Qty, Ratio};

/// Index of a party in [`Contract::parties`].
pub type PartyId = usize;

/// How long one period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeriodLength {
    /// One month; twelve periods a year.
    Month,
    /// One quarter; four periods a year.
    Quarter,
    /// Half a year; two periods a year.
    HalfYear,
    /// One year.
    Year,
}

impl Role {
    /// The role in words, e.g. `fee recipient`.
    pub fn label(self) -> &'static str {
        match self {
            Role::Payer => "payer",
            Role::Investor => "investor",
            Role::Enterprise => "enterprise",
            Role::Guarantor => "guarantor",
            Role::FeeRecipient => "fee recipient",
            Role::Account => "account",
            Role::External => "external",
        }
    }
}

impl PeriodLength {
    /// The plural name of the period, e.g. `quarters`.
    pub fn plural(self) -> &'static str {
        match self {
            PeriodLength::Month => "months",
            PeriodLength::Quarter => "quarters",
            PeriodLength::HalfYear => "half-years",
            PeriodLength::Year => "years",
        }
    }

    /// `n` periods in words: `1 quarter`, `24 quarters`.
    pub fn count(self, n: u16) -> String {
        if n == 1 {
            format!("1 {}", self.singular())
        } else {
            format!("{n} {}", self.plural())
        }
    }

    /// The singular name of the period, e.g. `quarter`.
    pub fn singular(self) -> &'static str {
        match self {
            PeriodLength::Month => "month",
            PeriodLength::Quarter => "quarter",
            PeriodLength::HalfYear => "half-year",
            PeriodLength::Year => "year",
        }
    }

    /// Periods per year.
    pub fn per_year(self) -> u32 {
        match self {
            PeriodLength::Month => 12,
            PeriodLength::Quarter => 4,
            PeriodLength::HalfYear => 2,
            PeriodLength::Year => 1,
        }
    }
}

/// What a party is in the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An outcome payer (municipality, ministry, health insurer).
    Payer,
    /// An investor holding one or more tranches.
    Investor,
    /// The social enterprise delivering the intervention.
    Enterprise,
    /// A guarantor that is not also a payer.
    Guarantor,
    /// A party receiving fees (assessor, intermediary).
    FeeRecipient,
    /// The contract account through which outcome payments flow to the waterfall.
    Account,
    /// Everyone outside the contract (the enterprise's suppliers and staff).
    External,
}

/// One party.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Party {
    /// The identifier used in the scenario file.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role in the contract.
    pub role: Role,
}

/// A group of participants enrolling in one period.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cohort {
    /// Identifier used in the file and in actuals.
    pub id: String,
    /// The period in which the cohort enrols (1-based).
    pub enrol_period: u16,
    /// Target number of participants (realised enrolment can come from actuals).
    pub size: u32,
}

/// Whether an outcome counts people or measures a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// People achieving something; whole units, at most one per person unless repeatable.
    Count,
    /// A quantity (days, euros saved); fractional units allowed.
    Quantity,
}

/// Whether improvement means more or fewer units than the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// More is better (jobs, diplomas): improvement = achieved - baseline.
    Increase,
    /// Fewer is better (benefit days, reconvictions): improvement = baseline - achieved.
    Decrease,
}

/// The counterfactual an outcome is paid against.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// No counterfactual: every achieved unit is payable.
    None,
    /// A fixed share of the cohort's enrolment, per measurement period.
    Rate(Ratio),
    /// A forecast quantity per cohort and measurement period; actuals may report it instead.
    Forecast(Vec<Option<Qty>>),
    /// A control group's measured rate, reported in the actuals, times the cohort's enrolment.
    ControlGroup,
}

/// A volume tier: the marginal price for cumulative payable units up to `up_to`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Tier {
    /// Upper bound of cumulative units for this price; `None` for the last, open tier.
    pub up_to: Option<Qty>,
    /// Price per unit within the tier.
    pub price: Price,
}

/// How a grid maps improvement to an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GridKind {
    /// The amount of the highest point at or below the improvement.
    Step,
    /// Linear interpolation between points, flat after the last.
    Linear,
}

/// What a grid's amount is paid for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GridPer {
    /// Each enrolled participant of the cohort (the default).
    #[default]
    Participant,
    /// The cohort as a whole (a programme's tiered payment, as in New York's Rikers bond).
    Cohort,
}

/// How an outcome's payable units become money.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pricing {
    /// One price per payable unit.
    Flat(Price),
    /// Marginal prices by cumulative payable units over all cohorts.
    Tiers(Vec<Tier>),
    /// An amount per enrolled participant of the cohort, or for the cohort as a whole, as a
    /// function of the relative improvement over the baseline (points sorted by improvement).
    Grid {
        /// Step or linear.
        kind: GridKind,
        /// (relative improvement, amount), ascending improvement.
        points: Vec<(Ratio, Price)>,
        /// What the amount is for.
        per: GridPer,
    },
}

/// Caps on one outcome, cumulative over the contract.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct OutcomeCaps {
    /// Most payable units over all cohorts.
    pub max_units: Option<Qty>,
    /// Most money paid for this outcome.
    pub max_amount: Option<Money>,
    /// Most payable units per cohort as a share of its enrolment.
    pub max_share: Option<Ratio>,
}

/// Thresholds (triggers) on the relative improvement over the baseline.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Threshold {
    /// A cohort is paid when its own improvement reaches this level.
    pub per_cohort: Option<Ratio>,
    /// Cohorts not paid on their own are paid at the end when the improvement over all
    /// cohorts reaches this level.
    pub overall: Option<Ratio>,
}

/// One outcome on the rate card.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// Identifier used in the file and in actuals.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unit of measurement (display).
    pub unit: String,
    /// Count or quantity.
    pub kind: OutcomeKind,
    /// May a person achieve it more than once?
    pub repeatable: bool,
    /// The outcome a person must have achieved first (chained outcomes).
    pub requires: Option<usize>,
    /// Periods after enrolment of the first measurement.
    pub lag: u16,
    /// Number of consecutive measurement periods (1 = measured once).
    pub measure_periods: u16,
    /// Periods after measurement until payment.
    pub pay_lag: u16,
    /// More or fewer is better.
    pub direction: Direction,
    /// Counterfactual.
    pub baseline: Baseline,
    /// Thresholds on improvement.
    pub threshold: Threshold,
    /// Price, tiers or grid.
    pub pricing: Pricing,
    /// Caps on this outcome.
    pub caps: OutcomeCaps,
    /// Who pays, with shares adding up to one, in the order listed.
    pub payers: Vec<(PartyId, Ratio)>,
    /// Settled per participant (it falls under the per-participant cap).
    pub per_participant: bool,
}

impl Outcome {
    /// The first measurement period of a cohort enrolling in `enrol`.
    #[inline]
    pub fn first_measure(&self, enrol: u16) -> u16 {
        enrol + self.lag
    }
    /// The last measurement period of a cohort enrolling in `enrol`.
    #[inline]
    pub fn last_measure(&self, enrol: u16) -> u16 {
        enrol + self.lag + self.measure_periods - 1
    }
}

/// The cap on what one participant can earn across a set of outcomes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ParticipantCap {
    /// Most money paid for one participant over the outcomes.
    pub amount: Money,
    /// The outcomes it covers (indices).
    pub outcomes: Vec<usize>,
}

/// A payment independent of outcomes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FixedPayment {
    /// Period of payment.
    pub period: u16,
    /// Who pays.
    pub payer: PartyId,
    /// How much.
    pub amount: Money,
}

/// How an inflow guarantee judges the shortfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InflowJudged {
    /// Each covered cohort on its own, when it enrols.
    PerCohort,
    /// The covered cohorts together, when the last of them enrols (or at an early termination,
    /// over those enrolled by then), paid `pay_lag` periods after that.
    Overall,
}

/// A payer's promise of referrals (docs/domain.md 3.1, "the municipality may promise a referral
/// volume"): it pays a stated amount for every participant its cohorts enrol short of the
/// promised share of their target.
///
/// The compensation is earned when the cohort enrols (step 3 of a period), paid `pay_lag`
/// periods later (in step 7, with the fixed payments) to `to`, and moved to the termination
/// period if the contract ends first. It is not an outcome payment: the total cap and "pay
/// only what is due" do not apply to it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InflowGuarantee {
    /// Who promises the referrals and pays the compensation.
    pub payer: PartyId,
    /// Who receives it: the contract account (so it reaches the waterfall) or the enterprise.
    pub to: PartyId,
    /// The cohorts covered (indices, ascending, at least one).
    pub cohorts: Vec<usize>,
    /// The promised share of each covered cohort's target (0 < share <= 1).
    pub share: Ratio,
    /// Paid per participant short of `share x target`; a fractional shortfall pays pro rata.
    pub per_missing: Price,
    /// Periods between enrolment and payment.
    pub pay_lag: u16,
    /// Per cohort or over the covered cohorts together.
    pub judged: InflowJudged,
}

impl InflowGuarantee {
    /// The compensation for `enrolled` participants against a promised `share x target`,
    /// rounded once to the cent (half away from zero); zero when nothing is short.
    /// `None` when it passes `limit`.
    pub fn compensation(&self, target: i64, enrolled: i64, limit: Money) -> Option<Money> {
        // Shortfall in ratio units (1e12), price in micro-units (1e6): cents = x / 1e16.
        let short = self.share.0 as i128 * target as i128 - enrolled as i128 * 1_000_000_000_000;
        if short <= 0 {
            return Some(Money::ZERO);
        }
        let product = short.checked_mul(self.per_missing.0 as i128)?;
        let cents = crate::money::div_round(product, 10_000_000_000_000_000);
        (cents <= limit.0 as i128).then_some(Money(cents as i64))
    }
}

/// What an early-termination checkpoint tests.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointTest {
    /// Relative improvement over the baseline, over all cohorts measured so far.
    MinImprovement(Ratio),
    /// Achieved units per enrolled participant of the cohorts measured so far.
    MinRate(Ratio),
}

/// An early-termination checkpoint.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Checkpoint {
    /// Judged at the end of this period.
    pub period: u16,
    /// The outcome judged.
    pub outcome: usize,
    /// The floor.
    pub test: CheckpointTest,
}

/// A guarantee on a tranche's principal.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Guarantee {
    /// Guarantors and their shares of each call, adding up to one.
    pub guarantors: Vec<(PartyId, Ratio)>,
    /// Most money called.
    pub limit: Option<Money>,
    /// Most called as a share of the drawn principal.
    pub fraction: Option<Ratio>,
}

/// One investor position in the capital stack.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Tranche {
    /// Identifier.
    pub id: String,
    /// The investor.
    pub investor: PartyId,
    /// Committed capital.
    pub committed: Money,
    /// Drawdown per period, index 0 unused (length `periods + 1`).
    pub drawdowns: Vec<Money>,
    /// Annual rate as written (coupon or return cap).
    pub annual_rate: Ratio,
    /// The rate per period used for accrual.
    pub period_rate: Ratio,
    /// Priority: 1 is paid first; equal ranks share pro rata to outstanding claims.
    pub rank: u16,
    /// Optional guarantee.
    pub guarantee: Option<Guarantee>,
    /// How a distribution counts against principal and interest (or return): it decides the
    /// unrecovered principal and so the guarantee call.
    pub allocation: Allocation,
}

/// How the distributions a tranche receives count against its principal and its interest
/// (or return). The claim they reduce is the same either way; what differs is how much of
/// the principal is unrecovered, and so what a guarantee covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// Every distribution repays principal first: unrecovered principal is what was drawn
    /// less everything distributed (interest included).
    #[default]
    PrincipalFirst,
    /// A distribution pays the interest (or return) accrued and unpaid first, then principal,
    /// as a bank applies a loan's payments: unrecovered principal is the principal still
    /// outstanding.
    InterestFirst,
}

/// A fee paid from the waterfall before the tranches.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Fee {
    /// Identifier.
    pub id: String,
    /// Who receives it.
    pub payee: PartyId,
    /// Amount falling due per period (index 0 unused). Unpaid amounts stay owed.
    pub schedule: Vec<Money>,
}

/// What happens to cash left after the waterfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Remainder {
    /// Stays in the contract account.
    Hold,
    /// Goes back to the payers in proportion to what each has paid so far.
    ReturnToPayers,
    /// Goes to the enterprise.
    Enterprise,
}

/// Whether the enterprise pays back capital it has not spent when the contract ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnUnspent {
    /// It keeps it (the default).
    #[default]
    Never,
    /// At an early termination only.
    OnTermination,
    /// Whenever the contract ends: at an early termination or in period T.
    AtEnd,
}

/// The enterprise's costs and at-risk fees.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EnterpriseTerms {
    /// Fixed operating cost per period (index 0 unused).
    pub fixed_costs: Vec<Money>,
    /// Cost per participant, spent in the period the participant enrols.
    pub per_participant_cost: Price,
    /// Deferred fees falling due per period (index 0 unused), paid from the waterfall after
    /// the tranches; unpaid amounts stay owed.
    pub deferred_fees: Vec<Money>,
    /// Share of the cash left after tranches and deferred fees paid to the enterprise.
    pub performance_share: Ratio,
    /// When the capital drawn and not spent on costs goes back into the contract account
    /// (and through the waterfall to the investors): at most the enterprise's cash.
    pub return_unspent: ReturnUnspent,
}

/// A validated contract.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Contract {
    /// Name of the contract.
    pub(crate) name: String,
    /// ISO currency code for display.
    pub(crate) currency: String,
    /// Number of periods T; periods run 1..=T.
    pub(crate) periods: u16,
    /// Length of one period.
    pub(crate) period_length: PeriodLength,
    /// Optional start date for display (as written).
    pub(crate) start_date: Option<String>,
    /// All parties, including the contract account and the outside world.
    pub(crate) parties: Vec<Party>,
    /// The contract account (the waterfall's pot).
    pub(crate) account: PartyId,
    /// Everyone outside the contract.
    pub(crate) external: PartyId,
    /// The enterprise.
    pub(crate) enterprise: PartyId,
    /// Cohorts in enrolment order.
    pub(crate) cohorts: Vec<Cohort>,
    /// Outcomes; a chained outcome comes after the outcome it requires.
    pub(crate) outcomes: Vec<Outcome>,
    /// Per-participant cap across outcomes.
    pub(crate) participant_cap: Option<ParticipantCap>,
    /// Cap on total outcome payments.
    pub(crate) total_cap: Option<Money>,
    /// Fixed payments.
    pub(crate) fixed_payments: Vec<FixedPayment>,
    /// Payers' promises of referrals (compensation for a shortfall).
    pub(crate) inflow_guarantees: Vec<InflowGuarantee>,
    /// Payers pay at most what the waterfall still owes.
    pub(crate) pay_only_due: bool,
    /// Early-termination checkpoints, by period.
    pub(crate) checkpoints: Vec<Checkpoint>,
    /// Tranches in the order written.
    pub(crate) tranches: Vec<Tranche>,
    /// Fees paid first in the waterfall.
    pub(crate) fees: Vec<Fee>,
    /// The enterprise's terms.
    pub(crate) enterprise_terms: EnterpriseTerms,
    /// What happens to the remainder.
    pub(crate) remainder: Remainder,
    /// Annual discount rate for present values.
    pub(crate) discount_rate: Ratio,
    /// The social cost-benefit analysis around the contract (`[mkba]`), if declared.
    pub(crate) mkba: Option<crate::mkba::Mkba>,
    /// Declared facts for the feasibility check (`[facts]`, `[feasibility]`).
    pub(crate) facts: crate::mkba::Facts,
}

impl Contract {
    /// Name of the contract.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// ISO currency code for display.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Number of periods T; periods run 1..=T.
    pub fn periods(&self) -> u16 {
        self.periods
    }

    /// Length of one period.
    pub fn period_length(&self) -> PeriodLength {
        self.period_length
    }

    /// Optional start date for display (as written).
    pub fn start_date(&self) -> Option<&str> {
        self.start_date.as_deref()
    }

    /// All parties, including the contract account and the outside world.
    pub fn parties(&self) -> &[Party] {
        &self.parties
    }

    /// The contract account (the waterfall's pot).
    pub fn account(&self) -> PartyId {
        self.account
    }

    /// Everyone outside the contract.
    pub fn external(&self) -> PartyId {
        self.external
    }

    /// The enterprise.
    pub fn enterprise(&self) -> PartyId {
        self.enterprise
    }

    /// Cohorts in enrolment order.
    pub fn cohorts(&self) -> &[Cohort] {
        &self.cohorts
    }

    /// Outcomes; a chained outcome comes after the outcome it requires.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Per-participant cap across outcomes.
    pub fn participant_cap(&self) -> Option<&ParticipantCap> {
        self.participant_cap.as_ref()
    }

    /// Cap on total outcome payments.
    pub fn total_cap(&self) -> Option<Money> {
        self.total_cap
    }

    /// Fixed payments.
    pub fn fixed_payments(&self) -> &[FixedPayment] {
        &self.fixed_payments
    }

    /// Payers' promises of referrals (compensation for a shortfall).
    pub fn inflow_guarantees(&self) -> &[InflowGuarantee] {
        &self.inflow_guarantees
    }

    /// Payers pay at most what the waterfall still owes.
    pub fn pay_only_due(&self) -> bool {
        self.pay_only_due
    }

    /// Early-termination checkpoints, by period.
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.checkpoints
    }

    /// Tranches in the order written.
    pub fn tranches(&self) -> &[Tranche] {
        &self.tranches
    }

    /// Fees paid first in the waterfall.
    pub fn fees(&self) -> &[Fee] {
        &self.fees
    }

    /// The enterprise's terms.
    pub fn enterprise_terms(&self) -> &EnterpriseTerms {
        &self.enterprise_terms
    }

    /// What happens to the remainder.
    pub fn remainder(&self) -> Remainder {
        self.remainder
    }

    /// Annual discount rate for present values.
    pub fn discount_rate(&self) -> Ratio {
        self.discount_rate
    }

    /// The social cost-benefit analysis around the contract (`[mkba]`), if declared.
    pub fn mkba(&self) -> Option<&crate::mkba::Mkba> {
        self.mkba.as_ref()
    }

    /// Declared facts for the feasibility check (`[facts]`, `[feasibility]`).
    pub fn facts(&self) -> &crate::mkba::Facts {
        &self.facts
    }
    /// Index of a party by identifier.
    pub fn party(&self, id: &str) -> Option<PartyId> {
        self.parties.iter().position(|p| p.id == id)
    }
    /// Index of an outcome by identifier.
    pub fn outcome(&self, id: &str) -> Option<usize> {
        self.outcomes.iter().position(|o| o.id == id)
    }
    /// Index of a cohort by identifier.
    pub fn cohort(&self, id: &str) -> Option<usize> {
        self.cohorts.iter().position(|c| c.id == id)
    }
    /// The last period in which the contract measures an outcome of a cohort (0 without
    /// outcomes or cohorts).
    pub fn last_measurement(&self) -> u16 {
        self.outcomes
            .iter()
            .flat_map(|o| self.cohorts.iter().map(|c| o.last_measure(c.enrol_period)))
            .max()
            .unwrap_or(0)
    }
    /// Parties with the payer role, in the order listed.
    pub fn payers(&self) -> impl Iterator<Item = PartyId> + '_ {
        self.parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.role == Role::Payer)
            .map(|(i, _)| i)
    }
}
