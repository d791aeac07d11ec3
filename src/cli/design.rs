//! `sibsim stress`, `sweep`, `tornado` and `solve`: term design on common random numbers.

use super::progress::with_progress;
use super::{CliError, Result, io};
use sibsim::design::solve::{Answer, Solution, SolveConfig, Target};
use sibsim::design::sweep::{Sweep, Vary};
use sibsim::design::tornado::{Range, Tornado};
use sibsim::design::{Comparison, Source, Variant};
use sibsim::metrics::{Figure, Unit};
use sibsim::montecarlo::SimConfig;
use sibsim::scenario::overrides::Override;
use sibsim::statement::Table;
use std::fmt::Write as _;
use std::path::Path;

/// Options every design command shares.
pub struct Common<'a> {
    pub scenario: &'a Path,
    pub trials: u64,
    pub seed: u64,
    pub threads: Option<usize>,
    pub set: &'a [String],
}

/// Parses `--set` values.
pub fn overrides(set: &[String]) -> Result<Vec<Override>> {
    set.iter()
        .map(|s| Override::parse(s).map_err(|e| CliError(format!("--set {e}"))))
        .collect()
}

struct Loaded {
    name: String,
    text: String,
    base: Vec<Override>,
    /// `--set` as given.
    set: Vec<String>,
    cfg: SimConfig,
}

/// Where a saved comparison or solution came from, under the names `summary.json` gives
/// them: the scenario (file, name, currency, period, `--set` overrides) and the sibsim
/// version.
#[derive(serde::Serialize)]
struct Provenance {
    scenario: sibsim::montecarlo::ScenarioInfo,
    sibsim_version: &'static str,
}

