//! From a spec to the grid of runs: every strategy (each repeat, each blind twin) and every
//! baseline on every series in every period, resolved against the store (series imported on
//! first use, templates and AI configs found) and checked before anything is created.

use std::sync::Arc;

use aibt_core::broker::AccountSettings;
use aibt_core::{Money, Rate, TimeGranularity};
use aibt_store::{AiConfig, NewTask, RunRole, SeriesKey, Store, Task};
use serde::Serialize;

use super::budget::{decisions_in, shares};
use super::spec::{AccountSpec, ExperimentSpec, Period, Split, StrategySpec};
use crate::accounts::{AccountChanges, apply_changes, default_settings};
use crate::ai_config::{AiConfigSpec, ApiKey, find_ai_config, inline_ai_config};
use crate::budget::{Budget, Prices, per_million};
use crate::error::{EngineError, Result};
use crate::model::{CallEstimate, ModelSource};
use crate::series::ensure_series;
use crate::strategy::StrategyRef;
use crate::task::TaskOptions;

/// What a run's decisions come from.
#[derive(Debug, Clone)]
pub enum PlannedStrategy {
    Builtin {
        name: String,
        params: aibt_ai::StrategyParams,
    },
    Model {
        /// The template's text (stored under its content's id when the experiment is created).
        template: String,
        config: Box<AiConfig>,
        /// Whether the config was given inline (and is stored when the experiment is created).
        inline: bool,
    },
}

/// One task of the grid.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub variant: String,
    pub role: RunRole,
    pub series: SeriesKey,
    pub period: Period,
    pub repeat_index: u32,
    pub blind: bool,
    pub strategy: PlannedStrategy,
    pub options: TaskOptions,
}

/// The resolved grid.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: ExperimentSpec,
    pub splits: Vec<Split>,
    pub runs: Vec<PlannedRun>,
    pub account: AccountChanges,
}

fn decimal<T>(
    text: &Option<String>,
    field: &str,
    parse: fn(&str) -> std::result::Result<T, aibt_core::DecimalError>,
) -> Result<Option<T>> {
    text.as_deref()
        .map(|t| {
            parse(t.trim())
                .map_err(|e| EngineError::invalid(format!("spec.account.{field}"), e.to_string()))
        })
        .transpose()
}

/// The account changes a spec's `[account]` asks for, checked against the defaults.
fn account_changes(account: &AccountSpec) -> Result<AccountChanges> {
    let commission = decimal(&account.commission, "commission", Rate::parse)?;
    let changes = AccountChanges {
        initial_balance: decimal(&account.cash, "cash", Money::parse)?,
        commission_rate_buy: decimal(&account.commission_buy, "commission_buy", Rate::parse)?
            .or(commission),
        commission_rate_sell: decimal(&account.commission_sell, "commission_sell", Rate::parse)?
            .or(commission),
        tax_rate: decimal(&account.tax, "tax", Rate::parse)?,
        min_commission: decimal(&account.min_commission, "min_commission", Money::parse)?,
        short_margin_ratio: decimal(&account.short_margin, "short_margin", Rate::parse)?,
        slippage: decimal(&account.slippage, "slippage", Rate::parse)?,
        borrow_rate: decimal(&account.borrow_rate, "borrow_rate", Rate::parse)?,
        allow_fractional_shares: Some(account.fractional),
        stock_symbol: None,
    };
    apply_changes(
        default_settings(aibt_core::MarketType::Us, account.fractional),
        account.fractional,
        &changes,
    )
    .map_err(|error| match error {
        EngineError::Invalid { field, reason } => {
            EngineError::invalid(format!("spec.account.{field}"), reason)
        }
        other => other,
    })?;
    Ok(changes)
}

