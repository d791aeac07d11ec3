//! The HTML report: every section, self-contained, numbers that agree with summary.json, and
//! optional MKBA and feasibility sections.

use sibsim::chart::theme::{percent, thousands};
use sibsim::report::{FeasibilitySection, FeasibilityStep, MkbaSection, ReportInput, TableView};
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sibsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(args)
        .current_dir(root())
        .env("FONTCONFIG_FILE", "/nonexistent")
        .output()
        .expect("run sibsim")
}

const SECTIONS: &[&str] = &[
    "id=\"terms\"",
    "id=\"parties\"",
    "id=\"tranches\"",
    "id=\"risk\"",
    "id=\"charts\"",
    "id=\"mkba\"",
    "id=\"feasibility\"",
    "id=\"assumptions\"",
    "id=\"provenance\"",
    "id=\"glossary\"",
];

fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for bad in [
        "<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "http://", "https://",
    ] {
        // The SVG namespace declaration is the only URL allowed (it is an identifier, not a
        // file to fetch).
        let n = lower.matches(bad).count();
        let allowed = if bad == "http://" {
            lower
                .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                .count()
                + lower.matches("http://www.w3.org/1999/xlink").count()
        } else {
            0
        };
        assert!(
            n <= allowed,
            "the report refers to something outside it: `{bad}` x{n}"
        );
    }
}

