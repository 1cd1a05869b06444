//! Downloads against the fake Yahoo and Binance of the test kit, on 127.0.0.1, with a cache in
//! a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aibt_core::{Money, Quantity, TimeGranularity};
use aibt_fetch::{FetchConfig, FetchError, FetchRequest, Fetcher, Source};
use aibt_testkit::providers::{FakeBar, FakeProviders, query_param};
use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};

struct Setup {
    fake: FakeProviders,
    fetcher: Fetcher,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new(bars: Vec<FakeBar>) -> Setup {
        let fake = FakeProviders::start(bars).await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = FetchConfig::with_cache_dir(dir.path().to_path_buf());
        config.yahoo_url = fake.base_url();
        config.binance_url = fake.base_url();
        config.timeout = Duration::from_secs(10);
        let fetcher = Fetcher::new(config).unwrap();
        Setup { fake, fetcher, dir }
    }

    fn cache_file(&self, source: &str, name: &str) -> PathBuf {
        self.dir.path().join(source).join(name)
    }

    /// The requests made since the `from`-th.
    fn requests_since(&self, from: usize) -> Vec<String> {
        self.fake.requests()[from..].to_vec()
    }
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn ask(
    source: Source,
    symbol: &str,
    granularity: TimeGranularity,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> FetchRequest {
    FetchRequest {
        source,
        symbol: symbol.into(),
        granularity,
        start,
        end,
        adjusted: false,
    }
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn param(request: &str, name: &str) -> i64 {
    query_param(request, name).unwrap().parse().unwrap()
}

/// `count` bars `step` apart from `start`, with eight-decimal prices that differ bar by bar.
fn crypto_bars(start: DateTime<Utc>, step: TimeDelta, count: usize) -> Vec<FakeBar> {
    (0..count)
        .map(|i| {
            let base = 42_000 + i;
            FakeBar::new(
                (start + step * i as i32).timestamp(),
                &format!("{base}.12345678"),
                &format!("{}.5", base + 1),
                &format!("{}.00000001", base - 1),
                &format!("{base}.87654321"),
                "1.23456789",
            )
        })
        .collect()
}

/// A US stock's daily bar, stamped at 14:30Z (09:30 in New York in winter).
fn session(y: i32, m: u32, d: u32, ohlc: [&str; 4]) -> FakeBar {
    FakeBar::new(
        utc(y, m, d, 14, 30).timestamp(),
        ohlc[0],
        ohlc[1],
        ohlc[2],
        ohlc[3],
        "82488700",
    )
}

#[tokio::test]
async fn binance_pages_past_1000_rows_keeping_exact_decimals() {
    let start = utc(2024, 1, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::minutes(1), 2_500)).await;
    let end = start + TimeDelta::minutes(2_500);
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "btc-usdt",
            TimeGranularity::Minute,
            start,
            end,
        ))
        .await
        .unwrap();

    assert_eq!(fetched.requests, 3);
    assert_eq!(fetched.bars.len(), 2_500);
    assert!(
        fetched.bars.windows(2).all(|w| w[0].ts < w[1].ts),
        "ascending, unique"
    );
    assert_eq!(fetched.bars[0].ts, start);
    let bar = fetched.bars[1_234];
    assert_eq!(bar.ts, start + TimeDelta::minutes(1_234));
    assert_eq!(bar.open, money("43234.12345678"));
    assert_eq!(bar.low, money("43233.00000001"));
    assert_eq!(bar.close, money("43234.87654321"));
    assert_eq!(bar.volume, Quantity::parse("1.23456789").unwrap());
    assert_eq!(fetched.description, "Binance klines API, BTCUSDT, minute");
    assert!(fetched.notes.is_empty(), "{:?}", fetched.notes);

    let requests = setup.fake.requests();
    let start_ms = start.timestamp_millis();
    for request in &requests {
        assert!(request.starts_with("/api/v3/klines?"), "{request}");
        assert_eq!(query_param(request, "symbol").as_deref(), Some("BTCUSDT"));
        assert_eq!(query_param(request, "interval").as_deref(), Some("1m"));
        assert_eq!(query_param(request, "limit").as_deref(), Some("1000"));
        assert_eq!(param(request, "endTime"), end.timestamp_millis() - 1);
    }
    let starts: Vec<i64> = requests.iter().map(|r| param(r, "startTime")).collect();
    assert_eq!(
        starts,
        vec![
            start_ms,
            start_ms + 999 * 60_000 + 1,
            start_ms + 1_999 * 60_000 + 1
        ]
    );
    assert!(setup.cache_file("binance", "BTCUSDT_1m.json").exists());
}