/// The seed a repeat sends: derived from the experiment's seed, the strategy and the repeat, so
/// a repeat is itself reproducible and no two repeats share one.
pub fn repeat_seed(seed: u64, strategy: &str, repeat: u32) -> u64 {
    let hash = aibt_ai::llm::hash_json(&serde_json::json!([seed, strategy, repeat]));
    u64::from_str_radix(&hash[..16], 16).unwrap_or(seed)
}

/// Where a strategy's model decisions come from, found in the store (or built from the spec).
async fn model_of(
    store: &dyn Store,
    strategy: &StrategySpec,
    field: &str,
) -> Result<(String, AiConfig, bool)> {
    let template = match (
        &strategy.template_content,
        &strategy.user_prompt_id,
        &strategy.template,
    ) {
        (Some(content), _, _) => content.clone(),
        (None, Some(id), _) => {
            let stored = store.get_template(id).await?;
            if !crate::templates::runnable(&stored) {
                return Err(EngineError::invalid(
                    format!("{field}.user_prompt_id"),
                    format!("template {id} is {}", stored.status),
                ));
            }
            stored.content
        }
        (None, None, Some(file)) => {
            return Err(EngineError::invalid(
                format!("{field}.template"),
                format!(
                    "{file}: a template file is read by the command line; give template_content"
                ),
            ));
        }
        (None, None, None) => {
            return Err(EngineError::invalid(format!("{field}.template"), "missing"));
        }
    };
    aibt_ai::template::check_template(&template)
        .map_err(|e| EngineError::invalid(format!("{field}.template"), e.to_string()))?;
    let (config, inline) = match (&strategy.ai_config, &strategy.base_url, &strategy.model) {
        (Some(name), _, _) => (
            find_ai_config(store, name).await.map_err(|e| match e {
                EngineError::Invalid { reason, .. } => {
                    EngineError::invalid(format!("{field}.ai_config"), reason)
                }
                other => other,
            })?,
            false,
        ),
        (None, Some(base_url), Some(model)) => {
            let spec = AiConfigSpec {
                name: String::new(),
                base_url: base_url.clone(),
                api_key: match &strategy.api_key_env {
                    Some(variable) => ApiKey::FromEnv(variable.clone()),
                    None => ApiKey::None,
                },
                model: model.clone(),
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
            };
            let config = inline_ai_config(None, spec).await.map_err(|e| match e {
                EngineError::Invalid { field: f, reason } => {
                    EngineError::invalid(format!("{field}.{f}"), reason)
                }
                other => other,
            })?;
            (config, true)
        }
        _ => {
            return Err(EngineError::invalid(
                format!("{field}.ai_config"),
                "a template needs a model",
            ));
        }
    };
    crate::ai_config::client_settings(&config, None)?;
    Ok((template, config, inline))
}

