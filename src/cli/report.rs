//! `sibsim report`: simulate a scenario and write one self-contained HTML report.

use super::{CliError, Result, io};
use sibsim::montecarlo::SimConfig;
use sibsim::report::{ReportInput, assumptions, render_html};
use std::path::Path;

/// Options of `report`.
pub struct Options<'a> {
    pub scenario: &'a Path,
    pub out: &'a Path,
    pub trials: u64,
    pub seed: u64,
    pub threads: Option<usize>,
}

/// Runs the subcommand.
pub fn run(o: Options<'_>) -> Result<()> {
    if o.trials == 0 {
        return Err(CliError("--trials must be at least 1".into()));
    }
    if o.threads == Some(0) {
        return Err(CliError("--threads must be at least 1".into()));
    }
    let text = io::read_text(o.scenario)?;
    let name = o.scenario.display().to_string();
    let (scenario, model) = sibsim::scenario::parse_with_model(&name, &text)?;
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
        mkba: None,
        feasibility: None,
        extra: Vec::new(),
    };
    let html = render_html(&input).map_err(|e| CliError(e.to_string()))?;
    io::write_atomic(o.out, html.as_bytes())?;
    println!(
        "Report on {} ({} trials, seed {}) written to {}",
        c.name,
        o.trials,
        o.seed,
        o.out.display()
    );
    Ok(())
}
