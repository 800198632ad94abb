//! `RunState`: the fold of a run's events, and the invariants checked on it.
//!
//! `apply` only records; it cannot fail. Anything that breaks an invariant is
//! recorded as a [`Violation`] (with the event's seq) and the fold goes on,
//! so that one bad event never hides the next.

use crate::data;
use crate::event::{Event, EventRecord, Mode, Outcome, ScenarioDigest};
use crate::scenario::{Anchor, Dep, Scenario, StepIdx};
use crate::time::{SimDuration, SimTime};

mod violation;

pub use violation::{Violation, ViolationKind};

/// The state of a run after some prefix of its events.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    shape: Vec<Shape>,
    /// The run's identity, once `RunStarted` was seen.
    pub identity: Option<RunIdentity>,
    /// The latest time seen.
    pub clock: SimTime,
    pub n_events: u64,
    pub last_seq: Option<u64>,
    pub steps: Vec<StepState>,
    /// How many downtime markers are open.
    pub downtime_depth: u32,
    downtime_since: SimTime,
    /// Closed intervals in which at least one downtime marker was open.
    pub downtime_intervals: Vec<(SimTime, SimTime)>,
    pub finished: Option<(SimTime, Outcome)>,
    pub rollback_started: Option<SimTime>,
    pub rollback_completed: bool,
    downtime_ever_began: bool,
    /// Reruns chosen and not yet begun: the step that asked, and when its
    /// rerun is due (the choice's time, reaction and extra time).
    reruns_due: Vec<(StepIdx, SimTime)>,
    /// The step whose rerun is resetting steps now (a run of `StepReset`
    /// and `StepAbandoned` events at one time).
    rerun_for: Option<StepIdx>,
    /// Per table: (source rows, source checksum, target rows, target checksum).
    pub tables: Vec<TableState>,
    initial: Vec<TableState>,
    /// Per table: rows the users wrote to the source since the run began
    /// (from `ChangesReplicated`); they belong to the original data.
    pub written: Vec<u64>,
    /// Per table: the replication's changes not applied to the target, as
    /// last recorded.
    pub backlog: Vec<u64>,
    table_names: Vec<String>,
    /// Whether the plan converts the data (some step has `data = "upgrade"`).
    upgrades: bool,
    /// Per resource: its id, capacity and the attempts it serves now; per
    /// step, whether its running attempt holds its resources.
    resources: Vec<(String, u32, u32)>,
    holds: Vec<bool>,
    violations: Vec<Violation>,
}

/// A table as the events last reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableState {
    pub source_rows: u64,
    pub source_checksum: data::Checksum,
    pub target_rows: u64,
    pub target_checksum: data::Checksum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    pub schema: u32,
    pub scenario: ScenarioDigest,
    pub seed: u64,
    pub run: u64,
    pub mode: Mode,
}

/// What the fold needs of the scenario: ids, parents and dependencies.
#[derive(Clone, Debug, PartialEq)]
struct Shape {
    id: String,
    parent: Option<StepIdx>,
    children: Vec<StepIdx>,
    after: Vec<Dep>,
    needs: Vec<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    #[default]
    NotStarted,
    Running,
    Completed,
    /// The last attempt failed; a retry may start it again.
    Failed,
    /// The last attempt ended with its outcome unknown.
    OutcomeUnknown,
    /// Stopped by a rollback, cancel or abort.
    Abandoned,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepState {
    pub status: StepStatus,
    pub attempts: u32,
    /// The retry budget the last recovery allowed.
    pub budget: Option<u32>,
    /// When the step first started (since it last began from scratch).
    pub started: Option<SimTime>,
    pub ended: Option<SimTime>,
}

impl RunState {
    /// The state before any event of a run of `scenario`.
    pub fn new(scenario: &Scenario) -> RunState {
        let initial: Vec<TableState> = scenario
            .database
            .tables
            .iter()
            .enumerate()
            .map(|(t, table)| TableState {
                source_rows: table.rows,
                source_checksum: data::Checksum(data::checksum(
                    t as u32,
                    data::TableData { rows: table.rows, converted: 0 },
                )),
                target_rows: 0,
                target_checksum: data::Checksum(0),
            })
            .collect();
        let shape = scenario
            .steps
            .iter()
            .map(|s| Shape {
                id: s.id.clone(),
                parent: s.parent,
                children: s.children.clone(),
                after: s.after.clone(),
                needs: s.needs.clone(),
            })
            .collect();
        RunState {
            shape,
            identity: None,
            clock: SimTime::ZERO,
            n_events: 0,
            last_seq: None,
            steps: vec![StepState::default(); scenario.steps.len()],
            downtime_depth: 0,
            downtime_since: SimTime::ZERO,
            downtime_intervals: Vec::new(),
            finished: None,
            rollback_started: None,
            rollback_completed: false,
            downtime_ever_began: false,
            reruns_due: Vec::new(),
            rerun_for: None,
            tables: initial.clone(),
            written: vec![0; initial.len()],
            backlog: vec![0; initial.len()],
            table_names: scenario.database.tables.iter().map(|t| t.name.clone()).collect(),
            initial,
            upgrades: scenario.steps.iter().any(|s| s.data.contains(&crate::data::Effect::Upgrade)),
            resources: scenario.resources.iter().map(|r| (r.id.clone(), r.capacity, 0)).collect(),
            holds: if scenario.resources.is_empty() { Vec::new() } else { vec![false; scenario.steps.len()] },
            violations: Vec::new(),
        }
    }

