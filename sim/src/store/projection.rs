//! Projections of the event stream into the tables the documentation
//! queries: `DBUPGRADE.DATAUPGRADESTATUS` (StartTime, EndTime, Steps,
//! SubSteps, Status) and `RELEASEUPDATESCRIPTSERRORLOG`.
//!
//! A runbook step marked `records_status = true` records one row per step
//! two levels below it; `Steps` is the name of the step in between (PreReqs,
//! PreSync, ...), `SubSteps` the step's own name. Times are calendar times
//! (`2022-05-20 06:28:01.020`).

use std::collections::BTreeMap;

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::scenario::Scenario;
use rehearse_core::time::Calendar;

/// One row of DATAUPGRADESTATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    pub start: String,
    pub end: Option<String>,
    pub steps: String,
    pub substeps: String,
    pub status: &'static str,
}

/// A DATAUPGRADESTATUS row as text, as stored: (StartTime, EndTime, Steps,
/// SubSteps, Status).
pub type StatusRowText = (Option<String>, Option<String>, String, String, String);

/// One row of RELEASEUPDATESCRIPTSERRORLOG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptErrorRow {
    pub created: String,
    pub steps: String,
    pub substeps: String,
    pub message: String,
}

/// Per step, its DATAUPGRADESTATUS (Steps, SubSteps), if a `records_status`
/// runbook records it: every step two or more levels below the runbook,
/// `Steps` being the name of the step just below the runbook.
pub fn status_names(scenario: &Scenario) -> Vec<Option<(String, String)>> {
    let mut names = vec![None; scenario.steps.len()];
    for (r, runbook) in scenario.steps.iter().enumerate() {
        if !runbook.records_status {
            continue;
        }
        for (i, s) in scenario.steps.iter().enumerate() {
            // Climb to the step just below the runbook, at least one level up.
            let mut phase = None;
            let mut cur = s.parent;
            let mut prev = i;
            while let Some(p) = cur {
                if p.index() == r {
                    phase = (prev != i).then_some(prev);
                    break;
                }
                prev = p.index();
                cur = scenario.steps[p.index()].parent;
            }
            if let Some(phase) = phase {
                names[i] = Some((scenario.steps[phase].name.clone(), s.name.clone()));
            }
        }
    }
    names
}

/// The projections, kept up to date one event at a time.
#[derive(Clone, Debug)]
pub struct StatusProjection<'s> {
    scenario: &'s Scenario,
    calendar: Calendar,
    names: Vec<Option<(String, String)>>,
    /// Rows by step index.
    pub rows: BTreeMap<u32, StatusRow>,
    pub errors: Vec<ScriptErrorRow>,
    /// Steps whose rows changed since [`StatusProjection::take_dirty`].
    dirty: Vec<u32>,
}

impl<'s> StatusProjection<'s> {
    pub fn new(scenario: &'s Scenario, calendar: Calendar) -> Self {
        let names = status_names(scenario);
        StatusProjection { scenario, calendar, names, rows: BTreeMap::new(), errors: Vec::new(), dirty: Vec::new() }
    }

    pub fn apply(&mut self, rec: &EventRecord) {
        let (step, status, ends) = match &rec.event {
            Event::StepStarted { step, .. } => (step, "InProgress", false),
            Event::StepCompleted { step, .. } => (step, "Completed", true),
            Event::OutcomeVerified { step, completed: true, .. } => (step, "Completed", true),
            Event::StepFailed { step, .. }
            | Event::StepOutcomeUnknown { step, .. }
            | Event::StepAbandoned { step, .. } => (step, "Failed", true),
            Event::FaultInjected { fault, step, .. } => {
                let f = &self.scenario.faults[fault.index()];
                if let (Some("upgrade-script-error"), Some((steps, substeps))) = (f.catalog, &self.names[step.index()])
                {
                    self.errors.push(ScriptErrorRow {
                        created: self.calendar.format(rec.at),
                        steps: steps.clone(),
                        substeps: substeps.clone(),
                        message: f.message.clone(),
                    });
                }
                return;
            }
            _ => return,
        };
        let Some((steps, substeps)) = &self.names[step.index()] else { return };
        let at = self.calendar.format(rec.at);
        let row = self.rows.entry(step.0).or_insert_with(|| StatusRow {
            start: at.clone(),
            end: None,
            steps: steps.clone(),
            substeps: substeps.clone(),
            status,
        });
        if ends {
            row.end = Some(at);
        } else {
            row.start = at;
            row.end = None;
        }
        row.status = status;
        self.dirty.push(step.0);
    }

    /// The steps whose rows changed since the last call (deduplicated).
    pub fn take_dirty(&mut self) -> Vec<u32> {
        let mut d = std::mem::take(&mut self.dirty);
        d.sort_unstable();
        d.dedup();
        d
    }
}
