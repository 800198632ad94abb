//! Writing a run into its store as it happens: the run's thread encodes,
//! chains and projects the events; a writer thread owns the connection and
//! inserts each batch (events and changed projection rows, one
//! transaction), so the two overlap. After every transaction the stored
//! projections are exactly those the stored events give.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;
use rehearse_core::time::Calendar;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::super::projection::{DataProjection, StatusProjection};
use super::super::{Chain, Encoder};
use super::{EVENT_TABLES, PROJECTIONS, STORE_FORMAT, StoreError, identity_link};
use crate::sink::{EventSink, hex};

/// Events per transaction.
const BATCH: usize = 4096;
/// Events per INSERT statement: 32 inserted faster than 128 or 512 (a
/// shorter program, bound and run more often) and than 1 to 16.
const ROWS_PER_INSERT: usize = 32;
/// Batches handed to the writer thread and not yet written, at most.
const QUEUED_BATCHES: usize = 2;
/// Every this many batches, the writer thread waits for the checkpointer
/// to have copied every committed batch into the file, so that its next
/// transaction starts the write-ahead log over from its beginning (SQLite
/// does so only when the whole log has been copied when a transaction
/// starts, which, the checkpointer running while the writer goes on, is
/// otherwise almost never). The log's pages are then written again where
/// they are, in the operating system's cache, instead of the log growing
/// to the size of the store (new blocks for every page written, and a log
/// as large as the store deleted at close): measured, 1.74 -> 1.83 and
/// 1.91 -> 2.37 million events/s appended; 8 batches did no better.
const LOG_RESTART_BATCHES: u64 = 4;

/// Rows of a table, as SQL values.
type Rows = Vec<Vec<Value>>;

/// Where the writer thread halts: after this many batches, until the call
/// returns.
type Halt = (u64, Box<dyn FnOnce() + Send>);

/// Encoded events not yet inserted.
#[derive(Debug, Default)]
struct Events {
    /// (seq, at, kind, end of the payload in `text`, chain).
    rows: Vec<(i64, i64, &'static str, usize, Chain)>,
    /// The canonical payloads, one after the other.
    text: Vec<u8>,
}

/// One transaction for the writer thread: events, then the projection rows
/// as they stand after them.
#[derive(Debug, Default)]
struct Batch {
    events: Events,
    /// DATAUPGRADESTATUS rows to upsert.
    status: Rows,
    /// RELEASEUPDATESCRIPTSERRORLOG rows to append.
    errors: Rows,
    /// PostValidationInfo and ReplicationStatus, rewritten whole, if changed.
    data: Option<(Rows, Rows)>,
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
    writer: Option<JoinHandle<Result<(), StoreError>>>,
    /// Why the writer thread stopped, if it failed, and whether
    /// [`EventSink::record`] has returned it already.
    failed: Option<(Arc<StoreError>, bool)>,
    /// Where the writer thread halts, if it is to: see
    /// [`SqliteWriter::halt_after_batches`].
    halt: Arc<Mutex<Option<Halt>>>,
    /// The store's single-writer lock, released when the writer is dropped
    /// (after the writer thread has closed the connection: fields drop
    /// after `Drop::drop`).
    _lock: std::fs::File,
}

impl<'s> SqliteWriter<'s> {
    /// Creates the store at `path` (replacing any file there) with the run's
    /// identity in `meta` (with the calendar and the store format added)
    /// as the chain's first link, and holds it for this writer alone until
    /// closed or dropped.
    ///
    /// # Panics
    /// If `meta` names `status` or `identity`, which the store keeps.
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
        let mut rows: BTreeMap<String, String> = meta.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        assert!(!rows.contains_key("status") && !rows.contains_key("identity"), "the store keeps these rows itself");
        rows.insert("calendar_start".into(), calendar.start().to_string());
        rows.insert("store_format".into(), STORE_FORMAT.into());
        let identity = identity_link(&rows);
        rows.insert("identity".into(), hex(&identity));
        rows.insert("status".into(), "running".into());
        let mut data = DataProjection::new(scenario, calendar);
        let first = Batch { data: data.take_dirty().then(|| data_rows(&data)), ..Batch::default() };
        // A store that could not be made whole is not left half-made.
        let conn = initialise(path, &rows, &first).inspect_err(|_| {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        })?;
        tracing::info!(path = %name, "store created");
        let (to_writer, batches) = sync_channel(QUEUED_BATCHES);
        let (give_back, spare) = sync_channel(QUEUED_BATCHES + 1);
        let halt = Arc::new(Mutex::new(None));
        let writer = std::thread::Builder::new()
            .name("rehearse-store".into())
            .spawn({
                let name = name.clone();
                let halt = Arc::clone(&halt);
                let path = path.to_path_buf();
                move || {
                    let checkpoints = checkpointer(&path, &name, &conn);
                    let named = name.as_str();
                    let written = std::thread::scope(|scope| {
                        let checkpointer = checkpoints.map(|checkpoints| {
                            let (wake, woken) = sync_channel(1);
                            let (done, copied) = channel();
                            scope.spawn(move || checkpoint(named, &checkpoints, &woken, &done));
                            Checkpointer { wake, copied }
                        });
                        write_batches(named, &conn, &batches, &give_back, &halt, checkpointer.as_ref())
                    });
                    written.map_err(|cause| StoreError::Sqlite { path: name.clone(), cause })
                }
            })
            .map_err(|cause| StoreError::Io { path: name.clone(), cause })?;
        Ok(SqliteWriter {
            path: name,
            enc: Encoder::after(scenario, identity),
            projection: StatusProjection::new(scenario, calendar),
            data,
            n_errors_written: 0,
            events: Events::with_capacity(),
            to_writer: Some(to_writer),
            spare,
            writer: Some(writer),
            failed: None,
            halt,
            _lock: lock,
        })
    }

