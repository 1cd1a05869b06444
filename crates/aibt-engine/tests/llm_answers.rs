//! A model task against a fake OpenAI-compatible server on 127.0.0.1: what each request
//! sends, how each kind of answer is read (a JSON schema, prose and fences, an invalid answer
//! asked again, an unusable one kept as a failed decision), and a model's brackets carried
//! out. The fake, the task and its records are in `common/ai.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_core::{MarketType, ResponseFormat, TaskStatus, TradeAction};
use aibt_engine::ai_config::AiConfigSpec;
use aibt_testkit::{FakeLlm, Reply, decision, prompt_of};
use common::ai::*;
use common::{settings, sqlite};
use serde_json::json;

#[tokio::test]
async fn a_json_schema_run_records_everything_about_each_decision() {
    let (run, fake) = run_against(|step, _, _| answer_for(step), |s| s, uncached()).await;
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
        uncached(),
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
                answer_for(step)
            } else {
                Reply::answer("{\"action\": \"BUY\", \"confidence\": ")
            }
        },
        |s| s,
        uncached(),
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
            _ => answer_for(step),
        },
        |s| s,
        uncached(),
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
        options: uncached(),
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
