//! What steps do to the data: the effects a step may declare (`data = ...`)
//! and the table checksum both data models compute.
//!
//! A table of `rows` rows is modelled as row ids `0..rows`, each at version
//! 0 (as in AX 2012) or 1 (converted by the data upgrade). Conversion runs
//! in id order, so a table's state is (rows, converted). Its checksum is the
//! wrapping sum over rows of a per-row value that depends on the table, the
//! row id and the version: a lost, doubled or unconverted row changes it.
//! The per-row value is affine in the id, so the sum has a closed form and
//! counts-only models can compute it without touching rows.

use serde::{Deserialize, Serialize};

use crate::mix::mix;

/// What a step does to the data when it completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Take a point-in-time restore point of the source database.
    RestorePoint,
    /// Copy every source table to the target (backup and restore, database
    /// copy, replication caught up).
    Copy,
    /// The target environment takes the source database itself (the
    /// self-service swap): from then on, converting the target converts the
    /// source.
    Attach,
    /// The data upgrade: convert the target's rows. Work done before a fault
    /// is committed, unit of work by unit of work; the unit in flight is
    /// rolled back; a retry converts what is left (the scripts are
    /// rerunnable).
    Upgrade,
    /// Compare record counts, source against target, table by table.
    Validate,
}

impl Effect {
    pub fn name(self) -> &'static str {
        match self {
            Effect::RestorePoint => "restore-point",
            Effect::Copy => "copy",
            Effect::Attach => "attach",
            Effect::Upgrade => "upgrade",
            Effect::Validate => "validate",
        }
    }

    pub fn parse(s: &str) -> Option<Effect> {
        [Effect::RestorePoint, Effect::Copy, Effect::Attach, Effect::Upgrade, Effect::Validate]
            .into_iter()
            .find(|e| e.name() == s)
    }
}

/// A table checksum, written as 16 hex digits (JSON numbers above 2^53 lose
/// precision in many readers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum(pub u64);

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Checksum {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 16 {
            return Err(serde::de::Error::custom("a checksum is 16 hex digits"));
        }
        u64::from_str_radix(&s, 16).map(Checksum).map_err(serde::de::Error::custom)
    }
}

/// A table's modelled state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableData {
    pub rows: u64,
    /// Rows converted by the data upgrade (ids `0..converted`).
    pub converted: u64,
}

/// The per-row value's coefficients for a table and version: row `id` is
/// worth `a * (id + 1) + b`.
fn coefficients(table: u32, version: u64) -> (u64, u64) {
    let seed = mix(u64::from(table) ^ (version << 32) ^ 0x5eed);
    (mix(seed) | 1, mix(seed ^ 0xabcd))
}

/// Most units of work a table is modelled with: the data upgrade converts a
/// table unit by unit (one X++ transaction each), so a table of `rows` rows
/// has units of `ceil(rows / MAX_UNITS)` rows.
pub const MAX_UNITS: u64 = 1_000;

/// Rows per unit of work for a table of `rows` rows.
pub fn unit_rows(rows: u64) -> u64 {
    rows.div_ceil(MAX_UNITS).max(1)
}

/// Hours of the users' changes a table's units are sized for, beside its
/// declared rows.
pub const UNIT_HOURS_OF_CHANGES: u64 = 24;

/// Rows per unit of work for `table`: sized for its declared rows, or for a
/// day of its users' changes when that is more. Changes are appended in
/// units too, so a small table written to all day (a number sequence)
/// would otherwise grow by millions of units during a long replication.
pub fn table_unit(table: &crate::scenario::Table) -> u64 {
    unit_rows(table.rows.max(table.changes_per_hour.saturating_mul(UNIT_HOURS_OF_CHANGES)))
}

/// Rows converted once `share` of the remaining work is done: whole units
/// of `unit` rows only (the unit in flight when a fault strikes is rolled
/// back). A table's unit follows from its declared rows and change rate
/// ([`table_unit`]) and stays while rows are added, so units stay aligned
/// on row ids.
#[inline] // (per table on every upgrade a Monte Carlo run meets)
pub fn converted_after(t: TableData, unit: u64, share: f64) -> u64 {
    if share >= 1.0 {
        return t.rows; // every unit: the divisions below give the rows
    }
    let unit = unit.max(1);
    let total = t.rows.div_ceil(unit);
    let done = t.converted.min(t.rows).div_ceil(unit);
    let remaining = total - done;
    let more = ((remaining as f64) * share.max(0.0)) as u64;
    ((done + more.min(remaining)) * unit).min(t.rows)
}