#[tokio::test]
async fn yahoo_daily_raw_prices_round_to_the_price_hint_at_midnight_utc() {
    let setup = Setup::new(vec![
        session(2024, 1, 2, ["187.15", "188.44", "183.89", "185.64"]),
        // A price with more places than the hint of 2 is rounded to it.
        session(2024, 1, 3, ["184.22", "185.88", "183.43", "184.2549"]),
        session(2024, 1, 4, ["182.15", "183.09", "180.88", "181.91"]),
    ])
    .await;
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "aapl",
            TimeGranularity::Daily,
            utc(2024, 1, 1, 0, 0),
            utc(2024, 1, 5, 0, 0),
        ))
        .await
        .unwrap();

    assert_eq!(fetched.requests, 1);
    let days: Vec<_> = fetched.bars.iter().map(|b| b.ts).collect();
    assert_eq!(
        days,
        vec![
            utc(2024, 1, 2, 0, 0),
            utc(2024, 1, 3, 0, 0),
            utc(2024, 1, 4, 0, 0)
        ]
    );
    let first = fetched.bars[0];
    assert_eq!(
        [first.open, first.high, first.low, first.close],
        [
            money("187.15"),
            money("188.44"),
            money("183.89"),
            money("185.64")
        ]
    );
    assert_eq!(first.volume, Quantity::parse("82488700").unwrap());
    assert_eq!(fetched.bars[1].close, money("184.25"));
    assert_eq!(
        fetched.description,
        "Yahoo Finance chart API, AAPL, daily, raw prices (not adjusted for splits or dividends)"
    );

    let request = &setup.fake.requests()[0];
    assert!(request.starts_with("/v8/finance/chart/AAPL?"), "{request}");
    assert_eq!(query_param(request, "interval").as_deref(), Some("1d"));
    assert_eq!(query_param(request, "events").as_deref(), Some("div,split"));
    assert_eq!(
        query_param(request, "includeAdjustedClose").as_deref(),
        Some("true")
    );
    assert!(setup.cache_file("yahoo", "AAPL_1d.json").exists());
}

#[tokio::test]
async fn yahoo_daily_bars_of_an_exchange_east_of_utc_keep_their_local_date() {
    // Tokyo's 09:00 session opens at 00:00Z of the same date.
    let setup = Setup::new(vec![FakeBar::new(
        utc(2024, 7, 1, 0, 0).timestamp(),
        "2950",
        "2990",
        "2940",
        "2980",
        "1000",
    )])
    .await;
    setup.fake.set_gmtoffset(9 * 3600);
    setup.fake.set_price_hint(1);
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "7203.T",
            TimeGranularity::Daily,
            utc(2024, 7, 1, 0, 0),
            utc(2024, 7, 2, 0, 0),
        ))
        .await
        .unwrap();
    assert_eq!(fetched.bars.len(), 1);
    assert_eq!(fetched.bars[0].ts, utc(2024, 7, 1, 0, 0));
    assert_eq!(fetched.bars[0].close, money("2980"));
}

#[tokio::test]
async fn yahoo_daily_adjusted_prices_apply_the_adjclose_factor() {
    let setup = Setup::new(vec![
        session(2024, 1, 2, ["100", "110", "90", "105"]).adjclose("52.5"),
        session(2024, 1, 3, ["105", "106", "104", "105"]).adjclose("105"),
    ])
    .await;
    let mut request = ask(
        Source::Yahoo,
        "AAPL",
        TimeGranularity::Daily,
        utc(2024, 1, 1, 0, 0),
        utc(2024, 1, 4, 0, 0),
    );
    request.adjusted = true;
    let fetched = setup.fetcher.fetch(&request).await.unwrap();

    let first = fetched.bars[0];
    assert_eq!(
        [first.open, first.high, first.low, first.close],
        [money("50"), money("55"), money("45"), money("52.5")]
    );
    assert_eq!(
        first.volume,
        Quantity::parse("82488700").unwrap(),
        "volume unscaled"
    );
    assert_eq!(fetched.bars[1].open, money("105"));
    assert_eq!(
        fetched.description,
        "Yahoo Finance chart API, AAPL, daily, split- and dividend-adjusted prices"
    );
    assert!(setup.cache_file("yahoo", "AAPL_1d_adjusted.json").exists());
    assert!(!setup.cache_file("yahoo", "AAPL_1d.json").exists());
}

