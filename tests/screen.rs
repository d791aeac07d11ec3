//! What `simulate` shows on the screen and writes per trial, checked against `summary.json` of
//! the same run.

use std::path::Path;
use std::process::Command;

/// Runs `sibsim simulate` on the reference scenario with `args` and `--out dir`; returns the
/// screen and the parsed `summary.json`.
fn simulate_reference(dir: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "scenarios/reference.toml"])
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        serde_json::from_str(&summary).unwrap(),
    )
}

/// The risk table shows each party's probability of a loss (a payer's guarantee call), as
/// `summary.json` has it (which also keeps the scenario's text), and the header bounds a
/// probability's standard error by 50 / sqrt(n) percentage points.
#[test]
fn the_risk_table_shows_each_partys_probability_of_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (screen, summary) = simulate_reference(dir.path(), &["--trials", "2500"]);
    assert!(
        screen.contains("at most 1.00 percentage points here"),
        "{screen}"
    );
    // The file keeps the scenario's terms as they were read.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/reference.toml");
    assert_eq!(
        summary["scenario"]["text"].as_str().unwrap(),
        std::fs::read_to_string(file).unwrap()
    );
    let parties = summary["results"]["parties"].as_array().unwrap();
    let risk = screen
        .split("Risk distribution")
        .nth(1)
        .expect("a risk table");
    assert!(risk.lines().nth(1).unwrap().contains("P(loss)"), "{risk}");
    let mut some_loss = false;
    for p in parties {
        let id = p["id"].as_str().unwrap();
        let prob = p["prob_loss"].as_f64().unwrap();
        some_loss |= prob > 0.0 && prob < 1.0;
        let row = risk
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{risk}"));
        let shown = row.split_whitespace().nth(1).unwrap();
        assert_eq!(shown, format!("{:.1}%", prob * 100.0), "{id}: {row}");
    }
    assert!(some_loss, "the reference scenario has losses to show");
}

/// The party table names its P5 as minus the value at risk, and each party's P5 on the screen
/// is minus `var95` of `summary.json`, in whole euros.
#[test]
fn the_party_table_shows_the_value_at_risk_as_minus_p5() {
    let dir = tempfile::tempdir().unwrap();
    let (screen, summary) = simulate_reference(dir.path(), &["--trials", "1500"]);
    let parties_block = screen.split("Parties (").nth(1).expect("a party table");
    assert!(
        parties_block.starts_with("net = received - paid; value at risk VaR 95% = minus P5;"),
        "{parties_block}"
    );
    for p in summary["results"]["parties"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let row = parties_block
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{parties_block}"));
        // Cells: party, role, mean net, its standard error, P5.
        let shown: f64 = row
            .split_whitespace()
            .nth(4)
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap();
        let var95 = p["var95"].as_f64().unwrap();
        assert!(
            (shown + var95).abs() <= 0.5,
            "{id}: P5 {shown} against var95 {var95}"
        );
    }
}

