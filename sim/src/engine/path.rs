//! The critical path: what released each step, and the walk back from the
//! run's end.

use rehearse_core::scenario::StepIdx;

use super::Plan;
use super::plan::Node;

/// The tie rule of the critical path, the one the engine and straight runs
/// both apply: a candidate (due at `at`, declared as `id`: an edge's id, a
/// sub-step's end node) replaces the best so far (`best_at`, `best_id`,
/// `None` when there is none yet) when it is due later or, at the same
/// millisecond, declared later (the edge declared last, the parent's edge
/// before the step's `after` list; the sub-step declared last). A rule of
/// the plan, not of the order events happen to be handled in, so the
/// critical path of a run is a function of its times.
#[inline]
pub(super) fn later<T: Ord>(at: u64, id: T, best_at: u64, best_id: Option<T>) -> bool {
    at > best_at || at == best_at && best_id.is_none_or(|best| id > best)
}

/// [`later`] for candidates visited in the order they were declared (ids
/// increasing, as a straight run visits a step's incoming edges): at the
/// same millisecond the one visited last is the one declared last, so the
/// rule needs no id comparison. The callers assert the order in debug
/// builds.
#[inline]
pub(super) fn later_in_order(at: u64, best_at: u64) -> bool {
    at >= best_at
}

/// The critical path of a run committed at `now` (steps end at `end(i)`),
/// from the top-level step that ended last; of those ending together, the
/// one declared last (a rule of the plan, as in `Simulator::release`).
/// Walks back from its end along what determined each node's time
/// (`cause(node)`, `None` at the start): the leaf steps whose durations
/// make up the run's length, in order. The engine and straight runs keep
/// their causes differently; the walk is the one.
pub(super) fn committed_path(
    plan: &Plan<'_>,
    now: u64,
    end: impl Fn(usize) -> u64,
    cause: impl Fn(Node) -> Option<Node>,
    path: &mut Vec<StepIdx>,
) {
    let Some(last) = plan.scenario.roots.iter().rev().find(|r| end(r.index()) == now) else { return };
    let leaf_end = &plan.leaf_end;
    let mut node = Some(Node::end(last.index()));
    let mut guard = 2 * leaf_end.len() + 4;
    while let Some(v) = node
        && guard > 0
    {
        guard -= 1;
        node = if leaf_end[v.index()] {
            path.push(StepIdx(v.step() as u32));
            // A leaf's end is always caused by its own start (the engine
            // and straight runs both record it so): straight on to what
            // caused the start, one dependent load a step fewer.
            let start = Node::start(v.step());
            debug_assert_eq!(cause(v), Some(start), "a leaf's end follows its start");
            cause(start)
        } else {
            cause(v)
        };
    }
    path.reverse();
}
