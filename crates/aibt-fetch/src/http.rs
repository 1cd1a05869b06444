//! One GET with the retry rules both providers share: a rate limit is waited out when the
//! provider says how long and the wait is short enough, a server error is tried again twice,
//! and everything else is handed to the provider's module to read.

use std::time::Duration;

use crate::{FetchConfig, FetchError, Source};

/// Retries after a 429 (or Binance's 418) before giving up.
const RATE_LIMIT_RETRIES: u32 = 3;
/// Retries after a 5xx before reporting it.
const SERVER_ERROR_RETRIES: u32 = 2;
const SERVER_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// A reply the retry rules did not consume: a success, a 4xx, or a 5xx that persisted.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    max_retry_wait: Duration,
}

impl Http {
    pub fn new(config: &FetchConfig) -> Result<Http, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // Yahoo answers 429 to clients that do not look like a browser or a known library.
            .user_agent(concat!(
                "Mozilla/5.0 (compatible; aibt/",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .map_err(|e| FetchError::Invalid {
                field: "config",
                reason: format!("the HTTP client cannot be built: {}", error_chain(&e)),
            })?;
        Ok(Http {
            client,
            max_retry_wait: config.max_retry_wait,
        })
    }

    /// GETs `url`, counting every attempt in `requests`.
    pub async fn get(
        &self,
        source: Source,
        url: &str,
        requests: &mut u32,
    ) -> Result<Reply, FetchError> {
        let mut rate_limited = 0;
        let mut server_errors = 0;
        loop {
            *requests += 1;
            tracing::debug!(%source, url, "fetching");
            let network = |error: reqwest::Error| FetchError::Network {
                url: url.to_string(),
                reason: if error.is_timeout() {
                    "no reply within the timeout".to_string()
                } else {
                    error_chain(&error)
                },
            };
            let response = self
                .client
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(network)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            let body = response.text().await.map_err(network)?;
            match status {
                // Binance answers 418 once an IP kept sending after its 429s.
                429 | 418 => {
                    let wait =
                        rate_limit_wait(source, retry_after, rate_limited, self.max_retry_wait)?;
                    rate_limited += 1;
                    tracing::info!(%source, status, wait_s = wait.as_secs_f64(), "rate limited, waiting");
                    tokio::time::sleep(wait).await;
                }
                500..=599 if server_errors < SERVER_ERROR_RETRIES => {
                    server_errors += 1;
                    tracing::info!(%source, status, "server error, retrying");
                    tokio::time::sleep(SERVER_ERROR_BACKOFF).await;
                }
                _ => return Ok(Reply { status, body }),
            }
        }
    }
}

/// `Retry-After` in seconds. Neither provider sends the HTTP-date form, so anything else is
/// treated as absent and the fixed backoff applies.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// How long to wait before retry number `retries_done + 1`, or the error to give up with.
fn rate_limit_wait(
    source: Source,
    retry_after: Option<Duration>,
    retries_done: u32,
    max_wait: Duration,
) -> Result<Duration, FetchError> {
    match retry_after {
        // A wait longer than allowed will not get shorter by retrying: fail at once, saying it.
        Some(wait) if wait > max_wait || retries_done >= RATE_LIMIT_RETRIES => {
            Err(FetchError::RateLimited {
                source,
                retry_after: Some(wait),
            })
        }
        Some(wait) => Ok(wait),
        None if retries_done >= RATE_LIMIT_RETRIES => Err(FetchError::RateLimited {
            source,
            retry_after: None,
        }),
        None => Ok(Duration::from_secs(1u64 << retries_done).min(max_wait)),
    }
}

/// An error and its causes in one line: reqwest keeps the useful part in the source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn retry_after_is_whole_seconds_or_absent() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn a_short_retry_after_is_waited_out_three_times() {
        let one = Some(Duration::from_secs(1));
        for done in 0..3 {
            assert_eq!(
                rate_limit_wait(Source::Binance, one, done, MAX).unwrap(),
                Duration::from_secs(1)
            );
        }
        assert_eq!(
            rate_limit_wait(Source::Binance, one, 3, MAX).unwrap_err(),
            FetchError::RateLimited {
                source: Source::Binance,
                retry_after: one
            }
        );
    }

    #[test]
    fn a_retry_after_beyond_the_limit_fails_at_once() {
        let long = Some(Duration::from_secs(3600));
        assert_eq!(
            rate_limit_wait(Source::Yahoo, long, 0, MAX).unwrap_err(),
            FetchError::RateLimited {
                source: Source::Yahoo,
                retry_after: long
            }
        );
    }

    #[test]
    fn without_retry_after_the_backoff_doubles_within_the_limit() {
        let waits: Vec<Duration> = (0..3)
            .map(|done| rate_limit_wait(Source::Yahoo, None, done, MAX).unwrap())
            .collect();
        assert_eq!(
            waits,
            [1, 2, 4].map(Duration::from_secs).to_vec(),
            "1 s, 2 s, 4 s"
        );
        assert_eq!(
            rate_limit_wait(Source::Yahoo, None, 2, Duration::from_secs(3)).unwrap(),
            Duration::from_secs(3)
        );
        assert!(rate_limit_wait(Source::Yahoo, None, 3, MAX).is_err());
    }
}
