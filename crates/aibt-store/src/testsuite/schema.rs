//! The schema as a whole: every column round-trips, the seed's defaults and indexes hold,
//! and an upgraded database keeps its rows.

use aibt_core::{
    Money, PositionSide, Quantity, Rate, TaskStatus, TemplateStatus, TimeGranularity, TradeStatus,
};
use serde_json::json;

use crate::*;

use super::samples::*;

/// Every column of every table comes back exactly as written, decimals to the last place and
/// JSON structurally equal.
pub async fn every_table_round_trips_every_column(store: &dyn Store) {
    let account = sample_account("user-account");
    store
        .insert_account(&account)
        .await
        .expect("insert account");
    assert_eq!(
        store.get_account("user-account").await.expect("get"),
        account
    );

    let template = PromptTemplate {
        prompt_id: "prompt-1".into(),
        content: "You trade {{ symbol }}.\n{% for bar in bars %}{{ bar.close }}{% endfor %}".into(),
        description: Some("均线策略".into()),
        status: TemplateStatus::Unavailable,
        tags: Some("trend,sma".into()),
        created_at: at(1),
        updated_at: at(2),
    };
    store
        .insert_template(&template)
        .await
        .expect("insert template");
    assert_eq!(store.get_template("prompt-1").await.expect("get"), template);

    let config = AiConfig {
        config_id: "config-1".into(),
        name: "local llama".into(),
        local_ai_base_url: "http://127.0.0.1:8080/v1".into(),
        local_ai_api_key: "ciphertext:abc".into(),
        local_ai_model_name: "smollm2-135m".into(),
        created_at: at(1),
        updated_at: at(2),
        temperature: rate("0.7"),
        max_tokens: 300,
        timeout_seconds: 45,
        response_format: aibt_core::ResponseFormat::JsonObject,
        max_concurrency: 8,
        max_retries: 5,
        knowledge_cutoff: chrono::NaiveDate::from_ymd_opt(2024, 6, 30),
        price_input_per_million: Some(money("0.15000001")),
        price_output_per_million: Some(money("123456.6")),
        reasoning_effort: Some("high".into()),
        decision_mode: aibt_core::DecisionMode::Tools,
        tools_refused: Some("HTTP 400: tools 不支持".into()),
    };
    store
        .insert_ai_config(&config)
        .await
        .expect("insert config");
    assert_eq!(store.get_ai_config("config-1").await.expect("get"), config);
    assert_eq!(
        store
            .find_ai_config_by_name("local llama")
            .await
            .expect("find"),
        Some(config.clone())
    );

    let task = running_task(store, "task-rt", "worker-1").await;
    assert_eq!(store.get_task("task-rt").await.expect("get task"), task);
    assert_eq!(
        store
            .get_task_account("task-rt")
            .await
            .expect("run account"),
        sample_run_account("task-rt")
    );

    let written = batch("task-rt", "worker-1", 0..3);
    let outcome = store.commit_steps(written.clone()).await.expect("commit");
    assert_eq!(outcome, CommitOutcome::Committed);

    let all = RecordQuery {
        limit: 100,
        ..RecordQuery::default()
    };
    let decisions = store
        .list_decisions("task-rt", &all)
        .await
        .expect("decisions");
    assert_eq!(decisions.items, written.decisions);
    let trades = store.list_trades("task-rt", &all).await.expect("trades");
    assert_eq!(trades.items, written.trades);
    let snapshots = store
        .list_snapshots("task-rt", &all)
        .await
        .expect("snapshots");
    assert_eq!(snapshots.items, written.snapshots);

    let after = store.get_task("task-rt").await.expect("task after commit");
    assert_eq!(after.processed_items, 3);
    assert_eq!(after.total_items, Some(100));
    assert_eq!(after.checkpoint, Some(json!({"next_bar": 3})));
    assert_eq!(after.lease_expires_at, Some(at(10_000)));
}

