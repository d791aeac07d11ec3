//! Named stresses: the defaults that fit any scenario, and those the file defines
//! (`[[stresses]]`), as [`Variant`]s.
//!
//! | name | what changes |
//! |---|---|
//! | `referral-shortfall` | the fill rate's mean falls 15 percentage points (`uncertainty.fill.mean-=0.15`); without a fill rate, a fixed one of 0.85 (`uncertainty.fill={ mean = 0.85, sd = 0 }`: each cohort enrols Binomial(target, 0.85), its target unchanged) |
//! | `weaker-programme` | every success rate's mean x 0.85, every quantity outcome's distribution x 0.85 (the quantity itself scaled: a normal or log-normal's mean and sd, a triangular or PERT's min, mode and max); x 1.15 for a `decrease` outcome (fewer is better), so the stress always hurts |
//! | `recession` | the scenario's shocks with a `factor` happen for sure (`probability = 1`); without such shocks, every success rate and quantity distribution x 0.8 (x 1.2 for a `decrease` outcome) and the fill rate 5 points lower |
//! | `cost-overrun` | the enterprise's fixed and per-participant costs (and the cost distribution) x 1.2 |
//! | `delay` | the scenario's shocks with a `delay` or `enrolment_delay` happen for sure; without such shocks, a shock that happens for sure delays every outcome by one period (its measurement, payment and business-case savings); without an `[uncertainty]` block, or with no room for another delaying shock, every outcome is measured one period later (`outcomes.*.lag+=1`) |
//!
//! A default is left out when the scenario has nothing it would change; a stress whose
//! changed scenario does not validate (for example a delay that pushes a measurement past the
//! term) is reported as skipped with the reason. A stress in the file with the same name as a
//! default replaces it.

use super::Variant;
use crate::scenario::Scenario;
use crate::scenario::overrides::Override;
use toml::Value;

fn has(t: Option<&toml::Table>, path: &[&str]) -> bool {
    let mut cur = match t {
        Some(t) => t,
        None => return false,
    };
    for (i, k) in path.iter().enumerate() {
        match cur.get(*k) {
            Some(Value::Table(x)) => cur = x,
            Some(_) => return i == path.len() - 1,
            None => return false,
        }
    }
    true
}

fn any_outcome_has(u: Option<&toml::Table>, key: &str, field: &str) -> bool {
    let Some(Value::Table(outs)) = u.and_then(|u| u.get("outcomes")) else {
        return false;
    };
    outs.values().any(|v| match v {
        Value::Table(t) => matches!(t.get(key), Some(Value::Table(d)) if d.contains_key(field)),
        _ => false,
    })
}

/// The overrides that make the programme work less well by `worse` (a factor as written, e.g.
/// `"0.85"`): the listed fields of every outcome's `key` distribution (`"rate"` or
/// `"quantity"`) x `worse` where more is better, and x `better` (its mirror, e.g. `"1.15"`)
/// where fewer is better (a `decrease` outcome: benefit days, reconvictions), so that the
/// stress always hurts. With no `decrease` outcome modelled, one `*` path per field.
fn worse_outcomes(
    sc: &Scenario,
    u: Option<&toml::Table>,
    keys: &[(&str, &[&str])],
    (worse, better): (&str, &str),
) -> Vec<String> {
    let c = &sc.contract;
    let decrease = |id: &str| {
        c.outcome(id)
            .is_some_and(|o| c.outcomes[o].direction == crate::contract::Direction::Decrease)
    };
    let outs = match u.and_then(|u| u.get("outcomes")) {
        Some(Value::Table(t)) => Some(t),
        _ => None,
    };
    let mut set = Vec::new();
    if !outs.is_some_and(|t| t.keys().any(|id| decrease(id))) {
        for &(key, fields) in keys {
            for f in fields {
                if any_outcome_has(u, key, f) {
                    set.push(format!("uncertainty.outcomes.*.{key}.{f}*={worse}"));
                }
            }
        }
        return set;
    }
    for (id, v) in outs.into_iter().flatten() {
        let factor = if decrease(id) { better } else { worse };
        for &(key, fields) in keys {
            for f in fields {
                if has(v.as_table(), &[key, f]) {
                    set.push(format!(
                        "uncertainty.outcomes.{}.{key}.{f}*={factor}",
                        crate::scenario::overrides::key_text(id)
                    ));
                }
            }
        }
    }
    set
}

/// A default stress from its overrides' text; `None` (the stress is left out) where one of
/// them cannot be read back, which only an id the overrides cannot write could cause, never
/// a panic.
fn variant(id: &str, description: &str, set: &[String]) -> Option<Variant> {
    Some(Variant {
        label: id.to_string(),
        description: description.to_string(),
        overrides: set
            .iter()
            .map(|s| {
                Override::parse(s)
                    .ok()
                    .map(|o| o.by(format!("the `{id}` stress's change")))
            })
            .collect::<Option<_>>()?,
    })
}

