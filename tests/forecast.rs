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

/// Each step's earliest possible end from `a`: what is done as recorded,
/// every other step at its shortest duration (cut where a fault of unknown
/// outcome can strike), starting no earlier than
/// now (nor before what it waits for), and one running no earlier than now.
fn earliest_ends(sc: &rehearse_core::Scenario, a: &Actuals) -> Vec<u64> {
    use rehearse_core::Dist;
    use rehearse_core::scenario::{Anchor, Work};
    let shortest = |d: &Dist| -> f64 {
        match d {
            Dist::Fixed(x) => x.as_ms() as f64,
            Dist::Uniform { min, .. } | Dist::Triangular { min, .. } | Dist::Pert { min, .. } => *min,
            Dist::LogNormal { .. } => 0.0,
            Dist::Empirical { sorted_ms } => sorted_ms[0] as f64,
        }
    };
    let n = sc.steps.len();
    let (mut start, mut end) = (vec![0u64; n], vec![0u64; n]);
    for _ in 0..=n {
        for (i, s) in sc.steps.iter().enumerate() {
            start[i] = a.started_ms[i].unwrap_or_else(|| {
                let mut t = a.now_ms;
                if let Some(p) = s.parent {
                    t = t.max(start[p.index()]);
                }
                for dep in &s.after {
                    let base =
                        if dep.anchor == Anchor::Finish { end[dep.step.index()] } else { start[dep.step.index()] };
                    t = t.max(base + dep.lag.as_ms());
                }
                t
            });
            end[i] = a.done_ms[i].unwrap_or_else(|| match &s.work {
                Work::Leaf(d) => {
                    let mut ms = d.base.as_ref().map_or(0.0, shortest);
                    for x in [&d.per_gb, &d.per_million_rows].into_iter().flatten() {
                        ms += shortest(&x.dist) * x.units;
                    }
                    // A fault of unknown outcome can find the work done
                    // where it struck, at the earliest.
                    let share = sc
                        .faults
                        .iter()
                        .filter(|f| f.unknown_outcome && f.steps.contains(&rehearse_core::StepIdx(i as u32)))
                        .map(|f| f.at.0)
                        .fold(1.0f64, f64::min);
                    let running = if a.started_ms[i].is_some() { a.now_ms } else { 0 };
                    (start[i] + (ms * share).floor() as u64).max(running)
                }
                Work::Group { finish_lag } => {
                    s.children.iter().map(|c| end[c.index()]).max().unwrap_or(start[i]) + finish_lag.as_ms()
                }
            });
        }
    }
    end
}

/// Over plan `text`, a random run as what happened (seed `truth_seed`),
/// and "now" at `share` of it: every forecast run keeps what happened
/// (starts and ends as recorded), starts nothing else before now, ends no
/// running step before now, and goes live no earlier than now plus what is
/// left at its shortest, unless it already has.
fn keeps_what_happened(
    name: &str,
    text: &str,
    sc: &rehearse_core::Scenario,
    truth_seed: u64,
    share: f64,
    seed: u64,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let plan = Plan::new(sc, rehearse_sim::digest(text));
    let mut sim = Simulator::new(&plan);
    let mut truth = sim.run(&RunOptions::new(truth_seed, Mode::Random), &mut NullSink).unwrap();
    // What a log of starts and ends describes: a weekend that went live
    // (a failed attempt is no end).
    if truth.outcome != Outcome::Committed {
        let faultless = RunOptions::new(truth_seed, Mode::Random).with_faults(FaultMode::Off);
        truth = sim.run(&faultless, &mut NullSink).unwrap();
    }
    // One start and one end per step: a run that reran steps is not
    // what a weekend log of starts and ends describes.
    proptest::prop_assume!(truth.recoveries.iter().all(|r| r.2 != rehearse_core::Action::Rerun));
    let now = (truth.end.as_ms() as f64 * share) as u64;
    let a = actuals_of(sc, &truth, now);
    let from = Plan::new(sc, rehearse_sim::digest(text)).with_actuals(a.clone()).unwrap();
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
            // Never before now plus what is left at its shortest.
            let ends: Vec<usize> = (0..sc.steps.len())
                .filter(|i| sc.steps[*i].downtime == Some(rehearse_core::scenario::DowntimeMark::Ends))
                .collect();
            if let [e] = ends[..] {
                let shortest = earliest_ends(sc, &a)[e];
                proptest::prop_assert!(live >= shortest, "{} went live at {} before {}", name, live, shortest);
            }
        }
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The bundled plans.
    #[test]
    fn forecasts_keep_what_happened_and_start_nothing_in_the_past(
        which in 0usize..5, truth_seed in 0u64..1000, share in 0.0f64..1.0, seed in 0u64..1000
    ) {
        let name = ["go-live-weekend.toml", "self-service-upgrade.toml", "hotfix.toml", "ax2012-go-live.toml", "dse-upgrade-2017.toml"][which];
        let (text, sc) = load(name);
        keeps_what_happened(name, &text, &sc, truth_seed, share, seed)?;
    }

    /// Random plans.
    #[test]
    fn forecasts_of_random_plans_keep_what_happened(
        genes in proptest::collection::vec((0u32..1000, 0u32..u32::MAX, 0u32..1000, 0u32..1000), 1..12),
        truth_seed in 0u64..1000, share in 0.0f64..1.0, seed in 0u64..1000
    ) {
        let text = crate::props::plan_from(&genes);
        let sc = crate::support::parse(&text);
        keeps_what_happened("random plan", &text, &sc, truth_seed, share, seed)?;
    }
}

