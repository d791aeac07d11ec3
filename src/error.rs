//! Typed errors of the library. Every user-facing problem is a [`Diagnostic`] that says where
//! (file, line, column, field path), what is wrong and what is allowed.

use std::fmt;

/// One problem found in a user's file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Field path such as `outcomes[2].payers.rotterdam` or `row 14, column units`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic without a position yet.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            line: None,
            column: None,
            path: path.into(),
            message: message.into(),
        }
    }
    /// The same diagnostic at a position.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

/// The message of the last item of a [`Diagnostics`] that stopped listing problems: more were
/// found than are shown. It is not counted as a problem.
pub const MORE_PROBLEMS: &str = "stopped here: there are more problems; fix these and run again";

/// A list of identifiers for a message: all of them, comma separated, when there are at most
/// 12; otherwise the first 10 and how many there are in all (`c1, c2, ..., c10 (10,000
/// cohorts)`), so a message about one unknown id in a large contract stays one line.
pub fn id_list<T: fmt::Display>(ids: &[T], plural_noun: &str) -> String {
    const SHORT: usize = 12;
    const SHOWN: usize = 10;
    let shown = if ids.len() <= SHORT { ids.len() } else { SHOWN };
    let mut out = String::new();
    for (i, id) in ids[..shown].iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&id.to_string());
    }
    if ids.len() > shown {
        out.push_str(&format!(
            ", ... ({} {plural_noun})",
            crate::chart::theme::thousands(ids.len() as f64)
        ));
    }
    out
}

/// All problems found in one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostics {
    /// The file's name as the user gave it.
    pub file: String,
    /// The problems, in file order where positions are known.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Sorts by position (unknown positions last) and returns self.
    pub fn sorted(mut self) -> Self {
        self.items
            .sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(0)));
        self
    }
}

/// One problem on its own: `LINE:COLUMN: PATH: MESSAGE`, as [`Diagnostics`] lists it after
/// the file's name (the parts it has).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: ")?,
            (Some(l), None) => write!(f, "{l}: ")?,
            _ => {}
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for Diagnostic {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = self.items.iter().any(|d| d.message == MORE_PROBLEMS);
        let n = self.items.len() - usize::from(more);
        if more {
            writeln!(
                f,
                "{} has more than {n} problems; the first {n}:",
                self.file
            )?;
        } else {
            writeln!(
                f,
                "{} has {} problem{}:",
                self.file,
                n,
                if n == 1 { "" } else { "s" }
            )?;
        }
        for d in &self.items {
            match (d.line, d.column) {
                (Some(l), Some(c)) => write!(f, "  {}:{}:{}: ", self.file, l, c)?,
                (Some(l), None) => write!(f, "  {}:{}: ", self.file, l)?,
                _ => write!(f, "  {}: ", self.file)?,
            }
            if d.path.is_empty() {
                writeln!(f, "{}", d.message)?;
            } else {
                writeln!(f, "{}: {}", d.path, d.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Why a settlement could not be computed from otherwise valid inputs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// A baseline the rule needs was neither in the contract nor in the actuals.
    #[error(
        "outcome `{outcome}`, cohort `{cohort}`, period {period}: the rule pays against a baseline but no baseline value was given; report it in the `baseline` column of that period's row for the outcome and cohort (add the row if there is none)"
    )]
    MissingBaseline {
        /// Outcome id.
        outcome: String,
        /// Cohort id.
        cohort: String,
        /// Measurement period.
        period: u16,
    },
    /// An amount grew beyond what the engine settles exactly (see [`crate::settlement::LIMIT`]).
    #[error(
        "period {period}: {what}; amounts this large are not supported, check the prices, quantities, enrolment and rates for a typo, and whether a rate compounds over too many periods"
    )]
    TooLarge {
        /// What grew too large, and past which limit.
        what: String,
        /// The period in which it did.
        period: u16,
    },
    /// A settlement reached a measurement of a `decrease` outcome after the last period the
    /// actuals report on, where a missing row would pay the whole baseline.
    #[error(
        "outcome `{outcome}`, cohort `{cohort}` is measured in period {period}, {}; settling that far would pay its whole baseline for the missing row: report the units measured then (0 only if the measurement found none), or settle through an earlier period",
        after_reported(*.reported)
    )]
    Unreported {
        /// Outcome id.
        outcome: String,
        /// Cohort id.
        cohort: String,
        /// The unreported measurement period.
        period: u16,
        /// The last period the actuals report on.
        reported: u16,
    },
    /// The actuals were built for a different contract shape.
    #[error("the actuals do not match the contract ({0})")]
    Shape(String),
}

/// Where a measurement falls against the actuals: "after period 6, the last the actuals
/// report on", or, for a file with no rows yet, that it reports none.
fn after_reported(reported: u16) -> String {
    if reported == 0 {
        "and the actuals report no period yet".into()
    } else {
        format!("after period {reported}, the last the actuals report on")
    }
}

#[cfg(test)]
mod id_list_tests {
    use super::id_list;

    /// A problem shows on its own as its place, field and message.
    #[test]
    fn a_diagnostic_displays_its_place_field_and_message() {
        let d = super::Diagnostic::new("outcomes[0].lag", "must be at least 0");
        assert_eq!(d.to_string(), "outcomes[0].lag: must be at least 0");
        assert_eq!(
            d.clone().at(7, 3).to_string(),
            "7:3: outcomes[0].lag: must be at least 0"
        );
        assert_eq!(
            super::Diagnostic::new("", "not valid TOML").to_string(),
            "not valid TOML"
        );
        let e: Box<dyn std::error::Error> = Box::new(d);
        assert!(e.to_string().ends_with("must be at least 0"));
    }

    #[test]
    fn short_lists_are_whole_long_ones_cut_to_ten() {
        let ids: Vec<String> = (1..=12).map(|i| format!("c{i}")).collect();
        assert_eq!(id_list(&ids, "cohorts"), ids.join(", "));
        assert_eq!(id_list(&ids[..1], "cohorts"), "c1");
        assert_eq!(id_list::<String>(&[], "cohorts"), "");
        let ids: Vec<String> = (1..=10_000).map(|i| format!("c{i}")).collect();
        assert_eq!(
            id_list(&ids, "cohorts"),
            "c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, ... (10,000 cohorts)"
        );
        let ids: Vec<String> = (1..=13).map(|i| format!("`o{i}`")).collect();
        assert!(id_list(&ids, "outcomes").ends_with("`o10`, ... (13 outcomes)"));
    }
}
