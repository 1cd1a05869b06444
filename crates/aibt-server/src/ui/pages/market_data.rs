//! `/market-data`: the stored series, a CSV upload that names the line and column of any
//! mistake, a dated-context upload (CSV or Excel), and a series' candles.

use aibt_engine::context::import_context;
use aibt_store::SeriesInfo;
use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::read_upload;
use crate::routes::market_data::{ImportParams, import_csv};
use crate::ui::charts::{self, SeriesQuery};
use crate::ui::format::url_encode;
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/market-data", get(market_data).post(upload))
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
    result: Result<String, String>,
}

/// A bar file from the upload form, imported as the API imports it.
async fn upload(State(state): State<AppState>, UiLang(tr): UiLang, request: Request) -> Response {
    let result = async {
        let upload = read_upload(request, &state).await?;
        let mut params = ImportParams::default();
        params.apply(&upload.fields)?;
        let name = upload.name.unwrap_or_else(|| "upload.csv".into());
        let outcome = import_csv(&state, &name, &upload.bytes, params).await?;
        let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        Ok::<_, ApiError>(format!(
            "{} · {} {} · {} → {}",
            outcome.series,
            outcome.outcome.inserted,
            tr.t("field.bars"),
            day(outcome.first),
            day(outcome.last),
        ))
    }
    .await
    .map_err(|e| e.detail.message);
    render(&UploadResult { tr, result })
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
    render(&UploadResult { tr, result })
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
