//! Runs in which nothing goes wrong, or a few steps need another try,
//! computed straight through.
//!
//! Most Monte Carlo runs see no fault strike. Such a run has no choices in
//! it: every step starts once, as soon as its dependencies allow, and runs
//! for its first drawn duration. Its times are then a longest-path sum over
//! the plan in dependency order, with no agenda, no events and no recovery
//! bookkeeping, and its critical path follows from the same tie rules the
//! engine applies (see `Simulator::release`).
//!
//! Whether a run is one of them is known before any time is computed: a
//! fault site's decision to fire on a step's first attempt comes from its
//! own stream, which does not depend on time. A run in which faults strike
//! a few steps, each time resumed or retried, is as simple: what waits on
//! a struck step waits for its first start, which a retry does not move,
//! or for its end, so the step just lasts longer, from its first start to
//! the end of its last attempt (worked out by the engine's own functions,
//! see `Simulator::tried_again`; each step's attempts depend on its own
//! draws and recoveries only), and the strikes are recorded in the order
//! they strike. A strike that reruns part of the plan is followed too,
//! when the rerun's shape fixes what it resets (see [`Rerun`]) and any
//! other struck step is tried again outside what it runs again: the run
//! is the first attempts' times (the steps tried again lasting from their
//! first start to their end), then
//! the rerun part's times again from when the rerun begins, as many times
//! as it is rerun. A persistent fault counts as plain when its recovery
//! has a fix (which clears it before the next attempt). When sites on
//! more steps fire, a recovery does more than try again, a fault strikes a
//! step with data effects in a plan without the replication (part of its
//! work stays done), or the plan has something this shortcut does not
//! model (go/no-go rules, resources, downtime marks whose order is not
//! fixed by the plan), the run goes through the engine as usual. Data
//! effects otherwise show in a silent run only as the events they add, a
//! count fixed per step; with the replication, as the events the engine's
//! own data functions add when the run's moments are met in time order
//! (see [`StraightRep`]). The result is the same [`RunSummary`] the
//! engine writes, field for field: differential tests hold the two to it
//! over every bundled scenario and plans made to reach every case.

use rehearse_core::event::{Mode, Outcome};
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::{DowntimeMark, Work};
use rehearse_core::time::SimTime;

use crate::SimError;

use super::path::{self, committed_path};
use super::plan::{Csr, Edge, Node, Site};
use super::sites::SiteDraws;
use super::{FaultMode, Plan, RunOptions, Simulator, emit};
use crate::rng;
use crate::summary::{RunSummary, StepTiming};

mod again;
mod replication;
mod rerun;
use again::{Again, Retried, Struck};
pub(super) use replication::Moment;
use replication::StraightRep;
use rerun::Rerun;

/// What a plan needs for straight runs, compiled once.
#[derive(Debug)]
pub(super) struct StraightPlan {
    /// Every node (`2i` a step's start, `2i + 1` its end) after the nodes it
    /// waits on, with how its time is found.
    order: Vec<(Node, Rule)>,
    /// The starts' incoming edges, for their `Rule::Start` ranges, each
    /// start's by ascending edge id: (edge, source node, lag).
    into: Vec<(Edge, Node, u64)>,
    /// Sub-steps' end nodes, for the groups' `Rule::Group` ranges.
    children: Vec<Node>,
    /// The fault sites on leaf steps: (site, step, fault, its probability).
    sites: Vec<(Site, usize, FaultIdx, f64)>,
    /// The step whose start opens the downtime, and the one whose end
    /// closes it.
    begins: Option<usize>,
    ends: Option<usize>,
    /// Downtime events in a straight run (a begin, and an end after it).
    downtime_marks: u64,
    /// Events in a straight run in which no fault strikes.
    n_events: u64,
    /// Of them, the events the steps' data effects add.
    effect_events: u64,
    /// The reruns a straight run can follow (see [`Rerun`]).
    reruns: Vec<Rerun>,
    /// The plan's replication (see [`StraightRep`]).
    rep: Option<StraightRep>,
}

/// How a node's time is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// A start: the latest of its incoming edges (`into[from..to]`).
    Start { from: u32, to: u32 },
    /// A start with one incoming edge, from the node just before it in
    /// the order: that node's time plus `lag`. (The pass keeps the last
    /// time in a register: most of a plan is a chain, and a time read
    /// back from memory just after it was written waits on the write.)
    StartNext { lag: u32 },
    /// A leaf's end: its start plus its duration.
    Leaf,
    /// A leaf's end right after its start in the order.
    LeafNext,
    /// A group's end: the latest of its sub-steps' ends (`children[from..to]`)
    /// plus its finish lag (the plan's `Facts`: kept out of here, a rule is
    /// 12 bytes and an entry of `order` 16, which the pass reads whole on
    /// every run).
    Group { from: u32, to: u32 },
}

