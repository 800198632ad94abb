//! The discrete-event engine: an agenda ordered by (time, insertion
//! sequence), a virtual clock, one random stream per step and purpose, faults
//! and the recoveries the plan prescribes.
//!
//! Ordering contract: the agenda pops the entry with the smallest time; among
//! entries at the same time, the one inserted first. Nothing else (no hash
//! order, no thread, no wall clock) can change the order of events.
//!
//! A step may start once every dependency allows it (finish-to-start or
//! start-to-start, each with its lag) and, for a sub-step, once its parent
//! has started. A leaf step runs for a drawn duration, unless a fault strikes
//! part-way; the fault's recovery policy then decides: try again (resume,
//! rerun from an earlier step, roll back the package and reapply), roll the
//! whole upgrade back, cancel, or abort. A step with sub-steps ends
//! `finish_lag` after its last sub-step ends. The run commits when every
//! top-level step has ended.

mod recovery;
mod straight;

pub use recovery::{RecoveryPath, possible};

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_core::Rng;
use rehearse_core::data::{Checksum, Effect};
use rehearse_core::draws::Draws;
use rehearse_core::event::{Event, EventRecord, Mode, Outcome, SCHEMA_VERSION, ScenarioDigest};
use rehearse_core::fault::{Action, FaultIdx, PolicyIdx};
use rehearse_core::replication::Role;
use rehearse_core::scenario::{Anchor, DowntimeMark, Graph, Scenario, StepIdx, Work};
use rehearse_core::time::{SimDuration, SimTime};

use crate::SimError;
use crate::backend::{Backend, MemoryBackend, Replicate};
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
        Limits { max_events: 10_000_000, max_time: SimDuration::from_days(365) }
    }
}

/// One fault striking one attempt of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Injection {
    pub fault: FaultIdx,
    pub step: StepIdx,
    pub attempt: u32,
}

/// Which faults may strike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FaultMode {
    /// None.
    Off,
    /// Each fault strikes each attempt of its steps with its probability.
    #[default]
    Probabilistic,
    /// Swarm testing: each fault site (fault x step) is switched on or off
    /// at random for the run; a site that is on strikes with its probability.
    Swarm,
    /// Exactly these injections (and the re-strikes of persistent faults
    /// until fixed), nothing else.
    Scripted(Vec<Injection>),
    /// As `Probabilistic`, with this fault switched off: the same run on the
    /// same random numbers, without it (what the fault costs).
    Without(FaultIdx),
}

/// What to run: the run's identity, its faults and its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub seed: u64,
    /// Index of the run within a batch (0 for a single run).
    pub run: u64,
    pub mode: Mode,
    pub faults: FaultMode,
    pub limits: Limits,
}

impl RunOptions {
    pub fn new(seed: u64, mode: Mode) -> Self {
        RunOptions { seed, run: 0, mode, faults: FaultMode::default(), limits: Limits::default() }
    }