    /// For tests of a run stopped or failing mid-run: once `batches`
    /// batches are committed, the writer thread calls `until` before it
    /// writes any more (the binary says `store halted after N batches` on
    /// stderr and waits for a line on its stdin, for ever if none comes),
    /// so a test can kill the run with exactly that much in the store, or
    /// change the store's place and let it go on, instead of racing the
    /// run with a clock.
    pub fn halt_after_batches(&self, batches: u64, until: impl FnOnce() + Send + 'static) {
        *self.halt.lock().expect("no thread panics holding it") = Some((batches, Box::new(until)));
    }

    /// Hands the events so far and the changed projection rows to the
    /// writer thread, as one transaction (the last one if `close`).
    fn send(&mut self, close: Option<String>) -> io::Result<()> {
        let status = self.projection.take_dirty().into_iter().map(|step| self.projection.values(step)).collect();
        let errors = self.projection.errors[self.n_errors_written..].iter().map(|e| e.values()).collect();
        self.n_errors_written = self.projection.errors.len();
        let data = self.data.take_dirty().then(|| data_rows(&self.data));
        let next = match self.spare.try_recv() {
            Ok(events) => events,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Events::with_capacity(),
        };
        let events = std::mem::replace(&mut self.events, next);
        let batch = Batch { events, status, errors, data, close };
        let sent = self.to_writer.as_ref().is_some_and(|w| w.send(batch).is_ok());
        if sent {
            return Ok(());
        }
        // The writer thread has stopped: it failed (or was closed).
        self.stop();
        match &mut self.failed {
            Some((e, said)) => {
                *said = true;
                Err(io::Error::other(Arc::clone(e)))
            }
            None => Err(io::Error::other(StoreError::Closed { path: self.path.clone() })),
        }
    }

    /// Waits for the writer thread to end, keeping its error if it failed.
    fn stop(&mut self) {
        self.to_writer = None;
        let failure = match self.writer.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => return,
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => StoreError::WriterPanicked { path: self.path.clone() },
        };
        tracing::info!(path = %self.path, error = %failure, "the store's writer stopped");
        self.failed = Some((Arc::new(failure), false));
    }

    /// Records how the run ended (`finished`, or the error that stopped it)
    /// in the last transaction and closes the store.
    ///
    /// # Errors
    /// The store's failure (an I/O or SQLite error, the path named), unless
    /// [`EventSink::record`] has returned it already: a failure is returned
    /// once, and the store keeps the transactions committed before it.
    pub fn close(mut self, status: &str) -> io::Result<()> {
        let sent = self.send(Some(status.to_string()));
        self.stop();
        match (&self.failed, sent) {
            (Some((e, false)), _) => Err(io::Error::other(Arc::clone(e))),
            (Some((_, true)), _) => Ok(()),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => {
                tracing::info!(path = %self.path, status = %status, "store closed");
                Ok(())
            }
        }
    }
}

