//! The structure of a measured run rebuilt from its times: nesting (a row
//! spanning later rows of its phase is their parent), dependencies and the
//! lags between rows, so that a single run's `--median` replays it row for
//! row.

use std::collections::BTreeMap;

use super::export::{Row, Run};

/// The rebuilt structure of a run: per row, its parent row (if a row
/// spans it) and its dependencies on earlier rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// Phases (Steps values) in order of first start.
    pub(super) phases: Vec<String>,
    pub(super) parent: Vec<Option<usize>>,
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
    for r in rows {
        if !phases.contains(&r.steps) {
            phases.push(r.steps.clone());
        }
    }
    let mut parent = vec![None; n];
    // A row's parent: the innermost earlier row of the same phase that spans it.
    for i in 0..n {
        let r = &rows[i];
        let mut best: Option<usize> = None;
        for j in 0..i {
            let c = &rows[j];
            let spans = c.steps == r.steps
                && c.end_ms.is_some()
                && c.start_ms <= r.start_ms
                && r.end_or_start() <= c.end_or_start()
                && c.end_or_start() > c.start_ms
                && (c.start_ms < r.start_ms || c.end_or_start() > r.end_or_start());
            if spans && best.is_none_or(|b| rows[b].end_or_start() - rows[b].start_ms > c.end_or_start() - c.start_ms) {
                best = Some(j);
            }
        }
        parent[i] = best;
    }
    let mut after = vec![Vec::new(); n];
    let mut lead = vec![None; n];
    let mut finish_lag = vec![0; n];
    let mut last_child: BTreeMap<(String, Option<usize>), usize> = BTreeMap::new();
    let mut siblings: BTreeMap<(String, Option<usize>), Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = &rows[i];
        let key = (r.steps.clone(), parent[i]);
        let sibs = siblings.entry(key.clone()).or_default();
        match sibs.last().copied() {
            None => {
                let from = parent[i].map_or_else(|| phase_start(rows, &r.steps), |p| rows[p].start_ms);
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
                // started, and done by now: wait for them too.
                for &s in sibs.iter().rev().skip(1) {
                    let e = rows[s].end_or_start();
                    if e > p.start_ms && e <= r.start_ms {
                        after[i].push((s, false, r.start_ms - e));
                    }
                }
            }
        }
        sibs.push(i);
        last_child.insert(key, i);
    }
    for i in 0..n {
        let children: Vec<usize> = (0..n).filter(|c| parent[*c] == Some(i)).collect();
        if let Some(last_end) = children.iter().map(|c| rows[*c].end_or_start()).max() {
            finish_lag[i] = rows[i].end_or_start().saturating_sub(last_end);
        }
    }
    let phase_end = |p: &str| rows.iter().filter(|r| r.steps == p).map(Row::end_or_start).max().unwrap_or(0);
    let phase_after = (0..phases.len())
        .map(|k| {
            if k == 0 {
                return None;
            }
            let (prev, this) = (&phases[k - 1], &phases[k]);
            let start = phase_start(rows, this);
            let prev_end = phase_end(prev);
            Some(if start >= prev_end {
                (k - 1, false, start - prev_end)
            } else {
                (k - 1, true, start - phase_start(rows, prev))
            })
        })
        .collect();
    Shape { phases, parent, after, lead, finish_lag, phase_after }
}

fn phase_start(rows: &[Row], phase: &str) -> u64 {
    rows.iter().filter(|r| r.steps == phase).map(|r| r.start_ms).min().unwrap_or(0)
}
