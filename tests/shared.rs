//! What steps share and when they may start, beside their dependencies:
//! people with a capacity (`[[resource]]`, `needs`), fixed slots
//! (`not_before`) and shared drivers (`[[driver]]`, `scale_by`).

use rehearse_core::event::Event;
use rehearse_core::{Mode, Scenario, StepIdx};
use rehearse_sim::{MemorySink, NullSink, Plan, RunOptions, Simulator};

use crate::support::{parse, simulate};

/// Two one-hour steps side by side after `begin`, both needing `dba`
/// (`capacity`), and `c` needing nobody.
fn two_for_one_dba(capacity: u32) -> String {
    format!(
        r#"
[scenario]
name = "dba"
[[resource]]
id = "dba"
name = "AX 2012 DBA"
capacity = {capacity}
[[step]]
id = "begin"
duration = "10m"
[[step]]
id = "backup"
after = ["begin"]
duration = "1h"
needs = ["dba"]
[[step]]
id = "toolkit"
after = ["begin"]
duration = "1h"
needs = ["dba"]
[[step]]
id = "c"
after = ["begin"]
duration = "30m"
[[step]]
id = "end"
after = ["backup", "toolkit", "c"]
duration = "5m"
"#
    )
}

/// (start, end) of each attempt of `id`, from the events.
fn spans(sc: &Scenario, sink: &MemorySink, id: &str) -> Vec<(u64, u64)> {
    let i = sc.find(id).expect("step");
    let mut out = Vec::new();
    let mut started = None;
    for r in &sink.records {
        match r.event {
            Event::StepStarted { step, .. } if step == i => started = Some(r.at.as_ms()),
            Event::StepCompleted { step, .. } if step == i => out.push((started.take().unwrap(), r.at.as_ms())),
            _ => {}
        }
    }
    out
}

const H: u64 = 3_600_000;
const M: u64 = 60_000;

/// The must-show: two parallel one-hour steps that need a capacity-1
/// resource run one after the other (the `--median` events show no
/// overlap), the second waiting for the first (an event), in plan order;
/// with capacity 2 they run side by side. The wait is on the critical path.
#[test]
fn a_capacity_one_resource_runs_its_steps_one_after_the_other() {
    let text = two_for_one_dba(1);
    let sc = parse(&text);
    let (summary, sink) = simulate(&text, &sc, 1, Mode::Median);
    let (backup, toolkit) = (spans(&sc, &sink, "backup"), spans(&sc, &sink, "toolkit"));
    assert_eq!(backup, [(10 * M, 10 * M + H)], "declared first, served first");
    assert_eq!(toolkit, [(10 * M + H, 10 * M + 2 * H)], "waits for the DBA, then runs");
    assert_eq!(spans(&sc, &sink, "c"), [(10 * M, 40 * M)], "a step needing nobody does not wait");
    let waited: Vec<_> = sink
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::StepWaited { step, resource } => Some((sc.step(step).id.as_str(), resource, r.at.as_ms())),
            _ => None,
        })
        .collect();
    assert_eq!(waited, [("toolkit", 0, 10 * M)]);
    assert_eq!(summary.end.as_ms(), 10 * M + 2 * H + 5 * M);
    let path: Vec<&str> = summary.critical_path.iter().map(|s| sc.step(*s).id.as_str()).collect();
    assert_eq!(path, ["begin", "backup", "toolkit", "end"], "the resource wait is on the critical path");

    let text = two_for_one_dba(2);
    let sc = parse(&text);
    let (summary, sink) = simulate(&text, &sc, 1, Mode::Median);
    assert_eq!(spans(&sc, &sink, "toolkit"), [(10 * M, 10 * M + H)]);
    assert!(!sink.records.iter().any(|r| matches!(r.event, Event::StepWaited { .. })));
    assert_eq!(summary.end.as_ms(), 10 * M + H + 5 * M);
}

