//! Settlement statements: the ledger and results rendered for people (text) and machines
//! (CSV, JSON). Rendering produces strings; writing them anywhere is the caller's business.

use crate::contract::{Contract, Pricing, Role};
use crate::money::{Money, Price, Qty, Ratio, div_round, format_thousands};
use crate::settlement::{Claim, ClaimVerdict, LedgerLine, Rule, Settlement, Termination};
use serde::Serialize;
use std::fmt::Write;

/// Describes the rule of a ledger line in words, e.g. `outcome payment: job-start, cohort c1`.
pub fn describe_rule(c: &Contract, rule: &Rule) -> String {
    match *rule {
        Rule::Drawdown { tranche } => format!("drawdown: {}", c.tranches[tranche as usize].id),
        Rule::OperatingCost => "operating cost".into(),
        Rule::ParticipantCost { cohort } => {
            format!("participant cost: cohort {}", c.cohorts[cohort as usize].id)
        }
        Rule::OutcomePayment { outcome, cohort } => format!(
            "outcome payment: {}, cohort {}",
            c.outcomes[outcome as usize].id, c.cohorts[cohort as usize].id
        ),
        Rule::FixedPayment => "fixed payment".into(),
        Rule::InflowGuarantee { guarantee, cohort } => match cohort {
            Some(k) => format!(
                "inflow guarantee {}: cohort {}",
                guarantee + 1,
                c.cohorts[k as usize].id
            ),
            None => format!("inflow guarantee {}: all its cohorts", guarantee + 1),
        },
        Rule::Fee { fee } => format!("fee: {}", c.fees[fee as usize].id),
        Rule::Distribution { tranche } => {
            format!("distribution: {}", c.tranches[tranche as usize].id)
        }
        Rule::DeferredFee => "deferred fee".into(),
        Rule::PerformanceShare => "performance share".into(),
        Rule::Remainder => "remainder".into(),
        Rule::GuaranteeCall { tranche } => {
            format!("guarantee call: {}", c.tranches[tranche as usize].id)
        }
        Rule::UnspentCapital => "unspent capital returned".into(),
    }
}

/// An inflow guarantee in words, e.g. `gemeente pays 1,500.00 per participant short of 90% of
/// each cohort's target (cohorts c1, c2), into the contract account 1 period(s) after enrolment`.
pub fn describe_inflow_guarantee(c: &Contract, g: &crate::contract::InflowGuarantee) -> String {
    use crate::contract::InflowJudged;
    let share = (g.share.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED).normalize();
    let cohorts: Vec<&str> = g
        .cohorts
        .iter()
        .map(|&k| c.cohorts[k].id.as_str())
        .collect();
    let per = g.per_missing.to_decimal().normalize();
    let per = Money::from_decimal(per)
        .filter(|m| m.to_decimal() == per)
        .map_or_else(|| per.to_string(), format_thousands);
    format!(
        "{} pays {per} per participant short of {share}% of {} (cohorts {}), to {}{}",
        c.parties[g.payer].id,
        match g.judged {
            InflowJudged::PerCohort => "each cohort's target",
            InflowJudged::Overall => "the cohorts' targets together",
        },
        cohorts.join(", "),
        if g.to == c.enterprise {
            "the enterprise"
        } else {
            "the contract account"
        },
        {
            let when = match g.judged {
                InflowJudged::PerCohort => "enrolment",
                InflowJudged::Overall => "the last of them enrols",
            };
            match g.pay_lag {
                0 => format!(
                    " when {}",
                    if g.judged == InflowJudged::PerCohort {
                        "it enrols"
                    } else {
                        "the last of them enrols"
                    }
                ),
                1 => format!(" 1 period after {when}"),
                n => format!(" {n} periods after {when}"),
            }
        }
    )
}

fn rule_name(rule: &Rule) -> &'static str {
    match rule {
        Rule::Drawdown { .. } => "drawdown",
        Rule::OperatingCost => "operating-cost",
        Rule::ParticipantCost { .. } => "participant-cost",
        Rule::OutcomePayment { .. } => "outcome-payment",
        Rule::FixedPayment => "fixed-payment",
        Rule::InflowGuarantee { .. } => "inflow-guarantee",
        Rule::Fee { .. } => "fee",
        Rule::Distribution { .. } => "distribution",
        Rule::DeferredFee => "deferred-fee",
        Rule::PerformanceShare => "performance-share",
        Rule::Remainder => "remainder",
        Rule::GuaranteeCall { .. } => "guarantee-call",
        Rule::UnspentCapital => "unspent-capital",
    }
}

fn termination_text(c: &Contract, s: &Settlement) -> String {
    match s.termination {
        None if s.interim => format!(
            "is settled through period {} of {} only (INTERIM: claims stay open; nothing is written off and no guarantee is called before the contract ends)",
            s.final_period, c.periods
        ),
        None => format!("ran to its last period ({})", s.final_period),
        Some((p, Termination::Checkpoint { checkpoint })) => {
            let ck = &c.checkpoints[checkpoint as usize];
            format!(
                "TERMINATED EARLY in period {p}: checkpoint on `{}` not met",
                c.outcomes[ck.outcome].id
            )
        }
        Some((p, Termination::EnterpriseOutOfCash)) => format!(
            "TERMINATED EARLY in period {p}: the enterprise ran out of cash (unpaid costs {})",
            format_thousands(s.unpaid_costs)
        ),
    }
}

/// Net cash flow per period (rows 0..=T, index 0 unused) and party (received minus paid).
pub fn flows_by_period(c: &Contract, ledger: &[LedgerLine]) -> Vec<Vec<Money>> {
    let mut f = vec![vec![Money::ZERO; c.parties.len()]; c.periods as usize + 1];
    for l in ledger {
        f[l.period as usize][l.from] -= l.amount;
        f[l.period as usize][l.to] += l.amount;
    }
    f
}

/// A plain-text table: left-aligned label columns, right-aligned figures.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    left: usize,
    /// Whether the last column (notes in words) is left-aligned too.
    last_left: bool,
}

