//! `rehearse track`, the weekend log: each record checked against the plan
//! and the log (refusals with their reason, exit 2, nothing written),
//! corrections, imports of partial exports (idempotent), `replay`'s
//! verdicts (a killed import, a changed byte), `show`, and the actuals the
//! forecast reads.

use std::path::{Path, PathBuf};

use rehearse_sim::track::{Log, Record};

use crate::support::{rehearse, stderr, stdout};

const NOW: &str = "2025-03-02T12:00:00+01:00";

/// A small weekend: a backup, an upgrade of two sub-steps (a DVT failure
/// may strike the scripts), the go-live. `calibrate`'s tests record it too
/// (they keep its comments when they write a calibrated copy).
pub(crate) const PLAN: &str = r#"# The weekend as planned.
[scenario]
name = "small weekend"
time_zone = "Europe/Berlin"
downtime_begins_at = "2025-03-01T18:00:00"

[[step]]
id = "backup"
duration = "1h" # a guess
downtime = "begins"

[[step]]
id = "upgrade"
after = ["backup"]

[[step]]
id = "sync"
parent = "upgrade"
duration = "2h"

[[step]]
id = "scripts"
parent = "upgrade"
after = ["sync"]
duration = "3h"

[[step]]
id = "golive"
after = ["upgrade"]
duration = "30m"
downtime = "ends"

[[fault]]
id = "dvt"
catalog = "dvt-mrprocessservice"
steps = ["scripts"]
probability = 0.1
recovery = "resume-it"

[recovery.resume-it]
action = "resume"
"#;

/// A runbook recording DATAUPGRADESTATUS with `n` sub-steps in a row
/// (`Sub0`, `Sub1`, ...) in the phase `PreReqs`, after a step `prep`.
fn runbook_plan(n: usize) -> String {
    let mut t = String::from(
        "[scenario]\nname = \"runbook\"\ntime_zone = \"Europe/Berlin\"\ndowntime_begins_at = \"2025-03-01T06:00:00\"\n\
         [[step]]\nid = \"prep\"\nduration = \"10m\"\ndowntime = \"begins\"\n\
         [[step]]\nid = \"runbook\"\nrecords_status = true\nafter = [\"prep\"]\ndowntime = \"ends\"\n\
         [[step]]\nid = \"PreReqs\"\nparent = \"runbook\"\n",
    );
    for i in 0..n {
        t.push_str(&format!("[[step]]\nid = \"s{i}\"\nname = \"Sub{i}\"\nparent = \"PreReqs\"\nduration = \"1m\"\n"));
        if i > 0 {
            t.push_str(&format!("after = [\"s{}\"]\n", i - 1));
        }
    }
    t
}

/// An export of that runbook: the first `done` sub-steps completed (one
/// minute each from 06:10), the next one in progress if `running`.
fn export(done: usize, running: bool) -> String {
    let mut t = String::from("StartTime,EndTime,Steps,SubSteps,Status\n");
    let at = |m: usize| format!("2025-03-01 {:02}:{:02}:00.000", 6 + (10 + m) / 60, (10 + m) % 60);
    for i in 0..done {
        t.push_str(&format!("{},{},PreReqs,Sub{i},Completed\n", at(i), at(i + 1)));
    }
    if running {
        t.push_str(&format!("{},NULL,PreReqs,Sub{done},InProgress\n", at(done)));
    }
    t
}

struct Weekend {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    log: PathBuf,
}

