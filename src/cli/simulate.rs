//! `sibsim simulate`: run the Monte Carlo engine, print a one-screen summary, write results.

use super::{CliError, Result, io, progress};
use sibsim::montecarlo::{
    Results, SUMMARY_FORMAT, ScenarioInfo, SimConfig, SummaryFile, TrialRecord,
};
use sibsim::statement::Table;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// Options of `simulate`.
pub struct Options<'a> {
    pub scenario: &'a Path,
    pub trials: u64,
    pub seed: u64,
    pub threads: Option<usize>,
    pub out: Option<&'a Path>,
    pub trials_out: bool,
    pub set: &'a [String],
    pub charts: Option<&'a Path>,
}

fn eur(x: f64) -> String {
    sibsim::chart::theme::thousands(x)
}

/// A standard error on screen: "n/a" for a single trial, where there is none.
fn se_of(x: f64, trials: u64) -> String {
    if trials < 2 {
        "n/a".to_string()
    } else {
        eur(x)
    }
}

fn pct(x: f64) -> String {
    sibsim::chart::theme::percent(x)
}

/// Runs the subcommand.
pub fn run(o: Options<'_>) -> Result<()> {
    if o.trials_out && o.out.is_none() {
        return Err(CliError(
            "--trials-out writes trials.csv into the --out folder; give --out DIR too".into(),
        ));
    }
    let text = io::read_text(o.scenario)?;
    let name = o.scenario.display().to_string();
    let set = super::design::overrides(o.set)?;
    let (scenario, model) = sibsim::scenario::parse_with_model_overrides(&name, &text, &set)?;
    let c = &scenario.contract;
    super::model_notes(&model, c);
    let cfg = SimConfig {
        trials: o.trials,
        seed: o.seed,
        threads: o.threads,
    };

    // The output folders are made (and checked to take files) before the run, so a folder
    // that cannot be made fails at once rather than after the trials. Rows go to a temporary
    // file as they come, in trial order (see `RowWriter`); at the end trials.csv, summary.json
    // and the charts are staged whole and put in place together (`io::Outputs`). A run that
    // fails or is interrupted before then changes no output and removes the folders it made.
    let mut outputs = io::Outputs::default();
    if let Some(dir) = o.out {
        outputs.folder(dir, "the output folder")?;
        io::check_output_file(&dir.join("summary.json"))?;
    }
    if let Some(dir) = o.charts {
        if dir.exists() && !dir.is_dir() {
            return Err(CliError(format!(
                "--charts {}: it is a file, not a folder; give the name of a folder",
                dir.display()
            )));
        }
        outputs.folder(dir, "the chart folder")?;
    }
    let rows = match (o.trials_out, o.out) {
        (true, Some(dir)) => {
            let mut file = io::AtomicFile::create(&dir.join("trials.csv"))?;
            file.write(trial_header(c, model.shocks().len()).as_bytes())?;
            Some(Mutex::new(RowWriter::new(file)))
        }
        _ => None,
    };
    let started = std::time::Instant::now();
    let n_shocks = model.shocks().len();
    let inflow = !c.inflow_guarantees().is_empty();
    let returns = returns_capital(c);
    let write_row = rows.as_ref().map(|rows| {
        move |r: &TrialRecord| {
            let row = trial_row(r, n_shocks, inflow, returns);
            if let Ok(mut w) = rows.lock() {
                w.push(r.trial, row);
            }
        }
    });
    let on_trial = write_row
        .as_ref()
        .map(|f| f as &(dyn Fn(&TrialRecord) + Sync));
    // On an error the rows' temporary file goes first (it is declared after `outputs`), then
    // the folders made for this run.
    let results: Results = progress::simulate(c, &model, &cfg, on_trial)?;
    let elapsed = started.elapsed().as_secs_f64();

    // trials.csv is complete and on disk (a full disk is reported for it) before anything
    // is put in place.
    let mut staged: Result<()> = Ok(());
    if let Some(rows) = rows {
        staged = match rows.into_inner() {
            Ok(mut w) => w.ready(o.trials).and_then(|()| outputs.stage_file(w.file)),
            Err(_) => Err(CliError(
                "a simulation thread failed while writing trials.csv".into(),
            )),
        };
    }
    let doc = (o.out.is_some() || o.charts.is_some())
        .then(|| summary_file(&name, &text, o.set, c, &results));
    if let (Some(dir), Some(doc), Ok(())) = (o.out, &doc, &staged) {
        staged = serde_json::to_string_pretty(doc)
            .map_err(|e| CliError(format!("cannot serialise the results: {e}")))
            .and_then(|json| outputs.stage(&dir.join("summary.json"), (json + "\n").as_bytes()));
    }
    let mut written = String::new();
    if let Some(dir) = o.out {
        let _ = writeln!(written, "Results written to {}", dir.display());
    }
    if let (Some(dir), Some(doc), Ok(())) = (o.charts, &doc, &staged) {
        match super::chart::write_charts(doc, dir, super::chart::ChartFormat::Both, &mut outputs) {
            Ok(files) => {
                // The charts by name (each as PNG and SVG), as `chart` lists its files.
                let mut names: Vec<String> = Vec::new();
                for f in &files {
                    let name = f.file_stem().map(|s| s.to_string_lossy().into_owned());
                    if let Some(n) = name.filter(|n| !names.contains(n)) {
                        names.push(n);
                    }
                }
                written.push_str(&wrap(&format!(
                    "{} chart files written to {} ({}, each as PNG and SVG): {}",
                    files.len(),
                    dir.display(),
                    sibsim::chart::theme::count(names.len() as u64, "chart", "charts"),
                    names.join(", ")
                )));
                if results.business_case.is_none() {
                    written.push_str(&wrap(
                        "No municipality-net charts: the scenario has no [mkba] block, so there are no savings to set the payments against.",
                    ));
                }
            }
            Err(e) => staged = Err(e),
        }
    }
    let screen = render(c, &results, elapsed);
    match io::put_in_place(outputs, staged) {
        Ok(()) => {
            if let Some(dir) = o.out
                && !o.trials_out
                && dir.join("trials.csv").exists()
            {
                // Not this run's: say so rather than leave it to pass for one.
                eprintln!(
                    "note: {} is from an earlier run (this run wrote no rows; --trials-out writes them)",
                    dir.join("trials.csv").display()
                );
            }
            io::emit(None, &format!("{screen}{written}"))
        }
        Err(e) => {
            // The results are not lost: they are on the screen.
            io::emit(None, &screen)?;
            Err(CliError(format!("{} (the results are shown above)", e.0)))
        }
    }
}

