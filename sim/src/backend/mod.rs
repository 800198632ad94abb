//! The modelled SQL backend: what the steps' data effects do to the source
//! (AX 2012 / the original environment's database) and the target (the
//! upgraded environment's database). The engine drives it only through the
//! [`Backend`] trait and records what it reports as events.

mod memory;
mod sqlite;

pub use memory::MemoryBackend;
pub use sqlite::{SqliteBackend, TTSCOMMIT_ERROR};

use rehearse_core::Scenario;
use rehearse_core::data::Effect;

/// A table's counts and checksums on both sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableSnapshot {
    pub source_rows: u64,
    pub source_checksum: u64,
    pub target_rows: u64,
    pub target_checksum: u64,
}

/// What the AX 2012 toolkit's replication does to the data. Changes the
/// users make while the source is online are new rows appended to a
/// table (ids after its last); the distribution agent applies them to the
/// target in the order they were written. Replication stops applying once
/// the data upgrade has converted the target or a rollback began: what is
/// still in the backlog then never reaches the target.
#[derive(Clone, Copy, Debug)]
pub enum Replicate<'a> {
    /// Replication (re)starts with the publications of the tables with a
    /// primary key (each publication's tables): the snapshot will hold
    /// every published table's source rows as they are now. The target
    /// database exists from here on.
    Start { publications: &'a [Vec<usize>] },
    /// The snapshot is applied: each published table's target holds the
    /// source's rows as they were at `Start`.
    SnapshotApplied,
    /// The replication brought up to date for `table`: `written` changes
    /// written at the source since `Start`, `applied` of them applied to the
    /// target (both only grow). The same `Changes` again changes nothing
    /// unless a `Start` or `SnapshotApplied` came between (the engine
    /// skips a repeated one).
    Changes { table: usize, written: u64, applied: u64 },
    /// A table copied whole, source to target (the toolkit's cutover copies
    /// the tables without a primary key once the source is offline).
    CopyWhole { table: usize },
}

/// A table's replication as a model holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaState {
    /// Rows the users wrote to the source table since the run began.
    pub written: u64,
    /// Changes of the current replication not applied to the target.
    pub backlog: u64,
}

/// Why a data model failed: the SQLite model's databases are in memory,
/// so this is SQLite running out of memory (or of the pages it was
/// allowed), never bad input. The statement names the database and table.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the SQLite data model failed on `{statement}`: {cause}")]
    Sqlite { statement: String, cause: rusqlite::Error },
}

/// A data model. Every model must report the same snapshots for the same
/// sequence of calls: the event stream cannot depend on which one ran.
/// Each call that reads or writes the model's data may fail
/// ([`BackendError`]); the run then stops with that error.
pub trait Backend {
    /// The model's name, recorded with stored runs.
    fn name(&self) -> &'static str;
    /// Back to the scenario's starting data: the source as declared, no
    /// target, no restore point.
    ///
    /// # Errors
    /// The model's.
    fn reset(&mut self, scenario: &Scenario) -> Result<(), BackendError>;
    /// Applies an effect. `share` is the share of the step's work done: 1
    /// when it completed, less when a fault stopped it (only the upgrade
    /// does work part-way; the other effects happen all at once, or not).
    /// `fault` is the catalogue id of the fault that stopped it, if any.
    ///
    /// # Errors
    /// The model's.
    fn apply(&mut self, effect: Effect, share: f64, fault: Option<&str>) -> Result<(), BackendError>;
    /// Point-in-time restore of the source to its restore point (if one was
    /// taken) and the swap back: the target environment lets go of it.
    ///
    /// # Errors
    /// The model's.
    fn rollback(&mut self) -> Result<(), BackendError>;
    /// Whether every table's target count equals its source count.
    ///
    /// # Errors
    /// The model's.
    fn counts_match(&self) -> Result<bool, BackendError>;
    fn n_tables(&self) -> usize;
    /// A table's counts and checksums on both sides.
    ///
    /// # Errors
    /// The model's.
    fn snapshot(&self, table: usize) -> Result<TableSnapshot, BackendError>;
    /// Replication: see [`Replicate`].
    ///
    /// # Errors
    /// The model's.
    fn replicate(&mut self, op: Replicate<'_>) -> Result<(), BackendError>;
    /// A table's replication.
    ///
    /// # Errors
    /// The model's.
    fn replica(&self, table: usize) -> Result<ReplicaState, BackendError>;
    /// `Replicate::Changes` for `table`, and the table's replication after
    /// it when that changed.
    ///
    /// # Errors
    /// The model's.
    fn replicate_changes(
        &mut self,
        table: usize,
        written: u64,
        applied: u64,
    ) -> Result<Option<ReplicaState>, BackendError> {
        let before = self.replica(table)?;
        self.replicate(Replicate::Changes { table, written, applied })?;
        let after = self.replica(table)?;
        Ok((after != before).then_some(after))
    }
}
