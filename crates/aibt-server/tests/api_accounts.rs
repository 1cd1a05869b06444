//! The accounts routes over HTTP, against the real server on 127.0.0.1 with a worker beside
//! it, once over a SQLite file and once over PostgreSQL (`on_both_backends!`): money as decimal strings with the design's defaults, changes, paging, every
//! refused field named by its status, code and field, and the accounts a task uses kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

on_both_backends!(accounts);

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
