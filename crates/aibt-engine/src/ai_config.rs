//! AI configs as users give them: checked field by field, the key sealed before it is stored,
//! and a connection test that makes one real call.

use std::time::Duration;

use aibt_ai::client::{ChatClient, ClientSettings};
use aibt_ai::gate::LocalGate;
use aibt_ai::llm::{LlmDecider, read_completion};
use aibt_core::{Rate, ResponseFormat};
use aibt_store::{AiConfig, Task};
use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::secrets::{env_api_key, seal_api_key};

/// The defaults of the added `ai_configs` columns (the migrations give the same ones).
/// Room for a reasoning model's thinking as well as its answer (400 cut most of them off).
pub const DEFAULT_MAX_TOKENS: i64 = 2048;
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 60;
pub const DEFAULT_MAX_CONCURRENCY: i64 = 4;
pub const DEFAULT_MAX_RETRIES: i64 = 3;
/// The temperature of a config that names none.
pub const DEFAULT_TEMPERATURE: Rate = Rate::ZERO;

/// Where the key of a config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// Local servers usually need none.
    None,
    /// Typed by the user: stored encrypted.
    Given(String),
    /// Read from this environment variable at each use; never stored.
    FromEnv(String),
}

/// What a user gives to create an AI config; `None` takes the column's default.
#[derive(Debug, Clone)]
pub struct AiConfigSpec {
    pub name: String,
    pub base_url: String,
    pub api_key: ApiKey,
    pub model: String,
    pub temperature: Option<Rate>,
    pub max_tokens: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub response_format: Option<ResponseFormat>,
    pub max_concurrency: Option<i64>,
    pub max_retries: Option<i64>,
    pub knowledge_cutoff: Option<NaiveDate>,
    /// Money per million prompt tokens and per million completion tokens.
    pub price_input_per_million: Option<aibt_core::Money>,
    pub price_output_per_million: Option<aibt_core::Money>,
    /// Sent as `reasoning_effort`; one of [`REASONING_EFFORTS`].
    pub reasoning_effort: Option<String>,
    /// One JSON answer (the default) or tool calls ending in `submit_decision`.
    pub decision_mode: Option<aibt_core::DecisionMode>,
}

/// The `reasoning_effort` values servers take (OpenAI's, which vLLM, llama.cpp and Ollama
/// follow for the models that think for as long as they are told).
pub const REASONING_EFFORTS: [&str; 6] = ["none", "minimal", "low", "medium", "high", "xhigh"];

/// A reasoning effort: one of [`REASONING_EFFORTS`], any case; empty means none given.
pub fn check_reasoning_effort(value: Option<&str>) -> Result<Option<String>> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let effort = text.to_ascii_lowercase();
    if REASONING_EFFORTS.contains(&effort.as_str()) {
        Ok(Some(effort))
    } else {
        Err(EngineError::invalid(
            "reasoning_effort",
            format!("{text:?} is not one of {}", REASONING_EFFORTS.join(", ")),
        ))
    }
}

fn within(field: &str, value: Option<i64>, default: i64, low: i64, high: i64) -> Result<i64> {
    let value = value.unwrap_or(default);
    if value < low || value > high {
        return Err(EngineError::invalid(
            field,
            format!("{value} is outside {low}..={high}"),
        ));
    }
    Ok(value)
}

/// A price per million tokens: not negative.
fn price(field: &str, value: Option<aibt_core::Money>) -> Result<Option<aibt_core::Money>> {
    match value {
        Some(price) if price.is_negative() => {
            Err(EngineError::invalid(field, format!("{price} is negative")))
        }
        other => Ok(other),
    }
}

