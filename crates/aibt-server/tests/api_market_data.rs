//! The market-data routes over HTTP, against the real server on 127.0.0.1 with a worker beside
//! it, once over a SQLite file and once over PostgreSQL (`on_both_backends!`): CSV and multipart imports (repeated, changed or broken), the series list, and
//! bars in a range paged by cursor, with the refusals named by their field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::Method;

on_both_backends!(market_data);

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

on_both_backends!(context);

async fn context(server: &Server) {
    // A CSV as the whole body, the symbol as a query parameter.
    let csv = "日期,trend,score\n2012年3月2日,down,-0.5\n2012-03-01,up,0.75\n";
    let imported = server
        .post_raw(
            "/api/v1/context/import?stock_symbol=GOOG",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    let imported = imported.ok(201);
    assert_eq!(imported["items"], 2);
    assert_eq!(imported["first"], "2012-03-01");
    assert_eq!(imported["columns"], serde_json::json!(["trend", "score"]));

    // A bad date names its line; nothing of the file is stored.
    let broken = server
        .post_raw(
            "/api/v1/context/import?stock_symbol=GOOG",
            "text/csv",
            "date,trend\n2012-03-05,up\n2012-02-30,down\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
    let body = broken.error(422, "invalid", Some("file"));
    assert!(body.text.contains("upload:3: column date"), "{}", body.text);
    server
        .post_raw(
            "/api/v1/context/import",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await
        .error(422, "invalid", Some("stock_symbol"));

    // An Excel workbook from a form, as the market-data page sends it.
    let xlsx = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../aibt-data/tests/fixtures/context.xlsx"
    ))
    .expect("fixture");
    let form = reqwest::multipart::Form::new()
        .text("stock_symbol", "MSFT")
        .part(
            "file",
            reqwest::multipart::Part::bytes(xlsx).file_name("context.xlsx"),
        );
    let from_form = server
        .send(
            server
                .request(Method::POST, "/api/v1/context/import")
                .multipart(form),
        )
        .await;
    assert_eq!(from_form.ok(201)["items"], 4);

    let listed = server.get("/api/v1/context?stock_symbol=GOOG").await;
    let items = listed.ok(200)["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["item_date"], "2012-03-01");
    assert_eq!(items[0]["visible_at"], "2012-03-02T00:00:00Z");
    assert_eq!(items[1]["data"]["trend"], "down");
    assert_eq!(
        server
            .get("/api/v1/context?stock_symbol=MSFT")
            .await
            .ok(200)["items"][0]["data"]["趋势"],
        "上涨"
    );
    server
        .get("/api/v1/context")
        .await
        .error(400, "bad_request", Some("stock_symbol"));
}