/// `rehearse run --median` prints the wait and the two steps in turn.
#[test]
fn run_median_shows_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dba.toml");
    std::fs::write(&path, two_for_one_dba(1)).unwrap();
    let out = crate::support::rehearse(&["run", path.to_str().unwrap(), "--median", "--width", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("WAITS      toolkit for AX 2012 DBA (busy)"), "{text}");
}

/// Random runs, faults striking and recovered, a resource never serves
/// more steps at once than its capacity, and every run still commits.
#[test]
fn a_resource_never_serves_more_than_its_capacity() {
    let text = two_for_one_dba(1)
        .replace("duration = \"1h\"", "duration = { lognormal = { median = \"1h\", p90 = \"2h\" } }")
        + "[[fault]]\nid = \"f\"\nmessage = \"failed\"\nsteps = [\"backup\", \"toolkit\"]\nprobability = 0.4\nrecovery = \"again\"\n\
           [recovery.again]\naction = \"retry\"\nreaction = \"10m\"\nmax_attempts = 5\nthen = \"stop\"\n[recovery.stop]\naction = \"abort\"\n";
    let sc = parse(&text);
    let plan = Plan::new(&sc, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    let (b, t) = (sc.find("backup").unwrap(), sc.find("toolkit").unwrap());
    let mut waits = 0;
    for run in 0..200 {
        let mut opts = RunOptions::new(3, Mode::Random);
        opts.run = run;
        let mut sink = MemorySink::new();
        sim.run(&opts, &mut sink).unwrap();
        let mut running = [false; 2];
        for r in &sink.records {
            let k = |s: StepIdx| {
                if s == b {
                    Some(0)
                } else if s == t {
                    Some(1)
                } else {
                    None
                }
            };
            match r.event {
                Event::StepStarted { step, .. } if k(step).is_some() => {
                    running[k(step).unwrap()] = true;
                    assert!(!(running[0] && running[1]), "run {run}: both hold the DBA at {}", r.at.as_ms());
                }
                Event::StepCompleted { step, .. } | Event::StepFailed { step, .. } if k(step).is_some() => {
                    running[k(step).unwrap()] = false;
                }
                Event::StepWaited { .. } => waits += 1,
                _ => {}
            }
        }
        // The silent run (debug builds shadow it through the engine) agrees.
        let silent = sim.run(&opts, &mut NullSink).unwrap();
        assert_eq!(silent.end, sim.run(&opts, &mut MemorySink::new()).unwrap().end);
    }
    assert!(waits >= 200, "each run waits at least once: {waits}");
}

/// An anchored plan: downtime begins Friday 18:00 in Berlin.
fn slotted(not_before: &str) -> String {
    format!(
        r#"
[scenario]
name = "slot"
downtime_begins_at = "2027-03-05T18:00:00"
time_zone = "Europe/Berlin"
[[step]]
id = "prep"
duration = "2h"
[[step]]
id = "offline"
after = ["prep"]
duration = "1h"
downtime = "begins"
[[step]]
id = "upgrade"
after = ["offline"]
duration = "3h"
not_before = {not_before}
[[step]]
id = "online"
after = ["upgrade"]
duration = "30m"
downtime = "ends"
"#
    )
}

/// The must-show: a step with `not_before` 14 h after downtime begins
/// starts then, though its predecessor was done 13 h earlier; the hold is
/// an event; a slot already past holds nothing.
#[test]
fn a_fixed_slot_holds_a_step_until_its_clock_time() {
    let text = slotted("\"2027-03-06T08:00:00\"");
    let sc = parse(&text);
    let (summary, sink) = simulate(&text, &sc, 1, Mode::Median);
    let began = 2 * H;
    assert_eq!(spans(&sc, &sink, "upgrade"), [(began + 14 * H, began + 17 * H)]);
    let held: Vec<_> =
        sink.records.iter().filter(|r| matches!(r.event, Event::StepHeld { .. })).map(|r| r.at.as_ms()).collect();
    assert_eq!(held, [began + H]);
    assert_eq!(summary.downtime.as_ms(), 17 * H + 30 * M);
    let path: Vec<&str> = summary.critical_path.iter().map(|s| sc.step(*s).id.as_str()).collect();
    assert_eq!(path, ["upgrade", "online"], "the slot, not what came before, decides");

    // In random runs too, always at the slot (the run's own downtime begin).
    let plan = Plan::new(&sc, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    for run in 0..20 {
        let mut opts = RunOptions::new(9, Mode::Random);
        opts.run = run;
        let s = sim.run(&opts, &mut NullSink).unwrap();
        let u = s.steps[sc.find("upgrade").unwrap().index()];
        let o = s.steps[sc.find("offline").unwrap().index()];
        assert_eq!(u.start.as_ms(), o.start.as_ms() + 14 * H);
    }

    let text = slotted("\"2027-03-05T17:00:00\"");
    let sc = parse(&text);
    let (_, sink) = simulate(&text, &sc, 1, Mode::Median);
    assert_eq!(spans(&sc, &sink, "upgrade"), [(3 * H, 6 * H)]);
    assert!(!sink.records.iter().any(|r| matches!(r.event, Event::StepHeld { .. })));
}

/// Spearman's rank correlation (no ties in continuous draws).
fn rank_correlation(xs: &[u64], ys: &[u64]) -> f64 {
    let ranks = |v: &[u64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by_key(|i| v[*i]);
        let mut r = vec![0.0; v.len()];
        for (rank, i) in idx.into_iter().enumerate() {
            r[i] = rank as f64;
        }
        r
    };
    let (rx, ry) = (ranks(xs), ranks(ys));
    let n = rx.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mean) * (b - mean)).sum();
    let var: f64 = rx.iter().map(|a| (a - mean) * (a - mean)).sum();
    cov / var
}

