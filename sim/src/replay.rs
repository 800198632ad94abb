//! Replaying a stored run: verify the hash chain, fold the events, rebuild
//! the projections and compare them with the stored ones row for row,
//! re-simulate from the recorded scenario, seed and fault schedule, and
//! compare event by event. [`replay_store`] does it all for a SQLite
//! store, after checking the file as a whole.

use std::path::Path;

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::scenario::Scenario;
use rehearse_core::state::RunState;
use rehearse_core::time::Calendar;

use crate::engine::{FaultMode, Injection, Plan, RunOptions, Simulator};
use crate::sink::MemorySink;
use crate::store::projection::{DataProjection, StatusProjection, Tables};
use crate::store::sqlite::{self, Damage, StoreError};
use crate::store::{Encoder, LogError};

/// What replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The chain holds, the run is complete, and re-simulating gives the
    /// same events.
    Ok,
    /// A valid prefix: the run stopped (or was cut) before it ended.
    Incomplete { n_valid: u64 },
    /// The stored data is damaged: at this event, or in this table.
    Corrupted { seq: Option<u64>, table: Option<String>, why: String },
    /// Re-simulation gives another event at this seq.
    Diverged { seq: u64, logged: String, simulated: String },
}

impl Verdict {
    fn damaged(d: Damage) -> Verdict {
        Verdict::Corrupted { seq: None, table: d.table, why: d.why }
    }
}

/// The replay's findings.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    pub verdict: Verdict,
    /// Valid events read.
    pub n_events: u64,
    /// The fold of the valid events (`None` when damage was found before
    /// the scenario could be read).
    pub state: Option<RunState>,
    pub status_rows: usize,
}

/// Replays `records` (a verified prefix, `damage` saying why reading
/// stopped, if it did) against `scenario` (whose text has digest `digest`).
/// The projections a store holds (`stored`) are compared row for row with
/// those rebuilt from the events: after every committed transaction a
/// store's projections are exactly what its events give.
pub fn replay(
    scenario: &Scenario,
    digest: rehearse_core::ScenarioDigest,
    records: &[EventRecord],
    damage: Option<LogError>,
    calendar: Calendar,
    stored: Option<&Tables>,
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
            state: Some(state.clone()),
            status_rows: projection.rows.len(),
        }
    };
    let corrupted = |seq, why: String| Verdict::Corrupted { seq: Some(seq), table: None, why };
    let next_seq = records.last().map_or(0, |r| r.seq + 1);
    match damage {
        None | Some(LogError::Truncated { .. }) => {}
        Some(LogError::ChainBroken { seq }) => {
            return report(corrupted(seq, "the hash chain breaks here".into()));
        }
        Some(
            e @ (LogError::UnknownStep { seq, .. }
            | LogError::UnknownFault { seq, .. }
            | LogError::ColumnDiffers { seq, .. }
            | LogError::NotARecord { seq, .. }),
        ) => {
            return report(corrupted(seq, e.to_string()));
        }
        Some(e @ LogError::Malformed { .. }) => {
            return report(corrupted(next_seq, e.to_string()));
        }
    }
    let Some(first) = records.first() else {
        return report(Verdict::Incomplete { n_valid: 0 });
    };
    let Event::RunStarted { scenario: logged_digest, seed, run, mode, .. } = first.event else {
        return report(corrupted(first.seq, "the first event is not RunStarted".into()));
    };
    if logged_digest != digest {
        return report(corrupted(
            first.seq,
            format!("the log was written from another scenario text (digest {logged_digest}, this one {digest})"),
        ));
    }
    if let Some((table, why)) = stored.and_then(|t| t.first_difference(&Tables::rebuilt(&projection, &data))) {
        return report(Verdict::Corrupted { seq: None, table: Some(table.to_string()), why });
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

/// A SQLite store replayed: the verdict, and what the store says of itself.
#[derive(Clone, Debug)]
pub struct StoreReplay {
    pub report: ReplayReport,
    /// `run_meta`'s status: `running`, `finished` or `stopped: WHY`.
    pub status: Option<String>,
    /// Whether the store was read immutable (it sits where nothing can be
    /// written).
    pub immutable: bool,
}

/// Replays the SQLite store at `path`: the file as a whole (SQLite's
/// integrity check, the tables a store holds and no others), the run's
/// identity against the chain's first link, the events against the chain,
/// `run_meta` against the events (its status, seed, run, mode, scenario
/// digest and event schema), then [`replay`] with every stored projection.
/// Damage anywhere is a [`Verdict::Corrupted`] naming the table or the
/// event.
///
/// # Errors
/// Files that cannot be read or are not run stores; a stored scenario that
/// does not parse (a store written by a version whose scenarios this one
/// refuses).
pub fn replay_store(path: &Path) -> Result<StoreReplay, StoreError> {
    let stored = sqlite::read_store(path)?;
    let status = stored.meta.get("status").cloned();
    let done = |report| StoreReplay { report, status: status.clone(), immutable: stored.immutable };
    let damaged = |d: Damage| {
        let report = ReplayReport { verdict: Verdict::damaged(d), n_events: 0, state: None, status_rows: 0 };
        Ok(done(report))
    };
    if let Some(d) = &stored.damage {
        return damaged(d.clone());
    }
    let Some(text) = stored.meta.get("scenario_text") else {
        return damaged(Damage::in_table("run_meta", "no `scenario_text` row"));
    };
    let calendar = match stored.calendar() {
        Ok(c) => c,
        Err(d) => return damaged(d),
    };
    let origin = format!("{} (stored scenario)", path.display());
    let scenario = Scenario::parse(text, &origin).map_err(|e| StoreError::Scenario(Box::new(e)))?;
    let (records, damage) = sqlite::verify_stored(&scenario, &stored.genesis, &stored.events);
    let mut report = replay(&scenario, crate::digest(text), &records, damage, calendar, Some(&stored.projections));
    if matches!(report.verdict, Verdict::Ok | Verdict::Incomplete { .. } | Verdict::Diverged { .. })
        && let Some(d) = meta_against_events(&stored.meta, &records)
    {
        report.verdict = Verdict::damaged(d);
    }
    Ok(done(report))
}

/// Where `run_meta` says other than the events it holds: its status
/// (`finished` exactly when the events end the run) and the run the first
/// event names.
fn meta_against_events(meta: &std::collections::BTreeMap<String, String>, records: &[EventRecord]) -> Option<Damage> {
    let ended = matches!(records.last().map(|r| r.event), Some(Event::RunFinished { .. }));
    let status = meta.get("status").map_or("", String::as_str);
    let status_ok = match status {
        "finished" => ended,
        "running" => !ended,
        s => s.starts_with("stopped: ") && !ended,
    };
    if !status_ok {
        let events = if ended { "end the run" } else { "stop before the run ends" };
        return Some(Damage::in_table("run_meta", format!("its status says {status:?}, but the events {events}")));
    }
    let Some(Event::RunStarted { schema, scenario, seed, run, mode }) = records.first().map(|r| r.event) else {
        return None;
    };
    let mode = format!("{mode:?}").to_lowercase();
    let said = [
        ("event_schema", schema.to_string()),
        ("scenario_digest", scenario.to_string()),
        ("seed", seed.to_string()),
        ("run", run.to_string()),
        ("mode", mode),
    ];
    said.into_iter().find_map(|(key, event)| match meta.get(key) {
        Some(v) if *v != event => {
            Some(Damage::in_table("run_meta", format!("`{key}` says {v}, the run's first event {event}")))
        }
        _ => None,
    })
}
