//! Settlement cases computed by hand, to the cent.
//!
//! Each case is a scenario (TOML), actuals (CSV) and the expected results, checked by the one
//! helper [`check`]: the complete ledger (every line: period, from, to, amount, rule), every
//! party's totals paid and received, every tranche's and every outcome's results, the cash
//! held at the end and the amounts cut by the total cap or not paid under "pay only what is
//! due". The arithmetic behind each expected number is written beside it.
//!
//! Conventions used in the hand computations (docs/domain.md 3.4 and the module doc of
//! `src/settlement.rs`):
//! - per period: accrual on the claim (before drawdowns), drawdowns, costs, measurements,
//!   overall thresholds, checkpoints, payments in, waterfall, guarantees in the final period;
//! - `rate_basis = "simple"` makes the period rate r / n exactly; accrual is rounded to cents
//!   half away from zero each period;
//! - splits between payers, guarantors, pro rata tranches and returned remainders use the
//!   largest remainder in cents, ties to the party listed first.

use sibsim::settlement::Rule;
use sibsim::{Contract, LedgerLine, Settler};

/// A party's expected totals: (id, paid, received). Parties not listed must be 0.00 / 0.00.
struct P(&'static str, &'static str, &'static str);

/// An expected ledger line: (period, from, to, amount, rule). Rules are written as
/// `drawdown T`, `operating-cost`, `participant-cost C`, `outcome O C`, `fixed-payment`,
/// `fee F`, `distribution T`, `deferred-fee`, `performance-share`, `remainder`,
/// `guarantee T` with tranche (T), cohort (C), outcome (O) and fee (F) ids.
struct L(u16, &'static str, &'static str, &'static str, &'static str);

/// A tranche's expected results.
struct T {
    id: &'static str,
    drawn: &'static str,
    accrued: &'static str,
    distributed: &'static str,
    guaranteed: &'static str,
    outstanding: &'static str,
    unrecovered: &'static str,
}

/// An outcome's expected results (units as written by `Qty`'s display, e.g. `9.5`).
struct O {
    id: &'static str,
    achieved: &'static str,
    payable: &'static str,
    earned: &'static str,
    paid: &'static str,
}

/// One hand-computed settlement.
struct Case {
    name: &'static str,
    scenario: &'static str,
    actuals: &'static str,
    /// The last period settled.
    final_period: u16,
    /// The period of early termination, if any.
    terminated_at: Option<u16>,
    /// Every ledger line, in any order.
    ledger: &'static [L],
    parties: &'static [P],
    /// Every tranche of the contract.
    tranches: &'static [T],
    /// Every outcome of the contract.
    outcomes: &'static [O],
    held_at_end: &'static str,
    cut_by_total_cap: &'static str,
    not_due: &'static str,
    /// Every measurement's claim, as the rows of `settle --format claims` (`measured,
    /// outcome, cohort, unit, achieved, baseline, improvement, payable_units, units_paid,
    /// price, amount, cut_by_participant_cap, cut_by_amount_cap, earned, due, paid,
    /// cut_at_payment, verdict, cut_by_total_cap, not_due`), in order; not checked where
    /// empty.
    claims: &'static [&'static str],
}

/// Defaults for the rarely used fields.
#[rustfmt::skip]
const BASE: Case = Case {
    name: "",
    scenario: "",
    actuals: "",
    final_period: 0,
    terminated_at: None,
    ledger: &[],
    parties: &[],
    tranches: &[],
    outcomes: &[],
    held_at_end: "0.00",
    cut_by_total_cap: "0.00",
    not_due: "0.00",
    claims: &[],
};

fn rule_name(c: &Contract, r: &Rule) -> String {
    match *r {
        Rule::Drawdown { tranche } => format!("drawdown {}", c.tranches()[tranche as usize].id),
        Rule::OperatingCost => "operating-cost".into(),
        Rule::ParticipantCost { cohort } => {
            format!("participant-cost {}", c.cohorts()[cohort as usize].id)
        }
        Rule::OutcomePayment { outcome, cohort } => format!(
            "outcome {} {}",
            c.outcomes()[outcome as usize].id,
            c.cohorts()[cohort as usize].id
        ),
        Rule::FixedPayment => "fixed-payment".into(),
        Rule::Fee { fee } => format!("fee {}", c.fees()[fee as usize].id),
        Rule::Distribution { tranche } => {
            format!("distribution {}", c.tranches()[tranche as usize].id)
        }
        Rule::DeferredFee => "deferred-fee".into(),
        Rule::PerformanceShare => "performance-share".into(),
        Rule::Remainder => "remainder".into(),
        Rule::GuaranteeCall { tranche } => {
            format!("guarantee {}", c.tranches()[tranche as usize].id)
        }
        Rule::InflowGuarantee { guarantee, cohort } => match cohort {
            Some(k) => format!("inflow {} {}", guarantee + 1, c.cohorts()[k as usize].id),
            None => format!("inflow {} all", guarantee + 1),
        },
        Rule::UnspentCapital => "unspent-capital".into(),
    }
}

/// Records a difference between the engine and the hand computation.
fn eq(errs: &mut Vec<String>, what: String, got: String, want: &str) {
    if got != want {
        errs.push(format!("{what}: engine {got}, hand {want}"));
    }
}

type Row = (u16, String, String, String, String);

fn row_of(c: &Contract, l: &LedgerLine) -> Row {
    (
        l.period,
        c.parties()[l.from].id.clone(),
        c.parties()[l.to].id.clone(),
        l.amount.to_string(),
        rule_name(c, &l.rule),
    )
}

/// Settles `case` and compares everything with the hand computation; panics with every
/// difference found.
fn check(case: &Case) {
    let scenario = sibsim::scenario::parse(case.name, case.scenario)
        .unwrap_or_else(|d| panic!("{}: scenario does not parse:\n{d}", case.name));
    let c = &scenario.contract;
    let actuals = sibsim::actuals::parse_csv(c, case.name, case.actuals)
        .unwrap_or_else(|d| panic!("{}: actuals do not parse:\n{d}", case.name));
    let mut settler = Settler::new(c);
    let mut rec = sibsim::settlement::Recorded::default();
    let s = settler
        .settle(&actuals, &mut rec)
        .unwrap_or_else(|e| panic!("{}: settlement failed: {e}", case.name))
        .clone();
    let ledger = rec.ledger;
    let mut errs: Vec<String> = Vec::new();

    // The claims, row by row.
    if !case.claims.is_empty() {
        let rows = sibsim::statement::claim_rows(c, &s, &rec.claims, &rec.paid, actuals.enrolled());
        let csv = sibsim::statement::render_claims_csv(&rows);
        let got: Vec<&str> = csv.lines().skip(1).collect();
        if got != case.claims {
            errs.push(format!(
                "claims differ\n    engine: {got:#?}\n    hand:   {:#?}",
                case.claims
            ));
        }
    }

    // The ledger, line by line (as multisets).
    let mut got: Vec<Row> = ledger.iter().map(|l| row_of(c, l)).collect();
    let mut want: Vec<Row> = case
        .ledger
        .iter()
        .map(|l| (l.0, l.1.into(), l.2.into(), l.3.into(), l.4.into()))
        .collect();
    got.sort();
    want.sort();
    if got != want {
        let mut extra = got.clone();
        let mut missing = Vec::new();
        for w in &want {
            match extra.iter().position(|g| g == w) {
                Some(i) => {
                    extra.remove(i);
                }
                None => missing.push(w.clone()),
            }
        }
        errs.push(format!(
            "ledger differs\n    expected but missing: {missing:?}\n    produced but not expected: {extra:?}"
        ));
    }

    // Party totals; parties not listed moved no money.
    for p in case.parties {
        if c.party(p.0).is_none() {
            errs.push(format!("the case names an unknown party `{}`", p.0));
        }
    }
    for (i, party) in c.parties().iter().enumerate() {
        let (paid, received) = case
            .parties
            .iter()
            .find(|p| p.0 == party.id)
            .map(|p| (p.1, p.2))
            .unwrap_or(("0.00", "0.00"));
        eq(
            &mut errs,
            format!("{} paid", party.id),
            s.paid[i].to_string(),
            paid,
        );
        eq(
            &mut errs,
            format!("{} received", party.id),
            s.received[i].to_string(),
            received,
        );
    }

    // Tranches.
    if case.tranches.len() != c.tranches().len() {
        errs.push(format!(
            "the case lists {} tranches, the contract has {}",
            case.tranches.len(),
            c.tranches().len()
        ));
    }
    for t in case.tranches {
        let Some(i) = c.tranches().iter().position(|x| x.id == t.id) else {
            errs.push(format!("unknown tranche `{}`", t.id));
            continue;
        };
        let r = &s.tranches[i];
        let id = t.id;
        eq(
            &mut errs,
            format!("tranche {id} drawn"),
            r.drawn.to_string(),
            t.drawn,
        );
        eq(
            &mut errs,
            format!("tranche {id} accrued"),
            r.accrued.to_string(),
            t.accrued,
        );
        eq(
            &mut errs,
            format!("tranche {id} distributed"),
            r.distributed.to_string(),
            t.distributed,
        );
        eq(
            &mut errs,
            format!("tranche {id} guaranteed"),
            r.guaranteed.to_string(),
            t.guaranteed,
        );
        eq(
            &mut errs,
            format!("tranche {id} outstanding"),
            r.outstanding.to_string(),
            t.outstanding,
        );
        eq(
            &mut errs,
            format!("tranche {id} unrecovered principal"),
            r.unrecovered_principal.to_string(),
            t.unrecovered,
        );
    }

    // Outcomes.
    if case.outcomes.len() != c.outcomes().len() {
        errs.push(format!(
            "the case lists {} outcomes, the contract has {}",
            case.outcomes.len(),
            c.outcomes().len()
        ));
    }
    for o in case.outcomes {
        let Some(i) = c.outcome(o.id) else {
            errs.push(format!("unknown outcome `{}`", o.id));
            continue;
        };
        let r = &s.outcomes[i];
        let id = o.id;
        eq(
            &mut errs,
            format!("outcome {id} achieved"),
            r.achieved.to_string(),
            o.achieved,
        );
        eq(
            &mut errs,
            format!("outcome {id} payable units"),
            r.payable_units.to_string(),
            o.payable,
        );
        eq(
            &mut errs,
            format!("outcome {id} earned"),
            r.earned.to_string(),
            o.earned,
        );
        eq(
            &mut errs,
            format!("outcome {id} paid"),
            r.paid.to_string(),
            o.paid,
        );
    }

    // Settlement totals.
    eq(
        &mut errs,
        "final period".into(),
        s.final_period.to_string(),
        &case.final_period.to_string(),
    );
    eq(
        &mut errs,
        "termination period".into(),
        format!("{:?}", s.termination.map(|t| t.0)),
        &format!("{:?}", case.terminated_at),
    );
    eq(
        &mut errs,
        "held at end".into(),
        s.held_at_end().to_string(),
        case.held_at_end,
    );
    eq(
        &mut errs,
        "cut by total cap".into(),
        s.cut_by_total_cap.to_string(),
        case.cut_by_total_cap,
    );
    eq(
        &mut errs,
        "not due".into(),
        s.not_due.to_string(),
        case.not_due,
    );

    // Conservation: all money paid was received; what the account kept is what it holds.
    let paid: i64 = s.paid.iter().map(|m| m.cents()).sum();
    let received: i64 = s.received.iter().map(|m| m.cents()).sum();
    if paid != received {
        errs.push(format!("paid {paid} cents but received {received} cents"));
    }
    let kept = s.received[c.account()].cents() - s.paid[c.account()].cents();
    if kept != s.held_at_end().cents() {
        errs.push(format!(
            "the account kept {kept} cents but holds {} at the end",
            s.held_at_end()
        ));
    }

    // A reused settler gives the same ledger.
    let mut again: Vec<LedgerLine> = Vec::new();
    settler
        .settle(&actuals, &mut again)
        .unwrap_or_else(|e| panic!("{}: second settlement failed: {e}", case.name));
    if again != ledger {
        errs.push("settling again with the same settler gives a different ledger".into());
    }

    if !errs.is_empty() {
        panic!("case `{}`:\n  {}", case.name, errs.join("\n  "));
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A single outcome, one payer, one interest-bearing loan, enterprise costs.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const SINGLE_OUTCOME: Case = Case {
    name: "single_outcome",
    scenario: r#"
[contract]
name = "single outcome"
periods = 4
period = "quarter"
rate_basis = "simple"      # 8% a year -> 2% a quarter exactly

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
fixed_costs = { amount = 2000 }   # every period 1..4
per_participant_cost = 150

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[outcomes]]
id = "job"
lag = 2        # measured in period 3
pay_lag = 1    # paid in period 4
price = 1500

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rate = 0.08
rank = 1
drawdowns = { at = [[1, 10000]] }
"#,
    actuals: "\
period,cohort,outcome,units
1,c1,enrolled,10
3,c1,job,8
",
    final_period: 4,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown loan"),
        L(1, "se", "external", "2000.00", "operating-cost"),
        // 10 participants x 150 = 1,500.00
        L(1, "se", "external", "1500.00", "participant-cost c1"),
        L(2, "se", "external", "2000.00", "operating-cost"),
        L(3, "se", "external", "2000.00", "operating-cost"),
        L(4, "se", "external", "2000.00", "operating-cost"),
        // measured in 3: 8 x 1,500 = 12,000.00, paid in 4
        L(4, "gemeente", "contract-account", "12000.00", "outcome job c1"),
        // claim: p1 10,000 (drawn after accrual); p2 + 10,000 x 0.02 = 200 -> 10,200;
        // p3 + 10,200 x 0.02 = 204 -> 10,404; p4 + 10,404 x 0.02 = 208.08 -> 10,612.08
        L(4, "contract-account", "bank", "10612.08", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "12000.00", "0.00"),
        P("bank", "10000.00", "10612.08"),
        // paid 2,000 x 4 + 1,500 = 9,500
        P("se", "9500.00", "10000.00"),
        P("contract-account", "10612.08", "12000.00"),
        P("external", "0.00", "9500.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "10000.00",
        accrued: "612.08", // 200 + 204 + 208.08
        distributed: "10612.08",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "8",
        payable: "8",
        earned: "12000.00",
        paid: "12000.00",
    }],
    // remainder rule defaults to hold: 12,000.00 - 10,612.08 = 1,387.92
    held_at_end: "1387.92",
    ..BASE
};

