//! The point of no return: the latest time into the downtime a rollback may
//! be decided and still end inside the window, and how it sits beside the
//! plan's own rollback deadlines.

use rehearse_core::fault::{Action, PolicyIdx};
use rehearse_core::scenario::{MAX_SPAN, Scenario};
use rehearse_core::time::SimDuration;

use super::pass::Sampled;
use super::stats::quantile;
use crate::rng::{self, Purpose};

/// The latest safe rollback decision.
#[derive(Clone, Debug, PartialEq)]
pub struct PointOfNoReturn {
    /// The rollback policy it is of: the slowest one the plan can reach
    /// during the downtime.
    pub policy: PolicyIdx,
    /// P90 of that policy's reaction plus its restore and swap (what a
    /// decision to roll back takes until the old system is back).
    pub rollback_p90_ms: u64,
    /// P90 of the restore and swap alone (from when the rollback begins).
    pub undo_p90_ms: u64,
    /// The latest time into the downtime a rollback may be decided and
    /// still end inside the window (at its P90): the window minus
    /// `rollback_p90_ms`, 0 when no rollback fits.
    pub latest_start_ms: u64,
    /// The plan's own rollback deadlines (a rollback must *begin* by then,
    /// into the downtime), beside what the window allows.
    pub deadlines: Vec<PlanDeadline>,
}

/// A rollback policy's `deadline`, checked against the window.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanDeadline {
    pub policy: PolicyIdx,
    pub deadline_ms: u64,
    /// The latest time this policy's rollback may begin and still end
    /// inside the window: the window minus its restore's P90.
    pub safe_begin_ms: u64,
}

impl PlanDeadline {
    /// The plan lets a rollback begin later than one can and still end
    /// inside the window.
    pub fn too_late(&self) -> bool {
        self.deadline_ms > self.safe_begin_ms
    }
}

/// P90s of a policy's reaction plus undo, and of its undo alone, by
/// sampling its own stream.
fn rollback_p90s(seed: u64, p: &rehearse_core::fault::Policy) -> (u64, u64) {
    let mut s = rng::stream(seed, 0, Purpose::Analysis, rng::key_of(&p.name), 0);
    let (mut both, mut undo): (Vec<u64>, Vec<u64>) = (0..10_000)
        .map(|_| {
            let reaction = p.reaction.as_ref().map_or(0, |d| d.sample(&mut s, MAX_SPAN).as_ms());
            let u = p.duration.as_ref().map_or(0, |d| d.sample(&mut s, MAX_SPAN).as_ms());
            (reaction + u, u)
        })
        .unzip();
    both.sort_unstable();
    undo.sort_unstable();
    (quantile(&both, 0.9), quantile(&undo, 0.9))
}

/// The latest rollback decision that still ends inside the window.
pub(super) fn point_of_no_return(
    sc: &Scenario,
    seed: u64,
    window: SimDuration,
    samples: &[&Sampled],
) -> Option<PointOfNoReturn> {
    // The rollbacks that can happen during the downtime: those the recovery
    // resolver can choose after a fault on a step that completes inside it
    // in some run (directly, once retries are spent, or past a deadline),
    // and those the plan's own go/no-go decisions take. A sandbox's
    // rollback does not count.
    let in_downtime = |i: usize| samples.iter().any(|r| r.done_at.get(i).copied().flatten().is_some_and(|e| e > 0));
    let mut reachable = vec![false; sc.policies.len()];
    for path in crate::engine::possible(sc) {
        if let (Action::Rollback, Some(p)) = (path.action, path.policy)
            && in_downtime(path.step.index())
        {
            reachable[p.index()] = true;
        }
    }
    for d in &sc.decisions {
        reachable[d.policy.index()] = true;
    }
    let window_ms = window.as_ms();
    let mut slowest: Option<(PolicyIdx, u64, u64)> = None;
    let mut deadlines = Vec::new();
    for (p, pol) in sc.policies.iter().enumerate() {
        if !reachable[p] || pol.action != Action::Rollback {
            continue;
        }
        let policy = PolicyIdx(p as u32);
        let (both, undo) = rollback_p90s(seed, pol);
        if slowest.is_none_or(|(_, b, _)| both > b) {
            slowest = Some((policy, both, undo));
        }
        if let Some(d) = pol.deadline {
            deadlines.push(PlanDeadline {
                policy,
                deadline_ms: d.as_ms(),
                safe_begin_ms: window_ms.saturating_sub(undo),
            });
        }
    }
    let (policy, rollback_p90_ms, undo_p90_ms) = slowest?;
    Some(PointOfNoReturn {
        policy,
        rollback_p90_ms,
        undo_p90_ms,
        latest_start_ms: window_ms.saturating_sub(rollback_p90_ms),
        deadlines,
    })
}
