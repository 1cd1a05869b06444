//! `/market-data`: the stored series, a CSV upload that names the line and column of any
//! mistake, and a series' candles.

use aibt_store::SeriesInfo;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::routes::market_data::{ImportParams, import_csv};
use crate::ui::charts::{self, SeriesQuery};
use crate::ui::format::url_encode;
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/market-data", get(market_data).post(upload))
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

/// The upload form: the file and the series it holds, as the API's import takes them.
async fn upload_form(form: &mut Multipart) -> Result<(ImportParams, (String, Bytes)), String> {
    let mut params = ImportParams::default();
    let mut file: Option<(String, Bytes)> = None;
    while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| e.body_text())?;
        let text = String::from_utf8_lossy(&data).trim().to_string();
        match name.as_str() {
            "file" => file = Some((file_name.unwrap_or_else(|| "upload.csv".into()), data)),
            "symbol" => params.symbol = Some(text),
            "market_type" => params.market_type = text.to_ascii_uppercase().parse().ok(),
            "time_granularity" => params.time_granularity = text.to_ascii_lowercase().parse().ok(),
            "replace" => params.replace = text == "true",
            _ => {}
        }
    }
    let file = file.ok_or_else(|| "file: choose a CSV file".to_string())?;
    Ok((params, file))
}

async fn upload(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    mut form: Multipart,
) -> Response {
    let result = async {
        let (params, (name, bytes)) = upload_form(&mut form).await?;
        let outcome = import_csv(&state, &name, &bytes, params)
            .await
            .map_err(|e| e.detail.message)?;
        let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        Ok(format!(
            "{} · {} {} · {} → {}",
            outcome.series,
            outcome.outcome.inserted,
            tr.t("field.bars"),
            day(outcome.first),
            day(outcome.last),
        ))
    }
    .await;
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
