//! `sibsim mkba` and `sibsim feasibility`: the business case and the decision-tree walk.

use super::{CliError, Result, io};
use sibsim::feasibility::{self, Tree};
use sibsim::mkba::MkbaTable;
use sibsim::money::{Money, format_thousands};
use sibsim::montecarlo::{Results, SimConfig, simulate};
use sibsim::statement::Table;
use std::path::Path;

use super::design::{Common, overrides};

/// Reads the scenario with its `--set` overrides; with `trials > 0` also simulates it.
fn load(o: &Common<'_>, trials: u64) -> Result<(sibsim::Scenario, Option<Results>)> {
    let set = overrides(o.set)?;
    let text = io::read_text(o.scenario)?;
    let name = o.scenario.display().to_string();
    if trials == 0 {
        return Ok((
            sibsim::scenario::parse_with_overrides(&name, &text, &set)?,
            None,
        ));
    }
    let (sc, model) = sibsim::scenario::parse_with_model_overrides(&name, &text, &set)?;
    super::model_notes(&model, &sc.contract);
    let cfg = SimConfig {
        trials,
        seed: o.seed,
        threads: o.threads,
    };
    let r = super::progress::settled(simulate(&sc.contract, &model, &cfg))?;
    Ok((sc, Some(r)))
}

/// Renders the MKBA table the way a Dutch municipal report shows it.
pub fn render_mkba(c: &sibsim::Contract, t: &MkbaTable, r: Option<&Results>) -> String {
    let mut o = format!(
        "MKBA (maatschappelijke kosten-batenanalyse) of \"{}\"\nAmounts in {}; discount rate {}% a year (real), horizon {}, present values at the contract's start with the effect years counted {}; effect over time: {}, after drop-off, undiscounted.\n",
        c.name(),
        c.currency(),
        (t.discount_rate * rust_decimal::Decimal::ONE_HUNDRED).normalize(),
        sibsim::mkba::years(t.horizon_years),
        t.effect_from.words(),
        sibsim::mkba::term_years_words(t.horizon_years)
    );
    // Which lines count the improvement on a baseline rather than the cases achieved.
    let improved: Vec<&str> = c.mkba().map_or(Vec::new(), |m| {
        m.outcomes()
            .iter()
            .filter(|l| l.ind == sibsim::mkba::Ind::Improvement)
            .map(|l| c.outcomes()[l.outcome].id.as_str())
            .collect()
    });
    let of = if improved.is_empty() {
        String::new()
    } else {
        format!(
            "; for {}: the improvement on the baseline",
            improved.join(", ")
        )
    };
    if let Some(r) = r {
        o.push_str(&format!(
            "IND: mean cases achieved over {} (seed {}){of}.\n",
            sibsim::chart::theme::count(r.trials, "trial", "trials")
                .replace("trial", "simulated trial"),
            r.seed
        ));
    } else if !improved.is_empty() {
        o.push_str(&format!("IND: cases achieved{of}.\n"));
    }
    o.push('\n');
    let mut tab = Table::new(&MkbaTable::HEADER, 1);
    for row in t.rows() {
        tab.row(row);
    }
    tab.render(&mut o);
    for note in achieved_against_a_baseline(c) {
        o.push('\n');
        for line in sibsim::chart::theme::wrap(&note, 100) {
            o.push_str(&line);
            o.push('\n');
        }
    }

    o.push_str("\nWho benefits: present value of the impact per beneficiary\n");
    let (head, rows) = t.beneficiary_rows();
    let head_ref: Vec<&str> = head.iter().map(|s| s.as_str()).collect();
    let mut tab = Table::new(&head_ref, 1);
    for row in rows {
        tab.row(row);
    }
    tab.render(&mut o);
    if let Some(r) = r {
        if let Some(b) = &r.business_case {
            o.push('\n');
            let summed = super::simulate::summed_payers(r);
            o.push_str(&super::simulate::business_case_table(b, r.trials, &summed));
            if !summed.is_empty() {
                o.push_str(&super::simulate::wrap(&format!(
                    "The {} payers that pay most are listed, the other {} summed in one row: {}.",
                    super::simulate::PAYERS_LISTED,
                    summed.len(),
                    sibsim::error::id_list(&summed, "payers")
                )));
            }
            // The table is the expected case on the planned timing; the trials' present
            // values are linear in their cases, so they differ from it only where delay shocks
            // moved cases later.
            let table = t.total.present_value.to_f64();
            if (b.total_impact.mean - table).abs() > 1.0 {
                o.push_str(&super::simulate::wrap(&format!(
                    "The table values cases on the contract's planned timing ({}); the simulated social return also discounts the cases that delay shocks move later.",
                    format_thousands(t.total.present_value)
                )));
            }
        }
    }
    o
}

