//! Reports: an experiment or a task as one self-contained HTML file, in English or Chinese,
//! that opens from a disk in any browser and prints well. Nothing in it is loaded from
//! anywhere: the style is inline, the charts are SVG drawn here, and it has no script.
//!
//! `aibt experiment report` and `aibt task report` write them; `GET /experiments/{id}/report`
//! and `GET /tasks/{id}/report` serve the same page (`?lang=en|zh`, `?download=true`). They
//! read the same words and numbers as the web UI's pages (`crate::ui`), never the other way.

mod experiment;
mod page;
mod svg;
mod task;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

pub use crate::ui::i18n::Lang;
pub use experiment::experiment_report;
pub use page::ReportError;
pub use task::task_report;

use crate::AppState;
use crate::error::ApiError;
use crate::ui::i18n::UiLang;

/// The reports' routes: the page's language unless `?lang=` names one.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/{experiment_id}/report", get(experiment))
        .route("/tasks/{task_id}/report", get(task))
}

#[derive(Deserialize)]
pub struct ReportQuery {
    lang: Option<String>,
    /// Served as a file to save rather than a page to read.
    #[serde(default)]
    download: bool,
}

/// A report as a page (or, with `?download=true`, a file) named `{kind}-{id}.html`.
fn respond(result: Result<String, ReportError>, kind: &str, id: &str, download: bool) -> Response {
    let html = match result {
        Ok(html) => html,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let disposition = format!(
        "{}; filename=\"{kind}-{}.html\"",
        if download { "attachment" } else { "inline" },
        safe_name(id)
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::REPORT_POLICY),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The language `?lang=` names, else the page's.
fn lang_of(query: &ReportQuery, page: UiLang) -> Lang {
    query
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(page.0.lang)
}

async fn experiment(
    State(state): State<AppState>,
    page: UiLang,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let html = experiment_report(state.store.as_ref(), &id, lang_of(&query, page)).await;
    respond(html, "experiment", &id, query.download)
}

async fn task(
    State(state): State<AppState>,
    page: UiLang,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let html = task_report(state.store.as_ref(), &id, lang_of(&query, page)).await;
    respond(html, "task", &id, query.download)
}

/// An id as a file name: letters, digits and dashes only (a header cannot carry the rest).
fn safe_name(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}
