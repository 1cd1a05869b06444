//! The conversion of each table's rows to and from PostgreSQL parameters, in the column order
//! of `aibt_store::sql`, whose lists drive both the INSERT and the SELECT.

use std::sync::LazyLock;

pub use aibt_store::sql::*;

use aibt_core::Bar;
use aibt_store::{
    AccountSnapshot, AiConfig, LocalDecision, PromptTemplate, Result, StoreError, Task,
    TradeRecord, VirtualAccount,
};
use tokio_postgres::types::{Json, ToSql};

use crate::codec::{Params, Reader, db_error, int4, lots_json};

/// Everything a query needs to read one table's rows and to name them in errors.
pub struct TableDef<T: 'static> {
    pub table: &'static str,
    pub entity: &'static str,
    pub columns: &'static [&'static str],
    pub read: fn(&Reader) -> Result<T>,
}

macro_rules! boxed {
    ($($value:expr),* $(,)?) => {
        vec![$(Box::new($value) as Box<dyn ToSql + Sync + Send>),*]
    };
}

pub static ACCOUNT_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("virtual_accounts", ACCOUNT_COLUMNS, '$'));

pub fn account_params(a: &VirtualAccount) -> Result<Params> {
    Ok(boxed![
        a.account_id.clone(),
        a.market_type.as_str(),
        a.initial_balance.get(),
        a.current_balance.get(),
        a.stock_symbol.clone(),
        a.stock_price.get(),
        a.stock_quantity.get(),
        a.stock_market_value.get(),
        a.total_value.get(),
        a.created_at,
        a.updated_at,
        a.position_side.as_str(),
        a.margin_used.get(),
        a.short_avg_price.get(),
        a.short_total_cost.get(),
        lots_json(&a.short_positions)?,
        lots_json(&a.long_positions)?,
        a.available_balance.get(),
        a.commission_rate_buy.get(),
        a.commission_rate_sell.get(),
        a.tax_rate.get(),
        a.min_commission.get(),
        a.total_fees.get(),
        a.task_id.clone(),
        a.short_margin_ratio.get(),
        a.allow_fractional_shares,
    ])
}

pub fn read_account(r: &Reader) -> Result<VirtualAccount> {
    Ok(VirtualAccount {
        account_id: r.text(0)?,
        market_type: r.parsed(1)?,
        initial_balance: r.fixed(2)?,
        current_balance: r.fixed(3)?,
        stock_symbol: r.text(4)?,
        stock_price: r.fixed(5)?,
        stock_quantity: r.fixed(6)?,
        stock_market_value: r.fixed(7)?,
        total_value: r.fixed(8)?,
        created_at: r.time(9)?,
        updated_at: r.time(10)?,
        position_side: r.parsed(11)?,
        margin_used: r.fixed(12)?,
        short_avg_price: r.fixed(13)?,
        short_total_cost: r.fixed(14)?,
        short_positions: r.lots(15)?,
        long_positions: r.lots(16)?,
        available_balance: r.fixed(17)?,
        commission_rate_buy: r.fixed(18)?,
        commission_rate_sell: r.fixed(19)?,
        tax_rate: r.fixed(20)?,
        min_commission: r.fixed(21)?,
        total_fees: r.fixed(22)?,
        task_id: r.opt_text(23)?,
        short_margin_ratio: r.fixed(24)?,
        allow_fractional_shares: r.bool(25)?,
    })
}

pub static SNAPSHOT_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("account_snapshots", SNAPSHOT_COLUMNS, '$'));

pub fn snapshot_params(s: &AccountSnapshot) -> Result<Params> {
    Ok(boxed![
        s.snapshot_id.clone(),
        s.task_id.clone(),
        s.account_id.clone(),
        s.balance.get(),
        s.stock_quantity.get(),
        s.stock_price.get(),
        s.stock_market_value.get(),
        s.total_value.get(),
        s.profit_loss.get(),
        s.profit_loss_percent.get(),
        s.timestamp,
        s.margin_used.get(),
        s.market_type.as_str(),
        s.initial_balance.get(),
        s.stock_symbol.clone(),
        s.current_balance.get(),
        s.position_side.as_str(),
        s.short_avg_price.get(),
        s.short_total_cost.get(),
        lots_json(&s.short_positions)?,
        lots_json(&s.long_positions)?,
        s.available_balance.get(),
        s.total_fees.get(),
    ])
}

