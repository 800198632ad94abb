//! Reading a store back: its identity, events and projection rows, the
//! events of a large store read in ranges of seq side by side, one
//! read-only connection each.

use std::collections::BTreeMap;
use std::path::Path;

use rehearse_core::time::Calendar;
use rusqlite::Connection;

use super::super::Chain;
use super::super::projection::{TABLES, Tables};
use super::check::genesis;
use super::{Damage, EVENT_TABLES, PROJECTIONS, ReadOnly, StoreError, check_file, damaged, in_parallel, threads_for};

/// A run read back from a store.
#[derive(Debug, Clone, Default)]
pub struct StoredRun {
    pub meta: BTreeMap<String, String>,
    /// The link the events chain from: the run's identity, as `run_meta`
    /// records it and checked against its other rows.
    pub genesis: Chain,
    /// The stored events, in seq order.
    pub events: StoredEvents,
    /// The projection tables as stored.
    pub projections: Tables,
    /// Damage outside the events (the file, its tables, `run_meta`): when
    /// there is some, nothing after it was read.
    pub damage: Option<Damage>,
    /// Whether the store had to be opened immutable (it sits where nothing
    /// can be written).
    pub immutable: bool,
}

impl StoredRun {
    /// The calendar the run's projections are dated with.
    ///
    /// # Errors
    /// A `calendar_start` row missing or not a date.
    pub fn calendar(&self) -> Result<Calendar, Damage> {
        let start = self.meta.get("calendar_start").map_or("", String::as_str);
        Calendar::parse(start).map_err(|e| Damage::in_table("run_meta", format!("`calendar_start` {start:?}: {e}")))
    }
}

/// Reads a store, read-only: SQLite's integrity check and the tables and
/// indexes against those a store holds (on a thread of their own), and,
/// in one read transaction, `run_meta` with the run's identity against its
/// link, the projections and the events. Damage found on the way is in
/// [`StoredRun::damage`] (the file's own first), with nothing else.
///
/// # Errors
/// Unreadable files and files that are not run stores.
pub fn read_store(path: &Path) -> Result<StoredRun, StoreError> {
    let name = path.display().to_string();
    let (ro, conn) = ReadOnly::open(path)?;
    let err = |cause| StoreError::Sqlite { path: name.clone(), cause };
    let has = |table: &str| -> Result<bool, StoreError> {
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(err)
    };
    // A store with its `events` or `run_meta` table gone is a damaged
    // store; a file with neither is another file.
    if !has("run_meta")? && !has("events")? {
        return Err(StoreError::NotAStore { path: name.clone(), why: "no `run_meta` or `events` table".into() });
    }
    let mut stored = StoredRun { immutable: ro.is_immutable(), ..StoredRun::default() };
    // The file's own check (SQLite reads every page of it) on a thread of
    // its own while the rest is read: its damage, if any, is the answer,
    // before anything the rest found.
    let (check, read) = std::thread::scope(|scope| {
        let checking = scope.spawn(|| {
            let conn = ro.connect()?;
            check_file(&conn, &format!("{EVENT_TABLES}{PROJECTIONS}"))
        });
        let read = read_rest(&ro, &conn, &name, &mut stored);
        (checking.join().expect("the check does not panic"), read)
    });
    let damage = match (check, read) {
        (Ok(Some(d)), _) | (Ok(None), Ok(Err(d))) => Some(d),
        (Err(e), _) if damaged(&e) => Some(Damage { table: None, why: format!("the file cannot be read: {e}") }),
        (Err(e), _) => return Err(err(e)),
        (Ok(None), Ok(Ok(()))) => None,
        (Ok(None), Err(StoreError::Sqlite { cause, .. })) if damaged(&cause) => {
            Some(Damage { table: None, why: format!("the file cannot be read: {cause}") })
        }
        (Ok(None), Err(e)) => return Err(e),
    };
    if let Some(d) = damage {
        return Ok(StoredRun { damage: Some(d), immutable: stored.immutable, ..StoredRun::default() });
    }
    Ok(stored)
}

