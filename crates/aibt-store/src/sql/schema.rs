//! Every table once: its name, its entity, its columns in order, and how its row type is read
//! from and bound to them. The column lists drive the INSERT, SELECT and UPDATE of
//! [`super::TableSql`], so a read, a bind and a statement cannot disagree on the order.

use aibt_core::{Bar, TaskStatus};
use chrono::{DateTime, Utc};

use super::columns::{BindRow, ReadRow, TableRow, WriteRow};
use super::table::Table;
use crate::error::Result;
use crate::rows::{
    AccountSnapshot, AiConfig, CachedAnswer, Experiment, ExperimentRun, LocalDecision,
    PromptTemplate, SeriesInfo, SeriesKey, Task, TradeRecord, VirtualAccount,
};

/// aibt's tables, for `db check`'s row counts.
pub static TABLES: [&Table; 11] = [
    &ACCOUNTS,
    &SNAPSHOTS,
    &DECISIONS,
    &TASKS,
    &TRADES,
    &TEMPLATES,
    &AI_CONFIGS,
    &BARS,
    &CACHE,
    &EXPERIMENTS,
    &EXPERIMENT_RUNS,
];

/// The tables whose rows belong to a task (by their `task_id`) and go with it.
pub static TASK_CHILD_TABLES: [&Table; 4] = [&SNAPSHOTS, &DECISIONS, &TRADES, &ACCOUNTS];

pub static ACCOUNTS: Table = Table::new(
    "virtual_accounts",
    "account",
    &[
        "account_id",
        "market_type",
        "initial_balance",
        "current_balance",
        "stock_symbol",
        "stock_price",
        "stock_quantity",
        "stock_market_value",
        "total_value",
        "created_at",
        "updated_at",
        "position_side",
        "margin_used",
        "short_avg_price",
        "short_total_cost",
        "short_positions",
        "long_positions",
        "available_balance",
        "commission_rate_buy",
        "commission_rate_sell",
        "tax_rate",
        "min_commission",
        "total_fees",
        "task_id",
        "short_margin_ratio",
        "allow_fractional_shares",
        "slippage",
        "borrow_rate",
    ],
);

impl TableRow for VirtualAccount {
    fn table() -> &'static Table {
        &ACCOUNTS
    }

    fn read(r: &impl ReadRow) -> Result<VirtualAccount> {
        Ok(VirtualAccount {
            account_id: r.text(0)?,
            market_type: r.label(1)?,
            initial_balance: r.decimal(2)?,
            current_balance: r.decimal(3)?,
            stock_symbol: r.text(4)?,
            stock_price: r.decimal(5)?,
            stock_quantity: r.decimal(6)?,
            stock_market_value: r.decimal(7)?,
            total_value: r.decimal(8)?,
            created_at: r.time(9)?,
            updated_at: r.time(10)?,
            position_side: r.label(11)?,
            margin_used: r.decimal(12)?,
            short_avg_price: r.decimal(13)?,
            short_total_cost: r.decimal(14)?,
            short_positions: r.lots(15)?,
            long_positions: r.lots(16)?,
            available_balance: r.decimal(17)?,
            commission_rate_buy: r.decimal(18)?,
            commission_rate_sell: r.decimal(19)?,
            tax_rate: r.decimal(20)?,
            min_commission: r.decimal(21)?,
            total_fees: r.decimal(22)?,
            task_id: r.opt_text(23)?,
            short_margin_ratio: r.decimal(24)?,
            allow_fractional_shares: r.bool(25)?,
            slippage: r.decimal(26)?,
            borrow_rate: r.decimal(27)?,
        })
    }
}

impl WriteRow for VirtualAccount {
    fn key(&self) -> &str {
        &self.account_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.account_id);
        b.label(self.market_type.as_str());
        b.decimal(self.initial_balance);
        b.decimal(self.current_balance);
        b.text(&self.stock_symbol);
        b.decimal(self.stock_price);
        b.decimal(self.stock_quantity);
        b.decimal(self.stock_market_value);
        b.decimal(self.total_value);
        b.time(self.created_at);
        b.time(self.updated_at);
        b.label(self.position_side.as_str());
        b.decimal(self.margin_used);
        b.decimal(self.short_avg_price);
        b.decimal(self.short_total_cost);
        b.lots(&self.short_positions)?;
        b.lots(&self.long_positions)?;
        b.decimal(self.available_balance);
        b.decimal(self.commission_rate_buy);
        b.decimal(self.commission_rate_sell);
        b.decimal(self.tax_rate);
        b.decimal(self.min_commission);
        b.decimal(self.total_fees);
        b.opt_text(self.task_id.as_deref());
        b.decimal(self.short_margin_ratio);
        b.bool(self.allow_fractional_shares);
        b.decimal(self.slippage);
        b.decimal(self.borrow_rate);
        Ok(())
    }
}

