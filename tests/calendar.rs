//! Calendar time: `downtime_begins_at`, `time_zone` and `window_end` read,
//! refused with a place, and shown right across a daylight-saving change.

use rehearse_core::time::MS_PER_H;
use rehearse_core::{Mode, Scenario, SimTime};

use crate::support::{parse, rehearse, root, simulate, stderr, stdout};

/// A downtime that begins at step `a` and ends at `b`.
const STEPS: &str = "[[step]]\nid = \"a\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"b\"\nafter = [\"a\"]\nduration = \"1h\"\ndowntime = \"ends\"\n";

/// `[scenario]` lines (after the name, from line 3) and the steps.
fn plan(meta: &str) -> String {
    format!("[scenario]\nname = \"t\"\n{meta}{STEPS}")
}

/// The full error text of a plan that must be refused.
fn refused(meta: &str, expected: &[&str]) {
    let text = plan(meta);
    match Scenario::parse(&text, "plan.toml") {
        Ok(_) => panic!("expected {expected:?}; the plan was accepted:\n{text}"),
        Err(e) => {
            let got: Vec<String> = e.to_string().lines().map(str::to_string).collect();
            assert_eq!(got, expected, "\n{text}");
        }
    }
}

#[test]
fn an_offset_is_honoured() {
    let s = parse(&plan(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\nwindow_end = \"2027-03-08T06:00:00+01:00\"\n",
    ));
    let a = s.meta.anchor.as_ref().unwrap();
    assert_eq!(a.rfc3339(0), "2027-03-05T18:00:00+01:00");
    assert_eq!(a.zone_label(), "+01:00");
    assert_eq!(a.window().unwrap().as_ms(), 60 * MS_PER_H);
    // Meta.window is the effective window, for every existing reader.
    assert_eq!(s.meta.window.unwrap().as_ms(), 60 * MS_PER_H);
    // A bare TOML date-time is the same.
    let bare = parse(&plan("downtime_begins_at = 2027-03-05T17:00:00Z\n"));
    assert_eq!(bare.meta.anchor.unwrap().at_downtime_offset(0), a.at_downtime_offset(0));
}

#[test]
fn a_zone_is_honoured() {
    let s = parse(&plan(
        "downtime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"Europe/Berlin\"\nwindow = \"60h\"\nwindow_end = \"2027-03-08T06:00:00\"\n",
    ));
    let a = s.meta.anchor.unwrap();
    assert_eq!(a.zone_label(), "Europe/Berlin");
    assert_eq!(a.display(0), "Fri 2027-03-05 18:00 +01:00");
    assert_eq!(a.rfc3339(10 * 24 * MS_PER_H as i64), "2027-03-15T18:00:00+01:00");
    assert_eq!(a.rfc3339(30 * 24 * MS_PER_H as i64), "2027-04-04T19:00:00+02:00");
    // An offset beside the zone must be the zone's.
    let both = parse(&plan("downtime_begins_at = \"2027-07-05T18:00:00+02:00\"\ntime_zone = \"Europe/Berlin\"\n"));
    assert_eq!(both.meta.anchor.unwrap().display(0), "Mon 2027-07-05 18:00 +02:00");
}

#[test]
fn a_civil_time_needs_a_zone() {
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00\"\n",
        &[
            "plan.toml:3:22: downtime_begins_at: \"2027-03-05T18:00:00\" has neither an offset nor a time zone: add the offset (\"2027-03-05T18:00:00+01:00\") or name the zone with time_zone = \"Europe/Berlin\"",
        ],
    );
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\nwindow_end = \"2027-03-08T06:00:00\"\n",
        &[
            "plan.toml:4:14: window_end: \"2027-03-08T06:00:00\" has neither an offset nor a time zone: add the offset (\"2027-03-05T18:00:00+01:00\") or name the zone with time_zone = \"Europe/Berlin\"",
        ],
    );
}

#[test]
fn an_unknown_zone_is_located_with_a_suggestion() {
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"europe/berln\"\n",
        &[
            "plan.toml:4:13: time_zone: unknown time zone \"europe/berln\"; expected an IANA name like \"Europe/Berlin\"; did you mean `Europe/Berlin`?",
        ],
    );
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"Atlantis/Capital\"\n",
        &[
            "plan.toml:4:13: time_zone: unknown time zone \"Atlantis/Capital\"; expected an IANA name like \"Europe/Berlin\"",
        ],
    );
}

