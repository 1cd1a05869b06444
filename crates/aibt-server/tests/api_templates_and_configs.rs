//! The prompt-template and AI-config routes over HTTP, against the real server on 127.0.0.1
//! with a worker beside it, once over a SQLite file and once over PostgreSQL (`on_both_backends!`): templates checked, previewed, changed and soft-deleted;
//! configs that never show their key, tested against a fake model, changed and deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_testkit::{FakeLlm, Reply as FakeReply, decision};
use common::*;
use serde_json::{Value, json};

on_both_backends!(templates, ai_configs);

async fn templates(server: &Server) {
    import_goog(server).await;
    let created = server
        .post(
            "/api/v1/prompt-templates",
            json!({"content": RSI_TEMPLATE, "description": "rsi", "tags": "test,rsi"}),
        )
        .await;
    let template = created.ok(201).clone();
    let id = template["prompt_id"].as_str().expect("id").to_string();
    assert_eq!(template["status"], "AVAILABLE");

    let refused = server
        .post(
            "/api/v1/prompt-templates",
            json!({"content": "Close {{ bars[-1].close }}\n{{ rsi }}"}),
        )
        .await;
    refused.error(422, "invalid", Some("content"));
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2: unknown variable `rsi`"),
        "{}",
        refused.text
    );
    server
        .post("/api/v1/prompt-templates", json!({"content": "{% if %}"}))
        .await
        .error(422, "invalid", Some("content"));
    server
        .post(
            "/api/v1/prompt-templates",
            json!({"content": RSI_TEMPLATE, "status": "DELETED"}),
        )
        .await
        .error(422, "invalid", Some("status"));

    let preview = server
        .post(
            &format!("/api/v1/prompt-templates/{id}/preview"),
            json!({"stock_symbol": "GOOG", "market_type": "US", "time_granularity": "daily", "at": "2012-03-01T00:00:00Z"}),
        )
        .await;
    let preview = preview.ok(200);
    assert!(
        preview["prompt"]
            .as_str()
            .unwrap()
            .starts_with("GOOG at 2012-03-01T00:00:00Z: close "),
        "{preview}"
    );
    assert_eq!(preview["messages"][1]["content"], preview["prompt"]);
    server
        .post(
            &format!("/api/v1/prompt-templates/{id}/preview"),
            json!({"stock_symbol": "GOOG", "market_type": "US", "time_granularity": "daily", "at": "1990-01-01T00:00:00Z"}),
        )
        .await
        .error(422, "invalid", Some("at"));

    let changed = server
        .patch(
            &format!("/api/v1/prompt-templates/{id}"),
            json!({"content": format!("{RSI_TEMPLATE}\nStep {{{{ step }}}}."), "status": "UNAVAILABLE"}),
        )
        .await;
    assert_eq!(changed.ok(200)["status"], "UNAVAILABLE");
    server
        .patch(
            &format!("/api/v1/prompt-templates/{id}"),
            json!({"content": "{{ nope }}"}),
        )
        .await
        .error(422, "invalid", Some("content"));
    assert!(
        server
            .get(&format!("/api/v1/prompt-templates/{id}"))
            .await
            .ok(200)["content"]
            .as_str()
            .unwrap()
            .ends_with("Step {{ step }}.")
    );

    // Soft delete: gone by id, hidden from the list unless asked, then listed as DELETED.
    assert_eq!(
        server
            .delete(&format!("/api/v1/prompt-templates/{id}"))
            .await
            .status,
        204
    );
    let listed = server.get("/api/v1/prompt-templates").await;
    assert!(
        !listed.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["prompt_id"] == id.as_str())
    );
    let all = server
        .get("/api/v1/prompt-templates?include_deleted=true")
        .await;
    assert!(
        all.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["prompt_id"] == id.as_str() && t["status"] == "DELETED")
    );
    server
        .get(&format!("/api/v1/prompt-templates/{id}"))
        .await
        .error(404, "not_found", None);
    // Gone for every change too: it cannot be edited back to life, nor deleted twice
    // (schemathesis's stateful run found a PATCH that revived one).
    server
        .patch(
            &format!("/api/v1/prompt-templates/{id}"),
            json!({"status": "UNAVAILABLE"}),
        )
        .await
        .error(404, "not_found", None);
    server
        .delete(&format!("/api/v1/prompt-templates/{id}"))
        .await
        .error(404, "not_found", None);
    server
        .get("/api/v1/prompt-templates/none")
        .await
        .error(404, "not_found", None);
}

