//! The toolkit's replication in a straight run (see [`StraightRep`]): the
//! replication steps' lengths, and the events the data model's changes add.

use rehearse_core::event::Mode;
use rehearse_core::fault::FaultIdx;
use rehearse_core::replication::Role;

use super::super::data::{caught_up_ms, no_pk_draws, replication_span, snapshot_draws};
use super::super::emit::Emitter;
use super::super::plan::Node;
use super::super::{Plan, RunOptions, Simulator};
use super::{NOTHING_BEFORE, Rule, node_times};
use crate::{NullSink, SimError, rng};

/// What a straight run needs of the plan's replication. A run in which no
/// fault strikes the caught-up wait has its replication fixed by its
/// times: the snapshot's and the copy of the tables without a primary
/// key's lengths by their draws (each attempt's, when tried again), the
/// wait's by when it starts and when the snapshot's latest attempt
/// started, the snapshot ended and the source went offline, all before it
/// (validation orders them so). The data model sees the snapshot's starts,
/// each step with data effects (or a replication role) end, and each
/// strike on such a step with work done (a step rerun after the wait
/// included: its strikes, then its last end); in a silent run only the events
/// they add show, and those depend on the times, so the straight run
/// meets those moments in time order through the engine's own functions
/// and counts what they emit.
#[derive(Debug)]
pub(super) struct StraightRep {
    snapshot: usize,
    no_pk: Option<usize>,
    caught_up: usize,
    offline: usize,
    /// Where the caught-up step's end is in the plan's order: the pass
    /// stops there to work out the wait's length.
    pub(super) caught_up_end: usize,
    /// The steps whose end changes the data model or brings the
    /// replication up to date (`Facts::effects`), in plan order.
    syncing: Vec<usize>,
}

/// What the data model sees at a moment of a straight run (see
/// [`StraightRep`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Moment {
    /// The snapshot starts: the replication begins.
    SnapshotStart,
    /// A syncing step ends.
    End(usize),
    /// A fault strikes a step with data effects with this share of its
    /// work done.
    Strike(usize, f64, FaultIdx),
    /// The snapshot starts again (tried again): the replication brought up
    /// to date, then begun again with this apply time.
    SnapshotRestart(f64),
}

/// The events a straight run's replication adds besides the data model's
/// changes: the caught-up step's `ReplicationBacklog`.
const BACKLOG_EVENTS: u64 = 1;

impl StraightRep {
    /// `None` when the plan's order does not have what the wait needs
    /// before it (validation rules that out).
    pub(super) fn new(plan: &Plan<'_>, order: &[(Node, Rule)]) -> Option<StraightRep> {
        let sc = plan.scenario;
        let rep = sc.replication.as_ref()?;
        let role = |r: Role| (0..sc.steps.len()).find(|i| sc.steps[*i].replication == Some(r));
        let (snapshot, caught_up) = (role(Role::Snapshot)?, role(Role::CaughtUp)?);
        let offline = rep.source_offline.index();
        let at = |v: Node| order.iter().position(|(w, _)| *w == v);
        let caught_up_end = at(Node::end(caught_up))?;
        if at(Node::end(snapshot))? >= caught_up_end || at(Node::start(offline))? >= caught_up_end {
            return None;
        }
        Some(StraightRep {
            snapshot,
            no_pk: role(Role::NoPkTables),
            caught_up,
            offline,
            caught_up_end,
            syncing: (0..sc.steps.len()).filter(|i| plan.facts[*i].effects).collect(),
        })
    }
}

