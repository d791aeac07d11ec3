//! Validation of scenario files and actuals: one test per class of error, each checking the
//! message and the line it is reported on, and garbage inputs that must be rejected without a
//! panic.

use proptest::prelude::*;
use sibsim::{Contract, Diagnostics};

/// A valid scenario; the tests below edit one line of it. Line numbers are on the right.
const BASE: &str = r#"[contract]
name = "Test SIB"
periods = 12
period = "quarter"
remainder = "hold"

[[payers]]
id = "city"
[[payers]]
id = "state"

[[investors]]
id = "fund"

[enterprise]
id = "provider"
fixed_costs = { amount = 1000 }

[[cohorts]]
id = "c1"
enrol = 1
size = 100

[[outcomes]]
id = "job"
lag = 2
price = 1500
payers = { city = 0.6, state = 0.4 }

[[outcomes]]
id = "job12"
requires = "job"
lag = 4
price = 2000
payers = { city = 0.5, state = 0.5 }

[[tranches]]
id = "senior"
investor = "fund"
committed = 50000
rate = 0.05
rank = 1
drawdowns = { amount = 4000, from = 1, to = 10 }
"#;

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    edit_in(BASE, from, to)
}

fn edit_in(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in the text"
    );
    text.replacen(from, to, 1)
}

fn parse_err(toml: &str) -> Diagnostics {
    match sibsim::scenario::parse("test.toml", toml) {
        Ok(_) => panic!("expected the scenario to be rejected:\n{toml}"),
        Err(d) => d,
    }
}

/// Asserts that parsing `toml` fails with a problem on `line` whose path and message together
/// contain every one of `parts`; returns all the problems.
fn expect_error(toml: &str, line: usize, parts: &[&str]) -> Diagnostics {
    let d = parse_err(toml);
    check_diag(&d, line, parts);
    d
}

fn check_diag(d: &Diagnostics, line: usize, parts: &[&str]) {
    let hit = d.items.iter().any(|x| {
        let text = format!("{}: {}", x.path, x.message);
        x.line == Some(line) && parts.iter().all(|p| text.contains(p))
    });
    assert!(
        hit,
        "expected a problem on line {line} mentioning {parts:?}; got:\n{d}"
    );
    // Every problem is rendered with the file name and, where known, its line.
    let shown = d.to_string();
    assert!(
        shown.contains(&format!("test.toml:{line}:")) || shown.contains(&format!("csv:{line}:")),
        "{shown}"
    );
}

#[test]
fn base_scenario_is_valid() {
    let s = sibsim::scenario::parse("base.toml", BASE).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.contract.outcomes().len(), 2);
    assert_eq!(s.contract.outcomes()[1].requires, Some(0));
}

#[test]
fn toml_syntax_error() {
    let d = expect_error(
        &edit("name = \"Test SIB\"", "name = \"Test SIB"),
        2,
        &["not valid TOML"],
    );
    assert_eq!(d.items.len(), 1);
    expect_error(&edit("[[cohorts]]", "[[cohorts]"), 19, &["not valid TOML"]);
    expect_error(&edit("size = 100", "size = = 100"), 22, &["not valid TOML"]);
    // A key given twice is a TOML error on the second one.
    expect_error(
        &edit("rank = 1", "rank = 1\nrank = 2"),
        43,
        &["not valid TOML"],
    );
}

#[test]
fn unknown_field() {
    let d = expect_error(
        &edit("size = 100", "size = 100\nsizes = 3"),
        23,
        &[
            "cohorts[0].sizes",
            "unknown field `sizes`",
            "`size`",
            "did you mean `size`?",
        ],
    );
    assert_eq!(d.items.len(), 1);
    let d = expect_error(
        &edit("rate = 0.05", "rate = 0.05\ncoupon = 0.05"),
        42,
        &["tranches[0]", "unknown field `coupon`"],
    );
    // Nothing near enough to suggest.
    assert!(!d.to_string().contains("did you mean"), "{d}");
    expect_error(
        &edit(
            "remainder = \"hold\"",
            "remainder = \"hold\"\ncolour = \"red\"",
        ),
        6,
        &["unknown field `colour`"],
    );
}

#[test]
fn wrong_type() {
    let d = expect_error(
        &edit("periods = 12", "periods = \"twelve\""),
        3,
        &[
            "contract.periods",
            "expected a whole number, got the text \"twelve\"",
        ],
    );
    assert_eq!(d.items.len(), 1);
    // Internal type names are not shown to the user, nor serde's (`sequence`, `string`).
    assert!(!d.to_string().contains("i64"), "{d}");
    expect_error(
        &edit("price = 1500", "price = true"),
        27,
        &["outcomes[0].price", "a number", "got true"],
    );
    let d = expect_error(
        &edit("id = \"c1\"", "id = 1"),
        20,
        &["cohorts[0].id", "expected text, got the number 1"],
    );
    assert!(!d.to_string().contains("string"), "{d}");
    let d = expect_error(
        &edit("id = \"c1\"", "id = [\"c1\"]"),
        20,
        &["cohorts[0].id", "expected text, got an array"],
    );
    assert!(!d.to_string().contains("sequence"), "{d}");
    let d = expect_error(
        &edit("[contract]", "contract = 5\n[x]"),
        1,
        &["contract", "expected a table, got the number 5"],
    );
    assert!(!d.to_string().contains("RawContract"), "{d}");
    // Numbers out of range say so, briefly; one far below zero is not called large.
    expect_error(
        &edit("committed = 50000", "committed = -1e300"),
        40,
        &[
            "tranches[0].committed",
            "-1e300 is too far below zero",
            "at most 1,000,000,000,000 in size",
        ],
    );
    expect_error(
        &edit("periods = 12", "periods = 99999999999999999999"),
        3,
        &["contract.periods", "too large"],
    );
    let d = expect_error(
        &edit("committed = 50000", "committed = 1e300"),
        40,
        &[
            "tranches[0].committed",
            "1e300 is too large",
            "at most 1,000,000,000,000",
        ],
    );
    assert!(d.to_string().len() < 200, "{d}");
    assert!(!d.to_string().contains("\nin `"), "one line: {d}");
    // A price or a number of units too large for six decimals is too large, whatever its
    // decimals; one with a seventh decimal says that.
    for (price, want) in [
        (
            "15_000_000_000_000",
            "15000000000000 is too large; at most 1,000,000,000 per unit",
        ),
        (
            "9_300_000_000_000",
            "is too large; at most 1,000,000,000 per unit",
        ),
        ("1000.1234567", "prices carry at most six decimals"),
    ] {
        let d = expect_error(
            &edit("price = 1500", &format!("price = {price}")),
            27,
            &["outcomes[0].price", want],
        );
        assert_eq!(d.items.len(), 1, "{d}");
    }
    // A number in a string that no 28-digit decimal holds says which way it is wrong.
    expect_error(
        &edit("price = 1500", "price = \"1e30\""),
        27,
        &["outcomes[0].price", "`1e30` is too large a number"],
    );
    expect_error(
        &edit("price = 1500", "price = \"1e-30\""),
        27,
        &["outcomes[0].price", "`1e-30` has too many decimals"],
    );
    expect_error(
        &edit("price = 1500", "price = \"15OO\""),
        27,
        &["outcomes[0].price", "`15OO` is not a number"],
    );
    // `start` is a date: quoted or a TOML date; anything else says so.
    let dated = edit("periods = 12", "periods = 12\nstart = 2014-01-01");
    assert!(sibsim::scenario::parse("test.toml", &dated).is_ok());
    expect_error(
        &edit("periods = 12", "periods = 12\nstart = 12"),
        4,
        &[
            "contract.start",
            "a date such as 2014-01-01",
            "got a number",
        ],
    );
    // Odd keys end up in field paths; they are still located.
    expect_error(
        &edit("city = 0.6, state = 0.4", "\"x[0]]\" = 1"),
        28,
        &["unknown payer `x[0]]`"],
    );
}

#[test]
fn missing_required_field() {
    let d = expect_error(
        &edit("enrol = 1\n", ""),
        19,
        &["cohorts[0]", "required field `enrol` is missing"],
    );
    assert_eq!(d.items.len(), 1);
    expect_error(
        &edit("rank = 1\n", ""),
        37,
        &["tranches[0]", "`rank` is missing"],
    );
    expect_error(
        &edit("lag = 4\n", ""),
        30,
        &["outcomes[1]", "`lag` is missing"],
    );
}

#[test]
fn unknown_period_length() {
    let d = expect_error(
        &edit("period = \"quarter\"", "period = \"fortnight\""),
        4,
        &[
            "contract.period",
            "unknown period length `fortnight`",
            "`month`",
            "`quarter`",
            "`half-year`",
            "`year`",
        ],
    );
    assert_eq!(d.items.len(), 1);
}

#[test]
fn payer_shares_must_add_up_to_one() {
    let d = expect_error(
        &edit("city = 0.6, state = 0.4", "city = 0.6, state = 0.3"),
        28,
        &["outcomes[0].payers", "must add up to 1", "0.9"],
    );
    assert_eq!(d.items.len(), 1);
    expect_error(
        &edit("city = 0.5, state = 0.5", "city = 0.75, state = 0.5"),
        35,
        &["outcomes[1].payers", "1.25"],
    );
    // Several payers and no `payers` table: say who pays.
    expect_error(
        &edit("payers = { city = 0.6, state = 0.4 }\n", ""),
        24,
        &["outcomes[0]", "several payers"],
    );
}

#[test]
fn chained_outcomes_must_not_form_a_cycle() {
    let text = edit(
        "id = \"job\"\nlag = 2",
        "id = \"job\"\nrequires = \"job12\"\nlag = 2",
    );
    let d = expect_error(
        &text,
        26,
        &[
            "outcomes[0].requires",
            "cycle",
            "job requires job12 requires job",
        ],
    );
    check_diag(
        &d,
        33,
        &[
            "outcomes[1].requires",
            "cycle",
            "job12 requires job requires job12",
        ],
    );
    // An outcome requiring itself.
    expect_error(
        &edit("requires = \"job\"", "requires = \"job12\""),
        32,
        &["outcomes[1].requires", "cannot require itself"],
    );
    // A prerequisite that does not exist.
    expect_error(
        &edit("requires = \"job\"", "requires = \"diploma\""),
        32,
        &["unknown outcome `diploma`", "`job`", "`job12`"],
    );
}

