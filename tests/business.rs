//! The MKBA (hand-computed to the cent), the decision tree (each default node passed and
//! failed, custom and malformed trees) and the consistency of the business case across
//! `mkba`, `simulate` and `feasibility`.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sibsim::feasibility::{Verdict, Walk, default_tree, parse_tree, walk};
use sibsim::montecarlo::{SimConfig, simulate};
use sibsim::scenario::{parse, parse_with_model};
use std::path::PathBuf;
use std::process::Command;

/// A contract that passes every node of the default tree: one payer (city), 100 participants,
/// one outcome `job` at EUR 1,500 (rate 0.8), a EUR 100,000 loan at 5%, an MKBA worth about
/// EUR 245,000, all facts declared, and the direct-finance threshold raised to 2.0.
const BASE: &str = r#"
[contract]
name = "tree test"
periods = 8
period = "quarter"
remainder = "enterprise"

[[payers]]
id = "city"

[[investors]]
id = "bank"

[enterprise]
id = "provider"
fixed_costs = { amount = 1000, from = 1, to = 2 }
per_participant_cost = 700

[[cohorts]]
id = "c1"
enrol = 1
size = 100

[[outcomes]]
id = "job"
lag = 2
pay_lag = 1
price = 1500
payers = { city = 1.0 }

[[tranches]]
id = "loan"
investor = "bank"
committed = 100000
rate = 0.05
rank = 1

[drawdown]
amount = 100000
from = 1
to = 1

[uncertainty.outcomes.job]
rate = { mean = 0.8, sd = 0.03 }

[mkba]
#BENEFICIARIES#
[[mkba.outcomes]]
outcome = "job"
values = { city = 4000 #EXTRA# }
deadweight = 0.2
realisation = { short = 1.0, medium = 0.0, long = 0.0 }

[facts]
inflow_guaranteed = true
data_delivery_guaranteed = true
preparation_costs = { city = 10000 }
transaction_costs = { city = 5000 }

[facts.outcomes.job]
measurement = "payroll data"
evidence = "randomised trial"

[facts.investors.loan]
committed = true
hurdle_irr = 0.04

[feasibility]
thresholds = { cheaper = 2.0 }
"#;

fn base() -> String {
    BASE.replace("#BENEFICIARIES#", "").replace("#EXTRA#", "")
}

fn walk_of(text: &str) -> Walk {
    let (sc, model) = match parse_with_model("tree.toml", text) {
        Ok(x) => x,
        Err(d) => panic!("{d}"),
    };
    let mut tree = default_tree();
    tree.set_thresholds(&sc.contract.facts().thresholds)
        .expect("thresholds");
    let cfg = SimConfig {
        trials: 400,
        seed: 3,
        threads: Some(1),
    };
    let r = simulate(&sc.contract, &model, &cfg);
    walk(&tree, &sc.contract, Some(&r))
}

fn path(w: &Walk) -> Vec<(&str, bool)> {
    w.path.iter().map(|s| (s.node.as_str(), s.answer)).collect()
}

const ALL: [&str; 8] = [
    "social-return",
    "measurable",
    "parties",
    "business-case",
    "scale",
    "investors",
    "inflow",
    "cheaper",
];

#[test]
fn hand_computed_mkba_to_the_cent() {
    // 100 cases at EUR 10,000; DW 30%, AT 10%, SE 5%; realised 50/30/20% over years 1-3,
    // 4-5 and 6-10; drop-off 10% a year after the first; discounted at 2.25%.
    // OUTCOME 1,000,000; DW 300,000; AT 100,000; SE 50,000; IMPACT 550,000.
    // Year t: 550,000 x share/years x 0.9^(t-1) / 1.0225^t, computed with exact fractions:
    // effect (undiscounted) 248,416.67 / 114,270.75 / 53,198.54; PV 386,218.29.
    let text = r#"
[contract]
name = "hand"
periods = 4
period = "quarter"
[[payers]]
id = "city"
[enterprise]
id = "provider"
[[cohorts]]
id = "c"
enrol = 1
size = 100
[[outcomes]]
id = "job"
lag = 1
price = 1
[mkba]
[[mkba.outcomes]]
outcome = "job"
values = { city = 6000, state = 4000 }
deadweight = 0.30
attribution = 0.10
substitution = 0.05
realisation = { short = 0.5, medium = 0.3, long = 0.2 }
drop_off = 0.10
[[mkba.beneficiaries]]
id = "state"
name = "Rijksoverheid"
"#;
    let sc = parse("hand.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let m = sc.contract.mkba().expect("mkba");
    assert_eq!(m.discount_rate().to_decimal(), Decimal::new(225, 4));
    assert_eq!(m.horizon_years(), 10);
    let t = m.table(&sc.contract, &[Decimal::from(100)]);
    let l = &t.lines[0];
    let eur = |s: &str| s.parse::<Decimal>().unwrap();
    assert_eq!(l.value_per_case.to_decimal(), eur("10000"));
    assert_eq!(l.outcome_value.to_decimal(), eur("1000000"));
    assert_eq!(l.deadweight.to_decimal(), eur("300000"));
    assert_eq!(l.attribution.to_decimal(), eur("100000"));
    assert_eq!(l.substitution.to_decimal(), eur("50000"));
    assert_eq!(l.impact.to_decimal(), eur("550000"));
    assert_eq!(
        l.effect_over_time.map(|m| m.to_decimal()),
        [eur("248416.67"), eur("114270.75"), eur("53198.54")]
    );
    assert_eq!(l.present_value.to_decimal(), eur("386218.29"));
    // 60% to the city, 40% to the state (386,218.2851 x 0.6 = 231,730.97; x 0.4 = 154,487.31).
    assert_eq!(t.beneficiaries[0].0, "city");
    assert_eq!(t.beneficiaries[1].0, "state");
    assert_eq!(l.per_beneficiary[0].to_decimal(), eur("231730.97"));
    assert_eq!(l.per_beneficiary[1].to_decimal(), eur("154487.31"));
    assert_eq!(t.total.present_value, l.present_value);
}

#[test]
fn mkba_validation_says_what_is_wrong() {
    let bad = base()
        .replace(
            "deadweight = 0.2",
            "deadweight = 0.7\nattribution = 0.2\nsubstitution = 0.2",
        )
        .replace(
            "realisation = { short = 1.0, medium = 0.0, long = 0.0 }",
            "realisation = { short = 0.5, medium = 0.3, long = 0.1 }",
        )
        .replace(
            "values = { city = 4000  }",
            "values = { city = 4000, nobody = 5 }",
        );
    let err = parse("bad.toml", &bad).expect_err("invalid").to_string();
    assert!(err.contains("add up to 1.1"), "{err}");
    assert!(err.contains("must add up to exactly 1"), "{err}");
    assert!(err.contains("unknown beneficiary `nobody`"), "{err}");
    assert!(err.contains("bad.toml:"), "positions: {err}");
    let short_horizon = base()
        .replace("[mkba]\n", "[mkba]\nhorizon_years = 4\n")
        .replace(
            "realisation = { short = 1.0, medium = 0.0, long = 0.0 }",
            "realisation = { short = 0.5, medium = 0.3, long = 0.2 }",
        );
    let err = parse("h.toml", &short_horizon)
        .expect_err("invalid")
        .to_string();
    assert!(err.contains("long term has no years"), "{err}");
    let bad_facts = base().replace("[facts.investors.loan]", "[facts.investors.mortgage]");
    let err = parse("f.toml", &bad_facts)
        .expect_err("invalid")
        .to_string();
    assert!(err.contains("unknown tranche `mortgage`"), "{err}");
}

#[test]
fn base_scenario_passes_every_node() {
    let w = walk_of(&base());
    assert_eq!(
        path(&w),
        ALL.iter().map(|n| (*n, true)).collect::<Vec<_>>(),
        "{w:#?}"
    );
    assert_eq!(w.verdict, Verdict::Go);
    assert_eq!(w.exit, "go");
    assert!(w.conditions.is_empty());
    // Every step carries evidence; quantitative ones a number and threshold.
    for s in &w.path {
        assert!(!s.evidence.is_empty());
    }
    let bc = w.path.iter().find(|s| s.node == "business-case").unwrap();
    assert!(
        bc.value.unwrap() >= 0.70 && bc.threshold == Some(0.70),
        "{bc:?}"
    );
    assert!(bc.evidence.contains(">= 0.70"), "{}", bc.evidence);
}

/// Each default node failed by one change to the base: (change, node that fails, exit,
/// verdict).
#[test]
fn each_node_fails_on_its_own_cause() {
    let cases: Vec<(String, &str, &str, Verdict)> = vec![
        (
            {
                let b = base();
                let i = b.find("[mkba]").unwrap();
                let j = b.find("[facts]").unwrap();
                format!("{}{}", &b[..i], &b[j..])
            },
            "social-return",
            "no-business-case",
            Verdict::NoGo,
        ),
        (
            base().replace("evidence = \"randomised trial\"\n", ""),
            "measurable",
            "not-measurable",
            Verdict::NoGo,
        ),
        (
            BASE.replace(
                "#BENEFICIARIES#",
                "beneficiaries = [{ id = \"a\" }, { id = \"b\" }, { id = \"c\" }, { id = \"d\" }]",
            )
            .replace("#EXTRA#", ", a = 10, b = 10, c = 10, d = 10"),
            "parties",
            "too-many-parties",
            Verdict::NoGo,
        ),
        (
            base().replace("values = { city = 4000  }", "values = { city = 1000  }"),
            "business-case",
            "costs-exceed-returns",
            Verdict::NoGo,
        ),
        (
            base().replace(
                "preparation_costs = { city = 10000 }",
                "preparation_costs = { city = 60000 }",
            ),
            "scale",
            "pool",
            Verdict::NoGo,
        ),
        (
            base().replace("hurdle_irr = 0.04", "hurdle_irr = 0.08"),
            "investors",
            "no-investors",
            Verdict::NoGo,
        ),
        (
            base().replace("inflow_guaranteed = true", "inflow_guaranteed = false"),
            "inflow",
            "go",
            Verdict::Conditional,
        ),
        (
            base().replace(
                "thresholds = { cheaper = 2.0 }",
                "thresholds = { cheaper = 1.0 }",
            ),
            "cheaper",
            "go",
            Verdict::Conditional,
        ),
    ];
    for (text, node, exit, verdict) in cases {
        let w = walk_of(&text);
        let k = ALL.iter().position(|n| *n == node).unwrap();
        let mut want: Vec<(&str, bool)> = ALL[..k].iter().map(|n| (*n, true)).collect();
        want.push((node, false));
        if verdict == Verdict::Conditional {
            want.extend(ALL[k + 1..].iter().map(|n| (*n, true)));
        }
        assert_eq!(path(&w), want, "failing {node}: {w:#?}");
        assert_eq!(w.exit, exit, "failing {node}");
        assert_eq!(w.verdict, verdict, "failing {node}");
        if verdict == Verdict::Conditional {
            assert_eq!(w.conditions.len(), 1, "{node}");
        }
    }
}

/// The walk of `text` on its declared facts alone (no simulation: the quantitative nodes
/// answer no, which the tests of the fact nodes do not look at).
fn facts_walk(text: &str) -> Walk {
    let sc = parse("facts.toml", text).unwrap_or_else(|d| panic!("{d}"));
    walk(&default_tree(), &sc.contract, None)
}

fn evidence<'a>(w: &'a Walk, node: &str) -> &'a str {
    &w.path
        .iter()
        .find(|s| s.node == node)
        .unwrap_or_else(|| panic!("{node} not walked: {w:#?}"))
        .evidence
}

