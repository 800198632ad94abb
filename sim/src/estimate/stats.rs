//! The estimate's statistics, in one place: quantiles (nearest rank), the
//! P90's confidence interval and convergence, the mean and the share within
//! a window, criticality, sensitivity (Spearman's rank correlation), mean
//! step durations, and histogram binning.

/// The quantile `q` of sorted data (nearest rank); 0 for no data.
pub(crate) fn quantile<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The same value as [`quantile`] on the sorted data, found in linear time
/// (the order of `data` changes).
pub(crate) fn select_quantile(data: &mut [u64], q: f64) -> u64 {
    if data.is_empty() {
        return 0;
    }
    let rank = ((q * data.len() as f64).ceil() as usize).clamp(1, data.len());
    *data.select_nth_unstable(rank - 1).1
}

/// Sorted data changed at a few places: `base` less `out` (each value of
/// `out` once in `base`) plus `more`, all three sorted. Its quantiles are
/// found without building it (`base` may hold a million runs, the changes
/// a few thousand).
pub(crate) struct Changed<'a> {
    pub(crate) base: &'a [u64],
    pub(crate) out: &'a [u64],
    pub(crate) more: &'a [u64],
}

impl Changed<'_> {
    pub(crate) fn len(&self) -> usize {
        self.base.len() - self.out.len() + self.more.len()
    }

    /// How many values are at most `v`.
    fn count_to(&self, v: u64) -> usize {
        let upto = |s: &[u64]| s.partition_point(|x| *x <= v);
        upto(self.base) - upto(self.out) + upto(self.more)
    }

    /// The same value as [`quantile`] of the data it stands for, sorted.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        let len = self.len();
        if len == 0 {
            return 0;
        }
        let rank = ((q * len as f64).ceil() as usize).clamp(1, len);
        // The value of that rank is the least one with `rank` values at
        // most it: the first such in `base` or in `more`, whichever is
        // less (a value of `base` that `out` took every copy of never is
        // the first: the value before it counts as many).
        let first = |s: &[u64]| s.get(s.partition_point(|x| self.count_to(*x) < rank)).copied();
        match (first(self.base), first(self.more)) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("a value of that rank exists"),
        }
    }
}

/// Sorted `base` less `out` (sorted, each value once in `base` per copy).
pub(crate) fn less(base: &[u64], out: &[u64]) -> Vec<u64> {
    let mut kept = Vec::with_capacity(base.len() - out.len());
    let mut out = out.iter().peekable();
    for &v in base {
        if out.next_if_eq(&&v).is_none() {
            kept.push(v);
        }
    }
    debug_assert!(out.next().is_none(), "every value taken out was in");
    kept
}

/// The arithmetic mean, summed in order (so it never depends on threads).
pub(crate) fn mean(v: &[u64]) -> f64 {
    v.iter().map(|d| *d as f64).sum::<f64>() / v.len() as f64
}

/// The 95 % confidence interval of the 0.9 quantile from order statistics.
pub(crate) fn p90_ci(sorted: &[u64]) -> (u64, u64) {
    let n = sorted.len() as f64;
    let half = 1.96 * (n * 0.9 * 0.1).sqrt();
    let lo = ((n * 0.9 - half).floor().max(1.0) as usize).min(sorted.len());
    let hi = ((n * 0.9 + half).ceil().max(1.0) as usize).min(sorted.len());
    (sorted[lo - 1], sorted[hi - 1])
}

/// The number of runs from which the P90 of the first runs stays within
/// 1 % of the final P90 (checked at 100, 200, 400, ... runs).
pub(crate) fn converged_after(downtimes: &[u64], p90: u64) -> Option<u64> {
    let tolerance = (p90 as f64 * 0.01).max(1.0);
    let mut sizes = Vec::new();
    let mut m = 100usize;
    while m < downtimes.len() {
        sizes.push(m);
        m *= 2;
    }
    sizes.push(downtimes.len());
    let within: Vec<bool> = sizes
        .iter()
        .map(|&m| {
            // (All of them: the P90 itself.)
            m == downtimes.len() || {
                let mut prefix = downtimes[..m].to_vec();
                (select_quantile(&mut prefix, 0.9) as f64 - p90 as f64).abs() <= tolerance
            }
        })
        .collect();
    // The first size from which every later check holds.
    let mut first = None;
    for (k, ok) in within.iter().enumerate().rev() {
        if *ok {
            first = Some(sizes[k] as u64);
        } else {
            break;
        }
    }
    first
}

