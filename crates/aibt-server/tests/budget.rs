//! Budgets over HTTP: a task created with one pauses at it with the reason, its page offers a
//! larger one, and the API and the page resume it with a new one (or refuse a budget that
//! cannot be kept, naming the field).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_testkit::{FakeLlm, Reply as FakeReply, hashed_decision, prompt_of};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const TEMPLATE: &str = "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}.\nDecide.";

/// A RUNNING model task with a budget of `tokens`, against `fake`; its id.
async fn budgeted_task(server: &Server, fake: &FakeLlm, tokens: u64) -> String {
    import_goog(server).await;
    let account = new_account(server, "10000").await;
    let template = server
        .post("/api/v1/prompt-templates", json!({"content": TEMPLATE}))
        .await;
    let prompt_id = template.ok(201)["prompt_id"].as_str().unwrap().to_string();
    let config = server
        .post(
            "/api/v1/ai-configs",
            json!({"name": "fake", "local_ai_base_url": fake.base_url(), "local_ai_model_name": "fake"}),
        )
        .await;
    let config_id = config.ok(201)["config_id"].as_str().unwrap().to_string();
    let task = |options: Value| {
        json!({"account_id": account, "stock_symbol": "GOOG", "start_date": "2012-01-03T00:00:00Z",
               "end_date": "2012-02-29T00:00:00Z", "strategy": "template", "user_prompt_id": prompt_id,
               "ai_config_id": config_id, "options": options, "start": true})
    };
    // Money needs prices this config does not have: refused, naming the field.
    server
        .post(
            "/api/v1/tasks",
            task(json!({"cache": "off", "budget": {"money": "1"}})),
        )
        .await
        .error(422, "invalid", Some("options.budget.money"));
    let created = server
        .post(
            "/api/v1/tasks",
            task(json!({"cache": "off", "budget": {"tokens": tokens}})),
        )
        .await;
    created.ok(201)["task_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_paused_at_its_budget_resumes_with_a_larger_one_from_the_api_and_the_page() {
    let server = Server::start(sqlite().await, None).await;
    let fake = FakeLlm::start(|_, body| FakeReply::answer(hashed_decision(&prompt_of(body)))).await;
    let id = budgeted_task(&server, &fake, 3000).await;
    let paused = server.wait_for(&id, &["PAUSED"]).await;
    let reason = paused["error_message"].as_str().unwrap();
    assert!(
        reason.starts_with("budget of 3000 tokens reached"),
        "{reason}"
    );
    let decided = paused["processed_items"].as_i64().unwrap();
    assert!(decided > 0 && decided < 38, "{paused}");

    // The page says why and offers a larger budget.
    let page = server.get(&format!("/tasks/{id}")).await;
    assert!(page.text.contains(reason), "the reason on the page");
    assert!(page.text.contains(r#"id="budget-form""#));
    let form = |budget: &str| {
        server
            .request(Method::POST, &format!("/tasks/{id}/resume"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("hx-request", "true")
            .body(format!("budget={budget}"))
    };
    // A budget that cannot be read, or kept, is answered beside the field; nothing changes.
    for (budget, says) in [("lots", "give money"), ("2.50", "no token prices")] {
        let refused = server.send(form(budget)).await;
        assert_eq!(refused.status, 200, "{}", refused.text);
        assert!(refused.text.contains(says), "{}", refused.text);
        assert!(!refused.headers.contains_key("hx-refresh"));
    }
    assert_eq!(
        server.get(&format!("/api/v1/tasks/{id}")).await.body["status"],
        "PAUSED"
    );

    // The API's resume takes a new budget; a small one stops it again at once.
    let api = server
        .post(
            &format!("/api/v1/tasks/{id}/resume"),
            json!({"budget": {"tokens": 3200}}),
        )
        .await;
    assert_eq!(api.ok(200)["status"], "RUNNING");
    let again = server.wait_for(&id, &["PAUSED"]).await;
    assert!(
        again["error_message"]
            .as_str()
            .unwrap()
            .starts_with("budget of 3200 tokens")
    );
    server
        .post(
            &format!("/api/v1/tasks/{id}/resume"),
            json!({"budget": {"tokens": "many"}}),
        )
        .await
        .error(422, "invalid", Some("budget.tokens"));

    // The page's form with a budget large enough: it runs to the end.
    let taken = server.send(form("1000000tokens")).await;
    assert_eq!(taken.status, 204, "{}", taken.text);
    assert_eq!(taken.headers["hx-refresh"], "true");
    let done = server.wait_for(&id, &["COMPLETED"]).await;
    assert_eq!(done["error_message"], Value::Null);
    assert_eq!(done["options"]["budget"]["tokens"], 1_000_000);
}
