//! Delay shocks (docs/domain.md section 4, "delays"): with a shock's probability, a trial settles a
//! contract whose outcomes are measured later (`delay`) or whose cohorts enrol later
//! (`enrolment_delay`). Checked against the same contract with the lags or enrolment periods
//! moved in the file, trial by trial.

use sibsim::model::Model;
use sibsim::montecarlo::{Results, SimConfig, TrialRecord, simulate_with};
use sibsim::scenario::overrides::Override;
use sibsim::scenario::{Scenario, parse_with_model, parse_with_model_overrides};
use std::sync::Mutex;

const REFERENCE: &str = include_str!("../scenarios/reference.toml");
const ALL: &str = r#"["housing", "work", "sustained6", "sustained12", "no-escalation"]"#;

/// The reference scenario with `shock` (the lines of one `[[uncertainty.shocks]]` entry) as
/// its first shock, before the recession.
fn with_shock(shock: &str) -> String {
    let at = "[[uncertainty.shocks]]              # a recession";
    assert!(REFERENCE.contains(at));
    REFERENCE.replacen(at, &format!("[[uncertainty.shocks]]\n{shock}\n\n{at}"), 1)
}

fn load(text: &str, set: &[&str]) -> (Scenario, Model) {
    let set: Vec<Override> = set.iter().map(|s| Override::parse(s).unwrap()).collect();
    match parse_with_model_overrides("test.toml", text, &set) {
        Ok(x) => x,
        Err(d) => panic!("{d}"),
    }
}

/// One trial as the engine reports it: net per party, IRR bits per tranche, final period.
type Row = (Vec<i64>, Vec<Option<u64>>, u16);

/// Runs `trials` and returns the results (as JSON) and every trial's row with the shocks that
/// happened in it, in trial order.
fn run(text: &str, set: &[&str], trials: u64, threads: usize) -> (String, Vec<(Row, u64)>) {
    let (sc, m) = load(text, set);
    let rows = Mutex::new(Vec::new());
    let on_trial = |r: &TrialRecord| {
        let row = (
            r.net.to_vec(),
            r.irr.iter().map(|x| x.map(f64::to_bits)).collect(),
            r.settlement.final_period,
        );
        rows.lock().unwrap().push((r.trial, (row, r.shocks)));
    };
    let cfg = SimConfig {
        trials,
        seed: 11,
        threads: Some(threads),
    };
    let res: Results = simulate_with(&sc.contract, &m, &cfg, Some(&on_trial));
    assert_eq!(res.failed_trials, 0, "{:?}", res.failure);
    let mut rows = rows.into_inner().unwrap();
    rows.sort_by_key(|r| r.0);
    // The business case apart: a delay discounts the savings it delays (see `savings`).
    let mut v = serde_json::to_value(&res).unwrap();
    v.as_object_mut().unwrap().remove("business_case");
    (v.to_string(), rows.into_iter().map(|r| r.1).collect())
}