#[tokio::test]
async fn yahoo_rows_with_null_prices_are_skipped_with_a_note() {
    let setup = Setup::new(vec![
        session(2024, 1, 2, ["10", "11", "9", "10.5"]),
        FakeBar::no_trade(utc(2024, 1, 3, 14, 30).timestamp()),
        session(2024, 1, 4, ["10", "11", "9", "10.5"]),
    ])
    .await;
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "THIN",
            TimeGranularity::Daily,
            utc(2024, 1, 1, 0, 0),
            utc(2024, 1, 5, 0, 0),
        ))
        .await
        .unwrap();
    let days: Vec<_> = fetched.bars.iter().map(|b| b.ts).collect();
    assert_eq!(days, vec![utc(2024, 1, 2, 0, 0), utc(2024, 1, 4, 0, 0)]);
    assert_eq!(
        fetched.notes,
        vec![
            "Skipped 1 row with no prices (Yahoo Finance sends nulls where nothing traded): 2024-01-03."
        ]
    );
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out() {
    let start = utc(2024, 3, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::hours(1), 24)).await;
    setup.fake.reply_next(
        429,
        Some("1"),
        r#"{"code":-1003,"msg":"Too many requests."}"#,
    );
    let began = Instant::now();
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Hourly,
            start,
            start + TimeDelta::days(1),
        ))
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_secs(1), "waited as asked");
    assert_eq!(fetched.requests, 2);
    assert_eq!(setup.fake.calls(), 2);
    assert_eq!(fetched.bars.len(), 24);
    assert_eq!(fetched.bars[23].ts, start + TimeDelta::hours(23));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_at_once_and_keeps_the_cache() {
    let start = utc(2024, 3, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::days(1), 10)).await;
    let daily = |days: i32| {
        ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Daily,
            start,
            start + TimeDelta::days(days.into()),
        )
    };
    setup.fetcher.fetch(&daily(5)).await.unwrap();
    let path = setup.cache_file("binance", "BTCUSDT_1d.json");
    let before = std::fs::read(&path).unwrap();

    for status in [429, 418] {
        setup.fake.reply_next(
            status,
            Some("3600"),
            r#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#,
        );
        let began = Instant::now();
        let err = setup.fetcher.fetch(&daily(10)).await.unwrap_err();
        assert!(began.elapsed() < Duration::from_secs(1), "no wait");
        assert_eq!(
            err,
            FetchError::RateLimited {
                source: Source::Binance,
                retry_after: Some(Duration::from_secs(3600)),
            }
        );
        assert!(err.to_string().contains("3600 s"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "cache unchanged");
    }
}

#[tokio::test]
async fn provider_errors_carry_the_providers_message() {
    let setup = Setup::new(Vec::new()).await;
    let (start, end) = (utc(2024, 1, 1, 0, 0), utc(2024, 2, 1, 0, 0));

    let err = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "BADSYM",
            TimeGranularity::Daily,
            start,
            end,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::Provider {
            source: Source::Yahoo,
            status: 404,
            message: "No data found, symbol may be delisted".into(),
        }
    );

    let err = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "BAD/USDT",
            TimeGranularity::Daily,
            start,
            end,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::Provider {
            source: Source::Binance,
            status: 400,
            message: "Invalid symbol.".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "Binance refused the request (HTTP 400): Invalid symbol."
    );
    assert!(!setup.dir.path().join("binance").exists(), "nothing cached");
}

#[tokio::test]
async fn an_empty_range_is_an_empty_error_and_is_remembered() {
    let setup = Setup::new(crypto_bars(utc(2024, 1, 1, 0, 0), TimeDelta::days(1), 5)).await;
    let request = ask(
        Source::Binance,
        "ETHUSDT",
        TimeGranularity::Daily,
        utc(2024, 3, 1, 0, 0),
        utc(2024, 4, 1, 0, 0),
    );
    let empty = FetchError::Empty {
        source: Source::Binance,
        symbol: "ETHUSDT".into(),
    };
    assert_eq!(setup.fetcher.fetch(&request).await.unwrap_err(), empty);
    assert_eq!(setup.fake.calls(), 1);
    assert_eq!(setup.fetcher.fetch(&request).await.unwrap_err(), empty);
    assert_eq!(setup.fake.calls(), 1, "the empty answer was remembered");

    // Yahoo's empty range: a result without timestamps.
    let err = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "AAPL",
            TimeGranularity::Daily,
            utc(2024, 3, 1, 0, 0),
            utc(2024, 4, 1, 0, 0),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Empty {
                source: Source::Yahoo,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_covered_range_is_served_from_the_cache() {
    let start = utc(2024, 1, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::hours(1), 100)).await;
    let hourly = |from: i64, to: i64| {
        ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Hourly,
            start + TimeDelta::hours(from),
            start + TimeDelta::hours(to),
        )
    };
    let first = setup.fetcher.fetch(&hourly(0, 100)).await.unwrap();
    assert_eq!(first.requests, 1);

    let again = setup.fetcher.fetch(&hourly(0, 100)).await.unwrap();
    assert_eq!(again.requests, 0);
    assert_eq!(again.bars, first.bars);
    assert_eq!(again.description, first.description);

    let inside = setup.fetcher.fetch(&hourly(10, 20)).await.unwrap();
    assert_eq!(inside.requests, 0);
    assert_eq!(inside.bars, first.bars[10..20].to_vec());
    assert_eq!(setup.fake.calls(), 1);
}

