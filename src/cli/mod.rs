//! Subcommands. Each reads its inputs, calls the library, renders, and writes the result.

mod chart;
mod io;
mod report;
mod simulate;

use clap::{Parser, Subcommand, ValueEnum};
use sibsim::settlement::{LedgerLine, Settler};
use std::path::PathBuf;

/// A user-facing error: one paragraph, no backtrace.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<sibsim::Diagnostics> for CliError {
    fn from(d: sibsim::Diagnostics) -> Self {
        CliError(d.to_string())
    }
}

type Result<T> = std::result::Result<T, CliError>;

#[derive(Parser)]
#[command(
    name = "sibsim",
    version,
    about = "Social Impact Bond contract simulator and exact settlement engine",
    long_about = "Design, stress-test and settle Social Impact Bond contracts.\n\nScenario files are TOML (see docs/scenario-format.md); actuals are CSV."
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a scenario file and print a summary of its terms.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
    /// Settle reported outcomes (actuals) under a contract: ledger, statements, balances.
    Settle {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The reported outcomes (CSV: period,cohort,outcome,units[,baseline][,participant]).
        #[arg(long)]
        actuals: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write to this file instead of standard output (written whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Monte Carlo: repayment and risk distribution across the parties.
    Simulate {
        /// The scenario file (TOML) with an [uncertainty] block.
        scenario: PathBuf,
        /// Number of trials.
        #[arg(long, default_value_t = 10_000)]
        trials: u64,
        /// Random seed; the same scenario and seed give identical results on any thread count.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Write summary.json (and with --trials-out, trials.csv) into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write one row per trial to DIR/trials.csv.
        #[arg(long)]
        trials_out: bool,
        /// Write every chart (PNG and SVG) into this folder.
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
    },
    /// Charts (PNG and SVG) from a saved summary.json, without running the simulation again.
    Chart {
        /// The summary.json written by `simulate --out DIR`.
        summary: PathBuf,
        /// The folder to write the charts into (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Which files to write per chart.
        #[arg(long, value_enum, default_value_t = chart::ChartFormat::Both)]
        format: chart::ChartFormat,
    },
    /// Simulate and write one self-contained HTML report (terms, results, risk, charts).
    Report {
        /// The scenario file (TOML) with an [uncertainty] block.
        scenario: PathBuf,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
        /// Number of trials.
        #[arg(long, default_value_t = 10_000)]
        trials: u64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
/// Output format of `settle`.
enum Format {
    /// A statement for people.
    Text,
    /// The ledger, one line per movement of money.
    Csv,
    /// Everything, for machines.
    Json,
}

/// Parses the command line and runs the subcommand.
pub fn run() -> Result<()> {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Ok(());
            }
            return Err(CliError(
                e.render()
                    .to_string()
                    .trim_start_matches("error: ")
                    .to_string(),
            ));
        }
    };
    match args.cmd {
        Cmd::Validate { scenario } => validate(&scenario),
        Cmd::Settle {
            scenario,
            actuals,
            format,
            out,
        } => settle(&scenario, &actuals, format, out),
        Cmd::Simulate {
            scenario,
            trials,
            seed,
            threads,
            out,
            trials_out,
            charts,
        } => simulate::run(simulate::Options {
            scenario: &scenario,
            trials,
            seed,
            threads,
            out: out.as_deref(),
            trials_out,
            charts: charts.as_deref(),
        }),
        Cmd::Chart {
            summary,
            out,
            format,
        } => chart::run(&summary, &out, format),
        Cmd::Report {
            scenario,
            out,
            trials,
            seed,
            threads,
        } => report::run(report::Options {
            scenario: &scenario,
            out: &out,
            trials,
            seed,
            threads,
        }),
    }
}

fn load(path: &std::path::Path) -> Result<sibsim::Scenario> {
    let text = io::read_text(path)?;
    Ok(sibsim::scenario::parse(&path.display().to_string(), &text)?)
}

fn validate(path: &std::path::Path) -> Result<()> {
    let s = load(path)?;
    let c = &s.contract;
    let payers: Vec<&str> = c.payers().map(|i| c.parties[i].id.as_str()).collect();
    let people: u64 = c.cohorts.iter().map(|k| k.size as u64).sum();
    let committed: sibsim::Money = c.tranches.iter().map(|t| t.committed).sum();
    println!("{} is valid.", path.display());
    println!(
        "  {}: {} {}, {} cohort(s) with {} participants, {} outcome(s), payers: {}",
        c.name,
        c.periods,
        c.period_length.plural(),
        c.cohorts.len(),
        people,
        c.outcomes.len(),
        payers.join(", ")
    );
    println!(
        "  {} tranche(s), {} {} committed{}{}",
        c.tranches.len(),
        c.currency,
        sibsim::money::format_thousands(committed),
        c.total_cap
            .map(|m| format!(", total cap {}", sibsim::money::format_thousands(m)))
            .unwrap_or_default(),
        if c.pay_only_due {
            ", pay only what is due"
        } else {
            ""
        }
    );
    Ok(())
}

fn settle(
    path: &std::path::Path,
    actuals: &std::path::Path,
    format: Format,
    out: Option<PathBuf>,
) -> Result<()> {
    let s = load(path)?;
    let c = &s.contract;
    let text = io::read_text(actuals)?;
    let act = sibsim::actuals::parse_csv(c, &actuals.display().to_string(), &text)?;
    let mut ledger: Vec<LedgerLine> = Vec::new();
    let mut settler = Settler::new(c);
    let result = settler
        .settle(&act, &mut ledger)
        .map_err(|e| CliError(format!("cannot settle {}: {e}", actuals.display())))?;
    let rendered = match format {
        Format::Text => sibsim::statement::render_text(c, result, &ledger),
        Format::Csv => sibsim::statement::render_csv(c, &ledger),
        Format::Json => sibsim::statement::render_json(c, result, &ledger),
    };
    io::emit(out.as_deref(), &rendered)
}
