//! What every route of the API shares, over HTTP against the real server on 127.0.0.1: the
//! health check, the OpenAPI description and its docs page, the error answer of an unknown
//! route or an oversized body and the request id, once over a SQLite file and once over
//! PostgreSQL (`on_both_backends!`); and the token that guards every route but health, for
//! clients and for a browser's sign-in (over SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

on_both_backends!(documentation_and_errors);

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
    // Every route that reads a body documents the shared extractor's refusals; one without a
    // body does not.
    for (path, method) in [
        ("/api/v1/experiments", "post"),
        ("/api/v1/tasks/{task_id}/resume", "post"),
        ("/api/v1/accounts/{account_id}", "patch"),
    ] {
        let responses = &paths[path][method]["responses"];
        for status in ["400", "413"] {
            assert!(
                responses[status].is_object(),
                "{method} {path}: no {status}"
            );
        }
    }
    assert!(paths["/api/v1/tasks/{task_id}/pause"]["post"]["responses"]["413"].is_null());
    // A server without a token describes no security and no 401 (a client sending nothing is
    // served); every write documents the cross-site 403; every operation with query
    // parameters their 400.
    assert!(spec["security"].is_null(), "{}", spec["security"]);
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("operations") {
            let responses = &operation["responses"];
            assert!(responses["401"].is_null(), "{method} {path}: a 401");
            if method != "get" {
                assert!(responses["403"].is_object(), "{method} {path}: no 403");
            }
            let has_query = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if has_query {
                assert!(responses["400"].is_object(), "{method} {path}: no 400");
            }
        }
    }
    // An empty cursor is the first page, as a client without one may send it.
    let first = server.get("/api/v1/tasks?cursor=&limit=5").await;
    assert!(first.ok(200)["items"].is_array());
    server
        .get("/api/v1/tasks?limit=-1")
        .await
        .error(400, "bad_request", Some("limit"));
    // A time-ordered list's cursor is MICROS|ID, as its pattern says; any such text is a
    // position, other text a 400 naming the cursor.
    let cursor = &paths["/api/v1/tasks"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "cursor")
        .expect("a cursor")["schema"]["pattern"];
    assert_eq!(cursor, r"^(-?[0-9]{1,16}\|.*)?$");
    let far = server
        .get("/api/v1/tasks?cursor=-9999999999999999%7Cz")
        .await;
    assert_eq!(far.ok(200)["items"], serde_json::json!([]));
    server
        .get("/api/v1/tasks?cursor=yesterday")
        .await
        .error(400, "bad_request", Some("cursor"));
    // Each event of a stream is described: its name, and the schema of its JSON data.
    let stream = &paths["/api/v1/tasks/{task_id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]
        ["schema"];
    let events: Vec<(String, String)> = stream["oneOf"]
        .as_array()
        .expect("one schema per event")
        .iter()
        .map(|variant| {
            let properties = &variant["properties"];
            (
                properties["event"]["const"]
                    .as_str()
                    .expect("name")
                    .to_string(),
                properties["data"]["contentSchema"]["$ref"]
                    .as_str()
                    .expect("data")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("progress", "ProgressEvent"),
            ("decision", "DecisionEvent"),
            ("end", "EndEvent"),
            ("error", "StreamError"),
        ]
        .map(|(event, schema)| (event.to_string(), format!("#/components/schemas/{schema}")))
    );
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.contains_key("VirtualAccount") && schemas.contains_key("TradeRecord"));
    // Money is a string in the description, as aibt writes it (a request may send a number),
    // of at most 20 integer digits and 8 places.
    let money = &schemas["VirtualAccount"]["properties"]["initial_balance"];
    let money = match money["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => money,
    };
    assert_eq!(
        money["type"],
        serde_json::json!(["string", "number"]),
        "{money}"
    );
    assert_eq!(money["pattern"], r"^-?[0-9]{1,20}(\.[0-9]{1,8})?$");
    // A field narrower than its type says so: a commission rate is below 1.
    let commission = &schemas["AccountCreate"]["properties"]["commission_rate_buy"];
    assert_eq!(commission["pattern"], r"^0(\.[0-9]{1,6})?$", "{commission}");

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
    // Its description requires the bearer token, and every operation documents the 401.
    let spec = guarded.get("/api/openapi.json").await;
    let spec = spec.ok(200);
    assert_eq!(spec["security"], serde_json::json!([{"bearer": []}]));
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path}: no 401"
            );
        }
    }

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
