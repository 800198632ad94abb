//! The compiled plan: a scenario as flat arrays for fast, repeated runs.

use std::num::NonZeroU32;

use rehearse_core::draws::Draws;
use rehearse_core::event::ScenarioDigest;
use rehearse_core::fault::FaultIdx;
use rehearse_core::replication::Role;
use rehearse_core::scenario::{Anchor, DowntimeMark, Graph, Scenario, StepIdx, Work};

use super::straight;
use crate::rng;

/// A node of the precedence graph: step i's start is node `2i`, its end
/// `2i + 1`. Of two sub-steps' ends, the higher is the one declared later.
///
/// Held as its number plus one, so that `Option<Node>` (a cause, `None`
/// when there is none) is four bytes, as the per-step state and the
/// straight pass's node arrays read it on every run; the order is the
/// numbers' order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Node(NonZeroU32);

impl Node {
    /// The first step's start.
    pub(super) const FIRST: Node = Node(NonZeroU32::MIN);

    #[inline]
    pub(super) fn start(i: usize) -> Node {
        Node(NonZeroU32::MIN.saturating_add(2 * i as u32))
    }

    #[inline]
    pub(super) fn end(i: usize) -> Node {
        Node(NonZeroU32::MIN.saturating_add(2 * i as u32 + 1))
    }

    /// The step it is the start or end of.
    #[inline]
    pub(super) fn step(self) -> usize {
        self.index() / 2
    }

    #[inline]
    pub(super) fn is_end(self) -> bool {
        self.index() % 2 == 1
    }

    #[inline]
    pub(super) fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// A dependency edge (a parent's start, or an entry of a step's `after`),
/// numbered in plan order: of two edges, the higher was declared later.
/// Held as its number plus one, as [`Node`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Edge(NonZeroU32);

impl Edge {
    #[inline]
    fn new(id: u32) -> Edge {
        Edge(NonZeroU32::MIN.saturating_add(id))
    }

    #[inline]
    pub(super) fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// A fault site (a fault on a step), numbered in fault file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Site(u32);

impl Site {
    #[inline]
    pub(super) fn index(self) -> usize {
        self.0 as usize
    }
}

/// `ms` times a driver factor, rounded, at most [`MAX_SPAN`](rehearse_core::scenario::MAX_SPAN);
/// a factor of exactly 1 changes nothing.
#[inline]
pub(super) fn scale_ms(ms: u64, factor: f64) -> u64 {
    if factor == 1.0 {
        return ms;
    }
    rehearse_core::dist::round_ms(ms as f64 * factor).min(rehearse_core::scenario::MAX_SPAN.as_ms())
}

/// A scenario compiled for fast, repeated runs: flat arrays, dependency
/// edges in compressed form, stream keys and medians computed once.
#[derive(Debug)]
pub struct Plan<'s> {
    pub(super) scenario: &'s Scenario,
    pub(super) digest: ScenarioDigest,
    pub(super) keys: Vec<u64>,
    /// Each step's duration at its medians, in ms (0 for groups).
    pub(super) median_ms: Vec<u64>,
    /// The first attempts' random durations (leaf steps but replication
    /// ones, whose stream goes on to draw throughputs), drawn as a batch
    /// when a random run starts.
    pub(super) first_draws: Draws<'s>,
    /// Per step, what the agenda loop asks of it on every run, packed
    /// (the scenario's steps are large and scattered).
    pub(super) facts: Vec<Facts>,
    /// Per node (see [`Node::index`]): it is a leaf step's end, a step on
    /// the critical path (one byte a node for the walk back along it).
    pub(super) leaf_end: Vec<bool>,
    /// Incoming edges per step (dependencies and the parent's start).
    pub(super) n_waits: Vec<u32>,
    /// Edges notified when a step starts / ends: (edge id, target, lag ms).
    pub(super) on_start: Csr<(Edge, u32, u64)>,
    pub(super) on_end: Csr<(Edge, u32, u64)>,
    /// Edge ids into each step, and each edge's source, for reruns.
    pub(super) incoming: Vec<Vec<Edge>>,
    pub(super) edge_source: Vec<u32>,
    pub(super) n_edges: usize,
    /// Fault sites per step: (site id, fault), in fault file order; in one
    /// array, read on every start (a vector per step scattered them).
    pub(super) sites: Csr<(Site, FaultIdx)>,
    /// Per fault, what a site's draws need: its probability and the range
    /// of the attempt where it strikes (the scenario's `Fault` is large:
    /// read on every start, it crowded the loop's cache).
    pub(super) odds: Vec<Odds>,
    pub(super) site_keys: Vec<u64>,
    pub(super) n_roots: u32,
    /// The precedence graph, for reruns.
    pub(super) graph: Graph,
    /// The replication's tables, when the scenario has one.
    pub(super) rep: Option<RepPlan>,
    /// Runs in which no fault strikes, or faults strike one step that is
    /// only tried again, computed without the agenda (when the plan allows).
    pub(super) straight: Option<straight::StraightPlan>,
    /// What has happened, when the plan is run from a weekend's actuals
    /// (a forecast), with each running step's duration conditioned on the
    /// time it has already taken.
    pub(super) actuals: Option<Forecasting>,
    /// Resources, drivers and slots, compiled.
    pub(super) shared: Shared,
}

/// What steps share (`[[resource]]`, `[[driver]]`) and fixed slots,
/// compiled; empty for a plan without them, which then runs as before.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Each resource's capacity.
    pub(super) capacity: Vec<u32>,
    /// Each resource's working hours (empty when none has any).
    pub(super) hours: Vec<Option<rehearse_core::anchor::Hours>>,
    /// Per step, the resources an attempt holds while it runs.
    pub(super) needs: Csr<u32>,
    /// Per step, its fixed slot: ms from the first downtime begin.
    pub(super) not_before: Vec<Option<i64>>,
    /// Each driver's stream key.
    pub(super) driver_keys: Vec<u64>,
    /// Steps scaled by drivers: (step, its drivers, its fixed duration if
    /// it has one).
    pub(super) scaled: Vec<(u32, Vec<u32>, Option<u64>)>,
    /// Per step, its index in `scaled` (`u32::MAX`: not scaled).
    pub(super) scaled_at: Vec<u32>,
    /// Lags that are "at least" a range (`{ at_least, up_to }`): (edge,
    /// least, most, stream key), drawn per run; their edges' lag in
    /// `on_start` / `on_end` is [`RANGED`].
    pub(super) ranged: Vec<(Edge, u64, u64, u64)>,
}