/// The measurable node counts its outcomes in the singular where there is one (it said "all 1
/// outcomes have ..." and "1 of 1 outcomes fall short").
#[test]
fn measurable_evidence_counts_outcomes_in_the_singular() {
    let one = facts_walk(&base());
    assert_eq!(
        evidence(&one, "measurable"),
        "the only outcome has a measurement method, evidence, a price and a value"
    );
    let short = facts_walk(&base().replace("evidence = \"randomised trial\"\n", ""));
    assert_eq!(
        evidence(&short, "measurable"),
        "the only outcome falls short: job (no evidence)"
    );
    let reference = include_str!("../scenarios/reference.toml");
    let five = facts_walk(reference);
    assert_eq!(
        evidence(&five, "measurable"),
        "all 5 outcomes have a measurement method, evidence, a price and a value"
    );
    // sustained6 and sustained12 both say `evidence = "as for work"`.
    let one_of_five = facts_walk(&reference.replacen("evidence = \"as for work\"\n", "", 1));
    assert_eq!(
        evidence(&one_of_five, "measurable"),
        "1 of 5 outcomes falls short: sustained6 (no evidence)"
    );
    let two_of_five = facts_walk(&reference.replace("evidence = \"as for work\"\n", ""));
    assert_eq!(
        evidence(&two_of_five, "measurable"),
        "2 of 5 outcomes fall short: sustained6 (no evidence); sustained12 (no evidence)"
    );
}

/// The strict comparisons (`<`, `>`) in `evidence` whose two sides read the same, such as
/// `0.61 < 0.61` or `median IRR 6.0% < hurdle 6.0%` (words between a figure and its
/// threshold are skipped).
fn contradictions(evidence: &str) -> Vec<String> {
    let words: Vec<&str> = evidence.split_whitespace().collect();
    let number = |w: &str| -> Option<String> {
        let w = w.trim_end_matches([',', ';', ')', ':']);
        let digits = w.trim_end_matches('%').replace(',', "");
        digits.parse::<f64>().ok().map(|_| w.to_string())
    };
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w != "<" && *w != ">" {
            continue;
        }
        let before = words[..i].iter().rev().find_map(|w| number(w));
        let after = words[i + 1..].iter().find_map(|w| number(w));
        if let (Some(a), Some(b)) = (before, after)
            && a == b
        {
            found.push(format!("{a} {w} {b}"));
        }
    }
    found
}

/// A tree that asks every default question in turn whatever the answers, so that every node
/// shows its evidence.
fn every_question() -> sibsim::feasibility::Tree {
    let mut t = String::from("name = \"every question\"\n");
    for (k, node) in default_tree().nodes().iter().enumerate() {
        let next = ALL.get(k + 1).copied().unwrap_or("end");
        t.push_str(&format!(
            "[[node]]\nid = \"{}\"\nquestion = {{ en = \"?\" }}\ntest = \"{}\"\nyes = \"{next}\"\nno = \"{next}\"\n",
            node.id,
            node.test.name()
        ));
    }
    t.push_str("[[exit]]\nid = \"end\"\nverdict = \"go\"\n");
    parse_tree("every.toml", &t).unwrap_or_else(|d| panic!("{d}"))
}

/// Evidence never reads `0.61 < 0.61`: where a figure misses its threshold by less than the
/// figures' precision, both are shown with the digits that tell them apart (one helper for
/// every node); where the figure equals the threshold, both keep their usual precision.
#[test]
fn evidence_tells_a_figure_from_its_threshold() {
    let text = include_str!("../scenarios/rotterdam-buzinezzclub.toml");
    let (sc, model) = parse_with_model("rotterdam.toml", text).unwrap();
    let cfg = SimConfig {
        trials: 400,
        seed: 3,
        threads: Some(1),
    };
    let r = simulate(&sc.contract, &model, &cfg);
    let tree = every_question();
    let w = walk(&tree, &sc.contract, Some(&r));
    let value = |w: &Walk, node: &str| {
        w.path
            .iter()
            .find(|s| s.node == node)
            .unwrap()
            .value
            .unwrap()
    };
    let p = value(&w, "business-case");
    assert!(p > 0.0 && p < 1.0, "{p}");
    let share = value(&w, "scale");
    let cover = value(&w, "investors");
    let ratio = value(&w, "cheaper");
    // Each threshold just past its figure, and the first investor's hurdle just above its
    // median IRR.
    let mut missed = tree.clone();
    missed
        .set_thresholds(&[
            ("business-case".into(), p + 1e-7),
            ("scale".into(), share - 1e-7),
            ("investors".into(), cover + 1e-7),
            ("cheaper".into(), ratio - 1e-7),
        ])
        .unwrap();
    let irr = r.tranches[0].irr.summary.p50;
    let hurdle = sibsim::money::Ratio((irr * 1e12).floor() as i64 + 1);
    assert!(hurdle.to_f64() > irr && hurdle.to_f64() - irr < 1e-11);
    let first = &sc.contract.tranches()[0].id;
    let set = [sibsim::scenario::overrides::Override::parse(&format!(
        "facts.investors.{first}.hurdle_irr={}",
        hurdle.to_decimal()
    ))
    .unwrap()];
    let c = sibsim::scenario::parse_with_overrides("rotterdam.toml", text, &set)
        .unwrap()
        .contract;
    assert_eq!(c.facts().tranches[0].hurdle_irr, Some(hurdle));
    let w = walk(&missed, &c, Some(&r));
    for node in ["business-case", "scale", "investors", "cheaper"] {
        let step = w.path.iter().find(|s| s.node == node).unwrap();
        assert!(!step.answer, "{node}: {}", step.evidence);
    }
    for step in &w.path {
        assert_eq!(
            contradictions(&step.evidence),
            Vec::<String>::new(),
            "{}: {}",
            step.node,
            step.evidence
        );
    }
    let ev = evidence(&w, "investors");
    assert!(
        ev.contains("median IRR ") && ev.contains(" < hurdle "),
        "{ev}"
    );
    // The diagram's short evidence (`P = 61.3% (limit 61.3%)`) tells them apart too.
    let d = sibsim::chart::DecisionTree::from_walk(&missed, &w);
    for n in &d.nodes {
        if let Some((figure, limit)) = n.evidence.split_once(" (limit ") {
            let figure = figure.rsplit(' ').next().unwrap();
            let limit = limit.trim_end_matches(')');
            assert_ne!(figure, limit, "{}: {}", n.label, n.evidence);
        }
    }

    // At the threshold exactly the answer is yes, at the usual precision.
    let mut equal = tree.clone();
    equal
        .set_thresholds(&[("business-case".into(), p), ("cheaper".into(), ratio)])
        .unwrap();
    let w = walk(&equal, &sc.contract, Some(&r));
    let ev = evidence(&w, "business-case");
    assert!(ev.contains(&format!("{p:.2} >= {p:.2}")), "{ev}");
    let ev = evidence(&w, "cheaper");
    assert!(
        ev.contains(&format!("ratio {ratio:.2} <= {ratio:.2}")),
        "{ev}"
    );

    // The audit's example: Rotterdam's P = 0.6126 against 0.61261 read `0.61 < 0.61`.
    let out = cli(&[
        "feasibility",
        "scenarios/rotterdam-buzinezzclub.toml",
        "--set",
        "feasibility={ thresholds = { business-case = 0.61261 } }",
    ]);
    assert!(out.contains("0.61260 < 0.61261"), "{out}");
    // A figure that is not 0 never reads as 0: the reference's insurer saves more than it
    // pays in 0.3% of trials, not in none.
    let out = cli(&["feasibility", "scenarios/reference.toml"]);
    assert!(out.contains("insurer 0.003 < 0.70,"), "{out}");
}

/// The investors node counts as committed capital only the tranches whose investors the facts
/// say are committed: it said "capital committed EUR 100,000" of a tranche declared
/// `committed = false` (the no was right, the words were not).
#[test]
fn investors_evidence_counts_only_committed_capital() {
    let ev = |text: &str| {
        let w = walk_of(text);
        let s = w
            .path
            .iter()
            .find(|s| s.node == "investors")
            .unwrap()
            .clone();
        (s.answer, s.value.unwrap(), s.evidence)
    };
    let (yes, cover, text) = ev(&base());
    assert!(yes && cover > 1.0, "{text}");
    assert!(
        text.starts_with("capital committed EUR 100,000 / "),
        "{text}"
    );
    assert!(!text.contains("not committed"), "{text}");
    for (change, name) in [
        (
            "committed = true\nhurdle_irr",
            "committed = false\nhurdle_irr",
        ),
        ("committed = true\nhurdle_irr", "hurdle_irr"),
    ] {
        let (yes, cover, text) = ev(&base().replace(change, name));
        assert!(!yes, "{text}");
        assert_eq!(cover, 0.0, "{text}");
        assert!(
            text.starts_with("capital committed EUR 0 (not committed: loan EUR 100,000) / provider's expected costs "),
            "{text}"
        );
        assert!(
            text.contains("= 0.00 < 1.00; loan: not committed"),
            "{text}"
        );
    }
}

