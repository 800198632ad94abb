//! The weekend log (`rehearse track`): what actually happened on the
//! weekend, recorded as it happens, each record checked against the plan
//! and what came before it, in an event store with the run store's hash
//! chain.
//!
//! The rooms: `record` (the records and their canonical encoding), `fold`
//! (corrections applied, the checks), `store` (the SQLite file, one
//! transaction per write), `import` (a DATAUPGRADESTATUS export as
//! records). This file holds the error, the log read back ([`Log`]: the
//! scenario it holds, the [`Actuals`] the forecast runs from, the faults
//! and decisions), writing ([`init`], [`append`]) and [`verify`], which
//! `replay` asks.
//!
//! Wall-clock instants come in from the caller (the binary): nothing here
//! reads the clock.

mod fold;
mod import;
mod record;
mod store;

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rehearse_core::fault::Action;
use rehearse_core::scenario::Scenario;

pub use fold::{Effective, Fold, Refusal, check_all, effective, find_step, known_actions};
pub use import::{Imported, import};
pub use record::{Entry, Record, Replacement, Stamp, StampError};
pub use store::{KIND, LIVE_TOKENS_TABLE, STATUS_PACKS_TABLE, is_log};

use crate::actuals::{Actuals, Decided, Strike};
use crate::replay::Verdict;

/// Why a weekend log could not be made, read or written to.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("{path}: {cause}")]
    Sqlite { path: String, cause: rusqlite::Error },
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: no such file; open a weekend log with `rehearse track {path} init SCENARIO.toml`")]
    Missing { path: String },
    #[error("{path}: already exists; a weekend log is never replaced (record into it, or pick another name)")]
    Exists { path: String },
    #[error("{path}: not a weekend log ({why})")]
    NotALog { path: String, why: String },
    #[error("{path}: the log is damaged at seq {seq} ({why}); nothing was written (`rehearse replay` says more)")]
    Damaged { path: String, seq: u64, why: String },
    #[error("{path}: the stored scenario does not parse: {why}")]
    Scenario { path: String, why: String },
    #[error("`{record}` refused, nothing written: {why}")]
    Refused { record: String, why: Box<Refusal> },
    #[error("`{record}` refused, nothing written: the log would no longer hold at seq {seq} (`{what}`): {why}")]
    Breaks { record: String, seq: u64, what: String, why: Box<Refusal> },
    #[error("{file}:{line}: {message}")]
    Export { file: String, line: usize, message: String },
    #[error(transparent)]
    Store(Box<crate::store::sqlite::StoreError>),
    #[error("idempotency key {key:?} was used for another record (seq {seq}: `{was}`); nothing written")]
    KeyReused { key: String, seq: u64, was: String },
    #[error("an idempotency key is 1 to {KEY_MAX} characters")]
    BadKey,
}

/// The zone a plan's times are in: its anchor's, if it has one.
pub fn plan_zone(sc: &Scenario) -> Option<TimeZone> {
    sc.meta.anchor.as_ref().map(|a| a.downtime_begins().time_zone().clone())
}

/// A record to write: when, by whom, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub at: Stamp,
    pub by: Option<String>,
    pub record: Record,
    /// An idempotency key: a draft whose key the log already holds is not
    /// written again ([`record`]).
    pub key: Option<String>,
}

/// What [`record`] did with a draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The entry written, or the one written before under the same key.
    pub entry: Entry,
    /// Whether it was written before (a retry), so nothing was written now.
    pub already: bool,
}

/// The longest idempotency key a log takes.
pub const KEY_MAX: usize = 200;

/// Opens a new weekend log at `path` for the scenario `text` (read from
/// `file`, which `sc` was parsed from), stamped `at`.
///
/// # Errors
/// [`TrackError::Exists`] for an existing file (never replaced); I/O and
/// SQLite errors.
pub fn init(path: &Path, file: &str, text: &str, at: Stamp, by: Option<String>) -> Result<(), TrackError> {
    init_with(path, file, text, at, by, &[])
}

/// Opens a new weekend log as [`init`] does, with `extra` in its identity
/// (a drill's settings).
///
/// # Errors
/// As [`init`].
pub fn init_with(
    path: &Path,
    file: &str,
    text: &str,
    at: Stamp,
    by: Option<String>,
    extra: &[(&str, &str)],
) -> Result<(), TrackError> {
    let first = Entry {
        seq: 0,
        at,
        by,
        record: Record::Opened { scenario: file.to_string(), sha256: crate::sha256_hex(text.as_bytes()) },
        key: None,
    };
    let version = env!("CARGO_PKG_VERSION");
    let mut meta = vec![("scenario_text", text), ("scenario_file", file), ("version", version)];
    meta.extend_from_slice(extra);
    store::create(path, &meta, &first)
}

