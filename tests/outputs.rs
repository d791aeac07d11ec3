//! Where outputs may go: never over an input, a link's file rather than the link, never a
//! device, pipe or read-only file, with the permissions of the file replaced; a bad output name
//! is refused before a long run, and output that cannot reach standard output fails the run.

use std::path::Path;
use std::process::{Command, Output};

const SCENARIO: &str = "colour-kitchen-utrecht.toml";
const ACTUALS: &str = "colour-kitchen-utrecht.actuals.csv";

/// A folder with copies of a bundled scenario and its actuals.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for f in [SCENARIO, ACTUALS] {
        std::fs::copy(from.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn settle_to(dir: &Path, out: &str) -> Output {
    run(
        dir,
        &["settle", SCENARIO, "--actuals", ACTUALS, "--out", out],
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a user error (exit 2) whose message names `path` and says `why`.
fn refused(o: &Output, path: &str, why: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!("cannot write {path}")) && e.contains(why),
        "{e}"
    );
}

#[test]
fn an_output_never_replaces_an_input() {
    let w = workspace();
    let before: Vec<Vec<u8>> = [SCENARIO, ACTUALS]
        .iter()
        .map(|f| std::fs::read(w.path().join(f)).unwrap())
        .collect();
    refused(&settle_to(w.path(), SCENARIO), SCENARIO, "input files");
    refused(&settle_to(w.path(), ACTUALS), ACTUALS, "input files");
    // Through another name of the same file too.
    let other = format!("./{ACTUALS}");
    refused(&settle_to(w.path(), &other), &other, "input files");
    let report = run(
        w.path(),
        &["report", SCENARIO, "--trials", "10", "--out", SCENARIO],
    );
    refused(&report, SCENARIO, "input files");
    for (f, b) in [SCENARIO, ACTUALS].iter().zip(&before) {
        assert_eq!(&std::fs::read(w.path().join(f)).unwrap(), b, "{f} changed");
    }
}

#[cfg(unix)]
#[test]
fn a_link_is_followed_and_an_existing_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let w = workspace();
    let d = w.path();
    std::fs::write(d.join("target.txt"), "old").unwrap();
    std::os::unix::fs::symlink("target.txt", d.join("link.txt")).unwrap();
    let o = settle_to(d, "link.txt");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("link.txt").symlink_metadata().unwrap().is_symlink());
    let written = std::fs::read_to_string(d.join("target.txt")).unwrap();
    assert!(written.starts_with("Settlement statement"), "{written}");

    std::fs::write(d.join("private.txt"), "old").unwrap();
    std::fs::set_permissions(
        d.join("private.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert!(settle_to(d, "private.txt").status.success());
    let mode = std::fs::metadata(d.join("private.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(d.join("private.txt"))
            .unwrap()
            .len()
            > 100
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_file_a_pipe_and_a_missing_folder_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let w = workspace();
    let d = w.path();
    std::fs::write(d.join("ro.txt"), "keep").unwrap();
    std::fs::set_permissions(d.join("ro.txt"), std::fs::Permissions::from_mode(0o444)).unwrap();
    refused(&settle_to(d, "ro.txt"), "ro.txt", "read-only");
    assert_eq!(std::fs::read_to_string(d.join("ro.txt")).unwrap(), "keep");
    let fifo = Command::new("mkfifo").arg(d.join("pipe")).status();
    if fifo.is_ok_and(|s| s.success()) {
        refused(&settle_to(d, "pipe"), "pipe", "not a regular file");
        assert!(!d.join("pipe").metadata().unwrap().is_file());
    }
    refused(
        &settle_to(d, "nowhere/x.txt"),
        "nowhere/x.txt",
        "folder nowhere does not exist",
    );
    std::fs::create_dir(d.join("folder")).unwrap();
    refused(&settle_to(d, "folder"), "folder", "it is a folder");
    // Nothing but the inputs, the files made here and no temporary file is left.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

/// A bad output name of a comparison is refused before it runs, in well under the time the
/// run takes: the message comes first, and no trial is spent.
#[test]
fn comparisons_refuse_a_bad_output_before_they_run() {
    let w = workspace();
    let d = w.path();
    std::fs::write(d.join("a-file"), "x").unwrap();
    let long = ["--trials", "100000000"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["stress", SCENARIO, "--out", "nowhere/s.json"],
        vec![
            "tornado",
            SCENARIO,
            "--metric",
            "payments_mean",
            "--out",
            "nowhere/t.csv",
        ],
        vec![
            "sweep",
            SCENARIO,
            "--vary",
            "contract.total_cap=1000:2000:2",
            "--metric",
            "payments_mean",
            "--charts",
            "a-file",
        ],
        vec![
            "solve",
            SCENARIO,
            "--term",
            "contract.total_cap",
            "--target",
            "payments_mean <= 1000",
            "--out",
            "nowhere/s.json",
        ],
        vec!["mkba", SCENARIO, "--out", "nowhere/m.txt"],
        vec!["feasibility", SCENARIO, "--out", "nowhere/f.txt"],
    ];
    for mut args in cases {
        args.extend(long);
        // 100,000,000 trials would take minutes: an answer within the test's time is the
        // refusal itself.
        let o = run(d, &args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains("does not exist") || e.contains("not a folder"),
            "{args:?}: {e}"
        );
    }
}

/// Output that cannot reach standard output (a full disk) fails the run with a message; a
/// closed pipe does not (see `cli::a_closed_standard_output_is_not_a_panic`).
#[cfg(target_os = "linux")]
#[test]
fn a_full_standard_output_fails_the_run() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let w = workspace();
    let o = Command::new(env!("CARGO_BIN_EXE_sibsim"))
        .args(["settle", SCENARIO, "--actuals", ACTUALS])
        .current_dir(w.path())
        .stdout(full)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("cannot write to standard output"), "{e}");
}

/// The files in `dir` (none when it does not exist), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A run's outputs are put in place together: a chart that cannot be written (a read-only file
/// of the same name) fails the run after the trials, yet changes no output (the summary
/// folder made for the run is gone again, the earlier summary and charts are as they were, no
/// temporary file is left), and the results still reach the screen.
#[test]
fn outputs_are_written_all_together_or_not_at_all() {
    let w = workspace();
    let d = w.path();
    let ch = d.join("charts");
    std::fs::create_dir(&ch).unwrap();
    std::fs::write(ch.join("payouts.png"), "earlier").unwrap();
    std::fs::write(ch.join("risk-distribution.svg"), "mine").unwrap();
    let mut p = std::fs::metadata(ch.join("risk-distribution.svg"))
        .unwrap()
        .permissions();
    p.set_readonly(true);
    std::fs::set_permissions(ch.join("risk-distribution.svg"), p).unwrap();
    std::fs::create_dir(d.join("kept")).unwrap();
    std::fs::write(d.join("kept/summary.json"), "earlier").unwrap();
    let before = (names(&ch), names(&d.join("kept")));
    for out in ["new", "kept"] {
        let o = run(
            d,
            &[
                "simulate",
                SCENARIO,
                "--trials",
                "500",
                "--out",
                out,
                "--trials-out",
                "--charts",
                "charts",
            ],
        );
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(
            e.contains("charts/risk-distribution.svg")
                && e.contains("read-only")
                && e.contains("no output was written")
                && e.contains("shown above"),
            "{e}"
        );
        let screen = String::from_utf8_lossy(&o.stdout);
        assert!(screen.contains("Risk distribution"), "{screen}");
        assert!(!screen.contains("written to"), "{screen}");
        assert!(!d.join("new").exists(), "{:?}", names(&d.join("new")));
        assert_eq!((names(&ch), names(&d.join("kept"))), before);
        assert_eq!(std::fs::read(ch.join("payouts.png")).unwrap(), b"earlier");
        assert_eq!(
            std::fs::read(d.join("kept/summary.json")).unwrap(),
            b"earlier"
        );
    }
    // The same with the chart writable: everything is written.
    let mut p = std::fs::metadata(ch.join("risk-distribution.svg"))
        .unwrap()
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    p.set_readonly(false);
    std::fs::set_permissions(ch.join("risk-distribution.svg"), p).unwrap();
    let o = run(
        d,
        &[
            "simulate", SCENARIO, "--trials", "500", "--out", "new", "--charts", "charts",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&d.join("new")), ["summary.json"]);
    assert!(names(&ch).len() > 20, "{:?}", names(&ch));
    assert!(names(&ch).iter().all(|n| !n.starts_with('.')));
}

/// A temporary file that a run killed outright left behind (its process is gone) is removed
/// by the next run that writes the same file; one of a process still running is not.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_runs_temporary_file_is_removed_by_the_next_run() {
    let w = workspace();
    let d = w.path();
    std::fs::create_dir(d.join("out")).unwrap();
    // No process has this id (Linux's largest is 4,194,304).
    let dead = d.join("out/.trials.csv.tmp-4294967295");
    let alive = d.join(format!("out/.trials.csv.tmp-{}", std::process::id()));
    std::fs::write(&dead, "rows of a killed run").unwrap();
    std::fs::write(&alive, "rows being written").unwrap();
    let o = run(
        d,
        &[
            "simulate",
            SCENARIO,
            "--trials",
            "200",
            "--out",
            "out",
            "--trials-out",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dead.exists());
    assert!(alive.exists());
    assert!(d.join("out/trials.csv").exists());
}