/// Per step: the share of `committed` runs that had it on the critical path
/// (`critical` counts them per step).
pub(crate) fn criticality(critical: &[u64], committed: u64) -> Vec<f64> {
    let committed = committed.max(1);
    critical.iter().map(|c| *c as f64 / committed as f64).collect()
}

/// Per step, over the sampled runs (`durations[k]` holds sampled run k's
/// step durations, `measure[k]` its downtime): the rank correlation of its
/// duration with the measure (its sensitivity), and how much the measure
/// moves between the runs where the step was long and those where it was
/// short (its [`super::Driver`]). The runs are split at the median of the
/// step's duration, by rank (ties in run order, so a step whose durations
/// tie splits at random and shows about nothing); the P90 (and mean) of
/// the upper half minus that of the lower. One sort of each step's
/// durations serves both. `None` for a step that never varies or too few
/// runs (3 for a correlation, 4 for a driver). Each step's figures depend
/// on its own durations only: with `parallel`, the two halves of the plan
/// are worked out side by side (the same figures, in step order).
pub(crate) fn sensitivity_and_drivers(
    durations: &[&[u64]],
    measure: &[u64],
    n_steps: usize,
    parallel: bool,
) -> (Vec<Option<f64>>, Vec<Option<super::Driver>>) {
    let n = measure.len();
    let measure_ranks = ranks(measure);
    let steps = |steps: std::ops::Range<usize>| {
        let mut xs: Vec<u64> = Vec::with_capacity(n);
        let mut half: Vec<u64> = Vec::with_capacity(n);
        steps
            .map(|i| {
                xs.clear();
                xs.extend(durations.iter().map(|r| r[i]));
                if n < 3 || xs.iter().all(|x| *x == xs[0]) {
                    return (None, None); // (no variance: no correlation)
                }
                let by_value = order(&xs);
                let sensitivity = correlation(&ranks_of(&by_value), &measure_ranks);
                if n < 4 {
                    return (sensitivity, None);
                }
                let mut pick = |part: &[(u64, usize)]| {
                    half.clear();
                    half.extend(part.iter().map(|(_, k)| measure[*k]));
                    (select_quantile(&mut half, 0.9), mean(&half))
                };
                let (p90_short, mean_short) = pick(&by_value[..n / 2]);
                let (p90_long, mean_long) = pick(&by_value[n / 2..]);
                let driver = super::Driver {
                    p90_shift_ms: p90_long as i64 - p90_short as i64,
                    mean_shift_ms: mean_long - mean_short,
                };
                (sensitivity, Some(driver))
            })
            .collect::<Vec<_>>()
    };
    let mid = n_steps / 2;
    let (mut figures, later) = super::side_by_side(parallel, || steps(0..mid), || steps(mid..n_steps));
    figures.extend(later);
    figures.into_iter().unzip()
}

/// Per step: its mean duration over the sampled runs that ran it.
pub(crate) fn step_means(durations: &[&[u64]], n_steps: usize) -> Vec<Option<f64>> {
    (0..n_steps)
        .map(|i| {
            let ran: Vec<f64> = durations.iter().filter(|r| r[i] > 0).map(|r| r[i] as f64).collect();
            (!ran.is_empty()).then(|| ran.iter().sum::<f64>() / ran.len() as f64)
        })
        .collect()
}

/// A bin of a histogram: the values in `from_ms..to_ms` (the last bin also
/// holds the largest value, which may lie past its end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bin {
    pub from_ms: u64,
    pub to_ms: u64,
    pub count: u64,
}

impl Bin {
    /// Whether `ms` falls in the bin's range.
    pub fn contains(&self, ms: u64) -> bool {
        (self.from_ms..self.to_ms).contains(&ms)
    }
}

/// `bins` bins of equal width (at least 1 ms) from the smallest value to the
/// largest; none for no data.
pub(crate) fn histogram(sorted: &[u64], bins: u64) -> Vec<Bin> {
    let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else { return Vec::new() };
    let width = ((hi - lo) / bins).max(1);
    let mut counts = vec![0u64; bins as usize];
    for v in sorted {
        counts[(((v - lo) / width).min(bins - 1)) as usize] += 1;
    }
    (0..bins)
        .zip(counts)
        .map(|(k, count)| Bin { from_ms: lo + k * width, to_ms: lo + k * width + width, count })
        .collect()
}

