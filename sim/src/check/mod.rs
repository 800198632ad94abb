//! The recovery-logic testbed: many seeds, faults switched on and off at
//! random (swarm testing), every invariant checked on every event, a share
//! of runs executed twice to catch nondeterminism, coverage of the
//! (fault, step, recovery) paths, and, on a failure, the fault schedule
//! shrunk by delta debugging to the smallest one that still fails.

use std::collections::{BTreeMap, BTreeSet};

use rehearse_core::event::{EventRecord, Mode, Outcome};
use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::{Scenario, StepIdx};
use rehearse_core::state::{RunState, Violation};

use crate::engine::{FaultMode, Injection, Limits, Plan, RunOptions, Simulator};
use crate::sink::MemorySink;
use crate::store::JsonlWriter;

mod capsule;
mod parts;

pub use capsule::{CAPSULE_FORMAT, Replayed, capsule, capsule_name, replay_capsule, repro_command};
pub use parts::{merge, options_from, options_json, write_part};

/// What to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    pub runs: u64,
    /// Run `k` uses seed `seed + k`: `rehearse run --seed` reproduces it.
    pub seed: u64,
    pub swarm: bool,
    /// Liveness mode: faults persist on some steps past a point of the
    /// run and stop elsewhere; every run must end within the plan's bound.
    pub liveness: bool,
    /// Every this many runs, one is executed twice and the streams compared:
    /// on the simulator that ran the runs before it, and on a fresh one, so
    /// that anything a reused buffer carries over from run to run shows.
    pub determinism_every: u64,
    pub limits: Limits,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            runs: 1_000,
            seed: 0,
            swarm: false,
            liveness: false,
            determinism_every: 10,
            limits: Limits { max_events: 1_000_000, max_time: rehearse_core::SimDuration::from_days(60) },
        }
    }
}

/// Why a run failed the check.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// A safety invariant broke.
    Violation(Violation),
    /// The run did not end within its bounds (liveness).
    Liveness(String),
    /// The same run gave two different streams.
    Nondeterminism { first: String, second: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Violation(v) => write!(f, "invariant violated: {v}"),
            Problem::Liveness(e) => write!(f, "liveness: {e}"),
            Problem::Nondeterminism { first, second } => {
                write!(f, "nondeterminism: the same run gave streams {first} and {second}")
            }
        }
    }
}

/// A failing run, and the smallest fault schedule that still fails.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub seed: u64,
    pub problem: Problem,
    /// The events around the problem (a few before and after).
    pub events: Vec<EventRecord>,
    pub schedule: Vec<Injection>,
    pub shrunk: Vec<Injection>,
    /// The problem the shrunk schedule gives.
    pub shrunk_problem: Problem,
}

/// One distinct failure: its fingerprint, how many runs failed that way,
/// and the first of them (the lowest run index), shrunk.
#[derive(Clone, Debug, PartialEq)]
pub struct Distinct {
    pub fingerprint: String,
    pub runs: u64,
    /// The first failing run's index (its seed is the check's seed plus
    /// it).
    pub first_run: u64,
    pub failure: Failure,
}

/// What a check found.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    pub runs: u64,
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Runs that committed inside the plan's window (all committed runs
    /// when it has none): the go-live succeeded.
    pub successes: u64,
    /// Rolled-back runs whose outage ended inside the window.
    pub back_in_window: u64,
    pub faults_injected: u64,
    pub runs_with_faults: u64,
    pub determinism_checked: u64,
    /// Every (fault, step, action) path the plan can take.
    pub possible: BTreeSet<(FaultIdx, StepIdx, Action)>,
    pub reached: BTreeSet<(FaultIdx, StepIdx, Action)>,
    /// Runs that failed, whatever the failure.
    pub failing_runs: u64,
    /// The distinct failures, by fingerprint, in the order first met
    /// (run index): the first is the first failing run's.
    pub failures: Vec<Distinct>,
}

impl CheckReport {
    /// The first failing run's failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        self.failures.first().map(|d| &d.failure)
    }

    fn empty(sc: &Scenario) -> CheckReport {
        CheckReport {
            runs: 0,
            outcomes: BTreeMap::new(),
            successes: 0,
            back_in_window: 0,
            faults_injected: 0,
            runs_with_faults: 0,
            determinism_checked: 0,
            possible: possible_paths(sc),
            reached: BTreeSet::new(),
            failing_runs: 0,
            failures: Vec::new(),
        }
    }
}

