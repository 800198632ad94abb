//! Which recovery applies after a fault strikes: the one resolver the
//! engine, the straight pass, `check`'s coverage and the point of no return
//! all ask, so that they cannot disagree.
//!
//! A fault names a policy; the policy that applies is found by following
//! hand-overs from it: a retrying policy whose budget is spent hands over to
//! its `then` (abort, with no policy, when it has none), and a rollback past
//! its deadline to its `past_deadline` (it begins late when it has none).
//! The engine asks twice: when the fault strikes, with no deadline checked
//! (a rollback's deadline is about when it begins, after the reaction), and,
//! for a rollback, again when it is about to begin, from the rollback's
//! policy with the deadlines checked at that time. Both walks are this one.

use std::collections::BTreeSet;

use rehearse_core::fault::{Action, FaultIdx, Policy, PolicyIdx};
use rehearse_core::scenario::{Scenario, StepIdx};

/// The recovery that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// `None`: abort, with no policy (a spent budget with no `then`, or a
    /// hand-over chain that loops).
    pub policy: Option<PolicyIdx>,
    pub action: Action,
    /// The policy's budget, in attempts of the step since it was last reset
    /// (counting the attempts before the reset).
    pub max_attempts: u32,
    /// A rollback past its deadline, with nothing to do instead: it begins late.
    pub late: bool,
}

/// Follows hand-overs from `from` for attempt `attempt` of a step that had
/// made `base` attempts when it was last reset by a rerun; `late` says
/// whether a rollback policy is past its deadline now (`|_| false` when
/// deadlines are not checked). A chain of hand-overs longer than the plan's
/// policies has looped (validation rules that out): it ends in an abort.
pub(crate) fn resolve(
    sc: &Scenario,
    from: PolicyIdx,
    attempt: u32,
    base: u32,
    late: impl Fn(&Policy) -> bool,
) -> Resolved {
    let mut p = from;
    for _ in 0..=sc.policies.len() {
        let pol = &sc.policies[p.index()];
        let max_attempts = base + pol.max_attempts;
        if pol.action.retries() && attempt >= max_attempts {
            match pol.then {
                Some(next) => p = next,
                None => return Resolved { policy: None, action: Action::Abort, max_attempts, late: false },
            }
            continue;
        }
        let late = pol.action == Action::Rollback && late(pol);
        if late && let Some(instead) = pol.past_deadline {
            p = instead;
            continue;
        }
        return Resolved { policy: Some(p), action: pol.action, max_attempts, late };
    }
    Resolved { policy: None, action: Action::Abort, max_attempts: 0, late: false }
}

/// Whether rollback policy `pol` is past its deadline at `at`: the deadline
/// counts into the downtime (`downtime_began`), so before it began, a
/// rollback is never late.
pub(crate) fn past_deadline(pol: &Policy, at: u64, downtime_began: Option<u64>) -> bool {
    pol.deadline.zip(downtime_began).is_some_and(|(d, began)| at > began + d.as_ms())
}

/// One recovery a plan can choose, as the engine records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecoveryPath {
    pub fault: FaultIdx,
    pub step: StepIdx,
    /// `None`: abort with no policy.
    pub policy: Option<PolicyIdx>,
    pub action: Action,
}