pub static SNAPSHOTS: Table = Table::new(
    "account_snapshots",
    "snapshot",
    &[
        "snapshot_id",
        "task_id",
        "account_id",
        "balance",
        "stock_quantity",
        "stock_price",
        "stock_market_value",
        "total_value",
        "profit_loss",
        "profit_loss_percent",
        "timestamp",
        "margin_used",
        "market_type",
        "initial_balance",
        "stock_symbol",
        "current_balance",
        "position_side",
        "short_avg_price",
        "short_total_cost",
        "short_positions",
        "long_positions",
        "available_balance",
        "total_fees",
    ],
);

impl TableRow for AccountSnapshot {
    fn table() -> &'static Table {
        &SNAPSHOTS
    }

    fn read(r: &impl ReadRow) -> Result<AccountSnapshot> {
        Ok(AccountSnapshot {
            snapshot_id: r.text(0)?,
            task_id: r.opt_text(1)?,
            account_id: r.text(2)?,
            balance: r.decimal(3)?,
            stock_quantity: r.decimal(4)?,
            stock_price: r.decimal(5)?,
            stock_market_value: r.decimal(6)?,
            total_value: r.decimal(7)?,
            profit_loss: r.decimal(8)?,
            profit_loss_percent: r.decimal(9)?,
            timestamp: r.time(10)?,
            margin_used: r.decimal(11)?,
            market_type: r.label(12)?,
            initial_balance: r.decimal(13)?,
            stock_symbol: r.text(14)?,
            current_balance: r.decimal(15)?,
            position_side: r.label(16)?,
            short_avg_price: r.decimal(17)?,
            short_total_cost: r.decimal(18)?,
            short_positions: r.lots(19)?,
            long_positions: r.lots(20)?,
            available_balance: r.decimal(21)?,
            total_fees: r.decimal(22)?,
        })
    }
}

/// SQLite writes snapshots through its own encoder (the hot path of a backtest); this is the
/// general form, which PostgreSQL uses.
impl WriteRow for AccountSnapshot {
    fn key(&self) -> &str {
        &self.snapshot_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.snapshot_id);
        b.opt_text(self.task_id.as_deref());
        b.text(&self.account_id);
        b.decimal(self.balance);
        b.decimal(self.stock_quantity);
        b.decimal(self.stock_price);
        b.decimal(self.stock_market_value);
        b.decimal(self.total_value);
        b.decimal(self.profit_loss);
        b.decimal(self.profit_loss_percent);
        b.time(self.timestamp);
        b.decimal(self.margin_used);
        b.label(self.market_type.as_str());
        b.decimal(self.initial_balance);
        b.text(&self.stock_symbol);
        b.decimal(self.current_balance);
        b.label(self.position_side.as_str());
        b.decimal(self.short_avg_price);
        b.decimal(self.short_total_cost);
        b.lots(&self.short_positions)?;
        b.lots(&self.long_positions)?;
        b.decimal(self.available_balance);
        b.decimal(self.total_fees);
        Ok(())
    }
}

pub static DECISIONS: Table = Table::new(
    "local_decisions",
    "decision",
    &[
        "decision_id",
        "task_id",
        "account_id",
        "stock_symbol",
        "decision_result",
        "confidence_score",
        "reasoning",
        "market_data",
        "start_time",
        "end_time",
        "execution_time_ms",
        "analysis_date",
        "prompt",
        "prompt_hash",
        "raw_answer",
        "parsed_decision",
        "error",
        "prompt_tokens",
        "completion_tokens",
        "from_cache",
        "llm_calls",
    ],
);