impl Table {
    /// A table with these headings; the first `left` columns are left-aligned.
    pub fn new(head: &[&str], left: usize) -> Self {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            left,
            last_left: false,
        }
    }
    /// The same table with its last column (notes in words) left-aligned.
    pub fn last_left(mut self) -> Self {
        self.last_left = true;
        self
    }
    /// Adds a row.
    pub fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }
    /// Appends the table to `out`.
    pub fn render(&self, out: &mut String) {
        let n = self.head.len();
        let mut w = vec![0usize; n];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, cell) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(cell.chars().count());
            }
        }
        let line = |out: &mut String, r: &Vec<String>| {
            let mut s = String::new();
            for (i, cell) in r.iter().enumerate().take(n) {
                if i > 0 {
                    s.push_str("  ");
                }
                if i < self.left || (self.last_left && i + 1 == n) {
                    let _ = write!(s, "{:<width$}", cell, width = w[i]);
                } else {
                    let _ = write!(s, "{:>width$}", cell, width = w[i]);
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(out, &self.head);
        let total: usize = w.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &self.rows {
            line(out, r);
        }
    }
}

fn pct(r: crate::money::Ratio) -> String {
    let v = r.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED;
    format!("{}%", v.round_dp(2).normalize())
}

/// A cohort's enrolment as a settlement used it: reported in the actuals (an `enrolled` row)
/// or, without one, its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CohortEnrolment {
    /// The cohort's id.
    pub id: String,
    /// The period it enrols in.
    pub enrol_period: u16,
    /// Its target (`size`).
    pub target: u32,
    /// The enrolment the settlement used.
    pub enrolled: u32,
    /// Whether the actuals reported it (else it is the target).
    pub reported: bool,
}

/// One measurement's claim as a statement shows it ([`Claim`] with ids, the contract's price,
/// what each cap cut, and what the ledger paid for it): the `claims` of the JSON statement
/// and the rows of `settle --format claims`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimRow {
    /// The period measured.
    pub measured: u16,
    /// The outcome's id.
    pub outcome: String,
    /// The cohort's id.
    pub cohort: String,
    /// The outcome's unit.
    pub unit: String,
    /// Units achieved, as counted (within the prerequisite's, once a person).
    pub achieved: Qty,
    /// The baseline they are judged against; `None` for an outcome without one.
    pub baseline: Option<Qty>,
    /// The relative improvement on the baseline, where a threshold or grid reads it;
    /// `unbounded` where the baseline is 0 and anything improved.
    #[serde(serialize_with = "improvement_text")]
    pub improvement: Option<Ratio>,
    /// Units payable on the baseline, before the outcome's unit caps.
    pub payable_units: Qty,
    /// Units paid for, after the unit caps (maximum units, maximum share).
    pub units_paid: Qty,
    /// The price per unit, for an outcome priced flat (`None` with tiers or a grid).
    pub price: Option<Price>,
    /// The units paid for at the contract's prices (a grid's amount per participant times
    /// the enrolled), after the per-participant cap and before the outcome's amount cap.
    pub amount: Money,
    /// What the per-participant cap cut (units paid for at the price per person in cents,
    /// less `amount`).
    pub cut_by_participant_cap: Money,
    /// What the outcome's amount cap cut.
    pub cut_by_amount_cap: Money,
    /// The amount earned.
    pub earned: Money,
    /// The period it falls due (an early termination's period where it brings a payment
    /// forward); `None` where nothing was judged payable.
    pub due: Option<u16>,
    /// What the ledger paid for it, after the total cap and pay-only-what-is-due; `None`
    /// where it is not paid yet (an interim statement's claim falling due later) or nothing
    /// was earned.
    pub paid: Option<Money>,
    /// What the total cap and pay-only-what-is-due cut when it was paid (earned - paid):
    /// `cut_by_total_cap + not_due`.
    pub cut_at_payment: Money,
    /// What the total cap cut of it when it was paid.
    pub cut_by_total_cap: Money,
    /// What pay-only-what-is-due then cut of it (investors owed less than was earned).
    pub not_due: Money,
    /// How the measurement was judged.
    pub verdict: ClaimVerdict,
    /// How the amount comes about, in words, for the text's notes.
    #[serde(skip)]
    note: Vec<String>,
}

fn improvement_text<S: serde::Serializer>(r: &Option<Ratio>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) if r.0 == i64::MAX => s.serialize_str("unbounded"),
        Some(r) => s.collect_str(&r.to_decimal().normalize()),
        None => s.serialize_none(),
    }
}

/// Units as a person reads them: thousands grouped, decimals as given (`1,600`, `7.5`).
fn show_units(q: Qty) -> String {
    grouped(q.to_decimal())
}

