//! Downloads OHLCV bars from two public APIs, Yahoo Finance's chart API and Binance's spot
//! klines API, and keeps what they answered in a local file cache, so that asking again for a
//! range already fetched makes no request at all.
//!
//! Every bar is validated by [`aibt_core::Bar::new`] and holds exact decimals: Binance sends
//! prices as decimal strings, read as they are; Yahoo sends binary floats, rounded to the
//! instrument's `priceHint` as yfinance does. Only bars whose period had ended when they were
//! fetched are kept, and the cache never claims a range it has not been answered for.

mod binance;
mod cache;
mod error;
mod fetcher;
mod http;
mod request;
mod span;
mod yahoo;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use aibt_core::{Bar, MarketType, TimeGranularity};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use error::FetchError;
pub use fetcher::Fetcher;

/// Where bars come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Yahoo Finance's chart API: stocks, ETFs, indices, currencies.
    Yahoo,
    /// Binance's public spot klines API: crypto pairs.
    Binance,
}

impl Source {
    /// Every source, in the order they are listed to users.
    pub const ALL: &'static [Source] = &[Source::Yahoo, Source::Binance];

    /// The name a request and a cache folder use: `yahoo` or `binance`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Yahoo => "yahoo",
            Source::Binance => "binance",
        }
    }

    /// The market a series from this source is stored in unless the person names one.
    pub const fn market_type(self) -> MarketType {
        match self {
            Source::Yahoo => MarketType::Us,
            Source::Binance => MarketType::Coin,
        }
    }

    /// Whether this source gives split- and dividend-adjusted prices at `granularity`, and so
    /// gives them unless raw ones are asked for: Yahoo's daily bars only.
    pub fn adjusts(self, granularity: TimeGranularity) -> bool {
        self == Source::Yahoo && granularity == TimeGranularity::Daily
    }

    /// The provider's name as a person would write it, for messages.
    pub const fn provider_name(self) -> &'static str {
        match self {
            Source::Yahoo => "Yahoo Finance",
            Source::Binance => "Binance",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source name that is neither `yahoo` nor `binance`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data source {0:?}: expected yahoo or binance")]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(text: &str) -> Result<Source, UnknownSource> {
        Source::ALL
            .iter()
            .copied()
            .find(|source| source.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownSource(text.to_string()))
    }
}

/// What to download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub source: Source,
    /// As the user typed it. Yahoo symbols are upper-cased (`aapl` is `AAPL`); Binance symbols
    /// also lose `-`, `/` and `_` (`btc/usdt`, `BTC-USDT` and `BTC_USDT` are all `BTCUSDT`).
    pub symbol: String,
    pub granularity: TimeGranularity,
    /// The first instant asked for, inclusive: a bar is in the range when its open time is.
    pub start: DateTime<Utc>,
    /// The end of the range, exclusive.
    pub end: DateTime<Utc>,
    /// Yahoo: split- and dividend-adjusted prices (daily bars only, since Yahoo gives no
    /// adjusted close for intraday bars). Binance prices are never adjusted: must be false.
    pub adjusted: bool,
}

impl FetchRequest {
    /// The bars of whole days, `first_day` to `last_day` inclusive, as the CLI, the API and the
    /// web page ask for them; `adjusted` as the source gives them when not said.
    pub fn days(
        source: Source,
        symbol: &str,
        granularity: TimeGranularity,
        first_day: NaiveDate,
        last_day: NaiveDate,
        adjusted: Option<bool>,
    ) -> Result<FetchRequest, FetchError> {
        if last_day < first_day {
            return Err(FetchError::Invalid {
                field: "end",
                reason: format!("{last_day} is before the first day {first_day}"),
            });
        }
        let end = last_day.succ_opt().ok_or_else(|| FetchError::Invalid {
            field: "end",
            reason: format!("{last_day} is too late"),
        })?;
        Ok(FetchRequest {
            source,
            symbol: symbol.trim().to_string(),
            granularity,
            start: aibt_core::time::start_of_day(first_day),
            end: aibt_core::time::start_of_day(end),
            adjusted: adjusted.unwrap_or(source.adjusts(granularity)),
        })
    }
}

/// Where the providers and the cache are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Yahoo Finance's API root, without a trailing path (`https://query1.finance.yahoo.com`).
    pub yahoo_url: String,
    /// Binance's API root (`https://api.binance.com`).
    pub binance_url: String,
    /// The folder holding one JSON file per source, symbol, granularity and adjustment.
    pub cache_dir: PathBuf,
    /// The longest `Retry-After` waited out; a provider asking for longer fails the fetch with
    /// [`FetchError::RateLimited`] at once.
    pub max_retry_wait: Duration,
    /// How long one HTTP request may take, reply included.
    pub timeout: Duration,
}

impl FetchConfig {
    pub const DEFAULT_YAHOO_URL: &'static str = "https://query1.finance.yahoo.com";
    pub const DEFAULT_BINANCE_URL: &'static str = "https://api.binance.com";
    pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The public APIs, a 60 s longest wait and a 30 s timeout, caching in `cache_dir`.
    pub fn with_cache_dir(cache_dir: PathBuf) -> FetchConfig {
        FetchConfig {
            yahoo_url: FetchConfig::DEFAULT_YAHOO_URL.to_string(),
            binance_url: FetchConfig::DEFAULT_BINANCE_URL.to_string(),
            cache_dir,
            max_retry_wait: FetchConfig::DEFAULT_MAX_RETRY_WAIT,
            timeout: FetchConfig::DEFAULT_TIMEOUT,
        }
    }
}

/// The bars of a range and how they were obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// In ascending order of open time, one per timestamp, each with its open time in
    /// `[start, end)` and its period ended when it was fetched.
    pub bars: Vec<Bar>,
    /// HTTP requests this fetch made, retries included; 0 when the cache covered the range.
    pub requests: u32,
    /// Where the bars come from and what the prices are, for a data file's provenance.
    pub description: String,
    /// Remarks a user should see: a range the provider has no bars for, bars left out because
    /// their period had not ended, rows with no prices skipped.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_and_print_as_their_names() {
        assert_eq!("yahoo".parse::<Source>().unwrap(), Source::Yahoo);
        assert_eq!(" Binance".parse::<Source>().unwrap(), Source::Binance);
        assert_eq!(Source::Binance.to_string(), "binance");
        assert_eq!(serde_json::to_string(&Source::Yahoo).unwrap(), "\"yahoo\"");
        assert_eq!(
            serde_json::from_str::<Source>("\"binance\"").unwrap(),
            Source::Binance
        );
        assert_eq!(
            "kraken".parse::<Source>().unwrap_err().to_string(),
            "unknown data source \"kraken\": expected yahoo or binance"
        );
    }
}
