//! `/market-data`: the stored series with where each came from, a bar file upload (CSV or
//! Excel) previewed as it will read, with a choice of column for each part of a bar, a
//! download form, a dated-context upload, and a series' candles.

use aibt_core::TimeGranularity;
use aibt_data::{FilePreview, Role};
use aibt_engine::context::import_context;
use aibt_engine::market::{StoredBars, fetch_series};
use aibt_fetch::Source;
use aibt_store::SeriesInfo;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::read_upload;
use crate::routes::market_data::{ImportParams, ReadingParams, import_upload, preview_upload};
use crate::routes::market_sources::{FetchBody, fetch_request};
use crate::ui::charts::{self, SeriesQuery};
use crate::ui::form::FormState;
use crate::ui::format::url_encode;
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/market-data", get(market_data).post(upload))
        .route("/market-data/preview", post(preview))
        .route("/market-data/fetch", post(fetch))
        .route("/market-data/context", post(upload_context))
        .route("/market-data/chart", get(series_chart))
        .route("/market-data/candles.json", get(charts::series_candles))
}

#[derive(Template)]
#[template(path = "market_data.html")]
pub struct MarketDataPage {
    tr: Tr,
    nav: &'static str,
    series: Vec<SeriesInfo>,
}

async fn market_data(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let series = page_try!(state.store.list_series().await);
    render(&MarketDataPage {
        tr,
        nav: "market",
        series,
    })
}

#[derive(Template)]
#[template(path = "upload_result.html")]
pub struct UploadResult {
    tr: Tr,
    /// The label of success: imported, downloaded.
    done: &'static str,
    result: Result<String, String>,
}

/// What a page says of stored bars: the series, how many, their span, where they came from.
fn summary(tr: &Tr, stored: &StoredBars) -> String {
    let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let mut text = format!(
        "{} · {} {} · {} → {} · {}",
        stored.series,
        stored.outcome.inserted + stored.outcome.unchanged + stored.outcome.replaced,
        tr.t("field.bars"),
        day(stored.first),
        day(stored.last),
        stored.description,
    );
    if let Some(requests) = stored.requests {
        text.push_str(&format!(" · {requests} {}", tr.t("market.requests")));
    }
    for note in &stored.notes {
        text.push_str(&format!(" · {note}"));
    }
    text
}

/// A bar file from the upload form, imported as the API imports it, with the columns and
/// close the preview's choices name.
async fn upload(State(state): State<AppState>, UiLang(tr): UiLang, request: Request) -> Response {
    let result = async {
        let upload = read_upload(request, &state).await?;
        let mut params = ImportParams::default();
        params.apply(&upload.fields)?;
        import_upload(&state, upload, params, ReadingParams::default()).await
    }
    .await
    .map(|stored| summary(&tr, &stored))
    .map_err(|e| e.detail.message);
    render(&UploadResult {
        tr,
        done: "market.imported",
        result,
    })
}

/// One part of a bar and the column chosen for it.
struct RoleChoice {
    name: &'static str,
    label: String,
    chosen: String,
    /// The header's columns, and the chosen value when it is not one of them (`Date+Time`).
    options: Vec<String>,
}

#[derive(Template)]
#[template(path = "upload_preview.html")]
pub struct PreviewFragment {
    tr: Tr,
    result: Result<PreviewView, String>,
}

pub struct PreviewView {
    format: String,
    sheets: Vec<String>,
    sheet: String,
    header_line: u64,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    roles: Vec<RoleChoice>,
    adjusted_close: Option<String>,
    close: String,
    problem: Option<String>,
}

fn preview_view(tr: &Tr, preview: FilePreview, close: String) -> PreviewView {
    let (format, sheets, sheet) = match &preview.file {
        aibt_data::table::FileKind::Csv {
            delimiter,
            encoding,
        } => {
            let shown = if delimiter == "\t" { "Tab" } else { delimiter };
            (
                format!(
                    "{} · {} {encoding} · {} “{shown}”",
                    tr.t("preview.csv"),
                    tr.t("preview.encoding"),
                    tr.t("preview.delimiter")
                ),
                Vec::new(),
                String::new(),
            )
        }
        aibt_data::table::FileKind::Excel {
            workbook,
            sheet,
            sheets,
        } => (
            format!("{} (.{workbook})", tr.t("preview.excel")),
            sheets.clone(),
            sheet.clone(),
        ),
    };
    let roles = Role::ALL
        .into_iter()
        .map(|role| {
            let chosen = preview
                .mapping
                .get(role.name())
                .cloned()
                .unwrap_or_default();
            let mut options = preview.columns.clone();
            if !chosen.is_empty() && !options.contains(&chosen) {
                options.push(chosen.clone());
            }
            RoleChoice {
                name: role.name(),
                label: tr.t(&format!("role.{}", role.name())).to_string(),
                chosen,
                options,
            }
        })
        .collect();
    PreviewView {
        format,
        sheets,
        sheet,
        header_line: preview.header_line,
        columns: preview.columns,
        rows: preview.rows,
        roles,
        adjusted_close: preview.adjusted_close,
        close,
        problem: preview.problem,
    }
}

