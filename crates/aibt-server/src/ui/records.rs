//! How a task's decisions and trades read in a table: the task page's pages of them and the
//! task report's first few hundred are the same rows.

use aibt_core::MarketType;
use aibt_store::{LocalDecision, Task, TradeRecord};
use askama::Template;

use crate::ui::format::{decimal, time, url_encode};
use crate::ui::i18n::Tr;

pub struct DecisionRow {
    pub id: String,
    pub at: String,
    pub time: String,
    pub action: &'static str,
    pub failed: bool,
    pub confidence: String,
    pub reasoning: String,
    pub latency: String,
    pub tokens: String,
}

/// A decision as a row.
pub fn decision_row(d: &LocalDecision, task: &Task) -> DecisionRow {
    let at = d.analysis_date.unwrap_or(d.start_time);
    let tokens = match (d.prompt_tokens, d.completion_tokens) {
        (Some(p), Some(c)) => format!("{p} + {c}"),
        _ => String::new(),
    };
    DecisionRow {
        id: url_encode(&d.decision_id),
        at: url_encode(&aibt_core::time::format_timestamp(at)),
        time: time(at, task.time_granularity),
        action: d.decision_result.as_str(),
        failed: d.failed(),
        confidence: decimal(&d.confidence_score.to_string(), 2),
        reasoning: d.reasoning.clone(),
        latency: if d.llm_calls > 0 {
            d.execution_time_ms
                .map(|l| l.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        },
        tokens,
    }
}

pub struct TradeRow {
    pub time: String,
    pub action: &'static str,
    pub status: &'static str,
    pub reject_reason: Option<String>,
    /// What closed the position, on an exit.
    pub exit_reason: Option<&'static str>,
    pub quantity: String,
    pub price: String,
    pub amount: String,
    pub fees: String,
    pub pnl: String,
    pub pnl_class: &'static str,
}

/// A trade as a row: quantities to the market's precision, money to the cent.
pub fn trade_row(t: &TradeRecord, task: &Task) -> TradeRow {
    let quantity_places = if task.market_type == Some(MarketType::Coin) {
        8
    } else {
        4
    };
    TradeRow {
        time: time(t.trade_time, task.time_granularity),
        action: t.trade_action.as_str(),
        status: t.status.as_str(),
        reject_reason: t.reject_reason.clone(),
        exit_reason: t.exit_reason.map(|reason| reason.as_str()),
        quantity: decimal(&t.quantity.to_string(), quantity_places),
        price: decimal(&t.price.to_string(), 4),
        amount: decimal(&t.total_amount.to_string(), 2),
        fees: decimal(&t.total_fees.to_string(), 2),
        pnl: t
            .realized_pnl
            .map(|p| decimal(&p.to_string(), 2))
            .unwrap_or_default(),
        pnl_class: match t.realized_pnl {
            Some(p) if p.is_positive() => "up",
            Some(p) if p.is_negative() => "down",
            _ => "",
        },
    }
}

/// Trade rows of a table body; with `next`, a button that loads the page after them.
#[derive(Template)]
#[template(path = "trade_rows.html")]
pub struct TradeRows {
    pub tr: Tr,
    pub task_id: String,
    pub rows: Vec<TradeRow>,
    pub first: bool,
    pub next: Option<String>,
}