/// The `summary.json` document of a run of the scenario `file` whose text is `text`, with the
/// overrides `set`.
pub fn summary_file(
    file: &str,
    text: &str,
    set: &[String],
    c: &sibsim::Contract,
    results: &Results,
) -> SummaryFile {
    SummaryFile {
        results: results.clone(),
        scenario: ScenarioInfo {
            file: file.to_string(),
            name: c.name().to_string(),
            currency: c.currency().to_string(),
            period: c.period_length().singular().to_string(),
            overrides: set.to_vec(),
            text: text.to_string(),
        },
        seed: results.seed,
        sibsim_version: env!("CARGO_PKG_VERSION").to_string(),
        summary_format: SUMMARY_FORMAT,
        trials: results.trials + results.failed_trials,
    }
}

/// The header of `trials.csv`: each reported party's net and loss (as the risk distribution
/// counts it), each tranche's IRR and repayment; `shocks` is the number of the model's shocks
/// (a column `shock_N` each, 1-based as in the report). A contract with inflow guarantees adds the
/// compensation paid (all payers) last.
fn trial_header(c: &sibsim::Contract, shocks: usize) -> String {
    let mut h = vec![
        "trial".to_string(),
        "outcome_payments".into(),
        "terminated".into(),
        "held".into(),
    ];
    for p in sibsim::montecarlo::reported_parties(c) {
        h.push(format!("net_{}", c.parties()[p].id));
    }
    for p in sibsim::montecarlo::reported_parties(c) {
        h.push(format!("loss_{}", c.parties()[p].id));
    }
    for t in c.tranches() {
        h.push(format!("irr_{}", t.id));
        h.push(format!("repaid_{}", t.id));
        h.push(format!("drawn_{}", t.id));
        h.push(format!("received_{}", t.id));
    }
    for i in 1..=shocks {
        h.push(format!("shock_{i}"));
    }
    if !c.inflow_guarantees().is_empty() {
        h.push("inflow_compensation".into());
    }
    if returns_capital(c) {
        h.push("capital_returned".into());
    }
    // Ids may hold any text, a comma or a quote too.
    sibsim::statement::csv_record(&h)
}

