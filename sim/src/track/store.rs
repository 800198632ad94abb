//! The weekend log's SQLite file: the run store's layout (`run_meta`, and
//! `events` with seq, at_ms, kind, the canonical payload and its chain
//! link), `kind = weekend-log` in `run_meta`. Every write is one
//! transaction taken with `BEGIN IMMEDIATE`: the log is read, checked and
//! appended to under the same lock, and a killed process leaves the state
//! before the transaction or after it.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::TrackError;
use super::record::{Entry, Record};
use crate::store::sqlite::{Damage, EVENT_TABLES, ReadOnly, check_file_with, has_event_tables};
use crate::store::{Chain, GENESIS, chain_next};

/// `run_meta`'s `kind` for a weekend log.
pub const KIND: &str = "weekend-log";

/// A log read back: its identity, the records up to the first damage, and
/// the damage (seq, why), if any.
#[derive(Clone, Debug)]
pub struct Stored {
    pub meta: BTreeMap<String, String>,
    pub entries: Vec<Entry>,
    pub chain: Chain,
    pub damage: Option<(u64, String)>,
}

/// A log read back read-only, after the file as a whole was checked.
#[derive(Clone, Debug)]
pub enum Read {
    Stored(Stored),
    /// SQLite's integrity check fails, or the file holds other tables than
    /// a log's: nothing else was read.
    Damaged(Damage),
}

/// The export an import that did not finish was reading: the log's
/// status says `importing FILE` until its last transaction commits.
pub fn importing(meta: &BTreeMap<String, String>) -> Option<&str> {
    meta.get("status").and_then(|s| s.strip_prefix("importing "))
}

fn sqlite_err(path: &str) -> impl Fn(rusqlite::Error) -> TrackError + '_ {
    move |cause| TrackError::Sqlite { path: path.to_string(), cause }
}

/// Creates the log at `path` with its identity and first record, whole or
/// not at all: it is made under a temporary name and renamed into place.
///
/// # Errors
/// [`TrackError::Exists`] when `path` exists; I/O and SQLite errors.
pub fn create(path: &Path, meta: &[(&str, &str)], first: &Entry) -> Result<(), TrackError> {
    let name = path.display().to_string();
    if path.exists() {
        return Err(TrackError::Exists { path: name });
    }
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let made = (|| {
        let conn = Connection::open(&tmp).map_err(sqlite_err(&name))?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).map_err(sqlite_err(&name))?;
        conn.execute_batch("BEGIN").map_err(sqlite_err(&name))?;
        conn.execute_batch(EVENT_TABLES).map_err(sqlite_err(&name))?;
        for (k, v) in meta.iter().chain(&[("kind", KIND), ("status", "open")]) {
            conn.execute("INSERT INTO run_meta (key, value) VALUES (?1, ?2)", params![k, v])
                .map_err(sqlite_err(&name))?;
        }
        insert(&conn, &name, std::slice::from_ref(first), GENESIS)?;
        conn.execute_batch("COMMIT").map_err(sqlite_err(&name))?;
        conn.close().map_err(|(_, e)| sqlite_err(&name)(e))
    })();
    let renamed = made.and_then(|()| {
        // Refuses to replace a file made meanwhile (hard_link fails on an
        // existing target, rename would not).
        std::fs::hard_link(&tmp, path).map_err(|cause| {
            if cause.kind() == std::io::ErrorKind::AlreadyExists {
                TrackError::Exists { path: name.clone() }
            } else {
                TrackError::Io { path: name.clone(), cause }
            }
        })
    });
    let _ = std::fs::remove_file(&tmp);
    renamed
}