impl StraightPlan {
    /// `None` when the plan has what straight runs do not model.
    pub(super) fn new(plan: &Plan<'_>) -> Option<StraightPlan> {
        let sc = plan.scenario;
        // (A go/no-go rule ends a run that is late: the engine's to decide.)
        // (Resources and slots make a step wait for more than its
        // dependencies: the engine's agenda orders that.)
        // (Data effects are modelled: in a run that sees no fault strike a
        // step with them, they show in a silent run only as the events they
        // add, the same for every run; see `effect_events`.)
        // (The replication is modelled too: see `StraightRep`.)
        if !sc.decisions.is_empty() || plan.shared.gates() {
            return None;
        }
        let n = sc.steps.len();
        let marked = |m: DowntimeMark| {
            let mut it = (0..n).filter(move |i| sc.steps[*i].downtime == Some(m));
            match (it.next(), it.next()) {
                (first, None) => Some(first),
                _ => None,
            }
        };
        let (begins, ends) = (marked(DowntimeMark::Begins)?, marked(DowntimeMark::Ends)?);

        // The plan's edges by target, ids ascending: (target, (edge, source node, lag)).
        let mut pairs = Vec::new();
        for source in 0..n {
            for (csr, node) in [(&plan.on_start, Node::start(source)), (&plan.on_end, Node::end(source))] {
                pairs.extend(csr.of(source).iter().map(|&(edge, target, lag)| (target as usize, (edge, node, lag))));
            }
        }
        // (By edge id here; `Csr::build` keeps that order within a target.)
        pairs.sort_unstable_by_key(|p| p.1.0);
        // The node graph: what each node lets go on.
        let mut next: Vec<Vec<Node>> = vec![Vec::new(); 2 * n];
        for &(target, (_, node, _)) in &pairs {
            next[node.index()].push(Node::start(target));
        }
        for (i, s) in sc.steps.iter().enumerate() {
            if plan.facts[i].leaf {
                next[Node::start(i).index()].push(Node::end(i));
            } else {
                for c in &s.children {
                    next[Node::end(c.index()).index()].push(Node::end(i));
                }
            }
        }
        let mut waiting = vec![0u32; 2 * n];
        for targets in &next {
            for t in targets {
                waiting[t.index()] += 1;
            }
        }
        // Depth first: the node last made ready goes next (a leaf's end
        // right after its start, a chain link by link), so that most nodes
        // follow the one they wait on (see `Rule::StartNext`).
        let mut ready: Vec<Node> =
            (0..n).rev().flat_map(|i| [Node::end(i), Node::start(i)]).filter(|v| waiting[v.index()] == 0).collect();
        let mut order = Vec::with_capacity(2 * n);
        while let Some(v) = ready.pop() {
            order.push(v);
            for &t in &next[v.index()] {
                waiting[t.index()] -= 1;
                if waiting[t.index()] == 0 {
                    ready.push(t);
                }
            }
        }
        if order.len() != 2 * n {
            return None; // a cycle (validation rules it out)
        }
        // With both marks, the downtime's end must come after its start in
        // every run (by a chain of dependencies), or the order of the two
        // events, and with it the downtime, depends on the times.
        if let (Some(b), Some(e)) = (begins, ends)
            && !reaches(&next, Node::start(b), Node::end(e))
        {
            return None;
        }
        let downtime_events = u64::from(begins.is_some()) + u64::from(begins.is_some() && ends.is_some());
        let effect_events_all: u64 =
            sc.steps.iter().map(|s| emit::effect_events(&s.data, sc.database.tables.len() as u64)).sum();
        let mut children = Vec::new();
        let into_step = Csr::build(n, pairs);
        let mut into = Vec::new();
        let mut prev = None;
        let order: Vec<(Node, Rule)> = order
            .into_iter()
            .map(|v| {
                let i = v.step();
                let step = &sc.steps[i];
                let rule = match &step.work {
                    _ if !v.is_end() => {
                        // An edge that a later one always matches or
                        // passes never decides the start (ties go to the
                        // later): left out. Such is a sub-step's edge from
                        // its parent's start beside one from a sibling.
                        let edges = into_step.of(i);
                        let from = into.len() as u32;
                        into.extend(
                            edges
                                .iter()
                                .enumerate()
                                .filter(|(k, e)| !edges[k + 1..].iter().any(|d| dominates(sc, d, e)))
                                .map(|(_, e)| *e),
                        );
                        Rule::Start { from, to: into.len() as u32 }
                    }
                    Work::Leaf(_) => Rule::Leaf,
                    Work::Group { .. } => {
                        let from = children.len() as u32;
                        children.extend(step.children.iter().map(|c| Node::end(c.index())));
                        Rule::Group { from, to: children.len() as u32 }
                    }
                };
                (v, next_rule(rule, v, prev.replace(v), &into))
            })
            .collect();
        // With the replication, the data model's events depend on the
        // times: a run's are counted (see `StraightRep`).
        let (rep, effect_events) = match sc.replication {
            Some(_) => (Some(StraightRep::new(plan, &order)?), 0),
            None => (None, effect_events_all),
        };
        let reruns = Rerun::all(plan, &next, &order, rep.as_ref().map(|r| r.caught_up_end));
        // Sites on groups never fire (the engine draws none for them).
        let sites = (0..n)
            .filter(|i| plan.facts[*i].leaf)
            .flat_map(|i| plan.sites.of(i).iter().map(move |&(site, f)| (site, i, f, plan.odds[f.index()].probability)))
            .collect();
        Some(StraightPlan {
            order,
            into,
            children,
            sites,
            begins,
            ends,
            downtime_marks: downtime_events,
            n_events: emit::plain_run_events(n, downtime_events, 0) + effect_events,
            effect_events,
            reruns,
            rep,
        })
    }

    /// The nodes' causes where the plan fixes them (`None` elsewhere, and
    /// where a run's times decide them): a `Next` rule's node is caused
    /// by the node before it in the order, a leaf's end by its start.
    /// `node_times` writes only the others, so these are set once per
    /// simulator and kept.
    pub(super) fn fixed_causes(&self) -> Vec<Option<Node>> {
        let mut cause = vec![None; self.order.len()];
        let mut prev = None;
        for &(v, rule) in &self.order {
            cause[v.index()] = match rule {
                Rule::StartNext { .. } | Rule::LeafNext => prev,
                Rule::Leaf => Some(Node::start(v.step())),
                Rule::Start { .. } | Rule::Group { .. } => None,
            };
            prev = Some(v);
        }
        cause
    }
}

/// Whether incoming edge `later` (declared after `edge`) is due no earlier
/// than `edge` in every run: its lag is no shorter, and it comes from the
/// same node, or `edge` comes from a step's start and `later` from a step
/// under it (which starts no earlier: sub-steps wait on their parent's
/// start, and an end is no earlier than its start).
fn dominates(sc: &rehearse_core::Scenario, later: &(Edge, Node, u64), edge: &(Edge, Node, u64)) -> bool {
    let (&(_, s2, l2), &(_, s1, l1)) = (later, edge);
    let under = || {
        let mut up = sc.steps[s2.step()].parent;
        while let Some(p) = up {
            if p.index() == s1.step() {
                return true;
            }
            up = sc.steps[p.index()].parent;
        }
        false
    };
    l2 >= l1 && (s2 == s1 || !s1.is_end() && under())
}

/// Whether node `b` waits, by a chain of dependencies, on node `a`
/// (`next`: what each node lets go on).
fn reaches(next: &[Vec<Node>], a: Node, b: Node) -> bool {
    let mut seen = vec![false; next.len()];
    let mut stack = vec![a];
    while let Some(v) = stack.pop() {
        if v == b {
            return true;
        }
        if !std::mem::replace(&mut seen[v.index()], true) {
            stack.extend(&next[v.index()]);
        }
    }
    false
}

/// `rule` for node `v`, which follows `prev` in an order: the `Next`
/// form when what it waits on is `prev`, else `rule` as it is.
fn next_rule(rule: Rule, v: Node, prev: Option<Node>, into: &[(Edge, Node, u64)]) -> Rule {
    match rule {
        Rule::Start { from, to } if to == from + 1 => {
            let (_, source, lag) = into[from as usize];
            match u32::try_from(lag) {
                Ok(lag) if prev == Some(source) => Rule::StartNext { lag },
                _ => rule,
            }
        }
        Rule::Leaf if prev == Some(Node::start(v.step())) => Rule::LeafNext,
        _ => rule,
    }
}

impl Simulator<'_, '_> {
    /// `straight_drawn` for a new run (the tests' way in).
    #[cfg(test)]
    pub(super) fn straight(&mut self, opts: &RunOptions, summary: &mut RunSummary) -> Result<bool, SimError> {
        self.first_drawn = false; // a new run
        self.straight_drawn(opts, summary)
    }

