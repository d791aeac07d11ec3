//! Reported outcomes: what the assessor measured (or what a Monte Carlo trial drew).
//!
//! [`Actuals`] is the settlement engine's input besides the contract. It is a dense, reusable
//! table (no allocation once sized), so the same type carries real reported outcomes from a CSV
//! file and every simulated trial.
//!
//! Per-participant outcomes (those under the per-participant cap) are held as **participant
//! classes**: participants of one cohort with the same achievements in the same periods are
//! settled identically, so they are stored once with a count. This is exact, not an
//! approximation: each participant's payment is computed and rounded on its own, then
//! multiplied by the number of identical participants.

use crate::contract::{Baseline, Contract, OutcomeKind};
use crate::error::{Diagnostic, Diagnostics};
use crate::money::{Price, Qty, Ratio};
use std::collections::HashMap;

/// A group of identical participants of one cohort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantClass {
    /// Cohort index.
    pub cohort: u16,
    /// Number of participants in the class.
    pub count: u32,
    /// Range into the actuals' event table: (period, outcome) events sorted by period, then
    /// outcome. See [`Actuals::class_events`] for this class's achievements.
    pub events: std::ops::Range<u32>,
    /// Which events of the range the class achieved: bit `j` for event `j` of the range;
    /// [`ALL_EVENTS`] for all of them (the only form when the range is longer than 64). Classes
    /// of one cohort drawn together share one range of possible events and differ by mask.
    pub mask: u64,
}

/// [`ParticipantClass::mask`] of a class that achieved every event of its range.
pub const ALL_EVENTS: u64 = u64::MAX;

/// Outcomes reported per period, cohort and outcome, plus per-participant classes.
#[derive(Clone, Debug)]
pub struct Actuals {
    n_outcomes: usize,
    n_cohorts: usize,
    n_periods: usize,
    /// Realised enrolment per cohort.
    pub(crate) enrolled: Vec<u32>,
    /// Whether a file reported each cohort's enrolment (an `enrolled` row); a cohort without
    /// one enrolled its target. All false for actuals built in code.
    pub(crate) enrolment_reported: Vec<bool>,
    /// The last period the reported actuals cover: the largest period of any row of the file
    /// (0 for a file without rows). Actuals built in code, such as a simulated trial, cover
    /// every period (`u16::MAX`). A settlement never measures a `decrease` outcome after it
    /// (see [`crate::error::SettleError::Unreported`]).
    pub(crate) reported_through: u16,
    /// The number of rows of the file per period (index 0 unused), enrolment rows included;
    /// empty for actuals built in code. Only for notes on what a settlement leaves out.
    pub(crate) rows_by_period: Vec<u32>,
    /// Values read as written that may be meant otherwise (`6.300` read as 6.3 where the point
    /// may separate thousands), at their line and column: for notes; empty for actuals built
    /// in code.
    pub(crate) doubtful: Vec<Diagnostic>,
    /// Measurements of `increase` outcomes (per cohort) in periods up to the last one reported
    /// that have no row, as (outcome, cohort, period): they count as 0 units. For notes; empty
    /// for actuals built in code.
    pub(crate) unreported: Vec<(u16, u16, u16)>,
    /// Overrides the contract's cost per participant (a simulated cost draw); `None` in real
    /// actuals.
    pub(crate) cost_per_participant: Option<Price>,
    units: Vec<Qty>,
    baseline: Vec<Option<Qty>>,
    /// Cells of `units` written since the last clear, while fewer than `units.len() / 8`
    /// (`None`: too many, clear all). Clearing only these keeps a Monte Carlo trial's reset
    /// proportional to what it drew.
    units_touched: Option<Vec<u32>>,
    /// Whether any baseline was set since the last clear.
    any_baseline: bool,
    classes: Vec<ParticipantClass>,
    /// Sum over classes of participants x possible events (a bound the settlement uses).
    participant_events: u128,
    events: Vec<(u16, u16)>,
}

impl Actuals {
    /// Empty actuals for a contract: nothing achieved, enrolment at target.
    pub fn new(contract: &Contract) -> Self {
        let n_outcomes = contract.outcomes.len();
        let n_cohorts = contract.cohorts.len();
        let n_periods = contract.periods as usize + 1;
        let cells = n_outcomes * n_cohorts * n_periods;
        Actuals {
            n_outcomes,
            n_cohorts,
            n_periods,
            enrolled: contract.cohorts.iter().map(|c| c.size).collect(),
            enrolment_reported: vec![false; n_cohorts],
            reported_through: u16::MAX,
            rows_by_period: Vec::new(),
            doubtful: Vec::new(),
            unreported: Vec::new(),
            cost_per_participant: None,
            units: vec![Qty::ZERO; cells],
            baseline: vec![None; cells],
            units_touched: Some(Vec::new()),
            any_baseline: false,
            classes: Vec::new(),
            participant_events: 0,
            events: Vec::new(),
        }
    }

    /// Resets to nothing achieved and enrolment at target, keeping the allocations.
    pub fn clear(&mut self, contract: &Contract) {
        for (e, c) in self.enrolled.iter_mut().zip(&contract.cohorts) {
            *e = c.size;
        }
        self.cost_per_participant = None;
        match &mut self.units_touched {
            Some(list) => {
                for &i in list.iter() {
                    self.units[i as usize] = Qty::ZERO;
                }
                list.clear();
            }
            None => {
                self.units.fill(Qty::ZERO);
                self.units_touched = Some(Vec::new());
            }
        }
        if self.any_baseline {
            self.baseline.fill(None);
            self.any_baseline = false;
        }
        self.classes.clear();
        self.participant_events = 0;
        self.events.clear();
    }

    /// Realised enrolment per cohort.
    pub fn enrolled(&self) -> &[u32] {
        &self.enrolled
    }

    /// Whether a file reported each cohort's enrolment (an `enrolled` row); a cohort without
    /// one enrolled its target. All false for actuals built in code.
    pub fn enrolment_reported(&self) -> &[bool] {
        &self.enrolment_reported
    }

