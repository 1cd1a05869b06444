//! Getting data in over HTTP, against the real server on 127.0.0.1, once over a SQLite file and
//! once over PostgreSQL: a preview that recognises a Chinese export and says what an unknown
//! header lacks, imports mapped by name or with a chosen close, a legacy Excel workbook,
//! resampling a stored series, and downloads from a local server speaking Binance's and
//! Yahoo's formats (through the cache, with a provider's refusal and a rate limit). Every
//! refusal names its field and stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_testkit::providers::{FakeBar, FakeProviders};
use common::*;
use reqwest::Method;
use serde_json::json;

on_both_backends!(files_and_resampling);

async fn files_and_resampling(server: &Server) {
    // A Chinese broker's export, GBK with a title line: recognised without a map.
    let text = "平安银行(000001) 日线\n日期,开盘,最高,最低,收盘,成交量\n2024-01-02,9.39,9.42,9.21,9.21,1158366\n2024-01-03,9.19,9.22,9.15,9.20,733610\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let preview = server
        .post_raw("/api/v1/market-data/preview", "text/csv", gbk.to_vec())
        .await;
    let preview = preview.ok(200);
    assert_eq!(preview["file"]["encoding"], "GBK");
    assert_eq!(preview["header_line"], 2);
    assert_eq!(preview["mapping"]["time"], "日期");
    assert_eq!(preview["rows"][1][4], "9.20");
    assert!(preview["problem"].is_null());

    // Unknown headers: the preview says what is missing; an import refuses; a map imports.
    let odd = b"day,o,h,l,c\n2024-01-02,1,2,0.5,1.5\n".to_vec();
    let preview = server
        .post_raw("/api/v1/market-data/preview", "text/csv", odd.clone())
        .await;
    assert!(
        preview.ok(200)["problem"]
            .as_str()
            .unwrap()
            .starts_with("no time column")
    );
    let series = "symbol=ODD&market_type=US&time_granularity=daily";
    server
        .post_raw(
            &format!("/api/v1/market-data/import?{series}"),
            "text/csv",
            odd.clone(),
        )
        .await
        .error(422, "invalid", Some("file"));
    let map = "time%3Dday%2Copen%3Do%2Chigh%3Dh%2Clow%3Dl%2Cclose%3Dc";
    let mapped = server
        .post_raw(
            &format!("/api/v1/market-data/import?{series}&map={map}"),
            "text/csv",
            odd,
        )
        .await;
    assert_eq!(mapped.ok(201)["inserted"], 1);
    assert_eq!(mapped.ok(201)["description"], "imported from upload.csv");
    server
        .post_raw(
            "/api/v1/market-data/preview?map=when%3Dday",
            "text/csv",
            b"day\n1\n".to_vec(),
        )
        .await
        .error(422, "invalid", Some("map"));

    // Two closes: refused until a close is chosen, also as multipart form fields.
    let yahoo = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,8,10,5,100\n";
    server
        .post_raw(
            "/api/v1/market-data/import?symbol=AAPL&market_type=US&time_granularity=daily",
            "text/csv",
            yahoo.as_bytes().to_vec(),
        )
        .await
        .error(422, "invalid", Some("file"));
    let form = reqwest::multipart::Form::new()
        .text("symbol", "AAPL")
        .text("market_type", "US")
        .text("time_granularity", "daily")
        .text("close", "adjusted")
        .part(
            "file",
            reqwest::multipart::Part::bytes(yahoo.as_bytes().to_vec()).file_name("AAPL.csv"),
        );
    let chosen = server
        .send(
            server
                .request(Method::POST, "/api/v1/market-data/import")
                .multipart(form),
        )
        .await;
    assert_eq!(chosen.ok(201)["inserted"], 1);
    let bars = server
        .get("/api/v1/market-data/bars?symbol=AAPL&market_type=US&time_granularity=daily")
        .await;
    assert_eq!(bars.ok(200)["items"][0]["high"], "6.00000000");

    // A legacy .xls workbook (tools/reference/xls_fixture.py), its title row skipped.
    let xls = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../aibt-data/tests/fixtures/bars_cn.xls"
    ))
    .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("symbol", "000001")
        .text("market_type", "US")
        .text("time_granularity", "daily")
        .part(
            "file",
            reqwest::multipart::Part::bytes(xls).file_name("bars_cn.xls"),
        );
    let workbook = server
        .send(
            server
                .request(Method::POST, "/api/v1/market-data/import")
                .multipart(form),
        )
        .await;
    assert_eq!(workbook.ok(201)["inserted"], 5);

    // Resampling a stored minute series into hourly bars, and the refusals.
    server
        .post_raw(
            "/api/v1/market-data/import?symbol=BTCUSD&market_type=COIN&time_granularity=minute",
            "text/csv",
            sample_csv("BTCUSD_1m.csv"),
        )
        .await
        .ok(201);
    let hourly = server
        .post(
            "/api/v1/market-data/resample",
            json!({"symbol": "BTCUSD", "market_type": "COIN", "from": "minute", "to": "daily",
                   "time_zone": "Asia/Shanghai"}),
        )
        .await;
    // tools/reference/resample_fixtures.py: BTCUSD_1m_daily_shanghai.csv has 4 days.
    assert_eq!(hourly.ok(201)["inserted"], 4);
    assert_eq!(hourly.ok(201)["series"]["granularity"], "daily");
    let day = server
        .get("/api/v1/market-data/bars?symbol=BTCUSD&market_type=COIN&time_granularity=daily&limit=2")
        .await;
    let day = day.ok(200)["items"][1].clone();
    assert_eq!(
        (
            day["ts"].as_str(),
            day["open"].as_str(),
            day["volume"].as_str()
        ),
        (
            Some("2018-04-05T00:00:00Z"),
            Some("6785.21000000"),
            Some("10357.45058416")
        )
    );
    server
        .post(
            "/api/v1/market-data/resample",
            json!({"symbol": "BTCUSD", "market_type": "COIN", "from": "minute", "to": "minute"}),
        )
        .await
        .error(422, "invalid", Some("time_granularity"));
    server
        .post(
            "/api/v1/market-data/resample",
            json!({"symbol": "BTCUSD", "market_type": "COIN", "from": "minute", "to": "hourly",
                   "time_zone": "Mars/Base"}),
        )
        .await
        .error(422, "invalid", Some("time_zone"));
    server
        .post(
            "/api/v1/market-data/resample",
            json!({"symbol": "NOPE", "market_type": "COIN", "from": "minute", "to": "hourly"}),
        )
        .await
        .error(404, "not_found", None);
    let listed = server.get("/api/v1/market-data").await;
    let listed = listed.ok(200)["series"].as_array().unwrap().clone();
    assert!(listed.iter().any(|s| {
        s["symbol"] == "BTCUSD"
            && s["granularity"] == "daily"
            && s["description"]
                .as_str()
                .is_some_and(|d| d.contains("Asia/Shanghai"))
    }));
    assert!(
        !listed.iter().any(|s| s["symbol"] == "NOPE"),
        "refusals stored nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_on_sqlite() {
    downloads(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_on_postgres() {
    downloads(postgres().await).await;
}

async fn downloads(backend: (std::sync::Arc<dyn aibt_store::Store>, Backend)) {
    let start = 1_704_067_200; // 2024-01-01T00:00:00Z
    let bars: Vec<FakeBar> = (0..30)
        .map(|hour| {
            FakeBar::new(
                start + hour * 3_600,
                "42000.5",
                "42100",
                "41900.25",
                "42050",
                "3.14159265",
            )
        })
        .collect();
    let fake = FakeProviders::start(bars).await;
    let cache = tempfile::tempdir().unwrap();
    let config = aibt_fetch::FetchConfig {
        yahoo_url: fake.base_url(),
        binance_url: fake.base_url(),
        ..aibt_fetch::FetchConfig::with_cache_dir(cache.path().to_path_buf())
    };
    let (store, kind) = backend;
    let server = Server::start_fetching(store, kind, None, Default::default(), config).await;
    let body = json!({"source": "binance", "symbol": "BTCUSDT", "time_granularity": "hourly",
                      "start": "2024-01-01", "end": "2024-01-01"});
    let fetched = server.post("/api/v1/market-data/fetch", body.clone()).await;
    let fetched = fetched.ok(201).clone();
    assert_eq!(fetched["inserted"], 24);
    assert_eq!(fetched["series"]["market_type"], "COIN");
    assert_eq!(fetched["requests"], 1);
    let again = server.post("/api/v1/market-data/fetch", body.clone()).await;
    assert_eq!(again.ok(201)["requests"], 0, "served by the cache");
    assert_eq!(fake.calls(), 1);

    // The provider's refusal of a symbol is the caller's to fix; a rate limit longer than
    // aibt waits out is the provider's (502); neither stores anything.
    let mut unknown = body.clone();
    unknown["symbol"] = json!("BADCOIN");
    server
        .post("/api/v1/market-data/fetch", unknown)
        .await
        .error(422, "invalid", Some("symbol"));
    fake.reply_next(
        429,
        Some("3600"),
        r#"{"code":-1003,"msg":"Too many requests"}"#,
    );
    let mut limited = body.clone();
    limited["symbol"] = json!("ETHUSDT");
    server
        .post("/api/v1/market-data/fetch", limited)
        .await
        .error(502, "upstream", None);
    let mut backwards = body.clone();
    backwards["end"] = json!("2023-12-31");
    server
        .post("/api/v1/market-data/fetch", backwards)
        .await
        .error(422, "invalid", Some("end"));
    let mut adjusted = body;
    adjusted["adjusted"] = json!(true);
    server
        .post("/api/v1/market-data/fetch", adjusted)
        .await
        .error(422, "invalid", Some("adjusted"));
    // The market-data page's form downloads the same way (here: the cached range again).
    let page = server
        .send(
            server
                .request(Method::POST, "/market-data/fetch")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("source=binance&symbol=BTCUSDT&time_granularity=hourly&start=2024-01-01&end=2024-01-01"),
        )
        .await;
    assert!(
        page.text.contains("upload-ok") && page.text.contains("0 requests"),
        "{}",
        page.text
    );
    let listed = server.get("/api/v1/market-data").await;
    let listed = listed.ok(200)["series"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0]["description"]
            .as_str()
            .unwrap()
            .contains("Binance")
    );
}