    /// Runs `opts` straight through when no fault strikes it, or when the
    /// faults that strike a few steps only make each try again (see
    /// `tried_again`), or those on one step rerun part of the plan (see
    /// [`Rerun`]), writing
    /// the summary the engine would. Returns false when the run needs the
    /// engine, which then writes the whole summary. The first attempts'
    /// durations are those drawn already when `first_drawn` (see
    /// `run_again_into`).
    ///
    /// # Errors
    /// The data model's, resetting it.
    pub(super) fn straight_drawn(&mut self, opts: &RunOptions, summary: &mut RunSummary) -> Result<bool, SimError> {
        let plan = self.plan;
        let Some(sp) = &plan.straight else { return Ok(false) };
        let sc = plan.scenario;
        let n = sc.steps.len();
        if sp.n_events > opts.limits.max_events {
            return Ok(false);
        }
        // Data effects are left out only of the memory model, which no one
        // reads after a silent run; another model (SQLite) is written.
        if (sp.effect_events > 0 || sp.rep.is_some()) && self.backend.name() != "memory" {
            return Ok(false);
        }
        let random = match (opts.mode, &opts.faults) {
            (_, FaultMode::Scripted(_) | FaultMode::Swarm) => return Ok(false),
            (Mode::Median, _) => false,
            (Mode::Random, _) => true,
        };
        // Would any site fire on a first attempt? (The engine draws the same
        // numbers when the step starts.) The struck steps (a few at most:
        // more are left to the engine).
        let mut struck = Struck::default();
        if random {
            let fault_base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::Fault);
            for &(site, i, f, probability) in &sp.sites {
                if let FaultMode::Without(off) = &opts.faults
                    && *off == f
                {
                    continue;
                }
                if SiteDraws::new(fault_base, plan.site_keys[site.index()], 1).fire() < probability {
                    // Part of the work stays done: the engine's, unless the
                    // run meets the data model anyway (the replication, see
                    // `StraightRep`).
                    if plan.facts[i].effects && sp.rep.is_none() {
                        return Ok(false);
                    }
                    if !struck.add(i) {
                        return Ok(false);
                    }
                }
            }
        }
        // Durations first, as a batch, apart from the pass that adds them up.
        self.draw_first(opts);
        summary.injected.clear();
        summary.recoveries.clear();
        summary.ending_began = None;
        // Each struck step, from its first start to its end, and its
        // attempts; and the rerun one struck step's strikes may call for,
        // and how many times.
        let (mut retried, mut rerun) = (Retried::default(), None::<(&Rerun, u32)>);
        let mut rerun_of = None;
        // The distribution agent's apply time drawn with the snapshot.
        let mut apply = 0.0;
        // (What `tried_again` records for the replay and the wait.)
        self.strikes.clear();
        self.restarts.clear();
        for &i in struck.steps() {
            match self.tried_again(i, opts, summary) {
                Some(Again::Tried(ms, attempts)) => retried.push((i, ms, attempts)),
                Some(Again::Rerun(r)) if rerun_of.is_none() => rerun_of = Some(&sp.reruns[r]),
                _ => return Ok(false),
            }
        }
        // (A step tried again inside the rerun would be done again: the
        // engine's.)
        if let Some(r) = rerun_of
            && retried.all().iter().any(|&(j, ..)| r.holds(j))
        {
            return Ok(false);
        }
        let tried_strikes = self.strikes.len();
        // Node times and causes, in dependency order.
        // The struck step lasts from its first start to its end (its first
        // attempt's length is put back below: the engine may need it).
        let mut first_ms = [0; Struck::MAX];
        for (k, &(i, ms, _)) in retried.all().iter().enumerate() {
            first_ms[k] = std::mem::replace(&mut self.first_ms[i], ms);
        }
        let followed = match (rerun_of, &sp.rep) {
            (Some(r), _) => match self.rerun_times(r, opts, summary, retried.all()) {
                Some((reruns, rerun_apply)) => {
                    (rerun, apply) = (Some((r, reruns)), rerun_apply);
                    true
                }
                None => false,
            },
            (None, None) => {
                let durations = if random { &self.first_ms } else { &plan.median_ms };
                node_times(plan, &sp.order, durations, NOTHING_BEFORE, &mut self.node_ms, &mut self.node_cause);
                true
            }
            (None, Some(r)) => {
                apply = self.replicated_node_times(r, &sp.order, opts, retried.all());
                true
            }
        };
        for (k, &(i, ..)) in retried.all().iter().enumerate() {
            self.first_ms[i] = first_ms[k];
        }
        if !followed {
            return Ok(false);
        }
        self.strikes_in_run_time(tried_strikes);
        // Strikes on several steps: recorded in the order they strike
        // (the engine's), unless two strike at once (its agenda's order).
        if retried.all().len() + usize::from(rerun.is_some()) > 1 && !self.strikes_in_time_order(summary) {
            return Ok(false);
        }
        let data_events = match &sp.rep {
            None => sp.effect_events,
            Some(r) => match self.replicated_events(r, apply)? {
                Some(events) => events,
                None => return Ok(false),
            },
        };
        let t = &self.node_ms;
        let cause = &self.node_cause;
        let end = |i: usize| t[Node::end(i).index()];
        let now = sc.roots.iter().map(|r| end(r.index())).max().unwrap_or(0);
        // (Each rerun's strike is counted with the rerun's events.)
        let reruns = rerun.map_or(0, |(_, reruns)| reruns);
        let tried_injections = summary.injected.len() - reruns as usize;
        let n_events = emit::plain_run_events(n, sp.downtime_marks, tried_injections)
            + rerun.map_or(0, |(r, reruns)| u64::from(reruns) * r.events)
            + data_events;
        if now > opts.limits.max_time.as_ms() || n_events > opts.limits.max_events {
            return Ok(false); // the engine reports which step ran past it
        }

        summary.downtime_intervals.clear();
        let mut downtime_open = false;
        if let Some(b) = sp.begins {
            let close = match sp.ends {
                Some(e) => end(e),
                None => now,
            };
            downtime_open = sp.ends.is_none();
            summary.downtime_intervals.push((SimTime(t[Node::start(b).index()]), SimTime(close)));
        }
        summary.steps.clear();
        summary.steps.extend(t.chunks_exact(2).map(|se| StepTiming { start: SimTime(se[0]), end: SimTime(se[1]) }));
        summary.attempts.clear();
        summary.attempts.resize(n, 1);
        for &(i, _, attempts) in retried.all() {
            summary.attempts[i] = attempts;
        }
        if let Some((r, reruns)) = rerun {
            // A step started again keeps its first start.
            for (&j, &start) in r.again.iter().zip(&self.first_start) {
                summary.steps[j].start = SimTime(start);
                summary.attempts[j] = reruns + 1;
            }
            // (The failed step's strikes resumed or retried count too.)
            summary.attempts[r.failed] =
                summary.injected.iter().filter(|s| s.step.index() == r.failed).count() as u32 + 1;
        }
        summary.critical_path.clear();
        committed_path(plan, now, end, |v| cause[v.index()], &mut summary.critical_path);
        super::finish_summary(summary, plan, opts, Outcome::Committed, now, downtime_open, n_events);
        // The data model as it began (the engine would leave a plan's data
        // effects in it; nothing reads it after a silent run, and the
        // next run resets it). With the replication, it is as the engine
        // leaves it already: the run met the data model as the engine does.
        if sp.rep.is_none() {
            self.backend.reset(sc)?;
        }
        Ok(true)
    }

    /// In debug builds, a straight run is run again through the engine and
    /// the two summaries must be equal: every debug run with a silent sink
    /// is a differential test of the shortcut.
    #[cfg(debug_assertions)]
    pub(super) fn shadow(&mut self, opts: &RunOptions, summary: &RunSummary) {
        let mut engine = RunSummary::blank(opts, self.plan.digest);
        if let Err(e) = self.run_engine(opts, &mut crate::NullSink, &mut engine) {
            panic!("a straight run failed in the engine: {e}");
        }
        assert_eq!(&engine, summary, "a straight run and the engine's disagree (seed {}, run {})", opts.seed, opts.run);
    }

    #[cfg(not(debug_assertions))]
    #[inline]
    pub(super) fn shadow(&mut self, _: &RunOptions, _: &RunSummary) {}
}

