//! Reasoning models against the fake OpenAI-compatible server: thinking in `<think>` blocks
//! and in a separate `reasoning_content` field is kept with the decision and never read for
//! it; an answer cut off while still thinking is a failed decision that says so; the token
//! limit and `reasoning_effort` reach the server; a cached answer keeps its thinking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_ai::llm::CacheMode;
use aibt_core::{MarketType, TaskStatus, TradeAction};
use aibt_engine::TaskOptions;
use aibt_testkit::{FakeLlm, Reply, decision, prompt_of, reasoned};
use common::ai::*;
use serde_json::json;

/// A thinking model's content: a drafted BUY, rejected, then the real answer.
fn think_then(answer: &str) -> String {
    format!(
        "<think>\nRSI looks low, so maybe {}\nBut the trend is down: no.\n</think>\n\n{answer}",
        decision("BUY", 0.9, "draft")
    )
}

#[tokio::test]
async fn a_decision_drafted_in_the_thinking_is_never_traded() {
    let (run, fake) = run_against(
        |_, _, _| Reply::answer(think_then(&decision("HOLD", 0.6, "trend is down"))),
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(fake.calls(), run.decisions.len());
    // Every decision is the answer's HOLD: the BUY in the thinking bought nothing.
    assert!(run.trades.is_empty(), "{:?}", run.trade_facts());
    for row in &run.decisions {
        assert!(!row.failed(), "{row:?}");
        assert_eq!(row.decision_result, TradeAction::Hold);
        assert_eq!(row.reasoning, "trend is down");
        let thinking = row.thinking.as_deref().expect("thinking kept");
        assert!(thinking.starts_with("RSI looks low") && thinking.contains("\"draft\""));
        // The raw answer is what the server sent, thinking included.
        assert!(row.raw_answer.as_deref().unwrap().starts_with("<think>"));
    }
    assert_eq!(
        run.stats()["thinking_decisions"],
        json!(run.decisions.len())
    );
}

#[tokio::test]
async fn thinking_sent_apart_is_kept_and_its_tokens_counted() {
    let (run, _fake) = run_against(
        |step, _, _| {
            let action = ["BUY", "HOLD", "SELL"][(step % 3) as usize];
            reasoned(
                &format!("step {step}: weighing {{\"action\": \"SHORT\"}}…"),
                Some(&decision(action, 0.7, &format!("step {step}"))),
                "stop",
            )
        },
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    let mut reasoning_tokens = 0;
    for (step, row) in run.decisions.iter().enumerate() {
        assert!(!row.failed(), "{row:?}");
        let expected = [TradeAction::Buy, TradeAction::Hold, TradeAction::Sell][step % 3];
        assert_eq!(row.decision_result, expected, "step {step}");
        assert_eq!(
            row.thinking.as_deref(),
            Some(format!("step {step}: weighing {{\"action\": \"SHORT\"}}…").as_str())
        );
        let tokens = row.reasoning_tokens.expect("reasoning tokens");
        assert!(tokens > 0 && Some(tokens) < row.completion_tokens);
        reasoning_tokens += tokens;
    }
    assert!(
        run.trades
            .iter()
            .all(|t| t.trade_action != TradeAction::ShortSell)
    );
    assert_eq!(run.stats()["reasoning_tokens"], json!(reasoning_tokens));
}

#[tokio::test]
async fn an_answer_cut_off_while_thinking_fails_and_says_why() {
    let (run, fake) = run_against(
        |step, _, _| match step {
            // The server sent the thinking apart and no content at all.
            2 => reasoned(
                "Let me look at the last five bars one by one",
                None,
                "length",
            ),
            // The thinking never closed; its draft must not count.
            3 => Reply::Answer {
                content: format!("<think>Perhaps {}", decision("BUY", 0.9, "draft")),
                finish_reason: "length",
                delay: Duration::ZERO,
            },
            step => answer_for(step),
        },
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 2);
    for step in [2, 3] {
        let row = &run.decisions[step];
        let error = row.error.as_deref().expect("failed");
        assert!(
            error.contains("ran out during thinking") && error.contains("max_tokens 2048"),
            "{error}"
        );
        assert_eq!(row.decision_result, TradeAction::Hold);
        assert!(row.parsed_decision.is_none());
        assert!(row.thinking.is_some(), "step {step}");
    }
    // The default limit leaves room to think, and it is what the server was told.
    assert_eq!(fake.requests()[0]["max_tokens"], 2048);
    assert!(fake.requests()[0].get("reasoning_effort").is_none());
}

#[tokio::test]
async fn the_reasoning_effort_reaches_the_server() {
    let (run, fake) = run_against(
        |step, _, _| answer_for(step),
        |s| aibt_engine::ai_config::AiConfigSpec {
            reasoning_effort: Some("High".into()),
            ..s
        },
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert!(
        fake.requests()
            .iter()
            .all(|r| r["reasoning_effort"] == "high")
    );
    let wrong = aibt_engine::ai_config::build_ai_config(aibt_engine::ai_config::AiConfigSpec {
        reasoning_effort: Some("extreme".into()),
        ..config_spec("http://127.0.0.1:1/v1")
    })
    .expect_err("refused");
    assert!(
        wrong.to_string().contains("reasoning_effort") && wrong.to_string().contains("extreme"),
        "{wrong}"
    );
}

#[tokio::test]
async fn a_cached_answer_keeps_its_thinking() {
    let (_dir, store) = common::sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = FakeLlm::start(|_, body| {
        let step = step_of(&prompt_of(body));
        reasoned(
            &format!("thinking about step {step}"),
            Some(&decision("HOLD", 0.5, "wait")),
            "stop",
        )
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let settings = common::settings(MarketType::Us, "10000", "0.001");
    let task = |cache| AiTask {
        store: &store,
        series: &series,
        settings: &settings,
        template: MARKET_TEMPLATE,
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
    let second = task(CacheMode::ReadOnly).run().await;
    assert_eq!(fake.calls(), calls, "the second run made no call");
    assert_eq!(first.decisions.len(), second.decisions.len());
    for (a, b) in first.decisions.iter().zip(&second.decisions) {
        assert!(b.from_cache);
        assert_eq!(a.thinking, b.thinking);
        assert!(b.thinking.is_some());
        assert_eq!(a.reasoning_tokens, b.reasoning_tokens);
    }
}
