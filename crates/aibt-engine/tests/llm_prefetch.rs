//! Asking the model ahead: prefetching gives the one-at-a-time result with calls in flight
//! together, a template that reads the account is never asked ahead, and a paused model task
//! resumes to the result it would have had uninterrupted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use aibt_core::{MarketType, TaskStatus};
use aibt_engine::TaskOptions;
use common::ai::*;
use common::{settings, sqlite};

#[tokio::test]
async fn prefetching_gives_the_sequential_result_in_a_fraction_of_the_time() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::from_millis(50)).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = |prefetch| {
        let store = &store;
        let series = &series;
        let config = &config;
        async move {
            let started = Instant::now();
            let finished = AiTask {
                store,
                series,
                settings: &settings(MarketType::Us, "10000", "0.001"),
                template: MARKET_TEMPLATE,
                config,
                options: TaskOptions {
                    prefetch,
                    ..uncached()
                },
                period: period(),
                interval: 1,
            }
            .run()
            .await;
            (finished, started.elapsed())
        }
    };
    let (sequential, sequential_time) = run(1).await;
    assert_eq!(fake.max_in_flight(), 1);
    let (ahead, ahead_time) = run(8).await;
    assert_eq!(fake.max_in_flight(), 8, "eight decisions in flight at once");
    assert_eq!(sequential.decision_facts(), ahead.decision_facts());
    assert_eq!(sequential.trade_facts(), ahead.trade_facts());
    assert_eq!(sequential.equity_curve(), ahead.equity_curve());
    assert_eq!(sequential.money_stats(), ahead.money_stats());
    let prompts = |run: &Finished| {
        run.decisions
            .iter()
            .map(|d| d.prompt.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(prompts(&sequential), prompts(&ahead));
    let speedup = sequential_time.as_secs_f64() / ahead_time.as_secs_f64();
    eprintln!(
        "prefetch 8: {:.0} ms against {:.0} ms one at a time ({speedup:.1}x)",
        ahead_time.as_secs_f64() * 1e3,
        sequential_time.as_secs_f64() * 1e3
    );
    // A loose bound: the benchmark measures; this only shows the calls overlap.
    assert!(
        speedup > 2.0,
        "prefetching did not shorten the run: {speedup:.2}x"
    );
}

#[tokio::test]
async fn a_template_that_reads_the_account_is_never_asked_ahead() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::from_millis(5)).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions {
            prefetch: 8,
            ..uncached()
        },
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(fake.max_in_flight(), 1);
    // Its prompts saw the account move.
    let prompts: Vec<String> = run
        .decisions
        .iter()
        .filter_map(|d| d.prompt.clone())
        .collect();
    assert!(
        prompts.iter().any(|p| p.contains("position LONG")),
        "never long"
    );
    assert!(
        prompts.iter().any(|p| p.contains(" BUY ")),
        "no earlier decision shown"
    );
}

#[tokio::test]
async fn a_paused_ai_task_resumes_to_the_uninterrupted_result() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::from_millis(20)).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let spec = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: uncached(),
        period: period(),
        interval: 2,
    };
    let whole = spec.run().await;

    let task = spec.create().await;
    let id = task.task_id.clone();
    aibt_engine::transition(store.as_ref(), &id, aibt_engine::Transition::Start)
        .await
        .expect("start");
    let runner = {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let config = aibt_engine::RunConfig::new("pausing-worker");
            aibt_engine::claim_and_run(
                &store,
                &config,
                aibt_store::ClaimFilter::task(&id),
                &mut |_| {},
            )
            .await
            .map(|outcome| outcome.expect("claimable"))
        })
    };
    loop {
        let now = store.get_task(&id).await.expect("task");
        if now.processed_items >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    aibt_engine::transition(store.as_ref(), &id, aibt_engine::Transition::Pause)
        .await
        .expect("pause");
    let outcome = runner.await.expect("join").expect("run");
    assert!(
        matches!(
            outcome,
            aibt_engine::RunOutcome::Stopped {
                status: TaskStatus::Paused,
                ..
            }
        ),
        "{outcome:?}"
    );
    let paused = store.get_task(&id).await.expect("task");
    assert!(
        paused.processed_items < whole.task.processed_items,
        "paused too late"
    );
    aibt_engine::transition(store.as_ref(), &id, aibt_engine::Transition::Resume)
        .await
        .expect("resume");
    let resumed = run_ai(&store, &id).await;
    assert_eq!(resumed.task.status, TaskStatus::Completed);
    assert_eq!(whole.decision_facts(), resumed.decision_facts());
    assert_eq!(whole.trade_facts(), resumed.trade_facts());
    assert_eq!(whole.equity_curve(), resumed.equity_curve());
    assert_eq!(whole.money_stats(), resumed.money_stats());
    let prompts = |run: &Finished| {
        run.decisions
            .iter()
            .map(|d| d.prompt.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        prompts(&whole),
        prompts(&resumed),
        "a resumed run's prompts show the same history"
    );
}
