//! The store as a whole, beyond its events: SQLite's own integrity check
//! (every page of every table and index, and the indexes against their
//! tables), every table and index the store must hold and nothing else,
//! and the run's identity against the link its events chain from.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::{Connection, ErrorCode};

use super::super::{Chain, GENESIS, chain_next, unhex16};

/// The store format this version writes and verifies. Format 2 chains the
/// events from the run's identity (format 1, unnumbered, from zeros).
pub const STORE_FORMAT: &str = "2";

/// The `run_meta` rows outside the identity: the run's status changes as
/// it goes, and `identity` is the identity's own link.
const UNBOUND: [&str; 2] = ["status", "identity"];

/// The first link of a run store's chain: SHA-256 (first 16 bytes, as
/// every link) of the run's identity, every `run_meta` row but `status`
/// and `identity` as one JSON object, keys sorted:
/// `{"run_identity":{"backend":"memory",...}}`.
pub fn identity_link(meta: &BTreeMap<String, String>) -> Chain {
    let bound: BTreeMap<&str, &str> =
        meta.iter().filter(|(k, _)| !UNBOUND.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let json = serde_json::json!({ "run_identity": bound });
    chain_next(&GENESIS, json.to_string().as_bytes())
}

/// Damage found in a store outside its events: what is wrong, and the
/// table it is in when that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub table: Option<String>,
    pub why: String,
}

impl Damage {
    pub(crate) fn in_table(table: &str, why: impl Into<String>) -> Damage {
        Damage { table: Some(table.to_string()), why: why.into() }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.table {
            Some(t) => write!(f, "table `{t}`: {}", self.why),
            None => f.write_str(&self.why),
        }
    }
}

/// Whether a SQLite error says the file is damaged (as opposed to, say,
/// unreadable for the moment).
pub(crate) fn damaged(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
}

/// Checks the file: SQLite's integrity check, then that it holds exactly
/// the tables and indexes `schema` creates. The first damage, if any.
///
/// # Errors
/// SQLite errors that do not say the file is damaged (I/O, memory).
pub(crate) fn check_file(conn: &Connection, schema: &str) -> rusqlite::Result<Option<Damage>> {
    check_file_with(conn, schema, "")
}

/// As [`check_file`], with the objects of `optional` allowed beside the
/// schema's (defined exactly so) but not required: tables a tool keeps in
/// the same file, outside the chain (the live bridge's in a weekend log).
pub(crate) fn check_file_with(conn: &Connection, schema: &str, optional: &str) -> rusqlite::Result<Option<Damage>> {
    let expected = expected_objects(schema)?;
    if let Some(d) = integrity(conn, &expected)? {
        return Ok(Some(d));
    }
    let allowed = expected_objects(optional)?;
    match objects(conn) {
        Ok(mut found) => {
            found.retain(|o| !allowed.contains(o));
            Ok(compare_objects(&expected, &found))
        }
        Err(e) if damaged(&e) => Ok(Some(Damage { table: None, why: format!("the schema cannot be read: {e}") })),
        Err(e) => Err(e),
    }
}

/// An object of the schema: (type, name, table, CREATE statement).
type Object = (String, String, String, Option<String>);

/// SQLite's integrity check; when it fails, each table is checked alone
/// (with its indexes) to name the one that is damaged.
fn integrity(conn: &Connection, expected: &[Object]) -> rusqlite::Result<Option<Damage>> {
    let lines = match pragma_lines(conn, "PRAGMA integrity_check") {
        Ok(lines) if lines == ["ok"] => return Ok(None),
        Ok(lines) => lines,
        Err(e) if damaged(&e) => vec![e.to_string()],
        Err(e) => return Err(e),
    };
    let said = |lines: &[String]| {
        let mut s = lines.iter().take(2).map(|l| l.replace('\n', " ")).collect::<Vec<_>>().join("; ");
        if lines.len() > 2 {
            s.push_str(&format!(" (and {} more)", lines.len() - 2));
        }
        s
    };
    for (kind, name, ..) in expected {
        if kind != "table" {
            continue;
        }
        match pragma_lines(conn, &format!("PRAGMA integrity_check(\"{name}\")")) {
            Ok(l) if l == ["ok"] => {}
            Ok(l) => return Ok(Some(Damage::in_table(name, format!("SQLite's integrity check fails: {}", said(&l))))),
            Err(e) => return Ok(Some(Damage::in_table(name, format!("SQLite's integrity check fails: {e}")))),
        }
    }
    Ok(Some(Damage {
        table: None,
        why: format!("SQLite's integrity check fails outside the tables (free pages): {}", said(&lines)),
    }))
}

