//! Duration distributions and their sampling.
//!
//! Sampling takes the random generator as an argument: `core` never builds
//! one. All arithmetic goes through IEEE-754 operations and the pure-Rust
//! `libm` (not the platform's maths library), so the same uniform draws give
//! the same durations on every machine — the event stream's hash depends on
//! it.

use rand_core::Rng;

use crate::time::SimDuration;

/// The 0.9 quantile of the standard normal distribution: a lognormal given
/// by its median and p90 has `sigma = ln(p90 / median) / Z_90`. One
/// constant, so that sampling and calibration's fits agree to the bit.
pub const Z_90: f64 = 1.281_551_565_544_600_4;

/// A distribution of durations, in milliseconds. Constructed through the
/// checked constructors, so every variant is well formed (min <= mode <= max,
/// positive lognormal parameters, non-empty observations).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Fixed(SimDuration),
    Uniform {
        min: f64,
        max: f64,
    },
    Triangular {
        min: f64,
        mode: f64,
        max: f64,
    },
    /// Beta-PERT: a beta distribution on [min, max] with shape parameters
    /// `alpha = 1 + 4 (mode - min) / (max - min)`, `beta = 1 + 4 (max - mode) / (max - min)`.
    Pert {
        min: f64,
        mode: f64,
        max: f64,
        alpha: f64,
        beta: f64,
        median_ms: u64,
    },
    /// Lognormal given its median and 0.9 quantile: `mu = ln median`,
    /// `sigma = ln(p90 / median) / z_0.9`.
    LogNormal {
        median: f64,
        sigma: f64,
    },
    /// Observed values, sorted; sampled by inverting the piecewise-linear
    /// empirical distribution function.
    Empirical {
        sorted_ms: Vec<u64>,
    },
}

/// Why a distribution's parameters are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistError {
    #[error("min {min} is greater than max {max}")]
    MinAboveMax { min: SimDuration, max: SimDuration },
    #[error("most likely {mode} lies outside [min {min}, max {max}]")]
    ModeOutside { min: SimDuration, mode: SimDuration, max: SimDuration },
    #[error("min and max are both {0}: write a fixed duration instead")]
    Degenerate(SimDuration),
    #[error("lognormal median must be positive")]
    ZeroMedian,
    #[error("lognormal p90 {p90} must be greater than the median {median}")]
    P90NotAboveMedian { median: SimDuration, p90: SimDuration },
    #[error("empirical distribution needs at least one observed value")]
    NoObservations,
}

fn ms(d: SimDuration) -> f64 {
    d.as_ms() as f64
}

impl Dist {
    pub fn fixed(d: SimDuration) -> Dist {
        Dist::Fixed(d)
    }

    /// # Errors
    /// [`DistError::MinAboveMax`] or [`DistError::Degenerate`].
    pub fn uniform(min: SimDuration, max: SimDuration) -> Result<Dist, DistError> {
        check_range(min, max)?;
        Ok(Dist::Uniform { min: ms(min), max: ms(max) })
    }

    /// # Errors
    /// When min > max, the mode lies outside, or min == max.
    pub fn triangular(min: SimDuration, mode: SimDuration, max: SimDuration) -> Result<Dist, DistError> {
        check_three(min, mode, max)?;
        Ok(Dist::Triangular { min: ms(min), mode: ms(mode), max: ms(max) })
    }

    /// # Errors
    /// When min > max, the mode lies outside, or min == max.
    pub fn pert(min: SimDuration, mode: SimDuration, max: SimDuration) -> Result<Dist, DistError> {
        check_three(min, mode, max)?;
        let (a, m, b) = (ms(min), ms(mode), ms(max));
        let alpha = 1.0 + 4.0 * (m - a) / (b - a);
        let beta = 1.0 + 4.0 * (b - m) / (b - a);
        let median_ms = round_ms(a + (b - a) * beta_median(alpha, beta));
        Ok(Dist::Pert { min: a, mode: m, max: b, alpha, beta, median_ms })
    }

