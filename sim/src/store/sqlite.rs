//! The SQLite event store: one file per run holding the events (seq, time,
//! kind, canonical payload, chain link), the run's identity (scenario text,
//! seed, version, faults, backend model) and the projections the
//! documentation queries (`DATAUPGRADESTATUS`, `RELEASEUPDATESCRIPTSERRORLOG`).
//!
//! Writes go in batched transactions on a WAL journal: a run killed half-way
//! leaves every committed batch readable, and a reader (`rehearse sql`) can
//! query a run while it is still being written.
//!
//! The run's thread encodes, chains and projects the events; a writer thread
//! owns the connection and inserts each batch (events and changed projection
//! rows, one transaction), so the two overlap.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;
use rehearse_core::time::Calendar;
use rusqlite::{Connection, OpenFlags, params};

use super::projection::{DataProjection, ReplicationRowText, StatusProjection, StatusRowText, ValidationRowText};
use super::{Chain, Encoder, GENESIS, LogError, Verifier};
use crate::sink::EventSink;

/// Events per transaction.
const BATCH: usize = 4096;
/// Events per INSERT statement.
const ROWS_PER_INSERT: usize = 128;
/// Batches handed to the writer thread and not yet written, at most.
const QUEUED_BATCHES: usize = 2;

/// The store's table layout.
const SCHEMA: &str = "
CREATE TABLE run_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    chain BLOB NOT NULL
);
CREATE TABLE DATAUPGRADESTATUS (
    StartTime TEXT,
    EndTime TEXT,
    Steps TEXT NOT NULL,
    SubSteps TEXT NOT NULL,
    Status TEXT NOT NULL,
    PRIMARY KEY (Steps, SubSteps)
);
CREATE TABLE RELEASEUPDATESCRIPTSERRORLOG (
    CREATEDDATETIME TEXT NOT NULL,
    STEPS TEXT NOT NULL,
    SUBSTEPS TEXT NOT NULL,
    MESSAGE TEXT NOT NULL
);
CREATE TABLE PostValidationInfo (
    TableName TEXT PRIMARY KEY,
    SourceRecordCount INTEGER NOT NULL,
    TargetRecordCount INTEGER NOT NULL,
    Result TEXT NOT NULL,
    ValidatedAt TEXT NOT NULL,
    Step TEXT NOT NULL
);
CREATE TABLE ReplicationStatus (
    Publication TEXT PRIMARY KEY,
    Tables TEXT NOT NULL,
    Rows INTEGER NOT NULL,
    State TEXT NOT NULL,
    Since TEXT,
    BacklogChanges INTEGER
);
";

/// Why the store could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {cause}")]
    Sqlite { path: String, cause: rusqlite::Error },
    #[error("{path}: not a rehearse run store ({why})")]
    NotAStore { path: String, why: String },
    #[error("{path}: {cause}")]
    Io { path: String, cause: io::Error },
    #[error("{path}: another run is writing this store; refusing to replace it")]
    Busy { path: String },
}

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
        conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;").map_err(err)?;
        // The tables and the run's identity in one transaction: a run killed
        // while creating its store leaves all of them or none.
        conn.execute_batch("BEGIN").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        {
            let mut stmt = conn.prepare("INSERT INTO run_meta (key, value) VALUES (?1, ?2)").map_err(err)?;
            for (k, v) in meta {
                stmt.execute(params![k, v]).map_err(err)?;
            }
            stmt.execute(params!["calendar_start", calendar.start().to_string()]).map_err(err)?;
            stmt.execute(params!["status", "running"]).map_err(err)?;
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        let (to_writer, batches) = sync_channel(QUEUED_BATCHES);
        let (give_back, spare) = sync_channel(QUEUED_BATCHES + 1);
        let writer = std::thread::Builder::new()
            .name("rehearse-store".into())
            .spawn(move || write_batches(&conn, &batches, &give_back))
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
            _lock: lock,
        })
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
        self.stop()
    }
}

