//! The task routes over HTTP, against the real server on 127.0.0.1 with a worker beside it,
//! once over a SQLite file and once over PostgreSQL (`on_both_backends!`): a built-in strategy's task from creation through its events, lifecycle,
//! records, exports, comparison and deletion; and a model task against a fake model, paused,
//! resumed and cancelled while it runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_testkit::{FakeLlm, Reply as FakeReply, hashed_decision, prompt_of};
use common::*;
use serde_json::json;

on_both_backends!(builtin_tasks, ai_tasks);

async fn builtin_tasks(server: &Server) {
    import_goog(server).await;
    let account = new_account(server, "10000").await;
    let created = server
        .post(
            "/api/v1/tasks",
            json!({
                "account_id": account,
                "stock_symbol": "GOOG",
                "start_date": "2006-01-01T00:00:00Z",
                "end_date": "2010-12-31T00:00:00Z",
                "strategy": "builtin:sma-cross",
                "options": {"params": {"fast": "10", "slow": "20"}, "fill": "next_open"},
            }),
        )
        .await;
    let task = created.ok(201).clone();
    let id = task["task_id"].as_str().expect("id").to_string();
    assert_eq!(task["status"], "PENDING");
    assert_eq!(task["progress_pct"], 0.0);

    // Events, read while the task runs: decisions with equity, progress, then the end.
    let events = {
        let client = server.client.clone();
        let url = server.url(&format!("/api/v1/tasks/{id}/events?interval_ms=50"));
        tokio::spawn(async move {
            let response = client.get(url).send().await.expect("events");
            assert_eq!(response.headers()["content-type"], "text/event-stream",);
            response.text().await.expect("stream")
        })
    };
    let started = server
        .post(&format!("/api/v1/tasks/{id}/start"), json!(null))
        .await;
    assert_eq!(started.ok(200)["status"], "RUNNING");
    let done = server.wait_for(&id, &["COMPLETED"]).await;
    assert_eq!(done["progress_pct"], 100.0);
    assert!(done["started_at"].is_string() && done["completed_at"].is_string());
    assert_eq!(done["processed_items"], done["total_items"]);
    let stream = tokio::time::timeout(Duration::from_secs(30), events)
        .await
        .expect("the stream ends after the task")
        .expect("join");
    let decisions_seen = stream.matches("event: decision").count();
    assert!(decisions_seen > 10, "{stream}");
    assert!(stream.contains("event: progress"));
    assert!(
        stream
            .trim_end()
            .split("\n\n")
            .last()
            .unwrap()
            .starts_with("event: end"),
        "{stream}"
    );
    assert!(stream.contains("\"equity\":\""));

    // Lifecycle refusals.
    server
        .post(&format!("/api/v1/tasks/{id}/resume"), json!(null))
        .await
        .error(409, "wrong_state", Some("status"));
    server
        .post(&format!("/api/v1/tasks/{id}/start"), json!(null))
        .await
        .error(409, "wrong_state", Some("status"));
    server
        .post(&format!("/api/v1/tasks/{id}/pause"), json!(null))
        .await
        .error(409, "wrong_state", Some("status"));
    server
        .post("/api/v1/tasks/nope/start", json!(null))
        .await
        .error(404, "not_found", None);

    // Stats, and records paged and filtered.
    let stats = server.get(&format!("/api/v1/tasks/{id}/stats")).await;
    let stats = stats.ok(200)["stats"].clone();
    let trades_count = stats["num_trades"].as_u64().expect("trades");
    assert!(trades_count > 10);
    let decisions = server
        .get(&format!("/api/v1/tasks/{id}/decisions?limit=5"))
        .await;
    let decisions = decisions.ok(200).clone();
    assert_eq!(decisions["items"].as_array().unwrap().len(), 5);
    assert_eq!(decisions_seen as u64, {
        let mut n = 0u64;
        let mut path = format!("/api/v1/tasks/{id}/decisions?limit=1000");
        loop {
            let page = server.get(&path).await.ok(200).clone();
            n += page["items"].as_array().unwrap().len() as u64;
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/tasks/{id}/decisions?limit=1000&cursor={c}"),
                None => break n,
            }
        }
    });
    let buys = server
        .get(&format!("/api/v1/tasks/{id}/trades?action=BUY&limit=1000"))
        .await;
    let buys = buys.ok(200)["items"].as_array().unwrap().clone();
    assert!(!buys.is_empty() && buys.iter().all(|t| t["trade_action"] == "BUY"));
    let in_2008 = server
        .get(&format!(
            "/api/v1/tasks/{id}/trades?from=2008-01-01T00:00:00Z&to=2008-12-31T23:59:59Z&limit=1000"
        ))
        .await;
    assert!(
        in_2008.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| { t["trade_time"].as_str().unwrap().starts_with("2008") })
    );
    let snapshots = server
        .get(&format!(
            "/api/v1/tasks/{id}/snapshots?limit=3&from=2010-06-01T00:00:00Z"
        ))
        .await;
    let snapshots = snapshots.ok(200).clone();
    assert_eq!(snapshots["items"].as_array().unwrap().len(), 3);
    assert!(snapshots["next_cursor"].is_string());
    server
        .get(&format!("/api/v1/tasks/{id}/trades?action=JUMP"))
        .await
        .error(400, "bad_request", Some("action"));
    server
        .get(&format!("/api/v1/tasks/{id}/snapshots?action=BUY"))
        .await
        .error(400, "bad_request", Some("action"));
    server
        .get("/api/v1/tasks/nope/trades")
        .await
        .error(404, "not_found", None);

    // Exports: JSON of everything, CSV of one kind.
    let export = server.get(&format!("/api/v1/tasks/{id}/export")).await;
    let export = export.ok(200);
    assert_eq!(export["trades"].as_array().unwrap().len() as u64, {
        let mut n = 0;
        let mut path = format!("/api/v1/tasks/{id}/trades?limit=1000");
        loop {
            let page = server.get(&path).await.ok(200).clone();
            n += page["items"].as_array().unwrap().len() as u64;
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/tasks/{id}/trades?limit=1000&cursor={c}"),
                None => break n,
            }
        }
    });
    assert!(export["snapshots"].as_array().unwrap().len() > 1000);
    let csv = server
        .get(&format!(
            "/api/v1/tasks/{id}/export?format=csv&records=snapshots"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.text
            .starts_with("snapshot_id,task_id,account_id,balance,")
    );
    assert_eq!(
        csv.text.lines().count(),
        export["snapshots"].as_array().unwrap().len() + 1
    );
    server
        .get(&format!("/api/v1/tasks/{id}/export?format=xlsx"))
        .await
        .error(400, "bad_request", Some("format"));

    // A second task to compare with; and its equity curve.
    let other = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "start_date": "2006-01-01T00:00:00Z",
                   "end_date": "2010-12-31T00:00:00Z", "strategy": "builtin:buy-and-hold", "start": true}),
        )
        .await;
    let other_id = other.ok(201)["task_id"].as_str().unwrap().to_string();
    server.wait_for(&other_id, &["COMPLETED"]).await;
    let compare = server
        .get(&format!(
            "/api/v1/compare?task_ids={id},{other_id}&points=100"
        ))
        .await;
    let compare = compare.ok(200);
    assert_eq!(compare["tasks"].as_array().unwrap().len(), 2);
    assert!(compare["tasks"][0]["equity"].as_array().unwrap().len() <= 101);
    assert!(compare["tasks"][1]["stats"]["return_pct"].is_number());
    server
        .get(&format!("/api/v1/compare?task_ids={id}"))
        .await
        .error(422, "invalid", Some("task_ids"));
    server
        .get(&format!("/api/v1/compare?task_ids={id},nope"))
        .await
        .error(404, "not_found", None);
    let equity = server
        .get(&format!("/api/v1/tasks/{id}/equity?points=50"))
        .await;
    assert!(equity.ok(200).as_array().unwrap().len() <= 51);

    // Listing filters by status; a pending task cancels; a cancelled one never starts.
    let pending = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:always-hold"}),
        )
        .await;
    let pending_id = pending.ok(201)["task_id"].as_str().unwrap().to_string();
    let listed = server.get("/api/v1/tasks?status=COMPLETED").await;
    let listed = listed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["task_id"], other_id.as_str(), "newest first");
    server
        .get("/api/v1/tasks?status=DONE")
        .await
        .error(400, "bad_request", Some("status"));
    let cancelled = server
        .post(&format!("/api/v1/tasks/{pending_id}/cancel"), json!(null))
        .await;
    assert_eq!(cancelled.ok(200)["status"], "CANCELLED");
    server
        .post(&format!("/api/v1/tasks/{pending_id}/start"), json!(null))
        .await
        .error(409, "wrong_state", Some("status"));
    server
        .get(&format!("/api/v1/tasks/{pending_id}/stats"))
        .await
        .error(409, "wrong_state", Some("status"));

    // Bad task requests.
    for (body, field) in [
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:moon"}),
            "strategy",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross", "options": {"params": {"fast": "x"}}}),
            "params.fast",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross", "decision_interval": 0}),
            "decision_interval",
        ),
        (
            json!({"account_id": account, "stock_symbol": "AAPL", "strategy": "builtin:sma-cross"}),
            "stock_symbol",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross", "start_date": "2030-01-01T00:00:00Z"}),
            "start_date",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "template"}),
            "user_prompt_id",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross", "options": {"fil": "close"}}),
            "options.fil",
        ),
        (
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross", "options": {"fill": "later"}}),
            "options.fill",
        ),
    ] {
        server
            .post("/api/v1/tasks", body)
            .await
            .error(422, "invalid", Some(field));
    }
    server
        .post(
            "/api/v1/tasks",
            json!({"account_id": "nope", "stock_symbol": "GOOG", "strategy": "builtin:sma-cross"}),
        )
        .await
        .error(404, "not_found", None);

    // Deleting a finished task removes it and its records.
    assert_eq!(
        server.delete(&format!("/api/v1/tasks/{id}")).await.status,
        204
    );
    server
        .get(&format!("/api/v1/tasks/{id}"))
        .await
        .error(404, "not_found", None);
    server
        .get(&format!("/api/v1/tasks/{id}/trades"))
        .await
        .error(404, "not_found", None);
}