#[test]
fn single_outcome() {
    check(&SINGLE_OUTCOME);
}

// ---------------------------------------------------------------------------------------------
// 2. Chained outcomes: job start -> sustained -> permanent contract; remainder to enterprise.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const CHAINED_OUTCOMES: Case = Case {
    name: "chained_outcomes",
    scenario: r#"
[contract]
name = "chained outcomes"
periods = 4
period = "quarter"
remainder = "enterprise"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 20

[[outcomes]]
id = "start"
lag = 1          # measured in 2
price = 1000

[[outcomes]]
id = "sustain"
requires = "start"
lag = 2          # measured in 3
price = 2000

[[outcomes]]
id = "permanent"
requires = "sustain"
lag = 3          # measured in 4
price = 3000

[[tranches]]
id = "loan"
investor = "bank"
committed = 30000
rank = 1
drawdowns = { at = [[1, 30000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,start,12
3,c1,sustain,9
4,c1,permanent,5
",
    final_period: 4,
    ledger: &[
        L(1, "bank", "se", "30000.00", "drawdown loan"),
        // 12 x 1,000 = 12,000; claim 30,000 -> 18,000
        L(2, "gemeente", "contract-account", "12000.00", "outcome start c1"),
        L(2, "contract-account", "bank", "12000.00", "distribution loan"),
        // 9 (<= 12 starts) x 2,000 = 18,000; claim 18,000 -> 0
        L(3, "gemeente", "contract-account", "18000.00", "outcome sustain c1"),
        L(3, "contract-account", "bank", "18000.00", "distribution loan"),
        // 5 (<= 9 sustained) x 3,000 = 15,000; nothing owed, all to the enterprise
        L(4, "gemeente", "contract-account", "15000.00", "outcome permanent c1"),
        L(4, "contract-account", "se", "15000.00", "remainder"),
    ],
    parties: &[
        P("gemeente", "45000.00", "0.00"), // 12,000 + 18,000 + 15,000
        P("bank", "30000.00", "30000.00"),
        P("se", "0.00", "45000.00"), // 30,000 drawn + 15,000 remainder
        P("contract-account", "45000.00", "45000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "30000.00",
        accrued: "0.00",
        distributed: "30000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[
        O {
            id: "start",
            achieved: "12",
            payable: "12",
            earned: "12000.00",
            paid: "12000.00",
        },
        O {
            id: "sustain",
            achieved: "9",
            payable: "9",
            earned: "18000.00",
            paid: "18000.00",
        },
        O {
            id: "permanent",
            achieved: "5",
            payable: "5",
            earned: "15000.00",
            paid: "15000.00",
        },
    ],
    ..BASE
};

#[test]
fn chained_outcomes() {
    check(&CHAINED_OUTCOMES);
}

// ---------------------------------------------------------------------------------------------
// 3. Improvement over a baseline with a per-cohort and an overall threshold (Peterborough):
//    reconvictions, fewer is better, baseline 50% of the cohort; a cohort improving by 10%
//    is paid on its own; the others are paid at the end if all cohorts together improve by
//    7.5%. Two variants: the overall test passes, and it fails.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const THRESHOLD_SCENARIO: &str = r#"
[contract]
name = "thresholds"
periods = 4
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 100

[[cohorts]]
id = "c2"
enrol = 2
size = 100

[[outcomes]]
id = "reoffend"
direction = "decrease"
baseline = { kind = "rate", rate = 0.5 }
threshold = { per_cohort = 0.10, overall = 0.075 }
lag = 1        # c1 measured in 2, c2 in 3
pay_lag = 1    # c1 paid in 3; the overall test is judged in 3 (last measurement), paid in 4
price = 1000

[[tranches]]
id = "loan"
investor = "bank"
committed = 5000
rank = 1
drawdowns = { at = [[1, 5000]] }
"#;

#[rustfmt::skip]
const THRESHOLD_OVERALL_PASSES: Case = Case {
    name: "threshold_overall_passes",
    scenario: THRESHOLD_SCENARIO,
    actuals: "\
period,cohort,outcome,units
2,c1,reoffend,44
3,c2,reoffend,48
",
    final_period: 4,
    ledger: &[
        L(1, "bank", "se", "5000.00", "drawdown loan"),
        // c1: baseline 100 x 0.5 = 50; improvement (50 - 44) / 50 = 12% >= 10%:
        // paid on its own, (50 - 44) = 6 units x 1,000 = 6,000, in period 2 + 1 = 3
        L(3, "gemeente", "contract-account", "6000.00", "outcome reoffend c1"),
        L(3, "contract-account", "bank", "5000.00", "distribution loan"),
        // c2: (50 - 48) / 50 = 4% < 10%: held. Overall in 3: (100 - (44 + 48)) / 100 = 8%
        // >= 7.5%: c2's 2 units x 1,000 = 2,000 paid in 3 + 1 = 4
        L(4, "gemeente", "contract-account", "2000.00", "outcome reoffend c2"),
    ],
    parties: &[
        P("gemeente", "8000.00", "0.00"),
        P("bank", "5000.00", "5000.00"),
        P("se", "0.00", "5000.00"),
        P("contract-account", "5000.00", "8000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "5000.00",
        accrued: "0.00",
        distributed: "5000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "reoffend",
        achieved: "92", // 44 + 48
        payable: "8",   // 6 + 2
        earned: "8000.00",
        paid: "8000.00",
    }],
    claims: &[
        "2,reoffend,c1,person,44,50,0.12,6,6,1000,6000.00,0.00,0.00,6000.00,3,6000.00,0.00,earned,0.00,0.00",
        "3,reoffend,c2,person,48,50,0.04,2,2,1000,2000.00,0.00,0.00,2000.00,4,2000.00,0.00,earned,0.00,0.00",
    ],
    held_at_end: "3000.00", // (6,000 - 5,000) + 2,000, held
    ..BASE
};

#[test]
fn threshold_overall_passes() {
    check(&THRESHOLD_OVERALL_PASSES);
}

#[rustfmt::skip]
const THRESHOLD_OVERALL_FAILS: Case = Case {
    name: "threshold_overall_fails",
    scenario: THRESHOLD_SCENARIO,
    actuals: "\
period,cohort,outcome,units
2,c1,reoffend,44
3,c2,reoffend,49
",
    final_period: 4,
    ledger: &[
        L(1, "bank", "se", "5000.00", "drawdown loan"),
        // c1 as before: 12% >= 10%, 6 x 1,000
        L(3, "gemeente", "contract-account", "6000.00", "outcome reoffend c1"),
        L(3, "contract-account", "bank", "5000.00", "distribution loan"),
        // c2: (50 - 49) / 50 = 2% < 10%: held; overall (100 - 93) / 100 = 7% < 7.5%:
        // c2 is never paid
    ],
    parties: &[
        P("gemeente", "6000.00", "0.00"),
        P("bank", "5000.00", "5000.00"),
        P("se", "0.00", "5000.00"),
        P("contract-account", "5000.00", "6000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "5000.00",
        accrued: "0.00",
        distributed: "5000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "reoffend",
        achieved: "93", // 44 + 49
        payable: "6",   // c1 only
        earned: "6000.00",
        paid: "6000.00",
    }],
    claims: &[
        "2,reoffend,c1,person,44,50,0.12,6,6,1000,6000.00,0.00,0.00,6000.00,3,6000.00,0.00,earned,0.00,0.00",
        "3,reoffend,c2,person,49,50,0.02,1,0,1000,0.00,0.00,0.00,0.00,,,0.00,overall-not-met,0.00,0.00",
    ],
    held_at_end: "1000.00", // 6,000 - 5,000
    ..BASE
};

#[test]
fn threshold_overall_fails() {
    check(&THRESHOLD_OVERALL_FAILS);
}

// ---------------------------------------------------------------------------------------------
// 3b. A share cap and an amount cap on one outcome; a per-cohort threshold without an overall
//     one (a cohort below it earns nothing). Checked to the claim.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const SHARE_AND_AMOUNT_CAPS: Case = Case {
    name: "share_and_amount_caps",
    scenario: r#"
[contract]
name = "share and amount caps"
periods = 3
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 1
size = 10

[[outcomes]]
id = "job"
lag = 1                                  # measured and paid in 2
price = 1000
cap = { share = 0.3, amount = 5000 }

[[outcomes]]
id = "housing"
lag = 1
baseline = { kind = "rate", rate = 0.5 }
threshold = { per_cohort = 0.25 }
price = 500

[[tranches]]
id = "loan"
investor = "bank"
committed = 6000
rank = 1
drawdowns = { at = [[1, 6000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,5
2,c2,job,3
2,c1,housing,7
2,c2,housing,6
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "6000.00", "drawdown loan"),
        // job c1: 5 achieved, the share cap allows 10 x 0.3 = 3: 3 x 1,000 = 3,000
        L(2, "gemeente", "contract-account", "3000.00", "outcome job c1"),
        // job c2: 3 achieved, 3 allowed: 3,000, of which the amount cap leaves
        // 5,000 - 3,000 = 2,000
        L(2, "gemeente", "contract-account", "2000.00", "outcome job c2"),
        // housing c1: baseline 10 x 0.5 = 5; (7 - 5) / 5 = 40% >= 25%: 2 x 500 = 1,000;
        // housing c2: (6 - 5) / 5 = 20% < 25%: nothing
        L(2, "gemeente", "contract-account", "1000.00", "outcome housing c1"),
        // claim 6,000, account 3,000 + 2,000 + 1,000 = 6,000
        L(2, "contract-account", "bank", "6000.00", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "6000.00", "0.00"),
        P("bank", "6000.00", "6000.00"),
        P("se", "0.00", "6000.00"),
        P("contract-account", "6000.00", "6000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "6000.00",
        accrued: "0.00",
        distributed: "6000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[
        O {
            id: "job",
            achieved: "8",   // 5 + 3
            payable: "6",    // 3 + 3
            earned: "5000.00",
            paid: "5000.00",
        },
        O {
            id: "housing",
            achieved: "13",  // 7 + 6
            payable: "2",    // c1 only
            earned: "1000.00",
            paid: "1000.00",
        },
    ],
    claims: &[
        "2,job,c1,person,5,,,5,3,1000,3000.00,0.00,0.00,3000.00,2,3000.00,0.00,earned,0.00,0.00",
        "2,job,c2,person,3,,,3,3,1000,3000.00,0.00,1000.00,2000.00,2,2000.00,0.00,earned,0.00,0.00",
        "2,housing,c1,person,7,5,0.4,2,2,500,1000.00,0.00,0.00,1000.00,2,1000.00,0.00,earned,0.00,0.00",
        "2,housing,c2,person,6,5,0.2,1,0,500,0.00,0.00,0.00,0.00,,,0.00,below-threshold,0.00,0.00",
    ],
    ..BASE
};

#[test]
fn share_and_amount_caps() {
    check(&SHARE_AND_AMOUNT_CAPS);
}

// ---------------------------------------------------------------------------------------------
// 4. A payment grid on improvement over a control group (Actiris style: principal only up to
//    50% better, then a rising premium), with interest, a performance share and the remainder
//    returned to the payer.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const PAYMENT_GRID: Case = Case {
    name: "payment_grid",
    scenario: r#"
[contract]
name = "grid"
periods = 2
period = "half-year"
rate_basis = "simple"         # 10% a year -> 5% a half-year
remainder = "return-to-payers"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
performance_share = 0.5

[[cohorts]]
id = "c1"
enrol = 1
size = 40

[[cohorts]]
id = "c2"
enrol = 1
size = 50

[[outcomes]]
id = "employment"
lag = 1
baseline = { kind = "control-group" }
# amount per enrolled participant: nothing below 1% better; 500 from 1% to 50%;
# rising linearly to 800 at 100%; flat after
grid = { kind = "linear", points = [[0.01, 500], [0.5, 500], [1.0, 800]] }

[[tranches]]
id = "loan"
investor = "bank"
committed = 40000
rate = 0.10
rank = 1
drawdowns = { at = [[1, 40000]] }
"#,
    actuals: "\
period,cohort,outcome,units,baseline
2,c1,employment,17,0.2625
2,c2,employment,18,0.3
",
    final_period: 2,
    ledger: &[
        L(1, "bank", "se", "40000.00", "drawdown loan"),
        // c1: baseline 40 x 0.2625 = 10.5; improvement (17 - 10.5) / 10.5 = 13/21 = 0.6190...
        // amount per participant 500 + (800 - 500) x (13/21 - 1/2) / (1 - 1/2)
        //   = 500 + 600 x 5/42 = 571.428571... (price kept to 6 decimals: 571.428571)
        // x 40 participants = 22,857.14284 -> 22,857.14 (exact 22,857.142857... -> same)
        L(2, "gemeente", "contract-account", "22857.14", "outcome employment c1"),
        // c2: baseline 50 x 0.3 = 15; improvement (18 - 15) / 15 = 20%: in [1%, 50%] -> 500
        // x 50 = 25,000.00
        L(2, "gemeente", "contract-account", "25000.00", "outcome employment c2"),
        // claim 40,000 + 40,000 x 0.05 = 42,000
        L(2, "contract-account", "bank", "42000.00", "distribution loan"),
        // left 22,857.14 + 25,000 - 42,000 = 5,857.14; performance share 50% = 2,928.57
        L(2, "contract-account", "se", "2928.57", "performance-share"),
        // remainder 5,857.14 - 2,928.57 = 2,928.57 back to the only payer
        L(2, "contract-account", "gemeente", "2928.57", "remainder"),
    ],
    parties: &[
        P("gemeente", "47857.14", "2928.57"), // 22,857.14 + 25,000
        P("bank", "40000.00", "42000.00"),
        P("se", "0.00", "42928.57"), // 40,000 + 2,928.57
        P("contract-account", "47857.14", "47857.14"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "40000.00",
        accrued: "2000.00",
        distributed: "42000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "employment",
        achieved: "35",  // 17 + 18
        payable: "9.5",  // (17 - 10.5) + (18 - 15)
        earned: "47857.14",
        paid: "47857.14",
    }],
    claims: &[
        "2,employment,c1,person,17,10.5,0.619047619048,6.5,6.5,,22857.14,0.00,0.00,22857.14,2,22857.14,0.00,earned,0.00,0.00",
        "2,employment,c2,person,18,15,0.2,3,3,,25000.00,0.00,0.00,25000.00,2,25000.00,0.00,earned,0.00,0.00",
    ],
    ..BASE
};

#[test]
fn payment_grid() {
    check(&PAYMENT_GRID);
}

// ---------------------------------------------------------------------------------------------
// 4b. A step grid paid for the cohort as a whole (`per = "cohort"`), as New York's Rikers bond
//     paid fixed sums by the reduction reached: the tier's amount once, whatever the cohort's
//     size; a cohort below the first point earns nothing.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const COHORT_GRID: Case = Case {
    name: "cohort_grid",
    scenario: r#"
[contract]
name = "grid per cohort"
periods = 3
period = "year"

[[payers]]
id = "city"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 100

[[cohorts]]
id = "c2"
enrol = 2
size = 50

[[outcomes]]
id = "job"
lag = 1
baseline = { kind = "rate", rate = 0.4 }
grid = { kind = "step", points = [[0.085, 100000], [0.10, 150000], [0.20, 300000]], per = "cohort" }

[[tranches]]
id = "loan"
investor = "bank"
committed = 200000
rank = 1
drawdowns = { at = [[1, 200000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,45
3,c2,job,21
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "200000.00", "drawdown loan"),
        // c1: baseline 100 x 0.4 = 40; improvement (45 - 40) / 40 = 12.5%: the 10% tier,
        // 150,000 for the cohort (not x 100)
        L(2, "city", "contract-account", "150000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "150000.00", "distribution loan"),
        // c2: baseline 50 x 0.4 = 20; improvement (21 - 20) / 20 = 5%: below 8.5%, nothing
    ],
    parties: &[
        P("city", "150000.00", "0.00"),
        P("bank", "200000.00", "150000.00"),
        P("se", "0.00", "200000.00"),
        P("contract-account", "150000.00", "150000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "200000.00",
        accrued: "0.00",
        distributed: "150000.00",
        guaranteed: "0.00",
        outstanding: "50000.00",
        unrecovered: "50000.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "66",  // 45 + 21
        payable: "6",    // (45 - 40) + (21 - 20)
        earned: "150000.00",
        paid: "150000.00",
    }],
    claims: &[
        "2,job,c1,person,45,40,0.125,5,5,,150000.00,0.00,0.00,150000.00,2,150000.00,0.00,earned,0.00,0.00",
        "3,job,c2,person,21,20,0.05,1,1,,0.00,0.00,0.00,0.00,3,0.00,0.00,earned,0.00,0.00",
    ],
    ..BASE
};

#[test]
fn cohort_grid() {
    check(&COHORT_GRID);
}

// ---------------------------------------------------------------------------------------------
// 5. Volume tiers on cumulative units over all cohorts, a unit cap, a price with sub-cent
//    digits (rounded once per payment, not per unit).
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const VOLUME_TIERS: Case = Case {
    name: "volume_tiers",
    scenario: r#"
[contract]
name = "tiers"
periods = 3
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 12

[[outcomes]]
id = "job"
lag = 1
tiers = [
  { up_to = 10, price = 1000 },
  { up_to = 15, price = 800 },
  { price = 333.333333 },
]
cap = { units = 17 }

[[tranches]]
id = "loan"
investor = "bank"
committed = 12000
rank = 1
drawdowns = { at = [[1, 12000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,8
3,c2,job,10
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "12000.00", "drawdown loan"),
        // units 1..8 in the first tier: 8 x 1,000
        L(2, "gemeente", "contract-account", "8000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "8000.00", "distribution loan"),
        // c2 reports 10, the cap leaves 17 - 8 = 9: units 9..10 at 1,000 (2,000),
        // 11..15 at 800 (4,000), 16..17 at 333.333333 (666.666666);
        // 6,666.666666 -> 6,666.67
        L(3, "gemeente", "contract-account", "6666.67", "outcome job c2"),
        // claim 12,000 - 8,000 = 4,000
        L(3, "contract-account", "bank", "4000.00", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "14666.67", "0.00"), // 8,000 + 6,666.67
        P("bank", "12000.00", "12000.00"),
        P("se", "0.00", "12000.00"),
        P("contract-account", "12000.00", "14666.67"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "12000.00",
        accrued: "0.00",
        distributed: "12000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "18", // 8 + 10
        payable: "17",  // unit cap
        earned: "14666.67",
        paid: "14666.67",
    }],
    claims: &[
        "2,job,c1,person,8,,,8,8,,8000.00,0.00,0.00,8000.00,2,8000.00,0.00,earned,0.00,0.00",
        "3,job,c2,person,10,,,10,9,,6666.67,0.00,0.00,6666.67,3,6666.67,0.00,earned,0.00,0.00",
    ],
    held_at_end: "2666.67", // 6,666.67 - 4,000
    ..BASE
};

#[test]
fn volume_tiers() {
    check(&VOLUME_TIERS);
}

// ---------------------------------------------------------------------------------------------
// 6. A per-participant cap across two outcomes plus a cap on total outcome payments.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const PARTICIPANT_AND_TOTAL_CAP: Case = Case {
    name: "participant_and_total_cap",
    scenario: r#"
[contract]
name = "caps"
periods = 3
period = "quarter"
total_cap = 15000

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 5

[[outcomes]]
id = "diploma"
lag = 1        # measured and paid in 2
price = 3000

[[outcomes]]
id = "job"
lag = 2        # measured and paid in 3
price = 4000

[participant_cap]
amount = 5000
outcomes = ["diploma", "job"]

[[tranches]]
id = "loan"
investor = "bank"
committed = 20000
rank = 1
drawdowns = { at = [[1, 20000]] }
"#,
    actuals: "\
period,cohort,outcome,units,participant
2,c1,diploma,1,anna
2,c1,diploma,1,bram
2,c1,diploma,1,cas
3,c1,job,1,anna
3,c1,job,1,bram
3,c1,job,1,dewi
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "20000.00", "drawdown loan"),
        // diplomas: anna, bram, cas 3 x 3,000 = 9,000 (total cap room 15,000 -> 6,000)
        L(2, "gemeente", "contract-account", "9000.00", "outcome diploma c1"),
        L(2, "contract-account", "bank", "9000.00", "distribution loan"),
        // jobs: anna and bram have 3,000 already, cap 5,000 leaves 2,000 each;
        // dewi 4,000 in full: earned 2,000 + 2,000 + 4,000 = 8,000;
        // total cap leaves 15,000 - 9,000 = 6,000 (2,000 cut)
        L(3, "gemeente", "contract-account", "6000.00", "outcome job c1"),
        L(3, "contract-account", "bank", "6000.00", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "15000.00", "0.00"),
        P("bank", "20000.00", "15000.00"),
        P("se", "0.00", "20000.00"),
        P("contract-account", "15000.00", "15000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "20000.00",
        accrued: "0.00",
        distributed: "15000.00",
        guaranteed: "0.00",
        outstanding: "5000.00", // 20,000 - 15,000
        unrecovered: "5000.00",
    }],
    outcomes: &[
        O {
            id: "diploma",
            achieved: "3",
            payable: "3",
            earned: "9000.00",
            paid: "9000.00",
        },
        O {
            id: "job",
            achieved: "3",
            payable: "3",
            earned: "8000.00", // after the per-participant cap
            paid: "6000.00",   // after the total cap
        },
    ],
    claims: &[
        "2,diploma,c1,person,3,,,3,3,3000,9000.00,0.00,0.00,9000.00,2,9000.00,0.00,earned,0.00,0.00",
        // paid 6,000 of the 8,000 earned: the total cap cut 2,000 when it was paid
        "3,job,c1,person,3,,,3,3,4000,8000.00,4000.00,0.00,8000.00,3,6000.00,2000.00,earned,2000.00,0.00",
    ],
    cut_by_total_cap: "2000.00",
    ..BASE
};

#[test]
fn participant_and_total_cap() {
    check(&PARTICIPANT_AND_TOTAL_CAP);
}

// ---------------------------------------------------------------------------------------------
// 7. Three payers splitting every payment 40/35/25 by largest remainder in cents, and the
//    remainder returned to them in proportion to what each paid.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const THREE_PAYERS: Case = Case {
    name: "three_payers_largest_remainder",
    scenario: r#"
[contract]
name = "three payers"
periods = 2
period = "quarter"
remainder = "return-to-payers"

[[payers]]
id = "rotterdam"

[[payers]]
id = "zorgverzekeraar"

[[payers]]
id = "utrecht"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 5

[[outcomes]]
id = "diploma"
lag = 1
price = 1000.01
payers = { rotterdam = 0.40, zorgverzekeraar = 0.35, utrecht = 0.25 }

[[outcomes]]
id = "job"
lag = 1
price = 1000.10
payers = { rotterdam = 0.40, zorgverzekeraar = 0.35, utrecht = 0.25 }

[[tranches]]
id = "loan"
investor = "bank"
committed = 2000
rank = 1
drawdowns = { at = [[1, 2000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,diploma,1
2,c1,job,1
",
    final_period: 2,
    ledger: &[
        L(1, "bank", "se", "2000.00", "drawdown loan"),
        // 100,001 cents: quotas 40,000.4 / 35,000.35 / 25,000.25 -> floors 100,000,
        // the one cent left goes to the largest fraction (.4, rotterdam)
        L(2, "rotterdam", "contract-account", "400.01", "outcome diploma c1"),
        L(2, "zorgverzekeraar", "contract-account", "350.00", "outcome diploma c1"),
        L(2, "utrecht", "contract-account", "250.00", "outcome diploma c1"),
        // 100,010 cents: quotas 40,004 / 35,003.5 / 25,002.5 -> floors 100,009, one cent
        // left, tie .5/.5 goes to the payer listed first (zorgverzekeraar). (Rounding each
        // share on its own would give 40,004 + 35,004 + 25,003 = 100,011: one cent too many.)
        L(2, "rotterdam", "contract-account", "400.04", "outcome job c1"),
        L(2, "zorgverzekeraar", "contract-account", "350.04", "outcome job c1"),
        L(2, "utrecht", "contract-account", "250.02", "outcome job c1"),
        L(2, "contract-account", "bank", "2000.00", "distribution loan"),
        // remainder 2,000.11 - 2,000 = 11 cents, in proportion to 80,005 / 70,004 / 50,002
        // cents paid (sum 200,011): quotas 4.40003 / 3.85001 / 2.74996 -> floors 4 + 3 + 2 = 9,
        // two cents left to the largest fractions: zorgverzekeraar (.85) and utrecht (.75)
        L(2, "contract-account", "rotterdam", "0.04", "remainder"),
        L(2, "contract-account", "zorgverzekeraar", "0.04", "remainder"),
        L(2, "contract-account", "utrecht", "0.03", "remainder"),
    ],
    parties: &[
        P("rotterdam", "800.05", "0.04"),        // 400.01 + 400.04
        P("zorgverzekeraar", "700.04", "0.04"),  // 350.00 + 350.04
        P("utrecht", "500.02", "0.03"),          // 250.00 + 250.02
        P("bank", "2000.00", "2000.00"),
        P("se", "0.00", "2000.00"),
        P("contract-account", "2000.11", "2000.11"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "2000.00",
        accrued: "0.00",
        distributed: "2000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[
        O {
            id: "diploma",
            achieved: "1",
            payable: "1",
            earned: "1000.01",
            paid: "1000.01",
        },
        O {
            id: "job",
            achieved: "1",
            payable: "1",
            earned: "1000.10",
            paid: "1000.10",
        },
    ],
    ..BASE
};

#[test]
fn three_payers_largest_remainder() {
    check(&THREE_PAYERS);
}

// ---------------------------------------------------------------------------------------------
// 8. A senior loan and two junior tranches at equal rank, sharing pro rata to their claims.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const SENIOR_AND_JUNIORS: Case = Case {
    name: "senior_and_equal_rank_juniors",
    scenario: r#"
[contract]
name = "capital stack"
periods = 3
period = "quarter"
rate_basis = "simple"   # 8% -> 2%, 4% -> 1% a quarter

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[[investors]]
id = "fund"

[[investors]]
id = "foundation"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 20

[[cohorts]]
id = "c2"
enrol = 2
size = 20

[[outcomes]]
id = "job"
lag = 1
price = 1000

[[tranches]]
id = "senior"
investor = "bank"
committed = 10000
rate = 0.08
rank = 1
drawdowns = { at = [[1, 10000]] }

[[tranches]]
id = "junior-a"
investor = "fund"
committed = 6000
rate = 0.04
rank = 2
drawdowns = { at = [[1, 6000]] }

[[tranches]]
id = "junior-b"
investor = "foundation"
committed = 3000
rank = 2
drawdowns = { at = [[1, 3000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,12
3,c2,job,5
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown senior"),
        L(1, "fund", "se", "6000.00", "drawdown junior-a"),
        L(1, "foundation", "se", "3000.00", "drawdown junior-b"),
        // period 2 claims: senior 10,000 x 1.02 = 10,200; junior-a 6,000 x 1.01 = 6,060;
        // junior-b 3,000. Cash 12 x 1,000 = 12,000: senior in full, 1,800 left for rank 2
        L(2, "gemeente", "contract-account", "12000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "10200.00", "distribution senior"),
        // 180,000 cents pro rata 6,060 : 3,000 (sum 9,060): quotas 120,397.35 / 59,602.65
        // -> floors 179,999, the cent left to the larger fraction (junior-b)
        L(2, "contract-account", "fund", "1203.97", "distribution junior-a"),
        L(2, "contract-account", "foundation", "596.03", "distribution junior-b"),
        // period 3 claims: junior-a 6,060 - 1,203.97 = 4,856.03, + 48.5603 -> 48.56 = 4,904.59;
        // junior-b 3,000 - 596.03 = 2,403.97; sum 7,308.56. Cash 5 x 1,000 = 5,000
        L(3, "gemeente", "contract-account", "5000.00", "outcome job c2"),
        // 500,000 cents pro rata 4,904.59 : 2,403.97: quotas 335,537.37 / 164,462.63 ->
        // floors 499,999, the cent left to junior-b (.63 > .37)
        L(3, "contract-account", "fund", "3355.37", "distribution junior-a"),
        L(3, "contract-account", "foundation", "1644.63", "distribution junior-b"),
    ],
    parties: &[
        P("gemeente", "17000.00", "0.00"),
        P("bank", "10000.00", "10200.00"),
        P("fund", "6000.00", "4559.34"),       // 1,203.97 + 3,355.37
        P("foundation", "3000.00", "2240.66"), // 596.03 + 1,644.63
        P("se", "0.00", "19000.00"),
        P("contract-account", "17000.00", "17000.00"),
    ],
    tranches: &[
        T {
            id: "senior",
            drawn: "10000.00",
            accrued: "200.00",
            distributed: "10200.00",
            guaranteed: "0.00",
            outstanding: "0.00",
            unrecovered: "0.00",
        },
        T {
            id: "junior-a",
            drawn: "6000.00",
            accrued: "108.56", // 60 + 48.56
            distributed: "4559.34",
            guaranteed: "0.00",
            outstanding: "1549.22", // 4,904.59 - 3,355.37
            unrecovered: "1440.66", // 6,000 - 4,559.34
        },
        T {
            id: "junior-b",
            drawn: "3000.00",
            accrued: "0.00",
            distributed: "2240.66",
            guaranteed: "0.00",
            outstanding: "759.34", // 2,403.97 - 1,644.63
            unrecovered: "759.34", // 3,000 - 2,240.66
        },
    ],
    outcomes: &[O {
        id: "job",
        achieved: "17",
        payable: "17",
        earned: "17000.00",
        paid: "17000.00",
    }],
    ..BASE
};

#[test]
fn senior_and_equal_rank_juniors() {
    check(&SENIOR_AND_JUNIORS);
}

// ---------------------------------------------------------------------------------------------
// 9. A capped return (Rotterdam: at most 12% a year) with "pay only what is due" and an
//    assessor's fee paid first in the waterfall.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const CAPPED_RETURN_PAY_ONLY_DUE: Case = Case {
    name: "capped_return_pay_only_due",
    scenario: r#"
[contract]
name = "pay only what is due"
periods = 3
period = "year"
rate_basis = "simple"
pay_only_due = true

[[payers]]
id = "gemeente"

[[investors]]
id = "fund"

[[fee_recipients]]
id = "assessor"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 20

[[outcomes]]
id = "job"
lag = 1
price = 1000

[[tranches]]
id = "capped"
investor = "fund"
committed = 10000
rate = 0.12
rank = 1
drawdowns = { at = [[1, 10000]] }

[[fees]]
id = "assessment"
payee = "assessor"
schedule = { amount = 100 }   # due every period 1..3
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,5
3,c2,job,10
",
    final_period: 3,
    ledger: &[
        // period 1: the fee of 100 falls due but there is no cash; it stays owed
        L(1, "fund", "se", "10000.00", "drawdown capped"),
        // period 2: claim 10,000 + 12% = 11,200; fees owed 200; due 11,400 >= 5 x 1,000
        L(2, "gemeente", "contract-account", "5000.00", "outcome job c1"),
        L(2, "contract-account", "assessor", "200.00", "fee assessment"),
        L(2, "contract-account", "fund", "4800.00", "distribution capped"), // claim -> 6,400
        // period 3: claim 6,400 + 768 = 7,168; fee 100; due 7,268 < 10 x 1,000 earned:
        // the payer pays 7,268 only (2,732 not due)
        L(3, "gemeente", "contract-account", "7268.00", "outcome job c2"),
        L(3, "contract-account", "assessor", "100.00", "fee assessment"),
        L(3, "contract-account", "fund", "7168.00", "distribution capped"),
    ],
    parties: &[
        P("gemeente", "12268.00", "0.00"), // 5,000 + 7,268
        P("fund", "10000.00", "11968.00"), // 4,800 + 7,168
        P("assessor", "0.00", "300.00"),
        P("se", "0.00", "10000.00"),
        P("contract-account", "12268.00", "12268.00"),
    ],
    tranches: &[T {
        id: "capped",
        drawn: "10000.00",
        accrued: "1968.00", // 1,200 + 768
        distributed: "11968.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "15",
        payable: "15",
        earned: "15000.00",
        paid: "12268.00",
    }],
    not_due: "2732.00", // 10,000 - 7,268
    ..BASE
};

#[test]
fn capped_return_pay_only_due() {
    check(&CAPPED_RETURN_PAY_ONLY_DUE);
}

// ---------------------------------------------------------------------------------------------
// 10. A guarantee called at maturity: two guarantors (2/3 and 1/3) cover the unrecovered
//     principal up to the smaller of a limit and a fraction of the drawn principal.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const GUARANTEE_AT_MATURITY: Case = Case {
    name: "guarantee_at_maturity",
    scenario: r#"
[contract]
name = "guarantee"
periods = 3
period = "year"
rate_basis = "simple"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[[guarantors]]
id = "foundation"

[[guarantors]]
id = "province"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[outcomes]]
id = "job"
lag = 1
price = 1000

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rate = 0.04
rank = 1
drawdowns = { at = [[1, 10000]] }
guarantee = { guarantors = { foundation = 0.666666666667, province = 0.333333333333 }, limit = 5000, fraction = 0.6 }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,3
3,c2,job,0
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown loan"),
        // claim 10,000 + 4% = 10,400; 3 x 1,000 paid -> 7,400
        L(2, "gemeente", "contract-account", "3000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "3000.00", "distribution loan"),
        // period 3: claim 7,400 + 296 = 7,696; nothing achieved. At maturity: unrecovered
        // principal 10,000 - 3,000 = 7,000; fraction 60% x 10,000 = 6,000; limit 5,000:
        // call 5,000. Split 500,000 cents 2/3 : 1/3 -> quotas 333,333.33 / 166,666.67 ->
        // floors 499,999, the cent to province (.67 > .33)
        L(3, "foundation", "bank", "3333.33", "guarantee loan"),
        L(3, "province", "bank", "1666.67", "guarantee loan"),
    ],
    parties: &[
        P("gemeente", "3000.00", "0.00"),
        P("bank", "10000.00", "8000.00"), // 3,000 + 5,000
        P("foundation", "3333.33", "0.00"),
        P("province", "1666.67", "0.00"),
        P("se", "0.00", "10000.00"),
        P("contract-account", "3000.00", "3000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "10000.00",
        accrued: "696.00", // 400 + 296
        distributed: "3000.00",
        guaranteed: "5000.00",
        outstanding: "2696.00", // 7,696 - 5,000
        unrecovered: "2000.00", // 10,000 - 3,000 - 5,000
    }],
    outcomes: &[O {
        id: "job",
        achieved: "3",
        payable: "3",
        earned: "3000.00",
        paid: "3000.00",
    }],
    ..BASE
};

#[test]
fn guarantee_at_maturity() {
    check(&GUARANTEE_AT_MATURITY);
}

// ---------------------------------------------------------------------------------------------
// 10b. The same loan counting its distributions interest first (`allocation`): the 3,000 of
//      period 2 pay the 400 of interest accrued first and repay 2,600 of principal, so 7,400
//      of principal is unrecovered at maturity, not 7,000. Under the limit of 5,000 the call
//      is the same and 2,400 stays unrecovered; under a full guarantee the call is 7,400.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const GUARANTEE_INTEREST_FIRST_LIMITED: Case = Case {
    name: "guarantee_interest_first_limited",
    scenario: r#"
[contract]
name = "guarantee, interest first"
periods = 3
period = "year"
rate_basis = "simple"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[[guarantors]]
id = "foundation"

[[guarantors]]
id = "province"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[outcomes]]
id = "job"
lag = 1
price = 1000

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rate = 0.04
rank = 1
drawdowns = { at = [[1, 10000]] }
guarantee = { guarantors = { foundation = 0.666666666667, province = 0.333333333333 }, limit = 5000, fraction = 0.6 }
allocation = "interest-first"
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,3
3,c2,job,0
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown loan"),
        L(2, "gemeente", "contract-account", "3000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "3000.00", "distribution loan"),
        // unrecovered 7,400 (interest first); 60% of 10,000 = 6,000; limit 5,000: call 5,000,
        // split as in case 10
        L(3, "foundation", "bank", "3333.33", "guarantee loan"),
        L(3, "province", "bank", "1666.67", "guarantee loan"),
    ],
    parties: &[
        P("gemeente", "3000.00", "0.00"),
        P("bank", "10000.00", "8000.00"),
        P("foundation", "3333.33", "0.00"),
        P("province", "1666.67", "0.00"),
        P("se", "0.00", "10000.00"),
        P("contract-account", "3000.00", "3000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "10000.00",
        accrued: "696.00",
        distributed: "3000.00",
        guaranteed: "5000.00",
        outstanding: "2696.00", // the claim is the same either way
        unrecovered: "2400.00", // 10,000 - 2,600 - 5,000
    }],
    outcomes: &[O {
        id: "job",
        achieved: "3",
        payable: "3",
        earned: "3000.00",
        paid: "3000.00",
    }],
    ..BASE
};

#[test]
fn guarantee_interest_first_limited() {
    check(&GUARANTEE_INTEREST_FIRST_LIMITED);
}

#[rustfmt::skip]
const GUARANTEE_INTEREST_FIRST_FULL: Case = Case {
    name: "guarantee_interest_first_full",
    scenario: r#"
[contract]
name = "guarantee, interest first"
periods = 3
period = "year"
rate_basis = "simple"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[[guarantors]]
id = "foundation"

[[guarantors]]
id = "province"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[outcomes]]
id = "job"
lag = 1
price = 1000

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rate = 0.04
rank = 1
drawdowns = { at = [[1, 10000]] }
guarantee = { guarantors = { foundation = 0.666666666667, province = 0.333333333333 } }
allocation = "interest-first"
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,3
3,c2,job,0
",
    final_period: 3,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown loan"),
        L(2, "gemeente", "contract-account", "3000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "3000.00", "distribution loan"),
        // call 7,400 = 740,000 cents: quotas 493,333.33 / 246,666.67, floors 739,999, the
        // cent to province (.67 > .33)
        L(3, "foundation", "bank", "4933.33", "guarantee loan"),
        L(3, "province", "bank", "2466.67", "guarantee loan"),
    ],
    parties: &[
        P("gemeente", "3000.00", "0.00"),
        P("bank", "10000.00", "10400.00"), // 3,000 + 7,400
        P("foundation", "4933.33", "0.00"),
        P("province", "2466.67", "0.00"),
        P("se", "0.00", "10000.00"),
        P("contract-account", "3000.00", "3000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "10000.00",
        accrued: "696.00",
        distributed: "3000.00",
        guaranteed: "7400.00",
        outstanding: "296.00", // 7,696 - 7,400: the interest of period 3, never guaranteed
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "3",
        payable: "3",
        earned: "3000.00",
        paid: "3000.00",
    }],
    ..BASE
};

#[test]
fn guarantee_interest_first_full() {
    check(&GUARANTEE_INTEREST_FIRST_FULL);
}

// ---------------------------------------------------------------------------------------------
// 11. Early termination at a checkpoint: the rate floor is missed, the contract stops, what
//     was earned is paid at once, later drawdowns never happen and the guarantee is called.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const EARLY_TERMINATION: Case = Case {
    name: "early_termination_at_checkpoint",
    scenario: r#"
[contract]
name = "early termination"
periods = 4
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
fixed_costs = { amount = 1000 }

[[cohorts]]
id = "c1"
enrol = 1
size = 20

[[cohorts]]
id = "c2"
enrol = 2
size = 20

[[outcomes]]
id = "job"
lag = 1        # c1 measured in 2, c2 in 3
pay_lag = 1    # c1 would be paid in 3
price = 1000

[[checkpoints]]
period = 2
outcome = "job"
min_rate = 0.3

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rank = 1
drawdowns = { at = [[1, 5000], [3, 5000]] }
guarantee = { guarantors = { gemeente = 1.0 }, limit = 600 }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,4
",
    final_period: 2,
    terminated_at: Some(2),
    ledger: &[
        L(1, "bank", "se", "5000.00", "drawdown loan"),
        L(1, "se", "external", "1000.00", "operating-cost"),
        L(2, "se", "external", "1000.00", "operating-cost"),
        // checkpoint in 2: 4 jobs / 20 enrolled = 0.2 < 0.3: terminated. The 4 x 1,000 due
        // in period 3 is paid now, in 2
        L(2, "gemeente", "contract-account", "4000.00", "outcome job c1"),
        L(2, "contract-account", "bank", "4000.00", "distribution loan"),
        // unrecovered principal 5,000 - 4,000 = 1,000, limit 600: call 600
        L(2, "gemeente", "bank", "600.00", "guarantee loan"),
        // the drawdown of period 3 never happens
    ],
    parties: &[
        P("gemeente", "4600.00", "0.00"), // 4,000 + 600
        P("bank", "5000.00", "4600.00"),
        P("se", "2000.00", "5000.00"),
        P("contract-account", "4000.00", "4000.00"),
        P("external", "0.00", "2000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "5000.00",
        accrued: "0.00",
        distributed: "4000.00",
        guaranteed: "600.00",
        outstanding: "400.00", // 5,000 - 4,000 - 600
        unrecovered: "400.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "4",
        payable: "4",
        earned: "4000.00",
        paid: "4000.00",
    }],
    ..BASE
};

#[test]
fn early_termination_at_checkpoint() {
    check(&EARLY_TERMINATION);
}

// ---------------------------------------------------------------------------------------------
// 11b. The same termination with `return_unspent = "on-termination"`: after the period's
//      payments in, the enterprise pays back as much of the capital it drew and did not spend
//      as the loan still needs, so the loan is repaid in full, the guarantee is not called, and
//      the enterprise keeps the rest.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const UNSPENT_ON_TERMINATION: Case = Case {
    name: "unspent_capital_on_termination",
    scenario: r#"
[contract]
name = "early termination, unspent capital returned"
periods = 4
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
fixed_costs = { amount = 1000 }
return_unspent = "on-termination"

[[cohorts]]
id = "c1"
enrol = 1
size = 20

[[cohorts]]
id = "c2"
enrol = 2
size = 20

[[outcomes]]
id = "job"
lag = 1
pay_lag = 1
price = 1000

[[checkpoints]]
period = 2
outcome = "job"
min_rate = 0.3

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rank = 1
drawdowns = { at = [[1, 5000], [3, 5000]] }
guarantee = { guarantors = { gemeente = 1.0 }, limit = 600 }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,job,4
",
    final_period: 2,
    terminated_at: Some(2),
    ledger: &[
        L(1, "bank", "se", "5000.00", "drawdown loan"),
        L(1, "se", "external", "1000.00", "operating-cost"),
        L(2, "se", "external", "1000.00", "operating-cost"),
        L(2, "gemeente", "contract-account", "4000.00", "outcome job c1"),
        // terminated in 2: drawn 5,000 less 2,000 spent = 3,000 unspent; the claim of 5,000
        // less the account's 4,000 needs 1,000 of it
        L(2, "se", "contract-account", "1000.00", "unspent-capital"),
        L(2, "contract-account", "bank", "5000.00", "distribution loan"),
        // nothing unrecovered: no guarantee call; the enterprise keeps 2,000
    ],
    parties: &[
        P("gemeente", "4000.00", "0.00"),
        P("bank", "5000.00", "5000.00"),
        P("se", "3000.00", "5000.00"),
        P("contract-account", "5000.00", "5000.00"),
        P("external", "0.00", "2000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "5000.00",
        accrued: "0.00",
        distributed: "5000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "4",
        payable: "4",
        earned: "4000.00",
        paid: "4000.00",
    }],
    ..BASE
};