#[tokio::test]
async fn an_extended_range_asks_only_for_the_missing_parts() {
    let start = utc(2024, 1, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::hours(1), 300)).await;
    let hourly = |from: i64, to: i64| {
        ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Hourly,
            start + TimeDelta::hours(from),
            start + TimeDelta::hours(to),
        )
    };
    setup.fetcher.fetch(&hourly(100, 200)).await.unwrap();
    let seen = setup.fake.calls();
    let wider = setup.fetcher.fetch(&hourly(50, 250)).await.unwrap();
    assert_eq!(wider.requests, 2);
    assert_eq!(wider.bars.len(), 200);
    assert!(
        wider
            .bars
            .windows(2)
            .all(|w| w[1].ts - w[0].ts == TimeDelta::hours(1))
    );
    let ms = |hours: i64| (start + TimeDelta::hours(hours)).timestamp_millis();
    let asked: Vec<(i64, i64)> = setup
        .requests_since(seen)
        .iter()
        .map(|r| (param(r, "startTime"), param(r, "endTime")))
        .collect();
    assert_eq!(asked, vec![(ms(50), ms(100) - 1), (ms(200), ms(250) - 1)]);

    // Yahoo likewise: only the days after the covered ones.
    let setup = Setup::new(
        (2..=12)
            .map(|d| session(2024, 1, d, ["10", "11", "9", "10.5"]))
            .collect(),
    )
    .await;
    let daily = |to: u32| {
        ask(
            Source::Yahoo,
            "AAPL",
            TimeGranularity::Daily,
            utc(2024, 1, 1, 0, 0),
            utc(2024, 1, to, 0, 0),
        )
    };
    assert_eq!(setup.fetcher.fetch(&daily(6)).await.unwrap().bars.len(), 4);
    let longer = setup.fetcher.fetch(&daily(13)).await.unwrap();
    assert_eq!(longer.requests, 1);
    assert_eq!(longer.bars.len(), 11);
    let request = setup.fake.requests().pop().unwrap();
    // A daily request reaches a day before the missing part, since a session's stamp may lie
    // on the UTC day before its local date.
    assert_eq!(
        param(&request, "period1"),
        utc(2024, 1, 5, 0, 0).timestamp()
    );
}

#[tokio::test]
async fn an_incomplete_last_bar_is_left_out_and_not_covered() {
    let today = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap();
    let first = today - TimeDelta::days(5);
    // Six daily bars, the last opening today: its day has not ended.
    let setup = Setup::new(crypto_bars(first, TimeDelta::days(1), 6)).await;
    let request = ask(
        Source::Binance,
        "BTCUSDT",
        TimeGranularity::Daily,
        first,
        today + TimeDelta::days(1),
    );
    let fetched = setup.fetcher.fetch(&request).await.unwrap();
    assert_eq!(fetched.bars.len(), 5);
    assert_eq!(fetched.bars[4].ts, today - TimeDelta::days(1));
    assert_eq!(fetched.notes.len(), 1, "{:?}", fetched.notes);
    assert!(
        fetched.notes[0].starts_with("Left out 1 bar whose period had not ended yet"),
        "{:?}",
        fetched.notes
    );

    let file: serde_json::Value = serde_json::from_slice(
        &std::fs::read(setup.cache_file("binance", "BTCUSDT_1d.json")).unwrap(),
    )
    .unwrap();
    let covered = file["covered"].as_array().unwrap();
    assert_eq!(covered.len(), 1);
    let covered_end: DateTime<Utc> = covered[0][1].as_str().unwrap().parse().unwrap();
    assert!(covered_end <= today, "covered up to {covered_end}");
    assert_eq!(file["bars"].as_array().unwrap().len(), 5);

    // Asking again asks for today's bar again.
    let again = setup.fetcher.fetch(&request).await.unwrap();
    assert_eq!(again.requests, 1);
    assert_eq!(again.bars, fetched.bars);
}

