//! Reruns that a straight run follows (see [`Rerun`]): which ones, compiled
//! with the plan, and a run's times through them.

use rehearse_core::fault::Action;
use rehearse_core::scenario::StepIdx;

use super::super::plan::Node;
use super::super::{Injection, Plan, RunOptions, Simulator, emit};
use super::{NOTHING_BEFORE, Rule, node_times, reaches};
use crate::rng;
use crate::summary::RunSummary;

/// A rerun that a straight run follows: a strike on `failed` (a leaf at or
/// under `from`) runs `from` and everything under it again. Its shape
/// leaves nothing to the times: what is under `from` either ends before
/// `failed` starts (`before`: done, and done again), or is `failed` and the
/// groups around it down from `from` (running when it strikes), or waits
/// for `failed` to end (it never started, and starts once, after the last
/// rerun); nothing outside waits on anything inside but `from`'s end, and
/// nothing inside on anything outside but `from`'s start. So which steps
/// the rerun resets and abandons is the same in every run, and the only
/// time a rerun changes is `from`'s start. No step under `from` has data
/// effects but, in a plan with the replication, `failed` itself: the
/// replication's replay meets its strikes and its last end (see
/// `StraightRep`), and the rerun begins after the caught-up wait.
#[derive(Debug)]
pub(super) struct Rerun {
    pub(super) from: usize,
    pub(super) failed: usize,
    /// Where `from`'s start is in the plan's order.
    pub(super) from_at: usize,
    /// The nodes under `from` (its end included, its start not: the rerun
    /// sets it): the plan's order, from just after `from`'s start.
    pub(super) nodes: std::ops::Range<usize>,
    /// The leaves in `before`: each rerun draws their next attempts.
    pub(super) before_leaves: Vec<usize>,
    /// The steps each rerun starts again (`before`, the groups from `from`
    /// down, `failed`): their first start stays their start.
    pub(super) again: Vec<usize>,
    /// The events a rerun adds to a run (see `emit::rerun_events`).
    pub(super) events: u64,
    /// The steps under `from`, `from` too, ascending.
    inside: Vec<usize>,
}

impl Rerun {
    /// Every rerun of the plan a straight run can follow: for each rerun
    /// policy, from each leaf with faults it reaches. With the replication
    /// (`replicated`), only those that begin after the caught-up wait ends
    /// in the order (`after`): the wait's length, worked out once from the
    /// times before it, stays.
    pub(super) fn all(plan: &Plan<'_>, next: &[Vec<Node>], order: &[(Node, Rule)], after: Option<usize>) -> Vec<Rerun> {
        let replicated = after.is_some();
        let sc = plan.scenario;
        let mut out: Vec<Rerun> = Vec::new();
        for failed in (0..sc.steps.len()).filter(|i| plan.facts[*i].leaf && !plan.sites.of(*i).is_empty()) {
            for pol in sc.policies.iter().filter(|p| p.action == Action::Rerun) {
                let from = pol.from.map_or(failed, StepIdx::index);
                if out.iter().any(|r| (r.from, r.failed) == (from, failed)) {
                    continue;
                }
                out.extend(
                    Rerun::new(plan, next, order, from, failed, replicated)
                        .filter(|r| after.is_none_or(|end| r.from_at > end)),
                );
            }
        }
        out
    }

