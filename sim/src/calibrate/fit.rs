//! What the measured runs say of each sub-step: its durations over all
//! runs (a fixed value, a lognormal where one fits, else the observations),
//! its failure rate, and how it scales with the database's size.

use std::collections::BTreeMap;

use rehearse_core::dist::Dist;
use rehearse_core::scenario::MAX_SPAN;
use rehearse_core::time::SimDuration;

use super::Options;
use super::export::{RowStatus, Run};

/// What was observed of one sub-step (or, from weekend logs, one step)
/// over all runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub completed_ms: Vec<u64>,
    pub failed: u32,
    pub unfinished: u32,
}

impl Observed {
    /// Attempts seen: failed and completed (unfinished ones are not).
    pub(super) fn attempts(&self) -> usize {
        self.failed as usize + self.completed_ms.len()
    }

    /// The share of attempts that failed.
    pub(super) fn failure_rate(&self) -> f64 {
        f64::from(self.failed) / self.attempts() as f64
    }

    /// Both observations together.
    pub(super) fn merged(&self, other: &Observed) -> Observed {
        let mut completed_ms = self.completed_ms.clone();
        completed_ms.extend_from_slice(&other.completed_ms);
        Observed { completed_ms, failed: self.failed + other.failed, unfinished: self.unfinished + other.unfinished }
    }
}

/// Each sub-step's observations over all runs, by (Steps, SubSteps).
pub(super) fn observe(runs: &[Run]) -> BTreeMap<(String, String), Observed> {
    let mut observed: BTreeMap<(String, String), Observed> = BTreeMap::new();
    for run in runs {
        for r in &run.rows {
            let o = observed.entry((r.steps.clone(), r.substeps.clone())).or_default();
            match (r.status, r.end_ms) {
                (RowStatus::Completed, Some(e)) => o.completed_ms.push(e - r.start_ms),
                (RowStatus::Failed, _) => o.failed += 1,
                _ => o.unfinished += 1,
            }
        }
    }
    observed
}

/// Sub-steps whose time follows the data volume ("Times vary, based on data
/// volumes"): database synchronisation and the upgrade scripts.
pub fn is_size_dependent(substeps: &str) -> bool {
    matches!(substeps, "AdditiveDbSync" | "PartialDbSync" | "SyncSchema" | "WaitForBatch" | "EnableSafeMode")
}

/// The factor a size-dependent step's durations are scaled by: the planned
/// size over the measured one, or 1.
pub(super) fn size_factor(opts: &Options, size_dependent: bool) -> f64 {
    match opts.size_gb {
        Some((from, to)) if size_dependent && from > 0.0 => to / from,
        _ => 1.0,
    }
}

/// A sub-step's duration, fitted to its observations.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Fitted {
    Instant,
    /// A single observation, in ms.
    Fixed(u64),
    Lognormal {
        median_ms: u64,
        p90_ms: u64,
    },
    /// The observations themselves, sorted, in ms.
    Empirical(Vec<u64>),
}

impl Fitted {
    /// The distribution the scenario will hold, as the validator builds it.
    pub(super) fn dist(&self) -> Dist {
        let built = match self {
            Fitted::Instant => Ok(Dist::fixed(SimDuration::ZERO)),
            Fitted::Fixed(v) => Ok(Dist::fixed(SimDuration(*v))),
            Fitted::Lognormal { median_ms, p90_ms } => Dist::lognormal(SimDuration(*median_ms), SimDuration(*p90_ms)),
            Fitted::Empirical(v) => Dist::empirical(&v.iter().map(|ms| SimDuration(*ms)).collect::<Vec<_>>()),
        };
        built.expect("a fit is a valid distribution (checked when fitted)")
    }
}

/// Observations scaled by `factor` came out longer than a step may last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TooLong {
    pub(super) ms: f64,
}

/// Scales a measured length; `Err` past [`MAX_SPAN`].
pub(super) fn scale(ms: u64, factor: f64) -> Result<u64, TooLong> {
    let v = (ms as f64 * factor).round();
    if v > MAX_SPAN.as_ms() as f64 { Err(TooLong { ms: v }) } else { Ok(v as u64) }
}