/// The base with a second payer, the province, paying half of `job` without saving anything.
fn two_payers() -> String {
    let text = base()
        .replace(
            "[[payers]]\nid = \"city\"\n",
            "[[payers]]\nid = \"city\"\n[[payers]]\nid = \"province\"\n",
        )
        .replace(
            "payers = { city = 1.0 }",
            "payers = { city = 0.5, province = 0.5 }",
        );
    assert!(text.contains("province = 0.5"));
    text
}

/// The default tree with its business-case node judging all payers pooled.
fn pooled_tree() -> sibsim::feasibility::Tree {
    let text =
        sibsim::feasibility::DEFAULT_TREE.replace("payers = \"each\"", "payers = \"pooled\"");
    assert_ne!(text, sibsim::feasibility::DEFAULT_TREE);
    parse_tree("pooled.toml", &text).unwrap_or_else(|d| panic!("{d}"))
}

/// The business case is judged per payer (docs/domain.md section 6: who benefits is not always who
/// pays): yes only when every payer's probability of saving more than it pays meets the
/// threshold, and the weakest decides. A payer that pays without saving fails it, though all
/// payers pooled pass; the pooled test is the node's explicit `payers = "pooled"`.
#[test]
fn the_business_case_is_judged_per_payer() {
    let text = two_payers();
    let (sc, model) = parse_with_model("two.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    let cfg = SimConfig {
        trials: 400,
        seed: 3,
        threads: Some(1),
    };
    let r = simulate(&sc.contract, &model, &cfg);
    let b = r.business_case.as_ref().unwrap();
    assert_eq!(b.payers[1].id, "province");
    assert_eq!(b.payers[1].prob_saves_more, 0.0);
    let (city, pooled) = (b.payers[0].prob_saves_more, b.all_payers.prob_saves_more);
    assert!(
        city >= 0.70 && pooled >= 0.70,
        "city {city}, pooled {pooled}"
    );
    let mut tree = default_tree();
    tree.set_thresholds(&sc.contract.facts().thresholds)
        .unwrap();
    let w = walk(&tree, &sc.contract, Some(&r));
    let step = w.path.iter().find(|s| s.node == "business-case").unwrap();
    assert!(!step.answer, "{}", step.evidence);
    assert_eq!(step.value, Some(0.0));
    assert_eq!(step.party.as_deref(), Some("province"));
    assert_eq!(w.exit, "costs-exceed-returns");
    assert_eq!(
        step.evidence,
        format!(
            "P(savings > payments + costs), each payer: province 0.00 < 0.70, city {city:.2} >= 0.70; all payers pooled {pooled:.2}, for reference (present values at 2.25%; the weakest, province: mean net EUR {} with savings EUR 0 against payments EUR {} and costs EUR 0)",
            sibsim::money::format_thousands(sibsim::money::Money(
                (b.payers[1].net.mean.round() * 100.0) as i64
            ))
            .trim_end_matches(".00"),
            sibsim::money::format_thousands(sibsim::money::Money(
                (b.payers[1].payments.mean.round() * 100.0) as i64
            ))
            .trim_end_matches(".00"),
        )
    );
    // Pooled, explicitly: the same trials pass.
    let mut pooled_tree = pooled_tree();
    pooled_tree
        .set_thresholds(&sc.contract.facts().thresholds)
        .unwrap();
    let w = walk(&pooled_tree, &sc.contract, Some(&r));
    let step = w.path.iter().find(|s| s.node == "business-case").unwrap();
    assert!(step.answer, "{}", step.evidence);
    assert_eq!(step.value, Some(pooled));
    assert_eq!(step.party, None);
    assert!(
        step.evidence.starts_with(&format!(
            "P(all payers' pooled savings > their payments + costs) = {pooled:.2} >= 0.70 ("
        )) && step
            .evidence
            .ends_with("; the weakest payer on its own, province: 0.00)"),
        "{}",
        step.evidence
    );
    assert_eq!(w.verdict, Verdict::Go);

    // One payer: its own probability, named.
    let w = walk_of(&base());
    let step = w.path.iter().find(|s| s.node == "business-case").unwrap();
    assert_eq!(step.party.as_deref(), Some("city"));
    assert!(
        step.evidence
            .starts_with("P(city's savings > its payments + costs) = "),
        "{}",
        step.evidence
    );

    // Without simulation results the test cannot be answered, and says so.
    let w = facts_walk(&base());
    let step = w.path.iter().find(|s| s.node == "business-case").unwrap();
    assert!(!step.answer);
    assert_eq!(step.value, None);
    assert_eq!(step.party, None);
    assert_eq!(step.evidence, "no simulation results (run with trials > 0)");
}

/// The reference scenario's MKBA line of no-escalation as it was before it counted the
/// improvement: every young person who did not escalate, a 70% deadweight for the baseline.
const NO_ESCALATION_ACHIEVED: (&str, &str) = (
    "ind = \"improvement\"\ndeadweight = 0.0",
    "ind = \"achieved\"\ndeadweight = 0.70",
);

/// The audit's case: with that line, the reference scenario's insurer saved more than it paid
/// in about half of the trials only, yet the business case answered yes on all payers pooled
/// (0.79). Per payer, the tree stops there and names the insurer; pooled, it passes. As the
/// file is now, the tree stops at the insurer too.
#[test]
fn the_reference_business_case_stops_at_its_weakest_payer() {
    let file = include_str!("../scenarios/reference.toml");
    let (from, to) = NO_ESCALATION_ACHIEVED;
    let before = file.replace(from, to);
    assert_ne!(before, file);
    let cfg = SimConfig {
        trials: 1000,
        seed: 1,
        threads: Some(2),
    };
    for (text, insurer_below) in [(before.as_str(), 0.60), (file, 0.05)] {
        let (sc, model) = parse_with_model("reference.toml", text).unwrap();
        let r = simulate(&sc.contract, &model, &cfg);
        let w = walk(&default_tree(), &sc.contract, Some(&r));
        let step = w.path.last().unwrap();
        assert_eq!(step.node, "business-case");
        assert!(!step.answer, "{}", step.evidence);
        assert_eq!(step.party.as_deref(), Some("insurer"));
        assert!(step.value.unwrap() < insurer_below, "{}", step.evidence);
        assert!(
            step.evidence
                .starts_with("P(savings > payments + costs), each payer: insurer 0."),
            "{}",
            step.evidence
        );
        for payer in ["enschede", "eindhoven", "hengelo"] {
            assert!(step.evidence.contains(&format!(", {payer} 0.")), "{payer}");
        }
        assert_eq!(w.verdict, Verdict::NoGo);
        let pooled = r.business_case.as_ref().unwrap().all_payers.prob_saves_more;
        assert!(
            step.evidence
                .contains(&format!("all payers pooled {pooled:.2}, for reference")),
            "{}",
            step.evidence
        );
        // Pooled, the audit's case passed: the municipalities made up for the insurer.
        let w = walk(&pooled_tree(), &sc.contract, Some(&r));
        let passes = w.path.iter().any(|s| s.node == "business-case" && s.answer);
        assert_eq!(passes, text != file, "pooled {pooled}");
        assert_eq!(passes, pooled >= 0.70, "pooled {pooled}");
    }
}

const CUSTOM: &str = r#"
name = "strict"
start = "inflow"

[[node]]
id = "inflow"
question = { en = "Inflow guaranteed?", nl = "Instroom gegarandeerd?" }
test = "inflow-guaranteed"
yes = "savings"
no = "stop"

[[node]]
id = "savings"
question = { en = "Do the payers save more?" }
test = "payers-save-more"
threshold = 0.999
yes = "go"
no = "stop"

[[exit]]
id = "go"
verdict = "go"

[[exit]]
id = "stop"
verdict = "no-go"
advice = { en = "Stop." }
"#;

#[test]
fn a_custom_tree_changes_order_and_thresholds() {
    let tree = parse_tree("strict.toml", CUSTOM).unwrap_or_else(|d| panic!("{d}"));
    let (sc, model) = parse_with_model("t.toml", &base()).unwrap();
    let r = simulate(
        &sc.contract,
        &model,
        &SimConfig {
            trials: 400,
            seed: 3,
            threads: Some(1),
        },
    );
    let w = walk(&tree, &sc.contract, Some(&r));
    assert_eq!(w.path[0].node, "inflow");
    assert_eq!(w.path[1].node, "savings");
    assert_eq!(w.path[1].threshold, Some(0.999));
    let p = r.business_case.as_ref().unwrap().all_payers.prob_saves_more;
    assert_eq!(w.path[1].answer, p >= 0.999, "p = {p}");
    // A scenario threshold changes the custom tree's node too.
    let mut t2 = tree.clone();
    t2.set_thresholds(&[("savings".into(), 0.5)]).unwrap();
    let w2 = walk(&t2, &sc.contract, Some(&r));
    assert_eq!(w2.path[1].threshold, Some(0.5));
    assert!(w2.path[1].answer);
    assert_eq!(w2.verdict, Verdict::Go);
    // Unknown node in a scenario's thresholds.
    let e = t2.set_thresholds(&[("nosuch".into(), 0.5)]).unwrap_err();
    assert!(e[0].message.contains("no node `nosuch`"), "{:?}", e);
}