    /// # Errors
    /// When the median is zero or the p90 is not above it.
    pub fn lognormal(median: SimDuration, p90: SimDuration) -> Result<Dist, DistError> {
        if median.as_ms() == 0 {
            return Err(DistError::ZeroMedian);
        }
        if p90 <= median {
            return Err(DistError::P90NotAboveMedian { median, p90 });
        }
        let sigma = libm::log(ms(p90) / ms(median)) / Z_90;
        Ok(Dist::LogNormal { median: ms(median), sigma })
    }

    /// # Errors
    /// When no values are given.
    pub fn empirical(observed: &[SimDuration]) -> Result<Dist, DistError> {
        if observed.is_empty() {
            return Err(DistError::NoObservations);
        }
        let mut sorted_ms: Vec<u64> = observed.iter().map(|d| d.as_ms()).collect();
        sorted_ms.sort_unstable();
        Ok(Dist::Empirical { sorted_ms })
    }

    /// The median, exact to the millisecond (PERT's is found numerically
    /// once, at construction).
    pub fn median(&self) -> SimDuration {
        SimDuration(match self {
            Dist::Fixed(d) => d.as_ms(),
            Dist::Uniform { min, max } => round_ms((min + max) / 2.0),
            Dist::Triangular { min, mode, max } => {
                let (a, c, b) = (*min, *mode, *max);
                if c - a >= (b - a) / 2.0 {
                    round_ms(a + libm::sqrt((b - a) * (c - a) / 2.0))
                } else {
                    round_ms(b - libm::sqrt((b - a) * (b - c) / 2.0))
                }
            }
            Dist::Pert { median_ms, .. } => *median_ms,
            Dist::LogNormal { median, .. } => round_ms(*median),
            Dist::Empirical { sorted_ms } => round_ms(interpolate(sorted_ms, 0.5)),
        })
    }

    /// The largest value a draw can take, or `None` when unbounded
    /// (lognormal draws are capped by the caller).
    pub fn max(&self) -> Option<SimDuration> {
        match self {
            Dist::Fixed(d) => Some(*d),
            Dist::Uniform { max, .. } | Dist::Triangular { max, .. } | Dist::Pert { max, .. } => {
                Some(SimDuration(*max as u64))
            }
            Dist::LogNormal { .. } => None,
            Dist::Empirical { sorted_ms } => sorted_ms.last().map(|v| SimDuration(*v)),
        }
    }

    /// A value that bounds the distribution for validation: its max, or for
    /// a lognormal its 0.999 quantile.
    pub fn practical_max(&self) -> SimDuration {
        match self {
            Dist::LogNormal { median, sigma } => {
                SimDuration(round_ms(median * libm::exp(sigma * 3.090_232_306_167_813)))
            }
            other => other.max().unwrap_or(SimDuration::ZERO),
        }
    }

    /// Draws one duration, in (unrounded) milliseconds. The number of
    /// uniforms consumed is fixed for every variant but PERT, whose gamma
    /// draws use rejection.
    pub fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Fixed(d) => ms(*d),
            Dist::Uniform { min, max } => min + (max - min) * unit(rng),
            Dist::Triangular { min, mode, max } => {
                let (a, c, b) = (*min, *mode, *max);
                let u = unit(rng);
                let fc = (c - a) / (b - a);
                if u < fc {
                    a + libm::sqrt(u * (b - a) * (c - a))
                } else {
                    b - libm::sqrt((1.0 - u) * (b - a) * (b - c))
                }
            }
            Dist::Pert { min, max, alpha, beta, .. } => {
                let x = gamma(rng, *alpha);
                let y = gamma(rng, *beta);
                pert_at(*min, max - min, x, y)
            }
            Dist::LogNormal { median, sigma } => lognormal_at(*median, *sigma, std_normal(rng)),
            Dist::Empirical { sorted_ms } => interpolate(sorted_ms, unit(rng)),
        }
    }

    /// Draws one duration, rounded to the millisecond and kept within the
    /// distribution's bounds (and below `cap`).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, cap: SimDuration) -> SimDuration {
        if let Dist::Fixed(d) = self {
            return *d;
        }
        let v = self.sample_ms(rng);
        let hi = self.max().map_or(cap.as_ms(), |m| m.as_ms().min(cap.as_ms()));
        SimDuration(round_ms(v).min(hi))
    }
}

