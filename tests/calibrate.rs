//! Calibration from measured DATAUPGRADESTATUS exports, with variants of the
//! documented sample: order, separators, header, milliseconds, failed and
//! unfinished runs, several runs, malformed lines, `--into`, scaling, names
//! any text may hold, what a scenario cannot hold; and from weekend logs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{self, rehearse, stderr, stdout};

fn sample() -> String {
    std::fs::read_to_string(support::root().join("tests/data/dataupgradestatus-ax2012-sample.csv")).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Calibrates `files` into `out`; returns stdout.
fn calibrate(files: &[&Path], out: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&str> = vec!["calibrate"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["-o", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let o = rehearse(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
}

/// The calibrated scenario's `--median` runbook span, in ms.
fn median_span(scenario: &Path) -> u64 {
    let o = rehearse(&["run", scenario.to_str().unwrap(), "--median", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rb = v["steps"].as_array().unwrap().iter().find(|s| s["id"] == "runbook").unwrap().clone();
    rb["duration_ms"].as_u64().unwrap()
}

const SPAN_MS: u64 = 38_886_077;

#[test]
fn the_sample_calibrates_to_a_scenario_that_reproduces_it_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "sample.csv", &sample());
    let cal = dir.path().join("cal.toml");
    let report = calibrate(&[&csv], &cal, &[]);
    assert!(report.contains("42 rows, 10:48:06.077"), "{report}");
    assert!(report.contains("DbSync/SyncSchema"), "dominating steps listed: {report}");
    assert_eq!(median_span(&cal), SPAN_MS);
    // And the stored DATAUPGRADESTATUS projection equals the input rows.
    let db = dir.path().join("cal.sqlite");
    let o = rehearse(&[
        "run",
        cal.to_str().unwrap(),
        "--median",
        "--start",
        "2022-05-20T06:28:01.020",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = rehearse(&[
        "sql",
        db.to_str().unwrap(),
        "SELECT StartTime, EndTime, Steps, SubSteps, Status FROM DBUPGRADE.DATAUPGRADESTATUS ORDER BY EndTime DESC, StartTime DESC",
        "--json",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let mut got: Vec<String> = rows
        .iter()
        .map(|r| {
            ["StartTime", "EndTime", "Steps", "SubSteps", "Status"]
                .iter()
                .map(|k| r[*k].as_str().unwrap())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let mut want: Vec<String> = sample().lines().skip(1).map(str::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn order_separators_header_and_milliseconds_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let reversed: Vec<&str> = lines.iter().rev().copied().collect();
    let oldest_first = format!("{header}\n{}\n", reversed.join("\n"));
    let tabbed = text.replace(',', "\t");
    let no_header = lines.join("\n");
    // Without milliseconds: times to the second, as some exports have them.
    let no_ms: String = lines
        .iter()
        .map(|l| {
            l.split(',')
                .map(|f| if f.len() == 23 && f.as_bytes()[19] == b'.' { &f[..19] } else { f })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    for (name, variant, exact) in [
        ("oldest-first.csv", oldest_first, true),
        ("tabbed.tsv", tabbed, true),
        ("no-header.csv", no_header, true),
        ("no-ms.csv", no_ms, false),
    ] {
        let csv = write(dir.path(), name, &variant);
        let cal = dir.path().join(format!("{name}.toml"));
        calibrate(&[&csv], &cal, &[]);
        let span = median_span(&cal);
        if exact {
            assert_eq!(span, SPAN_MS, "{name}");
        } else {
            assert!(span.abs_diff(SPAN_MS) < 1_000, "{name}: {span}");
        }
    }
}

#[test]
fn failed_and_unfinished_runs_are_reported_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample();
    // A run that failed in PostSync's WaitForBatch: the rows after it never
    // came, and ExecuteScripts, which spans it, never ended.
    let failed: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("StartTime") || &l[..23] <= "2022-05-20 15:49:38.207")
        .map(|l| {
            if l.contains("PostSync,WaitForBatch") {
                "2022-05-20 15:49:38.207,2022-05-20 16:10:00.000,PostSync,WaitForBatch,Failed".to_string()
            } else if l.contains("PostSync,ExecuteScripts") {
                "2022-05-20 15:47:12.667,NULL,PostSync,ExecuteScripts,InProgress".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    let failed_csv = write(dir.path(), "failed.csv", &failed.join("\n"));
    // A run still going: SyncSchema has no end yet.
    let running: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with("StartTime")
                || l.as_bytes().get(11..13).is_some_and(|h| h < b"15".as_slice())
                || l.contains("DbSync,SyncSchema")
        })
        .filter(|l| !l.contains("FinalDbSync"))
        .map(|l| {
            if l.contains(",DbSync,SyncSchema") {
                let f: Vec<&str> = l.split(',').collect();
                format!("{},NULL,DbSync,SyncSchema,InProgress", f[0])
            } else {
                l.to_string()
            }
        })
        .filter(|l| !l.contains("DbSync,EnableSafeMode") || l.starts_with("2022-05-20 07:49"))
        .collect();
    let running_csv = write(dir.path(), "running.csv", &running.join("\n"));

    let cal = dir.path().join("failed.toml");
    let report = calibrate(&[&failed_csv], &cal, &[]);
    assert!(report.contains("FAILED") && report.contains("PostSync/WaitForBatch failed"), "{report}");
    let toml = std::fs::read_to_string(&cal).unwrap();
    assert!(toml.contains("catalog = \"runbook-step-failed\"") && toml.contains("probability = 1.0"), "{toml}");
    assert!(toml.contains("# CENSORED"), "a failed attempt is not a duration: {toml}");

    let cal = dir.path().join("running.toml");
    let report = calibrate(&[&running_csv], &cal, &[]);
    assert!(report.contains("UNFINISHED") && report.contains("DbSync/SyncSchema still running"), "{report}");
    // Combined with the complete sample, the failure becomes a rate.
    let sample_csv = write(dir.path(), "sample.csv", &text);
    let cal = dir.path().join("both.toml");
    calibrate(&[&sample_csv, &failed_csv], &cal, &[]);
    let toml = std::fs::read_to_string(&cal).unwrap();
    assert!(toml.contains("probability = 0.5"), "one failure in two attempts: {toml}");
}

#[test]
fn several_runs_give_distributions() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample();
    // A second mock run: everything from PostSync on 12 minutes later (the
    // DbSync SyncSchema took 12 minutes longer).
    let shifted: String = text
        .lines()
        .map(|l| {
            if l.starts_with("StartTime") {
                return l.to_string();
            }
            let f: Vec<&str> = l.split(',').collect();
            let shift = |t: &str, by: bool| {
                if !by {
                    return t.to_string();
                }
                let dt: jiff::civil::DateTime = t.replacen(' ', "T", 1).parse().unwrap();
                (dt + jiff::SignedDuration::from_mins(12)).strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
            };
            let late = f[0] >= "2022-05-20 15:47:12.550";
            let end_late = f[1] >= "2022-05-20 15:47:12.466";
            format!("{},{},{},{},{}", shift(f[0], late), shift(f[1], end_late), f[2], f[3], f[4])
        })
        .collect::<Vec<_>>()
        .join("\n");
    let a = write(dir.path(), "mock1.csv", &text);
    let b = write(dir.path(), "mock2.csv", &shifted);
    let cal = dir.path().join("two.toml");
    let report = calibrate(&[&a, &b], &cal, &[]);
    assert!(report.contains("DbSync         SyncSchema                        2"), "{report}");
    let toml = std::fs::read_to_string(&cal).unwrap();
    assert!(toml.contains("duration = { empirical = [\"7h57m31.639s\", \"8h9m31.639s\"] }"), "{toml}");
}

#[test]
fn a_malformed_line_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = sample();
    text = text.replacen("2022-05-20 16:47:30.860", "2022-05-20 16:47:30.860,extra", 1);
    let bad = write(dir.path(), "bad.csv", &text);
    let o = rehearse(&["calibrate", bad.to_str().unwrap(), "-o", dir.path().join("x.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.csv:7: 6 fields; expected 5"), "{}", stderr(&o));
    assert!(!dir.path().join("x.toml").exists(), "nothing written");
    let bad = write(dir.path(), "status.csv", &sample().replacen("Completed", "Done", 1));
    let o = rehearse(&["calibrate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("status.csv:2: Status \"done\""), "{}", stderr(&o));
}

#[test]
fn into_replaces_matching_durations_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "mock.csv", &sample());
    let out = dir.path().join("updated.toml");
    let report = calibrate(
        &[&csv],
        &out,
        &["--into", "scenarios/ax2012-data-upgrade-dev.toml", "--size-gb", "100", "--target-size-gb", "200"],
    );
    assert!(report.contains("replaced the durations of 40 step(s)"), "{report}");
    assert!(report.contains("scaled x2.000"), "{report}");
    let before = std::fs::read_to_string(support::scenario_path(support::DATA_UPGRADE)).unwrap();
    let after = std::fs::read_to_string(&out).unwrap();
    // Comments and the steps before the runbook are untouched.
    for kept in ["SPREADS ARE ASSUMPTIONS.", "per_gb = { pert = [\"15s\", \"40s\", \"2m\"] }", "records_status = true"]
    {
        assert!(after.contains(kept), "{kept}");
    }
    assert_eq!(before.lines().count(), after.lines().count(), "one line per replaced value");
    // SyncSchema (size-dependent) doubled; StartAos kept its measured value.
    assert!(after.contains("duration = \"15h55m3.278s\""), "DbSync.SyncSchema x2");
    assert!(after.contains("duration = \"59.28s\""), "PreSync.StartAos as measured");
    let o = rehearse(&["validate", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Runs `rehearse calibrate ARGS`; expects exit 2 with `why` on stderr, no
/// internal error and nothing written to `out`.
fn refused(args: &[&str], out: &Path, why: &str) {
    let o = rehearse(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
    let e = stderr(&o);
    assert!(e.contains(why), "{args:?}: {e}");
    assert!(!e.contains("internal") && !e.contains("panicked") && !e.contains("calibrated scenario:"), "{e}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn any_name_round_trips_and_names_that_clean_alike_get_their_own_ids() {
    let dir = tempfile::tempdir().unwrap();
    // A byte-order mark, CRLF, a quoted comma, a quote and a backslash, and
    // two phases that clean to one id.
    let text = "\u{feff}StartTime,EndTime,Steps,SubSteps,Status\r\n\
        2022-05-20 06:00:00.000,2022-05-20 06:10:00.000,\"Pre, Sync\",\"Say \"\"hi\"\"\",Completed\r\n\
        2022-05-20 06:10:00.000,2022-05-20 06:20:00.000,\"Pre, Sync\",C:\\temp\\x,Completed\r\n\
        2022-05-20 06:20:00.000,2022-05-20 06:30:00.000,Post-Sync,A,Completed\r\n\
        2022-05-20 06:30:00.000,2022-05-20 06:40:00.000,Post Sync,A,Completed\r\n";
    let csv = write(dir.path(), "odd.csv", text);
    let cal = dir.path().join("odd.toml");
    let report = calibrate(&[&csv], &cal, &[]);
    assert!(report.contains("ids: 2 name(s) clean to an id another name has"), "{report}");
    assert!(
        report.contains("Post Sync/A") && report.contains("id Post-Sync.A-2 (Post-Sync.A is Post-Sync/A's)"),
        "{report}"
    );
    let toml = std::fs::read_to_string(&cal).unwrap();
    let sc = rehearse_core::Scenario::parse(&toml, "odd.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let mut names: Vec<(String, String)> =
        rehearse_sim::store::projection::status_names(&sc).into_iter().flatten().collect();
    names.sort();
    let want = [("Post Sync", "A"), ("Post-Sync", "A"), ("Pre, Sync", "C:\\temp\\x"), ("Pre, Sync", "Say \"hi\"")];
    assert_eq!(names, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(median_span(&cal), 40 * 60_000, "and it runs as measured");
}

#[test]
fn what_a_scenario_cannot_hold_is_a_clear_error_not_an_internal_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.toml");
    let o = out.to_str().unwrap();
    // Two runs ten years apart in one export.
    let gap = write(
        dir.path(),
        "gap.csv",
        "StartTime,EndTime,Steps,SubSteps,Status\n\
         2012-05-20 06:00:00,2012-05-20 07:00:00,A,B,Completed\n\
         2022-05-20 06:00:00,2022-05-20 07:00:00,A,C,Completed\n",
    );
    refused(&["calibrate", gap.to_str().unwrap(), "-o", o], &out, "gap.csv:3: the rows span 3652d1h, beyond the 30d");
    let csv = write(dir.path(), "sample.csv", &sample());
    let c = csv.to_str().unwrap();
    refused(
        &["calibrate", c, "-o", o, "--size-gb", "100", "--target-size-gb", "1e308"],
        &out,
        "the planned size 1e308 GB (--target-size-gb) is not a database size",
    );
    refused(&["calibrate", c, "-o", o, "--size-gb", "0", "--target-size-gb", "1"], &out, "(--size-gb)");
    // Scaled a million times, the database synchronisation is no step's
    // length: the first such row is named.
    refused(
        &["calibrate", c, "-o", o, "--size-gb", "1", "--target-size-gb", "1000000"],
        &out,
        "sample.csv:33: PreReqs/AdditiveDbSync scaled x1000000 would last 47537d5h3m20s, beyond the 30d",
    );
}

const NOW: &str = "2025-03-03T12:00:00+01:00";

/// A weekend plan: a backup, an upgrade of two sub-steps (a fault may
/// strike the scripts), the go-live.
const WEEKEND: &str = crate::track::PLAN;

/// Records a weekend into a new log `name` in `dir`: each `(command,
/// args...)` with `--now`.
fn weekend(dir: &Path, name: &str, records: &[&[&str]]) -> PathBuf {
    let plan = write(dir, "weekend.toml", WEEKEND);
    let log = dir.join(name);
    let l = log.to_str().unwrap();
    let init: &[&str] = &["init", plan.to_str().unwrap(), "--at", "2025-03-01T17:00:00"];
    for r in std::iter::once(init).chain(records.iter().copied()) {
        let mut args = vec!["track", l];
        args.extend_from_slice(r);
        args.extend_from_slice(&["--now", NOW]);
        let o = rehearse(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
    log
}

/// The first weekend: scripts struck by a fault and rerun, the go-live
/// still running.
fn first_weekend(dir: &Path) -> PathBuf {
    weekend(
        dir,
        "w1.sqlite",
        &[
            &["start", "backup", "--at", "2025-03-01T18:00:00"],
            &["done", "backup", "--at", "2025-03-01T19:10:00"],
            &["start", "upgrade", "--at", "2025-03-01T19:10:00"],
            &["start", "sync", "--at", "2025-03-01T19:10:00"],
            // Mistyped, then corrected: the correction counts.
            &["done", "sync", "--at", "2025-03-01T23:40:00"],
            &["correct", "5", "--at", "2025-03-01T21:40:00", "--by", "ana", "--why", "typo"],
            &["start", "scripts", "--at", "2025-03-01T21:40:00"],
            &["fault", "dvt@scripts", "--at", "2025-03-01T22:00:00"],
            &["decide", "rerun", "--step", "scripts", "--by", "lead", "--why", "DVT", "--at", "2025-03-01T22:30:00"],
            &["done", "scripts", "--at", "2025-03-02T01:30:00"],
            &["done", "upgrade", "--at", "2025-03-02T01:30:00"],
            &["start", "golive", "--at", "2025-03-02T01:30:00"],
        ],
    )
}

fn second_weekend(dir: &Path) -> PathBuf {
    weekend(
        dir,
        "w2.sqlite",
        &[
            &["start", "backup", "--at", "2025-03-01T18:00:00"],
            &["done", "backup", "--at", "2025-03-01T19:20:00"],
            &["start", "upgrade", "--at", "2025-03-01T19:20:00"],
            &["start", "sync", "--at", "2025-03-01T19:20:00"],
            &["done", "sync", "--at", "2025-03-01T21:20:00"],
            &["start", "scripts", "--at", "2025-03-01T21:20:00"],
            &["done", "scripts", "--at", "2025-03-02T00:50:00"],
            &["done", "upgrade", "--at", "2025-03-02T00:50:00"],
            &["start", "golive", "--at", "2025-03-02T00:50:00"],
            &["done", "golive", "--at", "2025-03-02T01:30:00"],
        ],
    )
}

#[test]
fn a_weekend_log_feeds_its_own_plan_the_actual_durations() {
    let dir = tempfile::tempdir().unwrap();
    let log = first_weekend(dir.path());
    let out = dir.path().join("next.toml");
    let report = calibrate(&[&log], &out, &[]);
    // The corrected done counts; the scripts' last attempt, after the
    // rerun, is their length, the fault a failure.
    for line in ["backup", "sync", "scripts"].map(|s| format!("\n{s:<32}    1")) {
        assert!(report.contains(&line), "{line:?}: {report}");
    }
    let scripts = report.lines().find(|l| l.starts_with("scripts ")).unwrap();
    assert!(scripts.ends_with("03:00:00.000  03:00:00.000  03:00:00.000  1 failed"), "{report}");
    assert!(report.contains("4 step(s) measured, 1 still running, 1 fault(s)"), "{report}");
    assert!(report.contains("kept golive: no measured attempt of it finished"), "{report}");
    assert!(report.contains("kept upgrade: it has sub-steps"), "{report}");
    assert!(report.contains("replaced the durations of 3 step(s)"), "{report}");
    let next = std::fs::read_to_string(&out).unwrap();
    for kept in ["# The weekend as planned.", "duration = \"1h10m\" # a guess", "duration = \"30m\""] {
        assert!(next.contains(kept), "{kept}: {next}");
    }
    assert!(next.contains("duration = \"2h30m\"") && next.contains("duration = \"3h\""), "{next}");
    let o = rehearse(&["validate", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn several_logs_give_distributions_into_a_plan_and_say_what_had_no_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let (w1, w2) = (first_weekend(dir.path()), second_weekend(dir.path()));
    let plan = write(
        dir.path(),
        "plan.toml",
        &format!("{WEEKEND}\n[[step]]\nid = \"hypercare\"\nafter = [\"golive\"]\nduration = \"1d\"\n"),
    );
    let out = dir.path().join("updated.toml");
    let report = calibrate(&[&w1, &w2], &out, &["--into", plan.to_str().unwrap()]);
    assert!(report.contains("no measurement, kept as planned: 1 step(s): hypercare"), "{report}");
    let updated = std::fs::read_to_string(&out).unwrap();
    assert!(updated.contains("duration = { empirical = [\"1h10m\", \"1h20m\"] } # a guess"), "{updated}");
    assert!(updated.contains("duration = \"40m\""), "the one go-live measured: {updated}");
    assert!(updated.contains("duration = \"1d\""), "{updated}");
}

#[test]
fn exports_and_logs_are_mixed_only_into_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    let log = first_weekend(dir.path());
    let csv = write(dir.path(), "mock.csv", &sample());
    let out = dir.path().join("x.toml");
    let (c, l, o) = (csv.to_str().unwrap(), log.to_str().unwrap(), out.to_str().unwrap());
    refused(&["calibrate", c, l, "-o", o], &out, "to use both, give --into SCENARIO.toml");
    // A SQLite file that is no weekend log is named as such.
    let store = dir.path().join("run.sqlite");
    let r = rehearse(&["run", "tests/data/decision.toml", "--db", store.to_str().unwrap(), "--ignore-readiness"]);
    assert!(store.exists(), "{}", stderr(&r));
    refused(&["calibrate", store.to_str().unwrap(), "-o", o], &out, "a SQLite file that is not a weekend log");
    // Into the data upgrade plan, the export matches the runbook by name
    // (40 sub-steps), the log by id: its `backup`, whose per-GB model the
    // measurement replaces; the log's other steps are not in it, and the
    // report says so.
    let report = calibrate(&[&csv, &log], &out, &["--into", "scenarios/ax2012-data-upgrade-dev.toml"]);
    assert!(report.contains("replaced the durations of 41 step(s)"), "{report}");
    assert!(report.contains("measured duration in place of a size model: backup"), "{report}");
    assert!(report.contains("measured, not in the plan: golive, scripts, sync, upgrade"), "{report}");
    let updated = std::fs::read_to_string(&out).unwrap();
    let sc = rehearse_core::Scenario::parse(&updated, "updated.toml").unwrap();
    let backup = sc.step(sc.find("backup").unwrap());
    assert_eq!(
        backup.work,
        rehearse_core::scenario::Work::Leaf(rehearse_core::scenario::StepDuration {
            base: Some(rehearse_core::Dist::fixed(rehearse_core::SimDuration(70 * 60_000))),
            per_gb: None,
            per_million_rows: None,
        })
    );
}

/// Six mock runs: DbSync's EnableSafeMode and SyncSchema share a factor
/// (one SQL Server), PostSync's two sub-steps vary apart. `calibrate`
/// finds the one driver, reports the correlation, and writes a scenario
/// whose DbSync sub-steps `scale_by` it, with a spread of their own
/// smaller than before; the runs it estimates keep them together.
#[test]
fn several_runs_show_which_sub_steps_move_together() {
    let dir = tempfile::tempdir().unwrap();
    let factors: [f64; 6] = [0.8, 1.0, 1.3, 0.9, 1.6, 1.1];
    let own = [(1.02, 0.99), (0.98, 1.01), (1.01, 1.0), (1.0, 0.97), (0.99, 1.02), (1.03, 1.0)];
    let post = [(40.0, 55.0), (52.0, 41.0), (38.0, 47.0), (61.0, 60.0), (45.0, 39.0), (50.0, 58.0)];
    let mut files = Vec::new();
    for (k, f) in factors.iter().enumerate() {
        let t0: jiff::civil::DateTime = "2022-05-20T06:00:00".parse().unwrap();
        let at = |secs: f64| {
            (t0 + jiff::SignedDuration::from_millis((secs * 1000.0).round() as i64))
                .strftime("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        };
        let safe: f64 = 7.0 * 3600.0 * f * own[k].0;
        let sync = 7.5 * 3600.0 * f * own[k].1;
        let a0 = safe.max(sync + 0.067) + 1.0;
        let (a, b) = (post[k].0 * 60.0, post[k].1 * 60.0);
        let rows = [
            (0.0, safe, "DbSync", "EnableSafeMode"),
            (0.067, 0.067 + sync, "DbSync", "SyncSchema"),
            (a0, a0 + a, "PostSync", "ExecuteScripts"),
            (a0 + a + 1.0, a0 + a + 1.0 + b, "PostSync", "WaitForBatch"),
        ];
        let text: String =
            rows.iter().map(|(s, e, steps, sub)| format!("{},{},{steps},{sub},Completed\n", at(*s), at(*e))).collect();
        files.push(write(
            dir.path(),
            &format!("mock{k}.csv"),
            &format!("StartTime,EndTime,Steps,SubSteps,Status\n{text}"),
        ));
    }
    let cal = dir.path().join("six.toml");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let report = calibrate(&paths, &cal, &[]);
    let toml = std::fs::read_to_string(&cal).unwrap();
    eprintln!("{}", &report[report.find("shared drivers").unwrap_or(0)..]);
    let at = report.find("  DbSync: EnableSafeMode, SyncSchema move together\n").unwrap_or_else(|| panic!("{report}"));
    let line = report[at..].lines().nth(1).unwrap();
    let r: f64 = line.trim_start().strip_prefix("correlation ").unwrap()[..4].parse().unwrap();
    assert!(r >= 0.9, "{line}");
    assert!(line.contains("driver `DbSync.driver`"), "{line}");
    let at = report.find("  PostSync: its sub-steps vary apart\n").unwrap_or_else(|| panic!("{report}"));
    let line = report[at..].lines().nth(1).unwrap();
    let r: f64 = line.trim_start().strip_prefix("correlation ").unwrap()[..4].parse().unwrap();
    assert!(r < 0.5, "{line}");
    assert_eq!(toml.matches("[[driver]]").count(), 1, "{toml}");
    assert_eq!(toml.matches("scale_by = [\"DbSync.driver\"]").count(), 2, "{toml}");
    // The factors' log sd is about 0.26: p90 about 1.4.
    let p90: f64 = toml.split("p90 = ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((1.3..1.5).contains(&p90), "{p90}");
}
