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
use crate::script;
use crate::sink::MemorySink;
use crate::store::JsonlWriter;

/// What to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    pub runs: u64,
    /// Run `k` uses seed `seed + k`: `rehearse run --seed` reproduces it.
    pub seed: u64,
    pub swarm: bool,
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
    /// The first failing run, if any (the check stops there).
    pub failure: Option<Failure>,
}

/// Runs the check. `progress` is told how many runs are done.
pub fn check(plan: &Plan<'_>, opts: &CheckOptions, progress: &mut dyn FnMut(u64)) -> CheckReport {
    let sc = plan.scenario();
    let mut sim = Simulator::new(plan);
    let mut report = CheckReport {
        runs: 0,
        outcomes: BTreeMap::new(),
        successes: 0,
        back_in_window: 0,
        faults_injected: 0,
        runs_with_faults: 0,
        determinism_checked: 0,
        possible: possible_paths(sc),
        reached: BTreeSet::new(),
        failure: None,
    };
    let mode = if opts.swarm { FaultMode::Swarm } else { FaultMode::Probabilistic };
    let mut memory = MemorySink::new();
    for k in 0..opts.runs {
        let seed = opts.seed.wrapping_add(k);
        let run_opts = RunOptions { seed, run: 0, mode: Mode::Random, faults: mode.clone(), limits: opts.limits };
        memory.records.clear();
        let result = sim.run(&run_opts, &mut memory);
        report.runs += 1;
        let problem = match &result {
            Err(e) => Some(Problem::Liveness(e.to_string())),
            Ok(summary) => {
                *report.outcomes.entry(summary.outcome).or_default() += 1;
                let inside = !summary.downtime_open && sc.meta.window.is_none_or(|w| summary.downtime <= w);
                report.successes += u64::from(inside && summary.outcome == Outcome::Committed);
                report.back_in_window += u64::from(inside && summary.outcome == Outcome::RolledBack);
                report.faults_injected += summary.injected.len() as u64;
                report.runs_with_faults += u64::from(!summary.injected.is_empty());
                report.reached.extend(summary.recoveries.iter().copied());
                let state = RunState::replay(sc, &memory.records);
                match state.violations().first() {
                    Some(v) => Some(Problem::Violation(v.clone())),
                    None if opts.determinism_every > 0 && k % opts.determinism_every == 0 => {
                        report.determinism_checked += 1;
                        let first = stream_hash(&mut sim, &run_opts, sc);
                        let second = stream_hash(&mut Simulator::new(plan), &run_opts, sc);
                        (first != second).then_some(Problem::Nondeterminism { first, second })
                    }
                    None => None,
                }
            }
        };
        if k % 256 == 0 {
            progress(k);
        }
        if let Some(problem) = problem {
            let schedule = match &result {
                Ok(s) => s.injected.clone(),
                Err(_) => injected_in(&memory.records),
            };
            let events = around(&memory.records, &problem);
            let (shrunk, shrunk_problem) = shrink(&mut sim, seed, &schedule, opts.limits, sc, problem.clone());
            tracing::debug!(seed, from = schedule.len(), to = shrunk.len(), "shrunk the failing schedule");
            report.failure = Some(Failure { seed, problem, events, schedule, shrunk, shrunk_problem });
            break;
        }
    }
    progress(report.runs);
    report
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
    seed: u64,
    schedule: &[Injection],
    limits: Limits,
    sc: &Scenario,
) -> Option<Problem> {
    let opts = RunOptions { seed, run: 0, mode: Mode::Random, faults: FaultMode::Scripted(schedule.to_vec()), limits };
    let mut memory = MemorySink::new();
    match sim.run(&opts, &mut memory) {
        Err(e) => Some(Problem::Liveness(e.to_string())),
        Ok(_) => RunState::replay(sc, &memory.records).violations().first().cloned().map(Problem::Violation),
    }
}

/// Delta debugging (ddmin) over the list of injected faults: the smallest
/// schedule (1-minimal) with which the run still fails.
fn shrink(
    sim: &mut Simulator<'_, '_>,
    seed: u64,
    schedule: &[Injection],
    limits: Limits,
    sc: &Scenario,
    problem: Problem,
) -> (Vec<Injection>, Problem) {
    if let Problem::Nondeterminism { .. } = problem {
        return (schedule.to_vec(), problem);
    }
    let mut fails = |s: &[Injection]| replay(sim, seed, s, limits, sc);
    if let Some(p) = fails(&[]) {
        return (Vec::new(), p);
    }
    let mut current = schedule.to_vec();
    let mut current_problem = match fails(&current) {
        Some(p) => p,
        // The scripted replay must fail as the original did; if it does not,
        // keep the original schedule and problem (and say so by not shrinking).
        None => return (current, problem),
    };
    tracing::debug!(seed, faults = current.len(), "shrinking the failing schedule");
    let mut n = 2usize;
    while current.len() >= 2 {
        tracing::debug!(faults = current.len(), parts = n, "shrink: trying parts and complements");
        let chunk = current.len().div_ceil(n);
        let parts: Vec<Vec<Injection>> = current.chunks(chunk).map(<[Injection]>::to_vec).collect();
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
                let complement: Vec<Injection> =
                    parts.iter().enumerate().filter(|(j, _)| *j != skip).flat_map(|(_, p)| p.iter().copied()).collect();
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
    (current, current_problem)
}

/// Every (fault, step, action) a plan can reach, as the engine's recovery
/// resolver decides them (see [`crate::engine::possible`]).
pub fn possible_paths(sc: &Scenario) -> BTreeSet<(FaultIdx, StepIdx, Action)> {
    crate::engine::possible(sc).into_iter().map(|p| (p.fault, p.step, p.action)).collect()
}

/// The command that reproduces a run with a fault schedule, under the
/// limits the check ran it with (`run`'s own are looser: a run that broke
/// check's limit would pass under them).
pub fn repro_command(scenario_path: &str, seed: u64, schedule: &[Injection], sc: &Scenario, limits: Limits) -> String {
    let mut cmd = format!(
        "rehearse run {scenario_path} --seed {seed} --max-time {} --max-events {}",
        duration_arg(limits.max_time.as_ms()),
        limits.max_events
    );
    if schedule.is_empty() {
        cmd.push_str(" --no-faults");
    }
    for inj in schedule {
        cmd.push_str(" --fault ");
        cmd.push_str(&script::format_injection(inj, sc));
    }
    cmd
}

/// A duration as `run --max-time` reads it, exactly: whole days, hours,
/// minutes or seconds where it is one, else milliseconds.
fn duration_arg(ms: u64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms > 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use rehearse_core::time::SimDuration;

    use super::duration_arg;

    /// The limits printed in a reproduce command read back as the same
    /// durations, to the millisecond.
    #[test]
    fn printed_limits_read_back_exactly() {
        for ms in [1, 999, 1_000, 61_000, 3_600_000, 5_400_000, 86_400_000, 60 * 86_400_000, 86_400_001] {
            let text = duration_arg(ms);
            assert_eq!(SimDuration::parse(&text).map(|d| d.as_ms()), Ok(ms), "{text}");
        }
        assert_eq!(duration_arg(60 * 86_400_000), "60d");
        assert_eq!(duration_arg(5_400_000), "90m");
    }
}
