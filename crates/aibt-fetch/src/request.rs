//! A request checked before anything is sent: its symbol normalised, its range sound, and
//! what each granularity means to each provider.

use aibt_core::TimeGranularity;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::{FetchError, FetchRequest, Source};

/// A [`FetchRequest`] that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub source: Source,
    /// The symbol as the provider spells it.
    pub symbol: String,
    pub granularity: TimeGranularity,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub adjusted: bool,
}

impl Checked {
    /// What the bars are, for [`crate::Fetched::description`].
    pub fn description(&self) -> String {
        let granularity = self.granularity.as_str();
        match self.source {
            Source::Binance => format!("Binance klines API, {}, {granularity}", self.symbol),
            Source::Yahoo => {
                let prices = match (self.granularity, self.adjusted) {
                    (TimeGranularity::Daily, true) => "split- and dividend-adjusted prices",
                    (TimeGranularity::Daily, false) => {
                        "raw prices (not adjusted for splits or dividends)"
                    }
                    // Yahoo has no adjusted close for intraday bars; what it serves is not
                    // adjusted for dividends, and aibt does not know more than that.
                    _ => {
                        "prices as Yahoo Finance serves intraday bars (not adjusted for dividends)"
                    }
                };
                format!(
                    "Yahoo Finance chart API, {}, {granularity}, {prices}",
                    self.symbol
                )
            }
        }
    }

    /// The file name of this series' cache, inside the source's folder.
    pub fn cache_file_name(&self) -> String {
        let interval = match self.granularity {
            TimeGranularity::Daily => "1d",
            TimeGranularity::Hourly => "1h",
            TimeGranularity::Minute => "1m",
        };
        let adjusted = if self.adjusted { "_adjusted" } else { "" };
        format!("{}_{interval}{adjusted}.json", self.symbol)
    }
}

/// The length of one bar.
pub(crate) fn period(granularity: TimeGranularity) -> TimeDelta {
    match granularity {
        TimeGranularity::Daily => TimeDelta::days(1),
        TimeGranularity::Hourly => TimeDelta::hours(1),
        TimeGranularity::Minute => TimeDelta::minutes(1),
    }
}