/// A note for each MKBA line that counts every case achieved (`ind = "achieved"`) of an
/// outcome paid on the improvement over a baseline: its savings follow the achievers while its
/// payments follow the improvement, so a programme that does worse lowers the payments faster
/// than the savings, and the payer's business case improves (the reference scenario's insurer
/// under the weaker-programme stress, with its no-escalation line set to `ind = "achieved"`).
pub fn achieved_against_a_baseline(c: &sibsim::Contract) -> Vec<String> {
    achieved_against_a_baseline_ids(c)
        .into_iter()
        .map(|id| {
            format!(
                "Note: `{id}` is paid for the improvement over its baseline, but its IND counts every case achieved (the deadweight stands for the baseline): its savings follow the cases achieved and its payments the improvement, so a programme that does worse lowers the payments faster than the savings and the payers' business case looks better. `ind = \"improvement\"` on its MKBA line ties both to the improvement (docs/business-case.md)."
            )
        })
        .collect()
}

/// The outcomes of [`achieved_against_a_baseline`]: paid on the improvement over a baseline,
/// with an MKBA line that counts every case achieved.
pub fn achieved_against_a_baseline_ids(c: &sibsim::Contract) -> Vec<&str> {
    let Some(m) = &c.mkba() else {
        return Vec::new();
    };
    m.outcomes()
        .iter()
        .filter(|l| {
            l.ind == sibsim::mkba::Ind::Achieved
                && !matches!(
                    c.outcomes()[l.outcome].baseline,
                    sibsim::contract::Baseline::None
                )
        })
        .map(|l| c.outcomes()[l.outcome].id.as_str())
        .collect()
}

/// The payers' business case of a settled contract (`mkba --actuals`).
fn settled_case_table(
    t: &MkbaTable,
    s: &sibsim::Settlement,
    payers: &[sibsim::mkba::SettledCase],
    all: &sibsim::mkba::SettledCase,
) -> String {
    let later: Money = s.pending_payments.iter().map(|x| x.amount).sum();
    let mut o = format!(
        "\nBusiness case of the payers from the settled actuals (periods 1 to {}{}; present values at {}% a year)\n",
        s.final_period,
        if s.interim { ", interim" } else { "" },
        (t.discount_rate * rust_decimal::Decimal::ONE_HUNDRED).normalize(),
    );
    if later.0 != 0 {
        o.push_str(&super::simulate::wrap(&format!(
            "Payments include {} earned by the cases counted and payable after period {}, at the periods they fall due.",
            format_thousands(later),
            s.final_period
        )));
    }
    if t.effect_from == sibsim::mkba::EffectFrom::Measurement {
        o.push_str(
            "Each case's effect years count from its planned measurement (mkba.effect_from).\n",
        );
    }
    let mut tab = Table::new(&["Payer", "Savings", "Payments", "Costs", "Net"], 1);
    for p in payers.iter().chain(std::iter::once(all)) {
        tab.row(vec![
            p.id.clone(),
            format_thousands(p.savings),
            format_thousands(p.payments),
            format_thousands(p.costs),
            format_thousands(p.net),
        ]);
    }
    tab.render(&mut o);
    o.push_str(&super::simulate::wrap(&format!(
        "Net social return (PV of the IMPACT, all beneficiaries): {}",
        format_thousands(t.total.present_value)
    )));
    o.push_str(&impact_per_euro(
        t.total.present_value.0 as f64 / 100.0,
        all.payments.0 as f64 / 100.0,
        "",
    ));
    o
}

/// The line "Impact per euro paid": the present value of the impact to all beneficiaries
/// over the present value of what the payers pay (both at the MKBA's rate, so on one
/// footing); empty when the payers pay nothing.
pub(super) fn impact_per_euro(impact: f64, payments: f64, mean: &str) -> String {
    if payments <= 0.0 {
        return String::new();
    }
    let eur = |x: f64| format_thousands(Money((x * 100.0).round() as i64));
    super::simulate::wrap(&format!(
        "Impact per euro paid: {:.2} ({mean}PV of impact {} / {mean}PV of the payers' payments {}: outcome and fixed payments, guarantee calls and inflow compensation, less what comes back to them)",
        impact / payments,
        eur(impact),
        eur(payments),
    ))
}

