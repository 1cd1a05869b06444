//! One test suite for every backend: each backend's tests open a real, empty database and run
//! these functions against it, so SQLite and PostgreSQL are held to the same behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::{
    Bar, Lot, MarketType, Money, Percent, PositionSide, Quantity, Rate, TaskStatus, TemplateStatus,
    TimeGranularity, TradeAction, TradeStatus,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use crate::*;

fn money(text: &str) -> Money {
    Money::parse(text).expect("test money")
}

fn quantity(text: &str) -> Quantity {
    Quantity::parse(text).expect("test quantity")
}

fn rate(text: &str) -> Rate {
    Rate::parse(text).expect("test rate")
}

fn at(seconds: i64) -> DateTime<Utc> {
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

fn sample_decision(task_id: &str, n: u32) -> LocalDecision {
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
    }
}

fn sample_snapshot(task_id: &str, n: u32) -> AccountSnapshot {
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

fn batch(task_id: &str, owner: &str, range: std::ops::Range<u32>) -> StepBatch {
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

async fn running_task(store: &dyn Store, task_id: &str, owner: &str) -> Task {
    let mut task = sample_task(task_id, "user-account", TaskStatus::Running);
    task.lease_owner = Some(owner.to_string());
    task.lease_expires_at = Some(at(10_000));
    store
        .create_task(&task, &sample_run_account(task_id))
        .await
        .expect("create task");
    task
}

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

/// Decimal extremes survive in every kind of column.
pub async fn decimal_extremes_round_trip(store: &dyn Store) {
    for (i, text) in [
        "0.00000001",
        "-0.00000001",
        "12345678901234567890.12345678",
        "-12345678901234567890.12345678",
        "792281625142643375935.43950335",
        "0",
    ]
    .iter()
    .enumerate()
    {
        let mut account = sample_account(&format!("extreme-{i}"));
        account.initial_balance = money(text);
        account.stock_quantity = quantity(text);
        store.insert_account(&account).await.expect("insert");
        let back = store.get_account(&account.account_id).await.expect("get");
        assert_eq!(back.initial_balance.to_string(), money(text).to_string());
        assert_eq!(back.stock_quantity, quantity(text));
    }
}

/// Any decimal with up to 8 places survives a write and a read (a property test; run with a
/// runtime because the store is async).
pub fn any_eight_place_decimal_survives(runtime: &tokio::runtime::Runtime, store: &dyn Store) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let mut runner = TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU32::new(0);
    let strategy = (
        -79_228_162_514_264_337_593_543_950_335i128..=79_228_162_514_264_337_593_543_950_335i128,
        0u32..=8,
    );
    runner
        .run(&strategy, |(mantissa, scale)| {
            let value = aibt_core::Decimal::from_i128_with_scale(mantissa, scale);
            let Ok(amount) = Money::new(value) else {
                return Ok(()); // Outside the range: refused before any write.
            };
            prop_assert_eq!(amount.get(), value);
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut account = sample_account(&format!("prop-{n}"));
            account.total_value = amount;
            account.total_fees = amount.abs();
            let back = runtime.block_on(async {
                store.insert_account(&account).await.expect("insert");
                store.get_account(&account.account_id).await.expect("get")
            });
            prop_assert_eq!(back.total_value, amount);
            prop_assert_eq!(back.total_fees, amount.abs());
            Ok(())
        })
        .expect("decimals survive the database");
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
}

/// After an upgrade from schema version 1, the rows written then read back whole, with the
/// new columns at their defaults. `account_id` names an account written at version 1.
pub async fn an_upgraded_database_keeps_its_rows(
    store: &dyn Store,
    account_id: &str,
    config_id: &str,
) {
    assert_eq!(store.schema_version().await.expect("version"), 2);
    let account = store
        .get_account(account_id)
        .await
        .expect("account from version 1");
    assert_eq!(account.initial_balance, money("1234.5"));
    let config = store
        .get_ai_config(config_id)
        .await
        .expect("config from version 1");
    assert_eq!(config.max_tokens, 400);
    assert_eq!(config.timeout_seconds, 60);
    assert_eq!(
        config.response_format,
        aibt_core::ResponseFormat::JsonSchema
    );
    assert_eq!(config.temperature, Rate::ZERO);
    assert_eq!(config.knowledge_cutoff, None);
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

/// A batch is written only while the writer holds the lease of a RUNNING task; otherwise
/// nothing of it is stored.
pub async fn commits_are_fenced_by_lease_and_status(store: &dyn Store) {
    running_task(store, "task-fence", "worker-1").await;
    let refused = store
        .commit_steps(batch("task-fence", "worker-2", 0..2))
        .await
        .expect("commit");
    assert_eq!(
        refused,
        CommitOutcome::Refused {
            status: TaskStatus::Running,
            lease_owner: Some("worker-1".into())
        }
    );
    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };
    assert!(
        store
            .list_snapshots("task-fence", &all)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let task = store.get_task("task-fence").await.expect("task");
    let mut paused = Lifecycle::of(&task);
    paused.status = TaskStatus::Paused;
    paused.paused_at = Some(at(50));
    store
        .update_lifecycle("task-fence", TaskStatus::Running, &paused)
        .await
        .expect("pause");
    let refused = store
        .commit_steps(batch("task-fence", "worker-1", 0..2))
        .await
        .expect("commit");
    assert!(matches!(
        refused,
        CommitOutcome::Refused {
            status: TaskStatus::Paused,
            ..
        }
    ));
    assert!(
        store
            .list_trades("task-fence", &all)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    // A second, conflicting status change is refused and names the current status.
    let err = store
        .update_lifecycle("task-fence", TaskStatus::Running, &paused)
        .await
        .expect_err("stale status");
    assert!(err.to_string().contains("PAUSED"), "{err}");
}

/// A duplicate step (same ids) is refused as a whole: nothing of the batch is stored twice.
pub async fn a_repeated_batch_changes_nothing(store: &dyn Store) {
    running_task(store, "task-dup", "w").await;
    store
        .commit_steps(batch("task-dup", "w", 0..2))
        .await
        .expect("first");
    let err = store
        .commit_steps(batch("task-dup", "w", 1..3))
        .await
        .expect_err("overlapping ids");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };
    assert_eq!(
        store
            .list_snapshots("task-dup", &all)
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    assert_eq!(
        store
            .get_task("task-dup")
            .await
            .expect("task")
            .processed_items,
        2
    );
}

/// Claims take RUNNING tasks nobody holds, or whose lease expired; never a held one.
pub async fn claims_respect_leases(store: &dyn Store) {
    let mut task = sample_task("task-claim", "user-account", TaskStatus::Running);
    task.created_at = at(-100);
    store
        .create_task(&task, &sample_run_account("task-claim"))
        .await
        .expect("create");
    let mut pending = sample_task("task-pending", "user-account", TaskStatus::Pending);
    pending.created_at = at(-200);
    store
        .create_task(&pending, &sample_run_account("task-pending"))
        .await
        .expect("create");

    let claimed = store
        .claim_task("w1", crate::ClaimFilter::any(), at(0), at(30))
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task_id, "task-claim");
    assert_eq!(claimed.lease_owner.as_deref(), Some("w1"));
    assert!(
        store
            .claim_task("w2", crate::ClaimFilter::task("task-claim"), at(10), at(40))
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        store
            .renew_lease("task-claim", "w1", at(60))
            .await
            .expect("renew")
    );
    assert!(
        !store
            .renew_lease("task-claim", "w2", at(60))
            .await
            .expect("renew")
    );
    // A worker with free slots only for model tasks, or only for the others, claims those.
    let mut model = sample_task("task-model", "user-account", TaskStatus::Running);
    model.strategy = "template".into();
    model.created_at = at(-50);
    store
        .create_task(&model, &sample_run_account("task-model"))
        .await
        .expect("create");
    let only_rules = crate::ClaimFilter {
        task_id: None,
        strategy: Some(crate::StrategyFilter::Except("template")),
    };
    assert!(
        store
            .claim_task("w3", only_rules, at(10), at(40))
            .await
            .expect("claim")
            .is_none(),
        "the only free task is a model's"
    );
    let only_models = crate::ClaimFilter {
        task_id: None,
        strategy: Some(crate::StrategyFilter::Only("template")),
    };
    let claimed = store
        .claim_task("w3", only_models, at(10), at(40))
        .await
        .expect("claim")
        .expect("the model task");
    assert_eq!(claimed.task_id, "task-model");
    // After the lease expires another worker takes the task over.
    let taken = store
        .claim_task("w2", crate::ClaimFilter::any(), at(61), at(90))
        .await
        .expect("claim")
        .expect("the expired task");
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));
    assert!(
        !store
            .renew_lease("task-claim", "w1", at(100))
            .await
            .expect("renew")
    );
}

