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
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use i18n::{Lang, Tr};

use crate::AppState;

/// The cookie that keeps a visitor's language.
const LANG_COOKIE: &str = "aibt_lang";

/// The page's language: the one the visitor chose with the switch (a cookie), else the one
/// their browser asks for, else English.
pub struct UiLang(pub Tr);

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UiLang(Tr {
            lang: page_lang(&parts.headers),
        }))
    }
}

fn page_lang(headers: &HeaderMap) -> Lang {
    chosen_lang(headers)
        .or_else(|| browser_lang(headers))
        .unwrap_or_default()
}

/// The language of the `aibt_lang` cookie.
fn chosen_lang(headers: &HeaderMap) -> Option<Lang> {
    crate::cookie(headers, LANG_COOKIE).and_then(Lang::from_code)
}

/// The language of the `Accept-Language` headers.
fn browser_lang(headers: &HeaderMap) -> Option<Lang> {
    let asked: Vec<&str> = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Lang::from_accept_language(&asked.join(","))
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn lang_of(headers: &[(header::HeaderName, &'static str)]) -> Lang {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name, HeaderValue::from_static(value));
        }
        page_lang(&map)
    }

    #[test]
    fn the_switch_wins_over_the_browser_which_wins_over_english() {
        use header::{ACCEPT_LANGUAGE, COOKIE};
        const CHINESE: &str = "zh-CN,zh;q=0.9,en;q=0.8";
        assert_eq!(lang_of(&[]), Lang::En);
        assert_eq!(lang_of(&[(ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")]), Lang::En);
        assert_eq!(lang_of(&[(ACCEPT_LANGUAGE, CHINESE)]), Lang::ZhCn);
        assert_eq!(
            lang_of(&[
                (ACCEPT_LANGUAGE, CHINESE),
                (COOKIE, "aibt_token=x; aibt_lang=en")
            ]),
            Lang::En
        );
        assert_eq!(
            lang_of(&[(ACCEPT_LANGUAGE, "en-US"), (COOKIE, "aibt_lang=zh-CN")]),
            Lang::ZhCn
        );
        // A cookie the switch did not write is no choice.
        assert_eq!(
            lang_of(&[(ACCEPT_LANGUAGE, CHINESE), (COOKIE, "aibt_lang=klingon")]),
            Lang::ZhCn
        );
    }
}
