//! `/api/v1/ai-configs`: how to reach a model. A key is stored encrypted and never returned:
//! responses show it masked (`****abcd`, or `$VAR` for a key read from the environment).

use aibt_core::{DecisionMode, Money, Rate, ResponseFormat};
use aibt_engine::ai_config::{
    AiConfigSpec, ApiKey, ConnectionTest, build_ai_config, test_ai_config,
};
use aibt_engine::secrets::mask_api_key;
use aibt_store::{AiConfig, Page};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Params};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiConfigCreate {
    #[schema(pattern = r"\S")]
    pub name: String,
    /// The API root, e.g. `http://127.0.0.1:11434/v1`.
    #[schema(pattern = r"^\s*https?://[^\s/]+(/\S*)?$")]
    pub local_ai_base_url: String,
    /// The key; stored encrypted (XChaCha20-Poly1305), never returned.
    pub local_ai_api_key: Option<String>,
    /// Or: read the key from this environment variable of the server at each call.
    #[schema(pattern = r"^[A-Za-z0-9_]+$")]
    pub local_ai_api_key_env: Option<String>,
    #[schema(pattern = r"\S")]
    pub local_ai_model_name: String,
    #[schema(schema_with = crate::ranges::temperature_or_null)]
    pub temperature: Option<Rate>,
    #[schema(minimum = 16, maximum = 32768)]
    pub max_tokens: Option<i64>,
    #[schema(minimum = 1, maximum = 3600)]
    pub timeout_seconds: Option<i64>,
    pub response_format: Option<ResponseFormat>,
    #[schema(minimum = 1, maximum = 1024)]
    pub max_concurrency: Option<i64>,
    #[schema(minimum = 0, maximum = 10)]
    pub max_retries: Option<i64>,
    pub knowledge_cutoff: Option<NaiveDate>,
    /// Money per million prompt tokens (the cost of runs, budgets).
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub price_input_per_million: Option<Money>,
    /// Money per million completion tokens.
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub price_output_per_million: Option<Money>,
    /// Sent as `reasoning_effort` to servers that take it: `none`, `minimal`, `low`,
    /// `medium`, `high` or `xhigh` (in an update, `""` removes it).
    #[schema(pattern = r"^(|none|minimal|low|medium|high|xhigh)$")]
    pub reasoning_effort: Option<String>,
    /// `json` (one answer holding the decision, the default) or `tools` (the model looks
    /// things up with tools and calls `submit_decision`).
    pub decision_mode: Option<DecisionMode>,
}

/// Changes to a config; omitted fields keep their value. `local_ai_api_key: ""` removes the key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiConfigUpdate {
    #[schema(pattern = r"\S")]
    pub name: Option<String>,
    #[schema(pattern = r"^\s*https?://[^\s/]+(/\S*)?$")]
    pub local_ai_base_url: Option<String>,
    pub local_ai_api_key: Option<String>,
    #[schema(pattern = r"^[A-Za-z0-9_]+$")]
    pub local_ai_api_key_env: Option<String>,
    #[schema(pattern = r"\S")]
    pub local_ai_model_name: Option<String>,
    #[schema(schema_with = crate::ranges::temperature_or_null)]
    pub temperature: Option<Rate>,
    #[schema(minimum = 16, maximum = 32768)]
    pub max_tokens: Option<i64>,
    #[schema(minimum = 1, maximum = 3600)]
    pub timeout_seconds: Option<i64>,
    pub response_format: Option<ResponseFormat>,
    #[schema(minimum = 1, maximum = 1024)]
    pub max_concurrency: Option<i64>,
    #[schema(minimum = 0, maximum = 10)]
    pub max_retries: Option<i64>,
    pub knowledge_cutoff: Option<NaiveDate>,
    /// Money per million prompt tokens (the cost of runs, budgets).
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub price_input_per_million: Option<Money>,
    /// Money per million completion tokens.
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub price_output_per_million: Option<Money>,
    /// Sent as `reasoning_effort` to servers that take it: `none`, `minimal`, `low`,
    /// `medium`, `high` or `xhigh` (in an update, `""` removes it).
    #[schema(pattern = r"^(|none|minimal|low|medium|high|xhigh)$")]
    pub reasoning_effort: Option<String>,
    /// `json` (one answer holding the decision, the default) or `tools` (the model looks
    /// things up with tools and calls `submit_decision`).
    pub decision_mode: Option<DecisionMode>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AiConfigListParams {
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    pub cursor: Option<String>,
}

