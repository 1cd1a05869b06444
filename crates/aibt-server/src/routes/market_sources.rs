//! `/api/v1/market-data/resample` and `/api/v1/market-data/fetch`: series made from a stored
//! one, and series downloaded from Yahoo Finance or Binance (through the local cache).

use aibt_core::{MarketType, TimeGranularity};
use aibt_engine::market::{self, StoredBars};
use aibt_fetch::{FetchRequest, Source};
use aibt_store::SeriesKey;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;

/// A coarser series to make from a stored one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResampleRequest {
    #[schema(pattern = r"\S")]
    pub symbol: String,
    pub market_type: MarketType,
    /// The stored series' granularity.
    pub from: TimeGranularity,
    /// The new series' granularity: coarser than `from`.
    pub to: TimeGranularity,
    /// An IANA time zone whose clock the buckets follow (`Asia/Shanghai`); UTC when absent.
    pub time_zone: Option<String>,
    /// Overwrite stored bars of the target series that differ.
    #[serde(default)]
    pub replace: bool,
}

#[utoipa::path(
    post, path = "/api/v1/market-data/resample", tag = "market-data",
    request_body = ResampleRequest,
    responses(
        (status = 201, description = "The coarser series, stored", body = StoredBars),
        (status = 404, description = "No such stored series", body = ErrorBody),
        (status = 409, description = "Stored bars of the target differ (use replace)", body = ErrorBody),
        (status = 422, description = "A target that is not coarser, or an unknown time zone", body = ErrorBody),
    )
)]
pub async fn resample(
    State(state): State<AppState>,
    Body(body): Body<ResampleRequest>,
) -> ApiResult<(StatusCode, Json<StoredBars>)> {
    let source = SeriesKey {
        symbol: non_empty(&body.symbol, "symbol")?,
        market_type: body.market_type,
        granularity: body.from,
    };
    let stored = market::resample_series(
        state.store.as_ref(),
        &source,
        body.to,
        body.time_zone.as_deref(),
        body.replace,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// A range of bars to download and store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBody {
    /// `yahoo` (US stocks) or `binance` (crypto).
    #[schema(value_type = String, pattern = "^(yahoo|binance)$")]
    pub source: Source,
    /// The provider's symbol (`AAPL`, `BTCUSDT`); the series is stored under it as given.
    #[schema(pattern = r"\S")]
    pub symbol: String,
    pub time_granularity: TimeGranularity,
    /// First day, inclusive.
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
    /// Yahoo daily bars: split- and dividend-adjusted prices (default) or raw ones.
    pub adjusted: Option<bool>,
    /// The series' market (default US for Yahoo, COIN for Binance).
    pub market_type: Option<MarketType>,
    /// Overwrite stored bars that differ from the download.
    #[serde(default)]
    pub replace: bool,
}

#[utoipa::path(
    post, path = "/api/v1/market-data/fetch", tag = "market-data",
    request_body = FetchBody,
    responses(
        (status = 201, description = "The downloaded series, stored (from the local cache where it covered the range)", body = StoredBars),
        (status = 409, description = "Stored bars differ from the download (use replace)", body = ErrorBody),
        (status = 422, description = "A range or option the provider cannot serve", body = ErrorBody),
        (status = 502, description = "The provider failed, refused or had no bars; nothing was stored", body = ErrorBody),
    )
)]
pub async fn fetch(
    State(state): State<AppState>,
    Body(body): Body<FetchBody>,
) -> ApiResult<(StatusCode, Json<StoredBars>)> {
    let (request, market) = fetch_request(&body)?;
    let stored = market::fetch_series(
        state.store.as_ref(),
        &state.fetcher,
        &request,
        market,
        body.replace,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// The download a body asks for, and the market to store it in (the API's and the web UI's).
pub(crate) fn fetch_request(body: &FetchBody) -> ApiResult<(FetchRequest, MarketType)> {
    let request = FetchRequest::days(
        body.source,
        &non_empty(&body.symbol, "symbol")?,
        body.time_granularity,
        body.start,
        body.end,
        body.adjusted,
    )
    .map_err(market::fetch_error)?;
    let market = body.market_type.unwrap_or(body.source.market_type());
    Ok((request, market))
}

fn non_empty(text: &str, field: &str) -> ApiResult<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(field, format!("{field}: required")));
    }
    Ok(trimmed.to_string())
}
