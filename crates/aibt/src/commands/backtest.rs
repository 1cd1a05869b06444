use std::io::IsTerminal;
use std::sync::Arc;

use aibt_ai::llm::CacheMode;
use aibt_core::broker::AccountSettings;
use aibt_core::time::parse_timestamp;
use aibt_core::{MarketType, Money, Rate, TimeGranularity};
use aibt_data::{find_sample, parse_csv};
use aibt_engine::ai_config::{AiConfigSpec, ApiKey, build_ai_config};
use aibt_engine::task::{TEMPLATE_STRATEGY, account_settings, default_settings, new_account};
use aibt_engine::templates::template_for_content;
use aibt_engine::{
    EngineError, FillRule, RunConfig, RunOutcome, TaskOptions, TaskSpec, Transition, create_task,
    replay, run_task, transition,
};
use aibt_store::{AiConfig, ImportMode, SeriesKey, Store, StoreError, Task};
use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use std::path::Path;

use crate::cli::{AccountArgs, AiTaskArgs, BacktestArgs, CacheArg, ModelArgs};
use crate::commands::task::print_task;

pub async fn run(store: Arc<dyn Store>, args: BacktestArgs) -> Result<()> {
    let spec = match &args.replay {
        Some(source) => replay_spec(store.as_ref(), &args, source).await?,
        None => new_spec(store.as_ref(), &args).await?,
    };
    let task = create_task(store.as_ref(), spec).await?;
    transition(store.as_ref(), &task.task_id, Transition::Start).await?;
    let finished = run_in_foreground(store.clone(), &task.task_id).await?;
    print_task(&finished, args.format)?;
    finish_status(&finished)
}

