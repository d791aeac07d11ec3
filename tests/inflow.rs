//! Referral inflow above the target (docs/domain.md section 4: "realised enrolment per cohort below
//! or above target"): `fill.max` lets a cohort enrol up to that share of its target.

use sibsim::Contract;
use sibsim::actuals::Actuals;
use sibsim::model::{DrawScratch, Model};
use sibsim::montecarlo::trial_rng;
use sibsim::scenario::parse_with_model;

const REFERENCE: &str = include_str!("../scenarios/reference.toml");
const FILL: &str = "fill = { mean = 0.85, sd = 0.08 }";

fn with_fill(fill: &str) -> String {
    assert!(REFERENCE.contains(FILL));
    REFERENCE.replacen(FILL, fill, 1)
}

fn load(text: &str) -> (Contract, Model) {
    match parse_with_model("t.toml", text) {
        Ok((sc, m)) => (sc.contract, m),
        Err(d) => panic!("{d}"),
    }
}

/// Every cohort's enrolment in `trials` trials.
fn enrolments(text: &str, trials: u64) -> Vec<u32> {
    let (c, m) = load(text);
    let mut act = Actuals::new(&c);
    let mut s = DrawScratch::default();
    let mut out = Vec::new();
    for t in 0..trials {
        m.draw(&c, &mut trial_rng(3, t), &mut act, &mut s);
        out.extend_from_slice(act.enrolled());
    }
    out
}

#[test]
fn cohorts_enrol_above_their_target_up_to_the_most_allowed() {
    let e = enrolments(
        &with_fill("fill = { mean = 1.1, sd = 0.1, max = 1.5 }"),
        4_000,
    );
    // Targets of 40: at most 60; the mean 44 (1.1 x 40) within four standard errors.
    assert!(e.iter().all(|&n| n <= 60));
    assert!(e.iter().filter(|&&n| n > 40).count() > e.len() / 2);
    let n = e.len() as f64;
    let mean = e.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = e.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Trials are independent; cohorts of one trial share the fill rate (8 per trial).
    let se = (var * 8.0 / n).sqrt();
    assert!((mean - 44.0).abs() < 4.0 * se, "mean {mean} ± {se}");
    // Without spread every cohort is Binomial(60, 1.1 / 1.5): mean 44, variance 60 p (1 - p).
    let e = enrolments(
        &with_fill("fill = { mean = 1.1, sd = 0, max = 1.5 }"),
        4_000,
    );
    let n = e.len() as f64;
    let mean = e.iter().map(|&x| x as f64).sum::<f64>() / n;
    let p = 1.1 / 1.5;
    let se = (60.0 * p * (1.0 - p) / n).sqrt();
    assert!((mean - 44.0).abs() < 4.0 * se, "mean {mean} ± {se}");
}

#[test]
fn max_1_is_the_plain_fill_rate() {
    let plain = enrolments(REFERENCE, 500);
    let max_1 = enrolments(
        &with_fill("fill = { mean = 0.85, sd = 0.08, max = 1 }"),
        500,
    );
    assert_eq!(plain, max_1);
}

#[test]
fn an_inflow_above_target_settles_and_costs_the_enterprise_more() {
    // Cheap places, so the enterprise can pay for 48 people a cohort from the drawdowns.
    let cheap = |fill: &str| {
        let pert =
            "cost_per_participant = { dist = \"pert\", min = 1_500, mode = 2_000, max = 3_000 }";
        assert!(REFERENCE.contains(pert));
        with_fill(fill).replacen(
            pert,
            "cost_per_participant = { dist = \"pert\", min = 150, mode = 200, max = 300 }",
            1,
        )
    };
    let cfg = sibsim::montecarlo::SimConfig {
        trials: 500,
        seed: 2,
        threads: Some(2),
    };
    let (c, m) = load(&cheap("fill = { mean = 1.2, sd = 0, max = 1.2 }"));
    let over = sibsim::montecarlo::simulate(&c, &m, &cfg);
    assert_eq!(over.failed_trials, 0, "{:?}", over.failure);
    let (c, m) = load(&cheap("fill = { mean = 1.0, sd = 0 }"));
    let exact = sibsim::montecarlo::simulate(&c, &m, &cfg);
    assert_eq!(over.prob_early_termination, 0.0);
    assert!(over.programme_costs.mean > exact.programme_costs.mean);
    assert!(over.outcome_payments.mean > exact.outcome_payments.mean);
    // Without cheaper places the enterprise runs out of cash at enrolment in many trials.
    let (c, m) = load(&with_fill("fill = { mean = 1.2, sd = 0, max = 1.2 }"));
    let broke = sibsim::montecarlo::simulate(&c, &m, &cfg);
    assert!(broke.prob_early_termination > 0.1);
    assert_eq!(broke.prob_out_of_cash, broke.prob_early_termination);
}

