//! Why a fetch failed, in words a user can act on: the messages are shown as CLI errors and
//! as HTTP error bodies.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::Source;

/// Why a fetch failed.
// Display and Error are written by hand: thiserror takes any field named `source` for the
// error's cause, and here `source` is the provider, which is no error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The request itself cannot be served; `reason` says how to change it.
    Invalid { field: &'static str, reason: String },
    /// The provider could not be reached, or its reply did not arrive whole.
    Network { url: String, reason: String },
    /// The provider still refused after the retries, or asked for a longer wait than allowed.
    RateLimited {
        source: Source,
        retry_after: Option<Duration>,
    },
    /// The provider answered with an error of its own; `message` is its text.
    Provider {
        source: Source,
        status: u16,
        message: String,
    },
    /// A reply not in the provider's documented format.
    Format { source: Source, reason: String },
    /// A row whose values cannot be a bar (a high below the low, a price that is not a
    /// number): the data at the provider is faulty there.
    Bar {
        source: Source,
        at: DateTime<Utc>,
        field: String,
        reason: String,
    },
    /// The provider answered, with no complete bar in the range.
    Empty { source: Source, symbol: String },
    /// The cache file cannot be read or written; `reason` says what to do.
    Cache { path: PathBuf, reason: String },
}

impl std::error::Error for FetchError {}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            FetchError::Network { url, reason } => write!(
                f,
                "could not get a reply from {url}: {reason}; check the network connection and try again"
            ),
            FetchError::RateLimited {
                source,
                retry_after: Some(wait),
            } => write!(
                f,
                "{} is limiting the rate of requests and asked to wait {} s before the next one; try again after that",
                source.provider_name(),
                wait.as_secs()
            ),
            FetchError::RateLimited {
                source,
                retry_after: None,
            } => write!(
                f,
                "{} is still limiting the rate of requests after several retries; try again in a few minutes",
                source.provider_name()
            ),
            FetchError::Provider {
                source,
                status,
                message,
            } => write!(
                f,
                "{} refused the request (HTTP {status}): {message}",
                source.provider_name()
            ),
            FetchError::Format { source, reason } => write!(
                f,
                "{} sent a reply aibt cannot read: {reason}; its API may have changed, please report this",
                source.provider_name()
            ),
            FetchError::Bar {
                source,
                at,
                field,
                reason,
            } => write!(
                f,
                "{} sent an unusable bar at {}: {field}: {reason}; ask for a range that leaves it out",
                source.provider_name(),
                at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
            FetchError::Empty { source, symbol } => write!(
                f,
                "{} has no {symbol} bars in the range asked; check the symbol, the dates and the granularity",
                source.provider_name()
            ),
            FetchError::Cache { path, reason } => {
                write!(f, "cache file {}: {reason}", path.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_provider_and_what_to_do() {
        let limited = FetchError::RateLimited {
            source: Source::Binance,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            limited.to_string(),
            "Binance is limiting the rate of requests and asked to wait 3600 s before the next one; try again after that"
        );
        let provider = FetchError::Provider {
            source: Source::Yahoo,
            status: 404,
            message: "No data found, symbol may be delisted".into(),
        };
        assert_eq!(
            provider.to_string(),
            "Yahoo Finance refused the request (HTTP 404): No data found, symbol may be delisted"
        );
    }
}
