//! The precedence graph of a plan's steps, and the matching of downtime's
//! beginnings to its ends that the graph guarantees.

use super::model::{Anchor, DowntimeMark, Step, StepIdx};

/// The precedence graph: node `2i` is the start of step `i`, `2i + 1` its
/// end. Edges point from what must happen first.
#[derive(Clone, Debug)]
pub struct Graph {
    out: Vec<Vec<usize>>,
}

impl Graph {
    pub fn start(i: usize) -> usize {
        2 * i
    }
    pub fn end(i: usize) -> usize {
        2 * i + 1
    }

    pub fn new(steps: &[Step]) -> Graph {
        let mut out = vec![Vec::new(); 2 * steps.len()];
        for (i, s) in steps.iter().enumerate() {
            out[Self::start(i)].push(Self::end(i));
            if let Some(p) = s.parent {
                out[Self::start(p.index())].push(Self::start(i));
                out[Self::end(i)].push(Self::end(p.index()));
            }
            for d in &s.after {
                let from = match d.anchor {
                    Anchor::Finish => Self::end(d.step.index()),
                    Anchor::Start => Self::start(d.step.index()),
                };
                out[from].push(Self::start(i));
            }
        }
        Graph { out }
    }

    /// A cycle, as the steps on it in order, if there is one.
    pub fn find_cycle(&self) -> Option<Vec<StepIdx>> {
        let n = self.out.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut color = vec![0u8; n];
        let mut path: Vec<(usize, usize)> = Vec::new(); // (node, next edge)
        for root in 0..n {
            if color[root] != 0 {
                continue;
            }
            path.push((root, 0));
            color[root] = 1;
            while let Some(&mut (node, ref mut edge)) = path.last_mut() {
                if let Some(&next) = self.out[node].get(*edge) {
                    *edge += 1;
                    match color[next] {
                        0 => {
                            color[next] = 1;
                            path.push((next, 0));
                        }
                        1 => {
                            let from = path.iter().position(|(n, _)| *n == next).expect("on stack");
                            let mut steps: Vec<StepIdx> = Vec::new();
                            for (node, _) in &path[from..] {
                                let s = StepIdx((node / 2) as u32);
                                if steps.last() != Some(&s) {
                                    steps.push(s);
                                }
                            }
                            if steps.len() > 1 && steps.first() == steps.last() {
                                steps.pop();
                            }
                            let first = steps[0];
                            steps.push(first);
                            return Some(steps);
                        }
                        _ => {}
                    }
                } else {
                    color[node] = 2;
                    path.pop();
                }
            }
        }
        None
    }

    fn reaches_from(&self, from: usize) -> Vec<bool> {
        let mut seen = Vec::new();
        self.reachable_into(from, &mut seen, &mut Vec::new());
        seen
    }

    /// Every node that always happens after node `from` (and `from`
    /// itself), into `seen`; `stack` is scratch space. Reuses both buffers.
    pub fn reachable_into(&self, from: usize, seen: &mut Vec<bool>, stack: &mut Vec<usize>) {
        seen.clear();
        seen.resize(self.out.len(), false);
        stack.clear();
        stack.push(from);
        seen[from] = true;
        while let Some(n) = stack.pop() {
            for &m in &self.out[n] {
                if !seen[m] {
                    seen[m] = true;
                    stack.push(m);
                }
            }
        }
    }

    /// The nodes in an order where every edge points forward (Kahn's).
    /// The graph must be acyclic.
    fn topological(&self) -> Vec<usize> {
        let mut n_in = vec![0u32; self.out.len()];
        for outs in &self.out {
            for &m in outs {
                n_in[m] += 1;
            }
        }
        let mut order: Vec<usize> = (0..self.out.len()).filter(|n| n_in[*n] == 0).collect();
        let mut at = 0;
        while let Some(&n) = order.get(at) {
            at += 1;
            for &m in &self.out[n] {
                n_in[m] -= 1;
                if n_in[m] == 0 {
                    order.push(m);
                }
            }
        }
        assert_eq!(order.len(), self.out.len(), "the graph is acyclic");
        order
    }

