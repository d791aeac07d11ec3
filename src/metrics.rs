//! Named figures of a simulation (the metric registry), computed from per-trial values so that
//! variants run on common random numbers can be compared trial by trial.
//!
//! A metric is written `NAME` or `NAME:ARG` (`NAME:ARG:AMOUNT` for thresholds), e.g.
//! `p_full_repayment:bank`, `irr_p5:senior`, `net_mean:enschede+eindhoven+hengelo`,
//! `p_paid_above:payers:1100000`, `payments_mean`. Arguments:
//!
//! - a *tranche* is a tranche id, or an investor id meaning all of that investor's tranches
//!   (IRR figures need exactly one tranche);
//! - a *party* is a party id, `payers` (all outcome payers together) or ids joined by `+`
//!   (their sum).
//!
//! Each figure is either a mean over trials (probabilities are means of 0/1) with standard
//! error `sd / sqrt(n)`, or a percentile whose standard error comes from [`BATCHES`] batch
//! estimates. The difference between two variants on the same trials (common random numbers)
//! has the standard error of the per-trial (or per-batch) differences, far below that of
//! independent runs. See [`REGISTRY`]; adding a figure is one entry there.

use crate::contract::{Contract, Role};
use crate::montecarlo::{TrialRecord, reported_parties};

/// How a figure summarises the per-trial values.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Stat {
    /// The mean (a probability when the values are 0 and 1).
    Mean,
    /// A percentile (0..1) of the values.
    Quantile(f64),
}

/// How to show a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Unit {
    /// A probability (shown in %, differences in percentage points).
    Probability,
    /// Money in the contract's currency.
    Money,
    /// An annual rate such as an IRR (shown in %).
    Rate,
}

/// What the argument after `NAME:` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument.
    None,
    /// A tranche (or an investor's tranches).
    Tranche,
    /// One tranche exactly.
    OneTranche,
    /// A party or a sum of parties.
    Party,
    /// A party and an amount (`party:amount`).
    PartyAmount,
}

/// The resolved argument of a metric.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// Tranche indices.
    pub tranches: Vec<usize>,
    /// Party indices into the contract's parties.
    pub parties: Vec<usize>,
    /// The same parties as indices into the reported parties ([`TrialRecord::net`]).
    pub reported: Vec<usize>,
    /// The amount, in currency units.
    pub amount: f64,
}

/// One figure the registry knows.
pub struct MetricDef {
    /// Name before the colon.
    pub name: &'static str,
    /// What the argument names.
    pub arg: ArgKind,
    /// Mean or percentile.
    pub stat: Stat,
    /// How to show it.
    pub unit: Unit,
    /// One line for people.
    pub about: &'static str,
    /// The per-trial value (`NaN`: undefined in this trial, left out).
    pub value: fn(&TrialRecord, &Args) -> f64,
}

fn b(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}
fn net(r: &TrialRecord, a: &Args) -> f64 {
    a.reported.iter().map(|&k| r.net[k]).sum::<i64>() as f64 / 100.0
}
fn loss(r: &TrialRecord, a: &Args) -> f64 {
    a.reported.iter().map(|&k| r.loss[k]).sum::<i64>() as f64 / 100.0
}
fn paid(r: &TrialRecord, a: &Args) -> f64 {
    a.parties
        .iter()
        .map(|&p| r.settlement.paid[p].0)
        .sum::<i64>() as f64
        / 100.0
}
/// The payers' business case (MKBA): savings - payments - costs of the parties, in currency.
fn mkba_net(r: &TrialRecord, a: &Args) -> f64 {
    a.parties
        .iter()
        .map(|&p| r.business.get(p).map_or(0, |x| x.1))
        .sum::<i64>() as f64
        / 100.0
}
fn savings(r: &TrialRecord, a: &Args) -> f64 {
    a.parties
        .iter()
        .map(|&p| r.business.get(p).map_or(0, |x| x.0))
        .sum::<i64>() as f64
        / 100.0
}
fn irr(r: &TrialRecord, a: &Args) -> f64 {
    r.irr[a.tranches[0]].unwrap_or(f64::NAN)
}
fn payments(r: &TrialRecord, _: &Args) -> f64 {
    r.settlement.outcome_payments.0 as f64 / 100.0
}