impl Provenance {
    fn new(l: &Loaded, c: &sibsim::Contract) -> Provenance {
        Provenance {
            scenario: sibsim::montecarlo::ScenarioInfo {
                file: l.name.clone(),
                name: c.name().to_string(),
                currency: c.currency().to_string(),
                period: c.period_length().singular().to_string(),
                overrides: l.set.clone(),
                text: l.text.clone(),
            },
            sibsim_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

impl Loaded {
    fn new(c: &Common<'_>) -> Result<Loaded> {
        Ok(Loaded {
            name: c.scenario.display().to_string(),
            text: io::read_text(c.scenario)?,
            base: overrides(c.set)?,
            set: c.set.to_vec(),
            cfg: SimConfig {
                trials: c.trials,
                seed: c.seed,
                threads: c.threads,
            },
        })
    }
    fn source(&self) -> Source<'_> {
        Source {
            file: &self.name,
            text: &self.text,
            base: &self.base,
        }
    }
}

fn thousands(x: f64) -> String {
    sibsim::chart::theme::thousands(x)
}

/// `x` to `d` decimals, never a negative zero: a value that rounds to 0 reads `0.00`, not
/// `-0.00`.
fn fixed(x: f64, d: usize) -> String {
    let s = format!("{x:.d$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// Money to `d` decimals (at most cents) with thousands separators; whole units for 0.
fn money_to(x: f64, d: usize) -> String {
    if d == 0 || !x.is_finite() {
        return thousands(x);
    }
    let s = fixed(x, d.min(2));
    let (sign, s) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = int
        .parse::<f64>()
        .map_or_else(|_| int.to_string(), thousands);
    format!("{sign}{int}.{frac}")
}

/// The decimals [`show`] gives a figure of unit `u` (of its percentage for shares and rates).
fn decimals(u: Unit) -> usize {
    match u {
        Unit::Probability => 1,
        Unit::Rate | Unit::Multiple => 2,
        Unit::Money => 0,
    }
}

/// A figure's value for people.
pub fn show(u: Unit, x: f64) -> String {
    show_with(u, x, 0)
}

/// A figure's value for people with `extra` decimals beyond [`show`]'s (money: at most cents).
fn show_with(u: Unit, x: f64, extra: usize) -> String {
    if x.is_nan() {
        return "n/a".into();
    }
    let d = decimals(u) + extra;
    match u {
        Unit::Probability => {
            // A probability that is not 0 or 1 never reads as either.
            let shown = fixed(x * 100.0, d);
            let zero = fixed(0.0, d);
            let one = fixed(100.0, d);
            let step = fixed(10f64.powi(-(d as i32)), d);
            if x > 0.0 && shown == zero {
                format!("<{step}%")
            } else if x < 1.0 && shown == one {
                format!(">{}%", fixed(100.0 - 10f64.powi(-(d as i32)), d))
            } else {
                format!("{shown}%")
            }
        }
        Unit::Rate => format!("{}%", fixed(x * 100.0, d)),
        Unit::Multiple => format!("{}x", fixed(x, d)),
        Unit::Money => money_to(x, d),
    }
}

/// `x` as [`show_with`] rounds it with `extra` decimals, in the figure's own scale.
fn shown_value(u: Unit, x: f64, extra: usize) -> f64 {
    let (scale, d) = match u {
        Unit::Probability | Unit::Rate => (100.0, decimals(u) + extra),
        Unit::Multiple => (1.0, decimals(u) + extra),
        Unit::Money => (1.0, (decimals(u) + extra).min(2)),
    };
    // One division by a power of ten: the double nearest the decimal reading, as the
    // target's number is read (97 / 1000 is 0.097; 9.7 / 100 is the double below it).
    let p = 10f64.powi(d as i32) * scale;
    (x * p).round() / p
}

/// The fewest decimals beyond [`show`]'s with which every figure of `evals` reads on the side
/// of the target that it lies on: two rows that both read `33.0%`, one meeting `>= 0.33` and
/// one not, read `33.00%` and `32.99%` instead (at most four more; money at most cents).
fn extra_decimals(u: Unit, target: &Target, evals: &[sibsim::design::solve::Evaluation]) -> usize {
    let most = match u {
        Unit::Money => 2,
        _ => 4,
    };
    (0..=most)
        .find(|&e| {
            evals.iter().all(|ev| {
                let x = ev.figure.value;
                let shown = shown_value(u, x, e);
                // A figure that reads as itself (291 of 3,000 trials as 9.7%) is on its side
                // whatever the floating-point rounding of the reading says.
                x.is_nan()
                    || (shown - x).abs() <= 1e-12 * x.abs()
                    || target.holds(shown) == ev.meets
            })
        })
        .unwrap_or(most)
}

/// A difference (or standard error) for people: percentage points for shares and rates.
pub fn show_diff(u: Unit, x: f64, signed: bool) -> String {
    if x.is_nan() {
        return "n/a".into();
    }
    let s = match u {
        Unit::Probability | Unit::Rate => fixed(x * 100.0, decimals(u)),
        Unit::Multiple => fixed(x, decimals(u)),
        Unit::Money => thousands(x),
    };
    if signed && !s.starts_with('-') {
        format!("+{s}")
    } else {
        s
    }
}

/// A standard error for people, as [`show_diff`] shows it; one that is not zero but reads as
/// zero at that precision reads `<0.1` (`<0.01`, `<1`), not `0.0`, which would claim no
/// uncertainty.
pub fn show_se(u: Unit, se: f64) -> String {
    let s = show_diff(u, se, false);
    if se > 0.0 && s.chars().all(|c| matches!(c, '0' | '.' | ',')) {
        match s.find('.') {
            Some(i) => format!("<0.{}1", "0".repeat(s.len() - i - 2)),
            None => "<1".into(),
        }
    } else {
        s
    }
}

fn fig(u: Unit, f: &Figure) -> String {
    fig_with(u, f, 0)
}

fn fig_with(u: Unit, f: &Figure, extra: usize) -> String {
    format!("{} ±{}", show_with(u, f.value, extra), show_se(u, f.se))
}

fn diff(u: Unit, f: &Figure) -> String {
    format!("{} ±{}", show_diff(u, f.value, true), show_se(u, f.se))
}

/// The comparison table: one row per figure, one column per variant.
pub fn render_comparison(c: &Comparison, o: &mut String) {
    render_comparison_with(c, o, |_| 0)
}

/// [`render_comparison`] with `extra(k)` decimals beyond [`show`]'s for figure `k`'s values
/// (`solve` reads its target figure as its search table does: `9.99%`, not `10.0%`).
fn render_comparison_with(c: &Comparison, o: &mut String, extra: impl Fn(usize) -> usize) {
    let mut head: Vec<String> = vec!["Figure".into()];
    for v in &c.variants {
        head.push(v.label.clone());
    }
    let h: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&h, 1);
    for (k, fi) in c.figures.iter().enumerate() {
        let mut row = vec![fi.name.clone()];
        let e = extra(k);
        for (i, v) in c.variants.iter().enumerate() {
            if i == 0 {
                row.push(fig_with(fi.unit, &v.figures[k], e));
            } else {
                row.push(format!(
                    "{} ({})",
                    show_with(fi.unit, v.figures[k].value, e),
                    diff(fi.unit, &v.diffs[k])
                ));
            }
        }
        t.row(row);
    }
    t.render(o);
    o.push_str(
        "\nBase: value ± Monte Carlo standard error. Others: value (difference to the base ± its standard\nerror on common random numbers); shares and rates in percentage points.\n",
    );
}

/// Notes for business-case figures among `figures` (none without one): that effects count
/// from each case's measurement, when the scenario says so (`[mkba] effect_from`; the default
/// goes unsaid, as in `simulate`), and which MKBA lines count the cases achieved of an outcome
/// paid on the improvement over a baseline (see `sibsim mkba`).
fn business_notes<'a>(c: &sibsim::Contract, mut figures: impl Iterator<Item = &'a str>) -> String {
    if !figures.any(|f| sibsim::metrics::is_business(f.split(':').next().unwrap_or(f))) {
        return String::new();
    }
    let mut o = String::new();
    if c.mkba()
        .as_ref()
        .is_some_and(|m| m.effect_from() == sibsim::mkba::EffectFrom::Measurement)
    {
        o.push_str("Business-case figures count each case's effect years from its planned measurement\n(mkba.effect_from).\n");
    }
    let ids = super::business::achieved_against_a_baseline_ids(c);
    if !ids.is_empty() {
        let note = format!(
            "Note: the MKBA {} `{}` {} the cases achieved of an outcome paid on the improvement over its baseline: a programme that does worse lowers the payments faster than the savings, so the payer's business case looks better (see `sibsim mkba`).",
            if ids.len() == 1 {
                "line of"
            } else {
                "lines of"
            },
            ids.join("`, `"),
            if ids.len() == 1 { "counts" } else { "count" }
        );
        for line in sibsim::chart::theme::wrap(&note, 100) {
            o.push_str(&line);
            o.push('\n');
        }
    }
    o
}

/// What a design command writes to `--out`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    /// `stress` and `solve`.
    Json,
    /// `sweep` and `tornado`.
    Csv,
}

/// Refuses, before a comparison runs, outputs that could not be written at its end: an `--out`
/// file (see [`io::check_output_file`]) or one whose name says the other format (`command`
/// writes `format`), and a `--charts` folder that cannot be made or take files (made now).
/// Returns the run's outputs, to stage the files in and commit at the end ([`finish`]).
fn check_outputs(
    command: &str,
    format: OutFormat,
    out: Option<&Path>,
    charts: Option<&Path>,
) -> Result<io::Outputs> {
    if let Some(p) = out {
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let (writes, ext_ok, other) = match format {
            OutFormat::Json => ("JSON", "json", "csv"),
            OutFormat::Csv => ("CSV", "csv", "json"),
        };
        if ext.as_deref() == Some(other) {
            return Err(CliError(format!(
                "--out {}: `{command}` writes {writes}, not {}; name the file .{ext_ok} (stress and solve write JSON, sweep and tornado CSV)",
                p.display(),
                other.to_ascii_uppercase()
            )));
        }
        io::check_output_file(p)?;
    }
    let mut outputs = io::Outputs::default();
    if let Some(d) = charts {
        if d.exists() && !d.is_dir() {
            return Err(CliError(format!(
                "--charts {}: it is a file, not a folder; give the name of a folder",
                d.display()
            )));
        }
        outputs.folder(d, "the chart folder")?;
    }
    Ok(outputs)
}

fn stage_json<T: serde::Serialize>(
    out: Option<&Path>,
    v: &T,
    outputs: &mut io::Outputs,
) -> Result<()> {
    if let Some(p) = out {
        let json = serde_json::to_string_pretty(v)
            .map_err(|e| CliError(format!("cannot serialise the results: {e}")))?;
        outputs.stage(p, (json + "\n").as_bytes())?;
    }
    Ok(())
}

/// Ends a command: puts its staged `outputs` in place, then prints `screen` and, once they
/// are, `written` (the lines saying where they went). When `staged` failed or the files
/// cannot be put in place, the screen is printed all the same (the results are not lost)
/// and the error follows.
fn finish(screen: &str, written: &str, staged: Result<()>, outputs: io::Outputs) -> Result<()> {
    match io::put_in_place(outputs, staged) {
        Ok(()) => io::emit(None, &format!("{screen}{written}")),
        Err(e) => {
            io::emit(None, screen)?;
            Err(CliError(format!("{} (the results are shown above)", e.0)))
        }
    }
}

/// `sibsim stress`.
pub fn stress(
    c: &Common<'_>,
    only: &[String],
    no_defaults: bool,
    metrics: &[String],
    out: Option<&Path>,
    charts: Option<&Path>,
) -> Result<()> {
    let l = Loaded::new(c)?;
    let mut outputs = check_outputs("stress", OutFormat::Json, out, charts)?;
    let src = l.source();
    let (sc, model) = src.load(&Variant::base())?;
    super::model_notes(&model, &sc.contract);
    // The file's own stresses must make valid scenarios (a default that does not fit is
    // skipped with its reason instead).
    sibsim::design::stress::check_file_stresses(&sc, src.file, &l.text, src.base)?;
    let mut variants = sibsim::design::stress::stresses(&sc, &l.text, !no_defaults);
    if !only.is_empty() {
        for name in only {
            if !variants.iter().any(|v| &v.label == name) {
                return Err(CliError(unknown_stress(
                    name,
                    &variants,
                    no_defaults.then(|| sibsim::design::stress::defaults(&sc, &l.text)),
                )));
            }
        }
        // In the order asked for, each once.
        let mut picked: Vec<Variant> = Vec::with_capacity(only.len());
        for name in only {
            if !picked.iter().any(|v| &v.label == name)
                && let Some(i) = variants.iter().position(|v| &v.label == name)
            {
                picked.push(variants.swap_remove(i));
            }
        }
        variants = picked;
    }
    if variants.is_empty() {
        return Err(CliError(
            "no stresses to run: the scenario defines none and --no-defaults leaves out the defaults".into(),
        ));
    }
    let figures = if metrics.is_empty() {
        sibsim::metrics::key_figures(&sc.contract)
    } else {
        // Each once, in the order given; an unknown one is refused before anything runs.
        let mut f: Vec<String> = Vec::new();
        for m in metrics {
            sibsim::metrics::parse(m, &sc.contract)?;
            if !f.contains(m) {
                f.push(m.clone());
            }
        }
        f
    };
    let kept = sibsim::design::runs_kept(variants.len(), l.cfg.threads);
    io::check_memory(
        sibsim::design::memory_needed(kept, figures.len(), l.cfg.trials),
        l.cfg.trials,
        kept as u64,
    )?;
    let total = (variants.len() as u64 + 1) * l.cfg.trials;
    let t0 = std::time::Instant::now();
    let cmp = with_progress(total, |p| {
        sibsim::design::compare_variants(&src, &variants, &figures, &l.cfg, p)
    })?;
    if cmp.variants.len() == 1 && !cmp.skipped.is_empty() {
        let why: Vec<String> = cmp
            .skipped
            .iter()
            .map(|(l, e)| format!("{l}: {e}"))
            .collect();
        return Err(CliError(format!(
            "no stress could be run on this scenario:\n{}",
            why.join("\n")
        )));
    }
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        provenance: Provenance,
        #[serde(flatten)]
        comparison: &'a Comparison,
    }
    let mut staged = stage_json(
        out,
        &Doc {
            provenance: Provenance::new(&l, &sc.contract),
            comparison: &cmp,
        },
        &mut outputs,
    );
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Stress test of {}: {} per variant, seed {}, common random numbers ({:.1} s)\n",
        sc.contract.name(),
        sibsim::chart::theme::count(cmp.trials, "trial", "trials"),
        cmp.seed,
        t0.elapsed().as_secs_f64()
    );
    render_comparison(&cmp, &mut o);
    o.push_str(&business_notes(
        &sc.contract,
        cmp.figures.iter().map(|f| f.name.as_str()),
    ));
    o.push_str("\nStresses\n");
    // Those that ran (a skipped one is listed with its reason by the comparison).
    for v in variants
        .iter()
        .filter(|v| !cmp.skipped.iter().any(|(l, _)| l == &v.label))
    {
        let _ = writeln!(
            o,
            "  {}: {} [{}]",
            v.label,
            v.description,
            v.overrides
                .iter()
                .map(|x| x.text.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    for (name, why) in &cmp.skipped {
        let _ = writeln!(
            o,
            "  {name}: skipped, the changed scenario is not valid:\n    {}",
            why.replace('\n', "\n    ")
        );
    }
    let mut written = String::new();
    if let Some(p) = out {
        let _ = writeln!(written, "Results written to {}", p.display());
    }
    if let (Some(dir), Ok(())) = (charts, &staged) {
        let mut n = 0;
        for ch in sibsim::chart::StressChart::from_design(&cmp, sc.contract.currency()) {
            match super::chart::write_one(&ch, dir, &mut outputs) {
                Ok(f) => n += f.len(),
                Err(e) => {
                    staged = Err(e);
                    break;
                }
            }
        }
        let _ = writeln!(written, "{n} chart files written to {}", dir.display());
    }
    finish(&o, &written, staged, outputs)
}

/// Why `--only NAME` names no stress among `variants`; `defaults` are the default stresses
/// when `--no-defaults` left them out.
fn unknown_stress(name: &str, variants: &[Variant], defaults: Option<Vec<Variant>>) -> String {
    let own: Vec<&str> = variants.iter().map(|v| v.label.as_str()).collect();
    let left_out = defaults
        .as_ref()
        .is_some_and(|d| d.iter().any(|v| v.label == name));
    let what = if left_out {
        format!("`{name}` is a default stress, and --no-defaults leaves the defaults out")
    } else {
        let hint = sibsim::scenario::overrides::nearest(
            name,
            own.iter()
                .copied()
                .chain(defaults.iter().flatten().map(|v| v.label.as_str())),
        )
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
        format!("there is no stress `{name}`{hint}")
    };
    match (own.is_empty(), defaults.is_some()) {
        (true, true) => format!(
            "--only {name}: {what}; the scenario defines no stresses of its own ([[stresses]]), so with --no-defaults there are none to run"
        ),
        (false, true) => format!(
            "--only {name}: {what}; the scenario's own stresses are {}",
            own.join(", ")
        ),
        _ => format!("--only {name}: {what}; the stresses are {}", own.join(", ")),
    }
}

fn default_figures(c: &sibsim::Contract) -> Vec<String> {
    let mut v: Vec<String> = c
        .tranches()
        .iter()
        .map(|t| format!("p_full_repayment:{}", t.id))
        .collect();
    v.push("payments_mean".into());
    v
}

/// `sibsim sweep`.
pub fn sweep(
    c: &Common<'_>,
    vary: &[String],
    figures: &[String],
    out: Option<&Path>,
    charts: Option<&Path>,
) -> Result<()> {
    let l = Loaded::new(c)?;
    let mut outputs = check_outputs("sweep", OutFormat::Csv, out, charts)?;
    let src = l.source();
    let vs: Vec<Vary> = vary
        .iter()
        .map(|s| Vary::parse(s).map_err(|e| CliError(format!("--vary {e}"))))
        .collect::<Result<_>>()?;
    if vs.is_empty() || vs.len() > 2 {
        return Err(CliError(format!(
            "give --vary once (a line) or twice (a grid); got it {} times",
            vs.len()
        )));
    }
    let (sc, model) = src.load(&Variant::base())?;
    super::model_notes(&model, &sc.contract);
    // A term both set and varied takes the sweep's values: say so, as the --set is then moot.
    for v in &vs {
        let varied = sibsim::scenario::overrides::path_text(&v.path);
        for o in src.base.iter().filter(|o| o.path == v.path) {
            eprintln!(
                "note: --set {} is replaced by --vary's values of `{varied}` at every point",
                o.text
            );
        }
    }
    let figures = if figures.is_empty() {
        default_figures(&sc.contract)
    } else {
        figures.to_vec()
    };
    let points: u64 = vs.iter().map(|v| v.values.len() as u64).product();
    let kept = sibsim::design::runs_kept(points as usize, l.cfg.threads);
    io::check_memory(
        sibsim::design::memory_needed(kept, figures.len(), l.cfg.trials),
        l.cfg.trials,
        kept as u64,
    )?;
    let t0 = std::time::Instant::now();
    let sw = with_progress(points * l.cfg.trials, |p| {
        sibsim::design::sweep::sweep(&src, &vs, &figures, &l.cfg, p)
    })?;
    // A sweep with no valid point has nothing to show: an error, with the first point's reason.
    if let Some(first) = sw.points.iter().find_map(|p| p.error.as_deref())
        && sw.points.iter().all(|p| p.error.is_some())
    {
        return Err(CliError(format!(
            "no point of the sweep is a valid scenario, so nothing was written; the first:\n{first}"
        )));
    }
    let mut staged = match out {
        Some(p) => outputs.stage(p, sw.to_csv().as_bytes()),
        None => Ok(()),
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Sweep of {}: {}, {} each, seed {}, common random numbers ({:.1} s)\n",
        sc.contract.name(),
        sibsim::chart::theme::count(sw.points.len() as u64, "point", "points"),
        sibsim::chart::theme::count(sw.trials, "trial", "trials"),
        sw.seed,
        t0.elapsed().as_secs_f64()
    );
    render_sweep(&sw, &mut o);
    for a in sw.axes.iter().filter(|a| a.values.len() < a.requested) {
        let takes = match a.decimals {
            0 => "whole numbers".to_string(),
            1 => "one decimal".to_string(),
            d => format!("{d} decimals"),
        };
        let _ = writeln!(
            o,
            "Note: `{}` takes {takes}, so the {} values asked for round to {} distinct ones ({}); each ran once.",
            a.term,
            a.requested,
            a.values.len(),
            a.values
                .iter()
                .map(|x| num(*x))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // A figure the terms do not move at all (a cap that binds whatever the price, say).
    let valid: Vec<&sibsim::design::sweep::SweepPoint> =
        sw.points.iter().filter(|p| p.error.is_none()).collect();
    for (k, f) in sw.figures.iter().enumerate() {
        if valid.len() > 1
            && valid
                .iter()
                .all(|p| p.figures[k].value == valid[0].figures[k].value)
        {
            o.push_str(&super::simulate::wrap(&format!(
                "Note: {f} is the same at every point: the terms swept do not move it. A percentile can sit where the term changes nothing (a P5 above the trials the term affects), a term can act on trials the figure does not count, or a cap can bind (`sibsim validate` shows where one does); a mean or a probability of the same figure may show the effect."
            )));
        }
    }
    o.push_str(&business_notes(
        &sc.contract,
        sw.figures.iter().map(String::as_str),
    ));
    let mut written = String::new();
    if let Some(p) = out {
        let _ = writeln!(written, "CSV written to {}", p.display());
    }
    if let (Some(dir), Ok(())) = (charts, &staged) {
        let cur = &sc.contract.currency();
        for k in 0..sw.figures.len() {
            let files = match (
                sibsim::chart::Sweep::from_design(&sw, k, cur),
                sibsim::chart::Heatmap::from_design(&sw, k, cur),
            ) {
                (Some(line), _) => super::chart::write_one(&line, dir, &mut outputs),
                (None, Some(map)) => super::chart::write_one(&map, dir, &mut outputs),
                (None, None) => Ok(Vec::new()),
            };
            match files {
                Ok(files) => {
                    for f in files {
                        let _ = writeln!(written, "Chart written to {}", f.display());
                    }
                }
                Err(e) => {
                    staged = Err(e);
                    break;
                }
            }
        }
    }
    finish(&o, &written, staged, outputs)
}

fn render_sweep(sw: &Sweep, o: &mut String) {
    let mut head: Vec<String> = sw.axes.iter().map(|a| a.term.clone()).collect();
    head.extend(sw.figures.iter().cloned());
    let h: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&h, 0);
    let mut errors = Vec::new();
    for p in &sw.points {
        let mut row: Vec<String> = p.at.iter().map(|x| format!("{x}")).collect();
        for (k, f) in p.figures.iter().enumerate() {
            row.push(if p.error.is_some() {
                "invalid".into()
            } else {
                fig(sw.units[k], f)
            });
        }
        if let Some(e) = &p.error {
            errors.push((row[..sw.axes.len()].join(", "), e.clone()));
        }
        t.row(row);
    }
    t.render(o);
    o.push_str("\nValue ± Monte Carlo standard error; every point on the same random numbers.\n");
    for (at, e) in errors {
        let _ = writeln!(o, "  at {at}: {}", e.replace('\n', "\n    "));
    }
}

/// Runs the sensitivity analysis of `figure` (with progress on a terminal); returns it with
/// the contract's currency and its [`business_notes`]. `notes`: show the model's notes
/// first (as `tornado` does; `report` has shown them for its own run).
pub fn compute_tornado(
    c: &Common<'_>,
    figure: &str,
    range: &str,
    notes: bool,
) -> Result<(sibsim::design::tornado::Tornado, String, String)> {
    let l = Loaded::new(c)?;
    let src = l.source();
    let range = parse_range(range)?;
    let (sc, model) = src.load(&Variant::base())?;
    if notes {
        super::model_notes(&model, &sc.contract);
    }
    let variants = sibsim::design::tornado::variant_count(&sc, &model, range);
    // The base, and each input's low and high run in flight (see `design::in_batches`).
    let kept = 1 + 2 * (sibsim::design::runs_kept(variants / 2, l.cfg.threads) - 1);
    io::check_memory(
        sibsim::design::memory_needed(kept, 1, l.cfg.trials),
        l.cfg.trials,
        kept as u64,
    )?;
    let tor = with_progress(0, |p| {
        sibsim::design::tornado::tornado(&src, figure, range, &l.cfg, p)
    })?;
    let note = business_notes(&sc.contract, std::iter::once(figure));
    Ok((tor, sc.contract.currency().to_string(), note))
}

/// `sibsim tornado`.
pub fn tornado(
    c: &Common<'_>,
    figure: &str,
    range: &str,
    out: Option<&Path>,
    charts: Option<&Path>,
) -> Result<()> {
    io::note_input(c.scenario);
    let mut outputs = check_outputs("tornado", OutFormat::Csv, out, charts)?;
    let t0 = std::time::Instant::now();
    let (tor, currency, note) = compute_tornado(c, figure, range, true)?;
    let mut staged = match out {
        Some(p) => outputs.stage(p, tornado_csv(&tor).as_bytes()),
        None => Ok(()),
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Sensitivity of {} ({}): {} per run, seed {}, common random numbers ({:.1} s)",
        tor.figure,
        match tor.range {
            Range::Percentiles => "each input fixed at its P10 and P90".to_string(),
            Range::Percent(p) => format!("each input's mean moved by -/+{}%", p * 100.0),
        },
        sibsim::chart::theme::count(tor.trials, "trial", "trials"),
        tor.seed,
        t0.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        o,
        "Base (all inputs uncertain): {}\n",
        fig(tor.unit, &tor.base)
    );
    let mut t = Table::new(
        &[
            "Input",
            "Low",
            "High",
            "Figure at low (diff)",
            "Figure at high (diff)",
            "Swing",
        ],
        1,
    );
    for b in &tor.bars {
        t.row(vec![
            b.input.clone(),
            b.kind.show(b.low_input, &currency),
            b.kind.show(b.high_input, &currency),
            format!(
                "{} ({})",
                show(tor.unit, b.at_low.value),
                diff(tor.unit, &b.low_diff)
            ),
            format!(
                "{} ({})",
                show(tor.unit, b.at_high.value),
                diff(tor.unit, &b.high_diff)
            ),
            format!(
                "{} ±{}",
                show_diff(tor.unit, b.swing.value, false),
                show_se(tor.unit, b.swing.se)
            ),
        ]);
    }
    t.render(&mut o);
    o.push_str("\nRanked by swing (|figure at high - figure at low|); differences to the base and swings ± standard\nerror on common random numbers; shares and rates in percentage points.\n");
    o.push_str(&note);
    for (name, why) in &tor.skipped {
        let _ = writeln!(o, "  {name}: skipped: {}", why.replace('\n', "\n    "));
    }
    let mut written = String::new();
    if let Some(p) = out {
        let _ = writeln!(written, "CSV written to {}", p.display());
    }
    if let (Some(dir), Ok(())) = (charts, &staged) {
        let ch = sibsim::chart::Tornado::from_design(&tor, &currency);
        match super::chart::write_one(&ch, dir, &mut outputs) {
            Ok(files) => {
                for f in files {
                    let _ = writeln!(written, "Chart written to {}", f.display());
                }
            }
            Err(e) => staged = Err(e),
        }
    }
    finish(&o, &written, staged, outputs)
}

fn parse_range(s: &str) -> Result<Range> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("p10-p90") || s.eq_ignore_ascii_case("p10:p90") {
        return Ok(Range::Percentiles);
    }
    let num = s.strip_suffix('%').unwrap_or(s).trim();
    match num.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 100.0 && s.ends_with('%') => Ok(Range::Percent(p / 100.0)),
        _ => Err(CliError(format!(
            "--range {s}: write p10-p90 (each input at its P10 and P90) or a percentage above 0% and below 100%, such as 20% (each mean moved down and up by it)"
        ))),
    }
}

fn tornado_csv(t: &Tornado) -> String {
    let mut s = String::from(
        "input,path,low_input,high_input,at_low,at_low_se,at_high,at_high_se,low_diff,low_diff_se,high_diff,high_diff_se,swing,swing_se,base,base_se\n",
    );
    for b in &t.bars {
        // The input's name and its path hold ids, which may hold a comma or a quote.
        // Numbers as the sweep's CSV writes them (six decimals, not a float's last digits).
        let n = sibsim::design::sweep::num;
        s.push_str(&sibsim::statement::csv_record([
            b.input.clone(),
            b.path.clone(),
            n(b.low_input),
            n(b.high_input),
            n(b.at_low.value),
            n(b.at_low.se),
            n(b.at_high.value),
            n(b.at_high.se),
            n(b.low_diff.value),
            n(b.low_diff.se),
            n(b.high_diff.value),
            n(b.high_diff.se),
            n(b.swing.value),
            n(b.swing.se),
            n(t.base.value),
            n(t.base.se),
        ]));
    }
    s
}

/// `sibsim solve`.
pub fn solve(
    c: &Common<'_>,
    term: &str,
    target: &str,
    bounds: Option<&str>,
    step: Option<f64>,
    out: Option<&Path>,
) -> Result<bool> {
    let l = Loaded::new(c)?;
    let mut outputs = check_outputs("solve", OutFormat::Json, out, None)?;
    let src = l.source();
    let target = Target::parse(target).map_err(|e| CliError(format!("--target: {e}")))?;
    // At most the answer and the scenario as it is, on the target and the key figures.
    let (sc, model) = src.load(&Variant::base())?;
    super::model_notes(&model, &sc.contract);
    let n_figures = 1 + sibsim::metrics::key_figures(&sc.contract).len();
    io::check_memory(
        sibsim::design::memory_needed(2, n_figures, l.cfg.trials),
        l.cfg.trials,
        2,
    )?;
    let bounds = match bounds {
        None => None,
        Some(b) => {
            let parts: Vec<&str> = b.split(':').collect();
            let [lo, hi] = parts.as_slice() else {
                return Err(CliError(format!(
                    "--bounds {b}: write LO:HI, e.g. --bounds 800000:1500000"
                )));
            };
            // Each bound is a value of the term: a number the scenario could hold.
            let bound = |which: &str, p: &str| -> Result<f64> {
                use sibsim::money::{LARGEST_NUMBERS, LARGEST_VALUE, NumberProblem, parse_number};
                let largest = rust_decimal::Decimal::from(LARGEST_VALUE);
                let problem = match parse_number(p) {
                    Ok(d) if d.abs() <= largest => {
                        return Ok(
                            rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN)
                        );
                    }
                    Ok(_) => NumberProblem::TooLarge,
                    Err(e) => e,
                };
                Err(CliError(if problem == NumberProblem::TooLarge {
                    format!(
                        "--bounds {b}: the {which} bound `{}` is out of range for `{term}`; a bound is a value of the term: {LARGEST_NUMBERS}",
                        p.trim()
                    )
                } else {
                    format!(
                        "--bounds {b}: the {which} bound `{}` {}; write LO:HI, e.g. --bounds 800000:1500000",
                        p.trim(),
                        problem.words("")
                    )
                }))
            };
            Some((bound("lower", lo)?, bound("upper", hi)?))
        }
    };
    let t0 = std::time::Instant::now();
    let sol = with_progress(0, |p| {
        sibsim::design::solve::solve(
            &src,
            term,
            &target,
            &SolveConfig { bounds, step },
            &l.cfg,
            p,
        )
    })?;
    // Key figures at the answer against the scenario as it is.
    let mut figures = vec![target.figure.clone()];
    for f in sibsim::metrics::key_figures(&sc.contract) {
        if !figures.contains(&f) {
            figures.push(f);
        }
    }
    let at = match sol.answer {
        Answer::Found { value, .. } | Answer::Inside { value } => Some(value),
        _ => None,
    };
    let cmp = match at {
        Some(x) => {
            let path = sibsim::scenario::overrides::parse_path(term).map_err(|e| CliError(e.0))?;
            let d = rust_decimal::Decimal::try_from(x)
                .map_err(|_| CliError("the answer is out of range".into()))?;
            let v = Variant {
                label: "with answer".into(),
                description: String::new(),
                overrides: vec![Override::number(&path, d).by("the answer")],
            };
            Some(sibsim::design::compare_variants(
                &src,
                &[v],
                &figures,
                &l.cfg,
                None,
            )?)
        }
        None => None,
    };
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        provenance: Provenance,
        solution: &'a Solution,
        comparison: &'a Option<Comparison>,
    }
    let staged = stage_json(
        out,
        &Doc {
            provenance: Provenance::new(&l, &sc.contract),
            solution: &sol,
            comparison: &cmp,
        },
        &mut outputs,
    );
    let unit = sibsim::metrics::parse(&target.figure, &sc.contract)?.unit();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Solve {} (now {}) for {} within [{}, {}], step {}: {} per evaluation, seed {},\ncommon random numbers ({:.1} s)\n",
        sol.term,
        sol.current.map_or("not set".to_string(), num),
        sol.target,
        num(sol.lo),
        num(sol.hi),
        num(sol.step),
        sibsim::chart::theme::count(sol.trials, "trial", "trials"),
        sol.seed,
        t0.elapsed().as_secs_f64()
    );
    for (was, is, why) in &sol.moved_bounds {
        o.push_str(&super::simulate::wrap(&format!(
            "The default bound {} is refused by the scenario ({why}), so the search {} at {}; give --bounds LO:HI (and change what refuses it with --set) to search further.",
            num(*was),
            if is > was { "starts" } else { "ends" },
            num(*is)
        )));
    }
    if !sol.moved_bounds.is_empty() {
        o.push('\n');
    }
    // Enough decimals that each figure reads on its side of the target.
    let extra = extra_decimals(unit, &target, &sol.evaluations);
    let mut t = Table::new(&["Value", &target.figure, "Meets target"], 0);
    for e in &sol.evaluations {
        t.row(vec![
            num(e.value),
            fig_with(unit, &e.figure, extra),
            if e.meets { "yes" } else { "no" }.into(),
        ]);
    }
    t.render(&mut o);
    o.push('\n');
    match &sol.answer {
        Answer::Found { value, holds_above } => {
            let e = sol.evaluations.iter().find(|e| e.value == *value);
            let _ = writeln!(
                o,
                "Answer: {} = {}. The target holds for {} {} {} within the bounds{}.",
                sol.term,
                num(*value),
                sol.term,
                if *holds_above { ">=" } else { "<=" },
                num(*value),
                e.map(|e| format!(
                    "; there {} = {}",
                    target.figure,
                    fig_with(unit, &e.figure, extra)
                ))
                .unwrap_or_default()
            );
        }
        Answer::Inside { value } => {
            o.push_str(&super::simulate::wrap(&format!(
                "The target holds at {} = {} but at neither bound: the figure does not move one way with {}, so no side of it meets the target throughout; look at the table above or run a sweep.",
                sol.term,
                num(*value),
                sol.term
            )));
        }
        Answer::FailsInside { value } => {
            o.push_str(&super::simulate::wrap(&format!(
                "The target holds at both bounds but not at {} = {}: the figure does not move one way with {}, so the bounds are not where it stops holding; look at the table above or run a sweep.",
                sol.term,
                num(*value),
                sol.term
            )));
        }
        Answer::AllMeet => {
            let _ = writeln!(
                o,
                "Every value of {} in [{}, {}] meets the target; the boundary lies outside the bounds.",
                sol.term,
                num(sol.lo),
                num(sol.hi)
            );
        }
        Answer::NoneMeet => {
            let _ = writeln!(
                o,
                "No value of {} in [{}, {}] meets the target {} (the {} values tried above).",
                sol.term,
                num(sol.lo),
                num(sol.hi),
                sol.target,
                sol.evaluations.len()
            );
        }
    }
    let flat = sol.evaluations.len() > 1
        && sol
            .evaluations
            .iter()
            .all(|e| e.figure.value == sol.evaluations[0].figure.value);
    if flat {
        o.push_str(&super::simulate::wrap(&format!(
            "Note: the figure is the same at every value of {} tried: the term does not move it over [{}, {}]. A percentile can sit where the term changes nothing (a P5 above the trials the term affects), a term can act on trials the figure does not count, or a cap can bind (`sibsim validate` shows where one does); a mean or a probability of the same figure may show the effect.",
            sol.term,
            num(sol.lo),
            num(sol.hi)
        )));
    } else if !sol.monotone
        && !matches!(
            sol.answer,
            Answer::Inside { .. } | Answer::FailsInside { .. }
        )
    {
        o.push_str("Warning: the figure did not move in one direction with the term over the values tried, so\nthe answer may not be the only boundary; look at the table above or run a sweep.\n");
    }
    if let Some(cmp) = &cmp {
        let _ = writeln!(
            o,
            "\nKey figures at the answer compared with the scenario {} ({} = {}):",
            if c.set.is_empty() {
                "as it is"
            } else {
                "with its --set changes"
            },
            sol.term,
            sol.current.map_or("not set".to_string(), num)
        );
        // The target figure (the first) with the search table's decimals.
        render_comparison_with(cmp, &mut o, |k| if k == 0 { extra } else { 0 });
    }
    o.push_str(&business_notes(
        &sc.contract,
        figures.iter().map(String::as_str),
    ));
    let mut written = String::new();
    if let Some(p) = out {
        let _ = writeln!(written, "Results written to {}", p.display());
    }
    finish(&o, &written, staged, outputs)?;
    Ok(!matches!(sol.answer, Answer::NoneMeet))
}

