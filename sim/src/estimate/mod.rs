//! Downtime estimation: its options and its entry point. Many runs on all
//! cores, reduced to small per-run results and merged in run order, so the
//! numbers never depend on the thread count.
//!
//! Run `k` is `(seed, run = k)`: `rehearse run --seed S` is run 0 of
//! `rehearse estimate --seed S`. Every random number of a step comes from
//! its own stream, so re-running without one fault (for its cost) changes
//! nothing else.

mod checkpoint;
mod compare;
mod gate;
mod json;
mod part;
mod pass;
mod pnr;
mod rerun;
pub(crate) mod stats;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use rehearse_core::event::Outcome;
use rehearse_core::fault::FaultIdx;
use rehearse_core::time::SimDuration;

pub use self::checkpoint::{Checkpoint, Checkpoints};
pub use self::compare::{Comparison, Diff, compare};
pub use self::gate::{Gate, GateError, Metric, Op, failed};
pub use self::json::{dated, to_json};
pub use self::part::{Gathered, options_from, options_json, write_part};
pub use self::pnr::{PlanDeadline, PointOfNoReturn};
pub use self::rerun::{Baseline, QuantileRun, baseline, gantt_runs};
pub use self::stats::Bin;

use self::pass::{Pass, RunResult, Sampled, pass};
use self::stats::{Changed, converged_after, mean, p90_ci, quantile, select_quantile};
use crate::engine::{Limits, Plan};

/// The downtime quantiles reported, by name.
pub const QUANTILES: [(&str, f64); 5] = [("p50", 0.5), ("p80", 0.8), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)];

/// What to estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateOptions {
    pub runs: u64,
    pub seed: u64,
    pub threads: usize,
    pub limits: Limits,
    /// Runs kept whole (step durations and end times) for sensitivity and
    /// the go/no-go checkpoint: the first this many.
    pub sample_runs: u64,
    /// Run each run a fault struck again without it, to price it.
    pub fault_costs: bool,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            runs: 10_000,
            seed: 0,
            threads: 1,
            limits: Limits::default(),
            sample_runs: 10_000,
            fault_costs: true,
        }
    }
}

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("run {run} (seed {seed}): {error}")]
    Run { run: u64, seed: u64, error: crate::SimError },
    #[error("no runs to estimate from")]
    NoRuns,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the parts do not add up: {0}")]
    Part(String),
}

/// A fault's part in the outcome and the downtime, with the fault against
/// without it on the same random numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultStat {
    pub fault: FaultIdx,
    /// Runs in which it struck at least once.
    pub runs_struck: u64,
    pub strikes: u64,
    /// What the fault costs in P(success), in percentage points: the runs
    /// it makes fail (`runs_lost`), over all runs, negative; never
    /// positive. The runs it rescues are counted apart.
    pub p_success_shift: Option<f64>,
    /// P(success) with the fault minus without it, in points: `runs_rescued`
    /// minus `runs_lost`, over all runs.
    pub p_success_net_shift: Option<f64>,
    /// Runs that succeed without the fault and not with it.
    pub runs_lost: Option<u64>,
    /// Runs that succeed with the fault and not without it: its delay moved
    /// a later failure past a rollback's deadline, where the plan does
    /// something else (fixes forward).
    pub runs_rescued: Option<u64>,
    /// Over the runs that commit both with and without it: the committed
    /// P50 and P90 with it minus without it.
    pub committed_p50_shift_ms: Option<i64>,
    pub committed_p90_shift_ms: Option<i64>,
}

/// How much a step drives the go-live's downtime, over committed runs: the
/// runs where it was long (the upper half of its durations) against those
/// where it was short (the lower half). The mean is what reports rank by:
/// the P90 of half the runs is noisy (at 10,000 runs it moves by most of
/// an hour for a step of minutes), the mean by a few minutes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Driver {
    /// P90 downtime of the long half minus that of the short half.
    pub p90_shift_ms: i64,
    /// Mean downtime of the long half minus that of the short half.
    pub mean_shift_ms: f64,
}