impl Drop for SqliteWriter<'_> {
    /// Without [`SqliteWriter::close`], the events not yet handed over are
    /// dropped, as a killed run's would be; the rest is written.
    fn drop(&mut self) {
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
fn write_batches(conn: &Connection, batches: &Receiver<Batch>, give_back: &SyncSender<Events>) -> rusqlite::Result<()> {
    let mut insert_many = String::from("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES ");
    for k in 0..ROWS_PER_INSERT {
        insert_many.push_str(if k == 0 { "(?,?,?,?,?)" } else { ",(?,?,?,?,?)" });
    }
    for mut batch in batches {
        conn.execute_batch("BEGIN")?;
        insert_events(conn, &insert_many, &batch.events)?;
        write_projections(conn, &batch)?;
        conn.execute_batch("COMMIT")?;
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

/// A run read back from a store.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub meta: BTreeMap<String, String>,
    /// The stored events, in seq order.
    pub events: StoredEvents,
    pub status_rows: Vec<StatusRowText>,
    /// The stored PostValidationInfo (by table name) and ReplicationStatus
    /// (by publication), if the store has them.
    pub validation_rows: Option<Vec<ValidationRowText>>,
    pub replication_rows: Option<Vec<ReplicationRowText>>,
}

/// Whether the file starts like a SQLite database.
pub fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"SQLite format 3\0"
}

/// Whether `path` holds a rehearse run store (a SQLite file with the
/// store's `run_meta` and `events` tables), as opposed to some other file
/// that a `--db` must not replace unasked.
pub fn is_store(path: &Path) -> bool {
    if !is_sqlite(path) {
        return false;
    }
    let Ok(conn) =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
    else {
        return false;
    };
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('run_meta', 'events')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n == 2)
}

/// Reads a store (read-only).
///
/// # Errors
/// Unreadable files and files that are not run stores.
pub fn read_store(path: &Path) -> Result<StoredRun, StoreError> {
    let name = path.display().to_string();
    let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(err)?;
    let has = |table: &str| -> Result<bool, StoreError> {
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(|e| StoreError::Sqlite { path: name.clone(), cause: e })
    };
    for t in ["run_meta", "events"] {
        if !has(t)? {
            return Err(StoreError::NotAStore { path: name.clone(), why: format!("no `{t}` table") });
        }
    }
    let mut meta = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT key, value FROM run_meta").map_err(err)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(err)?;
    for row in rows {
        let (k, v) = row.map_err(err)?;
        meta.insert(k, v);
    }
    // Each bound alone is a look-up in the seq index (with both in one
    // SELECT, or with count(*), SQLite reads the whole table).
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .query_row("SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(err)?;
    let events = match (lo, hi) {
        (Some(lo), Some(hi)) => read_events(path, lo, hi)?,
        _ => StoredEvents::default(),
    };
    let mut status_rows = Vec::new();
    if has("DATAUPGRADESTATUS")? {
        let mut stmt = conn
            .prepare(
                "SELECT StartTime, EndTime, Steps, SubSteps, Status FROM DATAUPGRADESTATUS ORDER BY Steps, SubSteps",
            )
            .map_err(err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).map_err(err)?;
        for row in rows {
            status_rows.push(row.map_err(err)?);
        }
    }
    let mut validation_rows = None;
    if has("PostValidationInfo")? {
        let mut stmt = conn.prepare("SELECT * FROM PostValidationInfo ORDER BY TableName").map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(err)?;
        validation_rows = Some(rows.collect::<Result<Vec<_>, _>>().map_err(err)?);
    }
    let mut replication_rows = None;
    if has("ReplicationStatus")? {
        let mut stmt = conn.prepare("SELECT * FROM ReplicationStatus ORDER BY Publication").map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(err)?;
        replication_rows = Some(rows.collect::<Result<Vec<_>, _>>().map_err(err)?);
    }
    Ok(StoredRun { meta, events, status_rows, validation_rows, replication_rows })
}

/// Stores with fewer events than this are read, and verified, on one
/// thread.
const PARALLEL_MIN: usize = 1 << 14;

/// The threads to read and verify a store of `n` events with.
fn threads_for(n: usize) -> usize {
    if n < PARALLEL_MIN { 1 } else { std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8) }
}

/// `job(0) .. job(jobs - 1)`, side by side on threads (on this one for a
/// single job), results in job order.
fn in_parallel<T: Send>(jobs: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if jobs == 1 {
        return vec![job(0)];
    }
    let job = &job;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs).map(|k| scope.spawn(move || job(k))).collect();
        handles.into_iter().map(|h| h.join().expect("a store thread panicked")).collect()
    })
}