    /// The last period the reported actuals cover: the largest period of any row of the file
    /// (0 for a file without rows). Actuals built in code, such as a simulated trial, cover
    /// every period (`u16::MAX`). A settlement never measures a `decrease` outcome after it
    /// (see [`crate::error::SettleError::Unreported`]).
    pub fn reported_through(&self) -> u16 {
        self.reported_through
    }

    /// The number of rows of the file per period (index 0 unused), enrolment rows included;
    /// empty for actuals built in code. Only for notes on what a settlement leaves out.
    pub fn rows_by_period(&self) -> &[u32] {
        &self.rows_by_period
    }

    /// Values read as written that may be meant otherwise (`6.300` read as 6.3 where the point
    /// may separate thousands), at their line and column: for notes; empty for actuals built
    /// in code.
    pub fn doubtful(&self) -> &[Diagnostic] {
        &self.doubtful
    }

    /// Measurements of `increase` outcomes (per cohort) in periods up to the last one reported
    /// that have no row, as (outcome, cohort, period): they count as 0 units. For notes; empty
    /// for actuals built in code.
    pub fn unreported(&self) -> &[(u16, u16, u16)] {
        &self.unreported
    }

    /// Overrides the contract's cost per participant (a simulated cost draw); `None` in real
    /// actuals.
    pub fn cost_per_participant(&self) -> Option<Price> {
        self.cost_per_participant
    }

    /// Sets the realised enrolment of cohort `cohort` (by default its target).
    ///
    /// # Panics
    /// Where the cohort is out of range, as the cell accessors do.
    pub fn set_enrolled(&mut self, cohort: usize, n: u32) {
        let cohorts = self.n_cohorts;
        match self.enrolled.get_mut(cohort) {
            Some(e) => *e = n,
            None => panic!("cohort {cohort} outside the {cohorts} cohorts of these actuals"),
        }
    }

    /// Whether these actuals are sized for `contract`.
    pub fn fits(&self, contract: &Contract) -> bool {
        self.n_outcomes == contract.outcomes.len()
            && self.n_cohorts == contract.cohorts.len()
            && self.n_periods == contract.periods as usize + 1
    }

    /// The cell of outcome `o`, cohort `c`, period `p`.
    ///
    /// # Panics
    /// Where any of them is out of range (a cohort or period past the contract's would
    /// otherwise name another cell).
    #[inline]
    fn idx(&self, o: usize, c: usize, p: usize) -> usize {
        // An outcome out of range gives an index past the cells (the slice's own check); a
        // cohort or period out of range would name another cell, so they are checked here.
        if (c >= self.n_cohorts) | (p >= self.n_periods) {
            self.out_of_range(o, c, p);
        }
        (o * self.n_cohorts + c) * self.n_periods + p
    }

    #[cold]
    #[inline(never)]
    fn out_of_range(&self, o: usize, c: usize, p: usize) -> ! {
        panic!(
            "actuals cell (outcome {o}, cohort {c}, period {p}) outside {} outcomes, {} cohorts and periods 0 to {}",
            self.n_outcomes,
            self.n_cohorts,
            self.n_periods - 1
        )
    }

    /// Notes that cell `i` of `units` is about to be written.
    #[inline]
    fn touch(&mut self, i: usize) {
        let limit = self.units.len() / 8;
        if let Some(list) = &mut self.units_touched {
            if self.units[i] == Qty::ZERO {
                if list.len() < limit {
                    list.push(i as u32);
                } else {
                    self.units_touched = None;
                }
            }
        }
    }

    /// Units of outcome `o` achieved by cohort `c`, measured in period `p`. Panics where one
    /// is out of range, as do the other cell accessors.
    #[inline]
    pub fn units(&self, o: usize, c: usize, p: usize) -> Qty {
        self.units[self.idx(o, c, p)]
    }
    /// Sets the units of outcome `o`, cohort `c`, period `p`.
    #[inline]
    pub fn set_units(&mut self, o: usize, c: usize, p: usize, q: Qty) {
        let i = self.idx(o, c, p);
        self.set_units_in(i, q);
    }
    /// The reported baseline (forecast quantity, or control-group rate with six decimals).
    #[inline]
    pub fn baseline(&self, o: usize, c: usize, p: usize) -> Option<Qty> {
        self.baseline[self.idx(o, c, p)]
    }
    /// Sets the reported baseline of outcome `o`, cohort `c`, period `p`.
    #[inline]
    pub fn set_baseline(&mut self, o: usize, c: usize, p: usize, q: Qty) {
        let i = self.idx(o, c, p);
        self.any_baseline = true;
        self.baseline[i] = Some(q);
    }

    /// The cell of outcome `o`, cohort `c`, period `p`, for the engine's own loops, whose
    /// indices come from the contract these actuals were made for ([`Actuals::fits`]): checked
    /// in debug builds only, where the public accessors check always (a trial's draws and
    /// settlement read and write a few hundred cells, and the check cost 3% of the draws).
    #[inline]
    pub(crate) fn cell(&self, o: usize, c: usize, p: usize) -> usize {
        debug_assert!(o < self.n_outcomes && c < self.n_cohorts && p < self.n_periods);
        (o * self.n_cohorts + c) * self.n_periods + p
    }
    /// [`Actuals::units`] of a [`Actuals::cell`].
    #[inline]
    pub(crate) fn units_in(&self, i: usize) -> Qty {
        self.units[i]
    }
    /// [`Actuals::set_units`] of a [`Actuals::cell`].
    #[inline]
    pub(crate) fn set_units_in(&mut self, i: usize, q: Qty) {
        self.touch(i);
        self.units[i] = q;
    }
    /// [`Actuals::baseline`] of a [`Actuals::cell`].
    #[inline]
    pub(crate) fn baseline_in(&self, i: usize) -> Option<Qty> {
        self.baseline[i]
    }
    /// [`Actuals::set_baseline`] of a [`Actuals::cell`].
    #[inline]
    pub(crate) fn set_baseline_in(&mut self, i: usize, q: Qty) {
        self.any_baseline = true;
        self.baseline[i] = Some(q);
    }