fn driven(scale: &str) -> String {
    format!(
        r#"
[scenario]
name = "driven"
[[driver]]
id = "sql-io"
factor = {{ lognormal = {{ median = 1.0, p90 = 1.6 }} }}
[[step]]
id = "safe-mode"
duration = {{ lognormal = {{ median = "2h", p90 = "2h30m" }} }}
{scale}
[[step]]
id = "sync-schema"
duration = {{ lognormal = {{ median = "3h", p90 = "3h45m" }} }}
{scale}
[[step]]
id = "other"
duration = {{ lognormal = {{ median = "1h", p90 = "2h" }} }}
"#
    )
}

/// Each step's duration over `n` random runs.
fn durations(text: &str, n: u64) -> (Scenario, Vec<Vec<u64>>) {
    let sc = parse(text);
    let mut out = vec![Vec::new(); sc.steps.len()];
    let plan = Plan::new(&sc, rehearse_sim::digest(text));
    let mut sim = Simulator::new(&plan);
    for run in 0..n {
        let mut opts = RunOptions::new(11, Mode::Random);
        opts.run = run;
        let s = sim.run(&opts, &mut NullSink).unwrap();
        for (i, t) in s.steps.iter().enumerate() {
            out[i].push(t.end.as_ms() - t.start.as_ms());
        }
    }
    drop(sim);
    (sc, out)
}

/// The must-show: two steps scaled by one driver move together (rank
/// correlation over 200 runs at least 0.5); without it, about 0. The
/// driver draws from a stream of its own: a step it does not scale draws
/// exactly what it drew without the driver.
#[test]
fn a_shared_driver_makes_its_steps_move_together() {
    let (sc, with) = durations(&driven("scale_by = [\"sql-io\"]"), 200);
    let (a, b, other) = (sc.find("safe-mode").unwrap(), sc.find("sync-schema").unwrap(), sc.find("other").unwrap());
    let r = rank_correlation(&with[a.index()], &with[b.index()]);
    let (_, without) = durations(&driven(""), 200);
    let r0 = rank_correlation(&without[a.index()], &without[b.index()]);
    eprintln!("rank correlation over 200 runs: {r:.3} with the driver, {r0:.3} without");
    assert!(r >= 0.5, "with the driver: {r}");
    assert!(r0.abs() < 0.15, "without: {r0}");
    assert_eq!(with[other.index()], without[other.index()], "an unscaled step's draws do not shift");
}

