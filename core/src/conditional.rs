//! Durations known to be at least so long: a step that has run for an hour
//! will take at least an hour. Drawn exactly, by the inverse of the
//! distribution function restricted to [F(elapsed), 1]: one uniform `u`
//! gives the quantile `F(elapsed) + u (1 - F(elapsed))`. Never "a sample
//! minus what has elapsed", which would forget what the elapsed time says
//! about the rest.
//!
//! A `Conditional` is made once per running step (the elapsed time is the
//! same in every run of a forecast) and drawn from in each run. PERT, a
//! beta distribution, has no closed-form quantile: its distribution
//! function is tabulated once and inverted as for its median
//! (`dist::beta_quantile`).

use rand_core::Rng;

use crate::dist::{Dist, beta_cdf, beta_quantile, beta_table, interpolate, inverse_normal_cdf, round_ms, unit};
use crate::time::SimDuration;

/// A distribution conditioned on its value being at least `min_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conditional {
    dist: Dist,
    min_ms: f64,
    /// F(min): the part of the distribution already behind.
    lo: f64,
    /// PERT: its beta distribution function tabulated (`dist::beta_table`).
    table: Vec<f64>,
}

impl Conditional {
    /// `dist` known to be at least `min_ms`; `None` when it cannot be (the
    /// elapsed time is at or past its largest value: overdue).
    pub fn new(dist: &Dist, min_ms: u64) -> Option<Conditional> {
        let table = match dist {
            Dist::Pert { alpha, beta, .. } => beta_table(*alpha, *beta),
            _ => Vec::new(),
        };
        let lo = behind(dist, &table, min_ms as f64)?;
        Some(Conditional { dist: dist.clone(), min_ms: min_ms as f64, lo, table })
    }

    /// One draw of the same distribution known to be at least `min_ms`
    /// instead (its table reused: nothing is allocated); `None` when it
    /// cannot be.
    pub fn sample_at_least<R: Rng + ?Sized>(&self, min_ms: u64, rng: &mut R) -> Option<SimDuration> {
        let lo = behind(&self.dist, &self.table, min_ms as f64)?;
        Some(self.draw(lo, min_ms as f64, unit(rng)))
    }

    /// The median of the same distribution known to be at least `min_ms`
    /// instead; `None` when it cannot be.
    pub fn median_at_least(&self, min_ms: u64) -> Option<SimDuration> {
        let lo = behind(&self.dist, &self.table, min_ms as f64)?;
        Some(self.draw(lo, min_ms as f64, 0.5))
    }

    /// The share of the distribution already behind (F(min)).
    pub fn behind(&self) -> f64 {
        self.lo
    }

    /// The conditional median: the quantile halfway between F(min) and 1.
    pub fn median(&self) -> SimDuration {
        let v = self.quantile(self.lo + 0.5 * (1.0 - self.lo));
        let hi = self.dist.max().map_or(f64::INFINITY, |m| m.as_ms() as f64);
        SimDuration(round_ms(v.max(self.min_ms).min(hi)))
    }

    /// One draw (one uniform), rounded to the millisecond, never below the
    /// elapsed time and never above the distribution's largest value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        self.draw(self.lo, self.min_ms, unit(rng))
    }

    fn draw(&self, lo: f64, min_ms: f64, u: f64) -> SimDuration {
        let v = self.quantile(lo + u * (1.0 - lo));
        let hi = self.dist.max().map_or(f64::INFINITY, |m| m.as_ms() as f64);
        SimDuration(round_ms(v.max(min_ms).min(hi)))
    }

    /// The distribution's own quantile at `p` in [0, 1), in unrounded
    /// milliseconds (whatever has elapsed).
    pub fn quantile(&self, p: f64) -> f64 {
        match &self.dist {
            Dist::Fixed(d) => d.as_ms() as f64,
            Dist::Uniform { min, max } => min + (max - min) * p,
            Dist::Triangular { min, mode, max } => {
                let (a, c, b) = (*min, *mode, *max);
                if p < (c - a) / (b - a) {
                    a + libm::sqrt(p * (b - a) * (c - a))
                } else {
                    b - libm::sqrt((1.0 - p) * (b - a) * (b - c))
                }
            }
            Dist::Pert { min, max, alpha, beta, .. } => {
                min + (max - min) * beta_quantile(&self.table, *alpha, *beta, p)
            }
            Dist::LogNormal { median, sigma } => {
                // Far in the upper tail, 1 - p loses digits: take the
                // quantile from the upper tail's side.
                let z = if p > 0.5 {
                    -inverse_normal_cdf((1.0 - p).max(f64::MIN_POSITIVE))
                } else {
                    inverse_normal_cdf(p.max(f64::MIN_POSITIVE))
                };
                median * libm::exp(sigma * z)
            }
            Dist::Empirical { sorted_ms } => interpolate(sorted_ms, p),
        }
    }
}

