//! Binance's public spot klines API (`/api/v3/klines`).
//!
//! A kline is `[openTime ms, "open", "high", "low", "close", "volume", closeTime ms, ...]`
//! with prices as decimal strings, read exactly. A reply holds at most 1000 klines, so a range
//! is read in pages, each starting a millisecond after the last kline of the one before.

use aibt_core::{Bar, Money, Quantity, TimeGranularity};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fetcher::Answer;
use crate::http::Http;
use crate::request::{Checked, period};
use crate::span::Span;
use crate::{FetchError, Source};

/// The most klines Binance returns in one reply.
const PAGE: usize = 1000;

/// Asks Binance for the bars of `part`, page by page.
pub(crate) async fn fetch(
    http: &Http,
    base_url: &str,
    request: &Checked,
    part: Span,
    now: DateTime<Utc>,
    requests: &mut u32,
) -> Result<Answer, FetchError> {
    let interval = match request.granularity {
        TimeGranularity::Daily => "1d",
        TimeGranularity::Hourly => "1h",
        TimeGranularity::Minute => "1m",
    };
    let mut answer = Answer {
        complete_until: whole_seconds(now - period(request.granularity)),
        ..Answer::default()
    };
    // Binance's endTime is inclusive.
    let end_ms = ceil_millis(part.end) - 1;
    let mut from_ms = ceil_millis(part.start);
    let mut last_open: Option<i64> = None;
    loop {
        let url = format!(
            "{}/api/v3/klines?symbol={}&interval={interval}&startTime={from_ms}&endTime={end_ms}&limit={PAGE}",
            base_url.trim_end_matches('/'),
            request.symbol
        );
        let reply = http.get(Source::Binance, &url, requests).await?;
        if reply.status != 200 {
            return Err(FetchError::Provider {
                source: Source::Binance,
                status: reply.status,
                message: error_message(&reply.body),
            });
        }
        let klines = parse_page(&reply.body)?;
        for kline in &klines {
            if last_open.is_some_and(|last| kline.open_time <= last) {
                return Err(format_error(format!(
                    "the kline opening at {} ms is not after the one before it",
                    kline.open_time
                )));
            }
            last_open = Some(kline.open_time);
            let at = millis(kline.open_time)?;
            if !part.contains(at) {
                continue;
            }
            if kline.close_time > now.timestamp_millis() {
                answer.incomplete.push(at);
                continue;
            }
            answer.bars.push(kline.bar(at)?);
        }
        match last_open {
            Some(last) if klines.len() >= PAGE && last < end_ms => from_ms = last + 1,
            _ => return Ok(answer),
        }
    }
}

/// One kline's fields that make a bar.
#[derive(Debug, PartialEq, Eq)]
struct Kline {
    open_time: i64,
    prices: [String; 4],
    volume: String,
    close_time: i64,
}

impl Kline {
    fn bar(&self, at: DateTime<Utc>) -> Result<Bar, FetchError> {
        let bar_error = |field: &str, reason: String| FetchError::Bar {
            source: Source::Binance,
            at,
            field: field.to_string(),
            reason,
        };
        let mut money = [Money::ZERO; 4];
        for ((slot, text), field) in money
            .iter_mut()
            .zip(&self.prices)
            .zip(["open", "high", "low", "close"])
        {
            *slot = Money::parse(text).map_err(|e| bar_error(field, e.to_string()))?;
        }
        let volume =
            Quantity::parse(&self.volume).map_err(|e| bar_error("volume", e.to_string()))?;
        let [open, high, low, close] = money;
        Bar::new(at, open, high, low, close, volume).map_err(|e| bar_error(e.field, e.reason))
    }
}

fn format_error(reason: impl Into<String>) -> FetchError {
    FetchError::Format {
        source: Source::Binance,
        reason: reason.into(),
    }
}

fn parse_page(body: &str) -> Result<Vec<Kline>, FetchError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format_error(format!("the klines reply is not JSON ({e})")))?;
    let Value::Array(rows) = value else {
        return Err(format_error("the klines reply is not an array"));
    };
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            parse_kline(row).ok_or_else(|| {
                let text: String = row.to_string().chars().take(200).collect();
                format_error(format!(
                    "kline {index} is not [openTime, \"open\", \"high\", \"low\", \"close\", \"volume\", closeTime, ...]: {text}"
                ))
            })
        })
        .collect()
}

fn parse_kline(row: &Value) -> Option<Kline> {
    let row = row.as_array()?;
    let text = |index: usize| row.get(index)?.as_str().map(str::to_string);
    Some(Kline {
        open_time: row.first()?.as_i64()?,
        prices: [text(1)?, text(2)?, text(3)?, text(4)?],
        volume: text(5)?,
        close_time: row.get(6)?.as_i64()?,
    })
}

/// Binance's `msg` for an error reply (`{"code": -1121, "msg": "Invalid symbol."}`), or the
/// start of the body when it has none.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value.get("msg")?.as_str().map(str::to_string))
        .unwrap_or_else(|| {
            let text: String = body.trim().chars().take(200).collect();
            if text.is_empty() {
                "no error text given".to_string()
            } else {
                text
            }
        })
}

fn millis(ms: i64) -> Result<DateTime<Utc>, FetchError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format_error(format!("the open time {ms} ms is out of range")))
}

fn ceil_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis() + i64::from(!at.timestamp_subsec_nanos().is_multiple_of(1_000_000))
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klines_keep_their_decimal_strings_exactly() {
        let body = r#"[[1502942400000,"4261.48000000","4485.39000000","4200.74000000","4285.08000000","795.15037700",1503014399999,"3454770.05073206",3427,"616.24854100","2678216.40060401","0"]]"#;
        let klines = parse_page(body).unwrap();
        assert_eq!(klines[0].open_time, 1502942400000);
        assert_eq!(klines[0].close_time, 1503014399999);
        let bar = klines[0].bar(millis(1502942400000).unwrap()).unwrap();
        assert_eq!(bar.open, Money::parse("4261.48").unwrap());
        assert_eq!(bar.volume, Quantity::parse("795.150377").unwrap());
    }

    #[test]
    fn a_kline_not_in_the_documented_shape_is_a_format_error() {
        let err = parse_page(r#"[[1502942400000, 4261.48, "1", "1", "1", "1", 1]]"#).unwrap_err();
        assert!(matches!(err, FetchError::Format { .. }), "{err}");
        assert!(err.to_string().contains("kline 0"), "{err}");
        assert!(parse_page(r#"{"code": -1121}"#).is_err());
    }

    #[test]
    fn an_unusable_kline_names_its_field() {
        let body = r#"[[1502942400000,"10","9","11","10","1",1503014399999]]"#;
        let kline = &parse_page(body).unwrap()[0];
        let err = kline.bar(millis(kline.open_time).unwrap()).unwrap_err();
        assert!(
            matches!(&err, FetchError::Bar { field, .. } if field == "high"),
            "{err}"
        );
    }

    #[test]
    fn errors_carry_binances_msg() {
        assert_eq!(
            error_message(r#"{"code":-1121,"msg":"Invalid symbol."}"#),
            "Invalid symbol."
        );
        assert_eq!(error_message(""), "no error text given");
    }
}
