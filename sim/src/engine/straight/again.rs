//! Struck steps tried again in a straight run: each one's attempts, as
//! the engine's own functions time them, and the strikes put in the
//! order they strike.

use rehearse_core::fault::{Action, FaultIdx, PolicyIdx};
use rehearse_core::replication::Role;
use rehearse_core::scenario::StepIdx;

use super::super::plan::Node;
use super::super::{Injection, RunOptions, Simulator};
use crate::rng;
use crate::summary::RunSummary;

impl Simulator<'_, '_> {
    /// Step `i`, struck on its first attempt, tried again the way its
    /// recoveries say, as the engine does: each attempt drawn from the
    /// step's stream for it, each strike found by `first_strike`, each
    /// recovery by `choose_recovery` and timed by `recovery_times` (the
    /// reaction, then the fix, before the next attempt starts). Records the
    /// strikes and recoveries in `summary`; returns the time from the
    /// first start to the end and the number of attempts, or, when the
    /// first strike calls for a rerun that straight runs follow (see
    /// [`Rerun`]), which one (`rerun_times` follows it). `None` when a strike
    /// calls for more (another rerun, a rollback, an abort) or is one the
    /// engine must follow (a persistent fault, an unknown outcome): the run
    /// then goes through the engine.
    pub(super) fn tried_again(&mut self, i: usize, opts: &RunOptions, summary: &mut RunSummary) -> Option<Again> {
        let plan = self.plan;
        let sc = plan.scenario;
        if !plan.facts[i].leaf || plan.facts[i].replication == Some(Role::CaughtUp) {
            return None; // (the wait's length depends on when it starts)
        }
        // The engine's state for these, as it is when a run begins.
        self.fault_base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::Fault);
        self.switch_sites(opts);
        self.site_persistent.fill(false);
        self.faults[i].attempt_base = 0;
        let (mut attempt, mut total) = (1u32, 0u64);
        let mut dur = self.attempt_ms(i, attempt, opts).0;
        while let Some((lost, f, share)) = self.first_strike(i, attempt, dur, opts) {
            let (policy, action, _) = self.choose_recovery(f, i, attempt);
            if !self.plain_strike(f, policy) {
                return None;
            }
            if action == Action::Rerun && attempt == 1 {
                let from = policy.and_then(|p| sc.policies[p.index()].from).map_or(i, StepIdx::index);
                let straight = plan.straight.as_ref()?;
                return straight.reruns.iter().position(|r| (r.from, r.failed) == (from, i)).map(Again::Rerun);
            }
            if !matches!(action, Action::Resume | Action::Retry) {
                return None;
            }
            let times = self.recovery_times(policy, i, attempt, opts);
            let step = StepIdx(i as u32);
            summary.injected.push(Injection { fault: f, step, attempt });
            summary.recoveries.push((f, step, action));
            self.strikes.push((i, total.saturating_add(lost), share, f));
            total = total.saturating_add(lost).saturating_add(times.reaction).saturating_add(times.fix);
            if action != Action::Resume {
                // (Resumed: the step done again, whole, as it was.)
                let (ms, apply) = self.attempt_ms(i, attempt + 1, opts);
                dur = ms;
                if plan.facts[i].replication == Some(Role::Snapshot) {
                    self.restarts.push((total, apply));
                }
            }
            attempt += 1;
        }
        Some(Again::Tried(total.saturating_add(dur), attempt))
    }

    /// Attempt `attempt` of leaf `i`: its length as the engine's `start`
    /// draws it (the first from the batch already drawn), and for a
    /// replication step the agent's apply time drawn with it (see
    /// `replication_attempt`).
    fn attempt_ms(&self, i: usize, attempt: u32, opts: &RunOptions) -> (u64, f64) {
        match self.plan.facts[i].replication {
            Some(_) => self.replication_attempt(i, attempt, opts),
            None if attempt == 1 => (self.first_ms[i], 0.0),
            None => {
                let base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::StepDuration);
                (self.draw_attempt(base, i, attempt, opts.mode).0, 0.0)
            }
        }
    }

    /// The first `tried` strikes, those `tried_again` recorded, in run
    /// time, by the node times just computed (each struck step's node
    /// starts at its first start; a rerun's strikes are in run time
    /// already).
    pub(super) fn strikes_in_run_time(&mut self, tried: usize) {
        for s in &mut self.strikes[..tried] {
            s.1 += self.node_ms[Node::start(s.0).index()];
        }
    }

    /// Puts the strikes `tried_again` recorded step by step (`strikes`, in
    /// run time, and `summary`'s injections and recoveries beside them) in
    /// the order they strike; false when two on different steps strike at
    /// the same millisecond.
    pub(super) fn strikes_in_time_order(&mut self, summary: &mut RunSummary) -> bool {
        let mut order: Vec<(u64, usize)> = self.strikes.iter().enumerate().map(|(k, s)| (s.1, k)).collect();
        order.sort_unstable();
        if order.windows(2).any(|w| w[0].0 == w[1].0) {
            return false;
        }
        self.strikes = order.iter().map(|&(_, k)| self.strikes[k]).collect();
        summary.injected = order.iter().map(|&(_, k)| summary.injected[k]).collect();
        summary.recoveries = order.iter().map(|&(_, k)| summary.recoveries[k]).collect();
        true
    }

    /// Whether a strike of fault `f`, recovered by `policy`, is one a
    /// straight run follows: not an unknown outcome (the engine verifies
    /// it), and not a persistent fault that the recovery leaves in place
    /// (only a fix clears one; the next attempt would fail again).
    pub(super) fn plain_strike(&self, f: FaultIdx, policy: Option<PolicyIdx>) -> bool {
        let sc = self.plan.scenario;
        let fault = &sc.faults[f.index()];
        let cleared = policy.is_some_and(|p| sc.policies[p.index()].fix.is_some());
        !fault.unknown_outcome && (!fault.persistent || cleared)
    }
}

/// The steps struck on a straight run's first attempts, in plan order.
#[derive(Default)]
pub(super) struct Struck {
    steps: [usize; Struck::MAX],
    len: usize,
}

impl Struck {
    /// More struck steps than this are left to the engine.
    pub(super) const MAX: usize = 4;

    /// Adds step `i` (sites come step by step); false when there is no
    /// room.
    pub(super) fn add(&mut self, i: usize) -> bool {
        if self.len > 0 && self.steps[self.len - 1] == i {
            return true;
        }
        if self.len == Struck::MAX {
            return false;
        }
        self.steps[self.len] = i;
        self.len += 1;
        true
    }

    pub(super) fn steps(&self) -> &[usize] {
        &self.steps[..self.len]
    }
}

/// The struck steps tried again: (step, from its first start to its end,
/// its attempts).
#[derive(Default)]
pub(super) struct Retried {
    all: [(usize, u64, u32); Struck::MAX],
    len: usize,
}

impl Retried {
    pub(super) fn push(&mut self, r: (usize, u64, u32)) {
        self.all[self.len] = r;
        self.len += 1;
    }

    pub(super) fn all(&self) -> &[(usize, u64, u32)] {
        &self.all[..self.len]
    }
}

/// What came of the strikes on one step (see `Simulator::tried_again`).
pub(super) enum Again {
    /// Tried again: from its first start to its end, and its attempts.
    Tried(u64, u32),
    /// Rerun: the plan's `StraightPlan::reruns[k]`.
    Rerun(usize),
}