async fn ai_configs(server: &Server) {
    // A thinking model: the connection test reads the answer after the thinking.
    let fake = FakeLlm::start(|_, _| {
        FakeReply::answer(format!(
            "<think>BUY? {} No.</think>{}",
            decision("BUY", 0.9, "draft"),
            decision("HOLD", 0.5, "test")
        ))
    })
    .await;
    let created = server
        .post(
            "/api/v1/ai-configs",
            json!({
                "name": "local",
                "local_ai_base_url": fake.base_url(),
                "local_ai_api_key": "sk-very-secret-0000abcd",
                "local_ai_model_name": "fake-model",
                "knowledge_cutoff": "2024-06-30",
                "max_concurrency": 2,
            }),
        )
        .await;
    assert!(!created.text.contains("sk-very-secret"), "{}", created.text);
    let config = created.ok(201).clone();
    let id = config["config_id"].as_str().expect("id").to_string();
    assert_eq!(config["local_ai_api_key"], "****abcd");
    assert_eq!(config["response_format"], "json_schema");
    assert_eq!(config["timeout_seconds"], 60);
    assert_eq!(config["temperature"], "0.000000");
    assert_eq!(config["knowledge_cutoff"], "2024-06-30");
    // Room for a reasoning model to think; no effort sent unless one is chosen.
    assert_eq!(config["max_tokens"], 2048);
    assert_eq!(config["reasoning_effort"], Value::Null);

    let listed = server.get("/api/v1/ai-configs").await;
    assert!(!listed.text.contains("sk-very-secret"));
    assert_eq!(listed.ok(200)["items"][0]["local_ai_api_key"], "****abcd");

    let test = server
        .post(&format!("/api/v1/ai-configs/{id}/test"), json!(null))
        .await;
    let test = test.ok(200);
    assert_eq!(test["ok"], true, "{test}");
    assert!(
        test["thinking"]
            .as_str()
            .is_some_and(|t| t.starts_with("BUY?")),
        "{test}"
    );
    assert!(test["latency_ms"].is_number());
    assert_eq!(fake.calls(), 1);

    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "local", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "m"}),
        )
        .await
        .error(409, "conflict", None);
    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "x", "local_ai_base_url": "ollama:11434", "local_ai_model_name": "m"}),
        )
        .await
        .error(422, "invalid", Some("local_ai_base_url"));
    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "x", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "m", "max_tokens": 0}),
        )
        .await
        .error(422, "invalid", Some("max_tokens"));
    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "x", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "m", "response_format": "xml"}),
        )
        .await
        .error(422, "invalid", Some("response_format"));
    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "x", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "m", "reasoning_effort": "maximum"}),
        )
        .await
        .error(422, "invalid", Some("reasoning_effort"));
    let effort = |value: &str| json!({ "reasoning_effort": value });
    let high = server
        .patch(&format!("/api/v1/ai-configs/{id}"), effort("HIGH"))
        .await;
    assert_eq!(high.ok(200)["reasoning_effort"], "high");
    let none = server
        .patch(&format!("/api/v1/ai-configs/{id}"), effort(""))
        .await;
    assert_eq!(none.ok(200)["reasoning_effort"], Value::Null);

    // The decision mode: json by default, tools when asked; anything else is refused by name.
    assert_eq!(none.ok(200)["decision_mode"], "json");
    server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "x", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "m", "decision_mode": "agent"}),
        )
        .await
        .error(422, "invalid", Some("decision_mode"));
    let tools = server
        .patch(
            &format!("/api/v1/ai-configs/{id}"),
            json!({"decision_mode": "tools"}),
        )
        .await;
    let tools = tools.ok(200);
    assert_eq!(tools["decision_mode"], "tools");
    assert_eq!(tools["tools_refused"], Value::Null);

    // A change keeps the key unless a new one is given; an empty key removes it.
    let changed = server
        .patch(
            &format!("/api/v1/ai-configs/{id}"),
            json!({"temperature": "0.7", "response_format": "json_object"}),
        )
        .await;
    let changed = changed.ok(200);
    assert_eq!(changed["local_ai_api_key"], "****abcd");
    assert_eq!(changed["temperature"], "0.700000");
    assert_eq!(changed["created_at"], config["created_at"]);
    let keyless = server
        .patch(
            &format!("/api/v1/ai-configs/{id}"),
            json!({"local_ai_api_key": ""}),
        )
        .await;
    assert_eq!(keyless.ok(200)["local_ai_api_key"], "");
    let from_env = server
        .patch(
            &format!("/api/v1/ai-configs/{id}"),
            json!({"local_ai_api_key_env": "AIBT_TEST_UNSET_KEY"}),
        )
        .await;
    assert_eq!(from_env.ok(200)["local_ai_api_key"], "$AIBT_TEST_UNSET_KEY");
    // The variable is not set on the server: the test names the problem instead of calling.
    server
        .post(&format!("/api/v1/ai-configs/{id}/test"), json!(null))
        .await
        .error(422, "invalid", Some("local_ai_api_key"));

    assert_eq!(
        server
            .delete(&format!("/api/v1/ai-configs/{id}"))
            .await
            .status,
        204
    );
    server
        .get(&format!("/api/v1/ai-configs/{id}"))
        .await
        .error(404, "not_found", None);
}