/// The lag of an edge whose lag is drawn per run (see [`Shared::ranged`]).
pub(super) const RANGED: u64 = u64::MAX;

impl Shared {
    fn new(sc: &Scenario) -> Shared {
        if sc.resources.is_empty() && sc.drivers.is_empty() && sc.steps.iter().all(|s| s.not_before.is_none()) {
            return Shared::default();
        }
        let n = sc.steps.len();
        let needs = sc.steps.iter().enumerate().flat_map(|(i, s)| s.needs.iter().map(move |r| (i, *r))).collect();
        let scaled: Vec<(u32, Vec<u32>, Option<u64>)> = sc
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.scale_by.is_empty())
            .map(|(i, s)| {
                let fixed = match &s.work {
                    Work::Leaf(d) => d.fixed().map(|f| f.as_ms()),
                    Work::Group { .. } => None,
                };
                (i as u32, s.scale_by.clone(), fixed)
            })
            .collect();
        let mut scaled_at = vec![u32::MAX; n];
        for (k, (i, ..)) in scaled.iter().enumerate() {
            scaled_at[*i as usize] = k as u32;
        }
        Shared {
            capacity: sc.resources.iter().map(|r| r.capacity).collect(),
            hours: if sc.resources.iter().any(|r| r.available.is_some()) {
                sc.resources.iter().map(|r| r.available).collect()
            } else {
                Vec::new()
            },
            needs: Csr::build(n, needs),
            not_before: if sc.steps.iter().any(|s| s.not_before.is_some()) {
                sc.steps.iter().map(|s| s.not_before).collect()
            } else {
                Vec::new()
            },
            driver_keys: sc.drivers.iter().map(|d| rng::key_of(&d.id)).collect(),
            scaled,
            scaled_at,
            ranged: Vec::new(),
        }
    }

    /// Whether a step may have to wait for more than its dependencies:
    /// a resource, a slot.
    pub(super) fn gates(&self) -> bool {
        !self.capacity.is_empty() || !self.not_before.is_empty() || !self.ranged.is_empty()
    }
}

/// A plan run from actuals.
#[derive(Clone, Debug)]
pub(super) struct Forecasting {
    pub(super) actuals: crate::actuals::Actuals,
    /// Per running step with one distribution: its duration given the time
    /// it has run (`None`: not running, a sum of distributions, or overdue).
    pub(super) conditional: Vec<Option<rehearse_core::conditional::Conditional>>,
    /// Per step: the faults recorded as struck on it, in order (the k-th
    /// ended its attempt k).
    pub(super) strikes: Vec<Vec<crate::actuals::Strike>>,
    /// Per leaf step with recorded strikes and one distribution: that
    /// distribution, to draw an attempt known to be at least so long.
    pub(super) at_least: Vec<Option<rehearse_core::conditional::Conditional>>,
    /// The plan's step whose account a recorded end of the weekend is on
    /// (the one that begins the downtime, else the first).
    pub(super) ending_step: usize,
}

