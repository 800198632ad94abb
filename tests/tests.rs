//! End-to-end tests of the binary and of whole scenarios: one test binary,
//! one module per concern.

mod backend;
mod browser;
mod calendar;
mod calibrate;
mod cli;
mod data_upgrade;
mod docs;
mod engine;
mod estimate;
mod faults;
mod forecast;
mod fuzz_props;
mod fuzz_regressions;
mod library;
mod outputs;
mod props;
mod replay;
mod scale;
mod shapes;
mod store;
mod streams;
mod support;
mod terminal;
mod tidy;
mod track;
mod validation;
