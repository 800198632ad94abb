//! Runs from actuals (a forecast). What the log recorded is what happens:
//! - a step starts when it did (one not started yet, no earlier than now);
//! - a fault recorded on a step ends its next attempt at the recorded time
//!   (the k-th fault on a step, its attempt k), and counts against the
//!   budgets as any strike does; the attempt was at least as long as it
//!   had run;
//! - the recovery after it is the one recorded (a decision about the step
//!   after the fault), taking effect when it was decided, else the plan's;
//!   either way it is over by the step's next record (a fault or its end);
//! - the attempt after the last recorded fault lasts as recorded (done),
//!   or at least until now (running), and no fault strikes it before now;
//! - a decision to end the weekend (roll back, cancel, abort) that is about
//!   no fault takes effect when it was made.
//!
//! "At least so long" is drawn exactly: the attempt's own draw when it is
//! long enough, else the distribution restricted to [F(elapsed), 1]
//! (`Conditional`), which together are the conditional distribution.
//! Never "a sample minus what has elapsed".

use rehearse_core::event::{Event, Mode, Outcome};
use rehearse_core::fault::{Action, FaultIdx, PolicyIdx};
use rehearse_core::scenario::{StepIdx, Work};

use super::agenda::{Entry, Kind};
use super::emit::Emitter;
use super::{Ending, RunOptions, RunTrack, Simulator, plan};
use crate::SimError;
use crate::actuals::Decided;

/// An attempt's duration from actuals.
pub(super) enum Attempt {
    /// A recorded fault ends it `lost` ms after it started.
    Struck { dur: u64, lost: u64, fault: FaultIdx },
    /// It runs `dur`, and no fault strikes it before `struck_before`
    /// (`u64::MAX`: none can; it is done).
    Runs { dur: u64, struck_before: u64 },
}

/// Streams for redraws past the elapsed time, apart from the attempts'.
const AT_LEAST: u64 = 1 << 40;

impl Simulator<'_, '_> {
    /// Attempt `attempt` of step `i`, started at `at`, with `dur` drawn as
    /// planned (`resumed`: an interrupted attempt's work done again), in a run
    /// from actuals (`None`: the run is not).
    pub(super) fn actual_attempt(
        &self,
        i: usize,
        attempt: u32,
        at: u64,
        dur: u64,
        resumed: bool,
        opts: &RunOptions,
    ) -> Option<Attempt> {
        let f = self.plan.actuals.as_ref()?;
        let a = &f.actuals;
        // An interrupted attempt done again is not drawn again.
        let at_least = |min: u64| if resumed { dur.max(min) } else { self.at_least(f, i, attempt, min, dur, opts) };
        let recorded = &f.strikes[i];
        let k = attempt as usize;
        if let Some(s) = recorded.get(k.wrapping_sub(1)) {
            let lost = s.at_ms.saturating_sub(at);
            return Some(Attempt::Struck { dur: at_least(lost + 1), lost, fault: s.fault });
        }
        Some(match (a.started_ms[i], a.done_ms[i]) {
            (_, Some(end)) if k == recorded.len() + 1 => {
                Attempt::Runs { dur: end.saturating_sub(at), struck_before: u64::MAX }
            }
            (Some(_), None) => {
                let elapsed = a.now_ms.saturating_sub(at);
                let dur = match (&f.conditional[i], opts.mode, k) {
                    // The first attempt, running since it started.
                    (Some(c), Mode::Random, 1) => {
                        c.sample(&mut self.duration_base.stream(self.plan.keys[i], 1)).as_ms()
                    }
                    (Some(c), Mode::Median, 1) => c.median().as_ms(),
                    _ => at_least(elapsed),
                };
                Attempt::Runs { dur: dur.max(elapsed), struck_before: a.now_ms }
            }
            _ => Attempt::Runs { dur, struck_before: 0 },
        })
    }

