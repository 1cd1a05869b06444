//! A run interrupted at arbitrary points (the worker's task aborted mid-flight, as a crash
//! would stop it) and resumed by other workers ends with exactly the trades, snapshots, run
//! account and statistics of an uninterrupted run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_core::{MarketType, TimeGranularity};
use aibt_engine::run::claim_at;
use aibt_engine::{FillRule, RunConfig};
use aibt_store::{AccountSnapshot, Store, TradeRecord};
use common::*;

fn strip(id: &str, task_id: &str) -> String {
    id.replacen(task_id, "TASK", 1)
}

fn normalise_trades(trades: &[TradeRecord], task_id: &str) -> Vec<TradeRecord> {
    trades
        .iter()
        .map(|t| TradeRecord {
            trade_id: strip(&t.trade_id, task_id),
            task_id: None,
            account_id: String::new(),
            decision_id: t.decision_id.as_deref().map(|d| strip(d, task_id)),
            open_id: t.open_id.as_deref().map(|o| strip(o, task_id)),
            ..t.clone()
        })
        .collect()
}

async fn snapshots(store: &dyn Store, task_id: &str) -> Vec<AccountSnapshot> {
    let mut out = all_snapshots(store, task_id, 5000).await;
    for s in &mut out {
        s.snapshot_id = strip(&s.snapshot_id, task_id);
        s.task_id = None;
        s.account_id = String::new();
        for lot in s
            .long_positions
            .iter_mut()
            .chain(s.short_positions.iter_mut())
        {
            lot.trade_id = strip(&lot.trade_id, task_id);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_resumes_to_exactly_the_same_result() {
    let (_dir, store) = sqlite().await;
    let series = import(
        store.as_ref(),
        "BTCUSD_1h.csv",
        "BTC",
        MarketType::Coin,
        TimeGranularity::Hourly,
    )
    .await;
    let account = settings(MarketType::Coin, "1000", "0.002");
    let strategy_params = params(&[("fast", "5"), ("slow", "12"), ("short", "true")]);
    let mut config = RunConfig::new("straight");
    config.batch_bars = 7;

    let straight = create(
        &store,
        &series,
        &account,
        "builtin:sma-cross",
        strategy_params.clone(),
        FillRule::NextOpen,
        1,
    )
    .await;
    let straight = run_to_end(&store, &straight.task_id, &config).await;

    let task = create(
        &store,
        &series,
        &account,
        "builtin:sma-cross",
        strategy_params,
        FillRule::NextOpen,
        1,
    )
    .await;
    aibt_engine::transition(
        store.as_ref(),
        &task.task_id,
        aibt_engine::Transition::Start,
    )
    .await
    .unwrap();
    let mut clock = aibt_core::time::now();
    let mut interruptions = 0;
    for (attempt, stop_after) in [2usize, 5, 1, 9, 3, 4, 13].into_iter().enumerate() {
        let mut worker = config.clone();
        worker.worker_id = format!("worker-{attempt}");
        // Each new worker finds the previous one's lease expired.
        clock += chrono::Duration::seconds(31);
        let Some(claimed) = claim_at(
            &store,
            &worker,
            aibt_store::ClaimFilter::task(&task.task_id),
            clock,
        )
        .await
        .unwrap() else {
            break;
        };
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let handle = tokio::spawn(async move {
            claimed
                .run(&mut |p| {
                    let _ = sender.send(p.bars_done);
                })
                .await
        });
        let mut seen = 0;
        while seen < stop_after && receiver.recv().await.is_some() {
            seen += 1;
        }
        if seen == stop_after {
            handle.abort();
            interruptions += 1;
        }
        let _ = handle.await;
    }
    assert!(
        interruptions >= 5,
        "only {interruptions} interruptions happened"
    );
    // A last worker finishes whatever is left.
    clock += chrono::Duration::seconds(31);
    let mut last = config.clone();
    last.worker_id = "finisher".into();
    if let Some(claimed) = claim_at(
        &store,
        &last,
        aibt_store::ClaimFilter::task(&task.task_id),
        clock,
    )
    .await
    .unwrap()
    {
        claimed.run(&mut |_| {}).await.unwrap();
    }
    let resumed = store.get_task(&task.task_id).await.unwrap();
    assert_eq!(
        resumed.status,
        aibt_core::TaskStatus::Completed,
        "{:?}",
        resumed.error_message
    );

    assert_eq!(resumed.stats, straight.task.stats);
    let trades = all_trades(store.as_ref(), &task.task_id).await;
    assert_eq!(
        normalise_trades(&trades, &task.task_id),
        normalise_trades(&straight.trades, &straight.task.task_id)
    );
    assert!(
        trades.len() > 20,
        "the scenario should trade: {}",
        trades.len()
    );
    assert_eq!(
        snapshots(store.as_ref(), &task.task_id).await,
        snapshots(store.as_ref(), &straight.task.task_id).await
    );
    let a = store.get_task_account(&task.task_id).await.unwrap();
    let b = store
        .get_task_account(&straight.task.task_id)
        .await
        .unwrap();
    assert_eq!(
        (
            a.total_value,
            a.available_balance,
            a.total_fees,
            a.stock_quantity
        ),
        (
            b.total_value,
            b.available_balance,
            b.total_fees,
            b.stock_quantity
        )
    );
    assert_eq!(resumed.processed_items, straight.task.processed_items);
}