    /// Adds `count` identical participants of cohort `c` who achieved `events` (period, outcome),
    /// which must be sorted by period then outcome. Their units are added to the cohort totals.
    /// Participants who achieved nothing are paid nothing and are not stored.
    pub fn add_class(&mut self, cohort: usize, count: u32, events: &[(u16, u16)]) {
        // Participants who achieved nothing are paid nothing: no class.
        if count == 0 || events.is_empty() {
            return;
        }
        let start = self.events.len() as u32;
        self.events.extend_from_slice(events);
        self.participant_events += count as u128 * events.len() as u128;
        for &(p, o) in events {
            self.add_units(o as usize, cohort, p as usize, count);
        }
        self.classes.push(ParticipantClass {
            cohort: cohort as u16,
            count,
            events: start..self.events.len() as u32,
            mask: ALL_EVENTS,
        });
    }

    /// Adds several classes of cohort `c` at once: `slots` are the (period, outcome) events
    /// any of them can achieve, sorted by period then outcome (at most 64), stored once; each
    /// class is `(count, mask)`, bit `j` of `mask` set when its participants achieved
    /// `slots[j]`. The same as [`add_class`](Self::add_class) with each class's own events,
    /// without copying them per class. Classes with no participants or no events are left out.
    ///
    /// # Panics
    /// With more than 64 slots, or a mask with a bit at or beyond `slots.len()`.
    pub fn add_classes(&mut self, cohort: usize, slots: &[(u16, u16)], classes: &[(u32, u64)]) {
        assert!(slots.len() <= 64, "at most 64 slots");
        let mut total = [0u32; 64];
        let start = self.events.len() as u32;
        let mut any = false;
        let mut participants: u64 = 0;
        for &(count, mask) in classes {
            if count == 0 || mask == 0 {
                continue;
            }
            participants += count as u64;
            assert!(
                slots.len() == 64 || mask >> slots.len() == 0,
                "mask beyond the slots"
            );
            any = true;
            let mut m = mask;
            while m != 0 {
                total[m.trailing_zeros() as usize] += count;
                m &= m - 1;
            }
            self.classes.push(ParticipantClass {
                cohort: cohort as u16,
                count,
                events: start..start + slots.len() as u32,
                mask,
            });
        }
        if !any {
            return;
        }
        self.participant_events += participants as u128 * slots.len() as u128;
        self.events.extend_from_slice(slots);
        for (&(p, o), &n) in slots.iter().zip(&total) {
            if n > 0 {
                self.add_units(o as usize, cohort, p as usize, n);
            }
        }
    }

    /// Adds `n` whole units to a cell.
    #[inline]
    fn add_units(&mut self, o: usize, c: usize, p: usize, n: u32) {
        let i = self.cell(o, c, p);
        self.touch(i);
        self.units[i] += Qty::from_int(n as i64);
    }

    /// The participant classes.
    pub fn classes(&self) -> &[ParticipantClass] {
        &self.classes
    }

    /// The sum over the classes of participants x the events in the class's range: at least
    /// the number of (participant, achievement) pairs.
    pub fn participant_events(&self) -> u128 {
        self.participant_events
    }

    /// The event table a class's `events` range points into.
    pub fn event_table(&self, class: &ParticipantClass) -> &[(u16, u16)] {
        &self.events[class.events.start as usize..class.events.end as usize]
    }

    /// The (period, outcome) events a class achieved, in period-then-outcome order.
    pub fn class_events<'a>(
        &'a self,
        class: &ParticipantClass,
    ) -> impl Iterator<Item = (u16, u16)> + 'a {
        let mask = class.mask;
        self.event_table(class)
            .iter()
            .enumerate()
            .filter(move |&(j, _)| mask == ALL_EVENTS || (mask >> j) & 1 == 1)
            .map(|(_, &e)| e)
    }
}

/// The period to settle reported actuals through when the user does not say: the contract's
/// end (T) when the file reports up to the contract's last measurement, else the last period
/// it reports on (at least 1), an interim statement. Payments after the last measurement
/// (`pay_lag`), the end of the contract and its guarantee calls are only settled once every
/// measurement is in: a file from a contract still running never calls a guarantee, writes a
/// claim off or counts an unreported measurement as nothing achieved. (Settling further is
/// possible: an unreported `increase` measurement counts as 0 units; an unreported `decrease`
/// measurement stops the settlement with [`crate::error::SettleError::Unreported`].)
pub fn default_through(contract: &Contract, a: &Actuals) -> u16 {
    if a.reported_through >= contract.last_measurement() {
        contract.periods
    } else {
        a.reported_through.max(1)
    }
}

/// The reserved outcome name for enrolment rows in an actuals file.
pub const ENROLLED: &str = "enrolled";

const MAX_ERRORS: usize = 50;
/// Most units one row may report.
const MAX_UNITS: i64 = 1_000_000_000;