#[test]
fn malformed_trees_are_rejected_with_positions() {
    let unknown = CUSTOM.replace("yes = \"savings\"", "yes = \"savngs\"");
    let e = parse_tree("t.toml", &unknown).unwrap_err().to_string();
    assert!(e.contains("unknown node or exit `savngs`"), "{e}");
    assert!(e.contains("t.toml:9:"), "{e}");

    let cycle = CUSTOM.replace(
        "yes = \"go\"\nno = \"stop\"",
        "yes = \"inflow\"\nno = \"stop\"",
    );
    let e = parse_tree("t.toml", &cycle).unwrap_err().to_string();
    assert!(e.contains("cycle: inflow -> savings -> inflow"), "{e}");

    let missing = CUSTOM.replace("no = \"stop\"\n\n[[node]]", "\n[[node]]");
    let e = parse_tree("t.toml", &missing).unwrap_err().to_string();
    assert!(e.contains("missing exit"), "{e}");
    assert!(e.contains("node[0].no"), "{e}");

    let unreachable = format!(
        "{CUSTOM}\n[[node]]\nid = \"lost\"\nquestion = {{ en = \"?\" }}\ntest = \"mkba-present\"\nyes = \"go\"\nno = \"go\"\n"
    );
    let e = parse_tree("t.toml", &unreachable).unwrap_err().to_string();
    assert!(e.contains("`lost` is never reached"), "{e}");

    let bad_test = CUSTOM.replace("test = \"inflow-guaranteed\"", "test = \"vibes\"");
    let e = parse_tree("t.toml", &bad_test).unwrap_err().to_string();
    assert!(e.contains("unknown test `vibes`"), "{e}");
    // A misspelt test with a threshold: one problem, with a suggestion, and no second one
    // about a test the file does not name.
    let misspelt = CUSTOM.replace("test = \"payers-save-more\"", "test = \"payers-save-mor\"");
    let d = parse_tree("t.toml", &misspelt).unwrap_err();
    assert_eq!(d.items.len(), 1, "{d}");
    let e = d.to_string();
    assert!(
        e.contains("did you mean `payers-save-more`?") && !e.contains("takes no threshold"),
        "{e}"
    );

    let payers_elsewhere = CUSTOM.replace(
        "test = \"inflow-guaranteed\"",
        "test = \"inflow-guaranteed\"\npayers = \"pooled\"",
    );
    let e = parse_tree("t.toml", &payers_elsewhere)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node[0].payers: `payers` (\"each\" or \"pooled\") belongs to test `payers-save-more`; test `inflow-guaranteed` takes none"),
        "{e}"
    );
    let unknown_payers = CUSTOM.replace("threshold = 0.999", "threshold = 0.999\npayers = \"all\"");
    let e = parse_tree("t.toml", &unknown_payers)
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.toml:") && e.contains("pooled"), "{e}");

    let bad_threshold = CUSTOM.replace("threshold = 0.999", "threshold = 1.5");
    let e = parse_tree("t.toml", &bad_threshold)
        .unwrap_err()
        .to_string();
    assert!(e.contains("between 0 and 1"), "{e}");
}

/// A count threshold (the parties that benefit) is a whole number: 1.5 parties is refused, in a
/// tree file, in a scenario's `[feasibility]` and through `--set`, with the file, the field and
/// what is allowed.
#[test]
fn a_count_threshold_must_be_whole() {
    let tree = default_tree();
    let e = tree
        .clone()
        .set_thresholds(&[("parties".into(), 1.5)])
        .unwrap_err();
    assert_eq!(e[0].path, "feasibility.thresholds.parties");
    assert_eq!(
        e[0].message,
        "the threshold of `parties` is a number of parties: a whole number from 1 to 1000, got 1.5"
    );
    let mut t = tree.clone();
    t.set_thresholds(&[("parties".into(), 3.0)]).unwrap();
    assert_eq!(t.nodes()[2].threshold, Some(3.0));
    // A fraction elsewhere is fine: the business case's probability.
    t.set_thresholds(&[("business-case".into(), 0.755)])
        .unwrap();

    let file = sibsim::feasibility::DEFAULT_TREE.replace("threshold = 4\n", "threshold = 4.5\n");
    assert_ne!(file, sibsim::feasibility::DEFAULT_TREE);
    let e = parse_tree("t.toml", &file).unwrap_err().to_string();
    assert!(
        e.contains("node[2].threshold: the threshold of `beneficiaries-at-most` is a number of parties: a whole number from 1 to 1000, got 4.5"),
        "{e}"
    );
    assert!(e.contains("t.toml:"), "a position: {e}");

    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let set = "feasibility={ thresholds = { parties = 1.5 } }";
    let e = run(&[
        "feasibility",
        "scenarios/reference.toml",
        "--trials",
        "50",
        "--set",
        set,
    ]);
    assert!(
        e.contains("scenarios/reference.toml: feasibility.thresholds.parties: the threshold of `parties` is a number of parties: a whole number from 1 to 1000, got 1.5")
            && e.contains(&format!("(after --set {set})")),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("half.toml");
    std::fs::write(
        &sc,
        base().replace(
            "thresholds = { cheaper = 2.0 }",
            "thresholds = { cheaper = 2.0, parties = 2.5 }",
        ),
    )
    .unwrap();
    let e = run(&["validate", sc.to_str().unwrap()]);
    assert!(
        e.contains("half.toml:")
            && e.contains("feasibility.thresholds.parties")
            && e.contains("got 2.5"),
        "{e}"
    );
}

/// A chain of `n` questions, each yes leading to the next and the last to `go`; each no to
/// `stop`, with `exits` exits in all.
fn chain_tree(n: usize, exits: usize) -> String {
    let mut t = String::from("name = \"chain\"\n");
    for i in 0..n {
        let next = if i + 1 < n {
            format!("n{}", i + 1)
        } else {
            "go".into()
        };
        t.push_str(&format!(
            "[[node]]\nid = \"n{i}\"\nquestion = {{ en = \"Q{i}?\" }}\ntest = \"mkba-present\"\nyes = \"{next}\"\nno = \"stop\"\n"
        ));
    }
    t.push_str(
        "[[exit]]\nid = \"go\"\nverdict = \"go\"\n[[exit]]\nid = \"stop\"\nverdict = \"no-go\"\n",
    );
    for i in 2..exits {
        t.push_str(&format!("[[exit]]\nid = \"x{i}\"\nverdict = \"no-go\"\n"));
    }
    t
}

/// A tree has at most 1,000 nodes and 1,000 exits: a longer one is refused at its first node
/// past the limit (a chain of 100,000 used to overflow the stack of the graph check, and the
/// report's diagram took time growing with the square of the nodes); one at the limit is read
/// and walked to its end, and its problems list a few ids rather than all of them.
#[test]
fn a_tree_has_at_most_a_thousand_nodes() {
    let e = parse_tree("long.toml", &chain_tree(5000, 2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "long.toml:6003:1: node[1000].id: the tree has 5,000 nodes; a tree has at most 1,000"
        ),
        "{e}"
    );
    let e = parse_tree("wide.toml", &chain_tree(1, 1001))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("exit[1000].id: the tree has 1,001 exits; a tree has at most 1,000"),
        "{e}"
    );
    let tree = parse_tree("long.toml", &chain_tree(1000, 1000)).unwrap_or_else(|d| panic!("{d}"));
    let (sc, _) = parse_with_model("t.toml", &base()).unwrap();
    let w = walk(&tree, &sc.contract, None);
    assert_eq!((w.path.len(), w.exit.as_str()), (1000, "go"));
    // A reference to an unknown id in a large tree lists the first ids and the count.
    let bad = chain_tree(1000, 2).replace("no = \"stop\"", "no = \"stpo\"");
    let d = parse_tree("bad.toml", &bad).unwrap_err();
    assert_eq!(d.items.len(), 1000);
    let m = &d.items[0].message;
    assert!(
        m.starts_with("unknown node or exit `stpo`; known: `go`, `n0`, `n1`,")
            && m.ends_with(", ... (1,002 in all)")
            && m.len() < 400,
        "{m}"
    );
}

fn cli(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn business_case_agrees_across_mkba_simulate_and_feasibility() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let common = ["--trials", "300", "--seed", "11"];
    let sc = "scenarios/reference.toml";
    cli(&[&["simulate", sc, "--out", d][..], &common[..]].concat());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(PathBuf::from(d).join("summary.json")).unwrap(),
    )
    .unwrap();
    let mkba: serde_json::Value =
        serde_json::from_str(&cli(
            &[&["mkba", sc, "--format", "json"][..], &common[..]].concat()
        ))
        .unwrap();
    let feas: serde_json::Value = serde_json::from_str(&cli(&[
        &["feasibility", sc, "--format", "json"][..],
        &common[..],
    ]
    .concat()))
    .unwrap();
    let from_sim = &summary["results"]["business_case"];
    assert!(
        from_sim["all_payers"]["net"]["mean"].is_number(),
        "{from_sim}"
    );
    assert_eq!(from_sim, &mkba["business_case"]);
    assert_eq!(from_sim, &feas["business_case"]);
    // The tree's business-case figure is the weakest payer's probability, named.
    let weakest = from_sim["payers"]
        .as_array()
        .unwrap()
        .iter()
        .min_by(|a, b| {
            let p = |x: &serde_json::Value| x["prob_saves_more"].as_f64().unwrap();
            p(a).total_cmp(&p(b))
        })
        .unwrap();
    let step = feas["walk"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == "business-case")
        .unwrap();
    assert_eq!(step["value"], weakest["prob_saves_more"]);
    assert_eq!(step["party"], weakest["id"]);
    // Each municipality's probability of paying more than it saves is in all three.
    for payer in from_sim["payers"].as_array().unwrap() {
        let q = payer["prob_pays_more_than_saves"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&q));
    }
    // The MKBA table's present value equals the simulated mean savings (linear in IND).
    let pv: f64 = mkba["table"]["total"]["present_value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mean = from_sim["total_impact"]["mean"].as_f64().unwrap();
    assert!((pv - mean).abs() < 0.05, "table {pv} vs simulated {mean}");
}