/// Writes `trials.csv` rows in trial order as they arrive from the worker threads. The engine
/// reports trials out of order only within a window of [`sibsim::montecarlo::WINDOW`] trials,
/// so at most about a window of rows waits here, whatever the number of trials.
struct RowWriter {
    file: io::AtomicFile,
    next: u64,
    waiting: BTreeMap<u64, String>,
    error: Option<CliError>,
}

impl RowWriter {
    fn new(file: io::AtomicFile) -> Self {
        RowWriter {
            file,
            next: 0,
            waiting: BTreeMap::new(),
            error: None,
        }
    }

    fn push(&mut self, trial: u64, row: String) {
        if trial != self.next {
            self.waiting.insert(trial, row);
            return;
        }
        self.write(&row);
        while let Some(row) = self.waiting.remove(&self.next) {
            self.write(&row);
        }
    }

    fn write(&mut self, row: &str) {
        if self.error.is_none()
            && let Err(e) = self.file.write(row.as_bytes())
        {
            self.error = Some(e);
        }
        self.next += 1;
    }

    /// Checks that all `trials` rows were written and are on disk (the file is then ready to
    /// be put in place with `file.commit()`).
    fn ready(&mut self, trials: u64) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.next != trials {
            return Err(CliError(format!(
                "trials.csv is incomplete ({} of {trials} rows); it was not written",
                self.next
            )));
        }
        self.file.flush()
    }
}

/// Whether the enterprise may pay unspent capital back (`enterprise.return_unspent`).
fn returns_capital(c: &sibsim::Contract) -> bool {
    c.enterprise_terms().return_unspent != sibsim::contract::ReturnUnspent::Never
}

fn trial_row(r: &TrialRecord, shocks: usize, inflow: bool, returns: bool) -> String {
    let mut s = format!(
        "{},{},{},{}",
        r.trial,
        r.settlement.outcome_payments,
        r.settlement.termination.is_some(),
        r.settlement.held_at_end()
    );
    for n in r.net {
        let _ = write!(s, ",{}", sibsim::Money(*n));
    }
    for l in r.loss {
        let _ = write!(s, ",{}", sibsim::Money(*l));
    }
    for ((irr, rep), t) in r.irr.iter().zip(r.repaid).zip(&r.settlement.tranches) {
        match irr {
            Some(x) => {
                let _ = write!(s, ",{x:.9}");
            }
            None => s.push(','),
        }
        // Drawn, and received (distributions and guarantee calls): the multiple is their ratio.
        let _ = write!(s, ",{rep},{},{}", t.drawn, t.distributed + t.guaranteed);
    }
    for i in 0..shocks {
        let _ = write!(s, ",{}", r.shocks >> i & 1 == 1);
    }
    if inflow {
        let _ = write!(s, ",{}", r.settlement.inflow_compensation);
    }
    if returns {
        let _ = write!(s, ",{}", r.settlement.unspent_returned);
    }
    s.push('\n');
    s
}

/// The widest line the summary screen aims for (its tables grow with long party ids).
pub const WIDTH: usize = 100;

