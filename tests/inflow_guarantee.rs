//! Inflow guarantees (docs/domain.md 3.1: "the municipality may promise a referral volume";
//! section 4: "a municipality may guarantee inflow"): the terms are validated like the rest of
//! the contract, a trial's compensation follows from its drawn enrolment exactly, and the
//! compensation is a payer's loss in the risk distribution. The settlement itself is proved by
//! the hand-computed cases in `settle_cases.rs` and the property test in `properties.rs`.

use sibsim::actuals::Actuals;
use sibsim::model::DrawScratch;
use sibsim::montecarlo::{SimConfig, TrialRecord, simulate, simulate_with, trial_rng};
use sibsim::scenario::{parse, parse_with_model};
use std::sync::Mutex;

const MANY: &str = include_str!("../scenarios/many-parties.toml");
const GUARANTEE: &str = "[[inflow_guarantees]]
payer = \"gemeente\"
share = 0.9
per_missing = 1_500
pay_lag = 1
";

/// `MANY` with its guarantee replaced by `terms` (empty: none).
fn with_guarantee(terms: &str) -> String {
    assert_eq!(MANY.matches(GUARANTEE).count(), 1);
    MANY.replacen(GUARANTEE, terms, 1)
}

/// The problems of `text`, which must not be read, each as `line: path: message`.
fn problems(text: &str) -> Vec<String> {
    match parse("bad.toml", text) {
        Ok(_) => panic!("expected errors in\n{text}"),
        Err(d) => d
            .items
            .iter()
            .map(|i| format!("{}: {}: {}", i.line.unwrap_or(0), i.path, i.message))
            .collect(),
    }
}

/// The line of `text` on which `needle` first occurs (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    text[..at].lines().count() + usize::from(text[..at].ends_with('\n'))
}

#[track_caller]
fn rejects(terms: &str, field_line: &str, parts: &[&str]) {
    let text = with_guarantee(terms);
    let line = line_of(&text, field_line);
    let all = problems(&text);
    assert!(
        all.iter()
            .any(|p| p.starts_with(&format!("{line}: ")) && parts.iter().all(|x| p.contains(x))),
        "expected a problem on line {line} with {parts:?}; got {all:#?}"
    );
}

#[test]
fn bad_terms_are_errors_at_their_line() {
    let base = |extra: &str| {
        format!("[[inflow_guarantees]]\npayer = \"gemeente\"\nper_missing = 1_500\n{extra}")
    };
    rejects(
        "[[inflow_guarantees]]\npayer = \"bank\"\nper_missing = 1_500\n",
        "payer = \"bank\"",
        &[
            "inflow_guarantees[0].payer",
            "unknown payer `bank`",
            "`gemeente`",
        ],
    );
    for bad in ["0", "1.5", "-0.1", "\"4e-13\""] {
        // (4e-13 is 0 at the 12 decimals a share is read to.)
        rejects(
            &base(&format!("share = {bad}\n")),
            &format!("share = {bad}"),
            &["share", "must be more than 0 and at most 1"],
        );
    }
    for bad in ["0", "-5"] {
        rejects(
            &format!("[[inflow_guarantees]]\npayer = \"gemeente\"\nper_missing = {bad}\n"),
            &format!("per_missing = {bad}"),
            &["per_missing", "must be more than 0, got"],
        );
    }
    rejects(
        "[[inflow_guarantees]]\npayer = \"gemeente\"\nper_missing = \"99999999999999999999999999999999999\"\n",
        "per_missing = \"9",
        &["per_missing", "too large a number", "at most 1,000,000,000"],
    );
    rejects(
        "[[inflow_guarantees]]\npayer = \"gemeente\"\nper_missing = \"1.0000001\"\n",
        "per_missing = \"1.0000001\"",
        &["per_missing", "six decimals"],
    );
    rejects(
        &base("cohorts = [\"c1\", \"c9\"]\n"),
        "cohorts = [",
        &["cohorts[1]", "unknown cohort `c9`", "`c1`, `c2`"],
    );
    rejects(
        &base("cohorts = [\"c1\", \"c1\"]\n"),
        "cohorts = [",
        &["listed twice"],
    );
    rejects(
        &base("cohorts = []\n"),
        "cohorts = []",
        &["at least one cohort"],
    );
    // c2 enrols in 3 of 12 quarters: a payment lag of 10 pays in 13.
    rejects(
        &base("pay_lag = 10\n"),
        "pay_lag = 10",
        &["cohort `c2`", "period 13", "last period 12"],
    );
    rejects(
        &base("pay_lag = -1\n"),
        "pay_lag = -1",
        &["payment lag", "0 to"],
    );
    rejects(
        &base("to = \"bank\"\n"),
        "to = \"bank\"",
        &["unknown recipient `bank`", "`account`", "`enterprise`"],
    );
    rejects(
        &base("judged = \"yearly\"\n"),
        "judged = \"yearly\"",
        &["`per-cohort`", "`overall`"],
    );
    rejects(&base("floor = 0.9\n"), "floor = 0.9", &["floor"]);
    // The declared fact may not contradict the terms.
    let text = with_guarantee(GUARANTEE).replacen(
        "inflow_guaranteed = true",
        "inflow_guaranteed = false",
        1,
    );
    let line = line_of(&text, "inflow_guaranteed = false");
    let all = problems(&text);
    assert!(
        all.iter().any(
            |p| p.starts_with(&format!("{line}: facts.inflow_guaranteed"))
                && p.contains("the contract has 1 `[[inflow_guarantees]]`")
        ),
        "{all:#?}"
    );
}