/// Runs the check over every run. `progress` is told how many runs are
/// done.
pub fn check(plan: &Plan<'_>, opts: &CheckOptions, progress: &mut dyn FnMut(u64)) -> CheckReport {
    check_runs(plan, opts, 0..opts.runs, progress)
}

/// Runs the check over the runs `range` (a shard's): run `k` is seed
/// `seed + k` whichever shard runs it. Every failing run is shrunk and
/// fingerprinted, so that the fingerprint is the run's own, whatever else
/// ran beside it.
pub fn check_runs(
    plan: &Plan<'_>,
    opts: &CheckOptions,
    range: std::ops::Range<u64>,
    progress: &mut dyn FnMut(u64),
) -> CheckReport {
    let sc = plan.scenario();
    let mut sim = Simulator::new(plan);
    let mut report = CheckReport::empty(sc);
    let mut memory = MemorySink::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for k in range.clone() {
        let failure = examine(&mut sim, plan, opts, k, &mut memory, Some(&mut report));
        if (k - range.start).is_multiple_of(256) {
            progress(k - range.start);
        }
        if let Some((fingerprint, failure)) = failure {
            report.failing_runs += 1;
            match seen.get(&fingerprint) {
                Some(at) => report.failures[*at].runs += 1,
                None => {
                    seen.insert(fingerprint.clone(), report.failures.len());
                    report.failures.push(Distinct { fingerprint, runs: 1, first_run: k, failure });
                }
            }
        }
    }
    progress(report.runs);
    report
}

/// The run's options: run `k` of the check is seed `seed + k`, run 0.
fn run_options(opts: &CheckOptions, k: u64) -> RunOptions {
    let mode = if opts.swarm { FaultMode::Swarm } else { FaultMode::Probabilistic };
    RunOptions { seed: opts.seed.wrapping_add(k), run: 0, mode: Mode::Random, faults: mode, limits: opts.limits }
}

/// Runs run `k`, counts it into `report` when given, and returns its
/// failure, shrunk and fingerprinted, if it fails.
fn examine(
    sim: &mut Simulator<'_, '_>,
    plan: &Plan<'_>,
    opts: &CheckOptions,
    k: u64,
    memory: &mut MemorySink,
    report: Option<&mut CheckReport>,
) -> Option<(String, Failure)> {
    let sc = plan.scenario();
    let run_opts = if opts.liveness { liveness_options(sim, plan, opts, k) } else { run_options(opts, k) };
    let seed = run_opts.seed;
    memory.records.clear();
    let result = sim.run(&run_opts, memory);
    let mut determinism_checked = false;
    let problem = match &result {
        Err(e) => Some(Problem::Liveness(e.to_string())),
        Ok(summary) => match RunState::replay(sc, &memory.records).violations().first() {
            Some(v) => Some(Problem::Violation(v.clone())),
            None if opts.determinism_every > 0 && k.is_multiple_of(opts.determinism_every) => {
                determinism_checked = true;
                let first = stream_hash(sim, &run_opts, sc);
                let second = stream_hash(&mut Simulator::new(plan), &run_opts, sc);
                (first != second).then_some(Problem::Nondeterminism { first, second })
            }
            None => None,
        }
        .or_else(|| liveness_problem(plan, opts, summary)),
    };
    if let Some(report) = report {
        report.runs += 1;
        report.determinism_checked += u64::from(determinism_checked);
        if let Ok(summary) = &result {
            *report.outcomes.entry(summary.outcome).or_default() += 1;
            let inside = !summary.downtime_open && sc.meta.window.is_none_or(|w| summary.downtime <= w);
            report.successes += u64::from(inside && summary.outcome == Outcome::Committed);
            report.back_in_window += u64::from(inside && summary.outcome == Outcome::RolledBack);
            report.faults_injected += summary.injected.len() as u64;
            report.runs_with_faults += u64::from(!summary.injected.is_empty());
            report.reached.extend(summary.recoveries.iter().copied());
        }
    }
    let problem = problem?;
    let schedule = match &result {
        Ok(s) => s.injected.clone(),
        Err(_) => injected_in(&memory.records),
    };
    let events = around(&memory.records, &problem);
    let (shrunk, shrunk_problem) = shrink(sim, plan, opts, seed, &schedule, problem.clone());
    tracing::debug!(seed, from = schedule.len(), to = shrunk.len(), "shrunk the failing schedule");
    let fingerprint = fingerprint(sim, plan, opts, seed, &shrunk, &shrunk_problem);
    Some((fingerprint, Failure { seed, problem, events, schedule, shrunk, shrunk_problem }))
}

