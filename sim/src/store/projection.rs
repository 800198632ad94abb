//! Projections of the event stream into the tables the documentation
//! queries: `DBUPGRADE.DATAUPGRADESTATUS` (StartTime, EndTime, Steps,
//! SubSteps, Status), `RELEASEUPDATESCRIPTSERRORLOG`, `PostValidationInfo`
//! and `ReplicationStatus`; their rows as SQL values ([`Tables`]), as a
//! store holds them and as `replay` rebuilds them from the events.
//!
//! A runbook step marked `records_status = true` records one row per step
//! two levels below it; `Steps` is the name of the step in between (PreReqs,
//! PreSync, ...), `SubSteps` the step's own name. Times are calendar times
//! (`2022-05-20 06:28:01.020`).

use std::collections::BTreeMap;

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::scenario::Scenario;
use rehearse_core::time::{Calendar, SimTime};
use rusqlite::types::Value;

/// The catalogue's faults that are an upgrade script failing, and so are
/// logged in RELEASEUPDATESCRIPTSERRORLOG when they strike a sub-step the
/// runbook records: the PreSync/PostSync scripts (002: "If an upgrade script
/// fails during the runbook process ... query ReleaseUpdateScriptsErrorLog"),
/// and the data upgrade package's two known script errors (001: "DVT script
/// for service model", "Call to TTSCOMMIT without first calling TTSBEGIN").
pub const SCRIPT_FAULTS: [&str; 3] = ["upgrade-script-error", "dvt-mrprocessservice", "ttscommit"];

/// One row of DATAUPGRADESTATUS. Times are kept as simulated times and
/// written out ([`StatusProjection::format`]) only when the row is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    pub start: SimTime,
    pub end: Option<SimTime>,
    pub steps: String,
    pub substeps: String,
    pub status: &'static str,
}

/// One row of RELEASEUPDATESCRIPTSERRORLOG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptErrorRow {
    pub created: String,
    pub steps: String,
    pub substeps: String,
    pub message: String,
}

impl ScriptErrorRow {
    /// The row as stored: (CREATEDDATETIME, STEPS, SUBSTEPS, MESSAGE).
    pub fn values(&self) -> Vec<Value> {
        [&self.created, &self.steps, &self.substeps, &self.message].map(|s| Value::Text(s.clone())).into()
    }
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
                if let (Some(c), Some((steps, substeps))) = (f.catalog, &self.names[step.index()])
                    && SCRIPT_FAULTS.contains(&c)
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
        let at = rec.at;
        let row = self.rows.entry(step.0).or_insert_with(|| StatusRow {
            start: at,
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

    /// A time as the tables show it (`2022-05-20 06:28:01.020`).
    pub fn format(&self, at: SimTime) -> String {
        self.calendar.format(at)
    }

    /// Step `step`'s row as stored: (StartTime, EndTime, Steps, SubSteps,
    /// Status).
    ///
    /// # Panics
    /// If the step has no row.
    pub fn values(&self, step: u32) -> Vec<Value> {
        let row = &self.rows[&step];
        vec![
            Value::Text(self.format(row.start)),
            row.end.map_or(Value::Null, |e| Value::Text(self.format(e))),
            Value::Text(row.steps.clone()),
            Value::Text(row.substeps.clone()),
            Value::Text(row.status.to_string()),
        ]
    }

    /// The steps whose rows changed since the last call (deduplicated).
    pub fn take_dirty(&mut self) -> Vec<u32> {
        let mut d = std::mem::take(&mut self.dirty);
        d.sort_unstable();
        d.dedup();
        d
    }
}

/// One row of `PostValidationInfo`, as the toolkit's `dv` report writes it:
/// a table's record counts, source against target, at the last validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationRow {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    pub result: &'static str,
    pub validated_at: String,
    pub step: String,
}

impl ValidationRow {
    /// The row as stored: (TableName, SourceRecordCount,
    /// TargetRecordCount, Result, ValidatedAt, Step).
    pub fn values(&self) -> Vec<Value> {
        vec![
            Value::Text(self.table.clone()),
            Value::Integer(self.source_rows as i64),
            Value::Integer(self.target_rows as i64),
            Value::Text(self.result.to_string()),
            Value::Text(self.validated_at.clone()),
            Value::Text(self.step.clone()),
        ]
    }
}

/// One row of `ReplicationStatus`, like the toolkit's `rs` report: a
/// publication, its tables and rows, where it stands and since when, and
/// the changes still to apply when the cutover began waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationRow {
    pub publication: String,
    pub tables: String,
    pub rows: u64,
    pub state: &'static str,
    pub since: Option<String>,
    pub backlog: Option<u64>,
}

