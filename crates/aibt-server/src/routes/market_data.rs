//! `/api/v1/market-data`: importing OHLCV CSV files, listing the stored series, reading bars.

use aibt_core::{Bar, MarketType, TimeGranularity};
use aibt_data::parse_csv;
use aibt_store::{BarRange, ImportMode, ImportOutcome, Page, SeriesInfo, SeriesKey};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Params, parse_query, read_upload};

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesList {
    pub series: Vec<SeriesInfo>,
}

#[utoipa::path(
    get, path = "/api/v1/market-data", tag = "market-data",
    responses((status = 200, description = "Every stored series with its bar count and time span", body = SeriesList))
)]
pub async fn list_series(State(state): State<AppState>) -> ApiResult<Json<SeriesList>> {
    Ok(Json(SeriesList {
        series: state.store.list_series().await?,
    }))
}

/// Which series an upload is, given as query parameters or as fields of a multipart form.
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Required with a CSV body; a multipart form may send it as a field instead.
    #[param(pattern = r"\S")]
    pub symbol: Option<String>,
    pub market_type: Option<MarketType>,
    pub time_granularity: Option<TimeGranularity>,
    /// Overwrite stored bars that differ from the file (otherwise such a file is refused).
    #[serde(default)]
    pub replace: bool,
}

impl ImportParams {
    /// Takes the fields a multipart form sent beside its file.
    pub(crate) fn apply(
        &mut self,
        fields: &std::collections::HashMap<String, String>,
    ) -> ApiResult<()> {
        for (field, text) in fields {
            match field.as_str() {
                "symbol" => self.symbol = Some(text.clone()),
                "market_type" => {
                    self.market_type = Some(text.to_ascii_uppercase().parse().map_err(
                        |e: aibt_core::EnumParseError| {
                            ApiError::invalid("market_type", format!("market_type: {e}"))
                        },
                    )?)
                }
                "time_granularity" => {
                    self.time_granularity = Some(text.to_ascii_lowercase().parse().map_err(
                        |e: aibt_core::EnumParseError| {
                            ApiError::invalid("time_granularity", format!("time_granularity: {e}"))
                        },
                    )?)
                }
                "replace" => self.replace = matches!(text.as_str(), "true" | "1" | "on"),
                _ => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub series: SeriesKey,
    #[serde(flatten)]
    pub outcome: ImportOutcome,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

fn required<T>(value: Option<T>, field: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::invalid(field, format!("{field}: required")))
}

#[utoipa::path(
    post, path = "/api/v1/market-data/import", tag = "market-data",
    params(ImportParams),
    request_body(
        description = "The CSV file: as the whole body (`text/csv`), or as the `file` field of a \
            multipart form whose other fields may carry symbol, market_type, time_granularity and replace",
        content_type = "text/csv", content = String
    ),
    responses(
        (status = 201, description = "Imported", body = ImportResult),
        (status = 409, description = "Stored bars differ from the file (use replace=true)", body = ErrorBody),
        (status = 413, description = "The file is larger than the server accepts", body = ErrorBody),
        (status = 422, description = "A bad row, with its line and column: nothing of the file was stored", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    let mut params: ImportParams = parse_query(request.uri().query().unwrap_or_default())?;
    let upload = read_upload(request, &state).await?;
    params.apply(&upload.fields)?;
    let name = upload.name.unwrap_or_else(|| "upload.csv".into());
    let bytes = upload.bytes;
    Ok((
        StatusCode::CREATED,
        Json(import_csv(&state, &name, &bytes, params).await?),
    ))
}

/// Checks a whole CSV file and stores it as one series (the API's and the web UI's).
pub(crate) async fn import_csv(
    state: &AppState,
    name: &str,
    bytes: &[u8],
    params: ImportParams,
) -> ApiResult<ImportResult> {
    let symbol = required(params.symbol.filter(|s| !s.trim().is_empty()), "symbol")?;
    let series = SeriesKey {
        symbol: symbol.trim().to_string(),
        market_type: required(params.market_type, "market_type")?,
        granularity: required(params.time_granularity, "time_granularity")?,
    };
    let bars = parse_csv(name, bytes).map_err(|e| ApiError::invalid("file", e.to_string()))?;
    let mode = if params.replace {
        ImportMode::Replace
    } else {
        ImportMode::RefuseChanges
    };
    let outcome = state.store.import_bars(&series, &bars, mode).await?;
    Ok(ImportResult {
        series,
        outcome,
        first: bars.first().map(|b| b.ts),
        last: bars.last().map(|b| b.ts),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BarParams {
    pub symbol: String,
    pub market_type: MarketType,
    pub time_granularity: TimeGranularity,
    /// First bar time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Last bar time (inclusive).
    pub to: Option<DateTime<Utc>>,
    /// Page size (default 1000, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    #[param(pattern = r"^(-?[0-9]{1,16}\|.*)?$")]
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/market-data/bars", tag = "market-data",
    params(BarParams),
    responses(
        (status = 200, description = "A page of bars, oldest first", body = Page<Bar>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 404, description = "No such series", body = ErrorBody),
    )
)]
pub async fn bars(
    State(state): State<AppState>,
    Params(params): Params<BarParams>,
) -> ApiResult<Json<Page<Bar>>> {
    let series = SeriesKey {
        symbol: params.symbol,
        market_type: params.market_type,
        granularity: params.time_granularity,
    };
    if state.store.series_bounds(&series).await?.is_none() {
        return Err(ApiError::not_found(format!("no bars stored for {series}")));
    }
    let after = params
        .cursor
        .as_deref()
        .map(aibt_store::parse_time_cursor)
        .transpose()?
        .map(|(time, _)| time);
    let limit = aibt_store::clamp_limit(crate::extract::page_size(params.limit, 1000)?);
    let mut items = state
        .store
        .bars(
            &series,
            BarRange {
                from: params.from,
                to: params.to,
                after,
                limit: Some(limit + 1),
            },
        )
        .await?;
    let next_cursor = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items
            .last()
            .map(|b| aibt_store::time_cursor(b.ts, ""))
            .unwrap_or_default()
    });
    Ok(Json(Page { items, next_cursor }))
}
