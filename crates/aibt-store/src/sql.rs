//! The SQL every backend builds the same way: the column order of each table, and the INSERT,
//! SELECT and UPDATE statements made from it. Backends differ only in their parameter marker
//! (`?1` in SQLite, `$1` in PostgreSQL) and in how they convert each value, which they do in
//! this same column order.

pub const ACCOUNT_COLUMNS: &[&str] = &[
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
];
pub const SNAPSHOT_COLUMNS: &[&str] = &[
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
];
pub const DECISION_COLUMNS: &[&str] = &[
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
];
pub const TASK_COLUMNS: &[&str] = &[
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
];
pub const TRADE_COLUMNS: &[&str] = &[
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
];
pub const TEMPLATE_COLUMNS: &[&str] = &[
    "prompt_id",
    "content",
    "description",
    "status",
    "tags",
    "created_at",
    "updated_at",
];
pub const AI_CONFIG_COLUMNS: &[&str] = &[
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
];
pub const BAR_COLUMNS: &[&str] = &["ts", "open", "high", "low", "close", "volume"];

/// `INSERT INTO t (c1, …) VALUES (m1, …)`, `SELECT c1, … FROM t` and
/// `UPDATE t SET c2 = m2, … WHERE c1 = m1` (the first column is the key), where `m` is the
/// backend's parameter marker.
pub struct TableSql {
    pub insert: String,
    pub select: String,
    pub update: String,
}

impl TableSql {
    pub fn new(table: &str, columns: &[&str], marker: char) -> TableSql {
        let param = |i: usize| format!("{marker}{}", i + 1);
        let placeholders: Vec<String> = (0..columns.len()).map(param).collect();
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = {}", param(i)))
            .collect();
        TableSql {
            insert: format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            ),
            select: format!("SELECT {} FROM {table}", columns.join(", ")),
            update: format!(
                "UPDATE {table} SET {} WHERE {} = {}",
                sets.join(", "),
                columns[0],
                param(0)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_use_the_backends_marker_in_column_order() {
        let sql = TableSql::new("t", &["id", "a", "b"], '$');
        assert_eq!(sql.insert, "INSERT INTO t (id, a, b) VALUES ($1, $2, $3)");
        assert_eq!(sql.select, "SELECT id, a, b FROM t");
        assert_eq!(sql.update, "UPDATE t SET a = $2, b = $3 WHERE id = $1");
        assert_eq!(
            TableSql::new("t", &["id"], '?').insert,
            "INSERT INTO t (id) VALUES (?1)"
        );
    }
}
