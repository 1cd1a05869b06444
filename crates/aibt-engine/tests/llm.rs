//! AI tasks against a fake OpenAI-compatible server on 127.0.0.1: what is sent, how each kind
//! of answer and failure ends, the decision cache, replays, prefetching, the point-in-time
//! window and blind mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aibt_ai::llm::CacheMode;
use aibt_core::{MarketType, ResponseFormat, TaskStatus, TradeAction};
use aibt_engine::TaskOptions;
use aibt_engine::ai_config::AiConfigSpec;
use aibt_testkit::{FakeLlm, Reply, decision, hashed_decision, prompt_of};
use common::ai::*;
use common::{settings, sqlite};
use serde_json::{Value, json};

fn options() -> TaskOptions {
    TaskOptions {
        cache: CacheMode::Off,
        ..TaskOptions::default()
    }
}

/// A fake that answers every prompt with its hashed decision (BUY, SELL or HOLD).
async fn hashing_fake(delay: Duration) -> FakeLlm {
    FakeLlm::start(move |_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay,
    })
    .await
}

/// Runs the standard 30-bar task against a fake whose reply to a request is `reply(step,
/// reask, body)`, with the config `tweak` makes.
async fn run_against(
    reply: impl Fn(u64, bool, &Value) -> Reply + Send + Sync + 'static,
    tweak: impl FnOnce(AiConfigSpec) -> AiConfigSpec,
    options: TaskOptions,
) -> (Finished, FakeLlm) {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake =
        FakeLlm::start(move |_, body| reply(step_of(&prompt_of(body)), is_reask(body), body)).await;
    let config = store_config(store.as_ref(), tweak(config_spec(&fake.base_url()))).await;
    let finished = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: MARKET_TEMPLATE,
        config: &config,
        options,
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    (finished, fake)
}

fn ok(step: u64) -> Reply {
    let action = ["BUY", "HOLD", "SELL"][(step % 3) as usize];
    Reply::answer(decision(action, 0.75, &format!("step {step}")))
}

#[tokio::test]
async fn a_json_schema_run_records_everything_about_each_decision() {
    let (run, fake) = run_against(|step, _, _| ok(step), |s| s, options()).await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    let decisions = run.decisions.len();
    assert!(decisions >= 28, "{decisions} decisions");
    assert_eq!(fake.calls(), decisions);
    assert_eq!(run.task.processed_items as usize, decisions);

    let request = &fake.requests()[0];
    assert_eq!(request["model"], "fake-model");
    assert_eq!(request["temperature"], 0.0);
    assert_eq!(request["stream"], false);
    assert_eq!(request["response_format"]["type"], "json_schema");
    assert_eq!(
        request["response_format"]["json_schema"]["schema"],
        aibt_ai::answer::answer_schema()
    );
    assert_eq!(request["messages"][0]["role"], "system");
    assert!(prompt_of(request).starts_with("step 0\nGOOG at 2012-03-01"));

    for (step, row) in run.decisions.iter().enumerate() {
        assert!(!row.failed(), "{row:?}");
        let prompt = row.prompt.as_deref().expect("prompt");
        assert_eq!(step_of(prompt), step as u64);
        assert_eq!(row.prompt_hash.as_deref().map(str::len), Some(64));
        assert_eq!(
            row.raw_answer.as_deref(),
            Some(
                decision(
                    ["BUY", "HOLD", "SELL"][step % 3],
                    0.75,
                    &format!("step {step}")
                )
                .as_str()
            )
        );
        let parsed = row.parsed_decision.as_ref().expect("parsed");
        assert_eq!(parsed["action"], ["BUY", "HOLD", "SELL"][step % 3]);
        assert_eq!(row.confidence_score.to_string(), "0.750000");
        assert_eq!(row.reasoning, format!("step {step}"));
        assert_eq!(row.llm_calls, 1);
        assert!(!row.from_cache);
        assert!(row.prompt_tokens.is_some_and(|t| t > 100));
        assert!(row.completion_tokens.is_some_and(|t| t > 0));
        assert!(row.market_data.is_some());
    }
    let stats = run.stats();
    assert_eq!(stats["llm_decisions"], json!(decisions));
    assert_eq!(stats["failed_decisions"], 0);
    assert_eq!(stats["llm_calls"], json!(decisions));
    assert_eq!(stats["cache_hits"], 0);
    assert!(stats["latency_mean_ms"].is_number());
    assert!(stats["latency_p95_ms"].is_number());
    assert!(
        run.trades
            .iter()
            .any(|t| t.trade_action == TradeAction::Buy)
    );
}

