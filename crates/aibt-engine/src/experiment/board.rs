//! What a leaderboard holds: one row per variant (strategy × series × period, repeats pooled),
//! the in-sample / out-of-sample pairs, and the cost. Plain data, serialised for the API, the
//! CLI's JSON and the report.

use aibt_core::TaskStatus;
use aibt_core::experiment::{ActionMix, BootstrapEstimate, RepeatSummary};
use serde::Serialize;

/// The leaderboard of an experiment.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Leaderboard {
    pub experiment_id: String,
    pub name: String,
    pub status: TaskStatus,
    pub error_message: Option<String>,
    pub progress: Progress,
    /// Strategy variants ranked by mean return (in sample, when the experiment has a split),
    /// then the baselines.
    pub rows: Vec<VariantRow>,
    /// Each strategy on each series: in sample beside out of sample.
    pub splits: Vec<SplitRow>,
    pub cost: Cost,
    /// What a reader should know (repeats that cannot differ, a period the model may have
    /// seen, …).
    pub notes: Vec<String>,
}

/// How far the experiment's tasks are.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub tasks: usize,
    pub finished: usize,
    pub running: usize,
    pub paused: usize,
    pub failed: usize,
    /// Decisions taken over the decisions planned, across every task.
    pub processed_items: i64,
    pub total_items: i64,
}

/// Mean and spread of a measure over a variant's finished repeats.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation; none for a single repeat.
    pub std: Option<f64>,
}

impl From<RepeatSummary> for Spread {
    fn from(s: RepeatSummary) -> Spread {
        Spread {
            mean: s.mean,
            min: s.min,
            max: s.max,
            std: s.std,
        }
    }
}

/// A bootstrap estimate of a difference (annualised), its 95% interval and p-value.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Difference {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub p_value: f64,
}

impl From<BootstrapEstimate> for Difference {
    fn from(e: BootstrapEstimate) -> Difference {
        Difference {
            estimate: e.estimate,
            low: e.low,
            high: e.high,
            p_value: e.p_value,
        }
    }
}

/// A paired comparison: of annualised mean returns (in percent) and of Sharpe ratios.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub return_pct: Difference,
    pub sharpe: Option<Difference>,
}

/// The share of each action among a variant's decisions.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mix {
    pub decisions: usize,
    pub buy: f64,
    pub sell: f64,
    pub short: f64,
    pub cover: f64,
    pub hold: f64,
    /// One action is at least 95% of the decisions.
    pub degenerate: bool,
}

impl From<ActionMix> for Mix {
    fn from(m: ActionMix) -> Mix {
        Mix {
            decisions: m.decisions,
            buy: m.buy,
            sell: m.sell,
            short: m.short_sell,
            cover: m.cover_short,
            hold: m.hold,
            degenerate: m.degenerate,
        }
    }
}

/// Calls, tokens, money and time of a set of model runs.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cost {
    pub decisions: u64,
    pub failed_decisions: u64,
    pub llm_calls: i64,
    pub cache_hits: u64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// By the AI configs' prices; none when a config has no price.
    pub money: Option<String>,
    pub latency_mean_ms: Option<f64>,
    pub latency_p95_ms: Option<i64>,
}

/// Whether a row is a strategy of the spec or a baseline aibt adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    Strategy,
    /// Buy-and-hold or always-hold: a task of the experiment.
    Baseline,
    /// The random long/flat runs, computed from the bars (see docs/stats.md).
    Random,
}

/// One variant: a strategy (or baseline) on one series in one period, repeats pooled.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VariantRow {
    pub variant: String,
    pub kind: RowKind,
    pub blind: bool,
    pub stock_symbol: String,
    pub period: String,
    /// Finished runs of this variant, and all of them.
    pub finished: usize,
    pub runs: usize,
    pub task_ids: Vec<String>,
    pub return_pct: Option<Spread>,
    pub sharpe: Option<Spread>,
    pub max_drawdown_pct: Option<Spread>,
    pub trades: Option<Spread>,
    /// Share of finished repeats whose return beat buy-and-hold's.
    pub beat_buy_hold: Option<f64>,
    /// Percentile of the mean return among the random runs: the luck column.
    pub luck_percentile: Option<f64>,
    /// Against buy-and-hold, paired bootstrap of per-bar returns.
    pub vs_buy_hold: Option<Comparison>,
    /// Probability that the true Sharpe ratio is above zero (Bailey & López de Prado 2012).
    pub psr: Option<f64>,
    /// The PSR against the best Sharpe ratio expected among the experiment's trials (2014).
    pub dsr: Option<f64>,
    /// Named minus blind, for a variant with a blind twin.
    pub memory_gap: Option<Comparison>,
    /// The period ends before the model's training cutoff.
    pub memorisation_warning: Option<String>,
    /// Share of decision steps on which every repeat took the same action.
    pub consistency: Option<f64>,
    pub action_mix: Option<Mix>,
    pub cost: Option<Cost>,
}

/// A strategy on a series, in sample beside out of sample.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitRow {
    pub variant: String,
    pub blind: bool,
    pub stock_symbol: String,
    pub in_sample: String,
    pub out_of_sample: String,
    pub in_sample_return_pct: Option<f64>,
    pub out_of_sample_return_pct: Option<f64>,
    /// Out of sample minus in sample.
    pub return_drop_pct: Option<f64>,
    pub in_sample_sharpe: Option<f64>,
    pub out_of_sample_sharpe: Option<f64>,
    pub sharpe_drop: Option<f64>,
}
