//! Many step durations drawn at once, each from its own generator, with
//! exactly the values [`StepDuration::sample`] gives one by one.
//!
//! A lognormal draw is a long chain of dependent arithmetic: a generator
//! output, the normal quantile (a rational function with a division), then
//! `exp` (another). Drawn one after the other, each draw mostly waits on its
//! own chain, and the processor can look only a draw or two ahead. Drawn in
//! stages across the batch (every uniform, then every quantile, then every
//! exponential), the chains of different steps overlap: a Monte Carlo run's
//! durations cost about half as much. Same operations, same order within
//! each draw, so the same bits.
//!
//! A uniform draw is one output scaled into its range, worked out once.
//!
//! A triangular draw picks one of two square roots by where its uniform
//! falls, which the processor cannot guess: a batch works out both and
//! keeps the one the draw picks (each exactly as the draw computes it), with
//! the distribution's constants (its mode's share of the range among them)
//! worked out once.
//!
//! A PERT draw is two gamma draws, each a normal draw and a uniform
//! (Marsaglia and Tsang's method) kept almost always on the first try: a
//! batch takes the first four outputs of each generator, then works out
//! every first try at once; a draw that needs more is drawn again alone,
//! from its generator afresh.

use rand_core::Rng;

use crate::dist::{Dist, GammaShape, lognormal_at, pert_at, round_ms, std_normal_of, unit};
use crate::scenario::{MAX_SPAN, StepDuration};

/// What a lone `dist`'s draw is kept below: as `Dist::sample` bounds it,
/// then `StepDuration::sample`.
fn bound(dist: &Dist) -> u64 {
    dist.max().map_or(MAX_SPAN.as_ms(), |m| m.as_ms().min(MAX_SPAN.as_ms()))
}

/// A triangular duration's constants, as `Dist::sample_ms` works them out
/// on every draw (`a` its min, `b` its max, `c` its mode), and the bound
/// its draw is kept below.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Triangle {
    a: f64,
    b: f64,
    b_a: f64,
    c_a: f64,
    b_c: f64,
    /// The mode's share of the range: `(c - a) / (b - a)`.
    fc: f64,
    hi: u64,
}

impl Triangle {
    fn new(dist: &Dist) -> Option<Triangle> {
        let Dist::Triangular { min: a, mode: c, max: b } = *dist else { return None };
        Some(Triangle { a, b, b_a: b - a, c_a: c - a, b_c: b - c, fc: (c - a) / (b - a), hi: bound(dist) })
    }

    /// The draw at uniform `u`: `Dist::sample_ms`' two branches, both
    /// worked out, the one it takes kept.
    #[inline]
    fn at(&self, u: f64) -> u64 {
        let low = self.a + libm::sqrt(u * self.b_a * self.c_a);
        let high = self.b - libm::sqrt((1.0 - u) * self.b_a * self.b_c);
        round_ms(if u < self.fc { low } else { high }).min(self.hi)
    }
}

/// A duration that is one PERT, or a fixed length and one PERT scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pert<'s> {
    min: f64,
    range: f64,
    alpha: GammaShape,
    beta: GammaShape,
    /// The PERT is the duration's base, kept below this bound; or a part
    /// scaled by `units`, after `fixed_ms` (0 for none).
    whole: Whole,
    /// The duration, drawn alone when the first tries do not all hold.
    alone: &'s StepDuration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Whole {
    Base { hi: u64 },
    Scaled { fixed_ms: f64, units: f64 },
}

impl<'s> Pert<'s> {
    fn new(d: &'s StepDuration) -> Option<Pert<'s>> {
        let (dist, whole) = match (&d.base, &d.per_gb, &d.per_million_rows) {
            (Some(dist), None, None) => (dist, Whole::Base { hi: bound(dist) }),
            (base @ (None | Some(Dist::Fixed(_))), Some(s), None)
            | (base @ (None | Some(Dist::Fixed(_))), None, Some(s)) => {
                // As `StepDuration::sample`: the base's whole ms (a fixed
                // length draws nothing), then the part.
                let fixed_ms = match base {
                    Some(Dist::Fixed(f)) => f.as_ms() as f64,
                    _ => 0.0,
                };
                (&s.dist, Whole::Scaled { fixed_ms, units: s.units })
            }
            _ => return None,
        };
        let Dist::Pert { min, max, alpha, beta, .. } = *dist else { return None };
        let (alpha, beta) = (GammaShape::new(alpha), GammaShape::new(beta));
        Some(Pert { min, range: max - min, alpha, beta, whole, alone: d })
    }

    /// The draw from its generator's first four outputs, when both gamma
    /// draws keep their first tries.
    #[inline]
    fn at(&self, w: [u64; 4]) -> Option<u64> {
        let x = self.alpha.first_try(w[0], w[1])?;
        let y = self.beta.first_try(w[2], w[3])?;
        let v = pert_at(self.min, self.range, x, y);
        Some(match self.whole {
            Whole::Base { hi } => round_ms(v).min(hi),
            Whole::Scaled { fixed_ms, units } => round_ms(fixed_ms + v.max(0.0) * units).min(MAX_SPAN.as_ms()),
        })
    }
}

/// Scratch space for [`Draws::sample`], reused from call to call.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    z: Vec<f64>,
    words: Vec<[u64; 4]>,
}

