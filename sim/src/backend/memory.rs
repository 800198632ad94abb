//! `MemoryBackend`: counts and checksums only, in closed form — what Monte
//! Carlo uses.

use rehearse_core::Scenario;
use rehearse_core::data::{Effect, TableData, checksum, converted_after};

use super::{Backend, TableSnapshot};

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
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn target_mut(&mut self) -> Option<&mut Vec<TableData>> {
        if self.attached { Some(&mut self.source) } else { self.has_target.then_some(&mut self.target) }
    }

    fn target(&self) -> Option<&Vec<TableData>> {
        if self.attached { Some(&self.source) } else { self.has_target.then_some(&self.target) }
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn reset(&mut self, scenario: &Scenario) {
        self.source.clear();
        self.source.extend(scenario.database.tables.iter().map(|t| TableData { rows: t.rows, converted: 0 }));
        self.has_target = false;
        self.attached = false;
        self.has_restore_point = false;
    }

    fn apply(&mut self, effect: Effect, share: f64, _fault: Option<&str>) {
        if share < 1.0 && effect != Effect::Upgrade {
            return;
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
                if let Some(tables) = self.target_mut() {
                    for t in tables.iter_mut() {
                        t.converted = converted_after(*t, share);
                    }
                }
            }
            Effect::Validate => {}
        }
    }

    fn rollback(&mut self) {
        if self.has_restore_point {
            self.source.clone_from(&self.restore_point);
        }
        self.attached = false;
    }

    fn counts_match(&self) -> bool {
        match self.target() {
            Some(target) => self.source.iter().zip(target).all(|(s, t)| s.rows == t.rows),
            None => self.source.iter().all(|s| s.rows == 0),
        }
    }

    fn n_tables(&self) -> usize {
        self.source.len()
    }

    fn snapshot(&self, table: usize) -> TableSnapshot {
        let s = self.source[table];
        let t = self.target().map(|t| t[table]).unwrap_or_default();
        TableSnapshot {
            source_rows: s.rows,
            source_checksum: checksum(table as u32, s),
            target_rows: t.rows,
            target_checksum: if self.target().is_some() { checksum(table as u32, t) } else { 0 },
        }
    }
}
