//! Sweeps: one or two terms varied over a grid (`PATH=FROM:TO:STEPS`), every point on common
//! random numbers, so a curve or surface is smooth in the term rather than noisy.

use super::{DesignError, Run, Source, Variant, in_batches, load_and_run};
use crate::metrics::{self, Figure, Unit};
use crate::montecarlo::SimConfig;
use crate::scenario::overrides::{Override, Step, parse_path, path_text};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::sync::atomic::AtomicU64;

/// One varied term: `PATH=FROM:TO:STEPS` (STEPS points, both ends included).
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// The term's path.
    pub path: Vec<Step>,
    /// The grid.
    pub values: Vec<Decimal>,
}

impl Vary {
    /// Parses `PATH=FROM:TO:STEPS`.
    pub fn parse(s: &str) -> Result<Vary, DesignError> {
        Vary::read(s).map_err(DesignError::Argument)
    }

    fn read(s: &str) -> Result<Vary, String> {
        let Some((p, range)) = s.split_once('=') else {
            return Err(format!(
                "`{s}`: write PATH=FROM:TO:STEPS, e.g. `outcomes.housing.price=1000:2000:5`"
            ));
        };
        let path = parse_path(p).map_err(|e| format!("`{s}`: {e}"))?;
        if path.contains(&Step::All) {
            return Err(format!(
                "`{s}`: a varied term names one value; `*` is not allowed"
            ));
        }
        let parts: Vec<&str> = range.split(':').collect();
        if parts.len() != 3 {
            return Err(format!(
                "`{s}`: the range is FROM:TO:STEPS (three numbers separated by colons), got `{range}`"
            ));
        }
        // FROM and TO are values of the term: a number the scenario could hold.
        let end = |name: &str, text: &str| -> Result<Decimal, String> {
            let x = crate::money::parse_number(text).map_err(|p| match p {
                crate::money::NumberProblem::NotANumber => {
                    format!("`{s}`: {name} `{}` is not a number", text.trim())
                }
                p => format!("`{s}`: {name}: {}", p.describe(text.trim())),
            })?;
            if x.abs() > Decimal::from(crate::money::LARGEST_VALUE) {
                return Err(format!(
                    "`{s}`: {name} `{}` is out of range; FROM and TO are values of the term: {}",
                    text.trim(),
                    crate::money::LARGEST_NUMBERS
                ));
            }
            Ok(x)
        };
        let from = end("FROM", parts[0])?;
        let to = end("TO", parts[1])?;
        let steps_text = parts[2].trim();
        let steps: usize = steps_text.parse().map_err(|_| {
            if !steps_text.is_empty() && steps_text.bytes().all(|b| b.is_ascii_digit()) {
                format!("`{s}`: STEPS is the number of points, from 2 to 1000; got {steps_text}")
            } else {
                format!("`{s}`: STEPS `{}` is not a whole number", parts[2])
            }
        })?;
        if !(2..=1000).contains(&steps) {
            return Err(format!(
                "`{s}`: STEPS is the number of points, from 2 to 1000; got {steps}"
            ));
        }
        if from == to {
            return Err(format!(
                "`{s}`: FROM and TO are both {from}, so there is nothing to sweep; give two different ends, or run the one value with `--set {}={from}`",
                p.trim()
            ));
        }
        let n = Decimal::from(steps as u64 - 1);
        // Within the bounds above none of this can overflow; checked all the same.
        let values = (0..steps)
            .map(|i| {
                to.checked_sub(from)
                    .and_then(|d| d.checked_mul(Decimal::from(i as u64)))
                    .and_then(|d| d.checked_div(n))
                    .and_then(|d| d.checked_add(from))
                    .map(|x| x.round_dp(10).normalize())
                    .ok_or_else(|| {
                        format!(
                            "`{s}`: the grid from {from} to {to} is out of range; {}",
                            crate::money::LARGEST_NUMBERS
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Vary { path, values })
    }

    /// The path as written.
    pub fn name(&self) -> String {
        path_text(&self.path)
    }
}

/// One grid point.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SweepPoint {
    /// The terms' values at this point, one per axis.
    pub at: Vec<f64>,
    /// Per figure, the value and its standard error (`NaN` when the point did not validate).
    pub figures: Vec<Figure>,
    /// Per figure, the difference to the first point with its paired standard error.
    pub diffs: Vec<Figure>,
    /// Why the point could not be run, if it could not.
    pub error: Option<String>,
}

/// One axis of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Axis {
    /// The term's path.
    pub term: String,
    /// Its values, each once.
    pub values: Vec<f64>,
    /// The number of values asked for (`STEPS`); more than `values.len()` when some of them
    /// round to the same value of the term (a whole number: `1:2:5` is 1 and 2).
    pub requested: usize,
    /// The decimals the term takes (0: a whole number, 2: money, ...).
    pub decimals: u32,
}

/// A sweep: the grid and the figures at every point. With two axes, points run over the
/// second axis fastest (`points[i * axes[1].values.len() + j]`), ready for a heatmap; with
/// one, ready for a line chart.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sweep {
    /// One or two axes.
    pub axes: Vec<Axis>,
    /// Figure names.
    pub figures: Vec<String>,
    /// Their units.
    pub units: Vec<Unit>,
    /// The grid points.
    pub points: Vec<SweepPoint>,
    /// Trials per point.
    pub trials: u64,
    /// Seed.
    pub seed: u64,
}

/// Runs the sweep.
pub fn sweep(
    src: &Source<'_>,
    vary: &[Vary],
    figures: &[String],
    cfg: &SimConfig,
    progress: Option<&AtomicU64>,
) -> Result<Sweep, DesignError> {
    if vary.is_empty() || vary.len() > 2 {
        return Err(DesignError::Argument(
            "a sweep varies one or two terms (--vary once or twice)".into(),
        ));
    }
    if let [a, b] = vary
        && a.path == b.path
    {
        return Err(DesignError::Argument(format!(
            "--vary names `{}` twice; a two-term sweep varies two different terms",
            a.name()
        )));
    }
    // The grid's values are rounded (half away from zero) to the decimals the term takes: a
    // whole number for a count or a period, cents for money, six decimals for a price, twelve
    // for a rate; and to 15 significant digits, all a number with a fraction holds exactly
    // (a rate of 12 decimals above 1,000); the grid shows the values simulated, each once.
    // A term that is not in the scenario (nor an optional field it may add) is an error before
    // anything runs, not a grid of invalid points.
    let mut dps = Vec::with_capacity(vary.len());
    let values: Vec<Vec<Decimal>> = vary
        .iter()
        .map(|v| {
            super::solve::current_value(src, &v.path, "--vary")?;
            let dp = super::solve::decimals_taken(src, &v.path);
            dps.push(dp);
            let mut xs: Vec<Decimal> = v
                .values
                .iter()
                .map(|x| {
                    let away = rust_decimal::RoundingStrategy::MidpointAwayFromZero;
                    let x = x.round_dp_with_strategy(dp, away);
                    x.round_sf_with_strategy(15, away).unwrap_or(x).normalize()
                })
                .collect();
            xs.dedup();
            Ok(xs)
        })
        .collect::<Result<_, DesignError>>()?;
    let grid: Vec<Vec<Decimal>> = match values.as_slice() {
        [a] => a.iter().map(|x| vec![*x]).collect(),
        [a, b] => a
            .iter()
            .flat_map(|x| b.iter().map(move |y| vec![*x, *y]))
            .collect(),
        _ => unreachable!(),
    };
    let variants: Vec<Variant> = grid
        .iter()
        .map(|pt| Variant {
            label: pt
                .iter()
                .zip(vary)
                .map(|(x, v)| format!("{}={x}", v.name()))
                .collect::<Vec<_>>()
                .join(", "),
            description: String::new(),
            overrides: pt
                .iter()
                .zip(vary)
                .map(|(x, v)| Override::number(&v.path, *x).by("--vary point"))
                .collect(),
        })
        .collect();
    let base = src.load(&Variant::base())?;
    let units = figures
        .iter()
        .map(|f| metrics::parse(f, &base.0.contract).map(|m| m.unit()))
        .collect::<Result<Vec<_>, _>>()?;
    let stats: Vec<_> = figures
        .iter()
        .map(|f| metrics::parse(f, &base.0.contract).map(|m| m.def.stat))
        .collect::<Result<_, _>>()?;
    let nan = Figure {
        value: f64::NAN,
        se: f64::NAN,
    };
    let failed = |at: Vec<f64>, e: DesignError| SweepPoint {
        at,
        figures: vec![nan; figures.len()],
        diffs: vec![nan; figures.len()],
        error: Some(e.to_string().trim_end().to_string()),
    };
    let point = |at: Vec<f64>, first: &Run, run: &Run| SweepPoint {
        at,
        figures: stats
            .iter()
            .enumerate()
            .map(|(k, s)| metrics::figure(*s, &run.values[k]))
            .collect(),
        diffs: stats
            .iter()
            .enumerate()
            .map(|(k, s)| metrics::paired_difference(*s, &first.values[k], &run.values[k]))
            .collect(),
        error: None,
    };
    let at = |pt: &[Decimal]| -> Vec<f64> {
        pt.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).collect()
    };
    // The first valid point is the reference of every difference: the points run in order
    // until one is valid, then the rest in parallel, at most one per thread at a time, each
    // reduced to its figures as soon as it ends (memory does not grow with the grid).
    let points = super::with_threads(cfg.threads, || {
        let mut points = Vec::with_capacity(grid.len());
        let mut first: Option<Run> = None;
        let mut next = 0;
        while first.is_none() && next < grid.len() {
            match load_and_run(src, &variants[next], figures, cfg, progress) {
                Ok((_, run)) => {
                    points.push(point(at(&grid[next]), &run, &run));
                    first = Some(run);
                }
                Err(e) => points.push(failed(at(&grid[next]), e)),
            }
            next += 1;
        }
        if let Some(first) = &first {
            let rest: Vec<usize> = (next..grid.len()).collect();
            points.extend(in_batches(&rest, |&i| {
                match load_and_run(src, &variants[i], figures, cfg, progress) {
                    Ok((_, run)) => point(at(&grid[i]), first, &run),
                    Err(e) => failed(at(&grid[i]), e),
                }
            }));
        }
        points
    });
    Ok(Sweep {
        axes: vary
            .iter()
            .zip(&values)
            .zip(&dps)
            .map(|((v, xs), dp)| Axis {
                term: v.name(),
                values: xs.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).collect(),
                requested: v.values.len(),
                decimals: *dp,
            })
            .collect(),
        figures: figures.to_vec(),
        units,
        points,
        trials: cfg.trials,
        seed: cfg.seed,
    })
}

