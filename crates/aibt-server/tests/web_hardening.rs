//! What a browser is told and what it may do, over HTTP against the real server: the
//! security headers of every answer, the refusal of a state-changing request from another
//! site, and failed sign-ins answered more and more slowly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let server = Server::start(sqlite().await, None).await;
    for path in [
        "/",
        "/api/v1/tasks",
        "/api/v1/nothing",
        "/static/app.js",
        "/api/docs",
    ] {
        let reply = server.get(path).await;
        let policy = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(reply.headers["x-frame-options"], "DENY", "{path}");
    }
    // The UI's pages carry no inline style or script a policy of 'self' would block.
    let page = server.get("/").await;
    assert!(!page.text.contains("style=\""), "an inline style on /");

    // A report is a document with its styles inside and no script at all.
    import_goog(&server).await;
    let account = new_account(&server, "10000").await;
    let task = server
        .post(
            "/api/v1/tasks",
            json!({"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross",
                   "start": true}),
        )
        .await;
    let id = task.ok(201)["task_id"].as_str().unwrap().to_string();
    server.wait_for(&id, &["COMPLETED"]).await;
    let report = server.get(&format!("/tasks/{id}/report")).await;
    assert_eq!(report.status, 200);
    let policy = report.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("default-src 'none'") && !policy.contains("script-src"),
        "{policy}"
    );
    let task_page = server.get(&format!("/tasks/{id}")).await;
    assert!(
        !task_page.text.contains("style=\""),
        "an inline style on the task page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_site_cannot_change_anything() {
    let server = Server::start(sqlite().await, None).await;
    let account = json!({"market_type": "US", "initial_balance": "1000"});
    let own_origin = server.base.clone();
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:1"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let refused = server
            .send(
                server
                    .request(Method::POST, "/api/v1/accounts")
                    .header(header, value)
                    .json(&account),
            )
            .await;
        refused.error(403, "cross_site", Some("Origin"));
    }
    // A web form of another site, posting to a page of the UI.
    let form = server
        .send(
            server
                .request(Method::POST, "/accounts")
                .header("origin", "http://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("account_name=x&initial_balance=1"),
        )
        .await;
    form.error(403, "cross_site", Some("Origin"));
    let accounts = server.get("/api/v1/accounts").await;
    assert!(accounts.ok(200)["items"].as_array().unwrap().is_empty());

    // This server's own pages, and programs that send no Origin, go through.
    let own = server
        .send(
            server
                .request(Method::POST, "/api/v1/accounts")
                .header("origin", own_origin.as_str())
                .header("sec-fetch-site", "same-origin")
                .json(&account),
        )
        .await;
    own.ok(201);
    server.post("/api/v1/accounts", account).await.ok(201);
    // Reading is never refused.
    let read = server
        .send(
            server
                .request(Method::GET, "/api/v1/accounts")
                .header("origin", "http://evil.example"),
        )
        .await;
    read.ok(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_answered_more_and_more_slowly() {
    let server = Server::start(sqlite().await, Some("s3cret-token")).await;
    let client = reqwest::Client::new();
    let guess = |token: &'static str| {
        let request = client.get(server.url("/api/v1/tasks")).bearer_auth(token);
        async move {
            let started = Instant::now();
            let status = request.send().await.expect("request").status().as_u16();
            (status, started.elapsed())
        }
    };
    // A few mistakes cost nothing; then each answer waits at least twice as long.
    let mut waits = Vec::new();
    for _ in 0..5 {
        let (status, took) = guess("wrong").await;
        assert_eq!(status, 401);
        waits.push(took);
    }
    assert!(waits[3] >= Duration::from_millis(250), "{waits:?}");
    assert!(waits[4] >= Duration::from_millis(500), "{waits:?}");
    // The right token is never slowed, and a sign-in with it forgets the failures.
    assert_eq!(guess("s3cret-token").await.0, 200);
    let started = Instant::now();
    let login = client
        .post(server.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=still-wrong")
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 401);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=s3cret-token")
        .send()
        .await
        .expect("login");
    assert_eq!(signed_in.status().as_u16(), 303);
}
