//! All integration tests compile into this one binary; each module is one area.

mod business;
mod charts;
mod cli;
mod common;
mod delays;
mod inflow;
mod inflow_guarantee;
mod montecarlo;
mod outputs;
mod properties;
mod regressions;
mod report;
mod screen;
mod settle_cases;
mod stress;
mod validation;