#[tokio::test]
async fn answers_in_prose_and_fences_are_read_without_response_format() {
    let (run, fake) = run_against(
        |step, _, _| {
            let json = decision(["buy", "Hold", "SELL"][(step % 3) as usize], 0.6, "ok");
            Reply::answer(match step % 3 {
                0 => format!("Sure! Here is my decision:\n```json\n{json}\n```\nGood luck."),
                1 => format!("I think we should wait. {json} That is all."),
                _ => json.replace('}', ",}"),
            })
        },
        |s| AiConfigSpec {
            response_format: Some(ResponseFormat::None),
            ..s
        },
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert!(fake.requests()[0].get("response_format").is_none());
    assert_eq!(run.decisions[0].decision_result, TradeAction::Buy);
    assert_eq!(run.decisions[1].decision_result, TradeAction::Hold);
    assert_eq!(run.decisions[2].decision_result, TradeAction::Sell);
}

#[tokio::test]
async fn an_invalid_answer_is_asked_again_and_the_second_one_counts() {
    let (run, fake) = run_against(
        |step, reask, _| {
            if reask {
                ok(step)
            } else {
                Reply::answer("{\"action\": \"BUY\", \"confidence\": ")
            }
        },
        |s| s,
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert!(run.decisions.iter().all(|d| d.llm_calls == 2));
    assert_eq!(fake.calls(), 2 * run.decisions.len());
    // The second request carries the first answer and what was wrong with it.
    let reask = fake
        .requests()
        .into_iter()
        .find(is_reask)
        .expect("a re-ask");
    let messages = reask["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert!(
        messages[3]["content"]
            .as_str()
            .expect("text")
            .contains("cannot be used"),
        "{reask}"
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_retry_after_says() {
    let started = Instant::now();
    let limited = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = limited.clone();
    let (run, fake) = run_against(
        move |step, _, _| {
            // The first request of steps 3 and 7 is refused with a one-second Retry-After.
            if (step == 3 || step == 7) && seen.lock().expect("lock").insert(step) {
                return Reply::Status {
                    code: 429,
                    retry_after: Some("1".into()),
                    body: "{\"error\": {\"message\": \"slow down\"}}".into(),
                };
            }
            ok(step)
        },
        |s| s,
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert_eq!(fake.calls(), run.decisions.len() + 2);
    assert_eq!(run.decisions[3].llm_calls, 2);
    assert_eq!(run.decisions[7].llm_calls, 2);
    assert!(run.decisions[3].execution_time_ms.expect("latency") >= 1000);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn server_errors_that_pass_are_retried_and_ones_that_persist_fail_the_task() {
    // A 503 on the first call of steps 4, 14 and 24: retried, nothing lost.
    let refused = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = refused.clone();
    let (run, _) = run_against(
        move |step, _, _| {
            if step % 10 == 4 && seen.lock().expect("lock").insert(step) {
                return Reply::Status {
                    code: 503,
                    retry_after: Some("0".into()),
                    body: "overloaded".into(),
                };
            }
            ok(step)
        },
        |s| s,
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    for step in [4, 14, 24] {
        assert_eq!(run.decisions[step].llm_calls, 2);
    }

    // A 503 on every call of those steps: the retries run out and each is a failed decision.
    let (run, _) = run_against(
        |step, _, _| {
            if step % 10 == 4 {
                return Reply::Status {
                    code: 503,
                    retry_after: Some("0".into()),
                    body: "overloaded".into(),
                };
            }
            ok(step)
        },
        |s| s,
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 3);
    for step in [4, 14, 24] {
        let row = &run.decisions[step];
        assert_eq!(row.decision_result, TradeAction::Hold);
        assert_eq!(row.confidence_score.to_string(), "0.000000");
        assert_eq!(row.llm_calls, 3, "one call and two retries");
        assert!(
            row.error.as_deref().expect("error").contains("HTTP 503"),
            "{row:?}"
        );
        assert!(row.raw_answer.is_none());
    }
    assert_eq!(run.stats()["failed_decisions"], 3);

    // Every call a 500: past the failure limit (a quarter of the decisions, at least 5), the
    // task is FAILED with the reason.
    let (run, fake) = run_against(
        |_, _, _| Reply::Status {
            code: 500,
            retry_after: None,
            body: "boom".into(),
        },
        |s| AiConfigSpec {
            max_retries: Some(0),
            ..s
        },
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Failed);
    let limit = (run.task.total_items.expect("total") as u64)
        .div_ceil(4)
        .max(5);
    assert_eq!(run.failed(), limit + 1);
    assert_eq!(fake.calls() as u64, limit + 1);
    let error = run.task.error_message.as_deref().expect("error message");
    assert!(
        error.contains("more than the limit") && error.contains("HTTP 500"),
        "{error}"
    );
}

#[tokio::test]
async fn a_hang_past_the_timeout_and_a_dropped_connection_are_retried() {
    let hung = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (h, d) = (hung.clone(), dropped.clone());
    let (run, _) = run_against(
        move |step, _, _| {
            if step == 2 && h.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::Hang(Duration::from_secs(4));
            }
            if step == 5 && d.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::Drop;
            }
            ok(step)
        },
        |s| AiConfigSpec {
            timeout_seconds: Some(1),
            ..s
        },
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert_eq!(run.decisions[2].llm_calls, 2);
    assert!(run.decisions[2].execution_time_ms.expect("latency") >= 1000);
    assert_eq!(run.decisions[5].llm_calls, 2);

    // Without retries, each is one failed decision.
    let (run, _) = run_against(
        |step, _, _| match step {
            2 => Reply::Hang(Duration::from_secs(3)),
            5 => Reply::Drop,
            _ => ok(step),
        },
        |s| AiConfigSpec {
            timeout_seconds: Some(1),
            max_retries: Some(0),
            ..s
        },
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 2);
    assert!(
        run.decisions[2]
            .error
            .as_deref()
            .expect("error")
            .contains("no answer within")
    );
    assert!(
        run.decisions[5]
            .error
            .as_deref()
            .expect("error")
            .contains("connection")
    );
}

#[tokio::test]
async fn unknown_actions_bad_confidences_and_cut_answers_become_failed_decisions() {
    let (run, fake) = run_against(
        |step, _, _| match step {
            1 => Reply::answer(decision("MOON", 0.9, "to the moon")),
            2 => Reply::answer(decision("BUY", 1.5, "very sure")),
            3 => Reply::answer(decision("SELL", -0.1, "negative")),
            4 => Reply::Answer {
                content:
                    "{\"action\": \"BUY\", \"confidence\": 0.8, \"reasoning\": \"the trend is str"
                        .into(),
                finish_reason: "length",
                delay: Duration::ZERO,
            },
            5 => Reply::answer("I cannot decide."),
            _ => ok(step),
        },
        |s| s,
        options(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 5);
    let error = |step: usize| run.decisions[step].error.clone().expect("failed");
    assert!(error(1).contains("MOON"), "{}", error(1));
    assert!(
        error(2).contains("confidence") && error(2).contains("outside 0..1"),
        "{}",
        error(2)
    );
    assert!(error(3).contains("confidence"), "{}", error(3));
    assert!(error(4).contains("cut off"), "{}", error(4));
    assert!(error(5).contains("no JSON"), "{}", error(5));
    for step in 1..=5 {
        let row = &run.decisions[step];
        // Asked three times (the answer and two re-asks), every answer kept as raw text.
        assert_eq!(row.llm_calls, 3);
        assert!(row.raw_answer.is_some());
        assert!(row.parsed_decision.is_none());
        assert_eq!(row.decision_result, TradeAction::Hold);
    }
    assert_eq!(fake.calls(), run.decisions.len() + 5 * 2);
    assert_eq!(run.stats()["failed_decisions"], 5);
}

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
        options: options(),
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
                    ..options()
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
            ..options()
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
async fn blind_prompts_show_neither_the_symbol_nor_a_date() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::ZERO).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let account = settings(MarketType::Us, "10000", "0.001");
    let task = |blind| AiTask {
        store: &store,
        series: &series,
        settings: &account,
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions { blind, ..options() },
        period: period(),
        interval: 1,
    };
    let blind = task(true).run().await;
    let seen = task(false).run().await;
    let date = |text: &str| {
        text.as_bytes().windows(10).any(|w| {
            w[4] == b'-'
                && w[7] == b'-'
                && w.iter()
                    .enumerate()
                    .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        })
    };
    for row in &blind.decisions {
        let prompt = row.prompt.as_deref().expect("prompt");
        assert!(!prompt.contains("GOOG"), "{prompt}");
        assert!(!date(prompt), "{prompt}");
        assert!(prompt.contains("ASSET at bar "), "{prompt}");
    }
    assert!(seen.decisions.iter().all(|d| {
        d.prompt
            .as_deref()
            .is_some_and(|p| p.contains("GOOG") && date(p))
    }));
    // The prices are rebased, the money is real: both runs hold the same buy and hold return.
    assert_ne!(blind.decisions[0].prompt, seen.decisions[0].prompt);
    assert_eq!(
        blind.stats()["buy_hold_return_pct"],
        seen.stats()["buy_hold_return_pct"]
    );
    assert!(
        blind.trades.iter().all(|t| t.price.to_f64() > 300.0),
        "trades at real prices"
    );
}

#[tokio::test]
async fn a_period_before_the_models_cutoff_carries_a_memorisation_warning() {
    let (run, _) = run_against(
        |step, _, _| ok(step),
        |s| AiConfigSpec {
            knowledge_cutoff: chrono::NaiveDate::from_ymd_opt(2023, 10, 1),
            ..s
        },
        options(),
    )
    .await;
    let warning = run.stats()["memorisation_warning"]
        .as_str()
        .expect("warning");
    assert!(
        warning.contains("2023-10-01") && warning.contains("blind"),
        "{warning}"
    );

    let (run, _) = run_against(
        |step, _, _| ok(step),
        |s| AiConfigSpec {
            knowledge_cutoff: chrono::NaiveDate::from_ymd_opt(2011, 1, 1),
            ..s
        },
        options(),
    )
    .await;
    assert!(run.stats().get("memorisation_warning").is_none());
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
        options: options(),
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

#[tokio::test]
async fn blind_quantities_are_in_rebased_units_both_ways() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    // Step 0 buys 50 units as the prompt counts them; later steps hold.
    let fake = FakeLlm::start(|_, body| {
        let prompt = prompt_of(body);
        Reply::answer(if step_of(&prompt) == 0 {
            json!({"action": "BUY", "quantity": "50", "confidence": 0.9, "reasoning": "in"})
                .to_string()
        } else {
            decision("HOLD", 0.5, "wait")
        })
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions {
            blind: true,
            ..options()
        },
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    // The rebasing reference: the first bar loaded for the task (30 shown + 100 of history).
    let history = store
        .bars_before(&series, period().0, 130)
        .await
        .expect("bars");
    let base = history[0].close.get();
    let real = (aibt_core::Decimal::from(5000) / base).floor();
    let buy = &run.trades[0];
    assert_eq!(buy.trade_action, TradeAction::Buy);
    assert_eq!(buy.quantity.get(), real, "50 rebased units at base {base}");
    let parsed = run.decisions[0].parsed_decision.as_ref().expect("parsed");
    assert_ne!(
        parsed["quantity"], "50",
        "the recorded decision is in real units"
    );
    // The next prompt shows the position in rebased units, not the real share count.
    let next = run.decisions[1].prompt.as_deref().expect("prompt");
    let shown: f64 = next
        .split("position LONG ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|q| q.parse().ok())
        .expect("a long position");
    let expected =
        real.to_string().parse::<f64>().unwrap() * base.to_string().parse::<f64>().unwrap() / 100.0;
    assert!(
        (shown - expected).abs() < 1e-6,
        "shown {shown}, expected {expected}"
    );
}

/// Shows the position and its bracket, so that a model can manage it.
const BRACKET_TEMPLATE: &str = "step {{ step }}\nclose {{ bars[-1].close }}\n\
position {{ position.side }} stop {{ position.stop_loss }} target {{ position.take_profit }}\n\
{% for o in orders %}order {{ o.action }} at {{ o.limit_price }}\n{% endfor %}";

#[tokio::test]
async fn a_models_brackets_are_carried_out_and_their_exits_recorded() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    // Flat: buy with a tight bracket. Long: hold, and once in a while raise the stop.
    let fake = FakeLlm::start(|_, body| {
        let prompt = prompt_of(body);
        let step = step_of(&prompt);
        Reply::answer(if prompt.contains("position FLAT") {
            r#"{"action": "BUY", "confidence": 0.9, "reasoning": "enter", "stop_loss_pct": 1, "take_profit_pct": 1.5}"#
                .to_string()
        } else if step.is_multiple_of(4) {
            r#"{"action": "HOLD", "confidence": 0.6, "reasoning": "trail", "stop_loss_pct": 0.5}"#
                .to_string()
        } else {
            decision("HOLD", 0.6, "hold")
        })
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: BRACKET_TEMPLATE,
        config: &config,
        options: options(),
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(
        run.task.status,
        TaskStatus::Completed,
        "{:?}",
        run.task.error_message
    );
    assert_eq!(run.failed(), 0);

    // Every exit was the bracket's (the model never sold): named, and tied to no decision.
    let exits: Vec<_> = run
        .trades
        .iter()
        .filter(|t| t.trade_action == TradeAction::Sell)
        .collect();
    assert!(exits.len() >= 2, "{} exits", exits.len());
    for exit in &exits {
        assert!(
            matches!(
                exit.exit_reason,
                Some(aibt_core::ExitReason::StopLoss | aibt_core::ExitReason::TakeProfit)
            ),
            "{exit:?}"
        );
        assert_eq!(exit.decision_id, None);
    }
    // Each entry's bracket came from its decision: its stop 1% under that decision's close,
    // which the next prompt shows (until a later decision moved it).
    let entries: Vec<_> = run
        .decisions
        .iter()
        .filter(|d| d.decision_result == TradeAction::Buy)
        .collect();
    let bought = run
        .trades
        .iter()
        .filter(|t| {
            t.trade_action == TradeAction::Buy && t.status == aibt_core::TradeStatus::Executed
        })
        .count();
    let open_at_end = run.snapshots.last().unwrap().stock_quantity.is_positive();
    assert_eq!(bought, exits.len() + usize::from(open_at_end));
    // A decision at the last bar has no next open to fill at.
    assert!(entries.len() >= bought);
    for entry in &entries {
        let parsed = entry.parsed_decision.as_ref().unwrap();
        assert_eq!(parsed["stop_loss_pct"], "1.000000");
        assert_eq!(parsed["take_profit_pct"], "1.500000");
    }
    let shown = run.decisions.iter().find_map(|d| {
        let prompt = d.prompt.as_deref()?;
        prompt.contains("position LONG").then(|| prompt.to_string())
    });
    let shown = shown.expect("a prompt while long");
    assert!(!shown.contains("stop none"), "{shown}");
    assert!(run.stats()["num_trades"].as_u64().unwrap() >= 2);
}
