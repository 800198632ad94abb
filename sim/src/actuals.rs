//! What has actually happened on the weekend, as the forecast needs it: the
//! steps started and done, at what times, and "now". Made from a weekend
//! log (`rehearse track`); the forecast runs the plan from it.
//!
//! Times are milliseconds from the log's origin (`origin`, the moment the
//! simulation's time 0 stands for: the earliest recorded start, or "now"
//! when nothing started yet). The wall clock enters only here, at the
//! edge, through what the log recorded and the `--now` given.

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
}

impl Actuals {
    /// Nothing has happened yet: the run starts at `origin`, now.
    pub fn none(sc: &Scenario, origin: jiff::Timestamp) -> Actuals {
        let n = sc.steps.len();
        Actuals { origin, now_ms: 0, started_ms: vec![None; n], done_ms: vec![None; n] }
    }

    /// Whether anything is recorded.
    pub fn is_empty(&self) -> bool {
        self.started_ms.iter().all(Option::is_none)
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