/// The go-live weekend at 08:00 on Saturday, its data upgrade running since
/// 02:00 (every step before it done, an hour each, from Friday 18:00).
fn upgrade_running(sc: &rehearse_core::Scenario) -> (Actuals, usize) {
    let h = 3_600_000u64;
    let idx = |id: &str| sc.steps.iter().position(|s| s.id == id).unwrap();
    let mut a = Actuals::none(sc, origin());
    let mut t = 0;
    for id in ["users-out", "restore-point", "pkg-platform", "pkg-isv", "pkg-custom", "pkg-sign-off", "swap"] {
        a.started_ms[idx(id)] = Some(t);
        t += h;
        a.done_ms[idx(id)] = Some(t);
    }
    a.started_ms[idx("data-upgrade")] = Some(t);
    a.now_ms = t + 6 * h;
    (a, idx("data-upgrade"))
}

fn fault(sc: &rehearse_core::Scenario, id: &str) -> rehearse_core::FaultIdx {
    rehearse_core::FaultIdx(sc.faults.iter().position(|f| f.id == id).unwrap() as u32)
}

/// Each forecast run of `a`, with its events.
fn runs_from(
    text: &str,
    sc: &rehearse_core::Scenario,
    a: Actuals,
    n: u64,
) -> Vec<(rehearse_sim::RunSummary, Vec<rehearse_core::EventRecord>)> {
    let plan = Plan::new(sc, rehearse_sim::digest(text)).with_actuals(a).unwrap();
    let mut sim = Simulator::new(&plan);
    (0..n)
        .map(|k| {
            let mut sink = rehearse_sim::MemorySink::new();
            let r = sim.run(&RunOptions { run: k, ..RunOptions::new(3, Mode::Random) }, &mut sink).unwrap();
            (r, sink.records)
        })
        .collect()
}

