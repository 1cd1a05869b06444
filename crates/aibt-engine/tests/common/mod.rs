//! Running built-in strategies on real stored data, as the engine's tests need.

#![allow(dead_code)]

pub mod ai;

use std::collections::BTreeMap;
use std::sync::Arc;

use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, Money, Rate, TaskStatus, TimeGranularity};
use aibt_engine::accounts::new_account;
use aibt_engine::{
    FillRule, RunConfig, RunOutcome, StrategyRef, TaskOptions, TaskSpec, Transition, claim_and_run,
    create_task, transition,
};
use aibt_store::{AccountSnapshot, ImportMode, RecordQuery, SeriesKey, Store, Task, TradeRecord};
use aibt_store_sqlite::SqliteStore;

pub async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("aibt.db"))
        .await
        .expect("open");
    (dir, Arc::new(store))
}

pub fn sample_bytes(file: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../aibt-data/sample/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample")
}

pub async fn import(
    store: &dyn Store,
    file: &str,
    symbol: &str,
    market: MarketType,
    granularity: TimeGranularity,
) -> SeriesKey {
    let bars = aibt_data::parse_bars(
        file,
        &sample_bytes(file),
        &aibt_data::ImportOptions::default(),
    )
    .expect("csv");
    let series = SeriesKey {
        symbol: symbol.into(),
        market_type: market,
        granularity,
    };
    store
        .import_bars(&series, bars, ImportMode::RefuseChanges)
        .await
        .expect("import");
    series
}

pub fn settings(market: MarketType, cash: &str, commission: &str) -> AccountSettings {
    AccountSettings {
        market_type: market,
        initial_balance: Money::parse(cash).unwrap(),
        commission_rate_buy: Rate::parse(commission).unwrap(),
        commission_rate_sell: Rate::parse(commission).unwrap(),
        tax_rate: Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: Rate::ONE,
        whole_units: market == MarketType::Us,
        slippage: aibt_core::Rate::ZERO,
        borrow_rate: aibt_core::Rate::ZERO,
    }
}

pub struct Run {
    pub task: Task,
    pub trades: Vec<TradeRecord>,
}

impl Run {
    pub fn stats(&self) -> &serde_json::Value {
        self.task.stats.as_ref().expect("stats")
    }
}

pub fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Creates an account and a task, runs the task to its end and returns it with its trades.
pub async fn run_builtin(
    store: &Arc<dyn Store>,
    series: &SeriesKey,
    settings: &AccountSettings,
    strategy: &str,
    strategy_params: BTreeMap<String, String>,
    fill: FillRule,
    interval: i64,
) -> Run {
    let task = create(
        store,
        series,
        settings,
        strategy,
        strategy_params,
        fill,
        interval,
    )
    .await;
    run_to_end(store, &task.task_id, &RunConfig::new("test-worker")).await
}

pub async fn create(
    store: &Arc<dyn Store>,
    series: &SeriesKey,
    settings: &AccountSettings,
    strategy: &str,
    strategy_params: BTreeMap<String, String>,
    fill: FillRule,
    interval: i64,
) -> Task {
    let account_id = format!("acct-{}", uuid_like());
    store
        .insert_account(&new_account(
            &account_id,
            &series.symbol,
            settings,
            !settings.whole_units && settings.market_type == MarketType::Us,
        ))
        .await
        .expect("account");
    create_task(
        store.as_ref(),
        TaskSpec {
            account_id,
            symbol: series.symbol.clone(),
            market_type: series.market_type,
            granularity: series.granularity,
            start: None,
            end: None,
            decision_interval: interval,
            strategy: StrategyRef::builtin(strategy, strategy_params),
            options: TaskOptions {
                fill,
                ..TaskOptions::default()
            },
        },
    )
    .await
    .expect("create task")
}

pub async fn run_to_end(store: &Arc<dyn Store>, task_id: &str, config: &RunConfig) -> Run {
    let task = store.get_task(task_id).await.expect("task");
    if task.status == TaskStatus::Pending {
        transition(store.as_ref(), task_id, Transition::Start)
            .await
            .expect("start");
    }
    let outcome = claim_and_run(
        store,
        config,
        aibt_store::ClaimFilter::task(task_id),
        &mut |_| {},
    )
    .await
    .expect("run")
    .expect("claimable");
    let task = match outcome {
        RunOutcome::Finished(task) => *task,
        other => panic!("run did not finish: {other:?}"),
    };
    let trades = all_trades(store.as_ref(), task_id).await;
    Run { task, trades }
}

pub async fn all_trades(store: &dyn Store, task_id: &str) -> Vec<TradeRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_trades(
                task_id,
                &RecordQuery {
                    limit: 1000,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("trades");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Every snapshot of a task, through the Store's paging, `page` at a time.
pub async fn all_snapshots(store: &dyn Store, task_id: &str, page: u32) -> Vec<AccountSnapshot> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_snapshots(
                task_id,
                &RecordQuery {
                    limit: page,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("snapshots");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}
