//! Yahoo Finance's chart API (`/v8/finance/chart/{symbol}`).
//!
//! Yahoo sends prices as binary floats (often float32 values widened, such as
//! 171.47999572753906), so each is rounded to the instrument's `meta.priceHint` decimal places,
//! as yfinance does with `rounding=True`, before it becomes an exact decimal.
//!
//! Adjusted prices follow yfinance's `auto_adjust`: every price of a row is scaled by that
//! row's `adjclose / close`. In exact decimals, `adjusted = round(raw * adjclose / raw_close,
//! 8)`, where `raw` and `raw_close` are the rounded prices above and `adjclose` is Yahoo's
//! float rounded to 8 places. Scaling a row by one positive factor keeps its high above its
//! low, so an adjusted bar is valid when its raw bar is.
//!
//! Yahoo stamps a daily bar with its session's opening time (13:30Z for New York in summer);
//! aibt reads daily files' dates as 00:00 UTC, so a daily bar is stored at 00:00 UTC of its
//! exchange-local date.

use std::collections::BTreeMap;

use aibt_core::{Bar, Money, Quantity, TimeGranularity};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::fetcher::Answer;
use crate::http::Http;
use crate::request::{Checked, period, show};
use crate::span::Span;
use crate::{FetchError, Source};

/// Yahoo serves 1-minute bars only this far back, and at most 8 days of them per request.
const MINUTE_HISTORY: TimeDelta = TimeDelta::days(30);
const MINUTE_WINDOW: TimeDelta = TimeDelta::days(7);
/// Yahoo serves 60-minute bars only this far back; windows stay well under it.
const HOURLY_HISTORY: TimeDelta = TimeDelta::days(730);
const HOURLY_WINDOW: TimeDelta = TimeDelta::days(700);

/// Refuses ranges Yahoo would refuse, before any request is made.
pub(crate) fn check_reach(
    request: &Checked,
    parts: &[Span],
    now: DateTime<Utc>,
) -> Result<(), FetchError> {
    let (history, days) = match request.granularity {
        TimeGranularity::Daily => return Ok(()),
        TimeGranularity::Hourly => (HOURLY_HISTORY, 730),
        TimeGranularity::Minute => (MINUTE_HISTORY, 30),
    };
    let earliest = now - history;
    match parts.first() {
        Some(first) if first.start < earliest => Err(FetchError::Invalid {
            field: "start",
            reason: format!(
                "Yahoo Finance serves {} bars only for the last {days} days, since {}; ask for a start after that, or for daily bars",
                request.granularity,
                show(earliest, TimeGranularity::Minute)
            ),
        }),
        _ => Ok(()),
    }
}

/// Asks Yahoo for the bars of `part`, in as many windows as the granularity needs.
pub(crate) async fn fetch(
    http: &Http,
    base_url: &str,
    request: &Checked,
    part: Span,
    now: DateTime<Utc>,
    requests: &mut u32,
) -> Result<Answer, FetchError> {
    let mut answer = Answer::default();
    for (window, period1, period2) in windows(request.granularity, part) {
        let url = url(base_url, request, period1, period2);
        let reply = http.get(Source::Yahoo, &url, requests).await?;
        if reply.status != 200 {
            return Err(FetchError::Provider {
                source: Source::Yahoo,
                status: reply.status,
                message: error_message(&reply.body),
            });
        }
        answer.absorb(parse(request, &reply.body, window, now)?);
    }
    Ok(answer)
}

/// The windows of `part` to ask for, with the `period1` and `period2` of each (unix seconds).
fn windows(granularity: TimeGranularity, part: Span) -> Vec<(Span, i64, i64)> {
    let size = match granularity {
        // A daily bar's stored date may lie a day from its timestamp either way (the exchange's
        // offset from UTC), so the request reaches past the part and rows are filtered by date.
        TimeGranularity::Daily => {
            let period1 = (part.start - TimeDelta::days(1)).timestamp();
            let period2 = ceil_seconds(part.end + TimeDelta::days(2));
            return vec![(part, period1, period2)];
        }
        TimeGranularity::Hourly => HOURLY_WINDOW,
        TimeGranularity::Minute => MINUTE_WINDOW,
    };
    let mut windows = Vec::new();
    let mut from = part.start;
    while from < part.end {
        let to = (from + size).min(part.end);
        windows.push((Span::new(from, to), from.timestamp(), ceil_seconds(to)));
        from = to;
    }
    windows
}

