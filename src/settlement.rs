//! The exact settlement engine: contract + actuals -> ledger, statements and final balances.
//!
//! The engine walks the periods 1..=T. In each period, in this order:
//!
//! 1. every tranche's claim accrues at its period rate (rounded to cents);
//! 2. scheduled drawdowns go from the investors to the enterprise and join the claims;
//! 3. the enterprise pays its fixed costs and the cost of participants enrolling now; if its cash
//!    runs out, it pays what it has and the service stops (termination);
//! 4. every outcome measured now is turned into payable units (baseline, chain, thresholds) and
//!    money (price, tiers, grid, per-participant cap, outcome caps), scheduled for payment
//!    `pay_lag` periods later;
//! 5. outcomes whose last measurement is now settle their overall-at-end threshold;
//! 6. checkpoints are judged; on termination everything earned is paid now;
//! 7. fixed payments, inflow-guarantee compensation (to the account or the enterprise, as the
//!    guarantee says) and outcome payments due now are paid in, the outcome payments after the
//!    total cap and, under "pay only what is due", at most what the waterfall still owes;
//!    where the contract ends now and `return_unspent` says so, the enterprise then pays in
//!    its unspent capital, as far as the fees and tranche claims still need it;
//! 8. the waterfall pays fees, tranche claims by rank (equal ranks pro rata), deferred fees,
//!    the performance share, and disposes of the remainder;
//! 9. in the final period (T or termination) guarantors cover unrecovered principal.
//!
//! An interim settlement ([`Settler::settle_through`], a contract still running) stops after
//! step 8 of the last period reported.
//!
//! Every movement of money is a [`LedgerLine`] sent to a [`LedgerSink`]; the engine itself keeps
//! only per-party totals. All buffers live in a reusable [`Settler`], so settling a Monte Carlo
//! trial allocates nothing and formats no strings.

use crate::actuals::{ALL_EVENTS, Actuals, rate_of};
use crate::contract::{
    Allocation, Baseline, CheckpointTest, Contract, Direction, GridKind, GridPer, InflowJudged,
    PartyId, Pricing, Remainder, ReturnUnspent,
};
use crate::error::SettleError;
use crate::money::{
    Money, Price, Qty, Ratio, SplitWeights, div_round, saturate, split_largest_remainder,
};

/// Which rule produced a ledger line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// An investor's drawdown to the enterprise.
    Drawdown {
        /// Tranche index.
        tranche: u16,
    },
    /// The enterprise's fixed operating cost.
    OperatingCost,
    /// The enterprise's cost for the participants of a cohort enrolling.
    ParticipantCost {
        /// Cohort index.
        cohort: u16,
    },
    /// An outcome payment for a cohort.
    OutcomePayment {
        /// Outcome index.
        outcome: u16,
        /// Cohort index.
        cohort: u16,
    },
    /// A fixed payment.
    FixedPayment,
    /// A payer's compensation for referrals short of its promise.
    InflowGuarantee {
        /// Inflow guarantee index.
        guarantee: u16,
        /// The cohort short of its promise; `None` for a guarantee judged over its cohorts
        /// together.
        cohort: Option<u16>,
    },
    /// A fee from the waterfall.
    Fee {
        /// Fee index.
        fee: u16,
    },
    /// A distribution to a tranche.
    Distribution {
        /// Tranche index.
        tranche: u16,
    },
    /// The enterprise's deferred fee from the waterfall.
    DeferredFee,
    /// The enterprise's performance share.
    PerformanceShare,
    /// The remainder after the waterfall.
    Remainder,
    /// A guarantor covering a tranche's unrecovered principal.
    GuaranteeCall {
        /// Tranche index.
        tranche: u16,
    },
    /// The capital the enterprise drew and did not spend on costs, paid back into the
    /// contract account when the contract ends (`enterprise.return_unspent`).
    UnspentCapital,
}

/// One movement of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LedgerLine {
    /// Period (1-based).
    pub period: u16,
    /// Who pays.
    pub from: PartyId,
    /// Who receives.
    pub to: PartyId,
    /// Amount in cents (always positive).
    pub amount: Money,
    /// The rule that produced it.
    pub rule: Rule,
}

/// How the measurement of a [`Claim`] was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimVerdict {
    /// Earned (possibly nothing, as caps leave it), payable in the claim's `due` period.
    Earned,
    /// The improvement fell short of the outcome's per-cohort threshold, and the outcome has
    /// no overall threshold to hold it for: nothing earned.
    BelowThreshold,
    /// Held for the outcome's overall threshold, which was not met when judged: nothing
    /// earned.
    OverallNotMet,
    /// Held for the outcome's overall threshold, not judged yet (an interim settlement).
    Held,
}

/// What one measurement of an outcome for a cohort is worth, and why: the units measured,
/// the baseline they are judged against, the units and amount each cap leaves, and when it
/// falls due. Sent to [`LedgerSink::claim`] once per measurement settled, when its verdict is
/// known (at the measurement, or when an overall threshold is judged). The ledger's outcome
/// payments pay what the claims earned, after the total cap and pay-only-due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Outcome index.
    pub outcome: u16,
    /// Cohort index.
    pub cohort: u16,
    /// The period measured.
    pub measured: u16,
    /// Units achieved, as counted (within the prerequisite's and once a person).
    pub achieved: Qty,
    /// The baseline they are judged against (zero without one).
    pub baseline: Qty,
    /// The relative improvement on the baseline, where a threshold or payment grid reads it.
    pub improvement: Option<Ratio>,
    /// Units payable on the baseline, before the outcome's unit caps.
    pub payable: Qty,
    /// Units paid for, after the unit caps (maximum units, maximum share of participants).
    pub units: Qty,
    /// Their amount at the contract's prices (after the per-participant cap), before the
    /// outcome's amount cap.
    pub amount: Money,
    /// The amount earned, after the outcome's amount cap.
    pub earned: Money,
    /// The period it falls due, by the contract's timing (0 when nothing was judged
    /// payable); an early termination pays it in the termination period instead.
    pub due: u16,
    /// How it was judged.
    pub verdict: ClaimVerdict,
    /// The number of its payment, which [`LedgerSink::claim_paid`] names when it is paid
    /// (`None` when nothing was earned).
    pub payment: Option<u32>,
}

/// Receives ledger lines as the engine produces them.
pub trait LedgerSink {
    /// One line.
    fn line(&mut self, line: &LedgerLine);

    /// One measurement's claim (see [`Claim`]). By default ignored: the Monte Carlo path
    /// keeps none.
    #[inline(always)]
    fn claim(&mut self, _claim: &Claim) {}

    /// A claim's payment (see [`ClaimPayment`]). By default ignored.
    #[inline(always)]
    fn claim_paid(&mut self, _payment: &ClaimPayment) {}
}

/// What a claim's payment paid: its [`Claim::payment`], the period, what the total cap left of
/// what it earned, and what pay-only-what-is-due then left of that (possibly nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimPayment {
    /// The claim's payment number ([`Claim::payment`]).
    pub payment: u32,
    /// The period paid.
    pub period: u16,
    /// What it earned less what the total cap cut (what it earned, without a total cap).
    pub after_total_cap: Money,
    /// What was paid: `after_total_cap` less what pay-only-what-is-due cut.
    pub paid: Money,
}

impl LedgerSink for Vec<LedgerLine> {
    fn line(&mut self, line: &LedgerLine) {
        self.push(*line);
    }
}

/// A sink that keeps the ledger, every measurement's claim and what each claim's payment
/// paid (a statement's).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// The ledger, in the order the lines were produced.
    pub ledger: Vec<LedgerLine>,
    /// The claims, in the order their verdicts were known.
    pub claims: Vec<Claim>,
    /// Per claim payment, what it paid.
    pub paid: Vec<ClaimPayment>,
}

impl LedgerSink for Recorded {
    fn line(&mut self, line: &LedgerLine) {
        self.ledger.push(*line);
    }
    fn claim(&mut self, claim: &Claim) {
        self.claims.push(*claim);
    }
    fn claim_paid(&mut self, payment: &ClaimPayment) {
        self.paid.push(*payment);
    }
}

/// A sink that keeps nothing (the per-party totals in [`Settlement`] are kept regardless).
pub struct NoLedger;
impl LedgerSink for NoLedger {
    #[inline]
    fn line(&mut self, _: &LedgerLine) {}
}

/// Why a contract ended before its last period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Termination {
    /// A checkpoint's floor was not met.
    Checkpoint {
        /// Checkpoint index.
        checkpoint: u16,
    },
    /// The enterprise could not pay its costs.
    EnterpriseOutOfCash,
}

/// Results per tranche.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrancheResult {
    /// Capital drawn.
    pub drawn: Money,
    /// Interest or return accrued on the claim.
    pub accrued: Money,
    /// Distributions received from the waterfall.
    pub distributed: Money,
    /// Guarantee calls received.
    pub guaranteed: Money,
    /// Claim still outstanding at the end (unpaid, written off); in an interim settlement,
    /// the claim still open.
    pub outstanding: Money,
    /// Principal not recovered after distributions and guarantees; in an interim settlement,
    /// the principal not yet repaid.
    pub unrecovered_principal: Money,
}