    /// For every node, the nearest `mark` in file order among the nodes
    /// that always happen before it (`before`: the greatest) or after it
    /// (the least), itself included; `None` where none is marked. One pass
    /// over the graph, so that a message about each of many steps does not
    /// search it each time. The graph must be acyclic.
    pub(crate) fn nearest_marked(&self, mark: &[Option<usize>], before: bool) -> Vec<Option<usize>> {
        let mut nearest = mark.to_vec();
        let order = self.topological();
        let pick = |a: Option<usize>, b: Option<usize>| match (a, b) {
            (Some(a), Some(b)) => Some(if before { a.max(b) } else { a.min(b) }),
            (a, b) => a.or(b),
        };
        if before {
            for &n in &order {
                for &m in &self.out[n] {
                    nearest[m] = pick(nearest[m], nearest[n]);
                }
            }
        } else {
            for &n in order.iter().rev() {
                for &m in &self.out[n] {
                    nearest[n] = pick(nearest[n], nearest[m]);
                }
            }
        }
        nearest
    }

    /// Whether node `to` always happens after node `from`.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        self.reaches_from(from)[to]
    }
}

/// Downtime marks that the graph cannot pair: see [`unmatched_downtime`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UnmatchedDowntime {
    /// Steps where downtime begins and no end is sure to follow, in file order.
    pub(crate) begins: Vec<StepIdx>,
    /// Steps where downtime ends and no beginning is sure to precede, in file order.
    pub(crate) ends: Vec<StepIdx>,
}

/// Every downtime that begins must end later, and every end must follow
/// a beginning: a matching of each `ends` to a distinct `begins` that it
/// is guaranteed to follow. With such a matching, downtime can never
/// end more often than it began, and it is closed when the run ends.
/// Returns the marks left out of a largest matching: the ends paired in
/// file order, each kept if it can be paired along with the ends before
/// it that were, and likewise the beginnings (a largest matching can
/// leave out both at once).
///
/// A pair is a path in the graph from a beginning's start to an end's
/// end, and pairs may share steps: the matching is a flow from the
/// beginnings to the ends, found one augmenting path at a time over the
/// graph itself, never over the pairs that can follow each other (there
/// are as many of those as beginnings times ends). A search walks the
/// graph at most once, and in a plan's usual shapes finds a partner a few
/// arcs away (in a chain of a thousand pairs, three).
pub(crate) fn unmatched_downtime(steps: &[Step], graph: &Graph) -> UnmatchedDowntime {
    let marked =
        |mark: DowntimeMark| -> Vec<usize> { (0..steps.len()).filter(|i| steps[*i].downtime == Some(mark)).collect() };
    let (begins, ends) = (marked(DowntimeMark::Begins), marked(DowntimeMark::Ends));
    let step = |i: usize| StepIdx(i as u32);
    if begins.is_empty() || ends.is_empty() {
        return UnmatchedDowntime {
            begins: begins.into_iter().map(step).collect(),
            ends: ends.into_iter().map(step).collect(),
        };
    }
    let arcs = Arcs::new(graph);
    let begin_nodes: Vec<usize> = begins.iter().map(|b| Graph::start(*b)).collect();
    let end_nodes: Vec<usize> = ends.iter().map(|e| Graph::end(*e)).collect();
    // Ends back to beginnings, then beginnings on to ends.
    let ends_paired = arcs.pair_in_order(&end_nodes, &begin_nodes, Direction::Back);
    let begins_paired = arcs.pair_in_order(&begin_nodes, &end_nodes, Direction::On);
    UnmatchedDowntime {
        begins: (0..begins.len()).filter(|b| !begins_paired[*b]).map(|b| step(begins[b])).collect(),
        ends: (0..ends.len()).filter(|e| !ends_paired[*e]).map(|e| step(ends[e])).collect(),
    }
}

/// Which way a search for a partner walks the graph's arcs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// From an end back to the beginnings before it.
    Back,
    /// From a beginning on to the ends after it.
    On,
}

/// The graph's arcs numbered, with each node's arcs out and in, for the
/// flow that pairs downtime's marks.
struct Arcs {
    /// Arc `a` goes from `from[a]` to `to[a]`.
    from: Vec<usize>,
    to: Vec<usize>,
    /// Node `n`'s arcs out are `out[out_at[n]..out_at[n + 1]]`; in, alike.
    out_at: Vec<usize>,
    out: Vec<usize>,
    in_at: Vec<usize>,
    into: Vec<usize>,
}

