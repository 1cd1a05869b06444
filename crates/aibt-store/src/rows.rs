//! One struct per table, with the seed's column names as field names (they are also the JSON
//! field names of the HTTP API). Columns aibt adds are marked and listed in `docs/schema.md`.

use aibt_core::{
    Bar, EnumParseError, ExitReason, MarketType, Money, Percent, PositionSide, Quantity, Rate,
    ResponseFormat, TaskStatus, TemplateStatus, TimeGranularity, TradeAction, TradeStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use aibt_core::broker::Lot;

/// `virtual_accounts`: a user's account (a template of cash and fees), or, when `task_id` is
/// set, the working account of one task's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VirtualAccount {
    pub account_id: String,
    pub market_type: MarketType,
    pub initial_balance: Money,
    pub current_balance: Money,
    pub stock_symbol: String,
    pub stock_price: Money,
    pub stock_quantity: Quantity,
    pub stock_market_value: Money,
    pub total_value: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub position_side: PositionSide,
    pub margin_used: Money,
    pub short_avg_price: Money,
    pub short_total_cost: Money,
    pub short_positions: Vec<Lot>,
    pub long_positions: Vec<Lot>,
    pub available_balance: Money,
    pub commission_rate_buy: Rate,
    pub commission_rate_sell: Rate,
    pub tax_rate: Rate,
    pub min_commission: Money,
    pub total_fees: Money,
    /// Added: the task whose run this account is; `None` for a user's account.
    pub task_id: Option<String>,
    /// Added: margin locked per unit of short notional (1.0 = fully collateralised).
    pub short_margin_ratio: Rate,
    /// Added: whether a US account may trade fractions of a share.
    pub allow_fractional_shares: bool,
    /// Added: fraction every fill is moved against the trader.
    #[serde(default)]
    pub slippage: Rate,
    /// Added: yearly rate charged on the market value of shorts.
    #[serde(default)]
    pub borrow_rate: Rate,
}

/// `account_snapshots`: the account marked to one bar's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountSnapshot {
    pub snapshot_id: String,
    pub task_id: Option<String>,
    pub account_id: String,
    pub balance: Money,
    pub stock_quantity: Quantity,
    pub stock_price: Money,
    pub stock_market_value: Money,
    pub total_value: Money,
    pub profit_loss: Money,
    pub profit_loss_percent: Percent,
    pub timestamp: DateTime<Utc>,
    pub margin_used: Money,
    pub market_type: MarketType,
    pub initial_balance: Money,
    pub stock_symbol: String,
    pub current_balance: Money,
    pub position_side: PositionSide,
    pub short_avg_price: Money,
    pub short_total_cost: Money,
    pub short_positions: Vec<Lot>,
    pub long_positions: Vec<Lot>,
    pub available_balance: Money,
    pub total_fees: Money,
}

/// `local_decisions`: one decision of a strategy at one bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalDecision {
    pub decision_id: String,
    pub task_id: Option<String>,
    pub account_id: String,
    pub stock_symbol: String,
    pub decision_result: TradeAction,
    pub confidence_score: Rate,
    pub reasoning: String,
    pub market_data: Option<serde_json::Value>,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub execution_time_ms: Option<i64>,
    pub analysis_date: Option<DateTime<Utc>>,
    /// Added: the rendered prompt the model received (the user message).
    pub prompt: Option<String>,
    /// Added: SHA-256 of the request's messages.
    pub prompt_hash: Option<String>,
    /// Added: the model's answer, exactly as received.
    pub raw_answer: Option<String>,
    /// Added: the decision read from the answer (`action`, `quantity`, `fraction`,
    /// `confidence`, `reasoning`).
    pub parsed_decision: Option<serde_json::Value>,
    /// Added: why the decision failed (it was then recorded as a HOLD).
    pub error: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// Added: answered from the decision cache, without a call.
    pub from_cache: bool,
    /// Added: calls made for this decision, retries included.
    pub llm_calls: i64,
    /// Added (migration 5): a reasoning model's thinking before its answer; never read for
    /// the decision.
    #[serde(default)]
    pub thinking: Option<String>,
    /// Added (migration 5): the thinking's share of `completion_tokens`, when reported.
    #[serde(default)]
    pub reasoning_tokens: Option<i64>,
    /// Added (migration 5): what the decision's calls cost by the AI config's prices: 0 from
    /// the cache, `None` without prices or without tokens reported to count by.
    #[serde(default)]
    pub cost: Option<Money>,
    /// Added (migration 7): in tool mode, every tool call of the decision and its result,
    /// in order (`[{"tool", "arguments", "result"}]`).
    #[serde(default)]
    pub tool_transcript: Option<serde_json::Value>,
}

impl LocalDecision {
    /// Whether the decision failed (and was recorded as a HOLD).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The list cursor that pages after this decision.
    pub fn cursor(&self) -> String {
        crate::paging::time_cursor(
            self.analysis_date.unwrap_or(self.start_time),
            &self.decision_id,
        )
    }
}

