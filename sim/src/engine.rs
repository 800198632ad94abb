//! The discrete-event engine: an agenda ordered by (time, insertion
//! sequence), a virtual clock, and one random stream per step.
//!
//! Ordering contract: the agenda pops the entry with the smallest time; among
//! entries at the same time, the one inserted first. Nothing else (no hash
//! order, no thread, no wall clock) can change the order of events.
//!
//! A step may start once every dependency allows it (finish-to-start or
//! start-to-start, each with its lag) and, for a sub-step, once its parent
//! has started. A leaf step then runs for a drawn duration; a step with
//! sub-steps ends `finish_lag` after its last sub-step ends. The run ends when
//! every top-level step has ended.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rehearse_core::event::{Event, EventRecord, Mode, Outcome, SCHEMA_VERSION, ScenarioDigest};
use rehearse_core::scenario::{Anchor, DowntimeMark, Scenario, StepDuration, StepIdx, Work};
use rehearse_core::time::{SimDuration, SimTime};

use crate::SimError;
use crate::rng::{self, Purpose};
use crate::sink::EventSink;
use crate::summary::{RunSummary, StepTiming};

/// Bounds on a run: a loop that cannot end is a bug the simulator reports,
/// never a hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_events: u64,
    pub max_time: SimDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 10_000_000,
            max_time: SimDuration::from_days(365),
        }
    }
}

/// What to run: the run's identity and its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub seed: u64,
    /// Index of the run within a batch (0 for a single run).
    pub run: u64,
    pub mode: Mode,
    pub limits: Limits,
}

impl RunOptions {
    pub fn new(seed: u64, mode: Mode) -> Self {
        RunOptions {
            seed,
            run: 0,
            mode,
            limits: Limits::default(),
        }
    }
}

/// "No cause": the step was ready when the run started.
const NONE: u32 = u32::MAX;

fn start_node(i: usize) -> u32 {
    (2 * i) as u32
}
fn end_node(i: usize) -> u32 {
    (2 * i + 1) as u32
}

/// A scenario compiled for fast, repeated runs: flat arrays, successor lists
/// in compressed form, stream keys and medians computed once.
#[derive(Debug)]
pub struct Plan<'s> {
    scenario: &'s Scenario,
    digest: ScenarioDigest,
    keys: Vec<u64>,
    medians: Vec<SimDuration>,
    /// Dependencies to satisfy before a step may start (its `after` entries
    /// plus one for its parent's start).
    n_waits: Vec<u32>,
    /// Steps notified when a step starts / ends: (target, lag ms), in
    /// compressed sparse rows.
    on_start: Csr,
    on_end: Csr,
    n_roots: u32,
}

#[derive(Debug, Default)]
struct Csr {
    offsets: Vec<u32>,
    edges: Vec<(u32, u64)>,
}