#[tokio::test]
async fn a_failure_mid_paging_writes_no_cache() {
    let start = utc(2024, 1, 1, 0, 0);
    let setup = Setup::new(crypto_bars(start, TimeDelta::minutes(1), 2_500)).await;
    let busy = r#"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#;
    // The second page fails, and so do both of its retries.
    for call in 1..=3 {
        setup.fake.reply_at(call, 500, None, busy);
    }
    let err = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Minute,
            start,
            start + TimeDelta::minutes(2_500),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::Provider {
            source: Source::Binance,
            status: 500,
            message: "An unknown error occurred while processing the request.".into(),
        }
    );
    assert_eq!(setup.fake.calls(), 4);
    assert!(!setup.cache_file("binance", "BTCUSDT_1m.json").exists());
}

#[tokio::test]
async fn a_range_before_the_listing_is_noted() {
    let listed = utc(2017, 8, 17, 0, 0);
    let setup = Setup::new(crypto_bars(listed, TimeDelta::days(1), 10)).await;
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Daily,
            utc(2017, 1, 1, 0, 0),
            utc(2017, 8, 27, 0, 0),
        ))
        .await
        .unwrap();
    assert_eq!(fetched.bars.len(), 10);
    assert_eq!(
        fetched.notes,
        vec!["Binance has no BTCUSDT bars before 2017-08-17; the range asked began 2017-01-01."]
    );
}

#[tokio::test]
async fn yahoo_minute_ranges_are_asked_in_seven_day_windows() {
    let now = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let start = now - TimeDelta::days(12);
    let bars = [1, 8, 9]
        .map(|days| {
            FakeBar::new(
                (start + TimeDelta::days(days)).timestamp(),
                "10",
                "11",
                "9",
                "10.5",
                "100",
            )
        })
        .to_vec();
    let setup = Setup::new(bars).await;
    let end = now - TimeDelta::days(2);
    let fetched = setup
        .fetcher
        .fetch(&ask(
            Source::Yahoo,
            "AAPL",
            TimeGranularity::Minute,
            start,
            end,
        ))
        .await
        .unwrap();
    assert_eq!(fetched.requests, 2);
    assert_eq!(fetched.bars.len(), 3);
    let windows: Vec<(i64, i64)> = setup
        .fake
        .requests()
        .iter()
        .map(|r| (param(r, "period1"), param(r, "period2")))
        .collect();
    let middle = (start + TimeDelta::days(7)).timestamp();
    assert_eq!(
        windows,
        vec![(start.timestamp(), middle), (middle, end.timestamp())]
    );
    assert_eq!(
        query_param(&setup.fake.requests()[0], "interval").as_deref(),
        Some("1m")
    );
}

#[tokio::test]
async fn requests_no_provider_can_serve_are_refused_before_any_request() {
    let setup = Setup::new(Vec::new()).await;
    let (start, end) = (utc(2024, 1, 1, 0, 0), utc(2024, 2, 1, 0, 0));

    let mut adjusted = ask(
        Source::Binance,
        "BTCUSDT",
        TimeGranularity::Daily,
        start,
        end,
    );
    adjusted.adjusted = true;
    let err = setup.fetcher.fetch(&adjusted).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Invalid {
                field: "adjusted",
                ..
            }
        ),
        "{err}"
    );

    let backwards = ask(Source::Yahoo, "AAPL", TimeGranularity::Daily, end, start);
    let err = setup.fetcher.fetch(&backwards).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Invalid { field: "end", .. }),
        "{err}"
    );

    let empty = ask(Source::Yahoo, " ", TimeGranularity::Daily, start, end);
    let err = setup.fetcher.fetch(&empty).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Invalid {
                field: "symbol",
                ..
            }
        ),
        "{err}"
    );

    // Yahoo keeps 1-minute bars for 30 days only.
    let old_minutes = ask(Source::Yahoo, "AAPL", TimeGranularity::Minute, start, end);
    let err = setup.fetcher.fetch(&old_minutes).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Invalid { field: "start", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("last 30 days"), "{err}");

    assert_eq!(setup.fake.calls(), 0);
}

#[tokio::test]
async fn a_corrupt_cache_file_is_an_error_naming_it() {
    let setup = Setup::new(Vec::new()).await;
    let path = setup.cache_file("binance", "BTCUSDT_1d.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"covered\": [[").unwrap();
    let err = setup
        .fetcher
        .fetch(&ask(
            Source::Binance,
            "BTCUSDT",
            TimeGranularity::Daily,
            utc(2024, 1, 1, 0, 0),
            utc(2024, 2, 1, 0, 0),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Cache { path: at, .. } if *at == path),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("delete it and fetch again"), "{message}");
    assert_eq!(setup.fake.calls(), 0);
}