/// Run `k`'s failure again, as [`check_runs`] found it (a merge's
/// reproducer for a fingerprint a shard counted): `None` if it does not
/// fail.
pub fn investigate(plan: &Plan<'_>, opts: &CheckOptions, k: u64) -> Option<(String, Failure)> {
    examine(&mut Simulator::new(plan), plan, opts, k, &mut MemorySink::new(), None)
}

/// A failure's fingerprint, the same for every run that fails the same
/// way whatever its seed: the invariant broken, the step it broke at, and
/// the recovery path that led there (each recovery chosen, as step and
/// action, in order), all read from the shrunk schedule's run.
fn fingerprint(
    sim: &mut Simulator<'_, '_>,
    plan: &Plan<'_>,
    opts: &CheckOptions,
    seed: u64,
    shrunk: &[Injection],
    problem: &Problem,
) -> String {
    let sc = plan.scenario();
    let records = scripted_records(sim, opts, seed, shrunk);
    let (invariant, at) = match problem {
        Problem::Violation(v) => {
            let name = format!("{:?}", v.kind);
            let name = name.split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_string();
            let upto = records.len().min(v.seq as usize + 1);
            (name, records[..upto].iter().rev().find(|r| r.event.step().is_some()))
        }
        Problem::Liveness(e) => {
            // The bound that broke, and the step whose recovery went round.
            let bound = if e.contains("simulated time") {
                "time"
            } else if e.contains("events") {
                "events"
            } else {
                "attempts"
            };
            let looping = records.iter().rev().find(|r| matches!(r.event, rehearse_core::Event::RecoveryChosen { .. }));
            (format!("liveness ({bound})"), looping.or_else(|| records.iter().rev().find(|r| r.event.step().is_some())))
        }
        Problem::Nondeterminism { .. } => ("nondeterminism".to_string(), None),
    };
    let step = at.and_then(|r| r.event.step()).map_or("-".to_string(), |s| sc.step(*s).id.clone());
    let path: Vec<String> = records
        .iter()
        .filter_map(|r| match r.event {
            rehearse_core::Event::RecoveryChosen { step, action, .. } => {
                Some(format!("{}:{}", sc.step(step).id, action.name()))
            }
            _ => None,
        })
        .collect();
    let mut collapsed: Vec<(String, usize)> = Vec::new();
    for p in path {
        match collapsed.last_mut() {
            Some((last, n)) if *last == p => *n += 1,
            _ => collapsed.push((p, 1)),
        }
    }
    // A loop is one path whatever its length: repeats past three are
    // "many".
    let path: Vec<String> = collapsed
        .into_iter()
        .map(|(p, n)| match n {
            1 => p,
            2 | 3 => format!("{p} x{n}"),
            _ => format!("{p} x many"),
        })
        .collect();
    format!(
        "{invariant} at {step} after {}",
        if path.is_empty() { "no recovery".to_string() } else { path.join(" > ") }
    )
}

/// The events of `seed` run with exactly `schedule` (up to where it
/// stopped, if it did not end).
/// Run 0 of `seed` with exactly the faults of `schedule`, within the
/// check's limits.
fn scripted(opts: &CheckOptions, seed: u64, schedule: &[Injection]) -> RunOptions {
    RunOptions { seed, run: 0, mode: Mode::Random, faults: FaultMode::Scripted(schedule.to_vec()), limits: opts.limits }
}

fn scripted_records(
    sim: &mut Simulator<'_, '_>,
    opts: &CheckOptions,
    seed: u64,
    schedule: &[Injection],
) -> Vec<EventRecord> {
    let mut memory = MemorySink::new();
    let _ = sim.run(&scripted(opts, seed, schedule), &mut memory);
    memory.records
}

