//! The event store: the documented monitoring query on a stored run,
//! `replay` verdicts on sound, damaged, cut and diverging logs, read-only
//! `sql`.

use std::path::Path;

use rehearse_core::Mode;
use rehearse_sim::{JsonlWriter, MemorySink, Plan, RunOptions, Simulator};
use serde_json::Value;

use crate::support::{self, rehearse, stderr, stdout};

const SCENARIO: &str = "scenarios/ax2012-data-upgrade-dev.toml";
const DOC_QUERY: &str =
    "SELECT StartTime, EndTime, Steps, SubSteps, Status FROM [DBUPGRADE].[DATAUPGRADESTATUS] ORDER BY EndTime DESC";

fn run_db(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let db = dir.join("run.sqlite");
    let mut args = vec!["run", SCENARIO, "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = rehearse(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    db
}

fn replay(file: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["replay", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = rehearse(&args);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

#[test]
fn the_documented_query_returns_the_documented_rows() {
    let dir = tempfile::tempdir().unwrap();
    // The runbook's first sub-step starts 02:11:36.560 into the median run.
    let db = run_db(dir.path(), &["--median", "--start", "2022-05-20T04:16:24.460"]);
    let out = rehearse(&["sql", db.to_str().unwrap(), DOC_QUERY, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let csv = std::fs::read_to_string(support::root().join("tests/data/dataupgradestatus-ax2012-sample.csv")).unwrap();
    let documented: Vec<Vec<String>> =
        csv.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), 42);
    assert_eq!(documented.len(), 42);
    let mut got: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            ["StartTime", "EndTime", "Steps", "SubSteps", "Status"]
                .iter()
                .map(|k| r[*k].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let mut want = documented.clone();
    // Same rows, same names, same times (to the millisecond, so to the second).
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // And in the documented order (newest first) where the order is defined.
    let got_order: Vec<&str> = rows.iter().map(|r| r["EndTime"].as_str().unwrap()).collect();
    let mut sorted = got_order.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(got_order, sorted);
    // The table prints as a table too.
    let out = rehearse(&["sql", db.to_str().unwrap(), DOC_QUERY]);
    let text = stdout(&out);
    assert!(text.lines().next().unwrap().starts_with("StartTime"), "{text}");
    assert!(text.contains("| PreSync     | DisaleBatchPriorityScheduling |"), "{text}");
}

#[test]
fn sql_is_read_only_and_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let db = run_db(dir.path(), &["--seed", "3"]);
    let before = std::fs::read(&db).unwrap();
    let out = rehearse(&["sql", db.to_str().unwrap(), "DELETE FROM events"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // A statement that writes elsewhere is refused before it makes anything.
    let copy = dir.path().join("copy.sqlite");
    let out = rehearse(&["sql", db.to_str().unwrap(), &format!("VACUUM INTO '{}'", copy.display())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert!(!copy.exists(), "VACUUM INTO left a file");
    let out = rehearse(&["sql", db.to_str().unwrap(), "SELECT count(*) AS n FROM events", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v[0]["n"].as_str().unwrap().parse::<u64>().unwrap() > 100);
    let out = rehearse(&["sql", "Cargo.toml", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a SQLite run store"));
}

#[test]
fn replay_says_ok_corrupted_or_incomplete_for_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = run_db(dir.path(), &["--seed", "11"]);
    let (code, text) = replay(&db, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(": OK"), "{text}");

    // Flip one byte of one stored event's payload, in the file itself. The
    // payload may also sit in a stale copy of its page; flip each copy in
    // turn: the live one must be caught, at that event's seq.
    let bytes = std::fs::read(&db).unwrap();
    let needle = b"\"kind\":\"StepStarted\",\"step\":\"upload\"";
    let places: Vec<usize> =
        bytes.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    assert!(!places.is_empty(), "the event is stored inline");
    let out = rehearse(&[
        "sql",
        db.to_str().unwrap(),
        "SELECT seq FROM events WHERE payload LIKE '%\"StepStarted\",\"step\":\"upload\"%'",
    ]);
    let seq = stdout(&out).lines().nth(2).unwrap().trim().to_string();
    let mut caught = 0;
    for at in places {
        let mut damaged_bytes = bytes.clone();
        damaged_bytes[at + needle.len() - 3] = b'X'; // inside "upload"
        let damaged = dir.path().join("damaged.sqlite");
        std::fs::write(&damaged, &damaged_bytes).unwrap();
        let (code, text) = replay(&damaged, &[]);
        if code == Some(2) {
            assert!(text.contains(&format!("corrupted at seq {seq}")), "{text}");
            caught += 1;
        } else {
            assert_eq!(code, Some(0), "a stale copy changes nothing: {text}");
        }
    }
    assert_eq!(caught, 1, "the live copy of the event is caught");

    // A run cut short (as a killed run leaves it): the last events missing.
    let cut = dir.path().join("cut.sqlite");
    std::fs::copy(&db, &cut).unwrap();
    rehearse_sim::store::sqlite::truncate_events(&cut, 60).unwrap();
    let (code, text) = replay(&cut, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("incomplete: a valid prefix of 60 events"), "{text}");
}

/// The `at_ms` and `kind` columns that queries read sit outside the hash
/// chain: replay holds them to the payload they were copied from.
#[test]
fn replay_catches_a_changed_query_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = run_db(dir.path(), &["--seed", "11"]);
    for (column, sql) in [
        ("kind", "UPDATE events SET kind = 'StepFailed' WHERE seq = 17"),
        ("at_ms", "UPDATE events SET at_ms = at_ms + 1 WHERE seq = 17"),
    ] {
        let damaged = dir.path().join("column.sqlite");
        std::fs::copy(&db, &damaged).unwrap();
        let conn = rusqlite::Connection::open(&damaged).unwrap();
        assert_eq!(conn.execute(sql, []).unwrap(), 1);
        drop(conn);
        let (code, text) = replay(&damaged, &[]);
        assert_eq!(code, Some(2), "{sql}: {text}");
        assert!(text.contains("corrupted at seq 17") && text.contains(&format!("`{column}`")), "{sql}: {text}");
    }
}

/// A run killed with SIGKILL while it writes its store leaves the batches it
/// committed: `replay` calls it incomplete, `sql` reads it.
#[test]
fn a_killed_run_leaves_a_readable_prefix() {
    let dir = tempfile::tempdir().unwrap();
    // A long chain, so the run is still writing when it is killed.
    let plan = crate::store_errors::long_plan(dir.path());
    let db = dir.path().join("killed.sqlite");
    // The run's store writer halts after its first batch and says so: the
    // run is killed then, with exactly one batch committed, never racing
    // it (a fast run used to finish before the kill).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["run", plan.to_str().unwrap(), "--seed", "3", "--db", db.to_str().unwrap()])
        .args(["--halt-store-after-batches", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let said = std::io::BufReader::new(child.stderr.take().unwrap());
    let halted = std::io::BufRead::lines(said).map_while(Result::ok).any(|l| l == "store halted after 1 batches");
    assert!(halted, "the run said its store halted");
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished");

    let (code, text) = replay(&db, &[]);
    assert_eq!(code, Some(1), "{text}");
    let n: u64 = text
        .split("incomplete: a valid prefix of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(n, 4096, "one batch of 4,096 events: {text}");
    let out = rehearse(&["sql", db.to_str().unwrap(), "SELECT count(*) AS n, max(seq) AS last FROM events", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["n"], Value::String(n.to_string()), "{rows}");
    assert_eq!(rows[0]["last"], Value::String((n - 1).to_string()), "{rows}");
}

#[test]
fn replay_says_ok_corrupted_incomplete_or_diverged_for_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    let out = rehearse(&["run", SCENARIO, "--seed", "11", "--events", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let (code, text) = replay(&log, &["--scenario", SCENARIO]);
    assert_eq!(code, Some(0), "{text}");

    let text_log = std::fs::read_to_string(&log).unwrap();
    // Flip one byte of event 5 (a digit of its time).
    let mut lines: Vec<String> = text_log.lines().map(str::to_string).collect();
    lines[5] = lines[5].replacen("\"at\":", "\"at\":1", 1);
    let flipped = dir.path().join("flipped.jsonl");
    std::fs::write(&flipped, lines.join("\n") + "\n").unwrap();
    let (code, text) = replay(&flipped, &["--scenario", SCENARIO]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("corrupted at seq 5"), "{text}");

    // Truncated in the middle of a line.
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text_log[..text_log.len() / 2]).unwrap();
    let (code, text) = replay(&cut, &["--scenario", SCENARIO]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("incomplete: a valid prefix of"), "{text}");

    // Without its scenario, a JSONL log cannot be replayed.
    let (code, text) = replay(&log, &[]);
    assert_eq!(code, Some(2));
    assert!(text.contains("--scenario"), "{text}");
}

#[test]
fn a_sound_log_that_the_scenario_does_not_produce_diverges() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let mut memory = MemorySink::new();
    Simulator::new(&plan).run(&RunOptions::new(11, Mode::Random), &mut memory).unwrap();
    // Claim another seed: the chain is recomputed, so the log is sound, but
    // re-simulating seed 12 gives other durations.
    let mut records = memory.records.clone();
    if let rehearse_core::Event::RunStarted { seed, .. } = &mut records[0].event {
        *seed = 12;
    }
    let mut w = JsonlWriter::new(Vec::new(), &s);
    for r in &records {
        rehearse_sim::EventSink::record(&mut w, r).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("forged.jsonl");
    std::fs::write(&log, w.into_inner()).unwrap();
    let (code, out) = replay(&log, &["--scenario", SCENARIO]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("diverged at seq"), "{out}");
    assert!(out.contains("logged:") && out.contains("re-simulated:"), "{out}");
    // Both events, as the log writes them, and not the same.
    let shown: Vec<&str> = out.lines().filter(|l| l.contains(r#"{"seq":"#)).collect();
    assert_eq!(shown.len(), 2, "{out}");
    assert_ne!(shown[0].split_once('{').unwrap().1, shown[1].split_once('{').unwrap().1, "{out}");
}

#[test]
fn replay_of_a_run_with_faults_and_a_rollback_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ss.sqlite");
    let out = rehearse(&[
        "run",
        "scenarios/self-service-upgrade.toml",
        "--seed",
        "4",
        "--fault",
        "dvt@prod-data-upgrade",
        "--fault",
        "validation@prod-validation",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, text) = replay(&db, &["--json"]);
    assert_eq!(code, Some(0), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["outcome"], "rolled back");
}

/// A stored run that broke invariants is not "OK": replay says so, lists
/// them and exits 1, as `run` does on the same run.
#[test]
fn a_stored_run_with_violations_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wrong.sqlite");
    let db = db.to_str().unwrap();
    let run = [
        "run",
        "tests/data/wrong-recovery.toml",
        "--seed",
        "50",
        "--fault",
        "dvt@data-upgrade#1",
        "--fault",
        "dvt@data-upgrade#2",
    ];
    let out = rehearse(&[&run[..], &["--db", db]].concat());
    assert_eq!(out.status.code(), Some(1), "the run breaks an invariant: {}", stdout(&out));
    let out = rehearse(&["replay", db]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("violations: the store is intact"), "{}", stdout(&out));
    assert!(stdout(&out).contains("cancelled after downtime began"), "{}", stdout(&out));
    let out = rehearse(&["replay", db, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verdict"], "violations");
    // A sound run of the same plan is OK.
    let ok = dir.path().join("ok.sqlite");
    let out = rehearse(&["run", "tests/data/wrong-recovery.toml", "--no-faults", "--db", ok.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rehearse(&["replay", ok.to_str().unwrap()]).status.code(), Some(0));
}

/// A query with no end stops at its limit with exit 2: too many rows, or
/// past its time.
#[test]
fn sql_is_bounded_in_rows_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = run_db(dir.path(), &[]);
    let db = db.to_str().unwrap();
    let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)";
    let out = rehearse(&["sql", db, &format!("{endless} SELECT x FROM c"), "--max-rows", "1000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("returns more than 1000 rows"), "{}", stderr(&out));
    let out = rehearse(&["sql", db, &format!("{endless} SELECT count(*) FROM c"), "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped before it ended") && stderr(&out).contains("--timeout 300ms"),
        "{}",
        stderr(&out)
    );
    // Within its bounds, a query answers.
    let out = rehearse(&["sql", db, "SELECT count(*) AS n FROM events", "--max-rows", "1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