/// Parses actuals from CSV text for `contract`. `file` names the source in messages.
///
/// Columns (header required, any order): `period`, `cohort`, `outcome`, `units`, and optional
/// `baseline` and `participant`. See `docs/scenario-format.md`.
pub fn parse_csv(contract: &Contract, file: &str, text: &str) -> Result<Actuals, Diagnostics> {
    let mut errs: Vec<Diagnostic> = Vec::new();
    let mut act = Actuals::new(contract);
    // A byte-order mark (as Excel writes one) is not part of the first field.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .has_headers(false)
        // Each row's number of fields is checked against the header below, after the lines
        // that hold nothing (spaces only, an indented comment) are skipped.
        .flexible(true)
        .from_reader(text.as_bytes())
        .into_records();
    let fail = |errs: Vec<Diagnostic>| Diagnostics {
        file: file.to_string(),
        items: errs,
    };
    // The header: the first row that is not blank or a comment.
    let (headers, hl, header_line) = loop {
        match records.next() {
            None => {
                let what = if text.trim().is_empty() {
                    "the file is empty"
                } else {
                    "the file has only comments and blank lines"
                };
                return Err(fail(vec![Diagnostic::new(
                    "header",
                    format!("{what}; the first row must be the header {HEADER_FORM}"),
                )]));
            }
            Some(Err(e)) => {
                let (line, _) = record_start(text, e.position());
                return Err(fail(vec![
                    Diagnostic::new("header", csv_msg(&e)).at(line, 1),
                ]));
            }
            Some(Ok(r)) if is_blank(&r) => continue,
            Some(Ok(r)) => {
                let (line, start) = record_start(text, r.position());
                let rest = text.get(start..).unwrap_or("");
                let first = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
                break (r, line, first);
            }
        }
    };
    if let Some(problem) = header_shape(&headers, header_line) {
        return Err(fail(vec![Diagnostic::new("header", problem).at(hl, 1)]));
    }
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (cp, cc, co, cu) = (col("period"), col("cohort"), col("outcome"), col("units"));
    let (cb, cpart) = (col("baseline"), col("participant"));
    for (i, h) in headers.iter().enumerate() {
        // A column named twice would leave one of them unread: which one counts is a guess.
        if let Some(first) = headers
            .iter()
            .take(i)
            .position(|g| g.eq_ignore_ascii_case(h))
        {
            errs.push(
                Diagnostic::new(
                    "header",
                    format!(
                        "column `{}` appears twice (columns {} and {}); name each column once",
                        shown(h),
                        first + 1,
                        i + 1
                    ),
                )
                .at(hl, field_column(header_line, i)),
            );
            continue;
        }
        if !is_column(h) {
            errs.push(
                Diagnostic::new(
                    "header",
                    format!(
                        "unknown column `{}`; allowed columns are period, cohort, outcome, units, baseline, participant",
                        shown(h)
                    ),
                )
                .at(hl, field_column(header_line, i)),
            );
        }
    }
    let (Some(cp), Some(cc), Some(co), Some(cu)) = (cp, cc, co, cu) else {
        let missing: Vec<&str> = [
            ("period", cp),
            ("cohort", cc),
            ("outcome", co),
            ("units", cu),
        ]
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| *n)
        .collect();
        errs.push(
            Diagnostic::new(
                "header",
                format!(
                    "missing column{} {}; the header must name period, cohort, outcome and units",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ),
            )
            .at(hl, 1),
        );
        return Err(fail(errs));
    };
    if !errs.is_empty() {
        return Err(fail(errs));
    }

    let t = contract.periods;
    // (outcome, cohort, period) -> (line, column of its units), to catch duplicates.
    let mut seen: HashMap<(usize, usize, u16), (usize, usize)> = HashMap::new();
    // The last period the file reports on: cells up to it are known.
    let mut max_period: u16 = 0;
    // The first line reporting `max_period`, for messages.
    let mut max_period_line = 0usize;
    let mut rows_by_period = vec![0u32; t as usize + 1];
    let mut enrol_seen: HashMap<usize, usize> = HashMap::new();
    // participant -> (cohort, achievements, line of the first row): each achievement is
    // (period, outcome, line, column of the outcome), judged once every row is read, so a
    // chain does not depend on the order of the rows.
    type Person = (usize, Vec<(u16, u16, usize, usize)>, usize);
    let mut people: HashMap<String, Person> = HashMap::new();
    // Identifier -> index, built once (the first listed where an identifier repeats, as
    // `Contract::cohort` and `Contract::outcome` find it).
    let mut cohort_index: HashMap<&str, usize> = HashMap::with_capacity(contract.cohorts.len());
    for (i, c) in contract.cohorts.iter().enumerate() {
        cohort_index.entry(c.id.as_str()).or_insert(i);
    }
    let mut outcome_index: HashMap<&str, usize> = HashMap::with_capacity(contract.outcomes.len());
    for (i, o) in contract.outcomes.iter().enumerate() {
        outcome_index.entry(o.id.as_str()).or_insert(i);
    }

    for rec in records {
        if errs.len() >= MAX_ERRORS {
            errs.push(Diagnostic::new("", crate::error::MORE_PROBLEMS));
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let (line, _) = record_start(text, e.position());
                errs.push(Diagnostic::new("row", csv_msg(&e)).at(line, 1));
                continue;
            }
        };
        if is_blank(&rec) {
            continue;
        }
        let (line, start) = record_start(text, rec.position());
        // A value that runs over a line break was opened with a double quote that its line
        // does not close: the reader took the lines after it, up to the next quote, as part of
        // the value.
        if let Some(spans) = rec
            .iter()
            .map(|f| f.matches('\n').count())
            .sum::<usize>()
            .checked_sub(1)
            .map(|n| n + 1)
        {
            errs.push(
                Diagnostic::new(
                    "row",
                    format!(
                        "a double quote `\"` opened on this line is not closed on it, so the {} after it {} read as part of one value; close the quote or remove it",
                        plural(spans, "line"),
                        if spans == 1 { "was" } else { "were" }
                    ),
                )
                .at(line, 1),
            );
            continue;
        }
        if rec.len() != headers.len() {
            let own_line = text
                .get(start..)
                .and_then(|t| t.lines().next())
                .unwrap_or("");
            let hint = if own_line.matches('"').count() % 2 == 1 {
                " (a double quote `\"` on this line is not closed; close it or remove it)"
            } else if rec.len() > headers.len() {
                " (a comma inside a value starts a new field: write decimals with a point, and put a value that holds a comma in double quotes)"
            } else {
                ""
            };
            errs.push(
                Diagnostic::new(
                    "row",
                    format!(
                        "this row has {} but the header has {}{hint}",
                        plural(rec.len(), "field"),
                        headers.len()
                    ),
                )
                .at(line, 1),
            );
            continue;
        }
        let field = |i: usize| rec.get(i).unwrap_or("");
        // Where a named column's field starts on the line, for the message's position.
        let column_of =
            |name: &str| col(name).map_or(1, |i| field_column(text.get(start..).unwrap_or(""), i));
        let units_column = column_of("units");
        let mut row_err = |col: &str, msg: String| {
            errs.push(Diagnostic::new(format!("column {col}"), msg).at(line, column_of(col)));
        };
        // period
        let period: u16 = match field(cp).parse::<u16>() {
            Ok(p) if p >= 1 && p <= t => p,
            _ => {
                row_err(
                    "period",
                    format!(
                        "`{}` is not a period of this contract; use a whole number from 1 to {t}",
                        shown(field(cp))
                    ),
                );
                continue;
            }
        };
        if period > max_period {
            max_period = period;
            max_period_line = line;
        }
        rows_by_period[period as usize] += 1;
        let cohort_id = field(cc);
        let Some(&c) = cohort_index.get(cohort_id) else {
            let ids: Vec<&str> = contract.cohorts.iter().map(|c| c.id.as_str()).collect();
            row_err(
                "cohort",
                format!(
                    "unknown cohort `{}`; the contract's cohorts are {}",
                    shown(cohort_id),
                    crate::error::id_list(&ids, "cohorts")
                ),
            );
            continue;
        };
        let cohort = &contract.cohorts[c];
        let outcome_id = field(co);
        let units_txt = field(cu);
        let units = match crate::money::parse_number(units_txt)
            .ok()
            .and_then(Qty::from_decimal)
        {
            // Bounded like the scenario's units, so sums over periods cannot overflow.
            Some(q) if q.0 >= 0 && q <= Qty::from_int(MAX_UNITS) => q,
            _ => {
                row_err(
                    "units",
                    format!(
                        "`{}` is not a valid number of units; use a number from 0 to 1,000,000,000 with at most 6 decimals{}",
                        shown(units_txt),
                        comma_hint(units_txt)
                    ),
                );
                continue;
            }
        };
        let baseline_txt = cb.map(field).unwrap_or("");
        let participant = cpart.map(field).unwrap_or("");
        for (name, txt) in [("units", units_txt), ("baseline", baseline_txt)] {
            if thousands_like(txt) {
                let digits = txt.replace('.', "");
                act.doubtful.push(
                    Diagnostic::new(
                        format!("column {name}"),
                        format!(
                            "`{txt}` is read as {}; if the point separates thousands, write {digits} (no separators)",
                            txt.trim_end_matches('0').trim_end_matches('.')
                        ),
                    )
                    .at(line, column_of(name)),
                );
            }
        }

        if outcome_id.eq_ignore_ascii_case(ENROLLED) {
            if !baseline_txt.is_empty() {
                row_err(
                    "baseline",
                    format!(
                        "an `{ENROLLED}` row reports the cohort's enrolment, which has no baseline; leave the baseline column empty"
                    ),
                );
                continue;
            }
            if !participant.is_empty() {
                row_err(
                    "participant",
                    format!(
                        "an `{ENROLLED}` row reports the cohort's enrolment, not a participant's; leave the participant column empty and give the number enrolled in units"
                    ),
                );
                continue;
            }
            let Some(n) = units.as_int().filter(|&n| n <= u32::MAX as i64) else {
                row_err(
                    "units",
                    "enrolment must be a whole number of participants".into(),
                );
                continue;
            };
            if period != cohort.enrol_period {
                row_err(
                    "period",
                    format!(
                        "cohort `{cohort_id}` enrols in period {}, so its enrolment row must have period {}",
                        cohort.enrol_period, cohort.enrol_period
                    ),
                );
                continue;
            }
            if let Some(&first) = enrol_seen.get(&c) {
                row_err(
                    "outcome",
                    format!(
                        "duplicate enrolment row for cohort `{cohort_id}` (first at line {first})"
                    ),
                );
                continue;
            }
            enrol_seen.insert(c, line);
            act.enrolled[c] = n as u32;
            act.enrolment_reported[c] = true;
            continue;
        }

        let Some(&o) = outcome_index.get(outcome_id) else {
            let ids: Vec<&str> = contract.outcomes.iter().map(|o| o.id.as_str()).collect();
            row_err(
                "outcome",
                format!(
                    "unknown outcome `{}`; use one of {} or `{ENROLLED}`",
                    shown(outcome_id),
                    crate::error::id_list(&ids, "outcomes")
                ),
            );
            continue;
        };
        let out = &contract.outcomes[o];
        let (first, last) = (
            out.first_measure(cohort.enrol_period),
            out.last_measure(cohort.enrol_period),
        );
        if period < first || period > last {
            let when = if first == last {
                format!("period {first}")
            } else {
                format!("periods {first} to {last}")
            };
            row_err(
                "period",
                format!(
                    "outcome `{outcome_id}` for cohort `{cohort_id}` is measured in {when} (enrolment period {} + lag {}), not in period {period}",
                    cohort.enrol_period, out.lag
                ),
            );
            continue;
        }
        if out.kind == OutcomeKind::Count && units.as_int().is_none() {
            row_err(
                "units",
                format!("outcome `{outcome_id}` counts people, so units must be whole numbers"),
            );
            continue;
        }
        // baseline column
        if !baseline_txt.is_empty() {
            match &out.baseline {
                Baseline::Forecast(_) | Baseline::ControlGroup => {
                    match crate::money::parse_number(baseline_txt)
                        .ok()
                        .and_then(Qty::from_decimal)
                    {
                        Some(b) if b.0 >= 0 && b <= Qty::from_int(MAX_UNITS) => {
                            // A count outcome's control group is a rate of people; a
                            // quantity outcome's, a quantity per participant.
                            let quantity = out.kind == crate::contract::OutcomeKind::Quantity;
                            if matches!(out.baseline, Baseline::ControlGroup)
                                && (if quantity {
                                    b > Qty::from_int(CONTROL_QUANTITY_MAX)
                                } else {
                                    b > Qty::from_int(1)
                                })
                            {
                                row_err(
                                    "baseline",
                                    if quantity {
                                        format!(
                                            "the control group's quantity per participant must be between 0 and 1,000,000, got {}",
                                            shown(baseline_txt)
                                        )
                                    } else {
                                        format!(
                                            "the control group's rate must be between 0 and 1, got {}",
                                            shown(baseline_txt)
                                        )
                                    },
                                );
                                continue;
                            }
                            act.set_baseline(o, c, period as usize, b)
                        }
                        _ => {
                            let range = match (&out.baseline, out.kind) {
                                (
                                    Baseline::ControlGroup,
                                    crate::contract::OutcomeKind::Quantity,
                                ) => "the control group's quantity per participant, 0 to 1,000,000",
                                (Baseline::ControlGroup, _) => "the control group's rate, 0 to 1",
                                _ => "a number from 0 to 1,000,000,000",
                            };
                            row_err(
                                "baseline",
                                format!(
                                    "`{}` is not a valid baseline; use {range} with at most 6 decimals{}",
                                    shown(baseline_txt),
                                    comma_hint(baseline_txt)
                                ),
                            );
                            continue;
                        }
                    }
                }
                _ => {
                    row_err(
                        "baseline",
                        format!(
                            "outcome `{outcome_id}` takes no reported baseline (its baseline is fixed in the contract or absent); leave the column empty"
                        ),
                    );
                    continue;
                }
            }
        } else {
            let needed = match &out.baseline {
                Baseline::ControlGroup => true,
                Baseline::Forecast(v) => v[c].is_none(),
                _ => false,
            };
            if needed && participant.is_empty() {
                row_err(
                    "baseline",
                    format!(
                        "outcome `{outcome_id}` pays against a reported baseline: give the {} in the baseline column",
                        match (&out.baseline, out.kind) {
                            (Baseline::ControlGroup, crate::contract::OutcomeKind::Quantity) => {
                                "control group's quantity per participant (0 to 1,000,000)"
                            }
                            (Baseline::ControlGroup, _) => "control group's rate (0 to 1)",
                            _ => "forecast quantity",
                        }
                    ),
                );
                continue;
            }
        }

        if out.per_participant {
            if participant.is_empty() {
                row_err(
                    "participant",
                    format!(
                        "outcome `{outcome_id}` falls under the per-participant cap, so each row must name a participant (one row per participant, units 1)"
                    ),
                );
                continue;
            }
            if units != Qty::from_int(1) {
                row_err(
                    "units",
                    "a per-participant row reports one achievement: units must be 1".into(),
                );
                continue;
            }
            let who = shown(participant);
            let entry = people
                .entry(participant.to_string())
                .or_insert((c, Vec::new(), line));
            if entry.0 != c {
                let other = &contract.cohorts[entry.0].id;
                row_err(
                    "participant",
                    format!(
                        "participant `{who}` is in cohort `{other}` (line {}), not `{cohort_id}`",
                        entry.2
                    ),
                );
                continue;
            }
            if let Some(&(_, _, first, _)) = entry.1.iter().find(|e| e.1 as usize == o) {
                row_err(
                    "participant",
                    format!(
                        "participant `{who}` already achieved `{outcome_id}` (line {first}); it is paid at most once per person"
                    ),
                );
                continue;
            }
            entry.1.push((period, o as u16, line, column_of("outcome")));
            continue;
        }
        if !participant.is_empty() {
            row_err(
                "participant",
                format!(
                    "outcome `{outcome_id}` is settled per cohort; leave the participant column empty and report the cohort's total units"
                ),
            );
            continue;
        }
        if let Some(&(first, _)) = seen.get(&(o, c, period)) {
            row_err(
                "outcome",
                format!(
                    "duplicate row for outcome `{outcome_id}`, cohort `{cohort_id}`, period {period} (first at line {first})"
                ),
            );
            continue;
        }
        seen.insert((o, c, period), (line, units_column));
        act.set_units(o, c, period as usize, units);
    }

    // Whole-file checks: counts within enrolment, chains within their prerequisite, and no
    // silent gaps where a gap would pay (a `decrease` outcome pays for units below the
    // baseline, so a missing row would pay the whole baseline).
    if errs.is_empty() {
        for (o, out) in contract.outcomes.iter().enumerate() {
            if out.direction != crate::contract::Direction::Decrease || out.per_participant {
                continue;
            }
            for (c, coh) in contract.cohorts.iter().enumerate() {
                let first = out.first_measure(coh.enrol_period);
                let last = out.last_measure(coh.enrol_period).min(max_period);
                for p in first..=last {
                    if !seen.contains_key(&(o, c, p)) {
                        errs.push(Diagnostic::new(
                            format!("outcome {}, cohort {}, period {p}", out.id, coh.id),
                            format!(
                                "no row for `{}`, cohort `{}`, period {p}, although the file reports up to period {max_period} (line {max_period_line}); `{}` pays for fewer units than its baseline, so a missing row would pay the whole baseline: report the units measured in period {p} (0 only if the measurement found none), or, if period {max_period} is not yet reported, remove its rows",
                                out.id, coh.id, out.id
                            ),
                        ));
                    }
                }
            }
        }
    }
    // Gaps that count as nothing achieved: noted, not refused (an `increase` outcome's missing
    // row pays nothing, the cautious reading).
    if errs.is_empty() {
        for (o, out) in contract.outcomes.iter().enumerate() {
            if out.direction != crate::contract::Direction::Increase || out.per_participant {
                continue;
            }
            for (c, coh) in contract.cohorts.iter().enumerate() {
                if act.enrolled[c] == 0 {
                    continue;
                }
                let first = out.first_measure(coh.enrol_period);
                let last = out.last_measure(coh.enrol_period).min(max_period);
                for p in first..=last {
                    if !seen.contains_key(&(o, c, p)) {
                        act.unreported.push((o as u16, c as u16, p));
                    }
                }
            }
        }
        act.unreported.sort_unstable_by_key(|&(o, c, p)| (p, o, c));
    }
    act.reported_through = max_period;
    act.rows_by_period = rows_by_period;
    if errs.is_empty() {
        // A participant's chain, judged by period whatever the order of the rows.
        let mut chains: Vec<Diagnostic> = Vec::new();
        for (who, (_, events, _)) in &people {
            for &(period, o, line, column) in events {
                let Some(req) = contract.outcomes[o as usize].requires else {
                    continue;
                };
                let done = events.iter().find(|e| e.1 as usize == req);
                if done.is_some_and(|e| e.0 <= period) {
                    continue;
                }
                let (out_id, req_id) = (
                    &contract.outcomes[o as usize].id,
                    &contract.outcomes[req].id,
                );
                let why = match done {
                    Some(&(p, _, l, _)) => format!(
                        "this participant achieved `{req_id}` only in period {p} (line {l})"
                    ),
                    None => format!("no row reports `{req_id}` for this participant"),
                };
                chains.push(
                    Diagnostic::new(
                        "column outcome",
                        format!(
                            "participant `{}` cannot achieve `{out_id}` in period {period}: it requires `{req_id}` in the same or an earlier period, and {why}",
                            shown(who)
                        ),
                    )
                    .at(line, column),
                );
            }
        }
        chains.sort_by_key(|d| (d.line, d.column));
        if chains.len() > MAX_ERRORS {
            chains.truncate(MAX_ERRORS);
            chains.push(Diagnostic::new("", crate::error::MORE_PROBLEMS));
        }
        errs.extend(chains);
    }
    if errs.is_empty() {
        let mut per_cohort_people: HashMap<usize, u32> = HashMap::new();
        for (_, (c, _, _)) in people.iter() {
            *per_cohort_people.entry(*c).or_default() += 1;
        }
        for (c, n) in per_cohort_people {
            if n > act.enrolled[c] {
                errs.push(Diagnostic::new(
                    format!("cohort {}", contract.cohorts[c].id),
                    format!(
                        "{} named but the cohort enrolled {}; report enrolment with an `{ENROLLED}` row",
                        if n == 1 {
                            "1 participant is".to_string()
                        } else {
                            format!("{n} participants are")
                        },
                        act.enrolled[c]
                    ),
                ));
            }
        }
        // Units of per-participant outcomes, one a participant row (they join the cohort's
        // cells only as classes, below): a cohort outcome may require one of them.
        let mut person_units: HashMap<(usize, usize, usize), i64> = HashMap::new();
        for (_, (c, events, _)) in people.iter() {
            for &(p, o, _, _) in events {
                *person_units
                    .entry((o as usize, *c, p as usize))
                    .or_default() += 1;
            }
        }
        for (o, out) in contract.outcomes.iter().enumerate() {
            if out.per_participant {
                continue;
            }
            for (c, coh) in contract.cohorts.iter().enumerate() {
                let mut cum = Qty::ZERO;
                let mut cum_req = Qty::ZERO;
                for p in 1..=t as usize {
                    cum += act.units(o, c, p);
                    if let Some(r) = out.requires {
                        cum_req += act.units(r, c, p);
                        if let Some(&n) = person_units.get(&(r, c, p)) {
                            cum_req += Qty::from_int(n);
                        }
                        if cum > cum_req {
                            let d = Diagnostic::new(
                                format!("outcome {}, cohort {}", out.id, coh.id),
                                format!(
                                    "by period {p}, {} of `{}` {} reported but only {cum_req} of `{}`, which it requires",
                                    units_of(cum),
                                    out.id,
                                    if cum == Qty::from_int(1) { "is" } else { "are" },
                                    contract.outcomes[r].id
                                ),
                            );
                            errs.push(at_row(d, seen.get(&(o, c, p as u16))));
                            break;
                        }
                    }
                    if out.kind == OutcomeKind::Count
                        && !out.repeatable
                        && cum > Qty::from_int(act.enrolled[c] as i64)
                    {
                        let d = Diagnostic::new(
                            format!("outcome {}, cohort {}", out.id, coh.id),
                            format!(
                                "by period {p}, {} achieved `{}` but the cohort enrolled {}; each person counts once",
                                if cum == Qty::from_int(1) {
                                    "1 person".to_string()
                                } else {
                                    format!("{cum} people")
                                },
                                out.id,
                                act.enrolled[c]
                            ),
                        );
                        errs.push(at_row(d, seen.get(&(o, c, p as u16))));
                        break;
                    }
                }
            }
        }
    }
    if !errs.is_empty() {
        return Err(fail(errs).sorted());
    }

    // Group participants into classes.
    let mut classes: HashMap<(usize, Vec<(u16, u16)>), u32> = HashMap::new();
    for (_, (c, achieved, _)) in people {
        let mut ev: Vec<(u16, u16)> = achieved.iter().map(|&(p, o, _, _)| (p, o)).collect();
        ev.sort_unstable();
        *classes.entry((c, ev)).or_default() += 1;
    }
    let mut classes: Vec<_> = classes.into_iter().collect();
    classes.sort();
    for ((c, ev), n) in classes {
        act.add_class(c, n, &ev);
    }
    Ok(act)
}