/// As planned (`--median`), a driver is at its median: a step scaled by a
/// driver whose median is 1.2 lasts 1.2 times its median.
#[test]
fn a_median_run_takes_the_drivers_median() {
    let text = driven("scale_by = [\"sql-io\"]").replace("median = 1.0, p90 = 1.6", "median = 1.2, p90 = 1.6");
    let sc = parse(&text);
    let (summary, _) = simulate(&text, &sc, 1, Mode::Median);
    let a = summary.steps[sc.find("safe-mode").unwrap().index()];
    assert_eq!(a.end.as_ms() - a.start.as_ms(), 2 * H * 12 / 10);
}

/// Every mistake in resources, drivers and slots, located.
#[test]
fn resource_driver_and_slot_mistakes_are_located() {
    let check = |body: &str, want: &[&str]| {
        let text = format!("[scenario]\nname = \"t\"\n{body}");
        let err = Scenario::parse(&text, "plan.toml").expect_err("refused").to_string();
        let got: Vec<&str> = err.lines().collect();
        assert_eq!(got, want, "\n{text}");
    };
    check(
        "[[resource]]\nid = \"dba\"\ncapacity = 0\n[[step]]\nid = \"a\"\nduration = \"1h\"\nneeds = [\"dbq\"]\n",
        &[
            "plan.toml:5:12: resource `dba`: capacity = 0; it is how many steps the resource can serve at once, from 1 to 1000",
            "plan.toml:9:10: step `a`: needs names unknown resource `dbq`; did you mean `dba`? (define it as a [[resource]] with id = \"dbq\")",
        ],
    );
    // A step takes one of a resource's places: naming it twice would need
    // two, which no attempt holds.
    check(
        "[[resource]]\nid = \"dba\"\ncapacity = 2\n[[step]]\nid = \"a\"\nduration = \"1h\"\nneeds = [\"dba\", \"dba\"]\n",
        &["plan.toml:9:17: step `a`: `dba` is listed twice in needs"],
    );
    check(
        "[[driver]]\nid = \"io\"\nfactor = 1.2\n[[driver]]\nid = \"net\"\nfactor = { lognormal = { median = 1.0, p90 = \"x\" } }\n[[step]]\nid = \"a\"\nduration = \"1h\"\nscale_by = [\"oi\"]\n",
        &[
            "plan.toml:8:10: driver `net` factor: found string where a number belongs; a factor is a number (1.2) or a distribution of numbers, like { lognormal = { median = 1.0, p90 = 1.4 } }",
            "plan.toml:12:13: step `a`: scale_by names unknown driver `oi`; did you mean `io`? (define it as a [[driver]] with id = \"oi\")",
        ],
    );
    check(
        "[[resource]]\nid = \"dba\"\n[[step]]\nid = \"g\"\nneeds = [\"dba\"]\n[[step]]\nid = \"a\"\nparent = \"g\"\nduration = \"1h\"\nnot_before = \"2027-03-06T08:00:00\"\n",
        &[
            "plan.toml:7:10: step `g`: `needs` applies to a step that does the work, not to one with sub-steps; put it on the sub-steps",
            "plan.toml:12:14: step `a`: not_before is a clock time, which needs the plan on the calendar: give [scenario] downtime_begins_at (and time_zone)",
        ],
    );
    check(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\n[[step]]\nid = \"early\"\nduration = \"1h\"\nnot_before = \"2027-03-05T12:00:00\"\n\
         [[step]]\nid = \"off\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"on\"\nafter = [\"off\"]\nduration = \"1h\"\ndowntime = \"ends\"\n",
        &[
            "plan.toml:7:14: step `early`: not_before is placed by when downtime begins, but this step does not come after the step with downtime = \"begins\"; add it to `after` (directly or through other steps)",
        ],
    );
}