/// A decimal with its thousands grouped and its decimals as they are (`4,079.315673`).
fn grouped(d: rust_decimal::Decimal) -> String {
    let d = d.normalize();
    let text = d.abs().to_string();
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(a, b)| (a, b));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if d.is_sign_negative() { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// An improvement in percent to four decimals (`9.9995%`), or `unbounded`.
fn show_improvement(r: Ratio) -> String {
    if r.0 == i64::MAX {
        return "unbounded".into();
    }
    let v = r.to_decimal() * rust_decimal::Decimal::ONE_HUNDRED;
    format!("{}%", v.round_dp(4).normalize())
}

/// The rows of a settlement's claims (a [`crate::settlement::Recorded`] sink's `claims` and
/// `paid`), in the order of their measurement period, then outcome, then cohort, with what
/// the ledger paid for each; `enrolled` is each cohort's enrolment as settled.
///
/// # Panics
/// Where `claims`, `paid` or `enrolled` come from settling another contract (an outcome or
/// cohort out of `c`'s range): they are the output of settling `c`, not user input.
pub fn claim_rows(
    c: &Contract,
    s: &Settlement,
    claims: &[Claim],
    paid: &[crate::settlement::ClaimPayment],
    enrolled: &[u32],
) -> Vec<ClaimRow> {
    let n_c = c.cohorts.len();
    // Units paid for before each claim, per outcome and per outcome and cohort, in the order
    // the engine made them payable (for tiers and to name the unit cap that cut).
    let mut cum_o = vec![Qty::ZERO; c.outcomes.len()];
    let mut cum_oc = vec![Qty::ZERO; c.outcomes.len() * n_c];
    let mut rows: Vec<(u16, u16, u16, ClaimRow)> = Vec::with_capacity(claims.len());
    for k in claims {
        let o = k.outcome as usize;
        let ci = k.cohort as usize;
        let out = &c.outcomes[o];
        let before_o = cum_o[o];
        let before_oc = cum_oc[o * n_c + ci];
        if k.verdict == ClaimVerdict::Earned {
            cum_o[o] += k.units;
            cum_oc[o * n_c + ci] += k.units;
        }
        let price = match out.pricing {
            Pricing::Flat(p) => Some(p),
            _ => None,
        };
        // A per-participant outcome is paid per person at the price in cents.
        let person_unit = price
            .filter(|_| out.per_participant)
            .map(|p| p.times(Qty::from_int(1)));
        let cut_pp = match person_unit {
            Some(unit) => {
                let full = Money(div_round(unit.0 as i128 * k.units.0 as i128, 1_000_000) as i64);
                (full - k.amount).non_negative()
            }
            None => Money::ZERO,
        };
        let due = (k.verdict == ClaimVerdict::Earned).then(|| match s.termination {
            Some((t, _)) => k.due.min(t),
            None => k.due,
        });
        let paid_now = k.payment.and_then(|n| paid.iter().find(|x| x.payment == n));
        let payment = paid_now.map(|x| (x.period, x.paid));
        let paid_amount = match (k.verdict, k.payment, payment) {
            (ClaimVerdict::Earned, _, Some((_, m))) => Some(m),
            // Nothing earned: nothing to pay, and nothing paid.
            (ClaimVerdict::Earned, None, _) => Some(Money::ZERO),
            _ => None,
        };
        let cut_at_payment = paid_amount.map_or(Money::ZERO, |m| k.earned - m);
        let (cut_by_total_cap, not_due) = match (k.verdict, paid_now) {
            (ClaimVerdict::Earned, Some(x)) => {
                (k.earned - x.after_total_cap, x.after_total_cap - x.paid)
            }
            _ => (Money::ZERO, Money::ZERO),
        };
        let enrolled_here = enrolled.get(ci).copied().unwrap_or(0);

        // The note: how the amount comes about and what cut it.
        let mut note: Vec<String> = Vec::new();
        let level = |l: Option<Ratio>| l.map(show_improvement).unwrap_or_default();
        match k.verdict {
            ClaimVerdict::Earned => match &out.pricing {
                // Nothing improved on a baseline: say so (a grid's first point is not what
                // left it at nothing).
                _ if k.units.0 == 0 && k.payable.0 == 0 => {
                    let no_better = match out.direction {
                        crate::contract::Direction::Increase => k.achieved <= k.baseline,
                        crate::contract::Direction::Decrease => k.achieved >= k.baseline,
                    };
                    if k.baseline.0 > 0 && no_better {
                        note.push(format!(
                            "no improvement on the baseline ({} achieved, baseline {})",
                            show_units(k.achieved),
                            show_units(k.baseline)
                        ));
                    }
                }
                Pricing::Flat(p) => {
                    let shown = match person_unit {
                        Some(unit) => format_thousands(unit),
                        None => show_price(*p),
                    };
                    if k.units.0 > 0 {
                        note.push(format!("{} x {shown}", show_units(k.units)));
                    }
                }
                Pricing::Tiers(tiers) => {
                    let mut parts = Vec::new();
                    crate::settlement::for_each_tier(tiers, before_o, k.units, |take, price| {
                        if take.0 > 0 {
                            parts.push(format!("{} x {}", show_units(take), show_price(price)));
                        }
                    });
                    if !parts.is_empty() {
                        note.push(parts.join(" + "));
                    }
                }
                Pricing::Grid { kind, points, per } => {
                    let imp = k.improvement.unwrap_or(Ratio::ZERO);
                    let v = crate::settlement::grid_value(*kind, points, imp);
                    if v.0 == 0 {
                        note.push(format!(
                            "below the grid's first point ({})",
                            points
                                .first()
                                .map(|p| show_improvement(p.0))
                                .unwrap_or_default()
                        ));
                    } else if *per == crate::contract::GridPer::Cohort {
                        note.push(format!("grid {} for the cohort", show_price(v)));
                    } else {
                        note.push(format!(
                            "grid {} x {} enrolled",
                            show_price(v),
                            show_units(Qty::from_int(enrolled_here as i64))
                        ));
                    }
                }
            },
            ClaimVerdict::BelowThreshold => note.push(format!(
                "below its threshold ({})",
                level(out.threshold.per_cohort)
            )),
            ClaimVerdict::OverallNotMet => note.push(format!(
                "overall threshold ({}) not met",
                level(out.threshold.overall)
            )),
            ClaimVerdict::Held => note.push(format!(
                "held for its overall threshold ({}), judged at its last measurement",
                level(out.threshold.overall)
            )),
        }
        if k.verdict == ClaimVerdict::Earned && k.units < k.payable {
            // The caps apply in this order: units over all cohorts, then the cohort's share.
            let units_room = out.caps.max_units.map(|mu| (mu - before_o).max(Qty::ZERO));
            let after_units = units_room.map_or(k.payable, |r| k.payable.min(r));
            let which = if out.caps.max_units.is_some() && after_units == k.units {
                "the unit cap (cap.units)"
            } else {
                "the share cap (cap.share)"
            };
            let _ = before_oc;
            note.push(format!("{} over {which}", show_units(k.payable - k.units)));
        }
        if cut_pp.0 > 0 {
            note.push(format!("per-participant cap -{}", format_thousands(cut_pp)));
        }
        if k.amount > k.earned {
            note.push(format!(
                "amount cap (cap.amount) -{}",
                format_thousands(k.amount - k.earned)
            ));
        }
        if cut_by_total_cap.0 > 0 {
            note.push(format!("total cap -{}", format_thousands(cut_by_total_cap)));
        }
        if not_due.0 > 0 {
            note.push(format!(
                "pay only what is due -{}",
                format_thousands(not_due)
            ));
        }
        if let (Some(d), Some((q, _))) = (due, payment)
            && q < k.due
            && d == q
        {
            note.push(format!("due {} by the contract, paid at its end", k.due));
        }
        if k.verdict == ClaimVerdict::Earned && k.payment.is_some() && payment.is_none() {
            note.push("falls due after this statement".into());
        }
        rows.push((
            k.measured,
            k.outcome,
            k.cohort,
            ClaimRow {
                measured: k.measured,
                outcome: out.id.clone(),
                cohort: c.cohorts[ci].id.clone(),
                unit: out.unit.clone(),
                achieved: k.achieved,
                baseline: (!matches!(out.baseline, crate::contract::Baseline::None))
                    .then_some(k.baseline),
                improvement: k.improvement,
                payable_units: k.payable,
                units_paid: k.units,
                price,
                amount: k.amount,
                cut_by_participant_cap: cut_pp,
                cut_by_amount_cap: k.amount - k.earned,
                earned: k.earned,
                due,
                paid: paid_amount,
                cut_at_payment,
                cut_by_total_cap,
                not_due,
                verdict: k.verdict,
                note,
            },
        ));
    }
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    rows.into_iter().map(|r| r.3).collect()
}

fn verdict_name(v: ClaimVerdict) -> &'static str {
    match v {
        ClaimVerdict::Earned => "earned",
        ClaimVerdict::BelowThreshold => "below-threshold",
        ClaimVerdict::OverallNotMet => "overall-not-met",
        ClaimVerdict::Held => "held",
    }
}

