//! The conversion of each table's rows to and from SQLite values, in the column order of
//! `aibt_store::sql`, whose lists drive both the INSERT and the SELECT.

use std::sync::LazyLock;

pub use aibt_store::sql::*;

use aibt_core::Bar;
use aibt_store::StoreError;
use aibt_store::{
    AccountSnapshot, AiConfig, LocalDecision, PromptTemplate, Result, Task, TradeRecord,
    VirtualAccount,
};
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use crate::codec::{self, Reader, db_error};

pub(crate) fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn opt_text<T: ToString>(value: Option<T>) -> Value {
    value.map_or(Value::Null, |v| Value::Text(v.to_string()))
}

fn time(value: chrono::DateTime<chrono::Utc>) -> Value {
    Value::Text(codec::ts(value))
}

fn opt_time(value: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    value.map_or(Value::Null, time)
}

fn opt_json(value: Option<&serde_json::Value>) -> Value {
    value.map_or(Value::Null, |v| Value::Text(codec::json(v)))
}

/// Everything a query needs to read one table's rows and to name them in errors.
pub struct TableDef<T: 'static> {
    pub table: &'static str,
    pub entity: &'static str,
    pub columns: &'static [&'static str],
    pub read: fn(&Reader) -> Result<T>,
}

pub static ACCOUNT_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("virtual_accounts", ACCOUNT_COLUMNS, '?'));

pub fn account_values(a: &VirtualAccount) -> Result<Vec<Value>> {
    Ok(vec![
        text(&a.account_id),
        text(a.market_type),
        text(a.initial_balance),
        text(a.current_balance),
        text(&a.stock_symbol),
        text(a.stock_price),
        text(a.stock_quantity),
        text(a.stock_market_value),
        text(a.total_value),
        time(a.created_at),
        time(a.updated_at),
        text(a.position_side),
        text(a.margin_used),
        text(a.short_avg_price),
        text(a.short_total_cost),
        Value::Text(codec::lots(&a.short_positions)?),
        Value::Text(codec::lots(&a.long_positions)?),
        text(a.available_balance),
        text(a.commission_rate_buy),
        text(a.commission_rate_sell),
        text(a.tax_rate),
        text(a.min_commission),
        text(a.total_fees),
        opt_text(a.task_id.as_ref()),
        text(a.short_margin_ratio),
        Value::Integer(i64::from(a.allow_fractional_shares)),
    ])
}

pub fn read_account(r: &Reader) -> Result<VirtualAccount> {
    Ok(VirtualAccount {
        account_id: r.text(0)?,
        market_type: r.parsed(1)?,
        initial_balance: r.parsed(2)?,
        current_balance: r.parsed(3)?,
        stock_symbol: r.text(4)?,
        stock_price: r.parsed(5)?,
        stock_quantity: r.parsed(6)?,
        stock_market_value: r.parsed(7)?,
        total_value: r.parsed(8)?,
        created_at: r.time(9)?,
        updated_at: r.time(10)?,
        position_side: r.parsed(11)?,
        margin_used: r.parsed(12)?,
        short_avg_price: r.parsed(13)?,
        short_total_cost: r.parsed(14)?,
        short_positions: r.lots(15)?,
        long_positions: r.lots(16)?,
        available_balance: r.parsed(17)?,
        commission_rate_buy: r.parsed(18)?,
        commission_rate_sell: r.parsed(19)?,
        tax_rate: r.parsed(20)?,
        min_commission: r.parsed(21)?,
        total_fees: r.parsed(22)?,
        task_id: r.opt_text(23)?,
        short_margin_ratio: r.parsed(24)?,
        allow_fractional_shares: r.bool(25)?,
    })
}

pub static SNAPSHOT_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("account_snapshots", SNAPSHOT_COLUMNS, '?'));