/// The estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// What the downtimes below hold: the downtime, or the elapsed time of
    /// a plan without downtime.
    pub measure: Measure,
    pub runs: u64,
    pub seed: u64,
    /// Downtime of every run, by run index: the go-live's downtime for a
    /// committed run, the outage (until the old system was back) for a
    /// rolled-back one.
    pub downtime_by_run: Vec<u64>,
    /// How each run ended, by run index.
    pub outcome_by_run: Vec<Outcome>,
    /// Downtime of every run, whatever its outcome, sorted.
    pub downtime_sorted: Vec<u64>,
    /// Downtime of the committed runs, sorted: the go-live's downtime.
    pub committed_sorted: Vec<u64>,
    /// Outage of the rolled-back runs, sorted.
    pub outage_sorted: Vec<u64>,
    /// Per step: mean duration over the sampled runs that ran it.
    pub step_mean_ms: Vec<Option<f64>>,
    /// Mean downtime of the committed runs (`None` when none committed).
    pub mean_ms: Option<f64>,
    /// 95 % confidence interval of the committed runs' P90 (order
    /// statistics).
    pub p90_ci: Option<(u64, u64)>,
    /// Runs after which the running P90 of committed runs stayed within 1 %
    /// of the final one.
    pub converged_after: Option<u64>,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub window: Option<SimDuration>,
    /// The share of runs that committed with their downtime inside the
    /// window (that committed, without a window).
    pub p_success: f64,
    /// Per step: share of committed runs with it on the critical path.
    pub criticality: Vec<f64>,
    /// Per step: Spearman rank correlation of its duration with downtime
    /// over the sampled committed runs (`None` when it never varies).
    pub sensitivity: Vec<Option<f64>>,
    /// Per step: how much it moves the committed downtime (`None` when it
    /// never varies).
    pub drivers: Vec<Option<Driver>>,
    pub faults: Vec<FaultStat>,
    pub point_of_no_return: Option<PointOfNoReturn>,
    pub checkpoints: Option<Checkpoints>,
    /// Per resource (`[[resource]]`, in file order): who is needed when,
    /// over the sampled runs that committed.
    pub call_sheet: Vec<CallSheet>,
}

/// One resource's call: when its steps first start and last end (ms from
/// downtime's begin, negative before it; from the run's start for a plan
/// without downtime) and the time they take, summed, each at P10, P50 and
/// P90 of the sampled committed runs in which any of them ran.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSheet {
    pub resource: usize,
    pub runs: usize,
    pub from_ms: [i64; 3],
    pub until_ms: [i64; 3],
    pub busy_ms: [u64; 3],
}

/// The quantiles a call sheet gives: P10, P50, P90.
pub const CALL_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// The call sheet over the committed runs among `samples`.
fn call_sheet(n_resources: usize, samples: &[&Sampled], outcome_by_run: &[Outcome]) -> Vec<CallSheet> {
    (0..n_resources)
        .map(|r| {
            let calls: Vec<pass::Call> = samples
                .iter()
                .zip(outcome_by_run)
                .filter(|(_, o)| **o == Outcome::Committed)
                .filter_map(|(s, _)| s.calls[r])
                .collect();
            // Nearest rank, as every quantile here; 0 where no run needed it.
            fn at<T: Copy + Ord + Default>(mut v: Vec<T>) -> [T; 3] {
                v.sort_unstable();
                CALL_QUANTILES.map(|q| quantile(&v, q))
            }
            CallSheet {
                resource: r,
                runs: calls.len(),
                from_ms: at(calls.iter().map(|c| c.from_ms).collect()),
                until_ms: at(calls.iter().map(|c| c.until_ms).collect()),
                busy_ms: at(calls.iter().map(|c| c.busy_ms).collect()),
            }
        })
        .collect()
}