/// Where the documented runbook (10:48:06.077, 002's example run of
/// DATAUPGRADESTATUS) falls among `n` no-fault runs of the dev data
/// upgrade written as `text`: the share of runs whose runbook was
/// shorter, and the runbook's P35, P50 and P65.
fn documented_run_rank(text: &str, n: u64) -> (f64, [u64; 3]) {
    let sc = parse(text);
    let runbook = sc.find("runbook").unwrap().index();
    let plan = Plan::new(&sc, rehearse_sim::digest(text));
    let mut sim = Simulator::new(&plan);
    let mut spans = Vec::new();
    for run in 0..n {
        let mut opts = RunOptions::new(0, Mode::Random).with_faults(rehearse_sim::FaultMode::Off);
        opts.run = run;
        let s = sim.run(&opts, &mut NullSink).unwrap();
        spans.push(s.steps[runbook].end.as_ms() - s.steps[runbook].start.as_ms());
    }
    spans.sort_unstable();
    let documented = rehearse_core::SimDuration::parse("10:48:06.077").unwrap().as_ms();
    let below = spans.iter().filter(|s| **s < documented).count() as f64 / n as f64;
    let q = |p: f64| spans[((p * n as f64).ceil() as usize).clamp(1, spans.len()) - 1];
    (below, [q(0.35), q(0.5), q(0.65)])
}