/// A batch of durations to draw, compiled once per plan. Each duration has
/// a slot (the caller's index, a step's say); `sample` writes slot `s`'s
/// draw to `out[s]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draws<'s> {
    /// Durations that are one lognormal, nothing scaled: (slot, median, sigma).
    lognormal: Vec<(u32, f64, f64)>,
    /// Durations that are one uniform, nothing scaled: (slot, min, its
    /// range, the bound).
    uniform: Vec<(u32, f64, f64, u64)>,
    /// Durations that are one triangular, nothing scaled.
    triangular: Vec<(u32, Triangle)>,
    /// Durations that are one PERT (see [`Pert`]).
    pert: Vec<(u32, Pert<'s>)>,
    /// Every other duration, drawn whole.
    other: Vec<(u32, &'s StepDuration)>,
}

impl<'s> Draws<'s> {
    /// The batch of these `(slot, duration)`s.
    pub fn new(items: impl IntoIterator<Item = (u32, &'s StepDuration)>) -> Self {
        let mut draws = Draws::default();
        for (slot, d) in items {
            match (&d.base, &d.per_gb, &d.per_million_rows) {
                (Some(Dist::LogNormal { median, sigma }), None, None) => {
                    draws.lognormal.push((slot, *median, *sigma));
                }
                (Some(dist @ Dist::Uniform { min, max }), None, None) => {
                    draws.uniform.push((slot, *min, max - min, bound(dist)));
                }
                (Some(dist), None, None) if let Some(t) = Triangle::new(dist) => draws.triangular.push((slot, t)),
                _ => match Pert::new(d) {
                    Some(p) => draws.pert.push((slot, p)),
                    None => draws.other.push((slot, d)),
                },
            }
        }
        draws
    }

    /// How many durations a batch draws.
    pub fn len(&self) -> usize {
        self.lognormal.len() + self.uniform.len() + self.triangular.len() + self.pert.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Draws every duration of the batch: slot `s` from a fresh `rng(s)`,
    /// in milliseconds, into `out[s]`.
    ///
    /// # Panics
    /// When a slot is outside `out`.
    pub fn sample<R: Rng>(&self, mut rng: impl FnMut(u32) -> R, scratch: &mut Scratch, out: &mut [u64]) {
        for &(slot, d) in &self.other {
            out[slot as usize] = d.sample(&mut rng(slot)).as_ms();
        }
        for &(slot, min, range, hi) in &self.uniform {
            // As `Dist::sample_ms` (the range worked out once), then bounded.
            out[slot as usize] = round_ms(min + range * unit(&mut rng(slot))).min(hi);
        }
        for (slot, t) in &self.triangular {
            out[*slot as usize] = t.at(unit(&mut rng(*slot)));
        }
        let words = &mut scratch.words;
        words.clear();
        words.extend(self.pert.iter().map(|(slot, _)| {
            let mut r = rng(*slot);
            [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()]
        }));
        for ((slot, p), w) in self.pert.iter().zip(words.iter()) {
            out[*slot as usize] = match p.at(*w) {
                Some(ms) => ms,
                None => p.alone.sample(&mut rng(*slot)).as_ms(),
            };
        }
        let z = &mut scratch.z;
        z.clear();
        z.extend(self.lognormal.iter().map(|&(slot, _, _)| std_normal_of(rng(slot).next_u64())));
        for (&(slot, median, sigma), z) in self.lognormal.iter().zip(z.iter()) {
            // As `StepDuration::sample` of a lone lognormal: no upper bound
            // of its own, so capped at MAX_SPAN.
            out[slot as usize] = round_ms(lognormal_at(median, sigma, *z)).min(MAX_SPAN.as_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Dist;
    use crate::scenario::Scaled;
    use crate::time::SimDuration;
    use rand_core::SeedableRng;
    use rand_xoshiro::SplitMix64;

    fn d(s: &str) -> SimDuration {
        SimDuration::parse(s).unwrap()
    }

    fn base(dist: Dist) -> StepDuration {
        StepDuration { base: Some(dist), per_gb: None, per_million_rows: None }
    }

    /// Every kind of duration, drawn in a batch, gives the draw it gives
    /// alone from the same generator, bit for bit, over many generators
    /// (the normal quantile's tails included, and PERT draws whose first
    /// tries do not all hold).
    #[test]
    fn a_batch_draws_what_each_draws_alone() {
        let scaled = |dist: Dist| Scaled { dist, units: 37.5 };
        let durations = [
            base(Dist::lognormal(d("1m58.772s"), d("2m28.465s")).unwrap()),
            base(Dist::uniform(d("5s"), d("1m")).unwrap()),
            base(Dist::lognormal(d("7h41m"), d("11h32m")).unwrap()),
            base(Dist::triangular(d("10s"), d("30s"), d("2m")).unwrap()),
            // Wide enough that a draw reaches past MAX_SPAN.
            base(Dist::uniform(d("20d"), d("40d")).unwrap()),
            // The mode at either end: one branch is never taken.
            base(Dist::triangular(d("1m"), d("1m"), d("3m")).unwrap()),
            base(Dist::triangular(d("1m"), d("3m"), d("3m")).unwrap()),
            base(Dist::pert(d("5m"), d("10m"), d("30m")).unwrap()),
            base(Dist::fixed(d("2m"))),
            StepDuration {
                base: None,
                per_gb: Some(scaled(Dist::pert(d("4s"), d("8s"), d("20s")).unwrap())),
                per_million_rows: None,
            },
            StepDuration {
                base: Some(Dist::lognormal(d("1m"), d("2m")).unwrap()),
                per_gb: None,
                per_million_rows: Some(scaled(Dist::lognormal(d("3s"), d("4s")).unwrap())),
            },
            base(Dist::empirical(&[d("1h"), d("3h"), d("2h")]).unwrap()),
            // Wide enough to hit the MAX_SPAN cap now and then.
            base(Dist::lognormal(d("20d"), d("29d")).unwrap()),
            // A fixed length and a PERT part; the mode at the min (a
            // gamma of shape 1, whose first try fails most often).
            StepDuration {
                base: Some(Dist::fixed(d("1h"))),
                per_gb: Some(scaled(Dist::pert(d("20s"), d("40s"), d("1m30s")).unwrap())),
                per_million_rows: None,
            },
            StepDuration {
                base: None,
                per_gb: None,
                per_million_rows: Some(scaled(Dist::pert(d("2s"), d("2s"), d("9s")).unwrap())),
            },
            base(Dist::pert(d("1h"), d("1h"), d("3h")).unwrap()),
            // Not batched as a PERT: a drawn base beside the part.
            StepDuration {
                base: Some(Dist::triangular(d("1m"), d("2m"), d("3m")).unwrap()),
                per_gb: Some(scaled(Dist::pert(d("4s"), d("8s"), d("20s")).unwrap())),
                per_million_rows: None,
            },
        ];
        // Slots out of order and with a gap, as a plan's leaf steps are.
        let slots = [3u32, 0, 7, 1, 18, 12, 13, 9, 4, 11, 2, 5, 10, 14, 17, 15, 16];
        let draws = Draws::new(slots.iter().copied().zip(&durations));
        assert_eq!(draws.len(), durations.len());
        assert_eq!(draws.lognormal.len(), 3);
        assert_eq!(draws.uniform.len(), 2);
        assert_eq!(draws.triangular.len(), 3);
        assert_eq!(draws.pert.len(), 5);
        let (mut scratch, mut out) = (Scratch::default(), vec![u64::MAX; 19]);
        let gen_of = |run: u64, slot: u32| SplitMix64::seed_from_u64(run.wrapping_mul(1_000_003) ^ u64::from(slot));
        let (mut capped, mut tails, mut again) = (0, 0, 0);
        for run in 0..20_000u64 {
            draws.sample(|slot| gen_of(run, slot), &mut scratch, &mut out);
            for (slot, dur) in slots.iter().zip(&durations) {
                let alone = dur.sample(&mut gen_of(run, *slot)).as_ms();
                assert_eq!(out[*slot as usize], alone, "run {run}, slot {slot}: {dur:?}");
            }
            capped += usize::from(out[10] == MAX_SPAN.as_ms() && out[18] == MAX_SPAN.as_ms());
            tails += usize::from(scratch.z.iter().any(|z| z.abs() > 1.96));
            again += usize::from(draws.pert.iter().any(|(slot, p)| {
                let mut g = gen_of(run, *slot);
                p.at([g.next_u64(), g.next_u64(), g.next_u64(), g.next_u64()]).is_none()
            }));
        }
        assert_eq!(out[6], u64::MAX, "a slot outside the batch is left alone");
        assert!(capped > 0 && tails > 0, "capped {capped}, tails {tails}: the test must reach both");
        assert!(again > 100, "only {again} runs drew a PERT again alone");
    }
}
