//! The SQLite event store: one file per run holding the events (seq, time,
//! kind, canonical payload, chain link), the run's identity (scenario text,
//! seed, version, faults, backend model) and the projections the
//! documentation queries (`DATAUPGRADESTATUS`, `RELEASEUPDATESCRIPTSERRORLOG`).
//!
//! Writes go in batched transactions on a WAL journal: a run killed half-way
//! leaves every committed batch readable, and a reader (`rehearse sql`) can
//! query a run while it is still being written.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;
use rehearse_core::time::Calendar;
use rusqlite::{Connection, OpenFlags, params};

use super::projection::{DataProjection, ReplicationRowText, StatusProjection, StatusRowText, ValidationRowText};
use super::{Chain, Encoder};
use crate::sink::EventSink;

/// Events per transaction.
const BATCH: u64 = 4096;
/// Events per INSERT statement.
const ROWS_PER_INSERT: usize = 128;

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
}

/// Writes a run into a SQLite file, as it happens.
pub struct SqliteWriter<'s> {
    conn: Connection,
    path: String,
    enc: Encoder<'s>,
    projection: StatusProjection<'s>,
    data: DataProjection<'s>,
    n_errors_written: usize,
    n_events: u64,
    /// Encoded events not yet inserted: (seq, at, kind, payload range in
    /// `pending_text`, chain).
    pending: Vec<(i64, i64, &'static str, std::ops::Range<usize>, Chain)>,
    pending_text: String,
}

