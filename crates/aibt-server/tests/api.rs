//! Every route of the API, driven over HTTP as a client would, against the real server on
//! 127.0.0.1 with a worker beside it: once over a SQLite file and once over PostgreSQL, the
//! same suite. The error cases are part of it: each names its status, code and field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_testkit::{FakeLlm, Reply as FakeReply, decision, hashed_decision, prompt_of};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Runs a suite function against a fresh server on each backend.
macro_rules! on_both_backends {
    ($($suite:ident),+ $(,)?) => {
        $(
            mod $suite {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let server = super::Server::start(super::sqlite().await, None).await;
                    super::$suite(&server).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let server = super::Server::start(super::postgres().await, None).await;
                    super::$suite(&server).await;
                }
            }
        )+
    };
}

on_both_backends!(
    accounts,
    market_data,
    templates,
    ai_configs,
    builtin_tasks,
    ai_tasks,
    documentation_and_errors,
);

async fn accounts(server: &Server) {
    let created = server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "COIN", "initial_balance": 25000.5, "tax_rate": "0.001", "min_commission": "0.0001"}),
        )
        .await;
    let account = created.ok(201).clone();
    let id = account["account_id"].as_str().expect("id").to_string();
    // Money travels as decimal strings at the column's scale; defaults are the design's.
    assert_eq!(account["initial_balance"], "25000.50000000");
    assert_eq!(account["current_balance"], "25000.50000000");
    assert_eq!(account["commission_rate_buy"], "0.001000");
    assert_eq!(account["tax_rate"], "0.001000");
    assert_eq!(account["min_commission"], "0.00010000");
    assert_eq!(account["short_margin_ratio"], "1.000000");
    assert_eq!(account["position_side"], "LONG");
    assert_eq!(account["long_positions"], json!([]));

    let got = server.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(got.ok(200), &account);
    let list = server.get("/api/v1/accounts?limit=1").await;
    assert_eq!(list.ok(200)["items"].as_array().map(Vec::len), Some(1));

    let changed = server
        .patch(
            &format!("/api/v1/accounts/{id}"),
            json!({"initial_balance": "30000", "commission_rate_sell": "0.002"}),
        )
        .await;
    let changed = changed.ok(200);
    assert_eq!(changed["initial_balance"], "30000.00000000");
    assert_eq!(changed["total_value"], "30000.00000000");
    assert_eq!(changed["commission_rate_sell"], "0.002000");
    assert_eq!(changed["commission_rate_buy"], "0.001000");
    assert_eq!(changed["created_at"], account["created_at"]);

    // Errors name their field, and change nothing.
    server
        .post("/api/v1/accounts", json!({"market_type": "US"}))
        .await
        .error(422, "invalid", Some("initial_balance"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "-5"}),
        )
        .await
        .error(422, "invalid", Some("initial_balance"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "100", "commission_rate_buy": "1.5"}),
        )
        .await
        .error(422, "invalid", Some("commission_rate_buy"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "NYSE", "initial_balance": "100"}),
        )
        .await
        .error(422, "invalid", Some("market_type"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "100", "inital_cash": 5}),
        )
        .await
        .error(422, "invalid", Some("inital_cash"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "abc"}),
        )
        .await
        .error(422, "invalid", Some("initial_balance"));
    server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "1e30"}),
        )
        .await
        .error(422, "invalid", Some("initial_balance"));
    server
        .post_raw(
            "/api/v1/accounts",
            "application/json",
            b"{\"market_type\": ".to_vec(),
        )
        .await
        .error(400, "bad_request", None);
    server
        .patch(
            &format!("/api/v1/accounts/{id}"),
            json!({"tax_rate": "-0.1"}),
        )
        .await
        .error(422, "invalid", Some("tax_rate"));
    assert_eq!(
        server.get(&format!("/api/v1/accounts/{id}")).await.ok(200)["tax_rate"],
        "0.001000"
    );
    server
        .get("/api/v1/accounts/no-such-account")
        .await
        .error(404, "not_found", None);
    server
        .get("/api/v1/accounts?limit=many")
        .await
        .error(400, "bad_request", Some("limit"));
    server
        .get("/api/v1/tasks?cursor=garbage")
        .await
        .error(400, "bad_request", Some("cursor"));

    // An account a task uses stays; a run account cannot be changed or deleted here.
    import_goog(server).await;
    let used = new_account(server, "10000").await;
    let task = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": used, "stock_symbol": "GOOG", "strategy": "builtin:buy-and-hold"}),
        )
        .await;
    let task_id = task.ok(201)["task_id"].as_str().expect("id").to_string();
    server
        .delete(&format!("/api/v1/accounts/{used}"))
        .await
        .error(409, "conflict", None);
    server
        .patch(
            &format!("/api/v1/accounts/{task_id}"),
            json!({"tax_rate": "0"}),
        )
        .await
        .error(409, "conflict", None);
    let with_runs = server
        .get("/api/v1/accounts?include_task_accounts=true&limit=1000")
        .await;
    assert!(
        with_runs.ok(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|a| a["task_id"] == task_id.as_str())
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/accounts/{id}"))
            .await
            .status,
        204
    );
    server
        .get(&format!("/api/v1/accounts/{id}"))
        .await
        .error(404, "not_found", None);
}

