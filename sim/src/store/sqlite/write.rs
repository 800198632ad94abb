//! Writing a run into its store as it happens: the run's thread encodes,
//! chains and projects the events; a writer thread owns the connection and
//! inserts each batch (events and changed projection rows, one
//! transaction), so the two overlap.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;
use rehearse_core::time::Calendar;
use rusqlite::{Connection, params};

use super::super::projection::{DataProjection, ReplicationRowText, StatusProjection, ValidationRowText};
use super::super::{Chain, Encoder};
use super::{EVENT_TABLES, PROJECTIONS, StoreError};
use crate::sink::EventSink;

/// Events per transaction.
const BATCH: usize = 4096;
/// Events per INSERT statement.
const ROWS_PER_INSERT: usize = 128;
/// Batches handed to the writer thread and not yet written, at most.
const QUEUED_BATCHES: usize = 2;

/// Encoded events not yet inserted.
#[derive(Debug, Default)]
struct Events {
    /// (seq, at, kind, end of the payload in `text`, chain).
    rows: Vec<(i64, i64, &'static str, usize, Chain)>,
    /// The canonical payloads, one after the other.
    text: Vec<u8>,
}

/// A DATAUPGRADESTATUS row to upsert: (StartTime, EndTime, Steps, SubSteps,
/// Status).
type StatusUpsert = (String, Option<String>, String, String, &'static str);
/// A RELEASEUPDATESCRIPTSERRORLOG row: (CREATEDDATETIME, STEPS, SUBSTEPS,
/// MESSAGE).
type ErrorRow = (String, String, String, String);

/// One transaction for the writer thread: events, then the projection rows
/// as they stand after them.
#[derive(Debug, Default)]
struct Batch {
    events: Events,
    status: Vec<StatusUpsert>,
    errors: Vec<ErrorRow>,
    /// PostValidationInfo and ReplicationStatus, rewritten whole, if changed.
    data: Option<(Vec<ValidationRowText>, Vec<ReplicationRowText>)>,
    /// The run's final status, on the last batch.
    close: Option<String>,
}

/// Writes a run into a SQLite file, as it happens.
pub struct SqliteWriter<'s> {
    path: String,
    enc: Encoder<'s>,
    projection: StatusProjection<'s>,
    data: DataProjection<'s>,
    n_errors_written: usize,
    /// The batch being filled.
    events: Events,
    /// To the writer thread (`None` once closed).
    to_writer: Option<SyncSender<Batch>>,
    /// Emptied event buffers coming back from the writer thread.
    spare: Receiver<Events>,
    writer: Option<JoinHandle<rusqlite::Result<()>>>,
    /// Why the writer thread stopped, if it failed: every later call says
    /// it again.
    failed: Option<String>,
    /// Batches after which the writer thread halts (`u64::MAX`: never).
    halt_after: Arc<AtomicU64>,
    /// The store's single-writer lock, released when the writer is dropped
    /// (after the writer thread has closed the connection: fields drop
    /// after `Drop::drop`).
    _lock: std::fs::File,
}

impl<'s> SqliteWriter<'s> {
    /// Creates the store at `path` (replacing any file there) with the run's
    /// identity in `meta`, and holds it for this writer alone until closed
    /// or dropped.
    ///
    /// # Errors
    /// [`StoreError::Busy`] if another writer holds the store; any I/O or
    /// SQLite error, with the path.
    pub fn create(
        path: &Path,
        scenario: &'s Scenario,
        calendar: Calendar,
        meta: &[(&str, String)],
    ) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
        let io_err = |cause| StoreError::Io { path: name.clone(), cause };
        // One writer per store: an advisory lock on the file, held until the
        // store is closed, taken before anything is removed or truncated, so
        // a second run on the same path is refused instead of replacing the
        // first run's store under it. (SQLite's own locks are per
        // transaction; they cannot say "a run is writing here".)
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Busy { path: name }),
            Err(std::fs::TryLockError::Error(cause)) => return Err(io_err(cause)),
        }
        for suffix in ["-wal", "-shm"] {
            let p = format!("{}{suffix}", path.display());
            if Path::new(&p).exists() {
                std::fs::remove_file(&p).map_err(|cause| StoreError::Io { path: p.clone(), cause })?;
            }
        }
        lock.set_len(0).map_err(io_err)?;
        let conn = Connection::open(path).map_err(err)?;
        // 16 KiB pages: a quarter of the page writes, reads and WAL frames
        // of the default 4 KiB (set before the journal mode and the tables).
        conn.execute_batch("PRAGMA page_size=16384").map_err(err)?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).map_err(err)?;
        // No sync: a killed process keeps every committed batch (the WAL is
        // in the operating system's hands), a power loss may not; a run
        // store can always be made again from its scenario and seed, and
        // NORMAL cost 30 % of the append speed (README, "What a store
        // survives").
        conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;").map_err(err)?;
        // The tables and the run's identity in one transaction: a run killed
        // while creating its store leaves all of them or none.
        conn.execute_batch("BEGIN").map_err(err)?;
        conn.execute_batch(EVENT_TABLES).map_err(err)?;
        conn.execute_batch(PROJECTIONS).map_err(err)?;
        {
            let mut stmt = conn.prepare("INSERT INTO run_meta (key, value) VALUES (?1, ?2)").map_err(err)?;
            for (k, v) in meta {
                stmt.execute(params![k, v]).map_err(err)?;
            }
            stmt.execute(params!["calendar_start", calendar.start().to_string()]).map_err(err)?;
            stmt.execute(params!["status", "running"]).map_err(err)?;
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        tracing::info!(path = %name, "store created");
        let (to_writer, batches) = sync_channel(QUEUED_BATCHES);
        let (give_back, spare) = sync_channel(QUEUED_BATCHES + 1);
        let halt_after = Arc::new(AtomicU64::new(u64::MAX));
        let writer = std::thread::Builder::new()
            .name("rehearse-store".into())
            .spawn({
                let name = name.clone();
                let halt_after = Arc::clone(&halt_after);
                move || write_batches(&name, &conn, &batches, &give_back, &halt_after)
            })
            .map_err(|cause| StoreError::Io { path: name.clone(), cause })?;
        Ok(SqliteWriter {
            path: name,
            enc: Encoder::new(scenario),
            projection: StatusProjection::new(scenario, calendar),
            data: DataProjection::new(scenario, calendar),
            n_errors_written: 0,
            events: Events::with_capacity(),
            to_writer: Some(to_writer),
            spare,
            writer: Some(writer),
            failed: None,
            halt_after,
            _lock: lock,
        })
    }

    /// For crash tests: once `batches` batches are committed, the writer
    /// thread says so on stderr (`store halted after N batches`) and stops
    /// for good, so the run blocks with exactly that much in the store
    /// until it is killed. A test waits for the line instead of racing the
    /// run with a clock.
    pub fn halt_after_batches(&self, batches: u64) {
        self.halt_after.store(batches, Ordering::Relaxed);
    }

    /// Hands the events so far and the changed projection rows to the
    /// writer thread, as one transaction (the last one if `close`).
    fn send(&mut self, close: Option<String>) -> io::Result<()> {
        let status = self
            .projection
            .take_dirty()
            .into_iter()
            .map(|step| {
                let row = &self.projection.rows[&step];
                let p = &self.projection;
                (p.format(row.start), row.end.map(|e| p.format(e)), row.steps.clone(), row.substeps.clone(), row.status)
            })
            .collect();
        let errors = self.projection.errors[self.n_errors_written..]
            .iter()
            .map(|e| (e.created.clone(), e.steps.clone(), e.substeps.clone(), e.message.clone()))
            .collect();
        self.n_errors_written = self.projection.errors.len();
        let data = self.data.take_dirty().then(|| {
            (
                self.data.validation.values().map(|r| r.text()).collect(),
                self.data.replication.iter().map(|r| r.text()).collect(),
            )
        });
        let next = match self.spare.try_recv() {
            Ok(events) => events,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Events::with_capacity(),
        };
        let events = std::mem::replace(&mut self.events, next);
        let batch = Batch { events, status, errors, data, close };
        let sent = self.to_writer.as_ref().is_some_and(|w| w.send(batch).is_ok());
        if sent {
            Ok(())
        } else {
            self.stop()?;
            Err(io::Error::other(format!("{}: the store is closed", self.path)))
        }
    }

    /// Waits for the writer thread to end; its error, if it failed (and
    /// again on every later call).
    fn stop(&mut self) -> io::Result<()> {
        self.to_writer = None;
        match self.writer.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => self.failed = Some(format!("{}: {e}", self.path)),
            Some(Err(_)) => self.failed = Some(format!("{}: the store's writer thread panicked", self.path)),
        }
        match &self.failed {
            Some(why) => Err(io::Error::other(why.clone())),
            None => Ok(()),
        }
    }

    /// Records how the run ended (`finished`, or the error that stopped it)
    /// and closes the store.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn close(mut self, status: &str) -> io::Result<()> {
        self.send(Some(status.to_string()))?;
        self.stop()?;
        tracing::info!(path = %self.path, status = %status, "store closed");
        Ok(())
    }
}