#[test]
fn lag_must_fit_in_the_term() {
    let d = expect_error(
        &edit("lag = 4", "lag = 12"),
        33,
        &[
            "outcomes[1].lag",
            "cohort `c1`",
            "period 13",
            "last period 12",
        ],
    );
    assert_eq!(d.items.len(), 1);
    // The payment lag counts too.
    expect_error(
        &edit("lag = 4", "lag = 4\npay_lag = 8"),
        33,
        &["outcomes[1].lag", "pay_lag 8", "period 13"],
    );
    // A chained outcome measured before its prerequisite.
    expect_error(
        &edit("lag = 4", "lag = 1"),
        33,
        &["outcomes[1].lag", "measured before `job`"],
    );
}

#[test]
fn cohort_must_enrol_inside_the_term() {
    let d = expect_error(
        &edit("enrol = 1", "enrol = 13"),
        21,
        &[
            "cohorts[0].enrol",
            "period 13 is outside the contract",
            "1 to 12",
        ],
    );
    assert!(!d.items.is_empty());
    expect_error(
        &edit("enrol = 1", "enrol = 0"),
        21,
        &["cohorts[0].enrol", "period 0 is outside"],
    );
}

#[test]
fn negative_amounts_are_rejected() {
    let d = expect_error(
        &edit("committed = 50000", "committed = -50000"),
        40,
        &["tranches[0].committed", "more than 0", "-50000"],
    );
    // No follow-on complaint that the drawdowns exceed a commitment of 0.
    assert_eq!(d.items.len(), 1, "{d}");
    expect_error(
        &edit("price = 1500", "price = -1500"),
        27,
        &["outcomes[0].price", "0 or more", "-1500"],
    );
    expect_error(
        &edit("amount = 1000 }", "amount = -1000 }"),
        17,
        &["enterprise.fixed_costs.amount", "-1000"],
    );
    expect_error(
        &edit("size = 100", "size = -5"),
        22,
        &["cohorts[0].size", "-5"],
    );
    expect_error(
        &edit(
            "fixed_costs = { amount = 1000 }",
            "fixed_costs = { amount = 10.005 }",
        ),
        17,
        &["more than two decimals"],
    );
}

#[test]
fn rates_must_be_in_range() {
    let d = expect_error(
        &edit("rate = 0.05", "rate = 1.5"),
        41,
        &["tranches[0].rate", "between 0 and 1", "1.5"],
    );
    assert_eq!(d.items.len(), 1);
    expect_error(
        &edit("rate = 0.05", "rate = -0.01"),
        41,
        &["tranches[0].rate", "-0.01"],
    );
    expect_error(
        &edit(
            "remainder = \"hold\"",
            "remainder = \"hold\"\ndiscount_rate = 2",
        ),
        6,
        &["contract.discount_rate", "between 0 and 1"],
    );
    expect_error(
        &edit(
            "price = 1500",
            "price = 1500\nbaseline = { kind = \"rate\", rate = 1.2 }",
        ),
        28,
        &["outcomes[0].baseline.rate", "between 0 and 1"],
    );
}