/// The checksum of the rows `first..first + count` at `version`.
pub fn block_value(table: u32, first: u64, count: u64, version: u64) -> u64 {
    let (a, b) = coefficients(table, version);
    range_sum(a, b, first, first + count)
}

/// Sum of `a * (id + 1) + b` over ids in `from..to`, wrapping.
fn range_sum(a: u64, b: u64, from: u64, to: u64) -> u64 {
    if to <= from {
        return 0;
    }
    // sum of (id + 1) for id in from..to = T(to) - T(from), T(k) = k(k+1)/2.
    let tri = |k: u64| -> u64 {
        let (x, y) = if k.is_multiple_of(2) { (k / 2, k + 1) } else { (k, k.div_ceil(2)) };
        x.wrapping_mul(y)
    };
    a.wrapping_mul(tri(to).wrapping_sub(tri(from))).wrapping_add(b.wrapping_mul(to - from))
}

/// The value of one row (what a real-rows model stores per row).
pub fn row_value(table: u32, id: u64, version: u64) -> u64 {
    let (a, b) = coefficients(table, version);
    a.wrapping_mul(id + 1).wrapping_add(b)
}

/// The checksum of a table: the wrapping sum of its rows' values.
pub fn checksum(table: u32, t: TableData) -> u64 {
    let converted = t.converted.min(t.rows);
    let (a1, b1) = coefficients(table, 1);
    let (a0, b0) = coefficients(table, 0);
    range_sum(a1, b1, 0, converted).wrapping_add(range_sum(a0, b0, converted, t.rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_equals_the_sum_over_rows() {
        for (table, rows, converted) in [(0, 0, 0), (1, 1, 0), (2, 10, 3), (3, 1000, 1000), (7, 999, 500)] {
            let by_rows =
                (0..rows).fold(0u64, |acc, id| acc.wrapping_add(row_value(table, id, u64::from(id < converted))));
            assert_eq!(checksum(table, TableData { rows, converted }), by_rows, "{table} {rows} {converted}");
        }
    }

    #[test]
    fn lost_doubled_or_unconverted_rows_change_the_checksum() {
        let full = checksum(0, TableData { rows: 100, converted: 100 });
        assert_ne!(full, checksum(0, TableData { rows: 99, converted: 99 }));
        assert_ne!(full, checksum(0, TableData { rows: 100, converted: 99 }));
        assert_ne!(full, full.wrapping_add(row_value(0, 42, 1)));
        assert_ne!(checksum(0, TableData { rows: 5, converted: 0 }), checksum(1, TableData { rows: 5, converted: 0 }));
    }

    /// A small table written to all day gets units sized for a day of its
    /// changes: a month of replication appends at most 30 000 units.
    #[test]
    fn busy_small_tables_get_units_sized_for_their_changes() {
        let table = |rows, changes_per_hour| crate::scenario::Table {
            name: "t".into(),
            rows,
            changes_per_hour,
            primary_key: true,
        };
        assert_eq!(table_unit(&table(180_000_000, 40_000)), unit_rows(180_000_000));
        let busy = table(1_000, 5_000_000);
        assert_eq!(table_unit(&busy), 120_000);
        assert!(busy.changes_per_hour * 24 * 30 / table_unit(&busy) <= 30 * MAX_UNITS);
        assert_eq!(table_unit(&table(0, 0)), 1);
    }

    #[test]
    fn conversion_goes_unit_by_unit() {
        let t = TableData { rows: 2_500, converted: 0 };
        assert_eq!(unit_rows(2_500), 3);
        assert_eq!(converted_after(t, 3, 0.5), 1_251); // 417 of 834 units
        assert_eq!(converted_after(TableData { rows: 2_500, converted: 1_251 }, 3, 1.0), 2_500);
        assert_eq!(converted_after(t, 3, 0.0), 0);
        assert_eq!(converted_after(TableData { rows: 10, converted: 0 }, unit_rows(10), 0.55), 5);
        // Rows added later (replicated changes) keep the declared unit.
        assert_eq!(converted_after(TableData { rows: 2_504, converted: 0 }, 3, 1.0), 2_504);
        let blocks: u64 = (0..834u64).fold(0u64, |acc, k| {
            let first = k * 3;
            acc.wrapping_add(block_value(4, first, 3.min(2_500 - first), 1))
        });
        assert_eq!(blocks, checksum(4, TableData { rows: 2_500, converted: 2_500 }));
    }

    #[test]
    fn effects_parse_by_name() {
        for e in [Effect::RestorePoint, Effect::Copy, Effect::Attach, Effect::Upgrade, Effect::Validate] {
            assert_eq!(Effect::parse(e.name()), Some(e));
        }
        assert_eq!(Effect::parse("restore"), None);
    }
}