fn parse_scenario(name: &str, meta: &BTreeMap<String, String>) -> Result<Scenario, TrackError> {
    let text = meta
        .get("scenario_text")
        .ok_or_else(|| TrackError::NotALog { path: name.to_string(), why: "no scenario text".into() })?;
    Scenario::parse(text, &format!("{name} (stored scenario)"))
        .map_err(|e| TrackError::Scenario { path: name.to_string(), why: e.to_string() })
}

/// Checks `new` (the log's next records) against the plan, the log and
/// `now`, as if appended.
fn check_new(sc: &Scenario, entries: &[Entry], new: &[Entry], now: Timestamp) -> Result<(), TrackError> {
    let Some(first) = new.first() else { return Ok(()) };
    let refused = |e: &Entry, why| TrackError::Refused { record: e.record.to_string(), why: Box::new(why) };
    let zone = TimeZone::UTC;
    for e in new {
        let mut ats = vec![e.at];
        if let Record::Correction { replacement: Some(r), .. } = &e.record {
            ats.push(r.at);
        }
        for at in ats {
            if at.timestamp() > now {
                return Err(refused(e, Refusal::InTheFuture { at, now: Stamp::new(now, &zone) }));
            }
        }
    }
    let all: Vec<Entry> = entries.iter().chain(new).cloned().collect();
    match check_all(sc, &all) {
        Ok(_) => Ok(()),
        Err((seq, why)) => {
            let new_at = |s: u64| new.iter().find(|e| e.seq == s);
            let stands_for =
                |s: u64| new.iter().find(|e| matches!(e.record, Record::Correction { of_seq, .. } if of_seq == s));
            if let Some(e) = new_at(seq).or_else(|| stands_for(seq)) {
                return Err(refused(e, why));
            }
            let what = all.get(seq as usize).map(|e| e.record.to_string()).unwrap_or_default();
            Err(TrackError::Breaks { record: first.record.to_string(), seq, what, why: Box::new(why) })
        }
    }
}

/// Appends one record to the log at `path`, checked against the plan, the
/// log so far and `now`, in one transaction: written whole, or refused
/// with nothing written.
///
/// # Errors
/// As [`record`].
pub fn append(path: &Path, draft: Draft, now: Timestamp) -> Result<Entry, TrackError> {
    record(path, draft, now).map(|r| r.entry)
}

/// Appends one record, as [`append`], once per idempotency key: when the
/// log already holds the draft's key (looked up under the write lock, so
/// two writers racing with one key write once), the record written then is
/// the answer and nothing is written now. The key is compared with what
/// was recorded (the record and who), not the time: a retry stamped later
/// is still the same write.
///
/// # Errors
/// [`TrackError::KeyReused`] for a key recorded with another record;
/// [`TrackError::BadKey`]; [`TrackError::Refused`] / [`TrackError::Breaks`]
/// for a record the log cannot take; a damaged log; I/O and SQLite errors.
pub fn record(path: &Path, draft: Draft, now: Timestamp) -> Result<Recorded, TrackError> {
    if draft.key.as_ref().is_some_and(|k| k.is_empty() || k.chars().count() > KEY_MAX) {
        return Err(TrackError::BadKey);
    }
    let mut w = store::Writer::open(path)?;
    if let Some(key) = &draft.key
        && let Some(e) = w.stored.entries.iter().find(|e| e.key.as_ref() == Some(key))
    {
        if e.record == draft.record && e.by == draft.by {
            return Ok(Recorded { entry: e.clone(), already: true });
        }
        return Err(TrackError::KeyReused { key: key.clone(), seq: e.seq, was: e.record.to_string() });
    }
    let sc = parse_scenario(&w.name, &w.stored.meta)?;
    let entry =
        Entry { seq: w.stored.entries.len() as u64, at: draft.at, by: draft.by, record: draft.record, key: draft.key };
    check_new(&sc, &w.stored.entries, std::slice::from_ref(&entry), now)?;
    w.append(std::slice::from_ref(&entry))?;
    w.commit()?;
    Ok(Recorded { entry, already: false })
}

/// The log's scenario, parsed (to read a `--at` in the plan's zone before
/// recording). The log is read and its chain checked first, so a damaged
/// log is named as such before anything else.
///
/// # Errors
/// As [`Log::open`].
pub fn stored_scenario(path: &Path) -> Result<Scenario, TrackError> {
    Log::open(path)?.scenario()
}

