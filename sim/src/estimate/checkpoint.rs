//! Go/no-go checkpoints that price themselves: "if step X is not done by T
//! into the downtime, roll back", for each step worth checking, at the time
//! that serves the weekend best, with what the rule costs and what it saves.
//!
//! A rule changes a run only if, at T, the run is still going forward and
//! X is not done: the run is then rolled back at T and, T being no later
//! than the point of no return, the old system is back inside the window.
//! Over the sampled runs, a rule's worth is counted in outcomes:
//! - a run that would have succeeded (committed inside the window) and is
//!   rolled back is a **needless** rollback: a go-live lost;
//! - a run that would have **blown** the window (committed late, aborted,
//!   or rolled back too late to be back in time) and is rolled back is
//!   **saved**: the business opens on the old system instead of neither;
//! - a run that would have rolled back in time anyway only rolls back
//!   sooner.
//!
//! The time T for a step is the one that maximises saved minus needless
//! (a blown window counts as bad as a success is good), the latest such
//! time on ties, never past the point of no return. The recommended rule is
//! the step whose rule does best; none when no rule saves more runs than
//! it loses.

use rehearse_core::event::Outcome;
use rehearse_core::scenario::{Scenario, StepIdx};

use super::pass::Sampled;
use super::stats::quantile;

/// One go/no-go rule and its price over the sampled runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub step: StepIdx,
    /// Roll back when the step is not done this long into the downtime.
    pub by_ms: u64,
    /// Shares of the sampled runs: rolled back by the rule, of those that
    /// would have succeeded, and of those that would have blown the window.
    pub rolls_back: f64,
    pub needless: f64,
    pub saved: f64,
    /// P(success) and P(blown window) with the rule applied.
    pub p_success: f64,
    pub p_blown: f64,
}

/// The rules worth showing.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoints {
    /// The sampled runs the rules are priced over.
    pub runs: u64,
    /// P(success) and P(blown window) of the sampled runs without any rule.
    pub p_success: f64,
    pub p_blown: f64,
    /// Per candidate step (the plan's milestones, or, when it marks none,
    /// the steps on the critical path of most committed runs), its best
    /// rule, best first.
    pub rules: Vec<Checkpoint>,
    /// The first of `rules`, when it saves more runs than it loses.
    pub recommended: Option<Checkpoint>,
    /// The naive rule for comparison: the last step a typical run has done
    /// by the point of no return, checked at the point of no return.
    pub naive: Option<Checkpoint>,
}

/// What a sampled run would be without any rule.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Success,
    /// Rolled back (or cancelled) with the old system back inside the window.
    BackInTime,
    Blown,
}

