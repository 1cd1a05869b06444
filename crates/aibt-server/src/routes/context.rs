//! `/api/v1/context`: importing a symbol's dated context (CSV or Excel) and listing it.

use aibt_engine::context::{ContextImport, import_context};
use aibt_store::ContextItem;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Params, parse_query, read_upload};

/// Whose context, as a query parameter or a field of a multipart form.
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ContextParams {
    /// Required, here or as a form field.
    #[param(pattern = r"\S")]
    pub stock_symbol: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/context/import", tag = "context",
    params(ContextParams),
    request_body(
        description = "The context file, CSV or Excel (.xlsx): a date column (`date` or `日期`; \
            2025-01-01 or 2025年1月1日), any text or number columns, and optionally \
            `published_at`. As the whole body, or as the `file` field of a multipart form whose \
            `stock_symbol` field names the symbol",
        content_type = "text/csv", content = String
    ),
    responses(
        (status = 201, description = "Imported: each item replaces the stored item of its day", body = ContextImport),
        (status = 413, description = "The file is larger than the server accepts", body = ErrorBody),
        (status = 422, description = "A bad or repeated date, with its line: nothing of the file was stored", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<(StatusCode, Json<ContextImport>)> {
    let params: ContextParams = parse_query(request.uri().query().unwrap_or_default())?;
    let upload = read_upload(request, &state).await?;
    let symbol = upload
        .fields
        .get("stock_symbol")
        .cloned()
        .or(params.stock_symbol)
        .ok_or_else(|| ApiError::invalid("stock_symbol", "stock_symbol: required"))?;
    let name = upload.name.unwrap_or_else(|| "upload".into());
    let imported = import_context(state.store.as_ref(), &symbol, &name, &upload.bytes).await?;
    Ok((StatusCode::CREATED, Json(imported)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub stock_symbol: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContextList {
    /// In the order they become visible to decisions.
    pub items: Vec<ContextItem>,
}

#[utoipa::path(
    get, path = "/api/v1/context", tag = "context",
    params(ListParams),
    responses(
        (status = 200, description = "The symbol's dated context, in the order it becomes visible", body = ContextList),
        (status = 400, description = "stock_symbol is missing", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Params(params): Params<ListParams>,
) -> ApiResult<Json<ContextList>> {
    Ok(Json(ContextList {
        items: state
            .store
            .context_items(params.stock_symbol.trim(), None)
            .await?,
    }))
}