/// How many of `sorted` fall in each of `bins` (made by [`histogram`],
/// whose last bin also holds values past its end).
pub(crate) fn count_in(sorted: &[u64], bins: &[Bin]) -> Vec<u64> {
    let last = bins.len().saturating_sub(1);
    bins.iter()
        .enumerate()
        .map(|(k, b)| {
            let from = sorted.partition_point(|v| *v < b.from_ms);
            let to = if k == last { sorted.len() } else { sorted.partition_point(|v| *v < b.to_ms) };
            (to - from.min(to)) as u64
        })
        .collect()
}

/// Spearman's rank correlation (average ranks for ties).
#[cfg(test)]
fn spearman(xs: &[u64], ys: &[u64]) -> Option<f64> {
    spearman_ranked(xs, &ranks(ys))
}

/// Spearman's rank correlation of `xs` with the values ranked `ry`.
#[cfg(test)]
fn spearman_ranked(xs: &[u64], ry: &[f64]) -> Option<f64> {
    if xs.len() < 3 || xs.iter().all(|x| *x == xs[0]) {
        return None; // (no variance: no correlation)
    }
    correlation(&ranks(xs), ry)
}

/// Pearson's correlation of two rankings.
pub(crate) fn correlation(rx: &[f64], ry: &[f64]) -> Option<f64> {
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / libm::sqrt(sxx * syy))
}

/// Average ranks (from 1; ties share their mean rank).
fn ranks(v: &[u64]) -> Vec<f64> {
    ranks_of(&order(v))
}

/// `v`'s values with their indexes, sorted by (value, index): a total
/// order, so an unstable sort gives the one order. Packed into one integer
/// when both fit (durations in ms take 42 bits for over a century), which
/// sorts fastest.
fn order(v: &[u64]) -> Vec<(u64, usize)> {
    let index_bits = usize::BITS - v.len().leading_zeros();
    let max = v.iter().copied().max().unwrap_or(0);
    if u64::from(index_bits) + u64::from(u64::BITS - max.leading_zeros()) <= 64 {
        let mut packed: Vec<u64> = v.iter().zip(0u64..).map(|(x, k)| x << index_bits | k).collect();
        packed.sort_unstable();
        let mask = (1u64 << index_bits) - 1;
        packed.into_iter().map(|p| (p >> index_bits, (p & mask) as usize)).collect()
    } else {
        let mut pairs: Vec<(u64, usize)> = v.iter().copied().zip(0..).collect();
        pairs.sort_unstable();
        pairs
    }
}