#[test]
fn feasibility_cli_prints_the_walk_and_the_default_tree() {
    // Every payer passes a business case of 0: the walk reaches every question (over enough
    // trials that the junior's median IRR, about -6%, is above its -10% hurdle).
    let out = cli(&[
        "feasibility",
        "scenarios/reference.toml",
        "--trials",
        "2000",
        "--set",
        "feasibility={ thresholds = { business-case = 0 } }",
    ]);
    for q in 1..=8 {
        assert!(out.contains(&format!("\n{q}. ")), "question {q}: {out}");
    }
    assert!(out.contains("Verdict: "), "{out}");
    assert!(out.contains("Path: social-return -> "), "{out}");
    let tree = cli(&["feasibility", "scenarios/reference.toml", "--print-tree"]);
    assert!(parse_tree("printed.toml", &tree).is_ok());
    let mkba = cli(&["mkba", "scenarios/reference.toml", "--trials", "300"]);
    for col in [
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
    ] {
        assert!(mkba.contains(col), "{col}: {mkba}");
    }
    assert!(mkba.contains("P(net<0)"), "{mkba}");
    // Each line shows the IND it used: OUTCOME = EUR/IND x IND to the cent.
    let num = |x: &str| x.replace(',', "").parse::<f64>().unwrap();
    for line in mkba
        .lines()
        .filter(|l| l.starts_with("housing") || l.starts_with("work"))
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 12 {
            continue; // the who-benefits table
        }
        let (ind, value, outcome) = (num(cols[1]), num(cols[2]), num(cols[3]));
        assert!((ind * value - outcome).abs() < 0.01, "{line}");
    }
    // The IND column has one number of decimals (padded, never rounded), so it reads aligned.
    let decimals: std::collections::HashSet<usize> = mkba
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() == 12 && c[0] != "Outcome" && c[1].contains('.'))
        .map(|c| c[1].split('.').nth(1).unwrap().len())
        .collect();
    assert!(
        decimals.len() <= 1,
        "IND decimals differ: {decimals:?}\n{mkba}"
    );
}

#[test]
fn bundled_rejections_stop_where_their_comments_say() {
    for (scenario, exit, stop) in [
        ("scenarios/small-bond-scale.toml", "pool", "scale"),
        ("scenarios/many-parties.toml", "too-many-parties", "parties"),
    ] {
        let v: serde_json::Value = serde_json::from_str(&cli(&[
            "feasibility",
            scenario,
            "--trials",
            "400",
            "--format",
            "json",
        ]))
        .unwrap();
        let w = &v["walk"];
        assert_eq!(w["verdict"], "no-go", "{scenario}: {w}");
        assert_eq!(w["exit"], exit, "{scenario}");
        let last = w["path"].as_array().unwrap().last().unwrap();
        assert_eq!(last["node"], stop, "{scenario}");
        assert_eq!(last["answer"], false, "{scenario}");
    }
}

