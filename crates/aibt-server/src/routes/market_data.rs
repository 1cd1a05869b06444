//! `/api/v1/market-data`: importing bar files (with a preview of how they read), listing the
//! stored series, reading bars. Resampling and downloads are in `market_sources`.

use aibt_core::{Bar, MarketType, TimeGranularity};
use aibt_data::{CloseChoice, ColumnMap, FilePreview, ImportOptions, Role, preview_bars};
use aibt_engine::market::{self, StoredBars};
use aibt_store::{BarRange, Page, SeriesInfo, SeriesKey};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Params, Upload, parse_query, read_upload};

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
    /// Required with a file body; a multipart form may send it as a field instead.
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

    fn series(self) -> ApiResult<SeriesKey> {
        let symbol = required(self.symbol.filter(|s| !s.trim().is_empty()), "symbol")?;
        Ok(SeriesKey {
            symbol: symbol.trim().to_string(),
            market_type: required(self.market_type, "market_type")?,
            granularity: required(self.time_granularity, "time_granularity")?,
        })
    }
}

/// How a bar file is read: query parameters, or fields of a multipart form (where the web
/// page also sends one field per role, `map_time`, `map_open`, …).
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ReadingParams {
    /// Which column is which, by header text: `time=日期,open=开盘,high=最高,low=最低,close=收盘,volume=成交量`
    /// (`time=Date+Time` for a date and a time-of-day column). Roles left out are recognised
    /// from the header.
    pub map: Option<String>,
    /// For a file with both a close and an adjusted close: which to use.
    pub close: Option<CloseChoice>,
    /// A workbook's sheet by name (the first sheet otherwise).
    pub sheet: Option<String>,
}

impl ReadingParams {
    /// The options of these parameters and of a form's `fields`.
    pub(crate) fn options(
        self,
        fields: &std::collections::HashMap<String, String>,
    ) -> ApiResult<ImportOptions> {
        let map_text = fields.get("map").or(self.map.as_ref());
        let mut map = match map_text {
            Some(text) => {
                ColumnMap::parse(text).map_err(|e| ApiError::invalid("map", format!("map: {e}")))?
            }
            None => ColumnMap::default(),
        };
        for role in Role::ALL {
            if let Some(column) = fields.get(&format!("map_{}", role.name())) {
                map.set(role, column)
                    .map_err(|e| ApiError::invalid("map", format!("map: {e}")))?;
            }
        }
        let close = match fields.get("close").map(String::as_str) {
            Some("") | None => self.close,
            Some(text) => Some(
                text.parse()
                    .map_err(|e: String| ApiError::invalid("close", format!("close: {e}")))?,
            ),
        };
        let sheet = fields
            .get("sheet")
            .cloned()
            .or(self.sheet)
            .filter(|s| !s.trim().is_empty());
        Ok(ImportOptions { map, close, sheet })
    }
}

fn required<T>(value: Option<T>, field: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::invalid(field, format!("{field}: required")))
}

const UPLOAD_BODY: &str = "The file (CSV in any usual delimiter and encoding, or an Excel \
    workbook): as the whole body, or as the `file` field of a multipart form whose other fields \
    may carry the query parameters";

#[utoipa::path(
    post, path = "/api/v1/market-data/import", tag = "market-data",
    params(ImportParams, ReadingParams),
    request_body(
        description = UPLOAD_BODY,
        content_type = "text/csv", content = String
    ),
    responses(
        (status = 201, description = "Imported", body = StoredBars),
        (status = 409, description = "Stored bars differ from the file (use replace=true)", body = ErrorBody),
        (status = 413, description = "The file is larger than the server accepts", body = ErrorBody),
        (status = 422, description = "A bad row, with its line (or sheet and row) and column: nothing of the file was stored", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<(StatusCode, Json<StoredBars>)> {
    let query = request.uri().query().unwrap_or_default().to_string();
    let mut params: ImportParams = parse_query(&query)?;
    let reading: ReadingParams = parse_query(&query)?;
    let upload = read_upload(request, &state).await?;
    params.apply(&upload.fields)?;
    Ok((
        StatusCode::CREATED,
        Json(import_upload(&state, upload, params, reading).await?),
    ))
}

/// Checks a whole uploaded file and stores it as one series (the API's and the web UI's).
pub(crate) async fn import_upload(
    state: &AppState,
    upload: Upload,
    params: ImportParams,
    reading: ReadingParams,
) -> ApiResult<StoredBars> {
    let options = reading.options(&upload.fields)?;
    let name = upload.name.unwrap_or_else(|| "upload.csv".into());
    let replace = params.replace;
    let series = params.series()?;
    Ok(market::import_file(
        state.store.as_ref(),
        &name,
        &upload.bytes,
        series,
        &options,
        replace,
    )
    .await?)
}

#[utoipa::path(
    post, path = "/api/v1/market-data/preview", tag = "market-data",
    params(ReadingParams),
    request_body(
        description = UPLOAD_BODY,
        content_type = "text/csv", content = String
    ),
    responses(
        (status = 200, description = "How the file would be read: its format, header, first rows, the column of each part of a bar, and what an import would refuse at the header. Nothing is stored.", body = FilePreview),
        (status = 413, description = "The file is larger than the server accepts", body = ErrorBody),
        (status = 422, description = "The file cannot be read at all (not text, not a workbook)", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<FilePreview>> {
    let reading: ReadingParams = parse_query(request.uri().query().unwrap_or_default())?;
    let upload = read_upload(request, &state).await?;
    Ok(Json(preview_upload(upload, reading)?))
}

/// The preview of an uploaded file (the API's and the web UI's).
pub(crate) fn preview_upload(upload: Upload, reading: ReadingParams) -> ApiResult<FilePreview> {
    let options = reading.options(&upload.fields)?;
    let name = upload.name.unwrap_or_else(|| "upload.csv".into());
    preview_bars(&name, &upload.bytes, &options)
        .map_err(|e| ApiError::invalid("file", e.to_string()))
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
