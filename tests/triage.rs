//! Swarm triage and liveness: `check` groups failing runs by fingerprint
//! (invariant, step, recovery path), with a count and one shrunk
//! reproducer each; `--save-failures` writes capsules that `--corpus`
//! replays until the bug is fixed; `--liveness` finds a recovery that
//! loops under a persistent fault, and the bundled scenarios pass it.

use rehearse_core::Scenario;
use rehearse_sim::Plan;
use rehearse_sim::check::{self, CheckOptions};
use serde_json::Value;

use crate::support::{rehearse, root, stderr, stdout};

const TWO_BUGS: &str = "tests/data/two-bugs.toml";
const RERUN_FOREVER: &str = "tests/data/rerun-forever.toml";

fn json(args: &[&str]) -> (Option<i32>, Value) {
    let out = rehearse(args);
    let v = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&out)));
    (out.status.code(), v)
}

#[test]
fn two_distinct_bugs_are_two_fingerprints_each_counted_and_reproduced() {
    let (code, v) = json(&["check", TWO_BUGS, "--runs", "2000", "--json"]);
    assert_eq!(code, Some(1));
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let fingerprints: Vec<&str> = failures.iter().map(|f| f["fingerprint"].as_str().unwrap()).collect();
    assert!(fingerprints.iter().any(|f| f.contains("at data-upgrade after data-upgrade:resume > data-upgrade:cancel")));
    assert!(fingerprints.iter().any(|f| f.contains("at validation after validation:retry > validation:cancel")));
    let counts: Vec<u64> = failures.iter().map(|f| f["runs"].as_u64().unwrap()).collect();
    assert!(counts.iter().all(|n| *n > 50), "each bug is hit by many seeds: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), v["violations"].as_u64().unwrap(), "every failing run is counted once");
    for f in failures {
        let shrunk = f["shrunk"].as_array().unwrap();
        assert_eq!(shrunk.len(), 2, "two strikes spend the budget: {f}");
        let cmd = f["reproduce"].as_str().unwrap();
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let again = rehearse(&args);
        assert_eq!(again.status.code(), Some(1), "{cmd}");
        assert!(stdout(&again).contains("cancelled after downtime began"), "{cmd}: {}", stdout(&again));
    }
    // The text says the same, one line per fingerprint with its count.
    let text = stdout(&rehearse(&["check", TWO_BUGS, "--runs", "2000", "--width", "0"]));
    assert!(text.contains(", 2 distinct failures"), "{text}");
    for (f, n) in fingerprints.iter().zip(&counts) {
        assert!(text.contains(&format!("{n} runs: {f}")), "{f}: {text}");
    }
}

#[test]
fn a_saved_capsule_fails_until_its_bug_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let text = std::fs::read_to_string(root().join(TWO_BUGS)).unwrap();
    std::fs::write(&plan, &text).unwrap();
    let caps = dir.path().join("caps");
    let p = plan.to_str().unwrap();
    let c = caps.to_str().unwrap();
    let out = rehearse(&["check", p, "--runs", "500", "--save-failures", c]);
    assert_eq!(out.status.code(), Some(1));
    let mut files: Vec<_> = std::fs::read_dir(&caps).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 2, "one capsule per fingerprint");
    let capsule: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(capsule["scenario"]["digest"], rehearse_sim::sha256_hex(text.as_bytes()));
    assert!(capsule["schedule"].as_array().unwrap().len() == 2 && capsule["reproduce"].is_string(), "{capsule}");

    // Unchanged: both still fail.
    let (code, v) = json(&["check", p, "--runs", "1", "--corpus", c, "--json"]);
    assert_eq!(code, Some(1));
    let verdicts = |v: &Value| -> Vec<String> {
        v["corpus"].as_array().unwrap().iter().map(|r| r["verdict"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(verdicts(&v), ["fails", "fails"]);
    // Bug 1 fixed: its capsule passes, the other still fails (exit 1 even
    // when the new runs pass).
    let fixed_one = text.replace("then = \"cancel\"            # BUG 1", "then = \"rollback\"  # fixed, was");
    assert_ne!(fixed_one, text);
    std::fs::write(&plan, &fixed_one).unwrap();
    let (code, v) = json(&["check", p, "--runs", "1", "--seed", "0", "--corpus", c, "--json"]);
    assert_eq!(code, Some(1));
    let mut got = verdicts(&v);
    got.sort();
    assert_eq!(got, ["fails", "passes"], "{v}");
    // Both fixed: the corpus passes, and so does the check.
    let fixed = fixed_one.replace("then = \"cancel\"            # BUG 2", "then = \"rollback\"  # fixed, was");
    std::fs::write(&plan, &fixed).unwrap();
    let out = rehearse(&["check", p, "--runs", "300", "--corpus", c, "--width", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("2 capsules replayed: 0 still fail, 2 pass, 0 stale"), "{}", stdout(&out));
    // A capsule that is not one is an error with its place.
    std::fs::write(caps.join("zz-broken.json"), "{\"capsule\": 1,\n  oops").unwrap();
    let out = rehearse(&["check", p, "--runs", "1", "--corpus", c]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("zz-broken.json:2:"), "{}", stderr(&out));
}

#[test]
fn a_merged_triage_is_the_unsharded_one_and_saves_the_same_capsules() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["check", TWO_BUGS, "--runs", "600", "--swarm"];
    let parts = crate::shard::shards(dir.path(), &common, 3);
    let (whole_caps, merged_caps) = (dir.path().join("whole"), dir.path().join("merged"));
    let whole = rehearse(&[&common[..], &["--json", "--save-failures", whole_caps.to_str().unwrap()]].concat());
    let merged = crate::shard::merge(
        &[&parts[2], &parts[0], &parts[1]],
        &["--json", "--save-failures", merged_caps.to_str().unwrap()],
    );
    assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
    let strip = |o: &std::process::Output| {
        let mut v: Value = serde_json::from_str(&stdout(o)).unwrap();
        v["saved"] = Value::Null; // the directories differ
        v
    };
    assert_eq!(strip(&merged), strip(&whole));
    for entry in std::fs::read_dir(&whole_caps).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(whole_caps.join(&name)).unwrap(),
            std::fs::read(merged_caps.join(&name)).unwrap(),
            "{name:?}"
        );
    }
}

