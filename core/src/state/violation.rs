//! What a broken invariant is: the event it broke at, and what it says
//! in words.

use std::fmt;

use crate::time::SimTime;

/// An invariant broken at some event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub seq: u64,
    pub at: SimTime,
    pub kind: ViolationKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// The stream's seq numbers are not 0, 1, 2, ...
    SeqOutOfOrder {
        expected: u64,
    },
    TimeWentBackwards {
        from: SimTime,
    },
    FirstEventNotRunStarted,
    RunStartedAgain,
    /// A step started before a dependency allowed it.
    StartedBeforeDependency {
        step: String,
        dep: String,
        allowed_at: Option<SimTime>,
    },
    StartedBeforeParent {
        step: String,
        parent: String,
    },
    StartedWhileActive {
        step: String,
    },
    CompletedWithoutStart {
        step: String,
    },
    GroupCompletedBeforeSubStep {
        step: String,
        sub_step: String,
    },
    /// A step started while the resource it needs served as many as its
    /// capacity.
    ResourceOverCapacity {
        step: String,
        resource: String,
    },
    DowntimeEndedWithoutBeginning {
        step: String,
    },
    DowntimeOpenAtEnd {
        depth: u32,
    },
    CommittedWithUnfinishedStep {
        step: String,
    },
    EventAfterEnd {
        kind: &'static str,
    },
    RunEndedTwice,
    /// A step that was not running failed, was struck, or was abandoned.
    NotRunning {
        step: String,
        kind: &'static str,
    },
    RetriedBeforeVerifying {
        step: String,
    },
    VerifiedWithoutUnknownOutcome {
        step: String,
    },
    RetryBeyondBudget {
        step: String,
        attempt: u32,
        budget: u32,
    },
    ResetWhileActive {
        step: String,
    },
    ForwardStepAfterRollback {
        step: String,
    },
    RollbackStartedTwice,
    RollbackAfterDeadline {
        step: String,
    },
    RollbackCompletedWithoutStart,
    CommittedAfterRollback,
    RolledBackWithoutRollback,
    CancelledAfterDowntimeBegan,
    UnknownTable {
        table: u32,
    },
    TargetCountDiffers {
        table: String,
        source: u64,
        target: u64,
    },
    TargetChecksumDiffers {
        table: String,
    },
    OriginalDataChanged {
        table: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event seq {} at {}: ", self.seq, self.at)?;
        match &self.kind {
            ViolationKind::SeqOutOfOrder { expected } => {
                write!(f, "seq out of order (expected {expected})")
            }
            ViolationKind::TimeWentBackwards { from } => {
                write!(f, "time went backwards from {from}")
            }
            ViolationKind::FirstEventNotRunStarted => {
                write!(f, "the first event is not RunStarted")
            }
            ViolationKind::RunStartedAgain => write!(f, "RunStarted again in the same stream"),
            ViolationKind::StartedBeforeDependency { step, dep, allowed_at: Some(t) } => {
                write!(f, "step `{step}` started before `{dep}` allowed it (at {t})")
            }
            ViolationKind::StartedBeforeDependency { step, dep, allowed_at: None } => {
                write!(f, "step `{step}` started before `{dep}` was reached")
            }
            ViolationKind::StartedBeforeParent { step, parent } => {
                write!(f, "step `{step}` started before its parent `{parent}`")
            }
            ViolationKind::StartedWhileActive { step } => {
                write!(f, "step `{step}` started while running or done")
            }
            ViolationKind::CompletedWithoutStart { step } => {
                write!(f, "step `{step}` completed without running")
            }
            ViolationKind::GroupCompletedBeforeSubStep { step, sub_step } => {
                write!(f, "step `{step}` completed before its sub-step `{sub_step}`")
            }
            ViolationKind::ResourceOverCapacity { step, resource } => {
                write!(f, "step `{step}` started while `{resource}` was already at its capacity")
            }
            ViolationKind::DowntimeEndedWithoutBeginning { step } => {
                write!(f, "downtime ended at `{step}` but had not begun")
            }
            ViolationKind::DowntimeOpenAtEnd { depth } => {
                write!(f, "the run ended with downtime still open ({depth} marker(s))")
            }
            ViolationKind::CommittedWithUnfinishedStep { step } => {
                write!(f, "the run committed with step `{step}` unfinished")
            }
            ViolationKind::EventAfterEnd { kind } => write!(f, "{kind} after the run ended"),
            ViolationKind::RunEndedTwice => write!(f, "the run ended twice"),
            ViolationKind::NotRunning { step, kind } => write!(f, "{kind} for step `{step}`, which was not running"),
            ViolationKind::RetriedBeforeVerifying { step } => {
                write!(f, "step `{step}` was retried before its unknown outcome was verified")
            }
            ViolationKind::VerifiedWithoutUnknownOutcome { step } => {
                write!(f, "step `{step}` was verified but its outcome was not unknown")
            }
            ViolationKind::RetryBeyondBudget { step, attempt, budget } => {
                write!(f, "step `{step}` started attempt {attempt}, beyond its retry budget of {budget}")
            }
            ViolationKind::ResetWhileActive { step } => write!(f, "step `{step}` was reset while running"),
            ViolationKind::ForwardStepAfterRollback { step } => {
                write!(f, "step `{step}` went forward after the rollback began")
            }
            ViolationKind::RollbackStartedTwice => write!(f, "a second rollback began"),
            ViolationKind::RollbackAfterDeadline { step } => {
                write!(f, "the rollback (after `{step}` failed) began after its deadline")
            }
            ViolationKind::RollbackCompletedWithoutStart => write!(f, "a rollback completed that never began"),
            ViolationKind::CommittedAfterRollback => write!(f, "the run committed after a rollback began"),
            ViolationKind::RolledBackWithoutRollback => {
                write!(f, "the run ended rolled back without a completed rollback")
            }
            ViolationKind::UnknownTable { table } => write!(f, "table #{table} is not in the scenario"),
            ViolationKind::TargetCountDiffers { table, source, target } => write!(
                f,
                "the run committed with table `{table}` holding {target} rows in the target against {source} in the source"
            ),
            ViolationKind::TargetChecksumDiffers { table } => write!(
                f,
                "the run committed with table `{table}`'s target checksum wrong: rows lost, doubled or left unconverted"
            ),
            ViolationKind::OriginalDataChanged { table } => {
                write!(f, "the original data of table `{table}` is not as it was before the upgrade")
            }
            ViolationKind::CancelledAfterDowntimeBegan => {
                write!(f, "the upgrade was cancelled after downtime began (cancel is possible only before the swap)")
            }
        }
    }
}