impl Arcs {
    fn new(graph: &Graph) -> Arcs {
        let n = graph.out.len();
        let (mut from, mut to) = (Vec::new(), Vec::new());
        for (u, outs) in graph.out.iter().enumerate() {
            for &v in outs {
                from.push(u);
                to.push(v);
            }
        }
        let (out_at, out) = by_node(n, &from);
        let (in_at, into) = by_node(n, &to);
        Arcs { from, to, out_at, out, in_at, into }
    }

    /// Pairs each of `firsts`, in order, with a distinct one of `seconds`
    /// that it can reach walking `direction`, keeping the pairs already
    /// made (they may swap partners); whether each of `firsts` was paired.
    /// The pairs are a flow: arcs may carry any number of them, and a
    /// search may walk an arc that carries some against its direction,
    /// which moves them.
    fn pair_in_order(&self, firsts: &[usize], seconds: &[usize], direction: Direction) -> Vec<bool> {
        let n = self.out_at.len() - 1;
        let mut free = vec![false; n];
        for &s in seconds {
            free[s] = true;
        }
        let mut flow = vec![0u32; self.from.len()];
        // A node seen by a search that failed cannot lead to a free partner
        // until the flow changes, so marks are kept across failed searches
        // and cleared (by a new round number) only after a success.
        let mut seen = vec![0u32; n];
        let mut round = 1u32;
        // The current path: each node with the arc it was entered by and
        // how far through its arcs the search has gone.
        let mut path: Vec<(usize, Option<usize>, usize)> = Vec::new();
        let (ahead, behind) = match direction {
            Direction::Back => ((&self.in_at, &self.into), (&self.out_at, &self.out)),
            Direction::On => ((&self.out_at, &self.out), (&self.in_at, &self.into)),
        };
        let mut paired = vec![false; firsts.len()];
        for (k, &first) in firsts.iter().enumerate() {
            path.clear();
            path.push((first, None, 0));
            seen[first] = round;
            while let Some(&mut (node, _, ref mut cursor)) = path.last_mut() {
                let n_ahead = ahead.0[node + 1] - ahead.0[node];
                let n_behind = behind.0[node + 1] - behind.0[node];
                if *cursor == n_ahead + n_behind {
                    path.pop();
                    continue;
                }
                let c = *cursor;
                *cursor += 1;
                // Ahead along any arc; back along an arc that carries pairs.
                let (arc, next) = if c < n_ahead {
                    let a = ahead.1[ahead.0[node] + c];
                    (a, self.far_end(a, node))
                } else {
                    let a = behind.1[behind.0[node] + c - n_ahead];
                    if flow[a] == 0 {
                        continue;
                    }
                    (a, self.far_end(a, node))
                };
                if seen[next] == round {
                    continue;
                }
                seen[next] = round;
                path.push((next, Some(arc), 0));
                if free[next] {
                    break;
                }
            }
            let Some(&(last, _, _)) = path.last() else { continue };
            // Found: the path's arcs walked ahead carry one more pair,
            // those walked back one fewer.
            free[last] = false;
            paired[k] = true;
            for w in path.windows(2) {
                let (node, (_, arc, _)) = (w[0].0, w[1]);
                let arc = arc.expect("entered by an arc");
                let walked_ahead = match direction {
                    Direction::Back => self.to[arc] == node,
                    Direction::On => self.from[arc] == node,
                };
                if walked_ahead {
                    flow[arc] += 1;
                } else {
                    flow[arc] -= 1;
                }
            }
            round += 1;
        }
        paired
    }

    /// The node at the other end of arc `a` from `node`.
    fn far_end(&self, a: usize, node: usize) -> usize {
        if self.from[a] == node { self.to[a] } else { self.from[a] }
    }
}