/// A backtest of a built-in strategy or a template on a series.
async fn new_spec(store: &dyn Store, args: &BacktestArgs) -> Result<TaskSpec> {
    let symbol = args
        .symbol
        .as_deref()
        .ok_or_else(|| anyhow!("--symbol is required"))?;
    let series = ensure_series(
        store,
        symbol,
        args.market,
        args.granularity,
        args.data.as_deref(),
    )
    .await?;
    let account_id = match &args.account.account_id {
        Some(id) => id.clone(),
        None => {
            let base = default_settings(series.market_type, args.account.fractional);
            create_account(store, &args.account, &series, base, args.account.fractional).await?
        }
    };
    let fill: FillRule = args
        .account
        .fill
        .as_deref()
        .unwrap_or("next_open")
        .parse()?;
    let mut options = TaskOptions {
        params: args.params.iter().cloned().collect(),
        fill,
        record_holds: args.record_holds.then_some(true),
        ..TaskOptions::default()
    };
    let (strategy, user_prompt_id, ai_config_id) = match &args.ai.template {
        Some(file) => {
            let (prompt_id, config_id) = ai_strategy(store, &args.ai, file).await?;
            options.cache = match args.ai.cache {
                CacheArg::ReadWrite => CacheMode::ReadWrite,
                CacheArg::ReadOnly => CacheMode::ReadOnly,
                CacheArg::Off => CacheMode::Off,
            };
            options.prefetch = args.ai.prefetch;
            options.blind = args.ai.blind;
            options.window = args.ai.window.unwrap_or(0);
            options.failure_limit = args.ai.failure_limit;
            options.answer_retries = args.ai.answer_retries;
            options.seed = args.ai.seed;
            (
                TEMPLATE_STRATEGY.to_string(),
                Some(prompt_id),
                Some(config_id),
            )
        }
        None => (
            args.strategy
                .clone()
                .unwrap_or_else(|| "builtin:sma-cross".to_string()),
            None,
            None,
        ),
    };
    Ok(TaskSpec {
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
        user_prompt_id,
        ai_config_id,
        options,
    })
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

/// An input error's reason without its field name (the flag is named instead).
fn reason_of(error: EngineError) -> String {
    match error {
        EngineError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// A stored AI config by name, or else by id.
pub async fn find_ai_config(store: &dyn Store, name: &str) -> Result<AiConfig> {
    if let Some(config) = store.find_ai_config_by_name(name).await? {
        return Ok(config);
    }
    match store.get_ai_config(name).await {
        Ok(config) => Ok(config),
        Err(StoreError::NotFound { .. }) => {
            bail!("--ai-config: no AI config is named {name:?} (aibt ai-config list shows them)")
        }
        Err(other) => Err(other.into()),
    }
}

/// The config that `--base-url --model …` describe: stored under a name derived from every
/// setting, so the same flags reuse one row and a resumed task keeps the settings it began
/// with.
async fn inline_ai_config(store: &dyn Store, model: &ModelArgs) -> Result<AiConfig> {
    let mut spec = ai_config_spec("", model)?;
    let fingerprint = aibt_ai::llm::hash_json(&json!({
        "base_url": aibt_engine::ai_config::check_base_url(&spec.base_url).map_err(flag_error)?,
        "key": model.api_key_env,
        "model": spec.model,
        "temperature": spec.temperature.map(|t| t.to_string()),
        "max_tokens": spec.max_tokens,
        "timeout": spec.timeout_seconds,
        "format": spec.response_format.map(|f| f.to_string()),
        "concurrency": spec.max_concurrency,
        "retries": spec.max_retries,
        "cutoff": spec.knowledge_cutoff.map(|d| d.to_string()),
    }));
    spec.name = format!(
        "{} @ {} [{}]",
        spec.model.trim(),
        spec.base_url.trim(),
        &fingerprint[..8]
    );
    if let Some(existing) = store.find_ai_config_by_name(&spec.name).await? {
        return Ok(existing);
    }
    let config = build_ai_config(spec).map_err(flag_error)?;
    store.insert_ai_config(&config).await?;
    Ok(config)
}

/// An AI config spec from the model flags.
pub fn ai_config_spec(name: &str, model: &ModelArgs) -> Result<AiConfigSpec> {
    let base_url = model
        .base_url
        .clone()
        .ok_or_else(|| anyhow!("--base-url is required"))?;
    let model_name = model
        .model
        .clone()
        .ok_or_else(|| anyhow!("--model is required"))?;
    Ok(AiConfigSpec {
        name: name.to_string(),
        base_url,
        api_key: match &model.api_key_env {
            Some(variable) => ApiKey::FromEnv(variable.clone()),
            None => ApiKey::None,
        },
        model: model_name,
        temperature: model
            .temperature
            .as_deref()
            .map(|t| Rate::parse(t).map_err(|e| anyhow!("--temperature: {e}")))
            .transpose()?,
        max_tokens: model.max_tokens,
        timeout_seconds: model.timeout,
        response_format: model.response_format,
        max_concurrency: model.max_concurrency,
        max_retries: model.max_retries,
        knowledge_cutoff: model
            .knowledge_cutoff
            .as_deref()
            .map(|d| {
                NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|e| {
                    anyhow!("--knowledge-cutoff: {d:?} is not a YYYY-MM-DD date ({e})")
                })
            })
            .transpose()?,
    })
}

/// An engine input error as the flag a user typed.
pub fn flag_error(error: EngineError) -> anyhow::Error {
    match error {
        EngineError::Invalid { field, reason } => {
            let flag = match field.as_str() {
                "local_ai_base_url" => "base-url",
                "local_ai_model_name" => "model",
                "local_ai_api_key" => "api-key-env",
                "timeout_seconds" => "timeout",
                "max_tokens" => "max-tokens",
                "max_concurrency" => "max-concurrency",
                "max_retries" => "max-retries",
                other => other,
            };
            anyhow!("--{flag}: {reason}")
        }
        other => other.into(),
    }
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
            create_account(store, &args.account, &series, base, fractional).await?
        }
    };
    let source_options: TaskOptions =
        serde_json::from_value(source.options.clone()).unwrap_or_default();
    let fill = match args.account.fill.as_deref() {
        Some(text) => text.parse()?,
        None => source_options.fill,
    };
    Ok(TaskSpec {
        account_id,
        symbol: source.stock_symbol.clone(),
        market_type: series.market_type,
        granularity: source.time_granularity,
        start: Some(source.start_date),
        end: Some(source.end_date),
        decision_interval: source.decision_interval,
        strategy: format!("{}{}", replay::PREFIX, source.task_id),
        user_prompt_id: source.user_prompt_id.clone(),
        ai_config_id: source.ai_config_id.clone(),
        options: TaskOptions {
            fill,
            blind: source_options.blind,
            ..TaskOptions::default()
        },
    })
}

