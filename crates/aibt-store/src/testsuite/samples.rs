//! Rows with a distinctive value in every column, and the steps and tasks the tests build
//! from them.

use aibt_core::{
    Lot, MarketType, Money, Percent, PositionSide, Quantity, Rate, TaskStatus, TimeGranularity,
    TradeAction, TradeStatus,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::*;

pub(super) fn money(text: &str) -> Money {
    Money::parse(text).expect("test money")
}

pub(super) fn quantity(text: &str) -> Quantity {
    Quantity::parse(text).expect("test quantity")
}

pub(super) fn rate(text: &str) -> Rate {
    Rate::parse(text).expect("test rate")
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, 123_456_000)
        .single()
        .expect("test time")
}

/// A user account whose every column holds a distinctive value.
pub fn sample_account(account_id: &str) -> VirtualAccount {
    VirtualAccount {
        account_id: account_id.to_string(),
        market_type: MarketType::Coin,
        initial_balance: money("12345678901234567890.12345678"),
        current_balance: money("0.00000001"),
        stock_symbol: "BTC-USDT".into(),
        stock_price: money("43210.98765432"),
        stock_quantity: quantity("-1.23456789"),
        stock_market_value: money("-53347.99548935"),
        total_value: money("99.99999999"),
        created_at: at(0),
        updated_at: at(1),
        position_side: PositionSide::Short,
        margin_used: money("123.45678901"),
        short_avg_price: money("43000.00000001"),
        short_total_cost: money("53086.41975309"),
        short_positions: vec![Lot {
            trade_id: "t-1".into(),
            quantity: quantity("1.23456789"),
            price: money("43000.00000001"),
            time: at(2),
            cost: money("53086.41975309"),
            fees: money("0.05308642"),
            margin: money("53086.41975309"),
            bar: 7,
        }],
        long_positions: vec![],
        available_balance: money("0.00000001"),
        commission_rate_buy: rate("0.000123"),
        commission_rate_sell: rate("0.000456"),
        tax_rate: rate("0.000789"),
        min_commission: money("0.00000100"),
        total_fees: money("987654.32109876"),
        task_id: None,
        short_margin_ratio: rate("1.500000"),
        allow_fractional_shares: true,
        slippage: rate("0.000512"),
        borrow_rate: rate("9.999999"),
    }
}

pub fn sample_task(task_id: &str, account_id: &str, status: TaskStatus) -> Task {
    Task {
        task_id: task_id.to_string(),
        account_id: account_id.to_string(),
        stock_symbol: "BTC-USDT".into(),
        market_type: Some(MarketType::Coin),
        user_prompt_id: Some("prompt-1".into()),
        ai_config_id: Some("config-1".into()),
        start_date: at(100),
        end_date: at(200),
        status,
        created_at: at(3),
        started_at: Some(at(4)),
        paused_at: None,
        resumed_at: Some(at(5)),
        completed_at: None,
        error_message: Some("a message with 'quotes' and ünïcode".into()),
        total_items: Some(42),
        processed_items: 7,
        time_granularity: TimeGranularity::Hourly,
        decision_interval: 4,
        stats: Some(json!({"return_pct": 12.5, "nested": {"list": [1, "two", null]}})),
        strategy: "builtin:sma-cross".into(),
        options: json!({"fill": "next_open", "params": {"fast": "10"}}),
        lease_owner: None,
        lease_expires_at: None,
        checkpoint: Some(json!({"bar": 3})),
        updated_at: at(6),
    }
}

/// The run account of a task: a copy of the user's account tagged with the task.
pub fn sample_run_account(task_id: &str) -> VirtualAccount {
    VirtualAccount {
        task_id: Some(task_id.to_string()),
        ..sample_account(&format!("{task_id}-account"))
    }
}

pub(super) fn sample_decision(task_id: &str, n: u32) -> LocalDecision {
    LocalDecision {
        decision_id: format!("{task_id}-d{n:09}"),
        task_id: Some(task_id.to_string()),
        account_id: format!("{task_id}-account"),
        stock_symbol: "BTC-USDT".into(),
        decision_result: TradeAction::ShortSell,
        confidence_score: rate("0.123456"),
        reasoning: "价格跌破均线 — short".into(),
        market_data: Some(json!({"close": "43210.98765432", "rsi": 28.5})),
        start_time: at(10 + i64::from(n)),
        end_time: Some(at(11 + i64::from(n))),
        execution_time_ms: Some(1234),
        analysis_date: Some(at(100 + i64::from(n) * 3600)),
        prompt: Some("You trade BTC-USDT.\n收盘价 43210.98".into()),
        prompt_hash: Some("ab".repeat(32)),
        raw_answer: Some("```json\n{\"action\": \"short\", \"confidence\": 0.1}\n```".into()),
        parsed_decision: Some(
            json!({"action": "SHORT_SELL", "fraction": null, "confidence": "0.123456"}),
        ),
        error: if n % 2 == 1 {
            Some("confidence 1.5 is outside 0..1".into())
        } else {
            None
        },
        prompt_tokens: Some(131),
        completion_tokens: Some(27),
        from_cache: n.is_multiple_of(2),
        llm_calls: i64::from(n) + 1,
        thinking: n
            .is_multiple_of(2)
            .then(|| format!("<think> n°{n}: 趋势 {{\"action\": \"BUY\"}} rejected")),
        reasoning_tokens: n.is_multiple_of(2).then_some(19),
        cost: n.is_multiple_of(2).then(|| money("123456789012.00012345")),
        tool_transcript: n.is_multiple_of(3).then(|| {
            serde_json::json!([
                {"tool": "get_bars", "arguments": {"count": n}, "result": {"bars": [{"close": 1.5}]}},
                {"tool": "submit_decision", "arguments": {"action": "HOLD"}, "result": {"accepted": true}},
            ])
        }),
    }
}

