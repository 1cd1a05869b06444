//! `aibt data` as a user runs it on the files people have and the data they download: a GBK
//! export of a Chinese broker with a title line, unknown headers mapped by name, a Yahoo
//! export with two closes, a preview, resampling a stored series, and downloads from a local
//! server that speaks Binance's and Yahoo's formats. Every refusal exits non-zero, says why
//! and stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_testkit::providers::{FakeBar, FakeProviders};
use common::*;

fn import(env: &Env, file: &std::path::Path, symbol: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "data",
        "import",
        file.to_str().unwrap(),
        "--symbol",
        symbol,
        "--market",
        "US",
        "--granularity",
        "daily",
    ];
    args.extend_from_slice(extra);
    env.aibt(&args)
}

fn stored(env: &Env) -> Vec<serde_json::Value> {
    env.aibt(&["data", "list", "--format", "json"])
        .success()
        .json()["series"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_gbk_export_with_a_title_line_and_chinese_headers_imports_unmapped() {
    let env = Env::sqlite();
    let text = "平安银行(000001) 日线 前复权\r\n日期\t开盘\t最高\t最低\t收盘\t成交量(手)\r\n2024/01/02\t9.39\t9.42\t9.21\t9.21\t1158366\r\n2024/01/03\t9.19\t9.22\t9.15\t9.20\t733610\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let file = env.path("000001.txt");
    std::fs::write(&file, &gbk).unwrap();
    let preview = env
        .aibt(&[
            "data",
            "preview",
            file.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(preview["file"]["encoding"], "GBK");
    assert_eq!(preview["file"]["delimiter"], "\t");
    assert_eq!(preview["header_line"], 2);
    assert_eq!(preview["mapping"]["close"], "收盘");
    assert_eq!(preview["mapping"]["volume"], "成交量(手)");
    let run = import(&env, &file, "000001", &[]).success();
    assert!(run.stdout().contains("2 new"), "{}", run.stdout());
    let series = stored(&env);
    assert_eq!(series[0]["bars"], 2);
    assert_eq!(series[0]["description"], "imported from 000001.txt");
}

#[test]
fn unknown_headers_are_refused_with_what_was_found_then_mapped() {
    let env = Env::sqlite();
    let file = env.write(
        "odd.csv",
        "day;o;h;l;c;qty\n2024-01-02;1,5;2;1;1,75;10\n2024-01-03;1,75;2;1,5;2;12\n",
    );
    let refused = import(&env, &file, "ODD", &[]).failure();
    let message = refused.stderr();
    assert!(
        message.contains("no time column: the header has day, o, h, l, c, qty"),
        "{message}"
    );
    assert!(message.contains("time=COLUMN"), "{message}");
    assert!(stored(&env).is_empty(), "nothing stored");
    let problem = env
        .aibt(&["data", "preview", file.to_str().unwrap()])
        .failure();
    assert!(problem.stdout().contains("(none)"), "{}", problem.stdout());
    let map = "time=day,open=o,high=h,low=l,close=c,volume=qty";
    import(&env, &file, "ODD", &["--map", map]).success();
    let bars = stored(&env);
    assert_eq!(bars[0]["bars"], 2);
    let bad_map = import(&env, &file, "ODD", &["--map", "when=day"]).failure();
    assert!(
        bad_map.stderr().contains("not a column role"),
        "{}",
        bad_map.stderr()
    );
}

#[test]
fn two_closes_wait_for_a_choice_and_adjusted_scales_the_bar() {
    let env = Env::sqlite();
    let file = env.write(
        "AAPL.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,8,10,5,100\n",
    );
    let refused = import(&env, &file, "AAPL", &[]).failure();
    assert!(
        refused.stderr().contains("two closes"),
        "{}",
        refused.stderr()
    );
    assert!(stored(&env).is_empty());
    import(&env, &file, "AAPL", &["--close", "adjusted"]).success();
    assert_eq!(stored(&env)[0]["bars"], 1);
}

#[test]
fn a_stored_minute_series_resamples_as_pandas_does() {
    let env = Env::sqlite();
    let minutes = sample_dir().join("SPY_1m.csv");
    env.aibt(&[
        "data",
        "import",
        minutes.to_str().unwrap(),
        "--symbol",
        "SPY",
        "--market",
        "US",
        "--granularity",
        "minute",
    ])
    .success();
    let run = env
        .aibt(&[
            "data",
            "resample",
            "--symbol",
            "SPY",
            "--from",
            "minute",
            "--to",
            "hourly",
            "--time-zone",
            "Asia/Kolkata",
            "--format",
            "json",
        ])
        .success()
        .json();
    // tools/reference/resample_fixtures.py: SPY_1m_hourly_kolkata.csv has 102 buckets.
    assert_eq!(run["inserted"], 102);
    assert_eq!(run["first"], "2013-10-04T07:30:00Z");
    assert!(
        run["description"]
            .as_str()
            .unwrap()
            .contains("Asia/Kolkata")
    );
    let coarser = env
        .aibt(&[
            "data", "resample", "--symbol", "SPY", "--from", "hourly", "--to", "minute",
        ])
        .failure();
    assert!(coarser.stderr().contains("coarser"), "{}", coarser.stderr());
    let zone = env
        .aibt(&[
            "data",
            "resample",
            "--symbol",
            "SPY",
            "--from",
            "minute",
            "--to",
            "daily",
            "--time-zone",
            "Mars/Base",
        ])
        .failure();
    assert!(zone.stderr().contains("Mars/Base"), "{}", zone.stderr());
    let missing = env
        .aibt(&[
            "data", "resample", "--symbol", "QQQ", "--from", "minute", "--to", "daily",
        ])
        .failure();
    assert!(missing.stderr().contains("QQQ"), "{}", missing.stderr());
}

/// Binance's hourly bars of 2024-01-01 and 02, and Yahoo's daily bars of the week after (the
/// fake serves every bar to both APIs, so the two ranges do not meet).
fn provider_bars() -> Vec<FakeBar> {
    let start = 1_704_067_200; // 2024-01-01T00:00:00Z
    let mut bars: Vec<FakeBar> = (0..48)
        .map(|hour| {
            let open = format!("{}.25", 42_000 + hour);
            let close = format!("{}.75", 42_000 + hour);
            FakeBar::new(
                start + hour * 3_600,
                &open,
                &format!("{}.5", 42_010 + hour),
                &format!("{}.125", 41_990 + hour),
                &close,
                "12.34567891",
            )
        })
        .collect();
    bars.extend((7..12).map(|day| {
        // Yahoo stamps a daily bar at its session's open, 14:30 UTC in New York's winter.
        FakeBar::new(
            start + day * 86_400 + 52_200,
            "185.5",
            "186",
            "184",
            "185",
            "1000",
        )
        .adjclose("184.5")
    }));
    bars
}

#[test]
fn a_download_is_stored_once_then_served_from_the_cache() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeProviders::start(provider_bars()));
    let env = Env::sqlite();
    let cache = env.path("cache");
    let base_url = fake.base_url();
    let fetch = |symbol: &str, extra: &[&str]| {
        let mut args = vec![
            "data",
            "fetch",
            symbol,
            "--source",
            "binance",
            "--granularity",
            "hourly",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--binance-url",
            &base_url,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        env.aibt(&refs)
    };
    let first = fetch("BTC-USDT", &[]).success().json();
    assert_eq!(first["inserted"], 48);
    assert!(first["requests"].as_u64().unwrap() >= 1);
    assert_eq!(first["series"]["market_type"], "COIN");
    let calls = fake.calls();
    let again = fetch("BTC-USDT", &[]).success().json();
    assert_eq!(again["requests"], 0, "the cache covers the range");
    assert_eq!(again["unchanged"], 48);
    assert_eq!(fake.calls(), calls, "no request reached the server");
    let series = stored(&env);
    assert!(
        series[0]["description"]
            .as_str()
            .unwrap()
            .contains("Binance"),
        "{series:?}"
    );

    // An unknown symbol is the provider's own words; a long rate limit is a failure that
    // stores nothing and leaves the cache as it was.
    let unknown = fetch("BADCOIN", &[]).failure();
    assert!(
        unknown.stderr().contains("Invalid symbol"),
        "{}",
        unknown.stderr()
    );
    fake.reply_next(
        429,
        Some("3600"),
        r#"{"code":-1003,"msg":"Too many requests"}"#,
    );
    let limited = fetch("ETHUSDT", &[]).failure();
    assert!(
        limited.stderr().contains("3600") || limited.stderr().contains("rate"),
        "{}",
        limited.stderr()
    );
    assert_eq!(stored(&env).len(), 1, "the limited download stored nothing");

    // Yahoo: adjusted daily prices by default, raw ones on request, each said in the series'
    // description.
    let yahoo = |extra: &[&str]| {
        let mut args = vec![
            "data",
            "fetch",
            "AAPL",
            "--source",
            "yahoo",
            "--start",
            "2024-01-08",
            "--end",
            "2024-01-12",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--yahoo-url",
        ];
        let url = fake.base_url();
        args.push(&url);
        args.extend_from_slice(extra);
        args.push("--format");
        args.push("json");
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        env.aibt(&refs)
    };
    let adjusted = yahoo(&[]).success().json();
    assert_eq!(adjusted["inserted"], 5);
    assert!(
        adjusted["description"]
            .as_str()
            .unwrap()
            .contains("adjusted"),
        "{adjusted}"
    );
    let raw = yahoo(&["--raw", "--replace"]).success().json();
    assert!(
        raw["description"].as_str().unwrap().contains("raw"),
        "{raw}"
    );
    assert_eq!(raw["replaced"], 5, "raw closes differ from adjusted ones");
    drop(fake);
}
