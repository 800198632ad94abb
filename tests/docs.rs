//! The documentation tells the truth: the README's scenario example is a
//! valid scenario, and its quick start names the bundled scenario.

use rehearse_core::{Mode, Scenario};

use crate::support;

fn readme() -> String {
    std::fs::read_to_string(support::root().join("README.md")).unwrap()
}

#[test]
fn readme_scenario_example_is_valid_and_runs() {
    let text = readme();
    let start = text.find("```toml\n").expect("a TOML example") + "```toml\n".len();
    let example = &text[start..start + text[start..].find("```").unwrap()];
    let s = Scenario::parse(example, "README.md example").unwrap_or_else(|e| panic!("{e}"));
    let (summary, _) = support::simulate(example, &s, 1, Mode::Median);
    assert!(summary.downtime > rehearse_core::SimDuration::ZERO);
}

#[test]
fn quick_start_is_two_commands_on_a_bundled_scenario() {
    let text = readme();
    let qs = &text[text.find("## Quick start").unwrap()..];
    let block = &qs[qs.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let commands: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with("cargo run --release -- run scenarios/"));
    let scenario = commands[0].split_whitespace().nth(5).unwrap();
    assert!(support::root().join(scenario).is_file(), "{scenario}");
    assert_eq!(commands[1], "cargo test --workspace");
}
