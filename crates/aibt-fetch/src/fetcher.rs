//! A fetch from start to end: check the request, read the cache, ask the provider for what the
//! cache lacks, record the answers, and return the range's bars with remarks on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aibt_core::{Bar, TimeGranularity};
use chrono::{DateTime, TimeDelta, Utc};

use crate::cache::{self, Cache};
use crate::http::Http;
use crate::request::{self, Checked, period, show};
use crate::span::{self, Span};
use crate::{FetchConfig, FetchError, FetchRequest, Fetched, Source, binance, yahoo};

/// What a provider answered for one uncovered part of a range.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Complete bars in the part, ascending.
    pub bars: Vec<Bar>,
    /// Open times of bars left out because their period had not ended.
    pub incomplete: Vec<DateTime<Utc>>,
    /// Times of rows with no prices (Yahoo's nulls where nothing traded).
    pub skipped: Vec<DateTime<Utc>>,
    /// Every bar opening before this had ended when the provider answered: the cache may claim
    /// the part up to here, and no further.
    pub complete_until: DateTime<Utc>,
}

impl Default for Answer {
    /// No bars yet, and no limit yet on what may be claimed.
    fn default() -> Answer {
        Answer {
            bars: Vec::new(),
            incomplete: Vec::new(),
            skipped: Vec::new(),
            complete_until: DateTime::<Utc>::MAX_UTC,
        }
    }
}

impl Answer {
    /// Adds the answer for the next window of the same part.
    pub fn absorb(&mut self, next: Answer) {
        self.bars.extend(next.bars);
        self.incomplete.extend(next.incomplete);
        self.skipped.extend(next.skipped);
        self.complete_until = self.complete_until.min(next.complete_until);
    }
}

/// Downloads bars, through the cache.
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: FetchConfig,
    http: Http,
    /// One lock per cache file, so that two fetches of one series in this process do not both
    /// ask the provider and then overwrite each other's records.
    locks: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        for (field, url) in [
            ("yahoo_url", &config.yahoo_url),
            ("binance_url", &config.binance_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(FetchError::Invalid {
                    field,
                    reason: format!("the API root {url:?} must start with http:// or https://"),
                });
            }
        }
        let http = Http::new(&config)?;
        Ok(Fetcher {
            config,
            http,
            locks: Arc::default(),
        })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// The bars of `request`'s range, asking the provider only for what the cache lacks.
    ///
    /// The cache is written once every request of this fetch has succeeded; a fetch that fails
    /// leaves it as it was. A range with no bar is [`FetchError::Empty`], and is remembered as
    /// answered like any other.
    pub async fn fetch(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        let now = Utc::now();
        let checked = request::check(request, now)?;
        let path = self
            .config
            .cache_dir
            .join(checked.source.as_str())
            .join(checked.cache_file_name());
        let lock = self.lock_for(&path);
        let _held = lock.lock().await;

        let mut cache = blocking(&path, {
            let path = path.clone();
            move || cache::load(&path)
        })
        .await?;
        let wanted = Span::new(checked.start, checked.end);
        let parts = span::missing(&cache.covered, wanted);
        if checked.source == Source::Yahoo {
            yahoo::check_reach(&checked, &parts, now)?;
        }
        let mut requests = 0;
        let mut answers = Vec::with_capacity(parts.len());
        for &part in &parts {
            let answer = match checked.source {
                Source::Yahoo => {
                    let base = &self.config.yahoo_url;
                    yahoo::fetch(&self.http, base, &checked, part, now, &mut requests).await?
                }
                Source::Binance => {
                    let base = &self.config.binance_url;
                    binance::fetch(&self.http, base, &checked, part, now, &mut requests).await?
                }
            };
            answers.push((part, answer));
        }

        let mut notes = Vec::new();
        if !answers.is_empty() {
            let mut incomplete = Vec::new();
            let mut skipped = Vec::new();
            for (part, answer) in answers {
                let answered = Span::new(part.start, part.end.min(answer.complete_until));
                cache.record(answered, answer.bars);
                incomplete.extend(answer.incomplete);
                skipped.extend(answer.skipped);
            }
            save(&path, &cache).await?;
            notes.extend(skipped_note(&checked, &skipped));
            notes.extend(incomplete_note(&checked, &incomplete));
        }

        let bars = cache.bars_in(wanted);
        let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
            return Err(FetchError::Empty {
                source: checked.source,
                symbol: checked.symbol,
            });
        };
        notes.extend(range_notes(&checked, first.ts, last.ts, now));
        Ok(Fetched {
            description: checked.description(),
            bars,
            requests,
            notes,
        })
    }

    fn lock_for(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(path.to_path_buf()).or_default().clone()
    }
}

