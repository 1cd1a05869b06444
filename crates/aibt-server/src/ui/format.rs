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

/// An amount of money as the engine writes it (`0.00123400`): its significant decimals, at
/// least two, so that a model's fractions of a cent still show.
pub fn money(text: &str) -> String {
    match text.parse::<aibt_core::Decimal>() {
        Ok(value) => {
            let value = value.normalize();
            if value.scale() < 2 {
                format!("{value:.2}")
            } else {
                value.to_string()
            }
        }
        Err(_) => text.to_string(),
    }
}

/// A number with its sign and `places` decimals, or "—".
pub fn signed(value: Option<f64>, places: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{:+.*}", places, v + 0.0))
}

/// A number with `places` decimals, or "—".
pub fn fixed(value: Option<f64>, places: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{:.*}", places, v + 0.0))
}

/// A share (0 to 1) in whole percent, or "—".
pub fn share(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{:.0}%", v * 100.0 + 0.0))
}

/// A count with thousands separated: `1,234,567`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
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

/// A labelled value of a table of statistics.
pub struct StatRow {
    pub label: String,
    pub value: String,
}

/// The rows of `keys` a task's statistics hold, labelled by `stat.<key>`.
pub fn stat_rows(stats: &Value, keys: &[&str]) -> Vec<StatRow> {
    keys.iter()
        .filter(|key| stats.get(**key).is_some())
        .map(|key| StatRow {
            label: format!("stat.{key}"),
            value: stat(&stats[*key]),
        })
        .collect()
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
    "reasoning_tokens",
    "thinking_decisions",
    "tool_decisions",
    "tool_calls",
    "cost",
    "cost_per_decision",
    "latency_mean_ms",
    "latency_p95_ms",
];

/// A task's action mix as a statistics row (`Buy 12 % · Hold 88 %`, in the page's language),
/// when the task has one.
pub fn action_mix_row(tr: crate::ui::i18n::Tr, stats: &Value) -> Option<StatRow> {
    let mix = stats.get("action_mix")?;
    let parts: Vec<String> = [
        ("BUY", "buy"),
        ("SELL", "sell"),
        ("HOLD", "hold"),
        ("SHORT_SELL", "short_sell"),
        ("COVER_SHORT", "cover_short"),
    ]
    .iter()
    .filter_map(|(action, key)| {
        let share = mix.get(*key)?.as_f64()?;
        (share > 0.0).then(|| format!("{} {:.0} %", tr.of("action", action), share * 100.0))
    })
    .collect();
    (!parts.is_empty()).then(|| StatRow {
        label: "stat.action_mix".into(),
        value: parts.join(" · "),
    })
}

/// `HOLD 97 %` when one action is at least 95 % of a task's decisions (the engine's
/// `degenerate`), in the page's language.
pub fn degenerate_text(tr: crate::ui::i18n::Tr, stats: &Value) -> Option<String> {
    if stats.get("degenerate") != Some(&Value::Bool(true)) {
        return None;
    }
    let mix = &stats["action_mix"];
    Some(format!(
        "{} {:.0} %",
        tr.of("action", mix["dominant"].as_str().unwrap_or("")),
        mix["dominant_share"].as_f64().unwrap_or(1.0) * 100.0
    ))
}

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
        assert_eq!(signed(Some(-0.0), 1), "+0.0");
        assert_eq!(signed(None, 1), "—");
        assert_eq!(fixed(Some(0.8770), 2), "0.88");
        assert_eq!(share(Some(0.256)), "26%");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(money("0.00000000"), "0.00");
        assert_eq!(money("1.50000000"), "1.50");
        assert_eq!(money("0.00123400"), "0.001234");
        assert_eq!(
            short_id("01M88A8T5QET08M4BKAQJFN5W6"),
            "BKAQJFN5W6".chars().skip(2).collect::<String>()
        );
    }
}
