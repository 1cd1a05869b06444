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

pub mod bootstrap;
pub mod normal;
pub mod random;
pub mod sharpe;
pub mod summary;

pub use bootstrap::{
    BlockLength, BootstrapConfig, BootstrapError, BootstrapEstimate, DEFAULT_RESAMPLES,
    PairedBootstrap, optimal_block_length, paired_bootstrap,
};
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

/// The q-quantile of sorted, non-empty `x`, interpolated linearly between order statistics at
/// h = (len − 1)·q (Hyndman & Fan 1996 type 7, numpy's default `percentile`).
fn quantile_sorted(x: &[f64], q: f64) -> f64 {
    let h = (x.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(x.len() - 1);
    x[lo] + (h - lo as f64) * (x[hi] - x[lo])
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
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&x, 0.0), 1.0);
        assert_eq!(quantile_sorted(&x, 1.0), 4.0);
        assert_eq!(quantile_sorted(&x, 0.5), 2.5);
        // numpy.percentile([1, 2, 3, 4], 2.5) = 1.075
        assert!((quantile_sorted(&x, 0.025) - 1.075).abs() < 1e-15);
        assert_eq!(quantile_sorted(&[7.0], 0.3), 7.0);
    }
}