/// `tasks`: one backtest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub task_id: String,
    pub account_id: String,
    pub stock_symbol: String,
    pub market_type: Option<MarketType>,
    pub user_prompt_id: Option<String>,
    pub ai_config_id: Option<String>,
    pub start_date: DateTime<Utc>,
    pub end_date: DateTime<Utc>,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub total_items: Option<i64>,
    pub processed_items: i64,
    pub time_granularity: TimeGranularity,
    pub decision_interval: i64,
    pub stats: Option<serde_json::Value>,
    /// Added: `builtin:<name>` or `template` (an LLM strategy from `user_prompt_id`).
    pub strategy: String,
    /// Added: how the task runs (strategy parameters, fill rule, blind mode, …), as JSON.
    pub options: serde_json::Value,
    /// Added: the worker holding the task, and until when (crash-safe claiming).
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Added: what a resumed run needs beyond the account (engine-owned JSON).
    pub checkpoint: Option<serde_json::Value>,
    /// Added: last change of any column, for change feeds.
    pub updated_at: DateTime<Utc>,
}

/// What a new task is: its ids, series, period, interval and strategy (see [`Task::pending`]).
pub struct NewTask<'a> {
    pub task_id: String,
    pub account_id: String,
    pub series: &'a SeriesKey,
    pub period: (DateTime<Utc>, DateTime<Utc>),
    pub decision_interval: i64,
    pub strategy: String,
    pub options: serde_json::Value,
}

impl Task {
    /// A task as it is created: PENDING, nothing run, no template or AI config (a template
    /// strategy sets them).
    pub fn pending(new: NewTask<'_>, now: DateTime<Utc>) -> Task {
        Task {
            task_id: new.task_id,
            account_id: new.account_id,
            stock_symbol: new.series.symbol.clone(),
            market_type: Some(new.series.market_type),
            user_prompt_id: None,
            ai_config_id: None,
            start_date: new.period.0,
            end_date: new.period.1,
            status: TaskStatus::Pending,
            created_at: now,
            started_at: None,
            paused_at: None,
            resumed_at: None,
            completed_at: None,
            error_message: None,
            total_items: None,
            processed_items: 0,
            time_granularity: new.series.granularity,
            decision_interval: new.decision_interval,
            stats: None,
            strategy: new.strategy,
            options: new.options,
            lease_owner: None,
            lease_expires_at: None,
            checkpoint: None,
            updated_at: now,
        }
    }

    /// Percent of the task's steps committed, 0 to 100. A finished task with no count (it
    /// had nothing to run) shows as done.
    pub fn progress_pct(&self) -> f64 {
        let total = self.total_items.unwrap_or(0);
        if total > 0 {
            (self.processed_items as f64 / total as f64 * 100.0).min(100.0)
        } else if self.status.is_terminal() {
            100.0
        } else {
            0.0
        }
    }
}

/// `trade_records`: one fill against one lot, or one refused order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradeRecord {
    pub trade_id: String,
    pub task_id: Option<String>,
    pub account_id: String,
    pub stock_symbol: String,
    pub trade_action: TradeAction,
    pub quantity: Quantity,
    pub price: Money,
    pub total_amount: Money,
    pub status: TradeStatus,
    pub trade_time: DateTime<Utc>,
    pub decision_id: Option<String>,
    pub commission: Money,
    pub tax: Money,
    pub total_fees: Money,
    pub position_side: PositionSide,
    pub open_id: Option<String>,
    pub stock_market_value_after: Money,
    pub total_value_after: Money,
    pub margin_used_after: Money,
    pub remaining_quantity_after: Quantity,
    pub avg_price_after: Money,
    /// Added: why the broker refused the order (status `FAILED`).
    pub reject_reason: Option<String>,
    /// Added: for a closing record, the round trip's profit after all its fees.
    pub realized_pnl: Option<Money>,
    /// Added: on a closing record, what closed the position.
    #[serde(default)]
    pub exit_reason: Option<ExitReason>,
}

/// `prompt_templates`: a strategy written as a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromptTemplate {
    pub prompt_id: String,
    pub content: String,
    pub description: Option<String>,
    pub status: TemplateStatus,
    pub tags: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `ai_configs`: how to reach a model. The key column holds ciphertext, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiConfig {
    pub config_id: String,
    pub name: String,
    pub local_ai_base_url: String,
    /// Never the key itself: `enc:v1:…` (encrypted), `env:VAR` (read from the environment
    /// when used) or empty (no key).
    pub local_ai_api_key: String,
    pub local_ai_model_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Added: sampling temperature (0 = deterministic).
    pub temperature: Rate,
    pub max_tokens: i64,
    /// Added: per call.
    pub timeout_seconds: i64,
    pub response_format: ResponseFormat,
    /// Added: calls in flight at once, shared by every task using this config.
    pub max_concurrency: i64,
    /// Added: retries of a failed call (429, 5xx, timeout, broken connection).
    pub max_retries: i64,
    /// Added: the model's training cutoff.
    pub knowledge_cutoff: Option<NaiveDate>,
    /// Added (migration 4): money per million prompt tokens, for an experiment's cost.
    #[serde(default)]
    pub price_input_per_million: Option<Money>,
    /// Added (migration 4): money per million completion tokens.
    #[serde(default)]
    pub price_output_per_million: Option<Money>,
    /// Added (migration 5): sent as `reasoning_effort` (`none`, `minimal`, `low`, `medium`,
    /// `high`, `xhigh`) to servers and models that take it.
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Added (migration 7): how the model gives its decisions: one JSON answer (`json`) or
    /// tool calls ending in `submit_decision` (`tools`).
    #[serde(default)]
    pub decision_mode: aibt_core::DecisionMode,
    /// Added (migration 7): why the server refused tools, once it has (set by a run, cleared
    /// when the endpoint, the model or the mode is changed): its tasks then take the JSON
    /// path.
    #[serde(default)]
    pub tools_refused: Option<String>,
}