impl TrancheResult {
    /// The principal the distributions repaid (as the tranche's allocation counts them):
    /// drawn less what a guarantee covered and what is unrecovered.
    pub fn principal_repaid(&self) -> Money {
        (self.drawn - self.guaranteed - self.unrecovered_principal).non_negative()
    }

    /// The interest or return the distributions paid: distributed less principal repaid.
    pub fn return_paid(&self) -> Money {
        self.distributed - self.principal_repaid()
    }
}

/// Results per outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutcomeResult {
    /// Units achieved (measured and counted).
    pub achieved: Qty,
    /// The baseline of those measurements (zero without one).
    pub baseline: Qty,
    /// Units made payable after baseline, thresholds and caps.
    pub payable_units: Qty,
    /// Amount earned after outcome caps, before the total cap and pay-only-due.
    pub earned: Money,
    /// Amount actually paid.
    pub paid: Money,
}

/// A payment an interim settlement has earned that falls due after its last period: what one
/// payer will pay, when, and for what (an outcome payment of a cohort, or an inflow
/// guarantee's compensation), as its ledger line will say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingPayment {
    /// The period it falls due.
    pub period: u16,
    /// Who pays it.
    pub payer: PartyId,
    /// Its amount (this payer's part).
    pub amount: Money,
    /// What it pays for.
    pub rule: Rule,
}

/// The outcome of a settlement (everything but the ledger lines, which went to the sink).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Settlement {
    /// The last period settled (T, the termination period, or the period an interim
    /// settlement stopped at).
    pub final_period: u16,
    /// Whether this is an interim settlement ([`Settler::settle_through`]): it stopped at
    /// `final_period`, before the contract's end, so claims stay open, nothing is written off
    /// and no guarantee is called.
    pub interim: bool,
    /// Earned but payable after `final_period` (an interim settlement; zero otherwise).
    pub pending: Money,
    /// Inflow compensation earned but payable after `final_period` (an interim settlement;
    /// zero otherwise).
    pub inflow_pending: Money,
    /// Per outcome, the units measured but held for an overall threshold not judged yet (an
    /// interim settlement; empty otherwise): they become payable, or not, at the outcome's
    /// last measurement.
    pub held_units: Vec<Qty>,
    /// What `pending` and `inflow_pending` come to for each payer, by the period they fall
    /// due: `(period, payer, amount)`, in the order they will be paid, each payment split
    /// among its payers as it will be (an interim settlement; empty otherwise). A later total
    /// cap or early termination may still change them.
    #[serde(skip)]
    pub pending_payments: Vec<PendingPayment>,
    /// Why the contract ended early, if it did, and when.
    pub termination: Option<(u16, Termination)>,
    /// Total paid by each party.
    pub paid: Vec<Money>,
    /// Total received by each party.
    pub received: Vec<Money>,
    /// Per tranche.
    pub tranches: Vec<TrancheResult>,
    /// Per outcome.
    pub outcomes: Vec<OutcomeResult>,
    /// Outcome payments made (all payers).
    pub outcome_payments: Money,
    /// Fixed payments made.
    pub fixed_payments: Money,
    /// Compensation paid under inflow guarantees (all payers).
    pub inflow_compensation: Money,
    /// Earned but not paid because of the total cap.
    pub cut_by_total_cap: Money,
    /// Earned but not paid because nothing more was due (pay only what is due).
    pub not_due: Money,
    /// Costs the enterprise could not pay.
    pub unpaid_costs: Money,
    /// Fees still owed at the end.
    pub fees_owed: Money,
    /// Deferred enterprise fees still owed at the end.
    pub deferred_fees_owed: Money,
    /// Cash in the contract account at the end of each period (index 0 unused); periods after
    /// `final_period` repeat its value (nothing moves after it).
    pub held: Vec<Money>,
    /// Cash the enterprise holds at the end.
    pub enterprise_cash: Money,
    /// Capital the enterprise paid back into the contract account at the end
    /// (`enterprise.return_unspent`).
    pub unspent_returned: Money,
}

impl Settlement {
    /// Cash held in the contract account at the end.
    pub fn held_at_end(&self) -> Money {
        self.held[self.final_period as usize]
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    outcome: u16,
    cohort: u16,
    /// Order of earning in this settlement: payments due in one period are served in it
    /// (those moved forward at an early termination among them).
    seq: u32,
    amount: Money,
    /// What the total cap left of what it earned (set when it is paid).
    capped: Money,
}

/// The covered cohorts of an inflow guarantee judged overall, enrolled so far.
#[derive(Clone, Copy, Debug, Default)]
struct InflowSum {
    target: i64,
    enrolled: i64,
    cohorts: usize,
    judged: bool,
}

/// An inflow guarantee's compensation, earned when its cohort enrols.
#[derive(Clone, Copy, Debug)]
struct InflowDue {
    period: u16,
    guarantee: u16,
    cohort: Option<u16>,
    amount: Money,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    outcome: u16,
    cohort: u16,
    period: u16,
    achieved: Qty,
    baseline: Qty,
    units: Qty,
    /// Where a threshold or grid reads it.
    improvement: Option<Ratio>,
}

/// Reusable settlement state for one contract. Create once, settle many times.
pub struct Settler<'c> {
    c: &'c Contract,
    /// Tranche indices grouped by rank, most senior first.
    rank_groups: Vec<Vec<usize>>,
    /// (outcome, cohort) cells measured in each period, outcome order then cohort order:
    /// period p's cells are `measure_cells[measure_start[p]..measure_start[p + 1]]`.
    measure_cells: Vec<(u16, u16)>,
    measure_start: Vec<u32>,
    /// Each outcome's payer shares, prepared for splitting.
    payer_weights: Vec<SplitWeights>,
    /// Each tranche's guarantor shares, prepared for splitting (empty without a guarantee).
    guarantor_weights: Vec<SplitWeights>,
    /// Whether any tranche counts its distributions interest first (`Allocation`).
    interest_first: bool,
    // per settlement state
    claim: Vec<Money>,
    /// Per tranche: principal drawn and not yet repaid, read for interest-first tranches
    /// (a principal-first tranche's is drawn less distributed).
    principal: Vec<Money>,
    fee_owed: Vec<Money>,
    deferred_owed: Money,
    shared_base: Money,
    cash_enterprise: Money,
    account: Money,
    cum_units: Vec<Qty>,
    cum_amount: Vec<Money>,
    cum_cohort_units: Vec<Qty>, // [o][c] payable units
    cum_achieved: Vec<Qty>,     // [o][c] achieved (for chains and once-per-person)
    sum_achieved: Vec<Qty>,     // [o] over measured cells
    sum_baseline: Vec<Qty>,     // [o]
    sum_enrolled: Vec<i64>,     // [o] enrolment of cohorts measured so far
    pp_amount: Vec<Money>,      // [o][c][p] per-participant amounts
    /// Cells of `pp_amount` written since the last reset (only those are cleared).
    pp_touched: Vec<u32>,
    /// Per outcome: the amount for one unit under per-participant pricing (flat prices only)
    /// and whether the participant cap covers it.
    pp_unit: Vec<(Option<Money>, bool)>,
    /// The largest of `pp_unit`'s amounts and its outcome.
    pp_max_unit: (Money, u16),
    /// Per outcome: whether its measurement's improvement is needed (thresholds, grids).
    needs_improvement: Vec<bool>,
    pending: Vec<Vec<Pending>>, // by pay period
    /// The next `Pending::seq`.
    next_seq: u32,
    held_list: Vec<Held>,
    /// Inflow compensation earned and not paid yet, in the order earned.
    inflow_due: Vec<InflowDue>,
    /// Per inflow guarantee judged overall: the covered cohorts enrolled so far (their targets,
    /// their enrolment, how many) and whether it has been judged.
    inflow_sum: Vec<InflowSum>,
    final_measure: Vec<u16>, // [o] last measurement period over all cohorts
    /// Whether any outcome has an overall-at-end threshold.
    any_overall: bool,
    /// Cohorts enrolling in each period: period p's are
    /// `enrolling[enrol_start[p]..enrol_start[p + 1]]`, in cohort order.
    enrolling: Vec<u16>,
    enrol_start: Vec<u32>,
    /// Fixed payments due in each period: period p's are
    /// `fixed_order[fixed_start[p]..fixed_start[p + 1]]` (indices into the contract's list, in
    /// its order).
    fixed_order: Vec<u32>,
    fixed_start: Vec<u32>,
    /// Checkpoints judged in each period: period p's are
    /// `checkpoint_order[checkpoint_start[p]..checkpoint_start[p + 1]]`, in contract order.
    checkpoint_order: Vec<u32>,
    checkpoint_start: Vec<u32>,
    /// Outcomes with an overall-at-end threshold, by the period of their last measurement:
    /// period p's are `overall_order[overall_start[p]..overall_start[p + 1]]`, in outcome order.
    overall_order: Vec<u32>,
    overall_start: Vec<u32>,
    /// Inflow guarantees covering each cohort: cohort c's are
    /// `inflow_of[inflow_of_start[c]..inflow_of_start[c + 1]]`, in guarantee order (both
    /// empty without inflow guarantees).
    inflow_of: Vec<u32>,
    inflow_of_start: Vec<u32>,
    weights: Vec<i64>,
    parts: Vec<Money>,
    /// Outcome amounts earned so far, all outcomes (checked against [`LIMIT`]).
    total_earned: Money,
    /// Participant costs so far (checked against [`LIMIT`]).
    total_costs: Money,
    /// The first amount found beyond the limits (period, outcome, cohort or `u16::MAX` for
    /// the per-participant payments), reported when the period ends.
    too_large: Option<(u16, u16, u16)>,
    out: Settlement,
}