/// A config as the API shows it: the key masked.
pub(crate) fn masked(mut config: AiConfig) -> AiConfig {
    config.local_ai_api_key = mask_api_key(&config.local_ai_api_key);
    config
}

fn api_key(key: Option<String>, env: Option<String>) -> ApiResult<Option<ApiKey>> {
    match (key, env) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "local_ai_api_key_env",
            "local_ai_api_key_env: give local_ai_api_key or local_ai_api_key_env, not both",
        )),
        (Some(key), None) if key.trim().is_empty() => Ok(Some(ApiKey::None)),
        (Some(key), None) => Ok(Some(ApiKey::Given(key))),
        (None, Some(variable)) => Ok(Some(ApiKey::FromEnv(variable))),
        (None, None) => Ok(None),
    }
}

async fn refuse_taken_name(state: &AppState, name: &str, except: Option<&str>) -> ApiResult<()> {
    if let Some(existing) = state.store.find_ai_config_by_name(name.trim()).await?
        && Some(existing.config_id.as_str()) != except
    {
        return Err(ApiError::conflict(format!(
            "an AI config named {name:?} exists ({})",
            existing.config_id
        )));
    }
    Ok(())
}

#[utoipa::path(
    get, path = "/api/v1/ai-configs", tag = "ai-configs",
    params(AiConfigListParams),
    responses((status = 200, description = "A page of AI configs, keys masked", body = Page<AiConfig>))
)]
pub async fn list_ai_configs(
    State(state): State<AppState>,
    Params(params): Params<AiConfigListParams>,
) -> ApiResult<Json<Page<AiConfig>>> {
    let page = state
        .store
        .list_ai_configs(crate::extract::page_size(params.limit, 100)?, params.cursor)
        .await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(masked).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    post, path = "/api/v1/ai-configs", tag = "ai-configs",
    request_body = AiConfigCreate,
    responses(
        (status = 201, description = "The config, key masked", body = AiConfig),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A field is unusable", body = ErrorBody),
    )
)]
pub async fn create_ai_config(
    State(state): State<AppState>,
    Body(body): Body<AiConfigCreate>,
) -> ApiResult<(StatusCode, Json<AiConfig>)> {
    Ok((
        StatusCode::CREATED,
        Json(insert_ai_config(&state, body).await?),
    ))
}

/// Checks and stores a new AI config, its key sealed; returns it masked (the API's and the
/// web UI's).
pub(crate) async fn insert_ai_config(
    state: &AppState,
    body: AiConfigCreate,
) -> ApiResult<AiConfig> {
    refuse_taken_name(state, &body.name, None).await?;
    let config = build_ai_config(AiConfigSpec {
        name: body.name,
        base_url: body.local_ai_base_url,
        api_key: api_key(body.local_ai_api_key, body.local_ai_api_key_env)?.unwrap_or(ApiKey::None),
        model: body.local_ai_model_name,
        temperature: body.temperature,
        max_tokens: body.max_tokens,
        timeout_seconds: body.timeout_seconds,
        response_format: body.response_format,
        max_concurrency: body.max_concurrency,
        max_retries: body.max_retries,
        knowledge_cutoff: body.knowledge_cutoff,
        price_input_per_million: body.price_input_per_million,
        price_output_per_million: body.price_output_per_million,
        reasoning_effort: body.reasoning_effort,
        decision_mode: body.decision_mode,
    })?;
    state.store.insert_ai_config(&config).await?;
    Ok(masked(config))
}

#[utoipa::path(
    get, path = "/api/v1/ai-configs/{config_id}", tag = "ai-configs",
    params(("config_id" = String, Path, description = "The config's id")),
    responses(
        (status = 200, description = "The config, key masked", body = AiConfig),
        (status = 404, description = "No such config", body = ErrorBody),
    )
)]
pub async fn get_ai_config(
    State(state): State<AppState>,
    Path(config_id): Path<String>,
) -> ApiResult<Json<AiConfig>> {
    Ok(Json(masked(state.store.get_ai_config(&config_id).await?)))
}

