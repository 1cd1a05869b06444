//! A run's snapshots read back through the Store equal, in every seed column, what the engine
//! produced. SQLite stores them compactly (integer mantissas, the run's repeated columns once,
//! lot lists by reference: migration 9); PostgreSQL stores each one as the seed's row, column
//! for column, so the same run there is the reference. The run shorts and goes long with
//! fractional coin quantities and fees, so every column moves, and SQLite writes it in
//! batches of several sizes (lot lists are shared within a batch, never across one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aibt_core::{MarketType, PositionSide, TimeGranularity};
use aibt_engine::{FillRule, RunConfig};
use aibt_store::{AccountSnapshot, Store};
use aibt_store_postgres::PostgresStore;
use aibt_testkit::postgres::TestDatabase;
use common::*;

/// Every snapshot of a task, through the Store's paging, with the ids that differ between
/// two runs (task, account, lots' trades) replaced by placeholders.
async fn snapshots(store: &dyn Store, task_id: &str, account_id: &str) -> Vec<AccountSnapshot> {
    let mut out = all_snapshots(store, task_id, 997).await;
    for s in &mut out {
        assert_eq!(s.task_id.as_deref(), Some(task_id));
        assert_eq!(s.account_id, account_id);
        s.snapshot_id = s.snapshot_id.replacen(task_id, "TASK", 1);
        s.task_id = None;
        s.account_id = String::new();
        for lot in s
            .long_positions
            .iter_mut()
            .chain(s.short_positions.iter_mut())
        {
            lot.trade_id = lot.trade_id.replacen(task_id, "TASK", 1);
        }
    }
    out
}

async fn run(store: Arc<dyn Store>, batch_bars: usize) -> Vec<AccountSnapshot> {
    let series = import(
        store.as_ref(),
        "BTCUSD_1h.csv",
        "BTC",
        MarketType::Coin,
        TimeGranularity::Hourly,
    )
    .await;
    let task = create(
        &store,
        &series,
        &settings(MarketType::Coin, "1000", "0.002"),
        "builtin:sma-cross",
        params(&[("fast", "5"), ("slow", "12"), ("short", "true")]),
        FillRule::NextOpen,
        1,
    )
    .await;
    let mut config = RunConfig::new("snapshot-storage");
    config.batch_bars = batch_bars;
    let run = run_to_end(&store, &task.task_id, &config).await;
    let account = store
        .get_task_account(&run.task.task_id)
        .await
        .expect("run account");
    snapshots(store.as_ref(), &run.task.task_id, &account.account_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_snapshots_read_back_from_sqlite_equal_the_seed_rows_postgres_keeps() {
    let db = TestDatabase::new("aibt_snapshot_storage");
    let postgres: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db.url()).await.expect("pg"));
    let reference = run(postgres, 64).await;
    assert!(reference.len() > 500, "{} snapshots", reference.len());
    // The run exercises what the compact form treats specially.
    assert!(
        reference
            .iter()
            .any(|s| s.position_side == PositionSide::Short)
    );
    assert!(reference.iter().any(|s| !s.long_positions.is_empty()));
    assert!(reference.iter().any(|s| !s.short_positions.is_empty()));
    assert!(reference.iter().any(|s| s.profit_loss.is_negative()));
    assert!(
        reference
            .iter()
            .any(|s| !s.stock_quantity.get().fract().is_zero())
    );

    for batch_bars in [1, 7, 16_384] {
        let (_dir, sqlite) = sqlite().await;
        let stored = run(sqlite, batch_bars).await;
        assert_eq!(stored.len(), reference.len(), "batches of {batch_bars}");
        for (read, expected) in stored.iter().zip(&reference) {
            assert_eq!(read, expected, "batches of {batch_bars}");
        }
    }
}