/// The header's form, for messages.
const HEADER_FORM: &str =
    "`period,cohort,outcome,units[,baseline][,participant]` (columns in any order)";

/// The columns an actuals file may have.
const COLUMNS: [&str; 6] = [
    "period",
    "cohort",
    "outcome",
    "units",
    "baseline",
    "participant",
];

fn is_column(name: &str) -> bool {
    COLUMNS.iter().any(|k| name.eq_ignore_ascii_case(k))
}

/// Whether a record holds nothing: every field empty (a line of spaces, or of commas only, as
/// spreadsheets export empty rows), or a comment indented past the reader's `#` test.
fn is_blank(rec: &csv::StringRecord) -> bool {
    rec.iter().all(str::is_empty) || rec.get(0).is_some_and(|f| f.starts_with('#'))
}

/// What is wrong with the shape of a header that is not a header at all: a file saved with
/// another separator, or one whose first row is data. `None` for anything else (its columns
/// are then checked one by one).
fn header_shape(headers: &csv::StringRecord, line: &str) -> Option<String> {
    let save_as = "save it as comma-separated CSV (fields separated by commas, decimals written with a point: 12.5, not 12,5)";
    // Excel's first line naming the separator: `sep=;`.
    let raw = line.trim_start();
    if let Some(sep) = raw
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("sep="))
        .map(|_| &raw[4..])
        .filter(|sep| sep.chars().count() == 1)
    {
        let by = match sep {
            "," => {
                return Some(format!(
                    "the file starts with a spreadsheet's `{raw}` line; remove it: the first row must be the header {HEADER_FORM}"
                ));
            }
            "\t" => "tabs".to_string(),
            _ => format!("`{sep}`"),
        };
        return Some(format!(
            "the file starts with a spreadsheet's `{}` line: its fields are separated by {by}, not commas; {save_as}, without that line",
            raw.escape_default()
        ));
    }
    if headers
        .iter()
        .any(|h| !is_column(h) && (h.contains(';') || h.contains('\t')))
    {
        let (semi, tab) = (line.matches(';').count(), line.matches('\t').count());
        let which = if semi >= tab { "semicolon" } else { "tab" };
        return Some(format!(
            "the header `{}` looks {which}-separated (as a spreadsheet saves CSV with European settings); {save_as}",
            shown(line)
        ));
    }
    if !headers.iter().any(is_column)
        && headers
            .iter()
            .any(|h| crate::money::parse_number(h).is_ok())
    {
        return Some(format!(
            "the first row must be the header {HEADER_FORM}; this file starts with a data row, `{}`",
            shown(line)
        ));
    }
    None
}

