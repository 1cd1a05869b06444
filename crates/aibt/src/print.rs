//! How a task is printed: its statistics as a backtesting.py-style table, or as JSON; and
//! where a report is written.

use aibt_engine::experiment::Leaderboard;
use aibt_store::Task;
use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::Format;

/// Writes a report to `out`, or to standard output.
pub fn write_report(html: &str, out: Option<&std::path::Path>) -> Result<()> {
    use anyhow::Context;
    use std::io::Write;
    match out {
        Some(path) => {
            std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(html.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

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
                    if let Some(mix) = mix_text(&stats["action_mix"]) {
                        println!("{:<26}{mix}", "Action Mix");
                    }
                }
                if stats["degenerate"] == true {
                    let mix = &stats["action_mix"];
                    println!();
                    println!(
                        "{:<26}{:.0} % of the decisions are {}: the model may answer the same whatever it is shown",
                        "Warning",
                        mix["dominant_share"].as_f64().unwrap_or(1.0) * 100.0,
                        mix["dominant"].as_str().unwrap_or("one action"),
                    );
                }
                if let Some(warning) = stats["memorisation_warning"].as_str() {
                    println!();
                    println!("{:<26}{warning}", "Warning");
                }
                if let Some(reason) = stats["tool_fallback"].as_str() {
                    println!();
                    println!(
                        "{:<26}{reason}: the decisions took the JSON path instead of tools",
                        "Warning"
                    );
                }
            }
        }
    }
    Ok(())
}

/// What `aibt backtest --estimate` found.
pub fn print_estimate(estimate: &aibt_engine::task::TaskEstimate, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(estimate)?),
        Format::Table => {
            println!("{:<26}{}", "Decisions", estimate.decisions);
            println!("{:<26}{}", "Answered by the Cache", estimate.cached);
            if estimate.calls_max > estimate.calls {
                // Tool mode: each decision may look things up before it submits.
                println!(
                    "{:<26}{} (up to {} with tools)",
                    "Calls", estimate.calls, estimate.calls_max
                );
            } else {
                println!("{:<26}{}", "Calls", estimate.calls);
            }
            let by = match estimate.prompt_tokens_by {
                "server" => "counted by the server's tokenizer",
                _ => "estimated at 4 characters a token: the server has no /tokenize",
            };
            println!("{:<26}{} ({by})", "Prompt Tokens", estimate.prompt_tokens);
            println!(
                "{:<26}{} (every answer at max_tokens)",
                "Completion Tokens, max", estimate.completion_tokens_max
            );
            match (
                estimate.money_max,
                estimate.prompt_money,
                estimate.completion_money_max,
            ) {
                (Some(total), Some(prompt), Some(answers)) => println!(
                    "{:<26}{} (prompts {}, answers at most {})",
                    "Money, max",
                    total.get().normalize(),
                    prompt.get().normalize(),
                    answers.get().normalize()
                ),
                _ => println!(
                    "{:<26}— (the AI config has no prices: --price-input-per-million, --price-output-per-million)",
                    "Money, max"
                ),
            }
            if !estimate.exact {
                println!(
                    "note: the template reads the account, so its prompts were rendered for a flat account"
                );
            }
        }
    }
    Ok(())
}

