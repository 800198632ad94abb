//! The documentation tells the truth: every TOML example in the README is
//! valid, and its quick start names the bundled scenario.

use rehearse_core::{Mode, Scenario};

use crate::support;

fn readme() -> String {
    std::fs::read_to_string(support::root().join("README.md")).unwrap()
}

/// Every fenced block whose info string starts with `toml`: its info
/// string, its text and the line it starts on.
fn toml_blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut blocks = Vec::new();
    // The block being read: its info string (empty: no language), text and line.
    let mut open: Option<(String, String, usize)> = None;
    for (n, line) in text.lines().enumerate() {
        let fence = line.strip_prefix("```");
        if let Some(block) = open.as_mut() {
            if fence == Some("") {
                let (info, body, at) = open.take().unwrap();
                if info.starts_with("toml") {
                    blocks.push((info, body, at));
                }
            } else {
                block.1.push_str(line);
                block.1.push('\n');
            }
        } else if let Some(info) = fence {
            open = Some((info.to_string(), String::new(), n + 2));
        }
    }
    assert!(open.is_none(), "a block left open");
    blocks
}

/// A fragment spliced into the complete example: appended after it, its
/// `[scenario]` table, if it has one, in place of the example's.
fn splice(base: &str, fragment: &str) -> String {
    let mut base = base.to_string();
    if fragment.lines().any(|l| l.trim() == "[scenario]") {
        let start = base.find("[scenario]\n").expect("the example has a [scenario] table");
        let end = base[start + 1..].find("\n[").map_or(base.len(), |n| start + n + 2);
        base.replace_range(start..end, "");
    }
    base + "\n" + fragment
}

/// What is wrong with the README's TOML examples: each block is a complete
/// scenario (```toml) or a fragment (```toml fragment) that must be valid
/// spliced into the first complete one; any other info string is refused,
/// so that no example escapes the check.
fn readme_example_errors(readme: &str) -> Vec<String> {
    let blocks = toml_blocks(readme);
    let mut errors = Vec::new();
    let Some(base) = blocks.iter().find(|b| b.0 == "toml").map(|b| b.1.clone()) else {
        return vec!["no complete ```toml scenario example".to_string()];
    };
    for (info, body, line) in &blocks {
        let text = match info.as_str() {
            "toml" => body.clone(),
            "toml fragment" => splice(&base, body),
            other => {
                errors.push(format!("README.md:{line}: ```{other}: expected ```toml or ```toml fragment"));
                continue;
            }
        };
        if let Err(e) = Scenario::parse(&text, &format!("README.md:{line} ({info})")) {
            errors.push(format!("{e}\n--- as validated:\n{text}"));
        }
    }
    errors
}

#[test]
fn every_toml_example_in_the_readme_is_valid() {
    let text = readme();
    let blocks = toml_blocks(&text);
    // The scenario example, the calendar and the faults at least.
    assert!(blocks.len() >= 3, "{blocks:?}");
    assert!(blocks.iter().any(|b| b.0 == "toml fragment"));
    let errors = readme_example_errors(&text);
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

/// The check above can fail: a broken example (a policy that is not
/// defined, as the fault example once had) and an unknown info string are
/// both caught.
#[test]
fn a_broken_readme_example_is_caught() {
    let text = readme();
    let broken = text.replacen("past_deadline = \"fix-forward\"", "past_deadline = \"fix-forwards\"", 1);
    assert_ne!(broken, text);
    let errors = readme_example_errors(&broken);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("unknown recovery policy `fix-forwards`; did you mean `fix-forward`?"), "{}", errors[0]);
    let errors = readme_example_errors(&text.replacen("```toml fragment", "```toml partial", 1));
    assert!(errors.iter().any(|e| e.contains("```toml partial: expected")), "{errors:?}");
}

#[test]
fn readme_scenario_example_runs() {
    let text = readme();
    let example = toml_blocks(&text).into_iter().find(|b| b.0 == "toml").expect("a complete example").1;
    let s = Scenario::parse(&example, "README.md example").unwrap_or_else(|e| panic!("{e}"));
    let (summary, _) = support::simulate(&example, &s, 1, Mode::Median);
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
