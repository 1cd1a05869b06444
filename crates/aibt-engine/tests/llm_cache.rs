//! Answers used again without calling the model: the second identical run served from the
//! decision cache, and a replay that takes another task's decisions under other fees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_ai::llm::CacheMode;
use aibt_core::{MarketType, TaskStatus};
use aibt_engine::TaskOptions;
use common::ai::*;
use common::{settings, sqlite};
use serde_json::json;

#[tokio::test]
async fn the_second_identical_run_is_served_from_the_cache() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::ZERO).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let account = settings(MarketType::Us, "10000", "0.001");
    let task = |cache| AiTask {
        store: &store,
        series: &series,
        settings: &account,
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions {
            cache,
            ..TaskOptions::default()
        },
        period: period(),
        interval: 1,
    };
    let first = task(CacheMode::ReadWrite).run().await;
    let calls = fake.calls();
    assert_eq!(calls, first.decisions.len());
    let second = task(CacheMode::ReadWrite).run().await;
    assert_eq!(fake.calls(), calls, "the second run made calls");
    assert_eq!(second.stats()["llm_calls"], 0);
    assert_eq!(second.stats()["cache_hits"], json!(second.decisions.len()));
    assert!(
        second
            .decisions
            .iter()
            .all(|d| d.from_cache && d.llm_calls == 0)
    );
    assert_eq!(first.trade_facts(), second.trade_facts());
    assert_eq!(first.equity_curve(), second.equity_curve());
    assert_eq!(first.decision_facts(), second.decision_facts());
    assert_eq!(first.money_stats(), second.money_stats());

    // Off: the cache is neither read nor written.
    let third = task(CacheMode::Off).run().await;
    assert_eq!(fake.calls(), 2 * calls);
    assert_eq!(first.trade_facts(), third.trade_facts());
}

#[tokio::test]
async fn a_replay_takes_the_same_decisions_under_other_fees_without_calls() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::ZERO).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let source = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: uncached(),
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(source.task.status, TaskStatus::Completed);
    let calls = fake.calls();

    let expensive = settings(MarketType::Us, "10000", "0.01");
    let account_id = aibt_store::new_id();
    store
        .insert_account(&aibt_engine::accounts::new_account(
            &account_id,
            "GOOG",
            &expensive,
            false,
        ))
        .await
        .expect("account");
    let replay = aibt_engine::create_task(
        store.as_ref(),
        aibt_engine::TaskSpec {
            account_id,
            symbol: "GOOG".into(),
            market_type: MarketType::Us,
            granularity: series.granularity,
            start: Some(source.task.start_date),
            end: Some(source.task.end_date),
            decision_interval: 1,
            strategy: aibt_engine::StrategyRef::Replay {
                task_id: source.task.task_id.clone(),
            },
            options: TaskOptions::default(),
        },
    )
    .await
    .expect("replay task");
    let replay = run_ai(&store, &replay.task_id).await;
    assert_eq!(replay.task.status, TaskStatus::Completed);
    assert_eq!(fake.calls(), calls, "a replay calls no model");
    assert_eq!(source.decision_facts(), replay.decision_facts());
    assert_ne!(
        source.stats()["equity_final"],
        replay.stats()["equity_final"]
    );
    let fees = |run: &Finished| {
        run.stats()["total_fees"]
            .as_str()
            .and_then(|f| f.parse::<f64>().ok())
            .expect("total_fees")
    };
    assert!(fees(&replay) > 5.0 * fees(&source));
    // The same orders, at the same prices, with ten times the commission.
    let sizes = |run: &Finished| {
        run.trades
            .iter()
            .map(|t| (t.trade_time, t.trade_action, t.price))
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(&source), sizes(&replay));
}