fn pragma_lines(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The objects `schema` creates, as SQLite records them.
fn expected_objects(schema: &str) -> rusqlite::Result<Vec<Object>> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(schema)?;
    objects(&conn)
}

fn objects(conn: &Connection) -> rusqlite::Result<Vec<Object>> {
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

/// The first object missing, changed or added.
fn compare_objects(expected: &[Object], found: &[Object]) -> Option<Damage> {
    let find = |list: &[Object], kind: &str, name: &str| list.iter().find(|(k, n, ..)| k == kind && n == name).cloned();
    // Tables first: a table dropped takes its indexes with it.
    let tables_first = expected.iter().filter(|o| o.0 == "table").chain(expected.iter().filter(|o| o.0 != "table"));
    for (kind, name, table, sql) in tables_first {
        match find(found, kind, name) {
            None if kind == "table" => return Some(Damage::in_table(name, "missing (dropped?)")),
            None => return Some(Damage::in_table(table, format!("its {kind} `{name}` is missing (dropped?)"))),
            Some((_, _, t, s)) if t != *table || s != *sql => {
                return Some(Damage::in_table(
                    table,
                    format!("the {kind} `{name}` is not defined as a store defines it"),
                ));
            }
            Some(_) => {}
        }
    }
    found.iter().find(|(k, n, ..)| find(expected, k, n).is_none()).map(|(kind, name, table, _)| {
        let a = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        Damage::in_table(table, format!("{a} {kind} `{name}` that a store never holds was added"))
    })
}

/// The link the events chain from, as `run_meta` records it, checked
/// against the identity the other rows hold.
///
/// # Errors
/// The damage: no link, a link that is not one, an identity that is not
/// the one the link was made from, another store format.
pub(crate) fn genesis(meta: &BTreeMap<String, String>) -> Result<Chain, Damage> {
    let Some(stored) = meta.get("identity") else {
        let why = match meta.get("store_format") {
            None => {
                "no `identity` row: the run's identity is not bound to its events (a store written before store format 2; run it again to make one this version verifies)"
            }
            Some(_) => "no `identity` row (deleted?): the run's identity cannot be checked",
        };
        return Err(Damage::in_table("run_meta", why));
    };
    let Some(link) = unhex16(stored) else {
        return Err(Damage::in_table("run_meta", "the `identity` row is not a chain link (32 hex digits)"));
    };
    if identity_link(meta) != link {
        return Err(Damage::in_table(
            "run_meta",
            "the run's identity (scenario text, seed, run, version, faults, backend, calendar) is not the one its events were chained from: a row was changed, added or deleted",
        ));
    }
    match meta.get("store_format").map(String::as_str) {
        Some(STORE_FORMAT) => Ok(link),
        other => Err(Damage::in_table(
            "run_meta",
            format!("store format {}: this version reads format {STORE_FORMAT}", other.unwrap_or("(none)")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{STORE_FORMAT, genesis, identity_link};

    fn meta(rows: &[(&str, &str)]) -> BTreeMap<String, String> {
        rows.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Every row but the status is bound: changing, adding or removing one
    /// changes the link; the status does not.
    #[test]
    fn the_identity_covers_every_row_but_the_status() {
        let base =
            meta(&[("seed", "1"), ("scenario_text", "x"), ("store_format", STORE_FORMAT), ("status", "running")]);
        let link = identity_link(&base);
        let mut finished = base.clone();
        finished.insert("status".into(), "finished".into());
        assert_eq!(identity_link(&finished), link);
        for (k, v) in [("seed", Some("2")), ("scenario_text", None), ("backend", Some("sqlite"))] {
            let mut m = base.clone();
            match v {
                Some(v) => m.insert(k.into(), v.into()),
                None => m.remove(k),
            };
            assert_ne!(identity_link(&m), link, "{k}");
        }
        let mut sealed = base.clone();
        sealed.insert("identity".into(), crate::sink::hex(&link));
        assert_eq!(genesis(&sealed), Ok(link));
        sealed.insert("seed".into(), "2".into());
        let damage = genesis(&sealed).unwrap_err();
        assert_eq!(damage.table.as_deref(), Some("run_meta"));
        assert!(damage.to_string().contains("not the one its events were chained from"), "{damage}");
        let old = meta(&[("seed", "1")]);
        assert!(genesis(&old).unwrap_err().why.contains("before store format 2"));
    }
}