fn ceil_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0)
}

fn url(base_url: &str, request: &Checked, period1: i64, period2: i64) -> String {
    let interval = match request.granularity {
        TimeGranularity::Daily => "1d",
        TimeGranularity::Hourly => "60m",
        TimeGranularity::Minute => "1m",
    };
    format!(
        "{}/v8/finance/chart/{}?period1={period1}&period2={period2}&interval={interval}&events=div%2Csplit&includeAdjustedClose=true",
        base_url.trim_end_matches('/'),
        encode_path_segment(&request.symbol)
    )
}

/// Percent-encodes what a URL path segment may not hold (`^GSPC` is `%5EGSPC`), leaving `=`
/// and `&` as they are, as Python's requests (and so yfinance) sends them.
fn encode_path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[derive(Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    code: Option<String>,
    description: Option<String>,
}

impl ChartError {
    fn message(self) -> String {
        self.description
            .or(self.code)
            .unwrap_or_else(|| "no description given".to_string())
    }
}

#[derive(Deserialize)]
struct ChartResult {
    #[serde(default)]
    meta: Meta,
    timestamp: Option<Vec<i64>>,
    indicators: Option<Indicators>,
}

#[derive(Deserialize, Default)]
struct Meta {
    /// The exchange's current offset from UTC, in seconds.
    gmtoffset: Option<i64>,
    #[serde(rename = "priceHint")]
    price_hint: Option<u32>,
}

#[derive(Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Vec<Quote>,
    #[serde(default)]
    adjclose: Vec<AdjClose>,
}

type Column = Option<Vec<Option<f64>>>;

#[derive(Deserialize)]
struct Quote {
    open: Column,
    high: Column,
    low: Column,
    close: Column,
    volume: Column,
}

#[derive(Deserialize)]
struct AdjClose {
    adjclose: Column,
}

/// Yahoo's own text for an error reply, or the start of the body when it has none.
fn error_message(body: &str) -> String {
    match serde_json::from_str::<Envelope>(body) {
        Ok(Envelope {
            chart: Chart {
                error: Some(error), ..
            },
        }) => error.message(),
        _ => {
            let text: String = body.trim().chars().take(200).collect();
            if text.is_empty() {
                "no error text given".to_string()
            } else {
                text
            }
        }
    }
}

fn format_error(reason: impl Into<String>) -> FetchError {
    FetchError::Format {
        source: Source::Yahoo,
        reason: reason.into(),
    }
}