/// Every figure, in the order `sibsim` lists them. To add one (for example a municipality's
/// net including its realised savings), add an entry here.
pub static REGISTRY: &[MetricDef] = &[
    MetricDef {
        name: "p_pays_more_than_saves",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the payer(s) pay more than they save: PV savings < PV payments + costs (needs [mkba])",
        value: |r, a| b(mkba_net(r, a) < 0.0),
    },
    MetricDef {
        name: "mkba_net_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean business case of the payer(s): PV savings - PV payments - costs (needs [mkba])",
        value: mkba_net,
    },
    MetricDef {
        name: "mkba_net_p5",
        arg: ArgKind::Party,
        stat: Stat::Quantile(0.05),
        unit: Unit::Money,
        about: "5th percentile of the payer(s)' business case (needs [mkba])",
        value: mkba_net,
    },
    MetricDef {
        name: "savings_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean PV of the payer(s)' realised savings (needs [mkba])",
        value: savings,
    },
    MetricDef {
        name: "p_full_repayment",
        arg: ArgKind::Tranche,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the tranche's claim (principal and return) is paid in full",
        value: |r, a| b(a.tranches.iter().all(|&i| r.repaid[i])),
    },
    MetricDef {
        name: "p_principal_loss",
        arg: ArgKind::Tranche,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the tranche loses any principal",
        value: |r, a| {
            b(a.tranches
                .iter()
                .any(|&i| r.settlement.tranches[i].unrecovered_principal.0 > 0))
        },
    },
    MetricDef {
        name: "unrecovered_mean",
        arg: ArgKind::Tranche,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean unrecovered principal of the tranche",
        value: |r, a| {
            a.tranches
                .iter()
                .map(|&i| r.settlement.tranches[i].unrecovered_principal.0)
                .sum::<i64>() as f64
                / 100.0
        },
    },
    MetricDef {
        name: "irr_p5",
        arg: ArgKind::OneTranche,
        stat: Stat::Quantile(0.05),
        unit: Unit::Rate,
        about: "5th percentile of the tranche's annual IRR",
        value: irr,
    },
    MetricDef {
        name: "irr_p50",
        arg: ArgKind::OneTranche,
        stat: Stat::Quantile(0.50),
        unit: Unit::Rate,
        about: "median annual IRR of the tranche",
        value: irr,
    },
    MetricDef {
        name: "irr_p95",
        arg: ArgKind::OneTranche,
        stat: Stat::Quantile(0.95),
        unit: Unit::Rate,
        about: "95th percentile of the tranche's annual IRR",
        value: irr,
    },
    MetricDef {
        name: "irr_mean",
        arg: ArgKind::OneTranche,
        stat: Stat::Mean,
        unit: Unit::Rate,
        about: "mean annual IRR of the tranche",
        value: irr,
    },
    MetricDef {
        name: "net_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean net cash (received - paid) of the party",
        value: net,
    },
    MetricDef {
        name: "net_p5",
        arg: ArgKind::Party,
        stat: Stat::Quantile(0.05),
        unit: Unit::Money,
        about: "5th percentile of the party's net cash",
        value: net,
    },
    MetricDef {
        name: "net_p50",
        arg: ArgKind::Party,
        stat: Stat::Quantile(0.50),
        unit: Unit::Money,
        about: "median net cash of the party",
        value: net,
    },
    MetricDef {
        name: "p_net_negative",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the party's net cash is below zero",
        value: |r, a| b(net(r, a) < 0.0),
    },
    MetricDef {
        name: "loss_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean loss: investors' unrecovered principal, payers' and guarantors' guarantee calls, the enterprise's unpaid costs and fees",
        value: loss,
    },
    MetricDef {
        name: "p_loss",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability of any loss (for a payer: a guarantee call)",
        value: |r, a| b(loss(r, a) > 0.0),
    },
    MetricDef {
        name: "paid_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean total the party pays (outcome payments, guarantee calls, ...)",
        value: paid,
    },
    MetricDef {
        name: "paid_p95",
        arg: ArgKind::Party,
        stat: Stat::Quantile(0.95),
        unit: Unit::Money,
        about: "95th percentile of what the party pays",
        value: paid,
    },
    MetricDef {
        name: "p_paid_above",
        arg: ArgKind::PartyAmount,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the party pays more than AMOUNT in total (e.g. its expected savings)",
        value: |r, a| b(paid(r, a) > a.amount),
    },
    MetricDef {
        name: "payments_mean",
        arg: ArgKind::None,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean total outcome payments (all payers)",
        value: payments,
    },
    MetricDef {
        name: "payments_p95",
        arg: ArgKind::None,
        stat: Stat::Quantile(0.95),
        unit: Unit::Money,
        about: "95th percentile of total outcome payments",
        value: payments,
    },
    MetricDef {
        name: "p_early_termination",
        arg: ArgKind::None,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the contract ends early: a checkpoint not met, or the enterprise out of cash",
        value: |r, _| b(r.settlement.termination.is_some()),
    },
];