impl Drop for SqliteWriter<'_> {
    /// Without [`SqliteWriter::close`], the events not yet handed over are
    /// dropped, as a killed run's would be; the rest is written.
    fn drop(&mut self) {
        if self.writer.is_some() {
            tracing::info!(path = %self.path, "store dropped before close: its committed batches stay, its status says running");
        }
        self.stop();
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

/// Makes the file at `path` (locked by the caller) an empty store: its
/// settings, then its tables, its identity `rows` and the projections
/// before any event (`first`) in one transaction, so that a run killed
/// while creating its store leaves all of them or none.
fn initialise(path: &Path, rows: &BTreeMap<String, String>, first: &Batch) -> Result<Connection, StoreError> {
    let name = path.display().to_string();
    let err = |cause| StoreError::Sqlite { path: name.clone(), cause };
    // Emptied through a descriptor of its own, closed at once, not through
    // the caller's locked one (held all the while: no one else writes
    // here): on ext4, a file cut to zero length has everything written to
    // it afterwards flushed to the disk when a descriptor open for writing
    // is next closed (`auto_da_alloc`, for programs that replace a file's
    // content without syncing). Cut through the locked descriptor, the
    // flush began when SQLite closed the store, and the next truncation of
    // the same path waited for that disk write: 15-30 ms of every store
    // written over another (strace), and 1.20-1.31 -> 1.40-1.51 million
    // events/s appended (1.54-1.55 with the sync below). Closed here, the
    // flush is of an empty file, and the store's pages go to the disk as
    // any other file's do (as they did on other file systems).
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|emptied| emptied.set_len(0))
        .map_err(|cause| StoreError::Io { path: name.clone(), cause })?;
    let conn = Connection::open(path).map_err(err)?;
    // 16 KiB pages: a quarter of the page writes, reads and WAL frames
    // of the default 4 KiB (set before the journal mode and the tables).
    conn.execute_batch("PRAGMA page_size=16384").map_err(err)?;
    // No sync: a killed process keeps every committed batch (the WAL is
    // in the operating system's hands), a power loss may not; a run
    // store can always be made again from its scenario and seed, and
    // NORMAL cost 30 % of the append speed (README, "What a store
    // survives"). Set before the journal mode, whose change is a
    // transaction of its own (in a rollback journal, four syncs at the
    // default setting).
    conn.execute_batch("PRAGMA synchronous=OFF").map_err(err)?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).map_err(err)?;
    // A small cache (4 MiB, 256 pages): the writer only appends, so what
    // it reads again is the tree's rightmost path, and what it must hold
    // is a batch's changed pages (about 40). Its page buffers are then
    // used over and over; with 64 MiB, every page of the store had a
    // fresh buffer (the memory faulted in, zeroed, and given back at
    // close): measured, 1.54 -> 1.74 and 1.55 -> 1.91 million events/s.
    conn.execute_batch("PRAGMA cache_size=-4096").map_err(err)?;
    // Freed pages and cells are zeroed: a store's bytes are its live rows
    // or zeros, never stale copies that a check cannot tell from data.
    conn.execute_batch("PRAGMA secure_delete=ON").map_err(err)?;
    conn.execute_batch("BEGIN").map_err(err)?;
    conn.execute_batch(EVENT_TABLES).map_err(err)?;
    conn.execute_batch(PROJECTIONS).map_err(err)?;
    {
        let mut stmt = conn.prepare("INSERT INTO run_meta (key, value) VALUES (?1, ?2)").map_err(err)?;
        for (k, v) in rows {
            stmt.execute(params![k, v]).map_err(err)?;
        }
    }
    write_projections(&conn, first).map_err(err)?;
    conn.execute_batch("COMMIT").map_err(err)?;
    Ok(conn)
}

/// A second connection to the store, for [`checkpoint`], with the
/// writer's own checkpoints turned off; `None`, the writer checkpointing
/// as before, if it cannot be made.
fn checkpointer(path: &Path, name: &str, conn: &Connection) -> Option<Connection> {
    let made = Connection::open(path).and_then(|checkpoints| {
        checkpoints.execute_batch("PRAGMA synchronous=OFF")?;
        conn.execute_batch("PRAGMA wal_autocheckpoint=0")?;
        Ok(checkpoints)
    });
    made.inspect_err(|e| tracing::debug!(path = %name, error = %e, "the store checkpoints on its writer's thread")).ok()
}

