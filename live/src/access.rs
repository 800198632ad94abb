//! Who may do what: a bridge token (may record) and a sponsor token
//! (read-only), random, shown once when `rehearse live` starts and stored
//! only as their SHA-256 in the log's file, in a table of their own
//! (`live_tokens`). That table is not part of the weekend log: the log's
//! records and hash chain are in `events`, which `replay` and `track` read;
//! they never look at this table, and nothing here touches `events`.
//!
//! Each start issues a new pair; earlier ones stay valid (an open page
//! keeps working across a restart) unless revoked.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};
use sha2::{Digest, Sha256};

use crate::LiveError;

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The bridge: reads and records.
    Bridge,
    /// A sponsor: reads only.
    Sponsor,
}

impl Role {
    pub fn key(self) -> &'static str {
        match self {
            Role::Bridge => "bridge",
            Role::Sponsor => "sponsor",
        }
    }

    fn from_key(k: &str) -> Option<Role> {
        match k {
            "bridge" => Some(Role::Bridge),
            "sponsor" => Some(Role::Sponsor),
            _ => None,
        }
    }
}

/// A fresh pair, in the clear: printed once, never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub bridge: String,
    pub sponsor: String,
}

const TABLE: &str = rehearse_sim::track::LIVE_TOKENS_TABLE;

/// The tokens the server accepts, by their hash.
#[derive(Clone, Debug, Default)]
pub struct Access {
    by_hash: BTreeMap<String, Role>,
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> Result<String, LiveError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| LiveError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn open(path: &Path) -> Result<Connection, LiveError> {
    let sql = |cause| LiveError::Sqlite { path: path.display().to_string(), cause };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
    conn.execute_batch("PRAGMA synchronous=FULL").map_err(sql)?;
    Ok(conn)
}

/// Issues a new pair for the log at `path` (a weekend log: the caller has
/// checked), stamped `issued_at`, and stores their hashes; with `revoke`,
/// every earlier token stops working.
///
/// # Errors
/// SQLite errors; no randomness from the operating system.
pub fn issue(path: &Path, issued_at: &str, revoke: bool) -> Result<Tokens, LiveError> {
    let tokens = Tokens { bridge: random_token()?, sponsor: random_token()? };
    let mut conn = open(path)?;
    let sql = |cause| LiveError::Sqlite { path: path.display().to_string(), cause };
    let tx = conn.transaction().map_err(sql)?;
    tx.execute_batch(TABLE).map_err(sql)?;
    if revoke {
        tx.execute("DELETE FROM live_tokens", []).map_err(sql)?;
    }
    for (t, role) in [(&tokens.bridge, Role::Bridge), (&tokens.sponsor, Role::Sponsor)] {
        tx.execute(
            "INSERT INTO live_tokens (sha256, role, issued_at) VALUES (?1, ?2, ?3)",
            params![hash(t), role.key(), issued_at],
        )
        .map_err(sql)?;
    }
    tx.commit().map_err(sql)?;
    Ok(tokens)
}

impl Access {
    /// The tokens stored for the log at `path`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load(path: &Path) -> Result<Access, LiveError> {
        let conn = open(path)?;
        let sql = |cause| LiveError::Sqlite { path: path.display().to_string(), cause };
        conn.execute_batch(TABLE).map_err(sql)?;
        let mut stmt = conn.prepare("SELECT sha256, role FROM live_tokens").map_err(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(sql)?;
        let mut by_hash = BTreeMap::new();
        for row in rows {
            let (h, role) = row.map_err(sql)?;
            if let Some(role) = Role::from_key(&role) {
                by_hash.insert(h, role);
            }
        }
        Ok(Access { by_hash })
    }

    /// The role of `token`, if it is one of ours.
    pub fn role(&self, token: &str) -> Option<Role> {
        self.by_hash.get(&hash(token)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_revoked_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE x (a)").unwrap();
        let first = issue(&path, "2027-03-05T18:00:00Z", false).unwrap();
        let second = issue(&path, "2027-03-05T19:00:00Z", false).unwrap();
        assert_ne!(first, second);
        let a = Access::load(&path).unwrap();
        assert_eq!(a.role(&first.bridge), Some(Role::Bridge));
        assert_eq!(a.role(&second.sponsor), Some(Role::Sponsor));
        assert_eq!(a.role("guess"), None);
        let stored: Vec<String> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT sha256 FROM live_tokens")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!stored.contains(&first.bridge) && stored.contains(&hash(&first.bridge)));
        let third = issue(&path, "2027-03-05T20:00:00Z", true).unwrap();
        let a = Access::load(&path).unwrap();
        assert_eq!((a.role(&first.bridge), a.role(&third.bridge)), (None, Some(Role::Bridge)));
    }
}