#[test]
fn unspent_capital_on_termination() {
    check(&UNSPENT_ON_TERMINATION);
}

// ---------------------------------------------------------------------------------------------
// 11c. `return_unspent = "at-end"` at the contract's natural end: of what the enterprise drew
//      and did not spend, what the loan still needs goes back through the last waterfall; the
//      rest it keeps. With "on-termination" nothing is returned at the natural end.
// ---------------------------------------------------------------------------------------------

const UNSPENT_AT_END_SCENARIO: &str = r#"
[contract]
name = "unspent capital at the end"
periods = 2
period = "quarter"
remainder = "enterprise"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
fixed_costs = { amount = 3000 }
return_unspent = "at-end"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[outcomes]]
id = "job"
lag = 0
price = 1000

[[tranches]]
id = "loan"
investor = "bank"
committed = 10000
rank = 1
drawdowns = { at = [[1, 10000]] }
"#;

const UNSPENT_AT_END_ACTUALS: &str = "\
period,cohort,outcome,units
1,c1,job,5
2,c2,job,3
";

#[rustfmt::skip]
const UNSPENT_AT_END: Case = Case {
    name: "unspent_capital_at_end",
    scenario: UNSPENT_AT_END_SCENARIO,
    actuals: UNSPENT_AT_END_ACTUALS,
    final_period: 2,
    terminated_at: None,
    ledger: &[
        L(1, "bank", "se", "10000.00", "drawdown loan"),
        L(1, "se", "external", "3000.00", "operating-cost"),
        L(1, "gemeente", "contract-account", "5000.00", "outcome job c1"),
        L(1, "contract-account", "bank", "5000.00", "distribution loan"),
        L(2, "se", "external", "3000.00", "operating-cost"),
        L(2, "gemeente", "contract-account", "3000.00", "outcome job c2"),
        // the end: drawn 10,000 less 6,000 spent = 4,000 unspent; the claim's 5,000 less the
        // account's 3,000 needs 2,000 of it
        L(2, "se", "contract-account", "2000.00", "unspent-capital"),
        L(2, "contract-account", "bank", "5000.00", "distribution loan"),
        // nothing left for the remainder; the enterprise keeps 2,000
    ],
    parties: &[
        P("gemeente", "8000.00", "0.00"),
        P("bank", "10000.00", "10000.00"),
        P("se", "8000.00", "10000.00"),
        P("contract-account", "10000.00", "10000.00"),
        P("external", "0.00", "6000.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "10000.00",
        accrued: "0.00",
        distributed: "10000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "8",
        payable: "8",
        earned: "8000.00",
        paid: "8000.00",
    }],
    ..BASE
};

