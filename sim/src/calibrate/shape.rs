//! The structure of a measured run rebuilt from its times: nesting (a row
//! spanning later rows of its phase is their parent), dependencies and the
//! lags between rows, so that a single run's `--median` replays it row for
//! row. Every pass is linear in the rows, or `n log n` where it searches.

use std::collections::BTreeMap;

use super::export::{Row, RowStatus, Run};

/// The rebuilt structure of a run: per row, its parent row (if a row
/// spans it) and its dependencies on earlier rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// Phases (Steps values) in order of first start.
    pub(super) phases: Vec<String>,
    /// Per row, the index of its phase in `phases`.
    pub(super) phase_of: Vec<usize>,
    pub(super) parent: Vec<Option<usize>>,
    /// Per row: whether it is some row's parent (a group in the scenario).
    pub(super) is_parent: Vec<bool>,
    /// (row, start-to-start?, lag ms)
    pub(super) after: Vec<Vec<(usize, bool, u64)>>,
    /// Lead from the parent's (or phase's) start, when first in it.
    pub(super) lead: Vec<Option<u64>>,
    /// Parent rows: time from the last child's end to their own end.
    pub(super) finish_lag: Vec<u64>,
    /// Phase dependencies: (previous phase, start-to-start?, lag).
    pub(super) phase_after: Vec<Option<(usize, bool, u64)>>,
}

/// Rebuilds `run`'s structure from its rows' times alone.
pub(super) fn shape(run: &Run) -> Shape {
    let rows = &run.rows;
    let n = rows.len();
    let mut phases: Vec<String> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut last: Option<(&str, usize)> = None;
    let phase_of: Vec<usize> = rows
        .iter()
        .map(|r| {
            // Rows of a phase mostly come together: no search for those.
            if let Some((name, k)) = last
                && name == r.steps
            {
                return k;
            }
            let k = *index.entry(r.steps.as_str()).or_insert_with(|| {
                phases.push(r.steps.clone());
                phases.len() - 1
            });
            last = Some((r.steps.as_str(), k));
            k
        })
        .collect();
    let mut phase_start = vec![u64::MAX; phases.len()];
    let mut phase_end = vec![0; phases.len()];
    for (r, &k) in rows.iter().zip(&phase_of) {
        phase_start[k] = phase_start[k].min(r.start_ms);
        phase_end[k] = phase_end[k].max(r.end_or_start());
    }
    let parent = parents(rows, &phase_of, phases.len());
    let mut is_parent = vec![false; n];
    let mut last_child_end: Vec<Option<u64>> = vec![None; n];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = *p {
            is_parent[p] = true;
            let e = rows[i].end_or_start();
            last_child_end[p] = Some(last_child_end[p].map_or(e, |x| x.max(e)));
        }
    }
    let finish_lag: Vec<u64> =
        (0..n).map(|i| last_child_end[i].map_or(0, |last| rows[i].end_or_start().saturating_sub(last))).collect();
    let (after, lead) = siblings(rows, &phase_of, &parent, &phase_start);
    let phase_after = (0..phases.len())
        .map(|k| {
            if k == 0 {
                return None;
            }
            let start = phase_start[k];
            let prev_end = phase_end[k - 1];
            Some(if start >= prev_end {
                (k - 1, false, start - prev_end)
            } else {
                (k - 1, true, start - phase_start[k - 1])
            })
        })
        .collect();
    Shape { phases, phase_of, parent, is_parent, after, lead, finish_lag, phase_after }
}