#[test]
fn a_delay_that_pushes_compensation_past_the_end_names_the_delay() {
    // Cohort c2 enrols in 3 and is compensated 8 quarters later, in 11 of 12; the file's late
    // release of 2 quarters would pay it in 13 (its outcomes, paid by 10, still fit).
    let text = with_guarantee(&GUARANTEE.replace("pay_lag = 1", "pay_lag = 8"));
    assert!(
        parse(
            "ok.toml",
            &text.replacen("enrolment_delay = 2", "enrolment_delay = 0", 1)
        )
        .is_ok()
    );
    let Err(d) = parse_with_model("bad.toml", &text) else {
        panic!("expected an error");
    };
    let shown = d.to_string();
    assert!(
        shown.contains("enrolment_delay")
            && shown.contains("period 13")
            && shown.contains("shorten the delay"),
        "{shown}"
    );
}

/// Each trial's compensation is exactly 1,500 for every participant below 54 of a cohort's 60,
/// from the enrolment the trial drew; the results' mean and probability are those of the
/// trials; the payer's loss is its compensation.
#[test]
fn a_trials_compensation_follows_from_its_drawn_enrolment() {
    let (sc, model) = parse_with_model("many.toml", MANY).unwrap();
    let c = &sc.contract;
    let cfg = SimConfig {
        trials: 3_000,
        seed: 11,
        threads: Some(2),
    };
    let seen = Mutex::new(Vec::new());
    let record = |r: &TrialRecord| {
        seen.lock().unwrap().push((
            r.trial,
            r.settlement.inflow_compensation.cents(),
            r.settlement.termination.is_some(),
        ));
    };
    let res = simulate_with(c, &model, &cfg, Some(&record));
    let mut seen = seen.into_inner().unwrap();
    seen.sort_unstable();
    assert_eq!(seen.len(), 3_000);
    let mut act = Actuals::new(c);
    let mut scratch = DrawScratch::default();
    let (mut sum, mut paying) = (0i64, 0u64);
    for &(t, cents, terminated) in &seen {
        model.draw(c, &mut trial_rng(cfg.seed, t), &mut act, &mut scratch);
        assert!(!terminated, "trial {t} ended early");
        let want: i64 = act
            .enrolled()
            .iter()
            .map(|&n| (54 - n as i64).max(0) * 150_000)
            .sum();
        assert_eq!(cents, want, "trial {t}, enrolment {:?}", act.enrolled());
        sum += cents;
        paying += (cents > 0) as u64;
    }
    assert!(
        paying > 300 && paying < 2_700,
        "{paying} of 3,000 trials pay"
    );
    let g = res.parties.iter().find(|p| p.id == "gemeente").unwrap();
    let x = g
        .inflow_compensation
        .as_ref()
        .expect("the payer's compensation");
    assert!((x.paid.mean - sum as f64 / 3_000.0 / 100.0).abs() < 1e-6);
    assert!((x.probability - paying as f64 / 3_000.0).abs() < 1e-12);
    // Its only loss: the compensation (it guarantees no tranche).
    let risk = res
        .risk
        .parties
        .iter()
        .find(|p| p.party == "gemeente")
        .unwrap();
    assert!((risk.expected_loss - x.paid.mean).abs() < 1e-6);
    let shares: f64 = res
        .risk
        .parties
        .iter()
        .map(|p| p.share_of_expected_loss)
        .sum();
    assert!((shares - 1.0).abs() < 1e-9);
    // Parties without a guarantee report none.
    assert!(
        res.parties
            .iter()
            .filter(|p| p.id != "gemeente")
            .all(|p| p.inflow_compensation.is_none())
    );
}