impl<'s> SqliteWriter<'s> {
    /// Creates the store at `path` (replacing any file there) with the run's
    /// identity in `meta`.
    ///
    /// # Errors
    /// Any SQLite error, with the path.
    pub fn create(
        path: &Path,
        scenario: &'s Scenario,
        calendar: Calendar,
        meta: &[(&str, String)],
    ) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{}{suffix}", path.display());
            if Path::new(&p).exists() {
                std::fs::remove_file(&p).map_err(|cause| StoreError::Io { path: p.clone(), cause })?;
            }
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).map_err(err)?;
        conn.execute_batch("PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        {
            let mut stmt = conn.prepare("INSERT INTO run_meta (key, value) VALUES (?1, ?2)").map_err(err)?;
            for (k, v) in meta {
                stmt.execute(params![k, v]).map_err(err)?;
            }
            stmt.execute(params!["calendar_start", calendar.start().to_string()]).map_err(err)?;
            stmt.execute(params!["status", "running"]).map_err(err)?;
        }
        conn.execute_batch("BEGIN").map_err(err)?;
        Ok(SqliteWriter {
            conn,
            path: name,
            enc: Encoder::new(scenario),
            projection: StatusProjection::new(scenario, calendar),
            data: DataProjection::new(scenario, calendar),
            n_errors_written: 0,
            n_events: 0,
            pending: Vec::with_capacity(ROWS_PER_INSERT),
            pending_text: String::with_capacity(ROWS_PER_INSERT * 160),
        })
    }

    fn sql_err(&self, e: rusqlite::Error) -> io::Error {
        io::Error::other(format!("{}: {e}", self.path))
    }

    /// Inserts the pending events, many rows per statement.
    fn insert_pending(&mut self) -> io::Result<()> {
        let n = self.pending.len();
        if n == 0 {
            return Ok(());
        }
        let mut sql = String::from("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES ");
        for k in 0..n {
            sql.push_str(if k == 0 { "(?,?,?,?,?)" } else { ",(?,?,?,?,?)" });
        }
        let payloads: Vec<&str> = self.pending.iter().map(|p| &self.pending_text[p.3.clone()]).collect();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(5 * n);
        for ((seq, at, kind, _, chain), payload) in self.pending.iter().zip(&payloads) {
            values.extend([seq as &dyn rusqlite::ToSql, at, kind, payload, chain]);
        }
        let result = self.conn.prepare_cached(&sql).and_then(|mut stmt| stmt.execute(values.as_slice()));
        drop(values);
        drop(payloads);
        result.map_err(|e| self.sql_err(e))?;
        self.pending.clear();
        self.pending_text.clear();
        Ok(())
    }

    /// Writes the changed projection rows and commits the batch.
    fn commit(&mut self) -> io::Result<()> {
        self.insert_pending()?;
        for step in self.projection.take_dirty() {
            let row = &self.projection.rows[&step];
            self.conn
                .prepare_cached(
                    "INSERT INTO DATAUPGRADESTATUS (StartTime, EndTime, Steps, SubSteps, Status) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (Steps, SubSteps) DO UPDATE SET StartTime = ?1, EndTime = ?2, Status = ?5",
                )
                .and_then(|mut s| s.execute(params![row.start, row.end, row.steps, row.substeps, row.status]))
                .map_err(|e| self.sql_err(e))?;
        }
        for e in &self.projection.errors[self.n_errors_written..] {
            self.conn
                .prepare_cached(
                    "INSERT INTO RELEASEUPDATESCRIPTSERRORLOG (CREATEDDATETIME, STEPS, SUBSTEPS, MESSAGE) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute(params![e.created, e.steps, e.substeps, e.message]))
                .map_err(|e| self.sql_err(e))?;
        }
        self.n_errors_written = self.projection.errors.len();
        if self.data.take_dirty() {
            // Small tables (a row per table, per publication): rewritten whole.
            self.conn
                .execute_batch("DELETE FROM PostValidationInfo; DELETE FROM ReplicationStatus;")
                .map_err(|e| self.sql_err(e))?;
            for row in self.data.validation.values().map(|r| r.text()) {
                self.conn
                    .prepare_cached("INSERT INTO PostValidationInfo VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4, row.5]))
                    .map_err(|e| self.sql_err(e))?;
            }
            for row in self.data.replication.iter().map(|r| r.text()) {
                self.conn
                    .prepare_cached("INSERT INTO ReplicationStatus VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4, row.5]))
                    .map_err(|e| self.sql_err(e))?;
            }
        }
        self.conn.execute_batch("COMMIT").map_err(|e| self.sql_err(e))
    }

    /// Records how the run ended (`finished`, or the error that stopped it)
    /// and closes the store.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn close(mut self, status: &str) -> io::Result<()> {
        self.commit()?;
        self.conn
            .execute("UPDATE run_meta SET value = ?1 WHERE key = 'status'", params![status])
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }
}

impl EventSink for SqliteWriter<'_> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        let (canonical, chain) = self.enc.encode(rec)?;
        let payload = std::str::from_utf8(canonical).map_err(io::Error::other)?;
        let start = self.pending_text.len();
        self.pending_text.push_str(payload);
        let range = start..self.pending_text.len();
        self.pending.push((rec.seq as i64, rec.at.as_ms() as i64, rec.event.kind(), range, chain));
        if self.pending.len() == ROWS_PER_INSERT {
            self.insert_pending()?;
        }
        self.projection.apply(rec);
        self.data.apply(rec);
        self.n_events += 1;
        if self.n_events % BATCH == 0 {
            self.commit()?;
            self.conn.execute_batch("BEGIN").map_err(|e| self.sql_err(e))?;
        }
        Ok(())
    }
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
    let mut stmt = conn.prepare("SELECT seq, payload, chain FROM events ORDER BY seq").map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut events = StoredEvents::default();
    // Payloads borrowed from SQLite and copied into one buffer: no
    // allocation per event.
    while let Some(r) = rows.next().map_err(err)? {
        let seq = r.get::<_, i64>(0).map_err(err)? as u64;
        let payload = r.get_ref(1).map_err(err)?.as_str().map_err(|e| err(e.into()))?;
        let chain = link(r.get_ref(2).map_err(err)?.as_blob().map_err(|e| err(e.into()))?);
        let start = events.text.len();
        events.text.push_str(payload);
        events.rows.push((seq, start..events.text.len(), chain));
    }
    drop(rows);
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

/// A store's events: their payloads in one buffer.
#[derive(Debug, Clone, Default)]
pub struct StoredEvents {
    text: String,
    rows: Vec<(u64, std::ops::Range<usize>, Chain)>,
}

impl StoredEvents {
    /// (seq, canonical payload, chain link), in seq order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str, &Chain)> {
        self.rows.iter().map(|(seq, range, chain)| (*seq, &self.text[range.clone()], chain))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
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
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
        .map_err(err)?;
    conn.execute_batch("PRAGMA query_only = ON").map_err(err)?;
    let uri = format!("file:{}?mode=ro", path.display());
    conn.execute("ATTACH DATABASE ?1 AS DBUPGRADE", [uri]).map_err(err)?;
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