/// The claims as CSV: one row per measurement settled (`settle --format claims`).
pub fn render_claims_csv(rows: &[ClaimRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "measured",
        "outcome",
        "cohort",
        "unit",
        "achieved",
        "baseline",
        "improvement",
        "payable_units",
        "units_paid",
        "price",
        "amount",
        "cut_by_participant_cap",
        "cut_by_amount_cap",
        "earned",
        "due",
        "paid",
        "cut_at_payment",
        "verdict",
        "cut_by_total_cap",
        "not_due",
    ]);
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let _ = w.write_record([
            r.measured.to_string(),
            r.outcome.clone(),
            r.cohort.clone(),
            r.unit.clone(),
            r.achieved.to_string(),
            opt(r.baseline.map(|b| b.to_string())),
            opt(r.improvement.map(|i| {
                if i.0 == i64::MAX {
                    "unbounded".to_string()
                } else {
                    i.to_decimal().normalize().to_string()
                }
            })),
            r.payable_units.to_string(),
            r.units_paid.to_string(),
            opt(r.price.map(|p| p.to_string())),
            r.amount.to_string(),
            r.cut_by_participant_cap.to_string(),
            r.cut_by_amount_cap.to_string(),
            r.earned.to_string(),
            opt(r.due.map(|d| d.to_string())),
            opt(r.paid.map(|m| m.to_string())),
            r.cut_at_payment.to_string(),
            verdict_name(r.verdict).to_string(),
            r.cut_by_total_cap.to_string(),
            r.not_due.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A price as an amount: with thousands separators and cents (`1,500.00`), or all its
/// decimals where it has more than cents (`0.125`).
fn show_price(p: Price) -> String {
    let cents = p.times(Qty::from_int(1));
    if Money::from_decimal(p.to_decimal()) == Some(cents) && cents.to_decimal() == p.to_decimal() {
        format_thousands(cents)
    } else {
        grouped(p.to_decimal())
    }
}

/// The most claims a text statement lists (the CSV has them all).
const MAX_CLAIM_LINES: usize = 60;

/// The text statement's Claims section: each measurement, what it is worth and why, what
/// the ledger paid for it, and the totals.
fn render_claims_text(o: &mut String, rows: &[ClaimRow]) {
    let baseline = rows.iter().any(|r| r.baseline.is_some());
    let improvement = rows.iter().any(|r| r.improvement.is_some());
    o.push_str(
        "\nClaims (one per measurement: what it earned and why, when due, what the ledger paid)\n",
    );
    let mut head = vec!["Measured", "Outcome", "Cohort", "Achieved"];
    if baseline {
        head.push("Baseline");
    }
    if improvement {
        head.push("Improvement");
    }
    head.extend(["Payable", "Paid for", "Earned", "Due", "Paid", "Note"]);
    let mut t = Table::new(&head, 3).last_left();
    for r in rows.iter().take(MAX_CLAIM_LINES) {
        let mut row = vec![
            r.measured.to_string(),
            r.outcome.clone(),
            r.cohort.clone(),
            show_units(r.achieved),
        ];
        if baseline {
            row.push(r.baseline.map(show_units).unwrap_or_default());
        }
        if improvement {
            row.push(r.improvement.map(show_improvement).unwrap_or_default());
        }
        row.extend([
            show_units(r.payable_units),
            show_units(r.units_paid),
            format_thousands(r.earned),
            r.due.map(|d| d.to_string()).unwrap_or_default(),
            match (r.verdict, r.paid) {
                (_, Some(m)) => format_thousands(m),
                (ClaimVerdict::Earned, None) => "pending".into(),
                _ => String::new(),
            },
            r.note.join("; "),
        ]);
        t.row(row);
    }
    if rows.len() > MAX_CLAIM_LINES {
        let mut row = vec![format!("... {} more", rows.len() - MAX_CLAIM_LINES)];
        row.resize(head.len(), String::new());
        let last = row.len() - 1;
        row[last] = "see --format claims".into();
        t.row(row);
    }
    // Totals under Earned and Paid (the fifth and third columns from the right).
    let earned: Money = rows.iter().map(|r| r.earned).sum();
    let paid: Money = rows.iter().filter_map(|r| r.paid).sum();
    let mut total = vec!["Total".to_string()];
    total.resize(head.len() - 4, String::new());
    total.extend([
        format_thousands(earned),
        String::new(),
        format_thousands(paid),
        String::new(),
    ]);
    t.row(total);
    t.render(o);
}

/// Each cohort's enrolment in `a`, as a statement shows it.
///
/// # Errors
/// [`crate::SettleError::Shape`], the error [`crate::settlement::Settler::settle`] gives,
/// where `a` was not made for `c` (see [`crate::Actuals::fits`]).
pub fn enrolment(
    c: &Contract,
    a: &crate::Actuals,
) -> Result<Vec<CohortEnrolment>, crate::SettleError> {
    if !a.fits(c) {
        return Err(crate::SettleError::Shape(
            "different numbers of outcomes, cohorts or periods".into(),
        ));
    }
    Ok(c.cohorts
        .iter()
        .zip(a.enrolled.iter().zip(&a.enrolment_reported))
        .map(|(coh, (&enrolled, &reported))| CohortEnrolment {
            id: coh.id.clone(),
            enrol_period: coh.enrol_period,
            target: coh.size,
            enrolled,
            reported,
        })
        .collect())
}

/// What an earlier statement booked, to compare a new settlement with: each party's flow per
/// period (+ received, - paid) through its last period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booked {
    /// Where it was read from, for the reader.
    pub source: String,
    /// The last period it books: its last settled period if interim, else the contract's last
    /// (a final statement books every period; nothing moves after an early end).
    pub through: u16,
    /// Per party of the contract (in its order), the flow per period (index 0 unused).
    pub flows: Vec<Vec<Money>>,
}

/// A party's flow in a period as booked and as settled now, where they differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Restated {
    /// The period.
    pub period: u16,
    /// The party's id.
    pub party: String,
    /// The flow the earlier statement booked (+ received, - paid).
    pub booked: Money,
    /// The flow now.
    pub now: Money,
    /// `now - booked`: + the party receives more or pays less now, - the reverse.
    pub difference: Money,
}