/// Per row, its parent: the shortest earlier completed row of the same
/// phase that spans it (starts no later, ends no earlier, lasts, and is
/// not the same interval), the earliest such on a tie. A failed row is
/// never a parent: its time was one attempt's, not a container's, and the
/// fault seen on it must strike a step that does work.
///
/// Rows come sorted by start (the longer first), so every earlier row
/// starts no later; of those, a row spans the current one exactly when it
/// ends no earlier. Each phase keeps, over its rows' distinct end times, a
/// Fenwick tree of the least (length, row) among the rows ending there or
/// later: a query and an insertion per row, `n log n`. Rows of the same
/// interval are inserted only after all of them are answered.
fn parents(rows: &[Row], phase_of: &[usize], n_phases: usize) -> Vec<Option<usize>> {
    let n = rows.len();
    // Per phase, its distinct end times, descending: position 0 is the latest.
    let mut ends: Vec<Vec<u64>> = vec![Vec::new(); n_phases];
    for (r, &k) in rows.iter().zip(phase_of) {
        ends[k].push(r.end_or_start());
    }
    for e in &mut ends {
        e.sort_unstable_by(|a, b| b.cmp(a));
        e.dedup();
    }
    let mut trees: Vec<Vec<Option<(u64, usize)>>> = ends.iter().map(|e| vec![None; e.len() + 1]).collect();
    let pos = |k: usize, end: u64| ends[k].partition_point(|e| *e > end);
    let mut parent = vec![None; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && rows[j].start_ms == rows[i].start_ms && rows[j].end_or_start() == rows[i].end_or_start() {
            j += 1;
        }
        for (g, slot) in parent.iter_mut().enumerate().take(j).skip(i) {
            let k = phase_of[g];
            // Positions 0..=pos(end) hold the rows ending at this end or later.
            *slot = least(&trees[k], pos(k, rows[g].end_or_start())).map(|(_, c)| c);
        }
        for (g, r) in rows.iter().enumerate().take(j).skip(i) {
            let spans_time = r.end_ms.is_some_and(|e| e > r.start_ms);
            if r.status == RowStatus::Completed && spans_time {
                let k = phase_of[g];
                insert(&mut trees[k], pos(k, r.end_or_start()), (r.end_or_start() - r.start_ms, g));
            }
        }
        i = j;
    }
    parent
}

/// The least entry at positions `0..=at` of a Fenwick tree of minima.
fn least(tree: &[Option<(u64, usize)>], at: usize) -> Option<(u64, usize)> {
    let mut best = None;
    let mut i = at + 1;
    while i > 0 {
        if let Some(v) = tree[i]
            && best.is_none_or(|b| v < b)
        {
            best = Some(v);
        }
        i &= i - 1;
    }
    best
}

fn insert(tree: &mut [Option<(u64, usize)>], at: usize, v: (u64, usize)) {
    let mut i = at + 1;
    while i < tree.len() {
        if tree[i].is_none_or(|b| v < b) {
            tree[i] = Some(v);
        }
        i += i & i.wrapping_neg();
    }
}

/// The rows of one parent (or of a phase's top level), in order: the
/// previous one, and those still running when it started.
#[derive(Default)]
struct Siblings {
    last: Option<usize>,
    /// Earlier siblings by (end, row), that ended after the latest one
    /// started: the only ones a later sibling can still wait for.
    open: BTreeMap<(u64, usize), ()>,
}

/// Each row's dependencies on its earlier siblings, and the lead of the
/// first row of each parent or phase from its start.
#[allow(clippy::type_complexity)]
fn siblings(
    rows: &[Row],
    phase_of: &[usize],
    parent: &[Option<usize>],
    phase_start: &[u64],
) -> (Vec<Vec<(usize, bool, u64)>>, Vec<Option<u64>>) {
    let n = rows.len();
    let mut by_parent: Vec<Siblings> = (0..n).map(|_| Siblings::default()).collect();
    let mut by_phase: Vec<Siblings> = (0..phase_start.len()).map(|_| Siblings::default()).collect();
    let mut after = vec![Vec::new(); n];
    let mut lead = vec![None; n];
    for i in 0..n {
        let r = &rows[i];
        let sibs = match parent[i] {
            Some(p) => &mut by_parent[p],
            None => &mut by_phase[phase_of[i]],
        };
        match sibs.last {
            None => {
                let from = parent[i].map_or(phase_start[phase_of[i]], |p| rows[p].start_ms);
                lead[i] = Some(r.start_ms - from);
            }
            Some(prev) => {
                let p = &rows[prev];
                if r.start_ms >= p.end_or_start() {
                    after[i].push((prev, false, r.start_ms - p.end_or_start()));
                } else {
                    after[i].push((prev, true, r.start_ms - p.start_ms));
                }
                // Earlier siblings still running when the previous one
                // started, and done by now: wait for them too (the latest
                // declared first). Those that ended before it started can
                // never be waited for again: later rows start later still.
                let stale: Vec<(u64, usize)> = sibs.open.range(..(p.start_ms + 1, 0)).map(|(k, _)| *k).collect();
                for k in stale {
                    sibs.open.remove(&k);
                }
                let mut waits: Vec<usize> =
                    sibs.open.range(..(r.start_ms + 1, 0)).map(|((_, s), _)| *s).filter(|s| *s != prev).collect();
                waits.sort_unstable_by(|a, b| b.cmp(a));
                after[i].extend(waits.into_iter().map(|s| (s, false, r.start_ms - rows[s].end_or_start())));
            }
        }
        sibs.last = Some(i);
        sibs.open.insert((r.end_or_start(), i), ());
    }
    (after, lead)
}
