//! Replaying a stored run: verify the hash chain, fold the events, rebuild
//! the projections, re-simulate from the recorded scenario, seed and fault
//! schedule, and compare event by event.

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::scenario::Scenario;
use rehearse_core::state::RunState;
use rehearse_core::time::Calendar;

use crate::engine::{FaultMode, Injection, Plan, RunOptions, Simulator};
use crate::sink::MemorySink;
use crate::store::projection::{
    DataProjection, ReplicationRowText, StatusProjection, StatusRowText, ValidationRowText,
};

/// The projections a store holds, to compare with those rebuilt from its
/// events.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoredProjections<'a> {
    pub status: Option<&'a [StatusRowText]>,
    pub validation: Option<&'a [ValidationRowText]>,
    pub replication: Option<&'a [ReplicationRowText]>,
}
use crate::store::{Encoder, LogError};

/// What replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The chain holds, the run is complete, and re-simulating gives the
    /// same events.
    Ok,
    /// A valid prefix: the run stopped (or was cut) before it ended.
    Incomplete { n_valid: u64 },
    /// The stored data is damaged at this event.
    Corrupted { seq: Option<u64>, why: String },
    /// Re-simulation gives another event at this seq.
    Diverged { seq: u64, logged: String, simulated: String },
}

/// The replay's findings.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    pub verdict: Verdict,
    /// Valid events read.
    pub n_events: u64,
    pub state: RunState,
    pub status_rows: usize,
}

/// Replays `records` (a verified prefix, `damage` saying why reading
/// stopped, if it did) against `scenario` (whose text has digest `digest`).
/// The projections the store holds (`stored`) are compared with those
/// rebuilt from the events, for a complete run.
pub fn replay(
    scenario: &Scenario,
    digest: rehearse_core::ScenarioDigest,
    records: &[EventRecord],
    damage: Option<LogError>,
    calendar: Calendar,
    stored: StoredProjections<'_>,
) -> ReplayReport {
    let state = RunState::replay(scenario, records);
    let mut projection = StatusProjection::new(scenario, calendar);
    let mut data = DataProjection::new(scenario, calendar);
    for r in records {
        projection.apply(r);
        data.apply(r);
    }
    let report = |verdict| {
        tracing::debug!(events = records.len(), ?verdict, "replay verdict");
        ReplayReport {
            verdict,
            n_events: records.len() as u64,
            state: state.clone(),
            status_rows: projection.rows.len(),
        }
    };
    let next_seq = records.last().map_or(0, |r| r.seq + 1);
    match damage {
        None | Some(LogError::Truncated { .. }) => {}
        Some(LogError::ChainBroken { seq }) => {
            return report(Verdict::Corrupted { seq: Some(seq), why: "the hash chain breaks here".into() });
        }
        Some(
            e @ (LogError::UnknownStep { seq, .. }
            | LogError::UnknownFault { seq, .. }
            | LogError::ColumnDiffers { seq, .. }
            | LogError::NotARecord { seq, .. }),
        ) => {
            return report(Verdict::Corrupted { seq: Some(seq), why: e.to_string() });
        }
        Some(e @ LogError::Malformed { .. }) => {
            return report(Verdict::Corrupted { seq: Some(next_seq), why: e.to_string() });
        }
    }
    let Some(first) = records.first() else {
        return report(Verdict::Incomplete { n_valid: 0 });
    };
    let Event::RunStarted { scenario: logged_digest, seed, run, mode, .. } = first.event else {
        return report(Verdict::Corrupted { seq: Some(first.seq), why: "the first event is not RunStarted".into() });
    };
    if logged_digest != digest {
        return report(Verdict::Corrupted {
            seq: Some(first.seq),
            why: format!("the log was written from another scenario text (digest {logged_digest}, this one {digest})"),
        });
    }
    let complete = matches!(records.last().map(|r| r.event), Some(Event::RunFinished { .. }));
    if complete {
        let mut validation: Vec<ValidationRowText> = data.validation.values().map(|r| r.text()).collect();
        validation.sort();
        let mut replication: Vec<ReplicationRowText> = data.replication.iter().map(|r| r.text()).collect();
        replication.sort();
        if let Some(rows) = stored.validation {
            let mut rows = rows.to_vec();
            rows.sort();
            if rows != validation {
                return report(Verdict::Corrupted {
                    seq: None,
                    why: "the stored PostValidationInfo does not match the events".into(),
                });
            }
        }
        if let Some(rows) = stored.replication {
            let mut rows = rows.to_vec();
            rows.sort();
            if rows != replication {
                return report(Verdict::Corrupted {
                    seq: None,
                    why: "the stored ReplicationStatus does not match the events".into(),
                });
            }
        }
    }
    if let Some(rows) = stored.status {
        let rebuilt: Vec<_> = {
            let mut v: Vec<_> = projection
                .rows
                .values()
                .map(|r| {
                    (
                        Some(projection.format(r.start)),
                        r.end.map(|e| projection.format(e)),
                        r.steps.clone(),
                        r.substeps.clone(),
                        r.status.to_string(),
                    )
                })
                .collect();
            v.sort_by(|a, b| (&a.2, &a.3).cmp(&(&b.2, &b.3)));
            v
        };
        // The stored projection lags the events by at most one batch when a
        // run was cut short; a complete run's must match exactly.
        if complete && rebuilt.as_slice() != rows {
            return report(Verdict::Corrupted {
                seq: None,
                why: "the stored DATAUPGRADESTATUS does not match the events".into(),
            });
        }
    }
    // Re-simulate with exactly the faults the log records.
    let injected: Vec<Injection> = records
        .iter()
        .filter_map(|r| match r.event {
            Event::FaultInjected { fault, step, attempt } => Some(Injection { fault, step, attempt }),
            _ => None,
        })
        .collect();
    let plan = Plan::new(scenario, digest);
    let mut opts = RunOptions::new(seed, mode).with_faults(FaultMode::Scripted(injected));
    opts.run = run;
    let mut memory = MemorySink::new();
    let sim_result = Simulator::new(&plan).run(&opts, &mut memory);
    // An event as the log writes it (the text does not depend on the chain).
    let text = |r: &EventRecord| {
        Encoder::new(scenario).encode(r).map(|(c, _)| String::from_utf8_lossy(c).into_owned()).unwrap_or_default()
    };
    for (i, logged) in records.iter().enumerate() {
        match memory.records.get(i) {
            Some(sim) if sim == logged => {}
            Some(sim) => {
                return report(Verdict::Diverged { seq: logged.seq, logged: text(logged), simulated: text(sim) });
            }
            None => {
                let simulated = match &sim_result {
                    Err(e) => format!("(re-simulation stopped: {e})"),
                    Ok(_) => "(no event: the re-simulated run had ended)".to_string(),
                };
                return report(Verdict::Diverged { seq: logged.seq, logged: text(logged), simulated });
            }
        }
    }
    let ended = matches!(records.last().map(|r| r.event), Some(Event::RunFinished { .. }));
    if !ended {
        return report(Verdict::Incomplete { n_valid: records.len() as u64 });
    }
    if memory.records.len() > records.len() {
        return report(Verdict::Diverged {
            seq: next_seq,
            logged: "(the log ends here)".into(),
            simulated: format!("{:?}", memory.records[records.len()].event.kind()),
        });
    }
    report(Verdict::Ok)
}