/// Indexes items by period, once: `items` gives each item's period and index in list order;
/// period p's items are `list[start[p]..start[p + 1]]`, in list order. Items in a period past
/// `n_p - 1` are left out (the period loop never reaches them).
fn index_by_period(
    n_p: usize,
    items: impl Iterator<Item = (u16, u32)> + Clone,
) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n_p + 1];
    for (p, _) in items.clone() {
        if (p as usize) < n_p {
            start[p as usize + 1] += 1;
        }
    }
    for p in 0..n_p {
        start[p + 1] += start[p];
    }
    let mut next = start.clone();
    let mut list = vec![0u32; start[n_p] as usize];
    for (p, i) in items {
        if (p as usize) < n_p {
            list[next[p as usize] as usize] = i;
            next[p as usize] += 1;
        }
    }
    (start, list)
}

/// `what` would pass [`LIMIT`] in `period`.
#[cold]
#[inline(never)]
fn too_large(period: u16, what: std::fmt::Arguments) -> SettleError {
    SettleError::TooLarge {
        what: format!("{what} would pass 100,000,000,000,000 (currency units)"),
        period,
    }
}

/// The units measured for outcome `id` would pass [`UNIT_LIMIT`] in `period`.
#[cold]
#[inline(never)]
fn too_many_units(period: u16, id: &str) -> SettleError {
    SettleError::TooLarge {
        what: format!(
            "outcome `{id}`: the units measured over all cohorts would pass 1,000,000,000,000"
        ),
        period,
    }
}

/// The largest total of outcome payments, of participant costs, and of any tranche's claim
/// that a settlement accepts: 1e16 cents (100 trillion currency units). Every running total
/// is checked before it can pass this, so the sums of flows stay far inside `i64`.
pub const LIMIT: Money = Money(10_000_000_000_000_000);
/// The largest total of achieved or baseline units of one outcome: 1e12 units.
pub const UNIT_LIMIT: Qty = Qty(1_000_000_000_000_000_000);

