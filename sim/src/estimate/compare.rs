//! Plan B against plan A: both estimated on the same seeds, the differences
//! in P50, P90 and the window's fit with paired bootstrap intervals, and the
//! steps whose mean duration changed.

use std::sync::atomic::AtomicU64;

use rehearse_core::time::SimDuration;

use super::stats::quantile;
use super::{Estimate, EstimateError, EstimateOptions, estimate};
use crate::engine::Plan;
use crate::rng::{self, Purpose};

/// Plan B against plan A on the same seeds and, for the steps and faults
/// they share, the same random numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: Estimate,
    pub b: Estimate,
    /// For the go-live's p50 and p90 (ms; rolled-back runs never go live)
    /// and p_success (share).
    pub diffs: Vec<Diff>,
    /// Steps whose mean duration changed, by id: (mean in A, mean in B),
    /// largest change first; a side is `None` where the step does not run.
    pub drivers: Vec<(String, Option<f64>, Option<f64>)>,
}

/// One metric of both plans.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub metric: &'static str,
    /// Its value in A and in B; a go-live quantile that fewer runs reach
    /// than its share is infinite.
    pub a: f64,
    pub b: f64,
    /// B minus A (NaN when both are infinite) and its 95 % paired
    /// bootstrap interval.
    pub b_minus_a: f64,
    pub ci95: (f64, f64),
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
    let diffs = bootstrap(&go_live(&ea), &go_live(&eb), window, opts.seed, opts.threads);
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

/// Each run's go-live: its downtime when it committed, never (`u64::MAX`)
/// otherwise, so that quantiles and the share inside the window count a
/// rolled-back run as the failure it is.
fn go_live(e: &Estimate) -> Vec<u64> {
    e.downtime_by_run
        .iter()
        .zip(&e.outcome_by_run)
        .map(|(d, o)| if *o == rehearse_core::event::Outcome::Committed { *d } else { NEVER })
        .collect()
}

/// The go-live of a run that did not commit.
const NEVER: u64 = u64::MAX;

/// A go-live time as a number to subtract: never is infinitely late.
fn finite(v: f64) -> f64 {
    if v >= NEVER as f64 { f64::INFINITY } else { v }
}

/// Resamples drawn for the paired bootstrap.
const RESAMPLES: usize = 200;

/// B minus A for the go-live's p50, p90 (ms; infinite when fewer than that
/// share of runs commit) and p_success (share), each with
/// its 95 % paired bootstrap interval: run indices resampled with
/// replacement, the same ones for both plans.
///
/// A resample is held as how many times it drew each run, in a byte per
/// run; its quantiles are read off each plan's runs sorted once by
/// downtime (the nearest-rank value is where the counts, added up in that
/// order, reach the rank). The same values as sorting every resample, in
/// linear time, without keeping the resamples. (Sorting 200 resamples of a
/// million runs per metric and plan took more than 20 s.) The counts are
/// bytes because the draws land at random: a megabyte for a million runs
/// stays within the processor's caches and address translation, where
/// words or a table of each run's places (8 MB) cost a miss per draw.
fn bootstrap(a: &[u64], b: &[u64], window: Option<SimDuration>, seed: u64, threads: usize) -> Vec<Diff> {
    let n = a.len();
    debug_assert_eq!(n, b.len(), "both plans ran the same runs");
    let (sa, sb) = (ByDowntime::new(a), ByDowntime::new(b));
    // Without a window, success is committing at all.
    let limit_ms = Some(window.map_or(NEVER - 1, SimDuration::as_ms));
    // Resample r reads the bootstrap's one stream from draw r·n on, so the
    // resamples can be spread over threads and still draw what one thread
    // reading the stream from the start draws.
    let draws = |r: usize| {
        let key = rng::key_of("compare");
        let mut stream = rng::stream_after(seed, 0, Purpose::Analysis, key, 0, (r * n) as u64);
        (0..n).map(move |_| (rand_core::Rng::next_u64(&mut stream) % n as u64) as usize)
    };
    let threads = threads.clamp(1, RESAMPLES);
    let mut diffs = vec![[0.0; 3]; RESAMPLES];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (sa, sb) = (&sa, &sb);
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    (t..RESAMPLES)
                        .step_by(threads)
                        .map(|r| {
                            let [ra, rb] = tally.resample(|| draws(r), [sa, sb], limit_ms);
                            (r, [finite(rb[0]) - finite(ra[0]), finite(rb[1]) - finite(ra[1]), rb[2] - ra[2]])
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in workers {
            for (r, d) in w.join().expect("a bootstrap thread panicked") {
                diffs[r] = d;
            }
        }
    });
    let mut boot: [Vec<f64>; 3] = std::array::from_fn(|k| diffs.iter().map(|d| d[k]).collect());
    let (pa, pb) = (sa.point(limit_ms), sb.point(limit_ms));
    ["p50", "p90", "p_success"]
        .into_iter()
        .enumerate()
        .map(|(k, name)| {
            let b = &mut boot[k];
            b.sort_by(f64::total_cmp);
            let (a, bv) = if k < 2 { (finite(pa[k]), finite(pb[k])) } else { (pa[k], pb[k]) };
            Diff { metric: name, a, b: bv, b_minus_a: bv - a, ci95: (b[4], b[194]) }
        })
        .collect()
}