#[test]
fn unspent_capital_at_end() {
    check(&UNSPENT_AT_END);
}

/// Under "on-termination" the contract of 11c returns nothing at its natural end: the
/// enterprise keeps the 4,000 and the loan is 2,000 short.
#[test]
fn unspent_capital_is_kept_at_a_natural_end_under_on_termination() {
    let scenario = UNSPENT_AT_END_SCENARIO.replace("\"at-end\"", "\"on-termination\"");
    let s = settle_text(&scenario, UNSPENT_AT_END_ACTUALS).unwrap();
    assert_eq!(s.unspent_returned.0, 0);
    assert_eq!(s.enterprise_cash.0, 400_000);
    assert_eq!(s.tranches[0].unrecovered_principal.0, 200_000);
    assert_eq!(s.termination, None);
}

// ---------------------------------------------------------------------------------------------
// 12. Termination on an improvement floor releases amounts held for an overall threshold;
//     a quantity outcome (benefit days, fractional) against a forecast; a fixed payment.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const TERMINATION_RELEASES_HELD: Case = Case {
    name: "termination_releases_held_overall",
    scenario: r#"
[contract]
name = "termination with held amounts"
periods = 4
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[outcomes]]
id = "days"
kind = "quantity"
direction = "decrease"
baseline = { kind = "forecast", forecast = { c1 = 100, c2 = 100 } }
threshold = { overall = 0.05 }   # judged over all cohorts at the end only
lag = 1        # c1 measured in 2, c2 in 3 (the last measurement)
pay_lag = 1
price = 10

