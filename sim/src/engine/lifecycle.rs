//! A step's life in the engine: its start (a fault's draw, a step held or
//! queued, the work begun), its end (the parent's wait, the edges it
//! releases), the steps abandoned when a run ends early, and the release
//! of one edge.

use rehearse_core::event::{Event, Mode};
use rehearse_core::scenario::{StepIdx, Work};

use super::agenda::{Entry, Kind};
use super::emit::Emitter;
use super::plan::{self, Edge, Node};
use super::state::{RunTrack, StepFault};
use super::{RunOptions, Simulator};
use super::{forecast, path};
use crate::{SimError, rng};

impl<'p, 's> Simulator<'p, 's> {
    /// Step `i` may start at `at`: its gate, its attempt begun, the edges
    /// its start releases, and for a leaf its length drawn and its end or
    /// a fault's strike put on the agenda. (Inlined into the agenda loop,
    /// its one caller, as it was when the two shared a file.)
    #[inline]
    pub(super) fn start(
        &mut self,
        i: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        let plan = self.plan;
        // (The scenario's step is read only to draw again: it is large,
        // and read on every start it crowded the loop's cache.)
        let replication = plan.facts[i].replication;
        if self.steps[i].attempt == 0
            && let Some(f) = &plan.actuals
        {
            // From actuals: a step starts when it did, and one that had not
            // started by now starts no earlier than now.
            let due = f.actuals.started_ms[i].unwrap_or(f.actuals.now_ms);
            if at < due {
                self.schedule(due, i, Kind::Start);
                return Ok(());
            }
        }
        if plan.facts[i].gated && !self.gate(i, at, out, run)? {
            return Ok(());
        }
        self.steps[i].attempt += 1;
        let attempt = self.steps[i].attempt;
        if attempt == 1 {
            self.steps[i].start = at;
        }
        self.steps[i].running = true;
        out.emit(at, Event::StepStarted { step: StepIdx(i as u32), attempt })?;
        if plan.facts[i].begins && attempt == 1 {
            if run.downtime_first_began.is_none() {
                // The plan's go/no-go rules count from here.
                for (d, rule) in plan.scenario.decisions.iter().enumerate() {
                    self.agenda.push(Entry::new(at + rule.by.as_ms(), self.inserted, d, Kind::Decide, 0));
                    self.inserted += 1;
                }
            }
            run.open_downtime(at);
            out.emit(at, Event::DowntimeBegan { step: StepIdx(i as u32) })?;
        }
        for &(edge, target, lag) in plan.on_start.of(i) {
            let lag = if lag == plan::RANGED { self.edge_lag[edge.index()] } else { lag };
            self.release(edge, target as usize, at + lag, Node::start(i));
        }
        if !plan.facts[i].leaf {
            return Ok(());
        }
        let resumed = std::mem::take(&mut self.steps[i].resuming);
        let dur = match resumed {
            // Resumed: the interrupted step done again (001: the Resume
            // button "will pick up at this step and move forward").
            true => self.faults[i].redo_ms,
            // Drawn with the others when the run started.
            false if attempt == 1 && self.first_drawn && replication.is_none() => self.first_ms[i],
            false => {
                let (mut dur, mut draws) = self.draw_attempt(self.duration_base, i, attempt, opts.mode);
                if let Some(role) = replication {
                    dur = dur.saturating_add(self.replication_ms(i, role, at, draws.as_mut(), out)?);
                }
                dur
            }
        };
        self.steps[i].end_cause = Some(Node::start(i));
        // From actuals, an attempt lasts as recorded (see `forecast`).
        let (dur, struck_before) = match self.actual_attempt(i, attempt, at, dur, resumed, opts) {
            None => (dur, 0),
            Some(forecast::Attempt::Runs { dur, struck_before }) => (dur, struck_before),
            Some(forecast::Attempt::Struck { dur, lost, fault }) => {
                let share = if dur == 0 { 0.0 } else { lost as f64 / dur as f64 };
                self.faults[i] =
                    StepFault { redo_ms: dur, strike_share: share, striking: Some(fault), ..self.faults[i] };
                self.schedule(at + lost, i, Kind::Strike);
                return Ok(());
            }
        };
        if let Some((lost, f, share)) =
            self.first_strike(i, attempt, dur, opts).filter(|(lost, ..)| at + lost >= struck_before)
        {
            self.faults[i] = StepFault { redo_ms: dur, strike_share: share, striking: Some(f), ..self.faults[i] };
            self.schedule(at + lost, i, Kind::Strike);
            return Ok(());
        }
        self.schedule(at + dur, i, Kind::End);
        Ok(())
    }

