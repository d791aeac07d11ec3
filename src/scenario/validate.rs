//! Meaning checks: turns a [`RawScenario`] into a [`Contract`], collecting every problem with
//! its field path (positions are added by the caller from the parsed document).

use super::raw::*;
use crate::contract::*;
use crate::error::Diagnostic;
use crate::money::{Money, Price, Qty, Ratio, compound_period_rate};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Largest amount of money accepted anywhere (EUR 1 trillion).
pub const MAX_MONEY: i64 = 100_000_000_000_000; // cents
/// Largest number of units or price accepted.
const MAX_UNITS: i64 = 1_000_000_000;
/// Largest number of periods.
pub const MAX_PERIODS: i64 = 1200;
/// Largest cohort.
pub const MAX_COHORT: i64 = 10_000_000;
/// Reserved party identifiers.
pub const ACCOUNT_ID: &str = "contract-account";
/// The outside world.
pub const EXTERNAL_ID: &str = "external";

pub(crate) struct Ctx {
    pub errs: Vec<Diagnostic>,
    pub periods: u16,
}

impl Ctx {
    pub fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errs.push(Diagnostic::new(path, msg));
    }

    /// Money: at most two decimals, within `[min, MAX]`.
    pub fn money(&mut self, n: Num, path: &str, allow_zero: bool) -> Option<Money> {
        let d = n.0;
        let lo = if allow_zero {
            "0 or more"
        } else {
            "more than 0"
        };
        if d.is_sign_negative() && !d.is_zero() || (!allow_zero && d.is_zero()) {
            self.err(path, format!("must be {lo} (an amount of money), got {d}"));
            return None;
        }
        if d.normalize().scale() > 2 {
            self.err(
                path,
                format!("{d} has more than two decimals; amounts of money are whole cents"),
            );
            return None;
        }
        match Money::from_decimal(d) {
            Some(m) if m.0 <= MAX_MONEY => Some(m),
            _ => {
                self.err(
                    path,
                    format!("{d} is too large; amounts are at most 1,000,000,000,000"),
                );
                None
            }
        }
    }

    /// A price or amount per unit: at most six decimals, `0..=1e9`.
    pub fn price(&mut self, n: Num, path: &str) -> Option<Price> {
        let d = n.0;
        if d.is_sign_negative() && !d.is_zero() {
            self.err(path, format!("must be 0 or more, got {d}"));
            return None;
        }
        if d.normalize().scale() > 6 {
            self.err(path, format!("{d}: prices carry at most six decimals"));
            return None;
        }
        match Price::from_decimal(d) {
            Some(p) if p.0 <= MAX_UNITS * 1_000_000 => Some(p),
            _ => {
                self.err(
                    path,
                    format!("{d} is too large; at most 1,000,000,000 per unit"),
                );
                None
            }
        }
    }

    /// Units: at most six decimals, `0 < x <= 1e9` (or zero when allowed).
    pub fn units(&mut self, n: Num, path: &str, allow_zero: bool) -> Option<Qty> {
        let d = n.0;
        if d.is_sign_negative() && !d.is_zero() || (!allow_zero && d.is_zero()) {
            self.err(
                path,
                format!(
                    "must be {} units, got {d}",
                    if allow_zero {
                        "0 or more"
                    } else {
                        "more than 0"
                    }
                ),
            );
            return None;
        }
        if d.normalize().scale() > 6 {
            self.err(path, format!("{d}: units carry at most six decimals"));
            return None;
        }
        match Qty::from_decimal(d) {
            Some(q) if q.0 <= MAX_UNITS * 1_000_000 => Some(q),
            _ => {
                self.err(
                    path,
                    format!("{d} is too large; at most 1,000,000,000 units"),
                );
                None
            }
        }
    }

    /// A ratio within `[lo, hi]`, described as `what`.
    pub fn ratio(&mut self, n: Num, path: &str, lo: &str, hi: &str, what: &str) -> Option<Ratio> {
        let d = n.0;
        let (l, h): (Decimal, Decimal) = (
            lo.parse().unwrap_or_default(),
            hi.parse().unwrap_or_default(),
        );
        if d < l || d > h {
            self.err(
                path,
                format!("{what} must be between {lo} and {hi}, got {d}"),
            );
            return None;
        }
        Ratio::from_decimal(d).or_else(|| {
            self.err(path, format!("{d} is out of range"));
            None
        })
    }

    /// A period number `1..=T`.
    pub fn period(&mut self, p: i64, path: &str) -> Option<u16> {
        if p < 1 || p > self.periods as i64 {
            self.err(
                path,
                format!(
                    "period {p} is outside the contract; periods run from 1 to {}",
                    self.periods
                ),
            );
            None
        } else {
            Some(p as u16)
        }
    }

    /// A whole number within `[lo, hi]`.
    pub fn int(&mut self, v: i64, path: &str, lo: i64, hi: i64, what: &str) -> Option<i64> {
        if v < lo || v > hi {
            self.err(
                path,
                format!(
                    "{what} must be a whole number from {} to {}, got {v}",
                    crate::chart::theme::thousands(lo as f64),
                    crate::chart::theme::thousands(hi as f64)
                ),
            );
            None
        } else {
            Some(v)
        }
    }

    /// A schedule of amounts per period (index 0 unused).
    pub fn schedule(&mut self, s: &RawSchedule, path: &str) -> Vec<Money> {
        let t = self.periods as usize;
        let mut out = vec![Money::ZERO; t + 1];
        match (&s.amount, &s.at) {
            (Some(_), Some(_)) => self.err(
                path,
                "give either `amount` (with optional `from` and `to`) or `at`, not both",
            ),
            (None, None) => self.err(
                path,
                "give `amount = X` (every period from `from` to `to`) or `at = [[period, amount], ...]`",
            ),
            (Some(a), None) => {
                let amount = self.money(*a, &format!("{path}.amount"), true);
                let from = s.from.unwrap_or(1);
                let to = s.to.unwrap_or(t as i64);
                let f = self.period(from, &format!("{path}.from"));
                let tt = self.period(to, &format!("{path}.to"));
                if let (Some(a), Some(f), Some(tt)) = (amount, f, tt) {
                    if f > tt {
                        self.err(path, format!("`from` ({f}) is after `to` ({tt})"));
                    } else {
                        for x in &mut out[f as usize..=tt as usize] {
                            *x = a;
                        }
                    }
                }
            }
            (None, Some(at)) => {
                if s.from.is_some() || s.to.is_some() {
                    self.err(path, "`from` and `to` go with `amount`, not with `at`");
                }
                let mut seen = HashSet::new();
                for (i, (p, a)) in at.iter().enumerate() {
                    let pp = format!("{path}.at[{i}]");
                    let p = self.period(*p, &pp);
                    let a = self.money(*a, &pp, true);
                    if let (Some(p), Some(a)) = (p, a) {
                        if !seen.insert(p) {
                            self.err(&pp, format!("period {p} appears twice"));
                        }
                        out[p as usize] = a;
                    }
                }
            }
        }
        out
    }
}

