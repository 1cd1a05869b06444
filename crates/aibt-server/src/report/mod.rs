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

fn respond(result: Result<String, ReportError>, file: &str, download: bool) -> Response {
    match result {
        Ok(html) => {
            let disposition = format!(
                "{}; filename=\"{file}\"",
                if download { "attachment" } else { "inline" }
            );
            let mut response = Html(html).into_response();
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

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
    Path(experiment_id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let lang = lang_of(&query, page);
    let html = experiment_report(state.store.as_ref(), &experiment_id, lang).await;
    let file = format!("experiment-{}.html", safe_name(&experiment_id));
    respond(html, &file, query.download)
}

async fn task(
    State(state): State<AppState>,
    page: UiLang,
    Path(task_id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let lang = lang_of(&query, page);
    let html = task_report(state.store.as_ref(), &task_id, lang).await;
    let file = format!("task-{}.html", safe_name(&task_id));
    respond(html, &file, query.download)
}

/// An id as a file name: letters, digits and dashes only (a header cannot carry the rest).
fn safe_name(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}