/// `line` with a line break wherever it would run past `WIDTH`, at the last "; " or ", "
/// before the limit, or else at the last space (a word longer than `WIDTH` stays whole),
/// ending with a newline.
pub fn wrap(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while rest.chars().count() > WIDTH {
        let limit = rest
            .char_indices()
            .nth(WIDTH)
            .map_or(rest.len(), |(i, _)| i);
        // (the end of this line, the start of the next)
        let head = &rest[..limit];
        let Some((end, next)) = head
            .rfind("; ")
            .or_else(|| head.rfind(", "))
            .map(|i| (i + 1, i + 2))
            .or_else(|| head.rfind(' ').filter(|&i| i > 0).map(|i| (i, i + 1)))
        else {
            break;
        };
        out.push_str(&rest[..end]);
        out.push('\n');
        rest = &rest[next..];
    }
    out.push_str(rest);
    out.push('\n');
    out
}

/// The one-screen summary.
/// The most payers the screen's tables list one by one: past it they list the
/// [`PAYERS_LISTED`] that pay most, and sum the others in one row (every payer is in
/// `summary.json` and the report).
pub const MAX_PAYER_ROWS: usize = 12;
/// The payers listed where there are more than [`MAX_PAYER_ROWS`].
pub const PAYERS_LISTED: usize = 10;

/// The payers (and guarantors) of `r` that the screen sums in one row, by id: none where
/// there are at most [`MAX_PAYER_ROWS`]; otherwise all but the [`PAYERS_LISTED`] with the
/// largest mean payments (the first in the file among equals).
pub(crate) fn summed_payers(r: &Results) -> Vec<&str> {
    use sibsim::contract::Role;
    let mut payers: Vec<(usize, &sibsim::montecarlo::PartyResult)> = r
        .parties
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.role, Role::Payer | Role::Guarantor))
        .collect();
    if payers.len() <= MAX_PAYER_ROWS {
        return Vec::new();
    }
    payers.sort_by(|a, b| b.1.paid.mean.total_cmp(&a.1.paid.mean).then(a.0.cmp(&b.0)));
    let mut rest: Vec<(usize, &str)> = payers[PAYERS_LISTED..]
        .iter()
        .map(|(i, p)| (*i, p.id.as_str()))
        .collect();
    rest.sort();
    rest.into_iter().map(|(_, id)| id).collect()
}

/// The label of the row that sums `n` payers.
fn more_payers(n: usize) -> String {
    format!("{n} more payers")
}

