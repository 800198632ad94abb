//! A store damaged outside its events is never OK: `replay` checks the
//! whole file (SQLite's integrity check, every table a store holds and no
//! others), the run's identity bound into the chain's first link, and
//! every projection rebuilt from the events, row for row. Any damage is
//! `corrupted`, the table named, exit 2.

use std::path::{Path, PathBuf};

use crate::support::{rehearse, stderr, stdout};

/// A small store of a run with rows in DATAUPGRADESTATUS and the script
/// error log, and one with PostValidationInfo and ReplicationStatus rows.
fn stores(dir: &Path) -> [PathBuf; 2] {
    let runs: [(&str, &[&str]); 2] = [
        (
            "scenarios/ax2012-data-upgrade-dev.toml",
            &["--seed", "3", "--fault", "presync-script-error@PreSync.WaitForBatch"],
        ),
        ("scenarios/ax2012-go-live.toml", &["--seed", "5"]),
    ];
    runs.map(|(plan, extra)| {
        let db = dir.join(format!("{}.sqlite", Path::new(plan).file_stem().unwrap().to_string_lossy()));
        let out = rehearse(&[&["run", plan, "--db", db.to_str().unwrap()], extra].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (code, text) = replay(&db);
        assert_eq!(code, Some(0), "{text}");
        db
    })
}

fn replay(db: &Path) -> (Option<i32>, String) {
    let out = rehearse(&["replay", db.to_str().unwrap()]);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

/// A copy of `db` changed by `sql`, and what `replay` says of it.
fn tampered(db: &Path, sql: &str) -> (Option<i32>, String) {
    let copy = db.with_extension("tampered.sqlite");
    std::fs::copy(db, &copy).unwrap();
    rusqlite::Connection::open(&copy).unwrap().execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    replay(&copy)
}

/// Asserts exit 2, `corrupted` with `table` named, and `says`.
fn caught(what: &str, (code, text): (Option<i32>, String), table: &str, says: &str) {
    assert_eq!(code, Some(2), "{what}: {text}");
    assert!(text.contains(&format!("corrupted: table `{table}`: {says}")), "{what}: {text}");
}

fn rows(db: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// Every page of a small store (tables, indexes, `run_meta`'s overflow
/// page holding the scenario text, the schema) zeroed in turn: `replay`
/// never says OK, and names the table. Page 1 zeroed leaves no SQLite file
/// at all. Pages already zero (none here: freed pages are zeroed as they
/// are freed) cannot be damaged by zeroing.
#[test]
fn a_zeroed_page_anywhere_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    for db in stores(dir.path()) {
        let bytes = std::fs::read(&db).unwrap();
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65_536,
            n => usize::from(n),
        };
        assert_eq!(bytes.len() % page_size, 0);
        let n_pages = bytes.len() / page_size;
        assert!(n_pages > 10, "{n_pages} pages");
        for page in 0..n_pages {
            let span = page * page_size..(page + 1) * page_size;
            if bytes[span.clone()].iter().all(|b| *b == 0) {
                continue;
            }
            let mut zeroed = bytes.clone();
            zeroed[span].fill(0);
            let copy = dir.path().join("zeroed.sqlite");
            std::fs::write(&copy, &zeroed).unwrap();
            let (code, text) = replay(&copy);
            let what = format!("{} page {}", db.display(), page + 1);
            assert_eq!(code, Some(2), "{what}: {text}");
            if page == 0 {
                assert!(text.contains("neither a run store"), "{what}: {text}");
            } else {
                assert!(text.contains(": corrupted: table `"), "{what}: {text}");
            }
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.path().join(format!("zeroed.sqlite{suffix}")));
            }
        }
    }
}