/// The 1-based line and the byte offset at which a record's first field begins. The reader
/// places a record where it began reading, before the empty and comment lines it skipped.
fn record_start(text: &str, at: Option<&csv::Position>) -> (usize, usize) {
    let Some(at) = at else {
        return (1, 0);
    };
    let (mut line, mut byte) = (at.line().max(1) as usize, at.byte() as usize);
    while let Some(rest) = text.get(byte..) {
        let Some(end) = rest.find('\n') else {
            break;
        };
        let piece = rest[..end].trim_end_matches('\r');
        if !(piece.is_empty() || piece.starts_with('#')) {
            break;
        }
        byte += end + 1;
        line += 1;
    }
    (line, byte)
}

/// Longest value a message repeats whole, in characters.
const SHOWN_CHARS: usize = 40;

/// `value` as a message repeats it: whole, or its first [`SHOWN_CHARS`] characters and `…`.
fn shown(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]).into(),
        None => value.into(),
    }
}

/// A hint for a number written with a comma (a decimal comma, or thousands separated).
fn comma_hint(text: &str) -> &'static str {
    if text.contains(',') {
        "; write decimals with a point and no thousands separators (12.5, not 12,5; 1500, not 1,500)"
    } else {
        ""
    }
}

/// A quantity of units: `1 unit`, `2.5 units`.
fn units_of(q: Qty) -> String {
    format!("{q} unit{}", if q == Qty::from_int(1) { "" } else { "s" })
}

