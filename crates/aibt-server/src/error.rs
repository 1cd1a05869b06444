//! Every failure of a request as `{"error": {"code", "message", "field"}}` with a 4xx status
//! for the caller's mistakes (and 500 only for the server's own, which are logged).

use aibt_engine::EngineError;
use aibt_store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, for the client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable kind: `bad_request`, `invalid`, `not_found`, `conflict`,
    /// `wrong_state`, `unauthorized`, `payload_too_large`, `upstream` (a market data provider
    /// failed: 502), `internal`.
    pub code: &'static str,
    pub message: String,
    /// The request field (JSON body field or query parameter) at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        field: Option<String>,
    ) -> ApiError {
        ApiError {
            status,
            detail: ErrorDetail {
                code,
                message: message.into(),
                field,
            },
        }
    }

    /// The request cannot be read (malformed JSON, a query parameter of the wrong type).
    pub fn bad_request(field: Option<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message, field)
    }

    /// The request is well-formed but a value is unusable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            message,
            Some(field.into()),
        )
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message, None)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message, None)
    }

    /// A server fault: logged in full, answered without its detail.
    pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; its log has the cause",
            None,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound { .. } => ApiError::not_found(error.to_string()),
            StoreError::Conflict(message) => ApiError::conflict(message),
            StoreError::Invalid { field, reason } => {
                ApiError::bad_request(Some(field.to_string()), format!("{field}: {reason}"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        match error {
            EngineError::Invalid { field, reason } => {
                let message = format!("{field}: {reason}");
                ApiError::invalid(field, message)
            }
            EngineError::NotFound { .. } => ApiError::not_found(error.to_string()),
            EngineError::WrongState { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "wrong_state",
                error.to_string(),
                Some("status".into()),
            ),
            EngineError::Conflict(message) => ApiError::conflict(message),
            EngineError::Store(store) => store.into(),
            EngineError::Broker(broker) => ApiError::invalid("account", broker.to_string()),
            EngineError::Upstream(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream", message, None)
            }
            other => ApiError::internal(other),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