impl Simulator<'_, '_> {
    /// Attempt `attempt` of replication step `i` whose length its draws
    /// fix (the snapshot, the copy of the tables without a primary key):
    /// its own duration and the copy drawn after it, from its stream, as
    /// the engine's `start` draws them; with the snapshot, the agent's
    /// apply time drawn last (0 otherwise).
    pub(super) fn replication_attempt(&self, i: usize, attempt: u32, opts: &RunOptions) -> (u64, f64) {
        let rep = self.plan.scenario.replication.as_ref().expect("a plan with the replication");
        let base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::StepDuration);
        let (own, mut draws) = self.draw_attempt(base, i, attempt, opts.mode);
        let (copy, apply) = match self.plan.facts[i].replication {
            Some(Role::Snapshot) => snapshot_draws(rep, draws.as_mut()),
            Some(Role::NoPkTables) => (no_pk_draws(rep, draws.as_mut()), 0.0),
            _ => unreachable!("the caught-up wait's length depends on when it starts"),
        };
        (own.saturating_add(replication_span(copy)), apply)
    }

    /// The node times of a straight run of a plan with the replication,
    /// the leaves lasting their first attempts' durations (a median run:
    /// the medians; the `retried` steps from their first start to their
    /// end) but for the replication steps, whose lengths are drawn and
    /// worked out as the engine does. Returns the distribution agent's
    /// apply time drawn with the snapshot's first attempt.
    pub(super) fn replicated_node_times(
        &mut self,
        r: &StraightRep,
        order: &[(Node, Rule)],
        opts: &RunOptions,
        retried: &[(usize, u64, u32)],
    ) -> f64 {
        let tried = |i: usize| retried.iter().any(|r| r.0 == i);
        let plan = self.plan;
        let rep = plan.scenario.replication.as_ref().expect("a plan with the replication");
        let mut ms = std::mem::take(&mut self.straight_ms);
        ms.clear();
        ms.extend_from_slice(match opts.mode {
            Mode::Random => &self.first_ms,
            Mode::Median => &plan.median_ms,
        });
        let (first, apply) = self.replication_attempt(r.snapshot, 1, opts);
        if !tried(r.snapshot) {
            ms[r.snapshot] = first;
        }
        if let Some(np) = r.no_pk.filter(|np| !tried(*np)) {
            ms[np] = self.replication_attempt(np, 1, opts).0;
        }
        let base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::StepDuration);
        let (wait_own, _) = self.draw_attempt(base, r.caught_up, 1, opts.mode);
        let (t, cause) = (&mut self.node_ms, &mut self.node_cause);
        node_times(plan, &order[..r.caught_up_end], &ms, NOTHING_BEFORE, t, cause);
        // The wait: what the engine's `replication_times` reads when it
        // starts (the snapshot's latest attempt begun and ended, and the
        // source offline, before it).
        let at = t[Node::start(r.caught_up).index()];
        let (restart, last_apply) = match self.restarts.last() {
            Some(&(after, apply)) => (after, apply),
            None => (0, apply),
        };
        let times = (
            t[Node::start(r.snapshot).index()] + restart,
            t[Node::end(r.snapshot).index()],
            t[Node::start(r.offline).index()],
        );
        ms[r.caught_up] = wait_own.saturating_add(replication_span(caught_up_ms(rep, times, last_apply, at)));
        let before = order[r.caught_up_end - 1].0;
        let before = (before, t[before.index()]);
        node_times(plan, &order[r.caught_up_end..], &ms, before, t, cause);
        self.straight_ms = ms;
        apply
    }

    /// The events the data model's changes add to a straight run whose
    /// node times are in `node_ms`: the snapshot's starts (`restarts`),
    /// each syncing step's end and each strike with work done on a step
    /// with data effects (`strikes`), met in time order through the
    /// engine's own functions (`begin_replication`, `data_effects`) on the
    /// data model as a run begins. `None` when two of them fall on the
    /// same millisecond: the agenda's order then decides, and the run is
    /// the engine's.
    ///
    /// # Errors
    /// The data model's.
    pub(super) fn replicated_events(&mut self, r: &StraightRep, apply: f64) -> Result<Option<u64>, SimError> {
        let t = |v: Node| self.node_ms[v.index()];
        let (snapshot_end, offline) = (t(Node::end(r.snapshot)), t(Node::start(r.offline)));
        let mut moments = std::mem::take(&mut self.moments);
        moments.clear();
        moments.push((t(Node::start(r.snapshot)), Moment::SnapshotStart));
        moments.extend(r.syncing.iter().map(|&i| (t(Node::end(i)), Moment::End(i))));
        let facts = &self.plan.facts;
        moments.extend(
            self.strikes
                .iter()
                .filter(|&&(i, _, share, _)| facts[i].effects && share > 0.0)
                .map(|&(i, at, share, f)| (at, Moment::Strike(i, share, f))),
        );
        let start = t(Node::start(r.snapshot));
        moments.extend(self.restarts.iter().map(|&(after, apply)| (start + after, Moment::SnapshotRestart(apply))));
        moments.sort_unstable_by_key(|m| m.0);
        let tied = moments.windows(2).any(|w| w[0].0 == w[1].0);
        let events = if tied { Ok(None) } else { self.meet(r, &moments, snapshot_end, offline, apply).map(Some) };
        self.moments = moments;
        events
    }

    fn meet(
        &mut self,
        r: &StraightRep,
        moments: &[(u64, Moment)],
        snapshot_end: u64,
        offline: u64,
        apply: f64,
    ) -> Result<u64, SimError> {
        self.backend.reset(self.plan.scenario)?;
        self.replicating = false;
        self.synced = None;
        let mut sink = NullSink;
        let mut out = Emitter { sink: &mut sink, silent: true, seq: 0, max_events: u64::MAX };
        for &(at, moment) in moments {
            // What the engine's `replication_times` reads at `at`: whether
            // the snapshot has ended, and the source gone offline.
            self.steps[r.snapshot].completed = snapshot_end <= at;
            self.steps[r.snapshot].end = snapshot_end;
            self.steps[r.offline].attempt = u32::from(offline <= at);
            self.steps[r.offline].start = offline;
            match moment {
                Moment::SnapshotStart => self.begin_replication(at, apply)?,
                Moment::End(i) => self.data_effects(i, at, 1.0, None, &mut out)?,
                Moment::SnapshotRestart(apply) => {
                    self.sync_replication(r.snapshot, at, false, &mut out)?;
                    self.begin_replication(at, apply)?;
                }
                Moment::Strike(i, share, f) => {
                    let catalog = self.plan.scenario.faults[f.index()].catalog;
                    self.data_effects(i, at, share, catalog, &mut out)?;
                }
            }
        }
        Ok(out.seq + BACKLOG_EVENTS)
    }
}