/// The seed's defaults, as read back from rows the backend test inserted with only the
/// columns the seed requires (`account_id`, `prompt_id`, `task_id` and `snapshot_id` name
/// them, `decision_id` and `trade_id` likewise).
pub async fn defaults_match_seed(store: &dyn Store, ids: &SeedDefaultIds) {
    let account = store.get_account(&ids.account_id).await.expect("account");
    assert_eq!(account.stock_quantity, Quantity::ZERO);
    assert_eq!(account.total_value, Money::ZERO);
    assert_eq!(account.position_side, PositionSide::Long);
    assert_eq!(account.margin_used, Money::ZERO);
    assert_eq!(account.short_avg_price, Money::ZERO);
    assert_eq!(account.short_total_cost, Money::ZERO);
    assert!(account.short_positions.is_empty());
    assert!(account.long_positions.is_empty());
    assert_eq!(account.available_balance, Money::ZERO);
    assert_eq!(account.commission_rate_buy, rate("0.001"));
    assert_eq!(account.commission_rate_sell, rate("0.001"));
    assert_eq!(account.tax_rate, rate("0.001"));
    assert_eq!(account.min_commission, money("5.00"));
    assert_eq!(account.total_fees, Money::ZERO);
    assert!(account.created_at > at(0) && account.updated_at > at(0));

    let template = store.get_template(&ids.prompt_id).await.expect("template");
    assert_eq!(template.status, TemplateStatus::Available);
    assert_eq!(template.description, None);
    assert_eq!(template.tags, None);

    let task = store.get_task(&ids.task_id).await.expect("task");
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(task.processed_items, 0);
    assert_eq!(task.time_granularity, TimeGranularity::Daily);
    assert_eq!(task.decision_interval, 1);
    assert_eq!(task.market_type, None);
    assert_eq!(task.user_prompt_id, None);
    assert_eq!(task.ai_config_id, None);
    assert_eq!(task.started_at, None);
    assert_eq!(task.total_items, None);
    assert_eq!(task.stats, None);

    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };
    let trade = store
        .list_trades(&ids.task_id, &all)
        .await
        .expect("trades")
        .items
        .into_iter()
        .next()
        .expect("the default trade");
    assert_eq!(trade.status, TradeStatus::Pending);
    assert_eq!(trade.commission, Money::ZERO);
    assert_eq!(trade.tax, Money::ZERO);
    assert_eq!(trade.total_fees, Money::ZERO);
    assert_eq!(trade.position_side, PositionSide::Long);
    assert_eq!(trade.open_id, None);
    assert_eq!(trade.stock_market_value_after, Money::ZERO);
    assert_eq!(trade.total_value_after, Money::ZERO);
    assert_eq!(trade.margin_used_after, Money::ZERO);
    assert_eq!(trade.remaining_quantity_after, Quantity::ZERO);
    assert_eq!(trade.avg_price_after, Money::ZERO);

    let snapshot = store
        .list_snapshots(&ids.task_id, &all)
        .await
        .expect("snapshots")
        .items
        .into_iter()
        .next()
        .expect("the default snapshot");
    assert_eq!(snapshot.margin_used, Money::ZERO);
    assert_eq!(snapshot.position_side, PositionSide::Long);
    assert_eq!(snapshot.short_avg_price, Money::ZERO);
    assert_eq!(snapshot.short_total_cost, Money::ZERO);
    assert!(snapshot.short_positions.is_empty() && snapshot.long_positions.is_empty());
    assert_eq!(snapshot.available_balance, Money::ZERO);
    assert_eq!(snapshot.total_fees, Money::ZERO);

    let decision = store
        .list_decisions(&ids.task_id, &all)
        .await
        .expect("decisions")
        .items
        .into_iter()
        .next()
        .expect("the default decision");
    assert_eq!(decision.market_data, None);
    assert_eq!(decision.end_time, None);
    assert_eq!(decision.execution_time_ms, None);
    assert!(!decision.from_cache);
    assert_eq!(decision.llm_calls, 0);
    assert_eq!(decision.raw_answer, None);
    assert_eq!(decision.thinking, None);
    assert_eq!(decision.reasoning_tokens, None);
    assert_eq!(decision.cost, None);

    // An AI config inserted with only the seed's columns ("cfg-d"): room for a reasoning
    // model to think, and no effort sent.
    let config = store.get_ai_config("cfg-d").await.expect("minimal config");
    assert_eq!(config.max_tokens, 2048);
    assert_eq!(config.timeout_seconds, 60);
    assert_eq!(config.reasoning_effort, None);
    assert_eq!(config.decision_mode, aibt_core::DecisionMode::Json);
    assert_eq!(config.tools_refused, None);
    assert_eq!(decision.tool_transcript, None);
}