impl Drop for SqliteWriter<'_> {
    /// Without [`SqliteWriter::close`], the events not yet handed over are
    /// dropped, as a killed run's would be; the rest is written.
    fn drop(&mut self) {
        if self.writer.is_some() {
            tracing::info!(path = %self.path, "store dropped before close: its committed batches stay, its status says running");
        }
        let _ = self.stop();
    }
}

impl Events {
    fn with_capacity() -> Events {
        Events { rows: Vec::with_capacity(BATCH), text: Vec::with_capacity(BATCH * 128) }
    }
}

impl EventSink for SqliteWriter<'_> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        let chain = self.enc.encode_into(rec, &mut self.events.text)?;
        let end = self.events.text.len();
        self.events.rows.push((rec.seq as i64, rec.at.as_ms() as i64, rec.event.kind(), end, chain));
        self.projection.apply(rec);
        self.data.apply(rec);
        if self.events.rows.len() == BATCH {
            self.send(None)?;
        }
        Ok(())
    }
}

/// The writer thread: each batch in its own transaction, until the last
/// (or until the run's side hangs up, leaving what was committed).
fn write_batches(
    path: &str,
    conn: &Connection,
    batches: &Receiver<Batch>,
    give_back: &SyncSender<Events>,
    halt_after: &AtomicU64,
) -> rusqlite::Result<()> {
    let mut insert_many = String::from("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES ");
    for k in 0..ROWS_PER_INSERT {
        insert_many.push_str(if k == 0 { "(?,?,?,?,?)" } else { ",(?,?,?,?,?)" });
    }
    for (committed, mut batch) in batches.iter().enumerate() {
        if committed as u64 == halt_after.load(Ordering::Relaxed) {
            eprintln!("store halted after {committed} batches");
            loop {
                std::thread::park();
            }
        }
        conn.execute_batch("BEGIN")?;
        insert_events(conn, &insert_many, &batch.events)?;
        write_projections(conn, &batch)?;
        conn.execute_batch("COMMIT")?;
        let rows = &batch.events.rows;
        let seqs = match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => format!("{}..={}", first.0, last.0),
            _ => "none".to_string(),
        };
        tracing::debug!(path = %path, events = rows.len(), seqs = %seqs, "store batch committed");
        if let Some(status) = &batch.close {
            conn.execute("UPDATE run_meta SET value = ?1 WHERE key = 'status'", params![status])?;
            return Ok(());
        }
        batch.events.rows.clear();
        batch.events.text.clear();
        let _ = give_back.try_send(batch.events);
    }
    Ok(())
}