impl TableRow for LocalDecision {
    fn table() -> &'static Table {
        &DECISIONS
    }

    fn read(r: &impl ReadRow) -> Result<LocalDecision> {
        Ok(LocalDecision {
            decision_id: r.text(0)?,
            task_id: r.opt_text(1)?,
            account_id: r.text(2)?,
            stock_symbol: r.text(3)?,
            decision_result: r.label(4)?,
            confidence_score: r.decimal(5)?,
            reasoning: r.text(6)?,
            market_data: r.opt_json(7)?,
            start_time: r.time(8)?,
            end_time: r.opt_time(9)?,
            execution_time_ms: r.opt_int(10)?,
            analysis_date: r.opt_time(11)?,
            prompt: r.opt_text(12)?,
            prompt_hash: r.opt_text(13)?,
            raw_answer: r.opt_text(14)?,
            parsed_decision: r.opt_json(15)?,
            error: r.opt_text(16)?,
            prompt_tokens: r.opt_int(17)?,
            completion_tokens: r.opt_int(18)?,
            from_cache: r.bool(19)?,
            llm_calls: r.int(20)?,
        })
    }
}

impl WriteRow for LocalDecision {
    fn key(&self) -> &str {
        &self.decision_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.decision_id);
        b.opt_text(self.task_id.as_deref());
        b.text(&self.account_id);
        b.text(&self.stock_symbol);
        b.label(self.decision_result.as_str());
        b.decimal(self.confidence_score);
        b.text(&self.reasoning);
        b.opt_json(self.market_data.as_ref());
        b.time(self.start_time);
        b.opt_time(self.end_time);
        b.opt_int(self.execution_time_ms)?;
        b.opt_time(self.analysis_date);
        b.opt_text(self.prompt.as_deref());
        b.opt_text(self.prompt_hash.as_deref());
        b.opt_text(self.raw_answer.as_deref());
        b.opt_json(self.parsed_decision.as_ref());
        b.opt_text(self.error.as_deref());
        b.opt_int(self.prompt_tokens)?;
        b.opt_int(self.completion_tokens)?;
        b.bool(self.from_cache);
        b.int(self.llm_calls)?;
        Ok(())
    }
}

pub static TASKS: Table = Table::new(
    "tasks",
    "task",
    &[
        "task_id",
        "account_id",
        "stock_symbol",
        "market_type",
        "user_prompt_id",
        "ai_config_id",
        "start_date",
        "end_date",
        "status",
        "created_at",
        "started_at",
        "paused_at",
        "resumed_at",
        "completed_at",
        "error_message",
        "total_items",
        "processed_items",
        "time_granularity",
        "decision_interval",
        "stats",
        "strategy",
        "options",
        "lease_owner",
        "lease_expires_at",
        "checkpoint",
        "updated_at",
    ],
);

impl TableRow for Task {
    fn table() -> &'static Table {
        &TASKS
    }

    fn read(r: &impl ReadRow) -> Result<Task> {
        Ok(Task {
            task_id: r.text(0)?,
            account_id: r.text(1)?,
            stock_symbol: r.text(2)?,
            market_type: r.opt_label(3)?,
            user_prompt_id: r.opt_text(4)?,
            ai_config_id: r.opt_text(5)?,
            start_date: r.time(6)?,
            end_date: r.time(7)?,
            status: r.label(8)?,
            created_at: r.time(9)?,
            started_at: r.opt_time(10)?,
            paused_at: r.opt_time(11)?,
            resumed_at: r.opt_time(12)?,
            completed_at: r.opt_time(13)?,
            error_message: r.opt_text(14)?,
            total_items: r.opt_int(15)?,
            processed_items: r.int(16)?,
            time_granularity: r.label(17)?,
            decision_interval: r.int(18)?,
            stats: r.opt_json(19)?,
            strategy: r.text(20)?,
            options: r.json(21)?,
            lease_owner: r.opt_text(22)?,
            lease_expires_at: r.opt_time(23)?,
            checkpoint: r.opt_json(24)?,
            updated_at: r.time(25)?,
        })
    }
}

