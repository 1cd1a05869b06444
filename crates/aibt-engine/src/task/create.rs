//! Creating a task: everything it needs is checked before it is stored PENDING with its run
//! account, a fresh copy of the user's account.

use aibt_core::{MarketType, TimeGranularity};
use aibt_store::{BarRange, NewTask, SeriesKey, Store, Task, VirtualAccount};
use chrono::{DateTime, Utc};

use super::options::TaskOptions;
use crate::accounts::{account_settings, new_account, run_account_id};
use crate::budget::{Budget, Prices};
use crate::error::{EngineError, Result};
use crate::strategy::StrategyRef;

/// What a user asks for when creating a task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The user's account whose cash and fees the task copies.
    pub account_id: String,
    pub symbol: String,
    pub market_type: MarketType,
    pub granularity: TimeGranularity,
    /// First and last bar time of the period; the whole stored series when absent.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub decision_interval: i64,
    pub strategy: StrategyRef,
    /// How it runs. A built-in rule's parameters are the strategy's, not these `params`.
    pub options: TaskOptions,
}

/// Checks a spec against the stored account and series and creates the task (PENDING) with
/// its run account.
pub async fn create_task(store: &dyn Store, spec: TaskSpec) -> Result<Task> {
    let (task, run_account) = prepare_task(store, spec).await?;
    store.create_task(&task, &run_account).await?;
    Ok(task)
}

/// Checks a spec and builds the task (PENDING) and its run account, a fresh copy of the user's
/// account, without storing them (an experiment stores all of its tasks at once).
pub async fn prepare_task(store: &dyn Store, spec: TaskSpec) -> Result<(Task, VirtualAccount)> {
    let account = store.get_account(&spec.account_id).await?;
    prepare_task_on(store, spec, account).await
}

/// [`prepare_task`] on `account`, which need not be stored (an estimate runs on the account
/// its flags describe without keeping it).
pub async fn prepare_task_on(
    store: &dyn Store,
    spec: TaskSpec,
    account: VirtualAccount,
) -> Result<(Task, VirtualAccount)> {
    if spec.decision_interval < 1 {
        return Err(EngineError::invalid(
            "decision_interval",
            format!("must be at least 1, got {}", spec.decision_interval),
        ));
    }
    let symbol = spec.symbol.trim().to_string();
    if symbol.is_empty() {
        return Err(EngineError::invalid("stock_symbol", "must not be empty"));
    }
    if account.task_id.is_some() {
        return Err(EngineError::invalid(
            "account_id",
            format!(
                "{} is the run account of a task; choose a user account",
                account.account_id
            ),
        ));
    }
    if account.market_type != spec.market_type {
        return Err(EngineError::invalid(
            "account_id",
            format!(
                "account {} trades {} but the task's market is {}",
                account.account_id, account.market_type, spec.market_type
            ),
        ));
    }
    account_settings(&account).validate()?;
    let mut options = spec.options;
    options.params = spec.strategy.params().cloned().unwrap_or_default();
    let checked = check_strategy(store, &spec.strategy).await?;
    options.template_content = checked.template_content;
    if let Some(limit) = options.max_tool_calls
        && !(1..=aibt_ai::tools::MAX_TOOL_LIMIT).contains(&limit)
    {
        return Err(EngineError::invalid(
            "options.max_tool_calls",
            format!("{limit} is outside 1..={}", aibt_ai::tools::MAX_TOOL_LIMIT),
        ));
    }
    options.budget = options.budget.filter(|budget| !budget.is_empty());
    if let Some(budget) = &options.budget {
        check_budget(store, &spec.strategy, budget, "options.budget").await?;
    }

    let series = SeriesKey {
        symbol: symbol.clone(),
        market_type: spec.market_type,
        granularity: spec.granularity,
    };
    let (start, end) = period(store, &series, spec.start, spec.end).await?;

    let task_id = aibt_store::new_id();
    let mut task = Task::pending(
        NewTask {
            task_id: task_id.clone(),
            account_id: account.account_id.clone(),
            series: &series,
            period: (start, end),
            decision_interval: spec.decision_interval,
            strategy: spec.strategy.column(),
            options: serde_json::to_value(&options)
                .map_err(|e| EngineError::invalid("options", e.to_string()))?,
        },
        aibt_core::time::now(),
    );
    task.user_prompt_id = checked.user_prompt_id;
    task.ai_config_id = checked.ai_config_id;
    let mut run_account = new_account(
        &run_account_id(&task_id),
        &symbol,
        &account_settings(&account),
        account.allow_fractional_shares,
    );
    run_account.task_id = Some(task_id);
    Ok((task, run_account))
}