/// `trials.csv` has each party's loss per trial, as the risk distribution counts it: their
/// means are the expected losses of `summary.json` to the cent, and the worst 5% of trials by
/// total loss (the trials tied at the boundary shared pro rata) give its tail shares, exactly
/// in a run short enough to read its tail exactly (1,000 trials).
#[test]
fn trials_csv_losses_reproduce_the_risk_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let (_, summary) = simulate_reference(
        dir.path(),
        &["--trials", "1000", "--seed", "5", "--trials-out"],
    );
    let text = std::fs::read_to_string(dir.path().join("trials.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let risk = summary["results"]["risk"]["parties"].as_array().unwrap();
    // Losses in cents per trial, per party in the risk table's order.
    let cents = |s: &str| (s.parse::<f64>().unwrap() * 100.0).round() as i64;
    let losses: Vec<Vec<i64>> = risk
        .iter()
        .map(|p| {
            let name = format!("loss_{}", p["party"].as_str().unwrap());
            let k = header
                .iter()
                .position(|h| *h == name)
                .unwrap_or_else(|| panic!("{name}"));
            rows.iter().map(|r| cents(r[k])).collect()
        })
        .collect();
    let n = rows.len() as f64;
    for (p, l) in risk.iter().zip(&losses) {
        let mean = l.iter().sum::<i64>() as f64 / n / 100.0;
        let want = p["expected_loss"].as_f64().unwrap();
        assert!(
            (mean - want).abs() < 0.005,
            "{}: {mean} against {want}",
            p["party"]
        );
    }
    // The tail: the worst ceil(5% n) trials by total loss, ties at the boundary shared.
    let totals: Vec<i64> = (0..rows.len())
        .map(|t| losses.iter().map(|l| l[t]).sum())
        .collect();
    let mut sorted = totals.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let k = (0.05 * n).ceil() as usize;
    let cut = sorted[k - 1];
    let above = totals.iter().filter(|&&x| x > cut).count();
    let at = totals.iter().filter(|&&x| x == cut).count();
    let weight = |x: i64| {
        if x > cut {
            1.0
        } else if x == cut {
            (k - above) as f64 / at as f64
        } else {
            0.0
        }
    };
    let tail: Vec<f64> = losses
        .iter()
        .map(|l| {
            l.iter()
                .zip(&totals)
                .map(|(&x, &t)| x as f64 * weight(t))
                .sum()
        })
        .collect();
    let all: f64 = tail.iter().sum();
    assert!(all > 0.0);
    for (p, t) in risk.iter().zip(&tail) {
        let want = p["share_of_tail_loss"].as_f64().unwrap();
        assert!(
            (t / all - want).abs() < 1e-9,
            "{}: {} against {want}",
            p["party"],
            t / all
        );
    }
}

/// Every quantile of a chart's grid in `summary.json` (0.5% to 99.5%) is within the
/// distribution's `quantile_error` of the trial value at its rank `ceil(q n)` in `trials.csv`:
/// in a short run, kept exactly (error 0), and past 1,024 trials. (The grid once read rank 176
/// for 0.35 of 500 trials: its level was `70 x 0.005`, a rounding error above 0.35.)
#[test]
fn chart_quantile_grids_are_within_their_stated_error() {
    for trials in [500usize, 5000] {
        let dir = tempfile::tempdir().unwrap();
        let (_, summary) = simulate_reference(
            dir.path(),
            &["--trials", &trials.to_string(), "--trials-out"],
        );
        let text = std::fs::read_to_string(dir.path().join("trials.csv")).unwrap();
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let n = rows.len();
        assert_eq!(n, trials);
        for p in summary["results"]["parties"].as_array().unwrap() {
            let col = head
                .iter()
                .position(|h| *h == format!("net_{}", p["id"].as_str().unwrap()))
                .unwrap();
            let mut v: Vec<f64> = rows.iter().map(|r| r[col].parse().unwrap()).collect();
            v.sort_by(f64::total_cmp);
            let dist = &p["net"]["distribution"];
            let bound = dist["quantile_error"].as_f64().unwrap();
            if n <= 1024 {
                assert_eq!(bound, 0.0, "a short run is exact");
            }
            for (i, q) in dist["quantiles"].as_array().unwrap().iter().enumerate() {
                // Level (i + 1) / 200: rank ceil((i + 1) n / 200), in integers.
                let rank = ((i + 1) * n).div_ceil(200).clamp(1, n);
                let q = q.as_f64().unwrap();
                assert!(
                    (q - v[rank - 1]).abs() <= bound + 1e-6,
                    "{} at {trials} trials: the grid's {}/200 quantile {q} against {} (bound {bound})",
                    p["id"],
                    i + 1,
                    v[rank - 1]
                );
            }
        }
    }
}

/// `trials.csv` has each tranche's drawn and received amounts: their means are the
/// summary's, and the mean of their ratio its mean multiple.
#[test]
fn trials_csv_reproduces_each_tranches_multiple() {
    let dir = tempfile::tempdir().unwrap();
    let (_, summary) = simulate_reference(dir.path(), &["--trials", "1500", "--trials-out"]);
    let text = std::fs::read_to_string(dir.path().join("trials.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|x| x.parse::<f64>().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let n = rows.len() as f64;
    for t in summary["results"]["tranches"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let col = |name: &str| {
            head.iter()
                .position(|h| *h == format!("{name}_{id}"))
                .unwrap()
        };
        let (d, r) = (col("drawn"), col("received"));
        let drawn: f64 = rows.iter().map(|x| x[d]).sum::<f64>() / n;
        let received: f64 = rows.iter().map(|x| x[r]).sum::<f64>() / n;
        assert!(
            (drawn - t["drawn"]["mean"].as_f64().unwrap()).abs() < 1e-6,
            "{id} drawn"
        );
        assert!(
            (received - t["received"]["mean"].as_f64().unwrap()).abs() < 1e-6,
            "{id} received"
        );
        let multiple: f64 = rows.iter().map(|x| x[r] / x[d]).sum::<f64>() / n;
        assert!(
            (multiple - t["multiple"]["mean"].as_f64().unwrap()).abs() < 1e-8,
            "{id}: {multiple} against {}",
            t["multiple"]["mean"]
        );
    }
}

/// `simulate` shows the impact per euro the payers pay under its business case, as `mkba`
/// does, from the figures of `summary.json` (the README says both print it).
#[test]
fn simulate_shows_the_impact_per_euro_paid() {
    let dir = tempfile::tempdir().unwrap();
    let (screen, s) = simulate_reference(dir.path(), &["--trials", "500", "--seed", "4"]);
    let b = &s["results"]["business_case"];
    let impact = b["total_impact"]["mean"].as_f64().unwrap();
    let paid = b["all_payers"]["payments"]["mean"].as_f64().unwrap();
    let want = format!(
        "Impact per euro paid: {:.2} (mean PV of impact",
        impact / paid
    );
    assert!(screen.contains(&want), "`{want}` not in\n{screen}");
    // It follows the net social return.
    let at = |x: &str| screen.find(x).unwrap();
    assert!(
        at("Net social return") < at("Impact per euro paid"),
        "{screen}"
    );
}

/// The reference with 20 municipalities: `m01` to `m03` as before, and all 20 sharing the
/// housing outcome equally.
fn twenty_payers() -> String {
    let t = include_str!("../scenarios/reference.toml")
        .replace("enschede", "m01")
        .replace("eindhoven", "m02")
        .replace("hengelo", "m03");
    let extra: String = (4..=20)
        .map(|i| format!("[[payers]]\nid = \"m{i:02}\"\n\n"))
        .collect();
    let t = t.replacen("[[investors]]", &format!("{extra}[[investors]]"), 1);
    let all: Vec<String> = (1..=20).map(|i| format!("m{i:02} = 0.05")).collect();
    let t = t.replacen(
        "payers = { m01 = 0.40, m02 = 0.35, m03 = 0.25 }",
        &format!("payers = {{ {} }}", all.join(", ")),
        1,
    );
    assert!(t.contains("m20 = 0.05"));
    t
}

/// With more than 12 payers the screen lists the 10 that pay most (the first in the file
/// among equals) and sums the others in one row of each table, their additive figures summed
/// as `summary.json` has them; every payer stays in `summary.json`.
#[test]
fn many_payers_are_summed_in_one_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("many.toml");
    std::fs::write(&file, twenty_payers()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args([
            "simulate",
            file.to_str().unwrap(),
            "--trials",
            "400",
            "--out",
        ])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    let parties = summary["results"]["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 24, "every payer is in summary.json");
    let listed = [
        "m01", "m02", "m03", "insurer", "m04", "m05", "m06", "m07", "m08", "m09",
    ];
    let summed: Vec<String> = (10..=20).map(|i| format!("m{i:02}")).collect();
    let rows = |first: &str| -> Vec<&str> {
        screen
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(first))
            .collect()
    };
    // Parties, risk and business case: each listed payer once per table, no summed one.
    for id in listed {
        assert_eq!(rows(id).len(), 3, "{id}:\n{screen}");
    }
    for id in &summed {
        assert!(rows(id).is_empty(), "{id}:\n{screen}");
    }
    let more: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("11 more payers"))
        .collect();
    assert_eq!(more.len(), 3, "{screen}");
    // The sum row's mean net is the sum of the summed payers' means.
    let sum = |field: &str| -> f64 {
        parties
            .iter()
            .filter(|p| summed.contains(&p["id"].as_str().unwrap().to_string()))
            .map(|p| p[field]["mean"].as_f64().unwrap())
            .sum()
    };
    let number = |s: &str| s.replace(',', "").parse::<f64>().unwrap();
    let cells: Vec<&str> = more[0].split_whitespace().collect();
    assert_eq!(&cells[..4], ["11", "more", "payers", "payers"]);
    assert!(
        (number(cells[4]) - sum("net").round()).abs() <= 1.0,
        "{}",
        more[0]
    );
    assert!(screen.contains("m10, m11, m12"), "{screen}");
    // The `mkba` screen's business case sums them alike, and says which.
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(["mkba", file.to_str().unwrap(), "--trials", "200"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mkba = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        mkba.lines()
            .filter(|l| l.starts_with("11 more payers"))
            .count(),
        1,
        "{mkba}"
    );
    assert!(!mkba.lines().any(|l| l.starts_with("m15 ")), "{mkba}");
    assert!(
        mkba.contains("the other 11 summed in one row: m10, m11"),
        "{mkba}"
    );
    // The reference itself, with 4 payers, lists them all.
    let (screen, _) = simulate_reference(
        &std::env::temp_dir().join(format!("sibsim-ref-payers-{}", std::process::id())),
        &["--trials", "200"],
    );
    assert!(!screen.contains("more payers"), "{screen}");
}

/// The figures a stress or a solve shows by default name each payer up to 12 payers, and
/// past that all payers together; every one of them reads against the contract.
#[test]
fn key_figures_take_many_payers_together() {
    let many = sibsim::scenario::parse("many.toml", &twenty_payers())
        .unwrap()
        .contract;
    let key = sibsim::metrics::key_figures(&many);
    assert!(key.contains(&"mkba_net_mean:payers".to_string()), "{key:?}");
    assert!(
        key.contains(&"p_pays_more_than_saves:payers".to_string()),
        "{key:?}"
    );
    assert!(
        !key.iter()
            .any(|f| f.ends_with(":m01") || f.ends_with(":insurer")),
        "{key:?}"
    );
    for f in &key {
        sibsim::metrics::parse(f, &many).unwrap();
    }
    let reference = sibsim::scenario::parse("r.toml", include_str!("../scenarios/reference.toml"))
        .unwrap()
        .contract;
    let key = sibsim::metrics::key_figures(&reference);
    assert!(
        key.contains(&"mkba_net_mean:enschede".to_string()),
        "{key:?}"
    );
    assert!(!key.iter().any(|f| f.ends_with(":payers")), "{key:?}");
}