/// A settlement compared with an earlier statement over the periods both settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Against {
    /// Where the earlier statement was read from.
    pub source: String,
    /// The periods compared: 1 to this.
    pub through: u16,
    /// Every party's flow that differs, by period then party.
    pub restated: Vec<Restated>,
}

/// Compares the flows of `ledger` with `booked`, over the periods both book: an interim
/// settlement through its last period, a final one (to the end, or ended early) through the
/// contract's last.
pub fn against(c: &Contract, s: &Settlement, ledger: &[LedgerLine], booked: &Booked) -> Against {
    let flows = flows_by_period(c, ledger);
    let now = if s.interim { s.final_period } else { c.periods };
    let through = booked.through.min(now);
    let mut restated = Vec::new();
    for (p, row) in flows.iter().enumerate().take(through as usize + 1).skip(1) {
        for (i, party) in c.parties.iter().enumerate() {
            let was = booked.flows[i][p];
            let now = row[i];
            if was != now {
                restated.push(Restated {
                    period: p as u16,
                    party: party.id.clone(),
                    booked: was,
                    now,
                    // In 128 bits: a `Booked` built by hand may hold any amount (the CLI
                    // refuses amounts past the settlement's limit).
                    difference: Money(crate::money::saturate(now.0 as i128 - was.0 as i128)),
                });
            }
        }
    }
    Against {
        source: booked.source.clone(),
        through,
        restated,
    }
}

/// The text section of a comparison with an earlier statement.
fn render_against(o: &mut String, a: &Against) {
    let span = if a.through == 1 {
        "period 1".to_string()
    } else {
        format!("periods 1 to {}", a.through)
    };
    if a.restated.is_empty() {
        let _ = writeln!(
            o,
            "\nAgainst {}: {span} agree with it to the cent; nothing is restated.",
            a.source
        );
        return;
    }
    let mut periods: Vec<u16> = a.restated.iter().map(|r| r.period).collect();
    periods.dedup();
    let listed: Vec<String> = periods.iter().map(u16::to_string).collect();
    let _ = writeln!(
        o,
        "\nRESTATED against {} ({span} compared): period{} {} now differ{} from what it booked",
        a.source,
        if periods.len() == 1 { "" } else { "s" },
        listed.join(", "),
        if periods.len() == 1 { "s" } else { "" },
    );
    let mut t = Table::new(&["Period", "Party", "Booked", "Now", "Difference"], 2);
    for r in &a.restated {
        t.row(vec![
            r.period.to_string(),
            r.party.clone(),
            format_thousands(r.booked),
            format_thousands(r.now),
            format_thousands(r.difference),
        ]);
    }
    t.render(o);
    // Per party over the periods compared, in 128 bits (up to 1,200 periods of differences
    // up to twice the amount limit pass `i64` cents).
    let mut net: Vec<(&str, i128)> = Vec::new();
    for r in &a.restated {
        match net.iter_mut().find(|(p, _)| *p == r.party) {
            Some((_, m)) => *m += r.difference.0 as i128,
            None => net.push((&r.party, r.difference.0 as i128)),
        }
    }
    let parts: Vec<String> = net
        .iter()
        .filter(|(_, m)| *m != 0)
        .map(|(p, m)| format!("{p} {}", crate::money::format_thousands_wide(*m)))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(
            o,
            "Difference over {span} (now - booked: + the party receives more or pays less now, - the reverse): {}.",
            parts.join(", ")
        );
    }
}

/// The most ledger lines an interim statement lists for its last period.
const MAX_DUE_LINES: usize = 40;

/// The human-readable statement.
pub fn render_text(c: &Contract, s: &Settlement, ledger: &[LedgerLine]) -> String {
    render_text_noted(c, s, ledger, &[], &[], &[], None)
}

