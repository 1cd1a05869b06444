//! How a page answers: rendered, refused with its form's errors (422), or, when the store
//! fails, a 404 for a missing row and a logged 500 for anything else.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use aibt_engine::budget::Budget;

use crate::error::ApiError;

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

/// A form page shown again with the errors of what was submitted.
pub fn refused(mut page: Response) -> Response {
    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    page
}

/// A piece of a page (htmx swaps it in), or the API's error.
pub fn fragment(result: Result<String, ApiError>) -> Response {
    match result {
        Ok(html) => Html(html).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The budget a resume form was submitted with (`budget`, as 2.50 or 150000tokens), if any.
pub fn submitted_budget(body: &[u8]) -> Result<Option<Budget>, ApiError> {
    let form = super::form::FormState::parse(body);
    match form.get("budget").filter(|text| !text.trim().is_empty()) {
        Some(text) => Ok(Some(Budget::parse(&[text], "budget")?)),
        None => Ok(None),
    }
}

/// The answer to a resume form that may carry a new budget: the page reloads when the resume
/// is taken; when it is not, the reason goes beside the field (htmx swaps a 200, not a 4xx).
pub fn resumed(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => reload(Ok(())),
        Err(error) => render(&FieldMessage {
            message: error.detail.message,
        }),
    }
}

#[derive(askama::Template)]
#[template(source = "{{ message }}", ext = "html")]
struct FieldMessage {
    message: String,
}

/// A lifecycle button's answer: nothing to swap in (or the API's error), and the page reloads
/// to show the new state.
pub fn reload(result: Result<(), ApiError>) -> Response {
    let mut response = match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    };
    response
        .headers_mut()
        .insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
    response
}

pub fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "a page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the page could not be built; the server's log has the cause",
    )
        .into_response()
}

pub fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
}

/// A store call on a page: a missing row is a 404, anything else a logged 500.
macro_rules! page_try {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(error) => {
                let error: $crate::error::ApiError = error.into();
                return if error.status == ::axum::http::StatusCode::NOT_FOUND {
                    $crate::ui::respond::not_found(&error.detail.message)
                } else {
                    $crate::ui::respond::internal(error.detail.message)
                };
            }
        }
    };
}
pub(crate) use page_try;
