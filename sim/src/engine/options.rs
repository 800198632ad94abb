//! What a run is asked to do: its identity (seed, run, mode), which
//! faults may strike, and the bounds that turn a loop into a reported bug.

use rehearse_core::event::Mode;
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::StepIdx;
use rehearse_core::time::SimDuration;

/// Bounds on a run: a loop that cannot end is a bug the simulator reports,
/// never a hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_events: u64,
    pub max_time: SimDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_events: 10_000_000, max_time: SimDuration::from_days(365) }
    }
}

/// One fault striking one attempt of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Injection {
    pub fault: FaultIdx,
    pub step: StepIdx,
    pub attempt: u32,
}

/// Which faults may strike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FaultMode {
    /// None.
    Off,
    /// Each fault strikes each attempt of its steps with its probability.
    #[default]
    Probabilistic,
    /// Swarm testing: each fault site (fault x step) is switched on or off
    /// at random for the run; a site that is on strikes with its probability.
    Swarm,
    /// Exactly these injections (and the re-strikes of persistent faults
    /// until fixed), nothing else.
    Scripted(Vec<Injection>),
    /// As `Probabilistic`, with this fault switched off: the same run on the
    /// same random numbers, without it (what the fault costs).
    Without(FaultIdx),
}

/// What to run: the run's identity, its faults and its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub seed: u64,
    /// Index of the run within a batch (0 for a single run).
    pub run: u64,
    pub mode: Mode,
    pub faults: FaultMode,
    pub limits: Limits,
}

impl RunOptions {
    pub fn new(seed: u64, mode: Mode) -> Self {
        RunOptions { seed, run: 0, mode, faults: FaultMode::default(), limits: Limits::default() }
    }

    pub fn with_faults(mut self, faults: FaultMode) -> Self {
        self.faults = faults;
        self
    }
}
