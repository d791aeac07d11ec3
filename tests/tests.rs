//! All integration tests compile into this one binary; each module is one area.

mod cli;
mod montecarlo;
mod properties;
mod settle_cases;
mod validation;