/// The must-show: with DbSync's EnableSafeMode and SyncSchema scaled by
/// one driver (they run side by side on one SQL Server, and in the
/// documented run they lasted within 3.5 % of each other), the documented
/// 10:48:06 sits between the P35 and the P65 of the no-fault estimate;
/// drawn apart, as before, it sat near the P25.
#[test]
fn the_documented_data_upgrade_sits_mid_estimate_with_its_driver() {
    let (text, _) = crate::support::load(crate::support::DATA_UPGRADE);
    let (rank, q) = documented_run_rank(&text, 2_000);
    let hms = |ms: u64| rehearse_core::SimDuration(ms).hms();
    eprintln!("documented 10:48:06 at P{:.1} (P35 {}, P50 {}, P65 {})", 100.0 * rank, hms(q[0]), hms(q[1]), hms(q[2]));
    assert!((0.35..=0.65).contains(&rank), "P{:.1}", 100.0 * rank);
    // Drawn apart: each step with the synchronisation's spread of its own
    // (p90 = 1.5 x median), as the plan had it before the driver.
    let apart: String = text
        .lines()
        .filter(|l| !l.starts_with("scale_by"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\"7h55m59.541s\"", "\"11h32m7.434s\"")
        .replace("\"8h12m36.763s\"", "\"11h56m17.459s\"");
    let (rank_apart, _) = documented_run_rank(&apart, 2_000);
    eprintln!("without the driver: P{:.1}", 100.0 * rank_apart);
    assert!(rank_apart < 0.35, "P{:.1}", 100.0 * rank_apart);
}

/// `estimate` reports each resource's call: when it is first needed and
/// last released (dated on the plan's calendar) and its busy time, in
/// text and in `--json`; one DBA for two one-hour steps is needed from
/// 18:10 to 20:10, two hours busy.
#[test]
fn estimate_gives_the_call_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dba.toml");
    let text = two_for_one_dba(1).replace(
        "name = \"dba\"\n",
        "name = \"dba\"\ndowntime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"Europe/Berlin\"\n",
    );
    let text = text.replacen("duration = \"10m\"\n", "duration = \"10m\"\ndowntime = \"begins\"\n", 1);
    let text = text.replace("duration = \"5m\"\n", "duration = \"5m\"\ndowntime = \"ends\"\n");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap();
    let out = crate::support::rehearse(&["estimate", p, "--runs", "200", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dba = &v["resources"][0];
    assert_eq!(dba["id"], "dba");
    assert_eq!(dba["needed_from"]["p50"], "2027-03-05T18:10:00+01:00");
    assert_eq!(dba["needed_until"]["p90"], "2027-03-05T20:10:00+01:00");
    assert_eq!(dba["busy_ms"]["p50"], 2 * H);
    let out = crate::support::rehearse(&["estimate", p, "--runs", "200", "--width", "80"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  AX 2012 DBA (capacity 1)\n"), "{text}");
    assert!(text.contains("    until Fri 2027-03-05 20:10 +01:00 - Fri 2027-03-05 20:10 +01:00\n"), "{text}");
    assert!(text.contains("    busy  02:00:00 P50 (02:00:00 - 02:00:00)\n"), "{text}");
    let page = dir.path().join("report.html");
    let out = crate::support::rehearse(&["estimate", p, "--runs", "200", "--html", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>Call sheet</h2>"), "the page has the call sheet");
    assert!(
        html.contains("<td class=\"l\">AX 2012 DBA</td><td>1</td><td class=\"l\">Fri 2027-03-05 18:10 +01:00 - Fri 2027-03-05 18:10 +01:00</td>"),
        "the DBA's row"
    );
}

/// The README's example of people, slots and drivers validates and runs:
/// the DBA does the backup, then the toolkit; the upgrade waits for its
/// slot, 14 h after downtime begins, and for the 14-16 h lag after
/// `offline` ends, at its middle (15 h) in a median run.
#[test]
fn the_readme_example_of_people_slots_and_drivers_runs() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let section = &readme[readme.find("### People, fixed slots and shared drivers").expect("the section")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let sc = parse(example);
    let (summary, sink) = simulate(example, &sc, 1, Mode::Median);
    let at = |id: &str| summary.steps[sc.find(id).unwrap().index()];
    assert_eq!(at("toolkit").start.as_ms(), at("backup").end.as_ms(), "the one DBA");
    assert_eq!(at("upgrade-slot").start.as_ms(), 15 * M + 15 * H, "the lag's middle is past the 14 h slot");
    assert!(sink.records.iter().any(|r| matches!(r.event, Event::StepWaited { .. })));
}

/// A lag of "at least" 48 h: fixed at 48 h alone; with `up_to`, drawn per
/// run between the two (at the middle as planned), each run's from its
/// own stream.
#[test]
fn an_at_least_lag_is_drawn_in_its_range() {
    let plan_text = |lag: &str| {
        format!(
            "[scenario]\nname = \"dse\"\n[[step]]\nid = \"request\"\nduration = \"10m\"\n\
             [[step]]\nid = \"upgrade\"\nafter = [{{ step = \"request\", lag = {lag} }}]\nduration = \"1h\"\n"
        )
    };
    let starts = |lag: &str, mode: Mode, runs: u64| -> Vec<u64> {
        let text = plan_text(lag);
        let sc = parse(&text);
        let plan = Plan::new(&sc, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        (0..runs)
            .map(|run| {
                let mut opts = RunOptions::new(4, mode);
                opts.run = run;
                sim.run(&opts, &mut NullSink).unwrap().steps[1].start.as_ms() - 10 * M
            })
            .collect()
    };
    assert_eq!(starts("{ at_least = \"48h\" }", Mode::Random, 3), [48 * H; 3]);
    assert_eq!(starts("{ at_least = \"48h\", up_to = \"72h\" }", Mode::Median, 1), [60 * H]);
    let drawn = starts("{ at_least = \"48h\", up_to = \"72h\" }", Mode::Random, 200);
    assert!(drawn.iter().all(|l| (48 * H..=72 * H).contains(l)), "{drawn:?}");
    let (lo, hi) = (drawn.iter().min().unwrap(), drawn.iter().max().unwrap());
    assert!(*lo < 50 * H && *hi > 70 * H, "spread over the range: {lo} .. {hi}");
    let bad = Scenario::parse(&plan_text("{ at_least = \"72h\", up_to = \"48h\" }"), "plan.toml").unwrap_err();
    assert_eq!(bad.to_string(), "plan.toml:8:10: step `upgrade`: lag up_to (2d) is shorter than at_least (3d)");
}

/// A resource with working hours: a step that needs it starts only within
/// them (and runs on past closing); one ready after closing is held to the
/// next morning. `available` needs the calendar, and says what it expects.
#[test]
fn working_hours_hold_a_step_to_the_next_opening() {
    let text = r#"
[scenario]
name = "hours"
downtime_begins_at = "2027-03-05T18:00:00"
time_zone = "Europe/Berlin"
[[resource]]
id = "dba"
available = "08:00-20:00"
[[step]]
id = "begin"
duration = "10m"
downtime = "begins"
[[step]]
id = "restore"
after = ["begin"]
duration = "3h"
needs = ["dba"]
[[step]]
id = "check"
after = ["restore"]
duration = "1h"
needs = ["dba"]
[[step]]
id = "end"
after = ["check"]
duration = "5m"
downtime = "ends"
"#;
    let sc = parse(text);
    let (summary, sink) = simulate(text, &sc, 1, Mode::Median);
    assert_eq!(spans(&sc, &sink, "restore"), [(10 * M, 10 * M + 3 * H)], "18:10, past 20:00 once started");
    assert_eq!(spans(&sc, &sink, "check"), [(14 * H, 15 * H)], "ready 21:10: Saturday 08:00");
    let held: Vec<u64> =
        sink.records.iter().filter(|r| matches!(r.event, Event::StepHeld { .. })).map(|r| r.at.as_ms()).collect();
    assert_eq!(held, [10 * M + 3 * H]);
    assert_eq!(summary.end.as_ms(), 15 * H + 5 * M);

    let check = |body: &str, want: &str| {
        let err = Scenario::parse(&format!("[scenario]\nname = \"t\"\n{body}"), "plan.toml").unwrap_err().to_string();
        assert_eq!(err, want);
    };
    check(
        "[[resource]]\nid = \"dba\"\navailable = \"08:00-20:00\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
        "plan.toml:5:13: resource `dba`: available gives working hours on the plan's calendar, which needs [scenario] downtime_begins_at (and time_zone)",
    );
    check(
        "downtime_begins_at = \"2027-03-05T18:00:00+01:00\"\n[[resource]]\nid = \"dba\"\navailable = \"8-20\"\n\
         [[step]]\nid = \"a\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"b\"\nafter = [\"a\"]\nduration = \"1h\"\ndowntime = \"ends\"\n",
        "plan.toml:6:13: resource `dba`: available = \"8-20\" is not \"HH:MM-HH:MM\" with times from 00:00 to 24:00, like \"08:00-20:00\"",
    );
}

/// The fold holds the engine to capacities: the capacity-1 plan's own run
/// breaks no invariant, while the capacity-2 plan's run (both steps at
/// once), folded against the capacity-1 plan, is caught.
#[test]
fn the_fold_catches_a_resource_past_its_capacity() {
    let one = parse(&two_for_one_dba(1));
    let (_, own) = simulate(&two_for_one_dba(1), &one, 1, Mode::Median);
    assert!(rehearse_core::RunState::replay(&one, &own.records).violations().is_empty());
    let two = parse(&two_for_one_dba(2));
    let (_, both) = simulate(&two_for_one_dba(2), &two, 1, Mode::Median);
    let state = rehearse_core::RunState::replay(&one, &both.records);
    let said: Vec<String> = state.violations().iter().map(|v| v.to_string()).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].ends_with("step `toolkit` started while `dba` was already at its capacity"), "{said:?}");
}
