//! Subcommands. Each reads its inputs, calls the library, renders, and writes the result.

mod business;
mod chart;
mod design;
pub(crate) mod io;
mod progress;
mod report;
mod simulate;

use clap::{Parser, Subcommand, ValueEnum};
use sibsim::settlement::Settler;
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

impl From<sibsim::design::DesignError> for CliError {
    fn from(e: sibsim::design::DesignError) -> Self {
        CliError(e.to_string())
    }
}

impl From<sibsim::metrics::FigureError> for CliError {
    fn from(e: sibsim::metrics::FigureError) -> Self {
        CliError(e.0)
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
        /// Change a parameter of the scenario first: PATH=VALUE (also +=, -=, *=), to check a
        /// variant before simulating it.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
    /// Settle reported outcomes (actuals) under a contract: ledger, statements, balances.
    Settle {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The reported outcomes (CSV: period,cohort,outcome,units[,baseline][,participant]).
        #[arg(long)]
        actuals: PathBuf,
        /// Settle periods 1 to PERIOD only. Default: to the contract's end when the actuals
        /// report up to its last measurement, else through the last period they report on (an
        /// interim statement: claims stay open, no guarantee is called). A contract that
        /// terminates early within those periods gets its final statement.
        #[arg(long, value_name = "PERIOD", allow_negative_numbers = true, value_parser = period_arg)]
        through: Option<u16>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write to this file instead of standard output (written whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compare with a statement booked earlier (the JSON of `settle --format json`): the
        /// periods both settle are checked party by party, and any restated flow is shown with
        /// its difference (after a late correction to an earlier quarter, say).
        #[arg(long, value_name = "STATEMENT.json")]
        against: Option<PathBuf>,
    },
    /// Monte Carlo: repayment and risk distribution across the parties.
    #[command(mut_arg("trials", |a| a.help("Number of trials")))]
    Simulate {
        #[command(flatten)]
        common: CommonArgs,
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
    #[command(mut_arg("trials", |a| a.help("Number of trials of the simulation (and of each run of the --tornado chart)")))]
    Report {
        #[command(flatten)]
        common: CommonArgs,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
        /// A decision tree (TOML) for the feasibility walk instead of the default.
        #[arg(long)]
        tree: Option<PathBuf>,
        /// Add a sensitivity (tornado) chart of this figure, e.g. p_full_repayment:senior
        /// (see `sibsim figures`).
        #[arg(long, value_name = "FIGURE")]
        tornado: Option<String>,
    },
    /// Stress test: the base and each named stress, key figures per party with differences.
    #[command(mut_arg("trials", |a| a.help("Number of trials per variant (the base and each stress, on the same random numbers)")))]
    Stress {
        #[command(flatten)]
        common: CommonArgs,
        /// Run only these stresses (repeatable).
        #[arg(long, value_name = "NAME")]
        only: Vec<String>,
        /// Leave out the default stresses; run only the file's [[stresses]].
        #[arg(long)]
        no_defaults: bool,
        /// Figure(s) to compare (repeatable; default: the key figures of each party, as
        /// `p_principal_loss:senior` or `es95:fund`). See `sibsim figures`.
        #[arg(long = "metric", value_name = "FIGURE")]
        metrics: Vec<String>,
        /// Also write the comparison as JSON to this file (with the scenario, its --set
        /// changes and the sibsim version); a name ending in .csv is refused.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write one chart (PNG and SVG) per figure into this folder: each variant's value
        /// with ±2 standard errors against the base.
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
    },
    /// Sweep one or two terms over a grid: a figure at every point, as a table and CSV.
    #[command(mut_arg("trials", |a| a.help("Number of trials per point of the grid (every point on the same random numbers)")))]
    Sweep {
        #[command(flatten)]
        common: CommonArgs,
        /// PATH=FROM:TO:STEPS, e.g. outcomes.housing.price=1000:2000:5 (once or twice).
        #[arg(long, value_name = "PATH=FROM:TO:STEPS", required = true)]
        vary: Vec<String>,
        /// Figure(s) to report (repeatable; default: each tranche's full repayment and the
        /// mean payments). See `sibsim figures`.
        #[arg(long = "metric", value_name = "FIGURE")]
        metrics: Vec<String>,
        /// Write the grid as CSV to this file (a column per term, then each figure and its
        /// standard error; an `error` column only when some point is not a valid scenario); a
        /// name ending in .json is refused.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write a line chart (one term) or a heatmap (two terms) per figure, PNG and SVG,
        /// into this folder.
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
    },
    /// Sensitivity: each uncertain input at its low and high value, the effect on a figure.
    #[command(mut_arg("trials", |a| a.help("Number of trials per run (the base, and each input at its low and at its high value)")))]
    Tornado {
        #[command(flatten)]
        common: CommonArgs,
        /// The figure, e.g. p_full_repayment:bank. See `sibsim figures`.
        #[arg(long = "metric", value_name = "FIGURE")]
        metric: String,
        /// p10-p90 (each input at its P10 and P90) or a percentage such as 20% (its mean -/+;
        /// a rate stops just inside what its spread allows).
        #[arg(long, default_value = "p10-p90")]
        range: String,
        /// Write the bars as CSV to this file (one row per input); a name ending in .json is
        /// refused.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the tornado chart (PNG and SVG) into this folder.
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
    },
    /// Find the value of a term that meets a target, e.g. the cap that keeps a risk under 10%.
    ///
    /// Exits 0 when some value within the bounds meets the target, 1 when none does (the table
    /// and the JSON are written either way), 2 on a user error.
    #[command(mut_arg("trials", |a| a.help("Number of trials per value of the term tried (each on the same random numbers)")))]
    Solve {
        #[command(flatten)]
        common: CommonArgs,
        /// The term's path, e.g. contract.total_cap or tranches.senior.rate.
        #[arg(long, value_name = "PATH")]
        term: String,
        /// FIGURE OP NUMBER, e.g. "p_full_repayment:bank >= 0.95". See `sibsim figures`.
        #[arg(long, value_name = "EXPR")]
        target: String,
        /// LO:HI search bounds (default: half to one and a half times the current value, for a
        /// whole number such as a lag at least one below and two above it; for a value up to
        /// 1, such as a rate or a share, 0 to twice it, at most 1).
        #[arg(long, value_name = "LO:HI", allow_hyphen_values = true)]
        bounds: Option<String>,
        /// Resolution of the answer (default: 1/10,000 of the range rounded down to a power of
        /// ten; at least 1 for a term
        /// that must be whole).
        #[arg(long, allow_negative_numbers = true)]
        step: Option<f64>,
        /// Also write the solution as JSON to this file (with the scenario, its --set changes
        /// and the sibsim version); a name ending in .csv is refused.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the figures that stress, sweep, tornado and solve can report.
    Figures,
    /// The social cost-benefit analysis (MKBA): the table a municipal report shows, who
    /// benefits and who pays, and the payers' business case over the trials.
    #[command(mut_arg("trials", |a| a.help("Number of trials of the business case's simulation (not used with --actuals)")))]
    #[command(mut_arg("scenario", |a| a.help("The scenario file (TOML) with an [mkba] block, and an [uncertainty] block unless --actuals is given")))]
    Mkba {
        #[command(flatten)]
        common: CommonArgs,
        /// Take IND from reported outcomes (CSV) instead of a simulation.
        #[arg(long)]
        actuals: Option<PathBuf>,
        /// With --actuals: settle periods 1 to PERIOD only (default as for `settle`).
        #[arg(long, value_name = "PERIOD", requires = "actuals", allow_negative_numbers = true, value_parser = period_arg)]
        through: Option<u16>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Report::Text)]
        format: Report,
        /// Write to this file instead of standard output (written whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Walk Rotterdam's decision tree: can a SIB succeed? Each question, its answer, the
    /// evidence, and the verdict (go / no-go / conditional).
    #[command(mut_arg("trials", |a| a.help("Number of trials of the simulation the tree's answers come from")))]
    Feasibility {
        #[command(flatten)]
        common: CommonArgs,
        /// A decision tree (TOML) instead of the default; see `--print-tree`.
        #[arg(long)]
        tree: Option<PathBuf>,
        /// Print the default tree (TOML, to copy and edit) and exit.
        #[arg(long)]
        print_tree: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Report::Text)]
        format: Report,
        /// Write to this file instead of standard output (written whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
/// Output format of `mkba` and `feasibility`.
enum Report {
    /// Tables for people.
    Text,
    /// Everything, for machines.
    Json,
}

/// The most trials a run may ask for: a guard against a typo (ten billion trials of the
/// reference scenario take about half a day on 2 cores).
pub const MAX_TRIALS: u64 = 10_000_000_000;
/// The most worker threads a run may ask for: a guard against a typo (each thread is an
/// operating-system thread with its own buffers).
pub const MAX_THREADS: u64 = sibsim::montecarlo::MAX_THREADS as u64;

/// A whole number from `lo` to `hi`, or a message that says what is allowed.
fn whole_number(s: &str, lo: u64, hi: u64, what: &str) -> std::result::Result<u64, String> {
    let group = |x: u64| {
        let d = x.to_string();
        let mut out = String::new();
        for (i, c) in d.chars().enumerate() {
            if i > 0 && (d.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let allowed = || {
        format!(
            "{what} is a whole number from {} to {}",
            group(lo),
            group(hi)
        )
    };
    let x: u64 = s.trim().replace('_', "").parse().map_err(|_| allowed())?;
    if x < lo || x > hi {
        return Err(allowed());
    }
    Ok(x)
}

fn trials_arg(s: &str) -> std::result::Result<u64, String> {
    whole_number(s, 1, MAX_TRIALS, "the number of trials")
}

fn seed_arg(s: &str) -> std::result::Result<u64, String> {
    whole_number(s, 0, u64::MAX, "the seed")
}

/// A period: a whole number (0 and one past the contract's last are refused by `settle` and
/// `mkba` with the contract's own range).
fn period_arg(s: &str) -> std::result::Result<u16, String> {
    s.trim()
        .parse()
        .map_err(|_| "a period is a whole number from 1 to the contract's last period".into())
}

fn threads_arg(s: &str) -> std::result::Result<usize, String> {
    whole_number(s, 1, MAX_THREADS, "the number of threads").map(|x| x as usize)
}

/// Options shared by the design commands.
#[derive(clap::Args)]
struct CommonArgs {
    /// The scenario file (TOML) with an [uncertainty] block.
    scenario: PathBuf,
    /// Number of trials (each command's help says what it counts: per variant, point, run or
    /// value in stress, sweep, tornado and solve).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true, value_parser = trials_arg)]
    trials: u64,
    /// Random seed: the same scenario and seed give identical results on any thread count,
    /// and every variant of a comparison uses the same random numbers per trial.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = seed_arg)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, allow_negative_numbers = true, value_parser = threads_arg)]
    threads: Option<usize>,
    /// Change a parameter of the scenario first: PATH=VALUE (also +=, -=, *=).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
}

impl CommonArgs {
    fn common(&self) -> design::Common<'_> {
        design::Common {
            scenario: &self.scenario,
            trials: self.trials,
            seed: self.seed,
            threads: self.threads,
            set: &self.set,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
/// Output format of `settle`.
enum Format {
    /// A statement for people.
    Text,
    /// The ledger, one line per movement of money.
    Csv,
    /// Everything, for machines.
    Json,
    /// Each measurement's claim, one row each (CSV): units achieved, baseline, units and amount
    /// after each cap, when due.
    Claims,
}

/// How a subcommand that ran to the end finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// It did what was asked (exit status 0).
    Done,
    /// `solve` found no value within the bounds that meets the target (exit status 1, as
    /// `grep` finding nothing): a result, not an error, but one a script must be able to see.
    TargetNotMet,
    /// No command was given: the help went to stderr (exit status 2, a usage error).
    Usage,
}

/// Parses the command line and runs the subcommand.
pub fn run() -> Result<Finished> {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                io::print_out(&e.to_string());
                return Ok(Finished::Done);
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // `sibsim` alone: the help, on stderr, as a usage error but not called one.
                eprint!("{}", e.render());
                return Ok(Finished::Usage);
            }
            // `feasibility --print-tree` needs no scenario (the tree is the same for all).
            let argv: Vec<String> = std::env::args().collect();
            if e.kind() == ErrorKind::MissingRequiredArgument
                && argv.get(1).map(String::as_str) == Some("feasibility")
                && argv.iter().any(|a| a == "--print-tree")
            {
                let out = argv.iter().enumerate().find_map(|(i, a)| {
                    a.strip_prefix("--out=")
                        .map(String::from)
                        .or_else(|| (a == "--out").then(|| argv.get(i + 1).cloned()).flatten())
                });
                return io::emit(
                    out.as_deref().map(std::path::Path::new),
                    sibsim::feasibility::DEFAULT_TREE,
                )
                .map(|()| Finished::Done);
            }
            return Err(CliError(
                e.render()
                    .to_string()
                    .trim_start_matches("error: ")
                    .to_string(),
            ));
        }
    };
    let done = match args.cmd {
        Cmd::Validate { scenario, set } => validate(&scenario, &set),
        Cmd::Settle {
            scenario,
            actuals,
            through,
            format,
            out,
            against,
        } => settle(
            &scenario,
            &actuals,
            through,
            format,
            out,
            against.as_deref(),
        ),
        Cmd::Simulate {
            common,
            out,
            trials_out,
            charts,
        } => simulate::run(simulate::Options {
            scenario: &common.scenario,
            trials: common.trials,
            seed: common.seed,
            threads: common.threads,
            out: out.as_deref(),
            trials_out,
            set: &common.set,
            charts: charts.as_deref(),
        }),
        Cmd::Chart {
            summary,
            out,
            format,
        } => chart::run(&summary, &out, format),
        Cmd::Report {
            common,
            out,
            tree,
            tornado,
        } => report::run(&common.common(), &out, tree.as_deref(), tornado.as_deref()),
        Cmd::Mkba {
            common,
            actuals,
            through,
            format,
            out,
        } => business::mkba(
            &common.common(),
            actuals.as_deref(),
            through,
            format == Report::Json,
            out.as_deref(),
        ),
        Cmd::Feasibility {
            common,
            tree,
            print_tree,
            format,
            out,
        } => {
            if print_tree {
                return io::emit(out.as_deref(), sibsim::feasibility::DEFAULT_TREE)
                    .map(|()| Finished::Done);
            }
            business::feasibility(
                &common.common(),
                tree.as_deref(),
                format == Report::Json,
                out.as_deref(),
            )
        }
        Cmd::Stress {
            common,
            only,
            no_defaults,
            metrics,
            out,
            charts,
        } => design::stress(
            &common.common(),
            &only,
            no_defaults,
            &metrics,
            out.as_deref(),
            charts.as_deref(),
        ),
        Cmd::Sweep {
            common,
            vary,
            metrics,
            out,
            charts,
        } => design::sweep(
            &common.common(),
            &vary,
            &metrics,
            out.as_deref(),
            charts.as_deref(),
        ),
        Cmd::Tornado {
            common,
            metric,
            range,
            out,
            charts,
        } => design::tornado(
            &common.common(),
            &metric,
            &range,
            out.as_deref(),
            charts.as_deref(),
        ),
        Cmd::Solve {
            common,
            term,
            target,
            bounds,
            step,
            out,
        } => {
            let met = design::solve(
                &common.common(),
                &term,
                &target,
                bounds.as_deref(),
                step,
                out.as_deref(),
            )?;
            return Ok(if met {
                Finished::Done
            } else {
                Finished::TargetNotMet
            });
        }
        Cmd::Figures => {
            io::print_out(&format!(
                "Figures (FIGURE or FIGURE:ARG). TRANCHE: a tranche id, or an investor id for all its\ntranches; PARTY: a party id, `payers`, or ids joined by `+`.\n{}",
                sibsim::metrics::catalogue()
            ));
            Ok(())
        }
    };
    done.map(|()| Finished::Done)
}

fn load(path: &std::path::Path) -> Result<sibsim::Scenario> {
    let text = io::read_text(path)?;
    Ok(sibsim::scenario::parse(&path.display().to_string(), &text)?)
}

/// Shows on stderr, before a run, the notes of [`sibsim::model::Model::notes`]: draws cut at zero
/// and a per-participant cap that makes trials slow (`validate` lists the same).
pub(crate) fn model_notes(model: &sibsim::model::Model, c: &sibsim::Contract) {
    for n in model.notes(c) {
        eprintln!("note: {n}");
    }
}

fn validate(path: &std::path::Path, given: &[String]) -> Result<()> {
    use sibsim::chart::theme::count;
    let set = design::overrides(given)?;
    let text = io::read_text(path)?;
    let name = path.display().to_string();
    let s = sibsim::scenario::parse_with_overrides(&name, &text, &set)?;
    // The uncertainty model, where the file has one, and the decision tree's thresholds:
    // what `simulate` and `feasibility` would refuse, `validate` refuses first.
    let cut = if s.uncertainty.is_some() {
        let (_, model) = sibsim::scenario::parse_with_model_overrides(&name, &text, &set)?;
        model.notes(&s.contract)
    } else {
        Vec::new()
    };
    business::tree(&s, path, &set, None)?;
    sibsim::design::stress::check_file_stresses(&s, &name, &text, &set)?;
    let c = &s.contract;
    let payers: Vec<&str> = c.payers().map(|i| c.parties()[i].id.as_str()).collect();
    let people: u64 = c.cohorts().iter().map(|k| k.size as u64).sum();
    let committed: sibsim::Money = c.tranches().iter().map(|t| t.committed).sum();
    if set.is_empty() {
        io::say!("{} is valid.", path.display());
    } else {
        io::say!(
            "{} is valid with --set {}.",
            path.display(),
            given.join(", --set ")
        );
    }
    io::say!(
        "  {}: {}, {} with {}, {}, payers: {}",
        c.name(),
        c.period_length().count(c.periods()),
        count(c.cohorts().len() as u64, "cohort", "cohorts"),
        count(people, "participant", "participants"),
        count(c.outcomes().len() as u64, "outcome", "outcomes"),
        payers.join(", ")
    );
    io::say!(
        "  {}, {} {} committed{}{}",
        count(c.tranches().len() as u64, "tranche", "tranches"),
        c.currency(),
        sibsim::money::format_thousands(committed),
        c.total_cap()
            .map(|m| format!(", total cap {}", sibsim::money::format_thousands(m)))
            .unwrap_or_default(),
        if c.pay_only_due() {
            ", pay only what is due"
        } else {
            ""
        }
    );
    for g in c.inflow_guarantees() {
        io::say!(
            "  inflow guarantee: {}",
            sibsim::statement::describe_inflow_guarantee(c, g)
        );
    }
    for n in participant_cap_lines(c) {
        io::say!("  {n}");
    }
    if let Some(n) = fees_after_the_money(c) {
        io::say!("  {n}");
    }
    if let Some(n) = share_without_surplus(c) {
        io::say!("  {n}");
    }
    if let Some(n) = return_without_termination(c) {
        io::say!("  {n}");
    }
    for n in cohort_grids_paid_repeatedly(c) {
        io::say!("  {n}");
    }
    for n in cut {
        io::say!("  note: {n}");
    }
    Ok(())
}

/// A note where a fee falls due after the last period any money can come into the account,
/// under a remainder rule that pays the account out every period (`return-to-payers`,
/// `enterprise`): nothing is left for it, and it stays owed.
fn fees_after_the_money(c: &sibsim::Contract) -> Option<String> {
    use sibsim::contract::Remainder;
    let rule = match c.remainder() {
        Remainder::Hold => return None,
        Remainder::ReturnToPayers => "return-to-payers",
        Remainder::Enterprise => "enterprise",
    };
    let outcomes = c.outcomes().iter().flat_map(|o| {
        c.cohorts()
            .iter()
            .map(move |k| o.last_measure(k.enrol_period) + o.pay_lag)
    });
    let fixed = c.fixed_payments().iter().map(|f| f.period);
    let last_in = outcomes.chain(fixed).max().unwrap_or(0);
    let after = |schedule: &[sibsim::Money]| {
        schedule
            .iter()
            .enumerate()
            .any(|(p, m)| p > last_in as usize && m.0 != 0)
    };
    let mut late: Vec<String> = c
        .fees()
        .iter()
        .filter(|f| after(&f.schedule))
        .map(|f| format!("fee `{}`", f.id))
        .collect();
    if after(&c.enterprise_terms().deferred_fees) {
        late.push("the enterprise's deferred fee".into());
    }
    (!late.is_empty()).then(|| {
        format!(
            "note: {} {} due after period {last_in}, the last in which money comes in, and `remainder = \"{rule}\"` pays the account out every period: {} will stay owed (schedule {} earlier, or use `hold`)",
            late.join(" and "),
            if late.len() == 1 { "falls" } else { "fall" },
            if late.len() == 1 { "it" } else { "they" },
            if late.len() == 1 { "it" } else { "them" },
        )
    })
}

/// A note where the enterprise's performance share can never be paid: under pay only what is
/// due, outcome payments bring in no more than the waterfall owes, so nothing is left to
/// share unless fixed payments or inflow compensation to the account bring more.
fn share_without_surplus(c: &sibsim::Contract) -> Option<String> {
    let other_money =
        !c.fixed_payments().is_empty() || c.inflow_guarantees().iter().any(|g| g.to == c.account());
    (c.pay_only_due() && c.enterprise_terms().performance_share.0 > 0 && !other_money).then(|| {
        "note: `pay_only_due` brings in no more than the fees, claims and deferred fees owed, so nothing is left after them for the enterprise's `performance_share`: it will never be paid (drop one of the two terms)".to_string()
    })
}

/// A note per grid paid for the cohort as a whole and measured in several periods: it pays
/// the cohort's sum in each of them (a programme's sum paid once wants `measure_periods = 1`).
fn cohort_grids_paid_repeatedly(c: &sibsim::Contract) -> Vec<String> {
    use sibsim::contract::{GridPer, Pricing};
    c.outcomes()
        .iter()
        .filter(|o| {
            o.measure_periods > 1
                && matches!(
                    o.pricing,
                    Pricing::Grid {
                        per: GridPer::Cohort,
                        ..
                    }
                )
        })
        .map(|o| {
            format!(
                "note: `{}` pays its grid's sum for the cohort in each of its {} measurement periods (per = \"cohort\" with measure_periods = {}); for one sum per cohort measure it once",
                o.id, o.measure_periods, o.measure_periods
            )
        })
        .collect()
}

/// The return of unspent capital as `validate` shows it, and a note where "on-termination"
/// can return nothing: without checkpoints a contract ends early only when the enterprise runs
/// out of cash, with no capital left.
fn return_without_termination(c: &sibsim::Contract) -> Option<String> {
    use sibsim::contract::ReturnUnspent;
    match c.enterprise_terms().return_unspent {
        ReturnUnspent::Never => None,
        ReturnUnspent::AtEnd => Some(
            "when the contract ends, the enterprise pays back the capital it drew and did not spend, as far as the fees and tranche claims are still short (return_unspent = \"at-end\")".into(),
        ),
        ReturnUnspent::OnTermination if c.checkpoints().is_empty() => Some(
            "note: `return_unspent = \"on-termination\"` returns nothing here: without checkpoints the contract ends early only when the enterprise runs out of cash, with no capital left (use \"at-end\" to return it at the end of period T too)".into(),
        ),
        ReturnUnspent::OnTermination => Some(
            "at an early termination, the enterprise pays back the capital it drew and did not spend, as far as the fees and tranche claims are still short (return_unspent = \"on-termination\")".into(),
        ),
    }
}

/// The per-participant cap as `validate` shows it, and a note where it binds whatever the
/// trials do: an outcome priced above the cap, or one-off prices that add up to more than it
/// (a participant who achieves them all is paid the cap).
fn participant_cap_lines(c: &sibsim::Contract) -> Vec<String> {
    use sibsim::contract::{OutcomeKind, Pricing};
    use sibsim::money::format_thousands;
    let Some(pc) = &c.participant_cap() else {
        return Vec::new();
    };
    let cap = pc.amount.to_decimal();
    let ids: Vec<String> = pc
        .outcomes
        .iter()
        .map(|&o| format!("`{}`", c.outcomes()[o].id))
        .collect();
    let mut out = vec![format!(
        "per-participant cap {} {} over {}",
        c.currency(),
        format_thousands(pc.amount),
        ids.join(", ")
    )];
    let show = |d: rust_decimal::Decimal| {
        sibsim::Money::from_decimal(d.round_dp(2))
            .map_or_else(|| d.normalize().to_string(), format_thousands)
    };
    let mut sum = rust_decimal::Decimal::ZERO;
    let mut one_off = true;
    for &o in &pc.outcomes {
        let out_o = &c.outcomes()[o];
        match &out_o.pricing {
            Pricing::Flat(p) => {
                let price = p.to_decimal();
                if price > cap {
                    out.push(format!(
                        "note: `{}` is priced {} {}, above the per-participant cap: a participant is paid at most {} for it",
                        out_o.id,
                        c.currency(),
                        show(price),
                        format_thousands(pc.amount)
                    ));
                }
                sum += price;
                one_off &= out_o.kind == OutcomeKind::Count && !out_o.repeatable;
            }
            _ => one_off = false,
        }
    }
    if one_off && pc.outcomes.len() > 1 && sum > cap {
        out.push(format!(
            "note: the prices of {} add up to {} {}, above the per-participant cap: a participant who achieves them all is paid {} (the outcome that passes the cap is cut)",
            ids.join(", "),
            c.currency(),
            show(sum),
            format_thousands(pc.amount)
        ));
    }
    out
}

/// Reads the actuals file `path` and settles it under `c` through period `through` (default:
/// [`sibsim::actuals::default_through`]). An interim settlement the user did not ask for is
/// explained on stderr: where it stopped, why, and how to settle to the end; so are the
/// file's rows left unsettled and the measurements it does not report ([`coverage_notes`]).
/// Returns the settlement and the actuals it settled.
pub(crate) fn settle_file<S: sibsim::settlement::LedgerSink>(
    c: &sibsim::Contract,
    path: &std::path::Path,
    through: Option<u16>,
    sink: &mut S,
) -> Result<(sibsim::settlement::Settlement, sibsim::Actuals)> {
    settle_file_noted(c, path, through, sink).map(|(s, act, _)| (s, act))
}

/// [`settle_file`], also returning the notes of [`coverage_notes`] (printed on stderr too), for
/// a final statement to carry.
fn settle_file_noted<S: sibsim::settlement::LedgerSink>(
    c: &sibsim::Contract,
    path: &std::path::Path,
    through: Option<u16>,
    sink: &mut S,
) -> Result<(sibsim::settlement::Settlement, sibsim::Actuals, Vec<String>)> {
    let text = io::read_text(path)?;
    let act = sibsim::actuals::parse_csv(c, &path.display().to_string(), &text)?;
    // Values that may be meant otherwise: on stderr now, and with the statement's notes.
    let mut doubts = Vec::new();
    for (i, d) in act.doubtful().iter().enumerate() {
        if i == 5 {
            doubts.push(format!(
                "{} more such values in {}",
                act.doubtful().len() - 5,
                path.display()
            ));
            break;
        }
        doubts.push(format!(
            "{}:{}:{}: {}: {}",
            path.display(),
            d.line.unwrap_or(0),
            d.column.unwrap_or(0),
            d.path,
            d.message
        ));
    }
    for d in &doubts {
        eprintln!("note: {d}");
    }
    let cannot =
        |e: &dyn std::fmt::Display| CliError(format!("cannot settle {}: {e}", path.display()));
    let to = match through {
        Some(p) if p == 0 || p > c.periods() => {
            return Err(CliError(format!(
                "--through {p}: the contract has periods 1 to {}; give one of them",
                c.periods()
            )));
        }
        Some(p) => p,
        None => sibsim::actuals::default_through(c, &act),
    };
    let mut settler = Settler::new(c);
    let s = settler
        .settle_through(&act, sink, to)
        .map_err(|e| cannot(&e))?
        .clone();
    if through.is_none() && s.interim {
        // How to settle to the end: with this file, or only once more rows are in.
        let to_end = match settler.settle(&act, &mut sibsim::settlement::NoLedger) {
            Ok(_) => format!(
                "`--through {}` settles to the end, counting each unreported measurement as nothing achieved.",
                c.periods()
            ),
            Err(e) => format!("Settling to the end needs more rows: {e}."),
        };
        let reports = if act.reported_through() == 0 {
            "reports no period yet (no rows)".to_string()
        } else {
            format!("reports up to period {}", act.reported_through())
        };
        eprintln!(
            "note: {} {reports} and the contract measures outcomes until period {}: an interim statement through period {} (claims stay open; nothing is written off and no guarantee is called before the end). {to_end}",
            path.display(),
            c.last_measurement(),
            s.final_period,
        );
    }
    // A guaranteed cohort without an enrolment row is taken at its target: it earns nothing.
    let unreported: Vec<&str> = c
        .cohorts()
        .iter()
        .enumerate()
        .filter(|(k, coh)| {
            !act.enrolment_reported()[*k]
                && coh.enrol_period <= s.final_period
                && c.inflow_guarantees().iter().any(|g| g.cohorts.contains(k))
        })
        .map(|(_, coh)| coh.id.as_str())
        .collect();
    if !unreported.is_empty() {
        eprintln!(
            "note: {} has no `enrolled` row for {} {} under an inflow guarantee: {} taken to have enrolled its target, so it earns no compensation; report its enrolment to settle the guarantee.",
            path.display(),
            if unreported.len() == 1 {
                "cohort"
            } else {
                "cohorts"
            },
            unreported.join(", "),
            if unreported.len() == 1 {
                "it is"
            } else {
                "each is"
            },
        );
    }
    let mut notes = coverage_notes(c, &act, &s, &path.display().to_string());
    for n in &notes {
        eprintln!("note: {n}.");
    }
    notes.extend(doubts);
    Ok((s, act, notes))
}

/// Ascending periods in words, runs joined: `period 7`, `periods 7 and 8`, `periods 6 to 9
/// and 11`.
fn periods_in_words(ps: &[u16]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ps.len() {
        let mut j = i;
        while j + 1 < ps.len() && ps[j + 1] == ps[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => runs.push(ps[i].to_string()),
            1 => {
                runs.push(ps[i].to_string());
                runs.push(ps[j].to_string());
            }
            _ => runs.push(format!("{} to {}", ps[i], ps[j])),
        }
        i = j + 1;
    }
    let list = match runs.len() {
        0 => String::new(),
        1 => runs[0].clone(),
        n => format!("{} and {}", runs[..n - 1].join(", "), runs[n - 1]),
    };
    format!(
        "{} {list}",
        if ps.len() == 1 { "period" } else { "periods" }
    )
}

/// What a settlement of `act` (read from `file`) leaves out or assumes: the periods it settles
/// that the file does not report, where measurements count as nothing achieved; and the file's
/// rows after the last period settled (after `--through`, or after an early termination),
/// which are not settled. Notes only: the settlement is what it is.
pub(crate) fn coverage_notes(
    c: &sibsim::Contract,
    act: &sibsim::Actuals,
    s: &sibsim::settlement::Settlement,
    file: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    let (last, end) = (act.reported_through(), s.final_period);
    let span = |from: u16, to: u16| {
        if from == to {
            format!("period {from}")
        } else {
            format!("periods {from} to {to}")
        }
    };
    // Measurements in periods settled but not reported.
    if end > last {
        let measured: Vec<&str> = c
            .outcomes()
            .iter()
            .filter(|o| {
                c.cohorts().iter().any(|k| {
                    o.first_measure(k.enrol_period) <= end && o.last_measure(k.enrol_period) > last
                })
            })
            .map(|o| o.id.as_str())
            .collect();
        if !measured.is_empty() {
            let reports = if last == 0 {
                "reports no period".to_string()
            } else {
                format!("reports up to period {last}")
            };
            notes.push(format!(
                "{file} {reports}, and {} settled here {} not reported: the measurements of `{}` in {} count as 0, as if nothing had been achieved",
                span(last + 1, end),
                if last + 1 == end { "is" } else { "are" },
                measured.join("`, `"),
                if last + 1 == end { "it" } else { "them" },
            ));
        }
    }
    // Enrolment: above the target (a typo pays more), or missing where other cohorts have it.
    let enrolled_by_end: Vec<usize> = (0..c.cohorts().len())
        .filter(|&k| c.cohorts()[k].enrol_period <= end)
        .collect();
    for &k in &enrolled_by_end {
        let coh = &c.cohorts()[k];
        if act.enrolment_reported()[k] && act.enrolled()[k] > coh.size {
            notes.push(format!(
                "{file} reports cohort `{}` enrolled {}, above its target of {}: its payments and caps count {} people; check the `enrolled` row if that is not so",
                coh.id, act.enrolled()[k], coh.size, act.enrolled()[k]
            ));
        }
    }
    if enrolled_by_end.iter().any(|&k| act.enrolment_reported()[k]) {
        let missing: Vec<String> = enrolled_by_end
            .iter()
            .filter(|&&k| !act.enrolment_reported()[k])
            .map(|&k| format!("`{}` (target {})", c.cohorts()[k].id, c.cohorts()[k].size))
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "{file} reports the enrolment of other cohorts but not of {}: {} at {} target",
                missing.join(", "),
                if missing.len() == 1 {
                    "it counts"
                } else {
                    "they count"
                },
                if missing.len() == 1 { "its" } else { "their" },
            ));
        }
    }
    // A forecast made for the target, kept for a cohort that enrolled otherwise.
    for (o, out) in c.outcomes().iter().enumerate() {
        if !matches!(out.baseline, sibsim::contract::Baseline::Forecast(_)) {
            continue;
        }
        for &k in &enrolled_by_end {
            let coh = &c.cohorts()[k];
            if !act.enrolment_reported()[k] || act.enrolled()[k] == coh.size {
                continue;
            }
            let kept: Vec<u16> = (out.first_measure(coh.enrol_period)
                ..=out.last_measure(coh.enrol_period).min(end))
                .filter(|&p| act.baseline(o, k, p as usize).is_none())
                .collect();
            if !kept.is_empty() {
                notes.push(format!(
                    "cohort `{}` enrolled {} against its target of {}, but {file} reports no `baseline` for `{}` in {}: the contract's forecast for {} people is used there; report the forecast re-run for the people who came in the `baseline` column",
                    coh.id,
                    act.enrolled()[k],
                    coh.size,
                    out.id,
                    periods_in_words(&kept),
                    coh.size
                ));
            }
        }
    }
    // Measurements up to the last reported period without a row.
    let gaps: Vec<&(u16, u16, u16)> = act
        .unreported()
        .iter()
        .filter(|&&(_, _, p)| p <= end)
        .collect();
    if !gaps.is_empty() {
        // By period: `outcome` cohort, cohort; ...
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < gaps.len() && parts.len() < 4 {
            let p = gaps[i].2;
            let mut cells: Vec<String> = Vec::new();
            while i < gaps.len() && gaps[i].2 == p {
                let o = gaps[i].0;
                let mut cohorts = Vec::new();
                while i < gaps.len() && gaps[i].2 == p && gaps[i].0 == o {
                    cohorts.push(c.cohorts()[gaps[i].1 as usize].id.as_str());
                    i += 1;
                }
                cells.push(format!(
                    "`{}` of {}",
                    c.outcomes()[o as usize].id,
                    cohorts.join(", ")
                ));
            }
            let whole = act.rows_by_period().get(p as usize).copied().unwrap_or(0) == 0;
            parts.push(format!(
                "period {p}{} ({})",
                if whole { ", no row at all" } else { "" },
                cells.join("; ")
            ));
        }
        let rest = gaps.len() - i;
        notes.push(format!(
            "{file} has no row for {} up to its last reported period {last}; {} as 0 units, as if nothing had been achieved: {}{} (report 0 where nothing was achieved, so that a forgotten row shows)",
            if gaps.len() == 1 {
                "1 measurement".to_string()
            } else {
                format!("{} measurements", gaps.len())
            },
            if gaps.len() == 1 { "it counts" } else { "they count" },
            parts.join(", "),
            if rest > 0 {
                format!(", and {rest} more")
            } else {
                String::new()
            }
        ));
    }
    // Rows after the last period settled.
    let later: u32 = act.rows_by_period().iter().skip(end as usize + 1).sum();
    if later > 0 {
        let rows = if later == 1 {
            "1 row".to_string()
        } else {
            format!("{later} rows")
        };
        let periods = span(end + 1, last);
        match s.termination {
            Some((p, _)) => {
                // Units per outcome measured after the termination, for the reader to see
                // what is not paid.
                let units: Vec<String> = c
                    .outcomes()
                    .iter()
                    .enumerate()
                    .filter_map(|(o, out)| {
                        let mut q = sibsim::Qty::ZERO;
                        for k in 0..c.cohorts().len() {
                            for period in p as usize + 1..=c.periods() as usize {
                                q += act.units(o, k, period);
                            }
                        }
                        (q.0 > 0).then(|| format!("`{}` {q}", out.id))
                    })
                    .collect();
                let units = if units.is_empty() {
                    String::new()
                } else {
                    format!(" (units: {})", units.join(", "))
                };
                notes.push(format!(
                    "the contract terminated early in period {p}, so {rows} of {file} for {periods}{units} {} not settled: nothing measured after period {p} is paid",
                    if later == 1 { "is" } else { "are" }
                ));
            }
            None => notes.push(format!(
                "{rows} of {file} for {periods} {} not settled: this statement settles through period {end}",
                if later == 1 { "is" } else { "are" }
            )),
        }
    }
    notes
}

/// Reads a statement booked earlier (`settle --format json`) of contract `c`: each party's
/// flow per period through the last period it books, or says plainly what is wrong with the
/// file. It must be as `settle` wrote it: the same contract, every party once, amounts in
/// cents as strings, null only after an interim statement's last period.
fn read_booked(c: &sibsim::Contract, path: &std::path::Path) -> Result<sibsim::statement::Booked> {
    use std::str::FromStr;
    let text = io::read_text(path)?;
    let shown = path.display();
    let bad = |why: String| {
        CliError(format!(
            "--against {shown}: {why}; give a statement that `sibsim settle --format json` wrote for this contract"
        ))
    };
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not a JSON statement (line {}, column {}: {e})",
            e.line(),
            e.column()
        ))
    })?;
    let name = doc["contract"]
        .as_str()
        .ok_or_else(|| bad("no `contract` name".into()))?;
    if name != c.name() {
        return Err(bad(format!(
            "it is a statement of `{name}`, not of `{}`",
            c.name()
        )));
    }
    match doc["periods"].as_u64() {
        Some(n) if n == c.periods() as u64 => {}
        Some(n) => {
            return Err(bad(format!(
                "it has {n} periods, but the contract has {}",
                c.periods()
            )));
        }
        None => {
            return Err(bad(format!(
                "its `periods` is {}, not a whole number",
                doc["periods"]
            )));
        }
    }
    let final_period = doc["final_period"]
        .as_u64()
        .filter(|&p| (1..=c.periods() as u64).contains(&p))
        .ok_or_else(|| {
            bad(format!(
                "its `final_period` is {}, not a period of the contract",
                doc["final_period"]
            ))
        })? as u16;
    let interim = doc["settlement"]["interim"]
        .as_bool()
        .ok_or_else(|| bad("no `settlement.interim` flag".into()))?;
    // A final statement (to the end, or ended early) books every period: nothing moves after
    // an early end. An interim one books its periods only.
    let through = if interim { final_period } else { c.periods() };
    let parties = doc["parties"]
        .as_array()
        .ok_or_else(|| bad("no `parties` list".into()))?;
    // Every party of the file is one of the contract's, once.
    let mut ids = std::collections::HashSet::new();
    for p in parties {
        let id = p["id"].as_str().unwrap_or("");
        if c.parties().iter().all(|q| q.id != id) {
            return Err(bad(format!(
                "it has a party `{id}` the contract does not have (were the contract's parties renamed since?)"
            )));
        }
        if !ids.insert(id) {
            return Err(bad(format!("it lists party `{id}` twice")));
        }
    }
    let mut flows = Vec::with_capacity(c.parties().len());
    for party in c.parties() {
        let Some(p) = parties
            .iter()
            .find(|p| p["id"].as_str() == Some(party.id.as_str()))
        else {
            return Err(bad(format!(
                "it has no party `{}` (were the contract's parties renamed since?)",
                party.id
            )));
        };
        let by = p["by_period"]
            .as_array()
            .filter(|b| b.len() == c.periods() as usize)
            .ok_or_else(|| {
                bad(format!(
                    "party `{}` has no `by_period` list of {} flows",
                    party.id,
                    c.periods()
                ))
            })?;
        for (k, v) in by.iter().enumerate().skip(through as usize) {
            if !v.is_null() {
                return Err(bad(format!(
                    "party `{}`, period {}: {v} after the statement's last period {final_period}, where `settle` writes null",
                    party.id,
                    k + 1
                )));
            }
        }
        let mut row = vec![sibsim::Money::ZERO; c.periods() as usize + 1];
        for k in 1..=through as usize {
            let v = &by[k - 1];
            row[k] = v
                .as_str()
                .filter(|t| is_cents(t))
                .and_then(|t| rust_decimal::Decimal::from_str(t).ok())
                .and_then(sibsim::Money::from_decimal)
                .ok_or_else(|| {
                    bad(format!(
                        "party `{}`, period {k}: {v} is not an amount in cents as a string (as \"-1234.50\")",
                        party.id
                    ))
                })?;
            // A party's flow in a period adds up a few totals each bounded by the settlement's
            // amount limit (outcome payments, fixed payments, claims, ...), so no settlement
            // books a hundred times that; past it, a difference with the flows now might not
            // fit in cents.
            let limit = sibsim::Money(sibsim::settlement::LIMIT.0 * 100);
            if row[k].0.unsigned_abs() > limit.0 as u64 {
                return Err(bad(format!(
                    "party `{}`, period {k}: {v} is beyond what a settlement books (at most {} either way in a period)",
                    party.id,
                    sibsim::money::format_thousands(limit)
                )));
            }
        }
        flows.push(row);
    }
    Ok(sibsim::statement::Booked {
        source: path.display().to_string(),
        through,
        flows,
    })
}