pub fn read_snapshot(r: &Reader) -> Result<AccountSnapshot> {
    Ok(AccountSnapshot {
        snapshot_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        balance: r.parsed(3)?,
        stock_quantity: r.parsed(4)?,
        stock_price: r.parsed(5)?,
        stock_market_value: r.parsed(6)?,
        total_value: r.parsed(7)?,
        profit_loss: r.parsed(8)?,
        profit_loss_percent: r.parsed(9)?,
        timestamp: r.time(10)?,
        margin_used: r.parsed(11)?,
        market_type: r.parsed(12)?,
        initial_balance: r.parsed(13)?,
        stock_symbol: r.text(14)?,
        current_balance: r.parsed(15)?,
        position_side: r.parsed(16)?,
        short_avg_price: r.parsed(17)?,
        short_total_cost: r.parsed(18)?,
        short_positions: r.lots(19)?,
        long_positions: r.lots(20)?,
        available_balance: r.parsed(21)?,
        total_fees: r.parsed(22)?,
    })
}

pub static DECISION_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("local_decisions", DECISION_COLUMNS, '?'));

pub fn decision_values(d: &LocalDecision) -> Vec<Value> {
    vec![
        text(&d.decision_id),
        opt_text(d.task_id.as_ref()),
        text(&d.account_id),
        text(&d.stock_symbol),
        text(d.decision_result),
        text(d.confidence_score),
        text(&d.reasoning),
        opt_json(d.market_data.as_ref()),
        time(d.start_time),
        opt_time(d.end_time),
        d.execution_time_ms.map_or(Value::Null, Value::Integer),
        opt_time(d.analysis_date),
        opt_text(d.prompt.as_ref()),
        opt_text(d.prompt_hash.as_ref()),
        opt_text(d.raw_answer.as_ref()),
        opt_json(d.parsed_decision.as_ref()),
        opt_text(d.error.as_ref()),
        d.prompt_tokens.map_or(Value::Null, Value::Integer),
        d.completion_tokens.map_or(Value::Null, Value::Integer),
        Value::Integer(i64::from(d.from_cache)),
        Value::Integer(d.llm_calls),
    ]
}