    /// Folds a whole stream.
    pub fn replay<'a>(scenario: &Scenario, records: impl IntoIterator<Item = &'a EventRecord>) -> RunState {
        let mut state = RunState::new(scenario);
        for r in records {
            state.apply(r);
        }
        state
    }

    /// Records one event. Never fails: broken invariants become violations.
    ///
    /// # Panics
    /// If the event names a step index outside the scenario (a programmer
    /// error: logs are resolved against the scenario before folding).
    pub fn apply(&mut self, rec: &EventRecord) {
        let (seq, at) = (rec.seq, rec.at);
        let expected = self.last_seq.map_or(0, |s| s + 1);
        if seq != expected {
            self.violate(seq, at, ViolationKind::SeqOutOfOrder { expected });
        }
        self.last_seq = Some(seq);
        if at < self.clock {
            self.violate(seq, at, ViolationKind::TimeWentBackwards { from: self.clock });
        }
        self.clock = self.clock.max(at);
        if self.n_events == 0 && !matches!(rec.event, Event::RunStarted { .. }) {
            self.violate(seq, at, ViolationKind::FirstEventNotRunStarted);
        }
        self.n_events += 1;
        if self.finished.is_some() && !matches!(rec.event, Event::RunFinished { .. }) {
            self.violate(seq, at, ViolationKind::EventAfterEnd { kind: rec.event.kind() });
        }
        if !matches!(rec.event, Event::StepReset { .. } | Event::StepAbandoned { .. }) {
            self.rerun_for = None; // a rerun's resets are over
        }
        match &rec.event {
            Event::RunStarted { schema, scenario, seed, run, mode } => {
                if self.identity.is_some() {
                    self.violate(seq, at, ViolationKind::RunStartedAgain);
                }
                self.identity =
                    Some(RunIdentity { schema: *schema, scenario: *scenario, seed: *seed, run: *run, mode: *mode });
            }
            Event::StepStarted { step, attempt } => {
                if !self.holds.is_empty() {
                    self.take_resources(seq, at, *step);
                }
                self.step_started(seq, at, *step, *attempt)
            }
            Event::StepCompleted { step, .. } => {
                self.let_go(*step);
                self.step_completed(seq, at, *step)
            }
            Event::FaultInjected { step, .. } => {
                self.expect_running(seq, at, *step, "a fault struck");
            }
            Event::StepFailed { step, .. } => {
                self.let_go(*step);
                self.expect_running(seq, at, *step, "StepFailed");
                self.steps[step.index()].status = StepStatus::Failed;
            }
            Event::StepOutcomeUnknown { step, .. } => {
                self.let_go(*step);
                self.expect_running(seq, at, *step, "StepOutcomeUnknown");
                self.steps[step.index()].status = StepStatus::OutcomeUnknown;
            }
            Event::OutcomeVerified { step, completed, .. } => {
                let s = &mut self.steps[step.index()];
                if s.status != StepStatus::OutcomeUnknown {
                    let step = self.id(*step);
                    self.violate(seq, at, ViolationKind::VerifiedWithoutUnknownOutcome { step });
                } else if *completed {
                    s.status = StepStatus::Completed;
                    s.ended = Some(at);
                } else {
                    s.status = StepStatus::Failed;
                }
            }
            Event::RecoveryChosen { step, action, max_attempts, reaction_ms, extra_ms, .. } => {
                if action.retries() {
                    self.steps[step.index()].budget = Some(*max_attempts);
                }
                // A hand-over replaces what the step had chosen.
                self.reruns_due.retain(|(s, _)| s != step);
                if *action == crate::fault::Action::Rerun {
                    self.reruns_due.push((*step, SimTime(at.0 + reaction_ms + extra_ms)));
                }
            }
            Event::StepReset { step } => {
                if self.rerun_for.is_none() {
                    // A rerun begins: the first chosen of those due now.
                    // (Steps it resets that had a rerun of their own pending
                    // lose it, as they start afresh.)
                    let k = self.reruns_due.iter().position(|(_, due)| *due == at).unwrap_or(0);
                    if k < self.reruns_due.len() {
                        self.rerun_for = Some(self.reruns_due.remove(k).0);
                    }
                }
                if self.rerun_for != Some(*step) {
                    self.reruns_due.retain(|(s, _)| s != step);
                }
                let s = &mut self.steps[step.index()];
                if s.status == StepStatus::Running {
                    let step = self.id(*step);
                    self.violate(seq, at, ViolationKind::ResetWhileActive { step });
                } else {
                    // Run again from the start. The failed step that asked
                    // for the rerun keeps its budget (the rerun is one of its
                    // retries); steps rerun on its behalf start a fresh one.
                    s.status = StepStatus::NotStarted;
                    s.started = None;
                    s.ended = None;
                    if self.rerun_for != Some(*step) {
                        s.budget = None;
                    }
                }
            }
            Event::StepAbandoned { step, .. } => {
                self.let_go(*step);
                self.expect_running(seq, at, *step, "StepAbandoned");
                self.steps[step.index()].status = StepStatus::Abandoned;
            }
            Event::RollbackStarted { step, late } => {
                if self.rollback_started.is_some() {
                    self.violate(seq, at, ViolationKind::RollbackStartedTwice);
                }
                self.rollback_started = Some(at);
                if *late {
                    let step = self.id(*step);
                    self.violate(seq, at, ViolationKind::RollbackAfterDeadline { step });
                }
            }
            Event::TableChanged { table, source_rows, source_checksum, target_rows, target_checksum, .. } => {
                if let Some(t) = self.tables.get_mut(*table as usize) {
                    *t = TableState {
                        source_rows: *source_rows,
                        source_checksum: *source_checksum,
                        target_rows: *target_rows,
                        target_checksum: *target_checksum,
                    };
                } else {
                    self.violate(seq, at, ViolationKind::UnknownTable { table: *table });
                }
            }
            Event::ChangesReplicated { table, written, backlog, .. } => {
                let t = *table as usize;
                if t < self.written.len() {
                    self.written[t] = *written;
                    self.backlog[t] = *backlog;
                } else {
                    self.violate(seq, at, ViolationKind::UnknownTable { table: *table });
                }
            }
            Event::RecordCountsValidated { .. }
            | Event::ReplicationBacklog { .. }
            | Event::CheckpointMissed { .. }
            | Event::StepWaited { .. }
            | Event::StepHeld { .. } => {}
            Event::RollbackCompleted => {
                if self.rollback_started.is_none() {
                    self.violate(seq, at, ViolationKind::RollbackCompletedWithoutStart);
                }
                self.rollback_completed = true;
            }
            Event::DowntimeBegan { .. } => {
                if self.downtime_depth == 0 {
                    self.downtime_since = at;
                }
                self.downtime_depth += 1;
                self.downtime_ever_began = true;
            }
            Event::DowntimeEnded { step } => {
                if self.downtime_depth == 0 {
                    let step = self.id(*step);
                    self.violate(seq, at, ViolationKind::DowntimeEndedWithoutBeginning { step });
                } else {
                    self.downtime_depth -= 1;
                    if self.downtime_depth == 0 {
                        self.downtime_intervals.push((self.downtime_since, at));
                    }
                }
            }
            Event::RunFinished { outcome } => {
                if self.finished.is_some() {
                    self.violate(seq, at, ViolationKind::RunEndedTwice);
                    return;
                }
                self.finished = Some((at, *outcome));
                match outcome {
                    Outcome::Committed => {
                        if self.rollback_started.is_some() {
                            self.violate(seq, at, ViolationKind::CommittedAfterRollback);
                        }
                        self.check_committed_data(seq, at);
                        for i in 0..self.steps.len() {
                            if self.steps[i].status != StepStatus::Completed {
                                let step = self.shape[i].id.clone();
                                self.violate(seq, at, ViolationKind::CommittedWithUnfinishedStep { step });
                            }
                        }
                    }
                    Outcome::RolledBack => {
                        if !self.rollback_completed {
                            self.violate(seq, at, ViolationKind::RolledBackWithoutRollback);
                        }
                        self.check_original_unchanged(seq, at);
                    }
                    Outcome::Cancelled => {
                        if self.downtime_ever_began {
                            self.violate(seq, at, ViolationKind::CancelledAfterDowntimeBegan);
                        }
                        self.check_original_unchanged(seq, at);
                    }
                    Outcome::Aborted => {}
                }
                if *outcome != Outcome::Aborted && self.downtime_depth > 0 {
                    self.violate(seq, at, ViolationKind::DowntimeOpenAtEnd { depth: self.downtime_depth });
                }
            }
        }
    }