/// Whether `t` is an amount as a statement writes one: an optional minus, digits, a point
/// and two digits (`-27000.00`).
fn is_cents(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    match t.split_once('.') {
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == 2
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn settle(
    path: &std::path::Path,
    actuals: &std::path::Path,
    through: Option<u16>,
    format: Format,
    out: Option<PathBuf>,
    against: Option<&std::path::Path>,
) -> Result<()> {
    let s = load(path)?;
    let c = &s.contract;
    let booked = against.map(|a| read_booked(c, a)).transpose()?;
    // An output that may not be written is refused before anything is settled or noted.
    io::note_input(actuals);
    if let Some(o) = &out {
        io::check_output_file(o)?;
    }
    let mut recorded = sibsim::settlement::Recorded::default();
    let (result, act, notes) = settle_file_noted(c, actuals, through, &mut recorded)?;
    let ledger = recorded.ledger;
    let claims =
        sibsim::statement::claim_rows(c, &result, &recorded.claims, &recorded.paid, act.enrolled());
    let enrolment = sibsim::statement::enrolment(c, &act)
        .map_err(|e| CliError(format!("cannot settle {}: {e}", actuals.display())))?;
    let against = booked
        .as_ref()
        .map(|b| sibsim::statement::against(c, &result, &ledger, b));
    if let Some(a) = &against {
        let mut periods: Vec<u16> = a.restated.iter().map(|r| r.period).collect();
        periods.dedup();
        if periods.is_empty() {
            eprintln!(
                "note: periods 1 to {} agree with {} to the cent.",
                a.through, a.source
            );
        } else {
            let listed: Vec<String> = periods.iter().map(u16::to_string).collect();
            eprintln!(
                "note: RESTATED: period{} {} differ{} from {}, which booked {}; the statement lists each party's difference.",
                if periods.len() == 1 { "" } else { "s" },
                listed.join(", "),
                if periods.len() == 1 { "s" } else { "" },
                a.source,
                if periods.len() == 1 { "it" } else { "them" },
            );
        }
    }
    // A final text statement carries the notes (an interim one says where it stops already);
    // the JSON always does, for a machine reading it has no stderr to look at.
    let text_notes: &[String] = if result.interim { &[] } else { &notes };
    if matches!(format, Format::Csv | Format::Claims) && result.interim && through.is_some() {
        // The rows cannot say so themselves (text and JSON statements do).
        eprintln!(
            "note: an interim {} through period {} of {}: claims stay open; nothing is written off and no guarantee is called before the contract ends.",
            if format == Format::Csv {
                "ledger"
            } else {
                "list of claims"
            },
            result.final_period,
            c.periods()
        );
    }
    let rendered = match format {
        Format::Text => sibsim::statement::render_text_noted(
            c,
            &result,
            &ledger,
            text_notes,
            &enrolment,
            &claims,
            against.as_ref(),
        ),
        Format::Csv => sibsim::statement::render_csv(c, &ledger),
        Format::Claims => sibsim::statement::render_claims_csv(&claims),
        Format::Json => sibsim::statement::render_json_noted(
            c,
            &result,
            &ledger,
            &notes,
            &enrolment,
            &claims,
            against.as_ref(),
        ),
    };
    io::emit(out.as_deref(), &rendered)
}

#[cfg(test)]
mod tests {
    use super::periods_in_words;

    #[test]
    fn periods_read_as_people_write_them() {
        assert_eq!(periods_in_words(&[7]), "period 7");
        assert_eq!(periods_in_words(&[7, 8]), "periods 7 and 8");
        assert_eq!(periods_in_words(&[7, 11]), "periods 7 and 11");
        assert_eq!(periods_in_words(&[6, 7, 8, 9, 11]), "periods 6 to 9 and 11");
        assert_eq!(
            periods_in_words(&[1, 3, 4, 6, 7, 8]),
            "periods 1, 3, 4 and 6 to 8"
        );
    }
}
