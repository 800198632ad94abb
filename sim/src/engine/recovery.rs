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

use rehearse_core::event::{Event, Mode, Outcome};
use rehearse_core::fault::{Action, FaultIdx, Policy, PolicyIdx};
use rehearse_core::scenario::{Scenario, StepIdx};

use super::agenda::Kind;
use super::emit::Emitter;
use super::sites::SiteDraws;
use super::{Ending, Flow, Injection, RunOptions, RunTrack, Simulator};
use crate::SimError;
use crate::rng::{self, Purpose};

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

/// The policies a fault's recovery can hand over to, `from` first, each
/// once (through `then` and `past_deadline`, depth first, `past_deadline`
/// before `then`).
pub fn hand_overs(sc: &Scenario, from: PolicyIdx) -> Vec<PolicyIdx> {
    let mut out = Vec::new();
    let mut todo = vec![from];
    while let Some(p) = todo.pop() {
        if out.contains(&p) {
            continue;
        }
        out.push(p);
        let pol = &sc.policies[p.index()];
        todo.extend(pol.then.into_iter().chain(pol.past_deadline));
    }
    out
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

/// What a pending recovery will do when its time comes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    fault: FaultIdx,
    action: Action,
    policy: Option<PolicyIdx>,
    /// Unknown outcome still to be reported: did it in fact complete?
    verify: Option<bool>,
    /// Time still to spend after verifying (fix, undo) before acting.
    after_verify_ms: u64,
    clears_persistent: bool,
    undo_ms: u64,
    /// Recorded on the weekend: what was decided stands (no hand-over).
    decided: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Times {
    pub(super) reaction: u64,
    pub(super) fix: u64,
    pub(super) undo: u64,
    pub(super) verify: u64,
}

impl Simulator<'_, '_> {
    /// The recovery fault `f` calls for on attempt `attempt` of step `i`,
    /// when it strikes (see [`recovery::resolve`]; a rollback's deadline is
    /// checked when it is about to begin). Returns the policy (`None`: abort
    /// with none), its action and its attempts budget.
    pub(super) fn choose_recovery(&self, f: FaultIdx, i: usize, attempt: u32) -> (Option<PolicyIdx>, Action, u32) {
        let sc = self.plan.scenario;
        // Budgets count attempts since the step was last reset by a rerun.
        let r = resolve(sc, sc.faults[f.index()].recovery, attempt, self.faults[i].attempt_base, |_| false);
        (r.policy, r.action, r.max_attempts)
    }

    /// A fault strikes step `i`: the attempt fails (or ends unknown) and the
    /// plan's recovery is chosen.
    pub(super) fn strike(
        &mut self,
        i: usize,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        let plan = self.plan;
        let sc = plan.scenario;
        let f = self.faults[i].striking.expect("a strike is scheduled with its fault");
        let fault = &sc.faults[f.index()];
        let attempt = self.steps[i].attempt;
        let step = StepIdx(i as u32);
        self.steps[i].running = false;
        self.steps[i].end = at; // the attempt ends here; a later one that completes moves it
        if !self.holding.is_empty() {
            self.let_go(i, at); // its people turn to the fault; the next attempt takes them again
        }
        out.emit(at, Event::FaultInjected { fault: f, step, attempt })?;
        run.injected.push(Injection { fault: f, step, attempt });
        // Work done before the fault stays done (committed units of work).
        if self.faults[i].strike_share > 0.0 {
            self.data_effects(i, at, self.faults[i].strike_share, fault.catalog, out)?;
        }
        let site = plan.sites.of(i).iter().find(|(_, g)| *g == f).map(|(s, _)| s.index()).expect("the fault's site");
        if fault.persistent {
            self.site_persistent[site] = true;
        }
        let verify_completed = if fault.unknown_outcome {
            out.emit(at, Event::StepOutcomeUnknown { step, attempt })?;
            let mut draws = SiteDraws::new(self.fault_base, plan.site_keys[site], attempt);
            // Median mode assumes the worst: it did not complete.
            Some(opts.mode == Mode::Random && draws.completed() < 0.5)
        } else {
            out.emit(at, Event::StepFailed { step, attempt })?;
            None
        };

        let (mut policy, mut action, max_attempts) = self.choose_recovery(f, i, attempt);
        let mut times = self.recovery_times(policy, i, attempt, opts);
        // A recovery recorded on the weekend: decided when it was.
        let decided = self.decided(i, attempt);
        if let Some(d) = decided {
            action = d.action;
            policy = self.policy_for(f, action);
            times = Times { reaction: d.at_ms.saturating_sub(at), ..self.recovery_times(policy, i, attempt, opts) };
        }
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
            decided: decided.is_some(),
        };
        self.pending[i] = Some(pending);
        let wait = match (verify_completed.is_some(), action) {
            (true, Action::Abort) => 0,
            (true, _) => times.reaction + verify_ms,
            (false, Action::Abort) => 0,
            (false, Action::Rollback | Action::Cancel) => times.reaction,
            (false, _) => times.reaction + pending.after_verify_ms,
        };
        let due = self.recovery_due(i, attempt, at + wait);
        self.schedule(due, i, Kind::Recover);
        Ok(())
    }

    /// The pending recovery of step `i` takes effect.
    pub(super) fn recover(
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
            out.emit(at, Event::OutcomeVerified { step, attempt: self.steps[i].attempt, completed })?;
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
                let due = self.recovery_due(i, self.steps[i].attempt, at + p.after_verify_ms);
                self.schedule(due, i, Kind::Recover);
                return Ok(Flow::Continue);
            }
        }
        self.pending[i] = None;
        if p.clears_persistent {
            for &(site, g) in plan.sites.of(i) {
                if g == p.fault {
                    self.site_persistent[site.index()] = false;
                }
            }
        }
        // A rollback checked against its deadline when it is about to begin:
        // past it, the policy hands over as the resolver says.
        let mut late = false;
        if p.action == Action::Rollback
            && !p.decided
            && let Some(pi) = p.policy
        {
            let (attempt, began) = (self.steps[i].attempt, run.downtime_first_began);
            let r = resolve(sc, pi, attempt, self.faults[i].attempt_base, |pol| past_deadline(pol, at, began));
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
                    let due = self.recovery_due(i, attempt, at + times.fix + times.undo);
                    self.schedule(due, i, Kind::Recover);
                    return Ok(Flow::Continue);
                }
            }
        }
        match p.action {
            Action::Resume => {
                // The next attempt does what the interrupted one had left.
                self.steps[i].resuming = true;
                self.schedule(at, i, Kind::Start);
            }
            Action::Retry | Action::RollbackPackage => self.schedule(at, i, Kind::Start),
            Action::Rerun => {
                let from = p.policy.and_then(|pi| sc.policies[pi.index()].from).unwrap_or(step);
                run.roots_reopened += self.rerun(from, step, at, out)?;
            }
            Action::Rollback => {
                out.emit(at, Event::RollbackStarted { step, late })?;
                self.begin_ending(Ending::Rollback, i, at, p.undo_ms, out, run)?;
            }
            Action::Cancel => self.begin_ending(Ending::Cancel, i, at, p.undo_ms, out, run)?,
            Action::Abort => {
                self.abandon_all(at, out)?;
                return Ok(Flow::Finished(Outcome::Aborted));
            }
        }
        Ok(Flow::Continue)
    }

    /// A rollback or cancel begins at `at` (on step `i`'s account): nothing
    /// goes forward any more, what runs is abandoned, and the old system is
    /// back `undo_ms` later.
    pub(super) fn begin_ending(
        &mut self,
        ending: Ending,
        i: usize,
        at: u64,
        undo_ms: u64,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<(), SimError> {
        run.ending = Some(ending);
        run.ending_began = Some(at);
        self.abandon_all(at, out)?;
        self.schedule(at + undo_ms, i, Kind::EndingDone);
        Ok(())
    }

    /// Draws a recovery's reaction, fix, undo and verify times.
    pub(super) fn recovery_times(&self, policy: Option<PolicyIdx>, i: usize, attempt: u32, opts: &RunOptions) -> Times {
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

        // Validation wants a past_deadline beside a deadline (#17); the
        // resolver still copes without one.
        let mut sc = plan(
            "[recovery.first]\naction = \"rollback\"\nduration = \"1h\"\ndeadline = \"2h\"\npast_deadline = \"stop\"\n\
             [recovery.stop]\naction = \"abort\"\n",
        );
        let first = sc.faults[0].recovery.index();
        sc.policies[first].past_deadline = None;
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