async fn market_data(server: &Server) {
    let imported = server
        .post_raw(
            "/api/v1/market-data/import?symbol=GOOG&market_type=US&time_granularity=daily",
            "text/csv",
            sample_csv("GOOG_1d.csv"),
        )
        .await;
    let imported = imported.ok(201);
    assert_eq!(imported["inserted"], 2148);
    assert_eq!(imported["first"], "2004-08-19T00:00:00Z");

    // The same file again: nothing new; a changed bar is refused unless replace=true.
    let again = server
        .post_raw(
            "/api/v1/market-data/import?symbol=GOOG&market_type=US&time_granularity=daily",
            "text/csv",
            sample_csv("GOOG_1d.csv"),
        )
        .await;
    assert_eq!(again.ok(201)["unchanged"], 2148);

    // A multipart upload, as a browser form sends it.
    let form = reqwest::multipart::Form::new()
        .text("symbol", "ETHBTC")
        .text("market_type", "coin")
        .text("time_granularity", "minute")
        .part(
            "file",
            reqwest::multipart::Part::bytes(sample_csv("ETHBTC_5m.csv")).file_name("ETHBTC_5m.csv"),
        );
    let uploaded = server
        .send(
            server
                .request(Method::POST, "/api/v1/market-data/import")
                .multipart(form),
        )
        .await;
    assert!(
        uploaded.ok(201)["inserted"]
            .as_u64()
            .is_some_and(|n| n > 100)
    );

    // A broken file names its line and stores nothing.
    let broken = "timestamp,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n2024-01-02,10,9,11,10,100\n";
    let refused = server
        .post_raw(
            "/api/v1/market-data/import?symbol=BROKEN&market_type=US&time_granularity=daily",
            "text/csv",
            broken.as_bytes().to_vec(),
        )
        .await;
    refused.error(422, "invalid", Some("file"));
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(":3"),
        "{}",
        refused.text
    );
    server
        .post_raw(
            "/api/v1/market-data/import?market_type=US&time_granularity=daily",
            "text/csv",
            sample_csv("GOOG_1d.csv"),
        )
        .await
        .error(422, "invalid", Some("symbol"));
    server
        .post_raw(
            "/api/v1/market-data/import?symbol=X&market_type=XX&time_granularity=daily",
            "text/csv",
            sample_csv("GOOG_1d.csv"),
        )
        .await
        .error(400, "bad_request", Some("market_type"));

    let series = server.get("/api/v1/market-data").await;
    let series = series.ok(200)["series"].as_array().expect("series").clone();
    assert_eq!(series.len(), 2, "the broken file left nothing: {series:?}");
    assert!(
        series
            .iter()
            .any(|s| s["symbol"] == "GOOG" && s["bars"] == 2148)
    );

    // Bars in a range, paged by cursor without repeats or gaps.
    let mut seen = Vec::new();
    let mut path = "/api/v1/market-data/bars?symbol=GOOG&market_type=US&time_granularity=daily&from=2010-01-01T00:00:00Z&to=2010-03-31T00:00:00Z&limit=25".to_string();
    loop {
        let page = server.get(&path).await;
        let page = page.ok(200).clone();
        for bar in page["items"].as_array().expect("items") {
            seen.push(bar["ts"].as_str().expect("ts").to_string());
            assert!(bar["close"].as_str().is_some_and(|c| c.contains('.')));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/api/v1/market-data/bars?symbol=GOOG&market_type=US&time_granularity=daily&from=2010-01-01T00:00:00Z&to=2010-03-31T00:00:00Z&limit=25&cursor={cursor}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 61, "the trading days of 2010's first quarter");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);
    server
        .get("/api/v1/market-data/bars?symbol=NOPE&market_type=US&time_granularity=daily")
        .await
        .error(404, "not_found", None);
    server
        .get("/api/v1/market-data/bars?symbol=GOOG&market_type=US")
        .await
        .error(400, "bad_request", Some("time_granularity"));
    server
        .get("/api/v1/market-data/bars?symbol=GOOG&market_type=US&time_granularity=daily&from=yesterday")
        .await
        .error(400, "bad_request", Some("from"));
}

const TEMPLATE: &str =
    "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\nDecide.";

