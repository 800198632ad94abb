//! What a step waits for beside its dependencies: a fixed slot
//! (`not_before`) and the resources it needs (`[[resource]]`). A step whose
//! dependencies are done is held until its slot, then takes its resources
//! if every one has capacity free, or joins the queue; a resource let go
//! serves the queue in plan order (the step declared first first), so the
//! order is a rule of the plan, never of the order events were handled in.
//! An attempt holds its resources from its start to its end or its fault:
//! a recovery's reaction and fix do not hold them.

use rehearse_core::event::Event;
use rehearse_core::scenario::StepIdx;

use super::Simulator;
use super::agenda::Kind;
use super::emit::Emitter;
use super::plan::Node;
use super::state::RunTrack;
use crate::SimError;

impl Simulator<'_, '_> {
    /// Whether step `i`, due to start at `at`, may start now: past its slot
    /// and holding its resources (taken now if free). If not, it is put
    /// back on the agenda at its slot, or in the resources' queue, and the
    /// wait is an event.
    pub(super) fn gate(&mut self, i: usize, at: u64, out: &mut Emitter<'_>, run: &RunTrack) -> Result<bool, SimError> {
        let sh = &self.plan.shared;
        let step = StepIdx(i as u32);
        if let (Some(Some(slot)), Some(began)) = (sh.not_before.get(i), run.downtime_first_began) {
            let slot = u64::try_from(began as i64 + slot).unwrap_or(0);
            if at < slot {
                out.emit(at, Event::StepHeld { step })?;
                // The slot, not what came before, decides its start.
                self.steps[i].start_cause = None;
                self.schedule(slot, i, Kind::Start);
                return Ok(false);
            }
        }
        if self.holding.is_empty() || self.holding[i] {
            return Ok(true);
        }
        let needs = sh.needs.of(i);
        // Working hours: held until every resource it needs is within its
        // hours (each opening may move the others'; a few rounds settle it).
        if let (false, Some(began), Some(a)) =
            (sh.hours.is_empty(), run.downtime_first_began, &self.plan.scenario.meta.anchor)
        {
            let mut due = at;
            for _ in 0..4 {
                let before = due;
                for r in needs {
                    if let Some(h) = sh.hours[*r as usize] {
                        let off = a.next_within(due as i64 - began as i64, h);
                        due = due.max(u64::try_from(began as i64 + off).unwrap_or(due));
                    }
                }
                if due == before {
                    break;
                }
            }
            if due > at {
                out.emit(at, Event::StepHeld { step })?;
                self.steps[i].start_cause = None;
                self.schedule(due, i, Kind::Start);
                return Ok(false);
            }
        }
        if let Some(&busy) = needs.iter().find(|r| self.free[**r as usize] == 0) {
            if let Err(k) = self.queued.binary_search(&i) {
                self.queued.insert(k, i);
                out.emit(at, Event::StepWaited { step, resource: busy })?;
            }
            return Ok(false);
        }
        self.take(i);
        Ok(true)
    }

    fn take(&mut self, i: usize) {
        for r in self.plan.shared.needs.of(i) {
            self.free[*r as usize] -= 1;
        }
        self.holding[i] = !self.plan.shared.needs.of(i).is_empty();
    }

    /// Step `i`'s attempt is over (it ended, a fault struck it, a rerun
    /// reset it), or it no longer waits: it leaves the queue and lets its
    /// resources go, and the steps waiting for them that can now start do,
    /// at `at`, in plan order, each started by `i`'s end on the critical
    /// path.
    pub(super) fn let_go(&mut self, i: usize, at: u64) {
        if let Ok(k) = self.queued.binary_search(&i) {
            self.queued.remove(k);
        }
        if !std::mem::take(&mut self.holding[i]) {
            return;
        }
        let sh = &self.plan.shared;
        for r in sh.needs.of(i) {
            self.free[*r as usize] += 1;
        }
        let mut k = 0;
        while k < self.queued.len() {
            let j = self.queued[k];
            if sh.needs.of(j).iter().all(|r| self.free[*r as usize] > 0) {
                self.queued.remove(k);
                // With working hours the gate decides again when it starts
                // (it may be out of hours now): taken then, not here.
                if sh.hours.is_empty() {
                    self.take(j);
                }
                // (Without taking, every waiting step that fits is woken;
                // those that find the resource taken queue again.)
                self.steps[j].start_cause = Some(Node::end(i));
                self.schedule(at, j, Kind::Start);
            } else {
                k += 1;
            }
        }
    }
}