/// Reads the events with seq in `lo..=hi`, in seq order, split into ranges
/// of seq read side by side, each through its own read-only connection.
/// Rows are only ever appended, so a range read a moment later than another
/// sees the same rows in it.
fn read_events(path: &Path, lo: i64, hi: i64) -> Result<StoredEvents, StoreError> {
    let name = path.display().to_string();
    // As many events as seqs in a store as written (one damaged may hold
    // fewer, or seqs far apart: this only sizes threads and buffers).
    let count = usize::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(usize::MAX);
    let parts = threads_for(count);
    // Inclusive bounds; the first and last ranges are open-ended, so every
    // row falls in exactly one whatever its seq.
    let bound = |k: usize| -> i64 {
        let span = i128::from(hi) - i128::from(lo) + 1;
        i64::try_from(i128::from(lo) + span * k as i128 / parts as i128).unwrap_or(hi)
    };
    let ranges: Vec<(i64, i64)> = (0..parts)
        .map(|k| {
            let first = if k == 0 { i64::MIN } else { bound(k) };
            let last = if k + 1 == parts { i64::MAX } else { bound(k + 1) - 1 };
            (first, last)
        })
        .collect();
    let read = |(first, last): (i64, i64)| -> Result<Part, StoreError> {
        let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(err)?;
        // Room for the part's events up front (payloads average well under
        // 256 bytes): no reallocation per event.
        let room = (count / parts).saturating_add(1).min(1 << 20);
        let mut part = Part { text: String::with_capacity(room * 192), rows: Vec::with_capacity(room) };
        let mut stmt = conn
            .prepare("SELECT seq, payload, chain, at_ms, kind FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq")
            .map_err(err)?;
        let mut rows = stmt.query([first, last]).map_err(err)?;
        // Payloads borrowed from SQLite and copied into one buffer: no
        // allocation per event.
        while let Some(r) = rows.next().map_err(err)? {
            let seq = r.get::<_, i64>(0).map_err(err)? as u64;
            let payload = r.get_ref(1).map_err(err)?.as_str().map_err(|e| err(e.into()))?;
            let chain = link(r.get_ref(2).map_err(err)?.as_blob().map_err(|e| err(e.into()))?);
            let start = part.text.len();
            part.text.push_str(payload);
            let payload = start..part.text.len();
            // The columns outside the chain, copied from the payload when
            // written: kept to be checked against it.
            let at_ms = r.get_ref(3).map_err(err)?.as_i64().ok();
            let kind = r.get_ref(4).map_err(err)?.as_str().ok().map(|k| {
                let start = part.text.len();
                part.text.push_str(k);
                start..part.text.len()
            });
            part.rows.push(Row { seq, payload, chain, at_ms, kind });
        }
        Ok(part)
    };
    let parts = in_parallel(parts, |k| read(ranges[k])).into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(StoredEvents::from_parts(parts))
}

/// Events read by one thread: payloads (and kinds) in one buffer.
#[derive(Debug, Clone, Default)]
struct Part {
    text: String,
    rows: Vec<Row>,
}

/// A stored event: its place in its part's text, and the `at_ms` and
/// `kind` columns (`None`: not an integer, not text).
#[derive(Debug, Clone)]
struct Row {
    seq: u64,
    payload: std::ops::Range<usize>,
    chain: Chain,
    at_ms: Option<i64>,
    kind: Option<std::ops::Range<usize>>,
}

/// A stored event as read: (seq, payload, chain link, at_ms, kind).
type RowRef<'a> = (u64, &'a str, &'a Chain, Option<i64>, Option<&'a str>);

/// A store's events, in seq order: their payloads in a few large buffers.
#[derive(Debug, Clone, Default)]
pub struct StoredEvents {
    parts: Vec<Part>,
    /// The index of each part's first event.
    starts: Vec<usize>,
    len: usize,
}

impl StoredEvents {
    fn from_parts(parts: Vec<Part>) -> StoredEvents {
        let parts: Vec<Part> = parts.into_iter().filter(|p| !p.rows.is_empty()).collect();
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0;
        for p in &parts {
            starts.push(len);
            len += p.rows.len();
        }
        StoredEvents { parts, starts, len }
    }

