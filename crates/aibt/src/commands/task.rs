use std::io::Write;
use std::sync::Arc;

use aibt_core::TaskStatus;
use aibt_engine::{Transition, transition};
use aibt_store::{RecordQuery, Store, Task, TaskQuery};
use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{ExportFormat, Format, Records, TaskCommand};
use crate::commands::backtest::{finish_status, run_in_foreground};

pub async fn run(store: Arc<dyn Store>, command: TaskCommand) -> Result<()> {
    match command {
        TaskCommand::List {
            status,
            limit,
            format,
        } => {
            let status = status
                .map(|s| s.to_ascii_uppercase().parse::<TaskStatus>())
                .transpose()
                .map_err(|e| anyhow!("--status: {e}"))?;
            let page = store
                .list_tasks(&TaskQuery {
                    status,
                    limit,
                    ..TaskQuery::default()
                })
                .await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&page.items)?),
                Format::Table => {
                    println!(
                        "{:<36}  {:<21}  {:<10} {:<18} {:>9}  {:>10}",
                        "task_id", "status", "symbol", "strategy", "progress", "return %"
                    );
                    for task in &page.items {
                        let ret = task
                            .stats
                            .as_ref()
                            .and_then(|s| s["return_pct"].as_f64())
                            .map(|r| format!("{r:.2}"))
                            .unwrap_or_default();
                        println!(
                            "{:<36}  {:<21}  {:<10} {:<18} {:>9}  {:>10}",
                            task.task_id,
                            task.status.as_str(),
                            task.stock_symbol,
                            task.strategy,
                            format!("{}/{}", task.processed_items, task.total_items.unwrap_or(0)),
                            ret
                        );
                    }
                }
            }
            Ok(())
        }
        TaskCommand::Show { id, format } => {
            let task = store.get_task(&id).await?;
            print_task(&task, format)
        }
        TaskCommand::Export {
            id,
            format,
            records,
            output,
        } => {
            let task = store.get_task(&id).await?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            match format {
                ExportFormat::Json => export_json(store.as_ref(), &task, records, &mut out).await?,
                ExportFormat::Csv => {
                    export_csv(
                        store.as_ref(),
                        &task,
                        records.unwrap_or(Records::Trades),
                        &mut out,
                    )
                    .await?
                }
            }
            out.flush()?;
            Ok(())
        }
        TaskCommand::Resume { id, format } => {
            transition(store.as_ref(), &id, Transition::Resume).await?;
            let task = run_in_foreground(store, &id).await?;
            print_task(&task, format)?;
            finish_status(&task)
        }
        TaskCommand::Pause { id } => {
            let task = transition(store.as_ref(), &id, Transition::Pause).await?;
            println!("task {} is {}", task.task_id, task.status);
            Ok(())
        }
        TaskCommand::Cancel { id } => {
            let task = transition(store.as_ref(), &id, Transition::Cancel).await?;
            println!("task {} is {}", task.task_id, task.status);
            Ok(())
        }
    }
}

/// Rows in the order, with the keys, the store gives them.
fn row_values<T: Serialize>(row: &T) -> Result<Vec<(String, String)>> {
    let value = serde_json::to_value(row)?;
    let Value::Object(map) = value else {
        return Err(anyhow!("a record is not an object"));
    };
    Ok(map
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::Null => String::new(),
                Value::String(s) => s,
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

/// Streams every page of one kind of record through `emit`, so memory stays flat however
/// long the task was.
async fn for_each_record(
    store: &dyn Store,
    task_id: &str,
    records: Records,
    mut emit: impl FnMut(Value) -> Result<()>,
) -> Result<()> {
    let mut cursor = None;
    loop {
        let query = RecordQuery {
            limit: 2000,
            cursor: cursor.clone(),
            ..RecordQuery::default()
        };
        let next = match records {
            Records::Trades => {
                let page = store.list_trades(task_id, &query).await?;
                for row in page.items {
                    emit(serde_json::to_value(row)?)?;
                }
                page.next_cursor
            }
            Records::Decisions => {
                let page = store.list_decisions(task_id, &query).await?;
                for row in page.items {
                    emit(serde_json::to_value(row)?)?;
                }
                page.next_cursor
            }
            Records::Snapshots => {
                let page = store.list_snapshots(task_id, &query).await?;
                for row in page.items {
                    emit(serde_json::to_value(row)?)?;
                }
                page.next_cursor
            }
        };
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

async fn export_csv(
    store: &dyn Store,
    task: &Task,
    records: Records,
    out: &mut dyn Write,
) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header_written = false;
    for_each_record(store, &task.task_id, records, |row| {
        let values = row_values(&row)?;
        if !header_written {
            writer.write_record(values.iter().map(|(k, _)| k.as_str()))?;
            header_written = true;
        }
        writer.write_record(values.iter().map(|(_, v)| v.as_str()))?;
        Ok(())
    })
    .await?;
    writer.flush()?;
    Ok(())
}

async fn export_json(
    store: &dyn Store,
    task: &Task,
    only: Option<Records>,
    out: &mut dyn Write,
) -> Result<()> {
    // Written piece by piece, so that a million snapshots never sit in memory at once.
    write!(out, "{{\"task\":{}", serde_json::to_string(task)?)?;
    let kinds = match only {
        Some(kind) => vec![kind],
        None => vec![Records::Decisions, Records::Trades, Records::Snapshots],
    };
    for kind in kinds {
        let name = match kind {
            Records::Trades => "trades",
            Records::Decisions => "decisions",
            Records::Snapshots => "snapshots",
        };
        write!(out, ",\"{name}\":[")?;
        let mut first = true;
        for_each_record(store, &task.task_id, kind, |row| {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &row)?;
            Ok(())
        })
        .await?;
        write!(out, "]")?;
    }
    writeln!(out, "}}")?;
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
            let params = task.options["params"]
                .as_object()
                .map(|p| {
                    p.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let strategy = [task.strategy.as_str(), params.as_str()]
                .iter()
                .filter(|part| !part.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
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