/// A metric resolved against a contract.
#[derive(Clone)]
pub struct Metric {
    /// As written (`p_full_repayment:bank`).
    pub name: String,
    /// The registry entry.
    pub def: &'static MetricDef,
    /// Its resolved argument.
    pub args: Args,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metric({})", self.name)
    }
}

impl Metric {
    /// The per-trial value.
    #[inline]
    pub fn value(&self, r: &TrialRecord) -> f64 {
        (self.def.value)(r, &self.args)
    }
    /// How to show it.
    pub fn unit(&self) -> Unit {
        self.def.unit
    }
}

/// The names the registry knows, with their argument, for messages and `--help`.
pub fn catalogue() -> String {
    let mut s = String::new();
    for d in REGISTRY {
        let arg = match d.arg {
            ArgKind::None => "",
            ArgKind::Tranche => ":TRANCHE",
            ArgKind::OneTranche => ":TRANCHE",
            ArgKind::Party => ":PARTY",
            ArgKind::PartyAmount => ":PARTY:AMOUNT",
        };
        s.push_str(&format!("  {}{arg}: {}\n", d.name, d.about));
    }
    s
}

fn names() -> String {
    REGISTRY
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `spec` (`NAME[:ARG[:AMOUNT]]`) against `contract`.
pub fn parse(spec: &str, c: &Contract) -> Result<Metric, String> {
    let spec = spec.trim();
    let mut parts = spec.splitn(3, ':');
    let name = parts.next().unwrap_or("");
    let arg = parts.next().map(str::trim);
    let amount = parts.next().map(str::trim);
    let Some(def) = REGISTRY.iter().find(|d| d.name == name) else {
        let hint = crate::scenario::overrides::nearest(name, REGISTRY.iter().map(|d| d.name))
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        return Err(format!(
            "unknown figure `{name}`; {hint}the figures are {}",
            names()
        ));
    };
    let tranche_ids = || {
        c.tranches
            .iter()
            .map(|t| format!("`{}`", t.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let need = |what: &str| -> Result<&str, String> {
        match arg {
            Some(a) if !a.is_empty() => Ok(a),
            _ => Err(format!(
                "`{name}` needs {what} after a colon, e.g. `{name}:{}`",
                match def.arg {
                    ArgKind::Tranche | ArgKind::OneTranche =>
                        c.tranches.first().map(|t| t.id.clone()).unwrap_or_default(),
                    ArgKind::PartyAmount => "payers:1000000".to_string(),
                    _ => "payers".to_string(),
                }
            )),
        }
    };
    if (name.starts_with("mkba_") || name == "p_pays_more_than_saves" || name == "savings_mean")
        && c.mkba.is_none()
    {
        return Err(format!(
            "`{name}` needs the scenario's [mkba] block (the savings per outcome); see docs/business-case.md"
        ));
    }
    let mut args = Args::default();
    match def.arg {
        ArgKind::None => {
            if arg.is_some() {
                return Err(format!("`{name}` takes no argument; write just `{name}`"));
            }
        }
        ArgKind::Tranche | ArgKind::OneTranche => {
            let a = need("a tranche or an investor")?;
            if amount.is_some() {
                return Err(format!("`{spec}`: `{name}` takes one argument"));
            }
            args.tranches = match c.tranches.iter().position(|t| t.id == a) {
                Some(i) => vec![i],
                None => {
                    let inv: Vec<usize> = (0..c.tranches.len())
                        .filter(|&i| c.parties[c.tranches[i].investor].id == a)
                        .collect();
                    if inv.is_empty() {
                        return Err(format!(
                            "`{spec}`: no tranche or investor `{a}`; the tranches are {}",
                            tranche_ids()
                        ));
                    }
                    inv
                }
            };
            if def.arg == ArgKind::OneTranche && args.tranches.len() != 1 {
                return Err(format!(
                    "`{spec}`: investor `{a}` has {} tranches; name one of {}",
                    args.tranches.len(),
                    tranche_ids()
                ));
            }
        }
        ArgKind::Party | ArgKind::PartyAmount => {
            let a = need("a party")?;
            let reported = reported_parties(c);
            let ids: Vec<usize> = if a == "payers" {
                c.payers().collect()
            } else {
                let mut v = Vec::new();
                for id in a.split('+').map(str::trim) {
                    match c.parties.iter().position(|p| p.id == id) {
                        Some(p) if reported.contains(&p) => v.push(p),
                        _ => {
                            let list: Vec<&str> =
                                reported.iter().map(|&p| c.parties[p].id.as_str()).collect();
                            let hint =
                                crate::scenario::overrides::nearest(id, list.iter().copied())
                                    .map(|n| format!("did you mean `{n}`? "))
                                    .unwrap_or_default();
                            return Err(format!(
                                "`{spec}`: no party `{id}`; {hint}the parties are {}, or `payers` for all payers",
                                list.join(", ")
                            ));
                        }
                    }
                }
                v
            };
            args.reported = ids
                .iter()
                .filter_map(|p| reported.iter().position(|r| r == p))
                .collect();
            args.parties = ids;
            if def.arg == ArgKind::PartyAmount {
                let Some(x) = amount
                    .and_then(crate::scenario::overrides::parse_decimal)
                    .and_then(|d| rust_decimal::prelude::ToPrimitive::to_f64(&d))
                else {
                    return Err(format!(
                        "`{spec}`: `{name}` needs an amount after the party, e.g. `{name}:{a}:1000000`"
                    ));
                };
                args.amount = x;
            } else if amount.is_some() {
                return Err(format!("`{spec}`: `{name}` takes one argument"));
            }
        }
    }
    Ok(Metric {
        name: spec.to_string(),
        def,
        args,
    })
}

/// The figures `sibsim stress` and `sibsim solve` show: per tranche the probability of full
/// repayment and the P5 and P50 IRR; per payer the mean net and the probability of a loss
/// (a guarantee call); the enterprise's mean result and probability of a negative result; the
/// mean outcome payments.
pub fn key_figures(c: &Contract) -> Vec<String> {
    let mut v = Vec::new();
    for t in &c.tranches {
        v.push(format!("p_full_repayment:{}", t.id));
        v.push(format!("irr_p5:{}", t.id));
        v.push(format!("irr_p50:{}", t.id));
    }
    for (p, party) in c.parties.iter().enumerate() {
        match party.role {
            Role::Payer if c.mkba.is_some() => {
                v.push(format!("mkba_net_mean:{}", party.id));
                v.push(format!("p_pays_more_than_saves:{}", party.id));
            }
            Role::Payer => {
                v.push(format!("net_mean:{}", party.id));
                v.push(format!("p_loss:{}", party.id));
            }
            Role::Guarantor => v.push(format!("p_loss:{}", party.id)),
            Role::Enterprise => {
                v.push(format!("net_mean:{}", party.id));
                v.push(format!("p_net_negative:{}", party.id));
            }
            _ => {}
        }
        let _ = p;
    }
    v.push("payments_mean".to_string());
    v
}

/// A figure with its Monte Carlo standard error.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Figure {
    /// The value (`NaN` when no trial defines it).
    pub value: f64,
    /// Its standard error (`NaN` when too few trials to tell).
    pub se: f64,
}

/// Batches for the standard error of a percentile.
pub const BATCHES: usize = 20;

/// The `q`-quantile of sorted values by nearest rank: the value of rank `ceil(q n)` (1-based),
/// the definition `simulate` reads its percentiles at, so a figure such as `irr_p5` in a
/// comparison is the P5 of `simulate` with the same seed and trials.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    v[rank - 1]
}

fn quantile(values: impl Iterator<Item = f64>, q: f64) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

fn mean_sd(values: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let (mut n, mut s, mut s2) = (0usize, 0.0f64, 0.0f64);
    let v: Vec<f64> = values.filter(|x| !x.is_nan()).collect();
    for &x in &v {
        n += 1;
        s += x;
    }
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let m = s / n as f64;
    for &x in &v {
        s2 += (x - m) * (x - m);
    }
    let sd = if n > 1 {
        (s2 / (n - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    (m, sd, n)
}

fn batches(n: usize) -> usize {
    if n >= 10 * BATCHES {
        BATCHES
    } else {
        (n / 10).max(2)
    }
}

fn batch_range(n: usize, nb: usize, k: usize) -> std::ops::Range<usize> {
    (k * n / nb)..((k + 1) * n / nb)
}

/// The figure over per-trial `values` (indexed by trial; `NaN` left out).
pub fn figure(stat: Stat, values: &[f64]) -> Figure {
    match stat {
        Stat::Mean => {
            let (m, sd, n) = mean_sd(values.iter().copied());
            Figure {
                value: m,
                se: sd / (n as f64).sqrt(),
            }
        }
        Stat::Quantile(q) => {
            let value = quantile(values.iter().copied(), q);
            let nb = batches(values.len());
            let est: Vec<f64> = (0..nb)
                .map(|k| quantile(values[batch_range(values.len(), nb, k)].iter().copied(), q))
                .collect();
            let (_, sd, n) = mean_sd(est.into_iter());
            Figure {
                value,
                se: sd / (n as f64).sqrt(),
            }
        }
    }
}

/// The difference `figure(b) - figure(a)` of two variants run on the same trials, with the
/// standard error of the paired (per-trial, or per-batch for percentiles) differences.
pub fn paired_difference(stat: Stat, a: &[f64], b: &[f64]) -> Figure {
    let fa = figure(stat, a);
    let fb = figure(stat, b);
    let n = a.len().min(b.len());
    let se = match stat {
        Stat::Mean => {
            let (_, sd, k) = mean_sd((0..n).map(|i| b[i] - a[i]));
            sd / (k as f64).sqrt()
        }
        Stat::Quantile(q) => {
            let nb = batches(n);
            let d: Vec<f64> = (0..nb)
                .map(|k| {
                    let r = batch_range(n, nb, k);
                    quantile(b[r.clone()].iter().copied(), q) - quantile(a[r].iter().copied(), q)
                })
                .collect();
            let (_, sd, k) = mean_sd(d.into_iter());
            sd / (k as f64).sqrt()
        }
    };
    Figure {
        value: fb.value - fa.value,
        se,
    }
}

/// The standard error the same difference would have from two independent runs.
pub fn independent_se(stat: Stat, a: &[f64], b: &[f64]) -> f64 {
    let (x, y) = (figure(stat, a).se, figure(stat, b).se);
    (x * x + y * y).sqrt()
}
