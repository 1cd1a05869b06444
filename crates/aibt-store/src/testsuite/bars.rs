//! Market bars: imports, ranges and series.

use aibt_core::{Bar, MarketType, TimeGranularity};
use chrono::{Duration, TimeZone, Utc};

use crate::*;

use super::samples::*;

fn bar(day: i64, close: &str) -> Bar {
    let close = money(close);
    Bar::new(
        Utc.timestamp_opt(1_600_000_000 + day * 86_400, 0)
            .single()
            .expect("time"),
        close,
        close,
        close,
        close,
        quantity("1000.5"),
    )
    .expect("bar")
}

/// Bars import atomically, re-import idempotently, and refuse silent changes.
pub async fn bars_import_and_read_back(store: &dyn Store) {
    let series = SeriesKey {
        symbol: "TEST".into(),
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
    };
    let bars: Vec<Bar> = (0..10)
        .map(|d| bar(d, &format!("{}.25", 100 + d)))
        .collect();
    let outcome = store
        .import_bars(&series, bars.clone(), ImportMode::RefuseChanges)
        .await
        .expect("import");
    assert_eq!(outcome.inserted, 10);
    let again = store
        .import_bars(&series, bars.clone(), ImportMode::RefuseChanges)
        .await
        .expect("re-import");
    assert_eq!((again.inserted, again.unchanged), (0, 10));

    let mut changed = bars.clone();
    changed[3] = bar(3, "1.5");
    changed.push(bar(20, "5"));
    let err = store
        .import_bars(&series, changed.clone(), ImportMode::RefuseChanges)
        .await
        .expect_err("a changed bar");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // Nothing of the refused file was stored, not even its new bar.
    assert_eq!(
        store
            .bars(&series, BarRange::default())
            .await
            .expect("bars"),
        bars
    );

    let replaced = store
        .import_bars(&series, changed.clone(), ImportMode::Replace)
        .await
        .expect("replace");
    assert_eq!(
        (replaced.inserted, replaced.replaced, replaced.unchanged),
        (1, 1, 9)
    );

    let info = store
        .series_info(&series)
        .await
        .expect("info")
        .expect("series");
    assert_eq!(info.bars, 11);
    assert_eq!(info.first, bars[0].ts);
    let listed = store.list_series().await.expect("list");
    assert!(listed.contains(&info));
    assert_eq!(info.description, None, "no description until one is given");
    store
        .describe_series(&series, "imported from test.csv")
        .await
        .expect("describe");
    store
        .describe_series(&series, "Yahoo Finance chart API, TEST, daily, raw prices")
        .await
        .expect("describe again");
    let described = store
        .series_info(&series)
        .await
        .expect("info")
        .expect("series");
    assert_eq!(
        described.description.as_deref(),
        Some("Yahoo Finance chart API, TEST, daily, raw prices"),
        "the last description replaces the first"
    );
    assert_eq!(described.bars, info.bars);

    let window = store
        .bars(
            &series,
            BarRange {
                from: Some(bars[2].ts),
                to: Some(bars[6].ts),
                ..BarRange::default()
            },
        )
        .await
        .expect("window");
    assert_eq!(window.len(), 5);
    assert_eq!(window[1], changed[3]);
    let chunk = store
        .bars(
            &series,
            BarRange {
                after: Some(bars[7].ts),
                limit: Some(2),
                ..BarRange::default()
            },
        )
        .await
        .expect("chunk");
    assert_eq!(chunk, vec![bars[8], bars[9]]);
    let before = store
        .bars_before(&series, bars[5].ts, 3)
        .await
        .expect("before");
    assert_eq!(
        before.iter().map(|b| b.ts).collect::<Vec<_>>(),
        vec![bars[2].ts, bars[3].ts, bars[4].ts]
    );
    assert_eq!(
        store
            .count_bars(&series, bars[0].ts, bars[9].ts + Duration::days(100))
            .await
            .expect("count"),
        11
    );
    let missing = SeriesKey {
        symbol: "NONE".into(),
        ..series
    };
    assert!(store.series_info(&missing).await.expect("info").is_none());
    assert!(
        store
            .series_bounds(&missing)
            .await
            .expect("bounds")
            .is_none()
    );
}

/// Prices and volumes of any size read back exactly: SQLite keeps mantissas of up to 18 digits
/// as integers and larger ones as text, and a re-import compares either form with the file.
pub async fn bar_values_of_any_size_read_back(store: &dyn Store) {
    let series = SeriesKey {
        symbol: "WIDE".into(),
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Minute,
    };
    let closes = [
        "0.00000001",
        "9999999999.99999999",
        "10000000000",
        "10000000000.00000001",
        "99999999999999999999.99999999",
        "123.45678901",
    ];
    let bars: Vec<Bar> = closes
        .iter()
        .enumerate()
        .map(|(day, close)| {
            let mut bar = bar(day as i64, close);
            bar.volume = quantity(close);
            bar
        })
        .collect();
    let outcome = store
        .import_bars(&series, bars.clone(), ImportMode::RefuseChanges)
        .await
        .expect("import");
    assert_eq!(outcome.inserted, closes.len() as u64);
    let back = store
        .bars(&series, BarRange::default())
        .await
        .expect("bars");
    assert_eq!(back, bars);
    let again = store
        .import_bars(&series, bars.clone(), ImportMode::RefuseChanges)
        .await
        .expect("the same file again");
    assert_eq!(again.unchanged, closes.len() as u64);
    let mut changed = bars.clone();
    changed[4] = bar(4, "99999999999999999999.99999998");
    let err = store
        .import_bars(&series, changed.clone(), ImportMode::RefuseChanges)
        .await
        .expect_err("a changed bar");
    assert!(err.to_string().contains("WIDE"), "{err}");
}
