//! One step's state in the current run, and the run's record of downtime,
//! faults and recoveries.

use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::StepIdx;
use rehearse_core::time::SimTime;

use super::plan::{Edge, Node};
use super::{Ending, Injection};

/// One step's state in the current run: what the agenda loop reads and
/// writes for a step, together (the pending recovery, larger and rarely
/// touched, and the first attempts' durations, drawn as a batch, are kept
/// apart).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StepRun {
    /// When it may start at the earliest (the latest of its released edges).
    pub(super) ready_at: u64,
    /// When its latest sub-step ended (groups).
    pub(super) last_child_end: u64,
    /// Its first attempt's start, and the end of its latest attempt.
    pub(super) start: u64,
    pub(super) end: u64,
    /// What its attempt had left when a fault struck.
    pub(super) left_ms: u64,
    /// Once a resume is decided, the length of the attempt that continues it.
    pub(super) resume_left: Option<u64>,
    /// Share of the attempt's work done when the pending fault strikes.
    pub(super) strike_share: f64,
    /// What released its start (`None`: ready when the run started), and
    /// through which edge; what determined its end.
    pub(super) start_cause: Option<Node>,
    pub(super) start_edge: Option<Edge>,
    pub(super) end_cause: Option<Node>,
    /// The fault that strikes its current attempt.
    pub(super) striking: Option<FaultIdx>,
    /// Incoming edges not yet released.
    pub(super) waits: u32,
    /// Sub-steps not yet ended.
    pub(super) children_left: u32,
    pub(super) attempt: u32,
    /// Attempts made before the step was last reset by a rerun.
    pub(super) attempt_base: u32,
    /// Bumped by an abandon or a rerun: agenda entries of an older
    /// generation are superseded.
    pub(super) generation: u32,
    pub(super) running: bool,
    pub(super) completed: bool,
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