[[checkpoints]]
period = 2
outcome = "days"
min_improvement = 0.10

[[fixed_payments]]
period = 1
payer = "gemeente"
amount = 500

[[tranches]]
id = "loan"
investor = "bank"
committed = 1000
rank = 1
drawdowns = { at = [[1, 1000]] }
"#,
    actuals: "\
period,cohort,outcome,units
2,c1,days,92.5
",
    final_period: 2,
    terminated_at: Some(2),
    ledger: &[
        L(1, "bank", "se", "1000.00", "drawdown loan"),
        // the fixed payment goes through the waterfall at once: claim 1,000 -> 500
        L(1, "gemeente", "contract-account", "500.00", "fixed-payment"),
        L(1, "contract-account", "bank", "500.00", "distribution loan"),
        // c1 in 2: forecast 100, achieved 92.5: improvement 7.5 / 100 = 7.5%, held for the
        // overall test. Checkpoint in 2: 7.5% < 10%: terminated. The held amount is judged
        // now over what was measured: 7.5% >= 5% passes: 7.5 days x 10 = 75.00, due in
        // 2 + 1 = 3 but paid now, in 2
        L(2, "gemeente", "contract-account", "75.00", "outcome days c1"),
        L(2, "contract-account", "bank", "75.00", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "575.00", "0.00"), // 500 + 75
        P("bank", "1000.00", "575.00"),
        P("se", "0.00", "1000.00"),
        P("contract-account", "575.00", "575.00"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "1000.00",
        accrued: "0.00",
        distributed: "575.00",
        guaranteed: "0.00",
        outstanding: "425.00", // 1,000 - 575
        unrecovered: "425.00",
    }],
    outcomes: &[O {
        id: "days",
        achieved: "92.5",
        payable: "7.5",
        earned: "75.00",
        paid: "75.00",
    }],
    claims: &[
        "2,days,c1,unit,92.5,100,0.075,7.5,7.5,10,75.00,0.00,0.00,75.00,2,75.00,0.00,earned,0.00,0.00",
    ],
    ..BASE
};