/// The compensation reaches the bank through the waterfall: on the same random numbers the
/// bank loses less, the payer pays more, and a compensation to the enterprise instead leaves
/// the bank's loss as it was without a guarantee... or lower (the enterprise never runs out).
#[test]
fn the_guarantee_moves_risk_from_the_bank_to_the_payer() {
    let run = |text: &str| {
        let (sc, model) = parse_with_model("many.toml", text).unwrap();
        let cfg = SimConfig {
            trials: 4_000,
            seed: 5,
            threads: Some(2),
        };
        let r = simulate(&sc.contract, &model, &cfg);
        let loss = |id: &str| {
            r.risk
                .parties
                .iter()
                .find(|p| p.party == id)
                .unwrap()
                .expected_loss
        };
        let paid = r
            .parties
            .iter()
            .find(|p| p.id == "gemeente")
            .unwrap()
            .paid
            .mean;
        (loss("bank"), loss("gemeente"), paid)
    };
    let (bank0, payer0, paid0) = run(&with_guarantee(""));
    let (bank1, payer1, paid1) = run(MANY);
    assert_eq!(payer0, 0.0);
    assert!(payer1 > 0.0);
    assert!(
        bank1 < bank0,
        "bank {bank1} against {bank0} without the guarantee"
    );
    assert!(paid1 > paid0);
    // A promise of every place at a higher price moves more.
    let (bank2, payer2, _) = run(&with_guarantee(
        &GUARANTEE
            .replace("share = 0.9", "share = 1")
            .replace("1_500", "3_000"),
    ));
    assert!(bank2 <= bank1 && payer2 > payer1, "{bank2} {payer2}");
}

#[test]
fn the_feasibility_tree_reads_the_guarantee_when_the_facts_leave_it_open() {
    let tree = sibsim::feasibility::parse_tree(
        "inflow.toml",
        r#"
name = "inflow only"
start = "inflow"
[[node]]
id = "inflow"
question.en = "Inflow and data guaranteed?"
test = "inflow-guaranteed"
yes = "go"
no = "stop"
[[exit]]
id = "go"
verdict = "go"
advice.en = "Go."
[[exit]]
id = "stop"
verdict = "no-go"
advice.en = "Stop."
"#,
    )
    .unwrap();
    let answer = |text: &str| {
        let sc = parse("many.toml", text).unwrap();
        let walk = sibsim::feasibility::walk(&tree, &sc.contract, None);
        sibsim::feasibility::render_text(&walk, &sc.contract)
    };
    // The facts leave it open: the contract's guarantee answers yes.
    let open = with_guarantee(GUARANTEE).replacen("inflow_guaranteed = true\n", "", 1);
    let shown = answer(&open);
    assert!(
        shown.contains("inflow guaranteed: yes (the contract's 1 inflow guarantee)"),
        "{shown}"
    );
    assert!(shown.contains("Go."), "{shown}");
    // Without the guarantee and without the fact: not declared, no.
    let shown = answer(&with_guarantee("").replacen("inflow_guaranteed = true\n", "", 1));
    assert!(shown.contains("inflow guaranteed: not declared"), "{shown}");
    assert!(shown.contains("Stop."), "{shown}");
}

/// Without a fill rate, the default referral-shortfall stress lowers enrolment, not the
/// targets a guarantee promises: the payer then compensates in nearly every trial.
#[test]
fn the_referral_shortfall_stress_keeps_the_promised_targets() {
    let text = MANY.replacen("fill = { mean = 0.9, sd = 0.05 }\n", "", 1);
    assert_ne!(text, MANY);
    let sc = parse("many.toml", &text).unwrap();
    let vs = sibsim::design::stress::stresses(&sc, &text, true);
    let v = vs.iter().find(|v| v.label == "referral-shortfall").unwrap();
    let set: Vec<&str> = v.overrides.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(set, ["uncertainty.fill={ mean = 0.85, sd = 0 }"]);
    let (sc, model) =
        sibsim::scenario::parse_with_model_overrides("many.toml", &text, &v.overrides).unwrap();
    assert_eq!(sc.contract.cohorts()[0].size, 60);
    let cfg = SimConfig {
        trials: 2_000,
        seed: 2,
        threads: Some(2),
    };
    let r = simulate(&sc.contract, &model, &cfg);
    let x = r.parties[0].inflow_compensation.as_ref().unwrap();
    // Binomial(60, 0.85) falls below 54 in about 72% of cohorts; one of two does in 92%.
    assert!(x.probability > 0.85, "{}", x.probability);
    // The stress table shows the guarantor's compensation.
    let figures = sibsim::metrics::key_figures(&sc.contract);
    assert!(
        figures.contains(&"inflow_mean:gemeente".to_string()),
        "{figures:?}"
    );
}

