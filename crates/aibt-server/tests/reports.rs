//! Experiments in the web UI and the reports, over HTTP against the real server with a worker
//! beside it: the new-experiment form plans, refuses a spec naming its field, and runs one;
//! the experiment page follows it until it has ended; and both reports are one
//! self-contained HTML page (no script, nothing loaded from anywhere), in either language,
//! bounded for a long backtest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_testkit::{FakeLlm, Reply as FakeReply, hashed_decision, prompt_of};
use common::*;
use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../../../examples/rules-experiment.toml");

/// Creates an experiment through the API and waits until every one of its tasks has ended.
async fn run_experiment(server: &Server, spec: Value) -> Value {
    let created = server.post("/api/v1/experiments", spec).await;
    let id = created.ok(201)["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..1200 {
        let now = server.get(&format!("/api/v1/experiments/{id}")).await;
        if now.body["status"] == "COMPLETED" {
            return now.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("experiment {id} never completed");
}

/// A report: served as HTML, whole, and self-contained: no script, no stylesheet or image
/// fetched, no address of anywhere in it.
async fn report(server: &Server, path: &str) -> String {
    let reply = server.get(path).await;
    assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.text);
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // Its one link is an empty icon, so that a browser asks no server for /favicon.ico.
    let html = reply
        .text
        .replacen(r#"<link rel="icon" href="data:,">"#, "", 1);
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    for forbidden in [
        "http://", "https://", "<script", "<link", " src=", "url(", "@import", "<iframe",
    ] {
        assert!(
            !html.to_ascii_lowercase().contains(forbidden),
            "{path} holds {forbidden:?}"
        );
    }
    assert!(html.contains("<style>"), "{path}: no inline style");
    html
}

async fn form_post(server: &Server, form: Form) -> Reply {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    server
        .send(
            client
                .request(Method::POST, server.url("/experiments/new"))
                .multipart(form),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_experiment_form_plans_refuses_and_runs() {
    let server = Server::start(sqlite().await, None).await;
    let page = server.get("/experiments/new").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.text.contains("SMA cross and RSI reversion on GOOG"),
        "no example"
    );

    // A mistake is named next to the text, with the spec's field.
    let broken = EXAMPLE.replace(
        "builtin = \"sma-cross\"",
        "builtin = \"sma-cross\"\nrepeats = 0",
    );
    let refused = form_post(
        &server,
        Form::new().text("spec", broken).text("intent", "run"),
    )
    .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(refused.text.contains(r#"data-error="spec""#));
    assert!(
        refused
            .text
            .contains("spec.strategies[0].repeats: 0 is not between 1 and 100")
    );
    let listed = server.get("/api/v1/experiments").await;
    assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 0);

    // A plan creates nothing; an uploaded file wins over the text.
    let planned = form_post(
        &server,
        Form::new()
            .text("spec", "not toml at all")
            .part(
                "file",
                reqwest::multipart::Part::bytes(EXAMPLE.as_bytes().to_vec()).file_name("x.toml"),
            )
            .text("intent", "plan"),
    )
    .await;
    assert_eq!(planned.status.as_u16(), 200, "{}", planned.text);
    assert!(
        planned.text.contains(r#"data-plan="plan.tasks">8<"#),
        "{}",
        planned.text
    );
    let listed = server.get("/api/v1/experiments").await;
    assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 0);

    // Run: to the experiment's page, which refreshes itself until every task has ended.
    let run = form_post(
        &server,
        Form::new().text("spec", EXAMPLE).text("intent", "run"),
    )
    .await;
    assert_eq!(run.status.as_u16(), 303, "{}", run.text);
    let page = run.headers["location"].to_str().unwrap().to_string();
    let id = page.trim_start_matches("/experiments/").to_string();
    let mut ended = false;
    for _ in 0..600 {
        let live = server.get(&format!("{page}/live")).await;
        assert_eq!(live.status.as_u16(), 200);
        if live.text.contains(r#"data-status="COMPLETED""#) {
            assert!(
                !live.text.contains("hx-trigger"),
                "an ended board refreshes"
            );
            assert_eq!(live.text.matches("<tr class=\"kind-").count(), 10);
            assert!(!live.text.contains(r#"id="pause""#) && !live.text.contains(r#"id="cancel""#));
            ended = true;
            break;
        }
        assert!(live.text.contains(r#"hx-trigger="every 2s""#));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "the experiment never completed");
    let whole = server.get(&page).await;
    assert!(whole.text.contains(&format!("/experiments/{id}/report")));
    assert!(whole.text.contains("/tasks/"), "no link to a task");
    let list = server.get("/experiments").await;
    assert!(list.text.contains("SMA cross and RSI reversion on GOOG"));
    assert!(list.text.contains("status-COMPLETED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_self_contained_on_sqlite() {
    reports(&Server::start(sqlite().await, None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_self_contained_on_postgres() {
    reports(&Server::start(postgres().await, None).await).await;
}

async fn reports(server: &Server) {
    let fake = FakeLlm::start(|_, body| FakeReply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::from_millis(2),
    })
    .await;
    let spec = json!({
        "name": "a model against a rule",
        "seed": 3,
        "series": [{"symbol": "GOOG"}],
        "periods": {"in_sample": {"start": "2012-01-03", "end": "2012-02-29"},
                    "out_of_sample": {"start": "2012-03-01", "end": "2012-04-30"}},
        "strategies": [
            {"name": "fake", "template_content": "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}.\nDecide.",
             "base_url": fake.base_url(), "model": "fake", "repeats": 2, "blind_twin": true,
             "temperature": "0.7"},
            {"name": "sma", "builtin": "sma-cross", "params": {"fast": 5, "slow": 10}},
        ],
        "baselines": {"random": 10},
    });
    let experiment = run_experiment(server, spec).await;
    let id = experiment["experiment_id"].as_str().unwrap();

    let html = report(server, &format!("/experiments/{id}/report?lang=en")).await;
    for part in [
        r#"id="leaderboard""#,
        r#"id="splits""#,
        r#"id="models""#,
        r#"id="cost""#,
        "What the columns mean",
        "Buy &amp; hold",
        "Random runs",
        "<svg",
        "builtin:sma-cross fast=5 slow=10",
    ] {
        assert!(html.contains(part), "the experiment report has no {part}");
    }
    // A chart of returns and one of equity per series and period.
    assert_eq!(html.matches("<svg").count(), 4);
    // Every task of the grid is listed by its id, for `aibt task report`.
    let runs = experiment["runs"].as_array().unwrap();
    for run in runs {
        assert!(html.contains(run["task_id"].as_str().unwrap()));
    }
    let chinese = report(server, &format!("/experiments/{id}/report?lang=zh")).await;
    assert!(chinese.contains(r#"<html lang="zh-CN">"#));
    assert!(
        chinese.contains("排行榜")
            && chinese.contains("样本外")
            && !chinese.contains("Leaderboard")
    );
    let reply = server
        .get(&format!("/experiments/{id}/report?download=true"))
        .await;
    let disposition = reply.headers["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"experiment-{id}.html\"")
    );

    // A model's task: its settings, statistics, cost and reasoning.
    let model_task = runs
        .iter()
        .find(|r| r["variant"] == "fake" && r["blind"] == false)
        .unwrap()["task_id"]
        .as_str()
        .unwrap();
    let html = report(server, &format!("/tasks/{model_task}/report")).await;
    for part in [
        "Backtest report",
        r#"id="stats""#,
        r#"id="model-stats""#,
        "LLM calls",
        "Money",
        r#"id="trades""#,
        r#"id="decisions""#,
        "hashed",
        "<svg",
        "Decide.",
    ] {
        assert!(html.contains(part), "the task report has no {part}");
    }
    assert_eq!(html.matches("<svg").count(), 2);

    server
        .get("/experiments/nope/report")
        .await
        .error(404, "not_found", None);
    server
        .get("/tasks/nope/report")
        .await
        .error(404, "not_found", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_backtest_makes_a_bounded_report() {
    let server = Server::start(sqlite().await, None).await;
    server
        .post_raw(
            "/api/v1/market-data/import?symbol=IDX&market_type=US&time_granularity=minute",
            "text/csv",
            sample_csv("INDEX2006_1m.csv"),
        )
        .await
        .ok(201);
    let account = server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": "100000"}),
        )
        .await;
    let account = account.ok(201)["account_id"].as_str().unwrap().to_string();
    let created = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "IDX", "time_granularity": "minute",
                   "strategy": "builtin:sma-cross", "options": {"params": {"fast": "2", "slow": "3"}},
                   "start": true}),
        )
        .await;
    let id = created.ok(201)["task_id"].as_str().unwrap().to_string();
    let task = server.wait_for(&id, &["COMPLETED"]).await;
    assert!(task["total_items"].as_i64().unwrap() > 10_000, "{task}");
    let html = report(&server, &format!("/tasks/{id}/report")).await;
    assert!(
        html.contains("The first 500 trades"),
        "no bound on the trades"
    );
    assert!(
        html.contains("The first 300 decisions"),
        "no bound on the decisions"
    );
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_experiment_page_pauses_resumes_and_cancels() {
    let server = Server::start(sqlite().await, None).await;
    let fake = FakeLlm::start(|_, body| FakeReply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::from_millis(30),
    })
    .await;
    let spec = json!({
        "name": "slow model",
        "series": [{"symbol": "GOOG"}],
        "periods": {"list": [{"name": "2011", "start": "2011-01-01", "end": "2011-12-31"}]},
        "strategies": [{"name": "fake", "template_content": "{{ symbol }} {{ now }}. Decide.",
                        "base_url": fake.base_url(), "model": "fake"}],
        "baselines": {"random": 0},
    });
    let created = server.post("/api/v1/experiments", spec).await;
    let id = created.ok(201)["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let live_path = format!("/experiments/{id}/live");
    let live = |_: ()| server.get(&live_path);
    let running = live(()).await;
    assert!(
        running.text.contains(r#"data-status="RUNNING""#),
        "{}",
        running.text
    );
    assert!(running.text.contains(r#"id="pause""#) && running.text.contains(r#"id="cancel""#));
    assert!(!running.text.contains(r#"id="resume""#));

    for (action, status, buttons) in [
        ("pause", "PAUSED", [r#"id="resume""#, r#"id="cancel""#]),
        ("resume", "RUNNING", [r#"id="pause""#, r#"id="cancel""#]),
    ] {
        let answer = server
            .send(server.request(Method::POST, &format!("/experiments/{id}/{action}")))
            .await;
        assert_eq!(answer.status.as_u16(), 204, "{}", answer.text);
        assert_eq!(answer.headers["hx-refresh"], "true");
        let page = live(()).await;
        assert!(
            page.text.contains(&format!(r#"data-status="{status}""#)),
            "{action}"
        );
        for button in buttons {
            assert!(page.text.contains(button), "{action}: no {button}");
        }
    }
    let answer = server
        .send(server.request(Method::POST, &format!("/experiments/{id}/cancel")))
        .await;
    assert_eq!(answer.status.as_u16(), 204);
    let page = live(()).await;
    assert!(page.text.contains(r#"data-status="CANCELLED""#));
    assert!(
        !page.text.contains("hx-trigger"),
        "a cancelled board refreshes"
    );
    assert!(!page.text.contains(r#"id="pause""#) && !page.text.contains(r#"id="resume""#));
    // A cancelled experiment does not change again: the page shows the engine's refusal.
    let again = server
        .send(server.request(Method::POST, &format!("/experiments/{id}/resume")))
        .await;
    again.error(409, "wrong_state", Some("status"));
    let unknown = server
        .send(server.request(Method::POST, &format!("/experiments/{id}/explode")))
        .await;
    assert_eq!(unknown.status.as_u16(), 404);
}