/// The human-readable statement with `first_notes` at the head of its notes (what the
/// settlement assumed of, or left out from, the reported actuals) and, where given, the
/// cohorts' enrolment it used and the claims of its measurements ([`claim_rows`]).
pub fn render_text_noted(
    c: &Contract,
    s: &Settlement,
    ledger: &[LedgerLine],
    first_notes: &[String],
    enrolment: &[CohortEnrolment],
    claims: &[ClaimRow],
    against: Option<&Against>,
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Settlement statement: {} ({}, {})",
        c.name,
        c.currency,
        c.period_length.count(c.periods)
    );
    let _ = writeln!(o, "The contract {}.", termination_text(c, s));
    let _ = writeln!(
        o,
        "Amounts in {}; in a period, + is received and - is paid.\n",
        c.currency
    );

    // Per period, per party (parties with any flow).
    let flows = flows_by_period(c, ledger);
    // The parties with any flow, and the payers, investors and enterprise always (a payer that
    // has paid nothing yet is still a party to the contract).
    // A fee's payee too: a fee not paid is a loss to it.
    let active: Vec<usize> = (0..c.parties.len())
        .filter(|&i| {
            s.paid[i].0 != 0
                || s.received[i].0 != 0
                || matches!(
                    c.parties[i].role,
                    Role::Payer | Role::Investor | Role::Enterprise
                )
                || c.fees.iter().any(|f| f.payee == i)
        })
        .collect();
    o.push_str("Cash flows by period\n");
    let mut head: Vec<&str> = vec!["Period"];
    for &i in &active {
        head.push(&c.parties[i].id);
    }
    head.push("Account held");
    let mut t = Table::new(&head, 1);
    for (p, row) in flows
        .iter()
        .enumerate()
        .take(s.final_period as usize + 1)
        .skip(1)
    {
        let any = active.iter().any(|&i| row[i].0 != 0);
        if !any {
            continue;
        }
        let mut r = vec![p.to_string()];
        for &i in &active {
            r.push(if row[i].0 == 0 {
                "".into()
            } else {
                format_thousands(row[i])
            });
        }
        r.push(format_thousands(s.held[p]));
        t.row(r);
    }
    let mut r = vec!["Total".to_string()];
    for &i in &active {
        r.push(format_thousands(s.received[i] - s.paid[i]));
    }
    r.push(format_thousands(s.held_at_end()));
    t.row(r);
    t.render(&mut o);
    if let Some(a) = against {
        render_against(&mut o, a);
    }
    // An interim statement's last period is the quarter being settled: who pays whom, and why.
    if s.interim {
        let due: Vec<&LedgerLine> = ledger
            .iter()
            .filter(|l| l.period == s.final_period)
            .collect();
        if due.is_empty() {
            let _ = writeln!(
                o,
                "\nPayments in period {} (the last settled): none.",
                s.final_period
            );
        } else {
            let _ = writeln!(
                o,
                "\nPayments in period {} (the last settled)",
                s.final_period
            );
            let mut t = Table::new(&["From", "To", "For", "Amount"], 3);
            for l in due.iter().take(MAX_DUE_LINES) {
                t.row(vec![
                    c.parties[l.from].id.clone(),
                    c.parties[l.to].id.clone(),
                    describe_rule(c, &l.rule),
                    format_thousands(l.amount),
                ]);
            }
            t.render(&mut o);
            if due.len() > MAX_DUE_LINES {
                let _ = writeln!(
                    o,
                    "... and {} more lines of period {}: see the ledger (--format csv).",
                    due.len() - MAX_DUE_LINES,
                    s.final_period
                );
            }
        }
    }

    o.push_str("\nParties\n");
    let mut t = Table::new(&["Party", "Name", "Role", "Paid", "Received", "Net"], 3);
    for &i in &active {
        let p = &c.parties[i];
        t.row(vec![
            p.id.clone(),
            p.name.clone(),
            p.role.label().to_string(),
            format_thousands(s.paid[i]),
            format_thousands(s.received[i]),
            format_thousands(s.received[i] - s.paid[i]),
        ]);
    }
    t.render(&mut o);

    if !c.tranches.is_empty() {
        o.push_str("\nTranches (claim = drawn + accrued; repaid from the waterfall)\n");
        let (open, principal) = if s.interim {
            ("Open claim", "Principal not yet repaid")
        } else {
            ("Outstanding", "Unrecovered principal")
        };
        let mut t = Table::new(
            &[
                "Tranche",
                "Investor",
                "Rank",
                "Rate/yr",
                "Committed",
                "Drawn",
                "Accrued",
                "Repaid",
                "Guarantee",
                open,
                principal,
            ],
            2,
        );
        for (i, tr) in c.tranches.iter().enumerate() {
            let r = &s.tranches[i];
            t.row(vec![
                tr.id.clone(),
                c.parties[tr.investor].id.clone(),
                tr.rank.to_string(),
                pct(tr.annual_rate),
                format_thousands(tr.committed),
                format_thousands(r.drawn),
                format_thousands(r.accrued),
                format_thousands(r.distributed),
                format_thousands(r.guaranteed),
                format_thousands(r.outstanding),
                format_thousands(r.unrecovered_principal),
            ]);
        }
        t.render(&mut o);
        // What was repaid, split as the investors book it.
        let mut split = Vec::new();
        for (i, tr) in c.tranches.iter().enumerate() {
            let r = &s.tranches[i];
            if r.distributed.0 != 0 {
                split.push(format!(
                    "{} principal {} and {} {}",
                    tr.id,
                    format_thousands(r.principal_repaid()),
                    if tr.annual_rate.0 == 0 {
                        "return"
                    } else {
                        "interest or return"
                    },
                    format_thousands(r.return_paid()),
                ));
            }
        }
        if !split.is_empty() {
            let _ = writeln!(o, "Repaid: {}.", split.join("; "));
        }
        let firsts: Vec<&str> = c
            .tranches
            .iter()
            .filter(|t| t.allocation == crate::contract::Allocation::InterestFirst)
            .map(|t| t.id.as_str())
            .collect();
        let _ = writeln!(
            o,
            "{}",
            match firsts.len() {
                0 => "Distributions repay principal first (interest or return only once the principal is back).".to_string(),
                n if n == c.tranches.len() => "Distributions pay the interest or return accrued first, then principal.".to_string(),
                _ => format!(
                    "Distributions to {} pay the interest or return accrued first, then principal; to the other tranches principal first.",
                    firsts.join(", ")
                ),
            }
        );
    }

    o.push_str("\nOutcomes\n");
    let mut t = Table::new(
        &[
            "Outcome",
            "Unit",
            "Achieved",
            "Baseline",
            "Units paid for",
            "Earned",
            "Paid",
        ],
        2,
    );
    for (i, out) in c.outcomes.iter().enumerate() {
        let r = &s.outcomes[i];
        t.row(vec![
            out.id.clone(),
            out.unit.clone(),
            show_units(r.achieved),
            match out.baseline {
                crate::contract::Baseline::None => String::new(),
                _ => show_units(r.baseline),
            },
            show_units(r.payable_units),
            format_thousands(r.earned),
            format_thousands(r.paid),
        ]);
    }
    t.row(vec![
        "Total".into(),
        "".into(),
        "".into(),
        "".into(),
        "".into(),
        format_thousands(s.outcomes.iter().map(|r| r.earned).sum()),
        format_thousands(s.outcome_payments),
    ]);
    t.render(&mut o);

    if !claims.is_empty() {
        render_claims_text(&mut o, claims);
    }

    // The enrolment the settlement used, of the cohorts enrolled by its last period.
    let shown: Vec<&CohortEnrolment> = enrolment
        .iter()
        .filter(|e| e.enrol_period <= s.final_period)
        .collect();
    if !shown.is_empty() {
        o.push_str(
            "\nCohorts (enrolment as the actuals report it; without an `enrolled` row, the target)\n",
        );
        let mut t = Table::new(&["Cohort", "Enrols", "Target", "Enrolled", "From"], 1);
        for e in shown {
            t.row(vec![
                e.id.clone(),
                format!("period {}", e.enrol_period),
                e.target.to_string(),
                e.enrolled.to_string(),
                if e.reported { "reported" } else { "target" }.to_string(),
            ]);
        }
        t.render(&mut o);
    }

    // What falls due later may still be cut when it does: say by which terms.
    let cuts: Vec<&str> = [
        (c.total_cap.is_some(), "the total cap"),
        (c.pay_only_due, "pay only what is due"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, what)| *what)
    .collect();
    let later = if cuts.is_empty() {
        format!("earned, payable after period {} (interim)", s.final_period)
    } else {
        format!(
            "earned, falling due after period {} (interim; at most this: {} may cut it when it falls due)",
            s.final_period,
            cuts.join(" and ")
        )
    };
    // Compensation by payer, where more than one pays it.
    let mut by_payer: Vec<(usize, Money)> = Vec::new();
    for l in ledger {
        if matches!(l.rule, Rule::InflowGuarantee { .. }) {
            match by_payer.iter_mut().find(|(p, _)| *p == l.from) {
                Some((_, m)) => *m += l.amount,
                None => by_payer.push((l.from, l.amount)),
            }
        }
    }
    by_payer.sort_by_key(|(p, _)| *p);
    let inflow_paid = if by_payer.len() > 1 {
        let parts: Vec<String> = by_payer
            .iter()
            .map(|(p, m)| format!("{} {}", c.parties[*p].id, format_thousands(*m)))
            .collect();
        format!("inflow compensation paid ({})", parts.join(", "))
    } else {
        "inflow compensation paid".to_string()
    };
    let inflow_later = format!(
        "inflow compensation earned, payable after period {} (interim)",
        s.final_period
    );
    // Fees still owed, per fee where there are several: what fell due by the last period
    // settled, less what the ledger paid.
    let fees_owed = if c.fees.len() > 1 && s.fees_owed.0 > 0 {
        let each: Vec<String> = c
            .fees
            .iter()
            .enumerate()
            .filter_map(|(k, f)| {
                let due: Money = f.schedule[1..=s.final_period as usize]
                    .iter()
                    .copied()
                    .sum();
                let paid: Money = ledger
                    .iter()
                    .filter(|l| l.rule == Rule::Fee { fee: k as u16 })
                    .map(|l| l.amount)
                    .sum();
                let owed = due - paid;
                (owed.0 > 0).then(|| {
                    format!(
                        "`{}` to {} {}",
                        f.id,
                        c.parties[f.payee].id,
                        format_thousands(owed)
                    )
                })
            })
            .collect();
        format!("fees still owed ({})", each.join(", "))
    } else {
        "fees still owed".to_string()
    };
    let mut notes: Vec<String> = first_notes.to_vec();
    notes.extend(
        [
            (later.as_str(), s.pending),
            ("fixed payments", s.fixed_payments),
            (inflow_paid.as_str(), s.inflow_compensation),
            (inflow_later.as_str(), s.inflow_pending),
            ("not paid because of the total cap", s.cut_by_total_cap),
            ("earned but not due (pay only what is due)", s.not_due),
            ("enterprise costs left unpaid", s.unpaid_costs),
            (fees_owed.as_str(), s.fees_owed),
            ("deferred enterprise fees still owed", s.deferred_fees_owed),
        ]
        .iter()
        .filter(|(_, m)| m.0 > 0)
        .map(|(label, m)| format!("{label}: {}", format_thousands(*m))),
    );
    let end = if s.interim {
        format!("at the end of period {}", s.final_period)
    } else {
        "at the end".to_string()
    };
    for (out, held) in c.outcomes.iter().zip(&s.held_units) {
        if held.0 > 0 {
            // The unit is a name from the file (`person`, `day`): not made plural here.
            notes.push(format!(
                "`{}`: {held} (unit: {}) held for its overall threshold, judged at its last measurement",
                out.id, out.unit
            ));
        }
    }
    // A claim left unpaid when the contract has ended is not paid by anyone: say what it is.
    if !s.interim {
        for (tr, r) in c.tranches.iter().zip(&s.tranches) {
            if r.outstanding.0 > 0 {
                let what = match (r.unrecovered_principal.0 > 0, r.guaranteed.0 > 0) {
                    (true, true) => format!(
                        "{} of principal not repaid after its guarantee",
                        format_thousands(r.unrecovered_principal)
                    ),
                    (true, false) => format!(
                        "{} of principal not repaid",
                        format_thousands(r.unrecovered_principal)
                    ),
                    (false, true) => {
                        "its principal was repaid, in part by its guarantee; interest or return is not guaranteed".to_string()
                    }
                    (false, false) => {
                        "its principal was repaid; the rest of its return was not reached".to_string()
                    }
                };
                notes.push(format!(
                    "tranche `{}`: {} of its claim unpaid at the end ({what}); nothing more is paid on it",
                    tr.id,
                    format_thousands(r.outstanding)
                ));
            }
        }
    }
    notes.push(format!(
        "held in the contract account {end}: {}",
        format_thousands(s.held_at_end())
    ));
    if s.unspent_returned.0 > 0 {
        notes.push(format!(
            "capital the enterprise drew and did not spend, paid back into the contract account at the end (enterprise.return_unspent): {}",
            format_thousands(s.unspent_returned)
        ));
    }
    notes.push(format!(
        "enterprise cash {end}: {}",
        format_thousands(s.enterprise_cash)
    ));
    o.push_str("\nNotes\n");
    for n in notes {
        let _ = writeln!(o, "- {n}");
    }
    let _ = writeln!(
        o,
        "\n{} ledger line{}; use --format csv for the full ledger.",
        ledger.len(),
        if ledger.len() == 1 { "" } else { "s" }
    );
    o
}