/// The figures `inflow_mean` and `p_inflow` are the per-trial compensation's mean and
/// probability, as in the results.
#[test]
fn the_compensation_figures_agree_with_the_results() {
    let (sc, model) = parse_with_model("many.toml", MANY).unwrap();
    let cfg = SimConfig {
        trials: 2_000,
        seed: 4,
        threads: Some(2),
    };
    let figs = [
        "inflow_mean:gemeente".to_string(),
        "p_inflow:gemeente".to_string(),
        "inflow_mean:bank".to_string(),
    ];
    let run = sibsim::design::run_variant(&sc, &model, &figs, &cfg, None).unwrap();
    assert_eq!(run.trials, 2_000);
    let x = simulate(&sc.contract, &model, &cfg).parties[0]
        .inflow_compensation
        .clone()
        .unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean(&run.values[0]) - x.paid.mean).abs() < 1e-6);
    assert!((mean(&run.values[1]) - x.probability).abs() < 1e-12);
    assert!(run.values[2].iter().all(|&v| v == 0.0));
}

/// The CSV ledger names the guarantee and the cohort of a compensation line.
#[test]
fn the_ledger_names_the_guarantee_and_cohort_of_a_compensation() {
    let text = "[contract]\nname = \"g\"\nperiods = 4\nperiod = \"quarter\"\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"se\"\n\n[[cohorts]]\nid = \"early\"\nenrol = 1\nsize = 10\n\n[[outcomes]]\nid = \"job\"\nlag = 1\nprice = 100\n\n[[inflow_guarantees]]\npayer = \"city\"\nper_missing = 10\n\n[[inflow_guarantees]]\npayer = \"city\"\nper_missing = 1\njudged = \"overall\"\n";
    let c = parse("g.toml", text).unwrap().contract;
    let a = sibsim::actuals::parse_csv(
        &c,
        "a.csv",
        "period,cohort,outcome,units\n1,early,enrolled,8\n2,early,job,1\n",
    )
    .unwrap();
    let mut ledger = Vec::<sibsim::LedgerLine>::new();
    let mut settler = sibsim::Settler::new(&c);
    let s = settler.settle(&a, &mut ledger).unwrap().clone();
    let csv = sibsim::statement::render_csv(&c, &ledger);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",fee,inflow_guarantee"), "{csv}");
    assert!(
        lines.contains(&"1,city,contract-account,20.00,inflow-guarantee,,early,,,1"),
        "{csv}"
    );
    assert!(
        lines.contains(&"1,city,contract-account,2.00,inflow-guarantee,,,,,2"),
        "{csv}"
    );
    assert_eq!(s.inflow_compensation.to_string(), "22.00");
}

