//! `/api/v1/prompt-templates`: strategies written as prompts. A template is checked when it is
//! saved; deleting one is a soft delete (status `DELETED`, hidden from lists unless asked).

use aibt_core::{MarketType, TemplateStatus, TimeGranularity};
use aibt_engine::model::{Preview, PreviewSpec, preview_prompt};
use aibt_engine::templates::new_template;
use aibt_store::{Page, PromptTemplate, SeriesKey};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Params};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateCreate {
    /// The template (Jinja). A syntax error or an unknown variable is refused with its line.
    #[schema(pattern = r"\S")]
    pub content: String,
    pub description: Option<String>,
    /// Comma-separated.
    pub tags: Option<String>,
    /// `AVAILABLE` (default) or `UNAVAILABLE`.
    #[schema(value_type = Option<String>, pattern = "^(AVAILABLE|UNAVAILABLE)$")]
    pub status: Option<TemplateStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateUpdate {
    #[schema(pattern = r"\S")]
    pub content: Option<String>,
    pub description: Option<String>,
    pub tags: Option<String>,
    /// `AVAILABLE` or `UNAVAILABLE` (a template is deleted with DELETE).
    #[schema(value_type = Option<String>, pattern = "^(AVAILABLE|UNAVAILABLE)$")]
    pub status: Option<TemplateStatus>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateListParams {
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    pub cursor: Option<String>,
    /// Also list DELETED templates.
    #[serde(default)]
    pub include_deleted: bool,
}

/// A bar to render a template for, as a task would at its first decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub stock_symbol: String,
    pub market_type: MarketType,
    pub time_granularity: TimeGranularity,
    /// The decision bar: the last bar at or before this time.
    pub at: DateTime<Utc>,
    /// The backtest's first bar (blind mode rebases from the bars before it).
    pub start_date: Option<DateTime<Utc>>,
    /// Bars shown in `bars` (default 30).
    #[schema(maximum = 4294967295.0)]
    pub window: Option<u32>,
    #[serde(default)]
    pub blind: bool,
}

#[utoipa::path(
    get, path = "/api/v1/prompt-templates", tag = "prompt-templates",
    params(TemplateListParams),
    responses((status = 200, description = "A page of templates", body = Page<PromptTemplate>))
)]
pub async fn list_templates(
    State(state): State<AppState>,
    Params(params): Params<TemplateListParams>,
) -> ApiResult<Json<Page<PromptTemplate>>> {
    Ok(Json(
        state
            .store
            .list_templates(
                params.include_deleted,
                crate::extract::page_size(params.limit, 100)?,
                params.cursor,
            )
            .await?,
    ))
}

fn settable(status: Option<TemplateStatus>) -> ApiResult<Option<TemplateStatus>> {
    match status {
        Some(TemplateStatus::Deleted) => Err(ApiError::invalid(
            "status",
            "status: a template is deleted with DELETE, not by setting its status",
        )),
        other => Ok(other),
    }
}

#[utoipa::path(
    post, path = "/api/v1/prompt-templates", tag = "prompt-templates",
    request_body = TemplateCreate,
    responses(
        (status = 201, description = "The template", body = PromptTemplate),
        (status = 422, description = "A syntax error or unknown variable, with its line", body = ErrorBody),
    )
)]
pub async fn create_template(
    State(state): State<AppState>,
    Body(body): Body<TemplateCreate>,
) -> ApiResult<(StatusCode, Json<PromptTemplate>)> {
    Ok((
        StatusCode::CREATED,
        Json(insert_template(&state, body).await?),
    ))
}

/// Checks and stores a new template (the API's and the web UI's).
pub(crate) async fn insert_template(
    state: &AppState,
    body: TemplateCreate,
) -> ApiResult<PromptTemplate> {
    let status = settable(body.status)?;
    let mut template = new_template(
        aibt_store::new_id(),
        &body.content,
        body.description,
        body.tags,
    )?;
    if let Some(status) = status {
        template.status = status;
    }
    state.store.insert_template(&template).await?;
    Ok(template)
}

#[utoipa::path(
    get, path = "/api/v1/prompt-templates/{prompt_id}", tag = "prompt-templates",
    params(("prompt_id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "The template", body = PromptTemplate),
        (status = 404, description = "No such template, or it was deleted (a deleted template is listed, `DELETED`, with `include_deleted=true`)", body = ErrorBody),
    )
)]
pub async fn get_template(
    State(state): State<AppState>,
    Path(prompt_id): Path<String>,
) -> ApiResult<Json<PromptTemplate>> {
    Ok(Json(live_template(&state, &prompt_id).await?))
}