/// Checks a base URL: an http(s) URL of the API root, without the `/chat/completions` part.
pub fn check_base_url(text: &str) -> Result<String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            EngineError::invalid(
                "local_ai_base_url",
                format!("{text:?} must start with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(EngineError::invalid(
            "local_ai_base_url",
            format!("{text:?} has no host"),
        ));
    }
    if url.ends_with("/chat/completions") {
        return Err(EngineError::invalid(
            "local_ai_base_url",
            format!(
                "give the API root ({}), not the endpoint",
                url.trim_end_matches("/chat/completions")
            ),
        ));
    }
    Ok(url.to_string())
}

/// A new config row from a spec, every field checked and the key sealed.
pub fn build_ai_config(spec: AiConfigSpec) -> Result<AiConfig> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err(EngineError::invalid("name", "must not be empty"));
    }
    let model = spec.model.trim().to_string();
    if model.is_empty() {
        return Err(EngineError::invalid(
            "local_ai_model_name",
            "must not be empty",
        ));
    }
    let base_url = check_base_url(&spec.base_url)?;
    let temperature = spec.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if temperature.is_negative() || temperature.mantissa() > 2 * 10i128.pow(Rate::SCALE) {
        return Err(EngineError::invalid(
            "temperature",
            format!("{temperature} is outside 0..=2"),
        ));
    }
    let api_key = match spec.api_key {
        ApiKey::None => String::new(),
        ApiKey::Given(key) => seal_api_key(key.trim())
            .map_err(|e| EngineError::invalid("local_ai_api_key", e.to_string()))?,
        ApiKey::FromEnv(variable) => {
            let valid = !variable.is_empty()
                && variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(EngineError::invalid(
                    "local_ai_api_key",
                    format!("{variable:?} is not an environment variable name"),
                ));
            }
            env_api_key(&variable)
        }
    };
    let now = aibt_core::time::now();
    Ok(AiConfig {
        config_id: aibt_store::new_id(),
        name,
        local_ai_base_url: base_url,
        local_ai_api_key: api_key,
        local_ai_model_name: model,
        created_at: now,
        updated_at: now,
        temperature,
        max_tokens: within(
            "max_tokens",
            spec.max_tokens,
            DEFAULT_MAX_TOKENS,
            16,
            32_768,
        )?,
        timeout_seconds: within(
            "timeout_seconds",
            spec.timeout_seconds,
            DEFAULT_TIMEOUT_SECONDS,
            1,
            3_600,
        )?,
        response_format: spec.response_format.unwrap_or(ResponseFormat::JsonSchema),
        max_concurrency: within(
            "max_concurrency",
            spec.max_concurrency,
            DEFAULT_MAX_CONCURRENCY,
            1,
            1_024,
        )?,
        max_retries: within("max_retries", spec.max_retries, DEFAULT_MAX_RETRIES, 0, 10)?,
        knowledge_cutoff: spec.knowledge_cutoff,
        price_input_per_million: price("price_input_per_million", spec.price_input_per_million)?,
        price_output_per_million: price("price_output_per_million", spec.price_output_per_million)?,
        reasoning_effort: check_reasoning_effort(spec.reasoning_effort.as_deref())?,
        decision_mode: spec.decision_mode.unwrap_or_default(),
        tools_refused: None,
    })
}