/// After an upgrade from schema version 1, the rows written then read back whole, with the
/// new columns at their defaults. `account_id` names an account written at version 1.
pub async fn an_upgraded_database_keeps_its_rows(
    store: &dyn Store,
    account_id: &str,
    config_id: &str,
) {
    // Every later migration applied: the backend's newest version.
    let latest = store.check().await.expect("check").latest_version;
    assert_eq!(store.schema_version().await.expect("version"), latest);
    let account = store
        .get_account(account_id)
        .await
        .expect("account from version 1");
    assert_eq!(account.initial_balance, money("1234.5"));
    assert_eq!(account.slippage, Rate::ZERO);
    assert_eq!(account.borrow_rate, Rate::ZERO);
    let config = store
        .get_ai_config(config_id)
        .await
        .expect("config from version 1");
    // A row keeps the limit it was given (version 2's default), though new rows get 2048.
    assert_eq!(config.max_tokens, 400);
    assert_eq!(config.reasoning_effort, None);
    assert_eq!(config.timeout_seconds, 60);
    assert_eq!(
        config.response_format,
        aibt_core::ResponseFormat::JsonSchema
    );
    assert_eq!(config.temperature, Rate::ZERO);
    assert_eq!(config.knowledge_cutoff, None);
    assert_eq!(config.price_input_per_million, None);
    assert_eq!(config.price_output_per_million, None);
    // The experiment tables exist, empty.
    let experiments = store.list_experiments(10, None).await.expect("experiments");
    assert!(experiments.items.is_empty());
    assert_eq!(
        store
            .experiment_of_task("old-task")
            .await
            .expect("experiment of a task"),
        None
    );
}

/// Identifiers of the rows a backend test inserted with raw SQL for [`defaults_match_seed`].
pub struct SeedDefaultIds {
    pub account_id: String,
    pub prompt_id: String,
    pub task_id: String,
}

/// `(table, column)` of every index of the seed's section 5.
pub const SEED_INDEXES: &[(&str, &str)] = &[
    ("virtual_accounts", "market_type"),
    ("virtual_accounts", "stock_symbol"),
    ("account_snapshots", "task_id"),
    ("account_snapshots", "account_id"),
    ("account_snapshots", "timestamp"),
    ("local_decisions", "task_id"),
    ("local_decisions", "account_id"),
    ("local_decisions", "stock_symbol"),
    ("local_decisions", "start_time"),
    ("local_decisions", "end_time"),
    ("tasks", "account_id"),
    ("tasks", "stock_symbol"),
    ("tasks", "status"),
    ("tasks", "ai_config_id"),
    ("tasks", "time_granularity"),
    ("tasks", "created_at"),
    ("tasks", "start_date"),
    ("tasks", "end_date"),
    ("trade_records", "task_id"),
    ("trade_records", "account_id"),
    ("trade_records", "stock_symbol"),
    ("trade_records", "trade_action"),
    ("trade_records", "trade_time"),
];

/// The primary keys of section 5.
pub const SEED_PRIMARY_KEYS: &[(&str, &str)] = &[
    ("virtual_accounts", "account_id"),
    ("account_snapshots", "snapshot_id"),
    ("local_decisions", "decision_id"),
    ("tasks", "task_id"),
    ("trade_records", "trade_id"),
    ("prompt_templates", "prompt_id"),
    ("ai_configs", "config_id"),
];

/// The catalog lists an index on each seed column (a primary key's unique index counts for
/// its key column), and `market_bars` is unique on its series and timestamp.
pub async fn catalog_lists_every_seed_index(store: &dyn Store, primary_keys_listed: bool) {
    let indexes = store.indexes().await.expect("indexes");
    for (table, column) in SEED_INDEXES {
        assert!(
            indexes.iter().any(
                |i| i.table == *table && i.columns.first().map(String::as_str) == Some(*column)
            ),
            "no index on {table}.{column}; catalog lists {indexes:#?}"
        );
    }
    if primary_keys_listed {
        for (table, column) in SEED_PRIMARY_KEYS {
            assert!(
                indexes
                    .iter()
                    .any(|i| i.table == *table && i.unique && i.columns == [column.to_string()]),
                "no unique index for the primary key {table}.{column}"
            );
        }
        assert!(
            indexes.iter().any(|i| i.table == "market_bars"
                && i.unique
                && i.columns == ["symbol", "market_type", "granularity", "ts"]),
            "market_bars is not unique on (symbol, market_type, granularity, ts)"
        );
    }
}