#[utoipa::path(
    patch, path = "/api/v1/ai-configs/{config_id}", tag = "ai-configs",
    params(("config_id" = String, Path, description = "The config's id")),
    request_body = AiConfigUpdate,
    responses(
        (status = 200, description = "The config as changed, key masked (a resumed task uses the config as it then is)", body = AiConfig),
        (status = 404, description = "No such config", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
        (status = 422, description = "A field is unusable", body = ErrorBody),
    )
)]
pub async fn update_ai_config(
    State(state): State<AppState>,
    Path(config_id): Path<String>,
    Body(body): Body<AiConfigUpdate>,
) -> ApiResult<Json<AiConfig>> {
    let current = state.store.get_ai_config(&config_id).await?;
    if let Some(name) = &body.name {
        refuse_taken_name(&state, name, Some(&config_id)).await?;
    }
    let key = api_key(body.local_ai_api_key, body.local_ai_api_key_env)?;
    // Rebuilt through the same checks as a new config, then given back its identity (and its
    // stored key, unless a new one was given).
    let mut config = build_ai_config(AiConfigSpec {
        name: body.name.unwrap_or_else(|| current.name.clone()),
        base_url: body
            .local_ai_base_url
            .unwrap_or_else(|| current.local_ai_base_url.clone()),
        api_key: key.clone().unwrap_or(ApiKey::None),
        model: body
            .local_ai_model_name
            .unwrap_or_else(|| current.local_ai_model_name.clone()),
        temperature: Some(body.temperature.unwrap_or(current.temperature)),
        max_tokens: Some(body.max_tokens.unwrap_or(current.max_tokens)),
        timeout_seconds: Some(body.timeout_seconds.unwrap_or(current.timeout_seconds)),
        response_format: Some(body.response_format.unwrap_or(current.response_format)),
        max_concurrency: Some(body.max_concurrency.unwrap_or(current.max_concurrency)),
        max_retries: Some(body.max_retries.unwrap_or(current.max_retries)),
        knowledge_cutoff: body.knowledge_cutoff.or(current.knowledge_cutoff),
        price_input_per_million: body
            .price_input_per_million
            .or(current.price_input_per_million),
        price_output_per_million: body
            .price_output_per_million
            .or(current.price_output_per_million),
        reasoning_effort: body.reasoning_effort.or(current.reasoning_effort.clone()),
        decision_mode: Some(body.decision_mode.unwrap_or(current.decision_mode)),
    })?;
    config.config_id = current.config_id.clone();
    config.created_at = current.created_at;
    // A server that refused tools is asked again once the config points elsewhere or asks
    // for a mode anew.
    let same_server = config.local_ai_base_url == current.local_ai_base_url
        && config.local_ai_model_name == current.local_ai_model_name;
    if same_server && body.decision_mode.is_none() {
        config.tools_refused = current.tools_refused.clone();
    }
    if key.is_none() {
        config.local_ai_api_key = current.local_ai_api_key.clone();
    }
    state.store.update_ai_config(&config).await?;
    Ok(Json(masked(state.store.get_ai_config(&config_id).await?)))
}

#[utoipa::path(
    delete, path = "/api/v1/ai-configs/{config_id}", tag = "ai-configs",
    params(("config_id" = String, Path, description = "The config's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such config", body = ErrorBody),
        (status = 409, description = "Tasks use the config", body = ErrorBody),
    )
)]
pub async fn delete_ai_config(
    State(state): State<AppState>,
    Path(config_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_ai_config(&config_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/ai-configs/{config_id}/test", tag = "ai-configs",
    params(("config_id" = String, Path, description = "The config's id")),
    responses(
        (status = 200, description = "One real decision call: its latency, the answer, and whether it was usable", body = ConnectionTest),
        (status = 404, description = "No such config", body = ErrorBody),
        (status = 422, description = "The config cannot be used (its key's variable is unset, say)", body = ErrorBody),
    )
)]
pub async fn test_config(
    State(state): State<AppState>,
    Path(config_id): Path<String>,
) -> ApiResult<Json<ConnectionTest>> {
    let config = state.store.get_ai_config(&config_id).await?;
    Ok(Json(test_ai_config(&config).await?))
}
