//! What the `simulate` screen shows, checked against `summary.json` of the same run.

use std::process::Command;

/// The risk table shows each party's probability of a loss (a payer's guarantee call), as
/// `summary.json` has it, and the header bounds a probability's standard error by 50 / sqrt(n)
/// percentage points.
#[test]
fn the_risk_table_shows_each_partys_probability_of_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "simulate",
            "scenarios/reference.toml",
            "--trials",
            "2500",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        screen.contains("at most 1.00 percentage points here"),
        "{screen}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
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
