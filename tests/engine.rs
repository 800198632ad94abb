//! Engine semantics: dependencies with lags, start-to-start relations,
//! nesting, parallel branches, downtime, limits and random streams.

use rehearse_core::{Mode, SimDuration, SimTime};
use rehearse_sim::{MemorySink, NullSink, Plan, RunOptions, SimError, Simulator};

use crate::support::{self, parse, simulate};

fn ms(s: &str) -> u64 {
    SimDuration::parse(s).unwrap().as_ms()
}

/// Runs `text` at medians and returns (start, end) of each step by id, in ms.
fn times(text: &str) -> Vec<(String, u64, u64)> {
    let s = parse(text);
    let (summary, _) = simulate(text, &s, 0, Mode::Median);
    s.steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let t = summary.steps[i];
            (st.id.clone(), t.start.as_ms(), t.end.as_ms())
        })
        .collect()
}

fn check(text: &str, expected: &[(&str, &str, &str)]) {
    let got = times(text);
    let want: Vec<(String, u64, u64)> = expected.iter().map(|(id, a, b)| (id.to_string(), ms(a), ms(b))).collect();
    assert_eq!(got, want);
}

#[test]
fn lags_start_to_start_and_nesting() {
    check(
        r#"
[scenario]
name = "t"
[[step]]
id = "group"
finish_lag = "2s"
[[step]]
id = "a"
parent = "group"
after = [{ step = "group", from = "start", lag = "500ms" }]
duration = "10s"
[[step]]
id = "b"
parent = "group"
after = [{ step = "a", from = "start", lag = "1s" }]
duration = "30s"
[[step]]
id = "c"
parent = "group"
after = [{ step = "a", lag = "250ms" }, "b"]
duration = "instant"
[[step]]
id = "next"
after = [{ step = "group", lag = "1m" }]
duration = { uniform = ["1m", "3m"] }
"#,
        &[
            ("group", "0ms", "33.5s"),
            ("a", "500ms", "10.5s"),
            ("b", "1.5s", "31.5s"),
            ("c", "31.5s", "31.5s"),
            ("next", "1m33.5s", "3m33.5s"),
        ],
    );
}

#[test]
fn parallel_branches_join_and_downtime_is_a_union() {
    let text = r#"
[scenario]
name = "t"
[[step]]
id = "left"
duration = "1h"
downtime = "begins"
[[step]]
id = "right"
after = [{ step = "left", from = "start", lag = "30m" }]
duration = "2h"
downtime = "begins"
[[step]]
id = "left-done"
after = ["left"]
duration = "10m"
downtime = "ends"
[[step]]
id = "join"
after = ["left-done", "right"]
duration = "15m"
downtime = "ends"
"#;
    check(
        text,
        &[("left", "0ms", "1h"), ("right", "30m", "2h30m"), ("left-done", "1h", "1h10m"), ("join", "2h30m", "2h45m")],
    );
    let s = parse(text);
    let (summary, _) = simulate(text, &s, 0, Mode::Median);
    // Two overlapping downtimes count once: 0 .. 2h45m.
    assert_eq!(summary.downtime, SimDuration::parse("2h45m").unwrap());
    assert_eq!(summary.downtime_intervals, vec![(SimTime(0), SimTime(ms("2h45m")))]);
    let crit: Vec<&str> = summary.critical_path.iter().map(|i| s.step(*i).id.as_str()).collect();
    // Left's start (not its length) sets when right begins: left is not critical.
    assert_eq!(crit, ["right", "join"]);
}

#[test]
fn separate_downtimes_add_up() {
    let text = r#"
[scenario]
name = "t"
[[step]]
id = "sandbox"
duration = "2h"
downtime = "begins"
[[step]]
id = "sandbox-up"
after = ["sandbox"]
duration = "instant"
downtime = "ends"
[[step]]
id = "production"
after = [{ step = "sandbox-up", lag = "1d" }]
duration = "3h"
downtime = "begins"
[[step]]
id = "production-up"
after = ["production"]
duration = "30m"
downtime = "ends"
"#;
    let s = parse(text);
    let (summary, _) = simulate(text, &s, 0, Mode::Median);
    assert_eq!(summary.downtime, SimDuration::parse("5h30m").unwrap());
    assert_eq!(summary.downtime_intervals.len(), 2);
    assert_eq!(summary.end, SimTime(ms("1d5h30m")));
}

