//! The binary: determinism of the written stream, exit codes, outputs that
//! are never half-written.

use crate::support::{rehearse, stderr, stdout};

const SCENARIO: &str = "scenarios/ax2012-data-upgrade-dev.toml";

fn run_to(path: &std::path::Path, seed: &str) -> serde_json::Value {
    let out = rehearse(&["run", SCENARIO, "--seed", seed, "--events", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes_and_the_hash_is_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"), dir.path().join("c.jsonl"));
    let ja = run_to(&a, "7");
    let _ = run_to(&b, "7");
    let jc = run_to(&c, "8");
    let (ba, bb, bc) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), std::fs::read(&c).unwrap());
    assert_eq!(ba, bb, "seed 7 twice must give byte-identical streams");
    assert_ne!(ba, bc, "seed 8 must give another stream");
    assert_eq!(ja["stream_sha256"], rehearse_sim::sha256_hex(&ba));
    assert_eq!(jc["stream_sha256"], rehearse_sim::sha256_hex(&bc));
    assert_ne!(ja["stream_sha256"], jc["stream_sha256"]);
    // The text summary prints the same hash.
    let out = rehearse(&["run", SCENARIO, "--seed", "7"]);
    assert!(stdout(&out).contains(ja["stream_sha256"].as_str().unwrap()));
}

#[test]
fn a_failed_run_leaves_no_half_written_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.jsonl");
    // No file before: none after.
    let out = rehearse(&["run", SCENARIO, "--events", log.to_str().unwrap(), "--max-events", "20"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exceeded 20 events"), "{}", stderr(&out));
    assert!(!log.exists());
    // A good log before: the same good log after.
    std::fs::write(&log, b"previous good log\n").unwrap();
    let out = rehearse(&["run", SCENARIO, "--events", log.to_str().unwrap(), "--max-time", "1h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("limit on simulated time"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&log).unwrap(), b"previous good log\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
}

#[test]
fn bad_input_exits_2_with_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = \"x\"\n\n[[step]]\nid = \"a\"\nduration = \"5 minutes\"\n").unwrap();
    for cmd in ["run", "validate"] {
        let out = rehearse(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(err.contains("bad.toml:6:12: step `a`: duration: malformed duration"), "{cmd}: {err}");
    }
    let out = rehearse(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read no/such/file.toml"));
    let out = rehearse(&["run", SCENARIO, "--start", "next friday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--start"));
    let out = rehearse(&["run", SCENARIO, "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_reports_every_file_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = \"x\"\n[[step]]\nid = \"a\"\nafter = [\"b\", \"c\"]\nduration = \"1h\"\n")
        .unwrap();
    let out = rehearse(&["validate", SCENARIO, bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["files"][0]["ok"], true);
    assert_eq!(v["files"][1]["ok"], false);
    let errors = v["files"][1]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "both unknown ids are reported: {errors:?}");
    assert_eq!(errors[0]["line"], 5);
    assert_eq!(v["files"][1]["more_errors"], 0);
    let out = rehearse(&["validate", SCENARIO]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("ok"));
}

/// A plan with thousands of errors: the first hundred listed, the rest
/// counted, alike in `validate`'s text and JSON and in what `run`,
/// `check` and `estimate` say of it.
#[test]
fn a_long_error_list_is_cut_after_the_first_hundred_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("typos.toml");
    std::fs::write(&plan, crate::shapes::misspelt_ids(5_000).0).unwrap();
    let plan = plan.to_str().unwrap();
    let first = format!(
        "error: {plan}:9:10: step `step-00001`: after names unknown step `step00000`; did you mean `step-00000`?"
    );
    let hundredth = format!(
        "error: {plan}:405:10: step `step-00100`: after names unknown step `stpe-00099`; did you mean `step-00099`?"
    );
    let out = rehearse(&["validate", plan]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 102, "{text}");
    assert_eq!((lines[0], lines[99]), (first.as_str(), hundredth.as_str()));
    assert_eq!(lines[100], "... and 4,900 more errors");
    assert_eq!(lines[101], format!("FAILED {plan}: 5,000 errors"));
    for cmd in [&["run", plan][..], &["check", plan, "--runs", "1"], &["estimate", plan, "--runs", "10"]] {
        let out = rehearse(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let text = stderr(&out);
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got[..101], lines[..101], "{cmd:?}");
        assert_eq!(got[101..], [format!("5,000 errors in {plan}")], "{cmd:?}");
    }
    let out = rehearse(&["validate", plan, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let file = &v["files"][0];
    assert_eq!(file["errors"].as_array().unwrap().len(), 100);
    assert_eq!(file["errors"][99]["line"], 405);
    assert_eq!(file["more_errors"], 4_900);
}

#[test]
fn timeline_shows_nesting_calendar_and_summary() {
    let out = rehearse(&["run", SCENARIO, "--median", "--start", "2022-05-20T04:16:24.460"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // Nesting by indentation: phase at depth 1, its sub-steps at depth 2.
    // (The first two columns hold the critical-path mark.)
    assert!(text.lines().any(|l| l.get(2..).is_some_and(|n| n.starts_with("  PreReqs "))), "{text}");
    assert!(text.lines().any(|l| l.get(2..).is_some_and(|n| n.starts_with("    DisableDbLogTriggers "))), "{text}");
    for needed in [
        "outcome        committed",
        "downtime       ",
        "critical path  ",
        "stream sha256  ",
        "seed           every step at its median",
        "invariants     all hold",
    ] {
        assert!(text.contains(needed), "missing {needed:?} in\n{text}");
    }
    assert!(text.contains("2022-05-20"), "calendar times shown");
}

#[test]
fn help_reads_well() {
    let out = rehearse(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for needed in ["run", "validate", "Exit codes"] {
        assert!(text.contains(needed), "{text}");
    }
    let out = rehearse(&["run", "--help"]);
    assert!(stdout(&out).contains("--median"));
}

#[test]
fn median_mode_takes_no_seed() {
    let a = rehearse(&["run", SCENARIO, "--median", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(v["mode"], "median");
    let b = rehearse(&["run", SCENARIO, "--median", "--seed", "3"]);
    assert_eq!(b.status.code(), Some(2), "--seed conflicts with --median");
}

/// What a user can ask for is bounded, and the bound is named: no run
/// count that does nothing (0) or could never finish, no thread count the
/// machine cannot spawn.
#[test]
fn run_and_thread_counts_beyond_their_limits_are_refused_at_once() {
    let s = "scenarios/hotfix.toml";
    for (args, says) in [
        (vec!["check", s, "--runs", "0"], "0 is not in 1..=10000000"),
        (vec!["estimate", s, "--runs", "0"], "0 is not in 1..=10000000"),
        (vec!["compare", s, s, "--runs", "0"], "0 is not in 1..=10000000"),
        (vec!["estimate", s, "--runs", "18446744073709551615"], "is not in 1..=10000000"),
        (vec!["check", s, "--runs", "18446744073709551615"], "is not in 1..=10000000"),
        (vec!["estimate", s, "--runs", "1000000000"], "is not in 1..=10000000"),
        (vec!["estimate", s, "--threads", "100000"], "100000 is not in 1..=256"),
        (vec!["compare", s, s, "--threads", "0"], "0 is not in 1..=256"),
    ] {
        let out = rehearse(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
