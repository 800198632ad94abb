//! SQL on a store, read-only (immutable where its place cannot be
//! written).

use std::path::Path;

use super::{ReadOnly, StoreError};

/// SQLite instructions between two calls of a query's `stop` check.
const OPS_PER_CHECK: i32 = 10_000;

/// Runs a read-only query on a store, with the file also attached as
/// `DBUPGRADE` so that the documented `[DBUPGRADE].[DATAUPGRADESTATUS]`
/// query runs verbatim. Returns column names and rows as text, at most
/// `max_rows` of them; `stop` is asked every few thousand SQLite
/// instructions whether to give up (the caller's clock: a query with no
/// end, such as an unbounded recursive CTE, must not run for ever).
///
/// # Errors
/// SQLite errors (a bad query, a write attempt, an unreadable file),
/// [`StoreError::QueryStopped`], [`StoreError::TooManyRows`].
pub fn query(
    path: &Path,
    sql: &str,
    max_rows: usize,
    stop: impl FnMut() -> bool + Send + 'static,
) -> Result<QueryResult, StoreError> {
    let name = path.display().to_string();
    let err = |source| StoreError::Sqlite { path: name.clone(), cause: source };
    let io_err = |cause| StoreError::Io { path: name.clone(), cause };
    // Opened by path, never through a URI built by hand: a name with `?`,
    // `#` or `%` in it is a file name, not a query string or an escape
    // (`pct%41.sqlite` must not open `pctA.sqlite`); an immutable open's URI
    // escapes every such byte. The attached copy inherits the connection's
    // read-only flags; its name is made absolute so that it can never begin
    // with `file:`.
    let absolute = path.canonicalize().map_err(io_err)?;
    let absolute = absolute.to_str().ok_or_else(|| StoreError::NotAStore {
        path: name.clone(),
        why: "its path is not valid UTF-8, which SQLite cannot attach".into(),
    })?;
    let (ro, mut conn) = ReadOnly::open(Path::new(absolute))?;
    conn.progress_handler(OPS_PER_CHECK, Some(stop)).map_err(err)?;
    conn.execute_batch("PRAGMA query_only = ON").map_err(err)?;
    conn.execute("ATTACH DATABASE ?1 AS DBUPGRADE", [ro.attach_name(absolute)]).map_err(err)?;
    let mut stmt = conn.prepare(sql).map_err(err)?;
    // Refused before it runs, not when it writes: `VACUUM INTO` fails on the
    // read-only connection only after it has created its output file.
    if !stmt.readonly() {
        return Err(StoreError::Writes { path: name });
    }
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
        if out.len() == max_rows {
            return Err(StoreError::TooManyRows { path: name, max_rows });
        }
        match row {
            Ok(row) => out.push(row),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::OperationInterrupted => {
                return Err(StoreError::QueryStopped { path: name, rows: out.len() });
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok(QueryResult { columns, rows: out })
}

/// A query's columns and rows, as text (`None` for NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}