impl ReplicationRow {
    /// The row as stored: (Publication, Tables, Rows, State, Since,
    /// BacklogChanges).
    pub fn values(&self) -> Vec<Value> {
        vec![
            Value::Text(self.publication.clone()),
            Value::Text(self.tables.clone()),
            Value::Integer(self.rows as i64),
            Value::Text(self.state.to_string()),
            self.since.clone().map_or(Value::Null, Value::Text),
            self.backlog.map_or(Value::Null, |b| Value::Integer(b as i64)),
        ]
    }
}

/// The record-count and replication projections, kept up to date one
/// event at a time.
#[derive(Clone, Debug)]
pub struct DataProjection<'s> {
    scenario: &'s Scenario,
    calendar: Calendar,
    /// Latest (source rows, target rows) per table.
    latest: Vec<(u64, u64)>,
    /// By table index.
    pub validation: BTreeMap<u32, ValidationRow>,
    pub replication: Vec<ReplicationRow>,
    /// Changes per hour of each replication row's tables.
    rates: Vec<u64>,
    /// Whether a row changed since [`DataProjection::take_dirty`].
    dirty: bool,
}

impl<'s> DataProjection<'s> {
    pub fn new(scenario: &'s Scenario, calendar: Calendar) -> Self {
        let tables = &scenario.database.tables;
        let mut replication = Vec::new();
        let mut rates = Vec::new();
        if let Some(rep) = &scenario.replication {
            let names =
                |members: &[usize]| members.iter().map(|t| tables[*t].name.as_str()).collect::<Vec<_>>().join(", ");
            for (p, members) in
                rehearse_core::replication::publication_tables(tables, rep.publishers).iter().enumerate()
            {
                rates.push(members.iter().map(|t| tables[*t].changes_per_hour).sum());
                replication.push(ReplicationRow {
                    publication: format!("AX_PUB_PkTable_{}", p + 1),
                    tables: names(members),
                    rows: members.iter().map(|t| tables[*t].rows).sum(),
                    state: "Not started",
                    since: None,
                    backlog: None,
                });
            }
            let no_pk: Vec<usize> = (0..tables.len()).filter(|t| !tables[*t].primary_key).collect();
            if !no_pk.is_empty() {
                rates.push(0);
                replication.push(ReplicationRow {
                    publication: "AX_PUB_NoPKTable".into(),
                    tables: names(&no_pk),
                    rows: rep.no_pk_rows,
                    state: "Not started",
                    since: None,
                    backlog: None,
                });
            }
        }
        DataProjection {
            scenario,
            calendar,
            latest: vec![(0, 0); tables.len()],
            validation: BTreeMap::new(),
            dirty: !replication.is_empty(),
            replication,
            rates,
        }
    }

