//! The web UI: server-rendered pages (askama) with htmx for the interactive parts and
//! TradingView Lightweight Charts for the charts, both vendored and embedded, so that a page
//! loads nothing from outside this server. Pages call the same functions as the API; forms
//! show an error next to the field it names.

mod charts;
mod choices;
mod form;
mod format;
mod i18n;
mod pages;
mod respond;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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

/// Every page's routes, and the static files they load.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(pages::backtests::router())
        .merge(pages::new_backtest::router())
        .merge(pages::task::router())
        .merge(pages::accounts::router())
        .merge(pages::templates::router())
        .merge(pages::ai_configs::router())
        .merge(pages::market_data::router())
        .merge(pages::compare::router())
        .merge(pages::login::router())
        .merge(assets())
}

fn assets() -> Router<AppState> {
    Router::new()
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