/// Inserts `entries` after the link `prev`; the last link.
fn insert(conn: &Connection, name: &str, entries: &[Entry], mut prev: Chain) -> Result<Chain, TrackError> {
    let mut stmt = conn
        .prepare_cached("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(sqlite_err(name))?;
    for e in entries {
        let payload = e.canonical();
        prev = chain_next(&prev, payload.as_bytes());
        stmt.execute(params![e.seq as i64, e.at.unix_ms(), e.record.kind(), payload, &prev[..]])
            .map_err(sqlite_err(name))?;
    }
    Ok(prev)
}

/// A row of `events` as stored: (seq, at_ms, kind, payload, chain), any
/// of them possibly damaged.
type RawRow = (i64, Option<i64>, Option<String>, Option<String>, Option<Vec<u8>>);

/// Reads a log through `conn`: each record checked against the chain, its
/// place and its columns; reading stops at the first damage.
fn read_conn(conn: &Connection, name: &str) -> Result<Stored, TrackError> {
    if !has_event_tables(conn).map_err(sqlite_err(name))? {
        return Err(TrackError::NotALog { path: name.to_string(), why: "no `run_meta` and `events` tables".into() });
    }
    let mut meta = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT key, value FROM run_meta").map_err(sqlite_err(name))?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(sqlite_err(name))? {
        let (k, v) = row.map_err(sqlite_err(name))?;
        meta.insert(k, v);
    }
    if meta.get("kind").map(String::as_str) != Some(KIND) {
        return Err(TrackError::NotALog { path: name.to_string(), why: "a run store, not a weekend log".into() });
    }
    let mut entries = Vec::new();
    let mut chain = GENESIS;
    let mut damage = None;
    let mut stmt =
        conn.prepare("SELECT seq, at_ms, kind, payload, chain FROM events ORDER BY seq").map_err(sqlite_err(name))?;
    let mut rows = stmt.query([]).map_err(sqlite_err(name))?;
    while let Some(row) = rows.next().map_err(sqlite_err(name))? {
        let want = entries.len() as u64;
        let read = || -> rusqlite::Result<RawRow> {
            Ok((row.get(0)?, row.get(1).ok(), row.get(2).ok(), row.get(3).ok(), row.get(4).ok()))
        };
        let Ok((seq, at_ms, kind, payload, link)) = read() else {
            damage = Some((want, "the row cannot be read".to_string()));
            break;
        };
        let why = check_row(want, seq, at_ms, kind.as_deref(), payload.as_deref(), link.as_deref(), &chain);
        match why {
            Ok((entry, next)) => {
                entries.push(entry);
                chain = next;
            }
            Err(why) => {
                damage = Some((want, why));
                break;
            }
        }
    }
    if damage.is_none() {
        damage = check_opened(&meta, entries.first());
        if damage.is_some() {
            entries.clear();
        }
    }
    Ok(Stored { meta, entries, chain, damage })
}

/// One stored row, expected at seq `want` after the link `prev`.
fn check_row(
    want: u64,
    seq: i64,
    at_ms: Option<i64>,
    kind: Option<&str>,
    payload: Option<&str>,
    link: Option<&[u8]>,
    prev: &Chain,
) -> Result<(Entry, Chain), String> {
    if u64::try_from(seq).ok() != Some(want) {
        return Err(format!("a record is missing or out of place (found seq {seq})"));
    }
    let payload = payload.ok_or("no payload")?;
    let next = chain_next(prev, payload.as_bytes());
    if link != Some(&next[..]) {
        return Err("the hash chain breaks here: the record was changed, or an earlier one dropped".into());
    }
    let entry: Entry = serde_json::from_str(payload).map_err(|e| format!("not a weekend-log record: {e}"))?;
    if entry.seq != want {
        return Err(format!("the record says seq {}", entry.seq));
    }
    if at_ms != Some(entry.at.unix_ms()) {
        return Err("the stored `at_ms` column does not match the record".into());
    }
    if kind != Some(entry.record.kind()) {
        return Err("the stored `kind` column does not match the record".into());
    }
    if (want == 0) != matches!(entry.record, Record::Opened { .. }) {
        return Err("a log opens with one `opened` record, first".into());
    }
    Ok((entry, next))
}

/// The first record names the scenario text `run_meta` holds.
fn check_opened(meta: &BTreeMap<String, String>, first: Option<&Entry>) -> Option<(u64, String)> {
    let Some(first) = first else {
        return Some((0, "the log has no records, not even the one that opens it".into()));
    };
    let Record::Opened { sha256, .. } = &first.record else { unreachable!("checked by check_row") };
    let text = meta.get("scenario_text")?;
    (crate::sha256_hex(text.as_bytes()) != *sha256)
        .then(|| (0, "the stored scenario text is not the one the log was opened with (its SHA-256 differs)".into()))
}

/// Opens the existing file at `path` (read-only, immutable where its place
/// cannot be written, or read-write), waiting up to 10 s for another
/// writer's lock; the connection and the path as errors name it.
fn connect(path: &Path, write: bool) -> Result<(Connection, String), TrackError> {
    let name = path.display().to_string();
    if !path.exists() {
        return Err(TrackError::Missing { path: name });
    }
    let conn = if write {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Connection::open_with_flags(path, flags).map_err(sqlite_err(&name))?
    } else {
        ReadOnly::open(path).map_err(|e| TrackError::Store(Box::new(e)))?.1
    };
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sqlite_err(&name))?;
    Ok((conn, name))
}

