//! The terminal (#17): text that fits its width, no escape codes where
//! nobody reads colour, rows grouped and filtered as asked, reruns in one
//! line; and a plan of one's own started from a bundled one.

use std::process::{Command, Output};

use crate::support::{rehearse, root, stderr, stdout};

/// The widest line of `text`, in characters, asserting it carries no
/// escape code (piped output is never coloured).
fn widest(text: &str) -> usize {
    assert!(!text.contains('\x1b'), "escape codes in piped output:\n{text}");
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.args(args).current_dir(root()).env_remove("RUST_LOG").env_remove("COLUMNS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the rehearse binary runs")
}

const SCENARIOS: [&str; 3] =
    ["scenarios/ax2012-mock-cutover.toml", "scenarios/ax2012-data-upgrade-dev.toml", "scenarios/go-live-weekend.toml"];

#[test]
fn run_fits_80_and_120_columns() {
    for path in SCENARIOS {
        for width in [80, 120] {
            let o = rehearse(&["run", path, "--width", &width.to_string(), "--ignore-readiness"]);
            assert!(o.status.success(), "{path}: {}", stderr(&o));
            let text = stdout(&o);
            let w = widest(&text);
            assert!(w <= width, "{path} at {width}: a line of {w}\n{text}");
            // The room is used: the table is not stuck at the narrow width.
            if width == 120 {
                assert!(w > 80, "{path} at 120 never wider than 80\n{text}");
            }
        }
    }
}

#[test]
fn piped_text_follows_columns_else_80_and_no_colour_under_no_color() {
    let path = SCENARIOS[0];
    let default = stdout(&rehearse(&["run", path]));
    assert!(widest(&default) <= 80, "{default}");
    let o = with_env(&["run", path], &[("COLUMNS", "100")]);
    let w = widest(&stdout(&o));
    assert!(w > 80 && w <= 100, "COLUMNS=100 gave a widest line of {w}");
    let o = with_env(&["run", path, "--width", "120"], &[("NO_COLOR", "1"), ("COLUMNS", "60")]);
    let w = widest(&stdout(&o));
    assert!(w > 80 && w <= 120, "--width beats COLUMNS: widest {w}");
}

#[test]
fn estimate_and_check_fit_80_columns() {
    for args in [
        &["estimate", "scenarios/ax2012-data-upgrade-dev.toml", "--runs", "300", "--width", "80"][..],
        &["estimate", "scenarios/go-live-weekend.toml", "--runs", "300", "--width", "80"][..],
        &["check", "scenarios/ax2012-data-upgrade-dev.toml", "--runs", "50", "--width", "80"][..],
    ] {
        let o = rehearse(args);
        let text = stdout(&o);
        assert!(!text.is_empty(), "{args:?}: {}", stderr(&o));
        let w = widest(&text);
        assert!(w <= 80, "{args:?}: a line of {w}\n{text}");
    }
}

#[test]
fn a_rerun_is_one_line_and_the_critical_path_a_summary() {
    let o = rehearse(&[
        "run",
        "scenarios/ax2012-data-upgrade-dev.toml",
        "--median",
        "--width",
        "0",
        "--fault",
        "presync-script-error@PreSync.WaitForBatch",
    ]);
    let text = stdout(&o);
    assert!(text.contains("RESET      rerun from PreSync.ExecuteScripts: 6 steps reset"), "{text}");
    assert!(!text.contains("will run again"), "{text}");
    assert!(!text.contains("RETRY"), "the reset steps' restarts are not listed:\n{text}");
    assert!(
        text.contains("critical path  49 steps, `backup` to `FinalDbSync.DisableDataUpgradeFlag`; longest:"),
        "{text}"
    );
    assert!(!text.contains(" -> "), "no list of ids:\n{text}");
}

/// The mock cutover, whose three workstreams are named in the bundled file.
fn with_workstreams() -> String {
    let path = root().join("scenarios/ax2012-mock-cutover.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    for (id, ws) in [("technical", "technical"), ("functional", "functional"), ("ax2012-rollback", "rollback")] {
        let at = format!("[[step]]\nid = \"{id}\"\n");
        let i = text.find(&at).unwrap_or_else(|| panic!("{id}"));
        assert!(text[i..].lines().nth(3) == Some(&format!("workstream = \"{ws}\"")), "{id}");
    }
    path.to_str().unwrap().to_string()
}