    /// (seq, canonical payload, chain link), in seq order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str, &Chain)> {
        self.range(0..self.len).map(|(seq, payload, chain, ..)| (seq, payload, chain))
    }

    /// The events at `range`, in that order, with their other columns.
    fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = RowRef<'_>> {
        // The part holding the first event, and its place in that part.
        let first = self.starts.partition_point(|s| *s <= range.start).saturating_sub(1);
        let skip = range.start - self.starts.get(first).copied().unwrap_or(0);
        self.parts
            .iter()
            .skip(first)
            .flat_map(|p| {
                p.rows.iter().map(move |r| {
                    (r.seq, &p.text[r.payload.clone()], &r.chain, r.at_ms, r.kind.clone().map(|k| &p.text[k]))
                })
            })
            .skip(skip)
            .take(range.len())
    }

    /// The chain link of the event at `k`.
    fn link_at(&self, k: usize) -> &Chain {
        let p = self.starts.partition_point(|s| *s <= k) - 1;
        &self.parts[p].rows[k - self.starts[p]].chain
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Verifies a store's events in seq order: the events up to the first
/// damaged one, and the damage, if any. A payload that does not parse, or
/// whose seq is not the row's, breaks the chain at the row's seq; an
/// `at_ms` or `kind` column that says other than the payload is damage too
/// (queries read them).
///
/// The events are checked on all cores (each against the stored link
/// before it, see [`Verifier::check`]); the answer is that of checking them
/// one by one, whatever the number of threads.
pub fn verify_stored(scenario: &Scenario, events: &StoredEvents) -> (Vec<EventRecord>, Option<LogError>) {
    let verifier = Verifier::new(scenario);
    let n = events.len();
    let check_range = |range: std::ops::Range<usize>| -> (Vec<EventRecord>, Option<LogError>) {
        // The first part's vector takes the others' records after it: room
        // for all of them up front, so they are copied in once.
        let mut out = Vec::with_capacity(if range.start == 0 { n } else { range.len() });
        let mut prev = if range.start == 0 { &GENESIS } else { events.link_at(range.start - 1) };
        for (seq, text, link, at_ms, kind) in events.range(range) {
            match verifier.check(prev, text, link) {
                Ok(r) if r.seq == seq => {
                    let column = if at_ms != i64::try_from(r.at.as_ms()).ok() {
                        Some("at_ms")
                    } else if kind != Some(r.event.kind()) {
                        Some("kind")
                    } else {
                        None
                    };
                    if let Some(column) = column {
                        return (out, Some(LogError::ColumnDiffers { seq, column }));
                    }
                    out.push(r);
                }
                Ok(_) | Err(LogError::Malformed { .. }) => return (out, Some(LogError::ChainBroken { seq })),
                Err(e) => return (out, Some(e)),
            }
            prev = link;
        }
        (out, None)
    };
    let threads = threads_for(n);
    let per = n.div_ceil(threads);
    let parts = in_parallel(threads, |t| check_range((t * per).min(n)..((t + 1) * per).min(n)));
    // The parts in order, up to the first damaged one.
    let mut parts = parts.into_iter();
    let (mut records, mut damage) = parts.next().unwrap_or_default();
    for (part, part_damage) in parts {
        if damage.is_some() {
            break;
        }
        records.extend(part);
        damage = part_damage;
    }
    (records, damage)
}

/// Turns a stored chain blob into a link (wrong lengths never match).
pub fn link(blob: &[u8]) -> Chain {
    let mut out = [0xffu8; 16];
    if blob.len() == 16 {
        out.copy_from_slice(blob);
    }
    out
}

/// Runs a read-only query on a store, with the file also attached as
/// `DBUPGRADE` so that the documented `[DBUPGRADE].[DATAUPGRADESTATUS]`
/// query runs verbatim. Returns column names and rows as text.
///
/// # Errors
/// SQLite errors (a bad query, a write attempt, an unreadable file).
pub fn query(path: &Path, sql: &str) -> Result<QueryResult, StoreError> {
    let name = path.display().to_string();
    let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
    let io_err = |cause| StoreError::Io { path: name.clone(), cause };
    // Opened by path, never through a URI built from it: a name with `?`,
    // `#` or `%` in it is a file name, not a query string or an escape
    // (`pct%41.sqlite` must not open `pctA.sqlite`). The attached copy
    // inherits the connection's read-only flags; its name is made absolute
    // so that it can never begin with `file:`.
    let absolute = path.canonicalize().map_err(io_err)?;
    let attach = absolute.to_str().ok_or_else(|| StoreError::NotAStore {
        path: name.clone(),
        why: "its path is not valid UTF-8, which SQLite cannot attach".into(),
    })?;
    let conn =
        Connection::open_with_flags(&absolute, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(err)?;
    conn.execute_batch("PRAGMA query_only = ON").map_err(err)?;
    conn.execute("ATTACH DATABASE ?1 AS DBUPGRADE", [attach]).map_err(err)?;
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let n = columns.len();
    let rows = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        rusqlite::types::ValueRef::Blob(b) => Some(crate::sink::hex(b)),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(err)?);
    }
    Ok(QueryResult { columns, rows: out })
}