/// `context_items` (added): one dated item of context for a symbol (a trend label, a
/// sentiment score, a note), shown to a decision once it is visible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContextItem {
    /// `{symbol}:{date}`: one item a symbol and day, replaced by a later import of that day.
    pub item_id: String,
    pub stock_symbol: String,
    /// The day the item describes.
    pub item_date: NaiveDate,
    /// When it became known, if not at the end of its day.
    pub published_at: Option<DateTime<Utc>>,
    /// When a decision may first see it (`aibt_core::context::visible_at`).
    pub visible_at: DateTime<Utc>,
    /// Its columns by name: numbers, text or null.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl ContextItem {
    /// The item of `symbol` for `date`, visible by the one rule.
    pub fn new(
        symbol: &str,
        item_date: NaiveDate,
        published_at: Option<DateTime<Utc>>,
        data: serde_json::Value,
        created_at: DateTime<Utc>,
    ) -> ContextItem {
        ContextItem {
            item_id: format!("{symbol}:{item_date}"),
            stock_symbol: symbol.to_string(),
            item_date,
            published_at,
            visible_at: aibt_core::context::visible_at(item_date, published_at),
            data,
            created_at,
        }
    }
}

/// `experiments` (added): a grid of tasks judged together on one leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    /// The spec as the user gave it (TOML read into JSON, template files inlined), so that any
    /// process reads the same experiment.
    pub spec: serde_json::Value,
    /// The user's intent and the end state: RUNNING, PAUSED, CANCELLED, COMPLETED,
    /// COMPLETED_WITH_ERRORS, FAILED (the seed's task statuses; PENDING unused).
    pub status: TaskStatus,
    /// Why it stopped (a budget reached, say).
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `experiment_runs` (added): one task of an experiment and its place in the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentRun {
    pub experiment_id: String,
    pub task_id: String,
    /// The strategy's name in the spec, or a baseline's (`buy-and-hold`, `always-hold`).
    pub variant: String,
    pub role: RunRole,
    pub stock_symbol: String,
    pub market_type: MarketType,
    pub time_granularity: TimeGranularity,
    /// The period's name in the spec (`in_sample`, `out_of_sample`, `fold1`, or the user's).
    pub period: String,
    /// 0-based repeat of a sampled strategy.
    pub repeat_index: i64,
    /// The blind twin of a variant.
    pub blind: bool,
}

/// What a run of an experiment is there for: a strategy under test, or a baseline it is
/// judged against. Stored as its string, like the seed's enumerations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunRole {
    Strategy,
    Baseline,
}

impl RunRole {
    pub const ALL: &'static [RunRole] = &[RunRole::Strategy, RunRole::Baseline];
    /// The stored strings, in the same order as [`Self::ALL`].
    pub const NAMES: &'static [&'static str] = &["STRATEGY", "BASELINE"];

    pub const fn as_str(self) -> &'static str {
        match self {
            RunRole::Strategy => "STRATEGY",
            RunRole::Baseline => "BASELINE",
        }
    }
}

impl std::fmt::Display for RunRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunRole {
    type Err = EnumParseError;

    fn from_str(text: &str) -> Result<RunRole, EnumParseError> {
        RunRole::ALL
            .iter()
            .copied()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| EnumParseError {
                what: "run role",
                input: text.to_string(),
                allowed: RunRole::NAMES,
            })
    }
}

/// Which series a bar belongs to: `market_bars` is unique on this key plus the timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesKey {
    pub symbol: String,
    pub market_type: MarketType,
    pub granularity: TimeGranularity,
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.symbol, self.market_type, self.granularity
        )
    }
}

/// What is stored of one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesInfo {
    #[serde(flatten)]
    pub key: SeriesKey,
    pub bars: i64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Where the bars came from (`imported from FILE`, `resampled from …`, a provider and
    /// its price adjustment); absent for a series stored before aibt kept descriptions.
    pub description: Option<String>,
}

/// A bar together with the series it belongs to, as one `market_bars` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketBar {
    pub series: SeriesKey,
    pub bar: Bar,
}

/// `llm_cache`: an answer of a model kept so that an identical request never costs a second
/// call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub cache_key: String,
    pub base_url: String,
    pub model: String,
    pub response: serde_json::Value,
    pub created_at: DateTime<Utc>,
}