/// The `n`-th trade of a task, with a distinctive value in every column.
pub fn sample_trade(task_id: &str, n: u32) -> TradeRecord {
    TradeRecord {
        trade_id: format!("{task_id}-t{n:08}"),
        task_id: Some(task_id.to_string()),
        account_id: format!("{task_id}-account"),
        stock_symbol: "BTC-USDT".into(),
        trade_action: if n.is_multiple_of(2) {
            TradeAction::Buy
        } else {
            TradeAction::CoverShort
        },
        quantity: quantity("0.00000001"),
        price: money("12345678901234567890.12345678"),
        total_amount: money("123456789012.34567890"),
        status: TradeStatus::Executed,
        trade_time: at(100 + i64::from(n) * 3600),
        decision_id: Some(format!("{task_id}-d{n:09}")),
        commission: money("1.00000001"),
        tax: money("0.00000002"),
        total_fees: money("1.00000003"),
        position_side: PositionSide::Short,
        open_id: Some("t-1".into()),
        stock_market_value_after: money("-5.5"),
        total_value_after: money("100.25"),
        margin_used_after: money("0"),
        remaining_quantity_after: quantity("-0.5"),
        avg_price_after: money("43000.12345678"),
        reject_reason: None,
        realized_pnl: Some(money("-0.00000001")),
        exit_reason: if n.is_multiple_of(2) {
            None
        } else {
            Some(aibt_core::ExitReason::TrailingStop)
        },
    }
}

pub(super) fn sample_snapshot(task_id: &str, n: u32) -> AccountSnapshot {
    let account = sample_run_account(task_id);
    AccountSnapshot {
        snapshot_id: format!("{task_id}-s{n:09}"),
        task_id: Some(task_id.to_string()),
        account_id: account.account_id.clone(),
        balance: money("10000.5"),
        stock_quantity: quantity("-1.23456789"),
        stock_price: money("43210.98765432"),
        stock_market_value: money("-53347.99548935"),
        total_value: money("9990.00000001"),
        profit_loss: money("-10.49999999"),
        profit_loss_percent: Percent::parse("-0.104999").expect("percent"),
        timestamp: at(100 + i64::from(n) * 3600),
        margin_used: money("53086.41975309"),
        market_type: MarketType::Coin,
        initial_balance: money("10000"),
        stock_symbol: "BTC-USDT".into(),
        current_balance: money("10000.5"),
        position_side: PositionSide::Short,
        short_avg_price: money("43000.00000001"),
        short_total_cost: money("53086.41975309"),
        short_positions: account.short_positions.clone(),
        long_positions: vec![],
        available_balance: money("0.00000001"),
        total_fees: money("1.5"),
    }
}

pub(super) fn batch(task_id: &str, owner: &str, range: std::ops::Range<u32>) -> StepBatch {
    StepBatch {
        task_id: task_id.to_string(),
        lease_owner: owner.to_string(),
        lease_expires_at: at(10_000),
        decisions: range.clone().map(|n| sample_decision(task_id, n)).collect(),
        trades: range.clone().map(|n| sample_trade(task_id, n)).collect(),
        snapshots: range.clone().map(|n| sample_snapshot(task_id, n)).collect(),
        account: sample_run_account(task_id),
        processed_items: i64::from(range.end),
        total_items: Some(100),
        checkpoint: json!({"next_bar": range.end}),
        now: at(20),
    }
}

pub(super) async fn running_task(store: &dyn Store, task_id: &str, owner: &str) -> Task {
    let mut task = sample_task(task_id, "user-account", TaskStatus::Running);
    task.lease_owner = Some(owner.to_string());
    task.lease_expires_at = Some(at(10_000));
    store
        .create_task(&task, &sample_run_account(task_id))
        .await
        .expect("create task");
    task
}
