//! Downtime estimation: its options and its entry point. Many runs on all
//! cores, reduced to small per-run results and merged in run order, so the
//! numbers never depend on the thread count.
//!
//! Run `k` is `(seed, run = k)`: `rehearse run --seed S` is run 0 of
//! `rehearse estimate --seed S`. Every random number of a step comes from
//! its own stream, so re-running without one fault (for its cost) changes
//! nothing else.

mod compare;
mod gate;
mod pass;
mod pnr;
mod rerun;
mod stats;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use rehearse_core::event::Outcome;
use rehearse_core::fault::FaultIdx;
use rehearse_core::time::SimDuration;

pub use self::compare::{Comparison, compare};
pub use self::gate::{Gate, GateError, Metric, Op, failed};
pub use self::pnr::PointOfNoReturn;
pub use self::rerun::{QuantileRun, baseline_downtime, gantt_runs};
pub use self::stats::Bin;

use self::pass::{Sampled, pass};
use self::stats::{converged_after, mean, p90_ci, quantile, select_quantile, share_within};
use crate::engine::{FaultMode, Limits, Plan};

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
    /// Re-run without each fault to price it (one more pass per fault).
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
}

/// A fault's part in the downtime.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultStat {
    pub fault: FaultIdx,
    /// Runs in which it struck at least once.
    pub runs_struck: u64,
    pub strikes: u64,
    /// Mean downtime with the fault minus without it (same random numbers).
    pub added_mean_ms: Option<f64>,
    /// P90 downtime with it minus without it.
    pub p90_shift_ms: Option<i64>,
}

/// The estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// What `downtime_*` below hold: the downtime, or the elapsed time of
    /// a plan without downtime.
    pub measure: Measure,
    pub runs: u64,
    pub seed: u64,
    /// Downtime of every run, sorted.
    pub downtime_sorted: Vec<u64>,
    /// Downtime of every run, by run index (for paired comparisons).
    pub downtime_by_run: Vec<u64>,
    /// Per step: mean duration over the sampled runs that ran it.
    pub step_mean_ms: Vec<Option<f64>>,
    pub mean_ms: f64,
    /// 95 % confidence interval of the P90 (order statistics).
    pub p90_ci: (u64, u64),
    /// Runs after which the running P90 stayed within 1 % of the final one.
    pub converged_after: Option<u64>,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub window: Option<SimDuration>,
    /// Share of runs whose downtime fits the window.
    pub p_fit: Option<f64>,
    /// Per step: share of committed runs with it on the critical path.
    pub criticality: Vec<f64>,
    /// Per step: Spearman rank correlation of its duration with downtime
    /// over the sampled runs (`None` when it never varies).
    pub sensitivity: Vec<Option<f64>>,
    pub faults: Vec<FaultStat>,
    pub point_of_no_return: Option<PointOfNoReturn>,
}

impl Estimate {
    /// The downtime quantile `q` (nearest rank).
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.downtime_sorted, q)
    }

    /// The downtimes in `bins` bins of equal width, smallest to largest.
    pub fn histogram(&self, bins: u64) -> Vec<Bin> {
        stats::histogram(&self.downtime_sorted, bins)
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

/// Runs the estimate. `progress` counts finished runs (all passes).
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
    let main = pass(plan, measure, opts, &FaultMode::Probabilistic, sample, None, progress)?;
    let downtimes: Vec<u64> = main.results.iter().map(|r| r.downtime_ms).collect();
    let mut sorted = downtimes.clone();
    sorted.sort_unstable();
    let n_runs = downtimes.len();
    let mean_ms = mean(&downtimes);
    let p90 = quantile(&sorted, 0.9);

    let mut outcomes = BTreeMap::new();
    for r in &main.results {
        *outcomes.entry(r.outcome.expect("every run has an outcome")).or_insert(0u64) += 1;
    }
    let committed = outcomes.get(&Outcome::Committed).copied().unwrap_or(0);
    let criticality = stats::criticality(&main.counts.critical, committed);

    let samples: Vec<&Sampled> = main.samples.iter().collect();
    let durations: Vec<&[u64]> = samples.iter().map(|r| r.durations.as_slice()).collect();
    let sample_downtime: Vec<u64> = main.results.iter().take(samples.len()).map(|r| r.downtime_ms).collect();
    let sensitivity = stats::sensitivity(&durations, &sample_downtime, sc.steps.len());
    tracing::debug!(
        runs = n_runs,
        sampled = samples.len(),
        committed,
        p90_ms = p90,
        "main pass reduced: quantiles, criticality and sensitivity"
    );

    let mut faults: Vec<FaultStat> = (0..sc.faults.len())
        .map(|f| FaultStat {
            fault: FaultIdx(f as u32),
            runs_struck: main.counts.runs_struck[f],
            strikes: main.counts.strikes[f],
            added_mean_ms: None,
            p90_shift_ms: None,
        })
        .collect();
    if opts.fault_costs {
        for stat in faults.iter_mut() {
            // A fault has its own random streams: a run it did not strike is
            // the same run without it. Only the runs it struck are re-run
            // (all runs, for faults past the 64th).
            let f = stat.fault.0;
            let struck: Vec<u64> =
                (0..opts.runs).filter(|k| f >= 64 || main.results[*k as usize].struck_mask >> f & 1 == 1).collect();
            tracing::debug!(
                fault = %sc.faults[stat.fault.index()].id,
                runs_struck = struck.len(),
                "pricing a fault: the runs it struck, again without it"
            );
            let without =
                pass(plan, measure, opts, &FaultMode::Without(stat.fault), 0, Some(&struck), &AtomicU64::new(0))?;
            let mut d = downtimes.clone();
            for (place, k) in struck.iter().enumerate() {
                d[*k as usize] = without.results[place].downtime_ms;
            }
            stat.added_mean_ms = Some(mean_ms - mean(&d));
            stat.p90_shift_ms = Some(p90 as i64 - select_quantile(&mut d, 0.9) as i64);
        }
    }

    let p_fit = window.map(|w| share_within(&downtimes, w.as_ms()));
    let point_of_no_return = window.and_then(|w| pnr::point_of_no_return(sc, opts.seed, w, &samples));
    let step_mean_ms = stats::step_means(&durations, sc.steps.len());
    if let Some(p) = &point_of_no_return {
        tracing::debug!(
            rollback_p90_ms = p.rollback_p90_ms,
            latest_start_ms = p.latest_start_ms,
            checkpoint = ?p.checkpoint.map(|(step, _)| &sc.step(step).id),
            "point of no return"
        );
    }
    Ok(Estimate {
        measure,
        runs: opts.runs,
        seed: opts.seed,
        p90_ci: p90_ci(&sorted),
        converged_after: converged_after(&downtimes, p90),
        step_mean_ms,
        downtime_sorted: sorted,
        downtime_by_run: downtimes,
        mean_ms,
        outcomes,
        window,
        p_fit,
        criticality,
        sensitivity,
        faults,
        point_of_no_return,
    })
}