#[test]
fn local_times_the_clocks_skip_or_repeat_are_refused() {
    refused(
        "downtime_begins_at = \"2027-03-28T02:30:00\"\ntime_zone = \"Europe/Berlin\"\n",
        &[
            "plan.toml:3:22: downtime_begins_at: \"2027-03-28T02:30:00\" does not exist in Europe/Berlin: the clocks go from +01:00 to +02:00 over it; pick a time outside the gap",
        ],
    );
    refused(
        "downtime_begins_at = \"2027-03-27T18:00:00\"\ntime_zone = \"Europe/Berlin\"\nwindow_end = \"2027-10-31T02:30:00\"\n",
        &[
            "plan.toml:5:14: window_end: \"2027-10-31T02:30:00\" happens twice in Europe/Berlin (first at +02:00, then at +01:00, when the clocks go back); add the offset to say which",
        ],
    );
    refused(
        "downtime_begins_at = \"2027-07-05T18:00:00+01:00\"\ntime_zone = \"Europe/Berlin\"\n",
        &[
            "plan.toml:3:22: downtime_begins_at: \"2027-07-05T18:00:00+01:00\" says +01:00, but Europe/Berlin is at +02:00 then; correct the offset or drop it",
        ],
    );
}

#[test]
fn window_and_window_end_must_agree() {
    // Across the change, the wall clocks' 36 h is 35 h.
    refused(
        "window = \"36h\"\ndowntime_begins_at = \"2027-03-27T18:00:00\"\ntime_zone = \"Europe/Berlin\"\nwindow_end = \"2027-03-29T06:00:00\"\n",
        &[
            "plan.toml:6:14: window_end is 1d11h after downtime_begins_at, but window = \"1d12h\" (line 3, column 10); they must agree: keep one",
        ],
    );
    let s = parse(&plan(
        "window = \"35h\"\ndowntime_begins_at = \"2027-03-27T18:00:00\"\ntime_zone = \"Europe/Berlin\"\nwindow_end = \"2027-03-29T06:00:00\"\n",
    ));
    assert_eq!(s.meta.window.unwrap().as_ms(), 35 * MS_PER_H);
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\nwindow_end = \"2027-03-05T17:00:00+01:00\"\n",
        &[
            "plan.toml:4:14: window_end (Fri 2027-03-05 17:00 +01:00) is not after downtime_begins_at (Fri 2027-03-05 18:00 +01:00)",
        ],
    );
    refused(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\nwindow_end = \"2027-05-05T18:00:00+01:00\"\n",
        &["plan.toml:4:14: window_end is 61d after downtime_begins_at, beyond the 30-day limit; check the dates"],
    );
}

#[test]
fn the_keys_need_each_other_and_a_downtime() {
    refused(
        "window_end = \"2027-03-08T06:00:00+01:00\"\ntime_zone = \"Europe/Berlin\"\n",
        &[
            "plan.toml:3:14: window_end needs downtime_begins_at: the window runs from the moment downtime begins to window_end",
            "plan.toml:4:13: time_zone places downtime_begins_at, which is missing; give downtime_begins_at = \"2027-03-05T18:00:00\" (or drop time_zone)",
        ],
    );
    refused(
        "start = \"2027-03-01T08:00:00\"\ndowntime_begins_at = \"2027-03-05T18:00:00+01:00\"\n",
        &[
            "plan.toml:3:9: start and downtime_begins_at both place the plan on the calendar; drop start (downtime_begins_at places each run so that its downtime begins then)",
        ],
    );
    let text = "[scenario]\nname = \"t\"\ndowntime_begins_at = \"2027-03-05T18:00:00+01:00\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n";
    assert_eq!(
        Scenario::parse(text, "plan.toml").unwrap_err().to_string(),
        "plan.toml:3:22: downtime_begins_at anchors the plan where its downtime begins, but no step has downtime = \"begins\"; mark the step that takes users off (or use start to date the first step)"
    );
}

#[test]
fn an_offset_in_start_is_refused_not_dropped() {
    for start in ["\"2026-12-05T18:00:00+01:00\"", "2026-12-05T18:00:00+01:00", "\"2026-12-05T17:00:00Z\""] {
        let text = plan(&format!("start = {start}\n"));
        let e = Scenario::parse(&text, "plan.toml").unwrap_err().to_string();
        assert!(e.starts_with("plan.toml:3:9: start: \""), "{e}");
        assert!(e.contains("carries an offset or zone, which a calendar start cannot keep"), "{e}");
    }
}