impl WriteRow for Task {
    fn key(&self) -> &str {
        &self.task_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.task_id);
        b.text(&self.account_id);
        b.text(&self.stock_symbol);
        b.opt_label(self.market_type.map(|m| m.as_str()));
        b.opt_text(self.user_prompt_id.as_deref());
        b.opt_text(self.ai_config_id.as_deref());
        b.time(self.start_date);
        b.time(self.end_date);
        b.label(self.status.as_str());
        b.time(self.created_at);
        b.opt_time(self.started_at);
        b.opt_time(self.paused_at);
        b.opt_time(self.resumed_at);
        b.opt_time(self.completed_at);
        b.opt_text(self.error_message.as_deref());
        b.opt_int(self.total_items)?;
        b.int(self.processed_items)?;
        b.label(self.time_granularity.as_str());
        b.int(self.decision_interval)?;
        b.opt_json(self.stats.as_ref());
        b.text(&self.strategy);
        b.json(&self.options);
        b.opt_text(self.lease_owner.as_deref());
        b.opt_time(self.lease_expires_at);
        b.opt_json(self.checkpoint.as_ref());
        b.time(self.updated_at);
        Ok(())
    }
}

pub static TRADES: Table = Table::new(
    "trade_records",
    "trade",
    &[
        "trade_id",
        "task_id",
        "account_id",
        "stock_symbol",
        "trade_action",
        "quantity",
        "price",
        "total_amount",
        "status",
        "trade_time",
        "decision_id",
        "commission",
        "tax",
        "total_fees",
        "position_side",
        "open_id",
        "stock_market_value_after",
        "total_value_after",
        "margin_used_after",
        "remaining_quantity_after",
        "avg_price_after",
        "reject_reason",
        "realized_pnl",
        "exit_reason",
    ],
);

impl TableRow for TradeRecord {
    fn table() -> &'static Table {
        &TRADES
    }

    fn read(r: &impl ReadRow) -> Result<TradeRecord> {
        Ok(TradeRecord {
            trade_id: r.text(0)?,
            task_id: r.opt_text(1)?,
            account_id: r.text(2)?,
            stock_symbol: r.text(3)?,
            trade_action: r.label(4)?,
            quantity: r.decimal(5)?,
            price: r.decimal(6)?,
            total_amount: r.decimal(7)?,
            status: r.label(8)?,
            trade_time: r.time(9)?,
            decision_id: r.opt_text(10)?,
            commission: r.decimal(11)?,
            tax: r.decimal(12)?,
            total_fees: r.decimal(13)?,
            position_side: r.label(14)?,
            open_id: r.opt_text(15)?,
            stock_market_value_after: r.decimal(16)?,
            total_value_after: r.decimal(17)?,
            margin_used_after: r.decimal(18)?,
            remaining_quantity_after: r.decimal(19)?,
            avg_price_after: r.decimal(20)?,
            reject_reason: r.opt_text(21)?,
            realized_pnl: r.opt_decimal(22)?,
            exit_reason: r.opt_label(23)?,
        })
    }
}

impl WriteRow for TradeRecord {
    fn key(&self) -> &str {
        &self.trade_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.trade_id);
        b.opt_text(self.task_id.as_deref());
        b.text(&self.account_id);
        b.text(&self.stock_symbol);
        b.label(self.trade_action.as_str());
        b.decimal(self.quantity);
        b.decimal(self.price);
        b.decimal(self.total_amount);
        b.label(self.status.as_str());
        b.time(self.trade_time);
        b.opt_text(self.decision_id.as_deref());
        b.decimal(self.commission);
        b.decimal(self.tax);
        b.decimal(self.total_fees);
        b.label(self.position_side.as_str());
        b.opt_text(self.open_id.as_deref());
        b.decimal(self.stock_market_value_after);
        b.decimal(self.total_value_after);
        b.decimal(self.margin_used_after);
        b.decimal(self.remaining_quantity_after);
        b.decimal(self.avg_price_after);
        b.opt_text(self.reject_reason.as_deref());
        b.opt_decimal(self.realized_pnl);
        b.opt_label(self.exit_reason.map(|reason| reason.as_str()));
        Ok(())
    }
}

pub static TEMPLATES: Table = Table::new(
    "prompt_templates",
    "template",
    &[
        "prompt_id",
        "content",
        "description",
        "status",
        "tags",
        "created_at",
        "updated_at",
    ],
);