async fn templates(server: &Server) {
    import_goog(server).await;
    let created = server
        .post(
            "/api/v1/prompt-templates",
            json!({"content": TEMPLATE, "description": "rsi", "tags": "test,rsi"}),
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
            json!({"content": TEMPLATE, "status": "DELETED"}),
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
            json!({"content": format!("{TEMPLATE}\nStep {{{{ step }}}}."), "status": "UNAVAILABLE"}),
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

    // Soft delete: hidden from the list unless asked, still readable by id.
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
    assert_eq!(
        server
            .get(&format!("/api/v1/prompt-templates/{id}"))
            .await
            .ok(200)["status"],
        "DELETED"
    );
    server
        .get("/api/v1/prompt-templates/none")
        .await
        .error(404, "not_found", None);
}

async fn ai_configs(server: &Server) {
    let fake = FakeLlm::start(|_, _| FakeReply::answer(decision("HOLD", 0.5, "test"))).await;
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

    let listed = server.get("/api/v1/ai-configs").await;
    assert!(!listed.text.contains("sk-very-secret"));
    assert_eq!(listed.ok(200)["items"][0]["local_ai_api_key"], "****abcd");

    let test = server
        .post(&format!("/api/v1/ai-configs/{id}/test"), json!(null))
        .await;
    let test = test.ok(200);
    assert_eq!(test["ok"], true, "{test}");
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
        .post("/api/v1/prompt-templates", json!({"content": TEMPLATE}))
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

    // A cancel of a running task stops it; its records so far stay.
    let second = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "start_date": "2011-01-03T00:00:00Z",
                   "end_date": "2011-12-30T00:00:00Z", "strategy": "template", "user_prompt_id": prompt_id,
                   "ai_config_id": config_id, "options": {"cache": "off"}, "start": true}),
        )
        .await;
    let second_id = second.ok(201)["task_id"].as_str().unwrap().to_string();
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

async fn documentation_and_errors(server: &Server) {
    let health = server.get("/healthz").await;
    assert_eq!(health.ok(200)["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"));

    let spec = server.get("/api/openapi.json").await;
    let spec = spec.ok(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}",
        "/api/v1/prompt-templates",
        "/api/v1/prompt-templates/{prompt_id}",
        "/api/v1/ai-configs/{config_id}/test",
        "/api/v1/market-data/import",
        "/api/v1/market-data/bars",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/pause",
        "/api/v1/tasks/{task_id}/events",
        "/api/v1/tasks/{task_id}/export",
        "/api/v1/compare",
    ] {
        assert!(paths.contains_key(path), "{path} is not described");
    }
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.contains_key("VirtualAccount") && schemas.contains_key("TradeRecord"));
    // Money is a string in the description, as on the wire.
    let money = &schemas["VirtualAccount"]["properties"]["initial_balance"];
    let money = match money["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => money,
    };
    assert_eq!(money["type"], "string", "{money}");

    let docs = server.get("/api/docs").await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger-ui-bundle.js"));
    assert!(
        !docs.text.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    let bundle = server.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 1_000_000);

    server
        .get("/api/v1/nothing")
        .await
        .error(404, "not_found", None);
    // A body over the limit (1 MiB) is refused before it is read whole: a little over the
    // limit is all the server reads of the 2 MiB it was promised.
    let (status, refused) = server
        .post_oversized("/api/v1/accounts", 2 << 20, (1 << 20) + (64 << 10))
        .await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"]["code"], "payload_too_large", "{refused}");
    // A request id given by the client comes back.
    let tagged = server
        .send(
            server
                .request(Method::GET, "/healthz")
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    assert_eq!(tagged.headers["x-request-id"], "trace-me-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_route_but_health() {
    let guarded = Server::start(sqlite().await, Some("s3cret-token")).await;
    let open = reqwest::Client::new();
    let status = |path: &'static str| {
        let open = open.clone();
        let url = guarded.url(path);
        async move {
            open.get(url)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/healthz").await, 200);
    for path in [
        "/api/v1/tasks",
        "/api/v1/accounts",
        "/api/openapi.json",
        "/api/docs",
    ] {
        assert_eq!(status(path).await, 401, "{path}");
    }
    let wrong = open
        .get(guarded.url("/api/v1/tasks"))
        .bearer_auth("s3cret-tokeN")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    // The server's own client sends the token.
    assert_eq!(guarded.get("/api/v1/tasks").await.status, 200);

    // A browser is sent to the login page, and signs in to a cookie.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = no_redirects
        .get(guarded.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(page.headers()["location"], "/login");
    assert_eq!(status("/login").await, 200);
    assert_eq!(status("/static/app.css").await, 200);
    let wrong = no_redirects
        .post(guarded.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=guess")
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status().as_u16(), 401);
    let right = no_redirects
        .post(guarded.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=s3cret-token")
        .send()
        .await
        .expect("login");
    assert_eq!(right.status().as_u16(), 303);
    let cookie = right.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    let with_cookie = no_redirects
        .get(guarded.url("/api/v1/tasks"))
        .header("cookie", pair)
        .send()
        .await
        .expect("request");
    assert_eq!(with_cookie.status().as_u16(), 200);
}
