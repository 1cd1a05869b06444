//! `aibt backtest`: creates a task from the flags (a built-in rule, a template with a model, or
//! a replay of a finished task), runs it here to its end and prints its statistics.

use std::path::Path;
use std::sync::Arc;

use aibt_ai::llm::CacheMode;
use aibt_core::FillRule;
use aibt_engine::accounts::{
    account_settings, apply_changes, create_account, default_settings, new_account,
};
use aibt_engine::budget::Budget;
use aibt_engine::task::{estimate_task, prepare_task_on};
use aibt_engine::templates::template_for_content;
use aibt_engine::{StrategyRef, TaskOptions, TaskSpec, Transition, create_task, transition};
use aibt_store::{AiConfig, SeriesKey, Store, VirtualAccount};
use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{AccountArgs, AiTaskArgs, BacktestArgs, CacheArg, ModelArgs};
use crate::flags::{
    account_changes, ai_config_spec, find_ai_config, flag_error, parse_date, reason_of, series,
};
use crate::foreground::{finish_status, run_in_foreground};
use crate::print::{print_estimate, print_task};

pub async fn run(store: Arc<dyn Store>, args: BacktestArgs) -> Result<()> {
    if args.ai.estimate {
        return estimate(store, &args).await;
    }
    let spec = match &args.replay {
        Some(source) => replay_spec(store.as_ref(), &args, source).await?,
        None => new_spec(store.as_ref(), &args, AccountUse::Store).await?.0,
    };
    let task = create_task(store.as_ref(), spec).await?;
    transition(store.as_ref(), &task.task_id, Transition::Start).await?;
    let finished = run_in_foreground(store.clone(), &task.task_id).await?;
    print_task(&finished, args.format)?;
    finish_status(&finished)
}

fn fill_rule(account: &AccountArgs) -> Result<Option<FillRule>> {
    account
        .fill
        .as_deref()
        .map(|text| text.parse().map_err(|e| anyhow!("--fill: {e}")))
        .transpose()
}

/// `--estimate`: what the run would ask of its model, on the account its flags describe,
/// storing neither the task nor the account.
async fn estimate(store: Arc<dyn Store>, args: &BacktestArgs) -> Result<()> {
    if args.replay.is_some() {
        bail!("--estimate: a replay makes no call to estimate");
    }
    let (spec, account) = new_spec(store.as_ref(), args, AccountUse::Describe).await?;
    let account = match account {
        Some(account) => account,
        None => store.get_account(&spec.account_id).await?,
    };
    let (task, run_account) = prepare_task_on(store.as_ref(), spec, account)
        .await
        .map_err(flag_error)?;
    let estimate = estimate_task(&store, &task, &run_account)
        .await
        .map_err(flag_error)?;
    print_estimate(&estimate, args.format)
}

/// Whether a backtest's new account is stored, or only described (an estimate).
#[derive(Clone, Copy, PartialEq, Eq)]
enum AccountUse {
    Store,
    Describe,
}

/// A backtest of a built-in strategy or a template on a series, and the account it describes
/// when that account is not stored.
async fn new_spec(
    store: &dyn Store,
    args: &BacktestArgs,
    account_use: AccountUse,
) -> Result<(TaskSpec, Option<VirtualAccount>)> {
    let symbol = args
        .symbol
        .as_deref()
        .ok_or_else(|| anyhow!("--symbol is required"))?;
    let series = series(
        store,
        symbol,
        args.market,
        args.granularity,
        args.data.as_deref(),
    )
    .await?;
    let mut described = None;
    let account_id = match (&args.account.account_id, account_use) {
        (Some(id), _) => id.clone(),
        (None, AccountUse::Store) => {
            let base = default_settings(series.market_type, args.account.fractional);
            new_user_account(store, &args.account, &series, base, args.account.fractional).await?
        }
        (None, AccountUse::Describe) => {
            let base = default_settings(series.market_type, args.account.fractional);
            let account = user_account(&args.account, &series, base, args.account.fractional)?;
            let id = account.account_id.clone();
            described = Some(account);
            id
        }
    };
    let mut options = TaskOptions {
        fill: fill_rule(&args.account)?.unwrap_or_default(),
        record_holds: args.record_holds.then_some(true),
        close_at_end: args.close_at_end,
        ..TaskOptions::default()
    };
    let strategy = match &args.ai.template {
        Some(file) => {
            let (prompt_id, ai_config_id) = ai_strategy(store, &args.ai, file).await?;
            options.cache = match args.ai.cache {
                CacheArg::ReadWrite => CacheMode::ReadWrite,
                CacheArg::ReadOnly => CacheMode::ReadOnly,
                CacheArg::Off => CacheMode::Off,
            };
            options.prefetch = args.ai.prefetch;
            options.blind = args.ai.blind;
            options.window = args.ai.window.unwrap_or(0);
            options.failure_limit = args.ai.failure_limit;
            options.budget = Some(Budget::parse(&args.ai.budget, "budget").map_err(flag_error)?);
            options.answer_retries = args.ai.answer_retries;
            options.decision_mode = args.ai.decision_mode;
            options.max_tool_calls = args.ai.max_tool_calls;
            options.seed = args.ai.seed;
            StrategyRef::Template {
                prompt_id,
                ai_config_id,
            }
        }
        None => StrategyRef::parse(
            args.strategy.as_deref().unwrap_or("builtin:sma-cross"),
            None,
            None,
            args.params.iter().cloned().collect(),
        )?,
    };
    let spec = TaskSpec {
        account_id,
        symbol: series.symbol.clone(),
        market_type: series.market_type,
        granularity: series.granularity,
        start: args
            .start
            .as_deref()
            .map(|s| parse_date(s, "start", false))
            .transpose()?,
        end: args
            .end
            .as_deref()
            .map(|s| parse_date(s, "end", true))
            .transpose()?,
        decision_interval: args.interval,
        strategy,
        options,
    };
    Ok((spec, described))
}