/// The bars of one reply whose stored time lies in `keep`.
fn parse(
    request: &Checked,
    body: &str,
    keep: Span,
    now: DateTime<Utc>,
) -> Result<Answer, FetchError> {
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|e| format_error(format!("the chart reply is not the documented JSON ({e})")))?;
    if let Some(error) = envelope.chart.error {
        return Err(FetchError::Provider {
            source: Source::Yahoo,
            status: 200,
            message: error.message(),
        });
    }
    let result = envelope
        .chart
        .result
        .and_then(|results| results.into_iter().next())
        .ok_or_else(|| format_error("the chart reply has neither a result nor an error"))?;
    let offset = TimeDelta::seconds(result.meta.gmtoffset.unwrap_or(0));
    let places = result.meta.price_hint.unwrap_or(2).min(Money::SCALE);
    let granularity = request.granularity;
    let bar_period = period(granularity);
    // A daily bar's period is its exchange-local day, so its end is compared with the local
    // time now; intraday bars are UTC instants.
    let (now_there, to_stored) = match granularity {
        TimeGranularity::Daily => (now + offset, offset),
        _ => (now, TimeDelta::zero()),
    };
    let mut answer = Answer {
        complete_until: whole_seconds(now_there - bar_period),
        ..Answer::default()
    };
    let timestamps = result.timestamp.unwrap_or_default();
    if timestamps.is_empty() {
        return Ok(answer);
    }
    let indicators = result
        .indicators
        .ok_or_else(|| format_error("the chart result has timestamps but no indicators"))?;
    let quote = indicators
        .quote
        .into_iter()
        .next()
        .ok_or_else(|| format_error("the chart result has timestamps but no quote"))?;
    let rows = timestamps.len();
    let column = |name: &str, values: Column| -> Result<Vec<Option<f64>>, FetchError> {
        match values {
            Some(values) if values.len() == rows => Ok(values),
            Some(values) => Err(format_error(format!(
                "the quote's {name} has {} values for {rows} timestamps",
                values.len()
            ))),
            None => Err(format_error(format!("the quote has no {name}"))),
        }
    };
    let open = column("open", quote.open)?;
    let high = column("high", quote.high)?;
    let low = column("low", quote.low)?;
    let close = column("close", quote.close)?;
    let volume = column("volume", quote.volume)?;
    let adjclose = if request.adjusted {
        let values = indicators
            .adjclose
            .into_iter()
            .next()
            .and_then(|a| a.adjclose);
        Some(column("adjclose", values)?)
    } else {
        None
    };
    let mut bars = BTreeMap::new();
    for (row, &unix) in timestamps.iter().enumerate() {
        let at = DateTime::from_timestamp(unix, 0)
            .ok_or_else(|| format_error(format!("the timestamp {unix} is out of range")))?;
        let stored = match granularity {
            TimeGranularity::Daily => local_midnight(at, to_stored),
            _ => at,
        };
        if !keep.contains(stored) {
            continue;
        }
        let adjusted_close = adjclose.as_ref().map(|values| values[row]);
        let prices = (open[row], high[row], low[row], close[row], adjusted_close);
        let (Some(o), Some(h), Some(l), Some(c), None | Some(Some(_))) = prices else {
            answer.skipped.push(stored);
            continue;
        };
        if stored + bar_period > now_there {
            answer.incomplete.push(stored);
            continue;
        }
        let prices = [o, h, l, c].map(|value| price(value, places));
        let bar = build(stored, prices, volume[row].unwrap_or(0.0))?;
        let bar = match adjusted_close.flatten() {
            Some(adjclose) => adjust(bar, adjclose)?,
            None => bar,
        };
        // A later row for the same date (Yahoo's live row beside the session's) replaces it.
        bars.insert(stored, bar);
    }
    answer.bars = bars.into_values().collect();
    Ok(answer)
}

