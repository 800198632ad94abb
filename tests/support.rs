//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rehearse_core::{Mode, Scenario};
use rehearse_sim::{MemorySink, Plan, RunOptions, RunSummary, Simulator};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

pub const DATA_UPGRADE: &str = "ax2012-data-upgrade-dev.toml";

/// A bundled scenario's text and its validated form.
pub fn load(name: &str) -> (String, Scenario) {
    let text = std::fs::read_to_string(scenario_path(name)).expect("bundled scenario");
    let scenario = Scenario::parse(&text, name).unwrap_or_else(|e| panic!("{e}"));
    (text, scenario)
}

/// The bundled scenarios' file names, sorted.
pub fn bundled() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Parses a scenario written in a test.
pub fn parse(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a scenario in memory.
pub fn simulate(text: &str, scenario: &Scenario, seed: u64, mode: Mode) -> (RunSummary, MemorySink) {
    let plan = Plan::new(scenario, rehearse_sim::digest(text));
    let mut sink = MemorySink::new();
    let summary = Simulator::new(&plan).run(&RunOptions::new(seed, mode), &mut sink).expect("run");
    (summary, sink)
}

/// Runs the `rehearse` binary.
pub fn rehearse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_LOG")
        // The width of piped text follows COLUMNS: a test sees the default.
        .env_remove("COLUMNS")
        .output()
        .expect("the rehearse binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