impl TableRow for PromptTemplate {
    fn table() -> &'static Table {
        &TEMPLATES
    }

    fn read(r: &impl ReadRow) -> Result<PromptTemplate> {
        Ok(PromptTemplate {
            prompt_id: r.text(0)?,
            content: r.text(1)?,
            description: r.opt_text(2)?,
            status: r.label(3)?,
            tags: r.opt_text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
        })
    }
}

impl WriteRow for PromptTemplate {
    fn key(&self) -> &str {
        &self.prompt_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.prompt_id);
        b.text(&self.content);
        b.opt_text(self.description.as_deref());
        b.label(self.status.as_str());
        b.opt_text(self.tags.as_deref());
        b.time(self.created_at);
        b.time(self.updated_at);
        Ok(())
    }
}

pub static AI_CONFIGS: Table = Table::new(
    "ai_configs",
    "AI config",
    &[
        "config_id",
        "name",
        "local_ai_base_url",
        "local_ai_api_key",
        "local_ai_model_name",
        "created_at",
        "updated_at",
        "temperature",
        "max_tokens",
        "timeout_seconds",
        "response_format",
        "max_concurrency",
        "max_retries",
        "knowledge_cutoff",
        "price_input_per_million",
        "price_output_per_million",
    ],
);

impl TableRow for AiConfig {
    fn table() -> &'static Table {
        &AI_CONFIGS
    }

    fn read(r: &impl ReadRow) -> Result<AiConfig> {
        Ok(AiConfig {
            config_id: r.text(0)?,
            name: r.text(1)?,
            local_ai_base_url: r.text(2)?,
            local_ai_api_key: r.text(3)?,
            local_ai_model_name: r.text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
            temperature: r.decimal(7)?,
            max_tokens: r.int(8)?,
            timeout_seconds: r.int(9)?,
            response_format: r.label(10)?,
            max_concurrency: r.int(11)?,
            max_retries: r.int(12)?,
            knowledge_cutoff: r.opt_date(13)?,
            price_input_per_million: r.opt_decimal(14)?,
            price_output_per_million: r.opt_decimal(15)?,
        })
    }
}

impl WriteRow for AiConfig {
    fn key(&self) -> &str {
        &self.config_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.config_id);
        b.text(&self.name);
        b.text(&self.local_ai_base_url);
        b.text(&self.local_ai_api_key);
        b.text(&self.local_ai_model_name);
        b.time(self.created_at);
        b.time(self.updated_at);
        b.decimal(self.temperature);
        b.int(self.max_tokens)?;
        b.int(self.timeout_seconds)?;
        b.label(self.response_format.as_str());
        b.int(self.max_concurrency)?;
        b.int(self.max_retries)?;
        b.opt_date(self.knowledge_cutoff);
        b.opt_decimal(self.price_input_per_million);
        b.opt_decimal(self.price_output_per_million);
        Ok(())
    }
}

/// The bar columns of `market_bars` (a series' key columns are its filter, not its row).
pub static BARS: Table = Table::new(
    "market_bars",
    "bar",
    &["ts", "open", "high", "low", "close", "volume"],
);

impl TableRow for Bar {
    fn table() -> &'static Table {
        &BARS
    }

    fn read(r: &impl ReadRow) -> Result<Bar> {
        Ok(Bar {
            ts: r.time(0)?,
            open: r.decimal(1)?,
            high: r.decimal(2)?,
            low: r.decimal(3)?,
            close: r.decimal(4)?,
            volume: r.decimal(5)?,
        })
    }
}

/// What `market_bars` holds of each series, grouped.
pub static SERIES: Table = Table::new(
    "market_bars",
    "series",
    &["symbol", "market_type", "granularity", "count", "ts", "ts"],
);

impl TableRow for SeriesInfo {
    fn table() -> &'static Table {
        &SERIES
    }

    fn read(r: &impl ReadRow) -> Result<SeriesInfo> {
        Ok(SeriesInfo {
            key: SeriesKey {
                symbol: r.text(0)?,
                market_type: r.label(1)?,
                granularity: r.label(2)?,
            },
            bars: r.count(3)?,
            first: r.time(4)?,
            last: r.time(5)?,
        })
    }
}

pub static CACHE: Table = Table::new(
    "llm_cache",
    "cached answer",
    &["cache_key", "base_url", "model", "response", "created_at"],
);