/// Inserts a batch's events, [`ROWS_PER_INSERT`] rows per statement.
fn insert_events(conn: &Connection, insert_many: &str, events: &Events) -> rusqlite::Result<()> {
    let text = std::str::from_utf8(&events.text).map_err(|e| rusqlite::Error::Utf8Error(usize::MAX, e))?;
    let mut start = 0;
    let mut rows = events.rows.iter().map(|&(seq, at, kind, end, chain)| {
        let payload = &text[start..end];
        start = end;
        (seq, at, kind, payload, chain)
    });
    let full = events.rows.len() / ROWS_PER_INSERT;
    if full > 0 {
        let mut stmt = conn.prepare_cached(insert_many)?;
        for _ in 0..full {
            for (k, (seq, at, kind, payload, chain)) in rows.by_ref().take(ROWS_PER_INSERT).enumerate() {
                let i = 5 * k + 1;
                stmt.raw_bind_parameter(i, seq)?;
                stmt.raw_bind_parameter(i + 1, at)?;
                stmt.raw_bind_parameter(i + 2, kind)?;
                stmt.raw_bind_parameter(i + 3, payload)?;
                stmt.raw_bind_parameter(i + 4, &chain[..])?;
            }
            stmt.raw_execute()?;
        }
    }
    let mut one =
        conn.prepare_cached("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (seq, at, kind, payload, chain) in rows {
        one.execute(params![seq, at, kind, payload, &chain[..]])?;
    }
    Ok(())
}