/// One CSV record with its line end, each field quoted where it must be (a comma, a quote, a
/// line break), as the ledger's: for the headers and rows of every CSV file the program writes,
/// whose fields may hold ids, which may hold any text.
pub fn csv_record<I, T>(fields: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(fields);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What a ledger line's rule refers to, by id: its outcome, cohort, tranche, fee or inflow
/// guarantee (numbered from 1 in file order, as the statement's text says); empty where it
/// has none. The CSV's columns and the JSON's fields.
#[derive(Default, Serialize)]
struct RuleFields {
    #[serde(skip_serializing_if = "String::is_empty")]
    outcome: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    cohort: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    tranche: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    fee: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    inflow_guarantee: String,
}

impl RuleFields {
    fn of(c: &Contract, rule: &Rule) -> RuleFields {
        let mut f = RuleFields::default();
        match *rule {
            Rule::OutcomePayment { outcome, cohort } => {
                f.outcome = c.outcomes[outcome as usize].id.clone();
                f.cohort = c.cohorts[cohort as usize].id.clone();
            }
            Rule::ParticipantCost { cohort } => f.cohort = c.cohorts[cohort as usize].id.clone(),
            Rule::Drawdown { tranche }
            | Rule::Distribution { tranche }
            | Rule::GuaranteeCall { tranche } => {
                f.tranche = c.tranches[tranche as usize].id.clone()
            }
            Rule::Fee { fee } => f.fee = c.fees[fee as usize].id.clone(),
            Rule::InflowGuarantee { guarantee, cohort } => {
                f.inflow_guarantee = (guarantee + 1).to_string();
                if let Some(k) = cohort {
                    f.cohort = c.cohorts[k as usize].id.clone();
                }
            }
            _ => {}
        }
        f
    }
}

/// The ledger as CSV: one line per movement of money.
pub fn render_csv(c: &Contract, ledger: &[LedgerLine]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "period",
        "from",
        "to",
        "amount",
        "rule",
        "outcome",
        "cohort",
        "tranche",
        "fee",
        "inflow_guarantee",
    ]);
    for l in ledger {
        let RuleFields {
            outcome: oc,
            cohort: co,
            tranche: tr,
            fee: fe,
            inflow_guarantee: ig,
        } = RuleFields::of(c, &l.rule);
        let _ = w.write_record([
            l.period.to_string(),
            c.parties[l.from].id.clone(),
            c.parties[l.to].id.clone(),
            l.amount.to_string(),
            rule_name(&l.rule).to_string(),
            oc,
            co,
            tr,
            fe,
            ig,
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[derive(Serialize)]
struct JsonLine<'a> {
    period: u16,
    from: &'a str,
    to: &'a str,
    amount: Money,
    rule: &'static str,
    /// The outcome, cohort, tranche, fee or inflow guarantee the line is for (as the CSV's
    /// columns), where it has one.
    #[serde(flatten)]
    of: RuleFields,
    detail: String,
}

#[derive(Serialize)]
struct JsonParty<'a> {
    id: &'a str,
    name: &'a str,
    role: Role,
    paid: Money,
    received: Money,
    net: Money,
    /// Net flow per period; `null` after the last period an interim statement settles.
    by_period: Vec<Option<Money>>,
}

#[derive(Serialize)]
struct JsonStatement<'a> {
    contract: &'a str,
    currency: &'a str,
    periods: u16,
    final_period: u16,
    termination: String,
    parties: Vec<JsonParty<'a>>,
    tranches: Vec<serde_json::Value>,
    outcomes: Vec<serde_json::Value>,
    /// The enrolment the settlement used, of each cohort enrolled by its last period.
    cohorts: &'a [CohortEnrolment],
    /// The comparison with an earlier statement (`settle --against`), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<&'a Against>,
    settlement: &'a Settlement,
    /// What the settlement leaves out or assumes (periods not reported, rows not settled).
    notes: &'a [String],
    /// An interim statement's payments earned but falling due after its last period, per
    /// payer and period (empty in a final one).
    pending: Vec<JsonPending<'a>>,
    /// Each measurement's claim, by measurement period, outcome and cohort.
    claims: &'a [ClaimRow],
    ledger: Vec<JsonLine<'a>>,
}