/// Arcs grouped by the node `key` gives each (counting sort): where each
/// node's run starts, and the arcs in order.
fn by_node(n: usize, key: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut at = vec![0usize; n + 1];
    for &k in key {
        at[k + 1] += 1;
    }
    for i in 0..n {
        at[i + 1] += at[i];
    }
    let mut next = at.clone();
    let mut arcs = vec![0usize; key.len()];
    for (a, &k) in key.iter().enumerate() {
        arcs[next[k]] = a;
        next[k] += 1;
    }
    (at, arcs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{StepDuration, Work};
    use crate::time::SimDuration;

    /// Top-level leaf steps, each waiting for the ones `after` lists.
    fn steps(spec: &[(&[u32], Option<DowntimeMark>)]) -> Vec<Step> {
        spec.iter()
            .enumerate()
            .map(|(i, (after, downtime))| Step {
                id: format!("s{i}"),
                name: format!("s{i}"),
                owner: None,
                workstream: None,
                parent: None,
                children: Vec::new(),
                depth: 0,
                after: after
                    .iter()
                    .map(|a| crate::scenario::Dep {
                        step: StepIdx(*a),
                        anchor: Anchor::Finish,
                        lag: SimDuration::ZERO,
                        up_to: None,
                    })
                    .collect(),
                work: Work::Leaf(StepDuration { base: None, per_gb: None, per_million_rows: None }),
                downtime: *downtime,
                records_status: false,
                milestone: false,
                data: Vec::new(),
                replication: None,
                needs: Vec::new(),
                scale_by: Vec::new(),
                not_before: None,
                line: i as u32 + 1,
            })
            .collect()
    }

    #[test]
    fn each_end_pairs_with_a_beginning_it_surely_follows() {
        use DowntimeMark::{Begins, Ends};
        // s0 begins, s1 ends after it: a pair. s2 ends, unordered with any
        // beginning; s3 begins and nothing ends after it.
        let s = steps(&[(&[], Some(Begins)), (&[0], Some(Ends)), (&[], Some(Ends)), (&[1], Some(Begins))]);
        let unmatched = unmatched_downtime(&s, &Graph::new(&s));
        assert_eq!(unmatched, UnmatchedDowntime { begins: vec![StepIdx(3)], ends: vec![StepIdx(2)] });
        // Two ends after one beginning: the second has none left to pair with.
        let s = steps(&[(&[], Some(Begins)), (&[0], Some(Ends)), (&[1], Some(Ends))]);
        let unmatched = unmatched_downtime(&s, &Graph::new(&s));
        assert_eq!(unmatched, UnmatchedDowntime { begins: vec![], ends: vec![StepIdx(2)] });
        // The augmenting path: s2 could take s0, but s3 only s0, so s2 moves to s1.
        let s = steps(&[(&[], Some(Begins)), (&[], Some(Begins)), (&[0, 1], Some(Ends)), (&[0], Some(Ends))]);
        assert_eq!(unmatched_downtime(&s, &Graph::new(&s)), UnmatchedDowntime::default());
    }

    /// The matching as first written: every (end, beginning) pair that can
    /// follow each other listed, then Kuhn's augmenting paths over them, in
    /// file order from the side whose marks it reports.
    fn by_pairs(steps: &[Step], graph: &Graph) -> UnmatchedDowntime {
        fn augment(e: usize, can: &[Vec<bool>], matched: &mut [Option<usize>], visited: &mut [bool]) -> bool {
            for b in 0..matched.len() {
                if can[e][b] && !visited[b] {
                    visited[b] = true;
                    if matched[b].is_none_or(|other| augment(other, can, matched, visited)) {
                        matched[b] = Some(e);
                        return true;
                    }
                }
            }
            false
        }
        /// Which of the left side pairs up, taken in order.
        fn kuhn(can: &[Vec<bool>], n_right: usize) -> Vec<bool> {
            let mut matched = vec![None; n_right];
            (0..can.len()).map(|l| augment(l, can, &mut matched, &mut vec![false; n_right])).collect()
        }
        let marked =
            |m: DowntimeMark| -> Vec<usize> { (0..steps.len()).filter(|i| steps[*i].downtime == Some(m)).collect() };
        let (begins, ends) = (marked(DowntimeMark::Begins), marked(DowntimeMark::Ends));
        let can: Vec<Vec<bool>> = ends
            .iter()
            .map(|e| begins.iter().map(|b| graph.reaches(Graph::start(*b), Graph::end(*e))).collect())
            .collect();
        let can_t: Vec<Vec<bool>> = (0..begins.len()).map(|b| (0..ends.len()).map(|e| can[e][b]).collect()).collect();
        let (ends_paired, begins_paired) = (kuhn(&can, begins.len()), kuhn(&can_t, ends.len()));
        UnmatchedDowntime {
            begins: (0..begins.len()).filter(|b| !begins_paired[*b]).map(|b| StepIdx(begins[b] as u32)).collect(),
            ends: (0..ends.len()).filter(|e| !ends_paired[*e]).map(|e| StepIdx(ends[e] as u32)).collect(),
        }
    }

    /// Random plans of nested steps, some marked, against [`by_pairs`].
    #[test]
    fn the_flow_leaves_out_the_marks_the_pairs_do() {
        use rand_core::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(19);
        let (mut n_plans, mut n_left_out) = (0, 0);
        while n_plans < 3_000 {
            let n = 2 + (rng.next_u64() % 14) as usize;
            let mut s = steps(&vec![(&[][..], None); n]);
            // Each step inside, and after, steps before it.
            for (i, step) in s.iter_mut().enumerate().skip(1) {
                if rng.next_u64() % 3 == 0 {
                    step.parent = Some(StepIdx((rng.next_u64() % i as u64) as u32));
                }
                for _ in 0..rng.next_u64() % 3 {
                    let anchor = if rng.next_u64() % 4 == 0 { Anchor::Start } else { Anchor::Finish };
                    let on = StepIdx((rng.next_u64() % i as u64) as u32);
                    step.after.push(crate::scenario::Dep { step: on, anchor, lag: SimDuration::ZERO, up_to: None });
                }
            }
            for step in &mut s {
                step.downtime = match rng.next_u64() % 5 {
                    0 | 1 => Some(DowntimeMark::Begins),
                    2 | 3 => Some(DowntimeMark::Ends),
                    _ => None,
                };
            }
            let graph = Graph::new(&s);
            if graph.find_cycle().is_some() {
                continue;
            }
            n_plans += 1;
            let got = unmatched_downtime(&s, &graph);
            n_left_out += got.begins.len() + got.ends.len();
            assert_eq!(
                got,
                by_pairs(&s, &graph),
                "{:?}",
                s.iter().map(|x| (x.parent, &x.after, x.downtime)).collect::<Vec<_>>()
            );
        }
        assert!(n_left_out > 1_000, "the plans leave marks out: {n_left_out}");
    }

    /// A chain of pairs, each beginning after the end before it: every
    /// end has every beginning before it to choose from.
    #[test]
    fn a_long_chain_of_pairs_pairs_up() {
        use DowntimeMark::{Begins, Ends};
        let n = 2_000u32;
        let spec: Vec<(Vec<u32>, Option<DowntimeMark>)> = (0..n)
            .map(|i| (i.checked_sub(1).into_iter().collect(), Some(if i % 2 == 0 { Begins } else { Ends })))
            .collect();
        let spec: Vec<(&[u32], Option<DowntimeMark>)> = spec.iter().map(|(a, d)| (&a[..], *d)).collect();
        let mut s = steps(&spec);
        assert_eq!(unmatched_downtime(&s, &Graph::new(&s)), UnmatchedDowntime::default());
        // The first end turned into a beginning: two beginnings too many.
        // Beginnings pair in file order, so the last two are left out.
        s[1].downtime = Some(Begins);
        let got = unmatched_downtime(&s, &Graph::new(&s));
        assert_eq!(got, UnmatchedDowntime { begins: vec![StepIdx(n - 4), StepIdx(n - 2)], ends: vec![] });
    }

    #[test]
    fn a_cycle_is_given_as_its_steps_in_order() {
        let s = steps(&[(&[2], None), (&[0], None), (&[1], None), (&[], None)]);
        let graph = Graph::new(&s);
        assert_eq!(graph.find_cycle(), Some(vec![StepIdx(0), StepIdx(1), StepIdx(2), StepIdx(0)]));
        assert!(graph.reaches(Graph::end(0), Graph::start(1)));
        assert!(!graph.reaches(Graph::start(3), Graph::start(0)));
        let s = steps(&[(&[], None), (&[0], None)]);
        assert_eq!(Graph::new(&s).find_cycle(), None);
    }
}
