//! Meaning checks of the business-case blocks: `[mkba]`, `[facts]` and `[feasibility]`.

use super::raw::*;
use super::validate::Ctx;
use crate::contract::{Baseline, Contract, Direction, Role};
use crate::mkba::*;
use crate::money::{Money, Ratio};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::HashSet;

/// The most beneficiaries outside the contract an MKBA may list (as many as payers).
pub const MAX_BENEFICIARIES: usize = 1_000;

fn known(ids: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = ids.map(|s| format!("`{s}`")).collect();
    if v.is_empty() {
        "none are declared".to_string()
    } else {
        v.join(", ")
    }
}

/// Validates the business-case blocks of `raw` into `c.mkba` and `c.facts`.
pub(crate) fn validate(raw: &RawScenario, c: &mut Contract, cx: &mut Ctx) {
    if let Some(m) = &raw.mkba {
        c.mkba = mkba(m, c, cx);
    }
    c.facts = facts(raw.facts.as_ref(), raw.feasibility.as_ref(), c, cx);
}

fn share(cx: &mut Ctx, n: Option<Num>, path: &str, what: &str) -> Ratio {
    n.and_then(|n| cx.ratio(n, path, "0", "1", what))
        .unwrap_or(Ratio::ZERO)
}

fn mkba(m: &RawMkba, c: &Contract, cx: &mut Ctx) -> Option<Mkba> {
    let errs_before = cx.errs.len();
    let discount_rate = match m.discount_rate {
        Some(n) => cx
            .ratio(
                n,
                "mkba.discount_rate",
                "0",
                "0.2",
                "the real discount rate (a fraction a year, 0.0225 for 2.25%)",
            )
            .unwrap_or(Ratio::ZERO),
        None => Ratio::from_decimal(DEFAULT_DISCOUNT_RATE).unwrap_or(Ratio::ZERO),
    };
    // A horizon that is not valid is reported once: the terms are not also checked against
    // a horizon the file does not have.
    let (horizon_years, horizon_valid) = match m.horizon_years {
        Some(h) => match cx.int(h, "mkba.horizon_years", 1, 50, "the horizon in years") {
            Some(y) => (y as u16, true),
            None => (DEFAULT_HORIZON_YEARS, false),
        },
        None => (DEFAULT_HORIZON_YEARS, true),
    };

    let effect_from = match m.effect_from.as_deref() {
        None | Some("contract-start") => EffectFrom::ContractStart,
        Some("measurement") => EffectFrom::Measurement,
        Some(other) => {
            cx.err(
                "mkba.effect_from",
                format!(
                    "unknown `{other}`; use `contract-start` (every case's effect years count from the contract's start) or `measurement` (from when the case is measured)"
                ),
            );
            EffectFrom::ContractStart
        }
    };

    // Outside beneficiaries: as many as a contract has payers at most.
    let mut outside: Vec<Beneficiary> = Vec::new();
    if m.beneficiaries.len() > MAX_BENEFICIARIES {
        cx.err(
            "mkba.beneficiaries",
            format!(
                "{} entries; an MKBA has at most {MAX_BENEFICIARIES} beneficiaries outside the contract",
                crate::chart::theme::thousands(m.beneficiaries.len() as f64)
            ),
        );
    }
    for (i, b) in m.beneficiaries.iter().enumerate().take(MAX_BENEFICIARIES) {
        let path = format!("mkba.beneficiaries[{i}].id");
        if b.id.trim().is_empty() {
            cx.err(&path, "a beneficiary needs an id");
        } else if c.party(&b.id).is_some() {
            cx.err(
                &path,
                format!(
                    "`{}` is already a party to the contract; list only beneficiaries outside the contract here (a contract party can have values directly)",
                    b.id
                ),
            );
        } else if outside.iter().any(|o| o.id == b.id) {
            cx.err(&path, format!("beneficiary `{}` is listed twice", b.id));
        } else {
            outside.push(Beneficiary {
                id: b.id.clone(),
                name: b.name.clone().unwrap_or_else(|| b.id.clone()),
                party: None,
            });
        }
    }

    // Lines: check and collect which beneficiaries are used.
    struct Pending {
        outcome: usize,
        values: Vec<(String, Money)>,
        line: MkbaOutcome,
    }
    let mut pending: Vec<Pending> = Vec::new();
    let mut seen = HashSet::new();
    for (i, o) in m.outcomes.iter().enumerate() {
        let path = format!("mkba.outcomes[{i}]");
        let Some(oi) = c.outcome(&o.outcome) else {
            cx.err(
                format!("{path}.outcome"),
                format!(
                    "unknown outcome `{}`; the contract's outcomes are {}",
                    o.outcome,
                    known(c.outcomes.iter().map(|o| o.id.clone()))
                ),
            );
            continue;
        };
        if !seen.insert(oi) {
            cx.err(
                format!("{path}.outcome"),
                format!(
                    "outcome `{}` has two MKBA lines; give each outcome one line",
                    o.outcome
                ),
            );
            continue;
        }
        let mut values = Vec::new();
        for (k, v) in &o.values {
            let vp = format!("{path}.values.{k}");
            let ok_party = c
                .party(k)
                .is_some_and(|p| !matches!(c.parties[p].role, Role::Account | Role::External));
            if !ok_party && !outside.iter().any(|b| &b.id == k) {
                cx.err(
                    &vp,
                    format!(
                        "unknown beneficiary `{k}`; use a party of the contract or declare it under [[mkba.beneficiaries]] (known: {})",
                        known(
                            c.parties
                                .iter()
                                .filter(|p| !matches!(p.role, Role::Account | Role::External))
                                .map(|p| p.id.clone())
                                .chain(outside.iter().map(|b| b.id.clone()))
                        )
                    ),
                );
                continue;
            }
            if let Some(m) = cx.money(*v, &vp, true) {
                values.push((k.clone(), m));
            }
        }
        // Each value is at most 1e12; their sum (EUR/IND) is checked in 128 bits, as more
        // than ~92,000 of them would pass `i64` cents.
        let per_case: i128 = values.iter().map(|(_, m): &(_, Money)| m.0 as i128).sum();
        let limit = crate::settlement::LIMIT;
        if per_case.unsigned_abs() > limit.0 as u128 {
            cx.err(
                format!("{path}.values"),
                format!(
                    "the values of one case add up to {} over {} beneficiaries; the value of one case (EUR/IND) is at most {}: lower the values or list fewer beneficiaries",
                    crate::money::format_thousands_wide(per_case),
                    values.len(),
                    crate::money::format_thousands(limit),
                ),
            );
        }
        if o.values.is_empty() {
            cx.err(
                format!("{path}.values"),
                "give the value of one case to at least one beneficiary, e.g. values = { rotterdam = 5000 }",
            );
        }
        let deadweight = share(
            cx,
            o.deadweight,
            &format!("{path}.deadweight"),
            "deadweight",
        );
        let attribution = share(
            cx,
            o.attribution,
            &format!("{path}.attribution"),
            "attribution",
        );
        let substitution = share(
            cx,
            o.substitution,
            &format!("{path}.substitution"),
            "substitution",
        );
        if deadweight.to_decimal() + attribution.to_decimal() + substitution.to_decimal()
            > Decimal::ONE
        {
            cx.err(
                format!("{path}.deadweight"),
                format!(
                    "deadweight + attribution + substitution add up to {}; together they can take at most 1 (all of OUTCOME)",
                    deadweight.to_decimal() + attribution.to_decimal() + substitution.to_decimal()
                ),
            );
        }
        let realisation = match &o.realisation {
            None => {
                cx.err(
                    format!("{path}.realisation"),
                    "required: the share of the effect realised in the short (years 1-3), medium (4-5) and long term (6+), e.g. realisation = { short = 0.5, medium = 0.3, long = 0.2 }",
                );
                [Ratio::ZERO; 3]
            }
            Some(r) => {
                let rp = format!("{path}.realisation");
                let s = [
                    share(
                        cx,
                        Some(r.short),
                        &format!("{rp}.short"),
                        "the short-term share",
                    ),
                    share(
                        cx,
                        Some(r.medium),
                        &format!("{rp}.medium"),
                        "the medium-term share",
                    ),
                    share(
                        cx,
                        Some(r.long),
                        &format!("{rp}.long"),
                        "the long-term share",
                    ),
                ];
                let sum: Decimal = s.iter().map(|x| x.to_decimal()).sum();
                if sum != Decimal::ONE {
                    cx.err(
                        &rp,
                        format!(
                            "short + medium + long add up to {sum}; they must add up to exactly 1"
                        ),
                    );
                }
                let years = term_years(horizon_years);
                for (k, name) in ["short", "medium", "long"].iter().enumerate() {
                    if horizon_valid && years[k] == 0 && !s[k].to_decimal().is_zero() {
                        cx.err(
                            format!("{rp}.{name}"),
                            format!(
                                "the {name} term has no years within the horizon of {} (short: 1-3, medium: 4-5, long: 6+); raise mkba.horizon_years or set this share to 0",
                                crate::mkba::years(horizon_years)
                            ),
                        );
                    }
                }
                s
            }
        };
        let drop_off = share(
            cx,
            o.drop_off,
            &format!("{path}.drop_off"),
            "the yearly drop-off",
        );
        let out = &c.outcomes[oi];
        let ind = match o.ind.as_deref() {
            None => Ind::default_for(out),
            Some("achieved") if out.direction == Direction::Decrease => {
                cx.err(
                    format!("{path}.ind"),
                    format!(
                        "outcome `{}` is a `decrease` outcome: its achieved units are what is left (benefit days still used), not cases of a benefit; its IND is the improvement on its baseline (leave `ind` out or set it to \"improvement\")",
                        out.id
                    ),
                );
                Ind::Improvement
            }
            Some("achieved") => Ind::Achieved,
            Some("improvement") if out.baseline == Baseline::None => {
                cx.err(
                    format!("{path}.ind"),
                    format!(
                        "outcome `{}` has no baseline, so it has no improvement to count; give the outcome a baseline or leave `ind` out (IND is then its achieved units)",
                        out.id
                    ),
                );
                Ind::Achieved
            }
            Some("improvement") => Ind::Improvement,
            Some(other) => {
                cx.err(
                    format!("{path}.ind"),
                    format!(
                        "unknown IND `{other}`; allowed: \"achieved\" (the units achieved; the default of an `increase` outcome) or \"improvement\" (the improvement on the outcome's baseline)"
                    ),
                );
                Ind::default_for(out)
            }
        };
        pending.push(Pending {
            outcome: oi,
            values,
            line: MkbaOutcome {
                outcome: oi,
                values: Vec::new(),
                deadweight,
                attribution,
                substitution,
                realisation,
                drop_off,
                ind,
                timing: match effect_from {
                    EffectFrom::ContractStart => Decimal::ONE,
                    EffectFrom::Measurement => {
                        crate::mkba::measurement_timing(c, oi, discount_rate)
                    }
                },
            },
        });
    }
    if m.outcomes.is_empty() {
        cx.err(
            "mkba",
            "the [mkba] block has no lines; add one [[mkba.outcomes]] per outcome with its value per case",
        );
    }
    if cx.errs.len() > errs_before {
        return None;
    }
    // Beneficiaries: contract parties with a value, in contract order, then outside ones.
    let used: HashSet<&str> = pending
        .iter()
        .flat_map(|p| p.values.iter().map(|(k, _)| k.as_str()))
        .collect();
    let mut beneficiaries: Vec<Beneficiary> = c
        .parties
        .iter()
        .enumerate()
        .filter(|(_, p)| used.contains(p.id.as_str()))
        .map(|(i, p)| Beneficiary {
            id: p.id.clone(),
            name: p.name.clone(),
            party: Some(i),
        })
        .collect();
    beneficiaries.extend(outside);
    pending.sort_by_key(|p| p.outcome);
    let outcomes = pending
        .into_iter()
        .map(|p| {
            let mut line = p.line;
            line.values = p
                .values
                .iter()
                .filter_map(|(k, m)| {
                    beneficiaries
                        .iter()
                        .position(|b| &b.id == k)
                        .map(|b| (b, *m))
                })
                .collect();
            line
        })
        .collect();
    Some(Mkba {
        discount_rate,
        effect_from,
        horizon_years,
        beneficiaries,
        outcomes,
    })
}