#[test]
fn a_steps_draws_do_not_depend_on_other_steps() {
    let base = r#"
[scenario]
name = "t"
[[step]]
id = "x"
duration = { pert = ["1h", "2h", "5h"] }
[[step]]
id = "y"
after = ["x"]
duration = { lognormal = { median = "1h", p90 = "3h" } }
"#;
    let with_extra = base.replace(
        "[[step]]\nid = \"y\"",
        "[[step]]\nid = \"extra\"\nduration = { uniform = [\"1m\", \"9m\"] }\n\n[[step]]\nid = \"y\"",
    );
    let (a, b) = (parse(base), parse(&with_extra));
    for seed in 0..20 {
        let (ra, _) = simulate(base, &a, seed, Mode::Random);
        let (rb, _) = simulate(&with_extra, &b, seed, Mode::Random);
        let dur = |s: &rehearse_core::Scenario, r: &rehearse_sim::RunSummary, id: &str| {
            r.timing(s.find(id).unwrap()).duration()
        };
        assert_eq!(dur(&a, &ra, "x"), dur(&b, &rb, "x"), "seed {seed}");
        assert_eq!(dur(&a, &ra, "y"), dur(&b, &rb, "y"), "seed {seed}");
    }
}

#[test]
fn seeds_change_durations_and_medians_ignore_them() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    let ends: Vec<SimTime> = (0..10).map(|seed| simulate(&text, &s, seed, Mode::Random).0.end).collect();
    let mut distinct = ends.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ends.len(), "ten seeds, ten different runs: {ends:?}");
    let m1 = simulate(&text, &s, 1, Mode::Median).0.end;
    let m2 = simulate(&text, &s, 2, Mode::Median).0.end;
    assert_eq!(m1, m2);
}

#[test]
fn reusing_a_simulator_gives_the_same_runs() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    let first: Vec<_> =
        (0..5).map(|seed| sim.run(&RunOptions::new(seed, Mode::Random), &mut NullSink).unwrap()).collect();
    for (seed, expected) in first.iter().enumerate() {
        let mut fresh = Simulator::new(&plan);
        let mut sink = MemorySink::new();
        assert_eq!(&fresh.run(&RunOptions::new(seed as u64, Mode::Random), &mut sink).unwrap(), expected);
    }
}

#[test]
fn limits_end_in_a_clear_error() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let mut opts = RunOptions::new(1, Mode::Random);
    opts.limits.max_events = 50;
    match Simulator::new(&plan).run(&opts, &mut NullSink) {
        Err(SimError::EventLimit { limit: 50, .. }) => {}
        other => panic!("expected the event limit, got {other:?}"),
    }
    let mut opts = RunOptions::new(1, Mode::Random);
    opts.limits.max_time = SimDuration::from_hours(3);
    match Simulator::new(&plan).run(&opts, &mut NullSink) {
        Err(e @ SimError::TimeLimit { .. }) => {
            assert!(e.to_string().contains("would run past the 3h limit"), "{e}")
        }
        other => panic!("expected the time limit, got {other:?}"),
    }
}

/// A run run again without a fault (as an estimate prices it), keeping
/// the first attempts' durations it drew, is that run drawn afresh, for
/// every bundled scenario, silent or not; a different run is drawn anew.
#[test]
fn a_run_again_without_a_fault_is_the_run_drawn_afresh() {
    use rehearse_sim::FaultMode;
    let mut compared = 0;
    for name in support::bundled() {
        let (text, s) = support::load(&name);
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let (mut again, mut fresh) = (Simulator::new(&plan), Simulator::new(&plan));
        for run in 0..150 {
            let opts = RunOptions { run, ..RunOptions::new(21, Mode::Random) };
            let with = again.run(&opts, &mut NullSink).unwrap();
            let mut struck: Vec<_> = with.injected.iter().map(|i| i.fault).collect();
            struck.dedup();
            for f in struck {
                let without = RunOptions { faults: FaultMode::Without(f), ..opts.clone() };
                let want = fresh.run(&without, &mut NullSink).unwrap();
                let mut got = want.clone();
                again.run_again_into(&without, &mut NullSink, &mut got).unwrap();
                assert_eq!(got, want, "{name} run {run} without {f:?}");
                let mut events = MemorySink::new();
                again.run_again_into(&without, &mut events, &mut got).unwrap();
                assert_eq!(got, want, "{name} run {run} without {f:?}, events kept");
                compared += 1;
            }
            // Another run's "again" draws its own numbers.
            let next = RunOptions { run: run + 1000, ..opts.clone() };
            let mut got = with.clone();
            again.run_again_into(&next, &mut NullSink, &mut got).unwrap();
            assert_eq!(got, fresh.run(&next, &mut NullSink).unwrap(), "{name} run {}", run + 1000);
        }
    }
    assert!(compared > 300, "only {compared} runs priced");
}
