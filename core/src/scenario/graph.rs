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
/// Returns the marks left out of a largest matching.
pub(crate) fn unmatched_downtime(steps: &[Step], graph: &Graph) -> UnmatchedDowntime {
    let begins: Vec<usize> = (0..steps.len()).filter(|i| steps[*i].downtime == Some(DowntimeMark::Begins)).collect();
    let ends: Vec<usize> = (0..steps.len()).filter(|i| steps[*i].downtime == Some(DowntimeMark::Ends)).collect();
    // can[e][b]: the end of step ends[e] always comes after the start of begins[b].
    let can: Vec<Vec<bool>> =
        ends.iter().map(|e| begins.iter().map(|b| graph.reaches(Graph::start(*b), Graph::end(*e))).collect()).collect();
    let mut matched_begin: Vec<Option<usize>> = vec![None; begins.len()];
    let mut matched_end: Vec<bool> = vec![false; ends.len()];
    for (e, matched) in matched_end.iter_mut().enumerate() {
        let mut visited = vec![false; begins.len()];
        *matched = augment(e, &can, &mut matched_begin, &mut visited);
    }
    let step = |i: usize| StepIdx(i as u32);
    UnmatchedDowntime {
        begins: (0..begins.len()).filter(|b| matched_begin[*b].is_none()).map(|b| step(begins[b])).collect(),
        ends: (0..ends.len()).filter(|e| !matched_end[*e]).map(|e| step(ends[e])).collect(),
    }
}

/// Kuhn's augmenting path for bipartite matching (ends -> begins).
fn augment(e: usize, can: &[Vec<bool>], matched_begin: &mut [Option<usize>], visited: &mut [bool]) -> bool {
    for b in 0..matched_begin.len() {
        if can[e][b] && !visited[b] {
            visited[b] = true;
            if matched_begin[b].is_none_or(|other| augment(other, can, matched_begin, visited)) {
                matched_begin[b] = Some(e);
                return true;
            }
        }
    }
    false
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
                parent: None,
                children: Vec::new(),
                depth: 0,
                after: after
                    .iter()
                    .map(|a| crate::scenario::Dep { step: StepIdx(*a), anchor: Anchor::Finish, lag: SimDuration::ZERO })
                    .collect(),
                work: Work::Leaf(StepDuration { base: None, per_gb: None, per_million_rows: None }),
                downtime: *downtime,
                records_status: false,
                milestone: false,
                data: Vec::new(),
                replication: None,
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