    pub fn with_faults(mut self, faults: FaultMode) -> Self {
        self.faults = faults;
        self
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

/// A scenario compiled for fast, repeated runs: flat arrays, dependency
/// edges in compressed form, stream keys and medians computed once.
#[derive(Debug)]
pub struct Plan<'s> {
    scenario: &'s Scenario,
    digest: ScenarioDigest,
    keys: Vec<u64>,
    /// Each step's duration at its medians, in ms (0 for groups).
    median_ms: Vec<u64>,
    /// The first attempts' random durations (leaf steps but replication
    /// ones, whose stream goes on to draw throughputs), drawn as a batch
    /// when a random run starts.
    first_draws: Draws<'s>,
    /// Per step, what the agenda loop asks of it on every run, packed
    /// (the scenario's steps are large and scattered).
    facts: Vec<Facts>,
    /// Incoming edges per step (dependencies and the parent's start).
    n_waits: Vec<u32>,
    /// Edges notified when a step starts / ends: (edge id, target, lag ms).
    on_start: Csr,
    on_end: Csr,
    /// Edge ids into each step, and each edge's source, for reruns.
    incoming: Vec<Vec<u32>>,
    edge_source: Vec<u32>,
    n_edges: usize,
    /// Fault sites per step: (site id, fault), in fault file order.
    sites: Vec<Vec<(u32, FaultIdx)>>,
    site_keys: Vec<u64>,
    n_roots: u32,
    /// The precedence graph, for reruns.
    graph: Graph,
    /// The replication's tables, when the scenario has one.
    rep: Option<RepPlan>,
    /// Runs in which no fault strikes, or faults strike one step that is
    /// only tried again, computed without the agenda (when the plan allows).
    straight: Option<straight::StraightPlan>,
}

/// A step's facts the agenda loop needs on every run.
#[derive(Clone, Copy, Debug)]
struct Facts {
    /// The parent's index, or `NONE`.
    parent: u32,
    children: u32,
    /// It has no sub-steps.
    leaf: bool,
    /// A group's finish lag, in ms.
    finish_lag: u64,
    /// It opens / closes the downtime.
    begins: bool,
    ends: bool,
    /// It changes data or drives the replication.
    effects: bool,
}

/// The replication's tables and snapshot step, compiled.
#[derive(Debug)]
struct RepPlan {
    snapshot: usize,
    /// Each publication's tables (those with a primary key).
    publications: Vec<Vec<usize>>,
    /// Tables with a primary key and changes: (table, changes per hour).
    changing: Vec<(usize, u64)>,
    no_pk: Vec<usize>,
}

#[derive(Debug, Default)]
struct Csr {
    offsets: Vec<u32>,
    edges: Vec<(u32, u32, u64)>,
}

impl Csr {
    fn build(n: usize, mut pairs: Vec<(usize, u32, u32, u64)>) -> Csr {
        // Stable by source, keeping file order among a source's targets.
        pairs.sort_by_key(|p| p.0);
        let mut offsets = vec![0u32; n + 1];
        for p in &pairs {
            offsets[p.0 + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Csr { offsets, edges: pairs.into_iter().map(|p| (p.1, p.2, p.3)).collect() }
    }
    fn of(&self, i: usize) -> &[(u32, u32, u64)] {
        &self.edges[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

impl<'s> Plan<'s> {
    /// Compiles a validated scenario. `digest` identifies its text (see
    /// [`crate::digest`]).
    pub fn new(scenario: &'s Scenario, digest: ScenarioDigest) -> Plan<'s> {
        let n = scenario.steps.len();
        let mut n_waits = vec![0u32; n];
        let mut incoming = vec![Vec::new(); n];
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut edge = 0u32;
        let mut edge_source = Vec::new();
        for (i, s) in scenario.steps.iter().enumerate() {
            if let Some(p) = s.parent {
                n_waits[i] += 1;
                incoming[i].push(edge);
                edge_source.push(p.0);
                starts.push((p.index(), edge, i as u32, 0));
                edge += 1;
            }
            for d in &s.after {
                n_waits[i] += 1;
                incoming[i].push(edge);
                edge_source.push(d.step.0);
                let e = (d.step.index(), edge, i as u32, d.lag.as_ms());
                edge += 1;
                match d.anchor {
                    Anchor::Start => starts.push(e),
                    Anchor::Finish => ends.push(e),
                }
            }
        }
        let median_ms = scenario
            .steps
            .iter()
            .map(|s| match &s.work {
                Work::Leaf(d) => d.median().as_ms(),
                Work::Group { .. } => 0,
            })
            .collect();
        let keys: Vec<u64> = scenario.steps.iter().map(|s| rng::key_of(&s.id)).collect();
        let first_draws = Draws::new(scenario.steps.iter().enumerate().filter_map(|(i, s)| match &s.work {
            Work::Leaf(d) if d.fixed().is_none() && s.replication.is_none() => Some((i as u32, d)),
            _ => None,
        }));
        let mut sites = vec![Vec::new(); n];
        let mut site_keys = Vec::new();
        for (f, fault) in scenario.faults.iter().enumerate() {
            for s in &fault.steps {
                sites[s.index()].push((site_keys.len() as u32, FaultIdx(f as u32)));
                site_keys.push(rng::pair_key(rng::key_of(&fault.id), keys[s.index()]));
            }
        }
        let mut plan = Plan {
            scenario,
            digest,
            keys,
            median_ms,
            first_draws,
            facts: scenario
                .steps
                .iter()
                .map(|s| Facts {
                    parent: s.parent.map_or(NONE, |p| p.0),
                    children: s.children.len() as u32,
                    leaf: !s.is_group(),
                    finish_lag: match s.work {
                        Work::Group { finish_lag } => finish_lag.as_ms(),
                        Work::Leaf(_) => 0,
                    },
                    begins: s.downtime == Some(DowntimeMark::Begins),
                    ends: s.downtime == Some(DowntimeMark::Ends),
                    effects: !s.data.is_empty() || s.replication.is_some(),
                })
                .collect(),
            n_waits,
            on_start: Csr::build(n, starts),
            on_end: Csr::build(n, ends),
            incoming,
            edge_source,
            n_edges: edge as usize,
            sites,
            site_keys,
            n_roots: scenario.roots.len() as u32,
            graph: Graph::new(&scenario.steps),
            straight: None,
            rep: scenario.replication.as_ref().map(|rep| {
                let tables = &scenario.database.tables;
                RepPlan {
                    snapshot: scenario
                        .steps
                        .iter()
                        .position(|s| s.replication == Some(Role::Snapshot))
                        .expect("validated: a replication has its snapshot step"),
                    publications: rehearse_core::replication::publication_tables(tables, rep.publishers),
                    changing: (0..tables.len())
                        .filter(|t| tables[*t].primary_key && tables[*t].changes_per_hour > 0)
                        .map(|t| (t, tables[t].changes_per_hour))
                        .collect(),
                    no_pk: (0..tables.len()).filter(|t| !tables[*t].primary_key).collect(),
                }
            }),
        };
        plan.straight = straight::StraightPlan::new(&plan);
        plan
    }

    pub fn scenario(&self) -> &'s Scenario {
        self.scenario
    }

    pub fn digest(&self) -> ScenarioDigest {
        self.digest
    }

    /// Every (fault, step) site, in fault file order.
    pub fn n_sites(&self) -> usize {
        self.site_keys.len()
    }
}

/// What a pending recovery will do when its time comes.
#[derive(Clone, Copy, Debug)]
struct Pending {
    fault: FaultIdx,
    action: Action,
    policy: Option<PolicyIdx>,
    /// Unknown outcome still to be reported: did it in fact complete?
    verify: Option<bool>,
    /// Time still to spend after verifying (fix, undo) before acting.
    after_verify_ms: u64,
    clears_persistent: bool,
    undo_ms: u64,
}

/// How the run is ending, once a rollback, cancel or abort has begun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Rollback,
    Cancel,
}

// Agenda entry kinds (low 3 bits of the action).
const K_START: u32 = 0;
const K_END: u32 = 1;
const K_STRIKE: u32 = 2;
const K_RECOVER: u32 = 3;
const K_ENDING_DONE: u32 = 4;

fn act(i: usize, kind: u32) -> u32 {
    ((i as u32) << 3) | kind
}

/// The agenda: (time, insertion seq, action, generation), smallest first.
///
/// A vector kept sorted largest first, so the next entry is popped from the
/// end. Agendas are short (the steps that are running or about to start),
/// where a binary search and a short move beat a binary heap's sifting; a
/// long one falls back to a heap.
#[derive(Debug)]
enum Agenda {
    Sorted(Vec<(u64, u64, u32, u32)>),
    Heap(BinaryHeap<Reverse<(u64, u64, u32, u32)>>),
}

/// Beyond this many entries, moving entries costs more than sifting.
const SORTED_AGENDA_MAX: usize = 64;

impl Agenda {
    fn with_capacity(n: usize) -> Self {
        Agenda::Sorted(Vec::with_capacity(n.min(SORTED_AGENDA_MAX)))
    }

    fn clear(&mut self) {
        match self {
            Agenda::Sorted(v) => v.clear(),
            Agenda::Heap(h) => *self = Agenda::Sorted(Vec::with_capacity(h.len().min(SORTED_AGENDA_MAX))),
        }
    }

    #[inline]
    fn push(&mut self, e: (u64, u64, u32, u32)) {
        match self {
            Agenda::Sorted(v) if v.len() < SORTED_AGENDA_MAX => {
                // Entries are unique (the insertion seq), so the place is exact.
                let at = v.partition_point(|x| *x > e);
                v.insert(at, e);
            }
            Agenda::Sorted(v) => {
                let mut h: BinaryHeap<_> = v.drain(..).map(Reverse).collect();
                h.push(Reverse(e));
                *self = Agenda::Heap(h);
            }
            Agenda::Heap(h) => h.push(Reverse(e)),
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(u64, u64, u32, u32)> {
        match self {
            Agenda::Sorted(v) => v.pop(),
            Agenda::Heap(h) => h.pop().map(|Reverse(e)| e),
        }
    }
}

/// Runs a plan, reusing its buffers from one run to the next.
pub struct Simulator<'p, 's> {
    plan: &'p Plan<'s>,
    backend: Box<dyn Backend + 'p>,
    /// Share of the attempt's work done when the pending fault strikes.
    strike_share: Vec<f64>,
    /// This run's stream bases for durations and faults.
    duration_base: rng::StreamBase,
    fault_base: rng::StreamBase,
    /// (time, insertion seq, action, generation of the step).
    agenda: Agenda,
    inserted: u64,
    waits: Vec<u32>,
    released: Vec<bool>,
    /// When each released edge allows its target to start.
    edge_ready: Vec<u64>,
    ready_at: Vec<u64>,
    start_cause: Vec<u32>,
    /// The edge that set `start_cause` (`NONE`: none yet).
    start_edge: Vec<u32>,
    end_cause: Vec<u32>,
    last_child_end: Vec<u64>,
    children_left: Vec<u32>,
    attempt: Vec<u32>,
    /// Attempts made before the step was last reset by a rerun.
    attempt_base: Vec<u32>,
    gen_: Vec<u32>,
    running: Vec<bool>,
    completed: Vec<bool>,
    starts: Vec<u64>,
    ends: Vec<u64>,
    striking: Vec<u32>,
    pending: Vec<Option<Pending>>,
    site_on: Vec<bool>,
    site_persistent: Vec<bool>,
    /// When the latest attempt of the replication snapshot started.
    snapshot_started: u64,
    /// Replication has started (the snapshot step started).
    replicating: bool,
    /// The distribution agent's time to apply a million changes, drawn when
    /// the snapshot starts (before the busy slowdown).
    apply_ms: f64,
    /// Reachability buffers for reruns.
    scratch: (Vec<bool>, Vec<bool>, Vec<usize>),
    /// A rerun's steps, what is left to mark, and what may start at once
    /// (kept from rerun to rerun; taken out while one runs, and sized
    /// again when taken, so an error half-way leaves nothing wrong).
    rerun_buffers: (Vec<bool>, Vec<StepIdx>, Vec<usize>),
    /// Per step: what its attempt had left when a fault struck, and, once
    /// a resume is decided, the length of the attempt that continues it.
    left_ms: Vec<u64>,
    resume_left: Vec<Option<u64>>,
    /// Each leaf step's first attempt's duration in this run, when
    /// `first_drawn` (fixed ones once and for all), and the batch's
    /// scratch. Drawn anew in every random run: `run_into` clears the flag
    /// before anything else.
    first_ms: Vec<u64>,
    first_drawn: bool,
    draw_scratch: Vec<f64>,
    /// A straight run's node times and causes (node `2i` is step i's
    /// start, `2i + 1` its end).
    node_ms: Vec<u64>,
    node_cause: Vec<u32>,
}

impl<'p, 's> Simulator<'p, 's> {
    /// A simulator with the counts-and-checksums data model.
    pub fn new(plan: &'p Plan<'s>) -> Self {
        Self::with_backend(plan, Box::new(MemoryBackend::new()))
    }

    /// A simulator with another data model.
    pub fn with_backend(plan: &'p Plan<'s>, backend: Box<dyn Backend + 'p>) -> Self {
        let n = plan.scenario.steps.len();
        Simulator {
            plan,
            backend,
            strike_share: vec![0.0; n],
            duration_base: rng::StreamBase::new(0, 0, Purpose::StepDuration),
            fault_base: rng::StreamBase::new(0, 0, Purpose::Fault),
            agenda: Agenda::with_capacity(n),
            inserted: 0,
            waits: vec![0; n],
            released: vec![false; plan.n_edges],
            edge_ready: vec![0; plan.n_edges],
            ready_at: vec![0; n],
            start_cause: vec![NONE; n],
            start_edge: vec![NONE; n],
            end_cause: vec![NONE; n],
            last_child_end: vec![0; n],
            children_left: vec![0; n],
            attempt: vec![0; n],
            attempt_base: vec![0; n],
            gen_: vec![0; n],
            running: vec![false; n],
            completed: vec![false; n],
            starts: vec![0; n],
            ends: vec![0; n],
            striking: vec![NONE; n],
            pending: vec![None; n],
            site_on: vec![false; plan.n_sites()],
            site_persistent: vec![false; plan.n_sites()],
            snapshot_started: 0,
            replicating: false,
            apply_ms: 0.0,
            scratch: Default::default(),
            rerun_buffers: Default::default(),
            left_ms: vec![0; n],
            resume_left: vec![None; n],
            first_ms: plan
                .scenario
                .steps
                .iter()
                .map(|s| match &s.work {
                    Work::Leaf(d) => d.fixed().map_or(0, SimDuration::as_ms),
                    Work::Group { .. } => 0,
                })
                .collect(),
            first_drawn: false,
            draw_scratch: Vec::new(),
            node_ms: vec![0; 2 * n],
            node_cause: vec![NONE; 2 * n],
        }
    }

    /// Draws every first attempt's duration of a random run at once (the
    /// values each step would draw when it starts: same streams), unless
    /// this run drew them already (a straight run that handed over to the
    /// engine), or, in a median run, leaves none drawn.
    fn draw_first(&mut self, opts: &RunOptions) {
        if opts.mode != Mode::Random || self.first_drawn {
            return;
        }
        self.first_drawn = true;
        let (plan, base) = (self.plan, rng::StreamBase::new(opts.seed, opts.run, Purpose::StepDuration));
        plan.first_draws.sample(|i| base.stream(plan.keys[i as usize], 1), &mut self.draw_scratch, &mut self.first_ms);
    }

    fn schedule(&mut self, at: u64, i: usize, kind: u32) {
        self.agenda.push((at, self.inserted, act(i, kind), self.gen_[i]));
        self.inserted += 1;
    }

    /// Runs once, sending every event to `sink`.
    ///
    /// # Errors
    /// [`SimError::EventLimit`] or [`SimError::TimeLimit`] when the run
    /// exceeds its limits, [`SimError::Sink`] when the sink fails, and
    /// [`SimError::Stalled`] if steps are left that can never start (which
    /// validation rules out; reported rather than looped on).
    pub fn run(&mut self, opts: &RunOptions, sink: &mut dyn EventSink) -> Result<RunSummary, SimError> {
        let mut summary = RunSummary::blank(opts, self.plan.digest);
        self.run_into(opts, sink, &mut summary)?;
        Ok(summary)
    }

    /// As [`Simulator::run`], writing the summary into `summary` and reusing
    /// its buffers: Monte Carlo runs allocate nothing per run.
    ///
    /// # Errors
    /// As [`Simulator::run`]; `summary` is then unspecified.
    pub fn run_into(
        &mut self,
        opts: &RunOptions,
        sink: &mut dyn EventSink,
        summary: &mut RunSummary,
    ) -> Result<(), SimError> {
        let silent = !sink.wants_events();
        self.first_drawn = false;
        if silent && self.straight(opts, summary) {
            return sink.finish().map_err(SimError::Sink);
        }
        let plan = self.plan;
        let sc = plan.scenario;
        let steps = &sc.steps;
        let n = steps.len();
        self.reset(opts);
        let mut out = Emitter { silent, sink, seq: 0, max_events: opts.limits.max_events };
        let mut run = RunTrack {
            downtime_intervals: std::mem::take(&mut summary.downtime_intervals),
            injected: std::mem::take(&mut summary.injected),
            recoveries: std::mem::take(&mut summary.recoveries),
            ..RunTrack::default()
        };
        run.downtime_intervals.clear();
        run.injected.clear();
        run.recoveries.clear();
        let mut roots_left = plan.n_roots;
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
                self.schedule(0, i, K_START);
            }
        }

        let mut outcome = None;
        while let Some((at, _, action, generation)) = self.agenda.pop() {
            let i = (action >> 3) as usize;
            let kind = action & 7;
            if generation != self.gen_[i] {
                continue; // superseded by an abandon or a rerun
            }
            if run.ending.is_some() && kind != K_ENDING_DONE {
                continue; // nothing goes forward once a rollback or cancel began
            }
            if at > opts.limits.max_time.as_ms() {
                return Err(SimError::TimeLimit { limit: opts.limits.max_time, step: steps[i].id.clone() });
            }
            now = at;
            match kind {
                K_START => self.start(i, at, opts, &mut out, &mut run)?,
                K_END => {
                    self.running[i] = false;
                    out.emit(at, Event::StepCompleted { step: StepIdx(i as u32), attempt: self.attempt[i] })?;
                    if plan.facts[i].effects {
                        self.data_effects(i, at, 1.0, None, &mut out)?;
                    }
                    if self.step_done(i, at, &mut out, &mut run)? {
                        roots_left -= 1;
                        if roots_left == 0 {
                            outcome = Some(Outcome::Committed);
                        }
                    }
                }
                K_STRIKE => self.strike(i, at, opts, &mut out, &mut run)?,
                K_RECOVER => {
                    let flow = self.recover(i, at, opts, &mut out, &mut run)?;
                    // A rerun that reset finished top-level steps: the run waits for them again.
                    roots_left += std::mem::take(&mut run.roots_reopened);
                    match flow {
                        Flow::Continue => {}
                        Flow::Finished(o) => outcome = Some(o),
                        Flow::RootDone => {
                            // An unknown outcome verified complete, on a top-level step.
                            roots_left -= 1;
                            if roots_left == 0 {
                                outcome = Some(Outcome::Committed);
                            }
                        }
                    }
                }
                K_ENDING_DONE => {
                    let o = match run.ending {
                        Some(Ending::Rollback) => {
                            // The users' changes until now, then the restore.
                            self.sync_replication(i, at, false, &mut out)?;
                            self.backend.rollback();
                            self.emit_tables(i, at, &mut out)?;
                            out.emit(at, Event::RollbackCompleted)?;
                            // The original environment is back online: users are let back in.
                            while run.downtime_depth > 0 {
                                run.close_downtime(at);
                                out.emit(at, Event::DowntimeEnded { step: StepIdx(i as u32) })?;
                            }
                            Outcome::RolledBack
                        }
                        _ => Outcome::Cancelled,
                    };
                    outcome = Some(o);
                }
                _ => unreachable!("unknown agenda entry kind {kind}"),
            }
            if outcome.is_some() {
                break;
            }
        }
        let Some(outcome) = outcome else {
            let waiting = (0..n).filter(|i| !self.completed[*i]).map(|i| steps[i].id.clone()).collect::<Vec<_>>();
            return Err(SimError::Stalled { waiting });
        };
        out.emit(now, Event::RunFinished { outcome })?;
        out.sink.finish().map_err(SimError::Sink)?;

        summary.steps.clear();
        summary.steps.extend((0..n).map(|i| StepTiming { start: SimTime(self.starts[i]), end: SimTime(self.ends[i]) }));
        // Downtime still open at the end (an abort, a cancel after the swap)
        // counts up to the end of the run.
        let downtime_open = run.downtime_depth > 0;
        if downtime_open {
            run.downtime_intervals.push((SimTime(run.downtime_since), SimTime(now)));
        }
        summary.downtime = SimDuration(run.downtime_intervals.iter().map(|(a, b)| b.since(*a).as_ms()).sum());
        summary.critical_path.clear();
        if outcome == Outcome::Committed {
            let (starts, ends) = (&self.start_cause, &self.end_cause);
            let cause = |v: u32| if v % 2 == 1 { ends[(v / 2) as usize] } else { starts[(v / 2) as usize] };
            committed_path(plan, now, |i| self.ends[i], cause, &mut summary.critical_path);
        }
        summary.outcome = outcome;
        summary.seed = opts.seed;
        summary.run = opts.run;
        summary.mode = opts.mode;
        summary.scenario = plan.digest;
        summary.end = SimTime(now);
        summary.downtime_open = downtime_open;
        summary.downtime_intervals = run.downtime_intervals;
        summary.attempts.clear();
        summary.attempts.extend_from_slice(&self.attempt);
        summary.n_events = out.seq;
        summary.injected = run.injected;
        summary.recoveries = run.recoveries;
        Ok(())
    }

    fn reset(&mut self, opts: &RunOptions) {
        let plan = self.plan;
        self.agenda.clear();
        self.inserted = 0;
        self.waits.copy_from_slice(&plan.n_waits);
        self.released.fill(false);
        self.ready_at.fill(0);
        self.start_cause.fill(NONE);
        self.start_edge.fill(NONE);
        self.end_cause.fill(NONE);
        self.last_child_end.fill(0);
        self.attempt.fill(0);
        self.attempt_base.fill(0);
        self.gen_.fill(0);
        self.running.fill(false);
        self.completed.fill(false);
        self.starts.fill(0);
        self.ends.fill(0);
        self.striking.fill(NONE);
        self.pending.fill(None);
        self.site_persistent.fill(false);
        self.snapshot_started = 0;
        self.replicating = false;
        self.resume_left.fill(None);
        self.backend.reset(plan.scenario);
        self.duration_base = rng::StreamBase::new(opts.seed, opts.run, Purpose::StepDuration);
        self.fault_base = rng::StreamBase::new(opts.seed, opts.run, Purpose::Fault);
        self.draw_first(opts);
        for (left, facts) in self.children_left.iter_mut().zip(&plan.facts) {
            *left = facts.children;
        }
        self.switch_sites(opts);
    }

    /// Which fault sites may strike in this run.
    fn switch_sites(&mut self, opts: &RunOptions) {
        let plan = self.plan;
        match &opts.faults {
            FaultMode::Swarm if opts.mode == Mode::Random => {
                for (site, key) in plan.site_keys.iter().enumerate() {
                    let mut s = rng::stream(opts.seed, opts.run, Purpose::Swarm, *key, 0);
                    self.site_on[site] = unit(&mut s) < 0.5;
                }
            }
            FaultMode::Probabilistic if opts.mode == Mode::Random => self.site_on.fill(true),
            FaultMode::Without(off) if opts.mode == Mode::Random => {
                for sites in &plan.sites {
                    for &(site, f) in sites {
                        self.site_on[site as usize] = f != *off;
                    }
                }
            }
            _ => self.site_on.fill(false),
        }
    }

    fn start(
        &mut self,
        i: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        let plan = self.plan;
        let step = &plan.scenario.steps[i];
        self.attempt[i] += 1;
        let attempt = self.attempt[i];
        if attempt == 1 {
            self.starts[i] = at;
        }
        self.running[i] = true;
        out.emit(at, Event::StepStarted { step: StepIdx(i as u32), attempt })?;
        if plan.facts[i].begins && attempt == 1 {
            run.open_downtime(at);
            out.emit(at, Event::DowntimeBegan { step: StepIdx(i as u32) })?;
        }
        for &(edge, target, lag) in plan.on_start.of(i) {
            self.release(edge, target as usize, at + lag, start_node(i));
        }
        let Work::Leaf(d) = &step.work else { return Ok(()) };
        let dur = match self.resume_left[i].take() {
            // Resumed: what the interrupted attempt had left.
            Some(left) => left,
            // Drawn with the others when the run started.
            None if attempt == 1 && self.first_drawn && step.replication.is_none() => self.first_ms[i],
            None => {
                let mut draws = match opts.mode {
                    Mode::Median => None,
                    Mode::Random => Some(self.duration_base.stream(plan.keys[i], u64::from(attempt))),
                };
                let mut dur = match &mut draws {
                    None => plan.median_ms[i],
                    Some(s) => d.sample(s).as_ms(),
                };
                if let Some(role) = step.replication {
                    dur = dur.saturating_add(self.replication_ms(i, role, at, draws.as_mut(), out)?);
                }
                dur
            }
        };
        self.end_cause[i] = start_node(i);
        if let Some((lost, f, share)) = self.first_strike(i, attempt, dur, opts) {
            self.left_ms[i] = dur - lost.min(dur);
            self.striking[i] = f.0;
            self.strike_share[i] = share;
            self.schedule(at + lost, i, K_STRIKE);
            return Ok(());
        }
        self.schedule(at + dur, i, K_END);
        Ok(())
    }

    /// Does a fault strike attempt `attempt` (of `dur` ms) of step `i`? Of
    /// the sites that fire, the one that strikes first wins (ties: fault
    /// file order): a fault that would strike later never gets the chance.
    /// Every site draws the same numbers in every mode, so a scripted
    /// replay of the faults that struck strikes at the same points.
    /// Returns (the work done when it strikes, the fault, that share).
    fn first_strike(&self, i: usize, attempt: u32, dur: u64, opts: &RunOptions) -> Option<(u64, FaultIdx, f64)> {
        let plan = self.plan;
        let mut first: Option<(u64, FaultIdx, f64)> = None;
        for &(site, f) in &plan.sites[i] {
            let fault = &plan.scenario.faults[f.index()];
            let scripted = match &opts.faults {
                FaultMode::Scripted(list) => list.contains(&Injection { fault: f, step: StepIdx(i as u32), attempt }),
                _ => false,
            };
            let site_idx = site as usize;
            if !(self.site_persistent[site_idx] || scripted || self.site_on[site_idx]) {
                continue; // this site cannot strike: no need to draw (each site has its own stream)
            }
            let mut s = self.fault_base.stream(plan.site_keys[site_idx], u64::from(attempt));
            let (u_fire, u_at) = (unit(&mut s), unit(&mut s));
            let fires = self.site_persistent[site_idx] || scripted || u_fire < fault.probability;
            if fires {
                let share = match opts.mode {
                    Mode::Median => (fault.at.0 + fault.at.1) / 2.0,
                    Mode::Random => fault.at.0 + (fault.at.1 - fault.at.0) * u_at,
                };
                let lost = libm_round(dur as f64 * share);
                if first.is_none_or(|(best, _, _)| lost < best) {
                    first = Some((lost, f, share));
                }
            }
        }
        first
    }

    /// The recovery fault `f` calls for on attempt `attempt` of step `i`,
    /// when it strikes (see [`recovery::resolve`]; a rollback's deadline is
    /// checked when it is about to begin). Returns the policy (`None`: abort
    /// with none), its action and its attempts budget.
    fn choose_recovery(&self, f: FaultIdx, i: usize, attempt: u32) -> (Option<PolicyIdx>, Action, u32) {
        let sc = self.plan.scenario;
        // Budgets count attempts since the step was last reset by a rerun.
        let r = recovery::resolve(sc, sc.faults[f.index()].recovery, attempt, self.attempt_base[i], |_| false);
        (r.policy, r.action, r.max_attempts)
    }

    /// The part of a replication step's length that follows from the
    /// tables and the replication's progress; its throughputs are drawn
    /// after the step's own duration, from the same stream.
    fn replication_ms(
        &mut self,
        i: usize,
        role: Role,
        at: u64,
        draws: Option<&mut rng::Stream>,
        out: &mut Emitter<'_>,
    ) -> Result<u64, SimError> {
        let sc = self.plan.scenario;
        let rep = sc.replication.as_ref().expect("validated: replication steps come with [replication]");
        let rate = |dist: &rehearse_core::Dist, draws: Option<&mut rng::Stream>| match draws {
            None => dist.median().as_ms() as f64,
            Some(s) => dist.sample_ms(s).max(0.0),
        };
        let ms = match role {
            Role::Snapshot => {
                // A snapshot started again starts the replication again.
                self.sync_replication(i, at, false, out)?;
                let plan = self.plan.rep.as_ref().expect("compiled with the replication");
                self.backend.replicate(Replicate::Start { publications: &plan.publications });
                self.replicating = true;
                self.snapshot_started = at;
                let mut draws = draws;
                let bcp = rate(&rep.bcp_per_million_rows, draws.as_deref_mut());
                self.apply_ms = rate(&rep.apply_per_million_changes, draws);
                rep.snapshot_ms(bcp)
            }
            Role::NoPkTables => rep.no_pk_ms(rate(&rep.bcp_per_million_rows, draws)),
            Role::CaughtUp => {
                let (s0, s1, off) = self.replication_times(at);
                let backlog = rep.backlog_at(s0, s1, off, self.apply_ms, at);
                out.emit(at, Event::ReplicationBacklog { step: StepIdx(i as u32), changes: libm_round(backlog) })?;
                (rep.drained_at(s0, s1, off, self.apply_ms) - at as f64).max(0.0)
            }
        };
        Ok(libm_round(ms).min(rehearse_core::scenario::MAX_SPAN.as_ms()))
    }

    /// The replication's times at `at`: when the snapshot started and ended
    /// (the agent applies from its end; `at` while it runs) and when the
    /// source went offline (`at` while it is still online).
    fn replication_times(&self, at: u64) -> (u64, u64, u64) {
        let sc = self.plan.scenario;
        let rep = sc.replication.as_ref().expect("validated");
        let snapshot = self.plan.rep.as_ref().expect("compiled").snapshot;
        let s1 = if self.completed[snapshot] { self.ends[snapshot] } else { at };
        let off = rep.source_offline.index();
        let off = if self.attempt[off] > 0 { self.starts[off].min(at) } else { at };
        (self.snapshot_started, s1, off)
    }

    /// Brings the data model's replication up to `at`: the changes the
    /// users wrote while the source was online since the snapshot started
    /// (each table at its rate, whole rows), and what the agent applied
    /// since the snapshot ended (in the order written, so each table's share
    /// follows its rate); `drained`: everything written is applied (the end
    /// of the caught-up wait). Records what changed; returns whether
    /// anything did.
    fn sync_replication(&mut self, i: usize, at: u64, drained: bool, out: &mut Emitter<'_>) -> Result<bool, SimError> {
        if !self.replicating {
            return Ok(false);
        }
        let plan = self.plan;
        let (Some(rep), Some(rp)) = (plan.scenario.replication.as_ref(), plan.rep.as_ref()) else { return Ok(false) };
        let (s0, s1, off) = self.replication_times(at);
        let online = off.saturating_sub(s0);
        let written_total = rep.changes_written(s0, off);
        let applied_total = if at > s1 { (at - s1) as f64 * rep.changes_per_ms(self.apply_ms) } else { 0.0 };
        let all = drained || applied_total >= written_total;
        let mut changed = false;
        for &(t, per_hour) in &rp.changing {
            let written = (u128::from(per_hour) * u128::from(online) / 3_600_000) as u64;
            let applied = if all {
                written
            } else {
                ((applied_total * per_hour as f64 / rep.changes_per_hour as f64) as u64).min(written)
            };
            let before = self.backend.replica(t);
            self.backend.replicate(Replicate::Changes { table: t, written, applied });
            let after = self.backend.replica(t);
            if after != before {
                let step = StepIdx(i as u32);
                out.emit(
                    at,
                    Event::ChangesReplicated { step, table: t as u32, written: after.written, backlog: after.backlog },
                )?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Bookkeeping once step `i` has ended well: downtime, successors, the
    /// parent. Returns whether `i` is a top-level step.
    fn step_done(&mut self, i: usize, at: u64, out: &mut Emitter<'_>, run: &mut RunTrack) -> Result<bool, SimError> {
        let plan = self.plan;
        let facts = plan.facts[i];
        self.running[i] = false;
        self.completed[i] = true;
        self.ends[i] = at;
        if facts.ends && run.downtime_depth > 0 {
            run.close_downtime(at);
            out.emit(at, Event::DowntimeEnded { step: StepIdx(i as u32) })?;
        }
        for &(edge, target, lag) in plan.on_end.of(i) {
            self.release(edge, target as usize, at + lag, end_node(i));
        }
        match facts.parent {
            NONE => Ok(true),
            p => {
                let p = p as usize;
                self.children_left[p] -= 1;
                // The last sub-step to end ends the group; of sub-steps
                // ending at the same millisecond, the one declared last.
                if at > self.last_child_end[p]
                    || at == self.last_child_end[p] && (self.end_cause[p] == NONE || end_node(i) > self.end_cause[p])
                {
                    self.last_child_end[p] = at;
                    self.end_cause[p] = end_node(i);
                }
                if self.children_left[p] == 0 {
                    self.schedule(at + plan.facts[p].finish_lag, p, K_END);
                }
                Ok(false)
            }
        }
    }

    /// A fault strikes step `i`: the attempt fails (or ends unknown) and the
    /// plan's recovery is chosen.
    fn strike(
        &mut self,
        i: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        let plan = self.plan;
        let sc = plan.scenario;
        let f = FaultIdx(self.striking[i]);
        let fault = &sc.faults[f.index()];
        let attempt = self.attempt[i];
        let step = StepIdx(i as u32);
        self.running[i] = false;
        self.ends[i] = at; // the attempt ends here; a later one that completes moves it
        out.emit(at, Event::FaultInjected { fault: f, step, attempt })?;
        run.injected.push(Injection { fault: f, step, attempt });
        // Work done before the fault stays done (committed units of work).
        if self.strike_share[i] > 0.0 {
            self.data_effects(i, at, self.strike_share[i], fault.catalog, out)?;
        }
        let site = plan.sites[i].iter().find(|(_, g)| *g == f).map(|(s, _)| *s as usize).expect("the fault's site");
        if fault.persistent {
            self.site_persistent[site] = true;
        }
        let verify_completed = if fault.unknown_outcome {
            out.emit(at, Event::StepOutcomeUnknown { step, attempt })?;
            let mut s = rng::stream(opts.seed, opts.run, Purpose::Fault, plan.site_keys[site], u64::from(attempt));
            let _ = (unit(&mut s), unit(&mut s));
            // Median mode assumes the worst: it did not complete.
            Some(opts.mode == Mode::Random && unit(&mut s) < 0.5)
        } else {
            out.emit(at, Event::StepFailed { step, attempt })?;
            None
        };

        let (policy, action, max_attempts) = self.choose_recovery(f, i, attempt);
        let times = self.recovery_times(policy, i, attempt, opts);
        let verify_ms = if fault.unknown_outcome { times.verify } else { 0 };
        let extra_ms = times.fix + times.undo + verify_ms;
        out.emit(
            at,
            Event::RecoveryChosen {
                step,
                fault: f,
                action,
                attempt,
                max_attempts: if action.retries() { max_attempts } else { attempt },
                reaction_ms: times.reaction,
                extra_ms,
            },
        )?;
        run.recoveries.push((f, step, action));
        let pending = Pending {
            fault: f,
            action,
            policy,
            verify: verify_completed,
            after_verify_ms: match action {
                Action::Resume | Action::Retry | Action::Rerun => times.fix,
                Action::RollbackPackage => times.fix + times.undo,
                _ => 0,
            },
            clears_persistent: policy.is_some_and(|p| sc.policies[p.index()].fix.is_some()),
            undo_ms: times.undo,
        };
        self.pending[i] = Some(pending);
        let wait = match (verify_completed.is_some(), action) {
            (true, Action::Abort) => 0,
            (true, _) => times.reaction + verify_ms,
            (false, Action::Abort) => 0,
            (false, Action::Rollback | Action::Cancel) => times.reaction,
            (false, _) => times.reaction + pending.after_verify_ms,
        };
        self.schedule(at + wait, i, K_RECOVER);
        Ok(())
    }

    /// The pending recovery of step `i` takes effect.
    fn recover(
        &mut self,
        i: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<Flow, SimError> {
        let plan = self.plan;
        let sc = plan.scenario;
        let Some(mut p) = self.pending[i] else { return Ok(Flow::Continue) };
        let step = StepIdx(i as u32);
        if let Some(completed) = p.verify.take() {
            out.emit(at, Event::OutcomeVerified { step, attempt: self.attempt[i], completed })?;
            if completed {
                self.pending[i] = None;
                self.data_effects(i, at, 1.0, None, out)?;
                let root = self.step_done(i, at, out, run)?;
                return Ok(if root { Flow::RootDone } else { Flow::Continue });
            }
            if p.action != Action::Abort
                && p.after_verify_ms > 0
                && !matches!(p.action, Action::Rollback | Action::Cancel)
            {
                // Fix or undo still to do before trying again.
                let mut q = p;
                q.after_verify_ms = 0;
                self.pending[i] = Some(q);
                self.schedule(at + p.after_verify_ms, i, K_RECOVER);
                return Ok(Flow::Continue);
            }
        }
        self.pending[i] = None;
        if p.clears_persistent {
            for &(site, g) in &plan.sites[i] {
                if g == p.fault {
                    self.site_persistent[site as usize] = false;
                }
            }
        }
        // A rollback checked against its deadline when it is about to begin:
        // past it, the policy hands over as the resolver says.
        let mut late = false;
        if p.action == Action::Rollback
            && let Some(pi) = p.policy
        {
            let (attempt, began) = (self.attempt[i], run.downtime_first_began);
            let r =
                recovery::resolve(sc, pi, attempt, self.attempt_base[i], |pol| recovery::past_deadline(pol, at, began));
            late = r.late;
            if r.policy != Some(pi) {
                let times = self.recovery_times(r.policy, i, attempt, opts);
                out.emit(
                    at,
                    Event::RecoveryChosen {
                        step,
                        fault: p.fault,
                        action: r.action,
                        attempt,
                        max_attempts: if r.action.retries() { r.max_attempts } else { attempt },
                        reaction_ms: 0,
                        extra_ms: times.fix + times.undo,
                    },
                )?;
                run.recoveries.push((p.fault, step, r.action));
                p = Pending {
                    action: r.action,
                    policy: r.policy,
                    after_verify_ms: 0,
                    undo_ms: times.undo,
                    clears_persistent: r.policy.is_some_and(|q| sc.policies[q.index()].fix.is_some()),
                    ..p
                };
                if r.action.retries() && times.fix + times.undo > 0 {
                    self.pending[i] = Some(Pending { verify: None, ..p });
                    self.schedule(at + times.fix + times.undo, i, K_RECOVER);
                    return Ok(Flow::Continue);
                }
            }
        }
        match p.action {
            Action::Resume => {
                // The next attempt does what the interrupted one had left.
                self.resume_left[i] = Some(self.left_ms[i]);
                self.schedule(at, i, K_START);
            }
            Action::Retry | Action::RollbackPackage => self.schedule(at, i, K_START),
            Action::Rerun => {
                let from = p.policy.and_then(|pi| sc.policies[pi.index()].from).unwrap_or(step);
                run.roots_reopened += self.rerun(from, step, at, out)?;
            }
            Action::Rollback => {
                out.emit(at, Event::RollbackStarted { step, late })?;
                run.ending = Some(Ending::Rollback);
                self.abandon_all(at, out)?;
                self.schedule(at + p.undo_ms, i, K_ENDING_DONE);
            }
            Action::Cancel => {
                run.ending = Some(Ending::Cancel);
                self.abandon_all(at, out)?;
                self.schedule(at + p.undo_ms, i, K_ENDING_DONE);
            }
            Action::Abort => {
                self.abandon_all(at, out)?;
                return Ok(Flow::Finished(Outcome::Aborted));
            }
        }
        Ok(Flow::Continue)
    }

    /// Applies step `i`'s data effects (`share` of its work done) and records
    /// what they did.
    fn data_effects(
        &mut self,
        i: usize,
        at: u64,
        share: f64,
        fault: Option<&str>,
        out: &mut Emitter<'_>,
    ) -> Result<(), SimError> {
        let step = &self.plan.scenario.steps[i];
        let effects = &step.data;
        let role = if share >= 1.0 { step.replication } else { None };
        if effects.is_empty() && role.is_none() {
            return Ok(());
        }
        let mut changed = self.sync_replication(i, at, role == Some(Role::CaughtUp), out)?;
        if let Some(rp) = self.plan.rep.as_ref() {
            match role {
                Some(Role::Snapshot) => {
                    self.backend.replicate(Replicate::SnapshotApplied);
                    changed = true;
                }
                Some(Role::NoPkTables) => {
                    for &t in &rp.no_pk {
                        self.backend.replicate(Replicate::CopyWhole { table: t });
                    }
                    changed = true;
                }
                _ => {}
            }
        }
        for &e in effects {
            if e == Effect::Validate {
                if changed {
                    // The tables as validated come first.
                    self.emit_tables(i, at, out)?;
                    changed = false;
                }
                if share >= 1.0 {
                    let matched = self.backend.counts_match();
                    out.emit(at, Event::RecordCountsValidated { step: StepIdx(i as u32), matched })?;
                }
            } else if share >= 1.0 || e == Effect::Upgrade {
                self.backend.apply(e, share, fault);
                changed = true;
            }
        }
        if changed {
            self.emit_tables(i, at, out)?;
        }
        Ok(())
    }

    fn emit_tables(&mut self, i: usize, at: u64, out: &mut Emitter<'_>) -> Result<(), SimError> {
        if out.silent {
            return out.skip(at, self.backend.n_tables() as u64);
        }
        for t in 0..self.backend.n_tables() {
            let s = self.backend.snapshot(t);
            out.emit(
                at,
                Event::TableChanged {
                    step: StepIdx(i as u32),
                    table: t as u32,
                    source_rows: s.source_rows,
                    source_checksum: Checksum(s.source_checksum),
                    target_rows: s.target_rows,
                    target_checksum: Checksum(s.target_checksum),
                },
            )?;
        }
        Ok(())
    }

    /// Stops every running step (a rollback, cancel or abort began).
    fn abandon_all(&mut self, at: u64, out: &mut Emitter<'_>) -> Result<(), SimError> {
        for j in 0..self.running.len() {
            if self.running[j] {
                self.running[j] = false;
                self.gen_[j] += 1;
                self.ends[j] = at;
                out.emit(at, Event::StepAbandoned { step: StepIdx(j as u32), attempt: self.attempt[j] })?;
            }
        }
        for j in 0..self.pending.len() {
            if self.pending[j].is_some() {
                self.gen_[j] += 1;
                self.pending[j] = None;
            }
        }
        Ok(())
    }

    /// Runs again from `from`: it, the steps beside it on the way to the
    /// failed step, and everything inside them.
    /// Returns how many completed top-level steps it reset: the run waits
    /// for them again.
    fn rerun(&mut self, from: StepIdx, failed: StepIdx, at: u64, out: &mut Emitter<'_>) -> Result<u32, SimError> {
        let plan = self.plan;
        let steps = &plan.scenario.steps;
        // The failed step's ancestor (or itself) beside `from`.
        let mut top = failed;
        while steps[top.index()].parent != steps[from.index()].parent {
            top = steps[top.index()].parent.expect("validated: rerun reaches the failed step");
        }
        let siblings: &[StepIdx] = match steps[from.index()].parent {
            Some(p) => &steps[p.index()].children,
            None => &plan.scenario.roots,
        };
        let graph = &plan.graph;
        let (mut after_from, mut seen, mut stack) = std::mem::take(&mut self.scratch);
        let (mut set, mut todo, mut ready) = std::mem::take(&mut self.rerun_buffers);
        set.clear();
        set.resize(steps.len(), false);
        ready.clear();
        graph.reachable_into(Graph::start(from.index()), &mut after_from, &mut stack);
        for &s in siblings {
            let between = s == from
                || s == top
                || after_from[Graph::start(s.index())] && {
                    graph.reachable_into(Graph::start(s.index()), &mut seen, &mut stack);
                    seen[Graph::start(top.index())]
                };
            if between {
                todo.clear();
                todo.push(s);
                while let Some(x) = todo.pop() {
                    set[x.index()] = true;
                    todo.extend(steps[x.index()].children.iter().copied());
                }
            }
        }
        self.scratch = (after_from, seen, stack);
        let mut roots_reopened = 0;
        for j in 0..steps.len() {
            if !set[j] {
                continue;
            }
            if self.completed[j] && steps[j].parent.is_none() {
                roots_reopened += 1;
            }
            if self.running[j] {
                self.running[j] = false;
                out.emit(at, Event::StepAbandoned { step: StepIdx(j as u32), attempt: self.attempt[j] })?;
            }
            if self.attempt[j] > 0 {
                out.emit(at, Event::StepReset { step: StepIdx(j as u32) })?;
            }
            // The failed step keeps counting against its own budget: a rerun
            // it asked for is one of its retries.
            if j != failed.index() {
                self.attempt_base[j] = self.attempt[j];
            }
            self.gen_[j] += 1;
            self.pending[j] = None;
            self.resume_left[j] = None; // a rerun starts the step afresh
            if self.completed[j]
                && let Some(p) = steps[j].parent
                && !set[p.index()]
            {
                self.children_left[p.index()] += 1;
            }
            self.completed[j] = false;
            self.children_left[j] = plan.facts[j].children;
            self.last_child_end[j] = 0;
            self.end_cause[j] = NONE;
            self.ready_at[j] = at;
            self.start_edge[j] = NONE;
        }
        // A step outside the rerun that waits on one inside and has not
        // started yet waits for the rerun: the edge fires again (a start
        // already scheduled is withdrawn). One that already started keeps
        // its start.
        for k in 0..steps.len() {
            if set[k] || self.running[k] || self.completed[k] || self.pending[k].is_some() {
                continue;
            }
            let was_due = self.waits[k] == 0;
            for &e in &plan.incoming[k] {
                if set[plan.edge_source[e as usize] as usize] && self.released[e as usize] {
                    self.released[e as usize] = false;
                    self.waits[k] += 1;
                }
            }
            if was_due && self.waits[k] > 0 {
                self.gen_[k] += 1;
            }
        }
        // Edges from steps being rerun must fire again; the rest stay.
        for j in 0..steps.len() {
            if !set[j] {
                continue;
            }
            let mut waits = 0;
            for &e in &plan.incoming[j] {
                let source = plan.edge_source[e as usize] as usize;
                if set[source] {
                    self.released[e as usize] = false;
                }
                if self.released[e as usize] {
                    // A step outside the rerun already allowed this one, from
                    // a time that may still lie ahead (its lag): keep it.
                    self.ready_at[j] = self.ready_at[j].max(self.edge_ready[e as usize]);
                } else {
                    waits += 1;
                }
            }
            self.waits[j] = waits;
            if waits == 0 {
                ready.push(j);
            }
        }
        for &j in &ready {
            self.schedule(self.ready_at[j], j, K_START);
        }
        self.rerun_buffers = (set, todo, ready);
        Ok(roots_reopened)
    }

    /// Draws a recovery's reaction, fix, undo and verify times.
    fn recovery_times(&self, policy: Option<PolicyIdx>, i: usize, attempt: u32, opts: &RunOptions) -> Times {
        let Some(pi) = policy else { return Times::default() };
        let pol = &self.plan.scenario.policies[pi.index()];
        let key = rng::pair_key(rng::key_of(&pol.name), self.plan.keys[i]);
        let mut s = rng::stream(opts.seed, opts.run, Purpose::Recovery, key, u64::from(attempt));
        let mut draw = |d: &Option<rehearse_core::Dist>| match (d, opts.mode) {
            (None, _) => 0,
            (Some(d), Mode::Median) => d.median().as_ms(),
            (Some(d), Mode::Random) => d.sample(&mut s, rehearse_core::scenario::MAX_SPAN).as_ms(),
        };
        Times {
            reaction: draw(&pol.reaction),
            fix: draw(&pol.fix),
            undo: draw(&pol.duration),
            verify: draw(&pol.verify),
        }
    }

    /// One of `target`'s waits is over; it may start at `at` at the earliest.
    fn release(&mut self, edge: u32, target: usize, at: u64, cause: u32) {
        if self.released[edge as usize] {
            return; // a rerun step ending again: successors outside the rerun that already started keep their start (see `rerun`)
        }
        self.released[edge as usize] = true;
        self.edge_ready[edge as usize] = at;
        // The latest edge is what released the step; of edges due at the
        // same millisecond, the one declared last (the parent's edge comes
        // before the step's `after` list). A rule of the plan, not of the
        // order events happen to be handled in, so the critical path of a
        // run is a function of its times.
        if at > self.ready_at[target]
            || at == self.ready_at[target] && (self.start_edge[target] == NONE || edge > self.start_edge[target])
        {
            self.ready_at[target] = at;
            self.start_cause[target] = cause;
            self.start_edge[target] = edge;
        }
        self.waits[target] -= 1;
        if self.waits[target] == 0 {
            self.schedule(self.ready_at[target], target, K_START);
        }
    }
}

/// The critical path of a run committed at `now` (steps end at `end(i)`),
/// from the top-level step that ended last; of those ending together, the
/// one declared last (a rule of the plan, as in `Simulator::release`).
/// Walks back from its end along what determined each node's time
/// (`cause(node)`, `NONE` at the start): the leaf steps whose durations
/// make up the run's length, in order. The engine and straight runs keep
/// their causes differently; the walk is the one.
fn committed_path(
    plan: &Plan<'_>,
    now: u64,
    end: impl Fn(usize) -> u64,
    cause: impl Fn(u32) -> u32,
    path: &mut Vec<StepIdx>,
) {
    let Some(last) = plan.scenario.roots.iter().rev().find(|r| end(r.index()) == now) else { return };
    let facts = &plan.facts;
    let mut node = end_node(last.index());
    let mut guard = 4 * facts.len() + 4;
    while node != NONE && guard > 0 {
        guard -= 1;
        if node % 2 == 1 && facts[(node / 2) as usize].leaf {
            path.push(StepIdx(node / 2));
        }
        node = cause(node);
    }
    path.reverse();
}

/// What the run does after a recovery took effect.
enum Flow {
    Continue,
    /// A top-level step completed (its unknown outcome verified complete).
    RootDone,
    Finished(Outcome),
}

#[derive(Clone, Copy, Debug, Default)]
struct Times {
    reaction: u64,
    fix: u64,
    undo: u64,
    verify: u64,
}

/// Per-run record of downtime, faults and recoveries.
#[derive(Debug, Default)]
struct RunTrack {
    /// Completed top-level steps a rerun reset, not yet counted back.
    roots_reopened: u32,
    downtime_depth: u32,
    downtime_since: u64,
    downtime_first_began: Option<u64>,
    downtime_intervals: Vec<(SimTime, SimTime)>,
    ending: Option<Ending>,
    injected: Vec<Injection>,
    recoveries: Vec<(FaultIdx, StepIdx, Action)>,
}

impl RunTrack {
    fn open_downtime(&mut self, at: u64) {
        if self.downtime_depth == 0 {
            self.downtime_since = at;
        }
        self.downtime_first_began.get_or_insert(at);
        self.downtime_depth += 1;
    }

    fn close_downtime(&mut self, at: u64) {
        self.downtime_depth -= 1;
        if self.downtime_depth == 0 {
            self.downtime_intervals.push((SimTime(self.downtime_since), SimTime(at)));
        }
    }
}

/// A uniform draw in [0, 1).
fn unit(s: &mut rng::Stream) -> f64 {
    (s.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn libm_round(v: f64) -> u64 {
    if v <= 0.0 { 0 } else { (v + 0.5) as u64 }
}

/// Numbers events and enforces the event limit.
struct Emitter<'a> {
    sink: &'a mut dyn EventSink,
    /// The sink ignores events: they are numbered but not built.
    silent: bool,
    seq: u64,
    max_events: u64,
}

impl Emitter<'_> {
    #[inline]
    fn emit(&mut self, at: u64, event: Event) -> Result<(), SimError> {
        if self.silent {
            return self.skip(at, 1);
        }
        if self.seq >= self.max_events {
            return Err(SimError::EventLimit { limit: self.max_events, at: SimTime(at) });
        }
        self.sink.record(&EventRecord { seq: self.seq, at: SimTime(at), event }).map_err(SimError::Sink)?;
        self.seq += 1;
        Ok(())
    }

    /// Numbers `n` events at `at` that a silent sink would drop.
    #[inline]
    fn skip(&mut self, at: u64, n: u64) -> Result<(), SimError> {
        if self.seq + n > self.max_events {
            return Err(SimError::EventLimit { limit: self.max_events, at: SimTime(at) });
        }
        self.seq += n;
        Ok(())
    }
}