/// Each projection dropped, a row deleted, a row forged, a cell changed:
/// caught and named.
#[test]
fn a_projection_dropped_or_a_row_deleted_or_forged_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let [upgrade, golive] = stores(dir.path());
    let cases = [
        (
            &upgrade,
            "DATAUPGRADESTATUS",
            "('2022-05-20 00:00:00.000', NULL, 'PreSync', 'Forged', 'Completed')",
            "Status = 'Failed'",
        ),
        (
            &upgrade,
            "RELEASEUPDATESCRIPTSERRORLOG",
            "('2022-05-20 00:00:00.000', 'PreSync', 'Forged', 'no such error')",
            "MESSAGE = 'another message'",
        ),
        (
            &golive,
            "PostValidationInfo",
            "('FORGED', 1, 1, 'Matched', '2026-12-05 00:00:00.000', 'x')",
            "TargetRecordCount = 0",
        ),
        (&golive, "ReplicationStatus", "('AX_PUB_Forged', 'X', 1, 'Caught up', NULL, NULL)", "State = 'Not started'"),
    ];
    for (db, table, forged, change) in cases {
        assert!(rows(db, table) > 0, "{table} has rows to damage");
        caught("dropped", tampered(db, &format!("DROP TABLE {table}")), table, "missing");
        let delete = format!("DELETE FROM {table} WHERE rowid = (SELECT min(rowid) FROM {table})");
        caught(&delete, tampered(db, &delete), table, "lacks a row the events give: (");
        let forge = format!("INSERT INTO {table} VALUES {forged}");
        caught(&forge, tampered(db, &forge), table, "holds a row the events do not give: (");
        let update = format!("UPDATE {table} SET {change} WHERE rowid = (SELECT max(rowid) FROM {table})");
        caught(&update, tampered(db, &update), table, "row ");
    }
    // Objects a store never holds: they change what queries return.
    for (sql, table) in [
        ("CREATE VIEW v AS SELECT 1", "v"),
        ("CREATE INDEX k ON events (kind)", "events"),
        ("CREATE TRIGGER t AFTER INSERT ON events BEGIN SELECT 1; END", "events"),
        ("CREATE TABLE notes (x)", "notes"),
    ] {
        caught(sql, tampered(&upgrade, sql), table, "a");
    }
    // A table dropped and made again as it was, but empty.
    let remade = "DROP TABLE DATAUPGRADESTATUS; CREATE TABLE DATAUPGRADESTATUS (StartTime TEXT, EndTime TEXT, Steps TEXT NOT NULL, SubSteps TEXT NOT NULL, Status TEXT NOT NULL, PRIMARY KEY (Steps, SubSteps))";
    caught(remade, tampered(&upgrade, remade), "DATAUPGRADESTATUS", "");
}

/// Every `run_meta` row is bound into the chain's first link (the status
/// is held to the events): an edit, a row added or deleted, is caught.
#[test]
fn run_meta_edited_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let [upgrade, _] = stores(dir.path());
    let conn = rusqlite::Connection::open(&upgrade).unwrap();
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM run_meta ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(conn);
    for key in [
        "backend",
        "calendar_start",
        "event_schema",
        "faults",
        "identity",
        "mode",
        "rehearse_version",
        "run",
        "scenario_digest",
        "scenario_path",
        "scenario_text",
        "seed",
        "status",
        "store_format",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    for key in &keys {
        let edit = format!("UPDATE run_meta SET value = value || ' ' WHERE key = '{key}'");
        caught(&edit, tampered(&upgrade, &edit), "run_meta", "");
        let delete = format!("DELETE FROM run_meta WHERE key = '{key}'");
        caught(&delete, tampered(&upgrade, &delete), "run_meta", "");
    }
    for (sql, says) in [
        ("UPDATE run_meta SET value = '4' WHERE key = 'seed'", "the run's identity"),
        ("UPDATE run_meta SET value = 'sqlite' WHERE key = 'backend'", "the run's identity"),
        ("UPDATE run_meta SET value = 'scripted: ' WHERE key = 'faults'", "the run's identity"),
        ("INSERT INTO run_meta VALUES ('note', 'x')", "the run's identity"),
        ("UPDATE run_meta SET value = 'running' WHERE key = 'status'", "its status says \"running\""),
        ("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)", "its status says \"finished\""),
    ] {
        caught(sql, tampered(&upgrade, sql), "run_meta", says);
    }
}

/// A weekend log is checked whole too: every page zeroed in turn is
/// corrupted (or, page 1, no SQLite file at all), and a table added is
/// named.
#[test]
fn a_weekend_log_with_a_zeroed_page_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::copy(crate::support::root().join("scenarios/ax2012-data-upgrade-dev.toml"), &plan).unwrap();
    let log = dir.path().join("weekend.sqlite");
    let log_s = log.to_str().unwrap();
    let at = "2022-05-20T04:00:00+00:00";
    for args in [&["init", plan.to_str().unwrap()][..], &["note", "all hands on deck"]] {
        let out = rehearse(&[&["track", log_s], args, &["--at", at, "--by", "ana"]].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(replay(&log).0, Some(0));
    let bytes = std::fs::read(&log).unwrap();
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    for page in 0..bytes.len() / page_size {
        let span = page * page_size..(page + 1) * page_size;
        if bytes[span.clone()].iter().all(|b| *b == 0) {
            continue;
        }
        let mut zeroed = bytes.clone();
        zeroed[span].fill(0);
        let copy = dir.path().join(format!("zeroed-{page}.sqlite"));
        std::fs::write(&copy, &zeroed).unwrap();
        let (code, text) = replay(&copy);
        assert_eq!(code, Some(2), "page {}: {text}", page + 1);
        assert!(text.contains("corrupted") || page == 0 && text.contains("neither a run store"), "{text}");
    }
    caught("a table added", tampered(&log, "CREATE TABLE notes (x)"), "notes", "a table `notes`");
}