pub fn read_decision(r: &Reader) -> Result<LocalDecision> {
    Ok(LocalDecision {
        decision_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        stock_symbol: r.text(3)?,
        decision_result: r.parsed(4)?,
        confidence_score: r.parsed(5)?,
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

pub static TASK_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("tasks", TASK_COLUMNS, '?'));

pub fn task_values(t: &Task) -> Vec<Value> {
    vec![
        text(&t.task_id),
        text(&t.account_id),
        text(&t.stock_symbol),
        opt_text(t.market_type),
        opt_text(t.user_prompt_id.as_ref()),
        opt_text(t.ai_config_id.as_ref()),
        time(t.start_date),
        time(t.end_date),
        text(t.status),
        time(t.created_at),
        opt_time(t.started_at),
        opt_time(t.paused_at),
        opt_time(t.resumed_at),
        opt_time(t.completed_at),
        opt_text(t.error_message.as_ref()),
        t.total_items.map_or(Value::Null, Value::Integer),
        Value::Integer(t.processed_items),
        text(t.time_granularity),
        Value::Integer(t.decision_interval),
        opt_json(t.stats.as_ref()),
        text(&t.strategy),
        Value::Text(codec::json(&t.options)),
        opt_text(t.lease_owner.as_ref()),
        opt_time(t.lease_expires_at),
        opt_json(t.checkpoint.as_ref()),
        time(t.updated_at),
    ]
}

pub fn read_task(r: &Reader) -> Result<Task> {
    Ok(Task {
        task_id: r.text(0)?,
        account_id: r.text(1)?,
        stock_symbol: r.text(2)?,
        market_type: r.opt_parsed(3)?,
        user_prompt_id: r.opt_text(4)?,
        ai_config_id: r.opt_text(5)?,
        start_date: r.time(6)?,
        end_date: r.time(7)?,
        status: r.parsed(8)?,
        created_at: r.time(9)?,
        started_at: r.opt_time(10)?,
        paused_at: r.opt_time(11)?,
        resumed_at: r.opt_time(12)?,
        completed_at: r.opt_time(13)?,
        error_message: r.opt_text(14)?,
        total_items: r.opt_int(15)?,
        processed_items: r.int(16)?,
        time_granularity: r.parsed(17)?,
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

pub static TRADE_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("trade_records", TRADE_COLUMNS, '?'));

pub fn trade_values(t: &TradeRecord) -> Vec<Value> {
    vec![
        text(&t.trade_id),
        opt_text(t.task_id.as_ref()),
        text(&t.account_id),
        text(&t.stock_symbol),
        text(t.trade_action),
        text(t.quantity),
        text(t.price),
        text(t.total_amount),
        text(t.status),
        time(t.trade_time),
        opt_text(t.decision_id.as_ref()),
        text(t.commission),
        text(t.tax),
        text(t.total_fees),
        text(t.position_side),
        opt_text(t.open_id.as_ref()),
        text(t.stock_market_value_after),
        text(t.total_value_after),
        text(t.margin_used_after),
        text(t.remaining_quantity_after),
        text(t.avg_price_after),
        opt_text(t.reject_reason.as_ref()),
        opt_text(t.realized_pnl),
    ]
}

pub fn read_trade(r: &Reader) -> Result<TradeRecord> {
    Ok(TradeRecord {
        trade_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        stock_symbol: r.text(3)?,
        trade_action: r.parsed(4)?,
        quantity: r.parsed(5)?,
        price: r.parsed(6)?,
        total_amount: r.parsed(7)?,
        status: r.parsed(8)?,
        trade_time: r.time(9)?,
        decision_id: r.opt_text(10)?,
        commission: r.parsed(11)?,
        tax: r.parsed(12)?,
        total_fees: r.parsed(13)?,
        position_side: r.parsed(14)?,
        open_id: r.opt_text(15)?,
        stock_market_value_after: r.parsed(16)?,
        total_value_after: r.parsed(17)?,
        margin_used_after: r.parsed(18)?,
        remaining_quantity_after: r.parsed(19)?,
        avg_price_after: r.parsed(20)?,
        reject_reason: r.opt_text(21)?,
        realized_pnl: r.opt_parsed(22)?,
    })
}

pub static TEMPLATE_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("prompt_templates", TEMPLATE_COLUMNS, '?'));

pub fn template_values(t: &PromptTemplate) -> Vec<Value> {
    vec![
        text(&t.prompt_id),
        text(&t.content),
        opt_text(t.description.as_ref()),
        text(t.status),
        opt_text(t.tags.as_ref()),
        time(t.created_at),
        time(t.updated_at),
    ]
}

pub fn read_template(r: &Reader) -> Result<PromptTemplate> {
    Ok(PromptTemplate {
        prompt_id: r.text(0)?,
        content: r.text(1)?,
        description: r.opt_text(2)?,
        status: r.parsed(3)?,
        tags: r.opt_text(4)?,
        created_at: r.time(5)?,
        updated_at: r.time(6)?,
    })
}

pub static AI_CONFIG_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("ai_configs", AI_CONFIG_COLUMNS, '?'));

pub fn ai_config_values(c: &AiConfig) -> Vec<Value> {
    vec![
        text(&c.config_id),
        text(&c.name),
        text(&c.local_ai_base_url),
        text(&c.local_ai_api_key),
        text(&c.local_ai_model_name),
        time(c.created_at),
        time(c.updated_at),
        text(c.temperature),
        Value::Integer(c.max_tokens),
        Value::Integer(c.timeout_seconds),
        text(c.response_format),
        Value::Integer(c.max_concurrency),
        Value::Integer(c.max_retries),
        opt_text(c.knowledge_cutoff),
    ]
}

pub fn read_ai_config(r: &Reader) -> Result<AiConfig> {
    Ok(AiConfig {
        config_id: r.text(0)?,
        name: r.text(1)?,
        local_ai_base_url: r.text(2)?,
        local_ai_api_key: r.text(3)?,
        local_ai_model_name: r.text(4)?,
        created_at: r.time(5)?,
        updated_at: r.time(6)?,
        temperature: r.parsed(7)?,
        max_tokens: r.int(8)?,
        timeout_seconds: r.int(9)?,
        response_format: r.parsed(10)?,
        max_concurrency: r.int(11)?,
        max_retries: r.int(12)?,
        knowledge_cutoff: r.opt_parsed(13)?,
    })
}

pub fn read_bar(r: &Reader) -> Result<Bar> {
    let bar = Bar {
        ts: r.time(0)?,
        open: r.parsed(1)?,
        high: r.parsed(2)?,
        low: r.parsed(3)?,
        close: r.parsed(4)?,
        volume: r.parsed(5)?,
    };
    Ok(bar)
}

pub static ACCOUNTS: TableDef<VirtualAccount> = TableDef {
    table: "virtual_accounts",
    entity: "account",
    columns: ACCOUNT_COLUMNS,
    read: read_account,
};
pub static SNAPSHOTS: TableDef<AccountSnapshot> = TableDef {
    table: "account_snapshots",
    entity: "snapshot",
    columns: SNAPSHOT_COLUMNS,
    read: read_snapshot,
};
pub static DECISIONS: TableDef<LocalDecision> = TableDef {
    table: "local_decisions",
    entity: "decision",
    columns: DECISION_COLUMNS,
    read: read_decision,
};
pub static TASKS: TableDef<Task> = TableDef {
    table: "tasks",
    entity: "task",
    columns: TASK_COLUMNS,
    read: read_task,
};
pub static TRADES: TableDef<TradeRecord> = TableDef {
    table: "trade_records",
    entity: "trade",
    columns: TRADE_COLUMNS,
    read: read_trade,
};
pub static TEMPLATES: TableDef<PromptTemplate> = TableDef {
    table: "prompt_templates",
    entity: "template",
    columns: TEMPLATE_COLUMNS,
    read: read_template,
};
pub static AI_CONFIGS: TableDef<AiConfig> = TableDef {
    table: "ai_configs",
    entity: "AI config",
    columns: AI_CONFIG_COLUMNS,
    read: read_ai_config,
};
pub static BARS: TableDef<Bar> = TableDef {
    table: "market_bars",
    entity: "bar",
    columns: BAR_COLUMNS,
    read: read_bar,
};

pub static BAR_TIMES: TableDef<chrono::DateTime<chrono::Utc>> = TableDef {
    table: "market_bars",
    entity: "bar",
    columns: &["ts"],
    read: |r| r.time(0),
};

/// Runs a query and reads every row as the table's row type.
pub(crate) fn query_rows<T>(
    connection: &Connection,
    sql: &str,
    values: &[Value],
    def: &TableDef<T>,
) -> Result<Vec<T>> {
    let mut statement = connection.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement
        .query(params_from_iter(values.iter()))
        .map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push((def.read)(&Reader {
            row,
            table: def.table,
            columns: def.columns,
        })?);
    }
    Ok(out)
}

/// The one row a query finds, or NotFound naming `id`.
pub(crate) fn query_one<T>(
    connection: &Connection,
    sql: &str,
    values: &[Value],
    def: &TableDef<T>,
    id: &str,
) -> Result<T> {
    query_rows(connection, sql, values, def)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound {
            entity: def.entity,
            id: id.to_string(),
        })
}

pub(crate) fn get_task_in(connection: &Connection, task_id: &str) -> Result<Task> {
    query_one(
        connection,
        &format!("{} WHERE task_id = ?1", TASK_SQL.select),
        &[text(task_id)],
        &TASKS,
        task_id,
    )
}

pub(crate) fn ensure_unused(
    transaction: &rusqlite::Transaction<'_>,
    column: &str,
    id: &str,
    what: &str,
) -> Result<()> {
    let used: i64 = transaction
        .query_row(
            &format!("SELECT count(*) FROM tasks WHERE {column} = ?1"),
            params![id],
            |row| row.get(0),
        )
        .map_err(db_error)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "{what} {id:?} is used by {used} task(s); delete those tasks first"
        )));
    }
    Ok(())
}