#[test]
fn termination_releases_held_overall() {
    check(&TERMINATION_RELEASES_HELD);
}

// ---------------------------------------------------------------------------------------------
// Amounts beyond what the engine settles exactly are errors that say what grew too large and
// when, never an overflow (a panic in debug builds, silently wrong money in release builds).
// ---------------------------------------------------------------------------------------------

/// A one-outcome contract; `outcome` and `tranche` are spliced into the file.
fn limit_scenario(periods: u16, period: &str, outcome: &str, tranche: &str) -> String {
    limit_scenario_costing(periods, period, outcome, tranche, "0")
}

fn limit_scenario_costing(
    periods: u16,
    period: &str,
    outcome: &str,
    tranche: &str,
    per_participant_cost: &str,
) -> String {
    format!(
        r#"
[contract]
name = "limits"
periods = {periods}
period = "{period}"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"
per_participant_cost = {per_participant_cost}

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[outcomes]]
id = "days"
kind = "quantity"
lag = 1
{outcome}

[[tranches]]
id = "loan"
investor = "bank"
rank = 1
{tranche}
"#
    )
}

/// A small loan drawn at once, for the limit tests.
const SMALL_LOAN: &str = "committed = 1000\nrate = 0.05\ndrawdowns = { at = [[1, 1000]] }";

fn settle_text(scenario: &str, actuals: &str) -> Result<sibsim::Settlement, sibsim::SettleError> {
    let sc = sibsim::scenario::parse("limits.toml", scenario)
        .unwrap_or_else(|d| panic!("scenario does not parse:\n{d}"));
    let a = sibsim::actuals::parse_csv(&sc.contract, "limits.csv", actuals)
        .unwrap_or_else(|d| panic!("actuals do not parse:\n{d}"));
    let mut settler = Settler::new(&sc.contract);
    let mut ledger: Vec<LedgerLine> = Vec::new();
    settler.settle(&a, &mut ledger).cloned()
}

fn too_large(r: Result<sibsim::Settlement, sibsim::SettleError>) -> (String, u16) {
    match r {
        Err(sibsim::SettleError::TooLarge { what, period }) => (what, period),
        other => panic!("expected a too-large error, got {other:?}"),
    }
}

#[test]
fn outcome_payments_up_to_the_limit_settle_and_one_cent_more_is_an_error() {
    // 1e9 units x 100,000.00 = 1e14 currency units: exactly the limit, accepted to the cent.
    let at_limit = limit_scenario(4, "quarter", "price = 100000", SMALL_LOAN);
    let actuals = "period,cohort,outcome,units\n1,c1,enrolled,1\n2,c1,days,1000000000\n";
    let s = settle_text(&at_limit, actuals).expect("the limit itself settles");
    assert_eq!(s.outcomes[0].earned.to_string(), "100000000000000.00");
    // A millionth of a unit's price more is 1,000.00 beyond the limit.
    let beyond = limit_scenario(4, "quarter", "price = 100000.000001", SMALL_LOAN);
    let (what, period) = too_large(settle_text(&beyond, actuals));
    assert!(
        what.contains("outcome payments") && what.contains("`days`"),
        "{what}"
    );
    assert_eq!(period, 2, "the measurement period");
    // The largest price times the largest reported quantity (1e18 currency units) would not
    // fit in 64 bits of cents at all.
    let huge = limit_scenario(4, "quarter", "price = 1000000000", SMALL_LOAN);
    let (what, _) = too_large(settle_text(&huge, actuals));
    assert!(what.contains("outcome payments"), "{what}");
    assert!(
        what.ends_with("would pass 100,000,000,000,000 (currency units)"),
        "{what}"
    );
    let msg = sibsim::SettleError::TooLarge { what, period: 2 }.to_string();
    assert!(
        msg.starts_with("period 2: the outcome payments") && msg.contains("typo"),
        "{msg}"
    );
}

#[test]
fn a_claim_compounding_past_the_limit_is_an_error_in_the_period_it_does() {
    // EUR 1 trillion at 10% a year: 1.1^48 = 97.0 < 100 < 106.7 = 1.1^49, so the claim
    // (drawn in year 1, accruing from year 2) passes 100 trillion with year 50's interest.
    let loan =
        "committed = 1_000_000_000_000\nrate = 0.10\ndrawdowns = { at = [[1, 1_000_000_000_000]] }";
    let sc = limit_scenario(100, "year", "price = 1", loan);
    let (what, period) = too_large(settle_text(
        &sc,
        "period,cohort,outcome,units\n1,c1,enrolled,0\n",
    ));
    assert!(what.contains("tranche `loan`"), "{what}");
    assert_eq!(period, 50);
}

#[test]
fn participant_costs_past_the_limit_are_an_error() {
    // 1e9 participants x 1e9 per participant = 1e18 currency units of costs.
    let sc = limit_scenario_costing(4, "quarter", "price = 1", SMALL_LOAN, "1_000_000_000");
    let (what, period) = too_large(settle_text(
        &sc,
        "period,cohort,outcome,units\n1,c1,enrolled,1000000000\n",
    ));
    assert!(what.contains("participant costs"), "{what}");
    assert_eq!(period, 1);
}

#[test]
fn measured_units_past_the_limit_are_an_error() {
    // 1e9 units in each of 1,100 measurement periods: the 1,001st passes 1e12 units.
    let sc = limit_scenario(
        1200,
        "month",
        "price = 0\nmeasure_periods = 1100",
        SMALL_LOAN,
    );
    let mut actuals = String::from("period,cohort,outcome,units\n1,c1,enrolled,1\n");
    for p in 2..=1101 {
        actuals.push_str(&format!("{p},c1,days,1000000000\n"));
    }
    let (what, period) = too_large(settle_text(&sc, &actuals));
    assert!(what.contains("units measured"), "{what}");
    assert_eq!(period, 1002);
}

#[test]
fn per_participant_payments_are_bounded_before_they_are_summed() {
    // A flat price of 1e9 under a participant cap: 100,000 participants with one achievement
    // each could be paid exactly 1e14, the limit; one participant more could pass it.
    let text = r#"
[contract]
name = "limits"
periods = 4
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[outcomes]]
id = "job"
lag = 1
price = 1_000_000_000

[participant_cap]
amount = 1_000_000_000_000
outcomes = ["job"]

[[tranches]]
id = "loan"
investor = "bank"
rank = 1
committed = 1000
drawdowns = { at = [[1, 1000]] }
"#;
    let sc = sibsim::scenario::parse("limits.toml", text).expect("parses");
    let c = &sc.contract;
    let settle = |n: u32| {
        let mut a = sibsim::Actuals::new(c);
        a.set_enrolled(0, n);
        a.add_classes(0, &[(2, 0)], &[(n, 1)]);
        let mut ledger: Vec<LedgerLine> = Vec::new();
        Settler::new(c).settle(&a, &mut ledger).cloned()
    };
    let s = settle(100_000).expect("the limit itself settles");
    assert_eq!(s.outcomes[0].earned.to_string(), "100000000000000.00");
    let (what, period) = too_large(settle(100_001));
    assert!(
        what.starts_with("the per-participant payments could pass 100,000,000,000,000")
            && what.contains("`job`"),
        "{what}"
    );
    assert_eq!(period, 2);
    // The most participants a class can hold, at the largest price, would overflow 64 bits.
    too_large(settle(u32::MAX));
}

/// A settlement past the actuals' last period measures an unreported `decrease` cell only if
/// the contract is still running: here a checkpoint ends it in year 3, before cohort `b`'s
/// unreported year-4 measurement, so settling through any later year is the final statement
/// of year 3 (a check before settling refused it); cut the file after year 2 and the year-3
/// measurement is reached and refused.
#[test]
fn unreported_decrease_measurements_after_a_termination_are_never_reached() {
    const TERMS: &str = r#"
[contract]
name = "terminates before the unreported year"
period = "year"
periods = 8
[[payers]]
id = "city"
[[investors]]
id = "bank"
[enterprise]
id = "ent"
[[cohorts]]
id = "a"
enrol = 1
size = 10
[[cohorts]]
id = "b"
enrol = 2
size = 10
[[outcomes]]
id = "d"
kind = "quantity"
direction = "decrease"
lag = 0
measure_periods = 3
pay_lag = 1
price = 10
baseline = { kind = "forecast", forecast = { a = 100, b = 100 } }
[[checkpoints]]
period = 3
outcome = "d"
min_improvement = 0.05
[[tranches]]
id = "t1"
investor = "bank"
committed = 1000
rank = 1
drawdowns = { at = [[1, 1000]] }
"#;
    const ROWS: &str =
        "period,cohort,outcome,units\n1,a,d,98\n2,a,d,97\n2,b,d,99\n3,a,d,96\n3,b,d,100\n";
    let c = sibsim::scenario::parse("t.toml", TERMS).unwrap().contract;
    let a = sibsim::actuals::parse_csv(&c, "a.csv", ROWS).unwrap();
    assert_eq!(a.reported_through(), 3);
    let mut settler = Settler::new(&c);
    let mut full = Vec::<LedgerLine>::new();
    let s = settler.settle(&a, &mut full).unwrap().clone();
    assert!(s.termination.is_some() && s.final_period == 3, "{s:?}");
    // Days saved: a 2 + 3 + 4, b 1 + 0; all paid by the termination year.
    assert_eq!(s.outcome_payments.to_string(), "100.00");
    for through in 3..=8 {
        let mut ledger = Vec::<LedgerLine>::new();
        let t = settler.settle_through(&a, &mut ledger, through).unwrap();
        assert_eq!(format!("{t:?}"), format!("{s:?}"), "through {through}");
        assert_eq!(ledger, full);
    }
    let cut: String = ROWS
        .lines()
        .filter(|l| !l.starts_with('3'))
        .map(|l| format!("{l}\n"))
        .collect();
    let a2 = sibsim::actuals::parse_csv(&c, "a2.csv", &cut).unwrap();
    assert_eq!(sibsim::actuals::default_through(&c, &a2), 2);
    let e = settler
        .settle_through(&a2, &mut sibsim::settlement::NoLedger, 3)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`d`, cohort `a` is measured in period 3, after period 2"),
        "{e}"
    );
    assert!(
        settler
            .settle_through(&a2, &mut sibsim::settlement::NoLedger, 2)
            .unwrap()
            .interim
    );
}

/// Settles `terms` against the actuals `rows` and returns the ledger as
/// (period, rule name, amount) rows.
fn ledger_of(terms: &str, rows: &str) -> Vec<(u16, String, String)> {
    let c = sibsim::scenario::parse("t.toml", terms).unwrap().contract;
    let a = sibsim::actuals::parse_csv(&c, "a.csv", rows).unwrap();
    let mut ledger = Vec::<LedgerLine>::new();
    Settler::new(&c).settle(&a, &mut ledger).unwrap();
    ledger
        .iter()
        .map(|l| (l.period, rule_name(&c, &l.rule), l.amount.to_string()))
        .collect()
}

/// Under the per-participant cap a person's payment is an amount of money: a price of
/// 5,000.005 pays 5,000.01 to each of three people (15,000.03, not 15,000.015 rounded once),
/// and the first of them, capped at 8,000, has 2,999.99 left for a 3,000 outcome.
#[test]
fn a_sub_cent_price_under_the_participant_cap_is_rounded_per_person() {
    const TERMS: &str = r#"
[contract]
name = "per person"
period = "year"
periods = 6
[[payers]]
id = "city"
[[investors]]
id = "bank"
[enterprise]
id = "ent"
[[cohorts]]
id = "a"
enrol = 1
size = 10
[[outcomes]]
id = "oa"
lag = 1
measure_periods = 3
price = 3000
[[outcomes]]
id = "oc"
lag = 1
measure_periods = 4
price = 5000.005
[participant_cap]
amount = 8000
outcomes = ["oa", "oc"]
[[tranches]]
id = "t1"
investor = "bank"
committed = 100000
rank = 1
drawdowns = { at = [[1, 100000]] }
"#;
    let rows = "period,cohort,outcome,units,participant\n2,a,oc,1,P7\n2,a,oc,1,P8\n2,a,oc,1,P9\n3,a,oa,1,P7\n";
    let pays: Vec<(u16, String)> = ledger_of(TERMS, rows)
        .into_iter()
        .filter(|(_, r, _)| r.starts_with("outcome"))
        .map(|(p, _, m)| (p, m))
        .collect();
    assert_eq!(
        pays,
        [(2, "15000.03".to_string()), (3, "2999.99".to_string())]
    );
}