/// The mean savings of each beneficiary of the business case.
fn savings(text: &str, set: &[&str], trials: u64) -> Vec<f64> {
    let (sc, m) = load(text, set);
    let cfg = SimConfig {
        trials,
        seed: 11,
        threads: Some(2),
    };
    let res = sibsim::montecarlo::simulate(&sc.contract, &m, &cfg);
    let b = res.business_case.expect("the reference has an MKBA");
    let v = serde_json::to_value(&b).unwrap();
    v["beneficiaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["savings"]["mean"].as_f64().unwrap())
        .collect()
}

/// A shock that happens with `p` and changes nothing (it draws its number like any shock).
fn no_op(p: &str) -> String {
    format!("probability = {p}\nfactor = 1.0\noutcomes = {ALL}")
}

#[test]
fn a_delay_that_always_happens_is_the_contract_measured_later() {
    let delayed = run(
        &with_shock(&format!("probability = 1.0\ndelay = 2\noutcomes = {ALL}")),
        &[],
        3_000,
        2,
    );
    let moved = run(&with_shock(&no_op("1.0")), &["outcomes.*.lag+=2"], 3_000, 2);
    assert_eq!(delayed.1, moved.1, "trial by trial");
    assert_eq!(delayed.0, moved.0, "results");
    // And it is not the contract on time: payments come later, so investors earn less.
    let on_time = run(&with_shock(&no_op("1.0")), &[], 3_000, 2);
    assert_ne!(delayed.0, on_time.0);
    // The savings of the business case come two quarters later than the contract plans them:
    // discounted over half a year at the MKBA's 2.25% a year (each trial's to the cent). (The
    // contract written with the later lags plans them there: its savings are not discounted.)
    let late = savings(
        &with_shock(&format!("probability = 1.0\ndelay = 2\noutcomes = {ALL}")),
        &[],
        2_000,
    );
    let planned = savings(&with_shock(&no_op("1.0")), &["outcomes.*.lag+=2"], 2_000);
    let k = 1.0225f64.powf(-0.5);
    for (l, p) in late.iter().zip(&planned) {
        assert!((l - p * k).abs() < 0.01, "{l} against {p} x {k}");
    }
}

#[test]
fn a_late_start_that_always_happens_is_the_contract_enrolling_later() {
    let late = run(
        &with_shock("probability = 1.0\nenrolment_delay = 3"),
        &[],
        3_000,
        1,
    );
    let moved = run(
        &with_shock(&no_op("1.0")),
        &["cohorts.*.enrol+=3"],
        3_000,
        1,
    );
    assert_eq!(late.1, moved.1, "trial by trial");
    assert_eq!(late.0, moved.0, "results");
}

#[test]
fn a_delay_that_never_happens_changes_nothing() {
    let never = run(
        &with_shock(&format!("probability = 0.0\ndelay = 1\noutcomes = {ALL}")),
        &[],
        2_000,
        2,
    );
    let no_op = run(&with_shock(&no_op("0.0")), &[], 2_000, 2);
    assert_eq!(never.0, no_op.0);
}

#[test]
fn a_possible_delay_settles_each_trial_on_time_or_late_with_its_probability() {
    let p = 0.3;
    let n = 6_000;
    let mixed = run(
        &with_shock(&format!("probability = {p}\ndelay = 1\noutcomes = {ALL}")),
        &[],
        n,
        2,
    )
    .1;
    let on_time = run(&with_shock(&no_op("0.0")), &[], n, 2).1;
    let late = run(&with_shock(&no_op("1.0")), &["outcomes.*.lag+=1"], n, 2).1;
    let mut delayed = 0u64;
    for t in 0..n as usize {
        // The trial says which shocks happened (bit 0: the delay, bit 1: the recession).
        let (m, shocks) = &mixed[t];
        if shocks & 1 == 1 {
            delayed += 1;
            assert_eq!(m, &late[t].0, "trial {t} had the delay");
        } else {
            assert_eq!(m, &on_time[t].0, "trial {t} had no delay");
        }
        assert_eq!(shocks >> 1, late[t].1 >> 1, "the recession is drawn alike");
    }
    let share = delayed as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!((share - p).abs() < 4.0 * se, "share delayed {share}");
}

#[test]
fn delays_add_up_and_give_the_same_results_on_any_thread_count() {
    let text = with_shock(&format!(
        "probability = 0.4\ndelay = 1\noutcomes = {ALL}\n\n[[uncertainty.shocks]]\nprobability = 0.3\nenrolment_delay = 2\nfactor = 0.9\noutcomes = [\"work\"]"
    ));
    let one = run(&text, &[], 2_500, 1);
    let two = run(&text, &[], 2_500, 2);
    assert_eq!(one, two);
    // Three delayed contracts besides the scenario's: each delay alone and both.
    let (_, m) = load(&text, &[]);
    assert_eq!(m.delayed().len(), 3);
    let lag = |v: usize| m.delayed()[v - 1].outcomes()[0].lag;
    let enrol = |v: usize| m.delayed()[v - 1].cohorts()[0].enrol_period;
    assert_eq!((lag(1), enrol(1)), (3, 1));
    assert_eq!((lag(2), enrol(2)), (2, 3));
    assert_eq!((lag(3), enrol(3)), (3, 3));
}

use crate::common::model_errors as errors;

#[test]
fn bad_delays_are_clear_errors_at_their_line() {
    // A delay that pushes the last payment past the term, reported at its line.
    let text = with_shock("probability = 0.2\ndelay = 9\noutcomes = [\"sustained12\"]");
    let line = text
        .lines()
        .position(|l| l == "delay = 9")
        .map(|i| i + 1)
        .unwrap();
    let e = errors(&text);
    assert!(
        e.contains(&format!("bad.toml:{line}:")) && e.contains("uncertainty.shocks[0].delay"),
        "{e}"
    );
    assert!(
        e.contains("with this delay the contract does not hold")
            && e.contains("after the contract's last period 24"),
        "{e}"
    );
    // Each alone fits; together they do not.
    let e = errors(&with_shock(
        "probability = 0.2\ndelay = 5\noutcomes = [\"sustained12\"]\n\n[[uncertainty.shocks]]\nprobability = 0.1\ndelay = 5\noutcomes = [\"sustained12\"]",
    ));
    assert!(
        e.contains("uncertainty.shocks[1].delay")
            && e.contains("together with shocks[0] (the delays add up)"),
        "{e}"
    );
    // A delay that measures a chained outcome before the one it requires.
    let e = errors(&with_shock(
        "probability = 0.2\ndelay = 3\noutcomes = [\"work\"]",
    ));
    assert!(
        e.contains("with this delay the contract does not hold: `sustained6` (lag 5) would be measured before `work` (lag 6), which it requires"),
        "{e}"
    );
    let e = errors(&with_shock(
        "probability = 0.2\ndelay = 1.5\noutcomes = [\"work\"]",
    ));
    assert!(
        e.contains("must be a whole number of periods, got 1.5"),
        "{e}"
    );
    let e = errors(&with_shock("probability = 0.2\nenrolment_delay = -1"));
    assert!(
        e.contains("a delay is a whole number of periods from 0 to the contract's 24, got -1"),
        "{e}"
    );
    let e = errors(&with_shock("probability = 0.2\ndelay = 1"));
    assert!(
        e.contains("list the outcomes the delay measures later"),
        "{e}"
    );
    let e = errors(&with_shock("probability = 0.2"));
    assert!(e.contains("a shock must do something"), "{e}");
    let e = errors(&with_shock(
        "probability = 0.2\nfactor = 0.9\noutcomes = [\"work\", \"work\"]",
    ));
    assert!(e.contains("`work` is listed twice"), "{e}");
    let five = (0..5)
        .map(|_| "probability = 0.1\nenrolment_delay = 1".to_string())
        .collect::<Vec<_>>()
        .join("\n\n[[uncertainty.shocks]]\n");
    let e = errors(&with_shock(&five));
    assert!(
        e.contains("uncertainty.shocks[4]") && e.contains("at most 4 shocks may have a `delay`"),
        "{e}"
    );
}

#[test]
fn the_default_stresses_make_delays_and_rate_shocks_happen_apart() {
    let text = with_shock(&format!("probability = 0.2\ndelay = 1\noutcomes = {ALL}"));
    let (sc, _) = load(&text, &[]);
    let v = sibsim::design::stress::stresses(&sc, &text, true);
    let set = |label: &str| -> Vec<String> {
        v.iter()
            .find(|x| x.label == label)
            .unwrap_or_else(|| panic!("no stress {label}"))
            .overrides
            .iter()
            .map(|o| o.text.clone())
            .collect()
    };
    // The delay is shock 0, the recession shock 1.
    assert_eq!(set("delay"), ["uncertainty.shocks[0].probability=1.0"]);
    assert_eq!(set("recession"), ["uncertainty.shocks[1].probability=1.0"]);
    // Without delaying shocks, `delay` adds one that happens for sure and delays every outcome
    // a period, after the scenario's own shocks.
    let (sc, _) = load(REFERENCE, &[]);
    let v = sibsim::design::stress::stresses(&sc, REFERENCE, true);
    let d = v.iter().find(|x| x.label == "delay").unwrap();
    assert_eq!(
        d.overrides[0].text,
        format!(
            "uncertainty.shocks=[{{ factor = 0.8, outcomes = [\"work\", \"sustained6\", \"sustained12\"], probability = 0.1 }}, {{ delay = 1, outcomes = {ALL}, probability = 1.0 }}]"
        )
    );
    let r = v.iter().find(|x| x.label == "recession").unwrap();
    assert_eq!(r.overrides[0].text, "uncertainty.shocks.*.probability=1.0");
    // It moves the savings of the business case later with the payments, so it never makes a
    // payer's case look better (a later `lag` moved only the payments, and did); the
    // scenario's own shock keeps its draws, so the differences are sharp.
    let src = sibsim::design::Source {
        file: "reference.toml",
        text: REFERENCE,
        base: &[],
    };
    let figs = [
        "savings_mean:enschede".to_string(),
        "mkba_net_mean:enschede".to_string(),
        "p_full_repayment:senior".to_string(),
    ];
    let cfg = SimConfig {
        trials: 2_000,
        seed: 3,
        threads: None,
    };
    let cmp =
        sibsim::design::compare_variants(&src, std::slice::from_ref(d), &figs, &cfg, None).unwrap();
    assert!(cmp.skipped.is_empty(), "{:?}", cmp.skipped);
    let diff = &cmp.variants[1].diffs;
    assert!(diff[0].value < 0.0, "savings {:?}", diff[0]);
    assert!(diff[1].value < 0.0, "net {:?}", diff[1]);
    assert!(
        diff[1].se < 0.1 * cmp.variants[0].figures[1].se,
        "{:?}",
        diff[1]
    );
    assert!(diff[2].value <= 0.0, "repaid {:?}", diff[2]);
}

const IDS: [&str; 5] = [
    "housing",
    "work",
    "sustained6",
    "sustained12",
    "no-escalation",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Any delays, valid or not: reading never panics; a model that is read settles every
    /// trial, and each delayed contract keeps its payments in the term.
    #[test]
    fn any_delays_are_read_or_refused_and_what_is_read_settles(
        shocks in proptest::collection::vec(
            (0u8..=100, -2i64..30, -2i64..12, proptest::collection::vec(0usize..5, 0..4), proptest::bool::ANY),
            1..6,
        )
    ) {
        let text = shocks
            .iter()
            .map(|(p, d, e, outs, with_factor)| {
                let outs: Vec<String> = outs.iter().map(|&o| format!("\"{}\"", IDS[o])).collect();
                format!(
                    "probability = {}\ndelay = {d}\nenrolment_delay = {e}\noutcomes = [{}]{}",
                    *p as f64 / 100.0,
                    outs.join(", "),
                    if *with_factor { "\nfactor = 0.9" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n[[uncertainty.shocks]]\n");
        let text = with_shock(&text);
        match parse_with_model("p.toml", &text) {
            Err(d) => proptest::prop_assert!(d.items.iter().all(|i| i.line.is_some()), "{}", d),
            Ok((sc, m)) => {
                for c in m.delayed() {
                    let last = c
                        .outcomes()
                        .iter()
                        .flat_map(|o| c.cohorts().iter().map(move |k| o.last_measure(k.enrol_period) + o.pay_lag))
                        .max()
                        .unwrap();
                    proptest::prop_assert!(last <= c.periods());
                }
                let cfg = SimConfig { trials: 300, seed: 5, threads: Some(1) };
                let r = sibsim::montecarlo::simulate(&sc.contract, &m, &cfg);
                proptest::prop_assert_eq!(r.failed_trials, 0, "{:?}", r.failure);
            }
        }
    }
}

#[test]
fn a_delay_changed_by_arithmetic_is_rounded_like_a_lag() {
    let text = with_shock(&format!("probability = 0.5\ndelay = 2\noutcomes = {ALL}"));
    let delay = |set: &[&str]| load(&text, set).1.shocks()[0].delay;
    assert_eq!(delay(&["uncertainty.shocks[0].delay+=0.4"]), 2);
    assert_eq!(
        delay(&["uncertainty.shocks[0].delay*=1.25"]),
        3,
        "2.5 rounds up"
    );
    assert_eq!(delay(&["uncertainty.shocks[0].delay=1.0"]), 1);
    // Set where the file has none, as a sweep or solve does.
    let late = |set: &[&str]| load(&with_shock(&no_op("0.5")), set).1.shocks()[0].delay;
    assert_eq!(late(&["uncertainty.shocks[0].delay=3"]), 3);
    assert_eq!(late(&["uncertainty.shocks[0].delay=3.0"]), 3);
    // A fraction written as such is refused, naming the override.
    let e = match parse_with_model_overrides(
        "t.toml",
        &text,
        &[Override::parse("uncertainty.shocks[0].delay=2.5").unwrap()],
    ) {
        Err(d) => d.to_string(),
        Ok(_) => panic!("2.5 periods accepted"),
    };
    assert!(
        e.contains("must be a whole number of periods, got 2.5")
            && e.contains("after --set uncertainty.shocks[0].delay=2.5"),
        "{e}"
    );
    // A sweep and the solver step a delay in whole periods.
    let src = sibsim::design::Source {
        file: "t.toml",
        text: &text,
        base: &[],
    };
    let path = sibsim::scenario::overrides::parse_path("uncertainty.shocks[0].delay").unwrap();
    assert_eq!(sibsim::design::solve::decimals_taken(&src, &path), 0);
}

#[test]
fn a_delay_of_zero_is_no_delay_and_a_shock_that_does_nothing_is_refused() {
    let zero = run(
        &with_shock(&format!("probability = 0.5\ndelay = 0\noutcomes = {ALL}")),
        &[],
        1_000,
        2,
    );
    assert_eq!(zero.0, run(&with_shock(&no_op("0.5")), &[], 1_000, 2).0);
    let e = errors(&with_shock("probability = 0.5\ndelay = 1\noutcomes = []"));
    assert!(
        e.contains("uncertainty.shocks[0].outcomes: lists no outcome: list the outcomes the delay measures later"),
        "{e}"
    );
    let e = errors(&with_shock(
        "probability = 0.5\nenrolment_delay = 1\noutcomes = [\"work\"]",
    ));
    assert!(
        e.contains("this shock has neither (an `enrolment_delay` moves every cohort)"),
        "{e}"
    );
}

#[test]
fn a_contract_that_does_not_hold_is_blamed_on_the_delay_that_breaks_it() {
    // The outcome's delay alone fits; the enrolment delay pushes `housing` past the term.
    let e = errors(&with_shock(
        "probability = 1\ndelay = 2\nenrolment_delay = 14\noutcomes = [\"sustained12\"]",
    ));
    assert!(e.contains("uncertainty.shocks[0].enrolment_delay"), "{e}");
    assert!(!e.contains("shocks[0].delay:"), "{e}");
    assert!(
        e.contains("shorten the delay or lengthen the contract"),
        "{e}"
    );
    let e = errors(&with_shock("probability = 1\nenrolment_delay = 17"));
    assert!(
        e.contains("cohort `q8` would enrol in period 25, after the contract's last period 24"),
        "{e}"
    );
}

#[test]
fn a_delay_that_leaves_a_checkpoint_judging_nothing_is_an_error() {
    // `housing` (lag 2) is first measured in period 3; a checkpoint there fits the file, but a
    // late start of 1 quarter moves the first measurement to 4.
    let text = with_shock("probability = 0.2\nenrolment_delay = 1").replacen(
        "[uncertainty]",
        "[[checkpoints]]\nperiod = 3\noutcome = \"housing\"\nmin_rate = 0.2\n\n[uncertainty]",
        1,
    );
    let e = errors(&text);
    assert!(e.contains("uncertainty.shocks[0].enrolment_delay"), "{e}");
    assert!(
        e.contains("`housing` is first measured in period 4, so a checkpoint in period 3 would judge nothing measured"),
        "{e}"
    );
    assert!(
        e.contains("shorten the delay or move the checkpoint to period 4 or later"),
        "{e}"
    );
    // Without the delay the same checkpoint is read.
    load(
        &text.replacen("enrolment_delay = 1", "enrolment_delay = 0", 1),
        &[],
    );
}

/// A delay that happens for sure already is made no more certain: the stress delays every
/// outcome by a further period, with a shock of its own.
#[test]
fn a_delay_that_is_certain_already_is_delayed_a_period_more() {
    let text = with_shock(&format!("probability = 1.0\ndelay = 1\noutcomes = {ALL}"));
    let (sc, _) = load(&text, &[]);
    let v = sibsim::design::stress::stresses(&sc, &text, true);
    let d = v.iter().find(|x| x.label == "delay").unwrap();
    let set = &d.overrides[0].text;
    assert!(
        set.starts_with("uncertainty.shocks=[{ delay = 1, "),
        "{set}"
    );
    assert!(
        set.ends_with(&format!(
            "{{ delay = 1, outcomes = {ALL}, probability = 1.0 }}]"
        )),
        "{set}"
    );
    // Both delays happen in every trial of the stressed scenario: two periods later.
    let (_, m2) = load(&text, &[set.as_str()]);
    let certain = m2
        .shocks()
        .iter()
        .filter(|s| s.delays() && s.probability == 1.0)
        .count();
    assert_eq!((m2.shocks().len(), certain), (3, 2));
    // With four delaying shocks already (the most the model takes) there is no room for one
    // more: every outcome is measured a period later instead.
    let four = (0..4)
        .map(|_| "probability = 1.0\ndelay = 1\noutcomes = [\"housing\"]".to_string())
        .collect::<Vec<_>>()
        .join("\n\n[[uncertainty.shocks]]\n");
    let text = with_shock(&four).replace("periods = 24", "periods = 30");
    let (sc, _) = load(&text, &[]);
    let v = sibsim::design::stress::stresses(&sc, &text, true);
    let d = v.iter().find(|x| x.label == "delay").unwrap();
    assert_eq!(d.overrides[0].text, "outcomes.*.lag+=1");
    load(&text, &["outcomes.*.lag+=1"]);
}