fn check_range(min: SimDuration, max: SimDuration) -> Result<(), DistError> {
    if min > max {
        return Err(DistError::MinAboveMax { min, max });
    }
    if min == max {
        return Err(DistError::Degenerate(min));
    }
    Ok(())
}

fn check_three(min: SimDuration, mode: SimDuration, max: SimDuration) -> Result<(), DistError> {
    check_range(min, max)?;
    if mode < min || mode > max {
        return Err(DistError::ModeOutside { min, mode, max });
    }
    Ok(())
}

/// Rounds non-negative milliseconds half up, saturating: the rounding every
/// sampled duration goes through, so the pinned streams depend on its exact
/// rule. It is not `f64::round`: `v + 0.5` is itself rounded, so just below
/// a half (0.5 - 2^-54) and above 2^52 the two differ. Anything that turns
/// drawn milliseconds into integers calls this one, not a copy.
#[inline]
pub fn round_ms(v: f64) -> u64 {
    // For v > 0, truncating v + 0.5 rounds half up; the cast saturates at
    // u64::MAX and maps NaN to 0 (Rust's float-to-int casts are defined so).
    // Below 2^63 the signed cast truncates to the same integer in a few
    // instructions fewer (the processor has no unsigned one).
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    if v > 0.0 {
        let r = v + 0.5;
        if r < I64_END { r as i64 as u64 } else { r as u64 }
    } else {
        0
    }
}

/// A uniform draw in [0, 1) with 53 random bits: the top 53 bits of one
/// output, scaled by an exact power of two (no division, no platform
/// maths), so an output gives the same float on every machine. Every
/// uniform the streams are pinned with is drawn by this one, not a copy.
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in (0, 1], safe to take the logarithm of.
fn unit_open0<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    unit_open0_of(rng.next_u64())
}