/// Reads `run_meta` (its identity checked), the projections and the
/// events into `stored`; the damage found on the way, if any.
fn read_rest(
    ro: &ReadOnly,
    conn: &Connection,
    name: &str,
    stored: &mut StoredRun,
) -> Result<Result<(), Damage>, StoreError> {
    let err = |cause| StoreError::Sqlite { path: name.to_string(), cause };
    // One snapshot for everything read on this connection; the events
    // read on others are those up to the last seq in it (they are only
    // ever appended), so a store being written reads as one moment of it.
    conn.execute_batch("BEGIN").map_err(err)?;
    let mut stmt = conn.prepare("SELECT key, value FROM run_meta").map_err(err)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(err)?;
    for row in rows {
        let (k, v) = row.map_err(err)?;
        stored.meta.insert(k, v);
    }
    stored.genesis = match genesis(&stored.meta) {
        Ok(link) => link,
        Err(d) => return Ok(Err(d)),
    };
    for (k, (table, order)) in TABLES.iter().enumerate() {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).map_err(err)?;
        let n = stmt.column_count();
        let rows =
            stmt.query_map([], |r| (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect()).map_err(err)?;
        stored.projections.0[k] = rows.collect::<rusqlite::Result<_>>().map_err(err)?;
    }
    // Each bound alone is a look-up in the seq index (with both in one
    // SELECT, or with count(*), SQLite reads the whole table).
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .query_row("SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(err)?;
    stored.events = match (lo, hi) {
        (Some(lo), Some(hi)) => read_events(ro, name, lo, hi)?,
        _ => StoredEvents::default(),
    };
    conn.execute_batch("COMMIT").map_err(err)?;
    Ok(Ok(()))
}

/// Reads the events with seq in `lo..=hi`, in seq order, split into ranges
/// of seq read side by side, each through its own read-only connection.
/// Rows are only ever appended, so a range read a moment later than another
/// sees the same rows in it.
fn read_events(ro: &ReadOnly, name: &str, lo: i64, hi: i64) -> Result<StoredEvents, StoreError> {
    // As many events as seqs in a store as written (one damaged may hold
    // fewer, or seqs far apart: this only sizes threads and buffers).
    let count = usize::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(usize::MAX);
    let parts = threads_for(count);
    tracing::debug!(path = %name, seqs = %format!("{lo}..={hi}"), threads = parts, "reading the store's events");
    // Inclusive bounds, together `lo..=hi`: every row of the snapshot
    // falls in exactly one, and none appended since.
    let bound = |k: usize| -> i64 {
        let span = i128::from(hi) - i128::from(lo) + 1;
        i64::try_from(i128::from(lo) + span * k as i128 / parts as i128).unwrap_or(hi)
    };
    let ranges: Vec<(i64, i64)> = (0..parts)
        .map(|k| {
            let first = if k == 0 { lo } else { bound(k) };
            let last = if k + 1 == parts { hi } else { bound(k + 1) - 1 };
            (first, last)
        })
        .collect();
    let read = |(first, last): (i64, i64)| -> Result<Part, StoreError> {
        let err = |source| StoreError::Sqlite { path: name.to_string(), cause: source };
        let conn: Connection = ro.connect().map_err(err)?;
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
pub(super) type RowRef<'a> = (u64, &'a str, &'a Chain, Option<i64>, Option<&'a str>);

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
    pub(super) fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = RowRef<'_>> {
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
    pub(super) fn link_at(&self, k: usize) -> &Chain {
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

/// Turns a stored chain blob into a link (wrong lengths never match).
pub fn link(blob: &[u8]) -> Chain {
    let mut out = [0xffu8; 16];
    if blob.len() == 16 {
        out.copy_from_slice(blob);
    }
    out
}