    pub fn apply(&mut self, rec: &EventRecord) {
        use rehearse_core::replication::Role;
        let role = |step: &rehearse_core::StepIdx| self.scenario.step(*step).replication;
        match &rec.event {
            Event::TableChanged { table, source_rows, target_rows, .. } => {
                if let Some(t) = self.latest.get_mut(*table as usize) {
                    *t = (*source_rows, *target_rows);
                }
            }
            Event::RecordCountsValidated { step, .. } => {
                let at = self.calendar.format(rec.at);
                for (i, t) in self.scenario.database.tables.iter().enumerate() {
                    let (source_rows, target_rows) = self.latest[i];
                    self.validation.insert(
                        i as u32,
                        ValidationRow {
                            table: t.name.clone(),
                            source_rows,
                            target_rows,
                            result: if source_rows == target_rows { "Matched" } else { "Mismatched" },
                            validated_at: at.clone(),
                            step: self.scenario.step(*step).id.clone(),
                        },
                    );
                }
                self.dirty = true;
            }
            Event::StepStarted { step, .. } if role(step) == Some(Role::Snapshot) => {
                self.set(true, "Snapshot in progress", rec);
            }
            Event::StepCompleted { step, .. } if role(step) == Some(Role::Snapshot) => {
                self.set(true, "Replicating", rec);
            }
            Event::StepStarted { step, .. } if role(step) == Some(Role::NoPkTables) => {
                self.set(false, "Snapshot in progress", rec);
            }
            Event::StepCompleted { step, .. } if role(step) == Some(Role::NoPkTables) => {
                self.set(false, "Copied", rec);
            }
            Event::ReplicationBacklog { changes, .. } => {
                self.set(true, "Draining the backlog", rec);
                // Shared by the publications in proportion to their tables'
                // change rates; the last takes the remainder, so they add up.
                let total: u64 = self.rates.iter().sum();
                let pk: Vec<usize> = (0..self.replication.len())
                    .filter(|r| self.replication[*r].publication.starts_with("AX_PUB_PkTable_"))
                    .collect();
                let mut left = *changes;
                for (k, r) in pk.iter().enumerate() {
                    let share = if k + 1 == pk.len() {
                        left
                    } else if total == 0 {
                        0
                    } else {
                        (u128::from(*changes) * u128::from(self.rates[*r]) / u128::from(total)) as u64
                    };
                    left -= share.min(left);
                    self.replication[*r].backlog = Some(share);
                }
            }
            Event::StepCompleted { step, .. } if role(step) == Some(Role::CaughtUp) => {
                for r in &mut self.replication {
                    if r.publication.starts_with("AX_PUB_PkTable_") {
                        r.state = "Caught up";
                        r.since = Some(self.calendar.format(rec.at));
                    }
                }
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// Sets the state of the publications with (`pk`) or without a primary key.
    fn set(&mut self, pk: bool, state: &'static str, rec: &EventRecord) {
        let at = self.calendar.format(rec.at);
        for r in &mut self.replication {
            if r.publication.starts_with("AX_PUB_PkTable_") == pk {
                r.state = state;
                r.since = Some(at.clone());
            }
        }
        self.dirty = true;
    }

    /// Whether anything changed since the last call.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

/// The projection tables of a run store, in the order they are checked,
/// each with the order its rows are read and compared in: by key, and the
/// error log (no key) in the order it was written.
pub const TABLES: [(&str, &str); 4] = [
    ("DATAUPGRADESTATUS", "Steps, SubSteps"),
    ("RELEASEUPDATESCRIPTSERRORLOG", "rowid"),
    ("PostValidationInfo", "TableName"),
    ("ReplicationStatus", "Publication"),
];

/// The rows of each projection table ([`TABLES`], in that order) as SQL
/// values: as a store holds them, or as its events give them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tables(pub [Vec<Vec<Value>>; 4]);

impl Tables {
    /// The tables as the events folded into `status` and `data` give them,
    /// rows in [`TABLES`]' orders (text compares as SQLite's `BINARY`
    /// does, byte by byte).
    pub fn rebuilt(status: &StatusProjection<'_>, data: &DataProjection<'_>) -> Tables {
        let mut by_name: Vec<(&str, &str, u32)> =
            status.rows.iter().map(|(step, r)| (r.steps.as_str(), r.substeps.as_str(), *step)).collect();
        by_name.sort_unstable();
        let mut validation: Vec<&ValidationRow> = data.validation.values().collect();
        validation.sort_by(|a, b| a.table.cmp(&b.table));
        let mut replication: Vec<&ReplicationRow> = data.replication.iter().collect();
        replication.sort_by(|a, b| a.publication.cmp(&b.publication));
        Tables([
            by_name.iter().map(|(.., step)| status.values(*step)).collect(),
            status.errors.iter().map(ScriptErrorRow::values).collect(),
            validation.into_iter().map(ValidationRow::values).collect(),
            replication.into_iter().map(ReplicationRow::values).collect(),
        ])
    }

    /// Where the stored tables (`self`) first differ from those the events
    /// give (`rebuilt`): the table's name and what differs, row by row.
    pub fn first_difference(&self, rebuilt: &Tables) -> Option<(&'static str, String)> {
        for (k, (table, _)) in TABLES.iter().enumerate() {
            let (stored, want) = (&self.0[k], &rebuilt.0[k]);
            let Some(i) = (0..stored.len().max(want.len())).find(|&i| stored.get(i) != want.get(i)) else { continue };
            let why = match (stored.get(i), want.get(i)) {
                (Some(s), Some(_)) if stored.len() > want.len() && stored[i + 1..] == want[i..] => {
                    format!("holds a row the events do not give: {}", show(s))
                }
                (Some(_), Some(w)) if stored.len() < want.len() && stored[i..] == want[i + 1..] => {
                    format!("lacks a row the events give: {}", show(w))
                }
                (Some(s), Some(w)) => format!("row {} is {}, the events give {}", i + 1, show(s), show(w)),
                (Some(s), None) => format!("holds a row the events do not give: {}", show(s)),
                (None, Some(w)) => format!("lacks a row the events give: {}", show(w)),
                (None, None) => unreachable!("i is below one of the lengths"),
            };
            return Some((table, why));
        }
        None
    }
}

/// A row as SQL would write it: `('a', NULL, 3)`.
fn show(row: &[Value]) -> String {
    let cells: Vec<String> = row
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
            Value::Blob(b) => format!("x'{}'", crate::sink::hex(b)),
        })
        .collect();
    format!("({})", cells.join(", "))
}
