//! The bundled AX 2012 data-upgrade scenario against the documented run
//! (tests/data/dataupgradestatus-ax2012-sample.csv, a copy of the
//! DATAUPGRADESTATUS example in shared/data/).

use rehearse_core::{Calendar, Mode, Scenario, StepIdx};
use serde_json::Value;

use crate::support::{self, DATA_UPGRADE};

/// One documented row: (Steps, SubSteps, start, end) as calendar text.
fn documented_rows() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(support::root().join("tests/data/dataupgradestatus-ax2012-sample.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 5, "{line}");
            assert_eq!(f[4], "Completed");
            (f[2].to_string(), f[3].to_string(), f[0].to_string(), f[1].to_string())
        })
        .collect()
}

/// The runbook's direct sub-step that holds `idx` (its "Steps" column).
fn phase(s: &Scenario, mut idx: StepIdx) -> String {
    let runbook = s.find("runbook").unwrap();
    while let Some(p) = s.step(idx).parent {
        if p == runbook {
            return s.step(idx).name.clone();
        }
        idx = p;
    }
    panic!("{} is not under the runbook", s.step(idx).id)
}

#[test]
fn median_run_reproduces_every_documented_row_to_the_millisecond() {
    let (text, scenario) = support::load(DATA_UPGRADE);
    let (summary, _) = support::simulate(&text, &scenario, 0, Mode::Median);
    let runbook = scenario.find("runbook").unwrap();
    // Place the runbook's first sub-step at the documented start.
    let first = scenario.find("PreReqs.DisableDbLogTriggers").unwrap();
    let offset = summary.timing(first).start.as_ms();
    let documented_start = Calendar::parse("2022-05-20T06:28:01.020").unwrap();
    let start =
        documented_start.at(rehearse_core::SimTime(0)).unwrap() - jiff::SignedDuration::from_millis(offset as i64);
    let cal = Calendar::new(start);

    let mut simulated: Vec<(String, String, String, String)> = scenario
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (StepIdx(i as u32), s))
        .filter(|(_, s)| s.depth >= 2)
        .map(|(i, s)| {
            let t = summary.timing(i);
            (phase(&scenario, i), s.name.clone(), cal.format(t.start), cal.format(t.end))
        })
        .collect();
    let mut documented = documented_rows();
    assert_eq!(documented.len(), 42);
    simulated.sort();
    documented.sort();
    assert_eq!(simulated, documented);

    let span = summary.timing(runbook).duration();
    assert_eq!(span.hms(), "10:48:06");
    assert_eq!(span.as_ms(), 38_886_077);
}

#[test]
fn cli_median_reports_the_runbook_spanning_10_48_06() {
    let out = support::rehearse(&["run", "scenarios/ax2012-data-upgrade-dev.toml", "--median", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let v: Value = serde_json::from_str(&support::stdout(&out)).unwrap();
    let steps = v["steps"].as_array().unwrap();
    let runbook = steps.iter().find(|s| s["id"] == "runbook").unwrap();
    let subs: Vec<&Value> = steps.iter().filter(|s| s["depth"].as_u64().unwrap() >= 2).collect();
    let first_start = subs.iter().map(|s| s["start_ms"].as_u64().unwrap()).min().unwrap();
    let last_end = subs.iter().map(|s| s["end_ms"].as_u64().unwrap()).max().unwrap();
    let documented = 10 * 3_600_000 + 48 * 60_000 + 6_000;
    assert!((last_end - first_start).abs_diff(documented) < 1_000, "{}", last_end - first_start);
    assert_eq!(runbook["start_ms"].as_u64().unwrap(), first_start);
    assert_eq!(runbook["end_ms"].as_u64().unwrap(), last_end);
    // And the text output says so.
    let out = support::rehearse(&["run", "scenarios/ax2012-data-upgrade-dev.toml", "--median", "--width", "0"]);
    let text = support::stdout(&out);
    let line = text.lines().find(|l| l.contains("AXUpdateInstaller.exe execute (runbook)")).unwrap();
    assert!(line.contains("10:48:06.077"), "{line}");
}

#[test]
fn documented_spelling_and_nesting_are_kept() {
    let (_, s) = support::load(DATA_UPGRADE);
    let runbook = s.find("runbook").unwrap();
    let phases: Vec<&str> = s.step(runbook).children.iter().map(|c| s.step(*c).name.as_str()).collect();
    assert_eq!(phases, ["PreReqs", "PreSync", "DbSync", "PostSync", "FinalDbSync"]);
    assert!(s.find("PreSync.DisaleBatchPriorityScheduling").is_some());
    // ExecuteScripts holds the batch sub-steps, as the documented rows nest.
    let es = s.find("PreSync.ExecuteScripts").unwrap();
    let held: Vec<&str> = s.step(es).children.iter().map(|c| s.step(*c).name.as_str()).collect();
    assert_eq!(held, ["ConfigureBatch", "StartAos", "ScheduleScripts", "StartBatch", "WaitForBatch", "StopBatch"]);
    let stops = s.step(s.find("stop-services").unwrap()).children.len();
    assert_eq!(stops, 5);
}
