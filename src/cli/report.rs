//! `sibsim report`: simulate a scenario and write one self-contained HTML report.

use super::{CliError, Result, io};
use sibsim::montecarlo::SimConfig;
use sibsim::report::{ReportInput, assumptions, render_html, shell_word};
use std::path::Path;

/// Runs the subcommand: `tree` is a decision tree file instead of the default.
pub fn run(
    o: &super::design::Common<'_>,
    out: &Path,
    tree: Option<&Path>,
    tornado: Option<&str>,
) -> Result<()> {
    let text = io::read_text(o.scenario)?;
    io::check_output_file(out)?;
    let name = o.scenario.display().to_string();
    let set = super::design::overrides(o.set)?;
    let (scenario, model) = sibsim::scenario::parse_with_model_overrides(&name, &text, &set)?;
    super::model_notes(&model, &scenario.contract);
    let tree_file = tree;
    let tree = super::business::tree(&scenario, o.scenario, &set, tree)?;
    let c = &scenario.contract;
    if let Some(f) = tornado {
        sibsim::metrics::parse(f, c).map_err(|e| CliError(format!("--tornado {e}")))?;
    }
    let cfg = SimConfig {
        trials: o.trials,
        seed: o.seed,
        threads: o.threads,
    };
    let results = super::progress::simulate(c, &model, &cfg, None)?;
    // The MKBA table at the expected cases, as `sibsim mkba` refuses it: amounts past what
    // it holds would be shown clamped.
    if let Some(why) = results
        .business_case
        .as_ref()
        .and_then(|b| b.expected_table(c))
        .and_then(|t| t.too_large())
    {
        return Err(CliError(format!("{name}: {why}. Nothing was written.")));
    }
    let doc = super::simulate::summary_file(&name, &text, o.set, c, &results);
    let mut extra = Vec::new();
    if let Some(figure) = tornado {
        let (tor, currency, _) = super::design::compute_tornado(o, figure, "p10-p90", false)?;
        let ch = sibsim::chart::Tornado::from_design(&tor, &currency);
        let svg = sibsim::chart::render(&ch, sibsim::chart::Format::Svg)
            .map_err(|e| CliError(e.to_string()))?;
        extra.push((
            "Sensitivity".to_string(),
            format!(
                "How {} moves when each uncertain input is fixed at its P10 and at its P90 while the others stay uncertain ({} per run, the same random numbers in every run).",
                tor.figure,
                sibsim::chart::theme::count(tor.trials, "trial", "trials")
            ),
            vec![svg],
        ));
    }
    let input = ReportInput {
        contract: c,
        summary: &doc,
        assumptions: assumptions(c, &model),
        mkba: sibsim::report::mkba_section(c, &doc),
        feasibility: Some(sibsim::report::feasibility_section(
            &tree,
            &sibsim::feasibility::walk(&tree, c, Some(&results)),
        )),
        extra,
        options: tree_file
            .map(|p| format!("--tree {}", shell_word(&p.display().to_string())))
            .into_iter()
            .chain(tornado.map(|f| format!("--tornado {}", shell_word(f))))
            .chain(std::iter::once(format!(
                "--out {}",
                shell_word(&out.display().to_string())
            )))
            .collect(),
    };
    let html = render_html(&input).map_err(|e| CliError(e.to_string()))?;
    io::write_atomic(out, html.as_bytes())?;
    io::say!(
        "Report on {} ({}, seed {}) written to {}",
        c.name(),
        sibsim::chart::theme::count(o.trials, "trial", "trials"),
        o.seed,
        out.display()
    );
    Ok(())
}