#[test]
fn mkba_from_actuals_counts_improvement_of_a_decrease_outcome() {
    // Rotterdam's outcome is benefit days (decrease): IND is the days saved against the
    // forecast, which is what the settlement pays for when nothing is capped.
    let out = cli(&[
        "mkba",
        "scenarios/rotterdam-buzinezzclub.toml",
        "--actuals",
        "scenarios/rotterdam-buzinezzclub.actuals.csv",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ind: f64 = v["table"]["lines"][0]["ind"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let settled = cli(&[
        "settle",
        "scenarios/rotterdam-buzinezzclub.toml",
        "--actuals",
        "scenarios/rotterdam-buzinezzclub.actuals.csv",
        "--format",
        "json",
    ]);
    let s: serde_json::Value = serde_json::from_str(&settled).unwrap();
    let o = &s["outcomes"][0]["result"];
    let achieved: f64 = o["achieved"].as_str().unwrap().parse().unwrap();
    let baseline: f64 = o["baseline"].as_str().unwrap().parse().unwrap();
    assert!(ind > 0.0);
    assert_eq!(ind, baseline - achieved, "{o}");

    // The payers' business case of the settled contract: Rotterdam's savings are its column
    // of the table, its payments the present value at 2.25% a year of its net flows by
    // quarter (recomputed here from the statement), and net = savings - payments - costs.
    let case = &v["settled_business_case"];
    assert_eq!(case["through_period"], 16, "{case}");
    assert_eq!(case["interim"], false);
    let money = |x: &serde_json::Value| x.as_str().unwrap().parse::<f64>().unwrap();
    let r = &case["payers"][0];
    assert_eq!(r["id"], "rotterdam");
    let bens = v["table"]["beneficiaries"].as_array().unwrap();
    let col = bens.iter().position(|b| b[0] == "rotterdam").unwrap();
    assert_eq!(
        money(&r["savings"]),
        money(&v["table"]["total"]["per_beneficiary"][col])
    );
    let flows = s["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "rotterdam")
        .unwrap()["by_period"]
        .as_array()
        .unwrap()
        .iter()
        .map(money)
        .collect::<Vec<f64>>();
    let q = 1.0225f64.powf(0.25);
    let pv: f64 = flows
        .iter()
        .enumerate()
        .map(|(t, x)| -x / q.powi(t as i32 + 1))
        .sum();
    assert!(
        (money(&r["payments"]) - pv).abs() < 0.02,
        "{} vs {pv}",
        r["payments"]
    );
    assert_eq!(money(&r["costs"]), 65_000.0);
    assert!(
        (money(&r["net"]) - (money(&r["savings"]) - money(&r["payments"]) - 65_000.0)).abs()
            < 0.005
    );
    assert_eq!(case["all_payers"]["net"], r["net"]);

    // An interim case (through quarter 6) counts the days measured so far, so it counts the
    // payments they earned too: those made by quarter 6 and those that fall due after it, each
    // at the quarter it falls due (the statement lists them per payer and quarter).
    let through = |args: &[&str]| -> serde_json::Value {
        let base = [
            "scenarios/rotterdam-buzinezzclub.toml",
            "--actuals",
            "scenarios/rotterdam-buzinezzclub.actuals.csv",
            "--through",
            "6",
            "--format",
            "json",
        ];
        serde_json::from_str(&cli(&[args, &base[..]].concat())).unwrap()
    };
    let v = through(&["mkba"]);
    let s = through(&["settle"]);
    let case = &v["settled_business_case"];
    assert_eq!(case["interim"], true, "{case}");
    let pending = s["pending"].as_array().unwrap();
    let later: f64 = pending.iter().map(|x| money(&x["amount"])).sum();
    assert!(later > 0.0, "{s}");
    let total = money(&s["settlement"]["pending"]) + money(&s["settlement"]["inflow_pending"]);
    assert!((later - total).abs() < 0.005, "{later} vs {total}");
    assert!(
        pending
            .iter()
            .all(|x| x["payer"] == "rotterdam" && x["period"].as_u64().unwrap() > 6)
    );
    let rotterdam = s["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "rotterdam")
        .unwrap();
    let paid: f64 = rotterdam["by_period"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.is_null())
        .map(|(t, x)| -money(x) / q.powi(t as i32 + 1))
        .sum();
    let due: f64 = pending
        .iter()
        .map(|x| money(&x["amount"]) / q.powi(x["period"].as_u64().unwrap() as i32))
        .sum();
    let r = &case["payers"][0];
    assert!(
        (money(&r["payments"]) - (paid + due)).abs() < 0.02,
        "{} vs {paid} + {due}",
        r["payments"]
    );
    assert!(
        (money(&r["net"]) - (money(&r["savings"]) - money(&r["payments"]) - 65_000.0)).abs()
            < 0.005
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// The tree parser never panics: random text, and the valid tree with a random slice
        /// cut out or a random line duplicated, give a tree or positioned errors.
        #[test]
        fn tree_parser_never_panics(junk in ".{0,200}", a in 0usize..800, b in 0usize..800, dup in 0usize..40) {
            let _ = parse_tree("junk.toml", &junk);
            let (lo, hi) = (a.min(b).min(CUSTOM.len()), a.max(b).min(CUSTOM.len()));
            if CUSTOM.is_char_boundary(lo) && CUSTOM.is_char_boundary(hi) {
                let cut = format!("{}{}", &CUSTOM[..lo], &CUSTOM[hi..]);
                if let Err(d) = parse_tree("cut.toml", &cut) {
                    prop_assert!(!d.items.is_empty());
                }
            }
            let lines: Vec<&str> = CUSTOM.lines().collect();
            let k = dup % lines.len();
            let mut v = lines.clone();
            v.insert(k, lines[k]);
            let _ = parse_tree("dup.toml", &v.join("\n"));
        }

        /// The MKBA's present value never exceeds IMPACT (non-negative rate and drop-off),
        /// is zero without cases, and the beneficiaries' parts add up to the line's present
        /// value within a cent each.
        #[test]
        fn mkba_present_value_is_bounded_and_split(
            ind in 0u32..5000,
            v1 in 1u32..50_000, v2 in 0u32..50_000,
            dw in 0u32..=40, at in 0u32..=30, se in 0u32..=30,
            s in 0u32..=100, m in 0u32..=100,
            drop in 0u32..=100, rate in 0u32..=2000, horizon in 6u32..=30,
        ) {
            let (s, m) = (s.min(100), m.min(100 - s.min(100)));
            let l = 100 - s - m;
            let text = format!(r#"
[contract]
name = "p"
periods = 4
period = "quarter"
[[payers]]
id = "city"
[enterprise]
id = "e"
[[cohorts]]
id = "c"
enrol = 1
size = 10
[[outcomes]]
id = "o"
lag = 1
price = 1
[mkba]
discount_rate = {r}
horizon_years = {horizon}
beneficiaries = [{{ id = "state" }}]
[[mkba.outcomes]]
outcome = "o"
values = {{ city = {v1}, state = {v2} }}
deadweight = {dw}
attribution = {at}
substitution = {se}
realisation = {{ short = {s}, medium = {m}, long = {l} }}
drop_off = {drop}
"#,
                r = rate as f64 / 10_000.0,
                dw = dw as f64 / 100.0, at = at as f64 / 100.0, se = se as f64 / 100.0,
                s = s as f64 / 100.0, m = m as f64 / 100.0, l = l as f64 / 100.0,
                drop = drop as f64 / 100.0);
            let sc = parse("p.toml", &text).map_err(|d| TestCaseError::fail(d.to_string()))?;
            let mk = sc.contract.mkba().unwrap();
            let t = mk.table(&sc.contract, &[Decimal::from(ind)]);
            let line = &t.lines[0];
            prop_assert!(line.present_value.0 >= 0);
            prop_assert!(line.present_value.0 <= line.impact.0);
            let eff: i64 = line.effect_over_time.iter().map(|m| m.0).sum();
            prop_assert!(eff <= line.impact.0 + 2);
            prop_assert!(line.present_value.0 <= eff + 2);
            if ind == 0 {
                prop_assert_eq!(line.present_value.0, 0);
            }
            let parts: i64 = line.per_beneficiary.iter().map(|m| m.0).sum();
            prop_assert!((parts - line.present_value.0).abs() <= 2, "{} vs {}", parts, line.present_value.0);
        }
    }
}

/// In simulation as from actuals, a `decrease` outcome's IND is what it saves against its
/// baseline (benefit days forecast minus days used), not the days used: the simulated mean IND
/// is the mean over trials of `baseline - achieved`, and a programme under which people use
/// half as many benefit days saves more, for the municipality too.
#[test]
fn simulated_mkba_counts_what_a_decrease_outcome_saves() {
    use sibsim::montecarlo::{TrialRecord, simulate_with};
    use std::sync::Mutex;
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/rotterdam-buzinezzclub.toml"),
    )
    .unwrap();
    let run = |text: &str| {
        let (sc, model) = parse_with_model("rotterdam.toml", text).unwrap();
        let saved = Mutex::new(0.0f64);
        let cfg = SimConfig {
            trials: 400,
            seed: 5,
            threads: Some(2),
        };
        let on = |rec: &TrialRecord| {
            let o = &rec.settlement.outcomes[0];
            *saved.lock().unwrap() += (o.baseline.0 - o.achieved.0).max(0) as f64 / 1e6;
        };
        let r = simulate_with(&sc.contract, &model, &cfg, Some(&on));
        let b = r.business_case.unwrap();
        let mean_saved = saved.into_inner().unwrap() / 400.0;
        assert!(
            (b.cases[0] - mean_saved).abs() < 1e-6 * mean_saved,
            "IND {} vs mean days saved {mean_saved}",
            b.cases[0]
        );
        let rotterdam = b.payers.iter().find(|p| p.id == "rotterdam").unwrap();
        (b.cases[0], rotterdam.savings.mean)
    };
    let (ind, savings) = run(&text);
    let better = text.replace(
        "quantity = { dist = \"normal\", mean = 57, sd = 8 }",
        "quantity = { dist = \"normal\", mean = 28.5, sd = 8 }",
    );
    assert_ne!(better, text);
    let (ind2, savings2) = run(&better);
    assert!(ind > 0.0 && ind2 > ind, "IND {ind} -> {ind2}");
    assert!(savings2 > savings, "savings {savings} -> {savings2}");
}

/// The README's feasibility example shows what `sibsim feasibility scenarios/reference.toml`
/// prints (it went stale once: 0.78 against 0.79): the business case's evidence, the path
/// and the verdict.
#[test]
fn the_readme_feasibility_example_is_what_the_command_prints() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let out = cli(&["feasibility", "scenarios/reference.toml"]);
    let evidence = |text: &str| -> String {
        let line = text
            .lines()
            .find(|l| {
                let l = l.trim_start();
                l.starts_with("YES  P(") || l.starts_with("NO   P(")
            })
            .unwrap_or_else(|| panic!("no business-case line in\n{text}"))
            .trim()
            .to_string();
        line.split(" (present values").next().unwrap().to_string()
    };
    assert_eq!(evidence(&readme), evidence(&out));
    let path = |text: &str| -> String {
        text.lines()
            .find(|l| l.starts_with("Path: "))
            .unwrap()
            .to_string()
    };
    assert_eq!(path(&readme.replace("  Path: ", "Path: ")), path(&out));
    let verdict = |text: &str| -> String {
        text.lines()
            .find(|l| l.trim_start().starts_with("Verdict: "))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(verdict(&readme), verdict(&out));
}

/// `ind = "improvement"` on an `increase` outcome with a baseline counts the improvement on
/// the baseline, per trial: the simulated mean IND is the mean of `max(0, achieved -
/// baseline)`, each trial's savings of the outcome's only beneficiary are that trial's
/// improvement times one fixed present value per case, and a trial in which the programme
/// does no better than the baseline saves nothing (with the default IND, achieved units and a
/// deadweight, it would still save).
#[test]
fn an_improvement_ind_saves_nothing_in_a_trial_without_improvement() {
    use sibsim::montecarlo::{TrialRecord, simulate_with};
    use std::sync::Mutex;
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/reference.toml"),
    )
    .unwrap();
    // No-escalation is paid per young person above a baseline of 55%; its rate is moved to
    // that baseline so that about half of the trials improve on it, and only the insurer
    // values it. Every other outcome is worth nothing to the insurer.
    let line = "values = { insurer = 3_000, enschede = 1_600, eindhoven = 1_400, hengelo = 1_000 }\nind = \"improvement\"\ndeadweight = 0.0";
    assert!(text.contains(line));
    let text = text
        .replace(
            line,
            "values = { insurer = 3_000 }\nind = \"improvement\"\ndeadweight = 0.0",
        )
        .replace(
            "[uncertainty.outcomes.no-escalation]\nrate = { mean = 0.70, sd = 0.06 }",
            "[uncertainty.outcomes.no-escalation]\nrate = { mean = 0.55, sd = 0.06 }",
        );
    let (sc, model) = parse_with_model("imp.toml", &text).unwrap();
    let c = &sc.contract;
    let o = c.outcome("no-escalation").unwrap();
    let insurer = c.party("insurer").unwrap();
    let m = c.mkba().unwrap();
    assert_eq!(m.ind(c, o), sibsim::mkba::Ind::Improvement);
    assert_eq!(m.ind(c, 0), sibsim::mkba::Ind::Achieved);
    let trials = Mutex::new(Vec::new());
    let on = |rec: &TrialRecord| {
        let r = &rec.settlement.outcomes[o];
        let improvement = (r.achieved.0 - r.baseline.0).max(0) as f64 / 1e6;
        trials
            .lock()
            .unwrap()
            .push((improvement, rec.business[insurer].0));
    };
    let cfg = SimConfig {
        trials: 600,
        seed: 3,
        threads: Some(2),
    };
    let r = sibsim::montecarlo::simulate_with(c, &model, &cfg, Some(&on));
    let b = r.business_case.unwrap();
    let trials = trials.into_inner().unwrap();
    let mean = trials.iter().map(|t| t.0).sum::<f64>() / trials.len() as f64;
    assert!(
        (b.cases[o] - mean).abs() < 1e-9 * mean.max(1.0),
        "IND {} vs {mean}",
        b.cases[o]
    );
    let none = trials.iter().filter(|t| t.0 == 0.0).count();
    assert!(
        none > 100 && none < 500,
        "{none} of 600 trials without improvement"
    );
    // Savings: zero exactly where there is no improvement, else improvement x one PV per case
    // (read off the largest improvement, where the rounding to the cent matters least).
    let &(most, at_most) = trials.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
    let per_case = at_most as f64 / most;
    assert!(per_case > 100_000.0, "PV per case {per_case} cents");
    for &(improvement, savings) in &trials {
        if improvement == 0.0 {
            assert_eq!(savings, 0);
        } else {
            // Each trial's savings are rounded to the cent once (and so is the largest).
            assert!(
                (savings as f64 - improvement * per_case).abs() <= 1.0,
                "{savings} vs {improvement} x {per_case}"
            );
        }
    }
    // The default (achieved units, with a deadweight) saves in every trial in which anyone
    // achieved the outcome (all but those that ended before its measurements), improvement
    // or not.
    let achieved = text.replace(
        "ind = \"improvement\"\ndeadweight = 0.0",
        "deadweight = 0.70",
    );
    let (sc, model) = parse_with_model("ach.toml", &achieved).unwrap();
    let saving = Mutex::new(0usize);
    let on = |rec: &TrialRecord| {
        let achieved = rec.settlement.outcomes[o].achieved.0;
        assert_eq!(
            rec.business[insurer].0 > 0,
            achieved > 0,
            "trial {}",
            rec.trial
        );
        *saving.lock().unwrap() += usize::from(achieved > 0);
    };
    simulate_with(&sc.contract, &model, &cfg, Some(&on));
    let saving = saving.into_inner().unwrap();
    assert!(
        saving > 600 - none + 100,
        "{saving} trials save, {none} improve on nothing"
    );
}

#[test]
fn an_ind_that_cannot_be_counted_is_a_clear_error() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("scenarios/reference.toml")).unwrap();
    let rotterdam =
        std::fs::read_to_string(root.join("scenarios/rotterdam-buzinezzclub.toml")).unwrap();
    for (name, text, from, to, want) in [
        (
            "r.toml",
            &reference,
            "ind = \"improvement\"",
            "ind = \"improved\"",
            "mkba.outcomes[4].ind: unknown IND `improved`; allowed: \"achieved\"",
        ),
        (
            "r.toml",
            &reference,
            "outcome = \"housing\"",
            "outcome = \"housing\"\nind = \"improvement\"",
            "mkba.outcomes[0].ind: outcome `housing` has no baseline",
        ),
        (
            "rotterdam.toml",
            &rotterdam,
            "outcome = \"benefit-days\"",
            "outcome = \"benefit-days\"\nind = \"achieved\"",
            "mkba.outcomes[0].ind: outcome `benefit-days` is a `decrease` outcome",
        ),
    ] {
        let bad = text.replacen(from, to, 1);
        assert_ne!(&bad, text, "{from}");
        let err = parse(name, &bad).expect_err("invalid").to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains(&format!("{name}:")), "a position: {err}");
    }
    // Both words are accepted where they can be counted.
    let ok = reference.replace("ind = \"improvement\"", "ind = \"achieved\"");
    assert_ne!(ok, reference);
    parse("ok.toml", &ok).unwrap();
    let ok = rotterdam.replace(
        "outcome = \"benefit-days\"",
        "outcome = \"benefit-days\"\nind = \"improvement\"",
    );
    parse("ok.toml", &ok).unwrap();
}