fn sum_is_one(shares: &[(PartyId, Ratio)]) -> bool {
    let s: i64 = shares.iter().map(|(_, r)| r.0).sum();
    (s - Ratio::ONE.0).abs() <= 1_000 // 1e-9
}

fn one_of(options: &[&str]) -> String {
    options
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates a raw scenario into a contract, or returns every problem found.
pub fn contract(raw: &RawScenario) -> Result<Contract, Vec<Diagnostic>> {
    let mut cx = Ctx {
        errs: Vec::new(),
        periods: 1,
    };
    let rc = &raw.contract;
    let periods = cx
        .int(
            rc.periods,
            "contract.periods",
            1,
            MAX_PERIODS,
            "the number of periods",
        )
        // Past an invalid term, check the rest against the longest one allowed, so that no
        // period is reported "outside the contract" for a term that is not there.
        .unwrap_or(MAX_PERIODS) as u16;
    cx.periods = periods;
    let period_length = match rc.period.as_str() {
        "month" => PeriodLength::Month,
        "quarter" => PeriodLength::Quarter,
        "half-year" => PeriodLength::HalfYear,
        "year" => PeriodLength::Year,
        other => {
            cx.err(
                "contract.period",
                format!(
                    "unknown period length `{other}`; use one of {}",
                    one_of(&["month", "quarter", "half-year", "year"])
                ),
            );
            PeriodLength::Quarter
        }
    };
    if rc.name.trim().is_empty() {
        cx.err("contract.name", "the contract needs a name");
    }
    let discount_rate = match rc.discount_rate {
        Some(n) => cx
            .ratio(n, "contract.discount_rate", "0", "1", "the discount rate")
            .unwrap_or(Ratio::ZERO),
        None => Ratio::from_decimal(Decimal::new(225, 4)).unwrap_or(Ratio::ZERO),
    };
    let total_cap = rc
        .total_cap
        .and_then(|n| cx.money(n, "contract.total_cap", false));
    let remainder = match rc.remainder.as_deref().unwrap_or("hold") {
        "hold" => Remainder::Hold,
        "return-to-payers" => Remainder::ReturnToPayers,
        "enterprise" => Remainder::Enterprise,
        other => {
            cx.err(
                "contract.remainder",
                format!(
                    "unknown remainder rule `{other}`; use one of {}",
                    one_of(&["hold", "return-to-payers", "enterprise"])
                ),
            );
            Remainder::Hold
        }
    };
    let compound = match rc.rate_basis.as_deref().unwrap_or("compound") {
        "compound" => true,
        "simple" => false,
        other => {
            cx.err(
                "contract.rate_basis",
                format!(
                    "unknown rate basis `{other}`; use `compound` ((1+r)^(1/n)-1 per period) or `simple` (r/n)"
                ),
            );
            true
        }
    };

    // Parties.
    let mut parties: Vec<Party> = Vec::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut add_party = |cx: &mut Ctx, p: &RawParty, role: Role, path: String| {
        let id = p.id.trim();
        if id.is_empty() {
            cx.err(format!("{path}.id"), "a party needs a non-empty id");
        } else if id == ACCOUNT_ID || id == EXTERNAL_ID {
            cx.err(
                format!("{path}.id"),
                format!("`{id}` is reserved for the engine; choose another id"),
            );
        } else if let Some(prev) = ids.get(id) {
            cx.err(
                format!("{path}.id"),
                format!("the id `{id}` is already used by {prev}; party ids must be unique"),
            );
        } else {
            ids.insert(id.to_string(), path.clone());
        }
        parties.push(Party {
            id: id.to_string(),
            name: p.name.clone().unwrap_or_else(|| id.to_string()),
            role,
        });
    };
    if raw.payers.is_empty() {
        cx.err(
            "payers",
            "at least one outcome payer is required ([[payers]] with an id)",
        );
    }
    for (i, p) in raw.payers.iter().enumerate() {
        add_party(&mut cx, p, Role::Payer, format!("payers[{i}]"));
    }
    for (i, p) in raw.investors.iter().enumerate() {
        add_party(&mut cx, p, Role::Investor, format!("investors[{i}]"));
    }
    for (i, p) in raw.guarantors.iter().enumerate() {
        add_party(&mut cx, p, Role::Guarantor, format!("guarantors[{i}]"));
    }
    for (i, p) in raw.fee_recipients.iter().enumerate() {
        add_party(
            &mut cx,
            p,
            Role::FeeRecipient,
            format!("fee_recipients[{i}]"),
        );
    }
    let re = &raw.enterprise;
    add_party(
        &mut cx,
        &RawParty {
            id: re.id.clone(),
            name: re.name.clone(),
        },
        Role::Enterprise,
        "enterprise".into(),
    );
    let enterprise = parties.len() - 1;
    parties.push(Party {
        id: ACCOUNT_ID.into(),
        name: "Contract account".into(),
        role: Role::Account,
    });
    let account = parties.len() - 1;
    parties.push(Party {
        id: EXTERNAL_ID.into(),
        name: "External (costs)".into(),
        role: Role::External,
    });
    let external = parties.len() - 1;
    let find = |id: &str, roles: &[Role]| -> Option<PartyId> {
        parties
            .iter()
            .position(|p| p.id == id && roles.contains(&p.role))
    };
    let list_of = |roles: &[Role]| -> String {
        let v: Vec<String> = parties
            .iter()
            .filter(|p| roles.contains(&p.role))
            .map(|p| format!("`{}`", p.id))
            .collect();
        if v.is_empty() {
            "(none declared)".into()
        } else {
            let noun = match roles {
                [Role::Payer] => "payers",
                [Role::Investor] => "investors",
                [Role::FeeRecipient] => "fee recipients",
                _ => "parties",
            };
            crate::error::id_list(&v, noun)
        }
    };
    // A payer named at `path`, or an error that lists the payers.
    let payer_at = |cx: &mut Ctx, id: &str, path: String| -> Option<PartyId> {
        let k = find(id, &[Role::Payer]);
        if k.is_none() {
            cx.err(
                path,
                format!(
                    "unknown payer `{id}`; payers are {}",
                    list_of(&[Role::Payer])
                ),
            );
        }
        k
    };

    // Cohorts.
    let mut cohorts = Vec::new();
    if raw.cohorts.is_empty() {
        cx.err(
            "cohorts",
            "at least one cohort is required ([[cohorts]] with id, enrol, size)",
        );
    }
    let mut cohort_ids = HashMap::new();
    for (i, rc) in raw.cohorts.iter().enumerate() {
        let path = format!("cohorts[{i}]");
        if let Some(m) = id_problem("cohort", "cohorts", &mut cohort_ids, i, &rc.id) {
            cx.err(format!("{path}.id"), m);
        }
        let enrol = cx.period(rc.enrol, &format!("{path}.enrol")).unwrap_or(1);
        let size = cx
            .int(
                rc.size,
                &format!("{path}.size"),
                0,
                MAX_COHORT,
                "the cohort size",
            )
            .unwrap_or(0) as u32;
        cohorts.push(Cohort {
            id: rc.id.clone(),
            enrol_period: enrol,
            size,
        });
    }
    let cohort_index = |id: &str| cohorts.iter().position(|c| c.id == id);

    // Outcomes.
    if raw.outcomes.is_empty() {
        cx.err(
            "outcomes",
            "at least one outcome is required ([[outcomes]])",
        );
    }
    let outcome_ids: Vec<&str> = raw.outcomes.iter().map(|o| o.id.as_str()).collect();
    let mut seen_o = HashMap::new();
    let mut outcomes = Vec::new();
    for (i, ro) in raw.outcomes.iter().enumerate() {
        let path = format!("outcomes[{i}]");
        if let Some(m) = id_problem("outcome", "outcomes", &mut seen_o, i, &ro.id) {
            cx.err(format!("{path}.id"), m);
        }
        if ro.id.eq_ignore_ascii_case(crate::actuals::ENROLLED) {
            cx.err(
                format!("{path}.id"),
                "`enrolled` is reserved for enrolment rows in actuals; choose another id",
            );
        }
        let kind = match ro.kind.as_deref().unwrap_or("count") {
            "count" => OutcomeKind::Count,
            "quantity" => OutcomeKind::Quantity,
            other => {
                cx.err(
                    format!("{path}.kind"),
                    format!(
                        "unknown kind `{other}`; use `count` (people) or `quantity` (days, euros)"
                    ),
                );
                OutcomeKind::Count
            }
        };
        if kind == OutcomeKind::Quantity && ro.repeatable {
            cx.err(
                format!("{path}.repeatable"),
                "`repeatable` is for count outcomes (may a person achieve it more than once?); a quantity is measured in every period anyway: remove it",
            );
        }
        let lag = cx
            .int(
                ro.lag,
                &format!("{path}.lag"),
                0,
                MAX_PERIODS,
                "the measurement lag",
            )
            .unwrap_or(0) as u16;
        let measure_periods = cx
            .int(
                ro.measure_periods.unwrap_or(1),
                &format!("{path}.measure_periods"),
                1,
                MAX_PERIODS,
                "the number of measurement periods",
            )
            .unwrap_or(1) as u16;
        let pay_lag = cx
            .int(
                ro.pay_lag.unwrap_or(0),
                &format!("{path}.pay_lag"),
                0,
                MAX_PERIODS,
                "the payment lag",
            )
            .unwrap_or(0) as u16;
        for coh in &cohorts {
            let last =
                coh.enrol_period as u32 + lag as u32 + measure_periods as u32 - 1 + pay_lag as u32;
            if last > periods as u32 {
                cx.err(
                    format!("{path}.lag"),
                    format!(
                        "cohort `{}` enrols in period {} and would be paid for `{}` in period {last} (enrolment + lag {lag} + {} measurement period(s) - 1 + pay_lag {pay_lag}), after the contract's last period {periods}; shorten the lags or lengthen the contract",
                        coh.id, coh.enrol_period, ro.id, measure_periods
                    ),
                );
                break;
            }
        }
        let requires = match &ro.requires {
            None => None,
            Some(r) => match outcome_ids.iter().position(|x| x == r) {
                Some(j) if j == i => {
                    cx.err(
                        format!("{path}.requires"),
                        "an outcome cannot require itself",
                    );
                    None
                }
                Some(j) => Some(j),
                None => {
                    cx.err(
                        format!("{path}.requires"),
                        format!(
                            "unknown outcome `{r}`; outcomes are {}",
                            crate::error::id_list(
                                &outcome_ids
                                    .iter()
                                    .map(|x| format!("`{x}`"))
                                    .collect::<Vec<_>>(),
                                "outcomes"
                            )
                        ),
                    );
                    None
                }
            },
        };
        let direction = match ro.direction.as_deref().unwrap_or("increase") {
            "increase" => Direction::Increase,
            "decrease" => Direction::Decrease,
            other => {
                cx.err(
                    format!("{path}.direction"),
                    format!("unknown direction `{other}`; use `increase` (more is better) or `decrease` (fewer is better)"),
                );
                Direction::Increase
            }
        };
        let baseline = match &ro.baseline {
            None => Baseline::None,
            Some(b) => {
                let bp = format!("{path}.baseline");
                match b.kind.as_str() {
                    "rate" => {
                        if b.forecast.is_some() {
                            cx.err(
                                format!("{bp}.forecast"),
                                "a `rate` baseline takes `rate`, not `forecast`",
                            );
                        }
                        match b.rate {
                            Some(r) => {
                                let hi = if kind == OutcomeKind::Count {
                                    "1"
                                } else {
                                    "1000000"
                                };
                                Baseline::Rate(
                                    cx.ratio(
                                        r,
                                        &format!("{bp}.rate"),
                                        "0",
                                        hi,
                                        "the baseline rate per participant",
                                    )
                                    .unwrap_or(Ratio::ZERO),
                                )
                            }
                            None => {
                                cx.err(
                                    &bp,
                                    "a `rate` baseline needs `rate = <share of the cohort>`",
                                );
                                Baseline::None
                            }
                        }
                    }
                    "forecast" => {
                        if b.rate.is_some() {
                            cx.err(
                                format!("{bp}.rate"),
                                "a `forecast` baseline takes `forecast`, not `rate`",
                            );
                        }
                        let mut v = vec![None; cohorts.len()];
                        if let Some(f) = &b.forecast {
                            for (cid, q) in f {
                                match cohort_index(cid) {
                                    Some(ci) => {
                                        v[ci] = cx.units(*q, &format!("{bp}.forecast.{cid}"), true)
                                    }
                                    None => cx.err(
                                        format!("{bp}.forecast.{cid}"),
                                        format!("unknown cohort `{cid}`"),
                                    ),
                                }
                            }
                        }
                        Baseline::Forecast(v)
                    }
                    "control-group" => {
                        if b.rate.is_some() || b.forecast.is_some() {
                            cx.err(&bp, "a `control-group` baseline is reported in the actuals; remove `rate` and `forecast`");
                        }
                        Baseline::ControlGroup
                    }
                    "none" => Baseline::None,
                    other => {
                        cx.err(
                            format!("{bp}.kind"),
                            format!(
                                "unknown baseline kind `{other}`; use one of {}",
                                one_of(&["none", "rate", "forecast", "control-group"])
                            ),
                        );
                        Baseline::None
                    }
                }
            }
        };
        if direction == Direction::Decrease && baseline == Baseline::None {
            cx.err(
                format!("{path}.direction"),
                "`decrease` pays for fewer units than a baseline, so the outcome needs a `baseline`",
            );
        }
        let mut threshold = Threshold::default();
        if let Some(t) = &ro.threshold {
            let tp = format!("{path}.threshold");
            threshold.per_cohort = t.per_cohort.and_then(|n| {
                cx.ratio(
                    n,
                    &format!("{tp}.per_cohort"),
                    "-1",
                    "100",
                    "a threshold (relative improvement)",
                )
            });
            threshold.overall = t.overall.and_then(|n| {
                cx.ratio(
                    n,
                    &format!("{tp}.overall"),
                    "-1",
                    "100",
                    "a threshold (relative improvement)",
                )
            });
            if t.per_cohort.is_none() && t.overall.is_none() {
                cx.err(&tp, "give `per_cohort`, `overall` or both");
            }
            if direction == Direction::Decrease {
                for (key, level) in [
                    ("per_cohort", threshold.per_cohort),
                    ("overall", threshold.overall),
                ] {
                    if let Some(l) = level.filter(|l| *l > Ratio::ONE) {
                        cx.err(format!("{tp}.{key}"), unreachable_level(l));
                    }
                }
            }
            if baseline == Baseline::None {
                cx.err(
                    &tp,
                    "a threshold judges improvement over a baseline; give the outcome a `baseline`",
                );
            }
        }
        let n_pricing =
            ro.price.is_some() as u8 + ro.tiers.is_some() as u8 + ro.grid.is_some() as u8;
        if n_pricing != 1 {
            cx.err(
                &path,
                "give exactly one of `price` (per unit), `tiers` (volume tiers) or `grid` (payment grid on improvement)",
            );
        }
        let pricing = if let Some(p) = ro.price {
            Pricing::Flat(cx.price(p, &format!("{path}.price")).unwrap_or_default())
        } else if let Some(tiers) = &ro.tiers {
            let mut v = Vec::new();
            let mut last_up: Option<Qty> = None;
            if tiers.is_empty() {
                cx.err(format!("{path}.tiers"), "give at least one tier");
            }
            for (k, t) in tiers.iter().enumerate() {
                let tp = format!("{path}.tiers[{k}]");
                let price = cx
                    .price(t.price, &format!("{tp}.price"))
                    .unwrap_or_default();
                let up_to = t
                    .up_to
                    .and_then(|u| cx.units(u, &format!("{tp}.up_to"), false));
                let is_last = k + 1 == tiers.len();
                match (up_to, is_last) {
                    (None, false) if t.up_to.is_none() => cx.err(
                        format!("{tp}.up_to"),
                        "every tier but the last needs `up_to` (the cumulative units where it ends)",
                    ),
                    (Some(_), true) => cx.err(
                        format!("{tp}.up_to"),
                        "the last tier is open-ended: remove its `up_to` (use an outcome cap to limit units)",
                    ),
                    _ => {}
                }
                if let (Some(u), Some(l)) = (up_to, last_up) {
                    if u <= l {
                        cx.err(
                            format!("{tp}.up_to"),
                            format!("tiers must rise: {u} is not above the previous tier's {l}"),
                        );
                    }
                }
                if up_to.is_some() {
                    last_up = up_to;
                }
                v.push(Tier { up_to, price });
            }
            Pricing::Tiers(v)
        } else if let Some(g) = &ro.grid {
            let gp = format!("{path}.grid");
            let gk = match g.kind.as_str() {
                "step" => GridKind::Step,
                "linear" => GridKind::Linear,
                other => {
                    cx.err(
                        format!("{gp}.kind"),
                        format!("unknown grid kind `{other}`; use `step` or `linear`"),
                    );
                    GridKind::Step
                }
            };
            if g.points.is_empty() {
                cx.err(
                    format!("{gp}.points"),
                    "give at least one point [improvement, amount]",
                );
            }
            let mut pts: Vec<(Ratio, Price)> = Vec::new();
            for (k, (x, y)) in g.points.iter().enumerate() {
                let pp = format!("{gp}.points[{k}]");
                let x = cx.ratio(*x, &pp, "-1", "100", "an improvement level");
                let y = cx.price(*y, &pp);
                if let (Some(x), Some(y)) = (x, y) {
                    if let Some(prev) = pts.last() {
                        if x <= prev.0 {
                            cx.err(
                                &pp,
                                format!(
                                    "improvement levels must rise: {x} is not above {}",
                                    prev.0
                                ),
                            );
                        }
                    }
                    pts.push((x, y));
                }
            }
            if baseline == Baseline::None {
                cx.err(&gp, "a payment grid pays on improvement over a baseline; give the outcome a `baseline`");
            }
            let per = match g.per.as_deref().unwrap_or("participant") {
                "participant" => GridPer::Participant,
                "cohort" => GridPer::Cohort,
                other => {
                    cx.err(
                        format!("{gp}.per"),
                        format!(
                            "unknown grid basis `{other}`; use `participant` (the amount per enrolled participant, the default) or `cohort` (the amount for the cohort as a whole)"
                        ),
                    );
                    GridPer::Participant
                }
            };
            Pricing::Grid {
                kind: gk,
                points: pts,
                per,
            }
        } else {
            Pricing::Flat(Price(0))
        };
        let mut caps = OutcomeCaps::default();
        if let Some(c) = &ro.cap {
            let cp = format!("{path}.cap");
            caps.max_units = c
                .units
                .and_then(|u| cx.units(u, &format!("{cp}.units"), false));
            caps.max_amount = c
                .amount
                .and_then(|a| cx.money(a, &format!("{cp}.amount"), false));
            caps.max_share = c.share.and_then(|s| {
                cx.ratio(
                    s,
                    &format!("{cp}.share"),
                    "0",
                    "1",
                    "a share of participants",
                )
            });
            if matches!(pricing, Pricing::Grid { .. }) && (c.units.is_some() || c.share.is_some()) {
                cx.err(
                    &cp,
                    "a grid pays on the cohort's improvement, not per unit, so unit caps do not apply; use `amount`",
                );
            }
            if c.units.is_none() && c.amount.is_none() && c.share.is_none() {
                cx.err(&cp, "give `units`, `amount` or `share`");
            }
        }
        let mut payers = Vec::new();
        match &ro.payers {
            None => {
                let all: Vec<PartyId> = parties
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.role == Role::Payer)
                    .map(|(i, _)| i)
                    .collect();
                if all.len() == 1 {
                    payers.push((all[0], Ratio::ONE));
                } else if all.len() > 1 {
                    cx.err(
                        format!("{path}.payers"),
                        format!("there are several payers, so say who pays this outcome, e.g. payers = {{ {} = 1.0 }}", parties[all[0]].id),
                    );
                }
            }
            Some(m) => {
                for (pid, share) in m {
                    let pp = format!("{path}.payers.{pid}");
                    if let Some(k) = payer_at(&mut cx, pid, pp.clone())
                        && let Some(s) = cx.ratio(*share, &pp, "0", "1", "a payer's share")
                    {
                        payers.push((k, s));
                    }
                }
                payers.sort_by_key(|(k, _)| *k);
                // Judge the sum only when every share was accepted (no follow-on complaint).
                if !payers.is_empty() && payers.len() == m.len() && !sum_is_one(&payers) {
                    let sum: Decimal = payers.iter().map(|(_, r)| r.to_decimal()).sum();
                    cx.err(
                        format!("{path}.payers"),
                        format!(
                            "payer shares must add up to 1, but they add up to {}",
                            sum.normalize()
                        ),
                    );
                }
            }
        }
        outcomes.push(Outcome {
            id: ro.id.clone(),
            name: ro.name.clone().unwrap_or_else(|| ro.id.clone()),
            unit: ro.unit.clone().unwrap_or_else(|| match kind {
                OutcomeKind::Count => "person".into(),
                OutcomeKind::Quantity => "unit".into(),
            }),
            kind,
            repeatable: ro.repeatable,
            requires,
            lag,
            measure_periods,
            pay_lag,
            direction,
            baseline,
            threshold,
            pricing,
            caps,
            payers,
            per_participant: false,
        });
    }
    // Chains: no cycles, prerequisites declared first, counts only, measured no earlier.
    for i in 0..outcomes.len() {
        let mut seen = vec![i];
        let mut cur = outcomes[i].requires;
        while let Some(j) = cur {
            if seen.contains(&j) {
                if j == i {
                    let names: Vec<&str> = seen
                        .iter()
                        .chain(std::iter::once(&j))
                        .map(|&k| outcomes[k].id.as_str())
                        .collect();
                    cx.err(
                        format!("outcomes[{i}].requires"),
                        format!("chained outcomes form a cycle: {}; a chain must start at an outcome that requires nothing", names.join(" requires ")),
                    );
                }
                break;
            }
            seen.push(j);
            cur = outcomes[j].requires;
        }
    }
    if !cx.errs.iter().any(|e| e.message.contains("cycle")) {
        for i in 0..outcomes.len() {
            if let Some(j) = outcomes[i].requires {
                let path = format!("outcomes[{i}].requires");
                if j > i {
                    cx.err(
                        &path,
                        format!(
                            "declare `{}` before `{}`, which requires it",
                            outcomes[j].id, outcomes[i].id
                        ),
                    );
                }
                if outcomes[i].kind != OutcomeKind::Count || outcomes[j].kind != OutcomeKind::Count
                {
                    cx.err(
                        &path,
                        "chained outcomes count people: both outcomes must be `count`",
                    );
                }
                if outcomes[i].lag < outcomes[j].lag {
                    cx.err(
                        format!("outcomes[{i}].lag"),
                        format!("`{}` (lag {}) would be measured before `{}` (lag {}), which it requires", outcomes[i].id, outcomes[i].lag, outcomes[j].id, outcomes[j].lag),
                    );
                }
            }
        }
    }

    // Per-participant cap.
    let participant_cap = raw.participant_cap.as_ref().and_then(|pc| {
        let amount = cx.money(pc.amount, "participant_cap.amount", false);
        let mut list = Vec::new();
        if pc.outcomes.is_empty() {
            cx.err(
                "participant_cap.outcomes",
                "name the outcomes the cap covers",
            );
        }
        // Outcomes named in the list (valid or not) and those that qualify.
        let mut named: Vec<usize> = Vec::new();
        for (k, oid) in pc.outcomes.iter().enumerate() {
            let pp = format!("participant_cap.outcomes[{k}]");
            let Some(o) = outcomes.iter().position(|x| &x.id == oid) else {
                cx.err(&pp, format!("unknown outcome `{oid}`"));
                continue;
            };
            if list.contains(&o) {
                cx.err(&pp, format!("`{oid}` is listed twice"));
                continue;
            }
            let out = &outcomes[o];
            let problem = if out.kind != OutcomeKind::Count {
                Some("it must be a `count` outcome")
            } else if out.repeatable {
                Some("it must not be repeatable")
            } else if !matches!(out.pricing, Pricing::Flat(_)) {
                Some("it must have a flat `price` (no tiers or grid)")
            } else if out.baseline != Baseline::None || out.threshold != Threshold::default() {
                Some("it must not have a baseline or threshold")
            } else {
                None
            };
            named.push(o);
            if let Some(why) = problem {
                cx.err(
                    &pp,
                    format!("`{oid}` cannot be settled per participant: {why}"),
                );
                continue;
            }
            list.push(o);
        }
        for &o in &list {
            if let Some(r) = outcomes[o].requires {
                // A prerequisite named but refused above has its own error already.
                if !named.contains(&r) {
                    cx.err(
                        "participant_cap.outcomes",
                        format!(
                            "`{}` requires `{}`, so `{}` must be in the list too",
                            outcomes[o].id, outcomes[r].id, outcomes[r].id
                        ),
                    );
                }
            }
        }
        amount.map(|a| ParticipantCap {
            amount: a,
            outcomes: list,
        })
    });
    if let Some(pc) = &participant_cap {
        for &o in &pc.outcomes {
            outcomes[o].per_participant = true;
        }
    }

    // Fixed payments.
    let mut fixed_payments = Vec::new();
    for (i, f) in raw.fixed_payments.iter().enumerate() {
        let path = format!("fixed_payments[{i}]");
        let period = cx.period(f.period, &format!("{path}.period"));
        let payer = payer_at(&mut cx, &f.payer, format!("{path}.payer"));
        let amount = cx.money(f.amount, &format!("{path}.amount"), false);
        if let (Some(period), Some(payer), Some(amount)) = (period, payer, amount) {
            fixed_payments.push(FixedPayment {
                period,
                payer,
                amount,
            });
        }
    }

    // Inflow guarantees.
    let mut inflow_guarantees = Vec::new();
    for (i, g) in raw.inflow_guarantees.iter().enumerate() {
        let path = format!("inflow_guarantees[{i}]");
        let payer = payer_at(&mut cx, &g.payer, format!("{path}.payer"));
        let to = match g.to.as_deref().unwrap_or("account") {
            "account" => Some(account),
            "enterprise" => Some(enterprise),
            other => {
                cx.err(
                    format!("{path}.to"),
                    format!("unknown recipient `{other}`; use `account` (the contract account, through the waterfall) or `enterprise`"),
                );
                None
            }
        };
        let judged = match g.judged.as_deref().unwrap_or("per-cohort") {
            "per-cohort" => Some(InflowJudged::PerCohort),
            "overall" => Some(InflowJudged::Overall),
            other => {
                cx.err(
                    format!("{path}.judged"),
                    format!("unknown rule `{other}`; use `per-cohort` (each cohort when it enrols) or `overall` (the covered cohorts together, when the last of them enrols)"),
                );
                None
            }
        };
        let share = match g.share {
            None => Some(Ratio::ONE),
            Some(n) => match Ratio::from_decimal(n.0) {
                // More than 0 once read to 12 places, as it is used. (The words matter: the
                // solver reads "decimals" in a message as a refused precision.)
                Some(r) if r.0 > 0 && r <= Ratio::ONE => Some(r),
                _ => {
                    let tiny = n.0 > Decimal::ZERO && n.0 < Decimal::ONE;
                    cx.err(
                        format!("{path}.share"),
                        format!(
                            "the promised share of each cohort's target must be more than 0 and at most 1, got {}{}",
                            n.0,
                            if tiny { " (0 when read to 12 places)" } else { "" }
                        ),
                    );
                    None
                }
            },
        };
        let pm = format!("{path}.per_missing");
        let per_missing = if g.per_missing.0 <= Decimal::ZERO {
            cx.err(
                &pm,
                format!(
                    "the amount per participant short of the promise must be more than 0, got {}",
                    g.per_missing.0
                ),
            );
            None
        } else {
            cx.price(g.per_missing, &pm)
        };
        let pay_lag = cx.int(
            g.pay_lag,
            &format!("{path}.pay_lag"),
            0,
            MAX_PERIODS,
            "the payment lag",
        );
        let mut covered = Vec::new();
        match &g.cohorts {
            None => covered.extend(0..cohorts.len()),
            Some(ids) => {
                if ids.is_empty() {
                    cx.err(
                        format!("{path}.cohorts"),
                        "list at least one cohort, or leave `cohorts` out to cover them all",
                    );
                }
                for (j, id) in ids.iter().enumerate() {
                    match cohorts.iter().position(|c| &c.id == id) {
                        Some(k) if covered.contains(&k) => cx.err(
                            format!("{path}.cohorts[{j}]"),
                            format!("cohort `{id}` is listed twice"),
                        ),
                        Some(k) => covered.push(k),
                        None => cx.err(
                            format!("{path}.cohorts[{j}]"),
                            format!(
                                "unknown cohort `{id}`; cohorts are {}",
                                cohort_list(&cohorts)
                            ),
                        ),
                    }
                }
                covered.sort_unstable();
            }
        }
        if let Some(lag) = pay_lag {
            for &k in &covered {
                let coh = &cohorts[k];
                let last = coh.enrol_period as i64 + lag;
                if last > periods as i64 {
                    cx.err(
                        format!("{path}.pay_lag"),
                        format!(
                            "cohort `{}` enrols in period {} and its inflow compensation would be paid in period {last} (enrolment + pay_lag {lag}), after the contract's last period {periods}; shorten the lags or lengthen the contract",
                            coh.id, coh.enrol_period
                        ),
                    );
                    break;
                }
            }
        }
        if let (Some(payer), Some(to), Some(judged), Some(share), Some(per_missing), Some(lag)) =
            (payer, to, judged, share, per_missing, pay_lag)
            && !covered.is_empty()
        {
            inflow_guarantees.push(InflowGuarantee {
                payer,
                to,
                cohorts: covered,
                share,
                per_missing,
                pay_lag: lag as u16,
                judged,
            });
        }
    }

    // Checkpoints.
    let mut checkpoints = Vec::new();
    for (i, ck) in raw.checkpoints.iter().enumerate() {
        let path = format!("checkpoints[{i}]");
        let period = cx.period(ck.period, &format!("{path}.period"));
        let o = outcomes.iter().position(|x| x.id == ck.outcome);
        if o.is_none() {
            cx.err(
                format!("{path}.outcome"),
                format!("unknown outcome `{}`", ck.outcome),
            );
        }
        let test = match (ck.min_improvement, ck.min_rate) {
            (Some(n), None) => {
                if let Some(o) = o {
                    if outcomes[o].baseline == Baseline::None {
                        cx.err(
                            format!("{path}.min_improvement"),
                            "improvement needs a baseline on the outcome; use `min_rate` instead",
                        );
                    }
                }
                let floor = cx.ratio(
                    n,
                    &format!("{path}.min_improvement"),
                    "-1",
                    "100",
                    "a floor on improvement",
                );
                if let (Some(o), Some(l)) = (o, floor)
                    && outcomes[o].direction == Direction::Decrease
                    && l > Ratio::ONE
                {
                    cx.err(format!("{path}.min_improvement"), unreachable_level(l));
                }
                floor.map(CheckpointTest::MinImprovement)
            }
            (None, Some(n)) => cx
                .ratio(
                    n,
                    &format!("{path}.min_rate"),
                    "0",
                    "1000000",
                    "a floor on the rate",
                )
                .map(CheckpointTest::MinRate),
            _ => {
                cx.err(&path, "give exactly one of `min_improvement` or `min_rate`");
                None
            }
        };
        // A checkpoint before anything of its outcome is measured would judge nothing: a
        // `min_rate` test fails then and ends every contract, which no file means. Cohorts
        // planned empty do not count as measured (only an empty cohort would be judged).
        let planned: Vec<&Cohort> = match cohorts.iter().filter(|k| k.size > 0).count() {
            0 => cohorts.iter().collect(),
            _ => cohorts.iter().filter(|k| k.size > 0).collect(),
        };
        if let (Some(period), Some(o)) = (period, o)
            && let Some(first) = planned
                .iter()
                .map(|coh| outcomes[o].first_measure(coh.enrol_period))
                .min()
            && first > period
        {
            let why = match test {
                Some(CheckpointTest::MinImprovement(_)) => {
                    "its improvement would be 0 whatever happens"
                }
                _ => "a `min_rate` test then fails and ends the contract",
            };
            cx.err(
                format!("{path}.period"),
                format!(
                    "`{}` is first measured in period {first}, so a checkpoint in period {period} would judge nothing measured ({why}); move the checkpoint to period {first} or later",
                    ck.outcome
                ),
            );
        }
        if let (Some(period), Some(outcome), Some(test)) = (period, o, test) {
            checkpoints.push(Checkpoint {
                period,
                outcome,
                test,
            });
        }
    }

    // Tranches.
    let per_year = period_length.per_year();
    let mut tranches = Vec::new();
    let mut tranche_ids = HashMap::new();
    let mut committed_ok = Vec::new();
    if raw.tranches.is_empty() && raw.drawdown.is_some() {
        cx.err(
            "drawdown",
            "a drawdown schedule needs tranches to draw from",
        );
    }
    for (i, rt) in raw.tranches.iter().enumerate() {
        let path = format!("tranches[{i}]");
        if let Some(m) = id_problem("tranche", "tranches", &mut tranche_ids, i, &rt.id) {
            cx.err(format!("{path}.id"), m);
        }
        let investor = find(&rt.investor, &[Role::Investor]);
        if investor.is_none() {
            cx.err(
                format!("{path}.investor"),
                format!(
                    "unknown investor `{}`; investors are {}",
                    rt.investor,
                    list_of(&[Role::Investor])
                ),
            );
        }
        let committed = cx.money(rt.committed, &format!("{path}.committed"), false);
        committed_ok.push(committed.is_some());
        let committed = committed.unwrap_or(Money::ZERO);
        let annual = rt
            .rate
            .map(|r| {
                cx.ratio(r, &format!("{path}.rate"), "0", "1", "an annual rate")
                    .unwrap_or(Ratio::ZERO)
            })
            .unwrap_or(Ratio::ZERO);
        let period_rate = if compound {
            compound_period_rate(annual, per_year)
        } else {
            Ratio(crate::money::div_round(annual.0 as i128, per_year as i128) as i64)
        };
        let rank = cx
            .int(
                rt.rank,
                &format!("{path}.rank"),
                1,
                1000,
                "the rank (1 is paid first)",
            )
            .unwrap_or(1) as u16;
        let drawdowns = match &rt.drawdowns {
            Some(s) => cx.schedule(s, &format!("{path}.drawdowns")),
            None => {
                if raw.drawdown.is_none() {
                    cx.err(
                        format!("{path}.drawdowns"),
                        "give the tranche's `drawdowns` or a contract-wide [drawdown] schedule split pro rata to commitments",
                    );
                }
                vec![Money::ZERO; periods as usize + 1]
            }
        };
        let guarantee = rt.guarantee.as_ref().map(|g| {
            let gp = format!("{path}.guarantee");
            let mut gs = Vec::new();
            for (gid, share) in &g.guarantors {
                let pp = format!("{gp}.guarantors.{gid}");
                match find(gid, &[Role::Payer, Role::Guarantor]) {
                    Some(k) => {
                        if let Some(s) = cx.ratio(*share, &pp, "0", "1", "a guarantor's share") {
                            gs.push((k, s));
                        }
                    }
                    None => cx.err(
                        &pp,
                        format!("unknown guarantor `{gid}`; a guarantor must be a payer or a declared guarantor: {}", list_of(&[Role::Payer, Role::Guarantor])),
                    ),
                }
            }
            gs.sort_by_key(|(k, _)| *k);
            if g.guarantors.is_empty() {
                cx.err(format!("{gp}.guarantors"), "name at least one guarantor with its share");
            } else if gs.len() == g.guarantors.len() && !sum_is_one(&gs) {
                cx.err(format!("{gp}.guarantors"), "guarantor shares must add up to 1");
            }
            Guarantee {
                guarantors: gs,
                limit: g.limit.and_then(|l| cx.money(l, &format!("{gp}.limit"), false)),
                fraction: g.fraction.and_then(|f| cx.ratio(f, &format!("{gp}.fraction"), "0", "1", "the guaranteed fraction of principal")),
            }
        });
        let allocation = match rt.allocation.as_deref().unwrap_or("principal-first") {
            "principal-first" => Allocation::PrincipalFirst,
            "interest-first" => Allocation::InterestFirst,
            other => {
                cx.err(
                    format!("{path}.allocation"),
                    format!(
                        "unknown allocation `{other}`; use one of {} (how a distribution counts against principal and interest)",
                        one_of(&["principal-first", "interest-first"])
                    ),
                );
                Allocation::PrincipalFirst
            }
        };
        tranches.push(Tranche {
            id: rt.id.clone(),
            investor: investor.unwrap_or(0),
            committed,
            drawdowns,
            annual_rate: annual,
            period_rate,
            rank,
            guarantee,
            allocation,
        });
    }
    if let Some(dd) = &raw.drawdown {
        let sched = cx.schedule(dd, "drawdown");
        // Split only over the tranches without a schedule of their own, so nothing is lost.
        let weights: Vec<i64> = tranches
            .iter()
            .enumerate()
            .map(|(k, t)| {
                if raw.tranches[k].drawdowns.is_none() {
                    t.committed.0
                } else {
                    0
                }
            })
            .collect();
        // (Weights all 0 because a commitment was refused is reported there, not here.)
        if !tranches.is_empty() && raw.tranches.iter().all(|t| t.drawdowns.is_some()) {
            cx.err(
                "drawdown",
                "every tranche has its own `drawdowns`, so the contract-wide [drawdown] schedule would draw from none; remove one or the other",
            );
        }
        let mut parts = vec![Money::ZERO; tranches.len()];
        for (p, amount) in sched.iter().enumerate() {
            if amount.0 == 0 || weights.iter().all(|&w| w == 0) {
                continue;
            }
            crate::money::split_largest_remainder(*amount, &weights, &mut parts);
            for (k, t) in tranches.iter_mut().enumerate() {
                if raw.tranches[k].drawdowns.is_none() {
                    t.drawdowns[p] += parts[k];
                }
            }
        }
    }
    // The contract-wide schedule is split pro rata to the commitments, so one rejected
    // commitment (its stand-in 0) skews every tranche's share of it.
    let split_ok = committed_ok.iter().all(|&ok| ok);
    for (i, t) in tranches.iter().enumerate() {
        let total: Money = t.drawdowns.iter().copied().sum();
        // A rejected commitment was already reported; do not compare against its stand-in 0.
        if committed_ok[i]
            && (split_ok || raw.tranches[i].drawdowns.is_some())
            && total > t.committed
        {
            cx.err(
                format!("tranches[{i}].committed"),
                format!(
                    "drawdowns add up to {} but only {} is committed",
                    crate::money::format_thousands(total),
                    crate::money::format_thousands(t.committed)
                ),
            );
        }
    }

    // Fees.
    let mut fees = Vec::new();
    for (i, f) in raw.fees.iter().enumerate() {
        let path = format!("fees[{i}]");
        let payee = find(&f.payee, &[Role::FeeRecipient]);
        if payee.is_none() {
            cx.err(
                format!("{path}.payee"),
                format!(
                    "unknown fee recipient `{}`; declare it under [[fee_recipients]] ({})",
                    f.payee,
                    match list_of(&[Role::FeeRecipient]) {
                        l if l.starts_with('(') => "none is declared yet".to_string(),
                        l => format!("declared: {l}"),
                    }
                ),
            );
        }
        let schedule = cx.schedule(&f.schedule, &format!("{path}.schedule"));
        fees.push(Fee {
            id: f.id.clone(),
            payee: payee.unwrap_or(0),
            schedule,
        });
    }

    // Enterprise terms.
    let zero = vec![Money::ZERO; periods as usize + 1];
    let enterprise_terms = EnterpriseTerms {
        fixed_costs: re
            .fixed_costs
            .as_ref()
            .map(|s| cx.schedule(s, "enterprise.fixed_costs"))
            .unwrap_or_else(|| zero.clone()),
        per_participant_cost: re
            .per_participant_cost
            .and_then(|n| cx.price(n, "enterprise.per_participant_cost"))
            .unwrap_or_default(),
        deferred_fees: re
            .deferred_fees
            .as_ref()
            .map(|s| cx.schedule(s, "enterprise.deferred_fees"))
            .unwrap_or(zero),
        performance_share: re
            .performance_share
            .and_then(|n| {
                cx.ratio(
                    n,
                    "enterprise.performance_share",
                    "0",
                    "1",
                    "the performance share",
                )
            })
            .unwrap_or(Ratio::ZERO),
        return_unspent: match re.return_unspent.as_deref().unwrap_or("never") {
            "never" => ReturnUnspent::Never,
            "on-termination" => ReturnUnspent::OnTermination,
            "at-end" => ReturnUnspent::AtEnd,
            other => {
                cx.err(
                    "enterprise.return_unspent",
                    format!(
                        "unknown rule `{other}` for the capital the enterprise has not spent; use one of {}",
                        one_of(&["never", "on-termination", "at-end"])
                    ),
                );
                ReturnUnspent::Never
            }
        },
    };

    contract_bounds(
        raw,
        &mut cx,
        &fixed_payments,
        &fees,
        &enterprise_terms,
        &tranches,
    );
    if !cx.errs.is_empty() {
        return Err(cx.errs);
    }
    let mut contract = Contract {
        name: rc.name.clone(),
        currency: rc.currency.clone(),
        periods,
        period_length,
        start_date: rc.start.clone(),
        parties,
        account,
        external,
        enterprise,
        cohorts,
        outcomes,
        participant_cap,
        total_cap,
        fixed_payments,
        inflow_guarantees,
        pay_only_due: rc.pay_only_due,
        checkpoints,
        tranches,
        fees,
        enterprise_terms,
        remainder,
        discount_rate,
        mkba: None,
        facts: crate::mkba::Facts::default(),
    };
    super::business::validate(raw, &mut contract, &mut cx);
    if !cx.errs.is_empty() {
        return Err(cx.errs);
    }
    Ok(contract)
}