/// Resolves and checks a spec. Writes nothing but bundled series imported on first use.
pub async fn plan(store: &dyn Store, spec: &ExperimentSpec) -> Result<Plan> {
    let (periods, splits) = spec.periods()?;
    let account = account_changes(&spec.account)?;
    let mut series = Vec::new();
    for (i, wanted) in spec.series.iter().enumerate() {
        let granularity = wanted.granularity.unwrap_or(TimeGranularity::Daily);
        let (key, _) = ensure_series(store, &wanted.symbol, wanted.market, granularity, None)
            .await
            .map_err(|e| match e {
                EngineError::Invalid { reason, .. } => {
                    EngineError::invalid(format!("spec.series[{i}].symbol"), reason)
                }
                other => other,
            })?;
        series.push(key);
    }
    let mut runs = Vec::new();
    for (i, strategy) in spec.strategies.iter().enumerate() {
        let field = format!("spec.strategies[{i}]");
        let planned = match &strategy.builtin {
            Some(name) => {
                let params = strategy.params_text();
                let column = StrategyRef::builtin(name, params.clone()).column();
                aibt_ai::builtin_strategy(&column, &params)
                    .map_err(|e| EngineError::invalid(format!("{field}.builtin"), e.to_string()))?;
                PlannedStrategy::Builtin {
                    name: name.clone(),
                    params,
                }
            }
            None => {
                let (template, config, inline) = model_of(store, strategy, &field).await?;
                PlannedStrategy::Model {
                    template,
                    config: Box::new(config),
                    inline,
                }
            }
        };
        let temperature = strategy
            .temperature
            .as_deref()
            .map(|t| {
                Rate::parse(t.trim()).map_err(|e| {
                    EngineError::invalid(format!("{field}.temperature"), e.to_string())
                })
            })
            .transpose()?;
        let twins: &[bool] = if strategy.blind_twin {
            &[false, true]
        } else {
            &[false]
        };
        for key in &series {
            for period in &periods {
                for repeat in 0..strategy.repeats() {
                    for &blind in twins {
                        let mut options = TaskOptions {
                            fill: spec.fill,
                            ..TaskOptions::default()
                        };
                        if strategy.uses_model() {
                            options.blind = blind;
                            options.seed = Some(repeat_seed(spec.seed, &strategy.name, repeat));
                            options.temperature = temperature;
                            options.window = strategy.window.unwrap_or(0);
                            options.prefetch = strategy.prefetch.unwrap_or(1);
                        }
                        runs.push(PlannedRun {
                            variant: strategy.name.clone(),
                            role: RunRole::Strategy,
                            series: key.clone(),
                            period: period.clone(),
                            repeat_index: repeat,
                            blind,
                            strategy: planned.clone(),
                            options,
                        });
                    }
                }
            }
        }
    }
    if let Some(budget) = spec.budget.as_ref().filter(|b| !b.is_empty()) {
        split_budget(store, spec, budget, &mut runs).await?;
    }
    // Buy-and-hold (the benchmark) and always-hold (cash) run on every series and period.
    for key in &series {
        for period in &periods {
            for baseline in ["buy-and-hold", "always-hold"] {
                runs.push(PlannedRun {
                    variant: baseline.to_string(),
                    role: RunRole::Baseline,
                    series: key.clone(),
                    period: period.clone(),
                    repeat_index: 0,
                    blind: false,
                    strategy: PlannedStrategy::Builtin {
                        name: baseline.to_string(),
                        params: Default::default(),
                    },
                    options: TaskOptions {
                        fill: spec.fill,
                        ..TaskOptions::default()
                    },
                });
            }
        }
    }
    Ok(Plan {
        spec: spec.clone(),
        splits,
        runs,
        account,
    })
}

/// Gives each model run its share of the experiment's budget, refusing a budget in money
/// that a model's AI config has no prices to count by.
async fn split_budget(
    store: &dyn Store,
    spec: &ExperimentSpec,
    budget: &Budget,
    runs: &mut [PlannedRun],
) -> Result<()> {
    let mut decisions = Vec::new();
    for run in runs.iter() {
        if let PlannedStrategy::Model { config, .. } = &run.strategy {
            budget.check("spec.budget", Prices::of(config), &config.name)?;
            decisions.push(
                decisions_in(
                    store,
                    &run.series,
                    (run.period.start, run.period.end),
                    spec.decision_interval,
                )
                .await?,
            );
        }
    }
    let mut shares = shares(budget, &decisions)?.into_iter();
    for run in runs.iter_mut() {
        if matches!(run.strategy, PlannedStrategy::Model { .. }) {
            run.options.budget = shares.next();
        }
    }
    Ok(())
}

/// A task as the run would have it, for estimating a run before it exists.
fn planned_task(run: &PlannedRun, interval: i64) -> Task {
    Task::pending(
        NewTask {
            task_id: "plan".into(),
            account_id: "plan".into(),
            series: &run.series,
            period: (run.period.start, run.period.end),
            decision_interval: interval,
            strategy: String::new(),
            options: serde_json::Value::Null,
        },
        aibt_core::time::now(),
    )
}