fn errors(fill: &str) -> String {
    crate::common::model_errors(&with_fill(fill))
}

#[test]
fn a_bad_most_allowed_is_a_clear_error() {
    let e = errors("fill = { mean = 0.9, sd = 0.1, max = 0.8 }");
    assert!(
        e.contains("uncertainty.fill.max: the most a cohort enrols as a share of its target must be from 1 to 10, got 0.8"),
        "{e}"
    );
    let e = errors("fill = { mean = 1.3, sd = 0.1, max = 1.2 }");
    assert!(
        e.contains("the mean is a share of the target and must be from 0 to `max` (1.2), got 1.3"),
        "{e}"
    );
    let e = errors("fill = { mean = 1.1, sd = 0.35, max = 1.2 }");
    assert!(
        e.contains("needs sd < sqrt(mean x (max - mean)) = 0.3317"),
        "{e}"
    );
    let e = errors("fill = { mean = 1.1, sd = 0.1, max = 1.2, min = 0.5 }");
    assert!(e.contains("unknown field `min`"), "{e}");
    // Without `max`, the fill rate is a share from 0 to 1, as before.
    let e = errors("fill = { mean = 1.1, sd = 0.1 }");
    assert!(e.contains("between 0 and 1"), "{e}");
}

#[test]
fn the_mean_enrolment_is_the_target_times_the_fill_rate_whatever_the_rounding() {
    // 40 x 1.15 = 46 places; 50 x 1.15 = 57.5 rounds up to 58; the mean stays size x fill.
    let text = with_fill("fill = { mean = 1.1, sd = 0, max = 1.15 }");
    let (c, m) = load(&text);
    assert_eq!(m.capacity(40), 46);
    assert_eq!(m.capacity(50), 58);
    assert_eq!(m.capacity(100), 115);
    let (_, m2) = load(&with_fill("fill = { mean = 1.0, sd = 0, max = 1.005 }"));
    assert_eq!(m2.capacity(100), 101, "100.5 places: max still counts");
    let _ = c;
    // Cohorts of 3: capacity 4 at max 1.1, Binomial(4, 3 x 0.9 / 4): mean 2.7.
    let small =
        with_fill("fill = { mean = 0.9, sd = 0, max = 1.1 }").replace("size = 40", "size = 3");
    let e = enrolments(&small, 20_000);
    assert!(e.iter().all(|&n| n <= 4));
    let n = e.len() as f64;
    let mean = e.iter().map(|&x| x as f64).sum::<f64>() / n;
    let p: f64 = 2.7 / 4.0;
    let se = (4.0 * p * (1.0 - p) / n).sqrt();
    assert!((mean - 2.7).abs() < 4.0 * se, "mean {mean} ± {se}");
}

#[test]
fn a_spread_at_its_limit_is_refused() {
    // sqrt(1.2 x 0.3) is 0.6: the Beta would be degenerate.
    let e = errors("fill = { mean = 1.2, sd = 0.6, max = 1.5 }");
    assert!(e.contains("uncertainty.fill.sd: 0.6 is too large"), "{e}");
}

#[test]
fn the_solver_moves_a_fill_rate_above_the_target_and_max_in_decimals() {
    let text = with_fill("fill = { mean = 0.85, sd = 0.08, max = 1.5 }");
    let src = sibsim::design::Source {
        file: "t.toml",
        text: &text,
        base: &[],
    };
    let path = sibsim::scenario::overrides::parse_path("uncertainty.fill.mean").unwrap();
    assert_eq!(sibsim::design::solve::decimals_taken(&src, &path), 12);
    // `max` left out of the file still takes decimals.
    let src = sibsim::design::Source {
        file: "t.toml",
        text: REFERENCE,
        base: &[],
    };
    let path = sibsim::scenario::overrides::parse_path("uncertainty.fill.max").unwrap();
    assert_eq!(
        sibsim::design::solve::current_value(&src, &path, "--term").unwrap(),
        (None, false)
    );
    assert_eq!(sibsim::design::solve::decimals_taken(&src, &path), 12);
}