async fn ai_tasks(server: &Server) {
    import_goog(server).await;
    let fake = FakeLlm::start(|_, body| FakeReply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::from_millis(40),
    })
    .await;
    let account = new_account(server, "10000").await;
    let template = server
        .post("/api/v1/prompt-templates", json!({"content": RSI_TEMPLATE}))
        .await;
    let prompt_id = template.ok(201)["prompt_id"].as_str().unwrap().to_string();
    let config = server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "fake", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "fake",
                   "knowledge_cutoff": "2030-01-01"}),
        )
        .await;
    let config_id = config.ok(201)["config_id"].as_str().unwrap().to_string();
    let created = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "start_date": "2012-01-03T00:00:00Z",
                   "end_date": "2012-06-29T00:00:00Z", "strategy": "template", "user_prompt_id": prompt_id,
                   "ai_config_id": config_id, "options": {"cache": "off"}, "start": true}),
        )
        .await;
    let task = created.ok(201).clone();
    let id = task["task_id"].as_str().unwrap().to_string();
    assert_eq!(task["status"], "RUNNING");
    assert!(
        task["memorisation_warning"]
            .as_str()
            .is_some_and(|w| w.contains("2030-01-01"))
    );

    // Running: it cannot be deleted; it pauses within a step and resumes where it stopped.
    loop {
        let now = server.get(&format!("/api/v1/tasks/{id}")).await;
        if now.body["processed_items"].as_i64().unwrap_or(0) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
        .delete(&format!("/api/v1/tasks/{id}"))
        .await
        .error(409, "wrong_state", Some("status"));
    let paused = server
        .post(&format!("/api/v1/tasks/{id}/pause"), json!(null))
        .await;
    assert_eq!(paused.ok(200)["status"], "PAUSED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = server.get(&format!("/api/v1/tasks/{id}")).await;
    let at_pause = still.ok(200)["processed_items"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.get(&format!("/api/v1/tasks/{id}")).await.body["processed_items"]
            .as_i64()
            .unwrap(),
        at_pause,
        "a paused task made progress"
    );
    assert!(at_pause < still.body["total_items"].as_i64().unwrap());
    let resumed = server
        .post(&format!("/api/v1/tasks/{id}/resume"), json!(null))
        .await;
    assert_eq!(resumed.ok(200)["status"], "RUNNING");
    assert!(resumed.body["resumed_at"].is_string() && resumed.body["paused_at"].is_string());
    let done = server
        .wait_for(&id, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"])
        .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let decisions = server
        .get(&format!("/api/v1/tasks/{id}/decisions?limit=10000"))
        .await;
    let decisions = decisions.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(
        decisions.len() as i64,
        done["total_items"].as_i64().unwrap()
    );
    assert!(decisions.iter().all(|d| {
        d["prompt"]
            .as_str()
            .is_some_and(|p| p.starts_with("GOOG at "))
            && d["raw_answer"]
                .as_str()
                .is_some_and(|a| a.contains("hashed"))
            && d["llm_calls"] == 1
    }));
    let stats = server.get(&format!("/api/v1/tasks/{id}/stats")).await;
    let stats = stats.ok(200)["stats"].clone();
    assert_eq!(stats["llm_calls"].as_u64(), Some(decisions.len() as u64));
    assert!(stats["memorisation_warning"].is_string());

    // A cancel of a running task stops it; its records so far stay. This one is created with
    // the seed's fields only (a template and an AI config, no strategy): a model task.
    let second = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "start_date": "2011-01-03T00:00:00Z",
                   "end_date": "2011-12-30T00:00:00Z", "user_prompt_id": prompt_id,
                   "ai_config_id": config_id, "options": {"cache": "off"}, "start": true}),
        )
        .await;
    assert_eq!(second.ok(201)["strategy"], "template", "{}", second.text);
    let second_id = second.body["task_id"].as_str().unwrap().to_string();
    loop {
        let now = server.get(&format!("/api/v1/tasks/{second_id}")).await;
        if now.body["processed_items"].as_i64().unwrap_or(0) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled = server
        .post(&format!("/api/v1/tasks/{second_id}/cancel"), json!(null))
        .await;
    assert_eq!(cancelled.ok(200)["status"], "CANCELLED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.get(&format!("/api/v1/tasks/{second_id}")).await;
    assert_eq!(after.ok(200)["status"], "CANCELLED");
    let kept = server
        .get(&format!("/api/v1/tasks/{second_id}/decisions?limit=10000"))
        .await;
    assert_eq!(
        kept.ok(200)["items"].as_array().unwrap().len() as i64,
        after.body["processed_items"].as_i64().unwrap()
    );
    server
        .post(&format!("/api/v1/tasks/{second_id}/resume"), json!(null))
        .await
        .error(409, "wrong_state", Some("status"));
    // The config and template are in use: the config stays.
    server
        .delete(&format!("/api/v1/ai-configs/{config_id}"))
        .await
        .error(409, "conflict", None);
}