/// `sibsim mkba`.
pub fn mkba(
    o: &Common<'_>,
    actuals: Option<&Path>,
    through: Option<u16>,
    json: bool,
    out: Option<&Path>,
) -> Result<()> {
    let trials = if actuals.is_some() { 0 } else { o.trials };
    io::note_input(o.scenario);
    if let Some(p) = out {
        io::check_output_file(p)?;
    }
    let (sc, r) = load(o, trials)?;
    let c = &sc.contract;
    let Some(m) = &c.mkba() else {
        return Err(CliError(format!(
            "{} has no [mkba] block; add one with a line [[mkba.outcomes]] per outcome (see docs/business-case.md)",
            o.scenario.display()
        )));
    };
    let mut settled = None;
    // With actuals and effects from measurement, the MKBA timed by the reported cells.
    let mut actual_mkba = None;
    let ind: Vec<rust_decimal::Decimal> = match (actuals, &r) {
        (Some(path), _) => {
            let mut ledger: Vec<sibsim::LedgerLine> = Vec::new();
            let (s, act) = super::settle_file(c, path, through, &mut ledger)?;
            // Effects from measurement: each case discounted from the period it was reported.
            if m.effect_from() == sibsim::mkba::EffectFrom::Measurement {
                actual_mkba = Some(m.timed_by(c, &act, s.final_period));
            }
            let ind = c
                .outcomes()
                .iter()
                .zip(&s.outcomes)
                .enumerate()
                .map(|(i, (o, x))| sibsim::mkba::cases(o, x, m.ind(c, i)).to_decimal())
                .collect();
            // Each party's net flow by period, cents (index 0 unused).
            let by_period = sibsim::statement::flows_by_period(c, &ledger);
            let mut flows: Vec<Vec<i64>> = (0..c.parties().len())
                .map(|p| by_period.iter().map(|row| row[p].0).collect())
                .collect();
            // An interim case counts the savings of every case measured so far, so it counts
            // their payments too, though some fall due after the last period settled.
            for x in &s.pending_payments {
                if let Some(f) = flows[x.payer].get_mut(x.period as usize) {
                    *f -= x.amount.0;
                }
            }
            settled = Some((s, flows));
            ind
        }
        (None, Some(r)) => r
            .business_case
            .as_ref()
            .map(|b| b.expected_cases())
            .unwrap_or_default(),
        (None, None) => c
            .outcomes()
            .iter()
            .map(|_| rust_decimal::Decimal::ZERO)
            .collect(),
    };
    let m = actual_mkba.as_ref().unwrap_or(m);
    let table = m.table(c, &ind);
    if let Some(why) = table.too_large() {
        return Err(CliError(format!("{}: {why}", o.scenario.display())));
    }
    let cases = settled
        .as_ref()
        .map(|(s, flows)| (s, m.settled_cases(c, &table, flows)));
    let text = if json {
        let v = serde_json::json!({
            "sibsim_version": env!("CARGO_PKG_VERSION"),
            "scenario": o.scenario.display().to_string(),
            "table": table,
            "business_case": r.as_ref().and_then(|r| r.business_case.clone()),
            "settled_business_case": cases.as_ref().map(|(s, (payers, all))| serde_json::json!({
                "through_period": s.final_period,
                "interim": s.interim,
                "payers": payers,
                "all_payers": all,
                "outcome_payments": s.outcome_payments,
            })),
            "trials": r.as_ref().map(|r| r.trials),
            "seed": r.as_ref().map(|r| r.seed),
        });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    } else {
        let mut text = render_mkba(c, &table, r.as_ref());
        if let Some((s, (payers, all))) = &cases {
            text.push_str(&settled_case_table(&table, s, payers, all));
        }
        text
    };
    io::emit(out, &text)
}

/// Loads the tree (default or `--tree`) and applies the thresholds of the scenario `sc` (read
/// from `scenario` with the overrides `set`).
pub fn tree(
    sc: &sibsim::Scenario,
    scenario: &Path,
    set: &[sibsim::scenario::overrides::Override],
    file: Option<&Path>,
) -> Result<Tree> {
    let t = match file {
        None => None,
        Some(p) => {
            let text = io::read_text(p)?;
            Some(feasibility::parse_tree(&p.display().to_string(), &text)?)
        }
    };
    feasibility::tree_for(&sc.contract, t).or_else(|items| {
        let text = io::read_text(scenario)?;
        let name = scenario.display().to_string();
        Err(sibsim::scenario::position_with_overrides(&name, &text, set, items).into())
    })
}

/// `sibsim feasibility`.
pub fn feasibility(
    o: &Common<'_>,
    tree_file: Option<&Path>,
    json: bool,
    out: Option<&Path>,
) -> Result<()> {
    // Read the tree first so a bad tree file fails fast, before any simulation.
    if let Some(p) = tree_file {
        let text = io::read_text(p)?;
        feasibility::parse_tree(&p.display().to_string(), &text)?;
    }
    let (sc0, _) = load(o, 0)?;
    if let Some(p) = out {
        io::check_output_file(p)?;
    }
    let t = tree(&sc0, o.scenario, &overrides(o.set)?, tree_file)?;
    let trials = if t.needs_simulation() { o.trials } else { 0 };
    let (sc, r) = load(o, trials)?;
    let w = feasibility::walk(&t, &sc.contract, r.as_ref());
    let text = if json {
        let v = serde_json::json!({
            "sibsim_version": env!("CARGO_PKG_VERSION"),
            "scenario": o.scenario.display().to_string(),
            "walk": w,
            "business_case": r.as_ref().and_then(|r| r.business_case.clone()),
        });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    } else {
        feasibility::render_text(&w, &sc.contract)
    };
    io::emit(out, &text)
}
