//! One step's state in the current run, and the run's record of downtime,
//! faults and recoveries.

use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::StepIdx;
use rehearse_core::time::SimTime;

use super::plan::{Edge, Node};
use super::{Ending, Injection};

/// One step's state in the current run: what the agenda loop reads and
/// writes for a step on every run, together in one cache line (a test
/// holds it to 64 bytes). What only a struck step needs is in
/// [`StepFault`], and the pending recovery and the first attempts'
/// durations (drawn as a batch) are kept apart too, so that a run in which
/// nothing strikes touches none of it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StepRun {
    /// When it may start at the earliest (the latest of its released edges).
    pub(super) ready_at: u64,
    /// When its latest sub-step ended (groups).
    pub(super) last_child_end: u64,
    /// Its first attempt's start, and the end of its latest attempt.
    pub(super) start: u64,
    pub(super) end: u64,
    /// What released its start (`None`: ready when the run started), and
    /// through which edge; what determined its end.
    pub(super) start_cause: Option<Node>,
    pub(super) start_edge: Option<Edge>,
    pub(super) end_cause: Option<Node>,
    /// Incoming edges not yet released.
    pub(super) waits: u32,
    /// Sub-steps not yet ended.
    pub(super) children_left: u32,
    pub(super) attempt: u32,
    /// Bumped by an abandon or a rerun: agenda entries of an older
    /// generation are superseded.
    pub(super) generation: u32,
    pub(super) running: bool,
    pub(super) completed: bool,
    /// A resume was decided: the next attempt does the interrupted one's
    /// work again, whole (`StepFault::redo_ms`).
    pub(super) resuming: bool,
}

/// What a step's faults leave for its recovery: written when a fault is
/// about to strike, read when it strikes and recovers.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StepFault {
    /// The struck attempt's whole length: what a resume does again (the
    /// runbook step runs again from its start, at the plan's granularity).
    pub(super) redo_ms: u64,
    /// Share of the attempt's work done when the pending fault strikes.
    pub(super) strike_share: f64,
    /// The fault that strikes its current attempt.
    pub(super) striking: Option<FaultIdx>,
    /// Attempts made before the step was last reset by a rerun.
    pub(super) attempt_base: u32,
}

/// Per-run record of downtime, faults and recoveries.
#[derive(Debug, Default)]
pub(super) struct RunTrack {
    /// Completed top-level steps a rerun reset, not yet counted back.
    pub(super) roots_reopened: u32,
    pub(super) downtime_depth: u32,
    pub(super) downtime_since: u64,
    pub(super) downtime_first_began: Option<u64>,
    pub(super) downtime_intervals: Vec<(SimTime, SimTime)>,
    pub(super) ending: Option<Ending>,
    /// When the rollback or cancel began.
    pub(super) ending_began: Option<u64>,
    pub(super) injected: Vec<Injection>,
    pub(super) recoveries: Vec<(FaultIdx, StepIdx, Action)>,
}

impl RunTrack {
    pub(super) fn open_downtime(&mut self, at: u64) {
        if self.downtime_depth == 0 {
            self.downtime_since = at;
        }
        self.downtime_first_began.get_or_insert(at);
        self.downtime_depth += 1;
    }

    pub(super) fn close_downtime(&mut self, at: u64) {
        self.downtime_depth -= 1;
        if self.downtime_depth == 0 {
            self.downtime_intervals.push((SimTime(self.downtime_since), SimTime(at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StepRun;
    use crate::engine::plan::{Edge, Node};

    /// A step's state in the agenda loop stays within one cache line, and
    /// a cause is four bytes.
    #[test]
    fn a_step_run_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<StepRun>(), 64);
        assert_eq!(std::mem::size_of::<Option<Node>>(), 4);
        assert_eq!(std::mem::size_of::<Option<Edge>>(), 4);
    }
}