    /// An attempt of `step` starts: it holds each resource it needs, none
    /// past its capacity.
    fn take_resources(&mut self, seq: u64, at: SimTime, step: StepIdx) {
        let i = step.index();
        if self.shape[i].needs.is_empty() || self.holds[i] {
            return;
        }
        self.holds[i] = true;
        for k in 0..self.shape[i].needs.len() {
            let r = self.shape[i].needs[k] as usize;
            self.resources[r].2 += 1;
            if self.resources[r].2 > self.resources[r].1 {
                let (step, resource) = (self.id(step), self.resources[r].0.clone());
                self.violate(seq, at, ViolationKind::ResourceOverCapacity { step, resource });
            }
        }
    }

    /// The attempt of `step` is over: its resources are free again.
    fn let_go(&mut self, step: StepIdx) {
        let i = step.index();
        if self.holds.get(i).is_some_and(|h| *h) {
            self.holds[i] = false;
            for r in &self.shape[i].needs {
                self.resources[*r as usize].2 -= 1;
            }
        }
    }

    fn step_started(&mut self, seq: u64, at: SimTime, step: StepIdx, attempt: u32) {
        let i = step.index();
        match self.steps[i].status {
            StepStatus::NotStarted | StepStatus::Failed => {}
            StepStatus::OutcomeUnknown => {
                let step = self.id(step);
                self.violate(seq, at, ViolationKind::RetriedBeforeVerifying { step });
            }
            StepStatus::Running | StepStatus::Completed | StepStatus::Abandoned => {
                let step = self.id(step);
                self.violate(seq, at, ViolationKind::StartedWhileActive { step });
            }
        }
        if self.rollback_started.is_some() {
            let step = self.id(step);
            self.violate(seq, at, ViolationKind::ForwardStepAfterRollback { step });
        }
        if let Some(budget) = self.steps[i].budget
            && attempt > budget
        {
            let step = self.id(step);
            self.violate(seq, at, ViolationKind::RetryBeyondBudget { step, attempt, budget });
        }
        if let Some(p) = self.shape[i].parent
            && self.steps[p.index()].status != StepStatus::Running
        {
            let (step, parent) = (self.id(step), self.id(p));
            self.violate(seq, at, ViolationKind::StartedBeforeParent { step, parent });
        }
        // A retry after a failure was allowed when the step first started:
        // its dependencies are checked when it starts from scratch (first
        // start, or after a rerun reset it), not again on every retry.
        let retry = matches!(self.steps[i].status, StepStatus::Failed | StepStatus::OutcomeUnknown);
        for d in self.shape[i].after.clone().into_iter().filter(|_| !retry) {
            let reached = match d.anchor {
                Anchor::Finish => self.steps[d.step.index()].ended,
                Anchor::Start => self.steps[d.step.index()].started,
            };
            let allowed_at = reached.map(|t| t.after(d.lag));
            if allowed_at.is_none_or(|t| at < t) {
                let (step, dep) = (self.id(step), self.id(d.step));
                self.violate(seq, at, ViolationKind::StartedBeforeDependency { step, dep, allowed_at });
            }
        }
        let s = &mut self.steps[i];
        s.status = StepStatus::Running;
        s.attempts = s.attempts.max(attempt);
        // A start-to-start dependency counts from the step's first start
        // (since it last began from scratch), not from each retry.
        if !retry {
            s.started = Some(at);
        }
        s.ended = None;
    }