impl<'c> Settler<'c> {
    /// Prepares buffers for `contract`.
    pub fn new(contract: &'c Contract) -> Self {
        let n_o = contract.outcomes.len();
        let n_c = contract.cohorts.len();
        let n_p = contract.periods as usize + 1;
        let mut ranks: Vec<u16> = contract.tranches.iter().map(|t| t.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        let rank_groups = ranks
            .iter()
            .map(|r| {
                (0..contract.tranches.len())
                    .filter(|&i| contract.tranches[i].rank == *r)
                    .collect()
            })
            .collect();
        let final_measure = contract
            .outcomes
            .iter()
            .map(|o| {
                contract
                    .cohorts
                    .iter()
                    .map(|c| o.last_measure(c.enrol_period))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let n_parties = contract.parties.len();
        let mut measure_cells = Vec::new();
        let mut measure_start = vec![0u32; n_p + 1];
        for (p, start) in measure_start.iter_mut().enumerate().take(n_p) {
            *start = measure_cells.len() as u32;
            for (o, out) in contract.outcomes.iter().enumerate() {
                for (ci, coh) in contract.cohorts.iter().enumerate() {
                    let pp = p as u16;
                    if pp >= out.first_measure(coh.enrol_period)
                        && pp <= out.last_measure(coh.enrol_period)
                    {
                        measure_cells.push((o as u16, ci as u16));
                    }
                }
            }
        }
        measure_start[n_p] = measure_cells.len() as u32;
        let mut enrolling = Vec::new();
        let mut enrol_start = vec![0u32; n_p + 1];
        for (p, start) in enrol_start.iter_mut().enumerate().take(n_p) {
            *start = enrolling.len() as u32;
            for (ci, coh) in contract.cohorts.iter().enumerate() {
                if coh.enrol_period as usize == p {
                    enrolling.push(ci as u16);
                }
            }
        }
        enrol_start[n_p] = enrolling.len() as u32;
        let (fixed_start, fixed_order) = index_by_period(
            n_p,
            contract
                .fixed_payments
                .iter()
                .enumerate()
                .map(|(i, fp)| (fp.period, i as u32)),
        );
        let (checkpoint_start, checkpoint_order) = index_by_period(
            n_p,
            contract
                .checkpoints
                .iter()
                .enumerate()
                .map(|(k, cp)| (cp.period, k as u32)),
        );
        let (overall_start, overall_order) = index_by_period(
            n_p,
            contract
                .outcomes
                .iter()
                .zip(&final_measure)
                .enumerate()
                .filter(|(_, (o, _))| o.threshold.overall.is_some())
                .map(|(i, (_, &last))| (last, i as u32)),
        );
        let (inflow_of_start, inflow_of) = if contract.inflow_guarantees.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let mut per: Vec<Vec<u32>> = vec![Vec::new(); n_c];
            for (g, ig) in contract.inflow_guarantees.iter().enumerate() {
                let mut covered: Vec<usize> = ig.cohorts.clone();
                covered.sort_unstable();
                covered.dedup();
                for ci in covered {
                    if ci < n_c {
                        per[ci].push(g as u32);
                    }
                }
            }
            let mut start = Vec::with_capacity(n_c + 1);
            let mut list = Vec::new();
            for gs in per {
                start.push(list.len() as u32);
                list.extend(gs);
            }
            start.push(list.len() as u32);
            (start, list)
        };
        let payer_weights = contract
            .outcomes
            .iter()
            .map(|o| {
                let w: Vec<i64> = o.payers.iter().map(|(_, s)| s.0).collect();
                SplitWeights::new(&w)
            })
            .collect();
        let guarantor_weights = contract
            .tranches
            .iter()
            .map(|t| {
                let w: Vec<i64> = t
                    .guarantee
                    .iter()
                    .flat_map(|g| g.guarantors.iter().map(|(_, s)| s.0))
                    .collect();
                SplitWeights::new(&w)
            })
            .collect();
        let mut s = Settler {
            c: contract,
            rank_groups,
            measure_cells,
            measure_start,
            payer_weights,
            guarantor_weights,
            interest_first: contract
                .tranches
                .iter()
                .any(|t| t.allocation == Allocation::InterestFirst),
            claim: vec![Money::ZERO; contract.tranches.len()],
            principal: vec![Money::ZERO; contract.tranches.len()],
            fee_owed: vec![Money::ZERO; contract.fees.len()],
            deferred_owed: Money::ZERO,
            shared_base: Money::ZERO,
            cash_enterprise: Money::ZERO,
            account: Money::ZERO,
            cum_units: vec![Qty::ZERO; n_o],
            cum_amount: vec![Money::ZERO; n_o],
            cum_cohort_units: vec![Qty::ZERO; n_o * n_c],
            cum_achieved: vec![Qty::ZERO; n_o * n_c],
            sum_achieved: vec![Qty::ZERO; n_o],
            sum_baseline: vec![Qty::ZERO; n_o],
            sum_enrolled: vec![0; n_o],
            pp_amount: vec![Money::ZERO; n_o * n_c * n_p],
            pp_touched: Vec::new(),
            pp_max_unit: (Money::ZERO, 0),
            pp_unit: contract
                .outcomes
                .iter()
                .enumerate()
                .map(|(o, out)| {
                    let unit = match out.pricing {
                        Pricing::Flat(price) => Some(price.times(Qty::from_int(1))),
                        _ => None,
                    };
                    let capped = contract
                        .participant_cap
                        .as_ref()
                        .is_some_and(|cap| cap.outcomes.contains(&o));
                    (unit, capped)
                })
                .collect(),
            needs_improvement: contract
                .outcomes
                .iter()
                .map(|out| {
                    out.threshold.per_cohort.is_some()
                        || out.threshold.overall.is_some()
                        || matches!(out.pricing, Pricing::Grid { .. })
                })
                .collect(),
            pending: (0..n_p).map(|_| Vec::new()).collect(),
            next_seq: 0,
            held_list: Vec::new(),
            inflow_due: Vec::new(),
            inflow_sum: vec![InflowSum::default(); contract.inflow_guarantees.len()],
            final_measure,
            any_overall: contract
                .outcomes
                .iter()
                .any(|o| o.threshold.overall.is_some()),
            enrolling,
            enrol_start,
            fixed_order,
            fixed_start,
            checkpoint_order,
            checkpoint_start,
            overall_order,
            overall_start,
            inflow_of,
            inflow_of_start,
            weights: Vec::with_capacity(16),
            parts: Vec::with_capacity(16),
            total_earned: Money::ZERO,
            total_costs: Money::ZERO,
            too_large: None,
            out: Settlement {
                paid: vec![Money::ZERO; n_parties],
                received: vec![Money::ZERO; n_parties],
                tranches: vec![TrancheResult::default(); contract.tranches.len()],
                outcomes: vec![OutcomeResult::default(); n_o],
                held: vec![Money::ZERO; n_p],
                ..Settlement::default()
            },
        };
        for (o, &(unit, _)) in s.pp_unit.iter().enumerate() {
            if let Some(u) = unit
                && u > s.pp_max_unit.0
            {
                s.pp_max_unit = (u, o as u16);
            }
        }
        s
    }

    /// The contract this settler settles.
    pub fn contract(&self) -> &'c Contract {
        self.c
    }

    fn reset(&mut self) {
        self.claim.fill(Money::ZERO);
        self.principal.fill(Money::ZERO);
        self.fee_owed.fill(Money::ZERO);
        self.deferred_owed = Money::ZERO;
        self.shared_base = Money::ZERO;
        self.cash_enterprise = Money::ZERO;
        self.account = Money::ZERO;
        self.total_earned = Money::ZERO;
        self.total_costs = Money::ZERO;
        self.too_large = None;
        self.cum_units.fill(Qty::ZERO);
        self.cum_amount.fill(Money::ZERO);
        self.cum_cohort_units.fill(Qty::ZERO);
        self.cum_achieved.fill(Qty::ZERO);
        self.sum_achieved.fill(Qty::ZERO);
        self.sum_baseline.fill(Qty::ZERO);
        self.sum_enrolled.fill(0);
        for &i in &self.pp_touched {
            self.pp_amount[i as usize] = Money::ZERO;
        }
        self.pp_touched.clear();
        for p in &mut self.pending {
            p.clear();
        }
        self.next_seq = 0;
        self.held_list.clear();
        self.inflow_due.clear();
        self.inflow_sum.fill(InflowSum::default());
        let o = &mut self.out;
        o.final_period = 0;
        o.interim = false;
        o.pending = Money::ZERO;
        o.inflow_pending = Money::ZERO;
        o.held_units.clear();
        o.pending_payments.clear();
        o.termination = None;
        o.paid.fill(Money::ZERO);
        o.received.fill(Money::ZERO);
        o.tranches.fill(TrancheResult::default());
        o.outcomes.fill(OutcomeResult::default());
        o.outcome_payments = Money::ZERO;
        o.fixed_payments = Money::ZERO;
        o.inflow_compensation = Money::ZERO;
        o.cut_by_total_cap = Money::ZERO;
        o.not_due = Money::ZERO;
        o.unpaid_costs = Money::ZERO;
        o.fees_owed = Money::ZERO;
        o.deferred_fees_owed = Money::ZERO;
        o.held.fill(Money::ZERO);
        o.enterprise_cash = Money::ZERO;
        o.unspent_returned = Money::ZERO;
    }

    #[inline(always)]
    fn emit<S: LedgerSink>(
        &mut self,
        sink: &mut S,
        period: u16,
        from: PartyId,
        to: PartyId,
        amount: Money,
        rule: Rule,
    ) {
        if amount.0 == 0 {
            return;
        }
        debug_assert!(amount.0 > 0, "ledger amounts are positive");
        self.out.paid[from] += amount;
        self.out.received[to] += amount;
        sink.line(&LedgerLine {
            period,
            from,
            to,
            amount,
            rule,
        });
    }

    /// Settles `actuals` under the contract, sending every ledger line to `sink`.
    /// The returned reference is valid until the next call.
    pub fn settle<S: LedgerSink>(
        &mut self,
        actuals: &Actuals,
        sink: &mut S,
    ) -> Result<&Settlement, SettleError> {
        self.settle_through(actuals, sink, self.c.periods)
    }

    /// Settles periods `1..=through` only (`through` is taken between 1 and T): the statement
    /// of a contract still running, from actuals reported up to `through`. Periods up to
    /// `through` are settled exactly as [`Settler::settle`] settles them. Unless the contract
    /// ends by then (T, or a termination), the settlement stops after the waterfall of
    /// `through` as an *interim* one: claims stay open, nothing is written off, no guarantee is
    /// called, and what is earned but payable later is reported as `pending`.
    pub fn settle_through<S: LedgerSink>(
        &mut self,
        actuals: &Actuals,
        sink: &mut S,
        through: u16,
    ) -> Result<&Settlement, SettleError> {
        let c = self.c;
        if !actuals.fits(c) {
            return Err(SettleError::Shape(
                "different numbers of outcomes, cohorts or periods".into(),
            ));
        }
        self.reset();
        self.per_participant_amounts(actuals);
        if self.too_large.is_some() {
            return Err(self.too_large_error());
        }
        let t_end = c.periods;
        let stop = through.clamp(1, t_end.max(1));
        let mut terminated: Option<(u16, Termination)> = None;
        let inflow = !c.inflow_guarantees.is_empty();

        for p in 1..=t_end {
            let pu = p as usize;
            // 1. accrual
            for (i, tr) in c.tranches.iter().enumerate() {
                // A settled claim accrues nothing (and skips the rounding division).
                if self.claim[i].0 != 0 {
                    let acc = self.claim[i].mul_ratio(tr.period_rate);
                    if acc > LIMIT - self.claim[i] {
                        return Err(too_large(
                            p,
                            format_args!("the claim of tranche `{}` with interest", tr.id),
                        ));
                    }
                    self.claim[i] += acc;
                    self.out.tranches[i].accrued += acc;
                }
            }
            // 2. drawdowns
            for (i, tr) in c.tranches.iter().enumerate() {
                let d = tr.drawdowns[pu];
                if d.0 > 0 {
                    self.emit(
                        sink,
                        p,
                        tr.investor,
                        c.enterprise,
                        d,
                        Rule::Drawdown { tranche: i as u16 },
                    );
                    self.claim[i] += d;
                    self.principal[i] += d;
                    self.out.tranches[i].drawn += d;
                    self.cash_enterprise += d;
                }
            }
            // 3. costs
            let et = &c.enterprise_terms;
            let fixed = et.fixed_costs[pu];
            let mut short = Money::ZERO;
            let pay = fixed.min(self.cash_enterprise);
            self.emit(sink, p, c.enterprise, c.external, pay, Rule::OperatingCost);
            self.cash_enterprise -= pay;
            short += fixed - pay;
            for k in self.enrol_start[pu]..self.enrol_start[pu + 1] {
                let ci = self.enrolling[k as usize] as usize;
                {
                    let cost = actuals
                        .cost_per_participant
                        .unwrap_or(et.per_participant_cost)
                        .times(Qty::from_int(actuals.enrolled[ci] as i64));
                    if cost > LIMIT - self.total_costs {
                        return Err(too_large(
                            p,
                            format_args!("the enterprise's participant costs"),
                        ));
                    }
                    self.total_costs += cost;
                    let pay = cost.min(self.cash_enterprise);
                    self.emit(
                        sink,
                        p,
                        c.enterprise,
                        c.external,
                        pay,
                        Rule::ParticipantCost { cohort: ci as u16 },
                    );
                    self.cash_enterprise -= pay;
                    short += cost - pay;
                }
                if inflow {
                    self.inflow_enrolled(actuals, ci, p)?;
                }
            }
            if short.0 > 0 {
                self.out.unpaid_costs += short;
                terminated = Some((p, Termination::EnterpriseOutOfCash));
            }
            // 4. measurements (outcome order, then cohort order)
            for k in self.measure_start[pu]..self.measure_start[pu + 1] {
                let (o, ci) = self.measure_cells[k as usize];
                self.measure(sink, actuals, o as usize, ci as usize, p)?;
            }
            // 5. overall-at-end thresholds for outcomes whose last measurement is now
            if !self.overall_order.is_empty() {
                for k in self.overall_start[pu]..self.overall_start[pu + 1] {
                    let o = self.overall_order[k as usize] as usize;
                    self.release_overall(sink, actuals, o, p);
                }
            }
            // 6. checkpoints
            if terminated.is_none() && !self.checkpoint_order.is_empty() {
                for j in self.checkpoint_start[pu]..self.checkpoint_start[pu + 1] {
                    let k = self.checkpoint_order[j as usize] as usize;
                    let cp = &c.checkpoints[k];
                    let o = cp.outcome;
                    let pass = match cp.test {
                        CheckpointTest::MinImprovement(floor) => {
                            improvement(
                                self.sum_achieved[o],
                                self.sum_baseline[o],
                                c.outcomes[o].direction,
                            ) >= floor
                        }
                        CheckpointTest::MinRate(floor) => {
                            // Units a participant in twelve decimals: achieved (millionths)
                            // x 1e6 / enrolled, in 128 bits (enrolled x 1e6 passes `i64` past
                            // 9.2e12 participants), saturating like `Ratio::of`.
                            let en = self.sum_enrolled[o];
                            en > 0
                                && Ratio(saturate(div_round(
                                    self.sum_achieved[o].0 as i128 * 1_000_000,
                                    en as i128,
                                ))) >= floor
                        }
                    };
                    if !pass {
                        terminated = Some((
                            p,
                            Termination::Checkpoint {
                                checkpoint: k as u16,
                            },
                        ));
                        break;
                    }
                }
            }
            if terminated.is_some() {
                // Held amounts are judged now over what was measured; everything earned is paid now.
                let held = if self.any_overall {
                    c.outcomes.len()
                } else {
                    0
                };
                for o in 0..held {
                    if self.final_measure[o] > p {
                        self.release_overall(sink, actuals, o, p);
                    }
                }
                let mut moved_any = false;
                for q in pu + 1..self.pending.len() {
                    let moved = std::mem::take(&mut self.pending[q]);
                    moved_any |= !moved.is_empty();
                    self.pending[pu].extend_from_slice(&moved);
                    self.pending[q] = moved;
                    self.pending[q].clear();
                }
                // Served in the order they were earned, as in any period (a payment earned
                // earlier but due later was appended after this period's own).
                if moved_any {
                    self.pending[pu].sort_unstable_by_key(|e| e.seq);
                }
                if inflow {
                    self.inflow_terminated(p)?;
                }
            }
            // An amount past the limit was left out of what is earned (measurements, held
            // releases): the settlement stops before anything is paid.
            if self.too_large.is_some() {
                return Err(self.too_large_error());
            }
            // 7. payments in (the enterprise's unspent capital first, where the contract ends
            // now and says so)
            let capital_back = (terminated.is_some() || p == t_end)
                && match et.return_unspent {
                    ReturnUnspent::Never => false,
                    ReturnUnspent::OnTermination => terminated.is_some(),
                    ReturnUnspent::AtEnd => true,
                };
            self.pay_in(sink, p);
            if capital_back {
                self.return_unspent(sink, p);
            }
            // 8. waterfall
            self.waterfall(sink, p);
            self.shared_base = self.account;
            self.out.held[pu] = self.account;
            // 9. end (`stop` is `t_end` unless an interim settlement stops earlier)
            if p == stop || terminated.is_some() {
                self.out.final_period = p;
                if p == t_end || terminated.is_some() {
                    self.out.termination = terminated;
                    self.guarantees(sink, p);
                } else {
                    self.stop_interim(p);
                    self.held_claims(sink);
                }
                break;
            }
        }
        // After the last period settled (an early end, an interim stop) nothing moves: the
        // account keeps what it held then.
        let f = self.out.final_period as usize;
        let last = self.out.held[f];
        self.out.held[f + 1..].fill(last);
        for i in 0..self.out.tranches.len() {
            let r = &self.out.tranches[i];
            let unrecovered = (self.unrecovered(i, r) - r.guaranteed).non_negative();
            let tr = &mut self.out.tranches[i];
            tr.outstanding = self.claim[i];
            tr.unrecovered_principal = unrecovered;
        }
        self.out.fees_owed = self.fee_owed.iter().copied().sum();
        self.out.deferred_fees_owed = self.deferred_owed;
        self.out.enterprise_cash = self.cash_enterprise;
        Ok(&self.out)
    }

    /// Pays the capital the enterprise drew and has not spent on costs back into the contract
    /// account after the period's other payments in, as far as the fees and the tranches'
    /// claims still owed need it beyond the account's cash (at most its cash: what it earned,
    /// a performance share or a remainder, it keeps), to go through this period's waterfall:
    /// all of it goes to the fees and the tranches, none to deferred fees, a performance share
    /// or the remainder.
    #[cold]
    #[inline(never)]
    fn return_unspent<S: LedgerSink>(&mut self, sink: &mut S, p: u16) {
        let c = self.c;
        let drawn: Money = self.out.tranches.iter().map(|t| t.drawn).sum();
        // All the enterprise has paid so far is its costs (fixed and per participant).
        let spent = self.out.paid[c.enterprise];
        let owed: Money = self.fee_owed.iter().copied().sum::<Money>()
            + self.claim.iter().copied().sum::<Money>();
        let back = (drawn - spent)
            .non_negative()
            .min(self.cash_enterprise)
            .min((owed - self.account).non_negative());
        self.emit(sink, p, c.enterprise, c.account, back, Rule::UnspentCapital);
        self.cash_enterprise -= back;
        self.account += back;
        self.out.unspent_returned += back;
    }

    /// Ends an interim settlement after period `p`: what is earned but payable later, and the
    /// units held for an overall threshold not judged yet. Out of line: the Monte Carlo path
    /// never comes here.
    #[cold]
    #[inline(never)]
    fn stop_interim(&mut self, p: u16) {
        self.out.interim = true;
        self.out.pending = self.pending[p as usize + 1..]
            .iter()
            .flatten()
            .map(|x| x.amount)
            .sum();
        self.out.inflow_pending = self
            .inflow_due
            .iter()
            .filter(|d| d.period > p)
            .map(|d| d.amount)
            .sum();
        self.out.held_units.resize(self.c.outcomes.len(), Qty::ZERO);
        for h in &self.held_list {
            self.out.held_units[h.outcome as usize] += h.units;
        }
        // Each payer's part of what falls due later, split as the payment will be.
        let c = self.c;
        let mut parts = Vec::new();
        for (q, due) in self.pending.iter().enumerate().skip(p as usize + 1) {
            for x in due {
                let out = &c.outcomes[x.outcome as usize];
                parts.clear();
                parts.resize(out.payers.len(), Money::ZERO);
                self.payer_weights[x.outcome as usize].split(x.amount, &mut parts);
                for (&(payer, _), &part) in out.payers.iter().zip(&parts) {
                    self.out.pending_payments.push(PendingPayment {
                        period: q as u16,
                        payer,
                        amount: part,
                        rule: Rule::OutcomePayment {
                            outcome: x.outcome,
                            cohort: x.cohort,
                        },
                    });
                }
            }
        }
        let mut later: Vec<&InflowDue> = self.inflow_due.iter().filter(|d| d.period > p).collect();
        later.sort_by_key(|d| d.period);
        for d in later {
            let payer = c.inflow_guarantees[d.guarantee as usize].payer;
            self.out.pending_payments.push(PendingPayment {
                period: d.period,
                payer,
                amount: d.amount,
                rule: Rule::InflowGuarantee {
                    guarantee: d.guarantee,
                    cohort: d.cohort,
                },
            });
        }
    }

    /// Inflow guarantees: cohort `ci` enrolled in period `p`; a guarantee covering it judges
    /// the cohort (per cohort) or, at its last cohort, the cohorts together (overall).
    #[cold]
    #[inline(never)]
    fn inflow_enrolled(&mut self, actuals: &Actuals, ci: usize, p: u16) -> Result<(), SettleError> {
        let c = self.c;
        let target = c.cohorts[ci].size as i64;
        let enrolled = actuals.enrolled[ci] as i64;
        for j in self.inflow_of_start[ci]..self.inflow_of_start[ci + 1] {
            let g = self.inflow_of[j as usize] as usize;
            let ig = &c.inflow_guarantees[g];
            let (cohort, t, e) = match ig.judged {
                InflowJudged::PerCohort => (Some(ci as u16), target, enrolled),
                InflowJudged::Overall => {
                    let sum = &mut self.inflow_sum[g];
                    sum.target += target;
                    sum.enrolled += enrolled;
                    sum.cohorts += 1;
                    // Judged when the last of its cohorts enrols (cohorts need not be listed
                    // in enrolment order).
                    if sum.cohorts < ig.cohorts.len() {
                        continue;
                    }
                    sum.judged = true;
                    (None, sum.target, sum.enrolled)
                }
            };
            self.inflow_earn(g, cohort, t, e, p + ig.pay_lag, p)?;
        }
        Ok(())
    }

    /// Books guarantee `g`'s compensation for `enrolled` against `target`, payable in `at`.
    fn inflow_earn(
        &mut self,
        g: usize,
        cohort: Option<u16>,
        target: i64,
        enrolled: i64,
        at: u16,
        p: u16,
    ) -> Result<(), SettleError> {
        let ig = &self.c.inflow_guarantees[g];
        let room = LIMIT - self.total_inflow();
        let amount = ig.compensation(target, enrolled, room).ok_or_else(|| {
            too_large(
                p,
                format_args!(
                    "the inflow compensation earned so far (with inflow guarantee {}'s)",
                    g + 1
                ),
            )
        })?;
        if amount.0 > 0 {
            self.inflow_due.push(InflowDue {
                period: at,
                guarantee: g as u16,
                cohort,
                amount,
            });
        }
        Ok(())
    }

    /// Inflow compensation earned so far, paid or not.
    fn total_inflow(&self) -> Money {
        self.out.inflow_compensation + self.inflow_due.iter().map(|d| d.amount).sum::<Money>()
    }

    /// An early termination in period `p`: a guarantee judged overall that has not been is
    /// judged over the covered cohorts enrolled by now, and all compensation earned is due now.
    #[cold]
    #[inline(never)]
    fn inflow_terminated(&mut self, p: u16) -> Result<(), SettleError> {
        for g in 0..self.inflow_sum.len() {
            let sum = self.inflow_sum[g];
            if self.c.inflow_guarantees[g].judged == InflowJudged::Overall
                && !sum.judged
                && sum.cohorts > 0
            {
                self.inflow_sum[g].judged = true;
                self.inflow_earn(g, None, sum.target, sum.enrolled, p, p)?;
            }
        }
        for d in &mut self.inflow_due {
            d.period = d.period.min(p);
        }
        Ok(())
    }

    /// Pays the inflow compensation due in period `p`, in the order earned.
    #[cold]
    #[inline(never)]
    fn inflow_pay<S: LedgerSink>(&mut self, sink: &mut S, p: u16) {
        let c = self.c;
        let mut k = 0;
        while k < self.inflow_due.len() {
            let d = self.inflow_due[k];
            if d.period != p {
                k += 1;
                continue;
            }
            self.inflow_due.remove(k);
            let ig = &c.inflow_guarantees[d.guarantee as usize];
            let rule = Rule::InflowGuarantee {
                guarantee: d.guarantee,
                cohort: d.cohort,
            };
            self.emit(sink, p, ig.payer, ig.to, d.amount, rule);
            if ig.to == c.enterprise {
                self.cash_enterprise += d.amount;
            } else {
                self.account += d.amount;
            }
            self.out.inflow_compensation += d.amount;
        }
    }

    /// Per-participant payments: each participant's achievements in period order, each paid at
    /// its price but never beyond the participant's remaining cap.
    fn per_participant_amounts(&mut self, actuals: &Actuals) {
        let Some(cap) = &self.c.participant_cap else {
            return;
        };
        let n_c = self.c.cohorts.len();
        let n_p = self.c.periods as usize + 1;
        let per_outcome = n_c * n_p;
        // Each cell is a sum of `count x pay` over events, each `pay` at most the largest unit
        // amount: bounding them all at once lets the loop below go unchecked.
        let (max_unit, max_o) = self.pp_max_unit;
        if actuals
            .participant_events()
            .saturating_mul(max_unit.0 as u128)
            > LIMIT.0 as u128
        {
            let p = actuals
                .classes()
                .first()
                .map_or(1, |c| actuals.event_table(c)[0].0);
            self.too_large = Some((p, max_o, u16::MAX));
            return;
        }
        for class in actuals.classes() {
            let mut cum = Money::ZERO;
            let base = class.cohort as usize * n_p;
            let table = actuals.event_table(class);
            let mut one = |(p, o): (u16, u16)| {
                let (Some(full), capped) = self.pp_unit[o as usize] else {
                    return;
                };
                let pay = if capped {
                    full.min((cap.amount - cum).non_negative())
                } else {
                    full
                };
                cum += pay;
                let i = o as usize * per_outcome + base + p as usize;
                if self.pp_amount[i].0 == 0 {
                    self.pp_touched.push(i as u32);
                }
                self.pp_amount[i] += Money(pay.0 * class.count as i64);
            };
            if class.mask == ALL_EVENTS {
                table.iter().for_each(|&e| one(e));
            } else {
                // The achieved events, lowest bit (earliest) first.
                let mut m = class.mask;
                while m != 0 {
                    one(table[m.trailing_zeros() as usize]);
                    m &= m - 1;
                }
            }
        }
    }

    /// The error for `too_large` (off the hot path).
    #[cold]
    #[inline(never)]
    fn too_large_error(&self) -> SettleError {
        let Some((period, o, ci)) = self.too_large else {
            unreachable!("only called with a limit passed");
        };
        let out = &self.c.outcomes[o as usize].id;
        if ci == u16::MAX {
            SettleError::TooLarge {
                what: format!(
                    "the per-participant payments could pass 100,000,000,000,000 (currency units): participants x achievements x the largest amount for one (outcome `{out}`)"
                ),
                period,
            }
        } else {
            let cohort = &self.c.cohorts[ci as usize].id;
            too_large(
                period,
                format_args!("the outcome payments earned (outcome `{out}`, cohort `{cohort}`)"),
            )
        }
    }

    #[inline]
    fn measure<S: LedgerSink>(
        &mut self,
        sink: &mut S,
        actuals: &Actuals,
        o: usize,
        ci: usize,
        p: u16,
    ) -> Result<(), SettleError> {
        let c = self.c;
        let out = &c.outcomes[o];
        let n_c = c.cohorts.len();
        let oc = o * n_c + ci;
        let enrolled = actuals.enrolled[ci] as i64;
        let mut achieved = actuals
            .units_in(actuals.cell(o, ci, p as usize))
            .max(Qty::ZERO);
        if !out.per_participant {
            // Chained: cumulative units never exceed the prerequisite's; a person counts once.
            if let Some(r) = out.requires {
                let room = self.cum_achieved[r * n_c + ci] - self.cum_achieved[oc];
                achieved = achieved.min(room.max(Qty::ZERO));
            }
            if out.kind == crate::contract::OutcomeKind::Count && !out.repeatable {
                let room = Qty::from_int(enrolled) - self.cum_achieved[oc];
                achieved = achieved.min(room.max(Qty::ZERO));
            }
        }
        self.cum_achieved[oc] += achieved;
        if p == out.first_measure(c.cohorts[ci].enrol_period) {
            self.sum_enrolled[o] += enrolled;
        }
        let baseline = match &out.baseline {
            Baseline::None => Qty::ZERO,
            Baseline::Rate(r) => rate_baseline(enrolled, *r),
            Baseline::Forecast(v) => match actuals
                .baseline_in(actuals.cell(o, ci, p as usize))
                .or(v[ci])
            {
                Some(b) => b,
                None => return Err(self.missing(o, ci, p)),
            },
            Baseline::ControlGroup => match actuals.baseline_in(actuals.cell(o, ci, p as usize)) {
                Some(rate) => Qty::from_int(enrolled).mul_ratio(rate_of(rate)),
                None => return Err(self.missing(o, ci, p)),
            },
        };
        // Each cell is at most ~4.3e9 units, so checking the running sums keeps every unit
        // total (these, the cumulative and payable units) far inside `i64`.
        if achieved > UNIT_LIMIT - self.sum_achieved[o]
            || baseline > UNIT_LIMIT - self.sum_baseline[o]
        {
            return Err(too_many_units(p, &out.id));
        }
        self.sum_achieved[o] += achieved;
        self.sum_baseline[o] += baseline;
        self.out.outcomes[o].achieved += achieved;
        self.out.outcomes[o].baseline += baseline;
        let payable = match out.direction {
            Direction::Increase => achieved - baseline,
            Direction::Decrease => {
                // A measurement the actuals cannot have reported would pay the whole baseline.
                if p > actuals.reported_through && !out.per_participant {
                    return Err(self.unreported(actuals, o, ci, p));
                }
                baseline - achieved
            }
        }
        .max(Qty::ZERO);
        // Only thresholds and grids look at the improvement (a division in 128 bits).
        let imp = if self.needs_improvement[o] {
            Some(improvement(achieved, baseline, out.direction))
        } else {
            None
        };
        let th = &out.threshold;
        let pay_now = match th.per_cohort {
            Some(level) => imp.unwrap_or(Ratio::ZERO) >= level,
            None => th.overall.is_none(),
        };
        let m = || Held {
            outcome: o as u16,
            cohort: ci as u16,
            period: p,
            achieved,
            baseline,
            units: payable,
            improvement: imp,
        };
        if pay_now {
            let pay_at = p + out.pay_lag;
            self.make_payable(
                sink, actuals, o, ci, p, pay_at, payable, imp, achieved, baseline,
            );
        } else if th.overall.is_some() {
            self.held_list.push(m());
        } else {
            sink.claim(&self.unpaid_claim(m(), ClaimVerdict::BelowThreshold));
        }
        Ok(())
    }

    /// The claim of measurement `m`, judged to earn nothing (`verdict`).
    #[inline(always)]
    fn unpaid_claim(&self, m: Held, verdict: ClaimVerdict) -> Claim {
        Claim {
            outcome: m.outcome,
            cohort: m.cohort,
            measured: m.period,
            achieved: m.achieved,
            baseline: m.baseline,
            improvement: m.improvement,
            payable: m.units,
            units: Qty::ZERO,
            amount: Money::ZERO,
            earned: Money::ZERO,
            due: 0,
            verdict,
            payment: None,
        }
    }

    /// The claims of the measurements an interim settlement still holds for an overall
    /// threshold.
    #[cold]
    #[inline(never)]
    fn held_claims<S: LedgerSink>(&self, sink: &mut S) {
        for &h in &self.held_list {
            sink.claim(&self.unpaid_claim(h, ClaimVerdict::Held));
        }
    }

    #[cold]
    fn unreported(&self, actuals: &Actuals, o: usize, ci: usize, p: u16) -> SettleError {
        SettleError::Unreported {
            outcome: self.c.outcomes[o].id.clone(),
            cohort: self.c.cohorts[ci].id.clone(),
            period: p,
            reported: actuals.reported_through,
        }
    }

    fn missing(&self, o: usize, ci: usize, p: u16) -> SettleError {
        SettleError::MissingBaseline {
            outcome: self.c.outcomes[o].id.clone(),
            cohort: self.c.cohorts[ci].id.clone(),
            period: p,
        }
    }

    /// Judges the overall-at-end threshold of outcome `o` at period `p` and releases or drops
    /// the held measurements.
    fn release_overall<S: LedgerSink>(
        &mut self,
        sink: &mut S,
        actuals: &Actuals,
        o: usize,
        p: u16,
    ) {
        let out = &self.c.outcomes[o];
        let Some(level) = out.threshold.overall else {
            return;
        };
        let pass = improvement(self.sum_achieved[o], self.sum_baseline[o], out.direction) >= level;
        let mut i = 0;
        while i < self.held_list.len() {
            let h = self.held_list[i];
            if h.outcome as usize != o {
                i += 1;
                continue;
            }
            self.held_list.remove(i); // keep measurement order
            if pass {
                let pay_at = (p + out.pay_lag).min(self.c.periods);
                self.make_payable(
                    sink,
                    actuals,
                    o,
                    h.cohort as usize,
                    h.period,
                    pay_at,
                    h.units,
                    h.improvement,
                    h.achieved,
                    h.baseline,
                );
            } else {
                sink.claim(&self.unpaid_claim(h, ClaimVerdict::OverallNotMet));
            }
        }
    }

    /// Applies unit caps, pricing and the amount cap, and schedules the payment.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn make_payable<S: LedgerSink>(
        &mut self,
        sink: &mut S,
        actuals: &Actuals,
        o: usize,
        ci: usize,
        measured: u16,
        pay_at: u16,
        payable: Qty,
        imp: Option<Ratio>,
        achieved: Qty,
        baseline: Qty,
    ) {
        let c = self.c;
        let out = &c.outcomes[o];
        let n_c = c.cohorts.len();
        let oc = o * n_c + ci;
        let enrolled = actuals.enrolled[ci] as i64;
        let mut allowed = payable;
        if let Some(mu) = out.caps.max_units {
            allowed = allowed.min((mu - self.cum_units[o]).max(Qty::ZERO));
        }
        if let Some(ms) = out.caps.max_share {
            let mut lim = Qty::from_int(enrolled).mul_ratio(ms);
            if out.kind == crate::contract::OutcomeKind::Count {
                // A share of participants is a whole number of people, rounded down.
                lim = Qty::from_int(lim.0 / 1_000_000);
            }
            allowed = allowed.min((lim - self.cum_cohort_units[oc]).max(Qty::ZERO));
        }
        let mut amount = if out.per_participant {
            let n_p = c.periods as usize + 1;
            let full = self.pp_amount[oc * n_p + measured as usize];
            if allowed < payable && payable.0 > 0 {
                // At most `full`, so it fits.
                Money(div_round(full.0 as i128 * allowed.0 as i128, payable.0 as i128) as i64)
            } else {
                full
            }
        } else {
            match &out.pricing {
                Pricing::Flat(price) => price.times(allowed),
                Pricing::Tiers(tiers) => {
                    let mut acc: i128 = 0;
                    for_each_tier(tiers, self.cum_units[o], allowed, |take, price| {
                        acc += take.0 as i128 * price.0 as i128;
                    });
                    Money(saturate(div_round(acc, 10_000_000_000)))
                }
                Pricing::Grid { kind, points, per } => {
                    let v = grid_value(*kind, points, imp.unwrap_or(Ratio::ZERO));
                    match per {
                        GridPer::Participant => v.times(Qty::from_int(enrolled)),
                        GridPer::Cohort => v.times(Qty::from_int(1)),
                    }
                }
            }
        };
        self.cum_units[o] += allowed;
        self.cum_cohort_units[oc] += allowed;
        let at_prices = amount;
        if let Some(ma) = out.caps.max_amount {
            amount = amount.min((ma - self.cum_amount[o]).non_negative());
        }
        if amount > LIMIT - self.total_earned {
            if self.too_large.is_none() {
                self.too_large = Some((measured, o as u16, ci as u16));
            }
            return;
        }
        self.total_earned += amount;
        self.cum_amount[o] += amount;
        let r = &mut self.out.outcomes[o];
        r.payable_units += allowed;
        r.earned += amount;
        sink.claim(&Claim {
            outcome: o as u16,
            cohort: ci as u16,
            measured,
            achieved,
            baseline,
            improvement: imp,
            payable,
            units: allowed,
            amount: at_prices,
            earned: amount,
            due: pay_at,
            verdict: ClaimVerdict::Earned,
            payment: (amount.0 > 0).then_some(self.next_seq),
        });
        if amount.0 > 0 {
            self.pending[pay_at as usize].push(Pending {
                outcome: o as u16,
                cohort: ci as u16,
                seq: self.next_seq,
                amount,
                capped: amount,
            });
            self.next_seq += 1;
        }
    }

