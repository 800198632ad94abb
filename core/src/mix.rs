//! The SplitMix64 finaliser: the one 64-bit mix behind the random streams'
//! derivation (`rehearse_sim::rng`) and the table checksums ([`crate::data`]).
//!
//! It is part of the stream format: stream starts and checksums in stored
//! events go through it, so changing it changes every stream and every
//! checksum ever written, and needs a schema version bump.

/// The golden-ratio increment SplitMix64 adds to its state before mixing.
const PHI: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output for the state `z` (Steele, Lea and Flood): `z` plus
/// the golden-ratio increment, mixed. A bijection on 64 bits; its output is
/// fixed by the published algorithm, the same on every machine.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(PHI);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{Rng, SeedableRng};

    #[test]
    fn mix_is_splitmix64s_first_output() {
        // The published algorithm's first output from state 0.
        assert_eq!(mix(0), 0xe220_a839_7b1d_cdaf);
        for z in [1, 7, 0x5eed, u64::MAX] {
            assert_eq!(mix(z), rand_xoshiro::SplitMix64::from_seed(z.to_le_bytes()).next_u64(), "{z}");
        }
    }
}
