//! sibsim: a Social Impact Bond contract simulator and exact settlement engine.
//!
//! The library does no IO: callers hand it the text of scenario and actuals files and get back
//! validated contracts, settlements and (later) simulation results. See `ARCHITECTURE.md`.

pub mod actuals;
pub mod chart;
pub mod contract;
pub mod design;
pub mod error;
pub mod feasibility;
pub mod metrics;
pub mod mkba;
pub mod model;
pub mod money;
pub mod montecarlo;
pub mod report;
pub mod scenario;
pub mod settlement;
pub mod statement;
pub mod stats;

pub use actuals::Actuals;
pub use contract::Contract;
pub use error::{Diagnostic, Diagnostics, SettleError};
pub use money::{Money, Price, Qty, Ratio};
pub use scenario::Scenario;
pub use settlement::{LedgerLine, LedgerSink, Settlement, Settler};
