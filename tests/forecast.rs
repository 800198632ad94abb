//! The conditional forecast: the plan run from what has happened.

use std::sync::atomic::AtomicU64;

use rehearse_core::{Mode, Outcome, StepIdx};
use rehearse_sim::actuals::Actuals;
use rehearse_sim::estimate::{EstimateOptions, estimate};
use rehearse_sim::{FaultMode, NullSink, Plan, RunOptions, Simulator};

use crate::support::load;

fn origin() -> jiff::Timestamp {
    "2027-03-05T17:00:00Z".parse().unwrap()
}

/// Before anything happened, the forecast is the estimate.
#[test]
fn a_forecast_before_anything_happened_is_the_estimate() {
    for name in ["go-live-weekend.toml", "self-service-upgrade.toml"] {
        let (text, sc) = load(name);
        let opts = EstimateOptions { runs: 500, seed: 4, threads: 2, ..Default::default() };
        let plain = Plan::new(&sc, rehearse_sim::digest(&text));
        let e = estimate(&plain, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap();
        let from = Plan::new(&sc, rehearse_sim::digest(&text)).with_actuals(Actuals::none(&sc, origin())).unwrap();
        let f = estimate(&from, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap();
        assert_eq!(f.downtime_by_run, e.downtime_by_run, "{name}");
        assert_eq!(f.outcome_by_run, e.outcome_by_run, "{name}");
        assert_eq!(f.p_success, e.p_success, "{name}");
        assert_eq!(f.faults, e.faults, "{name}");
    }
}

/// The actuals of a finished run: every step as it went.
fn actuals_of(sc: &rehearse_core::Scenario, run: &rehearse_sim::RunSummary, now: u64) -> Actuals {
    let mut a = Actuals::none(sc, origin());
    a.now_ms = now;
    for (i, t) in run.steps.iter().enumerate() {
        if run.attempts[i] > 0 && t.start.as_ms() <= now {
            a.started_ms[i] = Some(t.start.as_ms());
            if t.end.as_ms() <= now {
                a.done_ms[i] = Some(t.end.as_ms());
            }
        }
    }
    a
}

/// After everything is done, the forecast is what happened.
#[test]
fn a_forecast_after_everything_is_done_is_what_happened() {
    let (text, sc) = load("go-live-weekend.toml");
    let sim_plan = Plan::new(&sc, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&sim_plan);
    let mut checked = 0;
    for k in 0..6 {
        let run = sim.run(&RunOptions { run: k, ..RunOptions::new(21, Mode::Random) }, &mut NullSink).unwrap();
        if run.outcome != Outcome::Committed {
            continue;
        }
        let a = actuals_of(&sc, &run, run.end.as_ms());
        let plan = Plan::new(&sc, rehearse_sim::digest(&text)).with_actuals(a).unwrap();
        let opts = EstimateOptions { runs: 200, seed: 9, threads: 2, ..Default::default() };
        let f = estimate(&plan, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap();
        let d = run.downtime.as_ms();
        assert_eq!((f.go_live(0.5), f.go_live(0.9)), (Some(d), Some(d)), "run {k}");
        let fits = d <= sc.meta.window.unwrap().as_ms();
        assert_eq!(f.p_success, if fits { 1.0 } else { 0.0 }, "run {k}");
        checked += 1;
    }
    assert!(checked >= 3, "{checked} committed runs checked");
}

/// Mid-step: no run ends the running step before now, and no forecast
/// go-live comes before now plus what is left at its shortest.
#[test]
fn mid_step_nothing_ends_before_now() {
    let (text, sc) = load("go-live-weekend.toml");
    let plan = Plan::new(&sc, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    let truth = sim.run(&RunOptions::new(5, Mode::Random).with_faults(FaultMode::Off), &mut NullSink).unwrap();
    let upgrade = sc.steps.iter().position(|s| s.id == "data-upgrade").unwrap();
    // Now: 3 hours into the data upgrade.
    let now = truth.steps[upgrade].start.as_ms() + 3 * 3_600_000;
    let a = actuals_of(&sc, &truth, now);
    assert!(a.started_ms[upgrade].is_some() && a.done_ms[upgrade].is_none());
    let from = Plan::new(&sc, rehearse_sim::digest(&text)).with_actuals(a.clone()).unwrap();
    let mut fsim = Simulator::new(&from);
    for k in 0..300 {
        let r = fsim.run(&RunOptions { run: k, ..RunOptions::new(1, Mode::Random) }, &mut NullSink).unwrap();
        if r.outcome != Outcome::Committed {
            continue;
        }
        assert!(r.steps[upgrade].end.as_ms() >= now, "run {k}: the upgrade ended before now");
        for (i, t) in r.steps.iter().enumerate() {
            if let Some(s) = a.started_ms[i] {
                assert_eq!(
                    t.start.as_ms(),
                    s,
                    "run {k}: step {} did not start when it did",
                    sc.step(StepIdx(i as u32)).id
                );
            } else if r.attempts[i] > 0 {
                assert!(t.start.as_ms() >= now, "run {k}: {} started before now", sc.step(StepIdx(i as u32)).id);
            }
            if let Some(d) = a.done_ms[i] {
                assert_eq!(t.end.as_ms(), d, "run {k}");
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Over the bundled plans, a random run as what happened, and a random
    /// "now" in it: every forecast run keeps what happened (starts and ends
    /// as recorded), starts nothing else before now, ends no running step
    /// before now, and goes live no earlier than now unless it already has.
    #[test]
    fn forecasts_keep_what_happened_and_start_nothing_in_the_past(
        which in 0usize..5, truth_seed in 0u64..1000, share in 0.0f64..1.0, seed in 0u64..1000
    ) {
        let name = ["go-live-weekend.toml", "self-service-upgrade.toml", "hotfix.toml", "ax2012-go-live.toml", "dse-upgrade-2017.toml"][which];
        let (text, sc) = load(name);
        let plan = Plan::new(&sc, rehearse_sim::digest(&text));
        let truth = Simulator::new(&plan).run(&RunOptions::new(truth_seed, Mode::Random), &mut NullSink).unwrap();
        // One start and one end per step: a run that reran steps is not
        // what a weekend log of starts and ends describes.
        proptest::prop_assume!(truth.recoveries.iter().all(|r| r.2 != rehearse_core::Action::Rerun));
        let now = (truth.end.as_ms() as f64 * share) as u64;
        let a = actuals_of(&sc, &truth, now);
        let from = Plan::new(&sc, rehearse_sim::digest(&text)).with_actuals(a.clone()).unwrap();
        let mut sim = Simulator::new(&from);
        for k in 0..20 {
            let r = sim.run(&RunOptions { run: k, ..RunOptions::new(seed, Mode::Random) }, &mut NullSink).unwrap();
            let reran = r.recoveries.iter().any(|x| x.2 == rehearse_core::Action::Rerun);
            for (i, t) in r.steps.iter().enumerate() {
                let id = &sc.step(StepIdx(i as u32)).id;
                match (a.started_ms[i], a.done_ms[i]) {
                    (Some(s), Some(d)) => {
                        proptest::prop_assert_eq!(t.start.as_ms(), s, "{} {}", name, id);
                        // A rerun in the forecast may do a done step again, later.
                        if reran {
                            proptest::prop_assert!(t.end.as_ms() >= d, "{} {}", name, id);
                        } else {
                            proptest::prop_assert_eq!(t.end.as_ms(), d, "{} {}", name, id);
                        }
                    }
                    (Some(s), None) => {
                        proptest::prop_assert_eq!(t.start.as_ms(), s, "{} {}", name, id);
                        // Still running at now: it ends at or after now, unless the
                        // run stopped it (a rollback, cancel or abort).
                        if r.outcome == Outcome::Committed {
                            proptest::prop_assert!(t.end.as_ms() >= now, "{} {} ended before now", name, id);
                        }
                    }
                    _ if r.attempts[i] > 0 => {
                        proptest::prop_assert!(t.start.as_ms() >= now, "{} {} started before now", name, id);
                    }
                    _ => {}
                }
            }
            let truth_live = truth.downtime_intervals.last().map(|(_, b)| b.as_ms());
            if r.outcome == Outcome::Committed && truth_live.is_none_or(|b| b > now) {
                let live = r.downtime_intervals.last().map_or(r.end.as_ms(), |(_, b)| b.as_ms());
                proptest::prop_assert!(live >= now, "{} went live at {} before now {}", name, live, now);
            }
        }
    }
}

/// A late start keeps the plan's deadline: the window shrinks, the dates
/// follow the actual start, and a step running past its P90 raises an alarm.
#[test]
fn a_late_start_shortens_the_window_and_an_overrun_raises_an_alarm() {
    use rehearse_sim::forecast::{Alarm, forecast};
    let (text, sc) = load("go-live-weekend.toml");
    let h = 3_600_000u64;
    let idx = |id: &str| sc.steps.iter().position(|s| s.id == id).unwrap();
    // Origin: Friday 18:00 +01:00; the users went out two hours late.
    let mut a = Actuals::none(&sc, origin());
    let order = ["users-out", "restore-point", "pkg-platform", "pkg-isv", "pkg-custom", "pkg-sign-off", "swap"];
    let mut t = 2 * h;
    for id in order {
        a.started_ms[idx(id)] = Some(t);
        t += h;
        a.done_ms[idx(id)] = Some(t);
    }
    // The data upgrade has run for 30 hours (its P90 is 22).
    a.started_ms[idx("data-upgrade")] = Some(t);
    a.now_ms = t + 30 * h;
    let opts = EstimateOptions { runs: 400, seed: 2, threads: 2, ..Default::default() };
    let f = forecast(&sc, &text, a, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap();
    assert_eq!(f.downtime_began_ms, Some(2 * h));
    assert_eq!(f.estimate.window.unwrap().as_ms(), 58 * h, "Friday 20:00 to Monday 06:00");
    let anchor = f.scenario.meta.anchor.as_ref().unwrap();
    assert_eq!(anchor.rfc3339(0), "2027-03-05T20:00:00+01:00");
    let p90 = f.alarms.iter().find_map(|x| match x {
        Alarm::PastP90 { step, elapsed_ms, p90_ms } => Some((sc.step(*step).id.clone(), *elapsed_ms, *p90_ms)),
        _ => None,
    });
    let (step, elapsed, p90) = p90.expect("the data upgrade is past its P90");
    assert_eq!((step.as_str(), elapsed), ("data-upgrade", 30 * h));
    assert!((21 * h..23 * h).contains(&p90), "{p90}");
    // 37 hours of downtime so far: every go-live is later than that.
    assert!(f.estimate.go_live(0.5).unwrap() >= t + 30 * h - 2 * h);
}

/// `rehearse track` then `rehearse forecast`, as on the night.
mod cli {
    use serde_json::Value;

    use crate::support::{rehearse, stderr, stdout};

    fn track(log: &str, args: &[&str]) {
        let mut all = vec!["track", log];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--now", "2027-03-09T12:00:00+01:00"]);
        let o = rehearse(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }

    fn json(args: &[&str]) -> Value {
        let o = rehearse(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    }

    const STEPS: [&str; 19] = [
        "users-out",
        "restore-point",
        "pkg-platform",
        "pkg-isv",
        "pkg-custom",
        "pkg-sign-off",
        "swap",
        "data-upgrade",
        "post-sync",
        "config",
        "batch-setup",
        "security",
        "smoke-test",
        "business-validation",
        "go-no-go",
        "integrations-on",
        "batch-on",
        "announce",
        "users-in",
    ];

    #[test]
    fn before_anything_the_forecast_is_the_estimate_and_after_everything_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("weekend.sqlite");
        let log = log.to_str().unwrap();
        track(log, &["init", "scenarios/go-live-weekend.toml"]);
        let f = json(&["forecast", log, "--runs", "2000", "--json", "--now", "2027-03-05T17:00:00+01:00"]);
        let e = json(&["estimate", "scenarios/go-live-weekend.toml", "--runs", "2000", "--json"]);
        for key in ["p_success", "p_rollback", "outcomes", "downtime", "go_live", "go_live_ms", "faults", "checkpoints"]
        {
            assert_eq!(f[key], e[key], "{key}");
        }
        assert_eq!(f["forecast"]["steps_done"], 0);
        // Then the whole weekend, 2 hours a step from Friday 18:00 +01:00
        // (the three steps after post-sync side by side).
        let mut t = 18u32;
        let at = |h: u32| format!("2027-03-{:02}T{:02}:00:00+01:00", 5 + h / 24, h % 24);
        for step in STEPS {
            let side = ["batch-setup", "security"].contains(&step);
            let start = if side { t - 2 } else { t };
            track(log, &["start", step, "--at", &at(start)]);
            track(log, &["done", step, "--at", &at(start + 1)]);
            if !side {
                t += 2;
            }
        }
        let f = json(&["forecast", log, "--runs", "500", "--json", "--now", "2027-03-08T06:00:00+01:00"]);
        // users-in was done at 18:00 + 16 steps * 2 h + 1 h = Sunday 03:00 +01:00.
        assert_eq!(f["go_live"]["p50"], "2027-03-07T03:00:00+01:00", "{}", f["go_live"]);
        assert_eq!(f["go_live"]["p90"], f["go_live"]["p50"]);
        assert_eq!(f["p_success"], 1.0);
        assert_eq!(f["forecast"]["steps_done"], 19);
    }

    #[test]
    fn mid_step_the_forecast_is_dated_from_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("weekend.sqlite");
        let log = log.to_str().unwrap();
        track(log, &["init", "scenarios/go-live-weekend.toml"]);
        // Downtime began 40 minutes late; the data upgrade has run 30 hours.
        // Step k from 18:40 + 40k minutes, for 30 minutes.
        let at = |m: u32| format!("2027-03-05T{:02}:{:02}:00+01:00", m / 60, m % 60);
        for (k, step) in STEPS[..7].iter().enumerate() {
            let m = 18 * 60 + 40 + 40 * k as u32;
            track(log, &["start", step, "--at", &at(m)]);
            track(log, &["done", step, "--at", &at(m + 30)]);
        }
        track(log, &["start", "data-upgrade", "--at", "2027-03-06T02:00:00+01:00"]);
        let now = "2027-03-07T08:00:00+01:00";
        let first = rehearse(&["forecast", log, "--runs", "2000", "--json", "--now", now]);
        let f: Value = serde_json::from_str(&stdout(&first)).unwrap();
        assert_eq!(f["downtime_begins_at"], "2027-03-05T18:40:00+01:00");
        assert_eq!(f["window_end"], "2027-03-08T06:00:00+01:00");
        // Monday 06:00 stands: 59 h 20 min from the late start.
        assert_eq!(f["window_ms"], (59 * 60 + 20) * 60_000);
        let p50 = f["go_live"]["p50"].as_str().map(str::to_string);
        if let Some(p50) = p50 {
            assert!(p50.as_str() > now, "{p50} before now");
        }
        let alarms = f["forecast"]["alarms"].as_array().unwrap();
        assert!(alarms.iter().any(|a| a["kind"] == "past_p90" && a["step"] == "data-upgrade"), "{alarms:?}");
        // The same log, --now, runs and seed: the same bytes.
        let again = rehearse(&["forecast", log, "--runs", "2000", "--json", "--now", now]);
        assert_eq!(stdout(&again), stdout(&first));
        let text = stdout(&rehearse(&["forecast", log, "--runs", "2000", "--now", now]));
        assert!(text.contains("ALARM        data-upgrade has run 1d 06:00:00, past its P90"), "{text}");
        assert!(text.contains("downtime     began Fri 2027-03-05 18:40 +01:00"), "{text}");
    }
}

/// Bad input: a file that is no weekend log, and a "now" before what the
/// log recorded, are refused with exit 2.
#[test]
fn a_forecast_refuses_what_is_not_a_log_and_a_now_in_the_logs_past() {
    use crate::support::{rehearse, stderr};
    let o = rehearse(&["forecast", "scenarios/go-live-weekend.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a weekend log"), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("w.sqlite");
    let log = log.to_str().unwrap();
    let now = ["--now", "2027-03-06T12:00:00+01:00"];
    for args in [
        &["init", "scenarios/go-live-weekend.toml"][..],
        &["start", "users-out", "--at", "2027-03-05T18:00:00+01:00"][..],
    ] {
        let o = rehearse(&[&["track", log][..], args, &now].concat());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = rehearse(&["forecast", log, "--now", "2027-03-05T17:00:00+01:00", "--runs", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is before the log's last record"), "{}", stderr(&o));
    let o = rehearse(&["forecast", log, "--now", "2027-03-06T25:00", "--runs", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