/// The checkpointer thread: each time the writer thread has committed,
/// the committed pages copied from the write-ahead log into the file
/// (passive: never waiting for the writer, nor making it wait), so that
/// the writer's thread only appends (about a fifth of its time, on
/// another core) and the log, copied as it grows, stays short. A
/// checkpoint that fails loses nothing (the log keeps its pages; the
/// writer's close copies what is left, as without this thread).
///
/// Woken with the number of batches committed; says on `done` that the
/// checkpoint begun after them has ended.
fn checkpoint(name: &str, checkpoints: &Connection, woken: &Receiver<u64>, done: &Sender<u64>) {
    for committed in woken {
        if let Err(e) = checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(path = %name, error = %e, "store checkpoint failed");
        }
        let _ = done.send(committed);
    }
}

/// The writer thread's ends of the checkpointer's channels.
struct Checkpointer {
    /// Wakes it with the number of batches committed.
    wake: SyncSender<u64>,
    /// The number of batches whose checkpoint has ended, each time one has.
    copied: Receiver<u64>,
}

/// The writer thread: each batch in its own transaction, until the last
/// (or until the run's side hangs up, leaving what was committed); after
/// each, the checkpointer is woken, if there is one, and every
/// [`LOG_RESTART_BATCHES`] batches waited for.
fn write_batches(
    path: &str,
    conn: &Connection,
    batches: &Receiver<Batch>,
    give_back: &SyncSender<Events>,
    halt: &Mutex<Option<Halt>>,
    checkpointer: Option<&Checkpointer>,
) -> rusqlite::Result<()> {
    let mut insert_many = String::from("INSERT INTO events (seq, at_ms, kind, payload, chain) VALUES ");
    for k in 0..ROWS_PER_INSERT {
        insert_many.push_str(if k == 0 { "(?,?,?,?,?)" } else { ",(?,?,?,?,?)" });
    }
    // The largest seq inserted: the events table holds no other rows.
    let mut largest = None;
    for (committed, mut batch) in batches.iter().enumerate() {
        let mut halting = halt.lock().expect("no thread panics holding it");
        if halting.as_ref().is_some_and(|(n, _)| *n == committed as u64)
            && let Some((_, until)) = halting.take()
        {
            drop(halting);
            until();
        }
        conn.execute_batch("BEGIN")?;
        insert_events(conn, &insert_many, &batch.events, &mut largest)?;
        write_projections(conn, &batch)?;
        // How the run ended, in the same transaction as its last events: a
        // store says `finished` exactly when it holds the whole run.
        if let Some(status) = &batch.close {
            conn.execute("UPDATE run_meta SET value = ?1 WHERE key = 'status'", params![status])?;
        }
        conn.execute_batch("COMMIT")?;
        let rows = &batch.events.rows;
        let seqs = match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => format!("{}..={}", first.0, last.0),
            _ => "none".to_string(),
        };
        tracing::debug!(path = %path, events = rows.len(), seqs = %seqs, "store batch committed");
        let committed = committed as u64 + 1;
        if let Some(Checkpointer { wake, copied }) = checkpointer {
            if committed.is_multiple_of(LOG_RESTART_BATCHES) && batch.close.is_none() {
                // A checkpoint begun after this commit, and its end (not
                // waited for if the checkpointer has stopped).
                if wake.send(committed).is_ok() {
                    while copied.recv().is_ok_and(|n| n < committed) {}
                }
            } else {
                // Full: a checkpoint is due already, and copies this batch too.
                let _ = wake.try_send(committed);
            }
        }
        if batch.close.is_some() {
            return Ok(());
        }
        batch.events.rows.clear();
        batch.events.text.clear();
        let _ = give_back.try_send(batch.events);
    }
    Ok(())
}