#[test]
fn rows_come_in_time_order_grouped_or_downtime_only_as_asked() {
    let path = with_workstreams();
    let path = path.as_str();
    let by_time = stdout(&rehearse(&["run", path, "--median", "--width", "0"]));
    let grouped = stdout(&rehearse(&["run", path, "--median", "--width", "0", "--by", "workstream"]));
    let down = stdout(&rehearse(&["run", path, "--median", "--width", "0", "--downtime-only"]));
    // Time order: the start column never goes back.
    let starts: Vec<&str> = by_time
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("  (*"))
        .filter_map(|l| l.get(52..75))
        .filter(|s| s.starts_with("20"))
        .collect();
    assert!(starts.len() > 10 && starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}\n{by_time}");
    // Grouped: each workstream's heading, sub-steps under their parent's.
    let headings: Vec<&str> = grouped.lines().filter(|l| !l.starts_with(' ') && !l.starts_with('*')).collect();
    assert_eq!(&headings[..3], ["technical", "rollback", "functional"], "{grouped}");
    let functional = grouped.split("\nfunctional\n").nth(1).unwrap();
    assert!(functional.contains("Sign off the mock cutover"), "a sub-step inherits its parent's:\n{grouped}");
    assert!(down.lines().count() < by_time.lines().count(), "{down}");
    assert!(!down.contains("Download the AX 2012"), "a step before the downtime:\n{down}");
    assert!(down.contains("Sign off"), "{down}");
}

#[test]
fn init_writes_a_bundled_scenario_anywhere_and_it_validates() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_rehearse");
    let init = || {
        Command::new(bin)
            .args(["init", "mine.toml", "--from", "ax2012-go-live"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let o = init();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(bin).args(["validate", "mine.toml"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Never over a file that exists, unless asked.
    std::fs::write(dir.path().join("mine.toml"), "# my edits").unwrap();
    let o = init();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.path().join("mine.toml")).unwrap(), "# my edits");
    let o = Command::new(bin)
        .args(["init", "mine.toml", "--from", "hotfix", "--force"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read_to_string(dir.path().join("mine.toml")).unwrap();
    assert_eq!(written, std::fs::read_to_string(root().join("scenarios/hotfix.toml")).unwrap());
}

#[test]
fn scenarios_show_prints_one_as_written() {
    let o = rehearse(&["scenarios", "--show", "ax2012-go-live"]);
    assert_eq!(stdout(&o), std::fs::read_to_string(root().join("scenarios/ax2012-go-live.toml")).unwrap());
    let o = rehearse(&["scenarios", "--show", "go-live"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ax2012-go-live"), "the names are listed: {}", stderr(&o));
}

/// The estimate is laid out for 80 columns, not wrapped into them: with
/// wrapping off (`--width 0`), a dated plan with a long step id and a long
/// policy name, few runs (the P90 not settled) and every section still
/// has no line past 80.
#[test]
fn the_estimate_is_laid_out_for_80_columns_by_itself() {
    let text = std::fs::read_to_string(root().join("scenarios/go-live-weekend.toml")).unwrap();
    let policy = "roll-back-to-the-ax2012-source";
    let long = text
        .replace("\"data-upgrade\"", "\"production-data-upgrade-runs\"")
        .replace("[recovery.rollback]", &format!("[recovery.{policy}]"))
        .replace("recovery = \"rollback\"", &format!("recovery = \"{policy}\""))
        .replace("then = \"rollback\"", &format!("then = \"{policy}\""));
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("long.toml");
    std::fs::write(&plan, &long).unwrap();
    let o = rehearse(&["estimate", plan.to_str().unwrap(), "--runs", "300", "--width", "0"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for section in ["P90 95% CI", "what drives it", "point of no return", "go/no-go checkpoints", policy] {
        assert!(out.contains(section), "no {section:?} in\n{out}");
    }
    let w = widest(&out);
    assert!(w <= 80, "a line of {w}\n{out}");
}