/// One plan's runs sorted by downtime.
struct ByDowntime {
    /// The downtimes, ascending.
    values: Vec<u64>,
    /// The run each of them came from.
    runs: Vec<u32>,
}

impl ByDowntime {
    fn new(downtimes: &[u64]) -> Self {
        let mut pairs: Vec<(u64, u32)> = downtimes.iter().enumerate().map(|(i, d)| (*d, i as u32)).collect();
        pairs.sort_unstable();
        ByDowntime { values: pairs.iter().map(|p| p.0).collect(), runs: pairs.iter().map(|p| p.1).collect() }
    }

    /// p50, p90 and the share within `limit_ms` (NaN without) of all runs.
    fn point(&self, limit_ms: Option<u64>) -> [f64; 3] {
        let fit =
            limit_ms.map_or(f64::NAN, |w| self.values.partition_point(|d| *d <= w) as f64 / self.values.len() as f64);
        [quantile(&self.values, 0.5) as f64, quantile(&self.values, 0.9) as f64, fit]
    }

    /// The same for a resample of as many draws as runs, `counts[i]` of them
    /// of run `i`: nearest-rank quantiles, as [`quantile`] gives on the
    /// sorted resample.
    fn resampled<C: Count>(&self, counts: &[C], limit_ms: Option<u64>) -> [f64; 3] {
        let n = self.values.len();
        let rank = |q: f64| ((q * n as f64).ceil() as usize).clamp(1, n) as u64;
        let (r50, r90) = (rank(0.5), rank(0.9));
        let (mut p50, mut p90, mut within) = (None, None, 0u64);
        let mut drawn = 0u64;
        for (v, run) in self.values.iter().zip(&self.runs) {
            drawn += counts[*run as usize].get();
            if limit_ms.is_some_and(|w| *v <= w) {
                within = drawn;
            }
            if p50.is_none() && drawn >= r50 {
                p50 = Some(*v);
            }
            if p90.is_none() && drawn >= r90 {
                p90 = Some(*v);
            }
            // Past the P90 and past the window's last run: nothing more to read.
            if p90.is_some() && limit_ms.is_none_or(|w| *v > w) {
                break;
            }
        }
        let fit = limit_ms.map_or(f64::NAN, |_| within as f64 / n as f64);
        [p50.unwrap_or(0) as f64, p90.unwrap_or(0) as f64, fit]
    }
}

/// A resample's counts per run. Bytes, so that the counting stays in
/// cache: a run drawn 256 times (never seen: a run is drawn about once)
/// sends that resample to a second count in words.
#[derive(Default)]
struct Tally {
    small: Vec<u8>,
    wide: Vec<u32>,
}

impl Tally {
    /// Counts the draws `draws()` makes (called again if a byte
    /// overflows) and reads both plans off the counts.
    fn resample<I: Iterator<Item = usize>>(
        &mut self,
        draws: impl Fn() -> I,
        plans: [&ByDowntime; 2],
        limit_ms: Option<u64>,
    ) -> [[f64; 3]; 2] {
        let n = plans[0].values.len();
        if count(draws(), n, &mut self.small) {
            count(draws(), n, &mut self.wide);
            return plans.map(|p| p.resampled(&self.wide, limit_ms));
        }
        plans.map(|p| p.resampled(&self.small, limit_ms))
    }
}

