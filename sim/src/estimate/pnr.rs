//! The point of no return: the latest time into the downtime a rollback may
//! begin and still end inside the window, and the go/no-go checkpoint (the
//! last step a typical run has done by then).

use rehearse_core::fault::Action;
use rehearse_core::scenario::{Scenario, StepIdx};
use rehearse_core::time::SimDuration;

use super::pass::Sampled;
use super::stats::quantile;
use crate::rng::{self, Purpose};

/// The latest safe rollback decision.
#[derive(Clone, Debug, PartialEq)]
pub struct PointOfNoReturn {
    /// P90 of the slowest rollback policy (reaction plus restore and swap).
    pub rollback_p90_ms: u64,
    /// The latest time into the downtime a rollback may begin and still end
    /// inside the window.
    pub latest_start_ms: u64,
    /// The last step a typical run has done by then, and its median end.
    pub checkpoint: Option<(StepIdx, u64)>,
}

/// The latest rollback decision that still ends inside the window.
pub(super) fn point_of_no_return(
    sc: &Scenario,
    seed: u64,
    window: SimDuration,
    samples: &[&Sampled],
) -> Option<PointOfNoReturn> {
    // The rollbacks that can happen during the downtime: those the recovery
    // resolver can choose after a fault on a step that runs inside it
    // (directly, once retries are spent, or past a deadline). A sandbox's
    // rollback does not count.
    let in_downtime =
        |i: usize| samples.iter().any(|r| r.ends_in_downtime.get(i).copied().flatten().is_some_and(|e| e > 0));
    let mut reachable = vec![false; sc.policies.len()];
    for path in crate::engine::possible(sc) {
        if let (Action::Rollback, Some(p)) = (path.action, path.policy)
            && in_downtime(path.step.index())
        {
            reachable[p.index()] = true;
        }
    }
    let rollbacks: Vec<_> = sc
        .policies
        .iter()
        .enumerate()
        .filter(|(p, pol)| reachable[*p] && pol.action == Action::Rollback)
        .map(|(_, pol)| pol)
        .collect();
    if rollbacks.is_empty() {
        return None;
    }
    // P90 of reaction + restore for each rollback policy, by sampling its
    // own stream; the slowest one decides.
    let rollback_p90_ms = rollbacks
        .iter()
        .map(|p| {
            let mut s = rng::stream(seed, 0, Purpose::Analysis, rng::key_of(&p.name), 0);
            let cap = rehearse_core::scenario::MAX_SPAN;
            let mut v: Vec<u64> = (0..10_000)
                .map(|_| {
                    let reaction = p.reaction.as_ref().map_or(0, |d| d.sample(&mut s, cap).as_ms());
                    let undo = p.duration.as_ref().map_or(0, |d| d.sample(&mut s, cap).as_ms());
                    reaction + undo
                })
                .collect();
            v.sort_unstable();
            quantile(&v, 0.9)
        })
        .max()?;
    let latest_start_ms = window.as_ms().saturating_sub(rollback_p90_ms);
    // The last step a typical run (the median) has done by then: if it is
    // not done at the point of no return, the run is late: roll back.
    let mut checkpoint: Option<(StepIdx, u64)> = None;
    for i in 0..sc.steps.len() {
        if latest_start_ms == 0 {
            break; // no rollback fits: there is no checkpoint to keep
        }
        if sc.steps[i].is_group() {
            continue; // name the step that does the work
        }
        // Steps that end inside the downtime (not as it begins).
        let mut ends: Vec<u64> =
            samples.iter().filter_map(|r| r.ends_in_downtime.get(i).copied().flatten()).filter(|e| *e > 0).collect();
        if ends.len() < samples.len() / 2 || ends.is_empty() {
            continue; // not a step of the downtime
        }
        ends.sort_unstable();
        let p50 = quantile(&ends, 0.5);
        if p50 <= latest_start_ms && checkpoint.is_none_or(|(_, best)| p50 > best) {
            checkpoint = Some((StepIdx(i as u32), p50));
        }
    }
    Some(PointOfNoReturn { rollback_p90_ms, latest_start_ms, checkpoint })
}