/// A liveness run's faults: run `k` as it would run, then a fault site
/// chosen by the seed (one of the plan's (fault, step) pairs) made
/// persistent from the first attempt of its step that the run's own
/// faults spared (it strikes that attempt and every later one, past any
/// budget the plan has), while the faults elsewhere stop: the other steps
/// keep only the strikes the run had on their attempts. As a script, so that the run, its shrinking and
/// its reproducer all replay it exactly.
fn liveness_options(sim: &mut Simulator<'_, '_>, plan: &Plan<'_>, opts: &CheckOptions, k: u64) -> RunOptions {
    let sc = plan.scenario();
    let mut base = run_options(opts, k);
    let sites: Vec<(FaultIdx, StepIdx)> = sc
        .faults
        .iter()
        .enumerate()
        .flat_map(|(f, fault)| fault.steps.iter().map(move |s| (FaultIdx(f as u32), *s)))
        .collect();
    if sites.is_empty() {
        return base;
    }
    let Ok(summary) = sim.run(&base, &mut crate::sink::NullSink) else { return base };
    let draw = rehearse_core::mix::mix(base.seed ^ 0x6c69_7665_6e65_7373); // "liveness"
    let (fault, step) = sites[(draw % sites.len() as u64) as usize];
    // The point: the chosen step's first attempt that the run's own faults
    // spared. Its strikes before stay, any fault.
    let mut from = 1u64;
    while summary.injected.iter().any(|i| i.step == step && u64::from(i.attempt) == from) {
        from += 1;
    }
    let mut schedule: Vec<Injection> =
        summary.injected.iter().copied().filter(|i| i.step != step || u64::from(i.attempt) < from).collect();
    let last = from + u64::from(attempt_bound(sc));
    schedule.extend((from..=last).map(|a| Injection { fault, step, attempt: a as u32 }));
    base.faults = FaultMode::Scripted(schedule);
    base
}

/// The most attempts the plan's recovery budgets give one step between
/// two resets: every policy's `max_attempts` spent in one chain, and one
/// more.
fn attempt_bound(sc: &Scenario) -> u32 {
    2 + sc.policies.iter().map(|p| p.max_attempts).sum::<u32>()
}

/// What the liveness mode asks beyond ending within the run's limits: no
/// step started more often than the budgets allow, counting the resets of
/// reruns (each rerun spends a budget of the step that asked for it).
fn liveness_problem(plan: &Plan<'_>, opts: &CheckOptions, summary: &crate::RunSummary) -> Option<Problem> {
    if !opts.liveness {
        return None;
    }
    let sc = plan.scenario();
    let per_step = u64::from(attempt_bound(sc));
    let bound = per_step * (1 + per_step * sc.steps.len() as u64);
    summary.attempts.iter().enumerate().find(|(_, a)| u64::from(**a) > bound).map(|(i, a)| {
        Problem::Liveness(format!(
            "step `{}` started {a} times, more than the {bound} the plan's recovery budgets allow",
            sc.steps[i].id
        ))
    })
}

/// The JSONL stream's hash for one run (errors hash as their message).
fn stream_hash(sim: &mut Simulator<'_, '_>, opts: &RunOptions, sc: &Scenario) -> String {
    let mut w = JsonlWriter::new(std::io::sink(), sc);
    match sim.run(opts, &mut w) {
        Ok(_) => w.hash(),
        Err(e) => format!("error: {e}"),
    }
}

/// The faults that struck, from a (possibly unfinished) stream.
fn injected_in(records: &[EventRecord]) -> Vec<Injection> {
    records
        .iter()
        .filter_map(|r| match r.event {
            rehearse_core::Event::FaultInjected { fault, step, attempt } => Some(Injection { fault, step, attempt }),
            _ => None,
        })
        .collect()
}

/// Up to 6 events before the problem and 3 after it.
fn around(records: &[EventRecord], problem: &Problem) -> Vec<EventRecord> {
    let at = match problem {
        Problem::Violation(v) => v.seq as usize,
        _ => records.len().saturating_sub(1),
    };
    let from = at.saturating_sub(6);
    let to = (at + 4).min(records.len());
    records[from..to].to_vec()
}