impl Sweep {
    /// CSV: one row per point; the terms, then per figure its value and standard error.
    ///
    /// A last column `error` gives the reason a point is not a valid scenario (its figures
    /// empty); it is there only when some point is not.
    pub fn to_csv(&self) -> String {
        let mut s = String::new();
        let errors = self.points.iter().any(|p| p.error.is_some());
        let mut head: Vec<String> = self.axes.iter().map(|a| a.term.clone()).collect();
        for f in &self.figures {
            head.push(f.clone());
            head.push(format!("{f}_se"));
        }
        if errors {
            head.push("error".into());
        }
        s.push_str(&csv_row(&head));
        for p in &self.points {
            let mut row: Vec<String> = p.at.iter().map(|x| format!("{x}")).collect();
            for f in &p.figures {
                row.push(num(f.value));
                row.push(num(f.se));
            }
            if errors {
                row.push(p.error.clone().unwrap_or_default().replace('\n', " "));
            }
            s.push_str(&csv_row(&row));
        }
        s
    }
}

/// A number in a CSV the design commands write: six decimals (money to the cent and more,
/// probabilities to a ten-thousandth of a percent), empty where there is none.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.6}")
    }
}

fn csv_row(cells: &[String]) -> String {
    crate::statement::csv_record(cells)
}
