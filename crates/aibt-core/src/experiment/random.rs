//! A seeded pseudo-random generator, the random long/flat baseline and the percentile rank of a
//! variant among the random runs.
//!
//! The generator is implemented here (about 40 lines) rather than taken from a crate, so a
//! dependency bump can never change an experiment's numbers: the same seed gives the same
//! sequence on every platform, forever.
//!
//! - **SplitMix64** (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
//!   generators", OOPSLA; the constants of Vigna's `splitmix64.c`) turns a 64-bit seed into
//!   the generator's state.
//! - **xoshiro256\*\*** (Blackman & Vigna 2021, "Scrambled linear pseudorandom number
//!   generators", ACM TOMS 47(4); `xoshiro256starstar.c`) draws the numbers: period 2^256 − 1,
//!   state seeded with four consecutive SplitMix64 outputs as its authors recommend.
//!
//! Both reproduce their published test vectors (see the tests).

/// SplitMix64: a 64-bit counter advanced by the golden gamma and hashed by a fixed mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

/// The golden gamma, 2^64 / φ rounded to odd.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    /// A generator whose first output is `mix(seed + γ)`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256\*\*, the generator every experiment statistic draws from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator for `seed`: its state is the first four SplitMix64 outputs for `seed`
    /// (never all zero, since SplitMix64's mixer is a bijection).
    pub fn new(seed: u64) -> Self {
        Self::for_stream(seed, 0)
    }

    /// The generator of stream `stream` of `seed`: its state is SplitMix64 outputs
    /// `4·stream … 4·stream + 3` for `seed`, so different streams of one seed always start
    /// from different states (for `stream < 2^62`). An experiment gives each random run and
    /// each bootstrap its own stream of the experiment's seed.
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let skip = stream.wrapping_mul(4).wrapping_mul(GOLDEN_GAMMA);
        let mut sm = SplitMix64::new(seed.wrapping_add(skip));
        Self {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    /// A generator with this exact state (for the reference test vectors); `None` for the
    /// all-zero state, which xoshiro never leaves.
    pub fn from_state(s: [u64; 4]) -> Option<Self> {
        (s != [0; 4]).then_some(Self { s })
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform double in [0, 1): the top 53 bits times 2^-53.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in [0, n), without bias (Lemire 2019, "Fast random integer generation
    /// in an interval", ACM TOMACS 29(1): multiply, and reject the few low products that would
    /// favour some values). `None` when `n` is 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> Option<u64> {
        if n == 0 {
            return None;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        Some((m >> 64) as u64)
    }
}

/// The random baseline's positions: `true` is long, `false` flat. It starts flat, like every
/// run (all cash), and at each of `bars` decision steps flips between long and flat with
/// probability `switch_probability` (a uniform draw `u` in [0, 1) flips when `u < p`), so its
/// expected number of position changes is `p × bars`. Choose `p` as the AI variants' mean
/// position changes per decision step ([`switch_probability`]).
///
/// `None` when `p` is not in [0, 1].
pub fn random_positions(bars: usize, switch_probability: f64, seed: u64) -> Option<Vec<bool>> {
    random_positions_stream(bars, switch_probability, seed, 0)
}

/// [`random_positions`] drawn from stream `stream` of `seed` ([`Rng::for_stream`]): random run
/// `k` of an experiment uses stream `k`.
pub fn random_positions_stream(
    bars: usize,
    switch_probability: f64,
    seed: u64,
    stream: u64,
) -> Option<Vec<bool>> {
    if !(0.0..=1.0).contains(&switch_probability) {
        return None;
    }
    let mut rng = Rng::for_stream(seed, stream);
    let mut long = false;
    Some(
        (0..bars)
            .map(|_| {
                if rng.next_f64() < switch_probability {
                    long = !long;
                }
                long
            })
            .collect(),
    )
}

/// The switch probability that matches a set of runs: their total position changes over
/// their total decision steps. `None` when there are no steps or more changes than steps.
pub fn switch_probability(position_changes: u64, decision_steps: u64) -> Option<f64> {
    (decision_steps > 0 && position_changes <= decision_steps)
        .then(|| position_changes as f64 / decision_steps as f64)
}

/// The percentile (0–100) of `value` among `population` (the random runs' returns): the share
/// strictly below plus half the share equal, × 100. Ties count half, so a value equal to every
/// run ranks 50, and the rank is scipy's `percentileofscore(population, value, kind="mean")`.
/// `None` for an empty population or a non-finite value or member.
pub fn percentile_rank(population: &[f64], value: f64) -> Option<f64> {
    if population.is_empty() || !value.is_finite() || population.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let below = population.iter().filter(|&&x| x < value).count();
    let equal = population.iter().filter(|&&x| x == value).count();
    Some((below as f64 + 0.5 * equal as f64) / population.len() as f64 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_its_published_outputs() {
        // Seed 1234567: the sequence Rosetta Code's "Pseudo-random numbers/Splitmix64" task
        // publishes (from Vigna's splitmix64.c).
        let mut sm = SplitMix64::new(1_234_567);
        let expected = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for e in expected {
            assert_eq!(sm.next_u64(), e);
        }
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn xoshiro256starstar_matches_the_reference_implementation() {
        // State {1, 2, 3, 4}: the outputs of xoshiro256starstar.c that rand_xoshiro and other
        // ports test against.
        let mut rng = Rng::from_state([1, 2, 3, 4]).expect("non-zero state");
        let expected: [u64; 10] = [
            11_520,
            0,
            1_509_978_240,
            1_215_971_899_390_074_240,
            1_216_172_134_540_287_360,
            607_988_272_756_665_600,
            16_172_922_978_634_559_625,
            8_476_171_486_693_032_832,
            10_595_114_339_597_558_777,
            2_904_607_092_377_533_576,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
        assert!(Rng::from_state([0; 4]).is_none());
    }

    #[test]
    fn seeding_is_splitmix_and_streams_follow_each_other() {
        let mut sm = SplitMix64::new(42);
        let outputs: Vec<u64> = (0..8).map(|_| sm.next_u64()).collect();
        assert_eq!(
            Rng::new(42).s,
            [outputs[0], outputs[1], outputs[2], outputs[3]]
        );
        assert_eq!(
            Rng::for_stream(42, 1).s,
            [outputs[4], outputs[5], outputs[6], outputs[7]]
        );
    }

    #[test]
    fn floats_and_bounded_integers_are_uniform() {
        let mut rng = Rng::new(987_654_321);
        let mut counts = [0u32; 5];
        for _ in 0..100_000 {
            let u = rng.next_f64();
            assert!((0.0..1.0).contains(&u));
            counts[(u * 5.0) as usize] += 1;
        }
        // Each cell ~ Binomial(100000, 0.2): sd 126, so ±600 is ~4.7 sd.
        assert!(
            counts.iter().all(|&c| (19_400..=20_600).contains(&c)),
            "{counts:?}"
        );
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[rng.below(7).expect("n > 0") as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..=10_500).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(rng.below(0), None);
        assert_eq!(rng.below(1), Some(0));
    }

    #[test]
    fn random_positions_flip_at_the_asked_rate() {
        let positions = random_positions(100_000, 0.1, 7).expect("valid p");
        let mut changes = usize::from(positions[0]);
        changes += positions.windows(2).filter(|w| w[0] != w[1]).count();
        // Binomial(100000, 0.1): sd 95.
        assert!((9_600..=10_400).contains(&changes), "{changes}");
        assert_eq!(
            positions,
            random_positions(100_000, 0.1, 7).expect("valid p")
        );
        assert_ne!(
            positions,
            random_positions(100_000, 0.1, 8).expect("valid p")
        );
        assert_ne!(
            positions,
            random_positions_stream(100_000, 0.1, 7, 1).expect("valid p")
        );
        assert!(
            random_positions(10, 0.0, 1)
                .expect("p = 0")
                .iter()
                .all(|&l| !l)
        );
        let always = random_positions(6, 1.0, 1).expect("p = 1");
        assert_eq!(always, [true, false, true, false, true, false]);
        assert!(random_positions(10, 1.5, 1).is_none());
        assert!(random_positions(10, f64::NAN, 1).is_none());
        assert_eq!(random_positions(0, 0.5, 1), Some(vec![]));
    }

    #[test]
    fn switch_probability_is_changes_per_step() {
        assert_eq!(switch_probability(5, 100), Some(0.05));
        assert_eq!(switch_probability(0, 0), None);
        assert_eq!(switch_probability(101, 100), None);
    }

    #[test]
    fn percentile_rank_counts_ties_half() {
        let pop = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(percentile_rank(&pop, 2.0), Some(50.0));
        assert_eq!(percentile_rank(&pop, 0.0), Some(0.0));
        assert_eq!(percentile_rank(&pop, 4.0), Some(100.0));
        assert_eq!(percentile_rank(&pop, 2.5), Some(75.0));
        assert_eq!(percentile_rank(&pop, 3.0), Some(87.5));
        assert_eq!(percentile_rank(&[5.0; 3], 5.0), Some(50.0));
        assert_eq!(percentile_rank(&[], 1.0), None);
        assert_eq!(percentile_rank(&pop, f64::NAN), None);
        assert_eq!(percentile_rank(&[1.0, f64::INFINITY], 1.0), None);
    }
}
