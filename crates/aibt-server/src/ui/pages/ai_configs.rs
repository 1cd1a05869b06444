//! `/ai-configs`: the models a task may ask, their keys never shown again, and a connection
//! test that asks one for a decision.

use aibt_core::{Money, Rate};
use aibt_engine::ai_config::{
    ConnectionTest, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE,
    DEFAULT_TIMEOUT_SECONDS, REASONING_EFFORTS,
};
use aibt_store::AiConfig;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::routes::ai_configs::{AiConfigCreate, insert_ai_config, masked};
use crate::ui::form::{Field, FormState, fields, form_page};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, refused, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ai-configs", get(ai_configs).post(create_ai_config))
        .route("/ai-configs/{config_id}/test", post(test_ai_config))
}

#[derive(Template)]
#[template(path = "ai_configs.html")]
pub struct AiConfigsPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    configs: Vec<AiConfig>,
    fields: Vec<Field>,
    efforts: &'static [&'static str],
}
form_page!(AiConfigsPage);

const AI_FIELDS: &[(&str, &str)] = &[
    ("name", "field.name"),
    ("local_ai_base_url", "field.base_url"),
    ("local_ai_model_name", "field.model"),
    ("local_ai_api_key", "field.api_key"),
    ("temperature", "field.temperature"),
    ("max_tokens", "field.max_tokens"),
    ("timeout_seconds", "field.timeout"),
    ("max_concurrency", "field.max_concurrency"),
    ("knowledge_cutoff", "field.knowledge_cutoff"),
    ("price_input_per_million", "field.price_input_per_million"),
    ("price_output_per_million", "field.price_output_per_million"),
];

/// Where a local Ollama answers, the likeliest server on a laptop.
const OLLAMA_URL: &str = "http://127.0.0.1:11434/v1";

async fn ai_configs_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let configs = page_try!(state.store.list_ai_configs(500, None).await);
    render(&AiConfigsPage {
        tr,
        nav: "ai",
        form,
        configs: configs.items.into_iter().map(masked).collect(),
        fields: fields(AI_FIELDS),
        efforts: &REASONING_EFFORTS,
    })
}

async fn ai_configs(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    // The engine's defaults, shown so that a person sees what an empty field means.
    let form = FormState::with(&[("local_ai_base_url", OLLAMA_URL)]).and([
        (
            "temperature",
            DEFAULT_TEMPERATURE.get().normalize().to_string(),
        ),
        ("max_tokens", DEFAULT_MAX_TOKENS.to_string()),
        ("timeout_seconds", DEFAULT_TIMEOUT_SECONDS.to_string()),
        ("max_concurrency", DEFAULT_MAX_CONCURRENCY.to_string()),
    ]);
    ai_configs_page(&state, tr, form).await
}

async fn create_ai_config(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let body = AiConfigCreate {
        name: form.v("name").to_string(),
        local_ai_base_url: form.v("local_ai_base_url").to_string(),
        local_ai_api_key: form.get("local_ai_api_key"),
        local_ai_api_key_env: None,
        local_ai_model_name: form.v("local_ai_model_name").to_string(),
        temperature: form.decimal("temperature", Rate::parse),
        max_tokens: form.integer("max_tokens"),
        timeout_seconds: form.integer("timeout_seconds"),
        response_format: form.v("response_format").parse().ok(),
        max_concurrency: form.integer("max_concurrency"),
        max_retries: None,
        knowledge_cutoff: form.date("knowledge_cutoff"),
        price_input_per_million: form.decimal("price_input_per_million", Money::parse),
        price_output_per_million: form.decimal("price_output_per_million", Money::parse),
        reasoning_effort: form.get("reasoning_effort"),
        decision_mode: form.v("decision_mode").parse().ok(),
    };
    if form.ok() {
        match insert_ai_config(&state, body).await {
            Ok(_) => return Redirect::to("/ai-configs").into_response(),
            Err(error) => form.api_error_same(error),
        }
    }
    // The key is never sent back, not even into the form it came from.
    form.forget("local_ai_api_key");
    refused(ai_configs_page(&state, tr, form).await)
}

#[derive(Template)]
#[template(path = "ai_test.html")]
pub struct AiTestPartial {
    tr: Tr,
    report: ConnectionTest,
}

async fn test_ai_config(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(config_id): Path<String>,
) -> Response {
    let config = page_try!(state.store.get_ai_config(&config_id).await);
    let report = match aibt_engine::ai_config::test_ai_config(&config).await {
        Ok(report) => report,
        Err(error) => ConnectionTest {
            ok: false,
            latency_ms: 0,
            calls: 0,
            raw_answer: None,
            thinking: None,
            prompt_tokens: None,
            completion_tokens: None,
            error: Some(error.to_string()),
        },
    };
    render(&AiTestPartial { tr, report })
}
