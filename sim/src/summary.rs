//! The summary of one run: what a cutover lead reads first.

use rehearse_core::event::{Mode, Outcome, ScenarioDigest};
use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::StepIdx;
use rehearse_core::time::{SimDuration, SimTime};

/// When a step first started and when it finally ended (failed attempts,
/// reactions and retries included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTiming {
    pub start: SimTime,
    pub end: SimTime,
}

impl StepTiming {
    pub fn duration(&self) -> SimDuration {
        self.end.since(self.start)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub outcome: Outcome,
    pub seed: u64,
    pub run: u64,
    pub mode: Mode,
    pub scenario: ScenarioDigest,
    /// When the run ended.
    pub end: SimTime,
    /// Total downtime: the union of the downtime intervals.
    pub downtime: SimDuration,
    pub downtime_intervals: Vec<(SimTime, SimTime)>,
    /// Downtime was still open when the run ended (the last interval ends
    /// at the end of the run).
    pub downtime_open: bool,
    /// When a rollback or cancel began, if one did.
    pub ending_began: Option<SimTime>,
    /// Per step, by [`StepIdx`].
    pub steps: Vec<StepTiming>,
    /// Per step, how many times it started (0: never ran).
    pub attempts: Vec<u32>,
    /// The leaf steps whose durations (with the lags between them) make up
    /// the run's length, in order.
    pub critical_path: Vec<StepIdx>,
    pub n_events: u64,
    /// Every fault that struck, in order: the schedule that reproduces
    /// the run with `--fault`.
    pub injected: Vec<crate::engine::Injection>,
    /// Every recovery chosen: (fault, step, action).
    pub recoveries: Vec<(FaultIdx, StepIdx, Action)>,
}

impl RunSummary {
    /// A summary to be filled by [`crate::Simulator::run_into`].
    pub fn blank(opts: &crate::RunOptions, scenario: ScenarioDigest) -> RunSummary {
        RunSummary {
            outcome: Outcome::Aborted,
            seed: opts.seed,
            run: opts.run,
            mode: opts.mode,
            scenario,
            end: SimTime::ZERO,
            downtime: SimDuration::ZERO,
            downtime_intervals: Vec::new(),
            downtime_open: false,
            ending_began: None,
            steps: Vec::new(),
            attempts: Vec::new(),
            critical_path: Vec::new(),
            n_events: 0,
            injected: Vec::new(),
            recoveries: Vec::new(),
        }
    }

    pub fn timing(&self, step: StepIdx) -> StepTiming {
        self.steps[step.index()]
    }
}