impl TableRow for CachedAnswer {
    fn table() -> &'static Table {
        &CACHE
    }

    fn read(r: &impl ReadRow) -> Result<CachedAnswer> {
        Ok(CachedAnswer {
            cache_key: r.text(0)?,
            base_url: r.text(1)?,
            model: r.text(2)?,
            response: r.json(3)?,
            created_at: r.time(4)?,
        })
    }
}

impl WriteRow for CachedAnswer {
    fn key(&self) -> &str {
        &self.cache_key
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.cache_key);
        b.text(&self.base_url);
        b.text(&self.model);
        b.json(&self.response);
        b.time(self.created_at);
        Ok(())
    }
}

pub static EXPERIMENTS: Table = Table::new(
    "experiments",
    "experiment",
    &[
        "experiment_id",
        "name",
        "spec",
        "status",
        "error_message",
        "created_at",
        "updated_at",
    ],
);

impl TableRow for Experiment {
    fn table() -> &'static Table {
        &EXPERIMENTS
    }

    fn read(r: &impl ReadRow) -> Result<Experiment> {
        Ok(Experiment {
            experiment_id: r.text(0)?,
            name: r.text(1)?,
            spec: r.json(2)?,
            status: r.label(3)?,
            error_message: r.opt_text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
        })
    }
}

impl WriteRow for Experiment {
    fn key(&self) -> &str {
        &self.experiment_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.text(&self.name);
        b.json(&self.spec);
        b.label(self.status.as_str());
        b.opt_text(self.error_message.as_deref());
        b.time(self.created_at);
        b.time(self.updated_at);
        Ok(())
    }
}

/// The columns of `experiments` that change after it is created: its status and why it
/// stopped, written together by [`ExperimentStatus`].
pub static EXPERIMENT_STATUS: Table = Table::new(
    "experiments",
    "experiment",
    &["experiment_id", "status", "error_message", "updated_at"],
);

/// A status change of one experiment, as the UPDATE of [`EXPERIMENT_STATUS`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentStatus {
    pub experiment_id: String,
    pub status: TaskStatus,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl TableRow for ExperimentStatus {
    fn table() -> &'static Table {
        &EXPERIMENT_STATUS
    }

    fn read(r: &impl ReadRow) -> Result<ExperimentStatus> {
        Ok(ExperimentStatus {
            experiment_id: r.text(0)?,
            status: r.label(1)?,
            error_message: r.opt_text(2)?,
            updated_at: r.time(3)?,
        })
    }
}

impl WriteRow for ExperimentStatus {
    fn key(&self) -> &str {
        &self.experiment_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.label(self.status.as_str());
        b.opt_text(self.error_message.as_deref());
        b.time(self.updated_at);
        Ok(())
    }
}

/// The runs of experiments. The primary key is (`experiment_id`, `task_id`); a run is never
/// read or updated by the first column alone, and its errors name it by its task.
pub static EXPERIMENT_RUNS: Table = Table::new(
    "experiment_runs",
    "experiment run",
    &[
        "experiment_id",
        "task_id",
        "variant",
        "role",
        "stock_symbol",
        "market_type",
        "time_granularity",
        "period",
        "repeat_index",
        "blind",
    ],
);

impl TableRow for ExperimentRun {
    fn table() -> &'static Table {
        &EXPERIMENT_RUNS
    }

    fn read(r: &impl ReadRow) -> Result<ExperimentRun> {
        Ok(ExperimentRun {
            experiment_id: r.text(0)?,
            task_id: r.text(1)?,
            variant: r.text(2)?,
            role: r.label(3)?,
            stock_symbol: r.text(4)?,
            market_type: r.label(5)?,
            time_granularity: r.label(6)?,
            period: r.text(7)?,
            repeat_index: r.int(8)?,
            blind: r.bool(9)?,
        })
    }
}

impl WriteRow for ExperimentRun {
    fn key(&self) -> &str {
        &self.task_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.text(&self.task_id);
        b.text(&self.variant);
        b.label(self.role.as_str());
        b.text(&self.stock_symbol);
        b.label(self.market_type.as_str());
        b.label(self.time_granularity.as_str());
        b.text(&self.period);
        b.int(self.repeat_index)?;
        b.bool(self.blind);
        Ok(())
    }
}
