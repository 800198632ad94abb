//! Reruns: running again from an earlier step, and what that resets.

use rehearse_core::event::Event;
use rehearse_core::scenario::{Graph, StepIdx};

use super::Simulator;
use super::agenda::Kind;
use super::emit::Emitter;
use crate::SimError;

impl Simulator<'_, '_> {
    /// Runs again from `from`: it, the steps beside it on the way to the
    /// failed step, and everything inside them.
    /// Returns how many completed top-level steps it reset: the run waits
    /// for them again.
    pub(super) fn rerun(
        &mut self,
        from: StepIdx,
        failed: StepIdx,
        at: u64,
        out: &mut Emitter<'_>,
    ) -> Result<u32, SimError> {
        let plan = self.plan;
        let steps = &plan.scenario.steps;
        let (set, mut todo, mut ready) = std::mem::take(&mut self.rerun_buffers);
        let set = self.rerun_set(from, failed, set, &mut todo);
        ready.clear();
        let mut roots_reopened = 0;
        if !self.holding.is_empty() {
            // Out of the queue first, so that a resource let go below is
            // never handed to a step about to be reset.
            self.queued.retain(|j| !set[*j]);
        }
        for j in 0..steps.len() {
            if !set[j] {
                continue;
            }
            if self.steps[j].completed && steps[j].parent.is_none() {
                roots_reopened += 1;
            }
            if self.steps[j].running {
                self.steps[j].running = false;
                out.emit(at, Event::StepAbandoned { step: StepIdx(j as u32), attempt: self.steps[j].attempt })?;
            }
            if self.steps[j].attempt > 0 {
                out.emit(at, Event::StepReset { step: StepIdx(j as u32) })?;
            }
            // The failed step keeps counting against its own budget: a rerun
            // it asked for is one of its retries.
            if j != failed.index() {
                self.faults[j].attempt_base = self.steps[j].attempt;
            }
            self.steps[j].generation += 1;
            self.pending[j] = None;
            self.steps[j].resuming = false; // a rerun starts the step afresh
            if !self.holding.is_empty() {
                self.let_go(j, at);
            }
            if self.steps[j].completed
                && let Some(p) = steps[j].parent
                && !set[p.index()]
            {
                self.steps[p.index()].children_left += 1;
            }
            self.steps[j].completed = false;
            self.steps[j].children_left = plan.facts[j].children;
            self.steps[j].last_child_end = 0;
            self.steps[j].end_cause = None;
            self.steps[j].ready_at = at;
            self.steps[j].start_edge = None;
        }
        // A step outside the rerun that waits on one inside and has not
        // started yet waits for the rerun: the edge fires again (a start
        // already scheduled is withdrawn). One that already started keeps
        // its start.
        for k in 0..steps.len() {
            if set[k] || self.steps[k].running || self.steps[k].completed || self.pending[k].is_some() {
                continue;
            }
            let was_due = self.steps[k].waits == 0;
            for &e in &plan.incoming[k] {
                if set[plan.edge_source[e.index()] as usize] && self.released[e.index()] {
                    self.released[e.index()] = false;
                    self.steps[k].waits += 1;
                }
            }
            if was_due && self.steps[k].waits > 0 {
                self.steps[k].generation += 1;
                if !self.holding.is_empty() {
                    self.let_go(k, at);
                }
            }
        }
        // Edges from steps being rerun must fire again; the rest stay.
        for j in 0..steps.len() {
            if !set[j] {
                continue;
            }
            let mut waits = 0;
            for &e in &plan.incoming[j] {
                let source = plan.edge_source[e.index()] as usize;
                if set[source] {
                    self.released[e.index()] = false;
                }
                if self.released[e.index()] {
                    // A step outside the rerun already allowed this one, from
                    // a time that may still lie ahead (its lag): keep it.
                    self.steps[j].ready_at = self.steps[j].ready_at.max(self.edge_ready[e.index()]);
                } else {
                    waits += 1;
                }
            }
            self.steps[j].waits = waits;
            if waits == 0 {
                ready.push(j);
            }
        }
        for &j in &ready {
            self.schedule(self.steps[j].ready_at, j, Kind::Start);
        }
        self.rerun_buffers = (set, todo, ready);
        Ok(roots_reopened)
    }

    /// The steps a rerun from `from` runs again (see `rerun`), marked in
    /// `set` (cleared first); `todo` is scratch.
    fn rerun_set(&mut self, from: StepIdx, failed: StepIdx, mut set: Vec<bool>, todo: &mut Vec<StepIdx>) -> Vec<bool> {
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
        set.clear();
        set.resize(steps.len(), false);
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
        set
    }
}