/// The hand-computed MKBA case with effects from measurement: one cohort of 100 enrolled in
/// quarter 1, its one outcome measured a quarter later.
const HAND_FROM_MEASUREMENT: &str = r#"
[contract]
name = "hand"
periods = 8
period = "quarter"
[[payers]]
id = "city"
[enterprise]
id = "provider"
[[cohorts]]
id = "c"
enrol = 1
size = 100
[[outcomes]]
id = "job"
lag = 1
price = 1
[mkba]
effect_from = "measurement"
[[mkba.outcomes]]
outcome = "job"
values = { city = 10000 }
deadweight = 0.30
attribution = 0.10
substitution = 0.05
realisation = { short = 0.5, medium = 0.3, long = 0.2 }
drop_off = 0.10
"#;

/// `effect_from = "measurement"`: a case's effect years start when it is measured. The
/// hand-computed case above (present value 386,218.2851 from the contract's start), its one
/// cohort enrolled in quarter 1 and measured a quarter later (period 2): x 1.0225^(-2/4).
/// With cohorts of 100 and 300 enrolling in quarters 1 and 3, measured over two quarters
/// each: x (0.25 x mean(v^2, v^3) + 0.75 x mean(v^4, v^5)), v = 1.0225^(-1/4).
#[test]
fn effect_years_from_measurement_discount_each_case_to_when_it_is_measured() {
    let base = HAND_FROM_MEASUREMENT;
    let pv_start = 386_218.285_099_230_5_f64;
    let v = 1.0225f64.powf(-0.25);
    let pv = |text: &str| {
        let sc = parse("hand.toml", text).unwrap_or_else(|d| panic!("{d}"));
        let m = sc.contract.mkba().unwrap();
        let t = m.table(&sc.contract, &[Decimal::from(100)]);
        assert_eq!(t.effect_from, sibsim::mkba::EffectFrom::Measurement);
        t.lines[0].present_value.to_decimal().to_f64().unwrap()
    };
    let want = (pv_start * v * v * 100.0).round() / 100.0;
    assert!(
        (pv(base) - want).abs() < 0.006,
        "{} against {want}",
        pv(base)
    );
    assert!((want - 381_945.30).abs() < 0.006);
    let two = base
        .replace("lag = 1\n", "lag = 1\nmeasure_periods = 2\n")
        .replace(
            "size = 100\n",
            "size = 100\n[[cohorts]]\nid = \"d\"\nenrol = 3\nsize = 300\n",
        );
    let timing = 0.25 * (v.powi(2) + v.powi(3)) / 2.0 + 0.75 * (v.powi(4) + v.powi(5)) / 2.0;
    let want = (pv_start * timing * 100.0).round() / 100.0;
    assert!(
        (pv(&two) - want).abs() < 0.006,
        "{} against {want}",
        pv(&two)
    );
    // The default counts from the contract's start; an unknown value is an error at its line.
    let start = parse(
        "hand.toml",
        &base.replace("effect_from = \"measurement\"\n", ""),
    )
    .unwrap();
    let m = start.contract.mkba().unwrap();
    assert_eq!(
        m.table(&start.contract, &[Decimal::from(100)]).lines[0]
            .present_value
            .to_string(),
        "386218.29"
    );
    let e = parse("hand.toml", &base.replace("\"measurement\"", "\"payment\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hand.toml:19:")
            && e.contains("mkba.effect_from")
            && e.contains("`contract-start`"),
        "{e}"
    );
}

/// A simulated trial's savings use the same timing: every payer's mean savings under
/// `effect_from = "measurement"` is below its savings from the contract's start by less than
/// the discount over the whole term, on the same trials, and its payments do not change.
#[test]
fn simulated_savings_follow_the_effect_timing() {
    let text = include_str!("../scenarios/reference.toml");
    let moved = text.replacen("[mkba]\n", "[mkba]\neffect_from = \"measurement\"\n", 1);
    assert_ne!(moved, text);
    let run = |t: &str| {
        let (sc, model) = sibsim::scenario::parse_with_model("r.toml", t).unwrap();
        let cfg = sibsim::montecarlo::SimConfig {
            trials: 1_000,
            seed: 8,
            threads: Some(2),
        };
        sibsim::montecarlo::simulate(&sc.contract, &model, &cfg)
            .business_case
            .unwrap()
    };
    let (a, b) = (run(text), run(&moved));
    // The last measurement is in quarter 16 or so; 24 quarters bound it.
    let floor = 1.0225f64.powf(-24.0 / 4.0);
    for (x, y) in a.payers.iter().zip(&b.payers) {
        assert_eq!(x.payments.mean, y.payments.mean);
        assert!(y.savings.mean < x.savings.mean, "{}", x.id);
        assert!(y.savings.mean > x.savings.mean * floor, "{}", x.id);
    }
}

/// `mkba` says why its table and the simulated social return differ where delay shocks move
/// cases later (many-parties has a late-release shock), and says nothing where none does.
#[test]
fn mkba_explains_a_table_that_differs_from_the_trials_under_delays() {
    let run = |scenario: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["mkba", scenario, "--trials", "1000"])
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(run("scenarios/many-parties.toml").contains("delay shocks move later"));
    assert!(!run("scenarios/reference.toml").contains("delay shocks move later"));
}

/// The design commands say when business-case figures count effects from each case's
/// measurement, and only then: not for the default, nor for a figure outside the business case.
#[test]
fn design_commands_name_the_measurement_effect_timing() {
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../scenarios/reference.toml");
    let moved = dir.path().join("moved.toml");
    std::fs::write(
        &moved,
        text.replacen("[mkba]\n", "[mkba]\neffect_from = \"measurement\"\n", 1),
    )
    .unwrap();
    let moved = moved.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .args(["--trials", "200"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).contains("from its planned measurement")
    };
    let sweep = |s: &str, m: &str| {
        run(&[
            "sweep",
            s,
            "--vary",
            "contract.total_cap=1000000:1500000:2",
            "--metric",
            m,
        ])
    };
    assert!(run(&["stress", moved, "--only", "delay"]));
    assert!(!run(&[
        "stress",
        "scenarios/reference.toml",
        "--only",
        "delay"
    ]));
    assert!(sweep(moved, "savings_mean:payers"));
    assert!(!sweep(moved, "payments_mean"));
    assert!(run(&[
        "tornado",
        moved,
        "--metric",
        "mkba_net_mean:enschede"
    ]));
    let solve = |s: &str| {
        run(&[
            "solve",
            s,
            "--term",
            "contract.total_cap",
            "--target",
            "payments_mean <= 900000",
        ])
    };
    // Solve compares the key figures, business-case figures among them.
    assert!(solve(moved));
    assert!(!solve("scenarios/reference.toml"));
    let feasibility = |s: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["feasibility", s, "--trials", "200"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).contains("effects from each case's measurement")
    };
    assert!(feasibility(moved));
    assert!(!feasibility("scenarios/reference.toml"));
}

/// `mkba` warns where an MKBA line counts every case achieved of an outcome paid on the
/// improvement over a baseline (the reference scenario's `no-escalation` set to
/// `ind = "achieved"`, as it was before it counted the improvement), and not once the line
/// counts the improvement.
#[test]
fn mkba_notes_achieved_cases_against_a_paid_improvement() {
    let run = |set: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["mkba", "scenarios/reference.toml", "--trials", "100"])
            .args(set)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = run(&[
        "--set",
        "mkba.outcomes[4].ind=achieved",
        "--set",
        "mkba.outcomes[4].deadweight=0.70",
    ]);
    assert!(
        text.contains("Note: `no-escalation` is paid for the improvement over its baseline"),
        "{text}"
    );
    assert_eq!(text.matches("Note: `").count(), 1, "{text}");
    // The reference file counts the improvement.
    let improved = run(&[]);
    assert!(!improved.contains("Note: `"), "{improved}");
}

/// `stress` (and the other design commands) point at that MKBA line where they show
/// business-case figures, and only then.
#[test]
fn design_commands_point_at_achieved_cases_against_a_paid_improvement() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .args(["--trials", "200"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).contains("Note: the MKBA line of `no-escalation`")
    };
    let r = "scenarios/reference.toml";
    let achieved = [
        "--set",
        "mkba.outcomes[4].ind=achieved",
        "--set",
        "mkba.outcomes[4].deadweight=0.70",
    ];
    let stress = [
        &["stress", r, "--only", "weaker-programme"][..],
        &achieved[..],
    ]
    .concat();
    assert!(run(&stress));
    // The reference file counts the improvement.
    assert!(!run(&["stress", r, "--only", "weaker-programme"]));
    let sweep = |m: &str| {
        let args = [
            "sweep",
            r,
            "--vary",
            "contract.total_cap=1000000:1500000:2",
            "--metric",
            m,
        ];
        run(&[&args[..], &achieved[..]].concat())
    };
    assert!(sweep("mkba_net_mean:insurer"));
    assert!(!sweep("payments_mean"));
}