pub fn render(c: &sibsim::Contract, r: &Results, elapsed: f64) -> String {
    let mut o = String::new();
    let summed = summed_payers(r);
    let is_summed = |id: &str| summed.contains(&id);
    let run = format!(
        "{}, seed {} ({:.1} s)",
        sibsim::chart::theme::count(r.trials, "trial", "trials"),
        r.seed,
        elapsed
    );
    // A long name puts the run on a line of its own, so the screen stays within `WIDTH`.
    let head = format!("Simulation of {}:", c.name());
    let sep = if head.chars().count() + 1 + run.chars().count() > WIDTH {
        "\n"
    } else {
        " "
    };
    let _ = writeln!(o, "{head}{sep}{run}");
    // The most any amount percentile or expected shortfall on this screen can be from the
    // exact value.
    let error = r.shown_amounts_within();
    let within = if error == 0.0 {
        "percentiles and ES exact".to_string()
    } else {
        format!("percentiles and ES each within {error:.2} of exact")
    };
    o.push_str(&wrap(&format!(
        "Amounts in {}; ± = Monte Carlo standard error of the mean; {within}.",
        c.currency()
    )));
    // A probability's standard error is sqrt(p (1 - p) / n), largest at p = 1/2.
    let _ = writeln!(
        o,
        "A probability p has a standard error of sqrt(p(1-p)/n): at most {:.2} percentage points here.",
        r.probability_se_bound()
    );
    if let Some(se) = r.shown_percentiles_se() {
        o.push_str(&wrap(&format!(
            "Standard error of the parties' P5, P50 and P95: at most {} (each percentile's in summary.json).",
            eur(se)
        )));
    }
    o.push('\n');
    let op = &r.outcome_payments;
    let _ = writeln!(
        o,
        "Outcome payments: mean {} ± {}, P5 {}, P50 {}, P95 {}\n",
        eur(op.mean),
        se_of(op.se, r.trials),
        eur(op.p5),
        eur(op.p50),
        eur(op.p95),
    );
    o.push_str(
        "Parties (net = received - paid; value at risk VaR 95% = minus P5;\nES 95% = minus the mean net of the worst 5% of trials: a loss; negative where even those gain)\n",
    );
    let mut t = Table::new(
        &[
            "Party", "Role", "Mean net", "± SE", "P5", "P50", "P95", "ES 95%", "P(net<0)",
        ],
        2,
    );
    let mut summed_net = 0.0;
    for p in &r.parties {
        if is_summed(&p.id) {
            summed_net += p.net.mean;
            continue;
        }
        t.row(vec![
            p.id.clone(),
            p.role.label().to_string(),
            eur(p.net.mean),
            se_of(p.net.se, r.trials),
            eur(p.net.p5),
            eur(p.net.p50),
            eur(p.net.p95),
            eur(p.expected_shortfall95),
            pct(p.prob_net_negative),
        ]);
    }
    if !summed.is_empty() {
        t.row(vec![
            more_payers(summed.len()),
            "payers".into(),
            eur(summed_net),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    t.render(&mut o);
    if !summed.is_empty() {
        o.push_str(&wrap(&format!(
            "The {PAYERS_LISTED} payers that pay most are listed, the other {} summed in one row here and below (each is in summary.json, --out DIR): {}.",
            summed.len(),
            sibsim::error::id_list(&summed, "payers")
        )));
    }
    if !r.tranches.is_empty() {
        o.push_str(
            "\nTranches (P(repaid): claim paid in full; P(loss): any principal lost; IRR: percentiles of the\ntrials; multiple, unrecovered principal and guarantee calls: means)\n",
        );
        // A tranche named after its investor (one tranche each) needs no investor column, and
        // a contract without guarantees no guarantee column.
        let investor = r.tranches.iter().any(|tr| tr.id != tr.investor);
        let guarantee = c.tranches().iter().any(|t| t.guarantee.is_some());
        let keep = [
            true, investor, true, true, true, true, true, true, true, guarantee,
        ];
        let head = [
            "Tranche",
            "Investor",
            "P(repaid)",
            "P(loss)",
            "IRR P5",
            "IRR P50",
            "IRR P95",
            "Multiple",
            "Unrecovered",
            "Guarantee",
        ];
        let kept = |cells: Vec<String>| -> Vec<String> {
            cells
                .into_iter()
                .zip(keep)
                .filter_map(|(x, k)| k.then_some(x))
                .collect()
        };
        let head = kept(head.map(String::from).to_vec());
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        let mut t = Table::new(&head, 1 + usize::from(investor));
        for tr in &r.tranches {
            t.row(kept(vec![
                tr.id.clone(),
                tr.investor.clone(),
                pct(tr.prob_full_repayment),
                pct(tr.prob_principal_loss),
                pct(tr.irr.summary.p5),
                pct(tr.irr.summary.p50),
                pct(tr.irr.summary.p95),
                format!("{:.3}", tr.multiple.summary.mean),
                eur(tr.unrecovered_principal.mean),
                eur(tr.guarantee_calls.mean),
            ]));
        }
        t.render(&mut o);
        // Percentiles of the trials with an IRR only: say so where some have none.
        let some: Vec<String> = r
            .tranches
            .iter()
            .filter(|tr| tr.irr.defined < 1.0)
            .map(|tr| format!("{} {}", tr.id, pct(tr.irr.defined)))
            .collect();
        if !some.is_empty() {
            o.push_str(&wrap(&format!(
                "IRR percentiles are of the trials with an IRR only: {} of trials.",
                some.join(", ")
            )));
        }
        // Interest first: a principal loss can come with money made.
        let first: Vec<&str> = c
            .tranches()
            .iter()
            .filter(|t| t.allocation == sibsim::contract::Allocation::InterestFirst)
            .map(|t| t.id.as_str())
            .collect();
        if !first.is_empty() {
            o.push_str(&wrap(&format!(
                "{} {} distributions interest first: principal is unrecovered (a loss, and what a guarantee covers) whenever interest took money that would otherwise have repaid it, even where the investor got back more than it drew.",
                first.join(", "),
                if first.len() == 1 { "counts its" } else { "count their" }
            )));
        }
    }
    let _ = writeln!(
        o,
        "\nRisk distribution (who carries the loss; the contract terminates early in {} of trials)",
        pct(r.prob_early_termination)
    );
    let mut t = Table::new(
        &[
            "Party",
            "P(loss)",
            "Expected loss",
            "Share of expected loss",
            "Share of loss in worst 5%",
        ],
        1,
    );
    let mut summed_risk = [0.0; 3];
    for p in &r.risk.parties {
        if is_summed(&p.party) {
            summed_risk[0] += p.expected_loss;
            summed_risk[1] += p.share_of_expected_loss;
            summed_risk[2] += p.share_of_tail_loss;
            continue;
        }
        let prob = r
            .parties
            .iter()
            .find(|x| x.id == p.party)
            .map_or(String::new(), |x| pct(x.prob_loss));
        t.row(vec![
            p.party.clone(),
            prob,
            eur(p.expected_loss),
            pct(p.share_of_expected_loss),
            pct(p.share_of_tail_loss),
        ]);
    }
    if !summed.is_empty() {
        t.row(vec![
            more_payers(summed.len()),
            String::new(),
            eur(summed_risk[0]),
            pct(summed_risk[1]),
            pct(summed_risk[2]),
        ]);
    }
    t.row(vec![
        "Total".into(),
        "".into(),
        eur(r.risk.expected_total_loss),
        "".into(),
        format!("(mean worst-5% loss {})", eur(r.risk.tail_total_loss)),
    ]);
    t.render(&mut o);
    o.push('\n');
    o.push_str(&wrap(&format!(
        "Loss: unrecovered principal; guarantee calls{} paid; the enterprise's unpaid costs and deferred fees{}.",
        if c.inflow_guarantees().is_empty() {
            ""
        } else {
            " and inflow compensation"
        },
        if c.fees().is_empty() {
            ""
        } else {
            "; fees not received"
        }
    )));
    o.push_str("Worst 5%: the 5% of trials with the largest loss of all parties together.\n");
    let inflow: Vec<String> = r
        .parties
        .iter()
        .filter_map(|p| {
            p.inflow_compensation.as_ref().map(|x| {
                format!(
                    "{} compensates referrals short of its promise in {} of trials, {} on average over all trials",
                    p.id,
                    pct(x.probability),
                    eur(x.paid.mean)
                )
            })
        })
        .collect();
    if !inflow.is_empty() {
        o.push_str(&wrap(&format!("Inflow guarantee: {}.", inflow.join("; "))));
    }
    if r.prob_early_termination > 0.0 {
        let checkpoint = (r.prob_early_termination - r.prob_out_of_cash).max(0.0);
        let _ = write!(
            o,
            "Early termination: the enterprise runs out of cash in {} of trials",
            pct(r.prob_out_of_cash)
        );
        if c.checkpoints().is_empty() {
            o.push_str(".\n");
        } else {
            let _ = writeln!(o, ", a checkpoint fails in {}.", pct(checkpoint));
        }
    }
    if r.prob_held > 0.0 {
        let why = if c.remainder() == sibsim::contract::Remainder::Hold {
            "remainder = \"hold\": paid in by the payers and paid out to no party"
        } else {
            "paid in by the payers and not owed to any party when the contract ended"
        };
        o.push_str(&wrap(&format!(
            "Held in the contract account at the end: {} on average ± {}, in {} of trials ({why}; the payers' nets count it as paid).",
            eur(r.held_at_end.mean),
            se_of(r.held_at_end.se, r.trials),
            pct(r.prob_held)
        )));
    }
    if returns_capital(c) {
        o.push_str(&wrap(&format!(
            "Unspent capital paid back by the enterprise to the investors at the end: {} on average ± {}, in {} of trials (enterprise.return_unspent).",
            eur(r.capital_returned.mean),
            se_of(r.capital_returned.se, r.trials),
            pct(r.prob_capital_returned)
        )));
    }
    if let Some(b) = &r.business_case {
        o.push('\n');
        o.push_str(&business_case_table(b, r.trials, &summed));
    }
    o
}

/// The payers' business case (MKBA) over the trials.
/// The payers' business cases; `trials` says whether a standard error exists (2 trials or
/// more). The payers in `summed` are summed in one row where they are additive (the means and
/// costs), after the others.
pub fn business_case_table(
    b: &sibsim::mkba::BusinessCaseResults,
    trials: u64,
    summed: &[&str],
) -> String {
    let mut o = format!(
        "Business case of the payers (MKBA; PV at {:.2}% a year, {}; net = savings - payments - costs)\n",
        b.discount_rate * 100.0,
        sibsim::mkba::years(b.horizon_years)
    );
    if b.effect_from == sibsim::mkba::EffectFrom::Measurement {
        o.push_str("Each case's effect years count from its measurement (mkba.effect_from).\n");
    }
    let mut t = Table::new(
        &[
            "Payer",
            "Mean savings",
            "Mean payments",
            "Costs",
            "Mean net",
            "Net P5",
            "Net P50",
            "P(net<0)",
        ],
        1,
    );
    let mut sums = [0.0; 4];
    for p in &b.payers {
        if summed.contains(&p.id.as_str()) {
            for (s, x) in
                sums.iter_mut()
                    .zip([p.savings.mean, p.payments.mean, p.costs, p.net.mean])
            {
                *s += x;
            }
        }
    }
    for p in b.payers.iter().chain(std::iter::once(&b.all_payers)) {
        if summed.contains(&p.id.as_str()) {
            continue;
        }
        if std::ptr::eq(p, &b.all_payers) && !summed.is_empty() {
            t.row(vec![
                more_payers(summed.len()),
                eur(sums[0]),
                eur(sums[1]),
                eur(sums[2]),
                eur(sums[3]),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        t.row(vec![
            p.id.clone(),
            eur(p.savings.mean),
            eur(p.payments.mean),
            eur(p.costs),
            format!("{} ± {}", eur(p.net.mean), se_of(p.net.se, trials)),
            eur(p.net.p5),
            eur(p.net.p50),
            pct(p.prob_pays_more_than_saves),
        ]);
    }
    t.render(&mut o);
    let outside: Vec<String> = b
        .beneficiaries
        .iter()
        .filter(|x| !x.in_contract)
        .map(|x| format!("{} {}", x.id, eur(x.savings.mean)))
        .collect();
    o.push_str(&wrap(&format!(
        "Net social return (PV of the IMPACT, all beneficiaries): mean {} (P5 {}, P95 {})",
        eur(b.total_impact.mean),
        eur(b.total_impact.p5),
        eur(b.total_impact.p95),
    )));
    o.push_str(&super::business::impact_per_euro(
        b.total_impact.mean,
        b.all_payers.payments.mean,
        "mean ",
    ));
    if !outside.is_empty() {
        o.push_str(&wrap(&format!(
            "Of which outside the contract: {}",
            outside.join(", ")
        )));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::{WIDTH, wrap};

    #[test]
    fn wrap_breaks_long_lines_after_a_separator_and_keeps_every_character() {
        assert_eq!(wrap("short; line"), "short; line\n");
        let items: Vec<String> = (0..30).map(|i| format!("party-{i} 12,345")).collect();
        let long = format!("Of which outside the contract: {}", items.join(", "));
        let wrapped = wrap(&long);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(l.chars().count() <= WIDTH, "{l}");
        }
        // Every line but the last ends at a separator, and joining them gives the line back.
        for l in &lines[..lines.len() - 1] {
            assert!(l.ends_with(',') || l.ends_with(';'), "{l}");
        }
        assert_eq!(lines.join(" "), long);
        // A word longer than the limit is left whole.
        let unbreakable = "x".repeat(WIDTH + 20);
        assert_eq!(wrap(&unbreakable), format!("{unbreakable}\n"));
        // Without a separator, a line breaks at its last space before the limit.
        let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
        let long = words.join(" ");
        let wrapped = wrap(&long);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(l.chars().count() <= WIDTH && !l.ends_with(' '), "{l}");
        }
        assert_eq!(lines.join(" "), long);
    }
}
