//! The scenario file as written: plain serde structs that reject unknown fields. Nothing here
//! is validated beyond types; [`super::validate`] turns it into a [`crate::contract::Contract`].

use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A number as written: an integer, a float (read back exactly as its shortest decimal form,
/// so `1500.10` is exactly 1500.1) or a string such as `"1500.10"` for more than 15 digits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num(pub Decimal);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number (or a number in a string, such as \"1500.25\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Num, E> {
                if !v.is_finite() {
                    return Err(E::custom("a finite number is required, not inf or nan"));
                }
                float_decimal(v).map(Num).ok_or_else(|| {
                    E::custom(format!(
                        "the number {v:e} is {}; {}",
                        if v < 0.0 {
                            "too far below zero"
                        } else {
                            "too large"
                        },
                        crate::money::LARGEST_NUMBERS
                    ))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Num, E> {
                crate::money::parse_number(v)
                    .map(Num)
                    .map_err(|p| E::custom(p.describe(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The decimal a float in the file stands for, as [`Num`] reads it: its shortest decimal form
/// (`1500.1`), or `None` beyond what a decimal holds.
pub fn float_decimal(v: f64) -> Option<Decimal> {
    Decimal::from_str(&format!("{v}"))
        .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
        .ok()
}

/// `start`: a date as text (`"2014-01-01"`) or a TOML date (`2014-01-01`), kept as written.
fn date_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<toml::Value>::deserialize(d)? {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(toml::Value::Datetime(t)) => Ok(Some(t.to_string())),
        Some(v) => Err(serde::de::Error::custom(format!(
            "expected a date such as 2014-01-01 or \"2014-01-01\", got {}",
            match v {
                toml::Value::Integer(_) | toml::Value::Float(_) => "a number",
                toml::Value::Boolean(_) => "true or false",
                toml::Value::Array(_) => "an array",
                _ => "a table",
            }
        ))),
    }
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub contract: RawContract,
    #[serde(default)]
    pub payers: Vec<RawParty>,
    #[serde(default)]
    pub investors: Vec<RawParty>,
    #[serde(default)]
    pub guarantors: Vec<RawParty>,
    #[serde(default)]
    pub fee_recipients: Vec<RawParty>,
    pub enterprise: RawEnterprise,
    #[serde(default)]
    pub cohorts: Vec<RawCohort>,
    #[serde(default)]
    pub outcomes: Vec<RawOutcome>,
    pub participant_cap: Option<RawParticipantCap>,
    #[serde(default)]
    pub fixed_payments: Vec<RawFixedPayment>,
    #[serde(default)]
    pub inflow_guarantees: Vec<RawInflowGuarantee>,
    #[serde(default)]
    pub checkpoints: Vec<RawCheckpoint>,
    #[serde(default)]
    pub tranches: Vec<RawTranche>,
    pub drawdown: Option<RawSchedule>,
    #[serde(default)]
    pub fees: Vec<RawFee>,
    /// The uncertainty model (Monte Carlo); kept as a table here and read by `crate::model`.
    pub uncertainty: Option<toml::Table>,
    /// Named stresses: overrides with a name and a description.
    #[serde(default)]
    pub stresses: Vec<RawStress>,
    /// The social cost-benefit analysis (MKBA).
    pub mkba: Option<RawMkba>,
    /// Declared facts for the feasibility check.
    pub facts: Option<RawFacts>,
    /// Settings of the feasibility check.
    pub feasibility: Option<RawFeasibility>,
}

/// `[mkba]`: the social cost-benefit analysis.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMkba {
    pub discount_rate: Option<Num>,
    pub horizon_years: Option<i64>,
    /// Where an outcome's effect years start: `contract-start` (default) or `measurement`.
    pub effect_from: Option<String>,
    /// Beneficiaries outside the contract (a contract party may benefit too).
    #[serde(default)]
    pub beneficiaries: Vec<RawParty>,
    #[serde(default)]
    pub outcomes: Vec<RawMkbaOutcome>,
}

/// `[[mkba.outcomes]]`: one outcome's value and corrections.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMkbaOutcome {
    pub outcome: String,
    /// Value of one case to each beneficiary (EUR/IND split by who saves).
    pub values: BTreeMap<String, Num>,
    pub deadweight: Option<Num>,
    pub attribution: Option<Num>,
    pub substitution: Option<Num>,
    pub realisation: Option<RawRealisation>,
    pub drop_off: Option<Num>,
    /// What IND counts: `achieved` or `improvement` (on the baseline).
    pub ind: Option<String>,
}

/// Share of the effect realised in the short, medium and long term.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealisation {
    pub short: Num,
    pub medium: Num,
    pub long: Num,
}

/// `[facts]`: what the scenario declares for the decision tree.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFacts {
    pub inflow_guaranteed: Option<bool>,
    pub data_delivery_guaranteed: Option<bool>,
    #[serde(default)]
    pub preparation_costs: BTreeMap<String, Num>,
    #[serde(default)]
    pub transaction_costs: BTreeMap<String, Num>,
    #[serde(default)]
    pub outcomes: BTreeMap<String, RawOutcomeFacts>,
    #[serde(default)]
    pub investors: BTreeMap<String, RawInvestorFacts>,
}

/// `[facts.outcomes.<id>]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutcomeFacts {
    pub measurement: Option<String>,
    pub evidence: Option<String>,
}

/// `[facts.investors.<tranche id>]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInvestorFacts {
    pub committed: Option<bool>,
    pub hurdle_irr: Option<Num>,
}

