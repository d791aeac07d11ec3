//! Per-trial cost on the reference scenario: draws alone (the floor), settlement alone, draws
//! followed by their settlement (what any whole trial must do, before summarising), whole trials
//! (draw + settle + summarise), and scaling from 1 to 2 threads.
//!
//! Run: `cargo bench --bench trial` (release build). Set `SIBSIM_BENCH_TRIALS` to change the
//! number of trials per measurement (default 200,000).
//!
//! `SIBSIM_BENCH_ONLY=draws|settle|draws+settle|whole` runs just that part, once, on one thread, and prints
//! nothing else: a fixed workload for instruction counting (e.g. under
//! `valgrind --tool=callgrind`, taking the difference of two trial counts to drop the set-up).

use sibsim::montecarlo::{SimConfig, simulate, trial_rng};
use sibsim::settlement::NoLedger;
use sibsim::{Actuals, Settler};
use std::hint::black_box;
use std::time::Instant;

/// Pre-drawn trials the settlement-alone measurement cycles through: few enough that their
/// actuals stay in the cache, as in a whole trial, where settlement reads the actuals the draw
/// has just written (a pool of 1,000, about 25 MB, measured cache misses instead).
const SETTLE_POOL: u64 = 8;

fn best_of<F: FnMut() -> f64>(runs: usize, mut f: F) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() {
    let n: u64 = std::env::var("SIBSIM_BENCH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/reference.toml");
    let text = std::fs::read_to_string(path).expect("reference scenario");
    let (sc, model) = sibsim::scenario::parse_with_model("reference.toml", &text).expect("valid");
    let c = &sc.contract;
    let only = std::env::var("SIBSIM_BENCH_ONLY").ok();
    if let Some(part) = only.as_deref() {
        let mut act = Actuals::new(c);
        let mut scratch = sibsim::model::DrawScratch::default();
        match part {
            "draws" => {
                for t in 0..n {
                    let mut rng = trial_rng(42, t);
                    model.draw(c, &mut rng, &mut act, &mut scratch);
                    black_box(&act);
                }
            }
            "settle" => {
                let pre: Vec<Actuals> = (0..SETTLE_POOL)
                    .map(|t| {
                        let mut a = Actuals::new(c);
                        let mut rng = trial_rng(42, t);
                        model.draw(c, &mut rng, &mut a, &mut scratch);
                        a
                    })
                    .collect();
                let mut settler = Settler::new(c);
                for t in 0..n as usize {
                    let s = settler
                        .settle(&pre[t % pre.len()], &mut NoLedger)
                        .expect("settles");
                    black_box(s.outcome_payments);
                }
            }
            "draws+settle" => {
                let mut settler = Settler::new(c);
                for t in 0..n {
                    let mut rng = trial_rng(42, t);
                    model.draw(c, &mut rng, &mut act, &mut scratch);
                    let s = settler.settle(&act, &mut NoLedger).expect("settles");
                    black_box(s.outcome_payments);
                }
            }
            "whole" => {
                let cfg = SimConfig {
                    trials: n,
                    seed: 42,
                    threads: Some(1),
                };
                black_box(simulate(c, &model, &cfg));
            }
            other => panic!("SIBSIM_BENCH_ONLY: unknown part `{other}`"),
        }
        return;
    }

    // Draws alone.
    let mut act = Actuals::new(c);
    let mut scratch = sibsim::model::DrawScratch::default();
    let draws = best_of(3, || {
        let t0 = Instant::now();
        for t in 0..n {
            let mut rng = trial_rng(42, t);
            model.draw(c, &mut rng, &mut act, &mut scratch);
            black_box(&act);
        }
        t0.elapsed().as_secs_f64() / n as f64
    });

    // Settlement alone, on a few pre-drawn trials cycled.
    let pre: Vec<Actuals> = (0..SETTLE_POOL)
        .map(|t| {
            let mut a = Actuals::new(c);
            let mut rng = trial_rng(42, t);
            model.draw(c, &mut rng, &mut a, &mut scratch);
            a
        })
        .collect();
    let mut settler = Settler::new(c);
    let settle = best_of(3, || {
        let t0 = Instant::now();
        for t in 0..n as usize {
            let s = settler
                .settle(&pre[t % pre.len()], &mut NoLedger)
                .expect("settles");
            black_box(s.outcome_payments);
        }
        t0.elapsed().as_secs_f64() / n as f64
    });

    // Draws and their settlement, one after the other, as in a whole trial but without the
    // summary: the least a whole trial can cost while it settles with the same code as `settle`.
    let draw_settle = best_of(3, || {
        let t0 = Instant::now();
        for t in 0..n {
            let mut rng = trial_rng(42, t);
            model.draw(c, &mut rng, &mut act, &mut scratch);
            let s = settler.settle(&act, &mut NoLedger).expect("settles");
            black_box(s.outcome_payments);
        }
        t0.elapsed().as_secs_f64() / n as f64
    });

    // Whole trials, 1 and 2 threads.
    let whole = |threads| {
        best_of(3, || {
            let cfg = SimConfig {
                trials: n,
                seed: 42,
                threads: Some(threads),
            };
            let t0 = Instant::now();
            black_box(simulate(c, &model, &cfg));
            t0.elapsed().as_secs_f64()
        })
    };
    let w1 = whole(1);
    let w2 = whole(2);
    let per = w1 / n as f64;
    println!("reference scenario, {n} trials per measurement (best of 3)");
    println!("draws alone        {:>9.2} us/trial", draws * 1e6);
    println!("settlement alone   {:>9.2} us/trial", settle * 1e6);
    println!(
        "draws + settlement {:>9.2} us/trial  ({:.2}x the draws)",
        draw_settle * 1e6,
        draw_settle / draws
    );
    println!(
        "whole trial        {:>9.2} us/trial  ({:.2}x the draws)",
        per * 1e6,
        per / draws
    );
    println!("1 thread           {:>9.3} s", w1);
    println!(
        "2 threads          {:>9.3} s  (speed-up {:.2}x)",
        w2,
        w1 / w2
    );
    println!(
        "projected 1,000,000 trials on 2 threads: {:.1} s",
        w2 / n as f64 * 1e6
    );
}