    /// What the waterfall still owes: fees, claims, deferred fees, less cash held.
    fn due(&self) -> Money {
        let owed: Money = self.fee_owed.iter().copied().sum::<Money>()
            + self.claim.iter().copied().sum::<Money>()
            + self.deferred_owed;
        (owed - self.account).non_negative()
    }

    // Called once, in the period loop: inlined there (as a call it cost 2% of a settlement).
    #[inline(always)]
    fn pay_in<S: LedgerSink>(&mut self, sink: &mut S, p: u16) {
        let c = self.c;
        let pu = p as usize;
        // Fees and deferred fees falling due now count as owed before pay-only-due is judged.
        for (f, fee) in c.fees.iter().enumerate() {
            self.fee_owed[f] += fee.schedule[pu];
        }
        self.deferred_owed += c.enterprise_terms.deferred_fees[pu];
        let fixed = if self.fixed_order.is_empty() {
            0..0
        } else {
            self.fixed_start[pu]..self.fixed_start[pu + 1]
        };
        for k in fixed {
            let fp = &c.fixed_payments[self.fixed_order[k as usize] as usize];
            self.emit(sink, p, fp.payer, c.account, fp.amount, Rule::FixedPayment);
            self.account += fp.amount;
            self.out.fixed_payments += fp.amount;
        }
        if !self.inflow_due.is_empty() {
            self.inflow_pay(sink, p);
        }
        let mut pend = std::mem::take(&mut self.pending[pu]);
        if pend.is_empty() {
            self.pending[pu] = pend;
            return;
        }
        // Total cap.
        if let Some(cap) = c.total_cap {
            let mut room = (cap - self.out.outcome_payments).non_negative();
            for e in pend.iter_mut() {
                let a = e.amount.min(room);
                self.out.cut_by_total_cap += e.amount - a;
                e.amount = a;
                e.capped = a;
                room -= a;
            }
        }
        // Pay only what is due.
        if c.pay_only_due {
            let total: Money = pend.iter().map(|e| e.amount).sum();
            let due = self.due();
            if total > due {
                self.weights.clear();
                self.weights.extend(pend.iter().map(|e| e.amount.0));
                self.parts.clear();
                self.parts.resize(pend.len(), Money::ZERO);
                split_largest_remainder(due, &self.weights, &mut self.parts);
                for (e, &part) in pend.iter_mut().zip(self.parts.iter()) {
                    self.out.not_due += e.amount - part;
                    e.amount = part;
                }
            }
        }
        // The payers' parts go to a buffer on the stack when they fit (every split writes all
        // of its parts), to `parts` otherwise; `parts` is taken out of `self` for the loop.
        let mut heap = std::mem::take(&mut self.parts);
        let mut stack = [Money::ZERO; 16];
        for e in pend.iter() {
            sink.claim_paid(&ClaimPayment {
                payment: e.seq,
                period: p,
                after_total_cap: e.capped,
                paid: e.amount,
            });
            if e.amount.0 == 0 {
                continue;
            }
            let out = &c.outcomes[e.outcome as usize];
            let n = out.payers.len();
            let parts: &mut [Money] = if n <= stack.len() {
                &mut stack[..n]
            } else {
                heap.clear();
                heap.resize(n, Money::ZERO);
                &mut heap
            };
            self.payer_weights[e.outcome as usize].split(e.amount, parts);
            for (&(payer, _), &part) in out.payers.iter().zip(parts.iter()) {
                self.emit(
                    sink,
                    p,
                    payer,
                    c.account,
                    part,
                    Rule::OutcomePayment {
                        outcome: e.outcome,
                        cohort: e.cohort,
                    },
                );
            }
            self.account += e.amount;
            self.out.outcome_payments += e.amount;
            self.out.outcomes[e.outcome as usize].paid += e.amount;
        }
        self.parts = heap;
        pend.clear();
        self.pending[pu] = pend;
    }

