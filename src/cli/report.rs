//! `sibsim report`: simulate a scenario and write one self-contained HTML report.

use super::{CliError, Result, io};
use sibsim::montecarlo::SimConfig;
use sibsim::report::{ReportInput, assumptions, render_html};
use std::path::Path;

/// Runs the subcommand: `tree` is a decision tree file instead of the default.
pub fn run(o: &super::design::Common<'_>, out: &Path, tree: Option<&Path>) -> Result<()> {
    if o.trials == 0 {
        return Err(CliError("--trials must be at least 1".into()));
    }
    if o.threads == Some(0) {
        return Err(CliError("--threads must be at least 1".into()));
    }
    let text = io::read_text(o.scenario)?;
    let name = o.scenario.display().to_string();
    let set = super::design::overrides(o.set)?;
    let (scenario, model) = sibsim::scenario::parse_with_model_overrides(&name, &text, &set)?;
    let tree = super::business::tree(&scenario, o.scenario, tree)?;
    let c = &scenario.contract;
    let cfg = SimConfig {
        trials: o.trials,
        seed: o.seed,
        threads: o.threads,
    };
    let results = sibsim::montecarlo::simulate(c, &model, &cfg);
    let doc = super::simulate::summary_file(&name, c, &results);
    let input = ReportInput {
        contract: c,
        summary: &doc,
        assumptions: assumptions(c, &model),
        mkba: sibsim::report::mkba_section(c, &doc),
        feasibility: Some(sibsim::report::feasibility_section(
            &tree,
            &sibsim::feasibility::walk(&tree, c, Some(&results)),
        )),
        extra: Vec::new(),
    };
    let html = render_html(&input).map_err(|e| CliError(e.to_string()))?;
    io::write_atomic(out, html.as_bytes())?;
    println!(
        "Report on {} ({} trials, seed {}) written to {}",
        c.name,
        o.trials,
        o.seed,
        out.display()
    );
    Ok(())
}