    /// The rerun from `from` after a strike on `failed`, when it has the
    /// shape straight runs follow.
    fn new(
        plan: &Plan<'_>,
        next: &[Vec<Node>],
        order: &[(Node, Rule)],
        from: usize,
        failed: usize,
        replicated: bool,
    ) -> Option<Rerun> {
        let sc = plan.scenario;
        let n = sc.steps.len();
        let mut under = vec![false; n];
        let mut todo = vec![from];
        while let Some(j) = todo.pop() {
            under[j] = true;
            todo.extend(sc.steps[j].children.iter().map(|c| c.index()));
        }
        // (A rerun from a step beside the failed one's is the engine's.)
        // Data effects under `from` are followed only on the failed step,
        // and only with the replication, whose replay meets its strikes and
        // its last end (see `StraightRep`); a step done again would meet
        // the data model again.
        let effects_followed = |j: usize| j == failed && replicated && plan.facts[j].replication.is_none();
        if !under[failed]
            || (0..n).any(|j| {
                under[j]
                    && ((plan.facts[j].effects && !effects_followed(j)) || plan.facts[j].begins || plan.facts[j].ends)
            })
        {
            return None;
        }
        let mut waits = vec![0u32; n];
        for source in 0..n {
            for (csr, node) in [(&plan.on_start, Node::start(source)), (&plan.on_end, Node::end(source))] {
                for &(_, target, _) in csr.of(source) {
                    let target = target as usize;
                    waits[target] += 1;
                    let leaves = under[source] && !under[target] && node != Node::end(from);
                    let enters = !under[source] && under[target] && target != from;
                    if leaves || enters {
                        return None;
                    }
                }
            }
        }
        // A step under `from` that waits on nothing would start with the
        // rerun, not when its dependencies allow.
        if (0..n).any(|j| under[j] && j != from && waits[j] == 0) {
            return None;
        }
        let reaches = |a, b| reaches(next, a, b);
        let mut around = vec![failed];
        let mut up = failed;
        while up != from {
            up = sc.steps[up].parent.expect("under `from`").index();
            around.push(up);
        }
        let mut before = Vec::new();
        for j in (0..n).filter(|j| under[*j] && !around.contains(j)) {
            if reaches(Node::end(j), Node::start(failed)) {
                before.push(j);
            } else if !reaches(Node::end(failed), Node::start(j)) {
                return None; // beside the failed step: what it did by then depends on the times
            }
        }
        let events = emit::rerun_events(before.len() as u64, around.len() as u64 - 1);
        // The nodes under `from` come in the order right after its start
        // (depth first: once `from` starts, all that waits on it inside is
        // made ready before anything made ready earlier outside), so that
        // a pass over them is a slice of the order, its `Next` rules intact.
        let from_at = order.iter().position(|(v, _)| *v == Node::start(from)).expect("every node is in the order");
        let count = 2 * (0..n).filter(|j| under[*j]).count();
        if !order[from_at..from_at + count].iter().all(|(v, _)| under[v.step()]) {
            return None;
        }
        Some(Rerun {
            from,
            failed,
            from_at,
            nodes: from_at + 1..from_at + count,
            before_leaves: before.iter().copied().filter(|j| plan.facts[*j].leaf).collect(),
            again: before.into_iter().chain(around).collect(),
            events,
            inside: (0..n).filter(|j| under[*j]).collect(),
        })
    }

    /// Whether step `j` is `from` or under it (what the rerun runs again).
    pub(super) fn holds(&self, j: usize) -> bool {
        self.inside.binary_search(&j).is_ok()
    }
}

