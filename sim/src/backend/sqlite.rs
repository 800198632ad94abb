//! `SqliteBackend`: real tables in SQLite (bundled, in memory). The source
//! (AX 2012) and the target (AXDB) are attached databases `src` and `tgt`;
//! the point-in-time restore point is a third, `pitr`. Each table holds one
//! row per unit of work (a block of the table's rows: first id, row count,
//! version, checksum of the block), so a terabyte stays small while a lost
//! or doubled block still shows in counts and checksums.
//!
//! The data upgrade converts block by block, each inside an X++-style
//! transaction: `ttsbegin` opens a savepoint and raises the level,
//! `ttscommit` lowers it and releases the savepoint; a `ttscommit` at level
//! 0 fails with "Call to TTSCOMMIT without first calling TTSBEGIN." and the
//! unit of work is rolled back, nothing half-applied. That is what the
//! documented intermittent TTSCOMMIT fault does: its `ttsbegin` is lost.
//!
//! The replication lives in a fourth database, `dist` (the distributor):
//! `dist.publications` (each publication's tables), `dist.articles` (per
//! table: the source rows when replication started, the changes written
//! and applied since, the rows written since the run began) and
//! `dist.agent` (whether the snapshot is applied, whether the agent has
//! stopped). Users' changes are blocks appended to the source tables; the
//! agent copies them to the target.

use rehearse_core::Scenario;
use rehearse_core::data::{Effect, block_value, table_unit};
use rusqlite::{Connection, params};

use super::{Backend, BackendError, ReplicaState, Replicate, TableSnapshot};

/// The documented error the transaction model raises.
pub const TTSCOMMIT_ERROR: &str = "Call to TTSCOMMIT without first calling TTSBEGIN.";

/// The error of statement `sql`.
fn failed(sql: &str) -> impl FnOnce(rusqlite::Error) -> BackendError + '_ {
    move |cause| BackendError::Sqlite { statement: sql.to_string(), cause }
}

/// What a `ttscommit` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tts {
    Committed,
    /// At level 0: the documented error, nothing released.
    NotInTransaction,
}

pub struct SqliteBackend {
    conn: Connection,
    tables: Vec<String>,
    /// Rows per unit of work, from each table's declared rows.
    units: Vec<u64>,
    has_target: bool,
    attached: bool,
    has_restore_point: bool,
    /// The X++ transaction level.
    tts_level: u32,
    /// Errors the transaction model raised (and rolled back), newest last.
    pub tts_errors: Vec<String>,
}

impl SqliteBackend {
    /// # Errors
    /// SQLite errors while creating the in-memory databases.
    pub fn new() -> Result<Self, BackendError> {
        let conn = Connection::open_in_memory().map_err(failed(":memory:"))?;
        // Every statement of a run, per table and schema, stays prepared.
        conn.set_prepared_statement_cache_capacity(512);
        let backend = SqliteBackend {
            conn,
            tables: Vec::new(),
            units: Vec::new(),
            has_target: false,
            attached: false,
            has_restore_point: false,
            tts_level: 0,
            tts_errors: Vec::new(),
        };
        for schema in ["src", "tgt", "pitr", "dist"] {
            backend.exec(&format!("ATTACH DATABASE ':memory:' AS {schema}"))?;
        }
        backend.exec(
            "CREATE TABLE dist.publications (publication TEXT NOT NULL, tbl INTEGER NOT NULL);
             CREATE TABLE dist.articles (tbl INTEGER PRIMARY KEY, published INTEGER NOT NULL, base INTEGER NOT NULL,
                 written INTEGER NOT NULL, applied INTEGER NOT NULL, total_written INTEGER NOT NULL);
             CREATE TABLE dist.agent (snapshot_applied INTEGER NOT NULL, stopped INTEGER NOT NULL);",
        )?;
        Ok(backend)
    }