/// `BUY 12 % · SELL 10 % · HOLD 78 %`: the actions a model chose, the ones it never chose left
/// out.
fn mix_text(mix: &Value) -> Option<String> {
    let parts: Vec<String> = [
        ("BUY", "buy"),
        ("SELL", "sell"),
        ("HOLD", "hold"),
        ("SHORT_SELL", "short_sell"),
        ("COVER_SHORT", "cover_short"),
    ]
    .iter()
    .filter_map(|(label, key)| {
        let share = mix.get(*key)?.as_f64()?;
        (share > 0.0).then(|| format!("{label} {:.0} %", share * 100.0))
    })
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
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
    ("  of which Thinking", "reasoning_tokens"),
    ("Decisions With Thinking", "thinking_decisions"),
    ("Cost", "cost"),
    ("Cost per Decision", "cost_per_decision"),
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

/// An experiment's leaderboard: `{...}` as JSON, or tables (variants, in and out of sample,
/// memory, models).
pub fn print_leaderboard(board: &Leaderboard, format: Format) -> Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(board)?);
        return Ok(());
    }
    let p = &board.progress;
    println!(
        "{:<14}{} ({})",
        "Experiment", board.name, board.experiment_id
    );
    println!(
        "{:<14}{}{}",
        "Status",
        board.status,
        board
            .error_message
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    println!(
        "{:<14}{}/{} tasks done, {} running, {} paused, {} failed; {}/{} decisions",
        "Progress",
        p.finished,
        p.tasks,
        p.running,
        p.paused,
        p.failed,
        p.processed_items,
        p.total_items
    );
    println!();
    let f = |v: Option<f64>, places: usize| {
        v.map_or("—".to_string(), |v| format!("{:.*}", places, v + 0.0))
    };
    let pct = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.0}%", v * 100.0));
    println!(
        "{:<24} {:<10} {:<14} {:>5} {:>22} {:>7} {:>8} {:>6} {:>6} {:>6} {:>26} {:>5} {:>5}",
        "variant",
        "series",
        "period",
        "runs",
        "return % (min..max)",
        "sharpe",
        "max dd %",
        "trades",
        ">B&H",
        "luck",
        "vs B&H %/yr [95%] p",
        "PSR",
        "DSR"
    );
    for row in &board.rows {
        let name = if row.blind {
            format!("{} (blind)", row.variant)
        } else {
            row.variant.clone()
        };
        let ret = row.return_pct.map_or("—".to_string(), |s| {
            format!(
                "{:.2} ({:.1}..{:.1})",
                s.mean + 0.0,
                s.min + 0.0,
                s.max + 0.0
            )
        });
        let vs = row.vs_buy_hold.map_or("—".to_string(), |c| {
            format!(
                "{:+.1} [{:+.1},{:+.1}] {:.2}",
                c.return_pct.estimate, c.return_pct.low, c.return_pct.high, c.return_pct.p_value
            )
        });
        println!(
            "{:<24} {:<10} {:<14} {:>5} {:>22} {:>7} {:>8} {:>6} {:>6} {:>6} {:>26} {:>5} {:>5}",
            name,
            row.stock_symbol,
            row.period,
            format!("{}/{}", row.finished, row.runs),
            ret,
            f(row.sharpe.map(|s| s.mean), 2),
            f(row.max_drawdown_pct.map(|s| s.mean), 1),
            f(row.trades.map(|s| s.mean), 1),
            pct(row.beat_buy_hold),
            f(row.luck_percentile, 0),
            vs,
            f(row.psr, 2),
            f(row.dsr, 2),
        );
    }
    if !board.splits.is_empty() {
        println!();
        println!(
            "{:<24} {:<10} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10}",
            "in vs out of sample",
            "series",
            "in return %",
            "out return %",
            "drop",
            "in sharpe",
            "out sharpe",
            "drop"
        );
        for s in &board.splits {
            let name = if s.blind {
                format!("{} (blind)", s.variant)
            } else {
                s.variant.clone()
            };
            println!(
                "{:<24} {:<10} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10}",
                name,
                s.stock_symbol,
                f(s.in_sample_return_pct, 2),
                f(s.out_of_sample_return_pct, 2),
                f(s.return_drop_pct, 2),
                f(s.in_sample_sharpe, 2),
                f(s.out_of_sample_sharpe, 2),
                f(s.sharpe_drop, 2),
            );
        }
    }
    let models: Vec<_> = board.rows.iter().filter(|r| r.cost.is_some()).collect();
    if !models.is_empty() {
        println!();
        println!(
            "{:<24} {:<10} {:<14} {:>22} {:>11} {:>24} {:>7} {:>7} {:>9} {:>10} {:>7}",
            "model variants",
            "series",
            "period",
            "memory gap %/yr [95%]",
            "consistent",
            "mix buy/sell/hold",
            "calls",
            "cached",
            "tokens",
            "money",
            "failed"
        );
        for row in models {
            let name = if row.blind {
                format!("{} (blind)", row.variant)
            } else {
                row.variant.clone()
            };
            let gap = row.memory_gap.map_or("—".to_string(), |g| {
                format!(
                    "{:+.1} [{:+.1},{:+.1}]",
                    g.return_pct.estimate, g.return_pct.low, g.return_pct.high
                )
            });
            let mix = row.action_mix.map_or("—".to_string(), |m| {
                format!(
                    "{:.0}/{:.0}/{:.0}%{}",
                    m.buy * 100.0,
                    (m.sell + m.short + m.cover) * 100.0,
                    m.hold * 100.0,
                    if m.degenerate { " !" } else { "" }
                )
            });
            let cost = row.cost.clone().unwrap_or_default();
            println!(
                "{:<24} {:<10} {:<14} {:>22} {:>11} {:>24} {:>7} {:>7} {:>9} {:>10} {:>7}",
                name,
                row.stock_symbol,
                row.period,
                gap,
                pct(row.consistency),
                mix,
                cost.llm_calls,
                cost.cache_hits,
                cost.prompt_tokens + cost.completion_tokens,
                cost.money.clone().unwrap_or_else(|| "—".into()),
                cost.failed_decisions,
            );
            if let Some(warning) = &row.memorisation_warning {
                println!("  warning: {warning}");
            }
        }
    }
    for note in &board.notes {
        println!("note: {note}");
    }
    Ok(())
}