    fn waterfall<S: LedgerSink>(&mut self, sink: &mut S, p: u16) {
        // With no cash in the account every step below pays 0 (the account is never negative
        // and nothing owed is): nothing to do.
        if self.account.0 == 0 {
            return;
        }
        let c = self.c;
        // Fees first.
        for f in 0..c.fees.len() {
            let pay = self.fee_owed[f].min(self.account);
            self.emit(
                sink,
                p,
                c.account,
                c.fees[f].payee,
                pay,
                Rule::Fee { fee: f as u16 },
            );
            self.fee_owed[f] -= pay;
            self.account -= pay;
        }
        // Tranches by rank; equal ranks pro rata to their claims.
        for g in 0..self.rank_groups.len() {
            if self.account.0 == 0 {
                break;
            }
            let n = self.rank_groups[g].len();
            let total: Money = self.rank_groups[g].iter().map(|&i| self.claim[i]).sum();
            let pay = total.min(self.account);
            if pay.0 == 0 {
                continue;
            }
            self.parts.clear();
            self.parts.resize(n, Money::ZERO);
            if n == 1 {
                self.parts[0] = pay;
            } else {
                self.weights.clear();
                for &i in &self.rank_groups[g] {
                    self.weights.push(self.claim[i].0);
                }
                split_largest_remainder(pay, &self.weights, &mut self.parts);
            }
            for k in 0..n {
                let i = self.rank_groups[g][k];
                let part = self.parts[k];
                debug_assert!(part <= self.claim[i]);
                if self.interest_first && c.tranches[i].allocation == Allocation::InterestFirst {
                    // The interest (or return) accrued and unpaid is the claim less the
                    // principal outstanding; the part pays it first, the rest repays principal.
                    let interest = (self.claim[i] - self.principal[i]).non_negative();
                    let repaid = (part - interest).non_negative().min(self.principal[i]);
                    self.principal[i] -= repaid;
                }
                let investor = c.tranches[i].investor;
                self.emit(
                    sink,
                    p,
                    c.account,
                    investor,
                    part,
                    Rule::Distribution { tranche: i as u16 },
                );
                self.claim[i] -= part;
                self.out.tranches[i].distributed += part;
            }
            self.account -= pay;
        }
        // Deferred fees.
        let pay = self.deferred_owed.min(self.account);
        self.emit(sink, p, c.account, c.enterprise, pay, Rule::DeferredFee);
        self.deferred_owed -= pay;
        self.account -= pay;
        self.cash_enterprise += pay;
        // Performance share: only on surplus not shared before (cash held from earlier periods
        // has already had its share taken).
        let fresh = (self.account - self.shared_base).non_negative();
        let ps = c.enterprise_terms.performance_share;
        let share = if fresh.0 == 0 || ps.0 == 0 {
            Money::ZERO
        } else {
            fresh.mul_ratio(ps).min(self.account)
        };
        self.emit(
            sink,
            p,
            c.account,
            c.enterprise,
            share,
            Rule::PerformanceShare,
        );
        self.account -= share;
        self.cash_enterprise += share;
        // Remainder.
        if self.account.0 > 0 {
            match c.remainder {
                Remainder::Hold => {}
                Remainder::Enterprise => {
                    let r = self.account;
                    self.emit(sink, p, c.account, c.enterprise, r, Rule::Remainder);
                    self.cash_enterprise += r;
                    self.account = Money::ZERO;
                }
                Remainder::ReturnToPayers => {
                    let r = self.account;
                    self.weights.clear();
                    self.parts.clear();
                    // In proportion to what each payer has paid into the contract so far.
                    for (i, party) in c.parties.iter().enumerate() {
                        if party.role == crate::contract::Role::Payer {
                            self.weights.push(self.out.paid[i].0);
                            self.parts.push(Money::ZERO);
                        }
                    }
                    split_largest_remainder(r, &self.weights, &mut self.parts);
                    let mut k = 0;
                    for i in 0..c.parties.len() {
                        if c.parties[i].role == crate::contract::Role::Payer {
                            let part = self.parts[k];
                            self.emit(sink, p, c.account, i, part, Rule::Remainder);
                            k += 1;
                        }
                    }
                    self.account = Money::ZERO;
                }
            }
        }
    }