/// The plan in `tests/data/clocks-forward.toml`.
fn clocks_forward() -> (String, Scenario) {
    let path = root().join("tests/data/clocks-forward.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = Scenario::parse(&text, "clocks-forward.toml").unwrap_or_else(|e| panic!("{e}"));
    (text, s)
}

#[test]
fn a_run_across_the_clocks_going_forward_shows_the_right_wall_clock() {
    let (text, s) = clocks_forward();
    let (summary, _) = simulate(&text, &s, 1, Mode::Median);
    let (began, ended) = summary.downtime_intervals[0];
    assert_eq!(began, SimTime(168 * MS_PER_H));
    let anchor = s.meta.anchor.as_ref().unwrap();
    let cal = anchor.placed(began);
    let upgrade = summary.timing(s.find("upgrade").unwrap());
    assert_eq!(cal.stamp(upgrade.start), "2027-03-27 18:00:00 +01:00");
    // 18:00 +01:00 + 12 h = 06:00 +01:00 = 07:00 +02:00.
    assert_eq!(cal.stamp(upgrade.end), "2027-03-28 07:00:00 +02:00");
    assert_eq!(cal.rfc3339(ended), "2027-03-28T07:30:00+02:00");
    assert_eq!(cal.display(SimTime(0)), "Sat 2027-03-20 18:00 +01:00");
    // The window is an hour shorter than the wall clocks' 36 h.
    assert_eq!(s.meta.window.unwrap().as_ms(), 35 * MS_PER_H);
    assert_eq!(anchor.window_end().unwrap().to_string(), "2027-03-29T06:00:00+02:00[Europe/Berlin]");
}

#[test]
fn run_prints_the_dates() {
    let out = rehearse(&["run", "tests/data/clocks-forward.toml", "--median", "--width", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needed in [
        "Replicate while the source is online              2027-03-20 18:00:00 +01:00  2027-03-27 18:00:00 +01:00",
        "2027-03-27 18:00:00 +01:00  2027-03-28 07:00:00 +02:00",
        "calendar       Europe/Berlin, placed so that this run's downtime begins at downtime_begins_at",
        "dated          downtime Sat 2027-03-27 18:00 +01:00 to Sun 2027-03-28 07:30 +02:00; window ends Mon 2027-03-29 06:00 +02:00",
        "window         1d 11:00:00 signed off: go-live inside it, 22:30:00 to spare",
    ] {
        assert!(text.contains(needed), "missing {needed:?} in\n{text}");
    }
    let out = rehearse(&["run", "tests/data/clocks-forward.toml", "--median", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cal = &v["calendar"];
    assert_eq!(cal["time_zone"], "Europe/Berlin");
    assert_eq!(cal["downtime_begins_at"], "2027-03-27T18:00:00+01:00");
    assert_eq!(cal["downtime_ends_at"], "2027-03-28T07:30:00+02:00");
    assert_eq!(cal["window_end"], "2027-03-29T06:00:00+02:00");
    assert_eq!(cal["run_starts_at"], "2027-03-20T18:00:00+01:00");
    assert_eq!(v["downtime_intervals"][0]["end_at"], "2027-03-28T07:30:00+02:00");
    let upgrade = v["steps"].as_array().unwrap().iter().find(|s| s["id"] == "upgrade").unwrap();
    assert_eq!(upgrade["start_at"], "2027-03-27T18:00:00+01:00");
    assert_eq!(upgrade["end_at"], "2027-03-28T07:00:00+02:00");
    assert_eq!(upgrade["end"], "2027-03-28 07:00:00.000", "wall-clock time in the zone");
    assert_eq!(upgrade["end_ms"], 180 * MS_PER_H);
}

#[test]
fn start_overrides_the_anchor_and_refuses_an_offset() {
    let out = rehearse(&["run", "tests/data/clocks-forward.toml", "--median", "--start", "2027-03-20T18:00:00"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2027-03-27 18:00:00.000"), "{text}");
    assert!(!text.contains("+01:00"), "--start shows civil times only:\n{text}");
    let out = rehearse(&["run", "tests/data/clocks-forward.toml", "--start", "2027-03-20T18:00:00+01:00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--start: \"2027-03-20T18:00:00+01:00\" carries an offset or zone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_zone_is_one_located_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, plan("downtime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"Europe/Berln\"\n"))
        .unwrap();
    let out = rehearse(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("plan.toml:4:13: time_zone: unknown time zone \"Europe/Berln\""), "{err}");
    assert!(err.contains("did you mean `Europe/Berlin`?"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The estimate's dates cross the clock change too: downtime begins at
/// 18:00 +01:00 on Saturday and lasts 12 h 30 min, so the go-live is at
/// 07:30 +02:00 on Sunday (06:30 on Saturday's clock), and the window,
/// to Monday 06:00, is 35 hours.
#[test]
fn the_estimate_is_dated_across_the_clocks_going_forward() {
    let out = rehearse(&["estimate", "tests/data/clocks-forward.toml", "--runs", "50", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["downtime_begins_at"], "2027-03-27T18:00:00+01:00");
    assert_eq!(v["window_end"], "2027-03-29T06:00:00+02:00");
    assert_eq!(v["window_ms"], 35 * 3_600_000);
    for q in ["p50", "p80", "p90"] {
        assert_eq!(v["go_live"][q], "2027-03-28T07:30:00+02:00", "{q}");
    }
    let text = stdout(&rehearse(&["estimate", "tests/data/clocks-forward.toml", "--runs", "50"]));
    assert!(text.contains("P50 Sun 2027-03-28 07:30 +02:00 (T+12:30:00)"), "{text}");
    assert!(text.contains("downtime begins Sat 2027-03-27 18:00 +01:00 (Europe/Berlin)"), "{text}");
}