/// The config `spec` describes inline (a backtest's `--base-url --model …`, an experiment's
/// strategy): its name is derived from every setting, so the same settings find one row and a
/// resumed task keeps the settings it began with. Stored when `store` is given and no row has
/// the name yet; a plan passes `None` and gets the config without a row.
pub async fn inline_ai_config(
    store: Option<&dyn aibt_store::Store>,
    mut spec: AiConfigSpec,
) -> Result<AiConfig> {
    let key_source = match &spec.api_key {
        ApiKey::None => None,
        ApiKey::FromEnv(variable) => Some(variable.clone()),
        ApiKey::Given(_) => Some("given".to_string()),
    };
    let mut settings = serde_json::json!({
        "base_url": check_base_url(&spec.base_url)?,
        "key": key_source,
        "model": spec.model,
        "temperature": spec.temperature.map(|t| t.to_string()),
        "max_tokens": spec.max_tokens,
        "timeout": spec.timeout_seconds,
        "format": spec.response_format.map(|f| f.to_string()),
        "concurrency": spec.max_concurrency,
        "retries": spec.max_retries,
        "cutoff": spec.knowledge_cutoff.map(|d| d.to_string()),
    });
    // Only when given, so the configs named before the setting existed keep their names.
    if let Some(effort) = &spec.reasoning_effort {
        settings["reasoning_effort"] = serde_json::json!(effort);
    }
    if let Some(mode) = spec.decision_mode {
        settings["decision_mode"] = serde_json::json!(mode.as_str());
    }
    let fingerprint = aibt_ai::llm::hash_json(&settings);
    spec.name = format!(
        "{} @ {} [{}]",
        spec.model.trim(),
        spec.base_url.trim(),
        &fingerprint[..8]
    );
    if let Some(store) = store
        && let Some(existing) = store.find_ai_config_by_name(&spec.name).await?
    {
        return Ok(existing);
    }
    let config = build_ai_config(spec)?;
    if let Some(store) = store {
        store.insert_ai_config(&config).await?;
    }
    Ok(config)
}

/// A stored AI config by name, or else by id.
pub async fn find_ai_config(store: &dyn aibt_store::Store, name: &str) -> Result<AiConfig> {
    if let Some(config) = store.find_ai_config_by_name(name).await? {
        return Ok(config);
    }
    match store.get_ai_config(name).await {
        Ok(config) => Ok(config),
        Err(aibt_store::StoreError::NotFound { .. }) => Err(EngineError::invalid(
            "ai_config",
            format!("no AI config is named {name:?} (aibt ai-config list shows them)"),
        )),
        Err(other) => Err(other.into()),
    }
}

/// What one test call showed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    /// The model answered with a usable decision.
    pub ok: bool,
    pub latency_ms: u64,
    /// HTTP calls made (retries included).
    pub calls: u32,
    pub raw_answer: Option<String>,
    /// A reasoning model's thinking before its answer.
    pub thinking: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The prompt of a connection test: a decision as small as any real one.
const TEST_PROMPT: &str = "Connection test. The last close was 100.00, up 1.2% on the day. \
Answer with a decision as the rules say.";

/// The client settings of an AI config.
pub fn client_settings(config: &AiConfig, seed: Option<u64>) -> Result<ClientSettings> {
    let api_key = crate::secrets::open_api_key(&config.local_ai_api_key).map_err(|e| {
        EngineError::invalid(
            "local_ai_api_key",
            format!("AI config {}: {e}", config.name),
        )
    })?;
    Ok(ClientSettings {
        base_url: config.local_ai_base_url.clone(),
        api_key,
        model: config.local_ai_model_name.clone(),
        temperature: config.temperature.to_f64(),
        max_tokens: u32::try_from(config.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS as u32),
        timeout: Duration::from_secs(u64::try_from(config.timeout_seconds).unwrap_or(60)),
        response_format: config.response_format,
        max_retries: u32::try_from(config.max_retries).unwrap_or(3),
        seed,
        reasoning_effort: config.reasoning_effort.clone(),
    })
}