impl Estimate {
    /// The committed runs' downtime quantile `q` (nearest rank); 0 when no
    /// run committed.
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.committed_sorted, q)
    }

    /// The committed runs' downtime quantile `q`, `None` when none did.
    pub fn committed_quantile(&self, q: f64) -> Option<u64> {
        (!self.committed_sorted.is_empty()).then(|| self.quantile(q))
    }

    /// The share of all runs live (committed) within `ms` of downtime.
    pub fn live_within(&self, ms: u64) -> f64 {
        self.committed_sorted.partition_point(|x| *x <= ms) as f64 / self.runs.max(1) as f64
    }

    /// The time into the downtime by which a share `q` of all runs is live
    /// (committed): a run that did not commit never goes live, so `None`
    /// when fewer than that share commit.
    pub fn go_live(&self, q: f64) -> Option<u64> {
        let rank = ((q * self.runs as f64).ceil() as usize).max(1);
        self.committed_sorted.get(rank - 1).copied()
    }

    /// The rolled-back runs' outage quantile `q`, `None` when none rolled
    /// back.
    pub fn outage_quantile(&self, q: f64) -> Option<u64> {
        (!self.outage_sorted.is_empty()).then(|| quantile(&self.outage_sorted, q))
    }

    /// The share of runs that ended with `outcome`.
    pub fn share(&self, outcome: Outcome) -> f64 {
        *self.outcomes.get(&outcome).unwrap_or(&0) as f64 / self.runs as f64
    }

    /// The downtimes of all runs in `bins` bins of equal width, smallest to
    /// largest, each with how many of its runs committed.
    pub fn histogram(&self, bins: u64) -> Vec<(Bin, u64)> {
        let all = stats::histogram(&self.downtime_sorted, bins);
        let committed = stats::count_in(&self.committed_sorted, &all);
        all.into_iter().zip(committed).collect()
    }
}

/// What an estimate measures: the downtime, or, for a plan that has none
/// (no step marks where downtime begins or ends, like a code upgrade), the
/// elapsed time from the start of the run to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Downtime,
    Elapsed,
}

impl Measure {
    pub fn of(sc: &rehearse_core::Scenario) -> Measure {
        if sc.steps.iter().any(|s| s.downtime.is_some()) { Measure::Downtime } else { Measure::Elapsed }
    }

    /// The quantity, in prose ("downtime", "elapsed time").
    pub fn label(self) -> &'static str {
        match self {
            Measure::Downtime => "downtime",
            Measure::Elapsed => "elapsed time",
        }
    }

    /// Its key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Measure::Downtime => "downtime",
            Measure::Elapsed => "elapsed",
        }
    }
}

/// Runs the estimate. `progress` counts finished runs.
///
/// # Errors
/// A run that exceeds its limits, or no runs.
pub fn estimate(
    plan: &Plan<'_>,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    progress: &AtomicU64,
) -> Result<Estimate, EstimateError> {
    if opts.runs == 0 {
        return Err(EstimateError::NoRuns);
    }
    let sc = plan.scenario();
    let sample = opts.sample_runs.min(opts.runs);
    let measure = Measure::of(sc);
    tracing::info!(
        scenario = %sc.meta.name,
        runs = opts.runs,
        seed = opts.seed,
        threads = opts.threads.max(1),
        sample_runs = sample,
        fault_costs = opts.fault_costs,
        max_events = opts.limits.max_events,
        max_time = %opts.limits.max_time,
        window = %window.map_or("none".to_string(), |w| w.to_string()),
        measure = measure.key(),
        "estimate begins"
    );
    let mut main = pass(plan, measure, opts, sample, 0..opts.runs, opts.fault_costs, progress)?;
    let mut without = std::mem::take(&mut main.without);
    finish(plan, opts, window, main, &mut |fault, struck| {
        let priced = std::mem::take(&mut without[fault.index()]);
        debug_assert_eq!(priced.len(), struck.len(), "the main pass priced every run the fault struck");
        Ok(priced)
    })
}

/// `a()` and `b()`, side by side on two threads when `parallel`.
fn side_by_side<A: Send, B: Send>(parallel: bool, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (a.join().expect("an estimate thread panicked"), b)
    })
}

/// The runs a fault's pricing runs again without it, out of `results`
/// (the runs `first..`): see [`pass::priced`].
fn struck_runs(results: &[RunResult], first: u64, fault: FaultIdx) -> Vec<u64> {
    (first..).zip(results).filter(|(_, r)| pass::priced(r.struck_mask, fault.index())).map(|(k, _)| k).collect()
}

/// A fault's struck runs' results without it, given the runs.
type Price<'a> = dyn FnMut(FaultIdx, &[u64]) -> Result<Vec<RunResult>, EstimateError> + 'a;

