//! Data effects and the replication: what a step does to the data model
//! when it ends (or is struck part-way), and the replication's progress.

use rehearse_core::data::{Checksum, Effect};
use rehearse_core::dist::round_ms;
use rehearse_core::event::Event;
use rehearse_core::replication::{Replication, Role};
use rehearse_core::scenario::StepIdx;

use super::Simulator;
use super::emit::Emitter;
use crate::SimError;
use crate::backend::Replicate;
use crate::rng;

/// A throughput drawn from the attempt's stream (`None`: a median run).
fn rate(dist: &rehearse_core::Dist, draws: Option<&mut rng::Stream>) -> f64 {
    match draws {
        None => dist.median().as_ms() as f64,
        Some(s) => dist.sample_ms(s).max(0.0),
    }
}

/// The snapshot's copy time and the distribution agent's time per million
/// changes, drawn in that order from the attempt's stream (after the
/// step's own duration).
pub(super) fn snapshot_draws(rep: &Replication, mut draws: Option<&mut rng::Stream>) -> (f64, f64) {
    let bcp = rate(&rep.bcp_per_million_rows, draws.as_deref_mut());
    (rep.snapshot_ms(bcp), rate(&rep.apply_per_million_changes, draws))
}

/// The toolkit's cutover's copy time, drawn from the attempt's stream.
pub(super) fn no_pk_draws(rep: &Replication, draws: Option<&mut rng::Stream>) -> f64 {
    rep.no_pk_ms(rate(&rep.bcp_per_million_rows, draws))
}

/// The caught-up wait, starting at `at`: until the backlog has drained,
/// given the replication's times then (see `Simulator::replication_times`).
pub(super) fn caught_up_ms(rep: &Replication, (s0, s1, off): (u64, u64, u64), apply_ms: f64, at: u64) -> f64 {
    (rep.drained_at(s0, s1, off, apply_ms) - at as f64).max(0.0)
}

/// A replication step's part of its length, whole milliseconds within
/// one step's limit.
pub(super) fn replication_span(ms: f64) -> u64 {
    round_ms(ms).min(rehearse_core::scenario::MAX_SPAN.as_ms())
}

/// `Simulator::synced`'s mark for a sync that applied everything written.
const ALL_APPLIED: u64 = u64::MAX;

impl Simulator<'_, '_> {
    /// The part of a replication step's length that follows from the
    /// tables and the replication's progress; its throughputs are drawn
    /// after the step's own duration, from the same stream.
    pub(super) fn replication_ms(
        &mut self,
        i: usize,
        role: Role,
        at: u64,
        draws: Option<&mut rng::Stream>,
        out: &mut Emitter<'_>,
    ) -> Result<u64, SimError> {
        let sc = self.plan.scenario;
        let rep = sc.replication.as_ref().expect("validated: replication steps come with [replication]");
        let ms = match role {
            Role::Snapshot => {
                // A snapshot started again starts the replication again.
                self.sync_replication(i, at, false, out)?;
                let (ms, apply_ms) = snapshot_draws(rep, draws);
                self.begin_replication(at, apply_ms)?;
                ms
            }
            Role::NoPkTables => no_pk_draws(rep, draws),
            Role::CaughtUp => {
                let times = self.replication_times(at);
                let backlog = rep.backlog_at(times.0, times.1, times.2, self.apply_ms, at);
                out.emit(at, Event::ReplicationBacklog { step: StepIdx(i as u32), changes: round_ms(backlog) })?;
                caught_up_ms(rep, times, self.apply_ms, at)
            }
        };
        Ok(replication_span(ms))
    }

    /// The snapshot starts at `at`: the publications' articles begin
    /// again, and the agent will apply at `apply_ms` per million changes.
    pub(super) fn begin_replication(&mut self, at: u64, apply_ms: f64) -> Result<(), SimError> {
        let plan = self.plan.rep.as_ref().expect("compiled with the replication");
        self.backend.replicate(Replicate::Start { publications: &plan.publications })?;
        self.replicating = true;
        self.snapshot_started = at;
        self.apply_ms = apply_ms;
        self.synced = None;
        Ok(())
    }

    /// The replication's times at `at`: when the snapshot started and ended
    /// (the agent applies from its end; `at` while it runs) and when the
    /// source went offline (`at` while it is still online).
    pub(super) fn replication_times(&self, at: u64) -> (u64, u64, u64) {
        let sc = self.plan.scenario;
        let rep = sc.replication.as_ref().expect("validated");
        let snapshot = self.plan.rep.as_ref().expect("compiled").snapshot;
        let s1 = if self.steps[snapshot].completed { self.steps[snapshot].end } else { at };
        let off = rep.source_offline.index();
        let off = if self.steps[off].attempt > 0 { self.steps[off].start.min(at) } else { at };
        (self.snapshot_started, s1, off)
    }

