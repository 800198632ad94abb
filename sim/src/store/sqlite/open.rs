//! Opening a store to read it: read-only, by its path, and immutable where
//! the place it sits in cannot be written. A store is a WAL database, and
//! SQLite reads one through its `-shm` file, which it creates beside the
//! store if it is not there: in a read-only directory or on a read-only
//! mount it cannot, and a plain read-only open fails. There, and only
//! there, the store is opened `immutable` (nothing can change it: no
//! locks, no `-shm`), through a URI built from the path with every byte
//! that is not plainly a path character escaped, so a name with `%`, `?`
//! or `#` in it stays a name.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, ffi};

use super::StoreError;

/// How a store was opened for reading, to open it again the same way (the
/// events of a large store are read on several connections).
#[derive(Clone, Debug)]
pub(crate) struct ReadOnly {
    path: PathBuf,
    /// The `file:` URI with `immutable=1`, when a plain read-only open
    /// could not be made.
    immutable: Option<String>,
}

impl ReadOnly {
    /// Opens the SQLite file at `path` read-only, immutable if it must.
    ///
    /// # Errors
    /// SQLite's, with the path; [`StoreError::WalUnreadable`] for a store
    /// whose write-ahead log cannot be read where it is.
    pub(crate) fn open(path: &Path) -> Result<(ReadOnly, Connection), StoreError> {
        let name = path.display().to_string();
        let err = |cause| StoreError::Sqlite { path: name.clone(), cause };
        let plain = ReadOnly { path: path.to_path_buf(), immutable: None };
        let refused = match plain.connect().and_then(|conn| probe(&conn).map(|()| conn)) {
            Ok(conn) => return Ok((plain, conn)),
            Err(e) if cannot_make_side_files(&e) => e,
            Err(e) => return Err(err(e)),
        };
        // Immutable reads ignore a `-wal`: its transactions would be
        // silently left out, so a store that has one is refused here.
        let wal = side_file(path, "-wal");
        match std::fs::metadata(&wal) {
            Ok(m) if m.len() > 0 => {
                return Err(StoreError::WalUnreadable { path: name, wal: wal.display().to_string() });
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(_) => return Err(err(refused)),
        }
        let uri = immutable_uri(path).map_err(|cause| StoreError::Io { path: name.clone(), cause })?;
        tracing::debug!(path = %name, "opened immutable: its place cannot be written");
        let ro = ReadOnly { path: path.to_path_buf(), immutable: Some(uri) };
        let conn = ro.connect().and_then(|conn| probe(&conn).map(|()| conn)).map_err(err)?;
        Ok((ro, conn))
    }

    /// Another connection to the store, opened as the first was; it waits
    /// up to 10 s for a writer's lock (a WAL store's readers wait only
    /// while it is being recovered).
    ///
    /// # Errors
    /// SQLite's.
    pub(crate) fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match &self.immutable {
            None => Connection::open_with_flags(&self.path, flags)?,
            Some(uri) => Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    /// Whether the store had to be opened immutable.
    pub(crate) fn is_immutable(&self) -> bool {
        self.immutable.is_some()
    }

    /// What to `ATTACH` to a connection opened by [`ReadOnly::connect`] for
    /// the same file: its URI if immutable, else `absolute` (the
    /// connection then takes no URIs, and an absolute path cannot begin
    /// with `file:`).
    pub(crate) fn attach_name<'a>(&'a self, absolute: &'a str) -> &'a str {
        self.immutable.as_deref().unwrap_or(absolute)
    }
}

/// Reads the schema: this is when SQLite opens a WAL store's `-shm`.
fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
}

/// Whether `e` says SQLite could not make or open the files it keeps
/// beside a store (a read-only directory or medium).
fn cannot_make_side_files(e: &rusqlite::Error) -> bool {
    let rusqlite::Error::SqliteFailure(f, _) = e else { return false };
    f.code == ErrorCode::CannotOpen
        || f.extended_code == ffi::SQLITE_READONLY_CANTINIT
        || f.extended_code == ffi::SQLITE_READONLY_DIRECTORY
}

/// The file SQLite keeps beside the store, named with `suffix`.
pub(crate) fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// `file:` URI of `path` (made absolute) with `immutable=1`. Every byte but
/// ASCII letters, digits, `/`, `-`, `.`, `_` and `~` is percent-escaped,
/// so `%`, `?` and `#` in a name are the name's own.
fn immutable_uri(path: &Path) -> std::io::Result<String> {
    let absolute = std::path::absolute(path)?;
    let mut uri = String::from("file://");
    for &b in absolute.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::immutable_uri;

    #[test]
    fn uris_escape_everything_a_uri_would_read() {
        let uri = immutable_uri(Path::new("/tmp/a?b#c%d é.sqlite")).unwrap();
        assert_eq!(uri, "file:///tmp/a%3Fb%23c%25d%20%C3%A9.sqlite?immutable=1");
    }
}
