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

pub mod random;

pub use random::{
    Rng, SplitMix64, percentile_rank, random_positions, random_positions_stream, switch_probability,
};