    /// Tranche `i`'s principal not repaid by distributions (guarantee calls not counted), by
    /// its allocation.
    #[inline]
    fn unrecovered(&self, i: usize, r: &TrancheResult) -> Money {
        match self.c.tranches[i].allocation {
            Allocation::PrincipalFirst => (r.drawn - r.distributed).non_negative(),
            // The principal outstanding, with any call added back.
            Allocation::InterestFirst => self.principal[i] + r.guaranteed,
        }
    }

    fn guarantees<S: LedgerSink>(&mut self, sink: &mut S, p: u16) {
        let c = self.c;
        for (i, tr) in c.tranches.iter().enumerate() {
            let Some(g) = &tr.guarantee else { continue };
            let r = &self.out.tranches[i];
            let unrecovered = self.unrecovered(i, r);
            let mut call = unrecovered;
            if let Some(l) = g.limit {
                call = call.min(l);
            }
            if let Some(f) = g.fraction {
                call = call.min(r.drawn.mul_ratio(f));
            }
            if call.0 == 0 {
                continue;
            }
            self.parts.clear();
            self.parts.resize(g.guarantors.len(), Money::ZERO);
            self.guarantor_weights[i].split(call, &mut self.parts);
            for k in 0..g.guarantors.len() {
                let part = self.parts[k];
                self.emit(
                    sink,
                    p,
                    g.guarantors[k].0,
                    tr.investor,
                    part,
                    Rule::GuaranteeCall { tranche: i as u16 },
                );
            }
            self.out.tranches[i].guaranteed += call;
            self.claim[i] = (self.claim[i] - call).non_negative();
            self.principal[i] = (self.principal[i] - call).non_negative();
        }
    }
}

