//! The real `sibsim` binary on the bundled scenarios and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sibsim"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(root())
        .output()
        .expect("run sibsim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every bundled contract with example actuals.
const BUNDLED: &[&str] = &["rotterdam-buzinezzclub", "colour-kitchen-utrecht"];

fn scenario(name: &str) -> String {
    format!("scenarios/{name}.toml")
}
fn actuals(name: &str) -> String {
    format!("scenarios/{name}.actuals.csv")
}

#[test]
fn validate_accepts_every_bundled_scenario() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "bundled scenarios missing: {names:?}");
    for n in names {
        let o = run(&["validate", &n]);
        assert!(o.status.success(), "{n}: {}", stderr(&o));
        assert!(stdout(&o).contains("is valid"), "{n}: {}", stdout(&o));
    }
}

#[test]
fn settle_prints_a_statement_for_each_bundled_scenario() {
    for name in BUNDLED {
        let o = run(&["settle", &scenario(name), "--actuals", &actuals(name)]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = stdout(&o);
        for section in [
            "Settlement statement",
            "Cash flows by period",
            "Parties",
            "Tranches",
            "Outcomes",
            "Notes",
        ] {
            assert!(out.contains(section), "{name}: no `{section}` in\n{out}");
        }
    }
}

/// `settle --format claims` lists each measurement once, what it earned adds up to each
/// outcome's earned amount in the JSON statement (whose `claims` are the same rows), and the
/// ledger pays each outcome and cohort at most what its claims earned; the text statement
/// shows them as a Claims section.
#[test]
fn claims_add_up_to_the_outcomes_and_back_the_ledger() {
    use std::collections::BTreeMap;
    let dec = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
    for name in BUNDLED {
        let args = |f: &'static str| {
            run(&[
                "settle",
                &scenario(name),
                "--actuals",
                &actuals(name),
                "--format",
                f,
            ])
        };
        let (claims, json, ledger, text) =
            (args("claims"), args("json"), args("csv"), args("text"));
        for o in [&claims, &json, &ledger, &text] {
            assert!(o.status.success(), "{name}: {}", stderr(o));
        }
        let mut rdr = csv::Reader::from_reader(claims.stdout.as_slice());
        let head: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            head[..5],
            ["measured", "outcome", "cohort", "unit", "achieved"]
        );
        let col = |n: &str| head.iter().position(|h| h == n).unwrap();
        let mut earned: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
        let mut by_cell: BTreeMap<(String, String), rust_decimal::Decimal> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut rows = 0;
        for r in rdr.records() {
            let r = r.unwrap();
            rows += 1;
            assert!(seen.insert((r[0].to_string(), r[1].to_string(), r[2].to_string())));
            let e = dec(&r[col("earned")]);
            assert!(e <= dec(&r[col("amount")]), "{name}: {r:?}");
            assert!(dec(&r[col("units_paid")]) <= dec(&r[col("payable_units")]));
            *earned.entry(r[1].to_string()).or_default() += e;
            *by_cell
                .entry((r[1].to_string(), r[2].to_string()))
                .or_default() += e;
        }
        assert!(rows > 5, "{name}: {rows} claims");
        let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(doc["claims"].as_array().unwrap().len(), rows);
        for o in doc["outcomes"].as_array().unwrap() {
            let id = o["id"].as_str().unwrap();
            assert_eq!(
                earned.get(id).copied().unwrap_or_default(),
                dec(o["result"]["earned"].as_str().unwrap()),
                "{name}: {id}"
            );
        }
        let mut lr = csv::Reader::from_reader(ledger.stdout.as_slice());
        let mut paid: BTreeMap<(String, String), rust_decimal::Decimal> = BTreeMap::new();
        for r in lr.records() {
            let r = r.unwrap();
            if &r[4] == "outcome-payment" {
                *paid
                    .entry((r[5].to_string(), r[6].to_string()))
                    .or_default() += dec(&r[3]);
            }
        }
        assert!(!paid.is_empty());
        for (cell, p) in &paid {
            assert!(
                *p <= by_cell[cell],
                "{name}: {cell:?} paid {p}, earned {}",
                by_cell[cell]
            );
        }
        let out = stdout(&text);
        assert!(
            out.contains("\nClaims (one per measurement"),
            "{name}: {out}"
        );
    }
}

#[test]
fn csv_ledger_and_json_agree_and_conserve_money() {
    for name in BUNDLED {
        let o = run(&[
            "settle",
            &scenario(name),
            "--actuals",
            &actuals(name),
            "--format",
            "csv",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let csv_text = stdout(&o);
        let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
        let headers = rdr.headers().unwrap().clone();
        assert_eq!(&headers[0], "period");
        assert_eq!(&headers[3], "amount");
        let mut csv_total = rust_decimal::Decimal::ZERO;
        let mut lines = 0;
        for r in rdr.records() {
            let r = r.unwrap();
            let a: rust_decimal::Decimal = r[3].parse().unwrap();
            assert!(
                a > rust_decimal::Decimal::ZERO,
                "ledger amounts are positive"
            );
            csv_total += a;
            lines += 1;
        }
        assert!(lines > 0);

        let o = run(&[
            "settle",
            &scenario(name),
            "--actuals",
            &actuals(name),
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let ledger = v["ledger"].as_array().unwrap();
        assert_eq!(ledger.len(), lines);
        let dec = |x: &serde_json::Value| -> rust_decimal::Decimal {
            x.as_str().unwrap().parse().unwrap()
        };
        let json_total: rust_decimal::Decimal = ledger.iter().map(|l| dec(&l["amount"])).sum();
        assert_eq!(json_total, csv_total);
        // Double entry: the parties' nets add up to zero; paid and received add up to the ledger.
        let parties = v["parties"].as_array().unwrap();
        let net: rust_decimal::Decimal = parties.iter().map(|p| dec(&p["net"])).sum();
        assert_eq!(net, rust_decimal::Decimal::ZERO);
        let paid: rust_decimal::Decimal = parties.iter().map(|p| dec(&p["paid"])).sum();
        assert_eq!(paid, csv_total);
    }
}

#[test]
fn out_writes_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ledger.csv");
    let name = BUNDLED[0];
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    let again = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--format",
        "csv",
    ]);
    assert_eq!(written, stdout(&again));
    // No temporary files are left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn an_error_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "period,cohort,outcome,units\n1,nope,x,1\n").unwrap();
    let out = dir.path().join("out.json");
    let o = run(&[
        "settle",
        &scenario(BUNDLED[0]),
        "--actuals",
        bad.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    assert!(
        stderr(&o).contains("unknown cohort `nope`"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("bad.csv:2:"), "{}", stderr(&o));
}

fn expect_user_error(args: &[&str], needles: &[&str]) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in\n{err}");
    }
}

#[test]
fn user_errors_exit_2_with_a_clear_message() {
    expect_user_error(
        &["validate", "no/such/file.toml"],
        &["cannot read", "no such file"],
    );
    expect_user_error(
        &["validate", "scenarios"],
        &["cannot read", "it is a folder"],
    );
    // A device that never ends is refused at the input limit, not read until memory runs out.
    if Path::new("/dev/zero").exists() {
        expect_user_error(
            &["validate", "/dev/zero"],
            &["cannot read /dev/zero", "larger than 256 MiB"],
        );
    }
    expect_user_error(&["frobnicate"], &["frobnicate"]);
    expect_user_error(&["settle", "scenarios/reference.toml"], &["--actuals"]);
    expect_user_error(
        &[
            "settle",
            &scenario(BUNDLED[0]),
            "--actuals",
            &actuals(BUNDLED[0]),
            "--format",
            "xml",
        ],
        &["xml"],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    let good = std::fs::read_to_string(root().join(scenario(BUNDLED[1]))).unwrap();
    let bad = good.replacen("period = \"half-year\"", "period = \"fortnight\"", 1);
    assert_ne!(
        good, bad,
        "the bundled scenario should state its period length"
    );
    std::fs::write(&p, bad).unwrap();
    expect_user_error(
        &["validate", p.to_str().unwrap()],
        &["s.toml:48:", "contract.period", "fortnight", "quarter"],
    );
    let bin = dir.path().join("b.toml");
    std::fs::write(&bin, [0xff, 0xfe, 0x00, 0x12]).unwrap();
    expect_user_error(&["validate", bin.to_str().unwrap()], &["not UTF-8"]);
}

#[test]
fn help_and_version_succeed() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("settle"));
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));
    let _ = Path::new(".");
}

