use std::sync::Arc;

use aibt_core::time::format_timestamp;
use aibt_core::{MarketType, TimeGranularity};
use aibt_data::{SAMPLES, preview_bars};
use aibt_engine::error::EngineError;
use aibt_engine::market::{StoredBars, fetch_error, fetch_series, import_file, resample_series};
use aibt_fetch::{FetchRequest, Fetcher};
use aibt_store::{SeriesKey, Store};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use crate::cli::{DataCommand, FetchArgs, Format, ImportArgs, ReadingArgs};
use crate::flags::flag_error;

pub async fn run(store: Arc<dyn Store>, command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Import(args) => import(store, args).await,
        DataCommand::Preview {
            file,
            reading,
            format,
        } => preview(&file, &reading, format),
        DataCommand::Resample {
            symbol,
            market,
            from,
            to,
            time_zone,
            replace,
            format,
        } => {
            let source = stored_series(store.as_ref(), &symbol, market, from).await?;
            let stored = resample_series(store.as_ref(), &source, to, Some(&time_zone), replace)
                .await
                .map_err(flag_error)?;
            report(&stored, format)
        }
        DataCommand::Fetch(args) => fetch(store, args).await,
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
    let series = SeriesKey {
        symbol: args.symbol.trim().to_string(),
        market_type: args.market,
        granularity: args.granularity,
    };
    let stored = import_file(
        store.as_ref(),
        &name,
        &bytes,
        series,
        &args.reading.options(),
        args.replace,
    )
    .await
    .map_err(|e| match e {
        // The file's own error names it, its line (or sheet and row) and column.
        EngineError::Invalid { field, reason } if field == "file" => anyhow!(reason),
        other => flag_error(other),
    })?;
    report(&stored, Format::Table)
}

fn preview(file: &std::path::Path, reading: &ReadingArgs, format: Format) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let preview = preview_bars(&file.display().to_string(), &bytes, &reading.options())?;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
        return Ok(());
    }
    match &preview.file {
        aibt_data::table::FileKind::Csv {
            delimiter,
            encoding,
        } => println!("CSV, {encoding}, fields separated by {delimiter:?}"),
        aibt_data::table::FileKind::Excel {
            workbook,
            sheet,
            sheets,
        } => println!("Excel ({workbook}), sheet {sheet} of {}", sheets.join(", ")),
    }
    println!(
        "header on line {}: {}",
        preview.header_line,
        preview.columns.join(" | ")
    );
    for row in &preview.rows {
        println!("  {}", row.join(" | "));
    }
    for role in aibt_data::Role::ALL {
        let column = preview.mapping.get(role.name());
        println!(
            "{:>7} ← {}",
            role.name(),
            column.map_or("(none)", String::as_str)
        );
    }
    if let Some(adjusted) = &preview.adjusted_close {
        println!("adjusted close: {adjusted} (choose with --close raw|adjusted)");
    }
    match &preview.problem {
        Some(problem) => bail!("{problem}"),
        None => Ok(()),
    }
}

/// The stored series of `symbol` at `granularity`: in `market`, or in the only market that
/// has one.
async fn stored_series(
    store: &dyn Store,
    symbol: &str,
    market: Option<MarketType>,
    granularity: TimeGranularity,
) -> Result<SeriesKey> {
    let symbol = symbol.trim();
    let found: Vec<SeriesKey> = store
        .list_series()
        .await?
        .into_iter()
        .map(|info| info.key)
        .filter(|key| {
            key.symbol == symbol
                && key.granularity == granularity
                && market.is_none_or(|m| m == key.market_type)
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("--symbol: no {granularity} bars of {symbol} are stored (aibt data list)"),
        _ => bail!("--market: {symbol} has {granularity} bars in more than one market; name one"),
    }
}

async fn fetch(store: Arc<dyn Store>, args: FetchArgs) -> Result<()> {
    let last_day = args.end.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let adjusted = args.raw.then_some(false);
    let request = FetchRequest::days(
        args.source,
        &args.symbol,
        args.granularity,
        args.start,
        last_day,
        adjusted,
    )
    .map_err(|e| flag_error(fetch_error(e)))?;
    let market = args.market.unwrap_or(args.source.market_type());
    let fetcher = Fetcher::new(args.providers.config())?;
    let stored = fetch_series(store.as_ref(), &fetcher, &request, market, args.replace)
        .await
        .map_err(flag_error)?;
    report(&stored, args.format)
}

/// What an import, a resampling or a download stored.
fn report(stored: &StoredBars, format: Format) -> Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(stored)?);
        return Ok(());
    }
    let day =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(format_timestamp).unwrap_or_default();
    println!(
        "stored {}: {} new, {} unchanged, {} replaced ({} .. {})",
        stored.series,
        stored.outcome.inserted,
        stored.outcome.unchanged,
        stored.outcome.replaced,
        day(stored.first),
        day(stored.last),
    );
    println!("  {}", stored.description);
    if let Some(requests) = stored.requests {
        println!("  {requests} HTTP requests (0: all from the local cache)");
    }
    for note in &stored.notes {
        println!("  note: {note}");
    }
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
                    "{:<16} {:<6} {:<8} {:>8}  {:<20}  {:<20}  source",
                    "symbol", "market", "bars of", "count", "first", "last"
                );
                for s in &series {
                    println!(
                        "{:<16} {:<6} {:<8} {:>8}  {:<20}  {:<20}  {}",
                        s.key.symbol,
                        s.key.market_type,
                        s.key.granularity,
                        s.bars,
                        format_timestamp(s.first),
                        format_timestamp(s.last),
                        s.description.as_deref().unwrap_or("")
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