/// Inserts a batch's events, [`ROWS_PER_INSERT`] rows per statement;
/// `largest` is the largest seq in the table, kept up to date.
///
/// An event whose seq is one past the largest (every event but the first,
/// as a run writes them) is inserted with a NULL seq: SQLite gives the
/// row the largest rowid plus one, which is that seq, and appends it
/// without first searching the table for the seq it was given (a search
/// from the root for every row, about a tenth of the writer's time).
fn insert_events(
    conn: &Connection,
    insert_many: &str,
    events: &Events,
    largest: &mut Option<i64>,
) -> rusqlite::Result<()> {
    let text = std::str::from_utf8(&events.text).map_err(|e| rusqlite::Error::Utf8Error(usize::MAX, e))?;
    let mut start = 0;
    let mut rows = events.rows.iter().map(|&(seq, at, kind, end, chain)| {
        let payload = &text[start..end];
        start = end;
        let next = largest.and_then(|l| l.checked_add(1)) == Some(seq);
        *largest = Some(largest.map_or(seq, |l| l.max(seq)));
        ((!next).then_some(seq), at, kind, payload, chain)
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

/// PostValidationInfo's and ReplicationStatus's rows as they stand.
fn data_rows(data: &DataProjection<'_>) -> (Rows, Rows) {
    (data.validation.values().map(|r| r.values()).collect(), data.replication.iter().map(|r| r.values()).collect())
}

/// Writes a batch's changed projection rows.
fn write_projections(conn: &Connection, batch: &Batch) -> rusqlite::Result<()> {
    for row in &batch.status {
        conn.prepare_cached(
            "INSERT INTO DATAUPGRADESTATUS (StartTime, EndTime, Steps, SubSteps, Status) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (Steps, SubSteps) DO UPDATE SET StartTime = ?1, EndTime = ?2, Status = ?5",
        )?
        .execute(params_from_iter(row))?;
    }
    for row in &batch.errors {
        conn.prepare_cached(
            "INSERT INTO RELEASEUPDATESCRIPTSERRORLOG (CREATEDDATETIME, STEPS, SUBSTEPS, MESSAGE) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params_from_iter(row))?;
    }
    if let Some((validation, replication)) = &batch.data {
        // Small tables (a row per table, per publication): rewritten whole.
        conn.execute_batch("DELETE FROM PostValidationInfo; DELETE FROM ReplicationStatus;")?;
        for row in validation {
            conn.prepare_cached("INSERT INTO PostValidationInfo VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params_from_iter(row))?;
        }
        for row in replication {
            conn.prepare_cached("INSERT INTO ReplicationStatus VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params_from_iter(row))?;
        }
    }
    Ok(())
}

/// Cuts the store at `path` to its first `keep` events, as a run killed
/// after them leaves it: the projections as those events give them, the
/// status `running`, in one transaction. For tests and tools that rehearse
/// damage.
///
/// # Errors
/// A store that is damaged or whose scenario does not parse (nothing is
/// cut), SQLite errors.
pub fn truncate_events(path: &Path, keep: u64) -> Result<(), StoreError> {
    let name = path.display().to_string();
    let damaged = |why: String| StoreError::NotAStore { path: name.clone(), why: format!("damaged: {why}") };
    let stored = super::read_store(path)?;
    if let Some(d) = &stored.damage {
        return Err(damaged(d.to_string()));
    }
    let text = stored.meta.get("scenario_text").map_or("", String::as_str);
    let scenario =
        Scenario::parse(text, &format!("{name} (stored scenario)")).map_err(|e| StoreError::Scenario(Box::new(e)))?;
    let calendar = stored.calendar().map_err(|d| damaged(d.to_string()))?;
    let (records, damage) = super::verify_stored(&scenario, &stored.genesis, &stored.events);
    if let Some(e) = damage {
        return Err(damaged(e.to_string()));
    }
    let mut status = StatusProjection::new(&scenario, calendar);
    let mut data = DataProjection::new(&scenario, calendar);
    for r in records.iter().take_while(|r| r.seq < keep) {
        status.apply(r);
        data.apply(r);
    }
    let batch = Batch {
        status: status.rows.keys().map(|step| status.values(*step)).collect(),
        errors: status.errors.iter().map(|e| e.values()).collect(),
        data: Some(data_rows(&data)),
        ..Batch::default()
    };
    let err = |cause| StoreError::Sqlite { path: name.clone(), cause };
    let mut conn = Connection::open(path).map_err(err)?;
    conn.execute_batch("PRAGMA secure_delete=ON").map_err(err)?;
    let tx = conn.transaction().map_err(err)?;
    tx.execute("DELETE FROM events WHERE seq >= ?1", [keep as i64]).map_err(err)?;
    tx.execute_batch("DELETE FROM DATAUPGRADESTATUS; DELETE FROM RELEASEUPDATESCRIPTSERRORLOG;").map_err(err)?;
    write_projections(&tx, &batch).map_err(err)?;
    tx.execute("UPDATE run_meta SET value = 'running' WHERE key = 'status'", []).map_err(err)?;
    tx.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use rehearse_core::{Calendar, Mode};

    use super::super::read_store;
    use super::super::testing::chain;
    use rehearse_core::EventRecord;

    use super::{BATCH, LOG_RESTART_BATCHES, SqliteWriter};
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

    /// Past the batches after which the writer thread waits for the
    /// checkpointer (the log started over, twice): every event stored, in
    /// order, the chain whole.
    #[test]
    fn stores_of_many_batches_hold_every_event_and_a_whole_chain() {
        let (text, scenario) = chain(BATCH);
        let plan = Plan::new(&scenario, crate::digest(&text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(1, Mode::Median), &mut memory).unwrap();
        let n = (2 * LOG_RESTART_BATCHES as usize + 1) * BATCH + 5;
        let records =
            memory.records.iter().cycle().take(n).enumerate().map(|(i, r)| EventRecord { seq: i as u64, ..*r });
        let cal = Calendar::parse("2022-05-20T04:16:24.460").unwrap();
        let path = std::env::temp_dir().join(format!("rehearse-batches-test-{}.sqlite", std::process::id()));
        let mut w = SqliteWriter::create(&path, &scenario, cal, &[]).unwrap();
        for r in records {
            w.record(&r).unwrap();
        }
        w.close("finished").unwrap();
        let stored = read_store(&path).unwrap();
        assert!(stored.damage.is_none());
        assert_eq!(stored.events.len(), n);
        assert!(stored.events.iter().enumerate().all(|(i, (seq, _, _))| seq == i as u64));
        let (verified, damage) = super::super::verify_stored(&scenario, &stored.genesis, &stored.events);
        assert_eq!((verified.len(), damage), (n, None));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// Every event is stored under the seq it has, in order or not: those
    /// one past the largest stored (inserted without their seq, SQLite
    /// giving it) as the others.
    #[test]
    fn events_keep_their_seqs_whatever_their_order() {
        let (text, scenario) = chain(3);
        let plan = Plan::new(&scenario, crate::digest(&text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(1, Mode::Median), &mut memory).unwrap();
        let seqs = [3u64, 4, 5, 0, 1, 9, 10, 2];
        assert!(memory.records.len() >= seqs.len());
        let cal = Calendar::parse("2022-05-20T04:16:24.460").unwrap();
        let path = std::env::temp_dir().join(format!("rehearse-seqs-test-{}.sqlite", std::process::id()));
        let mut w = SqliteWriter::create(&path, &scenario, cal, &[]).unwrap();
        for (r, seq) in memory.records.iter().zip(seqs) {
            w.record(&rehearse_core::EventRecord { seq, ..*r }).unwrap();
        }
        w.close("finished").unwrap();
        let stored = read_store(&path).unwrap();
        let mut want = seqs.to_vec();
        want.sort_unstable();
        assert_eq!(stored.events.iter().map(|(seq, ..)| seq).collect::<Vec<_>>(), want);
        for (seq, payload, _) in stored.events.iter() {
            assert!(payload.starts_with(&format!("{{\"seq\":{seq},")), "{payload}");
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// A run killed before its first batch leaves a store whose
    /// projections are those before any event (the publications not
    /// started): replay finds it sound, and incomplete.
    #[test]
    fn a_store_killed_before_its_first_batch_is_a_sound_empty_prefix() {
        use crate::replay::{Verdict, replay_store};
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/ax2012-go-live.toml"));
        let scenario = rehearse_core::Scenario::parse(text, "ax2012-go-live.toml").unwrap();
        let plan = Plan::new(&scenario, crate::digest(text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(5, Mode::Random), &mut memory).unwrap();
        let path = std::env::temp_dir().join(format!("rehearse-killed-test-{}.sqlite", std::process::id()));
        let cal = Calendar::parse("2026-11-27T18:00:00").unwrap();
        let mut w = SqliteWriter::create(&path, &scenario, cal, &[("scenario_text", text.to_string())]).unwrap();
        for r in &memory.records[..10] {
            w.record(r).unwrap();
        }
        drop(w);
        let replayed = replay_store(&path).unwrap();
        assert_eq!(replayed.report.verdict, Verdict::Incomplete { n_valid: 0 });
        assert_eq!(replayed.status.as_deref(), Some("running"));
        let stored = super::super::read_store(&path).unwrap();
        assert_eq!(stored.projections.0[3].len(), 3, "ReplicationStatus: every publication, not started");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