/// A template that has not been deleted. A deleted resource is gone for a client that asks
/// for it by id, as HTTP has it (reading, changing, deleting it again): its row stays (the
/// seed's soft delete) so the list can still show it with its status.
async fn live_template(state: &AppState, prompt_id: &str) -> ApiResult<PromptTemplate> {
    let template = state.store.get_template(prompt_id).await?;
    if template.status == TemplateStatus::Deleted {
        return Err(ApiError::not_found(format!(
            "template {prompt_id} was deleted (it is listed, DELETED, with include_deleted=true)"
        )));
    }
    Ok(template)
}

#[utoipa::path(
    patch, path = "/api/v1/prompt-templates/{prompt_id}", tag = "prompt-templates",
    params(("prompt_id" = String, Path, description = "The template's id")),
    request_body = TemplateUpdate,
    responses(
        (status = 200, description = "The template as changed (tasks already created keep the content they were created with)", body = PromptTemplate),
        (status = 404, description = "No such template, or it was deleted", body = ErrorBody),
        (status = 422, description = "A syntax error or unknown variable, with its line", body = ErrorBody),
    )
)]
pub async fn update_template(
    State(state): State<AppState>,
    Path(prompt_id): Path<String>,
    Body(body): Body<TemplateUpdate>,
) -> ApiResult<Json<PromptTemplate>> {
    Ok(Json(change_template(&state, &prompt_id, body).await?))
}

/// Checks and applies changes to a template (the API's and the web UI's).
pub(crate) async fn change_template(
    state: &AppState,
    prompt_id: &str,
    body: TemplateUpdate,
) -> ApiResult<PromptTemplate> {
    let status = settable(body.status)?;
    let current = live_template(state, prompt_id).await?;
    let mut template = new_template(
        current.prompt_id.clone(),
        body.content.as_deref().unwrap_or(&current.content),
        body.description.or(current.description),
        body.tags.or(current.tags),
    )?;
    template.status = status.unwrap_or(current.status);
    template.created_at = current.created_at;
    state.store.update_template(&template).await?;
    Ok(state.store.get_template(prompt_id).await?)
}

#[utoipa::path(
    delete, path = "/api/v1/prompt-templates/{prompt_id}", tag = "prompt-templates",
    params(("prompt_id" = String, Path, description = "The template's id")),
    responses(
        (status = 204, description = "Marked DELETED (tasks that used it keep their prompts)"),
        (status = 404, description = "No such template, or it was deleted already", body = ErrorBody),
    )
)]
pub async fn delete_template(
    State(state): State<AppState>,
    Path(prompt_id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut template = live_template(&state, &prompt_id).await?;
    template.status = TemplateStatus::Deleted;
    template.updated_at = aibt_core::time::now();
    state.store.update_template(&template).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/prompt-templates/{prompt_id}/preview", tag = "prompt-templates",
    params(("prompt_id" = String, Path, description = "The template's id")),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "Exactly what the model would receive for that bar", body = Preview),
        (status = 404, description = "No such template", body = ErrorBody),
        (status = 422, description = "No bar at that time, or the template fails on the data", body = ErrorBody),
    )
)]
pub async fn preview_template(
    State(state): State<AppState>,
    Path(prompt_id): Path<String>,
    Body(body): Body<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    let template = state.store.get_template(&prompt_id).await?;
    Ok(Json(preview(&state, template.content, body).await?))
}

/// Renders a template's content for one bar (the API's and the web UI's).
pub(crate) async fn preview(
    state: &AppState,
    content: String,
    body: PreviewRequest,
) -> ApiResult<Preview> {
    let series = SeriesKey {
        symbol: body.stock_symbol,
        market_type: body.market_type,
        granularity: body.time_granularity,
    };
    let settings = aibt_engine::accounts::default_settings(series.market_type, false);
    Ok(preview_prompt(
        state.store.as_ref(),
        &PreviewSpec {
            template: content,
            series,
            start: body.start_date,
            at: body.at,
            window: body.window.unwrap_or(0) as usize,
            blind: body.blind,
            settings,
        },
    )
    .await?)
}
