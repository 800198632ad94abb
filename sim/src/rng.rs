//! Random streams: one independent generator per (seed, run, purpose, key).
//!
//! Each step draws from its own stream, keyed by a hash of its *id* (not its
//! position in the file), so adding, removing or reordering other steps never
//! shifts its draws: two plans that share a step share its random numbers
//! (common random numbers), which is what makes comparing plans fair.
//!
//! The generator is SplitMix64 (`rand_xoshiro::SplitMix64`, Steele, Lea and
//! Flood's generator as used to seed the xoshiro family), whose output is
//! fixed by its published algorithm: a counter advanced by a constant and
//! mixed. A stream is a handful of draws (a duration, whether a fault
//! strikes and where), so what matters is that deriving one is cheap and
//! that streams are independent: its start is the derivation key, mixed
//! twice by SplitMix64's own finaliser ([`rehearse_core::mix::mix`], which
//! the table checksums share). (Xoshiro256++ seeded per stream cost 12 % of
//! a Monte Carlo run.)
//! The derivation below is part of the event-stream format: changing it
//! changes every stream, and needs a schema version bump.

use rand_core::SeedableRng;
use rehearse_core::mix::mix;

/// The generator every stream uses.
pub type Stream = rand_xoshiro::SplitMix64;

/// What a stream is for. The codes are part of the stream format: never
/// renumber them, only add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// A step's duration (index: the attempt).
    StepDuration = 1,
    /// Whether a fault strikes a step's attempt, where, and whether an
    /// unknown outcome had in fact completed (index: the attempt).
    Fault = 2,
    /// Swarm testing: whether a fault site is switched on for the run.
    Swarm = 3,
    /// A recovery's reaction, fix, undo and verify times (index: the attempt).
    Recovery = 4,
    /// Analyses outside runs (a policy's duration quantiles, ...).
    Analysis = 5,
    /// A shared driver's factor, drawn once per run (key: the driver's id;
    /// index 0).
    Driver = 6,
    /// A lag that is "at least" a range (key: the pair of steps' ids;
    /// index 0).
    Lag = 7,
}

/// The stream for `(seed, run, purpose, key, index)`.
pub fn stream(seed: u64, run: u64, purpose: Purpose, key: u64, index: u64) -> Stream {
    StreamBase::new(seed, run, purpose).stream(key, index)
}

/// The same stream with its first `draws` draws skipped, in constant time:
/// SplitMix64's state is a counter that each draw advances by the golden
/// gamma, so work that reads one long stream can be split at known points
/// and still draw exactly what reading it whole draws.
pub fn stream_after(seed: u64, run: u64, purpose: Purpose, key: u64, index: u64, draws: u64) -> Stream {
    let start = StreamBase::new(seed, run, purpose).start(key, index);
    Stream::from_seed(start.wrapping_add(draws.wrapping_mul(GAMMA)).to_le_bytes())
}

/// SplitMix64's increment (the golden gamma), per draw.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The part of a stream's derivation shared by every stream of one run and
/// purpose: computed once per run, it leaves two mixes per stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamBase(u64);

impl StreamBase {
    pub fn new(seed: u64, run: u64, purpose: Purpose) -> Self {
        StreamBase(mix(mix(mix(seed) ^ run) ^ purpose as u64))
    }

    /// The stream for `(key, index)` under this base.
    #[inline]
    pub fn stream(self, key: u64, index: u64) -> Stream {
        Stream::from_seed(self.start(key, index).to_le_bytes())
    }

    /// The generator state a stream starts from.
    #[inline]
    fn start(self, key: u64, index: u64) -> u64 {
        mix(mix(self.0 ^ key) ^ index)
    }
}

/// A key for a pair of names (a fault on a step, a policy for a step).
pub fn pair_key(a: u64, b: u64) -> u64 {
    mix(a) ^ b
}

/// A stable 64-bit key for a name (FNV-1a): the same on every machine and
/// in every version.
pub fn key_of(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    const PINNED_FIRST_DRAW: u64 = 13_908_072_868_310_357_539;

    #[test]
    fn streams_are_fixed_by_their_inputs() {
        let a = stream(7, 0, Purpose::StepDuration, key_of("restore"), 1).next_u64();
        let b = stream(7, 0, Purpose::StepDuration, key_of("restore"), 1).next_u64();
        assert_eq!(a, b);
        // Pinned value: a change here changes every event stream ever written.
        assert_eq!(key_of("restore"), 0xb057_7b29_135f_0bb1);
        assert_eq!(a, PINNED_FIRST_DRAW);
        for (seed, run, key, index) in
            [(8, 0, "restore", 1), (7, 1, "restore", 1), (7, 0, "backup", 1), (7, 0, "restore", 2)]
        {
            assert_ne!(a, stream(seed, run, Purpose::StepDuration, key_of(key), index).next_u64());
        }
        assert_ne!(a, stream(7, 0, Purpose::Fault, key_of("restore"), 1).next_u64());
    }

    /// Skipping draws lands where drawing them does, at any distance.
    #[test]
    fn a_stream_skipped_ahead_draws_what_follows() {
        let mut whole = stream(9, 2, Purpose::Analysis, key_of("compare"), 0);
        let drawn: Vec<u64> = (0..1_000).map(|_| whole.next_u64()).collect();
        for skip in [0u64, 1, 2, 17, 500, 999] {
            let mut s = stream_after(9, 2, Purpose::Analysis, key_of("compare"), 0, skip);
            assert_eq!(s.next_u64(), drawn[skip as usize], "after {skip}");
        }
    }

    /// Neighbouring streams (the attempts of one step, the runs of one
    /// estimate) must look independent: the first draws of 64,000 of them
    /// fall evenly into 64 bins, and the first draw says nothing about the
    /// second.
    #[test]
    fn neighbouring_streams_are_uniform_and_independent() {
        let mut bins = [0u32; 64];
        let mut joint = [0u32; 64];
        let n = 64_000u64;
        for run in 0..n / 8 {
            for attempt in 1..=8 {
                let mut s = stream(3, run, Purpose::StepDuration, key_of("DbSync.SyncSchema"), attempt);
                let (x, y) = (s.next_u64() >> 58, s.next_u64() >> 61);
                bins[x as usize] += 1;
                joint[((x >> 3) << 3 | y) as usize] += 1;
            }
        }
        // Chi-square with 63 degrees of freedom: the 99.9 % point is 103.4.
        let chi = |counts: &[u32]| {
            let e = n as f64 / counts.len() as f64;
            counts.iter().map(|c| (*c as f64 - e).powi(2) / e).sum::<f64>()
        };
        assert!(chi(&bins) < 103.4, "first draws: chi-square {}", chi(&bins));
        assert!(chi(&joint) < 103.4, "first vs second draw: chi-square {}", chi(&joint));
    }
}
