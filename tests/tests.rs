//! End-to-end tests of the binary and of whole scenarios: one test binary,
//! one module per concern.

mod backend;
mod browser;
mod calendar;
mod calibrate;
mod cdp;
mod cli;
mod damage;
mod data_upgrade;
mod docs;
mod engine;
mod estimate;
mod faults;
mod forecast;
mod fuzz_props;
mod fuzz_regressions;
mod library;
mod live;
mod live_load;
mod outputs;
mod props;
mod read_only;
mod replay;
mod scale;
mod shapes;
mod shared;
mod store;
mod store_errors;
mod streams;
mod support;
mod terminal;
mod tidy;
mod track;
mod validation;
