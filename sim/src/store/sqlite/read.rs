//! Reading a store back: its identity, events and projection rows, the
//! events of a large store read in ranges of seq side by side, one
//! read-only connection each.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::super::Chain;
use super::super::projection::{ReplicationRowText, StatusRowText, ValidationRowText};
use super::{StoreError, in_parallel, threads_for};

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
    tracing::debug!(path = %name, seqs = %format!("{lo}..={hi}"), threads = parts, "reading the store's events");
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