/// Faults recorded on the weekend strike when they did, in every run, and
/// count against the budget: after two DVT failures the plan's `resume`
/// (three attempts) has one left, so a third failure rolls back (or, past
/// the 40 h deadline, fixes forward), never resumes under `resume`.
#[test]
fn recorded_faults_strike_when_they_did_and_count_against_the_budget() {
    use rehearse_core::Event;
    let (text, sc) = load("go-live-weekend.toml");
    let h = 3_600_000u64;
    let (mut a, upgrade) = upgrade_running(&sc);
    let began = a.started_ms[upgrade].unwrap();
    let dvt = fault(&sc, "dvt");
    let step = StepIdx(upgrade as u32);
    for at in [began + h, began + 4 * h] {
        a.struck.push(rehearse_sim::actuals::Strike { step, fault: dvt, at_ms: at, decided: None });
    }
    let resume = sc.policies.iter().position(|p| p.name == "resume").unwrap();
    let mut third = 0;
    for (r, events) in runs_from(&text, &sc, a.clone(), 300) {
        let strikes: Vec<(u64, u32)> = events
            .iter()
            .filter_map(|e| match e.event {
                Event::FaultInjected { step: s, attempt, .. } if s == step => Some((e.at.as_ms(), attempt)),
                _ => None,
            })
            .collect();
        assert_eq!(strikes[..2], [(began + h, 1), (began + 4 * h, 2)], "run {}", r.run);
        // The recovery of each recorded strike is over by the next record.
        let started: Vec<u64> = events
            .iter()
            .filter_map(|e| match e.event {
                Event::StepStarted { step: s, attempt: 2 } if s == step => Some(e.at.as_ms()),
                _ => None,
            })
            .collect();
        assert!(started[0] <= began + 4 * h, "run {}: attempt 2 began after it failed", r.run);
        if let Some(&(at, 3)) = strikes.get(2) {
            assert!(at >= a.now_ms, "run {}: a fault struck before now", r.run);
            third += 1;
            let chosen = events.iter().rev().find_map(|e| match e.event {
                Event::RecoveryChosen { step: s, action, attempt: 3, max_attempts, .. } if s == step => {
                    Some((action, max_attempts))
                }
                _ => None,
            });
            let (action, max) = chosen.expect("a recovery for the third failure");
            assert!(
                action == rehearse_core::Action::Rollback || max != sc.policies[resume].max_attempts,
                "run {}: the third failure resumed under `resume`",
                r.run
            );
        }
    }
    assert!(third > 5, "{third} runs with a third failure");
    // Without the two recorded faults, the same forecast rolls back less.
    let (plain, _) = upgrade_running(&sc);
    let opts = EstimateOptions { runs: 2000, seed: 8, threads: 2, ..Default::default() };
    let est = |a: Actuals| {
        let plan = Plan::new(&sc, rehearse_sim::digest(&text)).with_actuals(a).unwrap();
        estimate(&plan, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap()
    };
    let (with, without) = (est(a), est(plain));
    assert!(
        with.share(Outcome::RolledBack) > without.share(Outcome::RolledBack),
        "{} vs {}",
        with.share(Outcome::RolledBack),
        without.share(Outcome::RolledBack)
    );
}

/// A recovery recorded for a fault stands and takes effect when it was
/// decided: a rollback decided 20 minutes after the fault rolls every run
/// back from then, with no deadline hand-over.
#[test]
fn a_recorded_rollback_stands_from_when_it_was_decided() {
    let (text, sc) = load("go-live-weekend.toml");
    let (mut a, upgrade) = upgrade_running(&sc);
    let at = a.now_ms - 600_000;
    let decided = Some(rehearse_sim::actuals::Decided { action: rehearse_core::Action::Rollback, at_ms: at + 300_000 });
    a.struck.push(rehearse_sim::actuals::Strike {
        step: StepIdx(upgrade as u32),
        fault: fault(&sc, "dvt"),
        at_ms: at,
        decided,
    });
    for (r, _) in runs_from(&text, &sc, a, 100) {
        assert_eq!(r.outcome, Outcome::RolledBack, "run {}", r.run);
        assert_eq!(r.ending_began.map(|t| t.as_ms()), Some(at + 300_000), "run {}", r.run);
    }
}

/// A no-go decided about no fault ends the weekend from then; a fault's
/// recorded resume is over by the step's recorded end.
#[test]
fn a_recorded_no_go_rolls_back_and_a_recorded_resume_keeps_the_recorded_end() {
    let (text, sc) = load("go-live-weekend.toml");
    let (mut a, upgrade) = upgrade_running(&sc);
    a.ending = Some(rehearse_sim::actuals::Decided { action: rehearse_core::Action::Rollback, at_ms: a.now_ms });
    for (r, _) in runs_from(&text, &sc, a, 50) {
        assert_eq!(
            (r.outcome, r.ending_began.map(|t| t.as_ms())),
            (Outcome::RolledBack, Some(6 * 3_600_000 + 7 * 3_600_000))
        );
    }
    let (mut a, upgrade2) = upgrade_running(&sc);
    assert_eq!(upgrade, upgrade2);
    let began = a.started_ms[upgrade].unwrap();
    let decided =
        Some(rehearse_sim::actuals::Decided { action: rehearse_core::Action::Resume, at_ms: began + 3_600_000 });
    a.struck.push(rehearse_sim::actuals::Strike {
        step: StepIdx(upgrade as u32),
        fault: fault(&sc, "ttscommit"),
        at_ms: began + 1_800_000,
        decided,
    });
    a.done_ms[upgrade] = Some(began + 5 * 3_600_000);
    for (r, _) in runs_from(&text, &sc, a, 100) {
        assert_eq!(r.steps[upgrade].end.as_ms(), began + 5 * 3_600_000, "run {}", r.run);
        assert_eq!(r.attempts[upgrade], 2, "run {}", r.run);
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

/// A fault recorded with `track`, then `forecast --options`: the choices
/// open at it, each on the same runs; a rollback now never goes live; the
/// plan's choice is the forecast itself; the same bytes twice.
#[test]
fn options_at_a_recorded_fault() {
    use crate::support::{rehearse, stderr, stdout};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("weekend.sqlite");
    let log = log.to_str().unwrap();
    let now = ["--now", "2027-03-06T09:30:00+01:00"];
    let track = |args: &[&str]| {
        let mut all = vec!["track", log];
        all.extend_from_slice(args);
        all.extend_from_slice(&now);
        let o = rehearse(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    };
    track(&["init", "scenarios/go-live-weekend.toml"]);
    let steps = ["users-out", "restore-point", "pkg-platform", "pkg-isv", "pkg-custom", "pkg-sign-off", "swap"];
    for (k, step) in steps.iter().enumerate() {
        let h = 18 + k;
        let at = |m: u32| format!("2027-03-0{}T{:02}:{m:02}:00+01:00", 5 + h / 24, h % 24);
        track(&["start", step, "--at", &at(0)]);
        track(&["done", step, "--at", &at(50)]);
    }
    track(&["start", "data-upgrade", "--at", "2027-03-06T01:00:00+01:00"]);
    track(&["fault", "dvt@data-upgrade", "--at", "2027-03-06T05:10:00+01:00"]);
    track(&[
        "decide",
        "resume",
        "--step",
        "data-upgrade",
        "--by",
        "lead",
        "--why",
        "known",
        "--at",
        "2027-03-06T05:40:00+01:00",
    ]);
    track(&["fault", "dvt@data-upgrade", "--at", "2027-03-06T09:16:00+01:00"]);
    let args = ["forecast", log, "--runs", "2000", "--options", "--json", now[0], now[1]];
    let first = rehearse(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let v: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    let f = &v["forecast"];
    assert_eq!(f["struck"].as_array().unwrap().len(), 2);
    assert_eq!(f["struck"][0]["decided"]["action"], "resume");
    assert_eq!(f["struck"][1]["at"], "2027-03-06T09:16:00+01:00");
    let o = &f["options"];
    assert_eq!(o["at"]["fault"], "dvt");
    assert_eq!(o["at"]["struck_at"], "2027-03-06T09:16:00+01:00");
    // Two of three attempts spent: the plan resumes once more.
    assert_eq!(o["plan_action"], "resume");
    let choices: Vec<&str> = o["choices"].as_array().unwrap().iter().map(|c| c["choice"].as_str().unwrap()).collect();
    assert_eq!(choices, ["plan", "retry", "rollback"]);
    assert_eq!(o["choices"][0]["p_success"], v["p_success"]);
    assert_eq!(o["choices"][0]["go_live"]["p50"], v["go_live"]["p50"]);
    let rollback = &o["choices"][2];
    assert_eq!((rollback["p_success"].as_f64(), rollback["p_rollback"].as_f64()), (Some(0.0), Some(1.0)));
    assert!(rollback["outage_if_rolled_back_ms"]["p50"].as_u64().unwrap() > 15 * 3_600_000, "{rollback}");
    let again = rehearse(&args);
    assert_eq!(stdout(&again), stdout(&first));
    let text = stdout(&rehearse(&["forecast", log, "--runs", "2000", "--options", now[0], now[1]]));
    assert!(text.contains("options at dvt@data-upgrade, struck Sat 09:16"), "{text}");
    assert!(text.contains("struck       dvt@data-upgrade at Sat 05:10; decided resume at Sat 05:40"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
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