// ---------------------------------------------------------------------------------------------
// 13. Inflow guarantees: a payer's compensation for referrals short of its promise, per cohort
//     (a fractional shortfall at a six-decimal price, rounded once) into the contract account,
//     and over the cohorts together (listed out of enrolment order) to the enterprise.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const INFLOW_GUARANTEES: Case = Case {
    name: "inflow_guarantees",
    scenario: r#"
[contract]
name = "inflow guarantees"
periods = 4
period = "quarter"

[[payers]]
id = "city-a"

[[payers]]
id = "city-b"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 20

[[outcomes]]
id = "job"
lag = 1
pay_lag = 1
price = 100
payers = { city-a = 1 }

[[inflow_guarantees]]        # guarantee 1
payer = "city-a"
share = 0.85
per_missing = "1000.555"
pay_lag = 1

[[inflow_guarantees]]        # guarantee 2
payer = "city-b"
per_missing = 50
cohorts = ["c2", "c1"]
judged = "overall"
to = "enterprise"

[[tranches]]
id = "loan"
investor = "bank"
committed = 2000
rank = 1
drawdowns = { at = [[1, 2000]] }
"#,
    actuals: "\
period,cohort,outcome,units
1,c1,enrolled,7
2,c2,enrolled,20
2,c1,job,4
3,c2,job,5
",
    final_period: 4,
    terminated_at: None,
    ledger: &[
        L(1, "bank", "se", "2000.00", "drawdown loan"),
        // guarantee 1, c1: promised 0.85 x 10 = 8.5, enrolled 7: 1.5 x 1,000.555 = 1,500.8325
        // -> 1,500.83, earned at enrolment in 1, paid 1 + 1 = 2 into the account
        L(2, "city-a", "contract-account", "1500.83", "inflow 1 c1"),
        L(2, "contract-account", "bank", "1500.83", "distribution loan"), // claim 2,000 -> 499.17
        // guarantee 1, c2: promised 17, enrolled 20: nothing.
        // guarantee 2, judged when its last cohort (c2) enrols in 2: promised 10 + 20 = 30,
        // enrolled 7 + 20 = 27: 3 x 50 = 150.00, paid 2 + 0 = 2 to the enterprise
        L(2, "city-b", "se", "150.00", "inflow 2 all"),
        // c1 measured in 2: 4 x 100, paid in 3
        L(3, "city-a", "contract-account", "400.00", "outcome job c1"),
        L(3, "contract-account", "bank", "400.00", "distribution loan"), // 499.17 -> 99.17
        // c2 measured in 3: 5 x 100, paid in 4: 99.17 to the loan, 400.83 held
        L(4, "city-a", "contract-account", "500.00", "outcome job c2"),
        L(4, "contract-account", "bank", "99.17", "distribution loan"),
    ],
    parties: &[
        P("city-a", "2400.83", "0.00"), // 1,500.83 + 400 + 500
        P("city-b", "150.00", "0.00"),
        P("bank", "2000.00", "2000.00"),
        P("se", "0.00", "2150.00"),
        P("contract-account", "2000.00", "2400.83"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "2000.00",
        accrued: "0.00",
        distributed: "2000.00",
        guaranteed: "0.00",
        outstanding: "0.00",
        unrecovered: "0.00",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "9",
        payable: "9",
        earned: "900.00",
        paid: "900.00",
    }],
    held_at_end: "400.83",
    ..BASE
};

#[test]
fn inflow_guarantees() {
    check(&INFLOW_GUARANTEES);
    let s = settle_text(INFLOW_GUARANTEES.scenario, INFLOW_GUARANTEES.actuals).unwrap();
    assert_eq!(s.inflow_compensation.to_string(), "1650.83");
    assert_eq!(s.inflow_pending.to_string(), "0.00");
}

#[test]
fn the_statement_splits_the_compensation_by_payer() {
    let c = sibsim::scenario::parse("g.toml", INFLOW_GUARANTEES.scenario)
        .unwrap()
        .contract;
    let a = sibsim::actuals::parse_csv(&c, "a.csv", INFLOW_GUARANTEES.actuals).unwrap();
    let mut settler = Settler::new(&c);
    let mut ledger = Vec::<LedgerLine>::new();
    let s = settler.settle(&a, &mut ledger).unwrap();
    let text = sibsim::statement::render_text(&c, s, &ledger);
    assert!(
        text.contains("- inflow compensation paid (city-a 1,500.83, city-b 150.00): 1,650.83"),
        "{text}"
    );
}