impl Weekend {
    /// A new log for `plan`.
    fn new(plan: &str) -> Weekend {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("plan.toml"), plan).unwrap();
        let w = Weekend { log: path.join("w.sqlite"), dir: path, _dir: dir };
        w.ok(&["init", w.dir.join("plan.toml").to_str().unwrap(), "--at", "2025-03-01T05:00:00", "--by", "ana"]);
        w
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["track", self.log.to_str().unwrap()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--now", NOW]);
        rehearse(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// The command is refused with exit 2, a message containing `why`, and
    /// nothing written.
    fn refused(&self, args: &[&str], why: &str) {
        let before = self.count();
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert_eq!(self.count(), before, "{args:?} wrote nothing");
    }

    fn count(&self) -> i64 {
        let conn = rusqlite::Connection::open(&self.log).unwrap();
        conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

fn replay(log: &Path) -> (Option<i32>, String) {
    let out = rehearse(&["replay", log.to_str().unwrap()]);
    (out.status.code(), format!("{}{}", stdout(&out), stderr(&out)))
}

#[test]
fn records_that_break_the_plan_are_refused_with_the_reason_and_nothing_written() {
    let w = Weekend::new(PLAN);
    w.refused(&["start", "bakup"], "unknown step `bakup`; did you mean `backup`?");
    w.refused(&["done", "backup", "--at", "2025-03-01T19:00:00"], "`backup` cannot be done: it has not started");
    w.ok(&["start", "backup", "--at", "2025-03-01T18:00:00", "--by", "ana"]);
    w.refused(&["start", "backup", "--at", "2025-03-01T18:05:00"], "`backup` is already started (seq 1)");
    w.refused(
        &["start", "upgrade", "--at", "2025-03-01T18:30:00"],
        "`upgrade` cannot start: it waits for `backup` to be done",
    );
    w.refused(&["done", "backup", "--at", "2025-03-01T17:00:00"], "it started later, at 2025-03-01T18:00:00.000+01:00");
    w.ok(&["done", "backup", "--at", "2025-03-01T19:00:00+01:00"]);
    w.refused(&["done", "backup", "--at", "2025-03-01T19:01:00"], "`backup` is already done (seq 2)");
    w.refused(
        &["start", "upgrade", "--at", "2025-03-01T18:59:00"],
        "`upgrade` cannot start at 2025-03-01T18:59:00.000+01:00: it waits for `backup`, which was done later",
    );
    w.refused(&["start", "sync", "--at", "2025-03-01T19:10:00"], "sub-step of `upgrade`, which has not started");
    w.ok(&["start", "upgrade", "--at", "2025-03-01T19:10:00"]);
    w.ok(&["start", "sync", "--at", "2025-03-01T19:10:00"]);
    w.refused(&["start", "scripts", "--at", "2025-03-01T19:10:00"], "it waits for `sync` to be done");
    w.refused(&["done", "upgrade", "--at", "2025-03-01T23:00:00"], "its sub-step `sync` is not done");
    w.refused(&["fault", "dtv@scripts"], "unknown fault `dtv`; did you mean `dvt`?");
    w.refused(&["fault", "dvt@sync"], "fault `dvt` cannot strike `sync`");
    w.refused(&["fault", "dvt@scripts", "--at", "2025-03-01T20:00:00"], "`scripts` has not started");
    w.refused(&["decide", "resum", "--by", "cy", "--why", "x"], "did you mean `resume`?");
    w.refused(&["note", "later", "--at", "2025-03-03T10:00:00"], "is in the future");
    w.refused(&["start", "scripts", "--at", "2025-03-30T02:30:00"], "does not exist in Europe/Berlin");
    w.refused(&["start", "sync", "--at", "tomorrow"], "is not a date and time");
    assert_eq!(w.count(), 5);
    let (code, text) = replay(&w.log);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("OK"), "{text}");
}

#[test]
fn a_mistake_is_corrected_by_a_new_record_never_by_editing_the_past() {
    let w = Weekend::new(PLAN);
    w.ok(&["start", "backup", "--at", "2025-03-01T18:00:00"]);
    w.ok(&["done", "backup", "--at", "2025-03-01T19:00:00"]);
    w.ok(&["start", "upgrade", "--at", "2025-03-01T19:10:00"]);
    w.ok(&["start", "sync", "--at", "2025-03-01T19:10:00"]);
    // A correction that would put `backup` after the `upgrade` that waits
    // for it is refused, naming the record it would break.
    w.refused(
        &["correct", "2", "--by", "ana", "--why", "late", "--at", "2025-03-01T19:30:00"],
        "the log would no longer hold at seq 3 (`start upgrade`)",
    );
    w.refused(&["correct", "0", "--by", "ana", "--why", "x", "--at", "2025-03-01T19:30:00"], "cannot be corrected");
    w.refused(&["correct", "9", "--by", "ana", "--why", "x", "--withdraw"], "there is no record seq 9");
    let payload_before: String = {
        let conn = rusqlite::Connection::open(&w.log).unwrap();
        conn.query_row("SELECT payload FROM events WHERE seq = 2", [], |r| r.get(0)).unwrap()
    };
    w.ok(&["correct", "2", "--by", "ana", "--why", "typed 19:00 for 18:50", "--at", "2025-03-01T18:50:00"]);
    let conn = rusqlite::Connection::open(&w.log).unwrap();
    let payload_after: String = conn.query_row("SELECT payload FROM events WHERE seq = 2", [], |r| r.get(0)).unwrap();
    assert_eq!(payload_before, payload_after, "the past is not edited");
    let log = Log::open(&w.log).unwrap();
    let eff = log.effective();
    let done = eff.iter().find(|e| matches!(&e.record, Record::Done { step } if step == "backup")).unwrap();
    assert_eq!(done.at.to_string(), "2025-03-01T18:50:00.000+01:00");
    assert_eq!(done.corrected_by, Some(5));
    // A step recorded by mistake is withdrawn, and can then be recorded.
    w.ok(&["correct", "4", "--by", "bo", "--why", "wrong step", "--withdraw"]);
    w.ok(&["start", "sync", "--at", "2025-03-01T19:20:00"]);
    let show = w.ok(&["show"]);
    assert!(show.contains("(corrected)"), "{show}");
    assert!(show.contains("typed 19:00 for 18:50 (ana)"), "{show}");
    assert!(show.contains("withdraw seq 4: wrong step (bo)"), "{show}");
    let (code, text) = replay(&w.log);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn show_prints_the_timeline_and_json() {
    let w = Weekend::new(PLAN);
    w.ok(&["start", "backup", "--at", "2025-03-01T18:00:00", "--by", "ana"]);
    w.ok(&["done", "backup", "--at", "2025-03-01T19:05:00", "--by", "ana"]);
    w.ok(&["start", "upgrade", "--at", "2025-03-01T19:10:00", "--by", "bo"]);
    w.ok(&["start", "sync", "--at", "2025-03-01T19:10:00", "--by", "bo"]);
    w.ok(&["done", "sync", "--at", "2025-03-01T21:00:00", "--by", "bo"]);
    w.ok(&["start", "scripts", "--at", "2025-03-01T21:05:00", "--by", "bo"]);
    w.ok(&["fault", "dvt@scripts", "--at", "2025-03-01T22:00:00", "--by", "bo"]);
    w.ok(&[
        "decide",
        "resume",
        "--step",
        "scripts",
        "--by",
        "cy",
        "--why",
        "known issue",
        "--at",
        "2025-03-01T22:10:00",
    ]);
    w.ok(&["note", "coffee ran out", "--by", "ana", "--at", "2025-03-01T23:00:00"]);
    let text = w.ok(&["show"]);
    let line = |id: &str| text.lines().find(|l| l.split_whitespace().any(|w| w == id)).unwrap_or_default().to_string();
    assert!(line("backup").contains("Sat 2025-03-01 18:00:00 +01:00  Sat 2025-03-01 19:05:00 +01:00"), "{text}");
    assert!(line("backup").contains("01:05:00") && line("backup").contains("01:00:00"), "took and planned: {text}");
    assert!(line("scripts").starts_with('>') && line("scripts").contains("so far"), "running: {text}");
    assert!(line("golive").contains('-'), "{text}");
    assert!(text.contains("fault dvt@scripts (bo)"), "{text}");
    assert!(text.contains("decide resume (step scripts): known issue (cy)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&["show", "--json"])).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), 10);
    let scripts = json["steps"].as_array().unwrap().iter().find(|s| s["step"] == "scripts").unwrap();
    assert_eq!(scripts["running"], true);
    assert_eq!(scripts["planned_ms"], 3 * 3_600_000);
    assert_eq!(scripts["started"], "2025-03-01T21:05:00.000+01:00");
}

#[test]
fn the_log_gives_the_forecast_its_actuals_and_scenario() {
    let w = Weekend::new(PLAN);
    w.ok(&["start", "backup", "--at", "2025-03-01T18:00:00"]);
    w.ok(&["done", "backup", "--at", "2025-03-01T19:00:00"]);
    w.ok(&["start", "upgrade", "--at", "2025-03-01T19:10:00"]);
    w.ok(&["start", "sync", "--at", "2025-03-01T19:10:00"]);
    w.ok(&["done", "sync", "--at", "2025-03-01T19:15:00"]);
    w.ok(&["start", "scripts", "--at", "2025-03-01T19:15:00"]);
    w.ok(&["fault", "dvt@scripts", "--at", "2025-03-01T19:20:00", "--by", "bo"]);
    let log = Log::open(&w.log).unwrap();
    assert_eq!(log.scenario_text(), PLAN);
    let sc = log.scenario().unwrap();
    let now: jiff::Timestamp = "2025-03-01T20:00:00+01:00".parse().unwrap();
    let a = log.actuals(&sc, now);
    assert_eq!(a.origin, "2025-03-01T17:00:00Z".parse::<jiff::Timestamp>().unwrap());
    assert_eq!(a.now_ms, 2 * 3_600_000);
    let idx = |id: &str| sc.find(id).unwrap();
    assert_eq!(a.started(idx("backup")), Some(0));
    assert_eq!(a.done(idx("backup")), Some(3_600_000));
    assert_eq!(a.started(idx("sync")), Some(70 * 60_000));
    assert_eq!(a.done(idx("sync")), Some(75 * 60_000));
    assert_eq!(a.done(idx("scripts")), None);
    assert_eq!(a.started(idx("golive")), None);
    a.check(&sc).unwrap();
    let faults = log.faults();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].record, Record::Fault { fault: "dvt".into(), step: "scripts".into() });
    assert_eq!(faults[0].by.as_deref(), Some("bo"));
    // Nothing started: time 0 is now.
    let empty = Weekend::new(PLAN);
    let a = Log::open(&empty.log).unwrap().actuals(&sc, now);
    assert_eq!((a.origin, a.now_ms), (now, 0));
}

#[test]
fn import_reads_a_partial_export_and_a_newer_one_adds_only_what_is_new() {
    let w = Weekend::new(&runbook_plan(5));
    let partial = w.file("partial.csv", &export(2, true));
    // The runbook waits for `prep`: the export is refused, line and reason.
    let out = w.run(&["import", &partial]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("partial.csv:2: `start runbook`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("it waits for `prep` to be done"), "{}", stderr(&out));
    assert_eq!(w.count(), 1);
    w.ok(&["start", "prep", "--at", "2025-03-01T06:00:00"]);
    w.ok(&["done", "prep", "--at", "2025-03-01T06:10:00"]);
    let said = w.ok(&["import", &partial]);
    // runbook, PreReqs, Sub0 started and done, Sub1 too, Sub2 started.
    assert!(said.contains("3 rows read, 7 new records"), "{said}");
    let again = w.ok(&["import", &partial]);
    assert!(again.contains("0 new records"), "the same export adds nothing: {again}");
    let newer = w.file("newer.csv", &export(5, false));
    let said = w.ok(&["import", &newer]);
    // Sub2 done, Sub3 and Sub4 started and done, PreReqs and runbook done.
    assert!(said.contains("5 rows read, 7 new records"), "{said}");
    let log = Log::open(&w.log).unwrap();
    let sc = log.scenario().unwrap();
    let a = log.actuals(&sc, "2025-03-01T07:00:00+01:00".parse().unwrap());
    assert_eq!(a.done(sc.find("runbook").unwrap()), Some(15 * 60_000));
    let (code, text) = replay(&w.log);
    assert_eq!(code, Some(0), "{text}");

    // An export that disagrees with the log, or breaks the plan's order,
    // is refused with its line, and nothing is written.
    let other = w.file("other.csv", &export(1, false).replace("06:10:00", "06:09:00"));
    w.refused(&["import", &other], "other.csv:2: `s0` started at 2025-03-01T06:09:00.000+01:00 in the export");
    let w2 = Weekend::new(&runbook_plan(3));
    w2.ok(&["start", "prep", "--at", "2025-03-01T06:00:00"]);
    w2.ok(&["done", "prep", "--at", "2025-03-01T06:10:00"]);
    let early = "StartTime,EndTime,Steps,SubSteps,Status\n\
                 2025-03-01 06:10:00.000,2025-03-01 06:12:00.000,PreReqs,Sub0,Completed\n\
                 2025-03-01 06:11:00.000,NULL,PreReqs,Sub1,InProgress\n";
    let early = w2.file("early.csv", early);
    w2.refused(
        &["import", &early],
        "early.csv:3: `start s1` at 2025-03-01T06:11:00.000+01:00 refused: `s1` cannot start at 2025-03-01T06:11:00.000+01:00: it waits for `s0`, which was done later",
    );
    w2.refused(
        &["import", &w2.file("typo.csv", &export(1, false).replace("Sub0", "Sub00"))],
        "did you mean PreReqs/Sub0?",
    );
}

#[test]
fn a_killed_import_leaves_a_log_replay_calls_incomplete_and_importing_again_finishes_it() {
    let w = Weekend::new(&runbook_plan(60));
    w.ok(&["start", "prep", "--at", "2025-03-01T06:00:00"]);
    w.ok(&["done", "prep", "--at", "2025-03-01T06:10:00"]);
    let csv = w.file("all.csv", &export(60, false));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["track", w.log.to_str().unwrap(), "import", &csv, "--now", NOW, "--halt-after-batches", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let said = std::io::BufReader::new(child.stderr.take().unwrap());
    let halted = std::io::BufRead::lines(said).map_while(Result::ok).any(|l| l == "track halted after 1 batches");
    assert!(halted, "the import said it halted");
    child.kill().unwrap(); // SIGKILL on Unix
    assert!(!child.wait().unwrap().success());
    assert_eq!(w.count(), 3 + 64);
    let (code, text) = replay(&w.log);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("incomplete: an import was cut short; the 67 records written are sound"), "{text}");
    let said = w.ok(&["import", &csv]);
    // 60 sub-steps started and done, PreReqs and runbook started and done.
    assert!(said.contains(&format!("{} new records", 124 - 64)), "{said}");
    let (code, text) = replay(&w.log);
    assert_eq!(code, Some(0), "{text}");
}

/// A record killed at any moment of its write (SIGKILL at delays from
/// none to after it is done) leaves a log with it whole or without it,
/// which replay calls OK: one record is one transaction. (Whatever the
/// timing, the assertions hold; the delays only spread the kills over the
/// write.)
#[test]
fn a_record_killed_at_any_moment_leaves_a_log_replay_calls_ok() {
    let w = Weekend::new(PLAN);
    for (k, delay_ms) in [0u64, 1, 2, 3, 5, 8, 12, 20, 40].into_iter().enumerate() {
        let before = w.count();
        let text = format!("note {k}");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .args(["track", w.log.to_str().unwrap(), "note", &text, "--now", NOW])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL on Unix (an error: it had finished)
        child.wait().unwrap();
        let after = w.count();
        assert!(after == before || after == before + 1, "kill {k}: {before} -> {after} records");
        let (code, text) = replay(&w.log);
        assert_eq!(code, Some(0), "kill {k} after {delay_ms} ms: {text}");
    }
}

#[test]
fn replay_calls_a_changed_byte_corrupted() {
    let w = Weekend::new(PLAN);
    w.ok(&["start", "backup", "--at", "2025-03-01T18:00:00"]);
    w.ok(&["done", "backup", "--at", "2025-03-01T19:00:00"]);
    w.ok(&["note", "all fine", "--at", "2025-03-01T19:01:00"]);
    for (sql, why) in [
        ("UPDATE events SET payload = replace(payload, '19:00:00', '19:00:01') WHERE seq = 2", "corrupted at seq 2"),
        ("UPDATE events SET at_ms = at_ms + 1 WHERE seq = 1", "corrupted at seq 1: the stored `at_ms`"),
        ("DELETE FROM events WHERE seq = 1", "corrupted at seq 1: a record is missing"),
        (
            "UPDATE run_meta SET value = value || ' ' WHERE key = 'scenario_text'",
            "corrupted at seq 0: the stored scenario",
        ),
    ] {
        let copy = w.dir.join("copy.sqlite");
        std::fs::copy(&w.log, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
        drop(conn);
        let (code, text) = replay(&copy);
        assert_eq!(code, Some(2), "{sql}: {text}");
        assert!(text.contains(why), "{sql}: {text}");
        // Nothing is recorded into a damaged log.
        let out = rehearse(&["track", copy.to_str().unwrap(), "note", "x", "--now", NOW]);
        assert_eq!(out.status.code(), Some(2), "{sql}");
        assert!(stderr(&out).contains("damaged"), "{sql}: {}", stderr(&out));
    }
    // A log is never replaced.
    let out = rehearse(&["track", w.log.to_str().unwrap(), "init", w.dir.join("plan.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}