/// The most entries of each list a contract may have: far above any real contract, and low
/// enough that every index fits the settlement's 16-bit slots and that the claims of all
/// tranches, each kept within [`crate::settlement::LIMIT`] as it grows, add up within `i64`.
pub const MAX_ENTRIES: [(&str, usize); 11] = [
    ("payers", 1_000),
    ("investors", 1_000),
    ("guarantors", 1_000),
    ("fee_recipients", 1_000),
    ("cohorts", 10_000),
    ("outcomes", 1_000),
    ("fixed_payments", 10_000),
    ("inflow_guarantees", 1_000),
    ("checkpoints", 1_000),
    ("tranches", 100),
    ("fees", 100),
];

/// The most cells (outcomes x cohorts x periods) a contract may have: the settlement keeps
/// what each outcome achieved for each cohort in each period, about 24 bytes a cell (384 MB
/// at this bound; 1,000 outcomes, 10,000 cohorts and 1,200 periods together would need 288
/// GB, and the allocation aborted the run).
pub const MAX_CELLS: u64 = 16_000_000;

/// Bounds on the contract as a whole: how many entries each list has ([`MAX_ENTRIES`]), and
/// the amounts the settlement adds up without a check as it goes (fixed payments, fees,
/// enterprise costs and deferred fees, commitments), each total within
/// [`crate::settlement::LIMIT`], so that no sum of them can leave `i64`.
fn contract_bounds(
    raw: &RawScenario,
    cx: &mut Ctx,
    fixed_payments: &[FixedPayment],
    fees: &[Fee],
    enterprise: &EnterpriseTerms,
    tranches: &[Tranche],
) {
    let lens = [
        raw.payers.len(),
        raw.investors.len(),
        raw.guarantors.len(),
        raw.fee_recipients.len(),
        raw.cohorts.len(),
        raw.outcomes.len(),
        raw.fixed_payments.len(),
        raw.inflow_guarantees.len(),
        raw.checkpoints.len(),
        raw.tranches.len(),
        raw.fees.len(),
    ];
    for ((path, max), n) in MAX_ENTRIES.into_iter().zip(lens) {
        if n > max {
            cx.err(
                path,
                format!(
                    "{} entries; a contract has at most {} `{path}`",
                    crate::chart::theme::thousands(n as f64),
                    crate::chart::theme::thousands(max as f64)
                ),
            );
        }
    }
    let cells = raw.outcomes.len() as u64
        * raw.cohorts.len() as u64
        * raw.contract.periods.clamp(0, u16::MAX as i64) as u64;
    if cells > MAX_CELLS {
        cx.err(
            "outcomes",
            format!(
                "{} outcomes x {} cohorts x {} periods: {} cells of settlement state, more than the {} a contract may have (about 24 bytes each); use fewer outcomes, cohorts or periods (a cohort can stand for several periods' enrolment)",
                crate::chart::theme::thousands(raw.outcomes.len() as f64),
                crate::chart::theme::thousands(raw.cohorts.len() as f64),
                crate::chart::theme::thousands(raw.contract.periods as f64),
                crate::chart::theme::thousands(cells as f64),
                crate::chart::theme::thousands(MAX_CELLS as f64),
            ),
        );
    }
    let limit = crate::settlement::LIMIT.0 as i128;
    let total = |xs: &mut dyn Iterator<Item = Money>| xs.map(|m| m.0 as i128).sum::<i128>();
    let too_much = |cx: &mut Ctx, path: &str, what: &str, t: i128| {
        cx.err(
            path,
            format!(
                "{what} add up to {}{}; all together they may come to at most {}",
                if t > i64::MAX as i128 {
                    "more than "
                } else {
                    ""
                },
                crate::money::format_thousands(Money(t.min(i64::MAX as i128) as i64)),
                crate::money::format_thousands(crate::settlement::LIMIT)
            ),
        );
    };
    let t = total(&mut fixed_payments.iter().map(|f| f.amount));
    if t > limit {
        too_much(cx, "fixed_payments", "the fixed payments", t);
    }
    let t = total(&mut fees.iter().flat_map(|f| f.schedule.iter().copied()));
    if t > limit {
        too_much(cx, "fees", "the fees over all periods", t);
    }
    let t = total(
        &mut enterprise
            .fixed_costs
            .iter()
            .chain(&enterprise.deferred_fees)
            .copied(),
    );
    if t > limit {
        too_much(
            cx,
            "enterprise",
            "the enterprise's fixed costs and deferred fees over all periods",
            t,
        );
    }
    let t = total(&mut tranches.iter().map(|t| t.committed));
    if t > limit {
        too_much(cx, "tranches", "the tranches' commitments", t);
    }
}