/// Runs `seed` with exactly `schedule` and says what, if anything, fails.
fn replay(
    sim: &mut Simulator<'_, '_>,
    plan: &Plan<'_>,
    opts: &CheckOptions,
    seed: u64,
    schedule: &[Injection],
) -> Option<Problem> {
    let sc = plan.scenario();
    let mut memory = MemorySink::new();
    match sim.run(&scripted(opts, seed, schedule), &mut memory) {
        Err(e) => Some(Problem::Liveness(e.to_string())),
        Ok(summary) => RunState::replay(sc, &memory.records)
            .violations()
            .first()
            .cloned()
            .map(Problem::Violation)
            .or_else(|| liveness_problem(plan, opts, &summary)),
    }
}

/// Delta debugging (ddmin) over the list of injected faults: the smallest
/// schedule (1-minimal) with which the run still fails.
fn shrink(
    sim: &mut Simulator<'_, '_>,
    plan: &Plan<'_>,
    opts: &CheckOptions,
    seed: u64,
    schedule: &[Injection],
    problem: Problem,
) -> (Vec<Injection>, Problem) {
    if let Problem::Nondeterminism { .. } = problem {
        return (schedule.to_vec(), problem);
    }
    let mut fails = |units: &[Vec<Injection>]| replay(sim, plan, opts, seed, &units.concat());
    if let Some(p) = fails(&[]) {
        return (Vec::new(), p);
    }
    let mut current = units(schedule, opts.liveness);
    let mut current_problem = match fails(&current) {
        Some(p) => p,
        // The scripted replay must fail as the original did; if it does not,
        // keep the original schedule and problem (and say so by not shrinking).
        None => return (schedule.to_vec(), problem),
    };
    tracing::debug!(seed, faults = schedule.len(), units = current.len(), "shrinking the failing schedule");
    let mut n = 2usize;
    while current.len() >= 2 {
        tracing::debug!(units = current.len(), parts = n, "shrink: trying parts and complements");
        let chunk = current.len().div_ceil(n);
        let parts: Vec<Vec<Vec<Injection>>> = current.chunks(chunk).map(<[Vec<Injection>]>::to_vec).collect();
        let mut progressed = false;
        for part in &parts {
            if let Some(p) = fails(part) {
                current = part.clone();
                current_problem = p;
                n = 2;
                progressed = true;
                break;
            }
        }
        if !progressed && parts.len() > 2 {
            for skip in 0..parts.len() {
                let complement: Vec<Vec<Injection>> =
                    parts.iter().enumerate().filter(|(j, _)| *j != skip).flat_map(|(_, p)| p.iter().cloned()).collect();
                if let Some(p) = fails(&complement) {
                    current = complement;
                    current_problem = p;
                    n = (n - 1).max(2);
                    progressed = true;
                    break;
                }
            }
        }
        if !progressed {
            if n >= current.len() {
                break;
            }
            n = (2 * n).min(current.len());
        }
    }
    (current.concat(), current_problem)
}

/// What delta debugging removes or keeps whole: each strike, or, for a
/// liveness run, a persistent fault (three or more consecutive attempts
/// of one fault on one step) as one.
fn units(schedule: &[Injection], liveness: bool) -> Vec<Vec<Injection>> {
    let mut out: Vec<Vec<Injection>> = Vec::new();
    let mut k = 0;
    while k < schedule.len() {
        let mut j = k;
        while liveness
            && j + 1 < schedule.len()
            && (schedule[j + 1].fault, schedule[j + 1].step) == (schedule[k].fault, schedule[k].step)
            && schedule[j + 1].attempt == schedule[j].attempt + 1
        {
            j += 1;
        }
        if j - k >= 2 {
            out.push(schedule[k..=j].to_vec());
        } else {
            j = k;
            out.push(vec![schedule[k]]);
        }
        k = j + 1;
    }
    out
}

/// Every (fault, step, action) a plan can reach, as the engine's recovery
/// resolver decides them (see [`crate::engine::possible`]).
pub fn possible_paths(sc: &Scenario) -> BTreeSet<(FaultIdx, StepIdx, Action)> {
    crate::engine::possible(sc).into_iter().map(|p| (p.fault, p.step, p.action)).collect()
}