/// A weekend log read back and verified.
#[derive(Clone, Debug)]
pub struct Log {
    name: String,
    meta: BTreeMap<String, String>,
    entries: Vec<Entry>,
}

impl Log {
    /// Reads the log at `path`, its chain and its records checked.
    ///
    /// # Errors
    /// A file that is not a weekend log, a damaged one, I/O and SQLite
    /// errors.
    pub fn open(path: &Path) -> Result<Log, TrackError> {
        let stored = store::read(path)?;
        let name = path.display().to_string();
        if let Some((seq, why)) = stored.damage {
            return Err(TrackError::Damaged { path: name, seq, why });
        }
        Ok(Log { name, meta: stored.meta, entries: stored.entries })
    }

    /// The scenario text the log was opened with.
    pub fn scenario_text(&self) -> &str {
        self.meta.get("scenario_text").map_or("", String::as_str)
    }

    /// The file the scenario was read from when the log was opened.
    pub fn scenario_file(&self) -> &str {
        self.meta.get("scenario_file").map_or("", String::as_str)
    }

    /// The stored scenario, parsed.
    ///
    /// # Errors
    /// [`TrackError::Scenario`] (a log made by another version may hold a
    /// scenario this one refuses).
    pub fn scenario(&self) -> Result<Scenario, TrackError> {
        parse_scenario(&self.name, &self.meta)
    }

    /// Every record, as written.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The records with corrections applied.
    pub fn effective(&self) -> Vec<Effective> {
        effective(&self.entries)
    }

    /// The file an import that did not finish was reading, if one did not.
    pub fn importing(&self) -> Option<&str> {
        store::importing(&self.meta)
    }

    /// The faults recorded (corrections applied), in log order.
    pub fn faults(&self) -> Vec<Effective> {
        self.effective().into_iter().filter(|e| matches!(e.record, Record::Fault { .. })).collect()
    }

    /// The decisions recorded (corrections applied), in log order.
    pub fn decisions(&self) -> Vec<Effective> {
        self.effective().into_iter().filter(|e| matches!(e.record, Record::Decision { .. })).collect()
    }

    /// What has happened, as the forecast runs from it: time 0 is the
    /// earliest recorded start (`now` when nothing started), times in
    /// milliseconds from it, corrections applied. `sc` is the log's
    /// scenario ([`Log::scenario`]); records of steps it does not have are
    /// left out.
    pub fn actuals(&self, sc: &Scenario, now: Timestamp) -> Actuals {
        actuals_of(sc, &self.entries, now)
    }

    /// A value of the log's identity (`run_meta`), if it has one.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }
}

