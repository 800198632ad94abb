//! Replication with the AX 2012 Database Upgrade Toolkit, as a dynamic step:
//! how long the initial snapshot takes, and how long the cutover waits for
//! the backlog of changes to drain.
//!
//! The model (figures from the toolkit's documentation, the rest declared in
//! the scenario):
//! - Tables with a primary key are spread over `publishers` publications
//!   (`AX_PUB_PkTable_*`), largest table first onto the least loaded one.
//!   Each publication's snapshot starts `snapshot_delay` after the previous
//!   one (5 minutes by default) and bulk-copies its rows with
//!   `max_bcp_threads` threads (6 by default, at most 8).
//! - Tables without a primary key (`AX_PUB_NoPKTable`) are copied whole by
//!   the toolkit's cutover step, once the source is offline.
//! - From the snapshot's start until the source goes offline (AX 2012 AOS
//!   off), the tables change at their `changes_per_hour`; from the
//!   snapshot's end, the distribution agent applies changes at its
//!   throughput. The backlog drains when everything written while the
//!   source was online has been applied: at `max(off, s1 + c·(off − s0)/r)`
//!   (s0/s1 the snapshot's start and end, c the change rate, r the apply
//!   rate). With replication started the weekend before, the backlog is
//!   long gone when the AOS is turned off; started at cutover, the whole
//!   snapshot is inside the downtime.
//! - Above 90 % resource use replication slows down: every copy and apply
//!   time is multiplied by `busy_slowdown`.

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::scenario::{StepIdx, Table};
use crate::time::SimDuration;

/// The toolkit's documented default for `MaxBcpThreads`.
pub const DEFAULT_BCP_THREADS: u32 = 6;
/// The documented maximum for `MaxBcpThreads`.
pub const MAX_BCP_THREADS: u32 = 8;
/// The toolkit's documented default for `NumberOfPublishers`.
pub const DEFAULT_PUBLISHERS: u32 = 2;
/// The documented delay between two snapshots.
pub const DEFAULT_SNAPSHOT_DELAY: SimDuration = SimDuration(5 * 60 * 1000);
/// Resource use above which replication slows down.
pub const BUSY_THRESHOLD: f64 = 0.9;

/// What a step does in the replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The initial snapshot of the publications of tables with a primary
    /// key; replication runs from its start.
    Snapshot,
    /// The toolkit's cutover: tables without a primary key, copied whole.
    NoPkTables,
    /// Wait until replication has caught up: the backlog has drained.
    CaughtUp,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Snapshot => "snapshot",
            Role::NoPkTables => "no-pk-tables",
            Role::CaughtUp => "caught-up",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Snapshot, Role::NoPkTables, Role::CaughtUp].into_iter().find(|r| r.name() == s)
    }
}

/// The `[replication]` section, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    pub max_bcp_threads: u32,
    pub publishers: u32,
    pub snapshot_delay: SimDuration,
    /// One BCP thread's time to copy a million rows.
    pub bcp_per_million_rows: Dist,
    /// The distribution agent's time to apply a million changes.
    pub apply_per_million_changes: Dist,
    /// Expected resource use of the source server during replication.
    pub resource_use: f64,
    /// Factor on every copy and apply time above 90 % resource use.
    pub busy_slowdown: f64,
    /// The step whose start takes the source offline (AOS off).
    pub source_offline: StepIdx,
    /// Rows per publication of tables with a primary key, in publication
    /// order (`AX_PUB_PkTable_1`, ...).
    pub publication_rows: Vec<u64>,
    /// Rows of the tables without a primary key.
    pub no_pk_rows: u64,
    /// Changes per hour of the tables with a primary key.
    pub changes_per_hour: u64,
}

/// Spreads the tables with a primary key over `publishers` publications:
/// largest first onto the least loaded (ties: the lower number). Returns
/// each publication's rows.
pub fn publications(tables: &[Table], publishers: u32) -> Vec<u64> {
    let members = publication_tables(tables, publishers);
    members.iter().map(|m| m.iter().map(|t| tables[*t].rows).sum()).collect()
}

/// The tables (indexes into `tables`) of each publication, in the order
/// they were placed.
pub fn publication_tables(tables: &[Table], publishers: u32) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tables.len()).filter(|t| tables[*t].primary_key).collect();
    // Largest first; equal sizes in file order.
    order.sort_by(|a, b| tables[*b].rows.cmp(&tables[*a].rows).then(a.cmp(b)));
    let n = publishers.max(1) as usize;
    let mut load = vec![0u64; n];
    let mut members = vec![Vec::new(); n];
    for t in order {
        let (least, _) = load.iter().enumerate().min_by_key(|(i, l)| (**l, *i)).expect("at least one publication");
        load[least] += tables[t].rows;
        members[least].push(t);
    }
    members
}

impl Replication {
    fn slow(&self) -> f64 {
        if self.resource_use > BUSY_THRESHOLD { self.busy_slowdown } else { 1.0 }
    }

    /// Copy time in ms of `rows` rows with every BCP thread, at `bcp_ms`
    /// per million rows per thread.
    fn copy_ms(&self, rows: u64, bcp_ms: f64) -> f64 {
        rows as f64 / 1e6 * bcp_ms / f64::from(self.max_bcp_threads) * self.slow()
    }