/// A term's value: up to six decimals, thousands separated (`1,626.7`, `708,000`, `0.0525`).
fn num(x: f64) -> String {
    sibsim::chart::theme::number(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sibsim::design::solve::Evaluation;

    /// A standard error that is not zero never reads as zero: a finance officer would take
    /// `±0.00` for a figure without uncertainty.
    #[test]
    fn a_small_standard_error_reads_as_less_than_the_last_digit() {
        assert_eq!(show_se(Unit::Multiple, 0.003), "<0.01");
        assert_eq!(show_se(Unit::Probability, 0.0004), "<0.1");
        assert_eq!(show_se(Unit::Rate, 0.00003), "<0.01");
        assert_eq!(show_se(Unit::Money, 0.3), "<1");
        assert_eq!(show_se(Unit::Probability, 0.0), "0.0");
        assert_eq!(show_se(Unit::Multiple, 0.013), "0.01");
        assert_eq!(show_se(Unit::Money, 1234.0), "1,234");
    }

    #[test]
    fn no_negative_zero_is_printed() {
        assert_eq!(show_diff(Unit::Rate, -1e-7, true), "+0.00");
        assert_eq!(show_diff(Unit::Probability, -1e-6, false), "0.0");
        assert_eq!(show(Unit::Rate, -1e-7), "0.00%");
        assert_eq!(show_diff(Unit::Rate, -0.0001, true), "-0.01");
        assert_eq!(show_diff(Unit::Money, -0.4, true), "+0");
        assert_eq!(show_with(Unit::Money, -0.001, 2), "0.00");
        assert_eq!(show_with(Unit::Money, -1234.567, 2), "-1,234.57");
    }

    #[test]
    fn a_probability_not_0_or_1_never_reads_as_either() {
        assert_eq!(show_with(Unit::Probability, 0.0004, 0), "<0.1%");
        assert_eq!(show_with(Unit::Probability, 0.0004, 1), "0.04%");
        assert_eq!(show_with(Unit::Probability, 0.99996, 0), ">99.9%");
        assert_eq!(show_with(Unit::Probability, 0.9995, 0), ">99.9%");
        assert_eq!(show_with(Unit::Probability, 0.0, 0), "0.0%");
        assert_eq!(show_with(Unit::Probability, 1.0, 0), "100.0%");
        assert_eq!(show_with(Unit::Probability, 0.5, 0), "50.0%");
    }

    fn eval(value: f64, t: &Target) -> Evaluation {
        Evaluation {
            value: 0.0,
            figure: Figure { value, se: 0.01 },
            meets: t.holds(value),
        }
    }

    #[test]
    fn figures_either_side_of_the_target_read_differently() {
        let t = Target::parse("p_full_repayment:junior >= 0.33").unwrap();
        let evals = [eval(0.3300, &t), eval(0.32995, &t), eval(0.35, &t)];
        let e = extra_decimals(Unit::Probability, &t, &evals);
        assert_eq!(e, 2);
        assert_eq!(show_with(Unit::Probability, 0.3300, e), "33.000%");
        assert_eq!(show_with(Unit::Probability, 0.32995, e), "32.995%");
        // Far from the target, no more decimals than usual.
        let far = [eval(0.30, &t), eval(0.36, &t)];
        assert_eq!(extra_decimals(Unit::Probability, &t, &far), 0);
        // Money: at most cents.
        let m = Target::parse("net_mean:x > 12000").unwrap();
        let close = [eval(12000.004, &m), eval(11999.6, &m)];
        assert_eq!(extra_decimals(Unit::Money, &m, &close), 2);
        assert_eq!(show_with(Unit::Money, 11999.6, 2), "11,999.60");
    }

    #[test]
    fn a_figure_exactly_at_the_target_needs_no_more_decimals() {
        // 291 of 3,000 trials is 9.7% exactly: its reading need not tell it from the target,
        // only 292 (9.73%) must not read as 9.7% under `<=`. Before, the floating-point
        // reading of 9.7% missed the target by a rounding and every row took 4 more decimals.
        let (at, above) = (291.0 / 3000.0, 292.0 / 3000.0);
        for (target, extra) in [
            ("p_full_repayment:junior <= 9.7%", 1),
            ("p_full_repayment:junior < 9.7%", 0),
            ("p_full_repayment:junior >= 9.7%", 0),
        ] {
            let t = Target::parse(target).unwrap();
            let evals = [eval(at, &t), eval(above, &t), eval(0.05, &t)];
            assert_eq!(
                extra_decimals(Unit::Probability, &t, &evals),
                extra,
                "{target}"
            );
        }
        assert_eq!(show_with(Unit::Probability, at, 1), "9.70%");
        assert_eq!(show_with(Unit::Probability, above, 1), "9.73%");
    }
}