/// Makes one real decision call with the config's settings (no cache, no retries of the
/// answer) and reports what came back.
pub async fn test_ai_config(config: &AiConfig) -> Result<ConnectionTest> {
    let mut settings = client_settings(config, None)?;
    // A test should answer quickly either way: one retry at most, a bounded wait.
    settings.max_retries = settings.max_retries.min(1);
    settings.timeout = settings.timeout.min(Duration::from_secs(60));
    // One call a person asked for: it waits for this process's calls of the config, not for
    // a slot of the database's (a test should not queue behind a grid of running tasks).
    let limiter = LocalGate::of(
        &config.config_id,
        usize::try_from(config.max_concurrency).unwrap_or(1),
    );
    let client = ChatClient::new(settings, limiter)
        .map_err(|e| EngineError::invalid("local_ai_base_url", e.to_string()))?;
    let body = client.request_body(
        &LlmDecider::messages(TEST_PROMPT),
        &aibt_ai::answer::answer_schema(),
    );
    let report = client.complete(&body).await;
    let latency_ms = u64::try_from(report.latency.as_millis()).unwrap_or(u64::MAX);
    Ok(match report.result {
        Ok(completion) => {
            let reading = read_completion(&completion, client.settings().max_tokens);
            let error = reading
                .decision
                .err()
                .map(|e| format!("the answer is not a usable decision: {e}"));
            ConnectionTest {
                ok: error.is_none(),
                latency_ms,
                calls: report.calls,
                thinking: reading.thinking,
                raw_answer: Some(completion.content),
                prompt_tokens: completion.prompt_tokens,
                completion_tokens: completion.completion_tokens,
                error,
            }
        }
        Err(error) => ConnectionTest {
            ok: false,
            latency_ms,
            calls: report.calls,
            raw_answer: None,
            thinking: None,
            prompt_tokens: None,
            completion_tokens: None,
            error: Some(error.to_string()),
        },
    })
}

/// A warning when the task's period ends before the model's training cutoff: the model may
/// have read about what happened next.
pub fn memorisation_warning(config: &AiConfig, task: &Task) -> Option<String> {
    let cutoff = config.knowledge_cutoff?;
    (task.end_date.date_naive() < cutoff).then(|| {
        format!(
            "the period ends {} but {}'s training data runs to {cutoff}: it may remember what happened \
             (consider blind mode)",
            task.end_date.date_naive(),
            config.local_ai_model_name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AiConfigSpec {
        AiConfigSpec {
            name: "local".into(),
            base_url: "http://127.0.0.1:11434/v1/".into(),
            api_key: ApiKey::FromEnv("OPENAI_API_KEY".into()),
            model: "qwen2.5:7b".into(),
            temperature: None,
            max_tokens: None,
            timeout_seconds: None,
            response_format: None,
            max_concurrency: None,
            max_retries: None,
            knowledge_cutoff: None,
            price_input_per_million: None,
            price_output_per_million: None,
            reasoning_effort: None,
            decision_mode: None,
        }
    }

    #[test]
    fn a_config_takes_the_defaults_and_keeps_no_key_in_the_clear() {
        let config = build_ai_config(spec()).unwrap();
        assert_eq!(config.local_ai_base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(config.local_ai_api_key, "env:OPENAI_API_KEY");
        assert_eq!(config.max_tokens, DEFAULT_MAX_TOKENS);
        assert_eq!(config.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
        assert_eq!(config.response_format, ResponseFormat::JsonSchema);
        assert_eq!(config.temperature, Rate::ZERO);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |spec: AiConfigSpec| match build_ai_config(spec) {
            Err(EngineError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            field(AiConfigSpec {
                base_url: "localhost:11434".into(),
                ..spec()
            }),
            "local_ai_base_url"
        );
        assert_eq!(
            field(AiConfigSpec {
                base_url: "http://h/v1/chat/completions".into(),
                ..spec()
            }),
            "local_ai_base_url"
        );
        assert_eq!(
            field(AiConfigSpec {
                model: " ".into(),
                ..spec()
            }),
            "local_ai_model_name"
        );
        assert_eq!(
            field(AiConfigSpec {
                max_tokens: Some(0),
                ..spec()
            }),
            "max_tokens"
        );
        assert_eq!(
            field(AiConfigSpec {
                temperature: Some(Rate::parse("2.5").unwrap()),
                ..spec()
            }),
            "temperature"
        );
        assert_eq!(
            field(AiConfigSpec {
                api_key: ApiKey::FromEnv("MY KEY".into()),
                ..spec()
            }),
            "local_ai_api_key"
        );
    }
}
