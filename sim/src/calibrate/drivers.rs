//! Shared drivers from several runs: the sub-steps of one phase whose
//! durations move together from run to run (one SQL Server, one batch
//! server) get a `[[driver]]` of their own.
//!
//! How: for each phase, the sub-steps that completed once in every run and
//! took at least a minute (their median) are candidates. Each one's log
//! duration, less its mean over the runs, is its deviation in each run; the
//! A sub-step that spans others (a step with sub-steps in the scenario)
//! is no candidate: it has no duration of its own. The
//! mean pairwise correlation of those deviations over the runs is the
//! correlation found. At 0.5 or more the phase's candidates share a driver:
//! its factor in each run is the geometric mean of their ratios to their
//! own geometric mean (so the factors' geometric mean is 1), fitted as a
//! lognormal (median 1, p90 from the factors' log standard deviation), and
//! each sub-step keeps its observations divided by the run's factor, which
//! the usual fit then turns into its own (smaller) spread.

use std::collections::BTreeMap;

use super::export::Run;
use super::fit::Observed;

/// Runs needed before a correlation means anything.
pub(super) const MIN_RUNS: usize = 3;
/// The mean pairwise correlation from which sub-steps share a driver.
pub(super) const MIN_CORRELATION: f64 = 0.5;
/// Sub-steps shorter than this (their median) are left out: bookkeeping
/// whose milliseconds say nothing of a shared server.
const MIN_MEDIAN_MS: u64 = 60_000;

/// A driver found in the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundDriver {
    /// The phase (Steps) its sub-steps belong to.
    pub steps: String,
    /// Its sub-steps (SubSteps), in the order the base run lists them.
    pub substeps: Vec<String>,
    /// The mean pairwise correlation of their log durations over the runs.
    pub correlation: f64,
    /// The factor's p90 (its median is 1).
    pub p90: f64,
}

/// The drivers the runs show, each phase's candidates considered
/// together; the observations of the sub-steps they scale are divided by
/// each run's factor, in `observed`. Phases with candidates that do not
/// move together are reported with their correlation in `apart`.
pub(super) fn find(
    runs: &[Run],
    base: &Run,
    spans_others: &[bool],
    observed: &mut BTreeMap<(String, String), Observed>,
) -> (Vec<FoundDriver>, Vec<(String, f64)>) {
    let (mut found, mut apart) = (Vec::new(), Vec::new());
    if runs.len() < MIN_RUNS {
        return (found, apart);
    }
    // The candidates of each phase, in the base run's order.
    let mut phases: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (r, _) in base.rows.iter().zip(spans_others).filter(|(_, spans)| !**spans) {
        let Some(o) = observed.get(&(r.steps.clone(), r.substeps.clone())) else { continue };
        let mut v = o.completed_ms.clone();
        v.sort_unstable();
        let candidate = o.failed == 0
            && o.unfinished == 0
            && v.len() == runs.len()
            && v[v.len() / 2] >= MIN_MEDIAN_MS
            && v[0] != v[v.len() - 1];
        if candidate && !phases.get(r.steps.as_str()).is_some_and(|c| c.contains(&r.substeps.as_str())) {
            if !phases.contains_key(r.steps.as_str()) {
                order.push(&r.steps);
            }
            phases.entry(&r.steps).or_default().push(&r.substeps);
        }
    }
    for steps in order {
        let members = &phases[steps];
        if members.len() < 2 {
            continue;
        }
        // Each member's log deviations over the runs (observations are in run order).
        let dev: Vec<Vec<f64>> = members
            .iter()
            .map(|s| {
                let logs: Vec<f64> = observed[&(steps.to_string(), s.to_string())]
                    .completed_ms
                    .iter()
                    .map(|v| libm::log(*v as f64))
                    .collect();
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                logs.iter().map(|l| l - mean).collect()
            })
            .collect();
        let mut sum = 0.0;
        let mut pairs = 0usize;
        for a in 0..dev.len() {
            for b in a + 1..dev.len() {
                sum += crate::estimate::stats::correlation(&dev[a], &dev[b]).unwrap_or(0.0);
                pairs += 1;
            }
        }
        let correlation = sum / pairs as f64;
        if correlation < MIN_CORRELATION {
            apart.push((steps.to_string(), correlation));
            continue;
        }
        let n = runs.len();
        let log_factor: Vec<f64> = (0..n).map(|k| dev.iter().map(|d| d[k]).sum::<f64>() / dev.len() as f64).collect();
        let sd = libm::sqrt(log_factor.iter().map(|l| l * l).sum::<f64>() / (n - 1) as f64);
        let p90 = libm::exp(rehearse_core::dist::Z_90 * sd);
        // Below a millionth of spread the factor would be written as 1.
        if p90 <= 1.000_001 {
            continue;
        }
        for s in members {
            let o = observed.get_mut(&(steps.to_string(), s.to_string())).expect("a candidate is observed");
            for (v, l) in o.completed_ms.iter_mut().zip(&log_factor) {
                *v = libm::round((*v as f64) / libm::exp(*l)).max(1.0) as u64;
            }
        }
        found.push(FoundDriver {
            steps: steps.to_string(),
            substeps: members.iter().map(|s| s.to_string()).collect(),
            correlation,
            p90,
        });
    }
    (found, apart)
}
