//! Reruns: running again from an earlier step, and what that resets.

use rehearse_core::event::Event;
use rehearse_core::scenario::{Graph, StepIdx};

use super::Simulator;
use super::agenda::Kind;
use super::emit::Emitter;
use super::plan::NONE;
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
            self.schedule(self.ready_at[j], j, Kind::Start);
        }
        self.rerun_buffers = (set, todo, ready);
        Ok(roots_reopened)
    }
}