#[test]
fn liveness_finds_a_recovery_that_reruns_forever_under_a_persistent_fault() {
    // Plain and swarm checks pass: a transient fault goes away.
    let (code, _) = json(&["check", RERUN_FOREVER, "--swarm", "--runs", "300", "--json"]);
    assert_eq!(code, Some(0));
    let (code, v) = json(&["check", RERUN_FOREVER, "--liveness", "--runs", "20", "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["liveness"], true);
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let f = &failures[0];
    assert_eq!(f["runs"], 20);
    assert_eq!(f["fingerprint"], "liveness (time) at data-upgrade after data-upgrade:rerun x many");
    // Shrunk to the persistent fault alone, as one range.
    let shrunk = f["shrunk"].as_array().unwrap();
    assert_eq!(shrunk.len(), 1, "{f}");
    assert!(shrunk[0].as_str().unwrap().starts_with("script-error@data-upgrade#1.."), "{f}");
    // Its reproducer runs into the same bound.
    let cmd = f["reproduce"].as_str().unwrap();
    let out = rehearse(&cmd.split_whitespace().skip(1).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2), "{cmd}");
    assert!(stderr(&out).contains("would run past the 60d limit"), "{}", stderr(&out));
    // With a fix and a small budget that hands over to a rollback, it
    // passes.
    let dir = tempfile::tempdir().unwrap();
    let fixed = std::fs::read_to_string(root().join(RERUN_FOREVER))
        .unwrap()
        .replace("max_attempts = 1000        # WRONG: no fix, and no end in sight", "max_attempts = 3");
    let plan = dir.path().join("fixed.toml");
    std::fs::write(&plan, fixed).unwrap();
    let (code, v) = json(&["check", plan.to_str().unwrap(), "--liveness", "--runs", "50", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["outcomes"]["rolled_back"], 50, "{v}");
}

#[test]
fn the_bundled_scenarios_pass_the_liveness_check() {
    let mut names: Vec<_> = std::fs::read_dir(root().join("scenarios")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|x| x == "toml")) {
        let text = std::fs::read_to_string(path).unwrap();
        let sc = Scenario::parse(&text, &path.display().to_string()).unwrap();
        let plan = Plan::new(&sc, rehearse_sim::digest(&text));
        let opts = CheckOptions { runs: 60, liveness: true, ..Default::default() };
        let report = check::check(&plan, &opts, &mut |_| {});
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(report.failures.is_empty(), "{name}: {:?}", report.failures.first().map(|d| &d.fingerprint));
        assert_eq!(report.runs, 60);
        // Persistence made runs give up: every run ends, and not all commit.
        let ended: u64 = report.outcomes.values().sum();
        assert_eq!(ended, 60, "{name}");
        assert!(report.outcomes.get(&rehearse_core::Outcome::Committed).copied().unwrap_or(0) < 60, "{name}");
    }
}