/// The baseline units of a cohort of `enrolled` under a fixed baseline rate `r`, rounded half
/// away from zero to the unit's six decimals.
#[inline]
pub fn rate_baseline(enrolled: i64, r: Ratio) -> Qty {
    // `Qty::from_int(enrolled).mul_ratio(r)`: enrolled x 1e6 x r / 1e12 rounded is the same
    // rational, so the same integer, as enrolled x r / 1e6 rounded (and the product stays in
    // 64 bits).
    // Saturating: a baseline past `i64` (a rate of thousands of units a participant in a
    // cohort of millions) stays the largest, and the unit limit refuses it.
    let q = div_round(enrolled as i128 * r.0 as i128, 1_000_000);
    Qty(q.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Relative improvement of `achieved` over `baseline` in the outcome's direction.
/// A zero baseline gives an unbounded improvement when anything improved, else zero.
pub fn improvement(achieved: Qty, baseline: Qty, dir: Direction) -> Ratio {
    let diff = match dir {
        Direction::Increase => achieved.0 - baseline.0,
        Direction::Decrease => baseline.0 - achieved.0,
    };
    if baseline.0 <= 0 {
        return if diff > 0 {
            Ratio(i64::MAX)
        } else {
            Ratio::ZERO
        };
    }
    let r = div_round(diff as i128 * 1_000_000_000_000, baseline.0 as i128);
    Ratio(r.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Splits `units` paid for, counted from `from` units paid for before them, over volume
/// `tiers`: `f(units in the tier, its price)` for each tier they reach, in order.
#[inline(always)]
pub fn for_each_tier(
    tiers: &[crate::contract::Tier],
    from: Qty,
    units: Qty,
    mut f: impl FnMut(Qty, Price),
) {
    let mut from = from;
    let mut left = units;
    for tier in tiers {
        if left.0 <= 0 {
            break;
        }
        let room = match tier.up_to {
            Some(u) => (u - from).max(Qty::ZERO),
            None => left,
        };
        let take = left.min(room);
        f(take, tier.price);
        from += take;
        left = left - take;
    }
}

/// The amount per enrolled participant a grid gives at improvement `imp`.
pub fn grid_value(kind: GridKind, points: &[(Ratio, Price)], imp: Ratio) -> Price {
    let Some(first) = points.first() else {
        return Price(0);
    };
    if imp < first.0 {
        return Price(0);
    }
    match kind {
        GridKind::Step => points
            .iter()
            .rev()
            .find(|(x, _)| *x <= imp)
            .map(|(_, v)| *v)
            .unwrap_or(Price(0)),
        GridKind::Linear => {
            for w in points.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                if imp >= x0 && imp <= x1 {
                    if x1 == x0 {
                        return y1;
                    }
                    let num = (y1.0 - y0.0) as i128 * (imp.0 - x0.0) as i128;
                    return Price(y0.0 + div_round(num, (x1.0 - x0.0) as i128) as i64);
                }
            }
            points.last().map(|l| l.1).unwrap_or(Price(0))
        }
    }
}