/// Daily bars sit at 00:00 UTC of the exchange-local date of their timestamp.
///
/// `gmtoffset` is the exchange's offset today, which differs by an hour from the one in force
/// on the other side of a daylight-saving change. A session stamped at local midnight (as
/// currencies and futures are) would then land at 23:00 of the day before, so a time in the
/// last hour of a local day counts as the next day. No exchange opens a session then.
fn local_midnight(at: DateTime<Utc>, offset: TimeDelta) -> DateTime<Utc> {
    let local = at + offset + TimeDelta::hours(1);
    local
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// A float price rounded to `places` decimals, as text; `None` when it is not finite.
fn price(value: f64, places: u32) -> Option<String> {
    value
        .is_finite()
        .then(|| format!("{value:.*}", places as usize))
}

fn bar_error(at: DateTime<Utc>, field: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Bar {
        source: Source::Yahoo,
        at,
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn build(at: DateTime<Utc>, prices: [Option<String>; 4], volume: f64) -> Result<Bar, FetchError> {
    let mut money = [Money::ZERO; 4];
    for ((slot, text), field) in money
        .iter_mut()
        .zip(prices)
        .zip(["open", "high", "low", "close"])
    {
        let text = text.ok_or_else(|| bar_error(at, field, "the price is not a finite number"))?;
        *slot = Money::parse(&text).map_err(|e| bar_error(at, field, e.to_string()))?;
    }
    let volume = if volume.is_finite() {
        Quantity::parse(&format!("{volume:.0}"))
            .map_err(|e| bar_error(at, "volume", e.to_string()))?
    } else {
        return Err(bar_error(at, "volume", "the volume is not a finite number"));
    };
    let [open, high, low, close] = money;
    Bar::new(at, open, high, low, close, volume).map_err(|e| bar_error(at, e.field, e.reason))
}

/// Scales a raw bar's prices by `adjclose / close` with the rule every adjusted price in aibt
/// follows ([`Bar::adjusted`]; see the module's documentation).
fn adjust(raw: Bar, adjclose: f64) -> Result<Bar, FetchError> {
    let at = raw.ts;
    let adjclose = price(adjclose, 8)
        .and_then(|text| Money::parse(&text).ok())
        .filter(|value| value.is_positive())
        .ok_or_else(|| {
            bar_error(
                at,
                "adjclose",
                "the adjusted close is not a positive number",
            )
        })?;
    raw.adjusted(adjclose)
        .map_err(|e| bar_error(at, e.field, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn checked(granularity: TimeGranularity, adjusted: bool) -> Checked {
        Checked {
            source: Source::Yahoo,
            symbol: "AAPL".into(),
            granularity,
            start: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap(),
            adjusted,
        }
    }

    fn everything() -> Span {
        Span::new(
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
    }

    fn reply(timestamps: &[i64], quote: serde_json::Value, adjclose: serde_json::Value) -> String {
        json!({"chart": {"result": [{
            "meta": {"currency": "USD", "symbol": "AAPL", "gmtoffset": -18000, "priceHint": 2},
            "timestamp": timestamps,
            "indicators": {"quote": [quote], "adjclose": [{"adjclose": adjclose}]}
        }], "error": null}})
        .to_string()
    }

    #[test]
    fn floats_round_to_the_price_hint_and_days_sit_at_local_midnight() {
        // 2024-01-02 14:30Z is 09:30 in New York.
        let body = reply(
            &[1704205800],
            json!({"open": [187.14999389648438], "high": [188.44000244140625],
                   "low": [183.88999938964844], "close": [185.63999938964844],
                   "volume": [82488700]}),
            json!([184.7344970703125]),
        );
        let answer = parse(
            &checked(TimeGranularity::Daily, false),
            &body,
            everything(),
            now(),
        )
        .unwrap();
        let bar = answer.bars[0];
        assert_eq!(bar.ts, Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap());
        assert_eq!(bar.open.to_string(), "187.15000000");
        assert_eq!(bar.close.to_string(), "185.64000000");
        assert_eq!(bar.volume.to_string(), "82488700.00000000");
    }

    #[test]
    fn adjusted_prices_scale_by_adjclose_over_close() {
        let body = reply(
            &[1704205800],
            json!({"open": [100.0], "high": [110.0], "low": [90.0], "close": [105.0],
                   "volume": [10]}),
            json!([52.5]),
        );
        let answer = parse(
            &checked(TimeGranularity::Daily, true),
            &body,
            everything(),
            now(),
        )
        .unwrap();
        let bar = answer.bars[0];
        assert_eq!(bar.open.to_string(), "50.00000000");
        assert_eq!(bar.high.to_string(), "55.00000000");
        assert_eq!(bar.low.to_string(), "45.00000000");
        assert_eq!(bar.close.to_string(), "52.50000000");
        // A factor with no finite decimal expansion rounds half away from zero at 8 places.
        let body = reply(
            &[1704205800],
            json!({"open": [3.0], "high": [3.0], "low": [1.0], "close": [3.0], "volume": [1]}),
            json!([1.0]),
        );
        let bar = parse(
            &checked(TimeGranularity::Daily, true),
            &body,
            everything(),
            now(),
        )
        .unwrap()
        .bars[0];
        assert_eq!(bar.low.to_string(), "0.33333333");
        assert_eq!(bar.close.to_string(), "1.00000000");
    }

    #[test]
    fn rows_with_null_prices_are_skipped_and_counted() {
        let body = reply(
            &[1704205800, 1704292200],
            json!({"open": [null, 10.0], "high": [null, 11.0], "low": [null, 9.0],
                   "close": [null, 10.5], "volume": [null, 5]}),
            json!([null, 10.5]),
        );
        let answer = parse(
            &checked(TimeGranularity::Daily, false),
            &body,
            everything(),
            now(),
        )
        .unwrap();
        assert_eq!(answer.bars.len(), 1);
        assert_eq!(
            answer.skipped,
            vec![Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap()]
        );
    }

    #[test]
    fn a_bar_whose_day_has_not_ended_is_left_out() {
        // Stamped 14:30Z, 09:30 in New York; at 23:00Z it is 18:00 there: the day has not ended.
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 23, 0, 0).unwrap();
        let body = reply(
            &[1704205800],
            json!({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1]}),
            json!([1.0]),
        );
        let answer = parse(
            &checked(TimeGranularity::Daily, false),
            &body,
            everything(),
            now,
        )
        .unwrap();
        assert!(answer.bars.is_empty());
        let day = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(answer.incomplete, vec![day]);
        assert!(answer.complete_until <= day, "{}", answer.complete_until);
    }

    #[test]
    fn an_empty_range_comes_without_timestamps() {
        let body = json!({"chart": {"result": [{"meta": {"priceHint": 2},
            "indicators": {"quote": [{}], "adjclose": [{}]}}], "error": null}})
        .to_string();
        let answer = parse(
            &checked(TimeGranularity::Daily, true),
            &body,
            everything(),
            now(),
        )
        .unwrap();
        assert!(answer.bars.is_empty() && answer.skipped.is_empty());
    }

    #[test]
    fn errors_carry_yahoos_description() {
        let body = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        assert_eq!(error_message(body), "No data found, symbol may be delisted");
        assert_eq!(error_message("<html>busy</html>"), "<html>busy</html>");
        let err = parse(
            &checked(TimeGranularity::Daily, false),
            body,
            everything(),
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(err, FetchError::Provider { status: 200, .. }),
            "{err}"
        );
    }

    #[test]
    fn columns_of_the_wrong_length_are_a_format_error() {
        let body = reply(
            &[1704205800, 1704292200],
            json!({"open": [1.0], "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0],
                   "volume": [1, 1]}),
            json!([1.0, 1.0]),
        );
        let err = parse(
            &checked(TimeGranularity::Daily, false),
            &body,
            everything(),
            now(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("open has 1 values for 2 timestamps"),
            "{err}"
        );
    }

    #[test]
    fn an_inconsistent_row_names_its_time_and_field() {
        let body = reply(
            &[1704205800],
            json!({"open": [10.0], "high": [9.0], "low": [11.0], "close": [10.0], "volume": [1]}),
            json!([10.0]),
        );
        let err = parse(
            &checked(TimeGranularity::Daily, false),
            &body,
            everything(),
            now(),
        )
        .unwrap_err();
        let FetchError::Bar { at, field, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*at, Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap());
        assert_eq!(field, "high");
    }

    #[test]
    fn local_dates_tolerate_an_hour_of_daylight_saving() {
        let offset = TimeDelta::hours(-5);
        // Midnight in New York in summer (04:00Z), read with the winter offset: 23:00 the day
        // before, which still is the next day's bar.
        let at = Utc.with_ymd_and_hms(2024, 7, 1, 4, 0, 0).unwrap();
        assert_eq!(
            local_midnight(at, offset),
            Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap()
        );
        // Tokyo's 09:00 session is 00:00Z of the same date.
        let at = Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap();
        assert_eq!(
            local_midnight(at, TimeDelta::hours(9)),
            Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn minute_ranges_are_asked_in_seven_day_windows() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let part = Span::new(start, start + TimeDelta::days(10));
        let minute = windows(TimeGranularity::Minute, part);
        assert_eq!(minute.len(), 2);
        assert_eq!(minute[0].0.end, start + TimeDelta::days(7));
        assert_eq!(minute[1].1, (start + TimeDelta::days(7)).timestamp());
        assert_eq!(minute[1].2, (start + TimeDelta::days(10)).timestamp());
        assert_eq!(windows(TimeGranularity::Daily, part).len(), 1);
    }

    #[test]
    fn symbols_are_percent_encoded_in_the_path() {
        assert_eq!(encode_path_segment("^GSPC"), "%5EGSPC");
        assert_eq!(encode_path_segment("EURUSD=X"), "EURUSD=X");
        assert_eq!(encode_path_segment("A B/C"), "A%20B%2FC");
        assert_eq!(encode_path_segment("BRK-B"), "BRK-B");
    }
}