    fn step_completed(&mut self, seq: u64, at: SimTime, step: StepIdx) {
        let i = step.index();
        if self.steps[i].status != StepStatus::Running {
            let step = self.id(step);
            self.violate(seq, at, ViolationKind::CompletedWithoutStart { step });
        }
        if self.rollback_started.is_some() {
            let step = self.id(step);
            self.violate(seq, at, ViolationKind::ForwardStepAfterRollback { step });
        }
        for c in self.shape[i].children.clone() {
            if self.steps[c.index()].status != StepStatus::Completed {
                let (step, sub_step) = (self.id(step), self.id(c));
                self.violate(seq, at, ViolationKind::GroupCompletedBeforeSubStep { step, sub_step });
            }
        }
        let s = &mut self.steps[i];
        s.status = StepStatus::Completed;
        s.ended = Some(at);
    }

    /// Committed: every table's target count equals its source count, and
    /// its checksum says every row is there once and (when the plan
    /// converts the data) converted once.
    fn check_committed_data(&mut self, seq: u64, at: SimTime) {
        for t in 0..self.tables.len() {
            let s = self.tables[t];
            if s.target_rows != s.source_rows {
                self.violate(
                    seq,
                    at,
                    ViolationKind::TargetCountDiffers {
                        table: self.table_name(t),
                        source: s.source_rows,
                        target: s.target_rows,
                    },
                );
                continue;
            }
            let converted = if self.upgrades { s.target_rows } else { 0 };
            let expected = data::Checksum(data::checksum(t as u32, data::TableData { rows: s.target_rows, converted }));
            if s.target_checksum != expected {
                self.violate(seq, at, ViolationKind::TargetChecksumDiffers { table: self.table_name(t) });
            }
        }
    }