/// `n` and `noun`, with an `s` unless `n` is 1.
fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Whether a number reads like a whole number with a point between thousands, as a
/// spreadsheet with Dutch settings writes one: one to three digits (not starting with 0), a
/// point and three digits (`6.300`, `3.912`). A quantity with exactly three decimals is rare
/// enough that a note on it costs little, and `3.912` days for 3,912 costs a great deal.
fn thousands_like(t: &str) -> bool {
    let t = t.strip_prefix('+').unwrap_or(t);
    let Some((int, frac)) = t.split_once('.') else {
        return false;
    };
    (1..=3).contains(&int.len())
        && !int.starts_with('0')
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The diagnostic at a row's units (line, column), when there is such a row.
fn at_row(d: Diagnostic, at: Option<&(usize, usize)>) -> Diagnostic {
    match at {
        Some(&(line, column)) => d.at(line, column),
        None => d,
    }
}

/// The 1-based column (in characters) at which field `index` of the CSV record starting at
/// `record` begins, past any spaces the reader trims. Commas inside double quotes do not
/// separate fields; a field past a line break inside quotes is counted from that line's start.
fn field_column(record: &str, index: usize) -> usize {
    let (mut field, mut column, mut quoted) = (0, 1, false);
    let mut at_start = index == 0;
    for ch in record.chars() {
        if at_start && ch != ' ' && ch != '\t' {
            return column;
        }
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                field += 1;
                at_start = field == index;
            }
            '\n' if !quoted => break,
            '\n' => column = 0,
            _ => {}
        }
        column += 1;
    }
    column.max(1)
}

