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

mod agenda;
mod data;
mod emit;
mod forecast;
mod gate;
mod lifecycle;
mod options;
mod path;
mod plan;
mod recovery;
mod rerun;
mod sites;
mod state;
mod straight;

pub use options::{FaultMode, Injection, Limits, RunOptions};
pub use plan::Plan;
pub(crate) use recovery::resolve;
pub use recovery::{RecoveryPath, hand_overs, possible};

use rehearse_core::event::{Event, Mode, Outcome, SCHEMA_VERSION};
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::{StepIdx, Work};
use rehearse_core::time::{SimDuration, SimTime};

use crate::SimError;
use crate::backend::{Backend, MemoryBackend};
use crate::rng::{self, Purpose};
use crate::sink::EventSink;
use crate::summary::{RunSummary, StepTiming};

use agenda::{Agenda, Entry, Kind};
use emit::Emitter;
use path::committed_path;

use plan::Node;
use recovery::Pending;
use state::{RunTrack, StepFault, StepRun};

/// How the run is ending, once a rollback, cancel or abort has begun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Rollback,
    Cancel,
}

/// Runs a plan, reusing its buffers from one run to the next.
pub struct Simulator<'p, 's> {
    plan: &'p Plan<'s>,
    backend: Box<dyn Backend + 'p>,
    /// This run's stream bases for durations and faults.
    duration_base: rng::StreamBase,
    fault_base: rng::StreamBase,
    agenda: Agenda,
    inserted: u64,
    /// Each step's state in this run.
    steps: Vec<StepRun>,
    /// What each step's faults leave for its recovery.
    faults: Vec<StepFault>,
    released: Vec<bool>,
    /// When each released edge allows its target to start.
    edge_ready: Vec<u64>,
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
    /// The last changes the replication was brought up to date with
    /// (the source's time online, and what was applied), until a `Start`
    /// or `SnapshotApplied` (see `Replicate::Changes`).
    synced: Option<(u64, u64)>,
    /// Reachability buffers for reruns.
    scratch: (Vec<bool>, Vec<bool>, Vec<usize>),
    /// A rerun's steps, what is left to mark, and what may start at once
    /// (kept from rerun to rerun; taken out while one runs, and sized
    /// again when taken, so an error half-way leaves nothing wrong).
    rerun_buffers: (Vec<bool>, Vec<StepIdx>, Vec<usize>),
    /// Each leaf step's first attempt's duration in this run, when
    /// `first_drawn` (fixed ones once and for all), and the batch's
    /// scratch. Drawn anew in every random run: `run_into` clears the flag
    /// before anything else.
    first_ms: Vec<u64>,
    first_drawn: bool,
    /// The seed and run index `first_ms` was last drawn for.
    drawn_run: (u64, u64),
    draw_scratch: rehearse_core::draws::Scratch,
    /// A straight run's node times and causes (node `2i` is step i's
    /// start, `2i + 1` its end); the causes the plan fixes are set once,
    /// here (see `StraightPlan::fixed_causes`).
    node_ms: Vec<u64>,
    node_cause: Vec<Option<Node>>,
    /// A straight run's rerun: each leaf's latest attempt's duration, and
    /// the first starts of the steps started again.
    rerun_ms: Vec<u64>,
    first_start: Vec<u64>,
    /// A straight run's durations with the replication steps' lengths,
    /// and the moments the data model sees, in time order (see
    /// `straight::StraightRep`).
    straight_ms: Vec<u64>,
    moments: Vec<(u64, straight::Moment)>,
    /// The strikes on the steps a straight run tries again or reruns: the
    /// step, when (from its first start as `tried_again` records it; in
    /// run time once the node times are known), the share of the work
    /// done, the fault.
    strikes: Vec<(usize, u64, f64, FaultIdx)>,
    /// The snapshot's attempts after the first when a straight run tries
    /// it again: when each starts (from its first start), and the agent's
    /// apply time drawn with it.
    restarts: Vec<(u64, f64)>,
    /// Each driver's factor in this run (random runs; drawn with the
    /// first attempts).
    factor: Vec<f64>,
    /// Each resource's free capacity, which steps hold one (an attempt
    /// that has taken its resources), and the steps waiting for one, in
    /// plan order (the order they are served in).
    free: Vec<u32>,
    holding: Vec<bool>,
    queued: Vec<usize>,
    /// Each edge's lag in this run where it is drawn (`Shared::ranged`).
    edge_lag: Vec<u64>,
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
            duration_base: rng::StreamBase::new(0, 0, Purpose::StepDuration),
            fault_base: rng::StreamBase::new(0, 0, Purpose::Fault),
            agenda: Agenda::with_capacity(n),
            inserted: 0,
            steps: vec![StepRun::default(); n],
            faults: vec![StepFault::default(); n],
            released: vec![false; plan.n_edges],
            edge_ready: vec![0; plan.n_edges],
            pending: vec![None; n],
            site_on: vec![false; plan.n_sites()],
            site_persistent: vec![false; plan.n_sites()],
            snapshot_started: 0,
            replicating: false,
            apply_ms: 0.0,
            synced: None,
            scratch: Default::default(),
            rerun_buffers: Default::default(),
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
            drawn_run: (0, 0),
            draw_scratch: rehearse_core::draws::Scratch::default(),
            node_ms: vec![0; 2 * n],
            node_cause: plan.straight.as_ref().map_or_else(|| vec![None; 2 * n], straight::StraightPlan::fixed_causes),
            rerun_ms: Vec::with_capacity(n),
            straight_ms: Vec::with_capacity(n),
            moments: Vec::new(),
            strikes: Vec::new(),
            restarts: Vec::new(),
            first_start: Vec::new(),
            factor: vec![1.0; plan.shared.driver_keys.len()],
            free: plan.shared.capacity.clone(),
            holding: if plan.shared.capacity.is_empty() { Vec::new() } else { vec![false; n] },
            queued: Vec::with_capacity(if plan.shared.capacity.is_empty() { 0 } else { n }),
            edge_lag: if plan.shared.ranged.is_empty() { Vec::new() } else { vec![0; plan.n_edges] },
        }
    }

    /// `ms` of step `i` times its drivers' factors in this run (random
    /// runs: as planned, the drivers are in its median already).
    #[inline]
    fn scaled(&self, i: usize, ms: u64) -> u64 {
        let sh = &self.plan.shared;
        match sh.scaled_at.get(i) {
            Some(&k) if k != u32::MAX => {
                let f: f64 = sh.scaled[k as usize].1.iter().map(|d| self.factor[*d as usize]).product();
                plan::scale_ms(ms, f)
            }
            _ => ms,
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
        self.drawn_run = (opts.seed, opts.run);
        let (plan, base) = (self.plan, rng::StreamBase::new(opts.seed, opts.run, Purpose::StepDuration));
        plan.first_draws.sample(|i| base.stream(plan.keys[i as usize], 1), &mut self.draw_scratch, &mut self.first_ms);
        if plan.shared.scaled.is_empty() {
            return;
        }
        // Each driver's factor from its own stream, then the steps it scales.
        let drivers = rng::StreamBase::new(opts.seed, opts.run, Purpose::Driver);
        for (d, key) in plan.shared.driver_keys.iter().enumerate() {
            let dist = &plan.scenario.drivers[d].factor;
            self.factor[d] =
                dist.sample_ms(&mut drivers.stream(*key, 0)).max(0.0) / rehearse_core::scenario::FACTOR_UNIT;
        }
        for (i, _, fixed) in &plan.shared.scaled {
            let i = *i as usize;
            let drawn = fixed.unwrap_or(self.first_ms[i]);
            self.first_ms[i] = self.scaled(i, drawn);
        }
    }

    fn schedule(&mut self, at: u64, i: usize, kind: Kind) {
        self.agenda.push(Entry::new(at, self.inserted, i, kind, self.steps[i].generation));
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
        self.first_drawn = false;
        self.run_drawn(opts, sink, summary)
    }

    /// As [`Simulator::run_into`], for the run this simulator ran last
    /// (the same seed and run index) again, in another fault mode (without
    /// a fault, to price it): the first attempts' durations it drew are the
    /// numbers this run would draw (each step's stream does not depend on
    /// faults), so they are kept rather than drawn again. Any other run is
    /// drawn afresh.
    ///
    /// # Errors
    /// As [`Simulator::run`].
    pub fn run_again_into(
        &mut self,
        opts: &RunOptions,
        sink: &mut dyn EventSink,
        summary: &mut RunSummary,
    ) -> Result<(), SimError> {
        if self.drawn_run != (opts.seed, opts.run) || opts.mode != Mode::Random {
            self.first_drawn = false;
        }
        self.run_drawn(opts, sink, summary)
    }

    /// A run, its first attempts' durations drawn already when `first_drawn`.
    fn run_drawn(
        &mut self,
        opts: &RunOptions,
        sink: &mut dyn EventSink,
        summary: &mut RunSummary,
    ) -> Result<(), SimError> {
        let silent = !sink.wants_events();
        if silent && self.straight_drawn(opts, summary)? {
            self.shadow(opts, summary);
            return sink.finish().map_err(SimError::Sink);
        }
        self.run_engine(opts, sink, summary)
    }

    /// The run through the agenda (no shortcut).
    fn run_engine(
        &mut self,
        opts: &RunOptions,
        sink: &mut dyn EventSink,
        summary: &mut RunSummary,
    ) -> Result<(), SimError> {
        let plan = self.plan;
        let n = plan.scenario.steps.len();
        self.reset(opts)?;
        let mut out = Emitter { silent: !sink.wants_events(), sink, seq: 0, max_events: opts.limits.max_events };
        let mut run = RunTrack {
            downtime_intervals: std::mem::take(&mut summary.downtime_intervals),
            injected: std::mem::take(&mut summary.injected),
            recoveries: std::mem::take(&mut summary.recoveries),
            ..RunTrack::default()
        };
        run.downtime_intervals.clear();
        run.injected.clear();
        run.recoveries.clear();
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
            if self.steps[i].waits == 0 {
                self.schedule(0, i, Kind::Start);
            }
        }
        self.schedule_recorded_ending();
        let (outcome, now) = self.agenda_loop(opts, &mut out, &mut run)?;
        out.emit(now, Event::RunFinished { outcome })?;
        out.sink.finish().map_err(SimError::Sink)?;

        summary.steps.clear();
        summary.steps.extend(self.steps.iter().map(|s| StepTiming { start: SimTime(s.start), end: SimTime(s.end) }));
        // Downtime still open at the end (an abort, a cancel after the swap)
        // counts up to the end of the run.
        let downtime_open = run.downtime_depth > 0;
        if downtime_open {
            run.downtime_intervals.push((SimTime(run.downtime_since), SimTime(now)));
        }
        summary.downtime_intervals = run.downtime_intervals;
        summary.critical_path.clear();
        if outcome == Outcome::Committed {
            let steps = &self.steps;
            let cause = |v: Node| {
                let s = &steps[v.step()];
                if v.is_end() { s.end_cause } else { s.start_cause }
            };
            committed_path(plan, now, |i| steps[i].end, cause, &mut summary.critical_path);
        }
        summary.attempts.clear();
        summary.attempts.extend(self.steps.iter().map(|s| s.attempt));
        summary.injected = run.injected;
        summary.recoveries = run.recoveries;
        summary.ending_began = run.ending_began.map(SimTime);
        finish_summary(summary, plan, opts, outcome, now, downtime_open, out.seq);
        Ok(())
    }

    /// Pops the agenda until the run ends; returns how, and when.
    fn agenda_loop(
        &mut self,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(Outcome, u64), SimError> {
        let plan = self.plan;
        let steps = &plan.scenario.steps;
        let mut roots_left = plan.n_roots;
        while let Some(entry) = self.agenda.pop() {
            let (at, i, kind) = (entry.at, entry.step(), entry.kind());
            if kind == Kind::Decide {
                if run.ending.is_none() {
                    if i < plan.scenario.decisions.len() {
                        self.decide(i, at, opts, out, run)?;
                    } else if let Some(o) = self.recorded_ending(at, opts, out, run)? {
                        return Ok((o, at));
                    }
                }
                continue;
            }
            if entry.generation != self.steps[i].generation {
                continue; // superseded by an abandon or a rerun
            }
            if run.ending.is_some() && kind != Kind::EndingDone {
                continue; // nothing goes forward once a rollback or cancel began
            }
            if at > opts.limits.max_time.as_ms() {
                return Err(SimError::TimeLimit { limit: opts.limits.max_time, step: steps[i].id.clone() });
            }
            let root_done = match kind {
                Kind::Start => {
                    self.start(i, at, opts, out, run)?;
                    false
                }
                Kind::End => {
                    self.steps[i].running = false;
                    out.emit(at, Event::StepCompleted { step: StepIdx(i as u32), attempt: self.steps[i].attempt })?;
                    if !self.holding.is_empty() {
                        self.let_go(i, at);
                    }
                    if plan.facts[i].effects {
                        self.data_effects(i, at, 1.0, None, out)?;
                    }
                    self.step_done(i, at, out, run)?
                }
                Kind::Strike => {
                    self.strike(i, at, opts, out, run)?;
                    false
                }
                Kind::Recover => {
                    let flow = self.recover(i, at, opts, out, run)?;
                    // A rerun that reset finished top-level steps: the run waits for them again.
                    roots_left += std::mem::take(&mut run.roots_reopened);
                    match flow {
                        Flow::Continue => false,
                        Flow::Finished(o) => return Ok((o, at)),
                        // An unknown outcome verified complete, on a top-level step.
                        Flow::RootDone => true,
                    }
                }
                Kind::EndingDone => return Ok((self.ending_done(i, at, out, run)?, at)),
                Kind::Decide => unreachable!("go/no-go rules are handled before the step's checks"),
            };
            if root_done {
                roots_left -= 1;
                if roots_left == 0 {
                    return Ok((Outcome::Committed, at));
                }
            }
        }
        let waiting = (0..steps.len()).filter(|i| !self.steps[*i].completed).map(|i| steps[i].id.clone()).collect();
        Err(SimError::Stalled { waiting })
    }

    /// The plan's go/no-go rule `d` is due: if its step is not done, the
    /// plan rolls back now (the call was made in advance), the old system
    /// back after the policy's reaction and restore.
    fn decide(
        &mut self,
        d: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        let sc = self.plan.scenario;
        let rule = &sc.decisions[d];
        let s = rule.step.index();
        if self.steps[s].completed {
            return Ok(());
        }
        if at > opts.limits.max_time.as_ms() {
            return Err(SimError::TimeLimit { limit: opts.limits.max_time, step: sc.steps[s].id.clone() });
        }
        out.emit(at, Event::CheckpointMissed { step: rule.step })?;
        let times = self.recovery_times(Some(rule.policy), s, self.steps[s].attempt, opts);
        let late = recovery::past_deadline(&sc.policies[rule.policy.index()], at, run.downtime_first_began);
        out.emit(at, Event::RollbackStarted { step: rule.step, late })?;
        self.begin_ending(Ending::Rollback, s, at, times.reaction + times.undo, out, run)
    }

    /// A rollback's or cancel's undo is over: the run ends.
    fn ending_done(
        &mut self,
        i: usize,
        at: u64,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<Outcome, SimError> {
        if run.ending != Some(Ending::Rollback) {
            return Ok(Outcome::Cancelled);
        }
        // The users' changes until now, then the restore.
        self.sync_replication(i, at, false, out)?;
        self.backend.rollback()?;
        self.synced = None;
        self.emit_tables(i, at, out)?;
        out.emit(at, Event::RollbackCompleted)?;
        // The original environment is back online: users are let back in.
        while run.downtime_depth > 0 {
            run.close_downtime(at);
            out.emit(at, Event::DowntimeEnded { step: StepIdx(i as u32) })?;
        }
        Ok(Outcome::RolledBack)
    }

    fn reset(&mut self, opts: &RunOptions) -> Result<(), SimError> {
        let plan = self.plan;
        self.agenda.clear();
        self.inserted = 0;
        self.released.fill(false);
        // One pass, each step written whole (a copy of a template was a
        // `memcpy` that cost more in cache misses than it saved).
        for ((step, facts), &waits) in self.steps.iter_mut().zip(&plan.facts).zip(&plan.n_waits) {
            *step = StepRun { waits, children_left: facts.children, ..StepRun::default() };
        }
        self.faults.fill(StepFault::default());
        self.pending.fill(None);
        self.site_persistent.fill(false);
        self.snapshot_started = 0;
        self.replicating = false;
        self.synced = None;
        let lag_base = rng::StreamBase::new(opts.seed, opts.run, Purpose::Lag);
        for &(edge, least, most, key) in &plan.shared.ranged {
            self.edge_lag[edge.index()] = match opts.mode {
                Mode::Median => least + (most - least) / 2,
                Mode::Random => {
                    let u = rehearse_core::dist::unit(&mut lag_base.stream(key, 0));
                    least + rehearse_core::dist::round_ms(u * (most - least) as f64).min(most - least)
                }
            };
        }
        if !self.holding.is_empty() {
            self.free.copy_from_slice(&plan.shared.capacity);
            self.holding.fill(false);
            self.queued.clear();
        }
        self.backend.reset(plan.scenario)?;
        self.duration_base = rng::StreamBase::new(opts.seed, opts.run, Purpose::StepDuration);
        self.fault_base = rng::StreamBase::new(opts.seed, opts.run, Purpose::Fault);
        self.draw_first(opts);
        self.switch_sites(opts);
        Ok(())
    }
}

/// What the run does after a recovery took effect.
enum Flow {
    Continue,
    /// A top-level step completed (its unknown outcome verified complete).
    RootDone,
    Finished(Outcome),
}

/// The summary's fields that every run fills alike, through the agenda or
/// straight through: its identity, its end, and the downtime from its
/// intervals (already in `summary`).
pub(super) fn finish_summary(
    summary: &mut RunSummary,
    plan: &Plan<'_>,
    opts: &RunOptions,
    outcome: Outcome,
    now: u64,
    downtime_open: bool,
    n_events: u64,
) {
    summary.outcome = outcome;
    summary.seed = opts.seed;
    summary.run = opts.run;
    summary.mode = opts.mode;
    summary.scenario = plan.digest;
    summary.end = SimTime(now);
    summary.downtime = SimDuration(summary.downtime_intervals.iter().map(|(a, b)| b.since(*a).as_ms()).sum());
    summary.downtime_open = downtime_open;
    summary.n_events = n_events;
}
