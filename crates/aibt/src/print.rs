//! How a task is printed: its statistics as a backtesting.py-style table, or as JSON.

use aibt_store::Task;
use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::Format;

/// Prints a task: `{"task_id", "status", "stats"}` as JSON, or a readable table.
pub fn print_task(task: &Task, format: Format) -> Result<()> {
    let stats = task.stats.clone().unwrap_or(Value::Null);
    match format {
        Format::Json => {
            let out = json!({
                "task_id": task.task_id,
                "status": task.status,
                "error_message": task.error_message,
                "stats": stats,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            println!("{:<26}{}", "Task", task.task_id);
            println!("{:<26}{}", "Status", task.status);
            if let Some(error) = &task.error_message {
                println!("{:<26}{}", "Error", error);
            }
            let strategy = aibt_engine::StrategyRef::of_task(task)
                .map(|s| s.label())
                .unwrap_or_else(|_| task.strategy.clone());
            println!(
                "{:<26}{strategy}, fill {}",
                "Strategy",
                task.options["fill"].as_str().unwrap_or("next_open")
            );
            println!(
                "{:<26}{} ({}, {}), every {} bar(s)",
                "Series",
                task.stock_symbol,
                task.market_type.map(|m| m.to_string()).unwrap_or_default(),
                task.time_granularity,
                task.decision_interval
            );
            println!(
                "{:<26}{}/{}",
                "Decisions",
                task.processed_items,
                task.total_items.unwrap_or(0)
            );
            if stats.is_object() {
                println!();
                for (label, key) in STAT_ROWS {
                    let text = stat_text(&stats[*key]);
                    println!("{label:<26}{text}");
                }
                if stats.get("llm_decisions").is_some() {
                    println!();
                    for (label, key) in AI_ROWS {
                        println!("{label:<26}{}", stat_text(&stats[*key]));
                    }
                }
                if let Some(warning) = stats["memorisation_warning"].as_str() {
                    println!();
                    println!("{:<26}{warning}", "Warning");
                }
            }
        }
    }
    Ok(())
}

fn stat_text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_string(),
        Value::Number(n) => match n.as_f64() {
            // `+ 0.0` turns a negative zero (a drawdown of nothing) into a plain zero.
            Some(f) if n.is_f64() => format!("{:.4}", f + 0.0),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a model's decisions cost: shown for AI tasks.
const AI_ROWS: &[(&str, &str)] = &[
    ("Decisions", "llm_decisions"),
    ("Failed Decisions", "failed_decisions"),
    ("LLM Calls", "llm_calls"),
    ("Cache Hits", "cache_hits"),
    ("Prompt Tokens", "prompt_tokens"),
    ("Completion Tokens", "completion_tokens"),
    ("Latency Mean [ms]", "latency_mean_ms"),
    ("Latency p95 [ms]", "latency_p95_ms"),
];

const STAT_ROWS: &[(&str, &str)] = &[
    ("Start", "start"),
    ("End", "end"),
    ("Duration", "duration"),
    ("Bars", "num_bars"),
    ("Exposure Time [%]", "exposure_time_pct"),
    ("Equity Final [$]", "equity_final"),
    ("Equity Peak [$]", "equity_peak"),
    ("Return [%]", "return_pct"),
    ("Buy & Hold Return [%]", "buy_hold_return_pct"),
    ("Return (Ann.) [%]", "return_ann_pct"),
    ("Volatility (Ann.) [%]", "volatility_ann_pct"),
    ("CAGR [%]", "cagr_pct"),
    ("Sharpe Ratio", "sharpe_ratio"),
    ("Sharpe Ratio (simple)", "sharpe_ratio_simple"),
    ("Sortino Ratio", "sortino_ratio"),
    ("Calmar Ratio", "calmar_ratio"),
    ("Max. Drawdown [%]", "max_drawdown_pct"),
    ("Avg. Drawdown [%]", "avg_drawdown_pct"),
    ("Max. Drawdown Duration", "max_drawdown_duration"),
    ("Avg. Drawdown Duration", "avg_drawdown_duration"),
    ("# Trades", "num_trades"),
    ("Win Rate [%]", "win_rate_pct"),
    ("Best Trade [%]", "best_trade_pct"),
    ("Worst Trade [%]", "worst_trade_pct"),
    ("Avg. Trade [%]", "avg_trade_pct"),
    ("Max. Trade Duration", "max_trade_duration"),
    ("Avg. Trade Duration", "avg_trade_duration"),
    ("Profit Factor", "profit_factor"),
    ("Expectancy [%]", "expectancy_pct"),
    ("SQN", "sqn"),
    ("Kelly Criterion", "kelly_criterion"),
    ("Total Fees [$]", "total_fees"),
    ("Rejected Orders", "rejected_orders"),
];