/// The cohorts' identifiers for a message: "`a`, `b`, `c`" (the first ten, then how many more).
/// What is wrong with entry `i`'s id `id` of `array` (`cohorts`), given the ids `seen` before
/// it (each with its entry): empty, or already used, and by which entry.
fn id_problem(
    kind: &str,
    array: &str,
    seen: &mut HashMap<String, usize>,
    i: usize,
    id: &str,
) -> Option<String> {
    if id.trim().is_empty() {
        return Some(format!("a {kind} id may not be empty"));
    }
    match seen.get(id) {
        Some(&first) => Some(format!(
            "{kind} id `{id}` is already used by {array}[{first}]; each {kind} needs an id of its own"
        )),
        None => {
            seen.insert(id.to_string(), i);
            None
        }
    }
}

fn cohort_list(cohorts: &[Cohort]) -> String {
    let mut v: Vec<String> = cohorts
        .iter()
        .take(10)
        .map(|c| format!("`{}`", c.id))
        .collect();
    if cohorts.len() > 10 {
        v.push(format!("and {} more", cohorts.len() - 10));
    }
    if v.is_empty() {
        "(none declared)".into()
    } else {
        v.join(", ")
    }
}

/// Why an improvement level above 1 can never be reached on a `decrease` outcome (a percent
/// written for a fraction, most likely).
fn unreachable_level(l: Ratio) -> String {
    let v = l.to_decimal().normalize();
    format!(
        "{v} can never be reached: where fewer is better the improvement is at most 1 (nothing left of the baseline); a level is a fraction of the baseline, so write {} for {v}%",
        (l.to_decimal() / rust_decimal::Decimal::ONE_HUNDRED).normalize()
    )
}