impl Csr {
    fn build(n: usize, mut pairs: Vec<(usize, u32, u64)>) -> Csr {
        // Stable by source, keeping file order among a source's targets.
        pairs.sort_by_key(|p| p.0);
        let mut offsets = vec![0u32; n + 1];
        for p in &pairs {
            offsets[p.0 + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Csr {
            offsets,
            edges: pairs.into_iter().map(|p| (p.1, p.2)).collect(),
        }
    }
    fn of(&self, i: usize) -> &[(u32, u64)] {
        &self.edges[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

impl<'s> Plan<'s> {
    /// Compiles a validated scenario. `digest` identifies its text (see
    /// [`crate::digest`]).
    pub fn new(scenario: &'s Scenario, digest: ScenarioDigest) -> Plan<'s> {
        let n = scenario.steps.len();
        let mut n_waits = vec![0u32; n];
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        for (i, s) in scenario.steps.iter().enumerate() {
            if let Some(p) = s.parent {
                n_waits[i] += 1;
                starts.push((p.index(), i as u32, 0));
            }
            for d in &s.after {
                n_waits[i] += 1;
                let edge = (d.step.index(), i as u32, d.lag.as_ms());
                match d.anchor {
                    Anchor::Start => starts.push(edge),
                    Anchor::Finish => ends.push(edge),
                }
            }
        }
        let medians = scenario
            .steps
            .iter()
            .map(|s| match &s.work {
                Work::Leaf(d) => d.median(),
                Work::Group { .. } => SimDuration::ZERO,
            })
            .collect();
        Plan {
            scenario,
            digest,
            keys: scenario.steps.iter().map(|s| rng::key_of(&s.id)).collect(),
            medians,
            n_waits,
            on_start: Csr::build(n, starts),
            on_end: Csr::build(n, ends),
            n_roots: scenario.roots.len() as u32,
        }
    }

    pub fn scenario(&self) -> &'s Scenario {
        self.scenario
    }

    pub fn digest(&self) -> ScenarioDigest {
        self.digest
    }
}

/// Runs a plan, reusing its buffers from one run to the next.
#[derive(Debug)]
pub struct Simulator<'p, 's> {
    plan: &'p Plan<'s>,
    agenda: BinaryHeap<Reverse<(u64, u64, u32)>>,
    inserted: u64,
    waits: Vec<u32>,
    ready_at: Vec<u64>,
    start_cause: Vec<u32>,
    end_cause: Vec<u32>,
    last_child_end: Vec<u64>,
    children_left: Vec<u32>,
    attempt: Vec<u32>,
    starts: Vec<u64>,
    ends: Vec<u64>,
}

/// Agenda actions: `step << 1 | 0` starts a step, `step << 1 | 1` ends it.
fn act_start(i: usize) -> u32 {
    (i as u32) << 1
}
fn act_end(i: usize) -> u32 {
    ((i as u32) << 1) | 1
}

impl<'p, 's> Simulator<'p, 's> {
    pub fn new(plan: &'p Plan<'s>) -> Self {
        let n = plan.scenario.steps.len();
        Simulator {
            plan,
            agenda: BinaryHeap::with_capacity(n),
            inserted: 0,
            waits: vec![0; n],
            ready_at: vec![0; n],
            start_cause: vec![NONE; n],
            end_cause: vec![NONE; n],
            last_child_end: vec![0; n],
            children_left: vec![0; n],
            attempt: vec![0; n],
            starts: vec![0; n],
            ends: vec![0; n],
        }
    }

    fn schedule(&mut self, at: u64, action: u32) {
        self.agenda.push(Reverse((at, self.inserted, action)));
        self.inserted += 1;
    }

    /// Runs once, sending every event to `sink`.
    ///
    /// # Errors
    /// [`SimError::EventLimit`] or [`SimError::TimeLimit`] when the run
    /// exceeds its limits, [`SimError::Sink`] when the sink fails, and
    /// [`SimError::Stalled`] if steps are left that can never start (which
    /// validation rules out; reported rather than looped on).
    pub fn run(
        &mut self,
        opts: &RunOptions,
        sink: &mut dyn EventSink,
    ) -> Result<RunSummary, SimError> {
        let plan = self.plan;
        let steps = &plan.scenario.steps;
        let n = steps.len();
        self.agenda.clear();
        self.inserted = 0;
        self.waits.copy_from_slice(&plan.n_waits);
        self.ready_at.fill(0);
        self.start_cause.fill(NONE);
        self.end_cause.fill(NONE);
        self.last_child_end.fill(0);
        self.attempt.fill(0);
        for (i, s) in steps.iter().enumerate() {
            self.children_left[i] = s.children.len() as u32;
        }
        let mut out = Emitter {
            sink,
            seq: 0,
            max_events: opts.limits.max_events,
        };
        let mut downtime_depth = 0u32;
        let mut downtime_since = 0u64;
        let mut downtime_intervals: Vec<(SimTime, SimTime)> = Vec::new();
        let mut roots_left = plan.n_roots;
        let mut finished_by: u32 = NONE;
        let mut now = 0u64;

        out.emit(
            0,
            Event::RunStarted {
                schema: SCHEMA_VERSION,
                scenario: plan.digest,
                seed: opts.seed,
                run: opts.run,
                mode: opts.mode,
            },
        )?;
        for i in 0..n {
            if self.waits[i] == 0 {
                self.schedule(0, act_start(i));
            }
        }

        while let Some(Reverse((at, _, action))) = self.agenda.pop() {
            if at > opts.limits.max_time.as_ms() {
                let step = steps[(action >> 1) as usize].id.clone();
                return Err(SimError::TimeLimit {
                    limit: opts.limits.max_time,
                    step,
                });
            }
            now = at;
            let i = (action >> 1) as usize;
            let step = &steps[i];
            if action & 1 == 0 {
                // Start.
                self.attempt[i] += 1;
                self.starts[i] = at;
                out.emit(
                    at,
                    Event::StepStarted {
                        step: StepIdx(i as u32),
                        attempt: self.attempt[i],
                    },
                )?;
                if step.downtime == Some(DowntimeMark::Begins) {
                    if downtime_depth == 0 {
                        downtime_since = at;
                    }
                    downtime_depth += 1;
                    out.emit(
                        at,
                        Event::DowntimeBegan {
                            step: StepIdx(i as u32),
                        },
                    )?;
                }
                for &(target, lag) in plan.on_start.of(i) {
                    self.release(target as usize, at + lag, start_node(i));
                }
                if let Work::Leaf(d) = &step.work {
                    let dur = match opts.mode {
                        Mode::Median => plan.medians[i],
                        Mode::Random => draw(d, opts, plan.keys[i]),
                    };
                    self.end_cause[i] = start_node(i);
                    self.schedule(at + dur.as_ms(), act_end(i));
                }
            } else {
                // End.
                self.ends[i] = at;
                out.emit(
                    at,
                    Event::StepCompleted {
                        step: StepIdx(i as u32),
                        attempt: self.attempt[i],
                    },
                )?;
                if step.downtime == Some(DowntimeMark::Ends) {
                    downtime_depth = downtime_depth.saturating_sub(1);
                    if downtime_depth == 0 {
                        downtime_intervals.push((SimTime(downtime_since), SimTime(at)));
                    }
                    out.emit(
                        at,
                        Event::DowntimeEnded {
                            step: StepIdx(i as u32),
                        },
                    )?;
                }
                for &(target, lag) in plan.on_end.of(i) {
                    self.release(target as usize, at + lag, end_node(i));
                }
                match step.parent {
                    Some(p) => {
                        let p = p.index();
                        self.children_left[p] -= 1;
                        if at >= self.last_child_end[p] {
                            self.last_child_end[p] = at;
                            self.end_cause[p] = end_node(i);
                        }
                        if self.children_left[p] == 0 {
                            let Work::Group { finish_lag } = steps[p].work else {
                                unreachable!("a step with sub-steps is a group")
                            };
                            self.schedule(at + finish_lag.as_ms(), act_end(p));
                        }
                    }
                    None => {
                        roots_left -= 1;
                        if roots_left == 0 {
                            finished_by = end_node(i);
                        }
                    }
                }
            }
        }
        if roots_left > 0 {
            let waiting = (0..n)
                .filter(|i| self.attempt[*i] == 0)
                .map(|i| steps[i].id.clone())
                .collect::<Vec<_>>();
            return Err(SimError::Stalled { waiting });
        }
        out.emit(
            now,
            Event::RunFinished {
                outcome: Outcome::Committed,
            },
        )?;
        out.sink.finish().map_err(SimError::Sink)?;

        let timings = (0..n)
            .map(|i| StepTiming {
                start: SimTime(self.starts[i]),
                end: SimTime(self.ends[i]),
            })
            .collect();
        let downtime = SimDuration(
            downtime_intervals
                .iter()
                .map(|(a, b)| b.since(*a).as_ms())
                .sum(),
        );
        Ok(RunSummary {
            outcome: Outcome::Committed,
            seed: opts.seed,
            run: opts.run,
            mode: opts.mode,
            scenario: plan.digest,
            end: SimTime(now),
            downtime,
            downtime_intervals,
            steps: timings,
            critical_path: self.critical_path(finished_by),
            n_events: out.seq,
        })
    }

    /// One of `target`'s waits is over; it may start at `at` at the earliest.
    fn release(&mut self, target: usize, at: u64, cause: u32) {
        // Later arrivals win ties: they are what finally released the step.
        if at >= self.ready_at[target] {
            self.ready_at[target] = at;
            self.start_cause[target] = cause;
        }
        self.waits[target] -= 1;
        if self.waits[target] == 0 {
            self.schedule(self.ready_at[target], act_start(target));
        }
    }

    /// Walks back from the event that ended the run along what determined
    /// each time: the leaf steps whose durations make up the run's length,
    /// in order.
    fn critical_path(&self, mut node: u32) -> Vec<StepIdx> {
        let steps = &self.plan.scenario.steps;
        let mut path = Vec::new();
        let mut guard = 4 * steps.len() + 4;
        while node != NONE && guard > 0 {
            guard -= 1;
            let i = (node / 2) as usize;
            node = if node % 2 == 1 {
                if !steps[i].is_group() {
                    path.push(StepIdx(i as u32));
                }
                self.end_cause[i]
            } else {
                self.start_cause[i]
            };
        }
        path.reverse();
        path
    }
}

/// One duration draw from the step's own stream.
fn draw(d: &StepDuration, opts: &RunOptions, key: u64) -> SimDuration {
    let mut stream = rng::stream(opts.seed, opts.run, Purpose::StepDuration, key);
    d.sample(&mut stream)
}

/// Numbers events and enforces the event limit.
struct Emitter<'a> {
    sink: &'a mut dyn EventSink,
    seq: u64,
    max_events: u64,
}

impl Emitter<'_> {
    fn emit(&mut self, at: u64, event: Event) -> Result<(), SimError> {
        if self.seq >= self.max_events {
            return Err(SimError::EventLimit {
                limit: self.max_events,
                at: SimTime(at),
            });
        }
        self.sink
            .record(&EventRecord {
                seq: self.seq,
                at: SimTime(at),
                event,
            })
            .map_err(SimError::Sink)?;
        self.seq += 1;
        Ok(())
    }
}
