//! Fuzz target: any bytes as a DATAUPGRADESTATUS export. Reading must
//! answer with a run or a located error; a run that reads must calibrate
//! without panicking into a scenario that validates (calibrate's debug
//! assertions, on here, check that too) and holds the export's names
//! exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rehearse_core::Scenario;
use rehearse_sim::calibrate::{self, Options};

fuzz_target!(|data: &[u8]| {
    let run = match calibrate::read_export_bytes("fuzz.csv", data) {
        Ok(run) => run,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzz.csv:"), "{e}");
            return;
        }
    };
    let cal = calibrate::calibrate(std::slice::from_ref(&run), &Options::default()).expect("no options to refuse");
    let sc = match Scenario::parse(&cal.toml, "calibrated.toml") {
        Ok(sc) => sc,
        Err(e) => panic!("calibrate wrote a scenario that does not validate: {e}\n--- scenario ---\n{}", cal.toml),
    };
    let mut names: Vec<(String, String)> =
        rehearse_sim::store::projection::status_names(&sc).into_iter().flatten().collect();
    let mut rows: Vec<(String, String)> = run.rows.iter().map(|r| (r.steps.clone(), r.substeps.clone())).collect();
    names.sort();
    rows.sort();
    assert_eq!(names, rows, "names round-trip");
});