pub fn read_snapshot(r: &Reader) -> Result<AccountSnapshot> {
    Ok(AccountSnapshot {
        snapshot_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        balance: r.fixed(3)?,
        stock_quantity: r.fixed(4)?,
        stock_price: r.fixed(5)?,
        stock_market_value: r.fixed(6)?,
        total_value: r.fixed(7)?,
        profit_loss: r.fixed(8)?,
        profit_loss_percent: r.fixed(9)?,
        timestamp: r.time(10)?,
        margin_used: r.fixed(11)?,
        market_type: r.parsed(12)?,
        initial_balance: r.fixed(13)?,
        stock_symbol: r.text(14)?,
        current_balance: r.fixed(15)?,
        position_side: r.parsed(16)?,
        short_avg_price: r.fixed(17)?,
        short_total_cost: r.fixed(18)?,
        short_positions: r.lots(19)?,
        long_positions: r.lots(20)?,
        available_balance: r.fixed(21)?,
        total_fees: r.fixed(22)?,
    })
}

pub static DECISION_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("local_decisions", DECISION_COLUMNS, '$'));

pub fn decision_params(d: &LocalDecision) -> Result<Params> {
    let execution_time = d
        .execution_time_ms
        .map(|ms| int4(ms, "local_decisions", "execution_time_ms"))
        .transpose()?;
    let prompt_tokens = d
        .prompt_tokens
        .map(|n| int4(n, "local_decisions", "prompt_tokens"))
        .transpose()?;
    let completion_tokens = d
        .completion_tokens
        .map(|n| int4(n, "local_decisions", "completion_tokens"))
        .transpose()?;
    Ok(boxed![
        d.decision_id.clone(),
        d.task_id.clone(),
        d.account_id.clone(),
        d.stock_symbol.clone(),
        d.decision_result.as_str(),
        d.confidence_score.get(),
        d.reasoning.clone(),
        d.market_data.clone().map(Json),
        d.start_time,
        d.end_time,
        execution_time,
        d.analysis_date,
        d.prompt.clone(),
        d.prompt_hash.clone(),
        d.raw_answer.clone(),
        d.parsed_decision.clone().map(Json),
        d.error.clone(),
        prompt_tokens,
        completion_tokens,
        d.from_cache,
        int4(d.llm_calls, "local_decisions", "llm_calls")?,
    ])
}