#[test]
fn unknown_payer() {
    let d = expect_error(
        &edit("city = 0.6, state = 0.4", "city = 0.6, town = 0.4"),
        28,
        &[
            "outcomes[0].payers.town",
            "unknown payer `town`",
            "`city`, `state`",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    let fixed =
        format!("{BASE}\n[[fixed_payments]]\nperiod = 2\npayer = \"ministry\"\namount = 500\n");
    expect_error(
        &fixed,
        47,
        &["fixed_payments[0].payer", "unknown payer `ministry`"],
    );
}

#[test]
fn unknown_investor() {
    let d = expect_error(
        &edit("investor = \"fund\"", "investor = \"bank\""),
        39,
        &["tranches[0].investor", "unknown investor `bank`", "`fund`"],
    );
    assert_eq!(d.items.len(), 1);
}

#[test]
fn unknown_guarantor() {
    let text = format!("{BASE}guarantee = {{ guarantors = {{ bank = 1 }} }}\n");
    let d = expect_error(
        &text,
        44,
        &[
            "tranches[0].guarantee.guarantors.bank",
            "unknown guarantor `bank`",
            "`city`, `state`",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    // A declared guarantor is fine.
    let ok = format!(
        "{BASE}guarantee = {{ guarantors = {{ bank = 1 }} }}\n\n[[guarantors]]\nid = \"bank\"\n"
    );
    sibsim::scenario::parse("ok.toml", &ok).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn unknown_fee_recipient() {
    let text = format!(
        "{BASE}\n[[fee_recipients]]\nid = \"assessor\"\n\n[[fees]]\nid = \"audit\"\npayee = \"auditor\"\nschedule = {{ amount = 100 }}\n"
    );
    let d = expect_error(
        &text,
        50,
        &[
            "fees[0].payee",
            "unknown fee recipient `auditor`",
            "`assessor`",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    // Without any fee recipient, the message says so in words.
    let text = format!(
        "{BASE}\n[[fees]]\nid = \"audit\"\npayee = \"auditor\"\nschedule = {{ amount = 100 }}\n"
    );
    let d = parse_err(&text);
    let shown = d.to_string();
    assert!(
        shown.contains("declare it under [[fee_recipients]] (none is declared yet)")
            && !shown.contains("(declared: (none"),
        "{shown}"
    );
}

#[test]
fn duplicate_ids() {
    let d = expect_error(
        &edit("id = \"state\"", "id = \"city\""),
        10,
        &["payers[1].id", "`city` is already used by payers[0]"],
    );
    check_diag(&d, 10, &["unique"]);
    expect_error(
        &edit("id = \"fund\"", "id = \"provider\""),
        16,
        &[
            "enterprise.id",
            "`provider` is already used by investors[0]",
        ],
    );
    expect_error(
        &edit("id = \"job12\"", "id = \"job\""),
        31,
        &[
            "outcomes[1].id",
            "outcome id `job` is already used by outcomes[0]",
        ],
    );
    let cohorts = edit(
        "size = 100",
        "size = 100\n\n[[cohorts]]\nid = \"c1\"\nenrol = 2\nsize = 10",
    );
    expect_error(
        &cohorts,
        25,
        &[
            "cohorts[1].id",
            "cohort id `c1` is already used by cohorts[0]",
        ],
    );
    let tranches = format!(
        "{BASE}\n[[tranches]]\nid = \"senior\"\ninvestor = \"fund\"\ncommitted = 100\nrank = 2\ndrawdowns = {{ at = [[1, 100]] }}\n"
    );
    expect_error(
        &tranches,
        46,
        &[
            "tranches[1].id",
            "tranche id `senior` is already used by tranches[0]",
        ],
    );
    expect_error(
        &edit("id = \"c1\"", "id = \" \""),
        20,
        &["cohorts[0].id", "a cohort id may not be empty"],
    );
    expect_error(
        &edit("id = \"city\"", "id = \"contract-account\""),
        8,
        &["payers[0].id", "reserved"],
    );
}

#[test]
fn drawdowns_must_not_exceed_commitment() {
    let d = expect_error(
        &edit(
            "amount = 4000, from = 1, to = 10",
            "amount = 6000, from = 1, to = 10",
        ),
        40,
        &[
            "tranches[0].committed",
            "drawdowns add up to 60,000.00",
            "only 50,000.00 is committed",
        ],
    );
    assert_eq!(d.items.len(), 1);
    // A schedule running backwards is an error, not a crash.
    expect_error(
        &edit("from = 1, to = 10", "from = 10, to = 2"),
        43,
        &["tranches[0].drawdowns", "`from` (10) is after `to` (2)"],
    );
    expect_error(
        &edit("amount = 1000 }", "amount = 1000, from = 9, to = 3 }"),
        17,
        &["enterprise.fixed_costs", "after `to` (3)"],
    );
}

#[test]
fn threshold_needs_a_baseline() {
    let d = expect_error(
        &edit("lag = 2", "lag = 2\nthreshold = { per_cohort = 0.1 }"),
        27,
        &["outcomes[0].threshold", "baseline"],
    );
    assert_eq!(d.items.len(), 1);
    expect_error(
        &edit("price = 1500", "price = 1500\ndirection = \"decrease\""),
        28,
        &["outcomes[0].direction", "needs a `baseline`"],
    );
}

#[test]
fn all_meaning_errors_are_reported_at_once() {
    let mut text = edit("period = \"quarter\"", "period = \"fortnight\"");
    text = edit_in(&text, "enrol = 1", "enrol = 13");
    text = edit_in(&text, "city = 0.6, state = 0.4", "city = 0.6, state = 0.3");
    text = edit_in(&text, "investor = \"fund\"", "investor = \"bank\"");
    text = edit_in(&text, "rate = 0.05", "rate = 1.5");
    let d = parse_err(&text);
    check_diag(&d, 4, &["fortnight"]);
    check_diag(&d, 21, &["period 13"]);
    check_diag(&d, 28, &["add up to 0.9"]);
    check_diag(&d, 39, &["unknown investor `bank`"]);
    check_diag(&d, 41, &["between 0 and 1"]);
    assert_eq!(d.items.len(), 5, "{d}");
    // Sorted by line, and the rendering counts them.
    let lines: Vec<usize> = d.items.iter().map(|x| x.line.unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert!(
        d.to_string().starts_with("test.toml has 5 problems:"),
        "{d}"
    );
}

// ---------------------------------------------------------------------------------------------
// Actuals CSV
// ---------------------------------------------------------------------------------------------

fn contract() -> Contract {
    let text = format!(
        "{BASE}\n[[outcomes]]\nid = \"days\"\nkind = \"quantity\"\nlag = 1\nmeasure_periods = 4\nprice = 10\npayers = {{ city = 1 }}\n"
    );
    sibsim::scenario::parse("base.toml", &text)
        .unwrap_or_else(|d| panic!("{d}"))
        .contract
}

/// Asserts that parsing `csv` fails with a problem on `line` mentioning every one of `parts`.
fn expect_csv_error(csv: &str, line: usize, parts: &[&str]) -> Diagnostics {
    let c = contract();
    let d = match sibsim::actuals::parse_csv(&c, "actuals.csv", csv) {
        Ok(_) => panic!("expected the actuals to be rejected:\n{csv}"),
        Err(d) => d,
    };
    check_diag(&d, line, parts);
    d
}

const HEADER: &str = "period,cohort,outcome,units\n";

#[test]
fn csv_base_is_valid() {
    let c = contract();
    let csv = format!(
        "{HEADER}1,c1,enrolled,90\n3,c1,job,40\n5,c1,job12,30\n2,c1,days,12.5\n3,c1,days,7\n"
    );
    let a = sibsim::actuals::parse_csv(&c, "a.csv", &csv).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(a.enrolled()[0], 90);
    assert_eq!(a.units(0, 0, 3), sibsim::Qty::from_int(40));
    assert_eq!(a.units(2, 0, 2), sibsim::Qty(12_500_000));
}

#[test]
fn csv_unknown_cohort_or_outcome() {
    let d = expect_csv_error(
        &format!("{HEADER}3,c1,job,4\n3,c9,job,5\n"),
        3,
        &["column cohort", "unknown cohort `c9`", "c1"],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error(
        &format!("{HEADER}3,c1,jobs,5\n"),
        2,
        &[
            "column outcome",
            "unknown outcome `jobs`",
            "job, job12, days",
            "`enrolled`",
        ],
    );
}

#[test]
fn csv_period_outside_the_measurement_window() {
    let d = expect_csv_error(
        &format!("{HEADER}4,c1,job,5\n"),
        2,
        &[
            "column period",
            "`job` for cohort `c1` is measured in period 3",
            "lag 2",
            "not in period 4",
        ],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error(
        &format!("{HEADER}6,c1,days,5\n"),
        2,
        &["measured in periods 2 to 5", "not in period 6"],
    );
    expect_csv_error(
        &format!("{HEADER}13,c1,job,5\n"),
        2,
        &["`13` is not a period", "1 to 12"],
    );
    expect_csv_error(
        &format!("{HEADER}2,c1,enrolled,5\n"),
        2,
        &["enrols in period 1"],
    );
}

/// The column at which each problem of `csv` is placed, in file order.
fn csv_columns(csv: &str) -> Vec<(Option<usize>, Option<usize>)> {
    match sibsim::actuals::parse_csv(&contract(), "a.csv", csv) {
        Ok(_) => panic!("expected the actuals to be rejected:\n{csv}"),
        Err(d) => d
            .sorted()
            .items
            .iter()
            .map(|i| (i.line, i.column))
            .collect(),
    }
}

#[test]
fn csv_problems_point_at_their_field() {
    // The field's first character, past the spaces the reader trims and through quotes.
    assert_eq!(
        csv_columns(&format!(
            "{HEADER}3, c9 ,job,4\n\"3\",\"c1\",\"job\",five\n"
        )),
        [(Some(2), Some(4)), (Some(3), Some(16))]
    );
    // A quoted comma is part of its field; a column given in another order is found.
    assert_eq!(
        csv_columns("units,outcome,cohort,period\n4,\"a,b\",c1,3\n"),
        [(Some(2), Some(3))]
    );
    // The header's own problems are placed at the column's name, after comments.
    assert_eq!(
        csv_columns("# a comment\nperiod,cohort,outcome,unit,units\n"),
        [(Some(2), Some(23))]
    );
    // A chain reported beyond its prerequisite is placed at the later row's units.
    assert_eq!(
        csv_columns(&format!("{HEADER}1,c1,enrolled,90\n5,c1,job12,  30\n")),
        [(Some(3), Some(14))]
    );
}

#[test]
fn csv_non_numeric_units() {
    let d = expect_csv_error(
        &format!("{HEADER}3,c1,job,five\n"),
        2,
        &["column units", "`five` is not a valid number of units"],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error(
        &format!("{HEADER}3,c1,job,-2\n"),
        2,
        &["`-2` is not a valid number"],
    );
    expect_csv_error(
        &format!("{HEADER}3,c1,job,1.5\n"),
        2,
        &["counts people", "whole numbers"],
    );
    expect_csv_error(
        &format!("{HEADER}3,c1,days,1.0000001\n"),
        2,
        &["at most 6 decimals"],
    );
}

#[test]
fn csv_duplicate_row() {
    let d = expect_csv_error(
        &format!("{HEADER}3,c1,job,4\n2,c1,days,1\n3,c1,job,5\n"),
        4,
        &[
            "duplicate row",
            "`job`",
            "`c1`",
            "period 3",
            "first at line 2",
        ],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,4\n1,c1,enrolled,5\n"),
        3,
        &["duplicate enrolment row", "first at line 2"],
    );
}

#[test]
fn csv_missing_header_column() {
    let d = expect_csv_error(
        "period,cohort,outcome\n3,c1,job\n",
        1,
        &["header", "missing column units"],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error("cohort,outcome\n", 1, &["missing columns period, units"]);
    expect_csv_error(
        "period,cohort,outcome,units,colour\n",
        1,
        &["unknown column `colour`"],
    );
    expect_csv_error(
        &format!("{HEADER}3,c1,job\n"),
        2,
        &["3 fields but the header has 4"],
    );
    // A column named twice (in any case) is an error, not a silent choice of one of them;
    // header problems are reported at the header's line, after any comment lines.
    let d = expect_csv_error(
        "# reported by the provider\n\nperiod,cohort,outcome,units,UNITS\n3,c1,job,4,5\n",
        3,
        &["column `UNITS` appears twice (columns 4 and 5)"],
    );
    assert_eq!(d.items.len(), 1);
    expect_csv_error(
        "# a comment\nperiod,cohort,outcome,units,colour\n",
        2,
        &["unknown column `colour`"],
    );
}

#[test]
fn csv_chained_units_exceed_the_prerequisite() {
    let d = expect_csv_error(
        &format!("{HEADER}3,c1,job,10\n5,c1,job12,12\n"),
        3,
        &["job12", "12 units of `job12`", "only 10 of `job`"],
    );
    assert_eq!(d.items.len(), 1);
    // More people than enrolled.
    expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,20\n3,c1,job,21\n"),
        3,
        &["21 people achieved `job`", "enrolled 20"],
    );
}

// ---------------------------------------------------------------------------------------------
// Garbage: always an error, never a panic
// ---------------------------------------------------------------------------------------------

fn garbage_toml_is_rejected(text: &str) {
    let r = sibsim::scenario::parse("g.toml", text);
    assert!(r.is_err(), "garbage accepted:\n{text}");
}

fn garbage_csv_is_rejected(c: &Contract, text: &str) {
    assert!(
        sibsim::actuals::parse_csv(c, "g.csv", text).is_err(),
        "garbage accepted:\n{text}"
    );
}

/// Inputs that are structurally odd: wrong shapes, huge, tiny and negative numbers, deep
/// nesting, odd keys.
fn nasty_inputs() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\n\n\n",
        "\u{feff}",
        "\0",
        "[",
        "[[",
        "]]",
        "=",
        "a",
        "a = ",
        "contract = 5",
        "contract = []",
        "contract = \"x\"",
        "[[contract]]\nname = \"x\"",
        "[contract]\n[contract]",
        "[contract]\nname = \"x\"\nperiods = 12\nperiod = \"quarter\"",
        "outcomes = \"none\"\n[contract]",
        "[enterprise]\nid = 5",
        "periods = 1e300",
        "[contract]\nperiods = 99999999999999999999",
        "[contract]\nperiods = -99999999999999999999",
        "[contract]\nperiods = 1e300",
        "[contract]\nperiods = -1",
        "[contract]\nperiods = inf\nperiod = nan",
        "x = 0x7fffffffffffffff\ny = -0x1",
        "x = 1979-05-27T07:32:00Z",
        "x = '''\n",
        "x = \"\\uD800\"",
        "[a.b.c.d.e.f.g]\n[a.b]\nc = 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for depth in [10, 100, 1000] {
        v.push(format!("a = {}1{}", "[".repeat(depth), "]".repeat(depth)));
        v.push(format!(
            "a = {}{}",
            "{ b = ".repeat(depth),
            "}".repeat(depth)
        ));
        v.push(
            (0..depth)
                .map(|i| format!("[{}]\n", vec!["t"; i + 1].join(".")))
                .collect(),
        );
    }
    // The valid base with one value replaced by something odd.
    for value in [
        "1e300",
        "-1e300",
        "1e-300",
        "5e-324",
        "99999999999999999999",
        "-99999999999999999999",
        "-1",
        "0",
        "-0.0",
        "nan",
        "-inf",
        "\"1e300\"",
        "\"-99999999999999999999999999999\"",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "[[1, 2]]",
        "{ amount = 1e300 }",
        "{ at = [[99999, 1]] }",
        "{ at = [[-1, -1]] }",
        "{ amount = 1, from = 99999, to = -99999 }",
        "true",
        "\"job\"",
        "\"job12\"",
        "9223372036854775807",
        "-9223372036854775808",
        "0.0000001",
        "1200",
        "1201",
    ] {
        for key in [
            "periods",
            "enrol",
            "size",
            "lag",
            "price",
            "committed",
            "rate",
            "rank",
            "drawdowns",
            "fixed_costs",
            "requires",
            "payers",
        ] {
            let t = BASE
                .lines()
                .map(|l| {
                    if l.split(" = ").next() == Some(key) {
                        format!("{key} = {value}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            v.push(t);
        }
    }
    // Odd keys that end up in field paths.
    for key in [
        "\"x[0]]\"",
        "\"]\"",
        "\"[\"",
        "\"a.b\"",
        "\"[1][2]]]\"",
        "\"\"",
        "\"é[ü]]\"",
    ] {
        v.push(edit("city = 0.6, state = 0.4", &format!("{key} = 1")));
        v.push(edit("size = 100", &format!("size = 100\n{key} = 1")));
        v.push(format!(
            "{BASE}guarantee = {{ guarantors = {{ {key} = 1 }} }}\n"
        ));
    }
    v
}

#[test]
fn garbage_scenarios_never_panic() {
    for text in nasty_inputs() {
        // Edits of the valid base may be valid; everything else must be rejected.
        let r = sibsim::scenario::parse("g.toml", &text);
        if !text.contains("[[tranches]]") {
            assert!(r.is_err(), "garbage accepted:\n{text}");
        }
        if let Err(d) = r {
            assert!(!d.items.is_empty());
            let _ = d.to_string();
        }
    }
}

#[test]
fn garbage_actuals_never_panic() {
    let c = contract();
    let mut inputs: Vec<String> = [
        "",
        "\n",
        ",,,",
        "\0",
        "\u{feff}period,cohort,outcome,units\n3,c1,job,x",
        "\"",
        "\"\n\"\"\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for row in [
        "3,c1,job,1e300",
        "3,c1,job,99999999999999999999",
        "3,c1,job,-99999999999999999999",
        "3,c1,job,-1",
        "3,c1,job,NaN",
        "99999999999999999999,c1,job,1",
        "-3,c1,job,1",
        "0,c1,job,1",
        "3,,,",
        "3,c1,job,1,extra",
        "3,c1",
        "1,c1,enrolled,99999999999",
        "1,c1,enrolled,-1",
        "1,c1,enrolled,4294967296",
        "3,c1,job,\"1\n2\"",
    ] {
        inputs.push(format!("{HEADER}{row}\n"));
    }
    // Huge quantities over several measurement periods.
    inputs.push(format!(
        "{HEADER}2,c1,days,9000000000000\n3,c1,days,9000000000000\n4,c1,days,9000000000000\n"
    ));
    inputs.push(format!(
        "{HEADER}3,c1,job,9000000000000\n5,c1,job12,9000000000000\n"
    ));
    inputs.push(format!("{HEADER}{}", "3,c1,job,1\n".repeat(200)));
    for text in inputs {
        garbage_csv_is_rejected(&c, &text);
    }
}

/// Random text: arbitrary Unicode, printable ASCII, and random bytes read lossily.
fn random_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[ -~\n\t]{0,200}",
        "[\\[\\]{}=\",.0-9a-z \n-]{0,200}",
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// TOML-looking lines built from the scenario's own table and field names and odd values.
fn toml_like() -> impl Strategy<Value = String> {
    let header = prop::sample::select(vec![
        "[contract]",
        "[[payers]]",
        "[[investors]]",
        "[enterprise]",
        "[[cohorts]]",
        "[[outcomes]]",
        "[[tranches]]",
        "[participant_cap]",
        "[[fees]]",
        "[drawdown]",
        "[uncertainty]",
        "[[checkpoints]]",
    ]);
    let key = prop::sample::select(vec![
        "id",
        "name",
        "periods",
        "period",
        "enrol",
        "size",
        "lag",
        "price",
        "payers",
        "committed",
        "rate",
        "rank",
        "drawdowns",
        "requires",
        "tiers",
        "grid",
        "cap",
        "baseline",
        "threshold",
        "amount",
        "outcomes",
        "schedule",
    ]);
    let value = prop::sample::select(vec![
        "1",
        "-1",
        "0",
        "1e300",
        "-1e300",
        "99999999999999999999",
        "\"quarter\"",
        "\"x\"",
        "[]",
        "{}",
        "[1, \"a\"]",
        "{ kind = \"rate\" }",
        "{ amount = 5, from = 9, to = 1 }",
        "true",
        "0.333333333333",
        "[[1, 2], [3]]",
    ]);
    let line = prop_oneof![
        header.prop_map(|h| h.to_string()),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
    ];
    prop::collection::vec(line, 0..40).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_is_rejected_without_panic(text in random_text()) {
        garbage_toml_is_rejected(&text);
        garbage_csv_is_rejected(&contract(), &text);
    }

    #[test]
    fn toml_of_the_wrong_shape_is_rejected_without_panic(text in toml_like()) {
        garbage_toml_is_rejected(&text);
    }

    #[test]
    fn random_csv_rows_never_panic(
        rows in prop::collection::vec(
            (
                prop_oneof![Just("3".to_string()), "-?[0-9]{1,22}", ".{0,5}"],
                prop_oneof![Just("c1".to_string()), ".{0,4}"],
                prop::sample::select(vec!["job", "job12", "days", "enrolled", "JOB", ""]),
                prop_oneof!["-?[0-9]{1,22}(\\.[0-9]{0,9})?", "[0-9e+.-]{0,8}", ".{0,6}"],
            ),
            1..20,
        )
    ) {
        let c = contract();
        let mut text = String::from(HEADER);
        for (p, co, o, u) in &rows {
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            text.push_str(&format!("{},{},{},{}\n", q(p), q(co), o, q(u)));
        }
        // Rows may happen to be valid; the point is that nothing panics.
        let _ = sibsim::actuals::parse_csv(&c, "g.csv", &text);
    }
}

/// The bundled scenarios, as (file name, text).
fn bundled() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "reference.toml",
            include_str!("../scenarios/reference.toml"),
        ),
        (
            "many-parties.toml",
            include_str!("../scenarios/many-parties.toml"),
        ),
        (
            "small-bond-scale.toml",
            include_str!("../scenarios/small-bond-scale.toml"),
        ),
        (
            "colour-kitchen-utrecht.toml",
            include_str!("../scenarios/colour-kitchen-utrecht.toml"),
        ),
        (
            "rotterdam-buzinezzclub.toml",
            include_str!("../scenarios/rotterdam-buzinezzclub.toml"),
        ),
    ]
}

/// Numbers at the edges of what a field may hold, and past them.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "0.5",
    "0.999999",
    "1.000001",
    "0.0000001",
    "2",
    "64",
    "65",
    "1000",
    "65535",
    "65536",
    "4294967296",
    "1e15",
    "92233720368547758",
    "9223372036854775807",
    "1e300",
    "-1e300",
];

/// Values of the wrong kind, put in place of a whole value.
const WRONG_KIND: &[&str] = &["\"\"", "\"x\"", "[]", "[0]", "{}", "true"];

/// Byte ranges of the numbers in a line (outside quoted strings and comments).
fn numbers(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let (mut out, mut i, mut quoted) = (Vec::new(), 0, false);
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            quoted = !quoted;
        } else if c == b'#' && !quoted {
            break;
        } else if !quoted
            && (c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b"._eE+-".contains(&b[i])) {
                i += 1;
            }
            out.push((start, i));
            continue;
        }
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// A bundled scenario with one to three numbers replaced by edge values (or a whole value by
    /// one of the wrong kind) is either rejected with diagnostics or simulates without a panic.
    /// Tests run in debug builds, which check every arithmetic overflow, so an accepted amount
    /// that overflows in the model or the engine fails this test.
    #[test]
    fn bundled_scenarios_with_edge_values_never_panic(
        file in 0usize..5,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0..EDGE_NUMBERS.len(), prop::option::weighted(0.15, 0..WRONG_KIND.len())),
            1..4,
        ),
    ) {
        let (name, text) = bundled()[file];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let editable: Vec<usize> = (0..lines.len()).filter(|&i| !numbers(&lines[i]).is_empty()).collect();
        prop_assume!(!editable.is_empty());
        for (line, which, number, wrong) in &edits {
            let i = editable[line.index(editable.len())];
            let l = &lines[i];
            lines[i] = match wrong {
                Some(w) => match l.split_once(" = ") {
                    Some((key, _)) => format!("{key} = {}", WRONG_KIND[*w]),
                    None => continue,
                },
                None => {
                    let spots = numbers(l);
                    if spots.is_empty() {
                        continue; // an earlier edit took its numbers away
                    }
                    let (a, b) = spots[which.index(spots.len())];
                    format!("{}{}{}", &l[..a], EDGE_NUMBERS[*number], &l[b..])
                }
            };
        }
        let edited = lines.join("\n");
        if let Ok((sc, model)) = sibsim::scenario::parse_with_model(name, &edited) {
            let cfg = sibsim::montecarlo::SimConfig { trials: 8, seed: 3, threads: Some(1) };
            let r = sibsim::montecarlo::simulate(&sc.contract, &model, &cfg);
            prop_assert_eq!(r.trials + r.failed_trials, 8);
            prop_assert_eq!(r.failure.is_some(), r.failed_trials > 0);
        }
    }

    /// The bundled actuals with one to three numbers replaced by edge values either are
    /// rejected with diagnostics or settle (or fail to settle with a typed error) without a
    /// panic; in debug builds every arithmetic overflow would panic.
    #[test]
    fn bundled_actuals_with_edge_values_settle_or_are_rejected(
        file in 0usize..2,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0..EDGE_NUMBERS.len()),
            1..4,
        ),
    ) {
        let (name, scenario, actuals) = [
            (
                "colour-kitchen-utrecht",
                include_str!("../scenarios/colour-kitchen-utrecht.toml"),
                include_str!("../scenarios/colour-kitchen-utrecht.actuals.csv"),
            ),
            (
                "rotterdam-buzinezzclub",
                include_str!("../scenarios/rotterdam-buzinezzclub.toml"),
                include_str!("../scenarios/rotterdam-buzinezzclub.actuals.csv"),
            ),
        ][file];
        let sc = sibsim::scenario::parse(name, scenario).expect("bundled scenario parses");
        let mut lines: Vec<String> = actuals.lines().map(str::to_string).collect();
        // Data rows only (not comments, not the header).
        let editable: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].starts_with('#') && lines[i].starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        for (line, field, number) in &edits {
            let i = editable[line.index(editable.len())];
            let mut cells: Vec<String> = lines[i].split(',').map(str::to_string).collect();
            let k = field.index(cells.len());
            cells[k] = EDGE_NUMBERS[*number].to_string();
            lines[i] = cells.join(",");
        }
        let text = lines.join("\n") + "\n";
        if let Ok(a) = sibsim::actuals::parse_csv(&sc.contract, "a.csv", &text) {
            let mut ledger: Vec<sibsim::LedgerLine> = Vec::new();
            let _ = sibsim::Settler::new(&sc.contract).settle(&a, &mut ledger);
        }
    }
}

/// An outcome named under the per-participant cap but refused there (here: repeatable) gets
/// its one error; the outcomes that require it are not told to list it, since it is listed.
#[test]
fn a_refused_capped_outcome_is_not_reported_as_missing_from_the_list() {
    let text = include_str!("../scenarios/reference.toml");
    let from = "id = \"work\"\nname = \"Start of work or school\"\n";
    assert!(text.contains(from));
    let bad = text.replacen(from, &format!("{from}repeatable = true\n"), 1);
    let d = match sibsim::scenario::parse("r.toml", &bad) {
        Ok(_) => panic!("a repeatable outcome under the participant cap was accepted"),
        Err(d) => d,
    };
    let shown = d.to_string();
    assert!(
        shown.contains("`work` cannot be settled per participant: it must not be repeatable"),
        "{shown}"
    );
    assert!(!shown.contains("must be in the list too"), "{shown}");
    assert_eq!(d.items.len(), 1, "{shown}");
}

/// `repeatable` is refused on a quantity outcome, at its line (it was accepted and ignored).
#[test]
fn repeatable_is_refused_on_a_quantity_outcome() {
    let text = include_str!("../scenarios/rotterdam-buzinezzclub.toml");
    let from = "kind = \"quantity\"\n";
    assert_eq!(text.matches(from).count(), 1);
    let bad = text.replacen(from, "kind = \"quantity\"\nrepeatable = true\n", 1);
    let line = bad.lines().position(|l| l == "repeatable = true").unwrap() + 1;
    let shown = match sibsim::scenario::parse("r.toml", &bad) {
        Ok(_) => panic!("accepted"),
        Err(d) => d.to_string(),
    };
    assert!(
        shown.contains(&format!("r.toml:{line}:")) && shown.contains("outcomes[0].repeatable"),
        "{shown}"
    );
}

/// An actuals file with more bad rows than are listed says so, without counting the note as
/// a problem (it said "51 problems" for 50 listed and more unread).
#[test]
fn a_file_with_too_many_problems_says_more_than_it_lists() {
    let c: Contract = sibsim::scenario::parse("t.toml", BASE).unwrap().contract;
    let mut csv = String::from("period,cohort,outcome,units\n");
    for _ in 0..60 {
        csv.push_str("x,c1,job,1\n");
    }
    let d = match sibsim::actuals::parse_csv(&c, "a.csv", &csv) {
        Ok(_) => panic!("accepted"),
        Err(d) => d,
    };
    let shown = d.to_string();
    assert!(
        shown.starts_with("a.csv has more than 50 problems; the first 50:"),
        "{shown}"
    );
    assert_eq!(shown.matches("is not a period").count(), 50);
    let few = "period,cohort,outcome,units\nx,c1,job,1\n";
    let one = match sibsim::actuals::parse_csv(&c, "a.csv", few) {
        Ok(_) => panic!("accepted"),
        Err(d) => d.to_string(),
    };
    assert!(one.starts_with("a.csv has 1 problem:"), "{one}");
}

/// An invalid number of periods is one problem: the rest is not checked against a term of 1
/// (which reported every later period "outside the contract").
#[test]
fn an_invalid_term_is_one_problem() {
    for bad in ["periods = 0", "periods = 1201"] {
        let d = parse_err(&edit("periods = 12", bad));
        assert_eq!(d.items.len(), 1, "{d}");
        assert!(d.items[0].path == "contract.periods", "{d}");
    }
}

/// A rejected commitment is one problem: the contract-wide drawdown schedule, split pro rata to
/// the commitments, is not then blamed on the other tranche (which the split, with the rejected
/// commitment's stand-in 0, would have given everything).
#[test]
fn a_bad_commitment_is_one_problem_not_two() {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/reference.toml"),
    )
    .unwrap();
    let bad = text.replacen("committed = 600_000", "committed = -5", 1);
    assert_ne!(bad, text);
    let d = sibsim::scenario::parse("r.toml", &bad).expect_err("invalid");
    assert_eq!(d.items.len(), 1, "{d}");
    assert!(d.items[0].path == "tranches[0].committed", "{d}");
    // Drawdowns beyond a valid commitment are still an error.
    let over = text.replacen("amount = 125_000", "amount = 150_000", 1);
    let d = sibsim::scenario::parse("r.toml", &over).expect_err("invalid");
    assert!(
        d.to_string().contains("only 600,000.00 is committed"),
        "{d}"
    );
}

/// A forecast reported in the actuals has the contract's bounds (0 to 1,000,000,000, six
/// decimals), and the message says so (1e12 was accepted and 1e13 refused as "at most 6
/// decimals").
#[test]
fn a_reported_forecast_has_the_contracts_bounds() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("scenarios/rotterdam-buzinezzclub.toml")).unwrap();
    let s = sibsim::scenario::parse("r.toml", &text).unwrap();
    let csv = |b: &str| {
        format!(
            "period,cohort,outcome,units,baseline\n1,cohort-1,enrolled,80,\n3,cohort-1,benefit-days,6300,{b}\n"
        )
    };
    assert!(sibsim::actuals::parse_csv(&s.contract, "a.csv", &csv("7000")).is_ok());
    assert!(sibsim::actuals::parse_csv(&s.contract, "a.csv", &csv("1000000000")).is_ok());
    for bad in ["1000000000.5", "1e12", "-1", "7000.1234567"] {
        let d = sibsim::actuals::parse_csv(&s.contract, "a.csv", &csv(bad)).unwrap_err();
        let e = d.to_string();
        assert!(
            e.contains("a.csv:3")
                && e.contains("use a number from 0 to 1,000,000,000 with at most 6 decimals"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn a_checkpoint_before_its_outcome_is_measured_is_refused() {
    // `job` (lag 2) of cohort c1 (enrolled in 1) is first measured in period 3.
    let text = format!("{BASE}\n[[checkpoints]]\nperiod = 2\noutcome = \"job\"\nmin_rate = 0.1\n");
    let line = BASE.lines().count() + 3;
    expect_error(
        &text,
        line,
        &[
            "checkpoints[0].period",
            "`job` is first measured in period 3",
            "would judge nothing measured",
            "move the checkpoint to period 3 or later",
        ],
    );
    // In period 3 it judges c1's first measurement.
    let ok = text.replace("period = 2\noutcome", "period = 3\noutcome");
    assert!(sibsim::scenario::parse("test.toml", &ok).is_ok());
}

#[test]
fn a_number_too_large_to_read_says_what_fields_take() {
    let d = expect_error(
        &edit("price = 1500", "price = 1e400"),
        27,
        &[
            "outcomes[0].price",
            "too large to read",
            "at most 1,000,000,000,000",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    // A whole-number field with a narrower range says its own range, not that of every number.
    expect_error(
        &edit("periods = 12", "periods = 99999999999999999999"),
        3,
        &[
            "contract.periods",
            "whole number `99999999999999999999` is too large",
            "it must be a whole number from 1 to 1,200",
        ],
    );
    expect_error(
        &edit("periods = 12", "periods = 1e400"),
        3,
        &[
            "contract.periods",
            "too large to read",
            "it must be a whole number from 1 to 1,200",
        ],
    );
    expect_error(
        &edit("size = 100", "size = 1e400"),
        22,
        &[
            "cohorts[0].size",
            "it must be a whole number from 0 to 10,000,000",
        ],
    );
}

/// A number with more digits than a 28-digit decimal holds is refused, never rounded
/// silently; one too large for TOML (a 25-digit integer, `"1e400"`) names the largest amounts;
/// so do overrides.
#[test]
fn numbers_beyond_what_can_be_read_exactly_are_refused() {
    for (from, to, parts) in [
        (
            "price = 1500",
            "price = \"1000.0000000000000000000000000000001\"",
            &["outcomes[0].price", "too many decimals to read exactly"][..],
        ),
        (
            "price = 1500",
            "price = 123456789012345678901234",
            &[
                "outcomes[0].price",
                "`123456789012345678901234` is too large",
                "1,000,000,000",
            ][..],
        ),
        (
            "price = 1500",
            "price = \"1e400\"",
            &["outcomes[0].price", "`1e400` is too large a number"][..],
        ),
    ] {
        expect_error(&edit(from, to), 27, parts);
    }
    let cases = [
        ("contract.total_cap=1e400", "`1e400` is too large a number"),
        ("outcomes.job.price*=1e30", "`1e30` is too large a number"),
        (
            "outcomes.job.price=123456789012345678901234",
            "is too large a number",
        ),
        (
            "outcomes.job.price*=123456789012345678901234",
            "out of range; amounts of money",
        ),
    ];
    for (set, want) in cases {
        let o = sibsim::scenario::overrides::Override::parse(set)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                sibsim::scenario::parse_with_overrides("test.toml", BASE, &[o])
                    .map(|_| ())
                    .map_err(|d| d.to_string())
            });
        let e = o.expect_err(set);
        assert!(e.contains(want), "{set}: {e}");
    }
}

#[test]
fn actuals_with_more_digits_than_can_be_read_exactly_are_refused() {
    let sc = sibsim::scenario::parse("test.toml", BASE).unwrap();
    let e = sibsim::actuals::parse_csv(
        &sc.contract,
        "a.csv",
        "period,cohort,outcome,units\n3,c1,job,6.00000000000000000000000000001\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("units") && e.contains("not a valid number of units"),
        "{e}"
    );
}

#[test]
fn a_checkpoint_judging_only_an_empty_cohort_or_by_improvement_says_so() {
    // An improvement checkpoint before the first measurement says what it would judge.
    let text = edit(
        "price = 1500",
        "price = 1500\nbaseline = { kind = \"rate\", rate = 0.1 }",
    );
    let text =
        format!("{text}\n[[checkpoints]]\nperiod = 2\noutcome = \"job\"\nmin_improvement = 0.1\n");
    let line = text.lines().count() - 2;
    expect_error(
        &text,
        line,
        &[
            "checkpoints[0].period",
            "its improvement would be 0 whatever happens",
        ],
    );
    // A first cohort planned empty is not a measurement: c0 (0 people, enrolled in 1) is
    // measured in 3, c1 (100 people, enrolled in 1 + 2) in 5.
    let text = edit(
        "[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 100",
        "[[cohorts]]\nid = \"c0\"\nenrol = 1\nsize = 0\n\n[[cohorts]]\nid = \"c1\"\nenrol = 3\nsize = 100",
    );
    let text = format!("{text}\n[[checkpoints]]\nperiod = 4\noutcome = \"job\"\nmin_rate = 0.1\n");
    let line = text.lines().count() - 2;
    expect_error(&text, line, &["`job` is first measured in period 5"]);
}

/// A change that makes another field wrong (a lag moved past a checkpoint) is named as the
/// cause where the problem is reported.
#[test]
fn an_override_that_breaks_another_field_is_named() {
    let text = format!("{BASE}\n[[checkpoints]]\nperiod = 3\noutcome = \"job\"\nmin_rate = 0.1\n");
    assert!(sibsim::scenario::parse("test.toml", &text).is_ok());
    let set = sibsim::scenario::overrides::Override::parse("outcomes.job.lag=4").unwrap();
    let e = sibsim::scenario::parse_with_overrides("test.toml", &text, &[set])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checkpoints[0].period")
            && e.contains("first measured in period 5")
            && e.contains("(after --set outcomes.job.lag=4)"),
        "{e}"
    );
}

/// Every missing required field is reported at once (serde alone stops at the first), each at
/// its table, and a stand-in never shows up as a problem of its own.
#[test]
fn every_missing_field_is_reported_at_once() {
    let text = "[contract]\nname = \"x\"\nperiods = 4\nperiod = \"quarter\"\n[[payers]]\nid = \"p\"\n[enterprise]\nid = \"e\"\n[[cohorts]]\nid = \"c\"\n[[outcomes]]\nid = \"o\"\nprice = 1\n[[tranches]]\nid = \"t\"\ndrawdowns = { amount = 5 }\n";
    let d = parse_err(text);
    let got: Vec<(Option<usize>, String)> = d
        .items
        .iter()
        .map(|i| (i.line, format!("{}: {}", i.path, i.message)))
        .collect();
    let want = [
        (Some(9), "cohorts[0]: required field `enrol` is missing"),
        (Some(9), "cohorts[0]: required field `size` is missing"),
        (Some(11), "outcomes[0]: required field `lag` is missing"),
        (
            Some(14),
            "tranches[0]: required field `investor` is missing",
        ),
        (
            Some(14),
            "tranches[0]: required field `committed` is missing",
        ),
        (Some(14), "tranches[0]: required field `rank` is missing"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(l, m)| (*l, m.to_string()))
            .collect::<Vec<_>>(),
        "{d}"
    );
    // A file whose first problem is not a missing field reports that one, as before.
    let text = "[contract]\nname = \"x\"\nperiods = \"four\"\n";
    let d = parse_err(text);
    assert_eq!(d.items.len(), 1, "{d}");
}

/// Lines that hold nothing are skipped wherever they are: spaces only, an indented comment,
/// commas only (a spreadsheet's empty row), before the header too; a byte-order mark is not
/// part of the first column's name.
#[test]
fn csv_blank_and_indented_comment_lines_are_skipped() {
    let csv = "\u{feff}  \n   # provider's report\n period , cohort,outcome,units\n \t \n  # enrolment\n1,c1,enrolled,90\n,,,\n3,c1,job,4\n   \n";
    let a = sibsim::actuals::parse_csv(&contract(), "a.csv", csv).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(a.enrolled()[0], 90);
    assert_eq!(a.units(0, 0, 3), sibsim::Qty::from_int(4));
    assert_eq!(a.reported_through(), 3);
    // Problems keep their lines past the skipped ones.
    expect_csv_error(
        "  # a comment\n\nperiod,cohort,outcome,units\n   \n3,c9,job,4\n",
        5,
        &["unknown cohort `c9`"],
    );
    // A row after a comment and an empty line is placed at its own line, not the comment's
    // (with CRLF line ends too).
    for end in ["\n", "\r\n"] {
        let csv = format!("{HEADER}1,c1,enrolled,90\n# checked\n\n3,c9,job,4\n").replace('\n', end);
        assert_eq!(csv_columns(&csv), [(Some(5), Some(3))], "{csv:?}");
    }
}

/// A row with the wrong number of fields says how many, in good English, and a row with too
/// many hints at a decimal comma.
#[test]
fn csv_a_row_of_the_wrong_length_counts_its_fields() {
    let d = expect_csv_error(
        &format!("{HEADER}3\n"),
        2,
        &["this row has 1 field but the header has 4"],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    let d = expect_csv_error(
        &format!("{HEADER}2,c1,days,12,5\n"),
        2,
        &[
            "this row has 5 fields but the header has 4",
            "write decimals with a point",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
}

/// A file saved with semicolons or tabs (a spreadsheet with European settings) is named as
/// such, once, instead of as an unknown column and three missing ones.
#[test]
fn csv_another_separator_is_named() {
    for (csv, which) in [
        (
            "period;cohort;outcome;units\n3;c1;job;4\n",
            "semicolon-separated",
        ),
        (
            "Period;Cohort;Outcome;Units;Baseline\n",
            "semicolon-separated",
        ),
        (
            "period\tcohort\toutcome\tunits\n3\tc1\tjob\t4\n",
            "tab-separated",
        ),
        (
            "# exported\nperiod;cohort;outcome;units\n",
            "semicolon-separated",
        ),
    ] {
        let line = if csv.starts_with('#') { 2 } else { 1 };
        let d = expect_csv_error(
            csv,
            line,
            &[
                "header",
                which,
                "save it as comma-separated CSV",
                "with a point",
            ],
        );
        assert_eq!(d.items.len(), 1, "{d}");
        assert!(!d.to_string().contains("unknown column"), "{d}");
    }
    // Excel's separator line.
    let d = expect_csv_error(
        "sep=;\nperiod;cohort;outcome;units\n3;c1;job;4\n",
        1,
        &["`sep=;` line", "separated by `;`", "comma-separated CSV"],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    expect_csv_error(
        &format!("SEP=,\n{HEADER}3,c1,job,4\n"),
        1,
        &["`SEP=,` line; remove it", "period,cohort,outcome,units"],
    );
    // A decimal comma in a quoted value is hinted at, for units and baselines alike.
    expect_csv_error(
        &format!("{HEADER}2,c1,days,\"20,0\"\n"),
        2,
        &[
            "column units",
            "`20,0` is not a valid number of units",
            "write decimals with a point",
        ],
    );
    // Only a number with a comma gets the hint.
    let d = expect_csv_error(&format!("{HEADER}2,c1,days,five\n"), 2, &["`five`"]);
    assert!(!d.to_string().contains("with a point"), "{d}");
}

/// A file without a header row is told what the first row must be.
#[test]
fn csv_a_missing_header_row_is_named() {
    let d = expect_csv_error(
        "1,k2016,enrolled,38
3,k2016,job,4
",
        1,
        &[
            "header",
            "the first row must be the header `period,cohort,outcome,units[,baseline][,participant]`",
            "starts with a data row, `1,k2016,enrolled,38`",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    for (csv, what) in [
        ("", "the file is empty"),
        ("  \n\n", "the file is empty"),
        ("\u{feff}", "the file is empty"),
        (
            "# only a comment\n  # and another\n\n",
            "only comments and blank lines",
        ),
    ] {
        let d = match sibsim::actuals::parse_csv(&contract(), "a.csv", csv) {
            Ok(_) => panic!("accepted {csv:?}"),
            Err(d) => d,
        };
        assert_eq!(d.items.len(), 1, "{d}");
        let shown = d.to_string();
        assert!(
            shown.contains(what) && shown.contains("the first row must be the header"),
            "{shown}"
        );
    }
    // A header-only file is still valid: it reports nothing yet.
    assert!(sibsim::actuals::parse_csv(&contract(), "a.csv", HEADER).is_ok());
}

/// A huge value is not repeated whole in its message.
#[test]
fn csv_a_huge_value_is_shortened_in_its_message() {
    let digits = "9".repeat(1_000_000);
    for csv in [
        format!("{HEADER}3,c1,job,{digits}\n"),
        format!("{HEADER}{digits},c1,job,1\n"),
        format!("{HEADER}3,{digits},job,1\n"),
        format!("period,cohort,outcome,units,{digits}\n"),
    ] {
        let d = match sibsim::actuals::parse_csv(&contract(), "a.csv", &csv) {
            Ok(_) => panic!("accepted"),
            Err(d) => d,
        };
        let shown = d.to_string();
        assert!(shown.len() < 600, "{} characters", shown.len());
        assert!(shown.contains(&format!("`{}…`", "9".repeat(40))), "{shown}");
    }
}

/// A row given three times is a duplicate of the first, not of the one before it.
#[test]
fn csv_a_repeated_duplicate_names_the_first_row() {
    let d = expect_csv_error(
        &format!("{HEADER}3,c1,job,4\n3,c1,job,5\n3,c1,job,6\n"),
        4,
        &["duplicate row", "(first at line 2)"],
    );
    check_diag(&d, 3, &["duplicate row", "(first at line 2)"]);
    assert_eq!(d.items.len(), 2, "{d}");
    let d = expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,4\n1,c1,enrolled,5\n1,c1,enrolled,6\n"),
        4,
        &["duplicate enrolment row", "(first at line 2)"],
    );
    assert!(!d.to_string().contains("first at line 3"), "{d}");
}

/// `BASE` with `job` and `job12` under a per-participant cap, each measured in four periods
/// (`job` in 3 to 6, `job12` in 5 to 8).
fn capped_contract() -> Contract {
    let text = edit(
        "lag = 2\nprice = 1500",
        "lag = 2\nmeasure_periods = 4\nprice = 1500",
    );
    let text = edit_in(
        &text,
        "lag = 4\nprice = 2000",
        "lag = 4\nmeasure_periods = 4\nprice = 2000",
    );
    let text =
        format!("{text}\n[participant_cap]\namount = 5000\noutcomes = [\"job\", \"job12\"]\n");
    sibsim::scenario::parse("capped.toml", &text)
        .unwrap_or_else(|d| panic!("{d}"))
        .contract
}

/// A participant class: cohort, count, and its (period, outcome) achievements.
type Class = (u16, u32, Vec<(u16, u16)>);

/// The participant classes of `a`, each with its achievements, in a comparable form.
fn classes_of(a: &sibsim::actuals::Actuals) -> Vec<Class> {
    let mut v: Vec<_> = a
        .classes()
        .iter()
        .map(|k| (k.cohort, k.count, a.class_events(k).collect()))
        .collect();
    v.sort();
    v
}

/// A participant's chain is judged by period, whatever the order of the rows: a file sorted by
/// outcome (later outcomes first) reads exactly as the same rows in period order.
#[test]
fn csv_participant_chains_do_not_depend_on_row_order() {
    let text = include_str!("../scenarios/reference.toml");
    let c = sibsim::scenario::parse("reference.toml", text)
        .unwrap_or_else(|d| panic!("{d}"))
        .contract;
    let head = "period,cohort,outcome,units,participant\n1,q1,enrolled,40,\n";
    // The audit's case: the later outcome's row first.
    let a = sibsim::actuals::parse_csv(
        &c,
        "a.csv",
        &format!("{head}6,q1,sustained6,1,P1\n4,q1,work,1,P1\n"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(classes_of(&a), [(0, 1, vec![(4, 1), (6, 2)])]);
    // Several participants, rows in period order and sorted by outcome (descending).
    let mut rows: Vec<String> = Vec::new();
    for who in ["P1", "P2", "P3"] {
        rows.push(format!("4,q1,work,1,{who}"));
        rows.push(format!("6,q1,sustained6,1,{who}"));
        if who != "P3" {
            rows.push(format!("8,q1,sustained12,1,{who}"));
        }
    }
    rows.push("3,q1,housing,1,P3".into());
    let in_order = format!("{head}{}\n", rows.join("\n"));
    // Sorted by outcome: housing, sustained12, sustained6, work.
    rows.sort_by(|x, y| x.split(',').nth(2).cmp(&y.split(',').nth(2)));
    assert!(rows[1].contains("sustained12") && rows[8].contains("work"));
    let by_outcome = format!("{head}{}\n", rows.join("\n"));
    let a = sibsim::actuals::parse_csv(&c, "a.csv", &in_order).unwrap_or_else(|d| panic!("{d}"));
    let b = sibsim::actuals::parse_csv(&c, "b.csv", &by_outcome).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(classes_of(&a), classes_of(&b));
    assert_eq!(
        classes_of(&a),
        [
            (0, 1, vec![(3, 0), (4, 1), (6, 2)]),
            (0, 2, vec![(4, 1), (6, 2), (8, 3)])
        ]
    );
}

/// A broken chain is still an error, at the row that needs the earlier outcome, in any order.
#[test]
fn csv_a_broken_participant_chain_is_placed_at_its_row() {
    let c = capped_contract();
    let head = "period,cohort,outcome,units,participant\n";
    let run = |csv: &str| match sibsim::actuals::parse_csv(&c, "actuals.csv", csv) {
        Ok(_) => panic!("accepted:\n{csv}"),
        Err(d) => d,
    };
    // The prerequisite achieved later, its row before or after.
    for csv in [
        format!("{head}6,c1,job,1,P1\n5,c1,job12,1,P1\n"),
        format!("{head}5,c1,job12,1,P1\n6,c1,job,1,P1\n"),
    ] {
        let d = run(&csv);
        let line = csv.lines().position(|l| l.contains("job12")).unwrap() + 1;
        check_diag(
            &d,
            line,
            &[
                "participant `P1` cannot achieve `job12` in period 5",
                "requires `job` in the same or an earlier period",
                "achieved `job` only in period 6",
            ],
        );
        assert_eq!(d.items.len(), 1, "{d}");
        assert_eq!(d.items[0].column, Some(6), "{d}");
    }
    // The prerequisite never reported.
    let d = run(&format!("{head}3,c1,job,1,P2\n5,c1,job12,1,P1\n"));
    check_diag(
        &d,
        3,
        &["`P1` cannot achieve `job12`", "no row reports `job`"],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    // The same period is enough; an outcome twice names the first row.
    assert!(
        sibsim::actuals::parse_csv(
            &c,
            "a.csv",
            &format!("{head}5,c1,job12,1,P1\n5,c1,job,1,P1\n")
        )
        .is_ok()
    );
    let d = run(&format!("{head}3,c1,job,1,P1\n4,c1,job,1,P1\n"));
    check_diag(&d, 3, &["`P1` already achieved `job` (line 2)"]);
}

/// An enrolment row names no participant: enrolment is reported per cohort.
#[test]
fn csv_an_enrolment_row_with_a_participant_is_refused() {
    let c = capped_contract();
    let csv = "period,cohort,outcome,units,participant\n1,c1,enrolled,40,P1\n3,c1,job,1,P1\n";
    let d = match sibsim::actuals::parse_csv(&c, "actuals.csv", csv) {
        Ok(_) => panic!("accepted"),
        Err(d) => d,
    };
    check_diag(
        &d,
        2,
        &[
            "column participant",
            "an `enrolled` row reports the cohort's enrolment",
            "leave the participant column empty",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    assert_eq!(d.items[0].column, Some(18), "{d}");
}

/// Nor does an enrolment take a baseline: the value would be ignored.
#[test]
fn csv_an_enrolment_row_with_a_baseline_is_refused() {
    let d = expect_csv_error(
        "period,cohort,outcome,units,baseline\n1,c1,enrolled,40,0.5\n",
        2,
        &[
            "column baseline",
            "an `enrolled` row reports the cohort's enrolment, which has no baseline",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    assert_eq!(d.items[0].column, Some(18), "{d}");
}

/// One person, one unit, one participant: the messages say so in the singular.
#[test]
fn csv_messages_count_one_in_the_singular() {
    let d = expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,0\n3,c1,job,1\n"),
        3,
        &["by period 3, 1 person achieved `job` but the cohort enrolled 0"],
    );
    assert!(!d.to_string().contains("1 people"), "{d}");
    expect_csv_error(
        &format!("{HEADER}3,c1,job,0\n5,c1,job12,1\n"),
        3,
        &["by period 5, 1 unit of `job12` is reported but only 0 of `job`"],
    );
    expect_csv_error(
        &format!("{HEADER}3,c1,job,1\n5,c1,job12,2\n"),
        3,
        &["2 units of `job12` are reported but only 1 of `job`"],
    );
    let c = capped_contract();
    let d = sibsim::actuals::parse_csv(
        &c,
        "a.csv",
        "period,cohort,outcome,units,participant\n1,c1,enrolled,0,\n3,c1,job,1,P1\n",
    )
    .unwrap_err();
    assert!(
        d.to_string()
            .contains("1 participant is named but the cohort enrolled 0"),
        "{d}"
    );
}

/// A contract's lists and the totals the settlement adds up unchecked are bounded, so no index
/// leaves its 16-bit slot and no sum leaves `i64` (an audit wrapped fees owed, the contract
/// account and 1,500 tranches' claims to negative amounts, and mapped cohort 65,536 onto
/// cohort 0): each bound is refused at its list, with what is allowed; one entry or one cent
/// less passes.
#[test]
fn contract_wide_counts_and_totals_are_bounded() {
    let tranche = |i: usize| {
        format!(
            "\n[[tranches]]\nid = \"t{i}\"\ninvestor = \"fund\"\ncommitted = 100\nrate = 0.05\nrank = 1\ndrawdowns = {{ amount = 100, from = 1, to = 1 }}\n"
        )
    };
    let with_tranches = |n: usize| BASE.to_string() + &(1..n).map(tranche).collect::<String>();
    assert!(sibsim::scenario::parse("test.toml", &with_tranches(100)).is_ok());
    expect_error(
        &with_tranches(101),
        37,
        &["tranches", "101 entries", "at most 100 `tranches`"],
    );

    // Fees over all periods: 8 fees of 1,000,000,000,000 a quarter for 12 quarters stay
    // within 100,000,000,000,000; 9 do not.
    let fees = |n: usize| {
        BASE.replacen(
            "[[investors]]",
            "[[fee_recipients]]\nid = \"advisor\"\n\n[[investors]]",
            1,
        ) + &(0..n)
            .map(|i| format!("\n[[fees]]\nid = \"f{i}\"\npayee = \"advisor\"\nschedule = {{ amount = 1000000000000 }}\n"))
            .collect::<String>()
    };
    if let Err(d) = sibsim::scenario::parse("test.toml", &fees(8)) {
        panic!("{d}");
    }
    let d = parse_err(&fees(9));
    assert!(
        d.items.iter().any(|x| x.path == "fees"
            && x.message.contains("add up to 108,000,000,000,000.00")
            && x.message.contains("at most 100,000,000,000,000.00")),
        "{d}"
    );

    // Fixed payments: 100 of 1,000,000,000,000 reach the bound, 101 pass it.
    let fixed = |n: usize| {
        BASE.to_string()
            + &(0..n)
                .map(|_| "\n[[fixed_payments]]\nperiod = 1\npayer = \"city\"\namount = 1000000000000\n")
                .collect::<String>()
    };
    assert!(sibsim::scenario::parse("test.toml", &fixed(100)).is_ok());
    let d = parse_err(&fixed(101));
    assert!(
        d.items.iter().any(|x| x.path == "fixed_payments"
            && x.message.contains("add up to 101,000,000,000,000.00")),
        "{d}"
    );
}

/// Where fewer is better the improvement is at most 1 (nothing left of the baseline): a
/// threshold or checkpoint floor above it (a percent written for a fraction) can never be
/// met and is refused with the fraction meant; where more is better it may exceed 1.
#[test]
fn an_improvement_level_a_decrease_can_never_reach_is_refused() {
    let decrease = edit(
        "price = 1500\n",
        "price = 1500\ndirection = \"decrease\"\nbaseline = { kind = \"rate\", rate = 0.5 }\nthreshold = { per_cohort = 10, overall = 0.075 }\n",
    );
    let line = decrease
        .lines()
        .position(|l| l.starts_with("threshold"))
        .unwrap()
        + 1;
    expect_error(
        &decrease,
        line,
        &[
            "threshold.per_cohort",
            "10 can never be reached",
            "write 0.1 for 10%",
        ],
    );
    let ok = decrease.replace("per_cohort = 10,", "per_cohort = 1,");
    assert!(sibsim::scenario::parse("test.toml", &ok).is_ok());
    let increase = edit(
        "price = 1500\n",
        "price = 1500\nbaseline = { kind = \"rate\", rate = 0.2 }\nthreshold = { per_cohort = 1.5 }\n",
    );
    assert!(sibsim::scenario::parse("test.toml", &increase).is_ok());
    let floor = format!(
        "{}\n[[checkpoints]]\nperiod = 4\noutcome = \"job\"\nmin_improvement = 8.5\n",
        ok
    );
    let line = floor
        .lines()
        .position(|l| l.starts_with("min_improvement"))
        .unwrap()
        + 1;
    expect_error(
        &floor,
        line,
        &[
            "min_improvement",
            "8.5 can never be reached",
            "0.085 for 8.5%",
        ],
    );
}

/// A refused commitment is the one problem reported: the contract-wide drawdown schedule is
/// not said to draw from no tranche because the refused commitment stands in as 0, and where
/// every tranche does have its own schedule, that is still said.
#[test]
fn a_refused_commitment_does_not_make_the_drawdown_schedule_draw_from_none() {
    let text = include_str!("../scenarios/small-bond-scale.toml");
    for bad in ["0", "1.001", "1000000000001"] {
        let t = edit_in(text, "committed = 75_000", &format!("committed = {bad}"));
        let d = parse_err(&t);
        let all = d.to_string();
        assert!(all.contains("committed"), "{bad}: {all}");
        assert!(!all.contains("draw from none"), "{bad}: {all}");
        assert_eq!(d.items.len(), 1, "{bad}: {all}");
    }
    // Every tranche with its own schedule beside the contract-wide one: said.
    let own = edit_in(
        text,
        "committed = 75_000",
        "committed = 75_000\ndrawdowns = { amount = 75_000, from = 1, to = 1 }",
    );
    let all = parse_err(&own).to_string();
    assert!(all.contains("draw from none"), "{all}");
}

/// `enterprise.return_unspent` takes one of its three rules, said at its line; a text where a
/// rule is expected is refused too.
#[test]
fn return_unspent_takes_one_of_its_rules() {
    let t = edit(
        "fixed_costs = { amount = 1000 }\n",
        "fixed_costs = { amount = 1000 }\nreturn_unspent = \"sometimes\"\n",
    );
    expect_error(
        &t,
        18,
        &[
            "enterprise.return_unspent",
            "unknown rule `sometimes`",
            "never",
            "on-termination",
            "at-end",
        ],
    );
    let t = edit(
        "fixed_costs = { amount = 1000 }\n",
        "fixed_costs = { amount = 1000 }\nreturn_unspent = true\n",
    );
    let d = parse_err(&t);
    assert!(d.to_string().contains("return_unspent"), "{d}");
    for ok in ["never", "on-termination", "at-end"] {
        let t = edit(
            "fixed_costs = { amount = 1000 }\n",
            &format!("fixed_costs = {{ amount = 1000 }}\nreturn_unspent = \"{ok}\"\n"),
        );
        let c = sibsim::scenario::parse("t.toml", &t).unwrap().contract;
        assert_eq!(
            serde_json::to_value(c.enterprise_terms().return_unspent).unwrap(),
            ok
        );
    }
}

/// A grid's `per` is `participant` or `cohort`, said at its line.
#[test]
fn a_grid_is_per_participant_or_per_cohort() {
    let with = |per: &str| {
        BASE.replace(
            "price = 1500\n",
            &format!(
                "baseline = {{ kind = \"rate\", rate = 0.2 }}\ngrid = {{ kind = \"step\", points = [[0.1, 500]], per = {per} }}\n"
            ),
        )
    };
    assert_ne!(with("\"cohort\""), BASE);
    for ok in ["\"cohort\"", "\"participant\""] {
        assert!(sibsim::scenario::parse("t.toml", &with(ok)).is_ok(), "{ok}");
    }
    let d = parse_err(&with("\"programme\""));
    let all = d.to_string();
    assert!(
        all.contains(".grid.per: unknown grid basis `programme`")
            && all.contains("`participant`")
            && all.contains("`cohort`"),
        "{all}"
    );
}

/// Text too long to show (a table's column, a chart's file name; a format width past 65,535
/// panicked) is refused with its field, line and limit; text at the limit is accepted, in the
/// file and through an override.
#[test]
fn over_long_ids_names_and_texts_are_refused() {
    use sibsim::scenario::{MAX_CURRENCY_CHARS, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS};
    let at = |n: usize| "x".repeat(n);
    // At the limits: accepted.
    let ok = edit(
        "id = \"provider\"",
        &format!(
            "id = \"{}\"\nname = \"{}\"",
            at(MAX_ID_CHARS),
            at(MAX_NAME_CHARS)
        ),
    );
    let ok = edit_in(
        &ok,
        "name = \"Test SIB\"",
        &format!(
            "name = \"Test SIB\"\ncurrency = \"{}\"",
            at(MAX_CURRENCY_CHARS)
        ),
    );
    sibsim::scenario::parse("test.toml", &ok).expect("texts at their limits are accepted");
    // One past: refused where they are written.
    expect_error(
        &edit(
            "id = \"provider\"",
            &format!("id = \"{}\"", at(MAX_ID_CHARS + 1)),
        ),
        16,
        &[
            "enterprise.id",
            "an id may have at most 64 characters",
            "has 65",
        ],
    );
    expect_error(
        &edit(
            "id = \"city\"",
            &format!("id = \"city\"\nname = \"{}\"", at(65_536)),
        ),
        9,
        &[
            "payers[0].name",
            "at most 120 characters",
            "has 65536",
            "`xxxxxxxxxxxxxxxxxxxxxxxx…`",
        ],
    );
    expect_error(
        &edit(
            "name = \"Test SIB\"",
            &format!("name = \"Test SIB\"\ncurrency = \"{}\"", at(13)),
        ),
        3,
        &["contract.currency", "at most 12 characters"],
    );
    // A key naming an id (an uncertainty entry) is a text.
    let key = at(MAX_TEXT_CHARS + 1);
    let d = expect_error(
        &format!("{BASE}\n[uncertainty.outcomes.{key}]\nrate = {{ mean = 0.5, sd = 0.1 }}\n"),
        45,
        &[
            "uncertainty.outcomes.xxxxxxxxxxxxxxxxxxxxxxxx…",
            "a key may have at most 2000",
        ],
    );
    assert!(
        d.to_string().len() < 1_000,
        "the message does not repeat the key: {d}"
    );
    // Through an override: the same limit, the override named.
    let o = sibsim::scenario::overrides::Override::parse(&format!(
        "contract.name=\"{}\"",
        at(MAX_NAME_CHARS + 1)
    ))
    .expect("an override");
    let e = sibsim::scenario::parse_with_overrides("test.toml", BASE, &[o])
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("contract.name") && e.contains("at most 120 characters"),
        "{e}"
    );
}

/// A contract whose settlement state (outcomes x cohorts x periods) would not fit in memory is
/// refused when read, with the product and the bound, instead of aborting when allocated.
#[test]
fn contracts_too_large_to_settle_are_refused() {
    let cohorts: String = (0..3_000)
        .map(|i| format!("[[cohorts]]\nid = \"k{i}\"\nenrol = 1\nsize = 1\n"))
        .collect();
    let big = edit("periods = 12", "periods = 1200").replace(
        "[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 100\n",
        &format!("[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 100\n{cohorts}"),
    );
    // 2 outcomes x 3,001 cohorts x 1,200 periods = 7,202,400: accepted.
    sibsim::scenario::parse("test.toml", &big).expect("within the bound");
    // With 5 outcomes, 18,006,000: refused.
    let more = format!(
        "{big}\n[[outcomes]]\nid = \"x1\"\nlag = 1\nprice = 1\npayers = {{ city = 1 }}\n[[outcomes]]\nid = \"x2\"\nlag = 1\nprice = 1\npayers = {{ city = 1 }}\n[[outcomes]]\nid = \"x3\"\nlag = 1\nprice = 1\npayers = {{ city = 1 }}\n"
    );
    let d = parse_err(&more).to_string();
    assert!(
        d.contains("5 outcomes x 3,001 cohorts x 1,200 periods: 18,006,000 cells")
            && d.contains("more than the 16,000,000"),
        "{d}"
    );
}

/// A scenario names at most 200 stresses (each is checked by reading the scenario with it:
/// 2,000 took 38 s to validate).
#[test]
fn at_most_200_stresses() {
    let stresses = |n: usize| -> String {
        (0..n)
            .map(|i| format!("[[stresses]]\nid = \"s{i}\"\nset = [\"outcomes.job.price*=0.9\"]\n"))
            .collect()
    };
    sibsim::scenario::parse("test.toml", &format!("{BASE}{}", stresses(200)))
        .expect("200 stresses");
    let d = parse_err(&format!("{BASE}{}", stresses(201))).to_string();
    assert!(
        d.contains("stresses: 201 stresses; a scenario has at most 200"),
        "{d}"
    );
}

/// An MKBA lists at most 1,000 beneficiaries outside the contract (20,000 took 10 s to read;
/// their values' sums could pass the money limit).
#[test]
fn at_most_1000_mkba_beneficiaries() {
    let with = |n: usize| -> String {
        let list: String = (0..n)
            .map(|i| format!("[[mkba.beneficiaries]]\nid = \"b{i}\"\n"))
            .collect();
        format!(
            "{BASE}\n[mkba]\n[[mkba.outcomes]]\noutcome = \"job\"\nvalues = {{ city = 100 }}\nrealisation = {{ short = 1, medium = 0, long = 0 }}\n{list}"
        )
    };
    sibsim::scenario::parse("test.toml", &with(1_000)).expect("1,000 beneficiaries");
    let d = parse_err(&with(1_001)).to_string();
    assert!(
        d.contains("mkba.beneficiaries: 1,001 entries; an MKBA has at most 1000"),
        "{d}"
    );
}

/// Each thread keeps the last scenario text it read as TOML (the design commands validate one
/// text with many overrides): texts read in turn, with and without overrides, each give their
/// own scenario, and an override changes only the copy it is applied to.
#[test]
fn scenarios_read_in_turn_with_overrides_each_give_their_own() {
    use sibsim::scenario::overrides::Override;
    let a = include_str!("../scenarios/reference.toml");
    let b = include_str!("../scenarios/rotterdam-buzinezzclub.toml");
    let name = |t: &str, o: &[Override]| {
        sibsim::scenario::parse_with_overrides("t.toml", t, o)
            .unwrap()
            .contract
            .name()
            .to_string()
    };
    let a_name = sibsim::scenario::parse("a.toml", a)
        .unwrap()
        .contract
        .name()
        .to_string();
    let a_name = a_name.as_str();
    let set = [Override::parse("contract.name=renamed").unwrap()];
    for _ in 0..2 {
        assert_eq!(name(a, &set), "renamed");
        assert_eq!(name(a, &[]), a_name);
        assert_eq!(name(a, &set[..0]), a_name);
        assert_ne!(name(b, &[]), a_name);
        assert_eq!(name(b, &set), "renamed");
        // The same text after an override was applied to it: the file's own value.
        let again = [Override::parse("contract.periods+=0").unwrap()];
        assert_eq!(name(a, &again), a_name);
        assert_eq!(name(b, &again), name(b, &[]));
    }
}

/// An MKBA horizon out of range is one problem, not also one per outcome whose realisation
/// terms fall outside a horizon the file does not have; a valid short horizon still names
/// those terms.
#[test]
fn an_invalid_mkba_horizon_is_one_problem() {
    use sibsim::scenario::overrides::Override;
    let text = include_str!("../scenarios/reference.toml");
    let check = |set: &str| {
        sibsim::scenario::parse_with_overrides("r.toml", text, &[Override::parse(set).unwrap()])
            .unwrap_err()
    };
    for bad in ["mkba.horizon_years=0", "mkba.horizon_years=51"] {
        let e = check(bad);
        assert_eq!(e.items.len(), 1, "{e}");
        assert_eq!(e.items[0].path, "mkba.horizon_years", "{e}");
    }
    let e = check("mkba.horizon_years=2");
    assert!(e.items.len() > 1, "{e}");
    assert!(
        e.items
            .iter()
            .all(|d| d.message.contains("no years within the horizon of 2 years")),
        "{e}"
    );
}

/// A pair of the wrong length says how many values it wants and how many it got, in the
/// file's words (not serde's "tuple of size 2").
#[test]
fn a_pair_of_the_wrong_length_says_what_it_takes() {
    use sibsim::scenario::overrides::Override;
    let text = include_str!("../scenarios/reference.toml");
    for (set, got) in [
        ("drawdown.at=[[]]", "got an empty array"),
        ("drawdown.at=[[1]]", "got an array of 1 value"),
        (
            "drawdown.at=[[1, 2, 3]]",
            "expected fewer values, got an array of 3 values",
        ),
    ] {
        let e = sibsim::scenario::parse_with_overrides(
            "r.toml",
            text,
            &[Override::parse(set).unwrap()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("drawdown.at[0]: ") && e.contains(got),
            "{set}: {e}"
        );
        assert!(!e.contains("tuple") && !e.contains("elements"), "{e}");
    }
    let e = sibsim::scenario::parse_with_overrides(
        "r.toml",
        text,
        &[Override::parse("drawdown.at=[[1]]").unwrap()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("expected an array of 2 values, e.g. [1, 10000]"),
        "{e}"
    );
}

/// A double quote that its line does not close is named at that line, with how many lines
/// the reader took into the value, instead of a field count or a strange value on a later
/// line; a quoted value closed on its line is read as usual.
#[test]
fn csv_an_unclosed_quote_is_named_at_its_line() {
    let d = expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,90\n3,c1,\"job,4\n4,c1,job,5\n5,c1,job,6\n"),
        3,
        &[
            "row",
            "a double quote",
            "not closed",
            "the 2 lines after it were read",
        ],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    let d = expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,90\n3,c1,job,\"4\n5,c1,job,6\"\n"),
        3,
        &["the 1 line after it was read as part of one value"],
    );
    assert_eq!(d.items.len(), 1, "{d}");
    expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,90\n3,c1,\"job\",four\n"),
        3,
        &["column units"],
    );
    // On the last line, with nothing after it to swallow, the quote is named too.
    expect_csv_error(
        &format!("{HEADER}1,c1,enrolled,90\n3,c1,job,4,\""),
        3,
        &[
            "5 fields but the header has 4",
            "a double quote `\"` on this line is not closed",
        ],
    );
}