#[derive(Serialize)]
struct JsonPending<'a> {
    period: u16,
    payer: &'a str,
    amount: Money,
    rule: &'static str,
    #[serde(flatten)]
    of: RuleFields,
    detail: String,
}

/// The whole statement as JSON (amounts as exact decimal strings).
pub fn render_json(c: &Contract, s: &Settlement, ledger: &[LedgerLine]) -> String {
    render_json_noted(c, s, ledger, &[], &[], &[], None)
}

/// [`render_json`] with `notes` on what the settlement leaves out or assumes, and the
/// cohorts' enrolment it used (`cohorts`; empty when not given).
pub fn render_json_noted(
    c: &Contract,
    s: &Settlement,
    ledger: &[LedgerLine],
    notes: &[String],
    enrolment: &[CohortEnrolment],
    claims: &[ClaimRow],
    against: Option<&Against>,
) -> String {
    let flows = flows_by_period(c, ledger);
    // The cohorts enrolled by the last period settled (as the text shows them).
    let enrolled_by_end: Vec<CohortEnrolment> = enrolment
        .iter()
        .filter(|e| e.enrol_period <= s.final_period)
        .cloned()
        .collect();
    let parties = c
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| JsonParty {
            id: &p.id,
            name: &p.name,
            role: p.role,
            paid: s.paid[i],
            received: s.received[i],
            net: s.received[i] - s.paid[i],
            by_period: (1..=c.periods as usize)
                .map(|k| (!s.interim || k <= s.final_period as usize).then_some(flows[k][i]))
                .collect(),
        })
        .collect();
    let tranches = c
        .tranches
        .iter()
        .zip(&s.tranches)
        .map(|(t, r)| {
            serde_json::json!({
                "id": t.id, "investor": c.parties[t.investor].id, "rank": t.rank,
                "annual_rate": t.annual_rate, "committed": t.committed,
                "allocation": t.allocation, "principal_repaid": r.principal_repaid(),
                "return_paid": r.return_paid(), "result": r,
            })
        })
        .collect();
    let outcomes = c
        .outcomes
        .iter()
        .zip(&s.outcomes)
        .map(|(o, r)| serde_json::json!({ "id": o.id, "unit": o.unit, "result": r }))
        .collect();
    let doc = JsonStatement {
        contract: &c.name,
        currency: &c.currency,
        periods: c.periods,
        final_period: s.final_period,
        termination: termination_text(c, s),
        parties,
        tranches,
        outcomes,
        cohorts: &enrolled_by_end,
        against,
        settlement: s,
        notes,
        pending: s
            .pending_payments
            .iter()
            .map(|x| JsonPending {
                period: x.period,
                payer: &c.parties[x.payer].id,
                amount: x.amount,
                rule: rule_name(&x.rule),
                of: RuleFields::of(c, &x.rule),
                detail: describe_rule(c, &x.rule),
            })
            .collect(),
        claims,
        ledger: ledger
            .iter()
            .map(|l| JsonLine {
                period: l.period,
                from: &c.parties[l.from].id,
                to: &c.parties[l.to].id,
                amount: l.amount,
                rule: rule_name(&l.rule),
                of: RuleFields::of(c, &l.rule),
                detail: describe_rule(c, &l.rule),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
