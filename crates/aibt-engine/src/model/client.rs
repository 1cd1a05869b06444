//! A task's way to its model: the AI config's client, its limit of calls in flight (shared by
//! every process on the database), and the decision cache in the `llm_cache` table.

use std::sync::Arc;

use aibt_ai::client::ChatClient;
use aibt_ai::llm::{AnswerCache, LlmDecider};
use aibt_ai::tools::DEFAULT_TOOL_LIMIT;
use aibt_core::DecisionMode;
use aibt_store::{AiConfig, CachedAnswer, Store};
use async_trait::async_trait;
use serde_json::Value;

use crate::ai_config::client_settings;
use crate::error::{EngineError, Result};
use crate::task::TaskOptions;

/// The `llm_cache` table as the decider's cache.
struct StoreCache {
    store: Arc<dyn Store>,
    base_url: String,
    model: String,
}

#[async_trait]
impl AnswerCache for StoreCache {
    async fn get(&self, key: &str) -> Option<Value> {
        self.store
            .get_cached_answer(key)
            .await
            .ok()
            .flatten()
            .map(|answer| answer.response)
    }

    async fn put(&self, key: &str, answer: Value) {
        // A failed cache write costs a later call, never a result: it is not an error.
        let _ = self
            .store
            .put_cached_answer(&CachedAnswer {
                cache_key: key.to_string(),
                base_url: self.base_url.clone(),
                model: self.model.clone(),
                response: answer,
                created_at: aibt_core::time::now(),
            })
            .await;
    }
}

/// A decider for a task: the AI config's client, its shared limit of calls, the cache, and
/// its decision mode (the task's, or else the config's).
pub fn decider_for(
    store: &Arc<dyn Store>,
    config: &AiConfig,
    options: &TaskOptions,
) -> Result<LlmDecider> {
    let mut settings = client_settings(config, options.seed)?;
    if let Some(temperature) = options.temperature {
        settings.temperature = temperature.to_f64();
    }
    let client = ChatClient::new(settings, super::gate::SharedGate::of(store, config))
        .map_err(|e| EngineError::invalid("local_ai_base_url", e.to_string()))?;
    let cache = Arc::new(StoreCache {
        store: store.clone(),
        base_url: config.local_ai_base_url.clone(),
        model: config.local_ai_model_name.clone(),
    });
    let decider = LlmDecider::new(
        client,
        Some(cache),
        options.cache,
        options.answer_retries.unwrap_or(2),
    );
    Ok(
        match options.decision_mode.unwrap_or(config.decision_mode) {
            DecisionMode::Json => decider,
            DecisionMode::Tools => decider.with_tools(
                options.max_tool_calls.unwrap_or(DEFAULT_TOOL_LIMIT),
                config.tools_refused.clone(),
            ),
        },
    )
}