/// A step's facts the agenda loop needs on every run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Facts {
    pub(super) parent: Option<StepIdx>,
    pub(super) children: u32,
    /// It has no sub-steps.
    pub(super) leaf: bool,
    /// Its part in the replication, if any.
    pub(super) replication: Option<Role>,
    /// A group's finish lag, in ms.
    pub(super) finish_lag: u64,
    /// It opens / closes the downtime.
    pub(super) begins: bool,
    pub(super) ends: bool,
    /// It changes data or drives the replication.
    pub(super) effects: bool,
    /// It needs a resource or has a fixed slot: its start is gated.
    pub(super) gated: bool,
}

/// A fault's draws at a site: whether it fires (below `probability`) and
/// where in the attempt it strikes (a share in `at`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Odds {
    pub(super) probability: f64,
    pub(super) at: (f64, f64),
}

/// The replication's tables and snapshot step, compiled.
#[derive(Debug)]
pub(super) struct RepPlan {
    pub(super) snapshot: usize,
    /// Each publication's tables (those with a primary key).
    pub(super) publications: Vec<Vec<usize>>,
    /// Tables with a primary key and changes: (table, changes per hour).
    pub(super) changing: Vec<(usize, u64)>,
    pub(super) no_pk: Vec<usize>,
}

/// Per step, a list of `T` (edges out of it, or into it), in one vector.
#[derive(Debug, Default)]
pub(super) struct Csr<T> {
    pub(super) offsets: Vec<u32>,
    pub(super) edges: Vec<T>,
}