/// The estimate from every run's reduced result, in run order (`main`:
/// the main pass over all runs, merged from shards or not), the one
/// finishing of an estimate: `price` gives a fault's struck runs' results
/// without it (run again, or read from parts).
fn finish(
    plan: &Plan<'_>,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    main: Pass,
    price: &mut Price<'_>,
) -> Result<Estimate, EstimateError> {
    let sc = plan.scenario();
    let measure = Measure::of(sc);
    let downtimes: Vec<u64> = main.results.iter().map(|r| r.downtime_ms).collect();
    let outcome_by_run: Vec<Outcome> =
        main.results.iter().map(|r| r.outcome.expect("every run has an outcome")).collect();
    // A fault has its own random streams: a run it did not strike is the
    // same run without it. Only the runs it struck are re-run to price it
    // (all runs, for faults past the 64th). Listed now, so that the main
    // pass's results go before the rest is worked out (a million runs
    // hold 24 MB in them).
    let struck_by_fault: Vec<Vec<u64>> = if opts.fault_costs {
        (0..sc.faults.len()).map(|f| struck_runs(&main.results, 0, FaultIdx(f as u32))).collect()
    } else {
        Vec::new()
    };
    drop(main.results);
    let n_runs = downtimes.len();
    let window_ms = window.map_or(u64::MAX, SimDuration::as_ms);
    let success = |o: Outcome, d: u64| o == Outcome::Committed && d <= window_ms;

    let mut outcomes = BTreeMap::new();
    for o in &outcome_by_run {
        *outcomes.entry(*o).or_insert(0u64) += 1;
    }
    let of = |wanted: Outcome| -> Vec<u64> {
        downtimes.iter().zip(&outcome_by_run).filter(|(_, o)| **o == wanted).map(|(d, _)| *d).collect()
    };
    // Every run's downtime sorted, and beside it (on another thread when
    // there is one) what needs the committed runs in run order: their
    // mean and when their P90 settled. The committed runs sorted are then
    // the sorted runs less the few that did not commit.
    let committed_in_order = of(Outcome::Committed);
    let (sorted, (p90, mean_ms, converged)) = side_by_side(
        opts.threads > 1,
        || {
            let mut sorted = downtimes.clone();
            sorted.sort_unstable();
            sorted
        },
        || {
            if committed_in_order.is_empty() {
                return (0, None, None);
            }
            let p90 = select_quantile(&mut committed_in_order.clone(), 0.9);
            (p90, Some(mean(&committed_in_order)), converged_after(&committed_in_order, p90))
        },
    );
    drop(committed_in_order);
    let mut not_committed: Vec<u64> =
        downtimes.iter().zip(&outcome_by_run).filter(|(_, o)| **o != Outcome::Committed).map(|(d, _)| *d).collect();
    not_committed.sort_unstable();
    let committed_sorted = stats::less(&sorted, &not_committed);
    debug_assert_eq!(p90, quantile(&committed_sorted, 0.9));
    let mut outage_sorted = of(Outcome::RolledBack);
    outage_sorted.sort_unstable();
    let committed = committed_sorted.len() as u64;
    let successes = downtimes.iter().zip(&outcome_by_run).filter(|(d, o)| success(**o, **d)).count();
    let p_success = successes as f64 / n_runs as f64;
    let criticality = stats::criticality(&main.counts.critical, committed);

    // Sensitivity and drivers over the sampled runs that committed: a
    // rollback's short outage says nothing of what makes a go-live long.
    let samples: Vec<&Sampled> = main.samples.iter().collect();
    let kept: Vec<usize> = (0..samples.len()).filter(|k| outcome_by_run[*k] == Outcome::Committed).collect();
    let durations: Vec<&[u64]> = kept.iter().map(|k| samples[*k].durations.as_slice()).collect();
    let sample_downtime: Vec<u64> = kept.iter().map(|k| downtimes[*k]).collect();
    let (sensitivity, drivers) =
        stats::sensitivity_and_drivers(&durations, &sample_downtime, sc.steps.len(), opts.threads > 1);
    tracing::debug!(
        runs = n_runs,
        sampled = samples.len(),
        committed,
        p_success,
        p90_ms = p90,
        "main pass reduced: outcomes, quantiles, criticality and drivers"
    );

    let mut faults: Vec<FaultStat> = (0..sc.faults.len())
        .map(|f| FaultStat {
            fault: FaultIdx(f as u32),
            runs_struck: main.counts.runs_struck[f],
            strikes: main.counts.strikes[f],
            p_success_shift: None,
            p_success_net_shift: None,
            runs_lost: None,
            runs_rescued: None,
            committed_p50_shift_ms: None,
            committed_p90_shift_ms: None,
        })
        .collect();
    if opts.fault_costs {
        // A fault changes only the runs it struck. Over the runs that commit
        // both ways, the downtimes with it are the committed runs' less the
        // struck runs that commit with it only; without it, the committed
        // runs' less every struck one committed with it, plus their
        // downtimes without it (`Changed`: a few changes to a million runs).
        let (mut with_only, mut struck_committed, mut without_committed) = (Vec::new(), Vec::new(), Vec::new());
        for (stat, struck) in faults.iter_mut().zip(struck_by_fault) {
            tracing::debug!(
                fault = %sc.faults[stat.fault.index()].id,
                runs_struck = struck.len(),
                "pricing a fault: the runs it struck, again without it"
            );
            let without = price(stat.fault, &struck)?;
            let (mut lost, mut rescued) = (0u64, 0u64);
            with_only.clear();
            struck_committed.clear();
            without_committed.clear();
            for (&k, r) in struck.iter().zip(&without) {
                let (o, d) = (outcome_by_run[k as usize], downtimes[k as usize]);
                let (wo, wd) = (r.outcome.expect("every run has an outcome"), r.downtime_ms);
                match (success(o, d), success(wo, wd)) {
                    (false, true) => lost += 1,
                    (true, false) => rescued += 1,
                    _ => {}
                }
                if o == Outcome::Committed {
                    struck_committed.push(d);
                    match wo {
                        Outcome::Committed => without_committed.push(wd),
                        _ => with_only.push(d),
                    }
                }
            }
            stat.p_success_shift = Some(-100.0 * lost as f64 / n_runs as f64);
            stat.p_success_net_shift = Some(100.0 * (rescued as f64 - lost as f64) / n_runs as f64);
            (stat.runs_lost, stat.runs_rescued) = (Some(lost), Some(rescued));
            for v in [&mut with_only, &mut struck_committed, &mut without_committed] {
                v.sort_unstable();
            }
            let with = Changed { base: &committed_sorted, out: &with_only, more: &[] };
            let without = Changed { base: &committed_sorted, out: &struck_committed, more: &without_committed };
            if with.len() > 0 {
                let shift = |q: f64| with.quantile(q) as i64 - without.quantile(q) as i64;
                stat.committed_p50_shift_ms = Some(shift(0.5));
                stat.committed_p90_shift_ms = Some(shift(0.9));
            }
        }
    }

    let point_of_no_return = window.and_then(|w| pnr::point_of_no_return(sc, opts.seed, w, &samples));
    let checkpoints = point_of_no_return.as_ref().and_then(|p| {
        checkpoint::checkpoints(
            sc,
            &samples,
            &outcome_by_run[..samples.len()],
            &downtimes[..samples.len()],
            window_ms,
            p.latest_start_ms,
            &criticality,
        )
    });
    let call_sheet = call_sheet(sc.resources.len(), &samples, &outcome_by_run[..samples.len()]);
    let all_durations: Vec<&[u64]> = samples.iter().map(|r| r.durations.as_slice()).collect();
    let step_mean_ms = stats::step_means(&all_durations, sc.steps.len());
    if let Some(p) = &point_of_no_return {
        tracing::debug!(
            rollback_p90_ms = p.rollback_p90_ms,
            latest_start_ms = p.latest_start_ms,
            recommended = ?checkpoints.as_ref().and_then(|c| c.recommended.as_ref()).map(|c| &sc.step(c.step).id),
            "point of no return and go/no-go checkpoints"
        );
    }
    Ok(Estimate {
        measure,
        runs: opts.runs,
        seed: opts.seed,
        p90_ci: (!committed_sorted.is_empty()).then(|| p90_ci(&committed_sorted)),
        converged_after: converged,
        step_mean_ms,
        mean_ms,
        downtime_sorted: sorted,
        downtime_by_run: downtimes,
        outcome_by_run,
        committed_sorted,
        outage_sorted,
        outcomes,
        window,
        p_success,
        criticality,
        sensitivity,
        drivers,
        faults,
        point_of_no_return,
        checkpoints,
        call_sheet,
    })
}
