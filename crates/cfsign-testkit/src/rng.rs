//! A seeded, deterministic pseudo-random number generator for picking test
//! inputs: SplitMix64 (Steele, Lea and Flood, 2014), tiny and without
//! dependencies. The same seed gives the same sequence on every machine, so a
//! failing case can be replayed. Not for anything secret.

/// SplitMix64: a seed in, a reproducible stream of `u64` out.
///
/// ```
/// use cfsign_testkit::rng::Rng;
///
/// let (mut a, mut b) = (Rng::new(0x5eed), Rng::new(0x5eed));
/// let drawn: Vec<usize> = (0..5).map(|_| a.below(8)).collect();
/// assert_eq!(drawn, (0..5).map(|_| b.below(8)).collect::<Vec<_>>());
/// assert!(drawn.iter().all(|n| *n < 8));
/// ```
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    ///
    /// ```
    /// let mut rng = cfsign_testkit::rng::Rng::new(1);
    /// assert_ne!(rng.next_u64(), rng.next_u64());
    /// ```
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 pseudo-random bits.
    ///
    /// ```
    /// // SplitMix64's reference output for the seed 0.
    /// let mut rng = cfsign_testkit::rng::Rng::new(0);
    /// assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` must not be 0).
    ///
    /// ```
    /// let mut rng = cfsign_testkit::rng::Rng::new(7);
    /// let items = ["a", "b", "c"];
    /// let picked = items[rng.below(items.len())];
    /// assert!(items.contains(&picked));
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0): there is no number below 0 to pick");
        // A modulo: slightly biased for huge n, which tests do not use.
        usize::try_from(self.next_u64() % n as u64).expect("below n, which is a usize")
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_reference_sequence() {
        // The first outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        let mut rng = Rng::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn below_covers_the_range_and_nothing_else() {
        let mut rng = Rng::new(0x5eed);
        let mut seen = [0usize; 8];
        for _ in 0..8_000 {
            seen[rng.below(8)] += 1;
        }
        assert!(seen.iter().all(|n| (800..1200).contains(n)), "{seen:?}");
    }
}