/// The preview of the file in the upload form: on a new file (`fresh`), read as it is; on a
/// changed choice, with the form's columns, close and sheet.
async fn preview(State(state): State<AppState>, UiLang(tr): UiLang, request: Request) -> Response {
    let result = async {
        let mut upload = read_upload(request, &state).await?;
        if upload.fields.contains_key("fresh") {
            upload
                .fields
                .retain(|name, _| !name.starts_with("map_") && name != "close" && name != "sheet");
        }
        let close = upload.fields.get("close").cloned().unwrap_or_default();
        let preview = preview_upload(upload, ReadingParams::default())?;
        Ok::<_, ApiError>(preview_view(&tr, preview, close))
    }
    .await
    .map_err(|e| e.detail.message);
    render(&PreviewFragment { tr, result })
}

/// A download from the fetch form, stored as the API stores it.
async fn fetch(State(state): State<AppState>, UiLang(tr): UiLang, body: Bytes) -> Response {
    let mut form = FormState::parse(&body);
    let result = async {
        let source: Source =
            form.get("source").unwrap_or_default().parse().map_err(
                |e: aibt_fetch::UnknownSource| ApiError::invalid("source", e.to_string()),
            )?;
        let time_granularity: TimeGranularity = form
            .choice("time_granularity")
            .ok_or_else(|| ApiError::invalid("time_granularity", "time_granularity: required"))?;
        let start = form
            .date("start")
            .ok_or_else(|| ApiError::invalid("start", "start: a date (YYYY-MM-DD) is required"))?;
        let end = form
            .date("end")
            .ok_or_else(|| ApiError::invalid("end", "end: a date (YYYY-MM-DD) is required"))?;
        let body = FetchBody {
            source,
            symbol: form.get("symbol").unwrap_or_default(),
            time_granularity,
            start,
            end,
            adjusted: Some(source.adjusts(time_granularity) && form.checked("adjusted")),
            market_type: None,
            replace: form.checked("replace"),
        };
        let (request, market) = fetch_request(&body)?;
        Ok::<_, ApiError>(
            fetch_series(
                state.store.as_ref(),
                &state.fetcher,
                &request,
                market,
                body.replace,
            )
            .await?,
        )
    }
    .await
    .map(|stored| summary(&tr, &stored))
    .map_err(|e| e.detail.message);
    render(&UploadResult {
        tr,
        done: "market.fetched",
        result,
    })
}

/// A context file (CSV or Excel) from the context form.
async fn upload_context(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    request: Request,
) -> Response {
    let result = async {
        let upload = read_upload(request, &state).await?;
        let symbol = upload
            .fields
            .get("stock_symbol")
            .cloned()
            .unwrap_or_default();
        let name = upload.name.unwrap_or_else(|| "upload".into());
        let imported = import_context(state.store.as_ref(), &symbol, &name, &upload.bytes).await?;
        Ok::<_, ApiError>(format!(
            "{} · {} {} · {} → {} · {}",
            imported.stock_symbol,
            imported.items,
            tr.t("market.context_items"),
            imported.first,
            imported.last,
            imported.columns.join(", ")
        ))
    }
    .await
    .map_err(|e| e.detail.message);
    render(&UploadResult {
        tr,
        done: "market.imported",
        result,
    })
}

#[derive(Template)]
#[template(path = "series_chart.html")]
pub struct SeriesChartPage {
    tr: Tr,
    nav: &'static str,
    title: String,
    data_url: String,
}

async fn series_chart(UiLang(tr): UiLang, Query(query): Query<SeriesQuery>) -> Response {
    render(&SeriesChartPage {
        tr,
        nav: "market",
        title: format!(
            "{} · {} · {}",
            query.symbol, query.market_type, query.time_granularity
        ),
        data_url: format!(
            "/market-data/candles.json?symbol={}&market_type={}&time_granularity={}",
            url_encode(&query.symbol),
            query.market_type,
            query.time_granularity
        ),
    })
}