/// The duration for a sub-step's observations, scaled by `factor` (`None`:
/// nothing completed to learn from).
///
/// # Errors
/// A scaled observation beyond [`MAX_SPAN`].
pub(super) fn fit(obs: &[u64], factor: f64) -> Result<Option<Fitted>, TooLong> {
    if let [v] = obs {
        // One measured run, the common case: no list to make.
        return Ok(Some(match scale(*v, factor)? {
            0 => Fitted::Instant,
            v => Fitted::Fixed(v),
        }));
    }
    let scaled: Vec<u64> = obs.iter().map(|v| scale(*v, factor)).collect::<Result<_, _>>()?;
    Ok(match scaled.as_slice() {
        [] => None,
        [0] => Some(Fitted::Instant),
        [v] => Some(Fitted::Fixed(*v)),
        many => {
            let mut sorted = many.to_vec();
            sorted.sort_unstable();
            if sorted.iter().all(|v| *v == 0) {
                return Ok(Some(Fitted::Instant));
            }
            if let Some((median_ms, p90_ms)) = lognormal_fit(&sorted) {
                return Ok(Some(Fitted::Lognormal { median_ms, p90_ms }));
            }
            Some(Fitted::Empirical(sorted))
        }
    })
}

/// A lognormal fitted to the observations, when there are enough of them
/// (at least 8, all positive), it fits (Kolmogorov–Smirnov distance under
/// the 5 % critical value) and its tail stays within what a step may last.
/// Returns (median, p90) in ms.
fn lognormal_fit(sorted: &[u64]) -> Option<(u64, u64)> {
    let n = sorted.len();
    if n < 8 || sorted[0] == 0 {
        return None;
    }
    let logs: Vec<f64> = sorted.iter().map(|v| libm::log(*v as f64)).collect();
    let mu = logs.iter().sum::<f64>() / n as f64;
    let var = logs.iter().map(|l| (l - mu) * (l - mu)).sum::<f64>() / (n as f64 - 1.0);
    let sigma = libm::sqrt(var);
    if sigma <= 0.0 {
        return None;
    }
    let cdf = |x: f64| 0.5 * libm::erfc(-(x - mu) / (sigma * std::f64::consts::SQRT_2));
    let d = logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = cdf(*l);
            (f - i as f64 / n as f64).abs().max(((i + 1) as f64 / n as f64 - f).abs())
        })
        .fold(0.0, f64::max);
    if d >= 1.36 / libm::sqrt(n as f64) {
        return None;
    }
    let median = libm::exp(mu);
    let p90 = libm::exp(mu + rehearse_core::dist::Z_90 * sigma);
    let (m, p) = (median.round() as u64, p90.round() as u64);
    let dist = Dist::lognormal(SimDuration(m), SimDuration(p)).ok()?;
    (dist.practical_max() <= MAX_SPAN).then_some((m, p))
}
#[cfg(test)]
mod tests {
    use super::super::emit::duration_expr;
    use super::*;

    #[test]
    fn a_lognormal_is_fitted_only_when_it_fits() {
        // Observations at the quantiles of a lognormal (median 1h, sigma 0.3).
        let z = [-1.64, -1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28, 1.64];
        let obs: Vec<u64> = z.iter().map(|z| (3_600_000.0 * libm::exp(0.3 * z)) as u64).collect();
        let (median, p90) = lognormal_fit(&obs).expect("fits");
        assert!(median.abs_diff(3_600_000) < 36_000, "{median}");
        assert!(p90 > median);
        // Two clusters far apart: no lognormal, the observations are kept.
        let mut bimodal: Vec<u64> =
            (0..15).map(|k| 600_000 + k * 1_000).chain((0..15).map(|k| 36_000_000 + k * 1_000)).collect();
        bimodal.sort_unstable();
        assert_eq!(lognormal_fit(&bimodal), None);
        assert!(duration_expr(&bimodal, 1.0).unwrap().unwrap().to_string().starts_with("{ empirical"));
        // Too few observations: empirical.
        assert_eq!(lognormal_fit(&obs[..5]), None);
    }
}