/// The candidate rules over `samples` (`outcomes[k]`: how run k ended,
/// `downtime[k]` its downtime, or outage).
pub(super) fn checkpoints(
    sc: &Scenario,
    samples: &[&Sampled],
    outcomes: &[Outcome],
    downtime: &[u64],
    window_ms: u64,
    latest_start_ms: u64,
    criticality: &[f64],
) -> Option<Checkpoints> {
    let n = samples.len();
    if n == 0 || latest_start_ms == 0 {
        return None;
    }
    let fate: Vec<Fate> = (0..n)
        .map(|k| match (outcomes[k], downtime[k] <= window_ms) {
            (Outcome::Committed, true) => Fate::Success,
            (Outcome::RolledBack | Outcome::Cancelled, true) => Fate::BackInTime,
            _ => Fate::Blown,
        })
        .collect();
    let share = |c: usize| c as f64 / n as f64;
    let successes = fate.iter().filter(|f| **f == Fate::Success).count();
    let blown = fate.iter().filter(|f| **f == Fate::Blown).count();

    // The rule for step i at time t fires in run k when t < limit(k): the
    // run is still going at t and the step not yet done. A run without
    // downtime is never checked.
    let limit = |i: usize, k: usize| -> u64 {
        let s = samples[k];
        if !s.began {
            return 0;
        }
        let done = s.done_at[i].unwrap_or(u64::MAX);
        done.min(s.stopped_at.unwrap_or(u64::MAX))
    };
    let price = |i: usize, by: u64| -> Checkpoint {
        let (mut fired, mut needless, mut saved) = (0, 0, 0);
        for (k, f) in fate.iter().enumerate() {
            if by < limit(i, k) {
                fired += 1;
                needless += usize::from(*f == Fate::Success);
                saved += usize::from(*f == Fate::Blown);
            }
        }
        Checkpoint {
            step: StepIdx(i as u32),
            by_ms: by,
            rolls_back: share(fired),
            needless: share(needless),
            saved: share(saved),
            p_success: share(successes - needless),
            p_blown: share(blown - saved),
        }
    };
    // The best time for step i: sweep the runs by when the rule stops
    // firing for them; the gain of a time t is the sum of the weights of
    // the runs with limit > t.
    let best_time = |i: usize| -> u64 {
        let mut limits: Vec<(u64, i64)> = (0..n)
            .map(|k| {
                let w = match fate[k] {
                    Fate::Success => -1,
                    Fate::Blown => 1,
                    Fate::BackInTime => 0,
                };
                (limit(i, k), w)
            })
            .collect();
        limits.sort_unstable();
        // Gain at t = 0: every run with limit > 0.
        let mut gain: i64 = limits.iter().filter(|(l, _)| *l > 0).map(|(_, w)| w).sum();
        let (mut best, mut best_t) = (gain, 0u64);
        let mut j = 0;
        while j < limits.len() {
            let t = limits[j].0;
            if t > latest_start_ms {
                break;
            }
            // At t, runs with limit == t stop firing.
            while j < limits.len() && limits[j].0 == t {
                if t > 0 {
                    gain -= limits[j].1;
                }
                j += 1;
            }
            if gain >= best {
                (best, best_t) = (gain, t);
            }
        }
        // Between the last limit and the point of no return the gain stays.
        if gain >= best { latest_start_ms } else { best_t }
    };

    // Per step, when the sampled runs had it done inside the downtime,
    // sorted; a step of the downtime is one at least half the runs did there.
    let ends: Vec<Vec<u64>> = (0..sc.steps.len())
        .map(|i| {
            let mut e: Vec<u64> = samples.iter().filter_map(|s| s.done_at[i]).filter(|e| *e > 0).collect();
            e.sort_unstable();
            e
        })
        .collect();
    let in_downtime = |i: usize| ends[i].len() * 2 >= n;
    // The plan's milestones, when it marks any; else the leaf steps on the
    // critical path of most committed runs.
    let marked = sc.steps.iter().any(|s| s.milestone);
    let candidate = |i: usize| {
        let s = &sc.steps[i];
        if marked { s.milestone } else { !s.is_group() && criticality[i] >= 0.5 }
    };
    let mut rules: Vec<Checkpoint> =
        (0..sc.steps.len()).filter(|i| candidate(*i) && in_downtime(*i)).map(|i| price(i, best_time(i))).collect();
    let worth = |c: &Checkpoint| c.saved - c.needless;
    rules.sort_by(|a, b| {
        worth(b).total_cmp(&worth(a)).then(b.p_success.total_cmp(&a.p_success)).then(a.step.cmp(&b.step))
    });
    let recommended = rules.first().filter(|c| worth(c) > 0.0).cloned();

    // The naive rule: the last step a typical run has done by the point of
    // no return (its median done time), checked then.
    let mut naive: Option<(usize, u64)> = None;
    for (i, done) in ends.iter().enumerate() {
        if sc.steps[i].is_group() || !in_downtime(i) {
            continue;
        }
        let p50 = quantile(done, 0.5);
        if p50 <= latest_start_ms && naive.is_none_or(|(_, best)| p50 > best) {
            naive = Some((i, p50));
        }
    }
    Some(Checkpoints {
        runs: n as u64,
        p_success: share(successes),
        p_blown: share(blown),
        rules,
        recommended,
        naive: naive.map(|(i, _)| price(i, latest_start_ms)),
    })
}
