//! Fuzz target: any text as a scenario file. Parsing and validation must
//! answer with a scenario or located errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rehearse_core::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = Scenario::parse(text, "fuzz.toml") {
        // The message is what a user reads: building it must not panic either.
        let _ = e.to_string();
    }
});
