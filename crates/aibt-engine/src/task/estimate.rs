//! What a model task would ask of its model, before it runs and without calling the model:
//! the calls the cache leaves, their prompt tokens (counted by the server's own tokenizer
//! where it has one) and what they cost at most by the AI config's prices.

use std::sync::Arc;

use aibt_core::Money;
use aibt_store::{Store, Task, VirtualAccount};
use serde::Serialize;

use super::options::TaskOptions;
use crate::accounts::account_settings;
use crate::budget::per_million;
use crate::error::{EngineError, Result};
use crate::model::{CallEstimate, ModelSource};

/// What a model task would ask of its model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskEstimate {
    pub decisions: u64,
    /// Decisions the cache already answers (no call).
    pub cached: u64,
    /// Calls still to make, one per decision the cache does not answer (an unusable answer
    /// asked again makes more).
    pub calls: u64,
    /// The most calls those decisions can make: `calls`, or in tool mode `calls` times one
    /// more than the tool calls a decision may make.
    pub calls_max: u64,
    pub prompt_tokens: u64,
    /// `server` when the server's own tokenizer counted every prompt, `estimate` when they
    /// were estimated at four characters a token (a server without a tokenizer).
    pub prompt_tokens_by: &'static str,
    /// Every call of `calls_max` taking the AI config's whole `max_tokens`: the most the
    /// answers can take. (In tool mode `prompt_tokens` counts each decision's first request:
    /// later turns resend it with the tool results.)
    pub completion_tokens_max: u64,
    /// By the AI config's prices; `None` without them.
    pub prompt_money: Option<Money>,
    pub completion_money_max: Option<Money>,
    pub money_max: Option<Money>,
    /// False when the template reads the account: its prompts were rendered for a flat one.
    pub exact: bool,
}

/// Estimates `task` (prepared, not necessarily stored) on `account`: renders every prompt it
/// would send, looks each up in the cache, and counts the rest.
pub async fn estimate_task(
    store: &Arc<dyn Store>,
    task: &Task,
    account: &VirtualAccount,
) -> Result<TaskEstimate> {
    let (Some(prompt_id), Some(config_id)) = (&task.user_prompt_id, &task.ai_config_id) else {
        return Err(EngineError::invalid(
            "strategy",
            "only a task whose strategy is a template with a model can be estimated",
        ));
    };
    let options = TaskOptions::of_task(task)?;
    let content = match &options.template_content {
        Some(content) => content.clone(),
        None => store.get_template(prompt_id).await?.content,
    };
    let config = store.get_ai_config(config_id).await?;
    let settings = account_settings(account);
    let source = ModelSource::with(
        store.clone(),
        task,
        &options,
        (prompt_id, &content),
        &config,
        settings.clone(),
    )
    .await?;
    let CallEstimate {
        decisions,
        cached,
        prompt_tokens,
        counted,
        exact,
    } = source.estimate(&settings, true).await?;
    let calls = decisions - cached;
    let calls_max = calls.saturating_mul(source.calls_per_decision());
    let completion_tokens_max =
        calls_max.saturating_mul(u64::try_from(config.max_tokens).unwrap_or(0));
    let money = |tokens: u64, price: Option<Money>| {
        price.and_then(|price| Money::new(per_million(tokens, price).round_dp(Money::SCALE)).ok())
    };
    let prompt_money = money(prompt_tokens, config.price_input_per_million);
    let completion_money_max = money(completion_tokens_max, config.price_output_per_million);
    let money_max = prompt_money
        .zip(completion_money_max)
        .and_then(|(p, c)| Money::new(p.get() + c.get()).ok());
    Ok(TaskEstimate {
        decisions,
        cached,
        calls,
        calls_max,
        prompt_tokens,
        prompt_tokens_by: if counted && calls > 0 {
            "server"
        } else {
            "estimate"
        },
        completion_tokens_max,
        prompt_money,
        completion_money_max,
        money_max,
        exact,
    })
}
