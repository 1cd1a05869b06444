//! The tasks and the records they write step by step: each decision, as asked and answered,
//! and each trade it led to.

use crate::error::Result;
use crate::rows::{LocalDecision, Task, TradeRecord};
use crate::sql::columns::{BindRow, ReadRow, TableRow, WriteRow};
use crate::sql::table::Table;

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
        "thinking",
        "reasoning_tokens",
        "cost",
        "tool_transcript",
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
            thinking: r.opt_text(21)?,
            reasoning_tokens: r.opt_int(22)?,
            cost: r.opt_decimal(23)?,
            tool_transcript: r.opt_json(24)?,
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
        b.opt_text(self.thinking.as_deref());
        b.opt_int(self.reasoning_tokens)?;
        b.opt_decimal(self.cost);
        b.opt_json(self.tool_transcript.as_ref());
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
