//! The web UI: server-rendered pages (askama) with htmx for the interactive parts and
//! TradingView Lightweight Charts for the charts, both vendored and embedded, so that a page
//! loads nothing from outside this server. Pages call the same functions as the API; forms
//! show an error next to the field it names.
//!
//! `pages/` has one module a page, each with its router, merged here. Beside them, what they
//! share: `form` reads forms, `respond` answers, `choices` lists what a person picks from,
//! `format` writes numbers and times, `i18n` holds the words and the page's language, `charts`
//! serves the charts' data, `board` writes an experiment's leaderboard and `records` a task's
//! decisions and trades. A page uses those, never another page; the reports
//! (`crate::report`) use them too.

pub(crate) mod board;
pub(crate) mod charts;
mod choices;
pub(crate) mod form;
pub(crate) mod format;
pub(crate) mod i18n;
mod pages;
pub(crate) mod records;
mod respond;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

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
        .merge(pages::experiments::router())
        .merge(pages::new_experiment::router())
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
