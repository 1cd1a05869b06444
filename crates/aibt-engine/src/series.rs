//! The series a backtest trades: found in the store, or imported on first use from a file the
//! user gives or from the samples bundled with aibt.

use aibt_core::{MarketType, TimeGranularity};
use aibt_data::find_sample;
use aibt_store::{ImportMode, SeriesKey, Store, Task};

use crate::error::{EngineError, Result};

/// A CSV file a user hands over with a backtest.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// How errors name the file (its path).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What an [`ensure_series`] imported, when it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The file, or `bundled sample <file>`.
    pub source: String,
    pub bars: u64,
}

/// The series to trade: stored already, or imported now from `data` or a bundled sample of
/// that symbol. A sample's own symbol spelling and market are used when `data` is absent.
pub async fn ensure_series(
    store: &dyn Store,
    symbol: &str,
    market: Option<MarketType>,
    granularity: TimeGranularity,
    data: Option<DataFile>,
) -> Result<(SeriesKey, Option<Imported>)> {
    let sample = find_sample(symbol, market, granularity);
    let market = market
        .or(sample.map(|s| s.market_type))
        .unwrap_or(MarketType::Us);
    let symbol = match (&data, sample) {
        (None, Some(sample)) => sample.symbol.to_string(),
        _ => symbol.trim().to_string(),
    };
    let series = SeriesKey {
        symbol,
        market_type: market,
        granularity,
    };
    if store.series_bounds(&series).await?.is_some() {
        return Ok((series, None));
    }
    let (source, description, bars) = match (data, sample) {
        (Some(file), _) => {
            let bars = aibt_data::parse_bars(
                &file.name,
                &file.bytes,
                &aibt_data::ImportOptions::default(),
            )
            .map_err(|e| EngineError::invalid("data", e.to_string()))?;
            let description = crate::market::imported_from(&file.name);
            (file.name, description, bars)
        }
        (None, Some(sample)) => {
            let source = format!("bundled sample {}", sample.file);
            let description = format!("{source}: {}", sample.description);
            let bars = sample
                .bars()
                .map_err(|e| EngineError::invalid("stock_symbol", e.to_string()))?;
            (source, description, bars)
        }
        (None, None) => {
            return Err(EngineError::invalid(
                "stock_symbol",
                format!("no bars stored for {series}"),
            ));
        }
    };
    let outcome = store
        .import_bars(&series, bars, ImportMode::RefuseChanges)
        .await?;
    store.describe_series(&series, &description).await?;
    Ok((
        series,
        Some(Imported {
            source,
            bars: outcome.inserted,
        }),
    ))
}

/// The series a task replays.
pub fn series_of(task: &Task) -> Result<SeriesKey> {
    let market_type = task.market_type.ok_or_else(|| {
        EngineError::invalid(
            "market_type",
            format!("task {} has no market type", task.task_id),
        )
    })?;
    Ok(SeriesKey {
        symbol: task.stock_symbol.clone(),
        market_type,
        granularity: task.time_granularity,
    })
}
