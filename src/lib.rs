//! sibsim: a Social Impact Bond contract simulator and exact settlement engine.
//!
//! The library does no IO and prints nothing: callers hand it the text of scenario and actuals
//! files and get back validated contracts, exact settlements (a ledger line for every cent),
//! Monte Carlo results per party and the Rotterdam decision tree's verdict. Problems in the
//! input come back as [`Diagnostics`] (file, line, column, field and what is allowed) or a
//! [`SettleError`]; every result type is `Send + Sync`. The `sibsim` command line is a thin
//! layer on top (the `cli` feature, on by default; `default-features = false` leaves out its
//! dependencies). The repository's `ARCHITECTURE.md` maps the modules; `docs/` describes the
//! file formats and the money rules.
//!
//! ```
//! use sibsim::montecarlo::{simulate, SimConfig};
//! use sibsim::settlement::{Recorded, Settler};
//!
//! // A scenario from its text; the file name only labels messages.
//! let text = include_str!("../scenarios/rotterdam-buzinezzclub.toml");
//! let (scenario, model) = sibsim::scenario::parse_with_model("rotterdam.toml", text)?;
//! let contract = &scenario.contract;
//!
//! // Settle reported outcomes, through the last period they report.
//! let csv = include_str!("../scenarios/rotterdam-buzinezzclub.actuals.csv");
//! let actuals = sibsim::actuals::parse_csv(contract, "rotterdam.actuals.csv", csv)?;
//! let through = sibsim::actuals::default_through(contract, &actuals);
//! let mut recorded = Recorded::default();
//! let mut settler = Settler::new(contract);
//! let settlement = settler.settle_through(&actuals, &mut recorded, through)?;
//! for (p, party) in contract.parties().iter().enumerate() {
//!     // Exact amounts (`Money`, in cents).
//!     println!("{}: net {}", party.id, settlement.received[p] - settlement.paid[p]);
//! }
//! // Every cent moved has its ledger line: period, payer, payee, amount and rule.
//! let moved: i64 = recorded.ledger.iter().map(|l| l.amount.0).sum();
//! let paid: i64 = settlement.paid.iter().map(|m| m.0).sum();
//! assert_eq!(moved, paid);
//!
//! // Simulate: the same seed gives the same results on any number of threads.
//! let config = SimConfig { trials: 500, seed: 7, threads: Some(2) };
//! let results = simulate(contract, &model, &config);
//! assert!(results.failure.is_none());
//! for t in &results.tranches {
//!     assert!((0.0..=1.0).contains(&t.prob_full_repayment));
//! }
//! let shares: f64 = results.risk.parties.iter().map(|r| r.share_of_expected_loss).sum();
//! assert!(results.risk.expected_total_loss == 0.0 || (shares - 1.0).abs() < 1e-9);
//!
//! // The decision tree, with the scenario's own thresholds.
//! let tree = sibsim::feasibility::tree_for(contract, None).expect("valid thresholds");
//! let walk = sibsim::feasibility::walk(&tree, contract, Some(&results));
//! println!("{}: {}", walk.tree, walk.verdict.label());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