    /// The snapshot of every publication, in ms: the last one to finish.
    pub fn snapshot_ms(&self, bcp_ms: f64) -> f64 {
        let delay = self.snapshot_delay.as_ms() as f64;
        self.publication_rows
            .iter()
            .enumerate()
            .map(|(p, rows)| p as f64 * delay + self.copy_ms(*rows, bcp_ms))
            .fold(0.0, f64::max)
    }

    /// The toolkit's cutover: the tables without a primary key, in ms.
    pub fn no_pk_ms(&self, bcp_ms: f64) -> f64 {
        self.copy_ms(self.no_pk_rows, bcp_ms)
    }

    /// Changes written between the snapshot's start and the source going
    /// offline (none when the source went offline first).
    pub fn changes_written(&self, snapshot_start: u64, offline: u64) -> f64 {
        let online_ms = offline.saturating_sub(snapshot_start) as f64;
        self.changes_per_hour as f64 * online_ms / 3_600_000.0
    }

    /// When the backlog has drained (ms since the run began), given the
    /// snapshot's start and end, when the source went offline, and the
    /// apply time per million changes.
    pub fn drained_at(&self, snapshot_start: u64, snapshot_end: u64, offline: u64, apply_ms: f64) -> f64 {
        let written = self.changes_written(snapshot_start, offline);
        let apply_all = written / 1e6 * apply_ms * self.slow();
        (offline as f64).max(snapshot_end as f64 + apply_all)
    }

    /// The distribution agent's throughput in changes per ms, given its
    /// time per million changes.
    pub fn changes_per_ms(&self, apply_ms: f64) -> f64 {
        1e6 / (apply_ms * self.slow())
    }

    /// Changes still to apply at `now` (after the source went offline).
    pub fn backlog_at(&self, snapshot_start: u64, snapshot_end: u64, offline: u64, apply_ms: f64, now: u64) -> f64 {
        let written = self.changes_written(snapshot_start, offline);
        let per_ms = self.changes_per_ms(apply_ms);
        let applied = now.saturating_sub(snapshot_end) as f64 * per_ms;
        (written - applied).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, rows: u64, changes: u64, pk: bool) -> Table {
        Table { name: name.into(), rows, changes_per_hour: changes, primary_key: pk }
    }

    fn model(tables: &[Table]) -> Replication {
        Replication {
            max_bcp_threads: 6,
            publishers: 2,
            snapshot_delay: DEFAULT_SNAPSHOT_DELAY,
            bcp_per_million_rows: Dist::fixed(SimDuration::from_mins(6)),
            apply_per_million_changes: Dist::fixed(SimDuration::from_mins(30)),
            resource_use: 0.5,
            busy_slowdown: 2.0,
            source_offline: StepIdx(0),
            publication_rows: publications(tables, 2),
            no_pk_rows: tables.iter().filter(|t| !t.primary_key).map(|t| t.rows).sum(),
            changes_per_hour: tables.iter().filter(|t| t.primary_key).map(|t| t.changes_per_hour).sum(),
        }
    }

    #[test]
    fn largest_tables_go_first_onto_the_least_loaded_publication() {
        let t = [table("A", 10, 0, true), table("B", 30, 0, true), table("C", 25, 0, true), table("D", 9, 0, false)];
        // 30 -> #1, 25 -> #2, 10 -> #2 (25 < 30): [30, 35]; D has no key.
        assert_eq!(publications(&t, 2), vec![30, 35]);
        assert_eq!(publications(&t, 1), vec![65]);
        assert_eq!(publication_tables(&t, 2), vec![vec![1], vec![2, 0]]);
    }

    #[test]
    fn snapshot_time_is_the_last_publication_with_its_delay() {
        let t = [table("A", 60_000_000, 0, true), table("B", 60_000_000, 0, true)];
        let m = model(&t);
        // 60 M rows at 6 min per million per thread with 6 threads: 60 min;
        // the second publication starts 5 minutes later.
        assert_eq!(m.snapshot_ms(6.0 * 60_000.0), 65.0 * 60_000.0);
        let busy = Replication { resource_use: 0.95, ..m.clone() };
        assert_eq!(busy.snapshot_ms(6.0 * 60_000.0), 2.0 * 60.0 * 60_000.0 + 5.0 * 60_000.0);
    }

    #[test]
    fn a_backlog_written_while_online_drains_after_the_snapshot() {
        let t = [table("A", 1_000_000, 1_000_000, true)];
        let m = model(&t);
        let h = 3_600_000u64;
        // Snapshot 0..1h, source offline at 1h: 1 M changes, 30 min to apply.
        assert_eq!(m.drained_at(0, h, h, 30.0 * 60_000.0), 1.5 * h as f64);
        assert_eq!(m.backlog_at(0, h, h, 30.0 * 60_000.0, h), 1e6);
        // Started a week before: the agent (2 M/h) kept up; nothing is left
        // when the source goes offline.
        assert_eq!(m.drained_at(0, h, 168 * h, 30.0 * 60_000.0), 168.0 * h as f64);
        assert_eq!(m.backlog_at(0, h, 168 * h, 30.0 * 60_000.0, 168 * h), 0.0);
        // Started at cutover (offline before the snapshot): no changes.
        assert_eq!(m.drained_at(2 * h, 3 * h, h, 30.0 * 60_000.0), 3.0 * h as f64);
    }
}
