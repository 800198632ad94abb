//! The SQLite event store: one file per run holding the events (seq, time,
//! kind, canonical payload, chain link), the run's identity (scenario text,
//! seed, version, faults, backend model) and the projections the
//! documentation queries (`DATAUPGRADESTATUS`, `RELEASEUPDATESCRIPTSERRORLOG`).
//!
//! Writes go in batched transactions on a WAL journal: a run killed half-way
//! leaves every committed batch readable, and a reader (`rehearse sql`) can
//! query a run while it is still being written.
//!
//! The run's identity (every `run_meta` row but `status`) is the chain's
//! first link: the events chain from it, so an edit of `run_meta` breaks
//! the chain as an edit of an event does.
//!
//! The rooms: `write` (the writer and its thread), `open` (read-only,
//! immutable where the place cannot be written), `read` (a store read
//! back, in ranges of seq side by side), `check` (the file as a whole:
//! SQLite's integrity check, the tables, the identity), `verify` (the
//! chain and the columns outside it, on all cores), `query` (read-only
//! SQL). This file holds what they share: the schema, the error, and what
//! tells a store from another file.

mod check;
mod open;
mod query;
mod read;
mod verify;
mod write;

use std::io;
use std::path::Path;

use rusqlite::Connection;

pub use check::{Damage, STORE_FORMAT, identity_link};
pub(crate) use check::{check_file, check_file_with, damaged};
pub(crate) use open::ReadOnly;
pub use query::{QueryResult, query};
pub use read::{StoredEvents, StoredRun, link, read_store};
pub use verify::verify_stored;
pub use write::{SqliteWriter, truncate_events};

/// The event tables: the run's identity (`run_meta`) and the chained
/// events. The weekend log (`track`) keeps the same layout.
pub(crate) const EVENT_TABLES: &str = "
CREATE TABLE run_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    chain BLOB NOT NULL
);
";

/// The projections a run store adds beside [`EVENT_TABLES`].
pub(crate) const PROJECTIONS: &str = "
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
    #[error("{path}: {cause}{}", io_hint(cause))]
    Sqlite { path: String, cause: rusqlite::Error },
    #[error("{path}: not a rehearse run store ({why})")]
    NotAStore { path: String, why: String },
    #[error("{path}: {cause}")]
    Io { path: String, cause: io::Error },
    #[error("{path}: another run is writing this store; refusing to replace it")]
    Busy { path: String },
    #[error("{path}: `sql` is read-only, and this statement would write; it was not run")]
    Writes { path: String },
    #[error("{path}: the query was stopped before it ended ({rows} rows read by then)")]
    QueryStopped { path: String, rows: usize },
    #[error("{path}: the query returns more than {max_rows} rows")]
    TooManyRows { path: String, max_rows: usize },
    #[error(
        "{path}: its write-ahead log {wal} cannot be read where it is (SQLite needs to make a `-shm` file beside it, and this place is read-only); copy the store and its -wal to a writable directory"
    )]
    WalUnreadable { path: String, wal: String },
    #[error("{0}")]
    Scenario(Box<rehearse_core::scenario::ScenarioError>),
    #[error("{path}: the store was closed")]
    Closed { path: String },
    #[error("{path}: the store's writer thread panicked")]
    WriterPanicked { path: String },
}

/// What SQLite's "disk I/O error" means, which its words do not say.
fn io_hint(e: &rusqlite::Error) -> &'static str {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::SystemIoFailure => {
            " (the operating system refused a read or a write: the file too large, or its medium read-only or failing)"
        }
        _ => "",
    }
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
    let Ok((_, conn)) = ReadOnly::open(path) else {
        return false;
    };
    has_event_tables(&conn).unwrap_or(false)
}

/// Whether the database holds both [`EVENT_TABLES`].
///
/// # Errors
/// SQLite errors.
pub(crate) fn has_event_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('run_meta', 'events')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n == 2)
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

#[cfg(test)]
mod testing {
    use rehearse_core::Scenario;

    /// A chain of `n` one-minute steps: 2n + 2 events.
    pub(super) fn chain(n: usize) -> (String, Scenario) {
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
}