    /// `dur` (a draw of attempt `attempt` of step `i`) known to be at least
    /// `min`: itself when it is, else drawn again from the step's
    /// distribution restricted to [F(min), 1] (its median in a median run);
    /// `min` when the step cannot last so long (overdue).
    fn at_least(&self, f: &plan::Forecasting, i: usize, attempt: u32, min: u64, dur: u64, opts: &RunOptions) -> u64 {
        if dur >= min {
            return dur;
        }
        let mut s = self.duration_base.stream(self.plan.keys[i], AT_LEAST | u64::from(attempt));
        let drawn = match (&f.at_least[i], opts.mode) {
            (Some(c), Mode::Random) => c.sample_at_least(min, &mut s).map(|d| d.as_ms()),
            (Some(c), Mode::Median) => c.median_at_least(min).map(|d| d.as_ms()),
            // A sum of distributions: drawn again until long enough.
            (None, Mode::Random) => match &self.plan.scenario.steps[i].work {
                Work::Leaf(d) => (0..256).map(|_| d.sample(&mut s).as_ms()).find(|v| *v >= min),
                Work::Group { .. } => None,
            },
            (None, Mode::Median) => None,
        };
        drawn.unwrap_or(min).max(min)
    }

    /// The recovery recorded for the strike on attempt `attempt` of step
    /// `i`, if one was.
    pub(super) fn decided(&self, i: usize, attempt: u32) -> Option<Decided> {
        let f = self.plan.actuals.as_ref()?;
        f.strikes[i].get((attempt as usize).wrapping_sub(1))?.decided
    }

    /// When a recovery wanted at `want` after the strike on attempt
    /// `attempt` of step `i` takes effect: by the step's next record (its
    /// next fault, or its end) at the latest.
    pub(super) fn recovery_due(&self, i: usize, attempt: u32, want: u64) -> u64 {
        let Some(f) = &self.plan.actuals else { return want };
        let next = f.strikes[i].get(attempt as usize).map(|s| s.at_ms);
        let limit = match (attempt as usize).cmp(&f.strikes[i].len()) {
            std::cmp::Ordering::Less => next,
            std::cmp::Ordering::Equal => f.actuals.done_ms[i],
            std::cmp::Ordering::Greater => None,
        };
        limit.map_or(want, |l| want.min(l))
    }

    /// The policy of `fault`'s hand-over chain with `action` (its times
    /// apply to a recovery decided on the weekend), else the plan's first
    /// with it; `None`: the plan has none (nothing to wait for).
    pub(super) fn policy_for(&self, fault: FaultIdx, action: Action) -> Option<PolicyIdx> {
        let sc = self.plan.scenario;
        let chain = super::recovery::hand_overs(sc, sc.faults[fault.index()].recovery);
        chain
            .into_iter()
            .find(|p| sc.policies[p.index()].action == action)
            .or_else(|| sc.policies.iter().position(|p| p.action == action).map(|p| PolicyIdx(p as u32)))
    }

    /// Schedules the recorded end of the weekend, if there is one (once,
    /// when the run starts).
    pub(super) fn schedule_recorded_ending(&mut self) {
        let Some(f) = &self.plan.actuals else { return };
        let Some(d) = f.actuals.ending else { return };
        let n = self.plan.scenario.decisions.len();
        self.agenda.push(Entry::new(d.at_ms, self.inserted, n, Kind::Decide, 0));
        self.inserted += 1;
    }

    /// The recorded end of the weekend takes effect: a rollback (the plan's
    /// go/no-go policy, else its first rollback policy), a cancel (its
    /// first cancel policy) or an abort. Returns the outcome when the run
    /// ends here.
    pub(super) fn recorded_ending(
        &mut self,
        at: u64,
        opts: &RunOptions,
        out: &mut Emitter<'_>,
        run: &mut RunTrack,
    ) -> Result<Option<Outcome>, SimError> {
        let sc = self.plan.scenario;
        let Some(f) = &self.plan.actuals else { return Ok(None) };
        let (Some(d), s) = (f.actuals.ending, f.ending_step) else { return Ok(None) };
        let first = |a: Action| sc.policies.iter().position(|p| p.action == a).map(|p| PolicyIdx(p as u32));
        let (ending, policy) = match d.action {
            Action::Abort => {
                self.abandon_all(at, out)?;
                return Ok(Some(Outcome::Aborted));
            }
            Action::Cancel => (Ending::Cancel, first(Action::Cancel)),
            _ => (Ending::Rollback, sc.decisions.first().map(|r| r.policy).or_else(|| first(Action::Rollback))),
        };
        let undo = self.recovery_times(policy, s, self.steps[s].attempt.max(1), opts).undo;
        if ending == Ending::Rollback {
            out.emit(at, Event::RollbackStarted { step: StepIdx(s as u32), late: false })?;
        }
        self.begin_ending(ending, s, at, undo, out, run)?;
        Ok(None)
    }
}