#[test]
fn report_has_every_section_no_external_reference_and_the_numbers_of_summary_json() {
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("report.html");
    let o = sibsim(&[
        "report",
        "scenarios/reference.toml",
        "--trials",
        "500",
        "--seed",
        "3",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sibsim(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "500",
        "--seed",
        "3",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let html = std::fs::read_to_string(&html_path).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    for s in SECTIONS {
        assert!(html.contains(s), "no section {s}");
    }
    assert_self_contained(&html);
    // The reference scenario has an MKBA and facts: both sections are filled in, with the
    // business case of summary.json and the decision-tree diagram.
    assert!(!html.contains("not available for this scenario"));
    assert!(html.contains("P(pays more than saves)"));
    assert!(html.contains("Verdict: "));
    assert!(
        html.contains("data-chart=\"decision-tree\""),
        "no decision-tree chart"
    );
    let all = &v["results"]["business_case"]["all_payers"];
    assert!(html.contains(&percent(all["prob_pays_more_than_saves"].as_f64().unwrap())));
    for chart in [
        "payout-bank",
        "payout-fund",
        "irr-senior",
        "irr-junior",
        "risk-distribution",
        "cash-fan-fund",
    ] {
        assert!(
            html.contains(&format!("data-chart=\"{chart}\"")),
            "no chart {chart}"
        );
    }
    // Provenance.
    assert!(html.contains("seed 3") && html.contains(env!("CARGO_PKG_VERSION")));
    let row = |attr: &str| -> String {
        let i = html.find(attr).unwrap_or_else(|| panic!("no row {attr}"));
        let j = html[i..].find("</tr>").unwrap();
        html[i..i + j].to_string()
    };
    for p in v["results"]["parties"].as_array().unwrap() {
        let r = row(&format!("data-party=\"{}\"", p["id"].as_str().unwrap()));
        for f in ["mean", "p5", "p50", "p95"] {
            let want = thousands(p["net"][f].as_f64().unwrap());
            assert!(
                r.contains(&format!(">{want}<")),
                "{}: {f} {want} not in {r}",
                p["id"]
            );
        }
        let want = percent(p["prob_net_negative"].as_f64().unwrap());
        assert!(r.contains(&want), "{}: {want} not in {r}", p["id"]);
    }
    for t in v["results"]["tranches"].as_array().unwrap() {
        let r = row(&format!("data-tranche=\"{}\"", t["id"].as_str().unwrap()));
        for want in [
            percent(t["prob_full_repayment"].as_f64().unwrap()),
            percent(t["prob_principal_loss"].as_f64().unwrap()),
            percent(t["irr"]["p50"].as_f64().unwrap()),
        ] {
            assert!(r.contains(&want), "{}: {want} not in {r}", t["id"]);
        }
    }
    for s in v["results"]["risk"]["parties"].as_array().unwrap() {
        let r = row(&format!("data-risk=\"{}\"", s["party"].as_str().unwrap()));
        let want = percent(s["share_of_tail_loss"].as_f64().unwrap());
        assert!(r.contains(&want), "{want} not in {r}");
    }
}

#[test]
fn optional_mkba_and_feasibility_sections_render_when_given() {
    let doc = crate::charts::small_summary();
    let text = std::fs::read_to_string(root().join("scenarios/reference.toml")).unwrap();
    let (s, model) = sibsim::scenario::parse_with_model("reference.toml", &text).unwrap();
    let tree = crate::charts::made_up_tree();
    let input = ReportInput {
        options: Vec::new(),
        contract: &s.contract,
        summary: &doc,
        assumptions: sibsim::report::assumptions(&s.contract, &model),
        mkba: Some(MkbaSection {
            table: TableView {
                caption: "MKBA per outcome".into(),
                header: vec!["Outcome".into(), "IND".into(), "IMPACT".into()],
                rows: vec![vec!["work".into(), "120".into(), "EUR 1,234,567".into()]],
            },
            more: vec![],
            notes: vec!["Discounted at 2.25% a year.".into()],
            net_charts: vec![],
        }),
        feasibility: Some(FeasibilitySection {
            verdict: "conditional".into(),
            steps: vec![FeasibilityStep {
                question: "4. Business case".into(),
                evidence: "P = 62.0% (limit 70%)".into(),
                answer: "conditional".into(),
            }],
            tree,
        }),
        extra: vec![],
    };
    let html = sibsim::report::render_html(&input).unwrap();
    for s in SECTIONS {
        assert!(html.contains(s), "no section {s}");
    }
    assert!(!html.contains("not available"));
    assert!(html.contains("EUR 1,234,567") && html.contains("data-chart=\"decision-tree\""));
    assert!(html.contains("Success rate") || html.contains("success rate"));
    assert_self_contained(&html);
}

/// A report made with `--set` says so, and the command it gives to reproduce it carries the
/// same changes (and the `--out` it needs); `simulate --out` records them in summary.json.
#[test]
fn a_report_with_overrides_records_them_and_how_to_reproduce_it() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let sets = [
        "contract.total_cap=700000",
        "uncertainty.outcomes.*.rate.mean*=0.9",
    ];
    let mut args = vec![
        "report",
        "scenarios/reference.toml",
        "--trials",
        "300",
        "--seed",
        "3",
        "--out",
        html.to_str().unwrap(),
    ];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let o = sibsim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        text.contains("contract.total_cap=700000; uncertainty.outcomes.*.rate.mean*=0.9"),
        "no overrides in the provenance"
    );
    // The command names the file it wrote; a word a shell would split or expand is quoted.
    let written = html.display().to_string();
    let want = format!(
        "--seed 3 --set contract.total_cap=700000 --set 'uncertainty.outcomes.*.rate.mean*=0.9' --out {}",
        sibsim::report::shell_word(&written)
    );
    assert!(
        text.contains(&want) || text.contains(&want.replace('\'', "&#39;")),
        "the reproducing command lacks the overrides or the file written"
    );
    let out = dir.path().join("run");
    let mut args = vec![
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "300",
        "--out",
        out.to_str().unwrap(),
    ];
    for s in &sets {
        args.extend(["--set", s]);
    }
    assert!(sibsim(&args).status.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["scenario"]["overrides"], serde_json::json!(sets));
}

/// A report of few trials says so at the top, and one trial shows no standard error (n/a, not
/// 0); a report of enough trials has no warning and states how far its percentiles can be
/// from exact, as the screen does.
#[test]
fn a_report_of_few_trials_warns_and_states_its_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let report = |trials: &str, scenario: &str| -> String {
        let out = dir.path().join(format!("{scenario}-{trials}.html"));
        let o = sibsim(&[
            "report",
            &format!("scenarios/{scenario}.toml"),
            "--trials",
            trials,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let one = report("1", "reference");
    assert!(
        one.contains("id=\"few-trials\"><b>Only 1 trial.</b>"),
        "no warning"
    );
    assert!(one.contains("one trial has no standard error"));
    assert!(
        one.contains("<td>n/a</td>"),
        "a standard error of one trial"
    );
    assert!(one.contains("percentiles and expected shortfalls exact"));
    let many = report("2000", "reference");
    assert!(!many.contains("few-trials"));
    assert!(!many.contains("<td>n/a</td>"));
    assert!(many.contains("percentiles and expected shortfalls each within"));
    assert!(many.contains("at most 1.12 percentage points"));
    // Its terms are explained, the MKBA's SE (substitution) apart from a standard error.
    assert!(many.contains("<a href=\"#glossary\">Terms used</a>"));
    assert!(many.contains("SE here is not a standard error"));
    // A scenario with a delay shock: the MKBA section says why its table and the trials differ.
    let delayed = report("2000", "many-parties");
    assert!(delayed.contains("delay shocks move later"));
    assert!(!many.contains("delay shocks move later"));
}

/// The key terms show every term that moves money: the cap per participant (a new user saw a
/// price above it in the report and not the cap that made it lower), the drawdowns, the fees
/// paid before the investors, and the enterprise's costs and share.
#[test]
fn the_key_terms_show_every_term_that_moves_money() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/reference.toml")).unwrap()
        + "\n[[fee_recipients]]\nid = \"assessor\"\n\n[[fees]]\nid = \"audit\"\npayee = \"assessor\"\nschedule = { amount = 2000, from = 1, to = 4 }\n";
    let scenario = dir.path().join("fees.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.path().join("r.html");
    let o = sibsim(&[
        "report",
        scenario.to_str().unwrap(),
        "--trials",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out).unwrap();
    let row = |name: &str| -> String {
        let i = html
            .find(&format!("<td>{name}</td>"))
            .unwrap_or_else(|| panic!("no row {name}"));
        let rest = &html[i + name.len() + 9..];
        let start = rest.find("<td>").unwrap() + 4;
        rest[start..start + rest[start..].find("</td>").unwrap()].to_string()
    };
    assert!(
        row("Cap per participant")
            .starts_with("EUR 9,000 over housing, work, sustained6, sustained12"),
        "{}",
        row("Cap per participant")
    );
    assert_eq!(
        row("Drawdowns"),
        "senior: EUR 600,000 in all, periods 1 to 8; junior: EUR 400,000 in all, periods 1 to 8"
    );
    assert_eq!(
        row("Fees (paid before the investors)"),
        "audit to assessor: EUR 8,000 in all, periods 1 to 4"
    );
    assert_eq!(
        row("Enterprise terms"),
        "fixed costs EUR 180,000 in all, periods 1 to 12; EUR 2,000 per participant"
    );
}