/// Counts `draws` of `n` runs; whether a count overflowed.
fn count<C: Count>(draws: impl Iterator<Item = usize>, n: usize, counts: &mut Vec<C>) -> bool {
    counts.clear();
    counts.resize(n, C::ZERO);
    let mut overflowed = false;
    for i in draws {
        overflowed |= counts[i].bump();
    }
    overflowed
}

/// A count of draws: a byte, or a word when a byte would not do.
trait Count: Copy {
    const ZERO: Self;
    /// Adds one; whether that wrapped around.
    fn bump(&mut self) -> bool;
    fn get(self) -> u64;
}

impl Count for u8 {
    const ZERO: u8 = 0;
    fn bump(&mut self) -> bool {
        *self = self.wrapping_add(1);
        *self == 0
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Count for u32 {
    const ZERO: u32 = 0;
    fn bump(&mut self) -> bool {
        // At most as many draws as runs (10 million): never wraps.
        *self += 1;
        false
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts the drawn runs' downtimes and reads them as [`ByDowntime::point`]
    /// reads all runs: what counting must give.
    fn by_sorting(v: &[u64], draws: &[usize], limit: Option<u64>) -> [f64; 3] {
        let drawn: Vec<u64> = draws.iter().map(|i| v[*i]).collect();
        ByDowntime::new(&drawn).point(limit)
    }

    fn same(got: [f64; 3], want: [f64; 3]) -> bool {
        got[..2] == want[..2] && (got[2] == want[2] || got[2].is_nan() && want[2].is_nan())
    }

    /// Reading a resample's quantiles and share off the counts gives what
    /// sorting the resample gives, ties and all, with and without a
    /// window, for both plans of a pair.
    #[test]
    fn counted_resamples_read_as_sorted_ones() {
        let mut s = rng::stream(3, 0, Purpose::Analysis, 0, 0);
        let mut next = |m: u64| rand_core::Rng::next_u64(&mut s) % m;
        for n in [1usize, 2, 3, 10, 97, 1000] {
            // Few distinct values, so ties are common.
            let a: Vec<u64> = (0..n).map(|_| 1_000 * next(7)).collect();
            let b: Vec<u64> = (0..n).map(|_| 1_000 * next(5)).collect();
            let (sa, sb) = (ByDowntime::new(&a), ByDowntime::new(&b));
            let mut tally = Tally::default();
            for _ in 0..20 {
                let draws: Vec<usize> = (0..n).map(|_| next(n as u64) as usize).collect();
                for limit in [None, Some(0), Some(3_000), Some(10_000)] {
                    let [ra, rb] = tally.resample(|| draws.iter().copied(), [&sa, &sb], limit);
                    assert!(same(ra, by_sorting(&a, &draws, limit)), "A, n {n}, limit {limit:?}");
                    assert!(same(rb, by_sorting(&b, &draws, limit)), "B, n {n}, limit {limit:?}");
                }
            }
        }
    }

    /// A run drawn more often than a byte counts: the resample is counted
    /// again in words, and reads as sorting reads it.
    #[test]
    fn a_count_past_a_byte_is_counted_again_in_words() {
        let n = 600;
        let a: Vec<u64> = (0..n as u64).map(|i| 10 * (n as u64 - i)).collect();
        let sa = ByDowntime::new(&a);
        // Run 7 drawn 300 times, then runs 0, 1, ... for the rest.
        let draws: Vec<usize> = std::iter::repeat_n(7, 300).chain(0..n - 300).collect();
        let mut small: Vec<u8> = Vec::new();
        assert!(count(draws.iter().copied(), n, &mut small), "a byte wraps at 256");
        let mut tally = Tally::default();
        let [ra, _] = tally.resample(|| draws.iter().copied(), [&sa, &sa], Some(3_000));
        assert!(same(ra, by_sorting(&a, &draws, Some(3_000))), "{ra:?}");
    }
}
