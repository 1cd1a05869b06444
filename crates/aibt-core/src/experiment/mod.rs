//! The statistics of experiments: pure functions that the experiment leaderboard reports.
//!
//! - [`random`]: the seeded generator (SplitMix64 → xoshiro256\*\*), the random long/flat
//!   baseline and the percentile rank among random runs.
//! - [`bootstrap`]: the paired stationary bootstrap of a strategy against its benchmark, with
//!   the Politis–White automatic block length.
//! - [`sharpe`]: the Probabilistic and Deflated Sharpe Ratios.
//! - [`normal`]: Φ and Φ⁻¹.
//! - [`summary`]: spread over repeats, decision consistency and the action mix.
//!
//! Statistics are ratios, so they use `f64`. Degenerate input (an empty or constant series, a
//! non-finite value) gives `None` or an error, never a silent NaN. `docs/stats.md` ("Experiment
//! statistics") states every formula and its source; `crates/aibt-core/tests/experiment_stats.rs`
//! checks them against arch, scipy, quantstats and the papers' own examples.

pub mod normal;
pub mod random;
pub mod sharpe;
pub mod summary;

pub use normal::{erfc, normal_cdf, normal_pdf, normal_quantile};
pub use random::{
    Rng, SplitMix64, percentile_rank, random_positions, random_positions_stream, switch_probability,
};
pub use sharpe::{
    Deflated, Moments, deflated_sharpe_ratio, deflated_sharpe_ratio_with, expected_max_sharpe,
    probabilistic_sharpe_ratio, probabilistic_sharpe_ratio_of, sharpe_ratio,
};
pub use summary::{
    ActionMix, DEGENERATE_SHARE, RepeatSummary, action_mix, consistency_share, summarize_repeats,
};

/// The arithmetic mean; `None` for an empty slice.
fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

/// The sample variance (divisor n − 1), two-pass; `None` for fewer than 2 values.
fn sample_variance(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    Some(x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
        assert_eq!(sample_variance(&[1.0]), None);
        assert_eq!(sample_variance(&[1.0, 3.0]), Some(2.0));
    }
}