/// `[feasibility]`: thresholds of the decision tree's nodes, by node id.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeasibility {
    #[serde(default)]
    pub thresholds: BTreeMap<String, Num>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStress {
    pub id: String,
    pub description: Option<String>,
    pub set: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    pub name: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    pub periods: i64,
    pub period: String,
    #[serde(default, deserialize_with = "date_text")]
    pub start: Option<String>,
    pub discount_rate: Option<Num>,
    #[serde(default)]
    pub pay_only_due: bool,
    pub total_cap: Option<Num>,
    pub remainder: Option<String>,
    pub rate_basis: Option<String>,
}

fn default_currency() -> String {
    "EUR".to_string()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParty {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnterprise {
    pub id: String,
    pub name: Option<String>,
    pub fixed_costs: Option<RawSchedule>,
    pub per_participant_cost: Option<Num>,
    pub deferred_fees: Option<RawSchedule>,
    pub performance_share: Option<Num>,
    pub return_unspent: Option<String>,
}

/// Amounts over periods: `{ amount = 15000, from = 1, to = 12 }` or `{ at = [[1, 5000], ...] }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub amount: Option<Num>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub at: Option<Vec<(i64, Num)>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCohort {
    pub id: String,
    pub enrol: i64,
    pub size: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutcome {
    pub id: String,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub repeatable: bool,
    pub requires: Option<String>,
    pub lag: i64,
    pub measure_periods: Option<i64>,
    pub pay_lag: Option<i64>,
    pub direction: Option<String>,
    pub baseline: Option<RawBaseline>,
    pub threshold: Option<RawThreshold>,
    pub price: Option<Num>,
    pub tiers: Option<Vec<RawTier>>,
    pub grid: Option<RawGrid>,
    pub cap: Option<RawCap>,
    pub payers: Option<BTreeMap<String, Num>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBaseline {
    pub kind: String,
    pub rate: Option<Num>,
    pub forecast: Option<BTreeMap<String, Num>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub per_cohort: Option<Num>,
    pub overall: Option<Num>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub up_to: Option<Num>,
    pub price: Num,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    pub kind: String,
    pub points: Vec<(Num, Num)>,
    pub per: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCap {
    pub units: Option<Num>,
    pub amount: Option<Num>,
    pub share: Option<Num>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParticipantCap {
    pub amount: Num,
    pub outcomes: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixedPayment {
    pub period: i64,
    pub payer: String,
    pub amount: Num,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInflowGuarantee {
    pub payer: String,
    /// Cohort identifiers; all cohorts when absent.
    pub cohorts: Option<Vec<String>>,
    /// Promised share of each cohort's target; 1 when absent.
    pub share: Option<Num>,
    pub per_missing: Num,
    #[serde(default)]
    pub pay_lag: i64,
    /// `account` (default) or `enterprise`.
    pub to: Option<String>,
    /// `per-cohort` (default) or `overall`.
    pub judged: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheckpoint {
    pub period: i64,
    pub outcome: String,
    pub min_improvement: Option<Num>,
    pub min_rate: Option<Num>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTranche {
    pub id: String,
    pub investor: String,
    pub committed: Num,
    #[serde(default)]
    pub rate: Option<Num>,
    pub rank: i64,
    pub drawdowns: Option<RawSchedule>,
    pub guarantee: Option<RawGuarantee>,
    pub allocation: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuarantee {
    pub guarantors: BTreeMap<String, Num>,
    pub limit: Option<Num>,
    pub fraction: Option<Num>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFee {
    pub id: String,
    pub payee: String,
    pub schedule: RawSchedule,
}