/// Lists page with cursors and never repeat or skip a row.
pub async fn lists_page_with_cursors(store: &dyn Store) {
    running_task(store, "task-page", "w").await;
    store
        .commit_steps(batch("task-page", "w", 0..25))
        .await
        .expect("commit");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_snapshots(
                "task-page",
                &RecordQuery {
                    limit: 7,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("page");
        seen.extend(page.items.into_iter().map(|s| s.snapshot_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("task-page-s{n:09}")).collect();
    assert_eq!(seen, expected);

    let mut trades = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_trades(
                "task-page",
                &RecordQuery {
                    limit: 4,
                    cursor: cursor.clone(),
                    action: Some(TradeAction::Buy),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("page");
        trades.extend(page.items.into_iter().map(|t| t.trade_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0u32..25)
        .filter(|n: &u32| n.is_multiple_of(2))
        .map(|n| format!("task-page-t{n:08}"))
        .collect();
    assert_eq!(trades, expected);

    let window = store
        .list_decisions(
            "task-page",
            &RecordQuery {
                from: Some(at(100 + 5 * 3600)),
                to: Some(at(100 + 9 * 3600)),
                limit: 100,
                ..RecordQuery::default()
            },
        )
        .await
        .expect("window");
    assert_eq!(window.items.len(), 5);

    for n in 0..5 {
        let mut task = sample_task(&format!("task-list-{n}"), "acct-list", TaskStatus::Pending);
        task.created_at = at(1000 + n);
        store
            .create_task(&task, &sample_run_account(&task.task_id))
            .await
            .expect("create");
    }
    let first = store
        .list_tasks(&TaskQuery {
            status: Some(TaskStatus::Pending),
            account_id: Some("acct-list".into()),
            limit: 3,
            ..TaskQuery::default()
        })
        .await
        .expect("tasks");
    let ids: Vec<&str> = first.items.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["task-list-4", "task-list-3", "task-list-2"]);
    let second = store
        .list_tasks(&TaskQuery {
            status: Some(TaskStatus::Pending),
            account_id: Some("acct-list".into()),
            limit: 3,
            cursor: first.next_cursor.clone(),
            ..TaskQuery::default()
        })
        .await
        .expect("tasks");
    let ids: Vec<&str> = second.items.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["task-list-1", "task-list-0"]);
    assert!(second.next_cursor.is_none());

    let err = store
        .list_tasks(&TaskQuery {
            limit: 3,
            cursor: Some("garbage".into()),
            ..TaskQuery::default()
        })
        .await
        .expect_err("bad cursor");
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "cursor",
                ..
            }
        ),
        "{err}"
    );
}

/// Accounts and AI configs in use cannot be deleted; deleting a task removes its records.
pub async fn deletes_keep_references_whole(store: &dyn Store) {
    store
        .insert_account(&sample_account("acct-del"))
        .await
        .expect("insert");
    let task = sample_task("task-del", "acct-del", TaskStatus::Completed);
    store
        .create_task(&task, &sample_run_account("task-del"))
        .await
        .expect("create");
    let err = store.delete_account("acct-del").await.expect_err("in use");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    store
        .delete_task("task-del", &[])
        .await
        .expect("delete task");
    assert!(matches!(
        store.get_task_account("task-del").await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete_account("acct-del")
        .await
        .expect("delete account");
    assert!(matches!(
        store.get_account("acct-del").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_task("task-del", &[]).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn bar(day: i64, close: &str) -> Bar {
    let close = money(close);
    Bar::new(
        Utc.timestamp_opt(1_600_000_000 + day * 86_400, 0)
            .single()
            .expect("time"),
        close,
        close,
        close,
        close,
        quantity("1000.5"),
    )
    .expect("bar")
}

/// Bars import atomically, re-import idempotently, and refuse silent changes.
pub async fn bars_import_and_read_back(store: &dyn Store) {
    let series = SeriesKey {
        symbol: "TEST".into(),
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
    };
    let bars: Vec<Bar> = (0..10)
        .map(|d| bar(d, &format!("{}.25", 100 + d)))
        .collect();
    let outcome = store
        .import_bars(&series, &bars, ImportMode::RefuseChanges)
        .await
        .expect("import");
    assert_eq!(outcome.inserted, 10);
    let again = store
        .import_bars(&series, &bars, ImportMode::RefuseChanges)
        .await
        .expect("re-import");
    assert_eq!((again.inserted, again.unchanged), (0, 10));

    let mut changed = bars.clone();
    changed[3] = bar(3, "1.5");
    changed.push(bar(20, "5"));
    let err = store
        .import_bars(&series, &changed, ImportMode::RefuseChanges)
        .await
        .expect_err("a changed bar");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // Nothing of the refused file was stored, not even its new bar.
    assert_eq!(
        store
            .bars(&series, BarRange::default())
            .await
            .expect("bars"),
        bars
    );

    let replaced = store
        .import_bars(&series, &changed, ImportMode::Replace)
        .await
        .expect("replace");
    assert_eq!(
        (replaced.inserted, replaced.replaced, replaced.unchanged),
        (1, 1, 9)
    );

    let info = store
        .series_info(&series)
        .await
        .expect("info")
        .expect("series");
    assert_eq!(info.bars, 11);
    assert_eq!(info.first, bars[0].ts);
    let listed = store.list_series().await.expect("list");
    assert!(listed.contains(&info));

    let window = store
        .bars(
            &series,
            BarRange {
                from: Some(bars[2].ts),
                to: Some(bars[6].ts),
                ..BarRange::default()
            },
        )
        .await
        .expect("window");
    assert_eq!(window.len(), 5);
    assert_eq!(window[1], changed[3]);
    let chunk = store
        .bars(
            &series,
            BarRange {
                after: Some(bars[7].ts),
                limit: Some(2),
                ..BarRange::default()
            },
        )
        .await
        .expect("chunk");
    assert_eq!(chunk, vec![bars[8], bars[9]]);
    let before = store
        .bars_before(&series, bars[5].ts, 3)
        .await
        .expect("before");
    assert_eq!(
        before.iter().map(|b| b.ts).collect::<Vec<_>>(),
        vec![bars[2].ts, bars[3].ts, bars[4].ts]
    );
    assert_eq!(
        store
            .count_bars(&series, bars[0].ts, bars[9].ts + Duration::days(100))
            .await
            .expect("count"),
        11
    );
    let missing = SeriesKey {
        symbol: "NONE".into(),
        ..series
    };
    assert!(store.series_info(&missing).await.expect("info").is_none());
    assert!(
        store
            .series_bounds(&missing)
            .await
            .expect("bounds")
            .is_none()
    );
}

/// Templates: listing hides soft-deleted ones unless asked; AI config names are unique.
pub async fn templates_and_configs_behave(store: &dyn Store) {
    for (id, status) in [
        ("tpl-a", TemplateStatus::Available),
        ("tpl-b", TemplateStatus::Deleted),
        ("tpl-c", TemplateStatus::Unavailable),
    ] {
        store
            .insert_template(&PromptTemplate {
                prompt_id: id.into(),
                content: "x".into(),
                description: None,
                status,
                tags: None,
                created_at: at(0),
                updated_at: at(0),
            })
            .await
            .expect("insert");
    }
    let visible = store.list_templates(false, 10, None).await.expect("list");
    let ids: Vec<&str> = visible.items.iter().map(|t| t.prompt_id.as_str()).collect();
    assert!(
        ids.contains(&"tpl-a") && ids.contains(&"tpl-c") && !ids.contains(&"tpl-b"),
        "{ids:?}"
    );
    let all = store.list_templates(true, 10, None).await.expect("list");
    assert_eq!(all.items.len(), visible.items.len() + 1);

    let config = AiConfig {
        config_id: "cfg-x".into(),
        name: "same".into(),
        local_ai_base_url: "http://x".into(),
        local_ai_api_key: "k".into(),
        local_ai_model_name: "m".into(),
        created_at: at(0),
        updated_at: at(0),
        temperature: Rate::ZERO,
        max_tokens: 400,
        timeout_seconds: 60,
        response_format: aibt_core::ResponseFormat::JsonSchema,
        max_concurrency: 4,
        max_retries: 3,
        knowledge_cutoff: None,
    };
    store.insert_ai_config(&config).await.expect("insert");
    let err = store
        .insert_ai_config(&AiConfig {
            config_id: "cfg-y".into(),
            ..config.clone()
        })
        .await
        .expect_err("duplicate name");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = store
        .insert_ai_config(&config)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

/// Answers are cached under their key; a second answer for the same key keeps the first.
pub async fn cached_answers_round_trip(store: &dyn Store) {
    assert!(store.get_cached_answer("k1").await.expect("get").is_none());
    let answer = CachedAnswer {
        cache_key: "k1".into(),
        base_url: "http://127.0.0.1:8080/v1".into(),
        model: "m".into(),
        response: json!({"content": "{\"action\":\"BUY\"}", "usage": {"prompt_tokens": 10}}),
        created_at: at(5),
    };
    store.put_cached_answer(&answer).await.expect("put");
    store
        .put_cached_answer(&CachedAnswer {
            response: json!({"content": "other"}),
            ..answer.clone()
        })
        .await
        .expect("put again");
    assert_eq!(
        store.get_cached_answer("k1").await.expect("get"),
        Some(answer)
    );
}

/// Runs every async case of the suite on one fresh database.
pub async fn run_all(store: &dyn Store) {
    every_table_round_trips_every_column(store).await;
    decimal_extremes_round_trip(store).await;
    commits_are_fenced_by_lease_and_status(store).await;
    a_repeated_batch_changes_nothing(store).await;
    claims_respect_leases(store).await;
    lists_page_with_cursors(store).await;
    deletes_keep_references_whole(store).await;
    bars_import_and_read_back(store).await;
    templates_and_configs_behave(store).await;
    cached_answers_round_trip(store).await;
    assert_eq!(
        store.schema_version().await.expect("version"),
        store.check().await.expect("check").latest_version
    );
}