/// With actuals, effects from measurement discount each case from the period the actuals
/// report it in, not from the planned measurements: the hand case above with two measurement
/// quarters (2 and 3) and all 100 cases reported in quarter 3 is worth
/// 386,218.2851 x v^3 (v = 1.0225^(-1/4)), where the plan's timing is the mean of v^2 and v^3;
/// reported 40 in quarter 2 and 60 in quarter 3, x (0.4 v^2 + 0.6 v^3).
#[test]
fn effect_years_from_measurement_follow_the_reported_periods() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = HAND_FROM_MEASUREMENT.replace("lag = 1\n", "lag = 1\nmeasure_periods = 2\n");
    assert!(scenario.contains("measure_periods = 2"));
    let sc = dir.path().join("hand.toml");
    std::fs::write(&sc, scenario).unwrap();
    let pv = |rows: &str| -> f64 {
        let a = dir.path().join("a.csv");
        std::fs::write(
            &a,
            format!("period,cohort,outcome,units\n1,c,enrolled,100\n{rows}"),
        )
        .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .args([
                "mkba",
                sc.to_str().unwrap(),
                "--actuals",
                a.to_str().unwrap(),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["table"]["lines"][0]["present_value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let start = 386_218.285_099_230_5_f64;
    let v = 1.0225f64.powf(-0.25);
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let late = pv("2,c,job,0\n3,c,job,100\n");
    assert!((late - cents(start * v.powi(3))).abs() < 0.006, "{late}");
    let split = pv("2,c,job,40\n3,c,job,60\n");
    let want = cents(start * (0.4 * v.powi(2) + 0.6 * v.powi(3)));
    assert!((split - want).abs() < 0.006, "{split} against {want}");
    // Not the plan's timing, which would weigh both quarters equally.
    let planned = cents(start * (v.powi(2) + v.powi(3)) / 2.0);
    assert!((late - planned).abs() > 1.0 && (split - planned).abs() > 1.0);
}

/// The values of one case (EUR/IND) add up in 128 bits and may reach the money limit, not
/// more: 93,000 beneficiaries at 1e12 each wrapped `i64` cents (a negative EUR/IND, or a
/// panic in a debug build); 100 of them is the limit itself, 101 pass it. (The 93,000 of the
/// audit take minutes to parse in a debug build; the sum is the same 128-bit one.)
#[test]
fn mkba_values_of_one_case_adding_up_past_the_money_limit_are_refused() {
    let scenario = |beneficiaries: usize| {
        let mut t = String::from(
            "[contract]\nname = \"vpc\"\nperiod = \"quarter\"\nperiods = 4\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"ent\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 1\n\n[[outcomes]]\nid = \"o\"\nkind = \"quantity\"\nlag = 1\nprice = 0\n\n[mkba]\n",
        );
        for b in 0..beneficiaries {
            t.push_str(&format!("[[mkba.beneficiaries]]\nid = \"b{b}\"\n"));
        }
        let values = (0..beneficiaries)
            .map(|b| format!("b{b} = 1000000000000"))
            .collect::<Vec<_>>()
            .join(", ");
        t.push_str(&format!("[[mkba.outcomes]]\noutcome = \"o\"\nvalues = {{ {values} }}\ndeadweight = 1\nrealisation = {{ short = 1, medium = 0, long = 0 }}\n"));
        t
    };
    let err = crate::common::model_errors(&scenario(101));
    assert!(
        err.contains("mkba.outcomes[0].values: the values of one case add up to 101,000,000,000,000.00 over 101 beneficiaries")
            && err.contains("(EUR/IND) is at most 100,000,000,000,000.00"),
        "{err}"
    );
    // How the audit's sum reads: past `i64` cents, not wrapped.
    assert_eq!(
        sibsim::money::format_thousands_wide(93_000 * 100_000_000_000_000),
        "93,000,000,000,000,000.00"
    );
    let sc = parse("vpc.toml", &scenario(100)).expect("the limit itself is accepted");
    let m = sc.contract.mkba().unwrap();
    assert_eq!(
        m.outcomes()[0].value_per_case(),
        sibsim::Money(10_000_000_000_000_000)
    );
}

/// An MKBA table whose exact amounts pass what a `Decimal` holds (800 outcomes of 1e12 cases,
/// each worth 100 beneficiaries x 1e12, the most one case may be worth: 8e28 in total, past
/// about 7.9e28) is refused with the way out; adding up the total line panicked with
/// "Addition overflowed".
#[test]
fn an_mkba_table_past_what_decimals_hold_is_refused_not_a_panic() {
    use std::fmt::Write;
    let mut t = String::from(
        "[contract]\nname = \"mkba overflow\"\nperiod = \"month\"\nperiods = 1001\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"ent\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 1\n",
    );
    for k in 0..800 {
        write!(t, "\n[[outcomes]]\nid = \"o{k}\"\nkind = \"quantity\"\nlag = 0\nmeasure_periods = 1000\nprice = 0\n").unwrap();
    }
    t.push_str("\n[uncertainty]\n");
    for k in 0..800 {
        write!(t, "[uncertainty.outcomes.o{k}]\nquantity = {{ dist = \"triangular\", min = 1000000000, mode = 1000000000, max = 1000000000 }}\n").unwrap();
    }
    t.push_str("\n[mkba]\n");
    for b in 0..100 {
        write!(t, "[[mkba.beneficiaries]]\nid = \"b{b}\"\n").unwrap();
    }
    let values = (0..100)
        .map(|b| format!("b{b} = 1000000000000"))
        .collect::<Vec<_>>()
        .join(", ");
    for k in 0..800 {
        write!(t, "[[mkba.outcomes]]\noutcome = \"o{k}\"\nvalues = {{ {values} }}\ndeadweight = 1\nrealisation = {{ short = 1, medium = 0, long = 0 }}\n").unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mkba-decimal-overflow.toml");
    std::fs::write(&path, t).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(["mkba", path.to_str().unwrap(), "--trials", "1"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mkba-decimal-overflow.toml")
            && err.contains("are too large")
            && err.contains("at most 100,000,000,000,000.00")
            && err.contains("values per case"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The report's MKBA section is the same table: refused too, not shown clamped, and no
    // report is written.
    let html = dir.path().join("report.html");
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(["report", path.to_str().unwrap(), "--trials", "1", "--out"])
        .arg(&html)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mkba-decimal-overflow.toml")
            && err.contains("are too large")
            && err.contains("Nothing was written"),
        "{err}"
    );
    assert!(!html.exists());
}

/// MKBA values so large that the business case's present values pass the money limit are
/// refused, by `mkba --actuals` (the table) and by `simulate` (each trial's savings), with
/// the way out; a thousandth of them settles, and its business case adds up. (An audit saw the
/// table clamp every column to the largest cent and the payers' total wrap to -0.04.)
#[test]
fn mkba_values_past_the_money_limit_are_refused_not_clamped() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run")
    };
    let rotterdam = |value: &str| {
        run(&[
            "mkba",
            "scenarios/rotterdam-buzinezzclub.toml",
            "--actuals",
            "scenarios/rotterdam-buzinezzclub.actuals.csv",
            "--set",
            &format!("mkba.outcomes.benefit-days.values.rotterdam={value}"),
            "--format",
            "json",
        ])
    };
    let o = rotterdam("1000000000000");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`benefit-days` are too large")
            && err.contains("at most 100,000,000,000,000.00")
            && err.contains("values per case"),
        "{err}"
    );
    let o = rotterdam("1000000000");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let money = |x: &serde_json::Value| x.as_str().unwrap().parse::<f64>().unwrap();
    let r = &v["settled_business_case"]["payers"][0];
    assert!(money(&r["savings"]) > 1e13, "{r}");
    assert!(
        (money(&r["net"]) - (money(&r["savings"]) - money(&r["payments"]) - money(&r["costs"])))
            .abs()
            < 0.005
    );
    assert_eq!(v["settled_business_case"]["all_payers"]["net"], r["net"]);

    let big = "1000000000000";
    let o = run(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "100",
        "--set",
        &format!("mkba.outcomes.housing.values.enschede={big}"),
        "--set",
        &format!("mkba.outcomes.work.values.enschede={big}"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("business case's savings") && err.contains("100,000,000,000,000.00"),
        "{err}"
    );
}

/// `mkba --actuals` prints the net social return (the table's present value of the IMPACT)
/// and the impact per euro paid, both in present values, as `mkba` of a simulation does.
#[test]
fn mkba_from_actuals_prints_the_net_social_return() {
    let args = [
        "mkba",
        "scenarios/rotterdam-buzinezzclub.toml",
        "--actuals",
        "scenarios/rotterdam-buzinezzclub.actuals.csv",
    ];
    let text = cli(&args);
    let v: serde_json::Value =
        serde_json::from_str(&cli(&[&args[..], &["--format", "json"]].concat())).unwrap();
    let pv = v["table"]["total"]["present_value"].as_str().unwrap();
    let pays = v["settled_business_case"]["all_payers"]["payments"]
        .as_str()
        .unwrap();
    let money = |s: &str| s.parse::<f64>().unwrap();
    let thousands =
        |s: &str| sibsim::money::format_thousands(sibsim::Money((money(s) * 100.0).round() as i64));
    assert!(
        text.contains(&format!(
            "Net social return (PV of the IMPACT, all beneficiaries): {}",
            thousands(pv)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Impact per euro paid: {:.2} (PV of impact {} / PV of the payers' payments {}",
            money(pv) / money(pays),
            thousands(pv),
            thousands(pays)
        )),
        "{text}"
    );
}

/// `Mkba::timed_by` times each outcome's effect by the periods reported; actuals made for
/// another contract leave the planned timing as it is (no panic, no cell of another form).
#[test]
fn an_mkba_timed_by_actuals_of_another_contract_keeps_its_planned_timing() {
    let text = include_str!("../scenarios/reference.toml").replacen(
        "[mkba]\n",
        "[mkba]\neffect_from = \"measurement\"\n",
        1,
    );
    let sc = parse("reference.toml", &text).unwrap();
    let c = &sc.contract;
    let m = c.mkba().expect("the reference has an MKBA");
    let planned: Vec<Decimal> = m.outcomes().iter().map(|l| l.timing).collect();
    // The housing outcome reported only by the first cohort, the earliest measured: its
    // cases are discounted less than the plan's, which averages over all eight cohorts.
    let mut act = sibsim::Actuals::new(c);
    let first = c.outcomes()[0].first_measure(c.cohorts()[0].enrol_period);
    act.set_units(0, 0, first as usize, sibsim::money::Qty::from_int(10));
    let timed = m.timed_by(c, &act, c.periods());
    let t = timed.outcomes()[0].timing;
    assert!(
        t > planned[0] && t < Decimal::ONE,
        "{t} against {}",
        planned[0]
    );
    // Outcomes with nothing reported keep the plan.
    for (l, p) in timed.outcomes().iter().zip(&planned).skip(1) {
        assert_eq!(l.timing, *p);
    }
    // Actuals of another contract: nothing is read from them.
    let (other, _) = parse_with_model(
        "rotterdam.toml",
        include_str!("../scenarios/rotterdam-buzinezzclub.toml"),
    )
    .unwrap();
    let mut foreign = sibsim::Actuals::new(&other.contract);
    foreign.set_units(0, 0, 3, sibsim::money::Qty::from_int(10));
    let kept = m.timed_by(c, &foreign, c.periods());
    let kept: Vec<Decimal> = kept.outcomes().iter().map(|l| l.timing).collect();
    assert_eq!(kept, planned);
}