pub fn read_decision(r: &Reader) -> Result<LocalDecision> {
    Ok(LocalDecision {
        decision_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        stock_symbol: r.text(3)?,
        decision_result: r.parsed(4)?,
        confidence_score: r.fixed(5)?,
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
    LazyLock::new(|| TableSql::new("tasks", TASK_COLUMNS, '$'));

pub fn task_params(t: &Task) -> Result<Params> {
    let total_items = t
        .total_items
        .map(|n| int4(n, "tasks", "total_items"))
        .transpose()?;
    Ok(boxed![
        t.task_id.clone(),
        t.account_id.clone(),
        t.stock_symbol.clone(),
        t.market_type.map(|m| m.as_str()),
        t.user_prompt_id.clone(),
        t.ai_config_id.clone(),
        t.start_date,
        t.end_date,
        t.status.as_str(),
        t.created_at,
        t.started_at,
        t.paused_at,
        t.resumed_at,
        t.completed_at,
        t.error_message.clone(),
        total_items,
        int4(t.processed_items, "tasks", "processed_items")?,
        t.time_granularity.as_str(),
        int4(t.decision_interval, "tasks", "decision_interval")?,
        t.stats.clone().map(Json),
        t.strategy.clone(),
        Json(t.options.clone()),
        t.lease_owner.clone(),
        t.lease_expires_at,
        t.checkpoint.clone().map(Json),
        t.updated_at,
    ])
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
    LazyLock::new(|| TableSql::new("trade_records", TRADE_COLUMNS, '$'));

pub fn trade_params(t: &TradeRecord) -> Params {
    boxed![
        t.trade_id.clone(),
        t.task_id.clone(),
        t.account_id.clone(),
        t.stock_symbol.clone(),
        t.trade_action.as_str(),
        t.quantity.get(),
        t.price.get(),
        t.total_amount.get(),
        t.status.as_str(),
        t.trade_time,
        t.decision_id.clone(),
        t.commission.get(),
        t.tax.get(),
        t.total_fees.get(),
        t.position_side.as_str(),
        t.open_id.clone(),
        t.stock_market_value_after.get(),
        t.total_value_after.get(),
        t.margin_used_after.get(),
        t.remaining_quantity_after.get(),
        t.avg_price_after.get(),
        t.reject_reason.clone(),
        t.realized_pnl.map(|m| m.get()),
    ]
}

pub fn read_trade(r: &Reader) -> Result<TradeRecord> {
    Ok(TradeRecord {
        trade_id: r.text(0)?,
        task_id: r.opt_text(1)?,
        account_id: r.text(2)?,
        stock_symbol: r.text(3)?,
        trade_action: r.parsed(4)?,
        quantity: r.fixed(5)?,
        price: r.fixed(6)?,
        total_amount: r.fixed(7)?,
        status: r.parsed(8)?,
        trade_time: r.time(9)?,
        decision_id: r.opt_text(10)?,
        commission: r.fixed(11)?,
        tax: r.fixed(12)?,
        total_fees: r.fixed(13)?,
        position_side: r.parsed(14)?,
        open_id: r.opt_text(15)?,
        stock_market_value_after: r.fixed(16)?,
        total_value_after: r.fixed(17)?,
        margin_used_after: r.fixed(18)?,
        remaining_quantity_after: r.fixed(19)?,
        avg_price_after: r.fixed(20)?,
        reject_reason: r.opt_text(21)?,
        realized_pnl: r.opt_fixed(22)?,
    })
}

pub static TEMPLATE_SQL: LazyLock<TableSql> =
    LazyLock::new(|| TableSql::new("prompt_templates", TEMPLATE_COLUMNS, '$'));

pub fn template_params(t: &PromptTemplate) -> Params {
    boxed![
        t.prompt_id.clone(),
        t.content.clone(),
        t.description.clone(),
        t.status.as_str(),
        t.tags.clone(),
        t.created_at,
        t.updated_at,
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
    LazyLock::new(|| TableSql::new("ai_configs", AI_CONFIG_COLUMNS, '$'));

pub fn ai_config_params(c: &AiConfig) -> Result<Params> {
    Ok(boxed![
        c.config_id.clone(),
        c.name.clone(),
        c.local_ai_base_url.clone(),
        c.local_ai_api_key.clone(),
        c.local_ai_model_name.clone(),
        c.created_at,
        c.updated_at,
        c.temperature.get(),
        int4(c.max_tokens, "ai_configs", "max_tokens")?,
        int4(c.timeout_seconds, "ai_configs", "timeout_seconds")?,
        c.response_format.as_str(),
        int4(c.max_concurrency, "ai_configs", "max_concurrency")?,
        int4(c.max_retries, "ai_configs", "max_retries")?,
        c.knowledge_cutoff,
    ])
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
        temperature: r.fixed(7)?,
        max_tokens: r.int(8)?,
        timeout_seconds: r.int(9)?,
        response_format: r.parsed(10)?,
        max_concurrency: r.int(11)?,
        max_retries: r.int(12)?,
        knowledge_cutoff: r.get(13)?,
    })
}

pub fn read_bar(r: &Reader) -> Result<Bar> {
    Ok(Bar {
        ts: r.time(0)?,
        open: r.fixed(1)?,
        high: r.fixed(2)?,
        low: r.fixed(3)?,
        close: r.fixed(4)?,
        volume: r.fixed(5)?,
    })
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

pub(crate) async fn task_in(
    client: &impl deadpool_postgres::GenericClient,
    task_id: &str,
) -> Result<Task> {
    let sql = format!("{} WHERE task_id = $1", TASK_SQL.select);
    let row = client
        .query_opt(&sql, &[&task_id])
        .await
        .map_err(db_error)?
        .ok_or_else(|| StoreError::NotFound {
            entity: "task",
            id: task_id.to_string(),
        })?;
    read_task(&Reader {
        row: &row,
        table: "tasks",
        columns: TASK_COLUMNS,
    })
}

pub(crate) async fn ensure_unused(
    tx: &deadpool_postgres::Transaction<'_>,
    column: &str,
    id: &str,
    what: &str,
) -> Result<()> {
    let used: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM tasks WHERE {column} = $1"),
            &[&id],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "{what} {id:?} is used by {used} task(s); delete those tasks first"
        )));
    }
    Ok(())
}
