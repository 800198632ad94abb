//! Calibration from measured DATAUPGRADESTATUS exports, with variants of the
//! documented sample: order, separators, header, milliseconds, failed and
//! unfinished runs, several runs, malformed lines, `--into`, scaling.

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
