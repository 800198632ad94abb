//! Plan B against plan A: both estimated on the same seeds, the differences
//! in P50, P90 and the window's fit with paired bootstrap intervals, and the
//! steps whose mean duration changed.

use std::sync::atomic::AtomicU64;

use rehearse_core::time::SimDuration;

use super::stats::{share_within, sorted_quantile};
use super::{Estimate, EstimateError, EstimateOptions, estimate};
use crate::engine::Plan;
use crate::rng::{self, Purpose};

/// Plan B against plan A on the same seeds and, for the steps and faults
/// they share, the same random numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: Estimate,
    pub b: Estimate,
    /// (metric, B minus A, 95 % bootstrap interval) for p50, p90 (ms) and
    /// p_fit (share).
    pub diffs: Vec<(&'static str, f64, (f64, f64))>,
    /// Steps whose mean duration changed, by id: (mean in A, mean in B),
    /// largest change first; a side is `None` where the step does not run.
    pub drivers: Vec<(String, Option<f64>, Option<f64>)>,
}

/// Compares two plans run with the same options.
///
/// # Errors
/// As [`estimate`].
pub fn compare(
    a: &Plan<'_>,
    b: &Plan<'_>,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    progress: &AtomicU64,
) -> Result<Comparison, EstimateError> {
    tracing::info!(a = %a.scenario().meta.name, b = %b.scenario().meta.name, runs = opts.runs, "compare: both plans on the same seeds");
    let ea = estimate(a, opts, window, progress)?;
    let eb = estimate(b, opts, window, progress)?;
    let n = ea.downtime_by_run.len();
    type Metric = fn(&[u64], Option<SimDuration>) -> f64;
    let metrics: [(&'static str, Metric); 3] = [
        ("p50", |v, _| sorted_quantile(v, 0.5)),
        ("p90", |v, _| sorted_quantile(v, 0.9)),
        ("p_fit", |v, w| w.map_or(f64::NAN, |w| share_within(v, w.as_ms()))),
    ];
    // Paired bootstrap: resample run indices, the same ones for both plans.
    let mut stream = rng::stream(opts.seed, 0, Purpose::Analysis, rng::key_of("compare"), 0);
    let resamples: Vec<Vec<usize>> = (0..200)
        .map(|_| (0..n).map(|_| (rand_core::Rng::next_u64(&mut stream) % n as u64) as usize).collect())
        .collect();
    let diffs = metrics
        .iter()
        .filter(|(name, _)| *name != "p_fit" || window.is_some())
        .map(|(name, f)| {
            let point = f(&ea.downtime_by_run, window) - f(&eb.downtime_by_run, window);
            let mut boot: Vec<f64> = resamples
                .iter()
                .map(|idx| {
                    let ra: Vec<u64> = idx.iter().map(|i| ea.downtime_by_run[*i]).collect();
                    let rb: Vec<u64> = idx.iter().map(|i| eb.downtime_by_run[*i]).collect();
                    f(&rb, window) - f(&ra, window)
                })
                .collect();
            boot.sort_by(f64::total_cmp);
            (*name, -point, (boot[4], boot[194]))
        })
        .collect();
    let (sa, sb) = (a.scenario(), b.scenario());
    let mut ids: Vec<&str> =
        sa.steps.iter().chain(&sb.steps).filter(|s| !s.is_group()).map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut drivers: Vec<(String, Option<f64>, Option<f64>)> = ids
        .into_iter()
        .map(|id| {
            let ma = sa.find(id).and_then(|i| ea.step_mean_ms[i.index()]);
            let mb = sb.find(id).and_then(|i| eb.step_mean_ms[i.index()]);
            (id.to_string(), ma, mb)
        })
        // Changes under 1 % (and 1 s) are the conditioning on which runs
        // reached the step, not a change of the step.
        .filter(|(_, ma, mb)| match (ma, mb) {
            (Some(x), Some(y)) => (x - y).abs() > (0.01 * x.max(*y)).max(1_000.0),
            (None, None) => false,
            _ => true,
        })
        .collect();
    let change = |(_, ma, mb): &(String, Option<f64>, Option<f64>)| (mb.unwrap_or(0.0) - ma.unwrap_or(0.0)).abs();
    drivers.sort_by(|x, y| change(y).total_cmp(&change(x)).then(x.0.cmp(&y.0)));
    Ok(Comparison { a: ea, b: eb, diffs, drivers })
}
