//! How numbers and times read on a page.

use aibt_core::TimeGranularity;
use aibt_store::Task;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A decimal string (as the store keeps money) rounded to `places` for reading; exact values
/// stay in the exports and the API.
pub fn decimal(text: &str, places: u32) -> String {
    match text.parse::<aibt_core::Decimal>() {
        Ok(value) => {
            let rounded = value.round_dp(places);
            format!("{rounded:.prec$}", prec = places as usize)
        }
        Err(_) => text.to_string(),
    }
}

/// A statistic as the table shows it.
pub fn stat(value: &Value) -> String {
    match value {
        Value::Null => "—".to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{:.2}", f + 0.0),
            _ => n.to_string(),
        },
        Value::String(s) => {
            if s.parse::<aibt_core::Decimal>().is_ok() {
                decimal(s, 2)
            } else {
                s.clone()
            }
        }
        other => other.to_string(),
    }
}

/// A bar time: the date for daily bars, date and minute otherwise.
pub fn time(ts: DateTime<Utc>, granularity: TimeGranularity) -> String {
    match granularity {
        TimeGranularity::Daily => ts.format("%Y-%m-%d").to_string(),
        _ => ts.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A task's period.
pub fn period(start: DateTime<Utc>, end: DateTime<Utc>, granularity: TimeGranularity) -> String {
    format!("{} → {}", time(start, granularity), time(end, granularity))
}

/// A task's first and last bar times, for a list cell that may wrap between them but never
/// inside one.
pub fn period_ends(task: &Task) -> (String, String) {
    (
        time(task.start_date, task.time_granularity),
        time(task.end_date, task.time_granularity),
    )
}

/// The first characters of an id, enough to tell tasks apart in a list.
pub fn short_id(id: &str) -> String {
    id.chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// A return in percent with its sign, or nothing.
pub fn percent(value: Option<f64>) -> String {
    value
        .map(|v| format!("{:+.2}%", v + 0.0))
        .unwrap_or_default()
}

/// A task's progress as the bar's width and its text.
pub fn progress_of(task: &Task) -> (f64, String) {
    let pct = task.progress_pct();
    (pct, format!("{pct:.0}%"))
}

/// A task's return in percent, from its statistics (nothing before it has finished).
pub fn return_pct(task: &Task) -> String {
    percent(task.stats.as_ref().and_then(|s| s["return_pct"].as_f64()))
}

/// A task's strategy with a built-in rule's parameters: `builtin:sma-cross (fast=10 slow=30)`.
pub fn strategy_label(task: &Task) -> String {
    let Ok(strategy) = aibt_engine::StrategyRef::of_task(task) else {
        return task.strategy.clone();
    };
    match strategy.params().map(aibt_engine::strategy::params_text) {
        Some(params) if !params.is_empty() => format!("{} ({params})", strategy.column()),
        _ => strategy.column(),
    }
}

/// The class that colours a signed number.
pub fn signed_class(value: Option<f64>) -> &'static str {
    match value {
        Some(v) if v > 0.0 => "up",
        Some(v) if v < 0.0 => "down",
        _ => "",
    }
}

/// Text as one value of a URL's query.
pub fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The statistics a task page and a comparison list, in backtesting.py's order.
pub const STATS: &[&str] = &[
    "start",
    "end",
    "duration",
    "num_bars",
    "exposure_time_pct",
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe_ratio",
    "sharpe_ratio_simple",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "avg_drawdown_duration",
    "num_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration",
    "avg_trade_duration",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly_criterion",
    "total_fees",
    "rejected_orders",
];

/// The statistics of a model's run, after the others.
pub const MODEL_STATS: &[&str] = &[
    "llm_decisions",
    "failed_decisions",
    "llm_calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "latency_mean_ms",
    "latency_p95_ms",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(decimal("10137.98785000", 2), "10137.99");
        assert_eq!(decimal("0.00100000", 4), "0.0010");
        assert_eq!(stat(&serde_json::json!(1.23456)), "1.23");
        assert_eq!(stat(&serde_json::json!(-0.0)), "0.00");
        assert_eq!(stat(&serde_json::json!(12)), "12");
        assert_eq!(stat(&Value::Null), "—");
        assert_eq!(percent(Some(12.3456)), "+12.35%");
        assert_eq!(
            short_id("01M88A8T5QET08M4BKAQJFN5W6"),
            "BKAQJFN5W6".chars().skip(2).collect::<String>()
        );
    }
}
