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
//! error `sd / sqrt(n)`, or a percentile whose standard error is that of its bootstrap
//! distribution, computed exactly from the order statistics ([`quantile_se`]), which stays
//! honest where the percentile sits at a cluster of equal values (a total loss at -100%, a
//! capped return), or a tail mean (an expected shortfall) whose standard error is that of a
//! Poisson bootstrap of the trials in and near the tail. The difference between two variants on the same trials (common random
//! numbers) has the standard error of the per-trial differences for a mean, and for a
//! percentile that of a paired bootstrap ([`RESAMPLES`] resamples of the trials); either is far
//! below that of independent runs. See [`REGISTRY`]; adding a figure is
//! one entry there.

use crate::contract::{Contract, Role};
use crate::montecarlo::{TrialRecord, reported_parties};

/// How a figure summarises the per-trial values (in JSON `"mean"`, `{"quantile": 0.05}` or
/// `{"upper_tail_mean": 0.05}`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    /// The mean (a probability when the values are 0 and 1).
    Mean,
    /// A percentile (0..1) of the values.
    Quantile(f64),
    /// The mean of the highest `ceil(q n)` of the `n` values (`q` in 0..1): an expected
    /// shortfall when the values are losses.
    UpperTailMean(f64),
}

/// How to show a figure (in JSON `"probability"`, `"money"` or `"rate"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A probability (shown in %, differences in percentage points).
    Probability,
    /// Money in the contract's currency.
    Money,
    /// An annual rate such as an IRR (shown in %).
    Rate,
    /// A multiple such as money back over money drawn (shown as `1.15x`).
    Multiple,
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
/// The parties' NPV at the contract's discount rate, each rounded to the cent as `simulate`
/// averages it.
fn npv(r: &TrialRecord, a: &Args) -> f64 {
    a.parties
        .iter()
        .map(|&p| crate::stats::round_to_i64(r.npv.get(p).copied().unwrap_or(0.0)))
        .sum::<i64>() as f64
        / 100.0
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
fn inflow(r: &TrialRecord, a: &Args) -> f64 {
    a.parties
        .iter()
        .map(|&p| r.inflow_paid.get(p).copied().unwrap_or(0))
        .sum::<i64>() as f64
        / 100.0
}
/// Money back (distributions and guarantee calls) over money drawn, of the tranche (or an
/// investor's tranches together); `NaN` when nothing was drawn. Quantised to 1e-9 as
/// `simulate` counts it, so the mean is `simulate`'s `multiple.mean`.
fn multiple(r: &TrialRecord, a: &Args) -> f64 {
    let (mut back, mut drawn) = (0i64, 0i64);
    for &i in &a.tranches {
        let t = &r.settlement.tranches[i];
        back += t.distributed.0 + t.guaranteed.0;
        drawn += t.drawn.0;
    }
    if drawn > 0 {
        crate::stats::quantise(back as f64 / drawn as f64) as f64 / crate::stats::RATIO_SCALE
    } else {
        f64::NAN
    }
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
        name: "multiple_mean",
        arg: ArgKind::Tranche,
        stat: Stat::Mean,
        unit: Unit::Multiple,
        about: "mean multiple of the tranche: money back (distributions and guarantee calls) / money drawn, over the trials that drew any",
        value: multiple,
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
        name: "npv_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean net present value of the party's net cash at the contract's discount rate",
        value: npv,
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
        name: "es95",
        arg: ArgKind::Party,
        stat: Stat::UpperTailMean(0.05),
        unit: Unit::Money,
        about: "expected shortfall at 95% of the party's net cash: minus the mean net of the worst 5% of trials (positive when they lose money)",
        value: |r, a| -net(r, a),
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
        about: "mean loss: investors' unrecovered principal, payers' and guarantors' guarantee calls, payers' inflow compensation, the enterprise's unpaid costs and fees",
        value: loss,
    },
    MetricDef {
        name: "p_loss",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability of any loss (for a payer: a guarantee call or inflow compensation)",
        value: |r, a| b(loss(r, a) > 0.0),
    },
    MetricDef {
        name: "inflow_mean",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Money,
        about: "mean compensation the payer pays under its inflow guarantees (referrals short of the promise)",
        value: inflow,
    },
    MetricDef {
        name: "p_inflow",
        arg: ArgKind::Party,
        stat: Stat::Mean,
        unit: Unit::Probability,
        about: "probability that the payer pays any inflow compensation",
        value: |r, a| b(inflow(r, a) > 0.0),
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

/// Why a figure's name could not be resolved against a contract: the message says which part
/// is wrong and what the contract has (`unknown figure`, a tranche or party it lacks, a
/// business-case figure without an `[mkba]` block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FigureError(pub String);

impl std::fmt::Display for FigureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FigureError {}

/// Resolves `spec` (`NAME[:ARG[:AMOUNT]]`) against `contract`.
pub fn parse(spec: &str, c: &Contract) -> Result<Metric, FigureError> {
    resolve(spec, c).map_err(FigureError)
}

fn resolve(spec: &str, c: &Contract) -> Result<Metric, String> {
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
    if is_business(name) && c.mkba.is_none() {
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
                let own: Vec<String> = args
                    .tranches
                    .iter()
                    .map(|&i| format!("`{}`", c.tranches[i].id))
                    .collect();
                return Err(format!(
                    "`{spec}`: investor `{a}` has {} tranches; name one of {}",
                    args.tranches.len(),
                    own.join(", ")
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
                        Some(p) if v.contains(&p) => {
                            return Err(format!(
                                "`{spec}`: party `{id}` is named twice; name each party once"
                            ));
                        }
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
            // The business case is the payers': another party's would be a constant 0.
            if is_business(name)
                && let Some(&p) = ids.iter().find(|&&p| !c.payers().any(|q| q == p))
            {
                let payers: Vec<&str> = c.payers().map(|q| c.parties[q].id.as_str()).collect();
                return Err(format!(
                    "`{spec}`: `{}` pays no outcomes, so it has no business case; the payers are {}, or `payers` for all of them",
                    c.parties[p].id,
                    payers.join(", ")
                ));
            }
            args.reported = ids
                .iter()
                .filter_map(|p| reported.iter().position(|r| r == p))
                .collect();
            args.parties = ids;
            if def.arg == ArgKind::PartyAmount {
                let Some(amount) = amount.filter(|x| !x.is_empty()) else {
                    return Err(format!(
                        "`{spec}`: `{name}` needs an amount after the party, e.g. `{name}:{a}:1000000`"
                    ));
                };
                args.amount = crate::money::parse_figure_number(amount).map_err(|p| {
                    format!(
                        "`{spec}`: the amount `{amount}` {}; write e.g. `{name}:{a}:1000000`",
                        p.words(
                            "an amount is at most 100,000,000,000,000 in size (the largest total a settlement reaches)"
                        )
                    )
                })?;
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

/// Whether figure `name` is one of the payers' business case (it needs `[mkba]`).
pub fn is_business(name: &str) -> bool {
    name.starts_with("mkba_") || name == "p_pays_more_than_saves" || name == "savings_mean"
}

/// The most payers whose figures [`key_figures`] lists one by one; past it they are the
/// payers' together (`:payers`), as the screen of `simulate` sums all but a few.
pub const MAX_PAYERS_ONE_BY_ONE: usize = 12;

/// The figures `sibsim stress` and `sibsim solve` show: per tranche the probability of full
/// repayment and the P5 and P50 IRR; per payer the mean net and the probability of a loss
/// (a guarantee call), or with an `[mkba]` its business case, and a payer's mean inflow
/// compensation where it guarantees inflow (with more than [`MAX_PAYERS_ONE_BY_ONE`] payers,
/// these of all payers together); the enterprise's mean result and probability of a negative
/// result; the mean outcome payments.
pub fn key_figures(c: &Contract) -> Vec<String> {
    let mut v = Vec::new();
    for t in &c.tranches {
        v.push(format!("p_full_repayment:{}", t.id));
        v.push(format!("irr_p5:{}", t.id));
        v.push(format!("irr_p50:{}", t.id));
    }
    let together = c.payers().count() > MAX_PAYERS_ONE_BY_ONE;
    if together {
        if c.mkba.is_some() {
            v.push("mkba_net_mean:payers".into());
            v.push("p_pays_more_than_saves:payers".into());
        } else {
            v.push("net_mean:payers".into());
            v.push("p_loss:payers".into());
        }
        if !c.inflow_guarantees.is_empty() {
            v.push("inflow_mean:payers".into());
        }
    }
    for (p, party) in c.parties.iter().enumerate() {
        match party.role {
            Role::Payer if together => {}
            Role::Payer => {
                if c.mkba.is_some() {
                    v.push(format!("mkba_net_mean:{}", party.id));
                    v.push(format!("p_pays_more_than_saves:{}", party.id));
                } else {
                    v.push(format!("net_mean:{}", party.id));
                    v.push(format!("p_loss:{}", party.id));
                }
                if c.inflow_guarantees.iter().any(|g| g.payer == p) {
                    v.push(format!("inflow_mean:{}", party.id));
                }
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

/// The `q`-quantile of sorted values by nearest rank: the value of rank `ceil(q n)` (1-based),
/// the definition `simulate` reads its percentiles at, so a figure such as `irr_p5` in a
/// comparison is the P5 of `simulate` with the same seed and trials.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    v[rank(q, n) - 1]
}

/// The defined values (`NaN` left out), sorted.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
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

/// The nearest rank of the `q`-quantile among `m` values (1-based).
fn rank(q: f64, m: usize) -> usize {
    crate::stats::nearest_rank(q, m as u64) as usize
}

/// The standard error of the nearest-rank `q`-quantile of the sorted values `v`: the standard
/// deviation of its bootstrap distribution, computed exactly instead of by resampling. A
/// resample's quantile is at or below `v[j - 1]` when at least `r` of its `m` values are, which
/// happens with probability `P(Binomial(m, j / m) >= r) = I_{j/m}(r, m - r + 1)` (the
/// regularized incomplete beta function; a normal approximation with continuity correction
/// where the binomial's sd exceeds 20 ranks). Ranks more than 8 of those sds from `r` carry
/// no weight worth counting.
///
/// A standard error read from a density (or from batches, which assume one) is close to 0
/// where the quantile sits at a cluster of equal values, though from run to run it jumps
/// between the cluster and the values beside it; this one counts that jump. Where the values
/// are smooth it is the usual `sqrt(q (1 - q) / m) / f`.
pub fn quantile_se(v: &[f64], q: f64) -> f64 {
    quantile_se_from(v.len() as u64, q, |j| v[j as usize - 1])
}

/// The ranks (1-based, first and last) of the sorted values that [`quantile_se_from`] reads
/// for the `q`-quantile of `m` values: those within 8 standard deviations of its rank's
/// binomial spread, and 2 more each side.
pub fn quantile_se_window(m: u64, q: f64) -> (u64, u64) {
    let r = crate::stats::nearest_rank(q, m);
    let half = (8.0 * rank_sd(m, q)).ceil() as u64 + 2;
    (r.saturating_sub(half).max(1), (r + half).min(m))
}

/// The binomial standard deviation of a quantile's rank among `m` values: `sqrt(m q (1 - q))`,
/// with `q` kept at least one value from either end.
fn rank_sd(m: u64, q: f64) -> f64 {
    let mf = m as f64;
    let q = q.clamp(1.0 / mf, 1.0 - 1.0 / mf);
    (mf * q * (1.0 - q)).sqrt()
}

/// [`quantile_se`] of `m` sorted values, each read by `value(j)` (1-based rank `j`) for the
/// ranks of [`quantile_se_window`] only: a histogram that can read a value at a rank needs
/// not hold them all.
pub fn quantile_se_from(m: u64, q: f64, value: impl Fn(u64) -> f64) -> f64 {
    if m < 2 {
        return f64::NAN;
    }
    let r = crate::stats::nearest_rank(q, m);
    let (mf, rf) = (m as f64, r as f64);
    let sd = rank_sd(m, q);
    let ln_beta_inv = crate::stats::ln_gamma(mf + 1.0)
        - crate::stats::ln_gamma(rf)
        - crate::stats::ln_gamma(mf - rf + 1.0);
    // P(the resample's quantile <= the value of rank j).
    let below = |j: u64| -> f64 {
        if j == 0 {
            0.0
        } else if j >= m {
            1.0
        } else if sd > 20.0 {
            // Binomial(m, p) >= r, p = j / m, with continuity correction.
            let p = j as f64 / mf;
            let s = (mf * p * (1.0 - p)).sqrt();
            1.0 - crate::stats::normal_cdf((rf - 0.5 - mf * p) / s)
        } else {
            crate::stats::inc_beta_with(rf, mf - rf + 1.0, ln_beta_inv, j as f64 / mf)
        }
    };
    let (lo, hi) = quantile_se_window(m, q);
    // Values relative to the quantile itself, so that the sums do not cancel.
    let x0 = value(r);
    let (mut w0, mut w1, mut w2) = (0.0f64, 0.0f64, 0.0f64);
    let mut prev = 0.0; // the mass below the window is counted at its first rank
    let mut j = lo;
    while j <= hi {
        // A run of equal values (a histogram's bucket, a cluster) weighs the resample's
        // chance of landing anywhere in it: the distribution function at its last rank only.
        let v = value(j);
        while j < hi && value(j + 1) == v {
            j += 1;
        }
        let cum = if j == hi { 1.0 } else { below(j) };
        let w = (cum - prev).max(0.0);
        prev = cum;
        let x = v - x0;
        w0 += w;
        w1 += w * x;
        w2 += w * x * x;
        j += 1;
    }
    if w0 <= 0.0 {
        return 0.0;
    }
    let mean = w1 / w0;
    (w2 / w0 - mean * mean).max(0.0).sqrt()
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
            let v = sorted(values);
            Figure {
                value: quantile_sorted(&v, q),
                se: quantile_se(&v, q),
            }
        }
        Stat::UpperTailMean(q) => Figure {
            value: upper_tail_mean(&sorted(values), q),
            se: tail_bootstrap_se(values, None, q),
        },
    }
}

/// The mean of the highest fraction `q` of the `m` sorted values: the highest `floor(q m)`
/// whole and the next one in part ([`crate::stats::tail_mass`]).
fn upper_tail_mean(sorted: &[f64], q: f64) -> f64 {
    let m = sorted.len();
    if m == 0 {
        return f64::NAN;
    }
    let want = crate::stats::tail_mass(q, m as u64);
    let whole = (want.floor() as usize).min(m);
    let part = if whole < m {
        (want - whole as f64) * sorted[m - whole - 1]
    } else {
        0.0
    };
    (sorted[m - whole..].iter().sum::<f64>() + part) / want
}

/// The standard error of the upper tail mean (`q`) of `a`, or with `b` of the difference
/// `tail(b) - tail(a)` over the same trials: the standard deviation over [`RESAMPLES`] Poisson
/// bootstrap resamples of the trials (each trial's pair kept together, as in
/// [`paired_bootstrap_se`]). Where the edge of the tail sits at a cluster of equal values (a
/// whole commitment lost in about 5% of trials) the tail mean jumps from resample to resample
/// as it does from run to run; an error from the tail's spread alone cannot see that.
///
/// Only a trial within the tail, or within 8 binomial standard deviations (in ranks) below its
/// edge, can be in a resample's tail; the others are counted together, one Poisson draw, as
/// they only add to the number of trials. Resample `k` draws from its own stream of a fixed
/// seed: the result depends on the values only.
fn tail_bootstrap_se(a: &[f64], b: Option<&[f64]>, q: f64) -> f64 {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};
    let pairs: Vec<(f64, f64)> = match b {
        Some(b) => a
            .iter()
            .zip(b)
            .filter(|(x, y)| !x.is_nan() && !y.is_nan())
            .map(|(x, y)| (*x, *y))
            .collect(),
        None => a
            .iter()
            .filter(|x| !x.is_nan())
            .map(|x| (*x, 0.0))
            .collect(),
    };
    let m = pairs.len();
    if m < 2 {
        return f64::NAN;
    }
    let k = rank(q, m);
    let qc = q.clamp(1.0 / m as f64, 1.0 - 1.0 / m as f64);
    let reach = (k + (8.0 * (m as f64 * qc * (1.0 - qc)).sqrt()).ceil() as usize + 2).min(m);
    // The trials among the `reach` highest of either side, highest first per side.
    let top = |key: fn(&(f64, f64)) -> f64| {
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&i, &j| key(&pairs[j]).total_cmp(&key(&pairs[i])).then(i.cmp(&j)));
        order.truncate(reach);
        order
    };
    let top_a = top(|p| p.0);
    let top_b = if b.is_some() {
        top(|p| p.1)
    } else {
        Vec::new()
    };
    let mut near: Vec<usize> = top_a.iter().chain(&top_b).copied().collect();
    near.sort_unstable();
    near.dedup();
    let slot = |i: usize| near.binary_search(&i).unwrap_or(0);
    let (by_a, by_b): (Vec<usize>, Vec<usize>) = (
        top_a.iter().map(|&i| slot(i)).collect(),
        top_b.iter().map(|&i| slot(i)).collect(),
    );
    let far = (m - near.len()) as f64;
    let one = Poisson::new(1.0).expect("rate 1");
    let mut counts = vec![0u64; near.len()];
    let mut stats = Vec::with_capacity(RESAMPLES as usize);
    for r in 0..RESAMPLES {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0x7a11_0000 + r);
        let far_n = if far > 0.0 {
            Poisson::new(far).map_or(far as u64, |d| d.sample(&mut rng) as u64)
        } else {
            0
        };
        for c in counts.iter_mut() {
            *c = one.sample(&mut rng) as u64;
        }
        let total = far_n + counts.iter().sum::<u64>();
        if total == 0 {
            continue;
        }
        let want = crate::stats::tail_mass(q, total);
        // The mean of the `want` highest values of the resample (the last in part), walking
        // down `order`; past its end (vanishingly rare) at its last value.
        let tail = |order: &[usize], value: fn(&(f64, f64)) -> f64| {
            let (mut left, mut sum) = (want, 0.0);
            let mut last = f64::NAN;
            for &t in order {
                let take = (counts[t] as f64).min(left);
                last = value(&pairs[near[t]]);
                sum += take * last;
                left -= take;
                if left <= 0.0 {
                    break;
                }
            }
            (sum + left * last) / want
        };
        let ta = tail(&by_a, |p| p.0);
        stats.push(if b.is_some() {
            tail(&by_b, |p| p.1) - ta
        } else {
            ta
        });
    }
    mean_sd(stats.into_iter()).1
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
        Stat::Quantile(_) | Stat::UpperTailMean(_)
            if a[..n]
                .iter()
                .zip(&b[..n])
                .all(|(x, y)| x.to_bits() == y.to_bits()) =>
        {
            // The same values in every trial: the same percentile or tail, exactly.
            0.0
        }
        Stat::Quantile(q) => paired_bootstrap_se(a, b, q),
        Stat::UpperTailMean(q) => tail_bootstrap_se(&a[..n], Some(&b[..n]), q),
    };
    Figure {
        value: fb.value - fa.value,
        se,
    }
}

/// Resamples of the trials for the standard error of a difference of two percentiles.
pub const RESAMPLES: u64 = 400;

/// The standard error of `P_q(b) - P_q(a)` over the same trials: the standard deviation of the
/// difference over [`RESAMPLES`] bootstrap resamples of the trials where both are defined,
/// each trial's pair of values kept together (so what the variants share cancels, as on common
/// random numbers). A resampled percentile jumps where the percentile sits at a cluster of
/// equal values, as the percentile itself does from run to run; a standard error from a
/// density cannot see that.
///
/// The resamples are Poisson ones (each trial counted Poisson(1) times), which lets a resample
/// cost what the trials near the two percentiles cost rather than all of them: only a trial
/// whose value lies within 8 binomial standard deviations (in ranks) of a percentile can be
/// that percentile in a resample, so the others are counted by category (below or above each
/// window), each category's count one Poisson draw. Resample `k` draws from its own stream of
/// a fixed seed: the result depends on the values only.
fn paired_bootstrap_se(a: &[f64], b: &[f64], q: f64) -> f64 {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| !x.is_nan() && !y.is_nan())
        .map(|(x, y)| (*x, *y))
        .collect();
    let m = pairs.len();
    if m < 2 {
        return f64::NAN;
    }
    // Each trial's rank in a and in b (ties broken by trial order: equal values are equal).
    let ranks = |key: fn(&(f64, f64)) -> f64| {
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&i, &j| key(&pairs[i]).total_cmp(&key(&pairs[j])).then(i.cmp(&j)));
        let mut rank = vec![0usize; m];
        for (k, &i) in order.iter().enumerate() {
            rank[i] = k;
        }
        rank
    };
    let (rank_a, rank_b) = (ranks(|p| p.0), ranks(|p| p.1));
    let r = rank(q, m) - 1;
    let qc = q.clamp(1.0 / m as f64, 1.0 - 1.0 / m as f64);
    let half = (8.0 * (m as f64 * qc * (1.0 - qc)).sqrt()).ceil() as usize + 2;
    let (lo, hi) = (r.saturating_sub(half), (r + half).min(m - 1));
    let side = |k: usize| usize::from(k >= lo) + usize::from(k > hi); // 0 below, 1 in, 2 above
    // Trials in either window, counted one by one; the rest by (side in a, side in b).
    let mut near: Vec<(usize, usize, f64, f64)> = Vec::new(); // (side a, side b, a, b)
    let mut far = [0u64; 9];
    for (i, &(x, y)) in pairs.iter().enumerate() {
        let (sa, sb) = (side(rank_a[i]), side(rank_b[i]));
        if sa == 1 || sb == 1 {
            near.push((sa, sb, x, y));
        } else {
            far[sa * 3 + sb] += 1;
        }
    }
    // The near trials in a's order and in b's order, for the walk to the percentile.
    let mut by_a: Vec<usize> = (0..near.len()).filter(|&t| near[t].0 == 1).collect();
    by_a.sort_by(|&s, &t| near[s].2.total_cmp(&near[t].2));
    let mut by_b: Vec<usize> = (0..near.len()).filter(|&t| near[t].1 == 1).collect();
    by_b.sort_by(|&s, &t| near[s].3.total_cmp(&near[t].3));
    let one = Poisson::new(1.0).expect("rate 1");
    let mut counts = vec![0u64; near.len()];
    let mut diffs = Vec::with_capacity(RESAMPLES as usize);
    for k in 0..RESAMPLES {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0x5eed_0000 + k);
        let mut far_n = [0u64; 9];
        for (c, &n) in far_n.iter_mut().zip(&far) {
            *c = if n == 0 {
                0
            } else {
                Poisson::new(n as f64).map_or(n, |d| d.sample(&mut rng) as u64)
            };
        }
        for c in counts.iter_mut() {
            *c = one.sample(&mut rng) as u64;
        }
        let total: u64 = far_n.iter().sum::<u64>() + counts.iter().sum::<u64>();
        if total == 0 {
            continue;
        }
        // The resample's percentile: rank ceil(q N) among its N values.
        let want = crate::stats::nearest_rank(q, total);
        let pick = |below: u64, order: &[usize], value: fn(&(usize, usize, f64, f64)) -> f64| {
            let mut seen = below;
            for &t in order {
                seen += counts[t];
                if seen >= want {
                    return value(&near[t]);
                }
            }
            // Beyond the window (vanishingly rare): its edge.
            order.last().map_or(f64::NAN, |&t| value(&near[t]))
        };
        // Counted below each window: the far trials below it (`far[side a * 3 + side b]`) and
        // the near ones below it.
        let near_below = |side: fn(&(usize, usize, f64, f64)) -> usize| {
            near.iter()
                .zip(&counts)
                .filter(|(n, _)| side(n) == 0)
                .map(|(_, c)| c)
                .sum::<u64>()
        };
        let below_a = far_n[0] + far_n[2] + near_below(|n| n.0);
        let below_b = far_n[0] + far_n[6] + near_below(|n| n.1);
        let (qa, qb) = (pick(below_a, &by_a, |n| n.2), pick(below_b, &by_b, |n| n.3));
        diffs.push(qb - qa);
    }
    mean_sd(diffs.into_iter()).1
}

/// The standard error the same difference would have from two independent runs.
pub fn independent_se(stat: Stat, a: &[f64], b: &[f64]) -> f64 {
    let (x, y) = (figure(stat, a).se, figure(stat, b).se);
    (x * x + y * y).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The spread of the P5 (nearest rank) over `runs` independent samples of `n` values
    /// from `draw`, and the mean standard error [`quantile_se`] gives them.
    fn spread_and_se(
        n: usize,
        runs: u64,
        q: f64,
        draw: impl Fn(&mut rand_pcg::Pcg64Mcg) -> f64,
    ) -> (f64, f64) {
        let mut est = Vec::new();
        let mut ses = Vec::new();
        for run in 0..runs {
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(run);
            let v: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
            let f = figure(Stat::Quantile(q), &v);
            est.push(f.value);
            ses.push(f.se);
        }
        let (_, sd, _) = mean_sd(est.into_iter());
        (sd, ses.iter().sum::<f64>() / ses.len() as f64)
    }

    #[test]
    fn a_tail_mean_is_the_mean_of_the_worst_trials_with_an_honest_error() {
        // The highest 5% of 30 = 1.5 of 1..=30: 30 whole and half of 29, (30 + 14.5) / 1.5;
        // of 40 values, the highest 2 exactly.
        let v: Vec<f64> = (1..=30).rev().map(f64::from).collect();
        assert!((figure(Stat::UpperTailMean(0.05), &v).value - 44.5 / 1.5).abs() < 1e-12);
        let v: Vec<f64> = (1..=40).map(f64::from).collect();
        assert_eq!(figure(Stat::UpperTailMean(0.05), &v).value, 39.5);
        assert!(figure(Stat::UpperTailMean(0.05), &[]).value.is_nan());
        // Its standard error matches its spread over independent samples: a smooth
        // distribution (exponential losses) and one with 6% of trials at one worst value.
        for atom in [0.0, 0.05] {
            let (mut est, mut ses, mut dest, mut dses) = (vec![], vec![], vec![], vec![]);
            for run in 0..150u64 {
                let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(500 + run);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for _ in 0..3000 {
                    let u: f64 = rng.random();
                    let x = if u < atom {
                        10.0
                    } else {
                        -(1.0 - rng.random::<f64>()).ln()
                    };
                    a.push(x);
                    // A variant that moves each trial a little, and some a lot.
                    b.push(x * 1.05 + 0.3 * rng.random::<f64>());
                }
                let f = figure(Stat::UpperTailMean(0.05), &a);
                est.push(f.value);
                ses.push(f.se);
                let d = paired_difference(Stat::UpperTailMean(0.05), &a, &b);
                dest.push(d.value);
                dses.push(d.se);
            }
            let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
            let (_, sd, _) = mean_sd(est.into_iter());
            let se = rms(&ses);
            // Within a fifth where the values are smooth; at a cluster, where the tail jumps
            // between the cluster and the values below it, within the bounds the percentiles'
            // errors keep there.
            let (lo, hi) = if atom == 0.0 { (0.8, 1.2) } else { (0.7, 1.4) };
            assert!(
                se / sd > lo && se / sd < hi,
                "atom {atom}: spread {sd} vs se {se}"
            );
            let (_, dsd, _) = mean_sd(dest.into_iter());
            let dse = rms(&dses);
            assert!(
                dse / dsd > lo && dse / dsd < hi,
                "atom {atom}: spread {dsd} vs paired se {dse}"
            );
            assert!(dse < se / 2.0, "paired {dse} vs {se}");
        }
    }

    #[test]
    fn a_smooth_percentile_has_the_textbook_standard_error() {
        // Uniform on [0, 1): density 1, so the P5 of 4,000 values has standard error
        // sqrt(0.05 x 0.95 / 4000) = 0.003446.
        let (sd, se) = spread_and_se(4000, 200, 0.05, |r| r.random::<f64>());
        let textbook = (0.05f64 * 0.95 / 4000.0).sqrt();
        assert!((se / textbook - 1.0).abs() < 0.05, "se {se} vs {textbook}");
        assert!((sd / se - 1.0).abs() < 0.2, "spread {sd} vs se {se}");
        // Large samples take the binomial's normal approximation (its sd above 20 ranks).
        let (sd, se) = spread_and_se(20_000, 100, 0.05, |r| r.random::<f64>());
        let textbook = (0.05f64 * 0.95 / 20_000.0).sqrt();
        assert!((se / textbook - 1.0).abs() < 0.05, "se {se} vs {textbook}");
        assert!((sd / se - 1.0).abs() < 0.3, "spread {sd} vs se {se}");
        // Small samples and extreme levels are handled (exact binomial weights).
        let (sd, se) = spread_and_se(60, 400, 0.01, |r| r.random::<f64>());
        assert!(
            se > 0.0 && (sd / se - 1.0).abs() < 0.35,
            "spread {sd} vs se {se}"
        );
    }

    #[test]
    fn a_run_of_equal_values_weighs_what_its_ranks_weigh_one_by_one() {
        // The bootstrap's weights rank by rank (the distribution function at every rank of the
        // window), as the error was first summed: a run of equal values must weigh the same
        // as its ranks one by one, in the exact (small) and the normal (large) branch.
        let one_by_one = |v: &[f64], q: f64| {
            let m = v.len() as u64;
            let r = crate::stats::nearest_rank(q, m);
            let (mf, rf) = (m as f64, r as f64);
            let sd = rank_sd(m, q);
            let below = |j: u64| {
                let p = j as f64 / mf;
                if sd > 20.0 {
                    let s = (mf * p * (1.0 - p)).sqrt();
                    1.0 - crate::stats::normal_cdf((rf - 0.5 - mf * p) / s)
                } else {
                    crate::stats::inc_beta(rf, mf - rf + 1.0, p)
                }
            };
            let (lo, hi) = quantile_se_window(m, q);
            let x0 = v[r as usize - 1];
            let (mut w0, mut w1, mut w2, mut prev) = (0.0, 0.0, 0.0, 0.0);
            for j in lo..=hi {
                let cum = if j == hi { 1.0 } else { below(j) };
                let w = (cum - prev).max(0.0f64);
                prev = cum;
                let x = v[j as usize - 1] - x0;
                w0 += w;
                w1 += w * x;
                w2 += w * x * x;
            }
            (w2 / w0 - (w1 / w0).powi(2)).max(0.0).sqrt()
        };
        for m in [40usize, 300, 5_000, 40_000] {
            for run in [1usize, 3, 17, 250] {
                // Sorted values in runs of `run` equal ones, the odd single value between.
                let v: Vec<f64> = (0..m)
                    .map(|i| (i / run) as f64 * 2.5 + if i % 97 == 0 { 0.5 } else { 0.0 })
                    .scan(f64::MIN, |last, x| {
                        *last = last.max(x);
                        Some(*last)
                    })
                    .collect();
                for q in [0.01, 0.05, 0.5, 0.95] {
                    let (got, want) = (quantile_se(&v, q), one_by_one(&v, q));
                    assert!(
                        (got - want).abs() <= 1e-9 * want + 1e-12,
                        "{m} values in runs of {run}, q {q}: {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_percentile_at_a_cluster_of_equal_values_counts_its_jumps() {
        // 5% of the trials lose everything (-1); the P5 jumps between -1 and about -0.8 from
        // run to run. An error read from the density (or from batches) is several times too
        // small there; this one is close to the spread.
        let (sd, se) = spread_and_se(3000, 300, 0.05, |r| {
            if r.random::<f64>() < 0.05 {
                -1.0
            } else {
                -0.8 + 1.8 * r.random::<f64>()
            }
        });
        assert!(sd > 0.05, "the P5 should jump: spread {sd}");
        assert!(se / sd > 0.7 && se / sd < 1.4, "spread {sd} vs se {se}");
    }

    #[test]
    fn a_paired_difference_at_a_cluster_counts_its_jumps() {
        // Variant b moves another 0.3% of the trials into the -100% cluster: its P5 sits on the
        // cluster more often than a's, and the difference jumps between about 0 and -0.2.
        let (mut est, mut ses) = (Vec::new(), Vec::new());
        for run in 0..300u64 {
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1000 + run);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..2000 {
                let (u, x): (f64, f64) = (rng.random(), rng.random());
                let v = if u < 0.048 { -1.0 } else { -0.8 + 1.8 * x };
                a.push(v);
                b.push(if u < 0.051 { -1.0 } else { v });
            }
            let d = paired_difference(Stat::Quantile(0.05), &a, &b);
            est.push(d.value);
            ses.push(d.se);
        }
        let (_, sd, _) = mean_sd(est.into_iter());
        let rms = (ses.iter().map(|x| x * x).sum::<f64>() / ses.len() as f64).sqrt();
        assert!(sd > 0.03, "the difference should jump: spread {sd}");
        assert!(
            rms / sd > 0.7 && rms / sd < 1.4,
            "spread {sd} vs standard error {rms}"
        );
    }

    #[test]
    fn paired_percentiles_of_the_same_trials_move_together() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let a: Vec<f64> = (0..5000).map(|_| rng.random::<f64>()).collect();
        // A small shift of every trial: the P50 moves by it, with a far smaller error than
        // two independent samples would have; the same values differ by exactly nothing.
        let b: Vec<f64> = a.iter().map(|x| x + 0.01).collect();
        let d = paired_difference(Stat::Quantile(0.5), &a, &b);
        assert!((d.value - 0.01).abs() < 1e-12, "{d:?}");
        let indep = independent_se(Stat::Quantile(0.5), &a, &b);
        assert!(
            d.se < indep / 10.0,
            "paired {} vs independent {indep}",
            d.se
        );
        assert_eq!(paired_difference(Stat::Quantile(0.5), &a, &a).se, 0.0);
        // Unrelated values: the paired error is the independent one.
        let c: Vec<f64> = (0..5000).map(|_| rng.random::<f64>()).collect();
        let d = paired_difference(Stat::Quantile(0.5), &a, &c);
        let indep = independent_se(Stat::Quantile(0.5), &a, &c);
        assert!((d.se / indep - 1.0).abs() < 0.1, "{} vs {indep}", d.se);
    }
}