/// The live bridge's tables in a weekend log's file, outside the chain:
/// its tokens (hashed) and the status packs it remembers. Defined here so
/// that the log's verification knows them exactly.
pub const LIVE_TOKENS_TABLE: &str = "CREATE TABLE IF NOT EXISTS live_tokens (
    sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    issued_at TEXT NOT NULL
)";
pub const STATUS_PACKS_TABLE: &str = "CREATE TABLE IF NOT EXISTS status_packs (
    n INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    p_success REAL,
    go_live_p50 TEXT,
    go_live_p90 TEXT
)";

fn side_tables() -> String {
    format!("{LIVE_TOKENS_TABLE};\n{STATUS_PACKS_TABLE};")
}

/// Reads a log, read-only.
///
/// # Errors
/// Files that cannot be read, or are not weekend logs.
pub fn read(path: &Path) -> Result<Stored, TrackError> {
    let (conn, name) = connect(path, false)?;
    read_conn(&conn, &name)
}

/// Reads a log, read-only, in one read transaction, after checking the
/// file as a whole: SQLite's integrity check, and no tables but a log's
/// (and the live bridge's, [`LIVE_TOKENS_TABLE`], [`STATUS_PACKS_TABLE`]).
///
/// # Errors
/// Files that cannot be read, or are not weekend logs.
pub fn read_checked(path: &Path) -> Result<Read, TrackError> {
    let (conn, name) = connect(path, false)?;
    conn.execute_batch("BEGIN").map_err(sqlite_err(&name))?;
    if let Some(d) = check_file_with(&conn, EVENT_TABLES, &side_tables()).map_err(sqlite_err(&name))? {
        return Ok(Read::Damaged(d));
    }
    let stored = read_conn(&conn, &name)?;
    conn.execute_batch("COMMIT").map_err(sqlite_err(&name))?;
    Ok(Read::Stored(stored))
}

/// A log open for writing: a write transaction is held from [`Writer::begin`]
/// to [`Writer::commit`].
pub struct Writer {
    conn: Connection,
    pub name: String,
    pub stored: Stored,
}

impl Writer {
    /// Opens the log at `path` and begins the first transaction.
    ///
    /// # Errors
    /// A missing file, another file, a damaged log (nothing is written to
    /// one), SQLite errors.
    pub fn open(path: &Path) -> Result<Writer, TrackError> {
        let (conn, name) = connect(path, true)?;
        // What happened on the weekend cannot be made again: every commit
        // is on disk before the command says it is recorded.
        conn.execute_batch("PRAGMA synchronous=FULL").map_err(sqlite_err(&name))?;
        let mut w = Writer {
            conn,
            name,
            stored: Stored { meta: BTreeMap::new(), entries: vec![], chain: GENESIS, damage: None },
        };
        w.begin()?;
        Ok(w)
    }

    /// Begins a write transaction and reads the log as it stands.
    ///
    /// # Errors
    /// As [`Writer::open`].
    pub fn begin(&mut self) -> Result<(), TrackError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err(&self.name))?;
        self.stored = read_conn(&self.conn, &self.name)?;
        if let Some((seq, why)) = &self.stored.damage {
            return Err(TrackError::Damaged { path: self.name.clone(), seq: *seq, why: why.clone() });
        }
        Ok(())
    }

    /// Appends entries (numbered from the log's length) in the open
    /// transaction.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), TrackError> {
        self.stored.chain = insert(&self.conn, &self.name, entries, self.stored.chain)?;
        self.stored.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Sets the log's status (`open`, or `importing FILE` while an import
    /// spans several transactions).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_status(&mut self, status: &str) -> Result<(), TrackError> {
        self.conn
            .execute("INSERT OR REPLACE INTO run_meta (key, value) VALUES ('status', ?1)", [status])
            .map_err(sqlite_err(&self.name))?;
        self.stored.meta.insert("status".into(), status.into());
        Ok(())
    }

    /// Commits the open transaction.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn commit(&mut self) -> Result<(), TrackError> {
        self.conn.execute_batch("COMMIT").map_err(sqlite_err(&self.name))
    }
}

/// Whether `path` is a SQLite file whose `run_meta` says weekend log.
pub fn is_log(path: &Path) -> bool {
    let Ok((_, conn)) = ReadOnly::open(path) else {
        return false;
    };
    conn.query_row("SELECT value FROM run_meta WHERE key = 'kind'", [], |r| r.get::<_, String>(0))
        .optional()
        .ok()
        .flatten()
        .is_some_and(|k| k == KIND)
}
