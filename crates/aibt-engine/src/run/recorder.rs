//! Turns what the simulation does into the seed's rows: one decision row per decision, one
//! trade row per fill record, one snapshot row per bar. Ids are derived from the task id and a
//! counter (`<task>-d<step>`, `<task>-t<seq>`, `<task>-s<bar>`), so re-running a step after a
//! crash produces the same ids and can never add a second copy of a row.

use aibt_core::broker::Account;
use aibt_core::broker::BrokerError;
use aibt_core::simulation::BarFills;
use aibt_core::{Bar, Decision, Fill, MarketType, Money, Percent};
use aibt_core::{Decimal, DecimalError};
use aibt_store::{AccountSnapshot, LocalDecision, TradeRecord, VirtualAccount};
use chrono::{DateTime, Utc};

use crate::decide::DecisionFacts;
use crate::error::Result;

/// Rows waiting for the next commit.
#[derive(Debug, Default)]
pub struct Rows {
    pub decisions: Vec<LocalDecision>,
    pub trades: Vec<TradeRecord>,
    pub snapshots: Vec<AccountSnapshot>,
}

/// What is needed to write one task's rows.
pub struct Recorder {
    pub task_id: String,
    pub account_id: String,
    pub symbol: String,
    pub market_type: MarketType,
    pub initial_balance: Money,
    pub rows: Rows,
}

impl Recorder {
    pub fn decision_id(&self, step: u64) -> String {
        format!("{}-d{step:09}", self.task_id)
    }

    pub fn decision(&mut self, step: u64, bar: &Bar, decision: &Decision, facts: DecisionFacts) {
        let elapsed = (facts.end_time - facts.start_time)
            .num_milliseconds()
            .max(0);
        self.rows.decisions.push(LocalDecision {
            decision_id: self.decision_id(step),
            task_id: Some(self.task_id.clone()),
            account_id: self.account_id.clone(),
            stock_symbol: self.symbol.clone(),
            decision_result: decision.action,
            confidence_score: decision.confidence,
            reasoning: decision.reasoning.to_string(),
            market_data: facts.market_data,
            start_time: facts.start_time,
            end_time: Some(facts.end_time),
            execution_time_ms: Some(elapsed),
            analysis_date: Some(bar.ts),
            prompt: facts.prompt,
            prompt_hash: facts.prompt_hash,
            raw_answer: facts.raw_answer,
            parsed_decision: facts.parsed_decision,
            error: facts.error,
            prompt_tokens: facts.prompt_tokens,
            completion_tokens: facts.completion_tokens,
            from_cache: facts.from_cache,
            llm_calls: facts.llm_calls,
            thinking: facts.thinking,
            tool_transcript: facts.tool_transcript,
            reasoning_tokens: facts.reasoning_tokens,
            cost: facts.cost,
        });
    }

    pub fn fills(&mut self, fills: &BarFills) {
        for (execution, decision_id) in &fills.executions {
            for fill in &execution.fills {
                self.rows
                    .trades
                    .push(self.trade(fill, decision_id.as_deref()));
            }
        }
    }

    fn trade(&self, fill: &Fill, decision_id: Option<&str>) -> TradeRecord {
        TradeRecord {
            trade_id: fill.trade_id.clone(),
            task_id: Some(self.task_id.clone()),
            account_id: self.account_id.clone(),
            stock_symbol: self.symbol.clone(),
            trade_action: fill.action,
            quantity: fill.quantity,
            price: fill.price,
            total_amount: fill.total_amount,
            status: fill.status,
            trade_time: fill.time,
            decision_id: decision_id.map(str::to_string),
            commission: fill.commission,
            tax: fill.tax,
            total_fees: fill.total_fees,
            position_side: fill.position_side,
            open_id: fill.open_id.clone(),
            stock_market_value_after: fill.stock_market_value_after,
            total_value_after: fill.total_value_after,
            margin_used_after: fill.margin_used_after,
            remaining_quantity_after: fill.remaining_quantity_after,
            avg_price_after: fill.avg_price_after,
            reject_reason: fill.reject_reason.clone(),
            realized_pnl: fill.realized_pnl,
            exit_reason: fill.exit_reason,
        }
    }

    /// The account marked at the bar's close.
    pub fn snapshot(
        &mut self,
        index: u64,
        bar: &Bar,
        account: &Account,
        equity: Money,
    ) -> Result<()> {
        let current_balance = account.current_balance()?;
        let profit_loss = equity
            .checked_sub(self.initial_balance)
            .map_err(BrokerError)?;
        let percent = profit_loss
            .get()
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|scaled| scaled.checked_div(self.initial_balance.get()))
            .ok_or(BrokerError(DecimalError::Overflow { kind: "percentage" }))?;
        self.rows.snapshots.push(AccountSnapshot {
            snapshot_id: format!("{}-s{index:09}", self.task_id),
            task_id: Some(self.task_id.clone()),
            account_id: self.account_id.clone(),
            balance: current_balance,
            stock_quantity: account.signed_quantity()?,
            stock_price: bar.close,
            stock_market_value: account.market_value_at(bar.close)?,
            total_value: equity,
            profit_loss,
            profit_loss_percent: Percent::new(percent).map_err(BrokerError)?,
            timestamp: bar.ts,
            margin_used: account.margin_used,
            market_type: self.market_type,
            initial_balance: self.initial_balance,
            stock_symbol: self.symbol.clone(),
            current_balance,
            position_side: account.position_side(),
            short_avg_price: account.short_avg_price()?,
            short_total_cost: account.short_total_cost()?,
            short_positions: account.short_lots.clone(),
            long_positions: account.long_lots.clone(),
            available_balance: account.available,
            total_fees: account.total_fees,
        });
        Ok(())
    }

    /// The run account's row as of `account`, keeping what the account does not track.
    pub fn account_row(
        &self,
        stored: &VirtualAccount,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<VirtualAccount> {
        let price = account.mark_price;
        Ok(VirtualAccount {
            current_balance: account.current_balance()?,
            stock_price: price,
            stock_quantity: account.signed_quantity()?,
            stock_market_value: account.market_value_at(price)?,
            total_value: account.equity_at(price)?,
            updated_at: now,
            position_side: account.position_side(),
            margin_used: account.margin_used,
            short_avg_price: account.short_avg_price()?,
            short_total_cost: account.short_total_cost()?,
            short_positions: account.short_lots.clone(),
            long_positions: account.long_lots.clone(),
            available_balance: account.available,
            total_fees: account.total_fees,
            ..stored.clone()
        })
    }

    /// The rows recorded since the last take. The next batch's snapshots are reserved at once
    /// (a batch is as long as the last one): grown by doubling, a batch of a long run writes
    /// megabytes of fresh memory again at every step.
    pub fn take(&mut self) -> Rows {
        let batch = self.rows.snapshots.len();
        let rows = std::mem::take(&mut self.rows);
        self.rows.snapshots.reserve(batch);
        rows
    }
}