#[test]
fn simulate_prints_a_summary_and_writes_identical_results_on_any_thread_count() {
    let o = run(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "2000",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for s in [
        "Parties",
        "Tranches",
        "Risk distribution",
        "P(repaid)",
        "senior",
        "fund",
        "2,000 trials, seed 7 (",
    ] {
        assert!(out.contains(s), "no `{s}` in\n{out}");
    }
    let one = run(&["simulate", "scenarios/reference.toml", "--trials", "1"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(
        stdout(&one).contains("1 trial, seed 1 ("),
        "{}",
        stdout(&one)
    );
    let dir = tempfile::tempdir().unwrap();
    let mut docs = Vec::new();
    let mut screens = Vec::new();
    for threads in ["1", "2"] {
        let d = dir.path().join(format!("t{threads}"));
        let o = run(&[
            "simulate",
            "scenarios/reference.toml",
            "--trials",
            "3000",
            "--seed",
            "11",
            "--threads",
            threads,
            "--out",
            d.to_str().unwrap(),
            "--trials-out",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        screens.push(stdout(&o));
        docs.push(std::fs::read(d.join("summary.json")).unwrap());
        let trials = std::fs::read_to_string(d.join("trials.csv")).unwrap();
        assert_eq!(
            trials.lines().count(),
            3001,
            "a header and one row per trial"
        );
        assert!(trials.lines().nth(1).unwrap().starts_with("0,"));
        // The last column says whether the recession (probability 0.10) happened.
        assert!(
            trials
                .lines()
                .next()
                .unwrap()
                .ends_with(",repaid_junior,drawn_junior,received_junior,shock_1")
        );
        let hit = trials
            .lines()
            .skip(1)
            .filter(|l| l.ends_with(",true"))
            .count();
        let missed = trials
            .lines()
            .skip(1)
            .filter(|l| l.ends_with(",false"))
            .count();
        assert_eq!(hit + missed, 3000);
        assert!((230..=370).contains(&hit), "{hit} trials with the shock");
        let names = file_names(&d);
        assert_eq!(
            names,
            ["summary.json", "trials.csv"],
            "no temporary file left"
        );
        docs.push(trials.into_bytes());
    }
    assert_eq!(
        docs[0], docs[2],
        "summary.json differs between 1 and 2 threads"
    );
    assert_eq!(
        docs[1], docs[3],
        "trials.csv differs between 1 and 2 threads"
    );
    let v: serde_json::Value = serde_json::from_slice(&docs[0]).unwrap();
    assert_eq!(v["seed"], 11);
    assert_eq!(v["trials"], 3000);
    assert_eq!(v["sibsim_version"], env!("CARGO_PKG_VERSION"));
    // The screen states the largest error of the amount percentiles it shows (P5, P50 and P95
    // of the outcome payments, each party's net, each payer's business case and the social
    // return) and of the expected shortfalls, as summary.json has them.
    let r = &v["results"];
    let b = &r["business_case"];
    assert!(b["total_impact"]["errors"].is_array(), "{b}");
    let shown = std::iter::once(&r["outcome_payments"])
        .chain(r["parties"].as_array().unwrap().iter().map(|p| &p["net"]))
        .chain(b["payers"].as_array().unwrap().iter().map(|p| &p["net"]))
        .chain([&b["all_payers"]["net"], &b["total_impact"]]);
    let es = r["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["expected_shortfall95_error"].as_f64().unwrap());
    let error = shown
        .flat_map(|s| [1, 4, 7].map(|i| s["errors"][i].as_f64().unwrap()))
        .chain(es)
        .fold(0.0, f64::max);
    assert!(error > 0.0);
    let said = format!("percentiles and ES each within {error:.2} of exact");
    assert!(screens[0].contains(&said), "no `{said}` in\n{}", screens[0]);
}

#[test]
fn simulate_outputs_are_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    // An output folder that cannot be created: nothing is simulated or written.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("out");
    let simulate_into = |dir: &Path, needles: &[&str]| {
        let d = dir.to_str().unwrap();
        let args = ["simulate", "scenarios/reference.toml", "--trials", "50"];
        expect_user_error(
            &[&args[..], &["--out", d, "--trials-out"]].concat(),
            needles,
        );
    };
    simulate_into(&under_file, &["cannot create the output folder", "a-file"]);
    // trials.csv cannot be put in place (a folder is in the way): the run is refused before
    // it starts, the error names the file, and nothing is written or left behind.
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("trials.csv").join("keep")).unwrap();
    simulate_into(&out, &["cannot write", "trials.csv", "it is a folder"]);
    assert!(out.join("trials.csv").join("keep").is_dir());
    let names = file_names(&out);
    assert_eq!(names, ["trials.csv"]);
}

/// Ids may hold any text: every CSV file the program writes quotes a field with a comma or a
/// quote, so each file reads back with as many fields in every row as in its header (the
/// header of `trials.csv` used to join the party ids as they were).
#[test]
fn csv_outputs_quote_ids_with_commas_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[contract]
name = "ids"
period = "quarter"
periods = 8

[[payers]]
id = "ci,ty\"x"

[[investors]]
id = "ba,nk"

[enterprise]
id = "ent"
fixed_costs = { amount = 1000, from = 1, to = 4 }
per_participant_cost = 100

[[cohorts]]
id = "c,1"
enrol = 1
size = 10

[[outcomes]]
id = "jo,b"
lag = 2
pay_lag = 1
price = 1000

[[tranches]]
id = "lo\"an"
investor = "ba,nk"
committed = 10000
rate = 0.05
rank = 1
drawdowns = { at = [[1, 10000]] }

[uncertainty]
fill = { mean = 0.9, sd = 0.05 }
[uncertainty.outcomes."jo,b"]
rate = { mean = 0.5, sd = 0.1 }
"#;
    let file = dir.path().join("ids.toml");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (out, sweep, tornado, ledger) = (
        at("out"),
        at("sweep.csv"),
        at("tornado.csv"),
        at("ledger.csv"),
    );
    let actuals = at("actuals.csv");
    std::fs::write(
        &actuals,
        "period,outcome,cohort,units\n3,\"jo,b\",\"c,1\",4\n",
    )
    .unwrap();
    let metric = "net_mean:ci,ty\"x";
    for args in [
        vec![
            "simulate",
            f,
            "--trials",
            "20",
            "--out",
            &out,
            "--trials-out",
        ],
        vec![
            "sweep",
            f,
            "--trials",
            "20",
            "--vary",
            "outcomes.0.price=500:1500:3",
            "--metric",
            metric,
            "--out",
            &sweep,
        ],
        vec![
            "tornado", f, "--trials", "20", "--metric", metric, "--out", &tornado,
        ],
        vec![
            "settle",
            f,
            "--actuals",
            &actuals,
            "--format",
            "csv",
            "--out",
            &ledger,
        ],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let trials = Path::new(&out).join("trials.csv");
    for (path, id) in [
        (trials.as_path(), "net_ci,ty\"x"),
        (Path::new(&sweep), metric),
        (Path::new(&tornado), "uncertainty.outcomes.jo,b.rate"),
        (Path::new(&ledger), "ci,ty\"x"),
    ] {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .unwrap();
        let records: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        let n = records[0].len();
        assert!(records.len() > 1, "{}", path.display());
        for rec in &records {
            assert_eq!(
                rec.len(),
                n,
                "{}: {rec:?} against {:?}",
                path.display(),
                records[0]
            );
        }
        assert!(
            records.iter().any(|rec| rec.iter().any(|x| x == id)),
            "{}: no field `{id}`",
            path.display()
        );
    }
    // The tornado's numbers are written as the sweep's (six decimals), not as a float's last
    // digits (`0.00010000000000001994`).
    let text = std::fs::read_to_string(&tornado).unwrap();
    for line in text.lines().skip(1) {
        for cell in line.rsplit(',').take(12) {
            let decimals = cell.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 6, "{cell} in {line}");
        }
    }
}

/// Ctrl-C (SIGINT) during a long run with `--trials-out`: the run stops with status 130, says
/// so, and leaves the output folder as it was (no partial file, no hidden temporary file).
#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = bin()
        .args([
            "simulate",
            "scenarios/reference.toml",
            "--trials",
            "100000000",
        ])
        .args(["--out", out.to_str().unwrap(), "--trials-out"])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sibsim");
    // Wait until the rows are being written (the temporary file exists and has grown).
    let started = std::time::Instant::now();
    let writing = || {
        std::fs::read_dir(&out)
            .is_ok_and(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0)))
    };
    while !writing() {
        assert!(started.elapsed().as_secs() < 60, "no rows written in 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !file_names(&out).is_empty(),
        "a temporary file while running"
    );
    // The shell's own `kill`: there may be no `kill` program on the machine.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .expect("sh");
    assert!(status.success());
    let result = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "stderr: {err}");
    assert!(err.contains("interrupted"), "stderr: {err}");
    assert!(err.contains("not kept"), "stderr: {err}");
    // The output folder was made for this run and kept nothing: it is gone too.
    assert!(!out.exists(), "{:?}", file_names(&out));
}

