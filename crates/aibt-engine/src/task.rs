//! Creating tasks and moving them through the seed's lifecycle.
//!
//! Which transitions exist is `TaskStatus::can_become` (aibt-core); this module applies them
//! with the timestamps each one sets, as a compare-and-set on the stored status, so two
//! callers racing (a pause and a completion, say) cannot both win.

use std::collections::BTreeMap;

use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, Money, Quantity, TaskStatus, TimeGranularity};
use aibt_store::{Lifecycle, SeriesKey, Store, Task, VirtualAccount};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// The strategy of a task whose decisions come from a model (`user_prompt_id` +
/// `ai_config_id`).
pub const TEMPLATE_STRATEGY: &str = "template";

/// When an order decided at a bar is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FillRule {
    /// At the next bar's open: the decision saw this bar's close, so it cannot trade at it.
    #[default]
    NextOpen,
    /// At the decision bar's close, as the original system did.
    Close,
}

impl std::str::FromStr for FillRule {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<FillRule> {
        match text {
            "next_open" => Ok(FillRule::NextOpen),
            "close" => Ok(FillRule::Close),
            other => Err(EngineError::invalid(
                "fill",
                format!("{other:?} is not a fill rule: expected next_open or close"),
            )),
        }
    }
}

/// How a task runs, stored as the task's `options` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskOptions {
    /// Parameters of a built-in strategy.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub fill: FillRule,
    /// Hide the symbol and dates from the model and rebase prices (AI strategies).
    #[serde(default)]
    pub blind: bool,
    /// Whether a decision to hold gets a `local_decisions` row. A model's every answer is
    /// recorded; a built-in rule's holds by default are not: they say only that the rule did
    /// not trigger, are reproducible from the bars, and would be one row per bar.
    #[serde(default)]
    pub record_holds: Option<bool>,
    /// AI tasks: whether the decision cache is read and written.
    #[serde(default)]
    pub cache: aibt_ai::llm::CacheMode,
    /// AI tasks: decisions asked ahead when the template does not read the account (0 or 1:
    /// one at a time).
    #[serde(default)]
    pub prefetch: u32,
    /// AI tasks: bars shown in `bars` (0: the default, 30).
    #[serde(default)]
    pub window: u32,
    /// AI tasks: failed decisions tolerated before the task is FAILED (default: a quarter of
    /// its decisions, at least 5).
    #[serde(default)]
    pub failure_limit: Option<u64>,
    /// AI tasks: how often an unusable answer is asked again (default 2).
    #[serde(default)]
    pub answer_retries: Option<u32>,
    /// AI tasks: sampling seed sent to the model.
    #[serde(default)]
    pub seed: Option<u64>,
    /// AI tasks: the template's content when the task was created (set by aibt, not by the
    /// user), so that editing the template later changes neither a resumed run's prompts nor
    /// what the task says it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_content: Option<String>,
}

impl TaskOptions {
    /// Whether holds are recorded for a task of this strategy.
    pub fn records_holds(&self, strategy: &str) -> bool {
        self.record_holds
            .unwrap_or(!strategy.starts_with("builtin:"))
    }
}