/// The binary: the screen, `validate`, `trials.csv` and an override's error.
#[test]
fn the_cli_shows_the_guarantee_and_its_compensation() {
    let bin = || std::process::Command::new(env!("CARGO_BIN_EXE_sibsim"));
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(root)
        .args([
            "simulate",
            "scenarios/many-parties.toml",
            "--trials",
            "400",
            "--out",
        ])
        .arg(dir.path())
        .arg("--trials-out")
        .output()
        .unwrap();
    assert!(o.status.success());
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(
        screen.contains("Inflow guarantee: gemeente compensates referrals short of its promise in"),
        "{screen}"
    );
    let rows = std::fs::read_to_string(dir.path().join("trials.csv")).unwrap();
    let mut lines = rows.lines();
    assert!(lines.next().unwrap().ends_with(",inflow_compensation"));
    let total: f64 = lines
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    let summary = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let mean = json["results"]["parties"][0]["inflow_compensation"]["paid"]["mean"]
        .as_f64()
        .unwrap();
    assert!((total / 400.0 - mean).abs() < 1e-6, "{total} {mean}");

    let o = bin()
        .current_dir(root)
        .args(["validate", "scenarios/many-parties.toml"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(
            "inflow guarantee: gemeente pays 1,500.00 per participant short of 90% of each cohort's target (cohorts c1, c2), to the contract account 1 period after enrolment"
        ),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // A change that breaks a delayed contract is named as the cause.
    let o = bin()
        .current_dir(root)
        .args(["simulate", "scenarios/many-parties.toml", "--trials", "10"])
        .args(["--set", "inflow_guarantees.0.pay_lag=8"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("enrolment_delay: with this delay the contract does not hold")
            && err.contains("(after --set inflow_guarantees.0.pay_lag=8)"),
        "{err}"
    );
}

/// The report lists the guarantee among the key terms and says how often and how much the
/// payer compensates.
#[test]
fn the_report_shows_the_guarantee() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "report",
            "scenarios/many-parties.toml",
            "--trials",
            "300",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("Inflow guarantees"), "key terms");
    assert!(
        html.contains(
            "gemeente pays 1,500.00 per participant short of 90% of each cohort&#39;s target"
        ) || html.contains(
            "gemeente pays 1,500.00 per participant short of 90% of each cohort's target"
        ),
        "the guarantee in words"
    );
    assert!(
        html.contains("pays compensation for referrals short of its promise in"),
        "the compensation note"
    );
}

/// Settling actuals without an enrolment row for a guaranteed cohort says that the cohort is
/// taken at its target and so earns nothing; with the row, nothing is said.
#[test]
fn settling_without_an_enrolment_row_for_a_guaranteed_cohort_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("g.toml");
    std::fs::write(
        &scenario,
        "[contract]\nname = \"g\"\nperiods = 4\nperiod = \"quarter\"\n\n[[payers]]\nid = \"city\"\n\n[enterprise]\nid = \"se\"\n\n[[cohorts]]\nid = \"early\"\nenrol = 1\nsize = 10\n\n[[cohorts]]\nid = \"late\"\nenrol = 2\nsize = 10\n\n[[outcomes]]\nid = \"job\"\nlag = 1\nprice = 100\n\n[[inflow_guarantees]]\npayer = \"city\"\nper_missing = 10\ncohorts = [\"late\"]\n",
    )
    .unwrap();
    let run = |rows: &str| {
        let actuals = dir.path().join("a.csv");
        std::fs::write(&actuals, format!("period,cohort,outcome,units\n{rows}")).unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_sibsim"))
            .arg("settle")
            .arg(&scenario)
            .arg("--actuals")
            .arg(&actuals)
            .output()
            .unwrap();
        assert!(o.status.success());
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (_, err) = run("2,early,job,1\n3,late,job,1\n");
    assert!(
        err.contains("no `enrolled` row for cohort late under an inflow guarantee"),
        "{err}"
    );
    let (out, err) = run("2,late,enrolled,7\n2,early,job,1\n3,late,job,1\n");
    assert!(!err.contains("enrolled` row"), "{err}");
    assert!(out.contains("inflow compensation paid: 30.00"), "{out}");
}

/// Sweeps and the solver step a guarantee's terms in the precision they take (a share in 12
/// decimals, an amount per participant in 6): a share is not rounded to a whole number.
#[test]
fn sweeps_and_the_solver_step_the_terms_in_their_precision() {
    use sibsim::design::Source;
    use sibsim::design::solve::decimals_taken;
    use sibsim::scenario::overrides::parse_path;
    let src = Source {
        file: "many.toml",
        text: MANY,
        base: &[],
    };
    for (path, want) in [
        ("inflow_guarantees.0.share", 12),
        ("inflow_guarantees.0.per_missing", 6),
        ("inflow_guarantees.0.pay_lag", 0),
    ] {
        assert_eq!(
            decimals_taken(&src, &parse_path(path).unwrap()),
            want,
            "{path}"
        );
    }
}

/// Only a payer that gives an inflow guarantee has inflow compensation in the results (and on
/// the screen): another payer of the same contract never pays any.
#[test]
fn only_the_guaranteeing_payer_reports_inflow_compensation() {
    let text = "[contract]\nname = \"two\"\nperiods = 8\nperiod = \"quarter\"\n\n[[payers]]\nid = \"city\"\n\n[[payers]]\nid = \"province\"\n\n[enterprise]\nid = \"se\"\n\n[[cohorts]]\nid = \"early\"\nenrol = 1\nsize = 40\n\n[[outcomes]]\nid = \"job\"\nlag = 1\nprice = 100\npayers = { city = 0.5, province = 0.5 }\n\n[[inflow_guarantees]]\npayer = \"province\"\nper_missing = 10\n\n[uncertainty]\nfill = { mean = 0.8, sd = 0.1 }\n[uncertainty.outcomes.job]\nrate = { mean = 0.5, sd = 0.1 }\n";
    let (sc, model) = parse_with_model("two.toml", text).unwrap();
    let cfg = SimConfig {
        trials: 200,
        seed: 1,
        threads: Some(1),
    };
    let r = simulate(&sc.contract, &model, &cfg);
    let with: Vec<&str> = r
        .parties
        .iter()
        .filter(|p| p.inflow_compensation.is_some())
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(with, ["province"]);
}
