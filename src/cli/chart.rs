//! `sibsim chart`: charts from a saved `summary.json` (no re-run), and the writer shared with
//! `simulate --charts`.

use super::{CliError, Result, io};
use clap::ValueEnum;
use sibsim::chart::{self, Format};
use sibsim::montecarlo::SummaryFile;
use std::path::{Path, PathBuf};

/// Which files to write per chart.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChartFormat {
    /// PNG and SVG.
    Both,
    /// PNG only.
    Png,
    /// SVG only.
    Svg,
}

impl ChartFormat {
    fn formats(self) -> &'static [Format] {
        match self {
            ChartFormat::Both => &[Format::Png, Format::Svg],
            ChartFormat::Png => &[Format::Png],
            ChartFormat::Svg => &[Format::Svg],
        }
    }
}

/// Renders every chart of `doc` for `dir` (a folder of `outputs`) and stages them there; returns
/// the files they will be once `outputs` is committed.
pub fn write_charts(
    doc: &SummaryFile,
    dir: &Path,
    format: ChartFormat,
    outputs: &mut io::Outputs,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for &f in format.formats() {
        let charts = chart::simulation_charts(doc, &doc.scenario.period, f)
            .map_err(|e| CliError(e.to_string()))?;
        for c in charts {
            let path = dir.join(format!("{}.{}", c.name, f.ext()));
            outputs.stage(&path, &c.bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Runs `sibsim chart SUMMARY --out DIR`.
pub fn run(summary: &Path, out: &Path, format: ChartFormat) -> Result<()> {
    let text = io::read_text(summary)?;
    let doc = SummaryFile::from_json(&summary.display().to_string(), &text).map_err(CliError)?;
    let mut outputs = io::Outputs::default();
    outputs.folder(out, "the chart folder")?;
    let written = write_charts(&doc, out, format, &mut outputs)?;
    outputs.commit()?;
    io::say!(
        "{} of {} ({}, seed {}) written to {}:",
        sibsim::chart::theme::count(written.len() as u64, "chart file", "chart files"),
        doc.scenario.name,
        sibsim::chart::theme::count(doc.trials, "trial", "trials"),
        doc.seed,
        out.display()
    );
    for p in written {
        io::say!("  {}", p.display());
    }
    Ok(())
}

/// Renders one chart as PNG and SVG for `dir` (a folder of `outputs`) and stages them there;
/// returns the files they will be once `outputs` is committed.
pub fn write_one<C: chart::Chart>(
    c: &C,
    dir: &Path,
    outputs: &mut io::Outputs,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in [Format::Png, Format::Svg] {
        let r = chart::render(c, f).map_err(|e| CliError(e.to_string()))?;
        let path = dir.join(format!("{}.{}", r.name, f.ext()));
        outputs.stage(&path, &r.bytes)?;
        written.push(path);
    }
    Ok(written)
}
