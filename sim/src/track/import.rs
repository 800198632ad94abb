//! A `DBUPGRADE.DATAUPGRADESTATUS` export (possibly partial: `InProgress`
//! rows, `NULL` end times) as records of the runbook's sub-steps: a row
//! started is a start, a row with an end a done, and a step whose sub-steps
//! are all done is done when the last one was. Importing is idempotent:
//! what the log already holds is skipped, so a newer export of the same run
//! adds only what is new, and one that disagrees with the log is refused.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use rehearse_core::scenario::{Scenario, StepIdx, suggest};

use super::fold::{Effective, Fold, Refusal, check_all};
use super::record::{Entry, Record, Stamp};
use super::store::{Writer, importing};
use super::{TrackError, parse_scenario, plan_zone};
use crate::calibrate::{RowStatus, read_export};
use crate::store::projection::status_names;

/// Records written per transaction; an import of more spans several, and
/// the log says `importing` until the last one commits.
const BATCH: usize = 64;

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// The records written, in order.
    pub added: Vec<Entry>,
    /// Rows read from the export.
    pub rows: usize,
    /// Rows that said `Failed` (recorded as started, not done).
    pub failed: usize,
}

/// Imports the export `text` (read from `file`) into the log at `path`.
/// Civil times are read in the plan's zone, or `zone` when the plan has
/// none. `after_batch(n)` is called once `n` transactions are committed.
///
/// # Errors
/// A malformed export or a row no step matches (file and line); a row the
/// log or the plan's order refuses (file and line, and why), with nothing
/// written; a damaged log; I/O and SQLite errors.
pub fn import(
    path: &std::path::Path,
    file: &str,
    text: &str,
    zone: Option<&TimeZone>,
    by: Option<String>,
    now: Timestamp,
    after_batch: &mut dyn FnMut(u64),
) -> Result<Imported, TrackError> {
    let mut w = Writer::open(path)?;
    let sc = parse_scenario(&w.name, &w.stored.meta)?;
    let err = |line: usize, message: String| TrackError::Export { file: file.to_string(), line, message };
    let run = read_export(file, text).map_err(|e| err(e.line, e.message))?;
    let zone = match (plan_zone(&sc), zone) {
        (_, Some(z)) => z.clone(),
        (Some(z), None) => z,
        (None, None) => {
            return Err(err(
                run.rows.first().map_or(1, |r| r.line),
                "the export's times have no offset and the plan no time_zone; say where they were taken with --time-zone (e.g. Europe/Berlin)".into(),
            ));
        }
    };
    let mut fold = check_all(&sc, &w.stored.entries).map_err(|(seq, why)| TrackError::Damaged {
        path: w.name.clone(),
        seq,
        why: why.to_string(),
    })?;
    let names = status_names(&sc);
    let mut drafts = Drafts { sc: &sc, fold: &mut fold, next_seq: w.stored.entries.len() as u64, by, out: vec![] };
    let mut failed = 0;
    for row in &run.rows {
        let at = |ms: u64| -> Result<Stamp, TrackError> {
            let civil: DateTime = run.first_start + jiff::SignedDuration::from_millis(ms as i64);
            let z = rehearse_core::anchor::instant(&civil.to_string(), Some(&zone))
                .map_err(|e| err(row.line, e.to_string()))?;
            if z.timestamp() > now {
                return Err(err(row.line, format!("{} is in the future", z.timestamp())));
            }
            Ok(Stamp::new(z.timestamp(), &zone))
        };
        let Some(i) =
            names.iter().position(|n| n.as_ref().is_some_and(|(s, ss)| *s == row.steps && *ss == row.substeps))
        else {
            let known: Vec<String> = names.iter().flatten().map(|(s, ss)| format!("{s}/{ss}")).collect();
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let wanted = format!("{}/{}", row.steps, row.substeps);
            let hint = suggest(&wanted, &refs).map(|s| format!("; did you mean {s}?")).unwrap_or_default();
            return Err(err(
                row.line,
                format!("{wanted} matches no sub-step of a runbook with records_status = true{hint}"),
            ));
        };
        let i = StepIdx(i as u32);
        let start = at(row.start_ms)?;
        drafts.start(i, start).map_err(|m| err(row.line, m.to_string()))?;
        match (row.end_ms, row.status) {
            (_, RowStatus::Failed) => failed += 1,
            (Some(end), _) => drafts.done(i, at(end)?).map_err(|m| err(row.line, m.to_string()))?,
            (None, _) => {}
        }
    }
    let added = drafts.out;
    let batches: Vec<&[Entry]> = added.chunks(BATCH).collect();
    let status = format!("importing {file}");
    for (k, batch) in batches.iter().enumerate() {
        if k > 0 {
            w.begin()?;
            if w.stored.entries.len() as u64 != batch[0].seq {
                return Err(TrackError::NotALog {
                    path: w.name.clone(),
                    why: "another writer recorded into the log during the import; import again".into(),
                });
            }
        }
        if k == 0 && batches.len() > 1 {
            w.set_status(&status)?;
        }
        w.append(batch)?;
        if k + 1 == batches.len() {
            w.set_status("open")?;
        }
        w.commit()?;
        after_batch(k as u64 + 1);
    }
    if batches.is_empty() && importing(&w.stored.meta).is_some() {
        // An earlier import was cut short after its last new record.
        w.set_status("open")?;
        w.commit()?;
    }
    Ok(Imported { added, rows: run.rows.len(), failed })
}