    /// Bounds each of the model's databases to `pages` pages of memory:
    /// past them, a write fails ([`BackendError`]) instead of growing.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn limit_pages(&self, pages: u64) -> Result<(), BackendError> {
        for schema in ["main", "src", "tgt", "pitr", "dist"] {
            let sql = format!("PRAGMA {schema}.max_page_count = {pages}");
            self.conn.query_row(&sql, [], |_| Ok(())).map_err(failed(&sql))?;
        }
        Ok(())
    }

    fn exec(&self, sql: &str) -> Result<(), BackendError> {
        self.conn.execute_batch(sql).map_err(failed(sql))
    }

    /// Runs one statement, prepared once per connection.
    fn run(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, BackendError> {
        self.conn.prepare_cached(sql).and_then(|mut stmt| stmt.execute(params)).map_err(failed(sql))
    }

    /// The rows of one query, prepared once per connection.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, BackendError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(failed(sql))?;
        let rows = stmt.query_map(params, row).map_err(failed(sql))?;
        rows.collect::<rusqlite::Result<Vec<T>>>().map_err(failed(sql))
    }

    /// The schema the target environment reads and writes.
    fn target_schema(&self) -> Option<&'static str> {
        if self.attached {
            Some("src")
        } else if self.has_target {
            Some("tgt")
        } else {
            None
        }
    }

    fn ensure_target(&mut self) -> Result<(), BackendError> {
        if !self.has_target {
            for t in 0..self.tables.len() {
                self.exec(&format!("DELETE FROM tgt.t{t}"))?;
            }
            self.has_target = true;
        }
        Ok(())
    }

    /// Copies rows `lo..hi` of table `t` from one schema to another, block
    /// by block: a block the range cuts is copied cut.
    fn copy_range(&self, from: &str, to: &str, t: usize, lo: u64, hi: u64) -> Result<(), BackendError> {
        let blocks: Vec<(i64, i64, i64)> = self.rows(
            &format!(
                "SELECT first, count, version FROM {from}.t{t} WHERE first < ?1 AND first + count > ?2 ORDER BY first"
            ),
            params![hi as i64, lo as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for (first, count, version) in blocks {
            let count = (count as u64).min(hi - first as u64);
            self.put_block(to, t, first as u64, count, version as u64)?;
        }
        Ok(())
    }

    fn put_block(&self, schema: &str, t: usize, first: u64, count: u64, version: u64) -> Result<(), BackendError> {
        let value = block_value(t as u32, first, count, version) as i64;
        self.run(
            &format!("INSERT OR REPLACE INTO {schema}.t{t} (first, count, version, value) VALUES (?1, ?2, ?3, ?4)"),
            params![first as i64, count as i64, version as i64, value],
        )?;
        Ok(())
    }

    /// Appends rows `from..to` (at version 0) to table `t` of `schema`, in
    /// blocks aligned on the table's unit of work.
    fn append_rows(&self, schema: &str, t: usize, from: u64, to: u64) -> Result<(), BackendError> {
        let unit = self.units[t];
        let mut first = from / unit * unit;
        while first < to {
            self.put_block(schema, t, first, unit.min(to - first), 0)?;
            first += unit;
        }
        Ok(())
    }

    fn article(&self, t: usize) -> Result<(bool, u64, u64, u64, u64), BackendError> {
        let sql = "SELECT published, base, written, applied, total_written FROM dist.articles WHERE tbl = ?1";
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row([t as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)? != 0,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, i64>(3)? as u64,
                        r.get::<_, i64>(4)? as u64,
                    ))
                })
            })
            .map_err(failed(sql))
    }

    fn agent(&self) -> Result<(bool, bool), BackendError> {
        let sql = "SELECT snapshot_applied, stopped FROM dist.agent";
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([], |r| Ok((r.get::<_, i64>(0)? != 0, r.get::<_, i64>(1)? != 0))))
            .map_err(failed(sql))
    }

    fn copy_tables(&self, from: &str, to: &str) -> Result<(), BackendError> {
        for (t, _) in self.tables.iter().enumerate() {
            self.exec(&format!("DELETE FROM {to}.t{t}; INSERT INTO {to}.t{t} SELECT * FROM {from}.t{t};"))?;
        }
        Ok(())
    }

    fn ttsbegin(&mut self) -> Result<(), BackendError> {
        self.run(&format!("SAVEPOINT tts{}", self.tts_level), [])?;
        self.tts_level += 1;
        Ok(())
    }

    fn ttscommit(&mut self) -> Result<Tts, BackendError> {
        if self.tts_level == 0 {
            return Ok(Tts::NotInTransaction);
        }
        self.tts_level -= 1;
        self.run(&format!("RELEASE tts{}", self.tts_level), [])?;
        Ok(Tts::Committed)
    }

    /// Converts the next `n` blocks of table `t` in `schema`, one unit of
    /// work each. With `interrupted`, one more unit starts and is stopped:
    /// if its `ttsbegin` was lost (`Some(true)`), its `ttscommit` fails with
    /// the documented error; either way its work is undone (`ttsabort`).
    fn convert(&mut self, schema: &str, t: usize, n: u64, interrupted: Option<bool>) -> Result<(), BackendError> {
        let blocks: Vec<(i64, i64)> = self.rows(
            &format!("SELECT first, count FROM {schema}.t{t} WHERE version = 0 ORDER BY first LIMIT ?1"),
            [n as i64 + i64::from(interrupted.is_some())],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let sql = format!("UPDATE {schema}.t{t} SET version = 1, value = ?1 WHERE first = ?2");
        let update = |b: &SqliteBackend, first: i64, count: i64| {
            b.run(&sql, params![block_value(t as u32, first as u64, count as u64, 1) as i64, first]).map(|_| ())
        };
        for (k, (first, count)) in blocks.into_iter().enumerate() {
            if (k as u64) < n {
                self.ttsbegin()?;
                update(self, first, count)?;
                let done = self.ttscommit()?;
                assert_eq!(done, Tts::Committed, "a ttsbegin came just before");
            } else if interrupted == Some(true) {
                // The unit in flight lost its ttsbegin: ttscommit fails.
                self.run("SAVEPOINT unit", [])?;
                update(self, first, count)?;
                let done = self.ttscommit()?;
                assert_eq!(done, Tts::NotInTransaction, "a ttscommit at level 0 fails");
                self.run("ROLLBACK TO unit", [])?;
                self.run("RELEASE unit", [])?;
                self.tts_errors.push(TTSCOMMIT_ERROR.to_string());
            } else {
                // Stopped in flight by another fault: ttsabort.
                self.ttsbegin()?;
                update(self, first, count)?;
                self.tts_level -= 1;
                self.run(&format!("ROLLBACK TO tts{}", self.tts_level), [])?;
                self.run(&format!("RELEASE tts{}", self.tts_level), [])?;
            }
        }
        Ok(())
    }

    fn stats(&self, schema: &str, t: usize) -> Result<(u64, u64), BackendError> {
        let rows = self.rows(&format!("SELECT count, value FROM {schema}.t{t}"), [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        Ok(rows
            .into_iter()
            .fold((0u64, 0u64), |(n, sum), (count, value)| (n + count as u64, sum.wrapping_add(value as u64))))
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn reset(&mut self, scenario: &Scenario) -> Result<(), BackendError> {
        for (t, _) in self.tables.iter().enumerate() {
            self.exec(&format!("DROP TABLE src.t{t}; DROP TABLE tgt.t{t}; DROP TABLE pitr.t{t};"))?;
        }
        self.tables = scenario.database.tables.iter().map(|t| t.name.clone()).collect();
        self.units = scenario.database.tables.iter().map(table_unit).collect();
        self.exec("DELETE FROM dist.publications; DELETE FROM dist.articles; DELETE FROM dist.agent;")?;
        self.exec("INSERT INTO dist.agent VALUES (0, 0)")?;
        for t in 0..self.tables.len() {
            self.exec(&format!("INSERT INTO dist.articles VALUES ({t}, 0, 0, 0, 0, 0)"))?;
        }
        self.has_target = false;
        self.attached = false;
        self.has_restore_point = false;
        self.tts_level = 0;
        self.tts_errors.clear();
        for (t, table) in scenario.database.tables.iter().enumerate() {
            for schema in ["src", "tgt", "pitr"] {
                self.exec(&format!(
                    "CREATE TABLE {schema}.t{t} (first INTEGER PRIMARY KEY, count INTEGER NOT NULL, version INTEGER NOT NULL, value INTEGER NOT NULL)"
                ))?;
            }
            let unit = table_unit(table);
            self.exec("BEGIN")?;
            let sql = format!("INSERT INTO src.t{t} (first, count, version, value) VALUES (?1, ?2, 0, ?3)");
            let filled = (|| {
                let mut stmt = self.conn.prepare(&sql)?;
                let mut first = 0u64;
                while first < table.rows {
                    let count = unit.min(table.rows - first);
                    stmt.execute(params![first as i64, count as i64, block_value(t as u32, first, count, 0) as i64])?;
                    first += count;
                }
                Ok(())
            })();
            if let Err(cause) = filled {
                let _ = self.exec("ROLLBACK");
                return Err(failed(&sql)(cause));
            }
            self.exec("COMMIT")?;
        }
        Ok(())
    }

    fn apply(&mut self, effect: Effect, share: f64, fault: Option<&str>) -> Result<(), BackendError> {
        if share < 1.0 && effect != Effect::Upgrade {
            return Ok(());
        }
        match effect {
            Effect::RestorePoint => {
                self.copy_tables("src", "pitr")?;
                self.has_restore_point = true;
            }
            Effect::Copy => {
                self.copy_tables("src", "tgt")?;
                self.has_target = true;
                self.attached = false;
            }
            Effect::Attach => self.attached = true,
            Effect::Upgrade => {
                let Some(schema) = self.target_schema() else { return Ok(()) };
                for t in 0..self.tables.len() {
                    let sql = format!("SELECT count(*) FROM {schema}.t{t} WHERE version = 0");
                    let remaining: i64 = self
                        .conn
                        .prepare_cached(&sql)
                        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
                        .map_err(failed(&sql))?;
                    let remaining = remaining as u64;
                    let n = if share >= 1.0 { remaining } else { ((remaining as f64) * share.max(0.0)) as u64 };
                    // A fault part-way stops the unit in flight; for the
                    // documented TTSCOMMIT fault, that unit lost its ttsbegin.
                    let interrupted = share < 1.0 && n < remaining;
                    self.convert(schema, t, n.min(remaining), interrupted.then_some(fault == Some("ttscommit")))?;
                }
                self.run("UPDATE dist.agent SET stopped = 1", [])?;
            }
            Effect::Validate => {}
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), BackendError> {
        if self.has_restore_point {
            self.copy_tables("pitr", "src")?;
        }
        self.attached = false;
        self.run("UPDATE dist.agent SET stopped = 1", [])?;
        Ok(())
    }

    fn counts_match(&self) -> Result<bool, BackendError> {
        for t in 0..self.tables.len() {
            let source = self.stats("src", t)?.0;
            let target = match self.target_schema() {
                Some(s) => self.stats(s, t)?.0,
                None => 0,
            };
            if source != target {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn n_tables(&self) -> usize {
        self.tables.len()
    }

    fn snapshot(&self, table: usize) -> Result<TableSnapshot, BackendError> {
        let (source_rows, source_checksum) = self.stats("src", table)?;
        let (target_rows, target_checksum) = match self.target_schema() {
            Some(s) => self.stats(s, table)?,
            None => (0, 0),
        };
        Ok(TableSnapshot { source_rows, source_checksum, target_rows, target_checksum })
    }

    fn replicate(&mut self, op: Replicate<'_>) -> Result<(), BackendError> {
        match op {
            Replicate::Start { publications } => {
                self.ensure_target()?;
                self.exec(
                    "DELETE FROM dist.publications;
                     UPDATE dist.articles SET published = 0, written = 0, applied = 0;
                     UPDATE dist.agent SET snapshot_applied = 0, stopped = 0;",
                )?;
                for t in 0..self.tables.len() {
                    let rows = self.stats("src", t)?.0;
                    self.run("UPDATE dist.articles SET base = ?1 WHERE tbl = ?2", params![rows as i64, t as i64])?;
                }
                for (p, tables) in publications.iter().enumerate() {
                    for &t in tables {
                        let publication = format!("AX_PUB_PkTable_{}", p + 1);
                        self.run("INSERT INTO dist.publications VALUES (?1, ?2)", params![publication, t as i64])?;
                        self.run("UPDATE dist.articles SET published = 1 WHERE tbl = ?1", [t as i64])?;
                    }
                }
            }
            Replicate::SnapshotApplied => {
                self.ensure_target()?;
                for t in 0..self.tables.len() {
                    let (published, base, ..) = self.article(t)?;
                    if published {
                        self.exec(&format!("DELETE FROM tgt.t{t}"))?;
                        self.copy_range("src", "tgt", t, 0, base)?;
                    }
                }
                self.run("UPDATE dist.agent SET snapshot_applied = 1", [])?;
            }
            Replicate::Changes { table, written, applied } => {
                let (_, _, was_written, was_applied, _) = self.article(table)?;
                if written > was_written {
                    let more = written - was_written;
                    let rows = self.stats("src", table)?.0;
                    self.append_rows("src", table, rows, rows + more)?;
                    self.run(
                        "UPDATE dist.articles SET written = ?1, total_written = total_written + ?2 WHERE tbl = ?3",
                        params![written as i64, more as i64, table as i64],
                    )?;
                }
                let applied = applied.min(written.max(was_written));
                let (snapshot_applied, stopped) = self.agent()?;
                if snapshot_applied && !stopped && applied > was_applied {
                    let (source_rows, target_rows) = (self.stats("src", table)?.0, self.stats("tgt", table)?.0);
                    let to = (target_rows + (applied - was_applied)).min(source_rows);
                    self.copy_range("src", "tgt", table, target_rows, to)?;
                    self.run(
                        "UPDATE dist.articles SET applied = ?1 WHERE tbl = ?2",
                        params![applied as i64, table as i64],
                    )?;
                }
            }
            Replicate::CopyWhole { table } => {
                self.ensure_target()?;
                self.exec(&format!("DELETE FROM tgt.t{table}; INSERT INTO tgt.t{table} SELECT * FROM src.t{table};"))?;
            }
        }
        Ok(())
    }

    fn replica(&self, table: usize) -> Result<ReplicaState, BackendError> {
        let (_, _, written, applied, total_written) = self.article(table)?;
        Ok(ReplicaState { written: total_written, backlog: written - applied })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{MemoryBackend, ReplicaState, Replicate};

    const PLAN: &str = "[scenario]\nname = \"t\"\n[database]\ntables = [{ name = \"A\", rows = 2_500 }, { name = \"B\", rows = 7 }]\n[[step]]\nid = \"a\"\nduration = \"1h\"\n";

    fn both() -> (SqliteBackend, MemoryBackend, Scenario) {
        let sc = Scenario::parse(PLAN, "t.toml").unwrap();
        let (mut s, mut m) = (SqliteBackend::new().unwrap(), MemoryBackend::new());
        s.reset(&sc).unwrap();
        m.reset(&sc).unwrap();
        (s, m, sc)
    }

    fn same(s: &SqliteBackend, m: &MemoryBackend) {
        for t in 0..2 {
            assert_eq!(s.snapshot(t).unwrap(), m.snapshot(t).unwrap(), "table {t}");
        }
        assert_eq!(s.counts_match().unwrap(), m.counts_match().unwrap());
    }

    #[test]
    fn a_lost_ttsbegin_raises_the_documented_error_and_rolls_the_unit_back() {
        let (mut s, mut m, _) = both();
        for e in [Effect::RestorePoint, Effect::Attach] {
            s.apply(e, 1.0, None).unwrap();
            m.apply(e, 1.0, None).unwrap();
        }
        let before = s.snapshot(0).unwrap();
        s.apply(Effect::Upgrade, 0.25, Some("dvt-mrprocessservice")).unwrap();
        m.apply(Effect::Upgrade, 0.25, None).unwrap();
        assert!(s.tts_errors.is_empty(), "another fault's unit in flight is aborted without the TTSCOMMIT error");
        same(&s, &m);
        s.apply(Effect::Upgrade, 0.5, Some("ttscommit")).unwrap();
        m.apply(Effect::Upgrade, 0.5, None).unwrap();
        assert_eq!(s.tts_errors, vec![TTSCOMMIT_ERROR.to_string(); 2], "one lost ttsbegin per table");
        assert_eq!(s.tts_level, 0, "no transaction left open");
        same(&s, &m);
        assert_ne!(s.snapshot(0).unwrap(), before, "the units committed before the fault stay");
        // Resuming converts the rest; rolling back restores the original.
        s.apply(Effect::Upgrade, 1.0, None).unwrap();
        m.apply(Effect::Upgrade, 1.0, None).unwrap();
        same(&s, &m);
        s.rollback().unwrap();
        m.rollback().unwrap();
        same(&s, &m);
        assert_eq!(s.snapshot(0).unwrap().source_checksum, before.source_checksum);
    }

    #[test]
    fn copies_and_validation_agree_with_the_memory_model() {
        let (mut s, mut m, sc) = both();
        same(&s, &m);
        assert!(!s.counts_match().unwrap());
        for e in [Effect::Copy, Effect::Upgrade] {
            s.apply(e, 1.0, None).unwrap();
            m.apply(e, 1.0, None).unwrap();
            same(&s, &m);
        }
        assert!(s.counts_match().unwrap());
        s.reset(&sc).unwrap();
        m.reset(&sc).unwrap();
        same(&s, &m);
    }

    #[test]
    fn replication_agrees_with_the_memory_model() {
        let (mut s, mut m, _) = both();
        let both_do = |s: &mut SqliteBackend, m: &mut MemoryBackend, op: Replicate<'_>| {
            s.replicate(op).unwrap();
            m.replicate(op).unwrap();
            same(s, m);
            for t in 0..2 {
                assert_eq!(s.replica(t).unwrap(), m.replica(t).unwrap(), "table {t} after {op:?}");
            }
        };
        let publications = vec![vec![0]];
        both_do(&mut s, &mut m, Replicate::Start { publications: &publications });
        // Users write while the snapshot runs; nothing is applied before it.
        both_do(&mut s, &mut m, Replicate::Changes { table: 0, written: 100, applied: 40 });
        assert_eq!(m.snapshot(0).unwrap().source_rows, 2_600);
        assert_eq!(m.snapshot(0).unwrap().target_rows, 0);
        assert_eq!(m.replica(0).unwrap(), ReplicaState { written: 100, backlog: 100 });
        both_do(&mut s, &mut m, Replicate::SnapshotApplied);
        assert_eq!(m.snapshot(0).unwrap().target_rows, 2_500, "the snapshot holds the rows as they were at its start");
        both_do(&mut s, &mut m, Replicate::Changes { table: 0, written: 251, applied: 121 });
        assert_eq!(m.snapshot(0).unwrap().target_rows, 2_621);
        both_do(&mut s, &mut m, Replicate::CopyWhole { table: 1 });
        both_do(&mut s, &mut m, Replicate::Changes { table: 0, written: 251, applied: 251 });
        assert!(s.counts_match().unwrap());
        let source = m.snapshot(0).unwrap();
        assert_eq!((source.source_rows, source.target_checksum), (2_751, source.source_checksum));
        // The upgrade tears replication down: later changes stay queued.
        for share in [0.5, 1.0] {
            s.apply(Effect::Upgrade, share, None).unwrap();
            m.apply(Effect::Upgrade, share, None).unwrap();
            same(&s, &m);
        }
        both_do(&mut s, &mut m, Replicate::Changes { table: 0, written: 300, applied: 300 });
        assert_eq!(m.replica(0).unwrap(), ReplicaState { written: 300, backlog: 49 });
        assert!(!s.counts_match().unwrap());
        // Replication started again: a new snapshot of what the source holds.
        both_do(&mut s, &mut m, Replicate::Start { publications: &publications });
        both_do(&mut s, &mut m, Replicate::SnapshotApplied);
        assert!(s.counts_match().unwrap());
    }

    /// What the engine's sync skip relies on (`Replicate::Changes`): the
    /// same changes again change nothing, until a `SnapshotApplied` or a
    /// `Start` comes between, after which they may; and each model says
    /// so through `replicate_changes` (the memory model's own, the SQLite
    /// model's the trait's), with the replication after it when it changed.
    #[test]
    fn the_same_changes_again_change_nothing_until_the_snapshot_or_a_start() {
        let (mut s, mut m, _) = both();
        let publications = vec![vec![0]];
        let models: [&mut dyn Backend; 2] = [&mut s, &mut m];
        for b in models {
            b.replicate(Replicate::Start { publications: &publications }).unwrap();
            let first = b.replicate_changes(0, 100, 40).unwrap();
            assert_eq!(first, Some(ReplicaState { written: 100, backlog: 100 }), "{}", b.name());
            assert_eq!(b.replicate_changes(0, 100, 40).unwrap(), None, "{}", b.name());
            b.replicate(Replicate::SnapshotApplied).unwrap();
            let applied = b.replicate_changes(0, 100, 40).unwrap();
            assert_eq!(applied, Some(ReplicaState { written: 100, backlog: 60 }), "{}", b.name());
            assert_eq!(b.replicate_changes(0, 100, 40).unwrap(), None, "{}", b.name());
            b.replicate(Replicate::Start { publications: &publications }).unwrap();
            let again = b.replicate_changes(0, 100, 40).unwrap();
            assert_eq!(again, Some(ReplicaState { written: 200, backlog: 100 }), "{}", b.name());
        }
    }

    /// The model's databases bounded below what the plan needs: the reset
    /// that fills the source, then (with room for the source) a copy to
    /// the target mid-run, fail with an error naming the statement and its
    /// table, no panic; the run stops there with what it recorded before.
    #[test]
    fn a_model_out_of_room_is_an_error_naming_its_table_not_a_panic() {
        use crate::{MemorySink, Plan, RunOptions, SimError, Simulator};
        use rehearse_core::Mode;
        let sc = Scenario::parse(PLAN, "t.toml").unwrap();
        let s = SqliteBackend::new().unwrap();
        s.limit_pages(3).unwrap();
        let mut s = s;
        let e = s.reset(&sc).unwrap_err();
        assert!(e.to_string().starts_with("the SQLite data model failed on `INSERT INTO src.t0"), "{e}");
        assert!(e.to_string().contains("full"), "{e}");

        let text = format!("{PLAN}data = \"copy\"\n");
        let sc = Scenario::parse(&text, "t.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(&text));
        let mut s = SqliteBackend::new().unwrap();
        s.reset(&sc).unwrap();
        // Room for the target's tables as the reset makes them, not for a
        // copy of the source's rows.
        let pages: i64 = s.conn.query_row("PRAGMA tgt.page_count", [], |r| r.get(0)).unwrap();
        s.conn.query_row(&format!("PRAGMA tgt.max_page_count = {pages}"), [], |_| Ok(())).unwrap();
        let mut sink = MemorySink::new();
        let result = Simulator::with_backend(&plan, Box::new(s)).run(&RunOptions::new(1, Mode::Median), &mut sink);
        match result {
            Err(SimError::Backend(e)) => assert!(e.to_string().contains("INSERT INTO tgt.t0"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(!sink.records.is_empty(), "the run went as far as the copy");
        assert!(!sink.records.iter().any(|r| matches!(r.event, rehearse_core::Event::RunFinished { .. })));
    }
}