    /// Rolled back or cancelled: the original data is exactly as it was,
    /// plus the rows the users wrote to it meanwhile (unconverted).
    fn check_original_unchanged(&mut self, seq: u64, at: SimTime) {
        for t in 0..self.tables.len() {
            let now = self.tables[t];
            let rows = self.initial[t].source_rows + self.written[t];
            let expected = data::Checksum(data::checksum(t as u32, data::TableData { rows, converted: 0 }));
            if now.source_rows != rows || now.source_checksum != expected {
                self.violate(seq, at, ViolationKind::OriginalDataChanged { table: self.table_name(t) });
            }
        }
    }

    fn expect_running(&mut self, seq: u64, at: SimTime, step: StepIdx, kind: &'static str) {
        if self.steps[step.index()].status != StepStatus::Running {
            let step = self.id(step);
            self.violate(seq, at, ViolationKind::NotRunning { step, kind });
        }
    }

    fn id(&self, step: StepIdx) -> String {
        self.shape[step.index()].id.clone()
    }

    fn table_name(&self, t: usize) -> String {
        self.table_names[t].clone()
    }

    fn violate(&mut self, seq: u64, at: SimTime, kind: ViolationKind) {
        self.violations.push(Violation { seq, at, kind });
    }

    /// Every invariant violation seen so far, in stream order.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Total downtime: the union of downtime intervals (an interval still
    /// open counts up to the latest time seen).
    pub fn downtime(&self) -> SimDuration {
        let closed: u64 = self.downtime_intervals.iter().map(|(a, b)| b.since(*a).as_ms()).sum();
        let open = if self.downtime_depth > 0 { self.clock.since(self.downtime_since).as_ms() } else { 0 };
        SimDuration(closed + open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SCHEMA_VERSION;

    const PLAN: &str = r#"
[scenario]
name = "two steps"
[[step]]
id = "a"
duration = "1h"
downtime = "begins"
[[step]]
id = "b"
after = ["a"]
duration = "30m"
downtime = "ends"
"#;

    fn scenario() -> Scenario {
        Scenario::parse(PLAN, "plan.toml").unwrap()
    }

    fn records(events: &[(u64, Event)]) -> Vec<EventRecord> {
        events
            .iter()
            .enumerate()
            .map(|(i, (at, e))| EventRecord { seq: i as u64, at: SimTime(*at), event: *e })
            .collect()
    }

    fn start() -> Event {
        Event::RunStarted { schema: SCHEMA_VERSION, scenario: ScenarioDigest(1), seed: 7, run: 0, mode: Mode::Random }
    }

    fn check(events: &[(u64, Event)], expected: &[&str]) {
        let state = RunState::replay(&scenario(), &records(events));
        let got: Vec<String> = state.violations().iter().map(|v| v.to_string()).collect();
        assert_eq!(got, expected);
    }

    const A: StepIdx = StepIdx(0);
    const B: StepIdx = StepIdx(1);

    #[test]
    fn a_good_run_has_no_violation() {
        let events = [
            (0, start()),
            (0, Event::StepStarted { step: A, attempt: 1 }),
            (0, Event::DowntimeBegan { step: A }),
            (3_600_000, Event::StepCompleted { step: A, attempt: 1 }),
            (3_600_000, Event::StepStarted { step: B, attempt: 1 }),
            (5_400_000, Event::StepCompleted { step: B, attempt: 1 }),
            (5_400_000, Event::DowntimeEnded { step: B }),
            (5_400_000, Event::RunFinished { outcome: Outcome::Committed }),
        ];
        check(&events, &[]);
        let state = RunState::replay(&scenario(), &records(&events));
        assert_eq!(state.downtime(), SimDuration::from_mins(90));
        assert_eq!(state.finished, Some((SimTime(5_400_000), Outcome::Committed)));
    }

    #[test]
    fn every_violation_is_listed() {
        check(
            &[
                (0, start()),
                (0, Event::StepStarted { step: B, attempt: 1 }),
                (0, Event::DowntimeEnded { step: B }),
                (10, Event::StepStarted { step: A, attempt: 1 }),
                (5, Event::DowntimeBegan { step: A }),
                (20, Event::RunFinished { outcome: Outcome::Committed }),
                (20, Event::RunFinished { outcome: Outcome::Committed }),
                (20, Event::StepCompleted { step: A, attempt: 1 }),
            ],
            &[
                "event seq 1 at 00:00:00.000: step `b` started before `a` was reached",
                "event seq 2 at 00:00:00.000: downtime ended at `b` but had not begun",
                "event seq 4 at 00:00:00.005: time went backwards from 00:00:00.010",
                "event seq 5 at 00:00:00.020: the run committed with step `a` unfinished",
                "event seq 5 at 00:00:00.020: the run committed with step `b` unfinished",
                "event seq 5 at 00:00:00.020: the run ended with downtime still open (1 marker(s))",
                "event seq 6 at 00:00:00.020: the run ended twice",
                "event seq 7 at 00:00:00.020: StepCompleted after the run ended",
            ],
        );
    }

    #[test]
    fn stream_must_open_with_run_started_and_count_up() {
        let mut recs = records(&[(0, Event::StepStarted { step: A, attempt: 1 })]);
        recs[0].seq = 4;
        let state = RunState::replay(&scenario(), &recs);
        let got: Vec<String> = state.violations().iter().map(|v| v.to_string()).collect();
        assert_eq!(
            got,
            [
                "event seq 4 at 00:00:00.000: seq out of order (expected 0)",
                "event seq 4 at 00:00:00.000: the first event is not RunStarted"
            ]
        );
    }

    #[test]
    fn recovery_invariants() {
        use crate::fault::{Action, FaultIdx};
        let f = FaultIdx(0);
        check(
            &[
                (0, start()),
                (0, Event::StepStarted { step: A, attempt: 1 }),
                (0, Event::DowntimeBegan { step: A }),
                (5, Event::FaultInjected { fault: f, step: A, attempt: 1 }),
                (5, Event::StepOutcomeUnknown { step: A, attempt: 1 }),
                (
                    5,
                    Event::RecoveryChosen {
                        step: A,
                        fault: f,
                        action: Action::Resume,
                        attempt: 1,
                        max_attempts: 1,
                        reaction_ms: 0,
                        extra_ms: 0,
                    },
                ),
                (6, Event::StepStarted { step: A, attempt: 2 }),
                (7, Event::StepFailed { step: B, attempt: 1 }),
                (8, Event::RollbackStarted { step: A, late: true }),
                (9, Event::StepCompleted { step: A, attempt: 2 }),
                (10, Event::RunFinished { outcome: Outcome::Cancelled }),
            ],
            &[
                "event seq 6 at 00:00:00.006: step `a` was retried before its unknown outcome was verified",
                "event seq 6 at 00:00:00.006: step `a` started attempt 2, beyond its retry budget of 1",
                "event seq 7 at 00:00:00.007: StepFailed for step `b`, which was not running",
                "event seq 8 at 00:00:00.008: the rollback (after `a` failed) began after its deadline",
                "event seq 9 at 00:00:00.009: step `a` went forward after the rollback began",
                "event seq 10 at 00:00:00.010: the upgrade was cancelled after downtime began (cancel is possible only before the swap)",
                "event seq 10 at 00:00:00.010: the run ended with downtime still open (1 marker(s))",
            ],
        );
    }

    #[test]
    fn a_clean_rollback_ends_with_the_original_online() {
        let f = crate::fault::FaultIdx(0);
        let events = [
            (0, start()),
            (0, Event::StepStarted { step: A, attempt: 1 }),
            (0, Event::DowntimeBegan { step: A }),
            (5, Event::FaultInjected { fault: f, step: A, attempt: 1 }),
            (5, Event::StepFailed { step: A, attempt: 1 }),
            (9, Event::RollbackStarted { step: A, late: false }),
            (20, Event::RollbackCompleted),
            (20, Event::DowntimeEnded { step: A }),
            (20, Event::RunFinished { outcome: Outcome::RolledBack }),
        ];
        check(&events, &[]);
        // Claiming a rollback that never completed is caught.
        let mut missing: Vec<(u64, Event)> = events.to_vec();
        missing.remove(6);
        check(&missing, &["event seq 7 at 00:00:00.020: the run ended rolled back without a completed rollback"]);
    }

    #[test]
    fn the_rows_users_wrote_belong_to_the_original_data() {
        let text = PLAN.replace(
            "[[step]]\nid = \"a\"",
            "[database]\ntables = [{ name = \"T\", rows = 10 }]\n[[step]]\nid = \"a\"",
        );
        let sc = Scenario::parse(&text, "plan.toml").unwrap();
        let grown = |rows: u64| Event::TableChanged {
            step: A,
            table: 0,
            source_rows: rows,
            source_checksum: data::Checksum(data::checksum(0, data::TableData { rows, converted: 0 })),
            target_rows: 0,
            target_checksum: data::Checksum(0),
        };
        let run = |middle: &[(u64, Event)]| {
            let mut events = vec![(0, start()), (0, Event::StepStarted { step: A, attempt: 1 })];
            events.extend_from_slice(middle);
            events.extend([
                (9, Event::RollbackStarted { step: A, late: false }),
                (20, Event::RollbackCompleted),
                (20, Event::RunFinished { outcome: Outcome::RolledBack }),
            ]);
            let state = RunState::replay(&sc, &records(&events));
            state.violations().iter().map(|v| v.to_string()).collect::<Vec<_>>()
        };
        // Three rows written by the users and recorded as such: the original.
        assert_eq!(
            run(&[(5, Event::ChangesReplicated { step: A, table: 0, written: 3, backlog: 3 }), (5, grown(13))]),
            Vec::<String>::new()
        );
        // Rows nobody wrote, or written rows gone: the original changed.
        let changed =
            ["event seq 5 at 00:00:00.020: the original data of table `T` is not as it was before the upgrade"];
        assert_eq!(run(&[(5, grown(13))]), changed);
        let changed =
            ["event seq 6 at 00:00:00.020: the original data of table `T` is not as it was before the upgrade"];
        assert_eq!(
            run(&[(5, Event::ChangesReplicated { step: A, table: 0, written: 3, backlog: 3 }), (5, grown(10))]),
            changed
        );
    }
}