/// The template (stored under its content's id) and the AI config of a model backtest.
async fn ai_strategy(store: &dyn Store, ai: &AiTaskArgs, file: &Path) -> Result<(String, String)> {
    let content = std::fs::read_to_string(file)
        .with_context(|| format!("--template: reading {}", file.display()))?;
    let template = template_for_content(store, &content, Some(file.display().to_string()))
        .await
        .map_err(|e| anyhow!("--template {}: {}", file.display(), reason_of(e)))?;
    let config = match (&ai.ai_config, &ai.model.base_url) {
        (Some(name), _) => find_ai_config(store, name).await?,
        (None, Some(_)) => inline_ai_config(store, &ai.model).await?,
        (None, None) => bail!(
            "--template needs a model: --ai-config NAME (see aibt ai-config add) or --base-url URL --model NAME"
        ),
    };
    Ok((template.prompt_id, config.config_id))
}

/// The config that `--base-url --model …` describe, stored once under a name derived from
/// every setting.
async fn inline_ai_config(store: &dyn Store, model: &ModelArgs) -> Result<AiConfig> {
    aibt_engine::ai_config::inline_ai_config(Some(store), ai_config_spec("", model)?)
        .await
        .map_err(flag_error)
}

/// A replay of a finished task: its series, period, interval and recorded decisions, on an
/// account with the flags given here and the source's settings for the rest.
async fn replay_spec(store: &dyn Store, args: &BacktestArgs, source_id: &str) -> Result<TaskSpec> {
    let source = store
        .get_task(source_id)
        .await
        .map_err(|e| anyhow!("--replay: {e}"))?;
    let source_account = store.get_task_account(source_id).await?;
    let fractional = args.account.fractional || source_account.allow_fractional_shares;
    let series = SeriesKey {
        symbol: source.stock_symbol.clone(),
        market_type: source_account.market_type,
        granularity: source.time_granularity,
    };
    let account_id = match &args.account.account_id {
        Some(id) => id.clone(),
        None => {
            let base = account_settings(&source_account);
            new_user_account(store, &args.account, &series, base, fractional).await?
        }
    };
    let source_options = TaskOptions::of_task(&source).unwrap_or_default();
    Ok(TaskSpec {
        account_id,
        symbol: source.stock_symbol.clone(),
        market_type: series.market_type,
        granularity: source.time_granularity,
        start: Some(source.start_date),
        end: Some(source.end_date),
        decision_interval: source.decision_interval,
        strategy: StrategyRef::Replay {
            task_id: source.task_id.clone(),
        },
        options: TaskOptions {
            fill: fill_rule(&args.account)?.unwrap_or(source_options.fill),
            blind: source_options.blind,
            close_at_end: args.close_at_end || source_options.close_at_end,
            ..TaskOptions::default()
        },
    })
}

/// A user account for this backtest: `base` with the account flags applied.
async fn new_user_account(
    store: &dyn Store,
    args: &AccountArgs,
    series: &SeriesKey,
    base: aibt_core::AccountSettings,
    fractional: bool,
) -> Result<String> {
    let mut changes = account_changes(args, fractional)?;
    changes.stock_symbol = Some(series.symbol.clone());
    let account = create_account(store, base, &changes)
        .await
        .map_err(flag_error)?;
    Ok(account.account_id)
}

/// The account [`new_user_account`] would store, not stored.
fn user_account(
    args: &AccountArgs,
    series: &SeriesKey,
    base: aibt_core::AccountSettings,
    fractional: bool,
) -> Result<VirtualAccount> {
    let changes = account_changes(args, fractional)?;
    let settings = apply_changes(base, fractional, &changes).map_err(flag_error)?;
    Ok(new_account(
        &aibt_store::new_id(),
        &series.symbol,
        &settings,
        fractional,
    ))
}