/// The period of a task within its stored series: the given bounds, or the series' own, with
/// at least one bar between them.
async fn period(
    store: &dyn Store,
    series: &SeriesKey,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (first, last) = store.series_bounds(series).await?.ok_or_else(|| {
        EngineError::invalid(
            "stock_symbol",
            format!("no bars stored for {series}; import them first (aibt data import)"),
        )
    })?;
    let start = start.unwrap_or(first);
    let end = end.unwrap_or(last);
    if start > end {
        return Err(EngineError::invalid(
            "start_date",
            format!("{start} is after end_date {end}"),
        ));
    }
    let any = store
        .bars(
            series,
            BarRange {
                from: Some(start),
                to: Some(end),
                after: None,
                limit: Some(1),
            },
        )
        .await?;
    if any.is_empty() {
        let time = aibt_core::time::format_timestamp;
        return Err(EngineError::invalid(
            "start_date",
            format!(
                "no bars of {series} between {} and {} (stored: {} .. {})",
                time(start),
                time(end),
                time(first),
                time(last)
            ),
        ));
    }
    Ok((start, end))
}

/// Checks that `budget` can be kept on `strategy`: it calls a model, and a budget in money has
/// the AI config's prices to count by. `field` names the budget in the error.
pub async fn check_budget(
    store: &dyn Store,
    strategy: &StrategyRef,
    budget: &Budget,
    field: &str,
) -> Result<()> {
    let StrategyRef::Template { ai_config_id, .. } = strategy else {
        return Err(EngineError::invalid(
            field,
            format!(
                "{} calls no model, so there is nothing to budget",
                strategy.label()
            ),
        ));
    };
    let config = store.get_ai_config(ai_config_id).await?;
    budget.check(field, Prices::of(&config), &config.name)
}

/// What a checked strategy puts in the task's columns.
struct CheckedStrategy {
    user_prompt_id: Option<String>,
    ai_config_id: Option<String>,
    template_content: Option<String>,
}

/// Checks that the strategy can run: a rule and its parameters, an available template that
/// renders and an AI config whose key opens, or a finished task to replay (whose template
/// and AI config the replay names too).
async fn check_strategy(store: &dyn Store, strategy: &StrategyRef) -> Result<CheckedStrategy> {
    match strategy {
        StrategyRef::Builtin { params, .. } => {
            aibt_ai::builtin_strategy(&strategy.column(), params)?;
            Ok(CheckedStrategy {
                user_prompt_id: None,
                ai_config_id: None,
                template_content: None,
            })
        }
        StrategyRef::Template {
            prompt_id,
            ai_config_id,
        } => {
            let template = store.get_template(prompt_id).await?;
            if !crate::templates::runnable(&template) {
                return Err(EngineError::invalid(
                    "user_prompt_id",
                    format!("template {prompt_id} is {}", template.status),
                ));
            }
            aibt_ai::template::check_template(&template.content).map_err(|e| {
                EngineError::invalid("user_prompt_id", format!("template {prompt_id}: {e}"))
            })?;
            let config = store.get_ai_config(ai_config_id).await?;
            crate::ai_config::client_settings(&config, None)?;
            Ok(CheckedStrategy {
                user_prompt_id: Some(prompt_id.clone()),
                ai_config_id: Some(ai_config_id.clone()),
                template_content: Some(template.content),
            })
        }
        StrategyRef::Replay { task_id } => {
            let source = store.get_task(task_id).await?;
            if !source.status.is_completed() {
                return Err(EngineError::invalid(
                    "strategy",
                    format!(
                        "task {} is {}; only a finished task can be replayed",
                        source.task_id, source.status
                    ),
                ));
            }
            Ok(CheckedStrategy {
                user_prompt_id: source.user_prompt_id,
                ai_config_id: source.ai_config_id,
                template_content: None,
            })
        }
    }
}
