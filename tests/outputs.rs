//! No output replaces an input or a file the command did not make, and a
//! store has one writer: a run can never overwrite its own plan, an
//! export, another program's file, or a run still being written.

use std::path::{Path, PathBuf};

use crate::support::{rehearse, root, stderr, stdout};

const SCENARIO: &str = "scenarios/self-service-upgrade.toml";
const EXPORT: &str = "tests/data/dataupgradestatus-ax2012-sample.csv";

/// A copy of a bundled file in `dir`.
fn copy(dir: &Path, from: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(root().join(from), &to).expect("copy");
    to
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `args` and asserts exit 2, a message naming `says`, and `file`
/// byte for byte as it was.
fn refused(args: &[&str], file: &Path, says: &str) {
    let before = std::fs::read(file).expect("read");
    let out = rehearse(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    assert_eq!(std::fs::read(file).expect("read"), before, "{args:?} changed {}", file.display());
}

#[test]
fn no_output_option_replaces_the_plan_it_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = copy(dir.path(), SCENARIO, "plan.toml");
    let link = dir.path().join("link.toml");
    std::fs::hard_link(&plan, &link).expect("hard link");
    for out in [&plan, &link] {
        refused(&["run", s(&plan), "--db", s(out)], &plan, "refusing to overwrite it");
        refused(&["run", s(&plan), "--events", s(out)], &plan, "refusing to overwrite it");
        refused(&["run", s(&plan), "--db", s(out), "--force"], &plan, "refusing to overwrite it");
        refused(&["estimate", s(&plan), "--runs", "10", "--html", s(out)], &plan, "refusing to overwrite it");
    }
    // --events and --db on one file: one would overwrite the other.
    let both = dir.path().join("both.out");
    let out = rehearse(&["run", s(&plan), "--db", s(&both), "--events", s(&both)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the --db store"), "{}", stderr(&out));
    assert!(!both.exists(), "nothing is written when refused");
}

#[test]
fn calibrate_never_writes_over_an_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let export = copy(dir.path(), EXPORT, "mock1.csv");
    refused(&["calibrate", s(&export), "-o", s(&export)], &export, "refusing to overwrite it");
    refused(&["calibrate", s(&export), "--into", s(&export)], &export, "refusing to overwrite it");
    let out = rehearse(&["calibrate", s(&export), "-o", s(&dir.path().join("ok.toml"))]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn db_replaces_a_store_but_no_other_file_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let notes = dir.path().join("notes.sqlite");
    std::fs::write(&notes, "my cutover notes\n").expect("write");
    refused(&["run", SCENARIO, "--db", s(&notes)], &notes, "not a rehearse run store");
    // Another program's SQLite database is not a store either.
    let other = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&other).expect("open");
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").expect("create");
    }
    refused(&["run", SCENARIO, "--db", s(&other)], &other, "not a rehearse run store");
    // Told to, it does; and an earlier store is replaced without asking.
    for _ in 0..2 {
        let out = rehearse(&["run", SCENARIO, "--db", s(&notes), "--force"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = rehearse(&["run", SCENARIO, "--seed", "3", "--db", s(&notes)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = rehearse(&["replay", s(&notes)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}

/// A store being written is held by its writer: a second run on the same
/// path is refused at once and the first run's store is left whole.
#[test]
fn a_second_writer_is_refused_and_the_first_run_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("run.sqlite");
    let out = rehearse(&["run", SCENARIO, "--seed", "5", "--db", s(&db)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Hold the store as a running writer does.
    let held = std::fs::OpenOptions::new().read(true).write(true).open(&db).expect("open");
    held.try_lock().expect("the finished run released its store");
    refused(&["run", SCENARIO, "--seed", "6", "--db", s(&db)], &db, "another run is writing this store");
    drop(held);
    let out = rehearse(&["replay", s(&db)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let out = rehearse(&["sql", s(&db), "SELECT value FROM run_meta WHERE key = 'seed'", "--json"]);
    assert!(stdout(&out).contains("\"5\""), "{}", stdout(&out));
}

/// File names are names: `%41` is not `A`, `?` and `#` start no query or
/// fragment, for every command that opens a store.
#[test]
fn stores_are_opened_by_their_own_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed_of = |db: &Path| {
        let out = rehearse(&["sql", s(db), "SELECT value FROM DBUPGRADE.run_meta WHERE key = 'seed'", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
        rows[0]["value"].as_str().expect("a seed").to_string()
    };
    let pct = dir.path().join("pct%41.sqlite");
    let a = dir.path().join("pctA.sqlite");
    for (db, seed) in [(&pct, "11"), (&a, "12")] {
        let out = rehearse(&["run", SCENARIO, "--seed", seed, "--db", s(db)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(seed_of(&pct), "11");
    assert_eq!(seed_of(&a), "12");
    let odd = dir.path().join("a?b#c%d.sqlite");
    let out = rehearse(&["run", SCENARIO, "--seed", "13", "--db", s(&odd)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seed_of(&odd), "13");
    let out = rehearse(&["replay", s(&odd)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}