fn facts(f: Option<&RawFacts>, feas: Option<&RawFeasibility>, c: &Contract, cx: &mut Ctx) -> Facts {
    let n = c.parties.len();
    let mut out = Facts {
        preparation_costs: vec![Money::ZERO; n],
        transaction_costs: vec![Money::ZERO; n],
        outcomes: vec![OutcomeFacts::default(); c.outcomes.len()],
        tranches: vec![InvestorFacts::default(); c.tranches.len()],
        ..Facts::default()
    };
    if let Some(feas) = feas {
        for (k, v) in &feas.thresholds {
            out.thresholds
                .push((k.clone(), v.0.to_f64().unwrap_or(f64::NAN)));
        }
    }
    let Some(f) = f else {
        return out;
    };
    out.inflow_guaranteed = f.inflow_guaranteed;
    if f.inflow_guaranteed == Some(false) && !c.inflow_guarantees.is_empty() {
        cx.err(
            "facts.inflow_guaranteed",
            format!(
                "is false, but the contract has {} `[[inflow_guarantees]]`; remove the fact (the guarantee answers it) or the guarantee",
                c.inflow_guarantees.len()
            ),
        );
    }
    out.data_delivery_guaranteed = f.data_delivery_guaranteed;
    let parties = || {
        known(
            c.parties
                .iter()
                .filter(|p| !matches!(p.role, Role::Account | Role::External))
                .map(|p| p.id.clone()),
        )
    };
    for (name, map, dest) in [
        (
            "preparation_costs",
            &f.preparation_costs,
            &mut out.preparation_costs,
        ),
        (
            "transaction_costs",
            &f.transaction_costs,
            &mut out.transaction_costs,
        ),
    ] {
        for (k, v) in map {
            let path = format!("facts.{name}.{k}");
            match c.party(k) {
                Some(p) if !matches!(c.parties[p].role, Role::Account | Role::External) => {
                    if let Some(m) = cx.money(*v, &path, true) {
                        dest[p] = m;
                    }
                }
                _ => cx.err(
                    &path,
                    format!(
                        "unknown party `{k}`; costs are borne by a party of the contract: {}",
                        parties()
                    ),
                ),
            }
        }
    }
    for (k, v) in &f.outcomes {
        match c.outcome(k) {
            Some(o) => {
                out.outcomes[o] = OutcomeFacts {
                    measurement: v.measurement.clone().filter(|s| !s.trim().is_empty()),
                    evidence: v.evidence.clone().filter(|s| !s.trim().is_empty()),
                }
            }
            None => cx.err(
                format!("facts.outcomes.{k}"),
                format!(
                    "unknown outcome `{k}`; the contract's outcomes are {}",
                    known(c.outcomes.iter().map(|o| o.id.clone()))
                ),
            ),
        }
    }
    for (k, v) in &f.investors {
        match c.tranches.iter().position(|t| &t.id == k) {
            Some(t) => {
                out.tranches[t] = InvestorFacts {
                    committed: v.committed,
                    hurdle_irr: v.hurdle_irr.and_then(|h| {
                        cx.ratio(
                            h,
                            &format!("facts.investors.{k}.hurdle_irr"),
                            "-1",
                            "1",
                            "the hurdle IRR (a fraction a year, 0.04 for 4%)",
                        )
                    }),
                }
            }
            None => cx.err(
                format!("facts.investors.{k}"),
                format!(
                    "unknown tranche `{k}`; facts about investors are given per tranche: {}",
                    known(c.tranches.iter().map(|t| t.id.clone()))
                ),
            ),
        }
    }
    out
}
