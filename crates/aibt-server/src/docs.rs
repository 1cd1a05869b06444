//! `/api/openapi.json` and the Swagger UI page at `/api/docs`, served from files embedded in
//! the binary (vendored from npm's `swagger-ui-dist`, see `assets/swagger-ui/README.md`).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const INDEX: &str = include_str!("../assets/swagger-ui/index.html");
const INIT: &str = include_str!("../assets/swagger-ui/init.js");
const BUNDLE: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");
const ICON: &[u8] = include_bytes!("../assets/swagger-ui/favicon-32x32.png");

/// Assets never change within a build: let browsers keep them for a day.
const CACHE: &str = "public, max-age=86400";

pub fn routes(openapi: Arc<serde_json::Value>) -> Router<AppState> {
    let json = Arc::new(serde_json::to_string_pretty(&*openapi).unwrap_or_else(|_| "{}".into()));
    Router::new()
        .route(
            "/api/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        (*json).clone(),
                    )
                }
            }),
        )
        .route(
            "/api/docs",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) }),
        )
        .route(
            "/api/docs/init.js",
            get(|| async { asset("text/javascript; charset=utf-8", INIT.as_bytes()) }),
        )
        .route(
            "/api/docs/swagger-ui-bundle.js",
            get(|| async { asset("text/javascript; charset=utf-8", BUNDLE.as_bytes()) }),
        )
        .route(
            "/api/docs/swagger-ui.css",
            get(|| async { asset("text/css; charset=utf-8", CSS.as_bytes()) }),
        )
        .route(
            "/api/docs/favicon-32x32.png",
            get(|| async { asset("image/png", ICON) }),
        )
}

fn asset(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
}