#[test]
fn simulate_rejects_bad_flags_and_bad_uncertainty() {
    expect_user_error(
        &["simulate", "scenarios/reference.toml", "--trials", "0"],
        &["--trials"],
    );
    expect_user_error(
        &["simulate", "scenarios/reference.toml", "--trials", "-5"],
        &["-5"],
    );
    expect_user_error(
        &["simulate", "scenarios/reference.toml", "--threads", "0"],
        &["--threads"],
    );
    // Each number says what is allowed; a huge thread or trial count (a typo) is refused
    // before any thread starts, and a negative number is a bad value, not an unknown flag.
    for (flag, value, want) in [
        ("--trials", "abc", "a whole number from 1 to 10,000,000,000"),
        ("--trials", "-1", "a whole number from 1 to 10,000,000,000"),
        ("--trials", "1.5", "a whole number from 1 to 10,000,000,000"),
        ("--trials", "10000000001", "from 1 to 10,000,000,000"),
        (
            "--threads",
            "18446744073709551615",
            "a whole number from 1 to 1,024",
        ),
        ("--threads", "-3", "a whole number from 1 to 1,024"),
        ("--seed", "-1", "from 0 to 18,446,744,073,709,551,615"),
    ] {
        let args = ["simulate", "scenarios/reference.toml", flag, value];
        expect_user_error(&args, &[flag, want]);
        assert!(!stderr(&run(&args)).contains("unexpected argument"));
    }
    expect_user_error(
        &["simulate", "scenarios/reference.toml", "--trials-out"],
        &["--out"],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u.toml");
    let good = std::fs::read_to_string(root().join("scenarios/reference.toml")).unwrap();
    let bad = good.replacen("probability = 0.10", "probability = 1.5", 1);
    assert_ne!(good, bad);
    std::fs::write(&p, bad).unwrap();
    expect_user_error(
        &["simulate", p.to_str().unwrap()],
        &["u.toml:", "probability"],
    );
}

#[test]
fn a_simulation_with_an_unsettleable_trial_writes_nothing() {
    // 1,000 half-years at 5%: some trial's claim compounds past the limit.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.toml");
    let good =
        std::fs::read_to_string(root().join("scenarios/colour-kitchen-utrecht.toml")).unwrap();
    let long = good.replacen("periods = 11 ", "periods = 1000 ", 1);
    assert_ne!(good, long);
    std::fs::write(&p, long).unwrap();
    let out = dir.path().join("new-folder");
    expect_user_error(
        &[
            "simulate",
            p.to_str().unwrap(),
            "--trials",
            "200",
            "--out",
            out.to_str().unwrap(),
            "--trials-out",
        ],
        &[
            "the simulation stopped: trial ",
            "could not be settled: period ",
            "with interest would pass 100,000,000,000,000",
            "Nothing was written.",
        ],
    );
    assert!(
        !out.exists(),
        "the folder made for the run is removed again"
    );
    // A folder that was there before is kept, and stays empty.
    std::fs::create_dir(&out).unwrap();
    let o = run(&[
        "simulate",
        p.to_str().unwrap(),
        "--trials",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(file_names(&out), Vec::<String>::new());
}

#[test]
fn comparisons_too_large_for_memory_are_refused_before_they_run() {
    // The most trials allowed (1e10) x figures x variants of 16 bytes is far beyond any
    // machine: a clear error (from the memory check, or from the allocation itself), not an
    // abort.
    let huge = "10000000000";
    expect_user_error(
        &["stress", "scenarios/reference.toml", "--trials", huge],
        &["use fewer --trials", "GB"],
    );
    // The size is written as people write it: `7,200 GB`, not `7200.0 GB`.
    let err = stderr(&run(&[
        "stress",
        "scenarios/reference.toml",
        "--trials",
        huge,
    ]));
    if let Some(at) = err.find(" GB of per-trial values") {
        let size = err[..at].rsplit(' ').next().unwrap();
        assert!(size.contains(',') && !size.ends_with(".0"), "{err}");
    }
    expect_user_error(
        &[
            "sweep",
            "scenarios/reference.toml",
            "--vary",
            "contract.total_cap=1000000:1500000:3",
            "--trials",
            huge,
        ],
        &["use fewer --trials", "GB"],
    );
    expect_user_error(
        &[
            "tornado",
            "scenarios/reference.toml",
            "--metric",
            "payments_mean",
            "--trials",
            huge,
        ],
        &["use fewer --trials", "GB"],
    );
    expect_user_error(
        &[
            "solve",
            "scenarios/reference.toml",
            "--term",
            "contract.total_cap",
            "--target",
            "p_full_repayment:bank >= 0.9",
            "--trials",
            huge,
        ],
        &["use fewer --trials", "GB"],
    );
    // A step that is no number (infinity) is refused as such, not run into "NaN".
    expect_user_error(
        &[
            "solve",
            "scenarios/reference.toml",
            "--term",
            "contract.total_cap",
            "--target",
            "p_full_repayment:bank >= 0.9",
            "--step",
            "inf",
        ],
        &["--step must be a number above 0, got inf"],
    );
}

#[test]
fn simulate_runs_on_every_bundled_scenario() {
    for name in [
        "reference",
        "rotterdam-buzinezzclub",
        "colour-kitchen-utrecht",
    ] {
        let o = run(&["simulate", &scenario(name), "--trials", "500"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("Risk distribution"), "{name}: {out}");
        assert!(out.contains("P(repaid)"), "{name}: {out}");
        // The guarantee column only where a tranche has a guarantee (the reference's senior).
        assert_eq!(
            out.contains("Guarantee"),
            name == "reference",
            "{name}: {out}"
        );
        // One screen: 100 columns, unless ids are long (Colour Kitchen's investors are).
        if name != "colour-kitchen-utrecht" {
            let widest = out.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(widest <= 100, "{name}: {widest} columns\n{out}");
        }
    }
}

/// A bundled actuals file as a contract still running would report it: its comments, header
/// and the rows of periods 1 to `last`.
fn actuals_up_to(name: &str, last: u16) -> String {
    std::fs::read_to_string(root().join(actuals(name)))
        .unwrap()
        .lines()
        .filter(|l| {
            l.starts_with('#')
                || l.starts_with("period")
                || l.split(',').next().and_then(|p| p.parse::<u16>().ok()) <= Some(last)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A file from a contract still running (Rotterdam's actuals up to quarter 8 of 16) gives an
/// interim statement through quarter 8 by default, says why on stderr, and calls no guarantee;
/// its periods are the full statement's; asking to settle past the file into unreported
/// benefit days (a `decrease` outcome, where a missing row would pay the whole forecast) is
/// refused; a complete file settles to the end.
#[test]
fn a_partial_actuals_file_settles_as_an_interim_statement() {
    let name = BUNDLED[0];
    let full_text = std::fs::read_to_string(root().join(actuals(name))).unwrap();
    let partial = actuals_up_to(name, 8);
    assert!(partial.lines().count() < full_text.lines().count());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q8.csv");
    std::fs::write(&p, &partial).unwrap();
    let p = p.to_str().unwrap();
    let sc = scenario(name);

    let o = run(&["settle", &sc, "--actuals", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("settled through period 8 of 16 only (INTERIM"),
        "{text}"
    );
    assert!(text.contains("Principal not yet repaid"), "{text}");
    // The quarter being settled, line by line: each line of period 8 with what it is for.
    let due = text
        .split("Payments in period 8 (the last settled)\n")
        .nth(1)
        .expect("the last period's payments")
        .split("\n\n")
        .next()
        .unwrap();
    assert!(
        due.lines()
            .any(|l| l.starts_with("rotterdam") && l.contains("outcome payment: benefit-days")),
        "{due}"
    );
    // Costs, two cohorts' outcome payments, two distributions.
    assert_eq!(due.lines().count(), 2 + 5, "{due}");
    // Rotterdam pays only what is due: what falls due later is at most what it says.
    assert!(
        text.contains(
            "falling due after period 8 (interim; at most this: pay only what is due may cut it"
        ),
        "{text}"
    );
    // The note says why it stopped, and that settling to the end needs the benefit days of
    // the quarters not reported yet (a missing row would pay the whole forecast).
    let note = stderr(&o);
    assert!(
        note.contains("reports up to period 8")
            && note.contains("Settling to the end needs more rows")
            && note.contains("measured in period 9"),
        "{note}"
    );

    let json = |args: &[&str]| -> serde_json::Value {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let part = json(&["settle", &sc, "--actuals", p, "--format", "json"]);
    let full = json(&[
        "settle",
        &sc,
        "--actuals",
        &actuals(name),
        "--format",
        "json",
    ]);
    assert_eq!(part["final_period"], 8);
    assert_eq!(part["settlement"]["interim"], true);
    assert_eq!(full["final_period"], 16);
    assert_eq!(full["settlement"]["interim"], false);
    // The interim ledger is the full ledger's first 8 periods (the file's rows up to 8 are
    // the full file's), with no guarantee call and no write-off.
    let lines = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["period"].as_u64().unwrap() <= 8)
            .cloned()
            .collect()
    };
    assert_eq!(lines(&part), lines(&full));
    assert_eq!(part["ledger"].as_array().unwrap().len(), lines(&part).len());
    assert!(
        part["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["rule"] != "guarantee-call")
    );
    // Earned = paid + pending (nothing cut or not due by quarter 8 here).
    let money = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let o = &part["outcomes"][0]["result"];
    assert!(money(&part["settlement"]["pending"]) > 0.0);
    assert!(
        (money(&o["earned"]) - money(&o["paid"]) - money(&part["settlement"]["pending"])).abs()
            < 0.005
    );

    // Settling through an earlier period than the file reports is a statement of that period.
    let q5 = json(&[
        "settle",
        &sc,
        "--actuals",
        p,
        "--through",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(q5["final_period"], 5);
    // A CSV ledger cannot say it is interim in its rows: stderr does; a final one says nothing.
    let o = run(&[
        "settle",
        &sc,
        "--actuals",
        p,
        "--through",
        "5",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("an interim ledger through period 5 of 16"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).starts_with("period,from,to,amount"),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        "settle",
        &sc,
        "--actuals",
        &actuals(name),
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("interim"), "{}", stderr(&o));
    // Past the file into unreported benefit days: refused, nothing paid for missing rows.
    expect_user_error(
        &["settle", &sc, "--actuals", p, "--through", "16"],
        &[
            "benefit-days",
            "period 9",
            "after period 8",
            "0 only if the measurement found none",
        ],
    );
    expect_user_error(
        &["settle", &sc, "--actuals", p, "--through", "17"],
        &["--through 17", "1 to 16"],
    );
    expect_user_error(
        &["settle", &sc, "--actuals", p, "--through", "0"],
        &["--through 0", "1 to 16"],
    );
    // Where every outcome is one more is better (Colour Kitchen), the note offers to settle to
    // the end, with unreported measurements as nothing achieved, and that settles.
    let ck = BUNDLED[1];
    let early = actuals_up_to(ck, 3);
    let q = dir.path().join("ck3.csv");
    std::fs::write(&q, early).unwrap();
    let q = q.to_str().unwrap();
    let o = run(&["settle", &scenario(ck), "--actuals", q]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`--through 11` settles to the end"),
        "{}",
        stderr(&o)
    );
    let o = run(&["settle", &scenario(ck), "--actuals", q, "--through", "11"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ran to its last period (11)"),
        "{}",
        stdout(&o)
    );

    // The MKBA from the partial file counts the days saved by quarter 8 only.
    let m = json(&["mkba", &sc, "--actuals", p, "--format", "json"]);
    let ind: f64 = m["table"]["lines"][0]["ind"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let o = &part["outcomes"][0]["result"];
    assert_eq!(ind, money(&o["baseline"]) - money(&o["achieved"]));
}

/// `validate` refuses what `simulate` and `feasibility` would refuse: a bad uncertainty
/// model and a threshold for a node the tree does not have, each at its line; a problem of
/// the file is reported as the file's, not as a stress's.
#[test]
fn validate_checks_the_uncertainty_model_and_the_thresholds() {
    let good = std::fs::read_to_string(root().join("scenarios/reference.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, text: String, needles: &[&str]| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        expect_user_error(&["validate", p.to_str().unwrap()], needles);
    };
    let fill = "fill = { mean = 0.85, sd = 0.08 }";
    assert!(good.contains(fill));
    check(
        "fill.toml",
        good.replacen(fill, "fill = { mean = 1.5, sd = 0.08 }", 1),
        &["uncertainty.fill.mean", "between 0 and 1"],
    );
    check(
        "fill-stress.toml",
        good.replacen(fill, "fill = { mean = 1.5, sd = 0.08 }", 1)
            + "\n[[stresses]]\nid = \"s\"\ndescription = \"d\"\nset = [\"outcomes.housing.price=5\"]\n",
        &["uncertainty.fill.mean"],
    );
    let p = dir.path().join("fill-stress.toml");
    let err = stderr(&run(&["validate", p.to_str().unwrap()]));
    assert!(!err.contains("stresses[0]"), "{err}");
    check(
        "thresholds.toml",
        good + "\n[feasibility]\nthresholds = { nosuch = 1 }\n",
        &["nosuch"],
    );
}

/// A run with `--out` but without `--trials-out` does not pass an earlier run's trials.csv off
/// as its own: it says the file is from an earlier run (and leaves it, as it leaves any file
/// it does not write). One trial has no standard error: the screen says n/a, not ± 0.
#[test]
fn an_earlier_runs_trials_are_named_as_such_and_one_trial_has_no_standard_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let d = out.to_str().unwrap();
    let args = ["simulate", "scenarios/reference.toml", "--trials", "20"];
    let o = run(&[&args[..], &["--out", d, "--trials-out"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("earlier run"), "{}", stderr(&o));
    let o = run(&[
        "simulate",
        "scenarios/reference.toml",
        "--trials",
        "1",
        "--out",
        d,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("trials.csv is from an earlier run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(file_names(&out), ["summary.json", "trials.csv"]);
    let screen = stdout(&o);
    assert!(screen.contains("± n/a"), "{screen}");
    assert!(
        !screen.contains("± 0,") && !screen.contains("± 0\n"),
        "{screen}"
    );
}

/// The screen says why contracts end early: the enterprise out of cash, or a checkpoint.
#[test]
fn the_screen_splits_early_terminations_by_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let reference = std::fs::read_to_string("scenarios/reference.toml").unwrap();
    let at = "[participant_cap]";
    assert!(reference.contains(at));
    let text = reference.replacen(
        at,
        "[[checkpoints]]\nperiod = 6\noutcome = \"work\"\nmin_rate = 0.4\n\n[participant_cap]",
        1,
    );
    let file = dir.path().join("checkpoint.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "simulate",
        file.to_str().unwrap(),
        "--trials",
        "2000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let screen = stdout(&o);
    let line = screen
        .lines()
        .find(|l| l.starts_with("Early termination:"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("a checkpoint fails in"), "{line}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let all = v["results"]["prob_early_termination"].as_f64().unwrap();
    let cash = v["results"]["prob_out_of_cash"].as_f64().unwrap();
    assert!(
        all > cash + 0.05,
        "checkpoints end some trials: {all} against {cash}"
    );
}

/// A closed standard output (`sibsim validate ... | head -1` after head has exited) ends the
/// command quietly: no panic, no backtrace.
#[test]
fn a_closed_standard_output_is_not_a_panic() {
    for args in [
        &["validate", "scenarios/reference.toml"][..],
        &["figures"][..],
        &["simulate", "scenarios/reference.toml", "--trials", "100"][..],
        &[
            "settle",
            "scenarios/rotterdam-buzinezzclub.toml",
            "--actuals",
            "scenarios/rotterdam-buzinezzclub.actuals.csv",
        ][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = bin()
            .args(args)
            .current_dir(root())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// A final statement says what happens to a claim left unpaid at the end.
#[test]
fn a_statement_explains_a_claim_unpaid_at_the_end() {
    let o = run(&[
        "settle",
        "scenarios/colour-kitchen-utrecht.toml",
        "--actuals",
        "scenarios/colour-kitchen-utrecht.actuals.csv",
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("tranche `start-junior`:")
            && out.contains("of its claim unpaid at the end (its principal was repaid"),
        "{out}"
    );
}

/// The report's command that reproduces it carries the options that shaped it.
#[test]
fn the_report_reproduces_with_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let o = bin()
        .current_dir(root())
        .args([
            "report",
            "scenarios/small-bond-scale.toml",
            "--trials",
            "300",
            "--tornado",
            "payments_mean",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).unwrap();
    let written = out.display().to_string();
    // Words a shell reads as they are stay unquoted (the HTML escapes any quote).
    let want = format!(
        "--tornado payments_mean --out {}",
        sibsim::report::shell_word(&written)
    );
    assert!(
        html.contains(&want) || html.contains(&want.replace('\'', "&#39;")),
        "reproduce command: {want}"
    );
}

/// A contract of one quarter with one participant is described in the singular by `validate`
/// and `settle`.
#[test]
fn validate_and_settle_count_one_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("one.toml");
    std::fs::write(
        &toml,
        "[contract]\nname = \"One\"\nperiods = 1\nperiod = \"quarter\"\nremainder = \"enterprise\"\n[[payers]]\nid = \"city\"\n[enterprise]\nid = \"provider\"\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 1\n[[outcomes]]\nid = \"job\"\nlag = 0\nprice = 100\n",
    )
    .unwrap();
    let csv = dir.path().join("one.csv");
    std::fs::write(&csv, "period,cohort,outcome,units\n1,c1,job,1\n").unwrap();
    let (toml, csv) = (toml.to_str().unwrap(), csv.to_str().unwrap());
    let o = run(&["validate", toml]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("One: 1 quarter, 1 cohort with 1 participant, 1 outcome"),
        "{out}"
    );
    let o = run(&["settle", toml, "--actuals", csv]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Settlement statement: One (EUR, 1 quarter)"),
        "{out}"
    );
    assert!(out.contains("2 ledger lines;"), "{out}");
}

/// `settle` says what it assumed of, or left out from, the actuals: periods settled that the
/// file does not report (their measurements count as 0), rows after `--through`, and rows
/// after an early termination, which are not paid. On stderr always; in the statement's notes
/// when it is final. The settlement itself is unchanged.
#[test]
fn settle_notes_unreported_periods_and_unsettled_rows() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    // (a) Settled to the end past the file's last period.
    let csv = write(
        "ref.csv",
        "period,cohort,outcome,units,participant\n1,q1,enrolled,40,\n6,q1,sustained6,1,P1\n4,q1,work,1,P1\n",
    );
    let sc = scenario("reference");
    let o = run(&["settle", &sc, "--actuals", &csv, "--through", "24"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = "reports up to period 6, and periods 7 to 24 settled here are not reported: the measurements of `housing`, `work`, `sustained6`, `sustained12`, `no-escalation` in them count as 0, as if nothing had been achieved";
    assert!(
        stderr(&o).contains(&format!("note: {csv} {want}.")),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains(&format!("\n- {csv} {want}\n")),
        "{}",
        stdout(&o)
    );
    // An interim statement past the file: on stderr only; one up to the file's last period
    // assumes nothing.
    let o = run(&["settle", &sc, "--actuals", &csv, "--through", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("and period 7 settled here is not reported: the measurements of `housing`, `work`, `sustained6`, `no-escalation` in it count as 0"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("not reported"), "{}", stdout(&o));
    let o = run(&["settle", &sc, "--actuals", &csv]);
    assert!(!stderr(&o).contains("not reported"), "{}", stderr(&o));

    // (b) Rows after --through.
    let name = BUNDLED[0];
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--through",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "note: 13 rows of {} for periods 6 to 13 are not settled: this statement settles through period 5.",
            actuals(name)
        )),
        "{}",
        stderr(&o)
    );
    let o = run(&["settle", &scenario(name), "--actuals", &actuals(name)]);
    assert!(!stderr(&o).contains("not settled"), "{}", stderr(&o));

    // (c) Rows after an early termination (a checkpoint in period 2 not met).
    let toml = write(
        "ck.toml",
        "[contract]\nname = \"ck\"\nperiods = 5\nperiod = \"quarter\"\n[[payers]]\nid = \"gemeente\"\n[[investors]]\nid = \"bank\"\n[enterprise]\nid = \"se\"\nfixed_costs = { amount = 1000 }\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 20\n[[cohorts]]\nid = \"c2\"\nenrol = 2\nsize = 20\n[[cohorts]]\nid = \"c3\"\nenrol = 3\nsize = 20\n[[outcomes]]\nid = \"job\"\nlag = 1\npay_lag = 1\nprice = 1000\n[[checkpoints]]\nperiod = 2\noutcome = \"job\"\nmin_rate = 0.3\n[[tranches]]\nid = \"loan\"\ninvestor = \"bank\"\ncommitted = 10000\nrank = 1\ndrawdowns = { at = [[1, 5000], [3, 5000]] }\n",
    );
    let head = "period,cohort,outcome,units\n2,c1,job,4\n";
    let short = write("short.csv", head);
    let long = write(
        "long.csv",
        &format!("{head}3,c2,job,12\n3,c3,enrolled,18\n4,c3,job,5\n"),
    );
    let o = run(&["settle", &toml, "--actuals", &long]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = format!(
        "the contract terminated early in period 2, so 3 rows of {long} for periods 3 to 4 (units: `job` 17) are not settled: nothing measured after period 2 is paid"
    );
    assert!(
        stderr(&o).contains(&format!("note: {want}.")),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("TERMINATED EARLY in period 2"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("\n- {want}\n")),
        "{}",
        stdout(&o)
    );
    // The same ledger as without those rows.
    let ledger = |csv: &str| {
        stdout(&run(&[
            "settle",
            &toml,
            "--actuals",
            csv,
            "--format",
            "csv",
        ]))
    };
    assert_eq!(ledger(&long), ledger(&short));
    assert!(!stderr(&run(&["settle", &toml, "--actuals", &short])).contains("not settled"));
}

/// The JSON statement carries the notes a person reads on stderr, and an interim one leaves
/// the periods it has not settled empty (`null`), not zero.
#[test]
fn a_json_statement_carries_its_notes_and_no_figures_past_an_interim_stop() {
    let name = BUNDLED[0];
    let json = |extra: &[&str]| -> serde_json::Value {
        let o = run(&[
            &[
                "settle",
                &scenario(name),
                "--actuals",
                &actuals(name),
                "--format",
                "json",
            ][..],
            extra,
        ]
        .concat());
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let interim = json(&["--through", "5"]);
    let notes = interim["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .contains("are not settled: this statement settles through period 5")
    );
    for p in interim["parties"].as_array().unwrap() {
        let by = p["by_period"].as_array().unwrap();
        assert!(by[..5].iter().all(|x| x.is_string()), "{by:?}");
        assert!(by[5..].iter().all(|x| x.is_null()), "{by:?}");
    }
    let whole = json(&[]);
    assert!(whole["notes"].as_array().unwrap().is_empty());
    for p in whole["parties"].as_array().unwrap() {
        assert!(
            p["by_period"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x.is_string())
        );
    }
}

/// A quantity written like a whole number with a point between thousands (`6.300`, as a
/// spreadsheet with Dutch settings saves 6,300 benefit days) is read as written, with a note
/// at its line and column on stderr; the bundled actuals have none.
#[test]
fn settle_notes_a_number_that_looks_like_thousands() {
    let dir = tempfile::tempdir().unwrap();
    let name = "rotterdam-buzinezzclub";
    let text = std::fs::read_to_string(root().join(actuals(name))).unwrap();
    let changed = text.replacen(
        "\n3,cohort-1,benefit-days,6300,",
        "\n3,cohort-1,benefit-days,6.300,",
        1,
    );
    assert_ne!(changed, text);
    let line = changed.lines().position(|l| l.contains("6.300")).unwrap() + 1;
    let path = dir.path().join("a.csv");
    std::fs::write(&path, changed).unwrap();
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "a.csv:{line}:25: column units: `6.300` is read as 6.3; if the point separates thousands, write 6300"
        )),
        "{}",
        stderr(&o)
    );
    // The JSON statement carries it too, and three decimals not ending in 0 are noted
    // alike (`3.912` days for 3,912).
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        doc["notes"].to_string().contains("`6.300` is read as 6.3"),
        "{}",
        doc["notes"]
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("6.300", "6.312", 1);
    std::fs::write(&path, text).unwrap();
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        path.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o)
            .contains("`6.312` is read as 6.312; if the point separates thousands, write 6312"),
        "{}",
        stderr(&o)
    );
    let o = run(&["settle", &scenario(name), "--actuals", &actuals(name)]);
    assert!(
        !stderr(&o).contains("separates thousands"),
        "{}",
        stderr(&o)
    );
}

/// `validate` shows the per-participant cap, and says where it binds whatever happens: an
/// outcome priced above it, or one-off prices adding up past it (a new user's sweep of a price
/// above the cap changed nothing, with nothing to say why).
#[test]
fn validate_shows_where_the_participant_cap_binds() {
    let o = run(&["validate", &scenario("reference")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "per-participant cap EUR 9,000.00 over `housing`, `work`, `sustained6`, `sustained12`"
        ),
        "{out}"
    );
    assert!(
        out.contains("add up to EUR 11,000.00, above the per-participant cap"),
        "{out}"
    );
    assert!(!out.contains("is priced"), "{out}");
    let text = std::fs::read_to_string(root().join("scenarios/reference.toml"))
        .unwrap()
        .replacen("amount = 9_000", "amount = 3_500", 1);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cap.toml");
    std::fs::write(&p, text).unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(
        out.contains("`sustained6` is priced EUR 4,000.00, above the per-participant cap: a participant is paid at most 3,500.00 for it"),
        "{out}"
    );
    assert!(!out.contains("`work` is priced"), "{out}");
    // A contract without the cap says nothing of it.
    let out = stdout(&run(&["validate", &scenario("rotterdam-buzinezzclub")]));
    assert!(!out.contains("per-participant cap"), "{out}");
}

/// The JSON statement's ledger carries what each line is for as fields (outcome, cohort,
/// tranche, fee, inflow guarantee), the same as the CSV's columns, line by line; and an interim
/// statement's payments due later say what they pay for too (a new user could not reconcile
/// them without parsing English text).
#[test]
fn the_json_ledger_has_the_csv_columns_as_fields() {
    let sc = scenario(BUNDLED[0]);
    let act = actuals(BUNDLED[0]);
    let o = run(&["settle", &sc, "--actuals", &act, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let o = run(&["settle", &sc, "--actuals", &act, "--format", "csv"]);
    let text = stdout(&o);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let lines = v["ledger"].as_array().unwrap();
    assert_eq!(rows.len(), lines.len());
    let mut kinds = std::collections::BTreeSet::new();
    for (row, line) in rows.iter().zip(lines) {
        for (col, key) in [
            (5, "outcome"),
            (6, "cohort"),
            (7, "tranche"),
            (8, "fee"),
            (9, "inflow_guarantee"),
        ] {
            let field = line.get(key).and_then(|x| x.as_str()).unwrap_or("");
            assert_eq!(field, &row[col], "{key} of {line}");
            if !field.is_empty() {
                kinds.insert(key);
            }
        }
    }
    assert!(
        kinds.contains("outcome") && kinds.contains("tranche"),
        "{kinds:?}"
    );
    let o = run(&[
        "settle",
        &sc,
        "--actuals",
        &act,
        "--through",
        "6",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let pending = v["pending"].as_array().unwrap();
    assert!(!pending.is_empty());
    for p in pending {
        assert_eq!(p["rule"], "outcome-payment", "{p}");
        assert!(p["outcome"].is_string() && p["cohort"].is_string(), "{p}");
    }
}

/// Under a remainder rule that pays the account out every period, `validate` notes a fee that
/// falls due after the last period money comes in: it would stay owed (a new user's assessor
/// lost its last fees in 99.9% of trials with no warning). Under `hold`, no note.
#[test]
fn validate_notes_a_fee_after_the_money_under_a_paying_out_remainder() {
    let base = std::fs::read_to_string(root().join("scenarios/reference.toml")).unwrap();
    let fee = "\n[[fee_recipients]]\nid = \"assessor\"\n\n[[fees]]\nid = \"audit\"\npayee = \"assessor\"\nschedule = { amount = 1000, from = 1, to = 24 }\n";
    let dir = tempfile::tempdir().unwrap();
    let check = |remainder: &str, note: bool| {
        let line = base
            .lines()
            .find(|l| l.starts_with("remainder = "))
            .unwrap();
        let text = base.replacen(line, &format!("remainder = \"{remainder}\""), 1) + fee;
        let p = dir.path().join(format!("{remainder}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = run(&["validate", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(
            out.contains(&format!(
                "note: fee `audit` falls due after period 16, the last in which money comes in, and `remainder = \"{remainder}\"` pays the account out every period"
            )),
            note,
            "{out}"
        );
    };
    check("return-to-payers", true);
    check("enterprise", true);
    check("hold", false);
}

/// A statement splits what each tranche was repaid into principal and interest or return,
/// on the screen and in the JSON, and the two add up to the distributions.
#[test]
fn settle_splits_repayments_into_principal_and_return() {
    for name in BUNDLED {
        let text = stdout(&run(&[
            "settle",
            &scenario(name),
            "--actuals",
            &actuals(name),
        ]));
        let repaid = text
            .lines()
            .find(|l| l.starts_with("Repaid: "))
            .unwrap_or_else(|| panic!("{name}: no repaid line\n{text}"));
        assert!(
            text.contains("Distributions repay principal first"),
            "{text}"
        );
        let o = run(&[
            "settle",
            &scenario(name),
            "--actuals",
            &actuals(name),
            "--format",
            "json",
        ]);
        assert!(o.status.success());
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for t in doc["tranches"].as_array().unwrap() {
            let cents = |v: &serde_json::Value| -> i64 {
                let s = v.as_str().unwrap_or_else(|| panic!("{v}"));
                (s.parse::<f64>().unwrap() * 100.0).round() as i64
            };
            let (p, r) = (cents(&t["principal_repaid"]), cents(&t["return_paid"]));
            let d = cents(&t["result"]["distributed"]);
            assert_eq!(p + r, d, "{name}: {t}");
            assert!(p >= 0 && r >= 0, "{t}");
            assert_eq!(t["allocation"], "principal-first");
            let id = t["id"].as_str().unwrap();
            if d > 0 {
                assert!(
                    repaid.contains(&format!("{id} principal {}", sibsim_thousands(p))),
                    "{repaid}"
                );
            }
        }
    }
}

/// Cents as a statement writes them: thousands separated by commas, two decimals.
fn sibsim_thousands(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{out}.{:02}", cents % 100)
}

/// What a quarterly report can get wrong without being invalid is noted, on stderr and in the
/// JSON statement's notes: a measured cell left out before the last reported period (counted
/// as 0), an enrolment above the target, a cohort's enrolment missing where the others have
/// theirs. The statement shows the enrolment it used.
#[test]
fn settle_notes_gaps_and_enrolment_a_report_may_get_wrong() {
    let name = "colour-kitchen-utrecht";
    let text = std::fs::read_to_string(root().join(actuals(name))).unwrap();
    let changed = text
        .replacen("\n6,k2017,diploma,6\n", "\n", 1)
        .replacen("\n3,k2017,enrolled,40\n", "\n3,k2017,enrolled,44\n", 1)
        .replacen("\n5,k2018,enrolled,36\n", "\n", 1);
    assert_eq!(changed.lines().count() + 2, text.lines().count());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.csv");
    std::fs::write(&p, &changed).unwrap();
    let p = p.to_str().unwrap();
    let o = run(&["settle", &scenario(name), "--actuals", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "has no row for 1 measurement up to its last reported period 10; it counts as 0 units",
        "period 6 (`diploma` of k2017)",
        "reports cohort `k2017` enrolled 44, above its target of 40",
        "reports the enrolment of other cohorts but not of `k2018` (target 40): it counts at its target",
    ] {
        assert!(err.contains(want), "`{want}` not in\n{err}");
    }
    let out = stdout(&o);
    let cohorts = out.split("\nCohorts (").nth(1).expect("a cohort table");
    let row = |id: &str| -> Vec<String> {
        cohorts
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("k2016"),
        ["k2016", "period", "1", "40", "38", "reported"]
    );
    assert_eq!(
        row("k2017"),
        ["k2017", "period", "3", "40", "44", "reported"]
    );
    assert_eq!(row("k2018"), ["k2018", "period", "5", "40", "40", "target"]);
    // The JSON carries the same notes and the enrolment.
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        p,
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let notes = doc["notes"].to_string();
    assert!(notes.contains("above its target of 40"), "{notes}");
    assert!(notes.contains("period 6 (`diploma` of k2017)"), "{notes}");
    let k2018 = &doc["cohorts"][2];
    assert_eq!(k2018["id"], "k2018");
    assert_eq!(k2018["enrolled"], 40);
    assert_eq!(k2018["reported"], false);
    // The bundled file, complete, has none of these notes.
    let o = run(&["settle", &scenario(name), "--actuals", &actuals(name)]);
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
}

/// A forecast made for a cohort's target is noted when the cohort enrolled otherwise and
/// the file reports no re-run forecast for its measurements.
#[test]
fn settle_notes_a_forecast_kept_for_a_cohort_that_enrolled_otherwise() {
    let name = "rotterdam-buzinezzclub";
    let text = std::fs::read_to_string(root().join(actuals(name))).unwrap();
    // Drop the re-run forecasts: keep only the first four fields of each data row.
    let changed: String = text
        .lines()
        .map(|l| {
            if l.starts_with('#') || l.is_empty() {
                l.to_string()
            } else {
                l.split(',').take(4).collect::<Vec<_>>().join(",")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.csv");
    std::fs::write(&p, &changed).unwrap();
    let o = run(&["settle", &scenario(name), "--actuals", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cohort `cohort-2` enrolled 76 against its target of 80, but")
            && err.contains("the contract's forecast for 80 people is used there"),
        "{err}"
    );
}

/// `settle --against` compares a settlement with a statement booked earlier: the same file
/// agrees to the cent; a late correction to an earlier quarter shows each party's restated
/// flow and difference, on the screen and in the JSON; a statement of another contract is
/// refused.
#[test]
fn settle_against_a_booked_statement_shows_what_is_restated() {
    let name = "rotterdam-buzinezzclub";
    let dir = tempfile::tempdir().unwrap();
    let booked = dir.path().join("q6.json");
    let q6 = dir.path().join("q6.csv");
    std::fs::write(&q6, actuals_up_to(name, 6)).unwrap();
    let q6 = q6.to_str().unwrap();
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        q6,
        "--format",
        "json",
        "--out",
        booked.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let booked = booked.to_str().unwrap();
    // The same report again: nothing restated.
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        q6,
        "--against",
        booked,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("periods 1 to 6 agree with it to the cent; nothing is restated"),
        "{}",
        stdout(&o)
    );
    // The quarter 7 report corrects quarter 4's benefit days (paid in period 5).
    let q7 = actuals_up_to(name, 7);
    let row = q7
        .lines()
        .find(|l| l.starts_with("4,cohort-1,benefit-days,"))
        .unwrap()
        .to_string();
    let mut fields: Vec<String> = row.split(',').map(str::to_string).collect();
    let units: i64 = fields[3].parse().unwrap();
    fields[3] = (units + 200).to_string();
    let corrected = q7.replacen(&row, &fields.join(","), 1);
    assert_ne!(corrected, q7);
    let q7 = dir.path().join("q7.csv");
    std::fs::write(&q7, corrected).unwrap();
    let q7 = q7.to_str().unwrap();
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        q7,
        "--against",
        booked,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        stderr(&o).contains("RESTATED: period 5 differs"),
        "{}",
        stderr(&o)
    );
    let section = out.split("RESTATED against").nth(1).expect("a restatement");
    // The section ends at the first blank line (later tables have rows of period 5 too).
    let section = section.split("\n\n").next().unwrap();
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("5 ")).collect();
    assert_eq!(rows.len(), 3, "{section}");
    // 200 more benefit days used: 200 x 30 less paid by Rotterdam, split between the lenders.
    assert!(
        section.contains("rotterdam 6,000.00, abn-amro -3,000.00, start-foundation -3,000.00"),
        "{section}"
    );
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        q7,
        "--against",
        booked,
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let restated = doc["against"]["restated"].as_array().unwrap();
    assert_eq!(restated.len(), 3);
    let sum: f64 = restated
        .iter()
        .map(|r| r["difference"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(
        sum.abs() < 1e-9,
        "differences of a closed system add up to 0: {sum}"
    );
    // A statement of another contract is refused.
    let other = dir.path().join("ck.json");
    let ck = "colour-kitchen-utrecht";
    let o = run(&[
        "settle",
        &scenario(ck),
        "--actuals",
        &actuals(ck),
        "--format",
        "json",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    expect_user_error(
        &[
            "settle",
            &scenario(name),
            "--actuals",
            q7,
            "--against",
            other.to_str().unwrap(),
        ],
        &["--against", "it is a statement of `", "not of `Rotterdam"],
    );
}

/// Settles the bundled contract `name`'s actuals into a JSON statement at `path` (a booked
/// statement for `--against`).
fn write_statement(name: &str, path: &Path) {
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--format",
        "json",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `settle --against` refuses a booked flow beyond what any settlement books (100 times the
/// amount limit, either way) naming the file, the party and the period: `i64::MIN` cents
/// panicked on the difference. Booked flows at that bound in every period are compared, and
/// each party's difference over the periods, past `i64` cents, is added up exactly.
#[test]
fn settle_against_refuses_booked_amounts_beyond_what_a_settlement_books() {
    let name = "rotterdam-buzinezzclub";
    let dir = tempfile::tempdir().unwrap();
    let booked = dir.path().join("booked.json");
    write_statement(name, &booked);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&booked).unwrap()).unwrap();
    let with_rotterdam = |f: &dyn Fn(usize, &mut serde_json::Value)| {
        let mut d = doc.clone();
        let p = d["parties"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["id"] == "rotterdam")
            .unwrap();
        for (k, v) in p["by_period"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            f(k, v);
        }
        let path = dir.path().join("edited.json");
        std::fs::write(&path, d.to_string()).unwrap();
        path
    };
    for bad in [
        "-92233720368547758.08",
        "92233720368547758.07",
        "-10000000000000000.01",
    ] {
        let path = with_rotterdam(&|k, v| {
            if k == 1 {
                *v = serde_json::json!(bad);
            }
        });
        expect_user_error(
            &[
                "settle",
                &scenario(name),
                "--actuals",
                &actuals(name),
                "--against",
                path.to_str().unwrap(),
            ],
            &[
                "edited.json",
                &format!(
                    "party `rotterdam`, period 2: \"{bad}\" is beyond what a settlement books"
                ),
                "at most 10,000,000,000,000,000.00 either way in a period",
            ],
        );
    }
    // At the bound in every period: accepted, and the difference over the periods is exact.
    let now_cents: i128 = {
        let p = doc["parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "rotterdam")
            .unwrap();
        p["by_period"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap()
                    .replace('.', "")
                    .parse::<i128>()
                    .unwrap()
            })
            .sum()
    };
    let mut n = 0;
    let path = with_rotterdam(&|_, v| *v = serde_json::json!("-10000000000000000.00"));
    for v in doc["parties"].as_array().unwrap() {
        if v["id"] == "rotterdam" {
            n = v["by_period"].as_array().unwrap().len() as i128;
        }
    }
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--against",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = now_cents + n * 1_000_000_000_000_000_000;
    assert!(want > i64::MAX as i128, "the test passes i64");
    let shown = sibsim::money::format_thousands_wide(want);
    assert!(
        stdout(&o).contains(&format!("rotterdam {shown}")),
        "rotterdam {shown} in\n{}",
        stdout(&o)
    );
}

/// A payer that has paid nothing yet is still shown: in the cash flows and the parties table
/// of an early interim statement.
#[test]
fn a_payer_that_has_not_paid_yet_is_shown() {
    let name = "rotterdam-buzinezzclub";
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--through",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let flows = out.split("Cash flows by period\n").nth(1).unwrap();
    assert!(
        flows.lines().next().unwrap().contains("rotterdam"),
        "{flows}"
    );
    let parties = out.split("\nParties\n").nth(1).unwrap();
    let row = parties
        .lines()
        .find(|l| l.starts_with("rotterdam"))
        .unwrap();
    assert!(row.ends_with("0.00") && row.contains("payer"), "{row}");
}

/// `--against` compares a final statement over every period (an early end books nothing
/// after it), and refuses a booked file not as `settle` wrote it.
#[test]
fn settle_against_reads_only_statements_as_settle_wrote_them() {
    let name = "rotterdam-buzinezzclub";
    let dir = tempfile::tempdir().unwrap();
    let booked = dir.path().join("final.json");
    write_statement(name, &booked);
    // Against itself: all 16 periods agree.
    let o = run(&[
        "settle",
        &scenario(name),
        "--actuals",
        &actuals(name),
        "--against",
        booked.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).contains("periods 1 to 16 agree with it to the cent"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&booked).unwrap();
    let edits: [(&str, String, &str); 4] = [
        (
            "an unknown party",
            text.replacen("\"id\": \"rotterdam\",", "\"id\": \"rotterdam2\",", 1),
            "it has a party `rotterdam2` the contract does not have",
        ),
        (
            "a number not in cents",
            text.replacen("\"-6000.00\"", "\"-6.0e3\"", 1),
            "is not an amount in cents as a string",
        ),
        (
            "a number, not a string",
            text.replacen("\"-6000.00\"", "-6000.00", 1),
            "is not an amount in cents as a string",
        ),
        (
            "a different contract",
            text.replacen("\"contract\": \"Rotterdam", "\"contract\": \"Utrecht", 1),
            "it is a statement of `Utrecht",
        ),
    ];
    for (what, edited, want) in edits {
        assert_ne!(edited, text, "{what}: the edit should apply");
        let p = dir.path().join("edited.json");
        std::fs::write(&p, edited).unwrap();
        expect_user_error(
            &[
                "settle",
                &scenario(name),
                "--actuals",
                &actuals(name),
                "--against",
                p.to_str().unwrap(),
            ],
            &["--against", want],
        );
    }
}

/// A scenario from a pipe is read once: `validate` and `feasibility` check it twice (its
/// terms, its decision-tree thresholds) and saw nothing the second time.
#[test]
fn a_scenario_from_a_pipe_is_read_once() {
    if !Path::new("/dev/stdin").exists() {
        return;
    }
    for args in [
        &["validate", "/dev/stdin"][..],
        &["feasibility", "/dev/stdin", "--trials", "100"][..],
    ] {
        use std::io::Write;
        let mut child = bin()
            .args(args)
            .current_dir(root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let text = std::fs::read(root().join("scenarios/reference.toml")).unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

/// `simulate` says what interest-first means for a tranche's loss, and only where a tranche
/// has it.
#[test]
fn simulate_explains_an_interest_first_tranche() {
    let args = ["simulate", "scenarios/reference.toml", "--trials", "300"];
    let plain = stdout(&run(&args));
    assert!(!plain.contains("interest first"), "{plain}");
    let mut with = args.to_vec();
    with.extend(["--set", "tranches.senior.allocation=interest-first"]);
    let o = run(&with);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("senior counts its distributions interest first"),
        "{}",
        stdout(&o)
    );
}

/// `validate --set` checks a variant before it is simulated: a change the scenario refuses is
/// an error at its field, one it accepts is valid and says with what.
#[test]
fn validate_checks_a_variant_with_set() {
    let ok = run(&[
        "validate",
        "scenarios/reference.toml",
        "--set",
        "contract.total_cap=2000000",
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok)
            .contains("scenarios/reference.toml is valid with --set contract.total_cap=2000000.")
    );
    assert!(
        stdout(&ok).contains("total cap 2,000,000.00"),
        "{}",
        stdout(&ok)
    );
    expect_user_error(
        &[
            "validate",
            "scenarios/reference.toml",
            "--set",
            "tranches.junior.committed=200000",
        ],
        &[
            "tranches[1].committed: drawdowns add up to",
            "(after --set tranches.junior.committed=200000)",
        ],
    );
}

/// What the reliability audit found unclear: `sibsim` alone shows its help as a usage error
/// (exit 2) without calling the help an error; `feasibility --print-tree` needs no scenario;
/// a sweep's STEPS too large and a folder that is a device say so.
#[test]
fn usage_edges_say_what_they_are() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("Usage: sibsim <COMMAND>") && !e.starts_with("error"),
        "{e}"
    );
    let alone = run(&["feasibility", "--print-tree"]);
    let with = run(&["feasibility", "scenarios/reference.toml", "--print-tree"]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert_eq!(alone.stdout, with.stdout);
    assert!(stdout(&alone).contains("Rotterdam"));
    expect_user_error(
        &[
            "sweep",
            "scenarios/reference.toml",
            "--vary",
            "contract.total_cap=1000:2000:18446744073709551616",
        ],
        &["STEPS is the number of points, from 2 to 1000; got 18446744073709551616"],
    );
    expect_user_error(&["feasibility"], &["<SCENARIO>"]);
    if Path::new("/dev/null").exists() {
        expect_user_error(
            &["simulate", "scenarios/reference.toml", "--out", "/dev/null"],
            &["a device, pipe or socket, not a folder"],
        );
    }
}

/// `validate` notes terms that can never pay: a deferred fee falling due after the last
/// money comes in when the remainder is paid out every period, and a performance share
/// under pay only what is due; a fee recipient paid nothing still appears among the parties.
#[test]
fn validate_notes_terms_that_can_never_pay() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[contract]
name = "dead terms"
periods = 6
period = "quarter"
remainder = "return-to-payers"
[[payers]]
id = "city"
[[investors]]
id = "bank"
[[fee_recipients]]
id = "assessor"
[enterprise]
id = "se"
deferred_fees = { at = [[6, 1000]] }
[[cohorts]]
id = "c1"
enrol = 1
size = 10
[[outcomes]]
id = "job"
lag = 1
price = 1000
[[fees]]
id = "audit"
payee = "assessor"
schedule = { at = [[6, 500]] }
[[tranches]]
id = "loan"
investor = "bank"
committed = 1000
rank = 1
drawdowns = { at = [[1, 1000]] }
"#;
    let f = dir.path().join("dead.toml");
    std::fs::write(&f, text).unwrap();
    let o = run(&["validate", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("fee `audit` and the enterprise's deferred fee fall due after period 2"),
        "{out}"
    );
    let share = text
        .replace("remainder = \"return-to-payers\"", "pay_only_due = true")
        .replace(
            "deferred_fees = { at = [[6, 1000]] }",
            "performance_share = 0.2",
        );
    std::fs::write(&f, &share).unwrap();
    let out = stdout(&run(&["validate", f.to_str().unwrap()]));
    assert!(
        out.contains("`performance_share`: it will never be paid"),
        "{out}"
    );
    // The assessor is paid nothing (its fee falls due after the money is paid out) but is
    // listed with the parties.
    std::fs::write(&f, text).unwrap();
    let a = dir.path().join("a.csv");
    std::fs::write(&a, "period,cohort,outcome,units\n2,c1,job,3\n").unwrap();
    let o = run(&[
        "settle",
        f.to_str().unwrap(),
        "--actuals",
        a.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let parties = out.split("\nParties\n").nth(1).unwrap();
    assert!(
        parties
            .lines()
            .any(|l| l.starts_with("assessor ") && l.contains("fee recipient")),
        "{parties}"
    );
}

/// An actuals file with its header and no rows yet settles the first period as an interim
/// statement, and the note says the file reports no period yet (not "up to period 0").
#[test]
fn an_actuals_file_without_rows_is_said_to_report_no_period_yet() {
    let name = BUNDLED[0];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("none.csv");
    std::fs::write(&p, "period,cohort,outcome,units\n").unwrap();
    let o = run(&["settle", &scenario(name), "--actuals", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let note = stderr(&o);
    assert!(
        note.contains("reports no period yet (no rows)") && !note.contains("period 0"),
        "{note}"
    );
    assert!(
        stdout(&o).contains("settled through period 1 of"),
        "{}",
        stdout(&o)
    );
}

/// `simulate --charts` names the charts it wrote (each as PNG and SVG), and says why there are
/// no municipality-net charts when the scenario has no `[mkba]` block.
#[test]
fn simulate_names_its_charts_and_why_some_are_missing() {
    let text = std::fs::read_to_string(root().join("scenarios/small-bond-scale.toml")).unwrap();
    let (a, b) = (text.find("[mkba]").unwrap(), text.find("[facts]").unwrap());
    let no_mkba = format!("{}{}", &text[..a], &text[b..]);
    let dir = tempfile::tempdir().unwrap();
    for (name, body, has_mkba) in [
        ("with.toml", text.clone(), true),
        ("without.toml", no_mkba, false),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let charts = dir.path().join(format!("charts-{name}"));
        let o = run(&[
            "simulate",
            p.to_str().unwrap(),
            "--trials",
            "50",
            "--charts",
            charts.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = stdout(&o).replace('\n', " ");
        let files: Vec<String> = std::fs::read_dir(&charts)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            out.contains(&format!("{} chart files written to", files.len()))
                && out.contains(&format!(
                    "({} charts, each as PNG and SVG)",
                    files.len() / 2
                )),
            "{name}: {out}"
        );
        for f in files.iter().filter_map(|f| f.strip_suffix(".png")) {
            assert!(out.contains(f), "{name}: {f} not named in {out}");
        }
        assert_eq!(out.contains("municipality-net-"), has_mkba, "{name}: {out}");
        assert_eq!(
            out.contains("No municipality-net charts: the scenario has no [mkba] block"),
            !has_mkba,
            "{name}: {out}"
        );
    }
}

/// `validate` says what `return_unspent` does, and notes where "on-termination" can return
/// nothing (no checkpoints); `settle` notes the capital returned and ledgers it.
#[test]
fn validate_and_settle_show_the_return_of_unspent_capital() {
    let sc = scenario("many-parties");
    for (rule, want) in [
        (
            "at-end",
            "when the contract ends, the enterprise pays back the capital",
        ),
        (
            "on-termination",
            "note: `return_unspent = \"on-termination\"` returns nothing here",
        ),
    ] {
        let o = run(&[
            "validate",
            &sc,
            "--set",
            &format!("enterprise.return_unspent=\"{rule}\""),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains(want), "{rule}: {}", stdout(&o));
    }
    let o = run(&["validate", &sc]);
    assert!(!stdout(&o).contains("return_unspent"), "{}", stdout(&o));

    // The bundled actuals settled to the end with the capital returned at the end: Colour
    // Kitchen's junior tranche is 43,335.82 short of its claim, and the enterprise has more
    // capital left than that, so it pays that much back in the last period; Rotterdam's
    // tranches are repaid in full, so nothing goes back.
    let dir = tempfile::tempdir().unwrap();
    for (name, want) in [
        (
            "colour-kitchen-utrecht",
            Some("11,colour-kitchen,contract-account,43335.82,unspent-capital"),
        ),
        ("rotterdam-buzinezzclub", None),
    ] {
        let file = dir.path().join(format!("{name}.toml"));
        let text = std::fs::read_to_string(root().join(scenario(name))).unwrap();
        let back = text.replacen(
            "[enterprise]\n",
            "[enterprise]\nreturn_unspent = \"at-end\"\n",
            1,
        );
        assert_ne!(back, text);
        std::fs::write(&file, back).unwrap();
        let file = file.to_str().unwrap();
        let o = run(&["settle", file, "--actuals", &actuals(name)]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let o = run(&[
            "settle",
            file,
            "--actuals",
            &actuals(name),
            "--format",
            "csv",
        ]);
        let csv = stdout(&o);
        let line = csv.lines().find(|l| l.contains("unspent-capital"));
        match want {
            Some(w) => {
                assert!(line.is_some_and(|l| l.starts_with(w)), "{name}: {csv}");
                assert!(
                    text.contains("at the end (enterprise.return_unspent): 43,335.82")
                        && !text.contains("Unrecovered principal 43"),
                    "{name}: {text}"
                );
            }
            None => {
                assert!(line.is_none(), "{name}: {csv}");
                assert!(
                    !text.contains("enterprise.return_unspent"),
                    "{name}: {text}"
                );
            }
        }
    }
}

/// `validate` notes a grid paid for the cohort as a whole in several measurement periods: it
/// pays the cohort's sum in each (easy to mistake for one sum per cohort).
#[test]
fn validate_notes_a_cohort_grid_paid_in_several_periods() {
    let base = "[contract]\nname = \"g\"\nperiods = 6\nperiod = \"year\"\n\n[[payers]]\nid = \"city\"\n\n[[investors]]\nid = \"bank\"\n\n[enterprise]\nid = \"se\"\n\n[[cohorts]]\nid = \"c1\"\nenrol = 1\nsize = 100\n\n[[outcomes]]\nid = \"job\"\nlag = 1\nMP\nbaseline = { kind = \"rate\", rate = 0.4 }\ngrid = { kind = \"step\", points = [[0.1, 150000]], per = \"cohort\" }\n\n[[tranches]]\nid = \"loan\"\ninvestor = \"bank\"\ncommitted = 200000\nrank = 1\ndrawdowns = { at = [[1, 200000]] }\n";
    let dir = tempfile::tempdir().unwrap();
    for (mp, noted) in [
        ("measure_periods = 3", true),
        ("measure_periods = 1", false),
    ] {
        let p = dir.path().join("g.toml");
        std::fs::write(&p, base.replace("MP", mp)).unwrap();
        let o = run(&["validate", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o).contains("note: `job` pays its grid's sum for the cohort in each of its 3 measurement periods"),
            noted,
            "{mp}: {}",
            stdout(&o)
        );
    }
}

/// With `return_unspent`, `trials.csv` has a `capital_returned` column whose mean is
/// `summary.json`'s `capital_returned`, and the screen says how much and how often; without
/// it there is no such column or line.
#[test]
fn capital_paid_back_is_reported_per_trial_and_on_average() {
    let dir = tempfile::tempdir().unwrap();
    for (set, on) in [
        (Some("enterprise.return_unspent=\"at-end\""), true),
        (None, false),
    ] {
        let out = dir.path().join(if on { "on" } else { "off" });
        let mut args = vec![
            "simulate".to_string(),
            scenario("many-parties"),
            "--trials".into(),
            "600".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--trials-out".into(),
        ];
        if let Some(s) = set {
            args.extend(["--set".into(), s.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o).contains("Unspent capital paid back by the enterprise"),
            on,
            "{}",
            stdout(&o)
        );
        let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
        let mut lines = csv.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = head.iter().position(|h| *h == "capital_returned");
        assert_eq!(col.is_some(), on, "{head:?}");
        let Some(col) = col else { continue };
        let values: Vec<f64> = lines
            .map(|l| l.split(',').nth(col).unwrap().parse::<f64>().unwrap())
            .collect();
        assert_eq!(values.len(), 600);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let want = summary["results"]["capital_returned"]["mean"]
            .as_f64()
            .unwrap();
        assert!(
            mean > 0.0 && (mean - want).abs() < 1e-6 * want,
            "{mean} against {want}"
        );
        let p = summary["results"]["prob_capital_returned"]
            .as_f64()
            .unwrap();
        let share = values.iter().filter(|x| **x > 0.0).count() as f64 / 600.0;
        assert_eq!(p, share);
    }
}