/// Writes a batch's changed projection rows.
fn write_projections(conn: &Connection, batch: &Batch) -> rusqlite::Result<()> {
    for (start, end, steps, substeps, status) in &batch.status {
        conn.prepare_cached(
            "INSERT INTO DATAUPGRADESTATUS (StartTime, EndTime, Steps, SubSteps, Status) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (Steps, SubSteps) DO UPDATE SET StartTime = ?1, EndTime = ?2, Status = ?5",
        )?
        .execute(params![start, end, steps, substeps, status])?;
    }
    for (created, steps, substeps, message) in &batch.errors {
        conn.prepare_cached(
            "INSERT INTO RELEASEUPDATESCRIPTSERRORLOG (CREATEDDATETIME, STEPS, SUBSTEPS, MESSAGE) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![created, steps, substeps, message])?;
    }
    if let Some((validation, replication)) = &batch.data {
        // Small tables (a row per table, per publication): rewritten whole.
        conn.execute_batch("DELETE FROM PostValidationInfo; DELETE FROM ReplicationStatus;")?;
        for row in validation {
            conn.prepare_cached("INSERT INTO PostValidationInfo VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![row.0, row.1, row.2, row.3, row.4, row.5])?;
        }
        for row in replication {
            conn.prepare_cached("INSERT INTO ReplicationStatus VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![row.0, row.1, row.2, row.3, row.4, row.5])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rehearse_core::{Calendar, Mode};

    use super::super::read_store;
    use super::super::testing::chain;
    use super::{BATCH, SqliteWriter};
    use crate::{EventSink, MemorySink, Plan, RunOptions, Simulator};

    #[test]
    fn closed_stores_hold_every_event_and_dropped_ones_their_committed_batches() {
        let (text, scenario) = chain(BATCH);
        let plan = Plan::new(&scenario, crate::digest(&text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(1, Mode::Median), &mut memory).unwrap();
        assert!(memory.records.len() > BATCH && memory.records.len() < 3 * BATCH);
        let cal = Calendar::parse("2022-05-20T04:16:24.460").unwrap();
        let path = std::env::temp_dir().join(format!("rehearse-store-test-{}.sqlite", std::process::id()));
        for close in [true, false] {
            let mut w = SqliteWriter::create(&path, &scenario, cal, &[]).unwrap();
            for r in &memory.records {
                w.record(r).unwrap();
            }
            if close {
                w.close("finished").unwrap();
            } else {
                drop(w);
            }
            let stored = read_store(&path).unwrap();
            let n = if close { memory.records.len() } else { BATCH * (memory.records.len() / BATCH) };
            assert_eq!(stored.events.len(), n);
            assert!(stored.events.iter().enumerate().all(|(i, (seq, _, _))| seq == i as u64));
            assert_eq!(stored.meta["status"], if close { "finished" } else { "running" });
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