impl Simulator<'_, '_> {
    /// A run whose strikes on `r.failed` each call for rerun `r`, as the
    /// engine runs it: the node times of its first attempts (the durations
    /// in `first_ms`, where the caller has put the `retried` steps' times,
    /// each tried again outside the rerun, from first start to end); then, for each
    /// strike (found by `first_strike`, its recovery by `choose_recovery`,
    /// timed by `recovery_times`), `from` starts again once the reaction and
    /// the fix are over, what is under it with its next attempts (each from
    /// the step's stream for it); last, every node again from the final
    /// attempts. `from`'s start keeps the cause of its first (the engine
    /// releases its edges once). Leaves the times in `node_ms`, each
    /// started-again step's first start in `first_start` (in `r.again`'s
    /// order), the strikes and recoveries in `summary` (and in `strikes`,
    /// in run time, for the replication's replay); returns the number of
    /// reruns and the agent's apply time drawn with the snapshot (0
    /// without the replication), or `None` when a strike calls for
    /// anything else or strikes a step before the failed one: the
    /// engine's. With the replication, the first pass is
    /// `replicated_node_times`' (the rerun begins after the caught-up wait
    /// ends in the order, so the replication's lengths stay).
    pub(super) fn rerun_times(
        &mut self,
        r: &Rerun,
        opts: &RunOptions,
        summary: &mut RunSummary,
        retried: &[(usize, u64, u32)],
    ) -> Option<(u32, f64)> {
        let plan = self.plan;
        let sc = plan.scenario;
        let sp = plan.straight.as_ref()?;
        let i = r.failed;
        let duration_base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::StepDuration);
        let apply = match &sp.rep {
            Some(rep) => {
                let apply = self.replicated_node_times(rep, &sp.order, opts, retried);
                self.rerun_ms.clone_from(&self.straight_ms);
                apply
            }
            None => {
                self.rerun_ms.clone_from(&self.first_ms);
                node_times(plan, &sp.order, &self.rerun_ms, NOTHING_BEFORE, &mut self.node_ms, &mut self.node_cause);
                0.0
            }
        };
        self.first_start.clear();
        self.first_start.extend(r.again.iter().map(|j| self.node_ms[Node::start(*j).index()]));
        let (mut attempt, mut reruns) = (1u32, 0u32);
        // The failed step's attempt, and what strikes resumed or retried
        // since its last start add before it (as `tried_again` times them).
        let (mut dur, mut span) = (self.rerun_ms[i], 0u64);
        while let Some((lost, f, share)) = self.first_strike(i, attempt, dur, opts) {
            let (policy, action, _) = self.choose_recovery(f, i, attempt);
            if !self.plain_strike(f, policy) {
                return None;
            }
            let from = policy.and_then(|p| sc.policies[p.index()].from).map_or(i, StepIdx::index);
            let rerun = action == Action::Rerun && from == r.from;
            if !rerun && !matches!(action, Action::Resume | Action::Retry) {
                return None;
            }
            let times = self.recovery_times(policy, i, attempt, opts);
            let step = StepIdx(i as u32);
            summary.injected.push(Injection { fault: f, step, attempt });
            summary.recoveries.push((f, step, action));
            let struck_at = self.node_ms[Node::start(i).index()] + span + lost;
            self.strikes.push((i, struck_at, share, f));
            attempt += 1;
            if !rerun {
                // (Resumed: the attempt done again, whole, as it was.)
                span += lost + times.reaction + times.fix;
                if action == Action::Retry {
                    dur = self.draw_attempt(duration_base, i, attempt, opts.mode).0;
                }
                continue;
            }
            let again_at = struck_at + times.reaction + times.fix;
            reruns += 1;
            for &j in r.before_leaves.iter().chain([&i]) {
                let ms = self.draw_attempt(duration_base, j, attempt, opts.mode).0;
                if j != i && self.first_strike(j, attempt, ms, opts).is_some() {
                    return None;
                }
                self.rerun_ms[j] = ms;
            }
            (dur, span) = (self.rerun_ms[i], 0);
            let from_start = Node::start(r.from);
            self.node_ms[from_start.index()] = again_at;
            let nodes = &sp.order[r.nodes.clone()];
            node_times(plan, nodes, &self.rerun_ms, (from_start, again_at), &mut self.node_ms, &mut self.node_cause);
        }
        // (`tried_again` hands over only runs whose first strike reruns.)
        debug_assert!(reruns > 0, "a rerun's first strike reruns");
        // The failed step from its last start to its end; every node
        // again, but `from`'s start, which keeps its time and cause.
        self.rerun_ms[i] = span + dur;
        let (t, cause) = (&mut self.node_ms, &mut self.node_cause);
        node_times(plan, &sp.order[..r.from_at], &self.rerun_ms, NOTHING_BEFORE, t, cause);
        let from_start = Node::start(r.from);
        let before = (from_start, t[from_start.index()]);
        node_times(plan, &sp.order[r.from_at + 1..], &self.rerun_ms, before, t, cause);
        Some((reruns, apply))
    }
}