    /// Brings the data model's replication up to `at`: the changes the
    /// users wrote while the source was online since the snapshot started
    /// (each table at its rate, whole rows), and what the agent applied
    /// since the snapshot ended (in the order written, so each table's share
    /// follows its rate); `drained`: everything written is applied (the end
    /// of the caught-up wait). Records what changed; returns whether
    /// anything did.
    pub(super) fn sync_replication(
        &mut self,
        i: usize,
        at: u64,
        drained: bool,
        out: &mut Emitter<'_>,
    ) -> Result<bool, SimError> {
        if !self.replicating {
            return Ok(false);
        }
        let plan = self.plan;
        let (Some(rep), Some(rp)) = (plan.scenario.replication.as_ref(), plan.rep.as_ref()) else { return Ok(false) };
        let (s0, s1, off) = self.replication_times(at);
        let online = off.saturating_sub(s0);
        // Nothing written since the last time, when everything written was
        // applied: nothing can change (the same changes or fewer applied,
        // see `Replicate::Changes`).
        if self.synced == Some((online, ALL_APPLIED)) {
            return Ok(false);
        }
        let written_total = rep.changes_written(s0, off);
        let applied_total = if at > s1 { (at - s1) as f64 * rep.changes_per_ms(self.apply_ms) } else { 0.0 };
        let all = drained || applied_total >= written_total;
        // The same changes as the last time change nothing (see
        // `Replicate::Changes`).
        let key = (online, if all { ALL_APPLIED } else { applied_total.to_bits() });
        if self.synced.replace(key) == Some(key) {
            return Ok(false);
        }
        let mut changed = false;
        for &(t, per_hour) in &rp.changing {
            let written = match per_hour.checked_mul(online) {
                Some(x) => x / 3_600_000,
                None => (u128::from(per_hour) * u128::from(online) / 3_600_000) as u64,
            };
            let applied = if all {
                written
            } else {
                ((applied_total * per_hour as f64 / rep.changes_per_hour as f64) as u64).min(written)
            };
            if let Some(after) = self.backend.replicate_changes(t, written, applied)? {
                let step = StepIdx(i as u32);
                out.emit(
                    at,
                    Event::ChangesReplicated { step, table: t as u32, written: after.written, backlog: after.backlog },
                )?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Applies step `i`'s data effects (`share` of its work done) and records
    /// what they did.
    pub(super) fn data_effects(
        &mut self,
        i: usize,
        at: u64,
        share: f64,
        fault: Option<&str>,
        out: &mut Emitter<'_>,
    ) -> Result<(), SimError> {
        let step = &self.plan.scenario.steps[i];
        let effects = &step.data;
        let role = if share >= 1.0 { step.replication } else { None };
        if effects.is_empty() && role.is_none() {
            return Ok(());
        }
        let mut changed = self.sync_replication(i, at, role == Some(Role::CaughtUp), out)?;
        if let Some(rp) = self.plan.rep.as_ref() {
            match role {
                Some(Role::Snapshot) => {
                    self.backend.replicate(Replicate::SnapshotApplied)?;
                    self.synced = None;
                    changed = true;
                }
                Some(Role::NoPkTables) => {
                    for &t in &rp.no_pk {
                        self.backend.replicate(Replicate::CopyWhole { table: t })?;
                    }
                    changed = true;
                }
                _ => {}
            }
        }
        for &e in effects {
            if e == Effect::Validate {
                if changed {
                    // The tables as validated come first.
                    self.emit_tables(i, at, out)?;
                    changed = false;
                }
                if share >= 1.0 {
                    let matched = self.backend.counts_match()?;
                    out.emit(at, Event::RecordCountsValidated { step: StepIdx(i as u32), matched })?;
                }
            } else if share >= 1.0 || e == Effect::Upgrade {
                self.backend.apply(e, share, fault)?;
                changed = true;
            }
        }
        if changed {
            self.emit_tables(i, at, out)?;
        }
        Ok(())
    }

    pub(super) fn emit_tables(&mut self, i: usize, at: u64, out: &mut Emitter<'_>) -> Result<(), SimError> {
        if out.silent {
            return out.skip(at, self.backend.n_tables() as u64);
        }
        for t in 0..self.backend.n_tables() {
            let s = self.backend.snapshot(t)?;
            out.emit(
                at,
                Event::TableChanged {
                    step: StepIdx(i as u32),
                    table: t as u32,
                    source_rows: s.source_rows,
                    source_checksum: Checksum(s.source_checksum),
                    target_rows: s.target_rows,
                    target_checksum: Checksum(s.target_checksum),
                },
            )?;
        }
        Ok(())
    }
}
