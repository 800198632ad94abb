//! Runs in which nothing goes wrong, computed straight through.
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
//! own stream, which does not depend on time. When a site would fire, or
//! the plan has something this shortcut does not model (replication, data
//! effects, downtime marks whose order is not fixed by the plan), the run
//! goes through the engine as usual. The result is the same
//! [`RunSummary`] the engine writes, field for field: a differential test
//! holds the two to it over every bundled scenario.

use rehearse_core::event::{Mode, Outcome};
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::{DowntimeMark, Work};
use rehearse_core::time::{SimDuration, SimTime};

use super::{Csr, FaultMode, NONE, Plan, RunOptions, Simulator, end_node, start_node, unit};
use crate::rng;
use crate::summary::{RunSummary, StepTiming};

/// What a plan needs for straight runs, compiled once.
#[derive(Debug)]
pub(super) struct StraightPlan {
    /// Every node (`2i` a step's start, `2i + 1` its end) after the nodes it
    /// waits on, with how its time is found.
    order: Vec<(u32, Node)>,
    /// Per step, its incoming edges by ascending id: (edge, source node, lag).
    into: Csr,
    /// Sub-steps' end nodes, for the groups' `Node::Group` ranges.
    children: Vec<u32>,
    /// The fault sites on leaf steps: (site, fault, its probability).
    sites: Vec<(usize, FaultIdx, f64)>,
    /// The step whose start opens the downtime, and the one whose end
    /// closes it.
    begins: Option<usize>,
    ends: Option<usize>,
    /// Events in a straight run.
    n_events: u64,
}

/// How a node's time is found.
#[derive(Clone, Copy, Debug)]
enum Node {
    /// A start: the latest of its incoming edges.
    Start,
    /// A leaf's end: its start plus its duration.
    Leaf,
    /// A group's end: the latest of its sub-steps' ends (`children[from..to]`)
    /// plus its finish lag.
    Group { from: u32, to: u32, finish_lag: u64 },
}

impl StraightPlan {
    /// `None` when the plan has what straight runs do not model.
    pub(super) fn new(plan: &Plan<'_>) -> Option<StraightPlan> {
        let sc = plan.scenario;
        if sc.replication.is_some() || plan.facts.iter().any(|f| f.effects) {
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

        // The plan's edges by target, ids ascending: (target, edge, source node, lag).
        let mut pairs = Vec::new();
        for source in 0..n {
            for (csr, node) in [(&plan.on_start, start_node(source)), (&plan.on_end, end_node(source))] {
                pairs.extend(csr.of(source).iter().map(|&(edge, target, lag)| (target as usize, edge, node, lag)));
            }
        }
        // (By edge id here; `Csr::build` keeps that order within a target.)
        pairs.sort_unstable_by_key(|p| p.1);
        // The node graph: what each node lets go on.
        let mut next: Vec<Vec<u32>> = vec![Vec::new(); 2 * n];
        for &(target, _, node, _) in &pairs {
            next[node as usize].push(start_node(target));
        }
        for (i, s) in sc.steps.iter().enumerate() {
            if plan.facts[i].leaf {
                next[start_node(i) as usize].push(end_node(i));
            } else {
                for c in &s.children {
                    next[end_node(c.index()) as usize].push(end_node(i));
                }
            }
        }
        let mut waiting = vec![0u32; 2 * n];
        for targets in &next {
            for t in targets {
                waiting[*t as usize] += 1;
            }
        }
        let mut order: Vec<u32> = (0..2 * n as u32).filter(|v| waiting[*v as usize] == 0).collect();
        let mut k = 0;
        while k < order.len() {
            for &t in &next[order[k] as usize] {
                waiting[t as usize] -= 1;
                if waiting[t as usize] == 0 {
                    order.push(t);
                }
            }
            k += 1;
        }
        if order.len() != 2 * n {
            return None; // a cycle (validation rules it out)
        }
        // With both marks, the downtime's end must come after its start in
        // every run (by a chain of dependencies), or the order of the two
        // events, and with it the downtime, depends on the times.
        if let (Some(b), Some(e)) = (begins, ends) {
            let mut seen = vec![false; 2 * n];
            let mut stack = vec![start_node(b)];
            while let Some(v) = stack.pop() {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    stack.extend(&next[v as usize]);
                }
            }
            if !seen[end_node(e) as usize] {
                return None;
            }
        }
        let downtime_events = u64::from(begins.is_some()) + u64::from(begins.is_some() && ends.is_some());
        let mut children = Vec::new();
        let order = order
            .into_iter()
            .map(|v| {
                let step = &sc.steps[(v / 2) as usize];
                let node = match &step.work {
                    _ if v % 2 == 0 => Node::Start,
                    Work::Leaf(_) => Node::Leaf,
                    Work::Group { finish_lag } => {
                        let from = children.len() as u32;
                        children.extend(step.children.iter().map(|c| end_node(c.index())));
                        Node::Group { from, to: children.len() as u32, finish_lag: finish_lag.as_ms() }
                    }
                };
                (v, node)
            })
            .collect();
        // Sites on groups never fire (the engine draws none for them).
        let sites = (0..n)
            .filter(|i| plan.facts[*i].leaf)
            .flat_map(|i| &plan.sites[i])
            .map(|&(site, f)| (site as usize, f, sc.faults[f.index()].probability))
            .collect();
        Some(StraightPlan {
            order,
            into: Csr::build(n, pairs),
            children,
            sites,
            begins,
            ends,
            n_events: 2 + 2 * n as u64 + downtime_events,
        })
    }
}

