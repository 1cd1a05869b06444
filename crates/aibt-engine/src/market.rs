//! Getting bars into the store, the three ways people do: a file as they have it (any usual
//! CSV or an Excel workbook, columns recognised or mapped), a coarser series made from a
//! stored one, and a download from Yahoo Finance or Binance. Each checks every bar before
//! anything is written and stores the whole series or nothing, and says where the bars came
//! from in the series' description.

use aibt_core::{Bar, MarketType, TimeGranularity};
use aibt_data::resample::{parse_zone, resample};
use aibt_data::{ImportOptions, parse_bars};
use aibt_fetch::{FetchError, FetchRequest, Fetcher};
use aibt_store::{BarRange, ImportMode, ImportOutcome, SeriesKey, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{EngineError, Result};

/// What was stored, for the CLI, the API and the web page alike.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredBars {
    pub series: SeriesKey,
    #[serde(flatten)]
    pub outcome: ImportOutcome,
    /// Time of the first and last bar stored.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Where the bars came from, as the series' description now says.
    pub description: String,
    /// HTTP requests a download made (0 when its cache covered the range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    /// Remarks of a download: a range the provider only partly covers, rows it left out.
    pub notes: Vec<String>,
}

fn mode(replace: bool) -> ImportMode {
    if replace {
        ImportMode::Replace
    } else {
        ImportMode::RefuseChanges
    }
}

async fn store_bars(
    store: &dyn Store,
    series: SeriesKey,
    bars: Vec<Bar>,
    replace: bool,
    description: String,
) -> Result<StoredBars> {
    let (first, last) = (bars.first().map(|b| b.ts), bars.last().map(|b| b.ts));
    let outcome = store.import_bars(&series, bars, mode(replace)).await?;
    store.describe_series(&series, &description).await?;
    Ok(StoredBars {
        series,
        outcome,
        first,
        last,
        description,
        requests: None,
        notes: Vec::new(),
    })
}

/// Checks a whole bar file (`name` for errors) and stores it as `series`. A refused file is
/// `Invalid` on field `file`, its message naming the line (or sheet and row) and column.
pub async fn import_file(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    series: SeriesKey,
    options: &ImportOptions,
    replace: bool,
) -> Result<StoredBars> {
    let bars = parse_bars(name, bytes, options)
        .map_err(|e| EngineError::invalid("file", e.to_string()))?;
    store_bars(store, series, bars, replace, imported_from(name)).await
}

/// The description of a series imported from the file at `path` (its name, not where it lay).
pub fn imported_from(path: &str) -> String {
    let file = std::path::Path::new(path)
        .file_name()
        .map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
    format!("imported from {file}")
}

/// Makes the `to` series of a stored series' symbol and market from its bars, buckets in
/// `time_zone` (UTC when absent).
pub async fn resample_series(
    store: &dyn Store,
    source: &SeriesKey,
    to: TimeGranularity,
    time_zone: Option<&str>,
    replace: bool,
) -> Result<StoredBars> {
    let zone =
        parse_zone(time_zone).map_err(|e| EngineError::invalid("time_zone", e.to_string()))?;
    if store.series_bounds(source).await?.is_none() {
        return Err(EngineError::NotFound {
            entity: "series",
            id: source.to_string(),
        });
    }
    let bars = store.bars(source, BarRange::default()).await?;
    let coarser = resample(&bars, source.granularity, to, zone)
        .map_err(|e| EngineError::invalid("time_granularity", e.to_string()))?;
    let target = SeriesKey {
        granularity: to,
        ..source.clone()
    };
    let description = format!(
        "resampled from {} {} bars ({} buckets)",
        bars.len(),
        source.granularity,
        zone.name()
    );
    store_bars(store, target, coarser, replace, description).await
}

/// Downloads `request`'s range (from the cache where it covers it) and stores it as the
/// series of the request's symbol (as typed, trimmed), `market` and granularity.
pub async fn fetch_series(
    store: &dyn Store,
    fetcher: &Fetcher,
    request: &FetchRequest,
    market: MarketType,
    replace: bool,
) -> Result<StoredBars> {
    let fetched = fetcher.fetch(request).await.map_err(fetch_error)?;
    let series = SeriesKey {
        symbol: request.symbol.trim().to_string(),
        market_type: market,
        granularity: request.granularity,
    };
    let mut stored = store_bars(store, series, fetched.bars, replace, fetched.description).await?;
    stored.requests = Some(fetched.requests);
    stored.notes = fetched.notes;
    Ok(stored)
}

/// A download's failure: the request's own mistakes (a range the provider cannot serve, a
/// symbol it does not know, a range without bars) are `Invalid`, which the person fixes; what
/// the provider, the network or the cache did otherwise is `Upstream` (the API's 502).
pub fn fetch_error(error: FetchError) -> EngineError {
    match error {
        FetchError::Invalid { field, reason } => EngineError::invalid(field, reason),
        FetchError::Provider {
            status: 400 | 404, ..
        } => EngineError::invalid("symbol", error.to_string()),
        FetchError::Empty { .. } => EngineError::invalid("start", error.to_string()),
        other => EngineError::Upstream(other.to_string()),
    }
}