fn csv_msg(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not valid UTF-8 text".to_string(),
        _ => format!("cannot read the CSV: {e}"),
    }
}

/// The largest control-group quantity per participant a quantity outcome's actuals take.
pub const CONTROL_QUANTITY_MAX: i64 = 1_000_000;

/// The control-group rate (or quantity per participant) reported for a cell as a [`Ratio`].
pub fn rate_of(q: Qty) -> Ratio {
    Ratio(q.0 * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::thousands_like;

    /// A cell past the contract's periods or cohorts is refused, not read or written as another
    /// (period 16 of a 12-period contract was cohort 2's period 3).
    #[test]
    fn a_cell_out_of_range_is_refused() {
        let text = include_str!("../scenarios/rotterdam-buzinezzclub.toml");
        let c = crate::scenario::parse("r.toml", text)
            .expect("bundled")
            .contract;
        let mut a = super::Actuals::new(&c);
        let q = crate::money::Qty::from_int(3);
        a.set_units(0, 0, c.periods as usize, q);
        assert_eq!(a.units(0, 0, c.periods as usize), q);
        for (o, co, p) in [
            (0, 0, c.periods as usize + 1),
            (0, c.cohorts.len(), 0),
            (c.outcomes.len(), 0, 0),
        ] {
            let write = std::panic::catch_unwind(|| {
                let mut b = super::Actuals::new(&c);
                b.set_units(o, co, p, q);
            });
            assert!(write.is_err(), "({o}, {co}, {p}) written");
            let read = std::panic::catch_unwind(|| a.units(o, co, p));
            assert!(read.is_err(), "({o}, {co}, {p}) read");
        }
    }

    #[test]
    fn a_number_reads_like_thousands_only_in_the_spreadsheet_form() {
        for t in [
            "6.300", "12.500", "100.000", "1.000", "3.912", "6.305", "+6.300",
        ] {
            assert!(thousands_like(t), "{t}");
        }
        for t in [
            "6.3", "6.35", "0.300", "1234.500", "6.3000", "6,300", "-6.300", "6300", "",
        ] {
            assert!(!thousands_like(t), "{t}");
        }
    }
}