/// The average ranks of values in `order`'s order, by index.
fn ranks_of(by_value: &[(u64, usize)]) -> Vec<f64> {
    let mut r = vec![0.0; by_value.len()];
    let mut i = 0;
    while i < by_value.len() {
        let mut j = i;
        while j + 1 < by_value.len() && by_value[j + 1].0 == by_value[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &(_, k) in &by_value[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_a_quantile_agrees_with_sorting() {
        let mut x: u64 = 12345;
        let data: Vec<u64> = (0..1001)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 40) % 500
            })
            .collect();
        let mut sorted = data.clone();
        sorted.sort_unstable();
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(select_quantile(&mut data.clone(), q), quantile(&sorted, q), "q {q}");
        }
        assert_eq!(select_quantile(&mut [], 0.9), 0);
    }

    #[test]
    fn changed_data_has_the_values_and_quantiles_of_the_data_built() {
        let mut s = crate::rng::stream(3, 0, crate::rng::Purpose::Analysis, 0, 0);
        let mut draw = |m: u64| rand_core::Rng::next_u64(&mut s) % m;
        let mut checked = 0;
        for case in 0..400 {
            // Few distinct values (ties, values taken out whole) or many.
            let spread = if case % 2 == 0 { 12 } else { 1_000_000 };
            let mut base: Vec<u64> = (0..draw(300)).map(|_| draw(spread)).collect();
            base.sort_unstable();
            let mut out: Vec<u64> = base.iter().copied().filter(|_| draw(4) == 0).collect();
            if case % 7 == 0 {
                out = base.clone(); // everything taken out
            }
            let mut more: Vec<u64> = (0..draw(40)).map(|_| draw(spread)).collect();
            more.sort_unstable();
            out.sort_unstable();
            let mut taken = base.clone();
            for v in &out {
                let at = taken.iter().position(|x| x == v).unwrap();
                taken.remove(at);
            }
            assert_eq!(less(&base, &out), taken);
            let mut built = taken;
            built.extend(&more);
            built.sort_unstable();
            let changed = Changed { base: &base, out: &out, more: &more };
            assert_eq!(changed.len(), built.len());
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
                assert_eq!(changed.quantile(q), quantile(&built, q), "case {case}, q {q}");
                checked += usize::from(!built.is_empty());
            }
        }
        assert!(checked > 1500, "{checked}");
    }

    #[test]
    fn quantiles_ranks_and_correlation() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.9), 90);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(ranks(&[3, 1, 3, 2]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(ranks(&[5, 5, 5, 0, 9]), vec![3.0, 3.0, 3.0, 1.0, 5.0]);
        // Values too large to share a word with their index: sorted as pairs.
        assert_eq!(ranks(&[u64::MAX, 0, u64::MAX - 1, 0]), vec![4.0, 1.5, 3.0, 1.5]);
        assert_eq!(ranks(&[1 << 61, 7, 1 << 61]), vec![2.5, 1.0, 2.5]);
        // Packed or not, the ranks are the average places in sorted order.
        let mut s = crate::rng::stream(1, 0, crate::rng::Purpose::Analysis, 0, 0);
        for shift in [0, 20, 40, 52, 60] {
            let v: Vec<u64> = (0..3000).map(|_| rand_core::Rng::next_u64(&mut s) >> shift >> 3 << 3).collect();
            let want: Vec<f64> = v
                .iter()
                .map(|x| {
                    let below = v.iter().filter(|y| *y < x).count();
                    let same = v.iter().filter(|y| *y == x).count();
                    below as f64 + (same as f64 + 1.0) / 2.0
                })
                .collect();
            assert_eq!(ranks(&v), want, "values >> {shift}");
        }
        let x: Vec<u64> = (0..50).collect();
        let y: Vec<u64> = x.iter().map(|v| v * v).collect();
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12, "monotone: rank correlation 1");
        let rev: Vec<u64> = x.iter().map(|v| 100 - v).collect();
        assert!((spearman(&x, &rev).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&x, &vec![1; 50]), None);
        let (lo, hi) = p90_ci(&v);
        assert!(lo <= 90 && hi >= 90 && lo >= 80 && hi <= 100, "{lo} {hi}");
    }

    #[test]
    fn histogram_bins_cover_every_value() {
        assert!(histogram(&[], 12).is_empty());
        // 0..=120 in 12 bins of 10: the largest value joins the last bin.
        let v: Vec<u64> = (0..=120).collect();
        let bins = histogram(&v, 12);
        assert_eq!(bins.len(), 12);
        assert_eq!(bins[0], Bin { from_ms: 0, to_ms: 10, count: 10 });
        assert_eq!(bins[11], Bin { from_ms: 110, to_ms: 120, count: 11 });
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 121);
        assert!(bins[11].contains(119) && !bins[11].contains(120) && !bins[0].contains(10));
        // One value: bins 1 ms wide, all of it in the first.
        let one = histogram(&[7, 7, 7], 12);
        assert_eq!((one[0].from_ms, one[0].to_ms, one[0].count), (7, 8, 3));
        assert_eq!(one[11], Bin { from_ms: 18, to_ms: 19, count: 0 });
        // A subset counted in the same bins.
        assert_eq!(count_in(&[0, 5, 10, 119, 120], &bins)[..2], [2, 1]);
        assert_eq!(count_in(&[0, 5, 10, 119, 120], &bins)[11], 2);
        assert_eq!(count_in(&[], &bins).iter().sum::<u64>(), 0);
    }

    #[test]
    fn a_driver_is_the_move_between_long_and_short_runs() {
        // Step 0 adds its duration to the measure; step 1 is fixed; step 2
        // varies without any effect.
        let runs: Vec<[u64; 3]> = (0..100u64).map(|k| [k * 10, 30, (k * 37) % 100]).collect();
        let measure: Vec<u64> = runs.iter().map(|r| 1000 + r[0]).collect();
        let durations: Vec<&[u64]> = runs.iter().map(|r| r.as_slice()).collect();
        let (sensitivity, d) = sensitivity_and_drivers(&durations, &measure, 3, false);
        assert_eq!(sensitivity_and_drivers(&durations, &measure, 3, true), (sensitivity.clone(), d.clone()));
        assert!((sensitivity[0].unwrap() - 1.0).abs() < 1e-12, "the measure rises with step 0");
        assert_eq!(sensitivity[1], None);
        // Long half: 500..990 (P90 at rank 45: 940); short half 0..490 (440).
        let d0 = d[0].expect("step 0 varies");
        assert_eq!(d0.p90_shift_ms, 500);
        assert!((d0.mean_shift_ms - 500.0).abs() < 1e-9);
        assert_eq!(d[1], None, "a fixed step drives nothing");
        assert!(d[2].expect("varies").p90_shift_ms.abs() < 200, "{:?}", d[2]);
    }
}