/// F(x), the share of `dist` below `x` (`table`: a PERT's beta table);
/// `None` when `x` is at or past its largest value (overdue).
fn behind(dist: &Dist, table: &[f64], x: f64) -> Option<f64> {
    let lo = match dist {
        Dist::Fixed(d) => {
            if d.as_ms() as f64 <= x {
                return None;
            }
            0.0
        }
        Dist::Uniform { min, max } => {
            if x >= *max {
                return None;
            }
            ((x - min) / (max - min)).max(0.0)
        }
        Dist::Triangular { min, mode, max } => {
            let (a, c, b) = (*min, *mode, *max);
            if x >= b {
                return None;
            }
            if x <= a {
                0.0
            } else if x <= c {
                (x - a) * (x - a) / ((b - a) * (c - a))
            } else {
                1.0 - (b - x) * (b - x) / ((b - a) * (b - c))
            }
        }
        Dist::Pert { min, max, alpha, beta, .. } => {
            if x >= *max {
                return None;
            }
            let t = ((x - min) / (max - min)).clamp(0.0, 1.0);
            beta_cdf(table, *alpha, *beta, t)
        }
        Dist::LogNormal { median, sigma } => {
            if x <= 0.0 {
                0.0
            } else {
                normal_cdf(libm::log(x / median) / sigma)
            }
        }
        Dist::Empirical { sorted_ms } => {
            let last = *sorted_ms.last().expect("non-empty") as f64;
            if x >= last {
                return None;
            }
            empirical_cdf(sorted_ms, x)
        }
    };
    (lo < 1.0).then_some(lo)
}

/// The standard normal distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The inverse of [`interpolate`]: the share of the piecewise-linear
/// empirical distribution below `x`.
fn empirical_cdf(sorted_ms: &[u64], x: f64) -> f64 {
    let n = sorted_ms.len();
    if n == 1 || x <= sorted_ms[0] as f64 {
        return 0.0;
    }
    // The last observation at or below x, then linear inside its interval.
    let i = sorted_ms.partition_point(|v| (*v as f64) <= x).clamp(1, n - 1) - 1;
    let (a, b) = (sorted_ms[i] as f64, sorted_ms[i + 1] as f64);
    let frac = if b > a { (x - a) / (b - a) } else { 0.0 };
    (i as f64 + frac) / (n - 1) as f64
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    fn ms(v: u64) -> SimDuration {
        SimDuration(v)
    }

    fn dists() -> Vec<Dist> {
        vec![
            Dist::uniform(ms(1_000), ms(5_000)).unwrap(),
            Dist::triangular(ms(1_000), ms(2_000), ms(6_000)).unwrap(),
            Dist::pert(ms(1_000), ms(2_000), ms(9_000)).unwrap(),
            Dist::lognormal(ms(3_000), ms(5_000)).unwrap(),
            Dist::empirical(&[ms(1_000), ms(1_500), ms(4_000), ms(4_200), ms(8_000)]).unwrap(),
        ]
    }

    /// Conditioned on nothing, the quantiles are the distribution's own:
    /// the draws' share below each of a few values matches a plain
    /// sample's, and conditioned on an elapsed time, every draw is at
    /// least that long and the draws follow F restricted to [F(x), 1]: the
    /// share below y is (F(y) - F(x)) / (1 - F(x)).
    #[test]
    fn conditional_draws_follow_the_restricted_distribution() {
        for d in dists() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            let plain: Vec<u64> = (0..40_000).map(|_| d.sample(&mut rng, SimDuration(u64::MAX)).as_ms()).collect();
            let share_below = |v: &[u64], y: u64| v.iter().filter(|x| **x < y).count() as f64 / v.len() as f64;
            let elapsed = d.median().as_ms();
            let c = Conditional::new(&d, elapsed).expect("below the largest value");
            // F(median) is one half for every kind.
            assert!((c.behind() - 0.5).abs() < 0.01, "{d:?}: F(median) = {}", c.behind());
            let drawn: Vec<u64> = (0..40_000).map(|_| c.sample(&mut rng).as_ms()).collect();
            assert!(drawn.iter().all(|x| *x >= elapsed), "{d:?}");
            for y in [elapsed + 200, elapsed + 800, elapsed + 2_000] {
                let (fx, fy) = (share_below(&plain, elapsed), share_below(&plain, y));
                let want = (fy - fx) / (1.0 - fx);
                let got = share_below(&drawn, y);
                assert!((got - want).abs() < 0.02, "{d:?} y {y}: {got} against {want}");
            }
            // Nothing elapsed: the distribution itself.
            let none = Conditional::new(&d, 0).unwrap();
            assert!(none.behind() < 1e-9, "{d:?}");
        }
    }

    #[test]
    fn past_the_largest_value_the_step_is_overdue() {
        let d = Dist::triangular(ms(1_000), ms(2_000), ms(6_000)).unwrap();
        assert!(Conditional::new(&d, 6_000).is_none());
        assert!(Conditional::new(&Dist::fixed(ms(500)), 500).is_none());
        assert!(Conditional::new(&Dist::fixed(ms(500)), 499).is_some());
        // A lognormal has no largest value: far in its tail it still draws
        // above the elapsed time.
        let l = Dist::lognormal(ms(1_000), ms(2_000)).unwrap();
        let c = Conditional::new(&l, 20_000).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..1000 {
            assert!(c.sample(&mut rng).as_ms() >= 20_000);
        }
    }
}
