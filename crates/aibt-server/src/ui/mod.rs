//! The web UI: server-rendered pages (askama) with htmx for the interactive parts and
//! TradingView Lightweight Charts for the charts, both vendored and embedded, so that a page
//! loads nothing from outside this server. Pages call the same functions as the API; forms
//! show an error next to the field it names.

mod charts;
mod format;
mod i18n;
mod pages;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

pub use i18n::{Lang, Tr};

use crate::AppState;

/// The cookie that keeps a visitor's language.
const LANG_COOKIE: &str = "aibt_lang";

/// The page's language, from the visitor's cookie (English without one).
pub struct UiLang(pub Tr);

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let lang = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == LANG_COOKIE)
            .and_then(|(_, value)| Lang::from_code(value))
            .unwrap_or_default();
        Ok(UiLang(Tr { lang }))
    }
}

/// A rendered page, or a 500 naming the template that failed (a bug, logged).
pub fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

const APP_JS: &str = include_str!("../../assets/ui/app.js");
const APP_CSS: &str = include_str!("../../assets/ui/app.css");
const HTMX: &str = include_str!("../../assets/ui/vendor/htmx.min.js");
const CHARTS: &str = include_str!("../../assets/ui/vendor/lightweight-charts.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::backtests))
        .route(
            "/backtests/new",
            get(pages::new_backtest).post(pages::create_backtest),
        )
        .route("/tasks/{task_id}", get(pages::task))
        .route("/tasks/{task_id}/chart.json", get(charts::task_chart))
        .route("/tasks/{task_id}/decisions", get(pages::decision_rows))
        .route("/tasks/{task_id}/decision", get(pages::decision_detail))
        .route("/tasks/{task_id}/trades", get(pages::trade_rows))
        .route("/tasks/{task_id}/{action}", post(pages::lifecycle))
        .route(
            "/accounts",
            get(pages::accounts).post(pages::create_account),
        )
        .route(
            "/templates",
            get(pages::templates).post(pages::create_template),
        )
        .route(
            "/templates/{prompt_id}",
            get(pages::template).post(pages::save_template),
        )
        .route(
            "/templates/{prompt_id}/preview",
            post(pages::preview_template),
        )
        .route(
            "/ai-configs",
            get(pages::ai_configs).post(pages::create_ai_config),
        )
        .route("/ai-configs/{config_id}/test", post(pages::test_ai_config))
        .route("/market-data", get(pages::market_data).post(pages::upload))
        .route("/market-data/chart", get(pages::series_chart))
        .route("/market-data/candles.json", get(charts::series_candles))
        .route("/compare", get(pages::compare))
        .route("/compare/chart.json", get(charts::compare_chart))
        .route("/ui/events", get(charts::task_events))
        .route("/lang/{code}", get(pages::switch_language))
        .route("/login", get(pages::login_page).post(pages::login))
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/static/vendor/htmx.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", HTMX) }),
        )
        .route(
            "/static/vendor/lightweight-charts.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHARTS) }),
        )
}