/// A task's strategy parameters as `name=value`, space-separated in name order, for people
/// to read (empty when it has none).
pub fn params_text(task: &Task) -> String {
    task.options["params"]
        .as_object()
        .map(|params| {
            params
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

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
    /// `builtin:<name>` or `template`.
    pub strategy: String,
    pub user_prompt_id: Option<String>,
    pub ai_config_id: Option<String>,
    pub options: TaskOptions,
}

/// The account of a backtest when the user says nothing: 10,000 of cash, 0.1% commission on
/// both sides, no tax, no minimum commission, shorts fully collateralised.
pub fn default_settings(market_type: MarketType, fractional: bool) -> AccountSettings {
    // 0.1%, the design's default commission rate (a constant mantissa: cannot fail).
    let commission = aibt_core::Rate::new_mantissa(1_000).unwrap_or(aibt_core::Rate::ZERO);
    AccountSettings {
        market_type,
        initial_balance: Money::from_i64(10_000).unwrap_or(Money::ZERO),
        commission_rate_buy: commission,
        commission_rate_sell: commission,
        tax_rate: aibt_core::Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: aibt_core::Rate::ONE,
        whole_units: market_type.whole_units_by_default() && !fractional,
    }
}

/// The settings of a user account that the broker needs.
pub fn account_settings(account: &VirtualAccount) -> AccountSettings {
    AccountSettings {
        market_type: account.market_type,
        initial_balance: account.initial_balance,
        commission_rate_buy: account.commission_rate_buy,
        commission_rate_sell: account.commission_rate_sell,
        tax_rate: account.tax_rate,
        min_commission: account.min_commission,
        short_margin_ratio: account.short_margin_ratio,
        whole_units: account.market_type.whole_units_by_default()
            && !account.allow_fractional_shares,
    }
}

/// A user account with the given settings and no history.
pub fn new_account(
    account_id: &str,
    symbol: &str,
    settings: &AccountSettings,
    fractional: bool,
) -> VirtualAccount {
    let now = aibt_core::time::now();
    VirtualAccount {
        account_id: account_id.to_string(),
        market_type: settings.market_type,
        initial_balance: settings.initial_balance,
        current_balance: settings.initial_balance,
        stock_symbol: symbol.to_string(),
        stock_price: Money::ZERO,
        stock_quantity: Quantity::ZERO,
        stock_market_value: Money::ZERO,
        total_value: settings.initial_balance,
        created_at: now,
        updated_at: now,
        position_side: aibt_core::PositionSide::Long,
        margin_used: Money::ZERO,
        short_avg_price: Money::ZERO,
        short_total_cost: Money::ZERO,
        short_positions: Vec::new(),
        long_positions: Vec::new(),
        available_balance: settings.initial_balance,
        commission_rate_buy: settings.commission_rate_buy,
        commission_rate_sell: settings.commission_rate_sell,
        tax_rate: settings.tax_rate,
        min_commission: settings.min_commission,
        total_fees: Money::ZERO,
        task_id: None,
        short_margin_ratio: settings.short_margin_ratio,
        allow_fractional_shares: fractional,
    }
}

/// The id of a task's run account: the task's own id (one account per run).
pub fn run_account_id(task_id: &str) -> String {
    task_id.to_string()
}

/// Checks a spec against the stored account and series and creates the task (PENDING) with
/// its run account, a fresh copy of the user's account.
pub async fn create_task(store: &dyn Store, spec: TaskSpec) -> Result<Task> {
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
    let account = store.get_account(&spec.account_id).await?;
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
    let mut spec = spec;
    spec.options.template_content = validate_strategy(store, &spec).await?;

    let series = SeriesKey {
        symbol: symbol.clone(),
        market_type: spec.market_type,
        granularity: spec.granularity,
    };
    let (first, last) = store.series_bounds(&series).await?.ok_or_else(|| {
        EngineError::invalid(
            "stock_symbol",
            format!("no bars stored for {series}; import them first (aibt data import)"),
        )
    })?;
    let start = spec.start.unwrap_or(first);
    let end = spec.end.unwrap_or(last);
    if start > end {
        return Err(EngineError::invalid(
            "start_date",
            format!("{start} is after end_date {end}"),
        ));
    }
    let any = store
        .bars(
            &series,
            aibt_store::BarRange {
                from: Some(start),
                to: Some(end),
                after: None,
                limit: Some(1),
            },
        )
        .await?;
    if any.is_empty() {
        return Err(EngineError::invalid(
            "start_date",
            format!(
                "no bars of {series} between {} and {} (stored: {} .. {})",
                aibt_core::time::format_timestamp(start),
                aibt_core::time::format_timestamp(end),
                aibt_core::time::format_timestamp(first),
                aibt_core::time::format_timestamp(last)
            ),
        ));
    }

    let now = aibt_core::time::now();
    let task_id = aibt_store::new_id();
    let task = Task {
        task_id: task_id.clone(),
        account_id: account.account_id.clone(),
        stock_symbol: symbol.clone(),
        market_type: Some(spec.market_type),
        user_prompt_id: spec.user_prompt_id.clone(),
        ai_config_id: spec.ai_config_id.clone(),
        start_date: start,
        end_date: end,
        status: TaskStatus::Pending,
        created_at: now,
        started_at: None,
        paused_at: None,
        resumed_at: None,
        completed_at: None,
        error_message: None,
        total_items: None,
        processed_items: 0,
        time_granularity: spec.granularity,
        decision_interval: spec.decision_interval,
        stats: None,
        strategy: spec.strategy.clone(),
        options: serde_json::to_value(&spec.options)
            .map_err(|e| EngineError::invalid("options", e.to_string()))?,
        lease_owner: None,
        lease_expires_at: None,
        checkpoint: None,
        updated_at: now,
    };
    let mut run_account = new_account(
        &run_account_id(&task_id),
        &symbol,
        &account_settings(&account),
        account.allow_fractional_shares,
    );
    run_account.task_id = Some(task_id);
    store.create_task(&task, &run_account).await?;
    Ok(task)
}

/// Checks the strategy of a spec; for a template strategy, returns the template's content.
async fn validate_strategy(store: &dyn Store, spec: &TaskSpec) -> Result<Option<String>> {
    if spec.strategy.starts_with("builtin:") {
        aibt_ai::builtin_strategy(&spec.strategy, &spec.options.params)?;
        return Ok(None);
    }
    if spec.strategy == TEMPLATE_STRATEGY {
        let prompt_id = spec.user_prompt_id.as_deref().ok_or_else(|| {
            EngineError::invalid("user_prompt_id", "an AI strategy needs a prompt template")
        })?;
        let config_id = spec.ai_config_id.as_deref().ok_or_else(|| {
            EngineError::invalid("ai_config_id", "an AI strategy needs an AI config")
        })?;
        let template = store.get_template(prompt_id).await?;
        if template.status != aibt_core::TemplateStatus::Available {
            return Err(EngineError::invalid(
                "user_prompt_id",
                format!("template {prompt_id} is {}", template.status),
            ));
        }
        aibt_ai::template::check_template(&template.content).map_err(|e| {
            EngineError::invalid("user_prompt_id", format!("template {prompt_id}: {e}"))
        })?;
        let config = store.get_ai_config(config_id).await?;
        crate::llm_run::client_settings(&config, None)?;
        return Ok(Some(template.content));
    }
    if let Some(source) = spec.strategy.strip_prefix(crate::replay::PREFIX) {
        let source = store.get_task(source).await?;
        if !crate::llm_run::finished(source.status) {
            return Err(EngineError::invalid(
                "strategy",
                format!(
                    "task {} is {}; only a finished task can be replayed",
                    source.task_id, source.status
                ),
            ));
        }
        return Ok(None);
    }
    Err(EngineError::invalid(
        "strategy",
        format!(
            "{:?} is not a strategy: use builtin:<name> ({}), template (a prompt template and an AI config) \
             or replay:<task id>",
            spec.strategy,
            aibt_ai::BUILTIN_STRATEGIES
                .iter()
                .map(|(n, _)| format!("builtin:{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// A lifecycle change a user or worker asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Start,
    Pause,
    Resume,
    Cancel,
    Complete {
        with_errors: bool,
        stats: serde_json::Value,
    },
    Fail {
        error: String,
    },
}

impl Transition {
    fn target(&self) -> TaskStatus {
        match self {
            Transition::Start | Transition::Resume => TaskStatus::Running,
            Transition::Pause => TaskStatus::Paused,
            Transition::Cancel => TaskStatus::Cancelled,
            Transition::Complete {
                with_errors: false, ..
            } => TaskStatus::Completed,
            Transition::Complete {
                with_errors: true, ..
            } => TaskStatus::CompletedWithErrors,
            Transition::Fail { .. } => TaskStatus::Failed,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Pause => "pause",
            Transition::Resume => "resume",
            Transition::Cancel => "cancel",
            Transition::Complete { .. } => "complete",
            Transition::Fail { .. } => "fail",
        }
    }

    /// Whether the transition applies from `status`: start only from PENDING, resume only from
    /// PAUSED or FAILED, and the rest as the lifecycle table allows.
    pub fn allowed_from(&self, status: TaskStatus) -> bool {
        let by_table = status.can_become(self.target());
        match self {
            Transition::Start => status == TaskStatus::Pending,
            Transition::Resume => {
                by_table && matches!(status, TaskStatus::Paused | TaskStatus::Failed)
            }
            _ => by_table,
        }
    }
}

/// Applies a transition, refusing (with [`EngineError::WrongState`]) one the lifecycle does
/// not allow from the stored status.
pub async fn transition(store: &dyn Store, task_id: &str, transition: Transition) -> Result<Task> {
    // A status can change between reading it and writing; the write is conditional on the
    // status read, so a lost race is retried against the new status.
    for _ in 0..3 {
        let task = store.get_task(task_id).await?;
        if !transition.allowed_from(task.status) {
            return Err(EngineError::WrongState {
                task_id: task_id.to_string(),
                status: task.status,
                reason: format!("cannot {} a {} task", transition.name(), task.status),
            });
        }
        let now = aibt_core::time::now();
        let mut next = Lifecycle::of(&task);
        next.status = transition.target();
        next.updated_at = now;
        match &transition {
            Transition::Start => {
                next.started_at = Some(now);
                next.error_message = None;
            }
            Transition::Pause => {
                next.paused_at = Some(now);
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
            Transition::Resume => {
                next.resumed_at = Some(now);
                next.error_message = None;
                next.lease_owner = None;
                next.lease_expires_at = None;
                if next.started_at.is_none() {
                    next.started_at = Some(now);
                }
            }
            Transition::Cancel => {
                next.completed_at = Some(now);
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
            Transition::Complete { stats, .. } => {
                next.completed_at = Some(now);
                next.stats = Some(stats.clone());
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
            Transition::Fail { error } => {
                next.completed_at = Some(now);
                next.error_message = Some(error.clone());
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
        }
        match store.update_lifecycle(task_id, task.status, &next).await {
            Ok(updated) => return Ok(updated),
            Err(aibt_store::StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    let task = store.get_task(task_id).await?;
    Err(EngineError::WrongState {
        task_id: task_id.to_string(),
        status: task.status,
        reason: format!(
            "the task changed state while trying to {}",
            transition.name()
        ),
    })
}
