//! `MemoryBackend`: counts and checksums only, in closed form — what Monte
//! Carlo uses.

use rehearse_core::Scenario;
use rehearse_core::data::{Effect, TableData, checksum, converted_after, table_unit};

use super::{Backend, BackendError, ReplicaState, Replicate, TableSnapshot};

/// One table's replication: the source rows at its start (`base`), the
/// changes written and applied since, the rows written since the run began.
#[derive(Clone, Copy, Debug, Default)]
struct Article {
    published: bool,
    base: u64,
    written: u64,
    applied: u64,
    total_written: u64,
}

/// Per table: the source, the target (if any), and the restore point (if
/// any). The buffers are kept from run to run: Monte Carlo allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    source: Vec<TableData>,
    target: Vec<TableData>,
    has_target: bool,
    /// The target environment runs on the source database itself.
    attached: bool,
    restore_point: Vec<TableData>,
    has_restore_point: bool,
    /// Rows per unit of work, from each table's declared rows and change
    /// rate (what `table_unit` reads, kept beside: a reset works the units
    /// out again only when those change).
    units: Vec<u64>,
    unit_of: Vec<(u64, u64)>,
    articles: Vec<Article>,
    publications: usize,
    snapshot_applied: bool,
    /// The distribution agent no longer applies changes.
    stopped: bool,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn target(&self) -> Option<&Vec<TableData>> {
        if self.attached { Some(&self.source) } else { self.has_target.then_some(&self.target) }
    }

    /// The target database, created empty if there is none yet.
    fn ensure_target(&mut self) {
        if !self.has_target {
            self.target.clear();
            self.target.resize(self.source.len(), TableData::default());
            self.has_target = true;
        }
    }

    /// The number of publications of the current replication.
    pub fn publications(&self) -> usize {
        self.publications
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn reset(&mut self, scenario: &Scenario) -> Result<(), BackendError> {
        self.source.clear();
        self.source.extend(scenario.database.tables.iter().map(|t| TableData { rows: t.rows, converted: 0 }));
        self.has_target = false;
        self.attached = false;
        self.has_restore_point = false;
        let tables = &scenario.database.tables;
        if !self.unit_of.iter().copied().eq(tables.iter().map(|t| (t.rows, t.changes_per_hour))) {
            self.unit_of.clear();
            self.unit_of.extend(tables.iter().map(|t| (t.rows, t.changes_per_hour)));
            self.units.clear();
            self.units.extend(tables.iter().map(table_unit));
        }
        self.articles.clear();
        self.articles.resize(self.source.len(), Article::default());
        self.publications = 0;
        self.snapshot_applied = false;
        self.stopped = false;
        Ok(())
    }

    fn apply(&mut self, effect: Effect, share: f64, _fault: Option<&str>) -> Result<(), BackendError> {
        if share < 1.0 && effect != Effect::Upgrade {
            return Ok(());
        }
        match effect {
            Effect::RestorePoint => {
                self.restore_point.clone_from(&self.source);
                self.has_restore_point = true;
            }
            Effect::Copy => {
                self.target.clone_from(&self.source);
                self.has_target = true;
                self.attached = false;
            }
            Effect::Attach => self.attached = true,
            Effect::Upgrade => {
                // The target environment's tables (the source, once attached).
                let tables =
                    if self.attached { Some(&mut self.source) } else { self.has_target.then_some(&mut self.target) };
                for (t, unit) in tables.into_iter().flatten().zip(&self.units) {
                    t.converted = converted_after(*t, *unit, share);
                }
                self.stopped = true;
            }
            Effect::Validate => {}
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), BackendError> {
        if self.has_restore_point {
            self.source.clone_from(&self.restore_point);
        }
        self.attached = false;
        self.stopped = true;
        Ok(())
    }

    fn counts_match(&self) -> Result<bool, BackendError> {
        Ok(match self.target() {
            Some(target) => self.source.iter().zip(target).all(|(s, t)| s.rows == t.rows),
            None => self.source.iter().all(|s| s.rows == 0),
        })
    }

    fn n_tables(&self) -> usize {
        self.source.len()
    }

    fn snapshot(&self, table: usize) -> Result<TableSnapshot, BackendError> {
        let s = self.source[table];
        let t = self.target().map(|t| t[table]).unwrap_or_default();
        Ok(TableSnapshot {
            source_rows: s.rows,
            source_checksum: checksum(table as u32, s),
            target_rows: t.rows,
            target_checksum: if self.target().is_some() { checksum(table as u32, t) } else { 0 },
        })
    }

    fn replicate(&mut self, op: Replicate<'_>) -> Result<(), BackendError> {
        match op {
            Replicate::Start { publications } => {
                self.ensure_target();
                self.publications = publications.len();
                for (a, s) in self.articles.iter_mut().zip(&self.source) {
                    *a = Article { published: false, base: s.rows, written: 0, applied: 0, ..*a };
                }
                for &t in publications.iter().flatten() {
                    self.articles[t].published = true;
                }
                self.snapshot_applied = false;
                self.stopped = false;
            }
            Replicate::SnapshotApplied => {
                self.ensure_target();
                for (t, a) in self.articles.iter().enumerate().filter(|(_, a)| a.published) {
                    let s = self.source[t];
                    self.target[t] = TableData { rows: a.base.min(s.rows), converted: s.converted.min(a.base) };
                }
                self.snapshot_applied = true;
            }
            Replicate::Changes { table, written, applied } => {
                self.changes(table, written, applied);
            }
            Replicate::CopyWhole { table } => {
                self.ensure_target();
                self.target[table] = self.source[table];
            }
        }
        Ok(())
    }

    fn replica(&self, table: usize) -> Result<ReplicaState, BackendError> {
        let a = self.articles[table];
        Ok(ReplicaState { written: a.total_written, backlog: a.written - a.applied })
    }

    fn replicate_changes(
        &mut self,
        table: usize,
        written: u64,
        applied: u64,
    ) -> Result<Option<ReplicaState>, BackendError> {
        Ok(if self.changes(table, written, applied) { Some(self.replica(table)?) } else { None })
    }
}

impl MemoryBackend {
    /// `Replicate::Changes`; returns whether the table's replication
    /// changed (the changes written, or those applied, grew).
    #[inline] // (per table on every sync a Monte Carlo run meets)
    fn changes(&mut self, table: usize, written: u64, applied: u64) -> bool {
        let a = &mut self.articles[table];
        let mut changed = false;
        if written > a.written {
            let more = written - a.written;
            self.source[table].rows += more;
            a.total_written += more;
            a.written = written;
            changed = true;
        }
        let applied = applied.min(a.written);
        if self.snapshot_applied && !self.stopped && applied > a.applied {
            let source_rows = self.source[table].rows;
            let t = &mut self.target[table];
            t.rows = (t.rows + (applied - a.applied)).min(source_rows);
            a.applied = applied;
            changed = true;
        }
        changed
    }
}