    /// Leaf `i`'s own duration on attempt `attempt`, drawn afresh from its
    /// stream under `base` (a median run: the median), and the stream,
    /// which goes on to draw what else the attempt needs (a replication
    /// step's throughputs).
    #[inline(always)] // (on every start: out of line, it cost a median run 2 % more instructions)
    pub(super) fn draw_attempt(
        &self,
        base: rng::StreamBase,
        i: usize,
        attempt: u32,
        mode: Mode,
    ) -> (u64, Option<rng::Stream>) {
        let plan = self.plan;
        match mode {
            Mode::Median => (plan.median_ms[i], None),
            Mode::Random => {
                // (The scenario's step, large, is read only here.)
                let Work::Leaf(d) = &plan.scenario.steps[i].work else { unreachable!("a leaf step") };
                let mut s = base.stream(plan.keys[i], u64::from(attempt));
                (self.scaled(i, d.sample(&mut s).as_ms()), Some(s))
            }
        }
    }

    /// Bookkeeping once step `i` has ended well: downtime, successors, the
    /// parent. Returns whether `i` is a top-level step.
    pub(super) fn step_done(
        &mut self,
        i: usize,
        at: u64,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<bool, SimError> {
        let plan = self.plan;
        let facts = plan.facts[i];
        self.steps[i].running = false;
        self.steps[i].completed = true;
        self.steps[i].end = at;
        if facts.ends && run.downtime_depth > 0 {
            run.close_downtime(at);
            out.emit(at, Event::DowntimeEnded { step: StepIdx(i as u32) })?;
        }
        for &(edge, target, lag) in plan.on_end.of(i) {
            let lag = if lag == plan::RANGED { self.edge_lag[edge.index()] } else { lag };
            self.release(edge, target as usize, at + lag, Node::end(i));
        }
        let Some(p) = facts.parent else { return Ok(true) };
        let p = p.index();
        let group = &mut self.steps[p];
        group.children_left -= 1;
        // The last sub-step to end ends the group; of sub-steps ending at
        // the same millisecond, the one declared last.
        if path::later(at, Node::end(i), group.last_child_end, group.end_cause) {
            group.last_child_end = at;
            group.end_cause = Some(Node::end(i));
        }
        if group.children_left == 0 {
            self.schedule(at + plan.facts[p].finish_lag, p, Kind::End);
        }
        Ok(false)
    }

    /// Stops every running step (a rollback, cancel or abort began).
    pub(super) fn abandon_all(&mut self, at: u64, out: &mut Emitter<'_>) -> Result<(), SimError> {
        for j in 0..self.steps.len() {
            if self.steps[j].running {
                self.steps[j].running = false;
                self.steps[j].generation += 1;
                self.steps[j].end = at;
                out.emit(at, Event::StepAbandoned { step: StepIdx(j as u32), attempt: self.steps[j].attempt })?;
            }
        }
        for j in 0..self.pending.len() {
            if self.pending[j].is_some() {
                self.steps[j].generation += 1;
                self.pending[j] = None;
            }
        }
        Ok(())
    }

    /// One of `target`'s waits is over; it may start at `at` at the earliest.
    pub(super) fn release(&mut self, edge: Edge, target: usize, at: u64, cause: Node) {
        if self.released[edge.index()] {
            return; // a rerun step ending again: successors outside the rerun that already started keep their start (see `rerun`)
        }
        self.released[edge.index()] = true;
        self.edge_ready[edge.index()] = at;
        // The latest edge is what released the step; of edges due at the
        // same millisecond, the one declared last (the parent's edge comes
        // before the step's `after` list). A rule of the plan, not of the
        // order events happen to be handled in, so the critical path of a
        // run is a function of its times.
        let step = &mut self.steps[target];
        if path::later(at, edge, step.ready_at, step.start_edge) {
            step.ready_at = at;
            step.start_cause = Some(cause);
            step.start_edge = Some(edge);
        }
        step.waits -= 1;
        if step.waits == 0 {
            let ready_at = step.ready_at;
            self.schedule(ready_at, target, Kind::Start);
        }
    }
}