/// The default stresses that apply to `sc`, whose file text is `text`.
pub fn defaults(sc: &Scenario, text: &str) -> Vec<Variant> {
    use std::str::FromStr;
    let doc = toml::Table::from_str(text).unwrap_or_default();
    let ent = match doc.get("enterprise") {
        Some(Value::Table(t)) => Some(t),
        _ => None,
    };
    let u = sc.uncertainty.as_ref();
    let c = &sc.contract;
    let mut out = Vec::new();
    // Referral shortfall.
    let fill_mean = u
        .and_then(|u| u.get("fill"))
        .and_then(|f| f.get("mean"))
        .and_then(|m| m.as_float().or(m.as_integer().map(|i| i as f64)));
    match fill_mean {
        Some(m) if m > 0.2 => out.extend(variant(
            "referral-shortfall",
            "referrals fall 15 percentage points short (fill rate mean - 0.15)",
            &["uncertainty.fill.mean-=0.15".into()],
        )),
        Some(_) => out.extend(variant(
            "referral-shortfall",
            "referrals fall short: fill rate mean x 0.75",
            &["uncertainty.fill.mean*=0.75".into()],
        )),
        // Without a fill rate every cohort enrols its target: a fixed fill rate of 0.85 makes
        // it enrol Binomial(target, 0.85), the targets (and so what an inflow guarantee
        // promises) unchanged.
        None if !c.cohorts.is_empty() && u.is_some() => out.extend(variant(
            "referral-shortfall",
            "referrals fall 15% short: every cohort enrols Binomial(target, 0.85)",
            &["uncertainty.fill={ mean = 0.85, sd = 0 }".into()],
        )),
        None if !c.cohorts.is_empty() => out.extend(variant(
            "referral-shortfall",
            "every cohort 15% smaller",
            &["cohorts.*.size*=0.85".into()],
        )),
        None => {}
    }
    // Weaker programme.
    let weaker = worse_outcomes(
        sc,
        u,
        &[
            ("rate", &["mean"]),
            ("quantity", &["mean", "sd", "min", "mode", "max"]),
        ],
        ("0.85", "1.15"),
    );
    if !weaker.is_empty() {
        out.extend(variant(
            "weaker-programme",
            "the programme works less well: success rates and quantities x 0.85 (x 1.15 where fewer is better)",
            &weaker,
        ));
    }
    // Recession: the shocks that scale rates; delay: those that delay.
    let shocks: &[Value] = match u.and_then(|u| u.get("shocks")) {
        Some(Value::Array(a)) => a,
        _ => &[],
    };
    let certain = |keys: &[&str]| -> Vec<String> {
        // A shock with one of `keys` that is not certain already.
        let with = |v: &Value| {
            let p = v
                .get("probability")
                .and_then(|p| p.as_float().or(p.as_integer().map(|i| i as f64)));
            keys.iter().any(|k| has(v.as_table(), &[k])) && p.is_some_and(|p| p < 1.0)
        };
        if !shocks.is_empty() && shocks.iter().all(with) {
            return vec!["uncertainty.shocks.*.probability=1.0".into()];
        }
        (0..shocks.len())
            .filter(|&i| with(&shocks[i]))
            .map(|i| format!("uncertainty.shocks[{i}].probability=1.0"))
            .collect()
    };
    let scaling = certain(&["factor"]);
    let delaying = certain(&["delay", "enrolment_delay"]);
    if !scaling.is_empty() {
        out.extend(variant(
            "recession",
            "a recession: the scenario's shocks that scale success rates happen for sure (with any delay they bring)",
            &scaling,
        ));
    } else {
        let mut set = worse_outcomes(
            sc,
            u,
            &[
                ("rate", &["mean"]),
                ("quantity", &["mean", "sd", "min", "mode", "max"]),
            ],
            ("0.8", "1.2"),
        );
        let fill = fill_mean.is_some_and(|m| m > 0.1);
        if fill {
            set.push("uncertainty.fill.mean-=0.05".into());
        }
        if !set.is_empty() {
            out.extend(variant(
                "recession",
                if fill {
                    "a recession: success rates and quantities x 0.8 (x 1.2 where fewer is better), fill rate 5 points lower"
                } else {
                    "a recession: success rates and quantities x 0.8 (x 1.2 where fewer is better)"
                },
                &set,
            ));
        }
    }
    // Cost overrun.
    let mut cost = Vec::new();
    let sc_has = |t: &[&str]| has(ent, t);
    if sc_has(&["fixed_costs", "amount"]) {
        cost.push("enterprise.fixed_costs.amount*=1.2".to_string());
    }
    if sc_has(&["fixed_costs", "at"]) {
        cost.push("enterprise.fixed_costs.at.*.1*=1.2".to_string());
    }
    if sc_has(&["per_participant_cost"]) {
        cost.push("enterprise.per_participant_cost*=1.2".to_string());
    }
    for f in ["mean", "sd", "min", "mode", "max"] {
        if has(u, &["cost_per_participant", f]) {
            cost.push(format!("uncertainty.cost_per_participant.{f}*=1.2"));
        }
    }
    if !cost.is_empty() {
        out.extend(variant(
            "cost-overrun",
            "the enterprise's costs run 20% over",
            &cost,
        ));
    }
    // Delay.
    if !delaying.is_empty() {
        out.extend(variant(
            "delay",
            "the scenario's delays happen for sure",
            &delaying,
        ));
    } else if !c.outcomes.is_empty() {
        let shocks = match u.and_then(|u| u.get("shocks")) {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let delaying_shocks = shocks
            .iter()
            .filter(|v| has(v.as_table(), &["delay"]) || has(v.as_table(), &["enrolment_delay"]))
            .count();
        // Room for one more shock with a delay (the model's limits).
        let room = shocks.len() < crate::model::MAX_SHOCKS
            && delaying_shocks < crate::model::MAX_DELAY_SHOCKS;
        match u.filter(|_| room) {
            // A delay shock that happens for sure, on every outcome: measurements and payments
            // move a period later, and so do the savings of the business case (discounted over
            // the delay, as for any delay shock). A later `lag` would move only the payments
            // where the MKBA counts effects from the contract's start, and flatter the payers.
            Some(_) => {
                let mut shocks = shocks;
                let mut t = toml::Table::new();
                t.insert("probability".into(), Value::Float(1.0));
                t.insert("delay".into(), Value::Integer(1));
                t.insert(
                    "outcomes".into(),
                    Value::Array(
                        c.outcomes
                            .iter()
                            .map(|o| Value::String(o.id.clone()))
                            .collect(),
                    ),
                );
                shocks.push(Value::Table(t));
                out.extend(variant(
                    "delay",
                    "every outcome is measured, and paid, one period later, and its savings come later with it (a delay shock that happens for sure)",
                    &[format!(
                        "uncertainty.shocks={}",
                        crate::scenario::overrides::value_text(&Value::Array(shocks))
                    )],
                ));
            }
            None => out.extend(variant(
                "delay",
                "every outcome is measured one period later",
                &["outcomes.*.lag+=1".into()],
            )),
        }
    }
    out
}

/// Checks the file's own stresses: each applied to the scenario (`file`, `text`) must give a
/// valid scenario, uncertainty model included, on top of the `base` changes (`--set`). A
/// problem is reported at the stress's `set`
/// in the file, with the first reason the changed scenario gives.
pub fn check_file_stresses(
    sc: &Scenario,
    file: &str,
    text: &str,
    base: &[Override],
) -> Result<(), crate::error::Diagnostics> {
    // The uncertainty model is checked with the stress only where the file has one, and only
    // once the base itself is valid (a problem of the file is not the stress's).
    let with_model = sc.uncertainty.is_some()
        && crate::scenario::parse_with_model_overrides(file, text, base).is_ok();
    let mut items = Vec::new();
    for (i, s) in sc.stresses.iter().enumerate() {
        let all: Vec<Override> = base.iter().chain(&s.set).cloned().collect();
        let checked = if with_model {
            crate::scenario::parse_with_model_overrides(file, text, &all).map(|_| ())
        } else {
            crate::scenario::parse_with_overrides(file, text, &all).map(|_| ())
        };
        if let Err(d) = checked {
            // The stress's own overrides name themselves "its set" (`Override::by`).
            let first = d.items.first().map_or(String::new(), |x| {
                if x.path.is_empty() {
                    x.message.clone()
                } else {
                    format!("{}: {}", x.path, x.message)
                }
            });
            items.push(crate::error::Diagnostic::new(
                format!("stresses[{i}].set"),
                format!("stress `{}` makes the scenario invalid: {first}", s.id),
            ));
        }
    }
    if items.is_empty() {
        Ok(())
    } else {
        Err(crate::scenario::position(file, text, items))
    }
}

/// The stresses to run for `sc`: the defaults (unless `defaults` is false) with the file's own
/// stresses added (a file stress replaces a default of the same name).
pub fn stresses(sc: &Scenario, text: &str, defaults_too: bool) -> Vec<Variant> {
    let mut v = if defaults_too {
        defaults(sc, text)
    } else {
        Vec::new()
    };
    for s in &sc.stresses {
        let var = Variant {
            label: s.id.clone(),
            description: s.description.clone(),
            overrides: s.set.clone(),
        };
        match v.iter_mut().find(|x| x.label == s.id) {
            Some(x) => *x = var,
            None => v.push(var),
        }
    }
    v
}
