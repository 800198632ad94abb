//! Event emission: numbering, the event limit, and silent sinks (events
//! numbered but never built).

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::time::SimTime;

use crate::SimError;
use crate::sink::EventSink;

/// Numbers events and enforces the event limit.
pub(super) struct Emitter<'a> {
    pub(super) sink: &'a mut dyn EventSink,
    /// The sink ignores events: they are numbered but not built.
    pub(super) silent: bool,
    pub(super) seq: u64,
    pub(super) max_events: u64,
}

impl Emitter<'_> {
    #[inline]
    pub(super) fn emit(&mut self, at: u64, event: Event) -> Result<(), SimError> {
        if self.silent {
            return self.skip(at, 1);
        }
        if self.seq >= self.max_events {
            return Err(SimError::EventLimit { limit: self.max_events, at: SimTime(at) });
        }
        self.sink.record(&EventRecord { seq: self.seq, at: SimTime(at), event }).map_err(SimError::Sink)?;
        self.seq += 1;
        Ok(())
    }

    /// Numbers `n` events at `at` that a silent sink would drop.
    #[inline]
    pub(super) fn skip(&mut self, at: u64, n: u64) -> Result<(), SimError> {
        if self.seq + n > self.max_events {
            return Err(SimError::EventLimit { limit: self.max_events, at: SimTime(at) });
        }
        self.seq += n;
        Ok(())
    }
}

/// `RunStarted` and `RunFinished`.
const RUN_EVENTS: u64 = 2;

/// The events of a run that commits with each of `n_steps` steps started
/// and completed once, apart from `strikes` attempts struck and tried again
/// at once, and `downtime_marks` downtime events: what the engine emits
/// for it, counted without running it (straight runs). Each strike adds
/// four: `FaultInjected`, `StepFailed`, `RecoveryChosen`, and the next
/// attempt's `StepStarted`. The debug builds' shadow runs hold this to the
/// engine's count.
pub(super) fn plain_run_events(n_steps: usize, downtime_marks: u64, strikes: usize) -> u64 {
    RUN_EVENTS + 2 * n_steps as u64 + downtime_marks + 4 * strikes as u64
}

/// The events a rerun adds to a run (see `straight::Rerun`), beside the
/// one start and end of each step that `plain_run_events` counts, when the
/// rerun resets `before` steps done before the failed one started and
/// `around` groups running around it: the strike's `FaultInjected`,
/// `StepFailed` and `RecoveryChosen`; a `StepAbandoned` for each group
/// around; a `StepReset` and another `StepStarted` for each of those, for
/// each step before, and for the failed step; and another `StepCompleted`
/// for each step before. The debug builds' shadow runs hold this to the
/// engine's count.
pub(super) fn rerun_events(before: u64, around: u64) -> u64 {
    3 + around + 2 * (before + around + 1) + before
}

/// The events a step's data effects (`effects`) add when it ends, its work whole and
/// no replication in the plan (as `Simulator::data_effects` emits them):
/// a validation's result, and the tables (`n_tables` events) after what
/// changed them, before a validation and at the end.
pub(super) fn effect_events(effects: &[rehearse_core::data::Effect], n_tables: u64) -> u64 {
    let (mut events, mut changed) = (0, false);
    for &e in effects {
        if e == rehearse_core::data::Effect::Validate {
            if std::mem::take(&mut changed) {
                events += n_tables;
            }
            events += 1;
        } else {
            changed = true;
        }
    }
    events + if changed { n_tables } else { 0 }
}