/// What has happened, as [`Log::actuals`] says, of the records `entries`
/// (a log's, from its first).
pub fn actuals_of(sc: &Scenario, entries: &[Entry], now: Timestamp) -> Actuals {
    let n = sc.steps.len();
    let effective = effective(entries);
    let mut started: Vec<Option<Timestamp>> = vec![None; n];
    let mut done: Vec<Option<Timestamp>> = vec![None; n];
    for e in &effective {
        let slot = match &e.record {
            Record::Started { step } => sc.find(step).map(|i| &mut started[i.index()]),
            Record::Done { step } => sc.find(step).map(|i| &mut done[i.index()]),
            _ => None,
        };
        if let Some(slot) = slot {
            *slot = Some(e.at.timestamp());
        }
    }
    let origin = started.iter().flatten().min().copied().unwrap_or(now);
    let ms = |t: Timestamp| u64::try_from(t.as_millisecond() - origin.as_millisecond()).unwrap_or(0);
    // Faults in the order they struck; a recovery decided about a step
    // goes to its latest fault not yet decided; a rollback, cancel,
    // abort or no-go about nothing struck ends the weekend.
    let mut struck: Vec<Strike> = Vec::new();
    let mut ending = None;
    let mut order: Vec<&Effective> = effective.iter().collect();
    order.sort_by_key(|e| (e.at.timestamp(), e.seq));
    for e in order {
        match &e.record {
            Record::Fault { fault, step } => {
                if let (Some(f), Some(i)) = (sc.faults.iter().position(|f| &f.id == fault), sc.find(step)) {
                    let fault = rehearse_core::fault::FaultIdx(f as u32);
                    struck.push(Strike { step: i, fault, at_ms: ms(e.at.timestamp()), decided: None });
                }
            }
            Record::Decision { action, step, .. } => {
                let Some(action) = recovery_action(action) else { continue };
                let decided = Decided { action, at_ms: ms(e.at.timestamp()) };
                let open = step
                    .as_deref()
                    .and_then(|s| sc.find(s))
                    .and_then(|i| struck.iter_mut().rev().find(|x| x.step == i))
                    .filter(|x| x.decided.is_none());
                match open {
                    Some(x) => x.decided = Some(decided),
                    None if !action.retries() => {
                        ending.get_or_insert(decided);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
    Actuals {
        origin,
        now_ms: ms(now),
        started_ms: started.iter().map(|t| t.map(ms)).collect(),
        done_ms: done.iter().map(|t| t.map(ms)).collect(),
        struck,
        ending,
    }
}

/// The recovery a recorded decision stands for: one of the plan's
/// actions, or `no-go` (a rollback); `None` for `go` and `fix-forward`,
/// which change nothing the simulation runs.
pub fn recovery_action(name: &str) -> Option<Action> {
    if name == "no-go" {
        return Some(Action::Rollback);
    }
    Action::ALL.into_iter().find(|a| a.name() == name)
}

/// What `replay` finds in a weekend log.
#[derive(Clone, Debug)]
pub struct Verification {
    pub verdict: Verdict,
    /// Records read and found sound.
    pub n_records: u64,
}

/// Verifies the log at `path`: the file as a whole (SQLite's integrity
/// check, no tables but a log's), the chain, each row's place and
/// columns, the scenario text against the first record, and every record
/// against the plan and the records before it. OK; incomplete when an
/// import was cut short (the records it wrote are sound: import the export
/// again to finish); corrupted at the first damage.
///
/// # Errors
/// Files that cannot be read or are not weekend logs.
pub fn verify(path: &Path) -> Result<Verification, TrackError> {
    let stored = match store::read_checked(path)? {
        store::Read::Stored(stored) => stored,
        store::Read::Damaged(d) => {
            let verdict = Verdict::Corrupted { seq: None, table: d.table, why: d.why };
            return Ok(Verification { verdict, n_records: 0 });
        }
    };
    let name = path.display().to_string();
    let n_read = stored.entries.len() as u64;
    if let Some((seq, why)) = stored.damage {
        return Ok(Verification {
            verdict: Verdict::Corrupted { seq: Some(seq), table: None, why },
            n_records: n_read,
        });
    }
    let sc = match parse_scenario(&name, &stored.meta) {
        Ok(sc) => sc,
        Err(e) => {
            return Ok(Verification {
                verdict: Verdict::Corrupted { seq: None, table: Some("run_meta".into()), why: e.to_string() },
                n_records: 0,
            });
        }
    };
    if let Err((seq, why)) = check_all(&sc, &stored.entries) {
        return Ok(Verification {
            verdict: Verdict::Corrupted {
                seq: Some(seq),
                table: None,
                why: format!("the record breaks the plan's order: {why}"),
            },
            n_records: seq,
        });
    }
    // A drill's log is its settings and what people decided in it: played
    // again, the drill must write what it holds.
    let drill = crate::drill::DrillSpec::from_meta(|k| stored.meta.get(k).cloned());
    let text = stored.meta.get("scenario_text").map_or("", String::as_str);
    if let Some(Err(e)) = drill.map(|spec| spec.and_then(|spec| crate::drill::verify(&sc, text, spec, &stored.entries)))
    {
        let seq = e.seq();
        let why = format!("the drill does not play again as recorded: {e}");
        return Ok(Verification { verdict: Verdict::Corrupted { seq, table: None, why }, n_records: seq.unwrap_or(0) });
    }
    let verdict =
        if store::importing(&stored.meta).is_some() { Verdict::Incomplete { n_valid: n_read } } else { Verdict::Ok };
    Ok(Verification { verdict, n_records: n_read })
}

/// Each step's length in the plan as written (a run with every step at its
/// median), in milliseconds, for the timeline `show` prints beside the
/// actuals; `None` when that run cannot be made.
pub fn planned_ms(sc: &Scenario, text: &str) -> Option<Vec<u64>> {
    let plan = crate::engine::Plan::new(sc, crate::digest(text));
    let opts = crate::engine::RunOptions::new(0, rehearse_core::Mode::Median);
    let summary = crate::engine::Simulator::new(&plan).run(&opts, &mut crate::sink::NullSink).ok()?;
    Some(summary.steps.iter().map(|t| t.duration().as_ms()).collect())
}