/// A query's columns and rows, as text (`None` for NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Deletes every event with seq >= `keep` (what a run killed after `keep`
/// events leaves behind). For tests and tools that rehearse damage.
///
/// # Errors
/// SQLite errors.
pub fn truncate_events(path: &Path, keep: u64) -> Result<(), StoreError> {
    let name = path.display().to_string();
    let conn = Connection::open(path).map_err(|cause| StoreError::Sqlite { path: name.clone(), cause })?;
    conn.execute("DELETE FROM events WHERE seq >= ?1", [keep as i64])
        .map_err(|cause| StoreError::Sqlite { path: name.clone(), cause })?;
    conn.execute("UPDATE run_meta SET value = 'running' WHERE key = 'status'", [])
        .map_err(|cause| StoreError::Sqlite { path: name, cause })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rehearse_core::{Calendar, Mode, Scenario};

    use super::{BATCH, SqliteWriter, read_store};
    use crate::{EventSink, MemorySink, Plan, RunOptions, Simulator};

    /// A chain of `n` one-minute steps: 2n + 2 events.
    fn chain(n: usize) -> (String, Scenario) {
        let mut text = String::from("[scenario]\nname = \"chain\"\n");
        for i in 0..n {
            text.push_str(&format!("[[step]]\nid = \"s{i}\"\nduration = \"1m\"\n"));
            if i > 0 {
                text.push_str(&format!("after = [\"s{}\"]\n", i - 1));
            }
        }
        let scenario = Scenario::parse(&text, "chain.toml").unwrap();
        (text, scenario)
    }

    /// Reading and verifying a large store on several threads says what
    /// checking one event after the other says, wherever the damage is (at
    /// the seam between two threads' parts too).
    #[test]
    fn parallel_reads_and_checks_agree_with_one_by_one() {
        use super::super::{LogError, Verifier};
        use super::verify_stored;
        let (text, scenario) = chain(10_000);
        let plan = Plan::new(&scenario, crate::digest(&text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(0, Mode::Median), &mut memory).unwrap();
        let n = memory.records.len();
        assert!(n > super::PARALLEL_MIN);
        let dir = std::env::temp_dir().join(format!("rehearse-parallel-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pristine = dir.join("pristine.sqlite");
        let cal = Calendar::parse("2022-05-20T06:00:00").unwrap();
        let mut w = SqliteWriter::create(&pristine, &scenario, cal, &[]).unwrap();
        for r in &memory.records {
            w.record(r).unwrap();
        }
        w.close("finished").unwrap();
        let one_by_one = |events: &super::StoredEvents| {
            let mut v = Verifier::new(&scenario);
            let mut out = Vec::new();
            for (seq, payload, chain) in events.iter() {
                match v.verify(payload, chain) {
                    Ok(r) if r.seq == seq => out.push(r),
                    Ok(_) | Err(LogError::Malformed { .. }) => return (out, Some(LogError::ChainBroken { seq })),
                    Err(e) => return (out, Some(e)),
                }
            }
            (out, None)
        };
        let stored = read_store(&pristine).unwrap();
        assert_eq!(stored.events.len(), n);
        let (records, damage) = verify_stored(&scenario, &stored.events);
        assert!(damage.is_none());
        assert_eq!(records, memory.records);

        let damages = [
            "UPDATE events SET payload = replace(payload, '\"seq\"', '\"sek\"') WHERE seq = ?1",
            "UPDATE events SET chain = zeroblob(16) WHERE seq = ?1",
            "DELETE FROM events WHERE seq = ?1",
            "UPDATE events SET seq = -1 WHERE seq = ?1",
        ];
        for at in [0, 1, n / 2 - 1, n / 2, n / 2 + 1, n - 1] {
            for sql in damages {
                let path = dir.join(format!("damaged-{at}.sqlite"));
                std::fs::copy(&pristine, &path).unwrap();
                let conn = rusqlite::Connection::open(&path).unwrap();
                assert_eq!(conn.execute(sql, [at as i64]).unwrap(), 1, "{sql} at {at}");
                drop(conn);
                let stored = read_store(&path).unwrap();
                let (want_records, want_damage) = one_by_one(&stored.events);
                let (records, damage) = verify_stored(&scenario, &stored.events);
                // (The last event deleted leaves a valid prefix, no damage.)
                assert!(want_damage.is_some() || sql.starts_with("DELETE") && at == n - 1, "{sql} at {at}");
                assert_eq!(format!("{damage:?}"), format!("{want_damage:?}"), "{sql} at {at}");
                assert_eq!(records, want_records, "{sql} at {at}");
                std::fs::remove_file(&path).unwrap();
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