/// Runs file work off the async threads: a minute series' cache can be megabytes.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(FetchError::Cache {
                path: path.to_path_buf(),
                reason: format!("the cache task failed ({error})"),
            })
        })
}

async fn save(path: &Path, cache: &Cache) -> Result<(), FetchError> {
    let content = cache::encode(cache).map_err(|error| FetchError::Cache {
        path: path.to_path_buf(),
        reason: format!("it cannot be encoded ({error})"),
    })?;
    blocking(path, {
        let path = path.to_path_buf();
        move || cache::save(&path, &content)
    })
    .await
}

/// A list of times, the first few of them, for a note.
fn some_times(times: &[DateTime<Utc>], granularity: TimeGranularity) -> String {
    const SHOWN: usize = 3;
    let mut shown: Vec<String> = times
        .iter()
        .take(SHOWN)
        .map(|at| show(*at, granularity))
        .collect();
    if times.len() > SHOWN {
        shown.push(format!("and {} more", times.len() - SHOWN));
    }
    shown.join(", ")
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

fn skipped_note(request: &Checked, skipped: &[DateTime<Utc>]) -> Option<String> {
    (!skipped.is_empty()).then(|| {
        format!(
            "Skipped {} with no prices ({} sends nulls where nothing traded): {}.",
            plural(skipped.len(), "row", "rows"),
            request.source.provider_name(),
            some_times(skipped, request.granularity)
        )
    })
}

fn incomplete_note(request: &Checked, incomplete: &[DateTime<Utc>]) -> Option<String> {
    (!incomplete.is_empty()).then(|| {
        format!(
            "Left out {} whose period had not ended yet ({}); fetch again later to get {}.",
            plural(incomplete.len(), "bar", "bars"),
            some_times(incomplete, request.granularity),
            if incomplete.len() == 1 { "it" } else { "them" }
        )
    })
}

/// Notes a range the provider has no bars for at either end: before a pair was listed, before
/// the history a provider keeps, after a stock was delisted. Gaps shorter than a market's
/// ordinary closures (a weekend with a holiday) are not remarked on.
fn range_notes(
    request: &Checked,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let bar_period = period(request.granularity);
    let ordinary_gap = match (request.source, request.granularity) {
        // Crypto trades around the clock.
        (Source::Binance, _) => bar_period,
        (Source::Yahoo, TimeGranularity::Daily) => TimeDelta::days(6),
        (Source::Yahoo, _) => TimeDelta::days(4),
    };
    let name = request.source.provider_name();
    let symbol = &request.symbol;
    let g = request.granularity;
    let mut notes = Vec::new();
    if first - request.start > ordinary_gap {
        notes.push(format!(
            "{name} has no {symbol} bars before {}; the range asked began {}.",
            show(first, g),
            show(request.start, g)
        ));
    }
    let reachable_end = request.end.min(now);
    if reachable_end - (last + bar_period) > ordinary_gap {
        notes.push(format!(
            "{name} has no {symbol} bars after {}; the range asked ended {}.",
            show(last, g),
            show(request.end, g)
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn checked(source: Source, start: DateTime<Utc>, end: DateTime<Utc>) -> Checked {
        Checked {
            source,
            symbol: "BTCUSDT".into(),
            granularity: TimeGranularity::Daily,
            start,
            end,
            adjusted: false,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_range_beginning_before_the_listing_is_noted() {
        let request = checked(Source::Binance, day(2017, 1, 1), day(2017, 9, 1));
        let notes = range_notes(
            &request,
            day(2017, 8, 17),
            day(2017, 8, 31),
            day(2025, 1, 1),
        );
        assert_eq!(
            notes,
            vec![
                "Binance has no BTCUSDT bars before 2017-08-17; the range asked began 2017-01-01."
            ]
        );
    }

    #[test]
    fn a_weekend_at_either_end_of_a_stock_range_is_not_noted() {
        // Saturday to Sunday; the bars run Monday to Friday.
        let request = checked(Source::Yahoo, day(2024, 1, 6), day(2024, 1, 14));
        let notes = range_notes(&request, day(2024, 1, 8), day(2024, 1, 12), day(2025, 1, 1));
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn answers_of_several_windows_keep_the_earliest_completion() {
        let mut answer = Answer::default();
        answer.absorb(Answer {
            complete_until: day(2024, 1, 5),
            ..Answer::default()
        });
        answer.absorb(Answer {
            complete_until: day(2024, 1, 3),
            ..Answer::default()
        });
        assert_eq!(answer.complete_until, day(2024, 1, 3));
    }
}