/// Exits non-zero for a task that did not complete.
pub fn finish_status(task: &Task) -> Result<()> {
    use aibt_core::TaskStatus::*;
    match task.status {
        Completed | CompletedWithErrors => Ok(()),
        Paused => {
            eprintln!(
                "task {} paused; continue it with: aibt task resume {}",
                task.task_id, task.task_id
            );
            Ok(())
        }
        status => bail!(
            "task {} ended {status}{}",
            task.task_id,
            task.error_message
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
}

/// The period bound of a `--start`/`--end` flag; a bare date as `--end` means the whole day.
pub fn parse_date(text: &str, flag: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if end_of_day && let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let next = date
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or_else(|| anyhow!("--{flag}: {text} is out of range"))?;
        return Ok(next.and_utc() - Duration::microseconds(1));
    }
    parse_timestamp(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// Finds the series to trade, importing `--data` or a bundled sample if it is not stored.
pub async fn ensure_series(
    store: &dyn Store,
    wanted: &str,
    market: Option<MarketType>,
    granularity: TimeGranularity,
    data: Option<&Path>,
) -> Result<SeriesKey> {
    let sample = find_sample(wanted, market, granularity);
    let market = market
        .or(sample.map(|s| s.market_type))
        .unwrap_or(MarketType::Us);
    let symbol = match (data, sample) {
        (None, Some(sample)) => sample.symbol.to_string(),
        _ => wanted.to_string(),
    };
    let series = SeriesKey {
        symbol,
        market_type: market,
        granularity,
    };
    if store.series_bounds(&series).await?.is_some() {
        return Ok(series);
    }
    let (name, bars) = match (data, sample) {
        (Some(file), _) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            let bars = parse_csv(&name, &bytes)?;
            (name, bars)
        }
        (None, Some(sample)) => (format!("bundled sample {}", sample.file), sample.bars()?),
        (None, None) => bail!(
            "no bars stored for {series}: import a CSV (aibt data import FILE --symbol {} --market {} --granularity {}) \
             or pass --data FILE; bundled samples are listed by aibt data list --samples",
            series.symbol,
            series.market_type,
            series.granularity
        ),
    };
    let outcome = store
        .import_bars(&series, &bars, ImportMode::RefuseChanges)
        .await?;
    eprintln!("imported {} bars of {series} from {name}", outcome.inserted);
    Ok(series)
}

fn rate(text: &str, flag: &str) -> Result<Rate> {
    Rate::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// `base` with the account flags that were given applied, checked field by field.
pub fn account_settings_from(
    args: &AccountArgs,
    mut settings: AccountSettings,
    fractional: bool,
) -> Result<AccountSettings> {
    if let Some(cash) = &args.cash {
        settings.initial_balance = Money::parse(cash).map_err(|e| anyhow!("--cash: {e}"))?;
    }
    if let Some(commission) = &args.commission {
        let commission = rate(commission, "commission")?;
        settings.commission_rate_buy = commission;
        settings.commission_rate_sell = commission;
    }
    if let Some(text) = &args.commission_buy {
        settings.commission_rate_buy = rate(text, "commission-buy")?;
    }
    if let Some(text) = &args.commission_sell {
        settings.commission_rate_sell = rate(text, "commission-sell")?;
    }
    if let Some(text) = &args.tax {
        settings.tax_rate = rate(text, "tax")?;
    }
    if let Some(text) = &args.min_commission {
        settings.min_commission =
            Money::parse(text).map_err(|e| anyhow!("--min-commission: {e}"))?;
    }
    if let Some(text) = &args.short_margin {
        settings.short_margin_ratio = rate(text, "short-margin")?;
    }
    settings.whole_units = settings.market_type.whole_units_by_default() && !fractional;
    if let Err(error) = settings.validate() {
        let flag = match error.field {
            "initial_balance" => "cash",
            "commission_rate_buy" => "commission-buy",
            "commission_rate_sell" => "commission-sell",
            "tax_rate" => "tax",
            "min_commission" => "min-commission",
            "short_margin_ratio" => "short-margin",
            other => other,
        };
        bail!("--{flag}: {}", error.reason);
    }
    Ok(settings)
}

async fn create_account(
    store: &dyn Store,
    args: &AccountArgs,
    series: &SeriesKey,
    base: AccountSettings,
    fractional: bool,
) -> Result<String> {
    let settings = account_settings_from(args, base, fractional)?;
    let account_id = aibt_store::new_id();
    store
        .insert_account(&new_account(
            &account_id,
            &series.symbol,
            &settings,
            fractional,
        ))
        .await?;
    Ok(account_id)
}

/// Claims a RUNNING task for this process and runs it to its end with a progress bar on a
/// terminal. Ctrl-C pauses the task instead of leaving it half-run.
pub async fn run_in_foreground(store: Arc<dyn Store>, task_id: &str) -> Result<Task> {
    let config = RunConfig::new(format!(
        "cli-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7()
    ));
    let now = aibt_core::time::now();
    let claimed = store
        .claim_task(
            &config.worker_id,
            aibt_store::ClaimFilter::task(task_id),
            now,
            now + config.lease,
        )
        .await?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} decisions  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let Some(claimed) = claimed else {
        // A worker on the same database (aibt serve, aibt worker) took the task first: it
        // runs there, and this command follows it.
        return follow(store, task_id, &bar).await;
    };
    let mut report = |progress: &aibt_engine::Progress| {
        bar.set_length(progress.total_items);
        bar.set_position(progress.processed_items);
        bar.set_message(format!(
            "bar {}/{}",
            progress.bars_done, progress.bars_total
        ));
    };
    let run = run_task(store.clone(), claimed, &config, &mut report);
    tokio::pin!(run);
    let outcome = tokio::select! {
        outcome = &mut run => outcome?,
        _ = tokio::signal::ctrl_c() => {
            bar.suspend(|| eprintln!("interrupted: pausing task {task_id} after the step in progress"));
            let _ = transition(store.as_ref(), task_id, Transition::Pause).await;
            run.await?
        }
    };
    bar.finish_and_clear();
    Ok(match outcome {
        RunOutcome::Finished(task) => *task,
        RunOutcome::Stopped { .. } => store.get_task(task_id).await?,
    })
}

/// Shows the progress of a task another process runs, until it stops running. Ctrl-C pauses
/// it there too.
async fn follow(
    store: Arc<dyn Store>,
    task_id: &str,
    bar: &indicatif::ProgressBar,
) -> Result<Task> {
    let task = store.get_task(task_id).await?;
    if task.status != aibt_core::TaskStatus::Running {
        bar.finish_and_clear();
        return Ok(task);
    }
    bar.suspend(|| {
        eprintln!(
            "task {task_id} is run by worker {}; following it",
            task.lease_owner.as_deref().unwrap_or("?")
        )
    });
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => {
                bar.suspend(|| eprintln!("interrupted: pausing task {task_id}"));
                let _ = transition(store.as_ref(), task_id, Transition::Pause).await;
            }
        }
        let task = store.get_task(task_id).await?;
        bar.set_length(u64::try_from(task.total_items.unwrap_or(0)).unwrap_or(0));
        bar.set_position(u64::try_from(task.processed_items).unwrap_or(0));
        if task.status != aibt_core::TaskStatus::Running {
            bar.finish_and_clear();
            return Ok(task);
        }
    }
}
