//! Tool mode against the fake OpenAI-compatible server: a model that looks things up and
//! submits its decision; wrong tool names and malformed arguments answered with errors it can
//! read; a model that never submits stopped at the limit; a server that refuses tools falling
//! back to the JSON path once and remembering it; a re-run replaying every turn from the cache.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_ai::llm::CacheMode;
use aibt_core::{DecisionMode, MarketType, TaskStatus, TradeAction};
use aibt_engine::TaskOptions;
use aibt_testkit::{FakeLlm, Reply, decision, prompt_of, tool_calls, tool_results};
use common::ai::*;
use serde_json::{Value, json};

fn tools_mode(cache: CacheMode) -> TaskOptions {
    TaskOptions {
        cache,
        decision_mode: Some(DecisionMode::Tools),
        ..TaskOptions::default()
    }
}

/// The tools a request offers, by name.
fn offered(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn submit(action: &str, confidence: f64, reasoning: &str) -> Reply {
    tool_calls(&[(
        "submit_decision",
        json!({"action": action, "confidence": confidence, "reasoning": reasoning}),
    )])
}

/// The value after `name=` on the prompt's indicator line.
fn prompt_value(prompt: &str, name: &str) -> Option<f64> {
    prompt
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_model_looks_things_up_then_submits_its_decision() {
    let (run, fake) = run_against(
        |step, _, body| match tool_results(body).len() {
            0 => tool_calls(&[
                ("get_bars", json!({"count": 5})),
                ("get_position", json!({})),
            ]),
            2 => tool_calls(&[
                ("get_indicator", json!({"name": "sma", "period": 10})),
                ("validate_order", json!({"action": "BUY", "quantity": "3"})),
                ("get_decisions", json!({"count": 3})),
            ]),
            _ => submit(
                ["BUY", "HOLD", "SELL"][(step % 3) as usize],
                0.7,
                &format!("step {step}"),
            ),
        },
        |s| s,
        tools_mode(CacheMode::Off),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    // Three turns a decision, each offering every tool, requiring a call, with no grammar.
    assert_eq!(fake.calls(), 3 * run.decisions.len());
    for body in fake.requests() {
        assert_eq!(offered(&body).len(), 7);
        assert!(offered(&body).contains(&"submit_decision".to_string()));
        assert_eq!(body["tool_choice"], "required");
        assert!(body.get("response_format").is_none());
    }
    for (step, row) in run.decisions.iter().enumerate() {
        assert!(!row.failed(), "{row:?}");
        let expected = [TradeAction::Buy, TradeAction::Hold, TradeAction::Sell][step % 3];
        assert_eq!(row.decision_result, expected);
        assert_eq!(row.llm_calls, 3);
        let transcript = row
            .tool_transcript
            .as_ref()
            .expect("transcript")
            .as_array()
            .unwrap();
        let tools: Vec<&str> = transcript
            .iter()
            .map(|c| c["tool"].as_str().unwrap())
            .collect();
        assert_eq!(
            tools,
            [
                "get_bars",
                "get_position",
                "get_indicator",
                "validate_order",
                "get_decisions",
                "submit_decision"
            ]
        );
        // The bars end at the decision bar.
        let bars = transcript[0]["result"]["bars"].as_array().unwrap();
        assert_eq!(bars.len(), 5);
        let decision_bar = aibt_core::time::format_timestamp(row.analysis_date.unwrap());
        assert_eq!(bars[4]["time"], decision_bar.as_str());
        assert_eq!(transcript[1]["result"]["time"], decision_bar.as_str());
        // The SMA a tool computes is the one the prompt shows.
        let sma = transcript[2]["result"]["value"].as_f64().unwrap();
        let shown = prompt_value(row.prompt.as_deref().unwrap(), "sma10").unwrap();
        assert!((sma - shown).abs() < 1e-3, "{sma} vs {shown}");
        // The broker's verdict agrees with what get_position says the account can buy.
        let verdict = &transcript[3]["result"];
        let can_buy = transcript[1]["result"]["capacity"]["buy"].as_f64().unwrap();
        if can_buy >= 3.0 {
            assert_eq!(verdict["accepted"], true, "{verdict}");
            assert_eq!(verdict["fills"][0]["quantity"], 3.0);
        } else {
            assert_eq!(verdict["accepted"], false, "{verdict}");
            assert!(
                verdict["reason"]
                    .as_str()
                    .unwrap()
                    .contains("insufficient cash")
            );
        }
        assert_eq!(
            transcript[4]["result"]["decisions"]
                .as_array()
                .unwrap()
                .len(),
            step.min(3)
        );
        assert_eq!(transcript[5]["result"], json!({"accepted": true}));
    }
    // Each result went back under the id of its call.
    let last = fake.requests().into_iter().nth(2).unwrap();
    let ids: Vec<String> = tool_results(&last).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        [
            "call_0_get_bars",
            "call_1_get_position",
            "call_0_get_indicator",
            "call_1_validate_order",
            "call_2_get_decisions"
        ]
    );
    let stats = run.stats();
    assert_eq!(stats["tool_decisions"], json!(run.decisions.len()));
    assert_eq!(stats["tool_calls"], json!(6 * run.decisions.len()));
    assert!(stats.get("tool_fallback").is_none());
}

#[tokio::test]
async fn wrong_tools_and_bad_arguments_are_answered_with_errors_the_model_can_read() {
    let (run, _fake) = run_against(
        |step, _, body| match tool_results(body).len() {
            0 => tool_calls(&[
                ("get_news", json!({})),
                ("get_bars", Value::String("{count: 5".into())),
                ("get_indicator", json!({"name": "vwap", "period": 3})),
                ("validate_order", json!({"action": "SELL"})),
            ]),
            // A submission the answer schema refuses is an error too, and may be mended.
            4 => tool_calls(&[(
                "submit_decision",
                json!({"action": "MAYBE", "confidence": 0.5}),
            )]),
            _ => submit("HOLD", 0.5, &format!("step {step}")),
        },
        |s| s,
        tools_mode(CacheMode::Off),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    for row in &run.decisions {
        assert!(!row.failed(), "{row:?}");
        let transcript = row.tool_transcript.as_ref().unwrap().as_array().unwrap();
        assert_eq!(transcript.len(), 6);
        let error = |i: usize| {
            transcript[i]["result"]["error"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        assert!(error(0).contains("no tool \"get_news\""), "{}", error(0));
        assert!(error(1).contains("not JSON"), "{}", error(1));
        // Malformed arguments are stored as the model wrote them.
        assert_eq!(transcript[1]["arguments"], "{count: 5");
        assert!(error(2).contains("must be one of"), "{}", error(2));
        // Selling with no position: the broker's refusal, not a crash.
        assert_eq!(
            transcript[3]["result"]["accepted"], false,
            "{}",
            transcript[3]
        );
        assert!(error(4).contains("cannot be used"), "{}", error(4));
        assert_eq!(transcript[5]["result"], json!({"accepted": true}));
    }
}

#[tokio::test]
async fn a_model_that_never_submits_fails_at_the_limit_of_tool_calls() {
    let (run, fake) = run_against(
        |step, _, body| {
            if step % 2 == 0 {
                tool_calls(&[("get_position", json!({}))])
            } else if tool_results(body).is_empty() {
                tool_calls(&[("get_bars", json!({"count": 2}))])
            } else {
                submit("HOLD", 0.5, "fine")
            }
        },
        |s| s,
        TaskOptions {
            max_tool_calls: Some(3),
            failure_limit: Some(100),
            ..tools_mode(CacheMode::Off)
        },
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    let endless = run.decisions.iter().step_by(2).count();
    // An endless decision makes 3 lookups in 4 calls; the others 2 calls.
    assert_eq!(
        fake.calls(),
        endless * 4 + (run.decisions.len() - endless) * 2
    );
    for (step, row) in run.decisions.iter().enumerate() {
        let transcript = row.tool_transcript.as_ref().unwrap().as_array().unwrap();
        if step % 2 == 0 {
            let error = row.error.as_deref().expect("failed");
            assert!(
                error.contains("3 tool calls without a usable submit_decision"),
                "{error}"
            );
            assert_eq!(row.decision_result, TradeAction::Hold);
            assert_eq!(transcript.len(), 3);
        } else {
            assert!(!row.failed());
            assert_eq!(transcript.len(), 2);
        }
    }
    assert_eq!(run.stats()["failed_decisions"], json!(endless));
}

/// A server that refuses tools: the first decision's request with tools is refused, the
/// decision is asked the JSON way, and no later request carries tools, in this task or the
/// next one on the same config.
#[tokio::test]
async fn a_server_that_refuses_tools_falls_back_once_and_the_config_remembers() {
    for refusal in [
        Reply::Status {
            code: 400,
            retry_after: None,
            body: r#"{"error":{"message":"tools param requires --jinja flag"}}"#.into(),
        },
        // An answer with no tool call at all is a refusal too.
        Reply::answer(decision("HOLD", 0.5, "no tools here")),
    ] {
        let (_dir, store) = common::sqlite().await;
        let series = goog(store.as_ref()).await;
        let fake = FakeLlm::start(move |_, body| {
            if body.get("tools").is_some() {
                refusal.clone()
            } else {
                answer_for(step_of(&prompt_of(body)))
            }
        })
        .await;
        let mut spec = config_spec(&fake.base_url());
        spec.decision_mode = Some(DecisionMode::Tools);
        let config = store_config(store.as_ref(), spec).await;
        let task = AiTask {
            store: &store,
            series: &series,
            settings: &common::settings(MarketType::Us, "10000", "0.001"),
            template: MARKET_TEMPLATE,
            config: &config,
            options: uncached(),
            period: period(),
            interval: 1,
        };
        let first = task.run().await;
        assert_eq!(first.task.status, TaskStatus::Completed);
        let with_tools = |fake: &FakeLlm| {
            fake.requests()
                .iter()
                .filter(|b| b.get("tools").is_some())
                .count()
        };
        assert_eq!(with_tools(&fake), 1);
        assert_eq!(fake.calls(), first.decisions.len() + 1);
        assert_eq!(first.decisions[0].llm_calls, 2);
        for (step, row) in first.decisions.iter().enumerate() {
            assert!(!row.failed(), "{row:?}");
            assert_eq!(row.reasoning, format!("step {step}"));
            assert_eq!(row.tool_transcript, None);
        }
        let warning = first.stats()["tool_fallback"]
            .as_str()
            .expect("warning")
            .to_string();
        assert!(
            warning.contains("refused tools") || warning.contains("without calling a tool"),
            "{warning}"
        );
        let remembered = store.get_ai_config(&config.config_id).await.unwrap();
        assert_eq!(remembered.tools_refused.as_deref(), Some(warning.as_str()));
        // The next task on the config asks the JSON way at once, and says why.
        let second = task.run().await;
        assert_eq!(with_tools(&fake), 1);
        assert_eq!(second.decision_facts(), first.decision_facts());
        assert_eq!(
            second.stats()["tool_fallback"].as_str(),
            Some(warning.as_str())
        );
    }
}

#[tokio::test]
async fn a_rerun_replays_every_turn_from_the_cache() {
    let (_dir, store) = common::sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = FakeLlm::start(|_, body| match tool_results(body).len() {
        0 => tool_calls(&[("get_bars", json!({"count": 3}))]),
        _ => {
            // The decision depends on what the tool returned: the cache must replay it.
            let (_, result) = &tool_results(body)[0];
            let close = result["bars"][2]["close"].as_f64().unwrap();
            let action = if close as i64 % 2 == 0 { "BUY" } else { "SELL" };
            submit(action, 0.6, &format!("close {close}"))
        }
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let task = AiTask {
        store: &store,
        series: &series,
        settings: &common::settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: tools_mode(CacheMode::ReadWrite),
        period: period(),
        interval: 1,
    };
    let first = task.run().await;
    assert_eq!(first.task.status, TaskStatus::Completed);
    let calls = fake.calls();
    assert_eq!(calls, 2 * first.decisions.len());
    let second = task.run().await;
    assert_eq!(fake.calls(), calls, "a re-run makes no call");
    assert_eq!(second.decision_facts(), first.decision_facts());
    assert_eq!(second.trade_facts(), first.trade_facts());
    for (a, b) in first.decisions.iter().zip(&second.decisions) {
        assert_eq!(a.tool_transcript, b.tool_transcript);
        assert!(b.from_cache && b.llm_calls == 0);
    }
}