/// `node_times` from the start of the order: the first node waits on
/// nothing, so no `Next` rule reads this.
const NOTHING_BEFORE: (Node, u64) = (Node::FIRST, 0);

/// The nodes' times and causes, `entries` in dependency order, leaves
/// lasting `durations`; `before` is the node before the first entry and
/// its time (for a `Next` rule there: see `Rule::StartNext`). Only the
/// causes a run's times decide are written: `cause` holds the others from
/// the start (see [`StraightPlan::fixed_causes`]), a store per node saved.
#[inline]
fn node_times(
    plan: &Plan<'_>,
    entries: &[(Node, Rule)],
    durations: &[u64],
    before: (Node, u64),
    t: &mut [u64],
    cause: &mut [Option<Node>],
) {
    let sp = plan.straight.as_ref().expect("a straight plan");
    let (mut prev, mut last) = before;
    for &(v, rule) in entries {
        // (The causes the plan fixes are in `cause` already: see
        // `StraightPlan::fixed_causes`.)
        let at = match rule {
            Rule::StartNext { lag } => {
                debug_assert_eq!(cause[v.index()], Some(prev));
                last + u64::from(lag)
            }
            Rule::LeafNext => {
                debug_assert_eq!(cause[v.index()], Some(prev));
                last + durations[v.step()]
            }
            Rule::Leaf => {
                let start = Node::start(v.step());
                debug_assert_eq!(cause[v.index()], Some(start));
                t[start.index()] + durations[v.step()]
            }
            Rule::Start { from, to } => {
                let (mut at, mut by, mut edge) = (0u64, None, None);
                for &(e, source, lag) in &sp.into[from as usize..to as usize] {
                    let due = t[source.index()] + lag;
                    debug_assert!(edge.is_none_or(|best| e > best), "incoming edges in declaration order");
                    if path::later_in_order(due, at) {
                        (at, by, edge) = (due, Some(source), Some(e));
                    }
                }
                cause[v.index()] = by;
                at
            }
            Rule::Group { from, to } => {
                let (mut at, mut by) = (0u64, None);
                for &child in &sp.children[from as usize..to as usize] {
                    let end = t[child.index()];
                    if path::later(end, child, at, by) {
                        (at, by) = (end, Some(child));
                    }
                }
                cause[v.index()] = by;
                at + plan.facts[v.step()].finish_lag
            }
        };
        t[v.index()] = at;
        (prev, last) = (v, at);
    }
}

#[cfg(test)]
mod tests {
    use rehearse_core::event::Mode;
    use rehearse_core::fault::{Action, FaultIdx};
    use rehearse_core::scenario::Scenario;
    use rehearse_core::time::SimDuration;

    use crate::engine::{FaultMode, Injection, Limits, Plan, RunOptions, Simulator};
    use crate::summary::RunSummary;
    use crate::{MemorySink, NullSink, SimError};