#[test]
fn an_interim_settlement_reports_inflow_compensation_payable_later() {
    let c = sibsim::scenario::parse("g.toml", INFLOW_GUARANTEES.scenario)
        .unwrap()
        .contract;
    let a = sibsim::actuals::parse_csv(&c, "a.csv", INFLOW_GUARANTEES.actuals).unwrap();
    let mut settler = Settler::new(&c);
    let mut ledger = Vec::<LedgerLine>::new();
    // Through period 1: guarantee 1's 1,500.83 for c1 is due in 2; guarantee 2 waits for c2.
    let s = settler.settle_through(&a, &mut ledger, 1).unwrap();
    assert!(s.interim);
    assert_eq!(s.inflow_pending.to_string(), "1500.83");
    assert_eq!(s.inflow_compensation.to_string(), "0.00");
    assert_eq!(s.pending.to_string(), "0.00");
    let text = sibsim::statement::render_text(&c, s, &ledger);
    assert!(
        text.contains("inflow compensation earned, payable after period 1 (interim): 1,500.83"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// 14. An early termination pays the compensation earned at once and judges a guarantee over
//     the cohorts together on those enrolled by then.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const INFLOW_AT_TERMINATION: Case = Case {
    name: "inflow_at_termination",
    scenario: r#"
[contract]
name = "inflow guarantees at a termination"
periods = 6
period = "quarter"

[[payers]]
id = "gemeente"

[[investors]]
id = "bank"

[enterprise]
id = "se"

[[cohorts]]
id = "c1"
enrol = 1
size = 10

[[cohorts]]
id = "c2"
enrol = 2
size = 10

[[cohorts]]
id = "c3"
enrol = 4
size = 10

[[outcomes]]
id = "job"
lag = 1
pay_lag = 1
price = 100

[[checkpoints]]
period = 2
outcome = "job"
min_rate = 0.3

[[inflow_guarantees]]        # guarantee 1
payer = "gemeente"
per_missing = 100
pay_lag = 2

[[inflow_guarantees]]        # guarantee 2
payer = "gemeente"
per_missing = "10.01"
judged = "overall"

[[tranches]]
id = "loan"
investor = "bank"
committed = 1000
rank = 1
drawdowns = { at = [[1, 1000]] }
"#,
    actuals: "\
period,cohort,outcome,units
1,c1,enrolled,8
2,c2,enrolled,10
2,c1,job,1
",
    final_period: 2,
    terminated_at: Some(2),
    ledger: &[
        L(1, "bank", "se", "1000.00", "drawdown loan"),
        // checkpoint in 2: 1 job / 8 enrolled = 0.125 < 0.3: terminated; c3 never enrols.
        // guarantee 1, c1: 2 short x 100 = 200.00, due 1 + 2 = 3, paid now (c2: none short)
        L(2, "gemeente", "contract-account", "200.00", "inflow 1 c1"),
        // guarantee 2, judged now over c1 and c2: 20 promised, 18 enrolled: 2 x 10.01
        L(2, "gemeente", "contract-account", "20.02", "inflow 2 all"),
        // c1's job, due in 3, paid now
        L(2, "gemeente", "contract-account", "100.00", "outcome job c1"),
        L(2, "contract-account", "bank", "320.02", "distribution loan"),
    ],
    parties: &[
        P("gemeente", "320.02", "0.00"),
        P("bank", "1000.00", "320.02"),
        P("se", "0.00", "1000.00"),
        P("contract-account", "320.02", "320.02"),
    ],
    tranches: &[T {
        id: "loan",
        drawn: "1000.00",
        accrued: "0.00",
        distributed: "320.02",
        guaranteed: "0.00",
        outstanding: "679.98",
        unrecovered: "679.98",
    }],
    outcomes: &[O {
        id: "job",
        achieved: "1",
        payable: "1",
        earned: "100.00",
        paid: "100.00",
    }],
    ..BASE
};

#[test]
fn inflow_at_termination() {
    check(&INFLOW_AT_TERMINATION);
}

/// A rate baseline of a quantity outcome past `i64` (10,000 units a participant for 1e9
/// enrolled: 1e13 units, 1e19 in millionths) is refused at the unit limit; it wrapped to a
/// negative baseline and charged the payer 8,446,744.07 for 5 units when nothing was payable.
#[test]
fn a_rate_baseline_past_the_unit_limit_is_an_error_not_a_payment() {
    let scenario = "[contract]\nname = \"x\"\nperiod = \"quarter\"\nperiods = 4\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"ent\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 1000\n\n[[outcomes]]\nid = \"days\"\nkind = \"quantity\"\nlag = 1\nprice = 0.000001\nbaseline = { kind = \"rate\", rate = 10000 }\n";
    let err = settle_text(
        scenario,
        "period,cohort,outcome,units\n1,c1,enrolled,1000000000\n2,c1,days,5\n",
    )
    .expect_err("a baseline of 1e13 units is past the unit limit");
    assert!(err.to_string().contains("1,000,000,000,000"), "{err}");
    // Saturating, not wrapping: the largest baseline stays the largest.
    let r = sibsim::Ratio::of(10_000, 1);
    assert_eq!(
        sibsim::settlement::rate_baseline(1_000_000_000, r),
        sibsim::Qty(i64::MAX)
    );
    assert_eq!(
        sibsim::settlement::rate_baseline(1_000, r),
        sibsim::Qty(10_000_000 * 1_000_000)
    );
}

/// A control-group baseline past `i64` (1,000,000 units a participant for 10,000,000
/// enrolled: 1e13 units, 1e19 in millionths) is refused at the unit limit; it wrapped to a
/// negative baseline and charged the payer 84,467,440,737.10 when nothing was achieved.
#[test]
fn a_control_group_baseline_past_the_unit_limit_is_an_error_not_a_payment() {
    let scenario = format!(
        "[contract]\nname = \"x\"\nperiod = \"quarter\"\nperiods = 4\n\n[[payers]]\nid = \"city\"\n\n[[investors]]\nid = \"bank\"\n\n[enterprise]\nid = \"ent\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 10000000\n\n[[outcomes]]\nid = \"days\"\nkind = \"quantity\"\nlag = 1\nprice = 0.01\nbaseline = {{ kind = \"control-group\" }}\n\n[[tranches]]\nid = \"loan\"\ninvestor = \"bank\"\nrank = 1\n{SMALL_LOAN}\n"
    );
    let (what, period) = too_large(settle_text(
        &scenario,
        "period,cohort,outcome,units,baseline\n2,c1,days,0,1000000\n",
    ));
    assert!(
        what.contains("`days`") && what.contains("1,000,000,000,000"),
        "{what}"
    );
    assert_eq!(period, 2);
    // Saturating, not wrapping: the product stays the largest quantity, never a negative one.
    let r = sibsim::actuals::rate_of(sibsim::Qty::from_int(1_000_000));
    assert_eq!(
        sibsim::Qty::from_int(10_000_000).mul_ratio(r),
        sibsim::Qty(i64::MAX)
    );
    assert_eq!(
        sibsim::Qty::from_int(-10_000_000).mul_ratio(r),
        sibsim::Qty(i64::MIN)
    );
}

/// A checkpoint's achieved rate past `i64` in twelve decimals (1e7 units for one participant)
/// passes `min_rate = 1`; the ratio wrapped negative and ended the contract at a checkpoint it
/// had met.
#[test]
fn a_checkpoint_met_by_a_very_large_rate_passes() {
    let scenario = format!(
        "[contract]\nname = \"x\"\nperiod = \"quarter\"\nperiods = 6\n\n[[payers]]\nid = \"city\"\n\n[[investors]]\nid = \"bank\"\n\n[enterprise]\nid = \"ent\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 1\n\n[[outcomes]]\nid = \"days\"\nkind = \"quantity\"\nlag = 1\nmeasure_periods = 4\nprice = 1\n\n[[checkpoints]]\nperiod = 2\noutcome = \"days\"\nmin_rate = 1\n\n[[tranches]]\nid = \"loan\"\ninvestor = \"bank\"\nrank = 1\n{SMALL_LOAN}\n"
    );
    let s = settle_text(
        &scenario,
        "period,cohort,outcome,units\n1,c1,enrolled,1\n2,c1,days,10000000\n3,c1,days,5\n4,c1,days,5\n5,c1,days,5\n",
    )
    .unwrap();
    assert!(s.termination.is_none(), "{:?}", s.termination);
    assert_eq!(s.final_period, 6);
    assert_eq!(sibsim::Ratio::of(i64::MAX, 1), sibsim::Ratio(i64::MAX));
    assert_eq!(sibsim::Ratio::of(-i64::MAX, 1), sibsim::Ratio(i64::MIN));
}

/// A checkpoint's rate over more than 9.2e12 participants (9,300 cohorts of 1e9 enrolled, 10%
/// placed against `min_rate = 0.05`) passes: enrolled x 1e6 wrapped negative in `i64`, the
/// rate came out negative and the contract ended at a checkpoint it had met.
#[test]
fn a_checkpoint_over_more_than_nine_trillion_participants_passes() {
    use std::fmt::Write;
    let mut scenario = String::from(
        "[contract]\nname = \"x\"\nperiod = \"quarter\"\nperiods = 4\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"ent\"\n\n[[outcomes]]\nid = \"job\"\nlag = 1\nprice = 0.01\n\n[[checkpoints]]\nperiod = 2\noutcome = \"job\"\nmin_rate = 0.05\n",
    );
    let mut actuals = String::from("period,cohort,outcome,units\n");
    for k in 0..9_300 {
        write!(
            scenario,
            "\n[[cohorts]]\nid = \"c{k}\"\nenrol = 1\nsize = 10000000\n"
        )
        .unwrap();
        write!(
            actuals,
            "1,c{k},enrolled,1000000000\n2,c{k},job,100000000\n"
        )
        .unwrap();
    }
    let s = settle_text(&scenario, &actuals).expect("settles");
    assert!(s.termination.is_none(), "{:?}", s.termination);
    assert_eq!(s.final_period, 4);
}

/// Settles `actuals` (CSV text) under `c` and returns the settlement, its ledger, its claim
/// rows and the text statement with its Claims notes.
fn claims_of(
    c: &sibsim::Contract,
    actuals: &str,
) -> (
    sibsim::settlement::Settlement,
    Vec<LedgerLine>,
    Vec<sibsim::statement::ClaimRow>,
    String,
) {
    let a = sibsim::actuals::parse_csv(c, "a.csv", actuals).unwrap();
    let mut rec = sibsim::settlement::Recorded::default();
    let s = Settler::new(c).settle(&a, &mut rec).unwrap().clone();
    let rows = sibsim::statement::claim_rows(c, &s, &rec.claims, &rec.paid, a.enrolled());
    let text = sibsim::statement::render_text_noted(c, &s, &rec.ledger, &[], &[], &rows, None);
    (s, rec.ledger, rows, text)
}

/// An improvement on a baseline of 0 is unbounded: the claims say so (not a huge number) in
/// the CSV, the JSON and the text; a grid below its first point earns nothing and the note
/// says why; a claim cut by pay-only-due says by how much.
#[test]
fn claims_say_unbounded_improvements_and_grids_below_their_first_point() {
    let scenario = r#"
[contract]
name = "unbounded"
period = "quarter"
periods = 3
[[payers]]
id = "city"
[enterprise]
id = "ent"
[[cohorts]]
id = "c1"
enrol = 1
size = 10
[[outcomes]]
id = "job"
lag = 1
price = 1000
baseline = { kind = "rate", rate = 0 }
threshold = { per_cohort = 0.5 }
[[outcomes]]
id = "grid"
lag = 1
baseline = { kind = "rate", rate = 0.4 }
grid = { kind = "step", points = [[0.5, 100]] }
"#;
    let sc = sibsim::scenario::parse("u.toml", scenario).unwrap();
    let c = &sc.contract;
    let (s, ledger, rows, text) =
        claims_of(c, "period,cohort,outcome,units\n2,c1,job,3\n2,c1,grid,5\n");
    let csv = sibsim::statement::render_claims_csv(&rows);
    // 3 units on a baseline of 0 pass the 50% threshold: 3 x 1,000.
    assert!(
        csv.contains(
            "2,job,c1,person,3,0,unbounded,3,3,1000,3000.00,0.00,0.00,3000.00,2,3000.00,0.00,earned"
        ),
        "{csv}"
    );
    // Baseline 10 x 0.4 = 4; (5 - 4) / 4 = 25% < 50%, the grid's first point: nothing.
    assert!(
        csv.contains("2,grid,c1,person,5,4,0.25,1,1,,0.00,0.00,0.00,0.00,2,0.00,0.00,earned"),
        "{csv}"
    );
    let json = sibsim::statement::render_json_noted(c, &s, &ledger, &[], &[], &rows, None);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["claims"][0]["improvement"], "unbounded");
    assert_eq!(doc["claims"][1]["improvement"], "0.25");
    assert!(text.contains("unbounded"), "{text}");
    assert!(
        text.contains("below the grid's first point (50%)"),
        "{text}"
    );
    // At or below the baseline nothing improved: the note says so, for a grid as for a price
    // (an audit saw such a claim with no note at all).
    let (_, _, _, text) = claims_of(
        c,
        "period,cohort,outcome,units,baseline\n2,c1,job,0,\n2,c1,grid,3,\n",
    );
    let line = text
        .lines()
        .find(|l| l.contains(" grid ") && l.contains(" c1 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("no improvement on the baseline (3 achieved, baseline 4)"),
        "{text}"
    );
    assert!(!line.contains("first point"), "{line}");
}

/// The text's Claims notes say how a tiered amount comes about, tier by tier, counting from
/// the units paid for before (case 5: c2's 9 units from the 9th on), and which cap cut.
#[test]
fn claim_notes_show_tiers_and_the_cap_that_cut() {
    let sc = sibsim::scenario::parse("tiers.toml", VOLUME_TIERS.scenario).unwrap();
    let c = &sc.contract;
    let (_, _, _, text) = claims_of(c, VOLUME_TIERS.actuals);
    assert!(text.contains("8 x 1,000.00\n"), "{text}");
    assert!(
        text.contains(
            "2 x 1,000.00 + 5 x 800.00 + 2 x 333.333333; 1 over the unit cap (cap.units)"
        ),
        "{text}"
    );
}

/// A claim cut by both the total cap and pay-only-what-is-due says how much each cut, in the
/// text's note and in the JSON (an audit read "the total cap or pay only what is due" and could
/// not tell which). Worked by hand: 9,999.99 at 10% simple a year; period 2 pays start P1 and
/// P2 (6,000, within what is due) leaving a claim of 4,999.99 + 500.00 = 5,499.99 in period 3.
/// There start P3 earns 3,000 and sustain P1 and P3 4,000 each, cut by the per-participant cap
/// (6,000) to 3,000 each: 6,000. The total cap (14,000, 6,000 paid) leaves 8,000: start 3,000,
/// sustain 5,000 (-1,000). Pay only what is due splits 5,499.99 over 3,000 : 5,000 by largest
/// remainder: 2,062.50 and 3,437.49 (-937.50 and -1,562.51).
#[test]
fn a_claim_cut_by_the_total_cap_and_pay_only_due_says_how_much_each_cut() {
    let scenario = r#"
[contract]
name = "both cuts"
periods = 4
period = "year"
rate_basis = "simple"
pay_only_due = true
total_cap = 14000
[[payers]]
id = "g"
[[investors]]
id = "fund"
[enterprise]
id = "se"
[[cohorts]]
id = "c1"
enrol = 1
size = 5
[[outcomes]]
id = "start"
lag = 1
measure_periods = 2
price = 3000
[[outcomes]]
id = "sustain"
requires = "start"
lag = 2
price = 4000
[participant_cap]
amount = 6000
outcomes = ["start", "sustain"]
[[tranches]]
id = "capped"
investor = "fund"
committed = 9999.99
rate = 0.1
rank = 1
drawdowns = { at = [[1, 9999.99]] }
"#;
    let actuals = "period,cohort,outcome,units,participant\n2,c1,start,1,P1\n2,c1,start,1,P2\n3,c1,start,1,P3\n3,c1,sustain,1,P1\n3,c1,sustain,1,P3\n";
    let sc = sibsim::scenario::parse("both.toml", scenario).unwrap();
    let c = &sc.contract;
    let (s, ledger, rows, text) = claims_of(c, actuals);
    assert_eq!(
        (s.cut_by_total_cap.to_string(), s.not_due.to_string()),
        ("1000.00".to_string(), "2500.01".to_string())
    );
    let cuts: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.earned.to_string(),
                r.cut_by_total_cap.to_string(),
                r.not_due.to_string(),
                r.paid.unwrap().to_string(),
            )
        })
        .collect();
    let row = |e: &str, t: &str, n: &str, p: &str| (e.into(), t.into(), n.into(), p.into());
    assert_eq!(
        cuts,
        [
            row("6000.00", "0.00", "0.00", "6000.00"),
            row("3000.00", "0.00", "937.50", "2062.50"),
            row("6000.00", "1000.00", "1562.51", "3437.49"),
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.cut_at_payment == r.cut_by_total_cap + r.not_due)
    );
    assert!(
        text.contains(
            "per-participant cap -2,000.00; total cap -1,000.00; pay only what is due -1,562.51"
        ),
        "{text}"
    );
    let json = sibsim::statement::render_json_noted(c, &s, &ledger, &[], &[], &rows, None);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["claims"][2]["cut_by_total_cap"], "1000.00");
    assert_eq!(doc["claims"][2]["not_due"], "1562.51");
    let csv = sibsim::statement::render_claims_csv(&rows);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",verdict,cut_by_total_cap,not_due")
    );
    assert!(
        csv.lines().any(|l| l.starts_with("3,sustain,c1,")
            && l.ends_with(",3437.49,2562.51,earned,1000.00,1562.51")),
        "{csv}"
    );
}

/// For an outcome where fewer is better, a measurement at or above its baseline improved
/// nothing, and its note says so as for one where more is better (Rotterdam's cohort 2 used
/// 6,240 benefit days in period 6 against a baseline of 6,175).
#[test]
fn a_decrease_outcome_no_better_than_its_baseline_says_so() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("scenarios/rotterdam-buzinezzclub.toml")).unwrap();
    let csv =
        std::fs::read_to_string(root.join("scenarios/rotterdam-buzinezzclub.actuals.csv")).unwrap();
    let sc = sibsim::scenario::parse("rotterdam.toml", &text).unwrap();
    let c = &sc.contract;
    let (_, _, _, text) = claims_of(c, &csv);
    let line = text
        .lines()
        .find(|l| l.starts_with("6 ") && l.contains("benefit-days") && l.contains("cohort-2"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("no improvement on the baseline (6,240 achieved, baseline 6,175)"),
        "{line}"
    );
    // Cohort 1 used fewer days than its baseline: paid, without that note.
    let paid = text
        .lines()
        .find(|l| l.starts_with("6 ") && l.contains("benefit-days") && l.contains("cohort-1"))
        .unwrap();
    assert!(!paid.contains("no improvement"), "{paid}");
}

/// A statement's enrolment is read from actuals made for its contract; actuals of another
/// contract are refused with the error `settle` gives them, not read at the wrong cells.
#[test]
fn a_statements_enrolment_refuses_actuals_of_another_contract() {
    let sc = sibsim::scenario::parse(
        "reference.toml",
        include_str!("../scenarios/reference.toml"),
    )
    .unwrap();
    let c = &sc.contract;
    let mut a = sibsim::Actuals::new(c);
    a.set_enrolled(2, 37);
    let rows = sibsim::statement::enrolment(c, &a).expect("fits");
    assert_eq!(rows.len(), c.cohorts().len());
    assert_eq!(rows[2].enrolled, 37);
    assert_eq!(rows[2].target, c.cohorts()[2].size);
    assert!(rows.iter().all(|r| !r.reported));

    let other = sibsim::scenario::parse(
        "rotterdam.toml",
        include_str!("../scenarios/rotterdam-buzinezzclub.toml"),
    )
    .unwrap();
    let foreign = sibsim::Actuals::new(&other.contract);
    assert!(!foreign.fits(c));
    let refused = sibsim::statement::enrolment(c, &foreign).unwrap_err();
    let settled = Settler::new(c)
        .settle(&foreign, &mut sibsim::settlement::NoLedger)
        .unwrap_err();
    assert_eq!(refused, settled);
    assert!(matches!(refused, sibsim::SettleError::Shape(_)));
}