/// Why a row of the export cannot be recorded.
#[derive(Debug, thiserror::Error)]
enum RowRefused {
    /// The log or the plan's order refuses the record the row makes.
    #[error("`{record}` at {at} refused: {why}")]
    Record { record: Box<Record>, at: Stamp, why: Box<Refusal> },
    /// The log already holds the step's start or end, at another time.
    #[error(
        "`{step}` {what} at {export} in the export, but at {log} in the log (seq {seq}); is it the same run? if the log is wrong, correct seq {seq} first"
    )]
    Differs { step: String, what: &'static str, export: Stamp, log: Stamp, seq: u64 },
}

/// The records an import adds, each checked as it is made.
struct Drafts<'a, 's> {
    sc: &'s Scenario,
    fold: &'a mut Fold<'s>,
    next_seq: u64,
    by: Option<String>,
    out: Vec<Entry>,
}

impl Drafts<'_, '_> {
    fn push(&mut self, at: Stamp, record: Record) -> Result<(), RowRefused> {
        let e = Effective { seq: self.next_seq, at, by: self.by.clone(), record: record.clone(), corrected_by: None };
        if let Err(why) = self.fold.apply(&e) {
            return Err(RowRefused::Record { record: Box::new(record), at, why: Box::new(why) });
        }
        self.out.push(Entry { seq: self.next_seq, at, by: self.by.clone(), record, key: None });
        self.next_seq += 1;
        Ok(())
    }

    fn same(
        &self,
        what: &'static str,
        i: StepIdx,
        log: Option<(Stamp, u64)>,
        export: Stamp,
    ) -> Result<bool, RowRefused> {
        match log {
            None => Ok(false),
            Some((s, _)) if s.timestamp() == export.timestamp() => Ok(true),
            Some((log, seq)) => Err(RowRefused::Differs { step: self.sc.step(i).id.clone(), what, export, log, seq }),
        }
    }

    /// `i` started at `at`, and the steps it is part of by then.
    fn start(&mut self, i: StepIdx, at: Stamp) -> Result<(), RowRefused> {
        if self.same("started", i, self.fold.started[i.index()], at)? {
            return Ok(());
        }
        let mut chain = vec![];
        let mut p = self.sc.step(i).parent;
        while let Some(q) = p {
            if self.fold.started[q.index()].is_some() {
                break;
            }
            chain.push(q);
            p = self.sc.step(q).parent;
        }
        for q in chain.into_iter().rev().chain([i]) {
            self.push(at, Record::Started { step: self.sc.step(q).id.clone() })?;
        }
        Ok(())
    }

    /// `i` done at `at`, and each step it is part of whose sub-steps are
    /// then all done.
    fn done(&mut self, i: StepIdx, at: Stamp) -> Result<(), RowRefused> {
        if self.same("was done", i, self.fold.done[i.index()], at)? {
            return Ok(());
        }
        self.push(at, Record::Done { step: self.sc.step(i).id.clone() })?;
        let mut p = self.sc.step(i).parent;
        while let Some(q) = p {
            let children = &self.sc.step(q).children;
            if self.fold.done[q.index()].is_some() || children.iter().any(|c| self.fold.done[c.index()].is_none()) {
                break;
            }
            let last = children
                .iter()
                .filter_map(|c| self.fold.done[c.index()].map(|(s, _)| s))
                .max_by_key(Stamp::unix_ms)
                .expect("a group has sub-steps");
            self.push(last, Record::Done { step: self.sc.step(q).id.clone() })?;
            p = self.sc.step(q).parent;
        }
        Ok(())
    }
}
