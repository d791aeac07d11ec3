//! The progress line on standard error for long runs: a bar with the time left when the number
//! of trials is known, a count and the time so far when it is not. Shown only on a terminal, so
//! redirected output and tests never see it.

use super::CliError;
use sibsim::Contract;
use sibsim::model::Model;
use sibsim::montecarlo::{Results, SimConfig, TrialRecord};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs of fewer trials than this finish too fast to need a progress line.
const SHOW_FROM: u64 = 20_000;

/// Runs `f` with a progress line for `total` trials (0: not known in advance) when standard
/// error is a terminal and the run is long. `f` gets the counter to add finished trials to, or
/// `None` when no line is shown (so it need not count).
pub fn with_progress<T: Send>(total: u64, f: impl FnOnce(Option<&AtomicU64>) -> T + Send) -> T {
    let show = std::io::stderr().is_terminal() && (total == 0 || total >= SHOW_FROM);
    if !show {
        return f(None);
    }
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let line = line(
                    done.load(Ordering::Relaxed),
                    total,
                    t0.elapsed().as_secs_f64(),
                );
                let _ = write!(std::io::stderr(), "\r{line} ");
            }
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(72));
        });
        let r = f(Some(&done));
        finished.store(true, Ordering::Relaxed);
        r
    })
}

/// Runs the simulation with the progress line; `on_trial`, if any, also gets every trial.
pub fn simulate(
    c: &Contract,
    model: &Model,
    cfg: &SimConfig,
    on_trial: Option<&(dyn Fn(&TrialRecord) + Sync)>,
) -> Result<Results, CliError> {
    let r = with_progress(cfg.trials, |done| {
        if done.is_none() && on_trial.is_none() {
            return sibsim::montecarlo::simulate(c, model, cfg);
        }
        let cb = |r: &TrialRecord| {
            if let Some(d) = done {
                d.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(f) = on_trial {
                f(r);
            }
        };
        sibsim::montecarlo::simulate_with(c, model, cfg, Some(&cb))
    });
    settled(r)
}

/// The results, or an error when a trial could not be settled (nothing is written then).
pub fn settled(r: Results) -> Result<Results, CliError> {
    match &r.failure {
        None => Ok(r),
        Some(why) => Err(CliError(format!(
            "the simulation stopped: {why}. Nothing was written."
        ))),
    }
}

/// The progress line after `n` of `total` trials (0: unknown) and `elapsed` seconds.
fn line(n: u64, total: u64, elapsed: f64) -> String {
    if total == 0 {
        return format!("{n} trials, {elapsed:.0} s");
    }
    const WIDTH: usize = 30;
    let frac = (n as f64 / total as f64).min(1.0);
    let filled = (frac * WIDTH as f64) as usize;
    let left = if n > 0 {
        let s = elapsed / n as f64 * total.saturating_sub(n) as f64;
        // Tenths in the last seconds, so a short run does not read "0 s" while still going.
        let prec = if s < 10.0 { 1 } else { 0 };
        format!(", about {s:.prec$} s left")
    } else {
        String::new()
    };
    format!(
        "[{}{}] {n}/{total} trials ({:.0}%){left}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        frac * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn the_line_shows_the_bar_share_and_time_left() {
        assert_eq!(
            line(25_000, 100_000, 10.0),
            format!(
                "[{}{}] 25000/100000 trials (25%), about 30 s left",
                "#".repeat(7),
                " ".repeat(23)
            )
        );
        assert_eq!(
            line(0, 50_000, 0.2),
            format!("[{}] 0/50000 trials (0%)", " ".repeat(30))
        );
        // More done than announced never overflows the bar.
        assert!(line(60_000, 50_000, 3.0).starts_with(&format!("[{}]", "#".repeat(30))));
        assert!(line(90_000, 100_000, 9.0).ends_with("(90%), about 1.0 s left"));
        assert_eq!(line(1234, 0, 5.4), "1234 trials, 5 s");
    }
}