/// What a plan would do, before anything runs or is paid for.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanSummary {
    pub tasks: usize,
    pub model_tasks: usize,
    /// Decisions of the model tasks.
    pub model_decisions: u64,
    /// Of those, answered by the cache already.
    pub cached: u64,
    /// Calls still to make (model decisions not in the cache).
    pub calls: u64,
    /// Prompt tokens of those calls (about four characters a token).
    pub prompt_tokens: u64,
    /// What the prompts cost by the AI configs' prices, and at most what the answers cost
    /// (each answer up to its config's max_tokens); none when a config has no price.
    pub prompt_money: Option<String>,
    pub completion_money_max: Option<String>,
    /// False when a template reads the account: its prompts were rendered for a flat one.
    pub exact: bool,
    /// The experiment's budget, split among its model tasks by their decisions.
    pub budget: Option<Budget>,
    pub notes: Vec<String>,
}

/// Counts what a plan would ask of its models.
pub async fn estimate(store: &Arc<dyn Store>, plan: &Plan) -> Result<PlanSummary> {
    let mut summary = PlanSummary {
        tasks: plan.runs.len(),
        exact: true,
        ..PlanSummary::default()
    };
    let mut prompt_money = Some(aibt_core::Decimal::ZERO);
    let mut completion_money = Some(aibt_core::Decimal::ZERO);
    let mut max_answer_tokens = 0u64;
    for run in &plan.runs {
        let PlannedStrategy::Model {
            template, config, ..
        } = &run.strategy
        else {
            continue;
        };
        summary.model_tasks += 1;
        let settings = source_settings(run, plan)?;
        let source = ModelSource::with(
            store.clone(),
            &planned_task(run, plan.spec.decision_interval),
            &run.options,
            ("spec", template),
            config,
            settings.clone(),
        )
        .await?;
        let CallEstimate {
            decisions,
            cached,
            prompt_tokens,
            exact,
            ..
        } = source.estimate(&settings, false).await?;
        summary.model_decisions += decisions;
        summary.cached += cached;
        summary.calls += decisions - cached;
        summary.prompt_tokens += prompt_tokens;
        summary.exact &= exact;
        // Each answer may take up to its config's max_tokens.
        let answer_tokens = (decisions - cached) * u64::try_from(config.max_tokens).unwrap_or(0);
        max_answer_tokens += answer_tokens;
        prompt_money = prompt_money
            .zip(config.price_input_per_million)
            .map(|(total, price)| total + per_million(prompt_tokens, price));
        completion_money = completion_money
            .zip(config.price_output_per_million)
            .map(|(total, price)| total + per_million(answer_tokens, price));
    }
    let money = |total: Option<aibt_core::Decimal>| {
        total
            .and_then(|t| Money::new(t).ok())
            .map(|m| m.to_string())
    };
    summary.prompt_money = money(prompt_money);
    summary.completion_money_max = money(completion_money);
    summary.notes = super::compute::notes(&plan.spec);
    if let Some(budget) = &plan.spec.budget {
        summary.budget = Some(budget.clone());
        let most_tokens = summary.prompt_tokens + max_answer_tokens;
        let most_money = prompt_money.zip(completion_money).map(|(p, c)| p + c);
        let short = budget.tokens.is_some_and(|limit| most_tokens > limit)
            || budget
                .money
                .zip(most_money)
                .is_some_and(|(limit, most)| most > limit.get());
        if short {
            summary.notes.push(format!(
                "the budget may pause the experiment before its end: its calls may take up to {most_tokens} tokens{}; each model task may spend its share, by its decisions",
                most_money
                    .map(|m| format!(" and cost up to {}", m.round_dp(6).normalize()))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(summary)
}

fn source_settings(run: &PlannedRun, plan: &Plan) -> Result<AccountSettings> {
    apply_changes(
        default_settings(run.series.market_type, plan.spec.account.fractional),
        plan.spec.account.fractional,
        &plan.account,
    )
}