impl Simulator<'_, '_> {
    /// Runs `opts` straight through when no fault strikes it, writing the
    /// summary the engine would. Returns false, having written nothing,
    /// when the run needs the engine.
    pub(super) fn straight(&mut self, opts: &RunOptions, summary: &mut RunSummary) -> bool {
        let plan = self.plan;
        let Some(sp) = &plan.straight else { return false };
        let sc = plan.scenario;
        let n = sc.steps.len();
        if sp.n_events > opts.limits.max_events {
            return false;
        }
        let random = match (opts.mode, &opts.faults) {
            (_, FaultMode::Scripted(_) | FaultMode::Swarm) => return false,
            (Mode::Median, _) => false,
            (Mode::Random, _) => true,
        };
        if random {
            // Would any site fire on a first attempt? (The engine draws the
            // same numbers when the step starts.)
            let fault_base = rng::StreamBase::new(opts.seed, opts.run, rng::Purpose::Fault);
            for &(site, f, probability) in &sp.sites {
                if let FaultMode::Without(off) = &opts.faults
                    && *off == f
                {
                    continue;
                }
                if unit(&mut fault_base.stream(plan.site_keys[site], 1)) < probability {
                    return false;
                }
            }
        }
        // Durations first, as a batch, apart from the pass that adds them up.
        self.draw_first(opts);
        // Node times and causes, in dependency order.
        for &(v, node) in &sp.order {
            let i = (v / 2) as usize;
            match node {
                Node::Start => {
                    // Of the edges due last, the one with the highest id (ids ascend).
                    let (mut at, mut cause) = (0u64, NONE);
                    for &(_, source, lag) in sp.into.of(i) {
                        let s = (source / 2) as usize;
                        let t = if source % 2 == 0 { self.starts[s] } else { self.ends[s] } + lag;
                        if t >= at {
                            (at, cause) = (t, source);
                        }
                    }
                    self.starts[i] = at;
                    self.start_cause[i] = cause;
                }
                Node::Leaf => {
                    let dur = if random { self.first_ms[i] } else { plan.medians[i].as_ms() };
                    self.ends[i] = self.starts[i] + dur;
                    self.end_cause[i] = start_node(i);
                }
                Node::Group { from, to, finish_lag } => {
                    // Of the sub-steps ending last, the one declared last.
                    let (mut at, mut cause) = (0u64, NONE);
                    for &node in &sp.children[from as usize..to as usize] {
                        let t = self.ends[(node / 2) as usize];
                        if t > at || t == at && (cause == NONE || node > cause) {
                            (at, cause) = (t, node);
                        }
                    }
                    self.ends[i] = at + finish_lag;
                    self.end_cause[i] = cause;
                }
            }
        }
        let now = sc.roots.iter().map(|r| self.ends[r.index()]).max().unwrap_or(0);
        if now > opts.limits.max_time.as_ms() {
            return false; // the engine reports which step ran past it
        }

        summary.outcome = Outcome::Committed;
        summary.seed = opts.seed;
        summary.run = opts.run;
        summary.mode = opts.mode;
        summary.scenario = plan.digest;
        summary.end = SimTime(now);
        summary.downtime_intervals.clear();
        summary.downtime_open = false;
        if let Some(b) = sp.begins {
            let (close, open) = match sp.ends {
                Some(e) => (self.ends[e], false),
                None => (now, true),
            };
            summary.downtime_intervals.push((SimTime(self.starts[b]), SimTime(close)));
            summary.downtime_open = open;
        }
        summary.downtime = SimDuration(summary.downtime_intervals.iter().map(|(a, b)| b.since(*a).as_ms()).sum());
        summary.steps.clear();
        summary.steps.extend((0..n).map(|i| StepTiming { start: SimTime(self.starts[i]), end: SimTime(self.ends[i]) }));
        summary.attempts.clear();
        summary.attempts.resize(n, 1);
        summary.critical_path.clear();
        self.committed_path(now, &mut summary.critical_path);
        summary.n_events = sp.n_events;
        summary.injected.clear();
        summary.recoveries.clear();
        // The data model as the engine leaves it: as it began (the plan
        // changes no data).
        self.backend.reset(sc);
        true
    }
}

#[cfg(test)]
mod tests {
    use rehearse_core::event::Mode;
    use rehearse_core::fault::FaultIdx;
    use rehearse_core::scenario::Scenario;
    use rehearse_core::time::SimDuration;

    use crate::engine::{FaultMode, Limits, Plan, RunOptions, Simulator};
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

    /// Every straight run equals the engine's, field for field; a run goes
    /// straight exactly when no fault strikes it; and going through
    /// `run_into` with a silent sink gives the same summaries.
    #[test]
    fn straight_runs_are_the_engines_runs() {
        let mut straight_runs = 0;
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
                let runs = if mode == Mode::Median { 1 } else { 150 };
                for run in 0..runs {
                    let opts = RunOptions { seed: 11, run, mode, faults: faults.clone(), limits: Limits::default() };
                    let want = engine(&mut a, &opts).unwrap();
                    let mut got = RunSummary::blank(&opts, plan.digest());
                    let took = b.straight(&opts, &mut got);
                    assert_eq!(took, want.injected.is_empty(), "{path} run {run}: straight iff no fault struck");
                    if took {
                        straight_runs += 1;
                        assert_eq!(got, want, "{path} run {run} {mode:?} {faults:?}");
                    }
                    b.run_into(&opts, &mut NullSink, &mut quiet).unwrap();
                    assert_eq!(quiet, want, "{path} run {run} {mode:?} {faults:?} (silent sink)");
                }
            }
        }
        assert!(eligible.iter().any(|p| p.ends_with("ax2012-data-upgrade-dev.toml")), "eligible: {eligible:?}");
        assert!(straight_runs > 500, "only {straight_runs} straight runs");
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
