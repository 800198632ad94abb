//! What has actually happened on the weekend, as the forecast needs it: the
//! steps started and done, at what times, and "now". Made from a weekend
//! log (`rehearse track`); the forecast runs the plan from it.
//!
//! Times are milliseconds from the log's origin (`origin`, the moment the
//! simulation's time 0 stands for: the earliest recorded start, or "now"
//! when nothing started yet). The wall clock enters only here, at the
//! edge, through what the log recorded and the `--now` given.

use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::{Scenario, StepIdx};

/// The state of the weekend at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actuals {
    /// The instant time 0 stands for.
    pub origin: jiff::Timestamp,
    /// Milliseconds from `origin` to the moment the forecast is made.
    pub now_ms: u64,
    /// Per step, by [`StepIdx`]: when it started, if it has.
    pub started_ms: Vec<Option<u64>>,
    /// Per step: when it was done, if it is.
    pub done_ms: Vec<Option<u64>>,
    /// The faults recorded as struck, in the order they struck: each ended
    /// an attempt of its step (the k-th on a step, its attempt k), and the
    /// budgets count them.
    pub struck: Vec<Strike>,
    /// A decision to end the weekend (roll back, cancel, abort) that is
    /// not the recovery from a recorded fault, if one was recorded.
    pub ending: Option<Decided>,
}

/// A fault recorded as having struck a running step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strike {
    pub step: StepIdx,
    pub fault: FaultIdx,
    pub at_ms: u64,
    /// The recovery recorded for it (a decision about its step, after it
    /// and before the step's next fault), if any: the plan's is assumed
    /// until one is recorded.
    pub decided: Option<Decided>,
}

/// A recovery decided on the weekend, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decided {
    pub action: Action,
    pub at_ms: u64,
}

/// Why a set of actuals cannot be run from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActualsError {
    #[error("step `{step}` is done at {done_ms} ms but started at {started_ms} ms")]
    DoneBeforeStart { step: String, started_ms: u64, done_ms: u64 },
    #[error("step `{step}` is done but never started")]
    DoneNotStarted { step: String },
    #[error("step `{step}`: {what} at {at_ms} ms is after now ({now_ms} ms)")]
    InTheFuture { step: String, what: &'static str, at_ms: u64, now_ms: u64 },
    #[error("actuals for {got} steps, the plan has {want}")]
    WrongLength { got: usize, want: usize },
    #[error("fault `{fault}` struck step `{step}` at {at_ms} ms, when it was not running")]
    StruckNotRunning { fault: String, step: String, at_ms: u64 },
    #[error("fault `{fault}` cannot strike step `{step}` (the plan does not say it can)")]
    CannotStrike { fault: String, step: String },
    #[error("a decision at {at_ms} ms comes before what it decides (at {before_ms} ms) or after now")]
    DecisionOutOfOrder { at_ms: u64, before_ms: u64 },
}

impl Actuals {
    /// Nothing has happened yet: the run starts at `origin`, now.
    pub fn none(sc: &Scenario, origin: jiff::Timestamp) -> Actuals {
        let n = sc.steps.len();
        Actuals {
            origin,
            now_ms: 0,
            started_ms: vec![None; n],
            done_ms: vec![None; n],
            struck: Vec::new(),
            ending: None,
        }
    }

    /// Whether anything is recorded.
    pub fn is_empty(&self) -> bool {
        self.started_ms.iter().all(Option::is_none) && self.ending.is_none()
    }

    /// The recorded strikes on `step`, in order (the k-th ended attempt k).
    pub fn strikes_on(&self, step: StepIdx) -> impl Iterator<Item = &Strike> {
        self.struck.iter().filter(move |s| s.step == step)
    }

    /// The same actuals, with `action` decided now: about the latest
    /// recorded fault of `step` when it has one not yet decided, else (a
    /// rollback, cancel or abort) for the whole weekend. What `--options`
    /// compares.
    pub fn deciding(&self, step: Option<StepIdx>, action: Action) -> Actuals {
        let mut a = self.clone();
        let decided = Decided { action, at_ms: a.now_ms };
        let open = step.and_then(|s| a.struck.iter_mut().rev().find(|x| x.step == s)).filter(|x| x.decided.is_none());
        match open {
            Some(x) => x.decided = Some(decided),
            None if !action.retries() => a.ending = Some(decided),
            None => {}
        }
        a
    }

    pub fn started(&self, step: StepIdx) -> Option<u64> {
        self.started_ms[step.index()]
    }

    pub fn done(&self, step: StepIdx) -> Option<u64> {
        self.done_ms[step.index()]
    }

    /// Checks the actuals against themselves and the plan's size (the log
    /// checks each record against the plan's order as it is written).
    ///
    /// # Errors
    /// The first inconsistency.
    pub fn check(&self, sc: &Scenario) -> Result<(), ActualsError> {
        let n = sc.steps.len();
        if self.started_ms.len() != n || self.done_ms.len() != n {
            return Err(ActualsError::WrongLength { got: self.started_ms.len().min(self.done_ms.len()), want: n });
        }
        for (k, x) in self.struck.iter().enumerate() {
            let (i, step) = (x.step.index(), || sc.step(x.step).id.clone());
            let fault =
                || sc.faults.get(x.fault.index()).map_or_else(|| format!("#{}", x.fault.index()), |f| f.id.clone());
            if i >= n || sc.faults.get(x.fault.index()).is_none_or(|f| !f.steps.contains(&x.step)) {
                return Err(ActualsError::CannotStrike {
                    fault: fault(),
                    step: if i < n { step() } else { format!("#{i}") },
                });
            }
            let running = self.started_ms[i].is_some_and(|s| s <= x.at_ms)
                && self.done_ms[i].is_none_or(|d| x.at_ms <= d)
                && x.at_ms <= self.now_ms;
            let ordered = k == 0 || self.struck[k - 1].at_ms <= x.at_ms;
            if !running || !ordered {
                return Err(ActualsError::StruckNotRunning { fault: fault(), step: step(), at_ms: x.at_ms });
            }
            if let Some(d) = x.decided
                && (d.at_ms < x.at_ms || d.at_ms > self.now_ms)
            {
                return Err(ActualsError::DecisionOutOfOrder { at_ms: d.at_ms, before_ms: x.at_ms });
            }
        }
        if let Some(d) = self.ending
            && d.at_ms > self.now_ms
        {
            return Err(ActualsError::DecisionOutOfOrder { at_ms: d.at_ms, before_ms: self.now_ms });
        }
        for (i, s) in sc.steps.iter().enumerate() {
            let step = || s.id.clone();
            match (self.started_ms[i], self.done_ms[i]) {
                (None, Some(_)) => return Err(ActualsError::DoneNotStarted { step: step() }),
                (Some(a), Some(b)) if b < a => {
                    return Err(ActualsError::DoneBeforeStart { step: step(), started_ms: a, done_ms: b });
                }
                _ => {}
            }
            for (what, t) in [("started", self.started_ms[i]), ("done", self.done_ms[i])] {
                if let Some(t) = t
                    && t > self.now_ms
                {
                    return Err(ActualsError::InTheFuture { step: step(), what, at_ms: t, now_ms: self.now_ms });
                }
            }
        }
        Ok(())
    }
}