/// Every recovery the engine can choose, through `resolve` as the engine
/// asks it: at the strike, then, for a rollback, when it is about to begin.
///
/// What the resolver depends on is enumerated: the attempt, counted since
/// the step was last reset (attempt 1 always; attempt k + 1 when some fault
/// on the step can make it try again at attempt k; past every budget, all
/// attempts resolve alike), and which deadlines have passed (none, or those
/// up to each deadline of the plan). Times are not modelled, so a path may
/// be possible that no run reaches; none that a run reaches is missing.
pub fn possible(sc: &Scenario) -> BTreeSet<RecoveryPath> {
    let spent_from = 1 + sc.policies.iter().map(|p| p.max_attempts).max().unwrap_or(0);
    let mut deadlines: Vec<u64> = sc.policies.iter().filter_map(|p| p.deadline.map(|d| d.as_ms())).collect();
    deadlines.sort_unstable();
    deadlines.dedup();
    // Time since the downtime began, as far as deadlines tell apart.
    let elapsed: Vec<Option<u64>> = std::iter::once(None).chain(deadlines.iter().map(|d| Some(d + 1))).collect();
    let mut out = BTreeSet::new();
    for i in 0..sc.steps.len() {
        let step = StepIdx(i as u32);
        let faults: Vec<FaultIdx> =
            (0..sc.faults.len()).filter(|f| sc.faults[*f].steps.contains(&step)).map(|f| FaultIdx(f as u32)).collect();
        let mut attempt = 1;
        while !faults.is_empty() && attempt <= spent_from {
            let mut again = false;
            for &fault in &faults {
                let first = resolve(sc, sc.faults[fault.index()].recovery, attempt, 0, |_| false);
                out.insert(RecoveryPath { fault, step, policy: first.policy, action: first.action });
                for e in &elapsed {
                    let mut last = first;
                    if let (Action::Rollback, Some(p)) = (first.action, first.policy) {
                        let at = e.unwrap_or(0);
                        last = resolve(sc, p, attempt, 0, |pol| past_deadline(pol, at, e.map(|_| 0)));
                        if last.policy != first.policy {
                            out.insert(RecoveryPath { fault, step, policy: last.policy, action: last.action });
                        }
                    }
                    again |= last.action.retries();
                }
            }
            if !again {
                break;
            }
            attempt += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rehearse_core::fault::Action;
    use rehearse_core::scenario::Scenario;

    use super::{possible, resolve};

    fn plan(policies: &str) -> Scenario {
        let text = format!(
            "[scenario]\nname = \"r\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n\
             [[fault]]\nid = \"f\"\nmessage = \"m\"\nsteps = [\"a\"]\nprobability = 0.5\nrecovery = \"first\"\n{policies}"
        );
        Scenario::parse(&text, "r.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn actions(sc: &Scenario) -> Vec<Action> {
        possible(sc).iter().map(|p| p.action).collect()
    }

    /// Spent budgets follow `then`, late rollbacks `past_deadline`, and the
    /// two combine the same way whichever comes first.
    #[test]
    fn hand_overs_follow_then_and_past_deadline() {
        let sc = plan(
            "[recovery.first]\naction = \"rollback\"\nduration = \"1h\"\ndeadline = \"2h\"\npast_deadline = \"resume\"\n\
             [recovery.resume]\naction = \"resume\"\nmax_attempts = 1\nthen = \"again\"\n\
             [recovery.again]\naction = \"rollback\"\nduration = \"1h\"\n",
        );
        let first = sc.faults[0].recovery;
        let r = resolve(&sc, first, 1, 0, |_| false);
        assert_eq!((r.policy, r.action, r.late), (Some(first), Action::Rollback, false));
        let r = resolve(&sc, first, 1, 0, |pol| pol.deadline.is_some());
        assert_eq!(r.action, Action::Rollback);
        assert_eq!(sc.policies[r.policy.unwrap().index()].name, "again");
        assert!(!r.late, "the rollback handed over to has no deadline");
        assert_eq!(actions(&sc), [Action::Rollback, Action::Rollback]);

        let sc = plan("[recovery.first]\naction = \"retry\"\nmax_attempts = 3\n");
        assert_eq!(resolve(&sc, sc.faults[0].recovery, 2, 0, |_| false).action, Action::Retry);
        let spent = resolve(&sc, sc.faults[0].recovery, 3, 0, |_| false);
        assert_eq!((spent.policy, spent.action), (None, Action::Abort));
        // Attempts before a rerun's reset count against the budget no more.
        assert_eq!(resolve(&sc, sc.faults[0].recovery, 3, 1, |_| false).action, Action::Retry);
        assert_eq!(actions(&sc), [Action::Abort, Action::Retry]);

        let sc = plan("[recovery.first]\naction = \"rollback\"\nduration = \"1h\"\ndeadline = \"2h\"\n");
        assert!(resolve(&sc, sc.faults[0].recovery, 1, 0, |_| true).late, "nothing instead: it begins late");
    }

    /// A retry whose budget can never be used is no possible path; one that
    /// can be used leads, once spent, to its `then`.
    #[test]
    fn possible_paths_follow_the_attempts_that_can_happen() {
        let sc = plan(
            "[recovery.first]\naction = \"resume\"\nmax_attempts = 1\nthen = \"retry\"\n\
             [recovery.retry]\naction = \"retry\"\nmax_attempts = 2\nthen = \"stop\"\n\
             [recovery.stop]\naction = \"abort\"\n",
        );
        assert_eq!(actions(&sc), [Action::Retry, Action::Abort]);
    }

    /// A loop of hand-overs (which validation rejects) ends in an abort.
    #[test]
    fn a_loop_of_hand_overs_ends_in_an_abort() {
        let mut sc = plan(
            "[recovery.first]\naction = \"retry\"\nmax_attempts = 1\nthen = \"second\"\n\
             [recovery.second]\naction = \"retry\"\nmax_attempts = 1\n",
        );
        let second = sc.policies.iter().position(|p| p.name == "second").unwrap();
        sc.policies[second].then = Some(sc.faults[0].recovery);
        let r = resolve(&sc, sc.faults[0].recovery, 5, 0, |_| false);
        assert_eq!((r.policy, r.action), (None, Action::Abort));
    }
}