impl<T> Csr<T> {
    /// From (step, item) pairs: each step's items in the order given.
    pub(super) fn build(n: usize, mut pairs: Vec<(usize, T)>) -> Csr<T> {
        // Stable by step, keeping the given order among a step's items.
        pairs.sort_by_key(|p| p.0);
        let mut offsets = vec![0u32; n + 1];
        for p in &pairs {
            offsets[p.0 + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Csr { offsets, edges: pairs.into_iter().map(|p| p.1).collect() }
    }

    pub(super) fn of(&self, i: usize) -> &[T] {
        &self.edges[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

impl<'s> Plan<'s> {
    /// Compiles a validated scenario. `digest` identifies its text (see
    /// [`crate::digest`]).
    pub fn new(scenario: &'s Scenario, digest: ScenarioDigest) -> Plan<'s> {
        let n = scenario.steps.len();
        let mut n_waits = vec![0u32; n];
        let mut incoming = vec![Vec::new(); n];
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut edge = 0u32;
        let mut edge_source = Vec::new();
        let mut ranged = Vec::new();
        for (i, s) in scenario.steps.iter().enumerate() {
            if let Some(p) = s.parent {
                n_waits[i] += 1;
                incoming[i].push(Edge::new(edge));
                edge_source.push(p.0);
                starts.push((p.index(), (Edge::new(edge), i as u32, 0)));
                edge += 1;
            }
            for d in &s.after {
                n_waits[i] += 1;
                incoming[i].push(Edge::new(edge));
                edge_source.push(d.step.0);
                let lag = match d.up_to {
                    None => d.lag.as_ms(),
                    Some(most) => {
                        let key = rng::pair_key(rng::key_of(&scenario.steps[d.step.index()].id), rng::key_of(&s.id));
                        ranged.push((Edge::new(edge), d.lag.as_ms(), most.as_ms(), key));
                        RANGED
                    }
                };
                let e = (d.step.index(), (Edge::new(edge), i as u32, lag));
                edge += 1;
                match d.anchor {
                    Anchor::Start => starts.push(e),
                    Anchor::Finish => ends.push(e),
                }
            }
        }
        // A step scaled by drivers, as planned, is at its drivers' medians too.
        let median_ms = scenario
            .steps
            .iter()
            .map(|s| match &s.work {
                Work::Leaf(d) => {
                    let f: f64 = s.scale_by.iter().map(|k| scenario.drivers[*k as usize].median()).product();
                    scale_ms(d.median().as_ms(), f)
                }
                Work::Group { .. } => 0,
            })
            .collect();
        let keys: Vec<u64> = scenario.steps.iter().map(|s| rng::key_of(&s.id)).collect();
        let first_draws = Draws::new(scenario.steps.iter().enumerate().filter_map(|(i, s)| match &s.work {
            Work::Leaf(d) if d.fixed().is_none() && s.replication.is_none() => Some((i as u32, d)),
            _ => None,
        }));
        let mut sites = Vec::new();
        let mut site_keys = Vec::new();
        for (f, fault) in scenario.faults.iter().enumerate() {
            for s in &fault.steps {
                sites.push((s.index(), (Site(site_keys.len() as u32), FaultIdx(f as u32))));
                site_keys.push(rng::pair_key(rng::key_of(&fault.id), keys[s.index()]));
            }
        }
        let mut plan = Plan {
            scenario,
            digest,
            keys,
            median_ms,
            first_draws,
            facts: scenario
                .steps
                .iter()
                .map(|s| Facts {
                    parent: s.parent,
                    children: s.children.len() as u32,
                    leaf: !s.is_group(),
                    replication: s.replication,
                    finish_lag: match s.work {
                        Work::Group { finish_lag } => finish_lag.as_ms(),
                        Work::Leaf(_) => 0,
                    },
                    begins: s.downtime == Some(DowntimeMark::Begins),
                    ends: s.downtime == Some(DowntimeMark::Ends),
                    effects: !s.data.is_empty() || s.replication.is_some(),
                    gated: !s.needs.is_empty() || s.not_before.is_some(),
                })
                .collect(),
            leaf_end: scenario.steps.iter().flat_map(|s| [false, !s.is_group()]).collect(),
            n_waits,
            on_start: Csr::build(n, starts),
            on_end: Csr::build(n, ends),
            incoming,
            edge_source,
            n_edges: edge as usize,
            sites: Csr::build(n, sites),
            odds: scenario.faults.iter().map(|f| Odds { probability: f.probability, at: f.at }).collect(),
            site_keys,
            n_roots: scenario.roots.len() as u32,
            graph: Graph::new(&scenario.steps),
            straight: None,
            actuals: None,
            shared: Shared { ranged, ..Shared::new(scenario) },
            rep: scenario.replication.as_ref().map(|rep| {
                let tables = &scenario.database.tables;
                RepPlan {
                    snapshot: scenario
                        .steps
                        .iter()
                        .position(|s| s.replication == Some(Role::Snapshot))
                        .expect("validated: a replication has its snapshot step"),
                    publications: rehearse_core::replication::publication_tables(tables, rep.publishers),
                    changing: (0..tables.len())
                        .filter(|t| tables[*t].primary_key && tables[*t].changes_per_hour > 0)
                        .map(|t| (t, tables[t].changes_per_hour))
                        .collect(),
                    no_pk: (0..tables.len()).filter(|t| !tables[*t].primary_key).collect(),
                }
            }),
        };
        plan.straight = straight::StraightPlan::new(&plan);
        plan
    }

    pub fn scenario(&self) -> &'s Scenario {
        self.scenario
    }

    /// The plan run from what has happened: finished steps at their actual
    /// times, running steps for at least the time they have run, nothing
    /// else starting before `now` (see [`crate::actuals`]).
    ///
    /// # Errors
    /// Actuals that contradict themselves or do not fit the plan.
    pub fn with_actuals(mut self, actuals: crate::actuals::Actuals) -> Result<Plan<'s>, crate::actuals::ActualsError> {
        actuals.check(self.scenario)?;
        let conditional = (0..self.scenario.steps.len())
            .map(|i| {
                let (Some(start), None) = (actuals.started_ms[i], actuals.done_ms[i]) else { return None };
                let rehearse_core::scenario::Work::Leaf(d) = &self.scenario.steps[i].work else { return None };
                match (&d.base, &d.per_gb, &d.per_million_rows) {
                    (Some(base), None, None) => {
                        rehearse_core::conditional::Conditional::new(base, actuals.now_ms.saturating_sub(start))
                    }
                    _ => None,
                }
            })
            .collect();
        let sc = self.scenario;
        let strikes: Vec<Vec<crate::actuals::Strike>> =
            (0..sc.steps.len()).map(|i| actuals.strikes_on(StepIdx(i as u32)).copied().collect()).collect();
        let at_least = (0..sc.steps.len())
            .map(|i| match (&sc.steps[i].work, strikes[i].is_empty()) {
                (Work::Leaf(d), false) => match (&d.base, &d.per_gb, &d.per_million_rows) {
                    (Some(base), None, None) => rehearse_core::conditional::Conditional::new(base, 0),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let ending_step = sc.steps.iter().position(|s| s.downtime == Some(DowntimeMark::Begins)).unwrap_or(0);
        self.straight = None; // the engine's start and duration rules apply
        self.actuals = Some(Forecasting { actuals, conditional, strikes, at_least, ending_step });
        Ok(self)
    }

    pub fn digest(&self) -> ScenarioDigest {
        self.digest
    }

    /// Every (fault, step) site, in fault file order.
    pub fn n_sites(&self) -> usize {
        self.site_keys.len()
    }
}