    fn bundled() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files.iter().map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap())).collect()
    }

    /// The engine's run (its sink takes events, so no shortcut is taken).
    fn engine(sim: &mut Simulator<'_, '_>, opts: &RunOptions) -> Result<RunSummary, SimError> {
        sim.run(opts, &mut MemorySink::new())
    }

    /// `opts` run through the engine on `a` and straight on `b`: the
    /// engine's summary, and the straight one when the run went straight.
    fn side_by_side(
        a: &mut Simulator<'_, '_>,
        b: &mut Simulator<'_, '_>,
        opts: &RunOptions,
    ) -> (RunSummary, Option<RunSummary>) {
        let want = engine(a, opts).unwrap();
        let mut got = RunSummary::blank(opts, want.scenario);
        let took = b.straight(opts, &mut got).unwrap();
        (want, took.then_some(got))
    }

    /// The pass reads `order` whole on every run: an entry is 16 bytes.
    #[test]
    fn an_order_entry_is_16_bytes() {
        assert_eq!(std::mem::size_of::<(super::Node, super::Rule)>(), 16);
    }

    /// Every straight run equals the engine's, field for field; a run goes
    /// straight exactly when no fault strikes it or the faults strike one
    /// step and it is tried again each time (resumed or retried) or rerun
    /// in a shape straight runs follow, with no unknown outcome and no
    /// persistent fault left in place; and going through `run_into`
    /// with a silent sink gives the same summaries.
    #[test]
    fn straight_runs_are_the_engines_runs() {
        let (mut straight_runs, mut tried_again, mut rerun, mut not_plain) = (0, 0, 0, 0);
        // Straight runs with the replication struck on a step with data
        // effects, and on the snapshot (started again).
        let (mut data_struck, mut snapshot_again) = (0, 0);
        let mut several_steps = 0;
        // Straight reruns of a step with data effects, with the replication.
        let mut rerun_replicated = 0;
        // Straight runs with a rerun and other steps tried again; with a
        // rerun, then the failed step resumed or retried.
        let (mut rerun_and_again, mut rerun_resumed) = (0, 0);
        let mut eligible = Vec::new();
        for (path, text) in bundled() {
            let sc = Scenario::parse(&text, &path).unwrap();
            let plan = Plan::new(&sc, crate::digest(&text));
            if plan.straight.is_none() {
                continue;
            }
            eligible.push(path.clone());
            let mut modes = vec![(Mode::Random, FaultMode::Probabilistic), (Mode::Median, FaultMode::Probabilistic)];
            modes.extend((0..sc.faults.len()).map(|f| (Mode::Random, FaultMode::Without(FaultIdx(f as u32)))));
            let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
            let mut quiet = RunSummary::blank(&RunOptions::new(0, Mode::Random), plan.digest());
            for (mode, faults) in modes {
                let runs = if mode == Mode::Median { 1 } else { 300 };
                for run in 0..runs {
                    let opts = RunOptions { seed: 11, run, mode, faults: faults.clone(), limits: Limits::default() };
                    let (want, got) = side_by_side(&mut a, &mut b, &opts);
                    let took = got.is_some();
                    let one_step = want.injected.iter().all(|s| s.step == want.injected[0].step);
                    let only_again = want.recoveries.iter().all(|r| matches!(r.2, Action::Retry | Action::Resume));
                    // Reruns of a shape straight runs follow (see `Rerun`),
                    // each from the same step.
                    let from =
                        |p: Option<_>| p.and_then(|p: rehearse_core::fault::PolicyIdx| sc.policies[p.index()].from);
                    let followed = want.injected.first().is_some_and(|s| {
                        let f = &sc.faults[s.fault.index()];
                        let from = from(Some(f.recovery)).unwrap_or(s.step).index();
                        plan.straight
                            .as_ref()
                            .unwrap()
                            .reruns
                            .iter()
                            .any(|r| (r.from, r.failed) == (from, s.step.index()))
                    });
                    // (After the first rerun, strikes on the failed step may
                    // be resumed or retried too.)
                    let after_rerun = |r: &[(FaultIdx, rehearse_core::scenario::StepIdx, Action)]| {
                        r.first().is_some_and(|r| r.2 == Action::Rerun)
                            && r.iter().all(|r| matches!(r.2, Action::Rerun | Action::Resume | Action::Retry))
                    };
                    let only_rerun = followed && after_rerun(&want.recoveries);
                    rerun_resumed +=
                        usize::from(only_rerun && one_step && want.recoveries.iter().any(|r| r.2 != Action::Rerun));
                    // No unknown outcome, no persistent fault left in place
                    // (a recovery with a fix clears it).
                    let plain = want.injected.iter().all(|s| {
                        let fault = &sc.faults[s.fault.index()];
                        let policy =
                            crate::engine::recovery::resolve(&sc, fault.recovery, s.attempt, 0, |_| false).policy;
                        let cleared = policy.is_some_and(|p| sc.policies[p.index()].fix.is_some());
                        !fault.unknown_outcome && (!fault.persistent || cleared)
                    });
                    // A strike on a step with data effects is the
                    // engine's, unless the plan has the replication (see
                    // `StraightRep`), and then one on the caught-up wait
                    // (its length depends on when it starts).
                    let no_effects = want.injected.iter().all(|s| {
                        let step = &sc.steps[s.step.index()];
                        match sc.replication {
                            None => step.data.is_empty(),
                            Some(_) => step.replication != Some(rehearse_core::replication::Role::CaughtUp),
                        }
                    });
                    // Strikes on several steps (a few at most), each tried
                    // again.
                    let mut steps: Vec<_> = want.injected.iter().map(|s| s.step).collect();
                    steps.sort_unstable();
                    steps.dedup();
                    let several = steps.len() > 1 && steps.len() <= 4 && only_again;
                    // Or one of them rerun (a shape followed, every strike
                    // on it a rerun), the others tried again outside what
                    // the rerun runs again.
                    let rerun_steps: Vec<_> = steps
                        .iter()
                        .filter(|&&j| want.recoveries.iter().any(|r| r.1 == j && r.2 == Action::Rerun))
                        .collect();
                    let mixed = steps.len() > 1 && steps.len() <= 4 && rerun_steps.len() == 1 && {
                        let failed = *rerun_steps[0];
                        let first = want.injected.iter().find(|s| s.step == failed).unwrap();
                        let from = from(Some(sc.faults[first.fault.index()].recovery)).unwrap_or(failed).index();
                        let mut under = vec![from];
                        let mut k = 0;
                        while k < under.len() {
                            under.extend(sc.steps[under[k]].children.iter().map(|c| c.index()));
                            k += 1;
                        }
                        let compiled = plan
                            .straight
                            .as_ref()
                            .unwrap()
                            .reruns
                            .iter()
                            .any(|r| (r.from, r.failed) == (from, failed.index()));
                        let on_failed: Vec<_> = want.recoveries.iter().copied().filter(|r| r.1 == failed).collect();
                        compiled
                            && after_rerun(&on_failed)
                            && want
                                .recoveries
                                .iter()
                                .all(|r| r.1 == failed || matches!(r.2, Action::Retry | Action::Resume))
                            && steps.iter().all(|j| *j == failed || !under.contains(&j.index()))
                    };
                    assert_eq!(
                        took,
                        (one_step && (only_again || only_rerun) || several || mixed) && plain && no_effects,
                        "{path} run {run}: {:?}",
                        want.recoveries
                    );
                    not_plain += usize::from(one_step && only_again && !plain);
                    if let Some(got) = got {
                        straight_runs += 1;
                        tried_again += usize::from(!want.injected.is_empty() && !only_rerun);
                        rerun += usize::from(only_rerun && !want.injected.is_empty());
                        rerun_replicated += usize::from(
                            only_rerun
                                && sc.replication.is_some()
                                && want.injected.iter().any(|s| !sc.steps[s.step.index()].data.is_empty()),
                        );
                        several_steps += usize::from(several);
                        rerun_and_again += usize::from(mixed);
                        let role = |s: &Injection| sc.steps[s.step.index()].replication;
                        let data = |s: &Injection| !sc.steps[s.step.index()].data.is_empty();
                        data_struck += usize::from(want.injected.iter().any(data));
                        snapshot_again += usize::from(
                            want.injected.iter().any(|s| role(s) == Some(rehearse_core::replication::Role::Snapshot)),
                        );
                        assert_eq!(got, want, "{path} run {run} {mode:?} {faults:?}");
                    }
                    b.run_into(&opts, &mut NullSink, &mut quiet).unwrap();
                    assert_eq!(quiet, want, "{path} run {run} {mode:?} {faults:?} (silent sink)");
                }
            }
        }
        assert!(eligible.iter().any(|p| p.ends_with("ax2012-data-upgrade-dev.toml")), "eligible: {eligible:?}");
        // A plan with data effects (and no replication) goes straight too.
        assert!(eligible.iter().any(|p| p.ends_with("dse-upgrade-2017.toml")), "eligible: {eligible:?}");
        // And one with the toolkit's replication.
        assert!(eligible.iter().any(|p| p.ends_with("ax2012-mock-cutover.toml")), "eligible: {eligible:?}");
        assert!(straight_runs > 1000, "only {straight_runs} straight runs");
        assert!(tried_again > 50, "only {tried_again} straight runs tried a step again");
        assert!(rerun > 50, "only {rerun} straight runs reran part of the plan");
        assert!(not_plain > 10, "only {not_plain} runs struck by a persistent fault or an unknown outcome");
        assert!(data_struck > 50, "only {data_struck} straight runs struck on a step with data effects");
        assert!(snapshot_again > 10, "only {snapshot_again} straight runs started the snapshot again");
        assert!(several_steps > 20, "only {several_steps} straight runs struck on several steps");
        assert!(rerun_replicated > 20, "only {rerun_replicated} straight runs reran a step with data effects");
        assert!(rerun_and_again > 5, "only {rerun_and_again} straight runs reran a step and tried others again");
        assert!(rerun_resumed > 5, "only {rerun_resumed} runs reran a step, then resumed or retried it");
    }

    /// A step tried again and again, resumed or retried, with a budget that
    /// hands over to another policy (`then`), alongside a step started with
    /// it, goes straight as it goes through the engine: its attempts, the
    /// strikes and recoveries in order, the times and the critical path;
    /// and when the last policy's budget is spent, the run is the engine's.
    #[test]
    fn steps_tried_again_go_straight() {
        let text = r#"
[scenario]
name = "again"
[[step]]
id = "a"
duration = { lognormal = { median = "1h", p90 = "2h" } }
[[step]]
id = "b"
after = ["a"]
downtime = "begins"
duration = { pert = ["30m", "1h", "3h"] }
[[step]]
id = "c"
after = ["b"]
duration = "45m"
[[step]]
id = "d"
after = [{ step = "b", from = "start", lag = "20m" }]
duration = { triangular = ["1h", "2h", "6h"] }
[[step]]
id = "e"
after = ["c", "d"]
downtime = "ends"
duration = "5m"
[[fault]]
id = "flaky"
message = "the job timed out"
steps = ["b", "c"]
probability = 0.35
at = [0.2, 0.9]
recovery = "resume"
[[fault]]
id = "crash"
message = "the service stopped"
steps = ["c"]
probability = 0.3
recovery = "retry-then-resume"
[recovery.resume]
action = "resume"
reaction = { triangular = ["5m", "20m", "1h"] }
max_attempts = 3
[recovery.retry-then-resume]
action = "retry"
fix = "10m"
max_attempts = 2
then = "resume"
"#;
        let sc = Scenario::parse(text, "again.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        assert!(plan.straight.is_some());
        let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
        let (mut straight, mut resumed, mut retried, mut handed_over, mut engine_only) = (0, 0, 0, 0, 0);
        for run in 0..3000 {
            let opts = RunOptions { run, ..RunOptions::new(3, Mode::Random) };
            let (want, got) = side_by_side(&mut a, &mut b, &opts);
            if let Some(got) = got {
                assert_eq!(got, want, "run {run}");
                straight += 1;
                resumed += usize::from(want.recoveries.iter().any(|r| r.2 == Action::Resume));
                retried += usize::from(want.recoveries.iter().any(|r| r.2 == Action::Retry));
                handed_over += usize::from(
                    want.injected.iter().any(|s| s.fault.0 == 1 && s.attempt >= 2)
                        && want.recoveries.iter().any(|r| r.0.0 == 1 && r.2 == Action::Resume),
                );
            } else {
                engine_only += 1;
                let steps: Vec<_> = want.injected.iter().map(|s| s.step).collect();
                assert!(
                    steps.windows(2).any(|w| w[0] != w[1]) || want.outcome != rehearse_core::event::Outcome::Committed,
                    "run {run} left to the engine: {:?}",
                    want.recoveries
                );
            }
        }
        assert!(straight > 2000 && engine_only > 50, "straight {straight}, engine {engine_only}");
        assert!(
            resumed > 50 && retried > 50 && handed_over > 5,
            "resumed {resumed} retried {retried} then {handed_over}"
        );
    }

    /// Strikes on several steps go straight as they go through the engine,
    /// recorded in the order they strike, not the order the steps are
    /// declared in: `late` is declared first and runs after `early`, and
    /// `beside` runs alongside it.
    #[test]
    fn strikes_on_several_steps_go_straight_in_time_order() {
        let text = r#"
[scenario]
name = "several"
[[step]]
id = "late"
after = ["early"]
downtime = "ends"
duration = { triangular = ["30m", "1h", "2h"] }
[[step]]
id = "early"
downtime = "begins"
duration = { triangular = ["30m", "1h", "2h"] }
[[step]]
id = "beside"
duration = { triangular = ["30m", "1h", "2h"] }
[[fault]]
id = "f"
message = "it failed"
steps = ["late", "early", "beside"]
probability = 0.5
recovery = "again"
[recovery.again]
action = "retry"
reaction = { triangular = ["5m", "10m", "30m"] }
max_attempts = 6
then = "abort"
[recovery.abort]
action = "abort"
"#;
        let sc = Scenario::parse(text, "several.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
        let (mut several, mut out_of_plan_order) = (0, 0);
        for run in 0..400 {
            let opts = RunOptions { run, ..RunOptions::new(5, Mode::Random) };
            let (want, got) = side_by_side(&mut a, &mut b, &opts);
            assert_eq!(got.is_some(), want.outcome == rehearse_core::event::Outcome::Committed, "run {run}");
            if let Some(got) = got {
                assert_eq!(got, want, "run {run}");
                let steps: Vec<_> = want.injected.iter().map(|s| s.step).collect();
                several += usize::from(steps.iter().any(|s| *s != steps[0]));
                out_of_plan_order += usize::from(!steps.is_sorted());
            }
        }
        assert!(several > 100, "only {several} runs struck on several steps");
        assert!(out_of_plan_order > 50, "only {out_of_plan_order} runs struck out of the steps' order");
    }

    /// With the toolkit's replication started just before the source goes
    /// offline (so the caught-up wait depends on when the snapshot's
    /// latest attempt began), runs go straight as they go through the
    /// engine: the snapshot tried again (the replication begun again), the
    /// validation after the wait tried again, both, or neither.
    #[test]
    fn replication_runs_go_straight() {
        let text = r#"
[scenario]
name = "restart"
[database]
tables = [
  { name = "A", rows = 5_000_000, changes_per_hour = 8_000_000 },
  { name = "B", rows = 1_000_000, changes_per_hour = 2_000_000 },
  { name = "C", rows = 100_000, changes_per_hour = 100, primary_key = false },
]
[replication]
bcp_per_million_rows = { pert = ["2m", "4m", "10m"] }
apply_per_million_changes = { pert = ["10m", "20m", "45m"] }
source_offline = "off"
[[step]]
id = "snap"
replication = "snapshot"
duration = { triangular = ["10m", "20m", "45m"] }
[[step]]
id = "off"
after = [{ step = "snap", from = "start", lag = "30m" }]
downtime = "begins"
duration = { triangular = ["5m", "15m", "30m"] }
[[step]]
id = "nopk"
after = ["off"]
replication = "no-pk-tables"
duration = "10m"
[[step]]
id = "wait"
after = ["snap", "nopk"]
replication = "caught-up"
duration = { triangular = ["5m", "10m", "30m"] }
[[step]]
id = "check"
after = ["wait"]
data = "validate"
downtime = "ends"
duration = "30m"
[[fault]]
id = "stall"
catalog = "snapshot-waiting"
steps = ["snap"]
probability = 0.4
recovery = "again"
[[fault]]
id = "differ"
catalog = "record-counts-differ"
steps = ["check"]
probability = 0.3
recovery = "again"
[recovery.again]
action = "retry"
reaction = "10m"
fix = "5m"
max_attempts = 4
then = "abort"
[recovery.abort]
action = "abort"
"#;
        let sc = Scenario::parse(text, "restart.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        assert!(plan.straight.is_some(), "a plan with the replication goes straight");
        let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
        let (mut restarted, mut checked_again, mut waited) = (0, 0, 0);
        let wait = sc.steps.iter().position(|s| s.id == "wait").unwrap();
        for run in 0..400 {
            let opts = RunOptions { run, ..RunOptions::new(3, Mode::Random) };
            let (want, got) = side_by_side(&mut a, &mut b, &opts);
            assert_eq!(got.is_some(), want.outcome == rehearse_core::event::Outcome::Committed, "run {run}");
            if let Some(got) = got {
                assert_eq!(got, want, "run {run}");
                let on = |id: &str| want.injected.iter().any(|s| sc.steps[s.step.index()].id == id);
                restarted += usize::from(on("snap"));
                checked_again += usize::from(on("check"));
                // The wait outlasts its own longest duration: the backlog.
                waited += usize::from(want.steps[wait].duration() > SimDuration::from_mins(30));
            }
        }
        assert!(restarted > 50, "only {restarted} runs started the snapshot again");
        assert!(checked_again > 50, "only {checked_again} runs validated again");
        assert!(waited > 50, "only {waited} runs waited for a backlog");
    }

    /// Reruns go straight as they go through the engine: a group run again
    /// after a strike on a step inside it (steps done before it, a nested
    /// group around it, a step after it that never started), again and
    /// again within its budget, a persistent fault cleared by the fix, and
    /// a step that reruns itself; a rerun with a step beside the failed one
    /// (what it did by then depends on the times) and a spent budget are
    /// the engine's.
    #[test]
    fn reruns_go_straight() {
        let text = r#"
[scenario]
name = "reruns"
[[step]]
id = "prep"
duration = { lognormal = { median = "1h", p90 = "2h" } }
downtime = "begins"
[[step]]
id = "batch"
after = ["prep"]
[[step]]
id = "config"
parent = "batch"
duration = { pert = ["5m", "10m", "40m"] }
[[step]]
id = "inner"
parent = "batch"
after = ["config"]
[[step]]
id = "start-aos"
parent = "inner"
duration = { triangular = ["1m", "2m", "9m"] }
[[step]]
id = "wait"
parent = "inner"
after = ["start-aos"]
duration = { lognormal = { median = "2h", p90 = "3h" } }
[[step]]
id = "stop"
parent = "batch"
after = ["inner"]
duration = "5m"
[[step]]
id = "side"
after = [{ step = "prep", lag = "10m" }]
duration = { lognormal = { median = "3h", p90 = "5h" } }
[[step]]
id = "sync"
after = ["batch", "side"]
duration = { lognormal = { median = "1h", p90 = "90m" } }
[[step]]
id = "pair"
after = ["sync"]
[[step]]
id = "left"
parent = "pair"
duration = { lognormal = { median = "1h", p90 = "2h" } }
[[step]]
id = "right"
parent = "pair"
duration = { lognormal = { median = "1h", p90 = "2h" } }
downtime = "ends"
[[fault]]
id = "script"
message = "an upgrade script failed"
steps = ["wait"]
probability = 0.3
at = [0.1, 1.0]
persistent = true
recovery = "fix-and-rerun"
[[fault]]
id = "self"
message = "the sync failed"
steps = ["sync"]
probability = 0.2
recovery = "again"
[[fault]]
id = "beside"
message = "the job failed"
steps = ["right"]
probability = 0.2
recovery = "redo-pair"
[recovery.fix-and-rerun]
action = "rerun"
from = "batch"
reaction = { triangular = ["10m", "30m", "2h"] }
fix = { pert = ["30m", "2h", "8h"] }
max_attempts = 3
[recovery.again]
action = "rerun"
from = "sync"
max_attempts = 4
[recovery.redo-pair]
action = "rerun"
from = "pair"
max_attempts = 2
"#;
        let sc = Scenario::parse(text, "reruns.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        let sp = plan.straight.as_ref().unwrap();
        let shapes: Vec<(&str, &str)> =
            sp.reruns.iter().map(|r| (sc.steps[r.from].id.as_str(), sc.steps[r.failed].id.as_str())).collect();
        assert_eq!(shapes, [("batch", "wait"), ("sync", "sync")], "`pair` has `left` beside `right`");
        let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
        let (mut reran, mut twice, mut itself, mut engine_only) = (0, 0, 0, 0);
        for run in 0..4000 {
            let opts = RunOptions { run, ..RunOptions::new(9, Mode::Random) };
            let (want, got) = side_by_side(&mut a, &mut b, &opts);
            let steps: Vec<_> = want.injected.iter().map(|s| sc.steps[s.step.index()].id.as_str()).collect();
            let expected = want.outcome == rehearse_core::event::Outcome::Committed
                && steps.windows(2).all(|w| w[0] == w[1])
                && steps.first().is_none_or(|s| *s != "right");
            assert_eq!(got.is_some(), expected, "run {run}: {:?}", want.recoveries);
            if let Some(got) = got {
                assert_eq!(got, want, "run {run}");
                reran += usize::from(steps.first() == Some(&"wait"));
                twice += usize::from(steps.len() >= 2 && steps[0] == "wait");
                itself += usize::from(steps.first() == Some(&"sync"));
            } else {
                engine_only += 1;
            }
        }
        assert!(reran > 300 && twice > 50 && itself > 300, "reran {reran}, twice {twice}, itself {itself}");
        assert!(engine_only > 300, "engine {engine_only}");
    }

    /// A rerun goes straight beside steps tried again outside what it runs
    /// again, before it (`prep`), beside it (`side`) or after it (`sync`),
    /// the strikes recorded in the order they strike; a step tried again
    /// inside it (`config`, done again by the rerun) leaves the run to the
    /// engine.
    #[test]
    fn a_rerun_beside_steps_tried_again_goes_straight() {
        let text = r#"
[scenario]
name = "rerun and again"
[[step]]
id = "prep"
duration = { lognormal = { median = "1h", p90 = "2h" } }
downtime = "begins"
[[step]]
id = "batch"
after = ["prep"]
[[step]]
id = "config"
parent = "batch"
duration = { pert = ["5m", "10m", "40m"] }
[[step]]
id = "wait"
parent = "batch"
after = ["config"]
duration = { lognormal = { median = "2h", p90 = "3h" } }
[[step]]
id = "side"
after = [{ step = "prep", lag = "10m" }]
duration = { triangular = ["1h", "3h", "5h"] }
[[step]]
id = "sync"
after = ["batch", "side"]
duration = { lognormal = { median = "1h", p90 = "90m" } }
downtime = "ends"
[[fault]]
id = "script"
message = "an upgrade script failed"
steps = ["wait"]
probability = 0.4
at = [0.1, 1.0]
recovery = "fix-and-rerun"
[[fault]]
id = "flaky"
message = "a job failed"
steps = ["prep", "side", "sync", "config"]
probability = 0.25
at = [0.0, 1.0]
recovery = "again"
[recovery.fix-and-rerun]
action = "rerun"
from = "batch"
reaction = { triangular = ["10m", "30m", "2h"] }
fix = { pert = ["30m", "2h", "8h"] }
max_attempts = 3
[recovery.again]
action = "retry"
reaction = { triangular = ["1m", "5m", "20m"] }
max_attempts = 4
"#;
        let sc = Scenario::parse(text, "rerun-and-again.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
        let (mut mixed, mut out_of_order, mut inside) = (0, 0, 0);
        for run in 0..3000 {
            let opts = RunOptions { run, ..RunOptions::new(4, Mode::Random) };
            let (want, got) = side_by_side(&mut a, &mut b, &opts);
            let struck = |id: &str| want.injected.iter().any(|s| sc.steps[s.step.index()].id == id);
            let committed = want.outcome == rehearse_core::event::Outcome::Committed;
            let rerun = want.recoveries.iter().any(|r| r.2 == Action::Rerun);
            if committed && rerun && struck("config") {
                assert!(got.is_none(), "run {run}: a step tried again inside the rerun is the engine's");
                inside += 1;
            }
            let Some(got) = got else { continue };
            assert_eq!(got, want, "run {run}");
            if rerun && (struck("prep") || struck("side") || struck("sync")) {
                mixed += 1;
                // Struck in another order than the steps are declared in.
                let steps: Vec<_> = want.injected.iter().map(|s| s.step).collect();
                out_of_order += usize::from(!steps.is_sorted());
            }
        }
        assert!(mixed > 200 && out_of_order > 25, "mixed {mixed}, in another order than the plan's {out_of_order}");
        assert!(inside > 200, "inside {inside}");
    }

    fn critical(text: &str) -> (Vec<String>, Vec<String>) {
        let sc = Scenario::parse(text, "t.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(text));
        assert!(plan.straight.is_some());
        let opts = RunOptions::new(0, Mode::Median);
        let names = |s: &RunSummary| s.critical_path.iter().map(|i| sc.step(*i).id.clone()).collect::<Vec<_>>();
        let want = engine(&mut Simulator::new(&plan), &opts).unwrap();
        let got = Simulator::new(&plan).run(&opts, &mut NullSink).unwrap();
        (names(&want), names(&got))
    }

    /// Ties on the critical path follow the plan, not the order events
    /// were handled in: of dependencies due at the same millisecond, the
    /// one declared last; of sub-steps ending together, the last declared.
    #[test]
    fn ties_go_to_the_last_declared() {
        let plan = |after: &str| {
            format!(
                "[scenario]\nname = \"t\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n[[step]]\nid = \"b\"\nduration = \"1h\"\n\
                 [[step]]\nid = \"c\"\nafter = {after}\nduration = \"5m\"\n"
            )
        };
        let (engine, straight) = critical(&plan(r#"["a", "b"]"#));
        assert_eq!(engine, ["b", "c"]);
        assert_eq!(straight, engine);
        let (engine, straight) = critical(&plan(r#"["b", "a"]"#));
        assert_eq!(engine, ["a", "c"]);
        assert_eq!(straight, engine);

        let group = "[scenario]\nname = \"t\"\n[[step]]\nid = \"g\"\n[[step]]\nid = \"x\"\nparent = \"g\"\nduration = \"1h\"\n\
                     [[step]]\nid = \"y\"\nparent = \"g\"\nduration = \"1h\"\n[[step]]\nid = \"z\"\nparent = \"g\"\nduration = \"30m\"\n";
        let (engine, straight) = critical(group);
        assert_eq!(engine, ["y"]);
        assert_eq!(straight, engine);
    }

    /// On long plans too, straight runs' critical paths are the engine's
    /// (leaves in groups of 30, each after the two before it, every seventh
    /// of a fixed length so that ties happen).
    #[test]
    fn long_plans_walk_their_critical_paths() {
        let long = |leaves: u32| {
            let mut text = String::from("[scenario]\nname = \"long\"\n");
            for g in 0..leaves.div_ceil(30) {
                text.push_str(&format!("[[step]]\nid = \"g{g}\"\n"));
                if g > 0 {
                    text.push_str(&format!("after = [\"g{}\"]\n", g - 1));
                }
            }
            for k in 0..leaves {
                text.push_str(&format!("[[step]]\nid = \"s{k}\"\nparent = \"g{}\"\n", k / 30));
                if k % 30 > 1 {
                    text.push_str(&format!("after = [\"s{}\", \"s{}\"]\n", k - 2, k - 1));
                }
                text.push_str(if k % 7 == 0 {
                    "duration = \"10m\"\n"
                } else {
                    "duration = { lognormal = { median = \"10m\", p90 = \"15m\" } }\n"
                });
            }
            text
        };
        for leaves in [120, 150] {
            let text = long(leaves);
            let sc = Scenario::parse(&text, "long.toml").unwrap();
            let plan = Plan::new(&sc, crate::digest(&text));
            assert!(plan.straight.is_some(), "a plain plan runs straight");
            let (mut a, mut b) = (Simulator::new(&plan), Simulator::new(&plan));
            for run in 0..40 {
                let opts = RunOptions { run, ..RunOptions::new(5, if run == 0 { Mode::Median } else { Mode::Random }) };
                let want = engine(&mut a, &opts).unwrap();
                let got = b.run(&opts, &mut NullSink).unwrap();
                assert!(want.critical_path.len() > 50, "{leaves} leaves: {:?}", want.critical_path);
                assert_eq!(got, want, "{leaves} leaves, run {run}");
            }
        }
    }

    /// A run past its limits goes through the engine, which says where.
    #[test]
    fn limits_are_the_engines() {
        let (path, text) = bundled().into_iter().find(|(p, _)| p.ends_with("ax2012-data-upgrade-dev.toml")).unwrap();
        let sc = Scenario::parse(&text, &path).unwrap();
        let plan = Plan::new(&sc, crate::digest(&text));
        let n_events = plan.straight.as_ref().unwrap().n_events;
        for limits in [
            Limits { max_events: n_events - 1, ..Limits::default() },
            Limits { max_time: SimDuration(3_600_000), ..Limits::default() },
        ] {
            let opts = RunOptions { limits, ..RunOptions::new(0, Mode::Median) };
            let want = engine(&mut Simulator::new(&plan), &opts).unwrap_err().to_string();
            let got = Simulator::new(&plan).run(&opts, &mut NullSink).unwrap_err().to_string();
            assert_eq!(got, want);
        }
        // At the limit exactly, the run completes.
        let opts = RunOptions {
            limits: Limits { max_events: n_events, ..Limits::default() },
            ..RunOptions::new(0, Mode::Median)
        };
        let want = engine(&mut Simulator::new(&plan), &opts).unwrap();
        assert_eq!(want.n_events, n_events);
        assert_eq!(Simulator::new(&plan).run(&opts, &mut NullSink).unwrap(), want);
    }
}