/// An instant as notes and messages show it: a date alone for daily bars.
pub(crate) fn show(at: DateTime<Utc>, granularity: TimeGranularity) -> String {
    if granularity == TimeGranularity::Daily && at.time() == chrono::NaiveTime::MIN {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// Checks what can be checked without asking the provider.
pub(crate) fn check(request: &FetchRequest, now: DateTime<Utc>) -> Result<Checked, FetchError> {
    let symbol = normalise_symbol(request.source, &request.symbol)?;
    if request.end <= request.start {
        return Err(FetchError::Invalid {
            field: "end",
            reason: format!(
                "the end {} must be after the start {}",
                show(request.end, request.granularity),
                show(request.start, request.granularity)
            ),
        });
    }
    if request.start >= now {
        return Err(FetchError::Invalid {
            field: "start",
            reason: format!(
                "the start {} is in the future, where no bar has ended yet",
                show(request.start, request.granularity)
            ),
        });
    }
    if request.adjusted {
        match (request.source, request.granularity) {
            (Source::Binance, _) => {
                return Err(FetchError::Invalid {
                    field: "adjusted",
                    reason: "Binance prices are never adjusted (crypto has no splits or dividends); ask with adjusted = false".to_string(),
                });
            }
            (Source::Yahoo, TimeGranularity::Hourly | TimeGranularity::Minute) => {
                return Err(FetchError::Invalid {
                    field: "adjusted",
                    reason: format!(
                        "Yahoo Finance gives split- and dividend-adjusted prices only for daily bars, not {} ones; ask with adjusted = false",
                        request.granularity
                    ),
                });
            }
            (Source::Yahoo, TimeGranularity::Daily) => {}
        }
    }
    Ok(Checked {
        source: request.source,
        symbol,
        granularity: request.granularity,
        start: request.start,
        end: request.end,
        adjusted: request.adjusted,
    })
}

/// Yahoo symbols hold letters, digits and `.-^=_&` (`BRK-B`, `^GSPC`, `EURUSD=X`, `M&M.NS`);
/// Binance pairs letters and digits only, which users often write with a separator.
fn normalise_symbol(source: Source, typed: &str) -> Result<String, FetchError> {
    let trimmed = typed.trim();
    let invalid = |reason: String| FetchError::Invalid {
        field: "symbol",
        reason,
    };
    if trimmed.is_empty() {
        return Err(invalid(
            "the symbol is empty; give one such as AAPL or BTCUSDT".into(),
        ));
    }
    match source {
        Source::Yahoo => {
            let symbol = trimmed.to_ascii_uppercase();
            let allowed = |c: char| c.is_ascii_alphanumeric() || ".-^=_&".contains(c);
            if symbol.len() > 32 || !symbol.chars().all(allowed) {
                return Err(invalid(format!(
                    "{typed:?} is not a Yahoo Finance symbol: use at most 32 letters, digits and . - ^ = _ & as Yahoo writes it (AAPL, BRK-B, ^GSPC, EURUSD=X)"
                )));
            }
            Ok(symbol)
        }
        Source::Binance => {
            let symbol: String = trimmed
                .chars()
                .filter(|c| !matches!(c, '-' | '/' | '_'))
                .collect::<String>()
                .to_ascii_uppercase();
            if symbol.is_empty()
                || symbol.len() > 20
                || !symbol.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(invalid(format!(
                    "{typed:?} is not a Binance pair: use a base and a quote asset, letters and digits only (BTCUSDT, or BTC-USDT)"
                )));
            }
            Ok(symbol)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(source: Source, symbol: &str) -> FetchRequest {
        FetchRequest {
            source,
            symbol: symbol.into(),
            granularity: TimeGranularity::Daily,
            start: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap(),
            adjusted: false,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn binance_symbols_lose_separators_and_case() {
        for typed in ["BTCUSDT", "BTC-USDT", "btc/usdt", " btc_usdt "] {
            let checked = check(&request(Source::Binance, typed), now()).unwrap();
            assert_eq!(checked.symbol, "BTCUSDT");
        }
        let err = check(&request(Source::Binance, "BTC USDT"), now()).unwrap_err();
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
    }

    #[test]
    fn yahoo_symbols_keep_their_punctuation() {
        for (typed, expected) in [("aapl", "AAPL"), ("^gspc", "^GSPC"), ("BRK-B", "BRK-B")] {
            assert_eq!(
                check(&request(Source::Yahoo, typed), now()).unwrap().symbol,
                expected
            );
        }
        assert!(check(&request(Source::Yahoo, "AA/PL"), now()).is_err());
        assert!(check(&request(Source::Yahoo, "  "), now()).is_err());
    }

    #[test]
    fn a_range_must_run_forward_and_begin_in_the_past() {
        let mut backwards = request(Source::Yahoo, "AAPL");
        std::mem::swap(&mut backwards.start, &mut backwards.end);
        let err = check(&backwards, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid end: the end 2024-01-01 must be after the start 2024-02-01"
        );
        let future = request(Source::Yahoo, "AAPL");
        let err = check(&future, Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap()).unwrap_err();
        assert!(
            matches!(err, FetchError::Invalid { field: "start", .. }),
            "{err}"
        );
    }

    #[test]
    fn adjusted_prices_exist_only_for_yahoo_daily_bars() {
        let mut binance = request(Source::Binance, "BTCUSDT");
        binance.adjusted = true;
        assert!(matches!(
            check(&binance, now()),
            Err(FetchError::Invalid {
                field: "adjusted",
                ..
            })
        ));
        let mut hourly = request(Source::Yahoo, "AAPL");
        hourly.adjusted = true;
        hourly.granularity = TimeGranularity::Hourly;
        assert!(matches!(
            check(&hourly, now()),
            Err(FetchError::Invalid {
                field: "adjusted",
                ..
            })
        ));
        hourly.granularity = TimeGranularity::Daily;
        assert!(check(&hourly, now()).is_ok());
    }

    #[test]
    fn cache_files_are_named_by_symbol_interval_and_adjustment() {
        let mut checked = check(&request(Source::Yahoo, "aapl"), now()).unwrap();
        assert_eq!(checked.cache_file_name(), "AAPL_1d.json");
        checked.adjusted = true;
        assert_eq!(checked.cache_file_name(), "AAPL_1d_adjusted.json");
        checked.granularity = TimeGranularity::Hourly;
        assert_eq!(checked.cache_file_name(), "AAPL_1h_adjusted.json");
    }
}
