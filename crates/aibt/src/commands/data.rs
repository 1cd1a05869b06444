use std::sync::Arc;

use aibt_core::time::format_timestamp;
use aibt_data::{SAMPLES, parse_csv};
use aibt_store::{ImportMode, SeriesKey, Store};
use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{DataCommand, Format, ImportArgs};
use crate::flags::flag_error;

pub async fn run(store: Arc<dyn Store>, command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Import(args) => import(store, args).await,
        DataCommand::List { samples, format } => list(store, samples, format).await,
        DataCommand::ImportContext {
            file,
            symbol,
            format,
        } => import_context(store, &file, &symbol, format).await,
        DataCommand::Context { symbol, format } => list_context(store, &symbol, format).await,
    }
}

async fn import_context(
    store: Arc<dyn Store>,
    file: &std::path::Path,
    symbol: &str,
    format: Format,
) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    let imported = aibt_engine::context::import_context(store.as_ref(), symbol, &name, &bytes)
        .await
        .map_err(|e| match e {
            // The file's own error names it, its line and column.
            aibt_engine::error::EngineError::Invalid { field, reason } if field == "file" => {
                anyhow::anyhow!(reason)
            }
            other => flag_error(other),
        })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&imported)?),
        Format::Table => println!(
            "imported {name} as context of {}: {} items ({} .. {}), columns {}",
            imported.stock_symbol,
            imported.items,
            imported.first,
            imported.last,
            imported.columns.join(", ")
        ),
    }
    Ok(())
}

async fn list_context(store: Arc<dyn Store>, symbol: &str, format: Format) -> Result<()> {
    let items = store.context_items(symbol.trim(), None).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&items)?),
        Format::Table => {
            if items.is_empty() {
                println!(
                    "no context stored for {symbol} (aibt data import-context FILE --symbol {symbol})"
                );
            }
            for item in &items {
                println!(
                    "{}  visible from {}  {}",
                    item.item_date,
                    format_timestamp(item.visible_at),
                    item.data
                );
            }
        }
    }
    Ok(())
}

async fn import(store: Arc<dyn Store>, args: ImportArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let name = args.file.display().to_string();
    let bars = parse_csv(&name, &bytes)?;
    let series = SeriesKey {
        symbol: args.symbol.clone(),
        market_type: args.market,
        granularity: args.granularity,
    };
    let mode = if args.replace {
        ImportMode::Replace
    } else {
        ImportMode::RefuseChanges
    };
    let outcome = store.import_bars(&series, &bars, mode).await?;
    println!(
        "imported {name} as {series}: {} new, {} unchanged, {} replaced ({} .. {})",
        outcome.inserted,
        outcome.unchanged,
        outcome.replaced,
        bars.first()
            .map(|b| format_timestamp(b.ts))
            .unwrap_or_default(),
        bars.last()
            .map(|b| format_timestamp(b.ts))
            .unwrap_or_default(),
    );
    Ok(())
}

async fn list(store: Arc<dyn Store>, samples: bool, format: Format) -> Result<()> {
    let series = store.list_series().await?;
    match format {
        Format::Json => {
            let mut out = json!({ "series": series });
            if samples {
                out["samples"] = SAMPLES
                    .iter()
                    .map(|s| {
                        json!({
                            "symbol": s.symbol,
                            "market_type": s.market_type,
                            "granularity": s.granularity,
                            "file": s.file,
                            "description": s.description,
                        })
                    })
                    .collect();
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            if series.is_empty() {
                println!(
                    "no series stored yet (aibt data import FILE …, or run a backtest on a sample)"
                );
            } else {
                println!(
                    "{:<16} {:<6} {:<8} {:>8}  {:<20}  {:<20}",
                    "symbol", "market", "bars of", "count", "first", "last"
                );
                for s in &series {
                    println!(
                        "{:<16} {:<6} {:<8} {:>8}  {:<20}  {:<20}",
                        s.key.symbol,
                        s.key.market_type,
                        s.key.granularity,
                        s.bars,
                        format_timestamp(s.first),
                        format_timestamp(s.last)
                    );
                }
            }
            if samples {
                println!("\nbundled samples (imported on first use):");
                for s in SAMPLES {
                    println!(
                        "{:<16} {:<6} {:<8} {}",
                        s.symbol, s.market_type, s.granularity, s.description
                    );
                }
            }
        }
    }
    Ok(())
}