/// The uniform in (0, 1] that the generator output `x` gives.
fn unit_open0_of(x: u64) -> f64 {
    ((x >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal draw from one uniform, by inverting the normal CDF
/// (Acklam's rational approximation, relative error below 1.2e-9). One
/// uniform per draw keeps the draw monotone in the random number, and the
/// central 95 % needs no logarithm: both matter for speed and for comparing
/// plans on common random numbers.
fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    std_normal_of(rng.next_u64())
}

/// The standard normal draw that the generator output `x` gives.
#[inline]
pub(crate) fn std_normal_of(x: u64) -> f64 {
    inverse_normal_cdf(unit_open0_of(x).min(1.0 - f64::EPSILON))
}

/// A lognormal draw (in unrounded ms) at the standard normal value `z`.
#[inline]
pub(crate) fn lognormal_at(median: f64, sigma: f64, z: f64) -> f64 {
    median * libm::exp(sigma * z)
}

/// The standard normal quantile of `p` in (0, 1).
#[inline]
pub(crate) fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail(libm::sqrt(-2.0 * libm::log(p)))
    } else if p > 1.0 - LOW {
        -tail(libm::sqrt(-2.0 * libm::log(1.0 - p)))
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A PERT draw from `min` over `range` (its max less its min), given its
/// two gamma draws.
#[inline]
pub(crate) fn pert_at(min: f64, range: f64, x: f64, y: f64) -> f64 {
    min + range * (x / (x + y))
}

/// A Gamma(shape, 1) draw for shape >= 1 (Marsaglia and Tsang, 2000).
fn gamma<R: Rng + ?Sized>(rng: &mut R, shape: f64) -> f64 {
    let g = GammaShape::new(shape);
    loop {
        let (x, v) = loop {
            let x = std_normal(rng);
            if let Some(v) = g.cubed(x) {
                break (x, v);
            }
        };
        if g.accepts(x, v, unit_open0(rng)) {
            return g.d * v;
        }
    }
}

/// [`gamma`]'s constants for one shape, and its steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GammaShape {
    d: f64,
    c: f64,
}

impl GammaShape {
    pub(crate) fn new(shape: f64) -> GammaShape {
        debug_assert!(shape >= 1.0);
        let d = shape - 1.0 / 3.0;
        GammaShape { d, c: 1.0 / libm::sqrt(9.0 * d) }
    }

    /// The candidate `v` at normal draw `x`, when positive.
    #[inline]
    fn cubed(self, x: f64) -> Option<f64> {
        let v = 1.0 + self.c * x;
        (v > 0.0).then_some(v * v * v)
    }

    /// Whether the candidate `v` (from `x`) is kept, at uniform `u`.
    #[inline]
    fn accepts(self, x: f64, v: f64, u: f64) -> bool {
        u < 1.0 - 0.0331 * x * x * x * x || libm::log(u) < 0.5 * x * x + self.d * (1.0 - v + libm::log(v))
    }

    /// The draw when [`gamma`]'s first try, from the generator's next two
    /// outputs (`x_word` for the normal, `u_word` for the uniform), is
    /// kept; `None` when it draws more.
    #[inline]
    pub(crate) fn first_try(self, x_word: u64, u_word: u64) -> Option<f64> {
        let x = std_normal_of(x_word);
        let v = self.cubed(x)?;
        self.accepts(x, v, unit_open0_of(u_word)).then_some(self.d * v)
    }
}

/// Linear interpolation of sorted observations at quantile `q` in [0, 1].
pub(crate) fn interpolate(sorted_ms: &[u64], q: f64) -> f64 {
    let n = sorted_ms.len();
    if n == 1 {
        return sorted_ms[0] as f64;
    }
    let pos = q * (n - 1) as f64;
    let i = (libm::floor(pos) as usize).min(n - 2);
    let frac = pos - i as f64;
    sorted_ms[i] as f64 + frac * (sorted_ms[i + 1] as f64 - sorted_ms[i] as f64)
}

/// Simpson intervals over [0, 1] for a beta distribution's tabulated CDF.
const BETA_N: usize = 4096;

/// The Beta(alpha, beta) density, unnormalised.
fn beta_density(alpha: f64, beta: f64, x: f64) -> f64 {
    libm::pow(x, alpha - 1.0) * libm::pow(1.0 - x, beta - 1.0)
}

/// The beta density's integral from 0 at every second Simpson node (the
/// last entry is the total), for alpha, beta >= 1 (the density is smooth
/// and bounded for these shapes).
pub(crate) fn beta_table(alpha: f64, beta: f64) -> Vec<f64> {
    let h = 1.0 / BETA_N as f64;
    let f = |x: f64| beta_density(alpha, beta, x);
    let mut cum = vec![0.0f64; BETA_N / 2 + 1];
    // Each interval's last node is the next one's first: `x0 + 2h` and
    // `(2k + 2) h` are the same float (h is a power of two, every node
    // exact), so its density is worked out once, the same value.
    let mut at_x0 = f(0.0);
    for k in 0..BETA_N / 2 {
        let x0 = (2 * k) as f64 * h;
        let at_end = f(x0 + 2.0 * h);
        cum[k + 1] = cum[k] + h / 3.0 * (at_x0 + 4.0 * f(x0 + h) + at_end);
        at_x0 = at_end;
    }
    cum
}

/// The density's integral from `from` to `x` (one Simpson step).
fn beta_partial(alpha: f64, beta: f64, from: f64, x: f64) -> f64 {
    let f = |t: f64| beta_density(alpha, beta, t);
    (x - from) / 6.0 * (f(from) + 4.0 * f((from + x) / 2.0) + f(x))
}

/// The beta distribution function at `t` in [0, 1], from its table.
pub(crate) fn beta_cdf(table: &[f64], alpha: f64, beta: f64, t: f64) -> f64 {
    let h = 1.0 / BETA_N as f64;
    let k = ((t / (2.0 * h)) as usize).min(BETA_N / 2 - 1);
    let from = (2 * k) as f64 * h;
    ((table[k] + beta_partial(alpha, beta, from, t)) / table[BETA_N / 2]).clamp(0.0, 1.0)
}

/// The beta quantile at `p`: the table's interval where the integral
/// reaches `p` of the total, then bisection on a local Simpson integral.
/// Accurate far below a millisecond for any duration the scenario
/// validator accepts.
pub(crate) fn beta_quantile(table: &[f64], alpha: f64, beta: f64, p: f64) -> f64 {
    let h = 1.0 / BETA_N as f64;
    let target = p * table[BETA_N / 2];
    let k = table.partition_point(|c| *c < target).clamp(1, BETA_N / 2);
    let (mut lo, mut hi) = ((2 * (k - 1)) as f64 * h, (2 * k) as f64 * h);
    let (from, base) = (lo, table[k - 1]);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if base + beta_partial(alpha, beta, from, mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The median of Beta(alpha, beta) for alpha, beta >= 1.
fn beta_median(alpha: f64, beta: f64) -> f64 {
    beta_quantile(&beta_table(alpha, beta), alpha, beta, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn d(s: &str) -> SimDuration {
        SimDuration::parse(s).unwrap()
    }

    /// Sample median of many draws, in ms.
    fn sample_median(dist: &Dist) -> f64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
        let mut v: Vec<f64> = (0..20_001).map(|_| dist.sample_ms(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn check_median(dist: Dist, expected: &str, tolerance: f64) {
        assert_eq!(dist.median(), d(expected), "{dist:?}");
        let empirical = sample_median(&dist);
        let exp = d(expected).as_ms() as f64;
        assert!((empirical - exp).abs() <= tolerance * exp, "{dist:?}: sampled median {empirical} vs {exp}");
    }

    /// `round_ms` is the rule its doc states, `(v + 0.5) as u64` for
    /// positive `v` and 0 otherwise, at every edge of the fast cast: just
    /// below a half, around 2^52, 2^53 and 2^63, past u64::MAX, the
    /// infinities and NaN.
    #[test]
    fn round_ms_is_its_rule_at_every_edge() {
        let rule = |v: f64| if v > 0.0 { (v + 0.5) as u64 } else { 0 };
        let p63 = 9_223_372_036_854_775_808.0f64;
        let mut edges = vec![
            0.0,
            -0.0,
            -1.5,
            0.5 - f64::EPSILON / 4.0,
            0.5,
            1.5,
            2.5,
            f64::MIN_POSITIVE,
            4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            9_007_199_254_740_993.0,
            p63,
            1.8446744073709552e19,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        // Every float within a few steps of 2^63 and of 2^63 - 0.5.
        for centre in [p63, p63 - 0.5] {
            let (mut lo, mut hi) = (centre, centre);
            for _ in 0..8 {
                (lo, hi) = (lo.next_down(), hi.next_up());
                edges.extend([lo, hi]);
            }
        }
        for v in edges {
            assert_eq!(round_ms(v), rule(v), "{v:e}");
        }
        assert_eq!(round_ms(p63 - 1024.0), (p63 - 1024.0) as u64);
        assert_eq!(round_ms(p63), 1 << 63);
        assert_eq!(round_ms(f64::INFINITY), u64::MAX);
    }

    /// The beta table, each node's density worked out once, is Simpson's
    /// rule with every interval's three densities, bit for bit.
    #[test]
    fn the_beta_table_is_simpsons_rule_bit_for_bit() {
        for (alpha, beta) in
            [(1.0, 5.0), (2.2, 3.8), (3.0, 3.0), (4.6, 1.4), (5.0, 1.0), (1.0 + 4.0 / 3.0, 1.0 + 8.0 / 3.0)]
        {
            let h = 1.0 / BETA_N as f64;
            let f = |x: f64| beta_density(alpha, beta, x);
            let mut cum = vec![0.0f64; BETA_N / 2 + 1];
            for k in 0..BETA_N / 2 {
                let x0 = (2 * k) as f64 * h;
                cum[k + 1] = cum[k] + h / 3.0 * (f(x0) + 4.0 * f(x0 + h) + f(x0 + 2.0 * h));
            }
            let table = beta_table(alpha, beta);
            assert!(table.iter().zip(&cum).all(|(a, b)| a.to_bits() == b.to_bits()), "({alpha}, {beta})");
        }
    }

    #[test]
    fn medians_are_exact_and_match_samples() {
        check_median(Dist::fixed(d("15m")), "15m", 0.0);
        check_median(Dist::uniform(d("10m"), d("20m")).unwrap(), "15m", 0.01);
        // Triangular (0, 0, 60): median = 60 - sqrt(60 * 60 / 2) = 17.5735 m.
        check_median(Dist::triangular(d("0s"), d("0s"), d("60m")).unwrap(), "17m34.416s", 0.01);
        check_median(Dist::lognormal(d("1h"), d("2h")).unwrap(), "1h", 0.01);
        check_median(Dist::empirical(&[d("1h"), d("3h"), d("2h")]).unwrap(), "2h", 0.01);
        // Symmetric PERT: the median is the mode.
        check_median(Dist::pert(d("1h"), d("2h"), d("3h")).unwrap(), "2h", 0.01);
    }

    #[test]
    fn skewed_pert_median_matches_sampling() {
        // Beta(1.8, 4.2) on [0, 10h]: the median lies between the mode (2h) and the mean (3h).
        let dist = Dist::pert(d("0s"), d("2h"), d("10h")).unwrap();
        let median = dist.median().as_ms() as f64;
        let sampled = sample_median(&dist);
        assert!((median - sampled).abs() < 0.01 * median, "median {median} sampled {sampled}");
        assert!(median > d("2h").as_ms() as f64 && median < d("3h").as_ms() as f64);
    }

    #[test]
    fn lognormal_p90_holds() {
        let dist = Dist::lognormal(d("1h"), d("2h")).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 20_000;
        let below = (0..n).filter(|_| dist.sample_ms(&mut rng) <= d("2h").as_ms() as f64).count();
        let share = below as f64 / n as f64;
        assert!((share - 0.9).abs() < 0.01, "share below p90: {share}");
    }

    #[test]
    fn draws_stay_in_bounds() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let cap = d("30d");
        for dist in [
            Dist::uniform(d("1m"), d("2m")).unwrap(),
            Dist::triangular(d("1m"), d("1m"), d("2m")).unwrap(),
            Dist::pert(d("1m"), d("110s"), d("2m")).unwrap(),
            Dist::empirical(&[d("1m"), d("2m")]).unwrap(),
        ] {
            for _ in 0..5_000 {
                let v = dist.sample(&mut rng, cap);
                assert!(v >= d("1m") && v <= d("2m"), "{dist:?} drew {v}");
            }
        }
        let wild = Dist::lognormal(d("1d"), d("29d")).unwrap();
        assert!((0..5_000).all(|_| wild.sample(&mut rng, cap) <= cap));
    }

    #[test]
    fn the_normal_quantile_is_accurate() {
        for (p, z) in [
            (0.5, 0.0),
            (0.9, 1.281_551_565_544_600_4),
            (0.975, 1.959_963_984_540_054),
            (0.001, -3.090_232_306_167_813),
        ] {
            assert!((inverse_normal_cdf(p) - z).abs() < 1e-8, "{p}: {}", inverse_normal_cdf(p));
            assert!((inverse_normal_cdf(1.0 - p) + z).abs() < 1e-8);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(Dist::uniform(d("2m"), d("1m")), Err(DistError::MinAboveMax { .. })));
        assert!(matches!(Dist::pert(d("1m"), d("3m"), d("2m")), Err(DistError::ModeOutside { .. })));
        assert!(matches!(Dist::triangular(d("1m"), d("1m"), d("1m")), Err(DistError::Degenerate(_))));
        assert!(matches!(Dist::lognormal(d("0s"), d("1m")), Err(DistError::ZeroMedian)));
        assert!(matches!(Dist::lognormal(d("2m"), d("1m")), Err(DistError::P90NotAboveMedian { .. })));
        assert!(matches!(Dist::empirical(&[]), Err(DistError::NoObservations)));
    }
}
